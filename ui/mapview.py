"""Show a map whose base is rendered once per session and whose overlays are swapped live.

``st_folium`` renders the whole map on every run of the script, even when only the filtered
overlays changed, and every pan reruns the explorer's fragment: the base map (basemap,
thousands of registered aerodromes, tools) cost about half a second each time when the
aerodromes were per-feature GeoJSON (70 ms since they travel as arrays, ``layers.aerodromes``).
Here the base map is rendered once (:func:`render_base`, kept in the session) and each run
renders only the overlay groups and the layer control, then calls streamlit-folium's component
with the same arguments ``st_folium`` would (streamlit-folium 0.27, pinned in
``requirements.txt``; the browser tests drive the result).

Streamlit sends a component's arguments again on every run, and the browser parses and compares
them: with the aerodromes and runway candidates inline that was 2.3 MB per filter change or
pan. Large scripts are therefore published as static files (:mod:`layers.staticdata`, named
by their content) and the arguments carry a few lines that load them, synchronously, the first
time a page needs them (a component frame that already has the base map or a kept group never
asks again).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import folium
import streamlit as st
import streamlit_folium as sf
from folium.map import Layer

from layers.map import OverlayPart
from ui.cache import publish_static

__all__ = ["MoveKeys", "RenderedBase", "RenderedGroup", "ask_move", "render_base", "render_groups",
           "show_map", "take_move"]


@dataclass(frozen=True)
class RenderedBase:
    """What the component needs of the base map, rendered once."""

    script: str
    header: str
    html: str
    map_id: str
    js_links: tuple[str, ...]
    css_links: tuple[str, ...]
    #: (name in the layer control, JavaScript variable, is an overlay) of each base layer.
    controls: tuple[tuple[str, str, bool], ...]
    hash_key: str
    #: Scripts the loader in ``script`` fetches: (SHA-256, bytes), published again on each show.
    published: tuple[tuple[str, bytes], ...] = ()


def _links(elements: Iterable[Any]) -> tuple[list[str], list[str]]:
    """Scripts and stylesheets every element links to, in order, without repeats."""
    js: list[str] = []
    css: list[str] = []

    def walk(element: Any) -> None:
        css.extend(href for _, href in getattr(element, "default_css", []))
        js.extend(src for _, src in getattr(element, "default_js", []))
        for child in getattr(element, "_children", {}).values():
            walk(child)

    for element in elements:
        walk(element)
    return list(dict.fromkeys(js)), list(dict.fromkeys(css))


def render_base(m: folium.Map, *, key: str) -> RenderedBase:
    """Render the base map as ``st_folium`` does, once; ``key`` is the component's key."""
    m.render()  # type: ignore[no-untyped-call]
    html = sf._get_html(m)
    header = sf._get_header(m)
    script = sf._get_map_string(m)  # renames the elements' variables: read names after it
    controls = tuple((str(layer.layer_name), layer.get_name(), bool(layer.overlay))
                     for layer in m._children.values()
                     if isinstance(layer, Layer) and layer.control)
    js, css = _links([m])
    hash_key = sf.generate_js_hash(script, key, False)
    published: tuple[tuple[str, bytes], ...] = ()
    if len(script) > PUBLISH_OVER:
        # The component appends lines that use ``map_div`` and the layer control uses the base
        # layers' variables: they must be global, hence the indirect eval.
        blob = script.encode("utf-8")
        digest = hashlib.sha256(blob).hexdigest()
        published = ((digest, blob),)
        script = _loader(_published_url(digest, blob), "(0, eval)(x.responseText);") + ";\n"
    return RenderedBase(script=script, header=header, html=html, map_id=sf.get_full_id(m),
                        js_links=tuple(js), css_links=tuple(css), controls=controls,
                        hash_key=hash_key, published=published)


#: Scripts longer than this (characters) are published as files and loaded, not sent inline.
PUBLISH_OVER = 32_000


def _loader(url: str, run: str) -> str:
    """Script that fetches ``url`` synchronously, then runs ``run`` (which reads ``x``).

    Synchronous, because the lines after it (the component's, the layer control) use the
    variables the fetched script declares; it runs once per component frame and file, from
    127.0.0.1.
    """
    return ("(function () {\n"
            "  var x = new XMLHttpRequest();\n"
            f"  x.open(\"GET\", \"{url}\", false);\n"
            "  x.send();\n"
            "  if (x.status !== 200) {\n"
            f"    throw new Error(\"Atalaya: {url} answered \" + x.status);\n"
            "  }\n"
            f"  {run}\n"
            "})()")


def _late_assets(js: Sequence[str], css: Sequence[str]) -> str:
    """Script that loads the groups' plugins the map's first render did not (or nothing).

    streamlit-folium loads ``js_links`` and ``css_links`` when the component first mounts
    only: a group swapped in later whose plugin the base map lacks (a heat map chosen on the
    live map) failed with "L.heatLayer is not a function". Each script is fetched and run once
    per page, before the groups' code, unless the mount loaded it already (its ``<script>``).
    """
    if not js and not css:
        return ""
    out = ["window.atalayaAssets = window.atalayaAssets || {};\n"]
    for url in js:
        run = "(0, eval)(x.responseText); window.atalayaAssets[" + json.dumps(url) + "] = 1;"
        out.append(f"if (!window.atalayaAssets[{json.dumps(url)}] && !document.querySelector("
                   f"'script[src=' + JSON.stringify({json.dumps(url)}) + ']')) "
                   + _loader(url, run) + ";\n")
    for url in css:
        out.append(f"if (!document.querySelector('link[href=' + JSON.stringify({json.dumps(url)})"
                   " + ']')) { var l = document.createElement('link'); l.rel = 'stylesheet';"
                   f" l.href = {json.dumps(url)}; document.head.appendChild(l); }}\n")
    return "".join(out)


def _published_url(digest: str, blob: bytes) -> str:
    """Publish ``blob`` (once per content; a pruned file is written again) and return its URL."""
    return publish_static(blob, digest=digest, suffix=".js")


@dataclass(frozen=True)
class RenderedGroup:
    """One overlay group rendered for the component (its position in the list included)."""

    script: str
    js_links: tuple[str, ...]
    css_links: tuple[str, ...]
    #: Name in the layer control (None when the group is not listed) and JavaScript variable.
    control_name: str | None
    var: str
    #: Scripts the loader in ``script`` fetches: (SHA-256, text), published again on each show.
    published: tuple[tuple[str, bytes], ...] = ()


# streamlit-folium removes every overlay group and evaluates all their scripts again whenever
# any of them changed: a filter on event types rebuilt the runway candidates and routes too
# (hundreds of Leaflet layers). A reusable group's script keeps the Leaflet group it built in
# the page, under the hash of its code, and adds that one again next time (the events layer
# then keeps its fetched arrays). The page keeps the latest _PAGE_KEEP of them.
_PAGE_KEEP = 12
_PAGE_CACHE = """var __ag = window.atalayaGroups;
if (!__ag || __ag.map !== map_div) {{
  __ag = window.atalayaGroups = {{map: map_div, byHash: {{}}, order: []}};
}}
if (__ag.byHash["{h}"]) {{
  var {var} = __ag.byHash["{h}"];
}} else {{
{body}
  __ag.byHash["{h}"] = {var}; __ag.order.push("{h}");
  while (__ag.order.length > {keep}) {{ delete __ag.byHash[__ag.order.shift()]; }}
}}
{tail}"""


def _reusable(script: str, var: str) -> tuple[str, tuple[tuple[str, bytes], ...]]:
    """Wrap a group's script so that the page builds that group once (see ``_PAGE_CACHE``).

    A long group is published and its building code fetched when the page lacks the group;
    it then runs in a function of its own (its variables stay local) and returns the group.
    Returns the script and what it fetches.
    """
    cut = script.rfind(f"{var}.addTo(map_div);")
    if cut < 0:
        return script, ()
    body, tail = script[:cut], script[cut:]
    digest = hashlib.sha1(body.encode("utf-8")).hexdigest()[:20]
    published: tuple[tuple[str, bytes], ...] = ()
    if len(body) > PUBLISH_OVER:
        blob = f"(function () {{\n{body}\nreturn {var};\n}})()".encode()
        sha = hashlib.sha256(blob).hexdigest()
        published = ((sha, blob),)
        body = f"var {var} = " + _loader(_published_url(sha, blob),
                                          "return (0, eval)(x.responseText);") + ";\n"
    return _PAGE_CACHE.format(h=digest, var=var, body=body, tail=tail,
                              keep=_PAGE_KEEP), published


def render_group(group: folium.FeatureGroup, idx: int, *, reuse: bool = False) -> RenderedGroup:
    """Render ``group`` as the ``idx``-th of the overlays, as st_folium does.

    With ``reuse``, the page builds the group once and adds the same Leaflet group again when
    the script comes back unchanged; only for groups whose script does nothing but build
    layers (not the URL writer, which must run each time).
    """
    holder = folium.Map(tiles=None)
    script = sf._get_feature_group_string(group, map=holder, idx=idx)
    published: tuple[tuple[str, bytes], ...] = ()
    if reuse:
        script, published = _reusable(script, group.get_name())
    js, css = _links([group])
    return RenderedGroup(script=script, js_links=tuple(js), css_links=tuple(css),
                         control_name=str(group.layer_name) if group.control else None,
                         var=group.get_name(), published=published)


# Rendered groups of every session, by content: a pan or a filter that leaves a layer as it was
# reuses that layer's script instead of building and rendering it again (the runway candidates
# with their popups take ~0.2 s). Keys name the content (see render_groups).
_RENDERED: OrderedDict[Hashable, RenderedGroup] = OrderedDict()
_RENDERED_MAX = 64
#: Overlay groups whose script must run every time it is sent (not kept by the page).
_RUN_EACH_TIME = frozenset({"url"})
_LOCK = threading.Lock()


def render_groups(parts: Sequence[OverlayPart],
                  content: Mapping[str, Hashable]) -> list[RenderedGroup]:
    """Render the overlay ``parts``, reusing what was rendered before for the same content.

    Parameters
    ----------
    parts
        ``layers.map.overlay_parts``, in drawing order.
    content
        For each part's key, a value that changes whenever that group's content would (the
        rows it shows, the language, the display mode...). Two calls with equal values get
        the same script.
    """
    out = []
    for idx, part in enumerate(parts):
        key = (part.key, idx, content[part.key])
        with _LOCK:
            found = _RENDERED.get(key)
            if found is not None:
                _RENDERED.move_to_end(key)
        if found is None:
            found = render_group(part.build(), idx, reuse=part.key not in _RUN_EACH_TIME)
            with _LOCK:
                _RENDERED[key] = found
                while len(_RENDERED) > _RENDERED_MAX:
                    _RENDERED.popitem(last=False)
        out.append(found)
    return out


def _layer_control(control: folium.LayerControl, base: RenderedBase,
                   groups: Sequence[RenderedGroup]) -> str:
    """Render the layer control over the base layers and the overlay groups."""
    holder = folium.Map(tiles=None)
    holder._id = "div"  # its variable is then ``map_div``, the component's map
    control._id = "layer_control"
    control._parent = holder
    control.reset()
    for name, var, overlay in base.controls:
        (control.overlays if overlay else control.base_layers)[name] = var
    for group in groups:
        if group.control_name is not None:
            control.overlays[group.control_name] = group.var
    script = control._template.module.script(control, {})
    return f"{script}\nwindow.layer_control = {control.get_name()};\n"


def show_map(base: RenderedBase, groups: Sequence[RenderedGroup],
             control: folium.LayerControl, *, key: str, height: int,
             returned_objects: Sequence[str], center: list[float] | None = None,
             zoom: float | None = None,
             on_change: Callable[[], None] | None = None) -> dict[str, Any]:
    """Show the map: the rendered base, ``groups`` swapped in live; return what it reports.

    Parameters
    ----------
    base
        :func:`render_base` of the base map, rendered with the same ``key``.
    groups
        Rendered overlay groups (:func:`render_groups`); streamlit-folium replaces the
        previous ones with these (and does nothing when their scripts are unchanged).
    control
        The layer control, listing the base layers and the groups.
    key
        Session-state key where the map's last report is kept.
    height
        Map height in pixels (full container width).
    returned_objects
        What the map reports back (a change of any of them reruns the script).
    center, zoom
        Move the live map there (``[lat, lon]``), when they differ from the last ones sent.
    """
    files = [*base.published, *(p for g in groups for p in g.published)]
    for digest, blob in files:
        _published_url(digest, blob)  # a file pruned since it was rendered is written again
    js = [link for g in groups for link in g.js_links]
    css = [link for g in groups for link in g.css_links]
    feature_groups = _late_assets([u for u in dict.fromkeys(js) if u not in base.js_links],
                                  [u for u in dict.fromkeys(css) if u not in base.css_links])
    feature_groups += "".join(g.script for g in groups)
    hash_key = base.hash_key

    def _on_change() -> None:
        st.session_state[key] = st.session_state.get(hash_key, {})
        if on_change is not None:
            on_change()

    defaults = dict.fromkeys(returned_objects)
    value = sf._component_func(
        script=base.script, header=base.header, html=base.html, id=base.map_id,
        key=hash_key, height=height, width=None, returned_objects=list(returned_objects),
        default=defaults, zoom=zoom, center=center, feature_group=feature_groups,
        return_on_hover=False, layer_control=_layer_control(control, base, groups),
        pixelated=False, css_links=list(dict.fromkeys([*base.css_links, *css])),
        js_links=list(dict.fromkeys([*base.js_links, *js])), on_change=_on_change,
        wrap_longitude=False,
    )
    return dict(value or {})


@dataclass(frozen=True)
class MoveKeys:
    """Session-state keys of one map's moves asked from Python (:func:`ask_move`)."""

    move: str  # (lat, lon, zoom, n): the latest move asked
    count: str  # n of the latest move asked
    sent: str  # n of the latest move handed to the map


def ask_move(keys: MoveKeys, lat: float, lon: float, zoom: float) -> None:
    """Ask the live map to move to (lat, lon) in degrees, EPSG:4326, at ``zoom``, once.

    The move is handed to the map by :func:`take_move` on the next run that shows it.
    """
    ss = st.session_state
    n = int(ss.get(keys.count, 0)) + 1
    ss[keys.count] = n
    ss[keys.move] = (lat, lon, zoom, n)


def take_move(keys: MoveKeys) -> tuple[list[float] | None, float | None]:
    """Return a move not yet handed to the map as :func:`show_map`'s ``center`` and ``zoom``.

    streamlit-folium moves the map only when ``center`` or ``zoom`` differ from the last ones
    it applied; a move asked twice to the same place (after panning away) must still move, so
    a vanishing offset (1e-9 degree, 1e-6 zoom level: nothing Leaflet shows) tells them apart.
    A move is handed over once: a map rebuilt later opens at the reader's own view.
    """
    ss = st.session_state
    move = ss.get(keys.move)
    if move is None or ss.get(keys.sent) == move[3]:
        return None, None
    lat, lon, zoom, n = move
    ss[keys.sent] = n
    return [lat + 1e-9 * (n % 100), lon], zoom + 1e-6 * (n % 100)
