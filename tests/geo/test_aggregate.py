"""Aggregation: exact cells on known points, totals preserved on random ones, monthly series."""

from __future__ import annotations

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point

from geo.aggregate import (
    aggregate_cells,
    cell_polygons,
    cluster_points,
    h3_resolution_for_zoom,
    monthly_counts,
)
from geo.errors import SchemaError


def test_h3_cells_match_h3_itself(events):
    cells = aggregate_cells(events, kind="h3", resolution=5)
    expected = {h3.latlng_to_cell(p.y, p.x, 5) for p in events.geometry}
    assert set(cells["cell"]) == expected
    assert cells["count"].sum() == 5
    assert cells["quantity_kg"].sum() == pytest.approx(312.0 + 45.5 + 1200.0)


def test_square_cells_and_their_polygons_contain_their_points():
    ev = gpd.GeoDataFrame({"quantity_kg": [1.0, 2.0, 4.0]},
                          geometry=[Point(-74.2, -12.4), Point(-74.9, -12.1), Point(-65.1, -16.9)],
                          crs=4326)
    cells = aggregate_cells(ev, kind="square", size_deg=1.0)
    assert cells[["count", "quantity_kg"]].to_numpy().tolist() == [[2, 3.0], [1, 4.0]]
    polys = cell_polygons(cells)
    assert polys.geometry.iloc[0].contains(Point(-74.2, -12.4))
    assert polys.geometry.iloc[1].contains(Point(-65.1, -16.9))
    hexes = cell_polygons(aggregate_cells(ev, kind="h3", resolution=3))
    for point in ev.geometry:
        assert hexes.geometry.contains(point).sum() == 1


def test_rows_without_a_location_are_left_out():
    ev = gpd.GeoDataFrame({"quantity_kg": [1.0, 2.0]}, geometry=[Point(1, 1), None], crs=4326)
    assert aggregate_cells(ev, kind="square")["count"].tolist() == [1]


def test_bad_cell_sizes_are_refused(events):
    with pytest.raises(SchemaError, match="0-15"):
        aggregate_cells(events, kind="h3", resolution=16)
    with pytest.raises(SchemaError, match="expected 'h3' or 'square'"):
        aggregate_cells(events, kind="hex")  # type: ignore[arg-type]


def test_resolution_grows_with_zoom():
    resolutions = [h3_resolution_for_zoom(z) for z in range(0, 19)]
    assert resolutions == sorted(resolutions)
    assert min(resolutions) >= 0
    assert max(resolutions) <= 9


@settings(max_examples=50, deadline=None)
@given(n=st.integers(0, 300), seed=st.integers(0, 10_000),
       kind=st.sampled_from(["h3", "square"]), level=st.integers(0, 6))
def test_totals_are_preserved(n, seed, kind, level):
    rng = np.random.default_rng(seed)
    qty = np.round(rng.gamma(1.0, 80.0, n), 1)
    qty[rng.random(n) < 0.2] = np.nan
    ev = gpd.GeoDataFrame({"quantity_kg": qty},
                          geometry=gpd.points_from_xy(rng.uniform(-120, -30, n),
                                                      rng.uniform(-56, 33, n)), crs=4326)
    cells = aggregate_cells(ev, kind=kind, resolution=level, size_deg=2.0 ** (3 - level))
    assert int(cells["count"].sum()) == n  # exact
    assert (cells["count"] > 0).all()
    assert cells["cell"].is_unique
    # Quantities are kept to 0.1 kg, so the sums agree to far below that.
    assert cells["quantity_kg"].sum() == pytest.approx(np.nansum(qty), abs=1e-6)


def test_monthly_counts_fill_gaps_and_split_by_type(events):
    table = monthly_counts(events)
    assert table.index[0] == pd.Timestamp("2023-01-01")
    assert table.index[-1] == pd.Timestamp("2024-12-01")
    assert len(table) == 24  # every month between the first and the last event
    assert table.to_numpy().sum() == 5
    assert table.loc["2023-03-01", "suspicious_flight"] == 1
    assert set(table.columns) == {"seizure", "interdiction", "suspicious_flight", "incident"}
    assert monthly_counts(events.iloc[:0]).empty


@settings(max_examples=50, deadline=None)
@given(n=st.integers(0, 400), seed=st.integers(0, 10_000), zoom=st.integers(2, 14),
       cap=st.integers(1, 200), windowed=st.booleans())
def test_clusters_keep_every_event_once(n, seed, zoom, cap, windowed):
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(-120, -30, n), rng.uniform(-56, 33, n)
    types = rng.choice(["seizure", "incident", "interdiction"], n)
    ev = gpd.GeoDataFrame({"event_type": types, "quantity_kg": rng.gamma(1.0, 50.0, n)},
                          geometry=gpd.points_from_xy(x, y), crs=4326)
    bounds = (-90.0, -30.0, -60.0, 0.0) if windowed else None
    inside = ((x >= -90) & (x <= -60) & (y >= -30) & (y <= 0)) if windowed else np.ones(n, bool)
    clusters = cluster_points(ev, zoom=zoom, bounds=bounds, max_clusters=cap)
    assert int(clusters["count"].sum()) == int(inside.sum())  # each event in one cluster
    assert len(clusters) <= cap or len(clusters) <= 8  # 90-degree cells at the coarsest
    assert clusters["count"].is_monotonic_decreasing
    assert clusters["quantity_kg"].sum() == pytest.approx(ev["quantity_kg"][inside].sum())
    if len(clusters):  # a cluster sits among its members (mean of their positions)
        assert clusters["lon"].between(x[inside].min() - 1e-6, x[inside].max() + 1e-6).all()
        assert set(clusters["event_type"]) <= set(types[inside])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.none(), st.integers(0, 2000)),
                          st.one_of(st.none(), st.sampled_from(["seizure", "incident",
                                                                "unknown"]))),
                min_size=1, max_size=40))
def test_monthly_counts_match_a_plain_groupby(rows: list[tuple[int | None, str | None]]) -> None:
    """Every dated event is counted once, in its month and under its type (missing: unknown)."""
    start = pd.Timestamp("2020-01-01", tz="UTC")
    when = pd.Series([None if d is None else start + pd.Timedelta(days=d) for d, _ in rows],
                     dtype="datetime64[ns, UTC]")
    types = pd.Series([k for _, k in rows], dtype="category")
    table = monthly_counts(pd.DataFrame({"occurred_at": when, "event_type": types}))
    dated = when.notna()
    assert int(table.to_numpy().sum()) == int(dated.sum())
    expected = (pd.DataFrame({"m": when[dated].dt.tz_localize(None).dt.to_period("M"),
                              "k": types[dated].astype("string").fillna("unknown")})
                .groupby(["m", "k"]).size())
    for (month, key), n in expected.items():
        assert table.loc[month.to_timestamp(), key] == n
    if len(table):
        assert list(table.columns) == sorted(table.columns)
        assert (table.index.to_period("M") == pd.period_range(table.index[0], periods=len(table),
                                                              freq="M")).all()
