"""Image chips: small pictures of a runway strip cut from the source scenes, one per date.

An analyst judges a candidate by looking at it: the strip and its surroundings at every date
the imagery covers it, in true colour (red, green, blue) and in false colour (near infrared,
red, green: vegetation shows red, bare soil cyan-grey), before and after.

How a chip is made
------------------
1. The strip (a Polygon in EPSG:4326) is reprojected into the scene's own CRS (a UTM zone, in
   metres); nothing is resampled to another grid.
2. A square around it is cut: the strip's bounding box plus a margin of
   ``max(min_margin_m, margin_share x strip length)`` on every side, snapped to the scene's
   pixel grid. Only that window is read (:func:`geo.imagery.read_window`), never the whole
   raster; the part of the square beyond the raster's edge is left as no data.
3. The three bands of a composite are stretched linearly between one low and one high value:
   the lowest 2nd percentile and the highest 98th percentile of its bands' valid pixels (one
   range for the three bands keeps the colours' balance: forest green in true colour, red in
   false colour). The stretch is **shared by every date of one strip** (per sensor), so a
   strip that gets brighter between dates looks brighter: what an analyst compares is change.
4. The square is resampled (nearest neighbour, so 10 m pixels stay visible as pixels) to a
   fixed ``size_px`` x ``size_px`` RGBA PNG; no data, clouds and cloud shadows (``scl`` or
   ``cloud`` band) are transparent; the strip outline is drawn 1 px wide, two chip pixels
   outside the strip so that the strip's own pixels stay visible, and a scale bar is drawn in
   the lower-left corner. The metadata give the ground size of one chip pixel.

A scene without a near-infrared band (RGB-only imagery) gives a true-colour chip only, with a
note saying why there is no false colour.

Notes
-----
Memory is bounded by the window: at most ``max_window_px`` squared pixels per band (2048 x 2048
x 6 bands of float32 is 100 MB); a strip whose window would be larger is refused.

Examples
--------
>>> ChipParams().margin_m(1000.0)
500.0
>>> ChipParams().margin_m(200.0)
300.0
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from PIL import Image, ImageDraw, ImageFont
from rasterio.windows import Window
from shapely.geometry.base import BaseGeometry

from geo.crs import require_crs
from geo.errors import AtalayaError, ConfigError, ImageryError, SchemaError
from geo.i18n import Message, Number, marked, message_of
from geo.imagery import SceneInfo, read_scene_info, read_window

CHIP_GENERATOR = "atalaya-chips/1"
#: Band roles of each composite, in display order (red, green, blue channels of the PNG).
COMPOSITES: dict[str, tuple[str, str, str]] = {
    "true_colour": ("red", "green", "blue"),
    "false_colour": ("nir", "red", "green"),
}
#: Each composite's name, in English (translate it where it is shown).
COMPOSITE_NAMES: dict[str, str] = {
    "true_colour": marked("True colour"),
    "false_colour": marked("False colour (near infrared)"),
}
_MAX_STRIP_VERTICES = 256
_SCALE_STEPS_M = (10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000)


@dataclass(frozen=True)
class ChipParams:
    """How chips are cut and drawn; frozen, validated, hashable (a cache and set key).

    Attributes
    ----------
    size_px
        Width and height of every PNG, in pixels.
    min_margin_m, margin_share
        Margin around the strip's bounding box, metres on the ground:
        ``max(min_margin_m, margin_share * strip length)``.
    low_pct, high_pct
        Percentiles of the valid pixels that map to black and to full brightness.
    max_window_px
        Largest window side read from a scene, in source pixels (memory bound).
    outline_rgb
        Colour of the strip outline.
    """

    size_px: int = 256
    min_margin_m: float = 300.0
    margin_share: float = 0.5
    low_pct: float = 2.0
    high_pct: float = 98.0
    max_window_px: int = 2048
    outline_rgb: tuple[int, int, int] = (255, 0, 255)

    def __post_init__(self) -> None:
        """Check every value, collecting all problems into one error."""
        problems = []
        if not 32 <= self.size_px <= 2048:
            problems.append(f"size_px must be in [32, 2048], got {self.size_px}")
        if not (self.min_margin_m >= 0 and self.margin_share >= 0):
            problems.append(f"margins must be >= 0, got min_margin_m={self.min_margin_m}, "
                            f"margin_share={self.margin_share}")
        if not 0 <= self.low_pct < self.high_pct <= 100:
            problems.append(f"expected 0 <= low_pct < high_pct <= 100, got {self.low_pct}, "
                            f"{self.high_pct}")
        if self.max_window_px < 16:
            problems.append(f"max_window_px must be >= 16, got {self.max_window_px}")
        if problems:
            raise ConfigError("; ".join(problems))

    def margin_m(self, strip_length_m: float) -> float:
        """Margin in metres around a strip ``strip_length_m`` long."""
        return max(self.min_margin_m, self.margin_share * strip_length_m)


@dataclass(frozen=True)
class SceneRef:
    """One scene of the catalogue: id, GeoTIFF path, acquisition time (UTC), footprint.

    ``footprint`` is a Polygon in EPSG:4326; ``sensor`` groups scenes that share a stretch
    (values of different sensors are not comparable).
    """

    scene_id: str
    path: Path
    acquired_at: datetime
    footprint: BaseGeometry
    sensor: str = ""


@dataclass(frozen=True)
class Chip:
    """One rendered chip: PNG bytes and what it shows.

    ``bounds`` are (min x, min y, max x, max y) in metres in ``crs`` (the scene's CRS);
    ``corners_lonlat`` are the four corners of that square in EPSG:4326 (lon, lat), lower-left,
    lower-right, upper-right, upper-left (the order of KML's ``gx:LatLonQuad``);
    ``metres_per_px`` is the ground size of one chip pixel; ``stretch`` is the (low, high)
    source value shown as black and as full brightness in every channel; ``valid_share`` the
    share of pixels with data.
    """

    png: bytes
    scene_id: str
    acquired_at: datetime
    composite: str
    bands: tuple[str, str, str]
    crs: str
    bounds: tuple[float, float, float, float]
    corners_lonlat: tuple[tuple[float, float], ...]
    size_px: int
    metres_per_px: float
    source_res_m: float
    stretch: tuple[float, float]
    valid_share: float
    notes: tuple[str, ...] = ()

    def meta(self) -> dict[str, Any]:
        """Metadata as plain JSON values (kept with the chip in the alert store)."""
        lons = [c[0] for c in self.corners_lonlat]
        lats = [c[1] for c in self.corners_lonlat]
        return {
            "generator": CHIP_GENERATOR, "scene_id": self.scene_id,
            "date": self.acquired_at.strftime("%Y-%m-%d"),
            "acquired_at": self.acquired_at.isoformat(), "composite": self.composite,
            "bands": list(self.bands), "crs": self.crs,
            "bounds": [round(v, 2) for v in self.bounds],
            "bounds_lonlat": [round(min(lons), 7), round(min(lats), 7), round(max(lons), 7),
                              round(max(lats), 7)],
            "corners_lonlat": [[round(x, 7), round(y, 7)] for x, y in self.corners_lonlat],
            "size_px": self.size_px, "metres_per_px": round(self.metres_per_px, 3),
            "source_res_m": self.source_res_m,
            "stretch": [round(self.stretch[0], 4), round(self.stretch[1], 4)],
            "valid_share": round(self.valid_share, 4), "notes": list(self.notes),
        }


@dataclass(frozen=True)
class ChipSet:
    """Chips of one strip in date order (true colour before false colour within a date).

    ``skipped`` lists (scene id, reason) for covering scenes that gave no chip; a reason is
    the error's :class:`~geo.message.Message` when it has one (shown with
    :func:`~geo.message.localize` in the reader's language), else its text.
    """

    chips: tuple[Chip, ...]
    skipped: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ChipFrame:
    """Where a chip is cut: a square window on the scene's grid (it may overhang the edges).

    ``col_off``/``row_off``/``side_px`` are source pixels; ``bounds`` metres in the scene's
    CRS; ``strip_px`` the strip's exterior ring in window pixel coordinates (column, row).
    """

    col_off: int
    row_off: int
    side_px: int
    bounds: tuple[float, float, float, float]
    res_m: float
    strip_px: tuple[tuple[float, float], ...]


@dataclass
class _Loaded:
    """One scene's window read into memory (bands by role, validity mask)."""

    ref: SceneRef
    info: SceneInfo
    frame: ChipFrame
    bands: dict[str, np.ndarray]
    valid: np.ndarray
    notes: list[str] = field(default_factory=list)


# -- the catalogue -------------------------------------------------------------------------------

def scene_refs(catalogue: gpd.GeoDataFrame, data_dir: str | Path) -> list[SceneRef]:
    """Scenes of a SCENES catalogue (EPSG:4326 footprints) with paths in ``data_dir``.

    Parameters
    ----------
    catalogue
        Rows with ``scene_id``, ``path`` (relative to ``data_dir``), ``acquired_at`` (UTC)
        and optionally ``sensor``; the geometry is the footprint.
    data_dir
        The data folder the paths are relative to.

    Returns
    -------
    list of SceneRef
        Sorted by acquisition time, then scene id.

    Raises
    ------
    SchemaError
        A path leaving the data folder (``../``, absolute) or a time without a time zone.
    """
    require_crs(catalogue, 4326, what=Message("scene catalogue"))
    root = Path(data_dir).resolve()
    refs = []
    for rec, geom in zip(catalogue.to_dict("records"), catalogue.geometry, strict=True):
        path = (root / str(rec["path"])).resolve()
        if not path.is_relative_to(root):
            raise SchemaError(Message("scene {scene} has path {path}, outside the data folder "
                                      "{root}; expected a path relative to it",
                                      scene=repr(rec["scene_id"]), path=repr(rec["path"]),
                                      root=str(root)))
        when = pd.Timestamp(rec["acquired_at"])
        if when.tzinfo is None:
            raise SchemaError(Message("scene {scene}: acquired_at {when} has no time zone; "
                                      "expected UTC", scene=repr(rec["scene_id"]),
                                      when=str(when)))
        sensor = rec.get("sensor")
        refs.append(SceneRef(str(rec["scene_id"]), path, when.tz_convert(UTC).to_pydatetime(),
                             geom, "" if sensor is None or pd.isna(sensor) else str(sensor)))
    return sorted(refs, key=lambda r: (r.acquired_at, r.scene_id))


def scene_ref_from_file(path: str | Path, *, sensor: str = "") -> SceneRef:
    """Describe one GeoTIFF as a :class:`SceneRef` (id from the file name, date from its tags).

    Raises
    ------
    ImageryError
        When the file carries no acquisition date (tag or date in its name).
    """
    info = read_scene_info(path)
    if info.acquired is None:
        raise ImageryError(Message("{name} has no acquisition date (ACQUISITION_DATE tag or a "
                                   "date in the file name); add it to the catalogue instead",
                                   name=info.path.name))
    to_wgs = pyproj.Transformer.from_crs(info.crs_wkt, 4326, always_xy=True)
    x0, y0 = info.transform @ (0, 0)
    x1, y1 = info.transform @ (info.width, info.height)
    ring = shapely.segmentize(shapely.box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)),
                              max(abs(x1 - x0), abs(y1 - y0)) / 20)
    footprint = shapely.transform(ring, to_wgs.transform, interleaved=False)
    acquired = datetime(info.acquired.year, info.acquired.month, info.acquired.day, tzinfo=UTC)
    return SceneRef(info.scene_id, info.path, acquired, footprint, sensor)


def scenes_covering(scenes: Sequence[SceneRef], strip: BaseGeometry) -> list[SceneRef]:
    """Scenes whose footprint touches the strip, by acquisition time then id.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> a = SceneRef("a", Path("a.tif"), datetime(2024, 1, 1, tzinfo=UTC), box(0, 0, 1, 1))
    >>> b = SceneRef("b", Path("b.tif"), datetime(2023, 1, 1, tzinfo=UTC), box(0, 0, 1, 1))
    >>> [s.scene_id for s in scenes_covering([a, b], box(0.4, 0.4, 0.5, 0.5))]
    ['b', 'a']
    """
    found = [s for s in scenes if s.footprint is not None and s.footprint.intersects(strip)]
    return sorted(found, key=lambda r: (r.acquired_at, r.scene_id))


# -- one scene -----------------------------------------------------------------------------------

def check_strip(strip: BaseGeometry) -> None:
    """Refuse anything but a small, valid Polygon in longitude/latitude degrees.

    Raises
    ------
    SchemaError
        Naming what was received and what was expected.
    """
    if strip is None or strip.geom_type != "Polygon" or strip.is_empty:
        kind = "nothing" if strip is None else strip.geom_type
        raise SchemaError(f"a chip needs the strip as a non-empty Polygon, got {kind}")
    n = shapely.get_num_coordinates(strip)
    if n > _MAX_STRIP_VERTICES:
        raise SchemaError(f"strip has {n} vertices; expected a rectangle (at most "
                          f"{_MAX_STRIP_VERTICES})")
    xy = shapely.get_coordinates(strip)
    if not np.isfinite(xy).all() or (np.abs(xy[:, 0]) > 180).any() or (
            np.abs(xy[:, 1]) > 90).any():
        raise SchemaError(f"strip coordinates {strip.bounds} are not (lon, lat) degrees in "
                          "EPSG:4326: metres, or swapped columns?")


def _strip_length_m(strip_m: BaseGeometry) -> float:
    """Long side of the strip's minimum rotated rectangle, in the units of its CRS."""
    rect = shapely.oriented_envelope(strip_m)
    xy = shapely.get_coordinates(rect)
    if len(xy) < 3:
        return float(strip_m.length)
    sides = np.hypot(*np.diff(xy[:3], axis=0).T)
    return float(sides.max())


def chip_frame(strip: BaseGeometry, info: SceneInfo, params: ChipParams) -> ChipFrame:
    """Place the square window around ``strip`` (EPSG:4326) on the grid of the scene ``info``.

    Raises
    ------
    ImageryError
        When the strip lies outside the raster, or its window would exceed
        ``params.max_window_px`` source pixels a side.
    """
    to_scene = pyproj.Transformer.from_crs(4326, info.crs_wkt, always_xy=True)
    strip_m = shapely.transform(strip, to_scene.transform, interleaved=False)
    x0, y0, x1, y1 = strip_m.bounds
    half = max(x1 - x0, y1 - y0) / 2 + params.margin_m(_strip_length_m(strip_m))
    res = info.res_m
    side = max(1, math.ceil(2 * half / res))
    if side > params.max_window_px:
        raise ImageryError(Message("the chip around this strip would be {side} x {side} pixels "
                                   "of {name}; the cap is {cap}. Is the strip {km} km long?",
                                   side=side, name=info.path.name, cap=params.max_window_px,
                                   km=Number(_strip_length_m(strip_m) / 1000, 1)))
    inverse = ~info.transform
    col_c, row_c = inverse @ ((x0 + x1) / 2, (y0 + y1) / 2)
    col_off, row_off = round(col_c - side / 2), round(row_c - side / 2)
    ring = np.array([inverse @ (x, y) for x, y in shapely.get_coordinates(strip_m.exterior)])
    inside = shapely.Polygon(ring).intersects(shapely.box(0, 0, info.width, info.height))
    if not inside:
        raise ImageryError(Message("the strip at {lon}, {lat} lies outside {name}; choose a "
                                   "scene whose footprint covers it",
                                   lon=Number(strip.centroid.x, 5),
                                   lat=Number(strip.centroid.y, 5), name=info.path.name))
    left, top = info.transform @ (col_off, row_off)
    right, bottom = info.transform @ (col_off + side, row_off + side)
    local = tuple((float(c - col_off), float(r - row_off)) for c, r in ring)
    return ChipFrame(col_off, row_off, side, (min(left, right), min(top, bottom),
                                              max(left, right), max(top, bottom)), res, local)


def _read_frame(info: SceneInfo, frame: ChipFrame) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Bands and validity of the frame; pixels beyond the raster's edge are invalid."""
    c0, r0 = max(frame.col_off, 0), max(frame.row_off, 0)
    c1 = min(frame.col_off + frame.side_px, info.width)
    r1 = min(frame.row_off + frame.side_px, info.height)
    data = read_window(info, Window(c0, r0, c1 - c0, r1 - r0))
    n = frame.side_px
    dst = np.s_[r0 - frame.row_off:r1 - frame.row_off, c0 - frame.col_off:c1 - frame.col_off]
    bands = {}
    for role, arr in data.bands.items():
        full = np.zeros((n, n), dtype=np.float32)
        full[dst] = arr
        bands[role] = full
    valid = np.zeros((n, n), dtype=bool)
    valid[dst] = data.valid
    return bands, valid


def _load(ref: SceneRef, strip: BaseGeometry, params: ChipParams) -> _Loaded:
    """Open the scene, place the window, read it; refuse a window without any data."""
    info = read_scene_info(ref.path)
    frame = chip_frame(strip, info, params)
    bands, valid = _read_frame(info, frame)
    if not valid.any():
        raise ImageryError(Message("{name} holds no data around the strip (every pixel of the "
                                   "window is no data or cloud)", name=ref.path.name))
    notes = [n for n in info.notes if "detection" not in n]
    return _Loaded(ref, info, frame, bands, valid, notes)


# -- stretch and rendering -----------------------------------------------------------------------

def compute_stretch(loaded: Sequence[tuple[dict[str, np.ndarray], np.ndarray]], *,
                    low_pct: float = 2.0, high_pct: float = 98.0
                    ) -> dict[str, tuple[float, float]]:
    """Per band role, the (low, high) percentiles of the valid pixels of all given windows.

    Parameters
    ----------
    loaded
        (bands by role, validity mask) of each date; all dates share the result.

    Examples
    --------
    >>> a = ({"red": np.arange(100, dtype=np.float32).reshape(10, 10)}, np.ones((10, 10), bool))
    >>> compute_stretch([a], low_pct=0, high_pct=100)
    {'red': (0.0, 99.0)}
    """
    roles = sorted({r for bands, _ in loaded for r in bands})
    out = {}
    for role in roles:
        values = np.concatenate([bands[role][valid] for bands, valid in loaded if role in bands])
        values = values[np.isfinite(values)]
        if values.size == 0:
            continue
        lo, hi = np.percentile(values, [low_pct, high_pct])
        out[role] = (float(lo), float(hi) if hi > lo else float(lo) + 1.0)
    return out


def composite_range(stretch: dict[str, tuple[float, float]],
                    roles: Sequence[str]) -> tuple[float, float]:
    """One (low, high) for the bands of a composite: the widest of their ranges.

    Examples
    --------
    >>> composite_range({"red": (2.0, 9.0), "green": (1.0, 5.0), "blue": (3.0, 4.0)},
    ...                 ("red", "green", "blue"))
    (1.0, 9.0)
    """
    return min(stretch[r][0] for r in roles), max(stretch[r][1] for r in roles)


def _nice_scale_m(ground_width_m: float) -> int:
    """Longest round length (m) at most 30 % of the chip's ground width."""
    fits = [s for s in _SCALE_STEPS_M if s <= 0.3 * ground_width_m]
    return fits[-1] if fits else _SCALE_STEPS_M[0]


def _draw_scale_bar(draw: ImageDraw.ImageDraw, size: int, metres_per_px: float) -> None:
    """Draw a white bar with a dark edge in the lower-left corner, labelled in metres."""
    metres = _nice_scale_m(size * metres_per_px)
    length = max(2, round(metres / metres_per_px))
    x0, y1 = max(4, size // 32), size - max(4, size // 32)
    draw.rectangle((x0 - 1, y1 - 4, x0 + length + 1, y1 + 1), fill=(0, 0, 0, 255))
    draw.rectangle((x0, y1 - 3, x0 + length, y1), fill=(255, 255, 255, 255))
    label = f"{metres / 1000:g} km" if metres >= 1000 else f"{metres} m"
    font = ImageFont.load_default()
    # no text anchor: Pillow builds without FreeType only have a bitmap font, which has none
    top = draw.textbbox((0, 0), label, font=font)[3]
    draw.text((x0, y1 - 6 - top), label, fill=(255, 255, 255, 255), font=font, stroke_width=1,
              stroke_fill=(0, 0, 0, 255))


def render_png(rgb: np.ndarray, valid: np.ndarray, *, size_px: int,
               strip_px: Sequence[tuple[float, float]], metres_per_src_px: float,
               outline_rgb: tuple[int, int, int] = (255, 0, 255)) -> bytes:
    """Draw one chip: an RGBA PNG of ``size_px`` squared pixels.

    Parameters
    ----------
    rgb
        (3, n, n) values already stretched to [0, 1].
    valid
        (n, n) mask; invalid pixels become transparent.
    strip_px
        The strip outline in source-window pixel coordinates (column, row).
    metres_per_src_px
        Ground size of one source pixel (for the scale bar).

    Notes
    -----
    Nearest-neighbour resampling: pixel ``i`` of the chip shows source pixel
    ``floor((i + 0.5) * n / size_px)``.
    """
    n = valid.shape[0]
    idx = np.minimum(((np.arange(size_px) + 0.5) * n / size_px).astype(np.intp), n - 1)
    rgb8 = np.rint(np.clip(rgb, 0.0, 1.0) * 255).astype(np.uint8)[:, idx][:, :, idx]
    alpha = np.where(valid[idx][:, idx], 255, 0).astype(np.uint8)
    img = Image.fromarray(np.dstack([*rgb8, alpha]), "RGBA")
    draw = ImageDraw.Draw(img)
    k = size_px / n
    # Two chip pixels outside the strip: a 1-px line on its edge would hide a 10 m strip.
    frame = shapely.Polygon([(c * k, r * k) for c, r in strip_px]).buffer(
        2.0, join_style="mitre")
    points = [(float(x), float(y)) for x, y in shapely.get_coordinates(frame.exterior)]
    draw.line(points, fill=(*outline_rgb, 255), width=1)
    _draw_scale_bar(draw, size_px, metres_per_src_px * n / size_px)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _corners_lonlat(info: SceneInfo, bounds: tuple[float, float, float, float]
                    ) -> tuple[tuple[float, float], ...]:
    to_wgs = pyproj.Transformer.from_crs(info.crs_wkt, 4326, always_xy=True)
    x0, y0, x1, y1 = bounds
    xs, ys = to_wgs.transform([x0, x1, x1, x0], [y0, y0, y1, y1])
    return tuple((float(x), float(y)) for x, y in zip(xs, ys, strict=True))


def _scene_chips(item: _Loaded, stretch: dict[str, tuple[float, float]],
                 params: ChipParams) -> list[Chip]:
    """Both composites of one loaded scene (or the one its bands allow, with a note)."""
    f = item.frame
    crs = f"EPSG:{item.info.epsg}" if item.info.epsg else item.info.crs_wkt
    possible = {name: roles for name, roles in COMPOSITES.items()
                if all(r in item.bands and r in stretch for r in roles)}
    notes = list(item.notes)
    if "false_colour" not in possible:
        notes.append("no near-infrared band in this scene (RGB-only imagery): no false-colour "
                     "chip")
    if "true_colour" not in possible:
        notes.append("no red, green and blue bands in this scene: no true-colour chip")
    if not possible:
        raise ImageryError(Message("{name}: neither composite can be made from its bands "
                                   "({bands})", name=item.ref.path.name,
                                   bands=", ".join(sorted(item.bands))))
    chips = []
    for name, roles in possible.items():
        lo, hi = composite_range(stretch, roles)
        rgb = (np.stack([item.bands[r] for r in roles]) - lo) / (hi - lo)
        png = render_png(rgb, item.valid, size_px=params.size_px, strip_px=f.strip_px,
                         metres_per_src_px=f.res_m, outline_rgb=params.outline_rgb)
        chips.append(Chip(
            png=png, scene_id=item.ref.scene_id, acquired_at=item.ref.acquired_at,
            composite=name, bands=roles, crs=crs, bounds=f.bounds,
            corners_lonlat=_corners_lonlat(item.info, f.bounds), size_px=params.size_px,
            metres_per_px=f.side_px * f.res_m / params.size_px, source_res_m=f.res_m,
            stretch=(lo, hi),
            valid_share=float(item.valid.mean()), notes=tuple(notes)))
    return chips


# -- orchestrators -------------------------------------------------------------------------------

def cut_scene_chips(strip: BaseGeometry, scene: SceneRef | str | Path, *,
                    params: ChipParams | None = None,
                    stretch: dict[str, tuple[float, float]] | None = None) -> list[Chip]:
    """Chips of one strip in one scene (true and false colour), stretched on this chip alone.

    Parameters
    ----------
    strip
        The strip, a Polygon in EPSG:4326 (lon, lat).
    scene
        A catalogue entry, or a GeoTIFF path (id from its name, date from its tags).
    params
        Sizes, margins and percentiles (default :class:`ChipParams`).
    stretch
        (low, high) per band role; default: percentiles of this window.

    Raises
    ------
    SchemaError
        The strip is not a small Polygon in degrees.
    ImageryError, CRSError, DataNotFoundError, ConfigError
        The scene is unreadable, the strip lies outside it, or the window holds no data.
    """
    params = params or ChipParams()
    check_strip(strip)
    ref = scene if isinstance(scene, SceneRef) else scene_ref_from_file(scene)
    item = _load(ref, strip, params)
    shared = stretch or compute_stretch([(item.bands, item.valid)], low_pct=params.low_pct,
                                        high_pct=params.high_pct)
    return _scene_chips(item, shared, params)


def cut_chips(strip: BaseGeometry, scenes: Sequence[SceneRef], *,
              params: ChipParams | None = None) -> ChipSet:
    """Chips of one strip at every date the scenes cover it, with one stretch for all dates.

    Parameters
    ----------
    strip
        The strip, a Polygon in EPSG:4326.
    scenes
        Candidate scenes (e.g. the whole catalogue, :func:`scene_refs`); those whose footprint
        misses the strip are ignored.
    params
        Sizes, margins and percentiles (default :class:`ChipParams`).

    Returns
    -------
    ChipSet
        Chips by date (then scene id), true colour first; scenes that could not give a chip
        (unreadable, strip outside the raster, no data) in ``skipped`` with the reason.

    Notes
    -----
    The stretch is computed once over the windows of every date of the same sensor, so the
    dates are comparable. One window is in memory per covering scene.
    """
    params = params or ChipParams()
    check_strip(strip)
    loaded: list[_Loaded] = []
    skipped: list[tuple[str, str]] = []
    for ref in scenes_covering(scenes, strip):
        try:
            loaded.append(_load(ref, strip, params))
        except (AtalayaError, OSError) as exc:
            skipped.append((ref.scene_id, message_of(exc)))  # a Message when it has one
    stretches = {sensor: compute_stretch([(i.bands, i.valid) for i in loaded
                                          if i.ref.sensor == sensor],
                                         low_pct=params.low_pct, high_pct=params.high_pct)
                 for sensor in {i.ref.sensor for i in loaded}}
    chips: list[Chip] = []
    for item in loaded:
        try:
            chips.extend(_scene_chips(item, stretches[item.ref.sensor], params))
        except ImageryError as exc:
            skipped.append((item.ref.scene_id, message_of(exc)))
    return ChipSet(tuple(chips), tuple(skipped))

