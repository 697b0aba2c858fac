"""Run detection over many scenes, serially or on a Dask ``distributed`` cluster.

A task is a run of neighbouring windows of one scene (:func:`~geo.detect.scene.window_runs`),
read one after the other from the file opened once, so the blocks they share are decoded once
(a striped file's run is read as one region: :class:`~geo.imagery.RunReader`). A tiled file's
tiles that a run shares with later runs are handed on to them when they run in the same
thread (:mod:`geo.tiffblocks`): a serial run inflates each tile once (484 tiles on the
benchmark tile, against 644 run by run), and two workers about 510, as Dask gives a worker
the runs below its earlier ones more often than not.
A task carries the scene's checked header (:class:`~geo.imagery.SceneInfo`) and the windows'
positions, never pixels: the worker reads its own windows from the file. The same function
runs in both modes and the results are assembled in window order, so a distributed run returns
exactly what a serial run does.

A task that fails on a bad file (a corrupt or truncated block, a worker stopped for exceeding
its memory limit) fails its scene only: the scene is reported with the reason and skipped, and
the other scenes are kept.

Notes
-----
Memory: a worker holds one window at a time (a few hundred MB for 1024 x 1024 px with every
intermediate layer), and :func:`start_local_client` caps each worker at
:data:`DEFAULT_WORKER_MEMORY`. On a 10,980 x 10,980 five-band tile the client (with the
scheduler and nannies) and two workers peaked at 1.41 GiB together (``bench/bench_detect.py``),
within the 2 GB budget; raise the limit with the window size. Workers never *pause*: Dask
pauses a worker above 80 % of its limit until its memory falls, which for memory the worker
holds between tasks (Python, GDAL, Numba's compiled code: about 0.3 GB at start, 0.6 GB
after a few scenes) never happens, so a job would wait forever; a worker over 95 % is
restarted instead and its window fails its scene, which is reported.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import pandas as pd
from rasterio.windows import Window
from shapely.geometry.base import BaseGeometry

from geo.detect.area import candidates_inside, scene_area, windows_in_area
from geo.detect.layers import clear_pool
from geo.detect.params import DetectionParams
from geo.detect.scene import (
    WindowKey,
    candidates_to_frame,
    describe_scene,
    detect_scene_window,
    later_runs,
    rank_scene,
    scene_windows,
    window_runs,
)
from geo.detect.scorer import Scorer
from geo.detect.window import RawCandidate
from geo.errors import AtalayaError, ConfigError
from geo.imagery import (
    RunReader,
    SceneInfo,
    detection_factor,
    gdal_process_environment,
    open_geotiff,
    read_scene_info,
)
from geo.message import Message, message_of
from geo.schema import CANDIDATES, empty_layer
from geo.tiffblocks import clear_hand_on

#: Memory limit of each local worker process; the nanny restarts a worker that exceeds 95 %
#: of it and the window it was working on fails its scene.
DEFAULT_WORKER_MEMORY = "1GiB"
#: Where a local cluster's scheduler serves HTTP (its dashboard and health): this machine
#: only, on a free port. ``None`` would not turn it off: distributed then asks for port 8787
#: on every interface, and warns when another program holds it.
LOCAL_DASHBOARD = "127.0.0.1:0"
#: Dask settings of the local cluster. No pausing (see the module notes). No statistical
#: profiler (it samples the running task's Python stack every 10 ms, for a dashboard page
#: nobody opens here), no GIL monitor, and the event loops' housekeeping at 200 ms and the
#: system monitor at 2 s instead of 20 ms and 500 ms: an idle two-worker cluster used 0.37-0.67
#: CPU-s per 5 s, 0.12-0.15 with these (2026-12-05; the benchmark tile's runs 2-4 % less CPU,
#: within this machine's noise). The nannies' memory watch keeps its 100 ms. Work stealing
#: every 100 ms instead of every second: Dask sends a worker one task beyond the one it runs,
#: and a task of about a second queued behind a slow one (a fresh worker's first run pays its
#: page faults) waited while the other worker sat idle; over 7 alternated pairs of fresh
#: two-worker clusters on the benchmark tile, the first detection took 7.1-8.0 s (mean 7.4)
#: against 7.1-8.5 s (mean 7.9), faster in 6 pairs of 7 (2026-12-05).
WORKER_DASK_CONFIG: dict[str, Any] = {
    "distributed.worker.memory.pause": False,
    "distributed.scheduler.work-stealing-interval": "100ms",
    "distributed.worker.profile.enabled": False,
    "distributed.admin.system-monitor.gil.enabled": False,
    "distributed.admin.tick.interval": "200ms",
    "distributed.admin.system-monitor.interval": "2s",
}
#: glibc malloc settings for workers. Dask starts workers with ``MALLOC_TRIM_THRESHOLD_=65536``,
#: which also turns off glibc's adaptive mmap threshold: every window-sized temporary array
#: (4 MB) is then a fresh mmap whose pages fault in one by one: 20-25 % of the detector's CPU
#: time, measured. These keep such arrays on the heap for reuse and return memory above
#: 128 MB free. One arena: a worker runs its tasks in a thread, whose arena grows and drops
#: 64 MB heaps of its own (mmap), so without it window arrays still faulted in afresh. On the
#: benchmark tile (two workers, six runs of each setting alternated, 2026-12-04) the two
#: workers' page faults fell from 210-680 thousand to 65-68 thousand, their system time from
#: 1.4-3.0 s to 0.6-0.7 s, and the run's wall time from 11.0 s to 10.3 s (means).
WORKER_MALLOC_ENV: dict[str, str] = {
    "MALLOC_MMAP_THRESHOLD_": str(64 * 1024**2),
    "MALLOC_TRIM_THRESHOLD_": str(128 * 1024**2),
    "MALLOC_ARENA_MAX": "1",
}


#: glibc ``mallopt`` parameters of :data:`WORKER_MALLOC_ENV` (``<malloc.h>``).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8


def tune_malloc() -> bool:
    """Give this process the malloc settings of :data:`WORKER_MALLOC_ENV`, now.

    For a serial run in this process (``--workers 0``): glibc reads those variables only at
    start-up, so they are set with ``mallopt`` instead. Measured on the benchmark tile
    (serial, with the scorer, runs alternated): 36.5-37.6 CPU-s without, 32.6-33.7 with
    (31.5-32.0 with the variables set before start-up). Returns False (and changes nothing)
    where the C library is not glibc.
    """
    import ctypes

    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    settings = ((_M_MMAP_THRESHOLD, "MALLOC_MMAP_THRESHOLD_"),
                (_M_TRIM_THRESHOLD, "MALLOC_TRIM_THRESHOLD_"), (_M_ARENA_MAX, "MALLOC_ARENA_MAX"))
    applied = [bool(mallopt(param, int(WORKER_MALLOC_ENV[name]))) for param, name in settings]
    return all(applied)  # each one tried, whatever the others gave


@dataclass(frozen=True)
class RunResult:
    """Candidates of every readable scene, and (file, message) for each refused one.

    A refused scene's message is the :class:`geo.message.Message` of the error that refused
    it when it has one (a ``str`` still: its English text), so a reader sees it in their
    language (the app's job summary); else the error's text.

    ``faint`` holds the candidates the generator traced but that scored below the operating
    point (rectangles, ``scene_id``, ``detected_at`` and ``score``; not explained): not alerts,
    but a strip there is not clearly gone either (:func:`geo.detect.track.track_candidates`,
    :func:`geo.jobs.handlers.absence_looks`).
    ``blind`` lists the scenes read whole without one valid pixel (all nodata or cloud): no
    candidate could be found there, yet each is a date that saw nothing, which tracking
    needs (a strip under that cloud is unobserved, not gone), so they are not failures.
    With an area of interest, ``blind`` speaks of the scene's part in the area, and
    ``outside`` lists the scenes that do not reach the area (not read, not failures).
    """

    candidates: gpd.GeoDataFrame
    failures: tuple[tuple[str, str], ...]
    faint: gpd.GeoDataFrame
    blind: tuple[str, ...] = ()
    outside: tuple[str, ...] = ()


@dataclass(frozen=True)
class WindowFailure:
    """Why one window could not be processed (returned by a task instead of raising).

    ``message`` is a :class:`geo.message.Message` when the error had one (it pickles whole,
    so it comes back from a Dask worker the same), else the error's text.
    """

    message: str


@dataclass(frozen=True)
class NoValidPixel:
    """What a window read whole without one valid pixel (all nodata or cloud) gives.

    Not a failure, and not the detector's "no candidate" either: :func:`detect_scenes`
    lists a scene whose windows all give this in ``RunResult.blind``.
    """


#: What one window of a task gives.
Outcome = list[RawCandidate] | WindowFailure | NoValidPixel


def run_window(info: SceneInfo, key: WindowKey, params: DetectionParams) -> Outcome:
    """One window's owned candidates, or why the file could not be read there."""
    return run_windows(info, [key], params)[0]


def run_windows(info: SceneInfo, keys: Sequence[WindowKey], params: DetectionParams,
                chosen: Sequence[WindowKey] | None = None) -> list[Outcome]:
    """One task: a run of windows (:func:`~geo.detect.scene.window_runs`) from one open file.

    Each window gets its owned candidates or why the file could not be read there; a file
    that cannot be opened fails every window of the run. ``chosen``: the scene's windows
    that run at all (those reaching an area of interest, :mod:`geo.detect.area`), whose runs
    ``keys`` is one of; None: every window.
    """
    windows = scene_windows(info, params)
    runs = window_runs(windows if chosen is None else chosen)
    number, later = later_runs(runs, keys)
    try:
        with open_geotiff(info.path) as src:
            out: list[Outcome] = []
            with RunReader(info, src, [Window(*k) for k in keys],
                           factor=detection_factor(info.res_m), run=number,
                           later=later) as reader:
                for key in keys:
                    try:
                        data = reader.read(Window(*key))
                        out.append(detect_scene_window(info, key, params, windows=windows,
                                                       data=data) if data.valid.any()
                                   else NoValidPixel())
                    except (AtalayaError, OSError, MemoryError) as exc:
                        out.append(_failure(exc))
            return out
    except (AtalayaError, OSError) as exc:
        return [_failure(exc)] * len(keys)
    finally:
        clear_pool()  # the layer arrays kept between this run's windows
        if number is None or number == len(runs) - 1:
            clear_hand_on()  # the scene's last run: no later run needs its tiles


def start_local_client(n_workers: int, *, memory_limit: str | int = DEFAULT_WORKER_MEMORY,
                       ) -> Any:
    """Start a ``distributed.Client`` on a new local cluster of single-threaded processes.

    Closing the client closes the cluster. Workers get :func:`gdal_process_environment` (no
    VRT driver, bounded block cache), :data:`WORKER_MALLOC_ENV`, :data:`WORKER_DASK_CONFIG`
    (no pausing) and ``memory_limit`` each, and import the detector before this returns.
    Dask's nannies run in this process and set the same variables in its ``os.environ``
    (harmless here: GDAL and malloc read them at start-up).

    Dask lets a variable already in ``os.environ`` override the configured value (a cluster
    started earlier in this process with Dask's defaults leaves ``MALLOC_TRIM_THRESHOLD_=65536``
    there), so this process's variables hold these values while the nannies are made, and
    get their previous values back after.
    """
    if n_workers < 1:
        raise ConfigError(f"a local cluster needs at least 1 worker, got {n_workers}")
    import dask
    from distributed import Client

    # set before each worker process starts: malloc and GDAL read them once, at start-up
    key = "distributed.nanny.pre-spawn-environ"
    ours = {**gdal_process_environment(), **WORKER_MALLOC_ENV}
    env = {**dask.config.get(key, {}), **ours}
    with dask.config.set({key: env, **WORKER_DASK_CONFIG}), _environ(ours):
        client = Client(n_workers=n_workers, threads_per_worker=1, processes=True,
                        dashboard_address=LOCAL_DASHBOARD, memory_limit=memory_limit,
                        silence_logs=logging.ERROR)
    client.run(_import_detector)  # pay the imports (~2 s) now, not in the first windows
    return client


@contextmanager
def _environ(values: Mapping[str, str]) -> Iterator[None]:
    """Set these variables in ``os.environ`` for the block; then restore (or remove) them."""
    before = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _import_detector() -> None:
    """Import the detector's modules in a worker (SciPy, rasterio, GeoPandas...).

    Also loads the compiled kernels (:func:`geo.detect.ridge_kernel.warm_up`), so Numba's
    import and the load of the kernels from their cache (~0.5 s) happen here too.
    """
    import geo.detect.scene  # noqa: F401
    from geo.detect.ridge_kernel import warm_up

    warm_up()


def connect_client(address: str, *, timeout_s: float = 10.0) -> Any:
    """Connect to a running Dask scheduler (``tcp://HOST:PORT``).

    Raises
    ------
    ConfigError
        When ``address`` is not such an address
        (:func:`geo.settings.scheduler_address_problem`), or nothing answers there within
        ``timeout_s``.
    """
    from distributed import Client

    from geo.settings import scheduler_address_problem

    if problem := scheduler_address_problem(address):
        raise ConfigError(f"{problem}; or leave --scheduler out for a local cluster")
    try:
        return Client(address, timeout=f"{timeout_s}s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise ConfigError(f"cannot reach a Dask scheduler at {address!r} ({exc}); start one "
                          "with `dask scheduler` or leave --scheduler out for a local "
                          "cluster") from exc


def _open_all(paths: Sequence[str], bands: Mapping[str, int] | None
              ) -> tuple[list[SceneInfo], list[tuple[str, str]]]:
    infos, failures = [], []
    for p in paths:
        try:
            infos.append(read_scene_info(p, bands=bands))
        except (AtalayaError, OSError) as exc:
            failures.append((str(p), message_of(exc)))
    return infos, failures


#: A run of windows, and the scene's windows that run at all (None: every one).
Task = tuple[SceneInfo, list[WindowKey], DetectionParams, tuple[WindowKey, ...] | None]


#: Called as tasks finish with (windows done, windows in all); it may raise to stop the run.
WindowProgress = Callable[[int, int], None]


def _run_tasks(tasks: list[Task], client: Any, progress: bool,
               on_windows: WindowProgress | None = None) -> list[list[Outcome]]:
    """Each task's outcomes, window by window, in task order; the bar counts windows."""
    from tqdm import tqdm

    total = sum(len(t[1]) for t in tasks)
    with tqdm(total=total, desc="detect", unit="window", disable=not progress or not total,
              file=sys.stderr) as bar:

        finished = [0]  # a disabled bar counts nothing

        def done(n: int) -> None:
            bar.update(n)
            finished[0] += n
            if on_windows is not None:
                on_windows(finished[0], total)

        if client is None or not tasks:
            out: list[list[Outcome]] = []
            try:
                for t in tasks:
                    out.append(run_windows(*t))
                    done(len(t[1]))
            finally:  # a stopped job, or a scene whose last run failed to start
                clear_hand_on()
            return out
        return _run_distributed(tasks, client, done)


def _failure(exc: BaseException) -> WindowFailure:
    """Why a window failed: the error's Message or text (its type when it has none)."""
    return WindowFailure(message_of(exc) or type(exc).__name__)


def _run_distributed(tasks: list[Task], client: Any,
                     done: Callable[[int], None]) -> list[list[Outcome]]:
    """Map the tasks on the cluster; a task that died (e.g. killed worker) fails its windows.

    When ``done`` raises (a cancelled job), every task is cancelled on the cluster (those not
    yet run stop; the results of finished ones are dropped) before the exception goes on.
    """
    from distributed import as_completed

    futures = client.map(run_windows, *zip(*tasks, strict=True), pure=False)
    where = {f.key: k for k, f in enumerate(futures)}
    out: list[list[Outcome]] = [[WindowFailure(Message("not run"))] * len(t[1]) for t in tasks]
    try:
        for fut in as_completed(futures):
            k = where[fut.key]
            n = len(tasks[k][1])
            if fut.status == "finished":
                out[k] = fut.result()
            elif fut.status == "error":  # e.g. KilledWorker: over its memory limit, or crashed
                exc = fut.exception()
                out[k] = [WindowFailure(Message("worker failed: {kind}: {error}",
                                                kind=type(exc).__name__,
                                                error=message_of(exc)))] * n
            else:
                out[k] = [WindowFailure(Message("task {status} (scheduler lost?)",
                                                status=str(fut.status)))] * n
            fut.release()
            done(n)
    except BaseException:
        # every future, finished ones too: a task that ended after the last one read would
        # otherwise keep its result on the cluster while anything holds the future
        client.cancel(futures)
        raise
    return out


def detect_scenes(paths: Sequence[str], *, bands: Mapping[str, int] | None = None,
                  params: DetectionParams | None = None, scorer: Scorer | None = None,
                  min_score: float | None = None, aerodromes: gpd.GeoDataFrame | None = None,
                  client: Any = None, progress: bool = False,
                  on_windows: WindowProgress | None = None,
                  area: BaseGeometry | None = None) -> RunResult:
    """Candidates of many scenes (CANDIDATES layer plus ``scene``), failures listed.

    Parameters
    ----------
    paths
        GeoTIFF scenes, independent of each other.
    area
        Area of interest, a (Multi)Polygon in EPSG:4326: only the windows that can own a
        candidate there run, and only the candidates whose centre lies in it are kept
        (:mod:`geo.detect.area`); the scenes it does not reach are listed in
        ``RunResult.outside``. None: whole scenes.
    client
        A ``distributed.Client`` to map the windows on (see :func:`start_local_client` and
        :func:`connect_client`); None runs them one after the other in this process.
    progress
        Show a tqdm bar of windows on stderr.
    on_windows
        Called with (windows done, windows in all) each time a task ends; an exception it
        raises (a job being cancelled) stops the run, cancelling the tasks left on the
        cluster.

    Returns
    -------
    RunResult
        Candidates in EPSG:4326, ordered by scene then as :func:`assemble_scene` orders them;
        identical whichever ``client`` ran them.
    """
    params = params or DetectionParams()
    gen = params.permissive() if scorer is not None else params
    infos, failures = _open_all(paths, bands)
    plans, outside = _plan(infos, gen, area)
    tasks: list[Task] = [(p.info, run, gen, p.chosen) for p in plans
                         for run in window_runs(p.windows)]
    by_window = {(str(info.path), key): outcome for (info, keys, *_), outcomes
                 in zip(tasks, _run_tasks(tasks, client, progress, on_windows), strict=True)
                 for key, outcome in zip(keys, outcomes, strict=True)}
    frames, faint, blind = [], [], []
    for p in plans:
        info = p.info
        found = [by_window[str(info.path), key] for key in p.windows]
        bad = [f.message for f in found if isinstance(f, WindowFailure)]
        if bad:
            failures.append((str(info.path), bad[0]))
            continue
        if found and all(isinstance(f, NoValidPixel) for f in found):
            blind.append(str(info.path))
        raw = [c for cands in found if isinstance(cands, list) for c in cands]
        if p.area is not None:
            raw = candidates_inside(raw, p.area)
        above, below, how = rank_scene(info, raw, scorer=scorer, min_score=min_score)
        frames.append(describe_scene(info, above, how, aerodromes=aerodromes, params=params))
        faint.append(candidates_to_frame(below.cands, below.scores, info))
    return RunResult(candidates=_concat(frames, empty_layer(CANDIDATES)),
                     failures=tuple(failures), faint=_concat(faint, empty_layer(CANDIDATES)),
                     blind=tuple(blind), outside=tuple(outside))


@dataclass(frozen=True)
class _Plan:
    """What runs of one scene: its windows to run, and the area in its CRS (None: whole)."""

    info: SceneInfo
    windows: list[WindowKey]
    chosen: tuple[WindowKey, ...] | None  # ``windows`` when an area chose them
    area: BaseGeometry | None


def _plan(infos: Sequence[SceneInfo], params: DetectionParams, area: BaseGeometry | None
          ) -> tuple[list[_Plan], list[str]]:
    """Each scene's windows to run (those reaching ``area``), and the scenes it misses."""
    plans, outside = [], []
    for info in infos:
        windows = scene_windows(info, params)
        if area is None:
            plans.append(_Plan(info, windows, None, None))
            continue
        inside = scene_area(info, area)
        chosen = windows_in_area(windows, info, inside)
        if chosen:
            plans.append(_Plan(info, chosen, tuple(chosen), inside))
        else:
            outside.append(str(info.path))
    return plans, outside


def _concat(frames: list[gpd.GeoDataFrame], empty: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Join the non-empty frames (EPSG:4326); else return the first frame, or ``empty``."""
    full = [f for f in frames if len(f)]
    if full:
        return gpd.GeoDataFrame(pd.concat(full, ignore_index=True), crs=4326)
    return frames[0] if frames else empty
