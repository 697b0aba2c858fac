"""Caps applied to every untrusted file before anything expensive happens.

All limits live in one frozen :class:`Limits`, read from ``ATALAYA_*`` environment variables by
:func:`load_limits` (defaults suit a laptop). They are checked on *declared* sizes first
(file size, zip headers, raster header) and again while bytes are actually produced, since a
header can lie.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from geo.errors import ConfigError
from geo.i18n import Message

MB = 1024**2


@dataclass(frozen=True)
class Limits:
    """Size, count and ratio caps for one import.

    Attributes
    ----------
    max_upload_bytes
        Largest file accepted (``ATALAYA_MAX_UPLOAD_MB``, default 200 MB).
    max_unpacked_bytes
        Total bytes an archive may unpack to (``ATALAYA_MAX_UNPACKED_MB``, default 1 GB).
    max_ratio
        Largest unpacked/packed size ratio of one archive entry or of a raster's declared
        pixels to its file size; above it the file is taken for a decompression bomb.
    max_entries
        Entries an archive may hold.
    max_rows
        Rows (features) in one file.
    max_cell_chars
        Characters in one CSV cell (a WKT polygon included).
    max_raster_bytes
        Declared decoded size of a GeoTIFF (width x height x bands x bytes per sample).
    max_raster_side
        Pixels along either side of a GeoTIFF.
    max_bands
        Bands in a GeoTIFF.
    max_memory_bytes
        Memory a reader may use beyond its imports (``ATALAYA_INGEST_MEMORY_MB``, default
        2 GB), enforced in the worker process or the command-line import.
    """

    max_upload_bytes: int = 200 * MB
    max_unpacked_bytes: int = 1024 * MB
    max_ratio: float = 100.0
    max_entries: int = 1000
    max_rows: int = 1_000_000
    max_cell_chars: int = 2_000_000
    max_raster_bytes: int = 4096 * MB
    max_raster_side: int = 65_536
    max_bands: int = 32
    max_memory_bytes: int = 2048 * MB

    def __post_init__(self) -> None:
        for name in ("max_upload_bytes", "max_unpacked_bytes", "max_entries", "max_rows",
                     "max_cell_chars", "max_raster_bytes", "max_raster_side", "max_bands",
                     "max_memory_bytes"):
            if getattr(self, name) <= 0:
                raise ConfigError(Message("limit {name} must be positive, got {value}",
                                          name=name, value=getattr(self, name)))
        if self.max_ratio < 1:
            raise ConfigError(Message("limit max_ratio must be >= 1, got {value}",
                                      value=str(self.max_ratio)))


def _mb(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(Message("{name}={raw} is not a number of megabytes; write e.g. 200",
                                  name=name, raw=repr(raw))) from None
    if not value > 0:
        raise ConfigError(Message("{name}={raw} must be a positive number of megabytes",
                                  name=name, raw=repr(raw)))
    return int(value * MB)


def load_limits(environ: Mapping[str, str] | None = None) -> Limits:
    """Read :class:`Limits` from the environment (the other caps keep their defaults).

    ``ATALAYA_MAX_UPLOAD_MB``, ``ATALAYA_MAX_UNPACKED_MB`` and ``ATALAYA_INGEST_MEMORY_MB``
    are read, in megabytes.

    Examples
    --------
    >>> load_limits({"ATALAYA_MAX_UPLOAD_MB": "5"}).max_upload_bytes
    5242880
    """
    env = os.environ if environ is None else environ
    return Limits(max_upload_bytes=_mb(env, "ATALAYA_MAX_UPLOAD_MB", 200 * MB),
                  max_unpacked_bytes=_mb(env, "ATALAYA_MAX_UNPACKED_MB", 1024 * MB),
                  max_memory_bytes=_mb(env, "ATALAYA_INGEST_MEMORY_MB", 2048 * MB))
