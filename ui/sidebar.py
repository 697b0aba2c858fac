"""The sidebar every page shares: language and basemap choice."""

from __future__ import annotations

from datetime import date
from typing import Any

import streamlit as st

from geo.i18n import LANGUAGE_NAMES, Translator
from geo.settings import LANGUAGES, Settings
from ui import state


def _plain_choice(value: Any) -> bool:
    """Whether ``value`` is what a choice widget holds.

    Text, a number or a date, or a list or tuple of them; not a button's or toggle's bool,
    an upload, or an editor's or table selection's dict.
    """

    def simple(v: Any) -> bool:
        return isinstance(v, str | int | float | date) and not isinstance(v, bool)

    return simple(value) or (isinstance(value, list | tuple) and all(map(simple, value)))


def _relabel() -> None:
    """Hand every remembered choice back to its widget when the language changes.

    A keyed widget that already shows a choice keeps the label it was formatted with, so
    after a switch to Spanish the queue's "Area" still said "Anywhere" (Streamlit's selectbox
    does not resend a label its ``format_func`` changed: streamlit/streamlit PR #13788).
    Writing the same value back from this callback, before the rerun, makes Streamlit send
    each such widget its value again, formatted in the new language. Values of other kinds
    are left alone: buttons and uploads refuse to be set.
    """
    ss = st.session_state
    for key in list(ss.keys()):
        if key != state.LANGUAGE and _plain_choice(ss[key]):
            ss[key] = ss[key]


def render_sidebar(settings: Settings) -> Translator:
    """Draw the shared sidebar and return the translator for the chosen language."""
    if state.LANGUAGE not in st.session_state:
        st.session_state[state.LANGUAGE] = settings.language
    language = st.sidebar.selectbox(
        "Idioma / Language / Língua",
        options=list(LANGUAGES),
        format_func=lambda code: LANGUAGE_NAMES[code],
        key=state.LANGUAGE,
        on_change=_relabel,
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
