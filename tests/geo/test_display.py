"""The display engine: a bright cross at known coordinates lands on the right 3857 pixel."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyproj
import pytest
import rasterio
from affine import Affine

from geo.display import (
    NDVI_RAMP,
    ViewImage,
    build_overviews,
    choose_overview,
    ndvi_colours,
    pixel_values,
    render_view,
    scene_stretch,
    view_grid,
)
from geo.errors import ConfigError, ImageryError
from tests.conftest import SHARED_DATA, require

BANDS = ("blue", "green", "red", "nir", "swir1", "swir2")
BACKGROUND = {"blue": 400, "green": 700, "red": 500, "nir": 3000, "swir1": 1500, "swir2": 800}
CROSS_VALUE = 9000
SIZE = 600
RES = 10.0
ARM = 3  # cross arms 3 px wide (odd: centred on the cross pixel), 120 px long each way
NODATA_CORNER = 40  # a nodata square in the upper-left corner
EARTH_M = 2 * math.pi * 6378137.0


@dataclass(frozen=True)
class Scene:
    path: Path
    lon: float  # the cross pixel's centre, degrees
    lat: float
    row: int
    col: int


def write_scene(path: Path, epsg: int, lon: float, lat: float, *, overviews: bool = True,
                bands: tuple[str, ...] = BANDS) -> Scene:
    """Write a SIZE x SIZE scene of RES m in ``epsg``, its centre pixel centred on (lon, lat)."""
    x, y = pyproj.Transformer.from_crs(4326, epsg, always_xy=True).transform(lon, lat)
    c = SIZE // 2
    transform = Affine(RES, 0, x - (c + 0.5) * RES, 0, -RES, y + (c + 0.5) * RES)
    data = np.stack([np.full((SIZE, SIZE), BACKGROUND[b], np.uint16) for b in bands])
    h = ARM // 2
    data[:, c - h:c + h + 1, c - 120:c + 121] = CROSS_VALUE
    data[:, c - 120:c + 121, c - h:c + h + 1] = CROSS_VALUE
    data[:, :NODATA_CORNER, :NODATA_CORNER] = 0
    with rasterio.open(path, "w", driver="GTiff", width=SIZE, height=SIZE, count=len(bands),
                       dtype="uint16", crs=f"EPSG:{epsg}", transform=transform, nodata=0,
                       tiled=True, blockxsize=256, blockysize=256, compress="deflate") as dst:
        dst.write(data)
        dst.descriptions = bands
        dst.update_tags(ACQUISITION_DATE="2024-08-02")
    if overviews:
        build_overviews(path, min_side_px=32)
    return Scene(path, lon, lat, c, c)


def view_around(lon: float, lat: float, zoom: float, width: int = 800, height: int = 600,
                shift_px: tuple[float, float] = (123.3, -77.7)) -> tuple[float, ...]:
    """Leaflet-like bounds of a view at ``zoom`` whose centre is shifted from (lon, lat)."""
    res = EARTH_M / (256 * 2**zoom)
    to_m = pyproj.Transformer.from_crs(4326, 3857, always_xy=True)
    x, y = to_m.transform(lon, lat)
    x += shift_px[0] * res
    y += shift_px[1] * res
    back = pyproj.Transformer.from_crs(3857, 4326, always_xy=True)
    w, s = back.transform(x - width / 2 * res, y - height / 2 * res)
    e, n = back.transform(x + width / 2 * res, y + height / 2 * res)
    return (w, s, e, n)


def expected_px(view: ViewImage, lon: float, lat: float) -> tuple[float, float]:
    """(column, row) of the point in the image, in pixel units from its upper-left edge."""
    x, y = pyproj.Transformer.from_crs(4326, 3857, always_xy=True).transform(lon, lat)
    x0, y0, x1, y1 = view.bounds_3857
    w, h = view.size_px
    return (x - x0) / (x1 - x0) * w, (y1 - y) / (y1 - y0) * h


def cross_centre(view: ViewImage, near: tuple[float, float], lat: float
                 ) -> tuple[float, float]:
    """Brightness-weighted centroid (pixel-edge units) of the cross near a point.

    The window is about 200 m wide on the ground (the arms are 30 m wide and 1.2 km long),
    so the background dominates it and the cross is symmetric inside it.
    """
    ground_m = (view.bounds_3857[2] - view.bounds_3857[0]) / view.size_px[0] * math.cos(
        math.radians(lat))
    radius = int(min(150, max(12, 100 / ground_m)))
    img = view.rgba[..., :3].astype(float).mean(axis=2)
    c, r = int(near[0]), int(near[1])
    win = img[r - radius:r + radius + 1, c - radius:c + radius + 1]
    weight = np.clip(win - np.median(win), 0, None)
    rows, cols = np.mgrid[r - radius:r + radius + 1, c - radius:c + radius + 1]
    return (float((weight * cols).sum() / weight.sum()) + 0.5,
            float((weight * rows).sum() / weight.sum()) + 0.5)


SCENES = [
    pytest.param(32718, -74.6, -9.4, id="utm18S-peru"),
    pytest.param(32621, -54.6, -25.4, id="utm21N-iguazu-negative-northing"),
    pytest.param(32618, -72.0, 4.5, id="utm18N-across-zone-19-boundary"),
]


@pytest.fixture(scope="module")
def peru(tmp_path_factory: pytest.TempPathFactory) -> Scene:
    return write_scene(tmp_path_factory.mktemp("peru") / "peru_2024-08-02.tif", 32718,
                       -74.6, -9.4)


@pytest.mark.parametrize(("epsg", "lon", "lat"), SCENES)
@pytest.mark.parametrize("zoom", [10, 12, 13.5, 15, 16.3])
def test_cross_lands_on_its_web_mercator_pixel(tmp_path: Path, epsg: int, lon: float,
                                               lat: float, zoom: float) -> None:
    scene = write_scene(tmp_path / "s.tif", epsg, lon, lat)
    view = render_view(scene.path, view_around(lon, lat, zoom), 800, 600, "true_colour")
    want = expected_px(view, lon, lat)
    got = cross_centre(view, want, lat)
    assert math.dist(got, want) <= 1.0, (got, want, view.overview_factor)


def test_view_pixels_are_the_screen_pixels(peru: Scene) -> None:
    bounds = view_around(peru.lon, peru.lat, 13)
    view = render_view(peru.path, bounds, 800, 600)
    transform, grid = view_grid(bounds, 800, 600)
    x0, y0, x1, y1 = view.bounds_3857
    w, h = view.size_px
    assert (x1 - x0) / w == pytest.approx(transform.a, rel=1e-9)
    assert (y1 - y0) / h == pytest.approx(-transform.e, rel=1e-9)
    # snapped to the view's own pixel grid: whole pixels from the view's corner
    assert ((x0 - grid[0]) / transform.a) == pytest.approx(round((x0 - grid[0]) / transform.a))
    # clipped to the scene: 600 px of 10 m at ~9.4 m per screen pixel, not the 800 px view
    assert w < 800


@pytest.mark.parametrize(("zoom", "factor"),
                         [(16, 1), (14, 1), (13, 2), (12, 4), (11, 8), (10, 16)])
def test_overview_level_at_most_a_little_coarser_than_the_screen(peru: Scene, zoom: int,
                                                                 factor: int) -> None:
    # ground pixels at -9.4 deg: 9.4 m at zoom 14, 37.7 m at 12: the 40 m level (1.06x) is
    # read, not the 20 m one (twice the pixels a side)
    view = render_view(peru.path, view_around(peru.lon, peru.lat, zoom), 800, 600)
    assert view.overview_factor == factor
    rows, cols = view.read_shape
    w, h = view.size_px
    assert cols <= w + 8
    assert rows <= h + 8


def test_view_between_two_levels_is_averaged_down_to_the_screen(peru: Scene) -> None:
    # zoom 12.5: 26.7 m ground pixels; 40 m would be 1.5x coarser, so the 20 m level is read
    # and averaged to about one pixel per screen pixel as it is read
    view = render_view(peru.path, view_around(peru.lon, peru.lat, 12.5, 300, 200,
                                              shift_px=(0, 0)), 300, 200)
    assert view.overview_factor == 3
    rows, cols = view.read_shape
    w, h = view.size_px
    assert abs(cols - w) <= 4
    assert abs(rows - h) <= 4


def test_choose_overview_is_the_coarsest_at_most_the_tolerance_coarser() -> None:
    assert choose_overview([], 10.0, 500.0) is None
    assert choose_overview([2, 4], 10.0, 16.6) is None  # 20 m would be 1.205x coarser
    assert choose_overview([2, 4], 10.0, 16.7) == 0
    assert choose_overview([2, 4], 10.0, 19.9, tolerance=1.0) is None
    assert choose_overview([2, 4], 10.0, 20.0, tolerance=1.0) == 0
    assert choose_overview([4, 2], 10.0, 100.0) == 0  # index into the list as given
    with pytest.raises(ConfigError, match="tolerance"):
        choose_overview([2, 4], 10.0, 20.0, tolerance=0.5)


def test_reads_only_the_window_at_screen_resolution(peru: Scene,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    shapes: list[tuple[int, ...]] = []
    original = rasterio.io.DatasetReader.read

    def spy(self: rasterio.io.DatasetReader, *args: object, **kwargs: object) -> np.ndarray:
        out = original(self, *args, **kwargs)
        shapes.append(out.shape)
        return out

    scene_stretch(peru.path)  # cached before the spy: the stretch reads an overview once
    monkeypatch.setattr(rasterio.io.DatasetReader, "read", spy)
    view = render_view(peru.path, view_around(peru.lon, peru.lat, 16, 400, 300), 400, 300)
    assert len(shapes) == 1
    _, rows, cols = shapes[0]
    # zoom 16 is 2.4 m screen pixels: about 120 x 90 source pixels of 10 m, not 600 x 600
    assert rows * cols < 200 * 200
    assert view.read_shape == (rows, cols)


def test_scene_without_overviews_is_decimated_not_read_whole(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    scene = write_scene(tmp_path / "bare.tif", 32718, -74.6, -9.4, overviews=False)
    scene_stretch(scene.path)
    shapes: list[tuple[int, ...]] = []
    original = rasterio.io.DatasetReader.read
    monkeypatch.setattr(rasterio.io.DatasetReader, "read",
                        lambda self, *a, **k: shapes.append((o := original(self, *a, **k)).shape)
                        or o)
    view = render_view(scene.path, view_around(scene.lon, scene.lat, 10), 800, 600)
    assert view.overview_factor >= 8
    assert all(s[1] * s[2] <= 100 * 100 for s in shapes), shapes


def test_build_overviews_in_place_and_once(tmp_path: Path) -> None:
    scene = write_scene(tmp_path / "s.tif", 32718, -74.6, -9.4, overviews=False)
    assert build_overviews(scene.path, min_side_px=100) == (2, 4, 8)
    assert build_overviews(scene.path) == (2, 4, 8)  # already there: unchanged
    with rasterio.open(scene.path) as src:
        assert src.overviews(1) == [2, 4, 8]
    assert not list(tmp_path.glob("*.ovr"))


def test_nodata_and_outside_are_transparent(peru: Scene) -> None:
    view = render_view(peru.path, view_around(peru.lon, peru.lat, 14, 800, 800,
                                              shift_px=(0, 0)), 800, 800)
    alpha = view.rgba[..., 3]
    assert view.size_px[1] < 800  # the whole scene is in the view: clipped to it
    # the 400 m nodata corner is about 42 screen px of 9.4 m at the image's upper left
    assert (alpha[3:30, 3:30] == 0).all()
    assert (alpha[60:-10, 60:70] == 255).all()
    assert (alpha[view.size_px[1] // 2, view.size_px[0] // 2 + 50] == 255)
    assert (view.rgba[alpha == 0][:, :3] == 0).all()


def test_ndvi_values_and_legend(peru: Scene) -> None:
    view = render_view(peru.path, view_around(peru.lon, peru.lat, 14), 800, 600, "ndvi")
    background = (3000 - 500) / (3000 + 500)
    px = view.rgba[view.size_px[1] // 2 + 60, view.size_px[0] // 2 + 60 - 123]
    assert px[3] == 255
    assert px[:3].tolist() == ndvi_colours(np.array([background]))[0].tolist()
    assert view.legend == NDVI_RAMP
    assert view.stretch is None


def test_stretch_is_per_scene_so_panning_keeps_the_colours(peru: Scene) -> None:
    a = render_view(peru.path, view_around(peru.lon, peru.lat, 14, shift_px=(0, 0)), 400, 300)
    b = render_view(peru.path, view_around(peru.lon, peru.lat, 14, shift_px=(150, 100)),
                    400, 300)
    assert a.stretch == b.stretch
    tighter = render_view(peru.path, view_around(peru.lon, peru.lat, 14), 400, 300,
                          stretch=(0.0, 100.0))
    assert tighter.stretch == (400.0, 9000.0)


def test_false_colour_and_swir_use_their_bands(peru: Scene) -> None:
    for combo in ("false_colour", "swir"):
        view = render_view(peru.path, view_around(peru.lon, peru.lat, 14), 400, 300, combo)
        assert view.combo == combo
        assert (view.rgba[..., 3] == 255).any()


def test_rgb_only_scene_cannot_make_ndvi(tmp_path: Path) -> None:
    scene = write_scene(tmp_path / "rgb.tif", 32718, -74.6, -9.4,
                        bands=("red", "green", "blue"))
    with pytest.raises(ImageryError, match="nir"):
        render_view(scene.path, view_around(scene.lon, scene.lat, 13), 400, 300, "ndvi")


def test_view_away_from_the_scene_is_empty(peru: Scene) -> None:
    view = render_view(peru.path, (-60.0, -20.0, -59.0, -19.0), 400, 300)
    assert view.is_empty
    with pytest.raises(ImageryError):
        view.to_png()


@pytest.mark.parametrize(("bounds", "size", "match"), [
    ((-74.0, -9.0, -75.0, -10.0), (400, 300), "swapped"),
    ((500000.0, 8900000.0, 510000.0, 8910000.0), (400, 300), "degrees"),
    ((-75.0, -10.0, -74.0, -9.0), (0, 300), "view size"),
    ((-75.0, -10.0, -74.0, -9.0), (100_000, 300), "view size"),
], ids=["swapped", "metres", "zero-width", "huge"])
def test_bad_views_are_refused(peru: Scene, bounds: tuple[float, ...], size: tuple[int, int],
                               match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        render_view(peru.path, bounds, *size)


def test_unknown_combo_is_refused(peru: Scene) -> None:
    with pytest.raises(ConfigError, match="true_colour"):
        render_view(peru.path, view_around(peru.lon, peru.lat, 13), 400, 300, "infrared")


def test_png_round_trip(peru: Scene) -> None:
    import io

    from PIL import Image

    view = render_view(peru.path, view_around(peru.lon, peru.lat, 13), 400, 300)
    img = Image.open(io.BytesIO(view.to_png()))
    assert img.mode == "RGBA"
    assert img.size == view.size_px


def test_pixel_values_at_the_cross(peru: Scene) -> None:
    got = pixel_values(peru.path, peru.lon, peru.lat)
    assert (got["col"], got["row"]) == (peru.col, peru.row)
    assert got["valid"]
    assert got["red"] == CROSS_VALUE
    assert got["nir"] == CROSS_VALUE
    assert got["ndvi"] == 0.0
    assert got["crs"] == "EPSG:32718"
    off = pixel_values(peru.path, peru.lon + 0.005, peru.lat + 0.005)
    assert off["ndvi"] == pytest.approx((3000 - 500) / 3500)
    assert off["ndwi"] == pytest.approx((700 - 3000) / 3700)


def test_pixel_values_outside_and_in_nodata(peru: Scene) -> None:
    with pytest.raises(ImageryError, match="outside"):
        pixel_values(peru.path, -60.0, -20.0)
    with rasterio.open(peru.path) as src:
        x, y = src.transform @ (5.5, 5.5)
    lon, lat = pyproj.Transformer.from_crs(32718, 4326, always_xy=True).transform(x, y)
    got = pixel_values(peru.path, lon, lat)
    assert not got["valid"]
    assert got["ndvi"] is None


IGUAZU = SHARED_DATA / "landsat8-iguazu" / "LC08_L1TP_224078_20200518_20200518_01_RT.TIF"


@pytest.mark.realdata
def test_landsat_iguazu_shows_the_itaipu_aerodrome() -> None:
    require(IGUAZU.is_file(), f"{IGUAZU} absent (see ../shared/data/README.md)")
    import airportsdata

    itaipu = airportsdata.load("ICAO")["SGIB"]
    lon, lat = float(itaipu["lon"]), float(itaipu["lat"])
    bands = {"blue": 1, "green": 2, "red": 3}  # B2, B3, B4 without band descriptions
    view = render_view(IGUAZU, view_around(lon, lat, 13, shift_px=(0, 0)), 800, 600,
                       bands=bands)
    col, row = expected_px(view, lon, lat)
    w, h = view.size_px
    assert 0 <= col < w
    assert 0 <= row < h
    assert view.rgba[int(row), int(col), 3] == 255  # the scene has data at the aerodrome
    got = pixel_values(IGUAZU, lon, lat, bands=bands)
    assert got["valid"]
    assert got["crs"] == "EPSG:32621"


def test_webp_keeps_the_alpha_exactly(peru: Scene) -> None:
    import io

    from PIL import Image

    view = render_view(peru.path, view_around(peru.lon, peru.lat, 14, 800, 800,
                                              shift_px=(0, 0)), 800, 800)
    img = Image.open(io.BytesIO(view.to_webp()))
    assert img.format == "WEBP"
    assert img.size == view.size_px
    alpha = np.asarray(img.convert("RGBA"))[..., 3]
    assert (alpha == view.rgba[..., 3]).all()


def test_stretch_lookup_table_matches_the_float_arithmetic() -> None:
    from geo.display import _to_bytes

    every = np.arange(65536, dtype=np.uint16)
    for lo, hi in [(400.0, 9000.0), (0.0, 1.0), (123.4, 5678.9)]:
        scale = 255.0 / (hi - lo)
        assert np.array_equal(_to_bytes(every, lo, scale),
                              _to_bytes(every.astype(np.float32), lo, scale))
    assert _to_bytes(np.array([np.nan, 1e9], np.float32), 0.0, 1.0).tolist() == [0, 255]


def test_window_inside_and_valid_needs_no_mask_and_matches_the_masked_path(
        peru: Scene, monkeypatch: pytest.MonkeyPatch) -> None:
    import geo.display as display

    bounds = view_around(peru.lon, peru.lat, 15, 300, 200, shift_px=(0, 0))
    fast = render_view(peru.path, bounds, 300, 200)
    assert (fast.rgba[..., 3] == 255).all()
    original = display._read_for_grid

    def masked(*args: object, **kwargs: object) -> object:
        got = original(*args, **kwargs)  # type: ignore[arg-type]
        assert got is not None
        assert got.complete
        return dataclasses.replace(got, complete=False)

    monkeypatch.setattr(display, "_read_for_grid", masked)
    slow = render_view(peru.path, bounds, 300, 200)
    assert np.array_equal(fast.rgba, slow.rgba)


def test_open_datasets_are_kept_between_views_and_dropped_when_the_file_changes(
        tmp_path: Path) -> None:
    """Consecutive views reuse one dataset (GDAL's block cache survives); a rewrite does not."""
    from geo import display

    scene = write_scene(tmp_path / "kept.tif", 32718, -74.0, -9.0, overviews=False)
    display._HANDLES.clear()
    with display._open(scene.path) as first:
        pass
    with display._open(scene.path) as second:
        assert second is first
        assert not first.closed
    bounds = view_around(scene.lon, scene.lat, 15)
    before = render_view(scene.path, bounds, 800, 600)
    write_scene(scene.path, 32718, -74.0, -9.0, overviews=False,
                bands=("blue", "green", "red", "nir"))  # same path, new content
    with display._open(scene.path) as third:
        assert third is not first
        assert third.count == 4
    assert first.closed  # the old version's handle went when the new one came back
    assert render_view(scene.path, bounds, 800, 600).rgba.shape == before.rgba.shape


def test_the_handle_pool_keeps_at_most_its_idle_limit() -> None:
    """The least recently used idle handles are closed past the limit."""
    from geo.display import _HandlePool

    class Handle:
        closed = False

        def close(self) -> None:
            self.closed = True

    pool = _HandlePool(max_idle=2)
    handles = [Handle() for _ in range(3)]
    for i, h in enumerate(handles):
        pool.give_back((f"/f{i}", (1,), None), h)
    assert [h.closed for h in handles] == [True, False, False]
    assert pool.take(("/f2", (1,), None)) is handles[2]
    assert pool.take(("/f2", (1,), None)) is None
    pool.clear()
    assert handles[1].closed
