"""Runway candidates: oriented rectangles coloured by state, popup with the detection facts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import shapely

from geo.schema import shown_scores
from layers.checks import require_layer
from layers.escape import escape_text
from layers.labels import label, number_symbols
from layers.popup import add_tip_and_popup, escaped_column

__all__ = ["CANDIDATE_COLORS", "build_candidates_layer", "legend_entries"]

CANDIDATE_COLORS: Mapping[str, str] = {
    "new": "#ff7f00",
    "active": "#e31a1c",
    "overgrown": "#4d9221",
    "destroyed": "#737373",
    "reopened": "#c51b7d",
}
_OTHER_COLOR = "#444444"
POPUP_FIELDS = ("candidate_id", "score", "length_m", "width_m", "bearing_deg", "state",
                "priority", "reason", "detected_at", "scene_id")
_CATEGORY_FIELDS = frozenset({"state", "priority"})
#: Priority shows as size: the centre point's radius (px) and the outline's weight (px).
PRIORITY_RADIUS: Mapping[str, float] = {"high": 7.0, "medium": 5.0, "low": 3.5}
_PRIORITY_WEIGHT: Mapping[str, float] = {"high": 3.5, "medium": 2.0, "low": 1.2}
_DIGITS = {"score": 2, "length_m": 0, "width_m": 0, "bearing_deg": 0}


def candidate_features(candidates: gpd.GeoDataFrame,
                       labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    """GeoJSON FeatureCollection with escaped popup properties, tooltip and colour."""
    require_layer(candidates, layer="candidates", columns=("state",))
    fields = [f for f in POPUP_FIELDS if f in candidates.columns]
    if "score" in fields:  # cut, never rounded up to a certainty (geo.schema.shown_score)
        candidates = candidates.assign(score=shown_scores(candidates["score"].to_numpy(
            dtype=float, na_value=np.nan)))
    cols = {
        f: escaped_column(candidates[f], labels=labels or {}) if f in _CATEGORY_FIELDS
        else escaped_column(candidates[f], digits=_DIGITS.get(f, 1),
                            symbols=number_symbols(labels))
        for f in fields
    }
    states = candidates["state"].astype("string").fillna("").tolist()
    priorities = (candidates["priority"].astype("string").fillna("").tolist()
                  if "priority" in candidates.columns else [""] * len(candidates))
    geoms = shapely.set_precision(candidates.geometry.to_numpy(), 1e-6)
    polygons, points = [], []
    for i, geom in enumerate(geoms):
        if geom is None or geom.is_empty:
            continue
        props: dict[str, Any] = {f: cols[f][i] for f in fields}
        score = props.get("score", "")
        props["_tip"] = f"{props['state']} {score}".strip()
        props["_color"] = CANDIDATE_COLORS.get(states[i], _OTHER_COLOR)
        props["_radius"] = PRIORITY_RADIUS.get(priorities[i], 4.5)
        props["_weight"] = _PRIORITY_WEIGHT.get(priorities[i], 2.0)
        polygons.append({"type": "Feature", "geometry": shapely.geometry.mapping(geom),
                         "properties": props})
        # A strip a few hundred metres long vanishes below zoom ~9, so each candidate also
        # gets a point at its centre (same properties, same popup) that stays visible.
        x, y = shapely.get_coordinates(shapely.centroid(geom))[0]
        points.append({"type": "Feature", "properties": props, "geometry": {
            "type": "Point", "coordinates": [round(float(x), 6), round(float(y), 6)]}})
    features = polygons + points
    return {"type": "FeatureCollection", "features": features}


def _style(feature: dict[str, Any]) -> dict[str, Any]:
    props = feature["properties"]
    color = props["_color"]
    if feature["geometry"]["type"] == "Point":
        return {"radius": props.get("_radius", 4.5), "color": "#111111", "weight": 1.5,
                "fillColor": color, "fillOpacity": 0.95}
    return {"color": color, "weight": props.get("_weight", 2.0), "fillColor": color,
            "fillOpacity": 0.35}


def build_candidates_layer(candidates: gpd.GeoDataFrame, *, name: str,
                           labels: Mapping[str, str] | None = None,
                           show: bool = True) -> folium.GeoJson:
    """Build the runway candidates overlay (oriented polygons coloured by state).

    Parameters
    ----------
    candidates
        Candidates layer in EPSG:4326 (``geo.schema.CANDIDATES``).
    name
        Name shown in the layer control (escaped here).
    labels
        Translated state and field names; English defaults otherwise.
    show
        Whether the layer is on when the map opens.

    Returns
    -------
    folium.GeoJson
        Fill colour by state; centre point size and outline weight by priority. Popup with
        score, length_m, width_m, bearing, state and reason, all escaped.

    Notes
    -----
    Rectangles a few hundred metres long are invisible below zoom ~9, so every candidate is
    also drawn as a dark-rimmed point at its centre, coloured by state.
    """
    data = candidate_features(candidates, labels)
    fields = [f for f in POPUP_FIELDS if f in candidates.columns]
    layer = folium.GeoJson(
        data, name=escape_text(name), show=show, overlay=True, control=True,
        style_function=_style, marker=folium.CircleMarker(radius=4.5, fill=True),
        highlight_function=lambda _f: {"weight": 4, "fillOpacity": 0.6},
    )
    return add_tip_and_popup(layer, fields, labels, max_width=340)


def legend_entries(labels: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """Return (translated state, colour) pairs for the legend."""
    return [(label(labels, s), c) for s, c in CANDIDATE_COLORS.items()]


def priority_entries(labels: Mapping[str, str] | None = None) -> list[tuple[str, float]]:
    """Return (translated "priority: level", radius in px) pairs for the legend."""
    return [(f"{label(labels, 'priority')}: {label(labels, p)}", r)
            for p, r in PRIORITY_RADIUS.items()]
