"""The audit log records every change and cannot be edited, even with plain SQL."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from geo.store import (
    AlertChange,
    add_attachment,
    add_comment,
    list_alerts,
    merge_candidates,
    read_audit,
    update_alert,
)
from tests.store.conftest import candidates


def _one_alert(store):
    merge_candidates(store, candidates([{"lon": -65, "lat": -14, "scene_id": "s1",
                                         "date": "2024-05-01"}]))
    return list_alerts(store)[0]


@pytest.fixture
def alert(store):
    return _one_alert(store)


def test_every_change_is_recorded(store, alert):
    a = update_alert(store, AlertChange(alert.id, 1, state="under_review", assignee="ana",
                                        request_id="req-7"), actor="lead")
    a = update_alert(store, AlertChange(a.id, a.version, state="confirmed", priority="high",
                                        comment="strip with fresh tyre marks"), actor="ana")
    add_comment(store, a.id, "sent to the field team", actor="lead")
    add_attachment(store, a.id, actor="detector", kind="chip", media_type="image/png",
                   content=b"png")
    log = read_audit(store, alert_id=alert.id)
    changes = [(e.actor, e.action, e.field, e.old_value, e.new_value) for e in log
               if e.action != "create"]
    assert ("lead", "update", "state", "new", "under_review") in changes
    assert ("lead", "update", "assignee", None, "ana") in changes
    assert ("ana", "update", "state", "under_review", "confirmed") in changes
    assert ("ana", "update", "priority_locked", False, True) in changes
    assert ("ana", "comment", None, None, "strip with fresh tyre marks") in changes
    assert ("lead", "comment", None, None, "sent to the field team") in changes
    assert [e.action for e in log].count("attach") == 1
    assert {e.request_id for e in log if e.actor == "lead" and e.action == "update"} == {"req-7"}
    assert all(e.at.tzinfo is not None for e in log)
    assert [e.id for e in log] == sorted(e.id for e in log)


@pytest.mark.parametrize("sql", [
    "UPDATE audit_log SET new_value = '\"forged\"'",
    "DELETE FROM audit_log",
    "DELETE FROM audit_log WHERE id = (SELECT min(id) FROM audit_log)",
], ids=["update", "delete-all", "delete-one"])
def test_audit_rows_cannot_be_changed(store, alert, sql):
    before = read_audit(store)
    with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
        conn.execute(text(sql))
    assert read_audit(store) == before


@pytest.mark.postgis
def test_audit_table_cannot_be_truncated_on_postgis(postgis_store):
    _one_alert(postgis_store)
    with pytest.raises(DBAPIError, match="append-only"), postgis_store.engine.begin() as conn:
        conn.execute(text("TRUNCATE audit_log"))
    assert read_audit(postgis_store)
