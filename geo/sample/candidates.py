"""Sample runway candidates: oriented rectangles where clandestine strips cluster."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from geo.detect.lifecycle import with_state_priorities
from geo.detect.reasons import BRIGHTER_SOIL, FAR_UNNAMED, describe
from geo.runway_geometry import oriented_rectangle
from geo.sample.places import STRIP_CLUSTERS
from geo.schema import CANDIDATE_STATES

EARTH_RADIUS_KM = 6371.0088
MIN_AERODROME_KM = 3.0  # a strip this close to a registered aerodrome is not "clandestine"
_STATE_SHARES = {"new": 0.25, "active": 0.35, "overgrown": 0.15, "destroyed": 0.15,
                 "reopened": 0.10}


def _unit_vectors(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    lo, la = np.radians(lon), np.radians(lat)
    return np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])


def nearest_distance_km(lon: np.ndarray, lat: np.ndarray, ref_lon: np.ndarray,
                        ref_lat: np.ndarray) -> np.ndarray:
    """Great-circle distance (km, spherical Earth) from each point to the nearest reference.

    Examples
    --------
    >>> import numpy as np
    >>> d = nearest_distance_km(np.array([0.0]), np.array([0.0]),
    ...                         np.array([1.0, 5.0]), np.array([0.0, 0.0]))
    >>> round(float(d[0]), 1)
    111.2
    """
    chord, _ = cKDTree(_unit_vectors(ref_lon, ref_lat)).query(_unit_vectors(lon, lat))
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(np.clip(np.asarray(chord) / 2.0, 0.0, 1.0))


def _draw_centres(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    w = np.array([c.weight for c in STRIP_CLUSTERS])
    k = rng.choice(len(STRIP_CLUSTERS), size=n, p=w / w.sum())
    lon0 = np.array([c.lon for c in STRIP_CLUSTERS])[k]
    lat0 = np.array([c.lat for c in STRIP_CLUSTERS])[k]
    sigma = np.array([c.spread_km for c in STRIP_CLUSTERS])[k]
    dx, dy = rng.standard_normal((2, n)) * sigma
    lat = lat0 + dy / 111.32
    return np.round(lon0 + dx / (111.32 * np.cos(np.radians(lat0))), 6), np.round(lat, 6)


def _reasons(length: np.ndarray, width: np.ndarray, ratio: np.ndarray,
             dist: np.ndarray) -> list[str]:
    """Human-readable evidence, e.g. "1.1 km long, 18 m wide, bare soil 2.3x brighter ..."."""
    return [describe(lm, wm, BRIGHTER_SOIL.format(ratio=f"{r:.1f}"),
                     None if np.isnan(d) else FAR_UNNAMED.format(dist=f"{d:.0f}"))
            for lm, wm, r, d in zip(length, width, ratio, dist, strict=True)]


def generate_candidates(*, n: int, rng: np.random.Generator,
                        aerodromes: gpd.GeoDataFrame | None = None) -> gpd.GeoDataFrame:
    """Draw ``n`` runway candidates (CANDIDATES layer, ``scene_id`` ``"sample"``).

    Parameters
    ----------
    n
        Number of candidates.
    rng
        Source of randomness.
    aerodromes
        Registered aerodromes (EPSG:4326 points) used for the distance in ``reason`` and to
        keep candidates at least 3 km away from them; ``None`` skips both.

    Returns
    -------
    geopandas.GeoDataFrame
        Oriented rectangles 500-1700 m long and 10-30 m wide at any bearing, built in the UTM
        zone of each centre and returned in EPSG:4326, with ``score``, ``state``,
        ``priority`` (one step lower for an overgrown or destroyed strip, as the tracker
        gives it), ``reason``, ``detected_at``, ``first_seen`` and ``last_seen`` (UTC).
    """
    lon, lat = _draw_centres(rng, 2 * n)  # oversample, then drop those at aerodromes
    dist = np.full(lon.size, np.nan)
    if aerodromes is not None and len(aerodromes):
        dist = nearest_distance_km(lon, lat, aerodromes.geometry.x.to_numpy(),
                                   aerodromes.geometry.y.to_numpy())
        keep = np.flatnonzero(dist >= MIN_AERODROME_KM)[:n]
    else:
        keep = np.arange(n)
    lon, lat, dist = lon[keep], lat[keep], dist[keep]
    m = keep.size
    length = np.round(rng.uniform(500.0, 1700.0, m), 0)
    width = np.round(rng.uniform(10.0, 30.0, m), 0)
    bearing = np.round(rng.uniform(0.0, 180.0, m), 1) % 180.0
    ratio = rng.uniform(1.5, 2.8, m)
    score = np.round(np.clip(rng.beta(6.0, 2.5, m), 0.0, 1.0), 3)
    state = rng.choice(CANDIDATE_STATES, size=m, p=list(_STATE_SHARES.values()))
    first = pd.Timestamp("2021-01-01", tz="UTC") + pd.to_timedelta(
        rng.integers(0, 3 * 365, m), unit="D")
    seen_for = pd.to_timedelta(rng.integers(30, 700, m), unit="D")
    frame = pd.DataFrame({
        "candidate_id": [f"C{i:04d}" for i in range(1, m + 1)],
        "scene_id": "sample",
        "detected_at": first + seen_for,
        "score": score, "length_m": length, "width_m": width, "bearing_deg": bearing,
        "state": state,
        "reason": _reasons(length, width, ratio, dist),
        "priority": np.select([score >= 0.8, score >= 0.6], ["high", "medium"], "low"),
        "first_seen": first, "last_seen": first + seen_for,
    })
    frame = with_state_priorities(frame)  # as the tracker does: grown over or gone, lower
    geoms = [oriented_rectangle(x, y, length_m=lm, width_m=wm, bearing_deg=b)
             for x, y, lm, wm, b in zip(lon, lat, length, width, bearing, strict=True)]
    return gpd.GeoDataFrame(frame, geometry=geoms, crs=4326)
