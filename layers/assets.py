"""Point a folium map at the app's own copies of Leaflet and its plugins.

Folium 0.20 links every script and stylesheet from public CDNs. Air-gapped, a single CDN URL left
behind leaves the map blank (streamlit-folium loads the scripts in order and stops at the first
failure), so :func:`localize` rewrites every element's links to the files that
``tools/install_assets.py`` copies from ``node_modules`` into ``static/vendor``, and refuses
any URL it does not know.

Notes
-----
The rewrite is per element instance (``element.default_js = [...]``), never the class list and
never ``add_js_link`` (which mutates the class-level list shared by every map in the process).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, TypeVar

import folium
from branca.element import Element, MacroElement
from folium.template import Template

from geo.errors import AtalayaError

__all__ = [
    "DROPPED_ASSETS",
    "LOCAL_ASSETS",
    "UnknownAssetError",
    "localize",
]

E = TypeVar("E", bound=Element)

_JSD = "https://cdn.jsdelivr.net"
_CDNJS = "https://cdnjs.cloudflare.com/ajax/libs"

#: CDN URL used by folium 0.20 -> path of the local copy under ``static/vendor``.
#: ``tools/install_assets.py`` creates every one of these files.
LOCAL_ASSETS: Mapping[str, str] = {
    f"{_JSD}/npm/leaflet@1.9.3/dist/leaflet.js": "leaflet/dist/leaflet.js",
    f"{_JSD}/npm/leaflet@1.9.3/dist/leaflet.css": "leaflet/dist/leaflet.css",
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery/dist/jquery.min.js",
    f"{_JSD}/npm/bootstrap@5.2.2/dist/js/bootstrap.bundle.min.js":
        "bootstrap/dist/js/bootstrap.bundle.min.js",
    f"{_JSD}/npm/bootstrap@5.2.2/dist/css/bootstrap.min.css":
        "bootstrap/dist/css/bootstrap.min.css",
    f"{_JSD}/npm/@fortawesome/fontawesome-free@6.2.0/css/all.min.css":
        "fontawesome-free/css/all.min.css",
    # 2.0.2 was never published to npm; 2.0.5 is the same plugin and works with folium.
    f"{_CDNJS}/Leaflet.awesome-markers/2.0.2/leaflet.awesome-markers.js":
        "leaflet.awesome-markers/dist/leaflet.awesome-markers.js",
    f"{_CDNJS}/Leaflet.awesome-markers/2.0.2/leaflet.awesome-markers.css":
        "leaflet.awesome-markers/dist/leaflet.awesome-markers.css",
    f"{_JSD}/gh/python-visualization/folium/folium/templates/leaflet.awesome.rotate.min.css":
        "folium/leaflet.awesome.rotate.min.css",
    f"{_JSD}/gh/python-visualization/folium@main/folium/templates/leaflet_heat.min.js":
        "folium/leaflet_heat.min.js",
    f"{_CDNJS}/leaflet.markercluster/1.1.0/leaflet.markercluster.js":
        "leaflet.markercluster/dist/leaflet.markercluster.js",
    f"{_CDNJS}/leaflet.markercluster/1.1.0/MarkerCluster.css":
        "leaflet.markercluster/dist/MarkerCluster.css",
    f"{_CDNJS}/leaflet.markercluster/1.1.0/MarkerCluster.Default.css":
        "leaflet.markercluster/dist/MarkerCluster.Default.css",
    f"{_CDNJS}/leaflet.draw/1.0.2/leaflet.draw.js": "leaflet-draw/dist/leaflet.draw.js",
    f"{_CDNJS}/leaflet.draw/1.0.2/leaflet.draw.css": "leaflet-draw/dist/leaflet.draw.css",
}

#: CDN URLs removed rather than replaced. Bootstrap 3 glyphicons are only used by awesome-markers
#: icons with ``prefix="glyphicon"``; the app uses Font Awesome icons, and Bootstrap 3 is not
#: installed, so the stylesheet is simply not linked.
DROPPED_ASSETS: frozenset[str] = frozenset(
    {"https://netdna.bootstrapcdn.com/bootstrap/3.0.0/css/bootstrap-glyphicons.css"}
)

_ICON_PATH_KEY = "atalaya_icon_path"


class UnknownAssetError(AtalayaError, ValueError):
    """A map element links a script or stylesheet that has no local copy."""


class _IconImagePath(MacroElement):
    """Set ``L.Icon.Default.imagePath`` so default markers load the local images."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            L.Icon.Default.imagePath = {{ this.path|tojson }};
        {% endmacro %}
        """
    )

    def __init__(self, path: str) -> None:
        super().__init__()
        self._name = "AtalayaIconImagePath"
        self.path = path


class MetricScale(MacroElement):
    """Add Leaflet's scale bar in metres and kilometres only.

    folium's ``control_scale`` also draws miles and feet, which nobody in the field reads.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            L.control.scale({imperial: false, metric: true, maxWidth: 120,
                             position: {{ this.position|tojson }}})
                .addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, position: str = "bottomleft") -> None:
        super().__init__()
        self._name = "AtalayaMetricScale"
        self.position = position


class PopupRoom(MacroElement):
    """Keep an open popup readable on a small map (a phone's is about 360 px wide).

    A popup is never wider than the map less room for its tip and close button (long words
    wrap), every popup's table is written alike (the events' 12 px), and while one is open
    the map's controls (zoom, drawing tools, layers, legends) fade and let clicks through:
    Leaflet draws controls above popups, and on a phone they covered the popup's first
    letters. Closing the popup brings them back. The scale bar's label and the attribution
    are 11 px: in the app's map frame they inherited 16 px, and a short bar's label ("500 m"
    on a 47 px bar) ran past the bar it names. A drawing tool's hint stays hidden until the
    pointer's first move over the map places it beside the pointer.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (map) {
          var doc = map.getContainer().ownerDocument;
          if (!doc.getElementById("atalaya-popup-room")) {
            var style = doc.createElement("style");
            style.id = "atalaya-popup-room";
            // values wrap anywhere (a long name or code); headings keep their words whole
            // and every popup's table reads like the events' (12 px, grey names on the left)
            style.textContent = ".leaflet-popup-content{max-width:calc(100vw - 72px);"
              + "overflow-wrap:break-word}.leaflet-popup-content td{overflow-wrap:anywhere}"
              + ".leaflet-popup-content table{font-size:12px;border-collapse:collapse}"
              + ".leaflet-popup-content th{text-align:left;padding:1px 8px 1px 0;color:#555}"
              + ".atalaya-popup-open .leaflet-control{opacity:0.1;pointer-events:none}"
              // the scale's label fits its bar (it inherited the page's 16 px and ran out)
              + ".leaflet-container .leaflet-control-scale-line{font-size:11px;padding:0 3px}"
              + ".leaflet-container .leaflet-control-attribution{font-size:11px}"
              // the layer switcher reads like the legends (it inherited 16 px too)
              + ".leaflet-container .leaflet-control-layers{font-size:12px}"
              // a drawing hint is placed by the pointer's first move over the map; until
              // then it sat at the pane's corner, half above the map's top edge
              + ".leaflet-draw-tooltip:not([style*=translate]):not([style*=left])"
              + "{visibility:hidden!important}";
            doc.head.appendChild(style);
          }
          var box = map.getContainer();
          map.on("popupopen", function () { L.DomUtil.addClass(box, "atalaya-popup-open"); });
          map.on("popupclose", function () { L.DomUtil.removeClass(box, "atalaya-popup-open"); });
        })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "AtalayaPopupRoom"


class ZoomWords(MacroElement):
    """Name the zoom buttons in the reader's language (their tooltip and accessible name).

    Leaflet names them "Zoom in" and "Zoom out" whatever the page's language. The words are
    set as text (``title``, ``aria-label``), never as markup.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (map, words) {
          var zoom = map.zoomControl;
          if (!zoom) { return; }
          [[zoom._zoomInButton, words[0]], [zoom._zoomOutButton, words[1]]].forEach(
            function (pair) {
              if (pair[0]) {
                pair[0].title = pair[1];
                pair[0].setAttribute("aria-label", pair[1]);
              }
            });
        })({{ this._parent.get_name() }}, {{ this.words|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, labels: Mapping[str, str] | None) -> None:
        super().__init__()
        self._name = "AtalayaZoomWords"
        words = labels or {}
        self.words = [words.get("zoom_in", "Zoom in"), words.get("zoom_out", "Zoom out")]


def add_map_controls(m: folium.Map, labels: Mapping[str, str] | None = None, *,
                     scale_position: str = "bottomleft") -> folium.Map:
    """Give ``m`` what every app map has: a metric scale, popup room, zoom buttons in words.

    ``labels``: translated map words (``zoom_in``, ``zoom_out``); English without them.
    """
    MetricScale(position=scale_position).add_to(m)
    PopupRoom().add_to(m)
    ZoomWords(labels).add_to(m)
    return m


def _walk(element: Element) -> Iterator[Element]:
    yield element
    for child in list(element._children.values()):
        yield from _walk(child)


def _rewrite(links: list[tuple[str, str]], base: str, unknown: list[str]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for name, url in links:
        if url.startswith(base + "/"):
            out.append((name, url))  # already local: localize() is idempotent
        elif url in LOCAL_ASSETS:
            out.append((name, f"{base}/{LOCAL_ASSETS[url]}"))
        elif url not in DROPPED_ASSETS:
            unknown.append(url)
    return out


def localize(m: E, *, base_url: str = "/app/static/vendor") -> E:
    """Rewrite every script and stylesheet link of ``m`` to the app's local copies.

    Parameters
    ----------
    m
        The map, with all its layers, controls and plugins already added; or a layer group
        that will be added to a live map later (``streamlit-folium``'s
        ``feature_group_to_add``).
    base_url
        URL prefix of the vendored files (``static/vendor`` served by Streamlit at
        ``/app/static/vendor``).

    Returns
    -------
    Element
        The same map or group, for chaining.

    Raises
    ------
    UnknownAssetError
        Listing every linked URL that has no local copy, so a CDN URL never reaches the page.

    Notes
    -----
    Call it last, after every element is added. It also sets ``L.Icon.Default.imagePath`` to the
    local Leaflet images, before any marker is created. Calling it twice is harmless.

    Examples
    --------
    >>> m = localize(folium.Map(tiles=None), base_url="/app/static/vendor")
    >>> dict(m.default_js)["leaflet"]
    '/app/static/vendor/leaflet/dist/leaflet.js'
    """
    base = base_url.rstrip("/")
    unknown: list[str] = []
    for element in _walk(m):
        obj: Any = element
        for attr in ("default_js", "default_css"):
            links = getattr(obj, attr, None)
            if links:
                setattr(obj, attr, _rewrite(list(links), base, unknown))
    if unknown:
        listed = "\n  - ".join(dict.fromkeys(unknown))
        raise UnknownAssetError(
            f"the map links {len(set(unknown))} script(s)/stylesheet(s) with no local copy:\n"
            f"  - {listed}\nAdd the package to package.json, copy its files in "
            "tools/install_assets.py and map the URL in layers.assets.LOCAL_ASSETS, "
            "or stop using that plugin."
        )
    if isinstance(m, folium.Map):
        _set_icon_path(m, f"{base}/leaflet/dist/images/")
    return m


def _set_icon_path(m: folium.Map, path: str) -> None:
    children = m._children
    existing = children.get(_ICON_PATH_KEY)
    if isinstance(existing, _IconImagePath):
        existing.path = path
        return
    m.add_child(_IconImagePath(path), name=_ICON_PATH_KEY)
    # Run right after L.map() is created, before any marker builds its icon.
    children.move_to_end(_ICON_PATH_KEY, last=False)
