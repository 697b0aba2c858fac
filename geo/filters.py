"""What an analyst asks to see: one frozen :class:`Filters` and a pure ``filter_*`` per layer.

Every function here is vectorised (NumPy masks over whole columns, never a Python loop over
rows) and returns a new frame; the input is never modified. A spatial filter first keeps the
points inside the area's bounding box (four comparisons per row) and runs the exact
point-in-polygon test (``shapely.contains_xy``, prepared geometry) only on those.

Conventions
-----------
- A category filter of ``None`` means *no filter*; an empty tuple means *nothing matches*.
  (The sidebar turns an empty selection into ``None``: "no choice" reads as "all".)
- ``start`` is inclusive and ``end`` exclusive, both timezone-aware UTC.
- The area of interest (``aoi``) and the map ``bounds`` are in EPSG:4326 (lon, lat).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from geo.detect.lifecycle import MIN_OVERLAP
from geo.errors import SchemaError
from geo.message import Message

__all__ = [
    "LAYER_FILTERS",
    "MAX_AOI_VERTICES",
    "Filters",
    "check_aoi",
    "event_mask",
    "events_at",
    "filter_aerodromes",
    "filter_candidates",
    "filter_events",
    "filter_routes",
    "filter_scenes",
    "latest_sightings",
    "point_mask",
    "view_bounds",
]

Bounds = tuple[float, float, float, float]
#: An area of interest drawn by hand has tens of vertices; a pasted country outline may have
#: thousands. Past this the point-in-polygon test gets slow, so it is refused with a fix.
MAX_AOI_VERTICES = 10_000


def _as_tuple(value: Sequence[str] | None) -> tuple[str, ...] | None:
    return None if value is None else tuple(sorted(dict.fromkeys(map(str, value))))


def _check_bounds(bounds: Bounds, name: Message) -> None:
    """Refuse bounds that are not finite degrees in order; ``name`` says whose they are."""
    lon0, lat0, lon1, lat1 = bounds
    if not all(math.isfinite(v) for v in bounds):
        raise SchemaError(Message("{name} {bounds} holds a value that is not finite",
                                  name=name, bounds=str(bounds)))
    if not (-90 <= lat0 <= lat1 <= 90) or not (-180 <= lon0 <= 360 and lon0 <= lon1 <= 360):
        raise SchemaError(Message("{name} {bounds} is not (lon_min, lat_min, lon_max, lat_max) "
                                  "in degrees: swapped latitude and longitude?",
                                  name=name, bounds=str(bounds)))


def check_aoi(aoi: BaseGeometry) -> None:
    """Refuse an area of interest that is not a (Multi)Polygon in degrees, or too detailed.

    Raises
    ------
    SchemaError
        Not a non-empty (Multi)Polygon, more than :data:`MAX_AOI_VERTICES` vertices, or bounds
        that are not degrees (swapped latitude and longitude?).
    """
    if aoi.geom_type not in ("Polygon", "MultiPolygon") or aoi.is_empty:
        if aoi.is_empty:
            raise SchemaError(Message("the area of interest must be a Polygon or MultiPolygon, "
                                      "got an empty {kind}", kind=aoi.geom_type))
        raise SchemaError(Message("the area of interest must be a Polygon or MultiPolygon, "
                                  "got a {kind}", kind=aoi.geom_type))
    n = shapely.get_num_coordinates(aoi)
    if n > MAX_AOI_VERTICES:
        raise SchemaError(Message("the area of interest has {n} vertices, more than {most}; "
                                  "simplify it before using it as a filter",
                                  n=int(n), most=MAX_AOI_VERTICES))
    _check_bounds(tuple(aoi.bounds), Message("the area of interest's bounds"))


@dataclass(frozen=True)
class Filters:
    """Everything that narrows the layers shown; immutable and hashable (a cache key).

    Parameters
    ----------
    start, end
        Time window, timezone-aware: ``start <= t < end``; ``None`` leaves that side open.
    event_types, commodities, countries, sources
        Event attributes to keep (``None``: all).
    min_confidence
        Events and routes with a lower confidence (0-1) are dropped.
    route_modes
        Route modes to keep (``None``: all).
    candidate_states
        Runway candidate states to keep (``None``: all).
    min_score
        Runway candidates scoring lower (0-1) are dropped.
    aoi
        Area of interest, Polygon or MultiPolygon in EPSG:4326.
    bounds
        Map view ``(lon_min, lat_min, lon_max, lat_max)`` in degrees.

    Examples
    --------
    >>> f = Filters(event_types=["seizure", "seizure"], min_confidence=0.5)
    >>> f.event_types, f.is_default
    (('seizure',), False)
    >>> Filters().is_default
    True
    """

    start: datetime | None = None
    end: datetime | None = None
    event_types: tuple[str, ...] | None = None
    commodities: tuple[str, ...] | None = None
    countries: tuple[str, ...] | None = None
    sources: tuple[str, ...] | None = None
    min_confidence: float = 0.0
    route_modes: tuple[str, ...] | None = None
    candidate_states: tuple[str, ...] | None = None
    min_score: float = 0.0
    aoi: BaseGeometry | None = None
    bounds: Bounds | None = None

    def __post_init__(self) -> None:
        for name in ("event_types", "commodities", "countries", "sources", "route_modes",
                     "candidate_states"):
            object.__setattr__(self, name, _as_tuple(getattr(self, name)))
        for name in ("start", "end"):
            when = getattr(self, name)
            if when is not None and when.tzinfo is None:
                raise SchemaError(f"{name}={when.isoformat()} has no time zone; give UTC "
                                  "times (datetime(..., tzinfo=UTC))")
        if self.start is not None and self.end is not None and self.start > self.end:
            raise SchemaError(Message("start {start} is after end {end}: exchange them",
                                      start=f"{self.start:%Y-%m-%d}", end=f"{self.end:%Y-%m-%d}"))
        for name in ("min_confidence", "min_score"):
            value = float(getattr(self, name))
            if not 0.0 <= value <= 1.0:
                raise SchemaError(Message("{name}={value} is outside 0-1", name=name,
                                          value=str(value)))
            object.__setattr__(self, name, value)
        if self.bounds is not None:
            object.__setattr__(self, "bounds", tuple(float(v) for v in self.bounds))
            _check_bounds(self.bounds, Message("bounds"))
        if self.aoi is not None:
            check_aoi(self.aoi)

    @property
    def is_default(self) -> bool:
        """True when nothing is filtered out."""
        return self == Filters()

    def key(self) -> str:
        """Return a text that changes whenever any filter changes (for cache keys)."""
        parts: list[str] = []
        for f in fields(self):
            value: Any = getattr(self, f.name)
            if isinstance(value, BaseGeometry):
                value = shapely.to_wkb(value, hex=True)
            parts.append(f"{f.name}={value!r}")
        return ";".join(parts)


# -- masks ------------------------------------------------------------------------------------

def _category_mask(column: pd.Series, keep: tuple[str, ...]) -> np.ndarray:
    """Rows whose value is in ``keep``; categorical columns are tested on their few codes."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        allowed = np.asarray(column.cat.categories.astype(str).isin(keep), dtype=bool)
        codes = column.cat.codes.to_numpy()
        return np.where(codes >= 0, allowed[np.maximum(codes, 0)], False)
    return np.asarray(column.isin(keep).to_numpy(dtype=bool, na_value=False), dtype=bool)


def _utc_values(column: pd.Series) -> np.ndarray:
    """Return the column as numpy datetime64 in UTC, without Python objects."""
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        return np.asarray(column.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy())
    return np.asarray(pd.to_datetime(column, utc=True).dt.tz_localize(None).to_numpy())


def _time_mask(column: pd.Series, start: datetime | None, end: datetime | None) -> np.ndarray:
    values = _utc_values(column)
    mask = ~np.isnat(values)
    if start is not None:
        mask &= values >= np.datetime64(pd.Timestamp(start).tz_convert("UTC").tz_localize(None))
    if end is not None:
        mask &= values < np.datetime64(pd.Timestamp(end).tz_convert("UTC").tz_localize(None))
    return np.asarray(mask, dtype=bool)


def _at_least(column: pd.Series, low: float) -> np.ndarray:
    values = column.to_numpy(dtype="float64", na_value=np.nan)
    return np.asarray(values >= low, dtype=bool)


def point_mask(x: np.ndarray, y: np.ndarray, *, aoi: BaseGeometry | None = None,
               bounds: Bounds | None = None) -> np.ndarray:
    """Boolean mask of the points (x = lon, y = lat) inside ``bounds`` and ``aoi``.

    Points on the area's boundary count as inside (``shapely.intersects_xy``). The exact
    polygon test runs only on the points that pass the bounding-box test.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> point_mask(np.array([0.5, 2.0, np.nan]), np.array([0.5, 0.5, 0.5]), aoi=box(0, 0, 1, 1))
    array([ True, False, False])
    """
    mask = np.isfinite(x) & np.isfinite(y)
    for box in (bounds, None if aoi is None else aoi.bounds):
        if box is not None:
            lon0, lat0, lon1, lat1 = box
            mask &= (x >= lon0) & (x <= lon1) & (y >= lat0) & (y <= lat1)
    if aoi is not None:
        idx = np.flatnonzero(mask)
        shapely.prepare(aoi)
        mask[idx] = shapely.intersects_xy(aoi, x[idx], y[idx])
    return np.asarray(mask, dtype=bool)


def _point_xy(gdf: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    geoms = gdf.geometry.to_numpy()
    usable = np.where(shapely.is_empty(geoms), None, geoms)
    return (np.asarray(shapely.get_x(usable), dtype="float64"),
            np.asarray(shapely.get_y(usable), dtype="float64"))


def event_mask(events: gpd.GeoDataFrame, filters: Filters) -> np.ndarray:
    """Boolean mask (one per row) of the events that pass ``filters``; see :func:`filter_events`."""
    mask = np.ones(len(events), dtype=bool)
    if filters.start is not None or filters.end is not None:
        mask &= _time_mask(events["occurred_at"], filters.start, filters.end)
    for name, column in (("event_types", "event_type"), ("commodities", "commodity"),
                         ("countries", "country"), ("sources", "source")):
        keep = getattr(filters, name)
        if keep is not None:
            mask &= _category_mask(events[column], keep)
    if filters.min_confidence > 0:
        mask &= _at_least(events["confidence"], filters.min_confidence)
    if filters.aoi is not None or filters.bounds is not None:
        idx = np.flatnonzero(mask)  # only the survivors pay for the geometry
        x, y = _point_xy(events.iloc[idx])
        mask[idx] = point_mask(x, y, aoi=filters.aoi, bounds=filters.bounds)
    return mask


def _take(gdf: gpd.GeoDataFrame, mask: np.ndarray) -> gpd.GeoDataFrame:
    if mask.all():
        return gdf.copy()
    return gdf.iloc[np.flatnonzero(mask)]


def filter_events(events: gpd.GeoDataFrame, filters: Filters) -> gpd.GeoDataFrame:
    """Return the events that pass every filter, in their original order.

    Parameters
    ----------
    events
        Events layer (``geo.schema.EVENTS``) in EPSG:4326; categorical columns are fastest.
    filters
        Time window, types, commodities, countries, sources, minimum confidence, area of
        interest and map bounds (the route and candidate fields are ignored here).

    Returns
    -------
    geopandas.GeoDataFrame
        The matching rows (original index kept).

    Notes
    -----
    About 0.1-0.3 s for 1,000,000 events on one core (see ``bench/bench_explorer.py``).

    Examples
    --------
    >>> from shapely.geometry import Point
    >>> ev = gpd.GeoDataFrame({"event_type": ["seizure", "incident"], "confidence": [0.9, 0.2]},
    ...                       geometry=[Point(-74, 4), Point(-65, -17)], crs=4326)
    >>> len(filter_events(ev, Filters(min_confidence=0.5)))
    1
    """
    return _take(events, event_mask(events, filters))


def _geometry_mask(gdf: gpd.GeoDataFrame, filters: Filters) -> np.ndarray:
    """Rows whose geometry intersects the area of interest and the map bounds."""
    mask = np.ones(len(gdf), dtype=bool)
    geoms = gdf.geometry.to_numpy()
    for area in (None if filters.bounds is None else shapely.box(*filters.bounds), filters.aoi):
        if area is None:
            continue
        lon0, lat0, lon1, lat1 = area.bounds
        b = shapely.bounds(geoms)  # bbox prefilter, then the exact test on the survivors
        near = mask & (b[:, 2] >= lon0) & (b[:, 0] <= lon1) & (b[:, 3] >= lat0) & (b[:, 1] <= lat1)
        idx = np.flatnonzero(near)
        shapely.prepare(area)
        mask[:] = False
        mask[idx] = shapely.intersects(area, geoms[idx])
    return mask


def filter_routes(routes: gpd.GeoDataFrame, filters: Filters) -> gpd.GeoDataFrame:
    """Return the routes active in the time window, of the chosen modes, crossing the area.

    A route is kept when its ``[first_seen, last_seen]`` span overlaps ``[start, end)``, its
    mode is chosen, its confidence is at least ``min_confidence`` and its line intersects the
    area of interest and the map bounds.
    """
    mask = np.ones(len(routes), dtype=bool)
    if filters.start is not None:
        mask &= _time_mask(routes["last_seen"], filters.start, None)
    if filters.end is not None:
        mask &= _time_mask(routes["first_seen"], None, filters.end)
    if filters.route_modes is not None:
        mask &= _category_mask(routes["mode"], filters.route_modes)
    if filters.min_confidence > 0:
        mask &= _at_least(routes["confidence"], filters.min_confidence)
    mask &= _geometry_mask(routes, filters)
    return _take(routes, mask)


def filter_candidates(candidates: gpd.GeoDataFrame, filters: Filters, *,
                      latest: bool = True) -> gpd.GeoDataFrame:
    """Return the runway strips as last seen in the window, in the chosen states, in the area.

    The candidates layer holds one row per sighting (a strip found on two dates is two rows,
    the later one with its ``first_seen`` and tracked ``state``). Kept when ``detected_at`` is
    in ``[start, end)`` and no later sighting in the window is the same strip (see
    :func:`latest_sightings`), ``state`` is chosen, ``score`` is at least ``min_score``, the
    rectangle intersects the area of interest and the map bounds and, with ``countries``
    chosen, its ``country`` (where it lies, added by :func:`geo.world.read_world`) is one of
    them; a frame without that column is not narrowed by country. ``latest=False`` keeps
    every sighting (a history of detections, not a map of strips).
    """
    mask = np.ones(len(candidates), dtype=bool)
    if filters.countries is not None and "country" in candidates:
        mask &= _category_mask(candidates["country"], filters.countries)
    if filters.start is not None or filters.end is not None:
        mask &= _time_mask(candidates["detected_at"], filters.start, filters.end)
    if latest:
        mask &= latest_sightings(candidates, within=mask)  # the strip as the window last saw it
    if filters.candidate_states is not None:
        mask &= _category_mask(candidates["state"], filters.candidate_states)
    if filters.min_score > 0:
        mask &= _at_least(candidates["score"], filters.min_score)
    mask &= _geometry_mask(candidates, filters)
    return _take(candidates, mask)


def latest_sightings(candidates: gpd.GeoDataFrame, *, within: np.ndarray | None = None,
                     min_overlap: float = MIN_OVERLAP) -> np.ndarray:
    """Mask of the rows that are the latest sighting of their strip among the rows ``within``.

    A row is left out when another row of ``within`` detected later (``detected_at``) overlaps
    its rectangle by at least ``min_overlap`` of the smaller one: the same strip seen again
    (the rule of the tracker and of the alert store, :mod:`geo.detect.lifecycle`).
    Rows outside ``within`` are False; rows without a date are kept and hide nothing. The
    overlap is a ratio of areas, so degrees (EPSG:4326) serve as well as metres nearby.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> seen = gpd.GeoDataFrame({"detected_at": pd.to_datetime(
    ...     ["2023-07-15", "2024-08-02", "2024-08-02"], utc=True)},
    ...     geometry=[box(0, 0, 1, 0.1), box(0.05, 0, 1.05, 0.1), box(5, 5, 6, 5.1)], crs=4326)
    >>> latest_sightings(seen).tolist()  # the 2023 sighting is the first 2024 one's strip
    [False, True, True]
    """
    keep = np.ones(len(candidates), dtype=bool) if within is None else within.copy()
    rows = np.flatnonzero(keep)
    if len(rows) < 2:
        return keep
    geoms = candidates.geometry.to_numpy()[rows]
    when = _utc_values(candidates["detected_at"])[rows]
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    later = (left != right) & ~np.isnat(when[left]) & ~np.isnat(when[right])
    later &= when[right] > when[left]
    left, right = left[later], right[later]
    if len(left):
        shared = shapely.area(shapely.intersection(geoms[left], geoms[right]))
        smaller = np.minimum(shapely.area(geoms[left]), shapely.area(geoms[right]))
        same = shared >= min_overlap * np.where(smaller > 0, smaller, np.inf)
        keep[rows[np.unique(left[same])]] = False
    return keep


def filter_aerodromes(aerodromes: gpd.GeoDataFrame, filters: Filters) -> gpd.GeoDataFrame:
    """Return the registered aerodromes in the chosen countries, inside the area and bounds.

    Aerodromes have no date: the time window does not apply to them.
    """
    mask = np.ones(len(aerodromes), dtype=bool)
    if filters.countries is not None:
        mask &= _category_mask(aerodromes["country"], filters.countries)
    if filters.aoi is not None or filters.bounds is not None:
        x, y = _point_xy(aerodromes)
        mask &= point_mask(x, y, aoi=filters.aoi, bounds=filters.bounds)
    return _take(aerodromes, mask)


def filter_scenes(scenes: gpd.GeoDataFrame, filters: Filters) -> gpd.GeoDataFrame:
    """Return the imagery scenes acquired in the time window whose footprint meets the area.

    Kept when ``acquired_at`` is in ``[start, end)`` and the footprint intersects the area of
    interest and the map bounds; the event, route and candidate fields do not apply.
    """
    mask = np.ones(len(scenes), dtype=bool)
    if filters.start is not None or filters.end is not None:
        mask &= _time_mask(scenes["acquired_at"], filters.start, filters.end)
    mask &= _geometry_mask(scenes, filters)
    return _take(scenes, mask)


# -- the map view and a clicked point -------------------------------------------------------------

#: The filter of each layer, by its name in the data folder (``geo.world``).
LAYER_FILTERS: Mapping[str, Callable[[gpd.GeoDataFrame, Filters], gpd.GeoDataFrame]] = {
    "events": filter_events,
    "routes": filter_routes,
    "candidates": filter_candidates,
    "aerodromes": filter_aerodromes,
    "scenes": filter_scenes,
}


def view_bounds(south: float, west: float, north: float, east: float) -> Bounds | None:
    """Turn a web map's view into ``Filters.bounds``: ``(lon_min, lat_min, lon_max, lat_max)``.

    Parameters
    ----------
    south, west, north, east
        The view's edges in degrees (EPSG:4326) as Leaflet reports them: longitudes run past
        +/-180 after panning round the globe, latitudes past +/-90 at low zoom.

    Returns
    -------
    tuple or None
        Bounds clipped to the world. A view across the antimeridian, or wider than the world,
        keeps every longitude (more rather than less). None when an edge is not a finite number
        or the view is empty.

    Examples
    --------
    >>> view_bounds(-10.0, -80.0, 5.0, -60.0)
    (-80.0, -10.0, -60.0, 5.0)
    >>> view_bounds(-10.0, 280.0, 5.0, 300.0)  # panned once round the world, eastward
    (-80.0, -10.0, -60.0, 5.0)
    >>> view_bounds(-95.0, -500.0, 95.0, 500.0)
    (-180.0, -90.0, 180.0, 90.0)
    """
    edges = (south, west, north, east)
    if not all(isinstance(v, int | float) and math.isfinite(v) for v in edges):
        return None
    lat0, lat1 = max(-90.0, float(south)), min(90.0, float(north))
    if lat0 >= lat1 or west >= east:
        return None
    if east - west >= 360.0:
        return (-180.0, lat0, 180.0, lat1)
    turns = math.floor((west + 180.0) / 360.0)
    lon0, lon1 = west - 360.0 * turns, east - 360.0 * turns
    if lon1 > 180.0:  # across the antimeridian
        return (-180.0, lat0, 180.0, lat1)
    return (float(lon0), lat0, float(lon1), lat1)


def events_at(events: gpd.GeoDataFrame, lon: float, lat: float, *,
              tolerance_deg: float = 1.1e-5) -> gpd.GeoDataFrame:
    """Return the events within ``tolerance_deg`` of (lon, lat), in degrees (EPSG:4326).

    The map ships coordinates quantised to 1e-5 degree, so the point it reports for a clicked
    event is within half of that of the stored one; the default tolerance finds it and, in
    practice, nothing else (several events at one place are all returned).

    Examples
    --------
    >>> from shapely.geometry import Point
    >>> ev = gpd.GeoDataFrame({"event_id": ["a", "b"]},
    ...                       geometry=[Point(-74.123456, 4.6), Point(-74.2, 4.6)], crs=4326)
    >>> list(events_at(ev, -74.12346, 4.6)["event_id"])
    ['a']
    """
    if not (math.isfinite(lon) and math.isfinite(lat)):
        return events.iloc[:0]
    x, y = _point_xy(events)
    near = (np.abs(x - lon) <= tolerance_deg) & (np.abs(y - lat) <= tolerance_deg)
    return events.iloc[np.flatnonzero(near)]
