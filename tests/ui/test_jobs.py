"""The background jobs page under Streamlit's test harness: list, start, dedupe, cancel, roles.

No runner runs here: ``ensure_services`` is replaced by one that records the wake-ups (the
``runner`` fixture of ``tests/ui/conftest.py``), so the jobs stay as the page left them (the
runner itself is ``tests/store/test_jobs_runner.py``'s).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
import shapely
from streamlit.testing.v1 import AppTest

from geo.auth import Role, Session
from geo.jobs import claim_job, finish_job, list_jobs, submit_job
from geo.store import default_url, open_store, read_audit
from geo.store.users import set_role
from tools.serve import ensure_accounts
from ui import state


def _page() -> None:
    from ui.jobs import render_jobs

    render_jobs()


@pytest.fixture
def world(own_world: Path) -> Path:
    """Use a copy of the sample world's layer files (not its scenes) with its own store."""
    return own_world


@pytest.fixture
def store(world: Path):
    """Open the world's store, with the test accounts (``tools.serve.TEST_USERS``) in it."""
    ensure_accounts(dict(os.environ))
    with open_store(default_url()) as s:
        yield s


def _app(user: str) -> AppTest:
    at = AppTest.from_function(_page, default_timeout=60)
    at.session_state[state.LANGUAGE] = "en"
    at.session_state[state.SESSION] = Session.start(user, Role(user), datetime.now(UTC))
    at.session_state[state.REVIEWER] = user
    return at.run()


def _texts(at: AppTest) -> str:
    return "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption]
                     + [i.value for i in at.info] + [s.value for s in at.success]
                     + [e.value for e in at.error])


def _card(at: AppTest, job_id: int) -> str:
    found = [m.value for m in at.markdown if f"job {job_id} ·" in m.value]
    assert len(found) == 1, _texts(at)
    return found[0]


def test_lists_the_jobs_of_everyone_newest_first(store, runner):
    mine, _ = submit_job(store, "detect", {"scenes": ["/a.tif"]}, "analyst")
    theirs, _ = submit_job(store, "export", {"spec": "{}"}, "planner")
    done, _ = submit_job(store, "detect", {"scenes": ["/b.tif"]}, "admin")
    claimed = claim_job(store, "host:1:x", kinds=["detect"])
    assert claimed is not None
    assert claimed.id == mine
    claim_job(store, "host:1:x", kinds=["detect"])
    finish_job(store, done, "host:1:x", "failed", error="scene b.tif: unreadable")
    at = _app("analyst")
    assert not at.exception
    assert at.title[0].value == "Background jobs"
    assert "Running" in _card(at, mine)
    assert "Runway detection" in _card(at, mine)
    assert "Queued" in _card(at, theirs)
    assert "Export" in _card(at, theirs)
    assert "Failed" in _card(at, done)
    assert any("unreadable" in e.value for e in at.error)
    assert any("Started by planner" in c.value for c in at.caption)
    # the analyst may cancel their own unfinished job, not the planner's, and not a failed one
    keys = {b.key for b in at.button}
    assert f"{state.JOBS_CANCEL}:{mine}" in keys
    assert f"{state.JOBS_CANCEL}:{theirs}" not in keys
    assert f"{state.JOBS_CANCEL}:{done}" not in keys
    # the health report is there, read-only
    assert any(e.label.startswith("Health of the installation") for e in at.expander)


def test_an_administrator_may_cancel_anyones_job(store, runner):
    job_id, _ = submit_job(store, "detect", {"scenes": ["/a.tif"]}, "analyst")
    at = _app("admin")
    at.button(key=f"{state.JOBS_CANCEL}:{job_id}").click().run()
    assert not at.exception
    assert list_jobs(store)[0].state == "cancelled"
    assert "Cancelled" in _card(at, job_id)
    assert f"{state.JOBS_CANCEL}:{job_id}" not in {b.key for b in at.button}


def test_a_cancel_is_checked_again_when_clicked(store, runner):
    """The button was drawn for the creator; by the click their role no longer allows it.

    The click reruns only the job list (a fragment), not the sign-in check that renews the
    session's role: the callback reads the role from the store.
    """
    job_id, _ = submit_job(store, "detect", {"scenes": ["/a.tif"]}, "analyst")
    at = _app("analyst")
    set_role(store, "analyst", "field", actor="admin")
    at.button(key=f"{state.JOBS_CANCEL}:{job_id}").click().run()
    assert not at.exception
    assert list_jobs(store)[0].state == "queued"
    assert any(e.action == "access_refused" and "cancel job" in (e.field or "")
               for e in read_audit(store))


def test_analyst_starts_a_detection_and_a_second_user_gets_the_same_job(store, runner):
    at = _app("analyst")
    assert at.multiselect(key=state.JOBS_SCENES).value == ["ucayali_2023-07-15",
                                                            "ucayali_2024-08-02"]
    at.multiselect(key=state.JOBS_SCENES).set_value(["ucayali_2023-07-15"])
    at.checkbox(key=state.JOBS_RULES_ONLY).check()
    at.button(key=state.JOBS_SUBMIT).click().run()
    assert not at.exception
    jobs = list_jobs(store)
    assert len(jobs) == 1
    job = jobs[0]
    assert (job.kind, job.state, job.created_by) == ("detect", "queued", "analyst")
    assert [Path(p).name for p in job.params["scenes"]] == ["ucayali_2023-07-15.tif"]
    assert job.params["rules_only"] is True
    assert [s.value for s in at.success] == [f"Detection job {job.id} queued."]
    assert runner.wakes == 1
    assert "Queued" in _card(at, job.id)

    other = _app("admin")
    other.multiselect(key=state.JOBS_SCENES).set_value(["ucayali_2023-07-15"])
    other.checkbox(key=state.JOBS_RULES_ONLY).check()
    other.button(key=state.JOBS_SUBMIT).click().run()
    assert not other.exception
    assert [j.id for j in list_jobs(store)] == [job.id]
    assert [i.value for i in other.info] == [
        f"This detection is already queued: job {job.id}, started by analyst."]


def test_a_detection_in_a_saved_area_carries_the_area_and_says_so(store, runner, world):
    from shapely.geometry import box

    from geo.areas import save_area
    from geo.i18n import Translator
    from ui.jobs import _summary

    ground = box(-74.6, -9.6, -74.4, -9.4)
    save_area(world, "Río <Abajo>", ground)
    at = _app("analyst")
    area_box = at.selectbox(key=state.JOBS_AREA)
    assert area_box.value == ""  # the whole scenes unless chosen
    assert area_box.options == ["The whole scenes", "Río <Abajo>"]  # plain text, not Markdown
    area_box.select_index(1)
    at.checkbox(key=state.JOBS_RULES_ONLY).check()
    at.button(key=state.JOBS_SUBMIT).click().run()
    assert not at.exception
    (job,) = list_jobs(store)
    assert job.params["area_name"] == "Río <Abajo>"
    assert shapely.from_wkt(job.params["area"]).equals(ground)
    # another user asking for the same scenes without the area gets another job
    other = _app("admin")
    other.checkbox(key=state.JOBS_RULES_ONLY).check()
    other.button(key=state.JOBS_SUBMIT).click().run()
    assert len(list_jobs(store)) == 2
    done = SimpleNamespace(kind="detect", state="succeeded", params=job.params,
                           started_at=datetime(2026, 1, 1, tzinfo=UTC),
                           finished_at=datetime(2026, 1, 1, 0, 0, 4, tzinfo=UTC),
                           result={"candidates": 2, "scenes": 2, "created": [1, 2],
                                   "updated": [], "unchanged": [], "outside": ["x.tif"]})
    said = _summary(done, Translator("en")).replace("\\", "")
    assert said.startswith("2 candidates in 1 scene, 2 strips:")
    assert said.endswith("Only in the area Río <Abajo>. 1 scene does not reach it and was not "
                         "read.")
    assert "Solo en el área Río <Abajo>. 1 escena no la alcanza y no se leyó." in _summary(
        done, Translator("es")).replace("\\", "")


def test_planner_sees_the_jobs_but_may_not_start_detection(store, runner):
    submit_job(store, "detect", {"scenes": ["/a.tif"]}, "analyst")
    at = _app("planner")
    assert not at.exception
    assert len(at.multiselect) == 0  # no form
    assert not any(b.key == state.JOBS_SUBMIT for b in at.button)
    assert any("running detection needs an analyst" in c.value for c in at.caption)
    assert len([m for m in at.markdown if "job 1 ·" in m.value]) == 1


def _start_as_planner() -> None:
    from pathlib import Path

    from geo.imagechips import scene_refs
    from geo.settings import load_settings
    from ui.auth import current_session
    from ui.cache import load_world
    from ui.jobs import _start_detection, _store
    from ui.sidebar import current_translator

    settings = load_settings()
    refs = scene_refs(load_world(Path(settings.data_dir))["scenes"], settings.data_dir)
    session = current_session()
    assert session is not None
    _start_detection(_store(), refs, session, current_translator(), rules_only=True,
                     aerodromes=False)


def test_starting_is_checked_on_the_server_not_only_by_hiding_the_form(store, runner):
    at = AppTest.from_function(_start_as_planner, default_timeout=60)
    at.session_state[state.LANGUAGE] = "en"
    at.session_state[state.SESSION] = Session.start("planner", Role.PLANNER, datetime.now(UTC))
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] == ["Your role may not run runway detection."]
    assert list_jobs(store) == []
    assert runner.wakes == 0
    refused = [e for e in read_audit(store) if e.action == "access_refused"]
    assert [(e.actor, e.field) for e in refused] == [("planner", "jobs: start a detection job")]


@pytest.fixture
def services():
    """Forget the process's services after the test: stop its runner, detach the JSON log."""
    import logging

    from geo.logjson import JsonLinesFormatter, remove_json_logging
    from ui import jobs

    jobs._runner.clear()  # on_release stops the runners earlier tests started (app.py)
    yield jobs
    jobs._runner.clear()
    jobs._logging.clear()
    logger = logging.getLogger("atalaya")
    for handler in [h for h in logger.handlers if isinstance(h.formatter, JsonLinesFormatter)]:
        remove_json_logging(handler)
    logger.setLevel(logging.NOTSET)


def _job_threads() -> list[str]:
    import threading

    return sorted(t.name for t in threading.enumerate() if t.name.startswith("atalaya-jobs"))


def test_services_start_once_per_process_and_log_json_lines(world, services):
    import json

    from geo.settings import load_settings

    assert _job_threads() == []
    settings = load_settings()
    runner = services.ensure_services(settings)
    assert services.ensure_services(settings) is runner  # every session, every rerun
    assert _job_threads() == ["atalaya-jobs-0", "atalaya-jobs-heartbeat"]
    lines = [json.loads(x) for x in (world / "logs" / "atalaya.jsonl").read_text().splitlines()]
    assert [r["message"] for r in lines] == [f"job runner {runner.owner} started"]
    services._runner.clear()
    assert _job_threads() == []


def test_a_store_that_cannot_open_says_why_without_its_password(world, services, monkeypatch):
    from geo.errors import AtalayaError
    from geo.settings import load_settings

    monkeypatch.setenv("ATALAYA_DATABASE_URL", "postgresql+psycopg://app:s3cret@127.0.0.1:1/x")
    with pytest.raises(AtalayaError, match=r"app:\[redacted\]@127\.0\.0\.1") as caught:
        services.ensure_services(load_settings())
    assert "s3cret" not in str(caught.value)
    logged = (world / "logs" / "atalaya.jsonl").read_text()
    assert "background jobs cannot run" in logged
    assert "s3cret" not in logged


def test_a_runner_that_cannot_start_says_so_in_the_readers_language(world, services,
                                                                    monkeypatch):
    from geo.errors import JobError
    from geo.i18n import Translator, localize, message_of
    from geo.settings import load_settings

    def refuse(self):
        raise OSError("no thread left (password=hunter2)")

    monkeypatch.setattr(services.JobRunner, "start", refuse)
    with pytest.raises(JobError) as caught:
        services.ensure_services(load_settings())
    said = message_of(caught.value)
    assert "hunter2" not in said
    assert localize(said, Translator("es")).startswith(
        "el ejecutor de tareas no pudo arrancar: no thread left")


def test_a_detection_summary_adds_up():
    """Candidates are sightings; the alert figures count strips, and say how many."""
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from geo.i18n import Translator
    from ui.jobs import _summary

    job = SimpleNamespace(kind="detect", state="succeeded", params={},
                          started_at=datetime(2026, 1, 1, tzinfo=UTC),
                          finished_at=datetime(2026, 1, 1, 0, 0, 4, tzinfo=UTC),
                          result={"candidates": 7, "scenes": 2, "created": [1],
                                  "updated": [], "unchanged": [2, 3, 4, 5]})
    assert _summary(job, Translator("en")) == (
        "7 candidates in 2 scenes, 5 strips: 1 alert created, 0 updated, 4 unchanged; "
        "ran 4.0 s.")
    assert _summary(job, Translator("es")).startswith("7 candidatos en 2 escenas, 5 pistas:")
    # scenes that could not be read are not counted but named, with the detector's reason
    # (since 2026-12-07; before, they went unsaid); strips not seen again are said
    job.result.update(scenes=3, failures=[["bad_x.tif", "corrupt"]], absences=1)
    assert _summary(job, Translator("en")).startswith("7 candidates in 2 scenes, 5 strips:")
    shown = _summary(job, Translator("en"))  # Markdown: the file's name and reason escaped
    assert "(bad\\_x\\.tif\\: corrupt)" in shown
    assert shown.replace("\\", "").endswith(
        "ran 4.0 s. 1 scene could not be read and was skipped (bad_x.tif: corrupt). "
        "1 known strip was not found where a scene saw the ground clearly.")
    assert "1 escena no pudo leerse y se omitió (bad_x.tif: corrupt)." in _summary(
        job, Translator("es")).replace("\\", "")
    # the detector's reasons start with the file's name: said once; a long one is cut
    job.result.update(failures=[["a.tif", "a.tif: cannot tell " + "x" * 400]])
    said = _summary(job, Translator("en")).replace("\\", "")
    assert "skipped (a.tif: cannot tell xxx" in said
    assert "x…)." in said
    job.result.update(failures=[[f"s{i}.tif", "x"] for i in range(5)])
    assert "5 scenes could not be read and were skipped (s0.tif: x; s1.tif: x; s2.tif: x " \
        "…)." in _summary(job, Translator("en")).replace("\\", "")
    # since 2026-12-07 a reason's message is kept beside its English: said in Spanish
    from geo.message import Message, message_to_json

    why = Message("{path} does not exist or is not a file", path="/data/gone.tif")
    job.result.update(failures=[["gone.tif", str(why), message_to_json(why)]])
    assert "(gone.tif: /data/gone.tif no existe o no es un archivo)." in _summary(
        job, Translator("es")).replace("\\", "")
    assert "(gone.tif: /data/gone.tif does not exist or is not a file)." in _summary(
        job, Translator("en")).replace("\\", "")
    job.result.update(failures=[["gone.tif", str(why), {"template": 3}]])  # damaged: English
    assert "(gone.tif: /data/gone.tif does not exist or is not a file)." in _summary(
        job, Translator("es")).replace("\\", "")
    job.result.update(scenes=3, failures=[["bad_x.tif", "corrupt"]])
    # since 2026-12-05 the alerts given an absence are listed: they are counted, not the looks
    job.result.update(absent=[3, 4])
    assert _summary(job, Translator("en")).endswith(
        "2 known strips were not found where a scene saw the ground clearly.")
    # since 2026-12-07 those seen only on a scene older than their first sighting are apart
    job.result.update(absent=[3, 4, 5], not_yet=[4, 5])
    assert _summary(job, Translator("en")).endswith(
        "1 known strip was not found where a scene saw the ground clearly. 2 known strips "
        "were not there yet on an older scene that saw their ground clearly (cleared since).")
    assert "2 pistas conocidas aún no estaban" in _summary(job, Translator("es"))
    job.result.update(absent=[3, 4])
    job.result.pop("not_yet")
    # a scene all nodata or cloud is read (a date for tracking) but is said to have seen nothing
    job.result.update(blind=["cloudy.tif"])
    assert _summary(job, Translator("en")).endswith(
        "ground clearly. 1 scene held only nodata or cloud: nothing could be found in it.")
    assert _summary(job, Translator("pt")).endswith(
        "1 cena só tinha pixels sem dados ou nuvens: nada pôde ser encontrado nela.")
