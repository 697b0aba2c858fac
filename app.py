"""Atalaya: entry point. Page config, sign-in, shared sidebar, navigation; nothing else."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from geo.auth import PAGE_ACTIONS, can
from geo.errors import AtalayaError
from ui.admin import render_admin
from ui.alerts import render_alerts
from ui.analysis import render_analysis
from ui.auth import guard_page, render_gate, render_user_box
from ui.cache import get_settings
from ui.explore import render_explore
from ui.health import render_health_banner
from ui.imagery import render_imagery
from ui.ingest import render_ingest
from ui.jobs import ensure_services, render_jobs
from ui.navguard import install, note_navigation, run_page
from ui.serverlog import install as quiet_browser_gone_mid_send
from ui.sidebar import current_translator, render_sidebar
from ui.text import shown

#: (URL path, page function, title); the first one a role may open is its home page.
PAGES: tuple[tuple[str, Callable[[], None], str], ...] = (
    ("map", render_explore, "Overview map"),
    ("alerts", render_alerts, "Runway alerts"),
    ("imagery", render_imagery, "Imagery"),
    ("analysis", render_analysis, "Risk analysis"),
    ("ingest", render_ingest, "Import data"),
    ("jobs", render_jobs, "Background jobs"),
    ("admin", render_admin, "Accounts and audit"),
)


def _signing_in() -> None:
    """Stand for the bare address while the sign-in form is shown (never run)."""


def main() -> None:
    """Configure the page, sign the user in, draw the shared sidebar and run the page."""
    st.set_page_config(page_title="Atalaya", page_icon="🛰️", layout="wide")
    install()  # once per process: a late report of a page left does not undo a page switch
    quiet_browser_gone_mid_send()  # once per process: one log line, not a traceback
    settings = get_settings()
    t = render_sidebar(settings)
    try:  # once per process: JSON log, job runner; the app works without them
        ensure_services(settings)
    except AtalayaError as err:
        st.warning(t("Background jobs cannot run in this app now: {error}").format(
            error=shown(err, t)))
    titles = {"Overview map": t("Overview map"), "Runway alerts": t("Runway alerts"),
              "Imagery": t("Imagery"), "Risk analysis": t("Risk analysis"),
              "Import data": t("Import data"),
              "Background jobs": t("Background jobs"),
              "Accounts and audit": t("Accounts and audit")}
    session = render_gate(settings, t)
    render_health_banner(settings, t)
    role = session.role if session is not None else None
    home = next((path for path, _, _ in PAGES if can(role, PAGE_ACTIONS[path])), "map")
    # Every page stays registered, each behind its role check: an address typed or shared
    # reaches the check (and its refusal) instead of another page. The menu (Streamlit's
    # own, which folds away on a phone once a page is chosen) lists only the pages the role
    # may open.
    pages = {path: st.Page(guard_page(path, render, current_translator), title=titles[title],
                           url_path=path, default=session is not None and path == home,
                           visibility="visible" if can(role, PAGE_ACTIONS[path]) else "hidden")
             for path, render, title in PAGES}
    if session is None:
        # The sign-in form is drawn and no page runs. The bare address is a page of its own
        # until then, so that after signing in it opens the role's home page.
        st.navigation([st.Page(_signing_in, title=t("Sign in"), url_path="signin",
                               default=True), *pages.values()], position="hidden")
        note_navigation()
        return
    chosen = st.navigation(list(pages.values()), position="sidebar")
    note_navigation()
    render_user_box(session, t)
    run_page(chosen)  # (records the widgets the page draws: ui.navguard)


# Streamlit runs this file as __main__; a worker process the job runner's local Dask cluster
# spawns imports it as __mp_main__ and must not run the app (nor start a runner of its own).
if __name__ == "__main__":
    main()
