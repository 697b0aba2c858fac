"""The offline basemap: sea-coloured map background, land and borders fetched at page load.

The land polygons are not embedded in the map HTML: a small script fetches the GeoJSON files
that ``tools/install_assets.py`` wrote to ``static/basemap/`` and draws them in their own pane
below every overlay (and below online tiles, which cover it when turned on). While it is on,
the map's corner credits Natural Earth (public domain data, credited as its authors ask).
"""

from __future__ import annotations

from collections.abc import Sequence

import folium
from folium.map import Layer
from folium.template import Template

from layers.escape import escape_text

__all__ = [
    "BASEMAP_FILES",
    "OfflineBasemap",
    "build_offline_basemap",
    "build_online_tiles",
]

#: Files under ``static/basemap``: Natural Earth 1:50m countries clipped to the Americas, and
#: 1:110m countries for the rest of the world (the Americas box cut out, so they never overlap).
BASEMAP_FILES: tuple[str, ...] = ("world-110m.geojson", "countries-50m.geojson")
#: Credit in the map's corner while the layer is on (plain text: no address in an offline map).
ATTRIBUTION = "Natural Earth"
SEA_COLOR = "#b7d0e1"
LAND_COLOR = "#f3f0e8"
BORDER_COLOR = "#8f8a80"


class OfflineBasemap(Layer):
    """Land and borders drawn from static GeoJSON files; a toggleable, non-interactive layer."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function (map) {
          map.getContainer().style.background = {{ this.sea_color|tojson }};
          if (!map.getPane("atalaya-basemap")) {
            var pane = map.createPane("atalaya-basemap");
            pane.style.zIndex = 150;  // above the map background, below tiles (200)
            pane.style.pointerEvents = "none";
          }
          var fill = {{ this.fill_style|tojson }}, line = {{ this.line_style|tojson }};
          var layer = L.geoJSON(null, {
            pane: "atalaya-basemap", interactive: false,
            attribution: {{ this.attribution|tojson }},
            style: function (f) { return f.geometry.type.indexOf("Line") >= 0 ? line : fill; }
          });
          {{ this.urls|tojson }}.forEach(function (url) {
            fetch(url).then(function (r) {
              if (!r.ok) { throw new Error(r.status + " " + url); }
              return r.json();
            }).then(function (data) {
              layer.addData(data);
              var box = map.getContainer();
              if (box.getAttribute("data-atalaya-basemap") !== "missing") {
                box.setAttribute("data-atalaya-basemap", "loaded");
              }
            }).catch(function (err) {
              console.warn("Atalaya: offline basemap not loaded (" + err + "); "
                           + "run tools/install_assets.py");
              map.getContainer().setAttribute("data-atalaya-basemap", "missing");
            });
          });
          return layer;
        })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, urls: Sequence[str], *, name: str, show: bool = True,
                 sea_color: str = SEA_COLOR, land_color: str = LAND_COLOR,
                 border_color: str = BORDER_COLOR) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "AtalayaBasemap"
        self.urls = list(urls)
        self.attribution = ATTRIBUTION
        self.sea_color = sea_color
        # Polygons are filled without outline; the border/coast lines are their own feature,
        # so the seam between the 1:50m and 1:110m files is never stroked.
        self.fill_style = {"stroke": False, "fillColor": land_color, "fillOpacity": 1.0}
        self.line_style = {"color": border_color, "weight": 0.7, "opacity": 1.0,
                           "fill": False}


def build_offline_basemap(*, name: str, base_url: str = "/app/static/basemap",
                          files: Sequence[str] = BASEMAP_FILES, show: bool = True,
                          sea_color: str = SEA_COLOR) -> OfflineBasemap:
    """Build the offline land-and-borders layer; add it to the map first.

    Parameters
    ----------
    name
        Name shown in the layer control (escaped here).
    base_url
        URL of the folder holding the basemap GeoJSON files.
    files
        File names under ``base_url``, drawn in this order.
    show
        Whether land and borders are on when the map opens (the sea colour always is).
    sea_color
        CSS colour of the map background.

    Returns
    -------
    OfflineBasemap
        A ``folium.map.Layer`` listed in the layer control.

    Notes
    -----
    When a file is missing the page logs a warning and marks the map container with
    ``data-atalaya-basemap="missing"``; the rest of the map still works.

    Examples
    --------
    >>> build_offline_basemap(name="Borders").urls
    ['/app/static/basemap/world-110m.geojson', '/app/static/basemap/countries-50m.geojson']
    """
    base = base_url.rstrip("/")
    return OfflineBasemap([f"{base}/{f}" for f in files], name=escape_text(name), show=show,
                          sea_color=sea_color)


def build_online_tiles(*, name: str = "OpenStreetMap (online)",
                       show: bool = False) -> folium.TileLayer:
    """Return the OpenStreetMap tile layer, offered only when the user allows online tiles.

    It is an overlay, off by default, drawn above the offline basemap; its tile URL and
    attribution are the only external addresses a map may contain, and only when added.
    """
    return folium.TileLayer("OpenStreetMap", name=escape_text(name), overlay=True,
                            control=True, show=show, max_zoom=19)
