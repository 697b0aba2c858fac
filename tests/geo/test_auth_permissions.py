"""The permission table, checked pair by pair against a second, independent statement of it."""

from __future__ import annotations

import pytest

from geo.auth import (
    DESCRIPTIONS,
    PAGE_ACTIONS,
    PERMISSIONS,
    Action,
    Role,
    allowed_actions,
    can,
    pages_for,
    parse_role,
    require,
    roles_allowed,
)
from geo.errors import AtalayaError, AuthError

# Who may do what, written out by hand: a change to the table must be made here too, on
# purpose. Columns: analyst, planner, field, admin ("x" allowed, "." refused).
MATRIX = """
view_map                 x x . x
view_alerts              x x x x
view_imagery             x x . x
analyse_risk             x . . x
import_data              x . . x
view_jobs                x x . x
manage_users             . . . x
view_audit_log           . . . x
set_verdict              x . x x
set_priority             x x . x
assign_self              x x x x
assign_others            x x . x
comment                  x x x x
attach_evidence          x . x x
follow_area              x x x x
save_area                x x . x
see_precise_locations    x . . x
export_snapshot          . x . x
bulk_export              . x . x
export_field_package     . x . x
export_own_assignments   x x x x
import_field_package     x x x x
run_detection            x . . x
run_jobs                 x x . x
cancel_any_job           . . . x
"""
COLUMNS = (Role.ANALYST, Role.PLANNER, Role.FIELD, Role.ADMIN)


def _expected() -> dict[tuple[Role, Action], bool]:
    table = {}
    for line in MATRIX.strip().splitlines():
        name, *marks = line.split()
        for role, mark in zip(COLUMNS, marks, strict=True):
            table[role, Action(name)] = mark == "x"
    return table


EXPECTED = _expected()
PAIRS = [pytest.param(role, action, id=f"{role.value}-{action.value}")
         for role in Role for action in Action]


def test_the_matrix_names_every_pair_once():
    assert set(EXPECTED) == {(r, a) for r in Role for a in Action}
    assert len(MATRIX.strip().splitlines()) == len(Action)


@pytest.mark.parametrize(("role", "action"), PAIRS)
def test_every_role_action_pair(role, action):
    assert can(role, action) is EXPECTED[role, action]
    assert can(role.value, action) is EXPECTED[role, action]  # the name works the same
    assert (action in allowed_actions(role)) is EXPECTED[role, action]
    assert (role in roles_allowed(action)) is EXPECTED[role, action]


@pytest.mark.parametrize(("role", "action"), PAIRS)
def test_require_agrees_with_can(role, action):
    if EXPECTED[role, action]:
        require(role, action, who="ana")
    else:
        with pytest.raises(AuthError, match=f"ana \\(role {role.value}\\) may not"):
            require(role, action, who="ana")


@pytest.mark.parametrize("role", [None, "", "root", "Admin", "ADMIN", " admin", "superuser"],
                         ids=repr)
@pytest.mark.parametrize("action", list(Action), ids=str)
def test_default_deny_for_missing_or_unknown_roles(role, action):
    assert can(role, action) is False
    assert allowed_actions(role) == frozenset()
    with pytest.raises(AuthError):
        require(role, action)


def test_refusal_is_a_permission_error_with_a_useful_message():
    with pytest.raises(PermissionError) as info:
        require(Role.FIELD, Action.BULK_EXPORT, who="juan")
    assert isinstance(info.value, AtalayaError)
    assert str(info.value) == ("juan (role field) may not download whole layers or alert "
                               "lists; this needs the role planner or admin")
    with pytest.raises(AuthError, match="nobody is signed in; sign in to open the map"):
        require(None, Action.VIEW_MAP)


def test_the_issue_rules():
    # Field users see the queue and their assignments, not bulk exports.
    assert can(Role.FIELD, Action.VIEW_ALERTS)
    assert can(Role.FIELD, Action.EXPORT_OWN_ASSIGNMENTS)
    for action in (Action.BULK_EXPORT, Action.EXPORT_SNAPSHOT, Action.EXPORT_FIELD_PACKAGE,
                   Action.VIEW_MAP, Action.SEE_PRECISE_LOCATIONS):
        assert not can(Role.FIELD, action)
    # Planners export; analysts import and analyse; admins manage users.
    assert can(Role.PLANNER, Action.EXPORT_SNAPSHOT)
    assert can(Role.ANALYST, Action.IMPORT_DATA)
    assert can(Role.ANALYST, Action.ANALYSE_RISK)
    assert roles_allowed(Action.MANAGE_USERS) == (Role.ADMIN,)
    assert roles_allowed(Action.VIEW_AUDIT_LOG) == (Role.ADMIN,)
    assert PERMISSIONS[Role.ADMIN] == frozenset(Action)


def test_every_action_is_described_and_every_role_has_a_row():
    assert set(DESCRIPTIONS) == set(Action)
    assert set(PERMISSIONS) == set(Role)
    assert set(PAGE_ACTIONS.values()) <= set(Action)


def test_the_table_cannot_be_changed_at_run_time():
    with pytest.raises(TypeError):
        PERMISSIONS[Role.FIELD] = frozenset(Action)  # type: ignore[index]
    with pytest.raises(AttributeError):
        PERMISSIONS[Role.FIELD].add(Action.BULK_EXPORT)  # type: ignore[attr-defined]


@pytest.mark.parametrize(("role", "pages"), [
    (Role.FIELD, ("alerts",)),
    (Role.PLANNER, ("map", "alerts", "imagery", "jobs")),
    (Role.ANALYST, ("map", "alerts", "imagery", "analysis", "ingest", "jobs")),
    (Role.ADMIN, tuple(PAGE_ACTIONS)),
    (None, ()),
], ids=str)
def test_pages_for_each_role(role, pages):
    assert pages_for(role) == pages


def test_parse_role():
    assert parse_role(" Planner ") is Role.PLANNER
    with pytest.raises(AuthError, match="unknown role 'boss'; expected one of analyst, planner"):
        parse_role("boss")
