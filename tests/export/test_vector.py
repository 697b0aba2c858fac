"""Every vector format, opened by GDAL (pyogrio): counts, CRS and values exactly as filtered."""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from geo.export import Manifest, SnapshotSpec
from geo.export.frames import prepare_frame
from geo.export.html import snapshot_labels
from tests.export.world import (
    FORMULA,
    PETEN,
    SAO_PAULO,
    tiny_aerodromes,
    tiny_candidates,
    tiny_events,
    tiny_routes,
)

LAYERS = ("events", "routes", "candidates", "aerodromes")
EXPECTED = {"events": tiny_events, "routes": tiny_routes, "candidates": tiny_candidates,
            "aerodromes": tiny_aerodromes}


def _file(m: Manifest, fmt: str) -> Path:
    assert m.folder is not None
    [entry] = [f for f in m.files if f.format == fmt]
    return m.folder / entry.name


def _expected(layer: str) -> gpd.GeoDataFrame:
    return prepare_frame(EXPECTED[layer]())


def _same_text(got: pd.Series, want: pd.Series) -> None:
    g = [None if pd.isna(v) or v == "" else str(v) for v in got]
    w = [None if pd.isna(v) or v == "" else str(v) for v in want]
    assert g == w


def _same_geometry(got: gpd.GeoSeries, want: gpd.GeoSeries) -> None:
    """Check same vertices (to 1e-9 degree) and same dimension.

    A line may come back as a one-part MultiLineString (Shapefile and GeoPackage promote mixed
    layers), and a Shapefile turns polygon rings clockwise (compared normalised; lines keep
    their direction).
    """
    g, w = shapely.force_2d(got.to_numpy()), want.to_numpy()
    assert (shapely.get_dimensions(g) == shapely.get_dimensions(w)).all()
    for a, b in zip(g, w, strict=True):
        if shapely.get_dimensions(a) == 2:
            a, b = shapely.normalize(a), shapely.normalize(b)
        np.testing.assert_allclose(shapely.get_coordinates(a), shapely.get_coordinates(b),
                                   rtol=0, atol=1e-9)


def _check(read: gpd.GeoDataFrame, layer: str, names: dict[str, str] | None = None,
           shown: Mapping[str, Mapping[str, str]] | None = None) -> None:
    """Compare a layer read back with its source; ``shown`` maps a column's codes to names."""
    want = _expected(layer)
    for col, words in (shown or {}).items():
        want[col] = [words.get(v, v) if isinstance(v, str) else v for v in want[col]]
    names = names or {}
    assert len(read) == len(want)
    for col in want.columns:
        if col == want.geometry.name:
            continue
        got = read[names.get(col, col)]
        if isinstance(want[col].dtype, pd.DatetimeTZDtype):
            got_t = pd.to_datetime(got, utc=True, format="ISO8601")
            assert (got_t.reset_index(drop=True) == want[col]).all(), (col, got.tolist())
        elif pd.api.types.is_float_dtype(want[col]):
            np.testing.assert_allclose(pd.to_numeric(got).to_numpy(dtype=float),
                                       want[col].to_numpy(dtype=float), rtol=0, atol=1e-12)
        else:
            _same_text(got, want[col])
    _same_geometry(read.geometry, want.geometry)


def test_geopackage_holds_every_layer_and_the_manifest(vector_snapshot):
    path = _file(vector_snapshot, "gpkg")
    assert pyogrio.read_info(path, layer="events")["driver"] == "GPKG"
    layers = dict(pyogrio.list_layers(path).tolist())
    assert set(layers) == {*LAYERS, "snapshot_manifest"}
    for layer in LAYERS:
        info = pyogrio.read_info(path, layer=layer)
        assert info["crs"] == "EPSG:4326"
        _check(pyogrio.read_dataframe(path, layer=layer), layer)
    meta = pyogrio.read_dataframe(path, layer="snapshot_manifest")
    values = dict(zip(meta["key"], meta["value"], strict=True))
    assert values["snapshot_id"] == vector_snapshot.snapshot_id
    assert values["created_by"] == "ana"
    assert '"events": 8' in values["counts"]


def test_geojson_zip_has_one_file_per_layer(vector_snapshot, tmp_path):
    with zipfile.ZipFile(_file(vector_snapshot, "geojson")) as zf:
        assert sorted(zf.namelist()) == sorted(f"{x}.geojson" for x in LAYERS)
        zf.extractall(tmp_path)
    for layer in LAYERS:
        path = tmp_path / f"{layer}.geojson"
        info = pyogrio.read_info(path)
        assert (info["driver"], info["crs"], info["features"]) == (
            "GeoJSON", "EPSG:4326", len(_expected(layer)))
        _check(pyogrio.read_dataframe(path), layer)


def test_shapefile_zip_keeps_values_under_short_field_names(vector_snapshot, tmp_path):
    with zipfile.ZipFile(_file(vector_snapshot, "shp")) as zf:
        names = zf.namelist()
        zf.extractall(tmp_path)
    for layer in LAYERS:
        assert {f"{layer}{s}" for s in (".shp", ".shx", ".dbf", ".prj", ".cpg")} <= set(names)
    fields = vector_snapshot.notes["shapefile"]["fields"]
    assert fields["events"]["occurred_at"] == "occurred"
    assert fields["aerodromes"]["runway_length_m"] == "rwy_len_m"
    for layer in LAYERS:
        path = tmp_path / f"{layer}.shp"
        info = pyogrio.read_info(path)
        assert info["crs"] == "EPSG:4326"
        assert all(len(f) <= 10 for f in info["fields"])
        _check(pyogrio.read_dataframe(path), layer, fields.get(layer, {}))


@pytest.mark.parametrize("fmt", ["kml", "kmz"])
def test_kml_folders_are_layers_with_typed_fields(vector_snapshot, tmp_path, fmt):
    path = _file(vector_snapshot, fmt)
    if fmt == "kmz":
        with zipfile.ZipFile(path) as zf:
            assert zf.namelist()[0] == "doc.kml"
            assert "files/dot.png" in zf.namelist()
    renamed = vector_snapshot.notes["kml_fields"]
    assert renamed["events"] == {"description": "attr_description"}
    # folders (GDAL's layers) are named as on the map; the manifest says which is which
    folders = vector_snapshot.notes["kml_layers"]
    assert folders["events"] == "Events"
    assert folders["aerodromes"] == "Registered aerodromes"
    assert [name for name, _ in pyogrio.list_layers(path)] == [folders[k] for k in LAYERS]
    words = snapshot_labels(SnapshotSpec())
    shown = {"events": ("event_type", "commodity"), "routes": ("mode",),
             "candidates": ("state",)}
    for layer in LAYERS:
        info = pyogrio.read_info(path, layer=folders[layer])
        assert info["crs"] == "EPSG:4326"
        _check(pyogrio.read_dataframe(path, layer=folders[layer]), layer,
               renamed.get(layer, {}), dict.fromkeys(shown.get(layer, ()), words))


def test_kml_styles_use_the_map_colours(vector_snapshot):
    from layers.events import EVENT_COLORS
    from layers.routes import ROUTE_COLORS

    text = _file(vector_snapshot, "kml").read_text("utf-8")
    seizure = EVENT_COLORS["seizure"]  # #rrggbb -> aabbggrr
    assert f"<color>ff{seizure[5:7]}{seizure[3:5]}{seizure[1:3]}</color>" in text
    air = ROUTE_COLORS["air"]
    assert f'<Style id="routes-air"><IconStyle><color>ff{air[5:7]}{air[3:5]}{air[1:3]}' in text
    assert "<styleUrl>#events-seizure</styleUrl>" in text
    assert "<TimeStamp><when>2023-01-05T10:00:00Z</when></TimeStamp>" in text
    assert "&lt;/script&gt;" in text
    assert "</script>" not in text
    # nothing to fetch: the viewer's own pin, tinted (it named an icon on maps.google.com)
    import re

    assert re.findall(r"https?://[^\s\"<]+", text) == ["http://www.opengis.net/kml/2.2"]
    assert "<Icon>" not in text


def test_csv_is_read_by_gdal_and_neutralises_formulas(vector_snapshot):
    assert vector_snapshot.folder is not None
    paths = {p.name.rsplit("-", 1)[1][:-4]: p for p in
             (vector_snapshot.folder / f.name for f in vector_snapshot.files if f.format == "csv")}
    assert set(paths) == set(LAYERS)
    events = pyogrio.read_dataframe(paths["events"], GEOM_POSSIBLE_NAMES="wkt",
                                    KEEP_GEOM_COLUMNS="NO")
    assert len(events) == 8
    desc = dict(zip(events["event_id"], events["description"], strict=True))
    assert desc["e3"] == "'" + FORMULA
    assert desc["e6"].startswith("'+55")
    assert desc["e7"] == "'-"
    assert desc["e8"] == "'@SUM(A1)"
    assert desc["e4"] == f"Carga en {SAO_PAULO}"
    assert desc["e5"] == PETEN
    assert float(events.loc[events["event_id"] == "e4", "lon"].iloc[0]) == -46.633308
    assert float(events.loc[events["event_id"] == "e4", "lat"].iloc[0]) == -23.55052
    _same_geometry(events.set_crs(4326).geometry, _expected("events").geometry)
    assert vector_snapshot.notes["csv_neutralised_cells"]["events"] == 4
    routes = pyogrio.read_dataframe(paths["routes"], GEOM_POSSIBLE_NAMES="wkt")
    assert routes["destination"].tolist() == [PETEN, "Guatemala Pacific"]
    assert paths["events"].read_bytes().startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8
    head = paths["events"].read_text("utf-8-sig").splitlines()[0].split(",")
    assert head[-3:] == ["lon", "lat", "wkt"]
    assert "wkt" not in events.columns  # GDAL took it as the geometry


@pytest.mark.parametrize("fmt", ["kml", "kmz"])
def test_a_spanish_kml_reads_in_spanish_in_google_earth(tiny_world, tmp_path, fmt):
    """Folders, field names, categories and reasons in Spanish; GDAL's columns unchanged."""
    from geo.export import make_snapshot

    m = make_snapshot(tiny_world, SnapshotSpec(formats=("kml",), language="es"), tmp_path)
    path = _file(m, fmt)
    text = (zipfile.ZipFile(path).read("doc.kml").decode() if fmt == "kmz"
            else path.read_text("utf-8"))
    assert "<Folder><name>Eventos</name>" in text
    assert "<Folder><name>Pistas candidatas</name>" in text
    assert "<displayName>Mercancía</displayName>" in text
    assert "<styleUrl>#events-seizure</styleUrl>" in text  # styles keep the codes
    events = pyogrio.read_dataframe(path, layer=m.notes["kml_layers"]["events"])
    assert {"event_type", "commodity", "occurred_at"} <= set(events.columns)
    assert "Incautación" in set(events["event_type"])
    assert "seizure" not in set(events["event_type"])
    cands = pyogrio.read_dataframe(path, layer="Pistas candidatas")
    assert cands["reason"].tolist() == ["1,1 km de largo, 22 m de ancho"]
    assert cands["state"].tolist() == ["Nueva"]


def test_xlsx_sheets_hold_numbers_dates_and_text_as_typed(vector_snapshot):
    """GDAL reads every layer back whole; a formula-like text is a string cell, not a formula."""
    path = _file(vector_snapshot, "xlsx")
    assert [name for name, _ in pyogrio.list_layers(path)] == list(LAYERS)
    for layer in LAYERS:
        read = pyogrio.read_dataframe(path, layer=layer, read_geometry=False)
        if "lon" in read:  # point layers
            assert pd.api.types.is_float_dtype(read["lon"])
        sheet = gpd.GeoDataFrame(read.drop(columns=["wkt"]),
                                 geometry=shapely.from_wkt(read["wkt"].tolist()), crs=4326)
        _check(sheet, layer)
    events = pyogrio.read_dataframe(path, layer="events", read_geometry=False)
    assert pd.api.types.is_datetime64_any_dtype(events["occurred_at"])  # dates, not text
    assert pd.api.types.is_float_dtype(events["quantity_kg"])  # numbers, in any locale
    assert FORMULA in set(events["description"])  # kept exactly as typed
    with zipfile.ZipFile(path) as zf:
        sheets = [n for n in zf.namelist() if n.startswith("xl/worksheets/")]
        assert not any(b"<f>" in zf.read(n) or b"<f " in zf.read(n) for n in sheets)
