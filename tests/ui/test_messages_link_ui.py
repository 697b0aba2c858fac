"""The explorer shows a shared link's ignored parts in the reader's language.

The catalogues do not hold these templates yet, so the test writes a small Spanish catalogue of
its own. The script decodes the page's query parameters as ``ui.explore`` does on a session's
first run and renders the controls that show the problems.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from geo.i18n import Message
from tests.catalogues import write_catalogue
from tests.conftest import ROOT
from ui import state
from ui.text import escape_markdown

SCRIPT = """
import os
from pathlib import Path

import streamlit as st

from geo.i18n import Translator
from geo.querystate import decode_query
from ui import state
from ui.explore import render_view_controls

t = Translator(os.environ["LINK_TEST_LANGUAGE"], locale_dir=Path(os.environ["LINK_TEST_LOCALES"]))
if state.URL_PROBLEMS not in st.session_state:  # the first run, as ui.explore does
    _view, problems = decode_query({k: st.query_params.get_all(k) for k in st.query_params})
    st.session_state[state.URL_PROBLEMS] = problems
render_view_controls(Path(os.environ["LINK_TEST_DATA"]), t)
"""


def test_a_links_problems_are_shown_in_the_readers_language(monkeypatch: pytest.MonkeyPatch,
                                                            tmp_path: Path) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("LINK_TEST_DATA", str(tmp_path))
    monkeypatch.setenv("LINK_TEST_LOCALES", str(write_catalogue(tmp_path / "locales", {
        "Part of the link was ignored:": "Se ignoró parte del enlace:",
        "expected a number between 0 and 1": "se esperaba un número entre 0 y 1",
        "view: {problem}": "vista: {problem}",
        "zoom outside 0-22": "zoom fuera de 0-22"})))
    monkeypatch.setenv("LINK_TEST_LANGUAGE", "es")
    at = AppTest.from_string(SCRIPT, default_timeout=60)
    at.query_params["conf"] = "2"
    at.query_params["z"] = "30"
    at.run()
    assert not at.exception
    kept = at.session_state[state.URL_PROBLEMS]
    assert kept == ["conf='2': expected a number between 0 and 1", "view: zoom outside 0-22"]
    assert all(isinstance(p, Message) for p in kept)  # kept as messages, not as English text
    assert [w.value for w in at.warning] == [
        "Se ignoró parte del enlace: " + escape_markdown(spanish) for spanish in (
            "conf='2': se esperaba un número entre 0 y 1", "vista: zoom fuera de 0-22")]
    monkeypatch.setenv("LINK_TEST_LANGUAGE", "en")  # the same problems, now in English
    at.run()
    assert not at.exception
    assert [w.value for w in at.warning] == [
        "Part of the link was ignored: " + escape_markdown(p) for p in kept]
