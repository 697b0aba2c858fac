"""Put a scene in degrees, or in a projection that distorts distances, onto a UTM grid.

Exports from Google Earth Engine and many portals come in EPSG:4326 (degrees). The detector
works in metres on square pixels (:func:`geo.imagery.read_scene_info` refuses anything else),
so such a scene is resampled once onto the grid of the WGS 84 UTM zone of its centre
(:func:`geo.crs.utm_epsg`), with square pixels as large on the ground as the source's are at
its centre, and written as a tiled, DEFLATE-compressed GeoTIFF with the same file name, bands,
band descriptions, scales and offsets, and tags (the acquisition date).

So is any other scene the detector cannot measure as it is (:func:`needs_reprojection`): a
grid in feet, a rotated grid or non-square pixels, and a projected CRS whose metres are not
ground metres where the scene lies: its scale at the scene's centre (:func:`ground_scale`) is
off by more than :data:`MAX_SCALE_ERROR`.
Web Mercator (EPSG:3857, which web portals export) counts 1.2 % too many metres at 9 S,
9 % at 23 S and 21 % at 34 S; read as it is, a 1,000 m strip in the Chaco would be measured
1,090 m long and a 40 m field clearing 44 m wide. A UTM scene used far outside its zone, an
Albers or a sinusoidal grid are caught the same way; a scene in its own UTM zone is not
(0.9996 to 1.001).

Spectral bands are resampled by cubic convolution, class bands (``scl``, ``cloud``) by
nearest neighbour. Measured on the two sample scenes (7 strips) exported to EPSG:4326 as a
portal would (nearest or bilinear, at the native and a 13 % coarser pixel) and brought back
here: cubic found 27 of 28 strips with 9 false candidates over the 8 runs (about 0.3 per
100 km²), nearest 26 with 8, bilinear 27 with 15; the scenes as generated give 28 and 0.
Memory stays bounded: the output is written in blocks of rows, all the bands of one method
warped together from the part of the source they need, on every core. The 10,980 px benchmark
tile exported to EPSG:4326 came back as 11,100 px in 59 s on this two-core machine with a peak
RSS of 0.49 GB, and the detector then found 131 candidates on it (125 on the tile itself).
A detection in an area of interest needs only the rows its windows read
(:func:`geo.detect.area.area_rows`): :func:`projected_scenes` then writes only those, whole
rows, whose pixels are the whole copy's.
The kernel is not widened to the scale GDAL would work out for each block
(``XSCALE=YSCALE=1``): the pixels are then the same whatever the block size (they differed by
up to 262 counts otherwise), and a thin strip is interpolated, not smoothed.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyproj
import rasterio
import rasterio.errors
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.warp import reproject, transform_bounds
from rasterio.windows import Window

from geo.crs import utm_epsg
from geo.errors import AtalayaError, CRSError, ImageryError
from geo.i18n import Number
from geo.imagery import (
    DEFAULT_MAX_BYTES,
    _check_size,
    in_metres,
    north_up_square,
    open_geotiff,
    roles_from_descriptions,
)
from geo.message import Message

#: Band roles holding class codes, never interpolated.
CLASS_ROLES = frozenset({"scl", "cloud"})

#: Rows of the output warped at once (times the width and the band count: the memory used).
BLOCK_ROWS = 512

#: Called as a copy is written with (rows written, rows in all); it may raise to stop it.
RowProgress = Callable[[int, int], None]

#: Metres per degree of latitude, and of longitude at the equator (WGS 84, mean values).
M_PER_DEG_LAT = 110_574.0
M_PER_DEG_LON = 111_320.0

#: A projected scene whose scale at its centre, along the meridian or the parallel, is off by
#: more than this share is resampled onto UTM (a pixel's size, hence every length and width
#: the detector measures, would be off by as much).
MAX_SCALE_ERROR = 0.01

#: Latitudes the WGS 84 UTM zones cover; beyond them lie the polar grids (UPS).
UTM_SOUTH, UTM_NORTH = -80.0, 84.0


@dataclass(frozen=True)
class UtmGrid:
    """The UTM grid a scene in degrees or in a distorting projection is resampled onto.

    Attributes
    ----------
    epsg
        WGS 84 UTM zone of the scene's centre (326xx north, 327xx south).
    transform
        North-up affine transform of the output, pixel size ``res_m`` metres.
    width, height
        Output size in pixels.
    res_m
        Side of the square output pixels, metres: the source pixel's ground size at the
        scene's centre (the smaller of its two sides).
    """

    epsg: int
    transform: Affine
    width: int
    height: int
    res_m: float


def ground_scale(crs: CRS, lon: float, lat: float) -> tuple[float, float]:
    """Projected metres per ground metre of ``crs`` at ``(lon, lat)`` (degrees, WGS 84).

    Returns the scale along the meridian and along the parallel (PROJ's factors): both 1.0 on
    a UTM zone's standard lines, 0.9996 on its central meridian, and 1 / cos(latitude) for
    Web Mercator.

    Examples
    --------
    >>> [round(k, 4) for k in ground_scale(CRS.from_epsg(3857), -60.0, -34.0)]
    [1.2062, 1.2062]
    >>> [round(k, 4) for k in ground_scale(CRS.from_epsg(32718), -75.0, -9.0)]
    [0.9996, 0.9996]
    """
    factors = pyproj.Proj(pyproj.CRS.from_wkt(crs.to_wkt())).get_factors(lon, lat)
    return float(factors.meridional_scale), float(factors.parallel_scale)


def _envelope(src: rasterio.DatasetReader) -> tuple[float, float, float, float]:
    """Return the box (west, south, east, north) of the scene's four corners, in its CRS.

    ``src.bounds`` is the box of two corners only, which is wrong for a rotated grid.
    """
    t, w, h = src.transform, src.width, src.height
    xs, ys = zip(*(t @ (c, r) for c in (0, w) for r in (0, h)), strict=True)
    return min(xs), min(ys), max(xs), max(ys)


def _centre_lonlat(src: rasterio.DatasetReader) -> tuple[float, float]:
    """Return the scene's centre in degrees (lon, lat; WGS 84)."""
    x, y = src.transform @ (src.width / 2, src.height / 2)
    if src.crs.is_geographic:
        return float(x), float(y)
    lon, lat = pyproj.Transformer.from_crs(pyproj.CRS.from_wkt(src.crs.to_wkt()), 4326,
                                           always_xy=True).transform(x, y)
    return float(lon), float(lat)


def _metres_per_unit(crs: CRS) -> float:
    """Metres in one linear unit of a projected CRS (0.3048 for feet), NaN when unknown."""
    factor = crs.linear_units_factor[1] if crs.linear_units_factor else float("nan")
    return float(factor)


def scale_error(src: rasterio.DatasetReader) -> float:
    """How far a projected scene's units, in metres, are from ground metres at its centre.

    A share: the larger of ``|k - 1|`` along the meridian and the parallel
    (:func:`ground_scale`). 0.0 for a scene with no CRS, not projected, or whose centre the
    projection cannot place (the detector's own checks then say what is wrong).
    """
    crs = src.crs
    if crs is None or not crs.is_projected:
        return 0.0
    try:
        scales = ground_scale(crs, *_centre_lonlat(src))
    except (pyproj.exceptions.ProjError, pyproj.exceptions.CRSError, ValueError):
        return 0.0
    errors = [abs(k - 1.0) for k in scales]
    return max(errors) if all(math.isfinite(e) for e in errors) else 0.0


def needs_reprojection(src: rasterio.DatasetReader) -> bool:
    """Whether :func:`utm_grid` applies to the scene: the detector cannot measure it as it is.

    It does to a scene in degrees; to one in a projected CRS whose units are not metres
    (feet); whose pixels are rotated or not square; or whose metres are not ground metres
    where it lies (its scale off by more than :data:`MAX_SCALE_ERROR`). Not to a scene with
    no CRS or no georeferencing, which no grid can place.
    """
    crs, t = src.crs, src.transform
    if crs is None or t.is_identity or t.determinant == 0:
        return False
    if crs.is_geographic:
        return True
    if not crs.is_projected or not math.isfinite(_metres_per_unit(crs)):
        return False
    # what the detector itself refuses (geo.imagery._check_grid), or would measure wrong
    return (not north_up_square(t) or not in_metres(crs)
            or scale_error(src) > MAX_SCALE_ERROR)


def needs_utm_copy(path: str | Path) -> bool:
    """Whether the GeoTIFF at ``path`` opens and needs reprojecting; False for anything unreadable.

    What cannot be opened is left to the caller's own checks, which say why.
    """
    try:
        with open_geotiff(Path(path)) as src:
            return needs_reprojection(src)
    except (AtalayaError, OSError, rasterio.errors.RasterioError):
        return False


def _ground_sides(src: rasterio.DatasetReader, lon: float, lat: float) -> tuple[float, float]:
    """Return the ground length (m) of a pixel's column step and of its row step at the centre.

    Each step is a vector of the transform, (a, d) and (b, e), in the CRS's units; its
    east and north parts are brought to ground metres (degrees: by the mean metres of a
    degree there; projected: the unit's metres over the scale along each direction).
    """
    t = src.transform
    if src.crs.is_geographic:
        east, north = M_PER_DEG_LON * math.cos(math.radians(lat)), M_PER_DEG_LAT
    else:
        along_meridian, along_parallel = ground_scale(src.crs, lon, lat)
        unit = _metres_per_unit(src.crs)
        east, north = unit / along_parallel, unit / along_meridian
    return math.hypot(t.a * east, t.d * north), math.hypot(t.b * east, t.e * north)


def utm_grid(src: rasterio.DatasetReader) -> UtmGrid:
    """Return the UTM grid for a scene that needs one (see :func:`needs_reprojection`).

    The output covers the source's four corners projected to UTM (densified edges), so no
    source pixel is cut off; the corners outside the source become nodata. Its square pixels
    are the source pixel's shorter side on the ground, at the scene's centre.

    Raises
    ------
    CRSError
        When the scene needs no UTM grid (:func:`needs_reprojection`), spans more than 6
        degrees of longitude or latitude (more than a UTM zone and a half: split it first),
        lies beyond the UTM zones (80 S to 84 N) or off the globe, or has pixels under a
        centimetre on the ground.
    """
    name = Path(src.name).name
    if not needs_reprojection(src):
        raise CRSError(Message("{name} is already on a grid of square ground metres, or has "
                               "no CRS; nothing to reproject", name=name))
    try:
        return _utm_grid(src, name)
    except AtalayaError:  # its own refusals (a ValueError too), in words already
        raise
    except (pyproj.exceptions.ProjError, ValueError) as exc:  # rasterio's CRSError too
        raise CRSError(Message("{name} is in a CRS whose ground distances cannot be worked "
                               "out ({error}); reproject it to UTM yourself", name=name,
                               error=str(exc))) from exc


def _utm_grid(src: rasterio.DatasetReader, name: str) -> UtmGrid:
    """Work out :func:`utm_grid` (its checks of the scene's place and size included)."""
    box = _envelope(src)
    west, south, east, north = (box if src.crs.is_geographic else transform_bounds(
        src.crs, "EPSG:4326", *box, densify_pts=51))
    if east - west > 6.0 or north - south > 6.0:
        raise CRSError(Message("{name} spans {dx} x {dy} degrees; reprojecting to one UTM "
                               "zone needs at most 6. Clip or split it first",
                               name=name, dx=f"{east - west:.1f}", dy=f"{north - south:.1f}"))
    lon, lat = _centre_lonlat(src)
    if not -180.0 <= lon <= 180.0:
        raise CRSError(Message("{name} is centred at longitude {lon}, off the globe (-180 to "
                               "180); check its georeferencing", name=name, lon=f"{lon:.3f}"))
    if not UTM_SOUTH <= lat <= UTM_NORTH:
        raise CRSError(Message("{name} lies at {lat} degrees of latitude, beyond the UTM zones "
                               "(80 S to 84 N); reproject it to a polar grid yourself",
                               name=name, lat=f"{lat:.1f}"))
    epsg = utm_epsg(lon, lat)
    res = min(_ground_sides(src, lon, lat))
    res = round(res, 2)  # to the centimetre: 8.98e-5 degrees at 10 S is 9.84 m, not 9.8412783
    if not res > 0:
        raise CRSError(Message("{name} has pixels under a centimetre on the ground; resample "
                               "it to the imagery's real resolution first", name=name))
    x0, y0, x1, y1 = transform_bounds(src.crs, CRS.from_epsg(epsg), *box, densify_pts=51)
    # snap the origin to whole pixels of the UTM grid, like a tile of any public product
    x0, y1 = math.floor(x0 / res) * res, math.ceil(y1 / res) * res
    width, height = math.ceil((x1 - x0) / res), math.ceil((y1 - y0) / res)
    return UtmGrid(epsg=epsg, transform=Affine(res, 0.0, x0, 0.0, -res, y1), width=width,
                   height=height, res_m=res)


def oversized(name: str, grid: UtmGrid, src: rasterio.DatasetReader,
              max_bytes: int) -> Message | None:
    """Say why the copy of ``src`` on ``grid`` is refused (decoded above ``max_bytes``), or None.

    The copy can hold more pixels than the source: the corners a rotated footprint adds, and
    at high latitudes square pixels as small as the source's shorter ground side.
    """
    declared = grid.width * grid.height * src.count * np.dtype(src.dtypes[0]).itemsize
    if declared <= max_bytes:
        return None
    return Message("{name} would hold {size} GB decoded once on the UTM grid; the cap is "
                   "{cap} GB. Clip the scene", name=name, size=Number(declared / 1e9, 1),
                   cap=Number(max_bytes / 1e9, 1))


def _nodata(src: rasterio.DatasetReader) -> float:
    """Return the output's nodata: the source's, else one reflectance bands never hold.

    Unsigned bands get 0 (no data in Sentinel-2 and Landsat products), signed ones their
    type's minimum, floats NaN.
    """
    if src.nodata is not None:
        return float(src.nodata)
    dtype = np.dtype(src.dtypes[0])
    if dtype.kind == "u":
        return 0.0
    if dtype.kind == "i":
        return float(np.iinfo(dtype).min)
    return float("nan")


def reproject_scene(path: str | Path, out: str | Path, *,
                    bands: Mapping[str, int] | None = None,
                    resampling: Resampling = Resampling.cubic,
                    max_bytes: int = DEFAULT_MAX_BYTES,
                    block_rows: int = BLOCK_ROWS,
                    on_rows: RowProgress | None = None,
                    rows: tuple[int, int] | None = None) -> UtmGrid:
    """Write the scene ``path`` onto its UTM grid as ``out`` (see the module notes).

    Parameters
    ----------
    path
        A GeoTIFF in a geographic CRS (EPSG:4326 or another datum in degrees), or in a
        projected one whose metres are not ground metres there (:func:`needs_reprojection`).
    out
        The GeoTIFF to write (its folder must exist); replaced if present.
    bands
        Role to 1-based band index, as given to the detector (``--bands``); with the band
        descriptions, it says which bands are classes (``scl``, ``cloud``).
    resampling
        For the spectral bands (class bands: always nearest neighbour).
    max_bytes
        Cap on the decoded size of the scene, and of its copy (as in
        :func:`geo.imagery.read_scene_info`): a huge or hostile file is refused before any
        pixel is written.
    block_rows
        Output rows warped at once.
    on_rows
        Called with (rows written, rows in all) after each block of rows (a progress bar: a
        10,980 px tile takes tens of seconds); an exception it raises stops the copy, which
        is then incomplete (the caller removes it).
    rows
        Write only rows ``rows[0]:rows[1]`` of the scene's UTM grid, whole width (what a
        detection in an area of interest reads: :func:`geo.detect.area.area_rows`). Their
        pixels are the whole copy's: whole rows are warped alike whatever rows surround them,
        as blocks of rows are (a narrower piece is not: its pixels differed from the whole
        copy's by up to 73 counts, measured 2026-12-07). None: every row.

    Returns
    -------
    UtmGrid
        The grid written (with ``rows``, that part of the scene's grid).

    Raises
    ------
    CRSError
        See :func:`utm_grid`.
    ImageryError
        Not a GeoTIFF, or a size above the caps.
    """
    with open_geotiff(Path(path)) as src:
        _check_size(src, Path(path), max_bytes)  # the caps of any scene, before any work
        grid = utm_grid(src) if rows is None else grid_rows(utm_grid(src), *rows)
        nodata = _nodata(src)
        dtype = np.dtype(src.dtypes[0])
        too_large = oversized(Path(path).name, grid, src, max_bytes)
        if too_large is not None:
            raise ImageryError(too_large)
        dst_crs = CRS.from_epsg(grid.epsg)
        roles = {**roles_from_descriptions(src.descriptions), **(bands or {})}
        classes = {i for role, i in roles.items() if role in CLASS_ROLES}
        threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
        groups: dict[Resampling, list[int]] = {}
        for b in range(1, src.count + 1):
            groups.setdefault(Resampling.nearest if b in classes else resampling, []).append(b)
        profile = {"driver": "GTiff", "width": grid.width, "height": grid.height,
                   "count": src.count, "dtype": dtype.name, "crs": dst_crs,
                   "transform": grid.transform, "nodata": nodata, "tiled": True,
                   "blockxsize": 512, "blockysize": 512, "compress": "deflate",
                   "predictor": 3 if dtype.kind == "f" else 2, "BIGTIFF": "IF_SAFER"}
        with rasterio.open(Path(out), "w", **profile) as dst:
            dst.update_tags(**src.tags())
            for b in range(1, src.count + 1):
                if src.descriptions[b - 1]:
                    dst.set_band_description(b, src.descriptions[b - 1])
                dst.update_tags(b, **src.tags(b))
            dst.scales, dst.offsets = src.scales, src.offsets
            for row in range(0, grid.height, block_rows):
                n = min(block_rows, grid.height - row)
                window = Window(0, row, grid.width, n)
                part = np.full((src.count, n, grid.width), nodata, dtype=dtype)
                for method, idx in groups.items():  # one warp per method: all its bands
                    stack = part[[i - 1 for i in idx]]
                    reproject(rasterio.band(src, idx), stack, num_threads=threads,
                              src_nodata=src.nodata, dst_nodata=nodata,
                              dst_transform=dst.window_transform(window), dst_crs=dst_crs,
                              resampling=method, init_dest_nodata=True, XSCALE=1, YSCALE=1)
                    part[[i - 1 for i in idx]] = stack
                dst.write(part, window=window)
                if on_rows is not None:
                    on_rows(row + n, grid.height)
    return grid


def grid_rows(grid: UtmGrid, row0: int, row1: int) -> UtmGrid:
    """Return rows ``row0:row1`` of ``grid`` (whole width) as a grid of their own.

    Raises
    ------
    ValueError
        When the rows are not a non-empty span of the grid's.
    """
    if not 0 <= row0 < row1 <= grid.height:
        raise ValueError(f"rows {row0}:{row1} are not a part of a grid of {grid.height} rows")
    return UtmGrid(epsg=grid.epsg, transform=grid.transform @ Affine.translation(0, row0),
                   width=grid.width, height=row1 - row0, res_m=grid.res_m)


#: The rows of a scene's UTM grid a run reads, from the grid: (first, end), (0, 0) for none,
#: or None for all of them (:func:`projected_scenes`).
RowsNeeded = Callable[[UtmGrid], tuple[int, int] | None]


class Projected(NamedTuple):
    """What :func:`projected_scenes` made of the scenes given (each path as given)."""

    #: Each scene the detector is to read: the path given to the path to detect on, in order.
    readable: dict[str, str]
    #: (path, grid) of each copy written on a UTM grid.
    reprojected: list[tuple[str, UtmGrid]]
    #: (path, why) of each scene that needed a copy and could not have one (not readable).
    failures: list[tuple[str, str]]
    #: The scenes needing a copy whose grid holds none of the rows asked for (``rows_needed``
    #: gave ``(0, 0)``: the area of interest misses them); no copy made, not readable.
    outside: list[str]


def projected_scenes(paths: Sequence[str], work_dir: Path, *,
                     bands: Mapping[str, int] | None = None, progress: bool = False,
                     rows_needed: RowsNeeded | None = None) -> Projected:
    """Return each scene as the detector can read it: itself, or its UTM copy in ``work_dir``.

    A scene in degrees or in a distorting projection (:func:`needs_reprojection`) is
    written by :func:`reproject_scene` to
    ``work_dir/<k>/<its file name>`` (the name, hence the ``scene`` column and a date in the
    name, stay the same); any other scene, readable or not, is left to the detector to
    check and report. With ``progress``, each copy shows a tqdm bar of its rows on stderr.
    ``rows_needed`` says which rows of each copy's grid a run will read (a detection in an
    area of interest: :func:`geo.detect.area.area_rows`); only those are written.
    """
    out = Projected({}, [], [], [])
    for k, path in enumerate(paths):
        if not needs_utm_copy(path):  # the detector says why it cannot read what it cannot
            out.readable[path] = path
            continue
        copy = work_dir / str(k) / Path(path).name
        try:
            rows = None
            if rows_needed is not None:
                with open_geotiff(Path(path)) as src:
                    rows = rows_needed(utm_grid(src))
                if rows == (0, 0):
                    out.outside.append(path)
                    continue
            copy.parent.mkdir(parents=True, exist_ok=True)
            with _rows_bar(Path(path).name, progress) as on_rows:
                grid = reproject_scene(path, copy, bands=bands, on_rows=on_rows, rows=rows)
        except (AtalayaError, OSError, rasterio.errors.RasterioError) as exc:
            out.failures.append((path, f"cannot reproject it to UTM: {exc}"))
            copy.unlink(missing_ok=True)
            continue
        out.readable[path] = str(copy)
        out.reprojected.append((path, grid))
    return out


@contextmanager
def _rows_bar(name: str, show: bool) -> Iterator[RowProgress | None]:
    """Show a tqdm bar (stderr) of the rows of ``name``'s UTM copy; yield its callback."""
    if not show:
        yield None
        return
    from tqdm import tqdm

    with tqdm(desc=f"reproject {name}", unit="row", file=sys.stderr) as bar:

        def on_rows(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        yield on_rows
