"""Risk scores: the breakdown adds up, weights act deterministically, explanations add up too."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Polygon

from geo.errors import ConfigError
from geo.i18n import Message
from geo.risk.cell_risk import compute_cell_risk
from geo.risk.grids import CellGrid
from geo.risk.proximity import candidate_proximity
from geo.risk.score import (
    CANDIDATE_FACTORS,
    CELL_FACTORS,
    RiskWeights,
    explain,
    score_candidates,
    score_cells,
    score_table,
)

NOW = datetime(2025, 12, 31, tzinfo=UTC)
WEIGHT_NAMES = list(RiskWeights().weights())


def _rect(lon: float, lat: float) -> Polygon:
    return Polygon([(lon, lat), (lon + 0.01, lat), (lon + 0.01, lat + 0.002),
                    (lon, lat + 0.002)])


@pytest.fixture
def world():
    rng = np.random.default_rng(4)
    n = 400
    events = gpd.GeoDataFrame(
        {"event_type": rng.choice(["seizure", "incident"], n),
         "occurred_at": pd.Timestamp("2025-01-01", tz="UTC")
         + pd.to_timedelta(rng.integers(0, 364, n), unit="D"),
         "quantity_kg": rng.gamma(1.0, 100.0, n)},
        geometry=gpd.points_from_xy(rng.normal(-70, 0.3, n), rng.normal(-10, 0.3, n)), crs=4326)
    candidates = gpd.GeoDataFrame(
        {"candidate_id": ["c1", "c2", "c3"], "state": ["new", "active", "new"],
         "score": [0.9, 0.5, 0.7]},
        geometry=[_rect(-70.0, -10.0), _rect(-70.03, -10.0), _rect(-68.0, -12.0)], crs=4326)
    routes = gpd.GeoDataFrame(geometry=[LineString([(-71, -10.1), (-69, -10.1)])], crs=4326)
    borders = np.array([LineString([(-69.8, -11), (-69.8, -9)])], dtype=object)
    prox = candidate_proximity(candidates, now=NOW, events=events, routes=routes,
                               borders=borders)
    return events, candidates, prox, borders


def _digits(text: str) -> tuple[int, list[int]]:
    head, _, rest = text.partition(" = ")
    return int(head.split(":")[0]), [int(p) for p in re.findall(r"(?:^| \+ )(\d+) \(", rest)]


def test_candidate_breakdown_adds_up(world):
    events, candidates, prox, _ = world
    out = score_candidates(candidates, prox, events=events, now=NOW)
    for score, parts, text in out.itertuples(index=False):
        assert score == pytest.approx(sum(c.points for c in parts), abs=1e-9)
        assert 0 <= score <= 100
        total, shown = _digits(text)
        assert total == sum(shown) == round(score)
        assert [c.factor for c in parts] == [f.name for f in CANDIDATE_FACTORS]
    first = out["risk_breakdown"].iloc[0]
    assert {c.factor: c.unit for c in first}["border"] == "km"
    assert "new strip" in out["risk_explanation"].iloc[1]  # c2's nearest is c1, a new one
    assert out["risk_score"].iloc[0] > out["risk_score"].iloc[2]  # c3 is far from it all


def test_changing_a_weight_changes_score_and_breakdown(world):
    events, candidates, prox, _ = world
    base = score_candidates(candidates, prox, events=events, now=NOW)
    again = score_candidates(candidates, prox, events=events, now=NOW)
    pd.testing.assert_frame_equal(base, again)  # deterministic
    heavy = score_candidates(candidates, prox, events=events, now=NOW,
                             weights=RiskWeights(border=20.0))
    b0 = {c.factor: c.points for c in base["risk_breakdown"].iloc[0]}
    b1 = {c.factor: c.points for c in heavy["risk_breakdown"].iloc[0]}
    assert b1["border"] > b0["border"]
    assert b1["events"] < b0["events"]  # the others share less of the 100
    assert heavy["risk_score"].iloc[0] != base["risk_score"].iloc[0]
    none = score_candidates(candidates, prox, events=events, now=NOW,
                            weights=RiskWeights(border=0.0))
    assert {c.factor: c.points for c in none["risk_breakdown"].iloc[0]}["border"] == 0.0


@settings(max_examples=60, deadline=None)
@given(weights=st.lists(st.floats(0.0, 10.0), min_size=len(WEIGHT_NAMES),
                        max_size=len(WEIGHT_NAMES)).filter(lambda w: sum(w) > 0),
       raw=st.lists(st.one_of(st.none(), st.floats(0.0, 500.0)), min_size=6, max_size=6))
def test_points_always_add_up_to_the_score(weights, raw):
    w = RiskWeights(**dict(zip(WEIGHT_NAMES, weights, strict=True)))
    cells = pd.DataFrame({"events": [raw[0]], "quantity_kg": [raw[1]], "z": [raw[2]],
                          "candidates": [raw[3]], "border_km": [raw[4]],
                          "label": [["new", "persistent", "none", None, "diminishing",
                                     "intensifying"][int(raw[5] or 0) % 6]]}, dtype=object)
    out = score_cells(cells, weights=w)
    score, parts = out["risk_score"].iloc[0], out["risk_breakdown"].iloc[0]
    assert 0.0 <= score <= 100.0 + 1e-9
    assert score == pytest.approx(sum(c.points for c in parts), abs=1e-9)
    assert all(c.points >= 0 for c in parts)
    total, shown = _digits(out["risk_explanation"].iloc[0])
    assert total == round(score)
    if shown:
        assert sum(shown) == total


def test_missing_factors_are_left_out_not_zero():
    w = RiskWeights(events=1.0, border=1.0, quantity=0.0, hotspot=0.0, trend=0.0, candidate=0.0)
    with_border = score_cells(pd.DataFrame({"events": [20], "border_km": [1000.0]}), weights=w)
    without = score_cells(pd.DataFrame({"events": [20]}), weights=w)
    assert with_border["risk_score"].iloc[0] == pytest.approx(50.0)
    assert without["risk_score"].iloc[0] == pytest.approx(100.0)
    texts = [c.text for c in without["risk_breakdown"].iloc[0]]
    assert "border: no data" in texts


def test_explanation_reads_like_the_issue():
    out = score_cells(pd.DataFrame({"events": [18], "candidates": [1], "border_km": [25.0]}),
                      weights=RiskWeights(events=1.0, candidate=1.0, border=1.0, quantity=0.0,
                                          hotspot=0.0, trend=0.0))
    assert out["risk_explanation"].iloc[0] == (
        "58 = 30 (18 events in 12 months) + 11 (1 runway candidate) + 17 (25 km from the border)")


def test_explain_with_nothing():
    assert explain(0.0, []) == "0: no risk factor present"


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"events": -1.0}, "finite number >= 0"),
    ({"border": float("nan")}, "finite number >= 0"),
    (dict.fromkeys(WEIGHT_NAMES, 0.0), "every risk weight is 0"),
    ({"reach_km": 0.0}, "reach_km"),
    ({"window_months": 0}, "window_months"),
], ids=["negative", "nan", "all-zero", "reach", "window"])
def test_weights_validate_themselves(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        RiskWeights(**kwargs)


@pytest.mark.parametrize(("kwargs", "english"), [
    ({"events": -1.0}, "risk weight events=-1.0: expected a finite number >= 0"),
    (dict.fromkeys(WEIGHT_NAMES, 0.0), "every risk weight is 0: give at least one factor a "
                                       "weight"),
    ({"reach_km": 0.0}, "reach_km=0.0: expected a finite number > 0"),
    ({"window_months": 0}, "window_months=0: expected an integer >= 1"),
], ids=["negative", "all-zero", "reach", "window"])
def test_refused_weights_keep_their_english_and_their_message(kwargs, english):
    with pytest.raises(ConfigError) as info:
        RiskWeights(**kwargs)
    assert str(info.value) == english  # the text it always was
    assert isinstance(info.value.args[0], Message)  # so the analysis page can localize it


def test_weights_are_frozen_and_hashable():
    w = RiskWeights()
    with pytest.raises(dataclasses.FrozenInstanceError):
        w.events = 2.0  # type: ignore[misc]
    assert hash(w) == hash(RiskWeights())
    assert hash(w) != hash(RiskWeights(events=2.0))


def test_cell_risk_from_layers(world):
    events, candidates, _, borders = world
    out = compute_cell_risk(events, CellGrid("h3", resolution=5), now=NOW,
                            candidates=candidates, borders=borders)
    assert out["events"].sum() == len(events)  # every event of 2025 is in the window
    assert out["candidates"].sum() == len(candidates)
    assert out["quantity_kg"].sum() == pytest.approx(events["quantity_kg"].sum())
    top = out.loc[out["risk_score"].idxmax()]
    assert top["risk_score"] > 30
    assert top["risk_score"] == pytest.approx(sum(c.points for c in top["risk_breakdown"]))
    assert {f.name for f in CELL_FACTORS} == {c.factor for c in top["risk_breakdown"]}


def test_score_table_with_no_rows():
    out = score_table(pd.DataFrame({"events": []}), CELL_FACTORS, RiskWeights())
    assert list(out.columns) == ["risk_score", "risk_breakdown", "risk_explanation"]
    assert len(out) == 0


def test_no_recent_seizure_anywhere_scores_like_one_out_of_reach(world):
    """Found by a review: with no seizure at all the factor was dropped, raising the others."""
    events, candidates, _, borders = world
    w = RiskWeights()
    quiet = events.assign(event_type="incident")  # events, but none of them a seizure
    far = pd.concat([quiet, events.iloc[[0]].assign(
        event_type="seizure", geometry=gpd.points_from_xy([-50.0], [-10.0], crs=4326))])
    scores = {}
    for name, layer in (("none", quiet), ("far", far)):
        prox = candidate_proximity(candidates, now=NOW, events=layer, borders=borders)
        out = score_candidates(candidates, prox, events=layer, now=NOW, weights=w)
        scores[name] = out["risk_score"].to_numpy()
        parts = {c.factor: c for c in out["risk_breakdown"].iloc[0]}
        assert parts["seizure"].points == 0.0
        if name == "none":
            assert prox["seizure_km"].tolist() == [np.inf] * 3
            assert parts["seizure"].text == "no recent seizure"
        else:
            assert prox["seizure_km"].min() > w.reach_km
    np.testing.assert_allclose(scores["none"], scores["far"])
    no_layer = candidate_proximity(candidates, now=NOW, events=None, borders=borders)
    assert no_layer["seizure_km"].isna().all()  # no events at all: no data, as before


def test_a_lone_candidate_has_no_other_strip_near_it(world):
    events, candidates, _, borders = world
    one = candidates.iloc[[0]]
    prox = candidate_proximity(one, now=NOW, events=events, borders=borders)
    assert prox["candidate_km"].tolist() == [np.inf]
    parts = {c.factor: c for c in score_candidates(one, prox, events=events,
                                                   now=NOW)["risk_breakdown"].iloc[0]}
    assert parts["candidate"].points == 0.0
    assert parts["candidate"].text == "no other strip"
    assert parts["candidate"].value == np.inf


@given(value=st.sampled_from([float("inf"), 1e9, 5000.0]))
def test_an_infinite_distance_is_data_worth_no_points(value):
    raw = pd.DataFrame({"seizure": [value], "border": [0.0]})
    out = score_table(raw, CANDIDATE_FACTORS, RiskWeights(seizure=1.0, border=1.0, events=0.0,
                                                          candidate=0.0, river=0.0, route=0.0,
                                                          aerodrome=0.0, detection=0.0))
    assert out["risk_score"].iloc[0] == pytest.approx(50.0)
