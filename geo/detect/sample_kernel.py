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
    h, w = image.shape
    out = np.empty(rows.size, dtype=image.dtype)
    for k in range(rows.size):
        r = rows[k]
        c = cols[k]
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
        out[k] = t
    return out
