"""Compiled kernels of :mod:`geo.tiffblocks` and of reading a window's integers as bands.

Compiled by Numba on first use and cached beside this file, like
:mod:`geo.detect.ridge_kernel`; imported only where pixels are read, so that importing
:mod:`geo.imagery` does not import Numba.
"""

from __future__ import annotations

import numba
import numpy as np

from geo.kernel_cache import ensure_fresh

ensure_fresh()  # Numba keys caches by their own file: drop them when any kernel changed


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
def nodata_valid(stack: np.ndarray, nodata: int, valid: np.ndarray) -> None:
    """Set False the pixels where any integer plane holds ``nodata``; leave the others.

    What ``valid &= plane != nodata`` for each plane gives, in one plain loop per plane that
    the compiler vectorises (the comparison in the integer type).

    Parameters
    ----------
    stack
        ``(n, h, w)`` integers as read.
    nodata
        The nodata value as an integer of ``stack``'s type.
    valid
        ``(h, w)`` bool; updated in place.
    """
    n, h, w = stack.shape
    for i in range(n):
        for y in range(h):
            src = stack[i, y]
            ok = valid[y]
            for x in range(w):
                ok[x] = ok[x] & (src[x] != nodata)
