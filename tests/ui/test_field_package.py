"""The field package panel under Streamlit's test harness (SQLite store, no browser)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pyogrio
import pytest
from streamlit.testing.v1 import AppTest

from geo.store import (
    AlertChange,
    get_alert,
    list_alerts,
    merge_candidates,
    open_store,
    read_comments,
    update_alert,
)
from geo.store.fieldpkg import export_field_package
from tests.conftest import ROOT
from tests.store.conftest import candidates
from ui import field_package as panel

SCRIPT = """
import os
from pathlib import Path

from geo.i18n import Translator
from geo.store import open_store
from ui.field_package import render_field_package, render_returned_package

import streamlit as st

from datetime import UTC, datetime
from geo.auth import Role, Session
from ui import state

st.session_state[state.SESSION] = Session.start(
    os.environ["FIELDPKG_TEST_REVIEWER"], Role(os.environ.get("FIELDPKG_TEST_ROLE", "planner")),
    datetime.now(UTC))
store = open_store(os.environ["FIELDPKG_TEST_URL"])
t = Translator("en")
returned = os.environ.get("FIELDPKG_TEST_RETURNED")
if returned:
    render_returned_package(store, t, os.environ["FIELDPKG_TEST_REVIEWER"],
                            Path(returned).read_bytes())
else:
    render_field_package(store, t, os.environ["FIELDPKG_TEST_REVIEWER"])
store.close()
"""

SITES = [{"lon": -65.0, "lat": -14.0, "scene_id": "s1", "date": "2024-05-01", "score": 0.9},
         {"lon": -64.0, "lat": -13.0, "scene_id": "s1", "date": "2024-05-01", "score": 0.8}]


@pytest.fixture
def url(tmp_path):
    """Make a SQLite store with two alerts under review for 'team1'."""
    url = f"sqlite:///{tmp_path}/alerts.sqlite3"
    with open_store(url) as store:
        merge_candidates(store, candidates(SITES))
        for a in list_alerts(store):
            update_alert(store, AlertChange(a.id, a.version, state="under_review",
                                            assignee="team1"), actor="lead")
    return url


def _app(monkeypatch, url: str, *, reviewer: str = "lead", returned: Path | None = None,
         role: str = "analyst") -> AppTest:
    """Run the panel as ``reviewer``; a returned package is applied in ``role``."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("FIELDPKG_TEST_URL", url)
    monkeypatch.setenv("FIELDPKG_TEST_REVIEWER", reviewer)
    if returned is not None:
        monkeypatch.setenv("FIELDPKG_TEST_RETURNED", str(returned))
        monkeypatch.setenv("FIELDPKG_TEST_ROLE", role)
    at = AppTest.from_string(SCRIPT, default_timeout=60)
    at.run()
    assert not at.exception
    return at


def test_export_builds_a_downloadable_package(monkeypatch, url):
    at = _app(monkeypatch, url)
    assert at.selectbox(key=panel.EXPORT_ASSIGNEE).value == "team1"
    at.button(key=panel.EXPORT_BUILD).click().run()
    assert not at.exception
    assert "Packed: 2 alerts and 0 image chips." in at.success[0].value
    assert any("image chips are cut the first time someone opens it" in c.value
               for c in at.caption)  # why none
    result = at.session_state[panel.EXPORT_RESULT]
    assert result["name"].endswith(".zip")
    with zipfile.ZipFile(io.BytesIO(result["data"])) as archive:
        assert "alerts.gpkg" in archive.namelist()
    assert at.get("download_button")


@pytest.mark.parametrize(("who", "packed"), [("team1", 2), ("team2", 0)])
def test_a_field_team_packs_only_its_own_assignments(monkeypatch, url, who, packed):
    monkeypatch.setenv("FIELDPKG_TEST_ROLE", "field")
    at = _app(monkeypatch, url, reviewer=who)
    assert not at.get("radio")  # no choice of alerts: its own assignments
    at.button(key=panel.EXPORT_BUILD).click().run()
    assert not at.exception
    if packed:
        assert f"Packed: {packed} alerts and 0 image chips." in at.success[0].value
    else:  # nothing assigned: what to do, not an error with the query's internals
        assert not at.error
        assert at.info[0].value.replace("\\", "").startswith(
            "No alert is assigned to team2: open one and press")


def test_export_by_state_with_nothing_matching_says_so(monkeypatch, url):
    at = _app(monkeypatch, url)
    at.radio(key=panel.EXPORT_BY).set_value("states").run()
    at.multiselect(key=panel.EXPORT_STATES).set_value(["destroyed"]).run()
    at.button(key=panel.EXPORT_BUILD).click().run()
    assert not at.exception
    assert not at.error
    assert at.info[0].value.replace("\\", "") == "No alert is in the chosen states; choose others."


def test_without_a_name_nothing_can_be_built(monkeypatch, url):
    at = _app(monkeypatch, url, reviewer=" ")
    assert at.warning
    assert at.button(key=panel.EXPORT_BUILD).disabled


def _returned_with_conflict(url: str, tmp_path: Path) -> tuple[Path, int, int]:
    """Export, let the office change one alert, fill verdicts on both as the team."""
    with open_store(url) as store:
        report = export_field_package(store, assignee="team1", out=tmp_path / "p.zip",
                                      user="lead")
        first, second = report.alert_ids
        now = get_alert(store, first)
        update_alert(store, AlertChange(first, now.version, state="needs_field_visit",
                                        comment="fresh track on the 12th"), actor="maria")
    with zipfile.ZipFile(report.path) as archive:
        archive.extract("alerts.gpkg", tmp_path)
    gpkg = tmp_path / "alerts.gpkg"
    frame = pyogrio.read_dataframe(gpkg, layer="alerts")
    frame["verdict"] = ["confirmed", "dismissed"]
    frame["field_comment"] = ["<b>seen</b>", "no strip here"]
    pyogrio.write_dataframe(frame, gpkg, layer="alerts", driver="GPKG")
    return gpkg, first, second


def test_import_shows_conflicts_and_applies_only_what_is_accepted(monkeypatch, url, tmp_path):
    gpkg, first, second = _returned_with_conflict(url, tmp_path)
    at = _app(monkeypatch, url, reviewer="office", returned=gpkg)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {"Will apply": "1", "Conflict": "1", "Rejected": "0", "Unchanged": "0"}
    assert len(at.checkbox) == 1
    # both sides and why: the team's comment beside the office's change and its comment
    side = at.text[0].value.splitlines()
    assert "changed by maria" in side[0]
    assert len(side) == 3
    assert side[1] == "Team's comment: [field visit] <b>seen</b>"
    assert side[2].startswith("Office comment by maria at ")
    assert side[2].endswith(" UTC: fresh track on the 12th")
    apply = at.button(key=panel.APPLY)
    assert apply.label == "Apply 1 row"
    apply.click().run()
    assert not at.exception
    assert "Saved: 1 verdict and 1 comment." in at.success[0].value
    with open_store(url) as store:
        assert get_alert(store, second).state == "dismissed"
        assert get_alert(store, first).state == "needs_field_visit"

    at.checkbox[0].check().run()
    at.button(key=panel.APPLY).click().run()
    assert not at.exception
    with open_store(url) as store:
        assert get_alert(store, first).state == "confirmed"
        assert read_comments(store, first)[-1]["body"] == "[field visit] <b>seen</b>"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Unchanged"] == "2"
    # nothing left: no "Apply 0 rows" button, a line that says so
    assert not [b for b in at.button if b.key == panel.APPLY]
    assert at.caption[-1].value.startswith("Nothing in this package is left to apply")


@pytest.mark.parametrize(("role", "who", "refused"), [
    ("planner", "pedro", "Your role may not give a verdict on an alert."),
    ("field", "team2", "is assigned to team1: only they, or someone who may assign alerts"),
    ("field", "team1", None)])
def test_a_package_gives_no_verdict_its_importer_could_not_give_on_the_page(
        monkeypatch, url, tmp_path, role, who, refused):
    """A planner, or a field user with another team's alerts, cannot close them by file."""
    gpkg, _first, second = _returned_with_conflict(url, tmp_path)
    with open_store(url) as store:
        before = {a.id: a for a in list_alerts(store)}
    at = _app(monkeypatch, url, reviewer=who, returned=gpkg, role=role)
    metrics = {m.label: m.value for m in at.metric}
    if refused is None:  # the team's own alerts: as for the office
        assert metrics == {"Will apply": "1", "Conflict": "1", "Rejected": "0",
                           "Unchanged": "0"}
        at.button(key=panel.APPLY).click().run()
        with open_store(url) as store:
            assert get_alert(store, second).state == "dismissed"
        return
    assert metrics == {"Will apply": "0", "Conflict": "0", "Rejected": "2", "Unchanged": "0"}
    assert not [b for b in at.button if b.key == panel.APPLY]
    table = at.dataframe[0].value
    assert all(refused in str(why) for why in table["Why"]), table["Why"]
    with open_store(url) as store:  # nothing written
        assert {a.id: a for a in list_alerts(store)} == before


def test_a_hostile_upload_is_reported_not_raised(monkeypatch, url, tmp_path):
    fake = tmp_path / "alerts.gpkg"
    fake.write_text("<OGRVRTDataSource/>")
    at = _app(monkeypatch, url, reviewer="office", returned=fake)
    assert at.error[0].value == "This package cannot be imported; nothing was changed."
    assert "neither a GeoPackage nor a ZIP" in at.code[0].value


def test_who_exported_a_package_is_shown_as_text(monkeypatch, url, tmp_path):
    """The package's own words (its exporter) never become a link or an image."""
    import sqlite3

    gpkg, _first, _second = _returned_with_conflict(url, tmp_path)
    with sqlite3.connect(gpkg) as conn:
        conn.execute("UPDATE package SET value = ? WHERE key = 'exported_by'",
                     ("[click](http://evil.example) ![i](http://127.0.0.1:9/t.png)",))
    at = _app(monkeypatch, url, reviewer="office", returned=gpkg)
    [said] = [c.value for c in at.caption if c.value.startswith("Package exported by")]
    assert "\\[click\\]" in said, said  # escaped Markdown: no link
    assert "\\!\\[i\\]" in said, said  # and no image


def test_nothing_saved_is_not_shown_as_a_success(monkeypatch, url, tmp_path):
    """An accepted conflict that moved again before Apply fails: red only, no green box."""
    gpkg, first, _second = _returned_with_conflict(url, tmp_path)
    frame = pyogrio.read_dataframe(gpkg, layer="alerts")
    frame["verdict"] = ["confirmed", None]  # only the conflicting row is filled in
    frame["field_comment"] = [None, None]
    pyogrio.write_dataframe(frame, gpkg, layer="alerts", driver="GPKG")
    at = _app(monkeypatch, url, reviewer="office", returned=gpkg)
    at.checkbox[0].check().run()
    with open_store(url) as store:  # someone else moves it on meanwhile
        now = get_alert(store, first)
        update_alert(store, AlertChange(first, now.version, state="destroyed"), actor="jose")
    at.button(key=panel.APPLY).click().run()
    assert not at.exception
    assert not at.success
    assert "1 row could not be applied" in at.error[0].value
    assert "jose" in at.code[0].value


def test_a_verdict_the_changed_alert_cannot_take_is_rejected_without_a_box(monkeypatch, url,
                                                                            tmp_path):
    gpkg, first, _second = _returned_with_conflict(url, tmp_path)
    with open_store(url) as store:  # needs_field_visit -> destroyed: 'confirmed' is now refused
        now = get_alert(store, first)
        update_alert(store, AlertChange(first, now.version, state="destroyed"), actor="jose")
    at = _app(monkeypatch, url, reviewer="office", returned=gpkg)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {"Will apply": "1", "Conflict": "0", "Rejected": "1", "Unchanged": "0"}
    assert not at.checkbox
