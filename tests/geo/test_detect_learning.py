"""The scorer's model families (logistic, boosted trees, their blend) and two features."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.ensemble import HistGradientBoostingClassifier

from geo.detect import learning
from geo.detect.chips import Chip, ChipResult
from geo.detect.scorer import (
    FEATURES,
    BlendModel,
    LogisticModel,
    Scorer,
    Tree,
    TreeModel,
    feature_matrix,
    read_scorer,
    write_scorer,
)
from geo.detect.window import RawCandidate, _through
from geo.errors import ConfigError

K = len(FEATURES["multispectral"])


def _band() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    x = rng.normal(0.0, 1.0, (600, K))
    y = (np.abs(x[:, 0]) < 0.6) & (x[:, 1] > -0.5)
    return x, y


@pytest.fixture
def band_data() -> tuple[np.ndarray, np.ndarray]:
    """Positives only inside a band of feature 0 (like a width that is right in a range)."""
    return _band()


@pytest.fixture(scope="module")
def fitted() -> tuple[TreeModel, LogisticModel]:
    """Fit the trees and the logistic model once on :func:`band_data` (seed 0).

    A fit takes seconds; the tests that only need a fitted model share these (the models
    are not changed by scoring or writing them).
    """
    x, y = _band()
    return (learning._fit_trees(x, y, kind="multispectral", seed=0),
            learning._fit_logistic(x, y, kind="multispectral", seed=0))


def test_trees_score_as_sklearn_does(band_data, fitted):
    x, y = band_data
    model = fitted[0]
    clf = HistGradientBoostingClassifier(random_state=0, class_weight="balanced",
                                         **learning.tree_params("multispectral")).fit(x, y)
    np.testing.assert_allclose(model.score_matrix(x), clf.predict_proba(x)[:, 1], atol=1e-9)


def test_trees_learn_a_band_a_linear_score_cannot(band_data, fitted):
    x, y = band_data
    trees = fitted[0].score_matrix(x)
    linear = fitted[1]
    lin = 1.0 / (1.0 + np.exp(-(((np.clip(x, linear.lo, linear.hi) - linear.mean)
                                 / linear.scale) @ linear.coef + linear.intercept)))
    assert np.mean((trees >= 0.5) == y) > 0.9
    assert np.mean((lin >= 0.5) == y) < 0.8


def test_both_parts_of_a_blend_are_fitted_on_one_thread(monkeypatch, band_data):
    """OpenMP (trees) and BLAS (the logistic solver) alike: their idle threads spin."""
    from sklearn.ensemble import HistGradientBoostingClassifier as Trees
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_info

    seen: dict[str, list[int]] = {}

    def recording(cls: type, name: str) -> None:
        fit = cls.fit

        def wrapped(self, *args, **kwargs):
            seen[name] = [pool["num_threads"] for pool in threadpool_info()]
            return fit(self, *args, **kwargs)
        monkeypatch.setattr(cls, "fit", wrapped)

    recording(Trees, "trees")
    recording(LogisticRegression, "logistic")
    x, y = band_data
    assert isinstance(learning._fit(x, y, kind="multispectral", seed=0), BlendModel)
    assert set(seen) == {"trees", "logistic"}
    assert all(seen.values()), seen  # the pools were found
    assert {n for threads in seen.values() for n in threads} == {1}, seen


def test_tree_model_survives_json(tmp_path, band_data, fitted):
    x, _ = band_data
    model = fitted[0]
    path = tmp_path / "scorer.json"
    write_scorer(Scorer(models={"multispectral": model}, provenance={"seed": 0}), path)
    again = read_scorer(path).model_for("multispectral")
    assert isinstance(again, TreeModel)
    np.testing.assert_array_equal(again.score_matrix(x), model.score_matrix(x))


def test_a_blend_is_the_weighted_mean_of_its_parts_and_survives_json(tmp_path, band_data,
                                                                    fitted):
    x, _ = band_data
    trees, linear = fitted
    blend = BlendModel(kind="multispectral", trees=trees, logistic=linear, weight=0.3,
                       threshold=0.6)
    cands = [RawCandidate(x=0.0, y=0.0, length_m=800.0, width_m=20.0, bearing_deg=0.0,
                          features=tuple((n, float(v)) for (n, _), v in
                                         zip(FEATURES["multispectral"], row, strict=True)))
             for row in x[:40]]
    got = blend.score(cands)
    np.testing.assert_allclose(got, 0.3 * trees.score(cands) + 0.7 * linear.score(cands))
    assert blend.score([]).shape == (0,)
    path = tmp_path / "scorer.json"
    write_scorer(Scorer(models={"multispectral": blend}, provenance={}), path)
    again = read_scorer(path).model_for("multispectral")
    assert isinstance(again, BlendModel)
    assert (again.weight, again.threshold) == (0.3, 0.6)
    np.testing.assert_allclose(again.score(cands), got, rtol=1e-12)
    doc = json.loads(path.read_text())
    for change, match in (({"weight": 1.5}, "weight"), ({"weight": "x"}, "malformed blend"),
                          ({"logistic": None}, "logistic part"),
                          ({"trees": {**doc["models"]["multispectral"]["trees"],
                                      "kind": "rgb"}}, "other features|kind")):
        bad = {**doc, "models": {"multispectral": {**doc["models"]["multispectral"],
                                                   **change}}}
        path.write_text(json.dumps(bad))
        with pytest.raises(ConfigError, match=match):
            read_scorer(path)


@pytest.mark.parametrize("family", ["blend", "trees"])
@pytest.mark.parametrize("breakage", ["no threshold", "threshold a list", "not json",
                                      "models a list"])
def test_a_malformed_scorer_file_is_a_plain_error(tmp_path, fitted, family, breakage):
    trees, linear = fitted
    model = trees if family == "trees" else BlendModel(
        kind="multispectral", trees=trees, weight=0.3, threshold=0.6, logistic=linear)
    path = tmp_path / "scorer.json"
    write_scorer(Scorer(models={"multispectral": model}, provenance={}), path)
    doc = json.loads(path.read_text())
    if breakage == "no threshold":
        del doc["models"]["multispectral"]["threshold"]
    elif breakage == "threshold a list":
        doc["models"]["multispectral"]["threshold"] = [0.5]
    elif breakage == "models a list":
        doc["models"] = [doc["models"]["multispectral"]]
    path.write_text("{" if breakage == "not json" else json.dumps(doc))
    with pytest.raises(ConfigError, match="malformed runway scorer"):
        read_scorer(path)


def test_the_width_hinge_is_zero_up_to_40_m_and_grows_with_the_log_beyond():
    col = [n for n, _ in FEATURES["multispectral"]].index("width_m")
    hinge = [i for i, (n, how) in enumerate(FEATURES["multispectral"]) if how == "over40"]
    assert [FEATURES["multispectral"][i][0] for i in hinge] == ["width_m"]

    def cand(width: float) -> RawCandidate:
        return RawCandidate(x=0.0, y=0.0, length_m=800.0, width_m=width, bearing_deg=0.0,
                            features=(("width_m", width),))

    m = feature_matrix([cand(w) for w in (8.0, 40.0, 80.0, float("nan"))], "multispectral")
    np.testing.assert_allclose(m[:, hinge[0]], [0.0, 0.0, np.log(2.0), 0.0])
    np.testing.assert_allclose(m[:3, col], np.log([8.0, 40.0, 80.0]))


def _doc(tmp_path, tree: dict, **model) -> str:
    doc = {"format": "atalaya-runway-scorer/1", "provenance": {},
           "models": {"multispectral": {"kind": "multispectral", "family": "trees",
                                        "features": ["f"] * K, "baseline": 0.0,
                                        "threshold": 0.5, "trees": [tree], **model}}}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    return str(path)


GOOD = {"feature": [0, 0, 0], "threshold": [0.5, 0, 0], "left": [1, 0, 0], "right": [2, 0, 0],
        "missing_left": [1, 0, 0], "value": [0, -1.0, 1.0]}


def test_a_good_tree_splits_as_written(tmp_path):
    model = read_scorer(_doc(tmp_path, GOOD)).model_for("multispectral")
    assert isinstance(model, TreeModel)
    x = np.zeros((3, K))
    x[:, 0] = [0.2, 0.9, np.nan]
    z = model.trees[0].raw(x)
    np.testing.assert_array_equal(z, [-1.0, 1.0, -1.0])


@pytest.mark.parametrize(("change", "match"), [
    ({"left": [5, 0, 0]}, "out of range"),
    ({"feature": [K, 0, 0]}, "out of range"),
    ({"left": [0, 0, 0], "right": [0, 0]}, "differ in length"),
    ({"value": ["x", 0, 0]}, "malformed"),
])
def test_malformed_trees_are_refused(tmp_path, change, match):
    with pytest.raises(ConfigError, match=match):
        read_scorer(_doc(tmp_path, GOOD | change))


def test_unknown_family_and_feature_count_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="family"):
        read_scorer(_doc(tmp_path, GOOD, family="forest"))
    with pytest.raises(ConfigError, match="other features"):
        read_scorer(_doc(tmp_path, GOOD, features=["f"]))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-5, 5), min_size=K, max_size=K))
def test_a_tree_always_ends_in_a_leaf(row):
    tree = Tree(**{k: tuple(bool(b) for b in v) if k == "missing_left" else tuple(v)
                   for k, v in GOOD.items()})
    assert tree.raw(np.array([row]))[0] in (-1.0, 1.0)


def _evidence_with(lines: list[tuple[tuple[int, int], tuple[int, int]]]) -> np.ndarray:
    ev = np.zeros((200, 200))
    for (r0, c0), (r1, c1) in lines:
        n = max(abs(r1 - r0), abs(c1 - c0)) + 1
        rows, cols = np.linspace(r0, r1, n).round(), np.linspace(c0, c1, n).round()
        ev[rows.astype(int), cols.astype(int)] = 3.0
    return ev


def test_through_is_high_for_a_road_and_low_for_a_strip():
    # a straight piece from col 60 to 140 on row 100 (axis along columns)
    def through(ev: np.ndarray) -> float:
        return _through(ev, centre_rc=(100.0, 100.0), axis_rc=(0.0, 1.0), length_px=81.0,
                        ext_px=22)

    strip = _evidence_with([((100, 60), (100, 140))])
    assert through(strip) == pytest.approx(0.0)
    # the same piece with an access track leaving one end: the weaker end is still clear
    track = _evidence_with([((100, 60), (100, 140)), ((100, 140), (100, 199))])
    assert through(track) == pytest.approx(0.0)
    # a road that goes on past both ends, bending 20 degrees away at one of them
    bend = np.tan(np.deg2rad(20.0))
    road = _evidence_with([((100, 0), (100, 140)), ((100, 140), (100 + round(59 * bend), 199))])
    assert through(road) > 2.0


def test_through_uses_the_other_end_at_the_border_and_nan_when_both_leave():
    ev = _evidence_with([((100, 0), (100, 150))])
    # the strip's right end is the raster's edge: only the left end is seen
    assert _through(ev, centre_rc=(100.0, 150.0), axis_rc=(0.0, 1.0), length_px=99.0,
                    ext_px=22) > 2.0
    assert np.isnan(_through(ev, centre_rc=(100.0, 100.0), axis_rc=(0.0, 1.0),
                             length_px=199.0, ext_px=22))


def test_seeds_are_summarized_with_their_spread_and_the_target_count():
    per_seed = [{"recall_active": 0.714, "recall_inactive": 0.5, "false_per_100km2": 0.81},
                {"recall_active": 0.762, "recall_inactive": 0.4, "false_per_100km2": 1.22},
                {"recall_active": 0.667, "recall_inactive": None, "false_per_100km2": 0.5},
                {"recall_active": 0.70, "recall_inactive": 0.3, "false_per_100km2": 1.0}]
    out = learning.summarize_seeds(per_seed)
    assert out["mean"]["recall_active"] == pytest.approx((0.714 + 0.762 + 0.667 + 0.70) / 4)
    assert (out["min"]["false_per_100km2"], out["max"]["false_per_100km2"]) == (0.5, 1.22)
    assert out["mean"]["recall_inactive"] == pytest.approx(0.4)  # the None is left out
    assert out["meets_target"] == 2  # 0.714 at 0.81 and 0.70 at 1.0, both bounds inclusive
    assert out["target"] == {"recall_active": 0.70, "false_per_100km2": 1.0}
    none = learning.summarize_seeds([{"recall_active": None, "false_per_100km2": 0.0}])
    assert none["mean"]["recall_active"] is None
    assert none["meets_target"] == 0


@pytest.fixture
def no_fitting(monkeypatch):
    """Skip features and fitting: fit_model's threshold then comes from the faked folds."""
    monkeypatch.setattr(learning, "_xy", lambda results, kind: (np.zeros((0, K)), np.zeros(0)))
    monkeypatch.setattr(learning, "_fit", lambda x, y, *, kind, seed: TreeModel(
        kind=kind, baseline=0.0, trees=(), threshold=0.5))


def _false_only(n: int) -> list[ChipResult]:
    """``n`` chips of 25 km2, each with one false candidate (features and scores faked)."""
    chip = Chip(sdata=Path("c_2020_0_sdata.tiff"), target=None, runway_id="c", active=0,
                has_runway_flag=False)
    return [ChipResult(chip=chip, candidates=(), positive=(False,), false=(True,),
                       target_px=0, area_km2=25.0) for _ in range(n)]


@pytest.mark.parametrize(("repeats", "expected"), [(1, 0.6), (3, 0.5)])
@pytest.mark.usefixtures("no_fitting")
def test_the_operating_point_pools_repeated_inner_folds(monkeypatch, repeats, expected):
    # each inner split scores the 4 false candidates differently; 1 false per 100 km2 lets
    # one of 4 pass per split, so 3 of 12 when the three splits are pooled
    by_seed = {7: (0.9, 0.6, 0.2, 0.1), 1007: (0.5, 0.4, 0.3, 0.2), 2007: (0.8, 0.3, 0.2, 0.1)}
    seen: list[int] = []

    def out_of_fold(results, *, kind, seed, n_splits, extra):
        seen.append(seed)
        return [learning.Scored(r, (s,)) for r, s in zip(results, by_seed[seed], strict=True)]

    monkeypatch.setattr(learning, "_out_of_fold", out_of_fold)
    model = learning.fit_model(_false_only(4), kind="multispectral", seed=7,
                               inner_repeats=repeats, max_fp_per_100km2=1.0)
    assert seen == [7, 1007, 2007][:repeats]
    # strictly above the highest false score that would exceed the limit
    assert model.threshold == np.nextafter(expected, 1.0)


@pytest.mark.usefixtures("no_fitting")
def test_inner_repeats_default_per_kind(monkeypatch):
    seen: list[int] = []

    def out_of_fold(results, *, kind, seed, n_splits, extra):
        seen.append(seed)
        return [learning.Scored(r, (0.5,)) for r in results]

    monkeypatch.setattr(learning, "_out_of_fold", out_of_fold)
    for kind in ("multispectral", "rgb"):
        seen.clear()
        learning.fit_model(_false_only(4), kind=kind, seed=0)
        assert len(seen) == learning.INNER_REPEATS.get(kind, 1)


@pytest.mark.usefixtures("no_fitting")
def test_the_operating_point_keeps_a_margin_for_multispectral_only(monkeypatch):
    # 20 chips of 25 km2 (500 km2), each with one false candidate scored 0.95, 0.90, ...:
    # 1.0 per 100 km2 lets the 5 highest through, 0.7 the 3 highest (3.5, rounded down)
    scores = [1.0 - 0.05 * (i + 1) for i in range(20)]
    monkeypatch.setattr(learning, "_out_of_fold", lambda results, **kw: [
        learning.Scored(r, (s,)) for r, s in zip(results, scores, strict=True)])
    monkeypatch.setattr(learning, "INNER_REPEATS", {})
    assert learning.OPERATING_FP_BY_KIND == {"multispectral": 0.7}
    ms = learning.fit_model(_false_only(20), kind="multispectral")
    rgb = learning.fit_model(_false_only(20), kind="rgb")
    assert ms.threshold == np.nextafter(scores[3], 1.0)
    assert rgb.threshold == np.nextafter(scores[5], 1.0)
    again = learning.fit_model(_false_only(20), kind="multispectral", max_fp_per_100km2=1.0)
    assert again.threshold == rgb.threshold
