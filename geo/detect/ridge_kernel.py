"""Compiled kernels of the detector's inner loops: ridge filter, block sums, box means.

The oriented ridge filter (:func:`geo.detect.evidence.ridge_response_padded`) is most of the
detector's arithmetic: per pixel and orientation, the mean of a digital line of ``length_px``
pixels and two parallel flank lines. A line's pixels fall into runs of neighbours along one
step (:func:`geo.detect.evidence.line_runs`), whose sums are tables shared by every pixel;
NumPy does it as one array addition per table and run
(:func:`geo.detect.evidence.ridge_response_reference`), paying a call and a pass over a
temporary array each time. :func:`ridge_kernel`, compiled by Numba, makes the same float32
additions in the same order, row by row in the cache. The block sums of the
coarse screen (:func:`block_sums_kernel`) and the box means of the local z-scores
(:func:`box_mean_kernel`, SciPy's ``uniform_filter``) are done the same way, and so is the
tracing of orientation-consistent ridges (:func:`orientation_components`, which replaced 16
``scipy.ndimage.label`` calls per group of thinned pixels: 34,000 calls on the benchmark
tile). The coarse screen (:mod:`geo.detect.screen`) has its own: the block sums of the log
bands straight from a uint8/uint16 stack with the log from a table
(:func:`log_block_sums_kernel`, 3x faster than a float log and sums per band), the z-score
arithmetic of its evidence (:func:`coarse_evidence_kernel`, 5x faster than NumPy's passes), the
box means of a stack of planes (:func:`box_means_kernel`) and the 3 x 3 maximum test of its
response (:func:`near_hits_kernel`). Each gives results equal to the bit to its NumPy or SciPy
definition (``tests/geo/test_ridge_kernel.py``), so the candidates do not change. None uses
fast-math: the float32 operations are those of the definition, in its order.

The compiled code is cached beside this file (``__pycache__``), so only the first process
after an install compiles it (a few seconds); Numba is imported only when a kernel first runs,
and :func:`warm_up` loads every kernel at once (Dask workers call it at start-up).
"""

from __future__ import annotations

import numba
import numpy as np

from geo.kernel_cache import ensure_fresh

ensure_fresh()  # Numba keys caches by their own file: drop them when any kernel changed


@numba.njit(cache=True, nogil=True, boundscheck=False, inline="always")
def _np_maximum(a: np.float32, b: np.float32) -> np.float32:
    """``np.maximum`` of two float32 scalars: NaN when either is NaN.

    One select (``|``, not ``or`` or early returns), so a loop using it can vectorise
    (with ``evidence_kernel.water_mask``'s ``&``, that loop 3.7x faster on a 1024-px
    window, measured 2026-12-06). :func:`_maximum` is the cheaper form for a ``b`` that is
    never NaN.
    """
    return a if (a >= b) | (a != a) else b


@numba.njit(cache=True, nogil=True, boundscheck=False, inline="always")
def _np_minimum(a: np.float32, b: np.float32) -> np.float32:
    """``np.minimum`` of two float32 scalars: NaN when either is NaN (one select)."""
    return a if (a <= b) | (a != a) else b


@numba.njit(cache=True, nogil=True, boundscheck=False)
def ridge_kernel(padded: np.ndarray, steps: np.ndarray, runs: np.ndarray, n_runs: np.ndarray,
                 tables: np.ndarray, n_tables: np.ndarray, scales: np.ndarray,
                 flanks: np.ndarray, half: int, pad: int, best: np.ndarray, arg: np.ndarray,
                 acc: np.ndarray, made: np.ndarray) -> None:
    """Fill ``best`` (float32 z units) and ``arg`` (int16 orientation) in place.

    Parameters
    ----------
    padded
        C-contiguous float32 evidence: the block plus ``half + pad`` pixels on every side.
    steps, runs, n_runs, tables, n_tables, scales, flanks
        The plan of :func:`geo.detect.evidence._ridge_plan` (its fields' notes).
    best, arg
        Output, block-sized: start at -inf and 0.
    acc
        Scratch, ``(h + 2 pad) x (w + 2 pad)`` float32: one orientation's line means.
    made
        Scratch, ``(most tables, padded rows, padded columns)`` float32: ``made[0]`` the
        evidence, the others the run-sum tables of the current step, each filled only over
        the rows and columns its plan gives.
    """
    h, w = best.shape
    hp = h + 2 * pad
    wp = w + 2 * pad
    for q in range(padded.shape[0]):
        made[0, q] = padded[q]
    for k in range(steps.shape[0]):
        dr = steps[k, 0]
        dc = steps[k, 1]
        for t in range(1, n_tables[k]):  # this step's tables, shorter ones first
            ia = tables[k, t, 0]
            ib = tables[k, t, 1]
            a = tables[k, t, 2]
            c0 = half + tables[k, t, 5]
            n_c = wp + tables[k, t, 6] - tables[k, t, 5]
            for q in range(half + tables[k, t, 3], half + hp + tables[k, t, 4]):
                x = made[ia, q, c0:c0 + n_c]
                y = made[ib, q + a * dr, c0 + a * dc:c0 + a * dc + n_c]
                out = made[t, q, c0:c0 + n_c]
                for c in range(n_c):
                    out[c] = x[c] + y[c]
        scale = scales[k]
        n_m = n_runs[k]
        for i in range(hp):
            row = acc[i]
            # four runs per pass over the row (``row + a + b + c + d`` adds left to right,
            # the order of four separate passes, with a quarter of the loads and stores of
            # ``row``); the first four set the row instead of adding to zeros
            if n_m >= 4:
                s0 = _run_row(made, runs, k, 0, half + i, half, wp)
                s1 = _run_row(made, runs, k, 1, half + i, half, wp)
                s2 = _run_row(made, runs, k, 2, half + i, half, wp)
                s3 = _run_row(made, runs, k, 3, half + i, half, wp)
                for j in range(wp):
                    row[j] = s0[j] + s1[j] + s2[j] + s3[j]
                m = 4
            else:
                s0 = _run_row(made, runs, k, 0, half + i, half, wp)
                for j in range(wp):
                    row[j] = s0[j]
                m = 1
            while m + 4 <= n_m:
                s0 = _run_row(made, runs, k, m, half + i, half, wp)
                s1 = _run_row(made, runs, k, m + 1, half + i, half, wp)
                s2 = _run_row(made, runs, k, m + 2, half + i, half, wp)
                s3 = _run_row(made, runs, k, m + 3, half + i, half, wp)
                for j in range(wp):
                    row[j] = row[j] + s0[j] + s1[j] + s2[j] + s3[j]
                m += 4
            while m < n_m:
                s0 = _run_row(made, runs, k, m, half + i, half, wp)
                for j in range(wp):
                    row[j] += s0[j]
                m += 1
            for j in range(wp):
                row[j] *= scale
        kk = np.int16(k)
        for f in range(flanks.shape[1]):
            fr = flanks[k, f, 0]
            fc = flanks[k, f, 1]
            for i in range(h):
                cen = acc[pad + i, pad:pad + w]
                lft = acc[pad + fr + i, pad + fc:pad + fc + w]
                rgt = acc[pad - fr + i, pad - fc:pad - fc + w]
                b = best[i]
                ag = arg[i]
                for j in range(w):
                    lv = lft[j]
                    rv = rgt[j]
                    # np.maximum: NaN if either is NaN; ``|``, not ``or``: no branch
                    side = lv if (lv >= rv) | (lv != lv) else rv
                    resp = cen[j] - side
                    old = b[j]
                    better = resp > old
                    b[j] = resp if better else old
                    # the orientation by arithmetic, not ``if better: a[j] = kk``: that
                    # branch goes either way at random, and mispredicted it made this
                    # loop half of the filter's time (2.9 ns a pixel and orientation
                    # against 0.9-1.5, measured 2026-12-06)
                    ag[j] = np.int16(ag[j] + (kk - ag[j]) * np.int16(better))


@numba.njit(cache=True, nogil=True, boundscheck=False, inline="always")
def _run_row(made: np.ndarray, runs: np.ndarray, k: int, m: int, row: int, col: int,
             width: int) -> np.ndarray:
    """Run ``m`` of orientation ``k``'s sums along block row ``row - half``: ``width`` values."""
    r = row + runs[k, m, 0]
    c = col + runs[k, m, 1]
    return made[runs[k, m, 2], r, c:c + width]


@numba.njit(cache=True, nogil=True, boundscheck=False)
def block_sums_kernel(values: np.ndarray, f: int, squares: bool) -> np.ndarray:
    """Sum of each ``f x f`` block of a float raster (and of its squares when asked).

    Returns ``(1 or 2, ceil(h / f), ceil(w / f))`` float32: the sums, then the sums of the
    squares. The additions are those of :func:`geo.detect.screen._block_sum_reference`, in
    its order: the ``f`` rows of a block column by column, then the ``f`` columns.
    """
    h, w = values.shape
    hb, wb = -(-h // f), -(-w // f)
    out = np.empty((2 if squares else 1, hb, wb), dtype=np.float32)
    rows = np.empty((2, w), dtype=np.float32)
    for bi in range(hb):
        r0 = bi * f
        for c in range(w):
            x = values[r0, c]
            rows[0, c] = x
            rows[1, c] = x * x
        for k in range(1, min(f, h - r0)):
            src = values[r0 + k]
            for c in range(w):
                x = src[c]
                rows[0, c] += x
                rows[1, c] += x * x
        for n in range(2 if squares else 1):
            r = rows[n]
            o = out[n, bi]
            for bj in range(wb):
                c0 = bj * f
                s = r[c0]
                for k in range(1, min(f, w - c0)):
                    s += r[c0 + k]
                o[bj] = s
    return out


@numba.njit(cache=True, nogil=True, boundscheck=False)
def log_block_sums_kernel(raw: np.ndarray, log_planes: np.ndarray, sum_planes: np.ndarray,
                          table: np.ndarray, invalid: np.ndarray, f: int) -> np.ndarray:
    """Block sums of the screen from an unsigned integer stack, in one pass over its planes.

    Parameters
    ----------
    raw
        C-contiguous ``(n, h, w)`` uint8 or uint16 stack of bands as read.
    log_planes
        Planes whose log is summed: for each, the block sums of ``table[v]`` (0 where
        ``invalid``) and of its square.
    sum_planes
        Planes whose values are summed as they are (float32, ``invalid`` ignored).
    table
        Float32 ``log(max(v, 1))`` of every value ``v`` of the type (``table[0]`` is 0).
    invalid
        ``(h, w)`` bool mask, or ``(0, 0)`` when every pixel is valid.
    f
        Block size (pixels).

    Returns
    -------
    numpy.ndarray
        ``(2 * len(log_planes) + len(sum_planes) [+ 1], ceil(h / f), ceil(w / f))`` float32:
        the log sums of each log plane, then their sums of squares, then the plain sums,
        then (only with a mask) the number of valid pixels of each block. Each is
        :func:`block_sums_kernel` of the float32 plane it stands for (the log values with 0
        where invalid, ``v.astype(np.float32)``, ``valid.astype(np.float32)``): the same
        float32 additions in the same order, so equal to it to the bit.
    """
    _, h, w = raw.shape
    hb, wb = -(-h // f), -(-w // f)
    nl, ns = log_planes.shape[0], sum_planes.shape[0]
    masked = invalid.shape[0] > 0
    n_out = 2 * nl + ns + (1 if masked else 0)
    out = np.empty((n_out, hb, wb), dtype=np.float32)
    rows = np.empty((n_out, w), dtype=np.float32)  # column sums over a block's rows
    x = np.empty(w, dtype=np.float32)  # the log values of one row of one plane
    for bi in range(hb):
        r0 = bi * f
        for k in range(min(f, h - r0)):
            r = r0 + k
            for b in range(nl):
                src = raw[log_planes[b], r]
                for c in range(w):
                    x[c] = table[src[c]]
                if masked:
                    inv = invalid[r]
                    for c in range(w):
                        x[c] = np.float32(0.0) if inv[c] else x[c]
                acc = rows[b]
                sq = rows[nl + b]
                if k == 0:
                    for c in range(w):
                        acc[c] = x[c]
                        sq[c] = x[c] * x[c]
                else:
                    for c in range(w):
                        acc[c] += x[c]
                        sq[c] += x[c] * x[c]
            for b in range(ns):
                src = raw[sum_planes[b], r]
                acc = rows[2 * nl + b]
                if k == 0:
                    for c in range(w):
                        acc[c] = np.float32(src[c])
                else:
                    for c in range(w):
                        acc[c] += np.float32(src[c])
            if masked:
                inv = invalid[r]
                acc = rows[n_out - 1]
                if k == 0:
                    for c in range(w):
                        acc[c] = np.float32(0.0) if inv[c] else np.float32(1.0)
                else:
                    for c in range(w):
                        acc[c] += np.float32(0.0) if inv[c] else np.float32(1.0)
        for n in range(n_out):
            _add_columns(rows[n], out[n, bi], f)
    return out


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _add_columns(row: np.ndarray, out: np.ndarray, f: int) -> None:
    """Sum of each ``f`` consecutive values of ``row`` (the last ones may be fewer), float32.

    Added left to right, as :func:`block_sums_kernel` adds a block's columns; written out
    for ``f`` = 2 and 3 so the compiler vectorises the loop (a loop over a block's columns
    of unknown length costs a mispredicted branch per block, 10x slower).
    """
    w = row.shape[0]
    full = w // f
    if f == 2:
        for j in range(full):
            s = row[2 * j]
            s += row[2 * j + 1]
            out[j] = s
    elif f == 3:
        for j in range(full):
            s = row[3 * j]
            s += row[3 * j + 1]
            s += row[3 * j + 2]
            out[j] = s
    else:
        for j in range(full):
            out[j] = row[j * f]
        for k in range(1, f):
            for j in range(full):
                out[j] += row[j * f + k]
    if full < out.shape[0]:  # a partial block at the right edge
        s = row[full * f]
        for c in range(full * f + 1, w):
            s += row[c]
        out[full] = s


@numba.njit(cache=True, nogil=True, boundscheck=False)
def coarse_evidence_kernel(sums: np.ndarray, boxes: np.ndarray, n_bands: int,
                           cnt: np.ndarray, box_cnt: np.ndarray, green: np.ndarray,
                           nir: np.ndarray, water: np.float32) -> np.ndarray:
    """Coarse evidence of the screen (float32 z units) from its block sums and box means.

    Parameters
    ----------
    sums
        ``(>= 2 n_bands, hb, wb)`` float32: the block sums of each band's log, then of the
        squares (see :func:`log_block_sums_kernel`).
    boxes
        ``(2 n_bands, hb, wb)`` float32 box means of those ``2 n_bands`` planes.
    cnt, box_cnt
        Valid pixels per block (float32) and their box mean.
    green, nir
        Block sums of the green and NIR bands, or ``(0, 0)`` arrays (no water rule).
    water
        NDWI above which a block gets no positive evidence (compared in float32).

    Returns
    -------
    numpy.ndarray
        ``(hb, wb)`` float32, equal to the bit to the NumPy arithmetic of
        :func:`geo.detect.screen._coarse_evidence_reference`: the same float32 operations
        in the same order per pixel (bands added in order), the maxima and minima
        propagating NaN as ``np.maximum``, ``np.minimum`` and ``np.clip`` do.
    """
    eps = np.float32(1e-6)
    floor = np.float32(0.02)
    zero = np.float32(0.0)
    lo, hi = np.float32(-3.0), np.float32(5.0)
    n = np.float32(max(n_bands, 1))
    hb, wb = cnt.shape
    has_water = green.shape[0] > 0
    out = np.empty((hb, wb), dtype=np.float32)
    total = np.empty(wb, dtype=np.float32)
    for i in range(hb):
        bc = box_cnt[i]
        cn = cnt[i]
        for j in range(wb):
            total[j] = zero
        for b in range(n_bands):
            s1 = sums[b, i]
            b1 = boxes[b, i]
            b2 = boxes[n_bands + b, i]
            for j in range(wb):
                den = _maximum(bc[j], eps)
                mean = b1[j] / den
                std = np.sqrt(_maximum(b2[j] / den - mean * mean, zero))
                total[j] += (s1[j] / _maximum(cn[j], eps) - mean) / _maximum(std, floor)
        o = out[i]
        for j in range(wb):
            ev = _minimum(_maximum(total[j] / n, lo), hi)
            if has_water:
                g = green[i, j]
                r = nir[i, j]
                if (g - r) / _maximum(g + r, eps) > water:
                    ev = _minimum(ev, zero)
            o[j] = ev if cn[j] > zero else zero
    return out


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _maximum(a: np.float32, b: np.float32) -> np.float32:
    """``np.maximum(a, b)`` for a ``b`` that is not NaN: ``a`` when NaN, ``b`` when equal.

    Written as one comparison (``not a <= b``) so loops of it vectorise.
    """
    return a if not a <= b else b


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _minimum(a: np.float32, b: np.float32) -> np.float32:
    """``np.minimum(a, b)`` for a ``b`` that is not NaN: ``a`` when NaN, ``b`` when equal."""
    return a if not a >= b else b


@numba.njit(cache=True, nogil=True, boundscheck=False)
def near_hits_kernel(values: np.ndarray, threshold: np.float32) -> np.ndarray:
    """Pixels with a value reaching ``threshold`` in their 3 x 3 box (nothing beyond edges).

    For values without NaN this is ``scipy.ndimage.maximum_filter(values, 3,
    mode="constant", cval=-np.inf) >= threshold`` (the box's maximum reaches it exactly
    when one of its values does), compared in float32: boolean ``(h, w)``.
    """
    h, w = values.shape
    hit = np.empty((h, w), dtype=np.bool_)
    for i in range(h):
        for j in range(w):
            hit[i, j] = values[i, j] >= threshold
    across = np.empty((h, w), dtype=np.bool_)  # a hit in the pixel or a side neighbour
    for i in range(h):
        r = hit[i]
        a = across[i]
        for j in range(w):
            a[j] = r[j]
        for j in range(1, w):
            a[j] = a[j] or r[j - 1]
        for j in range(w - 1):
            a[j] = a[j] or r[j + 1]
    out = across.copy()
    for i in range(1, h):
        o = out[i]
        up = across[i - 1]
        for j in range(w):
            o[j] = o[j] or up[j]
    for i in range(h - 1):
        o = out[i]
        down = across[i + 1]
        for j in range(w):
            o[j] = o[j] or down[j]
    return out


@numba.njit(cache=True, nogil=True, boundscheck=False)
def box_mean_kernel(values: np.ndarray, size: int) -> np.ndarray:
    """Mean of each ``size x size`` box, zeros beyond the edges, float32 (constant mode).

    The arithmetic of ``scipy.ndimage.uniform_filter(values, size, mode="constant")`` on
    float32, step for step: along the rows (axis 0) then along the columns, each a running
    sum in float64 over the line padded with zeros (the sum of the first ``size`` values,
    then ``+= entering - leaving``), each output that sum divided by ``size`` and rounded to
    float32, also between the two passes; equal to it to the bit
    (``tests/geo/test_ridge_kernel.py``).
    """
    out: np.ndarray = box_mean_rows_kernel(values, size, 0, values.shape[0])
    return out


@numba.njit(cache=True, nogil=True, boundscheck=False)
def box_mean_rows_kernel(values: np.ndarray, size: int, r0: int, r1: int) -> np.ndarray:
    """:func:`box_mean_kernel` of ``values``, made only in rows ``r0:r1`` of the result.

    Those rows equal the whole result's to the bit (the running sums down the columns still
    start at the first row); the others are left unset. For a box whose evidence is wanted
    only inside a margin (``evidence.compute_evidence``'s ``inner``).
    """
    out = np.empty(values.shape, dtype=np.float32)
    _box_mean_into(values, size, out, r0, r1)
    return out


@numba.njit(cache=True, nogil=True, boundscheck=False)
def box_means_kernel(planes: np.ndarray, size: int) -> np.ndarray:
    """:func:`box_mean_kernel` of each plane of a ``(n, h, w)`` float32 stack, in one call."""
    out = np.empty(planes.shape, dtype=np.float32)
    for p in range(planes.shape[0]):
        _box_mean_into(planes[p], size, out[p], 0, planes.shape[1])
    return out


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _box_mean_into(values: np.ndarray, size: int, out: np.ndarray, r0: int, r1: int) -> None:
    """Fill rows ``r0:r1`` of ``out`` with :func:`box_mean_kernel` of ``values``."""
    h, w = values.shape
    s1 = size // 2
    n = np.float64(size)
    mid = np.empty((h, w), dtype=np.float32)
    tmp = np.zeros(w, dtype=np.float64)
    # axis 0: every column is a line; the columns advance together, row by row
    for ll in range(size):
        r = ll - s1
        if 0 <= r < h:
            for c in range(w):
                tmp[c] += np.float64(values[r, c])
    for c in range(w):
        mid[0, c] = np.float32(tmp[c] / n)
    for i in range(1, r1):  # rows below r1 are not wanted; the sums start at row 0 still
        r_in, r_out = i - 1 + size - s1, i - 1 - s1
        for c in range(w):
            x_in = np.float64(values[r_in, c]) if r_in < h else 0.0
            x_out = np.float64(values[r_out, c]) if r_out >= 0 else 0.0
            tmp[c] += x_in - x_out
            mid[i, c] = np.float32(tmp[c] / n)
    # axis 1: every row is a line
    _row_means_into(mid, size, out, r0, r1)


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _row_means_into(mid: np.ndarray, size: int, out: np.ndarray, r0: int, r1: int) -> None:
    """Rows ``r0:r1`` of ``out``: the running means along each row of ``mid`` (axis 1).

    Per row, SciPy's arithmetic: the sum of the first ``size`` values (zeros beyond the
    edges), then ``t += entering - leaving``, each output ``float32(t / size)``. The sums go
    into a float64 buffer first, four rows' chains interleaved where no value is beyond an
    edge, and the divisions then run over the buffer: a division per value in the sums'
    loop bounded it (about 1.1 ns a value; 0.7 so, measured 2026-12-07), the same bits.
    """
    w = mid.shape[1]
    if w == 0 or r1 <= r0:
        return
    s1 = size // 2
    n = np.float64(size)
    j0 = min(s1 + 1, w)  # from j0 on, the leaving value is inside the row
    j1 = max(w - size + s1 + 1, j0)  # before j1, the entering value is inside it too
    buf = np.empty((4, w), dtype=np.float64)
    i = r0
    while i < r1:
        k = min(4, r1 - i)
        for q in range(k):  # the first sum, and the values whose leaving one is beyond
            row = mid[i + q]
            b = buf[q]
            t = 0.0
            for ll in range(size):
                c = ll - s1
                if 0 <= c < w:
                    t += np.float64(row[c])
            b[0] = t
            for j in range(1, j0):
                c_in, c_out = j - 1 + size - s1, j - 1 - s1
                x_in = np.float64(row[c_in]) if c_in < w else 0.0
                x_out = np.float64(row[c_out]) if c_out >= 0 else 0.0
                t += x_in - x_out
                b[j] = t
        if k == 4:  # four independent chains
            ra, rb, rc, rd = mid[i], mid[i + 1], mid[i + 2], mid[i + 3]
            ba, bb, bc, bd = buf[0], buf[1], buf[2], buf[3]
            ta, tb, tc, td = ba[j0 - 1], bb[j0 - 1], bc[j0 - 1], bd[j0 - 1]
            for j in range(j0, j1):
                ci, co = j - 1 + size - s1, j - 1 - s1
                ta += np.float64(ra[ci]) - np.float64(ra[co])
                tb += np.float64(rb[ci]) - np.float64(rb[co])
                tc += np.float64(rc[ci]) - np.float64(rc[co])
                td += np.float64(rd[ci]) - np.float64(rd[co])
                ba[j] = ta
                bb[j] = tb
                bc[j] = tc
                bd[j] = td
        else:
            for q in range(k):
                row = mid[i + q]
                b = buf[q]
                t = b[j0 - 1]
                for j in range(j0, j1):
                    t += np.float64(row[j - 1 + size - s1]) - np.float64(row[j - 1 - s1])
                    b[j] = t
        for q in range(k):  # the values whose entering one is beyond, then the divisions
            row = mid[i + q]
            b = buf[q]
            t = b[j1 - 1]
            for j in range(j1, w):
                c_in, c_out = j - 1 + size - s1, j - 1 - s1
                x_in = np.float64(row[c_in]) if c_in < w else 0.0
                x_out = np.float64(row[c_out]) if c_out >= 0 else 0.0
                t += x_in - x_out
                b[j] = t
            o = out[i + q]
            for j in range(w):
                o[j] = np.float32(b[j] / n)
        i += k


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _root(parent: np.ndarray, k: int) -> int:
    """Union-find root of ``k``, halving the path on the way."""
    while parent[k] != k:
        parent[k] = parent[parent[k]]
        k = parent[k]
    return k


@numba.njit(cache=True, nogil=True, boundscheck=False)
def pixel_groups(rows: np.ndarray, cols: np.ndarray, ridge: np.ndarray,
                 line_threshold: np.float32, min_pixels: float
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Find the 8-connected groups of a sparse set of pixels that could hold a ridge.

    ``rows`` and ``cols`` list the pixels in raster order (``np.nonzero``'s). A group is kept
    when its peak ``ridge`` (NaN-propagating maximum, compared in float32) reaches
    ``line_threshold`` and it holds at least ``min_pixels`` pixels. What
    ``window._worthy_groups_reference`` gets from ``scipy.ndimage.label`` and
    ``find_objects`` on a mask of the pixels' bounding box, without making that mask.

    Returns
    -------
    (label, kept, boxes)
        Each pixel's group (1, 2, ... by the group's first pixel in raster order, as SciPy
        numbers them), the kept groups' numbers in that order, and their boxes
        (row0, row1, col0, col1, half-open), one row per kept group.
    """
    n = rows.size
    parent = np.arange(n)
    prev_lo, prev_hi = 0, 0  # the previous row's pixels, when it is the row just above
    row_start = 0
    for k in range(n):
        r, c = rows[k], cols[k]
        if k > 0 and r != rows[k - 1]:
            prev_lo, prev_hi = (row_start, k) if r == rows[k - 1] + 1 else (k, k)
            row_start = k
        if k > row_start and cols[k - 1] == c - 1:  # left neighbour
            a, b = _root(parent, k - 1), _root(parent, k)
            parent[max(a, b)] = min(a, b)
        q = prev_lo
        while q < prev_hi and cols[q] < c - 1:
            q += 1
        prev_lo = q  # later pixels of this row lie further right
        while q < prev_hi and cols[q] <= c + 1:  # the three above
            a, b = _root(parent, q), _root(parent, k)
            parent[max(a, b)] = min(a, b)
            q += 1
    label = np.zeros(n, dtype=np.int64)
    number = np.zeros(n, dtype=np.int64)  # by root; roots are their group's first pixel
    count = 0
    for k in range(n):
        g = _root(parent, k)
        if number[g] == 0:
            count += 1
            number[g] = count
        label[k] = number[g]
    peak = np.full(count + 1, -np.inf, dtype=ridge.dtype)
    size = np.zeros(count + 1, dtype=np.int64)
    box = np.empty((count + 1, 4), dtype=np.int64)
    big = max(rows.max(), cols.max()) + 1 if n else 0
    for g in range(count + 1):
        box[g, 0], box[g, 1], box[g, 2], box[g, 3] = big, -1, big, -1
    for k in range(n):
        g = label[k]
        v, old = ridge[rows[k], cols[k]], peak[g]
        peak[g] = _np_maximum(old, v)
        size[g] += 1
        box[g, 0] = min(box[g, 0], rows[k])
        box[g, 1] = max(box[g, 1], rows[k] + 1)
        box[g, 2] = min(box[g, 2], cols[k])
        box[g, 3] = max(box[g, 3], cols[k] + 1)
    kept = np.empty(count, dtype=np.int64)
    m = 0
    for g in range(1, count + 1):
        if peak[g] >= line_threshold and size[g] >= min_pixels:
            kept[m] = g
            m += 1
    return label, kept[:m], box[kept[:m]]


@numba.njit(cache=True, nogil=True, boundscheck=False)
def orientation_components(thin: np.ndarray, ridge: np.ndarray, orient: np.ndarray,
                           n: int, line_threshold: np.float32, min_pixels: float
                           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Orientation-consistent ridges of a thinned mask (see ``window._label_ridges``).

    For each orientation ``k``: the 8-connected groups of ``thin`` pixels whose orientation
    is ``k`` or a neighbour of it (modulo ``n``), kept when their peak ``ridge`` reaches
    ``line_threshold`` (compared in float32, as NumPy compares a float32 array with a
    Python float), a third of their pixels have orientation ``k``, they hold at least
    ``min_pixels`` pixels, and ``k`` is their most common orientation (ties: the lowest).

    Returns
    -------
    (orientations, strengths, starts, pixels)
        Per kept group, in the order of ``k`` then of the group's first pixel in raster
        order: its orientation, its strength (peak times the square root of its pixel
        count, float64) and where its pixels start in ``pixels``; ``pixels`` holds each
        group's flat indices (row * width + col) in raster order, ``starts`` ends with
        their total.
    """
    h, w = thin.shape
    members = 0
    for i in range(h):
        for j in range(w):
            if thin[i, j]:
                members += 1
    seen = np.zeros((h, w), dtype=np.int32)  # the last orientation (+1) that took a pixel
    stack = np.empty(members, dtype=np.int64)
    pixels = np.empty(3 * members, dtype=np.int64)  # a pixel is near 3 orientations at most
    orients = np.empty(3 * members + 1, dtype=np.int64)
    strengths = np.empty(3 * members + 1, dtype=np.float64)
    starts = np.empty(3 * members + 2, dtype=np.int64)
    counts = np.zeros(n, dtype=np.int64)
    n_out, n_pix = 0, 0
    for k in range(n):
        lo, hi = (k - 1) % n, (k + 1) % n
        for i0 in range(h):
            for j0 in range(w):
                if not thin[i0, j0] or seen[i0, j0] == k + 1:
                    continue
                o = orient[i0, j0]
                if o not in (k, lo, hi):
                    continue
                # flood the group from its first pixel in raster order
                seen[i0, j0] = k + 1
                stack[0] = i0 * w + j0
                top = 1
                first = n_pix
                peak = np.float32(-np.inf)
                counts[:] = 0
                while top:
                    top -= 1
                    p = stack[top]
                    pixels[n_pix] = p
                    n_pix += 1
                    r, c = p // w, p % w
                    if ridge[r, c] > peak:
                        peak = ridge[r, c]
                    counts[orient[r, c]] += 1
                    for dr in range(-1, 2):
                        rr = r + dr
                        if rr < 0 or rr >= h:
                            continue
                        for dc in range(-1, 2):
                            cc = c + dc
                            if cc < 0 or cc >= w or not thin[rr, cc] or seen[rr, cc] == k + 1:
                                continue
                            oo = orient[rr, cc]
                            if oo in (k, lo, hi):
                                seen[rr, cc] = k + 1
                                stack[top] = rr * w + cc
                                top += 1
                size = n_pix - first
                best = 0
                for q in range(1, n):
                    if counts[q] > counts[best]:
                        best = q
                if (peak >= line_threshold and counts[k] * 3 >= size and size >= min_pixels
                        and best == k):
                    pixels[first:n_pix] = np.sort(pixels[first:n_pix])
                    orients[n_out] = k
                    strengths[n_out] = np.float64(peak) * np.sqrt(np.float64(size))
                    starts[n_out] = first
                    n_out += 1
                else:
                    n_pix = first  # not kept: its pixels are overwritten
    starts[n_out] = n_pix
    return orients[:n_out], strengths[:n_out], starts[:n_out + 1], pixels[:n_pix]


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _ridge_scan(ridge: np.ndarray, valid: np.ndarray, blocks: np.ndarray, b: int,
                threshold: np.float32, rows: np.ndarray, cols: np.ndarray) -> int:
    """Count the pixels :func:`ridge_pixels_kernel` keeps; store them when ``rows`` has room."""
    h, w = ridge.shape
    fill = rows.size > 0
    k = 0
    for i in range(h):
        row, ok, marked = ridge[i], valid[i], blocks[i // b]
        for bj in range(blocks.shape[1]):
            if marked[bj]:
                for j in range(bj * b, min(bj * b + b, w)):
                    if row[j] >= threshold and ok[j]:
                        if fill:
                            rows[k] = i
                            cols[k] = j
                        k += 1
    return k


@numba.njit(cache=True, nogil=True, boundscheck=False)
def ridge_pixels_kernel(ridge: np.ndarray, valid: np.ndarray, blocks: np.ndarray, b: int,
                        threshold: np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the valid pixels of marked blocks whose ridge reaches ``threshold``.

    ``np.nonzero((ridge >= threshold) & valid & block_mask)`` in raster order (row by row),
    where ``block_mask`` repeats ``blocks`` (``b`` px square) over the raster; the
    comparison in float32, as NumPy compares a float32 array with a Python float. Looks
    only inside the marked blocks, without window-sized masks: one scan counts, a second
    fills arrays of that size.
    """
    none = np.empty(0, dtype=np.intp)
    n = _ridge_scan(ridge, valid, blocks, b, threshold, none, none)
    rows = np.empty(n, dtype=np.intp)
    cols = np.empty(n, dtype=np.intp)
    if n:
        _ridge_scan(ridge, valid, blocks, b, threshold, rows, cols)
    return rows, cols


def warm_up() -> None:
    """Load (or compile) every kernel for the argument types the detector passes."""
    from geo.detect.evidence import (
        box_mean,
        ridge_response,
        zscore_total,
        zscore_total_stored,
    )
    from geo.detect.screen import block_sums, coarse_evidence, coarse_sums, near_hits

    tiny = np.zeros((4, 4), dtype=np.float32)
    ridge_response(tiny, length_px=3, n_orientations=1, flank_px=(1,))
    box_mean(tiny, 3)
    zscore_total({"red": tiny}, tiny == 0, size_px=3)
    for dtype in (np.uint8, np.uint16):  # a box of a stack's plane: whole rows or not
        plane = np.zeros((5, 5), dtype=dtype)
        for part in (plane[1:, :4], plane[1:]):
            zscore_total_stored({"red": part}, np.ones(part.shape, dtype=bool), size_px=3)
    from geo.detect.sample_kernel import axis_cells, axis_spread, bilinear_nearest

    bilinear_nearest(tiny, np.zeros(1), np.zeros(1))
    axis_cells(1.0, 1.0, 0.6, 0.8, np.zeros(1), np.zeros(1), 4, 4)
    axis_spread(np.zeros(3), np.zeros(3), 1.0)
    block_sums(tiny, 2, squares=True)
    bands = dict.fromkeys(("green", "red", "nir"), tiny)
    planes = (("green", 0), ("red", 1), ("nir", 2))
    valid = tiny == 0
    for dtype in (np.uint8, np.uint16):  # the screen's sums of integer rasters, then a mask
        for v in (valid, valid & (np.arange(4) > 0)):
            sums = coarse_sums(bands, v, 2, raw=np.zeros((3, 4, 4), dtype=dtype),
                               raw_planes=planes)
            coarse_evidence(sums, 3, ndwi_water=0.0)
    near_hits(tiny, 1.0)
    ridge_pixels_kernel(tiny, tiny == 0, np.ones((2, 2), dtype=bool), 2, np.float32(0.5))
    for cols in (np.s_[:], np.s_[:3]):  # a whole window's layers, or a box of them
        orientation_components(tiny[:, cols] > 0, tiny[:, cols],
                               np.zeros((4, 4), dtype=np.int16)[:, cols], 16, np.float32(0.9),
                               1.0)
    pixel_groups(np.zeros(2, dtype=np.int64), np.arange(2), tiny, np.float32(0.9), 1.0)
    from geo.detect.evidence_kernel import shore_pixels, water_mask
    from geo.tiffblocks_kernel import nodata_valid, unpack_tile

    f32 = np.float32
    water_mask(tiny, tiny, valid, f32(1e-6), f32(0.1), valid.copy())
    shore_pixels(valid, 16)
    for dtype in (np.uint8, np.uint16):  # reading tiles and windows of integer rasters
        ints = np.zeros((1, 4, 4), dtype=dtype)
        unpack_tile(ints.reshape(4, 4, 1), np.zeros(1, dtype=np.int64), True, ints.copy())
        nodata_valid(ints, 0, valid.copy())
        water_mask(ints[0], ints[0], valid, f32(1e-6), f32(0.1), valid.copy())
    from geo.detect.evidence import compute_evidence
    from geo.detect.params import DetectionParams
    from geo.detect.window import _CONTRAST_LAYERS, measure_profile

    for kind in (np.uint8, np.uint16, np.float32):  # the evidence's last pass, water or not
        band = np.ones((4, 4), dtype=kind)
        compute_evidence(dict.fromkeys(("green", "red", "nir"), band), valid, res_m=10.0,
                         params=DetectionParams())

    lay = dict.fromkeys(("evidence", "polarity", "brightness", "ridge", *_CONTRAST_LAYERS), tiny)
    measure_profile(lay, valid, centre_rc=(1.5, 1.5), axis_rc=(0.6, 0.8), length_px=3.0,
                    flank_px=1, extension_px=3)
