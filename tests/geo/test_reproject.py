"""Scenes in degrees (EPSG:4326, as Earth Engine exports them) put onto a UTM grid and detected."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pyproj
import pytest
import rasterio
from hypothesis import given, settings
from hypothesis import strategies as st
from rasterio.enums import Resampling
from rasterio.warp import reproject, transform_bounds

from geo.detect.__main__ import main
from geo.detect.scene import detect_scene
from geo.errors import CRSError, ImageryError
from geo.imagery import gdal_process_environment, read_scene_info, read_window
from geo.reproject import projected_scenes, reproject_scene, utm_grid
from tests.geo.test_detect import ONE_STRIP, _the_one_strip, write_scene


@pytest.fixture(autouse=True)
def _restore_environment(monkeypatch):
    """Pre-set the GDAL variables `main` sets, so that monkeypatch removes them afterwards."""
    for key, value in gdal_process_environment().items():
        monkeypatch.setenv(key, value)


def to_degrees(src_path: Path, out: Path, *, resampling: Resampling = Resampling.nearest,
               scale: float = 1.0) -> Path:
    """Export a UTM scene to EPSG:4326 as a portal does (square degrees, ``scale`` x coarser)."""
    with rasterio.open(src_path) as src:
        west, south, east, north = transform_bounds(src.crs, "EPSG:4326", *src.bounds)
        deg = min((east - west) / src.width, (north - south) / src.height) * scale
        profile = {**src.profile, "crs": "EPSG:4326",
                   "transform": rasterio.transform.from_origin(west, north, deg, deg),
                   "width": math.ceil((east - west) / deg),
                   "height": math.ceil((north - south) / deg)}
        with rasterio.open(out, "w", **profile) as dst:
            for b in range(1, src.count + 1):
                reproject(rasterio.band(src, b), rasterio.band(dst, b), resampling=resampling)
            dst.descriptions = src.descriptions
            dst.update_tags(**src.tags())
    return out


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
    to_utm = pyproj.Transformer.from_crs(4326, grid.epsg, always_xy=True)
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
    readable, done, failed = projected_scenes(
        [str(utm), str(text), str(tmp_path / "missing.tif"), str(scene_in_degrees)],
        tmp_path / "w")
    assert list(readable) == [str(utm), str(text), str(tmp_path / "missing.tif"),
                              str(scene_in_degrees)]
    assert readable[str(utm)] == str(utm)
    assert readable[str(text)] == str(text)
    assert readable[str(scene_in_degrees)] == str(tmp_path / "w" / "3" / "s_2024-08-02.tif")
    assert [p for p, _ in done] == [str(scene_in_degrees)]
    assert failed == []
    with rasterio.open(readable[str(scene_in_degrees)]) as src:
        assert src.crs.to_epsg() == 32718
