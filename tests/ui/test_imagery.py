"""The imagery page under Streamlit's test harness (no browser): list, combos, compare."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from geo.sample.scenes import SceneSpec
from geo.sample.world import generate_world
from tests.conftest import ROOT
from ui import state


@pytest.fixture(scope="module")
def scene_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("imagery_world")
    generate_world(out, seed=5, n_events=100, n_candidates=5, scene_spec=SceneSpec(size_px=600))
    return out


def _page() -> None:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path.cwd()))
    import streamlit as st

    from ui.imagery import render_imagery

    st.session_state.setdefault("language", "en")
    render_imagery()


def _run_page_on(world: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    """Run the imagery page once on ``world`` (its own SQLite store); it must not fail."""
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("ATALAYA_DATABASE_URL", raising=False)
    monkeypatch.setenv("ATALAYA_DATA_DIR", str(world))
    at = AppTest.from_function(_page, default_timeout=60)
    at.run()
    assert not at.exception
    return at


@pytest.fixture
def app(scene_world: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    return _run_page_on(scene_world, monkeypatch)


def test_lists_both_dates_and_offers_every_combination(app: AppTest) -> None:
    assert len(app.dataframe[0].value) == 2
    assert app.radio(key=state.IMAGERY_COMBO).options == [
        "True colour", "False colour (near infrared)", "SWIR (SWIR1, near infrared, red)",
        "NDVI (vegetation)"]
    assert app.selectbox(key=state.IMAGERY_OTHER).disabled  # until compare is on


@pytest.mark.parametrize("combo", ["NDVI (vegetation)", "SWIR (SWIR1, near infrared, red)"])
def test_band_combinations_render(app: AppTest, combo: str) -> None:
    app.radio(key=state.IMAGERY_COMBO).set_value(combo).run()
    assert not app.exception
    assert not app.error


def test_compare_mode_names_both_dates(app: AppTest) -> None:
    app.toggle(key=state.IMAGERY_COMPARE).set_value(True).run()
    assert not app.exception
    assert any("Left:" in c.value and "Right:" in c.value for c in app.caption)


def test_dates_that_match_no_scene_say_so(app: AppTest) -> None:
    from datetime import timedelta

    last = app.date_input(key=state.IMAGERY_DATES).value[1]
    app.date_input(key=state.IMAGERY_DATES).set_value((last + timedelta(days=1),
                                                      last + timedelta(days=9))).run()
    assert not app.exception
    assert any("No scene matches" in i.value for i in app.info)


def test_scene_list_comes_from_the_store_when_it_has_scenes(
        scene_world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from geo.store import open_store
    from geo.store.scenes import register_scenes
    from geo.world import read_layer

    world = tmp_path / "world"
    shutil.copytree(scene_world, world, ignore=shutil.ignore_patterns("atalaya.sqlite3*"))
    layer = read_layer(world / "scenes.geojson", "scenes")
    assert len(layer) == 2
    with open_store(f"sqlite:///{world / 'atalaya.sqlite3'}") as store:
        register_scenes(store, layer, world, by="ana")
    # The data folder's file now lists one scene; the store's catalogue still has both.
    layer.iloc[:1].to_file(world / "scenes.geojson", driver="GeoJSON")
    at = _run_page_on(world, monkeypatch)
    assert sorted(at.dataframe[0].value["Scene"].tolist()) == sorted(layer["scene_id"])


def test_the_page_registers_the_data_folders_scenes_in_the_store(
        scene_world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from geo.store import open_store
    from geo.store.scenes import count_scenes

    world = tmp_path / "world"
    shutil.copytree(scene_world, world, ignore=shutil.ignore_patterns("atalaya.sqlite3*"))
    _run_page_on(world, monkeypatch)
    with open_store(f"sqlite:///{world / 'atalaya.sqlite3'}") as store:
        assert count_scenes(store) == 2


def test_a_missing_scene_file_is_said_in_the_readers_language(
        scene_world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The catalogue's refusal is a Message from geo: the page writes it in Spanish.

    The Spanish is the translation handed over with the template (tr_imagery.json), in a
    catalogue of the test's own: locales/ gets it when the lead merges the translations.
    """
    import shutil

    import ui.imagery
    from geo.i18n import Translator
    from tests.catalogues import write_catalogue
    from ui.text import escape_markdown

    world = tmp_path / "world"
    shutil.copytree(scene_world, world, ignore=shutil.ignore_patterns("atalaya.sqlite3*"))
    gone = sorted((world / "scenes").glob("*.tif"))[0]
    gone.unlink()
    es = Translator("es", locale_dir=write_catalogue(tmp_path / "locales", {(
        "{n} scene file of the catalogue is missing: {files}; import it again or remove its "
        "row", "{n} scene files of the catalogue are missing: {files}; import them again or "
        "remove their rows"): ("falta {n} archivo de escena del catálogo: {files}; impórtelo de "
                               "nuevo o elimine su fila", "faltan {n} archivos de escena del "
                               "catálogo: {files}; impórtelos de nuevo o elimine sus filas")}))
    monkeypatch.setattr(ui.imagery, "current_translator", lambda: es)
    at = _run_page_on(world, monkeypatch)
    assert escape_markdown(f"falta 1 archivo de escena del catálogo: {gone.resolve()}; "
                           "impórtelo de nuevo o elimine su fila") in [w.value
                                                                       for w in at.warning]
    # the scene table says why the row has no resolution or bands
    (table,) = [d.value for d in at.dataframe if "Bands" in d.value.columns]
    row = table[table["Scene"] == gone.stem].iloc[0]
    assert row["Bands"].startswith("not readable: ")
    assert gone.name in row["Bands"]
    assert row["Resolution (m)"] == "—"  # not the grid's "None" for a missing number
    assert set(table["Resolution (m)"]) == {"—", "10"}
    # a readable scene's bands by their names (colours in the reader's language)
    readable = table[table["Scene"] != gone.stem].iloc[0]
    assert readable["Bands"].startswith("Blue, Green, Red, NIR"), readable["Bands"]


def _inspect() -> None:
    import os
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path.cwd()))
    from geo.i18n import Translator
    from geo.imagechips import scene_refs
    from geo.world import read_layer
    from ui.imagery import _inspector

    world = Path(os.environ["INSPECT_WORLD"])
    refs = scene_refs(read_layer(world / "scenes.geojson", "scenes"), world)
    centre = refs[0].footprint.centroid
    _inspector(refs, {"lat": centre.y, "lng": centre.x}, Translator("en"))


def test_the_inspector_reads_each_date_the_swipe_shows(scene_world, monkeypatch):
    """The divider's side is the browser's: each date gets its row, named, not a guess."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("INSPECT_WORLD", str(scene_world))
    at = AppTest.from_function(_inspect, default_timeout=60)
    at.run()
    assert not at.exception
    table = at.dataframe[0].value
    assert len(table) == 2
    assert table["Scene"].tolist()[0] != table["Scene"].tolist()[1]
    assert all(scene in at.text[0].value for scene in table["Scene"])
    # latitude first and named (a lon, lat pair reads as lat, lon to a field team)
    assert at.text[0].value.startswith("Pixel at latitude -")
    assert ", longitude -" in at.text[0].value
    assert {"Column", "Row", "X (m)", "Y (m)", "Valid", "CRS", "Red", "NIR"} <= set(
        table.columns)


def test_stretch_ends_that_meet_still_show_the_image(app: AppTest) -> None:
    """The slider lets both ends sit on one value: the page moves them apart and says so."""
    app.slider(key=state.IMAGERY_STRETCH).set_value((98.0, 98.0)).run()
    assert not app.exception
    assert not app.error
    assert any("stretched from the 98 to the 98.5 percentile" in c.value for c in app.caption)


def test_a_map_panned_off_the_scene_says_so_and_goes_back(app: AppTest) -> None:
    scene_id = app.selectbox(key=state.IMAGERY_SCENE).value
    app.checkbox(key=state.IMAGERY_IN_VIEW).uncheck()
    # the map last reported a view far from the scene (an ocean at zoom 12)
    app.session_state[state.IMAGERY_VIEW] = (scene_id, (-30.1, -20.1, -30.0, -20.0), 12.0)
    app.run()
    assert not app.exception
    said = f"The scene {scene_id} is outside the map's view."
    assert said in [c.value for c in app.caption]
    app.button(key=state.IMAGERY_BACK).click().run()
    assert not app.exception
    # the move was asked and handed to the map (once)
    assert app.session_state[state.IMAGERY_MOVES] == 1
    assert app.session_state[state.IMAGERY_MOVE_SENT] == 1
