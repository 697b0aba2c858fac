"""Risk per cell: the inputs of :func:`geo.risk.score.score_cells` gathered from the layers."""

from __future__ import annotations

from datetime import datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import SchemaError
from geo.risk.grids import CellGrid, aggregate_cells_by_month, cell_codes
from geo.risk.neighbours import LandTest
from geo.risk.proximity import nearest_line_km
from geo.risk.score import RiskWeights, score_cells
from geo.risk.trends import compute_emerging_hotspots

__all__ = ["compute_cell_risk", "window_months"]


def window_months(now: datetime, months: int) -> pd.DatetimeIndex:
    """Return the ``months`` calendar months up to that of ``now`` (first days, naive UTC).

    Examples
    --------
    >>> from datetime import UTC
    >>> list(window_months(datetime(2025, 3, 9, tzinfo=UTC), 3).strftime("%Y-%m"))
    ['2025-01', '2025-02', '2025-03']
    """
    if now.tzinfo is None:
        raise SchemaError(f"now={now!r} has no time zone: pass an aware UTC datetime")
    last = pd.Timestamp(now).tz_convert("UTC").tz_localize(None).to_period("M").to_timestamp()
    return pd.date_range(end=last, periods=months, freq="MS", name="month")


def _in_months(events: gpd.GeoDataFrame, months: pd.DatetimeIndex) -> gpd.GeoDataFrame:
    when = pd.to_datetime(events["occurred_at"], utc=True).dt.tz_localize(None)
    end = months[-1] + pd.DateOffset(months=1)
    keep = ((when >= months[0]) & (when < end)).to_numpy(dtype=bool, na_value=False)
    return events.iloc[np.flatnonzero(keep)]


def _extent(*layers: gpd.GeoDataFrame | None) -> tuple[float, float, float, float] | None:
    boxes = np.array([layer.total_bounds for layer in layers
                      if layer is not None and len(layer)], dtype="float64").reshape(-1, 4)
    boxes = boxes[np.isfinite(boxes).all(axis=1)]
    if len(boxes) == 0:
        return None
    lo, hi = boxes[:, :2].min(axis=0), boxes[:, 2:].max(axis=0)
    return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])


def compute_cell_risk(events: gpd.GeoDataFrame, grid: CellGrid, *, now: datetime,
                      candidates: gpd.GeoDataFrame | None = None,
                      borders: np.ndarray | None = None, weights: RiskWeights | None = None,
                      alpha: float = 0.05, recent_months: int = 3,
                      bounds: tuple[float, float, float, float] | None = None,
                      land: LandTest | None = None) -> pd.DataFrame:
    """Risk score of every cell of the study area over the ``weights.window_months`` to ``now``.

    Parameters
    ----------
    events
        Events (EPSG:4326); those in the calendar months of the window count.
    grid
        Cell kind and size.
    now
        End of the window (its month is the last one), timezone-aware.
    candidates
        Runway candidates counted per cell (by rectangle centroid); None: no data.
    borders
        Land border lines (:func:`geo.risk.proximity.land_borders`); None: no data.
    weights
        Factor weights and scales.
    alpha, recent_months
        For the Gi* classes and the emerging-hotspot labels
        (:func:`geo.risk.trends.compute_emerging_hotspots`).
    bounds
        Study area in degrees; None: the bounding box of the window's events and of the
        candidates.
    land
        Keep only land cells (and cells with events) as the background
        (:func:`geo.risk.neighbours.study_matrix`); None: every cell of the box.

    Returns
    -------
    pandas.DataFrame
        The emerging-hotspot columns (``cell``, ``code``, ``lon``, ``lat``, ``z``, ``label``
        ...), the inputs ``events``, ``quantity_kg``, ``candidates``, ``border_km``, and
        ``risk_score``, ``risk_breakdown``, ``risk_explanation``; one row per study cell.
    """
    weights = weights or RiskWeights()
    months = window_months(now, weights.window_months)
    recent = _in_months(events, months)
    bounds = bounds if bounds is not None else _extent(recent, candidates)
    cells = compute_emerging_hotspots(recent, grid, alpha=alpha, recent_months=recent_months,
                                      bounds=bounds, months=months, land=land)
    cells["events"] = cells["total"]
    kg = aggregate_cells_by_month(recent, grid).groupby("code")["quantity_kg"].sum()
    cells["quantity_kg"] = cells["code"].map(kg).fillna(0.0).to_numpy()
    if candidates is not None:
        c = shapely.centroid(candidates.geometry.to_numpy())
        codes = cell_codes(np.asarray(shapely.get_x(c)), np.asarray(shapely.get_y(c)), grid)
        per_cell = pd.Series(codes).value_counts()
        cells["candidates"] = cells["code"].map(per_cell).fillna(0).astype(np.int64).to_numpy()
    if borders is not None:
        cells["border_km"] = nearest_line_km(cells["lon"].to_numpy(), cells["lat"].to_numpy(),
                                             borders)
    return cells.join(score_cells(cells, weights=weights))
