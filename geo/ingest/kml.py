"""A small, safe KML reader: placemarks with their name, description, data and geometry.

KML never needs a document type, so any ``<!DOCTYPE`` or ``<!ENTITY`` (external entities that
read server files, "billion laughs" expansion) refuses the file before parsing; behind that,
ElementTree's defaults hold (no external entity is ever fetched). GDAL's own KML drivers are
not used: LIBKML can follow network links, and both expand entities through expat.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

import geopandas as gpd
import shapely
from shapely.geometry import LinearRing, LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry

from geo.i18n import Message
from geo.ingest.errors import FileRefusedError, UnsafeFileError
from geo.ingest.text import decode_text

_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
_DANGER = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


def parse_xml(data: bytes, *, shown: str) -> ET.Element:
    """Parse untrusted XML with no document type, entities or external references.

    Raises
    ------
    UnsafeFileError
        For a DOCTYPE or ENTITY declaration.
    FileRefusedError
        For XML that does not parse.
    """
    text, _ = decode_text(data)
    if _DANGER.search(text):
        raise UnsafeFileError(Message("{name} declares a document type or XML entities "
                                      "(<!DOCTYPE, <!ENTITY); KML never needs them and they can "
                                      "read server files or expand without end. Export the KML "
                                      "again without them", name=shown))
    # Behind the check above, ElementTree's own defaults hold: it never fetches external
    # entities (an unknown entity is a parse error) and expat >= 2.4 caps entity expansion.
    parser = ET.XMLParser()
    try:
        parser.feed(_DECL.sub("", text, count=1))
        root: ET.Element = parser.close()
    except ET.ParseError as exc:
        raise FileRefusedError(Message("{name} is not well-formed XML ({error})",
                                       name=shown, error=str(exc))) from None
    return root


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(el: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in el if _local(c.tag) == name]


def _first(el: ET.Element, name: str) -> ET.Element | None:
    for c in el.iter():
        if c is not el and _local(c.tag) == name:
            return c
    return None


def _coords(el: ET.Element | None) -> list[tuple[float, float]]:
    if el is None or not el.text:
        return []
    out = []
    for tup in el.text.split():
        parts = tup.split(",")
        if len(parts) >= 2:
            out.append((float(parts[0]), float(parts[1])))
    return out


def _geometry(el: ET.Element) -> BaseGeometry | None:
    kind = _local(el.tag)
    if kind == "Point":
        pts = _coords(_first(el, "coordinates"))
        return Point(pts[0]) if pts else None
    if kind == "LineString":
        return LineString(_coords(_first(el, "coordinates")))
    if kind == "LinearRing":
        return LinearRing(_coords(_first(el, "coordinates")))
    if kind == "Polygon":
        outer = _first(el, "outerBoundaryIs")
        shell = _coords(_first(outer, "coordinates")) if outer is not None else []
        holes = [_coords(_first(b, "coordinates")) for b in _children(el, "innerBoundaryIs")]
        return Polygon(shell, [h for h in holes if h])
    if kind == "MultiGeometry":
        parts = [g for c in el if (g := _geometry(c)) is not None]
        return shapely.GeometryCollection(parts) if parts else None
    return None


_GEOMETRY_TAGS = ("Point", "LineString", "LinearRing", "Polygon", "MultiGeometry")


def _placemark(pm: ET.Element) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name in ("name", "description", "TimeStamp", "when"):
        node = _first(pm, name)
        if node is not None and node.text is not None:
            row["when" if name == "TimeStamp" else name] = node.text.strip()
    for data in (c for c in pm.iter() if _local(c.tag) in ("Data", "SimpleData")):
        key = data.get("name")
        value = _first(data, "value") if _local(data.tag) == "Data" else data
        if key and value is not None:
            row[key] = (value.text or "").strip()
    geom = next((c for c in pm if _local(c.tag) in _GEOMETRY_TAGS), None)
    try:
        row["geometry"] = _geometry(geom) if geom is not None else None
    except (ValueError, IndexError, shapely.errors.GEOSException):
        row["geometry"] = None  # unreadable coordinates: the row is rejected with a reason
    return row


def read_kml(data: bytes, *, shown: str, max_rows: int) -> gpd.GeoDataFrame:
    """Read every placemark of a KML document (any folder depth) into EPSG:4326.

    Raises
    ------
    UnsafeFileError, FileRefusedError
        Entities, malformed XML, no placemark, or more than ``max_rows`` placemarks.
    """
    root = parse_xml(data, shown=shown)
    if _local(root.tag) != "kml":
        raise FileRefusedError(Message("{name} is XML but not KML (root element <{root}>)",
                                       name=shown, root=_local(root.tag)[:40]))
    rows = []
    for pm in root.iter():
        if _local(pm.tag) == "Placemark":
            rows.append(_placemark(pm))
            if len(rows) > max_rows:
                raise FileRefusedError(Message("{name} holds more than {n} placemarks",
                                               name=shown, n=max_rows))
    if not rows:
        raise FileRefusedError(Message("{name} holds no placemark; nothing to import",
                                       name=shown))
    geoms = [r.pop("geometry") for r in rows]
    return gpd.GeoDataFrame(rows, geometry=geoms, crs=4326)
