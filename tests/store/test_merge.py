"""Merging detection results into alerts: one alert per strip, history, verdicts kept."""

from __future__ import annotations

import random

import geopandas as gpd
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import Point

from geo.errors import CRSError, SchemaError
from geo.store import (
    AlertChange,
    Look,
    get_alert,
    list_alerts,
    merge_candidates,
    open_store,
    read_absences,
    read_audit,
    read_detections,
    update_alert,
)
from tests.store.conftest import (
    BACKENDS,
    applied_versions,
    candidates,
    drop_schema,
    new_backend_url,
    undo_migration,
)

A = {"lon": -65.0, "lat": -14.0}
B = {"lon": -64.0, "lat": -13.0}


def seen(site: dict[str, float], scene: str, date: str, **kw: object) -> dict[str, object]:
    return {**site, "scene_id": scene, "date": date, **kw}


def test_same_strip_in_one_frame_is_one_alert(store):
    frame = candidates([seen(A, "s2", "2024-06-01", score=0.7),
                        seen({"lon": -65.00001, "lat": -14.00001}, "s1", "2024-05-01"),
                        seen(B, "s1", "2024-05-01")])
    report = merge_candidates(store, frame)
    assert len(report.created) == 2
    alert = next(a for a in list_alerts(store) if a.centroid_lon < -64.5)
    assert alert.detections == 2
    assert (alert.first_seen.date().isoformat(), alert.last_seen.date().isoformat()) == \
        ("2024-05-01", "2024-06-01")
    assert alert.scene_id == "s2"
    assert alert.score == 0.7


def test_strip_seen_again_updates_history(store):
    merge_candidates(store, candidates([seen(A, "s1", "2024-05-01", score=0.9)]))
    alert = list_alerts(store)[0]
    report = merge_candidates(store, candidates([seen(A, "s2", "2024-07-01", score=0.6,
                                                      state="overgrown", bearing_deg=46.0)]))
    assert report.updated == [alert.id]
    assert not report.created
    after = get_alert(store, alert.id)
    assert after.version == 2
    assert after.updated_by == "detector"
    assert after.last_seen.month == 7
    assert after.first_seen.month == 5
    assert after.detection_state == "overgrown"
    assert after.bearing_deg == 46.0
    history = read_detections(store, alert.id)
    assert [(h["scene_id"], h["score"]) for h in history] == [("s1", 0.9), ("s2", 0.6)]
    merged = {e.field for e in read_audit(store, alert_id=alert.id) if e.action == "merge"}
    assert {"last_seen", "score", "detections", "geometry"} <= merged


@pytest.mark.parametrize(("later", "state"), [(0.12, "overgrown"), (0.2, "active")])
def test_runs_of_one_date_each_give_the_lifecycle_on_bare_contrast(store, later, state):
    """Two detection jobs, one scene each: each run calls its strip "new"; the alert does not.

    The strip's second sighting kept 0.12 / 0.25 = 48 % of its contrast with the flanks (more
    than 40 % of its bare ground green again, the tracker's rule) or 80 %; its score barely
    moved, as a regrowing strip's does.
    """
    merge_candidates(store, candidates([seen(A, "s1", "2024-05-01", score=0.99,
                                             bare_contrast=0.25)]))
    (alert,) = list_alerts(store)
    assert alert.detection_state == "new"  # one sighting: the run's own state stands
    merge_candidates(store, candidates([seen(A, "s2", "2024-09-01", score=0.98,
                                             bare_contrast=later)]))
    after = get_alert(store, alert.id)
    assert after.detection_state == state
    assert [h["bare_contrast"] for h in read_detections(store, alert.id)] == [0.25, later]
    changes = [(e.field, e.new_value) for e in read_audit(store, alert_id=alert.id)
               if e.action == "merge"]
    assert ("detection_state", state) in changes


def test_without_bare_contrast_the_alert_lifecycle_falls_back_on_the_score(store):
    merge_candidates(store, candidates([seen(A, "s1", "2024-05-01", score=0.9,
                                             bare_contrast=0.25)]))
    merge_candidates(store, candidates([seen(A, "s2", "2024-09-01", score=0.5)]))  # none
    (alert,) = list_alerts(store)
    assert alert.detection_state == "overgrown"  # 0.5 < 0.6 x 0.9, on the scores
    merge_candidates(store, candidates([seen(A, "s3", "2024-10-01", score=0.8)]))
    assert get_alert(store, alert.id).detection_state == "active"


def test_a_tracked_runs_own_state_is_not_overruled_by_the_alert_history(store):
    """``--track`` saw dates the store has no record of: its reopened strip stays reopened."""
    merge_candidates(store, candidates([seen(A, "s1", "2024-05-01", bare_contrast=0.25)]))
    merge_candidates(store, candidates([seen(A, "s3", "2024-09-01", bare_contrast=0.25,
                                             state="reopened")]))
    (alert,) = list_alerts(store)
    assert alert.detection_state == "reopened"


@pytest.mark.parametrize("bad", ["abc", -0.1, float("inf")])
def test_a_bad_bare_contrast_is_refused_and_nothing_is_stored(store, bad):
    frame = candidates([seen(B, "s1", "2024-05-01"), seen(A, "s1", "2024-05-01",
                                                          bare_contrast=bad)])
    frame.loc[1, "bare_contrast"] = bad  # object column: the string stays a string
    with pytest.raises(SchemaError, match="bare_contrast"):
        merge_candidates(store, frame)
    assert list_alerts(store) == []


def test_an_older_scene_adds_history_but_does_not_lead(store):
    merge_candidates(store, candidates([seen(A, "s2", "2024-07-01", score=0.6)]))
    merge_candidates(store, candidates([seen(A, "s1", "2024-05-01", score=0.9)]))
    alert = list_alerts(store)[0]
    assert (alert.scene_id, alert.score, alert.detections) == ("s2", 0.6, 2)
    assert alert.first_seen.month == 5


def test_human_verdict_is_never_overwritten(store):
    merge_candidates(store, candidates([seen(A, "s1", "2024-05-01", priority="medium")]))
    alert = list_alerts(store)[0]
    alert = update_alert(store, AlertChange(alert.id, 1, state="under_review"), actor="ana")
    alert = update_alert(store, AlertChange(alert.id, alert.version, state="dismissed",
                                            assignee="ana"), actor="ana")
    merge_candidates(store, candidates([seen(A, "s2", "2024-08-01", priority="high",
                                             state="reopened", score=0.99)]))
    after = get_alert(store, alert.id)
    assert (after.state, after.assignee, after.priority) == ("dismissed", "ana", "medium")
    assert after.last_seen.month == 8
    assert after.score == 0.99
    latest = read_detections(store, alert.id)[-1]
    assert latest["recorded_at"] > after.state_changed_at  # "seen again since the verdict"


def test_priority_follows_the_detector_only_while_new(store):
    merge_candidates(store, candidates([seen(A, "s1", "2024-05-01", priority="medium")]))
    merge_candidates(store, candidates([seen(A, "s2", "2024-06-01", priority="high")]))
    alert = list_alerts(store)[0]
    assert alert.priority == "high"
    alert = update_alert(store, AlertChange(alert.id, alert.version, priority="low"),
                         actor="ana")
    merge_candidates(store, candidates([seen(A, "s3", "2024-07-01", priority="high")]))
    assert get_alert(store, alert.id).priority == "low"


def test_a_strip_grown_over_is_one_priority_step_lower_and_says_why(store):
    """The queue puts a strip that cannot take a plane as it is below one that can."""
    merge_candidates(store, candidates([seen(A, "s1", "2024-05-01", bare_contrast=0.25)]))
    (alert,) = list_alerts(store)
    assert (alert.priority, alert.reason) == ("high", "1.0 km long, 25 m wide")
    merge_candidates(store, candidates([seen(A, "s2", "2024-09-01", bare_contrast=0.1)]))
    after = get_alert(store, alert.id)
    assert (after.detection_state, after.priority) == ("overgrown", "medium")
    assert after.reason == ("1.0 km long, 25 m wide; grown over since an earlier sighting: "
                            "priority lowered")
    assert [(e.field, e.old_value, e.new_value) for e in read_audit(store, alert_id=alert.id)
            if e.action == "merge" and e.field == "priority"] == [("priority", "high", "medium")]
    # bare again on a later date: back to the priority it was scored with, without the note
    merge_candidates(store, candidates([seen(A, "s3", "2024-11-01", bare_contrast=0.24)]))
    again = get_alert(store, alert.id)
    assert (again.detection_state, again.priority, again.reason) == \
        ("active", "high", "1.0 km long, 25 m wide")


def test_a_tracked_runs_lowered_priority_is_not_lowered_twice(store):
    """``geo.detect --track`` lowered it already, and its reason says so: the store agrees."""
    note = "grown over since an earlier sighting: priority lowered"
    merge_candidates(store, candidates([seen(A, "s2", "2024-09-01", state="overgrown",
                                             priority="medium",
                                             reason=f"1.0 km long, 25 m wide; {note}")]))
    (alert,) = list_alerts(store)
    assert (alert.detection_state, alert.priority) == ("overgrown", "medium")
    assert alert.reason.count(note) == 1
    created = {e.field: e.new_value for e in read_audit(store, alert_id=alert.id)
               if e.action == "create"}
    assert created["priority"] == "medium"


def test_a_destroyed_strip_is_lowered_but_a_person_s_priority_is_not(store):
    merge_candidates(store, candidates([seen(A, "s1", "2024-05-01", priority="medium"),
                                        seen(B, "s1", "2024-05-01", priority="low")]))
    a, b = sorted(list_alerts(store), key=lambda x: x.centroid_lon)
    update_alert(store, AlertChange(b.id, b.version, priority="high"), actor="ana")
    merge_candidates(store, candidates([]), looks=[_look(x.id, "s2", "2024-08-01")
                                                   for x in (a, b)])
    a, b = get_alert(store, a.id), get_alert(store, b.id)
    assert (a.detection_state, a.priority) == ("destroyed", "low")
    assert a.reason.endswith("gone from the latest imagery that saw its ground: "
                             "priority lowered")
    assert (b.detection_state, b.priority) == ("destroyed", "high")  # set by a person
    assert "priority lowered" not in b.reason


def test_stale_copy_after_a_merge_is_refused(store):
    merge_candidates(store, candidates([seen(A, "s1", "2024-05-01")]))
    copy = list_alerts(store)[0]
    merge_candidates(store, candidates([seen(A, "s2", "2024-06-01")]))
    with pytest.raises(Exception, match=r"changed by detector at .* reload"):
        update_alert(store, AlertChange(copy.id, copy.version, state="under_review"),
                     actor="ana")


def test_merge_refuses_bad_frames(store):
    frame = candidates([seen(A, "s1", "2024-05-01")])
    with pytest.raises(CRSError):
        merge_candidates(store, frame.set_crs(32719, allow_override=True))
    with pytest.raises(SchemaError, match="lack column"):
        merge_candidates(store, frame.drop(columns=["score"]))
    with pytest.raises(SchemaError, match="Polygon"):
        merge_candidates(store, frame.set_geometry(gpd.GeoSeries([Point(0, 0)], crs=4326)))
    with pytest.raises(SchemaError, match="no value for score"):
        merge_candidates(store, frame.assign(score=float("nan")))
    naive = frame.assign(detected_at=pd.Timestamp("2024-05-01"))
    with pytest.raises(SchemaError, match="no time zone"):
        merge_candidates(store, naive)
    assert list_alerts(store) == []


def test_merge_accepts_the_detector_output_shape(store):
    frame = candidates([seen(A, "s1", "2024-05-01")]).drop(columns=["priority", "reason"])
    frame["aerodrome_km"] = float("nan")
    frame["evidence"] = 0.5
    merge_candidates(store, frame)
    alert = list_alerts(store)[0]
    assert alert.aerodrome_km is None
    assert alert.priority == "medium"
    assert alert.reason == ""


# Four sites far apart; sightings of one site differ by a couple of metres only.
SITES = [(-65.0, -14.0), (-64.8, -14.0), (-65.0, -13.8), (-70.0, -5.0)]
sighting = st.tuples(st.integers(0, 3), st.integers(0, 4),
                     st.floats(0.05, 0.99).map(lambda s: round(s, 3)),
                     st.integers(-2, 2), st.integers(-2, 2))


def _frame(draws: list[tuple[int, int, float, int, int]]) -> gpd.GeoDataFrame:
    unique = {(site, scene): (score, dx, dy) for site, scene, score, dx, dy in draws}
    return candidates([{"lon": SITES[site][0] + dx * 1e-5, "lat": SITES[site][1] + dy * 1e-5,
                        "scene_id": f"s{scene}", "date": f"2024-0{scene + 1}-01",
                        "score": score} for (site, scene), (score, dx, dy) in unique.items()])


def _summary(store):
    return sorted((round(a.centroid_lon, 3), round(a.centroid_lat, 3), a.detections,
                   a.first_seen, a.last_seen, a.score, a.scene_id, a.geometry.wkt,
                   a.detection_state, a.priority, a.reason)
                  for a in list_alerts(store))


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(draws=st.lists(sighting, min_size=1, max_size=12), seed=st.integers(0, 2**16))
def test_merge_is_idempotent_and_order_free(backend, tmp_path_factory, draws, seed):
    frame = _frame(draws)
    sites = {site for site, *_ in draws}
    shuffled = frame.sample(frac=1.0, random_state=seed)
    half = len(shuffled) // 2
    urls = [new_backend_url(backend, tmp_path_factory.mktemp("prop")) for _ in range(2)]
    try:
        with open_store(urls[0][0]) as one, open_store(urls[1][0]) as two:
            merge_candidates(one, frame)
            audit = read_audit(one)
            again = merge_candidates(one, frame)
            assert not again.created
            assert not again.updated
            assert read_audit(one) == audit
            assert len(list_alerts(one)) == len(sites)  # one alert per strip
            merge_candidates(two, shuffled.iloc[half:])
            merge_candidates(two, shuffled.iloc[:half])
            assert _summary(two) == _summary(one)  # order and batching do not matter
    finally:
        for _, schema in urls:
            drop_schema(schema)


def test_many_candidates_merge_in_one_transaction(store):
    rng = random.Random(3)
    rows = [seen({"lon": -70 + i * 0.05, "lat": -10 + rng.random() * 0.001}, "s1", "2024-05-01")
            for i in range(200)]
    assert len(merge_candidates(store, candidates(rows)).created) == 200
    assert len(merge_candidates(store, candidates(rows)).unchanged) == 200


def _look(alert_id: int | None, scene: str, date: str, share: float = 0.9,
          geometry: object = None) -> Look:
    return Look(scene_id=scene, observed_at=pd.Timestamp(date, tz="UTC").to_pydatetime(),
                geometry=geometry, clear_share=share, alert_id=alert_id)


def test_clear_absences_give_the_lifecycle_across_runs(store):
    merge_candidates(store, candidates([seen(A, "s1", "2024-05-01", state="active")]))
    alert = list_alerts(store)[0]
    # a cloudy look (a third of the strip seen) and a look of the scene that found it: nothing
    report = merge_candidates(store, candidates([]), looks=[
        _look(alert.id, "s2", "2024-06-01", share=0.3), _look(alert.id, "s1", "2024-05-01")])
    assert (report.created, report.updated, report.unchanged, report.absent) == ([], [], [], [])
    assert read_absences(store, alert.id) == []
    # a later clear scene without it: destroyed, audited like any machine change
    report = merge_candidates(store, candidates([]), looks=[_look(alert.id, "s2", "2024-06-01")])
    assert (report.updated, report.absent, report.not_yet) == ([alert.id], [alert.id], [])
    after = get_alert(store, alert.id)
    assert (after.detection_state, after.version, after.state) == ("destroyed", 2, "new")
    assert [(a["scene_id"], a["clear_share"]) for a in read_absences(store, alert.id)] == [
        ("s2", 0.9)]
    changes = [(e.field, e.new_value) for e in read_audit(store, alert_id=alert.id)
               if e.action == "merge"]
    assert ("detection_state", "destroyed") in changes
    # the same look again (a re-run) changes nothing
    report = merge_candidates(store, candidates([]), looks=[_look(alert.id, "s2", "2024-06-01")])
    assert (report.unchanged, report.updated, report.absent) == ([], [], [])
    # seen again later: reopened; the strip's last sighting leads the alert
    merge_candidates(store, candidates([seen(A, "s3", "2024-07-01", state="active")]))
    assert get_alert(store, alert.id).detection_state == "reopened"
    # s2 re-run at a lower operating point finds it after all: the absence goes
    merge_candidates(store, candidates([seen(A, "s2", "2024-06-01", score=0.5)]))
    assert read_absences(store, alert.id) == []
    assert get_alert(store, alert.id).detection_state == "active"


def test_a_look_finds_its_alert_by_overlap_and_an_earlier_absence_makes_it_new(store):
    frame = candidates([seen(A, "s2", "2024-06-01", state="active")])
    rectangle = frame.geometry.iloc[0]
    report = merge_candidates(store, frame, looks=[
        _look(None, "s1", "2024-05-01", geometry=rectangle),
        _look(None, "s1", "2024-05-01", geometry=rectangle.buffer(0.5).difference(
            rectangle.buffer(0.1)))])  # a look at nothing the store knows: dropped
    (alert_id,) = report.created
    assert report.absent == [alert_id]
    # a scene older than the strip's first sighting: it was not there yet (cleared since)
    assert report.not_yet == [alert_id]
    assert get_alert(store, alert_id).detection_state == "new"
    assert [a["scene_id"] for a in read_absences(store, alert_id)] == ["s1"]
    # one look before and one after its first sighting: not found since, not "not yet"
    later = merge_candidates(store, candidates([]), looks=[
        _look(alert_id, "s0", "2024-04-01"), _look(alert_id, "s3", "2024-07-01")])
    assert (later.absent, later.not_yet) == ([alert_id], [])


def test_a_version_11_store_learns_the_bare_contrast_of_detections(store_url):
    with open_store(store_url) as store:
        merge_candidates(store, candidates([seen(A, "s1", "2024-05-01", score=0.9)]))
    undo_migration(store_url, 12, "ALTER TABLE detections DROP COLUMN bare_contrast")
    with open_store(store_url) as store:  # start-up migrates it
        assert 12 in applied_versions(store)
        (alert,) = list_alerts(store)
        assert [h["bare_contrast"] for h in read_detections(store, alert.id)] == [None]
        # a contrast from now on, none from before: the lifecycle compares scores
        merge_candidates(store, candidates([seen(A, "s2", "2024-09-01", score=0.85,
                                                 bare_contrast=0.1)]))
        assert get_alert(store, alert.id).detection_state == "active"
