"""The explorer's area controls show a refused area or drawn shape in the reader's language.

The catalogues do not hold these templates yet, so each test writes a small Spanish catalogue
of its own with the templates it looks for.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from geo.i18n import Message
from tests.catalogues import write_catalogue
from tests.conftest import ROOT
from ui import state
from ui.text import escape_markdown

SCRIPT = """
import json
import os
from pathlib import Path

import streamlit as st
from shapely.geometry import box

from geo.i18n import Translator
from ui import state
from ui.explore import _apply_drawing, render_area_controls

t = Translator(os.environ["AREA_TEST_LANGUAGE"], locale_dir=Path(os.environ["AREA_TEST_LOCALES"]))
drawing = os.environ.get("AREA_TEST_DRAWING")
if drawing:
    _apply_drawing(json.loads(drawing))
else:
    st.session_state.setdefault(state.AOI, box(-75, -13, -73, -11))
render_area_controls(Path(os.environ["AREA_TEST_DATA"]), t)
"""

#: A rectangle drawn past the pole: its latitudes are not degrees.
PAST_THE_POLE = {"type": "Feature", "properties": {},
                 "geometry": {"type": "Polygon",
                              "coordinates": [[[0, 95], [1, 95], [1, 96], [0, 96], [0, 95]]]}}


def _controls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, locales: Path, language: str,
              drawing: dict[str, object] | None = None) -> AppTest:
    monkeypatch.chdir(ROOT)
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    monkeypatch.setenv("AREA_TEST_DATA", str(data))
    monkeypatch.setenv("AREA_TEST_LOCALES", str(locales))
    monkeypatch.setenv("AREA_TEST_LANGUAGE", language)
    if drawing is not None:
        monkeypatch.setenv("AREA_TEST_DRAWING", json.dumps(drawing))
    at = AppTest.from_string(SCRIPT, default_timeout=60).run()
    assert not at.exception
    return at


def test_a_refused_drawing_is_shown_in_the_readers_language(monkeypatch: pytest.MonkeyPatch,
                                                            tmp_path: Path) -> None:
    locales = write_catalogue(tmp_path / "locales", {
        "The drawn shape cannot be used:": "La forma dibujada no se puede usar:",
        "{name} {bounds} is not (lon_min, lat_min, lon_max, lat_max) in degrees: swapped "
        "latitude and longitude?": "{name} {bounds} no son (lon_min, lat_min, lon_max, "
        "lat_max) en grados: ¿latitud y longitud intercambiadas?",
        "the area of interest's bounds": "los límites del área de interés"})
    at = _controls(monkeypatch, tmp_path, locales, "es", PAST_THE_POLE)
    kind, kept = at.session_state[state.AREA_MESSAGE]
    assert kind == "drawn"
    assert isinstance(kept, Message)  # kept as the message, not as English text
    assert state.AOI not in at.session_state  # the shape was not taken
    assert at.error[0].value == "La forma dibujada no se puede usar: " + escape_markdown(
        "los límites del área de interés (0.0, 95.0, 1.0, 96.0) no son (lon_min, lat_min, "
        "lon_max, lat_max) en grados: ¿latitud y longitud intercambiadas?")
    monkeypatch.setenv("AREA_TEST_LANGUAGE", "en")  # the same message, now in English
    at.run()
    assert not at.exception
    assert at.error[0].value == "The drawn shape cannot be used: " + escape_markdown(
        "the area of interest's bounds (0.0, 95.0, 1.0, 96.0) is not (lon_min, lat_min, "
        "lon_max, lat_max) in degrees: swapped latitude and longitude?")


def test_a_refused_area_name_is_shown_in_the_readers_language(monkeypatch: pytest.MonkeyPatch,
                                                              tmp_path: Path) -> None:
    locales = write_catalogue(tmp_path / "locales", {
        "an area name needs 1 to {most} characters, got {n}":
            "el nombre de un área necesita de 1 a {most} caracteres; se obtuvieron {n}"})
    at = _controls(monkeypatch, tmp_path, locales, "es")
    at.text_input(key=state.AREA_NAME).set_value("   ").run()
    at.button(key=state.AREA_SAVE).click().run()
    assert not at.exception
    kind, kept = at.session_state[state.AREA_MESSAGE]
    assert kind == "error"
    assert kept == "an area name needs 1 to 80 characters, got 0"  # the English it always was
    assert isinstance(kept, Message)
    assert at.error[0].value == escape_markdown(
        "el nombre de un área necesita de 1 a 80 caracteres; se obtuvieron 0")
    assert not (tmp_path / "data" / "areas.geojson").exists()
