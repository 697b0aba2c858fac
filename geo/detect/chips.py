"""Labelled chips (real Sentinel-2 chips of known runways) turned into scored examples.

A chip folder holds ``{id}_{year}_{k}/`` sub-folders, each with one ``*_sdata.tiff`` and,
where a runway is in it, a ``*_target.tiff`` mask. File names read
``{id}_{year}_active{0,1,2}_runway{0,1}_sdata.tiff``. A candidate is *positive* when its
rectangle overlaps the target mask, and *false* when it overlaps no target pixel even after
the mask is dilated by 2 px (touching the edge of a strip is neither).

A chip's mask draws its own runway only, and a chip may hold another labelled one: on the Peru
chips, two strips counted false in each of five cross-validation seeds (scored 0.98 and 0.92
at seed 4) lie on runways 162 and 92 (in chips of runways 78 and 168). Given the labelled
centrelines of every runway (``runway_centrelines.geojson`` beside the chip folder,
:func:`read_centrelines`), a false candidate on one of them, drawn as the masks are (buffered
by :data:`MASK_HALF_WIDTH_M`, dilated by 2 px), is flagged (``on_other``) and counted apart in
the metrics. It stays false, for training and for the operating point too: leaving such
candidates out of both (2026-12-04) lowered the multispectral operating point from 0.62 to
0.48, and although grouped CV on the chips gained (seeds 0-4: 9.0 false candidates on
average against 10.8, the same active recall), 4 candidates then passed at Pensacola (at most
2 allowed) and on the seed-7 sample world precision fell to 7/8.
"""

from __future__ import annotations

import argparse
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.errors import RasterioError
from rasterio.features import rasterize
from rasterio.windows import Window
from scipy import ndimage
from shapely.geometry import LineString, Polygon

from geo.detect.params import DetectionParams
from geo.detect.window import RawCandidate, detect_window
from geo.errors import ConfigError, DataNotFoundError, ImageryError
from geo.imagery import WindowData, read_scene_info, read_window
from geo.runway_geometry import rectangle_corners

#: Band layout of the Peru chips (B02, B03, B04, B06, B07, B08, B11, B12, SCL). The SCL band
#: is left out: in a per-pixel minimum composite it holds no usable class.
CHIP_BANDS: dict[str, int] = {"blue": 1, "green": 2, "red": 3, "nir": 6, "swir1": 7,
                              "swir2": 8}
#: Half the width of the chips' target masks: each is its centreline buffered by 12 m.
MASK_HALF_WIDTH_M = 12.0
#: The labelled centrelines of the Peru chips' runways, looked for beside the chip folder.
CENTRELINES_NAME = "runway_centrelines.geojson"
_NAME = re.compile(r"^(?P<id>\d+)_(?P<year>\d{4})_active(?P<active>\d)_runway(?P<rw>\d)_sdata")


@dataclass(frozen=True)
class Chip:
    """One labelled chip: paths, runway id (the CV group), activity flag, area."""

    sdata: Path
    target: Path | None
    runway_id: str
    active: int
    has_runway_flag: bool


@dataclass(frozen=True)
class ChipResult:
    """Candidates found in one chip with their labels and the chip's truth summary."""

    chip: Chip
    candidates: tuple[RawCandidate, ...]
    positive: tuple[bool, ...]
    false: tuple[bool, ...]
    target_px: int
    area_km2: float
    #: Per candidate: false by the chip's mask, yet on another labelled runway (counted apart).
    on_other: tuple[bool, ...] = ()


def list_chips(folder: str | Path) -> list[Chip]:
    """Every ``*_sdata.tiff`` under ``folder`` whose name follows the chip convention."""
    root = Path(folder)
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{root} is a file; --chips needs the folder that holds the chip "
                          "folders")
    if not root.is_dir():
        raise DataNotFoundError(f"chip folder {root} not found")
    chips = []
    for sdata in sorted(root.glob("*/*_sdata.tiff")):
        m = _NAME.match(sdata.name)
        if not m:
            continue
        target = sdata.with_name(sdata.name.replace("_sdata", "_target"))
        if m["rw"] == "1" and not target.is_file():  # its runway could be neither found nor missed
            raise DataNotFoundError(f"{sdata.parent.name} is labelled as holding a runway but "
                                    f"has no {target.name}; add its mask or remove the chip")
        chips.append(Chip(sdata=sdata, target=target if target.is_file() else None,
                          runway_id=m["id"], active=int(m["active"]),
                          has_runway_flag=m["rw"] == "1"))
    if not chips:
        raise DataNotFoundError(f"no *_sdata.tiff chips named {{id}}_{{year}}_active*_runway* "
                                f"in {root}")
    return chips


def check_folds(chips: Sequence[Chip], n_splits: int) -> None:
    """Refuse a grouped cross-validation the chips cannot hold (folds are runway groups).

    Each of the ``n_splits`` folds needs a runway of its own, and each training part at least
    two (the scorer picks its operating point by an inner grouped cross-validation).

    Raises
    ------
    ConfigError
        When ``n_splits`` is below 2 or the chips have too few runway ids for it.
    """
    runways = len({c.runway_id for c in chips})
    if n_splits < 2:
        raise ConfigError(f"--folds {n_splits}: a cross-validation needs at least 2 folds")
    if runways < n_splits or runways - -(-runways // n_splits) < 2:
        raise ConfigError(f"{runways} runway id(s) in the chips cannot make {n_splits} folds "
                          "with at least 2 runways to train each; add chips or lower --folds")


def chips_provenance(folder: str | Path, chips: Sequence[Chip]) -> dict[str, object]:
    """Folder, file count and sha256 of the sorted list of chip file names."""
    names = "\n".join(sorted(c.sdata.name for c in chips))
    return {"chip_folder": str(folder), "file_count": len(chips),
            "file_list_sha256": hashlib.sha256(names.encode()).hexdigest()}


def default_centrelines(chips_dir: str | Path) -> Path | None:
    """Return the :data:`CENTRELINES_NAME` file beside a chip folder, when there is one."""
    path = Path(chips_dir).parent / CENTRELINES_NAME
    return path if path.is_file() else None


def read_centrelines(path: str | Path) -> list[LineString]:
    """Labelled runway centrelines (EPSG:4326 lon/lat) of a GeoJSON or GeoPackage file.

    Raises
    ------
    DataNotFoundError
        When the file is missing.
    ConfigError
        When it cannot be read, has no CRS, or holds anything but (multi)line strings.
    """
    import geopandas as gpd

    src = Path(path)
    if not src.is_file():
        raise DataNotFoundError(f"runway centrelines {src} not found")
    try:
        frame = gpd.read_file(src)
    except Exception as exc:  # pyogrio raises several kinds; each means unreadable
        raise ConfigError(f"runway centrelines {src.name} cannot be read ({exc})") from exc
    if frame.crs is None:
        raise ConfigError(f"runway centrelines {src.name} declare no CRS")
    geoms = frame.to_crs(4326).geometry.explode(index_parts=False)
    bad = geoms[~geoms.geom_type.isin(["LineString"])]
    if len(bad):
        raise ConfigError(f"runway centrelines {src.name} hold {len(bad)} geometries that are "
                          f"not lines ({', '.join(sorted(set(bad.geom_type.astype(str))))})")
    return [g for g in geoms if not g.is_empty]


def centrelines_provenance(path: str | Path | None,
                           lines: Sequence[LineString]) -> dict[str, object] | None:
    """File, sha256 and line count of the centrelines used (None when none were)."""
    if path is None:
        return None
    return {"file": str(path), "sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest(),
            "lines": len(lines)}


def add_centrelines_option(parser: argparse.ArgumentParser) -> None:
    """Add ``geo.evaluate``'s ``--centrelines`` option."""
    parser.add_argument("--centrelines", default=None,
                        help="labelled runway centrelines (GeoJSON or GeoPackage): false "
                             "candidates on another chip's runway are counted apart (default: "
                             f"{CENTRELINES_NAME} beside the chip folder, when there is one; "
                             "'none': no count)")


def centrelines_arg(chips_dir: str | Path, value: str | None) -> Path | None:
    """Return the centrelines file a ``--centrelines`` value names (None: masks only)."""
    if value is None:
        return default_centrelines(chips_dir)
    return None if value.lower() == "none" else Path(value)


def _centreline_mask(lines: Sequence[LineString], crs_wkt: str, transform: Affine,
                     shape: tuple[int, int]) -> np.ndarray:
    """Pixels within :data:`MASK_HALF_WIDTH_M` of any of ``lines`` (EPSG:4326), as the masks."""
    import geopandas as gpd
    from rasterio.transform import array_bounds

    out = np.zeros(shape, dtype=bool)
    if not lines:
        return out
    west, south, east, north = array_bounds(shape[0], shape[1], transform)
    local = gpd.GeoSeries(list(lines), crs=4326).to_crs(crs_wkt)
    near = local[local.intersects(Polygon([(west, south), (east, south), (east, north),
                                           (west, north)]).buffer(MASK_HALF_WIDTH_M))]
    if len(near):
        out = rasterize(list(near.buffer(MASK_HALF_WIDTH_M)), out_shape=shape,
                        transform=transform, dtype="uint8").astype(bool)
    return out


def _rect_mask(c: RawCandidate, transform: rasterio.Affine, shape: tuple[int, int]) -> np.ndarray:
    ring = rectangle_corners(c.x, c.y, length_m=c.length_m, width_m=max(c.width_m, 1.0),
                             bearing_deg=c.bearing_deg)
    out: np.ndarray = rasterize([Polygon(ring)], out_shape=shape, transform=transform,
                                all_touched=True, dtype="uint8").astype(bool)
    return out


def _block_mean(a: np.ndarray, factor: int) -> np.ndarray:
    """Mean of each ``factor x factor`` block (rows and columns past the last one dropped)."""
    h, w = a.shape[0] // factor, a.shape[1] // factor
    blocks = a[:h * factor, :w * factor].reshape(h, factor, w, factor)
    out: np.ndarray = blocks.mean(axis=(1, 3), dtype=np.float64)
    return out


def _block_any(a: np.ndarray, factor: int) -> np.ndarray:
    """Return True where any pixel of each ``factor x factor`` block is (trailing ones dropped)."""
    h, w = a.shape[0] // factor, a.shape[1] // factor
    blocks = a[:h * factor, :w * factor].reshape(h, factor, w, factor)
    out: np.ndarray = np.asarray(blocks.any(axis=(1, 3)))
    return out


def coarsen_window(data: WindowData, factor: int) -> WindowData:
    """Return the window as a sensor with ``factor`` times coarser pixels would see it.

    Each band is averaged over ``factor x factor`` blocks (a box point-spread function, as a
    Landsat 30 m pixel sees 3 x 3 Sentinel-2 10 m pixels); a coarse pixel is valid only when
    all its source pixels are. Rows and columns past the last whole block are dropped; the
    grid keeps its origin and its pixel size grows by ``factor``.
    """
    if factor < 1:
        raise ConfigError(f"factor must be a whole number >= 1, got {factor}")
    if factor == 1:
        return data
    h, w = data.valid.shape[0] // factor, data.valid.shape[1] // factor
    if h == 0 or w == 0:
        raise ConfigError(f"a {data.valid.shape[1]} x {data.valid.shape[0]} window holds no "
                         f"whole {factor} x {factor} block")
    valid = ~_block_any(~data.valid, factor)
    bands = {}
    for role, arr in data.bands.items():
        # invalid source pixels may hold anything (nodata, NaN): keep them out of the mean
        mean = _block_mean(np.where(data.valid, arr, 0.0), factor)
        bands[role] = np.where(valid, mean, 0.0).astype(np.float32)
    return WindowData(window=Window(data.window.col_off // factor,
                                    data.window.row_off // factor, w, h),
                      transform=data.transform @ Affine.scale(factor), bands=bands,
                      valid=valid, res_m=data.res_m * factor)


def process_chip(chip: Chip, *, params: DetectionParams,
                 bands: Mapping[str, int] = CHIP_BANDS, factor: int = 1,
                 centrelines: Sequence[LineString] = ()) -> ChipResult:
    """Run the generator on one chip and label each candidate against its target mask.

    ``factor`` > 1 first coarsens the chip (see :func:`coarsen_window`, e.g. 3 turns 10 m
    Sentinel-2 into 30 m Landsat-like pixels); a coarse mask pixel is on the runway when any
    of its source pixels is. The chip keeps its runway id, so cross-validation grouped by
    runway never splits a chip from its coarsened copy. ``centrelines`` (EPSG:4326, see
    :func:`read_centrelines`) are every labelled runway: a false candidate on one, drawn as a
    mask and dilated by 2 px, is flagged ``on_other``.
    """
    info = read_scene_info(chip.sdata, bands=bands)
    try:
        data = coarsen_window(read_window(info, Window(0, 0, info.width, info.height)), factor)
    except (RasterioError, OSError) as exc:
        raise ImageryError(f"{chip.sdata.name} cannot be read ({exc}); fix or remove the "
                           "chip") from exc
    cands = detect_window(data, params=params)
    shape = data.valid.shape
    target = np.zeros(shape, dtype=bool)
    if chip.target is not None:
        try:
            with rasterio.open(chip.target, driver="GTiff") as src:
                target = src.read(1) > 0
        except (RasterioError, OSError) as exc:
            raise ImageryError(f"{chip.target.name} cannot be read ({exc}); fix or remove "
                               "the chip") from exc
        if target.shape != (info.height, info.width):
            raise ImageryError(f"{chip.target.name} is {target.shape[1]} x {target.shape[0]} "
                               f"pixels, its chip {info.width} x {info.height}")
        if factor > 1:
            target = _block_any(target, factor)
    near = ndimage.binary_dilation(target, iterations=2)
    others = _centreline_mask(centrelines, info.crs_wkt, info.transform,
                              (info.height, info.width))
    if factor > 1:
        others = _block_any(others, factor)
    near_other = ndimage.binary_dilation(others, iterations=2) if others.any() else others
    masks = [_rect_mask(c, data.transform, shape) for c in cands]
    false = [not (m & near).any() for m in masks]
    on_other = [f and bool((m & near_other).any()) for m, f in zip(masks, false, strict=True)]
    return ChipResult(chip=chip, candidates=tuple(cands),
                      positive=tuple(bool((m & target).any()) for m in masks),
                      false=tuple(false), target_px=int(target.sum()),
                      area_km2=shape[1] * shape[0] * data.res_m**2 / 1e6,
                      on_other=tuple(on_other))


def sample_results(out_dir: str | Path, *, seed: int, params: DetectionParams,
                   bands: Mapping[str, int] | None = None) -> list[ChipResult]:
    """Labelled candidates from freshly generated sample scenes (extra training data).

    The synthetic scenes of :mod:`geo.sample.scenes` hold the false alarms real chips
    rarely do (long straight tracks, roads, sandbars, field edges) beside runways of known
    rectangles; each scene window becomes one pseudo-chip whose group is
    ``sample-<seed>``, so it never lands in an evaluation fold. ``bands`` (role to index)
    picks e.g. only the visible bands for the RGB model.
    """
    from geo.imagery import iter_windows
    from geo.sample.scenes import generate_scenes

    catalogue, truth = generate_scenes(out_dir, rng=np.random.default_rng(seed))
    out = []
    for scene in catalogue.itertuples():
        path = Path(out_dir) / scene.path
        info = read_scene_info(path, bands=dict(bands) if bands is not None else None)
        rects = truth[truth["scene_id"] == scene.scene_id].to_crs(info.crs_wkt).geometry
        chip = Chip(sdata=path, target=None, runway_id=f"sample-{seed}", active=1,
                    has_runway_flag=True)
        for w in iter_windows(info.width, info.height, size=params.window_px, overlap=0):
            cands = detect_window(read_window(info, w), params=params)
            polys = [Polygon(rectangle_corners(c.x, c.y, length_m=c.length_m,
                                               width_m=max(c.width_m, 1.0),
                                               bearing_deg=c.bearing_deg)) for c in cands]
            out.append(ChipResult(
                chip=chip, candidates=tuple(cands),
                positive=tuple(bool(rects.intersects(p).any()) for p in polys),
                false=tuple(not bool(rects.buffer(20.0).intersects(p).any()) for p in polys),
                target_px=0, area_km2=float(w.width * w.height * info.res_m**2 / 1e6)))
    return out
