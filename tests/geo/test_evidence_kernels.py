"""The compiled evidence kernels (z-score, box of ones, sampling) equal their definitions."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from rasterio.windows import Window
from scipy import ndimage

from geo.detect.evidence import (
    EVIDENCE_BANDS,
    box_mean,
    compute_evidence,
    compute_evidence_reference,
    log_bands,
    ones_box_mean,
    valid_share,
    zscore_total,
    zscore_total_reference,
    zscore_total_stored,
)
from geo.detect.layers import _water_pixels, _water_pixels_reference
from geo.detect.params import DetectionParams
from geo.detect.window import _axis_pixels, _axis_pixels_reference, _sample, _Shape
from geo.imagery import LazyBands, WindowData


@settings(max_examples=60, deadline=None)
@given(h=st.integers(1, 70), w=st.integers(1, 70), size=st.sampled_from([1, 3, 11, 31]),
       n=st.integers(1, 5), seed=st.integers(0, 2**16),
       invalid=st.sampled_from([0.0, 0.1, 0.9, 1.0]),
       scale=st.sampled_from([1.0, 3000.0, 65535.0]))
def test_zscore_total_equals_numpy_definition(h, w, size, n, seed, invalid, scale):
    rng = np.random.default_rng(seed)
    raw = {k: np.floor(rng.random((h, w)) * scale).astype(np.float32)
           for k in EVIDENCE_BANDS[:n]}
    raw[EVIDENCE_BANDS[0]][0, :] = 5.0  # a flat row: the spread floor
    logs = log_bands(raw)
    valid = rng.random((h, w)) >= invalid
    got = zscore_total(logs, valid, size_px=size)
    want = zscore_total_reference(logs, valid, size_px=size)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, want)


def test_zscore_total_takes_non_contiguous_bands_and_nan():
    rng = np.random.default_rng(3)
    logs = {k: np.log(1.0 + rng.random((40, 50), dtype=np.float32) * 900).T.copy().T
            for k in ("blue", "red")}
    logs["red"][5, 5] = np.nan
    assert not logs["blue"].flags.c_contiguous
    valid = np.ones((40, 50), dtype=bool)
    np.testing.assert_array_equal(zscore_total(logs, valid, size_px=11),
                                  zscore_total_reference(logs, valid, size_px=11))


def _bits(a: np.ndarray) -> bytes:
    return np.ascontiguousarray(a, dtype=np.float32).tobytes()


@settings(max_examples=60, deadline=None)
@given(h=st.integers(1, 70), w=st.integers(1, 70), size=st.sampled_from([1, 3, 11, 31]),
       n=st.integers(1, 5), seed=st.integers(0, 2**16),
       invalid=st.sampled_from([0.0, 0.1, 0.9, 1.0]),
       dtype=st.sampled_from([np.uint8, np.uint16]), strided=st.booleans())
def test_zscore_of_stored_integers_equals_that_of_their_float_bands(h, w, size, n, seed,
                                                                   invalid, dtype, strided):
    """The integer path (log from a table, in the kernel) gives the float path's bits."""
    rng = np.random.default_rng(seed)
    top = int(np.iinfo(dtype).max)
    stack = rng.integers(0, top + 1, size=(n, h, w + 3), dtype=dtype)
    stack[0, 0, :] = 5  # a flat row: the spread floor
    stack[:, -1, :2] = 0  # zeros and the largest value: both ends of the table
    stack[:, -1, 2:4] = top
    # a band as read is a plane of the window's stack; a column slice is not contiguous
    stored = {k: stack[i, :, 1:w + 1] if strided else np.ascontiguousarray(stack[i, :, :w])
              for i, k in enumerate(EVIDENCE_BANDS[:n])}
    floats = {k: v.astype(np.float32) for k, v in stored.items()}
    valid = rng.random((h, w)) >= invalid
    assert all(_bits(a) == _bits(b) for a, b in zip(log_bands(stored).values(),
                                                    log_bands(floats).values(), strict=True))
    got = zscore_total_stored(stored, valid, size_px=size)
    want = zscore_total(log_bands(floats), valid, size_px=size)
    assert got.dtype == np.float32
    assert _bits(got) == _bits(want)


@settings(max_examples=60, deadline=None)
@given(h=st.integers(1, 60), w=st.integers(1, 60), size=st.sampled_from([1, 3, 11, 31]),
       seed=st.integers(0, 2**16), invalid=st.sampled_from([0.0, 0.2, 1.0]),
       stored=st.booleans(), cut=st.tuples(*[st.floats(0.0, 1.0)] * 4))
def test_zscores_made_inside_a_box_equal_the_whole_arrays_there(h, w, size, seed, invalid,
                                                                stored, cut):
    """``inner``: the same bits inside it (the means still over everything), 0 outside."""
    rng = np.random.default_rng(seed)
    ints = {k: rng.integers(0, 4000, size=(h, w), dtype=np.uint16) for k in EVIDENCE_BANDS[:4]}
    valid = rng.random((h, w)) >= invalid
    r0, r1 = sorted(round(x * h) for x in cut[:2])
    c0, c1 = sorted(round(x * w) for x in cut[2:])
    inner = np.s_[r0:r1, c0:c1]
    if stored:
        whole = zscore_total_stored(ints, valid, size_px=size)
        part = zscore_total_stored(ints, valid, size_px=size, inner=inner)
    else:
        logs = log_bands({k: v.astype(np.float32) for k, v in ints.items()})
        whole = zscore_total(logs, valid, size_px=size)
        part = zscore_total(logs, valid, size_px=size, inner=inner)
    assert _bits(part[inner]) == _bits(whole[inner])
    outside = np.ones((h, w), dtype=bool)
    outside[inner] = False
    assert not part[outside].any()


def test_zscores_refuse_a_box_outside_the_arrays():
    logs = {"red": np.ones((8, 8), dtype=np.float32)}
    with pytest.raises(ValueError, match="not inside"):
        zscore_total(logs, np.ones((8, 8), dtype=bool), size_px=3, inner=np.s_[2:9, 0:8])


@pytest.mark.parametrize(("roles", "texture"), [
    (("blue", "green", "red", "nir", "swir1", "swir2"), 0.0), (("blue", "green", "red"), 0.0),
    (("blue", "green", "red"), 1.0)], ids=["multispectral", "rgb", "rgb-texture"])
def test_compute_evidence_from_stored_integers_equals_the_float_bands(roles, texture,
                                                                      monkeypatch):
    import geo.detect.evidence_kernel as kernels

    rng = np.random.default_rng(11)
    stored = {k: rng.integers(900, 1100, size=(90, 70), dtype=np.uint16) for k in roles}
    for k in roles:  # a bright strip, NIR brighter still (bare soil, not water)
        stored[k][40, 5:65] = 3500 if k == "nir" else 2500
    floats = {k: v.astype(np.float32) for k, v in stored.items()}
    valid = rng.random((90, 70)) > 0.05
    calls = []
    table_kernel = kernels.add_zscore_table
    monkeypatch.setattr(kernels, "add_zscore_table",
                        lambda *a: calls.append(1) or table_kernel(*a))
    p = replace(DetectionParams(), rgb_texture_weight=texture)
    got = compute_evidence(stored, valid, res_m=10.0, params=p)
    want = compute_evidence(floats, valid, res_m=10.0, params=p)
    assert _bits(got) == _bits(want)
    assert _bits(want) == _bits(compute_evidence_reference(floats, valid, res_m=10.0, params=p))
    assert np.median(got[40, 20:50]) > 2.0 > np.median(np.abs(got[10:30]))
    # the RGB texture term needs the log bands themselves: the kernel's table is not used
    assert len(calls) == (0 if texture else len([k for k in EVIDENCE_BANDS if k in roles]))


def test_compute_evidence_still_finds_a_strip():
    """The evidence of a bright one-pixel strip on noisy forest stands out (z units)."""
    rng = np.random.default_rng(5)
    bands = {k: (400 + rng.normal(0, 20, (80, 80))).astype(np.float32)
             for k in ("blue", "green", "red", "nir", "swir1")}
    bands["nir"] *= 2.0  # forest: NIR well above green (NDWI < 0, no water)
    for k in ("blue", "red", "swir1"):  # bare soil: not greener than NIR (that is water)
        bands[k][40, 10:70] *= 2.0
    valid = np.ones((80, 80), dtype=bool)
    ev = compute_evidence(bands, valid, res_m=10.0, params=DetectionParams())
    assert ev[40, 20:60].min() > 2.0
    assert np.median(np.abs(ev[10:30])) < 1.0


@settings(max_examples=80, deadline=None)
@given(h=st.integers(1, 120), w=st.integers(1, 120), size=st.integers(1, 99))
def test_ones_box_mean_equals_filtering_ones(h, w, size):
    want = box_mean(np.ones((h, w), dtype=np.float32), size)
    got = ones_box_mean((h, w), size)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, want)


def test_valid_share_of_a_masked_window_still_filters():
    valid = np.ones((30, 40), dtype=bool)
    valid[10:20, 5] = False
    np.testing.assert_array_equal(valid_share(valid, size_px=7),
                                  box_mean(valid.astype(np.float32), 7))


@settings(max_examples=80, deadline=None)
@given(h=st.integers(1, 40), w=st.integers(1, 40), seed=st.integers(0, 2**16),
       scale=st.sampled_from([1.0, 100.0, 1e4]), dtype=st.sampled_from([np.float32, np.float64]))
def test_bilinear_sampling_equals_scipy(h, w, seed, scale, dtype):
    """The compiled sampler gives map_coordinates' bits, at edges and beyond them too."""
    rng = np.random.default_rng(seed)
    image = (rng.normal(size=(h, w)) * scale).astype(dtype)
    pts = np.column_stack([rng.uniform(-3, h + 2, 60), rng.uniform(-3, w + 2, 60)])
    pts[:10, 0] = rng.integers(-1, h + 1, 10)  # whole rows, the last one, beyond
    pts[5:15, 1] = rng.integers(-1, w + 1, 10)
    pts[15] = (h - 1, w - 1)
    grid = pts.reshape(6, 10, 2)  # any leading shape
    want = ndimage.map_coordinates(image, [grid[..., 0], grid[..., 1]], order=1,
                                   mode="nearest")
    got = _sample(image, grid)
    assert got.dtype == want.dtype
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)


@settings(max_examples=80, deadline=None)
@given(h=st.integers(1, 60), w=st.integers(1, 60), length=st.floats(1.0, 90.0),
       angle=st.floats(0.0, 2 * np.pi), r=st.floats(-20.0, 80.0), c=st.floats(-20.0, 80.0))
def test_axis_pixels_equal_the_numpy_definition(h, w, length, angle, r, c):
    """The compiled axis cells are the NumPy definition's pixels, in its order, at edges too."""
    shape = _Shape(centre_rc=(r, c), axis_rc=(float(np.sin(angle)), float(np.cos(angle))),
                   length_px=length, width_px=2.0, fill=1.0, bend_px=0.0)
    got, want = _axis_pixels(shape, (h, w)), _axis_pixels_reference(shape, (h, w))
    for g, x in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, x)
        assert g.dtype == np.intp


@settings(max_examples=60, deadline=None)
@given(h=st.integers(1, 50), w=st.integers(1, 50), seed=st.integers(0, 2**16),
       level=st.sampled_from([0.05, 0.0, -0.2]), invalid=st.sampled_from([0.0, 0.3]))
def test_water_pixels_equal_the_numpy_definition(h, w, seed, level, invalid):
    """The compiled water mask gives NumPy's booleans, NDWI at the level included."""
    rng = np.random.default_rng(seed)
    green = rng.integers(0, 3000, (h, w)).astype(np.float32)
    nir = rng.integers(0, 3000, (h, w)).astype(np.float32)
    # NDWI of (21, 19) is exactly 0.05 in float32 arithmetic; zeros give 0 / eps
    green.flat[::7], nir.flat[::7] = 21.0, 19.0
    green.flat[::11], nir.flat[::11] = 0.0, 0.0
    nir.flat[::13] = np.nan
    valid = rng.random((h, w)) >= invalid
    data = WindowData(window=Window(0, 0, w, h), transform=Affine.identity(),
                      bands={"green": green, "nir": nir}, valid=valid, res_m=10.0)
    params = DetectionParams(ndwi_water=level)
    want = _water_pixels_reference(data, params)
    np.testing.assert_array_equal(_water_pixels(data, params), want)
    # from the integers a window was read as, with its bands not made float32
    ints = np.stack([green, np.nan_to_num(nir, nan=7.0)]).astype(np.uint16)
    lazy = WindowData(window=data.window, transform=data.transform,
                      bands=LazyBands(ints, (("green", 0), ("nir", 1))), valid=valid,
                      res_m=10.0, raw=ints, raw_planes=(("green", 0), ("nir", 1)))
    assert lazy.stored_band("nir").dtype == np.uint16
    np.testing.assert_array_equal(_water_pixels(lazy, params),
                                  _water_pixels_reference(lazy, params))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**16), roles=st.sampled_from([
    ("blue", "green", "red", "nir", "swir1", "swir2"), ("green", "red", "nir"),
    ("blue", "green", "red")]), texture=st.sampled_from([0.0, 1.0]),
    stored=st.booleans(), invalid=st.sampled_from([0.0, 0.2]), level=st.sampled_from(
        [-0.3, 0.0, 0.1]), top=st.integers(0, 20), left=st.integers(0, 20))
def test_compute_evidence_equals_numpys_last_steps(seed, roles, texture, stored, invalid, level,
                                                   top, left):
    """The compiled mean, clip, water and mask, on the whole arrays or an inner box of them."""
    rng = np.random.default_rng(seed)
    ints = {k: rng.integers(0, 3000, size=(50, 60), dtype=np.uint16) for k in roles}
    for k in ints:  # saturated and empty pixels: the clip at both ends, water, zeros
        ints[k][rng.random((50, 60)) < 0.05] = 0
        ints[k][rng.random((50, 60)) < 0.05] = 65535
    bands = ints if stored else {k: v.astype(np.float32) for k, v in ints.items()}
    valid = rng.random((50, 60)) >= invalid
    p = replace(DetectionParams(), rgb_texture_weight=texture, ndwi_water=level)
    want = compute_evidence_reference(bands, valid, res_m=10.0, params=p)
    assert _bits(compute_evidence(bands, valid, res_m=10.0, params=p)) == _bits(want)
    inner = np.s_[top:top + 25, left:left + 30]
    assert _bits(compute_evidence(bands, valid, res_m=10.0, params=p, inner=inner)) == \
        _bits(want[inner])
