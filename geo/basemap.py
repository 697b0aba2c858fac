"""Read the Natural Earth country outlines shipped as TopoJSON by the ``world-atlas`` package.

A small, pure TopoJSON decoder (no extra dependency): arcs are delta-decoded with the topology's
transform, rings are stitched from arcs (a negative index ``~i`` means arc ``i`` reversed), and
Polygon/MultiPolygon objects become shapely geometries with their properties kept.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
import shapely.affinity
from shapely.geometry.base import BaseGeometry

from geo.errors import DataNotFoundError, SchemaError

__all__ = ["decode_topojson", "polygonal_parts", "read_topojson", "split_antimeridian"]


def _decode_arcs(topology: dict[str, Any]) -> list[np.ndarray]:
    """Absolute (lon, lat) coordinates of every arc."""
    transform = topology.get("transform")
    arcs: list[np.ndarray] = []
    for raw in topology.get("arcs", []):
        pts = np.asarray(raw, dtype="float64").reshape(-1, 2) if raw else np.empty((0, 2))
        if transform is not None:
            # Quantized topologies store the first position absolutely, then deltas.
            pts = np.cumsum(pts, axis=0) * np.asarray(transform["scale"], dtype="float64")
            pts += np.asarray(transform["translate"], dtype="float64")
        arcs.append(pts)
    return arcs


def _ring(indices: Sequence[int], arcs: list[np.ndarray]) -> np.ndarray:
    parts: list[np.ndarray] = []
    for k, index in enumerate(indices):
        arc = arcs[~index][::-1] if index < 0 else arcs[index]
        # Consecutive arcs share their end/start point; keep it once.
        parts.append(arc if k == 0 else arc[1:])
    return np.concatenate(parts) if parts else np.empty((0, 2))


def _polygon(rings: Sequence[Sequence[int]], arcs: list[np.ndarray]) -> shapely.Polygon | None:
    coords = [_ring(r, arcs) for r in rings]
    coords = [c for c in coords if len(c) >= 4]
    if not coords:
        return None
    return shapely.Polygon(coords[0], coords[1:])


def _geometry(obj: dict[str, Any], arcs: list[np.ndarray]) -> BaseGeometry | None:
    kind = obj.get("type")
    if kind == "Polygon":
        return _polygon(obj["arcs"], arcs)
    if kind == "MultiPolygon":
        polys = [p for p in (_polygon(r, arcs) for r in obj["arcs"]) if p is not None]
        return shapely.MultiPolygon(polys) if polys else None
    return None  # null geometries and non-areal types are not used for the basemap


def decode_topojson(topology: dict[str, Any], object_name: str) -> gpd.GeoDataFrame:
    """Decode one object of a parsed TopoJSON topology into a GeoDataFrame in EPSG:4326.

    Parameters
    ----------
    topology
        The parsed TopoJSON document.
    object_name
        Name of the object to decode (``"countries"`` or ``"land"`` in world-atlas).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per Polygon/MultiPolygon geometry with its properties, plus ``id`` when present.

    Raises
    ------
    SchemaError
        If the document is not a topology or has no such object.

    Examples
    --------
    >>> topo = {"type": "Topology", "transform": {"scale": [1, 1], "translate": [0, 0]},
    ...         "arcs": [[[0, 0], [1, 0], [0, 1], [-1, 0], [0, -1]]],
    ...         "objects": {"sq": {"type": "GeometryCollection", "geometries": [
    ...             {"type": "Polygon", "arcs": [[0]], "id": "1", "properties": {"name": "A"}}]}}}
    >>> gdf = decode_topojson(topo, "sq")
    >>> gdf.loc[0, "name"], gdf.geometry[0].area
    ('A', 1.0)
    """
    if topology.get("type") != "Topology":
        raise SchemaError(f"expected a TopoJSON Topology, got type {topology.get('type')!r}")
    objects = topology.get("objects", {})
    if object_name not in objects:
        raise SchemaError(
            f"TopoJSON has no object {object_name!r}; it has {', '.join(objects) or 'none'}"
        )
    obj = objects[object_name]
    members = obj.get("geometries", []) if obj.get("type") == "GeometryCollection" else [obj]
    arcs = _decode_arcs(topology)
    rows: list[dict[str, Any]] = []
    geoms: list[BaseGeometry] = []
    for member in members:
        geom = _geometry(member, arcs)
        if geom is not None:
            geom = split_antimeridian(geom)
            if geom is not None and not geom.is_valid:
                geom = polygonal_parts(shapely.make_valid(geom))
        if geom is None:
            continue
        row = dict(member.get("properties") or {})
        if "id" in member:
            row["id"] = member["id"]
        rows.append(row)
        geoms.append(geom)
    return gpd.GeoDataFrame(rows, geometry=geoms, crs="EPSG:4326")


def read_topojson(path: str | Path, object_name: str) -> gpd.GeoDataFrame:
    """Read one object of a TopoJSON file (such as world-atlas ``countries-50m.json``).

    Parameters
    ----------
    path
        The ``.json`` TopoJSON file.
    object_name
        Object to decode (``"countries"`` or ``"land"``).

    Returns
    -------
    geopandas.GeoDataFrame
        Polygons in EPSG:4326 with the object's properties.

    Raises
    ------
    DataNotFoundError
        If the file does not exist.
    SchemaError
        If it is not a topology or lacks the object.
    """
    p = Path(path)
    if not p.is_file():
        raise DataNotFoundError(f"TopoJSON file {p} not found; run `npm ci` to install world-atlas")
    with p.open(encoding="utf-8") as fh:
        return decode_topojson(json.load(fh), object_name)


def split_antimeridian(geom: BaseGeometry) -> BaseGeometry | None:
    """Cut polygon parts whose rings jump across the antimeridian (world-atlas keeps them whole).

    Geometry in and out is EPSG:4326 degrees; the result lies within lon [-180, 180]. A ring
    that steps from +179.9 to -179.9 degrees would be drawn on a plane as an edge spanning the
    whole map. Each such ring is unwrapped to a continuous longitude (a ring that circles a pole
    is closed along the pole), then the polygon is cut into the [-180, 180] window from its
    copies shifted by -360, 0 and +360 degrees.

    Examples
    --------
    >>> fiji = shapely.Polygon([(179, -17), (-179, -17), (-179, -16), (179, -16)])
    >>> cut = split_antimeridian(fiji)
    >>> cut.geom_type, round(cut.area, 6), cut.bounds
    ('MultiPolygon', 2.0, (-180.0, -17.0, 180.0, -16.0))
    """
    if geom.is_empty or geom.bounds[2] - geom.bounds[0] <= 180.0:
        return geom  # nothing jumps across 180 degrees: keep the geometry as it is
    out: list[BaseGeometry] = []
    for part in shapely.get_parts(geom):
        if part.geom_type != "Polygon" or part.bounds[2] - part.bounds[0] <= 180.0:
            out.extend(shapely.get_parts(polygonal_parts(part)) if part.geom_type != "Polygon"
                       else [part])
            continue
        rings = [_unwrap_ring(r) for r in (part.exterior, *part.interiors)]
        whole = shapely.make_valid(shapely.Polygon(rings[0], rings[1:]))
        for dx in (-360.0, 0.0, 360.0):
            moved = shapely.affinity.translate(whole, xoff=dx)
            out.extend(p for p in shapely.get_parts(
                shapely.clip_by_rect(moved, -180.0, -90.0, 180.0, 90.0))
                if p.geom_type == "Polygon" and not p.is_empty)
    if not out:
        return None
    return polygonal_parts(shapely.make_valid(shapely.MultiPolygon(out)))


def _unwrap_ring(ring: BaseGeometry) -> np.ndarray:
    xy: np.ndarray = shapely.get_coordinates(ring)
    xy[:, 0] = np.unwrap(xy[:, 0], period=360.0)
    if abs(xy[-1, 0] - xy[0, 0]) > 180.0:  # circles a pole: close the ring along it
        pole = -90.0 if xy[:, 1].mean() < 0 else 90.0
        xy = np.vstack([xy, [[xy[-1, 0], pole], [xy[0, 0], pole]], xy[:1]])
    return xy


def polygonal_parts(geom: BaseGeometry) -> BaseGeometry | None:
    """Keep only the polygon parts of ``geom`` (clipping can leave slivers as lines or points)."""
    parts = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
    if not parts:
        return None
    polys = [p for g in parts for p in shapely.get_parts(g)]
    return polys[0] if len(polys) == 1 else shapely.MultiPolygon(polys)
