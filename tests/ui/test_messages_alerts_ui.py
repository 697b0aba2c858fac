"""The alert page and the field package panel show the store's messages in the reader's language.

The catalogues do not hold these templates yet, so each test writes a small Spanish catalogue
of its own with the one template it looks for.
"""

from __future__ import annotations

import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from geo.auth import Role, Session
from geo.i18n import Message, Translator
from geo.store import AlertChange, list_alerts, merge_candidates, open_store, update_alert
from geo.store.fieldpkg import export_field_package
from tests.catalogues import write_catalogue
from tests.conftest import ROOT
from tests.store.conftest import candidates
from ui import field_package as panel
from ui import state

SCRIPT = """
import os
from datetime import UTC, datetime
from pathlib import Path

import streamlit as st

from geo.auth import Role, Session
from geo.i18n import Translator
from geo.store import open_store
from ui import state
from ui.field_package import render_field_package, render_returned_package

st.session_state[state.SESSION] = Session.start("lead", Role.PLANNER, datetime.now(UTC))
t = Translator(os.environ["MSG_TEST_LANGUAGE"], locale_dir=Path(os.environ["MSG_TEST_LOCALES"]))
store = open_store(os.environ["MSG_TEST_URL"])
returned = os.environ.get("MSG_TEST_RETURNED")
if returned:
    render_returned_package(store, t, "lead", Path(returned).read_bytes())
else:
    render_field_package(store, t, "lead")
store.close()
"""

SITES = [{"lon": -65.0, "lat": -14.0, "scene_id": "s1", "date": "2024-05-01", "score": 0.9},
         {"lon": -64.0, "lat": -13.0, "scene_id": "s1", "date": "2024-05-01", "score": 0.8}]


@pytest.fixture
def url(tmp_path: Path) -> str:
    """Make a SQLite store with two new alerts, nobody assigned."""
    url = f"sqlite:///{tmp_path}/alerts.sqlite3"
    with open_store(url) as store:
        merge_candidates(store, candidates(SITES))
    return url


def _panel(monkeypatch: pytest.MonkeyPatch, url: str, locales: Path, language: str,
           returned: Path | None = None) -> AppTest:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("MSG_TEST_URL", url)
    monkeypatch.setenv("MSG_TEST_LOCALES", str(locales))
    monkeypatch.setenv("MSG_TEST_LANGUAGE", language)
    if returned is not None:
        monkeypatch.setenv("MSG_TEST_RETURNED", str(returned))
    at = AppTest.from_string(SCRIPT, default_timeout=60).run()
    assert not at.exception
    return at


def test_a_refused_export_follows_a_change_of_language(monkeypatch: pytest.MonkeyPatch,
                                                       url: str, tmp_path: Path) -> None:
    from geo.store import fieldpkg

    monkeypatch.setattr(fieldpkg, "MAX_ROWS", 1)  # the two new alerts are one too many
    locales = write_catalogue(tmp_path / "locales", {
        "{n} alerts chosen; a field package holds at most {most}: narrow the choice":
            "{n} alertas elegidas; un paquete de campo lleva {most} como máximo: restrinja "
            "la elección"})
    at = _panel(monkeypatch, url, locales, "en")
    at.radio(key=panel.EXPORT_BY).set_value("states").run()
    at.multiselect(key=panel.EXPORT_STATES).set_value(["new"]).run()
    at.button(key=panel.EXPORT_BUILD).click().run()
    assert not at.exception
    kept = at.session_state[panel.EXPORT_RESULT]["error"]
    assert isinstance(kept, Message)  # kept as the message, not as English text
    assert at.code[0].value == "2 alerts chosen; a field package holds at most 1: narrow the choice"
    monkeypatch.setenv("MSG_TEST_LANGUAGE", "es")
    at.run()
    assert not at.exception
    assert at.code[0].value == ("2 alertas elegidas; un paquete de campo lleva 1 como máximo: "
                                "restrinja la elección")


def test_the_reasons_of_a_returned_package_are_localized(monkeypatch: pytest.MonkeyPatch,
                                                         url: str, tmp_path: Path) -> None:
    with open_store(url) as store:
        report = export_field_package(store, out=tmp_path / "p.zip", user="lead")
    with zipfile.ZipFile(report.path) as archive:
        archive.extract("alerts.gpkg", tmp_path)
    locales = write_catalogue(tmp_path / "locales", {"nothing filled in": "nada rellenado"})
    at = _panel(monkeypatch, url, locales, "es", returned=tmp_path / "alerts.gpkg")
    (table,) = at.dataframe
    assert list(table.value["Why"]) == ["nada rellenado", "nada rellenado"]
    # beside the result, not ten columns to the right (off a phone's screen)
    assert list(table.value.columns[:4]) == ["Row", "Alert", "Result", "Why"]


def _alert_page() -> None:
    from ui.alerts import render_alerts

    render_alerts()


def test_a_stale_verdict_is_shown_in_the_readers_language(
        own_world: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("ATALAYA_SMTP_HOST", "ATALAYA_WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    locales = write_catalogue(tmp_path / "locales", {
        "alert {id} was changed by {who} at {when} UTC (now version {version}, your copy is "
        "version {expected}); reload it and apply your change again":
            "{who} cambió la alerta {id} el {when} UTC (versión {version}; su copia es la "
            "{expected}): recárguela"})
    monkeypatch.setattr("ui.alerts.current_translator", lambda: Translator(
        str(st.session_state.get(state.LANGUAGE, "es")), locale_dir=locales))
    at = AppTest.from_function(_alert_page, default_timeout=90)
    at.session_state[state.LANGUAGE] = "es"
    at.session_state[state.REVIEWER] = "Ana"
    at.session_state[state.SESSION] = Session.start("Ana", Role.ANALYST, datetime.now(UTC))
    with open_store(f"sqlite:///{own_world / 'atalaya.sqlite3'}") as store:
        merge_candidates(store, candidates(SITES[:1]))  # a new alert, whatever the world holds
        target = list_alerts(store, states=["new"])[0]
    at.query_params["alert"] = str(target.id)
    at.run()
    assert not at.exception
    with open_store(f"sqlite:///{own_world / 'atalaya.sqlite3'}") as store:
        moved = update_alert(store, AlertChange(target.id, target.version, priority="low"),
                             actor="Luis")
    at.button(key=f"{state.ALERT_VERDICT}:under_review").click().run()
    assert not at.exception
    assert [e.value.replace("\\", "") for e in at.error] == [
        f"Luis cambió la alerta {target.id} el {moved.updated_at:%Y-%m-%d %H:%M:%S} UTC "
        f"(versión {moved.version}; su copia es la {target.version}): recárguela"]
