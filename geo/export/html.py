"""The standalone HTML map: the explorer's map in one file that opens offline from a USB stick.

The page is ``layers.map.build_overview_map`` (the same layers, styles and legends as the app)
with every asset inlined: each ``<script src>`` becomes its script, each stylesheet link its
rules (images and fonts they use as ``data:`` URLs), the offline basemap's GeoJSON files
``data:`` URLs its script fetches, the events their base64 arrays. A banner carries the
classification marking top and bottom, the title and date; a north arrow and the scale bar
sit on the map. :func:`check_offline` refuses a page that would still load anything.

``layers`` needs folium, which ``geo`` must not import at module level: it is imported when a
page is built.
"""

from __future__ import annotations

import base64
import json
import math
import mimetypes
import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np

from geo.errors import ExportError
from geo.export.spec import SnapshotSpec
from geo.schema import SCHEMAS, empty_layer
from geo.settings import PROJECT_ROOT

__all__ = ["ASSET_BASE", "check_offline", "fit_view", "snapshot_extent", "snapshot_html",
           "snapshot_labels"]

#: Placeholder URL prefix of the assets while the page is built; every use is inlined.
ASSET_BASE = "/__atalaya_static__"
#: Up to this many events, each one's details (date, commodity, quantity, country, source,
#: description; about 150 bytes) travel in the page, so its popup shows them offline. The
#: app ships them up to ``layers.events.DETAILS_LIMIT`` and looks the others up on a click.
EVENT_DETAILS_LIMIT = 50_000
_SCRIPT = re.compile(r'<script src="(?P<url>[^"]+)"></script>')
_LINK = re.compile(r'<link rel="stylesheet" href="(?P<url>[^"]+)"\s*/?>')
_CSS_URL = re.compile(r"url\((?P<q>['\"]?)(?P<url>[^)'\"]+)(?P=q)\)")
_FONT_FALLBACK = (".ttf", ".eot", ".svg", ".woff")
MIN_ZOOM, MAX_ZOOM = 2, 18


#: Commodity names as the app shows them (``ui.labels.map_labels`` has the same message ids,
#: so the catalogues translate them); ``layers.labels`` has no commodities.
_COMMODITY_NAMES = {
    "cocaine": "Cocaine", "cocaine_base": "Cocaine base paste", "cannabis": "Cannabis",
    "heroin": "Heroin", "methamphetamine": "Methamphetamine", "fentanyl": "Fentanyl",
    "precursors": "Chemical precursors", "cash": "Cash", "weapons": "Weapons",
    "gold": "Illegal gold", "fuel": "Fuel", "unknown": "Unknown",
}


def snapshot_labels(spec: SnapshotSpec) -> dict[str, str]:
    """Return the map's words: the spec's labels, else the English defaults translated.

    The export panel passes the app's own labels; the command line gets these.
    """
    from layers.labels import DEFAULT_LABELS, number_labels

    if spec.labels is not None:
        return dict(spec.labels)
    from geo.i18n import Translator

    t = Translator(spec.language)
    return {key: t(text) for key, text in {**DEFAULT_LABELS, **_COMMODITY_NAMES}.items()} | \
        number_labels(t.number_symbols())


def fit_view(bbox: tuple[float, float, float, float], width_px: int,
             height_px: int) -> tuple[tuple[float, float], int]:
    """Return the centre ``(lon, lat)`` and the largest whole zoom showing ``bbox`` in the size.

    Examples
    --------
    >>> fit_view((-80.0, -10.0, -60.0, 5.0), 1600, 1000)
    ((-70.0, -2.52...), 6)
    """
    west, south, east, north = bbox

    def merc(lat: float) -> float:
        lat = max(-85.0511, min(85.0511, lat))
        return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))

    dx = max(east - west, 1e-6) / 360.0
    dy = max(merc(north) - merc(south), 1e-6) / (2 * math.pi)
    zoom = math.floor(min(math.log2(width_px / 256 / dx), math.log2(height_px / 256 / dy)))
    mid = (merc(north) + merc(south)) / 2
    lat = math.degrees(2 * math.atan(math.exp(mid)) - math.pi / 2)
    return ((west + east) / 2, lat), max(MIN_ZOOM, min(MAX_ZOOM, zoom))


def snapshot_extent(layers: Mapping[str, gpd.GeoDataFrame],
            spec: SnapshotSpec) -> tuple[float, float, float, float] | None:
    """Return the spec's extent, else the bounds of the data layers (not the aerodromes)."""
    if spec.bbox is not None:
        return spec.bbox
    boxes = [gdf.total_bounds for name, gdf in layers.items()
             if name not in ("aerodromes",) and len(gdf)]
    if spec.filters.aoi is not None:
        boxes.append(np.array(spec.filters.aoi.bounds))
    if not boxes:
        return None
    b = np.vstack(boxes)
    if not np.all(np.isfinite(b)):
        return None
    return (float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()),
            float(b[:, 3].max()))


def _data_url(path: Path, mime: str | None = None) -> str:
    kind = mime or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if path.suffix == ".woff2":
        kind = "font/woff2"
    return f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _static_file(url: str, static_dir: Path) -> Path:
    if not url.startswith(ASSET_BASE + "/"):
        raise ExportError(f"the map links {url!r}, which is not one of our assets")
    path = (static_dir / url[len(ASSET_BASE) + 1:]).resolve()
    if not path.is_relative_to(static_dir.resolve()) or not path.is_file():
        raise ExportError(f"asset {url!r} is missing from {static_dir}: run "
                          "`make assets` (tools/install_assets.py)")
    return path


def _inline_css(css: str, css_path: Path) -> str:
    def repl(match: re.Match[str]) -> str:
        url = match.group("url").strip()
        if url.startswith(("data:", "#")):
            return match.group(0)
        local = (css_path.parent / url.split("?")[0].split("#")[0]).resolve()
        if local.suffix in _FONT_FALLBACK and local.with_suffix(".woff2").is_file():
            return "url(data:,)"  # the woff2 listed first is the one a browser uses
        if not local.is_file():
            return "url(data:,)"
        return f'url("{_data_url(local)}")'

    return _CSS_URL.sub(repl, css)


def _inline_assets(page: str, static_dir: Path) -> str:
    def script(match: re.Match[str]) -> str:
        text = _static_file(match.group("url"), static_dir).read_text("utf-8")
        return "<script>" + text.replace("</script", "<\\/script") + "</script>"

    def link(match: re.Match[str]) -> str:
        path = _static_file(match.group("url"), static_dir)
        css = _inline_css(path.read_text("utf-8"), path)
        return "<style>" + css.replace("</style", "<\\/style") + "</style>"

    page = _SCRIPT.sub(script, page)
    page = _LINK.sub(link, page)
    # Default markers: their images as data: URLs (Leaflet joins imagePath and the icon URL).
    images = f"{ASSET_BASE}/vendor/leaflet/dist/images/"
    icons = {key: _data_url(_static_file(images + name, static_dir)) for key, name in (
        ("iconUrl", "marker-icon.png"), ("iconRetinaUrl", "marker-icon-2x.png"),
        ("shadowUrl", "marker-shadow.png"))}
    return page.replace(f"L.Icon.Default.imagePath = {json.dumps(images)};",
                        'L.Icon.Default.imagePath = "";\nL.Icon.Default.mergeOptions('
                        + json.dumps(icons) + ");")


def _inline_basemap(m: Any, static_dir: Path) -> None:
    from layers.basemap import OfflineBasemap

    def walk(element: Any) -> Any:
        yield element
        for child in list(element._children.values()):
            yield from walk(child)

    for element in walk(m):
        if isinstance(element, OfflineBasemap):
            element.urls = [_data_url(_static_file(u, static_dir), "application/json")
                            for u in element.urls]


_TAG = re.compile(r"<[a-zA-Z][^>]*>")
_ATTR_URL = re.compile(r"""\s(?:src|href|srcset|poster|data|action|background)\s*=\s*
                       ["']?(?P<url>[^"'\s>]*)""", re.IGNORECASE | re.VERBOSE)
_SCRIPT_BODY = re.compile(r"(<script\b[^>]*>).*?</script>", re.IGNORECASE | re.DOTALL)
_STYLE_BODY = re.compile(r"<style\b[^>]*>(.*?)</style>", re.IGNORECASE | re.DOTALL)
_STYLE_ATTR = re.compile(r"""\sstyle\s*=\s*(["'])(.*?)\1""", re.IGNORECASE | re.DOTALL)


def check_offline(page: str) -> None:
    """Raise :class:`ExportError` if the page's markup or styles would load anything.

    Checked: every tag's ``src``/``href``/``srcset``/``poster``/``data``/``action``
    attribute, every ``url()`` and ``@import`` in style blocks and ``style`` attributes (only
    ``data:`` and ``#fragment`` pass), and the asset placeholder anywhere. Script bodies are
    code, not markup: what they load is proved in a browser with the network blocked
    (``tests/browser/test_export.py``).
    """
    markup = _SCRIPT_BODY.sub(r"\1</script>", page)
    styles = _STYLE_BODY.findall(markup)
    markup = _STYLE_BODY.sub("<style></style>", markup)
    styles += [m.group(2) for m in _STYLE_ATTR.finditer(markup)]
    bad = [m.group("url") for tag in _TAG.findall(markup) for m in _ATTR_URL.finditer(tag)
           if not m.group("url").startswith(("data:", "#"))]
    for css in styles:
        bad += [m.group("url") for m in _CSS_URL.finditer(css)
                if not m.group("url").strip().startswith(("data:", "#"))]
        bad += re.findall(r"@import\s+[^;]+;", css)
    if ASSET_BASE in page:
        bad.append(ASSET_BASE)
    if bad:
        listed = ", ".join(sorted(set(bad))[:10])
        raise ExportError(f"the standalone map would still load {len(set(bad))} URL(s): {listed}")


def _decorations(spec: SnapshotSpec, when: datetime, subtitle: str) -> tuple[str, str]:
    from layers.escape import escape_text as esc

    css = """<style>
.atalaya-marking{position:fixed;left:0;right:0;z-index:1001;text-align:center;
 font:bold 13px/20px Arial,sans-serif;background:#fff;color:#111;letter-spacing:.05em;
 border-color:#111;border-style:solid;border-width:0}
.atalaya-marking.top{top:0;border-bottom-width:1px}.atalaya-marking.bottom{bottom:0;
 border-top-width:1px}
.atalaya-title{position:fixed;top:28px;left:50%;transform:translateX(-50%);z-index:1000;
 background:rgba(255,255,255,.92);padding:4px 12px;border-radius:4px;text-align:center;
 font:600 16px Arial,sans-serif;color:#111;box-shadow:0 1px 4px rgba(0,0,0,.3);max-width:60%}
.atalaya-title small{display:block;font-weight:400;font-size:11px;color:#333}
.atalaya-north{position:fixed;right:12px;bottom:44px;z-index:1000;width:34px;height:48px}
.leaflet-top{top:22px}.leaflet-bottom{bottom:22px}
</style>"""
    body = (f'<div class="atalaya-marking top" id="atalaya-marking-top">'
            f"{esc(spec.classification)}</div>"
            f'<div class="atalaya-title" id="atalaya-title">{esc(spec.title)}'
            f"<small>{esc(subtitle)} · {when:%Y-%m-%d %H:%M} UTC</small></div>"
            '<svg class="atalaya-north" viewBox="0 0 34 48" aria-label="N">'
            '<polygon points="17,4 27,34 17,28 7,34" fill="#111" stroke="#fff" '
            'stroke-width="1"/><text x="17" y="46" text-anchor="middle" '
            'font-family="Arial" font-weight="bold" font-size="13" fill="#111" stroke="#fff" '
            'stroke-width="0.6" paint-order="stroke">N</text></svg>'
            f'<div class="atalaya-marking bottom" id="atalaya-marking-bottom">'
            f"{esc(spec.classification)}</div>"
            # a popup opened near the top pans clear of the title box, not under it (the
            # popups inherit the option from the prototype, whenever they were made)
            "<script>(function () { if (!window.L || !L.Popup) { return; }"
            " var t = document.getElementById('atalaya-title');"
            " var below = t ? t.getBoundingClientRect().bottom : 0;"
            " L.Popup.prototype.options.autoPanPaddingTopLeft = L.point(12, below + 12);"
            " L.Popup.prototype.options.autoPanPaddingBottomRight = L.point(12, 40);"
            " })();</script>")
    return css, body


def snapshot_html(layers: Mapping[str, gpd.GeoDataFrame], spec: SnapshotSpec, *,
                  when: datetime, subtitle: str = "",
                  static_dir: Path | None = None) -> tuple[str, tuple[float, float, float,
                                                                     float] | None]:
    """Build the standalone page; return its HTML and the extent it is framed on.

    Parameters
    ----------
    layers
        The snapshot's frames (``geo.export.frames``); a layer not chosen is drawn empty.
    spec
        Title, marking, language/labels, the extent and the page size the view is fitted to.
    when
        The snapshot's time (shown under the title).
    subtitle
        A short line under the title (the time window in words, say).
    static_dir
        The installed assets (``static/``: ``vendor/`` and ``basemap/``).

    Raises
    ------
    ExportError
        When an asset is missing or the page would load any URL.
    """
    from geo.detect.reasons import localize_reasons
    from geo.i18n import Translator
    from layers.events import encode_events
    from layers.map import build_overview_map

    static = static_dir or PROJECT_ROOT / "static"
    frame = {name: layers[name] if name in layers else empty_layer(SCHEMAS[name])
             for name in ("events", "routes", "candidates", "aerodromes")}
    frame["candidates"] = localize_reasons(frame["candidates"], Translator(spec.language))
    extent = snapshot_extent(layers, spec)
    center, zoom = ((None, None) if extent is None
                    else fit_view(extent, spec.width_px, spec.height_px - 60))
    t = Translator(spec.language)
    labels = snapshot_labels(spec)
    # no app below this map: past the limit, a popup sends the reader to the data files
    labels["details_below"] = t("Details are in the snapshot's data files")
    events = encode_events(frame["events"], labels=labels, details_limit=EVENT_DETAILS_LIMIT)
    m = build_overview_map(events=frame["events"], routes=frame["routes"],
                           candidates=frame["candidates"], aerodromes=frame["aerodromes"],
                           scenes=layers.get("scenes"), labels=labels,
                           asset_base=ASSET_BASE, aoi=spec.filters.aoi, location=center,
                           zoom=zoom, legend_of_data=True, events_payload=events)
    _inline_basemap(m, static)
    page = _inline_assets(m.get_root().render(), static)
    css, body = _decorations(spec, when, subtitle)
    page = page.replace("</head>", css + "</head>", 1).replace("</body>", body + "</body>", 1)
    if extent is not None:
        page = _replace_last(page, "</html>", _fit_script(extent) + "</html>")
    page = page.replace("<head>", '<head><meta charset="utf-8"><title>'
                        + _escape_title(spec.title) + "</title>", 1)
    # the page's language (screen readers, a browser's offer to translate, hyphenation)
    page = page.replace("<html>", f'<html lang="{spec.language}">', 1)
    check_offline(page)
    return page, extent


def _fit_script(extent: tuple[float, float, float, float]) -> str:
    """Frame the extent on whatever screen opens the file (the PNG's size gives the same view).

    Runs after folium's map script; the padding keeps the data clear of the marking banners
    and the title.
    """
    west, south, east, north = extent
    bounds = json.dumps([[south, west], [north, east]])  # Leaflet's [lat, lon]
    return ("<script>(function () { var map = Object.values(window).find(function (v) {"
            " return v instanceof L.Map; }); if (map) { map.fitBounds(" + bounds + ","
            " {animate: false, paddingTopLeft: [0, 60], paddingBottomRight: [0, 24]}); }"
            " })();</script>")


def _replace_last(text: str, old: str, new: str) -> str:
    head, sep, tail = text.rpartition(old)
    return head + new + tail if sep else text + new


def _escape_title(text: str) -> str:
    from layers.escape import escape_text

    return escape_text(text)
