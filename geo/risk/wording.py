"""The words of a risk explanation: written in English from templates, shown in any language.

:func:`geo.risk.score.explain` writes one line per score, ``"42 = 15 (18 events in 12
months) + 27 (25 km from the border)"``: the points of each factor and the factor's raw value
in words, from the templates below. Scores are computed once (and cached) whatever the
reader's language, so the line is written in English and :func:`localize_explanation` shows
it in the reader's language: each term that matches a template as its translation, with the
same values and the reader's number separators. Text made from no template is shown as
written.

Templates are marked with ``_`` (:func:`geo.i18n.marked`) so ``make messages`` extracts them.
A qualifier that changes the words (a strip's state, an emerging-hotspot label) has one
template per value, so each language can place and agree it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from geo.i18n import marked as _
from geo.i18n import render_template, template_pattern

__all__ = ["TEMPLATES", "counted", "localize_explanation", "strip_words", "trend_words"]

# -- factor values (geo.risk.score.CANDIDATE_FACTORS, CELL_FACTORS) -----------------------------
EVENTS_WITHIN_ONE = _("{n} event within {km} km in {months} months")
EVENTS_WITHIN = _("{n} events within {km} km in {months} months")
EVENTS_ONE = _("{n} event in {months} months")
EVENTS = _("{n} events in {months} months")
SEIZURE = _("seizure {dist} km away")
NO_SEIZURE = _("no recent seizure")
NO_STRIP = _("no other strip")
STRIP = _("strip {dist} km away")
STRIP_BY_STATE = {"new": _("new strip {dist} km away"),
                  "active": _("active strip {dist} km away"),
                  "overgrown": _("overgrown strip {dist} km away"),
                  "destroyed": _("destroyed strip {dist} km away"),
                  "reopened": _("reopened strip {dist} km away")}
BORDER = _("{dist} km from the border")
RIVER = _("{dist} km from a river")
ROUTE = _("{dist} km from a known route")
AERODROME = _("{dist} km from the nearest aerodrome")
DETECTION = _("detection score {score}")
QUANTITY = _("{kg} kg seized in {months} months")
HOTSPOT = _("hot spot z = {z}")
TREND_BY_LABEL = {"new": _("new hot spot"), "intensifying": _("intensifying hot spot"),
                  "persistent": _("persistent hot spot"),
                  "diminishing": _("diminishing hot spot"),
                  "historical": _("historical hot spot")}
TREND = _("{label} hot spot")  # a label without its own template
CANDIDATES_ONE = _("{n} runway candidate")
CANDIDATES = _("{n} runway candidates")
NO_DATA = _("{factor}: no data")
# -- the whole line ------------------------------------------------------------------------------
NO_FACTOR = _("{score}: no risk factor present")
BELOW_ONE = _("{score}: factors below one point")

#: Terms inside a line's parentheses, the more specific first (the first match is used).
TEMPLATES: tuple[str, ...] = (
    EVENTS_WITHIN_ONE, EVENTS_WITHIN, EVENTS_ONE, EVENTS, SEIZURE, NO_SEIZURE,
    *STRIP_BY_STATE.values(), STRIP, NO_STRIP, BORDER, RIVER, ROUTE, AERODROME, DETECTION,
    QUANTITY, HOTSPOT,
    *TREND_BY_LABEL.values(), TREND, CANDIDATES_ONE, CANDIDATES, NO_DATA)
#: Fields that are numbers: shown with the reader's separators, as many decimals as written.
_NUMBERS = frozenset({"n", "km", "months", "dist", "score", "kg", "z"})
_SUM = re.compile(r"(\d+) = (.+)\Z", re.DOTALL)
_TERM = re.compile(r"(\d+) \((.*)\)\Z", re.DOTALL)


def counted(one: str, many: str, n: str) -> str:
    """Choose the template for a count written ``n`` (English: one thing, or many).

    Examples
    --------
    >>> counted(CANDIDATES_ONE, CANDIDATES, "1").format(n="1")
    '1 runway candidate'
    """
    return one if n == "1" else many


def strip_words(state: str) -> str:
    """Template for the nearest other strip, by its state ("" or unknown: no state).

    Examples
    --------
    >>> strip_words("active").format(dist="3")
    'active strip 3 km away'
    """
    return STRIP_BY_STATE.get(state, STRIP)


def trend_words(label: str) -> str:
    """Template for an emerging-hotspot label (its value goes in ``{label}``).

    Examples
    --------
    >>> trend_words("new").format(label="new")
    'new hot spot'
    """
    return TREND_BY_LABEL.get(label, TREND)


@lru_cache(maxsize=1)
def _patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    return tuple((template_pattern(t), t) for t in TEMPLATES)


Number = Callable[..., str]


def _as_written(value: float, *, digits: int) -> str:
    return f"{value:,.{digits}f}"


def _render(template: str, values: dict[str, str], translate: Callable[[str], str],
            number: Number) -> str | None:
    """``template`` translated with ``values`` (numbers re-written), or None if not its text."""
    return render_template(template, values, translate, number, _NUMBERS)


def _term(text: str, translate: Callable[[str], str], number: Number) -> str:
    for pattern, template in _patterns():
        m = pattern.match(text)
        shown = _render(template, m.groupdict(), translate, number) if m is not None else None
        if shown is not None:
            return shown
    return text


def localize_explanation(text: str, translate: Callable[[str], str],
                         number: Number | None = None) -> str:
    """Show an English risk explanation (:func:`geo.risk.score.explain`) in another language.

    ``translate`` maps an English template to its translation (a
    :class:`~geo.i18n.Translator`); ``number(value, digits=d)`` writes a number with ``d``
    decimals in the reader's convention (the translator's ``number``; by default as written).

    Examples
    --------
    >>> es = {EVENTS: "{n} eventos en {months} meses", BORDER: "a {dist} km de la frontera"}
    >>> localize_explanation("42 = 15 (18 events in 12 months) + 27 (25 km from the border)",
    ...                      lambda s: es.get(s, s))
    '42 = 15 (18 eventos en 12 meses) + 27 (a 25 km de la frontera)'
    """
    fmt = number or _as_written
    total = _SUM.match(text)
    if total is not None:
        terms = [_TERM.match(part) for part in total.group(2).split(" + ")]
        if all(terms):
            return f"{total.group(1)} = " + " + ".join(
                f"{m.group(1)} ({_term(m.group(2), translate, fmt)})" for m in terms if m)
    for template in (NO_FACTOR, BELOW_ONE):
        m = template_pattern(template).match(text)
        shown = _render(template, m.groupdict(), translate, fmt) if m is not None else None
        if shown is not None:
            return shown
    return text
