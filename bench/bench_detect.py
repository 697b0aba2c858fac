"""Runway detection throughput on a Sentinel-2-sized tile (issue 4: >= 25 Mpx/s on two cores).

The tile is 10,980 x 10,980 px, five uint16 bands (blue, green, red, nir, swir1), 512-px tiles,
DEFLATE with the horizontal predictor, pixel-interleaved, like the sample scenes. It is made with
the project's own generator (``geo.sample.scenes``, seed 7): one 2,196-px scene with its river,
road, fields and runways, mirrored 5 x 5 times so that the seams are continuous. It is cached
under ``artifacts/bench/`` (git-ignored) and rebuilt only when absent.

Every configuration runs in a fresh child process; the parent reads the peak resident memory
(``VmHWM``) of the child and of each of its descendants (nannies, workers, spawn helpers) and
reports the sum: an upper bound of the tree's simultaneous peak (shared pages are counted in
every process, and the peaks need not coincide). Throughput is scene pixels (not window pixels)
per second of the detection call, from opening the file to the EPSG:4326 candidates with scores
and reasons; interpreter and cluster start-up are reported apart (and, serial, loading the
detector and its compiled kernels, about 1 s, which each worker does as the cluster starts;
until 2026-12-07 the serial time included it). Two workers are measured
twice: on the first scene of a fresh cluster, and warm, on a second scene (a byte copy of the
tile under another name, so no decoded tile is reused) after the first, as a batch of scenes or
a long-lived ``--scheduler`` cluster (or the app's job runner's) runs. Beside it, measured in the
same run: decompressing every 512-px tile once through GDAL, and inflating each tile's bytes
with libdeflate alone (no predictor, no de-interleaving: the machine's decode limit), with one
and two processes; reading the detector's overlapping windows (in its runs from one open file,
tiles inflated directly as the detector reads them (``geo.tiffblocks``, each run handing the
tiles it shares on to the later runs) and the same runs through GDAL, and each window opened
alone through GDAL); reading and coarse-screening every
window (what the screened detector pays before any full-resolution work: the ceiling of its
design), the obvious baseline
(NDVI < 0.3, ``scipy.ndimage.label`` over the same windows) and NumPy's memory bandwidth,
and :func:`geo.detect.window.detect_window` alone on a few windows with and without the coarse
screen (``DetectionParams.screen``), with the share of its time in each stage (one pass under
cProfile), and the ridge filter's compiled kernel against its NumPy definition on one whole
window and against its limit: its additions (run sums and run-sum tables) at the rate one
core adds float32 rows that sit in its cache (the kernel's inner loop on 44 rows, in the
same run). ``--quick`` uses a 1,024-px tile (one window) so ``make bench`` smoke runs stay short.
The area-of-interest row runs the serial detection with ``area`` set to the tile's
central square (a quarter of its side): the windows that can own a candidate there are
read, the others not (``python -m geo.detect --area``). The row after it does what the
command does with the same area on the tile exported to EPSG:4326 (cached beside it): resample
onto UTM the rows the area's windows read, then detect, against resampling the whole tile
first (what the command did before 2026-12-07); not in ``--quick``.

This VM's speed drifts by 10-20 % from minute to minute (the CPU time of the same serial
detection ranged 8.2-10.9 s within an hour, 2026-12-07), so one run of a configuration says
little. The serial and two-worker detections (fresh and warm) and the decode limits run
:data:`ROUNDS` times, interleaved round by round so that each round sees the machine in the
same state, and each of their figures is the median of its rounds (peak memory: the largest);
the notes give every round's time.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import Row, memory_bandwidth_gb_s  # noqa: E402

FULL_PX = 10_980
QUICK_PX = 1_024  # one detector window: a smoke test of every configuration
#: Rounds of the serial and two-worker detections and of the decode limits (1 in --quick).
ROUNDS = 3
COPIES = 5  # the full tile is 5 x 5 mirrored copies of one 2,196-px generated scene
SEED = 7
BANDS = ("blue", "green", "red", "nir", "swir1")
CACHE = ROOT / "artifacts" / "bench"
RSS_BUDGET = 2 * 1024**3


# -- the tile ---------------------------------------------------------------------------------

def _profile(size: int, crs: Any, transform: Any) -> dict[str, Any]:
    return {"driver": "GTiff", "dtype": "uint16", "count": len(BANDS), "height": size,
            "width": size, "crs": crs, "transform": transform, "nodata": 0, "tiled": True,
            "blockxsize": 512, "blockysize": 512, "compress": "deflate", "predictor": 2,
            "interleave": "pixel", "BIGTIFF": "IF_SAFER"}


def build_tile(path: Path, size: int) -> Path:
    """Write the benchmark tile (``size`` = ``COPIES`` x the generated scene's side)."""
    import rasterio

    from geo.sample.scenes import SceneSpec, generate_scenes

    side = size // COPIES if size > QUICK_PX else size
    with tempfile.TemporaryDirectory() as tmp:
        generate_scenes(tmp, rng=np.random.default_rng(SEED), spec=SceneSpec(size_px=side))
        scene = sorted((Path(tmp) / "scenes").glob("*.tif"))[-1]  # the later date
        with rasterio.open(scene) as src:
            data = src.read(list(range(1, len(BANDS) + 1)))
            crs, transform = src.crs, src.transform
    n = size // side
    part = path.with_suffix(".part.tif")
    with rasterio.open(part, "w", **_profile(size, crs, transform)) as dst:
        for i in range(n):
            rows = data[:, ::-1] if i % 2 else data
            strip = np.concatenate([rows[:, :, ::-1] if j % 2 else rows for j in range(n)],
                                   axis=2)
            dst.write(strip, window=((i * side, (i + 1) * side), (0, size)))
        dst.descriptions = BANDS
        dst.update_tags(ACQUISITION_DATE="2024-08-02", SENSOR="synthetic-S2")
    part.replace(path)
    return path


def tile_path(quick: bool) -> Path:
    """Return the cached tile, building it first when absent."""
    size = QUICK_PX if quick else FULL_PX
    path = CACHE / f"detect_tile_{size}px_seed{SEED}.tif"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        build_tile(path, size)
    return path


# -- children: one configuration each, timed inside, memory watched from outside -------------

def _child_detect(path: str, workers: int, first: str = "") -> dict[str, float]:
    """Detect on ``path`` (serial when ``workers`` is 0) and time it.

    The start-up (a cluster's, or this process loading the detector and its compiled
    kernels when serial, as each worker does when it starts) is timed apart.

    With ``first``, the cluster detects on that file before the clock starts: the measure
    is then the steady state of a batch of scenes or of a long-lived ``--scheduler``
    cluster (workers that have run a task before), on another file, so that nothing read
    from the first one can be reused.
    """
    from geo.detect.run import detect_scenes, start_local_client, tune_malloc
    from geo.detect.scorer import read_scorer
    from geo.errors import AtalayaError

    try:
        scorer = read_scorer()  # what the command uses by default
    except AtalayaError as exc:  # a model being retrained: measure the rules alone, and say so
        print(f"rules only: {exc}", file=sys.stderr)
        scorer = None
    if not workers:
        tune_malloc()  # what `python -m geo.detect --workers 0` does
    start = time.perf_counter()
    client = start_local_client(workers) if workers else None
    if client is None:  # as the cluster's workers do at start: the kernels' load apart
        from geo.detect.run import _import_detector

        _import_detector()
    started = time.perf_counter()
    try:
        if first:
            warm = detect_scenes([first], scorer=scorer, client=client)
            if warm.failures:
                raise RuntimeError(f"detection failed: {warm.failures}")
        ready = time.perf_counter()
        cpu = _cpu_seconds(client)
        result = detect_scenes([path], scorer=scorer, client=client)
        done = time.perf_counter()
        cpu = _cpu_seconds(client) - cpu
    finally:
        if client is not None:
            client.close()
    if result.failures:
        raise RuntimeError(f"detection failed: {result.failures}")
    return {"startup_s": started - start, "seconds": done - ready, "cpu_s": cpu,
            "candidates": float(len(result.candidates)), "scorer": float(scorer is not None)}


#: The area of interest of the area row: the tile's central square, this share of its side.
AREA_SIDE = 0.25


def _central_square(path: str) -> Any:
    """Return the tile's central square (:data:`AREA_SIDE` of its side) in EPSG:4326."""
    import geopandas as gpd
    import rasterio
    from shapely.geometry import box

    with rasterio.open(path) as src:
        left, bottom, right, top = src.bounds
        crs = src.crs
    cx, cy, half = (left + right) / 2, (bottom + top) / 2, (right - left) * AREA_SIDE / 2
    square = box(cx - half, cy - half, cx + half, cy + half)
    return gpd.GeoSeries([square], crs=crs).to_crs(4326).iloc[0]


def _child_area(path: str) -> dict[str, float]:
    """Detect serially on the tile's central square (:data:`AREA_SIDE`) given as ``area``."""
    from geo.detect.run import _import_detector, detect_scenes, tune_malloc
    from geo.detect.scorer import read_scorer

    area = _central_square(path)
    tune_malloc()
    scorer = read_scorer()
    _import_detector()  # as the whole tile's serial row: the kernels' load is not timed
    windows: list[int] = []
    start = time.perf_counter()
    result = detect_scenes([path], scorer=scorer, area=area,
                           on_windows=lambda _done, total: windows.append(total))
    seconds = time.perf_counter() - start
    if result.failures:
        raise RuntimeError(f"detection failed: {result.failures}")
    return {"seconds": seconds, "windows": float(windows[-1] if windows else 0),
            "candidates": float(len(result.candidates))}


def degrees_tile(path: Path) -> Path:
    """Return the tile exported to EPSG:4326 as Earth Engine exports (cached beside it).

    Square pixels of the tile's finer side in degrees over its bounds, nearest neighbour,
    with the tile's bands, tiling, compression and date.
    """
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.warp import Resampling, reproject, transform_bounds

    out = path.with_name(f"{path.stem}_epsg4326.tif")
    if out.exists() and out.stat().st_mtime >= path.stat().st_mtime:
        return out
    part = out.with_suffix(".part.tif")
    with rasterio.open(path) as src:
        west, south, east, north = transform_bounds(src.crs, "EPSG:4326", *src.bounds)
        cell = min((east - west) / src.width, (north - south) / src.height)
        profile = {**src.profile, "crs": "EPSG:4326",
                   "transform": from_origin(west, north, cell, cell),
                   "width": math.ceil((east - west) / cell),
                   "height": math.ceil((north - south) / cell)}
        bands = list(range(1, src.count + 1))
        with rasterio.open(part, "w", **profile) as dst:
            # every band at once: band after band, each pixel-interleaved tile would be
            # compressed and written again per band (a 2.4 GB file instead of 0.7)
            reproject(rasterio.band(src, bands), rasterio.band(dst, bands),
                      resampling=Resampling.nearest, num_threads=2)
            dst.descriptions = src.descriptions
            dst.update_tags(**src.tags())
    part.replace(out)
    return out


def _child_area_degrees(path: str, rows: str) -> dict[str, float]:
    """Run the command's area detection on the tile in degrees: resample, then detect.

    ``path`` is the tile in EPSG:4326 (:func:`degrees_tile`); the area is the UTM tile's
    central square, as in the area row. ``rows``: "area" resamples only the rows the area's
    windows read (:func:`geo.detect.area.area_rows`), "whole" the whole tile, as before.
    """
    import functools

    from geo.detect.area import area_rows
    from geo.detect.params import DetectionParams
    from geo.detect.run import detect_scenes, tune_malloc
    from geo.detect.scorer import read_scorer
    from geo.reproject import projected_scenes

    area = _central_square(str(tile_path(False)))
    scorer = read_scorer()
    tune_malloc()
    needed = (functools.partial(area_rows, area=area, params=DetectionParams())
              if rows == "area" else None)
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        start = time.perf_counter()
        made = projected_scenes([path], Path(tmp), rows_needed=needed)
        resampled = time.perf_counter()
        result = detect_scenes(list(made.readable.values()), scorer=scorer, area=area)
        done = time.perf_counter()
    if result.failures or made.failures:
        raise RuntimeError(f"detection failed: {result.failures} {made.failures}")
    (_, grid), = made.reprojected
    return {"seconds": done - start, "resample_s": resampled - start,
            "rows": float(grid.height), "candidates": float(len(result.candidates))}


def _cpu_seconds(client: Any) -> float:
    """CPU seconds used so far by this process and the cluster's workers (contention-proof)."""
    here = time.process_time()
    return here + (sum(client.run(time.process_time).values()) if client is not None else 0.0)


def _tile_windows(path: str) -> list[Any]:
    import rasterio

    with rasterio.open(path, driver="GTiff") as src:
        return list(src.block_windows(1))


def _read_all(path: str, blocks: list[Any]) -> float:
    """Read every block through GDAL (all bands); return the CPU seconds it took."""
    import rasterio

    cpu = time.process_time()
    with rasterio.open(path, driver="GTiff") as src:
        for _, w in blocks:
            src.read(window=w)
    return time.process_time() - cpu


def _inflate_all(path: str, blocks: list[Any]) -> float:
    """Inflate every block's stored bytes with libdeflate alone; return the CPU seconds.

    No predictor, no copy out of pixel interleaving: the least any reader of the file pays.
    """
    import deflate
    import rasterio

    with rasterio.open(path, driver="GTiff") as src:
        size = src.block_shapes[0][0] * src.block_shapes[0][1] * src.count * 2
        places = [(int(src.get_tag_item(f"BLOCK_OFFSET_{c}_{r}", "TIFF", bidx=1)),
                   int(src.get_tag_item(f"BLOCK_SIZE_{c}_{r}", "TIFF", bidx=1)))
                  for (r, c), _ in blocks]
    cpu = time.process_time()
    fd = os.open(path, os.O_RDONLY)
    try:
        for offset, n in places:
            deflate.zlib_decompress(os.pread(fd, n, offset), size)
    finally:
        os.close(fd)
    return time.process_time() - cpu


def _both(path: str, blocks: list[Any]) -> tuple[float, float]:
    return _read_all(path, blocks), _inflate_all(path, blocks)


def _child_decode(path: str, processes: int) -> dict[str, float]:
    """Decompress every 512-px tile once, through GDAL and with libdeflate alone.

    With 1 or more processes; ``inflate_*`` are libdeflate's figures.
    """
    from concurrent.futures import ProcessPoolExecutor

    blocks = _tile_windows(path)
    if processes <= 1:
        start = time.perf_counter()
        cpu = _read_all(path, blocks)
        seconds = time.perf_counter() - start
        start = time.perf_counter()
        inflate = _inflate_all(path, blocks)
        return {"seconds": seconds, "cpu_s": cpu, "inflate_cpu_s": inflate,
                "inflate_seconds": time.perf_counter() - start}
    parts = [blocks[k::processes] for k in range(processes)]
    with ProcessPoolExecutor(processes) as pool:
        list(pool.map(_both, [path] * processes, [parts[0][:1]] * processes))  # warm up
        start = time.perf_counter()
        cpu = sum(pool.map(_read_all, [path] * processes, parts))
        seconds = time.perf_counter() - start
        start = time.perf_counter()
        inflate = sum(pool.map(_inflate_all, [path] * processes, parts))
        return {"seconds": seconds, "cpu_s": cpu, "inflate_cpu_s": inflate,
                "inflate_seconds": time.perf_counter() - start}


def _detector_windows(path: str) -> tuple[Any, list[Any]]:
    from rasterio.windows import Window

    from geo.detect.params import DetectionParams
    from geo.detect.scene import scene_windows
    from geo.imagery import read_scene_info

    info = read_scene_info(path)
    return info, [Window(*k) for k in scene_windows(info, DetectionParams().permissive())]


def _child_windows(path: str) -> dict[str, float]:
    """Read the detector's overlapping windows (what detection itself has to decode).

    As the detector reads them (in runs, each from the file opened once) and, as the
    baseline, each window from the file opened for it alone (the detector before runs).
    """
    from rasterio.windows import Window

    from geo.imagery import read_window

    info, windows = _detector_windows(path)
    keys = [(int(w.col_off), int(w.row_off), int(w.width), int(w.height)) for w in windows]

    def runs(tiles: bool) -> float:
        cpu = time.process_time()
        for run, reader in _reading_runs(info, keys):
            if not tiles and reader.tiles is not None:  # through GDAL's block cache
                reader.tiles.close()
                reader.tiles = None
            for key in run:
                reader.read(Window(*key))
        return time.process_time() - cpu

    gdal_runs_cpu, runs_cpu = runs(False), runs(True)
    screen_cpu, computed = _read_and_screen(info, keys)
    start, cpu = time.perf_counter(), time.process_time()
    for w in windows:
        read_window(info, w)
    return {"seconds": time.perf_counter() - start, "cpu_s": time.process_time() - cpu,
            "runs_cpu_s": runs_cpu, "gdal_runs_cpu_s": gdal_runs_cpu,
            "read_screen_cpu_s": screen_cpu, "computed": computed,
            "windows": float(len(windows)),
            "window_px": float(sum(w.width * w.height for w in windows))}


def _read_and_screen(info: Any, keys: list[Any]) -> tuple[float, float]:
    """CPU seconds to read every window in runs and screen it; share of blocks computed.

    Reading and the coarse screen are what the screened detector pays on every window before
    any full-resolution work, so their rate bounds its throughput. The share of the windows'
    blocks whose full-resolution layers the detector then computes (the screen's blocks,
    grown along their ridges) is measured on every 7th window, outside the timing.
    """
    from rasterio.windows import Window

    from geo.detect.layers import screened_layers
    from geo.detect.params import DetectionParams
    from geo.detect.ridge_kernel import warm_up
    from geo.detect.screen import screen_blocks

    warm_up()  # load the compiled kernels before the clock starts
    params = DetectionParams().permissive()
    cpu, shares = 0.0, []
    sampled = set(keys[::7])
    for run, reader in _reading_runs(info, keys):
        for key in run:
            start = time.process_time()
            d = reader.read(Window(*key))
            screen_blocks(d.bands, d.valid, res_m=d.res_m, params=params, raw=d.raw,
                          raw_planes=d.raw_planes)
            cpu += time.process_time() - start
            if key in sampled:
                state = screened_layers(d, params).state
                shares.append(1.0 if state is None else float(state.computed.mean()))
    return cpu, float(np.mean(shares))


def _reading_runs(info: Any, keys: list[Any]) -> Iterator[tuple[list[Any], Any]]:
    """Each run of the detector's windows with its reader, as ``run_windows`` reads them.

    From the file opened per run, the tiles a run shares handed on to later runs; the
    hand-on store is emptied at the end.
    """
    from rasterio.windows import Window

    from geo.detect.scene import later_runs, window_runs
    from geo.imagery import RunReader, open_geotiff
    from geo.tiffblocks import clear_hand_on

    runs = window_runs(keys)
    try:
        for run in runs:
            number, later = later_runs(runs, run)
            with open_geotiff(info.path) as src, \
                    RunReader(info, src, [Window(*k) for k in run], run=number,
                              later=later) as reader:
                yield run, reader
    finally:
        clear_hand_on()


def _child_baseline(path: str) -> dict[str, float]:
    """Run the obvious pipeline: NDVI < 0.3 and connected components, over the same windows."""
    import rasterio
    from scipy import ndimage

    info, windows = _detector_windows(path)
    red, nir = info.roles.index("red"), info.roles.index("nir")
    start, cpu = time.perf_counter(), time.process_time()
    found = 0
    with rasterio.open(path, driver="GTiff") as src:
        for w in windows:
            r, n = src.read([red, nir], window=w).astype(np.float32)
            ndvi = (n - r) / np.maximum(n + r, 1e-6)
            _, count = ndimage.label((ndvi < 0.3) & (r > 0), structure=np.ones((3, 3)))
            found += count
    return {"seconds": time.perf_counter() - start, "cpu_s": time.process_time() - cpu,
            "components": float(found)}


def _child_window(path: str) -> dict[str, float]:
    """CPU seconds of :func:`detect_window` on up to 4 windows, screened and whole-window.

    The windows are read first (not timed); each is detected 3 times and the best CPU time
    is kept, so the figure is what one free core does, with and without the coarse screen.
    """
    from dataclasses import replace

    from geo.detect.params import DetectionParams
    from geo.detect.window import detect_window
    from geo.imagery import read_window

    info, windows = _detector_windows(path)
    step = max(1, len(windows) // 4)
    data = [read_window(info, w) for w in windows[step // 2::step][:4]]
    out: dict[str, float] = {"window_px": float(sum(d.valid.size for d in data))}
    for name, params in (("screened", DetectionParams().permissive()),
                         ("whole", replace(DetectionParams().permissive(), screen=False))):
        best = []
        for d in data:
            times = []
            for _ in range(3):
                cpu = time.process_time()
                detect_window(d, params=params)
                times.append(time.process_time() - cpu)
            best.append(min(times))
        out[f"{name}_cpu_s"] = float(sum(best))
    out.update(_stage_shares(data, DetectionParams().permissive()))
    out.update(_ridge_kernel_vs_numpy(data[0]))
    return out


def _ridge_kernel_vs_numpy(data: Any) -> dict[str, float]:
    """CPU seconds (best of 3) of the full-resolution ridge filter on one whole window.

    The compiled kernel the detector uses, and the NumPy definition it equals to the bit.
    """
    from geo.detect.evidence import (
        _ridge_plan,
        compute_evidence,
        ridge_margin_px,
        ridge_response_padded,
        ridge_response_reference,
    )
    from geo.detect.layers import flank_px
    from geo.detect.params import DetectionParams

    p = DetectionParams().permissive()
    ev = compute_evidence(data.bands, data.valid, res_m=data.res_m, params=p)
    length = p.px(p.line_length_m, data.res_m, minimum=p.min_line_px)
    flanks = flank_px(p, data.res_m)
    padded = np.pad(ev, ridge_margin_px(length_px=length, flank_px=flanks))
    out = {"ridge_px": float(ev.size)}
    for name, fn in (("kernel", ridge_response_padded), ("numpy", ridge_response_reference)):
        times = []
        for _ in range(3):
            cpu = time.process_time()
            fn(padded, length_px=length, n_orientations=p.n_orientations, flank_px=flanks)
            times.append(time.process_time() - cpu)
        out[f"ridge_{name}_cpu_s"] = min(times)
    out["adds_per_cpu_s"] = _l1_additions_per_cpu_second()
    # run sums and table entries per pixel (the tables' margins left out: a lower bound)
    out["ridge_adds_per_px"] = float(_ridge_plan(length, p.n_orientations, flanks)
                                     .additions_per_px)
    return out


def _l1_additions_per_cpu_second() -> float:
    """Float32 additions per CPU-second of the ridge kernel's inner loop on L1-resident rows.

    The loop is the kernel's (``row + a + b + c + d`` over four source rows shifted by a
    column or more, so the loads are unaligned as the kernel's are), on 44 rows of 1,032
    values that stay in the core's cache: what one core adds when nothing else limits it.
    Best of 5.
    """
    import numba

    @numba.njit(cache=False, nogil=True, boundscheck=False)
    def adds(src: np.ndarray, out: np.ndarray, reps: int) -> None:
        n, w = src.shape[0], out.shape[0]
        for _ in range(reps):
            m = 0
            while m + 4 <= n:
                a, b = src[m, 1:1 + w], src[m + 1, 2:2 + w]
                c, d = src[m + 2, 3:3 + w], src[m + 3, 0:w]
                for j in range(w):
                    out[j] = out[j] + a[j] + b[j] + c[j] + d[j]
                m += 4

    w = 1032
    src = np.random.default_rng(0).random((44, w + 8)).astype(np.float32) * np.float32(1e-6)
    out = np.zeros(w, dtype=np.float32)
    adds(src, out, 1)  # compile
    reps, best = 2000, float("inf")
    for _ in range(5):
        cpu = time.process_time()
        adds(src, out, reps)
        best = min(best, time.process_time() - cpu)
    return reps * 44 * w / best


#: Stages of the screened :func:`~geo.detect.window.detect_window`: (name, module file,
#: function, caller or "" for any). The full-resolution ridge filter is counted only when
#: ``_compute_box`` calls it (the coarse screen calls it too, on its 3x coarser grid).
STAGES = (("screen", "screen.py", "screen_blocks", ""),
          ("evidence", "evidence.py", "compute_evidence", "_compute_box"),
          ("ridge", "evidence.py", "ridge_response_padded", "_compute_box"),
          ("boxes", "layers.py", "_compute_box", ""))


def _stage_shares(data: list[Any], params: Any) -> dict[str, float]:
    """Share of :func:`detect_window`'s time in each of :data:`STAGES` (one profiled pass).

    ``boxes`` becomes the rest of the full-resolution layer work (band slices, the padded
    evidence, copies into the layers); ``rest`` is tracing, growing the traced area, water
    distance, shapes and features, with the log bands and indices made for measuring.
    cProfile's per-call overhead inflates the Python-heavy rest a little; the array stages
    are barely affected.
    """
    import cProfile
    import pstats

    from geo.detect.window import detect_window

    prof = cProfile.Profile()
    prof.enable()
    for d in data:
        detect_window(d, params=params)
    prof.disable()
    stats: dict[Any, Any] = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    total = sum(ct for (_, _, fn), (_, _, _, ct, _) in stats.items() if fn == "detect_window")
    secs = dict.fromkeys((name for name, *_ in STAGES), 0.0)
    for (file, _, fn), (_, _, _, ct, callers) in stats.items():
        for name, mod, func, caller in STAGES:
            if fn == func and file.endswith(f"detect/{mod}"):
                secs[name] += ct if not caller else sum(
                    c[3] for (_, _, cfn), c in callers.items() if cfn == caller)
    secs["boxes"] -= secs["evidence"] + secs["ridge"]
    secs["rest"] = total - secs["screen"] - secs["boxes"] - secs["evidence"] - secs["ridge"]
    return {f"share_{k}": v / total for k, v in secs.items()}


def child_main(argv: list[str]) -> None:
    """Run one configuration and print its figures as one JSON line."""
    kind, path = argv[0], argv[1]
    if kind == "detect":
        out = _child_detect(path, int(argv[2]), *argv[3:4])
    elif kind == "decode":
        out = _child_decode(path, int(argv[2]))
    elif kind == "windows":
        out = _child_windows(path)
    elif kind == "window":
        out = _child_window(path)
    elif kind == "area":
        out = _child_area(path)
    elif kind == "area_degrees":
        out = _child_area_degrees(path, argv[2])
    else:
        out = _child_baseline(path)
    print(json.dumps(out))


def _peak_rss(pid: int) -> int:
    """Peak resident memory of one process so far (VmHWM), bytes; 0 once it has gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def measure(*args: str) -> dict[str, float]:
    """Run ``bench_detect.py --child ARGS``; add its wall time and the tree's peak memory.

    ``peak_rss`` sums the peak resident memory (VmHWM) of every process of the tree, sampled
    every 0.1 s: an upper bound of the simultaneous peak, which short allocation spikes
    between two samples cannot escape.
    """
    import psutil

    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", *args]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    watched, peaks = psutil.Process(proc.pid), {proc.pid: 0}

    def sample() -> None:
        while proc.poll() is None:
            with contextlib.suppress(psutil.Error):  # the child has just exited
                peaks.update({p.pid: 0 for p in watched.children(recursive=True)
                              if p.pid not in peaks})
            for pid in list(peaks):
                peaks[pid] = max(peaks[pid], _peak_rss(pid))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    sampler.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{err[-3000:]}")
    figures: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return {**figures, "peak_rss": float(sum(peaks.values())), "processes": float(len(peaks)),
            "wall_s": time.perf_counter() - start}


# -- the table --------------------------------------------------------------------------------

def _rate(mpx: float, figures: dict[str, float], key: str = "seconds") -> float:
    return mpx / figures[key]


def median_figures(runs: list[dict[str, float]]) -> dict[str, float]:
    """Each figure's median over the runs of one configuration; peak memory's largest.

    Examples
    --------
    >>> median_figures([{"seconds": 5.0, "peak_rss": 2.0}, {"seconds": 4.0, "peak_rss": 3.0},
    ...                 {"seconds": 9.0, "peak_rss": 1.0}])
    {'seconds': 5.0, 'peak_rss': 3.0}
    """
    if not runs:
        raise ValueError("no run to take the median of")
    return {k: float(max(r[k] for r in runs)) if k == "peak_rss"
            else float(np.median([r[k] for r in runs])) for k in runs[0]}


def _warm_page_cache(path: Path) -> None:
    """Read the file's bytes once (the tile is ~0.7 GB; every configuration reads it)."""
    with path.open("rb") as f:
        while f.read(16 * 1024**2):
            pass


def _other_file(path: Path) -> Path:
    """Return a byte copy of the tile under another name and inode (made once, git-ignored)."""
    import shutil

    other = path.with_name(f"{path.stem}_copy{path.suffix}")
    if not other.exists() or other.stat().st_mtime < path.stat().st_mtime \
            or other.stat().st_size != path.stat().st_size:  # the tile was rebuilt since
        partial = other.with_suffix(".partial")
        shutil.copyfile(path, partial)
        partial.replace(other)
    return other


def run(quick: bool = False) -> list[Row]:
    """Build (or reuse) the tile, measure every configuration, return the rows."""
    import rasterio

    path = tile_path(quick)
    with rasterio.open(path) as src:
        mpx, side = src.width * src.height / 1e6, src.width
    p = str(path)
    _warm_page_cache(path)  # so that the first configuration decodes, not waits for the disk
    windows, base = measure("windows", p), measure("baseline", p)
    one = measure("window", p)
    area = measure("area", p)
    if not quick:  # the area row again, on the tile in degrees: resampling before detecting
        degrees = str(degrees_tile(path))
        deg_rows, deg_whole = (measure("area_degrees", degrees, "area"),
                               measure("area_degrees", degrees, "whole"))
    other = _other_file(path)
    _warm_page_cache(other)
    rounds: dict[str, list[dict[str, float]]] = {}
    for _ in range(1 if quick else ROUNDS):  # interleaved: each round sees one machine state
        _warm_page_cache(path)
        for key, args in (("dec1", ("decode", p, "1")), ("dec2", ("decode", p, "2")),
                          ("serial", ("detect", p, "0")), ("dask2", ("detect", p, "2")),
                          ("warm2", ("detect", str(other), "2", p))):
            rounds.setdefault(key, []).append(measure(*args))
    dec1, dec2, serial, dask2, warm2 = (median_figures(rounds[k]) for k in
                                        ("dec1", "dec2", "serial", "dask2", "warm2"))
    times = {k: ", ".join(f"{r['seconds']:.1f}" for r in v) for k, v in rounds.items()}
    n_rounds = len(rounds["serial"])
    of = f"median of {n_rounds} rounds" if n_rounds > 1 else "1 round"
    bandwidth = memory_bandwidth_gb_s() * 1e9  # bytes/s
    gib, over = 1024**3, windows["window_px"] / 1e6 / mpx
    per_px = len(BANDS) * (2 + 4)  # bytes a pixel costs at least: 5 uint16 in, 5 float32 made
    d1, d2, d1c = _rate(mpx, dec1), _rate(mpx, dec2), _rate(mpx, dec1, "cpu_s")
    # the machine's decode limit: libdeflate inflating each tile once, nothing else
    i1, i2 = _rate(mpx, dec1, "inflate_seconds"), _rate(mpx, dec2, "inflate_seconds")
    i1c = _rate(mpx, dec1, "inflate_cpu_s")
    lim = "inflate every tile once (libdeflate alone)"
    s1, s2, s1c = _rate(mpx, serial), _rate(mpx, dask2), _rate(mpx, serial, "cpu_s")
    b1, b1c = _rate(mpx, base), _rate(mpx, base, "cpu_s")
    cpu = "Mpx/CPU-s"
    w_px = one["window_px"] / 1e6
    return [
        Row("detect_window alone (screened), per CPU-second", w_px / one["screened_cpu_s"], cpu,
            w_px / one["whole_cpu_s"], "whole-window filter (screen=False)", i1c,
            lim, "window pixels; best of 3 on up to 4 windows, read "
            "beforehand"),
        Row("ridge filter on one whole window (16 orientations x 450 m), per CPU-second",
            one["ridge_px"] / 1e6 / one["ridge_kernel_cpu_s"], cpu,
            one["ridge_px"] / 1e6 / one["ridge_numpy_cpu_s"],
            "NumPy definition (one array addition per table and run)",
            one["adds_per_cpu_s"] / one["ridge_adds_per_px"] / 1e6,
            f"its {one['ridge_adds_per_px']:.0f} float32 additions per pixel (run sums and "
            f"tables) at the core's rate from cache ({one['adds_per_cpu_s'] / 1e9:.1f} "
            "G/CPU-s)",
            "compiled kernel (Numba), equal to the bit; the flank comparisons come on top"),
        *(Row(f"share of detect_window's time (screened, profiled): {what}",
              100 * one[f"share_{key}"], "%", None, "", None, "", "")
          for key, what in (("screen", "coarse screen"),
                            ("evidence", "evidence at full resolution"),
                            ("ridge", "ridge filter at full resolution"),
                            ("boxes", "other full-resolution layers"),
                            ("rest", "tracing, growing the traced area, water, shapes, features"))),
        Row(f"detect {side:,} px tile, 1 core (serial)", s1, "Mpx/s", b1,
            "NDVI<0.3 + label, 1 core", i1, f"{lim}, 1 core",
            f"{serial['candidates']:.0f} candidates in {serial['seconds']:.1f} s + "
            f"{serial['startup_s']:.1f} s loading the kernels ({of}: {times['serial']} s)"
            + ("" if serial["scorer"] else " (rules only: the scorer could not be read)")),
        Row(f"detect an area of interest, 1 core (serial): the tile's central square, "
            f"{AREA_SIDE:g} of its side ({AREA_SIDE ** 2:.4g} of its ground)", area["seconds"],
            "s", serial["seconds"], "the whole tile, serial", None, "",
            f"--area; {area['windows']:.0f} of {windows['windows']:.0f} windows read, "
            f"{area['candidates']:.0f} candidates"),
        *([Row("detect the same area of interest on the tile in degrees (EPSG:4326, as an "
               "Earth Engine export), 1 core (serial): resample only the rows its windows read, "
               "then detect", deg_rows["seconds"], "s", deg_whole["seconds"],
               "resample the whole tile onto UTM first", None, "",
               f"{deg_rows['rows']:,.0f} of {deg_whole['rows']:,.0f} rows resampled in "
               f"{deg_rows['resample_s']:.1f} s (whole: {deg_whole['resample_s']:.1f} s); "
               f"{deg_rows['candidates']:.0f} candidates ({deg_whole['candidates']:.0f} on "
               "the whole copy); peak RSS "
               f"{deg_rows['peak_rss'] / gib:.2f} GiB ({deg_whole['peak_rss'] / gib:.2f})")]
          if not quick else []),
        Row(f"detect {side:,} px tile, 2 workers x 1 thread (LocalCluster)", s2, "Mpx/s", s1,
            "serial", i2, f"{lim}, 2 processes",
            f">= 25 Mpx/s; {dask2['seconds']:.1f} s + {dask2['startup_s']:.1f} s cluster start "
            f"({of}: {times['dask2']} s)"),
        Row(f"detect {side:,} px tile, 2 workers x 1 thread, warm (a second scene on the "
            "same cluster)", _rate(mpx, warm2), "Mpx/s", s2, "first scene on a fresh cluster",
            i2, f"{lim}, 2 processes",
            f"a batch of scenes or a --scheduler cluster; {warm2['seconds']:.1f} s on a copy "
            "of the tile (another file: nothing read from the first is reused; "
            f"{of}: {times['warm2']} s)"),
        Row("detection per CPU-second, serial", s1c, cpu, b1c, "NDVI<0.3 + label", i1c,
            lim, "contention-proof: what one free core does"),
        Row("detection per CPU-second, 2 workers (client + workers)",
            _rate(mpx, dask2, "cpu_s"), cpu, s1c, "serial", i1c, lim, ""),
        Row("detection per CPU-second, 2 workers, warm (client + workers)",
            _rate(mpx, warm2, "cpu_s"), cpu, s1c, "serial", i1c, lim, ""),
        Row(f"peak RSS, serial ({serial['processes']:.0f} processes)", serial["peak_rss"] / gib,
            "GiB", None, "", RSS_BUDGET / gib, "budget", "< 2 GiB"),
        Row(f"peak RSS, 2 workers ({dask2['processes']:.0f} processes)",
            dask2["peak_rss"] / gib, "GiB", None, "", RSS_BUDGET / gib, "budget", "< 2 GiB"),
        Row(f"peak RSS, 2 workers, two scenes ({warm2['processes']:.0f} processes)",
            warm2["peak_rss"] / gib, "GiB", None, "", RSS_BUDGET / gib, "budget", "< 2 GiB"),
        Row(f"read the detector's {windows['windows']:.0f} windows ({over:.2f}x the tile's "
            "pixels) in runs from one open file, per CPU-second",
            _rate(mpx, windows, "runs_cpu_s"), cpu, _rate(mpx, windows, "gdal_runs_cpu_s"),
            "the same runs through GDAL", i1c, lim,
            "tile pixels per CPU-second; tiles inflated directly (geo.tiffblocks)"),
        Row(f"read the detector's {windows['windows']:.0f} windows, each from the file opened "
            "alone (GDAL), per CPU-second", _rate(mpx, windows, "cpu_s"), cpu, None, "", i1c,
            lim, "tile pixels per CPU-second"),
        Row("read + coarse screen of every window (the screened detector's fixed cost), "
            "per CPU-second", _rate(mpx, windows, "read_screen_cpu_s"), cpu, s1c,
            "whole detection, serial", i1c, lim,
            "tile pixels; the ceiling of this design on one core: the rest is "
            f"full-resolution work on {100 * windows['computed']:.0f} % of the windows' "
            "blocks"),
        Row("baseline NDVI<0.3 + ndimage.label over the same windows, 1 core", b1, "Mpx/s",
            None, "", bandwidth / per_px / 1e6, f"memory bandwidth / {per_px} B per px",
            f"{base['components']:.0f} components"),
        Row("decode every 512-px tile once, 1 process", d1, "Mpx/s", None, "",
            bandwidth / per_px / 1e6, f"memory bandwidth / {per_px} B per px",
            f"{d1c:.1f} Mpx per CPU-second"),
        Row("decode every 512-px tile once, 2 processes", d2, "Mpx/s", d1, "1 process",
            None, "", ""),
        Row("inflate every 512-px tile once with libdeflate alone (no predictor, no "
            "de-interleaving), 1 process", i1, "Mpx/s", d1, "decode through GDAL, 1 process",
            bandwidth / per_px / 1e6, f"memory bandwidth / {per_px} B per px",
            f"{i1c:.1f} Mpx per CPU-second; {of}"),
        Row("inflate every 512-px tile once with libdeflate alone, 2 processes", i2, "Mpx/s",
            i1, "1 process", None, "", ""),
        Row("NumPy memory bandwidth (copy)", bandwidth / 1e9, "GB/s", None, "", None, "", ""),
    ]


if __name__ == "__main__":
    if "--child" in sys.argv:
        child_main(sys.argv[sys.argv.index("--child") + 1:])
    else:
        from bench.common import table

        print(table(run(quick="--quick" in sys.argv)))
