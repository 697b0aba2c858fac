"""Shareable links: the filters, the map view and the area of interest as URL query parameters.

:func:`encode_query` turns a :class:`ViewState` into short text parameters (only what differs
from the defaults) and :func:`decode_query` reads them back. A link is typed, pasted and edited
by people, so decoding never raises: a parameter it cannot read is skipped and reported (as
a :class:`~geo.message.Message`, which the explorer shows in the reader's language; the text
Python gives for a number or date it cannot read stays as Python wrote it).

Parameters
----------
``from``/``to`` (ISO dates; ``to`` exclusive), ``types``, ``commodities``, ``countries``,
``sources``, ``modes``, ``states`` (comma-separated), ``conf``, ``score`` (0-1), ``aoi``
(polygons ``lon_lat,lon_lat,...``; rings split by ``!``, polygons by ``|``), ``lat``, ``lon``,
``z`` (view) and ``show`` (events display mode).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from geo.errors import AtalayaError
from geo.filters import Filters
from geo.message import Message, join_messages, message_of

__all__ = [
    "DISPLAY_MODES", "QUERY_KEYS", "ViewState", "decode_query", "encode_query", "format_number",
]

#: How events are drawn: each point, clusters, a heat map, or counts per hexagon.
DISPLAY_MODES = ("points", "clusters", "heat", "hexagons")
_LISTS = {"types": "event_types", "commodities": "commodities", "countries": "countries",
          "sources": "sources", "modes": "route_modes", "states": "candidate_states"}
#: Every parameter this module reads or writes.
QUERY_KEYS = ("from", "to", *_LISTS, "conf", "score", "aoi", "lat", "lon", "z",
              "show")
_DIGITS = 5  # 1e-5 degree, about a metre: as fine as a drawn area needs


@dataclass(frozen=True)
class ViewState:
    """What a shared link restores: filters (with the area of interest), view and display mode.

    ``center`` is ``(lon, lat)``; ``None`` fields leave the app's defaults.
    """

    filters: Filters = field(default_factory=Filters)
    center: tuple[float, float] | None = None
    zoom: float | None = None
    mode: str = "points"


def format_number(value: float, digits: int = _DIGITS) -> str:
    """Shortest text for ``value`` rounded to ``digits`` decimals (no trailing zeros).

    Examples
    --------
    >>> format_number(-74.600001), format_number(3.0), format_number(-0.000001)
    ('-74.6', '3', '0')
    """
    text = f"{round(value, digits):.{digits}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _join(values: tuple[str, ...]) -> str:
    return ",".join(v.replace("%", "%25").replace(",", "%2C") for v in values)


def _split(text: str) -> tuple[str, ...]:
    return tuple(v.replace("%2C", ",").replace("%25", "%") for v in text.split(",") if v)


def _ring(coords: Any) -> str:
    return ",".join(f"{format_number(x)}_{format_number(y)}" for x, y in list(coords)[:-1])


def _encode_aoi(aoi: BaseGeometry) -> str:
    polys = list(aoi.geoms) if isinstance(aoi, MultiPolygon) else [aoi]
    return "|".join("!".join([_ring(p.exterior.coords), *(_ring(r.coords) for r in p.interiors)])
                    for p in polys)


def _decode_aoi(text: str) -> BaseGeometry:
    polys = []
    for part in text.split("|"):
        try:
            rings = [[tuple(float(v) for v in pair.split("_", 1)) for pair in ring.split(",")]
                     for ring in part.split("!")]
        except ValueError:  # Python's own words would name no part of the link
            raise ValueError(Message("expected lon_lat pairs such as -74.6_-9.4, separated by "
                                     "commas")) from None
        if any(len(r) < 3 or any(len(p) != 2 for p in r) for r in rings):
            raise ValueError(Message("a ring needs at least three lon_lat pairs"))
        polys.append(Polygon(rings[0], rings[1:]))
    geom: BaseGeometry = polys[0] if len(polys) == 1 else MultiPolygon(polys)
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    return geom


def encode_query(state: ViewState) -> dict[str, str]:
    """Return the query parameters of ``state``; defaults are left out, so links stay short.

    Examples
    --------
    >>> f = Filters(event_types=["seizure", "incident"], min_confidence=0.5)
    >>> encode_query(ViewState(f, center=(-74.6, -9.4), zoom=7))
    {'types': 'incident,seizure', 'conf': '0.5', 'lat': '-9.4', 'lon': '-74.6', 'z': '7'}
    """
    f = state.filters
    out: dict[str, str] = {}
    if f.start is not None:
        out["from"] = f.start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ").replace(
            "T00:00:00Z", "")
    if f.end is not None:
        out["to"] = f.end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ").replace(
            "T00:00:00Z", "")
    for key, name in _LISTS.items():
        values = getattr(f, name)
        if values is not None:
            out[key] = _join(values)
    if f.min_confidence > 0:
        out["conf"] = repr(f.min_confidence)
    if f.min_score > 0:
        out["score"] = repr(f.min_score)
    if f.aoi is not None:
        out["aoi"] = _encode_aoi(f.aoi)
    if state.center is not None:
        out["lat"] = format_number(state.center[1])
        out["lon"] = format_number(state.center[0])
    if state.zoom is not None:
        out["z"] = format_number(state.zoom, 2)
    if state.mode != "points":
        out["show"] = state.mode
    return out


def _date(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(Message("expected a date such as 2024-08-02")) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _float01(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 1.0:
        raise ValueError(Message("expected a number between 0 and 1"))
    return value


_READERS: dict[str, tuple[str, Any]] = {
    "from": ("start", _date), "to": ("end", _date), "conf": ("min_confidence", _float01),
    "score": ("min_score", _float01), "aoi": ("aoi", _decode_aoi),
    **{key: (name, _split) for key, name in _LISTS.items()},
}


def _first(value: str | list[str]) -> str:
    return value[-1] if isinstance(value, list) else value


def decode_query(params: Mapping[str, str | list[str]]) -> tuple[ViewState, list[str]]:
    """Read a :class:`ViewState` from query parameters; never raises.

    Returns
    -------
    (ViewState, list of str)
        The state, and one message per parameter that was ignored (what it held and why):
        each a :class:`~geo.message.Message`, to be localized when shown.

    Examples
    --------
    >>> state, problems = decode_query({"types": "seizure", "z": "7", "conf": "2"})
    >>> state.filters.event_types, state.zoom, problems
    (('seizure',), 7.0, ["conf='2': expected a number between 0 and 1"])
    """
    problems: list[str] = []
    filters = Filters()
    for key, (name, read) in _READERS.items():
        if key not in params:
            continue
        text = _first(params[key])
        try:
            filters = replace(filters, **{name: read(text)})
        except (ValueError, TypeError, AtalayaError, shapely.errors.ShapelyError) as err:
            problems.append(join_messages("", [key, "=", repr(text[:80]), ": ",
                                               message_of(err)]))
    center, zoom, mode = None, None, "points"
    try:
        if "lat" in params and "lon" in params:
            try:
                lat, lon = float(_first(params["lat"])), float(_first(params["lon"]))
            except ValueError:
                raise ValueError(Message("lat and lon must be numbers in degrees")) from None
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise ValueError(Message("lat={lat}, lon={lon} is not a place on Earth",
                                         lat=str(lat), lon=str(lon)))
            center = (lon, lat)
        if "z" in params:
            try:
                zoom = float(_first(params["z"]))
            except ValueError:
                raise ValueError(Message("zoom must be a number from 0 to 22")) from None
            if not 0 <= zoom <= 22:
                zoom = None
                raise ValueError(Message("zoom outside 0-22"))
    except ValueError as err:
        problems.append(Message("view: {problem}", problem=message_of(err)))
    if "show" in params:
        shown = _first(params["show"])
        if shown in DISPLAY_MODES:
            mode = shown
        else:
            problems.append(Message("show={value}: expected one of {modes}",
                                    value=repr(shown[:20]), modes=", ".join(DISPLAY_MODES)))
    return ViewState(filters, center, zoom, mode), problems
