"""Opening, migrating, reading and changing alerts on both backends."""

from __future__ import annotations

import sqlite3
import time
from datetime import datetime

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import DBAPIError

from geo.errors import (
    AlertNotFoundError,
    ConfigError,
    SchemaError,
    StaleVersionError,
    StoreError,
)
from geo.store import (
    AlertChange,
    add_attachment,
    add_comment,
    alerts_frame,
    apply_changes,
    default_url,
    get_alert,
    list_alerts,
    merge_candidates,
    open_store,
    read_assignments,
    read_attachment_content,
    read_attachments,
    read_audit,
    read_comments,
    update_alert,
)
from geo.store import tables as t
from geo.store.engine import in_transaction, read_tx
from geo.store.migrations import latest_version
from tests.store.conftest import NOW, candidates

SITES = [{"lon": -65.0, "lat": -14.0, "scene_id": "s1", "date": "2024-05-01", "score": 0.9},
         {"lon": -64.5, "lat": -13.5, "scene_id": "s1", "date": "2024-05-01", "score": 0.6,
          "priority": "medium"}]


def test_open_migrates_once_and_reopens(store_url):
    with open_store(store_url) as store, read_tx(store) as conn:
        rows = conn.execute(select(t.schema_version)).all()
    assert [r.version for r in rows] == list(range(1, latest_version() + 1))
    with open_store(store_url) as again, read_tx(again) as conn:
        assert conn.execute(select(t.schema_version)).all() == rows


def test_a_step_skipped_by_an_earlier_build_is_applied_later(tmp_path):
    """A database that got step 6 before step 5 existed (two branches) still gets step 5."""
    path = tmp_path / "gap.sqlite3"
    with open_store(f"sqlite:///{path}"):
        pass
    raw = sqlite3.connect(path)
    raw.execute("DROP TABLE users")
    raw.execute("DELETE FROM schema_version WHERE version = 5")
    raw.commit()
    raw.close()
    with open_store(f"sqlite:///{path}") as store, read_tx(store) as conn:
        versions = [r.version for r in conn.execute(select(t.schema_version))]
        assert conn.execute(select(t.users)).all() == []
    assert sorted(versions) == list(range(1, latest_version() + 1))


def test_default_url_is_a_file_in_the_data_dir(tmp_path):
    assert default_url({"ATALAYA_DATA_DIR": str(tmp_path)}) == \
        f"sqlite:///{tmp_path}/atalaya.sqlite3"


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "mysql://x@y/z", "nonsense"],
                         ids=["no-file", "memory", "mysql", "garbage"])
def test_unusable_urls_are_refused(url):
    with pytest.raises(ConfigError, match=r"expected|file path|malformed"):
        open_store(url)


def test_sqlite_runs_in_wal_mode_with_full_sync(tmp_path):
    with open_store(f"sqlite:///{tmp_path}/a.sqlite3") as store, store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


def test_a_new_sqlite_file_being_written_is_waited_for_not_refused(tmp_path):
    """Switching a new file to WAL while another process writes it waits (busy timeout).

    SQLite answers "database is locked" at once there, whatever the busy timeout; processes
    opening one new store together failed so now and then (tests/store/test_concurrency.py).
    """
    import threading

    path = tmp_path / "new.sqlite3"
    holding, done = threading.Event(), threading.Event()

    def writer() -> None:  # another process's migration, in the file's rollback-journal mode
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("CREATE TABLE other_writer (i INTEGER)")
        holding.set()
        time.sleep(0.5)
        conn.execute("COMMIT")
        conn.close()
        done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    assert holding.wait(10)
    try:
        with open_store(f"sqlite:///{path}", busy_timeout_s=10) as store, \
                store.engine.connect() as conn:
            assert done.is_set()  # it waited for the writer
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert list_alerts(store) == []
    finally:
        thread.join()


def test_create_merge_and_read(store):
    report = merge_candidates(store, candidates(SITES))
    assert len(report.created) == 2
    found = list_alerts(store)
    assert [a.priority for a in found] == ["high", "medium"]
    first = found[0]
    assert first.state == "new"
    assert first.version == 1
    assert first.detections == 1
    assert first.first_seen == first.last_seen == NOW
    assert first.scene == "s1.tif"
    assert first.created_by == "detector"
    assert first.geometry.geom_type == "Polygon"
    assert first.centroid_lon == pytest.approx(-65.0, abs=1e-6)
    assert first.centroid_lat == pytest.approx(-14.0, abs=1e-6)
    assert list_alerts(store, bbox=(-65.1, -14.1, -64.9, -13.9)) == [first]
    assert list_alerts(store, states=["confirmed"]) == []
    frame = alerts_frame(found)
    assert len(frame) == 2
    assert frame.crs.to_epsg() == 4326
    assert "version" in frame


def test_update_bumps_version_and_returns_new_copy(store):
    merge_candidates(store, candidates(SITES[:1]))
    alert = list_alerts(store)[0]
    after = update_alert(store, AlertChange(alert.id, 1, state="under_review", assignee="ana",
                                            priority="low", comment="mine"), actor="lead")
    assert (after.version, after.state, after.assignee, after.priority) == \
        (2, "under_review", "ana", "low")
    assert after.priority_locked
    assert after.updated_by == "lead"
    assert get_alert(store, alert.id) == after
    assert list_alerts(store, assignee="ana") == [after]
    assert [c["body"] for c in read_comments(store, alert.id)] == ["mine"]
    again = update_alert(store, AlertChange(alert.id, 2, assignee="bob"), actor="lead")
    history = read_assignments(store, alert.id)
    assert [(h["assignee"], h["ended_at"] is not None) for h in history] == \
        [("ana", True), ("bob", False)]
    cleared = update_alert(store, AlertChange(alert.id, again.version, unassign=True),
                           actor="lead")
    assert cleared.assignee is None
    assert read_assignments(store, alert.id)[-1]["ended_by"] == "lead"


def test_no_op_change_writes_nothing(store):
    merge_candidates(store, candidates(SITES[:1]))
    alert = list_alerts(store)[0]
    before = len(read_audit(store))
    assert update_alert(store, AlertChange(alert.id, 1), actor="ana") == alert
    assert len(read_audit(store)) == before


def test_retried_request_is_applied_once(store):
    merge_candidates(store, candidates(SITES[:1]))
    alert = list_alerts(store)[0]
    change = AlertChange(alert.id, 1, state="under_review", comment="on it", request_id="r-1")
    first = update_alert(store, change, actor="ana")
    second = update_alert(store, change, actor="ana")  # a double click: version 1 is stale now
    assert first == second
    assert second.version == 2
    assert len(read_comments(store, alert.id)) == 1


def test_batch_is_all_or_nothing(store):
    merge_candidates(store, candidates(SITES))
    a, b = list_alerts(store)
    with pytest.raises(StaleVersionError):
        apply_changes(store, [AlertChange(a.id, 1, state="under_review"),
                              AlertChange(b.id, 7, state="under_review")], actor="team")
    assert get_alert(store, a.id) == a  # the first change was rolled back with the second


def test_missing_alert(store):
    with pytest.raises(AlertNotFoundError, match="no alert with id 99"):
        update_alert(store, AlertChange(99, 1, state="under_review"), actor="ana")
    with pytest.raises(AlertNotFoundError):
        add_comment(store, 99, "hello", actor="ana")


@pytest.mark.parametrize(("kw", "match"), [
    ({"state": "approved"}, "unknown alert state"),
    ({"priority": "urgent"}, "unknown priority"),
    ({"assignee": "ana", "unassign": True}, "both assign and unassign"),
    ({"comment": "   "}, "empty comment"),
], ids=["state", "priority", "assign-unassign", "blank-comment"])
def test_bad_changes_are_refused_before_the_database(kw, match):
    with pytest.raises(SchemaError, match=match):
        AlertChange(1, 1, **kw)


def test_comments_and_attachments(store, tmp_path):
    merge_candidates(store, candidates(SITES[:1]))
    alert = list_alerts(store)[0]
    add_comment(store, alert.id, "track marks at the north end", actor="ana")
    chip = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
    inline = add_attachment(store, alert.id, actor="detector", kind="chip",
                            media_type="image/png", content=chip, label="true colour",
                            taken_at=NOW, width_px=64, height_px=64, meta={"bands": "rgb"})
    on_disk = tmp_path / "chip-server-made-name.png"
    on_disk.write_bytes(chip[::-1])
    by_path = add_attachment(store, alert.id, actor="detector", kind="chip",
                             media_type="image/png", path=on_disk)
    listed = read_attachments(store, alert.id)
    assert [a.id for a in listed] == [inline, by_path]
    assert listed[0].meta == {"bands": "rgb"}
    assert listed[0].taken_at == NOW
    assert listed[0].size_bytes == len(chip)
    assert len(listed[0].sha256) == 64
    assert read_attachment_content(store, inline) == chip
    assert read_attachment_content(store, by_path) == chip[::-1]
    assert get_alert(store, alert.id).version == 1  # evidence does not conflict with verdicts
    actions = [e.action for e in read_audit(store, alert_id=alert.id)]
    assert actions.count("comment") == 1
    assert actions.count("attach") == 2
    with pytest.raises(SchemaError, match="either its bytes"):
        add_attachment(store, alert.id, actor="x", kind="chip", media_type="image/png")


def test_a_newer_schema_is_refused(store_url):
    with open_store(store_url) as store, store.engine.begin() as conn:
        conn.execute(insert(t.schema_version).values(version=99, name="future",
                                                     applied_at=NOW))
    with pytest.raises(StoreError, match="version 99 but this Atalaya knows up to"):
        open_store(store_url)


def test_without_migrations_an_empty_database_is_refused(tmp_path):
    with pytest.raises(StoreError, match="open it with migrations on"):
        open_store(f"sqlite:///{tmp_path}/empty.sqlite3", migrate_schema=False)


def test_a_writer_holding_sqlite_too_long_gives_a_clear_error(tmp_path):
    path = tmp_path / "a.sqlite3"
    with open_store(f"sqlite:///{path}", busy_timeout_s=0.2) as store:
        merge_candidates(store, candidates(SITES[:1]))
        alert = list_alerts(store)[0]
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(StoreError, match="stayed locked by another writer"):
                update_alert(store, AlertChange(alert.id, 1, state="under_review"), actor="a")
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert get_alert(store, alert.id).version == 1


class _DeadlockError(Exception):
    sqlstate = "40P01"


def test_a_transaction_aborted_by_a_deadlock_is_run_again(store):
    calls = []

    def work(conn):
        calls.append(1)
        if len(calls) == 1:
            raise DBAPIError("UPDATE alerts ...", {}, _DeadlockError("deadlock detected"))
        return "done"

    assert in_transaction(store, work) == "done"
    assert len(calls) == 2


def test_naive_times_are_refused(store):
    merge_candidates(store, candidates(SITES[:1]))
    alert = list_alerts(store)[0]
    with pytest.raises(SchemaError, match="no time zone"):
        add_attachment(store, alert.id, actor="a", kind="chip", media_type="image/png",
                       content=b"x", taken_at=datetime(2024, 5, 1))
