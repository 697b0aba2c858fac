"""GeoTIFF scenes for the imagery catalogue: header checks, footprint, date, bands, clouds.

Only the header and a decimated pass over the pixels are read: the pass proves every block
decodes (a truncated or corrupt file is refused here, not later on the map) and gives the cloud
share when a mask band (``scl`` or ``cloud``) exists. Before it, the declared size, the side
lengths, the band count, the storage blocks and the ratio of declared pixels to file size (a
tiny file declaring gigabytes of identical pixels is a decompression bomb) are checked.
"""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
from rasterio.windows import Window
from shapely.geometry import Polygon

from geo.errors import AtalayaError, ConfigError, ImageryError
from geo.i18n import Message, Number, message_of
from geo.imagery import (
    MAX_BLOCK_BYTES,
    SCL_INVALID,
    _acquired,
    _resolve_roles,
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


def _number_text(value: float) -> str:
    """Write a number for the import's text parser so that it cannot be misread.

    The parser reads ``3.125`` as three thousand one hundred and twenty-five (Spanish digit
    grouping, as a user's spreadsheet would mean it); an exponent is never read that way.

    Examples
    --------
    >>> _number_text(3.125), _number_text(0.375)
    ('3.125000000000e+00', '3.750000000000e-01')
    """
    return f"{value:.12e}"


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
    ``CHECK_PIXELS``-th row and column of the mask band.
    """
    step_r = max(1, -(-src.height // CHECK_PIXELS))
    step_c = max(1, -(-src.width // CHECK_PIXELS))
    sampled: list[np.ndarray] = []
    try:
        for row0 in range(0, src.height, CHECK_ROWS):
            rows = min(CHECK_ROWS, src.height - row0)
            stack = src.read(window=Window(0, row0, src.width, rows))
            if mask_band is not None:
                first = (-row0) % step_r  # keep the rows on the global grid of samples
                sampled.append(stack[mask_band[1] - 1, first::step_r, ::step_c])
    except (rasterio.errors.RasterioError, MemoryError) as exc:
        cause = exc.__cause__ or exc
        raise FileRefusedError(Message("{name} cannot be decoded ({cause}); the file is corrupt "
                                       "or truncated", name=upload.name,
                                       cause=str(cause)[:160])) from None
    if mask_band is None:
        return None
    band = np.concatenate(sampled) if sampled else np.zeros((0, 0))
    cloudy = np.isin(band, SCL_INVALID) if mask_band[0] == "scl" else band != 0
    return float(cloudy.mean()) if band.size else None


def _notes(src: rasterio.DatasetReader, grid: UtmGrid | None) -> list[str]:
    """Warnings for the import report: a UTM copy is stored; detection cannot name the bands.

    The app's detection jobs take the band roles from the band descriptions only (no
    ``--bands``), so a scene whose bands they cannot tell apart is stored for viewing but
    never detected on: the report says so before it is stored.
    """
    notes: list[str] = []
    if grid is not None:
        notes.append(Message("stored on its UTM grid (EPSG:{epsg}, {res} m pixels): detection "
                             "measures in ground metres on square pixels",
                             epsg=str(grid.epsg), res=Number(grid.res_m, 2)))
    try:
        _resolve_roles(src, None)
    except ConfigError:
        notes.append(Message("detection cannot tell which band is which from the band "
                             "descriptions (it needs blue, green and red at least): name them "
                             "and import it again, or detect on it from the command line "
                             "with --bands"))
    return notes


def _catalogue_row(upload: Upload, limits: Limits
                   ) -> tuple[dict[str, object], Polygon, str, list[str]]:
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
        footprint = _footprint(src)
        crs = src.crs.to_string()
        return row, footprint, crs, _notes(src, grid)


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
            row, footprint, crs, notes = _catalogue_row(upload, limits)
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
                  files={str(row["scene_id"]): upload.path})
