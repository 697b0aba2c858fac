"""The overview map: every layer on one offline map of Latin America.

The map comes in two parts so that a filter change does not rebuild the page's map:

- :func:`build_base_map`: what the filters do not change (basemap, registered aerodromes,
  drawing tools, the view kept in the URL, the legend of the vector layers);
- :func:`build_overlays`: one ``FeatureGroup`` per filtered layer (events, routes, runway
  candidates, the area of interest) plus the filters for the URL. The app hands them to
  streamlit-folium as ``feature_group_to_add``, which swaps them on the live map.

:func:`build_overview_map` puts both on one map (a standalone page, an export, a test).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

import folium
import geopandas as gpd
import pandas as pd
from branca.element import MacroElement
from folium.template import Template
from shapely.geometry.base import BaseGeometry

from geo.schema import EVENT_TYPES
from layers import aerodromes as aerodromes_mod
from layers import candidates as candidates_mod
from layers import events as events_mod
from layers import routes as routes_mod
from layers.aerodromes import build_aerodromes_layer
from layers.assets import add_map_controls, localize
from layers.basemap import build_offline_basemap, build_online_tiles
from layers.candidates import build_candidates_layer
from layers.clusters import build_clusters_layer
from layers.density import build_cells_layer, build_heat_layer, cells_legend
from layers.draw import DrawWords, UrlQuery, ViewSync, build_aoi_layer, build_draw_control
from layers.escape import escape_text
from layers.events import EventsLayer, build_events_layer
from layers.labels import label
from layers.legend import LegendItem, LegendSection, build_legend
from layers.routes import build_routes_layer
from layers.scenes import FOOTPRINT_COLOR, build_scenes_layer

__all__ = ["CENTER", "HIDDEN_MARK", "MAX_ZOOM", "MIN_ZOOM", "OVERLAY_KEYS", "ZOOM",
           "EventsDisplay", "GroupKey", "OverlayMemory", "OverlayPart", "build_base_map",
           "build_layer_control", "build_overlays", "build_overview_map", "hidden_layers",
           "legend_sections", "overlay_group", "overlay_parts", "overview_legend", "vector_legend"]

EventsDisplay = Literal["points", "clusters", "heat", "hexagons"]

#: Latin America at a glance: (lat, lon) as Leaflet wants it, and the opening zoom.
CENTER = (0.0, -75.0)
ZOOM = 3
MIN_ZOOM = 2
MAX_ZOOM = 18


#: Layers of :func:`overview_legend`, in its order.
LEGEND_LAYERS = ("events", "routes", "candidates", "aerodromes", "scenes")


def overview_legend(labels: Mapping[str, str] | None = None, *,
                    present: Mapping[str, gpd.GeoDataFrame | None] | None = None,
                    ) -> list[LegendSection]:
    """Legend sections for the data layers (:data:`LEGEND_LAYERS`), in translated words.

    With ``present`` (frames by layer name, as exported), only what they hold: a layer
    without rows has no section, and a section lists only the event types, route modes,
    strip states and priorities found in its frame, so a snapshot's legend matches its map.
    """
    return list(legend_sections(labels, present=present).values())


def legend_sections(labels: Mapping[str, str] | None = None, *,
                    present: Mapping[str, gpd.GeoDataFrame | None] | None = None,
                    ) -> dict[str, LegendSection]:
    """Return the sections of :func:`overview_legend`, by layer name."""
    def keep(layer: str, column: str, value: str) -> bool:
        if present is None:
            return True
        frame = present.get(layer)
        return frame is not None and column in frame and bool((frame[column] == value).any())

    types = [t for t in EVENT_TYPES if keep("events", "event_type", t)]
    events = None if present is None else present.get("events")
    if events is not None and "event_type" in events:  # types outside the palette, in grey
        types += sorted(set(events["event_type"].dropna().astype(str)) - set(types))
    # symbols side by side (wrapping): one per line, the legends ran off the default view
    sections = {
        "events": LegendSection(label(labels, "events"), tuple(
            LegendItem(text, color)
            for text, color in events_mod.legend_entries(labels, types=types)), inline=True),
        "routes": LegendSection(label(labels, "routes"), tuple(
            LegendItem(text, color, "line", dash)
            for (text, color, dash), mode in zip(routes_mod.legend_entries(labels),
                                                 routes_mod.ROUTE_COLORS, strict=True)
            if keep("routes", "mode", mode)), inline=True),
        "candidates": LegendSection(label(labels, "candidates"), (
            *(LegendItem(text, color, "polygon")
              for (text, color), state in zip(candidates_mod.legend_entries(labels),
                                              candidates_mod.CANDIDATE_COLORS, strict=True)
              if keep("candidates", "state", state)),
            *(LegendItem(text, "#9ca3af", "point", size=radius)
              for (text, radius), level in zip(candidates_mod.priority_entries(labels),
                                               candidates_mod.PRIORITY_RADIUS, strict=True)
              if keep("candidates", "priority", level))), inline=True),
        "aerodromes": LegendSection(label(labels, "aerodromes"), (
            LegendItem(label(labels, "aerodromes"), aerodromes_mod.AERODROME_COLOR),)),
        "scenes": LegendSection(label(labels, "scenes"), (
            LegendItem(label(labels, "scenes"), FOOTPRINT_COLOR, "polygon"),)),
    }
    # each section names its group (the layer's key): the legend hides it while that is off
    return {name: replace(sections[name], layer=name) for name in LEGEND_LAYERS
            if present is None or ((frame := present.get(name)) is not None and len(frame)
                                   and sections[name].items)}


#: Stable keys of the swappable overlays (``FeatureGroup`` option ``atalayaKey``).
OVERLAY_KEYS = ("scenes", "events", "routes", "candidates", "aoi", "url")


def vector_legend(labels: Mapping[str, str] | None = None, *,
                  present: Mapping[str, gpd.GeoDataFrame | None] | None = None,
                  ) -> list[LegendSection]:
    """Legend sections of the layers other than events (the app's filters never change them).

    ``present``: see :func:`overview_legend` (a snapshot's legend lists what it holds).
    """
    return [s for name, s in legend_sections(labels, present=present).items()
            if name != "events"]


#: ``name`` of the entries :class:`OverlayMemory` writes into the map's ``selected_layers``.
HIDDEN_MARK = "atalaya:hidden"


def hidden_layers(selected_layers: Any) -> frozenset[str]:
    """Keys of the overlays switched off in the layer control, from the map's report.

    ``selected_layers`` is what ``st_folium`` returns under that name (a list of
    ``{"name", "url"}``; anything else counts as nothing hidden).

    Examples
    --------
    >>> sorted(hidden_layers([{"name": HIDDEN_MARK, "url": "routes"},
    ...                       {"name": "wms", "url": "x"}, "junk"]))
    ['routes']
    >>> hidden_layers(None)
    frozenset()
    """
    if not isinstance(selected_layers, list):
        return frozenset()
    return frozenset(str(item["url"]) for item in selected_layers if isinstance(item, dict)
                     and item.get("name") == HIDDEN_MARK and isinstance(item.get("url"), str))


class OverlayMemory(MacroElement):
    """Remember which swappable overlays the analyst switched off, and keep them off.

    When the filters change, streamlit-folium replaces the overlay groups with new ones, shown
    by default; this element hides again every group (by its ``atalayaKey`` option) that the
    analyst had unticked in the layer control, and forgets it when they tick it again.

    streamlit-folium also adds every group to the map, even one built with ``show=False``; such
    a group (``options.atalayaOff``, set by :class:`GroupKey`) is taken off the map the first
    time its key comes, as if unticked, and stays off until the analyst ticks it.

    It also tells the app which layers are off: streamlit-folium reports its
    ``selected_layers`` (meant for WMS layers) after every change of overlays, so each hidden
    key is written there as ``{"name": HIDDEN_MARK, "url": key}`` (see :func:`hidden_layers`).
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (map) {
          var hidden = {}, seen = {}, byUser = false;
          function key(layer) { return layer && layer.options && layer.options.atalayaKey; }
          // Only a click in the layer control counts: groups removed by a swap do not.
          map.getContainer().addEventListener("click", function (ev) {
            var t = ev.target;
            if (t && t.classList && t.classList.contains("leaflet-control-layers-selector")) {
              byUser = true; setTimeout(function () { byUser = false; }, 0);
            }
          }, true);
          function report() {  // read by streamlit-folium when it sends the map's state
            var data = window.__GLOBAL_DATA__, mark = {{ this.mark|tojson }};
            if (!data || !data.selected_layers) { return; }
            Object.keys(data.selected_layers).forEach(function (k) {
              if (k.indexOf(mark + ":") === 0) { delete data.selected_layers[k]; }
            });
            Object.keys(hidden).forEach(function (k) {
              data.selected_layers[mark + ":" + k] = {name: mark, url: k};
            });
          }
          map.on("overlayremove", function (e) {
            if (byUser && key(e.layer)) { hidden[key(e.layer)] = true; report(); }
          });
          map.on("overlayadd", function (e) {
            if (byUser && key(e.layer)) { delete hidden[key(e.layer)]; report(); }
          });
          map.on("layeradd", function (e) {
            var k = key(e.layer);
            if (k && !seen[k] && !byUser) {  // a group built off starts off
              seen[k] = true;
              if (e.layer.options.atalayaOff) { hidden[k] = true; report(); }
            }
            if (k && hidden[k] && !byUser) {
              setTimeout(function () { map.removeLayer(e.layer); }, 0);
            }
          });
          window.atalayaHiddenOverlays = hidden;
        })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "AtalayaOverlayMemory"
        self.mark = HIDDEN_MARK

    def render(self, **kwargs: Any) -> Any:
        """Render after checking the element sits on a map."""
        if not isinstance(self._parent, folium.Map):
            raise TypeError("OverlayMemory must be added to a folium.Map")
        return super().render(**kwargs)


def build_base_map(*, aerodromes: gpd.GeoDataFrame, labels: Mapping[str, str],
                   online_tiles: bool = False, asset_base: str = "/app/static",
                   draw: bool = False, location: tuple[float, float] | None = None,
                   zoom: float | None = None, view_token: str | None = None,
                   legend: list[LegendSection] | None = None) -> folium.Map:
    """Build the part of the overview map that the filters do not change.

    Parameters
    ----------
    aerodromes
        Registered aerodromes in EPSG:4326 (``geo.schema.AERODROMES``): all of them, or those
        of the countries the filters choose (the app rebuilds the base map for another choice).
    labels
        Translated layer names, field names and category values (see ``layers.labels``).
    online_tiles
        Offer the OpenStreetMap tiles (shown). When False the page makes no request outside
        the app.
    asset_base
        URL where Streamlit serves ``static/`` (vendored scripts and the basemap).
    draw
        Add the rectangle/polygon drawing toolbar.
    location, zoom
        Opening view as ``(lon, lat)`` and zoom; Latin America when None.
    view_token
        When given, the view is kept in the page URL and in the tab's session
        (``layers.draw.ViewSync``); the filters reach the URL through :func:`build_overlays`.

    Returns
    -------
    folium.Map
        Canvas rendering, no tiles, assets localized; the legend lists the vector layers.
    """
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
                   maxZoom=MAX_ZOOM, minZoom=MIN_ZOOM)
    add_map_controls(m, labels)
    build_offline_basemap(name=label(labels, "borders"), base_url=f"{base}/basemap").add_to(m)
    if online_tiles:
        build_online_tiles(name=label(labels, "online_basemap"), show=True).add_to(m)
    aerodromes_layer = build_aerodromes_layer(aerodromes, name=label(labels, "aerodromes"),
                                              labels=labels)
    GroupKey("aerodromes").add_to(aerodromes_layer)  # so the app learns when it is off
    aerodromes_layer.add_to(m)
    if draw:
        DrawWords(dict(labels)).add_to(m)  # before the toolbar reads them
        build_draw_control().add_to(m)
    if view_token is not None:
        ViewSync(view_token).add_to(m)
    OverlayMemory().add_to(m)
    sections = vector_legend(labels) if legend is None else legend
    if sections:
        build_legend(sections, title=label(labels, "legend")).add_to(m)
    return localize(m, base_url=f"{base}/vendor")


class GroupKey(MacroElement):
    """Set ``options.atalayaKey`` on the parent group (``L.featureGroup`` drops its options).

    The key is also listed in the page's ``window.atalayaGroupKeys``: a legend hides the
    section of a listed group while that group is off the map, shown off or switched off.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.options.atalayaKey = {{ this.key|tojson }};
        {% if this.off %}{{ this._parent.get_name() }}.options.atalayaOff = true;{% endif %}
        (window.atalayaGroupKeys = window.atalayaGroupKeys || {})[{{ this.key|tojson }}] = true;
        {% endmacro %}
        """
    )

    def __init__(self, key: str, *, off: bool = False) -> None:
        super().__init__()
        self._name = "AtalayaGroupKey"
        self.key = key
        self.off = off  # built with show=False: OverlayMemory keeps it off until ticked


@dataclass(frozen=True)
class OverlayPart:
    """One overlay group of the map: its key (``OVERLAY_KEYS``) and how to build it."""

    key: str
    build: Callable[[], folium.FeatureGroup]


def overlay_group(key: str, name: str, *children: Any, control: bool = True,
                  show: bool = True) -> folium.FeatureGroup:
    """Put ``children`` in a swappable overlay group (their own layer-control entries off).

    ``key`` is the group's ``atalayaKey`` (:class:`GroupKey`); ``show``: on the map at first.
    """
    group = folium.FeatureGroup(name=escape_text(name), overlay=True, control=control, show=show)
    GroupKey(key, off=not show).add_to(group)
    for child in children:
        if hasattr(child, "control"):
            child.control = False
        if hasattr(child, "show"):  # the group shows or hides it: a child built with
            child.show = True  # show=False was never added to it (an empty hot-spot group)
        child.add_to(group)
    return group


def overlay_parts(*, events: gpd.GeoDataFrame, routes: gpd.GeoDataFrame,
                   candidates: gpd.GeoDataFrame, labels: Mapping[str, str],
                   scenes: gpd.GeoDataFrame | None = None,
                   asset_base: str = "/app/static", display: EventsDisplay = "points",
                   cells: pd.DataFrame | None = None, aoi: BaseGeometry | None = None,
                   url_query: Mapping[str, str] | None = None,
                   url_managed: tuple[str, ...] = (),
                   number: Callable[[int], str] = str,
                   events_payload: Mapping[str, Any] | None = None,
                   legend_present: Mapping[str, gpd.GeoDataFrame | None] | None = None,
                   ) -> list[OverlayPart]:
    """Say which overlay groups the map gets, in drawing order, each built on demand.

    A caller that keeps rendered groups (the app, per content) builds only the ones it lacks;
    :func:`build_overlays` builds them all.

    Parameters
    ----------
    events, routes, candidates
        Filtered layers in EPSG:4326 (``geo.schema``); any may be empty.
    labels
        Translated layer names, field names and category values.
    scenes
        Filtered imagery catalogue (footprints); no footprint layer when None.
    asset_base
        URL where Streamlit serves ``static/`` (the heat map plugin is vendored there).
    display
        How events are drawn: ``points`` (canvas layer), ``heat`` (heat map of ``cells``) or
        ``hexagons`` (count polygons: ``cells`` must then be ``geo.aggregate.cell_polygons``)
        or ``clusters`` (``cells`` from ``geo.aggregate.cluster_points``).
    cells
        Aggregated events (``geo.aggregate.aggregate_cells``) for ``heat`` and ``hexagons``.
    aoi
        Active area of interest, drawn as a dashed outline.
    url_query, url_managed
        The filters as URL parameters (``geo.querystate``), written into the page URL by the
        base map's ``ViewSync``; ``url_managed`` names absent from ``url_query`` are removed.
    number
        Formats counts in tooltips and the legend (the UI passes its locale's formatter).
    events_payload
        For ``points``: the events already packed (``layers.events.pack_events`` with the
        ``url`` of the published arrays); ``events`` is then not read.
    legend_present
        For ``points``: the events legend lists only the types of ``legend_present["events"]``
        (see :func:`overview_legend`; a snapshot), none when it has no row.

    Returns
    -------
    list of OverlayPart
        ``key`` (one of ``OVERLAY_KEYS``) and ``build``, which returns the group: a
        ``FeatureGroup`` with the option ``atalayaKey`` (set by a script: folium's
        ``L.featureGroup`` call drops the options it is given), assets localized; the events
        group carries its own legend section (types, or the count classes of the hexagons).
    """
    if display != "points" and cells is None:
        raise ValueError(f"display={display!r} needs the aggregated cells")
    base = asset_base.rstrip("/")

    def part(key: str, build: Callable[[], folium.FeatureGroup]) -> OverlayPart:
        return OverlayPart(key, lambda: localize(build(), base_url=f"{base}/vendor"))

    def layer_group(key: str, builder: Callable[..., Any], frame: gpd.GeoDataFrame) -> OverlayPart:
        name = label(labels, key)
        return part(key, lambda: overlay_group(key, name, builder(frame, name=name, labels=labels)))

    parts = [] if scenes is None else [layer_group("scenes", build_scenes_layer, scenes)]
    parts += [layer_group("candidates", build_candidates_layer, candidates),
              layer_group("routes", build_routes_layer, routes),
              part("events", lambda: _events_group(events, labels, display, cells, number,
                                                   events_payload, legend_present))]
    if aoi is not None:
        parts.append(part("aoi", lambda: overlay_group(
            "aoi", label(labels, "aoi"), build_aoi_layer(aoi, name=label(labels, "aoi")))))
    if url_query is not None:
        query = dict(url_query)
        parts.append(part("url", lambda: overlay_group(
            "url", "url", UrlQuery(query, managed=url_managed), control=False)))
    return parts


def _events_group(events: gpd.GeoDataFrame, labels: Mapping[str, str], display: str,
                  cells: pd.DataFrame | None, number: Callable[[int], str],
                  payload: Mapping[str, Any] | None,
                  present: Mapping[str, gpd.GeoDataFrame | None] | None = None,
                  ) -> folium.FeatureGroup:
    """Build the events group: the layer for ``display`` and its own foldable legend."""
    section = legend_sections(labels, present=present).get("events")
    layer: Any
    if display == "points":
        name = label(labels, "events")
        layer = (build_events_layer(events, name=name, labels=labels) if payload is None
                 else EventsLayer(dict(payload), name=escape_text(name)))
    elif display == "clusters":
        assert cells is not None
        name = label(labels, "events")
        layer = build_clusters_layer(cells, name=name, labels=labels, number=number)
    elif display == "heat":
        assert cells is not None
        name = label(labels, "event_density")
        layer = build_heat_layer(cells, name=name)
    else:
        assert cells is not None
        name = label(labels, "event_counts")
        layer = build_cells_layer(cells, name=name, labels=labels, number=number)
        top = int(cells["count"].max()) if len(cells) else 1
        section = cells_legend(top, title=name, number=number)
    if section is None:  # a snapshot without events: nothing to explain
        return overlay_group("events", name, layer)
    # Its name as the legend's title: foldable, and folded at first on a phone.
    legend = build_legend([LegendSection("", section.items, inline=section.inline)],
                          title=section.title)
    return overlay_group("events", name, layer, legend)


def build_overlays(**kwargs: Any) -> list[folium.FeatureGroup]:
    """Build every overlay group at once (arguments of :func:`overlay_parts`)."""
    return [p.build() for p in overlay_parts(**kwargs)]


def build_layer_control() -> folium.LayerControl:
    """Build the layer control of the overview map (top right, folded)."""
    return folium.LayerControl(position="topright", collapsed=True)


def build_overview_map(*, events: gpd.GeoDataFrame, routes: gpd.GeoDataFrame,
                       candidates: gpd.GeoDataFrame, aerodromes: gpd.GeoDataFrame,
                       labels: Mapping[str, str], scenes: gpd.GeoDataFrame | None = None,
                       online_tiles: bool = False,
                       asset_base: str = "/app/static", display: EventsDisplay = "points",
                       cells: pd.DataFrame | None = None, aoi: BaseGeometry | None = None,
                       draw: bool = False, location: tuple[float, float] | None = None,
                       zoom: float | None = None, view_token: str | None = None,
                       url_query: Mapping[str, str] | None = None,
                       url_managed: tuple[str, ...] = (),
                       number: Callable[[int], str] = str,
                       legend_of_data: bool = False,
                       events_payload: Mapping[str, Any] | None = None) -> folium.Map:
    """Build the whole overview map on one page: base map, overlays and layer control.

    Parameters are those of :func:`build_base_map` and :func:`build_overlays`. With
    ``legend_of_data`` (a snapshot), the legends list only the layers and categories the
    given frames hold (:func:`overview_legend`).

    Returns
    -------
    folium.Map
        Centred on Latin America at zoom 3 unless told otherwise, assets localized.
    """
    present = ({"events": events, "routes": routes, "candidates": candidates,
                "aerodromes": aerodromes, "scenes": scenes} if legend_of_data else None)
    m = build_base_map(aerodromes=aerodromes, labels=labels, online_tiles=online_tiles,
                       asset_base=asset_base, draw=draw, location=location, zoom=zoom,
                       view_token=view_token,
                       legend=None if present is None else vector_legend(labels, present=present))
    for group in build_overlays(events=events, routes=routes, candidates=candidates,
                                scenes=scenes, labels=labels, asset_base=asset_base,
                                display=display, cells=cells, aoi=aoi,
                                url_query=url_query if view_token is not None else None,
                                url_managed=url_managed, number=number,
                                legend_present=present, events_payload=events_payload):
        group.add_to(m)
    build_layer_control().add_to(m)
    return m
