"""Atomic file replacement: write beside the target, then ``os.replace`` over it.

A reader sees the old file or the new one, never half of one, and a crash leaves at most a
hidden temporary file (``.<name>-XXXX.part``) beside the target, never a truncated target.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["replacing", "write_atomic"]


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
