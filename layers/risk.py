"""Risk analysis on the map: scored cells, hot and cold spots, emerging trends, density, corridors.

Builders take frames computed by :mod:`geo.risk` (cells already turned into polygons by
``geo.aggregate.cell_polygons``) and return folium objects; no computation beyond formatting.
Every text that reaches a popup, a tooltip or a legend is escaped here, once, with
:func:`layers.escape.escape_text` (the breakdown sentences hold numbers and words only, but
they are escaped like any other text).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import shapely
from folium.plugins import Draw, HeatMap
from shapely.geometry.base import BaseGeometry

from layers.aerodromes import build_aerodromes_layer
from layers.assets import add_map_controls, localize
from layers.basemap import build_offline_basemap, build_online_tiles
from layers.escape import escape_text
from layers.labels import label
from layers.legend import LegendItem, LegendSection
from layers.map import OverlayMemory

__all__ = [
    "EMERGING_COLORS",
    "HOTSPOT_COLORS",
    "RISK_RAMP",
    "build_analysis_base_map",
    "build_corridor_layer",
    "build_emerging_layer",
    "build_hotspot_layer",
    "build_line_draw_control",
    "build_risk_candidates_layer",
    "build_risk_cells_layer",
    "build_risk_density_layer",
    "risk_color",
    "risk_legend",
]

#: Risk score classes (0-20, 20-40, 40-60, 60-80, 80-100): ColorBrewer YlOrRd, 5 classes.
RISK_RAMP: tuple[str, ...] = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")
HOTSPOT_COLORS: Mapping[str, str] = {"hot": "#d7301f", "cold": "#2b8cbe"}
EMERGING_COLORS: Mapping[str, str] = {"new": "#7a0177", "intensifying": "#e31a1c",
                                      "persistent": "#fd8d3c", "diminishing": "#74a9cf",
                                      "historical": "#9e9ac8"}
CORRIDOR_COLOR = "#1b7837"


def risk_color(score: float) -> str:
    """Colour of a risk score (0-100) on :data:`RISK_RAMP`.

    Examples
    --------
    >>> risk_color(0.0), risk_color(59.9), risk_color(100.0)
    ('#ffffb2', '#fd8d3c', '#bd0026')
    """
    k = int(np.clip(np.floor(float(score) / 20.0), 0, len(RISK_RAMP) - 1))
    return RISK_RAMP[k]


def _polygons(frame: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    geoms = shapely.set_precision(frame.geometry.to_numpy(), 1e-5)
    return [shapely.geometry.mapping(g) for g in geoms]


def _collection(geometries: Sequence[dict[str, Any]],
                properties: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": g, "properties": p}
        for g, p in zip(geometries, properties, strict=True)]}


def _popup(layer: folium.GeoJson, fields: Sequence[str], aliases: Sequence[str], *,
           tip: bool = True, max_width: int = 380) -> folium.GeoJson:
    """Tooltip (``_tip``) and popup of ``fields``; values and aliases arrive escaped."""
    if layer.data["features"]:
        if tip:
            folium.GeoJsonTooltip(fields=["_tip"], labels=False).add_to(layer)
        folium.GeoJsonPopup(fields=list(fields), aliases=list(aliases),
                            max_width=max_width).add_to(layer)
    return layer


def build_risk_cells_layer(cells: gpd.GeoDataFrame, *, name: str, score_title: str,
                           breakdown_title: str, events_title: str,
                           show: bool = True) -> folium.GeoJson:
    """Build the choropleth of the risk per cell, with the score's breakdown in the popup.

    Parameters
    ----------
    cells
        Polygons with ``cell``, ``risk_score`` (0-100), ``risk_explanation`` and ``events``.
    name, score_title, breakdown_title, events_title
        Translated layer name and popup headers (escaped here).
    """
    scores = cells["risk_score"].to_numpy(dtype="float64")
    texts = cells["risk_explanation"].astype(str).tolist()
    events = cells["events"].to_numpy(dtype="float64") if "events" in cells.columns else (
        np.zeros(len(cells)))
    props = [{"cell": escape_text(c), "risk_score": escape_text(f"{s:.0f}"),
              "risk_explanation": escape_text(x), "events": escape_text(f"{e:.0f}"),
              "_tip": escape_text(f"{score_title} {s:.0f}"), "_fill": risk_color(s)}
             for c, s, x, e in zip(cells["cell"].astype(str), scores, texts, events,
                                   strict=True)]
    layer = folium.GeoJson(
        _collection(_polygons(cells), props), name=escape_text(name), show=show,
        style_function=lambda f: {"color": "#7f2704", "weight": 0.5, "opacity": 0.6,
                                  "fillColor": f["properties"]["_fill"], "fillOpacity": 0.65},
        highlight_function=lambda _f: {"weight": 2, "fillOpacity": 0.85},
    )
    return _popup(layer, ["risk_score", "risk_explanation", "events"],
                  [escape_text(score_title), escape_text(breakdown_title),
                   escape_text(events_title)])


def build_hotspot_layer(cells: gpd.GeoDataFrame, *, name: str, labels: Mapping[str, str],
                        show: bool = False) -> folium.GeoJson:
    """Build the Getis-Ord Gi* hot and cold spots (cells with ``hotspot`` hot or cold).

    ``labels`` translates ``hot``, ``cold``, ``z`` and ``q`` (the popup headers).
    """
    classes = cells["hotspot"].astype(str).tolist()
    props = [{"hotspot": escape_text(labels.get(h, h)), "z": escape_text(f"{z:.2f}"),
              "q": escape_text(f"{q:.4f}"), "_tip": escape_text(labels.get(h, h)),
              "_fill": HOTSPOT_COLORS.get(h, "#999999")}
             for h, z, q in zip(classes, cells["z"].to_numpy(dtype="float64"),
                                cells["q"].to_numpy(dtype="float64"), strict=True)]
    layer = folium.GeoJson(
        _collection(_polygons(cells), props), name=escape_text(name), show=show,
        style_function=lambda f: {"color": f["properties"]["_fill"], "weight": 0.6,
                                  "fillColor": f["properties"]["_fill"], "fillOpacity": 0.45},
    )
    return _popup(layer, ["hotspot", "z", "q"],
                  [escape_text(labels.get(k, k)) for k in ("hotspot", "z", "q")])


def build_emerging_layer(cells: gpd.GeoDataFrame, *, name: str, labels: Mapping[str, str],
                         show: bool = False) -> folium.GeoJson:
    """Build the emerging hot spots: new, intensifying, persistent, diminishing, historical."""
    names = cells["label"].astype(str).tolist()
    props = [{"label": escape_text(labels.get(n, n)), "trend_z": escape_text(f"{z:.2f}"),
              "_tip": escape_text(labels.get(n, n)),
              "_fill": EMERGING_COLORS.get(n, "#999999")}
             for n, z in zip(names, cells["mk_z"].to_numpy(dtype="float64"), strict=True)]
    layer = folium.GeoJson(
        _collection(_polygons(cells), props), name=escape_text(name), show=show,
        style_function=lambda f: {"color": f["properties"]["_fill"], "weight": 1.2,
                                  "fillColor": f["properties"]["_fill"], "fillOpacity": 0.5},
    )
    return _popup(layer, ["label", "trend_z"],
                  [escape_text(labels.get(k, k)) for k in ("label", "trend_z")])


def build_risk_density_layer(lat: np.ndarray, lon: np.ndarray, weight: np.ndarray, *,
                             name: str, show: bool = False, radius: int = 14) -> HeatMap:
    """Build a heat layer of a kernel density surface given as points (weights 0-1)."""
    data = np.column_stack([np.round(lat, 4), np.round(lon, 4),
                            np.round(weight, 3)]).tolist() if len(lat) else []
    return HeatMap(data, name=escape_text(name), show=show, overlay=True, control=True,
                   radius=radius, blur=radius, min_opacity=0.2, max_zoom=10)


def build_risk_candidates_layer(candidates: gpd.GeoDataFrame, *, name: str,
                                titles: Mapping[str, str], labels: Mapping[str, str],
                                show: bool = True) -> folium.GeoJson:
    """Build the runway candidates as points coloured by risk, with the breakdown in the popup.

    Parameters
    ----------
    candidates
        Candidates (EPSG:4326) with ``candidate_id``, ``state``, ``risk_score`` and
        ``risk_explanation``; drawn at each rectangle's centre.
    titles
        Translated popup headers for ``candidate_id``, ``state``, ``risk_score`` and
        ``risk_explanation``.
    labels
        Translated category values (states).
    """
    centres = shapely.centroid(candidates.geometry.to_numpy())
    xs, ys = shapely.get_x(centres), shapely.get_y(centres)
    props, geoms = [], []
    for i, (cid, st, s, x) in enumerate(zip(
            candidates["candidate_id"].astype(str), candidates["state"].astype(str),
            candidates["risk_score"].to_numpy(dtype="float64"),
            candidates["risk_explanation"].astype(str), strict=True)):
        if not (np.isfinite(xs[i]) and np.isfinite(ys[i])):
            continue
        geoms.append({"type": "Point", "coordinates": [round(float(xs[i]), 6),
                                                       round(float(ys[i]), 6)]})
        props.append({"candidate_id": escape_text(cid), "state": escape_text(labels.get(st, st)),
                      "risk_score": escape_text(f"{s:.0f}"), "risk_explanation": escape_text(x),
                      "_tip": escape_text(f"{cid} · {s:.0f}"), "_fill": risk_color(s)})
    layer = folium.GeoJson(
        _collection(geoms, props), name=escape_text(name), show=show,
        marker=folium.CircleMarker(radius=6, fill=True),
        style_function=lambda f: {"radius": 6, "color": "#111111", "weight": 1.5,
                                  "fillColor": f["properties"]["_fill"], "fillOpacity": 0.95},
    )
    fields = ["candidate_id", "state", "risk_score", "risk_explanation"]
    return _popup(layer, fields, [escape_text(titles.get(f, f)) for f in fields])


def build_corridor_layer(outline: BaseGeometry, line: BaseGeometry, *, name: str,
                         show: bool = True) -> folium.GeoJson:
    """Build the corridor: its outline (dashed, light fill) and the line it follows."""
    features = [{"type": "Feature", "properties": {"part": "outline"},
                 "geometry": shapely.geometry.mapping(shapely.set_precision(outline, 1e-5))},
                {"type": "Feature", "properties": {"part": "line"},
                 "geometry": shapely.geometry.mapping(shapely.set_precision(line, 1e-5))}]
    return folium.GeoJson(
        {"type": "FeatureCollection", "features": features}, name=escape_text(name), show=show,
        style_function=lambda f: (
            {"color": CORRIDOR_COLOR, "weight": 2.5, "dashArray": "6 4",
             "fillColor": CORRIDOR_COLOR, "fillOpacity": 0.08, "interactive": False}
            if f["properties"]["part"] == "outline"
            else {"color": CORRIDOR_COLOR, "weight": 3, "interactive": False}),
    )


def build_line_draw_control(*, position: str = "topleft") -> Draw:
    """Build a drawing toolbar with the line tool only (for a corridor), no editing."""
    return Draw(
        export=False, position=position, show_geometry_on_click=False,
        draw_options={"polyline": {"shapeOptions": {"color": CORRIDOR_COLOR, "weight": 3}},
                      "polygon": False, "rectangle": False, "circle": False, "marker": False,
                      "circlemarker": False},
        edit_options={"edit": False, "remove": False},
    )


def risk_legend(*, risk_title: str, hotspot_title: str, emerging_title: str,
                labels: Mapping[str, str]) -> list[LegendSection]:
    """Legend sections: risk classes, hot/cold spots, emerging-hotspot labels.

    ``hotspot_title`` should state the test, its significance level and the correction for
    multiple tests; every text is escaped by ``layers.legend.build_legend``.
    """
    risk = tuple(LegendItem(f"{20 * k}–{20 * (k + 1)}", c, "square")
                 for k, c in enumerate(RISK_RAMP))
    hot = tuple(LegendItem(labels.get(k, k), c, "square") for k, c in HOTSPOT_COLORS.items())
    emerging = tuple(LegendItem(labels.get(k, k), c, "square") for k, c in EMERGING_COLORS.items())
    # side by side: one per line, the three took a third of the analysis map
    # each names its group on the analysis map (ui.analysis): a group off, its section hidden
    return [LegendSection(risk_title, risk, inline=True, layer="cells"),
            LegendSection(hotspot_title, hot, inline=True, layer="hotspots"),
            LegendSection(emerging_title, emerging, inline=True, layer="emerging")]


def build_analysis_base_map(*, aerodromes: gpd.GeoDataFrame, labels: Mapping[str, str],
                            online_tiles: bool = False, asset_base: str = "/app/static",
                            location: tuple[float, float] = (-12.0, -70.0),
                            zoom: int = 4) -> folium.Map:
    """Build the analysis page's base map: basemap, aerodromes (off) and the line tool.

    Unlike the overview's base map it has no legend of its own: each analysis layer carries
    its legend, shown while the layer is on. ``location`` is ``(lat, lon)`` as Leaflet wants.
    """
    base = asset_base.rstrip("/")
    m = folium.Map(location=list(location), zoom_start=zoom, tiles=None, prefer_canvas=True,
                   keyboard=False, maxZoom=18, minZoom=2)
    add_map_controls(m, labels)
    build_offline_basemap(name=label(labels, "borders"), base_url=f"{base}/basemap").add_to(m)
    if online_tiles:
        build_online_tiles(name=label(labels, "online_basemap"), show=True).add_to(m)
    build_aerodromes_layer(aerodromes, name=label(labels, "aerodromes"), labels=labels,
                           show=False).add_to(m)
    build_line_draw_control().add_to(m)
    # groups built off (density, hot spots, trends) stay off, and an unticked one stays
    # unticked, when a new weight or setting swaps the groups
    OverlayMemory().add_to(m)
    return localize(m, base_url=f"{base}/vendor")
