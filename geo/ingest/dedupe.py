"""Finding rows of an import that are already stored: same place, time and type.

Places are compared on the sphere (a k-d tree of unit vectors, so no projection is needed
across UTM zones); lines and polygons by a point on their surface.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

EARTH_RADIUS_M = 6_371_008.8
#: Per layer: (time column, type column) compared besides the place; None: not compared.
KEYS: dict[str, tuple[str | None, str | None]] = {
    "events": ("occurred_at", "event_type"), "routes": ("first_seen", "mode"),
    "areas": (None, None), "aerodromes": (None, None), "scenes": ("acquired_at", "sensor"),
    "candidates": ("detected_at", None),
}
ID_COLUMNS = {"events": "event_id", "routes": "route_id", "areas": "area_id",
              "aerodromes": "ident", "scenes": "scene_id", "candidates": "candidate_id"}


@dataclass(frozen=True)
class Tolerances:
    """How close two rows must be to count as the same: metres and hours."""

    distance_m: float = 500.0
    time_hours: float = 24.0

    def __post_init__(self) -> None:
        if not (self.distance_m >= 0 and self.time_hours >= 0):
            raise ValueError("tolerances must be >= 0")


@dataclass(frozen=True)
class Duplicates:
    """Pairs (new row, stored row) judged the same, closest first for each new row.

    ``pairs`` has columns ``new_index`` (index in ``report.accepted``), ``existing_index``
    (index in the stored layer), ``new_id`` and ``existing_id`` (the layer's identifiers, to
    show), ``distance_m`` and ``hours_apart`` (NaN when not compared).
    """

    pairs: pd.DataFrame

    @property
    def new_index(self) -> list[int]:
        """Indices of accepted rows that duplicate something stored (pass to commit's skip)."""
        return sorted({int(i) for i in self.pairs["new_index"]})

    def __len__(self) -> int:
        return len(self.new_index)


def _unit_vectors(gdf: gpd.GeoDataFrame) -> np.ndarray:
    pts = shapely.point_on_surface(gdf.geometry.to_numpy())
    lon = np.radians(shapely.get_x(pts))
    lat = np.radians(shapely.get_y(pts))
    return np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])


def find_duplicates(accepted: gpd.GeoDataFrame, existing: gpd.GeoDataFrame, *, layer: str,
                    tolerances: Tolerances | None = None) -> Duplicates:
    """Pairs of (new, stored) rows at the same place, time and type within the tolerances.

    Parameters
    ----------
    accepted
        ``ImportReport.accepted`` (EPSG:4326).
    existing
        The stored layer (EPSG:4326), e.g. from :func:`geo.ingest.commit.read_existing`.
    layer
        Which columns hold the time and the type (:data:`KEYS`).
    tolerances
        Distance in metres and time in hours (default 500 m, 24 h).

    Examples
    --------
    >>> from shapely.geometry import Point
    >>> new = gpd.GeoDataFrame(geometry=[Point(-74.0, -9.0), Point(-70, -10)], crs=4326)
    >>> old = gpd.GeoDataFrame(geometry=[Point(-74.003, -9.0)], crs=4326)
    >>> find_duplicates(new, old, layer="aerodromes").new_index
    [0]
    """
    tol = tolerances or Tolerances()
    cols = ["new_index", "existing_index", "new_id", "existing_id", "distance_m", "hours_apart"]
    key = ID_COLUMNS.get(layer)
    if accepted.empty or existing.empty:
        return Duplicates(pd.DataFrame(columns=cols))
    chord = 2.0 * np.sin(tol.distance_m / EARTH_RADIUS_M / 2.0)
    tree = cKDTree(_unit_vectors(existing))
    near = tree.query_ball_point(_unit_vectors(accepted), r=chord)
    time_col, type_col = KEYS.get(layer, (None, None))
    rows = []
    for i, hits in enumerate(near):
        for j in hits:
            row = _compare(accepted, existing, i, j, time_col, type_col, tol)
            if row is not None:
                rows.append((accepted.index[i], existing.index[j], _id(accepted, key, i),
                             _id(existing, key, j), *row))
    pairs = pd.DataFrame(rows, columns=cols).sort_values(["new_index", "distance_m"])
    return Duplicates(pairs.reset_index(drop=True))


def _id(frame: gpd.GeoDataFrame, key: str | None, i: int) -> str | None:
    return str(frame[key].iat[i]) if key is not None and key in frame else None


def _compare(new: gpd.GeoDataFrame, old: gpd.GeoDataFrame, i: int, j: int,
             time_col: str | None, type_col: str | None,
             tol: Tolerances) -> tuple[float, float] | None:
    if type_col and type_col in new and type_col in old \
            and new[type_col].iat[i] != old[type_col].iat[j]:
        return None
    hours = float("nan")
    if time_col and time_col in new and time_col in old:
        a, b = new[time_col].iat[i], old[time_col].iat[j]
        if pd.isna(a) or pd.isna(b):
            return None
        hours = abs((pd.Timestamp(a) - pd.Timestamp(b)).total_seconds()) / 3600.0
        if hours > tol.time_hours:
            return None
    p = new.geometry.iat[i].representative_point()
    q = old.geometry.iat[j].representative_point()
    lat1, lat2 = np.radians(p.y), np.radians(q.y)
    dlat, dlon = lat2 - lat1, np.radians(q.x - p.x)
    h = np.sin(dlat / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin(dlon / 2) ** 2
    return float(2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(min(h, 1.0)))), hours
