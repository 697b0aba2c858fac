"""Lifecycle states of a strip over dates: new, active, overgrown, destroyed, reopened.

Pure rules, no imagery: :mod:`geo.detect.track` applies them to the candidates of a run, and
the alert store (:mod:`geo.store.merge`) to an alert's detections and recorded absences. A
strip grown over or gone cannot take a plane as it is: both lower its priority one step
(:func:`state_priority`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import pandas as pd
from shapely.geometry.base import BaseGeometry

from geo.detect.reasons import NOTE_DESTROYED, NOTE_OVERGROWN

#: A strip is overgrown when its measure (the tracker's :func:`geo.detect.scene.bare_contrast`,
#: the alert store's score) falls below this share of the previous sighting's: by linear
#: mixing, more than 40 % of its bare ground green again.
OVERGROWN_DROP = 0.6

#: Share of a strip's pixels a scene must see clearly (inside it, not nodata, not cloud) for
#: the scene to observe the strip: below it, not finding the strip says nothing.
MIN_OBSERVED = 0.5

#: Two rectangles are the same strip when they share this much of the smaller one (as in
#: :func:`geo.detect.scene.suppress_overlaps`).
MIN_OVERLAP = 0.3

#: Lifecycle states that lower a strip's priority one step, with the note each adds to the
#: reason: the strip cannot take a plane as it is (a reopened one is left as scored).
STATE_NOTES: dict[str, str] = {"overgrown": NOTE_OVERGROWN, "destroyed": NOTE_DESTROYED}
_LOWER = {"high": "medium", "medium": "low"}
_RAISE = {lower: higher for higher, lower in _LOWER.items()}


def overlap_share(a: BaseGeometry, b: BaseGeometry) -> float:
    """Shared area over the smaller area (a ratio: the same in degrees as in metres nearby)."""
    smaller = min(a.area, b.area)
    return float(a.intersection(b).area / smaller) if smaller > 0 else 0.0


def state_of(seen: Sequence[bool | None], scores: Sequence[float]) -> str:
    """Lifecycle state from the dates that observed the strip (``None``: not observed).

    Examples
    --------
    >>> state_of([True, None], [1.0, 0.0])  # clouds on the latest date: still active
    'active'
    >>> state_of([None, True], [0.0, 1.0])  # never observed before: not known to be new
    'active'
    >>> state_of([False, True, False], [0.0, 1.0, 0.0])
    'destroyed'
    """
    observed = [(s, v) for s, v in zip(seen, scores, strict=True) if s is not None]
    seen_o = [s for s, _ in observed]
    scores_o = [v for _, v in observed]
    if not seen_o[-1]:
        return "destroyed"
    sightings = [i for i, s in enumerate(seen_o) if s]
    if len(sightings) == 1:
        return "active" if sightings[0] == 0 else "new"
    if not all(seen_o[sightings[0]:]):
        return "reopened"
    prev = scores_o[sightings[-2]]
    return "overgrown" if scores_o[-1] < OVERGROWN_DROP * prev else "active"


def lifecycle_state(sightings: Sequence[tuple[datetime, float]],
                    absences: Sequence[datetime]) -> str:
    """Lifecycle of a strip from the dates it was seen and the dates it was clearly absent.

    Parameters
    ----------
    sightings
        (acquisition time, contrast or score) of each scene that found it.
    absences
        Acquisition times of scenes that saw its ground clearly and found nothing there
        (dates that could not see it are left out: they say nothing).

    Returns
    -------
    str
        ``new``, ``active``, ``overgrown``, ``destroyed`` or ``reopened``, by the rule of
        :func:`state_of`, over calendar days (UTC): a day with a sighting is a sighting
        (several tiles of one pass), with its best score.

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> d = [datetime(2024, m, 1, tzinfo=UTC) for m in (1, 2, 3)]
    >>> lifecycle_state([(d[0], 0.9)], [d[1]])
    'destroyed'
    >>> lifecycle_state([(d[0], 0.9), (d[2], 0.8)], [d[1]])
    'reopened'
    >>> lifecycle_state([(d[1], 0.9)], [d[0]])
    'new'
    """
    best: dict[date, float] = {}
    for when, score in sightings:
        day = pd.Timestamp(when).tz_convert("UTC").date()
        best[day] = max(score, best.get(day, score))
    days = sorted(set(best) | {pd.Timestamp(w).tz_convert("UTC").date() for w in absences})
    return state_of([d in best for d in days], [best.get(d, 0.0) for d in days])


def state_priority(priority: str, reason: str | None,
                   state: str | None) -> tuple[str, str]:
    """Return the priority and reason of a strip in ``state``: one step lower if grown over or gone.

    A ``reason`` carrying a note of :data:`STATE_NOTES` was lowered already (by a tracked run,
    or an earlier call): its priority is taken back up one step first, so the result depends
    only on the priority and reason as scored, and calling it again changes nothing. A
    ``low`` priority (near a registered aerodrome, or a low score) stays low, without a note.
    No reason (None) is the empty one.

    Examples
    --------
    >>> p, r = state_priority("high", "1.1 km long, 18 m wide", "overgrown")
    >>> p, r
    ('medium', '1.1 km long, 18 m wide; grown over since an earlier sighting: priority lowered')
    >>> state_priority(p, r, "active")
    ('high', '1.1 km long, 18 m wide')
    >>> state_priority(p, r, "overgrown") == (p, r)
    True
    """
    plain = without_state_note(reason)
    if plain != (reason or ""):  # lowered before: undo it first
        priority = _RAISE.get(priority, priority)
    if state in STATE_NOTES and priority in _LOWER:
        note = STATE_NOTES[state]
        return _LOWER[priority], f"{plain}; {note}" if plain else note
    return priority, plain


def without_state_note(reason: str | None) -> str:
    """Return ``reason`` without the note :func:`state_priority` adds (None: the empty one).

    Examples
    --------
    >>> without_state_note("1.1 km long; gone from the latest imagery that saw its ground: "
    ...                    "priority lowered")
    '1.1 km long'
    """
    notes = (reason or "").split("; ")
    return "; ".join(n for n in notes if n not in STATE_NOTES.values())


def with_state_priorities(frame: pd.DataFrame) -> pd.DataFrame:
    """Apply :func:`state_priority` to each row's ``priority``, ``reason`` and ``state``.

    A frame without a ``priority`` or ``reason`` column is returned as it is.
    """
    if not {"priority", "reason", "state"} <= set(frame.columns):
        return frame
    pairs = [state_priority(p, r, s) for p, r, s
             in zip(frame["priority"], frame["reason"], frame["state"], strict=True)]
    return frame.assign(priority=[p for p, _ in pairs], reason=[r for _, r in pairs])
