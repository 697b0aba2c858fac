"""Candidates in one window: evidence, ridge filter, traced ridges, oriented rectangles, features.

Everything here works in the window's pixel grid and its affine transform (the raster's
native, projected CRS): lengths are metres because the pixel size is; reprojection to
EPSG:4326 happens later, once, in :mod:`geo.detect.scene`.

A candidate is a ridge traced through the thinned ridge-filter response (hysteresis: every
pixel above ``pixel_threshold``, one above ``line_threshold``), fitted with a straight axis,
and then measured along profiles across that axis in the evidence and in every band: centre
against flanks, share of the axis on the strip, width at half height, whether the line goes
on beyond its ends (roads do, runways do not).

The layers come from :func:`geo.detect.layers.screened_layers`: the full ridge filter runs
only on the blocks a coarse screen marks (:mod:`geo.detect.screen`) and on the blocks every
ridge found there runs into, so the candidates are those of the whole-window filter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from affine import Affine
from scipy import ndimage

from geo.detect.layers import (
    Box,
    WindowLayers,
    add_water_distance,
    profile_extension_px,
    profile_flank_px,
    profile_span_px,
    release_layers,
    screened_layers,
    thin_at,
)
from geo.detect.params import DetectionParams
from geo.imagery import WindowData

_EIGHT = np.ones((3, 3), dtype=bool)
#: (row, col) offsets of the 4 x 4 pixels a bilinear sample near a point may read.
_CELLS = np.array([(r, c) for r in range(-1, 3) for c in range(-1, 3)])
_ON_LEVEL = 0.5  # z units: an axis sample is "on the strip" above its flanks by this much


@dataclass(frozen=True)
class RawCandidate:
    """One strip-like ridge: centre (raster CRS, metres), size, bearing and features."""

    x: float
    y: float
    length_m: float
    width_m: float
    bearing_deg: float
    features: tuple[tuple[str, float], ...]

    def feature(self, name: str) -> float:
        """Value of one feature (NaN when not computable for this imagery)."""
        return dict(self.features).get(name, float("nan"))


@dataclass(frozen=True)
class _Shape:
    centre_rc: tuple[float, float]
    axis_rc: tuple[float, float]
    length_px: float
    width_px: float
    fill: float
    bend_px: float


def _shape(rows: np.ndarray, cols: np.ndarray) -> _Shape:
    """PCA of a traced ridge's pixel centres: axis, along/across extents, fill and bend.

    :func:`_shape_reference` to the bit, with its percentiles and medians compiled
    (:func:`geo.detect.sample_kernel.axis_spread`): 0.4 of its 0.45 ms a call were NumPy's
    per-call costs on a few dozen points (1,788 calls on the benchmark tile).
    """
    from geo.detect.sample_kernel import axis_spread

    pts = np.column_stack([rows, cols]).astype(float)
    n = len(pts)
    mean = pts.mean(axis=0)
    centred = pts - mean
    if n > 2:  # np.cov's arithmetic, without its checks
        x = np.array(centred.T)  # a copy in the view's (Fortran) order, as np.cov makes
        x -= x.mean(axis=1)[:, None]
        cov = np.dot(x, x.T.conj())  # dot, not matmul: BLAS's symmetric product, as np.cov
        cov *= np.true_divide(1, n - 1)
    else:
        cov = np.eye(2)
    _, vecs = np.linalg.eigh(cov)
    major, minor = vecs[:, 1], vecs[:, 0]
    along, across = centred @ major, centred @ minor
    lo_along, hi_along = float(along.min()), float(along.max())
    length = hi_along - lo_along + 1.0
    lo, hi, med, bend = axis_spread(np.ascontiguousarray(along), np.ascontiguousarray(across),
                                    length)
    mid = (hi_along + lo_along) / 2.0
    centre = mean + major * mid + minor * med
    return _Shape(centre_rc=(float(centre[0]), float(centre[1])),
                  axis_rc=(float(major[0]), float(major[1])), length_px=length,
                  width_px=hi - lo + 1.0, fill=min(1.0, n / length), bend_px=bend)


def _shape_reference(rows: np.ndarray, cols: np.ndarray) -> _Shape:
    """:func:`_shape` in NumPy (the definition)."""
    pts = np.column_stack([rows, cols]).astype(float)
    mean = pts.mean(axis=0)
    centred = pts - mean
    _, vecs = np.linalg.eigh(np.cov(centred.T) if len(pts) > 2 else np.eye(2))
    major, minor = vecs[:, 1], vecs[:, 0]
    along, across = centred @ major, centred @ minor
    length = float(np.ptp(along) + 1.0)
    lo, hi = np.percentile(across, [2, 98])
    extent = float(hi - lo + 1.0)
    bins = np.clip(((along - along.min()) / length * 4).astype(int), 0, 3)
    meds = [float(np.median(across[bins == b])) for b in range(4) if np.any(bins == b)]
    mid = (along.max() + along.min()) / 2.0
    centre = mean + major * mid + minor * float(np.median(across))
    return _Shape(centre_rc=(float(centre[0]), float(centre[1])),
                  axis_rc=(float(major[0]), float(major[1])), length_px=length,
                  width_px=extent, fill=min(1.0, len(pts) / length),
                  bend_px=float(np.ptp(meds)) if meds else 0.0)


def _bearing(transform: Affine, axis_rc: tuple[float, float]) -> float:
    """Bearing in [0, 180) clockwise from grid north of a (row, col) direction."""
    dx = transform.a * axis_rc[1] + transform.b * axis_rc[0]
    dy = transform.d * axis_rc[1] + transform.e * axis_rc[0]
    return float(np.degrees(np.arctan2(dx, dy)) % 180.0) % 180.0


def _traced_ridges(wl: WindowLayers, valid: np.ndarray, p: DetectionParams, *,
                   res_m: float, min_pixels: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """Pixels (rows, cols) of each thinned ridge that keeps one orientation.

    Thinned pixels above ``pixel_threshold`` are linked only to neighbours whose best
    orientation is within one step (so a strip is not swallowed by the mesh of short
    ridges in a town or a crop mosaic it touches), and a ridge is kept when one of its
    pixels reaches ``line_threshold``. Each ridge is reported once, under its most common
    orientation. At most ``p.max_ridges_per_km2`` ridges per km2 of window are returned,
    the strongest first (peak response times the square root of the pixel count).
    Labelling runs on the box of each group of thinned pixels that could hold a ridge.
    """
    n = p.n_orientations
    ridge, orient = wl.lay["ridge"], wl.lay["orient"]
    rows, cols = thin_at(ridge, orient, *wl.ridge_pixels(valid, p.pixel_threshold),
                          n_orientations=n)
    found: list[tuple[float, int, int, np.ndarray, np.ndarray]] = []
    for box in _worthy_groups(rows, cols, ridge, p, min_pixels=min_pixels):
        (r0, c0), thin = box
        sl = np.s_[r0:r0 + thin.shape[0], c0:c0 + thin.shape[1]]
        found += [(s, k, int(np.min((rr + r0) * valid.shape[1] + cc + c0)), rr + r0, cc + c0)
                  for s, k, rr, cc in _label_ridges(thin, ridge[sl], orient[sl], p,
                                                    min_pixels=min_pixels)]
    # bound the work per window in speckled scenes (towns, crop mosaics): keep the strongest;
    # ties in the order one labelling of the whole window would give (orientation, raster)
    cap = max(1, round(p.max_ridges_per_km2 * valid.size * res_m**2 / 1e6))
    found.sort(key=lambda item: (-item[0], item[1], item[2]))
    return [(rows, cols) for *_, rows, cols in found[:cap]]


def _worthy_groups(rows: np.ndarray, cols: np.ndarray, ridge: np.ndarray,
                   p: DetectionParams, *, min_pixels: float
                   ) -> list[tuple[tuple[int, int], np.ndarray]]:
    """((row0, col0), mask) of each 8-connected group of thinned pixels that could hold a ridge.

    Every orientation-consistent ridge lies inside one such group (all orientations linked),
    so a group smaller than ``min_pixels`` or never reaching ``line_threshold`` cannot hold
    one, and the 16 labellings of :func:`_label_ridges` run on each group's box alone.
    ``rows`` and ``cols`` are in raster order. Compiled
    (:func:`geo.detect.ridge_kernel.pixel_groups`): the groups of
    :func:`_worthy_groups_reference`, in its order, without labelling the pixels' whole box.
    """
    from geo.detect.ridge_kernel import pixel_groups

    if not rows.size:
        return []
    label, kept, boxes = pixel_groups(np.ascontiguousarray(rows, dtype=np.int64),
                                      np.ascontiguousarray(cols, dtype=np.int64), ridge,
                                      np.float32(p.line_threshold), float(min_pixels))
    order = np.argsort(label, kind="stable")  # each group's pixels together
    ends = np.searchsorted(label[order], np.stack([kept, kept + 1]))
    out = []
    for (r0, r1, c0, c1), lo, hi in zip(boxes.tolist(), *ends.tolist(), strict=True):
        mask = np.zeros((r1 - r0, c1 - c0), dtype=bool)
        mine = order[lo:hi]
        mask[rows[mine] - r0, cols[mine] - c0] = True
        out.append(((r0, c0), mask))
    return out


def _worthy_groups_reference(rows: np.ndarray, cols: np.ndarray, ridge: np.ndarray,
                             p: DetectionParams, *, min_pixels: float
                             ) -> list[tuple[tuple[int, int], np.ndarray]]:
    """:func:`_worthy_groups` by labelling a mask of the pixels' box (the definition)."""
    if not rows.size:
        return []
    r0, c0 = int(rows.min()), int(cols.min())
    thin = np.zeros((int(rows.max()) - r0 + 1, int(cols.max()) - c0 + 1), dtype=bool)
    thin[rows - r0, cols - c0] = True
    labels, count = ndimage.label(thin, structure=_EIGHT)
    lab = labels[rows - r0, cols - c0]
    peak = np.full(count + 1, -np.inf, dtype=ridge.dtype)
    np.maximum.at(peak, lab, ridge[rows, cols])
    size = np.bincount(lab, minlength=count + 1)
    keep = (peak >= p.line_threshold) & (size >= min_pixels)
    out = []
    for g, sl in enumerate(ndimage.find_objects(labels), start=1):
        if sl is not None and keep[g]:
            out.append(((r0 + sl[0].start, c0 + sl[1].start), labels[sl] == g))
    return out


def _label_ridges(thin: np.ndarray, ridge: np.ndarray, orient: np.ndarray,
                  p: DetectionParams, *, min_pixels: float
                  ) -> list[tuple[float, int, np.ndarray, np.ndarray]]:
    """(strength, orientation, rows, cols) of each orientation-consistent ridge of a mask.

    For each orientation ``k``, the 8-connected groups of thinned pixels whose orientation is
    ``k`` or a neighbour of it; a group is kept when its peak reaches ``line_threshold``, a
    third of its pixels have orientation ``k``, it holds ``min_pixels`` pixels and ``k`` is
    its most common orientation (so each ridge is reported once). Compiled
    (:func:`geo.detect.ridge_kernel.orientation_components`): the same groups, in the same
    order, as one ``scipy.ndimage.label`` per orientation (``tests/geo/test_ridge_kernel.py``),
    without its 16 calls per group.
    """
    from geo.detect.ridge_kernel import orientation_components

    orients, strengths, starts, pixels = orientation_components(
        thin, ridge, orient, p.n_orientations, np.float32(p.line_threshold), float(min_pixels))
    width = thin.shape[1]
    rows, cols = np.divmod(pixels, width)
    return [(float(strengths[g]), int(orients[g]), rows[starts[g]:starts[g + 1]],
             cols[starts[g]:starts[g + 1]]) for g in range(orients.size)]


def detect_window(data: WindowData, *, params: DetectionParams,
                  owned: Box | None = None) -> list[RawCandidate]:
    """Strip-like ridges of one window that pass the geometry filters of ``params``.

    Returns candidates with centres in the raster CRS (metres) and their features; the
    caller decides which window owns a candidate seen twice in an overlap. ``owned``
    (rows ``r0:r1``, columns ``c0:c1`` of the window, as :data:`Box`) is the part of the
    window whose candidates the caller keeps: a ridge whose axis lies wholly outside it
    (more than a pixel away) is not measured, since a measured centre always lies on the
    axis; every candidate centred in ``owned`` is returned as without it.
    """
    wl = screened_layers(data, params)
    try:
        return _detect(data, wl, params, owned)
    finally:
        release_layers(wl)  # back to the pool for the next window


def _detect(data: WindowData, wl: WindowLayers, params: DetectionParams,
            owned: Box | None) -> list[RawCandidate]:
    min_px = params.min_length_m / data.res_m
    ridges = [(rows, cols) for rows, cols in
              _traced_ridges(wl, data.valid, params, res_m=data.res_m, min_pixels=0.4 * min_px)
              if max(np.ptp(rows), np.ptp(cols)) + 1 >= 0.7 * min_px]
    if ridges:
        add_water_distance(wl, data, params)
    out: list[RawCandidate] = []
    for rows, cols in ridges:
        shape = _shape(rows, cols)
        if owned is not None and not _may_be_owned(shape, owned):
            continue
        if not _may_pass(shape, params, data.res_m):
            continue
        wl.ensure_computed(_sampled_box(rows, cols, shape),
                           bands_reach_px=profile_span_px(params, data.res_m))
        wl.ensure_water(*_axis_pixels(shape, data.valid.shape))
        cand = _candidate(data, wl.lay, shape, params)
        if cand is not None:
            out.append(cand)
    return out


def _may_be_owned(shape: _Shape, owned: Box) -> bool:
    """Whether the box around a ridge's untrimmed axis, 1 px wider, meets ``owned``."""
    half = (shape.length_px - 1) / 2
    rows = [shape.centre_rc[0] + s * half * shape.axis_rc[0] for s in (-1.0, 1.0)]
    cols = [shape.centre_rc[1] + s * half * shape.axis_rc[1] for s in (-1.0, 1.0)]
    r0, r1, c0, c1 = owned
    return (min(rows) - 1 < r1 and max(rows) + 1 >= r0
            and min(cols) - 1 < c1 and max(cols) + 1 >= c0)


def _may_pass(shape: _Shape, p: DetectionParams, res_m: float) -> bool:
    """Whether a traced ridge may pass :func:`_passes` once measured (False: it cannot).

    Its fill and bend are final already, and measuring only trims its axis (the measured
    length is at most the traced one, up to rounding: hence the 1e-9 margin), so a ridge
    failing these is skipped before its layers are made exact and its profiles sampled.
    On the benchmark tile a quarter of the measured ridges were such (traced too short).
    """
    return (shape.length_px * res_m >= p.min_length_m * (1 - 1e-9)
            and shape.fill >= p.min_fill and shape.bend_px * res_m <= p.max_bend_m)


def _axis_pixels(shape: _Shape, size: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Window pixels (rows, cols) that bilinear samples within 1 px of a ridge's axis use.

    Points every half pixel along the untrimmed axis and across it (the trimmed axis is a
    part of it), each with the 4 x 4 pixels around it: a superset, cheap to fill. Compiled
    (:func:`geo.detect.sample_kernel.axis_cells`): the pixels of
    :func:`_axis_pixels_reference`, in the same order, without its arrays of 16 cells per
    point (0.4 ms a ridge on the benchmark tile).
    """
    from geo.detect.sample_kernel import axis_cells

    half = (shape.length_px - 1) / 2
    along = np.arange(-half, half + 0.5, 0.5)
    across = np.arange(-1.0, 1.01, 0.5)
    rows, cols = axis_cells(shape.centre_rc[0], shape.centre_rc[1], shape.axis_rc[0],
                            shape.axis_rc[1], along, across, int(size[0]), int(size[1]))
    return rows, cols


def _axis_pixels_reference(shape: _Shape, size: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_axis_pixels` in NumPy (the definition)."""
    half = (shape.length_px - 1) / 2
    along = np.arange(-half, half + 0.5, 0.5)
    across = np.arange(-1.0, 1.01, 0.5)
    pts = _grid(shape.centre_rc, shape.axis_rc, 1.0, across)[0]  # the centre, across
    pts = (pts[None] + along[:, None, None] * np.array(shape.axis_rc)).reshape(-1, 2)
    near = (np.floor(pts).astype(np.intp)[:, None, :] + _CELLS[None]).reshape(-1, 2)
    ok = (near[:, 0] >= 0) & (near[:, 0] < size[0]) & (near[:, 1] >= 0) & (near[:, 1] < size[1])
    rows, cols = near[ok, 0], near[ok, 1]
    if not rows.size:
        return rows, cols
    # each pixel once, in raster order (np.unique of the flat indices, without sorting them)
    r0, c0 = int(rows.min()), int(cols.min())
    seen = np.zeros((int(rows.max()) - r0 + 1, int(cols.max()) - c0 + 1), dtype=bool)
    seen[rows - r0, cols - c0] = True
    rr, cc = np.nonzero(seen)
    return rr + r0, cc + c0


def _sampled_box(rows: np.ndarray, cols: np.ndarray, shape: _Shape) -> Box:
    """Window pixels holding a ridge and its fitted axis, 2 px wider (bilinear samples)."""
    half = (shape.length_px - 1) / 2.0
    ends_r = [shape.centre_rc[0] + s * half * shape.axis_rc[0] for s in (-1.0, 1.0)]
    ends_c = [shape.centre_rc[1] + s * half * shape.axis_rc[1] for s in (-1.0, 1.0)]
    return (int(np.floor(min(rows.min(), *ends_r))) - 2,
            int(np.ceil(max(rows.max(), *ends_r))) + 3,
            int(np.floor(min(cols.min(), *ends_c))) - 2,
            int(np.ceil(max(cols.max(), *ends_c))) + 3)


@dataclass(frozen=True)
class _Profile:
    """A ridge measured across its axis: trimmed centre and length, width, features.

    ``ridge_mean`` and ``ridge_max`` are the ridge response along the trimmed axis.
    """

    centre_rc: tuple[float, float]
    axis_rc: tuple[float, float]
    length_px: float
    width_px: float
    features: dict[str, float]
    ridge_mean: float
    ridge_max: float


def _grid(centre_rc: tuple[float, float], axis_rc: tuple[float, float], length_px: float,
          across: np.ndarray) -> np.ndarray:
    """(n_along, n_across, 2) row/col points: one per pixel along, at ``across`` offsets."""
    n = max(2, round(length_px))
    t = np.linspace(-(length_px - 1) / 2, (length_px - 1) / 2, n)
    ar = np.array(axis_rc)
    pr = np.array([-ar[1], ar[0]])
    out: np.ndarray = (np.array(centre_rc)[None, None, :] + t[:, None, None] * ar
                       + across[None, :, None] * pr)
    return out


def _sample(image: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Bilinear samples of ``image`` at row/col points (edge values beyond the border).

    ``scipy.ndimage.map_coordinates(order=1, mode="nearest")``; for float rasters its
    compiled equal (:func:`geo.detect.sample_kernel.bilinear_nearest`), without the
    wrapper's cost per call.
    """
    if image.dtype in (np.float32, np.float64) and image.ndim == 2 and pts.size:
        from geo.detect.sample_kernel import bilinear_nearest

        rows = np.ascontiguousarray(pts[..., 0], dtype=np.float64).ravel()
        cols = np.ascontiguousarray(pts[..., 1], dtype=np.float64).ravel()
        sampled: np.ndarray = bilinear_nearest(image, rows, cols).reshape(pts.shape[:-1])
        return sampled
    out: np.ndarray = ndimage.map_coordinates(image, [pts[..., 0], pts[..., 1]], order=1,
                                              mode="nearest")
    return out


def _inside(pts: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    out: np.ndarray = ((pts[..., 0] >= 0) & (pts[..., 0] <= shape[0] - 1)
                       & (pts[..., 1] >= 0) & (pts[..., 1] <= shape[1] - 1))
    return out


def _trim(on: np.ndarray, centre_rc: tuple[float, float], axis_rc: tuple[float, float],
          length_px: float) -> tuple[tuple[float, float], float, slice]:
    """Shrink the axis to the span from its first to its last on-strip sample."""
    n = on.size
    if not on.any():
        return centre_rc, length_px, slice(0, n)
    i0, i1 = int(np.argmax(on)), int(n - 1 - np.argmax(on[::-1]))
    step = (length_px - 1) / max(n - 1, 1)
    shift = ((i0 + i1) / 2 - (n - 1) / 2) * step
    centre = (centre_rc[0] + shift * axis_rc[0], centre_rc[1] + shift * axis_rc[1])
    return centre, (i1 - i0) * step + 1.0, slice(i0, i1 + 1)


def _equivalent_width(profile: np.ndarray, across: np.ndarray, flank_px: int) -> float:
    """Width (px) of the strip in a brightness profile across it: area over peak height.

    Brightness mixes linearly with the share of a pixel the strip covers, so the area of
    the bump above the flank level, divided by its peak, is the strip's width even when it
    is narrower than a pixel or straddles two.
    """
    flanks = np.abs(across) >= flank_px
    base = float(profile[flanks].mean())
    peak = float(profile[np.abs(across) <= 1].max()) - base
    if peak <= 0:
        return 0.0
    bump = np.clip(profile[~flanks] - base, 0.0, None)
    return float(bump.sum() * (across[1] - across[0]) / peak)


#: Layers whose centre-minus-flanks contrast is a feature, in this order.
_CONTRAST_LAYERS = ("blue", "green", "red", "nir", "swir1", "swir2", "ndvi", "ndwi")


def _band_contrasts(lay: dict[str, np.ndarray], pts: np.ndarray, centre: np.ndarray,
                    flanks: np.ndarray) -> dict[str, float]:
    """Centre minus flanks of each log band and index, and the indices on the axis."""
    contrast, on_axis = {}, {}
    for name in _CONTRAST_LAYERS:
        if name in lay:
            v = _sample(lay[name], pts)
            on_axis[name] = float(v[:, centre].mean())
            contrast[name] = float(v[:, centre].mean() - v[:, flanks].mean())
    water = (float(_sample(lay["water_dist"], pts[:, centre]).min()) if "water_dist" in lay
             else None)
    return _contrast_features(contrast, on_axis, water)


def _contrast_features(contrast: dict[str, float], on_axis: dict[str, float],
                       water: float | None) -> dict[str, float]:
    """Make the band features from each layer's contrast and axis mean, and the water distance."""
    out = {f"{name}_c": c for name, c in contrast.items()}
    out.update({f"{name}_in": on_axis[name] for name in ("ndvi", "ndwi") if name in on_axis})
    visible = [out[f"{b}_c"] for b in ("blue", "green", "red") if f"{b}_c" in out]
    out["bright_ratio"] = float(np.exp(np.mean(visible)))
    out["red_ratio"] = float(np.exp(out["red_c"])) if "red_c" in out else float("nan")
    if "ndvi_c" in out:
        out["ndvi_drop"] = -out["ndvi_c"]
    if water is not None:
        out["water_dist_m"] = water
    return out


def _extension(evidence: np.ndarray, centre_rc: tuple[float, float],
               axis_rc: tuple[float, float], length_px: float, ext_px: int) -> float:
    """Mean evidence on the axis continued beyond the end that continues more (roads do)."""
    ar = np.array(axis_rc)
    best = 0.0
    for sign in (-1.0, 1.0):
        t = sign * (length_px / 2 + np.arange(2, ext_px + 1, dtype=float))
        pts = np.array(centre_rc)[None, :] + t[:, None] * ar
        ok = _inside(pts, evidence.shape)
        if ok.any():
            best = max(best, float(_sample(evidence, pts[ok]).mean()))
    return best


_FAN = np.deg2rad(np.arange(-30.0, 31.0, 5.0))  # bearings a road may bend to past an end
_FAN_COS, _FAN_SIN = np.cos(_FAN), np.sin(_FAN)  # NumPy's, for the compiled measurement too
_MIN_RAY_SAMPLES = 3


def _through(evidence: np.ndarray, centre_rc: tuple[float, float],
             axis_rc: tuple[float, float], length_px: float, ext_px: int) -> float:
    """Evidence (z) continuing past the *weaker* end of a strip, over a fan of bearings.

    From each end, rays ``ext_px`` long leave at the axis bearing and up to 30 degrees to
    either side (a road bends away where its straight piece ends); each step of a ray takes
    the best of three samples across it (a thin road is seldom exactly under the ray), and
    an end's value is its best ray's mean. A road or track runs on past both ends, so both
    are high; a runway ends in forest or has at most an access track, so its weaker end is
    low. An end that leaves the raster counts as the other one; NaN when both do.
    """
    ar = np.array(axis_rc)
    t = np.arange(2, ext_px + 1, dtype=float)
    across = np.array([-1.0, 0.0, 1.0])
    cos, sin = _FAN_COS, _FAN_SIN
    ends = []
    for sign in (-1.0, 1.0):
        start = np.array(centre_rc) + sign * (length_px - 1) / 2 * ar
        # (fan, 2): each ray's unit direction, and the unit vector across it
        d = sign * np.column_stack([cos * ar[0] - sin * ar[1], sin * ar[0] + cos * ar[1]])
        perp = np.column_stack([-d[:, 1], d[:, 0]])
        pts = (start + t[None, :, None, None] * d[:, None, None, :]
               + across[None, None, :, None] * perp[:, None, None, :])  # (fan, t, 3, 2)
        ok = _inside(pts[:, :, 1], evidence.shape)
        vals = _sample(evidence, pts).max(axis=2)  # one sampling for every ray
        rays = np.flatnonzero(ok.sum(axis=1) >= _MIN_RAY_SAMPLES)
        if ok[rays].all():  # every sample inside: the same means, row by row, in one call
            means = [float(m) for m in vals[rays].mean(axis=1)]
        else:
            means = [float(vals[k][ok[k]].mean()) for k in rays]
        ends.append(max(means) if means else np.nan)
    known = [e for e in ends if not np.isnan(e)]
    return float(min(known)) if known else float("nan")


def measure_profile(lay: dict[str, np.ndarray], valid: np.ndarray, *,
                    centre_rc: tuple[float, float], axis_rc: tuple[float, float],
                    length_px: float, flank_px: int, extension_px: int) -> _Profile:
    """Profiles across a ridge's axis: trimmed extent, width, and centre-vs-flank features.

    The centre is the best of the samples within 1 px of the axis; the flanks are the
    samples ``flank_px`` to ``flank_px + 2`` px to either side; evidence is in z units and
    band contrasts are differences of natural logs (so ``exp`` gives a ratio).

    Compiled (:func:`geo.detect.profile_kernel.profile_kernel`) when the layers are C-ordered
    float32, as the detector makes them: equal to the bit to :func:`measure_profile_reference`
    and, with this wrapper, about 6x cheaper (the benchmark tile's 827 ridges: 0.17 CPU-s
    against 1.0 under cProfile, 2026-12-07).
    """
    from geo.detect.profile_kernel import HEAD, profile_kernel

    names = [k for k in _CONTRAST_LAYERS if k in lay]
    water = lay.get("water_dist")
    used = [lay[k] for k in ("evidence", "polarity", "brightness", "ridge", *names)]
    if not names or not all(_compiled(a) for a in [*used, *([] if water is None else [water])]):
        return measure_profile_reference(lay, valid, centre_rc=centre_rc, axis_rc=axis_rc,
                                         length_px=length_px, flank_px=flank_px,
                                         extension_px=extension_px)
    evidence = lay["evidence"]
    # always as many layers (the missing ones stand in), so the kernel compiles once
    bands = tuple(used[4:]) + (evidence,) * (len(_CONTRAST_LAYERS) - len(names))
    head, contrasts, centres = profile_kernel(
        evidence, lay["polarity"], lay["brightness"], lay["ridge"], bands, len(names),
        evidence if water is None else water, water is not None,
        valid.shape[0], valid.shape[1], float(centre_rc[0]), float(centre_rc[1]),
        float(axis_rc[0]), float(axis_rc[1]), float(length_px), max(2, round(length_px)),
        int(flank_px), int(extension_px), _ON_LEVEL, _FAN_COS, _FAN_SIN, _MIN_RAY_SAMPLES)
    h = dict(zip(HEAD, head.tolist(), strict=True))
    feats = {k: h[k] for k in ("evidence", "evidence_std", "flank_max", "contrast", "frac_on",
                               "in_frac", "polarity", "extension", "through")}
    feats.update(_contrast_features(dict(zip(names, contrasts.tolist(), strict=True)),
                                    dict(zip(names, centres.tolist(), strict=True)),
                                    None if water is None else h["water_dist_m"]))
    return _Profile(centre_rc=(h["centre_r"], h["centre_c"]), axis_rc=axis_rc,
                    length_px=h["length_px"], width_px=h["width_px"], features=feats,
                    ridge_mean=h["ridge_mean"], ridge_max=h["ridge_max"])


def _compiled(layer: np.ndarray) -> bool:
    """Whether :func:`measure_profile`'s kernel takes this layer (2-d C-ordered float32).

    Writeable too: Numba types a read-only array apart, and the layers go in one tuple.
    """
    return (layer.dtype == np.float32 and layer.ndim == 2 and layer.flags.c_contiguous
            and layer.flags.writeable)


def measure_profile_reference(lay: dict[str, np.ndarray], valid: np.ndarray, *,
                              centre_rc: tuple[float, float], axis_rc: tuple[float, float],
                              length_px: float, flank_px: int, extension_px: int
                              ) -> _Profile:
    """:func:`measure_profile` in NumPy (the definition)."""
    span = flank_px + 2
    across = np.arange(-span, span + 1, dtype=float)
    pts = _grid(centre_rc, axis_rc, length_px, across)
    in_frac = float(_inside(pts[:, span], valid.shape).mean())
    polarity = 1.0 if float(np.median(_sample(lay["polarity"], pts[:, span]))) >= 0 else -1.0
    # the evidence with the strip's sign (negated only for dark strips, which are rare)
    signed = lay["evidence"] if polarity > 0 else -lay["evidence"]
    ev = polarity * _sample(lay["evidence"], pts)
    centre, left, right = np.abs(across) <= 1, across <= -flank_px, across >= flank_px
    cen, lft, rgt = ev[:, centre].max(axis=1), ev[:, left].mean(axis=1), ev[:, right].mean(axis=1)
    lift = cen - np.maximum(lft, rgt)
    on = (lift >= _ON_LEVEL) & (cen >= _ON_LEVEL)
    # the ends are where the smoothed lift falls below half its upper-quartile level (noise
    # alone lifts single samples by about 0.5 z, so an absolute level would run on)
    smooth = ndimage.uniform_filter1d(lift, 5, mode="nearest")
    level = max(_ON_LEVEL, 0.5 * float(np.percentile(smooth, 75)))
    c_rc, length, keep = _trim(smooth >= level, centre_rc, axis_rc, length_px)
    feats = {"evidence": float(cen[keep].mean()), "evidence_std": float(cen[keep].std()),
             "flank_max": float(np.maximum(lft, rgt)[keep].mean()),
             "contrast": float(np.minimum(cen - lft, cen - rgt)[keep].mean()),
             "frac_on": float(on[keep].mean()), "in_frac": in_frac, "polarity": polarity,
             "extension": _extension(signed, c_rc, axis_rc, length, extension_px),
             "through": _through(signed, c_rc, axis_rc, length, extension_px)}
    feats.update(_band_contrasts(lay, pts[keep], centre, left | right))
    bright = polarity * _sample(lay["brightness"], pts[keep])
    width = _equivalent_width(bright.mean(axis=0), across, flank_px)
    on_axis = _sample(lay["ridge"], _grid(c_rc, axis_rc, length, np.array([0.0]))[:, 0])
    return _Profile(centre_rc=c_rc, axis_rc=axis_rc, length_px=length, width_px=width,
                    features=feats, ridge_mean=float(np.mean(on_axis)),
                    ridge_max=float(np.max(on_axis)))


def _passes(f: dict[str, float], p: DetectionParams) -> bool:
    return (p.min_length_m <= f["length_m"] <= p.max_length_m
            and p.min_width_m <= f["width_m"] <= p.max_width_m
            and f["elongation"] >= p.min_elongation and f["fill"] >= p.min_fill
            and f["bend_m"] <= p.max_bend_m and f["contrast"] >= p.min_contrast
            and f["frac_on"] >= p.min_frac_on)


def _candidate(data: WindowData, lay: dict[str, np.ndarray], shape: _Shape,
               p: DetectionParams) -> RawCandidate | None:
    """Measure one traced ridge along its axis; None when it fails the geometry filters."""
    res = data.res_m
    flank = profile_flank_px(p, res)
    m = measure_profile(lay, data.valid, centre_rc=shape.centre_rc, axis_rc=shape.axis_rc,
                        length_px=shape.length_px, flank_px=flank,
                        extension_px=profile_extension_px(p, res))
    feats = dict(m.features)
    length, width = m.length_px * res, max(m.width_px, 0.5) * res
    feats.update(length_m=length, width_m=width, elongation=length / width, fill=shape.fill,
                 bend_m=shape.bend_px * res, traced_m=shape.length_px * res,
                 ridge_mean=m.ridge_mean, ridge_max=m.ridge_max)
    if not _passes(feats, p):
        return None
    # pixel centres sit at +0.5 in the affine's (col, row) convention
    x, y = data.transform @ (m.centre_rc[1] + 0.5, m.centre_rc[0] + 0.5)
    return RawCandidate(x=float(x), y=float(y), length_m=length, width_m=width,
                        bearing_deg=_bearing(data.transform, shape.axis_rc),
                        features=tuple(sorted(feats.items())))
