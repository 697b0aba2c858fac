"""Explainable risk scores (0-100) for runway candidates and for cells.

A score is a weighted mean of factors, each first normalised to [0, 1], times 100::

    score = 100 * sum_f w_f s_f / sum_f w_f      (over the factors with data for that row)

so every factor's **points** are ``100 w_f s_f / sum w`` and the points add up to the score.
A factor whose input is missing (NaN: no river layer, say) is left out of both sums for that
row and shown as "no data"; it neither adds nor removes points. An infinite distance is data:
there is no such feature at all (no recent seizure among the events, no other strip), so the
factor keeps its weight and gives 0 points, and the other factors' points do not grow.
Normalisations (all linear, so an analyst can redo them by hand):

- counts: ``min(1, n / full)`` (e.g. 20 events or more in the window give full points);
- "near" distances (seizure, other candidate, border, river, route):
  ``max(0, 1 - d / reach_km)``: full points at 0 km, none from ``reach_km`` on;
- remoteness from registered aerodromes: ``min(1, d / remote_km)``;
- detection score: as is (0-1); Gi* z-score: ``clip(z / z_full, 0, 1)``;
- emerging-hotspot label: new 1, intensifying 1, persistent 0.6, diminishing 0.3,
  historical 0.15, none 0.

Weights live in one frozen :class:`RiskWeights` (a cache key) that the sidebar edits.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import ConfigError, SchemaError
from geo.message import Message
from geo.risk import wording as words
from geo.risk.proximity import count_within_km

__all__ = [
    "CANDIDATE_FACTORS",
    "CELL_FACTORS",
    "TREND_POINTS",
    "Contribution",
    "Factor",
    "RiskWeights",
    "explain",
    "score_candidates",
    "score_cells",
    "score_table",
]

#: Share of full points per emerging-hotspot label.
TREND_POINTS = {"new": 1.0, "intensifying": 1.0, "persistent": 0.6, "diminishing": 0.3,
                "historical": 0.15, "none": 0.0}


@dataclass(frozen=True)
class RiskWeights:
    """Weights of the risk factors (relative, >= 0) and the scales that normalise them.

    Parameters
    ----------
    events, quantity, seizure, candidate, border, river, route, aerodrome, detection, hotspot,
    trend
        Relative weights; only their ratios matter. ``events``, ``candidate`` and ``border``
        serve both candidates and cells.
    window_months
        Events and seizures count when at most this many months old.
    events_radius_km
        Around a candidate, events within this great-circle distance count.
    events_full, candidates_full, kg_full
        Counts (events; candidates in a cell) and kilograms that give full points.
    reach_km
        Distance at which a "near" factor falls to zero points, km.
    remote_km
        Distance from the nearest aerodrome that gives full remoteness points, km.
    z_full
        Gi* z-score that gives full hot-spot points.

    Raises
    ------
    ConfigError
        On a negative or non-finite weight, all weights zero, or a non-positive scale.

    Examples
    --------
    >>> RiskWeights(border=0.0).border
    0.0
    >>> RiskWeights(events=-1.0)
    Traceback (most recent call last):
    ...
    geo.errors.ConfigError: risk weight events=-1.0: expected a finite number >= 0
    """

    events: float = 3.0
    quantity: float = 1.0
    seizure: float = 2.0
    candidate: float = 2.0
    border: float = 2.0
    river: float = 1.0
    route: float = 2.0
    aerodrome: float = 1.0
    detection: float = 1.0
    hotspot: float = 3.0
    trend: float = 2.0
    window_months: int = 12
    events_radius_km: float = 25.0
    events_full: float = 20.0
    candidates_full: float = 3.0
    kg_full: float = 1000.0
    reach_km: float = 50.0
    remote_km: float = 100.0
    z_full: float = 4.0

    def __post_init__(self) -> None:
        weights = self.weights()
        for name, value in weights.items():
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ConfigError(Message("risk weight {name}={value}: expected a finite number "
                                          ">= 0", name=name, value=repr(value)))
        if sum(weights.values()) <= 0:
            raise ConfigError(Message("every risk weight is 0: give at least one factor a "
                                      "weight"))
        for name in ("events_radius_km", "events_full", "candidates_full", "kg_full",
                     "reach_km", "remote_km", "z_full"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(Message("{name}={value}: expected a finite number > 0",
                                          name=name, value=repr(value)))
        if not (isinstance(self.window_months, int) and self.window_months >= 1):
            raise ConfigError(Message("window_months={value}: expected an integer >= 1",
                                      value=repr(self.window_months)))

    def weights(self) -> dict[str, float]:
        """Return the factor weights by name (the scales left out)."""
        return {k: v for k, v in asdict(self).items() if k in _WEIGHT_NAMES}


_WEIGHT_NAMES = ("events", "quantity", "seizure", "candidate", "border", "river", "route",
                 "aerodrome", "detection", "hotspot", "trend")


class Contribution(NamedTuple):
    """One line of a score's breakdown: the factor, its raw value with unit, its points."""

    factor: str
    value: float
    unit: str
    points: float
    text: str


@dataclass(frozen=True)
class Factor:
    """One risk factor: its name (= weight name), unit, normalisation to [0, 1] and wording.

    ``describe(value, weights, note)`` words the raw value for the explanation; ``note`` is
    an optional qualifier (a strip's state, an emerging-hotspot label) or "".
    """

    name: str
    unit: str
    normalise: Callable[[np.ndarray, RiskWeights], np.ndarray]
    describe: Callable[[float, RiskWeights, str], str]


def _near(d: np.ndarray, w: RiskWeights) -> np.ndarray:
    return np.asarray(np.clip(1.0 - d / w.reach_km, 0.0, 1.0))


def _upto(full: Callable[[RiskWeights], float]) -> Callable[[np.ndarray, RiskWeights],
                                                            np.ndarray]:
    return lambda v, w: np.asarray(np.clip(v / full(w), 0.0, 1.0))


def _trend(v: np.ndarray, w: RiskWeights) -> np.ndarray:
    # score_cells has already turned the label into its share (TREND_POINTS).
    return np.asarray(np.clip(v, 0.0, 1.0))


def _num(value: float, digits: int = 0) -> str:
    """Write a value of an explanation: ``digits`` decimals, thousands grouped ("1,234")."""
    return f"{value:,.{digits}f}"


def _km(value: float) -> str:
    return _num(value, 0 if float(value).is_integer() else 1)


CANDIDATE_FACTORS: tuple[Factor, ...] = (
    Factor("events", "events", _upto(lambda w: w.events_full),
           lambda v, w, _: words.counted(words.EVENTS_WITHIN_ONE, words.EVENTS_WITHIN, _num(v))
           .format(n=_num(v), km=_km(w.events_radius_km), months=w.window_months)),
    Factor("seizure", "km", _near, lambda v, w, _: words.SEIZURE.format(dist=_num(v))
           if math.isfinite(v) else words.NO_SEIZURE),
    Factor("candidate", "km", _near,
           lambda v, w, state: words.strip_words(state).format(dist=_num(v))
           if math.isfinite(v) else words.NO_STRIP),
    Factor("border", "km", _near, lambda v, w, _: words.BORDER.format(dist=_num(v))),
    Factor("river", "km", _near, lambda v, w, _: words.RIVER.format(dist=_num(v))),
    Factor("route", "km", _near, lambda v, w, _: words.ROUTE.format(dist=_num(v))),
    Factor("aerodrome", "km", _upto(lambda w: w.remote_km),
           lambda v, w, _: words.AERODROME.format(dist=_num(v))),
    Factor("detection", "score", _upto(lambda w: 1.0),
           lambda v, w, _: words.DETECTION.format(score=_num(v, 2))),
)
CELL_FACTORS: tuple[Factor, ...] = (
    Factor("events", "events", _upto(lambda w: w.events_full),
           lambda v, w, _: words.counted(words.EVENTS_ONE, words.EVENTS, _num(v))
           .format(n=_num(v), months=w.window_months)),
    Factor("quantity", "kg", _upto(lambda w: w.kg_full),
           lambda v, w, _: words.QUANTITY.format(kg=_num(v), months=w.window_months)),
    Factor("hotspot", "z", _upto(lambda w: w.z_full),
           lambda v, w, _: words.HOTSPOT.format(z=_num(v, 1))),
    Factor("trend", "share", _trend,
           lambda v, w, label: words.trend_words(label).format(label=label)),
    Factor("candidate", "candidates", _upto(lambda w: w.candidates_full),
           lambda v, w, _: words.counted(words.CANDIDATES_ONE, words.CANDIDATES, _num(v))
           .format(n=_num(v))),
    Factor("border", "km", _near, lambda v, w, _: words.BORDER.format(dist=_num(v))),
)


def _display_points(points: Sequence[float]) -> list[int]:
    """Round points to integers that add up to the rounded total (largest remainder)."""
    values = np.asarray(points, dtype="float64")
    target = round(math.fsum(values))
    floors = np.floor(values)
    extra = int(target - floors.sum())
    order = np.argsort(-(values - floors), kind="stable")
    floors[order[:max(extra, 0)]] += 1
    return [int(v) for v in floors]


def explain(score: float, breakdown: Sequence[Contribution]) -> str:
    """One line a commander can check: the score as the sum of its factors' points.

    Points are rounded so that the shown numbers add up to the shown score.

    Examples
    --------
    >>> parts = [Contribution("events", 18, "events", 15.4, "18 events in 12 months"),
    ...          Contribution("border", 25, "km", 26.6, "25 km from the border")]
    >>> explain(42.0, parts)
    '42 = 15 (18 events in 12 months) + 27 (25 km from the border)'
    """
    shown = [c for c in breakdown if c.points > 0]
    if not shown:
        return words.NO_FACTOR.format(score=round(score))
    ints = _display_points([c.points for c in shown])
    terms = " + ".join(f"{p} ({c.text})" for p, c in zip(ints, shown, strict=True) if p > 0)
    return f"{sum(ints)} = {terms}" if terms else words.BELOW_ONE.format(score=sum(ints))


def score_table(raw: pd.DataFrame, factors: Sequence[Factor], weights: RiskWeights, *,
                extras: pd.DataFrame | None = None) -> pd.DataFrame:
    """Score rows of raw factor values (one column per factor name; NaN: no data, inf: none).

    Returns
    -------
    pandas.DataFrame
        Same index: ``risk_score`` (float, 0-100, exactly the sum of the points),
        ``risk_breakdown`` (list of :class:`Contribution`, every factor, in factor order) and
        ``risk_explanation`` (:func:`explain`).
    """
    names = [f.name for f in factors]
    w = np.array([weights.weights()[n] for n in names], dtype="float64")
    values = np.column_stack([raw[n].to_numpy(dtype="float64", na_value=np.nan)
                              if n in raw.columns else np.full(len(raw), np.nan)
                              for n in names]) if names else np.zeros((len(raw), 0))
    have = ~np.isnan(values)
    shares = np.column_stack([f.normalise(np.where(have[:, i], values[:, i], 0.0), weights)
                              for i, f in enumerate(factors)])
    shares = np.where(np.isfinite(values), shares, 0.0)  # inf: none at all, no points
    total = have.astype("float64") @ w
    with np.errstate(invalid="ignore", divide="ignore"):
        points = np.where(have & (total[:, None] > 0), 100.0 * shares * w / total[:, None], 0.0)
    notes = _notes(extras, names, len(raw))
    vals, haves, pts = values.tolist(), have.tolist(), points.tolist()
    rows = [_breakdown(vals[r], haves[r], pts[r], factors, weights, [n[r] for n in notes])
            for r in range(len(raw))]
    scores = [math.fsum(c.points for c in row) for row in rows]
    return pd.DataFrame({"risk_score": scores, "risk_breakdown": rows,
                         "risk_explanation": [explain(s, b) for s, b in zip(scores, rows,
                                                                              strict=True)]},
                        index=raw.index)


def _notes(extras: pd.DataFrame | None, names: Sequence[str], n: int) -> list[list[str]]:
    """Per factor, the text that qualifies its description (e.g. a strip's state), or ""."""
    out = []
    for name in names:
        if extras is None or name not in extras.columns:
            out.append([""] * n)
            continue
        col = extras[name].astype("string").fillna("")
        out.append([str(v) for v in col.tolist()])
    return out


def _breakdown(values: list[float], have: list[bool], points: list[float],
               factors: Sequence[Factor], weights: RiskWeights,
               notes: list[str]) -> list[Contribution]:
    return [Contribution(f.name, values[i], f.unit, points[i],
                         f.describe(values[i], weights, notes[i]) if have[i]
                         else words.NO_DATA.format(factor=f.name))
            for i, f in enumerate(factors)]


def _window(events: gpd.GeoDataFrame, now: datetime, months: int) -> gpd.GeoDataFrame:
    if now.tzinfo is None:
        raise SchemaError(f"now={now!r} has no time zone: pass an aware UTC datetime")
    when = pd.to_datetime(events["occurred_at"], utc=True)
    stamp = pd.Timestamp(now).tz_convert("UTC")
    keep = ((when > stamp - pd.DateOffset(months=months)) & (when <= stamp)).to_numpy(
        dtype=bool, na_value=False)
    return events.iloc[np.flatnonzero(keep)]


def score_candidates(candidates: gpd.GeoDataFrame, proximity: pd.DataFrame, *,
                     events: gpd.GeoDataFrame, now: datetime,
                     weights: RiskWeights | None = None) -> pd.DataFrame:
    """Risk score, breakdown and explanation of each runway candidate.

    Parameters
    ----------
    candidates
        Runway candidates (EPSG:4326), with ``score`` (detection, 0-1) when available.
    proximity
        :func:`geo.risk.proximity.candidate_proximity` of the same candidates (same index).
    events
        Events (EPSG:4326); those of the last ``weights.window_months`` months up to ``now``
        within ``weights.events_radius_km`` of a candidate's centroid are counted.
    now
        Reference time, timezone-aware.
    weights
        Factor weights and scales; default :class:`RiskWeights()`.

    Returns
    -------
    pandas.DataFrame
        Index of ``candidates``; see :func:`score_table` for the columns.
    """
    weights = weights or RiskWeights()
    recent = _window(events, now, weights.window_months)
    c = shapely.centroid(candidates.geometry.to_numpy())
    e = recent.geometry.to_numpy()
    raw = proximity.reindex(candidates.index).rename(columns=lambda n: n.removesuffix("_km"))
    raw["events"] = count_within_km(shapely.get_x(c), shapely.get_y(c), shapely.get_x(e),
                                    shapely.get_y(e), weights.events_radius_km)
    raw["detection"] = (candidates["score"].to_numpy(dtype="float64", na_value=np.nan)
                        if "score" in candidates.columns else np.nan)
    extras = pd.DataFrame({"candidate": raw.get("nearest_candidate_state")}, index=raw.index)
    return score_table(raw, CANDIDATE_FACTORS, weights, extras=extras)


def score_cells(cells: pd.DataFrame, *, weights: RiskWeights | None = None) -> pd.DataFrame:
    """Risk score, breakdown and explanation of each cell.

    Parameters
    ----------
    cells
        One row per cell with any of: ``events`` (count in the window), ``quantity_kg``,
        ``z`` (Gi* z-score), ``label`` (emerging-hotspot label), ``candidates`` (count) and
        ``border_km``. An absent column is "no data" for that factor.
    weights
        Factor weights and scales; default :class:`RiskWeights()`.

    Returns
    -------
    pandas.DataFrame
        Index of ``cells``; see :func:`score_table` for the columns.

    Examples
    --------
    >>> out = score_cells(pd.DataFrame({"events": [10, 0], "border_km": [25.0, 80.0]}),
    ...                   weights=RiskWeights(events=1.0, border=1.0))
    >>> out["risk_score"].round(1).tolist()
    [50.0, 0.0]
    >>> out["risk_explanation"].iloc[0]
    '50 = 25 (10 events in 12 months) + 25 (25 km from the border)'
    """
    weights = weights or RiskWeights()
    raw = pd.DataFrame(index=cells.index)
    for name, column in (("events", "events"), ("quantity", "quantity_kg"), ("hotspot", "z"),
                         ("candidate", "candidates"), ("border", "border_km")):
        if column in cells.columns:
            raw[name] = cells[column].to_numpy(dtype="float64", na_value=np.nan)
    extras = pd.DataFrame(index=cells.index)
    if "label" in cells.columns:
        labels = cells["label"].astype("string").fillna("none")
        raw["trend"] = labels.map(TREND_POINTS).astype("float64").fillna(0.0).to_numpy()
        extras["trend"] = labels.to_numpy(dtype=object)
    return score_table(raw, CELL_FACTORS, weights, extras=extras)
