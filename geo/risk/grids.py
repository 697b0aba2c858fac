"""Aggregation grids per cell *and* calendar month: event counts and seized kilograms.

The cells are those of :func:`geo.aggregate.aggregate_cells` (H3 hexagons or square cells in
degrees, same ``cell`` names, so :func:`geo.aggregate.cell_polygons` draws them), split by the
UTC calendar month of ``occurred_at``. Totals are exact: every kept event falls in exactly one
(cell, month), so counts add up to the number of kept events and sums to their kilograms.

Notes
-----
Grouping uses hash factorisation (``pandas.factorize``), not sorting, so the cost is the cell
indexing itself: H3 has no array API and is called once per event (about 0.6 s per million on
one core); square cells are pure NumPy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import shapely

from geo.aggregate import h3_codes, h3_resolution_for_zoom, square_size_for_zoom
from geo.errors import SchemaError

__all__ = [
    "MAX_DENSE_CELLS",
    "CellGrid",
    "CellKind",
    "MonthlyCells",
    "aggregate_cells_by_month",
    "cell_centres",
    "cell_codes",
    "cell_names",
    "grid_for_zoom",
    "located_bounds",
    "month_numbers",
    "monthly_cell_matrix",
]

CellKind = Literal["h3", "square"]
#: Largest cells x months matrix :func:`monthly_cell_matrix` builds (int64 + float64 each).
MAX_DENSE_CELLS = 20_000_000


@dataclass(frozen=True)
class CellGrid:
    """How events are put in cells: the kind and its size.

    Parameters
    ----------
    kind
        ``"h3"`` or ``"square"``.
    resolution
        H3 resolution (0-15), used when ``kind == "h3"``.
    size_deg
        Side of square cells in degrees (EPSG:4326, aligned on -180/-90), when square.
    """

    kind: CellKind = "h3"
    resolution: int = 4
    size_deg: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in ("h3", "square"):
            raise SchemaError(f"kind={self.kind!r}: expected 'h3' or 'square'")
        if self.kind == "h3" and not 0 <= self.resolution <= 15:
            raise SchemaError(f"H3 resolution {self.resolution} is outside 0-15")
        if self.kind == "square" and not 1e-6 <= self.size_deg <= 90:
            raise SchemaError(f"square cell size {self.size_deg} degrees is outside [1e-6, 90]")


def grid_for_zoom(zoom: float, *, kind: CellKind = "h3") -> CellGrid:
    """Cells a few tens of pixels wide at the web-map ``zoom`` (see :mod:`geo.aggregate`).

    Examples
    --------
    >>> grid_for_zoom(6)
    CellGrid(kind='h3', resolution=4, size_deg=1.0)
    >>> grid_for_zoom(6, kind="square").size_deg
    0.5
    """
    if kind == "h3":
        return CellGrid("h3", resolution=h3_resolution_for_zoom(zoom))
    return CellGrid(kind, size_deg=square_size_for_zoom(zoom))


def cell_codes(lon: np.ndarray, lat: np.ndarray, grid: CellGrid) -> np.ndarray:
    """Integer code (int64) of the cell holding each point (degrees, EPSG:4326).

    H3 codes are the H3 index as a signed integer; square codes hold the column in the high 32
    bits and the row in the low 32 bits. Points must be finite.

    Examples
    --------
    >>> cell_codes(np.array([0.5]), np.array([0.5]), CellGrid("square", size_deg=1.0))
    array([773094113370])
    """
    if grid.kind == "square":
        ix = np.floor((lon + 180.0) / grid.size_deg).astype(np.int64)
        iy = np.floor((lat + 90.0) / grid.size_deg).astype(np.int64)
        return np.asarray((ix << 32) | iy, dtype=np.int64)
    return h3_codes(lon, lat, grid.resolution)


def cell_names(codes: np.ndarray, grid: CellGrid) -> list[str]:
    """Names of cells as :func:`geo.aggregate.aggregate_cells` spells them.

    Examples
    --------
    >>> cell_names(np.array([773094113370]), CellGrid("square", size_deg=1.0))
    ['sq:1:180:90']
    """
    if grid.kind == "h3":
        return [h3.int_to_str(int(c)) for c in codes.astype(np.uint64)]
    return [f"sq:{grid.size_deg:g}:{a}:{b}" for a, b in zip(
        (codes >> 32).tolist(), (codes & 0xFFFFFFFF).tolist(), strict=True)]


def cell_centres(codes: np.ndarray, grid: CellGrid) -> tuple[np.ndarray, np.ndarray]:
    """Centres ``(lon, lat)`` of cells, in degrees (EPSG:4326).

    Examples
    --------
    >>> cell_centres(np.array([773094113370]), CellGrid("square", size_deg=1.0))
    (array([0.5]), array([0.5]))
    """
    codes = np.asarray(codes, dtype=np.int64)
    return _centres(codes, grid, cell_names(codes, grid))


def _centres(codes: np.ndarray, grid: CellGrid, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    if grid.kind == "h3":
        latlng = np.array([h3.cell_to_latlng(c) for c in names], dtype="float64").reshape(-1, 2)
        return latlng[:, 1], latlng[:, 0]
    s = grid.size_deg
    return ((codes >> 32) + 0.5) * s - 180.0, ((codes & 0xFFFFFFFF) + 0.5) * s - 90.0


def month_numbers(times: pd.Series) -> np.ndarray:
    """Calendar month (UTC) of each time as months since 1970-01; -1 where the time is missing.

    Examples
    --------
    >>> month_numbers(pd.Series(pd.to_datetime(["1970-02-28T23:59Z", None], utc=True)))
    array([ 1, -1])
    """
    values = pd.to_datetime(times, utc=True).dt.tz_localize(None).to_numpy()
    out = values.astype("datetime64[M]").astype(np.int64)
    return np.asarray(np.where(np.isnat(values), -1, out), dtype=np.int64)


def located_bounds(events: gpd.GeoDataFrame) -> tuple[float, float, float, float] | None:
    """Bounding box ``(lon_min, lat_min, lon_max, lat_max)`` of the usable geometries, or None.

    Examples
    --------
    >>> from shapely.geometry import Point
    >>> located_bounds(gpd.GeoDataFrame(geometry=[Point(1, 2), None, Point(3, 0)], crs=4326))
    (1.0, 0.0, 3.0, 2.0)
    """
    geoms = events.geometry.to_numpy()
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if not ok.any():
        return None
    b = shapely.total_bounds(geoms[ok])
    return float(b[0]), float(b[1]), float(b[2]), float(b[3])


def _located(events: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return lon, lat, month number and kilograms of the events with a point and a time."""
    geoms = events.geometry.to_numpy()
    empty = shapely.is_empty(geoms)
    usable = np.where(empty, None, geoms) if empty.any() else geoms  # GEOS: no x of an empty
    lon = np.asarray(shapely.get_x(usable), dtype="float64")
    lat = np.asarray(shapely.get_y(usable), dtype="float64")
    month = month_numbers(events["occurred_at"])
    qty = (events["quantity_kg"].to_numpy(dtype="float64", na_value=np.nan)
           if "quantity_kg" in events.columns else np.zeros(len(events)))
    keep = np.isfinite(lon) & np.isfinite(lat) & (month >= 0)
    qty = np.where(np.isfinite(qty), qty, 0.0)
    return lon[keep], lat[keep], month[keep], qty[keep]


def _group(codes: np.ndarray, month: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Factorise (cell, month) pairs: inverse index, and the cell code and month of each group."""
    cell_idx, cells = pd.factorize(codes, sort=False)
    first = int(month.min()) if len(month) else 0
    span = int(month.max()) - first + 1 if len(month) else 1
    key = cell_idx.astype(np.int64) * span + (month - first)
    inverse, keys = pd.factorize(key, sort=False)
    keys = np.asarray(keys, dtype=np.int64)
    return inverse, np.asarray(cells, dtype=np.int64)[keys // span], keys % span + first


def aggregate_cells_by_month(events: gpd.GeoDataFrame, grid: CellGrid) -> pd.DataFrame:
    """Count events and sum ``quantity_kg`` per cell and calendar month (UTC).

    Parameters
    ----------
    events
        Events in EPSG:4326 with ``occurred_at`` (UTC) and optionally ``quantity_kg``; rows
        without a finite point or without a time are left out.
    grid
        Cell kind and size (:func:`grid_for_zoom`).

    Returns
    -------
    pandas.DataFrame
        One row per non-empty (cell, month), sorted by cell then month: ``cell`` (name as in
        :mod:`geo.aggregate`), ``code`` (int64), ``month`` (first day, naive UTC timestamp),
        ``lon``/``lat`` of the cell centre (degrees), ``count`` (int64) and ``quantity_kg``
        (float64, missing quantities count as 0).

    Examples
    --------
    >>> from shapely.geometry import Point
    >>> ev = gpd.GeoDataFrame(
    ...     {"occurred_at": pd.to_datetime(["2024-01-02", "2024-01-30", "2024-03-01"], utc=True),
    ...      "quantity_kg": [1.0, None, 4.0]},
    ...     geometry=[Point(0.2, 0.2), Point(0.7, 0.4), Point(0.5, 0.5)], crs=4326)
    >>> out = aggregate_cells_by_month(ev, CellGrid("square", size_deg=1.0))
    >>> out[["month", "count", "quantity_kg"]].astype(str).values.tolist()
    [['2024-01-01', '2', '1.0'], ['2024-03-01', '1', '4.0']]
    """
    lon, lat, month, qty = _located(events)
    codes = cell_codes(lon, lat, grid)
    inverse, cell, mon = _group(codes, month)
    counts = np.bincount(inverse, minlength=len(cell)).astype(np.int64)
    sums = np.bincount(inverse, weights=qty, minlength=len(cell))
    order = np.lexsort((mon, cell))
    cell, mon, counts, sums = cell[order], mon[order], counts[order], sums[order]
    names, cx, cy = _label(cell, grid)
    return pd.DataFrame({"cell": names, "code": cell,
                         "month": mon.astype("datetime64[M]").astype("datetime64[ns]"),
                         "lon": cx, "lat": cy, "count": counts, "quantity_kg": sums})


def _label(cell: np.ndarray, grid: CellGrid) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Names and centres of repeated codes, working out each distinct code once."""
    unique, inverse = np.unique(cell, return_inverse=True)
    names = cell_names(unique, grid)
    lon, lat = _centres(unique, grid, names)
    return [names[i] for i in inverse.tolist()], lon[inverse], lat[inverse]


@dataclass(frozen=True)
class MonthlyCells:
    """Dense cells x months matrices (rows sorted by cell code, one column per month).

    ``months`` runs without gaps from the first to the last month asked for; empty months
    are 0.
    """

    grid: CellGrid
    codes: np.ndarray
    names: tuple[str, ...]
    lon: np.ndarray
    lat: np.ndarray
    months: pd.DatetimeIndex
    counts: np.ndarray
    quantity_kg: np.ndarray


def monthly_cell_matrix(events: gpd.GeoDataFrame, grid: CellGrid, *,
                        codes: np.ndarray | None = None,
                        months: pd.DatetimeIndex | None = None,
                        add_occupied: bool = False) -> MonthlyCells:
    """Events and kilograms per cell (rows) and month (columns), as dense arrays.

    Parameters
    ----------
    events
        Events in EPSG:4326 with ``occurred_at``.
    grid
        Cell kind and size.
    codes
        Cells to return (the study area; see :func:`geo.risk.neighbours.study_cells`); None:
        the cells holding events. Events in other cells are left out.
    months
        Months to return (first days, naive UTC); None: every month from the first to the last
        event. Events in other months are left out.
    add_occupied
        Also return every cell holding an event (``codes`` plus them).

    Raises
    ------
    SchemaError
        When the matrix would exceed :data:`MAX_DENSE_CELLS` entries.
    """
    lon, lat, month, qty = _located(events)
    ev_codes = cell_codes(lon, lat, grid)
    wanted = [] if codes is None else [np.asarray(codes, np.int64)]
    rows = np.unique(np.concatenate([*wanted, ev_codes] if codes is None or add_occupied
                                    else wanted))
    if months is None:
        first, last = (int(month.min()), int(month.max())) if len(month) else (0, -1)
    else:
        m = months.to_numpy().astype("datetime64[M]").astype(np.int64)
        first, last = (int(m.min()), int(m.max())) if len(m) else (0, -1)
    span = last - first + 1
    if len(rows) * span > MAX_DENSE_CELLS:
        raise SchemaError(f"{len(rows):,} cells x {span} months is more than "
                          f"{MAX_DENSE_CELLS:,}: choose coarser cells or a shorter window")
    return _fill(rows, (ev_codes, month, qty), first, span, grid)


def _fill(rows: np.ndarray, ev: tuple[np.ndarray, np.ndarray, np.ndarray], first: int, span: int,
          grid: CellGrid) -> MonthlyCells:
    ev_codes, month, qty = ev
    pos = np.searchsorted(rows, ev_codes)
    pos_ok = np.minimum(pos, max(len(rows) - 1, 0))
    keep = (pos < len(rows)) & (month >= first) & (month < first + span)
    keep &= rows[pos_ok] == ev_codes if len(rows) else np.zeros(len(pos), bool)
    flat = pos[keep] * span + (month[keep] - first)
    size = len(rows) * span
    counts = np.bincount(flat, minlength=size).astype(np.int64).reshape(len(rows), span)
    sums = np.bincount(flat, weights=qty[keep], minlength=size).reshape(len(rows), span)
    names = cell_names(rows, grid)
    lon, lat = _centres(rows, grid, names)
    index = pd.date_range(np.datetime64(first, "M"), periods=span, freq="MS", name="month")
    return MonthlyCells(grid, rows, tuple(names), lon, lat, index, counts, sums)

