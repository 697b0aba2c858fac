"""Safe readers, one per format, all returning a :class:`Source` (attribute table + geometry).

Each reader checks what the file *is* before a library parses it (the driver GDAL reports is
compared with an allow-list; zip archives are inspected first; XML may not declare entities),
caps the row count, and turns a library's failure into :class:`FileRefusedError` with a plain
message. CSV and spreadsheet cells are kept as text, so ``=HYPERLINK(...)`` stays inert data.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely
import shapely.errors
from pyproj.exceptions import CRSError

from geo.errors import AtalayaError
from geo.i18n import Message, plural
from geo.ingest.archive import extract_zip, inspect_zip, read_entry
from geo.ingest.errors import FileRefusedError, UnsafeFileError
from geo.ingest.kml import read_kml
from geo.ingest.limits import Limits
from geo.ingest.nesting import MAX_GEOMETRY_DEPTH, too_deep
from geo.ingest.text import decode_text
from geo.ingest.upload import Format, Upload

#: What GDAL must report for each format read through pyogrio.
DRIVERS: dict[str, str] = {"geojson": "GeoJSON", "gpkg": "GPKG", "zip": "ESRI Shapefile",
                           "xlsx": "XLSX"}
_ENTITY = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


@dataclass
class Source:
    """A file read into memory, before any mapping: every column as it came, plus geometry.

    Attributes
    ----------
    name, sha256, format
        From the :class:`~geo.ingest.upload.Upload`.
    table
        Attribute columns (text for CSV and spreadsheets), in file order; row ``i`` is the
        ``i + 1``-th data row.
    geometry
        Geometry of each row in EPSG:4326 (reprojected when the file declares another CRS),
        or None for a table whose coordinates are in columns.
    crs
        The CRS the file declared (``"EPSG:32718"``...), or None.
    encoding
        Text encoding that was used (CSV), or None.
    notes
        Warnings about reading (encoding fallback, reprojection...).
    files
        Files the commit step copies into the data folder (scene GeoTIFFs), by identifier.
    band_descriptions
        A scene's band descriptions as the file gives them ("" for none; cut to 40
        characters), shown beside the band role boxes.
    """

    name: str
    sha256: str
    format: Format
    table: pd.DataFrame
    geometry: gpd.GeoSeries | None = None
    crs: str | None = None
    encoding: str | None = None
    notes: list[str] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)
    band_descriptions: tuple[str, ...] = ()

    def preview(self, rows: int = 10) -> pd.DataFrame:
        """First ``rows`` rows as text (geometry as WKT, shortened), for the mapping step."""
        head = self.table.head(rows).astype("string")
        if self.geometry is not None:
            wkt = shapely.to_wkt(self.geometry.head(rows).to_numpy(), rounding_precision=6)
            shown = pd.Series([None if w is None else str(w)[:80] for w in wkt],
                              index=head.index, dtype="string")
            head = head.assign(geometry=shown)
        return head

    @property
    def columns(self) -> list[str]:
        """Attribute column names, in file order."""
        return [str(c) for c in self.table.columns]


def read_source(upload: Upload, *, limits: Limits | None = None,
                source_layer: str | None = None) -> Source:
    """Read an upload with the safe reader of its format.

    Parameters
    ----------
    upload
        From :func:`~geo.ingest.upload.receive_file`.
    limits
        Caps (rows, archive sizes, raster sizes).
    source_layer
        Layer of a GeoPackage holding several; default: the only one.

    Raises
    ------
    FileRefusedError, UnsafeFileError
        With the reason and the fix.
    """
    lim = limits or Limits()
    try:
        return _read(upload, lim, source_layer)
    except (RecursionError, ValueError, TypeError, KeyError, IndexError,
            shapely.errors.ShapelyError) as exc:  # a malformed file a library choked on
        if isinstance(exc, AtalayaError):
            raise
        raise FileRefusedError(Message("{name} cannot be read: {kind}: {error}",
                                       name=upload.name, kind=type(exc).__name__,
                                       error=str(exc)[:200])) from None


def _read(upload: Upload, lim: Limits, source_layer: str | None) -> Source:
    if upload.format == "geotiff":
        from geo.ingest.scenes import read_scene_source  # rasterio only when needed

        return read_scene_source(upload, limits=lim)
    if upload.format == "csv":
        return _read_csv(upload, lim)
    if upload.format in ("kml", "kmz"):
        return _read_kml(upload, lim)
    if upload.format == "parquet":
        return _read_parquet(upload, lim)
    path = upload.path
    if upload.format == "xlsx":
        _check_office_xml(upload, lim)
    elif upload.format == "zip":
        path = _find_shapefile(upload, lim)
    elif upload.format == "geojson":
        _check_json_start(upload)
    return _read_ogr(upload, path, lim, source_layer)


def _source(upload: Upload, table: pd.DataFrame, **kw: object) -> Source:
    return Source(name=upload.name, sha256=upload.sha256, format=upload.format,
                  table=table.reset_index(drop=True), **kw)  # type: ignore[arg-type]


def _read_csv(upload: Upload, lim: Limits) -> Source:
    text, encoding = decode_text(upload.path.read_bytes())
    notes: list[str] = []
    if encoding in ("cp1252", "latin-1"):
        notes.append(Message("{name} is not UTF-8; read as {encoding} (Windows/Latin-1). "
                             "Check accented letters in the preview",
                             name=upload.name, encoding=encoding))
    if not text.strip():
        raise FileRefusedError(Message("{name} holds no text; nothing to import",
                                       name=upload.name))
    if "\x00" in text:
        raise FileRefusedError(Message("{name} holds NUL characters: it is not a text table",
                                       name=upload.name))
    sep = _sniff(text)
    try:
        table = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False,
                            skipinitialspace=True, nrows=lim.max_rows + 1)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, csv.Error, ValueError) as exc:
        raise FileRefusedError(Message("{name} is not a readable table ({error}); save it as "
                                       "CSV with one header row",
                                       name=upload.name, error=str(exc))) from None
    if table.empty and not len(table.columns):
        raise FileRefusedError(Message("{name} has no header row; nothing to import",
                                       name=upload.name))
    if len(table) > lim.max_rows:
        raise FileRefusedError(Message("{name} has more than {n} rows; split it",
                                       name=upload.name, n=lim.max_rows))
    table.columns = [str(c).strip() for c in table.columns]
    return _source(upload, table.replace("", None), encoding=encoding, notes=notes)


def _sniff(text: str) -> str:
    sample = text[:65536]
    first = sample.splitlines()[0] if sample.splitlines() else ""
    counts = {s: first.count(s) for s in (",", ";", "\t", "|")}
    best = max(counts, key=lambda s: counts[s])
    return best if counts[best] > 0 else ","


def _read_kml(upload: Upload, lim: Limits) -> Source:
    if upload.format == "kmz":
        infos = inspect_zip(upload.path, shown=upload.name, limits=lim)
        docs = [i for i in infos if i.filename.lower().endswith(".kml")]
        if not docs:
            raise FileRefusedError(Message("{name} holds no .kml document", name=upload.name))
        doc = next((i for i in docs if i.filename.lower() == "doc.kml"), docs[0])
        data = read_entry(upload.path, doc, shown=upload.name, limits=lim)
    else:
        data = upload.path.read_bytes()
    gdf = read_kml(data, shown=upload.name, max_rows=lim.max_rows)
    table = pd.DataFrame(gdf.drop(columns="geometry"))
    return _source(upload, table, geometry=gdf.geometry.reset_index(drop=True), crs="EPSG:4326")


def _read_parquet(upload: Upload, lim: Limits) -> Source:
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(upload.path).metadata
        if meta.num_rows > lim.max_rows:
            raise FileRefusedError(Message("{name} has {n} rows; the cap is {cap}",
                                           name=upload.name, n=int(meta.num_rows),
                                           cap=lim.max_rows))
        gdf = gpd.read_parquet(upload.path)
    except FileRefusedError:
        raise
    except (OSError, ValueError, TypeError, KeyError, CRSError) as exc:  # a broken CRS too
        raise FileRefusedError(Message("{name} is not a readable GeoParquet file ({error})",
                                       name=upload.name, error=str(exc)[:200])) from None
    return _from_frame(upload, gdf)


def _check_office_xml(upload: Upload, lim: Limits) -> None:
    """Inspect an .xlsx (a zip of XML) and refuse entity declarations in any part."""
    for info in inspect_zip(upload.path, shown=upload.name, limits=lim):
        if info.filename.lower().endswith((".xml", ".rels")) and _ENTITY.search(
                read_entry(upload.path, info, shown=upload.name, limits=lim)):
            raise UnsafeFileError(Message("{name}: part {part} declares XML entities; refused",
                                          name=upload.name, part=repr(info.filename[:60])))


def _find_shapefile(upload: Upload, lim: Limits) -> Path:
    files = extract_zip(upload.path, upload.workdir / "unpacked", shown=upload.name, limits=lim)
    shps = [p for p in files if p.suffix.lower() == ".shp"]
    if not shps:
        raise FileRefusedError(Message("{name} must hold exactly one shapefile (.shp); found 0: "
                                       "none. Zip one layer per file", name=upload.name))
    if len(shps) > 1:
        found = ", ".join(p.name.split("_", 1)[1] for p in shps)
        raise FileRefusedError(Message("{name} must hold exactly one shapefile (.shp); found "
                                       "{n}: {found}. Zip one layer per file",
                                       name=upload.name, n=len(shps), found=found))
    shp = shps[0]
    stem = shp.name[:-4].split("_", 1)[1].lower()
    siblings = {p.suffix.lower(): p for p in files
                if p.name.split("_", 1)[1].lower().rsplit(".", 1)[0] == stem}
    missing = [s for s in (".shx", ".dbf") if s not in siblings]
    if len(missing) == 1:
        raise FileRefusedError(Message("{name}: the shapefile {stem}.shp comes without {part}; "
                                       "zip all its parts together",
                                       name=upload.name, stem=stem, part=missing[0]))
    if missing:
        raise FileRefusedError(Message("{name}: the shapefile {stem}.shp comes without {part} "
                                       "and {other}; zip all its parts together",
                                       name=upload.name, stem=stem, part=missing[0],
                                       other=missing[1]))
    if ".prj" not in siblings:
        raise FileRefusedError(Message("{name}: the shapefile has no .prj, so its coordinate "
                                       "system is unknown; add the .prj (coordinates are never "
                                       "guessed)", name=upload.name))
    # GDAL finds the parts by name: give them one common server-made stem.
    folder = upload.workdir / "shape"
    folder.mkdir()
    for suffix, p in siblings.items():
        p.rename(folder / f"layer{suffix}")
    return folder / "layer.shp"


def _check_json_start(upload: Upload) -> None:
    with open(upload.path, "rb") as fh:
        head = fh.read(4096)
    text, _ = decode_text(head)
    if not text.lstrip("\ufeff \t\r\n").startswith("{"):
        raise FileRefusedError(Message("{name} is not GeoJSON: it does not start with '{{'",
                                       name=upload.name))


def _read_ogr(upload: Upload, path: Path, lim: Limits, layer: str | None) -> Source:
    expected = DRIVERS[upload.format]
    try:
        layers = pyogrio.list_layers(path)
        names = [str(n) for n, _ in layers]
        if layer is None and len(names) > 1 and upload.format == "gpkg":
            raise FileRefusedError(Message("{name} holds {n} layers ({layers}); choose one",
                                           name=upload.name, n=len(names),
                                           layers=", ".join(names[:10])))
        chosen = layer if layer is not None else (names[0] if names else None)
        if chosen is not None and chosen not in names:
            raise FileRefusedError(Message("{name} has no layer {layer}",
                                           name=upload.name, layer=repr(chosen)))
        info = pyogrio.read_info(path, layer=chosen)
        if info.get("driver") != expected:
            raise FileRefusedError(Message("{name}: GDAL reads it as {driver}, expected "
                                           "{expected}; refused", name=upload.name,
                                           driver=repr(info.get("driver")), expected=expected))
        if int(info.get("features") or 0) > lim.max_rows:
            raise FileRefusedError(Message("{name} has {n} features; the cap is {cap}",
                                           name=upload.name, n=int(info["features"]),
                                           cap=lim.max_rows))
        if upload.format == "xlsx":
            # every cell as text (formulas stay inert), first row as the header
            pyogrio.set_gdal_config_options({"OGR_XLSX_FIELD_TYPES": "STRING",
                                             "OGR_XLSX_HEADERS": "FORCE"})
        gdf = pyogrio.read_dataframe(path, layer=chosen)
    except FileRefusedError:
        raise
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError,
            pyogrio.errors.FieldError, pyogrio.errors.GeometryError, RuntimeError, OSError,
            ValueError) as exc:
        raise FileRefusedError(Message("{name} cannot be read as {expected} ({error})",
                                       name=upload.name, expected=expected,
                                       error=str(exc)[:200])) from None
    return _from_frame(upload, gdf)


def _from_frame(upload: Upload, frame: pd.DataFrame) -> Source:
    """Split a (Geo)DataFrame into table and geometry, reprojecting a declared CRS."""
    notes: list[str] = []
    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.name not in frame.columns \
            or frame.geometry.isna().all():
        table = pd.DataFrame(frame).drop(columns=["geometry"], errors="ignore")
        return _source(upload, _as_text(table), notes=notes)
    geom = frame.geometry
    deep = too_deep(geom.to_numpy())  # measured here, in the reader's worker (see nesting)
    if deep.any():
        geom = geom.where(~deep, None)
        notes.append(plural("{n} geometry nests collections more than {max} deep and was "
                            "left out", "{n} geometries nest collections more than {max} deep "
                            "and were left out", "n", n=int(deep.sum()),
                            max=MAX_GEOMETRY_DEPTH))
    crs = geom.crs.to_string() if geom.crs is not None else None
    if geom.crs is None:
        raise FileRefusedError(Message("{name} declares no coordinate system; export it with "
                                       "its CRS (or as EPSG:4326). Coordinates are never guessed",
                                       name=upload.name))
    if geom.crs.is_projected and len(geom.dropna()) and _looks_like_degrees(geom):
        raise FileRefusedError(Message("{name} declares {crs} (metres) but its coordinates look "
                                       "like degrees (all within -180..180, -90..90); the "
                                       "declared CRS is wrong: export it as EPSG:4326",
                                       name=upload.name, crs=str(crs)))
    if geom.crs.to_epsg() != 4326:
        try:
            geom = geom.to_crs(4326)
        except Exception as exc:  # pyproj raises several types; all mean the same here
            raise FileRefusedError(Message("{name}: cannot reproject from {crs} to EPSG:4326 "
                                           "({error})", name=upload.name, crs=str(crs),
                                           error=str(exc)[:120])) from None
        notes.append(Message("reprojected from {crs} to EPSG:4326", crs=str(crs)))
    table = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    return _source(upload, _as_text(table), geometry=geom.reset_index(drop=True), crs=crs,
                   notes=notes)


def _looks_like_degrees(geom: gpd.GeoSeries) -> bool:
    x0, y0, x1, y1 = geom.total_bounds
    return bool(-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90)


def _as_text(table: pd.DataFrame) -> pd.DataFrame:
    """Columns as they came, except times and numbers which become text the parsers read."""
    out = {}
    for col in table.columns:
        s = table[col]
        if pd.api.types.is_datetime64_any_dtype(s.dtype):
            out[str(col)] = s.map(lambda v: None if pd.isna(v) else v.isoformat())
        elif pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_numeric_dtype(s.dtype):
            out[str(col)] = s.map(lambda v: None if pd.isna(v) else repr(v.item())
                                  if hasattr(v, "item") else str(v))
        else:
            out[str(col)] = s.map(lambda v: None if v is None or (isinstance(v, float)
                                                                  and pd.isna(v)) else str(v))
    return pd.DataFrame(out, index=table.index)


__all__ = ["DRIVERS", "Source", "read_source"]
