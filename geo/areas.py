"""Named areas of interest, kept in ``areas.geojson`` in the data folder.

Analysts draw an area on the map, name it and reload it later. The file follows the ``areas``
contract (``geo.schema.AREAS``) and is rewritten atomically (a temporary file in the same
folder, then ``os.replace``), so a reader never sees half a file and a crash never leaves one.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
from shapely.geometry.base import BaseGeometry

from geo.atomicfile import write_atomic
from geo.errors import SchemaError
from geo.filters import check_aoi
from geo.message import Message
from geo.schema import AREAS, empty_layer, validate_layer

__all__ = ["AREAS_FILE", "MAX_NAME", "delete_area", "read_areas", "save_area"]

AREAS_FILE = "areas.geojson"
MAX_NAME = 80  # characters


def read_areas(data_dir: Path) -> gpd.GeoDataFrame:
    """Return the saved areas of ``data_dir`` (an empty layer when there is no file yet).

    Raises
    ------
    SchemaError
        When the file is not GeoJSON or breaks the areas contract.
    """
    path = data_dir / AREAS_FILE
    if not path.exists():
        return empty_layer(AREAS)
    driver = pyogrio.read_info(path).get("driver")
    if driver != "GeoJSON":
        raise SchemaError(Message("{name}: GDAL reads it as {driver}; expected GeoJSON",
                                  name=path.name, driver=repr(driver)))
    gdf = gpd.read_file(path, engine="pyogrio")
    if gdf.empty:  # every area deleted: GDAL reads no columns from an empty collection
        return empty_layer(AREAS)
    return validate_layer(gdf, AREAS, source=path.name)


def _write(areas: gpd.GeoDataFrame, data_dir: Path) -> None:
    clean = validate_layer(areas, AREAS, source=AREAS_FILE)
    out = clean.copy()
    out["created_at"] = out["created_at"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    text = out.to_json(drop_id=True, ensure_ascii=False)
    write_atomic(data_dir / AREAS_FILE, text)


def save_area(data_dir: Path, name: str, geometry: BaseGeometry, *,
              created_by: str | None = None, now: datetime | None = None) -> gpd.GeoDataFrame:
    """Add (or replace, by name) one area and rewrite ``areas.geojson`` atomically.

    Parameters
    ----------
    data_dir
        The data folder (must exist).
    name
        Shown in the area list; 1 to ``MAX_NAME`` characters after trimming. Saving a name that
        exists replaces that area's geometry.
    geometry
        Polygon or MultiPolygon in EPSG:4326.

    Returns
    -------
    geopandas.GeoDataFrame
        Every saved area, the new one included.

    Raises
    ------
    SchemaError
        For an empty or too long name, or a geometry :func:`geo.filters.check_aoi` or the
        contract refuses (not a (Multi)Polygon, too many vertices, not degrees).
    """
    label = " ".join(name.split())
    if not label or len(label) > MAX_NAME:
        raise SchemaError(Message("an area name needs 1 to {most} characters, got {n}",
                                  most=MAX_NAME, n=str(len(label))))  # str: "1500" as before
    check_aoi(geometry)  # the rule of every area of interest (the map's filter, detection)
    areas = read_areas(data_dir)
    areas = areas[areas["name"] != label]
    row = gpd.GeoDataFrame(
        {"area_id": [uuid.uuid4().hex[:12]], "name": [label],
         "created_at": [pd.Timestamp(now or datetime.now(UTC)).tz_convert("UTC")],
         "created_by": [created_by]},
        geometry=[geometry], crs=4326)
    merged = gpd.GeoDataFrame(pd.concat([areas, row], ignore_index=True), crs=4326)
    _write(merged, data_dir)
    return read_areas(data_dir)


def delete_area(data_dir: Path, area_id: str) -> gpd.GeoDataFrame:
    """Remove the area ``area_id`` (no error when absent) and return the remaining ones."""
    areas = read_areas(data_dir)
    kept = areas[areas["area_id"] != area_id]
    if len(kept) != len(areas):
        _write(gpd.GeoDataFrame(kept, crs=4326), data_dir)
    return read_areas(data_dir)
