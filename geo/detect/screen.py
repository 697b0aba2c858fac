"""A cheap coarse screen: which blocks of a window could hold a strip worth tracing.

The full ridge filter (:func:`geo.detect.evidence.ridge_response`, 16 orientations of a 450 m
line at full resolution) and the evidence under it are the detector's costliest layers, yet on
a real scene fewer than one block in ten holds a pixel that reaches ``line_threshold``. The
screen runs the same filter on a grid ``f`` times coarser (``f = screen_res_m / res_m``, 3 at
Sentinel-2's 10 m), on an evidence image that approximates the block mean of the
full-resolution evidence: each coarse pixel's mean log value, against the local mean and the
*full-resolution* spread of the same ``background_m`` box (block sums of the log and of its
square). Keeping the fine spread keeps the coarse evidence in the fine image's z units, so a
strip's response barely changes while the noise along a coarse line stays as low as along a
fine one.

The blocks the screen marks (``screen_block_px`` square) are where tracing starts;
:func:`geo.detect.window.detect_window` runs the full filter there and grows the computed
area block by block along every ridge that reaches its edge, so a ridge is traced whole
exactly as without the screen. Cost: about a tenth of the full filter at ``f = 2``; about
20 ms of CPU per 1024 x 1024 window of five uint16 bands at ``f = 3`` (45 ms before its
compiled kernels): the block sums, read from the window's integer stack when it has one
(:func:`coarse_sums`), then box means, the z-score arithmetic and the coarse ridge filter.

Notes
-----
The screen is off (every block is processed) when the coarse grid would not be at least
twice as coarse as the raster (Landsat's 30 m) and for RGB-only imagery, whose evidence
may also subtract a local-texture term the screen does not model (``rgb_texture_weight``,
off by default since 2026-12-03: the screen could then serve 10 m RGB too; not measured).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from geo.detect.evidence import EVIDENCE_BANDS, box_mean, log_table, ridge_response
from geo.detect.params import DetectionParams

_EPS = np.float32(1e-6)
#: Same spread floor as the full-resolution z-score (natural-log units).
_Z_FLOOR = np.float32(0.02)
#: Coarse rows per strip of the block sums of the log bands (:func:`_log_block_sums`).
_STRIP_BLOCKS = 64


def screen_factor(res_m: float, params: DetectionParams) -> int:
    """Coarsening factor of the screen (1: no screen) for pixels of ``res_m`` metres.

    Examples
    --------
    >>> screen_factor(10.0, DetectionParams()), screen_factor(30.0, DetectionParams())
    (3, 1)
    """
    if not params.screen:
        return 1
    return max(1, round(params.screen_res_m / res_m))


def screen_blocks(bands: Mapping[str, np.ndarray], valid: np.ndarray, *, res_m: float,
                  params: DetectionParams, raw: np.ndarray | None = None,
                  raw_planes: tuple[tuple[str, int], ...] = ()) -> np.ndarray | None:
    """Blocks (``params.screen_block_px`` px square) where a strip could reach line level.

    Parameters
    ----------
    bands
        Float32 reflectance-like bands by role (any scale: only log ratios matter).
    valid
        Valid pixels of the window.
    res_m
        Pixel size in metres.
    raw, raw_planes
        The integer stack ``bands`` were converted from and the plane of each role
        (:class:`geo.imagery.WindowData`); when it is uint8 or uint16 the block sums come
        from it (:func:`coarse_sums`), faster, with the same result to the bit.

    Returns
    -------
    numpy.ndarray or None
        Boolean grid of ``ceil(h / B) x ceil(w / B)`` blocks, True where the coarse ridge
        response (z units) reaches ``params.screen_threshold`` within one coarse pixel;
        None when the screen does not apply (every block must be processed).
    """
    f = screen_factor(res_m, params)
    if f < 2 or "nir" not in bands:
        return None
    response = coarse_ridge_response(bands, valid, res_m=res_m, params=params, raw=raw,
                                     raw_planes=raw_planes)
    hit = near_hits(response, params.screen_threshold)
    return _to_blocks(hit, f, valid.shape, params.screen_block_px)


def near_hits(response: np.ndarray, threshold: float) -> np.ndarray:
    """Coarse pixels whose 3 x 3 box holds a response reaching ``threshold`` (float32).

    ``ndimage.maximum_filter(response, 3, mode="constant", cval=-np.inf) >= threshold``,
    from :func:`~geo.detect.ridge_kernel.near_hits_kernel` (the same booleans: a maximum
    reaches the threshold exactly when one of its values does); with a NaN, whose place
    in a maximum depends on the filter's order, SciPy's filter itself.
    """
    from geo.detect.ridge_kernel import near_hits_kernel

    values = np.ascontiguousarray(response, dtype=np.float32)
    if np.isnan(values).any():
        hit: np.ndarray = ndimage.maximum_filter(values, 3, mode="constant", cval=-np.inf)
        return hit >= threshold
    out: np.ndarray = near_hits_kernel(values, np.float32(threshold))
    return out


def coarse_ridge_response(bands: Mapping[str, np.ndarray], valid: np.ndarray, *, res_m: float,
                          params: DetectionParams, raw: np.ndarray | None = None,
                          raw_planes: tuple[tuple[str, int], ...] = ()) -> np.ndarray:
    """Ridge response (z units) on the screen's coarse grid; see the module notes.

    The grid has ``ceil(h / f) x ceil(w / f)`` pixels; a partial block at the right or
    bottom edge averages its valid pixels only. ``raw`` and ``raw_planes`` as in
    :func:`screen_blocks`.
    """
    f = screen_factor(res_m, params)
    sums = coarse_sums(bands, valid, f, raw=raw, raw_planes=raw_planes)
    evidence = coarse_evidence(sums, background_box_px(res_m, f, params),
                               ndwi_water=params.ndwi_water)
    return coarse_ridge(evidence, res_m * f, params)


def background_box_px(res_m: float, f: int, params: DetectionParams) -> int:
    """Side (coarse pixels, odd, at least 3) of the screen's ``background_m`` box."""
    size_f = params.px(params.background_m, res_m, minimum=params.min_background_px) | 1
    return max(3, round(size_f / f)) | 1


def coarse_ridge(evidence: np.ndarray, res_c: float, params: DetectionParams) -> np.ndarray:
    """Ridge response (z units) of the coarse evidence, pixels of ``res_c`` metres."""
    length = params.px(params.line_length_m, res_c, minimum=params.min_line_px)
    flanks = tuple(sorted({params.px(m, res_c) for m in params.flank_m}
                          | {params.px(m, res_c, minimum=2) for m in params.flank_m}))
    out, _ = ridge_response(evidence, length_px=length, n_orientations=params.n_orientations,
                            flank_px=flanks)
    if params.dark_strips > 0:
        dark, _ = ridge_response(-evidence, length_px=length,
                                 n_orientations=params.n_orientations, flank_px=flanks)
        out = np.maximum(out, dark)
    result: np.ndarray = out
    return result


@dataclass(frozen=True)
class CoarseSums:
    """Block sums (``f x f`` px, float32) the coarse evidence is made of.

    Attributes
    ----------
    logs
        ``(2 n, hb, wb)``: per evidence band present (in :data:`EVIDENCE_BANDS` order) the
        block sums of ``log(max(v, 1))``, 0 where invalid, then the sums of its square.
    cnt
        Valid pixels per block.
    green, nir
        Plain block sums of the green and NIR bands (invalid pixels included), or None
        without a green band (no water rule).
    whole
        The window's shape and ``f`` when every pixel is valid (``cnt`` is then
        :func:`_block_count` of them, the same for every window of that shape), else None.
    """

    logs: np.ndarray
    cnt: np.ndarray
    green: np.ndarray | None
    nir: np.ndarray | None
    whole: tuple[tuple[int, int], int] | None = None

    @property
    def n_bands(self) -> int:
        """Evidence bands summed."""
        return int(self.logs.shape[0]) // 2


def coarse_sums(bands: Mapping[str, np.ndarray], valid: np.ndarray, f: int, *,
                raw: np.ndarray | None = None,
                raw_planes: tuple[tuple[str, int], ...] = ()) -> CoarseSums:
    """Block sums of the screen, from the uint8/uint16 ``raw`` stack when there is one.

    From the stack, one pass of :func:`~geo.detect.ridge_kernel.log_block_sums_kernel` over
    its integer planes with the log from a table (:func:`log_table`); otherwise
    :func:`coarse_sums_float` from the float32 ``bands``. Both give the same sums to the bit
    (``tests/geo/test_ridge_kernel.py``) when ``bands`` are ``raw``'s planes made float32,
    as :func:`geo.imagery.read_window` makes them.
    """
    from geo.detect.ridge_kernel import log_block_sums_kernel

    names = [k for k in EVIDENCE_BANDS if k in bands]
    water = "green" in bands
    planes = dict(raw_planes)
    needed = [*names, "green", "nir"] if water else names
    if (raw is None or raw.dtype not in (np.uint8, np.uint16)
            or not all(k in planes for k in needed)):
        return coarse_sums_float(bands, valid, f)
    masked = not valid.all()
    invalid = ~valid if masked else np.zeros((0, 0), dtype=bool)
    out = log_block_sums_kernel(
        np.ascontiguousarray(raw), np.array([planes[k] for k in names], dtype=np.int64),
        np.array([planes["green"], planes["nir"]] if water else [], dtype=np.int64),
        log_table(8 * raw.dtype.itemsize), np.ascontiguousarray(invalid), f)
    nl = 2 * len(names)
    whole = None if masked else ((valid.shape[0], valid.shape[1]), f)
    cnt = out[-1] if masked else _block_count(valid.shape, f)
    return CoarseSums(logs=out[:nl], cnt=cnt, green=out[nl] if water else None,
                      nir=out[nl + 1] if water else None, whole=whole)


def coarse_sums_float(bands: Mapping[str, np.ndarray], valid: np.ndarray, f: int) -> CoarseSums:
    """:func:`coarse_sums` from the float bands: :func:`_log_block_sums` band by band."""
    whole = ((valid.shape[0], valid.shape[1]), f) if valid.all() else None
    cnt = _block_count(valid.shape, f) if whole else _block_sum(valid.astype(np.float32), f)
    names = [k for k in EVIDENCE_BANDS if k in bands]
    invalid = None if whole else ~valid
    pairs = [_log_block_sums(bands[name], invalid, f) for name in names]
    logs = np.stack([s1 for s1, _ in pairs] + [s2 for _, s2 in pairs]) if pairs else \
        np.zeros((0, *cnt.shape), dtype=np.float32)
    if "green" in bands:
        return CoarseSums(logs=logs, cnt=cnt, green=_block_sum(bands["green"], f),
                          nir=_block_sum(bands["nir"], f), whole=whole)
    return CoarseSums(logs=logs, cnt=cnt, green=None, nir=None, whole=whole)


def coarse_evidence(sums: CoarseSums, size: int, *, ndwi_water: float) -> np.ndarray:
    """Coarse evidence (float32 z units, 0 on blocks without a valid pixel).

    Each band's mean block log against the mean and spread of the ``size`` box around it,
    averaged over the bands, clipped to [-3, 5], never positive on water (NDWI of the
    block sums above ``ndwi_water``). The arithmetic is
    :func:`~geo.detect.ridge_kernel.coarse_evidence_kernel`, equal to the bit to the NumPy
    of :func:`_coarse_evidence_reference`.
    """
    from geo.detect.ridge_kernel import box_means_kernel, coarse_evidence_kernel

    box_cnt = box_mean(sums.cnt, size) if sums.whole is None else _box_count(*sums.whole, size)
    logs = np.ascontiguousarray(sums.logs)
    none = np.zeros((0, 0), dtype=np.float32)
    out: np.ndarray = coarse_evidence_kernel(
        logs, box_means_kernel(logs, size), sums.n_bands, np.ascontiguousarray(sums.cnt),
        box_cnt, none if sums.green is None else np.ascontiguousarray(sums.green),
        none if sums.nir is None else np.ascontiguousarray(sums.nir), np.float32(ndwi_water))
    return out


@functools.lru_cache(maxsize=8)
def _box_count(shape: tuple[int, int], f: int, size: int) -> np.ndarray:
    """``box_mean(_block_count(shape, f), size)``, made once per window shape (read-only)."""
    out = box_mean(_block_count(shape, f), size)
    out.flags.writeable = False
    return out


def _coarse_evidence_reference(sums: CoarseSums, size: int, *, ndwi_water: float
                               ) -> np.ndarray:
    """:func:`coarse_evidence` in NumPy, as the screen computed it before its kernel."""
    cnt = sums.cnt
    valid_c = cnt > 0
    box_cnt = box_mean(cnt, size)
    total = np.zeros(cnt.shape, dtype=np.float32)
    n = sums.n_bands
    for b in range(n):
        s1, s2 = sums.logs[b], sums.logs[n + b]
        box1 = box_mean(s1, size)
        box2 = box_mean(s2, size)
        mean = box1 / np.maximum(box_cnt, _EPS)
        std = np.sqrt(np.maximum(box2 / np.maximum(box_cnt, _EPS) - mean * mean, 0.0))
        total += (s1 / np.maximum(cnt, _EPS) - mean) / np.maximum(std, _Z_FLOOR)
    evidence = np.clip(total / np.float32(max(n, 1)), -3.0, 5.0)
    if sums.green is not None and sums.nir is not None:
        green, nir = sums.green, sums.nir
        ndwi = (green - nir) / np.maximum(green + nir, _EPS)
        evidence = np.where(ndwi > ndwi_water, np.minimum(evidence, 0.0), evidence)
    out: np.ndarray = np.where(valid_c, evidence, np.float32(0.0)).astype(np.float32,
                                                                            copy=False)
    return out


def _log_block_sums(band: np.ndarray, invalid: np.ndarray | None, f: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Block sums (:func:`_block_sum`) of ``log(max(band, 1))``, 0 where invalid, and of its square.

    Computed a strip of ``f * _STRIP_BLOCKS`` rows at a time, so the log values stay in the
    cache rather than filling window-sized arrays (16 MB each at 2048 x 2048 px); each strip
    starts on a block row, so every block gets exactly the sums of the whole-window code.
    """
    h, w = band.shape
    s1 = np.empty((-(-h // f), -(-w // f)), dtype=np.float32)
    s2 = np.empty_like(s1)
    step = f * _STRIP_BLOCKS
    for r in range(0, h, step):
        logv = np.maximum(band[r:r + step], 1.0)
        np.log(logv, out=logv)
        if invalid is not None:
            logv[invalid[r:r + step]] = 0.0
        logv = logv.astype(np.float32, copy=False)  # float32 sums whatever the band's type
        rows = slice(r // f, r // f + -(-logv.shape[0] // f))
        s1[rows], s2[rows] = block_sums(logv, f, squares=True)
    return s1, s2


def _block_count(shape: tuple[int, ...], f: int) -> np.ndarray:
    """Pixels in each ``f x f`` block of a raster of ``shape`` (float32).

    :func:`_block_sum` of a raster of ones (exact: small integers), without making one.

    Examples
    --------
    >>> _block_count((4, 5), 3)
    array([[9., 6.],
           [3., 2.]], dtype=float32)
    """
    rows = np.minimum(f, shape[0] - f * np.arange(-(-shape[0] // f)))
    cols = np.minimum(f, shape[1] - f * np.arange(-(-shape[1] // f)))
    out: np.ndarray = np.outer(rows, cols).astype(np.float32)
    return out


def _block_sum(values: np.ndarray, f: int) -> np.ndarray:
    """Sum of each ``f x f`` block (float32), ``ceil(h / f) x ceil(w / f)``.

    A partial last block sums the pixels it has (what padding with zeros would give,
    without copying the raster). Equal to the bit to :func:`_block_sum_reference`.
    """
    out: np.ndarray = block_sums(values, f, squares=False)[0]
    return out


def block_sums(values: np.ndarray, f: int, *, squares: bool) -> np.ndarray:
    """Block sums (and sums of squares) of a raster: ``(1 or 2, ceil(h / f), ceil(w / f))``.

    :func:`~geo.detect.ridge_kernel.block_sums_kernel`, float32 sums.

    Float64 values are added to the float32 sums in float64, as NumPy's in-place addition
    does; other types are made float32 first (exact for integers below 2**24).
    """
    from geo.detect.ridge_kernel import block_sums_kernel

    if values.dtype not in (np.float32, np.float64):
        values = values.astype(np.float32)
    out: np.ndarray = block_sums_kernel(np.ascontiguousarray(values), f, squares)
    return out


def _block_sum_reference(values: np.ndarray, f: int) -> np.ndarray:
    """:func:`_block_sum` in NumPy: strided row then column additions (the definition)."""
    rows = values[0::f].astype(np.float32)
    for k in range(1, f):
        part = values[k::f]
        rows[:part.shape[0]] += part
    out = rows[:, 0::f].copy()
    for k in range(1, f):
        part = rows[:, k::f]
        out[:, :part.shape[1]] += part
    return out


def _screen_blocks_reference(bands: Mapping[str, np.ndarray], valid: np.ndarray, *,
                             res_m: float, params: DetectionParams) -> np.ndarray | None:
    """:func:`screen_blocks` as it was before its kernels: float bands, NumPy and SciPy."""
    f = screen_factor(res_m, params)
    if f < 2 or "nir" not in bands:
        return None
    evidence = _coarse_evidence_reference(coarse_sums_float(bands, valid, f),
                                          background_box_px(res_m, f, params),
                                          ndwi_water=params.ndwi_water)
    response = coarse_ridge(evidence, res_m * f, params)
    hit = ndimage.maximum_filter(response, 3, mode="constant", cval=-np.inf)
    return _to_blocks(hit >= params.screen_threshold, f, valid.shape, params.screen_block_px)


def _to_blocks(hit: np.ndarray, f: int, shape: tuple[int, ...], block_px: int) -> np.ndarray:
    """Blocks of ``block_px`` full-resolution pixels holding a marked coarse pixel."""
    nb = (-(-shape[0] // block_px), -(-shape[1] // block_px))
    rows, cols = np.nonzero(hit)
    out = np.zeros(nb, dtype=bool)
    # a coarse pixel covers full-resolution rows f*r .. f*r + f - 1 (may straddle two blocks)
    for r, c in ((rows * f, cols * f), (rows * f + f - 1, cols * f + f - 1),
                 (rows * f, cols * f + f - 1), (rows * f + f - 1, cols * f)):
        out[np.minimum(r // block_px, nb[0] - 1), np.minimum(c // block_px, nb[1] - 1)] = True
    return out
