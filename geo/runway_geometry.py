"""Oriented rectangles of real dimensions: the shape of a runway on the ground.

A runway is described by its centre (longitude, latitude in EPSG:4326), its length and width in
metres and its bearing in degrees clockwise from north, folded into [0, 180) because a strip has
no direction. The rectangle is built in the UTM zone of the centre, where metres are metres, and
returned in EPSG:4326.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pyproj
from shapely.geometry import Polygon

from geo.crs import utm_epsg
from geo.errors import ConfigError


@lru_cache(maxsize=64)
def _transformers(epsg: int) -> tuple[pyproj.Transformer, pyproj.Transformer]:
    """Forward (EPSG:4326 -> UTM) and inverse transformers, cached per zone."""
    fwd = pyproj.Transformer.from_crs(4326, epsg, always_xy=True)
    inv = pyproj.Transformer.from_crs(epsg, 4326, always_xy=True)
    return fwd, inv


def rectangle_corners(x: float, y: float, *, length_m: float, width_m: float,
                      bearing_deg: float) -> np.ndarray:
    """Corners of an oriented rectangle in a projected (metric) CRS.

    Parameters
    ----------
    x, y
        Centre in metres (e.g. UTM easting, northing).
    length_m, width_m
        Along-axis length and across-axis width, metres; both must be positive.
    bearing_deg
        Direction of the long axis, degrees clockwise from grid north.

    Returns
    -------
    numpy.ndarray
        Shape (5, 2): the closed ring (first corner repeated), counter-clockwise, metres.

    Examples
    --------
    >>> rectangle_corners(0.0, 0.0, length_m=1000.0, width_m=20.0, bearing_deg=90.0).round(3)
    array([[-500.,   10.],
           [-500.,  -10.],
           [ 500.,  -10.],
           [ 500.,   10.],
           [-500.,   10.]])
    """
    if not (length_m > 0 and width_m > 0 and np.isfinite(bearing_deg)):
        raise ConfigError(f"expected positive length_m and width_m and a finite bearing_deg, "
                          f"got length_m={length_m}, width_m={width_m}, bearing_deg={bearing_deg}")
    b = np.radians(bearing_deg)
    along = np.array([np.sin(b), np.cos(b)]) * (length_m / 2.0)
    across = np.array([np.cos(b), -np.sin(b)]) * (width_m / 2.0)
    c = np.array([x, y])
    ring = np.array([c - along - across, c - along + across, c + along + across,
                     c + along - across])
    if _signed_area(ring) < 0:  # keep the exterior ring counter-clockwise
        ring = ring[::-1]
    return np.vstack([ring, ring[:1]])


def _signed_area(ring: np.ndarray) -> float:
    x, y = ring[:, 0], ring[:, 1]
    return float(0.5 * (np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y)))


def oriented_rectangle(lon: float, lat: float, *, length_m: float, width_m: float,
                       bearing_deg: float) -> Polygon:
    """Rectangle of real dimensions centred on ``(lon, lat)``, returned in EPSG:4326.

    Parameters
    ----------
    lon, lat
        Centre in degrees (EPSG:4326).
    length_m, width_m
        Length along the axis and width across it, metres.
    bearing_deg
        Direction of the long axis, degrees clockwise from grid north of the centre's UTM zone
        (within 3 degrees of true north in Latin America).

    Returns
    -------
    shapely.geometry.Polygon
        Four corners (five coordinates, closed) in EPSG:4326.

    Notes
    -----
    Built in the WGS 84 UTM zone of the centre (:func:`geo.crs.utm_epsg`), so measuring the
    result back in that zone gives ``length_m`` and ``width_m`` to the millimetre.

    Examples
    --------
    >>> from geo.crs import area_m2
    >>> poly = oriented_rectangle(-74.6, -9.4, length_m=1200.0, width_m=20.0, bearing_deg=35.0)
    >>> round(area_m2(poly))
    24000
    """
    fwd, inv = _transformers(utm_epsg(lon, lat))
    x, y = fwd.transform(lon, lat)
    ring = rectangle_corners(x, y, length_m=length_m, width_m=width_m, bearing_deg=bearing_deg)
    lons, lats = inv.transform(ring[:, 0], ring[:, 1])
    return Polygon(np.column_stack([lons, lats]))
