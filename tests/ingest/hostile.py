"""The catalogue of hostile and broken input files, built by code in a temporary folder.

No binary is stored in the repository: every case is a function ``build(folder) -> Path``
that writes its file. :data:`CATALOGUE` says, for each, which layer it is offered to, whether
the whole file must be refused (``"refused"``) or accepted with the bad part cleaned
(``"cleaned"``), and a fragment the message (or warnings and reasons) must contain.
"""

from __future__ import annotations

import io
import json
import struct
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine

EVENTS_HEADER = "event_id,fecha,tipo,droga,cantidad,pais,fuente,confianza,descripcion,lat,lon\n"


def _write(folder: Path, name: str, data: bytes | str) -> Path:
    path = folder / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def _feature(geometry: dict[str, object], **props: object) -> dict[str, object]:
    return {"type": "Feature", "properties": props, "geometry": geometry}


def _collection(*features: dict[str, object]) -> str:
    return json.dumps({"type": "FeatureCollection", "features": list(features)})


def _square(x: float, y: float, d: float = 0.01) -> dict[str, object]:
    return {"type": "Polygon", "coordinates": [[[x, y], [x + d, y], [x + d, y + d], [x, y + d],
                                               [x, y]]]}


# --- archives -------------------------------------------------------------------------------

def zip_bomb(folder: Path, *, megabytes: int = 200) -> Path:
    """Write a zipped 'shapefile' whose one entry unpacks to ``megabytes`` of zeros (~1000:1)."""
    path = folder / "bomb.zip"
    zero = bytes(1024 * 1024)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf, \
            zf.open("layer.shp", "w", force_zip64=False) as fh:
        for _ in range(megabytes):
            fh.write(zero)
    return path


def lying_zip_bomb(folder: Path, *, megabytes: int = 200, declared_mb: int = 8) -> Path:
    """Write a zip bomb whose headers claim a harmless size; unpacking must stop at that size."""
    path = zip_bomb(folder, megabytes=megabytes)
    data = bytearray(path.read_bytes())
    declared = declared_mb * 1024 * 1024
    assert data[:4] == b"PK\x03\x04"
    struct.pack_into("<I", data, 22, declared)  # local header: uncompressed size
    cd = data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, cd + 24, declared)  # central directory: uncompressed size
    path.write_bytes(bytes(data))
    return path


def _zip_with(folder: Path, name: str, infos: list[tuple[zipfile.ZipInfo, bytes]]) -> Path:
    path = folder / name
    with zipfile.ZipFile(path, "w") as zf:
        for info, data in infos:
            zf.writestr(info, data)
    return path


def zip_traversal(folder: Path) -> Path:
    """Write a zipped shapefile with an entry named ``../../evil.shp``."""
    return _zip_with(folder, "traversal.zip", [(zipfile.ZipInfo("../../evil.shp"), b"x" * 100)])


def zip_absolute(folder: Path) -> Path:
    """Write an entry with an absolute path."""
    return _zip_with(folder, "absolute.zip", [(zipfile.ZipInfo("/tmp/evil.shp"), b"x" * 100)])


def zip_symlink(folder: Path) -> Path:
    """Write an entry that is a symbolic link to /etc/passwd."""
    info = zipfile.ZipInfo("layer.shp")
    info.create_system = 3
    info.external_attr = (0o120777 << 16)
    return _zip_with(folder, "symlink.zip", [(info, b"/etc/passwd")])


def zip_two_shapefiles(folder: Path) -> Path:
    """Write two shapefiles, one in a subfolder (GDAL would silently read only one)."""
    infos = [(zipfile.ZipInfo(n), b"x") for n in ("a.shp", "a.shx", "a.dbf", "sub/b.shp")]
    return _zip_with(folder, "two.zip", infos)


def kmz_traversal(folder: Path) -> Path:
    """Write a KMZ whose document sits at ``../doc.kml``."""
    return _zip_with(folder, "evil.kmz", [(zipfile.ZipInfo("../doc.kml"), b"<kml/>")])


# --- XML --------------------------------------------------------------------------------------

def _kml(body: str, prolog: str = "") -> str:
    return (f'<?xml version="1.0" encoding="UTF-8"?>{prolog}'
            f'<kml xmlns="http://www.opengis.net/kml/2.2"><Document>{body}</Document></kml>')


def _placemark(name: str, description: str = "x", lon: float = -74.6,
               lat: float = -9.4) -> str:
    return (f"<Placemark><name>{name}</name><description>{description}</description>"
            f"<Point><coordinates>{lon},{lat},0</coordinates></Point></Placemark>")


def kml_xxe(folder: Path) -> Path:
    """KML with an external entity reading /etc/passwd into the description."""
    prolog = '<!DOCTYPE kml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    return _write(folder, "xxe.kml", _kml(_placemark("x", "&xxe;"), prolog))


def kml_billion_laughs(folder: Path) -> Path:
    """KML with the 'billion laughs' entity expansion."""
    ents = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
    prolog = f"<!DOCTYPE kml [{''.join(ents)}]>"
    return _write(folder, "laughs.kml", _kml(_placemark("x", "&lol9;"), prolog))


def kml_utf16_xxe(folder: Path) -> Path:
    """Write the XXE again, encoded as UTF-16 so a byte search for '<!DOCTYPE' misses it."""
    prolog = '<!DOCTYPE kml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    text = _kml(_placemark("x", "&xxe;"), prolog).replace("UTF-8", "UTF-16")
    return _write(folder, "xxe16.kml", text.encode("utf-16"))


def xlsx_xxe(folder: Path) -> Path:
    """Write a workbook whose shared strings declare an external entity."""
    good = xlsx_events(folder)
    doctype = b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
    path = folder / "xxe.xlsx"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(path, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "xl/sharedStrings.xml":
                data = data.replace(b"?>", b"?>" + doctype, 1)
            dst.writestr(info, data)
    return path


def vrt_as_geojson(folder: Path) -> Path:
    """Write an OGR VRT (reads other files on the server) renamed .geojson."""
    vrt = ('<OGRVRTDataSource><OGRVRTLayer name="x"><SrcDataSource>/etc/passwd'
           "</SrcDataSource></OGRVRTLayer></OGRVRTDataSource>")
    return _write(folder, "x.geojson", vrt)


def vrt_as_tif(folder: Path) -> Path:
    """Write a raster VRT renamed .tif."""
    return _write(folder, "scene.tif", '<VRTDataset rasterXSize="10" rasterYSize="10"/>')


# --- GeoJSON ------------------------------------------------------------------------------------

def geojson_nan(folder: Path) -> Path:
    """Write one point with NaN/Infinity coordinates, one good one (aerodromes)."""
    text = _collection(_feature({"type": "Point", "coordinates": [-74.6, -9.4]}, ident="GOOD"),
                       _feature({"type": "Point", "coordinates": [-70.0, -10.0]}, ident="BAD"))
    text = text.replace("[-70.0, -10.0]", "[NaN, Infinity]")
    return _write(folder, "nan.geojson", text)


def geojson_out_of_range(folder: Path) -> Path:
    """Write coordinates beyond the globe in one feature, a swapped pair in another."""
    text = _collection(_feature({"type": "Point", "coordinates": [-74.6, -9.4]}, ident="OK"),
                       _feature({"type": "Point", "coordinates": [200.0, 95.0]}, ident="FAR"),
                       _feature({"type": "Point", "coordinates": [-9.4, -74.6 * 2]}, ident="SW"))
    return _write(folder, "range.geojson", text)


def million_vertices(folder: Path) -> Path:
    """Write an area with 1,000,001 vertices next to a small good one."""
    t = np.linspace(0, 2 * np.pi, 1_000_000, endpoint=False)
    ring = np.column_stack([-74.0 + 0.5 * np.cos(t), -9.0 + 0.5 * np.sin(t)]).round(6)
    coords = ",".join(f"[{x},{y}]" for x, y in ring) + f",[{ring[0, 0]},{ring[0, 1]}]"
    huge = ('{"type":"Feature","properties":{"name":"huge"},"geometry":{"type":"Polygon",'
            f'"coordinates":[[{coords}]]}}}}')
    small = json.dumps(_feature(_square(-70.0, -10.0), name="small"))
    return _write(folder, "million.geojson",
                  '{"type":"FeatureCollection","features":[' + huge + "," + small + "]}")


def self_intersecting(folder: Path) -> Path:
    """Write a bow-tie polygon (repaired into a MultiPolygon) and a good square."""
    bowtie = {"type": "Polygon", "coordinates": [[[-74, -9], [-73, -10], [-73, -9], [-74, -10],
                                                  [-74, -9]]]}
    return _write(folder, "bowtie.geojson",
                  _collection(_feature(bowtie, name="bowtie"),
                              _feature(_square(-70, -10), name="square")))


def projected_metres(folder: Path) -> Path:
    """Write UTM metres as GeoJSON without a CRS (taken for degrees by GDAL)."""
    feats = [_feature({"type": "Point", "coordinates": [500000.0 + i, 8960000.0]}, ident=f"M{i}")
             for i in range(3)]
    return _write(folder, "metres.geojson", _collection(*feats))


def degrees_labelled_utm(folder: Path) -> Path:
    """Write degrees in a GeoPackage that declares UTM zone 18S (metres)."""
    import geopandas as gpd
    from shapely.geometry import Point

    path = folder / "mislabelled.gpkg"
    gpd.GeoDataFrame({"ident": ["A", "B"]}, geometry=[Point(-74.6, -9.4), Point(-74.5, -9.3)],
                     crs=32718).to_file(path, driver="GPKG")
    return path


def mixed_geometries(folder: Path) -> Path:
    """Write a point, a line and a polygon offered as events."""
    props = {"event_type": "seizure", "occurred_at": "2024-01-01T10:00:00Z"}
    text = _collection(
        _feature({"type": "Point", "coordinates": [-74.6, -9.4]}, **props),
        _feature({"type": "LineString", "coordinates": [[-74, -9], [-73, -8]]}, **props),
        _feature(_square(-70, -10), **props))
    return _write(folder, "mixed.geojson", text)


def empty_file(folder: Path) -> Path:
    """Write zero bytes."""
    return _write(folder, "empty.csv", b"")


def header_only(folder: Path) -> Path:
    """Write a CSV with a header and no rows."""
    return _write(folder, "header.csv", EVENTS_HEADER)


# --- CSV ------------------------------------------------------------------------------------------

def _events_rows(description: str = "Incautación en el VRAEM") -> str:
    return (EVENTS_HEADER
            + f'E1,05/03/2024,incautación,cocaína,"1.234,5",PE,DEVIDA,0.9,"{description}",'
              "-12.4,-74.2\n"
            + 'E2,25/12/2023,interdicción,marihuana,12,CO,Policía,0.8,"otra",1.8,-78.8\n')


def csv_latin1(folder: Path) -> Path:
    """Write events in Latin-1 (Windows) with accented words."""
    return _write(folder, "latin1.csv", _events_rows().encode("latin-1"))


def csv_utf16(folder: Path) -> Path:
    """Write events as UTF-16 with a byte-order mark (Excel's Unicode text)."""
    return _write(folder, "utf16.csv", _events_rows().encode("utf-16"))


def csv_formula(folder: Path) -> Path:
    """Write cells beginning with = + - @, one in a rejected row (for the rejected CSV)."""
    text = (_events_rows('=HYPERLINK(""http://evil.example"",""click"")')
            + 'E3,01/01/2024,incautación,cocaína,5,PE,@SUM(1),0.5,"=cmd|/c calc",95.5,-74\n')
    return _write(folder, "formula.csv", text)


def csv_script(folder: Path) -> Path:
    """Write a description carrying HTML and JavaScript."""
    return _write(folder, "script.csv",
                  _events_rows("<script>alert(1)</script><img src=x onerror=alert(2)>"))


def csv_bad_name(folder: Path) -> Path:
    """Write a good CSV; the test offers it under a hostile name."""
    return _write(folder, "plain.csv", _events_rows())


def oversized_csv(folder: Path) -> Path:
    """Write about 2 MB of rows, offered under a 1 MB cap."""
    row = "E{i},2024-01-01,seizure,cocaine,1,PE,x,0.5,y,-9.4,-74.6\n"
    return _write(folder, "big.csv", EVENTS_HEADER + "".join(row.format(i=i)
                                                             for i in range(40_000)))


# --- GeoTIFF ----------------------------------------------------------------------------------

def _tiff(path: Path, data: np.ndarray, **extra: object) -> Path:
    profile = {"driver": "GTiff", "width": data.shape[2], "height": data.shape[1],
               "count": data.shape[0], "dtype": data.dtype.name, "crs": "EPSG:32718",
               "transform": Affine(10, 0, 500000, 0, -10, 8960000), "tiled": True,
               "blockxsize": 256, "blockysize": 256, "compress": "deflate", **extra}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    return path


def good_tiff(folder: Path, name: str = "scene_2024-08-02.tif") -> Path:
    """Write a valid 4-band 512 x 512 GeoTIFF with band names, a date and a cloud band."""
    rng = np.random.default_rng(0)
    data = rng.integers(100, 3000, (4, 512, 512), dtype=np.uint16)
    data[3] = 0
    data[3, :128] = 1  # a quarter cloudy
    path = _tiff(folder / name, data)
    with rasterio.open(path, "r+") as dst:
        dst.descriptions = ("red", "green", "blue", "cloud")
        dst.update_tags(ACQUISITION_DATE="2024-08-02", SENSOR="test-sensor")
    return path


def unnamed_bands_tiff(folder: Path, name: str = "landsat_2024-08-02.tif") -> Path:
    """Write a dated 6-band GeoTIFF whose band descriptions name no role.

    Landsat Collection 2 names: ``SR_B2`` is blue on Landsat 8 and 9 but green on Landsat 5
    and 7, so these names are not taken for roles (``geo.imagery``).
    """
    rng = np.random.default_rng(0)
    path = _tiff(folder / name, rng.integers(100, 3000, (6, 256, 256), dtype=np.uint16))
    with rasterio.open(path, "r+") as dst:
        dst.descriptions = ("SR_B2", "SR_B3", "SR_B4", "SR_B5", "SR_B6", "QA_PIXEL")
    return path


def truncated_tiff(folder: Path) -> Path:
    """Write a valid GeoTIFF cut in the middle of its pixel data."""
    path = good_tiff(folder, "truncated.tif")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def corrupt_tiff(folder: Path) -> Path:
    """Write a valid GeoTIFF whose compressed tiles are overwritten with garbage."""
    path = good_tiff(folder, "corrupt.tif")
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(1)
    start = len(data) // 4
    data[start: start + len(data) // 2] = rng.integers(0, 256, len(data) // 2,
                                                       dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    return path


def corrupt_under_overviews_tiff(folder: Path) -> Path:
    """Write a GeoTIFF with overviews, one full-resolution tile overwritten with garbage.

    A decimated read takes the overviews and never touches the damaged tile.
    """
    path = good_tiff(folder, "damaged.tif")
    with rasterio.open(path, "r+") as dst:
        dst.build_overviews([2, 4], rasterio.enums.Resampling.average)
    with rasterio.open(path) as src:
        offset = int(src.get_tag_item("BLOCK_OFFSET_1_1", "TIFF", bidx=2))
        size = int(src.get_tag_item("BLOCK_SIZE_1_1", "TIFF", bidx=2))
    data = bytearray(path.read_bytes())
    data[offset: offset + size] = np.random.default_rng(2).integers(
        0, 256, size, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    return path


def huge_declared_tiff(folder: Path) -> Path:
    """Write a small sparse file declaring 100,000 x 100,000 pixels."""
    path = folder / "huge.tif"
    profile = {"driver": "GTiff", "width": 100_000, "height": 100_000, "count": 1,
               "dtype": "uint8", "crs": "EPSG:32718", "tiled": True, "blockxsize": 1024,
               "blockysize": 1024, "compress": "deflate", "sparse_ok": True,
               "transform": Affine(10, 0, 500000, 0, -10, 8960000)}
    with rasterio.open(path, "w", **profile):
        pass
    return path


def many_bands_tiff(folder: Path) -> Path:
    """Write a 16 x 16 GeoTIFF with 300 bands."""
    return _tiff(folder / "bands.tif", np.zeros((300, 16, 16), dtype=np.uint8), tiled=False,
                 interleave="band")


def tiff_bomb(folder: Path) -> Path:
    """Write 12,000 x 12,000 identical pixels: 144 MB decoded from a file of a few hundred KB."""
    path = folder / "bomb.tif"
    profile = {"driver": "GTiff", "width": 12_000, "height": 12_000, "count": 1,
               "dtype": "uint8", "crs": "EPSG:32718", "tiled": True, "blockxsize": 512,
               "blockysize": 512, "compress": "deflate",
               "transform": Affine(10, 0, 500000, 0, -10, 8960000)}
    block = np.zeros((1, 512, 512), dtype=np.uint8)
    with rasterio.open(path, "w", **profile) as dst:
        for row in range(0, 12_000, 512):
            for col in range(0, 12_000, 512):
                w = rasterio.windows.Window(col, row, min(512, 12_000 - col),
                                            min(512, 12_000 - row))
                dst.write(block[:, : w.height, : w.width], window=w)
    return path


def no_crs_tiff(folder: Path) -> Path:
    """Write a GeoTIFF without a coordinate system."""
    path = folder / "nocrs.tif"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with rasterio.open(path, "w", driver="GTiff", width=32, height=32, count=1,
                           dtype="uint8") as dst:
            dst.write(np.ones((1, 32, 32), dtype=np.uint8))
    return path


def wkt_nested_collections(folder: Path) -> Path:
    """Write a 1 MB WKT of 50,000 nested collections (it crashed GEOS's reader) and a good row."""
    deep = "GEOMETRYCOLLECTION (" * 50_000 + "POINT (-74.6 -9.4)" + ")" * 50_000
    text = ("event_id,occurred_at,event_type,commodity,quantity_kg,country,geometry\n"
            "W1,2024-01-01,seizure,cocaine,1,PE,POINT (-74.6 -9.4)\n"
            f'W2,2024-01-01,seizure,cocaine,1,PE,"{deep}"\n')
    return _write(folder, "nested.csv", text)


def parquet_nested_collections(folder: Path) -> Path:
    """Write a GeoParquet whose second row nests 1,000 collections (Python's recursion ran out)."""
    import geopandas as gpd
    import shapely

    deep = shapely.Point(-74.6, -9.4)
    for _ in range(1_000):
        deep = shapely.GeometryCollection([deep])
    frame = gpd.GeoDataFrame(
        {"event_id": ["P1", "P2"], "occurred_at": ["2024-01-01", "2024-01-02"],
         "event_type": ["seizure"] * 2, "commodity": ["cocaine"] * 2, "country": ["PE"] * 2},
        geometry=[shapely.Point(-74.6, -9.4), deep], crs=4326)
    path = folder / "nested.parquet"
    frame.to_parquet(path)
    return path


def geojson_unclosed_ring(folder: Path) -> Path:
    """Write a polygon whose ring does not close (GEOS refuses it while the file is read)."""
    text = _collection(_feature(_square(-70, -10), name="good"),
                       _feature({"type": "Polygon", "coordinates": [[[-74, -9], [-73, -9],
                                                                     [-73, -8]]]}, name="open"))
    return _write(folder, "open.geojson", text)


def kml_nested_multigeometry(folder: Path) -> Path:
    """Write a placemark of 3,000 nested MultiGeometry elements."""
    point = "<Point><coordinates>-74.6,-9.4</coordinates></Point>"
    deep = "<MultiGeometry>" * 3_000 + point + "</MultiGeometry>" * 3_000
    return _write(folder, "nested.kml", _kml(f"<Placemark><name>x</name>{deep}</Placemark>"))


def no_transform_tiff(folder: Path) -> Path:
    """Write a GeoTIFF with a CRS but no geotransform (GDAL reads 1 m pixels from 0, 0)."""
    path = folder / "notransform.tif"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with rasterio.open(path, "w", driver="GTiff", width=32, height=32, count=3,
                           dtype="uint16", crs="EPSG:32718") as dst:
            dst.write(np.ones((3, 32, 32), dtype=np.uint16))
    return path


def all_nodata_tiff(folder: Path) -> Path:
    """Write a named, dated scene whose every pixel is the nodata value (an empty export)."""
    path = _tiff(folder / "empty_2024-08-02.tif", np.zeros((3, 512, 512), dtype=np.uint16),
                 nodata=0)
    with rasterio.open(path, "r+") as dst:
        dst.descriptions = ("red", "green", "blue")
    return path


def all_nan_tiff(folder: Path) -> Path:
    """Write a float scene with one finite band beside two NaN ones: no pixel has all three."""
    data = np.full((3, 64, 64), np.nan, dtype=np.float32)
    data[0] = 0.1
    path = _tiff(folder / "nan_2024-08-02.tif", data)
    with rasterio.open(path, "r+") as dst:
        dst.descriptions = ("red", "green", "blue")
    return path


@dataclass(frozen=True)
class Case:
    """One hostile file: how to build it, which layer it is offered to, what must happen."""

    build: Callable[[Path], Path]
    layer: str
    outcome: str  # "refused" or "cleaned"
    says: str  # fragment of the error message, or of the warnings + reasons (lower case)
    name: str | None = None  # file name shown to the app, when not the built file's


CATALOGUE: dict[str, Case] = {
    "zip-bomb": Case(zip_bomb, "areas", "refused", "decompression bomb"),
    "zip-bomb-lying-header": Case(lying_zip_bomb, "areas", "refused", "corrupt"),
    "zip-traversal": Case(zip_traversal, "areas", "refused", "outside"),
    "zip-absolute-path": Case(zip_absolute, "areas", "refused", "outside"),
    "zip-symlink": Case(zip_symlink, "areas", "refused", "symbolic link"),
    "zip-two-shapefiles": Case(zip_two_shapefiles, "areas", "refused", "exactly one"),
    "kmz-traversal": Case(kmz_traversal, "areas", "refused", "outside"),
    "kml-xxe": Case(kml_xxe, "aerodromes", "refused", "entities"),
    "kml-xxe-utf16": Case(kml_utf16_xxe, "aerodromes", "refused", "entities"),
    "kml-billion-laughs": Case(kml_billion_laughs, "aerodromes", "refused", "entities"),
    "xlsx-xxe": Case(xlsx_xxe, "events", "refused", "entities"),
    "vrt-renamed-geojson": Case(vrt_as_geojson, "aerodromes", "refused", "not geojson"),
    "vrt-renamed-tif": Case(vrt_as_tif, "scenes", "refused", "not a geotiff"),
    "geojson-nan": Case(geojson_nan, "aerodromes", "cleaned", "nan or infinite"),
    "geojson-out-of-range": Case(geojson_out_of_range, "aerodromes", "cleaned", "swapped"),
    "million-vertices": Case(million_vertices, "areas", "cleaned", "vertices"),
    "self-intersecting": Case(self_intersecting, "areas", "cleaned", "repaired"),
    "projected-metres": Case(projected_metres, "aerodromes", "refused", "metres"),
    "degrees-labelled-utm": Case(degrees_labelled_utm, "aerodromes", "refused",
                                 "look like degrees"),
    "mixed-geometries": Case(mixed_geometries, "events", "cleaned", "mixes geometry types"),
    "empty-file": Case(empty_file, "events", "refused", "empty"),
    "header-only": Case(header_only, "events", "refused", "no data rows"),
    "csv-latin1": Case(csv_latin1, "events", "cleaned", "not utf-8"),
    "csv-utf16-bom": Case(csv_utf16, "events", "cleaned", ""),
    "csv-formula": Case(csv_formula, "events", "cleaned", "formula"),
    "csv-script": Case(csv_script, "events", "cleaned", "html"),
    "bad-file-name": Case(csv_bad_name, "events", "cleaned", "",
                          name="../../etc/pass\x00wd\n\x1b[31m.csv"),
    "oversized": Case(oversized_csv, "events", "refused", "upload cap"),
    "tiff-truncated": Case(truncated_tiff, "scenes", "refused", "corrupt or truncated"),
    "tiff-corrupt": Case(corrupt_tiff, "scenes", "refused", "corrupt or truncated"),
    "tiff-damaged-under-overviews": Case(corrupt_under_overviews_tiff, "scenes", "refused",
                                         "corrupt or truncated"),
    "tiff-100000-pixels": Case(huge_declared_tiff, "scenes", "refused", "100,000 x 100,000"),
    "tiff-300-bands": Case(many_bands_tiff, "scenes", "refused", "300 bands"),
    "tiff-decompression-bomb": Case(tiff_bomb, "scenes", "refused", "decompression bomb"),
    "tiff-no-crs": Case(no_crs_tiff, "scenes", "refused", "no crs"),
    "tiff-no-transform": Case(no_transform_tiff, "scenes", "refused", "no georeferencing"),
    "tiff-all-nodata": Case(all_nodata_tiff, "scenes", "refused", "holds no valid pixel"),
    "tiff-all-nan": Case(all_nan_tiff, "scenes", "refused", "holds no valid pixel"),
    "wkt-nested-collections": Case(wkt_nested_collections, "events", "cleaned",
                                   "nested 50,001 brackets deep"),
    "parquet-nested-collections": Case(parquet_nested_collections, "events", "cleaned",
                                       "nests collections more than 3 deep"),
    "geojson-unclosed-ring": Case(geojson_unclosed_ring, "areas", "refused", "cannot be read"),
    "kml-nested-multigeometry": Case(kml_nested_multigeometry, "events", "refused",
                                     "cannot be read"),
}
#: Cases built with a 1 MB upload cap.
SMALL_CAP = {"oversized"}


def xlsx_events(folder: Path) -> Path:
    """Write a small events workbook (GDAL's XLSX driver writes it)."""
    import pandas as pd
    import pyogrio

    frame = pd.read_csv(io.StringIO(_events_rows()), dtype=str)
    path = folder / "eventos.xlsx"
    pyogrio.write_dataframe(frame, path, driver="XLSX")
    return path
