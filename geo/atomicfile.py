"""Atomic file replacement: write beside the target, then ``os.replace`` over it.

A reader sees the old file or the new one, never half of one, and a crash leaves at most a
hidden temporary file (``.<name>-XXXX.part``) beside the target, never a truncated target.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["FILE_MODE", "replacing", "sweep_leftovers", "write_atomic"]


def _file_mode() -> int:
    """Mode a new file gets from this process's umask (``mkstemp`` makes it 0600)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


#: Imported scenes and rewritten layers were readable by their owner only (0600), unlike the
#: folder's other files: a backup, a Dask worker or a web server under another account could
#: not read them (reliability review, 2026-12-05).
FILE_MODE = _file_mode()


@contextmanager
def replacing(path: str | Path, *, fsync: bool = True) -> Iterator[Path]:
    """Yield a fresh temporary path beside ``path``; on success it replaces ``path``.

    Write the new content to the yielded path (with any writer that takes a path). When the
    block ends without an error the file is flushed to disk (``fsync``) and renamed over
    ``path``; on an error it is deleted and ``path`` is left as it was. The folder must exist.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> with replacing(folder / "a.txt") as tmp:
    ...     _ = tmp.write_text("new")
    >>> (folder / "a.txt").read_text(), sorted(p.name for p in folder.iterdir())
    ('new', ['a.txt'])
    """
    target = Path(path)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}-", suffix=".part", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    os.chmod(tmp, FILE_MODE)  # as a file created in place would be
    try:
        yield tmp
        if fsync:
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(path: str | Path, data: bytes | str, *, fsync: bool = True) -> None:
    """Replace ``path`` with ``data`` (text is written as UTF-8) in one atomic step.

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "b.json"
    >>> write_atomic(target, '{"a": 1}')
    >>> target.read_text()
    '{"a": 1}'
    """
    blob = data.encode("utf-8") if isinstance(data, str) else data
    with replacing(path, fsync=fsync) as tmp:
        tmp.write_bytes(blob)


def sweep_leftovers(folder: str | Path, *, pattern: str = ".*.part",
                    older_than_s: float = 3600.0, now: float | None = None) -> list[Path]:
    """Delete what killed writers left in ``folder``: entries matching ``pattern``, old enough.

    A process killed inside :func:`replacing` leaves its hidden ``.<name>-XXXX.part`` (a
    scene's is tens of megabytes); nothing else ever deletes it. ``older_than_s`` (seconds
    since its last change) spares a file another process is writing now. Folders matching
    ``pattern`` go whole. Returns what was deleted; a missing folder yields nothing.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / ".a.tif-x1.part").write_bytes(b"half")
    >>> _ = (folder / "a.tif").write_bytes(b"whole")
    >>> [p.name for p in sweep_leftovers(folder, now=time.time() + 7200)]
    ['.a.tif-x1.part']
    >>> sorted(p.name for p in folder.iterdir())
    ['a.tif']
    """
    base = Path(folder)
    if not base.is_dir():
        return []
    limit = (time.time() if now is None else now) - older_than_s
    removed: list[Path] = []
    for path in sorted(base.glob(pattern)):
        try:
            if path.lstat().st_mtime > limit:
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        except OSError:  # gone already (another sweeper), or not ours to delete: leave it
            continue
        removed.append(path)
    return removed
