"""Applying a mapping and checking every row against the layer contract.

:func:`validate` collects *every* reason a row is refused (coordinates, geometry, dates,
categories, numbers, identifiers) and returns an :class:`~geo.ingest.report.ImportReport`;
only a problem with the whole file (no usable row, coordinates that are metres, a bad mapping)
raises :class:`~geo.ingest.errors.FileRefusedError`. Vertex counts and coordinate ranges are
checked before any geometry repair, which can take minutes on a huge polygon.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from babel import Locale

from geo.categories import category_labels, codes_by_name, normalise_name
from geo.i18n import Message, Number, join_messages, message_of, plural
from geo.ingest.errors import FileRefusedError, IngestError
from geo.ingest.limits import Limits
from geo.ingest.mapping import UNITS, Mapping
from geo.ingest.nesting import MAX_GEOMETRY_DEPTH, MAX_WKT_DEPTH, wkt_depth
from geo.ingest.parse import detect_dayfirst, parse_coordinate_columns, parse_dates, parse_numbers
from geo.ingest.readers import Source
from geo.ingest.report import PROVENANCE, ImportReport
from geo.ingest.text import is_formula
from geo.schema import (
    ISO_COUNTRIES,
    MAX_TEXT,
    REGION_BOUNDS,
    SCHEMAS,
    Column,
    LayerSchema,
    check_layer,
)

LAYERS = ("events", "routes", "areas", "aerodromes", "scenes")
Reasons = list[list[Message]]
_ID_FIELDS = {"events": "event_id", "routes": "route_id", "areas": "area_id",
              "aerodromes": "ident", "scenes": "scene_id"}
_ALIASES: dict[str, str] = {
    "incautacion": "seizure", "incautacao": "seizure", "apreensao": "seizure",
    "decomiso": "seizure", "interdiccion": "interdiction", "interdicao": "interdiction",
    "incidente": "incident", "vuelo_sospechoso": "suspicious_flight",
    "voo_suspeito": "suspicious_flight", "laboratorio_desmantelado": "lab_dismantled",
    "cocaina": "cocaine", "clorhidrato_de_cocaina": "cocaine", "pasta_base": "cocaine_base",
    "pbc": "cocaine_base", "marihuana": "cannabis", "maconha": "cannabis",
    "marijuana": "cannabis", "heroina": "heroin", "metanfetamina": "methamphetamine",
    "fentanilo": "fentanyl", "fentanil": "fentanyl", "precursores": "precursors",
    "dinero": "cash", "efectivo": "cash", "dinheiro": "cash", "armas": "weapons",
    "oro": "gold", "ouro": "gold", "combustible": "fuel", "combustivel": "fuel",
    "desconocido": "unknown", "desconhecido": "unknown", "aereo": "air", "aerea": "air",
    "maritimo": "maritime", "maritima": "maritime", "terrestre": "land", "fluvial": "river",
}
_HTML = re.compile(r"<\s*/?\s*[a-z!?]|javascript:|on\w+\s*=", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def validate(source: Source, mapping: Mapping, *, imported_by: str,
             now: pd.Timestamp | None = None, limits: Limits | None = None) -> ImportReport:
    """Apply ``mapping`` to ``source`` and check every row against the layer contract.

    Parameters
    ----------
    source
        From :func:`~geo.ingest.readers.read_source`.
    mapping
        Which column is which field; checked against the source's columns first.
    imported_by
        User name recorded as provenance.
    now
        Import time (UTC) recorded as provenance; default: the current time.
    limits
        Caps (text length per cell).

    Returns
    -------
    ImportReport
        Accepted rows (contract + provenance columns) and rejected rows with reasons.

    Raises
    ------
    FileRefusedError
        No row at all, no row accepted, or coordinates that are metres rather than degrees.
    MappingError
        The mapping names fields or columns that do not exist.
    """
    lim = limits or Limits()
    mapping.check(source.columns)
    if mapping.bands:  # scenes only (Mapping.check): the user's band roles
        from geo.ingest.scenes import name_bands

        source = name_bands(source, mapping.bands)
    schema = SCHEMAS[mapping.layer]
    stamp = (now or pd.Timestamp.now(tz="UTC")).tz_convert("UTC")
    n = len(source.table)
    if n == 0:
        raise FileRefusedError(Message("{name} has a header but no data rows; nothing to import",
                                       name=source.name))
    reasons: Reasons = [[] for _ in range(n)]
    warnings = list(source.notes)
    geoms = _build_geometry(source, mapping, reasons, lim)
    _refuse_projected(geoms, source.name)
    geoms = _check_geometries(geoms, schema, reasons, warnings)
    columns = _columns(source, mapping, schema, geoms, reasons, warnings, stamp, lim)
    _suspect_swap(geoms, reasons, warnings)
    if "country" in columns:
        _swapped_in_country(geoms, columns["country"], reasons)
    return _assemble(source, mapping, schema, columns, geoms, reasons, warnings,
                     imported_by, stamp)


def _raw(source: Source, mapping: Mapping, name: str) -> pd.Series:
    """Return the text of field ``name``: its column, with the default in empty cells."""
    n = len(source.table)
    col = mapping.fields.get(name)
    values = source.table[col].astype("string") if col is not None \
        else pd.Series([pd.NA] * n, dtype="string")
    values = values.str.strip()
    values = values.where(values != "")
    default = mapping.defaults.get(name)
    if default is not None and default.strip():
        values = values.fillna(default.strip())
    out: pd.Series = values.reset_index(drop=True)
    return out


def _build_geometry(source: Source, mapping: Mapping, reasons: Reasons,
                    lim: Limits) -> np.ndarray:
    f = mapping.fields
    n = len(source.table)
    if "latitude" in f and "longitude" in f:
        xs, ys, why = parse_coordinate_columns(_raw(source, mapping, "latitude"),
                                               _raw(source, mapping, "longitude"))
        for i, r in enumerate(why):
            if r:
                reasons[i].append(Message("coordinates: {reason}", reason=r))
        ok = np.array([r is None for r in why], dtype=bool)
        out = np.full(n, None, dtype=object)
        out[ok] = shapely.points(xs[ok], ys[ok])
        return out
    if "wkt" in f:
        return _from_wkt(_raw(source, mapping, "wkt"), reasons, lim)
    if "coordinates" in f:
        return _from_pairs(_raw(source, mapping, "coordinates"), reasons)
    if source.geometry is not None:
        # too deeply nested collections were left out by the reader (geo.ingest.nesting)
        native: np.ndarray = source.geometry.to_numpy().copy()
        return native
    raise FileRefusedError(Message("{name}: no location. Map latitude and longitude columns, a "
                                   "WKT column or a coordinates column", name=source.name))


def _from_wkt(text: pd.Series, reasons: Reasons, lim: Limits) -> np.ndarray:
    out = np.full(len(text), None, dtype=object)
    for i, cell in enumerate(text.fillna("").to_numpy(dtype=object)):
        cell = str(cell)
        if not cell:
            continue
        if len(cell) > lim.max_cell_chars:
            reasons[i].append(Message("geometry: WKT of {n} characters is too long",
                                      n=len(cell)))
            continue
        depth = wkt_depth(cell)  # before GEOS reads it: it recurses once per level
        if depth > MAX_WKT_DEPTH:
            reasons[i].append(Message("geometry: WKT nested {n} brackets deep (at most {max})",
                                      n=depth, max=MAX_WKT_DEPTH))
            continue
        geom = shapely.from_wkt(cell, on_invalid="ignore")
        if geom is None:
            reasons[i].append(Message("geometry: cannot read WKT {value}",
                                      value=repr(cell[:40])))
        out[i] = geom
    return out


def _from_pairs(text: pd.Series, reasons: Reasons) -> np.ndarray:
    from geo.coords import LocationError, parse_location

    out = np.full(len(text), None, dtype=object)
    for i, cell in enumerate(text.fillna("").to_numpy(dtype=object)):
        if not cell:
            continue
        try:
            out[i] = shapely.Point(parse_location(str(cell)))
        except LocationError as exc:
            reasons[i].append(Message("coordinates: {reason}", reason=message_of(exc)))
    return out


def _refuse_projected(geoms: np.ndarray, name: str) -> None:
    """Refuse a file whose coordinates are mostly far beyond degrees: metres, not lon/lat."""
    usable = geoms[~shapely.is_missing(geoms)]
    if usable.size == 0:
        return
    pts = _first_points(usable)
    pts = pts[np.isfinite(pts).all(axis=1)]  # NaN or infinite: those rows are refused alone
    with np.errstate(invalid="ignore"):
        far = (np.abs(pts[:, 0]) > 360) | (np.abs(pts[:, 1]) > 360)
    if pts.size and far.mean() > 0.5:
        x, y = np.nanmedian(pts[far, 0]), np.nanmedian(pts[far, 1])
        raise FileRefusedError(Message(
            "{name}: coordinates such as ({x}, {y}) are metres of a projected CRS (UTM?), not "
            "degrees, and the file does not say which CRS. Reproject it to EPSG:4326 or export "
            "it with its CRS", name=name, x=Number(float(x)), y=Number(float(y))))


def _first_points(geoms: np.ndarray) -> np.ndarray:
    nonempty = geoms[~shapely.is_empty(geoms)]
    coords, index = shapely.get_coordinates(nonempty, return_index=True)
    if coords.size == 0:
        return np.empty((0, 2))
    first = np.unique(index, return_index=True)[1]
    out: np.ndarray = coords[first]
    return out


_SINGLE = {"Point": "MultiPoint", "LineString": "MultiLineString", "Polygon": "MultiPolygon"}


def _coerce_type(geom: shapely.Geometry, allowed: tuple[str, ...]) -> shapely.Geometry | None:
    """Fit a geometry to the layer's types: one-part multis, collections, rings."""
    for _ in range(MAX_GEOMETRY_DEPTH + 1):  # unwraps one-part collections, bounded
        kind = geom.geom_type
        if kind in allowed:
            return geom
        if kind == "LinearRing" and "Polygon" in allowed:
            return shapely.Polygon(geom)
        if not (kind.startswith("Multi") or kind == "GeometryCollection"):
            return None
        parts = list(geom.geoms)
        if len(parts) != 1:
            kinds = {p.geom_type for p in parts}
            for single, multi in _SINGLE.items():
                if kinds == {single} and multi in allowed:
                    return getattr(shapely, multi)(parts)
            return None
        geom = parts[0]
    return None


_TYPE_NAMES = np.array(["Point", "LineString", "LinearRing", "Polygon", "MultiPoint",
                        "MultiLineString", "MultiPolygon", "GeometryCollection", "None"])


def _either(kinds: tuple[str, ...]) -> str:
    """Write geometry type names as alternatives ("Point", "Polygon or MultiPolygon")."""
    if len(kinds) == 2:
        return Message("{first} or {second}", first=kinds[0], second=kinds[1])
    return ", ".join(kinds)


def _check_geometries(geoms: np.ndarray, schema: LayerSchema, reasons: Reasons,
                      warnings: list[str]) -> np.ndarray:
    """Fit each geometry to the layer, refusing empty, huge, out-of-range or unrepairable ones.

    Column-wise with shapely; only rows that need a type change or a repair are looped over.
    """
    allowed = schema.geometry_types
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    names = _TYPE_NAMES[shapely.get_type_id(geoms)]  # -1 (missing) picks "None"
    for i in np.flatnonzero(missing):
        if not reasons[i]:  # rows whose coordinates did not parse already say why
            reasons[i].append(Message("geometry: missing or empty location"))
    fitted: np.ndarray = geoms.copy()
    fitted[missing] = None
    for i in np.flatnonzero(~missing & ~np.isin(names, allowed)):
        fitted[i] = _coerce_type(geoms[i], allowed)
        if fitted[i] is None:
            reasons[i].append(Message("geometry: a {kind}, but the {layer} layer takes {kinds}",
                                      kind=str(names[i]), layer=schema.name,
                                      kinds=_either(allowed)))
    budget = max(schema.max_vertices, 1)
    nverts = shapely.get_num_coordinates(fitted)
    for i in np.flatnonzero(nverts > budget):  # before make_valid: minutes on huge polygons
        reasons[i].append(Message("geometry: {n} vertices, more than the {budget} allowed; "
                                  "simplify it", n=int(nverts[i]), budget=budget))
        fitted[i] = None
    for row, problem in _coordinate_problems(fitted).items():
        reasons[row].append(Message("coordinates: {reason}", reason=problem))
        fitted[row] = None
    repaired = _repair(fitted, allowed, reasons)
    seen = set(names[~missing])
    if len(seen) > 1:
        warnings.append(Message("the file mixes geometry types ({kinds}); rows that are not "
                                "{allowed} were rejected", kinds=", ".join(sorted(seen)),
                                allowed=_either(allowed)))
    if repaired == 1:
        warnings.append(Message("1 invalid geometry was repaired (self-intersections); check "
                                "its shape"))
    elif repaired:
        warnings.append(Message("{n} invalid geometries were repaired (self-intersections); "
                                "check their shape", n=repaired))
    return fitted


def _coordinate_problems(geoms: np.ndarray) -> dict[int, str]:
    """Rows with NaN/infinite, out-of-range or swapped coordinates, and why."""
    coords, index = shapely.get_coordinates(geoms, return_index=True)
    if coords.size == 0:
        return {}
    n = len(geoms)
    x, y = coords[:, 0], coords[:, 1]
    with np.errstate(invalid="ignore"):
        nonfinite = np.bincount(index[~np.isfinite(coords).all(axis=1)], minlength=n) > 0
        beyond = np.bincount(index[(np.abs(y) > 90) | (np.abs(x) > 180)], minlength=n) > 0
        unswappable = np.bincount(index[(np.abs(y) > 180) | (np.abs(x) > 90)], minlength=n) > 0
    out: dict[int, str] = {}
    for i in np.flatnonzero(nonfinite):
        out[int(i)] = Message("NaN or infinite coordinate")
    for i in np.flatnonzero(beyond & ~nonfinite):
        if not unswappable[i]:
            out[int(i)] = Message("latitude beyond 90 that fits as a longitude: latitude and "
                                  "longitude swapped?")
        else:
            first = shapely.get_coordinates(geoms[i])[0]
            out[int(i)] = Message("({x}, {y}) is out of range for degrees (lon -180..180, "
                                  "lat -90..90)", x=f"{first[0]:g}", y=f"{first[1]:g}")
    return out


def _repair(fitted: np.ndarray, allowed: tuple[str, ...], reasons: Reasons) -> int:
    """Repair invalid geometries in place (make_valid); refuse those that change type."""
    present = ~shapely.is_missing(fitted)
    invalid = present & ~shapely.is_valid(fitted)
    repaired = 0
    for i in np.flatnonzero(invalid):
        fixed = _coerce_type(shapely.make_valid(fitted[i]), allowed)
        if fixed is None or fixed.is_empty:
            why = shapely.is_valid_reason(fitted[i])
            reasons[i].append(Message("geometry: invalid ({why}) and cannot be repaired into "
                                      "{allowed}; redraw it", why=why,
                                      allowed=_either(allowed)))
            fitted[i] = None
        else:
            fitted[i] = fixed
            repaired += 1
    return repaired


def _suspect_swap(geoms: np.ndarray, reasons: Reasons, warnings: list[str]) -> None:
    pts = _first_points(np.array([g for g in geoms if g is not None], dtype=object))
    if pts.size == 0:
        return
    x0, y0, x1, y1 = REGION_BOUNDS
    x, y = pts[:, 0], pts[:, 1]
    inside = ((x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)).mean()
    swapped = ((y >= x0) & (y <= x1) & (x >= y0) & (x <= y1)).mean()
    if inside < 0.5 and swapped > 0.5:
        warnings.append(Message("only {inside}% of the locations fall in Latin America and the "
                                "Caribbean, {swapped}% would if latitude and longitude were "
                                "exchanged: check which column is which",
                                inside=round(100 * inside), swapped=round(100 * swapped)))


def _swapped_in_country(geoms: np.ndarray, countries: pd.Series, reasons: Reasons) -> None:
    """Refuse point rows outside their country that exchanging latitude and longitude puts in it.

    A row says its country (ISO code) and its location; when the point lies in another
    country or at sea (beyond :data:`NEAREST_COUNTRY_DEG`) but ``(lat, lon)`` read the other
    way round lies in the stated country, the columns were swapped (-74.1, 4.6 for Bogota
    lands in the Southern Ocean). Such rows are refused with the fix, not stored. A location
    that matches neither way is left alone (a coarse border, a vessel at sea).
    """
    from geo.countries import read_country_borders
    from geo.errors import DataNotFoundError

    stated = [None if pd.isna(v) else str(v) for v in countries]
    rows = np.array([i for i, g in enumerate(geoms) if g is not None and stated[i]
                     and g.geom_type == "Point" and not reasons[i]], dtype=int)
    if rows.size == 0:
        return
    try:
        borders = read_country_borders()
    except DataNotFoundError:
        return
    x, y = shapely.get_x(geoms[rows]), shapely.get_y(geoms[rows])
    here = borders.locate(x, y, within_deg=NEAREST_COUNTRY_DEG)
    candidates = [k for k, i in enumerate(rows) if here[k] != stated[i]
                  and abs(x[k]) <= 90]  # a longitude beyond 90 cannot be a latitude
    if not candidates:
        return
    turned = borders.locate(y[candidates], x[candidates], within_deg=NEAREST_COUNTRY_DEG)
    for k, code in zip(candidates, turned, strict=True):
        i = int(rows[k])
        if code == stated[i]:
            reasons[i].append(Message(
                "coordinates: latitude {lat}, longitude {lon} is not in {country}; it is with "
                "latitude and longitude exchanged: check which column is which",
                lat=f"{y[k]:g}", lon=f"{x[k]:g}", country=str(stated[i])))


def _columns(source: Source, mapping: Mapping, schema: LayerSchema, geoms: np.ndarray,
             reasons: Reasons, warnings: list[str], stamp: pd.Timestamp,
             lim: Limits) -> dict[str, pd.Series]:
    out: dict[str, pd.Series] = {}
    for col in schema.columns:
        raw = _raw(source, mapping, col.name)
        if raw.isna().all() and not col.required and col.name not in mapping.fields:
            continue
        raw = _fill_special(col, raw, source, schema, geoms, stamp)
        out[col.name] = _coerce(col, raw, mapping, reasons, warnings, stamp, lim)
    return out


def _fill_special(col: Column, raw: pd.Series, source: Source, schema: LayerSchema,
                  geoms: np.ndarray, stamp: pd.Timestamp) -> pd.Series:
    """Fill identifiers from the file hash, countries from the location, creation times."""
    missing = raw.isna().to_numpy(dtype=bool)
    if not missing.any():
        return raw
    if col.name == _ID_FIELDS.get(schema.name):
        made = pd.Series([f"{source.sha256[:10]}-{i + 1}" for i in range(len(raw))],
                         dtype="string")
        return raw.where(~missing, made)
    if col.name == "country":
        return raw.where(~missing, _countries(geoms))
    if col.name == "created_at":
        return raw.fillna(stamp.isoformat())
    return raw


NEAREST_COUNTRY_DEG = 0.25  # about 25 km: rivers and coasts the 1:50m borders leave at sea


def _countries(geoms: np.ndarray) -> pd.Series:
    """Country of each location from the Natural Earth borders, or the nearest within 25 km."""
    from geo.countries import read_country_borders
    from geo.errors import DataNotFoundError

    out = pd.Series([pd.NA] * len(geoms), dtype="string")
    ok = np.array([g is not None for g in geoms], dtype=bool)
    if not ok.any():
        return out
    try:
        borders = read_country_borders()
    except DataNotFoundError:
        return out  # rows without a country are then rejected with that reason
    pts = shapely.point_on_surface(geoms[ok])
    found = borders.locate(shapely.get_x(pts), shapely.get_y(pts),
                           within_deg=NEAREST_COUNTRY_DEG)
    for i, code in zip(np.flatnonzero(ok), found, strict=True):
        if code is not None:
            out.iat[int(i)] = code
    return out


def _coerce(col: Column, raw: pd.Series, mapping: Mapping, reasons: Reasons,
            warnings: list[str], stamp: pd.Timestamp, lim: Limits) -> pd.Series:
    missing = raw.isna().to_numpy(dtype=bool)
    if col.kind in ("float", "int"):
        values = _numbers(col, raw, mapping, reasons)
    elif col.kind == "datetime":
        values = _dates(col, raw, mapping, reasons, warnings, stamp)
    elif col.kind == "category":
        values = _categories(col, raw, mapping, reasons)
    else:
        values = _texts(col, raw, reasons, warnings, lim)
    if not col.nullable:
        for i in np.flatnonzero(missing):
            reasons[i].append(Message("{column}: empty, and it is required", column=col.name))
    if col.unique:
        repeated = values.duplicated(keep=False).to_numpy(dtype=bool) & ~values.isna().to_numpy()
        firsts: dict[object, int] = {}
        for k in np.flatnonzero(repeated):
            v = values.iat[int(k)]
            if v in firsts:
                reasons[k].append(Message("{column}: {value} repeats row {row}", column=col.name,
                                          value=repr(str(v)[:40]), row=firsts[v] + 1))
            else:
                firsts[v] = int(k)
    return values


def _numbers(col: Column, raw: pd.Series, mapping: Mapping, reasons: Reasons) -> pd.Series:
    values, bad = parse_numbers(raw)
    if col.name in ("quantity_kg", "volume_kg_year"):
        values = values * UNITS[mapping.quantity_unit]
    text = raw.fillna("").to_numpy(dtype=object)
    for i in np.flatnonzero(bad):
        reasons[i].append(Message("{column}: {value} is not a number", column=col.name,
                                  value=repr(str(text[i])[:30])))
    with np.errstate(invalid="ignore"):
        low = values < col.low if col.low is not None else np.zeros(len(values), bool)
        high = (values >= col.high if col.high_open else values > col.high) \
            if col.high is not None else np.zeros(len(values), bool)
    for i in np.flatnonzero(~np.isfinite(values) & ~np.isnan(values)):
        reasons[i].append(Message("{column}: infinite value", column=col.name))
    for i in np.flatnonzero(low | high):
        # numbers, so that a reader who writes 0,8 reads 0,8 (and 2,5 for the 2.5 read)
        span: dict[str, object] = {
            "column": col.name, "value": _as_typed(float(values[i])),
            "low": _as_typed(col.low) if col.low is not None else "-inf",
            "high": Number(col.high, 1) if col.high is not None else "inf"}
        if col.high == 1.0 and values[i] <= 100:
            reasons[i].append(Message("{column}: {value} is outside {low}..{high} (write "
                                      "{example} or 80%)", example=Number(0.8, 1), **span))
        else:
            reasons[i].append(Message("{column}: {value} is outside {low}..{high}", **span))
    return pd.Series(values, dtype="float64")


def _as_typed(value: float) -> Number:
    """Return ``value`` as a Number with the decimals of its shortest form (2.5: one).

    Examples
    --------
    >>> _as_typed(2.5), _as_typed(80.0).digits
    (Number(value=2.5, digits=1), 0)
    """
    text = f"{value:.6g}"
    digits = len(text.split(".")[1]) if "." in text and "e" not in text else 0
    return Number(value, digits)


def _dates(col: Column, raw: pd.Series, mapping: Mapping, reasons: Reasons,
           warnings: list[str], stamp: pd.Timestamp) -> pd.Series:
    dayfirst = mapping.dayfirst
    if dayfirst is None:
        detected = detect_dayfirst(raw)
        if detected is None and raw.fillna("").str.match(r"\s*\d{1,2}[/.]\d{1,2}[/.]").any():
            warnings.append(Message("{column}: dates such as 05/03/2024 read day first (5 "
                                    "March); change the mapping if they are month first",
                                    column=col.name))
        dayfirst = True if detected is None else detected
    values, bad = parse_dates(raw, dayfirst=dayfirst, timezone=mapping.timezone)
    text = raw.fillna("").to_numpy(dtype=object)
    for i in np.flatnonzero(bad):
        reasons[i].append(Message("{column}: cannot read {value} as a date", column=col.name,
                                  value=repr(str(text[i])[:30])))
    early = values < pd.Timestamp("1900-01-01", tz="UTC")
    late = values > stamp + pd.Timedelta(days=1)
    for i in np.flatnonzero((early | late).to_numpy(dtype=bool, na_value=False)):
        when = values.iat[int(i)]
        if late.iat[int(i)]:
            reasons[i].append(Message("{column}: {date} is in the future", column=col.name,
                                      date=f"{when:%Y-%m-%d}"))
        else:
            reasons[i].append(Message("{column}: {date} is before 1900", column=col.name,
                                      date=f"{when:%Y-%m-%d}"))
    return values


def _category_key(value: str) -> str:
    return normalise_name(value)


@lru_cache(maxsize=1)
def _shown_names() -> dict[str, tuple[str, ...]]:
    """Normalised name -> codes, for every name the app shows a category value by.

    In every interface language (:func:`geo.categories.category_labels`): a file written
    from what analysts read on screen ("pasta base de cocaína") imports as it reads. A name
    shared by values of two columns maps to both; the column's allowed values decide.
    """
    return codes_by_name(category_labels)


def _category_code(text: str, allowed: set[str]) -> str:
    """Code of one category value: its code, a known alias, or a name the app shows."""
    key = _category_key(text)
    if key in allowed:
        return key
    if key in _ALIASES:
        return _ALIASES[key]
    return next((c for c in _shown_names().get(key, ()) if c in allowed), key)


def _categories(col: Column, raw: pd.Series, mapping: Mapping, reasons: Reasons) -> pd.Series:
    allowed = set(col.allowed or ())
    custom = {k.strip(): v for k, v in mapping.values.get(col.name, {}).items()}
    convert: Callable[[str], str | None] = _country if col.name == "country" else \
        (lambda v: _category_code(v, allowed))
    present = raw.dropna().astype(str).str.strip()
    known: dict[str, str | None] = {}
    for text in present.unique():  # once per distinct value
        value = custom.get(text) or convert(text)
        known[text] = value if value in allowed else None
    hint = Message("a two-letter ISO code such as PE") if col.name == "country" else \
        ", ".join(sorted(allowed))
    values = np.array([known[t] for t in present], dtype=object)
    for i, text in zip(present.index[pd.isna(values)], present[pd.isna(values)], strict=True):
        reasons[i].append(Message("{column}: unknown value {value} (expected {hint})",
                                  column=col.name, value=repr(text[:30]), hint=hint))
    out = np.full(len(raw), None, dtype=object)
    out[present.index.to_numpy()] = values
    return pd.Series(out, dtype="object")


def _country_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for lang in ("en", "es", "pt"):
        for code, name in Locale(lang).territories.items():
            if code in ISO_COUNTRIES:
                names[normalise_name(name)] = code
    return names


_COUNTRY_NAMES: dict[str, str] = {}


def _country(text: str) -> str | None:
    if len(text) == 2 and text.upper() in ISO_COUNTRIES:
        return text.upper()
    if not _COUNTRY_NAMES:
        _COUNTRY_NAMES.update(_country_names())
    return _COUNTRY_NAMES.get(normalise_name(text))


def _texts(col: Column, raw: pd.Series, reasons: Reasons, warnings: list[str],
           lim: Limits) -> pd.Series:
    text = raw.astype("string").str.replace(_CONTROL, " ", regex=True).str.normalize("NFC")
    lengths = text.str.len().to_numpy(dtype="float64", na_value=0.0)
    for i in np.flatnonzero(lengths > MAX_TEXT):
        reasons[i].append(Message("{column}: text of {n} characters, more than {most}",
                                  column=col.name, n=int(lengths[i]), most=MAX_TEXT))
    html = int(text.str.contains(_HTML).fillna(False).sum())
    starts = text.str.match(r"[=+\-@\t\r]").fillna(False).to_numpy(dtype=bool)
    formulas = sum(is_formula(str(t)) for t in text[starts])
    if html:
        warnings.append(plural("{column}: {n} value contains HTML or script markup; kept as "
                               "plain text and always shown escaped, never run",
                               "{column}: {n} values contain HTML or script markup; kept as "
                               "plain text and always shown escaped, never run", "n",
                               column=col.name, n=html))
    if formulas:
        warnings.append(plural("{column}: {n} value begins like a spreadsheet formula (=, +, "
                               "-, @); kept as text and neutralised in every CSV export",
                               "{column}: {n} values begin like a spreadsheet formula (=, +, "
                               "-, @); kept as text and neutralised in every CSV export", "n",
                               column=col.name, n=int(formulas)))
    return pd.Series(text.astype(object).where(text.notna(), None).to_numpy(), dtype="object")


def _assemble(source: Source, mapping: Mapping, schema: LayerSchema,
              columns: dict[str, pd.Series], geoms: np.ndarray, reasons: Reasons,
              warnings: list[str], imported_by: str, stamp: pd.Timestamp) -> ImportReport:
    bad = np.array([bool(r) for r in reasons], dtype=bool)
    ok = ~bad
    frame = pd.DataFrame({k: v.to_numpy() for k, v in columns.items()})
    frame["source_file"] = source.name
    frame["source_sha256"] = source.sha256
    frame["imported_by"] = imported_by
    frame["imported_at"] = stamp
    accepted = gpd.GeoDataFrame(frame[ok], geometry=list(geoms[ok]), crs=4326)
    accepted.index = np.flatnonzero(ok)
    if len(accepted):
        clean, rep = check_layer(accepted.reset_index(drop=True), schema, source=source.name)
        if not rep.ok:  # our row checks mirror the contract: reaching this is a bug
            raise IngestError(f"internal validation mismatch: {rep.format()}")
        clean.index = accepted.index
        accepted = clean[[*columns, *PROVENANCE, "geometry"]]
    rejected = source.table[bad].copy()
    # object, not pandas' str dtype, which would keep only the messages' English text
    rejected.insert(0, "reason", pd.Series([join_messages("; ", r) for r in reasons if r],
                                           index=rejected.index, dtype=object))
    rejected.insert(0, "row", np.flatnonzero(bad) + 1)
    if not ok.any():
        first = rejected["reason"].iloc[0] if len(rejected) else "no rows"
        raise FileRefusedError(plural(
            "{name}: {n} row, which cannot be imported as {layer} ({reason})",
            "{name}: none of the {n} rows can be imported as {layer} (row 1: {reason})", "n",
            name=source.name, n=len(reasons), layer=schema.name,
            reason=first if len(first) <= 200 else first[:200]))
    return ImportReport(layer=schema.name, source=source.name, sha256=source.sha256,
                        file_format=source.format, n_rows=len(reasons), accepted=accepted,
                        rejected=rejected.reset_index(drop=True), warnings=warnings,
                        mapping=mapping, imported_by=imported_by, imported_at=stamp,
                        files=dict(source.files))
