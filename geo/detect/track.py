"""Follow strips across dates of the same area and give each a lifecycle state.

Candidates of different dates are the same strip when their rectangles overlap, or their
centres are within ``max_centre_m`` and their bearings within ``max_bearing_deg``. Per strip:
``new`` (first seen after the first date), ``active`` (seen now and before, or on the first
date), ``overgrown`` (seen now, evidence below 60 % of the previous sighting's), ``destroyed``
(seen before, absent on the latest date), ``reopened`` (absent on a date in between, seen
again on the latest).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.crs import utm_epsg

OVERGROWN_DROP = 0.6  # evidence falls below this share of the previous sighting's


def _same(a: pd.Series, b: pd.Series, max_centre_m: float, max_bearing_deg: float) -> bool:
    turn = abs(a["bearing_deg"] - b["bearing_deg"]) % 180.0
    aligned = min(turn, 180.0 - turn) <= max_bearing_deg
    close = a.geometry.centroid.distance(b.geometry.centroid) <= max_centre_m
    return bool(aligned and (close or a.geometry.intersects(b.geometry)))


def _state(seen: list[bool], scores: list[float]) -> str:
    if not seen[-1]:
        return "destroyed"
    sightings = [i for i, s in enumerate(seen) if s]
    if len(sightings) == 1:
        return "active" if sightings[0] == 0 else "new"
    if not all(seen[sightings[0]:]):
        return "reopened"
    prev = scores[sightings[-2]]
    return "overgrown" if scores[-1] < OVERGROWN_DROP * prev else "active"


def track_candidates(cands: gpd.GeoDataFrame, *, max_centre_m: float = 250.0,
                     max_bearing_deg: float = 15.0) -> gpd.GeoDataFrame:
    """Match CANDIDATES of several dates into strips, one row each.

    Each row keeps the latest geometry and attributes, with ``state``, ``first_seen`` and
    ``last_seen``; ``candidate_id`` becomes a track id.
    """
    if cands.empty:
        return cands.assign(first_seen=pd.Series(dtype="datetime64[ns, UTC]"),
                            last_seen=pd.Series(dtype="datetime64[ns, UTC]"))
    c = cands.geometry.union_all().centroid
    metric = cands.to_crs(utm_epsg(c.x, c.y))
    dates = sorted(metric["detected_at"].unique())
    tracks: list[dict[int, int]] = []  # date index -> row position
    for di, d in enumerate(dates):
        for pos in np.flatnonzero((metric["detected_at"] == d).to_numpy()):
            row = metric.iloc[pos]
            match = next((t for t in tracks if di not in t and _same(
                metric.iloc[t[max(t)]], row, max_centre_m, max_bearing_deg)), None)
            if match is None:
                tracks.append({di: int(pos)})
            else:
                match[di] = int(pos)
    rows = []
    for k, t in enumerate(tracks, start=1):
        last = cands.iloc[t[max(t)]].copy()
        seen = [i in t for i in range(len(dates))]
        col = "evidence" if "evidence" in cands else "score"
        scores = [float(cands.iloc[t[i]][col]) if i in t else 0.0 for i in range(len(dates))]
        last["state"] = _state(seen, scores)
        last["first_seen"], last["last_seen"] = dates[min(t)], dates[max(t)]
        last["candidate_id"] = f"strip-{k:04d}"
        rows.append(last)
    return gpd.GeoDataFrame(rows, crs=cands.crs).reset_index(drop=True)
