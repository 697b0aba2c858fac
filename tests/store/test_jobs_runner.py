"""The job runner end to end: detection on a Dask LocalCluster, ingest, export, cancel, crash.

The cluster runs its two workers as threads (``processes=False``): what is tested here is the
runner's plumbing (background thread, progress, cancel, transactional results), and a thread
cluster starts in about a second instead of paying two worker processes' imports; that the
detector gives the same result on worker processes is ``tests/geo/test_detect_dask.py``'s job.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import pandas as pd
import pytest
import rasterio
from shapely.geometry import box
from sqlalchemy import select, update

from geo.errors import ExportError, JobCancelledError
from geo.jobs import (
    JobContext,
    JobOutcome,
    JobRunner,
    claim_job,
    detect_params,
    export_params,
    get_job,
    ingest_params,
    merge_into,
    recover_stale_jobs,
    submit_job,
)
from geo.jobs.handlers import run_detect, run_ingest
from geo.settings import Settings
from geo.store import (
    list_alerts,
    merge_candidates,
    open_store,
    read_audit,
    read_detections,
    subscribe,
)
from geo.store import tables as t
from geo.store.engine import in_transaction, read_tx
from tests.conftest import ROOT
from tests.geo.test_detect import write_scene
from tests.store.conftest import candidates, free_port, new_backend_url

STRIP_A = ((600.0, 600.0, 800.0, 20.0, 60.0),)
STRIP_B = ((1300.0, 1400.0, 700.0, 20.0, 140.0),)


@pytest.fixture(scope="module")
def client() -> Iterator[object]:
    """Two single-threaded workers in this process (see the module docstring)."""
    from distributed import Client, LocalCluster

    from geo.detect.run import LOCAL_DASHBOARD

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=LOCAL_DASHBOARD) as cluster, Client(cluster) as c:
        yield c


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    data = tmp_path / "data"
    data.mkdir()
    return Settings(data_dir=data, static_dir=ROOT / "static")


@pytest.fixture
def scenes(tmp_path: Path) -> list[str]:
    return [str(write_scene(tmp_path / "a_2024-08-01.tif", strips=STRIP_A, date="2024-08-01")),
            str(write_scene(tmp_path / "b_2024-08-02.tif", strips=STRIP_B, date="2024-08-02",
                            seed=1))]


def _runner(store, settings, **kw) -> JobRunner:
    kw = {"poll_s": 0.05, "heartbeat_s": 0.1, "stale_after_s": 30.0, **kw}
    return JobRunner(store, settings=settings, **kw)


def _wait(store, job_id: int, until: Callable[[object], bool], timeout_s: float = 120.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = get_job(store, job_id)
        if until(job):
            return job
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} stuck: {get_job(store, job_id)}")


def _recording(handler: Callable[[JobContext], JobOutcome], steps: list[tuple[float, str]],
               threads: list[str] | None = None,
               then: Callable[[float, str], None] | None = None,
               ) -> Callable[[JobContext], JobOutcome]:
    """Wrap a job handler so that each progress it reports (and its thread) is kept too.

    ``then`` is called with each report before the runner records it (a test's action).
    """

    def recording(ctx: JobContext) -> JobOutcome:
        if threads is not None:
            threads.append(threading.current_thread().name)
        report = ctx.progress

        def progress(fraction: float, message: str = "") -> None:
            steps.append((fraction, message))
            if then is not None:
                then(fraction, message)
            report(fraction, message)

        ctx.progress = progress  # type: ignore[method-assign]
        return handler(ctx)

    return recording


def test_detection_job_on_a_local_cluster_writes_its_alerts_once(store, settings, scenes,
                                                                  client):
    threads: list[str] = []
    steps: list[tuple[float, str]] = []
    recording = _recording(run_detect, steps, threads)
    params = detect_params(scenes, rules_only=True, aerodromes=False)
    runner = _runner(store, settings, client=client, handlers={"detect": recording})
    runner.start()
    try:
        started = time.perf_counter()
        job_id, created = submit_job(store, "detect", params, "ana")
        runner.wake()
        assert created
        job = _wait(store, job_id, lambda j: j.finished)
        print(f"detection job: {time.perf_counter() - started:.2f} s")
        assert job.state == "succeeded", job.error
        assert threads == ["atalaya-jobs-0"]  # not the caller's thread
        # progress within each scene, window task by window task (also where a cancel stops)
        within = [(f, m) for f, m in steps if " windows" in m]
        assert [m for _, m in within] == ["scene 1 of 2: a_2024-08-01.tif, 1 of 1 windows",
                                          "scene 2 of 2: b_2024-08-02.tif, 1 of 1 windows"]
        assert [f for f, _ in steps] == sorted(f for f, _ in steps)
        assert (job.progress, job.result["scenes"], job.result["candidates"]) == (1.0, 2, 2)
        assert len(job.result["created"]) == 2
        assert job.result["failures"] == []
        alerts = list_alerts(store)
        assert sorted(a.id for a in alerts) == sorted(job.result["created"])
        assert {a.scene_id for a in alerts} == {"a_2024-08-01", "b_2024-08-02"}
        assert all(a.created_by == f"detector (job {job_id} of ana)" for a in alerts)
        # each strip was looked for on the other date, clear: A is gone by 08-02, B is new
        assert job.result["absences"] == 2
        # the alert given an absence is named (B's look at 08-01 is before it was seen)
        (a_alert,) = [a.id for a in alerts if a.scene_id == "a_2024-08-01"]
        (b_alert,) = [a.id for a in alerts if a.scene_id == "b_2024-08-02"]
        assert sorted(job.result["absent"]) == sorted([a_alert, b_alert])
        assert job.result["not_yet"] == [b_alert]  # B was not there yet on 08-01
        # the closing line counts the strip gone, not the two looks
        assert job.message == ("2 candidate(s) from 2 scene(s); 1 known strip(s) not found "
                               "where a scene saw the ground clearly")
        assert {a.scene_id: a.detection_state for a in alerts} == {
            "a_2024-08-01": "destroyed", "b_2024-08-02": "new"}

        again_id, created = submit_job(store, "detect", params, "bo")  # the first finished
        runner.wake()
        assert created
        assert again_id != job_id
        again = _wait(store, again_id, lambda j: j.finished)
        assert again.state == "succeeded"
        assert (again.result["created"], again.result["updated"]) == ([], [])
        assert sorted(again.result["unchanged"]) == sorted(job.result["created"])
        assert len(list_alerts(store)) == 2
        assert all(len(read_detections(store, a.id)) == 1 for a in alerts)
    finally:
        runner.stop()


def test_a_detection_in_an_area_neither_finds_nor_loses_the_strips_outside_it(
        store, settings, tmp_path, client):
    """Strips outside the job's area are not alerts, and not absent when a date misses them."""
    import geopandas as gpd

    from tests.geo.test_detect import ORIGIN

    west, east = (2000.0, 2000.0, 800.0, 20.0, 60.0), (6000.0, 6000.0, 800.0, 20.0, 60.0)
    first = write_scene(tmp_path / "a_2024-08-01.tif", size=800, strips=(west, east),
                        date="2024-08-01")
    later = write_scene(tmp_path / "b_2024-08-02.tif", size=800, date="2024-08-02", seed=1)
    # 4.6 km inside the scene from its north-west corner, and 3 km beyond it
    square = box(ORIGIN.c - 3000, ORIGIN.f - 4600, ORIGIN.c + 4600, ORIGIN.f + 3000)
    area = gpd.GeoSeries([square], crs="EPSG:32718").to_crs(4326).iloc[0]
    runner = _runner(store, settings, client=client)
    runner.start()
    try:
        whole, _ = submit_job(store, "detect", detect_params([first], rules_only=True,
                                                               aerodromes=False), "ana")
        runner.wake()
        assert _wait(store, whole, lambda j: j.finished).state == "succeeded"
        assert len(list_alerts(store)) == 2
        params = detect_params([later], rules_only=True, aerodromes=False, area=area,
                               area_name="north-west")
        assert params["area_name"] == "north-west"
        job_id, _ = submit_job(store, "detect", params, "ana")
        runner.wake()
        job = _wait(store, job_id, lambda j: j.finished)
        assert job.state == "succeeded", job.error
        assert job.result["outside"] == []
        states = {round(a.geometry.centroid.x, 2): a.detection_state for a in list_alerts(store)}
        assert sorted(states.values()) == ["destroyed", "new"]  # the west one seen gone
        (gone,) = [a for a in list_alerts(store) if a.detection_state == "destroyed"]
        assert gone.geometry.centroid.within(area)
        far = box(-60.0, -20.0, -59.0, -19.0)
        nowhere, _ = submit_job(store, "detect", detect_params(
            [later], rules_only=True, aerodromes=False, area=far, area_name="Chaco"), "ana")
        runner.wake()
        failed = _wait(store, nowhere, lambda j: j.finished)
        assert failed.state == "failed"
        assert failed.error == "no readable scene reaches the area Chaco"
    finally:
        runner.stop()


def test_a_scene_a_detection_cannot_read_is_skipped_in_words_the_app_can_translate(
        store, settings, scenes, tmp_path):
    """The reason a scene was skipped is kept as its message: the app shows it in Spanish."""
    from geo.i18n import Translator
    from geo.jobs.messages import localize_error
    from geo.message import message_from_json
    from ui.jobs import _summary

    bad = tmp_path / "roto_2024-08-03.tif"
    bad.write_text("<VRTDataset>not a tiff</VRTDataset>")
    runner = _runner(store, settings, use_dask=False)
    params = detect_params([scenes[0], str(bad)], rules_only=True, aerodromes=False)
    job = runner.run_next() if submit_job(store, "detect", params, "ana")[1] else None
    assert job is not None
    assert job.state == "succeeded", job.error
    (name, english, stored), = job.result["failures"]
    assert name == "roto_2024-08-03.tif"
    assert english.startswith("roto_2024-08-03.tif is not a readable GeoTIFF (")
    assert str(tmp_path) not in english  # GDAL's words, without the server's folders
    assert "'roto_2024-08-03.tif' not recognized" in english
    es = Translator("es")
    assert message_from_json(stored).localized(es).startswith(
        "roto_2024-08-03.tif no es un GeoTIFF legible (")
    summary = _summary(get_job(store, job.id), es).replace("\\", "")
    assert "1 escena no pudo leerse y se omitió (roto_2024-08-03.tif no es un GeoTIFF " \
        "legible (" in summary
    # every scene unreadable: the job fails, and its error is said in Spanish too
    params = detect_params([str(bad)], rules_only=True, aerodromes=False)
    submit_job(store, "detect", params, "ana")
    failed = runner.run_next()
    assert failed is not None
    assert failed.state == "failed"
    assert failed.error.startswith("no scene could be read: roto_2024-08-03.tif: "
                                   "roto_2024-08-03.tif is not a readable GeoTIFF (")
    assert localize_error(failed.error, failed.result, es).startswith(
        "no se pudo leer ninguna escena: roto_2024-08-03.tif: roto_2024-08-03.tif no es un "
        "GeoTIFF legible (")


def test_merge_into_agrees_with_merge_candidates(tmp_path_factory):
    frame = candidates([{"lon": -74.0, "lat": -9.0, "scene_id": "s1", "date": "2024-01-01"},
                        {"lon": -74.0, "lat": -9.0, "scene_id": "s2", "date": "2024-02-01"},
                        {"lon": -73.0, "lat": -9.5, "scene_id": "s2", "date": "2024-02-01"}])
    urls = [new_backend_url("sqlite", tmp_path_factory.mktemp(n))[0] for n in ("a", "b")]
    with open_store(urls[0]) as one, open_store(urls[1]) as two:
        report = merge_candidates(one, frame)
        mine = in_transaction(two, lambda conn: merge_into(conn, frame, actor="detector"))
        assert mine == {"created": report.created, "updated": report.updated,
                        "unchanged": report.unchanged, "absent": report.absent,
                        "not_yet": report.not_yet}
        drop = ["created_at", "updated_at", "state_changed_at"]
        pd.testing.assert_frame_equal(
            pd.DataFrame([vars(a) for a in list_alerts(one)]).drop(columns=drop),
            pd.DataFrame([vars(a) for a in list_alerts(two)]).drop(columns=drop))
        assert ([(e.action, e.field) for e in read_audit(one)]
                == [(e.action, e.field) for e in read_audit(two)])


def _slow_steps(steps: int = 10_000, pause_s: float = 0.01):
    def handler(ctx: JobContext) -> JobOutcome:
        for k in range(steps):
            ctx.progress(k / steps, f"step {k}")
            time.sleep(pause_s)
        return JobOutcome(write=lambda conn: pytest.fail("a cancelled job stored results"))
    return handler


@pytest.mark.parametrize("where", ["between-steps", "on-the-cluster"])
def test_cancel_stops_a_running_job(store, settings, client, where):
    def on_cluster(ctx: JobContext) -> JobOutcome:
        ctx.progress(0.1, "sleeping on a worker")
        # a running task cannot be stopped on the cluster: it keeps its worker for 4 s
        # (kept short so the next tests find the workers free), the job ends at once
        ctx.offload(time.sleep, 4)
        return JobOutcome(write=lambda conn: pytest.fail("a cancelled job stored results"))

    handler = _slow_steps() if where == "between-steps" else on_cluster
    # the production heartbeat: the cancel must not wait for the next beat
    runner = _runner(store, settings, client=client, handlers={"detect": handler},
                     heartbeat_s=5.0)
    runner.start()
    try:
        job_id, _ = submit_job(store, "detect", {"where": where}, "ana")
        runner.wake()
        _wait(store, job_id, lambda j: j.state == "running" and j.progress > 0, 30)
        from geo.jobs import request_cancel

        asked = time.perf_counter()
        assert request_cancel(store, job_id, "bo") == "cancelling"
        job = _wait(store, job_id, lambda j: j.finished, 30)
        latency = time.perf_counter() - asked
        print(f"cancel ({where}) took {latency * 1000:.0f} ms")
        assert job.state == "cancelled"
        assert latency < 2.0
        assert runner.running == []
    finally:
        runner.stop()


def test_a_failing_handler_fails_its_job_not_the_runner(store, settings):
    def broken(ctx: JobContext) -> JobOutcome:
        if ctx.params.get("bug"):
            raise KeyError("scenes")
        raise ExportError("the export folder is full")

    runner = _runner(store, settings, use_dask=False, handlers={"detect": broken})
    ids = [submit_job(store, "detect", {"bug": b}, "ana")[0] for b in (True, False)]
    first, second = runner.run_next(), runner.run_next()
    assert (first.id, first.state) == (ids[0], "failed")
    assert "KeyError: 'scenes' (an error in Atalaya; the log has the details)" in first.error
    assert (second.state, second.error) == ("failed", "the export folder is full")
    assert runner.run_next() is None


def test_followers_are_told_when_a_job_stores_its_alerts(store, settings, smtp_server,
                                                        monkeypatch):
    """Not when someone next opens the alerts page: right after the job's transaction.

    In the deployment's language (``settings.language``, Spanish here) when the area was
    followed before languages were stored and its follower has chosen none.
    """
    smtp, sink = smtp_server
    monkeypatch.setenv("ATALAYA_SMTP_HOST", smtp.host)
    monkeypatch.setenv("ATALAYA_SMTP_PORT", str(smtp.port))
    monkeypatch.setenv("ATALAYA_SMTP_FROM", smtp.sender)
    subscribe(store, user="Ana", area_name="VRAEM", geometry=box(-75, -13, -74, -12),
              email="ana@example.org")
    with store.engine.begin() as conn:  # as migration 10 left the rows made before it
        conn.execute(update(t.subscriptions).values(language=None))
    rows = [{"lon": -74.8 + 0.2 * k, "lat": -12.5, "scene_id": "s1", "date": "2024-05-01"}
            for k in range(3)]

    def detected(ctx: JobContext) -> JobOutcome:
        return JobOutcome(write=lambda conn: merge_into(conn, candidates(rows),
                                                        actor=f"detector (job {ctx.job.id})"))

    quiet = _runner(store, settings, use_dask=False, handlers={"detect": detected},
                    deliver=False)
    submit_job(store, "detect", {"n": 1}, "planner")
    assert quiet.run_next().state == "succeeded"
    assert sink.envelopes == []  # written, waiting for someone to send it
    runner = _runner(store, settings, use_dask=False, handlers={"detect": detected})
    submit_job(store, "detect", {"n": 2}, "planner")
    assert runner.run_next().state == "succeeded"
    (envelope,) = sink.envelopes  # the first job's three new alerts, as one digest
    assert envelope.rcpt_tos == ["ana@example.org"]
    mail = message_from_bytes(envelope.content, policy=default_policy)
    assert settings.language == "es"
    assert "3 alertas nuevas" in mail["Subject"], mail["Subject"]
    with read_tx(store) as conn:
        states = conn.execute(select(t.deliveries.c.status)).scalars().all()
    assert states == ["sent"] * 3


def test_a_mail_server_away_after_a_job_fails_nothing(store, settings, monkeypatch):
    monkeypatch.setenv("ATALAYA_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("ATALAYA_SMTP_PORT", str(free_port()))  # nothing listens
    subscribe(store, user="Ana", area_name="VRAEM", geometry=box(-75, -13, -74, -12),
              email="ana@example.org")
    rows = [{"lon": -74.5, "lat": -12.5, "scene_id": "s1", "date": "2024-05-01"}]

    def detected(ctx: JobContext) -> JobOutcome:
        return JobOutcome(write=lambda conn: merge_into(conn, candidates(rows), actor="d"))

    runner = _runner(store, settings, use_dask=False, handlers={"detect": detected})
    submit_job(store, "detect", {}, "planner")
    assert runner.run_next().state == "succeeded"
    with read_tx(store) as conn:
        (row,) = conn.execute(select(t.deliveries)).mappings().all()
    assert (row["status"], row["attempts"]) == ("failed", 1)  # retried later
    monkeypatch.setenv("ATALAYA_SMTP_PORT", "not-a-port")  # a bad setting: logged, not raised
    submit_job(store, "detect", {"again": True}, "planner")
    assert runner.run_next().state == "succeeded"


def test_a_runner_taken_for_dead_stores_nothing(store, settings):
    """Its job was handed to another runner: the first one stops and its results are refused."""
    step = threading.Event()
    release = threading.Event()

    def handler(ctx: JobContext) -> JobOutcome:
        step.set()
        release.wait(30)
        ctx.progress(0.9, "one more step")  # the heartbeat fails here: not ours any more
        return JobOutcome(write=lambda conn: pytest.fail("a lost job stored results"))

    runner = _runner(store, settings, use_dask=False, handlers={"detect": handler})
    job_id, _ = submit_job(store, "detect", {}, "ana")
    worker = threading.Thread(target=runner.run_next)
    worker.start()
    assert step.wait(30)
    later = datetime.now(UTC) + timedelta(minutes=5)
    assert recover_stale_jobs(store, now=later, stale_after_s=60) == {job_id: "queued"}
    assert claim_job(store, "host:9:other").id == job_id
    release.set()
    worker.join(30)
    job = get_job(store, job_id)
    assert (job.state, job.owner) == ("running", "host:9:other")


def test_ingest_job_stores_the_scene_once(store, settings, tmp_path):
    from tests.ingest.hostile import good_tiff

    upload = good_tiff(tmp_path)
    runner = _runner(store, settings, use_dask=False)
    params = ingest_params(upload)
    job_id, _ = submit_job(store, "ingest", params, "ana")
    job = runner.run_next()
    assert (job.id, job.state) == (job_id, "succeeded"), job.error
    assert (job.result["added"], job.result["total"]) == (1, 1)
    assert (settings.data_dir / "scenes" / "scene_2024-08-02.tif").is_file()
    # run again (as after a restart past the commit): the scene is found, nothing is added
    submit_job(store, "ingest", params, "ana")
    again = runner.run_next()
    assert (again.state, again.result["added"], again.result["skipped"]) == ("succeeded", 0, 1)


def test_an_ingest_job_says_how_far_it_resampled_a_scene_in_degrees(store, settings,
                                                                    tmp_path):
    """A scene in degrees is resampled onto UTM as it is stored: the card follows its rows."""
    from geo.i18n import Translator
    from geo.jobs.messages import localize
    from tests.geo.test_reproject import to_degrees

    (tmp_path / "utm").mkdir()
    utm = write_scene(tmp_path / "utm" / "gee_2024-08-02.tif", strips=STRIP_A, size=1200)
    upload = to_degrees(utm, tmp_path / "gee_2024-08-02.tif")
    said: list[tuple[float, str]] = []
    runner = _runner(store, settings, use_dask=False,
                     handlers={"ingest": _recording(run_ingest, said)})
    submit_job(store, "ingest", ingest_params(upload), "ana")
    job = runner.run_next()
    assert job is not None
    assert job.state == "succeeded", job.error
    rows = [(f, m) for f, m in said if "UTM grid" in m]
    assert len(rows) >= 2  # 512 rows at a time
    total = int(rows[-1][1].rsplit(" of ", 1)[1].split()[0])
    assert rows[-1] == (0.95, f"storing the scene: resampling it onto its UTM grid, "
                              f"{total} of {total} rows")
    assert [f for f, _ in said] == sorted(f for f, _ in said)
    assert localize(rows[-1][1], Translator("es")).startswith(
        "guardando la escena: remuestreándola en su cuadrícula UTM, ")
    with rasterio.open(settings.data_dir / "scenes" / "gee_2024-08-02.tif") as src:
        assert (src.crs.to_epsg(), src.height) == (32718, total)

    # another import, cancelled while its scene is resampled: it stops there, storing nothing
    from geo.ingest import read_existing
    from geo.jobs import request_cancel

    utm2 = write_scene(tmp_path / "utm" / "gee_2024-09-02.tif", strips=STRIP_B, size=1200,
                       seed=1, date="2024-09-02")  # another date: not the scene stored
    other = to_degrees(utm2, tmp_path / "gee_2024-09-02.tif")
    job_id, _ = submit_job(store, "ingest", ingest_params(other), "ana")

    def cancelling(fraction: float, message: str) -> None:
        if "UTM grid" in message and get_job(store, job_id).state == "running":
            request_cancel(store, job_id, "bo")  # this report sees it and stops the copy

    runner = _runner(store, settings, use_dask=False,
                     handlers={"ingest": _recording(run_ingest, [], then=cancelling)})
    stopped = runner.run_next()
    assert stopped is not None
    assert stopped.state == "cancelled", stopped.error
    assert not (settings.data_dir / "scenes" / "gee_2024-09-02.tif").exists()
    assert list(read_existing(settings.data_dir, "scenes")["scene_id"]) == ["gee_2024-08-02"]
    assert sorted(p.name for p in (settings.data_dir / "scenes").iterdir()) == [
        "gee_2024-08-02.tif"]  # no part of the copy left behind


def test_export_job_writes_and_records_one_snapshot(store, settings, client):
    from geo.export import SnapshotSpec
    from tests.export.world import write_tiny_world

    write_tiny_world(settings.data_dir)
    spec = SnapshotSpec(formats=("gpkg", "csv"), title="Jobs test", user="ana")
    runner = _runner(store, settings, client=client)
    job_id, _ = submit_job(store, "export", export_params(spec), "ana")
    job = runner.run_next()
    assert (job.id, job.state) == (job_id, "succeeded"), job.error
    folder = settings.data_dir / job.result["folder"]
    assert (folder / "manifest.json").is_file()
    assert any(name.endswith(".gpkg") for name in job.result["files"])
    with read_tx(store) as conn:
        rows = conn.execute(select(t.snapshots.c.snapshot_id)).scalars().all()
    assert rows == [job.result["snapshot_id"]]


def test_cancel_check_raises_between_steps(store, settings):
    job_id, _ = submit_job(store, "detect", {}, "ana")
    job = claim_job(store, "me:1:x")
    ctx = JobContext(job=job, store=store, settings=settings, owner="me:1:x")
    ctx.progress(0.5, "half")
    from geo.jobs import request_cancel

    request_cancel(store, job_id, "bo")
    with pytest.raises(JobCancelledError, match="cancel asked"):
        ctx.progress(0.6, "more")


def test_runner_refuses_odd_timings(store, settings):
    with pytest.raises(ValueError, match="heartbeat_s"):
        JobRunner(store, settings=settings, heartbeat_s=60, stale_after_s=30)
    with pytest.raises(ValueError, match="concurrency"):
        JobRunner(store, settings=settings, concurrency=0)



@pytest.mark.slow
def test_runner_starts_and_closes_its_own_cluster(store, settings, scenes):
    """Without a client the runner starts a local cluster of worker processes from settings."""
    import os

    saved = dict(os.environ)  # Dask's nannies put the workers' variables in ours too
    local = Settings(data_dir=settings.data_dir, static_dir=settings.static_dir, job_workers=1)
    runner = _runner(store, local)
    try:
        submit_job(store, "detect", detect_params(scenes[:1], rules_only=True,
                                                  aerodromes=False), "ana")
        started = time.perf_counter()
        job = runner.run_next()
        print(f"first job with a new 1-worker process cluster: "
              f"{time.perf_counter() - started:.1f} s")
        assert job.state == "succeeded", job.error
        assert len(job.result["created"]) == 1
        client = runner.client()
        assert client.status == "running"
        assert len(client.scheduler_info()["workers"]) == 1
    finally:
        runner.stop()
        os.environ.clear()
        os.environ.update(saved)
    assert client.status == "closed"


def test_job_logs_carry_the_job_and_no_secret(store, settings):
    import io
    import json
    import logging

    from geo.logjson import remove_json_logging, setup_json_logging

    def chatty(ctx: JobContext) -> JobOutcome:
        logging.getLogger("atalaya.jobs.detect").info(
            "opening postgresql+psycopg://app:pg-secret-1@db/x", extra={"token": "tok-2"})
        raise JobCancelledError("stop")  # nobody asked to cancel: the job fails

    buf = io.StringIO()
    handler = setup_json_logging(buf)
    try:
        submit_job(store, "detect", {}, "ana")
        job = _runner(store, settings, use_dask=False, handlers={"detect": chatty}).run_next()
    finally:
        remove_json_logging(handler)
    lines = [json.loads(line) for line in buf.getvalue().splitlines()]
    assert (job.state, job.error) == ("failed", "stopped without a cancel request: stop")
    opened = next(r for r in lines if r["message"].startswith("opening"))
    assert (opened["job_id"], opened["job_kind"], opened["user"]) == (job.id, "detect", "ana")
    assert "pg-secret-1" not in buf.getvalue()
    assert "tok-2" not in buf.getvalue()


def test_an_export_that_writes_no_file_fails_and_one_that_misses_a_format_says_so(
        store, settings, monkeypatch):
    import geo.export.render as render
    from geo.export import SnapshotSpec
    from geo.i18n import translator
    from geo.jobs.messages import localize
    from tests.export.world import write_tiny_world

    monkeypatch.setattr(render, "browser_available", lambda: None)  # no Chromium: no PNG/PDF
    write_tiny_world(settings.data_dir)
    runner = _runner(store, settings, use_dask=False)
    submit_job(store, "export", export_params(SnapshotSpec(formats=("png", "pdf"))), "ana")
    job = runner.run_next()
    assert job.state == "failed"
    assert job.error.startswith("no file of the snapshot could be written: png: ")
    assert not list((settings.data_dir / "snapshots").glob("*/manifest.json"))
    with read_tx(store) as conn:
        assert conn.execute(select(t.snapshots.c.snapshot_id)).first() is None

    submit_job(store, "export", export_params(SnapshotSpec(formats=("csv", "pdf"))), "ana")
    job = runner.run_next()
    assert job.state == "succeeded", job.error
    assert job.message.endswith("files; not written: pdf")
    assert set(job.result["failed"]) == {"pdf"}
    assert localize(job.message, translator("es")).endswith("archivos; no generados: pdf")


def test_a_starting_runner_deletes_what_killed_writers_left(store, settings, tmp_path,
                                                            monkeypatch):
    """Half-written copies and day-old upload folders go; the rest stays.

    A killed import left a 37 MB copy; a file being written right now is spared.
    """
    import os
    import tempfile

    scenes = settings.data_dir / "scenes"
    scenes.mkdir()
    uploads = tmp_path / "tmp"
    uploads.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(uploads))
    old = time.time() - 2 * 86_400
    left = [scenes / ".a.tif-x1.part", settings.data_dir / ".events.parquet-x2.part",
            uploads / "atalaya-ingest-old"]
    left[0].write_bytes(b"half a scene")
    left[1].write_bytes(b"half a layer")
    left[2].mkdir()
    (left[2] / "upload.tif").write_bytes(b"an upload")
    for path in left:
        os.utime(path, (old, old))
    kept = [scenes / ".b.tif-x3.part", scenes / "a.tif", uploads / "atalaya-ingest-new",
            settings.data_dir / "events.parquet"]
    for path in kept:
        if path.suffix:
            path.write_bytes(b"x")
        else:
            path.mkdir()
    os.utime(kept[1], (old, old))  # old, but no leftover
    _runner(store, settings).recover()
    assert [p.exists() for p in left] == [False] * 3
    assert [p.exists() for p in kept] == [True] * 4
