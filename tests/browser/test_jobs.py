"""Background jobs in headless Chromium: started on the page, shared, cancelled, kept.

A detection started from the page runs in the app's job runner (on its local Dask cluster),
shows its progress, stores its alerts and survives a reload; a second user asking for the
same detection joins the same job; a job is cancelled from its card, queued or running; a
saved area chosen in the form's Area box limits a detection to its ground.

The app runs on its own copy of the sample world (its two 2,000 px scenes), so the alerts the
jobs store do not reach the other browser tests. Latencies are printed (``pytest -s``).
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from geo.jobs import Job, detect_params, get_job, list_jobs, submit_job
from geo.store import Store, list_alerts, open_store
from tests.browser.conftest import ARTIFACTS, App, start_app, stop_app, wait_idle
from tools.serve import open_signed_in

pytestmark = pytest.mark.browser

WAIT_MS = 60_000
SECOND = "2024-08-02 · ucayali_2024-08-02"


@pytest.fixture(scope="module")
def jobs_world(small_world: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    world = tmp_path_factory.mktemp("jobs") / "world"
    shutil.copytree(small_world, world, ignore=shutil.ignore_patterns("atalaya.sqlite3*",
                                                                      "logs"))
    return world


@pytest.fixture(scope="module")
def jobs_app(jobs_world: Path) -> Iterator[App]:
    running = start_app(jobs_world, jobs_world.parent / "streamlit.log",
                        {"ATALAYA_DATABASE_URL": ""})
    yield running
    stop_app(running)


@pytest.fixture(scope="module")
def store(jobs_world: Path, jobs_app: App) -> Iterator[Store]:
    with open_store(f"sqlite:///{jobs_world / 'atalaya.sqlite3'}") as s:
        yield s


def _open_jobs(pg, app: App, user: str) -> None:
    open_signed_in(pg, f"{app.url}/jobs", user)
    pg.get_by_role("button", name="Start detection").wait_for(timeout=WAIT_MS)


def _start(pg, *, drop: str | None, toggle_rules_only: bool) -> str:
    """Change the detection form (drop a scene, toggle "Rules only"), submit; return the answer.

    The form keeps its values from one start to the next.
    """
    if drop is not None:
        pg.get_by_role("button", name=f"Remove {drop}").click()
    if toggle_rules_only:
        pg.get_by_text("Rules only").click()
    answers = pg.locator("[data-testid=stAlertContainer]").filter(
        has_text=re.compile(r"Detection job \d+ queued|This detection is already"))
    before = set(answers.all_inner_texts())  # the last start's answer stays until replaced
    pg.get_by_role("button", name="Start detection").click()
    deadline = time.monotonic() + WAIT_MS / 1000
    while time.monotonic() < deadline:
        new = [a for a in answers.all_inner_texts() if a not in before]
        if new:
            return str(new[0])
        pg.wait_for_timeout(100)
    raise AssertionError(f"no answer to the detection form; still {before}")


def _job_id(text: str) -> int:
    found = re.search(r"job (\d+)", text)
    assert found, text
    return int(found.group(1))


def _wait_shown(pg, job_id: int, state: str, timeout_ms: int = WAIT_MS,
                store: Store | None = None) -> None:
    """Wait until the card of a job says it is in ``state`` (its heading line).

    On a timeout, the error says what the card showed and (given ``store``) what the store holds.
    """
    card = pg.locator(f".st-key-jobs_card-{job_id}")
    try:
        card.get_by_text(re.compile(rf"· job {job_id} · {state}$")).wait_for(timeout=timeout_ms)
    except Exception as err:
        shown = card.all_inner_texts()
        stored = get_job(store, job_id) if store is not None else "not read"
        raise AssertionError(f"job {job_id} not shown {state!r}: card {shown!r}; "
                             f"store {stored!r}") from err


def _wait_store(store: Store, job_id: int, states: set[str], timeout_s: float = 120) -> Job:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = get_job(store, job_id)
        if job.state in states:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} not {states}: {get_job(store, job_id)}")


def test_a_detection_started_on_the_page_runs_once_for_two_users(jobs_app, store, page,
                                                                 browser):
    pg, rec = page
    _open_jobs(pg, jobs_app, "analyst")
    asked = time.perf_counter()
    answer = _start(pg, drop=SECOND, toggle_rules_only=True)
    job_id = _job_id(answer)
    assert answer.strip() == f"Detection job {job_id} queued."

    # a second user (another browser session) asks for the same detection: the same job
    other = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        pg2 = other.new_page()
        _open_jobs(pg2, jobs_app, "admin")
        again = _start(pg2, drop=SECOND, toggle_rules_only=True)
        assert re.fullmatch(rf"This detection is already (queued|running): job {job_id}, "
                            r"started by analyst\.", again.strip()), again
    finally:
        other.close()
    assert [j.id for j in list_jobs(store)] == [job_id]

    card = pg.locator(f".st-key-jobs_card-{job_id}")
    card.get_by_text("scene 1 of 1: ucayali_2023-07-15.tif").wait_for(timeout=WAIT_MS)
    seen_running = time.perf_counter() - asked
    assert "Running" in card.inner_text()
    assert card.locator("[data-testid=stProgress]").count() == 1
    _wait_shown(pg, job_id, "Succeeded", 120_000)
    seen_done = time.perf_counter() - asked
    job = get_job(store, job_id)
    assert (job.state, job.created_by, job.progress) == ("succeeded", "analyst", 1.0)
    assert job.result is not None
    assert job.result["scenes"] == 1
    created = sorted(job.result["created"])
    assert created, job.result
    mine = [a.id for a in list_alerts(store) if a.created_by == f"detector (job {job_id} of "
                                                                 "analyst)"]
    assert sorted(mine) == created
    assert job.started_at is not None
    assert job.finished_at is not None
    wait_s = (job.started_at - job.created_at).total_seconds()
    run_s = (job.finished_at - job.started_at).total_seconds()
    print(f"\njob {job_id}: queued -> running {wait_s:.2f} s, ran {run_s:.1f} s (the first job "
          f"includes the local cluster's start); the page showed its progress after "
          f"{seen_running:.1f} s and 'Succeeded' after {seen_done:.1f} s; "
          f"{len(created)} alerts stored")

    # a reload is a new session: sign in again, the job is still listed
    _open_jobs(pg, jobs_app, "analyst")
    _wait_shown(pg, job_id, "Succeeded")
    made = f"{len(created)} alert{'' if len(created) == 1 else 's'} created"
    card = pg.locator(f".st-key-jobs_card-{job_id}")
    assert made in card.inner_text()
    # the card links to the alerts it made: one opens in this session, still signed in
    link = card.get_by_role("link", name=f"#{created[0]}", exact=True)
    link.wait_for(timeout=WAIT_MS)  # drawn after the summary, which may arrive first
    assert link.count() == 1
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    card.screenshot(path=str(ARTIFACTS / "jobs-card-links.png"))
    link.click()
    pg.get_by_role("button", name="Back to the queue").wait_for(timeout=WAIT_MS)
    assert f"alert={created[0]}" in pg.url
    # the button is drawn before the alert is read from the store: wait for its heading too
    pg.get_by_role("heading", name=re.compile(rf"#{created[0]}\b")).first.wait_for(
        timeout=WAIT_MS)
    assert rec.foreign() == []
    assert "Traceback" not in jobs_app.log.read_text(errors="replace")


def test_a_finished_job_reads_in_the_readers_language(jobs_app, jobs_world, store, page):
    """The runner writes its messages in English; the card shows them in Spanish."""
    from ui import state

    pg, rec = page
    _open_jobs(pg, jobs_app, "analyst")  # the app's job runner starts with its first page
    done = [j for j in list_jobs(store) if j.kind == "detect" and j.state == "succeeded"]
    if not done:  # run alone: detect one scene first
        scene = sorted((jobs_world / "scenes").glob("*.tif"))[0]
        job_id, _ = submit_job(store, "detect", detect_params([scene], rules_only=True),
                               "analyst")
        done = [_wait_store(store, job_id, {"succeeded"})]
        _open_jobs(pg, jobs_app, "analyst")
    job = done[0]
    found = re.fullmatch(r"(\d+) candidate\(s\) from (\d+) scene\(s\)(; .*)?", job.message)
    assert found, job.message  # stored in English
    wait_idle(pg)  # a click during a script run can be dropped (see the cancel test)
    pg.locator(f".st-key-{state.LANGUAGE}").get_by_role("combobox").click()
    pg.get_by_role("option", name="Español").click()
    card = pg.locator(f".st-key-jobs_card-{job.id}")
    card.get_by_text(re.compile(rf"· tarea {job.id} · Terminada$")).wait_for(timeout=WAIT_MS)
    # the heading may be redrawn before the rest of the card: wait for the run to end
    wait_idle(pg)
    # the summary, with the language's plurals, stands for the closing message
    n, m = int(found[1]), int(found[2])
    card.get_by_text(f"{n} candidato{'' if n == 1 else 's'} en {m} escena{'' if m == 1 else 's'}"
                     ).wait_for(timeout=WAIT_MS)
    text = card.inner_text()
    assert "candidate(s)" not in text
    assert "candidato(s)" not in text
    assert rec.foreign() == []


def _long_detection(world: Path, store: Store, copies: int) -> int:
    """Queue a detection over ``copies`` hard links of each scene; return its job id.

    Its length is set by the number of scenes, not by how fast the detector is (a 2,000 px
    scene takes about two seconds here), so the job is still running while the test clicks.
    """
    linked = world / "long_job"
    linked.mkdir(exist_ok=True)
    paths = []
    for k in range(copies):
        for scene in sorted((world / "scenes").glob("*.tif")):
            target = linked / f"copy{k:02d}_{scene.name}"
            if not target.exists():
                os.link(scene, target)
            paths.append(target)
    job_id, created = submit_job(store, "detect", detect_params(paths, rules_only=True),
                                 "analyst")
    assert created
    return job_id


def test_queued_and_running_jobs_are_cancelled_from_their_cards(jobs_app, jobs_world, store,
                                                                page):
    pg, rec = page
    running = _long_detection(jobs_world, store, copies=15)  # 30 scenes
    _wait_store(store, running, {"running"})  # the runner polls the queue
    _open_jobs(pg, jobs_app, "analyst")
    # both scenes, rules only (the first test ran one): another job, queued behind the
    # running one (one job at a time)
    queued = _job_id(_start(pg, drop=None, toggle_rules_only=True))
    assert queued != running

    card = pg.locator(f".st-key-jobs_card-{queued}")
    # Click once the form's full run is over, as a person would on a settled page: Streamlit
    # 1.67 sometimes drops a click on a button inside a fragment during a full-app run (3 of
    # 20 such clicks in a bare app; none between runs, even with the fragment's timer on).
    wait_idle(pg)
    assert get_job(store, queued).state == "queued"
    asked = time.perf_counter()
    card.get_by_role("button", name="Cancel").click()
    _wait_shown(pg, queued, "Cancelled", store=store)
    shown = time.perf_counter() - asked
    job = get_job(store, queued)
    assert (job.state, job.started_at) == ("cancelled", None)
    assert job.message == "cancelled by analyst before it ran"
    card.get_by_role("button", name="Cancel").wait_for(state="detached", timeout=WAIT_MS)
    print(f"\nqueued job {queued}: cancelled on the page after {shown:.2f} s")

    first = pg.locator(f".st-key-jobs_card-{running}")
    first.get_by_text(re.compile(r"scene \d+ of 30")).wait_for(timeout=WAIT_MS)
    wait_idle(pg)
    asked = time.perf_counter()
    first.get_by_role("button", name="Cancel").click()
    # the detector sees the request between its steps (here: before merging the alerts)
    _wait_shown(pg, running, "(Cancelling|Cancelled)", store=store)
    ended = _wait_store(store, running, {"cancelled", "succeeded", "failed"})
    _wait_shown(pg, running, "Cancelled", store=store)
    print(f"running job {running}: ended {ended.state} "
          f"{time.perf_counter() - asked:.1f} s after the click")
    assert ended.state == "cancelled", ended
    assert not [a for a in list_alerts(store)
                if a.created_by == f"detector (job {running} of analyst)"]
    assert rec.foreign() == []
    assert "Traceback" not in jobs_app.log.read_text(errors="replace")



def test_a_detection_in_a_saved_area_is_chosen_on_the_page_and_keeps_to_it(
        jobs_app, jobs_world, store, page):
    """The Area box of the form: a saved area chosen there limits the job to its ground."""
    from shapely.geometry import box

    from geo.areas import save_area
    from geo.detect.coverage import scene_footprint
    from geo.detect.run import detect_scenes
    from geo.imagery import read_scene_info
    from ui import state

    pg, rec = page
    scene = sorted((jobs_world / "scenes").glob("*.tif"))[0]
    west, south, east, north = scene_footprint(read_scene_info(scene, values=False)).bounds
    # the scene's western half: some of its strips, not all
    area = box(west, south, (west + east) / 2, north)
    save_area(jobs_world, "Mitad oeste", area, created_by="analyst")
    _open_jobs(pg, jobs_app, "analyst")
    wait_idle(pg)
    pg.locator(f".st-key-{state.JOBS_AREA}").get_by_role("combobox").click()
    pg.get_by_role("option", name="Mitad oeste").click()
    wait_idle(pg)
    job_id = _job_id(_start(pg, drop=SECOND, toggle_rules_only=True))
    job = _wait_store(store, job_id, {"succeeded", "failed"})
    assert job.state == "succeeded", job.error
    assert job.params["area_name"] == "Mitad oeste"
    assert job.params["scenes"] == [str(scene)]
    _wait_shown(pg, job_id, "Succeeded", store=store)
    card = pg.locator(f".st-key-jobs_card-{job_id}")
    card.get_by_text("Only in the area Mitad oeste.", exact=False).first.wait_for(
        timeout=WAIT_MS)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # the list's fragment redraws the cards on a timer: for a moment a card may be there
    # twice (the copy on its way out and the new one, alike)
    wait_idle(pg)
    card.first.screenshot(path=str(ARTIFACTS / "jobs-card-area.png"))
    # what it found is what a whole-scene run finds centred in the area, and fewer
    whole = detect_scenes([str(scene)]).candidates
    utm = whole.estimate_utm_crs()  # centres measured in metres, as the area test does
    inside = whole.to_crs(utm).geometry.centroid.to_crs(4326).within(area)
    assert 0 < inside.sum() < len(whole)
    assert job.result["candidates"] == inside.sum()
    assert rec.foreign() == []
    assert "Traceback" not in jobs_app.log.read_text(errors="replace")
