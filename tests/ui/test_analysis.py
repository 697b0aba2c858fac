"""The risk analysis page under Streamlit's test harness: scores, weights, corridor, news."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from shapely.geometry import box
from streamlit.testing.v1 import AppTest

from geo.areas import save_area
from geo.auth import Role, Session
from geo.world import read_world
from tests.conftest import ROOT
from ui import state
from ui.analysis import VISITS_FILE, read_visits, write_visit


def _page() -> None:
    from ui.analysis import render_analysis

    render_analysis()


@pytest.fixture
def world(small_world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Copy the sample world into a folder with its own SQLite store."""
    folder = tmp_path / "world"
    folder.mkdir()
    for item in small_world.iterdir():
        if item.is_file() and not item.name.startswith("atalaya.sqlite3"):
            shutil.copy(item, folder / item.name)
    monkeypatch.setenv("ATALAYA_DATA_DIR", str(folder))
    monkeypatch.setenv("ATALAYA_DATABASE_URL", "")
    monkeypatch.chdir(ROOT)
    return folder


def _app(user: str = "ana", role: Role = Role.ANALYST) -> AppTest:
    at = AppTest.from_function(_page, default_timeout=180)
    at.session_state[state.LANGUAGE] = "en"
    at.session_state[state.SESSION] = Session.start(user, role, datetime.now(UTC))
    return at.run()


def _cells_table(at: AppTest):
    return next(d.value for d in at.dataframe if "Why" in d.value.columns and "Cell"
                in d.value.columns)


def test_page_shows_scores_with_breakdowns_that_add_up(world):
    at = _app()
    assert not at.exception
    assert at.title[0].value == "Risk analysis"
    table = _cells_table(at)
    assert len(table) > 0
    for score, why in zip(table["Risk score"], table["Why"], strict=True):
        head = why.split(" ")[0].rstrip(":")
        assert int(head) == round(score)
    assert any("events in" in w for w in table["Why"])
    # each cell named by its country (the grid's code comes last)
    assert list(table.columns) == ["Where", "Risk score", "Why", "Latitude", "Longitude",
                                   "Cell"]
    assert table["Where"].iloc[0] not in ("", "None")


def test_in_spanish_the_breakdowns_are_in_spanish_with_the_same_points(world):
    english = _cells_table(_app())
    at = AppTest.from_function(_page, default_timeout=180)
    at.session_state[state.LANGUAGE] = "es"
    at.session_state[state.SESSION] = Session.start("ana", Role.ANALYST, datetime.now(UTC))
    at.run()
    assert not at.exception
    table = next(d.value for d in at.dataframe if "Por qué" in d.value.columns
                 and "Celda" in d.value.columns)
    assert len(table) == len(english)
    assert any("eventos en" in w for w in table["Por qué"])
    for en, es in zip(english["Why"], table["Por qué"], strict=True):
        assert es.split(" (")[0] == en.split(" (")[0]  # the same total and first points
        assert not any(word in es for word in ("events", "hot spot", "km from"))
    cands = next(d.value for d in at.dataframe if "Por qué" in d.value.columns
                 and "Candidata" in d.value.columns)
    assert all("strip" not in w and "detection score" not in w for w in cands["Por qué"])


def test_a_weight_change_rescores_the_cells(world):
    at = _app()
    before = _cells_table(at)
    at.slider(key=f"{state.ANALYSIS_WEIGHT}:hotspot").set_value(0.0)
    at.slider(key=f"{state.ANALYSIS_WEIGHT}:trend").set_value(0.0).run()
    assert not at.exception
    after = _cells_table(at)
    assert not any("hot spot z" in w for w in after["Why"])
    assert any("hot spot z" in w for w in before["Why"])
    next(b for b in at.button if b.label == "Reset the weights").click().run()
    assert at.slider(key=f"{state.ANALYSIS_WEIGHT}:hotspot").value == 3.0


def test_all_weights_zero_is_refused_with_a_message(world):
    at = _app()
    for s in at.slider:
        if s.key.startswith(f"{state.ANALYSIS_WEIGHT}:"):
            s.set_value(0.0)
    at.run()
    assert not at.exception
    assert any("These weights cannot be used" in e.value for e in at.error)


def test_square_cells_and_a_chosen_level(world):
    at = _app()
    at.radio(key=state.ANALYSIS_GRID_KIND).set_value("square").run()
    at.selectbox(key=f"{state.ANALYSIS_LEVEL}:square").set_value(2.0).run()
    assert not at.exception
    assert any("2° squares" in c.value for c in at.caption)
    assert _cells_table(at)["Cell"].str.startswith("sq:2:").all()


def test_corridor_along_a_route_lists_what_lies_inside_and_exports(world):
    at = _app("root", Role.ADMIN)  # analysts may not export snapshots; admins may
    first = str(read_world(world)["routes"]["route_id"].iloc[0])
    at.selectbox(key=state.ANALYSIS_ROUTE).set_value(first).run()
    assert not at.exception
    tabs = [t.label for t in at.tabs]
    assert any(label.startswith("Events (") for label in tabs)
    export = next(b for b in at.button if b.label == "Export the corridor as a snapshot")
    export.click().run()
    assert not at.exception
    assert any("Snapshot made" in s.value for s in at.success)
    assert list((world / "snapshots").iterdir())


def test_an_analyst_gets_the_corridor_but_no_export(world):
    at = _app()
    first = str(read_world(world)["routes"]["route_id"].iloc[0])
    at.selectbox(key=state.ANALYSIS_ROUTE).set_value(first).run()
    assert not at.exception
    assert any(t.label.startswith("Events (") for t in at.tabs)
    assert not any(b.label == "Export the corridor as a snapshot" for b in at.button)


def test_what_changed_records_the_visit_per_user_and_area(world):
    at = _app()
    area = box(-80.0, -20.0, -60.0, 5.0)
    areas = save_area(world, "Andes", area)
    area_id = str(areas["area_id"].iloc[0])
    at = _app()
    at.selectbox(key=state.ANALYSIS_AREA).set_value(area_id).run()
    assert not at.exception
    assert any("first visit" in c.value for c in at.caption)
    visits = read_visits(world)
    assert set(visits) == {"ana"}
    assert set(visits["ana"]) == {area_id}
    # Next session: changes since that visit (nothing newer in the sample world).
    at = _app()
    at.selectbox(key=state.ANALYSIS_AREA).set_value(area_id).run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["New events"] == "0"


def test_visits_file_is_rewritten_atomically(tmp_path):
    write_visit(tmp_path, "ana", "a1", datetime(2025, 1, 1, tzinfo=UTC))
    write_visit(tmp_path, "luis", "a1", datetime(2025, 2, 1, tzinfo=UTC))
    data = json.loads((tmp_path / VISITS_FILE).read_text("utf-8"))
    assert data == {"ana": {"a1": "2025-01-01T00:00:00+00:00"},
                    "luis": {"a1": "2025-02-01T00:00:00+00:00"}}
    assert [p.name for p in tmp_path.iterdir()] == [VISITS_FILE]
    (tmp_path / VISITS_FILE).write_text("{broken")
    assert read_visits(tmp_path) == {}


def test_layer_popups_escape_every_text():
    """Breakdowns and ids reach the popups escaped for HTML and for JavaScript strings."""
    import folium
    import geopandas as gpd
    import pandas as pd
    from shapely.geometry import Polygon

    from layers.risk import build_risk_candidates_layer, build_risk_cells_layer

    hostile = "<img src=x onerror=alert(1)> ${alert(2)} `x` C:\\xdrive </script>"
    rect = Polygon([(-70, -10), (-69.99, -10), (-69.99, -9.999), (-70, -9.999)])
    frame = gpd.GeoDataFrame(
        {"cell": [hostile], "candidate_id": [hostile], "state": ["new"], "events": [3],
         "risk_score": [42.0], "risk_explanation": [hostile]},
        geometry=[rect], crs=4326)
    m = folium.Map(tiles=None)
    build_risk_cells_layer(frame, name=hostile, score_title=hostile, breakdown_title="Why",
                           events_title="Events").add_to(m)
    build_risk_candidates_layer(frame, name="c", titles={"risk_score": hostile},
                                labels={}).add_to(m)
    html = m.get_root().render()
    for raw in ("<img src=x", "${alert", "`x`", "C:\\xdrive", "</script> "):
        assert raw not in html
    assert "lt;img src=x onerror=alert(1)" in html  # escaped (&amp; may be JSON-escaped too)
    assert pd.notna(frame["risk_score"]).all()


def test_what_changed_counts_a_verdict_on_a_candidate_in_the_area(world):
    from geo.store import AlertChange, list_alerts, merge_candidates, open_store, update_alert

    url = f"sqlite:///{world / 'atalaya.sqlite3'}"
    at = _app()
    with open_store(url) as store:  # the alert queue fills the store from the candidates
        merge_candidates(store, read_world(world)["candidates"], actor="detector")
        target = next(a for a in list_alerts(store) if a.candidate_id)
        update_alert(store, AlertChange(target.id, target.version, state="under_review"),
                     actor="Luis")
    x, y = target.centroid_lon, target.centroid_lat
    areas = save_area(world, "Strip", box(x - 0.05, y - 0.05, x + 0.05, y + 0.05))
    at.run()
    at.selectbox(key=state.ANALYSIS_AREA).set_value(str(areas["area_id"].iloc[0])).run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["State changes"] == "1"


def test_the_map_opens_on_the_highest_risk_cells_and_fits_a_chosen_corridor(world):
    import geopandas as gpd

    from geo.display import view_bounds
    from ui.analysis import FIT_PX, opening_view

    cells = gpd.GeoDataFrame(
        {"risk_score": [90.0, 80.0, 5.0, 0.0]},
        geometry=[box(-88, 14, -87, 15), box(-86, 15, -85, 16), box(-70, -12, -69, -11),
                  box(-40, 0, -39, 1)], crs=4326)
    top = cells.sort_values("risk_score", ascending=False).head(3)
    (lat, lon), zoom = opening_view(cells)
    lon0, lat0, lon1, lat1 = view_bounds((lon, lat), zoom, FIT_PX, FIT_PX)
    x0, y0, x1, y1 = top.total_bounds  # the scoring cells (10 at most), not the zero one
    assert lon0 <= x0
    assert x1 <= lon1
    assert lat0 <= y0
    assert y1 <= lat1
    assert lon1 < -39  # the cell that scores nothing is left out
    assert opening_view(cells.iloc[0:0]) == ((-12.0, -70.0), 4)  # nothing: the region
    # a corridor chosen moves the map to it, once
    at = _app()
    first = str(read_world(world)["routes"]["route_id"].iloc[0])
    at.selectbox(key=state.ANALYSIS_ROUTE).set_value(first).run()
    assert not at.exception
    assert at.session_state[state.ANALYSIS_MOVED] is not None


def test_a_broken_data_folder_is_said_not_raised(world):
    """A layer file that fails its contract: the page says so, with the file and the reason."""
    (world / "routes.geojson").write_text('{"type": "FeatureCollection", "features": ['
                                          '{"type": "Feature", "properties": {"mode": "air"},'
                                          ' "geometry": {"type": "Point",'
                                          ' "coordinates": [-9.0, -120.0]}}]}')
    at = _app()
    assert not at.exception
    assert at.error[0].value == "The data could not be loaded."
    assert "routes.geojson" in at.code[0].value
    assert not at.dataframe  # nothing scored from a half-read world
