"""Risk analysis: risk per cell and per runway candidate, hot spots, trends, corridors, news.

Flow of one run: the explorer's filters (sidebar, shared with the map explorer) give the events
and the time window; the analysis controls (sidebar) give the grid, the significance level and
the weights. Everything heavy is computed by :mod:`geo.risk` and cached for every session,
keyed on the data version, the filters (scoped by the role's location precision) and the
parameters; the weights only re-score cached inputs, which is quick. The map's base (basemap,
aerodromes, line tool) is rendered once per session and the analysis layers are swapped in
(``ui.mapview``), each rendered once per content.

Below the map: the highest-risk cells and candidates, the corridor query (a route or a drawn
line, a buffer, the filters' time window) with its snapshot export, and what changed in a
saved area since the analyst's last visit (kept in ``analysis_visits.json`` in the data folder).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import streamlit as st
from shapely.geometry.base import BaseGeometry

from geo.aggregate import cell_polygons
from geo.areas import read_areas
from geo.atomicfile import write_atomic
from geo.auth import Action
from geo.countries import locate_countries, read_country_borders
from geo.display import fit_zoom
from geo.errors import AtalayaError
from geo.export import SnapshotSpec, save_snapshot
from geo.filters import Filters
from geo.i18n import Translator, localize, message_of
from geo.risk import (
    CellGrid,
    RiskWeights,
    candidate_proximity,
    compute_cell_risk,
    compute_hotspots,
    corridor_query,
    grid_for_zoom,
    kernel_density,
    land_borders,
    nearest_line_km,
    score_candidates,
    score_cells,
    what_changed,
)
from geo.risk.neighbours import LandTest
from geo.risk.wording import localize_explanation
from geo.world import World, data_version
from ui import state
from ui.auth import allowed, current_session, location_cell_deg
from ui.cache import _key as scope_key
from ui.cache import filtered_world, get_settings, page_world
from ui.export import role_refusal
from ui.filters import data_months, render_filters
from ui.history import table_times, utc_minutes_column
from ui.labels import map_labels
from ui.mapview import render_base, render_groups, show_map
from ui.sidebar import current_translator, relabelled
from ui.text import shown

__all__ = ["VISITS_FILE", "read_visits", "render_analysis", "write_visit"]

#: Last visit of each user to each saved area: {user: {area_id: ISO time}}.
VISITS_FILE = "analysis_visits.json"
H3_LEVELS = (1, 2, 3, 4, 5)
SQUARE_SIZES = (4.0, 2.0, 1.0, 0.5, 0.25)
ALPHAS = (0.01, 0.05, 0.1)
#: Cold spots drawn at most (the study area's empty background can be mostly cold).
MAX_COLD = 3000
#: Kernel density points sent to the heat layer at most.
MAX_HEAT_POINTS = 20_000
TABLE_ROWS = 200
DEFAULT_ZOOM = 4


def _factor_names(t: Translator) -> dict[str, str]:
    return {"events": t("Events in the window"), "quantity": t("Kilograms seized"),
            "seizure": t("Recent seizure nearby"), "candidate": t("Runway candidates nearby"),
            "border": t("Near a land border"), "river": t("Near a river"),
            "route": t("Near a known route"), "aerodrome": t("Far from registered aerodromes"),
            "detection": t("Detection score"), "hotspot": t("Hot spot (Gi* z-score)"),
            "trend": t("Emerging hot spot")}


def render_analysis() -> None:
    """Show the risk analysis page."""
    settings = get_settings()
    t = current_translator()
    st.title(t("Risk analysis"))
    world = page_world(settings.data_dir, t)
    if world is None:
        return
    # The explorer's own filters, without its area of interest (the whole region is studied).
    filters = replace(render_filters(world, t), aoi=None)
    params = _render_controls(t)
    weights = _weights(t)
    if weights is None:
        return
    now, months = _window(world)
    if months <= params["recent"]:
        st.warning(t("Emerging hot spots compare the last months with those before: choose a "
                     "time window longer than the recent period."))
        return
    data_dir = settings.data_dir
    layers = filtered_world(data_dir, filters)
    ctx = _Context(data_dir, world, filters, layers, now, months, params, weights, t)
    map_box = st.container()
    below = st.container()
    with below:
        corridor = render_corridor(ctx)
    with map_box:
        try:
            render_risk_map(ctx, corridor)
        except AtalayaError as err:
            st.error(t("The analysis could not be computed with these settings."))
            st.code(localize(err, t), language=None, wrap_lines=True)
            return
    with below:
        render_what_changed(ctx)


class _Context:
    """What every part of the page reads: data, filters, window, parameters, weights."""

    def __init__(self, data_dir: Path, world: World, filters: Filters,
                 layers: dict[str, gpd.GeoDataFrame], now: datetime, months: int,
                 params: dict[str, Any], weights: RiskWeights, t: Translator) -> None:
        self.data_dir, self.world, self.filters, self.layers = data_dir, world, filters, layers
        self.now, self.months, self.params, self.weights, self.t = now, months, params, \
            weights, t
        self.version = repr(data_version(data_dir))
        self.scope = scope_key(filters)  # the filters, and the role's location precision
        self.labels = map_labels(t)


# -- controls ------------------------------------------------------------------------------------

def _window(world: World) -> tuple[datetime, int]:
    """End of the filters' time window (last instant of its last month) and its months."""
    months = data_months(world)
    value = st.session_state.get(state.MONTHS)
    first, last = value if isinstance(value, tuple | list) else (months[0], months[-1])
    after = date(last.year + last.month // 12, last.month % 12 + 1, 1)
    end = datetime(after.year, after.month, 1, tzinfo=UTC) - timedelta(microseconds=1)
    return end, (last.year - first.year) * 12 + last.month - first.month + 1


def _reset_weights() -> None:
    for name, value in RiskWeights().weights().items():
        st.session_state[f"{state.ANALYSIS_WEIGHT}:{name}"] = float(value)


def _render_controls(t: Translator) -> dict[str, Any]:
    """Grid, significance, trend and density settings, and the weights (sidebar)."""
    ss = st.session_state
    side = st.sidebar
    side.subheader(t("Analysis settings"))
    kinds = {"h3": t("H3 hexagons"), "square": t("Squares")}
    kind = side.radio(t("Cells"), list(kinds), key=relabelled(state.ANALYSIS_GRID_KIND),
                      horizontal=True, format_func=lambda k: kinds[k])
    levels: tuple[Any, ...] = ("zoom", *(H3_LEVELS if kind == "h3" else SQUARE_SIZES))

    def level_name(v: Any) -> str:
        if v == "zoom":
            return t("From the map zoom")
        if kind == "h3":
            return t("H3 resolution {n}").format(n=v)
        return t("{deg}° squares").format(deg=f"{v:g}")

    level = side.selectbox(t("Cell size"), levels, key=relabelled(f"{state.ANALYSIS_LEVEL}:{kind}"),
                           format_func=level_name)
    alpha = side.select_slider(
        t("Significance (false-discovery rate)"), ALPHAS, value=0.05,
        key=relabelled(state.ANALYSIS_ALPHA),
        format_func=lambda a: f"{a:.0%}",
        help=t("Hot and cold spots and trends are tested in every cell at once; the "
               "Benjamini-Hochberg correction keeps the expected share of false findings "
               "among them at this rate."))
    recent = side.slider(t("Recent period (months)"), 1, 6, 3, key=state.ANALYSIS_RECENT,
                         help=t("Emerging hot spots compare these last months of the time "
                                "window with the months before."))
    bandwidth = side.slider(t("Density bandwidth (km)"), 5, 100, 25, step=5,
                            key=state.ANALYSIS_BANDWIDTH)
    with side.expander(t("Risk weights"), icon=":material/tune:"):
        st.caption(t("Only the ratios matter: a factor with twice the weight gives twice the "
                     "points for the same value."))
        defaults = RiskWeights().weights()
        for name, title in _factor_names(t).items():
            key = f"{state.ANALYSIS_WEIGHT}:{name}"
            if key not in ss:
                ss[key] = float(defaults[name])
            st.slider(title, 0.0, 5.0, step=0.5, key=key)
        st.button(t("Reset the weights"), key=state.ANALYSIS_RESET, on_click=_reset_weights,
                  icon=":material/restart_alt:")
    return {"kind": kind, "level": level, "alpha": float(alpha), "recent": int(recent),
            "bandwidth": float(bandwidth)}


def _weights(t: Translator) -> RiskWeights | None:
    """Return the weights of the sidebar sliders (the window is set later), or None when refused."""
    ss = st.session_state
    values = {name: float(ss.get(f"{state.ANALYSIS_WEIGHT}:{name}", value))
              for name, value in RiskWeights().weights().items()}
    try:
        return RiskWeights(**values)  # type: ignore[arg-type]
    except AtalayaError as err:
        st.error(t("These weights cannot be used:") + " " + shown(err, t))
        return None


def _grid(ctx: _Context) -> CellGrid:
    level = ctx.params["level"]
    kind = ctx.params["kind"]
    if level == "zoom":
        reported = (st.session_state.get(state.ANALYSIS_MAP) or {}).get("zoom")
        zoom = float(reported) if isinstance(reported, int | float) else DEFAULT_ZOOM
        grid = grid_for_zoom(zoom, kind=kind)
        # Coarse enough for a region (finer cells come with a closer zoom).
        if kind == "h3":
            return CellGrid("h3", resolution=int(np.clip(grid.resolution, 1, 5)))
        return CellGrid("square", size_deg=float(np.clip(grid.size_deg, 0.25, 4.0)))
    if kind == "h3":
        return CellGrid("h3", resolution=int(level))
    return CellGrid("square", size_deg=float(level))


# -- cached computations ---------------------------------------------------------------------------
# Keys: data folder and version, the filters' scope key (filters + role precision), the
# parameters as plain values. Frames are passed with a leading underscore: never hashed.

@st.cache_resource(show_spinner=False, max_entries=2)
def _borders(version_key: str, bounds: tuple[float, float, float, float]) -> np.ndarray:
    return land_borders(read_country_borders(), bounds=bounds)


def borders_for(ctx: _Context) -> np.ndarray:
    """Land borders around the data (cached per data version; ~0.5 s to work out)."""
    events = ctx.world["events"]
    b = events.total_bounds if len(events) else np.array([-120.0, -60.0, -30.0, 35.0])
    pad = 5.0
    box = (float(b[0]) - pad, float(b[1]) - pad, float(b[2]) + pad, float(b[3]) + pad)
    return _borders(ctx.version, box)


def _bounds(events: gpd.GeoDataFrame,
            candidates: gpd.GeoDataFrame) -> tuple[float, float, float, float] | None:
    boxes = [f.total_bounds for f in (events, candidates) if len(f)]
    arr = np.array(boxes, dtype="float64").reshape(-1, 4)
    arr = arr[np.isfinite(arr).all(axis=1)]
    if not len(arr):
        return None
    return (float(arr[:, 0].min()), float(arr[:, 1].min()), float(arr[:, 2].max()),
            float(arr[:, 3].max()))


def _land() -> LandTest | None:
    """Return the land test of the study area (country borders); None when they are missing.

    Without it, the open sea of the events' bounding box counted as background where
    nothing happened (see :func:`geo.risk.neighbours.study_matrix`).
    """
    from geo.countries import on_land, read_country_borders

    try:
        read_country_borders()
    except AtalayaError:
        return None
    return on_land


@st.cache_resource(show_spinner=False, max_entries=8)
def _cell_inputs(data_dir: str, version_key: str, scope: str, grid: tuple[str, int, float],
                 alpha: float, recent: int, now_iso: str, months: int,
                 _events: gpd.GeoDataFrame, _candidates: gpd.GeoDataFrame,
                 _borders: np.ndarray) -> gpd.GeoDataFrame:
    """Risk inputs of the cells worth drawing (events, candidates or a trend), as polygons."""
    cell_grid = CellGrid(grid[0], resolution=grid[1], size_deg=grid[2])  # type: ignore[arg-type]
    cells = compute_cell_risk(_events, cell_grid, now=datetime.fromisoformat(now_iso),
                              candidates=_candidates, weights=RiskWeights(window_months=months),
                              alpha=alpha, recent_months=recent,
                              bounds=_bounds(_events, _candidates), land=_land())
    keep = (cells["events"] > 0) | (cells["candidates"] > 0) | (cells["label"] != "none")
    cells = cells.loc[keep].drop(columns=["risk_score", "risk_breakdown", "risk_explanation"])
    # Distances to the border only for the cells shown (the study area is mostly empty).
    cells["border_km"] = nearest_line_km(cells["lon"].to_numpy(), cells["lat"].to_numpy(),
                                         _borders)
    return cell_polygons(cells)


@st.cache_resource(show_spinner=False, max_entries=8)
def _hotspots(data_dir: str, version_key: str, scope: str, grid: tuple[str, int, float],
              alpha: float, _events: gpd.GeoDataFrame,
              _candidates: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, int]:
    """Hot and cold spot cells (polygons), and how many cold ones were left out."""
    cell_grid = CellGrid(grid[0], resolution=grid[1], size_deg=grid[2])  # type: ignore[arg-type]
    found = compute_hotspots(_events, cell_grid, alpha=alpha,
                             bounds=_bounds(_events, _candidates), land=_land())
    hot = found[found["hotspot"] == "hot"]
    cold = found[found["hotspot"] == "cold"]
    dropped = max(0, len(cold) - MAX_COLD)
    cold = cold.iloc[np.argsort(cold["z"].to_numpy(), kind="stable")[:MAX_COLD]]
    return cell_polygons(pd.concat([hot, cold])), dropped


@st.cache_resource(show_spinner=False, max_entries=8)
def _density(data_dir: str, version_key: str, scope: str, bandwidth_km: float,
             _events: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kernel density as heat points (lat, lon, weight 0-1), at most MAX_HEAT_POINTS."""
    if len(_events) == 0:
        empty = np.zeros(0)
        return empty, empty, empty
    b = _events.total_bounds
    span_km = max(float(b[2] - b[0]), float(b[3] - b[1])) * 111.0 + 8 * bandwidth_km
    cell_km = max(bandwidth_km / 4.0, span_km / 900.0)  # under a million grid cells
    grid = kernel_density(_events, bandwidth_km=bandwidth_km, cell_km=cell_km)
    d = grid.density
    top = float(d.max()) if d.size else 0.0
    if top <= 0:
        empty = np.zeros(0)
        return empty, empty, empty
    idx = np.flatnonzero(d.ravel() >= 0.02 * top)
    if len(idx) > MAX_HEAT_POINTS:  # the densest points, in grid order
        idx = np.sort(idx[np.argsort(d.ravel()[idx])[-MAX_HEAT_POINTS:]])
    return grid.lat.ravel()[idx], grid.lon.ravel()[idx], np.sqrt(d.ravel()[idx] / top)


@st.cache_resource(show_spinner=False, max_entries=8)
def _proximity(data_dir: str, version_key: str, scope: str, now_iso: str, months: int,
               _candidates: gpd.GeoDataFrame, _events: gpd.GeoDataFrame,
               _routes: gpd.GeoDataFrame, _aerodromes: gpd.GeoDataFrame,
               _borders: np.ndarray) -> pd.DataFrame:
    rivers = _routes[_routes["mode"].astype(str) == "river"] if "mode" in _routes else None
    return candidate_proximity(_candidates, now=datetime.fromisoformat(now_iso),
                               events=_events, routes=_routes, aerodromes=_aerodromes,
                               rivers=rivers if rivers is not None and len(rivers) else None,
                               borders=_borders, seizure_months=months)


def _grid_key(grid: CellGrid) -> tuple[str, int, float]:
    return (grid.kind, grid.resolution, grid.size_deg)


def scored_cells(ctx: _Context, grid: CellGrid) -> gpd.GeoDataFrame:
    """Return the cells to draw with their risk score and breakdown for the current weights."""
    inputs = _cell_inputs(str(ctx.data_dir), ctx.version, ctx.scope, _grid_key(grid),
                          ctx.params["alpha"], ctx.params["recent"], ctx.now.isoformat(),
                          ctx.months, ctx.layers["events"], ctx.layers["candidates"],
                          borders_for(ctx))
    weights = replace(ctx.weights, window_months=ctx.months)
    return inputs.join(score_cells(inputs, weights=weights))


def scored_candidates(ctx: _Context) -> gpd.GeoDataFrame:
    """Return the filtered runway candidates with their risk score and breakdown."""
    cands = ctx.layers["candidates"]
    if len(cands) == 0:
        return cands.assign(risk_score=[], risk_explanation=[])
    prox = _proximity(str(ctx.data_dir), ctx.version, ctx.scope, ctx.now.isoformat(),
                      ctx.months, cands, ctx.layers["events"], ctx.layers["routes"],
                      ctx.world["aerodromes"], borders_for(ctx))
    weights = replace(ctx.weights, window_months=ctx.months)
    scores = score_candidates(cands, prox, events=ctx.layers["events"], now=ctx.now,
                              weights=weights)
    return cands.join(scores[["risk_score", "risk_explanation"]])


@functools.lru_cache(maxsize=65_536)
def _explanation(text: str, language: str) -> str:
    t = Translator(language)
    return localize_explanation(text, t, t.number)


def explained(frame: gpd.GeoDataFrame, t: Translator) -> gpd.GeoDataFrame:
    """Return ``frame`` with its ``risk_explanation`` in ``t``'s language (scored in English)."""
    if t.language == "en" or "risk_explanation" not in frame.columns or not len(frame):
        return frame
    return frame.assign(risk_explanation=[_explanation(x, t.language) for x in
                                          frame["risk_explanation"].astype(str)])


# -- map -------------------------------------------------------------------------------------------

def _weights_key(weights: RiskWeights) -> tuple[tuple[str, float], ...]:
    return tuple(sorted(weights.weights().items()))


def render_risk_map(ctx: _Context, corridor: dict[str, Any] | None) -> None:
    """Show the analysis map (layers swapped into a base rendered once), then the top tables."""
    from layers.legend import build_legend
    from layers.map import OverlayPart, build_layer_control, overlay_group
    from layers.risk import (
        build_analysis_base_map,
        build_corridor_layer,
        build_emerging_layer,
        build_hotspot_layer,
        build_risk_candidates_layer,
        build_risk_cells_layer,
        build_risk_density_layer,
        risk_legend,
    )

    t, ss = ctx.t, st.session_state
    grid = _grid(ctx)
    with st.spinner(t("Computing the analysis…")):
        cells = scored_cells(ctx, grid)
        hotspots, dropped = _hotspots(str(ctx.data_dir), ctx.version, ctx.scope,
                                      _grid_key(grid), ctx.params["alpha"],
                                      ctx.layers["events"], ctx.layers["candidates"])
        heat = _density(str(ctx.data_dir), ctx.version, ctx.scope, ctx.params["bandwidth"],
                        ctx.layers["events"])
        candidates = scored_candidates(ctx)
    cells, candidates = explained(cells, t), explained(candidates, t)
    emerging = cells[cells["label"] != "none"]
    names = _layer_labels(t)
    alpha_text = f"{ctx.params['alpha']:.0%}"
    hot_title = t("Hot/cold spots: Gi*, FDR ≤ {alpha} (Benjamini-Hochberg)").format(
        alpha=alpha_text)
    # One legend, always shown (with the risk layer): the classes of every layer, and the test
    # behind the hot and cold spots with its significance level and correction.
    legend = build_legend(risk_legend(risk_title=t("Risk score"), hotspot_title=hot_title,
                                      emerging_title=t("Emerging hot spots"), labels=names),
                          title=t("Legend"))

    def part(key: str, name: str, make: Callable[[], Any], extra: Any = None,
             show: bool = True) -> OverlayPart:
        """Return the overlay ``key``: a group named ``name`` around the layer ``make`` builds."""
        def build() -> Any:
            from layers.assets import localize

            children = (make(),) if extra is None else (make(), extra)
            # (its key lets the legend hide the section of a group that is off)
            return localize(overlay_group(key, name, *children, show=show),
                            base_url="/app/static/vendor")
        return OverlayPart(key, build)

    score_titles = {"candidate_id": "ID", "state": names["state"],
                    "risk_score": t("Risk score"), "risk_explanation": t("Why")}
    parts = [
        part("density", t("Event density (kernel)"),
             lambda: build_risk_density_layer(*heat, name=""), show=False),
        part("hotspots", t("Hot and cold spots"),
             lambda: build_hotspot_layer(hotspots, name="", labels=names), show=False),
        part("emerging", t("Emerging hot spots"),
             lambda: build_emerging_layer(emerging, name="", labels=names), show=False),
        part("cells", t("Risk per cell"),
             lambda: build_risk_cells_layer(cells, name="", score_title=t("Risk score"),
                                            breakdown_title=t("Why"),
                                            events_title=t("Events")), legend),
        part("candidates", t("Runway candidates by risk"),
             lambda: build_risk_candidates_layer(candidates, name="", titles=score_titles,
                                                 labels=ctx.labels)),
    ]
    if corridor is not None:
        parts.append(part("corridor", t("Corridor"), lambda: build_corridor_layer(
            corridor["outline"], corridor["line"], name="")))
    common = (t.language, ctx.version, ctx.scope)
    where = (*common, _grid_key(grid), ctx.params["alpha"], ctx.params["recent"], ctx.months)
    content = {"density": (*common, ctx.params["bandwidth"]),
               "hotspots": (*common, _grid_key(grid), ctx.params["alpha"]),
               "emerging": where,
               "cells": (*where, _weights_key(ctx.weights), hot_title),
               "candidates": (*common, ctx.months, _weights_key(ctx.weights)),
               "corridor": (*common, None if corridor is None else corridor["key"])}
    online = bool(ss.get(state.ONLINE_TILES, False))
    signature = (t.language, online, ctx.version)
    cached = ss.get(state.ANALYSIS_BASE)
    if cached is None or cached[0] != signature:
        location, zoom = opening_view(cells)
        fmap = build_analysis_base_map(aerodromes=ctx.world["aerodromes"], labels=ctx.labels,
                                       online_tiles=online, location=location, zoom=zoom)
        cached = (signature, render_base(fmap, key=state.ANALYSIS_MAP))
        ss[state.ANALYSIS_BASE] = cached
    overlays = render_groups(parts, content)
    st.caption(_grid_caption(ctx, grid, len(cells), dropped))
    center, zoom_to = _corridor_move(corridor)
    out = show_map(cached[1], overlays, build_layer_control(), key=state.ANALYSIS_MAP,
                   height=600, returned_objects=["zoom", "last_active_drawing"],
                   center=center, zoom=zoom_to)
    _take_drawing(out.get("last_active_drawing"))
    render_top_tables(cells, candidates, t)


def _grid_caption(ctx: _Context, grid: CellGrid, shown: int, dropped: int) -> str:
    t = ctx.t
    size = (t("H3 resolution {n}").format(n=grid.resolution) if grid.kind == "h3"
            else t("{deg}° squares").format(deg=f"{grid.size_deg:g}"))
    text = t("{size}; {cells} cells with events, runway candidates or a trend; {months} months "
             "up to {end}. Layers: top right.").format(
        size=size, cells=t.number(shown), months=t.number(ctx.months),
        end=ctx.now.strftime("%Y-%m"))
    if dropped:
        text += " " + t("{n} more cold spots are not drawn.").format(n=t.number(dropped))
    return text


def _layer_labels(t: Translator) -> dict[str, str]:
    return {**map_labels(t), "hot": t("Hot spot"), "cold": t("Cold spot"),
            "hotspot": t("Class"), "z": "Gi* z", "q": t("q-value (FDR)"),
            "label": t("Trend"), "trend_z": t("Mann-Kendall z"),
            "new": t.ctx("emerging hot spot", "New"),  # a hot spot: "Novo" in pt, not "Nova"
            "intensifying": t("Intensifying"), "persistent": t("Persistent"),
            "diminishing": t("Diminishing"), "historical": t("Historical")}


def _take_drawing(drawing: Any) -> None:
    """Keep a line just drawn on the map as the corridor's line (rerun to use it)."""
    ss = st.session_state
    geometry = (drawing or {}).get("geometry") if isinstance(drawing, dict) else None
    if not geometry or geometry.get("type") != "LineString":
        return
    if geometry == ss.get(state.ANALYSIS_DRAWN):
        return
    ss[state.ANALYSIS_DRAWN] = geometry
    ss[state.ANALYSIS_LINE_SOURCE] = "drawn"
    st.rerun()


#: Highest-risk cells the map first opens on (their bounds, fitted to a map of
#: :data:`FIT_PX` pixels a side: a phone's map is about 360 px wide, a desktop's 1,000).
OPEN_ON_TOP = 10
FIT_PX = 480
#: Closest zoom the opening view and a corridor's fit go to (a region, not a street).
FIT_MAX_ZOOM = 9


def _fitted(bounds: Sequence[float]) -> tuple[tuple[float, float], int]:
    """((lat, lon) centre, zoom) that shows ``bounds`` (lon0, lat0, lon1, lat1, degrees)."""
    lon0, lat0, lon1, lat1 = (float(v) for v in bounds)
    zoom = min(fit_zoom((lon0, lat0, lon1, lat1), FIT_PX, FIT_PX), FIT_MAX_ZOOM)
    return ((lat0 + lat1) / 2, (lon0 + lon1) / 2), zoom


def opening_view(cells: gpd.GeoDataFrame) -> tuple[tuple[float, float], int]:
    """Where the map opens: around the :data:`OPEN_ON_TOP` highest-risk cells.

    Returns ``((lat, lon), zoom)``; the region's default view when no cell scores.
    """
    scored = cells[cells["risk_score"] > 0] if len(cells) else cells
    if not len(scored):
        return (-12.0, -70.0), DEFAULT_ZOOM
    top = scored.sort_values("risk_score", ascending=False, kind="stable").head(OPEN_ON_TOP)
    return _fitted(top.total_bounds)


def _corridor_move(corridor: dict[str, Any] | None
                   ) -> tuple[list[float] | None, float | None]:
    """``center`` and ``zoom`` that fit a corridor just chosen (once per corridor), else None."""
    ss = st.session_state
    if corridor is None or ss.get(state.ANALYSIS_MOVED) == corridor["key"]:
        return None, None
    ss[state.ANALYSIS_MOVED] = corridor["key"]
    (lat, lon), zoom = _fitted(corridor["outline"].bounds)
    return [lat, lon], zoom


def render_top_tables(cells: gpd.GeoDataFrame, candidates: gpd.GeoDataFrame,
                      t: Translator) -> None:
    """Show the highest-risk cells and candidates, with the breakdown of each score."""
    tabs = st.tabs([t("Highest-risk cells"), t("Highest-risk runway candidates")])
    with tabs[0]:
        top = cells.sort_values("risk_score", ascending=False, kind="stable").head(TABLE_ROWS)
        # named by where they are (the grid's code, meaningless to a reader, comes last)
        where = locate_countries(top["lon"].to_numpy(), top["lat"].to_numpy())
        st.dataframe(pd.DataFrame({
            t("Where"): [t.country(c) if c else t("at sea") for c in where],
            t("Risk score"): top["risk_score"].round(0).to_numpy(),
            t("Why"): top["risk_explanation"].astype(str).to_numpy(),
            t("Latitude"): top["lat"].round(4).to_numpy(),
            t("Longitude"): top["lon"].round(4).to_numpy(),
            t("Cell"): top["cell"].astype(str).to_numpy(),
        }), hide_index=True, height=280, width="stretch", key="analysis_top_cells")
    with tabs[1]:
        top = candidates.sort_values("risk_score", ascending=False, kind="stable").head(
            TABLE_ROWS)
        st.dataframe(pd.DataFrame({
            t("Candidate"): top["candidate_id"].astype(str).to_numpy(),
            t("Risk score"): top["risk_score"].round(0).to_numpy(),
            t("Why"): top["risk_explanation"].astype(str).to_numpy(),
        }), hide_index=True, height=280, width="stretch", key="analysis_top_candidates")


# -- corridor --------------------------------------------------------------------------------------

@st.cache_resource(show_spinner=False, max_entries=16)
def _corridor(data_dir: str, version_key: str, scope: str, line_wkb: bytes, buffer_km: float,
              _line: BaseGeometry, _events: gpd.GeoDataFrame, _candidates: gpd.GeoDataFrame,
              _aerodromes: gpd.GeoDataFrame) -> Any:
    # The layers are already narrowed to the filters' time window.
    return corridor_query(_line, buffer_km=buffer_km, events=_events, candidates=_candidates,
                          aerodromes=_aerodromes)


def _corridor_line(ctx: _Context) -> tuple[BaseGeometry, str] | None:
    """Return the corridor's line (a route's or the one drawn) and its name, or None."""
    ss, t = st.session_state, ctx.t
    routes = ctx.world["routes"]
    sources = {"route": t("A known route"), "drawn": t("A line drawn on the map")}
    cols = st.columns([2, 3, 2])
    source = cols[0].radio(t("Follow"), list(sources), key=relabelled(state.ANALYSIS_LINE_SOURCE),
                           format_func=lambda s: sources[s])
    ids = routes["route_id"].astype(str).tolist()
    names = {r: f"{r} · {o} → {d}" for r, o, d in zip(
        ids, routes["origin"].astype("string").fillna(""),
        routes["destination"].astype("string").fillna(""), strict=True)}
    cols[1].selectbox(t("Route"), ["", *ids], key=relabelled(state.ANALYSIS_ROUTE),
                      format_func=lambda r: names.get(r, t("Choose a route")),
                      disabled=source != "route")
    cols[2].slider(t("Buffer (km)"), 1, 200, 25, key=state.ANALYSIS_BUFFER)
    if source == "drawn":
        drawn = ss.get(state.ANALYSIS_DRAWN)
        if not drawn:
            st.caption(t("Draw a line with the tool on the map's left edge."))
            return None
        return shapely.geometry.shape(drawn), t("Drawn line")
    route = ss.get(state.ANALYSIS_ROUTE)
    if not route:
        return None
    return routes.geometry.iloc[ids.index(route)], names[route]


def render_corridor(ctx: _Context) -> dict[str, Any] | None:
    """Corridor query controls and results; return what the map draws (or None)."""
    t = ctx.t
    with st.expander(t("Corridor query"), expanded=True, icon=":material/route:"):
        st.caption(t("Events, runway candidates and aerodromes within the buffer of a route "
                     "or a drawn line, in the filters' time window."))
        picked = _corridor_line(ctx)
        if picked is None:
            return None
        line, name = picked
        buffer_km = float(st.session_state.get(state.ANALYSIS_BUFFER, 25))
        try:
            found = _corridor(str(ctx.data_dir), ctx.version, ctx.scope, line.wkb, buffer_km,
                              line, ctx.layers["events"], ctx.layers["candidates"],
                              ctx.world["aerodromes"])
        except AtalayaError as err:
            st.error(t("The corridor could not be worked out."))
            st.code(localize(err, t), language=None, wrap_lines=True)
            return None
        _corridor_tables(found, t)
        if allowed(Action.EXPORT_SNAPSHOT):
            _corridor_export(ctx, found.buffer, name)
    return {"outline": found.buffer, "line": line, "key": (line.wkb, buffer_km)}


def _corridor_tables(found: Any, t: Translator) -> None:
    ev, cand, aero = found.events, found.candidates, found.aerodromes
    names = map_labels(t)

    def named(values: pd.Series) -> np.ndarray:
        return np.array([names.get(v, v) for v in values.astype(str)], dtype=object)

    tabs = st.tabs([t("Events") + f" ({t.number(len(ev))})",
                    t("Runway candidates") + f" ({t.number(len(cand))})",
                    t("Registered aerodromes") + f" ({t.number(len(aero))})"])
    ev = ev.sort_values("occurred_at", ascending=False, kind="stable")  # the newest first
    when = {t("Date (UTC)"): utc_minutes_column()}
    with tabs[0]:
        st.dataframe(pd.DataFrame({
            "ID": ev["event_id"].astype(str).to_numpy(),
            t("Date (UTC)"): table_times(ev["occurred_at"]),
            t("Type"): named(ev["event_type"]),
            t("Quantity (kg)"): ev["quantity_kg"].to_numpy(),
            t("Country"): [t.country(c) for c in ev["country"].astype(str)]}).head(1000),
            hide_index=True, height=240, width="stretch", key="analysis_corridor_events",
            column_config=when)
    with tabs[1]:
        st.dataframe(pd.DataFrame({
            t("Candidate"): cand["candidate_id"].astype(str).to_numpy(),
            t("State"): named(cand["state"]),
            t("Score"): cand["score"].round(2).to_numpy()}),
            hide_index=True, height=240, width="stretch", key="analysis_corridor_candidates")
    with tabs[2]:
        st.dataframe(pd.DataFrame({
            t("Code"): aero["ident"].astype(str).to_numpy(),
            t("Name"): aero["name"].astype("string").fillna("").to_numpy(),
            t("Country"): aero["country"].astype(str).to_numpy()}),
            hide_index=True, height=240, width="stretch", key="analysis_corridor_aerodromes")


def _corridor_spec(ctx: _Context, outline: BaseGeometry, name: str) -> SnapshotSpec:
    session = current_session()
    # The snapshot keeps what lies in the corridor's outline (drawn every ~100 m).
    area = shapely.simplify(outline, 0.001)
    return SnapshotSpec(
        filters=replace(ctx.filters, aoi=area), formats=("gpkg", "csv"),
        title=(ctx.t("Corridor") + f": {name}")[:200],
        user=session.username if session is not None else "unknown",
        language=ctx.t.language, labels=ctx.labels,
        location_cell_deg=location_cell_deg())


def _export_corridor(data_dir: Path, spec: SnapshotSpec) -> None:
    """Save the corridor's snapshot (button callback), checking the role when asked."""
    ss = st.session_state
    if not allowed(Action.EXPORT_SNAPSHOT):
        ss[state.ANALYSIS_EXPORT_RESULT] = {"error": role_refusal()}
        return
    try:
        manifest = save_snapshot(data_dir, spec)
    except AtalayaError as err:
        ss[state.ANALYSIS_EXPORT_RESULT] = {"error": message_of(err)}  # localized when shown
        return
    ss[state.ANALYSIS_EXPORT_RESULT] = {"id": manifest.snapshot_id}


def _corridor_export(ctx: _Context, outline: BaseGeometry, name: str) -> None:
    t = ctx.t
    try:
        spec = _corridor_spec(ctx, outline, name)
    except AtalayaError as err:
        st.error(shown(err, t))
        return
    st.button(t("Export the corridor as a snapshot"), key=state.ANALYSIS_EXPORT,
              on_click=_export_corridor, args=(ctx.data_dir, spec),
              icon=":material/ios_share:",
              help=t("GeoPackage and CSV of what lies in the corridor, kept with the other "
                     "snapshots (Overview map, Snapshot for planners)."))
    result = st.session_state.get(state.ANALYSIS_EXPORT_RESULT)
    if result and "error" in result:
        st.error(t("The snapshot could not be made."))
        st.code(localize(result["error"], t), language=None, wrap_lines=True)
    elif result:
        st.success(t("Snapshot made:") + " " + str(result["id"]))


# -- what changed ----------------------------------------------------------------------------------

def read_visits(data_dir: Path) -> dict[str, dict[str, str]]:
    """Return the last visits {user: {area_id: ISO time}} ({} when there is no file)."""
    path = data_dir / VISITS_FILE
    try:
        found = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        return {}  # an unreadable file only loses the last visits; it is rewritten next time
    return found if isinstance(found, dict) else {}


def write_visit(data_dir: Path, user: str, area_id: str, when: datetime) -> None:
    """Record ``user``'s visit to ``area_id`` at ``when``, rewriting the file atomically."""
    visits = read_visits(data_dir)
    visits.setdefault(user, {})[area_id] = when.astimezone(UTC).isoformat()
    write_atomic(data_dir / VISITS_FILE, json.dumps(visits, ensure_ascii=False, sort_keys=True))


def _state_history(ctx: _Context) -> pd.DataFrame | None:
    """State changes of the alerts' candidates from the store's audit log, or None."""
    from geo.store import list_alerts
    from geo.store.audit import read_audit
    from ui.auth import _store

    try:
        store = _store()
        alerts = {a.id: a.candidate_id for a in list_alerts(store) if a.candidate_id}
        # A creation is a new candidate (counted as such), not a change of state.
        rows = [(alerts[e.alert_id], e.at, e.old_value, e.new_value) for e in read_audit(store)
                if e.field == "state" and e.action != "create" and e.alert_id in alerts]
    except AtalayaError:
        return None
    frame = pd.DataFrame(rows, columns=["candidate_id", "changed_at", "from_state",
                                        "to_state"])
    frame["changed_at"] = pd.to_datetime(frame["changed_at"], utc=True)
    return frame


def _since(ctx: _Context, area_id: str, user: str) -> datetime | None:
    """Return the previous visit to the area (read once per session; this one is recorded)."""
    ss = st.session_state
    known: dict[str, datetime | None] = ss.setdefault(state.ANALYSIS_SINCE, {})
    if area_id not in known:
        previous = read_visits(ctx.data_dir).get(user, {}).get(area_id)
        known[area_id] = datetime.fromisoformat(previous) if previous else None
        try:
            write_visit(ctx.data_dir, user, area_id, datetime.now(UTC))
        except OSError as err:
            st.warning(ctx.t("This visit could not be recorded:") + " " + shown(err, ctx.t))
    return known[area_id]


def _mark_seen(area_id: str) -> None:
    st.session_state.setdefault(state.ANALYSIS_SINCE, {})[area_id] = datetime.now(UTC)


def render_what_changed(ctx: _Context) -> None:
    """For a saved area: new events, candidates and state changes since the last visit."""
    t = ctx.t
    with st.expander(t("What changed in an area"), icon=":material/update:"):
        try:
            areas = read_areas(ctx.data_dir)
        except AtalayaError as err:
            st.error(t("The saved areas could not be read."))
            st.code(localize(err, t), language=None, wrap_lines=True)
            return
        if areas.empty:
            st.caption(t("No saved area yet: draw one on the overview map and save it."))
            return
        names = dict(zip(areas["area_id"], areas["name"], strict=True))
        area_id = st.selectbox(t("Saved area"), ["", *names], key=relabelled(state.ANALYSIS_AREA),
                               format_func=lambda a: names.get(a, t("Choose a saved area")))
        session = current_session()
        if not area_id or session is None:
            return
        since = _since(ctx, area_id, session.username)
        first = since is None
        if first:  # a first visit: the last month of data
            since = ctx.now - timedelta(days=30)
            st.caption(t("Your first visit to this area: showing the last 30 days of the data."))
        assert since is not None
        area = areas.loc[areas["area_id"] == area_id].geometry.iloc[0]
        events = filtered_world(ctx.data_dir, Filters())["events"]  # the role's precision
        changes = what_changed(area, since, events=events,
                               candidates=ctx.world["candidates"],
                               state_history=_state_history(ctx))
        st.markdown("**" + t("Since {when}:").format(
            when=pd.Timestamp(since).strftime("%Y-%m-%d %H:%M UTC")) + "**")
        cols = st.columns(3)
        cols[0].metric(t("New events"), t.number(len(changes.events)))
        cols[1].metric(t("New runway candidates"), t.number(len(changes.candidates)))
        cols[2].metric(t("State changes"), t.number(len(changes.state_changes)))
        if len(changes.events):
            st.dataframe(pd.DataFrame({
                "event_id": changes.events["event_id"].astype(str).to_numpy(),
                t("Date (UTC)"): table_times(changes.events["occurred_at"]),
                t("Type"): changes.events["event_type"].astype(str).to_numpy()}).head(1000),
                hide_index=True, height=200, width="stretch", key="analysis_changes_events",
                column_config={t("Date (UTC)"): utc_minutes_column()})
        if len(changes.state_changes):
            st.dataframe(changes.state_changes.astype(str), hide_index=True, width="stretch",
                         key="analysis_changes_states")
        st.button(t("Mark as seen"), key=state.ANALYSIS_SEEN, on_click=_mark_seen,
                  args=(area_id,), icon=":material/done_all:")
