"""Coarsening event locations to a grid cell for roles without clearance."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from shapely.geometry import LineString, Point

from geo.auth import Role
from geo.auth.precision import EXACT, cell_centres, coarsen_for_role, coarsen_points
from geo.errors import CRSError, SchemaError

lons = st.floats(min_value=-180, max_value=180, allow_nan=False)
lats = st.floats(min_value=-90, max_value=90, allow_nan=False)


def test_points_move_to_their_cell_centre(events):
    shown = coarsen_points(events)
    coords = [g.coords[0] for g in shown.frame.geometry]
    assert coords[0] == (-74.15, -12.35)  # (-74.2, -12.4) is the corner of its cell
    assert coords[1] == (-78.75, 1.85)
    assert shown.precision.cell_deg == 0.1
    assert not shown.precision.exact
    assert "0.1° grid cells (about 11 km)" in shown.precision.sentence
    assert "one of these roles: Analyst, Administrator." in shown.precision.sentence
    # The input is left alone and every other column kept.
    assert events.geometry.iloc[0].coords[0] == (-74.2, -12.4)
    assert list(shown.frame.columns) == list(events.columns)
    assert shown.frame.crs == events.crs


def test_coordinate_columns_are_coarsened_too(events):
    frame = events.assign(lon=events.geometry.x, lat=events.geometry.y)
    shown = coarsen_points(frame, cell_deg=1.0).frame
    assert shown["lon"].tolist() == shown.geometry.x.tolist()
    assert shown["lat"].tolist() == shown.geometry.y.tolist()
    assert shown.loc[0, "lon"] == -74.5
    assert shown.loc[0, "lat"] == -12.5


@pytest.mark.parametrize(("role", "exact"), [
    (Role.ANALYST, True), (Role.ADMIN, True), (Role.PLANNER, False), (Role.FIELD, False),
    (None, False), ("intruder", False),
], ids=str)
def test_precision_follows_the_role(events, role, exact):
    shown = coarsen_for_role(events, role)
    assert shown.precision.exact is exact
    assert bool(shown.frame.geometry.geom_equals(events.geometry).all()) is exact
    if exact:
        assert shown.precision == EXACT
    assert shown.precision.to_json()["statement"] == shown.precision.sentence


@given(lon=lons, lat=lats, cell=st.sampled_from([0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 7.0]))
def test_coarsened_points_stay_in_range_and_near(lon, lat, cell):
    frame = gpd.GeoDataFrame(geometry=[Point(lon, lat)], crs=4326)
    once = coarsen_points(frame, cell_deg=cell).frame
    x, y = once.geometry.x.iloc[0], once.geometry.y.iloc[0]
    assert -180 <= x <= 180
    assert -90 <= y <= 90
    assert abs(x - lon) <= cell / 2 + 1e-6
    assert abs(y - lat) <= cell / 2 + 1e-6
    twice = coarsen_points(once, cell_deg=cell).frame  # one fixed lattice: idempotent
    assert twice.geometry.iloc[0].equals(once.geometry.iloc[0])


def test_edges_of_the_world_stay_inside():
    got = cell_centres(np.array([-180.0, 180.0, 179.99]), cell_deg=0.1, low=-180, high=180)
    assert got.tolist() == [-179.95, 179.95, 179.95]
    assert cell_centres(np.array([90.0]), cell_deg=0.1, low=-90, high=90).tolist() == [89.95]


def test_an_empty_layer_is_fine():
    empty = gpd.GeoDataFrame({"event_id": []}, geometry=[], crs=4326)
    assert coarsen_points(empty).frame.empty


def test_refusals(events):
    with pytest.raises(CRSError, match="EPSG:4326"):
        coarsen_points(events.to_crs(3857))
    lines = gpd.GeoDataFrame(geometry=[LineString([(0, 0), (1, 1)])], crs=4326)
    with pytest.raises(SchemaError, match="not points"):
        coarsen_points(lines)
    with pytest.raises(SchemaError, match="grid cell"):
        coarsen_points(events, cell_deg=0)
