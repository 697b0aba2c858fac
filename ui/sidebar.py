"""The sidebar every page shares: language and basemap choice."""

from __future__ import annotations

from typing import Final

import streamlit as st

from geo.i18n import LANGUAGE_NAMES, Translator
from geo.settings import LANGUAGES, Settings, browser_language
from ui import state

#: ``persist_state`` of the widgets whose choices outlast a visit to another page: the
#: explorer's and analysis' filters, the queue's filters, the snapshot panel. A planner who
#: looked at another page came back to every event type and country, and could export another
#: selection unaware. Streamlit (1.67) drops an undrawn widget's value on a page switch even
#: when the page sets it again from itself each run (the way out of its earlier versions).
KEEP: Final = "session"


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

    The language starts as the deployment's (``ATALAYA_LANGUAGE``), or, when the deployment
    sets none, as the browser's where it is one of ours (a Brazilian analyst's sign-in page,
    and every reload, read Spanish); an account's own choice replaces it when its user signs
    in (``ui.auth`` leaves it in :data:`ui.state.PENDING_LANGUAGE`, applied here before the
    selectbox is drawn).
    """
    ss = st.session_state
    if state.LANGUAGE not in ss:
        ss[state.LANGUAGE] = (settings.language if settings.language_fixed
                              else browser_language(_browser_locale(), settings.language))
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


def _browser_locale() -> str | None:
    """Return the browser's first language (``navigator.language``), or None if unknown."""
    try:
        locale = st.context.locale
    except (AttributeError, RuntimeError):  # no browser behind this run (a test's AppTest)
        return None
    return locale if isinstance(locale, str) else None


def current_translator() -> Translator:
    """Return the translator for the language chosen in this session's sidebar."""
    return Translator(str(st.session_state.get(state.LANGUAGE, "es")))
