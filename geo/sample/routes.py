"""Sample trafficking routes: sea lanes, flights, roads and rivers from hand-made waypoints."""

from __future__ import annotations

from itertools import pairwise

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
from shapely.geometry import LineString

from geo.sample.places import ROUTE_SPECS, RouteSpec

AIR_STEP_KM = 50.0  # spacing of the great-circle vertices of a flight


def _great_circle(points: tuple[tuple[float, float], ...]) -> list[tuple[float, float]]:
    """Waypoints joined by great-circle arcs, one vertex every ``AIR_STEP_KM`` (lon, lat)."""
    geod = pyproj.Geod(ellps="WGS84")
    out: list[tuple[float, float]] = [points[0]]
    for (lon0, lat0), (lon1, lat1) in pairwise(points):
        _, _, dist_m = geod.inv(lon0, lat0, lon1, lat1)
        n = int(dist_m / 1000.0 // AIR_STEP_KM)
        out.extend(geod.npts(lon0, lat0, lon1, lat1, n))
        out.append((lon1, lat1))
    return out


def route_line(spec: RouteSpec) -> LineString:
    """Geometry of one route in EPSG:4326: great circles for flights, straight legs otherwise.

    Examples
    --------
    >>> from geo.sample.places import ROUTE_SPECS
    >>> line = route_line(ROUTE_SPECS[0])
    >>> line.coords[0] == ROUTE_SPECS[0].waypoints[0]
    True
    """
    pts = _great_circle(spec.waypoints) if spec.mode == "air" else list(spec.waypoints)
    return LineString(np.round(np.asarray(pts, dtype="float64"), 5))


def generate_routes(*, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """Build the sample ROUTES layer: fixed geometry, attributes drawn from ``rng``.

    Returns
    -------
    geopandas.GeoDataFrame
        ``route_id``, ``mode``, ``origin``, ``destination``, ``first_seen``/``last_seen``
        (UTC, month starts between 2019 and 2025), ``confidence`` in [0, 1], ``source`` and
        ``volume_kg_year`` (kg per year), LineString from origin to destination, EPSG:4326.
    """
    n = len(ROUTE_SPECS)
    first_month = rng.integers(0, 48, n)  # 2019-01 .. 2022-12
    last_month = np.minimum(first_month + rng.integers(18, 84, n), 83)  # up to 2025-12
    months = pd.date_range("2019-01-01", periods=84, freq="MS", tz="UTC")
    volume = np.array([s.volume_t_year for s in ROUTE_SPECS]) * 1000.0
    volume = np.round(volume * rng.lognormal(0.0, 0.25, n), -2)
    frame = pd.DataFrame({
        "route_id": [s.route_id for s in ROUTE_SPECS],
        "mode": [s.mode for s in ROUTE_SPECS],
        "origin": [s.origin for s in ROUTE_SPECS],
        "destination": [s.destination for s in ROUTE_SPECS],
        "first_seen": months[first_month],
        "last_seen": months[last_month],
        "confidence": np.round(rng.beta(8.0, 3.0, n), 3),
        "source": [s.source for s in ROUTE_SPECS],
        "volume_kg_year": volume,
    })
    return gpd.GeoDataFrame(frame, geometry=[route_line(s) for s in ROUTE_SPECS], crs=4326)
