"""Atalaya: entry point. Page config, shared sidebar, navigation; nothing else."""

from __future__ import annotations

import streamlit as st

from ui.alerts import render_alerts
from ui.cache import get_settings
from ui.explore import render_explore
from ui.imagery import render_imagery
from ui.ingest import render_ingest
from ui.sidebar import render_sidebar


def main() -> None:
    """Configure the page, draw the shared sidebar and run the selected page."""
    st.set_page_config(page_title="Atalaya", page_icon="🛰️", layout="wide")
    t = render_sidebar(get_settings())
    pages = [st.Page(render_explore, title=t("Overview map"), url_path="map", default=True),
             st.Page(render_alerts, title=t("Runway alerts"), url_path="alerts"),
             st.Page(render_imagery, title=t("Imagery"), url_path="imagery"),
             st.Page(render_ingest, title=t("Import data"), url_path="ingest")]
    st.navigation(pages).run()


main()
