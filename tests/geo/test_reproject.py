"""Scenes in degrees or in Web Mercator put onto a UTM grid and detected.

Earth Engine exports scenes in EPSG:4326; web portals often in EPSG:3857.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import rasterio
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from rasterio.enums import Resampling
from rasterio.warp import reproject, transform_bounds
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from geo.detect.__main__ import main
from geo.detect.params import DetectionParams
from geo.detect.scene import detect_scene
from geo.errors import CRSError, ImageryError
from geo.imagery import gdal_process_environment, read_scene_info, read_window
from geo.reproject import (
    needs_reprojection,
    projected_scenes,
    reproject_scene,
    scale_error,
    utm_grid,
)
from tests.geo.test_detect import ONE_STRIP, _the_one_strip, write_scene


@pytest.fixture(autouse=True)
def _restore_environment(monkeypatch):
    """Pre-set the GDAL variables `main` sets, so that monkeypatch removes them afterwards."""
    for key, value in gdal_process_environment().items():
        monkeypatch.setenv(key, value)


def to_degrees(src_path: Path, out: Path, *, resampling: Resampling = Resampling.nearest,
               scale: float = 1.0) -> Path:
    """Export a UTM scene to EPSG:4326 as a portal does (square degrees, ``scale`` x coarser)."""
    return _export(src_path, out, "EPSG:4326", resampling=resampling, scale=scale)


def to_web_mercator(src_path: Path, out: Path) -> Path:
    """Export a UTM scene to EPSG:3857 as a web portal does (square "metres" of Mercator)."""
    return _export(src_path, out, "EPSG:3857", resampling=Resampling.nearest, scale=1.0)


def _export(src_path: Path, out: Path, crs: str, *, resampling: Resampling,
            scale: float) -> Path:
    """Resample a scene onto square pixels of ``crs`` over its bounds (``scale`` x coarser)."""
    with rasterio.open(src_path) as src:
        west, south, east, north = transform_bounds(src.crs, crs, *src.bounds)
        cell = min((east - west) / src.width, (north - south) / src.height) * scale
    return copy_on_grid(src_path, out, crs, rasterio.transform.from_origin(west, north, cell,
                                                                           cell),
                        math.ceil((east - west) / cell), math.ceil((north - south) / cell),
                        resampling=resampling)


def copy_on_grid(src_path: Path, out: Path, crs: object, transform: Affine, width: int,
                 height: int, *, resampling: Resampling = Resampling.bilinear) -> Path:
    """Resample a scene onto any grid (rotated, in feet...), as some software writes them."""
    with rasterio.open(src_path) as src:
        profile = {**src.profile, "crs": crs, "transform": transform, "width": width,
                   "height": height}
        with rasterio.open(out, "w", **profile) as dst:
            for b in range(1, src.count + 1):
                reproject(rasterio.band(src, b), rasterio.band(dst, b), resampling=resampling)
            dst.descriptions = src.descriptions
            dst.update_tags(**src.tags())
    return out


@pytest.fixture
def scene_in_web_mercator(tmp_path: Path) -> Path:
    """Return the one-strip scene moved to 34 S (UTM 21S, the Rio de la Plata), in 3857."""
    (tmp_path / "utm").mkdir()
    utm = write_scene(tmp_path / "utm" / "m_2024-08-02.tif", strips=ONE_STRIP, size=200,
                      crs="EPSG:32721")
    with rasterio.open(utm, "r+") as dst:
        dst.transform = Affine(10.0, 0.0, 350_000.0, 0.0, -10.0, 6_240_000.0)
    return to_web_mercator(utm, tmp_path / "m_2024-08-02.tif")


@pytest.fixture
def scene_in_degrees(tmp_path: Path) -> Path:
    (tmp_path / "utm").mkdir()
    utm = write_scene(tmp_path / "utm" / "s_2024-08-02.tif", strips=ONE_STRIP, size=200)
    return to_degrees(utm, tmp_path / "s_2024-08-02.tif")


def _degrees_profile(lon: float, lat: float, deg: float, width: int, height: int) -> dict:
    return {"driver": "GTiff", "dtype": "uint16", "count": 1, "width": width, "height": height,
            "crs": "EPSG:4326", "nodata": 0,
            "transform": rasterio.transform.from_origin(lon, lat, deg, deg)}


@settings(max_examples=40, deadline=None)
@given(lon=st.floats(-117.0, -34.5), lat=st.floats(-55.0, 32.0),
       deg=st.sampled_from([8.983e-5, 1e-4, 2.7e-4]), width=st.integers(1, 3000),
       height=st.integers(1, 3000))
def test_the_utm_grid_covers_the_scene_with_square_pixels_of_its_ground_size(
        tmp_path_factory, lon, lat, deg, width, height):
    path = tmp_path_factory.mktemp("g") / "g.tif"
    with rasterio.open(path, "w", **_degrees_profile(lon, lat, deg, width, height)):
        pass
    with rasterio.open(path) as src:
        grid = utm_grid(src)
        bounds = src.bounds
    centre_lon = lon + width * deg / 2
    centre_lat = lat - height * deg / 2
    assert grid.epsg == (32600 if centre_lat >= 0 else 32700) + int((centre_lon + 180) // 6) + 1
    # the smaller ground side of a source pixel at the centre, within 0.5 %
    ground = min(deg * 111_320 * math.cos(math.radians(centre_lat)), deg * 110_574)
    assert grid.res_m == pytest.approx(ground, rel=5e-3)
    assert grid.transform.a == -grid.transform.e == grid.res_m
    _assert_covers(grid, bounds, 4326)


def _assert_covers(grid, bounds, crs) -> None:
    """Check that the UTM grid holds every corner of the source's ``bounds`` (in ``crs``)."""
    to_utm = pyproj.Transformer.from_crs(crs, grid.epsg, always_xy=True)
    x0, y1 = grid.transform.c, grid.transform.f
    x1, y0 = x0 + grid.width * grid.res_m, y1 - grid.height * grid.res_m
    for x, y in (to_utm.transform(a, b) for a in (bounds.left, bounds.right)
                 for b in (bounds.bottom, bounds.top)):
        assert x0 - 1e-6 <= x <= x1 + 1e-6
        assert y0 - 1e-6 <= y <= y1 + 1e-6


def test_a_scene_wider_than_a_zone_and_a_half_is_refused(tmp_path):
    path = tmp_path / "wide.tif"
    with rasterio.open(path, "w", **_degrees_profile(-80.0, -5.0, 0.01, 700, 10)):
        pass
    with rasterio.open(path) as src, pytest.raises(CRSError, match=r"at most 6\. Clip or split"):
        utm_grid(src)


@pytest.mark.parametrize(("lat", "deg", "why"), [
    (89.99, 1e-4, r"lies at 90\.0 degrees of latitude, beyond the UTM zones"),
    (-81.0, 1e-4, r"lies at -81\.0 degrees of latitude, beyond the UTM zones"),
    (-9.0, 1e-10, r"has pixels under a centimetre on the ground"),
], ids=["north-pole", "antarctica", "sub-centimetre"])
def test_a_scene_no_utm_grid_can_hold_is_refused_in_words(tmp_path, lat, deg, why):
    """Near a pole, the cosine of the latitude made a pixel of 0 m and then a division by 0."""
    path = tmp_path / "far.tif"
    with rasterio.open(path, "w", **_degrees_profile(-60.0, lat, deg, 50, 50)):
        pass
    with rasterio.open(path) as src, pytest.raises(CRSError, match=why):
        utm_grid(src)


def test_the_command_skips_a_polar_scene_without_a_traceback(tmp_path, capsys):
    path = tmp_path / "pole.tif"
    with rasterio.open(path, "w", **_degrees_profile(10.0, 89.99, 1e-4, 50, 50)) as dst:
        dst.write(np.full((1, 50, 50), 900, dtype=np.uint16))
    assert main([str(path), "--out", str(tmp_path / "c.geojson"), "--workers", "0",
                 "--no-aerodromes"]) == 1
    err = capsys.readouterr().err
    assert f"skipped {path}: cannot reproject it to UTM: " in err
    assert "beyond the UTM zones" in err
    assert "Traceback" not in err


def test_caps_are_checked_before_any_pixel_is_written(tmp_path):
    """At 50 S square degrees are 1.6 times as tall as wide: the copy holds more pixels."""
    path = tmp_path / "patagonia.tif"
    with rasterio.open(path, "w", **_degrees_profile(-70.0, -50.0, 1e-4, 100, 100)) as dst:
        dst.write(np.full((1, 100, 100), 900, dtype=np.uint16))
    out = tmp_path / "out.tif"
    with pytest.raises(ImageryError, match=r"declares 100 x 100 x 1 uint16"):
        reproject_scene(path, out, max_bytes=19_999)
    with pytest.raises(ImageryError, match=r"would hold 0\.0 GB decoded once on the UTM grid"):
        reproject_scene(path, out, max_bytes=20_000)
    assert not out.exists()
    grid = reproject_scene(path, out, max_bytes=40_000)
    assert 1.5 < grid.height / 100 < 1.7


def test_a_strip_in_a_scene_in_degrees_is_found_and_measured(scene_in_degrees, tmp_path):
    with pytest.raises(CRSError, match="expected a projected CRS in metres"):
        read_scene_info(scene_in_degrees)  # the detector itself still refuses degrees
    out = tmp_path / "projected" / scene_in_degrees.name
    out.parent.mkdir()
    grid = reproject_scene(scene_in_degrees, out)
    assert grid.epsg == 32718
    info = read_scene_info(out)
    assert (info.epsg, info.res_m, info.acquired.isoformat()) == (32718, grid.res_m,
                                                                   "2024-08-02")
    assert info.roles.has("blue", "green", "red", "nir", "swir1", "swir2")
    with rasterio.open(scene_in_degrees) as src, rasterio.open(out) as dst:
        assert dst.descriptions == src.descriptions
        assert dst.tags()["ACQUISITION_DATE"] == "2024-08-02"
        assert (dst.nodata, dst.dtypes[0]) == (src.nodata, "uint16")
        assert dst.profile["tiled"]
        assert dst.profile["compress"] == "deflate"
    # the corners of the UTM grid outside the source are nodata, not forest
    data = read_window(info, rasterio.windows.Window(0, 0, info.width, info.height))
    assert 0.0 < (~data.valid).mean() < 0.2
    assert not data.valid[0, 0] or not data.valid[-1, -1]
    _the_one_strip(detect_scene(str(out)), width_tol_m=8.0)


def test_blocks_of_rows_write_the_same_pixels_as_one_block(scene_in_degrees, tmp_path):
    one, small = tmp_path / "one.tif", tmp_path / "small.tif"
    reproject_scene(scene_in_degrees, one, block_rows=100_000)
    reproject_scene(scene_in_degrees, small, block_rows=7)
    with rasterio.open(one) as a, rasterio.open(small) as b:
        assert a.transform == b.transform
        np.testing.assert_array_equal(a.read(), b.read())


def test_the_copy_reports_its_rows_and_a_raising_callback_stops_it(scene_in_degrees,
                                                                  tmp_path):
    seen: list[tuple[int, int]] = []
    grid = reproject_scene(scene_in_degrees, tmp_path / "a.tif", block_rows=50,
                           on_rows=lambda done, total: seen.append((done, total)))
    assert seen == [(min(r + 50, grid.height), grid.height)
                    for r in range(0, grid.height, 50)]

    class StopError(Exception):
        pass

    def stop(done: int, total: int) -> None:
        if done >= 100:
            raise StopError

    with pytest.raises(StopError):  # a cancelled job: no more rows are warped
        reproject_scene(scene_in_degrees, tmp_path / "b.tif", block_rows=50, on_rows=stop)


def test_a_class_band_keeps_its_codes(tmp_path):
    """Spectral bands are interpolated (cubic); a cloud mask only ever holds its codes."""
    path = tmp_path / "c.tif"
    rng = np.random.default_rng(3)
    profile = {**_degrees_profile(-74.0, -9.0, 1e-4, 300, 300), "count": 2}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(rng.integers(100, 3000, (300, 300), dtype=np.uint16), 1)
        dst.write((rng.random((300, 300)) < 0.3).astype(np.uint16) * 255, 2)
        dst.descriptions = ("red", "clouds")
    out = tmp_path / "out.tif"
    reproject_scene(path, out, bands={"red": 1, "cloud": 2})
    with rasterio.open(out) as src:
        red, cloud = src.read(1), src.read(2)
    assert set(np.unique(cloud)) <= {0, 255}
    assert len(np.unique(red)) > len(np.unique(cloud)) + 100  # interpolated values too


def test_the_command_reprojects_scenes_in_degrees_and_names_them_as_given(
        scene_in_degrees, tmp_path, capsys):
    utm = write_scene(tmp_path / "utm.tif", strips=ONE_STRIP)
    wide = tmp_path / "wide.tif"
    with rasterio.open(wide, "w", **_degrees_profile(-80.0, -5.0, 0.01, 700, 10)):
        pass
    out, work = tmp_path / "c.geojson", tmp_path / "work"
    assert main([str(scene_in_degrees), str(wide), str(utm), "--out", str(out),
                 "--workers", "0", "--rules-only", "--no-aerodromes",
                 "--work-dir", str(work)]) == 0
    err = capsys.readouterr().err
    assert f"reprojected {scene_in_degrees} onto EPSG:32718 at " in err
    assert "reproject s_2024-08-02.tif: 100%" in err  # its bar of rows (a long copy)
    assert f"skipped {wide}: cannot reproject it to UTM: " in err
    assert "at most 6. Clip or split it first" in err
    scenes = [f["properties"]["scene"] for f in json.loads(out.read_text())["features"]]
    assert sorted(scenes) == ["s_2024-08-02.tif", "utm.tif"]
    assert [p.name for p in work.rglob("*.tif")] == ["s_2024-08-02.tif"]  # kept there


def test_the_command_removes_its_temporary_copies(scene_in_degrees, tmp_path, monkeypatch,
                                                  capsys):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    before = write_scene(tmp_path / "b_2023-07-15.tif", date="2023-07-15")  # UTM, no strip
    out = tmp_path / "c.geojson"
    assert main([str(before), str(scene_in_degrees), "--out", str(out), "--workers", "0",
                 "--rules-only", "--no-aerodromes", "--track"]) == 0
    assert "reprojected" in capsys.readouterr().err
    features = json.loads(out.read_text())["features"]
    # tracked across the two grids: clear ground in 2023, the strip in 2024
    assert [(f["properties"]["scene"], f["properties"]["state"],
             f["properties"]["first_seen"][:10]) for f in features] == [
        ("s_2024-08-02.tif", "new", "2024-08-02")]
    assert list((tmp_path / "tmp").iterdir()) == []


def test_projected_scenes_leaves_the_rest_to_the_detector(scene_in_degrees, tmp_path):
    utm = write_scene(tmp_path / "utm.tif")
    text = tmp_path / "notes.tif"
    text.write_text("not a GeoTIFF")
    readable, done, failed, outside = projected_scenes(
        [str(utm), str(text), str(tmp_path / "missing.tif"), str(scene_in_degrees)],
        tmp_path / "w")
    assert outside == []  # no area asked for
    assert list(readable) == [str(utm), str(text), str(tmp_path / "missing.tif"),
                              str(scene_in_degrees)]
    assert readable[str(utm)] == str(utm)
    assert readable[str(text)] == str(text)
    assert readable[str(scene_in_degrees)] == str(tmp_path / "w" / "3" / "s_2024-08-02.tif")
    assert [p for p, _ in done] == [str(scene_in_degrees)]
    assert failed == []
    with rasterio.open(readable[str(scene_in_degrees)]) as src:
        assert src.crs.to_epsg() == 32718


def test_web_mercator_metres_are_not_ground_metres(scene_in_web_mercator, tmp_path):
    """At 34 S a Web Mercator "metre" is 0.83 m on the ground.

    Read as it is, the 800 x 20 m strip measured 981 m (2026-12-06); on the UTM grid, 820.
    """
    with rasterio.open(scene_in_web_mercator) as src:
        assert needs_reprojection(src)
        assert scale_error(src) == pytest.approx(1 / math.cos(math.radians(34.0)) - 1, abs=0.01)
        grid = utm_grid(src)
        ground = src.transform.a * math.cos(math.radians(
            pyproj.Transformer.from_crs(3857, 4326, always_xy=True).transform(
                *src.xy(src.height / 2, src.width / 2))[1]))
    assert grid.epsg == 32721
    assert grid.res_m == pytest.approx(ground, abs=0.01)  # the source pixel's ground size
    assert grid.res_m == pytest.approx(10.0, rel=0.03)  # the portal's, a little coarser
    as_it_is = detect_scene(str(scene_in_web_mercator), scorer=None)
    assert as_it_is.length_m.max() > 900.0  # what reading the CRS's metres as ground gives
    out = tmp_path / "c.geojson"
    assert main([str(scene_in_web_mercator), "--out", str(out), "--workers", "0",
                 "--rules-only", "--no-aerodromes", "--work-dir", str(tmp_path / "w")]) == 0
    found = gpd.read_file(out)
    assert found["scene"].tolist() == [scene_in_web_mercator.name]
    _the_one_strip(found, width_tol_m=8.0)


def test_a_scene_in_its_own_utm_zone_is_left_as_it_is(tmp_path):
    """0.9996 on the central meridian, about 1.001 at a zone's edge: within 1 %."""
    path = write_scene(tmp_path / "utm.tif")
    with rasterio.open(path) as src:
        assert scale_error(src) < 1e-3
        assert not needs_reprojection(src)
    far = write_scene(tmp_path / "far.tif")  # the same grid read 20 degrees off its zone
    with rasterio.open(far, "r+") as dst:
        dst.transform = Affine(10.0, 0.0, 2_700_000.0, 0.0, -10.0, 8_960_000.0)
    with rasterio.open(far) as src:
        assert scale_error(src) > 0.05
        assert needs_reprojection(src)


@settings(max_examples=30, deadline=None)
@given(lon=st.floats(-117.0, -34.5), lat=st.floats(-55.0, 32.0),
       size_m=st.sampled_from([10.0, 30.0]), width=st.integers(1, 2000),
       height=st.integers(1, 2000))
def test_the_utm_grid_of_a_web_mercator_scene_has_its_ground_pixel(
        tmp_path_factory, lon, lat, size_m, width, height):
    """Any Latin American scene exported in Web Mercator at a 10 or 30 m ground pixel."""
    to_m = pyproj.Transformer.from_crs(4326, 3857, always_xy=True)
    x, y = to_m.transform(lon, lat)
    cell = size_m / math.cos(math.radians(lat))  # Mercator metres of one ground pixel there
    path = tmp_path_factory.mktemp("m") / "m.tif"
    profile = {"driver": "GTiff", "dtype": "uint16", "count": 1, "width": width,
               "height": height, "crs": "EPSG:3857",
               "transform": rasterio.transform.from_origin(x, y, cell, cell)}
    with rasterio.open(path, "w", **profile):
        pass
    with rasterio.open(path) as src:
        centre_lat = to_m.transform(*src.xy(height / 2, width / 2), direction="INVERSE")[1]
        if scale_error(src) <= 0.01:  # its metres within 1 % of the ground's: kept as it is
            assert scale_error(src) == pytest.approx(
                1 / math.cos(math.radians(centre_lat)) - 1, abs=1e-6)
            assert not needs_reprojection(src)
            assert abs(centre_lat) < 8.2
            return
        grid = utm_grid(src)
        bounds = src.bounds
    # the pixel's ground size at the scene's centre (not at its corner), within 0.5 %
    ground = cell * math.cos(math.radians(centre_lat))
    assert grid.res_m == pytest.approx(ground, rel=5e-3)
    _assert_covers(grid, bounds, 3857)


def _detect_through_the_command(path: Path, tmp_path: Path, capsys) -> gpd.GeoDataFrame:
    out = tmp_path / "c.geojson"
    assert main([str(path), "--out", str(out), "--workers", "0", "--rules-only",
                 "--no-aerodromes", "--work-dir", str(tmp_path / "w")]) == 0
    assert f"reprojected {path} onto EPSG:32718 at " in capsys.readouterr().err
    return gpd.read_file(out)


def test_a_rotated_grid_is_put_north_up_and_its_strip_measured(tmp_path, capsys):
    """Pixels turned 25 degrees (the detector itself refuses them): measured on UTM."""
    (tmp_path / "utm").mkdir()
    utm = write_scene(tmp_path / "utm" / "r.tif", strips=ONE_STRIP, size=200)
    # 290 px square turned about the scene's centre: it holds the whole scene
    turn = (Affine.translation(601_000.0, 8_959_000.0) @ Affine.rotation(-25.0)
            @ Affine.translation(-1_450.0, 1_450.0) @ Affine.scale(10.0, -10.0))
    rotated = copy_on_grid(utm, tmp_path / "r.tif", "EPSG:32718", turn, 290, 290)
    with rasterio.open(rotated) as src:
        assert needs_reprojection(src)
        assert src.transform.b != 0
        grid = utm_grid(src)
    assert grid.res_m == 10.0
    _the_one_strip(_detect_through_the_command(rotated, tmp_path, capsys), width_tol_m=8.0)


def test_a_grid_in_feet_is_put_in_metres_and_its_strip_measured(tmp_path, capsys):
    """UTM 18S in US survey feet: 32.8 ft pixels are the 10 m ones."""
    (tmp_path / "utm").mkdir()
    utm = write_scene(tmp_path / "utm" / "f.tif", strips=ONE_STRIP, size=200)
    feet = "+proj=utm +zone=18 +south +datum=WGS84 +units=us-ft +no_defs"
    ft = 1200 / 3937  # metres in a US survey foot
    cell = Affine(10.0 / ft, 0.0, 600_000.0 / ft, 0.0, -10.0 / ft, 8_960_000.0 / ft)
    in_feet = copy_on_grid(utm, tmp_path / "f.tif", feet, cell, 200, 200)
    with rasterio.open(in_feet) as src:
        assert needs_reprojection(src)
        assert utm_grid(src).res_m == 10.0
    with pytest.raises(CRSError, match="expected a projected CRS in metres"):
        read_scene_info(in_feet)  # the detector itself still refuses feet
    _the_one_strip(_detect_through_the_command(in_feet, tmp_path, capsys), width_tol_m=8.0)


def test_ground_control_points_and_a_scene_off_the_globe_are_refused_in_words(tmp_path):
    from rasterio.control import GroundControlPoint

    path = tmp_path / "gcps.tif"
    with pytest.warns(rasterio.errors.NotGeoreferencedWarning), rasterio.open(
            path, "w", driver="GTiff", width=30, height=30, count=1, dtype="uint16") as dst:
        dst.gcps = ([GroundControlPoint(0, 0, 500_000, 9_000_000),
                     GroundControlPoint(30, 0, 500_300, 9_000_000),
                     GroundControlPoint(0, 30, 500_000, 8_999_700)], "EPSG:32718")
    with pytest.raises(CRSError, match="placed by ground control points, not by a grid"):
        read_scene_info(path, bands={"red": 1})
    off = tmp_path / "off.tif"
    with rasterio.open(off, "w", **_degrees_profile(179.99, -16.0, 1e-3, 30, 30)):
        pass
    with rasterio.open(off) as src, pytest.raises(CRSError, match=r"longitude 180\.005, off"):
        utm_grid(src)


def test_a_crs_proj_cannot_measure_is_refused_in_words(tmp_path, monkeypatch):
    import geo.reproject

    path = tmp_path / "ft.tif"
    profile = {"driver": "GTiff", "dtype": "uint16", "count": 1, "width": 20, "height": 20,
               "crs": "+proj=utm +zone=18 +south +datum=WGS84 +units=us-ft +no_defs",
               "transform": Affine(32.8, 0.0, 1_968_500.0, 0.0, -32.8, 29_396_000.0)}
    with rasterio.open(path, "w", **profile):
        pass

    def no_factors(*_: object) -> tuple[float, float]:
        raise pyproj.exceptions.ProjError("no scale factors here")

    monkeypatch.setattr(geo.reproject, "ground_scale", no_factors)
    with rasterio.open(path) as src:
        assert needs_reprojection(src)  # in feet: whatever the scale
        with pytest.raises(CRSError, match=r"ground distances cannot be worked out \(no scale"):
            utm_grid(src)


# -- a detection in an area of interest resamples only the rows its windows read --------------

#: Small windows, so that a 600 px scene is cut into 4 x 4 of them.
AREA_PARAMS = DetectionParams(window_px=192, overlap_px=80)
AREA_STRIPS = ((800.0, 700.0, 600.0, 20.0, 30.0), (2600.0, 2700.0, 700.0, 15.0, 120.0),
               (1800.0, 4600.0, 500.0, 25.0, 90.0), (4000.0, 5000.0, 900.0, 18.0, 75.0))


@pytest.fixture
def big_scene_in_degrees(tmp_path: Path) -> Path:
    (tmp_path / "utm").mkdir()
    utm = write_scene(tmp_path / "utm" / "b_2024-08-02.tif", strips=AREA_STRIPS, size=600)
    return to_degrees(utm, tmp_path / "b_2024-08-02.tif")


def _band_of_the_scene(scene: Path, top: float, bottom: float) -> BaseGeometry:
    """Return the scene's footprint from ``top`` to ``bottom`` (shares of its height)."""
    with rasterio.open(scene) as src:
        w, s, e, n = src.bounds
    return box(w, n - bottom * (n - s), e, n - top * (n - s))


def test_an_area_run_on_its_rows_finds_what_it_finds_on_the_whole_copy(big_scene_in_degrees,
                                                                        tmp_path):
    from geo.detect.area import area_rows
    from geo.detect.run import detect_scenes

    area = _band_of_the_scene(big_scene_in_degrees, 0.0, 0.5)  # the two northern strips
    with rasterio.open(big_scene_in_degrees) as src:
        grid = utm_grid(src)
    first, end = area_rows(grid, area, AREA_PARAMS)
    assert 0 <= first < end < grid.height  # some windows, not all: fewer rows to resample
    whole, part = tmp_path / "whole" / "b_2024-08-02.tif", tmp_path / "part" / "b_2024-08-02.tif"
    whole.parent.mkdir()
    part.parent.mkdir()
    reproject_scene(big_scene_in_degrees, whole)
    made = reproject_scene(big_scene_in_degrees, part, rows=(first, end))
    assert (made.width, made.height) == (grid.width, end - first)
    with rasterio.open(whole) as a, rasterio.open(part) as b:  # the same pixels
        np.testing.assert_array_equal(a.read(window=((first, end), (0, grid.width))), b.read())
        assert b.transform.almost_equals(a.transform @ Affine.translation(0, first))
    on_whole = detect_scenes([str(whole)], params=AREA_PARAMS, area=area).candidates
    on_part = detect_scenes([str(part)], params=AREA_PARAMS, area=area).candidates
    assert len(on_whole) >= 2
    assert len(on_part) == len(on_whole)
    for a, b in zip(on_whole.geometry, on_part.geometry, strict=True):
        assert a.equals_exact(b, 1e-9)  # degrees: the same rectangles
    columns = [c for c in on_whole.columns if c != "geometry"]
    pd.testing.assert_frame_equal(pd.DataFrame(on_whole[columns]),
                                  pd.DataFrame(on_part[columns]))
    # an area that misses the scene reads none of its rows
    assert area_rows(grid, box(10.0, 10.0, 11.0, 11.0), AREA_PARAMS) == (0, 0)


def test_the_command_resamples_only_the_rows_an_area_reads(tmp_path, capsys):
    (tmp_path / "utm").mkdir()
    utm = write_scene(tmp_path / "utm" / "t_2024-08-02.tif", strips=ONE_STRIP, size=1300)
    scene = to_degrees(utm, tmp_path / "t_2024-08-02.tif")
    north = tmp_path / "north.geojson"
    gpd.GeoDataFrame(geometry=[_band_of_the_scene(scene, 0.0, 0.2)], crs=4326).to_file(north)
    out = tmp_path / "c.geojson"
    assert main([str(scene), "--out", str(out), "--workers", "0", "--rules-only",
                 "--no-aerodromes", "--area", str(north)]) == 0
    err = capsys.readouterr().err
    with rasterio.open(scene) as src:
        grid = utm_grid(src)
    # the windows of the northern fifth: the first row of 1024 px windows, not the scene's
    # 1,300-odd rows
    assert f"({grid.width} x 1024 px of the rows the area's windows read)" in err
    # an area the scene does not reach: nothing resampled, said as the detector says it
    far = tmp_path / "far.geojson"
    gpd.GeoDataFrame(geometry=[box(10.0, 10.0, 11.0, 11.0)], crs=4326).to_file(far)
    work = tmp_path / "work"
    assert main([str(scene), "--out", str(out), "--workers", "0", "--rules-only",
                 "--no-aerodromes", "--area", str(far), "--work-dir", str(work)]) == 1
    err = capsys.readouterr().err
    assert f"skipped {scene}: it does not reach the area ({far})" in err
    assert f"error: no readable scene reaches the area ({far})" in err
    assert not list(work.rglob("*.tif"))
