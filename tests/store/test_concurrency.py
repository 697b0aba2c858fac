"""Real processes against one store: conflicting writers, and a writer killed mid-batch."""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import signal
import time
from collections import Counter

import pytest
from sqlalchemy import func, select

from geo.store import (
    get_alert,
    list_alerts,
    merge_candidates,
    open_store,
    read_audit,
    read_comments,
)
from geo.store import tables as t
from geo.store.engine import read_tx
from geo.store.migrations import latest_version
from tests.store.conftest import candidates
from tests.store.workers import (
    PRIORITY_CYCLE,
    crossing_batches,
    endless_batches,
    open_and_merge,
    race_update,
)

# spawn: a fresh interpreter per worker, as separate app servers would be (no shared pool).
CTX = mp.get_context("spawn")
ROUNDS = 8


def _seed(url: str, n: int) -> list[int]:
    rows = [{"lon": -70 + 0.05 * i, "lat": -10.0, "scene_id": "s1", "date": "2024-05-01"}
            for i in range(n)]
    with open_store(url) as store:
        merge_candidates(store, candidates(rows))
        return sorted(a.id for a in list_alerts(store))


@pytest.mark.slow
def test_two_processes_updating_one_alert_exactly_one_wins(store_url):
    (alert_id,) = _seed(store_url, 1)
    barrier, results = CTX.Barrier(2), CTX.Queue()
    procs = [CTX.Process(target=race_update, args=(store_url, alert_id, ROUNDS, actor,
                                                   barrier, results)) for actor in ("ana", "bob")]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=180) for _ in range(2 * ROUNDS)]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    for k in range(ROUNDS):
        this_round = sorted((o[1], o[2], o[3]) for o in outcomes if o[0] == k)
        assert [o[0] for o in this_round] == ["stale", "won"], this_round
        (_, loser, message), (_, winner, _) = this_round
        assert loser != winner
        assert f"changed by {winner} at" in message
        assert "reload" in message
    with open_store(store_url) as store:
        alert = get_alert(store, alert_id)
        assert alert.version == 1 + ROUNDS  # one write per round, none lost, none doubled
        wins = Counter(o[2] for o in outcomes if o[1] == "won")
        comments = Counter(c["author"] for c in read_comments(store, alert_id))
        assert comments == wins
        first = next(o[2] for o in outcomes if o[0] == 0 and o[1] == "won")
        assert alert.state == ("under_review" if first == "ana" else "dismissed")
        states = [e for e in read_audit(store, alert_id=alert_id)
                  if e.field == "state" and e.action == "update"]
        assert len(states) == 1
        assert states[0].actor == first


def _check_consistent(url: str, ids: list[int]) -> int:
    """Every alert got every batch or none of it; return the common version."""
    with open_store(url) as store:
        alerts = [get_alert(store, i) for i in ids]
        versions = {a.version for a in alerts}
        assert len(versions) == 1, f"half-written batch: versions {sorted(versions)}"
        version = versions.pop()
        audit = read_audit(store)
        for a in alerts:
            assert len(read_comments(store, a.id)) == version - 1
            mine = [e for e in audit if e.alert_id == a.id]
            assert sum(e.field == "priority" and e.action == "update" for e in mine) == version - 1
            assert sum(e.action == "comment" for e in mine) == version - 1
            if version > 1:
                assert a.priority == PRIORITY_CYCLE[(version - 1) % 3]
        if store.backend == "sqlite":
            with store.engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    return version


@pytest.mark.slow
def test_sigkill_in_the_middle_of_a_batch_leaves_no_half_written_alert(store_url):
    ids = _seed(store_url, 30)
    rng = random.Random(11)
    version = 1
    for _ in range(3):
        started = CTX.Event()
        worker = CTX.Process(target=endless_batches,
                             args=(store_url, ids, [version] * len(ids), started))
        worker.start()
        assert started.wait(timeout=180), "the worker never finished a first batch"
        time.sleep(rng.uniform(0.05, 0.4))
        os.kill(worker.pid, signal.SIGKILL)
        worker.join(timeout=60)
        assert worker.exitcode == -signal.SIGKILL
        new_version = _check_consistent(store_url, ids)
        assert new_version > version  # at least the first batch was committed
        version = new_version


@pytest.mark.slow
def test_processes_migrating_and_merging_at_once_make_one_alert_per_strip(store_url):
    rows = [{"lon": -70 + 0.05 * i, "lat": -10.0, "scene_id": "s1", "date": "2024-05-01"}
            for i in range(12)]
    barrier, results = CTX.Barrier(3), CTX.Queue()
    procs = [CTX.Process(target=open_and_merge, args=(store_url, rows, barrier, results))
             for _ in range(3)]
    for p in procs:
        p.start()
    reports = sorted(results.get(timeout=180) for _ in procs)
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert reports == [(0, 0, 12), (0, 0, 12), (12, 0, 0)]  # one created, the others matched
    with open_store(store_url) as store, read_tx(store) as conn:
        # every migration applied exactly once
        assert (conn.execute(select(func.count()).select_from(t.schema_version)).scalar()
                == latest_version())
        assert len(list_alerts(store)) == 12


@pytest.mark.slow
def test_batches_over_the_same_alerts_in_opposite_orders_do_not_deadlock(store_url):
    ids = _seed(store_url, 10)
    barrier, results = CTX.Barrier(2), CTX.Queue()
    procs = [CTX.Process(target=crossing_batches, args=(store_url, order, 15, barrier, results))
             for order in (ids, ids[::-1])]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert all(o[0] == "ok" for o in outcomes), outcomes
    applied = sum(o[1] for o in outcomes)
    with open_store(store_url) as store:
        assert {get_alert(store, i).version for i in ids} == {1 + applied}
        assert all(len(read_comments(store, i)) == applied for i in ids)
