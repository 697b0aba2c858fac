"""Lifecycle rules: the priority a strip's state gives it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from geo.detect.lifecycle import STATE_NOTES, state_priority
from geo.detect.reasons import NOTE_LEARNED_RGB, localize_reason
from geo.i18n import Translator
from geo.schema import CANDIDATE_STATES, PRIORITIES

reasons = st.one_of(st.none(), st.just(""), st.just("1.1 km long, 18 m wide"),
                    st.just(f"0.6 km long, 12 m wide; {NOTE_LEARNED_RGB}"))
states = st.one_of(st.none(), st.sampled_from(CANDIDATE_STATES))


@given(st.sampled_from(PRIORITIES), reasons, states, states)
def test_the_state_alone_decides_whatever_was_applied_before(priority, reason, first, then):
    once = state_priority(priority, reason, first)
    assert state_priority(*once, then) == state_priority(priority, reason, then)
    assert state_priority(*once, first) == once  # again: nothing changes


@given(st.sampled_from(PRIORITIES), reasons, states)
def test_only_a_strip_grown_over_or_gone_is_lowered_and_always_says_so(priority, reason, state):
    new_priority, new_reason = state_priority(priority, reason, state)
    lowered = state in STATE_NOTES and priority != "low"
    assert PRIORITIES.index(new_priority) - PRIORITIES.index(priority) == int(lowered)
    assert (STATE_NOTES.get(state or "", "\0") in new_reason.split("; ")) == lowered
    if not lowered:
        assert new_reason == (reason or "")
    else:
        assert new_reason == (f"{reason}; {STATE_NOTES[state]}" if reason else
                              STATE_NOTES[state])


def test_the_note_is_read_in_the_reader_s_language():
    _, reason = state_priority("high", f"1.1 km long, 18 m wide; {NOTE_LEARNED_RGB}",
                               "overgrown")
    es = Translator("es")
    assert localize_reason(reason, es, es.number) == (
        "1,1 km de largo, 18 m de ancho; puntuador aprendido RGB; cubierta de vegetación "
        "desde un avistamiento anterior: prioridad rebajada")
