"""Countries of points from the Natural Earth borders (world-atlas), as ISO alpha-2 codes."""

from __future__ import annotations

import pytest

from geo.countries import COUNTRY_BORDERS, country_at, locate_countries
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
    import numpy as np

    from geo.countries import on_land

    lon, lat = np.array([-74.2, -77.45, -85.0]), np.array([-12.4, -12.05, -10.0])
    assert on_land(lon, lat).tolist() == [True, False, False]
    assert on_land(lon, lat, 0.5).tolist() == [True, True, False]
