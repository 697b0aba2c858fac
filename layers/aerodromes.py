"""Registered aerodromes: small circles sized by runway length, popup with their facts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import shapely

from layers.checks import require_layer
from layers.escape import escape_text
from layers.popup import add_tip_and_popup, escaped_column

__all__ = ["AERODROME_COLOR", "build_aerodromes_layer"]

AERODROME_COLOR = "#64748b"
POPUP_FIELDS = ("ident", "name", "country", "runway_length_m", "surface", "kind")


def aerodrome_features(aerodromes: gpd.GeoDataFrame) -> dict[str, Any]:
    """GeoJSON FeatureCollection of points with escaped popup properties and a radius."""
    require_layer(aerodromes, layer="aerodromes", columns=("ident", "name"))
    fields = [f for f in POPUP_FIELDS if f in aerodromes.columns]
    cols = {f: escaped_column(aerodromes[f], digits=0) for f in fields}
    if "runway_length_m" in aerodromes.columns:
        length = aerodromes["runway_length_m"].to_numpy(dtype="float64", na_value=np.nan)
    else:
        length = np.full(len(aerodromes), np.nan)
    radius = np.where(np.isfinite(length), np.clip(0.8 + length / 1500.0, 1.2, 3.0), 1.2)
    geoms = aerodromes.geometry.to_numpy()
    xs, ys = shapely.get_x(geoms), shapely.get_y(geoms)
    features = []
    for i in range(len(aerodromes)):
        if not (np.isfinite(xs[i]) and np.isfinite(ys[i])):
            continue
        props: dict[str, Any] = {f: cols[f][i] for f in fields}
        props["_tip"] = " ".join(v for v in (props.get("ident", ""), props.get("name", "")) if v)
        props["_radius"] = round(float(radius[i]), 1)
        features.append({
            "type": "Feature",
            "geometry": {"type": "Point",
                         "coordinates": [round(float(xs[i]), 5), round(float(ys[i]), 5)]},
            "properties": props,
        })
    return {"type": "FeatureCollection", "features": features}


def _style(feature: dict[str, Any]) -> dict[str, Any]:
    return {"radius": feature["properties"]["_radius"], "color": AERODROME_COLOR, "weight": 0.5,
            "fillColor": AERODROME_COLOR, "fillOpacity": 0.4}


def build_aerodromes_layer(aerodromes: gpd.GeoDataFrame, *, name: str,
                           labels: Mapping[str, str] | None = None,
                           show: bool = True) -> folium.GeoJson:
    """Build the registered aerodromes overlay (light-weight GeoJson of circle markers).

    Parameters
    ----------
    aerodromes
        Aerodromes layer in EPSG:4326 (``geo.schema.AERODROMES``).
    name
        Name shown in the layer control (escaped here).
    labels
        Translated field names; English defaults otherwise.
    show
        Whether the layer is on when the map opens.

    Returns
    -------
    folium.GeoJson
        Circles of radius 1.2-3 px by runway length; popup with ident, name, country, runway
        length and surface, all escaped.
    """
    data = aerodrome_features(aerodromes)
    fields = [f for f in POPUP_FIELDS if f in aerodromes.columns]
    layer = folium.GeoJson(
        data, name=escape_text(name), show=show, overlay=True, control=True,
        marker=folium.CircleMarker(radius=3, fill=True), style_function=_style,
    )
    return add_tip_and_popup(layer, fields, labels, max_width=300)
