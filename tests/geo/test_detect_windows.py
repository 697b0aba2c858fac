"""Scene windows (``scene_window_px``) and the exactness of the screened path's helpers."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from affine import Affine

from geo.detect.evidence import normalized_difference, suppress_non_maxima
from geo.detect.layers import _water_pixels, thin_pixels
from geo.detect.params import DetectionParams
from geo.detect.run import detect_scenes
from geo.detect.scene import scene_window_size, scene_windows
from geo.detect.screen import _block_sum
from geo.errors import ConfigError
from geo.imagery import BandRoles, SceneInfo, WindowData
from tests.geo.test_detect import write_scene

S2 = {"blue": 1, "green": 2, "red": 3, "nir": 4, "swir1": 5}


def _info(size: int, *, res_m: float = 10.0, roles: dict[str, int] | None = None) -> SceneInfo:
    return SceneInfo(path=Path("tile.tif"), width=size, height=size, count=5, dtype="uint16",
                     crs_wkt="EPSG:32718", epsg=32718,
                     transform=Affine(res_m, 0.0, 600000.0, 0.0, -res_m, 8960000.0),
                     res_m=res_m, nodata=0, roles=BandRoles.from_mapping(roles or S2),
                     acquired=None)


def _covered(info: SceneInfo, keys: list[tuple[int, int, int, int]]) -> bool:
    seen = np.zeros((info.height, info.width), dtype=bool)
    for c, r, w, h in keys:
        seen[r:r + h, c:c + w] = True
    return bool(seen.all())


def test_large_scene_windows_are_off_by_default():
    info = _info(10_980)
    assert DetectionParams().scene_window_px == 0
    assert scene_window_size(info, DetectionParams()) == 1024
    assert len(scene_windows(info, DetectionParams().permissive())) == 196


def test_a_sentinel2_tile_is_cut_into_large_windows():
    info, p = _info(10_980), DetectionParams(scene_window_px=2048)
    keys = scene_windows(info, p)
    assert scene_window_size(info, p) == 2048
    assert len(keys) == 36
    assert {k[2] for k in keys} == {2048}
    assert sum(k[2] * k[3] for k in keys) / info.width**2 == pytest.approx(1.25, abs=0.01)
    assert _covered(info, keys)
    assert scene_windows(info, p.permissive()) == keys  # the scorer's operating point too
    old = scene_windows(info, replace(p, scene_window_px=0))
    assert len(old) == 196
    assert {k[2] for k in old} == {1024}


@pytest.mark.parametrize(("info", "why"), [
    (_info(2000), "fits in one large window"),
    (_info(2100), "large windows would hold more pixels"),
    (_info(10_980, res_m=30.0), "no screen at 30 m"),
    (_info(10_980, roles={"red": 1, "green": 2, "blue": 3}), "no screen without NIR"),
])
def test_window_px_where_large_windows_do_not_apply(info, why):
    assert scene_window_size(info, DetectionParams(scene_window_px=2048)) == 1024, why


def test_screen_off_or_zero_keeps_window_px():
    info = _info(10_980)
    assert scene_window_size(info, DetectionParams(screen=False, scene_window_px=2048)) == 1024
    assert scene_window_size(info, DetectionParams(scene_window_px=0)) == 1024


def test_scene_window_px_is_validated():
    with pytest.raises(ConfigError, match="scene_window_px"):
        DetectionParams(scene_window_px=400)  # not more than twice the 256 px overlap
    with pytest.raises(ConfigError, match="scene_window_px"):
        DetectionParams(scene_window_px=-1)
    assert DetectionParams(scene_window_px=0).scene_window_px == 0


STRIPS = ((800.0, 700.0, 600.0, 20.0, 30.0), (3000.0, 3100.0, 700.0, 15.0, 120.0),
          (1900.0, 2000.0, 500.0, 25.0, 90.0), (2500.0, 4500.0, 900.0, 18.0, 75.0))


def test_large_scene_windows_find_the_same_strips(tmp_path):
    """A 600-px scene in 4 windows of 384 px finds what 25 windows of 192 px find."""
    path = str(write_scene(tmp_path / "s_2024-08-02.tif", size=600, strips=STRIPS))
    small = DetectionParams(window_px=192, overlap_px=64, scene_window_px=0)
    large = replace(small, scene_window_px=384)
    from geo.imagery import read_scene_info

    info = read_scene_info(path)
    assert len(scene_windows(info, small)) == 25
    assert len(scene_windows(info, large)) == 4
    a = detect_scenes([path], params=small).candidates.to_crs(32718)
    b = detect_scenes([path], params=large).candidates.to_crs(32718)
    assert len(a) == len(b) == len(STRIPS)
    ca = sorted(zip(a.geometry.centroid.x.round(-1), a.geometry.centroid.y.round(-1),
                    strict=True))
    cb = sorted(zip(b.geometry.centroid.x.round(-1), b.geometry.centroid.y.round(-1),
                    strict=True))
    assert np.allclose(ca, cb, atol=20.0)
    assert np.allclose(sorted(a["length_m"]), sorted(b["length_m"]), atol=30.0)


# -- the screened path's helpers give exactly what the straightforward code gives ------------

def _block_sum_padded(values: np.ndarray, f: int) -> np.ndarray:
    """Sum blocks as the former implementation did: pad with zeros to a multiple of ``f``."""
    h, w = values.shape
    hp, wp = -(-h // f) * f, -(-w // f) * f
    values = np.pad(values, ((0, hp - h), (0, wp - w)))
    rows = values[0::f].astype(np.float32)
    for k in range(1, f):
        rows += values[k::f]
    out = rows[:, 0::f].copy()
    for k in range(1, f):
        out += rows[:, k::f]
    return out


@pytest.mark.parametrize("shape", [(1, 1), (7, 11), (30, 31), (100, 97)])
@pytest.mark.parametrize("f", [2, 3, 4])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint16])
def test_block_sum_equals_the_padded_sum(shape, f, dtype):
    values = (np.random.default_rng(0).random(shape) * 9000).astype(dtype)
    got, want = _block_sum(values, f), _block_sum_padded(values, f)
    assert got.dtype == want.dtype == np.float32
    np.testing.assert_array_equal(got, want)


def test_thin_pixels_equals_suppress_non_maxima_at_the_edges_too():
    rng = np.random.default_rng(1)
    ridge = rng.standard_normal((50, 60)).astype(np.float32)
    ridge[3, 4] = np.nan
    orient = rng.integers(0, 16, ridge.shape).astype(np.int16)
    mask = rng.random(ridge.shape) < 0.5
    mask[0], mask[-1], mask[:, 0], mask[:, -1] = True, True, True, True
    rows, cols = thin_pixels(ridge, orient, mask, n_orientations=16)
    want = suppress_non_maxima(ridge, orient, n_orientations=16) & mask
    got = np.zeros_like(mask)
    got[rows, cols] = True
    np.testing.assert_array_equal(got, want)


def test_water_pixels_equal_one_window_sized_ndwi():
    rng = np.random.default_rng(2)
    shape = (300, 170)
    bands = {k: (rng.random(shape) * 3000).astype(np.float32) for k in ("green", "nir")}
    valid = rng.random(shape) > 0.1
    data = WindowData(window=None, transform=Affine.identity(), bands=bands,  # type: ignore
                      valid=valid, res_m=10.0)
    p = DetectionParams()
    want = (normalized_difference(bands["green"], bands["nir"]) > p.ndwi_water) & valid
    np.testing.assert_array_equal(_water_pixels(data, p, rows_per_step=64), want)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_shore_equals_water_minus_its_erosion(seed):
    from scipy import ndimage

    from geo.detect.layers import _shore

    water = np.random.default_rng(seed).random((40, 33)) < [0.3, 0.7, 0.95][seed]
    want = water & ~ndimage.binary_erosion(water, border_value=1)
    np.testing.assert_array_equal(_shore(water), want)


@pytest.mark.parametrize("shape", [(5, 7), (200, 130), (385, 64)])
@pytest.mark.parametrize("f", [2, 3])
def test_log_block_sums_strip_by_strip_equal_the_whole_window(shape, f):
    from geo.detect.screen import _log_block_sums

    rng = np.random.default_rng(3)
    band = (rng.random(shape) * 5000).astype(np.float32)
    band[0, 0] = 0.0  # below 1: counts as 1
    valid = rng.random(shape) > 0.2
    logv = np.where(valid, np.log(np.maximum(band, 1.0)), 0.0).astype(np.float32)
    s1, s2 = _log_block_sums(band, ~valid, f)
    np.testing.assert_array_equal(s1, _block_sum_padded(logv, f))
    np.testing.assert_array_equal(s2, _block_sum_padded(logv * logv, f))
    s1, s2 = _log_block_sums(band, None, f)
    logv = np.log(np.maximum(band, 1.0))
    np.testing.assert_array_equal(s1, _block_sum_padded(logv, f))
