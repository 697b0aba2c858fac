"""Who may change an alert, checked by the store under the row lock (``change_refusal``)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from geo.auth import Action, Role, can
from geo.errors import AuthError
from geo.store import (
    AlertChange,
    get_alert,
    list_alerts,
    merge_candidates,
    read_audit,
    read_comments,
    update_alert,
)
from geo.store.alerts import Alert, change_refusal
from tests.store.conftest import candidates


def _one_alert(store, assignee: str | None = None) -> Alert:
    merge_candidates(store, candidates([{"lon": -65, "lat": -14, "scene_id": "s1",
                                         "date": "2024-05-01"}]))
    alert = list_alerts(store)[0]
    if assignee is not None:
        alert = update_alert(store, AlertChange(alert.id, alert.version, assignee=assignee),
                             actor="admin")
    return alert


def test_a_field_user_may_not_take_or_close_an_alert_assigned_to_someone_else(store):
    alert = _one_alert(store, assignee="ana")
    audit = read_audit(store)
    for change in (AlertChange(alert.id, alert.version, assignee="luis"),
                   AlertChange(alert.id, alert.version, state="dismissed", comment="a road"),
                   AlertChange(alert.id, alert.version, state="under_review")):
        with pytest.raises(AuthError, match=r"alert \d+ is assigned to ana: only they"):
            update_alert(store, change, actor="luis", role=Role.FIELD)
    assert get_alert(store, alert.id) == alert  # nothing written
    assert read_audit(store) == audit
    # a comment alone is welcome on any alert
    after = update_alert(store, AlertChange(alert.id, alert.version, comment="seen from the "
                                            "river: fresh tracks"), actor="luis",
                         role=Role.FIELD)
    assert after.assignee == "ana"
    assert after.state == "new"
    assert [c["author"] for c in read_comments(store, alert.id)] == ["luis"]


def test_a_field_user_takes_an_unassigned_alert_and_gives_its_verdict(store):
    alert = _one_alert(store)
    mine = update_alert(store, AlertChange(alert.id, alert.version, assignee="luis"),
                        actor="luis", role=Role.FIELD)
    assert mine.assignee == "luis"
    done = update_alert(store, AlertChange(mine.id, mine.version, state="under_review"),
                        actor="luis", role=Role.FIELD)
    assert done.state == "under_review"


def test_a_role_that_assigns_alerts_may_change_anyones(store):
    alert = _one_alert(store, assignee="luis")
    taken = update_alert(store, AlertChange(alert.id, alert.version, state="under_review",
                                            assignee="ana"), actor="ana", role=Role.ANALYST)
    assert (taken.state, taken.assignee) == ("under_review", "ana")


def test_a_planner_may_not_give_a_verdict_even_through_the_store(store):
    alert = _one_alert(store)
    with pytest.raises(AuthError, match="Your role may not"):
        update_alert(store, AlertChange(alert.id, alert.version, state="under_review"),
                     actor="pedro", role=Role.PLANNER)
    assert get_alert(store, alert.id) == alert


_VALUES = st.fixed_dictionaries({}, optional={
    "state": st.sampled_from(["under_review", "dismissed"]),
    "priority": st.sampled_from(["low", "high"]),
    "assignee": st.sampled_from([None, "me", "other"])})


@given(role=st.sampled_from(list(Role)), assignee=st.sampled_from([None, "me", "other"]),
       values=_VALUES, comment=st.booleans())
def test_the_rule_in_words(store_alert_template, role, assignee, values, comment):
    """Refused exactly when an action is missing, or someone else's alert would change."""
    alert = replace(store_alert_template, assignee=assignee)
    why = change_refusal(alert, values, comment=comment, actor="me", role=role)
    wanted = {Action.SET_VERDICT: "state" in values, Action.SET_PRIORITY: "priority" in values,
              Action.ASSIGN_SELF: values.get("assignee", "") == "me",
              Action.ASSIGN_OTHERS: values.get("assignee") == "other",
              Action.COMMENT: comment}
    missing = any(w and not can(role, a) for a, w in wanted.items())
    others = bool(values) and assignee == "other" and not can(role, Action.ASSIGN_OTHERS)
    assert (why is not None) == (missing or others)
    assert change_refusal(alert, values, comment=comment, actor="me", role=None) is None


@pytest.fixture(scope="module")
def store_alert_template(tmp_path_factory) -> Alert:
    """One stored alert, read back (SQLite), for the pure rule's property test."""
    from geo.store import open_store

    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('rights') / 'a.sqlite3'}")
    try:
        return _one_alert(store)
    finally:
        store.close()
