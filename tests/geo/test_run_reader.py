"""Reading a run of windows: a striped file's region is decoded once, with the same pixels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
from rasterio.windows import Window

import geo.imagery
from geo.detect.params import DetectionParams
from geo.detect.run import detect_scenes
from geo.detect.scene import scene_windows
from geo.errors import ImageryError
from geo.imagery import (
    RunReader,
    WindowData,
    is_striped,
    open_geotiff,
    read_scene_info,
    read_window,
)
from tests.geo.test_detect import write_scene

#: Small windows so a 600 px scene holds several runs of several windows.
PARAMS = DetectionParams(window_px=256, overlap_px=64)
STRIPS = ((1500.0, 1500.0, 900.0, 20.0, 35.0), (4200.0, 3800.0, 700.0, 15.0, 120.0))


def _layout(src_path: Path, dst_path: Path, *, tiled: bool) -> Path:
    """Write the same pixels in 128-px tiles or in strips of whole rows."""
    with rasterio.open(src_path) as src:
        profile, data, names = src.profile, src.read(), src.descriptions
        tags = src.tags()
    profile = {k: v for k, v in profile.items() if k not in ("blockxsize", "blockysize")}
    layout = ({"tiled": True, "blockxsize": 128, "blockysize": 128} if tiled
              else {"tiled": False, "blockysize": 4})
    with rasterio.open(dst_path, "w", **profile | layout | {"compress": "deflate"}) as dst:
        dst.write(data)
        dst.descriptions = names
        dst.update_tags(**tags)
    return dst_path


@pytest.fixture
def scenes(tmp_path: Path) -> tuple[Path, Path]:
    plain = write_scene(tmp_path / "plain.tif", size=600, strips=STRIPS)
    return (_layout(plain, tmp_path / "tiled.tif", tiled=True),
            _layout(plain, tmp_path / "striped.tif", tiled=False))


def assert_same_window(ours: WindowData, theirs: WindowData) -> None:
    """Two reads of a window agree: grid, validity, integers and every band."""
    assert ours.transform == theirs.transform
    np.testing.assert_array_equal(ours.valid, theirs.valid)
    np.testing.assert_array_equal(ours.raw, theirs.raw)
    assert ours.bands.keys() == theirs.bands.keys()
    for role, band in theirs.bands.items():
        np.testing.assert_array_equal(ours.bands[role], band)


def test_a_striped_run_is_read_once_with_the_same_pixels(scenes):
    tiled, striped = scenes
    for path, region in ((tiled, False), (striped, True)):
        info = read_scene_info(path)
        keys = scene_windows(info, PARAMS)
        windows = [Window(*k) for k in keys[:6]]
        with open_geotiff(info.path) as src:
            assert is_striped(src) == region
            reader = RunReader(info, src, windows)
            assert (reader.region is not None) == region
            for w in windows:
                assert_same_window(reader.read(w), read_window(info, w, src=src))


def test_striped_and_tiled_files_give_the_same_candidates(scenes):
    tiled, striped = scenes
    a = detect_scenes([str(tiled)], params=PARAMS).candidates
    b = detect_scenes([str(striped)], params=PARAMS).candidates
    assert len(a) >= 2
    named = ["scene", "scene_id", "candidate_id"]  # named after the file
    pd.testing.assert_frame_equal(a.drop(columns=named).reset_index(drop=True),
                                  b.drop(columns=named).reset_index(drop=True))


def test_a_region_that_cannot_be_read_falls_back_to_each_window(scenes, monkeypatch):
    _, striped = scenes
    info = read_scene_info(striped)
    windows = [Window(*k) for k in scene_windows(info, PARAMS)[:4]]
    real = geo.imagery._read_stack

    def damaged(info: object, src: object, window: Window) -> np.ndarray:
        if window.width > PARAMS.window_px:  # the region, not a window
            raise ImageryError("a corrupt strip")
        return real(info, src, window)  # type: ignore[arg-type]

    monkeypatch.setattr(geo.imagery, "_read_stack", damaged)
    with open_geotiff(info.path) as src:
        reader = RunReader(info, src, windows)
        assert reader.region is None
        np.testing.assert_array_equal(reader.read(windows[1]).raw,
                                      read_window(info, windows[1], src=src).raw)
