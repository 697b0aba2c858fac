from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point, Polygon

from geo.errors import AtalayaError, SchemaError
from geo.schema import (
    AERODROMES,
    AREAS,
    EVENTS,
    SCENES,
    SCHEMAS,
    check_layer,
    empty_layer,
    validate_candidates,
    validate_events,
    validate_layer,
    validate_routes,
)


def messages(err: pytest.ExceptionInfo[SchemaError]) -> str:
    return str(err.value)


def test_valid_events_pass_and_are_coerced(events):
    clean = validate_events(events, source="events.csv")
    assert len(clean) == 5
    assert str(clean["occurred_at"].dt.tz) == "UTC"
    assert clean["quantity_kg"].dtype == "float64"
    assert np.isnan(clean.loc[2, "quantity_kg"])


def test_valid_routes_and_candidates_pass(routes, candidates):
    assert len(validate_routes(routes)) == 2
    assert len(validate_candidates(candidates)) == 1


def test_every_problem_is_reported_at_once_with_file_and_rows(events):
    bad = events.copy()
    bad.loc[1, "event_type"] = "smuggling"
    bad.loc[2, "confidence"] = 1.5
    bad.loc[3, "country"] = "XX"
    bad.loc[4, "event_id"] = "e1"
    with pytest.raises(SchemaError) as err:
        validate_events(bad, source="partner.csv")
    text = messages(err)
    assert text.startswith("partner.csv: events layer, 5 rows, 4 errors, 0 warnings")
    assert "[event_type] unknown value(s) 'smuggling' (row 2)" in text
    assert "[confidence] value is not <= 1 (row 3)" in text
    assert "[country] unknown value(s) 'XX' (row 4)" in text
    assert "[event_id] identifier repeats an earlier row (row 5)" in text
    assert len(err.value.report.errors) == 4  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("column", "value", "fragment"),
    [
        pytest.param("occurred_at", "31/02/2024 nonsense", "not a date/time", id="bad-date"),
        pytest.param("quantity_kg", "lots", "value is not a number", id="not-number"),
        pytest.param("quantity_kg", -5, "value is below 0", id="negative-quantity"),
        pytest.param("quantity_kg", np.inf, "value is infinite", id="infinite"),
        pytest.param("source", None, "empty value in a required column", id="missing-source"),
        pytest.param("description", "x" * 5000, "text longer than 4000", id="long-text"),
    ],
)
def test_each_column_violation_has_its_message(events, column, value, fragment):
    bad = events.astype({column: "object"})
    bad.loc[0, column] = value
    with pytest.raises(SchemaError, match=fragment) as err:
        validate_events(bad, source="f.csv")
    assert "(row 1)" in messages(err)


def test_missing_required_column_is_named(events):
    with pytest.raises(SchemaError, match="required column 'commodity' is absent"):
        validate_events(events.drop(columns="commodity"))


@pytest.mark.parametrize(
    ("geom", "fragment"),
    [
        pytest.param(Point(-9.0, -120.0), "look swapped", id="swapped"),
        pytest.param(Point(500000.0, 8_900_000.0), "out of range for degrees", id="metres"),
        pytest.param(Point(np.nan, 3.0), "NaN or infinite", id="nan"),
        pytest.param(Point(), "missing or empty geometry", id="empty"),
        pytest.param(None, "missing or empty geometry", id="none"),
        pytest.param(LineString([(0, 0), (1, 1)]), "geometry is not Point", id="wrong-type"),
    ],
)
def test_each_geometry_violation_has_its_message(events, geom, fragment):
    bad = events.copy()
    bad.loc[2, "geometry"] = geom
    with pytest.raises(SchemaError, match=fragment) as err:
        validate_events(bad)
    assert "(row 3)" in messages(err)


def test_whole_layer_swapped_gives_a_warning(events):
    swapped = events.set_geometry(
        gpd.points_from_xy(events.geometry.y, events.geometry.x), crs=4326)
    _, report = check_layer(swapped, EVENTS)
    assert any("exchanged" in p.message for p in report.warnings)


def test_missing_and_foreign_crs_are_refused_never_guessed(events):
    with pytest.raises(SchemaError, match="no CRS declared"):
        validate_events(events.set_crs(None, allow_override=True))
    with pytest.raises(SchemaError, match=r"CRS is EPSG:32718, expected EPSG:4326"):
        validate_events(events.to_crs(32718))


def test_naive_times_are_taken_as_utc_with_a_warning(events):
    naive = events.assign(occurred_at=events["occurred_at"].dt.tz_localize(None))
    clean, report = check_layer(naive, EVENTS)
    assert report.ok
    assert [p.check for p in report.warnings] == ["timezone"]
    assert clean["occurred_at"].iloc[0] == pd.Timestamp("2023-01-05T10:00Z")


def test_route_dates_out_of_order(routes):
    bad = routes.copy()
    bad.loc[0, "first_seen"] = pd.Timestamp("2025-01-01", tz="UTC")
    with pytest.raises(SchemaError, match="first_seen is after last_seen"):
        validate_routes(bad)


def test_bearing_is_half_open(candidates):
    bad = candidates.assign(bearing_deg=[180.0])
    with pytest.raises(SchemaError, match="value is not < 180"):
        validate_candidates(bad)


def test_self_intersecting_polygon_is_repaired_with_warning():
    bowtie = Polygon([(-70, -10), (-69, -9), (-69, -10), (-70, -9)])
    areas = gpd.GeoDataFrame(
        {"area_id": ["a"], "name": ["Bowtie"],
         "created_at": [pd.Timestamp("2024-01-01", tz="UTC")]},
        geometry=[bowtie], crs=4326)
    clean, report = check_layer(areas, AREAS)
    assert report.ok
    assert clean.geometry.iloc[0].is_valid
    assert any(p.check == "geometry-valid" for p in report.warnings)


def test_vertex_budget_is_checked_before_expensive_work():
    ring = [(-70 + 0.001 * np.cos(a), -10 + 0.001 * np.sin(a))
            for a in np.linspace(0, 2 * np.pi, 200_001)]
    areas = gpd.GeoDataFrame(
        {"area_id": ["a"], "name": ["huge"],
         "created_at": [pd.Timestamp("2024-01-01", tz="UTC")]},
        geometry=[Polygon(ring)], crs=4326)
    with pytest.raises(SchemaError, match="more than 100,000 vertices"):
        validate_layer(areas, "areas")


def test_schema_error_is_also_a_value_error_and_ours(events):
    with pytest.raises(ValueError, match="events layer") as err:
        validate_events(events.drop(columns="source"))
    assert isinstance(err.value, AtalayaError)


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_empty_layer_is_valid(name):
    assert len(validate_layer(empty_layer(SCHEMAS[name]), name)) == 0


def test_contracts_name_units_and_types():
    for schema in SCHEMAS.values():
        for col in schema.columns:
            if col.kind == "float" and col.name.endswith(("_m", "_kg", "_deg", "_year")):
                assert col.low is not None, col.name
    assert AERODROMES.geometry_types == ("Point",)
    assert SCENES.geometry_types == ("Polygon",)


_text = st.one_of(st.none(), st.text(max_size=20), st.floats(allow_nan=True),
                  st.integers(), st.just("2024-01-01"))
_coord = st.floats(allow_nan=True, allow_infinity=True, width=32)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.tuples(_text, _text, _text, _text, _coord, _coord),
                     min_size=0, max_size=6))
def test_validator_never_crashes_on_arbitrary_rows(rows):
    frame = gpd.GeoDataFrame(
        {
            "event_id": [r[0] for r in rows], "occurred_at": [r[1] for r in rows],
            "event_type": [r[2] for r in rows], "commodity": [r[3] for r in rows],
            "quantity_kg": [r[3] for r in rows], "country": [r[2] for r in rows],
            "source": [r[0] for r in rows], "confidence": [r[1] for r in rows],
            "description": [r[3] for r in rows],
        },
        geometry=[Point(r[4], r[5]) for r in rows], crs=4326,
    )
    clean, report = check_layer(frame, EVENTS, source="fuzz")
    assert report.n_rows == len(rows)
    for problem in report.problems:
        assert all(1 <= r <= len(rows) for r in problem.rows)
    if report.ok:
        assert len(clean) == len(rows)
