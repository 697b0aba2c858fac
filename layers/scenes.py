"""Imagery footprints: where each scene of the catalogue lies, when it was taken, by what."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import folium
import geopandas as gpd
import shapely

from layers.checks import require_layer
from layers.escape import escape_text
from layers.popup import add_tip_and_popup, escaped_column

__all__ = ["FOOTPRINT_COLOR", "build_scenes_layer", "scene_features"]

FOOTPRINT_COLOR = "#0f766e"
POPUP_FIELDS = ("scene_id", "acquired_at", "sensor", "resolution_m", "bands", "cloud_share",
                "native_crs")
_DIGITS = {"resolution_m": 1, "cloud_share": 2}


def scene_features(scenes: gpd.GeoDataFrame) -> dict[str, Any]:
    """GeoJSON FeatureCollection of footprints with escaped popup properties and a tooltip."""
    require_layer(scenes, layer="scenes", columns=("scene_id",))
    fields = [f for f in POPUP_FIELDS if f in scenes.columns]
    cols = {f: escaped_column(scenes[f], digits=_DIGITS.get(f, 1)) for f in fields}
    geoms = shapely.set_precision(scenes.geometry.to_numpy(), 1e-6)
    features = []
    for i, geom in enumerate(geoms):
        if geom is None or geom.is_empty:
            continue
        props: dict[str, Any] = {f: cols[f][i] for f in fields}
        props["_tip"] = " ".join(v for v in (props.get("scene_id", ""),
                                             props.get("acquired_at", "")[:10]) if v)
        features.append({"type": "Feature", "geometry": shapely.geometry.mapping(geom),
                         "properties": props})
    return {"type": "FeatureCollection", "features": features}


def build_scenes_layer(scenes: gpd.GeoDataFrame, *, name: str,
                       labels: Mapping[str, str] | None = None,
                       show: bool = True) -> folium.GeoJson:
    """Build the imagery footprints overlay (outlines, nearly no fill, so the map shows through).

    Parameters
    ----------
    scenes
        Scenes layer in EPSG:4326 (``geo.schema.SCENES``); geometry is the footprint.
    name
        Name shown in the layer control (escaped here).
    labels
        Translated field names; English defaults otherwise.
    show
        Whether the layer is on when the map opens.

    Returns
    -------
    folium.GeoJson
        Tooltip with the scene id and date; popup with date, sensor, resolution (m), bands,
        cloud share and native CRS, all escaped.
    """
    data = scene_features(scenes)
    fields = [f for f in POPUP_FIELDS if f in scenes.columns]
    layer = folium.GeoJson(
        data, name=escape_text(name), show=show, overlay=True, control=True,
        style_function=lambda _f: {"color": FOOTPRINT_COLOR, "weight": 1.5, "dashArray": "4 3",
                                   "fillColor": FOOTPRINT_COLOR, "fillOpacity": 0.03},
        highlight_function=lambda _f: {"weight": 3, "fillOpacity": 0.1},
    )
    return add_tip_and_popup(layer, fields, labels, max_width=320)
