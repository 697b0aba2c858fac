"""Compiled kernels of the evidence: local z-scores (:func:`add_zscore`), water pixels.

:func:`geo.detect.evidence.local_zscore` in NumPy makes about ten window-sized temporaries
per band (the masked values, their squares, two box means, the quotients, the spread) and
reads each several times: measured at 39 ns per pixel and band, of which the two box means
are 12. :func:`add_zscore` does the same float32 operations, in the same order, pixel by
pixel after the two box means (:func:`geo.detect.ridge_kernel.box_mean_kernel`), and adds
the result to the evidence total in place; equal to the bit to the NumPy code
(``tests/geo/test_evidence_kernels.py``), so the candidates do not change.
:func:`add_zscore_table` does the same from a band's stored uint8/uint16 values, each log
looked up in a table, so a box of an integer raster makes no float band and no log band.

Compiled by Numba on first use and cached beside this file, like
:mod:`geo.detect.ridge_kernel`.
"""

from __future__ import annotations

import numba
import numpy as np

from geo.detect.ridge_kernel import _np_maximum, _np_minimum, box_mean_rows_kernel
from geo.kernel_cache import ensure_fresh

ensure_fresh()  # Numba keys caches by their own file: drop them when any kernel changed


@numba.njit(cache=True, nogil=True, boundscheck=False, error_model="numpy")
def add_zscore(values: np.ndarray, valid: np.ndarray, share: np.ndarray, size: int,
               eps: np.float32, floor: np.float32, total: np.ndarray, inner: np.ndarray
               ) -> None:
    """Add one band's local z-score to ``total`` (float32, in place), inside ``inner``.

    Parameters
    ----------
    values
        C-contiguous float32 band (log values); invalid pixels count as 0.
    valid
        Boolean mask of the same shape.
    share
        Float32 share of valid pixels in each ``size`` box (the local means' denominator).
    size
        Side of the box in pixels.
    eps, floor
        Float32 floors of the share and of the standard deviation.
    total
        Float32 running sum of the bands' z-scores, same shape.
    inner
        Rows and columns ``(r0, r1, c0, c1)`` (int64, half-open) where ``total`` is wanted:
        the local means still take the whole arrays, and nothing outside is written.

    Notes
    -----
    ``error_model="numpy"``: a float division by zero gives inf or NaN as in NumPy instead
    of a check that raises, which kept the loops from vectorising (4.6x slower). The NumPy
    code it equals: ``v = where(valid, values, 0)``, ``s = maximum(share, eps)``,
    ``mean = box(v) / s``, ``sq = box(v * v) / s - mean * mean``,
    ``std = maximum(sqrt(maximum(sq, 0)), floor)``, ``total += (v - mean) / std``.
    """
    h, w = values.shape
    v = np.empty((h, w), dtype=np.float32)
    vv = np.empty((h, w), dtype=np.float32)
    zero = np.float32(0.0)
    for i in range(h):  # whole rows as 1-d slices, so the loops vectorise
        src, ok, vi, vvi = values[i], valid[i], v[i], vv[i]
        for j in range(w):
            x = src[j] if ok[j] else zero
            vi[j] = x
            vvi[j] = x * x
    _add_zscore_of(v, vv, share, size, eps, floor, total, inner)


@numba.njit(cache=True, nogil=True, boundscheck=False, error_model="numpy")
def add_zscore_table(stored: np.ndarray, table: np.ndarray, valid: np.ndarray,
                     share: np.ndarray, size: int, eps: np.float32, floor: np.float32,
                     total: np.ndarray, inner: np.ndarray) -> None:
    """:func:`add_zscore` of the log band ``table[stored]``, without making that band.

    ``stored`` holds a band's uint8/uint16 values as read, ``table`` the float32 log of
    every value of the type (:func:`geo.detect.evidence.log_table`, NumPy's own log, which
    :func:`geo.detect.evidence.log_bands` takes of the float band): the same z-scores to
    the bit, without making the float band and its log. Five 300 x 300 uint16 planes: 22 ns
    a pixel and band against 33 through the float bands (measured 2026-12-06).
    """
    h, w = stored.shape
    v = np.empty((h, w), dtype=np.float32)
    vv = np.empty((h, w), dtype=np.float32)
    zero = np.float32(0.0)
    for i in range(h):
        src, ok, vi, vvi = stored[i], valid[i], v[i], vv[i]
        for j in range(w):
            x = table[src[j]] if ok[j] else zero
            vi[j] = x
            vvi[j] = x * x
    _add_zscore_of(v, vv, share, size, eps, floor, total, inner)


@numba.njit(cache=True, nogil=True, boundscheck=False, error_model="numpy")
def _add_zscore_of(v: np.ndarray, vv: np.ndarray, share: np.ndarray, size: int,
                   eps: np.float32, floor: np.float32, total: np.ndarray, inner: np.ndarray
                   ) -> None:
    """Finish :func:`add_zscore` once the masked values and their squares are made."""
    r0, r1, c0, c1 = inner[0], inner[1], inner[2], inner[3]
    zero = np.float32(0.0)
    m1 = box_mean_rows_kernel(v, size, r0, r1)
    m2 = box_mean_rows_kernel(vv, size, r0, r1)
    for i in range(r0, r1):
        a1, a2, sh, vi, ti = m1[i, c0:c1], m2[i, c0:c1], share[i, c0:c1], v[i, c0:c1], \
            total[i, c0:c1]
        for j in range(c1 - c0):
            s = _np_maximum(sh[j], eps)
            mean = a1[j] / s
            sq = a2[j] / s
            sq = sq - mean * mean
            std = np.sqrt(_np_maximum(sq, zero))
            ti[j] += (vi[j] - mean) / _np_maximum(std, floor)


@numba.njit(cache=True, nogil=True, boundscheck=False, error_model="numpy")
def ones_box_mean_kernel(size: int, out: np.ndarray) -> None:
    """Fill ``out`` with :func:`geo.detect.evidence.ones_box_mean` of its shape.

    NumPy's arithmetic of its definition, to the bit: ``float32(rows / size)`` made float64,
    times the columns in the box, over ``size`` in float64, made float32; in one pass
    without the float64 outer product (2.3x less time over the benchmark tile's boxes).
    """
    h, w = out.shape
    half = size // 2
    fsize = np.float64(size)
    cols = np.empty(w, dtype=np.float64)
    for j in range(w):
        cols[j] = np.float64(min(w - 1, j - half + size - 1) - max(0, j - half) + 1)
    for i in range(h):
        n = np.float64(min(h - 1, i - half + size - 1) - max(0, i - half) + 1)
        r = np.float64(np.float32(n / fsize))
        o = out[i]
        for j in range(w):
            o[j] = np.float32(r * cols[j] / fsize)


@numba.njit(cache=True, nogil=True, boundscheck=False, error_model="numpy")
def water_mask(green: np.ndarray, nir: np.ndarray, valid: np.ndarray, eps: np.float32,
               level: np.float32, out: np.ndarray) -> None:
    """Fill ``out`` with the valid pixels whose NDWI (green vs NIR) exceeds ``level``.

    The arithmetic of :func:`geo.detect.evidence.normalized_difference` in float32
    (``(g - n) / maximum(g + n, eps)``) and NumPy's float32 comparison with ``level``, pixel
    by pixel, without the window-sized NDWI. ``green`` and ``nir`` are float32, or integers
    that each value is made float32 from (what ``astype(np.float32)`` gives).
    """
    h, w = green.shape
    for i in range(h):
        g, n, ok, o = green[i], nir[i], valid[i], out[i]
        for j in range(w):
            a = np.float32(g[j])
            b = np.float32(n[j])
            o[j] = ok[j] & ((a - b) / _np_maximum(a + b, eps) > level)  # no branch: 3.7x


@numba.njit(cache=True, nogil=True, boundscheck=False, error_model="numpy")
def finish_evidence(total: np.ndarray, n: np.float32, green: np.ndarray, nir: np.ndarray,
                    water: bool, valid: np.ndarray, eps: np.float32, level: np.float32,
                    r0: int, c0: int, out: np.ndarray) -> None:
    """Fill ``out`` with the evidence at ``total``'s pixels from (``r0``, ``c0``) on.

    NumPy's last steps of :func:`geo.detect.evidence.compute_evidence_reference`, pixel by
    pixel: ``total / n`` (float32), clipped to [-3, 5], at most 0 where ``water`` and the
    NDWI of ``green`` and ``nir`` (:func:`water_mask`'s arithmetic) exceeds ``level``, and
    0 on invalid pixels; NaN stays NaN as in ``np.clip`` and ``np.minimum``.
    """
    h, w = out.shape
    lo, hi, zero = np.float32(-3.0), np.float32(5.0), np.float32(0.0)
    for i in range(h):
        t, g, m, ok, o = total[r0 + i], green[r0 + i], nir[r0 + i], valid[r0 + i], out[i]
        for j in range(w):
            c = c0 + j
            e = _np_maximum(_np_minimum(t[c] / n, hi), lo)
            if water:
                a = np.float32(g[c])
                b = np.float32(m[c])
                if (a - b) / _np_maximum(a + b, eps) > level:
                    e = _np_minimum(e, zero)
            o[j] = e if ok[c] else zero


@numba.njit(cache=True, nogil=True, boundscheck=False)
def shore_pixels(water: np.ndarray, most: int) -> np.ndarray:
    """(row, col) of each water pixel with a land pixel among its 4 neighbours, raster order.

    ``np.column_stack(np.nonzero(layers._shore(water)))`` (beyond the raster counts as
    water) in one pass over the mask, without the shifted copies; ``most`` is at least the
    number of water pixels (the result's room).
    """
    h, w = water.shape
    out = np.empty((most, 2), dtype=np.int64)
    k = 0
    for i in range(h):
        row = water[i]
        for j in range(w):
            if not row[j]:
                continue
            if ((i > 0 and not water[i - 1, j]) or (i < h - 1 and not water[i + 1, j])
                    or (j > 0 and not row[j - 1]) or (j < w - 1 and not row[j + 1])):
                out[k, 0] = i
                out[k, 1] = j
                k += 1
    return out[:k]
