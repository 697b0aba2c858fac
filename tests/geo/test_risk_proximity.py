"""Proximity of runway candidates: nearest points and lines against geodesic brute force."""

from __future__ import annotations

from datetime import UTC, datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from shapely.geometry import LineString, Polygon

from geo.countries import CountryBorders
from geo.errors import SchemaError
from geo.risk.proximity import (
    PROXIMITY_COLUMNS,
    candidate_proximity,
    count_within_km,
    land_borders,
    nearest_line_km,
    nearest_point_km,
    recent_seizures,
)

GEOD = pyproj.Geod(ellps="WGS84")


def _rect(lon: float, lat: float) -> Polygon:
    return Polygon([(lon, lat), (lon + 0.01, lat), (lon + 0.01, lat + 0.002),
                    (lon, lat + 0.002)])


def test_nearest_point_matches_geodesic_brute_force():
    rng = np.random.default_rng(0)
    lon, lat = rng.uniform(-80, -60, 50), rng.uniform(-20, 0, 50)
    olon, olat = rng.uniform(-80, -60, 400), rng.uniform(-20, 0, 400)
    d, i = nearest_point_km(lon, lat, olon, olat)
    for k in range(50):
        geo = GEOD.inv(np.full(400, lon[k]), np.full(400, lat[k]), olon, olat)[2] / 1000
        assert d[k] == pytest.approx(geo.min(), rel=5e-3)  # sphere vs ellipsoid
        assert geo[i[k]] <= geo.min() * 1.005


def test_nearest_other_point_skips_itself():
    lon, lat = np.array([0.0, 0.0, 1.0]), np.array([0.0, 0.0, 0.0])
    d, i = nearest_point_km(lon, lat, lon, lat, exclude_self=True)
    assert d[:2].tolist() == [0.0, 0.0]  # two at the same place are each other's nearest
    assert i.tolist()[:2] == [1, 0]
    assert i[2] in (0, 1)
    assert np.isnan(nearest_point_km(lon[:1], lat[:1], lon[:1], lat[:1], exclude_self=True)[0][0])


def test_count_within_radius():
    lon = np.array([0.0, 0.1, 0.2, 3.0])
    assert count_within_km(np.array([0.0]), np.array([0.0]), lon, np.zeros(4), 25.0)[0] == 3


def test_nearest_line_matches_geodesic_brute_force():
    rng = np.random.default_rng(1)
    lines = [LineString([(-75 + 3 * k, -15), (-74 + 3 * k, -5)]) for k in range(5)]
    lon, lat = rng.uniform(-76, -60, 40), rng.uniform(-14, -6, 40)
    d = nearest_line_km(lon, lat, np.array(lines, dtype=object))
    for k in range(40):
        best = np.inf
        for line in lines:
            (x0, y0), (x1, y1) = line.coords
            pts = np.array([(x0, y0), *GEOD.npts(x0, y0, x1, y1, 2000), (x1, y1)])
            best = min(best, GEOD.inv(np.full(len(pts), lon[k]), np.full(len(pts), lat[k]),
                                      pts[:, 0], pts[:, 1])[2].min() / 1000)
        assert d[k] == pytest.approx(best, rel=2e-3, abs=0.05)


def test_land_borders_leave_coasts_out():
    a, b = shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)
    borders = land_borders(CountryBorders(["AA", "BB"], [a, b]))
    assert shapely.union_all(borders).equals(LineString([(1, 0), (1, 1)]))
    far = CountryBorders(["AA", "CC"], [a, shapely.box(5, 5, 6, 6)])
    assert len(land_borders(far)) == 0


def test_recent_seizures_window():
    ev = gpd.GeoDataFrame({"event_type": ["seizure", "seizure", "incident", "seizure"],
                           "occurred_at": pd.to_datetime(["2025-06-01", "2024-01-01",
                                                          "2025-06-01", "2026-02-01"], utc=True)},
                          geometry=gpd.points_from_xy([0, 0, 0, 0], [0, 0, 0, 0]), crs=4326)
    out = recent_seizures(ev, now=datetime(2026, 1, 1, tzinfo=UTC), months=12)
    assert list(out.index) == [0]
    with pytest.raises(SchemaError, match="time zone"):
        recent_seizures(ev, now=datetime(2026, 1, 1), months=12)


def test_candidate_proximity_columns_and_missing_layers():
    cand = gpd.GeoDataFrame({"candidate_id": ["c1", "c2"], "state": ["new", "active"]},
                            geometry=[_rect(-70.0, -10.0), _rect(-70.2, -10.0)], crs=4326)
    aero = gpd.GeoDataFrame({"ident": ["SPXX"]}, geometry=gpd.points_from_xy([-70.0], [-9.5]),
                            crs=4326)
    route = gpd.GeoDataFrame(geometry=[LineString([(-71, -10.5), (-69, -10.5)])], crs=4326)
    out = candidate_proximity(cand, now=datetime(2026, 1, 1, tzinfo=UTC), aerodromes=aero,
                              routes=route)
    assert set(PROXIMITY_COLUMNS) <= set(out.columns)
    assert out["river_km"].isna().all()
    assert out["border_km"].isna().all()
    assert out["seizure_km"].isna().all()
    assert out["aerodrome_km"].iloc[0] == pytest.approx(55.1, abs=0.5)
    assert out["route_km"].iloc[0] == pytest.approx(55.5, abs=0.5)
    assert out["candidate_km"].iloc[0] == pytest.approx(21.9, abs=0.3)
    assert out["nearest_candidate"].tolist() == ["c2", "c1"]
    assert out["nearest_candidate_state"].tolist() == ["active", "new"]
    assert out["nearest_aerodrome"].tolist() == ["SPXX", "SPXX"]


def test_candidate_proximity_needs_a_crs():
    cand = gpd.GeoDataFrame({"candidate_id": ["c1"]}, geometry=[_rect(-70.0, -10.0)])
    with pytest.raises(Exception, match="CRS"):
        candidate_proximity(cand, now=datetime(2026, 1, 1, tzinfo=UTC))
