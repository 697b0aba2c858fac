"""Compiled kernels of :mod:`geo.tiffblocks` and of reading a window's integers as bands.

Compiled by Numba on first use and cached beside this file, like
:mod:`geo.detect.ridge_kernel`; imported only where pixels are read, so that importing
:mod:`geo.imagery` does not import Numba.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True, boundscheck=False)
def unpack_tile(stored: np.ndarray, planes: np.ndarray, predictor: bool,
                out: np.ndarray) -> None:
    """Undo the horizontal predictor and split a tile into the requested planes.

    Parameters
    ----------
    stored
        One decoded tile, ``(tile_h, tile_w, samples)`` of its integer type.
    planes
        The sample of each output plane (0-based), int64.
    predictor
        Whether each value is stored as its difference from its left neighbour's (TIFF
        predictor 2, per sample, wrapping at the type's width as libtiff does).
    out
        ``(len(planes), tile_h, tile_w)``, same type as ``stored``; written.
    """
    h, w, _ = stored.shape
    for k in range(planes.size):
        s = planes[k]
        for y in range(h):
            if predictor:
                acc = np.int64(0)
                for x in range(w):
                    acc += np.int64(stored[y, x, s])
                    out[k, y, x] = acc  # stored at the type's width: wraps like libtiff
            else:
                for x in range(w):
                    out[k, y, x] = stored[y, x, s]


@numba.njit(cache=True, nogil=True, boundscheck=False)
def ints_to_bands(stack: np.ndarray, nodata: float, check_nodata: bool, floats: np.ndarray,
                  valid: np.ndarray) -> None:
    """Integer planes as float32, and the pixels where no plane holds ``nodata``.

    What ``stack.astype(np.float32)`` and ``valid &= plane != nodata`` for each plane give
    (the comparison made in float64, as NumPy makes it with a Python float).

    Parameters
    ----------
    stack
        ``(n, h, w)`` integers as read.
    nodata, check_nodata
        The nodata value, and whether there is one.
    floats
        ``(n, h, w)`` float32; written.
    valid
        ``(h, w)`` bool; pixels holding ``nodata`` in any plane are set False, others left.
    """
    n, h, w = stack.shape
    for i in range(n):
        for y in range(h):
            for x in range(w):
                v = stack[i, y, x]
                floats[i, y, x] = np.float32(v)
                if check_nodata and np.float64(v) == nodata:
                    valid[y, x] = False
