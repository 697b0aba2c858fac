"""Averaging fine imagery to the detector's resolution: block means without nodata, class modes."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from geo.imagery import block_average


def _reference(stack: np.ndarray, f: int, nodata: float | None) -> np.ndarray:
    """One block at a time, the definition."""
    n, h, w = stack.shape
    out = np.zeros((n, h // f, w // f), dtype=stack.dtype)
    for p in range(n):
        for i in range(h // f):
            for j in range(w // f):
                b = stack[p, i * f:(i + 1) * f, j * f:(j + 1) * f].astype(np.float64).ravel()
                keep = np.isfinite(b)
                if nodata is not None:
                    keep &= b != nodata
                if not keep.any():
                    out[p, i, j] = nodata if nodata is not None else 0
                    continue
                mean = b[keep].mean()
                out[p, i, j] = np.rint(mean) if stack.dtype.kind in "ui" else mean
    return out


@settings(max_examples=60, deadline=None)
@given(f=st.integers(1, 4), k=st.integers(1, 4), m=st.integers(1, 4), n=st.integers(1, 3),
       nodata=st.sampled_from([None, 0]), data=st.data())
def test_block_average_is_the_mean_of_each_blocks_valid_pixels(f, k, m, n, nodata, data):
    stack = data.draw(arrays(np.uint16, (n, k * f, m * f),
                             elements=st.integers(0, 3).map(lambda v: v * 1000 + v)))
    np.testing.assert_array_equal(block_average(stack, f, nodata=nodata),
                                  _reference(stack, f, nodata))


@settings(max_examples=40, deadline=None)
@given(f=st.integers(1, 3), data=st.data())
def test_block_average_of_floats_leaves_out_nan(f, data):
    stack = data.draw(arrays(np.float32, (2, 2 * f, 3 * f),
                             elements=st.sampled_from([np.nan, 0.01, 0.2, 0.75])))
    np.testing.assert_allclose(block_average(stack, f), _reference(stack, f, None), rtol=1e-6)


def test_class_bands_take_the_cloud_maximum_and_the_scl_mode():
    cloud = np.array([[0, 0, 0, 0], [0, 1, 0, 0]], dtype=np.uint8)
    scl = np.array([[4, 4, 8, 9], [3, 4, 9, 8]], dtype=np.uint8)  # modes 4, and 8/9 tied
    out = block_average(np.stack([cloud, scl]), 2, classes={0: "cloud", 1: "scl"})
    np.testing.assert_array_equal(out, [[[1, 0]], [[4, 8]]])
    noisy = np.arange(64, dtype=np.uint16).reshape(1, 8, 8)  # 64 codes: the maximum
    np.testing.assert_array_equal(block_average(noisy, 4, classes={0: "scl"})[0],
                                  [[27, 31], [59, 63]])
