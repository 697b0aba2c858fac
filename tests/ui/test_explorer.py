"""The map explorer page under Streamlit's test harness: filters, modes, areas, go to, links."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from shapely.geometry import box
from streamlit.testing.v1 import AppTest

from geo.filters import latest_sightings
from tests.conftest import ROOT, signed_in
from ui import state


@pytest.fixture
def world_copy(small_world: Path, tmp_path: Path) -> Path:
    """Copy the sample world somewhere writable (saving areas writes into it)."""
    out = tmp_path / "world"
    out.mkdir()
    for item in small_world.iterdir():
        if item.is_file():
            shutil.copy(item, out / item.name)
    return out


def _app(data_dir: Path, monkeypatch: pytest.MonkeyPatch, user: str = "analyst",
         **query: str) -> AppTest:
    monkeypatch.setenv("ATALAYA_DATA_DIR", str(data_dir))
    monkeypatch.setenv("ATALAYA_LANGUAGE", "en")
    monkeypatch.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    signed_in(at, user)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception
    return at


def _events_metric(at: AppTest) -> int:
    value = {m.label: m.value for m in at.metric}["Events"]
    return int(value.replace(",", ""))


def test_a_planner_is_told_the_events_are_at_cell_centres(world_copy, monkeypatch):
    told = "Event locations are shown at the centre of 0.1° grid cells (about 11 km)"
    assert any(told in c.value for c in _app(world_copy, monkeypatch, "planner").caption)
    assert not any(told in c.value for c in _app(world_copy, monkeypatch).caption)


def test_event_type_filter_changes_the_counts(world_copy, monkeypatch):
    events = gpd.read_parquet(world_copy / "events.parquet")
    at = _app(world_copy, monkeypatch)
    assert _events_metric(at) == len(events)
    at.multiselect(key=state.EVENT_TYPES).set_value(["seizure"]).run()
    assert not at.exception
    assert _events_metric(at) == int((events["event_type"] == "seizure").sum())
    at.slider(key=state.MIN_CONFIDENCE).set_value(0.8).run()
    expected = ((events["event_type"] == "seizure") & (events["confidence"] >= 0.8)).sum()
    assert _events_metric(at) == int(expected)
    at.button(key=state.RESET_FILTERS).click().run()
    assert _events_metric(at) == len(events)


@pytest.mark.parametrize("mode", ["clusters", "heat", "hexagons", "points"])
def test_every_display_mode_runs(world_copy, monkeypatch, mode):
    at = _app(world_copy, monkeypatch)
    at.radio(key=state.DISPLAY).set_value(mode).run()
    assert not at.exception


def test_an_area_filters_counts_and_can_be_saved_and_reloaded(world_copy, monkeypatch):
    events = gpd.read_parquet(world_copy / "events.parquet")
    area = box(-80, -20, -60, 0)
    inside = int(shapely.intersects(area, events.geometry.values).sum())
    at = _app(world_copy, monkeypatch)
    at.session_state[state.AOI] = area
    at.run()
    assert _events_metric(at) == inside
    at.text_input(key=state.AREA_NAME).set_value("<b>VRAEM</b>").run()
    at.button(key=state.AREA_SAVE).click().run()
    assert not at.exception
    saved = gpd.read_file(world_copy / "areas.geojson")
    assert list(saved["name"]) == ["<b>VRAEM</b>"]
    assert list(saved["created_by"]) == ["analyst"]  # the signed-in user
    assert [s.value for s in at.success] == ["Area saved: \\<b\\>VRAEM\\</b\\>"]
    at.button(key=state.AREA_SAVE).click().run()  # the same name again: said, not silent
    assert [s.value for s in at.success] == [
        "Area saved, in place of the one of the same name: \\<b\\>VRAEM\\</b\\>"]
    saved = gpd.read_file(world_copy / "areas.geojson")
    assert list(saved["name"]) == ["<b>VRAEM</b>"]
    at.button(key=state.AREA_CLEAR).click().run()
    assert _events_metric(at) == len(events)
    at.selectbox(key=state.AREA_SELECT).set_value(saved["area_id"].iloc[0]).run()
    assert _events_metric(at) == inside


def test_an_area_with_nothing_in_it_lists_nothing_and_says_so(world_copy, monkeypatch):
    at = _app(world_copy, monkeypatch)
    at.session_state[state.AOI] = box(-120, -40, -119, -39)  # open Pacific
    at.run()
    assert not at.exception
    assert _events_metric(at) == 0
    assert not at.dataframe  # no empty grids: a line each that says why
    said = "None to list: the filters, the area and the map's view leave none."
    assert [c.value for c in at.caption].count(said) == 3


def test_go_to_accepts_coordinates_and_codes_and_explains_errors(world_copy, monkeypatch):
    at = _app(world_copy, monkeypatch)
    at.text_input(key=state.GOTO).input("9°24'S 74°36'W").run()
    lat, lon, zoom, _n = at.session_state[state.MOVE]
    assert (round(lon, 3), round(lat, 3), zoom) == (-74.6, -9.4, 11)
    code = gpd.read_file(world_copy / "aerodromes.geojson").iloc[0]
    at.text_input(key=state.GOTO).input(code["ident"].lower()).run()
    assert at.session_state[state.MOVE][:2] == pytest.approx((code.geometry.y, code.geometry.x))
    at.text_input(key=state.GOTO).input("-120.5, 5.2").run()
    assert "Did you write longitude first?" in at.error[0].value


def test_a_shared_link_sets_the_filters(world_copy, monkeypatch):
    events = gpd.read_parquet(world_copy / "events.parquet")
    at = _app(world_copy, monkeypatch, types="incident", countries="PE,CO", show="heat",
              lat="-9.4", lon="-74.6", z="7", conf="bogus")
    expected = ((events["event_type"] == "incident") & events["country"].isin(["PE", "CO"]))
    assert _events_metric(at) == int(expected.sum())
    assert at.radio(key=state.DISPLAY).value == "heat"
    assert at.session_state[state.VIEW] == (-74.6, -9.4, 7.0)
    assert any("conf=" in w.value for w in at.warning)


def test_spanish_labels_on_the_explorer(world_copy, monkeypatch):
    at = _app(world_copy, monkeypatch)
    at.sidebar.selectbox[0].set_value("es").run()
    assert not at.exception
    assert at.multiselect(key=state.EVENT_TYPES).label == "Tipos de evento"
    assert "Perú (PE)" in at.multiselect(key=state.COUNTRIES).options  # found by its name


def test_tables_list_events_candidates_and_routes(world_copy, monkeypatch):
    at = _app(world_copy, monkeypatch)
    labels = [tab.label for tab in at.tabs]
    candidates = gpd.read_file(world_copy / "candidates.geojson")
    routes = gpd.read_file(world_copy / "routes.geojson")
    assert labels == ["Events", "Runway candidates", "Trafficking routes"]  # stable labels
    captions = [c.value for c in at.caption]
    strips = int(latest_sightings(candidates).sum())  # a strip seen on two dates: once
    assert strips < len(candidates)
    assert any(c.startswith(f"{strips:,} runway candidates, highest score first")
               for c in captions)
    assert any(c.startswith(f"{len(routes):,} trafficking routes, largest estimated volume")
               for c in captions)
    assert len(at.dataframe) >= 3
    ids = at.dataframe[1].value["candidate_id"].tolist()
    shown = candidates[latest_sightings(candidates)]
    by_score = shown.sort_values("score", ascending=False, kind="stable")
    assert ids[:5] == by_score["candidate_id"].astype(str).head(5).tolist()
    # event times are said to be UTC and written to the minute, still sortable as times
    config = json.loads(at.dataframe[0].proto.columns)["Date (UTC)"]
    assert config["type_config"] == {"format": "YYYY-MM-DD HH:mm", "type": "datetime"}


def test_candidate_reasons_read_in_the_readers_language(world_copy, monkeypatch):
    """The candidates table and the map's popups show the stored English reason translated."""
    from geo.i18n import translator
    from ui.explore import _local_reasons

    at = _app(world_copy, monkeypatch)
    at.sidebar.selectbox[0].set_value("es").run()
    assert not at.exception
    reasons = at.dataframe[1].value["Motivo"].tolist()
    assert reasons
    assert all(" km de largo, " in r and "surroundings" not in r for r in reasons)
    # the frame the map's candidate layer (its popups) is built from
    stored = gpd.read_file(world_copy / "candidates.geojson").head(20)
    english = stored["reason"].tolist()
    shown = _local_reasons(stored, translator("es"))
    assert stored["reason"].tolist() == english  # the stored frame is not changed
    assert all(" m de ancho, " in r for r in shown["reason"])
    assert _local_reasons(stored, translator("es")) is shown  # once per frame and language
    assert _local_reasons(stored, translator("en"))["reason"].str.contains(" km long, ").all()


def test_the_monthly_chart_gives_each_type_its_map_colour_in_any_language(world_copy,
                                                                          monkeypatch):
    """The chart's colours once came from Vega's palette: another per filter and language."""
    import json

    from layers.events import EVENT_COLORS

    at = _app(world_copy, monkeypatch)
    at.sidebar.selectbox[0].set_value("es").run()
    assert not at.exception
    chart = next(c for c in at.get("vega_lite_chart") if "stack" in c.proto.spec)
    scale = json.loads(chart.proto.spec)["encoding"]["color"]["scale"]
    colours = dict(zip(scale["domain"], scale["range"], strict=True))
    assert colours["Incautación"] == EVENT_COLORS["seizure"]
    assert colours["Vuelo sospechoso"] == EVENT_COLORS["suspicious_flight"]



def test_the_charts_count_in_whole_events_and_name_the_countries(world_copy, monkeypatch):
    """One event drew ticks at 0.1, 0.2 ...; the countries chart showed bare codes."""
    import json

    import pandas as pd

    from geo.i18n import translator

    at = _app(world_copy, monkeypatch)
    at.sidebar.selectbox[0].set_value("es").run()
    assert not at.exception
    specs = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    counts = [enc for spec in specs for enc in spec["encoding"].values()
              if isinstance(enc, dict) and enc.get("field") == "n"]
    assert len(counts) == 3  # per month, top countries, top commodities
    assert all(axis["axis"]["tickMinStep"] == 1 for axis in counts)
    from ui.explore import _top_chart

    t = translator("es")
    countries = pd.Series(["PE", "PE", "BO"], dtype="category")  # as events["country"]
    _, frame = _top_chart(countries, {}, t, label=t.country)
    assert frame["name"].tolist() == ["Perú (PE)", "Bolivia (BO)"]


def _charts_of_nothing() -> None:
    import os
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path.cwd()))
    from geo.filters import Filters
    from geo.i18n import Translator
    from geo.schema import EVENTS, empty_layer
    from ui.explore import render_charts

    narrowed_by_view = os.environ.get("CHARTS_BY_VIEW") == "1"
    render_charts(Path("."), {"events": empty_layer(EVENTS)},
                  None if narrowed_by_view else Filters(), Translator("en"))


@pytest.mark.parametrize(("by_view", "said"), [
    ("1", "No event in the map's view: zoom out or pan the map"),
    ("0", "No event matches the filters."),
])
def test_no_event_says_whether_the_filters_or_the_view_left_none(monkeypatch, by_view, said):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("CHARTS_BY_VIEW", by_view)
    at = AppTest.from_function(_charts_of_nothing, default_timeout=60)
    at.run()
    assert not at.exception
    assert at.info[0].value.startswith(said)


def test_play_over_every_month_starts_from_the_first_month(world_copy, monkeypatch):
    """A window over the whole range would wrap onto itself: the play narrows it first."""
    at = _app(world_copy, monkeypatch)
    first, last = at.session_state[state.MONTHS]
    assert first < last
    at.button(key=state.PLAY_BUTTON).click().run()
    assert not at.exception
    assert at.session_state[state.PLAYING]
    start, end = at.session_state[state.MONTHS]
    # one month wide, at the first month (or the next, had a 1.5 s tick passed in the run)
    assert start == end
    assert start in (first, date(first.year + first.month // 12, first.month % 12 + 1, 1))
    at.button(key=state.PLAY_BUTTON).click().run()  # pause keeps the window where it is
    assert not at.session_state[state.PLAYING]
    assert tuple(at.session_state[state.MONTHS]) == (start, end)


def test_a_planners_area_tests_the_cell_centres_not_the_recorded_points(world_copy,
                                                                        monkeypatch):
    """For a planner an area keeps the events whose cell centre lies inside it.

    An area around part of a cell must not tell which events lie there: halving it would
    find each one.
    """
    from geo.auth.precision import coarsen_points
    from geo.querystate import _encode_aoi

    events = gpd.read_parquet(world_copy / "events.parquet")
    centres = coarsen_points(events).frame.geometry
    # an event whose recorded point lies at least 0.01° from its cell centre on both axes
    far = (abs(events.geometry.x - centres.x) > 0.01) & (abs(events.geometry.y - centres.y) > 0.01)
    i = int(far.to_numpy().nonzero()[0][0])
    p, c = events.geometry.iloc[i], centres.iloc[i]
    near_point = shapely.box(p.x - 0.002, p.y - 0.002, p.x + 0.002, p.y + 0.002)
    assert near_point.contains(p)
    assert not near_point.contains(c)
    aoi = _encode_aoi(near_point)
    assert _events_metric(_app(world_copy, monkeypatch, aoi=aoi)) >= 1  # an analyst: exact
    assert _events_metric(_app(world_copy, monkeypatch, "planner", aoi=aoi)) == 0
    around_centre = _encode_aoi(shapely.box(c.x - 0.002, c.y - 0.002, c.x + 0.002, c.y + 0.002))
    in_cell = int(((centres.x == c.x) & (centres.y == c.y)).sum())
    assert _events_metric(_app(world_copy, monkeypatch, "planner", aoi=around_centre)) == in_cell


def test_the_events_group_is_named_by_its_details_too():
    """Two filters may leave the same points and types with other details in the popups."""
    from ui.explore import _payload_key

    base = {"lat": "AAAA", "lon": "BBBB", "type": "AA==", "categories": ["Seizure"],
            "details": [["Seizure", "300 kg", "cocaine"]]}
    other = {**base, "details": [["Seizure", "2 kg", "cash"]]}
    assert _payload_key(base) != _payload_key(other)
    assert _payload_key(base) == _payload_key(dict(base))
    published = {**base, "url": "/app/static/data/abc.bin.gz"}
    assert _payload_key(published) != _payload_key({**other, "url": published["url"]})
