"""Windows read by inflating tiles directly (geo.tiffblocks) equal GDAL's reads, or fall back."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import rasterio
from hypothesis import given, settings
from hypothesis import strategies as st
from rasterio.transform import from_origin
from rasterio.windows import Window

from geo import tiffblocks
from geo.errors import ImageryError
from geo.imagery import RunReader, open_geotiff, read_scene_info, read_window
from geo.tiffblocks import TileError, TileReader, clear_hand_on, tile_layout
from tests.geo.test_run_reader import assert_same_window

W, H = 150, 110  # not whole tiles: edge tiles are partly outside the raster


def _pixels(dtype: str, count: int, seed: int = 0) -> np.ndarray:
    """Smooth rows with noise and the type's extremes, so the predictor wraps."""
    rng = np.random.default_rng(seed)
    info = np.iinfo(dtype)
    base = np.cumsum(rng.integers(-900, 900, size=(count, H, W)), axis=2)
    data = (base % (int(info.max) - int(info.min) + 1) + int(info.min)).astype(dtype)
    data[:, 5, :7] = info.max
    data[:, 6, :7] = info.min
    return data


def _write(path: Path, *, dtype: str = "uint16", count: int = 3, interleave: str = "pixel",
           compress: str | None = "deflate", predictor: int = 2, block: tuple[int, int] = (64, 32),
           tiled: bool = True, **extra: object) -> np.ndarray:
    data = _pixels(dtype, count)
    profile: dict[str, object] = {
        "driver": "GTiff", "width": W, "height": H, "count": count, "dtype": dtype,
        "crs": "EPSG:32718", "transform": from_origin(500000, 8900000, 10, 10),
        "interleave": interleave, "tiled": tiled, **extra}
    if tiled:
        profile |= {"blockxsize": block[0], "blockysize": block[1]}
    if compress:
        profile |= {"compress": compress, "predictor": predictor}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    return data


WINDOWS = [Window(0, 0, W, H), Window(0, 0, 1, 1), Window(W - 1, H - 1, 1, 1),
           Window(60, 20, 70, 50), Window(63, 31, 2, 2), Window(10, 90, 140, 20)]


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int16"])
@pytest.mark.parametrize("interleave", ["pixel", "band"])
@pytest.mark.parametrize(("compress", "predictor"), [("deflate", 2), ("deflate", 1),
                                                      (None, 1)])
def test_every_window_equals_gdals_read(tmp_path, dtype, interleave, compress, predictor):
    path = tmp_path / "scene.tif"
    data = _write(path, dtype=dtype, interleave=interleave, compress=compress,
                  predictor=predictor)
    with rasterio.open(path) as src:
        layout = tile_layout(src, path)
        assert layout is not None
        assert layout.pixel_interleaved == (interleave == "pixel")
        for indexes in ([1, 2, 3], [3, 1], [2, 2]):
            with TileReader(layout, src, indexes) as reader:
                for w in WINDOWS:
                    ours = reader.read(w)
                    assert ours.dtype == np.dtype(dtype)
                    np.testing.assert_array_equal(ours, src.read(indexes, window=w))
        np.testing.assert_array_equal(src.read(), data)  # the fixture wrote what it meant


@pytest.fixture(scope="module")
def pixel_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tiles") / "pixel.tif"
    _write(path, count=5, block=(32, 48))
    return path


@settings(max_examples=60, deadline=None)
@given(c0=st.integers(0, W - 1), r0=st.integers(0, H - 1), w=st.integers(1, W),
       h=st.integers(1, H), cache=st.sampled_from([1, 20_000, 10**8]))
def test_any_window_equals_gdals_read_whatever_the_cache(pixel_file, c0, r0, w, h, cache):
    w, h = min(w, W - c0), min(h, H - r0)
    with rasterio.open(pixel_file) as src:
        layout = tile_layout(src, pixel_file)
        assert layout is not None
        with TileReader(layout, src, [5, 1, 3], cache_bytes=cache) as reader:
            for _ in range(2):  # the second read comes from the cache, where it fits
                ours = reader.read(Window(c0, r0, w, h))
                np.testing.assert_array_equal(ours, src.read([5, 1, 3],
                                                             window=Window(c0, r0, w, h)))
            assert reader._used <= max(cache, layout.tile_w * layout.tile_h * 2 * 3)


@pytest.mark.parametrize(("why", "kwargs"), [
    ("strips", {"tiled": False}),
    ("LZW", {"compress": "lzw"}),
    ("ZSTD", {"compress": "zstd"}),
    ("big-endian", {"ENDIANNESS": "BIG"}),
    ("12-bit", {"NBITS": 12, "predictor": 1}),
    ("float", {"dtype": "float32", "compress": "deflate", "predictor": 3}),
    ("32-bit integers", {"dtype": "int32"}),
])
def test_other_files_are_left_to_gdal(tmp_path, why, kwargs):
    path = tmp_path / "other.tif"
    dtype = str(kwargs.get("dtype", "uint16"))
    rest = {k: v for k, v in kwargs.items() if k != "dtype"}
    if dtype.startswith("float"):
        with rasterio.open(path, "w", driver="GTiff", width=W, height=H, count=1,
                           dtype=dtype, tiled=True, blockxsize=64, blockysize=32,
                           crs="EPSG:32718", transform=from_origin(500000, 8900000, 10, 10),
                           **rest) as dst:
            dst.write(np.ones((1, H, W), dtype=dtype))
    else:
        _write(path, dtype=dtype, **rest)  # type: ignore[arg-type]
    with rasterio.open(path) as src:
        assert tile_layout(src, path) is None, why


def _scene(tmp_path: Path, **extra: object) -> Path:
    path = tmp_path / "scene.tif"
    _write(path, count=3, nodata=0, **extra)
    with rasterio.open(path, "r+") as dst:
        dst.descriptions = ("red", "green", "blue")
    return path


def _tile_place(path: Path, tx: int, ty: int) -> tuple[int, int]:
    with rasterio.open(path) as src:
        return (int(src.get_tag_item(f"BLOCK_OFFSET_{tx}_{ty}", "TIFF", bidx=1)),
                int(src.get_tag_item(f"BLOCK_SIZE_{tx}_{ty}", "TIFF", bidx=1)))


def test_a_corrupt_tile_is_gdals_to_report(tmp_path):
    path = _scene(tmp_path)
    offset, size = _tile_place(path, 1, 1)
    with open(path, "r+b") as f:
        f.seek(offset + size // 3)
        f.write(b"\xff" * 64)
    info = read_scene_info(path)
    with open_geotiff(info.path) as src:
        layout = tile_layout(src, path)
        assert layout is not None
        with TileReader(layout, src, [1, 2, 3]) as tiles:
            tiles.read(Window(0, 0, 64, 32))  # an intact tile
            with pytest.raises(TileError):
                tiles.read(Window(70, 40, 5, 5))
        with RunReader(info, src, [Window(0, 0, 100, 80)]) as reader:
            assert reader.tiles is not None
            with pytest.raises(ImageryError, match="cannot decode"):
                reader.read(Window(0, 0, 100, 80))  # GDAL's turn, and its words


def test_a_sparse_files_missing_tiles_come_from_gdal(tmp_path):
    path = tmp_path / "sparse.tif"
    with rasterio.open(path, "w", driver="GTiff", width=W, height=H, count=3, dtype="uint16",
                       tiled=True, blockxsize=64, blockysize=32, compress="deflate",
                       predictor=2, nodata=0, SPARSE_OK=True, crs="EPSG:32718",
                       transform=from_origin(500000, 8900000, 10, 10)) as dst:
        dst.write(_pixels("uint16", 3)[:, :32, :64] | 1, window=Window(0, 0, 64, 32))
        dst.descriptions = ("red", "green", "blue")
    info = read_scene_info(path)
    whole = Window(0, 0, W, H)
    with open_geotiff(info.path) as src, RunReader(info, src, [whole]) as reader:
        assert reader.tiles is not None
        with pytest.raises(TileError, match="not stored"):
            reader.tiles.read(whole)
        ours, gdal = reader.read(whole), read_window(info, whole, src=src)
        np.testing.assert_array_equal(ours.raw, gdal.raw)
        np.testing.assert_array_equal(ours.valid, gdal.valid)
        assert ours.valid[:32, :64].all()
        assert not ours.valid[40:].any()


def test_a_tile_claiming_too_many_bytes_is_not_read(tmp_path, monkeypatch):
    path = _scene(tmp_path)
    with rasterio.open(path) as src:
        layout = tile_layout(src, path)
        assert layout is not None
        reader = TileReader(layout, src, [1])
        monkeypatch.setattr(reader, "_place", lambda *a: (8, 10 * layout.tile_bytes))
        with pytest.raises(TileError, match="claims"):
            reader.read(Window(0, 0, 4, 4))
        monkeypatch.setattr(reader, "_place", lambda *a: (path.stat().st_size - 10, 100))
        with pytest.raises(TileError, match="beyond the end"):
            reader.read(Window(0, 0, 4, 4))
        reader.close()


def test_a_run_of_a_tiled_scene_reads_the_pixels_gdal_reads(tmp_path):
    path = _scene(tmp_path)
    info = read_scene_info(path)
    windows = [Window(0, 0, 90, 70), Window(60, 40, 90, 70)]
    with open_geotiff(info.path) as src, RunReader(info, src, windows) as reader:
        assert reader.tiles is not None
        for w in windows:
            assert_same_window(reader.read(w), read_window(info, w, src=src))


def test_a_file_whose_first_tile_differs_from_gdals_read_is_left_to_gdal(tmp_path,
                                                                         monkeypatch):
    path = _scene(tmp_path)
    info = read_scene_info(path)
    import geo.tiffblocks_kernel

    real = geo.tiffblocks_kernel.unpack_tile

    def off_by_one(stored: np.ndarray, planes: np.ndarray, predictor: bool,
                   out: np.ndarray) -> None:  # a layout this module would get wrong
        real(stored, planes, predictor, out)
        out[0, 0, 0] ^= 1

    monkeypatch.setattr(geo.tiffblocks_kernel, "unpack_tile", off_by_one)
    w = Window(0, 0, 100, 80)
    with open_geotiff(info.path) as src, RunReader(info, src, [w]) as reader:
        assert reader.tiles is not None
        for _ in range(2):
            np.testing.assert_array_equal(reader.read(w).raw,
                                          read_window(info, w, src=src).raw)
        with pytest.raises(TileError, match="differed"):
            reader.tiles.read(w)


def test_a_files_first_tile_is_compared_with_gdals_read_once_per_file_and_bands(tmp_path,
                                                                                  monkeypatch):
    path = tmp_path / "scene.tif"
    _write(path, count=3, block=(32, 16))
    checks: list[tuple[int, ...]] = []
    real = TileReader._check

    def counted(self: TileReader, band: int, ty: int, tx: int, planes: np.ndarray) -> None:
        checks.append(self.indexes)
        real(self, band, ty, tx, planes)

    monkeypatch.setattr(TileReader, "_check", counted)
    w = Window(5, 3, 40, 30)
    with rasterio.open(path) as src:
        layout = tile_layout(src, path)
        assert layout is not None
        for indexes in ([1, 2], [1, 2], [2, 1], [1, 2]):
            with TileReader(layout, src, indexes) as reader:
                np.testing.assert_array_equal(reader.read(w), src.read(indexes, window=w))
    assert checks == [(1, 2), (2, 1)]  # the same bands again: the verdict is known
    data = rasterio.open(path).read()
    data[0, 0, 0] += 1
    before = path.stat()
    with rasterio.open(path, "r+") as dst:  # rewritten in place: another file to the store
        dst.write(data)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 10**9))  # however quickly
    with rasterio.open(path) as src:
        layout = tile_layout(src, path)
        assert layout is not None
        with TileReader(layout, src, [1, 2]) as reader:
            np.testing.assert_array_equal(reader.read(w), src.read([1, 2], window=w))
    assert checks == [(1, 2), (2, 1), (1, 2)]


def _runs_of_windows(size: int, step: int) -> list[list[Window]]:
    """Overlapping windows over the fixture raster, in runs of two window rows, as detection has."""
    rows = list(range(0, H - size // 2, step))
    cols = list(range(0, W - size // 2, step))
    def win(c: int, r: int) -> Window:
        return Window(c, r, min(size, W - c), min(size, H - r))
    return [[win(c, r) for c in cols for r in rows[b:b + 2]] for b in range(0, len(rows), 2)]


def counting_inflates(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int, int]]:
    """Record (band, tile row, tile column) of every tile a TileReader inflates from now on."""
    inflated: list[tuple[int, int, int]] = []
    real = TileReader._inflate

    def counted(self: TileReader, band: int, ty: int, tx: int) -> bytes | bytearray:
        inflated.append((band, ty, tx))
        return real(self, band, ty, tx)

    monkeypatch.setattr(TileReader, "_inflate", counted)
    return inflated


@pytest.mark.parametrize("interleave", ["pixel", "band"])
def test_runs_hand_their_shared_tiles_on_and_each_tile_is_inflated_once(tmp_path, monkeypatch,
                                                                        interleave):
    path = tmp_path / "scene.tif"
    _write(path, count=3, interleave=interleave, block=(32, 16))
    runs = _runs_of_windows(30, 20)
    assert len(runs) >= 3
    inflated = counting_inflates(monkeypatch)
    with rasterio.open(path) as src:
        layout = tile_layout(src, path)
        assert layout is not None
        for number, run in enumerate(runs):
            later = {i: runs[i] for i in range(number + 1, len(runs))}
            with TileReader(layout, src, [3, 1], run=number, later=later) as reader:
                for w in run:
                    np.testing.assert_array_equal(reader.read(w), src.read([3, 1], window=w))
        bands = 1 if interleave == "pixel" else 2
        tiles = -(-W // 32) * -(-H // 16)
        assert sorted(inflated) == sorted(set(inflated))  # none twice...
        assert len(inflated) == tiles * bands  # ... and every tile once
        # without run numbers, each run inflates the tiles it shares again
        inflated.clear()
        for run in runs:
            with TileReader(layout, src, [3, 1]) as reader:
                for w in run:
                    reader.read(w)
        assert len(inflated) > tiles * bands
    clear_hand_on()
    assert not tiffblocks._HAND_ON.tiles


@pytest.mark.parametrize("interleave", ["pixel", "band"])
def test_a_reader_told_its_windows_keeps_only_the_tiles_still_to_be_read(tmp_path, monkeypatch,
                                                                          interleave):
    """Each tile leaves the cache once the last window touching it is read: none inflated twice."""
    path = tmp_path / "scene.tif"
    _write(path, count=3, interleave=interleave, block=(32, 16))
    run = _runs_of_windows(30, 20)[0]
    inflated = counting_inflates(monkeypatch)
    with rasterio.open(path) as src:
        layout = tile_layout(src, path)
        assert layout is not None
        with TileReader(layout, src, [3, 1], windows=run) as reader:
            most = 0
            for i, w in enumerate(run):
                np.testing.assert_array_equal(reader.read(w), src.read([3, 1], window=w))
                pending = {t for later in run[i + 1:] for t in reader._tiles_of(later)}
                cached = {key[1:] for key in reader._cache}
                assert cached <= pending  # nothing kept that no window still needs
                assert cached == pending & {t for done in run[:i + 1]
                                            for t in reader._tiles_of(done)}
                most = max(most, reader._used)
            assert not reader._cache
        assert sorted(inflated) == sorted(set(inflated))  # none twice in the run
        n = len(inflated)
        inflated.clear()
        with TileReader(layout, src, [3, 1]) as reader:  # not told: the cache fills up
            for w in run:
                reader.read(w)
            assert reader._used > most
        assert len(inflated) == n


def test_handed_on_tiles_stay_with_their_file_and_their_bands(tmp_path, monkeypatch):
    one, two = tmp_path / "one.tif", tmp_path / "two.tif"
    _write(one, count=3)
    data = _write(two, count=3)
    two.write_bytes(two.read_bytes())  # same pixels, another file
    w = Window(0, 0, 40, 40)
    inflated = counting_inflates(monkeypatch)
    with rasterio.open(one) as a, rasterio.open(two) as b:
        la, lb = tile_layout(a, one), tile_layout(b, two)
        assert la is not None
        assert lb is not None
        with TileReader(la, a, [1, 2], run=0, later={1: [w]}) as reader:
            reader.read(w)
        n = len(inflated)
        assert tiffblocks._HAND_ON.tiles
        with TileReader(la, a, [2, 1], run=1, later={}) as reader:  # other bands: inflated
            np.testing.assert_array_equal(reader.read(w), a.read([2, 1], window=w))
        assert len(inflated) == 2 * n
        assert tiffblocks._HAND_ON.tiles  # still there for the bands they were read for
        with TileReader(lb, b, [1, 2], run=1, later={}) as reader:  # another file: inflated
            np.testing.assert_array_equal(reader.read(w), data[:2, :40, :40])
        assert len(inflated) == 3 * n
        assert not tiffblocks._HAND_ON.tiles  # the first file's tiles dropped
        with TileReader(la, a, [1, 2], run=0, later={1: [w]}) as reader:
            reader.read(w)
        with TileReader(la, a, [1, 2], run=2, later={}) as reader:  # run 1 skipped: dropped
            reader.read(w)
        assert len(inflated) == 5 * n
    clear_hand_on()


def test_hand_on_store_stays_within_its_budget(tmp_path, monkeypatch):
    path = tmp_path / "scene.tif"
    _write(path, count=3, block=(32, 16))
    tile = 32 * 16 * 3 * 2
    monkeypatch.setattr(tiffblocks, "HAND_ON_BYTES", 3 * tile)
    whole = Window(0, 0, W, H)
    with rasterio.open(path) as src:
        layout = tile_layout(src, path)
        assert layout is not None
        with TileReader(layout, src, [1, 2, 3], run=0, later={1: [whole]},
                        cache_bytes=2 * tile) as reader:
            reader.read(whole)
        assert tiffblocks._HAND_ON.used == 3 * tile
        assert len(tiffblocks._HAND_ON.tiles) == 3
        with TileReader(layout, src, [1, 2, 3], run=1, later={}) as reader:
            np.testing.assert_array_equal(reader.read(whole), src.read(window=whole))
    clear_hand_on()


def test_a_reader_whose_first_tile_differed_hands_nothing_on(tmp_path, monkeypatch):
    path = _scene(tmp_path)
    info = read_scene_info(path)
    import geo.tiffblocks_kernel

    real = geo.tiffblocks_kernel.unpack_tile

    def off_by_one(stored: np.ndarray, planes: np.ndarray, predictor: bool,
                   out: np.ndarray) -> None:
        real(stored, planes, predictor, out)
        out[0, 0, 0] ^= 1

    monkeypatch.setattr(geo.tiffblocks_kernel, "unpack_tile", off_by_one)
    w = Window(0, 0, 100, 80)
    with open_geotiff(info.path) as src, \
            RunReader(info, src, [w], run=0, later={1: [w]}) as reader:
        reader.read(w)
    assert not tiffblocks._HAND_ON.tiles
    clear_hand_on()


@settings(max_examples=40, deadline=None)
@given(dtype=st.sampled_from(["uint8", "uint16", "int16"]),
       nodata=st.sampled_from([None, 0.0, 255.0, 65535.0, -1.0, 2.5, float("nan"), 1e9]),
       seed=st.integers(0, 2**16))
def test_integer_windows_become_the_bands_numpy_makes(dtype, nodata, seed):
    """A window read from integers: its lazy bands and validity against NumPy's definition."""
    from geo.imagery import LazyBands, _integer_nodata
    from geo.tiffblocks_kernel import nodata_valid

    info = np.iinfo(dtype)
    rng = np.random.default_rng(seed)
    stack = rng.integers(info.min, int(info.max) + 1, size=(3, 17, 23)).astype(dtype)
    stack[:, ::5, ::7] = rng.choice([0, 255, -1 if info.min < 0 else 1], size=(3, 4, 4))
    valid = np.ones((17, 23), dtype=bool)
    nd = _integer_nodata(nodata, stack.dtype)
    if nd is not None:
        nodata_valid(stack, nd, valid)
    expected = np.ones((17, 23), dtype=bool)
    if nodata is not None:
        for plane in stack:
            expected &= plane != nodata
    np.testing.assert_array_equal(valid, expected)
    bands = LazyBands(stack, (("nir", 2), ("red", 0)))
    assert list(bands) == ["nir", "red"]
    assert len(bands) == 2
    assert "nir" in bands
    assert "blue" not in bands
    assert not bands._made  # neither made a band
    part = np.s_[3:11, 5:6]
    np.testing.assert_array_equal(bands.part("nir", part), stack[2][part].astype(np.float32))
    assert bands.stored("nir").dtype == stack.dtype
    whole = bands["nir"]
    assert whole.dtype == np.float32
    assert not whole.flags.writeable
    assert bands["nir"] is whole
    np.testing.assert_array_equal(whole, stack[2].astype(np.float32))
    assert bands.part("nir", part).base is whole
    assert bands.stored("nir") is whole
