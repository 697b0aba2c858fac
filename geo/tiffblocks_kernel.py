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
def ints_to_bands(stack: np.ndarray, nodata: int, check_nodata: bool, floats: np.ndarray,
                  valid: np.ndarray) -> None:
    """Integer planes as float32, and the pixels where no plane holds ``nodata``.

    What ``stack.astype(np.float32)`` and ``valid &= plane != nodata`` for each plane give.
    Two plain loops (the conversion, then the comparison in the integer type) that the
    compiler vectorises: a comparison in float64 inside the conversion loop ran at 0.7 ns a
    value, as slow as NumPy's separate passes.

    Parameters
    ----------
    stack
        ``(n, h, w)`` integers as read.
    nodata, check_nodata
        The nodata value as an integer of ``stack``'s type, and whether to look for it
        (False when there is none, or when it is no value of that type: nothing equals it).
    floats
        ``(n, h, w)`` float32; written.
    valid
        ``(h, w)`` bool; pixels holding ``nodata`` in any plane are set False, others left.
    """
    n, h, w = stack.shape
    for i in range(n):
        for y in range(h):
            src = stack[i, y]
            dst = floats[i, y]
            for x in range(w):
                dst[x] = np.float32(src[x])
    if check_nodata:
        for i in range(n):
            for y in range(h):
                src = stack[i, y]
                ok = valid[y]
                for x in range(w):
                    ok[x] = ok[x] & (src[x] != nodata)
