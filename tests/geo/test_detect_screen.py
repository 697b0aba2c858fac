"""The detector's coarse screen: it keeps strips, skips blank fields and changes no result."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from affine import Affine
from rasterio.windows import Window

from geo.detect.evidence import ridge_response, suppress_non_maxima
from geo.detect.layers import (
    WindowLayers,
    _split_boxes,
    compute_layers,
    profile_extension_px,
    profile_span_px,
    screened_layers,
    thin_pixels,
)
from geo.detect.params import DetectionParams
from geo.detect.screen import (
    _screen_blocks_reference,
    coarse_evidence,
    coarse_sums,
    coarse_sums_float,
    screen_blocks,
    screen_factor,
)
from geo.detect.window import (
    _sampled_box,
    _shape,
    _traced_ridges,
    detect_window,
    measure_profile,
)
from geo.imagery import LazyBands, WindowData, read_scene_info, read_window
from geo.sample.landscape import box_coverage

FOREST = {"blue": 0.020, "green": 0.045, "red": 0.025, "nir": 0.300, "swir1": 0.140,
          "swir2": 0.060}
STRIP = {"blue": 0.034, "green": 0.056, "red": 0.045, "nir": 0.140, "swir1": 0.190,
         "swir2": 0.090}
SIZE = 384  # px at 10 m


def _window(strip: tuple[float, float, float, float, float] | None, *, seed: int = 0,
            width_m: float = 10.0) -> WindowData:
    """Forest with 5 % speckle and optionally one bare strip (cx_m, cy_m, length_m, bearing)."""
    rng = np.random.default_rng(seed)
    cov = np.zeros((SIZE, SIZE))
    if strip is not None:
        cx, cy, length, bearing, _ = strip
        cov = box_coverage((SIZE, SIZE), 10.0, cx=cx, cy=cy, length=length, width=width_m,
                           bearing_deg=bearing)
    bands = {}
    for k, v in FOREST.items():
        img = v * (1 + 0.05 * rng.standard_normal((SIZE, SIZE)))
        img += (STRIP[k] - img) * cov
        bands[k] = np.rint(img * 1e4).astype(np.float32)
    return WindowData(window=Window(0, 0, SIZE, SIZE),
                      transform=Affine(10.0, 0.0, 600000.0, 0.0, -10.0, 8960000.0),
                      bands=bands, valid=np.ones((SIZE, SIZE), dtype=bool), res_m=10.0)


@pytest.fixture
def strip_window() -> WindowData:
    return _window((2000.0, 1800.0, 900.0, 35.0, 0.0))


def test_screen_keeps_the_blocks_of_a_one_pixel_strip(strip_window):
    p = DetectionParams()
    blocks = screen_blocks(strip_window.bands, strip_window.valid, res_m=10.0, params=p)
    assert blocks is not None
    b = p.screen_block_px
    assert blocks.shape == (-(-SIZE // b), -(-SIZE // b))
    assert blocks[180 // b, 200 // b]  # the strip's centre: row 180, column 200
    assert blocks.mean() < 0.5  # and the forest around it is mostly skipped


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_screen_skips_a_blank_field(seed):
    blank = _window(None, seed=seed)
    blocks = screen_blocks(blank.bands, blank.valid, res_m=10.0, params=DetectionParams())
    assert blocks is not None
    assert not blocks.any()


def test_screen_is_off_at_coarse_pixels_for_rgb_and_when_disabled(strip_window):
    p = DetectionParams()
    assert screen_factor(30.0, p) == 1
    assert screen_blocks(strip_window.bands, strip_window.valid, res_m=30.0, params=p) is None
    rgb = {k: strip_window.bands[k] for k in ("red", "green", "blue")}
    assert screen_blocks(rgb, strip_window.valid, res_m=10.0, params=p) is None
    off = replace(p, screen=False)
    assert screen_blocks(strip_window.bands, strip_window.valid, res_m=10.0, params=off) is None


def _with_integers(data: WindowData, dtype: type, *, masked: bool) -> WindowData:
    """Make the window as read from an integer raster: its stack, its bands from it."""
    names = list(data.bands)
    stack = np.stack([data.bands[k] for k in names])
    if dtype == np.uint8:
        stack = stack // 16  # 8-bit reflectances
    raw = np.clip(stack, 0, np.iinfo(dtype).max).astype(dtype)
    valid = np.ones(raw.shape[1:], dtype=bool)
    if masked:  # a nodata bar across the strip and scattered invalid pixels
        raw[:, 170:176, 20:300] = 0
        valid = (raw != 0).all(axis=0) & (np.random.default_rng(1).random(valid.shape) > 0.02)
    return replace(data, bands={k: raw[i].astype(np.float32) for i, k in enumerate(names)},
                   valid=valid, raw=raw, raw_planes=tuple((k, i) for i, k in enumerate(names)))


@pytest.mark.parametrize("dtype", [np.uint16, np.uint8])
@pytest.mark.parametrize("masked", [False, True], ids=["valid", "masked"])
@pytest.mark.parametrize("params", [DetectionParams(), DetectionParams().permissive()],
                         ids=["rules", "permissive"])
def test_screen_of_the_integer_stack_equals_the_float_screen(strip_window, dtype, masked,
                                                             params):
    data = _with_integers(strip_window, dtype, masked=masked)
    got = screen_blocks(data.bands, data.valid, res_m=10.0, params=params, raw=data.raw,
                        raw_planes=data.raw_planes)
    want = _screen_blocks_reference(data.bands, data.valid, res_m=10.0, params=params)
    assert got is not None
    assert want is not None
    assert want.any()
    np.testing.assert_array_equal(got, want)
    # and the coarse evidence under it, to the bit
    sums = coarse_sums(data.bands, data.valid, 3, raw=data.raw, raw_planes=data.raw_planes)
    floats = coarse_sums_float(data.bands, data.valid, 3)
    np.testing.assert_array_equal(coarse_evidence(sums, 11, ndwi_water=0.05).view(np.uint32),
                                  coarse_evidence(floats, 11, ndwi_water=0.05).view(np.uint32))


def test_a_window_read_from_an_integer_raster_keeps_its_stack(tmp_path):
    from tests.geo.test_detect import ONE_STRIP, write_scene

    info = read_scene_info(write_scene(tmp_path / "s.tif", strips=ONE_STRIP, nodata_bar=True))
    data = read_window(info, Window(0, 0, 200, 200))
    assert data.raw is not None
    assert data.raw.dtype == np.uint16
    assert data.raw.shape == (6, 200, 200)
    for role, plane in data.raw_planes:
        np.testing.assert_array_equal(data.bands[role], data.raw[plane].astype(np.float32))
    assert not data.valid.all()
    p = DetectionParams().permissive()
    got = screen_blocks(data.bands, data.valid, res_m=10.0, params=p, raw=data.raw,
                        raw_planes=data.raw_planes)
    want = _screen_blocks_reference(data.bands, data.valid, res_m=10.0, params=p)
    assert want is not None
    assert want.any()
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", [np.uint16, np.uint8, np.int16, np.uint32])
@pytest.mark.parametrize("masked", [False, True], ids=["valid", "masked"])
def test_detection_from_the_integer_stack_equals_that_from_float_bands(strip_window, dtype,
                                                                       masked):
    """An integer raster gives the candidates of its float bands, to the bit.

    Read from an integer raster (lazy bands over the stack), the screened detector takes
    the logs of its full-resolution boxes from a table when the values are uint8/uint16,
    and makes other integers float32 first.
    """
    data = _with_integers(strip_window, dtype, masked=masked)
    assert data.raw is not None
    lazy = replace(data, bands=LazyBands(data.raw, data.raw_planes))
    floats = replace(data, raw=None, raw_planes=())
    p = DetectionParams().permissive()
    got = detect_window(lazy, params=p)
    want = detect_window(floats, params=p)
    assert len(got) >= 1
    assert repr(got) == repr(want)  # every float as its shortest exact repr, NaN included


@pytest.mark.parametrize("params", [DetectionParams(), DetectionParams().permissive()],
                         ids=["rules", "permissive"])
def test_screened_detection_equals_the_whole_window(strip_window, params):
    screened = detect_window(strip_window, params=params)
    whole = detect_window(strip_window, params=replace(params, screen=False))
    assert len(screened) == len(whole) >= 1
    for a, b in zip(screened, whole, strict=True):
        assert (a.x, a.y, a.length_m, a.width_m, a.bearing_deg) == pytest.approx(
            (b.x, b.y, b.length_m, b.width_m, b.bearing_deg), abs=1e-6)
        fa, fb = dict(a.features), dict(b.features)
        assert fa.keys() == fb.keys()
        for k in fa:
            assert fa[k] == pytest.approx(fb[k], rel=1e-5, abs=1e-6, nan_ok=True), k
    assert any(c.length_m == pytest.approx(900.0, abs=90.0) for c in screened)


def test_screened_layers_compute_only_part_of_a_window(strip_window):
    wl = screened_layers(strip_window, DetectionParams())
    assert wl.traced is not None
    assert wl.state is not None
    assert 0 < wl.traced.mean() < 0.5
    assert np.isneginf(wl.lay["ridge"]).mean() > 0.3  # never computed there


#: Layers made only around measured candidates (log bands and indices).
_BAND_LAYERS = ("blue", "green", "red", "nir", "swir1", "swir2", "ndvi", "ndwi", "brightness")


def _poisoned(lay: dict[str, np.ndarray], names: tuple[str, ...],
              keep: tuple[int, int, int, int]) -> dict[str, np.ndarray]:
    """``lay`` with the layers ``names`` NaN outside the box ``keep`` (rows, cols, half-open)."""
    out = dict(lay)
    for name in names:
        v = np.full_like(lay[name], np.nan)
        v[keep[0]:keep[1], keep[2]:keep[3]] = lay[name][keep[0]:keep[1], keep[2]:keep[3]]
        out[name] = v
    return out


@pytest.mark.parametrize("bearing", [0.0, 35.0, 90.0])
def test_a_profile_reads_its_layers_only_as_far_around_its_sampled_box_as_said(bearing):
    """What ``ensure_computed`` relies on: ``profile_span_px`` and ``_sample_margin_px``.

    The band layers are read at most ``span - 1`` px around the sampled box, the evidence
    at most ``extension + 1`` px (the ridge filter's margin covers that).
    """
    window = _window((1900.0, 1900.0, 900.0, bearing, 0.0))
    p = DetectionParams()
    whole = compute_layers(window, p)
    ridges = _traced_ridges(WindowLayers(lay=whole), window.valid, p, res_m=10.0,
                            min_pixels=1.0)
    rows, cols = max(ridges, key=lambda rc: rc[0].size)
    shape = _shape(rows, cols)
    r0, r1, c0, c1 = _sampled_box(rows, cols, shape)
    span, ext = profile_span_px(p, 10.0), profile_extension_px(p, 10.0)
    kw = {"centre_rc": shape.centre_rc, "axis_rc": shape.axis_rc, "length_px": shape.length_px,
          "flank_px": span - 2, "extension_px": ext}

    def features(lay: dict[str, np.ndarray]) -> str:
        m = measure_profile(lay, window.valid, **kw)
        return repr((m.centre_rc, m.length_px, m.width_px, sorted(m.features.items())))

    def grown(by: int) -> tuple[int, int, int, int]:
        return r0 - by, r1 + by, c0 - by, c1 + by

    want = features(whole)
    assert features(_poisoned(whole, _BAND_LAYERS, grown(span - 1))) == want
    assert features(_poisoned(whole, ("evidence",), grown(ext + 1))) == want
    if bearing in (0.0, 90.0):  # the flanks of a strip along the grid lie beyond its box
        assert features(_poisoned(whole, _BAND_LAYERS, grown(0))) != want
    # the extension and through-road rays do sample beyond the box
    assert features(_poisoned(whole, ("evidence",), grown(0))) != want


def test_ensure_computed_makes_the_layers_exact_as_far_as_said(strip_window):
    p = DetectionParams()
    wl = screened_layers(strip_window, p)
    assert wl.traced is not None
    assert not wl.lay["red"].any()  # the strip is traced, but nothing was measured yet
    assert not wl.lay["ndvi"].any()
    box = (150, 200, 150, 230)  # rows, cols (half-open) on the strip
    wl.ensure_computed(box, bands_reach_px=5)
    whole = compute_layers(strip_window, p)
    assert sorted(wl.lay) == sorted(set(whole) - {"water_dist"})  # water: once a ridge is found
    ext = profile_extension_px(p, 10.0) + 1
    evidence = np.s_[box[0] - ext:box[1] + ext, box[2] - ext:box[3] + ext]
    np.testing.assert_array_equal(wl.lay["evidence"][evidence], whole["evidence"][evidence])
    for name in _BAND_LAYERS:
        inner = np.s_[box[0] - 5:box[1] + 5, box[2] - 5:box[3] + 5]
        np.testing.assert_array_equal(wl.lay[name][inner], whole[name][inner], err_msg=name)
        # whole blocks (32 px) around the box and its reach, nothing beyond
        assert not wl.lay[name][:box[0] - 5 - 32].any(), name
        assert not wl.lay[name][:, box[3] + 5 + 32:].any(), name
        assert (wl.lay[name] == 0).mean() > 0.3, name


def test_thin_pixels_match_non_maximum_suppression():
    rng = np.random.default_rng(4)
    ev = 0.3 * rng.standard_normal((96, 96)).astype(np.float32)
    ev[40:42, 10:90] += 2.0
    ridge, orient = ridge_response(ev, length_px=21, n_orientations=16, flank_px=(3,))
    mask = ridge >= 0.3
    rows, cols = thin_pixels(ridge, orient, mask, n_orientations=16)
    expected = mask & suppress_non_maxima(ridge, orient, n_orientations=16)
    got = np.zeros_like(mask)
    got[rows, cols] = True
    np.testing.assert_array_equal(got, expected)


def test_split_boxes_cover_every_block_of_a_diagonal():
    todo = np.eye(12, dtype=bool) | np.eye(12, k=1, dtype=bool)
    boxes = _split_boxes(todo, [(slice(0, 12), slice(0, 12))], margin=1.0)
    covered = np.zeros_like(todo)
    for sl in boxes:
        covered[sl] = True
    assert (covered >= todo).all()
    assert covered.sum() < 0.5 * todo.size  # not the whole bounding box
    compact = np.zeros((12, 12), dtype=bool)
    compact[2:6, 3:9] = True
    assert _split_boxes(compact, [(slice(0, 12), slice(0, 12))], margin=1.0) == [
        (slice(2, 6), slice(3, 9))]


def test_pooled_layers_go_back_clean_and_change_nothing(monkeypatch):
    """Layers reused from window to window (``layers._pool()``) are reset where written.

    Each window gives, to the bit, what it gives with nothing kept from earlier windows, and
    every array handed back holds its fill value everywhere (``CHECK_RELEASED``).
    """
    import geo.detect.layers as layers

    monkeypatch.setattr(layers, "CHECK_RELEASED", True)
    windows = [_window((2000.0, 1800.0, 900.0, 35.0, 0.0)),
               _window((1500.0, 2200.0, 1200.0, 120.0, 0.0), seed=3, width_m=25.0),
               _window(None, seed=5)]
    windows[1].bands["nir"][:40] = 300.0  # water along one edge: water distances written
    windows[1].bands["green"][:40] = 600.0
    filled = []
    real_fill = layers._fill_water

    def fill_water(st: layers._Screened, rows: np.ndarray, cols: np.ndarray) -> None:
        shore = st.water is not None and st.water.tree is not None
        filled.append(rows.size if shore else 0)
        real_fill(st, rows, cols)

    monkeypatch.setattr(layers, "_fill_water", fill_water)
    params = DetectionParams().permissive()
    fresh = []
    for w in windows:
        layers.clear_pool()  # nothing kept
        fresh.append(repr(detect_window(w, params=params)))
    assert sum(filled) > 0  # the water path was taken
    layers.clear_pool()
    for _ in range(2):
        for w, expected in zip(windows, fresh, strict=True):
            assert repr(detect_window(w, params=params)) == expected
    assert layers._pool().free  # the arrays were kept between windows


def test_lazy_water_distances_equal_the_whole_window_transform_to_the_cap():
    """Filled at the pixels asked for, the distances are the capped Euclidean transform's.

    A pond in one corner of the 384 px window: its far corner lies beyond the 5 km cap
    (530 px at 10 m), where the k-d tree's search stops at the cap.
    """
    from geo.detect.evidence import normalized_difference
    from geo.detect.layers import WATER_CAP_M, add_water_distance, water_distance

    data = _window(None, seed=2)
    data.bands["nir"][:6, :9] = 300.0
    data.bands["green"][:6, :9] = 600.0
    p = DetectionParams()
    wl = screened_layers(data, p)
    assert wl.state is not None
    add_water_distance(wl, data, p)
    rows, cols = np.nonzero(np.ones((SIZE, SIZE), dtype=bool))
    wl.ensure_water(rows, cols)
    whole = water_distance(normalized_difference(data.bands["green"], data.bands["nir"]),
                           data.valid, res_m=data.res_m, params=p)
    np.testing.assert_array_equal(wl.lay["water_dist"], whole)
    assert (whole == WATER_CAP_M).sum() > 100  # beyond the cap
    assert (whole == 0).sum() == 54  # the pond
    assert (whole < WATER_CAP_M).mean() > 0.9
