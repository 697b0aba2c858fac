"""Context of each candidate: nearest registered aerodrome, priority, human-readable reason.

A candidate close to a registered aerodrome is most likely that aerodrome's runway: it is
never dropped (the analyst decides) but its priority is lowered and the reason says why.
A strip grown over or gone on the latest imagery cannot take a plane as it is: once its
lifecycle state is known (a tracked run, the alert store) its priority is lowered one step
too, and a note on the reason says why (:func:`geo.detect.lifecycle.state_priority`).
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np

from geo.detect.reasons import BRIGHTER_RGB, REDDER, aerodrome_part, describe
from geo.detect.window import RawCandidate

EARTH_RADIUS_KM = 6371.0088


def nearest_aerodrome(lon: np.ndarray, lat: np.ndarray,
                      aerodromes: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Great-circle distance (km) to, and row position of, the nearest aerodrome point.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point
    >>> ad = gpd.GeoDataFrame({"ident": ["A", "B"]}, geometry=[Point(1, 0), Point(5, 0)],
    ...                       crs=4326)
    >>> d, i = nearest_aerodrome(np.array([0.0]), np.array([0.0]), ad)
    >>> round(float(d[0]), 1), int(i[0])
    (111.2, 0)
    """
    pts = aerodromes.geometry.to_crs(4326)
    alon, alat = np.radians(pts.x.to_numpy()), np.radians(pts.y.to_numpy())
    lo, la = np.radians(lon)[:, None], np.radians(lat)[:, None]
    h = (np.sin((alat - la) / 2) ** 2
         + np.cos(la) * np.cos(alat) * np.sin((alon - lo) / 2) ** 2)
    d = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
    idx = np.argmin(d, axis=1)
    return d[np.arange(len(lon)), idx], idx


def _evidence_text(c: RawCandidate) -> str:
    if np.isfinite(c.feature("ndvi_drop")):
        return REDDER.format(ratio=f"{c.feature('red_ratio'):.1f}")
    return BRIGHTER_RGB.format(ratio=f"{c.feature('bright_ratio'):.1f}")


def describe_candidates(frame: gpd.GeoDataFrame, cands: Sequence[RawCandidate], *,
                        aerodromes: gpd.GeoDataFrame | None, notes: Sequence[str] = (),
                        near_km: float = 5.0) -> gpd.GeoDataFrame:
    """Add ``aerodrome_km``, ``nearest_aerodrome``, ``priority`` and ``reason`` columns."""
    out = frame.copy()
    n = len(out)
    dist = np.full(n, np.nan)
    names = [""] * n
    if n and aerodromes is not None and len(aerodromes):
        centres = out.geometry.representative_point()
        dist, idx = nearest_aerodrome(centres.x.to_numpy(), centres.y.to_numpy(), aerodromes)
        idents = aerodromes["ident"].astype(str).to_numpy()
        names = [str(idents[i]) for i in idx]
    reasons, priorities = [], []
    for k, c in enumerate(cands):
        near = bool(np.isfinite(dist[k]) and dist[k] < near_km)
        reasons.append(describe(c.length_m, c.width_m, _evidence_text(c),
                                aerodrome_part(float(dist[k]), names[k], near_km=near_km),
                                notes))
        score = float(out["score"].iloc[k])
        priorities.append("low" if near else "high" if score >= 0.75 else "medium")
    out["aerodrome_km"] = np.round(dist, 2)
    out["nearest_aerodrome"] = names
    out["priority"] = priorities
    out["reason"] = reasons
    return out
