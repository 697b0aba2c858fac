"""Labelled chips coarsened by block averaging (10 m chips seen as a 30 m sensor would)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.windows import Window

from geo.detect.chips import coarsen_window, list_chips, process_chip
from geo.detect.params import DetectionParams
from geo.imagery import WindowData
from geo.sample.landscape import box_coverage

ORIGIN = Affine(10.0, 0.0, 600000.0, 0.0, -10.0, 8960000.0)
# Peru chip layout: B02, B03, B04, B06, B07, B08, B11, B12, SCL
FOREST = np.array([0.020, 0.045, 0.025, 0.250, 0.280, 0.300, 0.140, 0.060], dtype=np.float32)
STRIP = np.array([0.034, 0.056, 0.045, 0.150, 0.150, 0.140, 0.190, 0.090], dtype=np.float32)
SIZE = 250  # not a multiple of 3: the last row and column fill no 3 x 3 block
RGB = {"blue": 1, "green": 2, "red": 3}
# one strip: centre (m from the top-left), length, width, bearing
RUNWAY = (1250.0, 1250.0, 1500.0, 30.0, 35.0)


def _write(path: Path, data: np.ndarray, dtype: str) -> None:
    profile = {"driver": "GTiff", "dtype": dtype, "count": data.shape[0], "height": SIZE,
               "width": SIZE, "transform": ORIGIN, "crs": "EPSG:32718"}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)


@pytest.fixture
def chip_folder(tmp_path: Path) -> Path:
    """One chip folder in the Peru naming convention: a forest with one bare strip."""
    rng = np.random.default_rng(3)
    img = FOREST[:, None, None] * (1 + 0.05 * rng.standard_normal((8, SIZE, SIZE)))
    cx, cy, length, width, bearing = RUNWAY
    cov = box_coverage((SIZE, SIZE), 10.0, cx=cx, cy=cy, length=length, width=width,
                       bearing_deg=bearing)
    img += (STRIP[:, None, None] - img) * cov[None]
    sdata = np.concatenate([np.clip(np.rint(img * 1e4), 1, 10000),
                            np.full((1, SIZE, SIZE), 4.0)]).astype(np.int16)
    target = box_coverage((SIZE, SIZE), 10.0, cx=cx, cy=cy, length=length, width=24.0,
                          bearing_deg=bearing) > 0.5
    folder = tmp_path / "chips" / "42_2020_1"
    folder.mkdir(parents=True)
    _write(folder / "42_2020_active1_runway1_sdata.tiff", sdata, "int16")
    _write(folder / "42_2020_active1_runway1_target.tiff", target[None].astype(np.uint8),
           "uint8")
    return tmp_path / "chips"


def _window(values: np.ndarray, valid: np.ndarray) -> WindowData:
    return WindowData(window=Window(0, 0, values.shape[1], values.shape[0]), transform=ORIGIN,
                      bands={"red": values.astype(np.float32)}, valid=valid, res_m=10.0)


def test_coarsen_window_averages_blocks_and_scales_the_grid() -> None:
    values = np.arange(7 * 8, dtype=np.float32).reshape(7, 8)
    out = coarsen_window(_window(values, np.ones((7, 8), dtype=bool)), 3)
    assert out.bands["red"].shape == (2, 2) == out.valid.shape  # trailing row/columns dropped
    assert out.bands["red"].dtype == np.float32
    np.testing.assert_allclose(out.bands["red"], [[values[0:3, 0:3].mean(),
                                                   values[0:3, 3:6].mean()],
                                                  [values[3:6, 0:3].mean(),
                                                   values[3:6, 3:6].mean()]])
    assert out.res_m == 30.0
    assert out.transform == Affine(30.0, 0.0, 600000.0, 0.0, -30.0, 8960000.0)
    assert (out.window.width, out.window.height) == (2, 2)
    assert out.valid.all()


def test_a_block_with_an_invalid_pixel_is_invalid_and_leaks_nothing() -> None:
    values = np.full((6, 6), 100.0, dtype=np.float32)
    values[0, 0] = -32768.0  # a nodata value that must not reach any mean
    valid = np.ones((6, 6), dtype=bool)
    valid[0, 0] = False
    out = coarsen_window(_window(values, valid), 3)
    assert out.valid.tolist() == [[False, True], [True, True]]
    assert out.bands["red"][0, 0] == 0.0
    np.testing.assert_allclose(out.bands["red"][out.valid], 100.0)


def test_factor_one_is_the_window_itself_and_bad_factors_are_refused() -> None:
    data = _window(np.ones((4, 4)), np.ones((4, 4), dtype=bool))
    assert coarsen_window(data, 1) is data
    with pytest.raises(ValueError, match="factor"):
        coarsen_window(data, 0)
    with pytest.raises(ValueError, match="no whole 5 x 5 block"):
        coarsen_window(data, 5)


def test_process_chip_default_is_unchanged_by_factor_one(chip_folder: Path) -> None:
    (chip,) = list_chips(chip_folder)
    gen = DetectionParams().permissive()
    default, one = process_chip(chip, params=gen), process_chip(chip, params=gen, factor=1)
    assert default == one
    assert default.area_km2 == SIZE * SIZE * 100 / 1e6


def test_process_chip_at_30_m_finds_the_strip_on_the_coarse_mask(chip_folder: Path) -> None:
    (chip,) = list_chips(chip_folder)
    gen = DetectionParams().permissive()
    fine = process_chip(chip, params=gen, bands=RGB)
    coarse = process_chip(chip, params=gen, bands=RGB, factor=3)
    assert coarse.chip == chip  # same runway id: the CV group of both copies
    with rasterio.open(chip.target) as src:
        mask = src.read(1)[:249, :249] > 0
    any_of_block = mask.reshape(83, 3, 83, 3).any(axis=(1, 3))
    assert coarse.target_px == int(any_of_block.sum())
    assert fine.target_px == int(mask.sum()) > coarse.target_px
    assert coarse.area_km2 == pytest.approx(83 * 83 * 900 / 1e6)
    found = [c for c, p in zip(coarse.candidates, coarse.positive, strict=True) if p]
    assert found, "no 30 m candidate on the strip"
    best = max(found, key=lambda c: c.length_m)
    assert 1000.0 < best.length_m < 1800.0
    assert min(abs(best.bearing_deg - 35.0), 180 - abs(best.bearing_deg - 35.0)) < 10.0
    assert all(len(r.positive) == len(r.false) == len(r.candidates) for r in (fine, coarse))
