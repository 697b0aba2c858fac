"""Hostile rasters get a clear ImageryError, never a crash or a memory blow-up."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.windows import Window

from geo.errors import ImageryError
from geo.imagery import gdal_process_environment, read_scene_info, read_window
from tests.conftest import ROOT
from tests.geo.test_detect import ONE_STRIP, write_scene
from tests.geo.test_detect_dask import corrupt_copy

UTM = {"crs": "EPSG:32718", "transform": Affine(10.0, 0.0, 600000.0, 0.0, -10.0, 8960000.0)}


def empty_tiff(path: Path, **profile: object) -> Path:
    """Write a GeoTIFF that declares a size but stores (almost) nothing: sparse blocks."""
    base = {"driver": "GTiff", "dtype": "uint16", "count": 1, "sparse_ok": True, **UTM}
    with rasterio.open(path, "w", **{**base, **profile}):
        pass
    return path


def test_a_huge_declared_size_is_refused_before_reading(tmp_path):
    path = empty_tiff(tmp_path / "huge.tif", width=100_000, height=100_000, count=4,
                      tiled=True, blockxsize=512, blockysize=512, compress="deflate")
    assert path.stat().st_size < 5_000_000
    with pytest.raises(ImageryError, match=r"declares 100000 x 100000 x 4 uint16 = 80\.0 GB"):
        read_scene_info(path)


def test_one_huge_block_is_refused(tmp_path):
    """A file stored as one strip would be decoded whole to read any window."""
    path = empty_tiff(tmp_path / "strip.tif", width=8000, height=8000, count=1,
                      blockysize=8000, compress="deflate")
    with pytest.raises(ImageryError, match=r"blocks of 128 MB decoded.*Re-tile it"):
        read_scene_info(path)


def test_complex_pixels_are_refused(tmp_path):
    path = empty_tiff(tmp_path / "complex.tif", width=64, height=64, dtype="complex64")
    with pytest.raises(ImageryError, match="complex64 pixels"):
        read_scene_info(path)


def test_a_corrupt_block_is_an_imagery_error(tmp_path):
    good = write_scene(tmp_path / "good.tif", strips=ONE_STRIP)
    info = read_scene_info(corrupt_copy(good, tmp_path / "bad.tif"))  # the header is fine
    with pytest.raises(ImageryError, match=r"bad\.tif: cannot decode .*corrupt or truncated"):
        read_window(info, Window(0, 0, 200, 200))


def test_a_truncated_file_is_an_imagery_error(tmp_path):
    good = write_scene(tmp_path / "good.tif", strips=ONE_STRIP)
    cut = tmp_path / "cut.tif"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ImageryError, match=r"cut\.tif"):
        read_window(read_scene_info(cut), Window(0, 0, 200, 200))


def test_reading_a_window_does_not_read_the_scene(tmp_path):
    """Memory is bounded by the window, whatever the scene declares."""
    path = empty_tiff(tmp_path / "big.tif", width=40_000, height=40_000, count=6,
                      tiled=True, blockxsize=256, blockysize=256, nodata=0)
    with rasterio.open(path, "r+") as dst:
        dst.descriptions = ("blue", "green", "red", "nir", "swir1", "swir2")
    info = read_scene_info(path, max_bytes=20 * 1024**3)  # an explicit, higher cap
    data = read_window(info, Window(20_000, 20_000, 300, 200))
    assert data.bands["red"].shape == (200, 300)
    assert not data.valid.any()  # sparse blocks read as nodata


def test_gdal_skip_keeps_vrt_out_of_a_command(tmp_path):
    """With the command's environment, even an unrestricted open refuses a VRT."""
    target = write_scene(tmp_path / "secret.tif")
    vrt = tmp_path / "scene.tif"
    vrt.write_text(f'<VRTDataset rasterXSize="200" rasterYSize="200"><VRTRasterBand '
                   f'dataType="UInt16" band="1"><SimpleSource><SourceFilename>{target}'
                   '</SourceFilename><SourceBand>1</SourceBand></SimpleSource></VRTRasterBand>'
                   '</VRTDataset>')
    code = f"import rasterio; print(rasterio.open({str(vrt)!r}).driver)"
    bare = {k: v for k, v in os.environ.items() if not k.startswith("GDAL_")}
    plain = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env=bare, timeout=60, check=False)
    assert plain.stdout.strip() == "VRT"  # what GDAL does by default
    env = {**bare, **gdal_process_environment()}
    safe = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=60, check=False)
    assert safe.returncode != 0
    assert "not recognized as" in safe.stderr or "not recognised" in safe.stderr


def test_band_stack_read_equals_band_by_band(tmp_path):
    path = write_scene(tmp_path / "s.tif", strips=ONE_STRIP, nodata_bar=True)
    info = read_scene_info(path)
    data = read_window(info, Window(10, 20, 150, 120))
    with rasterio.open(path) as src:
        for role, idx in info.roles.pairs:
            expected = src.read(idx, window=Window(10, 20, 150, 120)).astype(np.float32)
            np.testing.assert_array_equal(data.bands[role], expected)
        assert (~data.valid).sum() == (src.read(1, window=Window(10, 20, 150, 120)) == 0).sum()


def test_non_finite_float_pixels_are_invalid_and_every_integer_pixel_is_finite(tmp_path):
    from rasterio.transform import from_origin

    roles = ("blue", "green", "red", "nir", "swir1")
    profile = {"driver": "GTiff", "width": 40, "height": 30, "count": 5, "crs": "EPSG:32718",
               "transform": from_origin(500_000, 8_800_000, 10, 10)}
    values = np.full((5, 30, 40), 900.0, dtype=np.float32)
    values[0, 3, 4], values[3, 7, 8], values[4, 9, 10] = np.nan, np.inf, 3.0e38
    for name, dtype in (("f.tif", "float32"), ("i.tif", "uint32")):
        data = values if dtype == "float32" else np.full((5, 30, 40), 4_000_000_000, np.uint32)
        with rasterio.open(tmp_path / name, "w", dtype=dtype, **profile) as dst:
            dst.write(data)
            dst.descriptions = roles
    floats = read_window(read_scene_info(tmp_path / "f.tif"), Window(0, 0, 40, 30))
    assert sorted(zip(*np.nonzero(~floats.valid), strict=True)) == [(3, 4), (7, 8)]
    ints = read_window(read_scene_info(tmp_path / "i.tif"), Window(0, 0, 40, 30))
    assert ints.valid.all()
    assert np.isfinite(ints.bands["nir"]).all()


def test_infinite_or_out_of_range_pixels_raise_no_numpy_warning(tmp_path):
    """They are invalid pixels; NumPy's warnings about them reached the command's output."""
    import warnings

    from rasterio.transform import from_origin

    from geo.detect.scene import detect_scene

    rng = np.random.default_rng(0)
    base = rng.uniform(500.0, 3000.0, (5, 120, 120))
    profile = {"driver": "GTiff", "width": 120, "height": 120, "count": 5, "crs": "EPSG:32718",
               "transform": from_origin(500_000, 8_800_000, 10, 10)}
    for name, dtype, bad in (("inf.tif", "float32", np.inf), ("huge.tif", "float64", 1e300)):
        data = np.where(rng.random(base.shape) < 0.2, bad, base).astype(dtype)
        with rasterio.open(tmp_path / name, "w", dtype=dtype, **profile) as dst:
            dst.write(data)
            dst.descriptions = ("blue", "green", "red", "nir", "swir1")
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            detect_scene(str(tmp_path / name), scorer=None)
