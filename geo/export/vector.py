"""Vector writers: GeoPackage, GeoJSON (zipped), Shapefile (zipped) and CSV, through GDAL.

Every writer takes the frames of :func:`geo.export.frames.snapshot_layers` (EPSG:4326, plain
text, UTC times) and writes one table or file per layer; what a format changes in the data is
returned as notes for the manifest (Shapefile field names and text length, CSV neutralised
cells).
"""

from __future__ import annotations

import json
import re
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from geo.export.paths import target

__all__ = [
    "FORMULA_PREFIXES",
    "GEOMETRY_TYPES",
    "SHAPEFILE_TEXT_BYTES",
    "neutralise_cell",
    "shapefile_field_names",
    "write_csv",
    "write_geojson_zip",
    "write_gpkg",
    "write_shapefile_zip",
]

#: Geometry type of each layer's table when it is empty (GDAL cannot infer one from no rows).
GEOMETRY_TYPES: Mapping[str, str] = {"events": "Point", "routes": "MultiLineString",
                                     "candidates": "Polygon", "aerodromes": "Point",
                                     "scenes": "Polygon"}
#: A spreadsheet runs a cell starting with these as a formula (OWASP's list, with TAB and CR).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
SHAPEFILE_TEXT_BYTES = 254
#: Shapefile (dBase) field names hold at most 10 characters: our names, shortened readably.
_SHORT_NAMES: Mapping[str, str] = {
    "occurred_at": "occurred", "quantity_kg": "qty_kg", "description": "descript",
    "destination": "destinat", "volume_kg_year": "vol_kg_yr", "candidate_id": "cand_id",
    "detected_at": "detected", "bearing_deg": "bearing", "runway_length_m": "rwy_len_m",
    "resolution_m": "resol_m", "acquired_at": "acquired", "cloud_share": "cloud_shr",
}


def _geometry_type(gdf: gpd.GeoDataFrame, layer: str) -> str | None:
    if len(gdf) == 0:
        return GEOMETRY_TYPES.get(layer, "Unknown")
    return None  # let GDAL infer (and promote mixed LineString/MultiLineString)


def _write(gdf: gpd.GeoDataFrame, path: Path, layer: str, driver: str, **kw: Any) -> None:
    with warnings.catch_warnings():
        # Laundered names and truncation are handled (and documented) before GDAL sees them.
        warnings.filterwarnings("ignore", category=RuntimeWarning, module="pyogrio")
        pyogrio.write_dataframe(gdf, path, layer=layer, driver=driver,
                                geometry_type=_geometry_type(gdf, layer), **kw)


def write_gpkg(layers: Mapping[str, gpd.GeoDataFrame], out_dir: Path, name: str,
               manifest: Mapping[str, Any]) -> Path:
    """Write one GeoPackage: a table per layer, and ``snapshot_manifest`` (key, value).

    The manifest table holds the snapshot's description (who, when, filters, extent, counts)
    as JSON; the files' hashes are in ``manifest.json`` only (a file cannot hold its own hash).
    """
    path = target(out_dir, name)
    path.unlink(missing_ok=True)
    for layer, gdf in layers.items():
        _write(gdf, path, layer, "GPKG")
    rows = pd.DataFrame({"key": list(manifest), "value": [
        v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
        for v in manifest.values()]})
    pyogrio.write_dataframe(rows, path, layer="snapshot_manifest", driver="GPKG")
    return path


def _zip(paths: list[Path], path: Path) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for p in paths:
            zf.write(p, arcname=p.name)
            p.unlink()
    return path


def write_geojson_zip(layers: Mapping[str, gpd.GeoDataFrame], out_dir: Path,
                      name: str) -> Path:
    """Write ``<layer>.geojson`` (EPSG:4326, full precision) per layer, zipped into ``name``."""
    files = []
    for layer, gdf in layers.items():
        p = target(out_dir, f"{layer}.geojson")
        p.unlink(missing_ok=True)
        _write(gdf, p, layer, "GeoJSON")
        files.append(p)
    return _zip(files, target(out_dir, name))


def shapefile_field_names(columns: list[str]) -> dict[str, str]:
    """Map column names to unique dBase names of at most 10 characters.

    Examples
    --------
    >>> shapefile_field_names(["event_id", "occurred_at", "runway_length_m", "a_very_long_x"])
    {'event_id': 'event_id', 'occurred_at': 'occurred', 'runway_length_m': 'rwy_len_m', \
'a_very_long_x': 'a_very_lon'}
    """
    out: dict[str, str] = {}
    used: set[str] = set()
    for col in columns:
        short = col if len(col) <= 10 else _SHORT_NAMES.get(col, col[:10])
        base, n = short, 1
        while short.lower() in used:
            suffix = str(n)
            short, n = base[:10 - len(suffix)] + suffix, n + 1
        used.add(short.lower())
        out[col] = short
    return out


def _cut_utf8(value: object, limit: int) -> object:
    if not isinstance(value, str) or len(value.encode("utf-8")) <= limit:
        return value
    return value.encode("utf-8")[:limit].decode("utf-8", errors="ignore")


def _text_times(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    out = gdf.copy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.DatetimeTZDtype):
            text = out[col].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
            out[col] = pd.Series([None if pd.isna(v) else str(v) for v in text],
                                 index=out.index, dtype=object)
    return out


def write_shapefile_zip(layers: Mapping[str, gpd.GeoDataFrame], out_dir: Path,
                        name: str) -> tuple[Path, dict[str, Any]]:
    """Write one Shapefile per layer (UTF-8, ``.cpg``), zipped; return the path and notes.

    Shapefiles hold no time of day and no text longer than 254 bytes, and name fields with at
    most 10 characters: times are written as ISO 8601 text, longer text is cut (at a character
    boundary) and fields renamed; the notes say which, per layer.
    """
    files: list[Path] = []
    notes: dict[str, Any] = {"fields": {}, "truncated_text": {}}
    for layer, gdf in layers.items():
        frame = _text_times(gdf)
        names = shapefile_field_names([c for c in frame.columns if c != frame.geometry.name])
        cut = 0
        for col in names:
            if frame[col].dtype == object:
                before = frame[col].to_numpy()
                after = np.array([_cut_utf8(v, SHAPEFILE_TEXT_BYTES) for v in before],
                                 dtype=object)
                cut += int(sum(a is not b for a, b in zip(before, after, strict=True)))
                frame[col] = after
        frame = frame.rename(columns=names)
        shp = target(out_dir, f"{layer}.shp")
        _write(frame, shp, layer, "ESRI Shapefile", encoding="UTF-8")
        files += [p for p in (shp.with_suffix(s) for s in (".shp", ".shx", ".dbf", ".prj",
                                                            ".cpg")) if p.exists()]
        notes["fields"][layer] = {k: v for k, v in names.items() if k != v}
        if cut:
            notes["truncated_text"][layer] = cut
    return _zip(files, target(out_dir, name)), notes


def neutralise_cell(value: object) -> object:
    """Prefix text a spreadsheet would run as a formula with ``'`` (shown, never evaluated).

    Examples
    --------
    >>> neutralise_cell("=cmd|' /C calc'!A0"), neutralise_cell("São Paulo"), neutralise_cell(-3.5)
    ("'=cmd|' /C calc'!A0", 'São Paulo', -3.5)
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


_NEEDS_CHECK = re.compile(r"^[=+\-@\t\r]")


def _csv_frame(gdf: gpd.GeoDataFrame) -> tuple[pd.DataFrame, int]:
    frame = pd.DataFrame(_text_times(gdf).drop(columns=gdf.geometry.name))
    neutralised = 0
    for col in frame.columns:
        if frame[col].dtype == object:
            text = frame[col]
            hits = np.array([isinstance(v, str) and _NEEDS_CHECK.match(v) is not None
                             for v in text], dtype=bool)
            if hits.any():
                values = text.to_numpy(copy=True)
                values[hits] = ["'" + v for v in values[hits]]
                frame[col] = pd.Series(values, index=frame.index, dtype=object)
                neutralised += int(hits.sum())
    geoms = gdf.geometry.to_numpy()
    if len(gdf) and bool(np.all(shapely.get_type_id(geoms) == 0)):
        frame["lon"] = shapely.get_x(geoms)
        frame["lat"] = shapely.get_y(geoms)
    frame["wkt"] = shapely.to_wkt(geoms, rounding_precision=-1)
    return frame, neutralised


def write_csv(layers: Mapping[str, gpd.GeoDataFrame], out_dir: Path,
              prefix: str) -> tuple[list[Path], dict[str, int]]:
    """Write ``<prefix>-<layer>.csv`` per layer (UTF-8 with BOM for spreadsheets).

    Columns: the attributes (times ISO 8601 UTC), ``lon``/``lat`` for point layers, and
    ``wkt`` (EPSG:4326) for every layer. Text cells starting with ``= + - @`` (or TAB, CR)
    are prefixed with ``'`` so a spreadsheet shows them instead of running them; numbers
    (negative longitudes) are left alone. Returns the files and the neutralised cells per
    layer.
    """
    paths, counts = [], {}
    for layer, gdf in layers.items():
        frame, neutralised = _csv_frame(gdf)
        path = target(out_dir, f"{prefix}-{layer}.csv")
        frame.to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\r\n",
                     float_format=None)
        paths.append(path)
        counts[layer] = neutralised
    return paths, counts


#: Longest text an Excel cell holds; a longer value (a long line's WKT) is left out.
XLSX_CELL_CHARS = 32_767


def _xlsx_frame(gdf: gpd.GeoDataFrame) -> tuple[pd.DataFrame, int]:
    """Return a layer as a sheet: attributes, times as naive UTC, ``lon``/``lat``, ``wkt``.

    Also returns how many WKT cells were left empty for being over
    :data:`XLSX_CELL_CHARS`.
    """
    frame = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    for col in frame.columns:
        if isinstance(frame[col].dtype, pd.DatetimeTZDtype):
            frame[col] = frame[col].dt.tz_convert("UTC").dt.tz_localize(None)
    geoms = gdf.geometry.to_numpy()
    if len(gdf) and bool(np.all(shapely.get_type_id(geoms) == 0)):
        frame["lon"] = shapely.get_x(geoms)
        frame["lat"] = shapely.get_y(geoms)
    wkt = shapely.to_wkt(geoms, rounding_precision=-1)
    long = np.array([isinstance(v, str) and len(v) > XLSX_CELL_CHARS for v in wkt], dtype=bool)
    frame["wkt"] = pd.Series(np.where(long, None, wkt), index=frame.index, dtype=object)
    return frame, int(long.sum())


def write_xlsx(layers: Mapping[str, gpd.GeoDataFrame], out_dir: Path,
               name: str) -> tuple[Path, dict[str, int]]:
    """Write one workbook, a sheet per layer, for spreadsheets in any locale (GDAL's XLSX).

    Unlike a CSV, nothing depends on the reader's list separator or decimal sign: numbers
    are numbers, times are dates (UTC, to the second) and text is text. Text is stored as
    strings, never as formulas, so a cell such as ``=HYPERLINK(...)`` shows as typed and is
    kept exactly. Columns as in the CSV: the attributes, ``lon``/``lat`` for point layers and
    ``wkt`` (EPSG:4326). Returns the path and, per layer, the WKT cells left empty for being
    longer than a cell holds.
    """
    path = target(out_dir, name)
    left_out: dict[str, int] = {}
    for i, (layer, gdf) in enumerate(layers.items()):
        frame, long = _xlsx_frame(gdf)
        left_out[layer] = long
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # GDAL's notes on field widths
            pyogrio.write_dataframe(frame, path, layer=layer, driver="XLSX", append=i > 0)
    return path, left_out
