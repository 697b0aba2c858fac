"""The job list on both backends: dedupe under concurrency, the state machine, recovery."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import timedelta

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from geo.errors import JobError, JobNotFoundError, JobStateError, TransitionError
from geo.jobs import (
    JOB_STATES,
    JOB_TRANSITIONS,
    check_job_transition,
    claim_job,
    dedupe_key,
    finish_job,
    get_job,
    heartbeat,
    list_jobs,
    owner_is_dead,
    recover_stale_jobs,
    report_progress,
    request_cancel,
    submit_job,
)
from geo.store import open_store
from geo.store import tables as t
from geo.store.engine import read_tx, write_tx
from geo.store.migrations import MIGRATIONS
from tests.store.conftest import NOW

PARAMS = {"scenes": ["/data/a.tif", "/data/b.tif"], "rules_only": False}
ME, OTHER = "host:1:aaaa", "host:2:bbbb"


def _running(store, params=PARAMS, owner=ME):
    job_id, _ = submit_job(store, "detect", params, "ana", now=NOW)
    job = claim_job(store, owner, now=NOW)
    assert job is not None
    assert job.id == job_id
    return job


def test_migration_6_creates_the_jobs_table(store):
    assert 6 in [m.version for m in MIGRATIONS]
    with read_tx(store) as conn:
        versions = {r.version for r in conn.execute(select(t.schema_version))}
        assert 6 in versions
        assert conn.execute(select(t.jobs)).all() == []


def test_same_request_gives_one_job_until_it_finishes(store):
    first = submit_job(store, "detect", PARAMS, "ana", now=NOW)
    # same parameters in another key order, another user: the same job
    again = submit_job(store, "detect", dict(reversed(PARAMS.items())), "bo", now=NOW)
    assert first == (first[0], True)
    assert again == (first[0], False)
    assert submit_job(store, "export", PARAMS, "ana", now=NOW)[1] is True  # another kind
    job = claim_job(store, ME, now=NOW)
    assert submit_job(store, "detect", PARAMS, "bo")[0] == job.id  # running: still the same
    finish_job(store, job.id, ME, "succeeded", now=NOW)
    new_id, created = submit_job(store, "detect", PARAMS, "bo", now=NOW)
    assert created
    assert new_id != job.id
    assert get_job(store, job.id).dedupe_key == get_job(store, new_id).dedupe_key


def test_database_refuses_a_second_unfinished_job_with_the_same_key(store):
    key = dedupe_key("detect", PARAMS)
    row = {"kind": "detect", "dedupe_key": key, "params": "{}", "created_by": "x",
           "created_at": NOW, "state": "queued"}
    with write_tx(store) as conn:
        conn.execute(insert(t.jobs).values(**row))
    with pytest.raises(IntegrityError), write_tx(store) as conn:
        conn.execute(insert(t.jobs).values(**row))
    with write_tx(store) as conn:  # finished twins are fine
        conn.execute(insert(t.jobs).values(**{**row, "state": "failed"}))
        conn.execute(insert(t.jobs).values(**{**row, "state": "succeeded"}))


def test_concurrent_submits_make_one_job(store_url):
    """16 threads, each with its own store (connection pool), submit the same job at once."""
    n = 16
    stores = [open_store(store_url) for _ in range(n)]
    barrier = threading.Barrier(n)
    results: list[tuple[int, bool]] = []
    errors: list[BaseException] = []

    def submit(k: int) -> None:
        try:
            barrier.wait(timeout=30)
            results.append(submit_job(stores[k], "detect", PARAMS, f"user{k}"))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=submit, args=(k,)) for k in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    try:
        assert not errors
        assert len(results) == n
        assert len({job_id for job_id, _ in results}) == 1
        assert sum(created for _, created in results) == 1
        assert len(list_jobs(stores[0])) == 1
    finally:
        for s in stores:
            s.close()


def test_parameters_must_be_plain_json(store):
    with pytest.raises(JobError, match="plain JSON"):
        submit_job(store, "detect", {"x": float("nan")}, "ana")
    with pytest.raises(JobError, match="plain JSON"):
        submit_job(store, "detect", {"x": object()}, "ana")
    with pytest.raises(JobError, match="unknown job kind 'train'"):
        submit_job(store, "train", {}, "ana")


# -- the state machine --------------------------------------------------------------------------

FINISHED = ("cancelled", "succeeded", "failed")


@pytest.mark.parametrize("state", FINISHED)
@pytest.mark.parametrize("wanted", JOB_STATES)
def test_nothing_follows_a_finished_job(state, wanted):
    with pytest.raises(JobStateError, match="it is finished"):
        check_job_transition(state, wanted)


@pytest.mark.parametrize(("current", "wanted"), [
    ("queued", "succeeded"), ("queued", "failed"), ("queued", "cancelling"),
    ("running", "cancelled"), ("cancelling", "running"), ("cancelling", "queued"),
    ("running", "running"), ("queued", "paused"),
])
def test_illegal_moves_raise(current, wanted):
    with pytest.raises(JobStateError):
        check_job_transition(current, wanted)


def test_every_state_is_in_the_table():
    assert set(JOB_TRANSITIONS) == set(JOB_STATES)
    assert issubclass(JobStateError, TransitionError)  # the UI's catch-all still catches it


def test_finishing_a_queued_job_is_refused(store):
    job_id, _ = submit_job(store, "detect", PARAMS, "ana")
    with pytest.raises(JobStateError, match="queued, not running"):
        finish_job(store, job_id, ME, "succeeded")
    with pytest.raises(JobStateError, match="not 'paused'"):
        finish_job(store, job_id, ME, "paused")
    assert get_job(store, job_id).state == "queued"


def test_only_the_owner_may_touch_a_running_job(store):
    job = _running(store)
    for call in (lambda: heartbeat(store, job.id, OTHER),
                 lambda: report_progress(store, job.id, OTHER, 0.5, "x"),
                 lambda: finish_job(store, job.id, OTHER, "succeeded")):
        with pytest.raises(JobStateError, match="held by runner host:1:aaaa"):
            call()
    assert heartbeat(store, job.id, ME) == "running"


def test_a_finished_job_cannot_be_finished_or_cancelled_again(store):
    job = _running(store)
    done = finish_job(store, job.id, ME, "failed", error="boom", now=NOW)
    assert (done.state, done.error, done.finished_at) == ("failed", "boom", NOW)
    with pytest.raises(JobStateError, match="failed, not running"):
        finish_job(store, job.id, ME, "succeeded")
    with pytest.raises(JobStateError, match="from 'failed'"):
        request_cancel(store, job.id, "ana")
    with pytest.raises(JobStateError, match="failed, not running"):
        heartbeat(store, job.id, ME)


def test_cancelled_only_when_asked(store):
    job = _running(store)
    with pytest.raises(JobStateError, match="from 'running' to 'cancelled'"):
        finish_job(store, job.id, ME, "cancelled")
    assert request_cancel(store, job.id, "bo") == "cancelling"
    assert request_cancel(store, job.id, "ana") == "cancelling"  # twice: no change
    assert heartbeat(store, job.id, ME) == "cancelling"  # the runner learns it here
    done = finish_job(store, job.id, ME, "cancelled")
    assert done.state == "cancelled"
    assert done.finished_at is not None


def test_cancelling_a_queued_job_ends_it_at_once(store):
    job_id, _ = submit_job(store, "detect", PARAMS, "ana")
    assert request_cancel(store, job_id, "bo") == "cancelled"
    job = get_job(store, job_id)
    assert job.message == "cancelled by bo before it ran"
    assert claim_job(store, ME) is None


def test_progress_and_claim_order(store):
    first, _ = submit_job(store, "detect", {"n": 1}, "ana", now=NOW)
    second, _ = submit_job(store, "detect", {"n": 2}, "ana", now=NOW + timedelta(seconds=1))
    job = claim_job(store, ME, now=NOW)
    assert job.id == first
    assert job.attempts == 1
    assert job.owner == ME
    assert report_progress(store, first, ME, 0.25, "scene 1 of 4", now=NOW) == "running"
    got = get_job(store, first)
    assert (got.progress, got.message) == (0.25, "scene 1 of 4")
    with pytest.raises(JobError, match=r"\[0, 1\]"):
        report_progress(store, first, ME, 1.5)
    assert claim_job(store, OTHER, kinds=["export"]) is None
    assert claim_job(store, OTHER).id == second
    assert claim_job(store, OTHER) is None
    with pytest.raises(JobNotFoundError):
        get_job(store, 999)


def test_results_and_state_commit_together(store):
    job = _running(store)

    def failing_write(conn):
        conn.execute(insert(t.audit_log).values(at=NOW, actor="x", action="never"))
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        finish_job(store, job.id, ME, "succeeded", write=failing_write)
    assert get_job(store, job.id).state == "running"  # rolled back with the write
    with read_tx(store) as conn:
        assert conn.execute(select(t.audit_log)).all() == []
    done = finish_job(store, job.id, ME, "succeeded", result={"a": 1},
                      write=lambda conn: {"b": 2})
    assert (done.state, done.progress, done.result) == ("succeeded", 1.0, {"a": 1, "b": 2})


# -- recovery -----------------------------------------------------------------------------------

def test_stale_running_job_is_requeued_once_then_failed(store):
    job = _running(store)
    assert recover_stale_jobs(store, now=NOW + timedelta(seconds=30), stale_after_s=60) == {}
    later = NOW + timedelta(seconds=61)
    assert recover_stale_jobs(store, now=later, stale_after_s=60) == {job.id: "queued"}
    requeued = get_job(store, job.id)
    assert (requeued.state, requeued.owner, requeued.attempts) == ("queued", None, 1)
    assert "attempt 2 of 2" in requeued.message
    again = claim_job(store, OTHER, now=later)
    assert again.id == job.id
    assert again.attempts == 2
    with pytest.raises(JobStateError, match="held by runner host:2:bbbb"):
        heartbeat(store, job.id, ME)  # the first runner, back from the dead, is refused
    assert recover_stale_jobs(store, now=later + timedelta(seconds=61),
                              stale_after_s=60) == {job.id: "failed"}
    failed = get_job(store, job.id)
    assert failed.state == "failed"
    assert "stopped answering during attempt 2 of 2" in failed.error
    assert "start it again" in failed.error


def test_stale_job_of_a_kind_run_once_fails_at_once(store):
    job_id, _ = submit_job(store, "export", {"x": 1}, "ana", max_attempts=1, now=NOW)
    claim_job(store, ME, now=NOW)
    assert recover_stale_jobs(store, now=NOW + timedelta(hours=1)) == {job_id: "failed"}


def test_stale_cancelling_job_is_cancelled(store):
    job = _running(store)
    request_cancel(store, job.id, "ana")
    assert recover_stale_jobs(store, now=NOW + timedelta(hours=1)) == {job.id: "cancelled"}


def test_a_dead_local_owner_is_recovered_without_waiting(store):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    import socket

    dead = f"{socket.gethostname()}:{gone.stdout.strip()}:dead"
    assert owner_is_dead(dead)
    assert not owner_is_dead(f"{socket.gethostname()}:1:init")  # pid 1 lives
    assert not owner_is_dead("elsewhere:123:x")
    assert not owner_is_dead(None)
    job = _running(store, owner=dead)
    assert recover_stale_jobs(store, now=NOW, stale_after_s=3600) == {job.id: "queued"}


def test_command_line_list_cancel_recover(store, store_url, monkeypatch, capsys):
    import json

    from geo.jobs.__main__ import main

    monkeypatch.setenv("ATALAYA_DATABASE_URL", store_url)
    job_id, _ = submit_job(store, "detect", PARAMS, "ana")
    assert main(["list", "--user", "ana"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert (json.loads(line)["id"], json.loads(line)["state"]) == (job_id, "queued")
    assert main(["cancel", str(job_id), "--user", "bo"]) == 0
    assert capsys.readouterr().out.strip() == "cancelled"
    assert main(["cancel", str(job_id), "--user", "bo"]) == 1  # finished: refused
    assert "from 'cancelled'" in capsys.readouterr().err
    assert main(["recover"]) == 0
    assert capsys.readouterr().out.strip() == "{}"
