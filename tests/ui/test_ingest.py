"""The import page under Streamlit's test harness: upload, mapping, report, import, refusals."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from streamlit.testing.v1 import AppTest

from geo.auth import Role, Session
from geo.i18n import Translator
from geo.ingest import list_mappings, load_mapping
from geo.jobs import get_job, list_jobs
from geo.store import default_url, open_store
from geo.store.scenes import read_scene_catalogue
from geo.world import data_version, read_layer
from tests.conftest import ROOT
from tests.ingest.hostile import CATALOGUE, good_tiff, unnamed_bands_tiff
from tests.ui.conftest import FakeRunner, run_queued_jobs
from tools.serve import ensure_accounts
from ui import ingest, state

# Row 3's name is a spreadsheet formula (kept as text, warned); row 4's latitude is 95.
PISTAS = ("Código,Nombre,lat,lon,País\n"
          "A1,Pista Uno,-9.5,-74.2,PE\n"
          "A2,Pista Dos,-10.1,-73.9,PE\n"
          'A3,"=HYPERLINK(""http://x"")",-11.0,-72.5,PE\n'
          "A4,Pista Cuatro,95.0,-72.0,PE\n").encode()


def _page() -> None:
    from ui.ingest import render_ingest

    render_ingest()


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make an empty data folder (no aerodromes yet) the app's."""
    folder = tmp_path / "data"
    folder.mkdir()
    monkeypatch.setenv("ATALAYA_DATA_DIR", str(folder))
    monkeypatch.chdir(ROOT)
    return folder


def _app(reviewer: str = "Ana") -> AppTest:
    at = AppTest.from_function(_page, default_timeout=120)
    at.session_state[state.LANGUAGE] = "en"
    at.session_state[state.REVIEWER] = reviewer
    return at.run()


def _offer(at: AppTest, name: str, content: bytes, layer: str = "aerodromes") -> AppTest:
    at.selectbox(key=ingest.LAYER).set_value(layer).run()
    at.file_uploader[0].set_value((name, content, "application/octet-stream")).run()
    assert not at.exception
    return at


def _field(at: AppTest, label: str) -> Any:
    return next(s for s in at.selectbox if s.label == label)


def _button(at: AppTest, key: str) -> Any:
    return at.button(key=key)


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_a_csv_is_previewed_mapped_validated_and_stored(data: Path) -> None:
    at = _offer(_app(), "pistas.csv", PISTAS)
    preview = at.dataframe[0].value
    assert list(preview.columns) == ["Código", "Nombre", "lat", "lon", "País"]
    assert preview["Nombre"].iloc[2] == '=HYPERLINK("http://x")'  # text, shown as text
    assert _field(at, "Code (ident) *").value == "Código"
    assert _field(at, "Latitude").value == "lat"
    assert _field(at, "Longitude").value == "lon"
    assert _field(at, "Surface").value is None
    assert not [b for b in at.button if b.key == ingest.IMPORT]

    _button(at, ingest.VALIDATE).click().run()
    assert not at.exception
    assert not at.error
    assert _metrics(at) == {"Rows": "4", "Rows accepted": "3", "Rows rejected": "1",
                            "Already stored": "0"}
    assert any("formula" in w.value for w in at.warning)
    reasons, rejected = at.dataframe[1].value, at.dataframe[2].value
    assert reasons.to_dict("records") == [{"Reason": "coordinates", "Rows": 1}]
    assert rejected["Código"].tolist() == ["A4"]
    assert "latitude 95" in rejected["Reason"].iloc[0]
    assert any("Import will store 3 rows in aerodromes.geojson" in m.value for m in at.markdown)
    before = data_version(data)

    _button(at, ingest.IMPORT).click().run()
    assert not at.exception
    assert any("Rows stored from pistas.csv in aerodromes.geojson: 3 (3 in all)" in s.value
               .replace("\\", "") for s in at.success)
    stored = read_layer(data / "aerodromes.geojson", "aerodromes").set_index("ident")
    assert sorted(stored.index) == ["A1", "A2", "A3"]
    assert (stored.geometry.x["A1"], stored.geometry.y["A1"]) == (-74.2, -9.5)
    assert set(stored["imported_by"]) == {"Ana"}
    assert data_version(data) != before  # so the explorer reloads the world
    assert at.file_uploader[0].value is None  # emptied for the next file


def test_the_same_file_again_shows_its_duplicates_and_stores_nothing(data: Path) -> None:
    at = _offer(_app(), "pistas.csv", PISTAS)
    _button(at, ingest.VALIDATE).click().run()
    _button(at, ingest.IMPORT).click().run()
    stamp = (data / "aerodromes.geojson").stat().st_mtime_ns

    _offer(at, "pistas-again.csv", PISTAS)
    _button(at, ingest.VALIDATE).click().run()
    assert not at.exception
    assert _metrics(at)["Already stored"] == "3"
    pairs = at.dataframe[-1].value
    assert pairs["Stored identifier"].tolist() == ["A1", "A2", "A3"]
    assert any("Nothing new to store" in i.value for i in at.info)
    assert _button(at, ingest.IMPORT).disabled
    assert (data / "aerodromes.geojson").stat().st_mtime_ns == stamp


def test_a_mapping_saved_for_a_partner_is_reused_for_their_next_file(data: Path) -> None:
    at = _offer(_app(), "pistas.csv", PISTAS)
    _field(at, "Name *").set_value("País").run()  # an odd choice, to see it come back
    next(i for i in at.text_input if i.key and i.key.startswith(ingest.DEFAULT)
         and i.label == "Surface").set_value("unpaved").run()
    at.text_input(key=ingest.PARTNER).set_value("Policía Nacional").run()
    _button(at, ingest.SAVE).click().run()
    assert not at.exception
    assert list_mappings(data) == ["policia_nacional"]
    saved = load_mapping("Policía Nacional", data_dir=data)
    assert saved.fields["name"] == "País"
    assert saved.defaults == {"surface": "unpaved"}

    at = _app()
    at.selectbox(key=ingest.SAVED).set_value("policia_nacional").run()
    _offer(at, "pistas-julio.csv", PISTAS)
    assert at.text_input(key=ingest.PARTNER).value == "policia_nacional"
    assert _field(at, "Name *").value == "País"


def test_changing_the_mapping_asks_to_validate_again(data: Path) -> None:
    at = _offer(_app(), "pistas.csv", PISTAS)
    _button(at, ingest.VALIDATE).click().run()
    assert at.metric
    _field(at, "Surface").set_value("Nombre").run()
    assert not at.metric
    assert not [b for b in at.button if b.key == ingest.IMPORT]
    assert any("validate again" in i.value for i in at.info)


def test_without_a_name_validation_waits_for_one(data: Path) -> None:
    at = _offer(_app(reviewer=""), "pistas.csv", PISTAS)
    assert _button(at, ingest.VALIDATE).disabled
    at.text_input(key=ingest.USER).set_value("Luis").run()
    _button(at, ingest.VALIDATE).click().run()
    assert _metrics(at)["Rows accepted"] == "3"


@pytest.mark.parametrize("case", ["kml-billion-laughs", "vrt-renamed-geojson",
                                  "projected-metres", "empty-file"])
def test_a_hostile_or_broken_file_is_refused_with_a_message_and_stores_nothing(
        data: Path, tmp_path: Path, case: str) -> None:
    spec = CATALOGUE[case]
    path = spec.build(tmp_path)
    at = _offer(_app(), path.name, path.read_bytes(), spec.layer)
    if not at.error:  # refused only when validated (coordinates that are metres)
        _button(at, ingest.VALIDATE).click().run()
    assert not at.exception
    assert spec.says in " ".join(e.value for e in at.error).replace("\\", "").lower()
    assert not [b for b in at.button if b.key == ingest.IMPORT]
    # (the store is opened to look for the user's scene import job; no layer file is written)
    assert sorted(p.name for p in data.iterdir() if not p.name.startswith("atalaya.sqlite3")) \
        == []
    assert ingest.LOADED not in at.session_state or case == "projected-metres"


def test_the_report_and_a_refusal_read_in_spanish(data: Path, tmp_path: Path) -> None:
    at = _app()
    at.session_state[state.LANGUAGE] = "es"
    _offer(at.run(), "pistas.csv", PISTAS)
    _button(at, ingest.VALIDATE).click().run()
    assert not at.exception
    assert _metrics(at)["Filas rechazadas"] == "1"
    assert at.dataframe[1].value.to_dict("records") == [{"Motivo": "coordenadas", "Filas": 1}]
    reason = at.dataframe[2].value["Motivo"].iloc[0]
    assert reason.startswith("coordenadas: la latitud 95")
    # the field named as the mapping names it, not by its contract name alone
    assert any(w.value.replace("\\", "").startswith("Nombre (name): 1 valor empieza como una "
                                                      "fórmula") for w in at.warning)
    assert "latitude" not in reason
    # a refused file: its message in the language of the run that shows it
    path = CATALOGUE["kml-billion-laughs"].build(tmp_path)
    _offer(at, path.name, path.read_bytes())
    shown = at.error[0].value.replace("\\", "")
    assert shown.startswith("El archivo fue rechazado: laughs.kml declara un tipo de documento")
    at.session_state[state.LANGUAGE] = "en"
    at.run()
    assert at.error[0].value.replace("\\", "").startswith(
        "The file was refused: laughs.kml declares a document type")


def test_a_refused_file_is_read_once_and_its_message_stays(
        data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = ingest.read_source_isolated

    def counted(upload: Any, **kw: Any) -> Any:
        calls.append(upload.name)
        return real(upload, **kw)

    monkeypatch.setattr(ingest, "read_source_isolated", counted)
    path = CATALOGUE["kml-billion-laughs"].build(tmp_path)
    at = _offer(_app(), path.name, path.read_bytes())
    at.text_input(key=ingest.PARTNER).set_value("DEVIDA").run()
    at.run()
    assert calls == ["laughs.kml"]
    assert "entities" in at.error[0].value


@pytest.fixture
def scene_runner(runner: FakeRunner, monkeypatch: pytest.MonkeyPatch) -> FakeRunner:
    """Keep the job list in the data folder's own store; no runner in the background."""
    monkeypatch.setenv("ATALAYA_DATABASE_URL", "")
    return runner


def _validated_scene(at: AppTest, tif: Path) -> AppTest:
    _offer(at, tif.name, tif.read_bytes(), "scenes")
    _button(at, ingest.VALIDATE).click().run()
    assert _metrics(at)["Rows accepted"] == "1"
    return at


def test_a_geotiff_scene_is_stored_by_a_background_job(data: Path, tmp_path: Path,
                                                       scene_runner: FakeRunner) -> None:
    tif = good_tiff(tmp_path)
    at = _validated_scene(_app(), tif)
    upload_dir = at.session_state[ingest.LOADED].upload.workdir
    _button(at, ingest.IMPORT).click().run()
    assert not at.exception
    assert not at.error
    with open_store(default_url()) as store:
        [job] = list_jobs(store)
    assert (job.kind, job.state, job.created_by) == ("ingest", "queued", "Ana")
    assert scene_runner.wakes == 1
    kept = Path(job.params["path"])
    assert kept.is_file()
    assert kept.parent.parent == (data / "uploads").resolve()
    assert not upload_dir.exists()  # the session's received copy is removed at once
    assert not (data / "scenes").exists()  # nothing stored in the page's script thread
    assert any(f"job {job.id} ·" in m.value and "Queued" in m.value for m in at.markdown)
    [done] = run_queued_jobs(data)
    assert done.state == "succeeded", done.error
    at.run()
    assert not at.exception
    assert "Scenes stored from scene_2024-08-02.tif: 1 (1 in all); already stored: 0." in [
        s.value.replace("\\", "") for s in at.success]
    with rasterio.open(tif) as original, rasterio.open(data / "scenes" / tif.name) as copy:
        assert np.array_equal(original.read(), copy.read())  # the same pixels (plus overviews)
    assert read_layer(data / "scenes.geojson", "scenes")["path"].tolist() == [
        f"scenes/{tif.name}"]
    with open_store(default_url()) as store:
        catalogue = read_scene_catalogue(store)
    assert catalogue["path"].tolist() == [f"scenes/{tif.name}"]
    assert catalogue["registered_by"].tolist() == ["Ana"]
    assert not kept.parent.exists()  # the kept upload is removed by the job


def test_an_earth_engine_export_in_degrees_is_stored_in_metres(data: Path, tmp_path: Path,
                                                              scene_runner: FakeRunner) -> None:
    """The page, its job and the imagery reader: the stored copy is on the UTM grid."""
    from geo.imagery import read_scene_info
    from tests.geo.test_reproject import to_degrees

    (tmp_path / "utm").mkdir()
    tif = to_degrees(good_tiff(tmp_path / "utm"), tmp_path / "scene_2024-08-02.tif")
    at = _validated_scene(_app(), tif)
    _button(at, ingest.IMPORT).click().run()
    assert not at.exception
    [done] = run_queued_jobs(data)
    assert done.state == "succeeded", done.error
    info = read_scene_info(data / "scenes" / tif.name)  # as the imagery page and jobs read it
    assert (info.epsg, round(info.res_m)) == (32718, 10)
    row = read_layer(data / "scenes.geojson", "scenes").iloc[0]
    assert (row["native_crs"], row["resolution_m"]) == ("EPSG:4326", info.res_m)


def test_a_scenes_bands_named_on_the_page_reach_the_stored_copy(
        data: Path, tmp_path: Path, scene_runner: FakeRunner) -> None:
    """A stack whose descriptions name no band: the user gives the roles, the job writes them."""
    from geo.imagery import read_scene_info

    tif = unnamed_bands_tiff(tmp_path)
    at = _offer(_app(), tif.name, tif.read_bytes(), "scenes")
    assert any(i.value.replace("\\", "").startswith("detection cannot tell") for i in at.info)
    boxes = [s for s in at.selectbox if s.label.startswith("Band ")]
    # each labelled with the file's own description, its Markdown escaped
    assert [b.label for b in boxes] == [f"Band {i} · {d}" for i, d in enumerate(
        ("SR\\_B2", "SR\\_B3", "SR\\_B4", "SR\\_B5", "SR\\_B6", "QA\\_PIXEL"), start=1)]
    assert all(b.value is None for b in boxes)
    for box, role in zip(boxes, ("blue", "green", "red", "nir", "blue"), strict=False):
        box.set_value(role)
    at.run()
    assert [e.value for e in at.error] == [
        "Each role goes to one band: Blue is chosen for several."]
    assert not [b for b in at.button if b.key == ingest.VALIDATE]
    _field(at, "Band 5 · SR\\_B6").set_value("swir1").run()
    assert not at.error
    _button(at, ingest.VALIDATE).click().run()
    assert _metrics(at)["Rows accepted"] == "1"
    assert not at.warning  # named: detection can tell them apart
    _button(at, ingest.IMPORT).click().run()
    with open_store(default_url()) as store:
        [job] = list_jobs(store)
    assert job.params["mapping"]["bands"] == {"blue": 1, "green": 2, "red": 3, "nir": 4,
                                              "swir1": 5}
    [done] = run_queued_jobs(data)
    assert done.state == "succeeded", done.error
    stored = data / "scenes" / tif.name
    with rasterio.open(stored) as copy:
        assert copy.descriptions == ("blue", "green", "red", "nir", "swir1", "QA_PIXEL")
    assert read_scene_info(stored).roles.is_multispectral  # what detection jobs read
    assert read_layer(data / "scenes.geojson", "scenes")["bands"].tolist() == [
        "blue,green,red,nir,swir1,band6"]


def test_a_stored_scenes_bands_are_named_on_the_page(data: Path, tmp_path: Path,
                                                    scene_runner: FakeRunner) -> None:
    """A scene stored with bands detection cannot tell apart: its boxes open, roles stored."""
    from geo.imagery import read_scene_info
    from geo.ingest import commit, propose_mapping, read_source, receive_file, validate

    tif = unnamed_bands_tiff(tmp_path)
    with receive_file(tif) as up:
        source = read_source(up)
        commit(validate(source, propose_mapping(source, "scenes"), imported_by="ana"), data)
    at = _app().selectbox(key=ingest.LAYER).set_value("scenes").run()
    assert at.selectbox(key=ingest.STORED_SCENE).value == "landsat_2024-08-02"
    save = _button(at, ingest.SAVE_BANDS)
    assert save.disabled  # nothing chosen yet
    boxes = [s for s in at.selectbox if s.label.startswith("Band ")]
    assert boxes[5].label == "Band 6 · QA\\_PIXEL"  # read from the stored file
    for box, role in zip(boxes, ("blue", "green", "red", "nir", "swir1"), strict=False):
        box.set_value(role)
    at.run()
    _button(at, ingest.SAVE_BANDS).click().run()
    assert not at.exception
    assert [m.value.replace("\\", "") for m in at.success] == [
        "Band roles stored for landsat_2024-08-02: blue,green,red,nir,swir1,band6."]
    stored = data / "scenes" / tif.name
    assert read_scene_info(stored).roles.is_multispectral
    with open_store(default_url()) as store:
        assert read_scene_catalogue(store)["bands"].tolist() == [
            "blue,green,red,nir,swir1,band6"]
    # now usable: listed, its boxes start from its roles, and saving them again is disabled
    assert _field(at, "Band 4 · nir").value == "nir"
    assert _button(at, ingest.SAVE_BANDS).disabled


def test_a_scene_import_cancelled_before_it_ran_leaves_no_upload(
        data: Path, tmp_path: Path, scene_runner: FakeRunner) -> None:
    ensure_accounts(dict(os.environ))
    at = AppTest.from_function(_page, default_timeout=120)
    at.session_state[state.LANGUAGE] = "en"
    at.session_state[state.SESSION] = Session.start("analyst", Role.ANALYST, datetime.now(UTC))
    at.session_state[state.REVIEWER] = "analyst"
    _validated_scene(at.run(), good_tiff(tmp_path))
    _button(at, ingest.IMPORT).click().run()
    with open_store(default_url()) as store:
        [job] = list_jobs(store)
    kept = Path(job.params["path"])
    at.button(key=f"{state.JOBS_CANCEL}:{job.id}").click().run()
    assert not at.exception
    with open_store(default_url()) as store:
        assert get_job(store, job.id).state == "cancelled"
    assert run_queued_jobs(data) == []
    assert not kept.parent.exists()
    assert not (data / "scenes").exists()


def test_the_rejected_rows_csv_is_made_once_per_language() -> None:
    from geo.i18n import Translator

    made: list[str] = []

    class Report:
        def rejected_csv(self, t: Translator) -> bytes:
            made.append(t.language)
            return t.language.encode()

    checked = ingest._Checked("sig", Report(), None)  # type: ignore[arg-type]
    for language in ("es", "es", "en", "es"):
        assert checked.rejected_csv(Translator(language)) == language.encode()
    assert made == ["es", "en"]


def test_the_fields_say_what_they_hold_in_the_readers_language(data: Path) -> None:
    at = AppTest.from_function(_page, default_timeout=120)
    at.session_state[state.LANGUAGE] = "es"
    at.session_state[state.REVIEWER] = "Ana"
    at = _offer(at.run(), "pistas.csv", PISTAS)
    assert not _field(at, "Latitud (latitude)").help  # its name says it all
    assert _field(at, "Código (ident) *").help == "código OACI o identificador de OurAirports"


@pytest.mark.parametrize(("language", "field", "label"), [
    ("en", "occurred_at", "Date (occurred_at)"), ("en", "latitude", "Latitude"),
    ("es", "occurred_at", "Fecha (occurred_at)"),
    ("es", "quantity_kg", "Cantidad (kg) (quantity_kg)"),
    ("pt", "ident", "Código (ident)"), ("es", "iata", "Código IATA (iata)"),
])
def test_a_field_is_labelled_in_the_readers_words_beside_its_contract_name(language, field,
                                                                           label):
    assert ingest.field_label(field, Translator(language)) == label
