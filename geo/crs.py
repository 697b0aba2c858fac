"""CRS rules: store in EPSG:4326, measure in the feature's UTM zone.

All public functions take and return geometries in EPSG:4326 (longitude, latitude in degrees)
unless stated; lengths are metres and areas square metres, computed in the UTM zone of each
feature's centroid so that a feature in Mexico and one in Argentina are both measured well.
Refusals are :class:`~geo.message.Message` (the English they always were), so the interface
shows them in the reader's language.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

from geo.errors import CRSError
from geo.message import Message

WGS84 = pyproj.CRS.from_epsg(4326)


def utm_epsg(lon: float, lat: float) -> int:
    """Return the EPSG code of the WGS 84 UTM zone containing ``(lon, lat)`` in degrees.

    Examples
    --------
    >>> utm_epsg(-74.0, -9.5)   # Ucayali, Peru
    32718
    >>> utm_epsg(-89.9, 17.2)   # Peten, Guatemala
    32616
    """
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        raise CRSError(Message("expected lon in [-180, 180] and lat in [-90, 90], got ({lon}, "
                               "{lat})", lon=str(lon), lat=str(lat)))
    zone = min(int((lon + 180.0) // 6.0) + 1, 60)
    return (32600 if lat >= 0 else 32700) + zone


def require_crs(gdf: gpd.GeoDataFrame, expected: int = 4326, *,
                what: str = Message("data")) -> None:
    """Raise :class:`CRSError` unless ``gdf`` declares the EPSG code ``expected``.

    A missing CRS is never guessed: degrees and metres look alike to a computer. ``what``
    names the data in the message; a :class:`~geo.message.Message` is translated with it.
    """
    if gdf.crs is None:
        raise CRSError(Message(
            "{what} has no CRS; expected EPSG:{expected}. Set it explicitly (gdf.set_crs(...)) "
            "if you know what the coordinates are.", what=what, expected=str(expected)))
    if gdf.crs.to_epsg() != expected:
        raise CRSError(Message(
            "{what} is in {crs}; expected EPSG:{expected}. Reproject it first "
            "(gdf.to_crs({expected})).", what=what, crs=gdf.crs.to_string(),
            expected=str(expected)))


def _to_utm(geom: BaseGeometry) -> BaseGeometry:
    c = geom.centroid
    tr = pyproj.Transformer.from_crs(WGS84, utm_epsg(c.x, c.y), always_xy=True)
    out: BaseGeometry = shapely.transform(geom, tr.transform, interleaved=False)
    return out


def length_m(geom: BaseGeometry) -> float:
    """Length in metres of an EPSG:4326 line, measured in its own UTM zone."""
    return float(_to_utm(geom).length)


def area_m2(geom: BaseGeometry) -> float:
    """Area in square metres of an EPSG:4326 polygon, measured in its own UTM zone."""
    return float(_to_utm(geom).area)


def lengths_m(gdf: gpd.GeoDataFrame) -> np.ndarray:
    """Per-feature lengths in metres of an EPSG:4326 GeoDataFrame (UTM zone of each feature)."""
    require_crs(gdf)
    return np.array([length_m(g) if g is not None and not g.is_empty else np.nan
                     for g in gdf.geometry], dtype="float64")
