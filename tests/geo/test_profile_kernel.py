"""The compiled measurement of a ridge (``profile_kernel``) equals its NumPy definition."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from geo.detect.profile_kernel import (
    _pairwise32,
    _quantile32,
    _round_half_even,
    _smooth5,
    _std32,
    _steps,
)
from geo.detect.window import measure_profile, measure_profile_reference

_BANDS = ("blue", "green", "red", "nir", "swir1", "swir2", "ndvi", "ndwi")


def _layers(h: int, w: int, seed: int, *, bands: tuple[str, ...] = _BANDS, strip: bool = True,
            dark: float = 0.0, water: bool = True) -> dict[str, np.ndarray]:
    """Float32 layers of a window as the detector makes them, with a strip across it."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:h, 0:w]
    on = np.abs((rows - h / 2) * 0.6 - (cols - w / 2) * 0.8) < 1.2 if strip else rows < 0
    lay = {k: (rng.normal(size=(h, w)) * 0.3 + 4.0 + on * 0.8).astype(np.float32)
           for k in bands}
    lay["evidence"] = np.clip(rng.normal(size=(h, w)) + on * 3.0, -3, 5).astype(np.float32)
    lay["brightness"] = (rng.random((h, w)) * 900 + on * 600).astype(np.float32)
    lay["ridge"] = (rng.normal(size=(h, w)) + on * 2.0).astype(np.float32)
    lay["polarity"] = np.where(rng.random((h, w)) < dark, -1.0, 1.0).astype(np.float32)
    if water:
        lay["water_dist"] = (rng.random((h, w)) * 5000).astype(np.float32)
    return lay


def _same(got: object, want: object) -> None:
    """Equal to the bit, NaN equal to NaN."""
    a, b = asdict(got), asdict(want)  # type: ignore[call-overload]
    fa, fb = a.pop("features"), b.pop("features")
    assert sorted(fa) == sorted(fb)
    for name in fb:
        assert np.array_equal(fa[name], fb[name], equal_nan=True), (name, fa[name], fb[name])
    for name in b:
        assert np.array_equal(np.asarray(a[name]), np.asarray(b[name]), equal_nan=True), name


@settings(max_examples=120, deadline=None)
@given(seed=st.integers(0, 2**16), angle=st.floats(0, np.pi),
       length=st.floats(1.0, 140.0), r=st.floats(-10, 90), c=st.floats(-10, 110),
       flank=st.integers(1, 4), ext=st.integers(2, 40), dark=st.sampled_from([0.0, 0.5, 1.0]),
       kind=st.sampled_from(["all", "rgb", "no water", "flat"]))
def test_measure_profile_equals_the_numpy_definition(seed, angle, length, r, c, flank, ext,
                                                     dark, kind):
    bands = _BANDS[:3] if kind == "rgb" else _BANDS
    lay = _layers(80, 100, seed, bands=bands, dark=dark, water=kind == "all",
                  strip=kind != "flat")
    if kind == "flat":
        lay["evidence"][:] = 0.0  # nothing above its flanks: no sample on the strip
    valid = np.ones((80, 100), dtype=bool)
    kw = {"centre_rc": (r, c), "axis_rc": (float(np.cos(angle)), float(np.sin(angle))),
          "length_px": length, "flank_px": flank, "extension_px": ext}
    _same(measure_profile(lay, valid, **kw), measure_profile_reference(lay, valid, **kw))


def test_measure_profile_with_nan_and_odd_layers_equals_the_definition():
    lay = _layers(60, 70, 4)
    lay["evidence"][30, 30:40] = np.nan
    lay["blue"][28:33, 33] = np.nan
    lay["polarity"][30, 35] = np.nan
    valid = np.ones((60, 70), dtype=bool)
    kw = {"centre_rc": (30.0, 35.0), "axis_rc": (0.0, 1.0), "length_px": 30.0,
          "flank_px": 2, "extension_px": 10}
    _same(measure_profile(lay, valid, **kw), measure_profile_reference(lay, valid, **kw))
    # a layer the kernel does not take (float64, or not C-ordered): the definition itself
    lay["red"] = lay["red"].astype(np.float64)
    lay["green"] = np.asfortranarray(lay["green"])
    _same(measure_profile(lay, valid, **kw), measure_profile_reference(lay, valid, **kw))


def test_measure_profile_still_measures_a_strip():
    lay = _layers(80, 100, 1)
    valid = np.ones((80, 100), dtype=bool)
    # the strip's axis: 0.6 row - 0.8 col = const, i.e. direction (0.8, 0.6)
    got = measure_profile(lay, valid, centre_rc=(40.0, 50.0), axis_rc=(0.8, 0.6),
                          length_px=60.0, flank_px=2, extension_px=10)
    assert got.features["evidence"] > 2.0
    assert got.features["frac_on"] > 0.8
    assert 1.0 < got.width_px < 5.0
    assert got.features["blue_c"] > 0.5


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 3000), seed=st.integers(0, 2**16), scale=st.sampled_from([1e-3, 1.0,
                                                                                   1e4]))
def test_float32_reductions_equal_numpys(n, seed, scale):
    rng = np.random.default_rng(seed)
    a = (rng.normal(size=n) * scale).astype(np.float32)
    assert _pairwise32(a, 0, n) == np.sum(a)
    assert _std32(a) == a.std()
    assert _quantile32(a, 0.75) == np.percentile(a, 75)
    np.testing.assert_array_equal(_smooth5(a), ndimage.uniform_filter1d(a, 5, mode="nearest"))


@pytest.mark.parametrize("length", [1.0, 2.0, 2.5, 7.3, 140.0])
@pytest.mark.parametrize("n", [2, 3, 8, 141])
def test_axis_steps_equal_linspace(length, n):
    np.testing.assert_array_equal(_steps(length, n),
                                  np.linspace(-(length - 1) / 2, (length - 1) / 2, n))


@pytest.mark.parametrize("x", [0.5, 1.5, 2.5, 2.4999999, 2.5000001, 3.0, 44.5, 45.5, 139.7])
def test_round_half_even_is_pythons_round(x):
    assert _round_half_even(x) == round(x)
