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
from ui.navguard import PageState, is_stale, page_chosen, page_drew

PAGES = st.sampled_from(["", "map", "imagery", "jobs", "signin"])
STATES = st.builds(PageState, requested=PAGES, pending=st.booleans(), chosen=PAGES)


OWN = st.sampled_from([None, False, True])


@given(STATES, st.booleans(), OWN)
def test_a_rerun_of_the_page_the_session_is_going_to_always_runs(state: PageState,
                                                                  fragment: bool,
                                                                  own: bool | None) -> None:
    target = state.requested if state.pending else state.chosen
    assert not is_stale(state, target, fragment, own)
    assert not is_stale(state, "", fragment, own)  # a page unknown to the browser: let it be


@given(STATES, PAGES, OWN)
def test_a_full_rerun_is_dropped_only_when_it_comes_from_a_page_left(
        state: PageState, page: str, own: bool | None) -> None:
    if is_stale(state, page, fragment=False, own=own):
        assert page != (state.requested if state.pending else state.chosen)
        assert own is not False  # a click in the menu (the main script's widgets) runs
        if own is None:  # widgets unknown: only from the page being left, while leaving
            assert state.pending
            assert page == state.chosen != state.requested
            assert state.requested  # a switch to a known page is on its way


@given(STATES, PAGES)
def test_a_full_rerun_with_the_pages_own_widgets_from_a_page_left_is_dropped(
        state: PageState, page: str) -> None:
    target = state.requested if state.pending else state.chosen
    assert is_stale(state, page, fragment=False, own=True) == bool(page and target
                                                                    and page != target)


@pytest.fixture
def session() -> Iterator[str]:
    sid = "test-session"
    yield sid
    navguard._SESSIONS.pop(sid, None)


def _ask(sid: str, page: str, fragment: bool = False, widgets: tuple[str, ...] = ()) -> bool:
    return navguard._on_request(sid, page, fragment, widget_ids=widgets)


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


def test_the_analysis_maps_late_report_after_the_map_page_chose_itself_is_dropped(
        session: str) -> None:
    """Seen on a fresh-clone CI run: back on the analysis page, its weights at 0."""
    page_chosen(session, "analysis")
    page_drew(session, "analysis", ["weights", "analysis_map"])
    assert _ask(session, "map", widgets=("language",))  # the click: main-script widgets only
    page_chosen(session, "map")  # its run passed st.navigation
    # the analysis map reports its view: a full rerun with the analysis page's widgets
    assert not _ask(session, "analysis", widgets=("language", "weights", "analysis_map"))
    assert _ask(session, "analysis", widgets=("language",))  # a click back runs


def test_a_click_straight_back_to_the_page_being_left_runs(session: str) -> None:
    page_chosen(session, "imagery")
    page_drew(session, "imagery", ["imagery_map"])
    assert _ask(session, "map", widgets=("language",))
    assert not _ask(session, "imagery", widgets=("language", "imagery_map"))  # its report
    assert _ask(session, "imagery", widgets=("language",))  # the reader changed their mind
    page_chosen(session, "imagery")
    assert _ask(session, "imagery", widgets=("language", "imagery_map"))  # its own map


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

    def client(page: str, fragment_id: str = "", *widgets: str) -> SimpleNamespace:
        states = SimpleNamespace(widgets=[SimpleNamespace(id=w) for w in widgets])
        return SimpleNamespace(page_script_hash=page, fragment_id=fragment_id,
                               is_history_navigation=False, widget_states=states)

    page_chosen(session, "imagery")
    page_drew(session, "imagery", ["imagery_map"])
    rerun(app, client("map"))
    rerun(app, client("imagery", "f1"))  # dropped
    rerun(app, None)  # the server's own rerun passes untouched
    page_chosen(session, "map")
    rerun(app, client("map", "f2"))
    rerun(app, client("imagery", "", "language", "imagery_map"))  # dropped: its own widgets
    shutdown(app)
    assert ran == ["map", "none", "map", "shutdown"]
    assert session not in navguard._SESSIONS


def _two_pages() -> None:  # run by AppTest as a script of its own
    import streamlit as st

    from ui.navguard import note_navigation, run_page

    st.selectbox("Language", ["en", "es"], key="language")  # the main script's widget

    def first() -> None:
        st.slider("Weight", 0, 5, 1, key="weight")
        st.button("Go", key="go")

    chosen = st.navigation([st.Page(first, title="First", url_path="first")])
    note_navigation()
    run_page(chosen)


def test_run_page_records_only_the_widgets_the_page_drew(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    sessions: dict[str, PageState] = {}  # (AppTest gives every app the same session id)
    monkeypatch.setattr(navguard, "_SESSIONS", sessions)
    at = AppTest.from_function(_two_pages).run()
    assert not at.exception
    assert len(sessions) == 1
    (state,) = sessions.values()
    assert list(state.drawn) == [state.chosen]
    assert sorted(i.rsplit("-", 1)[-1] for i in state.drawn[state.chosen]) == ["go", "weight"]


_PAGES = st.sampled_from(["", "map", "imagery", "alerts"])


@given(pending=st.one_of(st.none(), _PAGES), new=_PAGES,
       running=st.one_of(st.none(), _PAGES))
def test_a_scripts_own_rerun_never_replaces_a_click_on_another_page(pending, new, running):
    """The waiting page is kept exactly when a script reruns its own page over it."""
    from streamlit.runtime.scriptrunner_utils.script_requests import RerunData

    waiting = None if pending is None else RerunData(query_string="q=1", page_script_hash=pending)
    asked = RerunData(query_string="q=2", page_script_hash=new)
    kept = navguard.keep_the_click(waiting, asked, running)
    click_wins = (waiting is not None and bool(pending) and running is not None
                  and new == running and pending != running)
    assert kept.page_script_hash == (pending if click_wins else new)
    assert kept.query_string == ("q=1" if click_wins else "q=2")
    if not click_wins:
        assert kept is asked


def test_the_imagery_maps_fragment_rerun_does_not_undo_a_click_on_the_map(monkeypatch):
    """The CI failure of 2026-12-05, through Streamlit's own folding of rerun requests."""
    from streamlit.runtime.scriptrunner_utils.script_requests import RerunData, ScriptRequests

    navguard.install()
    requests = ScriptRequests()
    monkeypatch.setattr(navguard, "_running_page", lambda: None)  # the browser: a click
    assert requests.request_rerun(RerunData(query_string="", page_script_hash="map"))
    # the imagery page's run, not yet stopped, reruns its map fragment (ui.imagery)
    monkeypatch.setattr(navguard, "_running_page", lambda: "imagery")
    assert requests.request_rerun(RerunData(query_string="scene=a", page_script_hash="imagery",
                                            fragment_id_queue=["f1"],
                                            is_fragment_scoped_rerun=True))
    folded = requests._rerun_data
    assert folded.page_script_hash == "map"
    assert folded.fragment_id_queue == []  # a full run of the page clicked
    # a script's rerun with no click waiting is left alone
    alone = ScriptRequests()
    assert alone.request_rerun(RerunData(query_string="", page_script_hash="imagery"))
    assert alone._rerun_data.page_script_hash == "imagery"
