"""Real data: the committed scorer on the Peru chips, the Itaipu runway, the Pensacola negative."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from rasterio.windows import Window
from shapely.geometry import Point

from geo.detect.chips import list_chips, process_chip, read_centrelines
from geo.detect.params import DetectionParams
from geo.detect.scene import detect_scene
from geo.detect.scorer import DEFAULT_MODEL, read_scorer
from geo.detect.window import detect_window
from geo.evaluate import main as evaluate_main
from geo.imagery import read_scene_info, read_window
from tests.conftest import SHARED_DATA, require

CHIPS = SHARED_DATA / "runways-peru-s2" / "chips"
IGUAZU = SHARED_DATA / "landsat8-iguazu"
PENSACOLA = SHARED_DATA / "landsat8-pensacola"
RGB = {"blue": 1, "green": 2, "red": 3}

pytestmark = pytest.mark.realdata


def test_committed_model_is_small_json_with_provenance():
    # two sets of 300 small trees (6 and 4 leaves: 312 kB on 2026-12-04), one of them blended
    # with a logistic regression (28 coefficients)
    assert DEFAULT_MODEL.stat().st_size < 400_000
    doc = json.loads(DEFAULT_MODEL.read_text())
    prov = doc["provenance"]
    assert prov["file_count"] == 150
    assert len(prov["file_list_sha256"]) == 64
    assert set(doc["models"]) == {"multispectral", "rgb"}
    assert {k: m["family"] for k, m in doc["models"].items()} == {"multispectral": "blend",
                                                                 "rgb": "trees"}


def test_a_strip_on_another_labelled_runway_is_flagged():
    # chip 78_2019_0 is a window shifted off runway 78; runway 162's centreline crosses it,
    # unmasked. Every CV seed's scorer rated the strip on it 0.98, a false candidate.
    require(CHIPS.is_dir(), f"{CHIPS} is absent")
    (chip,) = [c for c in list_chips(CHIPS) if c.sdata.parent.name == "78_2019_0"]
    lines = read_centrelines(CHIPS.parent / "runway_centrelines.geojson")
    gen = DetectionParams().permissive()
    alone, told = process_chip(chip, params=gen), process_chip(chip, params=gen,
                                                                centrelines=lines)
    assert told.false == alone.false
    assert not any(alone.on_other)
    flagged = [c for c, o in zip(told.candidates, told.on_other, strict=True) if o]
    assert flagged
    assert max(c.length_m for c in flagged) > 400.0


def test_scorer_on_a_subset_of_peru_chips():
    require(CHIPS.is_dir(), f"{CHIPS} is absent")
    chips = [c for c in list_chips(CHIPS) if c.active == 1][:8]
    model = read_scorer().model_for("multispectral")
    assert model is not None
    results = [process_chip(c, params=DetectionParams().permissive()) for c in chips]
    pos = [s for r in results for s, p in zip(model.score(r.candidates), r.positive,
                                              strict=True) if p]
    neg = [s for r in results for s, f in zip(model.score(r.candidates), r.false,
                                              strict=True) if f]
    assert all(0.0 <= s <= 1.0 for s in pos + neg)
    # the generator reaches most of these active strips, and the scorer ranks them first
    assert sum(any(r.positive) for r in results) >= 6
    assert np.median(pos) > np.percentile(neg, 90)


def test_rgb_scorer_on_a_subset_of_peru_chips():
    require(CHIPS.is_dir(), f"{CHIPS} is absent")
    chips = [c for c in list_chips(CHIPS) if c.active == 1][:12]
    model = read_scorer().model_for("rgb")
    assert model is not None
    results = [process_chip(c, params=DetectionParams().permissive(), bands=RGB)
               for c in chips]
    scores = [model.score(r.candidates) for r in results]
    pos = [s for r, sc in zip(results, scores, strict=True)
           for s, p in zip(sc, r.positive, strict=True) if p]
    neg = [s for r, sc in zip(results, scores, strict=True)
           for s, f in zip(sc, r.false, strict=True) if f]
    assert all(0.0 <= s <= 1.0 for s in pos + neg)
    # chips the scorer was trained on: a check that the committed RGB model is sane (from
    # blue, green and red alone the strips rank near the top of their chips), not a measure
    assert np.median(pos) > np.percentile(neg, 90)


def test_evaluation_command_on_a_subset_writes_honest_figures(tmp_path):
    require(CHIPS.is_dir(), f"{CHIPS} is absent")
    ids = sorted({c.runway_id for c in list_chips(CHIPS)})[:20]
    subset = tmp_path / "chips"
    subset.mkdir()
    for c in list_chips(CHIPS):
        if c.runway_id in ids:
            (subset / c.sdata.parent.name).symlink_to(c.sdata.parent)
    out = tmp_path / "eval.json"
    lines = CHIPS.parent / "runway_centrelines.geojson"  # not beside the subset: named
    assert evaluate_main(["--chips", str(subset), "--json", str(out), "--folds", "3",
                          "--no-sample", "--centrelines", str(lines), "--repeats", "2"]) == 0
    report = json.loads(out.read_text())
    rep = report["repeated_cv"]
    assert rep["seeds"] == [0, 1]
    assert rep["per_seed"][0] == report["learned_cv"]
    assert rep["per_seed"][1]["n_active"] == report["learned_cv"]["n_active"]  # same chips
    recalls = [m["recall_active"] for m in rep["per_seed"]]
    assert rep["min"]["recall_active"] == min(recalls)
    assert rep["mean"]["recall_active"] == pytest.approx(sum(recalls) / 2)
    assert 0 <= rep["meets_target"] <= 2
    assert report["split"].startswith("GroupKFold(3) by runway id")
    assert report["other_runways"]["lines"] == 78
    for key in ("learned_cv", "rules_only", "generator_ceiling"):
        m = report[key]
        assert 0.0 <= m["recall_active"] <= 1.0
        assert m["false_per_100km2"] >= 0.0
        assert 0 <= m["n_false_on_other_runway"] <= m["n_false"]
    assert report["learned_cv"]["recall_active"] <= report["generator_ceiling"]["recall_active"]


def _itaipu_runway() -> tuple[Point, object]:
    airports = gpd.read_file(IGUAZU / "airports_in_scene_ourairports.geojson").to_crs(32621)
    line = airports.loc[airports["ident"] == "SGIB"].geometry.iloc[0]
    return line.centroid, line


def test_itaipu_runway_is_a_candidate_with_the_rgb_speckle_term():
    scene = IGUAZU / "LC08_L1TP_224078_20200518_20200518_01_RT.TIF"
    require(scene.is_file(), f"{scene} is absent")
    info = read_scene_info(scene, bands=RGB)
    centre, line = _itaipu_runway()
    col, row = ~info.transform @ (centre.x, centre.y)
    data = read_window(info, Window(int(col) - 150, int(row) - 150, 300, 300))
    # with the RGB speckle term on: beside the town it is what lifts the paved runway (it is
    # off by default, as it costs recall on the Peru chips; see DetectionParams)
    cands = detect_window(data, params=DetectionParams(rgb_texture_weight=1.0).permissive())
    on = [c for c in cands if line.distance(Point(c.x, c.y)) < 100.0
          and min(abs(c.bearing_deg - 20.4), 180 - abs(c.bearing_deg - 20.4)) < 10.0]
    assert on, "no candidate along the 1,515 m Itaipu runway"
    assert max(c.length_m for c in on) > 600.0


@pytest.mark.xfail(reason="the paved runway barely differs in colour from its flanks (blue/"
                          "green/red contrast 0.02-0.03 against 0.17-0.28 for 30 m Peru "
                          "strips): with the RGB speckle term off (the default since "
                          "2026-12-03, for recall on the Peru chips) it is not a candidate; "
                          "with it on, the RGB scorer of that time scored it 0.22 against an "
                          "operating point of 0.948 (the scorer of 2026-12-04: 0.589 against "
                          "0.884, a 617 x 29 m candidate). No labelled paved runway to learn "
                          "from: "
                          "generated farmland scenes with paved aerodromes added to the RGB "
                          "training (2026-12-02, not kept) scored it 0.65 with 4 scenes, but 9 "
                          "other candidates of this scene passed; with 12, 0.36, and the "
                          "grouped-CV false candidates on the chips rose from 0.92 to 1.12 "
                          "per 100 km2",
                   strict=False)
def test_itaipu_runway_is_found_above_the_operating_point(tmp_path):
    scene = IGUAZU / "LC08_L1TP_224078_20200518_20200518_01_RT.TIF"
    require(scene.is_file(), f"{scene} is absent")
    info = read_scene_info(scene, bands=RGB)
    centre, line = _itaipu_runway()
    col, row = ~info.transform @ (centre.x, centre.y)
    clip = _write_clip(scene, tmp_path / "itaipu.tif", Window(int(col) - 300, int(row) - 300,
                                                              600, 600))
    out = detect_scene(str(clip), bands=RGB, scorer=read_scorer()).to_crs(32621)
    assert out.geometry.distance(line).min() < 100.0


def _write_clip(src_path: Path, dst_path: Path, window: Window) -> Path:
    with rasterio.open(src_path, driver="GTiff") as src:
        profile = src.profile | {"width": window.width, "height": window.height,
                                 "transform": src.window_transform(window), "driver": "GTiff"}
        data = src.read(window=window)
    with rasterio.open(dst_path, "w", **profile) as dst:
        dst.write(data)
    return dst_path


def test_pensacola_has_at_most_two_candidates_above_the_operating_point(tmp_path):
    require(PENSACOLA.is_dir(), f"{PENSACOLA} is absent")
    srcs = [rasterio.open(PENSACOLA / f"l8_B{b}.tif", driver="GTiff") for b in range(2, 8)]
    path = tmp_path / "pensacola.tif"
    profile = srcs[0].profile | {"count": 6, "driver": "GTiff"}
    with rasterio.open(path, "w", **profile) as dst:
        for i, src in enumerate(srcs, start=1):
            dst.write(src.read(1), i)
            src.close()
        dst.descriptions = ("blue", "green", "red", "nir", "swir1", "swir2")
    out = detect_scene(str(path), scorer=read_scorer())
    assert len(out) <= 2, out[["score", "length_m", "width_m"]]
