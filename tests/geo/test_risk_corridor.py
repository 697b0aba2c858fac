"""Corridor queries against brute force: shapely one feature at a time, and geodesics."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, MultiLineString, Point, Polygon

from geo.errors import SchemaError
from geo.risk.corridor import corridor_pieces, corridor_query, within_corridor

GEOD = pyproj.Geod(ellps="WGS84")
LONG_LINE = LineString([(-75.0, -10.0), (-68.0, -4.0), (-60.0, 5.0)])  # about 2,000 km


def _layers(rng: np.random.Generator, line: LineString, n: int = 3000):
    lon0, lat0, lon1, lat1 = line.bounds
    lon = rng.uniform(lon0 - 2, lon1 + 2, n)
    lat = rng.uniform(lat0 - 2, lat1 + 2, n)
    when = pd.Timestamp("2023-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 730, n),
                                                                  unit="D")
    events = gpd.GeoDataFrame({"event_id": [f"e{i}" for i in range(n)], "occurred_at": when},
                              geometry=gpd.points_from_xy(lon, lat), crs=4326)
    rects = [Polygon([(x, y), (x + 0.01, y), (x + 0.01, y + 0.002), (x, y + 0.002)])
             for x, y in zip(lon[:400], lat[:400], strict=True)]
    candidates = gpd.GeoDataFrame({"candidate_id": [f"c{i}" for i in range(400)],
                                   "detected_at": when[:400], "state": "new", "score": 0.5},
                                  geometry=rects, crs=4326)
    aerodromes = gpd.GeoDataFrame({"ident": [f"a{i}" for i in range(300)]},
                                  geometry=gpd.points_from_xy(lon[-300:], lat[-300:]), crs=4326)
    return events, candidates, aerodromes


def _brute_force(geoms, line, buffer_km) -> np.ndarray:
    """Ask the same question one feature and one piece at a time, without the box shortcut."""
    out = np.zeros(len(geoms), dtype=bool)
    for crs, piece in corridor_pieces(line):
        tr = pyproj.Transformer.from_crs(4326, crs, always_xy=True)

        def project(g, tr=tr):
            return shapely.transform(g, lambda xy: np.column_stack(tr.transform(xy[:, 0],
                                                                                xy[:, 1])))

        piece_m = project(piece)
        for i, g in enumerate(geoms):
            if g is not None and piece_m.distance(project(g)) <= buffer_km * 1000:
                out[i] = True
    return out


def _geodesic_km(lon: float, lat: float, line: LineString) -> float:
    """Distance to the line followed as geodesics between its vertices, densified every ~1 km."""
    best = np.inf
    coords = list(line.coords)
    for (x0, y0), (x1, y1) in itertools.pairwise(coords):
        n = int(GEOD.inv(x0, y0, x1, y1)[2] / 1000) + 1
        pts = np.array([(x0, y0), *GEOD.npts(x0, y0, x1, y1, n), (x1, y1)])
        d = GEOD.inv(np.full(len(pts), lon), np.full(len(pts), lat), pts[:, 0], pts[:, 1])[2]
        best = min(best, float(d.min()) / 1000)
    return best


def test_corridor_matches_brute_force():
    events, candidates, aerodromes = _layers(np.random.default_rng(1), LONG_LINE)
    out = corridor_query(LONG_LINE, buffer_km=80.0, events=events, candidates=candidates,
                         aerodromes=aerodromes)
    for layer, found in ((events, out.events), (candidates, out.candidates),
                         (aerodromes, out.aerodromes)):
        expected = layer.index[_brute_force(layer.geometry, LONG_LINE, 80.0)]
        assert list(found.index) == list(expected)
    assert len(out.events) > 100  # the test means something


def test_corridor_matches_geodesic_distances():
    """Independent check: geodesic distance on the ellipsoid, not our projections.

    Points within 0.1 % of the buffer either way are skipped: that is the accuracy promised.
    """
    events, _, _ = _layers(np.random.default_rng(2), LONG_LINE, n=800)
    mask = within_corridor(events.geometry.to_numpy(), LONG_LINE, 60.0)
    dist = np.array([_geodesic_km(p.x, p.y, LONG_LINE) for p in events.geometry])
    clear = np.abs(dist - 60.0) > 0.06
    assert clear.sum() > 750
    np.testing.assert_array_equal(mask[clear], dist[clear] <= 60.0)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), buffer_km=st.floats(0.5, 300.0),
       lon=st.floats(-110.0, -40.0), lat=st.floats(-50.0, 30.0),
       dx=st.floats(-15.0, 15.0), dy=st.floats(-15.0, 15.0))
def test_any_line_matches_brute_force(seed, buffer_km, lon, lat, dx, dy):
    line = LineString([(lon, lat), (lon + dx / 2, lat + dy / 3), (lon + dx, lat + dy)])
    rng = np.random.default_rng(seed)
    lo0, la0, lo1, la1 = line.bounds
    pts = gpd.points_from_xy(rng.uniform(lo0 - 3, lo1 + 3, 200),
                             np.clip(rng.uniform(la0 - 3, la1 + 3, 200), -89, 89))
    geoms = np.asarray(pts, dtype=object)
    np.testing.assert_array_equal(within_corridor(geoms, line, buffer_km),
                                  _brute_force(geoms, line, buffer_km))


def test_time_window_applies_to_events_and_candidates_not_aerodromes():
    events, candidates, aerodromes = _layers(np.random.default_rng(3), LONG_LINE)
    start, end = datetime(2023, 6, 1, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC)
    out = corridor_query(LONG_LINE, buffer_km=100.0, events=events, candidates=candidates,
                         aerodromes=aerodromes, start=start, end=end)
    full = corridor_query(LONG_LINE, buffer_km=100.0, events=events, candidates=candidates,
                          aerodromes=aerodromes)
    assert out.events["occurred_at"].between(start, end, inclusive="left").all()
    assert out.candidates["detected_at"].between(start, end, inclusive="left").all()
    assert 0 < len(out.events) < len(full.events)
    assert list(out.aerodromes.index) == list(full.aerodromes.index)
    assert out.buffer.contains(Point(-68.0, -4.0))


def test_long_lines_are_cut_into_pieces_that_touch():
    pieces = corridor_pieces(LONG_LINE)
    assert len(pieces) == 5  # about 2,350 km in pieces of at most 500 km
    for (_, a), (_, b) in itertools.pairwise(pieces):
        assert a.coords[-1] == b.coords[0]
    assert pieces[0][1].coords[0] == LONG_LINE.coords[0]
    assert pieces[-1][1].coords[-1] == LONG_LINE.coords[-1]


def test_multilinestring_is_each_of_its_parts():
    a, b = LineString([(-70, -10), (-69, -10)]), LineString([(-60, -5), (-59, -5)])
    pts = np.array([Point(-69.5, -10.3), Point(-59.5, -5.3), Point(-65, -7.5)], dtype=object)
    both = within_corridor(pts, MultiLineString([a, b]), 40.0)
    assert both.tolist() == (within_corridor(pts, a, 40.0) | within_corridor(pts, b, 40.0)).tolist()
    assert both.tolist() == [True, True, False]


def test_short_closed_line_and_bad_input():
    loop = LineString([(-70, -10), (-69.9, -10), (-69.9, -9.9), (-70, -10)])
    assert within_corridor(np.array([Point(-69.95, -9.95)]), loop, 1.0).tolist() == [True]
    with pytest.raises(SchemaError, match="LineString"):
        corridor_pieces(Point(0, 0))
    with pytest.raises(SchemaError, match="degrees"):
        corridor_pieces(LineString([(500000, 9000000), (510000, 9000000)]))
    with pytest.raises(SchemaError, match="buffer"):
        within_corridor(np.array([Point(0, 0)]), LineString([(0, 0), (1, 1)]), -1.0)
