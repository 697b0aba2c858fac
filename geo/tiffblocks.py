"""Read windows of a plain tiled GeoTIFF by inflating its tiles with libdeflate, not through GDAL.

GDAL reads the detector's benchmark tile (512-px tiles of five uint16 bands, DEFLATE with the
horizontal predictor) at about 35 Mpx per CPU-second; inflating the same tiles with libdeflate
alone runs at 56-58 (``BENCHMARKS.md``, 2026-12-05, this machine). The rest is GDAL's and libtiff's
work around it: the block cache, the predictor, the copy out of pixel interleaving. For the
files where that work is simple, :class:`TileReader` does it in one compiled pass per tile
(:func:`geo.tiffblocks_kernel.unpack_tile`) and gives the same integers as
``src.read(indexes, window=window)``.

Which files (:func:`tile_layout`): tiled, one block shape for every band, no compression or
DEFLATE, no predictor or the horizontal one, 8 or 16 bit integers at their natural size
(no ``NBITS``, no signed bytes), little-endian, pixel- or band-interleaved. Anything else is
read by GDAL, and so is any tile this module cannot decode as promised (absent from a sparse
file, shorter than its place says, failing to inflate to exactly its size, too large to be
honest): :class:`TileError` tells the caller to fall back, and GDAL then reads the window or
explains why it cannot.

Memory: decoded tiles of the requested bands are kept (least recently used first out) up to
``cache_bytes``; GDAL's own block cache stays unused by these reads.

Runs of windows (:func:`geo.detect.scene.window_runs`) overlap: the tile row below one band of
windows is the top of the next, so reading every run on its own inflated 644 tiles for the
benchmark tile's 484 (``BENCHMARKS.md``). A reader told which of its tiles later runs need
(``later``) hands them on when it lets go of them, to a store of its thread
(:data:`HAND_ON_BYTES` at most, dropped when the thread reads another file), where the
reader of a later run in the same thread takes them instead of inflating them again.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import deflate
import numpy as np
import rasterio
from rasterio.windows import Window

log = logging.getLogger(__name__)

#: Decoded tiles kept per reader, in bytes (GDAL's block cache per process is 64 MB too).
CACHE_BYTES = 64 * 1024**2
#: Decoded tiles handed on from one run of windows to later runs, per thread, in bytes: the
#: benchmark tile's serial runs need about 75 MB of it (a tile row and column per run).
HAND_ON_BYTES = 128 * 1024**2
#: A stored tile larger than its decoded size plus this share (and 1 KiB) is refused: DEFLATE
#: of incompressible data grows by 5 bytes per 64 KiB block, far less.
_SLACK = 0.01

_DTYPES = frozenset({"uint8", "uint16", "int16"})


class TileError(Exception):
    """A window that cannot be read by inflating tiles directly: read it with GDAL instead."""


@dataclass(frozen=True)
class TileLayout:
    """How a tiled GeoTIFF stores its pixels, as far as :class:`TileReader` needs it.

    Sizes are pixels; ``samples`` is the number of bands in a pixel-interleaved tile (1 when
    every band has its own tiles).
    """

    path: Path
    width: int
    height: int
    tile_w: int
    tile_h: int
    dtype: np.dtype
    count: int
    pixel_interleaved: bool
    deflated: bool
    predictor: bool

    @property
    def samples(self) -> int:
        """Values per pixel in one stored tile."""
        return self.count if self.pixel_interleaved else 1

    @property
    def tile_bytes(self) -> int:
        """Bytes of one decoded tile as stored (every sample of it)."""
        return self.tile_w * self.tile_h * self.samples * self.dtype.itemsize


def tile_layout(src: rasterio.DatasetReader, path: Path) -> TileLayout | None:
    """Describe ``src`` (opened from ``path``) if :class:`TileReader` can read it, else None."""
    if src.driver != "GTiff" or src.count < 1 or len(set(src.dtypes)) != 1:
        return None
    if src.dtypes[0] not in _DTYPES or len(set(src.block_shapes)) != 1:
        return None
    tile_h, tile_w = src.block_shapes[0]
    if tile_w >= src.width and src.width > 1:  # strips, not tiles
        return None
    structure = src.tags(ns="IMAGE_STRUCTURE")
    compression = structure.get("COMPRESSION", "NONE").upper()
    predictor = structure.get("PREDICTOR", "1")
    interleave = structure.get("INTERLEAVE", "PIXEL").upper()
    if compression not in ("NONE", "DEFLATE") or predictor not in ("1", "2"):
        return None
    if interleave not in ("PIXEL", "BAND"):
        return None
    for bidx in range(1, src.count + 1):  # bit depth and signed bytes are told per band
        band = {**structure, **src.tags(bidx, ns="IMAGE_STRUCTURE")}
        if "NBITS" in band or band.get("PIXELTYPE") == "SIGNEDBYTE":
            return None
    try:
        with open(path, "rb") as f:
            if f.read(2) != b"II":  # big-endian (or not a TIFF at all)
                return None
    except OSError:
        return None
    return TileLayout(path=path, width=src.width, height=src.height, tile_w=tile_w,
                      tile_h=tile_h, dtype=np.dtype(src.dtypes[0]).newbyteorder("<"),
                      count=src.count, pixel_interleaved=interleave == "PIXEL" and src.count > 1,
                      deflated=compression == "DEFLATE", predictor=predictor == "2")


#: A tile in the hand-on store: (band, tile row, tile column, requested band indexes).
_HandKey = tuple[int, int, int, tuple[int, ...]]


class _HandOn(threading.local):
    """Decoded tiles of one file kept for later runs of windows in this thread.

    Each tile is kept with the number of the last run that needs it; a reader of run ``r``
    takes what it needs and drops what only runs before ``r`` needed.
    """

    def __init__(self) -> None:
        self.file: tuple[int, ...] = ()
        self.tiles: OrderedDict[_HandKey, tuple[np.ndarray, int]] = OrderedDict()
        self.used = 0

    def start(self, file: tuple[int, ...], run: int) -> None:
        """Keep only tiles of ``file`` that run ``run`` or a later one needs."""
        if file != self.file:
            self.clear()
            self.file = file
        for key in [k for k, (_, last) in self.tiles.items() if last < run]:
            self.used -= self.tiles.pop(key)[0].nbytes

    def take(self, key: _HandKey) -> np.ndarray | None:
        """Remove and return a kept tile, or None."""
        hit = self.tiles.pop(key, None)
        if hit is None:
            return None
        self.used -= hit[0].nbytes
        return hit[0]

    def keep(self, key: _HandKey, planes: np.ndarray, last: int) -> None:
        """Keep a tile until run ``last``, dropping the oldest beyond :data:`HAND_ON_BYTES`."""
        self.tiles[key] = (planes, last)
        self.used += planes.nbytes
        while self.used > HAND_ON_BYTES and self.tiles:
            self.used -= self.tiles.popitem(last=False)[1][0].nbytes

    def clear(self) -> None:
        """Drop every kept tile."""
        self.tiles.clear()
        self.used = 0
        self.file = ()


_HAND_ON = _HandOn()

#: Whether a file's first tile decoded here agreed with GDAL's read (:meth:`TileReader._check`),
#: by file identity and bands, for this process: a later reader of the same file takes the
#: verdict instead of decoding a tile through GDAL again (7 ms per run of windows).
_VERDICTS: dict[tuple[tuple[int, ...], tuple[int, ...]], bool] = {}
_MOST_VERDICTS = 1024


def clear_hand_on() -> None:
    """Drop the decoded tiles this thread keeps for later runs (after a scene)."""
    _HAND_ON.clear()


class TileReader:
    """Windows of the bands ``indexes`` (1-based) of a tiled GeoTIFF, read tile by tile.

    :meth:`read` gives ``src.read(indexes, window=window)`` for a window inside the raster,
    to the bit, or raises :class:`TileError`. Keep ``src`` open while this reader is used:
    the tiles' places in the file are asked of GDAL, which has parsed them already.

    ``run`` and ``later``: this reader reads run number ``run`` of a scene's windows, and
    ``later`` gives the windows of later runs by run number. Tiles they share with this run
    are handed on to them (module notes) and tiles earlier runs handed on are used here.

    ``windows``: the windows this reader will read. A tile leaves the cache as soon as the
    last of them that touches it has been read (handed on, or let go), instead of when the
    cache is full: on the benchmark tile a run's reader then holds 25 MB of tiles at most,
    not ``cache_bytes`` (64 MB), so a fresh worker touches that much less new memory.
    """

    def __init__(self, layout: TileLayout, src: rasterio.DatasetReader,
                 indexes: Sequence[int], *, cache_bytes: int = CACHE_BYTES,
                 run: int | None = None,
                 later: Mapping[int, Sequence[Window]] | None = None,
                 windows: Sequence[Window] = ()) -> None:
        if not indexes or any(not 1 <= i <= layout.count for i in indexes):
            raise ValueError(f"band indexes {list(indexes)} not in 1..{layout.count}")
        self.layout, self.src = layout, src
        self.indexes = tuple(int(i) for i in indexes)
        self._cache: OrderedDict[tuple[int, int, int], np.ndarray] = OrderedDict()
        self._cache_bytes = cache_bytes
        self._used = 0
        self._fd: int | None = None
        self._file_size = 0
        #: None until the first tile decoded is compared with GDAL's read of it (in this
        #: reader or an earlier one of the same file and bands); then whether they agreed
        #: (if not, every window is left to GDAL).
        self._verdict_key = (self._file_identity(), self.indexes)
        self._agrees: bool | None = _VERDICTS.get(self._verdict_key)
        #: (tile row, tile column) -> the last later run that reads it
        self._later: dict[tuple[int, int], int] = {}
        self._handing = run is not None
        #: (tile row, tile column) -> how many of ``windows`` not read yet touch it
        self._pending: dict[tuple[int, int], int] = {}
        #: window (col, row, width, height) -> how many times it is still to be read
        self._planned: dict[tuple[int, int, int, int], int] = {}
        for w in windows:
            key = (int(w.col_off), int(w.row_off), int(w.width), int(w.height))
            self._planned[key] = self._planned.get(key, 0) + 1
            for tile in self._tiles_of(w):
                self._pending[tile] = self._pending.get(tile, 0) + 1
        if run is not None:
            for number, theirs in (later or {}).items():
                for w in theirs:
                    for tile in self._tiles_of(w):
                        self._later[tile] = max(number, self._later.get(tile, number))
            _HAND_ON.start(self._verdict_key[0], run)

    def _file_identity(self) -> tuple[int, ...]:
        """Return the file as the hand-on store knows it: device, inode, size, mtime."""
        st = os.stat(self.layout.path)
        return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)

    def _tiles_of(self, window: Window) -> Iterator[tuple[int, int]]:
        """(tile row, tile column) of every tile a window inside the raster touches."""
        th, tw = self.layout.tile_h, self.layout.tile_w
        c0, r0 = max(0, int(window.col_off)), max(0, int(window.row_off))
        c1 = min(self.layout.width, int(window.col_off + window.width))
        r1 = min(self.layout.height, int(window.row_off + window.height))
        for ty in range(r0 // th, (r1 - 1) // th + 1):
            for tx in range(c0 // tw, (c1 - 1) // tw + 1):
                yield ty, tx

    def close(self) -> None:
        """Close the file, hand on the tiles later runs need and drop the others."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        while self._cache:
            self._retire(*self._cache.popitem(last=False))
        self._used = 0

    def _retire(self, key: tuple[int, int, int], planes: np.ndarray) -> None:
        """Hand on a tile leaving the cache if a later run reads it (else let it go)."""
        band, ty, tx = key
        last = self._later.get((ty, tx))
        if last is not None and self._agrees is not False:
            _HAND_ON.keep((band, ty, tx, self.indexes), planes, last)

    def __enter__(self) -> TileReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read(self, window: Window) -> np.ndarray:
        """Return the bands of ``window`` (whole pixels inside the raster), ``(n, h, w)``."""
        if self._agrees is False:
            raise TileError("tiles decoded here differed from GDAL's read of this file")
        lay = self.layout
        c0, r0 = int(window.col_off), int(window.row_off)
        w, h = int(window.width), int(window.height)
        if (c0, r0, w, h) != (window.col_off, window.row_off, window.width, window.height) \
                or c0 < 0 or r0 < 0 or w < 1 or h < 1 \
                or c0 + w > lay.width or r0 + h > lay.height:
            raise TileError(f"window {window} is not whole pixels inside the raster")
        out = np.empty((len(self.indexes), h, w), dtype=lay.dtype.newbyteorder("="))
        th, tw = lay.tile_h, lay.tile_w
        for ty in range(r0 // th, (r0 + h - 1) // th + 1):
            y0, y1 = max(r0, ty * th), min(r0 + h, (ty + 1) * th)
            for tx in range(c0 // tw, (c0 + w - 1) // tw + 1):
                x0, x1 = max(c0, tx * tw), min(c0 + w, (tx + 1) * tw)
                for k, planes in self._tile_planes(ty, tx):
                    out[k, y0 - r0:y1 - r0, x0 - c0:x1 - c0] = \
                        planes[:, y0 - ty * th:y1 - ty * th, x0 - tx * tw:x1 - tx * tw]
        if self._planned.get((c0, r0, w, h), 0) > 0:
            self._planned[(c0, r0, w, h)] -= 1
            self._release_read(window)
        return out

    def _release_read(self, window: Window) -> None:
        """Retire the cached tiles that no window still to be read touches."""
        for tile in self._tiles_of(window):
            left = self._pending[tile] - 1
            self._pending[tile] = left
            if left:
                continue
            for key in [k for k in self._cache if k[1:] == tile]:
                planes = self._cache.pop(key)
                self._used -= planes.nbytes
                self._retire(key, planes)

    def _tile_planes(self, ty: int, tx: int) -> list[tuple[slice | list[int], np.ndarray]]:
        """Return where the requested planes of tile (ty, tx) go in the output, and their values."""
        if self.layout.pixel_interleaved:
            return [(slice(None), self._decoded(1, ty, tx, [i - 1 for i in self.indexes]))]
        # band-interleaved: each requested band's own tile (one decode per distinct band)
        return [([k for k, j in enumerate(self.indexes) if j == i],
                 self._decoded(i, ty, tx, [0] * self.indexes.count(i)))
                for i in dict.fromkeys(self.indexes)]

    def _decoded(self, band: int, ty: int, tx: int, samples: list[int]) -> np.ndarray:
        from geo.tiffblocks_kernel import unpack_tile  # Numba: paid by readers only

        key = (band, ty, tx)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        handed = _HAND_ON.take((band, ty, tx, self.indexes)) if self._handing else None
        if handed is not None:
            self._store(key, handed)
            return handed
        lay = self.layout
        stored = np.frombuffer(self._inflate(band, ty, tx), dtype=lay.dtype)
        stored = stored.reshape(lay.tile_h, lay.tile_w, lay.samples)
        if not stored.dtype.isnative:  # only on a big-endian machine
            stored = stored.astype(stored.dtype.newbyteorder("="))
        planes = np.empty((len(samples), lay.tile_h, lay.tile_w), dtype=stored.dtype)
        unpack_tile(stored, np.asarray(samples, dtype=np.int64), lay.predictor, planes)
        if self._agrees is None:
            self._check(band, ty, tx, planes)
        self._store(key, planes)
        return planes

    def _store(self, key: tuple[int, int, int], planes: np.ndarray) -> None:
        """Cache a decoded tile, the least recently used leaving beyond ``cache_bytes``."""
        self._cache[key] = planes
        self._used += planes.nbytes
        while self._used > self._cache_bytes and len(self._cache) > 1:
            old_key, old = self._cache.popitem(last=False)
            self._used -= old.nbytes
            self._retire(old_key, old)

    def _check(self, band: int, ty: int, tx: int, planes: np.ndarray) -> None:
        """Compare the first tile decoded with GDAL's read of it (a layout missed here).

        One tile per file and bands in a process (:data:`_VERDICTS`): about 7 ms of GDAL
        decoding. TileError (and GDAL for every window after) when they differ.
        """
        lay = self.layout
        x0, y0 = tx * lay.tile_w, ty * lay.tile_h
        w, h = min(lay.tile_w, lay.width - x0), min(lay.tile_h, lay.height - y0)
        indexes = list(self.indexes) if lay.pixel_interleaved else [band] * len(planes)
        gdal = self.src.read(indexes, window=Window(x0, y0, w, h))
        self._agrees = bool(np.array_equal(planes[:, :h, :w], gdal))
        if len(_VERDICTS) >= _MOST_VERDICTS:
            _VERDICTS.clear()
        _VERDICTS[self._verdict_key] = self._agrees
        if not self._agrees:
            log.warning("%s: tile %d,%d decoded directly differs from GDAL's read; the file "
                        "is read through GDAL", lay.path.name, tx, ty)
            raise TileError(f"tile {tx},{ty} decoded here differs from GDAL's read")

    def _inflate(self, band: int, ty: int, tx: int) -> bytes | bytearray:
        """Return the tile's bytes decompressed to exactly its size, or raise :class:`TileError`."""
        lay = self.layout
        offset, size = self._place(band, ty, tx)
        if size > lay.tile_bytes * (1 + _SLACK) + 1024:
            raise TileError(f"tile {tx},{ty} claims {size} bytes for {lay.tile_bytes}")
        if self._fd is None:
            self._fd = os.open(lay.path, os.O_RDONLY)
            self._file_size = os.fstat(self._fd).st_size
        if offset + size > self._file_size:
            raise TileError(f"tile {tx},{ty} lies beyond the end of the file")
        raw = os.pread(self._fd, size, offset)
        if len(raw) != size:
            raise TileError(f"tile {tx},{ty}: short read")
        if not lay.deflated:
            if size != lay.tile_bytes:
                raise TileError(f"tile {tx},{ty}: {size} bytes stored for {lay.tile_bytes}")
            return raw
        try:
            out: bytearray = deflate.zlib_decompress(raw, lay.tile_bytes)
        except deflate.DeflateError as exc:
            raise TileError(f"tile {tx},{ty} does not inflate to its size: {exc}") from exc
        return out

    def _place(self, band: int, ty: int, tx: int) -> tuple[int, int]:
        """Offset and stored size of a tile, as GDAL parsed them (TileError: none stored)."""
        try:
            offset = int(self.src.get_tag_item(f"BLOCK_OFFSET_{tx}_{ty}", "TIFF", bidx=band)
                         or 0)
            size = int(self.src.get_tag_item(f"BLOCK_SIZE_{tx}_{ty}", "TIFF", bidx=band) or 0)
        except (ValueError, rasterio.errors.RasterioError) as exc:
            raise TileError(f"tile {tx},{ty}: no place in the file ({exc})") from exc
        if offset <= 0 or size <= 0:  # a sparse file's empty tile: GDAL fills it
            raise TileError(f"tile {tx},{ty} is not stored")
        return offset, size
