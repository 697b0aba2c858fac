"""Drawing an area of interest, showing the active one, and keeping the view in the page URL.

- :func:`build_draw_control`: Leaflet.draw limited to rectangles and polygons (the only shapes
  an area of interest can be); the drawing goes back to Python through streamlit-folium.
- :func:`build_aoi_layer`: the active area as a dashed outline, so it stays visible after the
  map is rebuilt (a rebuilt map forgets what was drawn on the old one).
- :class:`ViewSync`: writes the filters (given by the server) and, after every pan or zoom, the
  view (``lat``, ``lon``, ``z``) into the query string of the page that embeds the map (when it
  may: same origin), so a copied link reopens the same view with the same filters; and
  remembers the view in the tab's ``sessionStorage`` so a map rebuilt (a language change)
  opens where the analyst left it instead of jumping back. The map is the only writer of the
  URL: panning changes it without a round trip to the server. :class:`UrlQuery` hands it new
  filters without rebuilding the map.
"""

from __future__ import annotations

from typing import Any

import folium
import shapely
from branca.element import MacroElement
from folium.plugins import Draw
from folium.template import Template
from shapely.geometry.base import BaseGeometry

from layers.escape import escape_text

__all__ = ["AOI_COLOR", "DRAW_WORDS", "DrawWords", "ImmediateMoveReport", "UrlQuery",
           "ViewSync", "build_aoi_layer", "build_draw_control"]

AOI_COLOR = "#1f4e9c"
_SHAPE = {"color": AOI_COLOR, "weight": 2, "fillOpacity": 0.05}


#: Leaflet.draw's words (``L.drawLocal``) the toolbar shows, by their ``labels`` key.
DRAW_WORDS: dict[str, tuple[str, ...]] = {
    "draw_polygon": ("draw", "toolbar", "buttons", "polygon"),
    "draw_rectangle": ("draw", "toolbar", "buttons", "rectangle"),
    "draw_cancel": ("draw", "toolbar", "actions", "text"),
    "draw_cancel_title": ("draw", "toolbar", "actions", "title"),
    "draw_finish": ("draw", "toolbar", "finish", "text"),
    "draw_finish_title": ("draw", "toolbar", "finish", "title"),
    "draw_undo": ("draw", "toolbar", "undo", "text"),
    "draw_undo_title": ("draw", "toolbar", "undo", "title"),
    "draw_polygon_start": ("draw", "handlers", "polygon", "tooltip", "start"),
    "draw_polygon_cont": ("draw", "handlers", "polygon", "tooltip", "cont"),
    "draw_polygon_end": ("draw", "handlers", "polygon", "tooltip", "end"),
    "draw_rectangle_start": ("draw", "handlers", "rectangle", "tooltip", "start"),
    "draw_release": ("draw", "handlers", "simpleshape", "tooltip", "end"),
    "draw_cross_error": ("draw", "handlers", "polyline", "error"),
}


class DrawWords(MacroElement):
    """Write the drawing toolbar's words in the reader's language (``L.drawLocal``).

    Add it to the map before the :func:`build_draw_control` toolbar; words are text, never
    markup (Leaflet.draw puts some of them in ``innerHTML``: they are escaped here).
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (words) {
          if (typeof L === "undefined" || !L.drawLocal) { return; }
          words.forEach(function (w) {
            var node = L.drawLocal;
            for (var i = 0; i < w.path.length - 1; i++) {
              node = node[w.path[i]] = node[w.path[i]] || {};
            }
            node[w.path[w.path.length - 1]] = w.text;
          });
        })({{ this.words|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, labels: dict[str, str] | None) -> None:
        super().__init__()
        self._name = "AtalayaDrawWords"
        self.words = [{"path": list(path), "text": escape_text(labels[key])}
                      for key, path in DRAW_WORDS.items() if labels and key in labels]


def build_draw_control(*, position: str = "topleft") -> Draw:
    """Build the drawing toolbar: rectangle and polygon only, no editing, no export."""
    return Draw(
        export=False, position=position, show_geometry_on_click=False,
        draw_options={"polyline": False, "circle": False, "marker": False,
                      "circlemarker": False,
                      "polygon": {"allowIntersection": False, "shapeOptions": _SHAPE},
                      "rectangle": {"shapeOptions": _SHAPE}},
        edit_options={"edit": False, "remove": False},
    )


def build_aoi_layer(aoi: BaseGeometry, *, name: str, show: bool = True) -> folium.GeoJson:
    """Build the outline of the active area of interest (not clickable, dashed)."""
    geometry = shapely.geometry.mapping(shapely.set_precision(aoi, 1e-6))
    data = {"type": "FeatureCollection",
            "features": [{"type": "Feature", "geometry": geometry, "properties": {}}]}
    return folium.GeoJson(
        data, name=escape_text(name), show=show, overlay=True, control=True,
        style_function=lambda _f: {"color": AOI_COLOR, "weight": 2.5, "dashArray": "6 4",
                                   "fillColor": AOI_COLOR, "fillOpacity": 0.04,
                                   "interactive": False},
    )


class ViewSync(MacroElement):
    """Keep the map view in the embedding page's URL and in the tab's session storage.

    ``token`` names the view the server asked for: a map built with the same token as the one
    remembered in ``sessionStorage`` reopens at the remembered view (the analyst panned since);
    a new token (a link just opened) keeps the server's view. The other parameters written to
    the URL come from the last :class:`UrlQuery` run in the page (the filters change without
    rebuilding the map), or from ``query`` when given here.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (map, token, query, managed) {
          var KEY = "atalaya:view";
          function host() {
            try { return window.parent && window.parent !== window
                  ? window.parent : window; } catch (e) { return window; }
          }
          if (!window.atalayaUrlQuery) {
            window.atalayaUrlQuery = {query: query, managed: managed};
          }
          function remember() {
            var c = map.getCenter(), z = map.getZoom(), q = window.atalayaUrlQuery;
            var view = {token: token, lat: +c.lat.toFixed(5), lon: +c.lng.toFixed(5), z: z};
            try { window.sessionStorage.setItem(KEY, JSON.stringify(view)); } catch (e) {}
            try {
              var w = host(), url = new URL(w.location.href);
              q.managed.forEach(function (k) { url.searchParams.delete(k); });
              Object.keys(q.query).forEach(function (k) { url.searchParams.set(k, q.query[k]); });
              url.searchParams.set("lat", String(view.lat));
              url.searchParams.set("lon", String(view.lon));
              url.searchParams.set("z", String(z));
              if (url.toString() !== w.location.href) {
                w.history.replaceState(w.history.state, "", url.toString());
              }
            } catch (e) {}  // another origin: the URL is not ours to change
          }
          window.atalayaWriteUrl = remember;
          var saved = null;
          try { saved = JSON.parse(window.sessionStorage.getItem(KEY) || "null"); } catch (e) {}
          if (saved && saved.token === token && isFinite(saved.lat) && isFinite(saved.lon)) {
            map.setView([saved.lat, saved.lon], saved.z, {animate: false});
          }
          map.on("moveend", remember);
          remember();
        })({{ this._parent.get_name() }}, {{ this.token|tojson }}, {{ this.query|tojson }},
           {{ this.managed|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, token: str, *, query: dict[str, str] | None = None,
                 managed: tuple[str, ...] = ()) -> None:
        super().__init__()
        self._name = "AtalayaViewSync"
        self.token = token
        self.query = dict(query or {})
        self.managed = list(managed)

    def render(self, **kwargs: Any) -> Any:
        """Render after checking the element sits on a map."""
        if not isinstance(self._parent, folium.Map):
            raise TypeError("ViewSync must be added to a folium.Map")
        return super().render(**kwargs)


class UrlQuery(MacroElement):
    """Set the filter parameters :class:`ViewSync` writes into the URL, and write them now.

    Put it in a layer group that is replaced when the filters change (streamlit-folium's
    ``feature_group_to_add``): the URL follows the filters without the map being rebuilt.
    Every name in ``managed`` that is not in ``query`` is removed from the URL.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        window.atalayaUrlQuery = {query: {{ this.query|tojson }},
                                  managed: {{ this.managed|tojson }}};
        if (window.atalayaWriteUrl) { window.atalayaWriteUrl(); }
        {% endmacro %}
        """
    )

    def __init__(self, query: dict[str, str], *, managed: tuple[str, ...] = ()) -> None:
        super().__init__()
        self._name = "AtalayaUrlQuery"
        self.query = dict(query)
        self.managed = list(managed)


class ImmediateMoveReport(MacroElement):
    """Report a finished pan or zoom to Streamlit at once, not after a 250 ms pause.

    streamlit-folium (0.27, pinned) reports a move through an ``underscore`` debounce of
    250 ms: half of the imagery page's half-second budget from the move to the new image.
    On ``moveend`` this builds the value streamlit-folium's ``updateComponentValue`` would
    (same keys, same order, filtered by the returned objects), stores it as the component's
    ``previous_data`` and sends it; the debounced call that follows finds nothing new and
    sends nothing. Without the component's globals (another page) it does nothing.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (map) {
          var KEYS = ["last_clicked", "last_object_clicked", "last_object_clicked_count",
                      "last_object_clicked_tooltip", "last_object_clicked_popup",
                      "all_drawings", "last_active_drawing", "last_geocoder_result",
                      "bounds", "zoom", "last_circle_radius", "last_circle_polygon",
                      "center", "selected_layers", "selected_tags"];
          map.on("moveend", function () {
            var g = window.__GLOBAL_DATA__, S = window.Streamlit;
            if (!g || !S || typeof S.setComponentValue !== "function") { return; }
            var wrap = function (v) { return v && g.wrap_longitude ? map.wrapLatLng(v) : v; };
            var b = map.getBounds();
            var all = {
              last_clicked: wrap(g.lat_lng_clicked),
              last_object_clicked: wrap(g.last_object_clicked),
              last_object_clicked_count: g.last_object_clicked_count,
              last_object_clicked_tooltip: g.last_object_clicked_tooltip,
              last_object_clicked_popup: g.last_object_clicked_popup,
              all_drawings: g.all_drawings, last_active_drawing: g.last_active_drawing,
              last_geocoder_result: g.last_geocoder_result,
              bounds: b && g.wrap_longitude ? map.wrapLatLngBounds(b) : b,
              zoom: map.getZoom(), last_circle_radius: g.last_circle_radius,
              last_circle_polygon: g.last_circle_polygon, center: wrap(map.getCenter()),
              selected_layers: Object.values(g.selected_layers || {}),
              selected_tags: g.selected_tags
            };
            var out = {};
            KEYS.forEach(function (k) {
              if (!g.returned_objects || g.returned_objects.indexOf(k) >= 0) { out[k] = all[k]; }
            });
            if (JSON.stringify(g.previous_data) !== JSON.stringify(out)) {
              g.previous_data = out;
              S.setComponentValue(out);
            }
          });
        })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "ImmediateMoveReport"
