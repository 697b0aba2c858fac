"""Deterministic GeoJSON writer: same frame, same bytes (no driver or library version inside)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.crs import require_crs


def _value(v: Any) -> Any:
    """Convert a property value for JSON: UTC times as ISO 8601 with ``Z``, NaN/NaT as null."""
    if v is None or v is pd.NaT:
        return None
    if isinstance(v, pd.Timestamp):
        return v.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _geometry(geom: shapely.Geometry, precision: int) -> dict[str, Any]:
    rounded = shapely.set_precision(geom, 10.0 ** -precision, mode="pointwise")
    return json.loads(shapely.to_geojson(rounded))  # type: ignore[no-any-return]


def write_geojson(gdf: gpd.GeoDataFrame, path: str | Path, *, precision: int = 7) -> Path:
    """Write an EPSG:4326 layer as a GeoJSON FeatureCollection, byte-for-byte reproducibly.

    Parameters
    ----------
    gdf
        Layer in EPSG:4326 (raises :class:`~geo.errors.CRSError` otherwise).
    path
        Output file; overwritten.
    precision
        Decimal places kept in coordinates (7: about 1 cm).

    Returns
    -------
    pathlib.Path
        The written path.

    Notes
    -----
    Properties keep the frame's column order; times are written as ``YYYY-MM-DDTHH:MM:SSZ``;
    missing values as ``null``. RFC 7946: no ``crs`` member, coordinates are lon, lat.
    """
    require_crs(gdf, 4326, what="layer to write as GeoJSON")
    columns = [c for c in gdf.columns if c != gdf.geometry.name]
    features = []
    for row, geom in zip(gdf[columns].itertuples(index=False, name=None), gdf.geometry,
                         strict=True):
        props = {c: _value(v) for c, v in zip(columns, row, strict=True)}
        features.append({"type": "Feature", "properties": props,
                         "geometry": None if geom is None else _geometry(geom, precision)})
    text = json.dumps({"type": "FeatureCollection", "features": features},
                      ensure_ascii=False, separators=(",", ":"))
    out = Path(path)
    out.write_text(text + "\n", encoding="utf-8")
    return out
