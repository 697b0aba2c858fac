"""Tracking strips across dates (``geo.detect.track``): matching candidates into strips.

``python -m geo.detect --track`` matches each date's candidates with the strips seen before
(same strip: rectangles that overlap, or centres within 250 m, with bearings within 15
degrees). The tracker finds the strips a candidate may join through an STRtree of the
strips' latest rectangles; the obvious baseline (the tracker before it, kept here as
:func:`naive_match`) tries every strip seen before, which is quadratic. Both give the same
tracks (checked here on every run, and by a property test). The machine limit is one bulk
``STRtree.query(..., predicate="dwithin")`` pairing every candidate with every other within
250 m: the C-level spatial join any index-based matching pays at least.

The candidates are synthetic and seeded: strips spread over 3 x 3 degrees of the Peruvian
Amazon (EPSG:4326, matched in UTM 18S), seen on each of four dates with probability 0.8,
moved by up to 30 m and turned by up to 3 degrees, plus one false candidate for every five
strips on each date. ``track_candidates`` runs without scenes (the imagery's cost,
reading each scene under each strip, is not part of matching).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Row, best_of
from geo.detect.track import _match, track_candidates
from geo.runway_geometry import oriented_rectangle

DATES = [pd.Timestamp(d, tz="UTC") for d in ("2023-07-15", "2024-01-20", "2024-08-02",
                                              "2025-02-11")]
MAX_CENTRE_M, MAX_BEARING_DEG = 250.0, 15.0
T = TypeVar("T")


def synthetic_candidates(strips: int, *, seed: int = 7) -> gpd.GeoDataFrame:
    """Candidates of ``strips`` strips over :data:`DATES` (EPSG:4326), see the module doc."""
    rng = np.random.default_rng(seed)
    lon = rng.uniform(-75.0, -72.0, strips)
    lat = rng.uniform(-11.0, -8.0, strips)
    length = rng.uniform(500.0, 1700.0, strips)
    bearing = rng.uniform(0.0, 180.0, strips)
    rows: list[dict[str, object]] = []
    geoms = []
    for d in DATES:
        seen = np.flatnonzero(rng.random(strips) < 0.8)
        false = rng.integers(0, strips, strips // 5)
        for i, fake in [(i, False) for i in seen] + [(i, True) for i in false]:
            dx, dy = rng.uniform(-30.0, 30.0, 2) / 111_000.0
            away = rng.uniform(0.05, 0.2) if fake else 0.0  # a false one lies 5-20 km off
            turn = rng.uniform(-3.0, 3.0)
            geoms.append(oriented_rectangle(lon[i] + dx + away, lat[i] + dy, length_m=length[i],
                                            width_m=20.0, bearing_deg=bearing[i] + turn))
            rows.append({"detected_at": d, "bearing_deg": (bearing[i] + turn) % 180.0,
                         "score": rng.uniform(0.8, 1.0), "candidate_id": f"c{len(rows)}"})
    return gpd.GeoDataFrame(rows, geometry=geoms, crs=4326)


def naive_match(metric: gpd.GeoDataFrame, dates: list[pd.Timestamp], max_centre_m: float,
                max_bearing_deg: float) -> list[dict[int, int]]:
    """Match as the tracker does, without a spatial index: every older track, first first."""
    tracks: list[dict[int, int]] = []
    for di, d in enumerate(dates):
        older = list(tracks)
        for pos in np.flatnonzero((metric["detected_at"] == d).to_numpy()):
            a = metric.iloc[pos]
            for t in older:
                if di in t:
                    continue
                b = metric.iloc[t[max(t)]]
                turn = abs(a.bearing_deg - b.bearing_deg) % 180.0
                near = (a.geometry.centroid.distance(b.geometry.centroid) <= max_centre_m
                        or a.geometry.intersects(b.geometry))
                if min(turn, 180.0 - turn) <= max_bearing_deg and near:
                    t[di] = int(pos)
                    break
            else:
                tracks.append({di: int(pos)})
    return tracks


def _timed(fn: Callable[[], T]) -> tuple[float, T]:
    """Wall time in seconds of one call, and what it returned."""
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def _pairs(geoms: np.ndarray) -> np.ndarray:
    """Every pair of rectangles within :data:`MAX_CENTRE_M` of each other (the floor)."""
    pairs: np.ndarray = shapely.STRtree(geoms).query(geoms, predicate="dwithin",
                                                     distance=MAX_CENTRE_M)
    return pairs


def run(quick: bool = False) -> list[Row]:
    """Match and track two sizes; the quadratic baseline on the smaller one only."""
    sizes = (60, 150) if quick else (400, 1200)
    rows = []
    for k, strips in enumerate(sizes):
        cands = synthetic_candidates(strips)
        metric = cands.to_crs(32718)
        n = len(cands)
        indexed, tracks = _timed(partial(_match, metric, DATES, MAX_CENTRE_M, MAX_BEARING_DEG))
        floor = best_of(partial(_pairs, metric.geometry.to_numpy()))
        whole, out = _timed(partial(track_candidates, cands))
        per = f"{n:,} candidates, {len(tracks):,} strips"
        if k == 0:
            naive, same = _timed(partial(naive_match, metric, DATES, MAX_CENTRE_M,
                                         MAX_BEARING_DEG))
            if same != tracks:
                raise AssertionError("the indexed matching and the plain rule disagree")
            rows.append(Row(f"match {n:,} candidates over 4 dates (STRtree)", indexed, "s",
                            naive, "every older strip (the tracker before)", floor,
                            "one bulk STRtree dwithin query of all of them", per))
        else:
            rows.append(Row(f"match {n:,} candidates over 4 dates (STRtree)", indexed, "s",
                            None, "", floor, "one bulk STRtree dwithin query of all of them",
                            per + "; baseline not run (quadratic)"))
        rows.append(Row(f"track_candidates, {n:,} candidates (matching, states, rows)",
                        n / whole, "candidates/s", None, "", None, "",
                        f"{len(out):,} strips in {whole:.1f} s"))
    return rows
