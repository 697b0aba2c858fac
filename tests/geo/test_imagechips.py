"""Image chips: window, PNG, outline, shared stretch, missing bands, errors, store attachments."""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import rasterio
from affine import Affine
from PIL import Image
from shapely.geometry import Polygon, box

import geo.imagechips as chips_module
from geo.errors import ImageryError, SchemaError
from geo.imagechips import (
    ChipParams,
    SceneRef,
    chip_frame,
    cut_chips,
    cut_scene_chips,
    scene_ref_from_file,
    scene_refs,
)
from geo.imagery import read_scene_info
from geo.runway_geometry import oriented_rectangle
from geo.sample.landscape import box_coverage
from geo.store import (
    Store,
    add_attachment,
    get_alert,
    list_alerts,
    merge_candidates,
    open_store,
    read_attachment_content,
    read_attachments,
)
from geo.store.chips import CHIP_KIND, ensure_chips, read_chips
from tests.store.conftest import BACKENDS, drop_schema, new_backend_url

EPSG = 32718
RES = 10.0
SIZE = 200  # pixels: a 2 km square
ORIGIN = (500_000.0, 8_960_000.0)  # top-left, metres (Ucayali, Peru)
FOREST = (0.020, 0.045, 0.025, 0.300, 0.140, 0.060)
SOIL = (0.060, 0.080, 0.100, 0.170, 0.260, 0.190)
BANDS6 = ("blue", "green", "red", "nir", "swir1", "swir2")
STRIP_LENGTH_M, STRIP_WIDTH_M, STRIP_BEARING = 600.0, 20.0, 45.0
MAGENTA = (255, 0, 255)


def _lonlat(x: float, y: float) -> tuple[float, float]:
    lon, lat = pyproj.Transformer.from_crs(EPSG, 4326, always_xy=True).transform(x, y)
    return float(lon), float(lat)


CENTRE_XY = (ORIGIN[0] + SIZE * RES / 2, ORIGIN[1] - SIZE * RES / 2)
CENTRE = _lonlat(*CENTRE_XY)


def _strip(*, dx_m: float = 0.0) -> Polygon:
    lon, lat = _lonlat(CENTRE_XY[0] + dx_m, CENTRE_XY[1])
    return oriented_rectangle(lon, lat, length_m=STRIP_LENGTH_M, width_m=STRIP_WIDTH_M,
                              bearing_deg=STRIP_BEARING)


def _image(*, gain: float = 1.0, strip: bool = True, bands: int = 6) -> np.ndarray:
    """Reflectance x 10^4: forest with a little noise and the strip painted in the centre."""
    rng = np.random.default_rng(5)
    img = np.array(FOREST, dtype=np.float32)[:, None, None] * np.ones((6, SIZE, SIZE), np.float32)
    if strip:
        cover = box_coverage((SIZE, SIZE), RES, cx=SIZE * RES / 2, cy=SIZE * RES / 2,
                             length=STRIP_LENGTH_M, width=STRIP_WIDTH_M,
                             bearing_deg=STRIP_BEARING)
        img += (np.array(SOIL, dtype=np.float32)[:, None, None] - img) * cover[None]
    img = img * gain + rng.normal(0.0, 0.001, img.shape).astype(np.float32)
    out = np.clip(np.rint(img * 1e4), 1, 10000).astype(np.uint16)
    return out[[2, 1, 0]] if bands == 3 else out  # 3 bands: red, green, blue


def _write(path: Path, data: np.ndarray, *, acquired: str,
           descriptions: tuple[str, ...] | None = BANDS6) -> Path:
    profile = {"driver": "GTiff", "dtype": "uint16", "count": data.shape[0], "height": SIZE,
               "width": SIZE, "crs": f"EPSG:{EPSG}", "nodata": 0,
               "transform": Affine(RES, 0, ORIGIN[0], 0, -RES, ORIGIN[1]),
               "tiled": True, "blockxsize": 256, "blockysize": 256}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
        if descriptions:
            dst.descriptions = descriptions
        dst.update_tags(ACQUISITION_DATE=acquired)
    return path


@pytest.fixture
def before(tmp_path: Path) -> Path:
    """Write the area on 2023-07-15, without the strip."""
    return _write(tmp_path / "area_2023-07-15.tif", _image(strip=False), acquired="2023-07-15")


@pytest.fixture
def after(tmp_path: Path) -> Path:
    """Write the area on 2024-08-02: strip cut, everything 30 % brighter (another sun)."""
    return _write(tmp_path / "area_2024-08-02.tif", _image(gain=1.3), acquired="2024-08-02")


def _png(data: bytes) -> np.ndarray:
    img = Image.open(io.BytesIO(data))
    assert img.format == "PNG"
    assert img.mode == "RGBA"
    return np.asarray(img)


def _catalogue(paths: list[Path], folder: Path) -> gpd.GeoDataFrame:
    refs = [scene_ref_from_file(p) for p in paths]
    return gpd.GeoDataFrame({
        "scene_id": [r.scene_id for r in refs],
        "path": [p.relative_to(folder).as_posix() for p in paths],
        "acquired_at": pd.to_datetime([r.acquired_at for r in refs], utc=True),
        "sensor": "test",
    }, geometry=[r.footprint for r in refs], crs=4326)


# -- the window ----------------------------------------------------------------------------------

def test_window_is_a_square_around_the_strip_with_the_margin(after: Path) -> None:
    info = read_scene_info(after)
    frame = chip_frame(_strip(), info, ChipParams())
    to_utm = pyproj.Transformer.from_crs(4326, EPSG, always_xy=True)
    xs, ys = to_utm.transform(*np.array(_strip().exterior.coords).T)
    extent = max(xs.max() - xs.min(), ys.max() - ys.min())
    margin = max(300.0, 0.5 * STRIP_LENGTH_M)
    assert frame.side_px == math.ceil((extent + 2 * margin) / RES)
    x0, y0, x1, y1 = frame.bounds
    assert x1 - x0 == pytest.approx(frame.side_px * RES)
    assert y1 - y0 == pytest.approx(frame.side_px * RES)
    assert (x0 + x1) / 2 == pytest.approx(CENTRE_XY[0], abs=RES)
    assert (y0 + y1) / 2 == pytest.approx(CENTRE_XY[1], abs=RES)
    assert xs.min() - x0 >= margin - RES
    assert x1 - xs.max() >= margin - RES
    assert (x0 - ORIGIN[0]) % RES == pytest.approx(0.0)  # on the scene's grid


def test_only_the_window_is_read(after: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []
    real = chips_module.read_window

    def spy(info, window):  # type: ignore[no-untyped-def]
        seen.append((window.width, window.height))
        return real(info, window)

    monkeypatch.setattr(chips_module, "read_window", spy)
    cut_scene_chips(_strip(), after)
    frame = chip_frame(_strip(), read_scene_info(after), ChipParams())
    assert seen == [(frame.side_px, frame.side_px)]
    assert frame.side_px < SIZE


# -- the picture ---------------------------------------------------------------------------------

def test_png_has_the_fixed_size_and_the_metadata_says_metres_per_pixel(after: Path) -> None:
    chips = cut_scene_chips(_strip(), after, params=ChipParams(size_px=256))
    assert [c.composite for c in chips] == ["true_colour", "false_colour"]
    frame = chip_frame(_strip(), read_scene_info(after), ChipParams())
    for chip in chips:
        pixels = _png(chip.png)
        assert pixels.shape == (256, 256, 4)
        assert chip.metres_per_px == pytest.approx(frame.side_px * RES / 256)
        meta = chip.meta()
        assert meta["scene_id"] == "area_2024-08-02"
        assert meta["date"] == "2024-08-02"
        assert meta["crs"] == f"EPSG:{EPSG}"
        assert meta["bounds"] == [round(v, 2) for v in frame.bounds]
        assert len(meta["corners_lonlat"]) == 4
        w, s, e, n = meta["bounds_lonlat"]
        assert w < CENTRE[0] < e
        assert s < CENTRE[1] < n
        assert meta["valid_share"] == 1.0
    assert chips[1].bands == ("nir", "red", "green")


def test_the_strip_outline_is_drawn_around_the_strip(after: Path) -> None:
    chip = cut_scene_chips(_strip(), after)[0]
    pixels = _png(chip.png)[..., :3]
    outline = np.all(pixels == MAGENTA, axis=-1)
    rows, cols = np.nonzero(outline)
    # a 600 m strip at about 3.9 m per chip pixel, at 45 degrees: two long sides of about
    # 150 px, each drawn with about 150 / sqrt(2) pixels
    assert outline.sum() > 200
    assert abs(rows.mean() - 128) < 8
    assert abs(cols.mean() - 128) < 8
    # the strip's own pixels (bare soil, brighter red) stay visible inside the outline
    assert pixels[128, 128, 0] > pixels[20, 20, 0] + 40


def test_before_and_after_share_one_stretch(before: Path, after: Path, tmp_path: Path) -> None:
    refs = scene_refs(_catalogue([after, before], tmp_path), tmp_path)
    result = cut_chips(_strip(), refs)
    assert [c.scene_id for c in result.chips] == ["area_2023-07-15"] * 2 + ["area_2024-08-02"] * 2
    true = [c for c in result.chips if c.composite == "true_colour"]
    assert true[0].stretch == true[1].stretch
    dark, bright = (_png(c.png)[20:60, 20:60, :3].astype(float).mean() for c in true)
    assert bright > dark * 1.15  # the later date is brighter, and it shows
    # each date stretched on its own would hide that
    alone = [cut_scene_chips(_strip(), p)[0] for p in (before, after)]
    assert alone[0].stretch != alone[1].stretch


def test_rgb_only_imagery_gives_true_colour_with_a_note(tmp_path: Path) -> None:
    path = _write(tmp_path / "rgb_2024-01-01.tif", _image(bands=3), acquired="2024-01-01",
                  descriptions=("red", "green", "blue"))
    chips = cut_scene_chips(_strip(), path)
    assert [c.composite for c in chips] == ["true_colour"]
    assert any("no near-infrared band" in n for n in chips[0].notes)
    assert chips[0].meta()["notes"] == list(chips[0].notes)


def test_nodata_is_transparent(tmp_path: Path) -> None:
    data = _image()
    data[:, :, : SIZE // 2] = 0  # the western half is no data
    path = _write(tmp_path / "half_2024-01-01.tif", data, acquired="2024-01-01")
    chip = cut_scene_chips(_strip(), path)[0]
    alpha = _png(chip.png)[..., 3]
    assert (alpha[100:120, 5:40] == 0).all()
    assert (alpha[100:120, 200:250] == 255).all()
    assert 0.3 < chip.valid_share < 0.7


def test_clouds_are_transparent(tmp_path: Path) -> None:
    cloud = np.zeros((1, SIZE, SIZE), np.uint16)
    cloud[0, : SIZE // 2] = 1  # the northern half is cloud
    path = _write(tmp_path / "cloudy_2024-01-01.tif", np.concatenate([_image(), cloud]),
                  acquired="2024-01-01", descriptions=(*BANDS6, "cloud"))
    alpha = _png(cut_scene_chips(_strip(), path)[1].png)[..., 3]
    assert (alpha[5:40, 100:120] == 0).all()
    assert (alpha[200:250, 100:120] == 255).all()


def test_a_strip_near_the_edge_gets_a_partly_transparent_chip(after: Path) -> None:
    chip = cut_scene_chips(_strip(dx_m=850.0), after)[0]  # the window overhangs the east edge
    alpha = _png(chip.png)[..., 3]
    assert (alpha[:, -3:] == 0).all()
    assert (alpha[:, :3] == 255).all()


# -- errors --------------------------------------------------------------------------------------

def test_all_nodata_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "empty_2024-01-01.tif", np.zeros((6, SIZE, SIZE), np.uint16),
                  acquired="2024-01-01")
    with pytest.raises(ImageryError, match="no data around the strip"):
        cut_scene_chips(_strip(), path)


def test_a_strip_outside_the_scene_is_refused(after: Path) -> None:
    with pytest.raises(ImageryError, match=r"outside area_2024-08-02\.tif"):
        cut_scene_chips(_strip(dx_m=5000.0), after)


def test_an_unreadable_scene_is_refused_and_skipped_in_a_set(after: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad_2025-01-01.tif"
    bad.write_text("<VRTDataset>not a tiff</VRTDataset>")
    with pytest.raises(ImageryError, match="not a readable GeoTIFF"):
        cut_scene_chips(_strip(), SceneRef("bad", bad, datetime(2025, 1, 1, tzinfo=UTC),
                                           box(-180, -90, 180, 90)))
    good = scene_ref_from_file(after)
    broken = SceneRef("bad", bad, datetime(2025, 1, 1, tzinfo=UTC), good.footprint)
    result = cut_chips(_strip(), [good, broken])
    assert {c.scene_id for c in result.chips} == {"area_2024-08-02"}
    assert [s for s, _ in result.skipped] == ["bad"]


@pytest.mark.parametrize(("geom", "message"), [
    pytest.param(box(CENTRE_XY[0], CENTRE_XY[1], CENTRE_XY[0] + 10, CENTRE_XY[1] + 10),
                 "not \\(lon, lat\\) degrees", id="metres"),
    pytest.param(Polygon(), "non-empty Polygon", id="empty"),
    pytest.param(box(0, 0, 1, 1).boundary, "non-empty Polygon", id="line"),
])
def test_a_bad_strip_is_refused(after: Path, geom: Polygon, message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        cut_scene_chips(geom, after)


def test_catalogue_paths_stay_in_the_data_folder(after: Path, tmp_path: Path) -> None:
    catalogue = _catalogue([after], tmp_path).assign(path="../../etc/passwd")
    with pytest.raises(SchemaError, match="outside the data folder"):
        scene_refs(catalogue, tmp_path)


# -- chips kept in the alert store ---------------------------------------------------------------

@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Store]:
    url, schema = new_backend_url(request.param, tmp_path_factory.mktemp("store"))
    opened = open_store(url)
    yield opened
    opened.close()
    drop_schema(schema)


def test_ensure_chips_cuts_once_and_returns_them_in_date_order(store: Store, before: Path,
                                                               after: Path,
                                                               tmp_path: Path) -> None:
    refs = scene_refs(_catalogue([after, before], tmp_path), tmp_path)
    merge_candidates(store, gpd.GeoDataFrame({
        "candidate_id": ["c1"], "scene_id": ["area_2024-08-02"],
        "detected_at": pd.to_datetime(["2024-08-02"], utc=True), "score": [0.9],
        "length_m": [STRIP_LENGTH_M], "width_m": [STRIP_WIDTH_M],
        "bearing_deg": [STRIP_BEARING], "state": ["new"]}, geometry=[_strip()], crs=4326))
    alert = list_alerts(store)[0]
    first = ensure_chips(store, alert, refs, user="Ana")
    assert first.skipped == ()
    assert [(a.meta["date"], a.meta["composite"]) for a in first.chips] == [
        ("2023-07-15", "true_colour"), ("2023-07-15", "false_colour"),
        ("2024-08-02", "true_colour"), ("2024-08-02", "false_colour")]
    assert all(a.kind == CHIP_KIND and a.media_type == "image/png" for a in first.chips)
    assert {a.width_px for a in first.chips} == {256}
    assert first.chips[0].taken_at == refs[0].acquired_at
    assert {"scene_id", "date", "composite", "bounds", "crs", "metres_per_px"} <= set(
        first.chips[0].meta)
    assert _png(read_attachment_content(store, first.chips[2].id)).shape == (256, 256, 4)

    again = ensure_chips(store, get_alert(store, alert.id), refs, user="Luis")
    assert [a.id for a in again.chips] == [a.id for a in first.chips]
    assert len(read_attachments(store, alert.id)) == 4
    assert [a.id for a in read_chips(store, alert.id)] == [a.id for a in first.chips]
    assert get_alert(store, alert.id).version == alert.version  # evidence is not an edit

    # two sessions that cut at the same moment: readers keep the first copy of each chip
    twin = first.chips[1]
    add_attachment(store, alert.id, actor="Luis", kind=CHIP_KIND, media_type="image/png",
                   content=read_attachment_content(store, twin.id), meta=twin.meta)
    assert [a.id for a in read_chips(store, alert.id)] == [a.id for a in first.chips]


def test_ensure_chips_of_an_alert_no_scene_covers_adds_nothing(store: Store, after: Path,
                                                               tmp_path: Path) -> None:
    refs = scene_refs(_catalogue([after], tmp_path), tmp_path)
    far = oriented_rectangle(-65.0, -14.0, length_m=800, width_m=20, bearing_deg=10)
    merge_candidates(store, gpd.GeoDataFrame({
        "candidate_id": ["c1"], "scene_id": ["sample"],
        "detected_at": pd.to_datetime(["2024-08-02"], utc=True), "score": [0.9],
        "length_m": [800.0], "width_m": [20.0], "bearing_deg": [10.0]},
        geometry=[far], crs=4326))
    alert = list_alerts(store)[0]
    assert ensure_chips(store, alert, refs, user="Ana").chips == ()
    assert read_attachments(store, alert.id) == []
