"""What changed in an area since a given time: new events, new candidates, state changes."""

from __future__ import annotations

from datetime import UTC, datetime

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point, Polygon, box

from geo.errors import SchemaError
from geo.risk.changes import STATE_CHANGE_COLUMNS, what_changed

AREA = box(-71.0, -11.0, -69.0, -9.0)
SINCE = datetime(2025, 6, 1, tzinfo=UTC)


def _rect(lon: float, lat: float) -> Polygon:
    return Polygon([(lon, lat), (lon + 0.01, lat), (lon + 0.01, lat + 0.002),
                    (lon, lat + 0.002)])


@pytest.fixture
def layers():
    events = gpd.GeoDataFrame(
        {"event_id": ["old-in", "new-in", "new-out", "new-in-late"],
         "occurred_at": pd.to_datetime(["2025-05-01", "2025-06-02", "2025-06-03", "2025-05-20"],
                                       utc=True),
         "ingested_at": pd.to_datetime(["2025-05-02", "2025-06-02", "2025-06-03", "2025-06-10"],
                                       utc=True)},
        geometry=[Point(-70, -10), Point(-70.5, -9.5), Point(-60, -10), Point(-70, -10.5)],
        crs=4326)
    candidates = gpd.GeoDataFrame(
        {"candidate_id": ["c-old", "c-new", "c-out", "c-changed"],
         "detected_at": pd.to_datetime(["2025-01-01", "2025-07-01", "2025-07-01", "2025-02-01"],
                                       utc=True),
         "state": ["active", "new", "new", "destroyed"],
         "state_changed_at": pd.to_datetime([None, None, None, "2025-08-01"], utc=True)},
        geometry=[_rect(-70.2, -10.2), _rect(-70.4, -10.4), _rect(-60, -10),
                  _rect(-69.5, -9.5)], crs=4326)
    return events, candidates


def test_new_things_in_the_area(layers):
    events, candidates = layers
    ch = what_changed(AREA, SINCE, events=events, candidates=candidates)
    assert ch.events["event_id"].tolist() == ["new-in"]
    assert ch.candidates["candidate_id"].tolist() == ["c-new"]
    assert ch.state_changes[["candidate_id", "to_state"]].values.tolist() == [
        ["c-changed", "destroyed"]]
    assert ch.summary() == ("1 new event, 1 new runway candidate, 1 state change since "
                            "2025-06-01 00:00 UTC")


def test_late_reports_show_with_their_arrival_time(layers):
    events, candidates = layers
    ch = what_changed(AREA, SINCE, events=events, candidates=candidates,
                      event_time="ingested_at")
    assert ch.events["event_id"].tolist() == ["new-in", "new-in-late"]


def test_history_log_and_until(layers):
    events, candidates = layers
    log = pd.DataFrame({"candidate_id": ["c-old", "c-old", "c-out"],
                        "changed_at": pd.to_datetime(["2025-06-05", "2025-09-01", "2025-06-05"],
                                                     utc=True),
                        "from_state": ["new", "active", "new"],
                        "to_state": ["active", "overgrown", "active"]})
    ch = what_changed(AREA, SINCE, events=events, candidates=candidates, state_history=log,
                      until=datetime(2025, 8, 1, tzinfo=UTC))
    assert list(ch.state_changes.columns) == list(STATE_CHANGE_COLUMNS)
    assert ch.state_changes.values.tolist()[0][::2] == ["c-old", "new"]
    assert len(ch.state_changes) == 1  # the September change is after `until`; c-out is outside
    assert ch.candidates["candidate_id"].tolist() == ["c-new"]


def test_nothing_new(layers):
    events, candidates = layers
    ch = what_changed(AREA, datetime(2026, 1, 1, tzinfo=UTC), events=events,
                      candidates=candidates)
    assert ch.empty
    assert ch.summary().startswith("nothing new since 2026-01-01")


def test_bad_input(layers):
    events, candidates = layers
    with pytest.raises(SchemaError, match="time zone"):
        what_changed(AREA, datetime(2025, 1, 1), events=events, candidates=candidates)
    with pytest.raises(SchemaError, match="no column"):
        what_changed(AREA, SINCE, events=events, candidates=candidates, event_time="arrived")
    with pytest.raises(SchemaError, match="Polygon"):
        what_changed(Point(0, 0), SINCE, events=events, candidates=candidates)


def test_a_strip_seen_in_the_period_and_again_later_is_still_a_detection_of_the_period(layers):
    """What changed reads every detection; the map's one-row-per-strip view would drop it."""
    events, candidates = layers
    again = gpd.GeoDataFrame(
        {"candidate_id": ["c-new-again"], "detected_at": pd.to_datetime(["2025-09-01"], utc=True),
         "state": ["active"], "state_changed_at": pd.to_datetime([None], utc=True)},
        geometry=[_rect(-70.4, -10.4)], crs=4326)
    both = gpd.GeoDataFrame(pd.concat([candidates, again], ignore_index=True), crs=4326)
    ch = what_changed(AREA, SINCE, events=events, candidates=both,
                      until=datetime(2025, 8, 15, tzinfo=UTC))
    assert ch.candidates["candidate_id"].tolist() == ["c-new"]
