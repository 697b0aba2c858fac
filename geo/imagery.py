"""Open multispectral GeoTIFFs safely, name their bands, and read them by windows.

A scene is opened with the GeoTIFF driver only (GDAL opens what a file *is*, not what it is
called: a VRT renamed ``.tif`` must not be followed), its declared size is checked against a
memory cap before a single pixel is read, and a missing or non-metric CRS is refused. Band
*roles* (``blue``, ``green``, ``red``, ``nir``, ``swir1``, ``swir2`` and the optional ``scl`` or
``cloud`` mask) come from the band descriptions when the file has them, or from a mapping such
as ``"blue=1,green=2,red=3,nir=6,swir1=7,swir2=8"``.

Notes
-----
Pixels stay in the raster's native CRS and grid; values are read as stored (e.g. reflectance
x 10^4 or Landsat digital numbers) and converted to float32, because every index used by the
detector is a ratio or a normalised difference and so does not depend on the scale. Memory is
bounded by the window size: one 1024 x 1024 window of 6 bands is 24 MiB of float32, plus the
12 MiB of the integer stack it was read as (kept: the detector's coarse screen sums it).

Files are untrusted. Besides the driver and the declared size, a scene whose storage blocks
(tiles or strips) are too large to decode one at a time is refused, GDAL neither lists the
folder nor reads side-car files (``.aux.xml``, ``.ovr``, ``.msk``) while opening, its block
cache is bounded, and a read that fails on a corrupt or truncated file raises
:class:`~geo.errors.ImageryError` naming the file. A process that reads untrusted rasters should
also start with :func:`gdal_process_environment` in its environment (``GDAL_SKIP`` only works
before GDAL registers its drivers); the detection command does that for itself and its workers.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pyproj
import rasterio
import shapely
from affine import Affine
from rasterio.crs import CRS
from rasterio.windows import Window
from shapely.geometry import Polygon

from geo.errors import ConfigError, CRSError, DataNotFoundError, ImageryError
from geo.i18n import Message, Number, marked
from geo.tiffblocks import TileError, TileReader, tile_layout

log = logging.getLogger(__name__)

SPECTRAL_ROLES: tuple[str, ...] = ("blue", "green", "red", "nir", "swir1", "swir2")
MASK_ROLES: tuple[str, ...] = ("scl", "cloud")
ROLES: tuple[str, ...] = SPECTRAL_ROLES + MASK_ROLES
#: Names found in band descriptions, lower-cased, for each role.
_ALIASES: dict[str, str] = {
    **{r: r for r in ROLES},
    "b02": "blue", "b2": "blue", "b03": "green", "b3": "green", "b04": "red", "b4": "red",
    "b08": "nir", "b8": "nir", "b8a": "nir", "near infrared": "nir", "nir08": "nir",
    "b11": "swir1", "swir16": "swir1", "b12": "swir2", "swir22": "swir2",
    "scene classification": "scl", "cloud mask": "cloud", "clouds": "cloud",
}
#: Sentinel-2 scene classes treated as unusable: no data, saturated, cloud shadow, clouds
#: of medium and high probability, thin cirrus.
SCL_INVALID: tuple[int, ...] = (0, 1, 3, 8, 9, 10)
DEFAULT_MAX_BYTES = 4 * 1024**3  # declared decoded size above which a file is refused
#: Decoded size of one storage block (all bands) above which a file is refused: reading any
#: window decodes whole blocks, so a file stored as one huge strip would be read whole.
MAX_BLOCK_BYTES = 64 * 1024**2
#: GDAL settings used for every open: no directory listing (so no side-car file is looked up
#: or followed), no .aux.xml read or written beside the input.
SAFE_GDAL_OPTIONS: Mapping[str, str] = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "GDAL_PAM_ENABLED": "NO",
}
GDAL_CACHE_MB = 64  # GDAL's block cache per process (its default is 5 % of the RAM)
_MAPPING_MAX_CHARS = 400
_DATE_IN_NAME = re.compile(r"(?<!\d)(\d{4})-?(\d{2})-?(\d{2})(?!\d)")


def _whole(value: object) -> object:
    """Return an ``int`` as a number of a :class:`Message` (local separators), else its text.

    So a message reads as the f-string it replaces did: ``10.0`` stays ``10.0``.
    """
    return value if isinstance(value, int) and not isinstance(value, bool) else str(value)


@dataclass(frozen=True)
class BandRoles:
    """Which 1-based band index of a raster plays which role.

    Examples
    --------
    >>> roles = BandRoles.from_mapping({"red": 3, "green": 2, "blue": 1})
    >>> roles.is_rgb_only, roles.index("red")
    (True, 3)
    """

    pairs: tuple[tuple[str, int], ...]

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, int]) -> BandRoles:
        """Build from ``{role: band index}``; checks roles, indices (1 up) and repeats."""
        unknown = sorted(set(mapping) - set(ROLES))
        if unknown:
            raise ConfigError(Message("unknown band role(s) {unknown}; expected some of {roles}",
                                      unknown=str(unknown), roles=str(list(ROLES))))
        bad = [f"{r}={i!r}" for r, i in mapping.items()
               if not isinstance(i, int) or isinstance(i, bool) or i < 1]
        if bad:
            raise ConfigError(Message("band indices are whole numbers from 1, got {pairs}",
                                      pairs=", ".join(bad)[:200]))
        seen: dict[int, str] = {}
        for role, idx in mapping.items():
            if idx in seen:
                raise ConfigError(Message("band {index} given to both {first} and {second}; "
                                          "each band plays one role", index=_whole(idx),
                                          first=repr(seen[idx]), second=repr(role)))
            seen[idx] = role
        return cls(tuple(sorted(mapping.items(), key=lambda kv: ROLES.index(kv[0]))))

    def index(self, role: str) -> int:
        """1-based band index of ``role``; :class:`KeyError` when absent."""
        return dict(self.pairs)[role]

    def has(self, *roles: str) -> bool:
        """Return True when every role in ``roles`` is present."""
        names = {r for r, _ in self.pairs}
        return all(r in names for r in roles)

    @property
    def is_multispectral(self) -> bool:
        """True when red, NIR and SWIR1 are present (the full detector can run)."""
        return self.has("red", "nir", "swir1")

    @property
    def usable(self) -> bool:
        """True when detection can run: multispectral, or blue, green and red."""
        return self.is_multispectral or self.is_rgb_only

    @property
    def is_rgb_only(self) -> bool:
        """True when only the visible bands are usable (lower-confidence detection)."""
        return self.has("blue", "green", "red") and not self.is_multispectral


def parse_band_mapping(text: str) -> dict[str, int]:
    """Parse ``"blue=1,green=2,red=3"`` into ``{"blue": 1, "green": 2, "red": 3}``.

    Parameters
    ----------
    text
        Comma-separated ``role=index`` pairs; indices are 1-based as in GDAL; spaces ignored.

    Returns
    -------
    dict
        Role name to band index.

    Raises
    ------
    ConfigError
        On any malformed pair, unknown role, repeated role or band, or index < 1, naming it.

    Examples
    --------
    >>> parse_band_mapping("blue=1, green=2,red=3,nir=6")
    {'blue': 1, 'green': 2, 'red': 3, 'nir': 6}
    """
    if len(text) > _MAPPING_MAX_CHARS:
        raise ConfigError(Message("band mapping is {n} characters long; expected at most "
                                  "{limit}, e.g. 'blue=1,green=2,red=3,nir=4'",
                                  n=len(text), limit=_MAPPING_MAX_CHARS))
    out: dict[str, int] = {}
    for raw in text.split(","):
        pair = raw.strip()
        role, sep, value = (s.strip() for s in pair.partition("="))
        if not sep or not role or not value:
            raise ConfigError(Message("expected role=index, got {pair} in {text}; "
                                      "write e.g. 'blue=1,green=2,red=3,nir=4'",
                                      pair=repr(pair), text=repr(text)))
        role = role.lower()
        if role not in ROLES:
            raise ConfigError(Message("unknown band role {role}; expected one of {roles}",
                                      role=repr(role), roles=", ".join(ROLES)))
        if role in out:
            raise ConfigError(Message("band role {role} given twice in {text}",
                                      role=repr(role), text=repr(text)))
        if not value.isascii() or not value.isdigit() or int(value) < 1:
            raise ConfigError(Message("band index for {role} must be a whole number >= 1, "
                                      "got {value}", role=repr(role), value=repr(value)))
        out[role] = int(value)
    BandRoles.from_mapping(out)  # repeated band indices
    return out


def roles_from_descriptions(descriptions: tuple[str | None, ...]) -> dict[str, int]:
    """Roles named by band descriptions (``"red"``, ``"B04"``, ``"nir"``...); others skipped.

    Examples
    --------
    >>> roles_from_descriptions(("blue", "green", "red", None, "B11"))
    {'blue': 1, 'green': 2, 'red': 3, 'swir1': 5}
    """
    out: dict[str, int] = {}
    for i, desc in enumerate(descriptions, start=1):
        role = _ALIASES.get((desc or "").strip().lower())
        if role is not None and role not in out:
            out[role] = i
    return out


@dataclass(frozen=True)
class SceneInfo:
    """What a scene declares: size, grid, CRS, band roles, date; no pixels read."""

    path: Path
    width: int
    height: int
    count: int
    dtype: str
    crs_wkt: str
    epsg: int | None
    transform: Affine
    res_m: float
    nodata: float | None
    roles: BandRoles
    acquired: date | None
    notes: tuple[str, ...] = field(default=())
    #: (gain, offset) per role of ``roles.pairs`` that :func:`read_window` applies to the
    #: float bands (:func:`scene_radiometry`); empty when the values are used as stored.
    radiometry: tuple[tuple[float, float], ...] = ()

    @property
    def scene_id(self) -> str:
        """File name without extension."""
        return self.path.stem


def _acquired(tags: Mapping[str, str], path: Path) -> date | None:
    """Acquisition date from the ACQUISITION_DATE tag, else the first date in the file name."""
    text = tags.get("ACQUISITION_DATE") or tags.get("TIFFTAG_DATETIME") or ""
    for candidate in (text, path.name):
        m = _DATE_IN_NAME.search(candidate)
        if m:
            try:
                return date(int(m[1]), int(m[2]), int(m[3]))
            except ValueError:
                continue
    return None


def gdal_process_environment() -> dict[str, str]:
    """Environment variables for a process that reads untrusted rasters.

    ``GDAL_SKIP`` keeps the VRT drivers (which read other files named inside the file) from
    being registered at all; it takes effect only if set before GDAL registers its drivers, so
    put these into ``os.environ`` at the start of a command and into the environment of worker
    processes. The options of :data:`SAFE_GDAL_OPTIONS` and the cache size are included.

    Examples
    --------
    >>> gdal_process_environment()["GDAL_SKIP"]
    'VRT OGR_VRT'
    """
    return {"GDAL_SKIP": "VRT OGR_VRT", "GDAL_CACHEMAX": str(GDAL_CACHE_MB),
            **SAFE_GDAL_OPTIONS}


def gdal_cause(exc: BaseException, path: Path | str) -> str:
    """GDAL's words for a file it refused, with the file's folders left out.

    GDAL names the file by the path it was given (``'/srv/atalaya/data/scenes/x.tif' not
    recognized ...``); the reason reaches the app's pages, which should not show where the
    server keeps its files. The file's name is kept.

    Examples
    --------
    >>> gdal_cause(OSError("'/srv/data/scenes/x.tif' not recognized"), "/srv/data/scenes/x.tif")
    "'x.tif' not recognized"
    """
    text, p = str(exc), Path(path)
    for shown in sorted({str(p), os.fspath(p.absolute()), str(p.resolve())}, key=len,
                        reverse=True):
        text = text.replace(shown, p.name)
    return text


@contextmanager
def open_geotiff(path: Path) -> Iterator[rasterio.DatasetReader]:
    """Open ``path`` with the GeoTIFF driver only, :data:`SAFE_GDAL_OPTIONS` and a small cache.

    Raises
    ------
    ImageryError
        When GDAL cannot open it as a GeoTIFF.
    """
    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB * 1024**2, **SAFE_GDAL_OPTIONS):
        try:
            src = rasterio.open(path, driver="GTiff")
        except rasterio.errors.RasterioIOError as exc:
            raise ImageryError(Message("{name} is not a readable GeoTIFF ({cause}); only "
                                       "GeoTIFF scenes are accepted", name=path.name,
                                       cause=gdal_cause(exc, path))) from exc
        with src:
            yield src


def _check_size(src: rasterio.DatasetReader, path: Path, max_bytes: int) -> None:
    """Refuse odd data types, a declared size above ``max_bytes`` and oversized blocks."""
    dtype = np.dtype(src.dtypes[0])
    if dtype.kind not in "uif":
        raise ImageryError(Message("{name} holds {dtype} pixels; expected integer or real "
                                   "reflectance bands (uint16, float32...)", name=path.name,
                                   dtype=str(dtype)))
    declared = src.width * src.height * src.count * dtype.itemsize
    if declared > max_bytes:
        # the sizes as GDAL writes them (no separators; tests match "100000 x 100000")
        raise ImageryError(Message("{name} declares {width} x {height} x {count} {dtype} = "
                                   "{size} GB decoded; the cap is {cap} GB. Clip the scene or "
                                   "raise max_bytes.", name=path.name, width=str(src.width),
                                   height=str(src.height), count=str(src.count),
                                   dtype=str(src.dtypes[0]), size=Number(declared / 1e9, 1),
                                   cap=Number(max_bytes / 1e9, 1)))
    rows, cols = src.block_shapes[0]
    block = rows * cols * src.count * dtype.itemsize
    if block > MAX_BLOCK_BYTES:
        raise ImageryError(Message("{name} stores its pixels in {cols} x {rows} blocks of "
                                   "{size} MB decoded; the cap is {cap} MB, since reading any "
                                   "window decodes whole blocks. Re-tile it: gdal_translate "
                                   "-co TILED=YES -co COMPRESS=DEFLATE in.tif out.tif",
                                   name=path.name, cols=int(cols), rows=int(rows),
                                   size=Number(block / 1e6, 0),
                                   cap=Number(MAX_BLOCK_BYTES / 1e6, 0)))


def gcps_only(name: str) -> Message:
    """Say that a scene is placed by ground control points only, and how to warp it."""
    return Message("{name} is placed by ground control points, not by a grid; warp it onto "
                   "one first (gdalwarp -t_srs EPSG:327xx in.tif out.tif)", name=name)


def in_metres(crs: CRS) -> bool:
    """Whether ``crs`` is projected with the metre as its unit (what the detector measures in)."""
    return bool(crs.is_projected) and (crs.linear_units or "").lower() in {"metre", "m",
                                                                            "meter"}


def north_up_square(transform: Affine) -> bool:
    """Whether a grid's pixels are north-up (no rotation) and square (to 0.1 %)."""
    t = transform
    return t.b == 0 and t.d == 0 and bool(np.isclose(abs(t.a), abs(t.e), rtol=1e-3))


def _check_grid(src: rasterio.DatasetReader, path: Path) -> float:
    """Refuse a missing or geographic CRS and rotated or non-square pixels; return metres."""
    if src.crs is None and src.gcps[0]:
        raise CRSError(gcps_only(path.name))
    if src.crs is None:
        raise CRSError(Message("{name} has no CRS; expected a projected CRS in metres such as "
                               "EPSG:32718. Fix the file (gdal_edit.py -a_srs) rather than "
                               "guessing.", name=path.name))
    if not in_metres(src.crs):
        raise CRSError(Message("{name} is in {crs}; expected a projected CRS in metres (UTM). "
                               "Reproject it first (gdalwarp -t_srs EPSG:327xx).",
                               name=path.name, crs=src.crs.to_string()))
    t = src.transform
    if t.is_identity or t.determinant == 0:  # GDAL's stand-in when a file has no transform
        raise CRSError(Message("{name} has no georeferencing (no pixel-to-ground transform); "
                               "fix the file (gdal_edit.py -a_ullr) rather than guessing.",
                               name=path.name))
    if not north_up_square(t):
        raise ImageryError(Message("{name} has rotated or non-square pixels ({transform}); "
                                   "resample it to a north-up grid first", name=path.name,
                                   transform=str(t)))
    return float(abs(t.a))


def read_scene_info(path: str | Path, *, bands: Mapping[str, int] | None = None,
                    max_bytes: int = DEFAULT_MAX_BYTES, values: bool = True) -> SceneInfo:
    """Open a GeoTIFF header and check it: driver, CRS, declared size, band roles.

    Parameters
    ----------
    path
        A GeoTIFF file; opened with ``driver="GTiff"`` only.
    bands
        Role to 1-based band index; default: from the band descriptions.
    max_bytes
        Cap on ``width * height * count * itemsize`` as declared by the header; storage
        blocks are capped at :data:`MAX_BLOCK_BYTES`.
    values
        Work out :attr:`SceneInfo.radiometry` (:func:`scene_radiometry`: a float raster's
        values are sampled, about 0.1 s). False leaves it empty, for callers that only list
        or display the scene (a display stretches the values it reads, whatever their units).

    Returns
    -------
    SceneInfo

    Raises
    ------
    ImageryError, CRSError, ConfigError, DataNotFoundError
        With the reason and the fix in the message.
    """
    p = Path(path)
    if not p.is_file():
        raise DataNotFoundError(Message("{path} does not exist or is not a file", path=str(p)))
    with open_geotiff(p) as src:
        _check_size(src, p, max_bytes)
        res = _check_grid(src, p)
        roles, notes = _resolve_roles(src, bands)
        epsg = src.crs.to_epsg()
        return SceneInfo(path=p, width=src.width, height=src.height, count=src.count,
                         dtype=src.dtypes[0], crs_wkt=src.crs.to_wkt(), epsg=epsg,
                         transform=src.transform, res_m=res, nodata=src.nodata, roles=roles,
                         acquired=_acquired(src.tags(), p), notes=notes,
                         radiometry=scene_radiometry(src, roles) if values else ())


#: A raster whose sampled values (after its declared scale and offset) have a 99th
#: percentile at or below this is taken as reflectance (0-1, up to about 1.6 over clouds) ...
REFLECTANCE_MAX = 10.0
#: ... and read multiplied by this, into the units of the integer products (Sentinel-2 L1C and
#: L2A, Landsat DN: 10,000 per unit of reflectance), where the detector's log floor of 1
#: stands for a reflectance of 0.0001.
REFLECTANCE_SCALE = 10_000.0
_SAMPLE_PX = 128  # side of each of the five windows scene_radiometry() reads


def scene_radiometry(src: rasterio.DatasetReader, roles: BandRoles
                     ) -> tuple[tuple[float, float], ...]:
    """(gain, offset) per role that bring stored values to integer-product units, or ().

    The detector takes the log of each band with values below 1 counted as 1 (one count of a
    12-16 bit product; :func:`geo.detect.evidence.log_bands`), and its local contrasts are
    ratios, so two things break it: float reflectance in 0-1 (Google Earth Engine, SNAP and
    surface-reflectance exports), all below that floor (no candidate at all), and an additive
    offset (Sentinel-2 L2A from processing baseline 04.00 stores reflectance x 10,000 +
    1,000), which shrinks every ratio (+1,000 on the Peru chips took the committed scorer's
    active recall on them from 0.86 to 0.67). So:

    - the scale and offset the file declares (GDAL's per-band scale/offset, as
      ``gdal_translate`` and ``gdal_edit.py -scale/-offset`` write them) are applied;
    - values that then look like reflectance (99th percentile at most
      :data:`REFLECTANCE_MAX`) are multiplied by :data:`REFLECTANCE_SCALE`.

    Integer rasters that declare nothing are used as stored (and not sampled). The decision
    is made once per scene from five ``_SAMPLE_PX`` windows (the centre and the centres of
    the four quadrants) of the spectral bands: finite, not nodata, above 0 once scaled. A
    sample that cannot be read or holds no such value leaves the reflectance factor at 1
    (the windows' own reads report a corrupt file). An offset a file does not declare
    cannot be seen; declare it (``gdal_edit.py -offset -1000``).

    Examples
    --------
    Integer rasters without a declared scale or offset are never sampled:

    >>> src = type("Src", (), {"dtypes": ("uint16",), "scales": (1.0,), "offsets": (0.0,)})()
    >>> scene_radiometry(src, BandRoles((("red", 1),)))
    ()
    """
    declared = [(float(src.scales[i - 1]), float(src.offsets[i - 1])) for _, i in roles.pairs]
    spectral = [k for k, (role, _) in enumerate(roles.pairs) if role not in MASK_ROLES]
    if np.dtype(src.dtypes[0]).kind != "f" and all(declared[k] == (1.0, 0.0)
                                                   for k in spectral):
        return ()
    factor = REFLECTANCE_SCALE if _looks_like_reflectance(src, roles, declared,
                                                          spectral) else 1.0
    out = tuple((gain * factor, offset * factor) if k in spectral else (1.0, 0.0)
                for k, (gain, offset) in enumerate(declared))
    return () if all(g == 1.0 and o == 0.0 for g, o in out) else out


def _looks_like_reflectance(src: rasterio.DatasetReader, roles: BandRoles,
                            declared: list[tuple[float, float]], spectral: list[int]) -> bool:
    """Whether the sampled spectral values, scaled as declared, look like reflectance."""
    idx = [roles.pairs[k][1] for k in spectral]
    gain = np.array([declared[k][0] for k in spectral])[:, None, None]
    offset = np.array([declared[k][1] for k in spectral])[:, None, None]
    side = min(_SAMPLE_PX, src.width, src.height)
    values = []
    for fx, fy in ((0.5, 0.5), (0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)):
        col = min(max(int(fx * src.width) - side // 2, 0), src.width - side)
        row = min(max(int(fy * src.height) - side // 2, 0), src.height - side)
        try:
            stored = src.read(idx, window=Window(col, row, side, side)).astype(np.float64)
        except rasterio.errors.RasterioError:
            return False
        ok = np.isfinite(stored)
        if src.nodata is not None:
            ok &= stored != src.nodata
        scaled = stored * gain + offset
        values.append(scaled[ok & (scaled > 0)])
    sample = np.concatenate(values)
    return bool(sample.size) and float(np.percentile(sample, 99)) <= REFLECTANCE_MAX


#: Notes on a scene's bands, carried into its candidates' reasons (translated where shown,
#: :mod:`geo.detect.reasons`).
NOTE_GUESSED_RGB = marked("no band descriptions: 3 bands taken as red, green, blue")
NOTE_RGB_ONLY = marked("RGB only (no NIR/SWIR): lower-confidence detection from brightness "
                       "and redness")


def described_roles(descriptions: tuple[str | None, ...]) -> tuple[dict[str, int], bool]:
    """Roles the band descriptions give, and whether they were guessed.

    Three bands none of which is named are taken as red, green, blue (the true-colour order
    of 3-band products): then the second value is True.

    Examples
    --------
    >>> described_roles((None, None, None))
    ({'red': 1, 'green': 2, 'blue': 3}, True)
    >>> described_roles(("B04", "x", "y", "z"))
    ({'red': 1}, False)
    """
    mapping = roles_from_descriptions(descriptions)
    if not mapping and len(descriptions) == 3:
        return {"red": 1, "green": 2, "blue": 3}, True
    return mapping, False


def _resolve_roles(src: rasterio.DatasetReader,
                   bands: Mapping[str, int] | None) -> tuple[BandRoles, tuple[str, ...]]:
    mapping, guessed = ((dict(bands), False) if bands is not None
                        else described_roles(tuple(src.descriptions)))
    notes: tuple[str, ...] = (NOTE_GUESSED_RGB,) if guessed else ()
    roles = BandRoles.from_mapping(mapping)
    too_high = [f"{r}={i}" for r, i in roles.pairs if i > src.count]
    if too_high:
        raise ConfigError(Message("band mapping {pairs} exceeds the {count} bands of {name}",
                                  pairs=", ".join(too_high), count=int(src.count),
                                  name=Path(src.name).name))
    if not roles.usable:
        found = str(dict(roles.pairs)) if roles.pairs else Message("no names")
        raise ConfigError(Message("{name}: cannot tell which band is which (found {found}); "
                                  "pass a mapping such as "
                                  "--bands blue=1,green=2,red=3,nir=4,swir1=5,swir2=6, or, "
                                  "for a stored scene, give its bands their roles on the "
                                  "Import data page",
                                  name=Path(src.name).name, found=found))
    if roles.is_rgb_only:
        notes += (NOTE_RGB_ONLY,)
    return roles, notes


def raster_outline(width: int, height: int, transform: Affine, crs_wkt: str, *,
                   points_per_side: int = 21) -> Polygon | None:
    """Return a raster's edge as a polygon in EPSG:4326; None if the CRS cannot place it.

    ``points_per_side`` points on each side (corners included), so that the outline follows
    the curve a straight pixel edge makes on the globe. A ring that comes out self-crossing
    is made valid (its convex hull if that gives several parts).
    """
    edge = np.linspace(0.0, 1.0, points_per_side)
    full = np.ones(points_per_side)
    cols = np.concatenate([edge * width, full * width, edge[::-1] * width, 0 * edge])
    rows = np.concatenate([0 * edge, edge * height, full * height, edge[::-1] * height])
    xs = transform.a * cols + transform.b * rows + transform.c
    ys = transform.d * cols + transform.e * rows + transform.f
    lons, lats = pyproj.Transformer.from_crs(crs_wkt, 4326, always_xy=True).transform(xs, ys)
    if not (np.isfinite(lons).all() and np.isfinite(lats).all()):
        return None
    poly = shapely.make_valid(Polygon(np.column_stack([lons, lats])))
    return poly if poly.geom_type == "Polygon" else shapely.convex_hull(poly)


def iter_windows(width: int, height: int, *, size: int = 1024,
                 overlap: int = 256) -> Iterator[Window]:
    """Cover a ``width x height`` raster with square windows that overlap by ``overlap`` px.

    Windows are laid out row by row; the last row and column are shifted back so that every
    window is full size when the raster allows it (no thin slivers at the edges).

    Examples
    --------
    >>> [(w.col_off, w.row_off, w.width, w.height) for w in iter_windows(300, 200, size=200,
    ...                                                                  overlap=50)]
    [(0, 0, 200, 200), (100, 0, 200, 200)]
    """
    if size <= 0 or not 0 <= overlap < size:
        raise ConfigError(f"expected size > 0 and 0 <= overlap < size, got size={size}, "
                          f"overlap={overlap}")
    step = size - overlap

    def starts(n: int) -> list[int]:
        if n <= size:
            return [0]
        out = list(range(0, n - size, step))
        return [*out, n - size]

    for row in starts(height):
        for col in starts(width):
            yield Window(col, row, min(size, width - col), min(size, height - row))


class LazyBands(Mapping[str, np.ndarray]):
    """Float32 bands by role, made from a window's integer stack when first read.

    ``bands[role]`` is ``stack[plane].astype(np.float32)``, made once and read-only;
    :meth:`part` makes only the pixels asked for while the whole band has not been made. The
    screened detector reads the full-resolution bands over about a tenth of a window's
    blocks, so most windows never make a whole band (converting all five bands of every
    1024 px window cost 0.7 of the benchmark tile's 12.9 CPU-s, measured 2026-12-06).
    """

    def __init__(self, stack: np.ndarray, planes: tuple[tuple[str, int], ...]) -> None:
        self._stack = stack
        self._plane = dict(planes)
        self._made: dict[str, np.ndarray] = {}

    def __getitem__(self, role: str) -> np.ndarray:
        made = self._made.get(role)
        if made is None:
            made = self._stack[self._plane[role]].astype(np.float32)
            made.flags.writeable = False
            self._made[role] = made
        return made

    def __contains__(self, role: object) -> bool:  # Mapping's would make the band
        return role in self._plane

    def __iter__(self) -> Iterator[str]:
        return iter(self._plane)

    def __len__(self) -> int:
        return len(self._plane)

    def part(self, role: str, index: tuple[slice, slice]) -> np.ndarray:
        """``self[role][index]`` (a new array when the band is not made yet: do not write)."""
        made = self._made.get(role)
        if made is not None:
            return made[index]
        out: np.ndarray = self._stack[self._plane[role]][index].astype(np.float32)
        return out

    def stored(self, role: str) -> np.ndarray:
        """Return the role's plane as stored (integers, or the float32 band once made).

        For compiled kernels that make each value float32 themselves: they give the same
        results from either, without a window-sized conversion.
        """
        made = self._made.get(role)
        out: np.ndarray = self._stack[self._plane[role]] if made is None else made
        return out


@dataclass(frozen=True)
class WindowData:
    """Pixels of one window: float32 bands by role, a validity mask and the window's grid.

    Attributes
    ----------
    bands
        Float32 bands by role; read-only (a :class:`LazyBands` makes them from ``raw`` when
        first read). :meth:`band` reads part of one.
    raw, raw_planes
        The integer stack the bands were read as, ``(n_roles, h, w)`` (None when the raster
        is real-valued, has a :attr:`SceneInfo.radiometry`, or the window was made
        otherwise), and the plane of each role in it: ``bands[role]`` is
        ``raw[plane].astype(np.float32)``. The coarse screen sums the integers directly
        (:func:`geo.detect.screen.coarse_sums`).
    """

    window: Window
    transform: Affine
    bands: Mapping[str, np.ndarray]
    valid: np.ndarray
    res_m: float
    raw: np.ndarray | None = None
    raw_planes: tuple[tuple[str, int], ...] = ()

    def band(self, role: str, index: tuple[slice, slice]) -> np.ndarray:
        """``bands[role][index]``, without making the whole band when it is lazy (read-only)."""
        if isinstance(self.bands, LazyBands):
            return self.bands.part(role, index)
        out: np.ndarray = self.bands[role][index]
        return out

    def stored_band(self, role: str) -> np.ndarray:
        """Return the role's band as stored (:meth:`LazyBands.stored`), for kernels."""
        if isinstance(self.bands, LazyBands):
            return self.bands.stored(role)
        return self.bands[role]


def read_window(info: SceneInfo, window: Window, *,
                src: rasterio.DatasetReader | None = None, factor: int = 1) -> WindowData:
    """Read one window of every spectral role, masking nodata, zeros and clouds.

    ``src`` is the scene already opened with :func:`open_geotiff` (None: open it here). A
    caller reading several windows of a scene keeps it open, so the blocks two windows share
    are decoded once while they stay in GDAL's block cache. ``factor`` > 1 averages blocks of
    ``factor x factor`` pixels as they are read (:func:`detection_factor`: imagery finer than
    the detector's); the window is first cut to whole blocks (its last ``factor - 1`` rows
    and columns at most), so the pixels stay square.

    Raises
    ------
    ImageryError
        When the file cannot be opened or a block of the window cannot be decoded (corrupt or
        truncated file).

    Notes
    -----
    A pixel is invalid when any role's band equals the nodata value or is not finite, or when
    the ``scl`` band holds a class in :data:`SCL_INVALID`, or the ``cloud`` band is non-zero.
    Every band is read in one call, so each block of a pixel-interleaved file is decoded once.
    """
    if src is None:
        with open_geotiff(info.path) as opened:
            return read_window(info, window, src=opened, factor=factor)
    if factor > 1:
        return _read_averaged(info, src, window, factor)
    return _window_data(info, window, _read_stack(info, src, window),
                        src.window_transform(window))


_AVERAGE_CHUNK_BYTES = 64 * 1024**2  # full-resolution rows read per strip to average

#: Pixel size the detector and its scorer work at (Sentinel-2's 10 m; they learnt from it
#: and from 30 m). Finer imagery is averaged to about this (:func:`detection_factor`).
DETECTION_RES_M = 10.0


#: Most pixels averaged per side (0.3 m imagery and finer reach it): windows stay at most
#: 32,768 px across, and a raster narrower than one averaging block is read as it is.
MAX_DETECTION_FACTOR = 32


def detection_factor(res_m: float) -> int:
    """Pixels averaged per side so that ``res_m`` (metres) becomes about 10 m; 1 from 7 m.

    At most :data:`MAX_DETECTION_FACTOR`, so a file declaring absurdly small pixels cannot
    make one window the whole raster.

    At 3 m (PlanetScope) a clear 800 x 20 m strip came out as two fragments of 300 m
    (noise breaks the traced ridge at 6 px across) or not at all, and at 1 m a 1,024 px
    window is shorter than most strips; averaged to 9-10 m, both are found whole.

    Examples
    --------
    >>> [detection_factor(r) for r in (0.001, 0.5, 1.0, 3.0, 5.0, 7.0, 10.0, 30.0)]
    [32, 20, 10, 3, 2, 1, 1, 1]
    """
    if res_m >= 7.0:
        return 1
    return min(MAX_DETECTION_FACTOR, max(1, int(np.floor(DETECTION_RES_M / res_m + 0.5))))


def _read_averaged(info: SceneInfo, src: rasterio.DatasetReader, window: Window,
                   factor: int) -> WindowData:
    """Read ``window`` averaged over ``factor x factor`` blocks (:func:`block_average`).

    Read in strips of whole blocks of at most ``_AVERAGE_CHUNK_BYTES`` as stored, every band
    at once (each storage block decoded once), so a 10,240 px window of 1 m imagery never
    sits in memory at full resolution. GDAL's own averaging (``out_shape``) was not used: it
    holds the whole window (1 GB for five bands) and reads band by band, decoding each
    pixel-interleaved block once per band (40 s instead of 6 for that window).
    """
    cut = Window(window.col_off, window.row_off, int(window.width) // factor * factor,
                 int(window.height) // factor * factor)
    if cut.width < factor or cut.height < factor:  # a raster smaller than one block
        return read_window(info, window, src=src)
    shape = (int(cut.height) // factor, int(cut.width) // factor)
    n = len(info.roles.pairs)
    stack = np.empty((n, *shape), dtype=src.dtypes[0])
    classes = {k: role for k, (role, _) in enumerate(info.roles.pairs) if role in MASK_ROLES}
    per_row = factor * int(cut.width) * n * np.dtype(src.dtypes[0]).itemsize
    step = max(1, _AVERAGE_CHUNK_BYTES // per_row)
    for r in range(0, shape[0], step):
        rows = min(step, shape[0] - r)
        part = Window(cut.col_off, cut.row_off + r * factor, cut.width, rows * factor)
        stack[:, r:r + rows] = block_average(_read_stack(info, src, part), factor,
                                             nodata=info.nodata, classes=classes)
    transform = src.window_transform(cut) @ Affine.scale(factor)
    return _window_data(info, cut, stack, transform, res_m=info.res_m * factor)


_MODE_MAX_CLASSES = 16  # a class band with more distinct values takes each block's maximum


def block_average(stack: np.ndarray, factor: int, *, nodata: float | None = None,
                  classes: Mapping[int, str] | None = None) -> np.ndarray:
    """Average each ``factor x factor`` block of a ``(n, h, w)`` stack; same dtype.

    Pixels equal to ``nodata`` (and non-finite floats) are left out of each mean; a block
    with nothing else becomes ``nodata``. Integers are rounded to the nearest. Planes in
    ``classes`` (index to role) are class codes, not values: ``cloud`` takes each block's
    maximum (a block with a cloudy pixel is cloudy), ``scl`` its most common class (the
    lowest on a tie; the maximum beyond ``_MODE_MAX_CLASSES`` distinct codes, so a hostile
    band cannot make this loop for long). ``h`` and ``w`` must be multiples of ``factor``.

    Examples
    --------
    >>> a = np.array([[[1, 3, 0, 0], [5, 7, 0, 4]]], dtype=np.uint16)
    >>> block_average(a, 2, nodata=0)
    array([[[4, 4]]], dtype=uint16)
    """
    n, h, w = stack.shape
    k, m = h // factor, w // factor
    blocks = stack.reshape(n, k, factor, m, factor)
    out = np.empty((n, k, m), dtype=stack.dtype)
    for p in range(n):
        b = blocks[p]
        role = (classes or {}).get(p)
        if role is not None:
            codes = np.unique(b)
            if role == "cloud" or codes.size > _MODE_MAX_CLASSES:
                out[p] = b.max(axis=(1, 3))
            else:
                counts = np.stack([(b == c).sum(axis=(1, 3)) for c in codes])
                out[p] = codes[np.argmax(counts, axis=0)]
            continue
        ok = np.isfinite(b) if b.dtype.kind == "f" else None
        if nodata is not None:
            ok = (b != nodata) if ok is None else ok & (b != nodata)
        if ok is None or ok.all():
            mean = b.sum(axis=(1, 3), dtype=np.float64) / (factor * factor)
            count = None
        else:
            count = ok.sum(axis=(1, 3))
            total = np.where(ok, b, 0).sum(axis=(1, 3), dtype=np.float64)
            mean = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
        if b.dtype.kind in "ui":
            mean = np.rint(mean)
        if count is not None:
            mean = np.where(count > 0, mean, nodata if nodata is not None else 0)
        out[p] = mean.astype(stack.dtype)
    return out


def _read_stack(info: SceneInfo, src: rasterio.DatasetReader, window: Window) -> np.ndarray:
    """Every role's band in ``window``, as stored, ``(n_roles, h, w)``."""
    try:
        stack: np.ndarray = src.read([idx for _, idx in info.roles.pairs], window=window)
    except rasterio.errors.RasterioError as exc:
        raise _undecodable(info, window, exc) from exc
    return stack


def _undecodable(info: SceneInfo, window: Window, exc: Exception) -> ImageryError:
    """Return the refusal for a window GDAL could not decode (its message as the cause)."""
    cause = exc.__cause__ or exc  # rasterio wraps GDAL's own message
    return ImageryError(Message("{name}: cannot decode the window at column {col}, row "
                                "{row} ({cause}); the file is corrupt or truncated",
                                name=info.path.name, col=_whole(window.col_off),
                                row=_whole(window.row_off), cause=str(cause)))


#: Largest region :class:`RunReader` reads at once from a striped file (bytes as stored).
MAX_REGION_BYTES = 256 * 1024**2


def is_striped(src: rasterio.DatasetReader) -> bool:
    """Whether the file stores whole rows per block (strips) rather than tiles.

    ``gdal_translate`` and most exports write strips unless told ``-co TILED=YES``.
    """
    _, cols = src.block_shapes[0]
    return bool(cols >= src.width and src.width > 1)


class RunReader:
    """Reads a run of neighbouring windows from one open scene, each block decoded once.

    In a tiled file GDAL's block cache keeps the tiles two windows share. In a striped file
    every window decodes its rows across the whole width, and a run's rows (1,792 x 10,980 x
    five bands at 16 bits: 190 MB) do not fit the cache (:data:`GDAL_CACHE_MB`): window by
    window, detection on a striped 10,980 px wide file took 2.4x the time of the tiled one.
    So for a striped file the run's bounding region is read at once (up to
    :data:`MAX_REGION_BYTES`) and each window is a copy of its part: the same pixels as
    :func:`read_window`. If the region cannot be read (a corrupt strip), every window is read
    on its own, so only the windows that touch the damage fail. Windows averaged as they are
    read (``factor`` > 1) are read one by one. ``run`` and ``later``: this run's number
    among the scene's runs and the later runs' windows, so that a tiled file's tiles are
    handed on to them (:class:`~geo.tiffblocks.TileReader`).
    """

    def __init__(self, info: SceneInfo, src: rasterio.DatasetReader,
                 windows: Sequence[Window], *, factor: int = 1, run: int | None = None,
                 later: Mapping[int, Sequence[Window]] | None = None) -> None:
        self.info, self.src, self.factor = info, src, factor
        self.region: Window | None = None
        self.stack: np.ndarray | None = None
        self.tiles: TileReader | None = None
        if factor > 1:
            return
        if not is_striped(src):
            layout = tile_layout(src, info.path)
            if layout is not None:
                self.tiles = TileReader(layout, src, [idx for _, idx in info.roles.pairs],
                                        run=run, later=later, windows=windows)
            return
        if len(windows) < 2:
            return
        c0 = min(int(w.col_off) for w in windows)
        r0 = min(int(w.row_off) for w in windows)
        c1 = max(int(w.col_off + w.width) for w in windows)
        r1 = max(int(w.row_off + w.height) for w in windows)
        item = np.dtype(src.dtypes[0]).itemsize
        if (r1 - r0) * (c1 - c0) * len(info.roles.pairs) * item > MAX_REGION_BYTES:
            return
        region = Window(c0, r0, c1 - c0, r1 - r0)
        try:
            self.stack = _read_stack(info, src, region)
        except (ImageryError, MemoryError):
            return
        self.region = region

    def close(self) -> None:
        """Let go of the decoded tiles and the region (the scene itself stays open)."""
        if self.tiles is not None:
            self.tiles.close()
        self.stack = None

    def __enter__(self) -> RunReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read(self, window: Window) -> WindowData:
        """Return the window's pixels (:func:`read_window`), from the region if it was read."""
        if self.tiles is not None:
            try:
                stack = self.tiles.read(window)
            except (TileError, OSError) as exc:  # GDAL reads it, or says why it cannot
                log.debug("%s: window %s read by GDAL: %s", self.info.path.name, window, exc)
            else:
                return _window_data(self.info, window, stack, self.src.window_transform(window))
        if self.stack is None or self.region is None:
            return read_window(self.info, window, src=self.src, factor=self.factor)
        r = int(window.row_off - self.region.row_off)
        c = int(window.col_off - self.region.col_off)
        part = self.stack[:, r:r + int(window.height), c:c + int(window.width)]
        return _window_data(self.info, window, np.ascontiguousarray(part),
                            self.src.window_transform(window))


def _window_data(info: SceneInfo, window: Window, stack: np.ndarray,
                 transform: Affine, *, res_m: float | None = None) -> WindowData:
    """Float bands by role, validity mask and grid of a window's stored ``stack``."""
    bands: dict[str, np.ndarray] = {}
    valid = np.ones(stack.shape[1:], dtype=bool)
    if stack.dtype.kind in "ui" and not info.radiometry \
            and not any(role in MASK_ROLES for role, _ in info.roles.pairs):
        # the usual case: the validity in one compiled pass over the integers (a comparison
        # per band in NumPy: 0.4 s of the benchmark tile's CPU time), the bands made
        # float32 only where they are read (LazyBands)
        from geo.tiffblocks_kernel import nodata_valid

        nodata = _integer_nodata(info.nodata, stack.dtype)
        if nodata is not None:
            nodata_valid(stack, nodata, valid)
        planes = tuple((role, i) for i, (role, _) in enumerate(info.roles.pairs))
        return _data(info, window, transform, stack, res_m, LazyBands(stack, planes), valid)
    # one conversion of the whole stack: 2x faster than band by band (measured on 1024 px
    # windows of five uint16 bands); each band is then a contiguous plane of it
    with np.errstate(over="ignore"):  # float64 beyond float32's range: inf, then invalid
        floats = stack.astype(np.float32)
    if info.radiometry:  # into integer-product units (see scene_radiometry)
        for plane, (gain, offset) in zip(floats, info.radiometry, strict=True):
            if gain != 1.0:
                plane *= np.float32(gain)
            if offset != 0.0:
                plane += np.float32(offset)
    for (role, _), arr, data in zip(info.roles.pairs, stack, floats, strict=True):
        if role == "scl":
            valid &= ~np.isin(arr, SCL_INVALID)
            continue
        if role == "cloud":
            valid &= arr == 0
            continue
        if info.nodata is not None:
            valid &= arr != info.nodata
        if arr.dtype.kind == "f":  # any integer is a finite float32
            valid &= np.isfinite(data)
        bands[role] = data
    return _data(info, window, transform, stack, res_m, bands, valid)


def _integer_nodata(nodata: float | None, dtype: np.dtype) -> int | None:
    """``nodata`` as a value of the integer ``dtype``; None when it is none of them.

    Examples
    --------
    >>> _integer_nodata(0.0, np.dtype("uint16")), _integer_nodata(-1.0, np.dtype("uint16"))
    (0, None)
    >>> _integer_nodata(2.5, np.dtype("int16")), _integer_nodata(None, np.dtype("uint8"))
    (None, None)
    """
    if nodata is None or not math.isfinite(nodata) or not float(nodata).is_integer():
        return None
    info = np.iinfo(dtype)
    return int(nodata) if info.min <= nodata <= info.max else None


def _data(info: SceneInfo, window: Window, transform: Affine, stack: np.ndarray,
          res_m: float | None, bands: Mapping[str, np.ndarray],
          valid: np.ndarray) -> WindowData:
    planes = tuple((role, i) for i, (role, _) in enumerate(info.roles.pairs))
    return WindowData(window=window, transform=transform, bands=bands, valid=valid,
                      res_m=info.res_m if res_m is None else res_m,
                      # the screen's integer path knows nothing of the radiometry
                      raw=stack if stack.dtype.kind in "ui" and not info.radiometry else None,
                      raw_planes=planes)
