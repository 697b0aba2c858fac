"""Detection inside an area of interest (geo.detect.area, detect_scenes(area=...), --area)."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import rasterio
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point, box

from geo.detect.__main__ import main
from geo.detect.area import (
    EDGE_MARGIN_M,
    candidates_inside,
    check_area,
    read_area,
    scene_area,
    windows_in_area,
)
from geo.detect.params import DetectionParams
from geo.detect.run import detect_scenes
from geo.detect.scene import Ownership, scene_windows
from geo.detect.track import track_candidates
from geo.errors import ConfigError, DataNotFoundError
from geo.imagery import read_scene_info
from tests.geo.test_detect import ORIGIN, _frame, write_scene

#: Small windows, so that an area covers some of a 600-px scene's windows and not others.
PARAMS = DetectionParams(window_px=256, overlap_px=64)
#: Three strips (x, y from the scene's top-left corner in metres, length, width, bearing).
STRIPS = ((1200.0, 1200.0, 700.0, 20.0, 60.0), (4700.0, 1500.0, 700.0, 20.0, 150.0),
          (2600.0, 4700.0, 700.0, 20.0, 100.0))
UTM = "EPSG:32718"


def _utm_box(x0: float, y0: float, x1: float, y1: float) -> object:
    """Return a box given in metres from the test scenes' top-left corner, in their UTM CRS."""
    left, top = ORIGIN.c, ORIGIN.f
    return box(left + x0, top - y1, left + x1, top - y0)


def _in_degrees(geom: object) -> object:
    return gpd.GeoSeries([geom], crs=UTM).to_crs(4326).iloc[0]


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_scene(tmp_path_factory.mktemp("area") / "s_2024-08-02.tif", size=600,
                       strips=STRIPS)


def _key(frame: gpd.GeoDataFrame) -> list[tuple[str, ...]]:
    cols = ["scene", "score", "length_m", "width_m", "bearing_deg", "reason"]
    return sorted(map(tuple, frame[cols].astype(str).to_numpy()))


def test_an_area_run_reads_fewer_windows_and_keeps_the_whole_runs_candidates_in_it(scene):
    totals: dict[str, int] = {}
    whole = detect_scenes([str(scene)], params=PARAMS,
                          on_windows=lambda _d, n: totals.__setitem__("whole", n))
    assert len(whole.candidates) == 3
    west = _utm_box(0, 0, 3000, 6000)  # the western half holds the first and third strips
    part = detect_scenes([str(scene)], params=PARAMS, area=_in_degrees(west),
                         on_windows=lambda _d, n: totals.__setitem__("area", n))
    centres = whole.candidates.to_crs(UTM).geometry.centroid
    assert _key(part.candidates) == _key(whole.candidates[centres.within(west).to_numpy()])
    assert len(part.candidates) == 2
    assert totals["area"] < totals["whole"]
    assert part.outside == ()
    assert part.failures == ()


def test_a_scene_the_area_does_not_reach_is_listed_apart_and_not_read(scene):
    far = box(-60.0, -20.0, -59.0, -19.0)  # Paraguay, far from the scene (Peru)
    res = detect_scenes([str(scene)], params=PARAMS, area=far,
                        on_windows=lambda *_: pytest.fail("a window was read"))
    assert res.outside == (str(scene),)
    assert res.failures == ()
    assert res.candidates.empty


@settings(max_examples=60, deadline=None)
@given(x=st.floats(0, 5999), y=st.floats(0, 5999), w=st.floats(1, 2500), h=st.floats(1, 2500))
def test_the_window_owning_any_point_of_the_area_runs(scene, x, y, w, h):
    info = read_scene_info(scene)
    windows = scene_windows(info, PARAMS)
    area = _utm_box(x, y, x + w, y + h)
    chosen = windows_in_area(windows, info, area)
    owners = Ownership.of(windows)
    for fx, fy in ((0, 0), (1, 1), (0.5, 0.5), (1, 0), (0, 1), (0.3, 0.8)):
        px, py = (x + fx * w) / 10.0, (y + fy * h) / 10.0  # scene pixels (10 m)
        if px < 600 and py < 600:
            assert owners.owner(px, py) in chosen


def test_candidates_are_kept_by_their_centre():
    from geo.detect.window import RawCandidate

    cands = [RawCandidate(x=float(x), y=5.0, length_m=500.0, width_m=20.0, bearing_deg=0.0,
                          features=()) for x in (1, 9, 11)]
    assert [c.x for c in candidates_inside(cands, box(0, 0, 10, 10))] == [1.0, 9.0]
    assert candidates_inside([], box(0, 0, 1, 1)) == []


def test_the_area_in_the_scenes_crs_follows_long_edges(scene):
    info = read_scene_info(scene)
    long_edge = box(-76.0, -9.5, -74.0, -9.0)  # 2 degrees wide: densified before reprojecting
    inside = scene_area(info, long_edge)
    assert inside.is_valid
    assert len(inside.exterior.coords) > 100


def _write(path: Path, frame: gpd.GeoDataFrame) -> Path:
    frame.to_file(path, driver="GPKG" if path.suffix == ".gpkg" else "GeoJSON")
    return path


def test_area_files_are_read_as_one_polygon_in_degrees(tmp_path):
    utm = gpd.GeoDataFrame(geometry=[_utm_box(0, 0, 3000, 3000), _utm_box(3000, 0, 6000, 3000),
                                     Point(ORIGIN.c, ORIGIN.f)], crs=UTM)
    area = read_area(_write(tmp_path / "a.gpkg", utm))  # reprojected; the point is ignored
    expected = _in_degrees(_utm_box(0, 0, 6000, 3000))
    assert area.geom_type == "Polygon"
    assert area.symmetric_difference(expected).area < 1e-4 * expected.area  # shared edge


def test_one_saved_area_is_chosen_by_name(tmp_path, scene, capsys):
    from geo.areas import AREAS_FILE, save_area

    west, east = _in_degrees(_utm_box(0, 0, 3000, 6000)), _in_degrees(_utm_box(3000, 0, 6000,
                                                                                6000))
    save_area(tmp_path, "Oeste", west)
    save_area(tmp_path, "Este", east)
    path = tmp_path / AREAS_FILE
    assert read_area(path, "Este").symmetric_difference(east).area < 1e-12
    assert read_area(path).symmetric_difference(west.union(east)).area < 1e-9
    with pytest.raises(ConfigError, match="no area named 'Norte'; it has: 'Este', 'Oeste'"):
        read_area(path, "Norte")
    out = tmp_path / "c.geojson"
    args = ["--no-aerodromes", "--workers", "0", "--rules-only", "--out", str(out)]
    assert main([str(scene), "--area", str(path), "--area-name", "Este", *args]) == 0
    assert len(gpd.read_file(out)) == 1  # the north-eastern strip
    with pytest.raises(SystemExit):
        main([str(scene), "--area-name", "Este", *args])
    assert "--area-name needs --area FILE" in capsys.readouterr().err


def test_cli_names_a_skipped_scene_once(tmp_path, capsys):
    unnamed = write_scene(tmp_path / "unnamed.tif", size=100)
    with rasterio.open(unnamed, "r+") as dst:
        dst.descriptions = (None,) * 6
    good = write_scene(tmp_path / "good.tif", size=100)
    out = tmp_path / "c.geojson"
    assert main([str(unnamed), str(good), "--no-aerodromes", "--workers", "0",
                 "--rules-only", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"skipped {unnamed}: cannot tell which band is which" in err


@pytest.mark.parametrize(("case", "error", "match"), [
    ("missing", DataNotFoundError, "no such file"),
    ("garbage", ConfigError, "cannot be read|GDAL reads it"),
    ("lines", ConfigError, "holds no polygon"),
    ("swapped", ConfigError, "a.geojson: .* swapped latitude and longitude"),
    ("metres-without-crs", ConfigError, "a.geojson: .* swapped latitude and longitude"),
])
def test_a_bad_area_file_is_refused_in_words(tmp_path, case, error, match):
    path = tmp_path / "a.geojson"
    if case == "garbage":
        path.write_bytes(b"\x00\x01 not a vector file")
    elif case == "lines":
        _write(path, gpd.GeoDataFrame(geometry=[LineString([(-74, -9), (-73, -8)])], crs=4326))
    elif case == "swapped":  # latitude first (Sinaloa, Mexico): -106 is not a latitude
        _write(path, gpd.GeoDataFrame(geometry=[box(24.0, -106.5, 24.5, -106.0)], crs=4326))
    elif case == "metres-without-crs":
        path.write_text(json.dumps({"type": "FeatureCollection", "features": [{
            "type": "Feature", "properties": {},
            "geometry": box(600000, 8950000, 610000, 8960000).__geo_interface__}]}))
    with pytest.raises(error, match=match):
        read_area(path)


def test_cli_area_keeps_the_strips_inside_and_skips_a_scene_outside(scene, tmp_path, capsys):
    west = tmp_path / "west.geojson"
    _write(west, gpd.GeoDataFrame(geometry=[_in_degrees(_utm_box(0, 0, 3000, 6000))], crs=4326))
    out = tmp_path / "c.geojson"
    args = ["--no-aerodromes", "--workers", "0", "--rules-only", "--out", str(out)]
    far = write_scene(tmp_path / "far.tif", size=200)
    with rasterio.open(far, "r+") as dst:  # the same pixels 300 km further east
        dst.transform = dst.transform @ Affine.translation(30000, 0)
    assert main([str(scene), str(far), "--area", str(west), *args]) == 0
    err = capsys.readouterr().err
    assert f"skipped {far}: it does not reach the area ({west})" in err
    assert len(gpd.read_file(out)) == 2
    assert main([str(far), "--area", str(west), *args]) == 1
    assert f"error: no readable scene reaches the area ({west})" in capsys.readouterr().err
    assert main([str(scene), "--area", str(tmp_path / "none.geojson"), *args]) == 2
    assert "none.geojson: no such file" in capsys.readouterr().err


def test_the_edge_margin_covers_the_longest_candidate():
    """Any candidate overlapping a strip that far inside has its centre in the area."""
    assert DetectionParams().permissive().max_length_m / 2 <= EDGE_MARGIN_M


def test_tracking_in_an_area_calls_no_strip_gone_near_its_edge():
    frames = [_frame("2022-01-01", [(0.0, 1.0), (0.10, 1.0)]),
              _frame("2023-01-01", [(0.05, 1.0)])]
    cands = pd.concat(frames, ignore_index=True)
    # the area's east edge passes 150 m east of the second strip's end (-74.492)
    area = box(-74.7, -9.5, -74.4906, -9.3)
    whole = track_candidates(cands)
    inside = track_candidates(cands, area=area)
    for out in (whole, inside):
        out["west"] = out.geometry.bounds["minx"].round(3)
    states = dict(zip(whole["west"], whole["state"], strict=True))
    assert states == {-74.6: "destroyed", -74.55: "new", -74.5: "destroyed"}
    states = dict(zip(inside["west"], inside["state"], strict=True))
    assert states[-74.6] == "destroyed"  # deep inside: the area saw it gone
    assert states[-74.5] != "destroyed"  # a sighting centred 150 m east was left out
    near = inside.set_index("west").loc[-74.5]
    assert near["unobserved"] == "2023-01-01"


_COORD = st.floats(-200, 200, allow_nan=False)


@settings(max_examples=150, deadline=None)
@given(rings=st.lists(st.lists(st.tuples(_COORD, _COORD), min_size=3, max_size=8),
                      min_size=1, max_size=3),
       extra=st.sampled_from(["none", "point", "line"]))
def test_check_area_gives_a_valid_polygon_in_range_or_a_clear_refusal(rings, extra):
    from shapely.geometry import GeometryCollection, Polygon

    parts = [Polygon(r) for r in rings]  # bow ties, slivers and zero areas included
    if extra == "point":
        parts.append(Point(0, 0))
    elif extra == "line":
        parts.append(LineString([(0, 0), (1, 1)]))
    try:
        area = check_area(GeometryCollection(parts))
    except ConfigError as exc:
        refused = str(exc)
    else:
        refused = ""
    if refused:
        assert "holds no polygon" in refused or "swapped latitude and longitude" in refused
        return
    assert area.is_valid
    assert not area.is_empty
    assert area.geom_type in ("Polygon", "MultiPolygon")
    west, south, east, north = area.bounds
    assert -180 <= west <= east <= 360  # geo.filters.check_aoi: 180-360 for the antimeridian
    assert -90 <= south <= north <= 90
