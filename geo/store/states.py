"""The review state machine of an alert: which verdict may follow which.

================== =============================================== ==============================
from               may go to                                       meaning
================== =============================================== ==============================
new                under_review, dismissed                         detector found it; untouched
under_review       confirmed, dismissed, needs_field_visit         an analyst is looking at it
needs_field_visit  confirmed, dismissed, destroyed                 imagery is not enough
confirmed          needs_field_visit, destroyed                    a clandestine runway
destroyed          reopened                                        made unusable (seen or done)
reopened           under_review, needs_field_visit, destroyed      in use again after destroyed
dismissed          under_review                                    not a runway (reconsiderable)
================== =============================================== ==============================

Every state is set by a person. The detector never changes it: a strip seen again after a
verdict only updates the alert's detection history and ``last_seen``.

Examples
--------
>>> check_transition("new", "under_review")
>>> allowed_next("destroyed")
('reopened',)
>>> check_transition("new", "destroyed")
Traceback (most recent call last):
...
geo.errors.TransitionError: cannot move an alert from 'new' to 'destroyed'; from 'new' it ...
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING

from geo.errors import TransitionError
from geo.message import Message

if TYPE_CHECKING:
    from geo.i18n import Translator

#: Review states in queue order.
ALERT_STATES: tuple[str, ...] = (
    "new", "under_review", "confirmed", "dismissed", "needs_field_visit", "destroyed", "reopened",
)

#: Allowed moves: state -> states it may go to next.
TRANSITIONS: MappingProxyType[str, tuple[str, ...]] = MappingProxyType({
    "new": ("under_review", "dismissed"),
    "under_review": ("confirmed", "dismissed", "needs_field_visit"),
    "needs_field_visit": ("confirmed", "dismissed", "destroyed"),
    "confirmed": ("needs_field_visit", "destroyed"),
    "destroyed": ("reopened",),
    "reopened": ("under_review", "needs_field_visit", "destroyed"),
    "dismissed": ("under_review",),
})

#: States in which an alert still waits for someone to act (a review, a field visit); the
#: queue lists them first. Confirmed, dismissed and destroyed alerts have had their verdict.
AWAITING_STATES: frozenset[str] = frozenset(
    {"new", "under_review", "needs_field_visit", "reopened"})

#: States that record a person's verdict on the strip (not just the progress of the review).
VERDICT_STATES: frozenset[str] = frozenset(
    {"confirmed", "dismissed", "needs_field_visit", "destroyed", "reopened"})


def allowed_next(state: str) -> tuple[str, ...]:
    """States an alert in ``state`` may move to (empty for an unknown state)."""
    return TRANSITIONS.get(state, ())


def check_transition(current: str, wanted: str) -> None:
    """Raise :class:`~geo.errors.TransitionError` unless ``current -> wanted`` is allowed."""
    if wanted not in ALERT_STATES:
        raise TransitionError(Message("unknown alert state {state}; expected one of {states}",
                                      state=repr(wanted), states=", ".join(ALERT_STATES)))
    if wanted not in allowed_next(current):
        options = ", ".join(allowed_next(current)) or Message("nowhere")
        raise TransitionError(Message("cannot move an alert from {state} to {wanted}; from "
                                      "{state} it can go to {options}", state=repr(current),
                                      wanted=repr(wanted), options=options))


def state_names(t: Translator) -> dict[str, str]:
    """Each review state's name in the language of ``t`` (a :class:`~geo.i18n.Translator`)."""
    return {"new": t("New"), "under_review": t("Under review"), "confirmed": t("Confirmed"),
            "dismissed": t("Dismissed"), "needs_field_visit": t("Needs field visit"),
            "destroyed": t("Destroyed"), "reopened": t("Reopened")}


def priority_names(t: Translator) -> dict[str, str]:
    """Each alert priority's name in the language of ``t``."""
    return {"high": t("High"), "medium": t("Medium"), "low": t("Low")}
