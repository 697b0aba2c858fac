"""Saved areas of interest: validated, replaced by name, written atomically."""

from __future__ import annotations

from datetime import UTC, datetime

import geopandas as gpd
import pytest
from shapely.geometry import Point, box

from geo.areas import AREAS_FILE, delete_area, read_areas, save_area
from geo.errors import SchemaError
from geo.i18n import Message, Translator, localize


def test_save_reload_replace_and_delete(tmp_path):
    assert read_areas(tmp_path).empty
    when = datetime(2024, 5, 1, 12, tzinfo=UTC)
    save_area(tmp_path, "VRAEM", box(-75, -13, -73, -11), now=when)
    areas = save_area(tmp_path, "  Beni   norte ", box(-66, -15, -64, -13), created_by="ana")
    assert list(areas["name"]) == ["VRAEM", "Beni norte"]
    assert areas["created_at"].iloc[0] == when
    replaced = save_area(tmp_path, "VRAEM", box(-76, -14, -73, -11))
    assert len(replaced) == 2
    assert replaced.set_index("name").geometry["VRAEM"].equals(box(-76, -14, -73, -11))
    left = delete_area(tmp_path, replaced["area_id"].iloc[0])
    assert len(left) == 1
    assert [p.name for p in tmp_path.iterdir()] == [AREAS_FILE]  # no temporary file left
    assert delete_area(tmp_path, left["area_id"].iloc[0]).empty
    assert read_areas(tmp_path).empty  # the last one deleted: read back as no area, no error


def test_hostile_names_are_kept_as_text(tmp_path):
    areas = save_area(tmp_path, "<img src=x onerror=alert(1)>", box(0, 0, 1, 1))
    assert areas["name"].iloc[0] == "<img src=x onerror=alert(1)>"


@pytest.mark.parametrize(
    ("name", "geometry", "message"),
    [
        pytest.param("   ", box(0, 0, 1, 1), "1 to 80 characters", id="blank-name"),
        pytest.param("x" * 81, box(0, 0, 1, 1), "1 to 80 characters", id="long-name"),
        pytest.param("p", Point(0, 0), "Polygon or MultiPolygon", id="point"),
        pytest.param("far", box(200, 0, 201, 1), "out of range for degrees", id="out-of-range"),
        pytest.param("utm", box(500_000, 8_000_000, 501_000, 8_001_000),
                     "not .* in degrees: swapped latitude and longitude", id="metres"),
    ],
)
def test_bad_areas_are_refused(tmp_path, name, geometry, message):
    with pytest.raises(SchemaError, match=message):
        save_area(tmp_path, name, geometry)
    assert not (tmp_path / AREAS_FILE).exists()


@pytest.mark.parametrize(
    ("name", "geometry", "english"),
    [
        pytest.param("   ", box(0, 0, 1, 1), "an area name needs 1 to 80 characters, got 0",
                     id="blank-name"),
        pytest.param("x" * 1500, box(0, 0, 1, 1),
                     "an area name needs 1 to 80 characters, got 1500", id="long-name"),
        # the rule of every area of interest (geo.filters.check_aoi), since 2026-12-07
        pytest.param("p", Point(0, 0),
                     "the area of interest must be a Polygon or MultiPolygon, got a Point",
                     id="point"),
        pytest.param("big", Point(0, 0).buffer(1, quad_segs=2600),  # 10,401 vertices
                     "the area of interest has 10,401 vertices, more than 10,000; simplify it "
                     "before using it as a filter", id="vertices"),
    ],
)
def test_a_refused_area_keeps_its_english_and_its_message(tmp_path, name, geometry, english):
    with pytest.raises(SchemaError) as info:
        save_area(tmp_path, name, geometry)
    assert str(info.value) == english  # the text it always was
    assert isinstance(info.value.args[0], Message)  # so the interface can localize it


def test_the_vertex_budget_is_written_with_the_readers_separators(tmp_path):
    with pytest.raises(SchemaError) as info:
        save_area(tmp_path, "big", Point(0, 0).buffer(1, quad_segs=2600))
    assert "10.000" in localize(info.value, Translator("es"))


@pytest.mark.filterwarnings("ignore:.*non conformant file extension:RuntimeWarning")
def test_an_areas_file_that_is_not_geojson_is_refused_with_a_message(tmp_path):
    gpd.GeoDataFrame({"name": ["a"]}, geometry=[box(0, 0, 1, 1)], crs=4326).to_file(
        tmp_path / "x.gpkg")
    (tmp_path / "x.gpkg").rename(tmp_path / AREAS_FILE)
    with pytest.raises(SchemaError) as info:
        read_areas(tmp_path)
    assert str(info.value) == "areas.geojson: GDAL reads it as 'GPKG'; expected GeoJSON"
    assert isinstance(info.value.args[0], Message)


def test_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    save_area(tmp_path, "one", box(0, 0, 1, 1))
    before = (tmp_path / AREAS_FILE).read_bytes()

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr("geo.atomicfile.os.replace", boom)
    with pytest.raises(OSError, match="disk full"):
        save_area(tmp_path, "two", box(1, 1, 2, 2))
    assert (tmp_path / AREAS_FILE).read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [AREAS_FILE]
