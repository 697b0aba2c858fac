"""GeoTIFF scenes for the imagery catalogue: header checks, footprint, date, bands, clouds.

First the declared size, the side lengths, the band count, the storage blocks and the ratio of
declared pixels to file size (a tiny file declaring gigabytes of identical pixels is a
decompression bomb) are checked. Then every pixel is decoded, in strips of rows: the pass
proves every block decodes (a truncated or corrupt file is refused here, not later on the
map) and that one pixel at least is valid, and gives the cloud share when a mask band
(``scl`` or ``cloud``) exists.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from dataclasses import replace
from typing import NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
from rasterio.windows import Window
from shapely.geometry import Polygon

from geo.errors import AtalayaError, ImageryError
from geo.i18n import Message, Number, message_of
from geo.imagery import (
    MAX_BLOCK_BYTES,
    SCL_INVALID,
    BandRoles,
    _acquired,
    described_roles,
    gcps_only,
    open_geotiff,
    raster_outline,
    roles_from_descriptions,
)
from geo.ingest.errors import FileRefusedError, UnsafeFileError
from geo.ingest.limits import Limits
from geo.ingest.readers import Source
from geo.ingest.upload import Upload
from geo.reproject import UtmGrid, needs_reprojection, oversized, utm_grid

SCENE_COLUMNS = ("scene_id", "path", "acquired_at", "sensor", "native_crs", "resolution_m",
                 "bands", "cloud_share")
CHECK_PIXELS = 256  # side of the decimated read that proves the file decodes


def _check_header(src: rasterio.DatasetReader, upload: Upload, lim: Limits) -> None:
    shown = upload.name
    if src.width > lim.max_raster_side or src.height > lim.max_raster_side:
        raise UnsafeFileError(Message("{name} declares {width} x {height} pixels; at most "
                                      "{limit} per side are accepted. Clip the scene",
                                      name=shown, width=int(src.width), height=int(src.height),
                                      limit=int(lim.max_raster_side)))
    if src.count > lim.max_bands:
        raise FileRefusedError(Message("{name} declares {count} bands; at most {limit} are "
                                       "accepted", name=shown, count=int(src.count),
                                       limit=int(lim.max_bands)))
    dtype = np.dtype(src.dtypes[0])
    if dtype.kind not in "uif":
        raise FileRefusedError(Message("{name} holds {dtype} pixels; expected integer or real "
                                       "bands", name=shown, dtype=str(dtype)))
    declared = src.width * src.height * src.count * dtype.itemsize
    if declared > lim.max_raster_bytes:
        raise UnsafeFileError(Message("{name} declares {size} GB of pixels; the cap is {cap} GB",
                                      name=shown, size=Number(declared / 1e9, 1),
                                      cap=Number(lim.max_raster_bytes / 1e9, 1)))
    ratio = declared / max(upload.size, 1)
    if declared > 16 * 1024**2 and ratio > lim.max_ratio:
        raise UnsafeFileError(Message("{name} would decode to {ratio} times its file size "
                                      "({decoded} MB from {size} MB); refused as a "
                                      "decompression bomb", name=shown, ratio=Number(ratio, 0),
                                      decoded=Number(declared / 1e6, 0),
                                      size=Number(upload.size / 1e6, 1)))
    rows, cols = src.block_shapes[0]
    if rows * cols * src.count * dtype.itemsize > MAX_BLOCK_BYTES:
        raise UnsafeFileError(Message("{name} stores its pixels in {cols} x {rows} blocks, too "
                                      "large to decode one at a time; re-tile it "
                                      "(gdal_translate -co TILED=YES)", name=shown,
                                      cols=int(cols), rows=int(rows)))
    if src.crs is None and src.gcps[0]:
        raise FileRefusedError(gcps_only(shown))
    if src.crs is None:
        raise FileRefusedError(Message("{name} has no CRS; set it (gdal_edit.py -a_srs "
                                       "EPSG:...) - the place of a scene is never guessed",
                                       name=shown))
    if src.transform.is_identity or src.transform.determinant == 0:
        # GDAL reads a file without a geotransform as 1 m pixels from (0, 0): not a place
        raise FileRefusedError(Message("{name} has no georeferencing (no pixel-to-ground "
                                       "transform); set it (gdal_edit.py -a_ullr) - "
                                       "the place of a scene is never guessed", name=shown))


def _footprint(src: rasterio.DatasetReader) -> Polygon:
    poly = raster_outline(src.width, src.height, src.transform, src.crs.to_wkt())
    if poly is None:
        raise FileRefusedError(Message("the scene's corners cannot be placed on the globe; "
                                       "check its CRS"))
    return poly


#: A number the import's parser reads with its dots as thousands separators.
_GROUPED = re.compile(r"[+-]?\d{1,3}(\.\d{3})+")


def _number_text(value: float) -> str:
    """Write a number for the import's text parser so that it cannot be misread.

    The parser reads ``3.125`` as three thousand one hundred and twenty-five (Spanish digit
    grouping, as a user's spreadsheet would mean it); with a fourth decimal it cannot. The
    text is also what the import's "First rows" show, so it is the shortest exact one.

    Examples
    --------
    >>> _number_text(3.125), _number_text(0.375), _number_text(10.09), _number_text(1e-05)
    ('3.1250', '0.3750', '10.09', '1e-05')
    """
    text = repr(float(value))
    return text + "0" if _GROUPED.fullmatch(text) else text


def _resolution_m(src: rasterio.DatasetReader) -> float:
    res = float(abs(src.transform.a))
    if src.crs.is_geographic:
        return res * 111_320.0  # degrees at the equator; only an indication for the catalogue
    factor = src.crs.linear_units_factor[1] if src.crs.linear_units_factor else 1.0
    return res * float(factor)


#: Rows of full-resolution pixels decoded at a time by :func:`_decode_check` (all bands: a
#: Sentinel-2 tile's 10,980 columns x 5 bands x 2 bytes x 512 rows = 56 MB).
CHECK_ROWS = 512


def _decode_check(src: rasterio.DatasetReader, upload: Upload,
                  mask_band: tuple[str, int] | None) -> float | None:
    """Decode every pixel of every band, in strips of rows; return the cloud share or None.

    A decimated read proved nothing: it reads the file's overviews when it has them, and a
    scene whose full-resolution tiles were damaged was stored, then failed detection
    (reliability review, 2026-12-05). The cloud share is measured on every
    ``CHECK_PIXELS``-th row and column of the mask band. A scene without one valid pixel
    (:func:`_has_valid_pixel`) is refused: nothing could be seen or detected in it.
    """
    step_r = max(1, -(-src.height // CHECK_PIXELS))
    step_c = max(1, -(-src.width // CHECK_PIXELS))
    sampled: list[np.ndarray] = []
    skip = () if mask_band is None else (mask_band[1] - 1,)
    seen = False
    try:
        for row0 in range(0, src.height, CHECK_ROWS):
            rows = min(CHECK_ROWS, src.height - row0)
            stack = src.read(window=Window(0, row0, src.width, rows))
            seen = seen or _has_valid_pixel(stack, src.nodatavals, skip)
            if mask_band is not None:
                first = (-row0) % step_r  # keep the rows on the global grid of samples
                sampled.append(stack[mask_band[1] - 1, first::step_r, ::step_c])
    except (rasterio.errors.RasterioError, MemoryError) as exc:
        cause = exc.__cause__ or exc
        raise FileRefusedError(Message("{name} cannot be decoded ({cause}); the file is corrupt "
                                       "or truncated", name=upload.name,
                                       cause=str(cause)[:160])) from None
    if not seen:
        raise FileRefusedError(Message("{name} holds no valid pixel: every pixel is no data "
                                       "(the file's nodata value) or not a number, so nothing "
                                       "could be seen or detected in it; check the export",
                                       name=upload.name))
    if mask_band is None:
        return None
    band = np.concatenate(sampled) if sampled else np.zeros((0, 0))
    cloudy = np.isin(band, SCL_INVALID) if mask_band[0] == "scl" else band != 0
    return float(cloudy.mean()) if band.size else None


def _has_valid_pixel(stack: np.ndarray, nodata: tuple[float | None, ...],
                     skip: tuple[int, ...] = ()) -> bool:
    """Whether one pixel of ``stack`` (bands, rows, columns) is valid in every band.

    Valid: finite, and not the band's ``nodata`` value; the bands at the indices ``skip``
    (a cloud mask, whose 0 is a value) are not looked at. As in :mod:`geo.imagery`, a pixel
    with one band missing is not a pixel detection can use.

    Examples
    --------
    >>> a = np.array([[[0, 5]], [[7, 0]]], dtype=np.uint16)
    >>> _has_valid_pixel(a, (0, 0)), _has_valid_pixel(a, (0, None))
    (False, True)
    >>> _has_valid_pixel(np.full((1, 2, 2), np.nan), (None,))
    False
    """
    ok = np.ones(stack.shape[1:], dtype=bool)
    for i, band in enumerate(stack):
        if i in skip:
            continue
        if band.dtype.kind == "f":
            ok &= np.isfinite(band)
        value = nodata[i] if i < len(nodata) else None
        if value is not None and not np.isnan(value):
            ok &= band != value
    return bool(ok.any())


def _notes(src: rasterio.DatasetReader, grid: UtmGrid | None) -> list[str]:
    """Warnings for the import report: a UTM copy is stored; detection cannot name the bands.

    The app's detection jobs take the band roles from the band descriptions only (no
    ``--bands``), so a scene whose bands they cannot tell apart (:func:`detectable`, on the
    descriptions) is never detected on until its bands are given roles: the report says so
    before it is stored, and the import page offers the band role boxes.
    """
    notes: list[str] = []
    if grid is not None:
        notes.append(Message("stored on its UTM grid (EPSG:{epsg}, {res} m pixels): detection "
                             "measures in ground metres on square pixels",
                             epsg=str(grid.epsg), res=Number(grid.res_m, 2)))
    if not _usable(tuple(src.descriptions)):
        notes.append(BANDS_UNNAMED)
    return notes


#: The import report's warning for a scene whose bands detection cannot tell apart.
BANDS_UNNAMED = Message("detection cannot tell which band is which from the band "
                        "descriptions (it needs blue, green and red at least): give the "
                        "bands their roles on the import page (or --bands to the import "
                        "command), or detect on it from the command line with --bands")


def name_bands(source: Source, roles: Mapping[str, int]) -> Source:
    """Give a scene source's bands the roles the user gave (its catalogue row and notes).

    ``roles`` (``{role: 1-based index}``, checked by :class:`~geo.ingest.Mapping`) replace
    the names the band descriptions gave; the warning that detection cannot tell the bands
    apart stays only if it still cannot (:func:`detectable`). The stored copy gets them as
    band descriptions at commit (:func:`geo.ingest.commit.describe_bands`).

    Raises
    ------
    FileRefusedError
        A role names a band the file does not have.
    """
    table = source.table.copy()
    table["bands"] = [renamed_bands(str(text), roles, source.name) for text in table["bands"]]
    named = all(detectable(str(text)) for text in table["bands"])
    notes = [n for n in source.notes if not (named and n == BANDS_UNNAMED)]
    return replace(source, table=table, notes=notes)


def detectable(bands: str) -> bool:
    """Whether detection can tell apart the bands a catalogue row's ``bands`` lists.

    As :mod:`geo.imagery` reads a scene: red, NIR and SWIR1, or blue, green and red, named;
    or three bands none of which is named (taken as red, green, blue).

    Examples
    --------
    >>> detectable("red,nir,swir1,band4"), detectable("band1,band2,band3")
    (True, True)
    >>> detectable("blue,green,band3,band4")
    False
    """
    return _usable(tuple(bands.split(",")))


def _usable(descriptions: tuple[str | None, ...]) -> bool:
    return BandRoles.from_mapping(described_roles(descriptions)[0]).usable


def renamed_bands(bands: str, roles: Mapping[str, int], name: str) -> str:
    """Return a catalogue row's ``bands`` text once ``roles`` are given (as many bands).

    Raises
    ------
    FileRefusedError
        A role names a band beyond those ``bands`` lists (``name``: the file, for the message).

    Examples
    --------
    >>> renamed_bands("band1,band2,band3,band4", {"red": 1, "green": 2, "blue": 3}, "a.tif")
    'red,green,blue,band4'
    """
    count = len(bands.split(","))
    beyond = sorted(f"{r}={i}" for r, i in roles.items() if i > count)
    if beyond:
        raise FileRefusedError(Message("the band roles {pairs} name bands {name} does not "
                                       "have: it has {count}", pairs=", ".join(beyond),
                                       name=name, count=Number(count)))
    by_index = {i: r for r, i in roles.items()}
    return ",".join(by_index.get(i, f"band{i}") for i in range(1, count + 1))


#: A band description is kept to this many characters (shown beside its role box).
DESCRIPTION_CHARS = 40


class _Read(NamedTuple):
    row: dict[str, object]
    footprint: Polygon
    crs: str
    notes: list[str]
    descriptions: tuple[str, ...]


def _catalogue_row(upload: Upload, limits: Limits) -> _Read:
    """Check the header, decode every pixel, build the catalogue row and the report's notes."""
    with open_geotiff(upload.path) as src:
        _check_header(src, upload, limits)
        roles = roles_from_descriptions(src.descriptions)
        names = {i: r for r, i in roles.items()}
        bands = ",".join(names.get(i, f"band{i}") for i in range(1, src.count + 1))
        mask = next(((r, i) for r, i in roles.items() if r in ("scl", "cloud")), None)
        cloud = _decode_check(src, upload, mask)
        tags = src.tags()
        acquired = _acquired(tags, upload.path.with_name(upload.name))
        scene_id = upload.path.with_name(upload.name).stem
        # a scene the detector cannot measure as it is (in degrees, Web Mercator, feet, on a
        # rotated grid) is stored on its UTM grid (geo.reproject, at commit): refused here if
        # it has none, and catalogued at the resolution it will be stored at
        res = _resolution_m(src)
        grid = utm_grid(src) if needs_reprojection(src) else None
        if grid is not None:
            too_large = oversized(upload.name, grid, src, limits.max_raster_bytes)
            if too_large is not None:
                raise UnsafeFileError(too_large)
            res = grid.res_m
        row = {"scene_id": scene_id, "path": f"scenes/{scene_id}.tif",
               "acquired_at": acquired.isoformat() if acquired else None,
               "sensor": tags.get("SENSOR") or tags.get("SPACECRAFT_ID") or "unknown",
               "native_crs": src.crs.to_string(), "resolution_m": _number_text(res),
               "bands": bands, "cloud_share": None if cloud is None else _number_text(cloud)}
        return _Read(row, _footprint(src), src.crs.to_string(), _notes(src, grid),
                     band_descriptions(src))


def band_descriptions(src: rasterio.DatasetReader) -> tuple[str, ...]:
    """Return a scene's band descriptions as its file gives them: "" for none, cut short."""
    return tuple((d or "").strip()[:DESCRIPTION_CHARS] for d in src.descriptions)


def _shown_as(exc: BaseException, upload: Upload, limit: int | None = None) -> str:
    """Return the message of ``exc`` with the upload named as the user named it.

    Its texts are cut to ``limit`` characters; our own errors keep their
    :class:`~geo.i18n.Message`, so they are still localized.
    """
    return _renamed(message_of(exc), upload.path.name, upload.name, limit)


def _renamed(text: str, old: str, new: str, limit: int | None) -> str:
    if isinstance(text, Message):
        return Message(text.template, **{k: _renamed(v, old, new, limit) if isinstance(v, str)
                                         else v for k, v in text.values.items()})
    return text.replace(old, new)[:limit]


def read_scene_source(upload: Upload, *, limits: Limits) -> Source:
    """Read a GeoTIFF's catalogue row (one row, footprint in EPSG:4326) as a :class:`Source`.

    Raises
    ------
    FileRefusedError, UnsafeFileError
        Too large, bomb, no CRS, corrupt or truncated, not a GeoTIFF.
    """
    try:
        with warnings.catch_warnings():
            # a file without georeferencing is refused below with a plain message
            warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
            row, footprint, crs, notes, descriptions = _catalogue_row(upload, limits)
    except ImageryError as exc:  # GDAL could not open it: not a TIFF, or cut short
        raise FileRefusedError(Message("{name} cannot be read as a GeoTIFF: corrupt or "
                                       "truncated ({cause})", name=upload.name,
                                       cause=_shown_as(exc, upload, 200))) from None
    except AtalayaError as exc:
        if isinstance(exc, FileRefusedError):
            raise
        raise FileRefusedError(_shown_as(exc, upload)) from None
    table = pd.DataFrame([row], columns=list(SCENE_COLUMNS))
    return Source(name=upload.name, sha256=upload.sha256, format="geotiff", table=table,
                  geometry=gpd.GeoSeries([footprint], crs=4326), crs=crs, notes=notes,
                  files={str(row["scene_id"]): upload.path}, band_descriptions=descriptions)
