"""What changed in an area of interest since a given time (the analyst's last visit).

Pure: the caller says when the last visit was (keeping it is the store's job) and passes the
layers; nothing here reads the clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry.base import BaseGeometry

from geo.errors import SchemaError
from geo.filters import Filters, event_mask, filter_candidates

__all__ = ["STATE_CHANGE_COLUMNS", "Changes", "what_changed"]

#: Columns of :attr:`Changes.state_changes`.
STATE_CHANGE_COLUMNS = ("candidate_id", "changed_at", "from_state", "to_state")


@dataclass(frozen=True)
class Changes:
    """What is new in an area between ``since`` and ``until``."""

    since: datetime
    until: datetime | None
    events: gpd.GeoDataFrame
    candidates: gpd.GeoDataFrame
    state_changes: pd.DataFrame

    @property
    def empty(self) -> bool:
        """True when nothing changed."""
        return not (len(self.events) or len(self.candidates) or len(self.state_changes))

    def summary(self) -> str:
        """One line for a panel header.

        Examples
        --------
        >>> from datetime import UTC
        >>> e = gpd.GeoDataFrame(geometry=[], crs=4326)
        >>> Changes(datetime(2025, 1, 1, tzinfo=UTC), None, e, e,
        ...         pd.DataFrame(columns=STATE_CHANGE_COLUMNS)).summary()
        'nothing new since 2025-01-01 00:00 UTC'
        """
        when = pd.Timestamp(self.since).tz_convert("UTC").strftime("%Y-%m-%d %H:%M UTC")
        if self.empty:
            return f"nothing new since {when}"
        parts = [f"{len(self.events)} new event{'s' * (len(self.events) != 1)}",
                 f"{len(self.candidates)} new runway candidate"
                 f"{'s' * (len(self.candidates) != 1)}",
                 f"{len(self.state_changes)} state change"
                 f"{'s' * (len(self.state_changes) != 1)}"]
        return f"{', '.join(parts)} since {when}"


def _between(column: pd.Series, since: datetime, until: datetime | None) -> np.ndarray:
    when = pd.to_datetime(column, utc=True)
    keep = when >= pd.Timestamp(since)
    if until is not None:
        keep &= when < pd.Timestamp(until)
    return np.asarray(keep.to_numpy(dtype=bool, na_value=False), dtype=bool)


def _state_changes(candidates: gpd.GeoDataFrame, in_area: gpd.GeoDataFrame,
                   history: pd.DataFrame | None, since: datetime,
                   until: datetime | None) -> pd.DataFrame:
    """State changes of candidates in the area: from ``history`` or ``state_changed_at``."""
    ids = set(in_area["candidate_id"].astype(str))
    if history is not None:
        rows = history.iloc[np.flatnonzero(_between(history["changed_at"], since, until))]
        rows = rows[rows["candidate_id"].astype(str).isin(ids)]
        out = rows.reindex(columns=list(STATE_CHANGE_COLUMNS))
    elif "state_changed_at" in candidates.columns:
        rows = in_area.iloc[np.flatnonzero(_between(in_area["state_changed_at"], since, until)
                                           & ~_between(in_area["detected_at"], since, until))]
        out = pd.DataFrame({"candidate_id": rows["candidate_id"].to_numpy(),
                            "changed_at": rows["state_changed_at"].to_numpy(),
                            "from_state": None, "to_state": rows["state"].to_numpy()})
    else:
        out = pd.DataFrame(columns=list(STATE_CHANGE_COLUMNS))
    return out.sort_values("changed_at", kind="stable").reset_index(drop=True)


def what_changed(area: BaseGeometry, since: datetime, *, events: gpd.GeoDataFrame,
                 candidates: gpd.GeoDataFrame, state_history: pd.DataFrame | None = None,
                 until: datetime | None = None, event_time: str = "occurred_at") -> Changes:
    """Find the new events, runway candidates and state changes in ``area`` since then.

    Parameters
    ----------
    area
        Area of interest, Polygon or MultiPolygon in EPSG:4326.
    since, until
        Timezone-aware; a change counts when ``since <= t < until`` (``until`` None: open).
    events
        Events (EPSG:4326); new when ``event_time`` is in the window.
    candidates
        Runway candidates; new when ``detected_at`` is in the window, in the area when the
        rectangle meets it.
    state_history
        Optional log of state changes with :data:`STATE_CHANGE_COLUMNS` (e.g. from the alert
        store). Without it, candidates' ``state_changed_at`` column is used when present:
        a candidate detected before ``since`` whose state changed in the window (its earlier
        state is then unknown, ``from_state`` None).
    event_time
        Which event time says "new": ``occurred_at`` (default), or the time a record
        arrived (e.g. ``ingested_at``) if the layer has one, so that late reports show.

    Returns
    -------
    Changes
        The rows of each kind (original order and index) and the state changes by time.
    """
    for name, t in (("since", since), ("until", until)):
        if t is not None and t.tzinfo is None:
            raise SchemaError(f"{name}={t!r} has no time zone: pass an aware UTC datetime")
    if event_time not in events.columns:
        raise SchemaError(f"events have no column {event_time!r}: use 'occurred_at' or a "
                          "column the layer has")
    space = Filters(aoi=area)
    ev = events.iloc[np.flatnonzero(event_mask(events, space)
                                    & _between(events[event_time], since, until))]
    in_area = filter_candidates(candidates, space, latest=False)  # every detection, each date
    new = in_area.iloc[np.flatnonzero(_between(in_area["detected_at"], since, until))]
    changes = _state_changes(candidates, in_area, state_history, since, until)
    return Changes(since, until, ev, new, changes)
