"""Corridor queries: what lies within a distance of a route or a drawn line, in a time window.

How distances are measured (metres, then km): the line is followed as **geodesics between its
vertices** (densified every 5 km), cut into pieces of at most 500 km, and each piece measured
in an **azimuthal equidistant projection centred on that piece**. A feature is inside when it
is within the buffer of any piece (``shapely.dwithin``: exact distances, no polygonised
buffer in between). Why:

- one UTM zone: a route from Apure to the Petén spans 20 degrees of longitude, three to four
  zones, and UTM's scale error reaches about 3 % that far from its meridian;
- one azimuthal equidistant projection: exact along lines through its centre only; a distance
  measured across the line 2,000 km from the centre is about 1 % too long;
- an oblique Mercator along the line (tried): PROJ's Hotine central line drifts kilometres off
  the geodesic over thousands of km and is singular where the line runs due east-west away
  from the equator.

Per piece, the equidistant projection's scale error is at most ``d^2 / (6 R^2)`` for points
``d`` from its centre: 0.05 % at 350 km (a half piece plus a 100 km buffer). On random lines
up to 4,400 km long, a point 50 km from the line (geodesic) came out within 14 m of 50 km.
The buffer polygon returned is for drawing only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import geopandas as gpd
import numpy as np
import pyproj
import shapely
from shapely.geometry import LineString, Point
from shapely.geometry.base import BaseGeometry

from geo.errors import SchemaError
from geo.filters import Filters, event_mask, filter_candidates
from geo.risk.geodesic import GEOD, aeqd_crs, densify_geodesic

__all__ = ["MAX_BUFFER_KM", "Corridor", "corridor_pieces", "corridor_query", "within_corridor"]

#: Largest buffer accepted, km (a corridor wider than this is a region, not a corridor).
MAX_BUFFER_KM = 1000.0


@dataclass(frozen=True)
class Corridor:
    """Result of :func:`corridor_query`: the features inside, and how it was measured.

    ``buffer`` is the corridor outline in EPSG:4326 (for drawing; membership is decided by
    exact distances, see the module notes).
    """

    events: gpd.GeoDataFrame
    candidates: gpd.GeoDataFrame
    aerodromes: gpd.GeoDataFrame
    buffer: BaseGeometry
    buffer_km: float


def _check_line(line: BaseGeometry) -> None:
    if line.geom_type not in ("LineString", "MultiLineString") or line.is_empty:
        raise SchemaError(f"a corridor needs a LineString or MultiLineString, got "
                          f"{'an empty ' if line.is_empty else 'a '}{line.geom_type}")
    lon0, lat0, lon1, lat1 = line.bounds
    if not all(math.isfinite(v) for v in line.bounds) or not (
            -180 <= lon0 <= lon1 <= 180 and -90 <= lat0 <= lat1 <= 90):
        raise SchemaError(f"the line's bounds {line.bounds} are not degrees (EPSG:4326): "
                          "is it in metres, or are latitude and longitude swapped?")


def _split(xy: np.ndarray, piece_m: float) -> list[np.ndarray]:
    """Cut a vertex chain into consecutive runs of at most ``piece_m`` (sharing end vertices)."""
    seg = GEOD.inv(xy[:-1, 0], xy[:-1, 1], xy[1:, 0], xy[1:, 1])[2] if len(xy) > 1 else []
    along = np.concatenate([[0.0], np.cumsum(seg)])
    group = np.minimum((along // piece_m).astype(np.int64), int(along[-1] // piece_m))
    out = []
    for g in np.unique(group):
        idx = np.flatnonzero(group == g)
        out.append(xy[idx[0]:min(idx[-1] + 2, len(xy))])
    return out


def corridor_pieces(line: BaseGeometry, *, piece_km: float = 500.0,
                    step_km: float = 5.0) -> list[tuple[pyproj.CRS, BaseGeometry]]:
    """Cut the line into pieces of at most ``piece_km``, each with the CRS it is measured in.

    Parameters
    ----------
    line
        LineString or MultiLineString in EPSG:4326.
    piece_km, step_km
        Longest piece, and the spacing of the geodesic densification, km.

    Returns
    -------
    list of (pyproj.CRS, geometry)
        An azimuthal equidistant CRS centred on the piece (metres) and the piece in
        EPSG:4326 (a LineString, or a Point for a degenerate line).

    Examples
    --------
    >>> from shapely.geometry import LineString
    >>> len(corridor_pieces(LineString([(-69, 7), (-80, 12), (-90, 17)])))
    6
    """
    _check_line(line)
    total_m = sum(GEOD.geometry_length(p) for p in shapely.get_parts(line))
    step = max(step_km, total_m / 1000.0 / 100_000)  # at most ~100,000 vertices
    out = []
    for xy in densify_geodesic(line, step):
        for run in _split(xy, piece_km * 1000.0):
            lon, lat = run[len(run) // 2]
            geom = (LineString(run) if len(np.unique(run, axis=0)) > 1
                    else Point(float(run[0, 0]), float(run[0, 1])))
            out.append((aeqd_crs(float(lon), float(lat)), geom))
    return out


def _project(geoms: np.ndarray, tr: pyproj.Transformer) -> np.ndarray:
    return np.asarray(shapely.transform(geoms, lambda xy: np.column_stack(
        tr.transform(xy[:, 0], xy[:, 1]))))


def _near_box(bounds: np.ndarray, box: tuple[float, ...], buffer_km: float) -> np.ndarray:
    """Rows whose bounding box comes within (a generous) ``buffer_km`` of ``box`` (degrees)."""
    lon0, lat0, lon1, lat1 = box
    dlat = buffer_km / 110.5 * 1.05 + 1e-6
    top = min(89.999, max(abs(lat0), abs(lat1)) + dlat)
    dlon = min(360.0, buffer_km / (111.32 * math.cos(math.radians(top))) * 1.05 + 1e-6)
    with np.errstate(invalid="ignore"):
        return np.asarray((bounds[:, 2] >= lon0 - dlon) & (bounds[:, 0] <= lon1 + dlon)
                          & (bounds[:, 3] >= lat0 - dlat) & (bounds[:, 1] <= lat1 + dlat))


def within_corridor(geoms: np.ndarray, line: BaseGeometry, buffer_km: float) -> np.ndarray:
    """Boolean mask of the EPSG:4326 ``geoms`` within ``buffer_km`` of ``line``.

    For each piece of :func:`corridor_pieces`, a bounding-box test in degrees (generous)
    leaves only nearby rows for the exact distance test in the piece's projection. Missing
    or empty geometries are outside.

    Examples
    --------
    >>> from shapely.geometry import LineString, Point
    >>> pts = np.array([Point(-70.0, 0.05), Point(-70.0, 0.2), None])
    >>> within_corridor(pts, LineString([(-71, 0), (-69, 0)]), 10.0).tolist()
    [True, False, False]
    """
    if not 0 <= buffer_km <= MAX_BUFFER_KM:
        raise SchemaError(f"buffer {buffer_km} km is outside [0, {MAX_BUFFER_KM:g}] km")
    geoms = np.asarray(geoms, dtype=object)
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    usable = geoms.copy()
    usable[~ok] = None
    bounds = np.asarray(shapely.bounds(usable), dtype="float64")  # NaN where missing
    mask = np.zeros(len(geoms), dtype=bool)
    for crs, piece in corridor_pieces(line):
        idx = np.flatnonzero(ok & ~mask & _near_box(bounds, piece.bounds, buffer_km))
        if len(idx) == 0:
            continue
        tr = pyproj.Transformer.from_crs(4326, crs, always_xy=True)
        piece_m = _project(np.array([piece], dtype=object), tr)[0]
        mask[idx] = shapely.dwithin(piece_m, _project(geoms[idx], tr), buffer_km * 1000.0)
    return mask


def _buffer_outline(line: BaseGeometry, buffer_km: float) -> BaseGeometry:
    shapes = []
    for crs, piece in corridor_pieces(line):
        fwd = pyproj.Transformer.from_crs(4326, crs, always_xy=True)
        back = pyproj.Transformer.from_crs(crs, 4326, always_xy=True)
        poly = _project(np.array([piece], dtype=object), fwd)[0].buffer(buffer_km * 1000.0,
                                                                          quad_segs=16)
        shapes.append(_project(np.array([poly], dtype=object), back)[0])
    out: BaseGeometry = shapely.union_all(shapes)
    return out


def corridor_query(line: BaseGeometry, *, buffer_km: float, events: gpd.GeoDataFrame,
                   candidates: gpd.GeoDataFrame, aerodromes: gpd.GeoDataFrame,
                   start: datetime | None = None, end: datetime | None = None) -> Corridor:
    """Events, runway candidates and aerodromes within ``buffer_km`` of ``line``.

    Parameters
    ----------
    line
        A route or a drawn line (LineString or MultiLineString) in EPSG:4326.
    buffer_km
        Half-width of the corridor, km (0-1000), measured as the module notes describe.
    events, candidates, aerodromes
        Layers in EPSG:4326 (:mod:`geo.schema`). Candidates count when any part of their
        rectangle is within the buffer.
    start, end
        Time window, timezone-aware, ``start <= t < end`` on events' ``occurred_at`` and
        candidates' ``detected_at``; aerodromes have no date. None: open.

    Returns
    -------
    Corridor
        The matching rows of each layer (original index and order kept) and the outline.
    """
    _check_line(line)
    window = Filters(start=start, end=end)
    ev = events.iloc[np.flatnonzero(event_mask(events, window))]
    cand = filter_candidates(candidates, window)
    parts = [layer.iloc[np.flatnonzero(within_corridor(layer.geometry.to_numpy(), line,
                                                       buffer_km))]
             for layer in (ev, cand, aerodromes)]
    return Corridor(parts[0], parts[1], parts[2], _buffer_outline(line, buffer_km), buffer_km)
