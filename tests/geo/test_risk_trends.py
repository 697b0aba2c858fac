"""Mann-Kendall against known answers and scipy; emerging-hotspot labels on planted patterns."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats

from geo.errors import SchemaError
from geo.risk.grids import CellGrid
from geo.risk.trends import compute_emerging_hotspots, emerging_labels, mann_kendall


@pytest.mark.parametrize(("series", "s", "var_s", "z"), [
    (np.arange(10.0), 45, 125.0, 44 / np.sqrt(125.0)),
    (np.arange(10.0)[::-1], -45, 125.0, -44 / np.sqrt(125.0)),
    # Hirsch et al.'s textbook case with ties: 1 2 2 3 -> S = 5, Var = (4*3*13 - 2*1*9)/18.
    (np.array([1.0, 2.0, 2.0, 3.0]), 5, (156 - 18) / 18, 4 / np.sqrt((156 - 18) / 18)),
    (np.array([5.0, 5.0, 5.0]), 0, 0.0, 0.0),
], ids=["rising", "falling", "ties", "flat"])
def test_known_answers(series, s, var_s, z):
    r = mann_kendall(series)
    assert float(r.s) == s
    assert float(r.var_s) == pytest.approx(var_s)
    assert float(r.z) == pytest.approx(z)
    if var_s > 0:
        assert float(r.p) == pytest.approx(2 * stats.norm.sf(abs(z)))
    else:
        assert np.isnan(r.p)


@settings(max_examples=60, deadline=None)
@given(arrays(np.int64, st.tuples(st.integers(1, 6), st.integers(3, 30)),
              elements=st.integers(0, 6)))
def test_statistic_matches_scipy_kendalltau(x):
    """S and tau-b agree with scipy's Kendall tau of (time, value), row by row."""
    r = mann_kendall(x.astype(float))
    t = np.arange(x.shape[1])
    for i, row in enumerate(x):
        expected = stats.kendalltau(t, row).statistic
        if np.isnan(expected):
            assert r.s[i] == 0
            continue
        assert r.tau[i] == pytest.approx(expected, abs=1e-12)
        pairs = len(t) * (len(t) - 1) / 2
        ties = sum(c * (c - 1) / 2 for c in np.unique(row, return_counts=True)[1])
        assert r.s[i] == pytest.approx(expected * np.sqrt(pairs * (pairs - ties)), abs=1e-9)


def test_needs_two_periods():
    with pytest.raises(SchemaError, match="at least 2"):
        mann_kendall(np.zeros((3, 1)))


def test_label_rule():
    """Intensifying, diminishing and persistent need the recent window hot.

    As ESRI's need the latest period hot; a cell hot over the window but quiet lately is
    historical.
    """
    t, f = True, False
    labels = emerging_labels(hot_all=np.array([f, t, t, t, f, t, t]),
                             hot_recent=np.array([t, t, t, t, f, f, f]),
                             hot_before=np.array([f, t, t, t, f, t, t]),
                             trend=np.array([0, 1, -1, 0, 1, 1, -1]))
    assert labels.tolist() == ["new", "intensifying", "diminishing", "persistent", "none",
                               "historical", "historical"]


def _events(lon: np.ndarray, lat: np.ndarray, months: np.ndarray) -> gpd.GeoDataFrame:
    when = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(months * 30.4 + 10, unit="D")
    return gpd.GeoDataFrame({"occurred_at": when}, geometry=gpd.points_from_xy(lon, lat),
                            crs=4326)


def test_planted_patterns_get_their_labels():
    rng = np.random.default_rng(2)
    n = 6000  # background: 24 months over a 20 x 20 grid of 1-degree cells
    parts = [_events(rng.uniform(0, 20, n), np.degrees(np.arcsin(rng.uniform(0, np.sin(
        np.radians(20)), n))), rng.integers(0, 24, n))]
    # Rising cluster at (5.5, 5.5): i events in month i.
    m = np.repeat(np.arange(24), np.arange(24))
    parts.append(_events(rng.normal(5.5, 0.1, len(m)), rng.normal(5.5, 0.1, len(m)), m))
    # Steady cluster at (14.5, 5.5): 12 a month.
    m = np.repeat(np.arange(24), 12)
    parts.append(_events(rng.normal(14.5, 0.1, len(m)), rng.normal(5.5, 0.1, len(m)), m))
    # New cluster at (10.5, 15.5): 60 a month in the last three months only.
    m = np.repeat(np.arange(21, 24), 60)
    parts.append(_events(rng.normal(10.5, 0.1, len(m)), rng.normal(15.5, 0.1, len(m)), m))
    # Past cluster at (4.5, 15.5): 12 a month, silent in the last six months.
    m = np.repeat(np.arange(18), 12)
    parts.append(_events(rng.normal(4.5, 0.1, len(m)), rng.normal(15.5, 0.1, len(m)), m))
    out = compute_emerging_hotspots(pd.concat(parts, ignore_index=True),
                                    CellGrid("square", size_deg=1.0),
                                    bounds=(0.5, 0.5, 19.5, 19.5)).set_index(["lon", "lat"])
    assert out.loc[(5.5, 5.5), "label"] == "intensifying"
    assert out.loc[(14.5, 5.5), "label"] == "persistent"
    assert out.loc[(10.5, 15.5), "label"] == "new"
    assert out.loc[(4.5, 15.5), "label"] == "historical"  # not "persistent": quiet lately
    far = out.drop(index=[(5.5, 5.5), (14.5, 5.5), (10.5, 15.5), (4.5, 15.5)])
    labelled = far[far["label"] != "none"].index.to_frame().to_numpy()
    centres = np.array([(5.5, 5.5), (14.5, 5.5), (10.5, 15.5), (4.5, 15.5)])
    # Only the clusters' own neighbours (their Gi* neighbourhoods hold the cluster) are labelled.
    gap = np.abs(labelled[:, None, :] - centres[None, :, :]).max(axis=2).min(axis=1)
    assert (gap <= 1.0).all()
