"""Countries of points from the Natural Earth borders (world-atlas), as ISO alpha-2 codes."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import given
from hypothesis import strategies as st

from geo.countries import (
    COUNTRY_BORDERS,
    CountryBorders,
    country_at,
    locate_countries,
    locate_reference,
    read_country_borders,
)
from tests.conftest import require


@pytest.fixture(autouse=True)
def _borders() -> None:
    require(COUNTRY_BORDERS.is_file(), f"{COUNTRY_BORDERS} is absent: run `npm ci`")


@pytest.mark.parametrize(("lon", "lat", "code"), [
    pytest.param(-74.2, -12.4, "PE", id="peru-vraem"),
    pytest.param(-77.03, -12.05, "PE", id="peru-lima"),
    pytest.param(-74.0, 4.6, "CO", id="colombia-bogota"),
    pytest.param(-65.1, -16.9, "BO", id="bolivia-chapare"),
    pytest.param(-68.15, -16.5, "BO", id="bolivia-la-paz"),
    pytest.param(-85.0, -10.0, None, id="pacific"),
    pytest.param(-80.0, 14.0, None, id="caribbean"),
])
def test_country_at(lon, lat, code):
    assert country_at(lon, lat) == code


def test_many_points_at_once_and_missing_borders(tmp_path):
    assert locate_countries([-74.2, -85.0, -65.1], [-12.4, -10.0, -16.9]) == ["PE", None, "BO"]
    # Without the borders file the store still works: no country, and a warning.
    assert locate_countries([-74.2], [-12.4], path=tmp_path / "absent.json") == [None]


def test_on_land_with_a_reach_off_the_coast():
    """The risk analysis' land test: Lima's coast, 30 km out, the open Pacific."""
    from geo.countries import on_land

    lon, lat = np.array([-74.2, -77.45, -85.0]), np.array([-12.4, -12.05, -10.0])
    assert on_land(lon, lat).tolist() == [True, False, False]
    assert on_land(lon, lat, 0.5).tolist() == [True, True, False]


def _toy_borders():
    """Two countries sharing an edge, a concave one with a hole, one far away."""
    concave = shapely.Polygon([(2, 0), (4, 0), (4, 3), (3, 3), (3, 1), (2, 1)],
                              holes=[[(3.3, 0.3), (3.7, 0.3), (3.7, 0.6), (3.3, 0.6)]])
    return CountryBorders(["AA", "BB", "CC", "DD"], [shapely.box(0, 0, 1, 1),
                                                     shapely.box(1, 0, 2, 1), concave,
                                                     shapely.box(8, 8, 9, 9)])


# coordinates on a quarter-degree lattice land on the toy polygons' edges and corners often
_coord = st.one_of(st.integers(-8, 44).map(lambda k: k / 4), st.floats(-2.0, 11.0))


@given(points=st.lists(st.tuples(_coord, _coord), max_size=60),
       within=st.sampled_from([0.0, 0.1, 0.25, 0.5, 2.0]))
def test_locate_and_covers_equal_the_tree_queries_they_replace(points, within):
    """Each country tests its points prepared (fast): the codes and order of the definition."""
    borders = _toy_borders()
    lons = np.array([p[0] for p in points], dtype=float)
    lats = np.array([p[1] for p in points], dtype=float)
    expected = locate_reference(borders, lons, lats, within_deg=within)
    assert borders.locate(lons, lats, within_deg=within) == expected
    assert borders.covers(lons, lats, within_deg=within).tolist() == [
        code is not None for code in expected]


def test_the_real_borders_give_what_the_tree_queries_gave():
    """A 0.5-degree grid over South America and every 7th border vertex there (shared ones)."""
    borders = read_country_borders()
    lon, lat = np.meshgrid(np.arange(-82.0, -34.0, 0.5), np.arange(-35.0, 13.0, 0.5))
    lon, lat = lon.ravel(), lat.ravel()
    xy = shapely.get_coordinates(borders.polygons)
    xy = xy[(xy[:, 0] > -82) & (xy[:, 0] < -34) & (xy[:, 1] > -56) & (xy[:, 1] < 13)][::7]
    for lons, lats in ((lon, lat), (xy[:, 0], xy[:, 1])):
        for within in (0.0, 0.25):
            expected = locate_reference(borders, lons, lats, within_deg=within)
            assert borders.locate(lons, lats, within_deg=within) == expected
            assert borders.covers(lons, lats, within_deg=within).tolist() == [
                code is not None for code in expected]
    assert borders.covers([], []).tolist() == []
    # unknown coordinates are in no country (the tree's query_nearest raised GEOSException)
    nan = np.array([np.nan, -74.2, np.inf, np.nan])
    assert borders.locate(nan, [-12.4, np.nan, -12.4, np.nan], within_deg=0.25) == [None] * 4
    assert not borders.covers(nan, [-12.4, np.nan, -12.4, np.nan], within_deg=0.25).any()
    with pytest.raises(ValueError, match="2 longitudes but 1 latitudes"):
        borders.covers([0.0, 1.0], [0.0])
