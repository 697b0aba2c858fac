"""Imagery on the map: a rendered view as an image layer, the NDVI legend, the date swipe.

The pixels come from :func:`geo.display.render_view`, already on the view's Web Mercator grid;
here they become an ``L.imageOverlay`` placed at the exact lon/lat bounds of that grid, so each
image pixel lands on one screen pixel. The image travels as a URL (a PNG published under
``static/data`` by :func:`layers.staticdata.publish`), or inline as a ``data:`` URL when small.

The swipe compares two dates with Leaflet's side-by-side control (``leaflet-side-by-side``
2.2.0 from npm, served from ``static/vendor``; ``tools/install_assets.py`` makes its browser
build). The control clips a layer's *container*; an image overlay has none of its own, so each
of the two overlays is moved into a pane of its own and that pane is its container.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import folium
import geopandas as gpd
from branca.element import MacroElement
from folium.elements import JSCSSMixin
from folium.raster_layers import ImageOverlay
from folium.template import Template

from layers.assets import add_map_controls, localize
from layers.basemap import build_offline_basemap, build_online_tiles
from layers.draw import ImmediateMoveReport
from layers.escape import escape_text
from layers.legend import Legend, LegendItem, LegendSection, build_legend
from layers.scenes import build_scenes_layer

__all__ = [
    "INLINE_MAX_BYTES",
    "SIDE_BY_SIDE_CSS",
    "SIDE_BY_SIDE_JS",
    "SideBySide",
    "SideBySideAssets",
    "ViewOverlay",
    "build_imagery_map",
    "build_ndvi_legend",
    "build_swipe",
    "build_view_layer",
    "finish_imagery_map",
    "png_data_url",
]

#: Largest PNG sent inline as a ``data:`` URL; larger ones should be published as files.
INLINE_MAX_BYTES = 256 * 1024
#: The side-by-side control's browser build and stylesheets, under ``static/vendor``.
SIDE_BY_SIDE_JS = "leaflet-side-by-side/leaflet-side-by-side.js"
SIDE_BY_SIDE_CSS = ("leaflet-side-by-side/layout.css", "leaflet-side-by-side/range.css")
_PANE_Z = 450  # above Leaflet's overlayPane (400), below markers (600)


def png_data_url(png: bytes, *, mime: str = "image/png") -> str:
    """Return an image as a ``data:`` URL (``mime``: ``image/png`` or ``image/webp``).

    Examples
    --------
    >>> png_data_url(b"abc")
    'data:image/png;base64,YWJj'
    """
    if mime not in {"image/png", "image/webp"}:
        raise ValueError(f"expected image/png or image/webp, got {mime!r}")
    return f"data:{mime};base64," + base64.b64encode(png).decode("ascii")


class ViewOverlay(ImageOverlay):
    """``L.imageOverlay`` of an image already on the map's grid, given by URL.

    Folium's own ``ImageOverlay`` treats a string that is not an absolute URL as a *file
    path* and reads it; a site-relative URL such as ``/app/static/data/x.bin`` must stay a
    URL, so the URL is set as given.
    """

    def __init__(self, url: str, bounds: list[list[float]], *, name: str, opacity: float,
                 show: bool, pixelated: bool) -> None:
        folium.map.Layer.__init__(self, name=name, overlay=True, control=True, show=show)
        self._name = "ImageOverlay"
        self.bounds = bounds
        self.options: dict[str, Any] = {"opacity": opacity, "interactive": False}
        self.pixelated = pixelated
        self.url = url


def build_view_layer(bounds_lonlat: Sequence[float], *, name: str, url: str | None = None,
                     png: bytes | None = None, mime: str = "image/png", opacity: float = 1.0,
                     show: bool = True, pixelated: bool = False) -> ViewOverlay:
    """Build the image layer of one rendered view.

    Parameters
    ----------
    bounds_lonlat
        (west, south, east, north) in degrees of the image's outer pixel edges
        (:attr:`geo.display.ViewImage.bounds_lonlat`); swapped here to Leaflet's [lat, lon].
    name
        Name in the layer control (escaped here).
    url
        Where the browser fetches the PNG (e.g. from :func:`layers.staticdata.publish`).
    png
        The image itself, sent inline instead (at most :data:`INLINE_MAX_BYTES`).
    mime
        Its type: ``image/png`` or ``image/webp`` (:meth:`geo.display.ViewImage.to_webp`).
    opacity
        0 (invisible) to 1.
    pixelated
        Draw source pixels as squares when the browser scales the image (while zooming).

    Raises
    ------
    ValueError
        When neither or both of ``url`` and ``png`` are given, the PNG is too large to inline,
        or the bounds are not (west, south, east, north).
    """
    if (url is None) == (png is None):
        raise ValueError("give the image as url= or as png=, exactly one of them")
    if png is not None and len(png) > INLINE_MAX_BYTES:
        raise ValueError(f"a {len(png)}-byte PNG is too large to inline (at most "
                         f"{INLINE_MAX_BYTES}); publish it with layers.staticdata.publish")
    w, s, e, n = (float(v) for v in bounds_lonlat)
    if not (w < e and s < n):
        raise ValueError(f"expected (west, south, east, north), got {tuple(bounds_lonlat)}")
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"opacity must be in [0, 1], got {opacity}")
    source = url if url is not None else png_data_url(png or b"", mime=mime)
    return ViewOverlay(source, [[s, w], [n, e]], name=escape_text(name), opacity=opacity,
                       show=show, pixelated=pixelated)


def build_ndvi_legend(stops: Sequence[tuple[float, str]], *, title: str = "NDVI",
                      position: str = "bottomright") -> Legend:
    """Legend of the NDVI ramp: one swatch per stop, highest value first.

    Parameters
    ----------
    stops
        (NDVI value, CSS colour) pairs (:data:`geo.display.NDVI_RAMP`).
    title
        Heading (translated by the caller; escaped here).

    Examples
    --------
    >>> leg = build_ndvi_legend([(0.0, "#d8b365"), (0.6, "#1a9641")])
    >>> leg.html.index("0.6") < leg.html.index("0.0")
    True
    """
    items = tuple(LegendItem(f"{value:+.1f}" if value else "0.0", colour, "square")
                  for value, colour in sorted(stops, reverse=True))
    return build_legend([LegendSection("", items)], title=title, position=position)


class SideBySide(JSCSSMixin, MacroElement):
    """Leaflet's side-by-side swipe between two image overlays already on the map."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = null;
        (function (holder, left, right) {
          // On a map, or in a layer group swapped onto a live map (streamlit-folium's
          // feature_group_to_add): then the control follows the group.
          function start(map) {
            // The control clips layer.getContainer(); give each overlay a pane of its own.
            [[left, {{ this.left_pane|tojson }}], [right, {{ this.right_pane|tojson }}]]
              .forEach(function (pair) {
                var layer = pair[0], name = pair[1];
                var pane = map.getPane(name) || map.createPane(name);
                pane.style.zIndex = {{ this.z_index }};
                pane.style.clip = "";
                var shown = holder.hasLayer(layer);
                if (shown) { holder.removeLayer(layer); }
                layer.options.pane = name;
                layer.getContainer = function () { return map.getPane(name); };
                if (shown) { holder.addLayer(layer); }
              });
            {{ this.get_name() }} = L.control.sideBySide(left, right).addTo(map);
          }
          if (holder instanceof L.Map) { start(holder); return; }
          holder.on("add", function () { start(holder._map); });
          holder.on("remove", function () {
            if ({{ this.get_name() }}) { {{ this.get_name() }}.remove(); }
          });
          if (holder._map) { start(holder._map); }
        })({{ this._parent.get_name() }}, {{ this.left.get_name() }},
           {{ this.right.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, left: ImageOverlay, right: ImageOverlay, *,
                 base_url: str = "/app/static/vendor") -> None:
        super().__init__()
        self._name = "AtalayaSideBySide"
        self.left = left
        self.right = right
        self.left_pane = "atalayaSwipeLeft"
        self.right_pane = "atalayaSwipeRight"
        self.z_index = _PANE_Z
        base = base_url.rstrip("/")
        self.default_js = [("leaflet-side-by-side", f"{base}/{SIDE_BY_SIDE_JS}")]
        self.default_css = [(f"leaflet-side-by-side-{i}", f"{base}/{css}")
                            for i, css in enumerate(SIDE_BY_SIDE_CSS)]


def build_swipe(m: folium.Map | folium.FeatureGroup, left: ImageOverlay, right: ImageOverlay,
                *, base_url: str = "/app/static/vendor") -> SideBySide:
    """Add a side-by-side swipe between two image layers of ``m`` (add them first).

    ``m`` is the map or a feature group holding both layers (the control then comes and goes
    with the group; load the plugin with the map, :class:`SideBySideAssets`).

    The left layer shows left of the divider, the right layer right of it; dragging the
    handle moves the divider. Returns the control element (already added to ``m``).
    """
    for layer in (left, right):
        if layer.get_name() not in m._children:
            raise ValueError("add both image layers to the map before the swipe")
    control = SideBySide(left, right, base_url=base_url)
    control.add_to(m)
    return control


class SideBySideAssets(JSCSSMixin, MacroElement):
    """Load the side-by-side plugin with the map (for swipes added later in a layer group)."""

    _template = Template("")

    def __init__(self, *, base_url: str = "/app/static/vendor") -> None:
        super().__init__()
        self._name = "AtalayaSideBySideAssets"
        base = base_url.rstrip("/")
        self.default_js = [("leaflet-side-by-side", f"{base}/{SIDE_BY_SIDE_JS}")]
        self.default_css = [(f"leaflet-side-by-side-{i}", f"{base}/{css}")
                            for i, css in enumerate(SIDE_BY_SIDE_CSS)]


#: Zoom limits of the imagery map: 18 is about 0.6 m screen pixels at the equator.
MIN_ZOOM, MAX_ZOOM = 2, 18


def build_imagery_map(*, center_lonlat: tuple[float, float], zoom: float,
                      footprints: gpd.GeoDataFrame | None = None,
                      labels: dict[str, str] | None = None, online_tiles: bool = False,
                      asset_base: str = "/app/static") -> folium.Map:
    """Build the imagery page's map: offline basemap and scene footprints, no image yet.

    Add the image layers (:func:`build_view_layer`), the swipe (:func:`build_swipe`) and any
    marker, then call :func:`finish_imagery_map`.

    Parameters
    ----------
    center_lonlat, zoom
        Opening view (lon, lat in degrees) and Leaflet zoom.
    footprints
        Scene catalogue in EPSG:4326 (``geo.schema.SCENES``), drawn as outlines; None: none.
    labels
        Translated names: ``borders``, ``online_basemap``, ``footprints``.
    online_tiles
        Offer the OpenStreetMap tiles (the only external address the page may then load).
    """
    names = {"borders": "Borders", "online_basemap": "OpenStreetMap (online)",
             "footprints": "Imagery footprints", **(labels or {})}
    m = folium.Map(location=[center_lonlat[1], center_lonlat[0]], zoom_start=round(zoom),
                   tiles=None, keyboard=False, maxZoom=MAX_ZOOM,
                   minZoom=MIN_ZOOM, zoom_control=True)
    add_map_controls(m, names)
    build_offline_basemap(name=names["borders"],
                          base_url=f"{asset_base.rstrip('/')}/basemap").add_to(m)
    if online_tiles:
        build_online_tiles(name=names["online_basemap"], show=True).add_to(m)
    if footprints is not None and len(footprints):
        build_scenes_layer(footprints, name=names["footprints"]).add_to(m)
    SideBySideAssets(base_url=f"{asset_base.rstrip('/')}/vendor").add_to(m)
    ImmediateMoveReport().add_to(m)  # a pan asks for the new image at once
    return m


def finish_imagery_map(m: folium.Map, *, asset_base: str = "/app/static") -> folium.Map:
    """Add the layer control and point every script at the local copies (call last)."""
    folium.LayerControl(collapsed=True).add_to(m)
    return localize(m, base_url=f"{asset_base.rstrip('/')}/vendor")
