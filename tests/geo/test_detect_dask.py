"""Detection on a Dask LocalCluster of two worker processes gives exactly the serial result."""

from __future__ import annotations

import dataclasses
import os
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
from hypothesis import given, settings
from hypothesis import strategies as st
from rasterio.windows import Window

from geo.detect.params import DetectionParams
from geo.detect.run import (
    WindowFailure,
    detect_scenes,
    run_window,
    run_windows,
    start_local_client,
)
from geo.detect.scene import later_runs, scene_windows, window_runs
from geo.i18n import Translator
from geo.imagery import iter_windows, read_scene_info
from geo.message import Message
from tests.geo.test_detect import write_scene

STRIPS = ((800.0, 700.0, 600.0, 20.0, 30.0), (2600.0, 2700.0, 700.0, 15.0, 120.0),
          (1800.0, 2000.0, 500.0, 25.0, 90.0), (2000.0, 3300.0, 900.0, 18.0, 75.0))
# small windows so that each scene is cut into 9 windows (2 tasks) and strips cross window edges
PARAMS = DetectionParams(window_px=192, overlap_px=80)


def corrupt_copy(src: Path, dst: Path) -> Path:
    """Copy ``src`` tiled and compressed, then write garbage over the middle of its pixels."""
    with rasterio.open(src) as f:
        profile, data, names = f.profile, f.read(), f.descriptions
    profile.update(tiled=True, blockxsize=64, blockysize=64, compress="deflate")
    with rasterio.open(dst, "w", **profile) as out:
        out.write(data)
        out.descriptions = names
    raw = bytearray(dst.read_bytes())
    mid = len(raw) // 2
    raw[mid:mid + 4000] = np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes()
    dst.write_bytes(bytes(raw))
    return dst


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Three scenes with strips across window edges, then a corrupt one, then a missing one."""
    tmp = tmp_path_factory.mktemp("dask")
    good = [write_scene(tmp / f"s{i}_2024-08-0{i + 1}.tif", size=400, strips=STRIPS, seed=i)
            for i in range(3)]
    bad = corrupt_copy(good[0], tmp / "corrupt.tif")
    return [*map(str, good), str(bad), str(tmp / "missing.tif")]


@pytest.fixture(scope="module")
def client():
    """Two single-threaded worker processes, as the command line starts them."""
    saved = dict(os.environ)  # Dask's nannies put the workers' variables in ours too
    c = start_local_client(2)
    yield c
    c.close()
    os.environ.clear()
    os.environ.update(saved)


def test_distributed_run_equals_serial_run(scenes, client):
    serial = detect_scenes(scenes, params=PARAMS)
    dist = detect_scenes(scenes, params=PARAMS, client=client)
    assert len(serial.candidates) == 12  # four strips in each of the three good scenes
    assert serial.candidates["scene"].value_counts().to_dict() == {
        "s0_2024-08-01.tif": 4, "s1_2024-08-02.tif": 4, "s2_2024-08-03.tif": 4}
    pd.testing.assert_frame_equal(pd.DataFrame(serial.candidates),
                                  pd.DataFrame(dist.candidates))
    assert serial.failures == dist.failures
    assert [Path(p).name for p, _ in dist.failures] == ["missing.tif", "corrupt.tif"]
    assert "corrupt or truncated" in dict(dist.failures)[scenes[3]]
    # each reason is still its Message after the trip from a worker process, so the app
    # can say it in the reader's language (the job summary)
    es = Translator("es")
    for _, why in dist.failures:
        assert isinstance(why, Message)
        assert why.localized(es) != str(why)
    assert dict(dist.failures)[scenes[4]].localized(es).endswith(
        "missing.tif no existe o no es un archivo")


def test_an_area_run_on_the_cluster_equals_the_serial_one(scenes, client):
    """Runs of the windows an area chose (not the scene's own runs) give the same result."""
    import geopandas as gpd
    from shapely.geometry import box

    from tests.geo.test_detect import ORIGIN

    # the scenes' south-east 2.4 km square: three of the four strips' centres, some windows
    south_east = box(ORIGIN.c + 1600, ORIGIN.f - 4000, ORIGIN.c + 4000, ORIGIN.f - 1600)
    area = gpd.GeoSeries([south_east], crs="EPSG:32718").to_crs(4326).iloc[0]
    good = scenes[:3]
    serial = detect_scenes(good, params=PARAMS, area=area)
    dist = detect_scenes(good, params=PARAMS, client=client, area=area)
    assert serial.candidates["scene"].value_counts().to_dict() == {
        "s0_2024-08-01.tif": 3, "s1_2024-08-02.tif": 3, "s2_2024-08-03.tif": 3}
    pd.testing.assert_frame_equal(pd.DataFrame(serial.candidates),
                                  pd.DataFrame(dist.candidates))


def test_workers_start_with_the_malloc_settings(client):
    """Each worker has the malloc variables from its start (glibc reads them only then)."""
    from geo.detect.run import WORKER_MALLOC_ENV

    def env() -> dict[str, str | None]:
        return {k: os.environ.get(k) for k in WORKER_MALLOC_ENV}

    seen = client.run(env)
    assert len(seen) == 2
    assert all(v == WORKER_MALLOC_ENV for v in seen.values()), seen
    assert WORKER_MALLOC_ENV["MALLOC_ARENA_MAX"] == "1"


def test_a_value_left_in_this_process_does_not_override_the_workers_settings(monkeypatch):
    """A variable already in this process does not override the workers' malloc settings.

    Dask prefers os.environ to its config, and a cluster started before with Dask's defaults
    leaves MALLOC_TRIM_THRESHOLD_=65536 there (this failed under CI's test order).
    """
    from geo.detect.run import WORKER_MALLOC_ENV

    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")
    monkeypatch.setenv("MALLOC_ARENA_MAX", "8")
    saved = dict(os.environ)
    c = start_local_client(1)
    try:
        seen = c.run(lambda: {k: os.environ.get(k) for k in WORKER_MALLOC_ENV})
    finally:
        c.close()
        os.environ.clear()
        os.environ.update(saved)
    assert list(seen.values()) == [WORKER_MALLOC_ENV]
    assert os.environ["MALLOC_TRIM_THRESHOLD_"] == "65536"  # this process's value, back


def test_learned_scorer_same_on_the_cluster(scenes, client):
    from geo.detect.scorer import read_scorer

    scorer = read_scorer()
    serial = detect_scenes(scenes[1:2], params=PARAMS, scorer=scorer)
    dist = detect_scenes(scenes[1:2], params=PARAMS, scorer=scorer, client=client)
    assert len(serial.candidates) >= 4
    pd.testing.assert_frame_equal(pd.DataFrame(serial.candidates),
                                  pd.DataFrame(dist.candidates))


def test_window_progress_is_reported_and_an_exception_in_it_cancels_the_rest(scenes, client):

    good = scenes[:3]
    total = sum(len(scene_windows(read_scene_info(s), PARAMS)) for s in good)
    for c in (None, client):
        seen: list[tuple[int, int]] = []
        detect_scenes(good, params=PARAMS, client=c,
                      on_windows=lambda d, t, seen=seen: seen.append((d, t)))
        assert len(seen) == len([r for s in good
                                 for r in window_runs(scene_windows(read_scene_info(s), PARAMS))])
        assert [d for d, _ in seen] == sorted({d for d, _ in seen})
        assert seen[-1] == (total, total)
        assert {t for _, t in seen} == {total}

    class StopError(Exception):
        pass

    def cancel(done: int, total: int) -> None:
        raise StopError

    with pytest.raises(StopError) as stopped:  # its traceback holds the run's futures
        detect_scenes(good, params=PARAMS, client=client, on_windows=cancel)

    # the tasks left were cancelled, though the futures are still referenced
    assert _tasks_left(client) == 0
    assert stopped.tb is not None


def _tasks_left(client, wait_s: float = 30.0) -> int:
    """Tasks the scheduler still holds once it has had ``wait_s`` seconds to drop them."""
    import time

    def tasks(dask_scheduler) -> int:
        return len(dask_scheduler.tasks)

    deadline = time.monotonic() + wait_s
    while client.run_on_scheduler(tasks) and time.monotonic() < deadline:
        time.sleep(0.1)
    return int(client.run_on_scheduler(tasks))


def test_a_cancel_after_other_tasks_finished_drops_their_results_too(scenes, client):
    """Tasks that ended while the run was being stopped are not left on the cluster.

    The callback raises only once every task has finished, so the futures it leaves unread
    are all done: cancelling only the unfinished ones would leave their results held.
    """
    import time

    class StopError(Exception):
        pass

    def all_finished(dask_scheduler) -> bool:
        return all(ts.state == "memory" for ts in dask_scheduler.tasks.values())

    def cancel_late(done: int, total: int) -> None:
        deadline = time.monotonic() + 60
        while not client.run_on_scheduler(all_finished) and time.monotonic() < deadline:
            time.sleep(0.05)
        raise StopError

    with pytest.raises(StopError) as stopped:  # its traceback holds the run's futures
        detect_scenes(scenes[:3], params=PARAMS, client=client, on_windows=cancel_late)

    assert _tasks_left(client) == 0
    assert stopped.tb is not None


def test_tasks_carry_no_pixels(scenes):
    """A task is the header and window positions; the worker reads the pixels itself."""
    info = read_scene_info(scenes[0])
    keys = scene_windows(info, PARAMS)
    assert len(keys) == 9
    runs = window_runs(keys)
    assert [len(r) for r in runs] == [6, 3]
    assert max(len(pickle.dumps((info, r, PARAMS))) for r in runs) < 8_000
    assert later_runs(runs, runs[0]) == (0, {1: [Window(*k) for k in runs[1]]})
    assert later_runs(runs, runs[1]) == (1, {})
    assert later_runs(runs, runs[0][:1]) == (None, {})


def test_runs_in_order_inflate_each_tile_of_the_scene_once(scenes, tmp_path, monkeypatch):
    from geo.tiffblocks import _HAND_ON
    from tests.geo.test_tiffblocks import counting_inflates

    tiled = tmp_path / "tiled.tif"
    with rasterio.open(scenes[1]) as src:
        profile = src.profile | {"tiled": True, "blockxsize": 64, "blockysize": 64,
                                 "compress": "deflate", "predictor": 2}
        with rasterio.open(tiled, "w", **profile) as dst:
            dst.write(src.read())
            dst.descriptions = src.descriptions
    info = read_scene_info(tiled)
    inflated = counting_inflates(monkeypatch)
    runs = window_runs(scene_windows(info, PARAMS))
    assert len(runs) > 1
    for run in runs:
        run_windows(info, run, PARAMS)
    with rasterio.open(tiled) as src:
        (th, tw), = set(src.block_shapes)
        tiles = -(-src.height // th) * -(-src.width // tw)
    assert len(inflated) == len(set(inflated)) == tiles
    assert not _HAND_ON.tiles  # the last run let go of them


def test_a_run_read_from_one_open_file_finds_what_single_windows_find(scenes):
    info = read_scene_info(scenes[1])
    keys = scene_windows(info, PARAMS)
    alone = [run_window(info, k, PARAMS) for k in keys]
    together = [o for run in window_runs(keys) for o in run_windows(info, run, PARAMS)]
    order = [k for run in window_runs(keys) for k in run]
    assert sum(map(len, alone)) >= 4
    assert repr([together[order.index(k)] for k in keys]) == repr(alone)


def test_a_run_on_a_missing_file_fails_each_of_its_windows(scenes):
    info = read_scene_info(scenes[0])
    missing = dataclasses.replace(info, path=Path(scenes[4]))
    outcomes = run_windows(missing, scene_windows(info, PARAMS)[:3], PARAMS)
    assert len(outcomes) == 3
    assert all(isinstance(o, WindowFailure) and "missing.tif" in o.message for o in outcomes)


def test_a_corrupt_window_is_a_failure_not_a_crash(scenes):
    info = read_scene_info(scenes[3])
    outcomes = [run_window(info, k, PARAMS) for k in scene_windows(info, PARAMS)]
    failures = [o for o in outcomes if isinstance(o, WindowFailure)]
    assert failures
    assert all("corrupt.tif" in f.message for f in failures)


def test_ridges_outside_the_owned_part_are_skipped_without_changing_the_result(
        scenes, monkeypatch):
    import geo.detect.scene as scene_module

    info = read_scene_info(scenes[2])
    keys = scene_windows(info, PARAMS)
    owned = [run_window(info, k, PARAMS) for k in keys]
    measured: list[bool] = []
    real_detect = scene_module.detect_window

    def spy(data, *, params, owned=None):
        measured.append(owned is None)
        return real_detect(data, params=params, owned=owned)

    monkeypatch.setattr(scene_module, "detect_window", spy)
    monkeypatch.setattr(scene_module.Ownership, "box", lambda self, key: None)
    everything = [run_window(info, k, PARAMS) for k in keys]
    assert all(measured)
    assert sum(map(len, owned)) == 4
    assert repr(owned) == repr(everything)


def test_owned_box_holds_every_centre_the_window_owns_and_little_more(scenes):
    from geo.detect.scene import Ownership

    info = read_scene_info(scenes[0])
    keys = scene_windows(info, PARAMS)
    owners = Ownership.of(keys)
    for key in keys:
        r0, r1, c0, c1 = owners.box(key)
        owned_cols, owned_rows = set(), set()
        for x in np.arange(0.0, info.width, 0.5):
            if owners.owner(x, key[1] + key[3] / 2) == key:
                owned_cols.add(x - key[0] - 0.5)  # window index coordinate
            if owners.owner(key[0] + key[2] / 2, x) == key:
                owned_rows.add(x - key[1] - 0.5)
        assert c0 <= min(owned_cols)
        assert max(owned_cols) < c1
        assert r0 <= min(owned_rows)
        assert max(owned_rows) < r1
        inner_c = (max(c0, -key[0]), min(c1, info.width - key[0]))
        assert inner_c[1] - inner_c[0] <= max(owned_cols) - min(owned_cols) + 5


@settings(max_examples=200, deadline=None)
@given(width=st.integers(1, 5000), height=st.integers(1, 5000),
       size=st.sampled_from([64, 200, 1024]), col=st.floats(-50.0, 5050.0),
       row=st.floats(-50.0, 5050.0), halfway=st.booleans())
def test_the_owner_is_the_window_whose_centre_is_nearest_per_axis(width, height, size, col,
                                                                   row, halfway):
    """The definition: nearest centre along each axis, the lower one when exactly halfway."""
    from geo.detect.scene import Ownership

    keys = [(int(w.col_off), int(w.row_off), int(w.width), int(w.height))
            for w in iter_windows(width, height, size=size, overlap=size // 4)]
    cols = sorted({k[0] + k[2] / 2 for k in keys})
    rows = sorted({k[1] + k[3] / 2 for k in keys})
    if halfway and len(cols) > 1:  # a position exactly between two centres
        col = (cols[0] + cols[1]) / 2
    near_c = min(cols, key=lambda v: (abs(v - col), v))
    near_r = min(rows, key=lambda v: (abs(v - row), v))
    owner = Ownership.of(keys).owner(col, row)
    assert (owner[0] + owner[2] / 2, owner[1] + owner[3] / 2) == (near_c, near_r)


def test_workers_never_pause_and_are_restarted_above_their_limit(client):
    """A paused worker takes no task until its memory falls: a job would wait forever."""
    from dask.utils import parse_bytes

    from geo.detect.run import DEFAULT_WORKER_MEMORY

    def memory_settings(dask_worker):
        mm = dask_worker.memory_manager
        return mm.memory_limit, mm.memory_pause_fraction

    limits = client.run(memory_settings)
    assert list(limits.values()) == [(parse_bytes(DEFAULT_WORKER_MEMORY), False)] * 2
    nannies = list(client.cluster.workers.values())
    assert [n.memory_manager.memory_terminate_fraction for n in nannies] == [0.95, 0.95]


def test_local_cluster_steals_work_sooner_and_runs_without_the_profiler(client):
    import dask

    def settings() -> tuple[object, ...]:
        return tuple(dask.config.get(k) for k in (
            "distributed.worker.profile.enabled", "distributed.admin.tick.interval",
            "distributed.admin.system-monitor.interval"))

    assert set(client.run(settings).values()) == {(False, "200ms", "2s")}

    def stealing_interval_s(dask_scheduler) -> float:
        return float(dask_scheduler.extensions["stealing"]._callback_time)

    assert client.run_on_scheduler(stealing_interval_s) == pytest.approx(0.1)
    assert dask.config.get("distributed.worker.profile.enabled") is True  # ours untouched
