from __future__ import annotations

import json
from pathlib import Path

import pytest

from geo.basemap import decode_topojson, read_topojson
from geo.errors import DataNotFoundError, SchemaError

# Two unit squares sharing the edge x=1 (arc 1), quantized with scale 1 and a translate.
TOPO = {
    "type": "Topology",
    "transform": {"scale": [1, 1], "translate": [-70, -10]},
    "arcs": [
        [[1, 0], [-1, 0], [0, 1], [1, 0]],  # (-69,-10) -> (-70,-10) -> (-70,-9) -> (-69,-9)
        [[1, 1], [0, -1]],  # shared edge (-69,-9) -> (-69,-10)
        [[1, 0], [1, 0], [0, 1], [-1, 0]],  # (-69,-10) -> (-68,-10) -> (-68,-9) -> (-69,-9)
    ],
    "objects": {"countries": {"type": "GeometryCollection", "geometries": [
        {"type": "Polygon", "arcs": [[0, 1]], "id": "170", "properties": {"name": "West"}},
        {"type": "MultiPolygon", "arcs": [[[2, ~1]]], "id": "862",
         "properties": {"name": "East"}},
        {"type": None, "properties": {"name": "nothing"}},
    ]}},
}


def test_polygons_share_arcs_and_keep_properties() -> None:
    gdf = decode_topojson(TOPO, "countries")
    assert list(gdf["name"]) == ["West", "East"]
    assert list(gdf["id"]) == ["170", "862"]
    assert gdf.crs.to_epsg() == 4326
    west, east = gdf.geometry
    assert west.bounds == (-70.0, -10.0, -69.0, -9.0)
    assert east.geom_type == "MultiPolygon"
    assert east.bounds == (-69.0, -10.0, -68.0, -9.0)
    assert west.is_valid
    assert east.is_valid
    assert west.area == pytest.approx(1.0)
    assert east.area == pytest.approx(1.0)
    assert west.touches(east)


def test_unknown_object_and_non_topology_raise() -> None:
    with pytest.raises(SchemaError, match="no object 'land'"):
        decode_topojson(TOPO, "land")
    with pytest.raises(SchemaError, match="Topology"):
        decode_topojson({"type": "FeatureCollection"}, "countries")


def test_read_from_file(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text(json.dumps(TOPO), encoding="utf-8")
    assert len(read_topojson(path, "countries")) == 2
    with pytest.raises(DataNotFoundError, match="npm ci"):
        read_topojson(tmp_path / "absent.json", "countries")
