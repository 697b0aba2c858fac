"""KML and KMZ for Google Earth, styled like the map (the map's own colour constants).

One ``Folder`` per layer (GDAL reads each as a layer). Attributes: in the KML, one ``Schema``
per layer with typed ``SimpleField``s; in the KMZ, untyped ``Data`` (GDAL ignores a ``Schema``
inside a KMZ); Google Earth shows either as the balloon's table. A ``Style`` per event type,
route mode and candidate state in the map's colours; times as ``TimeStamp``/``TimeSpan`` so
Google Earth's time slider works. Every text is XML-escaped (no CDATA); placemarks carry no
``description``, so no value is ever rendered as HTML. The KMZ is the same document
(``doc.kml``) with the point icon inside it, so it opens offline; the plain KML links
Google's standard circle icon.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.export.paths import target

__all__ = ["KML_RESERVED", "kml_color", "kml_document", "kml_field_names", "write_kml",
           "write_kmz"]

#: Field names GDAL's KML drivers use for the placemark itself; our columns are renamed.
KML_RESERVED = frozenset({"id", "name", "description", "timestamp", "begin", "end",
                          "altitudemode", "tessellate", "extrude", "visibility", "draworder",
                          "icon", "snippet"})
KMZ_ICON = "files/dot.png"
_TIMES = {"events": ("occurred_at", None), "routes": ("first_seen", "last_seen"),
          "candidates": ("detected_at", None), "scenes": ("acquired_at", None)}
_NAMES = {"events": "event_id", "routes": "route_id", "candidates": "candidate_id",
          "aerodromes": "ident", "scenes": "scene_id"}
_CLASSES = {"events": "event_type", "routes": "mode", "candidates": "state"}
#: Columns whose values are codes of a category, shown by their names when names are given.
_CATEGORIES = {"events": ("event_type", "commodity"), "routes": ("mode",),
               "candidates": ("state",)}


def kml_color(css: str, alpha: int = 255) -> str:
    """Turn ``#rrggbb`` into KML's ``aabbggrr``.

    Examples
    --------
    >>> kml_color("#d7301f"), kml_color("#d7301f", 0x66)
    ('ff1f30d7', '661f30d7')
    """
    r, g, b = css[1:3], css[3:5], css[5:7]
    return f"{alpha:02x}{b}{g}{r}".lower()


def kml_field_names(columns: list[str]) -> dict[str, str]:
    """Map columns to KML field names; those GDAL reserves get an ``attr_`` prefix.

    Examples
    --------
    >>> kml_field_names(["ident", "name", "description"])
    {'ident': 'ident', 'name': 'attr_name', 'description': 'attr_description'}
    """
    return {c: f"attr_{c}" if c.lower() in KML_RESERVED else c for c in columns}


def _palettes() -> dict[str, tuple[Mapping[str, str], str]]:
    # The map's colours (layers/ needs folium, so it is imported only when writing KML).
    from layers.aerodromes import AERODROME_COLOR
    from layers.candidates import CANDIDATE_COLORS
    from layers.events import EVENT_COLORS
    from layers.routes import ROUTE_COLORS
    from layers.scenes import FOOTPRINT_COLOR

    return {"events": (EVENT_COLORS, "#636363"), "routes": (ROUTE_COLORS, "#444444"),
            "candidates": (CANDIDATE_COLORS, "#444444"), "aerodromes": ({}, AERODROME_COLOR),
            "scenes": ({}, FOOTPRINT_COLOR)}


def _styles(layer: str, colors: Mapping[str, str], other: str, icon: str | None) -> str:
    """KML styles of a layer's classes; ``icon`` None: the viewer's own pin, tinted."""
    out = []
    for key, css in [*colors.items(), ("other", other)]:
        c = kml_color(css)
        href = "" if icon is None else f"<Icon><href>{escape(icon)}</href></Icon>"
        out.append(
            f'<Style id="{layer}-{escape(key)}">'
            f"<IconStyle><color>{c}</color><scale>0.6</scale>{href}"
            f"</IconStyle><LabelStyle><scale>0</scale></LabelStyle>"
            f"<LineStyle><color>{c}</color><width>{3 if layer == 'routes' else 2}</width>"
            f"</LineStyle><PolyStyle><color>{kml_color(css, 0x66 if layer != 'scenes' else 0x10)}"
            "</color></PolyStyle></Style>")
    return "".join(out)


def _kml_type(series: pd.Series) -> str:
    if pd.api.types.is_integer_dtype(series) and not pd.api.types.is_bool_dtype(series):
        return "int"
    if pd.api.types.is_float_dtype(series):
        return "double"
    return "string"


def _text(value: Any) -> str | None:
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, float | np.floating):
        return repr(float(value))
    return str(value)


def _coords(geom: shapely.Geometry) -> str:
    return " ".join(f"{x!r},{y!r}" for x, y in shapely.get_coordinates(geom).tolist())


def _geometry(geom: shapely.Geometry | None) -> str:
    if geom is None or shapely.is_empty(geom):
        return ""
    kind = shapely.get_type_id(geom)
    if kind == 0:
        return f"<Point><coordinates>{_coords(geom)}</coordinates></Point>"
    if kind in (1, 2):
        return (f"<LineString><tessellate>1</tessellate><coordinates>{_coords(geom)}"
                "</coordinates></LineString>")
    if kind == 3:
        holes = "".join(f"<innerBoundaryIs><LinearRing><coordinates>{_coords(r)}</coordinates>"
                        "</LinearRing></innerBoundaryIs>" for r in geom.interiors)
        return (f"<Polygon><outerBoundaryIs><LinearRing><coordinates>"
                f"{_coords(geom.exterior)}</coordinates></LinearRing></outerBoundaryIs>{holes}"
                "</Polygon>")
    return "<MultiGeometry>" + "".join(_geometry(g) for g in geom.geoms) + "</MultiGeometry>"


def _texts(column: pd.Series) -> list[str | None]:
    """Return every value of a column as escaped KML text (None when missing).

    Times and numbers need no escaping and are formatted column-wise; only text is escaped.
    """
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        text = column.dt.tz_convert("UTC").dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        return [None if pd.isna(v) else str(v) for v in text]
    if pd.api.types.is_float_dtype(column):
        return [None if v != v else repr(v) for v in column.to_numpy(dtype=float).tolist()]
    if column.dtype == object:  # prepare_frame's text: str or None
        return [None if v is None or (isinstance(v, float) and v != v)
                else str(v).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                for v in column.tolist()]
    return [None if (t := _text(v)) is None else escape(t) for v in column.tolist()]


def _time_elements(layer: str, texts: Mapping[str, list[str | None]], n: int) -> list[str]:
    first, last = _TIMES.get(layer, (None, None))
    begins = texts.get(first, [None] * n) if first else [None] * n
    if last is None:
        return [f"<TimeStamp><when>{b}</when></TimeStamp>" if b else "" for b in begins]
    ends = texts.get(last, [None] * n)
    return [(f"<TimeSpan>{f'<begin>{b}</begin>' if b else ''}{f'<end>{e}</end>' if e else ''}"
             "</TimeSpan>") if b or e else "" for b, e in zip(begins, ends, strict=True)]


def _geometries(gdf: gpd.GeoDataFrame) -> list[str]:
    geoms = gdf.geometry.to_numpy()
    if len(geoms) and bool(np.all(shapely.get_type_id(geoms) == 0)):  # points: no loop in C
        x, y = shapely.get_x(geoms).tolist(), shapely.get_y(geoms).tolist()
        return [f"<Point><coordinates>{a!r},{b!r}</coordinates></Point>" if a == a else ""
                for a, b in zip(x, y, strict=True)]
    return [_geometry(g) for g in geoms]


def _display_names(labels: Mapping[str, str]) -> Callable[[str], str]:
    """Return a column's ``displayName`` element (its name in ``labels``), or nothing."""
    def element(column: str) -> str:
        name = labels.get(column)
        return f"<displayName>{escape(name)}</displayName>" if name else ""

    return element


def _placemarks(layer: str, gdf: gpd.GeoDataFrame, fields: Mapping[str, str],
                colors: Mapping[str, str], *, typed: bool, value_names: Mapping[str, str],
                display: Callable[[str], str]) -> Iterator[str]:
    n = len(gdf)
    texts = {c: _texts(gdf[c]) for c in fields}
    # a category's code names its style; its cell shows the code's name, when there is one
    # (the texts are escaped already: only a name is escaped here, a code is kept as it is)
    shown = {c: [escape(value_names[v]) if v is not None and v in value_names else v
                 for v in texts[c]]
             if c in _CATEGORIES.get(layer, ()) and value_names else texts[c] for c in fields}
    if typed:
        cells = [[f'<SimpleData name="{fields[c]}">{v}</SimpleData>' if v is not None
                  else "" for v in shown[c]] for c in fields]
        head, tail = f'<SchemaData schemaUrl="#{layer}-schema">', "</SchemaData>"
    else:
        cells = [[f'<Data name="{fields[c]}">{display(c)}<value>{v}</value></Data>'
                  if v is not None else "" for v in shown[c]] for c in fields]
        head = tail = ""
    klass, id_col = _CLASSES.get(layer), _NAMES.get(layer)
    # Style ids are our own category names; a value outside them gets the "other" style.
    styles = [v if v in colors else "other" for v in texts[klass]] if klass else ["other"] * n
    names = [v or "" for v in texts[id_col]] if id_col in texts else [""] * n
    times = _time_elements(layer, texts, n)
    for i, (name, when, style, geom) in enumerate(zip(names, times, styles, _geometries(gdf),
                                                          strict=True)):
        data = "".join(col[i] for col in cells)
        yield (f"<Placemark><name>{name}</name>{when}<styleUrl>#{layer}-{style}</styleUrl>"
               f"<ExtendedData>{head}{data}{tail}</ExtendedData>{geom}</Placemark>")


def kml_document(layers: Mapping[str, gpd.GeoDataFrame], *, title: str,
                 icon: str | None = None, typed: bool = True,
                 labels: Mapping[str, str] | None = None) -> tuple[str, dict[str, Any]]:
    """Build the KML text of the snapshot; return it and the renamed fields per layer.

    ``typed``: attributes as ``Schema``/``SchemaData`` (typed fields); otherwise as untyped
    ``Data`` elements, which GDAL's LIBKML driver reads inside a KMZ (it ignores a ``Schema``
    there) and Google Earth shows the same way.

    ``labels`` (the map's words in the snapshot's language, ``layers.labels``) name what a
    reader of Google Earth sees: each folder (the layer's name on the map), each field (its
    ``displayName``; the field's own name, which GDAL reads, stays the column's) and the
    values of the categories (event type, commodity, route mode, candidate state; their
    styles keep the codes). GDAL reads folders as layers by their shown name, so the caller
    records which is which (the manifest's ``kml_layers``). Without ``labels``, folders are
    named by layer key and values are the codes.

    ``icon``: the points' icon, a path inside the KMZ; None (a plain KML) names no file, so
    the viewer draws its own pin in each style's colour and nothing is fetched from the
    internet (the file opens the same offline).
    """
    palettes = _palettes()
    words = labels or {}
    head = ['<?xml version="1.0" encoding="UTF-8"?>\n<kml xmlns="http://www.opengis.net/kml/2.2">'
            f"<Document><name>{escape(title)}</name>"]
    body: list[str] = []
    renamed: dict[str, Any] = {}
    display = _display_names(words)
    for layer, gdf in layers.items():
        colors, other = palettes[layer]
        fields = kml_field_names([c for c in gdf.columns if c != gdf.geometry.name])
        renamed[layer] = {k: v for k, v in fields.items() if k != v}
        head.append(_styles(layer, colors, other, icon))
        if typed:
            head.append(f'<Schema name="{layer}" id="{layer}-schema">' + "".join(
                f'<SimpleField name="{v}" type="{_kml_type(gdf[k])}">{display(k)}'
                "</SimpleField>" for k, v in fields.items()) + "</Schema>")
        folder = escape(words.get(layer, layer))
        body.append(f"<Folder><name>{folder}</name>")
        body.extend(_placemarks(layer, gdf, fields, colors, typed=typed, value_names=words,
                                display=display))
        body.append("</Folder>")
    return "".join(head) + "".join(body) + "</Document></kml>\n", renamed


def write_kml(layers: Mapping[str, gpd.GeoDataFrame], out_dir: Path, name: str, *,
              title: str, labels: Mapping[str, str] | None = None
              ) -> tuple[Path, dict[str, Any]]:
    """Write the KML document; return its path and the renamed fields."""
    text, renamed = kml_document(layers, title=title, labels=labels)
    path = target(out_dir, name)
    path.write_text(text, encoding="utf-8")
    return path, renamed


def _dot_png() -> bytes:
    """Draw a white disc with a dark rim (KML tints it with each style's colour)."""
    from PIL import Image, ImageDraw

    img = Image.new("RGBA", (32, 32), (0, 0, 0, 0))
    ImageDraw.Draw(img).ellipse((2, 2, 29, 29), fill=(255, 255, 255, 255),
                                outline=(40, 40, 40, 255), width=2)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def write_kmz(layers: Mapping[str, gpd.GeoDataFrame], out_dir: Path, name: str, *,
              title: str, labels: Mapping[str, str] | None = None) -> Path:
    """Write the KMZ: ``doc.kml`` first (Google Earth reads the first .kml), then its icon."""
    text, _ = kml_document(layers, title=title, icon=KMZ_ICON, typed=False, labels=labels)
    path = target(out_dir, name)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("doc.kml", text)
        zf.writestr(KMZ_ICON, _dot_png())
    return path
