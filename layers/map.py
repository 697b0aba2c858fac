"""The overview map: every layer on one offline map of Latin America."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal

import folium
import geopandas as gpd
import pandas as pd
from shapely.geometry.base import BaseGeometry

from layers import aerodromes as aerodromes_mod
from layers import candidates as candidates_mod
from layers import events as events_mod
from layers import routes as routes_mod
from layers.aerodromes import build_aerodromes_layer
from layers.assets import localize
from layers.basemap import build_offline_basemap, build_online_tiles
from layers.candidates import build_candidates_layer
from layers.density import build_cells_layer, build_heat_layer, cells_legend
from layers.draw import ViewSync, build_aoi_layer, build_draw_control
from layers.events import build_events_layer
from layers.labels import label
from layers.legend import LegendItem, LegendSection, build_legend
from layers.routes import build_routes_layer

__all__ = ["CENTER", "MAX_ZOOM", "MIN_ZOOM", "ZOOM", "EventsDisplay", "build_overview_map",
           "overview_legend"]

EventsDisplay = Literal["points", "heat", "hexagons"]

#: Latin America at a glance: (lat, lon) as Leaflet wants it, and the opening zoom.
CENTER = (0.0, -75.0)
ZOOM = 3
MIN_ZOOM = 2
MAX_ZOOM = 18


def overview_legend(labels: Mapping[str, str] | None = None) -> list[LegendSection]:
    """Legend sections for the four data layers, in translated words."""
    return [
        LegendSection(label(labels, "events"), tuple(
            LegendItem(text, color) for text, color in events_mod.legend_entries(labels))),
        LegendSection(label(labels, "routes"), tuple(
            LegendItem(text, color, "line", dash)
            for text, color, dash in routes_mod.legend_entries(labels))),
        LegendSection(label(labels, "candidates"), tuple(
            LegendItem(text, color, "polygon")
            for text, color in candidates_mod.legend_entries(labels))),
        LegendSection(label(labels, "aerodromes"), (
            LegendItem(label(labels, "aerodromes"), aerodromes_mod.AERODROME_COLOR),)),
    ]


def build_overview_map(*, events: gpd.GeoDataFrame, routes: gpd.GeoDataFrame,
                       candidates: gpd.GeoDataFrame, aerodromes: gpd.GeoDataFrame,
                       labels: Mapping[str, str], online_tiles: bool = False,
                       asset_base: str = "/app/static", display: EventsDisplay = "points",
                       cells: pd.DataFrame | None = None, aoi: BaseGeometry | None = None,
                       draw: bool = False, location: tuple[float, float] | None = None,
                       zoom: float | None = None, view_token: str | None = None,
                       url_query: Mapping[str, str] | None = None,
                       url_managed: tuple[str, ...] = (),
                       number: Callable[[int], str] = str) -> folium.Map:
    """Build the overview map with every layer as a toggleable overlay, legend included.

    Parameters
    ----------
    events, routes, candidates, aerodromes
        Validated layers in EPSG:4326 (``geo.schema``); any may be empty.
    labels
        Translated layer names, field names and category values (see ``layers.labels``);
        English for any key that is absent.
    online_tiles
        Offer the OpenStreetMap tiles in the layer control (off until the user ticks them).
        When False the page makes no request outside the app.
    asset_base
        URL where Streamlit serves ``static/`` (vendored scripts and the basemap).
    display
        How events are drawn: ``points`` (canvas layer), ``heat`` (heat map of ``cells``) or
        ``hexagons`` (count polygons: ``cells`` must then be ``geo.aggregate.cell_polygons``).
    cells
        Aggregated events (``geo.aggregate.aggregate_cells``) for ``heat`` and ``hexagons``.
    aoi
        Active area of interest, drawn as a dashed outline.
    draw
        Add the rectangle/polygon drawing toolbar.
    location, zoom
        Opening view as ``(lon, lat)`` and zoom; Latin America when None.
    view_token, url_query, url_managed
        When a token is given, the view and ``url_query`` are kept in the page URL and the view
        in the tab's session; ``url_managed`` parameters absent from ``url_query`` are removed
        (``layers.draw.ViewSync``).
    number
        Formats counts in tooltips and the legend (the UI passes its locale's formatter).

    Returns
    -------
    folium.Map
        Centred on Latin America at zoom 3, no tiles, canvas rendering, assets localized.
    """
    if display != "points" and cells is None:
        raise ValueError(f"display={display!r} needs the aggregated cells")
    base = asset_base.rstrip("/")
    center = CENTER if location is None else (location[1], location[0])
    # folium 0.20 hands min_zoom/max_zoom to the tile layer only; with tiles=None they must be
    # map options (MarkerCluster and the layer control need the map's maxZoom).
    m = folium.Map(location=list(center), zoom_start=ZOOM if zoom is None else round(zoom),
                   tiles=None, prefer_canvas=True,
                   # Leaflet's keyboard handler focuses the map on mousedown; when the map is
                   # partly below the fold the browser then scrolls the page between mousedown
                   # and mouseup, and the click lands ~150 px from where it was aimed (an
                   # event's popup does not open). Panning stays on drag and the +/- buttons.
                   keyboard=False,
                   control_scale=True, maxZoom=MAX_ZOOM, minZoom=MIN_ZOOM)
    build_offline_basemap(name=label(labels, "borders"), base_url=f"{base}/basemap").add_to(m)
    if online_tiles:
        build_online_tiles(name=label(labels, "online_basemap"), show=True).add_to(m)
    build_candidates_layer(candidates, name=label(labels, "candidates"), labels=labels).add_to(m)
    build_routes_layer(routes, name=label(labels, "routes"), labels=labels).add_to(m)
    build_aerodromes_layer(aerodromes, name=label(labels, "aerodromes"),
                           labels=labels).add_to(m)
    sections = overview_legend(labels)
    if display == "points":
        build_events_layer(events, name=label(labels, "events"), labels=labels).add_to(m)
    elif display == "heat":
        assert cells is not None
        build_heat_layer(cells, name=label(labels, "event_density")).add_to(m)
    else:
        assert cells is not None
        build_cells_layer(cells, name=label(labels, "event_counts"), labels=labels,
                          number=number).add_to(m)
        top = int(cells["count"].max()) if len(cells) else 1
        sections[0] = cells_legend(top, title=label(labels, "event_counts"), number=number)
    if aoi is not None:
        build_aoi_layer(aoi, name=label(labels, "aoi")).add_to(m)
    if draw:
        build_draw_control().add_to(m)
    if view_token is not None:
        ViewSync(view_token, query=dict(url_query or {}), managed=url_managed).add_to(m)
    build_legend(sections, title=label(labels, "legend")).add_to(m)
    folium.LayerControl(position="topright", collapsed=True).add_to(m)
    return localize(m, base_url=f"{base}/vendor")
