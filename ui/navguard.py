"""Keep a page switch from being undone by a late report of the page left behind.

A map (streamlit-folium) reports its view once it has loaded, a moment after its page's run
ended; a fragment with ``run_every`` ticks on a timer. Each report asks the server for a
rerun of *the page the browser still shows*. When the reader clicks another page in that
moment, Streamlit (1.67) lets the late report win:

- before the new page's run starts, the report's page replaces the one clicked (a full
  rerun stops the clicked one), and the click is lost: the old page stays;
- once it has started, the report's fragment rerun preempts it and finds no such fragment
  on the new page, and the page is left blank with its heading drawn and gone;
- once it has chosen its page, a full rerun from the page left (the analysis map's, which
  is not in a fragment) takes the reader back there, with that page's widgets gone from
  the session: a fresh-clone CI run (2026-12-05) ended on the risk analysis page with
  every weight at 0 and the filters at "all" after a click on the overview map.

Under load (two CPU hogs beside the browser tests, 2026-12-05) one round trip in about
thirty between the map and the imagery, jobs, alerts or analysis pages ended so. Here a rerun
asked for by a *fragment* of a page other than the one the session is on (or, while a page
switch is pending, the one it is going to) is dropped: it can only be such a late report.
A *full* rerun asked for from another page is dropped when it carries the state of a widget
that page drew itself: the browser sends those only while it shows the page, whereas a
click on a page in the menu sends only the widgets of the main script (Streamlit's
``onPageChange`` clears the page's elements first), so a click, even straight back to the
page being left, always runs (measured in the same probe: the 144 menu clicks of three
runs carried the main script's 2 widgets, the pages' own requests 10 to 32). The browser's
Back and Forward always run (the address bar has moved already).

The decision is :func:`is_stale` (pure); :func:`install` wraps Streamlit's
``AppSession.request_rerun`` with it once per process, :func:`note_navigation` tells it,
from the script's run, which page ``st.navigation`` chose, and :func:`run_page` runs that
page and records the widgets it drew.

A page's own ``st.rerun()`` can undo a click too: Streamlit folds a rerun asked for while
another waits into one, with the *newer* request's page. A page that calls ``st.rerun()``
(the imagery page, once its map has reported its view) while the reader's click on another
page waits sent the reader back (a fresh-clone CI run, 2026-12-05: "Overview map" clicked,
the imagery page stayed). :func:`keep_the_click` keeps the waiting page; :func:`install`
wraps ``ScriptRequests._request_rerun_locked`` with it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

_LOG = logging.getLogger("atalaya.navguard")
_LOCK = threading.Lock()
_INSTALLED: list[bool] = []


@dataclass(slots=True)
class PageState:
    """Where one browser session is, as far as page switches go.

    Attributes
    ----------
    requested
        Page hash the latest full rerun asked for ("" for the default page).
    pending
        That full rerun has not yet reached ``st.navigation``.
    chosen
        Page hash ``st.navigation`` chose in the latest run that reached it ("" before one).
    drawn
        Page hash -> ids of the widgets that page drew itself in its latest full run.
    """

    requested: str = ""
    pending: bool = False
    chosen: str = ""
    drawn: dict[str, frozenset[str]] = field(default_factory=dict)


#: Browser session id -> its page state (dropped when the session shuts down).
_SESSIONS: dict[str, PageState] = {}


def is_stale(state: PageState, page: str, fragment: bool, own: bool | None = None) -> bool:
    """Whether a rerun asked for from ``page`` is a late report of a page the reader left.

    ``fragment`` says the rerun is a fragment's (a widget or timer inside one). ``own`` says
    whether the request carries the state of a widget ``page`` drew itself (only the
    browser showing that page sends those; a click in the menu does not), None when the
    page's widgets are not known. An empty ``page`` or an unknown target (nothing asked for
    or chosen yet) is never stale.

    Examples
    --------
    >>> leaving = PageState(requested="P1", pending=True, chosen="P0")
    >>> is_stale(leaving, "P0", fragment=True), is_stale(leaving, "P0", fragment=False)
    (True, True)
    >>> is_stale(leaving, "P1", fragment=True), is_stale(leaving, "P2", fragment=False)
    (False, False)
    >>> there = PageState(requested="P1", pending=False, chosen="P1")
    >>> is_stale(there, "P0", fragment=True), is_stale(there, "P0", fragment=False)
    (True, False)
    >>> is_stale(there, "P0", fragment=False, own=True)  # the map of P0 reporting its view
    True
    >>> is_stale(leaving, "P0", fragment=False, own=False)  # a click straight back to P0
    False
    >>> signed_in = PageState(requested="signin", pending=False, chosen="home")
    >>> is_stale(signed_in, "home", fragment=True)
    False
    """
    if not page:
        return False
    target = state.requested if state.pending else state.chosen
    if not target or page == target:
        return False
    if fragment:
        return True
    if own is not None:
        return own
    return state.pending and page == state.chosen


def page_chosen(session_id: str, page: str) -> None:
    """Record that this session's run reached ``st.navigation``, which chose ``page``."""
    with _LOCK:
        state = _SESSIONS.setdefault(session_id, PageState())
        state.chosen = page
        state.pending = False


def note_navigation() -> None:
    """Call right after ``st.navigation`` in the script's run: record the page it chose."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is not None:  # None only outside a Streamlit run (bare-mode tests)
        page_chosen(ctx.session_id, ctx.page_script_hash)


def page_drew(session_id: str, page: str, widget_ids: Iterable[str]) -> None:
    """Record the widgets ``page`` drew itself in this session's latest full run of it."""
    with _LOCK:
        _SESSIONS.setdefault(session_id, PageState()).drawn[page] = frozenset(widget_ids)


def run_page(page: Any) -> None:
    """Run the ``st.Page`` that ``st.navigation`` chose, recording the widgets it draws."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    before = ctx.shared.widget_ids_this_run.snapshot() if ctx is not None else frozenset()
    try:
        page.run()
    finally:  # a page stopped by st.rerun or st.stop drew these at least
        if ctx is not None:
            page_drew(ctx.session_id, ctx.page_script_hash,
                      ctx.shared.widget_ids_this_run.snapshot() - before)


def _on_request(session_id: str, page: str, fragment: bool, history: bool = False,
                widget_ids: Iterable[str] = ()) -> bool:
    """Update the session's state for a rerun the browser asks for; False to drop it.

    ``history``: the browser's Back or Forward asked for it. That one always runs: the
    address bar has already moved to its page. ``widget_ids``: the widgets whose state the
    request carries.
    """
    with _LOCK:
        state = _SESSIONS.setdefault(session_id, PageState())
        drawn = state.drawn.get(page)
        own = None if drawn is None else not drawn.isdisjoint(widget_ids)
        if not history and is_stale(state, page, fragment, own):
            _LOG.info("Dropped a late %s rerun of page %s: the session is on %s.",
                      "fragment" if fragment else "full", page[:8],
                      (state.requested if state.pending else state.chosen)[:8])
            return False
        if not fragment:
            state.requested = page
            state.pending = True
        return True


def keep_the_click(pending: Any, new: Any, running_page: str | None) -> Any:
    """Return the rerun to fold into ``pending``: ``new``, or it aimed at the waiting page.

    ``pending``: the rerun already waiting (a ``RerunData``), None when none waits; ``new``:
    the one asked for now; ``running_page``: the page hash of the script run asking for it
    (None when the browser asks, not a script). A script's rerun of its own page while a
    rerun of another page waits (the reader's click) keeps that page, its address and
    widgets: the click wins. Anything else is returned as it is.

    Examples
    --------
    >>> from streamlit.runtime.scriptrunner_utils.script_requests import RerunData
    >>> click = RerunData(query_string="", page_script_hash="map")
    >>> own = RerunData(query_string="scene=a", page_script_hash="imagery")
    >>> keep_the_click(click, own, "imagery").page_script_hash
    'map'
    >>> keep_the_click(click, own, None).page_script_hash  # the browser's own request
    'imagery'
    >>> keep_the_click(None, own, "imagery").page_script_hash
    'imagery'
    """
    if (pending is None or running_page is None or not pending.page_script_hash
            or new.page_script_hash != running_page
            or pending.page_script_hash == running_page):
        return new
    return replace(new, page_script_hash=pending.page_script_hash,
                   page_name=pending.page_name, query_string=pending.query_string)


def _widget_ids(client_state: Any) -> list[str]:
    """Ids of the widgets whose state a rerun request carries (none when it has no states)."""
    states = getattr(client_state, "widget_states", None)
    return [w.id for w in getattr(states, "widgets", ())]


def install() -> None:
    """Wrap Streamlit's ``AppSession.request_rerun`` with the check (idempotent)."""
    from streamlit.runtime.app_session import AppSession

    with _LOCK:
        if _INSTALLED:
            return
        _INSTALLED.append(True)
    request_rerun = AppSession.request_rerun
    shutdown = AppSession.shutdown

    def guarded_request_rerun(self: Any, client_state: Any) -> None:
        if client_state is not None and not _on_request(
                self.id, str(client_state.page_script_hash), bool(client_state.fragment_id),
                bool(client_state.is_history_navigation), _widget_ids(client_state)):
            return
        request_rerun(self, client_state)

    def forgetting_shutdown(self: Any) -> None:
        with _LOCK:
            _SESSIONS.pop(self.id, None)
        shutdown(self)

    AppSession.request_rerun = guarded_request_rerun  # type: ignore[method-assign]
    AppSession.shutdown = forgetting_shutdown  # type: ignore[method-assign]
    _install_click_keeper()


def _running_page() -> str | None:
    """Page hash of the script run on this thread; None on the server's own threads."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx(suppress_warning=True)
    return None if ctx is None else str(ctx.page_script_hash)


def _install_click_keeper() -> None:
    """Wrap the folding of rerun requests with :func:`keep_the_click` (see the module)."""
    from streamlit.runtime.scriptrunner_utils.script_requests import (
        ScriptRequests,
        ScriptRequestType,
    )

    fold = ScriptRequests._request_rerun_locked

    def folding(self: Any, new_data: Any) -> bool:
        if self._state == ScriptRequestType.RERUN:
            kept = keep_the_click(self._rerun_data, new_data, _running_page())
            if kept is not new_data:
                _LOG.info("Kept the waiting rerun of page %s over a rerun of page %s asked "
                          "for by its script.", kept.page_script_hash[:8],
                          new_data.page_script_hash[:8])
            new_data = kept
        return bool(fold(self, new_data))

    ScriptRequests._request_rerun_locked = folding  # type: ignore[method-assign]
