"""Counting events in space and time: hexagon or square cells, and monthly series by type.

The map draws these aggregates (heat map, hexagon layer) instead of raw points when there are
too many points to read, and the charts below the map draw the monthly series. Counts are
exact: every event with a finite location falls in exactly one cell, so the cell counts add up
to the number of located events and the cell sums of ``quantity_kg`` to their total.
"""

from __future__ import annotations

import itertools
from typing import Literal

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import shapely

from geo.errors import SchemaError

try:  # the Cython entry point skips a Python wrapper per call (about 20 % faster)
    from h3._cy import latlng_to_cell as _latlng_to_int
except ImportError:  # pragma: no cover - a future h3 may move it
    from h3.api.basic_int import latlng_to_cell as _latlng_to_int

__all__ = [
    "CELL_COLUMNS",
    "aggregate_cells",
    "cell_polygons",
    "cluster_points",
    "h3_codes",
    "h3_resolution_for_zoom",
    "monthly_counts",
    "square_size_for_zoom",
]

CellKind = Literal["h3", "square"]
#: Columns of :func:`aggregate_cells`' result.
CELL_COLUMNS = ("cell", "lon", "lat", "count", "quantity_kg")


def h3_resolution_for_zoom(zoom: float) -> int:
    """H3 resolution whose hexagons are a few tens of pixels wide at the web-map ``zoom``.

    Zoom 3 (a continent) gives resolution 2 (hexagons ~ 160 km across); each further zoom
    level halves the pixel size and every H3 level divides the edge by ~2.65, hence the 0.7.

    Examples
    --------
    >>> [h3_resolution_for_zoom(z) for z in (2, 3, 6, 10, 18)]
    [1, 2, 4, 7, 9]
    """
    return int(min(9, max(0, round(0.7 * zoom))))


def square_size_for_zoom(zoom: float) -> float:
    """Side in degrees of square cells about 24 px wide at the web-map ``zoom``.

    Examples
    --------
    >>> square_size_for_zoom(3), square_size_for_zoom(10)
    (4.0, 0.03125)
    """
    return float(2.0 ** (5 - round(zoom)))


def _xy(events: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    geoms = events.geometry.to_numpy()
    empty = shapely.is_empty(geoms)
    usable = np.where(empty, None, geoms) if empty.any() else geoms  # GEOS: no x of an empty
    return np.asarray(shapely.get_x(usable)), np.asarray(shapely.get_y(usable))


def _square_cells(x: np.ndarray, y: np.ndarray, size: float) -> np.ndarray:
    """Integer code of each point's square cell: column in the high 32 bits, row in the low."""
    ix = np.floor((x + 180.0) / size).astype(np.int64)
    iy = np.floor((y + 90.0) / size).astype(np.int64)
    return np.asarray((ix << 32) | iy)


def h3_codes(lon: np.ndarray, lat: np.ndarray, resolution: int) -> np.ndarray:
    """H3 index (as int64) of the cell at ``resolution`` holding each point (degrees, EPSG:4326).

    h3 has no array API for this: one C call per point (about 0.55 s per million points on
    one core), through the Cython entry point, which skips a Python wrapper per call. Points
    must be finite.

    Examples
    --------
    >>> h3.int_to_str(int(h3_codes(np.array([-74.0]), np.array([-9.0]), 4)[0]))
    '848f48bffffffff'
    """
    n = len(lon)
    return np.fromiter(map(_latlng_to_int, lat.tolist(), lon.tolist(),
                           itertools.repeat(resolution, n)),
                       dtype=np.uint64, count=n).astype(np.int64)


def aggregate_cells(events: gpd.GeoDataFrame, *, kind: CellKind = "h3", resolution: int = 4,
                    size_deg: float = 1.0) -> pd.DataFrame:
    """Count events and sum ``quantity_kg`` per hexagon (H3) or square cell.

    Parameters
    ----------
    events
        Events in EPSG:4326; rows without a finite point are left out.
    kind
        ``"h3"`` (hexagons at ``resolution``, 0-15) or ``"square"`` (cells of ``size_deg``
        degrees, aligned on -180/-90).
    resolution, size_deg
        Cell size for each kind (see :func:`h3_resolution_for_zoom`, :func:`square_size_for_zoom`).

    Returns
    -------
    pandas.DataFrame
        One row per non-empty cell, sorted by ``cell``: ``cell`` (H3 index as text, or
        ``"sq:<size>:<ix>:<iy>"``), ``lon``/``lat`` of the cell centre, ``count`` (int64) and
        ``quantity_kg`` (float64, missing quantities count as 0).

    Examples
    --------
    >>> from shapely.geometry import Point
    >>> ev = gpd.GeoDataFrame({"quantity_kg": [1.0, 2.0, None]},
    ...                       geometry=[Point(0.2, 0.2), Point(0.7, 0.4), Point(5, 5)], crs=4326)
    >>> aggregate_cells(ev, kind="square", size_deg=1.0)[["count", "quantity_kg"]].values.tolist()
    [[2.0, 3.0], [1.0, 0.0]]
    """
    if kind not in ("h3", "square"):
        raise SchemaError(f"kind={kind!r}: expected 'h3' or 'square'")
    if kind == "h3" and not 0 <= resolution <= 15:
        raise SchemaError(f"H3 resolution {resolution} is outside 0-15")
    if kind == "square" and not 1e-6 <= size_deg <= 90:
        raise SchemaError(f"square cell size {size_deg} degrees is outside [1e-6, 90]")
    x, y = _xy(events)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    qty = (events["quantity_kg"].to_numpy(dtype="float64", na_value=np.nan)[ok]
           if "quantity_kg" in events.columns else np.zeros(len(x)))
    qty = np.where(np.isfinite(qty), qty, 0.0)
    codes = h3_codes(x, y, resolution) if kind == "h3" else _square_cells(x, y, size_deg)
    unique, inverse = np.unique(codes, return_inverse=True)
    counts = np.bincount(inverse, minlength=len(unique)).astype(np.int64)
    sums = np.bincount(inverse, weights=qty, minlength=len(unique))
    if kind == "h3":
        names = [h3.int_to_str(int(c)) for c in unique.astype(np.uint64)]
        centres = np.array([h3.cell_to_latlng(c) for c in names]).reshape(-1, 2)
        lat, lon = centres[:, 0], centres[:, 1]
    else:
        ix, iy = unique >> 32, unique & 0xFFFFFFFF
        names = [f"sq:{size_deg:g}:{a}:{b}" for a, b in zip(ix, iy, strict=True)]
        lon = (ix + 0.5) * size_deg - 180.0
        lat = (iy + 0.5) * size_deg - 90.0
    return pd.DataFrame({"cell": names, "lon": lon, "lat": lat, "count": counts,
                         "quantity_kg": sums})


def cell_polygons(cells: pd.DataFrame) -> gpd.GeoDataFrame:
    """Polygons of the cells of :func:`aggregate_cells` (hexagons or squares), in EPSG:4326."""
    polys = []
    for name in cells["cell"]:
        if name.startswith("sq:"):
            _, size, a, b = name.split(":")
            s = float(size)
            lon0, lat0 = int(a) * s - 180.0, int(b) * s - 90.0
            polys.append(shapely.box(lon0, lat0, lon0 + s, min(lat0 + s, 90.0)))
        else:
            ring = [(lon, lat) for lat, lon in h3.cell_to_boundary(name)]
            polys.append(shapely.Polygon(ring))
    return gpd.GeoDataFrame(cells.reset_index(drop=True), geometry=polys, crs=4326)


def monthly_counts(events: pd.DataFrame, *, by: str = "event_type") -> pd.DataFrame:
    """Events per calendar month (UTC) and per value of ``by``.

    Returns
    -------
    pandas.DataFrame
        Index ``month`` (first day of the month, naive UTC timestamps, every month between the
        first and the last event, gaps filled with 0); one int64 column per value of ``by``.

    Examples
    --------
    >>> when = pd.to_datetime(["2024-01-05", "2024-03-01", "2024-03-09"], utc=True)
    >>> ev = pd.DataFrame({"occurred_at": when, "event_type": ["seizure", "seizure", "incident"]})
    >>> monthly_counts(ev).to_dict("list")
    {'incident': [0, 0, 1], 'seizure': [1, 0, 1]}
    """
    column = events["occurred_at"]
    if len(events) == 0:
        return pd.DataFrame(index=pd.DatetimeIndex([], name="month"), dtype="int64")
    values = np.asarray(column.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy())
    dated = ~np.isnat(values)
    if not dated.any():
        return pd.DataFrame(index=pd.DatetimeIndex([], name="month"), dtype="int64")
    months = values[dated].astype("datetime64[M]").astype(np.int64)  # months since 1970-01
    # Integer codes and one bincount, not a groupby over strings (ten times faster at 1M).
    codes, uniques = pd.factorize(events[by], use_na_sentinel=True)
    names = [*(str(u) for u in uniques), "unknown"]
    codes = np.where(codes < 0, len(uniques), codes)[dated]
    first, span, width = int(months.min()), int(months.max() - months.min()) + 1, len(names)
    grid = np.bincount((months - first) * width + codes, minlength=span * width)
    table = pd.DataFrame(grid.reshape(span, width), columns=names, dtype="int64")
    table.index = pd.date_range(np.datetime64(first, "M"), periods=span, freq="MS",
                                name="month")
    # Columns in name order; a value spelt "unknown" and missing values count together.
    table = table.T.groupby(level=0).sum().T
    table = table.loc[:, table.sum() > 0]
    return table


def cluster_points(events: gpd.GeoDataFrame, *, zoom: float,
                   bounds: tuple[float, float, float, float] | None = None,
                   max_clusters: int = 1500) -> pd.DataFrame:
    """Group events into clusters about 48 px apart at the web-map ``zoom`` (server side).

    Parameters
    ----------
    events
        Events in EPSG:4326 (``event_type`` and ``quantity_kg`` used when present); rows
        without a finite point are left out.
    zoom
        Web-map zoom level; each level halves the grid's cell side.
    bounds
        Only clusters with members inside ``(lon_min, lat_min, lon_max, lat_max)`` (degrees)
        are returned (their counts include only those members); None: everywhere.
    max_clusters
        When the grid gives more clusters than this, the cells are doubled until it does not.

    Returns
    -------
    pandas.DataFrame
        One row per cluster, largest first: ``lon``/``lat`` (mean of its members, degrees),
        ``count`` (int64), ``quantity_kg`` (sum, missing as 0) and ``event_type`` (the most
        frequent type, ties to the first in sorted order).

    Examples
    --------
    >>> from shapely.geometry import Point
    >>> ev = gpd.GeoDataFrame({"event_type": ["seizure", "seizure", "incident"]},
    ...                       geometry=[Point(-70.1, -10.1), Point(-70.3, -10.2),
    ...                                 Point(-50.0, 0.0)], crs=4326)
    >>> cluster_points(ev, zoom=4)[["lon", "lat", "count", "event_type"]].values.tolist()
    [[-70.2, -10.15, 2, 'seizure'], [-50.0, 0.0, 1, 'incident']]
    """
    x, y = _xy(events)
    ok = np.isfinite(x) & np.isfinite(y)
    if bounds is not None:
        lon0, lat0, lon1, lat1 = bounds
        ok &= (x >= lon0) & (x <= lon1) & (y >= lat0) & (y <= lat1)
    idx = np.flatnonzero(ok)
    x, y = x[idx], y[idx]
    qty = (events["quantity_kg"].to_numpy(dtype="float64", na_value=np.nan)[idx]
           if "quantity_kg" in events.columns else np.zeros(len(idx)))
    qty = np.where(np.isfinite(qty), qty, 0.0)
    types = (events["event_type"].astype("string").fillna("unknown").to_numpy()[idx]
             if "event_type" in events.columns else np.full(len(idx), "unknown", dtype=object))
    size = min(90.0, 2.0 * square_size_for_zoom(zoom))
    while True:
        unique, inverse = np.unique(_square_cells(x, y, size), return_inverse=True)
        if len(unique) <= max_clusters or size >= 90.0:
            break
        size = min(90.0, size * 2.0)
    n = len(unique)
    counts = np.bincount(inverse, minlength=n).astype(np.int64)
    safe = np.maximum(counts, 1)
    lon = np.bincount(inverse, weights=x, minlength=n) / safe
    lat = np.bincount(inverse, weights=y, minlength=n) / safe
    sums = np.bincount(inverse, weights=qty, minlength=n)
    names, codes = np.unique(types.astype(str), return_inverse=True)
    by_type = np.zeros((n, max(len(names), 1)), dtype=np.int64)
    np.add.at(by_type, (inverse, codes), 1)
    top = names[by_type.argmax(axis=1)] if len(names) else np.array([], dtype=str)
    out = pd.DataFrame({"lon": np.round(lon, 6), "lat": np.round(lat, 6), "count": counts,
                        "quantity_kg": sums, "event_type": top.astype(object)})
    return out.sort_values("count", ascending=False, kind="stable").reset_index(drop=True)
