"""Cached loaders shared by every page and every session of the process."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import streamlit as st

from geo.aggregate import aggregate_cells, cell_polygons, h3_resolution_for_zoom, monthly_counts
from geo.areas import read_areas
from geo.auth import Action, can
from geo.auth.precision import coarsen_points
from geo.errors import AtalayaError
from geo.filters import LAYER_FILTERS, Filters
from geo.i18n import Translator, localize
from geo.schema import AREAS, empty_layer
from geo.settings import Settings, load_settings
from geo.store import Store, open_store
from geo.world import World, data_version, read_world
from layers.events import inline_payload, pack_events
from layers.staticdata import SWEEP_EVERY_S, publish
from ui import state
from ui.text import escape_markdown

#: Where published layer arrays are written, and the URL Streamlit serves them at.
STATIC_DATA = Path(__file__).resolve().parent.parent / "static" / "data"
STATIC_DATA_URL = "/app/static/data"
#: Up to this many bytes of packed events (about 11,000 events) travel inside the map script,
#: sparing a request; more go to a published file. Measured at 100,000 events: a filter
#: change took 1.12 s (median) inline against 0.98 s from a file, since the page parses the
#: 1.3 MB script on its main thread. ``ATALAYA_INLINE_EVENTS_BYTES`` changes it (0: always
#: a file).
INLINE_EVENTS_BYTES = 100_000


def _inline_limit() -> int:
    try:
        return max(0, int(os.environ.get("ATALAYA_INLINE_EVENTS_BYTES", INLINE_EVENTS_BYTES)))
    except ValueError:
        return INLINE_EVENTS_BYTES


def get_settings() -> Settings:
    """Process settings from the environment (cheap: read on every run, never stale)."""
    return load_settings()


# A World is never mutated after reading, so one copy is shared by all sessions
# (cache_resource) instead of being pickled into each (cache_data); the key holds the folder's
# fingerprint, so rewriting a layer file loads it anew.
@st.cache_resource(show_spinner=False, max_entries=4)
def _load_world(data_dir: str, _version: tuple[tuple[str, int, int], ...],
                version_key: str) -> World:
    return read_world(Path(data_dir))


def load_world(data_dir: Path) -> World:
    """Return the validated layers of ``data_dir``, reloaded when any layer file changes."""
    version = data_version(data_dir)
    return _load_world(str(data_dir), version, repr(version))


def saved_areas(data_dir: Path, t: Translator) -> gpd.GeoDataFrame:
    """Return the saved areas (:func:`geo.areas.read_areas`); unreadable: say why, give none."""
    try:
        return read_areas(data_dir)
    except AtalayaError as err:
        st.warning(t("The saved areas could not be read: {error}").format(
            error=escape_markdown(localize(err, t))))
        return empty_layer(AREAS)


def page_world(data_dir: Path, t: Translator) -> World | None:
    """:func:`load_world` for a page: on a folder that cannot be read, say why and give None."""
    try:
        return load_world(data_dir)
    except AtalayaError as err:
        st.error(t("The data could not be loaded."))
        # data values shown as text, not Markdown
        st.code(localize(err, t), language=None, wrap_lines=True)
        return None


# Filtered layers and aggregates are keyed on the data version and the filters' text key; the
# frames are never mutated, so one copy serves every session (cache_resource). Maps are not
# cached: they are cheap to build from these.
@st.cache_resource(show_spinner=False, max_entries=16)
def _filtered(data_dir: str, version_key: str, filters_key: str,
              _filters: Filters) -> dict[str, gpd.GeoDataFrame]:
    world = load_world(Path(data_dir))
    layers = {name: world[name] for name in LAYER_FILTERS}
    if filters_key.endswith(_COARSE):  # filtered at the cell centres the role sees
        layers["events"] = _coarse_events(data_dir, version_key)
    return {name: keep(layers[name], _filters) for name, keep in LAYER_FILTERS.items()}


@st.cache_resource(show_spinner=False, max_entries=4)
def _coarse_events(data_dir: str, version_key: str) -> gpd.GeoDataFrame:
    """Every event at the centre of its cell, for the roles without precise locations.

    Their filters run on these, not on the recorded points: an area of interest or a map
    extent drawn around part of a cell would otherwise keep only the events whose recorded
    point lies inside it, and halving the area would find each one.
    """
    return coarsen_points(load_world(Path(data_dir))["events"]).frame


#: Suffix of the cache keys of events seen by a role without precise locations: the caches
#: are shared by every session, so the key says which precision a frame has.
_COARSE = "|coarse"


def _key(filters: Filters) -> str:
    """Return the filters' cache key, scoped by the signed-in role's location precision."""
    session = st.session_state.get(state.SESSION)
    precise = can(getattr(session, "role", None), Action.SEE_PRECISE_LOCATIONS)
    return filters.key() + ("" if precise else _COARSE)


def filtered_world(data_dir: Path, filters: Filters) -> dict[str, gpd.GeoDataFrame]:
    """Return every layer of ``data_dir`` narrowed by ``filters`` (cached per filters).

    Events come at the centre of 0.1-degree cells for a role without precise locations
    (``geo.auth.precision``); the map, charts, tables and details then all show those.
    """
    return _filtered(str(data_dir), repr(data_version(data_dir)), _key(filters), filters)


@st.cache_resource(show_spinner=False, max_entries=16)
def _cells(data_dir: str, version_key: str, filters_key: str, kind: str, level: int,
           _events: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    cells = aggregate_cells(_events, kind="h3", resolution=level)
    return cell_polygons(cells) if kind == "hexagons" else cells


def event_cells(data_dir: Path, filters: Filters, *, display: str,
                zoom: float) -> gpd.GeoDataFrame:
    """Return the filtered events aggregated for ``display`` (heat or hexagons) at ``zoom``."""
    level = h3_resolution_for_zoom(zoom) + (1 if display == "heat" else 0)
    events = filtered_world(data_dir, filters)["events"]
    return _cells(str(data_dir), repr(data_version(data_dir)), _key(filters), display, level,
                  events)


@st.cache_data(show_spinner=False, max_entries=16)
def _monthly(data_dir: str, version_key: str, filters_key: str,
             _events: gpd.GeoDataFrame) -> pd.DataFrame:
    return monthly_counts(_events)


def monthly_series(data_dir: Path, filters: Filters) -> pd.DataFrame:
    """Return the filtered events per month and type (cached per filters)."""
    events = filtered_world(data_dir, filters)["events"]
    return _monthly(str(data_dir), repr(data_version(data_dir)), _key(filters), events)


@st.cache_resource(show_spinner=False, max_entries=4)
def _codes(data_dir: str, version_key: str) -> dict[str, tuple[float, float]]:
    aerodromes = load_world(Path(data_dir))["aerodromes"]
    return {str(k).upper(): (float(p.x), float(p.y))
            for k, p in zip(aerodromes["ident"], aerodromes.geometry, strict=True)
            if p is not None and not p.is_empty}


def aerodrome_codes(data_dir: Path) -> dict[str, tuple[float, float]]:
    """Return aerodrome ident -> (lon, lat) for "go to" (cached per data version)."""
    return _codes(str(data_dir), repr(data_version(data_dir)))


@st.cache_resource(show_spinner=False, max_entries=8)
def _packed(data_dir: str, version_key: str, filters_key: str, labels_key: str,
            inline_limit: int, _events: gpd.GeoDataFrame,
            _labels: Mapping[str, str]) -> tuple[dict[str, Any], bytes, str]:
    meta, blob = pack_events(_events, labels=_labels)
    if len(blob) <= inline_limit:
        return inline_payload(meta, blob), b"", ""
    return meta, blob, hashlib.sha256(blob).hexdigest()


def publish_static(blob: bytes, **options: Any) -> str:
    """Publish ``blob`` under ``static/data`` (:func:`layers.staticdata.publish`); its URL.

    Files nobody published again for the sessions' idle time-out (plus a sweep's minute) are
    deleted: an address stops working soon after the last page showing it went idle.
    """
    max_age = get_settings().idle_timeout_min * 60.0 + SWEEP_EVERY_S
    return publish(blob, STATIC_DATA, url_prefix=STATIC_DATA_URL, max_age_s=max_age, **options)


def events_payload(data_dir: Path, filters: Filters,
                   labels: Mapping[str, str]) -> dict[str, Any]:
    """Return the filtered events packed for the canvas layer.

    Packed once per data version, filters and language (shared by every session). Up to
    ``INLINE_EVENTS_BYTES`` the arrays are inline; past that they are served from
    ``static/data`` (``layers.staticdata``) and the payload carries their ``url``, so a rerun
    of the map (a pan) sends the browser a few hundred bytes, not the events again.
    """
    events = filtered_world(data_dir, filters)["events"]
    labels_key = repr(sorted(labels.items()))
    meta, blob, digest = _packed(str(data_dir), repr(data_version(data_dir)), _key(filters),
                                 labels_key, _inline_limit(), events, labels)
    if not blob:
        return meta
    url = publish_static(blob, digest=digest, gzip_level=1)
    return {**meta, "url": url, "gzip": True}


@st.cache_resource(show_spinner=False)
def open_store_cached(url: str) -> Store:
    """Open the store at ``url`` (and migrate it) once per process, shared by sessions."""
    return open_store(url)
