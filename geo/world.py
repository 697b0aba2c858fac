"""Reading a data folder (the generated sample world or a team's files) into validated layers.

Layout of a data folder (all vector files in EPSG:4326)::

    events.parquet      GeoParquet, events contract
    routes.geojson      routes contract
    candidates.geojson  runway candidates contract
    aerodromes.geojson  registered aerodromes contract
    scenes.geojson      imagery catalogue (paths relative to the folder)
    world.json          manifest written by ``python -m geo.sample``
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely

from geo.errors import DataNotFoundError, SchemaError
from geo.message import Message
from geo.schema import SCHEMAS, empty_layer, validate_layer

LAYER_FILES: dict[str, str] = {
    "events": "events.parquet",
    "routes": "routes.geojson",
    "candidates": "candidates.geojson",
    "aerodromes": "aerodromes.geojson",
    "scenes": "scenes.geojson",
}
#: Vector drivers a data folder may hold; GDAL opens what a file *is*, so anything else
#: (a VRT renamed .geojson, say) is refused before its content is read.
ALLOWED_DRIVERS = frozenset({"GeoJSON", "GPKG", "ESRI Shapefile"})


@dataclass(frozen=True)
class World:
    """Every layer of one data folder, validated against its contract.

    ``notes`` lists layers that were absent (shown empty) so the UI can say so.
    """

    data_dir: Path
    layers: dict[str, gpd.GeoDataFrame]
    manifest: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def __getitem__(self, name: str) -> gpd.GeoDataFrame:
        """Return the layer called ``name`` (``events``, ``routes`` ...)."""
        return self.layers[name]


def data_version(data_dir: Path) -> tuple[tuple[str, int, int], ...]:
    """Return a cheap fingerprint of a data folder: (file, size, mtime_ns) of each layer file.

    Used as a cache key: it changes whenever a layer file is rewritten.
    """
    out = []
    for name in (*LAYER_FILES.values(), "world.json"):
        path = data_dir / name
        if path.exists():
            st = path.stat()
            out.append((name, st.st_size, st.st_mtime_ns))
    return tuple(out)


def read_layer(path: Path, layer: str) -> gpd.GeoDataFrame:
    """Read one layer file and validate it against the ``layer`` contract.

    Raises
    ------
    SchemaError
        When the file breaks the contract (every problem listed, naming the file) or GDAL
        reads it as a driver a data folder may not hold; its message is a
        :class:`~geo.message.Message`.
    """
    return validate_layer(read_vector(path), SCHEMAS[layer], source=path.name)


def read_vector(path: Path) -> gpd.GeoDataFrame:
    """Read a vector file as GeoPandas does, if GeoParquet or a driver in ``ALLOWED_DRIVERS``.

    Raises
    ------
    SchemaError
        When GDAL reads it as another driver (a VRT, say, which may point at other files).
    """
    if path.suffix == ".parquet":
        return gpd.read_parquet(path)
    driver = pyogrio.read_info(path).get("driver")
    if driver not in ALLOWED_DRIVERS:
        raise SchemaError(Message("{name}: GDAL reads it as {driver}, which is not allowed "
                                  "here; expected one of {drivers}", name=path.name,
                                  driver=repr(driver), drivers=", ".join(sorted(ALLOWED_DRIVERS))))
    return gpd.read_file(path, engine="pyogrio")


def with_countries(candidates: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Add ``country``: the ISO code where each candidate lies (Natural Earth borders).

    So that the country filter narrows runway candidates as it does events and aerodromes.
    At sea, or with the borders missing, the country is empty (and a country filter drops
    the row). A frame that has the column already is returned as it is.
    """
    if "country" in candidates or candidates.empty:
        return candidates if "country" in candidates else candidates.assign(
            country=pd.Series([], dtype="string"))
    from geo.countries import locate_countries

    centres = shapely.centroid(candidates.geometry.to_numpy())
    codes = locate_countries(shapely.get_x(centres), shapely.get_y(centres))
    return candidates.assign(country=pd.Series(codes, index=candidates.index, dtype="string"))


def read_world(data_dir: Path) -> World:
    """Read and validate every layer of ``data_dir``.

    Raises
    ------
    DataNotFoundError
        When the folder holds no layer at all (with the command that generates one).
    SchemaError
        When a layer file breaks its contract.

    Both messages are :class:`~geo.message.Message`, shown in the reader's language.
    """
    present = {k: data_dir / f for k, f in LAYER_FILES.items() if (data_dir / f).exists()}
    if not present:
        raise DataNotFoundError(Message(
            "no data in {folder}: expected files such as {files}. Generate the sample world "
            "with: python -m geo.sample --out {folder}",
            folder=str(data_dir), files=", ".join(LAYER_FILES.values())))
    layers: dict[str, gpd.GeoDataFrame] = {}
    notes = []
    for name in LAYER_FILES:
        if name in present:
            layers[name] = read_layer(present[name], name)
        else:
            layers[name] = empty_layer(SCHEMAS[name])
            notes.append(name)
    layers["candidates"] = with_countries(layers["candidates"])
    manifest_path = data_dir / "world.json"
    manifest = json.loads(manifest_path.read_text("utf-8")) if manifest_path.exists() else {}
    return World(data_dir, layers, manifest, tuple(notes))
