"""Synthetic land cover for the sample scenes: coverage fractions of each feature on a grid.

All shapes live in scene metres: ``x`` east from the left edge, ``y`` south from the top edge
(row direction), so pixel ``(row, col)`` has its centre at ``((col + 0.5) * res, (row + 0.5)
* res)``. Bearings are degrees clockwise from grid north. Coverage is the share of a pixel a
feature covers (0-1), approximated with a one-pixel linear ramp across edges.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], *,
                 scale_px: float) -> np.ndarray:
    """Gaussian-filtered white noise (via FFT) with zero mean and unit standard deviation.

    ``scale_px`` is the standard deviation of the smoothing kernel in pixels; the texture is
    periodic across the edges (FFT), which is invisible at scene scale.
    """
    white = rng.standard_normal(shape).astype(np.float32)
    fy = np.fft.fftfreq(shape[0])[:, None]
    fx = np.fft.rfftfreq(shape[1])[None, :]
    kernel = np.exp(-2.0 * (np.pi * scale_px) ** 2 * (fx**2 + fy**2)).astype(np.float32)
    field = np.fft.irfft2(np.fft.rfft2(white) * kernel, s=shape).astype(np.float32)
    field -= field.mean()
    return field / max(float(field.std()), 1e-12)


def box_coverage(shape: tuple[int, int], res: float, *, cx: float, cy: float, length: float,
                 width: float, bearing_deg: float, ellipse: bool = False) -> np.ndarray:
    """Coverage of an oriented rectangle (or ellipse) centred at ``(cx, cy)`` scene metres."""
    out = np.zeros(shape, dtype=np.float32)
    half = 0.5 * np.hypot(length, width) + 2 * res
    r0, r1 = max(int((cy - half) / res), 0), min(int((cy + half) / res) + 1, shape[0])
    c0, c1 = max(int((cx - half) / res), 0), min(int((cx + half) / res) + 1, shape[1])
    if r0 >= r1 or c0 >= c1:
        return out
    yy, xx = np.mgrid[r0:r1, c0:c1].astype(np.float32)
    dx, dy = (xx + 0.5) * res - cx, (yy + 0.5) * res - cy
    b = np.radians(bearing_deg)
    along = dx * np.sin(b) - dy * np.cos(b)  # grid north is -y in scene metres
    across = dx * np.cos(b) + dy * np.sin(b)
    if ellipse:
        r = np.hypot(along / (length / 2), across / (width / 2))
        cov = np.clip((1.0 - r) * (min(length, width) / 2) / res + 0.5, 0.0, 1.0)
    else:
        cov = (np.clip((length / 2 - np.abs(along)) / res + 0.5, 0.0, 1.0)
               * np.clip((width / 2 - np.abs(across)) / res + 0.5, 0.0, 1.0))
    out[r0:r1, c0:c1] = cov
    return out


def line_coverage(shape: tuple[int, int], res: float, points: np.ndarray, *,
                  width: float) -> np.ndarray:
    """Coverage of a polyline (``points`` (n, 2) scene metres) drawn ``width`` metres wide."""
    dense = densify(points, step=res / 4)
    rows = np.clip((dense[:, 1] / res).astype(int), 0, shape[0] - 1)
    cols = np.clip((dense[:, 0] / res).astype(int), 0, shape[1] - 1)
    near = np.zeros(shape, dtype=bool)
    near[rows, cols] = True
    near = ndimage.binary_dilation(near, iterations=int(np.ceil(width / 2 / res)) + 1)
    rr, cc = np.nonzero(near)
    centres = np.column_stack([(cc + 0.5) * res, (rr + 0.5) * res])
    dist, _ = cKDTree(dense).query(centres)
    out = np.zeros(shape, dtype=np.float32)
    out[rr, cc] = np.clip((width / 2 - dist) / res + 0.5, 0.0, 1.0)
    return out


def densify(points: np.ndarray, *, step: float) -> np.ndarray:
    """Vertices every ``step`` metres (at most) along a polyline, ends kept."""
    seg = np.diff(points, axis=0)
    n = np.maximum(np.ceil(np.hypot(seg[:, 0], seg[:, 1]) / step).astype(int), 1)
    parts = [points[i] + seg[i] * (np.arange(n[i])[:, None] / n[i]) for i in range(len(seg))]
    return np.vstack([*parts, points[-1:]])


def meander(rng: np.random.Generator, extent: float, *, y0: float, wavelength: float,
            amplitude_rad: float) -> tuple[np.ndarray, np.ndarray]:
    """Draw a sine-generated meandering centreline from the left to the right edge.

    Returns the vertices (n, 2) in scene metres and the signed curvature at each (1/m;
    positive bends to the left of the direction of flow).
    """
    step = 10.0
    s = np.arange(0.0, extent * 4, step)
    # Wavelength and amplitude wander along the river so no two bends are alike.
    wobble = np.cumsum(rng.normal(0.0, 1.0, (2, s.size)), axis=1)
    wobble = (wobble - wobble.mean(axis=1, keepdims=True)) / (0.3 * np.sqrt(s.size))
    local_wavelength = wavelength * np.exp(0.5 * np.tanh(wobble[0]))
    phase = rng.uniform(0, 2 * np.pi) + np.cumsum(2 * np.pi * step / local_wavelength)
    amplitude = amplitude_rad * (1.0 + 0.35 * np.tanh(wobble[1]))
    drift = rng.uniform(-0.25, 0.25)  # the valley is not exactly east-west
    heading = drift + amplitude * np.sin(phase)  # 0: due east
    x = np.cumsum(np.cos(heading)) * step
    y = y0 - np.cumsum(np.sin(heading)) * step  # left of east is north, i.e. -y
    keep = x <= extent + step
    curvature = np.gradient(heading - drift, step)
    return np.column_stack([x[keep], y[keep]]), curvature[keep]
