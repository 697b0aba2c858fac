"""The imagery page: the scenes of the catalogue on the map, compared across dates.

The scene list comes from the store's catalogue when it holds scenes (registered by the scene
import, :mod:`geo.store.scenes`), else from the data folder's ``scenes.geojson``; it follows
the dates and the map view. The chosen scene is drawn for the map's
current view only, at screen resolution (:func:`geo.display.render_view`): every pan or zoom
reports the view (``st_folium``'s bounds and zoom), the page renders that view and swaps the
image layer (``feature_group_to_add``) without rebuilding the map. The PNG is published under
``static/data`` and fetched by URL, never inlined in Streamlit's messages. Compare mode shows
a second date under a side-by-side swipe; a click reads the pixel's band values and indices;
chips show the clicked spot at every date with one shared stretch (:mod:`geo.imagechips`).
"""

from __future__ import annotations

import math
import os
from datetime import date
from pathlib import Path
from typing import Any, cast

import folium
import geopandas as gpd
import pandas as pd
import shapely
import streamlit as st

from geo.display import (
    apart,
    available_combos,
    filter_scenes,
    fit_zoom,
    pixel_values,
    render_view,
    view_bounds,
    view_size_px,
)
from geo.errors import AtalayaError
from geo.i18n import Translator
from geo.i18n import localize as localize_text
from geo.imagechips import ChipParams, SceneRef, cut_chips, scene_refs
from geo.imagery import read_scene_info
from geo.store.engine import default_url
from geo.store.scenes import backfill_scenes, read_scene_catalogue
from geo.world import data_version
from layers.assets import localize
from layers.imagery import (
    INLINE_MAX_BYTES,
    build_imagery_map,
    build_ndvi_legend,
    build_swipe,
    build_view_layer,
)
from ui import state
from ui.cache import get_settings, load_world, open_store_cached, publish_static
from ui.labels import band_names
from ui.mapview import (
    MoveKeys,
    RenderedBase,
    ask_move,
    render_base,
    render_group,
    show_map,
    take_move,
)
from ui.sidebar import current_translator, relabelled
from ui.text import shown

__all__ = ["render_imagery"]

MAP_HEIGHT_PX = 560
_GUESS_WIDTH_PX = 1000  # until the map reports its size (first run)
#: Where the page keeps the moves asked by "Back to the scene".
_MOVES = MoveKeys(state.IMAGERY_MOVE, state.IMAGERY_MOVES, state.IMAGERY_MOVE_SENT)
_SPOT_M = 30.0  # side of the square marked on the chips around a clicked spot


def _combo_names(t: Translator) -> dict[str, str]:
    return {"true_colour": t("True colour"),
            "false_colour": t("False colour (near infrared)"),
            "swir": t("SWIR (SWIR1, near infrared, red)"),
            "ndvi": t("NDVI (vegetation)")}


@st.cache_data(show_spinner=False, max_entries=64)
def _view_png(path: str, version: tuple[int, int], bounds: tuple[float, ...], width: int,
              height: int, combo: str, stretch: tuple[float, float]
              ) -> tuple[bytes | None, tuple[float, ...], tuple[tuple[float, str], ...]]:
    """WebP of a view (None when the view misses the scene); keyed on the file's version.

    WebP rather than PNG: about 20x smaller and 4x faster to encode for a noisy scene; the
    pixel inspector reads values from the file, never from the picture.
    """
    view = render_view(path, bounds, width, height, combo, stretch)
    if view.is_empty:
        return None, view.bounds_lonlat, view.legend
    return view.to_webp(), view.bounds_lonlat, view.legend


def _version(path: Path) -> tuple[int, int]:
    st_ = os.stat(path)
    return st_.st_mtime_ns, st_.st_size


def _image_layer(ref: SceneRef, view: tuple[tuple[float, ...], int, int, float], combo: str,
                 stretch: tuple[float, float], *, name: str
                 ) -> tuple[folium.raster_layers.ImageOverlay | None, tuple[Any, ...]]:
    """Build the scene's image layer for the view (None when it misses it), and its legend."""
    bounds, width, height, _ = view
    png, img_bounds, legend = _view_png(str(ref.path), _version(ref.path), bounds, width,
                                        height, combo, stretch)
    if png is None:
        return None, legend
    # Inline up to 256 kB: a view's WebP (40-100 kB on a noisy 10 m scene at full resolution)
    # then arrives with the run's message; a published file cost another request, about
    # 0.25 s more from the pan to the image on screen at zoom 14 (bench_imagery_app).
    if len(png) <= INLINE_MAX_BYTES:
        return build_view_layer(img_bounds, name=name, png=png, mime="image/webp"), legend
    url = publish_static(png)
    return build_view_layer(img_bounds, name=name, url=url), legend


def _reported_view(out: Any) -> tuple[tuple[float, float, float, float], float] | None:
    """(bounds, zoom) from what ``st_folium`` returned, or None when it holds no view."""
    if not isinstance(out, dict):
        return None
    b = out.get("bounds") or {}
    sw, ne, zoom = b.get("_southWest"), b.get("_northEast"), out.get("zoom")
    if not (sw and ne and zoom is not None and sw.get("lng") is not None):
        return None
    bounds = (float(sw["lng"]), float(sw["lat"]), float(ne["lng"]), float(ne["lat"]))
    if not all(math.isfinite(v) for v in bounds) or bounds[0] >= bounds[2]:
        return None
    return bounds, float(zoom)


def _current_view(ref: SceneRef) -> tuple[tuple[float, ...], int, int, float]:
    """(bounds, width px, height px, zoom) of the map now, else a view fitted to the scene.

    The map's last report is read at the start of the run (streamlit-folium keeps it under
    the component's key), so a pan is drawn by the run it triggers, not by one more rerun.
    """
    saved = st.session_state.get(state.IMAGERY_VIEW)
    if saved and saved[0] == ref.scene_id:
        reported = _reported_view(st.session_state.get(state.IMAGERY_MAP))
        bounds, zoom = reported if reported else (tuple(saved[1]), float(saved[2]))
        width, height = view_size_px(bounds, zoom)
        if 0 < width <= 4096 and 0 < height <= 4096:
            return bounds, width, height, zoom
    fp = ref.footprint.bounds
    zoom = fit_zoom(fp, _GUESS_WIDTH_PX, MAP_HEIGHT_PX)
    centre = ((fp[0] + fp[2]) / 2, (fp[1] + fp[3]) / 2)
    return view_bounds(centre, zoom, _GUESS_WIDTH_PX, MAP_HEIGHT_PX), _GUESS_WIDTH_PX, \
        MAP_HEIGHT_PX, zoom


def _back_to(ref: SceneRef) -> None:
    """Ask the map to fit the scene on the next run (button callback)."""
    fp = ref.footprint.bounds
    ask_move(_MOVES, (fp[1] + fp[3]) / 2, (fp[0] + fp[2]) / 2,
             fit_zoom(fp, _GUESS_WIDTH_PX, MAP_HEIGHT_PX))


def _remember_view(ref: SceneRef, out: dict[str, Any] | None,
                   shown: tuple[tuple[float, ...], int, int, float]) -> None:
    """Keep the view the map reports; rerun when it is not the one the image was made for."""
    reported = _reported_view(out)
    if reported is None:
        return
    bounds, zoom = reported
    st.session_state[state.IMAGERY_VIEW] = (ref.scene_id, bounds, zoom)
    if any(abs(a - b) > 1e-9 for a, b in zip(bounds, shown[0], strict=True)) or \
            zoom != shown[3]:
        st.rerun(scope="fragment")


def _scene_table(scenes: list[SceneRef], t: Translator) -> None:
    rows, names = [], band_names(t)
    for s in scenes:
        try:
            info = read_scene_info(s.path, values=False)
            res = f"{info.res_m:g}"
            bands = ", ".join(names.get(r, r) for r, _ in info.roles.pairs)
        except AtalayaError as err:  # say why in the row (a table cell is shown as typed)
            # text, not a number: the grid shows a missing number as "None" (a Styler's
            # na_rep is not applied to it in the browser)
            res, bands = "—", t("not readable: {reason}").format(
                reason=localize_text(err, t))
        rows.append({t("Scene"): s.scene_id, t("Date"): s.acquired_at.strftime("%Y-%m-%d"),
                     t("Sensor"): s.sensor, t("Resolution (m)"): res, t("Bands"): bands})
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def _choose(scenes: list[SceneRef], t: Translator) -> tuple[SceneRef, str, tuple[float, float],
                                                            SceneRef | None]:
    """Scene, band combination, stretch percentiles and (compare mode) the second date."""
    ids = [s.scene_id for s in scenes]
    by_id = {s.scene_id: s for s in scenes}
    label = {s.scene_id: f"{s.acquired_at:%Y-%m-%d} · {s.scene_id}" for s in scenes}
    c1, c2 = st.columns([2, 3])
    scene = by_id[c1.selectbox(t("Scene"), ids, format_func=label.__getitem__,
                               key=relabelled(state.IMAGERY_SCENE))]
    names = _combo_names(t)
    combos = available_combos(read_scene_info(scene.path, values=False))
    combo = c2.radio(t("Bands"), combos, format_func=names.__getitem__, horizontal=True,
                     key=relabelled(state.IMAGERY_COMBO))
    picked = st.slider(t("Contrast stretch (percentiles)"), 0.0, 100.0, (2.0, 98.0), 0.5,
                       key=state.IMAGERY_STRETCH, disabled=combo == "ndvi")
    low, high = apart(*picked)
    if (low, high) != tuple(picked) and combo != "ndvi":  # both ends on one value
        st.caption(t("The two ends of the stretch met: the image is stretched from the "
                     "{low} to the {high} percentile.").format(low=t.number(low),
                                                            high=t.number(high)))
    others = [s for s in scenes if s.scene_id != scene.scene_id
              and s.footprint.intersects(scene.footprint)]
    # The same widgets on every run, compare on or off: an element inserted above the map
    # moves it in the page, and Streamlit then mounts streamlit-folium's frame anew, which
    # stays blank (streamlit-folium 0.27).
    c1, c2 = st.columns([1, 2])
    compare = c1.toggle(t("Compare two dates (swipe)"), key=state.IMAGERY_COMPARE,
                        disabled=not others)
    pick = c2.selectbox(t("Second date"), [s.scene_id for s in others],
                        format_func=label.__getitem__, key=relabelled(state.IMAGERY_OTHER),
                        disabled=not (compare and others), label_visibility="collapsed")
    other = by_id[pick] if compare and pick in by_id else None
    return scene, str(combo or "true_colour"), (float(low), float(high)), other


def _inspector(refs: list[SceneRef], click: dict[str, Any] | None, t: Translator) -> None:
    """Band values at the clicked point in each scene shown (both dates under a swipe).

    Under a swipe the click may fall on either side of the divider, which only the browser
    knows: each date gets its row, named by its scene, rather than one row of a guessed date.
    """
    if not click or click.get("lat") is None:
        st.caption(t("Click the image to read its band values at that point."))
        return
    lon, lat = float(click["lng"]), float(click["lat"])
    rows = []
    for ref in refs:
        try:
            values = pixel_values(ref.path, lon, lat)
        except AtalayaError as err:
            st.warning(shown(err, t))
            continue
        heads = {"col": t("Column"), "row": t("Row"), "x_m": t("X (m)"), "y_m": t("Y (m)"),
                 "crs": "CRS", "valid": t("Valid"), **band_names(t), "ndvi": "NDVI"}
        rows.append({t("Scene"): ref.scene_id, t("Date"): f"{ref.acquired_at:%Y-%m-%d}",
                     **{heads.get(k, k): ("" if v is None else v) for k, v in values.items()}})
    if not rows:
        return
    # latitude first and named, as on the alert pages and in the "go to" box
    st.text(t("Pixel at latitude {lat}, longitude {lon} in {scene}").format(
        lon=f"{lon:.6f}", lat=f"{lat:.6f}", scene=", ".join(r[t("Scene")] for r in rows)))
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    st.caption(t("Band values as stored in the scene file: digital numbers, not reflectance "
                 "(the sample scenes store reflectance × 10,000). Indices run from -1 to 1."))


@st.cache_data(show_spinner=False, max_entries=16)
def _chips(lon: float, lat: float, key: tuple[tuple[str, str, str], ...],
           _scenes: list[SceneRef]) -> list[tuple[str, str, bytes]]:
    """(date, scene id, true-colour PNG) of a small square around the point, every date."""
    half = _SPOT_M / 2 / 111_320
    spot = shapely.box(lon - half / max(math.cos(math.radians(lat)), 0.1), lat - half,
                       lon + half / max(math.cos(math.radians(lat)), 0.1), lat + half)
    found = cut_chips(spot, _scenes, params=ChipParams(size_px=192))
    return [(c.acquired_at.strftime("%Y-%m-%d"), c.scene_id, c.png) for c in found.chips
            if c.composite == "true_colour"]


def _chip_strip(scenes: list[SceneRef], click: dict[str, Any] | None, t: Translator) -> None:
    if not click or click.get("lat") is None:
        return
    if not st.checkbox(t("Show this spot at every date"), key=state.IMAGERY_CHIPS):
        return
    key = tuple((s.scene_id, str(s.path), repr(_version(s.path))) for s in scenes)
    try:
        chips = _chips(round(float(click["lng"]), 6), round(float(click["lat"]), 6), key,
                       scenes)
    except AtalayaError as err:
        st.warning(shown(err, t))
        return
    if not chips:
        st.caption(t("No scene covers this spot."))
        return
    st.caption(t("Same colour stretch for every date: a change in brightness is a change "
                 "on the ground."))
    for col, (day, scene, png) in zip(st.columns(min(len(chips), 6)), chips, strict=False):
        col.image(png, caption=f"{day} · {scene}", width=192)


@st.cache_resource(show_spinner=False, max_entries=4)
def _registered(url: str, data_dir: str, version_key: str) -> int:
    """Register the data folder's scenes in the store, once per data version (idempotent).

    Scenes stored by an import that had no store at hand (the command line) join the
    catalogue here; files are hashed once per new version of ``scenes.geojson``.
    """
    result = backfill_scenes(open_store_cached(url), data_dir, by="data folder")
    return len(result.added) + len(result.updated)


def _catalogue(layer_file: gpd.GeoDataFrame, data_dir: Path, t: Translator
               ) -> gpd.GeoDataFrame:
    """Return the store's scene catalogue when it has rows, else the data folder's file."""
    url = default_url()
    try:
        _registered(url, str(data_dir), repr(data_version(data_dir)))
        stored = read_scene_catalogue(open_store_cached(url))
    except AtalayaError as err:  # said, and the page still works from the layer file
        st.warning(shown(err, t))
        return layer_file
    return stored if len(stored) else layer_file


def _date_range(refs: list[SceneRef], t: Translator) -> tuple[date | None, date | None]:
    days = [r.acquired_at.date() for r in refs]
    picked = st.date_input(t("Acquired between"), (min(days), max(days)),
                           key=state.IMAGERY_DATES, format="YYYY-MM-DD")  # as dates elsewhere
    if isinstance(picked, tuple | list) and len(picked) == 2:
        return picked[0], picked[1]
    return None, None


def render_imagery() -> None:
    """Show the imagery page: scene list, the scene on the map, swipe, inspector, chips."""
    t = current_translator()
    settings = get_settings()
    st.header(t("Imagery"))
    try:
        world = load_world(settings.data_dir)
        refs = scene_refs(_catalogue(world["scenes"], settings.data_dir, t), settings.data_dir)
    except AtalayaError as err:
        st.error(shown(err, t))
        return
    if not refs:
        st.info(t("The imagery catalogue is empty."))
        return
    start, end = _date_range(refs, t)
    saved = st.session_state.get(state.IMAGERY_VIEW)
    in_view = st.checkbox(t("Only scenes in the map view"), value=True,
                          key=state.IMAGERY_IN_VIEW)
    listed = filter_scenes(refs, start=start, end=end,
                           bounds_lonlat=saved[1] if in_view and saved else None)
    if not listed:
        st.info(t("No scene matches these dates and this map view."))
        return
    _scene_table(listed, t)
    try:
        _render_map(listed, t, online=bool(st.session_state.get(state.ONLINE_TILES, False)))
    except AtalayaError as err:
        st.error(t("The image could not be shown."))
        st.code(localize_text(err, t), language=None, wrap_lines=True)


def _render_map(listed: list[SceneRef], t: Translator, *, online: bool) -> None:
    scene, combo, stretch, other = _choose(listed, t)
    _map_and_inspector(listed, scene, combo, stretch, other, t, online=online)


def _base_map(scene: SceneRef, t: Translator, *, online: bool) -> RenderedBase:
    """Render the map without the image, once per scene, language and basemap choice.

    A pan then re-sends only the image group: the component keeps its map and swaps the
    group, instead of being handed a new page each time.
    """
    signature = (scene.scene_id, t.language, online)
    cached = st.session_state.get(state.IMAGERY_BASE)
    if cached is not None and cached[0] == signature:
        return cast(RenderedBase, cached[1])
    fp = scene.footprint.bounds
    m = build_imagery_map(center_lonlat=((fp[0] + fp[2]) / 2, (fp[1] + fp[3]) / 2),
                          zoom=fit_zoom(fp, _GUESS_WIDTH_PX, MAP_HEIGHT_PX),
                          online_tiles=online,
                          labels={"borders": t("Borders"),
                                  "footprints": t("Imagery footprints"),
                                  "zoom_in": t("Zoom in"), "zoom_out": t("Zoom out")})
    # No layer control here: show_map adds the one that lists the base layers and the image.
    base = render_base(localize(m, base_url="/app/static/vendor"), key=state.IMAGERY_MAP)
    st.session_state[state.IMAGERY_BASE] = (signature, base)
    return base


@st.fragment
def _map_and_inspector(listed: list[SceneRef], scene: SceneRef, combo: str,
                       stretch: tuple[float, float], other: SceneRef | None, t: Translator,
                       *, online: bool) -> None:
    """Show the map with the view's image, the pixel inspector and the chips (a fragment).

    A pan or a click reruns only this: the view is rendered for the reported bounds and
    swapped in as the map's one overlay group.
    """
    view = _current_view(scene)
    base = _base_map(scene, t, online=online)
    note = st.empty()  # always there: the map keeps its place in the page (see _choose)
    group = folium.FeatureGroup(name=t("Image"), control=False)
    first, legend = _image_layer(scene, view, combo, stretch,
                                 name=f"{scene.acquired_at:%Y-%m-%d}")
    if first is not None:
        first.add_to(group)
    if other is not None and first is not None:
        second, _ = _image_layer(other, view, combo, stretch,
                                 name=f"{other.acquired_at:%Y-%m-%d}")
        if second is not None:
            second.add_to(group)
            build_swipe(group, first, second)
            note.caption(t("Left: {a}. Right: {b}. Drag the handle to compare.").format(
                a=f"{scene.acquired_at:%Y-%m-%d}", b=f"{other.acquired_at:%Y-%m-%d}"))
    if first is None:  # panned off the scene: an empty map said so, with the way back
        with note.container():
            st.caption(t("The scene {scene} is outside the map's view.").format(
                scene=scene.scene_id))
            st.button(t("Back to the scene"), key=state.IMAGERY_BACK, on_click=_back_to,
                      args=(scene,), icon=":material/center_focus_strong:")
    if legend:
        build_ndvi_legend(legend, title=t("NDVI")).add_to(group)
    localize(group, base_url="/app/static/vendor")
    center, zoom = take_move(_MOVES)
    out = show_map(base, [render_group(group, 0)], folium.LayerControl(collapsed=True),
                   key=state.IMAGERY_MAP, height=MAP_HEIGHT_PX,
                   returned_objects=["bounds", "zoom", "last_clicked"],
                   center=center, zoom=zoom)
    _remember_view(scene, out, view)
    _inspector([scene] if other is None else [scene, other], (out or {}).get("last_clicked"), t)
    _chip_strip(listed, (out or {}).get("last_clicked"), t)
