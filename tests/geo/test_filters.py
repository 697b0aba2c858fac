"""Filters: exact results on five events, invariants on random ones, brute force for the AOI."""

from __future__ import annotations

from datetime import UTC, datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, Polygon, box

from geo.errors import SchemaError
from geo.filters import (
    Filters,
    event_mask,
    filter_aerodromes,
    filter_candidates,
    filter_events,
    filter_routes,
    view_bounds,
)
from geo.i18n import Message, Translator, localize
from geo.schema import COMMODITIES, EVENT_TYPES


def _ids(gdf: gpd.GeoDataFrame, column: str = "event_id") -> list[str]:
    return list(gdf[column])


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        pytest.param(Filters(), ["e1", "e2", "e3", "e4", "e5"], id="nothing"),
        pytest.param(Filters(start=datetime(2023, 2, 11, tzinfo=UTC),
                             end=datetime(2024, 7, 19, 12, tzinfo=UTC)), ["e2", "e3"],
                     id="start-inclusive-end-exclusive"),
        pytest.param(Filters(event_types=["seizure"]), ["e1", "e4"], id="type"),
        pytest.param(Filters(commodities=["cocaine", "cocaine_base"]), ["e1", "e2"],
                     id="commodities"),
        pytest.param(Filters(countries=["PE", "BO"]), ["e1", "e3"], id="countries"),
        pytest.param(Filters(sources=["SENAD"]), ["e4"], id="source"),
        pytest.param(Filters(min_confidence=0.7), ["e1", "e2", "e4"], id="confidence"),
        pytest.param(Filters(event_types=()), [], id="empty-selection-keeps-nothing"),
        pytest.param(Filters(aoi=box(-80, -20, -60, 0)), ["e1", "e3"], id="aoi"),
        pytest.param(Filters(bounds=(-80, -5, -50, 5)), ["e2"], id="bounds"),
        pytest.param(Filters(event_types=["seizure"], countries=["PY"]), ["e4"], id="and"),
    ],
)
def test_filter_events_exact(events, filters, expected):
    assert _ids(filter_events(events, filters)) == expected


def test_categorical_and_text_columns_give_the_same_rows(events):
    as_cat = events.astype(dict.fromkeys(("event_type", "commodity", "country"), "category"))
    f = Filters(event_types=["seizure", "incident"], countries=["PY", "GT", "XX"])
    assert _ids(filter_events(as_cat, f)) == _ids(filter_events(events, f)) == ["e4", "e5"]


def test_filtering_does_not_modify_the_input(events):
    before = events.copy()
    filter_events(events, Filters(aoi=box(-80, -20, -60, 0), min_confidence=0.6))
    pd.testing.assert_frame_equal(events, before)


def test_routes_overlap_the_window_and_cross_the_area(routes):
    window = Filters(start=datetime(2023, 6, 1, tzinfo=UTC), end=datetime(2025, 1, 1, tzinfo=UTC))
    assert _ids(filter_routes(routes, window), "route_id") == ["r1", "r2"]
    late = Filters(start=datetime(2024, 3, 1, tzinfo=UTC))
    assert _ids(filter_routes(routes, late), "route_id") == ["r2"]
    assert _ids(filter_routes(routes, Filters(route_modes=["air"])), "route_id") == ["r1"]
    # The sea lane's bounding box covers this area but the line does not cross it.
    off_line = Filters(aoi=box(-90, 1, -86, 3))
    assert _ids(filter_routes(routes, off_line), "route_id") == []
    assert _ids(filter_routes(routes, Filters(aoi=box(-85, 4, -83, 6))), "route_id") == ["r2"]


def test_candidates_by_state_score_and_area(candidates):
    assert len(filter_candidates(candidates, Filters(candidate_states=["new"]))) == 1
    assert len(filter_candidates(candidates, Filters(candidate_states=["destroyed"]))) == 0
    assert len(filter_candidates(candidates, Filters(min_score=0.9))) == 0
    assert len(filter_candidates(candidates, Filters(aoi=box(-65.5, -14.5, -64.5, -13.5)))) == 1
    assert len(filter_candidates(candidates, Filters(end=datetime(2024, 1, 1, tzinfo=UTC)))) == 0


def _strip(x0: float, when: str, state: str) -> dict:
    return {"geometry": box(x0, -10.0, x0 + 0.015, -9.9986), "state": state, "score": 0.9,
            "detected_at": pd.Timestamp(when, tz="UTC")}


def test_a_strip_seen_on_two_dates_is_shown_once_as_last_seen_in_the_window():
    """Sightings are rows; a filter keeps the strip's latest in the window, then its state."""
    seen = gpd.GeoDataFrame([_strip(-74.6, "2023-07-15", "new"),
                             _strip(-74.6005, "2024-08-02", "overgrown"),  # the same strip
                             _strip(-74.5, "2023-07-15", "active")], crs=4326)
    assert filter_candidates(seen, Filters())["state"].tolist() == ["overgrown", "active"]
    only_2023 = Filters(end=datetime(2024, 1, 1, tzinfo=UTC))
    assert filter_candidates(seen, only_2023)["state"].tolist() == ["new", "active"]
    # the state chosen is the strip's last known one: "new" no longer describes it
    assert filter_candidates(seen, Filters(candidate_states=["new"])).empty


def test_candidates_by_the_country_they_lie_in(candidates):
    """The country filter narrows candidates by where they lie (Beni is in Bolivia)."""
    from geo.world import with_countries

    located = with_countries(candidates)
    assert located["country"].tolist() == ["BO"]
    assert len(filter_candidates(located, Filters(countries=["BO", "PE"]))) == 1
    assert len(filter_candidates(located, Filters(countries=["PE"]))) == 0
    assert len(filter_candidates(candidates, Filters(countries=["PE"]))) == 1  # no column
    assert with_countries(located) is located


@pytest.fixture
def aerodromes() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"ident": ["SKBO", "SPJC", "MGGT"], "country": ["CO", "PE", "GT"]},
        geometry=[Point(-74.14, 4.70), Point(-77.11, -12.02), Point(-90.53, 14.58)], crs=4326)


def test_aerodromes_by_country_and_area(aerodromes):
    assert list(filter_aerodromes(aerodromes, Filters(countries=["PE"]))["ident"]) == ["SPJC"]
    inside = filter_aerodromes(aerodromes, Filters(aoi=box(-80, 0, -70, 10)))
    assert list(inside["ident"]) == ["SKBO"]
    # The time window does not apply to aerodromes.
    assert len(filter_aerodromes(aerodromes, Filters(start=datetime(2030, 1, 1, tzinfo=UTC)))) == 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"start": datetime(2024, 1, 1)}, "no time zone", id="naive"),
        pytest.param({"start": datetime(2024, 2, 1, tzinfo=UTC),
                      "end": datetime(2024, 1, 1, tzinfo=UTC)}, "exchange them", id="order"),
        pytest.param({"min_confidence": 1.5}, "outside 0-1", id="confidence"),
        pytest.param({"bounds": (-12.0, -120.0, -9.0, -100.0)}, "swapped", id="swapped-bounds"),
        pytest.param({"aoi": Point(0, 0)}, "Polygon or MultiPolygon", id="point-aoi"),
        pytest.param({"aoi": Polygon()}, "empty", id="empty-aoi"),
    ],
)
def test_bad_filters_are_refused_with_the_fix(kwargs, message):
    with pytest.raises(SchemaError, match=message):
        Filters(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "english"),
    [
        pytest.param({"start": datetime(2024, 2, 1, tzinfo=UTC),
                      "end": datetime(2024, 1, 1, tzinfo=UTC)},
                     "start 2024-02-01 is after end 2024-01-01: exchange them", id="order"),
        pytest.param({"min_score": -0.25}, "min_score=-0.25 is outside 0-1", id="score"),
        pytest.param({"bounds": (-12.0, -120.0, -9.0, -100.0)},
                     "bounds (-12.0, -120.0, -9.0, -100.0) is not (lon_min, lat_min, lon_max, "
                     "lat_max) in degrees: swapped latitude and longitude?", id="swapped-bounds"),
        pytest.param({"bounds": (float("nan"), 0.0, 1.0, 1.0)},
                     "bounds (nan, 0.0, 1.0, 1.0) holds a value that is not finite", id="nan"),
        pytest.param({"aoi": Point(0, 0)},
                     "the area of interest must be a Polygon or MultiPolygon, got a Point",
                     id="point-aoi"),
        pytest.param({"aoi": Polygon()}, "the area of interest must be a Polygon or "
                     "MultiPolygon, got an empty Polygon", id="empty-aoi"),
        pytest.param({"aoi": Point(0, 0).buffer(1, quad_segs=2600)},
                     "the area of interest has 10,401 vertices, more than 10,000; simplify it "
                     "before using it as a filter", id="vertices"),
        pytest.param({"aoi": box(0, 95, 1, 96)},
                     "the area of interest's bounds (0.0, 95.0, 1.0, 96.0) is not (lon_min, "
                     "lat_min, lon_max, lat_max) in degrees: swapped latitude and longitude?",
                     id="aoi-past-the-pole"),
    ],
)
def test_a_refused_filter_keeps_its_english_and_its_message(kwargs, english):
    with pytest.raises(SchemaError) as info:
        Filters(**kwargs)
    assert str(info.value) == english  # the text it always was
    assert isinstance(info.value.args[0], Message)  # so the interface can localize it


def test_a_refused_area_of_interest_is_localized_whole(tmp_path):
    po = tmp_path / "es" / "LC_MESSAGES" / "atalaya.po"
    po.parent.mkdir(parents=True)
    po.write_text('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
                  'msgid "{name} {bounds} holds a value that is not finite"\n'
                  'msgstr "{name} {bounds} contienen un valor que no es finito"\n\n'
                  'msgid "the area of interest\'s bounds"\n'
                  'msgstr "los límites del área de interés"\n', encoding="utf-8")
    with pytest.raises(SchemaError) as info:
        Filters(aoi=box(0, 0, float("inf"), 1))
    assert localize(info.value, Translator("es", locale_dir=tmp_path)) == (
        "los límites del área de interés (0.0, 0.0, inf, 1.0) contienen un valor que no es "
        "finito")


def test_filters_hash_and_key_change_with_any_field():
    a, b = Filters(aoi=box(0, 0, 1, 1)), Filters(aoi=box(0, 0, 1, 2))
    assert hash(Filters(event_types=["a", "b"])) == hash(Filters(event_types=("b", "a")))
    assert a.key() != b.key()
    assert Filters().is_default
    assert not a.is_default


# -- properties -------------------------------------------------------------------------------

def _random_events(seed: int, n: int) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    start = np.datetime64("2020-01-01T00:00:00", "s").astype("int64")
    return gpd.GeoDataFrame(
        {
            "event_id": [f"e{i}" for i in range(n)],
            "occurred_at": pd.to_datetime(rng.integers(start, start + 4 * 365 * 86400, n),
                                          unit="s", utc=True),
            "event_type": rng.choice(EVENT_TYPES, n),
            "commodity": rng.choice(COMMODITIES, n),
            "quantity_kg": rng.gamma(1.0, 50.0, n),
            "country": rng.choice(["PE", "CO", "BO"], n),
            "source": rng.choice(["a", "b", "c"], n),
            "confidence": rng.random(n),
        },
        geometry=gpd.points_from_xy(rng.uniform(-80, -60, n), rng.uniform(-20, 0, n)),
        crs=4326,
    )


coords = st.tuples(st.floats(-82, -58), st.floats(-22, 2))
aois = st.lists(coords, min_size=3, max_size=8).map(
    lambda pts: shapely.make_valid(Polygon(pts))).filter(
    lambda g: g.geom_type in ("Polygon", "MultiPolygon") and not g.is_empty)
filters = st.builds(
    Filters,
    event_types=st.none() | st.lists(st.sampled_from(EVENT_TYPES), max_size=3),
    countries=st.none() | st.lists(st.sampled_from(["PE", "CO", "BO", "MX"]), max_size=2),
    min_confidence=st.floats(0, 1),
    aoi=st.none() | aois,
)


@settings(max_examples=60, deadline=None)
@given(f=filters, seed=st.integers(0, 3))
def test_filtered_count_never_exceeds_total_and_filtering_is_idempotent(f, seed):
    ev = _random_events(seed, 400)
    once = filter_events(ev, f)
    assert len(once) <= len(ev)
    assert _ids(filter_events(once, f)) == _ids(once)


@settings(max_examples=60, deadline=None)
@given(aoi=aois, seed=st.integers(0, 3))
def test_aoi_filter_matches_a_brute_force_shapely_check(aoi, seed):
    ev = _random_events(seed, 300)
    expected = [eid for eid, pt in zip(ev["event_id"], ev.geometry, strict=True)
                if aoi.intersects(pt)]
    assert _ids(filter_events(ev, Filters(aoi=aoi))) == expected


def test_mask_of_a_million_events_is_fast():

    ev = _random_events(0, 1_000_000)
    f = Filters(start=datetime(2021, 1, 1, tzinfo=UTC), end=datetime(2023, 1, 1, tzinfo=UTC),
                event_types=["seizure", "incident"], min_confidence=0.3,
                aoi=Polygon([(-78, -18), (-62, -19), (-63, -2), (-77, -3)]))
    took = min(_timed(lambda: event_mask(ev, f)) for _ in range(2))
    assert took < 1.0, f"{took:.2f} s"  # ~0.1 s on the 2-core CI machine


def _timed(fn) -> float:
    import time

    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


@settings(max_examples=200, deadline=None)
@given(south=st.floats(-120, 120), height=st.floats(0.001, 200),
       west=st.floats(-1000, 1000), width=st.floats(0.001, 800))
def test_view_bounds_are_valid_filters_covering_the_view(south, height, west, width):
    north, east = south + height, west + width
    bounds = view_bounds(south, west, north, east)
    if max(-90.0, south) >= min(90.0, north):
        assert bounds is None
        return
    assert bounds is not None
    Filters(bounds=bounds)  # accepted as a filter: ordered, finite, within the world
    lon0, lat0, lon1, lat1 = bounds
    assert lat0 == max(-90.0, south)
    assert lat1 == min(90.0, north)
    # Every longitude of the view, brought into [-180, 180), lies within the bounds.
    for lon in (west, (west + east) / 2, east - 1e-9):
        wrapped = (lon + 180.0) % 360.0 - 180.0
        assert lon0 - 1e-6 <= wrapped <= lon1 + 1e-6
