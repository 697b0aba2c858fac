"""Location precision by role: coarsen sensitive points to the centre of a grid cell.

Event locations can identify informants and operations. Roles without
:attr:`~geo.auth.permissions.Action.SEE_PRECISE_LOCATIONS` see and export each event at the
centre of the square cell of ``cell_deg`` degrees (EPSG:4326) that holds it, and the views and
manifests say so in one sentence. Cells are aligned on (-180, -90), so every copy of a layer
coarsens the same way and two views cannot be combined to recover a position.

Notes
-----
Degrees, not kilometres: a 0.1° cell is about 11 km north to south everywhere and 11 km east to
west at the equator (less towards the poles), which keeps the grid one fixed lattice instead of
one per UTM zone. Only the geometry and coordinate-like columns (``lon``, ``lat``,
``longitude``, ``latitude``, ``x``, ``y``) are changed; free text such as ``description`` is
the caller's to withhold.

Examples
--------
>>> import geopandas as gpd
>>> from shapely.geometry import Point
>>> events = gpd.GeoDataFrame({"event_id": ["e1"]}, geometry=[Point(-74.23, -12.41)], crs=4326)
>>> shown = coarsen_for_role(events, "planner")
>>> shown.frame.geometry.iloc[0].coords[0]
(-74.25, -12.45)
>>> shown.precision.sentence
'Event locations are shown at the centre of 0.1° grid cells (about 11 km); precise ...'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from geo.auth.permissions import ROLE_NAMES, Action, Role, can, roles_allowed
from geo.errors import CRSError, SchemaError
from geo.message import Message, Number, join_messages

DEFAULT_CELL_DEG = 0.1
KM_PER_DEG = 111.32  # one degree of latitude, and of longitude at the equator
_COORD_COLUMNS = ("lon", "lat", "longitude", "latitude", "x", "y")
_DECIMALS = 9  # cell centres as clean decimals (-74.25, not -74.25000000000001)


@dataclass(frozen=True)
class LocationPrecision:
    """How precise the locations of a view or export are.

    Attributes
    ----------
    cell_deg
        Side of the grid cell the points were moved to the centre of, in degrees; None when
        the locations are exact.
    sentence
        The statement for the view's caption and the export's manifest.
    """

    cell_deg: float | None
    sentence: str

    @property
    def exact(self) -> bool:
        """Whether the locations are the recorded ones."""
        return self.cell_deg is None

    def to_json(self) -> dict[str, Any]:
        """Manifest entry: ``{"exact": ..., "cell_deg": ..., "statement": ...}``."""
        return {"exact": self.exact, "cell_deg": self.cell_deg, "statement": self.sentence}


@dataclass(frozen=True)
class CoarsenedLayer:
    """A layer as a role may see it, and the precision of its locations."""

    frame: gpd.GeoDataFrame
    precision: LocationPrecision


EXACT = LocationPrecision(None, "Event locations are exact (as recorded).")


def _check_cell(cell_deg: float) -> None:
    if not 0 < cell_deg <= 10:
        raise SchemaError(f"grid cell of {cell_deg!r}°: expected a size in (0, 10] degrees, "
                          f"e.g. {DEFAULT_CELL_DEG}")


def cell_centres(values: np.ndarray[Any, Any], *, cell_deg: float, low: float,
                 high: float) -> np.ndarray[Any, Any]:
    """Centres of the cells of size ``cell_deg`` (aligned on ``low``) holding ``values``.

    A value on the upper edge ``high`` belongs to the last cell; centres never leave
    [``low``, ``high``].

    Examples
    --------
    >>> cell_centres(np.array([-74.23, 180.0, -180.0]), cell_deg=0.1, low=-180, high=180)
    array([ -74.25,  179.95, -179.95])
    """
    last = int(np.ceil((high - low) / cell_deg - 1e-9)) - 1
    index = np.clip(np.floor((values - low) / cell_deg + 1e-9), 0, last)
    return np.round(np.clip(low + (index + 0.5) * cell_deg, low, high), _DECIMALS)


def precision_sentence(cell_deg: float) -> Message:
    """Return the statement of a coarsened layer, for captions, briefings and manifests.

    A :class:`~geo.message.Message`: English where stored (a manifest's notes), in the
    reader's language where shown (:func:`geo.i18n.localize`).

    Examples
    --------
    >>> precision_sentence(0.25)
    'Event locations are shown at the centre of 0.25° grid cells (about 28 km); precise locations need one of these roles: Analyst, Administrator.'
    """  # noqa: E501
    who = join_messages(", ", [ROLE_NAMES[r] for r in roles_allowed(Action.SEE_PRECISE_LOCATIONS)])
    return Message("Event locations are shown at the centre of {cell}° grid cells (about {km} "
                   "km); precise locations need one of these roles: {roles}.",
                   cell=_degrees(cell_deg), km=round(cell_deg * KM_PER_DEG), roles=who)


def precision_short(cell_deg: float) -> Message:
    """Return the statement of a coarsened layer in a few words, for a map's subtitle.

    Examples
    --------
    >>> precision_short(0.1)
    'event locations at the centre of 0.1° cells (about 11 km)'
    """
    return Message("event locations at the centre of {cell}° cells (about {km} km)",
                   cell=_degrees(cell_deg), km=round(cell_deg * KM_PER_DEG))


def _degrees(cell_deg: float) -> Number:
    """Write the cell's side with the decimals it needs (0.1: one decimal)."""
    written = f"{cell_deg:g}"
    return Number(cell_deg, len(written.split(".")[1]) if "." in written else 0)


def _check_points(frame: gpd.GeoDataFrame) -> None:
    if frame.crs is None or frame.crs.to_epsg() != 4326:
        raise CRSError(f"coarsening needs EPSG:4326 (lon, lat), got {frame.crs}; "
                       "reproject with frame.to_crs(4326) first")
    geoms = frame.geometry.to_numpy()
    kinds = shapely.get_type_id(geoms)
    bad = (kinds != shapely.GeometryType.POINT) | shapely.is_empty(geoms)
    if len(frame) and bad.any():
        raise SchemaError(f"{int(bad.sum())} geometries are not points (or are empty or "
                          "missing); only point layers such as events can be coarsened")


def coarsen_points(frame: gpd.GeoDataFrame, *, cell_deg: float = DEFAULT_CELL_DEG
                   ) -> CoarsenedLayer:
    """Move every point to the centre of its grid cell; return a copy and its precision.

    Parameters
    ----------
    frame
        Points in EPSG:4326 (an events layer).
    cell_deg
        Side of the square cells, in degrees (default 0.1, about 11 km).

    Raises
    ------
    CRSError
        The frame is not in EPSG:4326.
    SchemaError
        A geometry is not a point, or the cell size is unusable.
    """
    _check_cell(cell_deg)
    _check_points(frame)
    out = frame.copy()
    xy = shapely.get_coordinates(out.geometry.to_numpy())
    lon = cell_centres(xy[:, 0], cell_deg=cell_deg, low=-180.0, high=180.0)
    lat = cell_centres(xy[:, 1], cell_deg=cell_deg, low=-90.0, high=90.0)
    out[out.geometry.name] = gpd.GeoSeries(shapely.points(lon, lat), index=out.index,
                                           crs=out.crs)
    for name in _COORD_COLUMNS:
        if name in out.columns and name != out.geometry.name:
            out[name] = lat if name in ("lat", "latitude", "y") else lon
    return CoarsenedLayer(out, LocationPrecision(cell_deg, precision_sentence(cell_deg)))


def coarsen_for_role(frame: gpd.GeoDataFrame, role: Role | str | None, *,
                     cell_deg: float = DEFAULT_CELL_DEG) -> CoarsenedLayer:
    """Return the layer as ``role`` may see or export it: exact with clearance, else coarse.

    A missing or unknown role gets the coarsened layer (default deny).
    """
    if can(role, Action.SEE_PRECISE_LOCATIONS):
        return CoarsenedLayer(frame, EXACT)
    return coarsen_points(frame, cell_deg=cell_deg)
