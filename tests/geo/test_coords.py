"""Typed locations: every accepted spelling, clear errors, never a crash, DMS round trips."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.coords import LocationError, format_dms, parse_location

CODES = {"SPJC": (-77.11, -12.02), "SK-123": (-72.5, 3.1)}


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("-9.4, -74.6", id="decimal-comma-separated"),
        pytest.param("-9.4 -74.6", id="decimal-space"),
        pytest.param("-9.4;-74.6", id="semicolon"),
        pytest.param("-9,4 -74,6", id="decimal-commas"),
        pytest.param("9.4S 74.6W", id="decimal-hemispheres"),
        pytest.param("9°24'S 74°36'W", id="dm"),
        pytest.param("9°24′S, 74°36′W", id="primes"),
        pytest.param("9 24 0 S 74 36 0 W", id="dms-spaces"),
        pytest.param("S 9°24'00\" W 74°36'00\"", id="prefix-letters"),
        pytest.param("74°36'W 9°24'S", id="longitude-first-with-letters"),
        pytest.param("9°24'S 74°36'O", id="oeste"),
        pytest.param("  9 24 S   74 36 W ", id="blanks"),
    ],
)
def test_accepted_spellings(text):
    lon, lat = parse_location(text)
    assert lon == pytest.approx(-74.6)
    assert lat == pytest.approx(-9.4)


def test_aerodrome_codes_in_any_case():
    assert parse_location("spjc", codes=CODES) == (-77.11, -12.02)
    assert parse_location("SK-123", codes=CODES) == (-72.5, 3.1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("-120.5, 5.2", "Did you write longitude first\\? Try '5.2, -120.5'",
                     id="swapped"),
        pytest.param("9S 10S", "both coordinates are latitudes", id="two-latitudes"),
        pytest.param("9°61'S 74W", "minutes must be between 0 and 60", id="minutes"),
        pytest.param("-9S 74W", "both a minus sign and the letter S", id="sign-and-letter"),
        pytest.param("SKXX", "no aerodrome has this code", id="unknown-code"),
        pytest.param("12", "found 1 coordinate", id="one-number"),
        pytest.param("", "nothing to read", id="empty"),
        pytest.param("9 S 200 W", "longitude -200 is outside", id="longitude-range"),
        pytest.param("lima", "no aerodrome has this code", id="a-word"),
        # the part it cannot read as typed (not upper-cased)
        pytest.param("hola mundo", "cannot read 'hola mundo'", id="words-as-typed"),
    ],
)
def test_errors_say_what_and_how_to_fix(text, message):
    with pytest.raises(LocationError, match=message):
        parse_location(text, codes=CODES)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60) | st.text(alphabet="0123456789.,;-+ °'\"NSEWO", max_size=40))
def test_never_crashes(text):
    try:
        lon, lat = parse_location(text, codes=CODES)
    except LocationError:
        return
    assert -180 <= lon <= 180
    assert -90 <= lat <= 90


@settings(max_examples=300, deadline=None)
@given(lon=st.floats(-180, 180), lat=st.floats(-90, 90))
def test_formatted_dms_round_trips(lon, lat):
    back_lon, back_lat = parse_location(format_dms(lon, lat))
    assert back_lon == pytest.approx(lon, abs=0.051 / 3600)
    assert back_lat == pytest.approx(lat, abs=0.051 / 3600)


@settings(max_examples=200, deadline=None)
@given(lon=st.floats(-120, -30), lat=st.floats(-60, 35))
def test_a_place_in_the_region_written_either_way(lon, lat):
    """Latitude first: read as written; longitude first: refused with the fix.

    Unless the exchanged reading is itself in the region: then nothing tells the two apart.
    """
    lon, lat = round(lon, 5), round(lat, 5)
    assert parse_location(f"{lat:.5f}, {lon:.5f}") == (lon, lat)
    if abs(lon) > 90:
        return  # told by the range check already
    if -120 <= lat <= -30 and -60 <= lon <= 35:
        assert parse_location(f"{lon:.5f}, {lat:.5f}") == (lat, lon)
    else:
        with pytest.raises(LocationError, match="Did you write longitude first"):
            parse_location(f"{lon:.5f}, {lat:.5f}")


def test_hemisphere_letters_say_which_is_which_even_far_away():
    assert parse_location("74.6S 9.4W") == (-9.4, -74.6)
