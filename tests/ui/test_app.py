"""The pages, run by Streamlit's own test harness (no browser)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT, signed_in


def _run(data_dir: Path, monkeypatch: pytest.MonkeyPatch, language: str = "en") -> AppTest:
    monkeypatch.setenv("ATALAYA_DATA_DIR", str(data_dir))
    monkeypatch.setenv("ATALAYA_LANGUAGE", language)
    monkeypatch.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    signed_in(at)
    at.run()
    return at


def test_overview_shows_the_layer_counts(small_world, monkeypatch):
    at = _run(small_world, monkeypatch)
    assert not at.exception
    assert at.title[0].value == "Overview map"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Events"] == "3,000"
    assert int(metrics["Registered aerodromes"].replace(",", "")) > 500
    assert int(metrics["Trafficking routes"].replace(",", "")) >= 10


def test_language_switch_translates_labels_and_numbers(small_world, monkeypatch):
    at = _run(small_world, monkeypatch)
    at.sidebar.selectbox[0].set_value("es").run()
    assert not at.exception
    assert at.title[0].value == "Mapa general"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Eventos"] == "3.000"


def test_empty_data_folder_gives_a_clear_message(tmp_path, monkeypatch):
    at = _run(tmp_path, monkeypatch)
    assert not at.exception
    assert at.error[0].value == "The data could not be loaded."
    assert "python -m geo.sample" in at.code[0].value


def test_broken_layer_file_is_reported_not_raised(small_world, tmp_path, monkeypatch):
    broken = tmp_path / "world"
    broken.mkdir()
    (broken / "routes.geojson").write_text('{"type": "FeatureCollection", "features": ['
                                           '{"type": "Feature", "properties": {"mode": "air"},'
                                           ' "geometry": {"type": "Point",'
                                           ' "coordinates": [-9.0, -120.0]}}]}')
    at = _run(broken, monkeypatch)
    assert not at.exception
    text = at.code[0].value
    assert "routes.geojson" in text
    assert "required column 'route_id' is absent" in text
