"""The sidebar every page shares: language and basemap choice."""

from __future__ import annotations

import streamlit as st

from geo.i18n import LANGUAGE_NAMES, Translator
from geo.settings import LANGUAGES, Settings
from ui import state


def render_sidebar(settings: Settings) -> Translator:
    """Draw the shared sidebar and return the translator for the chosen language."""
    if state.LANGUAGE not in st.session_state:
        st.session_state[state.LANGUAGE] = settings.language
    language = st.sidebar.selectbox(
        "Idioma / Language / Língua",
        options=list(LANGUAGES),
        format_func=lambda code: LANGUAGE_NAMES[code],
        key=state.LANGUAGE,
    )
    t = Translator(language)
    st.sidebar.toggle(
        t("Online basemap"),
        key=state.ONLINE_TILES,
        value=settings.online_tiles,
        help=t("Loads OpenStreetMap tiles from the internet. Off, the map uses its own "
               "offline land, sea and borders."),
    )
    return t


def current_translator() -> Translator:
    """Return the translator for the language chosen in this session's sidebar."""
    return Translator(str(st.session_state.get(state.LANGUAGE, "es")))
