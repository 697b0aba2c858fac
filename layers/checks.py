"""Guard the entry of every layer builder: EPSG:4326 and the contract's columns present.

Builders expect frames validated by :mod:`geo.schema`; this check only catches a wrong CRS or a
missing column early, with one message listing every problem, instead of a KeyError deep in
folium.
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd

from geo.errors import CRSError, SchemaError

__all__ = ["require_layer"]


def require_layer(gdf: gpd.GeoDataFrame, *, layer: str, columns: Sequence[str]) -> None:
    """Raise if ``gdf`` is not in EPSG:4326 or lacks any of ``columns``.

    Raises
    ------
    CRSError
        When the CRS is missing or not EPSG:4326 (it is never guessed).
    SchemaError
        When columns are missing; all of them are named.
    """
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise SchemaError(f"{layer}: expected a GeoDataFrame, got {type(gdf).__name__}")
    if gdf.crs is None:
        raise CRSError(f"{layer}: no CRS declared; expected EPSG:4326 (validate the layer first)")
    if gdf.crs.to_epsg() != 4326:
        raise CRSError(f"{layer}: CRS is {gdf.crs.to_string()}, expected EPSG:4326; "
                       "reproject with .to_crs(4326)")
    missing = [c for c in columns if c not in gdf.columns]
    if missing:
        raise SchemaError(f"{layer}: missing column(s) {', '.join(missing)}; "
                          "validate the layer with geo.schema first")
