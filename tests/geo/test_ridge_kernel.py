"""The compiled kernels (ridge filter, block sums, box mean) equal their definitions to the bit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from geo.detect.evidence import (
    _line_offsets,
    _ridge_lines,
    box_mean,
    line_runs,
    ridge_margin_px,
    ridge_response,
    ridge_response_padded,
    ridge_response_reference,
)
from geo.detect.screen import (
    CoarseSums,
    _block_count,
    _block_sum,
    _block_sum_reference,
    _coarse_evidence_reference,
    _log_block_sums,
    block_sums,
    coarse_evidence,
    coarse_sums,
    coarse_sums_float,
    log_table,
    near_hits,
)


def _both(padded: np.ndarray, length: int, n: int, flanks: tuple[int, ...]
          ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    kw = {"length_px": length, "n_orientations": n, "flank_px": flanks}
    return ridge_response_padded(padded, **kw), ridge_response_reference(padded, **kw)


@settings(max_examples=40, deadline=None)
@given(h=st.integers(1, 90), w=st.integers(1, 90), length=st.integers(3, 47),
       n=st.integers(1, 18), flanks=st.lists(st.integers(1, 5), min_size=1, max_size=3,
                                             unique=True),
       seed=st.integers(0, 2**16), scale=st.sampled_from([0.01, 1.0, 1e4]))
def test_kernel_equals_numpy_definition(h, w, length, n, flanks, seed, scale):
    flank = tuple(sorted(flanks))
    m = ridge_margin_px(length_px=length, flank_px=flank)
    rng = np.random.default_rng(seed)
    padded = (rng.normal(size=(h + 2 * m, w + 2 * m)) * scale).astype(np.float32)
    (best, arg), (ref_best, ref_arg) = _both(padded, length, n, flank)
    assert best.dtype == np.float32
    assert arg.dtype == np.int16
    assert best.shape == ref_best.shape == (h, w)
    np.testing.assert_array_equal(best, ref_best)
    np.testing.assert_array_equal(arg, ref_arg)


@settings(max_examples=60, deadline=None)
@given(length=st.integers(1, 81), n=st.integers(1, 24), k=st.integers(0, 23))
def test_runs_hold_every_pixel_of_the_line_once(length, n, k):
    offsets = _line_offsets(length, 180.0 * (k % n) / n)
    (dr, dc), runs = line_runs(offsets)
    covered = [(r + t * dr, c + t * dc) for r, c, m in runs for t in range(m)]
    assert sorted(covered) == sorted(offsets)
    assert len(covered) == len(set(covered))
    assert [(r, c) for r, c, _ in runs] == sorted((r, c) for r, c, _ in runs)


@settings(max_examples=30, deadline=None)
@given(h=st.integers(1, 50), w=st.integers(1, 50), length=st.integers(3, 47),
       n=st.integers(1, 18), flank=st.integers(1, 5), seed=st.integers(0, 2**16))
def test_kernel_reads_only_the_table_entries_it_made(h, w, length, n, flank, seed):
    # scratch tables start as NaN: an entry read outside the rows and columns the plan
    # makes would turn a response into NaN, and differ from the reference
    from geo.detect.evidence import _ridge_outputs, _ridge_plan
    from geo.detect.ridge_kernel import ridge_kernel

    m = ridge_margin_px(length_px=length, flank_px=(flank,))
    padded = np.random.default_rng(seed).normal(size=(h + 2 * m, w + 2 * m)).astype(np.float32)
    pad, half, best, arg = _ridge_outputs(padded, length_px=length, flank_px=(flank,))
    plan = _ridge_plan(length, n, (flank,))
    made = np.full((plan.most_tables, *padded.shape), np.nan, dtype=np.float32)
    acc = np.full((h + 2 * pad, w + 2 * pad), np.nan, dtype=np.float32)
    ridge_kernel(padded, plan.steps, plan.runs, plan.n_runs, plan.tables, plan.n_tables,
                 plan.scales, plan.flanks, half, pad, best, arg, acc, made)
    ref_best, ref_arg = ridge_response_reference(padded, length_px=length, n_orientations=n,
                                                 flank_px=(flank,))
    np.testing.assert_array_equal(best, ref_best)
    np.testing.assert_array_equal(arg, ref_arg)


def test_a_straight_line_is_one_run_and_a_shallow_one_a_few():
    assert len(line_runs(_line_offsets(45, 0.0))[1]) == 1  # north-south: one column
    assert len(line_runs(_line_offsets(45, 45.0))[1]) == 1  # a diagonal
    step, runs = line_runs(_line_offsets(45, 11.25))
    assert step == (1, 0)
    assert len(runs) == 9
    assert {m for *_, m in runs} == {5}


@settings(max_examples=25, deadline=None)
@given(h=st.integers(1, 60), w=st.integers(1, 60), length=st.integers(3, 47),
       n=st.integers(1, 18), flank=st.integers(1, 5), seed=st.integers(0, 2**16))
def test_runs_give_the_pixel_by_pixel_line_means_up_to_rounding(h, w, length, n, flank, seed):
    m = ridge_margin_px(length_px=length, flank_px=(flank,))
    rng = np.random.default_rng(seed)
    padded = rng.normal(size=(h + 2 * m, w + 2 * m)).astype(np.float32)
    best, arg = ridge_response_padded(padded, length_px=length, n_orientations=n,
                                      flank_px=(flank,))
    # the definition before 2026-12-07: each line's pixels added one after another
    from geo.detect.evidence import _ridge_outputs

    ev = padded.astype(np.float64)
    pad, half, _, _ = _ridge_outputs(padded, length_px=length, flank_px=(flank,))
    per_k = []
    for k in range(n):
        offsets, scale, ((fr, fc),) = _ridge_lines(length, n, (flank,))[k]
        acc = sum(ev[half + r:half + r + h + 2 * pad, half + c:half + c + w + 2 * pad]
                  for r, c in offsets) * float(scale)
        side = np.maximum(acc[pad + fr:pad + fr + h, pad + fc:pad + fc + w],
                          acc[pad - fr:pad - fr + h, pad - fc:pad - fc + w])
        per_k.append(acc[pad:pad + h, pad:pad + w] - side)
    exact = np.stack(per_k)
    np.testing.assert_allclose(best, exact.max(axis=0), atol=1e-5)
    chosen = np.take_along_axis(exact, arg[None].astype(np.intp), axis=0)[0]
    np.testing.assert_allclose(chosen, exact.max(axis=0), atol=1e-5)  # a best line, or a tie


def test_kernel_equals_numpy_on_a_strip_with_nan_and_a_non_contiguous_input():
    evidence = np.zeros((120, 140), dtype=np.float32)
    evidence[60, 10:130] = 2.0  # an east-west strip
    evidence[20:30, 40] = np.nan
    m = ridge_margin_px(length_px=45, flank_px=(3,))
    padded = np.pad(evidence, m)[:, ::1].T.copy().T  # Fortran order: not C-contiguous
    assert not padded.flags.c_contiguous
    (best, arg), (ref_best, ref_arg) = _both(padded, 45, 16, (3,))
    np.testing.assert_array_equal(best, ref_best)
    np.testing.assert_array_equal(arg, ref_arg)
    assert best[60, 70] > 1.5
    assert arg[60, 70] == 8  # 90 degrees: east-west
    assert not np.isnan(best).any()  # a NaN line never wins, in both


def test_whole_window_filter_finds_a_diagonal_strip():
    evidence = np.zeros((200, 200), dtype=np.float32)
    idx = np.arange(30, 170)
    evidence[idx, idx] = 3.0  # north-west to south-east: bearing 135 degrees
    best, arg = ridge_response(evidence, length_px=45, n_orientations=16, flank_px=(3,))
    assert best[100, 100] > 2.0
    assert 180.0 * arg[100, 100] / 16 == 135.0
    assert best[100, 20] < 0.5


@settings(max_examples=40, deadline=None)
@given(h=st.integers(1, 40), w=st.integers(1, 40), f=st.integers(1, 5),
       seed=st.integers(0, 2**16), scale=st.sampled_from([0.01, 1.0, 1e4]))
def testblock_sums_equal_numpy_definition(h, w, f, seed, scale):
    values = (np.random.default_rng(seed).normal(size=(h, w)) * scale).astype(np.float32)
    expected = _block_sum_reference(values, f)
    np.testing.assert_array_equal(_block_sum(values, f), expected)
    sums, squares = block_sums(values, f, squares=True)
    np.testing.assert_array_equal(sums, expected)
    np.testing.assert_array_equal(squares, _block_sum_reference(values * values, f))
    assert expected.shape == (-(-h // f), -(-w // f))


@settings(max_examples=40, deadline=None)
@given(h=st.integers(1, 40), w=st.integers(1, 40), f=st.integers(1, 5))
def test_block_counts_equal_the_block_sums_of_a_raster_of_ones(h, w, f):
    ones = np.ones((h, w), dtype=np.float32)
    counts = _block_count((h, w), f)
    assert counts.dtype == np.float32
    np.testing.assert_array_equal(counts, _block_sum(ones, f))


def test_log_block_sums_match_the_whole_window_definition():
    rng = np.random.default_rng(3)
    band = rng.uniform(0, 5000, size=(200, 170)).astype(np.float32)
    invalid = rng.random(band.shape) < 0.1
    s1, s2 = _log_block_sums(band, invalid, 3)
    logv = np.log(np.maximum(band, 1.0))
    logv[invalid] = 0.0
    np.testing.assert_array_equal(s1, _block_sum_reference(logv, 3))
    np.testing.assert_array_equal(s2, _block_sum_reference(logv * logv, 3))


@settings(max_examples=60, deadline=None)
@given(h=st.integers(1, 60), w=st.integers(1, 60), size=st.integers(1, 41),
       seed=st.integers(0, 2**16), scale=st.sampled_from([1e-3, 1.0, 1e3, 1e6]),
       zeros=st.floats(0.0, 0.9))
def test_box_mean_equals_scipy_uniform_filter(h, w, size, seed, scale, zeros):
    rng = np.random.default_rng(seed)
    values = (rng.normal(size=(h, w)) * scale).astype(np.float32)
    values[rng.random(values.shape) < zeros] = 0.0
    expected = ndimage.uniform_filter(values, size, mode="constant")
    np.testing.assert_array_equal(box_mean(values, size), expected)


def test_box_mean_spreads_nan_as_scipy_does_and_refuses_other_types():
    values = np.ones((30, 40), dtype=np.float32)
    values[10, 12] = np.nan
    got = box_mean(values, 7)
    np.testing.assert_array_equal(got, ndimage.uniform_filter(values, 7, mode="constant"))
    assert np.isnan(got[10, 12])
    with pytest.raises(TypeError, match="float32"):
        box_mean(values.astype(np.float64), 7)


def _assert_same_bits(got: np.ndarray, want: np.ndarray) -> None:
    """Equal float32 arrays to the bit (a sign of zero or a NaN payload too)."""
    assert got.dtype == want.dtype == np.float32
    assert got.shape == want.shape
    np.testing.assert_array_equal(np.ascontiguousarray(got).view(np.uint32),
                                  np.ascontiguousarray(want).view(np.uint32))


@pytest.mark.parametrize("bits", [8, 16])
def test_log_table_is_numpys_float32_log_of_each_value_wherever_it_sits(bits):
    """NumPy's SIMD log must give every value the same bits at any place in any array."""
    table = log_table(bits)
    n = 2**bits
    x = np.arange(n, dtype=np.float32)

    def check(values: np.ndarray) -> None:
        _assert_same_bits(np.log(np.maximum(values, 1.0)), table[values.astype(np.int64)])

    for start in range(17):  # every alignment and remainder of the vector loops
        for length in (1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100, n - start):
            check(x[start:start + length])
    perm = x[np.random.default_rng(bits).permutation(n)]
    check(perm)
    check(perm[::-1])
    for step in (2, 3, 7):
        check(perm[1::step])
    square = perm.reshape(2 ** (bits // 2), -1)
    for layout in (square, square.T, np.asfortranarray(square), square[:, 3:-2], square[5:]):
        check(layout)
    strip = np.maximum(square[5:], 1.0)  # in place, as _log_block_sums takes it
    np.log(strip, out=strip)
    _assert_same_bits(strip, table[square[5:].astype(np.int64)])
    assert table[0] == 0.0
    assert not np.signbit(table[0])
    assert not table.flags.writeable
    _assert_same_bits(log_table(8), log_table(16)[:256])


ROLE_SETS = (("blue", "green", "red", "nir", "swir1", "swir2"),
             ("blue", "green", "red", "nir", "swir1"),  # the benchmark tile's
             ("red", "nir", "swir1"))  # no green: no water rule


def _integer_window(h: int, w: int, dtype: type, roles: tuple[str, ...], seed: int
                    ) -> tuple[np.ndarray, tuple[tuple[str, int], ...], dict[str, np.ndarray]]:
    """Random integers with the extremes sprinkled in, the roles in shuffled planes."""
    rng = np.random.default_rng(seed)
    top = int(np.iinfo(dtype).max)
    raw = rng.integers(0, top, size=(len(roles) + 1, h, w), endpoint=True).astype(dtype)
    low = rng.integers(0, 300, size=raw.shape).astype(dtype)  # reflectances of dark forest
    raw = np.where(rng.random(raw.shape) < 0.5, low, raw)
    for value in (0, 1, 2, top):
        raw[rng.random(raw.shape) < 0.05] = value
    planes = tuple((role, int(p)) for role, p in zip(roles, rng.permutation(len(roles) + 1),
                                                      strict=False))
    bands = {role: raw[p].astype(np.float32) for role, p in planes}
    return raw, planes, bands


@settings(max_examples=80, deadline=None)
@given(h=st.integers(1, 40), w=st.integers(1, 40), f=st.integers(1, 6),
       dtype=st.sampled_from([np.uint8, np.uint16]), roles=st.sampled_from(ROLE_SETS),
       invalid=st.sampled_from([0.0, 0.05, 0.6, 1.0]), seed=st.integers(0, 2**16))
def test_block_sums_of_integer_bands_equal_the_float_path(h, w, f, dtype, roles, invalid,
                                                          seed):
    raw, planes, bands = _integer_window(h, w, dtype, roles, seed)
    valid = np.random.default_rng(seed + 1).random((h, w)) >= invalid
    got = coarse_sums(bands, valid, f, raw=raw, raw_planes=planes)
    want = coarse_sums_float(bands, valid, f)
    assert got.logs.shape == (2 * len([r for r in roles if r != "nir"]), -(-h // f), -(-w // f))
    _assert_same_bits(got.logs, want.logs)
    _assert_same_bits(got.cnt, want.cnt)
    assert (got.green is None) == (want.green is None) == ("green" not in roles)
    if got.green is not None:
        _assert_same_bits(got.green, want.green)
        _assert_same_bits(got.nir, want.nir)
    assert got.whole == want.whole == (((h, w), f) if valid.all() else None)


def test_block_sums_come_from_the_integers_when_there_are_some():
    raw, planes, bands = _integer_window(30, 20, np.uint16, ROLE_SETS[0], 5)
    zeros = {k: np.zeros_like(v) for k, v in bands.items()}
    valid = np.ones((30, 20), dtype=bool)
    from_raw = coarse_sums(zeros, valid, 3, raw=raw, raw_planes=planes)
    _assert_same_bits(from_raw.logs, coarse_sums_float(bands, valid, 3).logs)
    # other types, or a role missing from the stack: the float bands
    for other, kept in ((raw.astype(np.int32), planes), (raw, planes[1:])):
        floats = coarse_sums(zeros, valid, 3, raw=other, raw_planes=kept)
        assert not floats.logs.any()


def _random_sums(rng: np.random.Generator, h: int, w: int, f: int, n: int, *,
                 whole: bool, water: bool) -> CoarseSums:
    """Block sums shaped like real ones: counts, logs of 0-9, squares near their floor."""
    if whole:
        shape = (int(rng.integers(f * (h - 1) + 1, f * h + 1)),
                 int(rng.integers(f * (w - 1) + 1, f * w + 1)))
        cnt = _block_count(shape, f)
    else:
        cnt = rng.integers(0, f * f + 1, size=(h, w)).astype(np.float32)
        cnt[rng.random((h, w)) < 0.2] = 0.0
    mean = rng.uniform(0.0, 9.0, size=(n, h, w)).astype(np.float32)
    s1 = (mean * cnt).astype(np.float32)
    spread = rng.choice([0.0, 1e-4, 1e-2, 0.3], size=(n, h, w))
    s2 = (s1 * mean * (1 + spread * rng.standard_normal((n, h, w)))).astype(np.float32)
    green = rng.integers(0, 200, size=(h, w))
    nir = rng.integers(0, 200, size=(h, w))
    # NDWI exactly at the thresholds tried: 0.05, 0, -0.3, 0.5 (and 0 / 0)
    ties = np.array([(21, 19), (1, 1), (7, 13), (3, 1), (0, 0)])[rng.integers(0, 5, (h, w))]
    tie = rng.random((h, w)) < 0.3
    k = rng.integers(1, 9, size=(h, w))
    green = (np.where(tie, ties[..., 0] * k, green) * cnt).astype(np.float32)
    nir = (np.where(tie, ties[..., 1] * k, nir) * cnt).astype(np.float32)
    return CoarseSums(logs=np.concatenate([s1, s2]), cnt=cnt, green=green if water else None,
                      nir=nir if water else None, whole=(shape, f) if whole else None)


@settings(max_examples=80, deadline=None)
@given(h=st.integers(1, 30), w=st.integers(1, 30), f=st.integers(2, 4), n=st.integers(0, 6),
       size=st.sampled_from([1, 3, 5, 11, 31]), whole=st.booleans(), water=st.booleans(),
       ndwi_water=st.sampled_from([0.05, 0.0, -0.3, 0.5]), seed=st.integers(0, 2**16))
def test_coarse_evidence_kernel_equals_the_numpy_arithmetic(h, w, f, n, size, whole, water,
                                                            ndwi_water, seed):
    sums = _random_sums(np.random.default_rng(seed), h, w, f, n, whole=whole, water=water)
    got = coarse_evidence(sums, size, ndwi_water=ndwi_water)
    _assert_same_bits(got, _coarse_evidence_reference(sums, size, ndwi_water=ndwi_water))


def test_coarse_evidence_kernel_spreads_nan_as_numpy_does():
    sums = _random_sums(np.random.default_rng(0), 20, 24, 3, 4, whole=False, water=True)
    sums.logs[1, 5, 6] = np.nan
    sums.logs[6, 12, 20] = np.nan
    got = coarse_evidence(sums, 5, ndwi_water=0.05)
    want = _coarse_evidence_reference(sums, 5, ndwi_water=0.05)
    assert np.isnan(want).sum() > 10
    np.testing.assert_array_equal(got, want)  # NaN where NumPy has NaN


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 4), h=st.integers(1, 30), w=st.integers(1, 30),
       size=st.integers(1, 15), seed=st.integers(0, 2**16))
def test_box_means_of_a_stack_equal_box_mean_plane_by_plane(n, h, w, size, seed):
    from geo.detect.ridge_kernel import box_means_kernel

    planes = (np.random.default_rng(seed).normal(size=(n, h, w)) * 50).astype(np.float32)
    got = box_means_kernel(planes, size)
    assert got.shape == planes.shape
    for p in range(n):
        _assert_same_bits(got[p], box_mean(planes[p], size))


@settings(max_examples=60, deadline=None)
@given(h=st.integers(1, 30), w=st.integers(1, 30), threshold=st.sampled_from([0.45, 0.0, -2.0]),
       nan=st.booleans(), seed=st.integers(0, 2**16))
def test_near_hits_equal_the_maximum_filter(h, w, threshold, nan, seed):
    rng = np.random.default_rng(seed)
    t = np.float32(threshold)
    pool = np.array([t, np.nextafter(t, np.float32(-9)), np.nextafter(t, np.float32(9)),
                     -np.inf, np.inf, -5.0, 5.0], dtype=np.float32)
    values = np.where(rng.random((h, w)) < 0.1, rng.choice(pool, size=(h, w)),
                      rng.normal(-1.5, 1.0, size=(h, w))).astype(np.float32)
    if nan:
        values[rng.random((h, w)) < 0.2] = np.nan
    want = ndimage.maximum_filter(values, 3, mode="constant", cval=-np.inf) >= threshold
    np.testing.assert_array_equal(near_hits(values, threshold), want)


def test_warm_up_loads_every_kernel():
    from geo.detect import ridge_kernel as rk

    rk.warm_up()
    kernels = (rk.ridge_kernel, rk.block_sums_kernel, rk.box_mean_kernel, rk.box_means_kernel,
               rk.log_block_sums_kernel, rk.coarse_evidence_kernel, rk.near_hits_kernel,
               rk.orientation_components)
    assert all(k.signatures for k in kernels)
    from geo.detect.evidence_kernel import ones_box_mean_kernel

    assert ones_box_mean_kernel.signatures  # the valid share of a box with no invalid pixel
    assert {str(sig[0].dtype) for sig in rk.log_block_sums_kernel.signatures} >= {"uint8",
                                                                                  "uint16"}
    # the screen of an integer window, masked or not, compiles nothing more
    loaded = [len(k.signatures) for k in kernels]
    from geo.detect.params import DetectionParams
    from geo.detect.screen import screen_blocks

    for dtype in (np.uint8, np.uint16):
        raw, planes, bands = _integer_window(60, 50, dtype, ROLE_SETS[1], 0)
        for valid in (np.ones((60, 50), dtype=bool), raw[0] > 0):
            screen_blocks(bands, valid, res_m=10.0, params=DetectionParams(), raw=raw,
                          raw_planes=planes)
    assert [len(k.signatures) for k in kernels] == loaded


def test_warm_up_loads_the_ridge_labelling_of_a_box_of_the_layers():
    """The tracer labels ridges in a box of a window's layers (non-contiguous arrays)."""
    from geo.detect import ridge_kernel as rk
    from geo.detect.params import DetectionParams
    from geo.detect.window import _label_ridges

    rk.warm_up()
    loaded = len(rk.orientation_components.signatures)
    ridge = np.zeros((30, 40), dtype=np.float32)
    ridge[10, 5:35] = 2.0
    orient = np.zeros((30, 40), dtype=np.int16)
    for box in (np.s_[:, :], np.s_[5:25, 3:38]):
        assert _label_ridges(ridge[box] > 0, ridge[box], orient[box], DetectionParams(),
                             min_pixels=5.0)
    assert len(rk.orientation_components.signatures) == loaded


def test_warm_up_loads_the_z_score_of_stored_integers_for_every_box_layout():
    from geo.detect import evidence_kernel as ek
    from geo.detect import ridge_kernel as rk
    from geo.detect.evidence import zscore_total_stored

    rk.warm_up()
    loaded = len(ek.add_zscore_table.signatures)
    assert loaded >= 4  # uint8 and uint16, contiguous or not
    for dtype in (np.uint8, np.uint16):  # a box of a window's stack, whole rows or not
        stack = np.ones((3, 40, 50), dtype=dtype)
        for box in (np.s_[5:30, :], np.s_[5:30, 10:40]):
            plane = stack[1][box]
            zscore_total_stored({"red": plane}, np.ones(plane.shape, dtype=bool), size_px=5)
    assert len(ek.add_zscore_table.signatures) == loaded


def _label_ridges_reference(thin, ridge, orient, p, *, min_pixels):
    """Label as the detector did before its kernel: one ``ndimage.label`` per orientation."""
    n = p.n_orientations
    eight = np.ones((3, 3), dtype=bool)
    own_orient = np.where(thin, orient, np.int16(-n))
    found = []
    for k in range(n):
        near = ((own_orient == k) | (own_orient == (k - 1) % n)
                | (own_orient == (k + 1) % n))
        labels, count = ndimage.label(near, structure=eight)
        if count == 0:
            continue
        where = labels > 0
        lab = labels[where]
        peak = np.full(count + 1, -np.inf, dtype=ridge.dtype)
        np.maximum.at(peak, lab, ridge[where])
        peak = peak[1:]
        own = np.bincount(lab, weights=orient[where] == k, minlength=count + 1)[1:]
        size = np.bincount(lab, minlength=count + 1)[1:]
        worth = (peak >= p.line_threshold) & (own * 3 >= size) & (size >= min_pixels)
        slices = ndimage.find_objects(labels)
        for lab in np.flatnonzero(worth) + 1:
            sl = slices[lab - 1]
            rows, cols = np.nonzero(labels[sl] == lab)
            counts = np.bincount(orient[sl][rows, cols], minlength=n)
            if int(np.argmax(counts)) == k:
                found.append((float(peak[lab - 1]) * np.sqrt(rows.size), k,
                              rows + sl[0].start, cols + sl[1].start))
    return found


@settings(max_examples=60, deadline=None)
@given(h=st.integers(1, 40), w=st.integers(1, 40), density=st.floats(0.05, 0.9),
       seed=st.integers(0, 2**31 - 1), min_pixels=st.sampled_from([0.0, 1.0, 3.5, 8.0]),
       smooth=st.booleans())
def test_compiled_ridge_labelling_equals_one_ndimage_label_per_orientation(
        h, w, density, seed, min_pixels, smooth):
    from geo.detect.params import DetectionParams
    from geo.detect.window import _label_ridges

    rng = np.random.default_rng(seed)
    p = DetectionParams()
    thin = rng.random((h, w)) < density
    if smooth:  # long runs of near orientations, as along real ridges
        orient = (np.cumsum(rng.integers(-1, 2, size=(h, w)), axis=1) % p.n_orientations)
    else:
        orient = rng.integers(0, p.n_orientations, size=(h, w))
    orient = orient.astype(np.int16)
    # include values exactly at the threshold, in float32 as the ridge layer is
    ridge = rng.choice(np.array([0.5, 0.8, p.line_threshold, 1.2, 3.0], dtype=np.float32),
                       size=(h, w))
    got = _label_ridges(thin, ridge, orient, p, min_pixels=min_pixels)
    want = _label_ridges_reference(thin, ridge, orient, p, min_pixels=min_pixels)
    assert [(s, k) for s, k, _, _ in got] == [(s, k) for s, k, _, _ in want]
    for (_, _, r1, c1), (_, _, r2, c2) in zip(got, want, strict=True):
        assert r1.dtype == r2.dtype
        np.testing.assert_array_equal(r1, r2)
        np.testing.assert_array_equal(c1, c2)
