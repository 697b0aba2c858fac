"""Trafficking routes: lines coloured by mode, weighted by volume, with direction arrowheads.

Each route is drawn as its own line plus two small open arrowheads (at the middle and at the
destination end), built in Web Mercator so their angle on screen is right at every zoom. The
arrowheads are part of the same feature, so one GeoJson layer carries everything.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import shapely

from layers.checks import require_layer
from layers.escape import escape_text
from layers.labels import label, number_symbols
from layers.popup import add_tip_and_popup, escaped_column

__all__ = ["ROUTE_COLORS", "ROUTE_DASHES", "build_routes_layer", "legend_entries"]

ROUTE_COLORS: Mapping[str, str] = {
    "air": "#6a3d9a",
    "maritime": "#1f78b4",
    "land": "#b15928",
    "river": "#33a0a0",
    "intermodal": "#e7298a",
}
#: Dash pattern per mode (SVG/canvas dashArray); solid when absent.
ROUTE_DASHES: Mapping[str, str] = {"air": "6 5", "intermodal": "10 4 2 4"}
_OTHER_COLOR = "#444444"
POPUP_FIELDS = ("mode", "origin", "destination", "first_seen", "last_seen", "volume_kg_year",
                "confidence", "source")
_R = 6378137.0
_MAX_LAT = 85.0511


def _to_merc(lonlat: np.ndarray) -> np.ndarray:
    lon, lat = lonlat[:, 0], np.clip(lonlat[:, 1], -_MAX_LAT, _MAX_LAT)
    y = _R * np.log(np.tan(np.pi / 4 + np.radians(lat) / 2))
    return np.column_stack([np.radians(lon) * _R, y])


def _to_lonlat(xy: np.ndarray) -> np.ndarray:
    lon = np.degrees(xy[:, 0] / _R)
    lat = np.degrees(2 * np.arctan(np.exp(xy[:, 1] / _R)) - np.pi / 2)
    return np.column_stack([lon, lat])


def _arrowhead(tip: np.ndarray, back: np.ndarray, size: float) -> np.ndarray | None:
    """Open V (3 points, Mercator) at ``tip`` pointing away from ``back``."""
    d = tip - back
    norm = float(np.hypot(*d))
    if norm == 0.0 or size <= 0.0:
        return None
    u = d / norm
    c, s = np.cos(np.radians(28)), np.sin(np.radians(28))
    left = tip - size * np.array([c * u[0] - s * u[1], s * u[0] + c * u[1]])
    right = tip - size * np.array([c * u[0] + s * u[1], -s * u[0] + c * u[1]])
    return np.vstack([left, tip, right])


def _with_arrows(line: shapely.LineString) -> list[list[list[float]]]:
    """Coordinates of the line and its arrowheads, as GeoJSON MultiLineString parts."""
    xy = _to_merc(np.asarray(line.coords)[:, :2])
    parts = [np.asarray(line.coords)[:, :2]]
    seg = np.hypot(*np.diff(xy, axis=0).T)
    total = float(seg.sum())
    if total > 0.0:
        size = min(max(total * 0.04, 3_000.0), 60_000.0)  # metres (Mercator), readable at z3-z9
        cum = np.concatenate([[0.0], np.cumsum(seg)])
        mid = total / 2
        i = int(np.clip(np.searchsorted(cum, mid) - 1, 0, len(seg) - 1))
        t = (mid - cum[i]) / seg[i] if seg[i] > 0 else 0.0
        mid_pt = xy[i] + t * (xy[i + 1] - xy[i])
        for tip, back in ((mid_pt, xy[i]), (xy[-1], xy[-2])):
            head = _arrowhead(tip, back, size)
            if head is not None:
                parts.append(_to_lonlat(head))
    return [np.round(p, 5).tolist() for p in parts]


def _geometry(geom: shapely.Geometry) -> dict[str, Any] | None:
    lines = list(geom.geoms) if isinstance(geom, shapely.MultiLineString) else [geom]
    parts: list[list[list[float]]] = []
    for line in lines:
        if isinstance(line, shapely.LineString) and not line.is_empty and len(line.coords) >= 2:
            parts.extend(_with_arrows(line))
    return {"type": "MultiLineString", "coordinates": parts} if parts else None


def _weights(routes: gpd.GeoDataFrame) -> np.ndarray:
    if "volume_kg_year" not in routes.columns:
        return np.full(len(routes), 2.5)
    vol = routes["volume_kg_year"].to_numpy(dtype="float64", na_value=np.nan)
    top = np.nanmax(vol) if np.isfinite(vol).any() else 0.0
    scaled = np.sqrt(np.clip(vol, 0, None) / top) if top > 0 else np.zeros_like(vol)
    return np.where(np.isfinite(scaled), 2.0 + 5.0 * scaled, 2.0)


def route_features(routes: gpd.GeoDataFrame,
                   labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    """GeoJSON FeatureCollection of routes with escaped popup/tooltip properties and style."""
    require_layer(routes, layer="routes", columns=("mode",))
    fields = [f for f in POPUP_FIELDS if f in routes.columns]
    cols = {f: escaped_column(routes[f], labels=labels or {}) if f == "mode"
            else escaped_column(routes[f], digits=2 if f == "confidence" else 0,
                                symbols=number_symbols(labels))
            for f in fields}
    weights = _weights(routes)
    modes = routes["mode"].astype("string").fillna("").tolist()
    features = []
    for i, geom in enumerate(routes.geometry.to_numpy()):
        gj = None if geom is None else _geometry(geom)
        if gj is None:
            continue
        props: dict[str, Any] = {f: cols[f][i] for f in fields}
        ends = " → ".join(v for v in (props.get("origin", ""), props.get("destination", "")) if v)
        props["_tip"] = f"{props['mode']}: {ends}" if ends else props["mode"]
        props["_color"] = ROUTE_COLORS.get(modes[i], _OTHER_COLOR)
        props["_dash"] = ROUTE_DASHES.get(modes[i])
        props["_weight"] = round(float(weights[i]), 1)
        features.append({"type": "Feature", "geometry": gj, "properties": props})
    return {"type": "FeatureCollection", "features": features}


def _style(feature: dict[str, Any]) -> dict[str, Any]:
    p = feature["properties"]
    return {"color": p["_color"], "weight": p["_weight"], "opacity": 0.85,
            "dashArray": p["_dash"], "lineCap": "round", "lineJoin": "round"}


def build_routes_layer(routes: gpd.GeoDataFrame, *, name: str,
                       labels: Mapping[str, str] | None = None,
                       show: bool = True) -> folium.GeoJson:
    """Build the routes overlay: one GeoJson, popup and tooltip with escaped text.

    Parameters
    ----------
    routes
        Routes layer in EPSG:4326 (``geo.schema.ROUTES``); lines run origin -> destination.
    name
        Name shown in the layer control (escaped here).
    labels
        Translated mode and field names; English defaults otherwise.
    show
        Whether the layer is on when the map opens.

    Returns
    -------
    folium.GeoJson
        Colour by mode, dash for air and intermodal, width 2-7 px by ``volume_kg_year``.
    """
    data = route_features(routes, labels)
    fields = [f for f in POPUP_FIELDS if f in routes.columns]
    layer = folium.GeoJson(
        data, name=escape_text(name), show=show, overlay=True, control=True,
        style_function=_style, smooth_factor=1.0,
        highlight_function=lambda _f: {"weight": 8, "opacity": 1.0},
    )
    return add_tip_and_popup(layer, fields, labels, max_width=320, sticky=True)


def legend_entries(labels: Mapping[str, str] | None = None) -> list[tuple[str, str, str | None]]:
    """Return (translated mode, colour, dash) triples for the legend."""
    return [(label(labels, m), c, ROUTE_DASHES.get(m)) for m, c in ROUTE_COLORS.items()]
