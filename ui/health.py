"""The start-up check: a broken store, data folder, scene or asset folder is said on every page.

:func:`geo.health.check_health` looks without changing anything; its findings are shown above
the page (errors in red, warnings in yellow, each with its fix) and logged once per process and
finding (JSON lines, ``ui.jobs.ensure_services``). The rest of the app carries on with what
works: a damaged scene leaves the other scenes, missing assets leave the tables and alerts.

Findings are :class:`geo.message.Message`: logged in English, shown in the reader's language
(:func:`finding`, also used by the jobs page), each check named in words (:func:`check_label`).
"""

from __future__ import annotations

import logging
import threading

import streamlit as st

from geo.health import HealthItem, HealthReport, check_health
from geo.i18n import Translator, localize
from geo.logjson import scrub_text
from geo.settings import Settings
from ui.text import escape_markdown

__all__ = ["check_label", "finding", "render_health_banner"]

log = logging.getLogger("atalaya.health")
_LOGGED: set[HealthItem] = set()
_LOCK = threading.Lock()


_SENTENCE_ENDS = (".", "!", "?", "…")


def check_label(check: str, t: Translator) -> str:
    """Name a health check (``store``, ``data_dir``...) in words of ``t``'s language, escaped.

    An unknown check is shown as its identifier.
    """
    labels = {"store": t("store"), "schema": t("schema"), "data_dir": t("data folder"),
              "scenes": t("scenes"), "static": t("map assets")}
    return escape_markdown(labels.get(check, check))


def finding(text: object, t: Translator) -> str:
    r"""Write a finding's message or fix in ``t``'s language as one sentence, for Markdown.

    Localized (a :class:`geo.message.Message`), scrubbed of passwords, closed with a full stop
    unless it ends a sentence already, and Markdown escaped; ``""`` stays empty.

    Examples
    --------
    >>> from geo.message import Message
    >>> finding(Message("the store {path} answers", path="a_b"), Translator("en"))
    'the store a\\_b answers\\.'
    >>> finding("is it?", Translator("en"))
    'is it?'
    """
    written = scrub_text(localize(text, t)).rstrip()
    if written and not written.endswith(_SENTENCE_ENDS):
        written += "."
    return escape_markdown(written)


@st.cache_data(show_spinner=False, ttl=60, max_entries=4)
def _report(settings_key: str, _settings: Settings) -> HealthReport:
    # Scene headers only (no pixel decoding) and a short lock wait: cheap enough every minute.
    return check_health(_settings, timeout_s=0.5)


def render_health_banner(settings: Settings, t: Translator) -> None:
    """Show the start-up findings that need attention; log each new one once."""
    report = _report(repr(settings), settings)
    with _LOCK:
        new = [i for i in report.items if i.severity != "ok" and i not in _LOGGED]
        _LOGGED.update(new)
    for item in new:
        level = logging.ERROR if item.severity == "error" else logging.WARNING
        log.log(level, str(item.message), extra={"check": item.check, "fix": str(item.fix)})
    for item in report.items:
        if item.severity == "ok":
            continue
        show = st.error if item.severity == "error" else st.warning
        # The finding, then its fix: two sentences in the reader's language, shown as typed.
        text = t("Start-up check ({check}): {message}").format(
            check=check_label(item.check, t), message=finding(item.message, t))
        if item.fix:
            text += " " + t("Fix: {fix}").format(fix=finding(item.fix, t))
        show(text, icon=":material/error:" if item.severity == "error" else ":material/warning:")
