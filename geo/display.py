"""Show a scene on a web map: read only what the view needs, at screen resolution, in 3857.

A Leaflet map shows Web Mercator (EPSG:3857) pixels. For one view (its lon/lat bounds and its
size in screen pixels) :func:`render_view` builds the 3857 grid of exactly those screen pixels,
clipped to the scene's extent and snapped to the view's own pixel grid, and fills it:

1. The scene's header is checked first (:func:`geo.imagery.read_scene_info`: GeoTIFF driver
   only, declared size and block size capped, projected CRS in metres).
2. The grid's extent is projected into the scene's CRS (a UTM zone, in metres); one screen
   pixel covers ``screen_res`` metres of it. The overview level read is the coarsest whose
   pixels are at most :data:`OVERVIEW_TOLERANCE` (1.2) screen pixels wide
   (:func:`choose_overview`): one that much coarser looks the same once resampled to the
   screen, while the next finer one costs four times the blocks to decode.
3. Only the window of that level under the view is read (plus two pixels for the
   interpolation). When even that level is finer than the screen (a view between two
   levels, or a scene without overviews), GDAL averages it down to about one pixel per
   screen pixel as it reads, so the read array is about the screen's size whatever the zoom:
   memory is bounded by the screen, not the scene, and the reprojection stays on GDAL's fast
   2 x 2 bilinear kernel.
4. No data, clouds (``scl``/``cloud`` band) and non-finite values make a validity mask
   *before* resampling; the bands are reprojected bilinearly into the 3857 grid (stored
   type, no float copy) and the mask with nearest neighbour (:func:`rasterio.warp.reproject`;
   a view that straddles two UTM zones is just another grid to GDAL; a window wholly inside
   the scene and wholly valid needs no mask). The band combination then goes through a
   lookup table of the stretch for 8- and 16-bit bands.
5. The image's bounds are the grid's 3857 corners converted back to lon/lat, which is what
   ``L.imageOverlay`` needs: Leaflet places the corners and interpolates linearly in 3857
   between them, so each image pixel lands on one screen pixel.

Band combinations (:data:`COMBOS`): true colour (red, green, blue), false colour (near
infrared, red, green: vegetation red), SWIR (SWIR1 ~1.6 um, near infrared, red: Sentinel-2
B11/B8/B4, Landsat 8 B6/B5/B4, bare soil and burnt ground stand out; it needs no SWIR2 band,
so the five-band tiles work) and NDVI (a fixed brown-to-green ramp over :data:`NDVI_RANGE`,
so every date and scene share one legend).

The contrast stretch maps the ``low``/``high`` percentiles of the whole scene's valid pixels
(read once from an overview, :func:`scene_stretch`, cached per file version) to black and full
brightness; one range for the three bands of a composite keeps the colours balanced (as the
image chips do, :func:`geo.imagechips.composite_range`). Panning never changes the colours.

Notes
-----
Overviews must be inside the GeoTIFF: :func:`geo.imagery.open_geotiff` forbids GDAL to list
folders or read side-car files (an uploaded ``.ovr`` could be anything), so an external
``.ovr`` would never be seen. :func:`build_overviews` writes them in place at ingest.
"""

from __future__ import annotations

import io
import math
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyproj
import rasterio
import shapely
from affine import Affine
from PIL import Image
from rasterio.enums import Resampling
from rasterio.warp import reproject, transform_bounds
from rasterio.windows import Window, from_bounds

from geo.errors import ConfigError, ImageryError
from geo.i18n import Message, Number, join_messages
from geo.imagechips import SceneRef, compute_stretch
from geo.imagery import (
    GDAL_CACHE_MB,
    MASK_ROLES,
    SAFE_GDAL_OPTIONS,
    SCL_INVALID,
    SPECTRAL_ROLES,
    SceneInfo,
    gdal_cause,
    read_scene_info,
)

__all__ = [
    "COMBOS",
    "MAX_VIEW_PX",
    "NDVI_RAMP",
    "NDVI_RANGE",
    "OVERVIEW_TOLERANCE",
    "ViewImage",
    "apart",
    "available_combos",
    "build_overviews",
    "choose_overview",
    "filter_scenes",
    "fit_zoom",
    "metres_per_px",
    "ndvi_colours",
    "pixel_values",
    "render_view",
    "scene_stretch",
    "view_bounds",
    "view_grid",
    "view_size_px",
]

WEB_MERCATOR = "EPSG:3857"
#: Latitude limit of Web Mercator (degrees): Leaflet's map ends there.
MAX_LAT = 85.0511287798
#: Largest view side accepted, in screen pixels (a 4K screen); bounds the work per view.
MAX_VIEW_PX = 4096
#: Longest side of the overview read for the contrast stretch (pixels).
STRETCH_SAMPLE_PX = 1024
#: Band roles of each combination, in the order of the PNG's red, green, blue channels.
COMBOS: dict[str, tuple[str, ...]] = {
    "true_colour": ("red", "green", "blue"),
    "false_colour": ("nir", "red", "green"),
    "swir": ("swir1", "nir", "red"),
    "ndvi": ("nir", "red"),
}
#: NDVI values shown by the ramp; values outside are clipped to its end colours.
NDVI_RANGE: tuple[float, float] = (-0.2, 0.9)
#: (NDVI value, colour) stops of the NDVI ramp, linear in between (also the legend).
NDVI_RAMP: tuple[tuple[float, str], ...] = (
    (-0.2, "#8c510a"), (0.0, "#d8b365"), (0.2, "#f6e8c3"), (0.4, "#a6d96a"),
    (0.6, "#1a9641"), (0.9, "#00441b"),
)
#: How much coarser than a screen pixel the overview level read may be (see
#: :func:`choose_overview`).
OVERVIEW_TOLERANCE = 1.2
#: A level finer than the screen by more than this is averaged down to screen pixels as it
#: is read, so the reprojection always gets about one source pixel per screen pixel: GDAL's
#: bilinear warp keeps its fast 2 x 2 kernel while the source is at most 1/0.95 (1.053)
#: times finer than the destination; finer, it widens the kernel and takes 2-4x longer.
_DECIMATE_ABOVE = 1.04
_DENSIFY = 21  # points per edge when projecting bounds (UTM edges curve in 3857)
_EARTH_RADIUS_M = 6378137.0  # sphere radius of Web Mercator


@dataclass(frozen=True)
class ViewImage:
    """One rendered view: RGBA pixels on a Web Mercator grid and where they go.

    Attributes
    ----------
    rgba
        (rows, columns, 4) uint8; alpha 0 where the scene has no data (or no scene).
    bounds_lonlat
        (west, south, east, north) in EPSG:4326 degrees of the image's outer pixel edges:
        the 3857 grid corners converted back, for ``L.imageOverlay``.
    bounds_3857
        The same edges in EPSG:3857 metres.
    combo
        Band combination (a key of :data:`COMBOS`).
    overview_factor
        Full-resolution pixels per pixel of the array read, rounded (1: full resolution;
        the level's factor, times the averaging of a level finer than the screen).
    read_shape
        (rows, columns) of the array read from the file (after decimation).
    stretch
        (low, high) source values shown as black and full brightness; None for NDVI.
    legend
        (value, colour) stops for NDVI; empty otherwise.
    """

    rgba: np.ndarray
    bounds_lonlat: tuple[float, float, float, float]
    bounds_3857: tuple[float, float, float, float]
    combo: str
    overview_factor: int = 1
    read_shape: tuple[int, int] = (0, 0)
    stretch: tuple[float, float] | None = None
    legend: tuple[tuple[float, str], ...] = ()

    @property
    def is_empty(self) -> bool:
        """True when the view does not overlap the scene (nothing to show)."""
        return self.rgba.size == 0

    @property
    def size_px(self) -> tuple[int, int]:
        """(width, height) of the image in screen pixels."""
        return int(self.rgba.shape[1]), int(self.rgba.shape[0])

    def to_png(self, *, compress_level: int = 1) -> bytes:
        """Encode as PNG, lossless (fast compression by default: a view is rendered often).

        Raises
        ------
        ImageryError
            For an empty image.
        """
        return self._encode("PNG", compress_level=compress_level)

    def to_webp(self, *, quality: int = 85) -> bytes:
        """Encode as WebP: lossy colours, lossless alpha; about 20x smaller than the PNG.

        For the map, where the image is looked at (the pixel inspector reads the file, not
        the picture); about 4x faster to encode than the PNG of a noisy scene.

        Raises
        ------
        ImageryError
            For an empty image.
        """
        return self._encode("WEBP", quality=quality, method=0, alpha_quality=100)

    def _encode(self, fmt: str, **options: Any) -> bytes:
        if self.is_empty:
            raise ImageryError(Message("the view does not overlap the scene: there is no image "
                                       "to encode"))
        buf = io.BytesIO()
        Image.fromarray(self.rgba, "RGBA").save(buf, format=fmt, **options)
        return buf.getvalue()


# -- the destination grid ----------------------------------------------------------------------

def _check_view(bounds_lonlat: Sequence[float], width_px: int, height_px: int) -> None:
    """Refuse swapped, empty or out-of-range bounds and absurd sizes, naming them."""
    if len(bounds_lonlat) != 4 or not all(math.isfinite(float(v)) for v in bounds_lonlat):
        raise ConfigError(f"expected (west, south, east, north) finite degrees, got "
                          f"{tuple(bounds_lonlat)}")
    w, s, e, n = (float(v) for v in bounds_lonlat)
    # the bounds as Python writes floats (str values): they say what was received, exactly
    sides = {"w": str(w), "s": str(s), "e": str(e), "n": str(n)}
    problems: list[str] = []
    if not (w < e and s < n):
        problems.append(Message("expected west < east and south < north, got {w}, {s}, {e}, "
                                "{n}: (lat, lon) swapped?", **sides))
    if not (w >= -540.0 and e <= 540.0 and s >= -90.0 and n <= 90.0):
        problems.append(Message("bounds {w}, {s}, {e}, {n} are not lon/lat degrees: metres?",
                                **sides))
    if not (1 <= width_px <= MAX_VIEW_PX and 1 <= height_px <= MAX_VIEW_PX):
        problems.append(Message("view size must be 1..{limit} px a side, got {width} x "
                                "{height}", limit=MAX_VIEW_PX, width=width_px,
                                height=height_px))
    if problems:
        raise ConfigError(join_messages("; ", problems))


def view_grid(bounds_lonlat: Sequence[float], width_px: int, height_px: int
              ) -> tuple[Affine, tuple[float, float, float, float]]:
    """Web Mercator grid of a Leaflet view: its affine transform and its 3857 bounds.

    Parameters
    ----------
    bounds_lonlat
        (west, south, east, north) of the view in degrees (``map.getBounds()``); latitudes
        are clamped to Web Mercator's +-85.05 deg.
    width_px, height_px
        The map's size in screen pixels.

    Returns
    -------
    (Affine, bounds)
        Transform from (column, row) of screen pixels to EPSG:3857 metres, and (min x,
        min y, max x, max y) in metres.

    Examples
    --------
    >>> t, b = view_grid((0.0, 0.0, 1.0, 1.0), 100, 100)
    >>> round(t.a, 3), round(b[2], 1)
    (1113.195, 111319.5)
    """
    _check_view(bounds_lonlat, width_px, height_px)
    w, s, e, n = (float(v) for v in bounds_lonlat)
    (x0, x1), (y0, y1) = _lon_to_x(np.array([w, e])), _lat_to_y(np.array([s, n]))
    transform = Affine((x1 - x0) / width_px, 0.0, x0, 0.0, -(y1 - y0) / height_px, y1)
    return transform, (float(x0), float(y0), float(x1), float(y1))


# Web Mercator in closed form: x is linear in longitude, so a view panned past the
# antimeridian (Leaflet reports longitudes beyond +-180) keeps a regular grid.
def _lon_to_x(lon: np.ndarray) -> np.ndarray:
    return np.asarray(np.radians(lon) * _EARTH_RADIUS_M)


def _lat_to_y(lat: np.ndarray) -> np.ndarray:
    phi = np.radians(np.clip(lat, -MAX_LAT, MAX_LAT))
    return np.asarray(np.log(np.tan(np.pi / 4 + phi / 2)) * _EARTH_RADIUS_M)


def _lonlat_bounds(bounds_3857: tuple[float, float, float, float]
                   ) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = bounds_3857
    lon = np.degrees(np.array([x0, x1]) / _EARTH_RADIUS_M)
    lat = np.degrees(2 * np.arctan(np.exp(np.array([y0, y1]) / _EARTH_RADIUS_M)) - np.pi / 2)
    return float(lon[0]), float(lat[0]), float(lon[1]), float(lat[1])


def _clip_to_scene(info: SceneInfo, transform: Affine, width_px: int, height_px: int
                   ) -> tuple[int, int, int, int] | None:
    """Pixel range (c0, r0, c1, r1) of the view grid the scene covers, or None."""
    left, top = info.transform @ (0, 0)
    right, bottom = info.transform @ (info.width, info.height)
    sx0, sy0, sx1, sy1 = transform_bounds(info.crs_wkt, WEB_MERCATOR, min(left, right),
                                          min(top, bottom), max(left, right),
                                          max(top, bottom), densify_pts=_DENSIFY)
    inv = ~transform
    ca, ra = inv @ (sx0, sy1)
    cb, rb = inv @ (sx1, sy0)
    c0, c1 = max(0, math.floor(min(ca, cb))), min(width_px, math.ceil(max(ca, cb)))
    r0, r1 = max(0, math.floor(min(ra, rb))), min(height_px, math.ceil(max(ra, rb)))
    if c1 <= c0 or r1 <= r0:
        return None
    return c0, r0, c1, r1


# -- overviews -----------------------------------------------------------------------------------

def choose_overview(factors: Sequence[int], native_res_m: float, screen_res_m: float, *,
                    tolerance: float = OVERVIEW_TOLERANCE) -> int | None:
    """Index of the coarsest overview at most ``tolerance`` x coarser than a screen pixel.

    The rule: take the coarsest level whose pixel is at most ``tolerance`` screen pixels
    wide (default :data:`OVERVIEW_TOLERANCE`, 1.2); None (full resolution) when no level
    qualifies. A level up to 1.2x coarser than the screen looks the same once resampled to
    it, while the next finer level would be read at about twice the pixels a side (four
    times the blocks to decode) and then thrown away by the reprojection.

    Parameters
    ----------
    factors
        Decimation factors of the file's overviews (``src.overviews(1)``), e.g. [2, 4, 8].
    native_res_m
        Full-resolution pixel size, metres in the scene's CRS.
    screen_res_m
        Ground covered by one screen pixel, same units.
    tolerance
        How much coarser than a screen pixel a level may be (>= 1).

    Returns
    -------
    int or None
        Index into ``factors`` (GDAL's ``OVERVIEW_LEVEL``); None for full resolution.

    Examples
    --------
    >>> choose_overview([2, 4, 8, 16], 10.0, 5.0) is None   # zoomed in: full resolution
    True
    >>> choose_overview([2, 4, 8, 16], 10.0, 37.7)          # zoom 12: 40 m is 1.06x: factor 4
    1
    >>> choose_overview([2, 4, 8, 16], 10.0, 30.0)          # 40 m would be 1.33x: factor 2
    0
    >>> choose_overview([2, 4, 8, 16], 10.0, 1000.0)        # whole tile: the coarsest
    3
    """
    if not tolerance >= 1.0:
        raise ConfigError(f"expected an overview tolerance >= 1, got {tolerance}")
    best: int | None = None
    for i, f in sorted(enumerate(factors), key=lambda p: p[1]):
        if native_res_m * f <= screen_res_m * tolerance * (1 + 1e-9):
            best = i
    return best


def _overview_factors(info: SceneInfo) -> list[int]:
    with _open(info.path) as src:
        return [int(f) for f in src.overviews(1)]


class _HandlePool:
    """Open datasets kept between views, so that GDAL's block cache outlives a view.

    GDAL drops a dataset's decoded blocks when it is closed; a pan at full resolution then
    decodes again the blocks the previous view had (0.1-0.2 s for a 1,000 x 560 view of a
    deflated 10 m tile, against 0.002-0.07 s with the handle kept). A handle is used by one
    thread at a time (taken out of the pool, put back after), keyed by the file's path, its
    version (device, inode, modification time, size: a rewritten or replaced file gets new
    handles, and the old ones are closed) and the level; at most ``max_idle`` idle handles
    are kept, the least recently used closed first.
    """

    def __init__(self, max_idle: int = 8) -> None:
        self.max_idle = max_idle
        self._idle: OrderedDict[tuple[Any, ...], list[Any]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: tuple[Any, ...]) -> Any | None:
        """Take an idle handle for ``key`` out of the pool; None when there is none."""
        with self._lock:
            handles = self._idle.get(key)
            if not handles:
                return None
            self._idle.move_to_end(key)
            return handles.pop()

    def give_back(self, key: tuple[Any, ...], handle: Any) -> None:
        """Keep ``handle`` for the next view; close what no longer fits or is outdated."""
        closing = []
        with self._lock:
            for other in [k for k in self._idle if k[0] == key[0] and k[1] != key[1]]:
                closing += self._idle.pop(other)  # an older version of the same file
            self._idle.setdefault(key, []).append(handle)
            self._idle.move_to_end(key)
            while sum(map(len, self._idle.values())) > self.max_idle:
                oldest = next(iter(self._idle))
                closing.append(self._idle[oldest].pop(0))
                if not self._idle[oldest]:
                    del self._idle[oldest]
        for h in closing:
            h.close()

    def clear(self) -> None:
        """Close every idle handle."""
        with self._lock:
            closing = [h for hs in self._idle.values() for h in hs]
            self._idle.clear()
        for h in closing:
            h.close()


_HANDLES = _HandlePool()


@contextmanager
def _open(path: Path, level: int | None = None) -> Iterator[Any]:
    """Open with the GeoTIFF driver and the safe options, at an overview level if given.

    The dataset comes from (and goes back to) :data:`_HANDLES` unless reading it failed.
    """
    opts: dict[str, Any] = {} if level is None else {"overview_level": level}
    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB * 1024**2, **SAFE_GDAL_OPTIONS):
        try:
            st_ = os.stat(path)
            key = (str(Path(path).resolve()),
                   (st_.st_dev, st_.st_ino, st_.st_mtime_ns, st_.st_size), level)
            src = _HANDLES.take(key) or rasterio.open(path, driver="GTiff", **opts)
        except (rasterio.errors.RasterioIOError, OSError) as exc:
            raise ImageryError(Message("{name} is not a readable GeoTIFF ({cause})",
                                       name=path.name, cause=gdal_cause(exc, path))) from exc
        try:
            yield src
        except BaseException:
            src.close()  # a failed read may have left it in any state
            raise
        _HANDLES.give_back(key, src)


def build_overviews(path: str | Path, *, min_side_px: int = 256) -> tuple[int, ...]:
    """Add internal overviews (factors 2, 4, 8... ) to a GeoTIFF that has none; in place.

    Parameters
    ----------
    path
        A GeoTIFF the process may write (an ingested copy, never the user's original).
    min_side_px
        Halving stops once the longer side of the coarsest level is at most this.

    Returns
    -------
    tuple of int
        The decimation factors the file has afterwards (unchanged if it had some).

    Notes
    -----
    Overviews are written *inside* the file (DEFLATE), not as an external ``.ovr``: the reader
    never looks at side-car files (see the module notes). Spectral bands are averaged; a file
    with a class band (``scl`` or ``cloud``) uses nearest neighbour for every band, since
    GDAL applies one method to all bands and an average of class codes is meaningless. The
    header is checked like any scene first (size caps, CRS). About a third more disk.
    """
    info = read_scene_info(path, values=False)
    with _open(info.path) as src:
        existing = tuple(int(f) for f in src.overviews(1))
    if existing:
        return existing
    factors = []
    f = 2
    while max(info.width, info.height) / (f // 2) > min_side_px:
        factors.append(f)
        f *= 2
    if not factors:
        return ()
    method = Resampling.nearest if info.roles.has("scl") or info.roles.has(
        "cloud") else Resampling.average
    predictor = "2" if np.dtype(info.dtype).kind in "iu" else "1"
    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB * 1024**2, COMPRESS_OVERVIEW="DEFLATE",
                      PREDICTOR_OVERVIEW=predictor, GDAL_TIFF_OVR_BLOCKSIZE="512",
                      **SAFE_GDAL_OPTIONS), rasterio.open(info.path, "r+", driver="GTiff") as dst:
        dst.build_overviews(factors, method)
        dst.update_tags(ns="rio_overview", resampling=method.name)
    return tuple(factors)


# -- the contrast stretch --------------------------------------------------------------------

def _valid_mask(info: SceneInfo, stack: np.ndarray, roles: Sequence[str]) -> np.ndarray:
    """Return the valid pixels of a stack read in ``roles`` order (nodata, non-finite, masks)."""
    valid = np.ones(stack.shape[1:], dtype=bool)
    for role, arr in zip(roles, stack, strict=True):
        if role == "scl":
            valid &= ~np.isin(arr, SCL_INVALID)
        elif role == "cloud":
            valid &= arr == 0
        else:
            if info.nodata is not None:
                valid &= arr != info.nodata
            valid &= np.isfinite(arr)
    return valid


def _mask_roles(info: SceneInfo) -> list[str]:
    return [r for r in MASK_ROLES if info.roles.has(r)]


@lru_cache(maxsize=64)
def _stretch_cached(path: str, _version: tuple[int, int], pairs: tuple[tuple[str, int], ...],
                    low_pct: float, high_pct: float) -> tuple[tuple[str, float, float], ...]:
    info = read_scene_info(path, bands=dict(pairs), values=False)
    roles = [r for r in SPECTRAL_ROLES if info.roles.has(r)] + _mask_roles(info)
    k = max(1, math.ceil(max(info.width, info.height) / STRETCH_SAMPLE_PX))
    shape = (len(roles), max(1, info.height // k), max(1, info.width // k))
    with _open(info.path) as src:  # a decimated read: GDAL takes it from an overview
        stack = src.read([info.roles.index(r) for r in roles], out_shape=shape)
    valid = _valid_mask(info, stack, roles)
    bands = {r: a.astype(np.float32) for r, a in zip(roles, stack, strict=True)
             if r in SPECTRAL_ROLES}
    if not valid.any():
        raise ImageryError(Message("{name} holds no valid pixel (all no data or cloud)",
                                   name=info.path.name))
    out = compute_stretch([(bands, valid)], low_pct=low_pct, high_pct=high_pct)
    return tuple((r, float(lo), float(hi)) for r, (lo, hi) in sorted(out.items()))


def apart(low_pct: float, high_pct: float, *, step: float = 0.5) -> tuple[float, float]:
    """Stretch percentiles with ``low < high``: ends that met are set ``step`` apart.

    A two-handled slider lets both ends sit on one value, which stretches nothing; the upper
    end moves up by ``step`` (the lower one down at 100). Percent, clipped to [0, 100].

    Examples
    --------
    >>> apart(2.0, 98.0), apart(98.0, 98.0), apart(100.0, 100.0), apart(0.0, 0.0)
    ((2.0, 98.0), (98.0, 98.5), (99.5, 100.0), (0.0, 0.5))
    """
    low, high = sorted((min(max(float(low_pct), 0.0), 100.0),
                        min(max(float(high_pct), 0.0), 100.0)))
    if low < high:
        return low, high
    return (low, low + step) if low + step <= 100.0 else (high - step, high)


def scene_stretch(path: str | Path, *, low_pct: float = 2.0, high_pct: float = 98.0,
                  bands: Mapping[str, int] | None = None) -> dict[str, tuple[float, float]]:
    """(low, high) percentile values of every spectral band over the whole scene.

    Read once from an overview (a decimated read of at most :data:`STRETCH_SAMPLE_PX` a
    side) and cached per file version (path, modification time, size) and parameters, so the
    colours of a scene do not change while the map pans.

    Raises
    ------
    ConfigError
        When not ``0 <= low_pct < high_pct <= 100``.
    """
    if not 0 <= low_pct < high_pct <= 100:
        # reachable: the page's stretch slider can put both ends on one value
        raise ConfigError(Message("expected 0 <= low < high <= 100 percentiles, got {low}, "
                                  "{high}", low=str(low_pct), high=str(high_pct)))
    p = Path(path).resolve()
    try:
        st = os.stat(p)
    except FileNotFoundError as exc:
        raise ImageryError(Message("{name} does not exist", name=p.name)) from exc
    info = read_scene_info(p, bands=bands, values=False)
    found = _stretch_cached(str(p), (st.st_mtime_ns, st.st_size), info.roles.pairs,
                            float(low_pct), float(high_pct))
    return {r: (lo, hi) for r, lo, hi in found}


# -- the band combinations ---------------------------------------------------------------------

def available_combos(info: SceneInfo) -> list[str]:
    """Return the combinations the scene's bands allow, in :data:`COMBOS` order."""
    return [name for name, roles in COMBOS.items() if info.roles.has(*roles)]


def ndvi_colours(ndvi: np.ndarray) -> np.ndarray:
    """RGB uint8 (…, 3) of NDVI values through :data:`NDVI_RAMP` (clipped at its ends).

    Examples
    --------
    >>> ndvi_colours(np.array([-1.0, 0.9])).tolist()
    [[140, 81, 10], [0, 68, 27]]
    """
    stops = np.array([v for v, _ in NDVI_RAMP])
    rgb = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for _, c in NDVI_RAMP], float)
    flat = np.nan_to_num(np.asarray(ndvi, dtype=np.float64), nan=stops[0])
    out = np.stack([np.interp(flat, stops, rgb[:, i]) for i in range(3)], axis=-1)
    return np.asarray(np.rint(out).astype(np.uint8))


def _ndvi(nir: np.ndarray, red: np.ndarray) -> np.ndarray:
    total = nir + red
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total != 0, (nir - red) / total, np.nan).astype(np.float32)


def _to_bytes(band: np.ndarray, lo: float, scale: float) -> np.ndarray:
    """Stretch one band to uint8: ``rint(clip((band - lo) * scale, 0, 255))``.

    8- and 16-bit unsigned bands go through a lookup table of every stored value (65,536
    entries at most, built in float32 like the arithmetic path): one gather per pixel
    instead of four float passes. Other types are computed in float32, in place.
    """
    if band.dtype in (np.uint8, np.uint16):
        levels = np.arange(np.iinfo(band.dtype).max + 1, dtype=np.float32)
        return np.asarray(_to_bytes(levels, lo, scale)[band])
    out = (band.astype(np.float32) - np.float32(lo)) * np.float32(scale)
    np.nan_to_num(out, copy=False, nan=0.0)
    np.clip(out, 0, 255, out=out)
    return np.asarray(np.rint(out, out=out).astype(np.uint8))


def _colourise(combo: str, bands: np.ndarray, roles: Sequence[str], valid: np.ndarray,
               stretch: Mapping[str, tuple[float, float]]
               ) -> tuple[np.ndarray, tuple[float, float] | None]:
    """RGBA uint8 (h, w, 4) of the combination, transparent and black where not ``valid``.

    ``bands`` are the warped bands (stored type) in ``roles`` order; also returns the
    (low, high) stretch used (None for NDVI).
    """
    by_role = dict(zip(roles, bands, strict=True))
    rgba = np.zeros((*valid.shape, 4), dtype=np.uint8)
    used: tuple[float, float] | None = None
    if combo == "ndvi":
        nir = by_role["nir"].astype(np.float32)
        red = by_role["red"].astype(np.float32)
        ndvi = _ndvi(nir, red)
        valid = valid & np.isfinite(ndvi)
        rgba[..., :3] = ndvi_colours(ndvi)
    else:
        combo_roles = COMBOS[combo]
        lo = min(stretch[r][0] for r in combo_roles)
        hi = max(stretch[r][1] for r in combo_roles)
        scale = 255.0 / (hi - lo) if hi > lo else 0.0
        for i, r in enumerate(combo_roles):
            rgba[..., i] = _to_bytes(by_role[r], lo, scale)
        used = (lo, hi)
    np.copyto(rgba[..., :3], 0, where=~valid[..., None])
    rgba[..., 3] = valid
    rgba[..., 3] *= 255
    return rgba, used


# -- the view ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Read:
    """Bands read for a view (stored type, 0 where invalid), their validity and grid."""

    bands: np.ndarray  # (roles, rows, cols)
    roles: tuple[str, ...]
    valid: np.ndarray  # (rows, cols) uint8, 1 where valid
    transform: Affine
    factor: int
    shape: tuple[int, int]
    complete: bool = False  # every pixel valid and the window not cut by the raster's edge


def _read_for_grid(info: SceneInfo, roles: Sequence[str], dst_transform: Affine,
                   cols: int, rows: int) -> _Read | None:
    """Read the roles under a 3857 grid from the right overview level, at screen resolution.

    The level is :func:`choose_overview`'s; when even that level is finer than the screen
    (a scene without overviews, or a view between two levels), GDAL averages it down to
    about one pixel per screen pixel as it reads (class bands, if any, make it nearest
    neighbour, as in :func:`build_overviews`).
    """
    gx0, gy1 = dst_transform @ (0, 0)
    gx1, gy0 = dst_transform @ (cols, rows)
    sx0, sy0, sx1, sy1 = transform_bounds(WEB_MERCATOR, info.crs_wkt, gx0, gy0, gx1, gy1,
                                          densify_pts=_DENSIFY)
    screen_res = min((sx1 - sx0) / cols, (sy1 - sy0) / rows)
    factors = _overview_factors(info)
    level = choose_overview(factors, info.res_m, screen_res)
    factor = 1 if level is None else factors[level]
    all_roles = [*roles, *_mask_roles(info)]
    with _open(info.path, level) as src:
        level_res = abs(src.transform.a)
        win, whole = _padded_window(src, (sx0, sy0, sx1, sy1), pad=2 * level_res)
        if win is None:
            return None
        ratio = screen_res / level_res
        k = ratio if ratio > _DECIMATE_ABOVE else 1.0
        shape = (max(1, math.ceil(win.height / k)), max(1, math.ceil(win.width / k)))
        method = (Resampling.average if k > 1 and len(all_roles) == len(roles)
                  else Resampling.nearest)
        try:
            stack = src.read([info.roles.index(r) for r in all_roles], window=win,
                             out_shape=(len(all_roles), *shape), resampling=method)
        except rasterio.errors.RasterioError as exc:
            raise ImageryError(Message("{name}: cannot decode the view's window ({cause}); "
                                       "the file is corrupt or truncated", name=info.path.name,
                                       cause=str(exc.__cause__ or exc))) from exc
        transform = src.window_transform(win) @ Affine.scale(win.width / shape[1],
                                                             win.height / shape[0])
    valid = _valid_mask(info, stack, all_roles)
    bands = stack[:len(roles)]
    if bands.dtype.kind == "f":
        bands = np.nan_to_num(bands, nan=0.0, posinf=0.0, neginf=0.0)
    bands[:, ~valid] = 0
    effective = max(1, round(factor * win.width / shape[1]))
    return _Read(bands, tuple(roles), valid.view(np.uint8), transform, effective, shape,
                 complete=whole and bool(valid.all()))


def _padded_window(src: Any, bounds: tuple[float, float, float, float], *, pad: float
                   ) -> tuple[Window | None, bool]:
    """Whole-pixel window of ``src`` over ``bounds`` plus ``pad`` (the bilinear kernel).

    Also says whether the window lies wholly inside the raster (not cut by its edges).
    """
    x0, y0, x1, y1 = bounds
    raw = from_bounds(x0 - pad, y0 - pad, x1 + pad, y1 + pad, src.transform)
    c0, r0 = math.floor(raw.col_off), math.floor(raw.row_off)
    win = Window(c0, r0, math.ceil(raw.col_off + raw.width) - c0,
                 math.ceil(raw.row_off + raw.height) - r0)
    try:
        inside = win.intersection(Window(0, 0, src.width, src.height))
    except rasterio.errors.WindowError:
        return None, False
    return inside, inside == win


def _warp(read: _Read, crs_wkt: str, dst_transform: Affine, cols: int, rows: int
          ) -> tuple[np.ndarray, np.ndarray]:
    """Reproject into the 3857 grid: the bands (stored type) and the validity (bool).

    The bands go through GDAL's fast bilinear path (stored type, no nodata: about 5x faster
    than float32 with NaN as nodata; the read is never much finer than the grid, so the
    kernel stays 2 x 2) and the validity through nearest neighbour, so the mask never
    blurs; a pixel next to no data may mix in up to a quarter of a zero (a faint dark
    fringe one pixel wide along no-data edges, only in the colours, never in the alpha).
    """
    common = {"src_transform": read.transform, "src_crs": crs_wkt,
              "dst_transform": dst_transform, "dst_crs": WEB_MERCATOR}
    dst = np.zeros((len(read.roles), rows, cols), dtype=read.bands.dtype)
    reproject(read.bands, dst, resampling=Resampling.bilinear, **common)
    if read.complete:  # the window covers the whole grid with valid pixels: nothing to mask
        return dst, np.ones((rows, cols), dtype=bool)
    valid = np.zeros((rows, cols), dtype=np.uint8)
    reproject(read.valid, valid, resampling=Resampling.nearest, **common)
    return dst, valid.view(bool)


def render_view(path: str | Path, bounds_lonlat: Sequence[float], width_px: int,
                height_px: int, combo: str = "true_colour",
                stretch: tuple[float, float] | None = None, *,
                bands: Mapping[str, int] | None = None) -> ViewImage:
    """Render the part of a scene under a Leaflet view, at screen resolution, in EPSG:3857.

    Parameters
    ----------
    path
        A GeoTIFF scene in a projected CRS in metres (any UTM zone).
    bounds_lonlat
        (west, south, east, north) of the map view in degrees (EPSG:4326).
    width_px, height_px
        The map's size in screen (CSS) pixels.
    combo
        A key of :data:`COMBOS`: ``true_colour``, ``false_colour``, ``swir`` or ``ndvi``.
    stretch
        (low, high) percentiles of the contrast stretch; default (2, 98). Unused by NDVI.
    bands
        Role to 1-based band index, when the file's band descriptions do not say.

    Returns
    -------
    ViewImage
        Only the view pixels the scene covers (an empty image when none), with the lon/lat
        bounds of its outer pixel edges. Its pixels are the view's screen pixels.

    Raises
    ------
    ConfigError
        Unknown combination, bad bounds or size, bad percentiles.
    ImageryError, CRSError, DataNotFoundError
        Unreadable or hostile file, or a combination its bands cannot make.

    Notes
    -----
    Reads about ``width_px`` by ``height_px`` pixels per band (an overview at most 1.2x
    coarser than the screen; a finer level is averaged down as it is read), whatever the
    zoom (see the module notes); time is dominated by decoding the few blocks under the view
    and by the reprojection.
    """
    if combo not in COMBOS:
        raise ConfigError(f"unknown band combination {combo!r}; expected one of {list(COMBOS)}")
    low, high = stretch if stretch is not None else (2.0, 98.0)
    transform, _ = view_grid(bounds_lonlat, width_px, height_px)
    info = read_scene_info(path, bands=bands)
    if not info.roles.has(*COMBOS[combo]):
        raise ImageryError(Message("{name} has no {needed} band for {combo}; its bands: "
                                   "{bands}", name=info.path.name,
                                   needed=" / ".join(COMBOS[combo]), combo=combo,
                                   bands=", ".join(r for r, _ in info.roles.pairs)))
    levels = scene_stretch(info.path, low_pct=low, high_pct=high, bands=bands)
    clip = _clip_to_scene(info, transform, width_px, height_px)
    read = None
    if clip is not None:
        c0, r0, c1, r1 = clip
        sub = transform @ Affine.translation(c0, r0)
        read = _read_for_grid(info, COMBOS[combo], sub, c1 - c0, r1 - r0)
    if clip is None or read is None:
        empty = np.zeros((0, 0, 4), dtype=np.uint8)
        return ViewImage(empty, tuple(float(v) for v in bounds_lonlat),  # type: ignore[arg-type]
                         (0.0, 0.0, 0.0, 0.0), combo)
    bands_3857, valid = _warp(read, info.crs_wkt, sub, c1 - c0, r1 - r0)
    rgba, used = _colourise(combo, bands_3857, read.roles, valid, levels)
    x0, y1 = sub @ (0, 0)
    x1, y0 = sub @ (c1 - c0, r1 - r0)
    b3857 = (float(x0), float(y0), float(x1), float(y1))
    return ViewImage(rgba, _lonlat_bounds(b3857), b3857, combo, read.factor, read.shape,
                     used, NDVI_RAMP if combo == "ndvi" else ())


# -- the pixel inspector ---------------------------------------------------------------------

_INDICES: dict[str, tuple[str, str]] = {
    "ndvi": ("nir", "red"),     # vegetation
    "ndwi": ("green", "nir"),   # open water (McFeeters)
    "ndmi": ("nir", "swir1"),   # moisture
    "nbr": ("nir", "swir2"),    # burnt ground
}


def pixel_values(path: str | Path, lon: float, lat: float, *,
                 bands: Mapping[str, int] | None = None) -> dict[str, Any]:
    """Band values and normalised-difference indices of the full-resolution pixel at a point.

    Parameters
    ----------
    path
        A GeoTIFF scene.
    lon, lat
        The point in EPSG:4326 degrees (e.g. a click on the map).
    bands
        Role to 1-based band index, when the band descriptions do not say.

    Returns
    -------
    dict
        ``col``, ``row`` (0-based, full resolution), ``x_m``, ``y_m`` (pixel centre in the
        scene's CRS), ``crs``, ``valid`` (not no data nor cloud), every band role's value as
        stored, and ``ndvi``, ``ndwi``, ``ndmi``, ``nbr`` when the bands allow (None where
        the denominator is 0 or the pixel is invalid).

    Raises
    ------
    ImageryError
        When the point lies outside the raster.

    Examples
    --------
    >>> sorted(_INDICES)
    ['nbr', 'ndmi', 'ndvi', 'ndwi']
    """
    info = read_scene_info(path, bands=bands)
    if not (math.isfinite(lon) and math.isfinite(lat) and abs(lon) <= 180 and abs(lat) <= 90):
        raise ConfigError(Message("expected (lon, lat) degrees, got ({lon}, {lat})",
                                  lon=str(lon), lat=str(lat)))
    x, y = pyproj.Transformer.from_crs(4326, info.crs_wkt, always_xy=True).transform(lon, lat)
    col_f, row_f = ~info.transform @ (x, y)
    col, row = math.floor(col_f), math.floor(row_f)
    if not (0 <= col < info.width and 0 <= row < info.height):
        raise ImageryError(Message("({lon}, {lat}) lies outside {name}",
                                   lon=Number(lon, 6), lat=Number(lat, 6), name=info.path.name))
    roles = [r for r, _ in info.roles.pairs]
    with _open(info.path) as src:
        stack = src.read([i for _, i in info.roles.pairs], window=Window(col, row, 1, 1))
    valid = bool(_valid_mask(info, stack, roles)[0, 0])
    values = {r: float(stack[i, 0, 0]) for i, r in enumerate(roles)}
    cx, cy = info.transform @ (col + 0.5, row + 0.5)
    out: dict[str, Any] = {"col": col, "row": row, "x_m": float(cx), "y_m": float(cy),
                           "crs": f"EPSG:{info.epsg}" if info.epsg else info.crs_wkt,
                           "valid": valid, **values}
    for name, (a, b) in _INDICES.items():
        if a in values and b in values:
            total = values[a] + values[b]
            out[name] = (values[a] - values[b]) / total if valid and total != 0 else None
    return out


# -- the scene list and the view's size ------------------------------------------------------

def filter_scenes(scenes: Sequence[SceneRef], *, start: date | None = None,
                  end: date | None = None,
                  bounds_lonlat: Sequence[float] | None = None) -> list[SceneRef]:
    """Scenes acquired between ``start`` and ``end`` (inclusive, UTC dates) that touch a view.

    Parameters
    ----------
    scenes
        Catalogue entries (:func:`geo.imagechips.scene_refs`).
    start, end
        First and last acquisition date kept; None: open.
    bounds_lonlat
        (west, south, east, north) degrees of the map view; None: anywhere.

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> from shapely.geometry import box
    >>> a = SceneRef("a", Path("a.tif"), datetime(2024, 1, 1, tzinfo=UTC), box(0, 0, 1, 1))
    >>> [s.scene_id for s in filter_scenes([a], start=date(2024, 1, 1),
    ...                                    bounds_lonlat=(0.5, 0.5, 2, 2))]
    ['a']
    >>> filter_scenes([a], end=date(2023, 12, 31))
    []
    """
    view = None if bounds_lonlat is None else shapely.box(*(float(v) for v in bounds_lonlat))
    out = []
    for s in scenes:
        day = s.acquired_at.date()
        if (start is not None and day < start) or (end is not None and day > end):
            continue
        if view is not None and (s.footprint is None or not s.footprint.intersects(view)):
            continue
        out.append(s)
    return sorted(out, key=lambda r: (r.acquired_at, r.scene_id))


def metres_per_px(zoom: float) -> float:
    """Web Mercator metres per screen pixel at a Leaflet zoom (256-px tiles).

    Examples
    --------
    >>> round(metres_per_px(0), 2)
    156543.03
    """
    return float(2 * math.pi * _EARTH_RADIUS_M / (256 * 2**zoom))


def view_size_px(bounds_lonlat: Sequence[float], zoom: float) -> tuple[int, int]:
    """(width, height) in screen pixels of a Leaflet view given its bounds and zoom.

    Examples
    --------
    >>> b = view_bounds((-74.6, -9.4), 12, 800, 600)
    >>> view_size_px(b, 12)
    (800, 600)
    """
    x = _lon_to_x(np.array([bounds_lonlat[0], bounds_lonlat[2]]))
    y = _lat_to_y(np.array([bounds_lonlat[1], bounds_lonlat[3]]))
    res = metres_per_px(zoom)
    return round(float(x[1] - x[0]) / res), round(float(y[1] - y[0]) / res)


def view_bounds(center_lonlat: Sequence[float], zoom: float, width_px: int, height_px: int
                ) -> tuple[float, float, float, float]:
    """(west, south, east, north) of a Leaflet view of that centre, zoom and size."""
    res = metres_per_px(zoom)
    cx = float(_lon_to_x(np.array([center_lonlat[0]]))[0])
    cy = float(_lat_to_y(np.array([center_lonlat[1]]))[0])
    b = (cx - width_px / 2 * res, cy - height_px / 2 * res, cx + width_px / 2 * res,
         cy + height_px / 2 * res)
    return _lonlat_bounds(b)


def fit_zoom(bounds_lonlat: Sequence[float], width_px: int, height_px: int, *,
             max_zoom: int = 18) -> int:
    """Largest whole zoom at which ``bounds_lonlat`` fits in a view of that size.

    Examples
    --------
    >>> fit_zoom((-74.69, -9.49, -74.51, -9.31), 800, 600)
    12
    """
    x = _lon_to_x(np.array([bounds_lonlat[0], bounds_lonlat[2]]))
    y = _lat_to_y(np.array([bounds_lonlat[1], bounds_lonlat[3]]))
    need = max(float(x[1] - x[0]) / width_px, float(y[1] - y[0]) / height_px, 1e-9)
    zoom = math.floor(math.log2(2 * math.pi * _EARTH_RADIUS_M / (256 * need)))
    return max(0, min(max_zoom, zoom))
