"""Compiled measurement of a traced ridge across and along its axis (``window.measure_profile``).

:func:`geo.detect.window.measure_profile_reference` is the definition: a few dozen NumPy calls
on arrays of a few hundred samples (the grid of points across the axis, bilinear samples of
a dozen layers, means, a percentile, a smoothing, the rays beyond each end). On the benchmark
tile it measured 827 ridges at about 1 ms each, nearly all of it NumPy's cost per call.
:func:`profile_kernel` makes the same float operations in the same order, NumPy's own
reductions included:

- a float32 mean is NumPy's pairwise sum (:func:`_pairwise32`: eight accumulators up to 128
  values, halves beyond), divided by the count in float64 and rounded to float32;
- a mean over the first axis of a 2-d float32 array adds its rows one after the other;
- the mean of ``v[:, mask]`` (a Fortran-ordered copy) sums it column by column;
- percentiles and medians are NumPy's "linear" interpolation in float32;
- ``uniform_filter1d(x, 5, mode="nearest")`` is SciPy's running float64 sum;
- every bilinear sample is :func:`geo.detect.sample_kernel.bilinear_at`;
- cosines and sines come from NumPy (passed in), not from the compiled code's libm.

So the features are equal to the bit to the reference's (``tests/geo/test_profile_kernel.py``)
and the candidates do not change.
"""

from __future__ import annotations

import numba
import numpy as np

from geo.detect.ridge_kernel import _np_maximum, _np_minimum
from geo.detect.sample_kernel import bilinear_at
from geo.kernel_cache import ensure_fresh

ensure_fresh()  # Numba keys caches by their own file: drop them when any kernel changed

_F32 = np.float32
#: The result's head, in :func:`profile_kernel`'s order.
HEAD = ("centre_r", "centre_c", "length_px", "width_px", "evidence", "evidence_std",
        "flank_max", "contrast", "frac_on", "in_frac", "polarity", "extension", "through",
        "water_dist_m", "ridge_mean", "ridge_max")


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _block32(a: np.ndarray, lo: int, n: int) -> np.float32:
    """NumPy's float32 sum of ``a[lo:lo + n]``, ``n <= 128``: eight accumulators, then the rest."""
    res: np.float32 = _F32(-0.0)
    if n < 8:
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    m = n - n % 8
    while i < m:
        r0 += a[lo + i]
        r1 += a[lo + i + 1]
        r2 += a[lo + i + 2]
        r3 += a[lo + i + 3]
        r4 += a[lo + i + 4]
        r5 += a[lo + i + 5]
        r6 += a[lo + i + 6]
        r7 += a[lo + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _pairwise32(a: np.ndarray, lo: int, n: int) -> np.float32:
    """NumPy's pairwise float32 sum of ``a[lo:lo + n]`` (``pairwise_sum_FLOAT``), to the bit.

    Up to 128 values :func:`_block32`; beyond, the sum of the two halves (the first a
    multiple of 8), each summed so. NumPy recurses; this walks the same tree with a stack
    (Numba's cache cannot load a recursive function).
    """
    if n <= 128:
        return _block32(a, lo, n)
    f_lo = np.empty(128, dtype=np.int64)  # frames: start, count, and 1 once both halves are in
    f_n = np.empty(128, dtype=np.int64)
    f_join = np.empty(128, dtype=np.bool_)
    vals = np.empty(128, dtype=np.float32)
    nf, nv = 1, 0
    f_lo[0], f_n[0], f_join[0] = lo, n, False
    while nf:
        nf -= 1
        s, c, join = f_lo[nf], f_n[nf], f_join[nf]
        if join:
            vals[nv - 2] = vals[nv - 2] + vals[nv - 1]
            nv -= 1
        elif c <= 128:
            vals[nv] = _block32(a, s, c)
            nv += 1
        else:
            h = c // 2
            h -= h % 8
            f_lo[nf], f_n[nf], f_join[nf] = s, c, True
            f_lo[nf + 1], f_n[nf + 1], f_join[nf + 1] = s + h, c - h, False
            f_lo[nf + 2], f_n[nf + 2], f_join[nf + 2] = s, h, False
            nf += 3
    total: np.float32 = vals[0]
    return total


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _mean32(a: np.ndarray) -> np.float32:
    """``a.mean()`` of a 1-d float32 array (NaN when empty, as NumPy)."""
    return _F32(np.float64(_pairwise32(a, 0, a.size)) / a.size)


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _std32(a: np.ndarray) -> np.float32:
    """``a.std()`` of a 1-d float32 array: NumPy's passes (mean, squared deviations, mean)."""
    m = _mean32(a)
    sq = np.empty(a.size, dtype=np.float32)
    for i in range(a.size):
        d = a[i] - m
        sq[i] = d * d
    out: np.float32 = np.sqrt(_mean32(sq))
    return out


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _quantile32(a: np.ndarray, q: float) -> np.float32:
    """``np.percentile(a, 100 * q)`` of a float32 array ("linear"), float32; NaN if any is."""
    n = a.size
    for i in range(n):
        if a[i] != a[i]:
            return _F32(np.nan)
    s = np.sort(a)
    v = (n - 1) * q
    i = int(np.floor(v))
    t = _F32(v - i)
    lo, hi = s[i], s[min(i + 1, n - 1)]
    d = hi - lo
    out: np.float32 = hi - d * (_F32(1.0) - t) if t >= 0.5 else lo + d * t
    return out


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _median_sign(a: np.ndarray) -> bool:
    """``float(np.median(a)) >= 0`` of a float32 array (False when a value is NaN)."""
    n = a.size
    for i in range(n):
        if a[i] != a[i]:
            return False
    s = np.sort(a)
    h = n // 2
    mid = s[h] if n % 2 else _F32((_F32(-0.0) + s[h - 1] + s[h]) / _F32(2.0))
    return bool(mid >= 0)


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _smooth5(x: np.ndarray) -> np.ndarray:
    """``scipy.ndimage.uniform_filter1d(x, 5, mode="nearest")`` of float32 ``x``, to the bit."""
    n = x.size
    out = np.empty(n, dtype=np.float32)
    size, s1 = 5, 2
    t = 0.0
    for k in range(size):
        t += np.float64(x[min(max(k - s1, 0), n - 1)])
    out[0] = _F32(t / size)
    for i in range(1, n):
        x_in = np.float64(x[min(i - 1 + size - s1, n - 1)])
        x_out = np.float64(x[max(i - 1 - s1, 0)])
        t += x_in - x_out
        out[i] = _F32(t / size)
    return out


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _steps(length_px: float, n: int) -> np.ndarray:
    """``np.linspace(-(length_px - 1) / 2, (length_px - 1) / 2, n)`` (n >= 2), to the bit."""
    start = -(length_px - 1) / 2
    stop = (length_px - 1) / 2
    div = n - 1
    delta = stop - start
    step = delta / div
    t = np.empty(n)
    for i in range(n):
        t[i] = (i / div) * delta + start if step == 0 else i * step + start
    t[n - 1] = stop
    return t


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _round_half_even(x: float) -> int:
    """Python's ``round(x)`` of a float."""
    r = np.floor(x)
    d = x - r
    if d > 0.5 or (d == 0.5 and r % 2 == 1):
        r += 1
    return int(r)


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _grid_samples(image: np.ndarray, cr: float, cc: float, ar: float, ac: float,
                  t: np.ndarray, across: np.ndarray, sign: np.float32) -> np.ndarray:
    """``sign * bilinear`` of ``image`` at ``centre + t * axis + across * perp`` (n_t, n_across).

    The points in ``window._grid``'s float64 order; ``sign`` is +-1 (exact).
    """
    out = np.empty((t.size, across.size), dtype=np.float32)
    pr, pc = -ac, ar
    for i in range(t.size):
        br, bc = cr + t[i] * ar, cc + t[i] * ac
        for j in range(across.size):
            out[i, j] = sign * bilinear_at(image, br + across[j] * pr, bc + across[j] * pc)
    return out


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _inside(r: float, c: float, h: int, w: int) -> bool:
    return (r >= 0) & (r <= h - 1) & (c >= 0) & (c <= w - 1)


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _extension(evidence: np.ndarray, cr: float, cc: float, ar: float, ac: float,
               length_px: float, ext_px: int, sign: np.float32) -> float:
    """``window._extension`` of ``sign * evidence``."""
    h, w = evidence.shape
    best = 0.0
    buf = np.empty(max(ext_px - 1, 0), dtype=np.float32)
    for s in (-1.0, 1.0):
        m = 0
        for k in range(2, ext_px + 1):
            t = s * (length_px / 2 + np.float64(k))
            r, c = cr + t * ar, cc + t * ac
            if _inside(r, c, h, w):
                buf[m] = sign * bilinear_at(evidence, r, c)
                m += 1
        if m:
            v = np.float64(_mean32(buf[:m]))
            if v > best:  # Python's max(best, v): NaN never wins
                best = v
    return best


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _through(evidence: np.ndarray, cr: float, cc: float, ar: float, ac: float,
             length_px: float, ext_px: int, sign: np.float32, fan_cos: np.ndarray,
             fan_sin: np.ndarray, min_ray: int) -> float:
    """``window._through`` of ``sign * evidence``."""
    h, w = evidence.shape
    n_t = max(ext_px - 1, 0)
    vals = np.empty(n_t, dtype=np.float32)
    kept = np.empty(n_t, dtype=np.float32)
    ends = np.empty(2)
    for e, s in enumerate((-1.0, 1.0)):
        half = s * (length_px - 1) / 2
        sr, sc = cr + half * ar, cc + half * ac
        best = np.nan
        first = True
        for f in range(fan_cos.size):
            dr = s * (fan_cos[f] * ar - fan_sin[f] * ac)
            dc = s * (fan_sin[f] * ar + fan_cos[f] * ac)
            pr, pc = -dc, dr
            m = 0
            for k in range(n_t):
                t = np.float64(k + 2)
                br, bc = sr + t * dr, sc + t * dc
                v = _F32(-np.inf)
                for j in range(3):
                    off = np.float64(j - 1)
                    v = _np_maximum(v, sign * bilinear_at(evidence, br + off * pr, bc + off * pc))
                vals[k] = v
                if _inside(br, bc, h, w):  # the middle sample of the three
                    kept[m] = v
                    m += 1
            if m < min_ray:
                continue
            mean = np.float64(_mean32(kept[:m]))
            if first:
                best, first = mean, False
            elif mean > best:  # Python's max over the rays' means
                best = mean
        ends[e] = best
    a: float = ends[0]
    b: float = ends[1]
    if a != a:
        return b
    if b != b:
        return a
    return b if b < a else a


@numba.njit(cache=True, nogil=True, boundscheck=False, error_model="numpy")
def profile_kernel(evidence: np.ndarray, polarity: np.ndarray, brightness: np.ndarray,
                   ridge: np.ndarray, bands: tuple[np.ndarray, ...], n_bands: int,
                   water: np.ndarray,
                   has_water: bool, valid_h: int, valid_w: int, centre_r: float,
                   centre_c: float, axis_r: float, axis_c: float, length_px: float,
                   n_along: int, flank_px: int, extension_px: int, on_level: float,
                   fan_cos: np.ndarray, fan_sin: np.ndarray, min_ray: int
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Measure one ridge: ``window.measure_profile`` and the ridge samples of ``_candidate``.

    Parameters
    ----------
    evidence, polarity, brightness, ridge, bands, water
        The window's float32 layers (C-contiguous); the first ``n_bands`` of ``bands`` are
        the log bands and indices whose contrasts are wanted (always the same number of
        layers, so that the kernel compiles once), ``water`` the water distance (m) when
        ``has_water``.
    valid_h, valid_w
        The window's shape.
    centre_r, centre_c, axis_r, axis_c, length_px
        The traced ridge's axis (pixels); ``n_along`` is ``max(2, round(length_px))``.
    flank_px, extension_px, on_level
        As ``measure_profile`` takes them; ``on_level`` is ``window._ON_LEVEL``.
    fan_cos, fan_sin, min_ray
        ``np.cos`` and ``np.sin`` of ``window._FAN``, and ``window._MIN_RAY_SAMPLES``.

    Returns
    -------
    tuple
        :data:`HEAD`'s values (float64), then per band the centre-minus-flanks contrast and
        the centre mean (float64).
    """
    span = flank_px + 2
    m = 2 * span + 1
    across = np.empty(m)
    for j in range(m):
        across[j] = np.float64(j - span)
    t = _steps(length_px, n_along)
    n = t.size
    # share of the axis inside the window, and the strip's sign (median polarity)
    inside = 0
    pol = np.empty(n, dtype=np.float32)
    for i in range(n):
        r, c = centre_r + t[i] * axis_r, centre_c + t[i] * axis_c
        inside += _inside(r, c, valid_h, valid_w)
        pol[i] = bilinear_at(polarity, r, c)
    in_frac = inside / n
    sgn = _F32(1.0) if _median_sign(pol) else _F32(-1.0)
    ev = _grid_samples(evidence, centre_r, centre_c, axis_r, axis_c, t, across, sgn)
    cen = np.empty(n, dtype=np.float32)
    lft = np.empty(n, dtype=np.float32)
    rgt = np.empty(n, dtype=np.float32)
    three = np.empty(3, dtype=np.float32)
    for i in range(n):
        cen[i] = _np_maximum(_np_maximum(ev[i, span - 1], ev[i, span]), ev[i, span + 1])
        for j in range(3):
            three[j] = ev[i, j]
        lft[i] = _mean32(three)
        for j in range(3):
            three[j] = ev[i, m - 3 + j]
        rgt[i] = _mean32(three)
    lift = np.empty(n, dtype=np.float32)
    on = np.empty(n, dtype=np.bool_)
    for i in range(n):
        lift[i] = cen[i] - _np_maximum(lft[i], rgt[i])
        on[i] = (lift[i] >= on_level) & (cen[i] >= on_level)
    smooth = _smooth5(lift)
    level: float = 0.5 * np.float64(_quantile32(smooth, 0.75))
    if not level > on_level:  # Python's max(on_level, level): NaN never wins
        level = on_level
    # trim the axis to the span of smoothed lift at or above the level
    i0, i1 = -1, -1
    for i in range(n):
        if smooth[i] >= level:
            if i0 < 0:
                i0 = i
            i1 = i
    cr, cc, length = centre_r, centre_c, length_px
    if i0 < 0:
        i0, i1 = 0, n - 1
    else:
        step = (length_px - 1) / max(n - 1, 1)
        shift = ((i0 + i1) / 2 - (n - 1) / 2) * step
        cr, cc = centre_r + shift * axis_r, centre_c + shift * axis_c
        length = (i1 - i0) * step + 1.0
    k = i1 - i0 + 1
    fmax = np.empty(k, dtype=np.float32)
    cont = np.empty(k, dtype=np.float32)
    n_on = 0
    for i in range(k):
        a, b, c = cen[i0 + i], lft[i0 + i], rgt[i0 + i]
        fmax[i] = _np_maximum(b, c)
        cont[i] = _np_minimum(a - b, a - c)
        n_on += on[i0 + i]
    keep_cen = cen[i0:i1 + 1].copy()
    head = np.empty(16)
    head[0], head[1], head[2] = cr, cc, length
    head[4] = _mean32(keep_cen)
    head[5] = _std32(keep_cen)
    head[6] = _mean32(fmax)
    head[7] = _mean32(cont)
    head[8] = n_on / k
    head[9] = in_frac
    head[10] = np.float64(sgn)
    head[11] = _extension(evidence, cr, cc, axis_r, axis_c, length, extension_px, sgn)
    head[12] = _through(evidence, cr, cc, axis_r, axis_c, length, extension_px, sgn,
                        fan_cos, fan_sin, min_ray)
    # the kept part of the grid: band contrasts, water, brightness profile
    tk = t[i0:i1 + 1]
    contrasts = np.empty(n_bands)
    centres = np.empty(n_bands)
    mid = np.empty(3 * k, dtype=np.float32)
    side = np.empty(6 * k, dtype=np.float32)
    for b in range(n_bands):
        v = _grid_samples(bands[b], centre_r, centre_c, axis_r, axis_c, tk, across, _F32(1.0))
        for j in range(3):  # column by column: ``v[:, mask]`` is a Fortran-ordered copy
            for i in range(k):
                mid[j * k + i] = v[i, span - 1 + j]
                side[j * k + i] = v[i, j]
                side[(3 + j) * k + i] = v[i, m - 3 + j]
        c_mean = _mean32(mid)
        contrasts[b] = np.float64(c_mean - _mean32(side))
        centres[b] = np.float64(c_mean)
    head[13] = np.nan
    if has_water:
        wv = _grid_samples(water, centre_r, centre_c, axis_r, axis_c, tk, across[span - 1:span + 2],
                           _F32(1.0))
        least = wv[0, 0]
        for i in range(k):
            for j in range(3):
                least = _np_minimum(least, wv[i, j])
        head[13] = np.float64(least)
    bright = _grid_samples(brightness, centre_r, centre_c, axis_r, axis_c, tk, across, sgn)
    head[3] = _equivalent_width(bright, across, flank_px)
    # the ridge response along the trimmed axis
    t2 = _steps(length, max(2, _round_half_even(length)))
    rv = np.empty(t2.size, dtype=np.float32)
    top = _F32(-np.inf)
    for i in range(t2.size):
        rv[i] = bilinear_at(ridge, (cr + t2[i] * axis_r) + 0.0 * -axis_c,
                            (cc + t2[i] * axis_c) + 0.0 * axis_r)
        top = _np_maximum(top, rv[i])
    head[14] = np.float64(_mean32(rv))
    head[15] = np.float64(top)
    return head, contrasts, centres


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _equivalent_width(bright: np.ndarray, across: np.ndarray, flank_px: int) -> float:
    """``window._equivalent_width`` of the across-axis mean of ``bright`` (rows added in turn)."""
    k, m = bright.shape
    profile = bright[0].copy()
    for i in range(1, k):
        for j in range(m):
            profile[j] += bright[i, j]
    for j in range(m):
        profile[j] = _F32(np.float64(profile[j]) / k)
    n_f = 0
    for j in range(m):
        n_f += abs(across[j]) >= flank_px
    flanks = np.empty(n_f, dtype=np.float32)
    inner = np.empty(m - n_f, dtype=np.float32)
    a = b = 0
    peak = _F32(-np.inf)
    for j in range(m):
        if abs(across[j]) >= flank_px:
            flanks[a] = profile[j]
            a += 1
        else:
            inner[b] = profile[j]
            b += 1
        if abs(across[j]) <= 1:
            peak = _np_maximum(peak, profile[j])
    base32 = _mean32(flanks)
    top = np.float64(peak) - np.float64(base32)
    if top <= 0:
        return 0.0
    for j in range(inner.size):
        d = inner[j] - base32
        inner[j] = d if (d >= 0) | (d != d) else _F32(0.0)
    width: float = np.float64(_pairwise32(inner, 0, inner.size)) * (across[1] - across[0]) / top
    return width
