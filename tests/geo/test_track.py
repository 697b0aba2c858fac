"""Tracking strips over dates: a date observes a strip only where its scene saw the ground."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import rasterio
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.affinity import translate
from shapely.geometry import Polygon, box

from bench.bench_track import naive_match
from geo.detect.coverage import observed_share
from geo.detect.run import detect_scenes
from geo.detect.track import _match, track_candidates
from geo.errors import ImageryError
from geo.imagery import read_scene_info
from geo.runway_geometry import rectangle_corners
from tests.conftest import ROOT
from tests.geo.test_detect import ONE_STRIP, ORIGIN, write_scene

#: ONE_STRIP (800 x 20 m at 60 degrees, centred 1 km right of and below ORIGIN) in EPSG:4326
_CX, _CY = ORIGIN.c + 1000.0, ORIGIN.f - 1000.0
_TO_WGS = pyproj.Transformer.from_crs(32718, 4326, always_xy=True)


def _strip_4326(dx_m: float = 0.0) -> Polygon:
    ring = rectangle_corners(_CX + dx_m, _CY, length_m=800.0, width_m=20.0, bearing_deg=60.0)
    return Polygon(np.column_stack(_TO_WGS.transform(ring[:, 0], ring[:, 1])))


def _cover(path: Path, *, cloud_rows: slice | None = None, nodata_rows: slice | None = None
           ) -> Path:
    """Add a ``cloud`` band (clouds over ``cloud_rows``) or blank ``nodata_rows`` in place."""
    with rasterio.open(path) as src:
        data, profile, names = src.read(), src.profile, src.descriptions
        tags = src.tags()
    if nodata_rows is not None:
        data[:, nodata_rows, :] = 0
    if cloud_rows is not None:
        cloud = np.zeros((1, *data.shape[1:]), dtype=data.dtype)
        cloud[0, cloud_rows, :] = 1
        data, names = np.concatenate([data, cloud]), (*names, "cloud")
    with rasterio.open(path, "w", **(profile | {"count": len(data)})) as dst:
        dst.write(data)
        dst.descriptions = names
        dst.update_tags(**tags)
    return path


def test_observed_share_counts_clear_pixels_inside_the_scene(tmp_path):
    clear = read_scene_info(write_scene(tmp_path / "clear.tif", strips=ONE_STRIP))
    strip = _strip_4326()
    assert observed_share(clear, strip) == 1.0
    # the strip spans rows 80-120 (it climbs 400 m at 60 degrees over 10 m pixels)
    half = read_scene_info(_cover(write_scene(tmp_path / "half.tif"), cloud_rows=slice(0, 100)))
    assert 0.35 < observed_share(half, strip) < 0.65
    cloudy = read_scene_info(_cover(write_scene(tmp_path / "cloudy.tif"),
                                    cloud_rows=slice(50, 150)))
    assert observed_share(cloudy, strip) == 0.0
    gap = read_scene_info(_cover(write_scene(tmp_path / "gap.tif"), nodata_rows=slice(50, 150)))
    assert observed_share(gap, strip) == 0.0
    assert observed_share(clear, _strip_4326(dx_m=5000.0)) == 0.0  # beside the scene
    assert 0.3 < observed_share(clear, _strip_4326(dx_m=1000.0)) < 0.7  # half off it


def test_observed_share_on_averaged_fine_imagery(tmp_path):
    """3 m imagery is read averaged to 9 m: the share is on those pixels, and still right."""
    fine = read_scene_info(_cover(write_scene(tmp_path / "fine.tif", size=666, res=3.0),
                                  cloud_rows=slice(0, 333)))
    assert 0.35 < observed_share(fine, _strip_4326()) < 0.65


def _scenes(tmp_path: Path, *covers: dict[str, slice] | None) -> list[Path]:
    """One dated scene per entry: None has the strip, a dict covers a stripless scene."""
    tmp_path.mkdir(exist_ok=True)
    out = []
    for k, cover in enumerate(covers):
        path = write_scene(tmp_path / f"area_2024-0{k + 1}-15.tif", seed=k,
                           strips=ONE_STRIP if cover is None else (), date=f"2024-0{k + 1}-15")
        out.append(_cover(path, **cover) if cover else path)
    return out


def _tracked(paths: list[Path], *, scenes: bool = True) -> gpd.GeoDataFrame:
    cands = detect_scenes([str(p) for p in paths]).candidates
    infos = [read_scene_info(p) for p in paths] if scenes else None
    return track_candidates(cands, scenes=infos)


CLOUD = {"cloud_rows": slice(0, 200)}
BARE = {"nodata_rows": slice(190, 200)}  # clear over the strip: it is really gone


def test_a_cloud_on_the_latest_date_is_not_a_destroyed_strip(tmp_path):
    paths = _scenes(tmp_path, None, None, CLOUD)
    out = _tracked(paths)
    assert len(out) == 1
    row = out.iloc[0]
    assert row.state == "active"
    assert row.last_seen == row.last_observed == pd.Timestamp("2024-02-15", tz="UTC")
    assert row.unobserved == "2024-03-15"
    # without the scenes the tracker knows only the dates something was found on
    assert _tracked(paths, scenes=False).iloc[0].last_observed == row.last_seen


def test_a_clear_date_without_the_strip_destroys_it_even_with_no_candidate_at_all(tmp_path):
    paths = _scenes(tmp_path, None, None, BARE)
    row = _tracked(paths).iloc[0]
    assert (row.state, row.unobserved) == ("destroyed", "")
    assert row.last_observed == pd.Timestamp("2024-03-15", tz="UTC")
    # the candidates alone never hear of a date that found nothing (the old answer)
    seen = _tracked(paths, scenes=False).iloc[0]
    assert seen.state == "active"
    # a strip gone cannot take a plane: one priority step lower, and the reason says so
    assert (seen.priority, row.priority) in {("high", "medium"), ("medium", "low")}
    assert row.reason == (f"{seen.reason}; gone from the latest imagery that saw its "
                          "ground: priority lowered")


def test_clouds_in_between_do_not_make_a_strip_reopened(tmp_path):
    assert _tracked(_scenes(tmp_path, None, CLOUD, None)).iloc[0].state == "active"
    assert _tracked(_scenes(tmp_path / "b", None, BARE, None)).iloc[0].state == "reopened"


def test_a_strip_first_seen_after_clouds_is_not_new(tmp_path):
    assert _tracked(_scenes(tmp_path, CLOUD, None)).iloc[0].state == "active"
    assert _tracked(_scenes(tmp_path / "b", BARE, None)).iloc[0].state == "new"


def test_faint_candidates_are_those_below_the_cut(tmp_path):
    """A run splits the same de-duplicated candidates at its operating point."""
    path = str(write_scene(tmp_path / "area.tif", strips=ONE_STRIP))
    everything = detect_scenes([path], min_score=0.0)
    assert len(everything.candidates) == 1
    assert everything.faint.empty
    score = float(everything.candidates.iloc[0].score)
    above = detect_scenes([path], min_score=score - 1e-3)  # scores are written rounded
    assert len(above.candidates) == 1
    assert above.faint.empty
    below = detect_scenes([path], min_score=score + 1e-3)
    assert below.candidates.empty
    assert list(below.faint.scene_id) == ["area"]
    assert below.faint.geometry.iloc[0].equals_exact(everything.candidates.geometry.iloc[0], 0)
    assert below.faint.detected_at.iloc[0] == pd.Timestamp("2024-08-02", tz="UTC")


def test_a_strip_scoring_below_the_cut_is_fading_not_gone(tmp_path):
    paths = _scenes(tmp_path, None, None)
    first = detect_scenes([str(paths[0])])
    later = detect_scenes([str(paths[1])], min_score=1.01)  # its strip is traced, not vouched
    assert later.candidates.empty
    assert len(later.faint) == 1
    infos = [read_scene_info(p) for p in paths]
    assert track_candidates(first.candidates, scenes=infos).iloc[0].state == "destroyed"
    row = track_candidates(first.candidates, scenes=infos, faint=later.faint).iloc[0]
    assert (row.state, row.unobserved) == ("active", "2024-02-15")
    assert row.last_observed == row.last_seen == pd.Timestamp("2024-01-15", tz="UTC")
    # a faint candidate elsewhere says nothing about this strip
    elsewhere = later.faint.assign(geometry=[_strip_4326(dx_m=3000.0)])
    assert track_candidates(first.candidates, scenes=infos,
                            faint=elsewhere).iloc[0].state == "destroyed"


def test_a_scene_without_a_date_cannot_be_tracked(tmp_path):
    path = write_scene(tmp_path / "area.tif", strips=ONE_STRIP, date="")
    info = read_scene_info(path)
    assert info.acquired is None
    cands = detect_scenes([str(path)]).candidates
    with pytest.raises(ImageryError, match=r"area\.tif"):
        track_candidates(cands, scenes=[info])


def test_cli_track_skips_undated_scenes_and_knows_clouds(tmp_path):
    paths = _scenes(tmp_path, None, CLOUD)
    undated = write_scene(tmp_path / "undated.tif", strips=ONE_STRIP, date="")
    out = tmp_path / "tracked.geojson"
    run = subprocess.run([sys.executable, "-m", "geo.detect", "--no-aerodromes", "--workers",
                          "0", "--track", *map(str, paths), str(undated), "--out", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=180, check=False)
    assert run.returncode == 0, run.stderr
    assert "skipped" in run.stderr
    assert "undated.tif" in run.stderr
    assert "acquisition date" in run.stderr
    (feature,) = json.loads(out.read_text())["features"]
    props = feature["properties"]
    assert props["state"] == "active"
    assert props["unobserved"] == "2024-02-15"


@settings(deadline=None, max_examples=60)
@given(st.lists(st.tuples(st.integers(0, 3), st.floats(0, 3000), st.floats(0, 3000),
                          st.floats(0, 179.9)), min_size=1, max_size=25))
def test_the_spatial_index_matches_as_the_plain_rule_does(rows):
    geoms = [translate(box(-300, -10, 300, 10), x, y) for _, x, y, _ in rows]
    metric = gpd.GeoDataFrame({
        "detected_at": [pd.Timestamp(f"2024-0{d + 1}-01", tz="UTC") for d, *_ in rows],
        "bearing_deg": [b for *_, b in rows]}, geometry=geoms, crs=32718)
    dates = sorted(metric["detected_at"].unique())
    assert _match(metric, dates, 250.0, 15.0) == naive_match(metric, dates, 250.0, 15.0)


def test_a_huge_footprint_is_not_read(tmp_path, monkeypatch):
    """An alert polygon tens of km wide (an import gone wrong) is not looked at: no read."""
    info = read_scene_info(write_scene(tmp_path / "clear.tif", strips=ONE_STRIP))
    calls = []
    monkeypatch.setattr("geo.detect.coverage.read_window",
                        lambda *a, **k: calls.append(a) or pytest.fail("read"))
    huge = _strip_4326().buffer(0.5)  # about 110 km across
    assert observed_share(info, huge) == 0.0
    assert calls == []
