"""The sidebar every page shares: language and basemap choice."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from geo.i18n import LANGUAGE_NAMES, Translator
from geo.settings import LANGUAGES, Settings
from ui import state


def keep_widget_values(keys: Sequence[str]) -> None:
    """Keep the values of widgets ``keys`` through this run, drawn or not (call before the page).

    Streamlit forgets a widget's value after a run that does not draw it. Its documented
    way out: the key set again from itself becomes the session's own value, which such a
    run leaves alone. Only for widgets drawn without a ``value``/``default`` argument (their
    first value set in the state), else setting them would warn.
    """
    ss = st.session_state
    for key in keys:
        if key in ss:
            ss[key] = ss[key]


def relabelled(key: str) -> str:
    """Register ``key`` as a choice whose labels are translated, and return it.

    Used as ``key=relabelled(...)`` on selectboxes, multiselects, radios and select sliders
    with a translated ``format_func`` (:func:`_relabel` hands their values back when the
    language changes). Inside a form that also undoes an unsubmitted choice of that widget
    (its last submitted value comes back), so a form registers only a choice for which that
    is the lesser harm, like the accounts form's role.
    """
    st.session_state.setdefault(state.RELABELLED, set()).add(key)
    return key


def _relabel() -> None:
    """Hand every remembered translated choice back to its widget when the language changes.

    A keyed widget that already shows a choice keeps the label it was formatted with, so
    after a switch to Spanish the queue's "Area" still said "Anywhere" (Streamlit's selectbox
    does not resend a label its ``format_func`` changed: streamlit/streamlit PR #13788).
    Writing the same value back from this callback, before the rerun, makes Streamlit send
    each such widget its value again, formatted in the new language. Only keys registered
    by :func:`relabelled` are written: a text field's unsubmitted text would be lost.
    """
    ss = st.session_state
    for key in sorted(ss.get(state.RELABELLED, ())):
        if key in ss:
            ss[key] = ss[key]


def _language_changed() -> None:
    """Relabel the translated choices and remember the new language (:mod:`ui.auth`)."""
    from ui.auth import remember_language

    _relabel()
    remember_language(str(st.session_state[state.LANGUAGE]))


def render_sidebar(settings: Settings) -> Translator:
    """Draw the shared sidebar and return the translator for the chosen language.

    The language starts as the deployment's (``ATALAYA_LANGUAGE``); an account's own choice
    replaces it when its user signs in (``ui.auth`` leaves it in
    :data:`ui.state.PENDING_LANGUAGE`, applied here before the selectbox is drawn).
    """
    ss = st.session_state
    if state.LANGUAGE not in ss:
        ss[state.LANGUAGE] = settings.language
    pending = ss.pop(state.PENDING_LANGUAGE, None)
    if pending in LANGUAGES and pending != ss[state.LANGUAGE]:
        ss[state.LANGUAGE] = pending
        _relabel()
    language = st.sidebar.selectbox(
        "Idioma / Language / Língua",
        options=list(LANGUAGES),
        format_func=lambda code: LANGUAGE_NAMES[code],
        key=state.LANGUAGE,
        on_change=_language_changed,
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
