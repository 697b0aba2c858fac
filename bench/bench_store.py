"""Alert store: verdict updates per second with 1, 4 and 16 concurrent writers, per backend.

Writers are processes (forked, each with its own connections, as separate app servers or
workers would be), or 16 threads sharing one store (Streamlit sessions of one app process);
each changes its own alerts: `update_alert` with a version check, a row lock,
the state/priority change and its audit rows, one transaction per update, `synchronous=FULL`
on SQLite. Baseline: the obvious bare `UPDATE alerts SET priority = ...` per transaction, no
version check and no audit, by the same writers on the same database: what the safety costs.
Machine limit: 4 KiB writes + fsync per second in the same folder (one second of probing, so
noisy on a shared disk), since every acknowledged commit waits for at least one fsync.
The target column gives the 99th percentile latency of one update as a user would wait for it.
PostGIS rows use `ATALAYA_TEST_DATABASE_URL` (`tools/pg_test_server.sh start`) in a scratch
schema; without it they are skipped with a note.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Row
from geo.errors import StaleVersionError
from geo.store import (
    AlertChange,
    Store,
    list_alerts,
    merge_candidates,
    open_store,
    update_alert,
)
from geo.store.merge import REQUIRED

WRITERS = (1, 4, 16)
ALERTS_PER_WRITER = 4
PRIORITIES = ("low", "medium", "high")
CTX = mp.get_context("fork")  # cheap start; every child opens its own connections


def _seed(url: str, n: int) -> list[int]:
    import geopandas as gpd
    import pandas as pd

    from geo.runway_geometry import oriented_rectangle

    geoms = [oriented_rectangle(-70 + 0.05 * i, -10.0, length_m=900.0, width_m=20.0,
                                bearing_deg=30.0) for i in range(n)]
    frame = gpd.GeoDataFrame({
        "scene_id": "bench", "detected_at": pd.Timestamp("2024-05-01", tz="UTC"),
        "score": 0.8, "length_m": 900.0, "width_m": 20.0, "bearing_deg": 30.0,
        "priority": "high"}, index=range(n), geometry=geoms, crs=4326)
    assert set(REQUIRED) <= set(frame.columns)
    with open_store(url) as store:
        merge_candidates(store, frame)
        return sorted(a.id for a in list_alerts(store))


def _store_writer(target: str | Store, ids: list[int], n: int, go: Any, out: Any) -> None:
    # A process opens its own store (connects, checks the schema) before the clock starts;
    # threads share the parent's, as Streamlit sessions share one cached store.
    store = open_store(target) if isinstance(target, str) else target
    versions = dict.fromkeys(ids, 1)
    ok = conflicts = 0
    go.wait()
    start = time.monotonic()
    latencies = []
    for i in range(n):
        alert_id = ids[i % len(ids)]
        v = versions[alert_id]
        t0 = time.monotonic()
        try:
            done = update_alert(store, AlertChange(alert_id, v, priority=PRIORITIES[v % 3],
                                                   request_id=uuid.uuid4().hex), actor="bench")
            versions[alert_id] = done.version
            ok += 1
        except StaleVersionError:
            conflicts += 1
        latencies.append(time.monotonic() - t0)
    out.put((start, time.monotonic(), ok, conflicts, latencies))
    if isinstance(target, str):
        store.close()


def _bare_engine(url: str) -> Engine:
    backend = make_url(url).get_backend_name()
    return create_engine(url, connect_args={"timeout": 30.0} if backend == "sqlite" else {},
                         pool_size=16)


def _bare_writer(target: str | Engine, ids: list[int], n: int, go: Any, out: Any) -> None:
    engine = _bare_engine(target) if isinstance(target, str) else target
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    ok = errors = 0
    go.wait()
    start = time.monotonic()
    for i in range(n):
        try:
            with engine.begin() as conn:
                conn.execute(text("UPDATE alerts SET priority = :p WHERE id = :id"),
                             {"p": PRIORITIES[i % 3], "id": ids[i % len(ids)]})
            ok += 1
        except OperationalError:  # "database is locked": counted, the baseline's weak spot
            errors += 1
    out.put((start, time.monotonic(), ok, errors, []))
    if isinstance(target, str):
        engine.dispose()


def _run_writers(url: str, writer: Callable[..., None], writers: int, n: int,
                 threads: bool) -> list[tuple[Any, ...]]:
    """Start the writers (processes, or threads sharing one store) and collect their figures."""
    ids = _seed(url, writers * ALERTS_PER_WRITER)
    if not threads:
        out, go = CTX.Queue(), CTX.Barrier(writers)
        procs = [CTX.Process(target=writer, args=(url, ids[k::writers], n, go, out))
                 for k in range(writers)]
        for p in procs:
            p.start()
        results = [out.get(timeout=600) for _ in procs]
        for p in procs:
            p.join(timeout=60)
        return results
    shared: Store | Engine = (open_store(url) if writer is _store_writer else _bare_engine(url))
    tout: queue.Queue[tuple[Any, ...]] = queue.Queue()
    tgo = threading.Barrier(writers)
    pool = [threading.Thread(target=writer, args=(shared, ids[k::writers], n, tgo, tout))
            for k in range(writers)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    if isinstance(shared, Store):
        shared.close()
    else:
        shared.dispose()
    return [tout.get() for _ in pool]


def _measure(url: str, writer: Callable[..., None], writers: int, n: int, *,
             threads: bool = False) -> tuple[float, int, float]:
    """Measure updates/s of the writers, failures or conflicts, p99 latency (s)."""
    results = _run_writers(url, writer, writers, n, threads)
    span = max(r[1] for r in results) - min(r[0] for r in results)
    latencies = [x for r in results for x in r[4]]
    p99 = float(np.percentile(latencies, 99)) if latencies else float("nan")
    return sum(r[2] for r in results) / span, sum(r[3] for r in results), p99


def fsyncs_per_second(folder: Path, seconds: float = 1.0) -> float:
    """4 KiB write + fsync rate in ``folder``: the ceiling of one durable commit at a time."""
    path = folder / "fsync.probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    count, start = 0, time.perf_counter()
    try:
        while time.perf_counter() - start < seconds:
            os.pwrite(fd, b"x" * 4096, 0)
            os.fsync(fd)
            count += 1
    finally:
        os.close(fd)
        path.unlink()
    return count / (time.perf_counter() - start)


def _scratch_pg(base: str) -> tuple[str, Callable[[], None]]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema},public"})

    def drop() -> None:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()
    return url.render_as_string(hide_password=False), drop


def _backend_rows(name: str, make_url_: Callable[[], tuple[str, Callable[[], None]]],
                  n: int, limit: float) -> list[Row]:
    rows = []
    for writers, threads in [(w, False) for w in WRITERS] + [(16, True)]:
        per_writer = max(n // writers, 10) if writers > 1 else n
        figures = []
        for writer in (_store_writer, _bare_writer):
            url, cleanup = make_url_()
            try:
                figures.append(_measure(url, writer, writers, per_writer, threads=threads))
            finally:
                cleanup()
        (value, conflicts, p99), (base, failures, _) = figures
        note = f"p99 {p99 * 1000:.0f} ms, {conflicts} conflicts" + (
            f"; bare UPDATE failed {failures}x" if failures else "")
        who = (f"{writers} threads in one process" if threads
               else f"{writers} process{'es' if writers > 1 else ''}")
        rows.append(Row(f"{name}, {who}, {writers * per_writer:,} updates", value,
                        "updates/s", base, "bare UPDATE, no version/audit", limit, "fsync/s",
                        note))
    return rows


def run(quick: bool = False) -> list[Row]:
    """Measure both backends; return the table rows."""
    n = 60 if quick else 400
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        limit = fsyncs_per_second(folder)

        def sqlite_url() -> tuple[str, Callable[[], None]]:
            path = folder / f"{uuid.uuid4().hex}.sqlite3"
            return f"sqlite:///{path}", lambda: None

        rows += _backend_rows("SQLite (WAL, FULL)", sqlite_url, n, limit)
    pg = os.environ.get("ATALAYA_TEST_DATABASE_URL", "")
    if pg:
        rows += _backend_rows("PostGIS", lambda: _scratch_pg(pg), n, limit)
    else:
        rows.append(Row("PostGIS: not measured (ATALAYA_TEST_DATABASE_URL unset; see "
                        "tools/pg_test_server.sh)", float("nan"), "updates/s"))
    return rows


if __name__ == "__main__":
    from bench.common import table

    print(table(run(quick="--quick" in sys.argv)))
