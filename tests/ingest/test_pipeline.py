"""Each format in, mapping, validation report, duplicates and the all-or-nothing commit."""

from __future__ import annotations

import json
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
from shapely.geometry import LineString, Point, box

from geo.ingest import (
    CommitError,
    FileRefusedError,
    Mapping,
    MappingError,
    commit,
    find_duplicates,
    load_mapping,
    propose_mapping,
    read_existing,
    read_source,
    receive_file,
    save_mapping,
    validate,
)
from geo.ingest.limits import Limits
from geo.ingest.mapping import list_mappings, mapping_path
from geo.world import data_version, read_layer
from tests.ingest.common import offer
from tests.ingest.hostile import _events_rows, good_tiff, unnamed_bands_tiff, xlsx_events

NOW = pd.Timestamp("2025-01-10T12:00:00Z")


def _csv(folder: Path, text: str, name: str = "eventos.csv") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_portuguese_headers_are_mapped(tmp_path: Path) -> None:
    """A Federal Police style sheet: every field found, "mercadoria" as the commodity."""
    path = _csv(tmp_path, "id;data;tipo;mercadoria;quantidade_kg;pais;fonte;confianca;descricao;"
                          "latitude;longitude\nPF-1;05/03/2024;seizure;cocaine;12,5;BR;PF;0,8;"
                          "x;-12,4;-54,2\n", name="eventos_pf.csv")
    with receive_file(path) as up:
        mapping = propose_mapping(read_source(up), "events")
    assert mapping.fields == {
        "latitude": "latitude", "longitude": "longitude", "event_id": "id",
        "occurred_at": "data", "event_type": "tipo", "commodity": "mercadoria",
        "quantity_kg": "quantidade_kg", "country": "pais", "source": "fonte",
        "confidence": "confianca", "description": "descricao"}


def test_csv_events_mapping_and_values(tmp_path: Path) -> None:
    path = _csv(tmp_path, _events_rows())
    with receive_file(path) as up:
        source = read_source(up)
        mapping = propose_mapping(source, "events")
        assert mapping.fields == {
            "latitude": "lat", "longitude": "lon", "event_id": "event_id",
            "occurred_at": "fecha", "event_type": "tipo", "commodity": "droga",
            "quantity_kg": "cantidad", "country": "pais", "source": "fuente",
            "confidence": "confianza", "description": "descripcion"}
        report = validate(source, mapping, imported_by="ana", now=NOW)
    acc = report.accepted
    assert report.counts == {"rows": 2, "accepted": 2, "rejected": 0}
    assert acc["occurred_at"].tolist() == [pd.Timestamp("2024-03-05", tz="UTC"),
                                           pd.Timestamp("2023-12-25", tz="UTC")]
    assert acc["commodity"].tolist() == ["cocaine", "cannabis"]
    assert acc.geometry.iloc[0].equals(Point(-74.2, -12.4))
    assert set(acc.columns) >= {"source_file", "source_sha256", "imported_by", "imported_at"}
    assert acc["imported_by"].iloc[0] == "ana"
    assert acc["imported_at"].iloc[0] == NOW
    assert acc["source_sha256"].iloc[0] == report.sha256
    assert len(report.sha256) == 64


def test_xlsx_events(tmp_path: Path) -> None:
    report = offer(xlsx_events(tmp_path), "events")
    assert report.counts["accepted"] == 2
    assert report.accepted["description"].iloc[0] == "Incautación en el VRAEM"


def test_a_row_with_several_faults_counts_under_each_and_numbers_read_as_typed(
        tmp_path: Path) -> None:
    from geo.i18n import Translator, localize

    text = ("id;data;tipo;mercadoria;quantidade_kg;pais;fonte;confianca;latitude;longitude\n"
            "PF-1;05/03/2024;seizure;cocaine;1.240,0;BR;PF;0,8;-12,4;-54,2\n"
            "PF-2;06/03/2024;seizure;cocaine;abc;BR;PF;2,5;95;-200\n"
            "PF-3;07/03/2024;seizure;cocaine;3;BR;PF;0,5;95;-54,2\n")
    report = offer(_csv(tmp_path, text, name="pf.csv"), "events")
    assert report.counts == {"rows": 3, "accepted": 1, "rejected": 2}
    assert report.reason_counts() == {"coordinates": 2, "quantity_kg": 1, "confidence": 1}
    reason = report.rejected["reason"].iloc[0]
    assert "confidence: 2.5 is outside 0..1.0 (write 0.8 or 80%)" in reason
    # the column keeps its schema name, as the mapping shows it; the numbers as typed there
    assert "confidence: 2,5 está fora de 0..1,0 (escreva 0,8 ou 80%)" in localize(
        reason, Translator("pt"))


def test_row_reasons_are_specific(tmp_path: Path) -> None:
    text = ("id,fecha,tipo,lat,lon,pais,fuente,confianza,droga\n"
            "a,2024-01-01,seizure,-9.4,-74.6,PE,x,0.5,cocaine\n"
            "b,31/02/2024,seizure,-9.4,-74.6,PE,x,0.5,cocaine\n"
            "c,2024-01-01,teleport,-9.4,-74.6,PE,x,0.5,cocaine\n"
            "d,2024-01-01,seizure,,,PE,x,0.5,cocaine\n"
            "e,2024-01-01,seizure,-9.4,-74.6,PE,x,80,cocaine\n"
            "a,2024-01-01,seizure,-9.4,-74.6,PE,x,0.5,cocaine\n"
            "f,2024-01-01,seizure,-9.4,-74.6,XX,x,0.5,cocaine\n"
            "g,2030-01-01,seizure,-9.4,-74.6,PE,x,0.5,cocaine\n")
    report = offer(_csv(tmp_path, text), "events")
    reasons = dict(zip(report.rejected["id"], report.rejected["reason"], strict=True))
    assert "cannot read '31/02/2024' as a date" in reasons["b"]
    assert "unknown value 'teleport'" in reasons["c"]
    assert "no coordinates" in reasons["d"]
    assert "80 is outside 0..1" in reasons["e"]
    assert "repeats row 1" in report.rejected["reason"].iloc[list(report.rejected["row"]).index(6)]
    assert "unknown value 'XX'" in reasons["f"]
    assert "in the future" in reasons["g"]
    assert report.accepted["event_id"].tolist() == ["a"]


def test_values_written_as_the_app_shows_them_are_accepted_in_every_language(
        tmp_path: Path) -> None:
    """A file typed from the screen ("pasta base de cocaína", "Voo suspeito") imports."""
    text = ("id,fecha,tipo,lat,lon,pais,fuente,confianza,droga\n"
            "a,2024-01-01,Interdicción,-9.4,-74.6,PE,x,0.5,pasta base de cocaína\n"
            "b,2024-01-01,Voo suspeito,-9.4,-74.6,PE,x,0.5,Precursores químicos\n"
            "c,2024-01-01,Lab dismantled,-9.4,-74.6,PE,x,0.5,ILLEGAL GOLD\n"
            "d,2024-01-01,seizure,-9.4,-74.6,PE,x,0.5,Oro ilegal\n"
            "e,2024-01-01,Alta,-9.4,-74.6,PE,x,0.5,cocaine\n")
    report = offer(_csv(tmp_path, text), "events")
    acc = report.accepted.set_index("event_id")
    assert acc.loc[["a", "b", "c", "d"], "event_type"].tolist() == [
        "interdiction", "suspicious_flight", "lab_dismantled", "seizure"]
    assert acc.loc[["a", "b", "c", "d"], "commodity"].tolist() == [
        "cocaine_base", "precursors", "gold", "gold"]
    # a name the app shows for another column's value ("Alta": high priority) is no event type
    reasons = dict(zip(report.rejected["id"], report.rejected["reason"], strict=True))
    assert "unknown value 'Alta'" in reasons["e"]


@pytest.mark.parametrize("language", ["en", "es", "pt"])
def test_every_shown_category_name_reads_back_as_its_code(language: str) -> None:
    from geo.categories import category_labels
    from geo.i18n import translator
    from geo.ingest.validate import _category_code

    names = category_labels(translator(language))
    for code, name in names.items():
        assert _category_code(name, {code}) == code, (language, name)
        assert _category_code(name.upper(), {code}) == code, (language, name)


def test_dms_wkt_and_pair_columns(tmp_path: Path) -> None:
    dms = "nombre,latitud,longitud\nA,9°24'30\"S,74°36'W\nB,\"-9,5\",\"-74,7\"\n"
    report = offer(_csv(tmp_path, dms, "dms.csv"), "aerodromes")
    assert report.accepted.geometry.iloc[0].y == pytest.approx(-(9 + 24.5 / 60))
    assert report.accepted.geometry.iloc[1].x == pytest.approx(-74.7)
    wkt = 'name,wkt\nzona,"POLYGON((-74 -9,-73 -9,-73 -8,-74 -8,-74 -9))"\nmala,"POLYGON((1"\n'
    report = offer(_csv(tmp_path, wkt, "wkt.csv"), "areas")
    assert report.accepted["name"].tolist() == ["zona"]
    assert "cannot read WKT" in report.rejected["reason"].iloc[0]
    pairs = "name,coordenadas\nX,\"9°24'S 74°36'W\"\n"
    report = offer(_csv(tmp_path, pairs, "pairs.csv"), "aerodromes")
    assert report.accepted.geometry.iloc[0].equals(Point(-74.6, -9.4))


def test_coordinates_found_by_value_range(tmp_path: Path) -> None:
    text = "ident,a,b\nX1,-9.4,-74.6\nX2,-12.0,-77.1\n"
    with receive_file(_csv(tmp_path, text, "x.csv")) as up:
        mapping = propose_mapping(read_source(up), "aerodromes")
    assert (mapping.fields["latitude"], mapping.fields["longitude"]) == ("a", "b")


def test_swapped_columns_warned(tmp_path: Path) -> None:
    text = "ident,lat,lon\nX1,-74.6,-9.4\nX2,-77.1,-12.0\n"
    report = offer(_csv(tmp_path, text, "sw.csv"), "aerodromes")
    assert any("exchanged" in w for w in report.warnings)


def test_month_first_detected_and_units(tmp_path: Path) -> None:
    text = ("id,date,type,lat,lon,country,source,confidence,commodity,quantity\n"
            "a,03/25/2024,seizure,-9.4,-74.6,Perú,x,50%,cocaína,1.5\n")
    path = _csv(tmp_path, text, "us.csv")
    with receive_file(path) as up:
        source = read_source(up)
        mapping = propose_mapping(source, "events")
        mapping.quantity_unit = "t"
        report = validate(source, mapping, imported_by="t")
    row = report.accepted.iloc[0]
    assert row["occurred_at"] == pd.Timestamp("2024-03-25", tz="UTC")
    assert row["quantity_kg"] == 1500.0
    assert row["confidence"] == 0.5
    assert row["country"] == "PE"


def test_timezone_of_naive_times(tmp_path: Path) -> None:
    text = ("id,fecha,tipo,lat,lon,pais,fuente,confianza,droga\n"
            "a,2024-01-01 10:00,seizure,-9,-74,PE,x,1,cocaine\n")
    with receive_file(_csv(tmp_path, text)) as up:
        source = read_source(up)
        mapping = propose_mapping(source, "events")
        mapping.timezone = "America/Lima"
        report = validate(source, mapping, imported_by="t")
    assert report.accepted["occurred_at"].iloc[0] == pd.Timestamp("2024-01-01T15:00Z")


def test_mapping_saved_per_partner_and_reused(tmp_path: Path) -> None:
    mapping = Mapping("events", fields={"latitude": "y", "longitude": "x"},
                      defaults={"source": "DEVIDA"}, quantity_unit="t", dayfirst=True,
                      values={"event_type": {"Decomiso": "seizure"}})
    path = save_mapping(mapping, tmp_path, "../Policía Nacional/PE")
    assert path == tmp_path / "mappings" / "policia_nacional_pe.json"
    assert load_mapping("Policía Nacional PE", data_dir=tmp_path) == mapping
    assert list_mappings(tmp_path) == ["policia_nacional_pe"]
    with pytest.raises(MappingError):
        mapping_path(tmp_path, "../..")
    bad = tmp_path / "bad.json"
    bad.write_text('{"layer": "events", "fields": {"nonsense": "x"}}')
    with pytest.raises(MappingError, match="unknown field"):
        load_mapping(bad)


def test_mapping_naming_a_missing_column_is_refused(tmp_path: Path) -> None:
    with receive_file(_csv(tmp_path, _events_rows())) as up, pytest.raises(MappingError):
        validate(read_source(up), Mapping("events", fields={"event_id": "nope"}),
                 imported_by="t")


def _geojson(folder: Path, gdf: gpd.GeoDataFrame, name: str) -> Path:
    path = folder / name
    gdf.to_file(path, driver="GeoJSON")
    return path


def test_kml_and_kmz(tmp_path: Path) -> None:
    kml = ('<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2">'
           "<Document><Folder><Placemark><name>VRAEM</name><ExtendedData><Data name='autor'>"
           "<value>ana</value></Data></ExtendedData><Polygon><outerBoundaryIs><LinearRing>"
           "<coordinates>-74,-12 -73,-12 -73,-11 -74,-12</coordinates></LinearRing>"
           "</outerBoundaryIs></Polygon></Placemark></Folder></Document></kml>")
    (tmp_path / "zona.kml").write_text(kml)
    report = offer(tmp_path / "zona.kml", "areas")
    assert report.accepted["name"].tolist() == ["VRAEM"]
    assert report.accepted["created_by"].tolist() == ["ana"]
    with zipfile.ZipFile(tmp_path / "zona.kmz", "w") as zf:
        zf.writestr("doc.kml", kml)
    assert offer(tmp_path / "zona.kmz", "areas").counts["accepted"] == 1


def test_zipped_shapefile_reprojected(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame({"name": ["a"]}, geometry=[box(-74, -10, -73.9, -9.9)], crs=4326)
    folder = tmp_path / "shp"
    folder.mkdir()
    gdf.to_crs(32718).to_file(folder / "zonas.shp")
    with zipfile.ZipFile(tmp_path / "zonas.zip", "w") as zf:
        for p in folder.iterdir():
            zf.write(p, f"datos/{p.name}")
    report = offer(tmp_path / "zonas.zip", "areas")
    assert report.accepted.geometry.iloc[0].bounds == pytest.approx((-74, -10, -73.9, -9.9),
                                                                     abs=1e-6)
    assert any("reprojected from EPSG:32718" in w for w in report.warnings)
    with zipfile.ZipFile(tmp_path / "noprj.zip", "w") as zf:
        for p in folder.iterdir():
            if p.suffix != ".prj":
                zf.write(p, p.name)
    with pytest.raises(FileRefusedError, match=r"no \.prj"):
        offer(tmp_path / "noprj.zip", "areas")
    with zipfile.ZipFile(tmp_path / "noshx.zip", "w") as zf:
        for p in folder.iterdir():
            if p.suffix != ".shx":
                zf.write(p, p.name)
    with pytest.raises(FileRefusedError, match=r"without \.shx"):
        offer(tmp_path / "noshx.zip", "areas")


def _routes() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"route_id": ["r1"], "mode": ["aéreo"], "first_seen": ["2020-01-01"],
         "last_seen": ["2024-01-01"], "confidence": [0.7], "source": ["JIATF"]},
        geometry=[LineString([(-69, 7), (-80, 12)])], crs=4326)


def test_geopackage_layers(tmp_path: Path) -> None:
    path = tmp_path / "rutas.gpkg"
    pyogrio.write_dataframe(_routes(), path, layer="rutas")
    report = offer(path, "routes")
    assert report.accepted["mode"].tolist() == ["air"]
    pyogrio.write_dataframe(_routes(), path, layer="otras", append=False)
    with receive_file(path) as up, pytest.raises(FileRefusedError, match="2 layers"):
        read_source(up)
    with receive_file(path) as up:
        assert read_source(up, source_layer="otras").table["route_id"].tolist() == ["r1"]


def test_geoparquet(tmp_path: Path) -> None:
    path = tmp_path / "rutas.parquet"
    _routes().to_parquet(path)
    assert offer(path, "routes").counts["accepted"] == 1


def test_scene_registered_and_committed(tmp_path: Path) -> None:
    tif = good_tiff(tmp_path)
    data = tmp_path / "data"
    data.mkdir()
    with receive_file(tif) as up:  # commit before the upload's folder is removed
        source = read_source(up)
        report = validate(source, propose_mapping(source, "scenes"), imported_by="t")
        result = commit(report, data)
    row = report.accepted.iloc[0]
    assert row["scene_id"] == "scene_2024-08-02"
    assert row["path"] == "scenes/scene_2024-08-02.tif"
    assert row["acquired_at"] == pd.Timestamp("2024-08-02", tz="UTC")
    assert row["bands"] == "red,green,blue,cloud"
    assert row["sensor"] == "test-sensor"
    assert row["native_crs"] == "EPSG:32718"
    assert row["resolution_m"] == 10.0
    assert row["cloud_share"] == pytest.approx(0.25, abs=0.01)
    x0, y0, x1, y1 = row.geometry.bounds
    assert -75.1 < x0 < x1 < -74.9
    assert -9.5 < y0 < y1 < -9.3
    stored = data / "scenes" / "scene_2024-08-02.tif"
    with rasterio.open(tif) as original, rasterio.open(stored) as copy:
        assert np.array_equal(original.read(), copy.read())  # the same pixels
        assert copy.profile["crs"] == original.profile["crs"]
        assert copy.overviews(1), "no overviews built at ingest"  # for the imagery page
    assert read_layer(result.path, "scenes")["scene_id"].tolist() == ["scene_2024-08-02"]


def test_a_scene_left_uncatalogued_by_a_killed_import_does_not_block_its_retry(
        tmp_path: Path) -> None:
    """A file left by an import killed before its catalogue was written is set aside.

    Every later import of that scene was refused ("already exists").
    """
    tif = good_tiff(tmp_path)
    data = tmp_path / "data"
    (data / "scenes").mkdir(parents=True)
    left = data / "scenes" / "scene_2024-08-02.tif"
    left.write_bytes(b"what the killed import had written")
    with receive_file(tif) as up:
        source = read_source(up)
        report = validate(source, propose_mapping(source, "scenes"), imported_by="t")
        result = commit(report, data)
    assert read_layer(result.path, "scenes")["scene_id"].tolist() == ["scene_2024-08-02"]
    with rasterio.open(tif) as original, rasterio.open(left) as stored:
        assert np.array_equal(original.read(), stored.read())
    [aside] = (data / "scenes").glob("scene_2024-08-02.tif.orphaned-*")
    assert aside.read_bytes() == b"what the killed import had written"  # kept, not lost
    # a scene the catalogue lists is still never written over
    with receive_file(tif) as up:
        source = read_source(up)
        again = validate(source, propose_mapping(source, "scenes"), imported_by="t")
        with pytest.raises(CommitError, match="already stored"):
            commit(again, data)


def test_a_scene_of_3_125_m_pixels_three_eighths_cloudy_is_catalogued_as_such(
        tmp_path: Path) -> None:
    """Both figures have three decimals: never read as thousands (3,125 m; 375 %)."""
    tif = tmp_path / "planet_2024-08-02.tif"
    data = np.full((2, 512, 512), 500, dtype=np.uint16)
    data[1] = 0
    data[1, :192] = 1  # three eighths cloudy
    profile = {"driver": "GTiff", "dtype": "uint16", "count": 2, "width": 512, "height": 512,
               "crs": "EPSG:32718",
               "transform": rasterio.transform.from_origin(600000, 8960000, 3.125, 3.125)}
    with rasterio.open(tif, "w", **profile) as dst:
        dst.write(data)
        dst.descriptions = ("red", "cloud")
    with receive_file(tif) as up:
        source = read_source(up)
        report = validate(source, propose_mapping(source, "scenes"), imported_by="t")
    (row,) = report.accepted.itertuples()
    assert (row.resolution_m, row.cloud_share) == (3.125, 0.375)


def _import_scene(tif: Path, data: Path) -> tuple[pd.Series, list[str]]:
    """Read, validate and commit one scene into the folder ``data``: its row and warnings."""
    data.mkdir()
    with receive_file(tif) as up:
        source = read_source(up)
        report = validate(source, propose_mapping(source, "scenes"), imported_by="t")
        commit(report, data)
    row: pd.Series = report.accepted.iloc[0]
    return row, [str(w) for w in report.warnings]


def test_a_scene_in_degrees_is_stored_on_its_utm_grid(tmp_path: Path) -> None:
    """An Earth Engine export in EPSG:4326: catalogued as it came, stored in metres."""
    from geo.imagery import read_scene_info
    from tests.geo.test_reproject import to_degrees

    (tmp_path / "utm").mkdir()
    tif = to_degrees(good_tiff(tmp_path / "utm"), tmp_path / "scene_2024-08-02.tif")
    data = tmp_path / "data"
    row, warned = _import_scene(tif, data)
    assert warned == [f"stored on its UTM grid (EPSG:32718, {row['resolution_m']:.2f} m "
                      "pixels): detection measures in ground metres on square pixels"]
    assert (row["native_crs"], row["bands"]) == ("EPSG:4326", "red,green,blue,cloud")
    assert row["resolution_m"] == pytest.approx(10.0, rel=0.02)
    assert row["cloud_share"] == pytest.approx(0.25, abs=0.02)
    stored = data / "scenes" / "scene_2024-08-02.tif"
    info = read_scene_info(stored)  # what the imagery page and detection read
    assert (info.epsg, info.res_m) == (32718, row["resolution_m"])
    assert info.roles.has("red", "green", "blue", "cloud")
    with rasterio.open(stored) as copy:
        assert copy.overviews(1), "no overviews built at ingest"
        assert set(np.unique(copy.read(4))) <= {0, 1}  # the cloud codes, never blended


def test_a_scene_in_web_mercator_is_stored_on_its_utm_grid(tmp_path: Path) -> None:
    """A portal's EPSG:3857 export at 34 S: its "metres" are 0.83 m on the ground there."""
    from affine import Affine

    from geo.imagery import read_scene_info
    from tests.geo.test_reproject import to_web_mercator

    (tmp_path / "utm").mkdir()
    utm = good_tiff(tmp_path / "utm")
    with rasterio.open(utm, "r+") as dst:
        dst.crs = "EPSG:32721"
        dst.transform = Affine(10.0, 0.0, 350_000.0, 0.0, -10.0, 6_240_000.0)
    tif = to_web_mercator(utm, tmp_path / "scene_2024-08-02.tif")
    with rasterio.open(tif) as src:
        assert src.transform.a > 11.9  # Mercator metres of a 10 m pixel at 34 S
    data = tmp_path / "data"
    row, warned = _import_scene(tif, data)
    assert warned == [f"stored on its UTM grid (EPSG:32721, {row['resolution_m']:.2f} m "
                      "pixels): detection measures in ground metres on square pixels"]
    assert row["native_crs"] == "EPSG:3857"
    assert row["resolution_m"] == pytest.approx(10.0, rel=0.03)  # ground metres
    info = read_scene_info(data / "scenes" / "scene_2024-08-02.tif")
    assert (info.epsg, info.res_m) == (32721, row["resolution_m"])


def test_a_scene_in_degrees_wider_than_a_utm_zone_is_refused(tmp_path: Path) -> None:
    tif = tmp_path / "wide_2024-08-02.tif"
    profile = {"driver": "GTiff", "dtype": "uint16", "count": 1, "width": 800, "height": 8,
               "crs": "EPSG:4326", "transform": rasterio.transform.from_origin(-80, -5, 0.01,
                                                                              0.01)}
    with rasterio.open(tif, "w", **profile) as dst:
        dst.write(np.full((1, 8, 800), 500, dtype=np.uint16))
    with receive_file(tif) as up, pytest.raises(FileRefusedError,
                                                match=r"spans 8\.0 x 0\.1 degrees"):
        read_source(up)


def test_a_scene_whose_bands_detection_cannot_name_is_stored_with_a_warning(
        tmp_path: Path) -> None:
    """The app's detection jobs name bands from their descriptions only: say so at import."""
    tif = good_tiff(tmp_path)
    with rasterio.open(tif, "r+") as dst:
        dst.descriptions = ("uno", "dos", "tres", "cuatro")  # B4, B3, B2 would be named
    row, warned = _import_scene(tif, tmp_path / "data")
    assert row["bands"] == "band1,band2,band3,band4"
    assert len(warned) == 1
    assert warned[0].startswith("detection cannot tell which band is which")
    assert "--bands" in warned[0]
    _, named = _import_scene(good_tiff(tmp_path / "data"), tmp_path / "data2")
    assert named == []  # red, green, blue and a cloud band: nothing to say


LANDSAT_ROLES = {"blue": 1, "green": 2, "red": 3, "nir": 4, "swir1": 5}


def test_a_scene_whose_bands_the_user_names_is_stored_with_them(tmp_path: Path) -> None:
    """Mapping.bands: the row says them, no warning, the stored copy's descriptions carry them."""
    from geo.imagery import read_scene_info

    tif = unnamed_bands_tiff(tmp_path)
    data = tmp_path / "data"
    data.mkdir()
    with receive_file(tif) as up:
        source = read_source(up)
        assert source.table["bands"].tolist() == ["band1,band2,band3,band4,band5,band6"]
        assert [n for n in source.notes if n.startswith("detection cannot tell")]
        mapping = replace(propose_mapping(source, "scenes"), bands=dict(LANDSAT_ROLES))
        report = validate(source, Mapping.from_json(mapping.to_json()), imported_by="t")
        assert report.accepted["bands"].tolist() == ["blue,green,red,nir,swir1,band6"]
        assert report.warnings == []
        commit(report, data)
    stored = data / "scenes" / tif.name
    with rasterio.open(stored) as copy, rasterio.open(tif) as original:
        assert copy.descriptions == ("blue", "green", "red", "nir", "swir1", "QA_PIXEL")
        assert np.array_equal(copy.read(), original.read())
    assert dict(read_scene_info(stored).roles.pairs) == LANDSAT_ROLES
    assert sorted(p.name for p in stored.parent.iterdir()) == [tif.name]  # no side-car file


def test_band_roles_that_leave_red_unnamed_keep_the_warning_and_the_file_as_it_was(
        tmp_path: Path) -> None:
    tif = unnamed_bands_tiff(tmp_path)
    row, warned = _import_scene_with(tif, tmp_path / "data", {"blue": 1, "green": 2})
    assert row["bands"] == "blue,green,band3,band4,band5,band6"
    assert len(warned) == 1
    assert warned[0].startswith("detection cannot tell")
    with rasterio.open(tmp_path / "data" / "scenes" / tif.name) as copy:
        assert copy.descriptions == ("blue", "green", "SR_B4", "SR_B5", "SR_B6", "QA_PIXEL")


def test_band_roles_replace_the_descriptions_roles(tmp_path: Path) -> None:
    """A band the user leaves unnamed loses a role its description gave (as --bands does)."""
    tif = good_tiff(tmp_path)  # red, green, blue, cloud
    roles = {"blue": 1, "green": 2, "red": 3}  # the file's order was wrong
    row, warned = _import_scene_with(tif, tmp_path / "data", roles)
    assert (row["bands"], warned) == ("blue,green,red,band4", [])
    with rasterio.open(tmp_path / "data" / "scenes" / tif.name) as copy:
        assert copy.descriptions == ("blue", "green", "red", None)  # "cloud" cleared


def _import_scene_with(tif: Path, data: Path, roles: dict[str, int]
                       ) -> tuple[pd.Series, list[str]]:
    data.mkdir()
    with receive_file(tif) as up:
        source = read_source(up)
        mapping = replace(propose_mapping(source, "scenes"), bands=roles)
        report = validate(source, mapping, imported_by="t")
        commit(report, data)
    return report.accepted.iloc[0], [str(w) for w in report.warnings]


@pytest.mark.parametrize(("layer", "roles", "says"), [
    ("events", {"red": 1}, "band roles are for scenes"),
    ("scenes", {"red": 0}, "whole numbers from 1"),
    ("scenes", {"red": True}, "whole numbers from 1"),
    ("scenes", {"red": 1, "nir": 1}, "band 1 given to both"),
    ("scenes", {"rojo": 1}, "unknown band role"),
])
def test_wrong_band_roles_are_refused_in_words(layer: str, roles: dict[str, int],
                                               says: str) -> None:
    with pytest.raises(MappingError, match=says):
        Mapping(layer, bands=roles).check()
    with pytest.raises(MappingError, match=says):
        Mapping.from_json(json.dumps({"layer": layer, "bands": roles}))


def test_band_roles_beyond_the_files_bands_are_refused(tmp_path: Path) -> None:
    with receive_file(unnamed_bands_tiff(tmp_path)) as up:
        source = read_source(up)
        mapping = replace(propose_mapping(source, "scenes"), bands={"red": 3, "nir": 8})
        with pytest.raises(FileRefusedError, match=r"nir=8 name bands .* it has 6"):
            validate(source, mapping, imported_by="t")


def test_a_scene_near_a_pole_is_refused_in_words(tmp_path: Path) -> None:
    """No UTM zone holds it (before: a division by zero in the reader)."""
    tif = tmp_path / "pole_2024-08-02.tif"
    profile = {"driver": "GTiff", "dtype": "uint16", "count": 1, "width": 50, "height": 50,
               "crs": "EPSG:4326", "transform": rasterio.transform.from_origin(10, 89.99, 1e-4,
                                                                              1e-4)}
    with rasterio.open(tif, "w", **profile) as dst:
        dst.write(np.full((1, 50, 50), 500, dtype=np.uint16))
    with receive_file(tif) as up, pytest.raises(FileRefusedError,
                                                match=r"beyond the UTM zones"):
        read_source(up)


def test_a_scene_in_degrees_too_large_once_on_utm_is_refused_before_storing(
        tmp_path: Path) -> None:
    tif = tmp_path / "patagonia_2024-08-02.tif"
    profile = {"driver": "GTiff", "dtype": "uint16", "count": 1, "width": 100, "height": 100,
               "crs": "EPSG:4326", "transform": rasterio.transform.from_origin(-70, -50, 1e-4,
                                                                              1e-4)}
    with rasterio.open(tif, "w", **profile) as dst:
        dst.write(np.full((1, 100, 100), 900, dtype=np.uint16))
    with receive_file(tif) as up, pytest.raises(FileRefusedError,
                                                match=r"once on the UTM grid; the cap is"):
        read_source(up, limits=Limits(max_raster_bytes=25_000))  # 20,000 as it came


def test_commit_then_duplicates_then_clash(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    path = _csv(tmp_path, _events_rows())
    report = offer(path, "events")
    before = data_version(data)
    result = commit(report, data)
    assert (result.added, result.total) == (2, 2)
    assert data_version(data) != before
    stored = read_layer(data / "events.parquet", "events")
    assert stored["source_file"].tolist() == ["eventos.csv"] * 2
    again = offer(path, "events")
    dups = find_duplicates(again.accepted, read_existing(data, "events"), layer="events")
    assert dups.new_index == [0, 1]
    assert dups.pairs["existing_id"].tolist() == ["E1", "E2"]
    assert dups.pairs["distance_m"].max() < 1
    assert commit(again, data, skip=dups.new_index).added == 0
    content = (data / "events.parquet").read_bytes()
    with pytest.raises(CommitError, match="already stored"):
        commit(again, data)
    assert (data / "events.parquet").read_bytes() == content


def test_duplicates_respect_tolerances(tmp_path: Path) -> None:
    base = offer(_csv(tmp_path, _events_rows()), "events").accepted
    moved = base.copy()
    moved["geometry"] = [Point(-74.2, -12.4 + 0.003), Point(-78.8, 1.8 + 0.01)]  # 330 m, 1.1 km
    moved["occurred_at"] = moved["occurred_at"] + pd.Timedelta(hours=20)
    assert find_duplicates(moved, base, layer="events").new_index == [0]
    moved["event_type"] = "incident"
    assert find_duplicates(moved, base, layer="events").new_index == []


def test_failed_write_leaves_the_old_layer(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    data.mkdir()
    gdf = gpd.GeoDataFrame({"ident": ["SPJC"], "name": ["Jorge Chávez"]},
                           geometry=[Point(-77.11, -12.02)], crs=4326)
    first = offer(_geojson(tmp_path, gdf, "a.geojson"), "aerodromes")
    commit(first, data)
    content = (data / "aerodromes.geojson").read_bytes()
    gdf2 = gpd.GeoDataFrame({"ident": ["SKBO"], "name": ["El Dorado"]},
                            geometry=[Point(-74.14, 4.70)], crs=4326)
    second = offer(_geojson(tmp_path, gdf2, "b.geojson"), "aerodromes")

    def broken(layer: gpd.GeoDataFrame, path: Path, **_: object) -> Path:
        Path(path).write_text('{"type": "FeatureCollection", "feat')  # half written
        raise OSError("disk full")

    monkeypatch.setattr(sys.modules["geo.ingest.commit"], "write_geojson", broken)
    with pytest.raises(OSError, match="disk full"):
        commit(second, data)
    assert (data / "aerodromes.geojson").read_bytes() == content
    assert sorted(p.name for p in data.iterdir()) == [".ingest.lock", "aerodromes.geojson"]


def test_areas_commit_readable_by_the_app(tmp_path: Path) -> None:
    from geo.areas import read_areas

    data = tmp_path / "data"
    data.mkdir()
    gdf = gpd.GeoDataFrame({"name": ["zona"]}, geometry=[box(-74, -10, -73, -9)], crs=4326)
    commit(offer(_geojson(tmp_path, gdf, "z.geojson"), "areas"), data)
    areas = read_areas(data)
    assert areas["name"].tolist() == ["zona"]
    assert np.isclose(areas.geometry.iloc[0].area, 1.0)


def test_isolated_reader_same_result_and_memory_cap(tmp_path: Path) -> None:
    from geo.ingest import Limits, read_source_isolated
    from tests.ingest.hostile import million_vertices

    with receive_file(_csv(tmp_path, _events_rows())) as up:
        source = read_source_isolated(up)
        assert source.table.equals(read_source(up).table)
    tight = Limits(max_memory_bytes=16 * 1024**2)
    with receive_file(million_vertices(tmp_path)) as up, \
            pytest.raises(FileRefusedError, match="more than 16 MB of memory"):
        read_source_isolated(up, limits=tight)


def test_isolated_validation_same_report_refusals_and_memory_cap(tmp_path: Path) -> None:
    """Rows checked in the capped worker: the same report, its refusals word for word."""
    from geo.ingest import validate_isolated

    with receive_file(_csv(tmp_path, _events_rows())) as up:
        source = read_source(up)
    mapping = propose_mapping(source, "events")
    here = validate(source, mapping, imported_by="ana")
    there = validate_isolated(source, mapping, imported_by="ana")
    assert there.counts == here.counts
    stamps = ["imported_at"]
    pd.testing.assert_frame_equal(there.accepted.drop(columns=stamps),
                                  here.accepted.drop(columns=stamps))
    with pytest.raises(FileRefusedError, match="nope"):  # a MappingError, as its message
        validate_isolated(source, Mapping("events", fields={"event_id": "nope"}),
                          imported_by="ana")
    rows = "".join(f"E{i};2024-03-05;seizure;cocaine;{i};PE;x;0.5;d;POINT (-74.{i % 9} -9.4)\n"
                   for i in range(200_000))
    path = _csv(tmp_path, "id;fecha;tipo;droga;cantidad;pais;fuente;confianza;descripcion;"
                          "geometry\n" + rows, name="many.csv")
    with receive_file(path) as up:
        big = read_source(up)
    tight = Limits(max_memory_bytes=8 * 1024**2)  # the checker gets twice the reader's cap
    # a MemoryError in Python ("... to check its rows") or an abort in native code when an
    # allocation fails ("checking its rows stopped (exit status -6) ..."): both name the cap
    with pytest.raises(FileRefusedError,
                       match=r"(check|checking) its rows.*more than 16 MB of memory|"
                             r"more than 16 MB of memory to check its rows"):
        validate_isolated(big, propose_mapping(big, "events"), imported_by="ana", limits=tight)


def test_preview_for_the_mapping_step(tmp_path: Path) -> None:
    with receive_file(_csv(tmp_path, _events_rows())) as up:
        head = read_source(up).preview(1)
    assert head.shape == (1, 11)
    assert head["cantidad"].iloc[0] == "1.234,5"  # as written, before any parsing
    gdf = gpd.GeoDataFrame({"ident": ["A"]}, geometry=[Point(-74.6, -9.4)], crs=4326)
    with receive_file(_geojson(tmp_path, gdf, "a.geojson")) as up:
        head = read_source(up).preview()
    assert head["geometry"].tolist() == ["POINT (-74.6 -9.4)"]


def test_the_package_leaves_deduplication_until_it_is_used() -> None:
    """A capped worker imports ``geo.ingest`` for its reader: SciPy stays out of its start."""
    import subprocess

    from tests.conftest import ROOT

    code = ("import sys, geo.ingest, geo.ingest.isolate, geo.ingest.readers, "
            "geo.ingest.validate\n"
            "assert 'scipy.spatial' not in sys.modules, 'scipy.spatial was imported'\n"
            "from geo.ingest import Duplicates, Tolerances, find_duplicates, commit, validate\n"
            "assert find_duplicates.__module__ == 'geo.ingest.dedupe'\n"
            "assert callable(commit) and callable(validate)  # functions, not the submodules\n"
            "import geo.ingest as g\n"
            "try:\n    g.no_such_name\nexcept AttributeError as e:\n    print(e)\n")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "module 'geo.ingest' has no attribute 'no_such_name'"
