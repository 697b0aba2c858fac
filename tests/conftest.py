"""Shared fixtures: tiny synthetic layers built in code, and the rule for optional resources."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
from hypothesis import settings as hypothesis_settings
from shapely.geometry import LineString, Point, Polygon

# Property tests check results, not speed (speed is make bench's): on two shared cores a
# 200 ms example deadline failed examples that take 30 ms on an idle machine.
hypothesis_settings.register_profile("atalaya", deadline=5_000)
hypothesis_settings.load_profile("atalaya")

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def in_own_thread(work: Callable[[], Any]) -> Any:
    """Run ``work()`` in a thread of its own and return its result (or raise its error).

    A browser test's sync Playwright (``tests/browser/conftest.py``) keeps an event loop
    running in the worker's main thread for the rest of the session: neither another sync
    Playwright nor ``asyncio.run`` may start there in any later test of that worker.
    """
    out: dict[str, Any] = {}

    def target() -> None:
        try:
            out["value"] = work()
        except BaseException as err:  # handed to the caller below
            out["error"] = err

    thread = threading.Thread(target=target, name="own-thread")
    thread.start()
    thread.join()
    if "error" in out:
        raise out["error"]
    return out.get("value")


class KeptRecords(logging.Handler):
    """The records that reached a handler on one logger, and their text as formatted."""

    def __init__(self, level: int) -> None:
        super().__init__(level)
        self.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
        self.records: list[logging.LogRecord] = []

    @property
    def text(self) -> str:
        """Every record formatted, tracebacks included, one after the other."""
        return "\n".join(self.format(r) for r in self.records)

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def kept_records(name: str, level: int = logging.INFO) -> Iterator[KeptRecords]:
    """Keep the records of logger ``name`` at ``level`` or above while the block runs.

    The handler sits on that logger itself, not on the root as pytest's ``caplog`` does: a
    server started earlier in the process may have set the logger not to propagate (uvicorn's
    error logger after ``tests/ui/test_app.py``, 2026-12-06) or disabled it. Its level and
    disabled flag are put back afterwards.
    """
    logger = logging.getLogger(name)
    kept, saved = KeptRecords(level), (logger.level, logger.disabled)
    logger.addHandler(kept)
    logger.setLevel(level)
    logger.disabled = False
    try:
        yield kept
    finally:
        logger.removeHandler(kept)
        logger.level, logger.disabled = saved


@pytest.fixture(autouse=True)
def _keep_main_module():
    """Put back ``sys.modules["__main__"]`` after each test.

    ``streamlit.testing``'s ``AppTest`` leaves its script module there, and a process that a
    later test starts with multiprocessing's *spawn* (a Dask ``LocalCluster`` worker) re-runs
    ``__main__``'s file first: the AppTest script, which fails outside AppTest ("Nanny failed
    to start"). Seen when tests/ui ran before a Dask test in one pytest call.
    """
    import sys

    main = sys.modules.get("__main__")
    yield
    if main is not None and sys.modules.get("__main__") is not main:
        sys.modules["__main__"] = main


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Keep the browser tests on one pytest-xdist worker (``make test`` runs two).

    They share one app server and one Chromium per worker (session fixtures), and the load
    test measures that server; spread over workers they would each start their own, and two
    of them would contend for the same cores. ``--dist loadgroup`` hands the group to one
    worker as a whole, the largest unit first, while the other worker takes everything else.
    """
    group = pytest.mark.xdist_group("browser")
    for item in items:
        if item.get_closest_marker("browser") is not None:
            item.add_marker(group)


def copy_world(src: Path, dst: Path, *, scenes: bool = True) -> Path:
    """Copy a generated world to ``dst`` without its store and logs (a world of its own).

    Without ``scenes`` only the layer files are copied (the scene GeoTIFFs stay behind).
    """
    import shutil

    if scenes:
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.sqlite3*", "logs", "static"))
        return dst
    dst.mkdir(parents=True)
    for item in src.iterdir():
        if item.is_file() and not item.name.startswith("atalaya.sqlite3"):
            shutil.copy(item, dst / item.name)
    return dst


@pytest.fixture
def own_world(small_world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Give the app a copy of the small world's layer files with a store of its own."""
    folder = copy_world(small_world, tmp_path / "world", scenes=False)
    monkeypatch.setenv("ATALAYA_DATA_DIR", str(folder))
    monkeypatch.setenv("ATALAYA_DATABASE_URL", "")
    monkeypatch.chdir(ROOT)
    return folder


def signed_in(at: object, user: str = "analyst") -> object:
    """Sign ``at`` (a ``streamlit.testing`` AppTest of app.py) in as the test account ``user``.

    The account (``tools.serve.TEST_USERS``) is made in the store the environment points at;
    the session then holds it as the sign-in form would leave it.
    """
    from datetime import UTC, datetime

    from geo.auth import Role, Session
    from tools.serve import ensure_accounts
    from ui import state

    ensure_accounts(dict(os.environ))
    at.session_state[state.SESSION] = Session.start(  # type: ignore[attr-defined]
        user, Role(user), datetime.now(UTC))
    return at


def require(condition: bool, reason: str) -> None:
    """Skip when a resource is missing on a developer's clone; fail under CI=true."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(reason)


@pytest.fixture
def events() -> gpd.GeoDataFrame:
    """Five valid events in Peru, Colombia, Bolivia, Paraguay and Guatemala."""
    return gpd.GeoDataFrame(
        {
            "event_id": ["e1", "e2", "e3", "e4", "e5"],
            "occurred_at": pd.to_datetime(
                ["2023-01-05T10:00Z", "2023-02-11T00:00Z", "2023-03-01T23:30Z",
                 "2024-07-19T12:00Z", "2024-12-31T08:15Z"], utc=True),
            "event_type": ["seizure", "interdiction", "suspicious_flight", "seizure", "incident"],
            "commodity": ["cocaine", "cocaine_base", "unknown", "cannabis", "cash"],
            "quantity_kg": [312.0, 45.5, None, 1200.0, 0.0],
            "country": ["PE", "CO", "BO", "PY", "GT"],
            "source": ["DEVIDA", "Policía Nacional de Colombia", "FELCN", "SENAD", "press"],
            "confidence": [0.9, 0.8, 0.5, 0.7, 0.6],
            "description": ["Incautación en el VRAEM", None, "Avioneta sin plan de vuelo",
                            "Carga en camión", "Petén"],
        },
        geometry=[Point(-74.2, -12.4), Point(-78.8, 1.8), Point(-65.1, -16.9),
                  Point(-55.7, -22.5), Point(-90.1, 16.9)],
        crs=4326,
    )


@pytest.fixture
def routes() -> gpd.GeoDataFrame:
    """Two valid routes: one flight, one sea lane."""
    return gpd.GeoDataFrame(
        {
            "route_id": ["r1", "r2"],
            "mode": ["air", "maritime"],
            "origin": ["Apure", "Tumaco"],
            "destination": ["Petén", "Guatemala Pacific"],
            "first_seen": pd.to_datetime(["2020-01-01", "2021-06-01"], utc=True),
            "last_seen": pd.to_datetime(["2024-01-01", "2024-06-01"], utc=True),
            "confidence": [0.7, 0.6],
            "source": ["JIATF-South", "Armada de Colombia"],
        },
        geometry=[LineString([(-69.0, 7.0), (-80.0, 12.0), (-90.0, 17.0)]),
                  LineString([(-79.0, 1.9), (-84.0, 5.0), (-91.5, 13.5)])],
        crs=4326,
    )


@pytest.fixture
def candidates() -> gpd.GeoDataFrame:
    """One valid runway candidate in Beni, Bolivia."""
    rect = Polygon([(-65.0, -14.0), (-64.99, -14.0), (-64.99, -13.9998), (-65.0, -13.9998)])
    return gpd.GeoDataFrame(
        {
            "candidate_id": ["c1"], "scene_id": ["s1"],
            "detected_at": pd.to_datetime(["2024-05-01"], utc=True),
            "score": [0.82], "length_m": [1080.0], "width_m": [22.0], "bearing_deg": [90.0],
            "state": ["new"], "reason": ["1.1 km long, 22 m wide"],
        },
        geometry=[rect], crs=4326,
    )


def _generate_small_world(out: Path) -> None:
    import subprocess
    import sys

    subprocess.run([sys.executable, "-m", "geo.sample", "--seed", "3", "--events", "3000",
                    "--out", str(out)], cwd=ROOT, check=True, timeout=300)


@pytest.fixture(scope="session")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generate a sample world of 3,000 events (seed 3) once per test run.

    Under pytest-xdist the first worker to ask generates it in the run's shared temporary
    folder (under a file lock) and every worker copies that pristine world into a folder of
    its own: each worker's tests write their stores there, as with one worker. Generating
    it once per worker cost a minute or more of a two-core machine's time per extra worker.
    """
    import shutil

    from filelock import FileLock

    if not os.environ.get("PYTEST_XDIST_WORKER"):
        out = tmp_path_factory.mktemp("world")
        _generate_small_world(out)
        return out
    shared = tmp_path_factory.getbasetemp().parent  # this run's folder, shared by the workers
    pristine, done = shared / "small_world", shared / "small_world.done"
    with FileLock(str(shared / "small_world.lock")):
        if not done.exists():
            shutil.rmtree(pristine, ignore_errors=True)
            _generate_small_world(pristine)
            done.touch()
    return copy_world(pristine, tmp_path_factory.getbasetemp() / "small_world")
