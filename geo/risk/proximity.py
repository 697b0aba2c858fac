"""Proximity of runway candidates to what makes a strip useful to traffickers, in km.

Point layers (aerodromes, recent seizures, other candidates) are searched with a haversine
ball tree, and the few nearest on the sphere are then measured as geodesics on the WGS 84
ellipsoid (the sphere alone is up to 0.5 % off). Line layers (rivers, routes, land borders)
are read as geodesics between vertices and measured in an azimuthal equidistant projection
centred on each group of nearby candidates (one STRtree nearest query per group): within
0.05 % up to ~350 km.

Notes
-----
All geometries are EPSG:4326. A layer that is absent or empty gives NaN distances, never 0.
The sample world has no hydrography: pass any line layer as ``rivers`` (e.g. the routes whose
``mode`` is ``"river"``) or leave it None.
"""

from __future__ import annotations

from datetime import datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from sklearn.neighbors import BallTree

from geo.countries import CountryBorders
from geo.crs import require_crs
from geo.errors import SchemaError
from geo.message import Message
from geo.risk.geodesic import aeqd_crs, densify_geodesic, geodesic_km

__all__ = [
    "EARTH_RADIUS_KM",
    "PROXIMITY_COLUMNS",
    "candidate_proximity",
    "count_within_km",
    "land_borders",
    "nearest_line_km",
    "nearest_point_km",
    "recent_seizures",
]

#: Mean Earth radius (IUGG), km.
EARTH_RADIUS_KM = 6371.0088
#: WGS 84 longitude/latitude as a PROJ string: the same axes as EPSG:4326 with always_xy, but
#: a transformer from it is made without a database look-up (2 ms instead of 11 ms per group).
_LONLAT = pyproj.CRS.from_proj4("+proj=longlat +datum=WGS84 +no_defs")
PROXIMITY_COLUMNS = ("river_km", "border_km", "route_km", "seizure_km", "aerodrome_km",
                     "candidate_km")


def _radians(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    xy = np.column_stack([np.asarray(lat, "float64"), np.asarray(lon, "float64")])
    return np.asarray(np.radians(xy), dtype="float64")


def nearest_point_km(lon: np.ndarray, lat: np.ndarray, other_lon: np.ndarray,
                     other_lat: np.ndarray, *, exclude_self: bool = False
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Geodesic distance (km, WGS 84) from each point to the nearest other point, and its index.

    A haversine ball tree proposes the few nearest on the sphere; the geodesic distances of
    those decide (the sphere alone is up to 0.5 % off).

    Parameters
    ----------
    lon, lat, other_lon, other_lat
        Degrees (EPSG:4326).
    exclude_self
        The two sets are the same points: skip each point itself.

    Returns
    -------
    distance_km, index
        NaN and -1 when there is no other point.

    Examples
    --------
    >>> d, i = nearest_point_km(np.array([0.0]), np.array([0.0]), np.array([1.0, 5.0]),
    ...                         np.array([0.0, 0.0]))
    >>> round(float(d[0]), 3), int(i[0])
    (111.319, 0)
    """
    n, m = len(lon), len(other_lon)
    if n == 0 or m < 1 + exclude_self:
        return np.full(n, np.nan), np.full(n, -1, dtype=np.int64)
    k = min(m, 4 + exclude_self)
    tree = BallTree(_radians(other_lon, other_lat), metric="haversine")
    idx = tree.query(_radians(lon, lat), k=k, return_distance=False)
    rows = np.repeat(np.arange(n), k)
    flat = idx.ravel()
    d = geodesic_km(np.asarray(lon, "float64")[rows], np.asarray(lat, "float64")[rows],
                    np.asarray(other_lon, "float64")[flat],
                    np.asarray(other_lat, "float64")[flat]).reshape(n, k)
    if exclude_self:
        d = np.where(idx == np.arange(n)[:, None], np.inf, d)
    best = np.argmin(d, axis=1)
    return d[np.arange(n), best], idx[np.arange(n), best].astype(np.int64)


def count_within_km(lon: np.ndarray, lat: np.ndarray, other_lon: np.ndarray,
                    other_lat: np.ndarray, radius_km: float) -> np.ndarray:
    """Count the other points within ``radius_km`` (geodesic, WGS 84) of each point.

    Examples
    --------
    >>> count_within_km(np.array([0.0]), np.array([0.0]), np.array([0.1, 0.5, 2.0]),
    ...                 np.zeros(3), 60.0).tolist()
    [2]
    """
    if radius_km < 0:
        raise SchemaError(f"radius {radius_km} km must not be negative")
    if len(lon) == 0 or len(other_lon) == 0:
        return np.zeros(len(lon), dtype=np.int64)
    tree = BallTree(_radians(other_lon, other_lat), metric="haversine")
    # The sphere is within 0.6 % of the ellipsoid: a slightly larger radius, then exact.
    hits = tree.query_radius(_radians(lon, lat), r=radius_km * 1.007 / EARTH_RADIUS_KM)
    sizes = np.fromiter(map(len, hits), dtype=np.int64, count=len(hits))
    rows = np.repeat(np.arange(len(lon)), sizes)
    flat = np.concatenate(hits).astype(np.int64) if len(hits) else np.zeros(0, np.int64)
    d = geodesic_km(np.asarray(lon, "float64")[rows], np.asarray(lat, "float64")[rows],
                    np.asarray(other_lon, "float64")[flat], np.asarray(other_lat, "float64")[flat])
    return np.bincount(rows[d <= radius_km], minlength=len(lon)).astype(np.int64)


def _densified_lines(lines: np.ndarray, step_km: float) -> np.ndarray:
    out = []
    for geom in lines:
        for chain in densify_geodesic(geom, step_km):
            out.append(shapely.linestrings(chain) if len(chain) > 1 else shapely.points(chain[0]))
    return np.asarray(out, dtype=object)


def _lines_near(tree: shapely.STRtree, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Return the indices of the lines that may be nearest to any of these points (degrees).

    Projecting every line for every group of points cost ~40 s for 650 groups and the land
    borders of Latin America. The line nearest in degrees is at most ``111.7 m`` km away
    (``m`` its distance in degrees); a line ``d`` degrees away is at least
    ``110.5 cos(lat) d`` km away, so only lines within ``m / cos(lat)`` degrees of the point
    (generously padded) can be nearer.
    """
    pts = shapely.points(lon, lat)
    _, deg = tree.query_nearest(pts, return_distance=True, all_matches=False)
    cos = np.cos(np.radians(np.minimum(np.abs(lat) + deg, 89.0)))
    _, lines = tree.query(pts, predicate="dwithin", distance=deg * 1.05 / cos + 0.05)
    return np.asarray(np.unique(lines), dtype=np.int64)


def nearest_line_km(lon: np.ndarray, lat: np.ndarray, lines: np.ndarray, *,
                    group_deg: float = 2.0, step_km: float = 5.0) -> np.ndarray:
    """Distance (km) from each point to the nearest of ``lines`` (EPSG:4326).

    Lines are read as geodesics between their vertices (densified every ``step_km``). Points
    are grouped in ``group_deg`` cells; each group is measured in an azimuthal equidistant
    projection centred on it: within 0.05 % for features up to ~350 km from the group's
    centre, 0.4 % at 1,000 km.

    Examples
    --------
    >>> from shapely.geometry import LineString
    >>> d = nearest_line_km(np.array([-74.0]), np.array([-9.0]),
    ...                     np.array([LineString([(-74.1, -9.5), (-74.1, -8.5)])]))
    >>> round(float(d[0]), 3)  # the geodesic to (-74.1, -9.0) is 10.996 km
    10.996
    """
    lines = np.asarray(lines, dtype=object)
    lines = lines[~(shapely.is_missing(lines) | shapely.is_empty(lines))]
    out = np.full(len(lon), np.nan)
    if len(lines) == 0 or len(lon) == 0:
        return out
    dense = _densified_lines(lines, step_km)
    lon, lat = np.asarray(lon, "float64"), np.asarray(lat, "float64")
    tree_deg = shapely.STRtree(dense)
    cell = np.floor(lon / group_deg) * 1000 + np.floor(lat / group_deg)
    for key in np.unique(cell):
        sel = np.flatnonzero(cell == key)
        crs = aeqd_crs(float(lon[sel].mean()), float(lat[sel].mean()))
        tr = pyproj.Transformer.from_crs(_LONLAT, crs, always_xy=True)
        px, py = tr.transform(lon[sel], lat[sel])
        near = dense[_lines_near(tree_deg, lon[sel], lat[sel])]
        lines_m = shapely.transform(near, lambda xy, t=tr: np.column_stack(
            t.transform(xy[:, 0], xy[:, 1])))
        (i_pt, _), dist = shapely.STRtree(lines_m).query_nearest(
            shapely.points(px, py), return_distance=True, all_matches=False)
        out[sel[i_pt]] = dist / 1000.0
    return out


def land_borders(borders: CountryBorders, *,
                 bounds: tuple[float, float, float, float] | None = None) -> np.ndarray:
    """International land borders as lines: the boundary parts two countries share.

    Parameters
    ----------
    borders
        Country polygons (:func:`geo.countries.read_country_borders`), EPSG:4326.
    bounds
        Only countries meeting this box (degrees); None: the world.

    Returns
    -------
    numpy.ndarray
        LineStrings (EPSG:4326); coastlines are not borders and are left out.

    Examples
    --------
    >>> import shapely
    >>> b = CountryBorders(["AA", "BB"], [shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)])
    >>> [g.wkt for g in land_borders(b)]
    ['LINESTRING (1 0, 1 1)']
    """
    polys = borders.polygons
    if bounds is not None:
        polys = polys[shapely.intersects(polys, shapely.box(*bounds))]
    tree = shapely.STRtree(polys)
    left, right = tree.query(polys, predicate="intersects")
    pair = left < right
    shared = shapely.intersection(shapely.boundary(polys[left[pair]]),
                                  shapely.boundary(polys[right[pair]]))
    parts = shapely.get_parts(shapely.line_merge(shapely.get_parts(shared)))
    kinds = shapely.get_type_id(parts)
    return np.asarray(parts[(kinds == 1) | (kinds == 2)], dtype=object)


def recent_seizures(events: gpd.GeoDataFrame, *, now: datetime, months: int) -> gpd.GeoDataFrame:
    """Seizures (``event_type == "seizure"``) with ``now - months <= occurred_at <= now``.

    ``now`` must be timezone-aware; nothing here reads the clock.
    """
    if now.tzinfo is None:
        raise SchemaError(f"now={now!r} has no time zone: pass an aware UTC datetime")
    if months < 0:
        raise SchemaError(f"months={months} must not be negative")
    when = pd.to_datetime(events["occurred_at"], utc=True)
    stamp = pd.Timestamp(now).tz_convert("UTC")
    keep = (events["event_type"].astype("string") == "seizure").to_numpy(
        dtype=bool, na_value=False)
    keep &= ((when >= stamp - pd.DateOffset(months=months)) & (when <= stamp)).to_numpy(
        dtype=bool, na_value=False)
    return events.iloc[np.flatnonzero(keep)]


def _xy(gdf: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Lon/lat of each feature's centroid (points stay as they are)."""
    c = shapely.centroid(gdf.geometry.to_numpy())
    return np.asarray(shapely.get_x(c), "float64"), np.asarray(shapely.get_y(c), "float64")


def _lines(layer: gpd.GeoDataFrame | gpd.GeoSeries | np.ndarray | None) -> np.ndarray:
    if layer is None:
        return np.zeros(0, dtype=object)
    if isinstance(layer, gpd.GeoDataFrame | gpd.GeoSeries):
        return np.asarray(layer.geometry.to_numpy(), dtype=object)
    return np.asarray(layer, dtype=object)


def candidate_proximity(candidates: gpd.GeoDataFrame, *, now: datetime,
                        events: gpd.GeoDataFrame | None = None,
                        routes: gpd.GeoDataFrame | None = None,
                        aerodromes: gpd.GeoDataFrame | None = None,
                        rivers: gpd.GeoDataFrame | gpd.GeoSeries | np.ndarray | None = None,
                        borders: np.ndarray | None = None,
                        seizure_months: int = 12) -> pd.DataFrame:
    """Distances (km) from each runway candidate to the nearest feature of each kind.

    Parameters
    ----------
    candidates
        Runway candidates (EPSG:4326); distances are from each rectangle's centroid.
    now
        Reference time (aware) for "recent" seizures.
    events
        Events; only seizures in the ``seizure_months`` months up to ``now`` count. None:
        NaN ``seizure_km`` (no data); given but without a recent seizure: ``inf`` (there is
        none, which lowers the risk rather than leaving the factor out).
    routes, aerodromes, rivers
        Line, point and line layers; None or empty: NaN distances.
    borders
        Land border lines (:func:`land_borders`); None: NaN.
    seizure_months
        How far back a seizure counts as recent, months.

    Returns
    -------
    pandas.DataFrame
        Same index as ``candidates``: the :data:`PROXIMITY_COLUMNS` in km, plus
        ``nearest_aerodrome`` (ident), ``nearest_candidate`` (candidate_id) and
        ``nearest_candidate_state``. ``candidate_km`` is ``inf`` for a lone candidate
        (no other strip among ``candidates``).
    """
    require_crs(candidates, what=Message("runway candidates"))
    lon, lat = _xy(candidates)
    out = pd.DataFrame(index=candidates.index)
    out["river_km"] = nearest_line_km(lon, lat, _lines(rivers))
    out["border_km"] = nearest_line_km(lon, lat, _lines(borders))
    out["route_km"] = nearest_line_km(lon, lat, _lines(routes))
    seized = (recent_seizures(events, now=now, months=seizure_months) if events is not None
              else None)
    out["seizure_km"] = (np.full(len(lon), np.inf) if seized is not None and len(seized) == 0
                         else _nearest(lon, lat, seized)[0])
    out["aerodrome_km"], ident = _nearest(lon, lat, aerodromes, "ident")
    out["nearest_aerodrome"] = ident
    d, i = nearest_point_km(lon, lat, lon, lat, exclude_self=True)
    out["candidate_km"] = np.inf if len(lon) == 1 and np.isfinite(lon).all() else d
    for col, src in (("nearest_candidate", "candidate_id"), ("nearest_candidate_state", "state")):
        values = (candidates[src].to_numpy(dtype=object) if src in candidates.columns
                  else np.full(len(candidates), None, dtype=object))
        out[col] = _pick(values, i)
    return out


def _nearest(lon: np.ndarray, lat: np.ndarray, layer: gpd.GeoDataFrame | None,
             label: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    if layer is None or len(layer) == 0:
        return np.full(len(lon), np.nan), np.full(len(lon), None, dtype=object)
    olon, olat = _xy(layer)
    ok = np.flatnonzero(np.isfinite(olon) & np.isfinite(olat))
    d, i = nearest_point_km(lon, lat, olon[ok], olat[ok])
    names = (layer[label].to_numpy(dtype=object)[ok] if label and label in layer.columns
             else np.full(len(ok), None, dtype=object))
    return d, _pick(names, i)


def _pick(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Return ``values[index]`` as objects, None where the index is -1 (nothing found)."""
    out = np.full(len(index), None, dtype=object)
    found = index >= 0
    out[found] = values[index[found]]
    return out
