"""A runner process killed with SIGKILL mid-job: handed on or failed, never left running.

The SQLite file passes its integrity check afterwards.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime

from sqlalchemy.engine import make_url

from geo.jobs import claim_job, get_job, list_jobs, recover_stale_jobs, submit_job
from tests.conftest import ROOT

# Claims the job, then reports progress (a write transaction each) as fast as it can, so the
# kill lands in the middle of a write. The progress is never 0 (0.01-0.99), so the test can
# tell it was written.
CHILD = textwrap.dedent("""
    import sys
    from geo.jobs import claim_job, owner_token, report_progress
    from geo.store import open_store

    store = open_store(sys.argv[1])
    job = claim_job(store, owner_token())
    print(job.id, flush=True)
    k = 0
    while True:
        k += 1
        report_progress(store, job.id, job.owner, (k % 99 + 1) / 100, f"step {k}")  # > 0
""")


def _start_runner(url: str) -> tuple[subprocess.Popen[str], int]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-c", CHILD, url], stdout=subprocess.PIPE,
                             text=True, env=env, cwd=ROOT)
    assert child.stdout is not None
    line = child.stdout.readline()
    assert line.strip().isdigit(), f"child did not claim a job: {line!r}"
    time.sleep(0.5)  # let it write a few hundred heartbeats
    return child, int(line)


def _kill(child: subprocess.Popen[str]) -> None:
    os.kill(child.pid, signal.SIGKILL)
    assert child.wait(30) == -signal.SIGKILL


def _integrity(url: str) -> list[str]:
    path = make_url(url).database
    conn = sqlite3.connect(path)
    try:
        return [r[0] for r in conn.execute("PRAGMA integrity_check")]
    finally:
        conn.close()


def test_sigkill_leaves_no_job_running(store, store_url):
    job_id, _ = submit_job(store, "detect", {"scenes": ["/x.tif"]}, "ana")
    child, claimed = _start_runner(store_url)
    assert claimed == job_id
    running = get_job(store, job_id)
    assert running.state == "running"
    assert running.progress > 0
    _kill(child)
    assert get_job(store, job_id).state == "running"  # nobody else knows yet

    # at start-up: the owner's process is gone, so no need to wait for the heartbeat limit
    started = time.perf_counter()
    assert recover_stale_jobs(store, stale_after_s=3600) == {job_id: "queued"}
    print(f"recovery took {1000 * (time.perf_counter() - started):.1f} ms")
    requeued = get_job(store, job_id)
    assert (requeued.state, requeued.attempts, requeued.owner) == ("queued", 1, None)

    # the second attempt is killed too: the job fails with the reason, it does not loop
    child, claimed = _start_runner(store_url)
    assert claimed == job_id
    _kill(child)
    # another host's view: it cannot see the pid, only the heartbeat getting old
    assert recover_stale_jobs(store, now=datetime.now(UTC), stale_after_s=0.0,
                              dead_owners=False) == {job_id: "failed"}
    failed = get_job(store, job_id)
    assert failed.state == "failed"
    assert "stopped answering during attempt 2 of 2" in failed.error
    assert list_jobs(store, states=["running", "cancelling"]) == []
    assert claim_job(store, "host:1:x") is None
    if store.backend == "sqlite":
        assert _integrity(store_url) == ["ok"]


def test_sigterm_hands_the_running_job_back_at_once(store, store_url, tmp_path):
    """A planned stop (SIGTERM to ``python -m geo.jobs worker``) re-queues without waiting."""
    from geo.jobs import JobRunner, detect_params
    from geo.settings import Settings
    from tests.geo.test_detect import ONE_STRIP, write_scene

    scenes = [write_scene(tmp_path / f"s{k:02d}_2024-08-02.tif", strips=ONE_STRIP, seed=k)
              for k in range(12)]
    job_id, _ = submit_job(store, "detect", detect_params(scenes, rules_only=True,
                                                          aerodromes=False), "ana")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ATALAYA_DATABASE_URL": store_url,
           "ATALAYA_DATA_DIR": str(tmp_path)}
    worker = subprocess.Popen([sys.executable, "-m", "geo.jobs", "worker", "--no-dask",
                               "--poll", "0.1"], env=env, cwd=ROOT, stderr=subprocess.PIPE,
                              text=True)
    try:
        deadline = time.monotonic() + 120
        while get_job(store, job_id).progress == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        running = get_job(store, job_id)
        assert running.state == "running", running
        stopped = time.perf_counter()
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(60) == 0
        print(f"SIGTERM to exit: {time.perf_counter() - stopped:.2f} s")
    finally:
        if worker.poll() is None:
            worker.kill()
    log = worker.stderr.read() if worker.stderr else ""
    back = get_job(store, job_id)
    assert (back.state, back.attempts, back.owner) == ("queued", 0, None), log
    assert "handed back" in back.message
    done = JobRunner(store, settings=Settings(data_dir=tmp_path, static_dir=ROOT / "static"),
                     use_dask=False).run_next()
    assert (done.id, done.state, done.attempts) == (job_id, "succeeded", 1)
    assert len(done.result["created"]) == 1  # twelve scenes of one strip: one alert
