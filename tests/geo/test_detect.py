"""Runway detection on tiny synthetic GeoTIFFs with a real UTM CRS (EPSG:32718)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import box

from geo.detect.params import DetectionParams
from geo.detect.run import LOCAL_DASHBOARD, detect_scenes
from geo.detect.scene import detect_scene
from geo.detect.scorer import read_scorer
from geo.detect.track import track_candidates
from geo.errors import ConfigError, CRSError, ImageryError
from geo.imagery import iter_windows, parse_band_mapping, read_scene_info, read_window
from geo.sample.landscape import box_coverage
from tests.conftest import ROOT

FOREST = np.array([0.020, 0.045, 0.025, 0.300, 0.140, 0.060], dtype=np.float32)
STRIP = np.array([0.034, 0.056, 0.045, 0.140, 0.190, 0.090], dtype=np.float32)
ORIGIN = Affine(10.0, 0.0, 600000.0, 0.0, -10.0, 8960000.0)


def write_scene(path: Path, *, size: int = 200, strips: tuple[tuple[float, ...], ...] = (),
                rgb: bool = False, crs: str | None = "EPSG:32718", seed: int = 0,
                date: str = "2024-08-02", nodata_bar: bool = False,
                dtype: str = "uint16", res: float = 10.0) -> Path:
    """Forest with bare strips (cx_m, cy_m from the top-left, length, width, bearing).

    ``dtype``: "uint16" (counts, 10,000 per unit of reflectance, like Sentinel-2), "float32"
    (the same counts as floats) or "reflectance" (the same pixels in 0-1, float32). ``res``:
    pixel size in metres (``size`` is in pixels).
    """
    rng = np.random.default_rng(seed)
    img = FOREST[:, None, None] * (1 + 0.05 * rng.standard_normal((6, size, size)))
    for cx, cy, length, width, bearing in strips:
        cov = box_coverage((size, size), res, cx=cx, cy=cy, length=length, width=width,
                           bearing_deg=bearing)
        img += (STRIP[:, None, None] - img) * cov[None]
    data = np.clip(np.rint(img * 1e4), 1, 10000).astype(np.uint16)
    if nodata_bar:
        data[:, 100:103, 20:180] = 0
    if rgb:
        data = data[[2, 1, 0]]
    if dtype != "uint16":
        data = data.astype(np.float32) / np.float32(1e4 if dtype == "reflectance" else 1.0)
    names = ("red", "green", "blue") if rgb else ("blue", "green", "red", "nir", "swir1",
                                                   "swir2")
    profile = {"driver": "GTiff", "dtype": data.dtype.name, "count": len(names), "height": size,
               "width": size, "transform": ORIGIN @ Affine.scale(res / 10.0), "nodata": 0,
               "crs": crs}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
        dst.descriptions = names
        dst.update_tags(ACQUISITION_DATE=date)
    return path


ONE_STRIP = ((1000.0, 1000.0, 800.0, 20.0, 60.0),)


def _the_one_strip(out: gpd.GeoDataFrame, *, width_tol_m: float) -> pd.Series:
    """Return the only candidate, after checking it is measured as :data:`ONE_STRIP` is drawn."""
    assert len(out) == 1
    row = out.iloc[0]
    assert row.length_m == pytest.approx(800.0, abs=60.0)
    assert row.width_m == pytest.approx(20.0, abs=width_tol_m)
    assert row.bearing_deg == pytest.approx(60.0, abs=2.0)
    return row


@pytest.mark.parametrize("scorer", [None, "learned"], ids=["rules", "learned"])
def test_one_strip_one_candidate_with_its_size_and_bearing(tmp_path, scorer):
    path = write_scene(tmp_path / "s.tif", strips=ONE_STRIP)
    out = detect_scene(str(path), scorer=read_scorer() if scorer else None)
    row = _the_one_strip(out, width_tol_m=8.0)
    assert 0.0 <= row.score <= 1.0
    assert out.crs.to_epsg() == 4326
    assert "0.8 km long" in row.reason
    assert row.detected_at == pd.Timestamp("2024-08-02", tz="UTC")


@pytest.mark.parametrize("scorer", [None, "learned"], ids=["rules", "learned"])
def test_float_reflectance_finds_what_the_integer_product_finds(tmp_path, scorer):
    # reflectance in 0-1 (GEE, SNAP exports) was all below the log floor: no candidate at all
    sc = read_scorer() if scorer else None
    ints = detect_scene(str(write_scene(tmp_path / "i.tif", strips=ONE_STRIP)), scorer=sc)
    refl = detect_scene(str(write_scene(tmp_path / "r.tif", strips=ONE_STRIP,
                                        dtype="reflectance")), scorer=sc)
    assert len(ints) == len(refl) == 1
    for col in ("length_m", "width_m", "bearing_deg", "score"):
        assert refl.iloc[0][col] == pytest.approx(ints.iloc[0][col], rel=1e-3, abs=1e-3)


@pytest.mark.parametrize(("gain", "offset"), [(1.0, -1000.0), (1e-4, -0.1)],
                         ids=["counts", "reflectance"])
def test_a_declared_offset_is_removed(tmp_path, gain, offset):
    # Sentinel-2 L2A from baseline 04.00 stores reflectance x 10,000 + 1,000; GDAL can declare
    # it as the band offset (in counts, or with a scale in reflectance)
    plain = write_scene(tmp_path / "plain.tif", strips=ONE_STRIP)
    shifted = tmp_path / "shifted.tif"
    with rasterio.open(plain) as src:
        profile, data, names = src.profile, src.read(), src.descriptions
    with rasterio.open(shifted, "w", **profile) as dst:
        dst.write(np.where(data > 0, data + 1000, 0).astype(np.uint16))
        dst.descriptions = names
        dst.scales = (gain,) * dst.count
        dst.offsets = (offset,) * dst.count
    info = read_scene_info(shifted)
    assert info.radiometry == ((1.0, -1000.0),) * 6
    window = rasterio.windows.Window(0, 0, 200, 200)
    np.testing.assert_array_equal(read_window(info, window).bands["red"],
                                  read_window(read_scene_info(plain), window).bands["red"])
    assert read_window(info, window).raw is None  # so the screen uses the corrected bands
    ours, theirs = detect_scene(str(shifted)), detect_scene(str(plain))
    assert len(ours) == len(theirs) == 1
    assert ours.iloc[0].length_m == theirs.iloc[0].length_m


@pytest.mark.parametrize(("dtype", "nodata_only", "expected"), [
    ("uint16", False, ()), ("float32", False, ()), ("reflectance", False, ((1e4, 0.0),) * 6),
    ("reflectance", True, ())])
def test_radiometry_of_a_scene(tmp_path, dtype, nodata_only, expected):
    path = write_scene(tmp_path / "s.tif", dtype=dtype, strips=ONE_STRIP)
    if nodata_only:  # nothing to sample: values used as stored
        with rasterio.open(path, "r+") as dst:
            dst.write(np.zeros((dst.count, dst.height, dst.width), dtype=np.float32))
    assert read_scene_info(path).radiometry == expected
    assert read_scene_info(path, values=False).radiometry == ()  # listing, display: no sample


def test_no_strip_no_candidate(tmp_path):
    assert detect_scene(str(write_scene(tmp_path / "s.tif"))).empty


def test_nodata_bar_is_not_a_strip(tmp_path):
    out = detect_scene(str(write_scene(tmp_path / "s.tif", nodata_bar=True)))
    assert out.empty


def test_cloud_band_masks_a_strip(tmp_path):
    path = write_scene(tmp_path / "s.tif", strips=ONE_STRIP)
    with rasterio.open(path) as src:
        profile, data = src.profile | {"count": 7}, src.read()
    cloudy = tmp_path / "cloudy.tif"
    with rasterio.open(cloudy, "w", **profile) as dst:
        dst.write(np.concatenate([data, np.ones((1, 200, 200), dtype=np.uint16)]))
        dst.descriptions = ("blue", "green", "red", "nir", "swir1", "swir2", "cloud")
    assert len(detect_scene(str(path))) == 1
    assert detect_scene(str(cloudy)).empty


@pytest.mark.parametrize(("res", "size"), [(3.0, 700), (2.0, 1050)])
@pytest.mark.parametrize("scorer", [None, "learned"], ids=["rules", "learned"])
def test_finer_imagery_is_averaged_to_the_detectors_resolution(tmp_path, res, size, scorer):
    # at 3 m the strip came out as two 300 m pieces or nothing; read averaged to 9-10 m
    path = write_scene(tmp_path / "fine.tif", size=size, res=res, strips=ONE_STRIP)
    out = detect_scene(str(path), scorer=read_scorer() if scorer else None)
    _the_one_strip(out, width_tol_m=10.0)
    # the batch path (runs of windows, as the CLI and the jobs read them) reads the same
    batch = detect_scenes([str(path)], scorer=read_scorer() if scorer else None).candidates
    pd.testing.assert_frame_equal(batch.reset_index(drop=True), out.reset_index(drop=True))


def test_averaged_windows_keep_nodata_and_clouds_out(tmp_path):
    path = write_scene(tmp_path / "fine.tif", size=700, res=3.0, strips=ONE_STRIP)
    info = read_scene_info(path)
    with rasterio.open(path) as src:
        profile, data = src.profile | {"count": 7}, src.read()
    data[:, :, :99] = 0  # nodata in whole 3 x 3 blocks, and a partial one
    data[:, 0, 99] = 0
    cloud = np.zeros((1, 700, 700), dtype=np.uint16)
    cloud[0, 600:, :] = 1  # clouds over the bottom rows
    cloudy = tmp_path / "cloudy.tif"
    with rasterio.open(cloudy, "w", **profile) as dst:
        dst.write(np.concatenate([data, cloud]))
        dst.descriptions = ("blue", "green", "red", "nir", "swir1", "swir2", "cloud")
    fine = read_window(read_scene_info(cloudy), rasterio.windows.Window(0, 0, 700, 700),
                       factor=3)
    assert fine.res_m == 9.0
    assert fine.valid.shape == (233, 233)
    assert not fine.valid[:, :33].any()  # nodata blocks stay out
    assert fine.valid[:190, 33:].all()  # a block with some data keeps its average ...
    block = data[2, 0:3, 99:102].astype(float)
    assert fine.bands["red"][0, 33] == pytest.approx(block[block > 0].mean(), abs=0.5)  # of it
    assert not fine.valid[200:].any()  # the mode of a cloudy block is cloud
    np.testing.assert_allclose(fine.bands["red"][1:190, 34:40],
                               data[2, 3:570, 102:120].reshape(189, 3, 6, 3).mean(axis=(1, 3)),
                               atol=0.5)  # GDAL's average, stored as the integer type
    assert info.res_m == 3.0


def test_rgb_only_still_finds_the_strip_with_a_note(tmp_path):
    path = write_scene(tmp_path / "rgb.tif", strips=ONE_STRIP, rgb=True)
    info = read_scene_info(path)
    assert info.roles.is_rgb_only
    out = detect_scene(str(path))
    assert len(out) == 1
    assert "RGB only" in out.iloc[0].reason


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"crs": None}, CRSError, "has no CRS"),
    ({"crs": "EPSG:4326"}, CRSError, "projected CRS in metres"),
], ids=["no-crs", "geographic"])
def test_bad_grids_are_refused(tmp_path, kwargs, error, match):
    path = write_scene(tmp_path / "s.tif", **kwargs)
    with pytest.raises(error, match=match):
        read_scene_info(path)


def test_not_a_tiff_and_oversized_are_refused(tmp_path):
    junk = tmp_path / "junk.tif"
    junk.write_text("<VRTDataset/>")
    with pytest.raises(ImageryError, match="not a readable GeoTIFF"):
        read_scene_info(junk)
    with pytest.raises(ImageryError, match="declares 200 x 200 x 6"):
        read_scene_info(write_scene(tmp_path / "s.tif"), max_bytes=1000)


@pytest.mark.parametrize("text", ["red", "red=0", "red=1,red=2", "red=1,blue=1", "nir=x",
                                  "infrared=4", "red=1,,"],
                         ids=["no-index", "zero", "twice", "same-band", "not-int", "unknown",
                              "empty-pair"])
def test_band_mapping_errors_are_clear(text):
    with pytest.raises(ConfigError):
        parse_band_mapping(text)


@given(st.text(max_size=60))
def test_band_mapping_parser_never_crashes(text):
    try:
        out = parse_band_mapping(text)
    except ConfigError:
        return
    assert all(isinstance(v, int) and v >= 1 for v in out.values())


@settings(deadline=None)  # the CI machine is shared; timing is not what this checks
@given(st.integers(1, 3000), st.integers(1, 3000), st.integers(16, 1024))
def test_windows_cover_the_raster(width, height, size):
    covered = np.zeros((min(height, 64), min(width, 64)), dtype=bool)
    wins = list(iter_windows(width, height, size=size, overlap=size // 4))
    for w in wins:
        assert w.col_off + w.width <= width
        assert w.row_off + w.height <= height
        covered[w.row_off:w.row_off + w.height, w.col_off:w.col_off + w.width] = True
    assert covered.all()


def test_params_validate_themselves():
    with pytest.raises(ConfigError, match="overlap_px"):
        DetectionParams(window_px=256, overlap_px=200)
    assert hash(DetectionParams()) == hash(DetectionParams())


def _frame(date: str, items: list[tuple[float, float]]) -> gpd.GeoDataFrame:
    """Candidates at (lon offset, evidence) on one date."""
    geoms = [box(-74.6 + dx, -9.4, -74.6 + dx + 0.008, -9.3998) for dx, _ in items]
    return gpd.GeoDataFrame({"candidate_id": [f"{date}-{i}" for i in range(len(items))],
                             "detected_at": pd.Timestamp(date, tz="UTC"),
                             "score": 0.9, "bearing_deg": 90.0,
                             "evidence": [e for _, e in items], "state": "new"},
                            geometry=geoms, crs=4326)


def test_tracking_states_over_three_dates():
    frames = [_frame("2022-01-01", [(0.0, 1.0), (0.05, 1.0), (0.10, 1.0), (0.15, 1.0)]),
              _frame("2023-01-01", [(0.0, 1.0), (0.05, 1.0), (0.20, 1.0)]),
              _frame("2024-01-01", [(0.0, 1.0), (0.05, 0.4), (0.15, 1.0), (0.20, 1.0),
                                    (0.25, 1.0)])]
    out = track_candidates(pd.concat(frames, ignore_index=True))
    west = out.geometry.bounds["minx"].round(3)
    states = dict(zip(west, out["state"], strict=True))
    assert states == {-74.6: "active", -74.55: "overgrown", -74.5: "destroyed",
                      -74.45: "reopened", -74.4: "active", -74.35: "new"}
    first = dict(zip(west, out["first_seen"], strict=True))
    assert first[-74.4] == pd.Timestamp("2023-01-01", tz="UTC")


def test_cli_skips_bad_files_and_fails_only_when_all_fail(tmp_path):
    good = write_scene(tmp_path / "good_2024-08-02.tif", strips=ONE_STRIP)
    bad = tmp_path / "bad.tif"
    bad.write_bytes(b"not a tiff")
    cmd = [sys.executable, "-m", "geo.detect", "--no-aerodromes"]
    ok = subprocess.run([*cmd, str(good), str(bad), "--out", str(tmp_path / "c.geojson")],
                        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert ok.returncode == 0, ok.stderr
    assert "skipped" in ok.stderr
    assert "bad.tif" in ok.stderr
    assert len(json.loads((tmp_path / "c.geojson").read_text())["features"]) == 1
    fail = subprocess.run([*cmd, str(bad), "--out", str(tmp_path / "d.geojson")], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    assert fail.returncode == 1


def test_a_scene_with_no_valid_pixel_is_said_to_be_blind_not_silently_empty(tmp_path):
    good = write_scene(tmp_path / "good.tif", size=600, strips=ONE_STRIP)
    empty = write_scene(tmp_path / "empty.tif", size=600)
    with rasterio.open(empty, "r+") as dst:  # every pixel nodata
        dst.write(np.zeros((6, 600, 600), dtype=np.uint16))
    partly = write_scene(tmp_path / "partly.tif", size=600, strips=ONE_STRIP)
    with rasterio.open(partly, "r+") as dst:  # the windows right of the strip hold nodata only
        dst.write(np.zeros((6, 600, 300), dtype=np.uint16), window=((0, 600), (300, 600)))
    params = DetectionParams(window_px=256, overlap_px=64)
    res = detect_scenes([str(good), str(empty), str(partly)], params=params)
    assert res.failures == ()  # a date that saw nothing is still a date (tracking)
    assert [Path(p).name for p in res.blind] == ["empty.tif"]
    assert sorted(res.candidates["scene"]) == ["good.tif", "partly.tif"]  # one strip each
    cli = subprocess.run([sys.executable, "-m", "geo.detect", "--no-aerodromes", "--workers",
                          "0", str(empty), "--out", str(tmp_path / "c.geojson")], cwd=ROOT,
                         capture_output=True, text=True, timeout=120, check=False)
    assert cli.returncode == 0, cli.stderr
    assert "empty.tif: every pixel is nodata or masked as cloud" in cli.stderr


@pytest.mark.parametrize("address", ["none", "localhost", "tcp://host", "tcp://host:70000",
                                     "http://10.0.0.5:8786", "tcp://10.0.0.5:8786/x"])
def test_a_scheduler_address_that_is_not_one_is_refused_before_any_work(tmp_path, capsys,
                                                                         address):
    from geo.detect.__main__ import main
    from geo.detect.run import connect_client
    from geo.settings import load_settings

    scene = write_scene(tmp_path / "s.tif", strips=ONE_STRIP)
    with pytest.raises(SystemExit) as exit_:  # argparse's exit for a bad option
        main([str(scene), "--out", str(tmp_path / "c.geojson"), "--scheduler", address])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"--scheduler: {address!r} is not a Dask scheduler address" in err
    assert "Traceback" not in err
    assert not (tmp_path / "c.geojson").exists()
    with pytest.raises(ConfigError, match="is not a Dask scheduler address"):
        connect_client(address)  # the API says the same, without trying to connect
    with pytest.raises(ConfigError, match=r"ATALAYA_DASK_SCHEDULER: .* is not a Dask"):
        load_settings({"ATALAYA_DASK_SCHEDULER": address})  # the app refuses it at start


@pytest.mark.parametrize("address", ["tcp://10.0.0.5:8786", "10.0.0.5:8786",
                                     "tls://scheduler.example.org:8786", "tcp://[::1]:8786"])
def test_scheduler_addresses_dask_takes_are_accepted(address):
    from distributed.comm.addressing import parse_address, parse_host_port

    from geo.settings import load_settings, scheduler_address_problem

    assert scheduler_address_problem(address) is None
    parse_host_port(parse_address(address)[1])  # and Dask parses them too
    assert load_settings({"ATALAYA_DASK_SCHEDULER": address}).dask_scheduler == address


@pytest.mark.slow
def test_dask_equals_serial(tmp_path):
    from distributed import Client, LocalCluster

    strips = ((800.0, 700.0, 600.0, 20.0, 30.0), (2600.0, 2700.0, 700.0, 15.0, 120.0),
              (1800.0, 2000.0, 500.0, 25.0, 90.0))
    paths = [str(write_scene(tmp_path / f"s{i}.tif", size=400, strips=strips, seed=i))
             for i in range(2)]
    params = DetectionParams(window_px=256, overlap_px=96)
    serial = detect_scenes(paths, params=params).candidates
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=LOCAL_DASHBOARD) as cluster, Client(cluster) as client:
        dist = detect_scenes(paths, params=params, client=client).candidates
    assert len(serial) == 6
    pd.testing.assert_frame_equal(pd.DataFrame(serial), pd.DataFrame(dist))
