"""Candidates in one window: threshold, morphology, components, oriented rectangles, features.

Everything here works in the window's pixel grid and its affine transform (the raster's
native, projected CRS): lengths are metres because the pixel size is; reprojection to
EPSG:4326 happens later, once, in :mod:`geo.detect.scene`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from affine import Affine
from scipy import ndimage

from geo.detect.evidence import compute_evidence, compute_indices, line_response
from geo.detect.params import DetectionParams
from geo.imagery import WindowData

_WATER_CAP_M = 5000.0
_EIGHT = np.ones((3, 3), dtype=bool)


@dataclass(frozen=True)
class RawCandidate:
    """One strip-like component: centre (raster CRS, metres), size, bearing and features."""

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
    """PCA of a component's pixel centres: axis, along/across extents, fill and bend."""
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
                  width_px=len(pts) / length, fill=min(1.0, len(pts) / (length * extent)),
                  bend_px=float(np.ptp(meds)) if meds else 0.0)


def _bearing(transform: Affine, axis_rc: tuple[float, float]) -> float:
    """Bearing in [0, 180) clockwise from grid north of a (row, col) direction."""
    dx = transform.a * axis_rc[1] + transform.b * axis_rc[0]
    dy = transform.d * axis_rc[1] + transform.e * axis_rc[0]
    return float(np.degrees(np.arctan2(dx, dy)) % 180.0) % 180.0


def _passes(s: _Shape, res: float, p: DetectionParams) -> bool:
    length, width = s.length_px * res, s.width_px * res
    return (p.min_length_m <= length <= p.max_length_m and p.min_width_m <= width <= p.max_width_m
            and length / width >= p.min_elongation and s.fill >= p.min_fill
            and s.bend_px * res <= p.max_bend_m)


def _ratio(inside: np.ndarray, ring: np.ndarray) -> float:
    if inside.size == 0 or ring.size == 0:
        return float("nan")
    return float(np.mean(inside) / max(float(np.mean(ring)), 1e-6))


def _spectral_features(comp: np.ndarray, ring: np.ndarray, layers: dict[str, np.ndarray],
                       sl: tuple[slice, slice]) -> dict[str, float]:
    """Inside-vs-ring contrasts of one component (``comp``/``ring`` are masks on ``sl``)."""
    def pick(name: str, mask: np.ndarray) -> np.ndarray:
        picked: np.ndarray = layers[name][sl][mask]
        return picked

    out = {"evidence": float(np.mean(pick("evidence", comp))),
           "line_resp": float(np.mean(pick("line", comp))),
           "bright_ratio": _ratio(pick("brightness", comp), pick("brightness", ring)),
           "red_ratio": _ratio(pick("red", comp), pick("red", ring))}
    if "swir1" in layers:
        out["swir_ratio"] = _ratio(pick("swir1", comp), pick("swir1", ring))
    if "ndvi" in layers:
        out["ndvi_in"] = float(np.mean(pick("ndvi", comp)))
        ring_ndvi = pick("ndvi", ring)
        out["ndvi_drop"] = (float(np.mean(ring_ndvi)) - out["ndvi_in"]) if ring_ndvi.size \
            else float("nan")
    if "ndwi" in layers:
        out["ndwi_in"] = float(np.mean(pick("ndwi", comp)))
        out["water_dist_m"] = float(np.min(pick("water_dist", comp)))
    if "redness" in layers and "ndvi" not in layers:
        out["redness_diff"] = float(np.mean(pick("redness", comp))
                                    - np.mean(pick("redness", ring))) if ring.any() else 0.0
    return out


def _layers(data: WindowData, p: DetectionParams) -> dict[str, np.ndarray]:
    indices = compute_indices(data.bands)
    evidence = compute_evidence(data.bands, indices, data.valid, res_m=data.res_m, params=p)
    length_px = max(3, round(p.line_length_m / data.res_m))
    line = line_response(evidence, length_px=length_px, n_orientations=p.n_orientations)
    out = {**data.bands, **indices, "evidence": evidence, "line": line}
    if "ndwi" in indices:
        water = (indices["ndwi"] > p.ndwi_water) & data.valid
        dist = (ndimage.distance_transform_edt(~water) * data.res_m if water.any()
                else np.full(water.shape, _WATER_CAP_M))
        out["water_dist"] = np.minimum(dist, _WATER_CAP_M).astype(np.float32)
    return out


def _strip_mask(lay: dict[str, np.ndarray], valid: np.ndarray,
                p: DetectionParams) -> np.ndarray:
    mask = (lay["line"] >= p.line_threshold) & (lay["evidence"] >= p.pixel_threshold) & valid
    # closing bridges one-pixel gaps along a strip (a tree, a cloud pixel) without merging
    # neighbours further apart
    closed = np.asarray(ndimage.binary_closing(mask, structure=_EIGHT), dtype=bool)
    out: np.ndarray = closed | mask
    return out


def detect_window(data: WindowData, *, params: DetectionParams) -> list[RawCandidate]:
    """Strip-like components of one window that pass the geometry filters of ``params``.

    Returns candidates with centres in the raster CRS (metres) and their features; the
    caller decides which window owns a candidate seen twice in an overlap.
    """
    lay = _layers(data, params)
    labels, n = ndimage.label(_strip_mask(lay, data.valid, params), structure=_EIGHT)
    if n == 0:
        return []
    res, min_px = data.res_m, params.min_length_m / data.res_m * 0.8
    out: list[RawCandidate] = []
    for lab, sl in enumerate(ndimage.find_objects(labels), start=1):
        if sl is None:
            continue
        grown = tuple(slice(max(s.start - params.ring_outer_px - 1, 0),
                            s.stop + params.ring_outer_px + 1) for s in sl)
        comp = labels[grown] == lab
        rows, cols = np.nonzero(comp)
        if rows.size < min_px:
            continue
        shape = _shape(rows + grown[0].start, cols + grown[1].start)
        if not _passes(shape, res, params):
            continue
        out.append(_candidate(data, lay, comp, grown, shape, params))
    return out


def _candidate(data: WindowData, lay: dict[str, np.ndarray], comp: np.ndarray,
               sl: tuple[slice, ...], shape: _Shape, p: DetectionParams) -> RawCandidate:
    outer = ndimage.binary_dilation(comp, iterations=p.ring_outer_px)
    inner = ndimage.binary_dilation(comp, iterations=p.ring_inner_px)
    valid = data.valid[sl]
    ring = outer & ~inner & valid
    feats = _spectral_features(comp & valid, ring, lay, (sl[0], sl[1]))
    res = data.res_m
    length, width = shape.length_px * res, shape.width_px * res
    feats.update(length_m=length, width_m=width, elongation=length / width, fill=shape.fill,
                 bend_m=shape.bend_px * res)
    # pixel centres sit at +0.5 in the affine's (col, row) convention
    x, y = data.transform @ (shape.centre_rc[1] + 0.5, shape.centre_rc[0] + 0.5)
    return RawCandidate(x=float(x), y=float(y), length_m=length, width_m=width,
                        bearing_deg=_bearing(data.transform, shape.axis_rc),
                        features=tuple(sorted(feats.items())))
