"""Read alerts and change them safely: versions, the state machine, one transaction per change.

Optimistic locking: every alert has a ``version``. A change names the version it was made
from (``expected_version``); if the alert moved on since, nothing is written and
:class:`~geo.errors.StaleVersionError` says who changed it and when. The row is also locked
(``SELECT ... FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite) while the change is
checked and written, so two writers holding the same version cannot both succeed.

A change carries an optional ``request_id``: a retried request (a double click, a re-sent form)
whose id was already applied returns the alert as it is instead of applying it twice.

Every change - fields, assignment, comment - and its audit rows are written in one
transaction: after a crash the database holds all of it or none of it. A state change also
writes, in that transaction, the inbox notifications (and outbox deliveries) of the people
following an area it lies in (:mod:`geo.store.notify`).

The queue's filters (state, assignee, country, minimum score, bounding box, area of interest)
run in the store query; an area is matched by bounding box in SQL, then exactly with shapely.

A change made for a person names their role (``role``); it is checked here, under the row
lock, against what the alert is at that moment (:func:`change_refusal`): the pages check it
too, but a field package or a stale page must not get past the store. An alert assigned to
someone else is changed only by its assignee or a role that may assign alerts.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Connection, RowMapping, insert, select, update

from geo.auth.permissions import DESCRIPTIONS, Action, Role, can
from geo.errors import AlertNotFoundError, AuthError, SchemaError, StaleVersionError
from geo.i18n import Message
from geo.schema import PRIORITIES
from geo.store import tables as t
from geo.store.audit import field_changes, record
from geo.store.engine import Store, in_transaction, read_tx
from geo.store.notify import notify
from geo.store.states import ALERT_STATES, AWAITING_STATES, check_transition


@dataclass(frozen=True)
class Alert:
    """One alert as stored (geometry in EPSG:4326, times in UTC)."""

    id: int
    geometry: BaseGeometry
    centroid_lon: float
    centroid_lat: float
    score: float
    state: str
    priority: str
    priority_locked: bool
    reason: str
    length_m: float
    width_m: float
    bearing_deg: float
    scene_id: str
    scene: str | None
    candidate_id: str | None
    detection_state: str | None
    aerodrome_km: float | None
    nearest_aerodrome: str | None
    first_seen: datetime
    last_seen: datetime
    detections: int
    assignee: str | None
    version: int
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str
    state_changed_at: datetime | None
    country: str | None = None  # ISO 3166-1 alpha-2 of the centroid's country; None at sea


ALERT_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Alert))


@dataclass(frozen=True)
class AlertChange:
    """What a person changes on one alert, made from the copy at ``expected_version``.

    ``state``/``priority``/``assignee`` left as None are not changed; ``unassign`` clears the
    assignee; ``comment`` is added in the same transaction.
    """

    alert_id: int
    expected_version: int
    state: str | None = None
    priority: str | None = None
    assignee: str | None = None
    unassign: bool = False
    comment: str | None = None
    request_id: str | None = None

    def __post_init__(self) -> None:
        if self.state is not None and self.state not in ALERT_STATES:
            raise SchemaError(Message("unknown alert state {state}; expected one of {states}",
                                      state=repr(self.state), states=", ".join(ALERT_STATES)))
        if self.priority is not None and self.priority not in PRIORITIES:
            raise SchemaError(Message(
                "unknown priority {priority}; expected one of {priorities}",
                priority=repr(self.priority), priorities=", ".join(PRIORITIES)))
        if self.unassign and self.assignee is not None:
            raise SchemaError(Message("a change cannot both assign and unassign; choose one"))
        if self.comment is not None and not self.comment.strip():
            raise SchemaError(Message("empty comment; write something or leave it out"))


def _now() -> datetime:
    return datetime.now(UTC)


def _alert(row: RowMapping) -> Alert:
    return Alert(**{name: row[name] for name in ALERT_FIELDS})


def _alert_columns() -> list[Any]:
    return [t.alerts.c[name] for name in ALERT_FIELDS]


def get_alert(store: Store, alert_id: int) -> Alert:
    """Read one alert; :class:`~geo.errors.AlertNotFoundError` when there is none."""
    with read_tx(store) as conn:
        return load_alert(conn, alert_id, lock=False)


def list_alerts(store: Store, *, states: Sequence[str] | None = None,
                assignee: str | None = None,
                bbox: tuple[float, float, float, float] | None = None,
                countries: Sequence[str] | None = None, min_score: float | None = None,
                area: BaseGeometry | None = None,
                imagery_states: Sequence[str] | None = None) -> list[Alert]:
    """Alerts by priority (high first), then score; optionally filtered.

    Parameters
    ----------
    states, assignee
        Keep these review states / this assignee only.
    bbox
        (min_lon, min_lat, max_lon, max_lat) in degrees; alerts whose bounding box touches it.
    countries
        ISO 3166-1 alpha-2 codes; alerts at sea (no country) are left out by this filter.
    min_score
        Keep alerts scoring at least this much.
    area
        Polygon or MultiPolygon in EPSG:4326 (a saved area of interest): alerts whose
        geometry intersects it (bounding boxes in SQL first, then the exact shapely test).
    imagery_states
        Keep these states of the strip on the imagery (``detection_state``: new, active,
        overgrown, destroyed, reopened) only.
    """
    a = t.alerts.c
    query = select(*_alert_columns())
    if states is not None:
        query = query.where(a.state.in_(list(states)))
    if assignee is not None:
        query = query.where(a.assignee == assignee)
    if countries is not None:
        query = query.where(a.country.in_(list(countries)))
    if min_score is not None:
        query = query.where(a.score >= min_score)
    if imagery_states is not None:
        query = query.where(a.detection_state.in_(list(imagery_states)))
    for box in (bbox, None if area is None else area.bounds):
        if box is not None:
            x0, y0, x1, y1 = box
            query = query.where(a.max_lon >= x0, a.min_lon <= x1, a.max_lat >= y0,
                                a.min_lat <= y1)
    rank = {p: i for i, p in enumerate(PRIORITIES)}
    with read_tx(store) as conn:
        found = [_alert(r) for r in conn.execute(query).mappings()]
    if area is not None:
        shapely.prepare(area)
        found = [al for al in found if area.intersects(al.geometry)]
    return sorted(found, key=lambda al: (rank[al.priority], -al.score, al.id))


def awaiting_first(alerts: Sequence[Alert]) -> list[Alert]:
    """Put alerts in :data:`~geo.store.states.AWAITING_STATES` first (the review queue's order).

    Each part keeps the order it comes in (:func:`list_alerts`: priority, then score), so a
    confirmed high-priority strip no longer sits above the new ones waiting for a look.
    """
    return sorted(alerts, key=lambda al: al.state not in AWAITING_STATES)


def load_alert(conn: Connection, alert_id: int, *, lock: bool) -> Alert:
    """Read one alert inside a transaction, locking its row for the transaction if ``lock``."""
    query = select(*_alert_columns()).where(t.alerts.c.id == alert_id)
    if lock:
        query = query.with_for_update()
    row = conn.execute(query).mappings().first()
    if row is None:
        raise AlertNotFoundError(Message("no alert with id {id}; it may be in another store",
                                         id=str(alert_id)))
    return _alert(row)


def stale_error(current: Alert, expected_version: int) -> StaleVersionError:
    """Build the conflict error for a change made from ``expected_version`` of ``current``."""
    # Ids and versions are labels (shown as written); the time is in UTC, as written.
    return StaleVersionError(
        Message("alert {id} was changed by {who} at {when} UTC (now version {version}, your "
                "copy is version {expected}); reload it and apply your change again",
                id=str(current.id), who=current.updated_by,
                when=f"{current.updated_at:%Y-%m-%d %H:%M:%S}", version=str(current.version),
                expected=str(expected_version)),
        alert_id=current.id, expected_version=expected_version,
        current_version=current.version, changed_by=current.updated_by,
        changed_at=current.updated_at)


def write_fields(conn: Connection, current: Alert, values: dict[str, Any], *, actor: str,
                 at: datetime) -> Alert:
    """Set ``values`` on ``current`` if its version is unchanged; bump the version."""
    stmt = (update(t.alerts)
            .where(t.alerts.c.id == current.id, t.alerts.c.version == current.version)
            .values(**values, version=current.version + 1, updated_by=actor, updated_at=at))
    if conn.execute(stmt).rowcount != 1:
        raise stale_error(load_alert(conn, current.id, lock=False), current.version)
    shown = {k: v for k, v in values.items() if k in ALERT_FIELDS}
    return replace(current, **shown, version=current.version + 1, updated_by=actor,
                   updated_at=at)


def _human_values(current: Alert, change: AlertChange, at: datetime) -> dict[str, Any]:
    """Field values the change sets, after checking the state transition."""
    values: dict[str, Any] = {}
    if change.state is not None and change.state != current.state:
        check_transition(current.state, change.state)
        values.update(state=change.state, state_changed_at=at)
    if change.priority is not None and (change.priority != current.priority
                                        or not current.priority_locked):
        values.update(priority=change.priority, priority_locked=True)
    if change.unassign and current.assignee is not None:
        values["assignee"] = None
    elif change.assignee is not None and change.assignee != current.assignee:
        values["assignee"] = change.assignee
    return values


def _reassign(conn: Connection, alert: Alert, assignee: str | None, *, actor: str,
              at: datetime) -> None:
    """Close the open assignment and open the new one (assignment history)."""
    a = t.assignments.c
    conn.execute(update(t.assignments).where(a.alert_id == alert.id, a.ended_at.is_(None))
                 .values(ended_at=at, ended_by=actor))
    if assignee is not None:
        conn.execute(insert(t.assignments).values(
            alert_id=alert.id, assignee=assignee, assigned_by=actor, assigned_at=at))


def _already_applied(conn: Connection, request_id: str | None) -> bool:
    if request_id is None:
        return False
    found = conn.execute(select(t.applied_requests.c.request_id)
                         .where(t.applied_requests.c.request_id == request_id)).first()
    return found is not None


def _may_not(action: Action) -> Message:
    """Return the refusal of ``action`` (the alert page says the same words)."""
    return Message("Your role may not {what}.", what=Message(DESCRIPTIONS[action]))


def change_refusal(current: Alert, values: Mapping[str, Any], *, comment: bool, actor: str,
                   role: Role | str | None) -> Message | None:
    """Why ``actor`` in ``role`` may not make this change to ``current``; None when they may.

    ``values``: the fields the change would write (state, priority, assignee); ``comment``:
    it adds a comment. A role that may not assign alerts to others changes only alerts that
    are unassigned or assigned to ``actor`` (comments excepted: they are welcome on any).

    Unit tests: ``tests/store/test_alert_rights.py``.
    """
    if role is None:
        return None
    needed = [action for action, wanted in (
        (Action.SET_VERDICT, "state" in values),
        (Action.SET_PRIORITY, "priority" in values),
        (Action.ASSIGN_SELF, values.get("assignee", "") == actor),
        (Action.ASSIGN_OTHERS, values.get("assignee", actor) not in (None, actor)),
        (Action.COMMENT, comment)) if wanted]
    refused = next((action for action in needed if not can(role, action)), None)
    if refused is not None:
        return _may_not(refused)
    if (values and current.assignee not in (None, actor)
            and not can(role, Action.ASSIGN_OTHERS)):
        return Message("alert {id} is assigned to {who}: only they, or someone who may assign "
                       "alerts, may change it (a comment alone is still welcome)",
                       id=str(current.id), who=current.assignee)
    return None


def apply_change(conn: Connection, change: AlertChange, *, actor: str,
                 at: datetime | None = None, role: Role | str | None = None) -> Alert:
    """Apply one :class:`AlertChange` inside the caller's transaction; return the new alert.

    ``at``: the time recorded (default now); a batch gives all its changes one time, so its
    notifications read as one event (:func:`geo.store.subscriptions.inbox_groups`).
    ``role``: the role of the person the change is made for, checked by
    :func:`change_refusal` (None: the system's own change, not checked).

    Raises
    ------
    AuthError
        The role may not make this change to the alert as it is now; nothing was written.
    """
    current = load_alert(conn, change.alert_id, lock=True)
    # Checked under the row lock, so a retry racing its original waits and then sees it.
    if _already_applied(conn, change.request_id):
        return current
    if current.version != change.expected_version:
        raise stale_error(current, change.expected_version)
    at = at or _now()
    values = _human_values(current, change, at)
    if not values and change.comment is None:
        return current
    why = change_refusal(current, values, comment=change.comment is not None, actor=actor,
                         role=role)
    if why is not None:
        raise AuthError(why)
    rows = field_changes(current.id, "update", {k: getattr(current, k) for k in values}, values)
    result = write_fields(conn, current, values, actor=actor, at=at)
    if "assignee" in values:
        _reassign(conn, result, values["assignee"], actor=actor, at=at)
    if "state" in values:  # same transaction: a refused or rolled-back change tells nobody
        notify(conn, result, "state_change", actor=actor, at=at, old_state=current.state)
    if change.comment is not None:
        conn.execute(insert(t.comments).values(alert_id=current.id, author=actor, created_at=at,
                                               body=change.comment))
        rows.append({"alert_id": current.id, "action": "comment", "new": change.comment})
    record(conn, rows, at=at, actor=actor, request_id=change.request_id)
    if change.request_id is not None:
        conn.execute(insert(t.applied_requests).values(
            request_id=change.request_id, alert_id=current.id, actor=actor, applied_at=at))
    return result


def update_alert(store: Store, change: AlertChange, *, actor: str,
                 role: Role | str | None = None) -> Alert:
    """Apply one change in its own transaction; return the alert at its new version.

    ``role``: see :func:`apply_change`.

    Raises
    ------
    StaleVersionError
        The alert changed since ``change.expected_version``; nothing was written.
    TransitionError
        The state machine does not allow the move (see :mod:`geo.store.states`).
    AlertNotFoundError
        No such alert.
    AuthError
        ``role`` may not make the change (:func:`change_refusal`).
    """
    return in_transaction(store, lambda conn: apply_change(conn, change, actor=actor,
                                                           role=role))


def apply_changes(store: Store, changes: Sequence[AlertChange], *, actor: str) -> list[Alert]:
    """Apply several changes all-or-nothing (e.g. a field team's batch of verdicts).

    Rows are locked in alert id order, so two batches over the same alerts queue instead of
    deadlocking; the result is in the order of ``changes``.
    """
    order = sorted(range(len(changes)), key=lambda i: changes[i].alert_id)

    def work(conn: Connection) -> list[Alert]:
        at = _now()
        done = {i: apply_change(conn, changes[i], actor=actor, at=at) for i in order}
        return [done[i] for i in range(len(changes))]
    return in_transaction(store, work)


def add_comment(store: Store, alert_id: int, body: str, *, actor: str,
                role: Role | str | None = None) -> int:
    """Add a comment (comments never conflict, so no version is needed); return its id.

    The alert's version does not move: a comment does not make the copies others have open
    stale (the alert page's "Comment only" went through a versioned change, and two people
    commenting at once had one refused). ``role``: checked as by :func:`change_refusal`.
    """
    if not body.strip():
        raise SchemaError(Message("empty comment; write something"))
    if role is not None and not can(role, Action.COMMENT):
        raise AuthError(_may_not(Action.COMMENT))
    at = _now()

    def work(conn: Connection) -> int:
        load_alert(conn, alert_id, lock=False)
        key = conn.execute(insert(t.comments).values(
            alert_id=alert_id, author=actor, created_at=at, body=body)).inserted_primary_key
        assert key is not None
        record(conn, [{"alert_id": alert_id, "action": "comment", "new": body}],
               at=at, actor=actor)
        return int(key[0])
    return in_transaction(store, work)


@dataclass(frozen=True)
class Attachment:
    """An image chip or other file kept with an alert (content read separately)."""

    id: int
    alert_id: int
    kind: str
    label: str
    taken_at: datetime | None
    media_type: str
    path: str | None
    size_bytes: int
    sha256: str
    width_px: int | None
    height_px: int | None
    meta: dict[str, Any]
    created_by: str
    created_at: datetime


def add_attachment(store: Store, alert_id: int, *, actor: str, kind: str, media_type: str,
                   content: bytes | None = None, path: Path | None = None, label: str = "",
                   taken_at: datetime | None = None, width_px: int | None = None,
                   height_px: int | None = None, meta: Mapping[str, Any] | None = None) -> int:
    """Keep an image chip (``content`` bytes, or a ``path`` the server made); return its id.

    Notes
    -----
    ``path`` must be a server-made name, never built from an uploaded file's name.
    """
    if (content is None) == (path is None):
        raise SchemaError("give an attachment either its bytes (content) or a path, not both")
    if taken_at is not None and taken_at.tzinfo is None:
        raise SchemaError(f"taken_at {taken_at.isoformat()} has no time zone; give UTC times")
    data = content if content is not None else Path(str(path)).read_bytes()
    at = _now()
    values = {"alert_id": alert_id, "kind": kind, "label": label, "taken_at": taken_at,
              "media_type": media_type, "content": content,
              "path": None if path is None else str(path), "size_bytes": len(data),
              "sha256": hashlib.sha256(data).hexdigest(), "width_px": width_px,
              "height_px": height_px, "meta": json.dumps(dict(meta or {}), sort_keys=True),
              "created_by": actor, "created_at": at}
    def work(conn: Connection) -> int:
        load_alert(conn, alert_id, lock=False)
        key = conn.execute(insert(t.attachments).values(**values)).inserted_primary_key
        assert key is not None
        record(conn, [{"alert_id": alert_id, "action": "attach", "field": kind,
                       "new": {"id": int(key[0]), "label": label, "sha256": values["sha256"]}}],
               at=at, actor=actor)
        return int(key[0])
    return in_transaction(store, work)


def read_attachments(store: Store, alert_id: int) -> list[Attachment]:
    """Attachments of an alert (without their bytes), oldest first."""
    cols = [c for c in t.attachments.c if c.name != "content"]
    query = (select(*cols).where(t.attachments.c.alert_id == alert_id)
             .order_by(t.attachments.c.id))
    with read_tx(store) as conn:
        rows = conn.execute(query).mappings().all()
    return [Attachment(**{**r, "meta": json.loads(r["meta"])}) for r in rows]


def read_attachment_content(store: Store, attachment_id: int) -> bytes:
    """Return the bytes of one attachment (from the database or its path)."""
    a = t.attachments.c
    with read_tx(store) as conn:
        row = conn.execute(select(a.content, a.path).where(a.id == attachment_id)).first()
    if row is None:
        raise AlertNotFoundError(Message("no attachment with id {id}", id=str(attachment_id)))
    return bytes(row.content) if row.content is not None else Path(row.path).read_bytes()


def read_comments(store: Store, alert_id: int) -> list[dict[str, Any]]:
    """Comments of an alert, oldest first (``id``, ``author``, ``created_at``, ``body``)."""
    c = t.comments.c
    query = (select(c.id, c.author, c.created_at, c.body).where(c.alert_id == alert_id)
             .order_by(c.id))
    with read_tx(store) as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def read_assignments(store: Store, alert_id: int) -> list[dict[str, Any]]:
    """Return the assignment history of an alert, oldest first."""
    a = t.assignments.c
    query = select(t.assignments).where(a.alert_id == alert_id).order_by(a.id)
    with read_tx(store) as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def alerts_frame(alerts: Sequence[Alert]) -> gpd.GeoDataFrame:
    """Alerts as a GeoDataFrame in EPSG:4326 (one row each, every field a column), for layers."""
    rows = [{name: getattr(a, name) for name in ALERT_FIELDS if name != "geometry"}
            for a in alerts]
    frame = pd.DataFrame(rows, columns=[n for n in ALERT_FIELDS if n != "geometry"])
    return gpd.GeoDataFrame(frame, geometry=[a.geometry for a in alerts], crs=4326)
