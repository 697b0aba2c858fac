"""Roles, the actions of the app, and the table saying which role may do what (default deny).

Every page and every action checks the signed-in user's role here, on the server side: a page
calls :func:`require` before it draws anything, and a button's callback before it writes.
Hiding a button is a convenience, never the check.

Roles
-----
``field``
    Field teams: the alert queue, their assignments, verdicts and evidence from the ground,
    their own assignments taken offline. No map of events, no bulk exports.
``planner``
    Operations planners: the map (coarsened locations), alerts, assigning teams, snapshots,
    bulk exports and field packages.
``analyst``
    Analysts: import data, analyse risk, run detection, review alerts, precise locations.
``admin``
    Everything, including accounts and the audit log.

Examples
--------
>>> can(Role.FIELD, Action.BULK_EXPORT)
False
>>> can("planner", Action.EXPORT_SNAPSHOT)
True
>>> can("nobody", Action.VIEW_MAP)
False
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from geo.errors import AuthError
from geo.message import Message


class Role(StrEnum):
    """What a person does in the unit; decides what the app lets them do."""

    ANALYST = "analyst"
    PLANNER = "planner"
    FIELD = "field"
    ADMIN = "admin"


#: Each role's name for people (English; ``.localized(t)`` in the reader's language).
ROLE_NAMES: Mapping[Role, Message] = MappingProxyType({
    Role.ANALYST: Message("Analyst"), Role.PLANNER: Message("Planner"),
    Role.FIELD: Message("Field team"), Role.ADMIN: Message("Administrator")})


class Action(StrEnum):
    """Every page and every action of the app that a role may or may not do."""

    # Pages
    VIEW_MAP = "view_map"
    VIEW_ALERTS = "view_alerts"
    VIEW_IMAGERY = "view_imagery"
    ANALYSE_RISK = "analyse_risk"
    IMPORT_DATA = "import_data"
    VIEW_JOBS = "view_jobs"
    MANAGE_USERS = "manage_users"
    VIEW_AUDIT_LOG = "view_audit_log"
    # Alerts
    SET_VERDICT = "set_verdict"
    SET_PRIORITY = "set_priority"
    ASSIGN_SELF = "assign_self"
    ASSIGN_OTHERS = "assign_others"
    COMMENT = "comment"
    ATTACH_EVIDENCE = "attach_evidence"
    FOLLOW_AREA = "follow_area"
    # Map and data
    SAVE_AREA = "save_area"
    SEE_PRECISE_LOCATIONS = "see_precise_locations"
    EXPORT_SNAPSHOT = "export_snapshot"
    BULK_EXPORT = "bulk_export"
    EXPORT_FIELD_PACKAGE = "export_field_package"
    EXPORT_OWN_ASSIGNMENTS = "export_own_assignments"
    IMPORT_FIELD_PACKAGE = "import_field_package"
    # Background work
    RUN_DETECTION = "run_detection"
    RUN_JOBS = "run_jobs"
    CANCEL_ANY_JOB = "cancel_any_job"


def _(text: str) -> str:
    """Mark ``text`` for translation (``make messages`` extracts it; the page translates it)."""
    return text


#: What each action lets a person do, in words (for refusals and the admin page).
DESCRIPTIONS: Mapping[Action, str] = MappingProxyType({
    Action.VIEW_MAP: _("open the map explorer"),
    Action.VIEW_ALERTS: _("open the alert queue and the alerts"),
    Action.VIEW_IMAGERY: _("open the imagery page"),
    Action.ANALYSE_RISK: _("open the risk analysis"),
    Action.IMPORT_DATA: _("import data files"),
    Action.VIEW_JOBS: _("see the background jobs"),
    Action.MANAGE_USERS: _("manage user accounts"),
    Action.VIEW_AUDIT_LOG: _("read the audit log"),
    Action.SET_VERDICT: _("give a verdict on an alert"),
    Action.SET_PRIORITY: _("change an alert's priority"),
    Action.ASSIGN_SELF: _("take an alert"),
    Action.ASSIGN_OTHERS: _("assign an alert to someone else"),
    Action.COMMENT: _("comment on an alert"),
    Action.ATTACH_EVIDENCE: _("attach evidence to an alert"),
    Action.FOLLOW_AREA: _("follow an area and read the inbox"),
    Action.SAVE_AREA: _("save an area of interest"),
    Action.SEE_PRECISE_LOCATIONS: _("see precise event locations"),
    Action.EXPORT_SNAPSHOT: _("export a snapshot"),
    Action.BULK_EXPORT: _("download whole layers or alert lists"),
    Action.EXPORT_FIELD_PACKAGE: _("build a field package of any alerts"),
    Action.EXPORT_OWN_ASSIGNMENTS: _("take their own assignments to the field"),
    Action.IMPORT_FIELD_PACKAGE: _("apply a returned field package"),
    Action.RUN_DETECTION: _("run runway detection"),
    Action.RUN_JOBS: _("start and cancel their background jobs"),
    Action.CANCEL_ANY_JOB: _("cancel anyone's background job"),
})

_FIELD = frozenset({
    Action.VIEW_ALERTS, Action.SET_VERDICT, Action.ASSIGN_SELF, Action.COMMENT,
    Action.ATTACH_EVIDENCE, Action.FOLLOW_AREA, Action.EXPORT_OWN_ASSIGNMENTS,
    Action.IMPORT_FIELD_PACKAGE,
})
_PLANNER = frozenset({
    Action.VIEW_MAP, Action.VIEW_ALERTS, Action.VIEW_IMAGERY, Action.VIEW_JOBS,
    Action.SET_PRIORITY, Action.ASSIGN_SELF, Action.ASSIGN_OTHERS, Action.COMMENT,
    Action.FOLLOW_AREA, Action.SAVE_AREA, Action.EXPORT_SNAPSHOT, Action.BULK_EXPORT,
    Action.EXPORT_FIELD_PACKAGE, Action.EXPORT_OWN_ASSIGNMENTS, Action.IMPORT_FIELD_PACKAGE,
    Action.RUN_JOBS,
})
_ANALYST = frozenset({
    Action.VIEW_MAP, Action.VIEW_ALERTS, Action.VIEW_IMAGERY, Action.ANALYSE_RISK,
    Action.IMPORT_DATA, Action.VIEW_JOBS, Action.SET_VERDICT, Action.SET_PRIORITY,
    Action.ASSIGN_SELF, Action.ASSIGN_OTHERS, Action.COMMENT, Action.ATTACH_EVIDENCE,
    Action.FOLLOW_AREA, Action.SAVE_AREA, Action.SEE_PRECISE_LOCATIONS,
    Action.EXPORT_OWN_ASSIGNMENTS, Action.IMPORT_FIELD_PACKAGE, Action.RUN_DETECTION,
    Action.RUN_JOBS,
})

#: The permission table: the actions each role may do. Anything not listed is refused.
PERMISSIONS: Mapping[Role, frozenset[Action]] = MappingProxyType({
    Role.FIELD: _FIELD,
    Role.PLANNER: _PLANNER,
    Role.ANALYST: _ANALYST,
    Role.ADMIN: frozenset(Action),
})

#: The action that guards each page of the app, by its ``st.Page`` URL path.
PAGE_ACTIONS: Mapping[str, Action] = MappingProxyType({
    "map": Action.VIEW_MAP,
    "alerts": Action.VIEW_ALERTS,
    "imagery": Action.VIEW_IMAGERY,
    "analysis": Action.ANALYSE_RISK,
    "ingest": Action.IMPORT_DATA,
    "jobs": Action.VIEW_JOBS,
    "admin": Action.MANAGE_USERS,
    "audit": Action.VIEW_AUDIT_LOG,
})


def parse_role(text: str) -> Role:
    """Return the :class:`Role` named by ``text`` (case and spaces ignored).

    Raises
    ------
    AuthError
        No role has that name; the message lists the roles.

    Examples
    --------
    >>> parse_role(" Analyst ")
    <Role.ANALYST: 'analyst'>
    """
    try:
        return Role(text.strip().lower())
    except ValueError:
        raise AuthError(f"unknown role {text!r}; expected one of "
                        f"{', '.join(r.value for r in Role)}") from None


def _as_role(role: Role | str | None) -> Role | None:
    if role is None:
        return None
    try:
        return Role(role)
    except ValueError:
        return None


def can(role: Role | str | None, action: Action) -> bool:
    """Whether ``role`` may do ``action``; an unknown or missing role may do nothing."""
    known = _as_role(role)
    return known is not None and action in PERMISSIONS.get(known, frozenset())


def allowed_actions(role: Role | str | None) -> frozenset[Action]:
    """Every action ``role`` may do (empty for an unknown or missing role)."""
    known = _as_role(role)
    return frozenset() if known is None else PERMISSIONS.get(known, frozenset())


def roles_allowed(action: Action) -> tuple[Role, ...]:
    """Return the roles that may do ``action``, in :class:`Role` order."""
    return tuple(r for r in Role if action in PERMISSIONS.get(r, frozenset()))


def require(role: Role | str | None, action: Action, *, who: str | None = None) -> None:
    """Raise :class:`~geo.errors.AuthError` unless ``role`` may do ``action``.

    Parameters
    ----------
    role
        The signed-in user's role (None when nobody is signed in).
    action
        What they are about to do.
    who
        Their user name, for the message.

    Examples
    --------
    >>> require("field", Action.EXPORT_SNAPSHOT, who="ana")
    Traceback (most recent call last):
    ...
    geo.errors.AuthError: ana (role field) may not export a snapshot; this needs the role ...
    """
    if can(role, action):
        return
    if role is None:
        raise AuthError(f"nobody is signed in; sign in to {DESCRIPTIONS[action]}")
    subject = f"{who} (role {role})" if who else f"the role {role}"
    allowed = " or ".join(r.value for r in roles_allowed(action))
    raise AuthError(f"{subject} may not {DESCRIPTIONS[action]}; "
                    f"this needs the role {allowed}")


def pages_for(role: Role | str | None) -> tuple[str, ...]:
    """Return the URL paths of :data:`PAGE_ACTIONS` that ``role`` may open, in order."""
    return tuple(page for page, action in PAGE_ACTIONS.items() if can(role, action))
