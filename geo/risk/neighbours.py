"""Study areas and spatial weights for cell statistics (Getis-Ord Gi*, emerging hotspots).

A cell statistic needs the cells where nothing happened too: a hot spot is only hot against
its surroundings. :func:`study_cells` lists every cell covering a bounding box (plus any
given cells); :func:`neighbour_matrix` gives the binary contiguity weights between them as a
SciPy sparse matrix (H3: ``grid_disk`` rings; squares: queen contiguity, the 8 cells around).
"""

from __future__ import annotations

from collections.abc import Callable

import geopandas as gpd
import h3
import h3.api.basic_int as h3i
import numpy as np
import pandas as pd
import pyproj
import scipy.sparse as sp
import shapely

from geo.aggregate import cell_polygons
from geo.errors import SchemaError
from geo.risk.grids import (
    CellGrid,
    MonthlyCells,
    cell_centres,
    cell_names,
    located_bounds,
    monthly_cell_matrix,
)

__all__ = [
    "MAX_STUDY_CELLS",
    "LandTest",
    "cell_areas_km2",
    "clipping_box",
    "neighbour_matrix",
    "reach_deg",
    "study_areas_km2",
    "study_cells",
    "study_matrix",
]

Bounds = tuple[float, float, float, float]
#: Largest study area accepted (cells); past this the caller should zoom in or coarsen.
MAX_STUDY_CELLS = 1_000_000


def _square_box(bounds: Bounds, size: float) -> np.ndarray:
    lon0, lat0, lon1, lat1 = bounds
    ix = np.arange(np.floor((lon0 + 180.0) / size), np.floor((lon1 + 180.0) / size) + 1)
    iy = np.arange(np.floor((lat0 + 90.0) / size), np.floor((lat1 + 90.0) / size) + 1)
    if len(ix) * len(iy) > MAX_STUDY_CELLS:
        raise SchemaError(f"{len(ix) * len(iy):,} square cells of {size:g} degrees cover "
                          f"{bounds}: more than {MAX_STUDY_CELLS:,}; use larger cells")
    gx, gy = np.meshgrid(ix.astype(np.int64), iy.astype(np.int64), indexing="ij")
    return np.asarray((gx.ravel() << 32) | gy.ravel(), dtype=np.int64)


def _h3_box(bounds: Bounds, resolution: int) -> np.ndarray:
    lon0, lat0, lon1, lat1 = bounds
    area_km2 = (lat1 - lat0) * (lon1 - lon0) * 111.32**2
    if area_km2 / h3.average_hexagon_area(resolution, unit="km^2") > MAX_STUDY_CELLS:
        raise SchemaError(f"the box {bounds} holds more than {MAX_STUDY_CELLS:,} H3 cells at "
                          f"resolution {resolution}; use a coarser resolution")
    ring = [(lat0, lon0), (lat0, lon1), (lat1, lon1), (lat1, lon0)]
    cells = h3i.h3shape_to_cells(h3.LatLngPoly(ring), resolution)
    return np.asarray(np.array(cells, dtype=np.uint64).astype(np.int64), dtype=np.int64)


def study_cells(grid: CellGrid, *, bounds: Bounds | None = None,
                codes: np.ndarray | None = None) -> np.ndarray:
    """Every cell covering ``bounds``, together with ``codes``, sorted and unique (int64).

    Parameters
    ----------
    grid
        Cell kind and size.
    bounds
        ``(lon_min, lat_min, lon_max, lat_max)`` in degrees (EPSG:4326). For H3, the cells
        whose centre lies in the box.
    codes
        Cells to include whatever the box (e.g. those holding events).

    Raises
    ------
    SchemaError
        When the box holds more than :data:`MAX_STUDY_CELLS` cells.

    Examples
    --------
    >>> len(study_cells(CellGrid("square", size_deg=1.0), bounds=(0.5, 0.5, 2.5, 1.5)))
    6
    """
    parts = [np.asarray(codes, dtype=np.int64)] if codes is not None else []
    if bounds is not None:
        if grid.kind == "square":
            parts.append(_square_box(bounds, grid.size_deg))
        else:
            parts.append(_h3_box(bounds, grid.resolution))
    if not parts:
        return np.zeros(0, dtype=np.int64)
    return np.unique(np.concatenate(parts))


def _square_pairs(codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    ix, iy = codes >> 32, codes & 0xFFFFFFFF
    rows, cols = [], []
    for dx in range(-k, k + 1):
        for dy in range(-k, k + 1):
            other = ((ix + dx) << 32) | (iy + dy)
            pos = np.minimum(np.searchsorted(codes, other), len(codes) - 1)
            hit = (codes[pos] == other) & (ix + dx >= 0) & (iy + dy >= 0)
            rows.append(np.flatnonzero(hit))
            cols.append(pos[hit])
    return np.concatenate(rows), np.concatenate(cols)


def _h3_pairs(codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    disks = [h3i.grid_disk(int(c), k) for c in codes.astype(np.uint64)]
    lengths = np.fromiter(map(len, disks), dtype=np.int64, count=len(disks))
    flat = np.fromiter((c for d in disks for c in d), dtype=np.uint64,
                       count=int(lengths.sum())).astype(np.int64)
    rows = np.repeat(np.arange(len(codes)), lengths)
    pos = np.minimum(np.searchsorted(codes, flat), len(codes) - 1)
    hit = codes[pos] == flat
    return rows[hit], pos[hit]


def neighbour_matrix(codes: np.ndarray, grid: CellGrid, *, k: int = 1) -> sp.csr_matrix:
    """Binary weights between ``codes`` (sorted, unique): 1 within ``k`` steps, self included.

    Parameters
    ----------
    codes
        Cell codes sorted ascending (:func:`study_cells`).
    grid
        Cell kind and size of the codes.
    k
        Neighbourhood order: H3 ``grid_disk`` distance, or Chebyshev distance in square cells
        (``k=1`` is queen contiguity: the 8 cells around and the cell itself).

    Returns
    -------
    scipy.sparse.csr_matrix
        ``n x n`` float64, symmetric, with ones on the diagonal (the Gi* convention).
        Neighbours outside ``codes`` are simply absent (edge cells have fewer).

    Examples
    --------
    >>> codes = study_cells(CellGrid("square", size_deg=1.0), bounds=(0.5, 0.5, 2.5, 2.5))
    >>> neighbour_matrix(codes, CellGrid("square", size_deg=1.0)).sum(axis=1).A1.tolist()
    [4.0, 6.0, 4.0, 6.0, 9.0, 6.0, 4.0, 6.0, 4.0]
    """
    codes = np.asarray(codes, dtype=np.int64)
    if k < 0:
        raise SchemaError(f"neighbourhood order k={k}: expected 0 or more")
    if len(codes) and np.any(np.diff(codes) <= 0):
        raise SchemaError("cell codes must be sorted and unique (use study_cells)")
    n = len(codes)
    if n == 0:
        return sp.csr_matrix((0, 0), dtype="float64")
    rows, cols = _square_pairs(codes, k) if grid.kind == "square" else _h3_pairs(codes, k)
    data = np.ones(len(rows), dtype="float64")
    return sp.csr_matrix((data, (rows, cols)), shape=(n, n))


def cell_areas_km2(codes: np.ndarray, grid: CellGrid) -> np.ndarray:
    """Area of each cell in km² on a sphere of the Earth's mean radius.

    Square cells in degrees shrink with the cosine of latitude; H3 cells at one resolution
    vary too (``h3.cell_area``; at resolution 3 over Latin America from about 6,300 to
    15,000 km², a pentagon among them). :func:`study_areas_km2` clips them to a study box.

    Examples
    --------
    >>> codes = study_cells(CellGrid("square", size_deg=1.0), bounds=(0.5, 0.5, 0.5, 60.5))
    >>> a = cell_areas_km2(codes, CellGrid("square", size_deg=1.0))
    >>> round(float(a[0])), round(float(a[-1] / a[0]), 3)
    (12364, 0.492)
    """
    codes = np.asarray(codes, dtype=np.int64)
    if grid.kind == "h3":
        return np.array([h3i.cell_area(int(c), unit="km^2") for c in codes.astype(np.uint64)],
                        dtype="float64")
    s = np.radians(grid.size_deg)
    south = np.radians((codes & 0xFFFFFFFF) * grid.size_deg - 90.0)
    north = np.minimum(south + s, np.pi / 2)
    return np.asarray(6371.0088**2 * s * (np.sin(north) - np.sin(south)), dtype="float64")


def study_areas_km2(codes: np.ndarray, grid: CellGrid, box: Bounds | None) -> np.ndarray:
    """Area of each cell in km² inside the study box: :func:`cell_areas_km2`, clipped.

    A cell straddling the box's edge only receives events from its part inside the box, so
    its full area made it look empty next to its neighbours: with uniformly random events
    over the demo box, every significant cell (34 of 34 on H3 res 3, 155 of 162 on degree
    squares) was a "cold spot" on the edge. Each such cell's area is its full area times the
    share of its outline inside the box (both measured on the WGS84 ellipsoid). Cells outside
    the box (holding events that lie beyond it) keep their full area; None: no clipping.

    Examples
    --------
    >>> g = CellGrid("square", size_deg=1.0)
    >>> codes = study_cells(g, bounds=(0.5, 0.0, 1.5, 0.9))
    >>> (study_areas_km2(codes, g, (0.5, 0.0, 1.5, 0.9)) / cell_areas_km2(codes, g)).round(2)
    array([0.45, 0.45])
    """
    codes = np.asarray(codes, dtype=np.int64)
    full = cell_areas_km2(codes, grid)
    if box is None or not len(codes):
        return full
    outlines = cell_polygons(pd.DataFrame({"cell": cell_names(codes, grid)})).geometry.to_numpy()
    frame = shapely.box(*box)
    x0, _, x1, _ = shapely.bounds(outlines).T
    # an H3 cell across the antimeridian is drawn 360 degrees wide: never clipped
    cross = np.flatnonzero(~shapely.within(outlines, frame) & shapely.intersects(outlines, frame)
                           & (x1 - x0 < 180.0))
    if not len(cross):
        return full
    geod = pyproj.Geod(ellps="WGS84")
    out = full.copy()
    for i in cross:
        whole = abs(geod.geometry_area_perimeter(outlines[i])[0])
        part = abs(geod.geometry_area_perimeter(shapely.intersection(outlines[i], frame))[0])
        if whole > 0:
            out[i] = full[i] * min(1.0, part / whole)
    return out


def clipping_box(events: gpd.GeoDataFrame, bounds: Bounds | None) -> Bounds | None:
    """Return the box to clip cell areas to (:func:`study_areas_km2`): where events can lie.

    ``bounds`` when it holds every located event (the analysis passes the box of the events
    and candidates), the events' own box when ``bounds`` is None; None (no clipping) when
    some events lie beyond ``bounds``: their cells then count events from outside the box.
    """
    located = located_bounds(events)
    if bounds is None or located is None:
        return located if bounds is None else bounds
    holds = (bounds[0] <= located[0] and bounds[1] <= located[1]
             and bounds[2] >= located[2] and bounds[3] >= located[3])
    return bounds if holds else None


#: ``land(lon, lat, within_deg)``: which points (degrees, EPSG:4326) lie on land or within
#: ``within_deg`` degrees of it (e.g. :func:`geo.countries.on_land`).
LandTest = Callable[[np.ndarray, np.ndarray, float], np.ndarray]


def reach_deg(grid: CellGrid) -> float:
    """Half a cell's width in degrees (a centre this close to land: the cell touches it).

    Examples
    --------
    >>> reach_deg(CellGrid("square", size_deg=1.0))
    0.5
    """
    if grid.kind == "square":
        return grid.size_deg / 2.0
    return float(h3.average_hexagon_edge_length(grid.resolution, unit="km")) / 111.32


def study_matrix(events: gpd.GeoDataFrame, grid: CellGrid, *,
                 bounds: Bounds | None = None,
                 months: pd.DatetimeIndex | None = None,
                 land: LandTest | None = None) -> MonthlyCells:
    """Events per cell and month over a study area: the cells of ``bounds`` and of the events.

    ``bounds`` None: the events' bounding box. Cells without events are rows of zeros: they
    are the background a hot spot stands out from. See
    :func:`geo.risk.grids.monthly_cell_matrix` for ``months``.

    ``land``: keep of the box only the cells on land (their centre within half a cell of it),
    and every cell holding an event (a seizure at sea stays). Without it the open sea in the
    box was background too, so "hot" partly meant "on land": in the demo world two cells in
    three were sea, and most of them were called cold (risk review, 2026-12-05).
    """
    box = bounds if bounds is not None else located_bounds(events)
    codes = study_cells(grid, bounds=box)
    if land is not None and len(codes):
        lon, lat = cell_centres(codes, grid)
        codes = codes[np.asarray(land(lon, lat, reach_deg(grid)), dtype=bool)]
    return monthly_cell_matrix(events, grid, codes=codes, months=months, add_occupied=True)
