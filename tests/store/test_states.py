"""The review state machine, alone and through the store."""

from __future__ import annotations

import itertools

import pytest

from geo.errors import TransitionError
from geo.store import (
    ALERT_STATES,
    TRANSITIONS,
    AlertChange,
    check_transition,
    get_alert,
    list_alerts,
    merge_candidates,
    read_audit,
    update_alert,
)
from tests.store.conftest import candidates

ALLOWED = [(a, b) for a, nexts in TRANSITIONS.items() for b in nexts]
REFUSED = [(a, b) for a, b in itertools.product(ALERT_STATES, ALERT_STATES)
           if (a, b) not in ALLOWED]


def test_every_state_has_a_way_out_and_is_reachable():
    assert set(TRANSITIONS) == set(ALERT_STATES)
    reachable, frontier = {"new"}, ["new"]
    while frontier:
        for nxt in TRANSITIONS[frontier.pop()]:
            if nxt not in reachable:
                reachable.add(nxt)
                frontier.append(nxt)
    assert reachable == set(ALERT_STATES)
    assert all(TRANSITIONS[s] for s in ALERT_STATES)


@pytest.mark.parametrize(("current", "wanted"), ALLOWED, ids=[f"{a}->{b}" for a, b in ALLOWED])
def test_allowed(current, wanted):
    check_transition(current, wanted)


@pytest.mark.parametrize(("current", "wanted"), REFUSED, ids=[f"{a}->{b}" for a, b in REFUSED])
def test_refused(current, wanted):
    with pytest.raises(TransitionError, match=f"from '{current}' to '{wanted}'"):
        check_transition(current, wanted)


def test_unknown_state():
    with pytest.raises(TransitionError, match="unknown alert state 'done'"):
        check_transition("new", "done")


PATH = ["under_review", "needs_field_visit", "confirmed", "destroyed", "reopened",
        "under_review", "dismissed", "under_review"]


def test_lifecycle_through_the_store(store):
    merge_candidates(store, candidates([{"lon": -65, "lat": -14, "scene_id": "s1",
                                         "date": "2024-05-01"}]))
    alert = list_alerts(store)[0]
    for state in PATH:
        alert = update_alert(store, AlertChange(alert.id, alert.version, state=state),
                             actor="ana")
    assert alert.state == "under_review"
    assert alert.version == len(PATH) + 1
    moves = [(e.old_value, e.new_value) for e in read_audit(store, alert_id=alert.id)
             if e.field == "state" and e.action == "update"]
    assert moves == list(zip(["new", *PATH[:-1]], PATH, strict=True))


def test_impossible_transition_writes_nothing(store):
    merge_candidates(store, candidates([{"lon": -65, "lat": -14, "scene_id": "s1",
                                         "date": "2024-05-01"}]))
    alert = list_alerts(store)[0]
    audit = read_audit(store)
    with pytest.raises(TransitionError, match="cannot move an alert from 'new' to 'confirmed'"):
        update_alert(store, AlertChange(alert.id, 1, state="confirmed", comment="sure"),
                     actor="ana")
    assert get_alert(store, alert.id) == alert
    assert read_audit(store) == audit
