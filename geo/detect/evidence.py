"""Per-pixel evidence of bare soil against its own neighbourhood, and an oriented line filter.

Absolute thresholds ("NDVI < 0.3") find few real strips: a clandestine strip is *relatively*
bare, redder and brighter in SWIR than the forest around it. The evidence image is therefore
built from local contrasts (value against the mean of a large box around it), scaled so that
1.0 is a typical strip; the line filter then rewards pixels that sit on a straight run of such
evidence, which isolated clearings and noise do not.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from geo.detect.params import DetectionParams

_EPS = np.float32(1e-6)


def normalized_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return ``(a - b) / (a + b)`` in float32, 0 where both are 0.

    Examples
    --------
    >>> normalized_difference(np.array([3.0]), np.array([1.0]))
    array([0.5], dtype=float32)
    """
    a32, b32 = a.astype(np.float32), b.astype(np.float32)
    out: np.ndarray = (a32 - b32) / np.maximum(a32 + b32, _EPS)
    return out


def local_mean(values: np.ndarray, valid: np.ndarray, *, size_px: int) -> np.ndarray:
    """Mean of the valid pixels in a ``size_px`` square box around each pixel (float32).

    Invalid pixels and the outside of the array do not count (normalised convolution), so a
    window edge or a cloud does not darken the background of its neighbours.
    """
    w = valid.astype(np.float32)
    num = ndimage.uniform_filter(np.where(valid, values, 0).astype(np.float32), size_px,
                                 mode="constant")
    den = ndimage.uniform_filter(w, size_px, mode="constant")
    out: np.ndarray = num / np.maximum(den, _EPS)
    return out


def _log_ratio(x: np.ndarray, valid: np.ndarray, size_px: int) -> np.ndarray:
    bg = local_mean(x, valid, size_px=size_px)
    out: np.ndarray = np.log(np.maximum(x, 1.0) / np.maximum(bg, 1.0))
    return out


def compute_indices(bands: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """NDVI, NDWI (green vs NIR), bare-soil index, brightness and redness, where computable."""
    out: dict[str, np.ndarray] = {}
    if "nir" in bands:
        out["ndvi"] = normalized_difference(bands["nir"], bands["red"])
        if "green" in bands:
            out["ndwi"] = normalized_difference(bands["green"], bands["nir"])
        if "swir1" in bands and "blue" in bands:
            out["bsi"] = normalized_difference(bands["swir1"] + bands["red"],
                                               bands["nir"] + bands["blue"])
    visible = [bands[r] for r in ("blue", "green", "red") if r in bands]
    out["brightness"] = np.mean(np.stack(visible), axis=0).astype(np.float32)
    if "blue" in bands:
        out["redness"] = normalized_difference(bands["red"], bands["blue"])
    return out


def compute_evidence(bands: dict[str, np.ndarray], indices: dict[str, np.ndarray],
                     valid: np.ndarray, *, res_m: float,
                     params: DetectionParams) -> np.ndarray:
    """Bare-soil evidence per pixel (float32, 1.0 = a typical strip, 0 on invalid pixels).

    Multispectral: mean of the log red ratio, the log SWIR1 ratio and the NDVI drop against
    the local mean, each divided by its typical strip value; water (NDWI above
    ``params.ndwi_water``) gets no positive evidence. RGB only: log brightness ratio and
    redness excess. Clipped to [-2, 4] so one saturated pixel cannot carry a line.
    """
    size = max(3, round(params.background_m / res_m) | 1)
    if "ndvi" in indices and "swir1" in bands:
        terms = [
            _log_ratio(bands["red"], valid, size) / params.red_scale,
            _log_ratio(bands["swir1"], valid, size) / params.swir_scale,
            (local_mean(indices["ndvi"], valid, size_px=size) - indices["ndvi"])
            / params.ndvi_scale,
        ]
    else:
        terms = [_log_ratio(indices["brightness"], valid, size) / params.bright_scale]
        if "redness" in indices:
            red = indices["redness"]
            terms.append((red - local_mean(red, valid, size_px=size)) / params.redness_scale)
    evidence = np.clip(np.mean(np.stack(terms), axis=0), -2.0, 4.0).astype(np.float32)
    if "ndwi" in indices:
        evidence = np.where(indices["ndwi"] > params.ndwi_water, np.minimum(evidence, 0.0),
                            evidence)
    out: np.ndarray = np.where(valid, evidence, np.float32(0.0))
    return out


def line_offsets(length_px: int, bearing_deg: float) -> np.ndarray:
    """Return the (row, col) offsets of a centred digital line; bearing clockwise from north.

    Examples
    --------
    >>> line_offsets(3, 90.0).tolist()
    [[0, -1], [0, 0], [0, 1]]
    """
    t = np.arange(length_px, dtype=float) - (length_px - 1) / 2.0
    b = np.radians(bearing_deg)
    rows = np.rint(-t * np.cos(b)).astype(int)
    cols = np.rint(t * np.sin(b)).astype(int)
    return np.unique(np.column_stack([rows, cols]), axis=0)


def line_response(evidence: np.ndarray, *, length_px: int,
                  n_orientations: int) -> np.ndarray:
    """Best mean of ``evidence`` along a line of ``length_px`` through each pixel (float32).

    Notes
    -----
    Computed by shifting and adding (``length_px`` additions per orientation) rather than by
    convolution with a mostly-zero kernel: about 0.3 s for 16 orientations of 15 px on a
    1024 x 1024 window. Outside the array counts as 0.
    """
    pad = length_px // 2 + 1
    padded = np.pad(evidence, pad)
    h, w = evidence.shape
    best = np.full(evidence.shape, -np.inf, dtype=np.float32)
    for k in range(n_orientations):
        offsets = line_offsets(length_px, 180.0 * k / n_orientations)
        acc = np.zeros(evidence.shape, dtype=np.float32)
        for dr, dc in offsets.tolist():
            acc += padded[pad + dr:pad + dr + h, pad + dc:pad + dc + w]
        np.maximum(best, acc / np.float32(len(offsets)), out=best)
    return best
