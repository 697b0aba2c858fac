"""Emerging hot spots: Mann-Kendall trends of monthly counts, combined with Gi* classes.

The Mann-Kendall test asks whether a cell's monthly counts tend to rise (or fall) over time
without assuming a shape or a distribution. It runs on every cell at once: one NumPy pass per
month over a cells x months matrix. The hot-spot classes come from
:func:`geo.risk.hotspots.count_hotspot_test` (Gi* z-scores, exact p-values, BH at ``alpha``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.special import ndtr

from geo.errors import SchemaError
from geo.risk.grids import CellGrid
from geo.risk.hotspots import benjamini_hochberg, count_hotspot_test
from geo.risk.neighbours import (
    LandTest,
    clipping_box,
    neighbour_matrix,
    study_areas_km2,
    study_matrix,
)

__all__ = [
    "EMERGING_LABELS",
    "MannKendall",
    "compute_emerging_hotspots",
    "emerging_labels",
    "mann_kendall",
]

EmergingLabel = Literal["new", "intensifying", "persistent", "diminishing", "historical",
                        "none"]
EMERGING_LABELS: tuple[str, ...] = ("new", "intensifying", "persistent", "diminishing",
                                    "historical", "none")


@dataclass(frozen=True)
class MannKendall:
    """Mann-Kendall test per series: statistic S, its variance, z, two-sided p and tau-b.

    ``p`` is NaN where the series does not vary (nothing to test); ``z`` is then 0.
    """

    s: np.ndarray
    var_s: np.ndarray
    z: np.ndarray
    p: np.ndarray
    tau: np.ndarray


def _tie_sums(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: sum of t(t-1)(2t+5) and of t(t-1)/2 over groups of ``t`` equal values."""
    rows = x.shape[0]
    srt = np.sort(x, axis=1)
    start = np.ones_like(srt, dtype=bool)
    start[:, 1:] = srt[:, 1:] != srt[:, :-1]
    run = np.cumsum(start.ravel()) - 1  # run number of every element, row after row
    t = np.bincount(run).astype("float64")
    run_row = np.repeat(np.arange(rows), start.sum(axis=1))
    var_ties = np.bincount(run_row, weights=t * (t - 1) * (2 * t + 5), minlength=rows)
    pair_ties = np.bincount(run_row, weights=t * (t - 1) / 2, minlength=rows)
    return var_ties, pair_ties


def mann_kendall(series: np.ndarray) -> MannKendall:
    """Mann-Kendall trend test of each row of ``series`` (time along the last axis).

    Parameters
    ----------
    series
        Shape ``(t,)`` or ``(n, t)``: ``n`` series of ``t`` equally spaced values (counts).

    Returns
    -------
    MannKendall
        Arrays of shape ``(n,)`` (or scalars' 0-d arrays for one series).

    Notes
    -----
    ``S = sum_{i<j} sign(x_j - x_i)``; ``Var(S) = [t(t-1)(2t+5) - sum_g g(g-1)(2g+5)] / 18``
    over groups of ``g`` tied values; ``z = (S - sign(S)) / sqrt(Var(S))`` (continuity
    correction); ``p = 2 (1 - Phi(|z|))``. ``tau`` is Kendall's tau-b between time and value,
    the same number as ``scipy.stats.kendalltau(range(t), x)``. Memory: a few copies of the
    matrix; time: ``t`` passes over it.

    Examples
    --------
    >>> r = mann_kendall(np.arange(10.0))
    >>> int(r.s), float(r.var_s), round(float(r.z), 4), round(float(r.p), 6)
    (45, 125.0, 3.9355, 8.3e-05)
    """
    x = np.asarray(series, dtype="float64")
    one = x.ndim == 1
    x = np.atleast_2d(x)
    n, t = x.shape
    if t < 2:
        raise SchemaError(f"a trend needs at least 2 periods, got {t}")
    s = np.zeros(n)
    for i in range(t - 1):
        s += np.sign(x[:, i + 1:] - x[:, i:i + 1]).sum(axis=1)
    var_ties, pair_ties = _tie_sums(x)
    var_s = (t * (t - 1) * (2 * t + 5) - var_ties) / 18.0
    pairs = t * (t - 1) / 2.0
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(var_s > 0, (s - np.sign(s)) / np.sqrt(var_s), 0.0)
        tau = np.where(pairs > pair_ties, s / np.sqrt(pairs * (pairs - pair_ties)), np.nan)
    p = np.where(var_s > 0, 2.0 * ndtr(-np.abs(z)), np.nan)
    if one:
        return MannKendall(s[0], var_s[0], z[0], p[0], tau[0])
    return MannKendall(s, var_s, z, p, tau)


def emerging_labels(*, hot_all: np.ndarray, hot_recent: np.ndarray, hot_before: np.ndarray,
                    trend: np.ndarray) -> np.ndarray:
    """Label cells from their Gi* classes and their trend (the rule, in this order).

    1. ``"new"``: hot in the recent window and *not* hot in the window before it.
    2. Otherwise, when hot over the whole window *and* in the recent window:
       ``"intensifying"`` if the trend is significantly upward (``trend > 0``),
       ``"diminishing"`` if significantly downward (``trend < 0``), else ``"persistent"``.
    3. Otherwise, when hot over the whole window but not in the recent one: ``"historical"``
       (a cell hot from January to September and quiet since was called persistent, and so
       were its neighbours; risk review, 2026-12-05).
    4. Otherwise ``"none"`` (a rising trend alone, without a hot spot, is not labelled).

    How it compares with ESRI's Emerging Hot Spot Analysis: the same words where they
    apply, and, like ESRI, persistent, intensifying and diminishing require the latest
    period (here the recent window) to be hot. ESRI tests Gi* at every time step (90 % of
    them hot for persistent) and runs Mann-Kendall on the Gi* z series; here Gi* is tested
    over three windows (whole, recent, before) and Mann-Kendall runs on the cell's monthly
    counts. ESRI's consecutive, sporadic and oscillating patterns are not told apart.

    Parameters
    ----------
    hot_all, hot_recent, hot_before
        Booleans: significant Gi* hot spot over the whole window, the recent months, and the
        months before them.
    trend
        +1 (significant rise), -1 (significant fall) or 0 per cell.

    Examples
    --------
    >>> t, f = True, False
    >>> emerging_labels(hot_all=np.array([f, t, t, t, f, t]),
    ...                 hot_recent=np.array([t, t, t, t, f, f]),
    ...                 hot_before=np.array([f, t, t, t, f, t]),
    ...                 trend=np.array([0, 1, -1, 0, 1, 0])).tolist()
    ['new', 'intensifying', 'diminishing', 'persistent', 'none', 'historical']
    """
    new = hot_recent & ~hot_before
    by_trend = np.where(trend > 0, "intensifying", np.where(trend < 0, "diminishing",
                                                            "persistent"))
    was = np.where(hot_recent, by_trend, "historical")
    return np.where(new, "new", np.where(hot_all, was, "none")).astype(object)


def _hot(counts: np.ndarray, weights: sp.csr_matrix, areas: np.ndarray,
         alpha: float) -> tuple[np.ndarray, np.ndarray]:
    gi = count_hotspot_test(counts, weights, areas=areas)
    return (gi.q <= alpha) & (gi.direction > 0), gi.z


def compute_emerging_hotspots(events: gpd.GeoDataFrame, grid: CellGrid, *,
                              alpha: float = 0.05, recent_months: int = 3, k: int = 1,
                              bounds: tuple[float, float, float, float] | None = None,
                              months: pd.DatetimeIndex | None = None,
                              land: LandTest | None = None) -> pd.DataFrame:
    """Emerging hot spots per cell: Gi* over whole/recent/earlier windows plus Mann-Kendall.

    Parameters
    ----------
    events
        Events in EPSG:4326 with ``occurred_at`` (UTC).
    grid
        Cell kind and size.
    alpha
        False-discovery rate for the hot-spot classes (each of the three windows corrected
        over all study cells) and for the trends (Benjamini-Hochberg over the cells whose
        series vary).
    recent_months
        Length of the recent window: the last ``recent_months`` months of ``months``.
    k
        Neighbourhood order for Gi*.
    bounds
        Study area in degrees; None: the events' bounding box.
    months
        Months analysed (first days, naive UTC); None: first to last event.
    land
        Keep only land cells (and cells with events) as the background
        (:func:`geo.risk.neighbours.study_matrix`); None: every cell of the box.

    Returns
    -------
    pandas.DataFrame
        One row per study cell: ``cell``, ``code``, ``lon``, ``lat``, ``total``, ``z``
        (whole window), ``z_recent``, ``mk_s``, ``mk_z``, ``mk_q``, ``tau``, ``trend`` (+1, -1,
        0) and ``label`` (see :func:`emerging_labels` for the rule).
    """
    cells = study_matrix(events, grid, bounds=bounds, months=months, land=land)
    t = cells.counts.shape[1]
    if not 1 <= recent_months < t:
        raise SchemaError(f"emerging hot spots compare the last {recent_months} month(s) with "
                          f"those before, but the data span {t} month(s): choose a longer "
                          "window or a shorter recent_months (at least 1)")
    w = neighbour_matrix(cells.codes, grid, k=k)
    x = cells.counts.astype("float64")
    areas = study_areas_km2(cells.codes, grid, clipping_box(events, bounds))
    hot_all, z_all = _hot(x.sum(axis=1), w, areas, alpha)
    hot_recent, z_recent = _hot(x[:, -recent_months:].sum(axis=1), w, areas, alpha)
    hot_before, _ = _hot(x[:, :-recent_months].sum(axis=1), w, areas, alpha)
    mk = mann_kendall(x)
    q = benjamini_hochberg(mk.p)
    trend = np.where(q <= alpha, np.sign(mk.s), 0).astype(np.int64)
    label = emerging_labels(hot_all=hot_all, hot_recent=hot_recent, hot_before=hot_before,
                            trend=trend)
    return pd.DataFrame({"cell": cells.names, "code": cells.codes, "lon": cells.lon,
                         "lat": cells.lat, "total": cells.counts.sum(axis=1), "z": z_all,
                         "z_recent": z_recent, "mk_s": mk.s, "mk_z": mk.z, "mk_q": q,
                         "tau": mk.tau, "trend": trend, "label": label})
