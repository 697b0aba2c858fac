"""The per-pixel layers of one window (evidence, ridge response, bands, indices), whole or screened.

:func:`compute_layers` computes every layer over the whole window. :func:`screened_layers`
computes them only where :mod:`geo.detect.screen` sees a possible strip, grown block by block
along every thinned ridge that reaches the edge of the computed area, so each traced ridge
and every pixel its measurement samples get the values the whole-window computation gives
(up to float rounding of the box filters). Elsewhere the ridge response is ``-inf`` and the
other layers 0; the returned ``traced`` mask says where ridges may be traced. The log bands
and indices, which only the measurement of a candidate reads, are computed around the boxes
:meth:`WindowLayers.ensure_computed` is asked for, not around every traced block
(measured: a screened window 5-7 % faster on the sample scenes, with the same candidates and
features to the bit), and only as far around them as a profile's flanks reach (5 px at 10 m,
not the evidence's 36: 0.34 to 0.25 CPU-s on the benchmark tile, the same candidates).

Notes
-----
Margins, in pixels at 10 m: the ridge response of a block needs the evidence 27 px around
it (:func:`geo.detect.evidence.ridge_margin_px`), the evidence needs the bands half a
``background_m`` box (15 px) around it, and a candidate's profile samples the evidence up to
half a filter line (23 px) beyond its ends, within the evidence the ridge filter already
needs (:func:`_sample_margin_px`, 0 px; it was a fixed 8 px until 2026-12-07: 0.2 CPU-s of
z-scores and ridge filter on the benchmark tile, the same candidates); each computed block
group therefore reads its bands 44 px around it. Memory: the same window-sized float32
layers as the whole-window path.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from geo.detect.evidence import (
    _EPS,
    INDEX_BANDS,
    compute_evidence,
    compute_indices,
    is_stored,
    log_bands,
    normalized_difference,
    ridge_margin_px,
    ridge_response,
    ridge_response_padded,
)
from geo.detect.params import DetectionParams
from geo.detect.screen import screen_blocks
from geo.imagery import WindowData

WATER_CAP_M = 5000.0
_EIGHT = np.ones((3, 3), dtype=bool)

Box = tuple[int, int, int, int]  # row0, row1, col0, col1 (half-open), window pixels


def flank_px(p: DetectionParams, res_m: float) -> tuple[int, ...]:
    """Flank offsets in pixels: each ``flank_m``, and at least 2 px as well.

    At coarse pixels a strip's mixed edge pixels spill into its neighbours, so a flank one
    pixel away is not clean; the 2-px offset is then tried too (at 10 m it changes nothing).
    """
    return tuple(sorted({p.px(f, res_m) for f in p.flank_m}
                        | {p.px(f, res_m, minimum=2) for f in p.flank_m}))


def compute_layers(data: WindowData, p: DetectionParams) -> dict[str, np.ndarray]:
    """Compute indices, evidence, ridge response, orientation, polarity, water distance."""
    indices = compute_indices(data.bands)
    evidence = compute_evidence(data.bands, data.valid, res_m=data.res_m, params=p)
    length_px = p.px(p.line_length_m, data.res_m, minimum=p.min_line_px)
    flanks = flank_px(p, data.res_m)
    ridge, orient = ridge_response(evidence, length_px=length_px,
                                   n_orientations=p.n_orientations, flank_px=flanks)
    polarity = np.ones(evidence.shape, dtype=np.float32)
    if p.dark_strips > 0:
        dark, dark_orient = ridge_response(-evidence, length_px=length_px,
                                           n_orientations=p.n_orientations, flank_px=flanks)
        use = dark > ridge
        ridge, orient = np.where(use, dark, ridge), np.where(use, dark_orient, orient)
        polarity[use] = -1.0
    out = {**log_bands(data.bands), **indices, "evidence": evidence, "ridge": ridge,
           "orient": orient, "polarity": polarity}
    if "ndwi" in indices:
        out["water_dist"] = water_distance(indices["ndwi"], data.valid, res_m=data.res_m,
                                           params=p)
    return out


def water_distance(ndwi: np.ndarray, valid: np.ndarray, *, res_m: float,
                   params: DetectionParams) -> np.ndarray:
    """Distance (m, float32, capped at 5 km) of each pixel to the nearest water pixel."""
    water = (ndwi > params.ndwi_water) & valid
    dist = (ndimage.distance_transform_edt(~water) * res_m if water.any()
            else np.full(water.shape, WATER_CAP_M))
    out: np.ndarray = np.minimum(dist, WATER_CAP_M).astype(np.float32)
    return out


@dataclass
class _Screened:
    """Window-sized layers filled block group by block group, and which blocks are done."""

    data: WindowData
    p: DetectionParams
    block: int
    lay: dict[str, np.ndarray] = field(default_factory=dict)
    computed: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=bool))
    #: Blocks whose log bands and indices are done (only around measured candidates).
    indexed: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=bool))
    water: _Water | None = None
    #: Where each layer was written: (name, index) pairs, so :func:`release_layers` can put
    #: the arrays back holding their ``fills`` (the value each was taken with) everywhere.
    dirty: list[tuple[str, Any]] = field(default_factory=list)
    fills: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class _Water:
    """Water pixels of a window and a k-d tree of those on the shore (None: no water)."""

    water: np.ndarray
    tree: cKDTree | None


@dataclass
class WindowLayers:
    """Layers of a window, the blocks where ridges may be traced (None: everywhere), state."""

    lay: dict[str, np.ndarray]
    traced_blocks: np.ndarray | None = None
    block: int = 1
    state: _Screened | None = None

    @property
    def traced(self) -> np.ndarray | None:
        """Pixels where ridges may be traced (None: everywhere)."""
        if self.traced_blocks is None:
            return None
        return _block_mask(self.traced_blocks, self.block, self.lay["ridge"].shape)

    def ridge_pixels(self, valid: np.ndarray, threshold: float
                     ) -> tuple[np.ndarray, np.ndarray]:
        """Rows and columns of the traceable valid pixels whose ridge reaches ``threshold``.

        ``np.nonzero((ridge >= threshold) & valid & traced)``, in raster order.
        """
        ridge = self.lay["ridge"]
        if self.traced_blocks is None:
            return ridge_pixels(ridge, valid, threshold, np.ones((1, 1), dtype=bool),
                                max(ridge.shape))
        return ridge_pixels(ridge, valid, threshold, self.traced_blocks, self.block)

    def ensure_computed(self, box: Box, *, bands_reach_px: int) -> None:
        """Make every layer exact over ``box`` (window pixels; no-op without a screen).

        The evidence is then exact as far around it as a profile samples it
        (:func:`_sample_margin_px`); the log bands and indices, which only a candidate's
        measurement reads, ``bands_reach_px`` pixels around it (:func:`profile_span_px`).
        """
        st = self.state
        if st is None:
            return
        need = _blocks_of(_grow(box, 0, st.data.valid.shape), st.block, st.computed.shape)
        if (need & ~st.computed).any():
            _compute_blocks(st, need & ~st.computed)
        around = _grow(box, bands_reach_px, st.data.valid.shape)
        _compute_pixel_layers(st, _blocks_of(around, st.block, st.computed.shape)
                              & ~st.indexed)

    def ensure_water(self, rows: np.ndarray, cols: np.ndarray) -> None:
        """Fill the water distance at these window pixels (no-op without a screen)."""
        if self.state is not None:
            _fill_water(self.state, rows, cols)


def screened_layers(data: WindowData, p: DetectionParams) -> WindowLayers:
    """Layers computed only around the screen's blocks (whole window when it does not apply).

    The ``traced`` mask of the result marks the blocks grown from the screen's: every
    thinned ridge pixel (``pixel_threshold``) in it has its neighbours in it too, so a ridge
    is traced whole. Call :meth:`WindowLayers.ensure_computed` before sampling the layers
    outside that mask.
    """
    seeds = screen_blocks(data.bands, data.valid, res_m=data.res_m, params=p, raw=data.raw,
                          raw_planes=data.raw_planes)
    if seeds is None:
        return WindowLayers(lay=compute_layers(data, p))
    st = _Screened(data=data, p=p, block=p.screen_block_px,
                   computed=np.zeros(seeds.shape, dtype=bool),
                   indexed=np.zeros(seeds.shape, dtype=bool))
    st.lay = _empty_layers(st)
    traced = np.zeros(seeds.shape, dtype=bool)
    todo = seeds
    while todo.any():
        _compute_blocks(st, todo & ~st.computed)
        traced |= todo
        todo = _blocks_touched(st, traced) & ~traced
    return WindowLayers(lay=st.lay, traced_blocks=traced, block=st.block, state=st)


def ridge_pixels(ridge: np.ndarray, valid: np.ndarray, threshold: float, blocks: np.ndarray,
                 b: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.nonzero((ridge >= threshold) & valid & block_mask)``: marked ``b`` px blocks only.

    Compiled (:func:`geo.detect.ridge_kernel.ridge_pixels_kernel`), raster order.
    """
    from geo.detect.ridge_kernel import ridge_pixels_kernel

    out: tuple[np.ndarray, np.ndarray] = ridge_pixels_kernel(
        np.ascontiguousarray(ridge, dtype=np.float32), np.ascontiguousarray(valid, dtype=bool),
        np.ascontiguousarray(blocks, dtype=bool), int(b), np.float32(threshold))
    return out


def add_water_distance(wl: WindowLayers, data: WindowData, p: DetectionParams) -> None:
    """Prepare the water distance of screened layers (only needed once a ridge is found).

    The distance is filled in lazily, at the pixels a ridge's axis samples, by
    :meth:`WindowLayers.ensure_water` from a k-d tree of the water pixels that touch land
    (the nearest water pixel to a land pixel always does), so the distances equal those of
    the whole-window Euclidean distance transform.
    """
    st = wl.state
    if st is None or st.water is not None or not {"green", "nir"} <= set(data.bands):
        return
    from geo.detect.evidence_kernel import shore_pixels

    water = _water_pixels(data, p)
    n_water = int(np.count_nonzero(water))
    if not n_water:
        st.water = _Water(water=water, tree=None)
        wl.lay["water_dist"] = _take(st, "water_dist", np.float32, WATER_CAP_M)
        return
    st.water = _Water(water=water, tree=cKDTree(shore_pixels(water, n_water)))
    wl.lay["water_dist"] = _take(st, "water_dist", np.float32, 0.0)


def _water_pixels(data: WindowData, p: DetectionParams) -> np.ndarray:
    """Find the valid pixels whose NDWI exceeds ``p.ndwi_water``.

    Compiled (:func:`geo.detect.evidence_kernel.water_mask`): the same booleans as
    :func:`_water_pixels_reference`, without a window-sized NDWI.
    """
    from geo.detect.evidence_kernel import water_mask

    water = np.empty(data.valid.shape, dtype=bool)
    f32 = np.float32
    green, nir = data.stored_band("green"), data.stored_band("nir")  # float32 or integers
    water_mask(np.ascontiguousarray(green), np.ascontiguousarray(nir),
               np.ascontiguousarray(data.valid, dtype=bool), _EPS, f32(p.ndwi_water), water)
    return water


def _water_pixels_reference(data: WindowData, p: DetectionParams) -> np.ndarray:
    """:func:`_water_pixels` in NumPy (the definition): NDWI above the level, and valid."""
    ndwi = normalized_difference(data.bands["green"], data.bands["nir"])
    out: np.ndarray = (ndwi > p.ndwi_water) & data.valid
    return out


def _shore(water: np.ndarray) -> np.ndarray:
    """Water pixels with a land pixel among their 4 neighbours (beyond the raster: water).

    What ``water & ~ndimage.binary_erosion(water, border_value=1)`` gives, by four shifted
    comparisons (several times faster than the generic erosion); the definition of
    :func:`geo.detect.evidence_kernel.shore_pixels`, which lists them in one compiled pass.
    """
    land = ~water
    near_land = np.zeros(water.shape, dtype=bool)
    near_land[1:] |= land[:-1]
    near_land[:-1] |= land[1:]
    near_land[:, 1:] |= land[:, :-1]
    near_land[:, :-1] |= land[:, 1:]
    out: np.ndarray = near_land & water
    return out


def _fill_water(st: _Screened, rows: np.ndarray, cols: np.ndarray) -> None:
    """Water distance (m, capped) at the given window pixels."""
    if st.water is None or st.water.tree is None or not rows.size:
        return
    # beyond the cap the distance does not matter: the search stops there (inf, then the cap)
    bound = WATER_CAP_M / st.data.res_m + 1.0
    dist, _ = st.water.tree.query(np.column_stack([rows, cols]), distance_upper_bound=bound)
    dist = np.where(st.water.water[rows, cols], 0.0, dist) * st.data.res_m
    st.lay["water_dist"][rows, cols] = np.minimum(dist, WATER_CAP_M).astype(np.float32)
    st.dirty.append(("water_dist", (rows, cols)))


class _LayerPool:
    """Window-sized layer arrays kept between the windows one thread detects.

    Filling a dozen 4 MB layers with their initial values for every window cost 0.7 CPU-s
    of about 12 on the benchmark tile, while a screened window writes about a tenth of
    them. :func:`release_layers` puts back only what was written (``_Screened.dirty``) and
    keeps the arrays here for the next window of the same shape; arrays of one shape only
    are kept (a scene's last row and column of windows are smaller). One pool per thread
    (the app's job runner detects in threads), emptied by :func:`clear_pool` after each run
    of windows, so an idle thread keeps nothing.
    """

    def __init__(self) -> None:
        self.shape: tuple[int, ...] = ()
        self.free: dict[tuple[str, float], list[np.ndarray]] = {}

    def take(self, shape: tuple[int, ...], dtype: type, fill: float) -> np.ndarray:
        """Return an array of ``shape`` and ``dtype`` holding ``fill`` everywhere."""
        if shape == self.shape:
            kept = self.free.get((np.dtype(dtype).str, fill))
            if kept:
                return kept.pop()
        return np.full(shape, fill, dtype=dtype)

    def give(self, arr: np.ndarray, fill: float) -> None:
        """Keep ``arr`` (already holding ``fill`` everywhere) for a later :meth:`take`."""
        if arr.shape != self.shape:
            self.shape, self.free = arr.shape, {}
        self.free.setdefault((arr.dtype.str, fill), []).append(arr)


_POOLS = threading.local()
#: Tests set this to check, at each release, that every array went back to its fill.
CHECK_RELEASED = False


def _pool() -> _LayerPool:
    """Return the calling thread's pool (made on first use)."""
    pool: _LayerPool | None = getattr(_POOLS, "pool", None)
    if pool is None:
        pool = _POOLS.pool = _LayerPool()
    return pool


def clear_pool() -> None:
    """Drop the arrays this thread's pool keeps (after a run of windows)."""
    _POOLS.pool = None


def _take(st: _Screened, name: str, dtype: type, fill: float) -> np.ndarray:
    """Return a window-sized layer holding ``fill`` (pooled when it can); record the fill."""
    st.fills[name] = fill
    return _pool().take(st.data.valid.shape, dtype, fill)


def _empty_layers(st: _Screened) -> dict[str, np.ndarray]:
    """Zero layers of the window's shape (from the pool when it can), ridge ``-inf``."""
    data = st.data
    names = [*data.bands,
             *compute_indices({k: data.band(k, np.s_[:1, :1]) for k in data.bands})]
    out = {k: _take(st, k, np.float32, 0.0) for k in names}
    out["evidence"] = _take(st, "evidence", np.float32, 0.0)
    out["ridge"] = _take(st, "ridge", np.float32, -np.inf)
    out["orient"] = _take(st, "orient", np.int16, 0.0)
    out["polarity"] = _take(st, "polarity", np.float32, 1.0)
    return out


def release_layers(wl: WindowLayers) -> None:
    """Give a screened window's layers back to the pool once nothing reads them any more.

    Only :func:`geo.detect.window.detect_window` calls this, as it returns: its candidates
    hold numbers, not arrays. Layers of the whole-window path are left to the collector.
    """
    st = wl.state
    if st is None:
        return
    lay, dirty = wl.lay, st.dirty
    st.dirty = []
    for name, index in dirty:
        lay[name][index] = st.fills[name]
    pool = _pool()
    for name, arr in lay.items():
        fill = st.fills[name]
        if CHECK_RELEASED and not np.all(arr == arr.dtype.type(fill)):
            raise AssertionError(f"layer {name} was written outside its recorded boxes")
        pool.give(arr, fill)
    wl.lay = {}
    st.lay = {}


def _block_mask(blocks: np.ndarray, b: int, shape: tuple[int, ...]) -> np.ndarray:
    out: np.ndarray = np.repeat(np.repeat(blocks, b, axis=0), b, axis=1)[:shape[0], :shape[1]]
    return out


def _compute_blocks(st: _Screened, todo: np.ndarray) -> None:
    """Compute the layers over boxes covering ``todo``, one or more per 8-connected group."""
    labels, _ = ndimage.label(todo, structure=_EIGHT)
    h, w = st.data.valid.shape
    b = st.block
    margin = _band_margin_px(st.data, st.p) / b
    for sl in _split_boxes(todo, ndimage.find_objects(labels), margin=margin):
        _compute_box(st, (sl[0].start * b, min(sl[0].stop * b, h),
                          sl[1].start * b, min(sl[1].stop * b, w)))
        st.computed[sl] = True


def _split_boxes(todo: np.ndarray, boxes: list[tuple[slice, slice] | None], *,
                 margin: float) -> list[tuple[slice, slice]]:
    """Boxes of blocks covering ``todo``: each group's box, halved while that is cheaper.

    A box costs its area grown by ``margin`` blocks on every side (the bands read around
    it), so a diagonal road's group is cut into smaller boxes along the road, and a compact
    group stays whole.
    """
    def fit(sl: tuple[slice, slice]) -> tuple[slice, slice] | None:
        rows, cols = np.nonzero(todo[sl])
        if not rows.size:
            return None
        return (slice(sl[0].start + int(rows.min()), sl[0].start + int(rows.max()) + 1),
                slice(sl[1].start + int(cols.min()), sl[1].start + int(cols.max()) + 1))

    def cost(sl: tuple[slice, slice] | None) -> float:
        if sl is None:
            return 0.0
        return float((sl[0].stop - sl[0].start + 2 * margin)
                     * (sl[1].stop - sl[1].start + 2 * margin))

    out: list[tuple[slice, slice]] = []
    stack = [f for f in (fit(sl) for sl in boxes if sl is not None) if f is not None]
    while stack:
        sl = stack.pop()
        nr, nc = sl[0].stop - sl[0].start, sl[1].stop - sl[1].start
        if max(nr, nc) < 2:
            out.append(sl)
            continue
        if nr >= nc:
            mid = sl[0].start + nr // 2
            halves = [fit((slice(sl[0].start, mid), sl[1])), fit((slice(mid, sl[0].stop), sl[1]))]
        else:
            mid = sl[1].start + nc // 2
            halves = [fit((sl[0], slice(sl[1].start, mid))), fit((sl[0], slice(mid, sl[1].stop)))]
        if sum(cost(h) for h in halves) < cost(sl):
            stack += [h for h in halves if h is not None]
        else:
            out.append(sl)
    return out


def _band_margin_px(data: WindowData, p: DetectionParams) -> int:
    """Pixels of bands read around a computed box (see the module notes)."""
    length_px = p.px(p.line_length_m, data.res_m, minimum=p.min_line_px)
    margin = ridge_margin_px(length_px=length_px, flank_px=flank_px(p, data.res_m))
    half_box = (p.px(p.background_m, data.res_m, minimum=p.min_background_px) | 1) // 2
    return 1 + margin + _sample_margin_px(data, p) + half_box + 1


def _sample_margin_px(data: WindowData, p: DetectionParams) -> int:
    """Evidence pixels kept exact beyond what the ridge filter needs around computed blocks.

    A profile samples the evidence up to :func:`profile_extension_px` (and half a pixel)
    beyond the ends of a ridge's axis, which lie 2 px inside the box its blocks are
    computed for, and a bilinear sample reads 1 px further: at most ``extension + 1`` px
    beyond that box. The ridge filter of a box already needs the evidence exact
    ``1 + ridge margin`` px around it (28 px at 10 m), more than a half line (23 px), so
    this is 0 with the default parameters.
    """
    length_px = p.px(p.line_length_m, data.res_m, minimum=p.min_line_px)
    filtered = 1 + ridge_margin_px(length_px=length_px, flank_px=flank_px(p, data.res_m))
    return max(0, profile_extension_px(p, data.res_m) + 1 - filtered)


def profile_extension_px(p: DetectionParams, res_m: float) -> int:
    """How far beyond a ridge's ends its profile samples the evidence, in pixels.

    Half a filter line (:attr:`DetectionParams.line_length_m`), at least 3 px: the reach of
    the extension and through-road rays (:func:`geo.detect.window.measure_profile`).
    """
    return p.px(p.line_length_m / 2, res_m, minimum=3)


def profile_flank_px(p: DetectionParams, res_m: float) -> int:
    """Offset of a ridge profile's nearest flank samples from its axis, in pixels."""
    return p.px(min(p.flank_m), res_m)


def profile_span_px(p: DetectionParams, res_m: float) -> int:
    """How far across its axis a ridge's profile samples, in pixels (flanks + 2).

    Its points lie on the untrimmed axis, inside :func:`geo.detect.window._sampled_box`
    2 px from its edges, and at most this far across it; a bilinear sample reads 1 px
    beyond its point, so every band pixel a measurement reads lies within ``span - 1`` px
    of that box.
    """
    return profile_flank_px(p, res_m) + 2


def _blocks_of(box: Box, b: int, nb: tuple[int, ...]) -> np.ndarray:
    """Blocks (``b`` px square, grid ``nb``) holding a pixel of ``box``."""
    out = np.zeros(nb, dtype=bool)
    r0, r1, c0, c1 = box
    out[r0 // b:max(r1 - 1, r0) // b + 1, c0 // b:max(c1 - 1, c0) // b + 1] = True
    return out


def _compute_pixel_layers(st: _Screened, todo: np.ndarray) -> None:
    """Log bands and indices (per-pixel functions of the bands) over the ``todo`` blocks."""
    if not todo.any():
        return
    b, (h, w) = st.block, st.data.valid.shape
    labels, _ = ndimage.label(todo, structure=_EIGHT)
    for sl in ndimage.find_objects(labels):
        if sl is None:
            continue
        px = np.s_[sl[0].start * b:min(sl[0].stop * b, h), sl[1].start * b:min(sl[1].stop * b, w)]
        read = {k: _as_read(st.data, k, px) for k in st.data.bands}
        inner = {k: st.data.band(k, px) if is_stored(v) else v for k, v in read.items()
                 if k in INDEX_BANDS}
        for k, v in {**log_bands(read), **compute_indices(inner)}.items():
            st.lay[k][px] = v
            st.dirty.append((k, px))
        st.indexed[sl] = True


def _as_read(data: WindowData, role: str, index: tuple[slice, slice]) -> np.ndarray:
    """Return a role's band over ``index``: its uint8/uint16 values as read, else float32.

    From the integers, :func:`~geo.detect.evidence.log_bands` and
    :func:`~geo.detect.evidence.compute_evidence` take each log from a table, with no float
    band made; other types (int16, uint32, float) are made float32 first, as the window's
    bands are, so the logs are NumPy's float32 ones in every case.
    """
    stored = data.stored_band(role)[index]
    return stored if is_stored(stored) else data.band(role, index)


def _grow(box: Box, by: int, shape: tuple[int, ...]) -> Box:
    return (max(box[0] - by, 0), min(box[1] + by, shape[0]),
            max(box[2] - by, 0), min(box[3] + by, shape[1]))


def _compute_box(st: _Screened, box: Box) -> None:
    """Exact layers over ``box`` (ridge one pixel beyond it, evidence further)."""
    data, p, lay = st.data, st.p, st.lay
    shape = data.valid.shape
    length_px = p.px(p.line_length_m, data.res_m, minimum=p.min_line_px)
    flanks = flank_px(p, data.res_m)
    margin = ridge_margin_px(length_px=length_px, flank_px=flanks)
    half_box = (p.px(p.background_m, data.res_m, minimum=p.min_background_px) | 1) // 2
    rbox = _grow(box, 1, shape)
    ebox = _grow(rbox, margin + _sample_margin_px(data, p), shape)
    bbox = _grow(ebox, half_box + 1, shape)
    bs = np.s_[bbox[0]:bbox[1], bbox[2]:bbox[3]]
    bands = {k: _as_read(data, k, bs) for k in data.bands}
    # the local means over the band box; the evidence only over the evidence box
    es = np.s_[ebox[0]:ebox[1], ebox[2]:ebox[3]]
    lay["evidence"][es] = compute_evidence(
        bands, data.valid[bs], res_m=data.res_m, params=p,
        inner=np.s_[ebox[0] - bbox[0]:ebox[1] - bbox[0], ebox[2] - bbox[2]:ebox[3] - bbox[2]])
    st.dirty.append(("evidence", es))
    # the ridge filter reads ``margin`` px of evidence around rbox, zeros beyond the window
    padded = np.zeros((rbox[1] - rbox[0] + 2 * margin, rbox[3] - rbox[2] + 2 * margin),
                      dtype=np.float32)
    src = _grow(rbox, margin, shape)
    padded[src[0] - rbox[0] + margin:src[1] - rbox[0] + margin,
           src[2] - rbox[2] + margin:src[3] - rbox[2] + margin] = \
        lay["evidence"][src[0]:src[1], src[2]:src[3]]
    kw = {"length_px": length_px, "n_orientations": p.n_orientations, "flank_px": flanks}
    ridge, orient = ridge_response_padded(padded, **kw)  # type: ignore[arg-type]
    rs = np.s_[rbox[0]:rbox[1], rbox[2]:rbox[3]]
    if p.dark_strips > 0:
        dark, dark_orient = ridge_response_padded(-padded, **kw)  # type: ignore[arg-type]
        use = dark > ridge
        ridge, orient = np.where(use, dark, ridge), np.where(use, dark_orient, orient)
        lay["polarity"][rs] = np.where(use, np.float32(-1.0), np.float32(1.0))
        st.dirty.append(("polarity", rs))
    lay["ridge"][rs] = ridge
    lay["orient"][rs] = orient
    st.dirty += [("ridge", rs), ("orient", rs)]


def thin_pixels(ridge: np.ndarray, orient: np.ndarray, mask: np.ndarray, *,
                n_orientations: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the ``mask`` pixels that are local maxima across their orientation.

    The same test as :func:`geo.detect.evidence.suppress_non_maxima`, made only at the
    (few) pixels of ``mask``.
    """
    rows, cols = np.nonzero(mask)
    return thin_at(ridge, orient, rows, cols, n_orientations=n_orientations)


def thin_at(ridge: np.ndarray, orient: np.ndarray, rows: np.ndarray, cols: np.ndarray, *,
             n_orientations: int) -> tuple[np.ndarray, np.ndarray]:
    """Keep the pixels (rows, cols) that are local maxima across their orientation.

    A neighbour beyond the raster counts as ``-inf`` (as :func:`suppress_non_maxima` pads),
    looked up at the given pixels only rather than in a padded copy of the window.
    """
    bearing = np.radians(180.0 * orient[rows, cols].astype(np.float32) / n_orientations)
    dr = np.rint(np.sin(bearing)).astype(np.intp)
    dc = np.rint(np.cos(bearing)).astype(np.intp)
    v = ridge[rows, cols]
    keep = (v >= _neighbour(ridge, rows + dr, cols + dc)) & (v >= _neighbour(ridge, rows - dr,
                                                                             cols - dc))
    return rows[keep], cols[keep]


def _neighbour(ridge: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``ridge`` at (rows, cols), ``-inf`` outside the raster."""
    h, w = ridge.shape
    inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
    out: np.ndarray = np.where(inside, ridge[np.clip(rows, 0, h - 1), np.clip(cols, 0, w - 1)],
                               np.float32(-np.inf)).astype(ridge.dtype, copy=False)
    return out


def _blocks_touched(st: _Screened, traced: np.ndarray) -> np.ndarray:
    """Blocks holding a neighbour of a thinned ridge pixel of the traced blocks."""
    p, b = st.p, st.block
    ridge = st.lay["ridge"]
    shape = ridge.shape
    out = np.zeros(traced.shape, dtype=bool)
    # the ridge pixels of the traced blocks, looked for in those blocks only
    rows, cols = ridge_pixels(ridge, st.data.valid, p.pixel_threshold, traced, b)
    rows, cols = thin_at(ridge, st.lay["orient"], rows, cols,
                          n_orientations=p.n_orientations)
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            r, c = rows + dr, cols + dc
            ok = (r >= 0) & (r < shape[0]) & (c >= 0) & (c < shape[1])
            out[r[ok] // b, c[ok] // b] = True
    return out
