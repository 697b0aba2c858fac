"""Per-pixel evidence of bare soil against its own neighbourhood, and an oriented ridge filter.

Absolute thresholds ("NDVI < 0.3") find few real strips: a clandestine strip is *relatively*
bright in the visible and SWIR bands against the forest around it, and how much depends on
the scene. The evidence image is therefore a local z-score: each band's log value minus the
mean of a large box around it, divided by the standard deviation in that box, averaged over
the bands. The ridge filter then measures, at 16 orientations, how much a straight line of
evidence through each pixel stands above the parallel lines on *both* sides of it, which a
1-3 pixel wide strip does and a field edge, a clearing or noise does not.

Hot path (per window, vectorised numpy/scipy, no per-pixel Python): :func:`local_zscore`,
:func:`compute_evidence`, :func:`ridge_response` (its additions in a compiled kernel,
:mod:`geo.detect.ridge_kernel`) and :func:`suppress_non_maxima`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from geo.detect.params import DetectionParams

_EPS = np.float32(1e-6)
#: Spread floor of the local z-score, in natural-log units (a 2 % reflectance change), so a
#: perfectly uniform patch does not turn sensor noise into strong evidence.
_Z_FLOOR = np.float32(0.02)
#: Bands whose local brightness marks bare soil, in the order they are averaged.
EVIDENCE_BANDS: tuple[str, ...] = ("blue", "green", "red", "swir1", "swir2")


def normalized_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return ``(a - b) / (a + b)`` in float32, 0 where both are 0.

    Examples
    --------
    >>> normalized_difference(np.array([3.0]), np.array([1.0]))
    array([0.5], dtype=float32)
    """
    a32, b32 = a.astype(np.float32, copy=False), b.astype(np.float32, copy=False)
    # an infinite band value (a pixel the reader marked invalid) gives NaN, quietly: NumPy's
    # warning would reach the command line's output, about pixels no result uses
    with np.errstate(invalid="ignore", over="ignore"):
        out: np.ndarray = (a32 - b32) / np.maximum(a32 + b32, _EPS)
    return out


def valid_share(valid: np.ndarray, *, size_px: int) -> np.ndarray:
    """Share of valid pixels in the box (the denominator of every local mean of a window).

    A local mean counts only valid pixels and nothing beyond the array (normalised
    convolution), so a window edge or a cloud does not darken its neighbours' background.
    Where every pixel is valid (most boxes) it is made from the row and column counts
    (:func:`ones_box_mean`) rather than filtered.
    """
    if valid.all():
        return ones_box_mean(valid.shape, size_px)
    return box_mean(valid.astype(np.float32), size_px)


def ones_box_mean(shape: tuple[int, ...], size_px: int) -> np.ndarray:
    """:func:`box_mean` of a raster of ones of ``shape``, from its row and column counts.

    The box mean's row pass gives ``float32(rows_in_box / size)`` and its column pass adds
    that float32 value once per column in the box, exactly in float64 (at most a few
    thousand times a 24-bit value), so each output is
    ``float32(columns_in_box * float32(rows_in_box / size) / size)``: equal to the bit to
    filtering the ones (``tests/geo/test_evidence_kernels.py``), in one compiled pass
    (:func:`geo.detect.evidence_kernel.ones_box_mean_kernel`).

    Examples
    --------
    >>> ones_box_mean((3, 3), 3)[1]
    array([0.6666667, 1.       , 0.6666667], dtype=float32)
    """
    from geo.detect.evidence_kernel import ones_box_mean_kernel

    out = np.empty(shape, dtype=np.float32)
    ones_box_mean_kernel(int(size_px), out)
    return out


def box_mean(values: np.ndarray, size_px: int) -> np.ndarray:
    """Mean of each ``size_px`` square box of a float32 raster, zeros beyond its edges.

    ``scipy.ndimage.uniform_filter(values, size_px, mode="constant")`` to the bit, from the
    compiled :func:`geo.detect.ridge_kernel.box_mean_kernel` (about 3x faster).

    Examples
    --------
    >>> box_mean(np.ones((3, 3), dtype=np.float32), 3)[1]
    array([0.6666667, 1.       , 0.6666667], dtype=float32)
    """
    from geo.detect.ridge_kernel import box_mean_kernel

    if values.dtype != np.float32:
        raise TypeError(f"box_mean takes float32 values, got {values.dtype}")
    out: np.ndarray = box_mean_kernel(np.ascontiguousarray(values), int(size_px))
    return out


def local_zscore(values: np.ndarray, valid: np.ndarray, *, size_px: int,
                 den: np.ndarray | None = None) -> np.ndarray:
    """Value minus the local mean, over the local standard deviation (``size_px`` box).

    Examples
    --------
    >>> x = np.zeros((9, 9), dtype=np.float32); x[4, :] = 1.0
    >>> z = local_zscore(x, np.ones_like(x, dtype=bool), size_px=5)
    >>> bool(z[4, 4] > 1.5), bool(z[0, 4] < 0.5)
    (True, True)
    """
    v = np.where(valid, values, 0).astype(np.float32, copy=False)
    if den is None:
        den = valid_share(valid, size_px=size_px)
    # local means of v and of v * v (both already 0 where invalid) over the valid share
    share = np.maximum(den, _EPS)
    mean = box_mean(v, size_px) / share
    sq = box_mean(v * v, size_px) / share
    sq -= mean * mean
    std = np.sqrt(np.maximum(sq, 0.0, out=sq), out=sq)
    v -= mean
    out: np.ndarray = v / np.maximum(std, _Z_FLOOR, out=std)
    return out


def zscore_total(logs: dict[str, np.ndarray], valid: np.ndarray, *,
                 size_px: int, inner: tuple[slice, slice] | None = None) -> np.ndarray:
    """Sum over the bands of :func:`local_zscore` (float32), bands in ``logs``' order.

    Compiled (:func:`geo.detect.evidence_kernel.add_zscore`): equal to the bit to
    :func:`zscore_total_reference`, at about a third of its cost. With ``inner`` (two
    slices with starts and stops), only that part of the sum is made (the local means still
    take the whole arrays; the rest is 0): a box's evidence is wanted only inside the
    half-box margin its bands are read with (12 % less time on a 229-px box, 2026-12-07).
    """
    from geo.detect.evidence_kernel import add_zscore

    def add(v: np.ndarray, *rest: Any) -> None:
        add_zscore(np.ascontiguousarray(v, dtype=np.float32), *rest)
    return _zscore_sum(logs, valid, size_px, add, inner)


def zscore_total_stored(stored: Mapping[str, np.ndarray], valid: np.ndarray, *,
                        size_px: int, inner: tuple[slice, slice] | None = None) -> np.ndarray:
    """:func:`zscore_total` of :func:`log_bands` of bands given as uint8/uint16 values.

    The log of each value comes from :func:`log_table` inside the compiled kernel
    (:func:`geo.detect.evidence_kernel.add_zscore_table`), so no float band and no log band
    is made: the same sum to the bit (``tests/geo/test_evidence_kernels.py``).
    """
    from geo.detect.evidence_kernel import add_zscore_table

    def add(v: np.ndarray, *rest: Any) -> None:
        add_zscore_table(v, log_table(8 * v.dtype.itemsize), *rest)
    return _zscore_sum(stored, valid, size_px, add, inner)


def _zscore_sum(planes: Mapping[str, np.ndarray], valid: np.ndarray, size_px: int,
                add: Callable[..., None], inner: tuple[slice, slice] | None) -> np.ndarray:
    """Sum the planes' local z-scores, each added to the total in place by ``add``.

    ``add(plane, mask, share, size, eps, floor, total, box)`` is one of the compiled
    kernels; ``box`` holds the rows and columns of ``inner`` (the whole arrays: None).
    """
    total = np.zeros(valid.shape, dtype=np.float32)
    if not planes:
        return total
    h, w = valid.shape
    rows, cols = inner if inner is not None else (slice(0, h), slice(0, w))
    box = np.array([rows.start, rows.stop, cols.start, cols.stop], dtype=np.int64)
    if not (0 <= box[0] <= box[1] <= h and 0 <= box[2] <= box[3] <= w):
        raise ValueError(f"inner {inner} is not inside arrays of shape {valid.shape}")
    share = valid_share(valid, size_px=size_px)
    mask = np.ascontiguousarray(valid, dtype=bool)
    for v in planes.values():
        add(v, mask, share, int(size_px), _EPS, _Z_FLOOR, total, box)
    return total


def zscore_total_reference(logs: dict[str, np.ndarray], valid: np.ndarray, *,
                           size_px: int) -> np.ndarray:
    """:func:`zscore_total` in NumPy, one :func:`local_zscore` per band (the definition)."""
    total = np.zeros(valid.shape, dtype=np.float32)
    den = valid_share(valid, size_px=size_px)
    for v in logs.values():
        total += local_zscore(v, valid, size_px=size_px, den=den)
    return total


#: The bands :func:`compute_indices` reads.
INDEX_BANDS = ("blue", "green", "red", "nir")


def compute_indices(bands: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """NDVI, NDWI (green vs NIR) and brightness, where computable: what a profile reads.

    A bare-soil index and a redness index were made here too until 2026-12-07; nothing
    read them (the red and SWIR contrasts carry that information).
    """
    out: dict[str, np.ndarray] = {}
    if "nir" in bands:
        out["ndvi"] = normalized_difference(bands["nir"], bands["red"])
        if "green" in bands:
            out["ndwi"] = normalized_difference(bands["green"], bands["nir"])
    visible = [bands[r] for r in ("blue", "green", "red") if r in bands]
    out["brightness"] = np.mean(np.stack(visible), axis=0).astype(np.float32)
    return out


def log_bands(bands: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Natural log of each spectral band (values below 1 count as 1), float32.

    A band may be given as its stored uint8/uint16 values (:func:`is_stored`): its log is
    then looked up in :func:`log_table`, the same float32 values to the bit.
    """
    out = {}
    for k, v in bands.items():
        if is_stored(v):
            out[k] = np.take(log_table(8 * v.dtype.itemsize), v)
            continue
        logv = np.maximum(v, 1.0)  # a new array, so the log goes in place
        np.log(logv, out=logv)
        out[k] = logv.astype(np.float32, copy=False)
    return out


def is_stored(band: np.ndarray) -> bool:
    """Tell whether a band is given as the uint8/uint16 values it was read as."""
    return band.dtype in (np.uint8, np.uint16)


@functools.lru_cache(maxsize=2)
def log_table(bits: int) -> np.ndarray:
    """``log(max(v, 1))`` of every ``bits``-bit unsigned value ``v``, float32, read-only.

    Made by NumPy's own float32 log, so a value's entry is the log :func:`log_bands` (and
    the screen's float path) takes of it, wherever it sits in an array
    (``tests/geo/test_ridge_kernel.py`` checks every uint16 value in several layouts).
    """
    table = np.log(np.maximum(np.arange(2**bits, dtype=np.float32), np.float32(1.0)))
    table.flags.writeable = False
    out: np.ndarray = table
    return out


def compute_evidence(bands: Mapping[str, np.ndarray], valid: np.ndarray, *, res_m: float,
                     params: DetectionParams,
                     inner: tuple[slice, slice] | None = None) -> np.ndarray:
    """Bare-soil evidence per pixel in local z units (float32, 0 on invalid pixels).

    ``bands`` are float32, or the uint8/uint16 values a raster stores (:func:`is_stored`):
    the same evidence to the bit, each log then looked up in :func:`log_table`.

    Mean over the visible and SWIR bands present of the local z-score of the log band in a
    ``params.background_m`` box (so RGB-only imagery gets the same kind of evidence from
    fewer bands). Water (NDWI of green against NIR above ``params.ndwi_water``, when both
    bands are there) gets no positive evidence. Clipped to [-3, 5] so one saturated pixel
    cannot carry a line. ``inner`` (two slices with starts and stops): only that part of the
    arrays is returned, its local means still taken over the whole arrays.

    The last steps (mean, clip, water, invalid pixels) are one compiled pass
    (:func:`geo.detect.evidence_kernel.finish_evidence`), equal to the bit to NumPy's.
    """
    from geo.detect.evidence_kernel import finish_evidence

    size = params.px(params.background_m, res_m, minimum=params.min_background_px) | 1
    present = {k: bands[k] for k in EVIDENCE_BANDS if k in bands}
    smoothness = "nir" not in bands and params.rgb_texture_weight > 0
    if not smoothness and all(is_stored(v) for v in present.values()):
        total = zscore_total_stored(present, valid, size_px=size, inner=inner)  # no log band
    else:
        logs = log_bands(present)
        total = zscore_total(logs, valid, size_px=size, inner=inner)
    n = np.float32(max(len(present), 1))
    if smoothness:
        total = total / n - _roughness(logs, valid, size, params)
        n = np.float32(1.0)  # divided already: dividing by 1 changes no bit
    rows, cols = inner if inner is not None else (slice(0, valid.shape[0]),
                                                  slice(0, valid.shape[1]))
    water = "green" in bands and "nir" in bands
    green, nir = (bands["green"], bands["nir"]) if water else (total, total)
    out = np.empty((rows.stop - rows.start, cols.stop - cols.start), dtype=np.float32)
    finish_evidence(np.ascontiguousarray(total, dtype=np.float32), n,
                    np.ascontiguousarray(green), np.ascontiguousarray(nir), water,
                    np.ascontiguousarray(valid, dtype=bool), _EPS,
                    np.float32(params.ndwi_water), rows.start, cols.start, out)
    return out


def compute_evidence_reference(bands: Mapping[str, np.ndarray], valid: np.ndarray, *,
                               res_m: float, params: DetectionParams) -> np.ndarray:
    """:func:`compute_evidence` of the whole arrays with NumPy's last steps (the definition)."""
    size = params.px(params.background_m, res_m, minimum=params.min_background_px) | 1
    present = {k: bands[k] for k in EVIDENCE_BANDS if k in bands}
    logs = log_bands(present)
    evidence = zscore_total_reference(logs, valid, size_px=size) / np.float32(
        max(len(present), 1))
    if "nir" not in bands and params.rgb_texture_weight > 0:
        evidence = evidence - _roughness(logs, valid, size, params)
    evidence = np.clip(evidence, -3.0, 5.0)
    if "green" in bands and "nir" in bands:
        ndwi = normalized_difference(bands["green"], bands["nir"])
        evidence = np.where(ndwi > params.ndwi_water, np.minimum(evidence, 0.0), evidence)
    out: np.ndarray = np.where(valid, evidence, np.float32(0.0)).astype(np.float32,
                                                                          copy=False)
    return out


def _roughness(logs: Mapping[str, np.ndarray], valid: np.ndarray, size: int,
               params: DetectionParams) -> np.ndarray:
    """Return the RGB-only evidence's penalty: the weighted local z-score of the speckle.

    Without NIR/SWIR, a graded or paved strip is smooth, while a town or a crop mosaic beside
    it is as bright but speckled: smoothness is what tells them apart.
    """
    texture = _log_texture(np.mean(np.stack(list(logs.values())), axis=0))
    out: np.ndarray = np.float32(params.rgb_texture_weight) * local_zscore(texture, valid,
                                                                          size_px=size)
    return out


def _log_texture(log_bright: np.ndarray) -> np.ndarray:
    """Log of the local speckle of ``log_bright``: smooth along one direction is smooth.

    The standard deviation of three pixels in a row, along a row, a column and each
    diagonal, the smallest of the four. Speckle (a town, a crop mosaic) is rough in every
    direction; a strip one or two pixels wide is smooth along itself, while a 3 x 3 box
    straddles both its edges and made the thinnest strips the roughest ground of a scene.
    Measured with ``rgb_texture_weight`` 1.0 (2026-12-03): RGB-only, the generator traced 1
    of the 7 strips of the sample scenes with the box, 6 with this; on the Peru chips' blue,
    green and red bands its active-strip ceiling rose from 0.67 to 0.76.
    """
    p = np.pad(log_bright, 1, mode="edge")
    c = p[1:-1, 1:-1]
    three = np.float32(3.0)

    def variance(a: np.ndarray, b: np.ndarray) -> np.ndarray:  # of a, c, b in a row
        m = (a + b + c) / three
        out: np.ndarray = ((a - m) ** 2 + (b - m) ** 2 + (c - m) ** 2) / three
        return out

    rows = ((p[1:-1, :-2], p[1:-1, 2:]), (p[:-2, 1:-1], p[2:, 1:-1]),
            (p[:-2, :-2], p[2:, 2:]), (p[:-2, 2:], p[2:, :-2]))
    least = np.minimum.reduce([variance(a, b) for a, b in rows])
    out: np.ndarray = np.log(np.sqrt(least) + np.float32(1e-3))
    return out.astype(np.float32, copy=False)


def line_offsets(length_px: int, bearing_deg: float) -> np.ndarray:
    """Return the (row, col) offsets of a centred digital line; bearing clockwise from north.

    Examples
    --------
    >>> line_offsets(3, 90.0).tolist()
    [[0, -1], [0, 0], [0, 1]]
    """
    return np.array(_line_offsets(length_px, bearing_deg))


@functools.lru_cache(maxsize=256)
def _line_offsets(length_px: int, bearing_deg: float) -> tuple[tuple[int, int], ...]:
    """Compute :func:`line_offsets` as tuples, once (every window and block asks for them)."""
    t = np.arange(length_px, dtype=float) - (length_px - 1) / 2.0
    b = np.radians(bearing_deg)
    rows = np.rint(-t * np.cos(b)).astype(int)
    cols = np.rint(t * np.sin(b)).astype(int)
    return tuple((int(r), int(c)) for r, c in np.unique(np.column_stack([rows, cols]), axis=0))


def across_unit(bearing_deg: float) -> tuple[float, float]:
    """(row, col) unit vector perpendicular to a bearing (90 degrees clockwise of it)."""
    b = np.radians(bearing_deg)
    return float(np.sin(b)), float(np.cos(b))


def ridge_response(evidence: np.ndarray, *, length_px: int, n_orientations: int,
                   flank_px: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Oriented ridge strength and orientation index of each pixel.

    For each orientation, the mean evidence along a line of ``length_px`` centred on the
    pixel, minus the larger of the means along the two parallel lines ``f`` pixels to either
    side (best over ``f`` in ``flank_px``). Returns ``(response, k)`` where the bearing of
    the best line is ``180 * k / n_orientations`` degrees clockwise from grid north (the
    first such ``k`` on a tie).

    Notes
    -----
    A line's sum is made from its runs (:func:`line_runs`): its pixels, in (row, col)
    order, fall into runs of neighbours along one step (down, right or a diagonal), and the
    sum of a run of ``n`` pixels is a table shared by every pixel (the sums of its first
    ``a`` and last ``n - a`` pixels added, ``a`` the largest power of two below ``n``). The
    line's sum adds its runs' sums in order: float32 additions in another order than one
    pixel after another, so equal to that up to rounding (a few 1e-7 relative). At 16 x 45
    px that is 168 run sums and 38 tables per pixel instead of 720 additions (1.8x faster
    on a 300 x 300 block, 2026-12-07); memory: up to 10 block-sized float32 tables.
    """
    margin = ridge_margin_px(length_px=length_px, flank_px=flank_px)
    return ridge_response_padded(np.pad(evidence.astype(np.float32, copy=False), margin),
                                 length_px=length_px, n_orientations=n_orientations,
                                 flank_px=flank_px)


def ridge_margin_px(*, length_px: int, flank_px: tuple[int, ...]) -> int:
    """Pixels of evidence each side of a block that its ridge response depends on."""
    return length_px // 2 + 1 + max(flank_px) + 1


def ridge_response_padded(padded: np.ndarray, *, length_px: int, n_orientations: int,
                          flank_px: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """:func:`ridge_response` of the inner part of ``padded`` (float32 evidence, z units).

    ``padded`` holds the block plus :func:`ridge_margin_px` pixels of evidence on every side
    (zeros beyond the raster, as :func:`ridge_response` pads), so a block of a window gets
    exactly the response the whole window would give it. Computed by the compiled kernel of
    :mod:`geo.detect.ridge_kernel`, equal to the bit to :func:`ridge_response_reference`.
    """
    from geo.detect.ridge_kernel import ridge_kernel

    pad, half, best, arg = _ridge_outputs(padded, length_px=length_px, flank_px=flank_px)
    h, w = best.shape
    if h <= 0 or w <= 0:
        return best, arg
    plan = _ridge_plan(length_px, n_orientations, flank_px)
    acc = np.empty((h + 2 * pad, w + 2 * pad), dtype=np.float32)
    tables = np.empty((plan.most_tables, *padded.shape), dtype=np.float32)
    ridge_kernel(np.ascontiguousarray(padded, dtype=np.float32), plan.steps, plan.runs,
                 plan.n_runs, plan.tables, plan.n_tables, plan.scales, plan.flanks, half, pad,
                 best, arg, acc, tables)
    return best, arg


def _ridge_outputs(padded: np.ndarray, *, length_px: int, flank_px: tuple[int, ...]
                   ) -> tuple[int, int, np.ndarray, np.ndarray]:
    """Flank pad, line half-length, and the block's response (-inf) and orientation (0)."""
    pad = max(flank_px) + 1
    half = length_px // 2 + 1
    margin = pad + half
    h, w = padded.shape[0] - 2 * margin, padded.shape[1] - 2 * margin
    return (pad, half, np.full((max(h, 0), max(w, 0)), -np.inf, dtype=np.float32),
            np.zeros((max(h, 0), max(w, 0)), dtype=np.int16))


#: Steps (row, col) along which a digital line's neighbouring pixels form runs: down,
#: right, down-right, down-left (each run read in (row, col) order).
RUN_STEPS: tuple[tuple[int, int], ...] = ((1, 0), (0, 1), (1, 1), (1, -1))


def line_runs(offsets: tuple[tuple[int, int], ...]) -> tuple[tuple[int, int],
                                                               list[tuple[int, int, int]]]:
    """Split a line's pixels into runs of neighbours along one of :data:`RUN_STEPS`.

    ``offsets`` are (row, col) pixel offsets in (row, col) order, as :func:`line_offsets`
    gives them. Returns the step that makes fewest runs (the first of :data:`RUN_STEPS` on
    a tie) and the runs as ``(row, col, n)``: the first pixel and the pixel count, in the
    order of their first pixels. Every offset is in exactly one run.

    Examples
    --------
    >>> line_runs(((-1, 0), (0, 0), (0, 1)))
    ((1, 0), [(-1, 0, 2), (0, 1, 1)])
    """
    pixels = set(offsets)
    best: tuple[tuple[int, int], list[tuple[int, int, int]]] | None = None
    for dr, dc in RUN_STEPS:
        runs = []
        for r, c in offsets:
            if (r - dr, c - dc) in pixels:
                continue  # inside a run begun earlier
            n = 1
            while (r + n * dr, c + n * dc) in pixels:
                n += 1
            runs.append((r, c, n))
        if best is None or len(runs) < len(best[1]):
            best = ((dr, dc), runs)
    assert best is not None, "a line has at least one pixel"
    return best


def _run_split(n: int) -> int:
    """Pixels in the first part of a run of ``n`` >= 2: the largest power of two below ``n``."""
    a = 1
    while 2 * a < n:
        a *= 2
    return a


@dataclass(frozen=True)
class _RidgePlan:
    """The ridge kernel's arrays (:func:`_ridge_plan`); shared by every call, read-only.

    Per orientation ``k``: ``steps[k]`` its run step; ``runs[k, :n_runs[k]]`` its runs as
    (row, col, table), table 0 being the evidence itself; ``tables[k, 1:n_tables[k]]`` the
    run-sum tables to make before it, as (first part's table, second part's table, first
    part's length, then rows and columns needed: low, high, low, high, relative to the block)
    (``n_tables[k]`` is 0 when ``k`` uses the tables made for the orientation before it);
    ``scales[k]`` 1 / its pixel count; ``flanks[k]`` its flank lines' offsets.
    """

    steps: np.ndarray
    runs: np.ndarray
    n_runs: np.ndarray
    tables: np.ndarray
    n_tables: np.ndarray
    scales: np.ndarray
    flanks: np.ndarray
    most_tables: int
    #: per pixel of the flank-padded block: run sums plus table entries (without their
    #: margins), the filter's additions
    additions_per_px: int


@functools.lru_cache(maxsize=32)
def _ridge_plan(length_px: int, n_orientations: int, flank_px: tuple[int, ...]) -> _RidgePlan:
    """Plan the runs and run-sum tables of :func:`ridge_response_padded` (cached).

    Consecutive orientations whose runs go along the same step share one set of tables
    (:func:`_step_tables`).
    """
    lines = _ridge_lines(length_px, n_orientations, flank_px)
    split = [line_runs(offsets) for offsets, _, _ in lines]
    groups: list[list[int]] = []
    for k, (step, _) in enumerate(split):
        if groups and split[groups[-1][0]][0] == step:
            groups[-1].append(k)
        else:
            groups.append([k])
    steps = np.zeros((len(lines), 2), dtype=np.int64)
    runs = np.zeros((len(lines), max(len(r) for _, r in split), 3), dtype=np.int64)
    n_runs = np.zeros(len(lines), dtype=np.int64)
    n_tables = np.zeros(len(lines), dtype=np.int64)
    made = []
    for group in groups:
        step = split[group[0]][0]
        rows, index = _step_tables(step, [split[k][1] for k in group], length_px // 2 + 1)
        made.append(rows)
        n_tables[group[0]] = len(rows)
        for k in group:
            steps[k] = step
            n_runs[k] = len(split[k][1])
            for m, (r, c, n) in enumerate(split[k][1]):
                runs[k, m] = (r, c, index[n])
    tables = np.zeros((len(lines), max(len(rows) for rows in made), 7), dtype=np.int64)
    for group, rows in zip(groups, made, strict=True):
        tables[group[0], :len(rows)] = rows
    scales = np.array([scale for _, scale, _ in lines], dtype=np.float32)
    flanks = np.array([sides for _, _, sides in lines], dtype=np.int64).reshape(
        len(lines), len(flank_px), 2)
    for a in (steps, runs, n_runs, tables, n_tables, scales, flanks):
        a.flags.writeable = False  # shared by every call (lru_cache)
    return _RidgePlan(steps=steps, runs=runs, n_runs=n_runs, tables=tables,
                      n_tables=n_tables, scales=scales, flanks=flanks,
                      most_tables=int(n_tables.max()),
                      additions_per_px=int(n_runs.sum() + np.maximum(n_tables - 1, 0).sum()))


def _step_tables(step: tuple[int, int], runs: list[list[tuple[int, int, int]]], half: int
                 ) -> tuple[list[tuple[int, ...]], dict[int, int]]:
    """Return the run-sum tables runs along ``step`` need, and the index of each length.

    A table per run length any run has, and the lengths its parts have: a run of ``n``
    adds the tables of its first :func:`_run_split` pixels and of the rest. Each table is
    made over the rows and columns (relative to the block, as offsets) where a run or a
    longer table reads it; every entry sums pixels of a line, so it lies within ``half``
    of the block, inside the padded block (checked: the kernel does not check indices).
    Row 0 stands for the evidence itself (length 1).
    """
    dr, dc = step
    lengths: set[int] = set()
    todo = [n for group in runs for _, _, n in group]
    while todo:
        n = todo.pop()
        if n > 1 and n not in lengths:
            lengths.add(n)
            todo += [_run_split(n), n - _run_split(n)]
    reach: dict[int, tuple[int, int, int, int]] = {}
    uses = [(n, r, r, c, c) for group in runs for r, c, n in group]
    for n in sorted(lengths, reverse=True):  # a table's parts are shorter than it
        for _, *box in [u for u in uses if u[0] == n]:  # where runs and longer tables read it
            b = reach.get(n, tuple(box))
            reach[n] = (min(b[0], box[0]), max(b[1], box[1]), min(b[2], box[2]),
                        max(b[3], box[3]))
        r0, r1, c0, c1 = reach[n]
        a = _run_split(n)
        uses += [(a, r0, r1, c0, c1),
                 (n - a, r0 + a * dr, r1 + a * dr, c0 + a * dc, c1 + a * dc)]
    index = {1: 0} | {n: t for t, n in enumerate(sorted(lengths), start=1)}
    rows: list[tuple[int, ...]] = [(0,) * 7]
    for n in sorted(lengths):
        r0, r1, c0, c1 = reach[n]
        far_r, far_c = (n - 1) * dr, (n - 1) * dc
        if not (-half < r0 + min(0, far_r) and r1 + max(0, far_r) < half
                and -half < c0 + min(0, far_c) and c1 + max(0, far_c) < half):
            raise RuntimeError(f"run table {n} x {step} reaches {reach[n]}: beyond {half}")
        a = _run_split(n)
        rows.append((index[a], index[n - a], a, r0, r1, c0, c1))
    return rows, index


def ridge_response_reference(padded: np.ndarray, *, length_px: int, n_orientations: int,
                             flank_px: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """:func:`ridge_response_padded` in plain NumPy: the readable definition, for tests.

    Per orientation, in order: the run-sum tables of its step (:func:`_ridge_plan`: each
    the sum of two shorter ones, one of them shifted along the step; the evidence itself is
    table 0), the line means (its runs' table values added in order, times 1 / its pixel
    count), then the flanks. The compiled kernel makes these float32 operations, in this
    order, over the rows and columns each table is needed at.
    """
    pad, half, best, arg = _ridge_outputs(padded, length_px=length_px, flank_px=flank_px)
    h, w = best.shape
    hp, wp = h + 2 * pad, w + 2 * pad
    plan = _ridge_plan(length_px, n_orientations, flank_px)
    ev = padded.astype(np.float32, copy=False)
    big_h, big_w = ev.shape
    tables = [ev]
    for k in range(n_orientations):
        dr, dc = (int(v) for v in plan.steps[k])
        if plan.n_tables[k]:
            tables = [ev]  # the tables of this step, made anew
        for ia, ib, a, *_ in plan.tables[k, 1:plan.n_tables[k]].tolist():
            t = np.full((big_h, big_w), np.nan, dtype=np.float32)  # NaN where it cannot be
            r1, c0, c1 = big_h - a * dr, max(0, -a * dc), min(big_w, big_w - a * dc)
            t[:r1, c0:c1] = (tables[ia][:r1, c0:c1]
                             + tables[ib][a * dr:r1 + a * dr, c0 + a * dc:c1 + a * dc])
            tables.append(t)
        runs = [tables[t_i][half + r:half + r + hp, half + c:half + c + wp]
                for r, c, t_i in plan.runs[k, :plan.n_runs[k]].tolist()]
        acc = runs[0].copy()
        for run in runs[1:]:
            acc += run
        acc *= plan.scales[k]
        centre = acc[pad:pad + h, pad:pad + w]
        for fr, fc in plan.flanks[k].tolist():
            side = np.maximum(acc[pad + fr:pad + fr + h, pad + fc:pad + fc + w],
                              acc[pad - fr:pad - fr + h, pad - fc:pad - fc + w])
            resp = centre - side
            better = resp > best
            np.copyto(best, resp, where=better)
            np.copyto(arg, np.int16(k), where=better)
    return best, arg


@functools.lru_cache(maxsize=32)
def _ridge_lines(length_px: int, n_orientations: int, flank_px: tuple[int, ...]
                 ) -> tuple[tuple[tuple[tuple[int, int], ...], np.float32,
                                  tuple[tuple[int, int], ...]], ...]:
    """Per orientation: line offsets, 1 / their count, and the flank offsets (cached)."""
    lines = []
    for k in range(n_orientations):
        bearing = 180.0 * k / n_orientations
        offsets = _line_offsets(length_px, bearing)
        pr, pc = across_unit(bearing)
        flanks = tuple((round(pr * f), round(pc * f)) for f in flank_px)
        lines.append((offsets, np.float32(1.0 / len(offsets)), flanks))
    return tuple(lines)


def suppress_non_maxima(response: np.ndarray, orientation: np.ndarray, *,
                        n_orientations: int) -> np.ndarray:
    """Pixels whose response is at least that of both neighbours across their orientation.

    Thins each ridge to a line about one pixel wide (as in Canny's edge thinning), so
    parallel strips and a strip beside its own halo stay apart.
    """
    bearing = np.radians(180.0 * orientation.astype(np.float32) / n_orientations)
    dr = np.rint(np.sin(bearing)).astype(np.intp)
    dc = np.rint(np.cos(bearing)).astype(np.intp)
    h, w = response.shape
    padded = np.pad(response, 1, constant_values=-np.inf)
    rr, cc = np.ogrid[1:h + 1, 1:w + 1]
    out: np.ndarray = ((response >= padded[rr + dr, cc + dc])
                       & (response >= padded[rr - dr, cc - dc]))
    return out
