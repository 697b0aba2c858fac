"""Compiled bilinear sampling of a raster at points, as SciPy's ``map_coordinates`` does it.

A candidate's measurement samples a dozen layers along and across its axis
(:func:`geo.detect.window._sample`). ``scipy.ndimage.map_coordinates(order=1,
mode="nearest")`` spends most of each call in its Python wrapper (checks, output
allocation), which for a few thousand points is most of the measurement's time.
:func:`bilinear_nearest` makes the same arithmetic: the four pixels around the point,
each clamped to the raster (the point itself is not), weighted by ``(1 - x, 1 - (1 - x))``
per axis (``x`` the point's distance past the lower pixel), multiplied value x row weight
x column weight and added in the order (r0, c0), (r0, c1), (r1, c0), (r1, c1) in float64,
then rounded to the raster's type; equal to the bit to SciPy on float32 and float64
rasters (``tests/geo/test_evidence_kernels.py``, 40,000 float64 points beside it when it was
written).
"""

from __future__ import annotations

import numba
import numpy as np

from geo.kernel_cache import ensure_fresh

ensure_fresh()  # Numba keys caches by their own file: drop them when any kernel changed


@numba.njit(cache=True, nogil=True, boundscheck=False, error_model="numpy", inline="always")
def _bilinear64(image: np.ndarray, r: float, c: float) -> float:
    """Return the bilinear sample of ``image`` at (row, col) ``r``, ``c`` (float64), in float64."""
    h, w = image.shape
    r0 = int(np.floor(r))
    c0 = int(np.floor(c))
    wr0 = 1.0 - (r - r0)  # SciPy's weights: 1 - x, then 1 minus the first
    wc0 = 1.0 - (c - c0)
    wr1 = 1.0 - wr0
    wc1 = 1.0 - wc0
    # the four neighbours, each clamped to the raster (the point itself is not)
    ra = min(max(r0, 0), h - 1)
    rb = min(max(r0 + 1, 0), h - 1)
    ca = min(max(c0, 0), w - 1)
    cb = min(max(c0 + 1, 0), w - 1)
    t = 0.0
    t += np.float64(image[ra, ca]) * wr0 * wc0
    t += np.float64(image[ra, cb]) * wr0 * wc1
    t += np.float64(image[rb, ca]) * wr1 * wc0
    t += np.float64(image[rb, cb]) * wr1 * wc1
    return t


@numba.njit(cache=True, nogil=True, boundscheck=False, error_model="numpy", inline="always")
def bilinear_at(image: np.ndarray, r: float, c: float) -> np.float32:
    """One bilinear sample of a float32 raster at (row, col) ``r``, ``c`` (float64), edges held.

    :func:`bilinear_nearest`'s value for one point, for kernels that sample point by point
    (:mod:`geo.detect.profile_kernel`).
    """
    return np.float32(_bilinear64(image, r, c))


@numba.njit(cache=True, nogil=True, boundscheck=False, error_model="numpy")
def bilinear_nearest(image: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Bilinear samples of a float raster at (row, col) points (float64), edges held.

    Parameters
    ----------
    image
        Float32 or float64 raster.
    rows, cols
        1-d float64 pixel coordinates (row 0 / col 0 is the first pixel's centre).

    Returns
    -------
    numpy.ndarray
        One sample per point, in ``image``'s type.
    """
    out = np.empty(rows.size, dtype=image.dtype)
    for k in range(rows.size):
        out[k] = _bilinear64(image, rows[k], cols[k])
    return out


@numba.njit(cache=True, nogil=True, boundscheck=False)
def axis_cells(centre_r: float, centre_c: float, axis_r: float, axis_c: float,
               along: np.ndarray, across: np.ndarray, h: int, w: int
               ) -> tuple[np.ndarray, np.ndarray]:
    """Raster pixels (rows, cols) of the 4 x 4 cells around points near an axis, raster order.

    The points are ``centre + across * perp + along * axis`` (``perp`` = (-axis_c, axis_r)),
    for every pair of the two offset arrays (pixels); each point's cells are the rows
    ``floor(r) - 1 .. floor(r) + 2`` and columns alike, kept when inside an ``h`` x ``w``
    raster; each pixel is returned once. The same points, in the same float64 arithmetic,
    as the NumPy definition :func:`geo.detect.window._axis_pixels_reference`.
    """
    n = along.size * across.size
    fr = np.empty(n, dtype=np.int64)
    fc = np.empty(n, dtype=np.int64)
    k = 0
    for i in range(along.size):
        for j in range(across.size):
            r = (centre_r + across[j] * -axis_c) + along[i] * axis_r
            c = (centre_c + across[j] * axis_r) + along[i] * axis_c
            fr[k] = int(np.floor(r))
            fc[k] = int(np.floor(c))
            k += 1
    r_lo, r_hi, c_lo, c_hi = h, -1, w, -1
    for k in range(n):
        r_lo = min(r_lo, max(fr[k] - 1, 0))
        r_hi = max(r_hi, min(fr[k] + 2, h - 1))
        c_lo = min(c_lo, max(fc[k] - 1, 0))
        c_hi = max(c_hi, min(fc[k] + 2, w - 1))
    if r_hi < r_lo or c_hi < c_lo:
        return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp)
    seen = np.zeros((r_hi - r_lo + 1, c_hi - c_lo + 1), dtype=np.bool_)
    count = 0
    for k in range(n):
        for dr in range(-1, 3):
            rr = fr[k] + dr
            if rr < 0 or rr >= h:
                continue
            for dc in range(-1, 3):
                cc = fc[k] + dc
                if 0 <= cc < w and not seen[rr - r_lo, cc - c_lo]:
                    seen[rr - r_lo, cc - c_lo] = True
                    count += 1
    rows = np.empty(count, dtype=np.intp)
    cols = np.empty(count, dtype=np.intp)
    k = 0
    for r in range(seen.shape[0]):
        for c in range(seen.shape[1]):
            if seen[r, c]:
                rows[k] = r + r_lo
                cols[k] = c + c_lo
                k += 1
    return rows, cols


@numba.njit(cache=True, nogil=True, boundscheck=False, inline="always")
def _linear_quantile(ordered: np.ndarray, q: float) -> float:
    """NumPy's ``quantile(a, q)`` ("linear" method) of the sorted ``ordered``, to the bit.

    The index ``(n - 1) * q`` and NumPy's ``_lerp``: ``a + (b - a) * t`` below ``t = 0.5``,
    ``b - (b - a) * (1 - t)`` from there (the last value when the index reaches it).
    """
    n = ordered.size
    v = (n - 1) * q
    if v >= n - 1:
        return float(ordered[n - 1])
    i = int(np.floor(v))
    t = v - i
    a, b = ordered[i], ordered[i + 1]
    d = b - a
    return float(b - d * (1.0 - t)) if t >= 0.5 else float(a + d * t)


@numba.njit(cache=True, nogil=True, boundscheck=False, inline="always")
def _median(ordered: np.ndarray) -> float:
    """NumPy's ``median`` of the sorted ``ordered`` (the mean of the middle two when even)."""
    n = ordered.size
    h = n // 2
    if n % 2:
        return float(ordered[h])
    return float((ordered[h - 1] + ordered[h]) / 2.0)


@numba.njit(cache=True, nogil=True, boundscheck=False, error_model="numpy")
def axis_spread(along: np.ndarray, across: np.ndarray, length: float
                ) -> tuple[float, float, float, float]:
    """Return the across-axis statistics of a traced ridge's pixels (``window._shape``).

    Parameters
    ----------
    along, across
        Float64 pixel offsets along and across the ridge's axis (pixels).
    length
        ``ptp(along) + 1`` (pixels).

    Returns
    -------
    tuple
        The 2nd and 98th percentiles of ``across``, its median, and the bend: the spread
        (max - min) of the medians of ``across`` in four equal bins along the axis. What
        ``np.percentile(across, [2, 98])``, ``np.median`` and the bins made with
        ``np.clip(((along - along.min()) / length * 4).astype(int), 0, 3)`` give, to the bit.
    """
    n = along.size
    lo_along = along.min()
    bins = np.empty(n, dtype=np.int64)
    counts = np.zeros(4, dtype=np.int64)
    for i in range(n):
        k = int((along[i] - lo_along) / length * 4)
        k = min(max(k, 0), 3)
        bins[i] = k
        counts[k] += 1
    ordered = np.sort(across)
    lo = _linear_quantile(ordered, 0.02)
    hi = _linear_quantile(ordered, 0.98)
    med = _median(ordered)
    least, most = np.inf, -np.inf
    for k in range(4):
        if counts[k] == 0:
            continue
        part = np.empty(counts[k], dtype=np.float64)
        m = 0
        for i in range(n):
            if bins[i] == k:
                part[m] = across[i]
                m += 1
        part.sort()
        v = _median(part)
        least, most = min(least, v), max(most, v)
    return lo, hi, med, most - least
