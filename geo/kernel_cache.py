"""Numba's on-disk caches of the project's compiled kernels, dropped when a kernel source changes.

Numba keys a cached function by the stamp of its own file only (its index holds that file's
modification time and size). A kernel that calls a compiled function of another file keeps
its cached machine code when only that other file changes, and runs the old code: the
evidence and profile kernels call functions of :mod:`geo.detect.ridge_kernel` and
:mod:`geo.detect.sample_kernel`. On 2026-12-07 a change to the box means in ``ridge_kernel``
was measured without effect until the caches of ``evidence_kernel`` were deleted by hand;
after a ``git pull`` the same could run superseded code.

:func:`ensure_fresh`, called by every kernel module before its functions are compiled or
loaded, compares a digest of all the kernel sources (and Numba's version) with the one
written beside their caches, and when it differs deletes those modules' cache files
(``.nbi``/``.nbc`` in their ``__pycache__``) so that everything compiles again from the
current sources (a few seconds, once). Nothing is done when ``NUMBA_CACHE_DIR`` puts the
caches elsewhere, and a cache directory that cannot be written is left alone (Numba then
does not cache there either).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

_GEO = Path(__file__).resolve().parent

#: Every module with ``cache=True`` kernels (``tests/test_kernel_cache.py`` checks the list).
KERNEL_SOURCES: tuple[Path, ...] = (
    _GEO / "tiffblocks_kernel.py",
    _GEO / "detect" / "evidence_kernel.py",
    _GEO / "detect" / "profile_kernel.py",
    _GEO / "detect" / "ridge_kernel.py",
    _GEO / "detect" / "sample_kernel.py",
)
STAMP_NAME = "atalaya-kernels.stamp"

_checked = False


def sources_digest(sources: Iterable[Path], extra: str = "") -> str:
    """SHA-256 (hex) of the sources' names and bytes, in the given order, and ``extra``."""
    h = hashlib.sha256(extra.encode())
    for path in sources:
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def drop_stale(sources: Iterable[Path] = KERNEL_SOURCES, extra: str = "") -> list[Path]:
    """Delete the sources' cache files when their digest differs from the stamp; return them.

    The stamp (:data:`STAMP_NAME`) is kept in each source directory's ``__pycache__`` and
    rewritten (atomically) after the deletion; a missing ``__pycache__`` is made and
    stamped, so that the caches compiled next are known to be of these sources. A cache file
    another process is writing at that moment may be deleted too: that process then
    compiles again next time, no more.
    """
    sources = tuple(sources)
    digest = sources_digest(sources, extra)
    dropped: list[Path] = []
    for folder in sorted({p.parent for p in sources}):
        cache = folder / "__pycache__"
        stamp = cache / STAMP_NAME
        with contextlib.suppress(OSError):
            if stamp.read_text() == digest:
                continue
        modules = {p.stem for p in sources if p.parent == folder}
        cache.mkdir(exist_ok=True)  # a fresh clone: nothing to drop, but stamp what follows
        for f in cache.iterdir():
            if f.suffix in (".nbi", ".nbc") and f.name.split(".", 1)[0] in modules:
                with contextlib.suppress(OSError):
                    f.unlink()
                    dropped.append(f)
        with contextlib.suppress(OSError):
            tmp = cache / f"{STAMP_NAME}.{os.getpid()}"
            tmp.write_text(digest)
            tmp.replace(stamp)
    return dropped


def ensure_fresh() -> None:
    """Run :func:`drop_stale` on the project's kernels once per process (see the module)."""
    global _checked
    if _checked:
        return
    _checked = True
    import numba

    if getattr(numba.config, "CACHE_DIR", ""):  # caches elsewhere: Numba's own rules only
        return
    with contextlib.suppress(OSError):
        drop_stale(KERNEL_SOURCES, extra=f"numba {numba.__version__}")
