"""Grids per cell and month: exact totals, same cells as geo.aggregate, contiguity weights."""

from __future__ import annotations

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point

from geo.aggregate import aggregate_cells
from geo.errors import SchemaError
from geo.risk.grids import (
    CellGrid,
    aggregate_cells_by_month,
    cell_codes,
    grid_for_zoom,
    monthly_cell_matrix,
)
from geo.risk.neighbours import neighbour_matrix, study_cells


def _events(n: int, seed: int) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    qty = np.round(rng.gamma(1.0, 80.0, n), 1)
    qty[rng.random(n) < 0.2] = np.nan
    when = pd.Timestamp("2023-01-01", tz="UTC") + pd.to_timedelta(
        rng.integers(0, 3 * 365 * 24, n), unit="h")
    return gpd.GeoDataFrame({"quantity_kg": qty, "occurred_at": when},
                            geometry=gpd.points_from_xy(rng.uniform(-120, -30, n),
                                                        rng.uniform(-56, 33, n)), crs=4326)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 300), seed=st.integers(0, 10_000),
       kind=st.sampled_from(["h3", "square"]), level=st.integers(0, 6))
def test_totals_per_cell_and_month_are_exact(n, seed, kind, level):
    ev = _events(n, seed)
    grid = CellGrid(kind, resolution=level, size_deg=2.0 ** (3 - level))
    out = aggregate_cells_by_month(ev, grid)
    assert int(out["count"].sum()) == n
    assert (out["count"] > 0).all()
    assert not out.duplicated(["cell", "month"]).any()
    assert out["quantity_kg"].sum() == pytest.approx(np.nansum(ev["quantity_kg"]), abs=1e-6)
    # Summed over months, the cells are exactly geo.aggregate's.
    per_cell = out.groupby("cell")[["count", "quantity_kg"]].sum()
    ref = aggregate_cells(ev, kind=kind, resolution=level,
                          size_deg=2.0 ** (3 - level)).set_index("cell")
    assert per_cell["count"].to_dict() == ref["count"].to_dict()
    np.testing.assert_allclose(per_cell["quantity_kg"].sort_index(),
                               ref["quantity_kg"].sort_index(), atol=1e-9)
    per_month = out.groupby("month")["count"].sum()
    expected = ev["occurred_at"].dt.tz_localize(None).dt.to_period("M").dt.to_timestamp()
    assert per_month.to_dict() == expected.value_counts().to_dict()


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 200), seed=st.integers(0, 10_000), kind=st.sampled_from(["h3", "square"]))
def test_dense_matrix_keeps_the_totals(n, seed, kind):
    ev = _events(n, seed)
    m = monthly_cell_matrix(ev, CellGrid(kind, resolution=2, size_deg=5.0))
    assert m.counts.sum() == n
    assert m.quantity_kg.sum() == pytest.approx(np.nansum(ev["quantity_kg"]), abs=1e-6)
    assert m.counts.shape == (len(m.codes), len(m.months))
    assert (np.diff(m.codes) > 0).all()


def test_undated_and_unlocated_events_are_left_out():
    ev = gpd.GeoDataFrame({"occurred_at": pd.to_datetime(["2024-01-01", None, "2024-02-01"],
                                                         utc=True),
                           "quantity_kg": [1.0, 2.0, 4.0]},
                          geometry=[Point(1, 1), Point(1, 1), Point()], crs=4326)
    out = aggregate_cells_by_month(ev, CellGrid("square", size_deg=1.0))
    assert out["count"].tolist() == [1]
    assert out["quantity_kg"].tolist() == [1.0]


def test_h3_codes_are_h3s_own():
    lon, lat = np.array([-74.2, -65.1]), np.array([-12.4, -16.9])
    codes = cell_codes(lon, lat, CellGrid("h3", resolution=7))
    assert [h3.int_to_str(int(c)) for c in codes.astype(np.uint64)] == [
        h3.latlng_to_cell(-12.4, -74.2, 7), h3.latlng_to_cell(-16.9, -65.1, 7)]


def test_grid_follows_zoom():
    assert [grid_for_zoom(z).resolution for z in (3, 6, 10)] == [2, 4, 7]
    assert grid_for_zoom(10, kind="square").size_deg == pytest.approx(0.03125)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"kind": "hex"}, "expected 'h3' or 'square'"),
    ({"kind": "h3", "resolution": 16}, "0-15"),
    ({"kind": "square", "size_deg": 0.0}, "outside"),
], ids=["kind", "resolution", "size"])
def test_bad_grids_are_refused(kwargs, match):
    with pytest.raises(SchemaError, match=match):
        CellGrid(**kwargs)


def test_square_queen_neighbours():
    grid = CellGrid("square", size_deg=1.0)
    codes = study_cells(grid, bounds=(0.5, 0.5, 3.5, 3.5))  # 4 x 4 cells
    w = neighbour_matrix(codes, grid)
    assert (w != w.T).nnz == 0
    assert sorted(set(w.sum(axis=1).A1.tolist())) == [4.0, 6.0, 9.0]
    assert w.diagonal().tolist() == [1.0] * 16


def test_h3_neighbours_are_the_rings():
    grid = CellGrid("h3", resolution=5)
    centre = h3.latlng_to_cell(-10.0, -70.0, 5)
    disk = h3.grid_disk(centre, 2)
    codes = np.sort(np.array([h3.str_to_int(c) for c in disk], dtype=np.uint64).astype(np.int64))
    w = neighbour_matrix(codes, grid)
    i = int(np.searchsorted(codes, np.int64(h3.str_to_int(centre))))
    assert w[i].sum() == 7  # itself and its six neighbours
    assert (w != w.T).nnz == 0
    ring = {h3.str_to_int(c) for c in h3.grid_ring(centre, 1)}
    assert {int(codes[j]) for j in w[i].indices} == ring | {h3.str_to_int(centre)}


def test_h3_study_area_covers_the_box():
    grid = CellGrid("h3", resolution=4)
    codes = study_cells(grid, bounds=(-75.0, -12.0, -70.0, -8.0))
    centre = h3.str_to_int(h3.latlng_to_cell(-10.0, -72.5, 4))
    assert centre in set(codes.tolist())
    with pytest.raises(SchemaError, match="coarser"):
        study_cells(CellGrid("h3", resolution=12), bounds=(-75.0, -12.0, -70.0, -8.0))
