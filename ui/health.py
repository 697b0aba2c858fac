"""The start-up check: a broken store, data folder, scene or asset folder is said on every page.

:func:`geo.health.check_health` looks without changing anything; its findings are shown above
the page (errors in red, warnings in yellow, each with its fix) and logged once per process and
finding (JSON lines, ``ui.jobs.ensure_services``). The rest of the app carries on with what
works: a damaged scene leaves the other scenes, missing assets leave the tables and alerts.
"""

from __future__ import annotations

import logging
import threading

import streamlit as st

from geo.health import HealthItem, HealthReport, check_health
from geo.i18n import Translator
from geo.settings import Settings

__all__ = ["render_health_banner"]

log = logging.getLogger("atalaya.health")
_LOGGED: set[HealthItem] = set()
_LOCK = threading.Lock()


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
        log.log(level, item.message, extra={"check": item.check, "fix": item.fix})
    for item in report.items:
        if item.severity == "ok":
            continue
        show = st.error if item.severity == "error" else st.warning
        # Messages come from our checks (paths and reasons), shown as text with their fix.
        show(t("Start-up check ({check}): {message}").format(check=item.check,
                                                             message=item.message)
             + (" " + t("Fix: {fix}").format(fix=item.fix) if item.fix else ""),
             icon=":material/error:" if item.severity == "error" else ":material/warning:")
