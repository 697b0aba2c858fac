"""The overview map: every layer on one offline map of Latin America."""

from __future__ import annotations

from collections.abc import Mapping

import folium
import geopandas as gpd

from layers import aerodromes as aerodromes_mod
from layers import candidates as candidates_mod
from layers import events as events_mod
from layers import routes as routes_mod
from layers.aerodromes import build_aerodromes_layer
from layers.assets import localize
from layers.basemap import build_offline_basemap, build_online_tiles
from layers.candidates import build_candidates_layer
from layers.events import build_events_layer
from layers.labels import label
from layers.legend import LegendItem, LegendSection, build_legend
from layers.routes import build_routes_layer

__all__ = ["CENTER", "MAX_ZOOM", "MIN_ZOOM", "ZOOM", "build_overview_map", "overview_legend"]

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
                       asset_base: str = "/app/static") -> folium.Map:
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

    Returns
    -------
    folium.Map
        Centred on Latin America at zoom 3, no tiles, canvas rendering, assets localized.
    """
    base = asset_base.rstrip("/")
    # folium 0.20 hands min_zoom/max_zoom to the tile layer only; with tiles=None they must be
    # map options (MarkerCluster and the layer control need the map's maxZoom).
    m = folium.Map(location=list(CENTER), zoom_start=ZOOM, tiles=None, prefer_canvas=True,
                   control_scale=True, maxZoom=MAX_ZOOM, minZoom=MIN_ZOOM)
    build_offline_basemap(name=label(labels, "borders"), base_url=f"{base}/basemap").add_to(m)
    if online_tiles:
        build_online_tiles(name=label(labels, "online_basemap"), show=True).add_to(m)
    build_candidates_layer(candidates, name=label(labels, "candidates"), labels=labels).add_to(m)
    build_routes_layer(routes, name=label(labels, "routes"), labels=labels).add_to(m)
    build_aerodromes_layer(aerodromes, name=label(labels, "aerodromes"),
                           labels=labels).add_to(m)
    build_events_layer(events, name=label(labels, "events"), labels=labels).add_to(m)
    build_legend(overview_legend(labels), title=label(labels, "legend")).add_to(m)
    folium.LayerControl(position="topright", collapsed=True).add_to(m)
    return localize(m, base_url=f"{base}/vendor")
