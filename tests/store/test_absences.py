"""Detection runs over dated scenes record where a strip's ground was seen without it."""

from __future__ import annotations

from pathlib import Path

from geo.detect.run import detect_scenes
from geo.jobs.handlers import absence_looks, merge_into
from geo.store import get_alert, list_alerts, read_absences
from geo.store.engine import in_transaction
from tests.geo.test_detect import ONE_STRIP, write_scene
from tests.geo.test_track import CLOUD, _cover


def _run(store, paths: list[Path]) -> list:
    """Store what a detection job stores: its candidates and its looks, in one transaction."""
    scenes = [str(p) for p in paths]
    cands = detect_scenes(scenes).candidates
    looks = absence_looks(store, scenes, cands)
    in_transaction(store, lambda conn: merge_into(conn, cands, actor="test", looks=looks))
    return looks


def test_clouds_record_nothing_and_a_clear_later_scene_destroys_the_strip(store, tmp_path):
    seen = write_scene(tmp_path / "area_2024-01-15.tif", strips=ONE_STRIP, date="2024-01-15")
    cloudy = _cover(write_scene(tmp_path / "area_2024-02-15.tif", date="2024-02-15", seed=1),
                    **CLOUD)
    assert _run(store, [seen, cloudy]) == []  # one run of both dates: the cloud says nothing
    (alert,) = list_alerts(store)
    assert get_alert(store, alert.id).detection_state == "new"  # the candidate's own state
    # a later run of one clear scene: the strip is found in the store, looked for, absent
    gone = write_scene(tmp_path / "area_2024-03-15.tif", date="2024-03-15", seed=2)
    looks = _run(store, [gone])
    assert [(look.alert_id, look.scene_id) for look in looks] == [(alert.id, "area_2024-03-15")]
    assert looks[0].clear_share == 1.0
    assert get_alert(store, alert.id).detection_state == "destroyed"
    assert [a["scene_id"] for a in read_absences(store, alert.id)] == ["area_2024-03-15"]
    # a scene without a date says nothing
    undated = write_scene(tmp_path / "area.tif", date="", seed=4)
    assert _run(store, [undated]) == []


def test_a_strip_known_and_found_again_in_the_run_is_looked_at_once(store, tmp_path):
    seen = write_scene(tmp_path / "area_2024-01-15.tif", strips=ONE_STRIP, date="2024-01-15")
    _run(store, [seen])
    (alert,) = list_alerts(store)
    gone = write_scene(tmp_path / "area_2024-03-15.tif", date="2024-03-15", seed=2)
    # the alert, and this run's own sighting on 01-15: one strip, one look on 03-15
    looks = _run(store, [seen, gone])
    assert [(look.alert_id, look.scene_id) for look in looks] == [(alert.id, "area_2024-03-15")]
    assert get_alert(store, alert.id).detection_state == "destroyed"


def test_a_strip_scoring_below_the_cut_is_not_recorded_absent(store, tmp_path):
    """A faint strip may be fading; only a scene that traced nothing there says it is gone."""
    _run(store, [write_scene(tmp_path / "area_2024-01-15.tif", strips=ONE_STRIP,
                             date="2024-01-15")])
    (alert,) = list_alerts(store)
    later = str(write_scene(tmp_path / "area_2024-03-15.tif", strips=ONE_STRIP,
                            date="2024-03-15", seed=2))
    run = detect_scenes([later], min_score=1.01)  # the strip is traced, below the cut
    assert run.candidates.empty
    assert len(run.faint) == 1
    assert len(absence_looks(store, [later], run.candidates)) == 1  # what a job recorded before
    assert absence_looks(store, [later], run.candidates, faint=run.faint) == []
    assert get_alert(store, alert.id).detection_state == "new"
