"""Shareable links: encode/decode round trips and forgiving decoding."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import MultiPolygon, Polygon, box

from geo.filters import Filters
from geo.querystate import DISPLAY_MODES, ViewState, decode_query, encode_query
from geo.schema import CANDIDATE_STATES, EVENT_TYPES, ROUTE_MODES


def test_default_state_is_an_empty_query():
    assert encode_query(ViewState()) == {}
    assert decode_query({}) == (ViewState(), [])


def test_full_state_round_trips():
    state = ViewState(
        Filters(start=datetime(2021, 1, 1, tzinfo=UTC), end=datetime(2023, 6, 1, tzinfo=UTC),
                event_types=["seizure"], commodities=["cocaine"], countries=["PE", "BO"],
                sources=["Policía, Nacional", "50% sure"], min_confidence=0.35,
                route_modes=["air"], candidate_states=["new", "active"], min_score=0.6,
                aoi=box(-75.5, -13.25, -73.0, -11.0)),
        center=(-74.6, -9.4), zoom=7, mode="hexagons")
    query = encode_query(state)
    assert query["from"] == "2021-01-01"
    assert query["to"] == "2023-06-01"
    back, problems = decode_query(query)
    assert problems == []
    assert back.filters.aoi.equals(state.filters.aoi)
    assert back == ViewState(back.filters, (-74.6, -9.4), 7.0, "hexagons")
    assert back.filters.key() == state.filters.key()


def test_bad_parameters_are_skipped_and_reported():
    state, problems = decode_query({"from": "yesterday", "conf": "nan", "lat": "95", "lon": "0",
                                    "aoi": "1_2,3", "show": "<script>", "types": "seizure"})
    assert state.filters == Filters(event_types=["seizure"])
    assert state.center is None
    assert len(problems) == 5
    assert any(p.startswith("from=") for p in problems)


def test_a_garbled_link_is_explained_in_the_readers_language():
    """What each part should look like, not Python's conversion errors."""
    from geo.i18n import Translator, localize

    _state, problems = decode_query({"aoi": "garbage", "from": "notadate", "conf": "x",
                                     "lat": "a", "lon": "b"})
    shown = [localize(p, Translator("es")) for p in problems]
    assert "from='notadate': se esperaba una fecha como 2024-08-02" in shown
    assert "aoi='garbage': se esperaban pares lon_lat como -74.6_-9.4, separados por comas" \
        in shown
    assert "conf='x': se esperaba un número entre 0 y 1" in shown
    assert "vista: lat y lon deben ser números en grados" in shown
    assert not any("could not convert" in p or "isoformat" in p for p in problems)


def test_lists_from_streamlit_take_the_last_value():
    state, _ = decode_query({"types": ["incident", "seizure"]})
    assert state.filters.event_types == ("seizure",)


grid = st.integers(-18_000_000, 18_000_000).map(lambda v: v / 100_000)
lat_grid = st.integers(-8_500_000, 8_500_000).map(lambda v: v / 100_000)


@st.composite
def boxes(draw):
    x0, y0 = draw(st.integers(-170, 160)), draw(st.integers(-80, 70))
    return box(x0, y0, x0 + draw(st.integers(1, 9)), y0 + draw(st.integers(1, 9)))


states = st.builds(
    ViewState,
    filters=st.builds(
        Filters,
        event_types=st.none() | st.lists(st.sampled_from(EVENT_TYPES), max_size=3),
        sources=st.none() | st.lists(st.text(min_size=1, max_size=8), max_size=3),
        min_confidence=st.floats(0, 1),
        route_modes=st.none() | st.lists(st.sampled_from(ROUTE_MODES)),
        candidate_states=st.none() | st.lists(st.sampled_from(CANDIDATE_STATES)),
        aoi=st.none() | boxes() | st.lists(boxes(), min_size=2, max_size=2).map(
            lambda b: MultiPolygon(b) if not b[0].intersects(b[1]) else b[0]),
    ),
    center=st.none() | st.tuples(grid, lat_grid),
    zoom=st.none() | st.integers(0, 18).map(float),
    mode=st.sampled_from(DISPLAY_MODES),
)


@settings(max_examples=100, deadline=None)
@given(state=states)
def test_encode_then_decode_is_the_identity(state):
    back, problems = decode_query(encode_query(state))
    assert problems == []
    assert back.filters.key() == state.filters.key() or (
        back.filters.aoi is not None and back.filters.aoi.equals(state.filters.aoi))
    assert (back.center, back.zoom, back.mode) == (state.center, state.zoom, state.mode)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["from", "to", "types", "conf", "score", "aoi", "lat",
                                        "lon", "z", "show", "x"]), st.text(max_size=30)))
def test_decoding_never_raises(params):
    state, problems = decode_query(params)
    assert isinstance(problems, list)
    assert isinstance(state, ViewState)


def test_polygon_with_a_hole_round_trips():
    ring = Polygon(box(0, 0, 10, 10).exterior.coords, [box(2, 2, 4, 4).exterior.coords])
    back, _ = decode_query(encode_query(ViewState(Filters(aoi=ring))))
    assert back.filters.aoi.equals(ring)
