"""The screened path's helpers give exactly what the straightforward code gives."""

from __future__ import annotations

import numpy as np
import pytest
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.detect.evidence import normalized_difference, suppress_non_maxima
from geo.detect.layers import _water_pixels, ridge_pixels, thin_pixels
from geo.detect.params import DetectionParams
from geo.detect.screen import _block_sum
from geo.imagery import WindowData

# -- the screened path's helpers give exactly what the straightforward code gives ------------

def _block_sum_padded(values: np.ndarray, f: int) -> np.ndarray:
    """Sum blocks as the former implementation did: pad with zeros to a multiple of ``f``."""
    h, w = values.shape
    hp, wp = -(-h // f) * f, -(-w // f) * f
    values = np.pad(values, ((0, hp - h), (0, wp - w)))
    rows = values[0::f].astype(np.float32)
    for k in range(1, f):
        rows += values[k::f]
    out = rows[:, 0::f].copy()
    for k in range(1, f):
        out += rows[:, k::f]
    return out


@pytest.mark.parametrize("shape", [(1, 1), (7, 11), (30, 31), (100, 97)])
@pytest.mark.parametrize("f", [2, 3, 4])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint16])
def test_block_sum_equals_the_padded_sum(shape, f, dtype):
    values = (np.random.default_rng(0).random(shape) * 9000).astype(dtype)
    got, want = _block_sum(values, f), _block_sum_padded(values, f)
    assert got.dtype == want.dtype == np.float32
    np.testing.assert_array_equal(got, want)


def test_thin_pixels_equals_suppress_non_maxima_at_the_edges_too():
    rng = np.random.default_rng(1)
    ridge = rng.standard_normal((50, 60)).astype(np.float32)
    ridge[3, 4] = np.nan
    orient = rng.integers(0, 16, ridge.shape).astype(np.int16)
    mask = rng.random(ridge.shape) < 0.5
    mask[0], mask[-1], mask[:, 0], mask[:, -1] = True, True, True, True
    rows, cols = thin_pixels(ridge, orient, mask, n_orientations=16)
    want = suppress_non_maxima(ridge, orient, n_orientations=16) & mask
    got = np.zeros_like(mask)
    got[rows, cols] = True
    np.testing.assert_array_equal(got, want)


def test_water_pixels_equal_one_window_sized_ndwi():
    rng = np.random.default_rng(2)
    shape = (300, 170)
    bands = {k: (rng.random(shape) * 3000).astype(np.float32) for k in ("green", "nir")}
    valid = rng.random(shape) > 0.1
    data = WindowData(window=None, transform=Affine.identity(), bands=bands,  # type: ignore
                      valid=valid, res_m=10.0)
    p = DetectionParams()
    want = (normalized_difference(bands["green"], bands["nir"]) > p.ndwi_water) & valid
    np.testing.assert_array_equal(_water_pixels(data, p), want)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_shore_equals_water_minus_its_erosion(seed):
    from scipy import ndimage

    from geo.detect.evidence_kernel import shore_pixels
    from geo.detect.layers import _shore

    water = np.random.default_rng(seed).random((40, 33)) < [0.3, 0.7, 0.95][seed]
    want = water & ~ndimage.binary_erosion(water, border_value=1)
    np.testing.assert_array_equal(_shore(water), want)
    got = shore_pixels(water, int(water.sum()))
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, np.column_stack(np.nonzero(want)))
    for edge in (water[:1], water[:, :1], np.ones((3, 4), dtype=bool)):  # thin, or all water
        np.testing.assert_array_equal(shore_pixels(edge, int(edge.sum())),
                                      np.column_stack(np.nonzero(_shore(edge))))


@pytest.mark.parametrize("shape", [(5, 7), (200, 130), (385, 64)])
@pytest.mark.parametrize("f", [2, 3])
def test_log_block_sums_strip_by_strip_equal_the_whole_window(shape, f):
    from geo.detect.screen import _log_block_sums

    rng = np.random.default_rng(3)
    band = (rng.random(shape) * 5000).astype(np.float32)
    band[0, 0] = 0.0  # below 1: counts as 1
    valid = rng.random(shape) > 0.2
    logv = np.where(valid, np.log(np.maximum(band, 1.0)), 0.0).astype(np.float32)
    s1, s2 = _log_block_sums(band, ~valid, f)
    np.testing.assert_array_equal(s1, _block_sum_padded(logv, f))
    np.testing.assert_array_equal(s2, _block_sum_padded(logv * logv, f))
    s1, s2 = _log_block_sums(band, None, f)
    logv = np.log(np.maximum(band, 1.0))
    np.testing.assert_array_equal(s1, _block_sum_padded(logv, f))


@settings(max_examples=60, deadline=None)
@given(h=st.integers(1, 90), w=st.integers(1, 90), b=st.sampled_from([1, 7, 32]),
       seed=st.integers(0, 2**16), level=st.sampled_from([0.5, 0.0, -1.0]))
def test_ridge_pixels_equal_nonzero_of_the_masks(h, w, b, seed, level):
    """The compiled search gives np.nonzero's pixels, in its order, the threshold included."""
    rng = np.random.default_rng(seed)
    ridge = rng.normal(0.5, 0.5, (h, w)).astype(np.float32)
    ridge.flat[::5] = 0.5  # exactly at the threshold
    ridge.flat[::17] = -np.inf
    ridge.flat[::19] = np.nan
    valid = rng.random((h, w)) > 0.2
    blocks = rng.random((-(-h // b), -(-w // b))) > 0.4
    mask = np.repeat(np.repeat(blocks, b, axis=0), b, axis=1)[:h, :w]
    want = np.nonzero((ridge >= level) & valid & mask)
    got = ridge_pixels(ridge, valid, level, blocks, b)
    assert got[0].dtype == want[0].dtype
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


@settings(max_examples=150, deadline=None)
@given(n=st.integers(1, 400), seed=st.integers(0, 2**16),
       kind=st.sampled_from(["strip", "blob", "line", "diagonal", "repeated"]))
def test_a_ridges_shape_equals_the_numpy_definition(n, seed, kind):
    """The compiled percentiles and medians of ``_shape`` give NumPy's numbers, to the bit."""
    from geo.detect.window import _shape, _shape_reference

    rng = np.random.default_rng(seed)
    t = rng.uniform(0, n, n)
    if kind == "strip":  # a slanted strip a few pixels wide, as traced
        rows, cols = 500 + 0.3 * t + rng.normal(0, 1.5, n), 200 + t
    elif kind == "blob":
        rows, cols = rng.normal(300, 20, n), rng.normal(300, 20, n)
    elif kind == "line":  # every pixel in one row: a degenerate spread across
        rows, cols = np.full(n, 7.0), t
    elif kind == "diagonal":
        rows, cols = t, t
    else:  # a few pixels many times over: ties in every median
        rows, cols = rng.integers(0, 3, n).astype(float), rng.integers(0, 3, n).astype(float)
    rows, cols = np.rint(rows).astype(np.intp), np.rint(cols).astype(np.intp)
    assert _shape(rows, cols) == _shape_reference(rows, cols)


@settings(max_examples=150, deadline=None)
@given(h=st.integers(1, 60), w=st.integers(1, 60), seed=st.integers(0, 2**16),
       density=st.sampled_from([0.02, 0.1, 0.3, 0.7]), level=st.sampled_from([0.6, 0.9, 2.0]),
       min_pixels=st.sampled_from([0.0, 1.0, 4.5, 12.0]), nan=st.booleans())
def test_worthy_groups_equal_labelling_the_pixels_box(h, w, seed, density, level, min_pixels,
                                                      nan):
    from geo.detect.window import _worthy_groups, _worthy_groups_reference

    rng = np.random.default_rng(seed)
    ridge = rng.normal(size=(h, w)).astype(np.float32)
    if nan:
        ridge[rng.random((h, w)) < 0.05] = np.nan
    rows, cols = np.nonzero(rng.random((h, w)) < density)
    p = DetectionParams(line_threshold=level)
    got = _worthy_groups(rows, cols, ridge, p, min_pixels=min_pixels)
    with np.errstate(invalid="ignore"):  # NaN in np.maximum.at
        want = _worthy_groups_reference(rows, cols, ridge, p, min_pixels=min_pixels)
    assert [corner for corner, _ in got] == [corner for corner, _ in want]
    for (_, a), (_, b) in zip(got, want, strict=True):
        np.testing.assert_array_equal(a, b)
