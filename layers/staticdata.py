"""Binary layer data published as static files, fetched by the page instead of inlined.

A map's script travels to the browser inside Streamlit's messages: a million events inlined as
base64 make a 12 MB string that is re-sent (and re-compared by the component) on every run of
the map, even a pan. Published here instead, the arrays are written once per content to
``static/data/`` (Streamlit serves it at ``/app/static/data/``), named by their SHA-256, and
the script carries only the address; the browser fetches the bytes once and caches nothing
stale, since another content gets another name.

Streamlit gzips what it serves from ``static/`` at level 9, on every request, in the server
process that also runs the scripts: about 0.1 s of CPU for a 900 kB file of events, at the
moment a filter change needs the server most. Blobs published with ``gzip=True`` are
compressed once here (level 1) and named ``.bin.gz``: served as ``application/gzip``, which
Streamlit does not compress again; the page inflates them (``DecompressionStream``).

The folder is a cache: files are written atomically (temporary name, then ``os.replace``), a
reused file has its time refreshed, and the oldest are deleted past a size budget. A page whose
file was deleted meanwhile gets it written again by the next run that publishes it.

Streamlit serves ``static/`` to anyone who has an address, session or not; an address is the
SHA-256 of the content, so only a browser that was shown it (or a log that recorded it) knows
it. With ``max_age_s`` a file nobody has published again for that long is deleted too (every
run that shows a file publishes it again), so such an address stops working soon after the
last page using it went idle, instead of when the folder passes its size budget (access
review, 2026-12-05).
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import time
from pathlib import Path

from geo.atomicfile import write_atomic

__all__ = ["DEFAULT_BUDGET", "prune", "publish"]

#: Bytes the published files may take together before the oldest are deleted.
DEFAULT_BUDGET = 512 * 1024 * 1024
_SUFFIX = ".bin"
_GZIP_SUFFIX = ".bin.gz"
_SUFFIXES = (_SUFFIX, ".js")


def publish(blob: bytes, folder: Path, *, url_prefix: str,
            budget: int = DEFAULT_BUDGET, digest: str | None = None,
            gzip_level: int | None = None, suffix: str = _SUFFIX,
            max_age_s: float | None = None) -> str:
    """Write ``blob`` under ``folder`` (once per content) and return its URL.

    Parameters
    ----------
    blob
        The bytes to serve.
    folder
        A folder served as static files at ``url_prefix`` (made when missing).
    url_prefix
        URL of ``folder`` as the browser sees it, e.g. ``/app/static/data``.
    budget
        Size in bytes the folder's published files may take; older ones are deleted.
    digest
        ``hashlib.sha256(blob).hexdigest()`` when the caller kept it (a million events take
        about 20 ms to hash).
    gzip_level
        Publish the blob gzip-compressed at this level (1-9) as ``.bin.gz``; the file is
        named after the *uncompressed* bytes.
    suffix
        ``.bin`` (the default) or ``.js`` (a script, served as JavaScript).
    max_age_s
        Also delete the folder's files not published for this many seconds (checked at most
        every :data:`SWEEP_EVERY_S`); None: only the size budget.

    Returns
    -------
    str
        ``{url_prefix}/{sha256}{suffix}``, or ``.bin.gz`` with ``gzip_level``.
    """
    if suffix not in _SUFFIXES:
        raise ValueError(f"suffix must be one of {_SUFFIXES}, got {suffix!r}")
    digest = digest or hashlib.sha256(blob).hexdigest()
    name = digest + (suffix if gzip_level is None else _GZIP_SUFFIX)
    path = folder / name
    wrote = not (path.is_file() and (gzip_level is not None
                                      or path.stat().st_size == len(blob)))
    if wrote:
        if gzip_level is not None:
            blob = gzip.compress(blob, compresslevel=gzip_level, mtime=0)
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(path, blob, fsync=False)  # a cache: rebuilt if a crash loses it
    else:
        os.utime(path)  # recently used: the last to be pruned
    # a new file may break the budget; an age limit is checked once a sweep interval
    now, key = time.monotonic(), str(folder)
    if wrote or (max_age_s is not None and now - _SWEPT.get(key, -math.inf) > SWEEP_EVERY_S):
        _SWEPT[key] = now
        prune(folder, budget=budget, keep=name, max_age_s=max_age_s)
    return f"{url_prefix.rstrip('/')}/{name}"


#: Seconds between two age sweeps of a folder by :func:`publish`.
SWEEP_EVERY_S = 60.0
_SWEPT: dict[str, float] = {}


def prune(folder: Path, *, budget: int = DEFAULT_BUDGET, keep: str | None = None,
          max_age_s: float | None = None, now: float | None = None) -> int:
    """Delete the least recently used files of ``folder`` until they fit in ``budget`` bytes.

    With ``max_age_s``, files last published more than that many seconds before ``now``
    (default: the clock) go too. ``keep`` (a file name) is never deleted. Returns how many
    files were deleted.
    """
    files = []
    for path in folder.iterdir():
        if not path.name.endswith((*_SUFFIXES, _GZIP_SUFFIX)):
            continue
        try:
            stat = path.stat()
        except FileNotFoundError:  # deleted by another process meanwhile
            continue
        files.append((stat.st_mtime, stat.st_size, path))
    total = sum(size for _, size, _ in files)
    oldest = -math.inf if max_age_s is None else (time.time() if now is None else now) - max_age_s
    deleted = 0
    for mtime, size, path in sorted(files, key=lambda f: f[0]):
        if total <= budget and mtime >= oldest:
            break
        if path.name == keep:
            continue
        path.unlink(missing_ok=True)
        total -= size
        deleted += 1
    return deleted
