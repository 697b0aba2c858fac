"""The detection command: aerodrome context from a file, bad files skipped, clear option errors."""

from __future__ import annotations

import json

import geopandas as gpd
import pyproj
import pytest
from shapely.geometry import Point

from geo.detect.__main__ import main
from geo.imagery import gdal_process_environment
from tests.geo.test_detect import ONE_STRIP, ORIGIN, write_scene
from tests.geo.test_detect_dask import corrupt_copy


@pytest.fixture(autouse=True)
def _restore_environment(monkeypatch):
    """Pre-set the GDAL variables `main` sets, so that monkeypatch removes them afterwards."""
    for key, value in gdal_process_environment().items():
        monkeypatch.setenv(key, value)


def strip_lonlat() -> tuple[float, float]:
    """Centre of ONE_STRIP in EPSG:4326 (the scene is EPSG:32718)."""
    cx, cy = ONE_STRIP[0][:2]
    x, y = ORIGIN @ (cx / 10.0, cy / 10.0)
    lon, lat = pyproj.Transformer.from_crs(32718, 4326, always_xy=True).transform(x, y)
    return lon, lat


def aerodromes_file(path, *, lon: float, lat: float):
    gdf = gpd.GeoDataFrame({"ident": ["SPXX"], "name": ["Test field"], "country": ["PE"],
                            "runway_length_m": [900.0], "surface": ["GRE"]},
                           geometry=[Point(lon, lat)], crs=4326)
    gdf.to_file(path, driver="GeoJSON")
    return path


def features(path) -> list[dict]:
    return json.loads(path.read_text())["features"]


def test_aerodromes_from_a_file_give_context(tmp_path, capsys):
    scene = write_scene(tmp_path / "s_2024-08-02.tif", strips=ONE_STRIP)
    lon, lat = strip_lonlat()
    near = aerodromes_file(tmp_path / "near.geojson", lon=lon + 0.005, lat=lat)
    out = tmp_path / "c.geojson"
    assert main([str(scene), "--out", str(out), "--workers", "0", "--rules-only",
                 "--aerodromes", str(near)]) == 0
    [props] = [f["properties"] for f in features(out)]
    assert props["nearest_aerodrome"] == "SPXX"
    assert props["aerodrome_km"] == pytest.approx(0.55, abs=0.05)
    assert props["priority"] == "low"
    assert "probably that aerodrome" in props["reason"]
    far = aerodromes_file(tmp_path / "far.geojson", lon=lon + 1.0, lat=lat)
    assert main([str(scene), "--out", str(out), "--workers", "0", "--rules-only",
                 "--aerodromes", str(far)]) == 0
    [props] = [f["properties"] for f in features(out)]
    assert props["priority"] != "low"
    assert "110 km from the nearest registered aerodrome (SPXX)" in props["reason"]
    assert "wrote 1 candidates" in capsys.readouterr().err


def test_a_corrupt_scene_is_skipped_and_the_rest_written(tmp_path, capsys):
    good = write_scene(tmp_path / "good.tif", strips=ONE_STRIP)
    bad = corrupt_copy(good, tmp_path / "bad.tif")
    out = tmp_path / "c.geojson"
    assert main([str(bad), str(good), "--out", str(out), "--workers", "0", "--rules-only",
                 "--no-aerodromes"]) == 0
    err = capsys.readouterr().err
    assert "skipped" in err
    assert "bad.tif" in err
    assert "corrupt or truncated" in err
    assert [f["properties"]["scene"] for f in features(out)] == ["good.tif"]
    assert main([str(bad), "--out", str(out), "--workers", "0", "--rules-only",
                 "--no-aerodromes"]) == 1


@pytest.mark.parametrize(("extra", "message"), [
    (["--aerodromes", "nowhere.geojson"], "no such file"),
    (["--workers", "-1"], "--workers must be 0 or more"),
    (["--aerodromes", "a.geojson", "--no-aerodromes"], "not allowed with argument"),
    (["--min-score", "2"], "2 is outside 0-1"),
    (["--min-score", "-1"], "-1 is outside 0-1"),
    (["--min-score", "nan"], "nan is outside 0-1"),
    (["--min-score", "abc"], "'abc' is not a number"),
    (["--memory-limit", "lots"], "'lots' is not an amount of memory"),
], ids=["missing-aerodromes", "negative-workers", "both-aerodrome-options", "score-above-1",
        "score-below-0", "score-nan", "score-text", "memory-text"])
def test_option_errors_are_clear(tmp_path, capsys, extra, message):
    scene = write_scene(tmp_path / "s.tif")
    try:
        code = main([str(scene), "--out", str(tmp_path / "c.geojson"), "--workers", "0",
                     "--rules-only", *extra])
    except SystemExit as exc:  # argparse
        code = exc.code
    assert code == 2
    assert message in capsys.readouterr().err


def test_an_unwritable_output_is_refused_before_any_detection(tmp_path, capsys, monkeypatch):
    import geo.detect.run

    def no_detection(*args, **kwargs):
        raise AssertionError("detection ran although the output cannot be written")

    monkeypatch.setattr(geo.detect.run, "detect_scenes", no_detection)
    scene = write_scene(tmp_path / "s.tif")
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    folder = tmp_path / "named.geojson"
    folder.mkdir()
    for out, said in ((a_file / "c.geojson", "cannot be written"),  # its folder is a file
                      (folder, "is a folder")):
        code = main([str(scene), "--out", str(out), "--workers", "0", "--rules-only",
                     "--no-aerodromes"])
        err = capsys.readouterr().err
        assert code == 2
        assert said in err
        assert "Traceback" not in err
    assert list(tmp_path.glob(".atalaya-check-*")) == []  # the probe file is gone


def test_one_scene_spelt_two_ways_is_detected_once(tmp_path, capsys, monkeypatch):
    scene = write_scene(tmp_path / "s.tif", strips=ONE_STRIP)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "c.geojson"
    assert main(["s.tif", "./s.tif", str(scene), "--out", str(out), "--workers", "0",
                 "--rules-only", "--no-aerodromes"]) == 0
    assert len(features(out)) == 1
    assert "from 1 scene(s)" in capsys.readouterr().err


def test_an_rgb_only_scene_is_said_before_the_run(tmp_path, capsys):
    scene = write_scene(tmp_path / "rgb.tif", rgb=True)
    assert main([str(scene), "--out", str(tmp_path / "c.geojson"), "--workers", "0",
                 "--rules-only", "--no-aerodromes"]) == 0
    assert f"note: {scene}: RGB only (no NIR/SWIR)" in capsys.readouterr().err


def test_tune_malloc_applies_the_workers_settings_on_glibc():
    """A serial run sets the workers' malloc thresholds in its own process (glibc: mallopt)."""
    import platform

    from geo.detect.run import tune_malloc

    applied = tune_malloc()
    assert isinstance(applied, bool)
    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        assert applied
