"""A late report of the page left behind does not undo a page switch (ui.navguard)."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from streamlit.runtime.app_session import AppSession

from ui import navguard
from ui.navguard import PageState, is_stale, page_chosen

PAGES = st.sampled_from(["", "map", "imagery", "jobs", "signin"])
STATES = st.builds(PageState, requested=PAGES, pending=st.booleans(), chosen=PAGES)


@given(STATES, st.booleans())
def test_a_rerun_of_the_page_the_session_is_going_to_always_runs(state: PageState,
                                                                  fragment: bool) -> None:
    target = state.requested if state.pending else state.chosen
    assert not is_stale(state, target, fragment)
    assert not is_stale(state, "", fragment)  # a page unknown to the browser: let it be


@given(STATES, PAGES)
def test_a_full_rerun_is_dropped_only_from_the_page_being_left(state: PageState,
                                                                page: str) -> None:
    if is_stale(state, page, fragment=False):
        assert state.pending
        assert page == state.chosen != state.requested
        assert state.requested  # a switch to a known page is on its way


@pytest.fixture
def session() -> Iterator[str]:
    sid = "test-session"
    yield sid
    navguard._SESSIONS.pop(sid, None)


def _ask(sid: str, page: str, fragment: bool = False) -> bool:
    return navguard._on_request(sid, page, fragment)


def test_the_imagery_maps_late_report_does_not_undo_a_click_on_the_map(session: str) -> None:
    assert _ask(session, "")  # first load: the default page
    page_chosen(session, "imagery")
    assert _ask(session, "imagery", fragment=True)  # the imagery map reports its view
    assert _ask(session, "map")  # the reader clicks the map page
    assert not _ask(session, "imagery", fragment=True)  # before its run chose the page
    assert not _ask(session, "imagery")  # a full rerun from the page left, too
    page_chosen(session, "map")
    assert not _ask(session, "imagery", fragment=True)  # once the map page is running
    assert _ask(session, "map", fragment=True)  # the map's own report runs
    assert _ask(session, "imagery")  # and going back to imagery is a click like any


def test_the_browsers_back_button_always_runs(session: str) -> None:
    """Back right after a click: the address bar has moved, the page must follow it."""
    page_chosen(session, "imagery")
    assert _ask(session, "map")
    assert not _ask(session, "imagery")  # a late report of the page left...
    assert navguard._on_request(session, "imagery", False, history=True)  # ...Back is not
    page_chosen(session, "imagery")
    assert _ask(session, "imagery", fragment=True)


def test_signing_in_lands_on_the_home_page_whose_fragments_run(session: str) -> None:
    assert _ask(session, "")
    page_chosen(session, "signin")
    assert _ask(session, "signin")  # the sign-in form's button
    page_chosen(session, "map")  # st.navigation chose the role's home page
    assert _ask(session, "map", fragment=True)


def test_install_wraps_request_rerun_once_and_drops_only_late_reports(
        monkeypatch: pytest.MonkeyPatch, session: str) -> None:
    ran: list[str] = []
    monkeypatch.setattr(AppSession, "request_rerun",
                        lambda self, cs: ran.append("none" if cs is None else cs.page_script_hash))
    monkeypatch.setattr(AppSession, "shutdown", lambda self: ran.append("shutdown"))
    monkeypatch.setattr(navguard, "_INSTALLED", [])
    navguard.install()
    navguard.install()  # a second install does not wrap twice
    app = SimpleNamespace(id=session)
    rerun: Any = AppSession.request_rerun  # the wrapped ones, called on a stand-in session
    shutdown: Any = AppSession.shutdown

    def client(page: str, fragment_id: str = "") -> SimpleNamespace:
        return SimpleNamespace(page_script_hash=page, fragment_id=fragment_id,
                               is_history_navigation=False)

    page_chosen(session, "imagery")
    rerun(app, client("map"))
    rerun(app, client("imagery", "f1"))  # dropped
    rerun(app, None)  # the server's own rerun passes untouched
    page_chosen(session, "map")
    rerun(app, client("map", "f2"))
    shutdown(app)
    assert ran == ["map", "none", "map", "shutdown"]
    assert session not in navguard._SESSIONS
