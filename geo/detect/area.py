"""Detection inside an area of interest: which windows run, which candidates are kept.

An analyst rarely needs a whole 110 km Sentinel-2 tile: a border strip, a river basin or a
province is the question, and reading only the windows that reach it makes the run that many
times shorter. The rule is the detector's own ownership rule (:class:`geo.detect.scene.Ownership`):
a candidate belongs to the window whose centre is nearest to its centre, so running the windows
whose *owned* part meets the area, and keeping the candidates whose centre lies in the area,
gives the candidates of a whole-scene run whose centre lies in the area, each found by the
same window from the same pixels, scored and explained alike. One thing can differ at the
area's edge: a candidate inside that overlaps a better one centred just outside is kept (the
whole run would have dropped it as the same strip).

The area is a polygon (or several) in EPSG:4326; lengths and tests happen in the scene's own
projected CRS, into which the area's edges are densified (every 0.01 degree, about 1 km) before
they are reprojected, so a long edge follows its true course rather than a chord.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pyogrio
import shapely
from affine import Affine
from shapely import affinity
from shapely.geometry import MultiPolygon, box
from shapely.geometry.base import BaseGeometry

from geo.crs import utm_epsg
from geo.detect.params import DetectionParams
from geo.detect.scene import Ownership, WindowKey, grid_windows
from geo.detect.window import RawCandidate
from geo.errors import ConfigError, DataNotFoundError, SchemaError
from geo.filters import check_aoi
from geo.imagery import SceneInfo
from geo.message import Message, message_of
from geo.world import read_vector

if TYPE_CHECKING:
    from geo.reproject import UtmGrid

__all__ = ["EDGE_MARGIN_M", "area_in_crs", "area_rows", "candidates_inside", "check_area",
           "read_area", "scene_area", "watched", "windows_in_area"]

#: Grid an area's polygons are joined on, in degrees (about 0.1 mm).
GRID_DEG = 1e-9
#: Largest step between two vertices of an area's edge before it is reprojected, in degrees.
DENSIFY_DEG = 0.01
#: How far inside the area a strip must lie for a run to say it is gone, in metres: half the
#: longest candidate the generator traces (4 km), so any candidate overlapping the strip, the
#: faint ones included, has its centre in the area and was kept. Nearer the edge, a strip a
#: run missed is unobserved (a sighting centred just outside was left out), never absent.
EDGE_MARGIN_M = 2000.0


def read_area(path: str | Path, name: str | None = None) -> BaseGeometry:
    """Read an area file (GeoJSON, GeoPackage, GeoParquet...) as one (Multi)Polygon, EPSG:4326.

    Every feature's polygons are joined (lines and points are ignored), or with ``name`` only
    those of the features whose ``name`` is that (the app's saved areas, ``areas.geojson``,
    hold one feature per area); a file in another CRS is reprojected; a file without a CRS is
    taken as longitude/latitude in degrees.

    Raises
    ------
    DataNotFoundError
        When the file does not exist.
    ConfigError
        When it cannot be read, has no feature of that ``name``, or :func:`check_area`
        refuses its polygons.
    """
    p = Path(path)
    if not p.is_file():
        raise DataNotFoundError(f"area file {p}: no such file")
    try:
        gdf = read_vector(p)
    except SchemaError as exc:  # a driver a data folder may not hold
        raise ConfigError(Message("{source}: {problem}", source=f"area file {p.name}",
                                  problem=message_of(exc))) from None
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError,
            ValueError) as exc:
        raise ConfigError(f"area file {p.name} cannot be read: {exc}") from exc
    if name is not None:
        names = sorted({str(n) for n in gdf["name"]}) if "name" in gdf else []
        if name not in names:
            raise ConfigError(f"area file {p.name} has no area named {name!r}; it has: "
                              f"{', '.join(map(repr, names)) or 'no names'}")
        gdf = gdf[gdf["name"].astype(str) == name]
    if gdf.crs is not None and not gdf.crs.equals("EPSG:4326"):
        gdf = gdf.to_crs(4326)
    parts = [g for g in gdf.geometry if g is not None and not g.is_empty]
    return check_area(shapely.GeometryCollection(parts), f"area file {p.name}")


def check_area(area: BaseGeometry, source: str = "the area") -> BaseGeometry:
    """Return ``area`` (EPSG:4326) made valid, its polygons only, once it passes the checks.

    Raises
    ------
    ConfigError
        When it holds no polygon, or :func:`geo.filters.check_aoi` refuses it (more than
        :data:`geo.filters.MAX_AOI_VERTICES` vertices, coordinates that are not degrees:
        swapped, or metres in a file without a CRS). ``source`` names it in the message.
    """
    # joined on a 1e-9 degree grid (0.1 mm): GEOS's floating overlay can fail on the
    # near-degenerate rings a hand-drawn or converted file holds
    with np.errstate(all="ignore"):  # degenerate rings: GEOS's answer, without a warning
        joined = shapely.union_all(_polygons(shapely.make_valid(area)), grid_size=GRID_DEG)
    polygons = _polygons(shapely.make_valid(joined))
    if not polygons:
        raise ConfigError(f"{source} holds no polygon")
    out: BaseGeometry = polygons[0] if len(polygons) == 1 else MultiPolygon(polygons)
    try:
        check_aoi(out)  # the rule every area of interest follows (the map's filter too)
    except SchemaError as exc:
        raise ConfigError(Message("{source}: {problem}", source=source,
                                  problem=message_of(exc))) from None
    return out


def _polygons(geom: BaseGeometry) -> list[BaseGeometry]:
    """Return the non-empty polygons of ``geom``, from collections nested at any depth."""
    out: list[BaseGeometry] = []
    for part in shapely.get_parts(geom):
        if part.geom_type == "Polygon" and not part.is_empty:
            out.append(part)
        elif part.geom_type in ("MultiPolygon", "GeometryCollection"):
            out += _polygons(part)
    return out


def area_in_crs(area: BaseGeometry, crs: Any) -> BaseGeometry:
    """``area`` (EPSG:4326) in ``crs``, its edges densified first (:data:`DENSIFY_DEG`)."""
    dense = shapely.segmentize(area, DENSIFY_DEG)
    out: BaseGeometry = gpd.GeoSeries([dense], crs=4326).to_crs(crs).iloc[0]
    return shapely.make_valid(out)


def scene_area(info: SceneInfo, area: BaseGeometry) -> BaseGeometry:
    """``area`` (EPSG:4326) in the scene's CRS (:func:`area_in_crs`)."""
    return area_in_crs(area, info.crs_wkt)


def area_rows(grid: UtmGrid, area: BaseGeometry, params: DetectionParams) -> tuple[int, int]:
    """Return the rows of a scene's UTM grid that a detection in ``area`` reads.

    ``(first, end)``: from the first row of the first window :func:`windows_in_area` runs
    to the end of the last, (0, 0) when it runs none. A copy of the scene holding only
    these rows (:func:`geo.reproject.reproject_scene`) starts and ends where the scene's
    windows do, so the windows laid on the copy are those the area runs, read from the
    same pixels: the same candidates as on a copy of the whole scene, without resampling
    the rows no window in the area reads (a small area of a large scene in degrees).
    """
    windows = grid_windows(grid.width, grid.height, grid.res_m, params)
    chosen = _windows_meeting(windows, grid.transform, area_in_crs(area, f"EPSG:{grid.epsg}"))
    if not chosen:
        return 0, 0
    return min(k[1] for k in chosen), max(k[1] + k[3] for k in chosen)


def windows_in_area(windows: Sequence[WindowKey], info: SceneInfo,
                    area: BaseGeometry) -> list[WindowKey]:
    """Return the windows whose owned part meets ``area`` (scene CRS), in their order.

    A window owns the candidates whose centre is nearer its centre than any other window's
    (:class:`geo.detect.scene.Ownership`); only those windows can own a candidate inside the
    area. ``windows`` are all of the scene's windows (ownership depends on every one).
    """
    return _windows_meeting(windows, info.transform, area)


def _windows_meeting(windows: Sequence[WindowKey], t: Affine,
                     area: BaseGeometry) -> list[WindowKey]:
    """:func:`windows_in_area` on a grid whose pixel-to-CRS transform is ``t``."""
    owners = Ownership.of(windows)
    matrix = [t.a, t.b, t.d, t.e, t.c, t.f]  # shapely's order: pixel (col, row) -> scene CRS
    shapely.prepare(area)  # many tests against one shape
    out = []
    for key in windows:
        r0, r1, c0, c1 = owners.box(key)
        col0, row0 = key[0] + max(c0, 0), key[1] + max(r0, 0)
        col1, row1 = key[0] + min(c1, key[2]), key[1] + min(r1, key[3])
        owned = affinity.affine_transform(box(col0, row0, col1, row1), matrix)
        if area.intersects(owned):
            out.append(key)
    return out


def watched(geoms: gpd.GeoSeries, area: BaseGeometry, *,
            margin_m: float = EDGE_MARGIN_M) -> np.ndarray:
    """Per geometry (any CRS): whether it lies ``margin_m`` metres or more inside ``area``.

    ``area`` in EPSG:4326; both are measured in the UTM zone of the area's centre.
    """
    if geoms.empty:
        return np.zeros(0, dtype=bool)
    c = area.centroid
    utm = utm_epsg(c.x, c.y)
    core = area_in_crs(area, f"EPSG:{utm}").buffer(-margin_m)
    return np.asarray(geoms.to_crs(utm).within(core), dtype=bool)


def candidates_inside(cands: Sequence[RawCandidate], area: BaseGeometry) -> list[RawCandidate]:
    """Return the candidates whose centre lies in ``area`` (scene CRS; the edge counts in)."""
    if not cands:
        return []
    xs = np.array([c.x for c in cands])
    ys = np.array([c.y for c in cands])
    keep = shapely.intersects_xy(area, xs, ys)
    return [c for c, k in zip(cands, keep, strict=True) if k]
