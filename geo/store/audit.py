"""The append-only audit log: one row per changed field, written in the change's transaction.

Values are JSON-encoded text, so ``null``, ``"null"`` and ``0`` stay distinct whatever the
field's type. The database refuses UPDATE and DELETE on the table (triggers on both backends,
plus revoked privileges on PostgreSQL), so history cannot be rewritten through the app or SQL.

Notes
-----
The owner of the tables could still drop the triggers. On a team PostgreSQL, let a separate
role own the schema (it runs the migrations) and give the app's role only SELECT, INSERT and
UPDATE where needed, so it cannot drop or disable the triggers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from geo.store import tables as t
from geo.store.engine import Store, read_tx


@dataclass(frozen=True)
class AuditEntry:
    """One recorded change: who did what to which field of which alert, and when."""

    id: int
    at: datetime
    actor: str
    alert_id: int | None
    action: str
    field: str | None
    old_value: Any
    new_value: Any
    request_id: str | None


def encode_value(value: object) -> str:
    """JSON text of a field value (datetimes as ISO 8601, geometries as WKT).

    Examples
    --------
    >>> encode_value(0.5), encode_value(None), encode_value("a")
    ('0.5', 'null', '"a"')
    """
    if hasattr(value, "wkt"):
        value = value.wkt
    elif isinstance(value, datetime):
        value = value.isoformat()
    return json.dumps(value, ensure_ascii=False)


def record(conn: Connection, rows: Sequence[dict[str, object]], *, at: datetime, actor: str,
           request_id: str | None = None) -> None:
    """Append audit rows (``alert_id``, ``action``, optional ``field``, ``old``, ``new``)."""
    if not rows:
        return
    conn.execute(insert(t.audit_log), [{
        "at": at, "actor": actor, "alert_id": r["alert_id"], "action": r["action"],
        "field": r.get("field"),
        "old_value": encode_value(r["old"]) if "old" in r else None,
        "new_value": encode_value(r["new"]) if "new" in r else None,
        "request_id": request_id,
    } for r in rows])


def field_changes(alert_id: int, action: str, old: dict[str, Any],
                  new: dict[str, Any]) -> list[dict[str, object]]:
    """Audit rows for the fields whose value differs between ``old`` and ``new``."""
    return [{"alert_id": alert_id, "action": action, "field": k, "old": old.get(k), "new": v}
            for k, v in new.items() if not same_value(old.get(k), v)]


def same_value(a: object, b: object) -> bool:
    """Equality that treats geometries by exact coordinates."""
    if hasattr(a, "equals_exact") and hasattr(b, "equals_exact"):
        return bool(a.equals_exact(b, 0.0))
    return a == b


def read_audit(store: Store, *, alert_id: int | None = None) -> list[AuditEntry]:
    """Audit rows, oldest first; those of one alert when ``alert_id`` is given."""
    query = select(t.audit_log).order_by(t.audit_log.c.id)
    if alert_id is not None:
        query = query.where(t.audit_log.c.alert_id == alert_id)
    with read_tx(store) as conn:
        rows = conn.execute(query).mappings().all()
    return [AuditEntry(
        id=r["id"], at=r["at"], actor=r["actor"], alert_id=r["alert_id"], action=r["action"],
        field=r["field"],
        old_value=None if r["old_value"] is None else json.loads(r["old_value"]),
        new_value=None if r["new_value"] is None else json.loads(r["new_value"]),
        request_id=r["request_id"]) for r in rows]
