"""Rows whose latitude and longitude are exchanged are refused when their country says so.

Natural Earth borders (``node_modules``, installed by ``make assets``) place each point; a
row is refused only when its point is not in its stated country and the exchanged point is.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo.countries import read_country_borders
from tests.ingest.common import offer

HEADER = "event_id,occurred_at,event_type,commodity,quantity_kg,country,source,confidence," \
         "latitude,longitude\n"
#: (country, latitude, longitude) of places inside their country, far from its borders.
PLACES = [("CO", 4.6, -74.1), ("PE", -9.93, -76.24), ("BO", -17.4, -66.16),
          ("BR", -15.8, -47.9), ("MX", 19.4, -99.1), ("VE", 7.9, -67.5),
          ("EC", -0.2, -78.5), ("HN", 14.1, -87.2), ("AR", -31.4, -64.2)]


def _offer(tmp_path: Path, rows: list[tuple[str, str, float, float]]):
    text = HEADER + "".join(f"{eid},2024-01-02,seizure,cocaine,10,{c},police,0.9,{lat},{lon}\n"
                            for eid, c, lat, lon in rows)
    path = tmp_path / "events.csv"
    path.write_text(text, encoding="utf-8")
    return offer(path, "events")


def test_swapped_rows_are_refused_with_the_fix_and_the_rest_kept(tmp_path):
    report = _offer(tmp_path, [
        ("bogota-swapped", "CO", -74.1, 4.6),
        ("lima", "PE", -12.05, -77.04),
        ("lima-swapped", "PE", -77.04, -12.05),
        ("wrong-country", "BR", -12.05, -77.04),  # Lima said to be in Brazil: not a swap
    ])
    reasons = dict(zip(report.rejected["event_id"], report.rejected["reason"], strict=True))
    assert set(reasons) == {"bogota-swapped", "lima-swapped"}
    assert reasons["bogota-swapped"] == (
        "coordinates: latitude -74.1, longitude 4.6 is not in CO; it is with latitude and "
        "longitude exchanged: check which column is which")
    assert sorted(report.accepted["event_id"]) == ["lima", "wrong-country"]


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(PLACES), st.floats(-0.3, 0.3), st.floats(-0.3, 0.3), st.booleans())
def test_a_row_is_refused_exactly_when_it_is_written_the_wrong_way_round(
        tmp_path, place, dlat, dlon, swap):
    """Property: a point well inside its country passes; the same point swapped is refused."""
    country, lat, lon = place
    lat, lon = lat + dlat, lon + dlon
    assert read_country_borders().locate([lon], [lat]) == [country]
    row = ("e", country, lon, lat) if swap else ("e", country, lat, lon)
    report = _offer(tmp_path, [row, ("bogota", "CO", 4.6, -74.1)])  # a file keeps one row
    assert len(report.rejected) == (1 if swap else 0)
    if swap:
        reason = report.rejected["reason"].iloc[0]  # |latitude| > 90 is told before
        assert "exchanged" in reason or "swapped" in reason
