"""Chips holding another labelled runway: a false candidate on it is counted apart."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from pyproj import Transformer

from geo.detect.chips import (
    ChipResult,
    centrelines_arg,
    default_centrelines,
    list_chips,
    process_chip,
    read_centrelines,
)
from geo.detect.learning import Scored, compute_metrics
from geo.detect.params import DetectionParams
from geo.errors import ConfigError, DataNotFoundError
from geo.sample.landscape import box_coverage

ORIGIN = Affine(10.0, 0.0, 600000.0, 0.0, -10.0, 8960000.0)  # EPSG:32718, as the Peru chips
FOREST = np.array([0.020, 0.045, 0.025, 0.250, 0.280, 0.300, 0.140, 0.060], dtype=np.float32)
STRIP = np.array([0.034, 0.056, 0.045, 0.150, 0.150, 0.140, 0.190, 0.090], dtype=np.float32)
SIZE = 250
# the strip in the chip: centre (m from the top-left), length, bearing; 30 m wide
CX, CY, LENGTH, BEARING = 1250.0, 1250.0, 1500.0, 35.0


def _write(path: Path, data: np.ndarray, dtype: str) -> None:
    with rasterio.open(path, "w", driver="GTiff", dtype=dtype, count=data.shape[0],
                       height=SIZE, width=SIZE, transform=ORIGIN, crs="EPSG:32718") as dst:
        dst.write(data)


def _centreline_lonlat(shift_m: float = 0.0) -> list[list[float]]:
    """Return the strip's centreline as lon/lat, moved ``shift_m`` across it."""
    b = np.radians(BEARING)
    ux, uy = np.sin(b), np.cos(b)  # along, east/north
    x0, y0 = ORIGIN.c + CX + shift_m * uy, ORIGIN.f - CY - shift_m * ux
    to_ll = Transformer.from_crs(32718, 4326, always_xy=True)
    return [list(to_ll.transform(x0 + s * LENGTH / 2 * ux, y0 + s * LENGTH / 2 * uy))
            for s in (-1.0, 1.0)]


@pytest.fixture
def chips(tmp_path: Path) -> Path:
    """Write a chip shifted off its own runway (no mask) that holds another, unmasked one."""
    rng = np.random.default_rng(5)
    img = FOREST[:, None, None] * (1 + 0.05 * rng.standard_normal((8, SIZE, SIZE)))
    cov = box_coverage((SIZE, SIZE), 10.0, cx=CX, cy=CY, length=LENGTH, width=30.0,
                       bearing_deg=BEARING)
    img += (STRIP[:, None, None] - img) * cov[None]
    sdata = np.concatenate([np.clip(np.rint(img * 1e4), 1, 10000),
                            np.full((1, SIZE, SIZE), 4.0)]).astype(np.int16)
    folder = tmp_path / "data" / "chips" / "42_2020_0"
    folder.mkdir(parents=True)
    _write(folder / "42_2020_active1_runway0_sdata.tiff", sdata, "int16")
    return tmp_path / "data" / "chips"


def _lines_file(path: Path, coords: list[list[list[float]]], kind: str = "LineString") -> Path:
    features = [{"type": "Feature", "properties": {"id": i},
                 "geometry": {"type": kind, "coordinates": c if kind == "LineString" else c[0]}}
                for i, c in enumerate(coords)]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def test_a_false_candidate_on_another_labelled_runway_is_flagged(chips: Path) -> None:
    (chip,) = list_chips(chips)
    gen = DetectionParams().permissive()
    alone = process_chip(chip, params=gen)
    on_strip = [i for i, c in enumerate(alone.candidates) if c.length_m > 1000.0]
    assert on_strip, "the generator should trace the 1.5 km strip"
    assert all(alone.false[i] for i in on_strip)  # masks only: the strip is a false alarm
    assert alone.on_other == (False,) * len(alone.candidates)

    lines = read_centrelines(_lines_file(chips.parent / "runway_centrelines.geojson",
                                         [_centreline_lonlat()]))
    told = process_chip(chip, params=gen, centrelines=lines)
    assert told.candidates == alone.candidates
    assert told.false == alone.false  # false by the chip's mask, for training as before
    assert told.positive == alone.positive
    assert [i for i, o in enumerate(told.on_other) if o] == on_strip
    # at 30 m (the RGB model's coarse copies) the line is drawn on the fine grid, then coarsened
    coarse = process_chip(chip, params=gen, bands={"blue": 1, "green": 2, "red": 3}, factor=3,
                          centrelines=lines)
    assert any(o for o, c in zip(coarse.on_other, coarse.candidates, strict=True)
               if c.length_m > 1000.0)


def test_a_labelled_runway_elsewhere_changes_nothing(chips: Path) -> None:
    (chip,) = list_chips(chips)
    gen = DetectionParams().permissive()
    far = read_centrelines(_lines_file(chips.parent / "far.geojson",
                                       [_centreline_lonlat(shift_m=400.0)]))
    alone, told = process_chip(chip, params=gen), process_chip(chip, params=gen,
                                                                centrelines=far)
    assert told.false == alone.false
    assert not any(told.on_other)


def test_metrics_count_candidates_on_other_runways_apart(chips: Path) -> None:
    (chip,) = list_chips(chips)
    result = ChipResult(chip=chip, candidates=(), positive=(False, False, False, False),
                        false=(True, True, True, False), target_px=0, area_km2=100.0,
                        on_other=(False, True, True, False))
    m = compute_metrics([Scored(result, (0.9, 0.8, 0.1, 0.9))], 0.5)
    assert (m["n_false"], m["n_false_on_other_runway"], m["n_kept"]) == (2, 1, 3)
    assert m["false_per_100km2"] == 2.0
    # results made without centrelines (generated scenes) count none
    bare = ChipResult(chip=chip, candidates=(), positive=(False,), false=(True,), target_px=0,
                      area_km2=100.0)
    assert compute_metrics([Scored(bare, (0.9,))], 0.5)["n_false_on_other_runway"] == 0


def test_the_centrelines_file_beside_the_chips_is_the_default(chips: Path) -> None:
    assert default_centrelines(chips) is None
    assert centrelines_arg(chips, None) is None
    path = _lines_file(chips.parent / "runway_centrelines.geojson", [_centreline_lonlat()])
    assert centrelines_arg(chips, None) == path
    assert centrelines_arg(chips, "none") is None
    assert centrelines_arg(chips, "other.gpkg") == Path("other.gpkg")


def test_bad_centrelines_files_are_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="not found"):
        read_centrelines(tmp_path / "absent.geojson")
    (tmp_path / "junk.geojson").write_text("{not json")
    with pytest.raises(ConfigError, match="cannot be read"):
        read_centrelines(tmp_path / "junk.geojson")
    points = _lines_file(tmp_path / "points.geojson", [_centreline_lonlat()], kind="Point")
    with pytest.raises(ConfigError, match="not lines"):
        read_centrelines(points)
