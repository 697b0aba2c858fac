"""Follow strips across dates of the same area and give each a lifecycle state.

Candidates of different dates are the same strip when their rectangles overlap, or their
centres are within ``max_centre_m`` and their bearings within ``max_bearing_deg``. A date on
which a strip is not detected *observed* it only when one of that date's scenes saw at least
:data:`geo.detect.lifecycle.MIN_OBSERVED` of its ground clearly (inside the scene, not nodata,
not cloud); other dates say nothing about it. Per strip, over the dates that observed it:
``new`` (first seen after a date that observed its ground bare of it), ``active`` (seen now
and before, or on the first date that observed it), ``overgrown`` (seen now, its contrast
with its flanks below 60 % of the previous sighting's: :func:`geo.detect.scene.bare_contrast`),
``destroyed`` (seen before, absent on the latest date that observed it), ``reopened`` (absent
on an observing date in between, seen again on the latest).
A date with a candidate below the operating point (a *faint* one) on the strip does not
observe it absent either: the generator still traced a strip there. An overgrown or destroyed
strip's priority is one step lower, and its reason says so
(:func:`geo.detect.lifecycle.state_priority`).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from geo.crs import utm_epsg
from geo.detect.area import EDGE_MARGIN_M, watched
from geo.detect.coverage import observed_share
from geo.detect.lifecycle import (
    MIN_OBSERVED,
    MIN_OVERLAP,
    overlap_share,
    state_of,
    with_state_priorities,
)
from geo.errors import ImageryError
from geo.imagery import SceneInfo, open_geotiff
from geo.message import Message


def _same(a: pd.Series, b: pd.Series, max_centre_m: float, max_bearing_deg: float) -> bool:
    turn = abs(a["bearing_deg"] - b["bearing_deg"]) % 180.0
    aligned = min(turn, 180.0 - turn) <= max_bearing_deg
    close = a.geometry.centroid.distance(b.geometry.centroid) <= max_centre_m
    return bool(aligned and (close or a.geometry.intersects(b.geometry)))


def _match(metric: gpd.GeoDataFrame, dates: list[pd.Timestamp], max_centre_m: float,
           max_bearing_deg: float) -> list[dict[int, int]]:
    """Tracks as {date index: row position}, greedily, oldest date and first track first."""
    tracks: list[dict[int, int]] = []
    geoms = metric.geometry.to_numpy()
    for di, d in enumerate(dates):
        older = list(tracks)  # the tracks a row of this date may join
        tree = shapely.STRtree([geoms[t[max(t)]] for t in older])
        for pos in np.flatnonzero((metric["detected_at"] == d).to_numpy()):
            row = metric.iloc[pos]
            near = sorted(int(i) for i in tree.query(geoms[pos], predicate="dwithin",
                                                     distance=max_centre_m))
            match = next((older[i] for i in near if di not in older[i] and _same(
                metric.iloc[older[i][max(older[i])]], row, max_centre_m, max_bearing_deg)),
                None)
            if match is None:
                tracks.append({di: int(pos)})
            else:
                match[di] = int(pos)
    return tracks


class _Faint:
    """Candidates below the operating point, by date: where a strip is not clearly gone."""

    def __init__(self, faint: gpd.GeoDataFrame | None) -> None:
        self.by_date: dict[pd.Timestamp, tuple[shapely.STRtree, np.ndarray]] = {}
        if faint is None or faint.empty:
            return
        for when, rows in faint.groupby("detected_at"):
            geoms = rows.geometry.to_numpy()
            self.by_date[pd.Timestamp(when)] = (shapely.STRtree(geoms), geoms)

    def there(self, when: pd.Timestamp, footprint: BaseGeometry) -> bool:
        """Whether a faint candidate of date ``when`` overlaps ``footprint`` enough."""
        if when not in self.by_date:
            return False
        tree, geoms = self.by_date[when]
        return any(overlap_share(footprint, geoms[j]) >= MIN_OVERLAP
                   for j in tree.query(footprint, predicate="intersects"))


class _Looker:
    """Asks the scenes of each date, kept open, whether they saw a footprint clearly."""

    def __init__(self, scenes: Sequence[SceneInfo] | None, stack: ExitStack,
                 min_observed: float) -> None:
        self.all_observe = scenes is None
        self.min_observed = min_observed
        self.by_date: dict[pd.Timestamp, list[tuple[SceneInfo, Any]]] = {}
        for info in scenes or ():
            if info.acquired is not None:
                src = stack.enter_context(open_geotiff(info.path))
                self.by_date.setdefault(pd.Timestamp(info.acquired, tz="UTC"), []).append(
                    (info, src))
        undated = sorted(info.path.name for info in scenes or () if info.acquired is None)
        if undated:
            raise ImageryError(Message("a scene without an acquisition date cannot be "
                                       "tracked: {names}", names=", ".join(undated)))

    def observed(self, when: pd.Timestamp, footprint: BaseGeometry) -> bool:
        """Whether a scene of date ``when`` saw ``min_observed`` of ``footprint`` clearly."""
        return self.all_observe or any(
            observed_share(info, footprint, src=src) >= self.min_observed
            for info, src in self.by_date.get(when, []))


def track_candidates(cands: gpd.GeoDataFrame, *, scenes: Sequence[SceneInfo] | None = None,
                     max_centre_m: float = 250.0, max_bearing_deg: float = 15.0,
                     min_observed: float = MIN_OBSERVED,
                     faint: gpd.GeoDataFrame | None = None,
                     area: BaseGeometry | None = None) -> gpd.GeoDataFrame:
    """Match CANDIDATES of several dates into strips, one row each.

    Parameters
    ----------
    cands
        CANDIDATES (EPSG:4326) with ``detected_at`` (one date per scene) and ``bearing_deg``;
        ``bare_contrast`` (else ``evidence``, else ``score``) measures an overgrowing strip.
    scenes
        The dated scenes the candidates came from, those that found nothing included. When
        given, a date on which a strip is not detected counts as absent only where one of
        that date's scenes saw its ground clearly (:func:`geo.detect.coverage.observed_share`
        of the strip's latest rectangle >= ``min_observed``); a date with no candidate at all
        is still a date. When None, every date counts as observing every strip (the
        candidates alone say nothing of clouds or footprints).
    faint
        Candidates of the same run that scored below the operating point
        (:attr:`geo.detect.run.RunResult.faint`): a date with one overlapping a strip
        (:data:`geo.detect.lifecycle.MIN_OVERLAP`) does not count as absent for it, since the
        generator still traced something strip-shaped there. Without them, a faint strip
        flips between destroyed and reopened as its score crosses the operating point.
    area
        The area of interest the candidates were kept in (EPSG:4326; :mod:`geo.detect.area`):
        a date observes a strip only where any candidate matching or overlapping it would
        have been kept, i.e. where the strip lies :data:`geo.detect.area.EDGE_MARGIN_M` (or
        ``max_centre_m``, if more) inside the area; nearer its edge a strip missed is
        unobserved, not gone.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per strip: its latest geometry and attributes, with ``state``, ``first_seen``
        and ``last_seen`` (dates detected), ``last_observed`` (the latest date that observed
        its ground, seen or not) and ``unobserved`` (the dates after its first sighting that
        said nothing of it: clouded, off the scene, or a faint candidate there; ISO dates
        joined by ``"; "``); ``candidate_id`` becomes a track id. Where ``priority`` and
        ``reason`` are given, an overgrown or destroyed strip's priority is one step lower
        and its reason ends with a note saying so.

    Raises
    ------
    geo.errors.ImageryError
        A scene has no acquisition date, or cannot be read where a strip lies.
    """
    stamp = pd.Series(dtype="datetime64[ns, UTC]")
    if cands.empty:
        return cands.assign(first_seen=stamp, last_seen=stamp, last_observed=stamp,
                            unobserved=pd.Series(dtype="object"))
    with ExitStack() as stack:
        looker = _Looker(scenes, stack, min_observed)
        traced = _Faint(faint)
        c = cands.geometry.union_all().centroid
        metric = cands.to_crs(utm_epsg(c.x, c.y))
        dates = sorted(set(metric["detected_at"].unique()) | set(looker.by_date))
        tracks = _match(metric, dates, max_centre_m, max_bearing_deg)
        inside = (watched(cands.geometry, area, margin_m=max(EDGE_MARGIN_M, max_centre_m))
                  if area is not None else np.ones(len(cands), dtype=bool))
        col = next(c for c in ("bare_contrast", "evidence", "score") if c in cands)
        values = cands[col].to_numpy(dtype=float)
        geoms = cands.geometry.to_numpy()
        lasts, states, firsts, latest, observed, unobserved = [], [], [], [], [], []
        for t in tracks:
            last = t[max(t)]
            seen: list[bool | None] = [True if i in t else None for i in range(len(dates))]
            first = min(t)
            for i in range(len(dates)):
                if i not in t and (i > first or not any(s is False for s in seen[:i])) \
                        and not traced.there(dates[i], geoms[last]) and inside[last] \
                        and looker.observed(dates[i], geoms[last]):
                    seen[i] = False  # absent where its ground was seen (before: once is enough)
            lasts.append(last)
            states.append(state_of(seen, [values[t[i]] if i in t else 0.0
                                          for i in range(len(dates))]))
            firsts.append(dates[first])
            latest.append(dates[max(t)])
            observed.append(dates[max(i for i, s in enumerate(seen) if s is not None)])
            unobserved.append("; ".join(pd.Timestamp(dates[i]).date().isoformat()
                                        for i in range(first, len(dates)) if seen[i] is None))
    out = cands.iloc[lasts].reset_index(drop=True)
    return with_state_priorities(out.assign(  # grown over or gone: one step lower
        state=states, first_seen=pd.DatetimeIndex(firsts), last_seen=pd.DatetimeIndex(latest),
        last_observed=pd.DatetimeIndex(observed), unobserved=unobserved,
        candidate_id=[f"strip-{k:04d}" for k in range(1, len(tracks) + 1)]))

