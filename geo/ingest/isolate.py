"""Reading an untrusted file in a worker process with a memory cap and a time limit.

The app runs every user's session in one process, so a reader that a hostile file drives into
gigabytes of memory (or a GDAL crash) would take the whole app down. :func:`read_source_isolated`
runs :func:`~geo.ingest.readers.read_source` in a fresh (spawned) process whose address space is
capped at what it holds after its imports plus :attr:`Limits.max_memory_bytes`; running out
turns into :class:`FileRefusedError`, and so do a crash or a time-out (the worker is killed).

Notes
-----
The cap uses ``RLIMIT_AS`` (Linux, macOS); elsewhere the worker runs uncapped but still
isolated. Starting a worker costs about two seconds of imports.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from typing import Any

from geo.errors import AtalayaError
from geo.i18n import Message, Number, message_of
from geo.ingest.errors import FileRefusedError
from geo.ingest.limits import Limits
from geo.ingest.readers import Source
from geo.ingest.upload import Upload


def _address_space() -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def cap_memory(extra_bytes: int) -> bool:
    """Cap this process's address space at its current size plus ``extra_bytes``.

    Only the soft limit is set (the process may lift it again). Call it in a process that does
    nothing else: a worker, or the command line. Returns False when the platform cannot (no
    ``resource`` module or no ``/proc``).
    """
    try:
        import resource
    except ImportError:
        return False
    current = _address_space()
    if current is None:
        return False
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    soft = current + extra_bytes
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))  # soft only: it can be lifted again
    return True


def _work(conn: Connection, upload: Upload, limits: Limits, layer: str | None) -> None:
    from geo.imagery import gdal_process_environment
    from geo.ingest.readers import read_source

    os.environ.update(gdal_process_environment())
    try:
        cap_memory(limits.max_memory_bytes)
        conn.send(("ok", read_source(upload, limits=limits, source_layer=layer)))
    except AtalayaError as exc:
        conn.send(("refused", message_of(exc)))  # a Message pickles with its template
    except MemoryError:
        conn.send(("memory", ""))
    finally:
        conn.close()


@contextmanager
def _plain_main() -> Iterator[None]:
    """Hide the caller's script from ``multiprocessing``'s spawn while the worker starts.

    Streamlit installs each script run as ``sys.modules["__main__"]`` with ``__file__`` set
    to the script, and a spawned child re-runs that file before its target: the whole app
    would run inside the reader worker. A blank ``__main__`` (no file, no spec) makes the
    child start clean. Streamlit replaces ``__main__`` on every run, so it is put back only
    if still ours; the window is the worker's start, a few milliseconds.
    """
    previous = sys.modules.get("__main__")
    blank = types.ModuleType("__main__")
    sys.modules["__main__"] = blank
    try:
        yield
    finally:
        if sys.modules.get("__main__") is blank and previous is not None:
            sys.modules["__main__"] = previous


def read_source_isolated(upload: Upload, *, limits: Limits | None = None,
                         source_layer: str | None = None, timeout_s: float = 300.0) -> Source:
    """Run :func:`~geo.ingest.readers.read_source` in a capped worker process.

    Raises
    ------
    FileRefusedError
        What the reader refused, or: needs more memory than the cap, took longer than
        ``timeout_s``, or the worker died.
    """
    lim = limits or Limits()
    ctx = mp.get_context("spawn")  # never fork a multi-threaded server
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_work, args=(child, upload, lim, source_layer), daemon=True)
    with _plain_main():
        proc.start()
    child.close()
    try:
        if not parent.poll(timeout_s):
            raise FileRefusedError(Message("{name} took longer than {seconds} s to read; "
                                           "refused", name=upload.name,
                                           seconds=Number(timeout_s, 0)))
        kind, payload = parent.recv()
    except (EOFError, OSError):
        proc.join(5)
        raise FileRefusedError(Message("{name} made the reader stop (exit status {status}): "
                                       "it needs more than {mb} MB of memory, or the file is "
                                       "corrupt; refused", name=upload.name,
                                       status=str(proc.exitcode),
                                       mb=Number(lim.max_memory_bytes / 1024**2, 0))) from None
    finally:
        parent.close()
        proc.join(5)
        if proc.is_alive():
            proc.kill()
            proc.join()
    return _result(kind, payload, upload, lim)


def _result(kind: str, payload: Any, upload: Upload, lim: Limits) -> Source:
    if kind == "ok" and isinstance(payload, Source):
        return payload
    if kind == "memory":
        raise FileRefusedError(Message("{name} needs more than {mb} MB of memory to read "
                                       "(ATALAYA_INGEST_MEMORY_MB); refused", name=upload.name,
                                       mb=Number(lim.max_memory_bytes / 1024**2, 0)))
    raise FileRefusedError(payload)  # the worker's Message (or text), as it was raised
