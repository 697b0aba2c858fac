"""A candidate's reason: written in English from templates, shown in the reader's language.

The ``reason`` of a runway candidate ("1.1 km long, 18 m wide, bare soil 2.3x redder than
surroundings, 34 km from the nearest registered aerodrome (SPJC); learned multispectral
scorer") is stored with the candidate and with its alert, and read later by anyone: a field
team on a phone in Spanish, an export, the command line. It is therefore stored in English,
made of the templates below, and :func:`localize_reason` shows it in the reader's language:
the notes after ``"; "`` one by one, and the description before them part by part (parts are
separated by ``", "``), each part that matches a template as its translation with the same
values, numbers written with the reader's separators. Text made from no template (a reason
stored by an older version, an aerodrome's name) is shown as written.

Templates are marked with ``_`` (:func:`geo.i18n.marked`) so ``make messages`` extracts them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import pandas as pd

from geo.i18n import marked as _
from geo.i18n import render_template, template_pattern
from geo.imagery import NOTE_GUESSED_RGB, NOTE_RGB_ONLY

if TYPE_CHECKING:
    from geo.i18n import Translator

Frame = TypeVar("Frame", bound=pd.DataFrame)

SIZE = _("{length} km long, {width} m wide")
REDDER = _("bare soil {ratio}x redder than surroundings")
BRIGHTER_RGB = _("{ratio}x brighter than surroundings (RGB only)")
#: The generated sample world's candidates (:mod:`geo.sample.candidates`).
BRIGHTER_SOIL = _("bare soil {ratio}x brighter than surroundings")
FAR = _("{dist} km from the nearest registered aerodrome ({name})")
FAR_UNNAMED = _("{dist} km from the nearest registered aerodrome")
NEAR = _("{dist} km from registered aerodrome {name}: probably that aerodrome, priority lowered")
#: Notes on the scorer (after ``"; "``); those on the imagery come from :mod:`geo.imagery`.
NOTE_LEARNED_MULTISPECTRAL = _("learned multispectral scorer")
NOTE_LEARNED_RGB = _("learned rgb scorer")
NOTE_RULES = _("rule-based score (no trained model)")
#: Notes on the strip's lifecycle state, added where it lowered the priority
#: (:func:`geo.detect.lifecycle.state_priority`).
NOTE_OVERGROWN = _("grown over since an earlier sighting: priority lowered")
NOTE_DESTROYED = _("gone from the latest imagery that saw its ground: priority lowered")

#: Parts of the description, the longest first (a template may span several ", " parts).
PARTS: tuple[str, ...] = (SIZE, NEAR, FAR, FAR_UNNAMED, REDDER, BRIGHTER_RGB, BRIGHTER_SOIL)
NOTES: tuple[str, ...] = (NOTE_RGB_ONLY, NOTE_GUESSED_RGB, NOTE_LEARNED_MULTISPECTRAL,
                          NOTE_LEARNED_RGB, NOTE_RULES, NOTE_OVERGROWN, NOTE_DESTROYED)
#: Fields that are numbers: shown with the reader's separators, as many decimals as stored.
_NUMBERS = frozenset({"length", "width", "ratio", "dist"})


def describe(length_m: float, width_m: float, evidence: str, aerodrome: str | None = None,
             notes: Sequence[str] = ()) -> str:
    """Write the English reason: size, evidence, optional aerodrome part, then the notes.

    Examples
    --------
    >>> describe(1134.0, 18.2, REDDER.format(ratio="2.3"), notes=[NOTE_LEARNED_RGB])
    '1.1 km long, 18 m wide, bare soil 2.3x redder than surroundings; learned rgb scorer'
    """
    parts = [SIZE.format(length=f"{length_m / 1000:.1f}", width=f"{width_m:.0f}"), evidence]
    if aerodrome:
        parts.append(aerodrome)
    return "; ".join([", ".join(parts), *notes])


def aerodrome_part(dist_km: float, name: str | None, *, near_km: float) -> str | None:
    """Write the aerodrome part of a reason (None when the distance is unknown).

    Examples
    --------
    >>> aerodrome_part(34.2, "SPJC", near_km=5.0)
    '34 km from the nearest registered aerodrome (SPJC)'
    >>> aerodrome_part(1.04, "SPJC", near_km=5.0)
    '1.0 km from registered aerodrome SPJC: probably that aerodrome, priority lowered'
    """
    if not np.isfinite(dist_km):
        return None
    if dist_km < near_km:
        return NEAR.format(dist=f"{dist_km:.1f}", name=name)
    if name:
        return FAR.format(dist=f"{dist_km:.0f}", name=name)
    return FAR_UNNAMED.format(dist=f"{dist_km:.0f}")


@lru_cache(maxsize=1)
def _patterns() -> dict[str, tuple[tuple[re.Pattern[str], str, int], ...]]:
    """Per kind (parts, notes): anchored pattern, template and number of ", " parts spanned."""
    return {kind: tuple((template_pattern(t), t, t.count(", ") + 1) for t in templates)
            for kind, templates in (("parts", PARTS), ("notes", NOTES))}


def _render(match: re.Match[str], template: str, translate: Callable[[str], str],
            number: Callable[..., str]) -> str | None:
    return render_template(template, match.groupdict(), translate, number, _NUMBERS)


def localize_reason(reason: str, translate: Callable[[str], str],
                    number: Callable[..., str] | None = None) -> str:
    """Show a stored candidate reason in the reader's language.

    ``translate`` maps an English template to its translation (a
    :class:`~geo.i18n.Translator`); ``number(value, digits=d)`` writes a number with ``d``
    decimals in the reader's convention (the translator's ``number``; by default as stored).

    Examples
    --------
    >>> es = {SIZE: "{length} km de largo, {width} m de ancho"}
    >>> localize_reason("1.1 km long, 18 m wide, an unknown part; learned rgb scorer",
    ...                 lambda s: es.get(s, s))
    '1.1 km de largo, 18 m de ancho, an unknown part; learned rgb scorer'
    """
    def as_stored(value: float, *, digits: int) -> str:
        return f"{value:.{digits}f}"

    fmt = number or as_stored
    description, *notes = reason.split("; ")
    tokens = description.split(", ")
    shown: list[str] = []
    i = 0
    while i < len(tokens):
        for pattern, template, span in _patterns()["parts"]:
            m = pattern.match(", ".join(tokens[i:i + span])) if i + span <= len(tokens) else None
            text = _render(m, template, translate, fmt) if m is not None else None
            if text is not None:
                shown.append(text)
                i += span
                break
        else:
            shown.append(tokens[i])
            i += 1
    out = [", ".join(shown)]
    for note in notes:
        for pattern, template, _span in _patterns()["notes"]:
            m = pattern.match(note)
            text = _render(m, template, translate, fmt) if m is not None else None
            if text is not None:
                out.append(text)
                break
        else:
            out.append(note)
    return "; ".join(out)


def localize_reasons(candidates: Frame, t: Translator) -> Frame:
    """Return ``candidates`` with each ``reason`` in ``t``'s language (a copy; as is in English).

    For popups and files people read; the stored frame is not changed. A missing reason
    stays missing.
    """
    if candidates.empty or "reason" not in candidates.columns or t.language == "en":
        return candidates
    return candidates.assign(reason=[localize_reason(r, t, t.number) if isinstance(r, str)
                                     else r for r in candidates["reason"]])
