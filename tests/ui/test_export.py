"""The export panel under Streamlit's test harness (tiny world, vector formats, no browser).

The panel submits an ``export`` job; no runner runs in the background here (see
``tests/ui/conftest.py``): ``run_queued_jobs`` runs the queued jobs in the test's thread.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from geo.export import list_snapshots
from geo.jobs import get_job, list_jobs
from geo.store import default_url, open_store
from tests.conftest import ROOT
from tests.export.world import write_tiny_world
from tests.ui.conftest import run_queued_jobs
from tools.serve import ensure_accounts
from ui import export as panel
from ui import state

SCRIPT = """
import os
from datetime import UTC, datetime
from pathlib import Path

from geo.filters import Filters
from geo.i18n import Translator
from geo.auth import Role, Session
from ui import state
from ui.export import render_export_panel

import streamlit as st

st.session_state[state.SESSION] = Session.start(
    os.environ.get("EXPORT_TEST_USER", "ana"), Role(os.environ.get("EXPORT_TEST_ROLE", "planner")),
    datetime.now(UTC))

bounds = os.environ.get("EXPORT_TEST_BOUNDS")
render_export_panel(Path(os.environ["EXPORT_TEST_DATA"]),
                    Filters(start=datetime(2023, 1, 1, tzinfo=UTC), event_types=["seizure"]),
                    tuple(float(v) for v in bounds.split(",")) if bounds else None,
                    Translator(os.environ.get("EXPORT_TEST_LANG", "en")),
                    os.environ.get("EXPORT_TEST_USER", "ana"))
"""


@pytest.fixture
def data(tmp_path, monkeypatch, runner):
    """Make the tiny world the app's data folder (its store holds the job list)."""
    folder = write_tiny_world(tmp_path / "data")
    monkeypatch.setenv("ATALAYA_DATA_DIR", str(folder))
    monkeypatch.setenv("ATALAYA_DATABASE_URL", "")
    return folder


@pytest.fixture
def store(data):
    with open_store(default_url()) as s:
        yield s


def _make(at: AppTest, data: Path) -> AppTest:
    """Press the button, run the job it queued, and show the page again."""
    at.button(key=panel.BUILD).click().run()
    assert not at.exception
    [job] = run_queued_jobs(data)
    assert job.state == "succeeded", job.error
    return at.run()


def _app(monkeypatch, data, **env: str) -> AppTest:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("EXPORT_TEST_DATA", str(data))
    for key, value in env.items():
        monkeypatch.setenv(f"EXPORT_TEST_{key.upper()}", value)
    at = AppTest.from_string(SCRIPT, default_timeout=120)
    at.run()
    assert not at.exception
    return at


def test_panel_makes_a_snapshot_of_the_view_and_lists_it(monkeypatch, data, store, runner):
    at = _app(monkeypatch, data, bounds="-82,-35,-34,13")
    assert at.toggle(key=panel.USE_VIEW).value is True
    at.multiselect(key=panel.FORMATS_KEY).set_value(["gpkg", "csv"]).run()
    at.text_input(key=panel.TITLE).set_value("Briefing Petén").run()
    summary = " ".join(m.value for m in at.markdown)
    assert "Event types: Seizure" in summary.replace("\\", "")
    assert "Map extent: 82.0000°W" in summary.replace("\\", "")
    # a planner sees events at cell centres, and the snapshot says so
    assert "Event locations are shown at the centre of 0.1° grid cells" in summary.replace(
        "\\", "")
    at.button(key=panel.BUILD).click().run()
    assert not at.exception
    [job] = list_jobs(store)  # made by the job, not in the page's script thread
    assert (job.kind, job.state, job.created_by) == ("export", "queued", "ana")
    assert runner.wakes == 1
    assert any(f"job {job.id} ·" in m.value and "Queued" in m.value for m in at.markdown)
    assert not list_snapshots(data)
    run_queued_jobs(data)
    at.run()
    assert not at.exception
    assert "Snapshot made: 5 files." in at.success[0].value  # a GeoPackage, a CSV per layer
    assert at.get("download_button")[0].label == "Download the snapshot (ZIP)"
    [made] = list_snapshots(data)
    assert made.title == "Briefing Petén"
    assert made.created_by == "ana"
    assert made.counts["events"] == 3  # seizures since 2023 inside the view: e1, e4 and e6
    assert made.spec["bbox"] == [-82.0, -35.0, -34.0, 13.0]
    assert made.snapshot_id == get_job(store, job.id).result["snapshot_id"]
    assert at.selectbox(key=panel.HISTORY).value == made.snapshot_id
    assert any("Every file matches" in c.value for c in at.caption)


def test_a_snapshot_needs_a_name(monkeypatch, data):
    at = _app(monkeypatch, data, user="")
    assert at.button(key=panel.BUILD).disabled
    assert at.toggle(key=panel.NO_VIEW).value is False  # no bounds reported
    assert at.toggle(key=panel.NO_VIEW).disabled
    at.text_input(key=panel.USER).set_value("Rosa").run()
    assert not at.button(key=panel.BUILD).disabled
    at.multiselect(key=panel.FORMATS_KEY).set_value(["csv"]).run()
    _make(at, data)
    assert [m.created_by for m in list_snapshots(data)] == ["Rosa"]


def test_the_map_reporting_its_extent_after_the_first_run_turns_the_extent_on(
        monkeypatch, data):
    """The map reports its extent after it is drawn: the panel's first run has none."""
    at = _app(monkeypatch, data)
    assert at.toggle(key=panel.NO_VIEW).value is False
    monkeypatch.setenv("EXPORT_TEST_BOUNDS", "-82,-35,-34,13")  # the map has reported
    at.run()
    assert at.toggle(key=panel.USE_VIEW).value is True
    assert "Map extent: 82.0000°W" in " ".join(m.value for m in at.markdown).replace("\\", "")
    at.toggle(key=panel.USE_VIEW).set_value(False).run()  # the planner's choice stays
    at.run()
    assert at.toggle(key=panel.USE_VIEW).value is False


def test_the_history_shows_the_snapshot_just_made(monkeypatch, data):
    at = _app(monkeypatch, data)
    at.multiselect(key=panel.FORMATS_KEY).set_value(["csv"]).run()
    _make(at, data)
    at.text_input(key=panel.TITLE).set_value("Second").run()
    _make(at, data)
    newest, older = list_snapshots(data)
    assert newest.title == "Second"
    assert at.selectbox(key=panel.HISTORY).value == newest.snapshot_id
    at.selectbox(key=panel.HISTORY).set_value(older.snapshot_id).run()  # a choice stays
    at.run()
    assert at.selectbox(key=panel.HISTORY).value == older.snapshot_id


def test_history_zip_holds_the_manifest_and_the_files(monkeypatch, data):
    at = _app(monkeypatch, data)
    at.multiselect(key=panel.FORMATS_KEY).set_value(["geojson"]).run()
    _make(at, data)
    [made] = list_snapshots(data)
    with zipfile.ZipFile(io.BytesIO(panel.zip_snapshot(made))) as zf:
        assert sorted(zf.namelist()) == sorted(["manifest.json", *(f.name for f in made.files)])
    assert made.folder is not None
    first = made.folder / made.files[0].name
    first.write_bytes(first.read_bytes() + b"x")
    at.run()
    assert any("changed since it was made" in e.value for e in at.error)


def test_panel_runs_in_spanish_with_translated_map_words(monkeypatch, data):
    at = _app(monkeypatch, data, lang="es")
    summary = " ".join(m.value for m in at.markdown)
    assert "Incautación" in summary  # the event type, from the map's Spanish labels
    # the marking offered is in the page's language too (still free to type)
    assert at.text_input(key=panel.MARKING).value == "NO CLASIFICADO // USO OFICIAL"


def test_two_sessions_asking_for_the_same_snapshot_get_one_job(monkeypatch, data, store):
    first, second = _app(monkeypatch, data), _app(monkeypatch, data)
    for at in (first, second):
        at.multiselect(key=panel.FORMATS_KEY).set_value(["csv"]).run()
        at.button(key=panel.BUILD).click().run()
        assert not at.exception
    [job] = list_jobs(store)
    assert any("already under way: job" in i.value for i in second.info)
    assert not any("already under way" in i.value for i in first.info)
    run_queued_jobs(data)
    for at in (first, second):
        at.run()
        assert "Snapshot made: 4 files." in at.success[0].value  # a CSV per layer
    assert [m.snapshot_id for m in list_snapshots(data)] == [
        get_job(store, job.id).result["snapshot_id"]]


def test_the_job_is_found_again_after_a_reload_and_its_creator_may_cancel_it(
        monkeypatch, data, store):
    ensure_accounts(dict(os.environ))
    at = _app(monkeypatch, data, user="planner")
    at.multiselect(key=panel.FORMATS_KEY).set_value(["csv"]).run()
    at.button(key=panel.BUILD).click().run()
    [job] = list_jobs(store)
    reloaded = _app(monkeypatch, data, user="planner")  # a new session: nothing in its state
    assert any(f"job {job.id} ·" in m.value for m in reloaded.markdown)
    reloaded.button(key=f"{state.JOBS_CANCEL}:{job.id}").click().run()
    assert not reloaded.exception
    assert get_job(store, job.id).state == "cancelled"
    assert run_queued_jobs(data) == []
    assert not list_snapshots(data)
    # someone else's session shows no job of theirs
    other = _app(monkeypatch, data, user="analyst", role="analyst")
    assert not any(f"job {job.id} ·" in m.value for m in other.markdown)


def test_a_role_that_may_not_export_queues_nothing(monkeypatch, data, store):
    at = _app(monkeypatch, data, user="field", role="field")
    at.button(key=panel.BUILD).click().run()
    assert not at.exception
    assert at.code[0].value == "Your role may not export a snapshot."
    assert list_jobs(store) == []
    monkeypatch.setenv("EXPORT_TEST_LANG", "es")  # the refusal follows a change of language
    at.run()
    assert not at.exception
    assert at.code[0].value == "Su rol no puede exportar una instantánea."


def test_a_planner_is_not_offered_a_snapshot_made_with_exact_locations(monkeypatch, data):
    """An administrator's snapshot holds exact event positions: a planner's history hides it."""
    admin = _app(monkeypatch, data, user="root", role="admin")
    admin.multiselect(key=panel.FORMATS_KEY).set_value(["csv"]).run()
    _make(admin, data)
    [exact] = list_snapshots(data)
    assert exact.spec["location_cell_deg"] is None
    planner = _app(monkeypatch, data, user="ana", role="planner")
    assert not [s for s in planner.selectbox if s.key == panel.HISTORY]
    assert any("1 snapshot holds events at finer locations than your role sees" in c.value
               for c in planner.caption)
    planner.multiselect(key=panel.FORMATS_KEY).set_value(["csv"]).run()
    _make(planner, data)
    coarse = next(m for m in list_snapshots(data) if m.snapshot_id != exact.snapshot_id)
    assert coarse.spec["location_cell_deg"] == 0.1
    [only] = planner.selectbox(key=panel.HISTORY).options  # when, title, who: read whole
    assert planner.selectbox(key=panel.HISTORY).value == coarse.snapshot_id
    assert only.endswith(" UTC · Atalaya snapshot · ana")
    assert any("Events: 3 · Trafficking routes: 2" in c.value for c in planner.caption), \
        [c.value for c in planner.caption]
    # an administrator sees both
    admin = _app(monkeypatch, data, user="root", role="admin")
    assert len(admin.selectbox(key=panel.HISTORY).options) == 2
    assert not any("finer locations" in c.value for c in admin.caption)


def test_an_earlier_snapshots_filters_are_read_in_the_readers_language(data):
    from geo.export import SnapshotSpec, save_snapshot
    from geo.filters import Filters
    from geo.i18n import translator

    spec = SnapshotSpec(formats=("csv",), filters=Filters(min_confidence=0.25),
                        bbox=(-80.5, -20.0, -60.0, 5.0), language="en")
    made = save_snapshot(data, spec)
    assert "Minimum confidence: 0.25" in made.filters_text  # as made, in English
    shown = panel._filters_text(made, translator("es"))
    assert "Confianza mínima: 0,25" in shown
    assert not any("Minimum" in line for line in shown)
    assert any("80,5" in line for line in shown), shown  # the extent, with a decimal comma
