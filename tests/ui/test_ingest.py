"""The import page under Streamlit's test harness: upload, mapping, report, import, refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from streamlit.testing.v1 import AppTest

from geo.ingest import list_mappings, load_mapping
from geo.world import data_version, read_layer
from tests.conftest import ROOT
from tests.ingest.hostile import CATALOGUE, good_tiff
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
    assert _field(at, "ident *").value == "Código"
    assert _field(at, "latitude").value == "lat"
    assert _field(at, "longitude").value == "lon"
    assert _field(at, "surface").value is None
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
    assert "latitude 95" in rejected["reason"].iloc[0]
    assert any("Import will store 3 rows in aerodromes.geojson" in m.value for m in at.markdown)
    before = data_version(data)

    _button(at, ingest.IMPORT).click().run()
    assert not at.exception
    assert any("Stored 3 rows from pistas.csv in aerodromes.geojson (3 in all)" in s.value
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
    _field(at, "name *").set_value("País").run()  # an odd choice, to see it come back
    next(i for i in at.text_input if i.key and i.key.startswith(ingest.DEFAULT)
         and i.label == "surface").set_value("unpaved").run()
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
    assert _field(at, "name *").value == "País"


def test_changing_the_mapping_asks_to_validate_again(data: Path) -> None:
    at = _offer(_app(), "pistas.csv", PISTAS)
    _button(at, ingest.VALIDATE).click().run()
    assert at.metric
    _field(at, "surface").set_value("Nombre").run()
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
    assert sorted(p.name for p in data.iterdir()) == []
    assert ingest.LOADED not in at.session_state or case == "projected-metres"


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


def test_a_geotiff_scene_is_copied_into_the_data_folder_on_import(data: Path,
                                                                  tmp_path: Path) -> None:
    tif = good_tiff(tmp_path)
    at = _offer(_app(), tif.name, tif.read_bytes(), "scenes")
    upload_dir = at.session_state[ingest.LOADED].upload.workdir
    _button(at, ingest.VALIDATE).click().run()
    assert _metrics(at)["Rows accepted"] == "1"
    _button(at, ingest.IMPORT).click().run()
    assert not at.exception
    assert not at.error
    with rasterio.open(tif) as original, rasterio.open(data / "scenes" / tif.name) as copy:
        assert np.array_equal(original.read(), copy.read())  # the same pixels (plus overviews)
    assert read_layer(data / "scenes.geojson", "scenes")["path"].tolist() == [
        f"scenes/{tif.name}"]
    assert not upload_dir.exists()  # the received copy is removed once imported
