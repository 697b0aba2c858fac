"""Reading an untrusted file and checking its rows, each in a capped worker process.

The app runs every user's session in one process, so a reader that a hostile file drives into
gigabytes of memory (or a GDAL crash) would take the whole app down. :func:`read_source_isolated`
runs :func:`~geo.ingest.readers.read_source` in a fresh (spawned) process whose address space is
capped at what it holds after its imports plus :attr:`Limits.max_memory_bytes`; running out
turns into :class:`FileRefusedError`, and so do a crash or a time-out (the worker is killed).
:func:`validate_isolated` does the same for :func:`~geo.ingest.validate.validate`.

Notes
-----
The cap uses ``RLIMIT_AS`` (Linux, macOS); elsewhere the worker runs uncapped but still
isolated. Starting a worker costs about 1.5 s of imports (SciPy, for deduplication, is left
out: see ``geo.ingest._LAZY``).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from typing import Any

from geo.errors import AtalayaError
from geo.i18n import Message, Number, marked, message_of
from geo.ingest.errors import FileRefusedError
from geo.ingest.limits import Limits
from geo.ingest.mapping import Mapping
from geo.ingest.readers import Source
from geo.ingest.report import ImportReport
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
    kind, payload = _in_worker(_work, (upload, lim, source_layer), upload.name, lim,
                               timeout_s, _READING)
    if kind == "ok" and isinstance(payload, Source):
        return payload
    raise _refusal(kind, payload, upload.name, lim, _READING)


#: The checking worker's memory cap, in reader caps (``ATALAYA_INGEST_MEMORY_MB``). Checking a
#: legitimate CSV of 1,000,000 events (119 MB; the row limit) took the worker 1.98 GB above
#: what it held with the rows, and sending the report back 0.29 GB more (2026-12-05): over one
#: reader cap (2,048 MB by default), within two.
CHECK_MEMORY_FACTOR = 2


def validate_isolated(source: Source, mapping: Mapping, *, imported_by: str,
                      limits: Limits | None = None, timeout_s: float = 300.0) -> ImportReport:
    """Run :func:`~geo.ingest.validate.validate` in a capped worker process.

    Checking rows parses every geometry and date of a file the reader only split into
    cells, so a hostile file can make it slow and large too: a 124 MB CSV of 999,000 rows
    that each take the slow path ran 291 s and peaked at 3.5 GB inside the app's process
    before it was refused (2026-12-05). Here it shares no memory or interpreter lock with the
    sessions, with :data:`CHECK_MEMORY_FACTOR` times the reader's cap on top of the rows it
    is sent, and the same time limit. The rows travel pickled both ways (about a second for
    a million).

    Raises
    ------
    FileRefusedError
        What :func:`validate` refused (its message), or: needs more memory than the cap,
        took longer than ``timeout_s``, or the worker died.
    """
    lim = limits or Limits()
    cap = replace(lim, max_memory_bytes=CHECK_MEMORY_FACTOR * lim.max_memory_bytes)
    kind, payload = _in_worker(_check, (source, mapping, imported_by, cap), source.name, cap,
                               timeout_s, _CHECKING)
    if kind == "ok" and isinstance(payload, ImportReport):
        return payload
    raise _refusal(kind, payload, source.name, cap, _CHECKING)


def _check(conn: Connection, source: Source, mapping: Mapping, imported_by: str,
           limits: Limits) -> None:
    from geo.ingest.validate import validate

    try:
        cap_memory(limits.max_memory_bytes)
        conn.send(("ok", validate(source, mapping, imported_by=imported_by, limits=limits)))
    except AtalayaError as exc:
        conn.send(("refused", message_of(exc)))
    except MemoryError:
        conn.send(("memory", ""))
    finally:
        conn.close()


@dataclass(frozen=True)
class _Stage:
    """The refusals of one kind of work in a worker (reading a file, checking its rows)."""

    too_slow: str
    died: str
    memory: str


_READING = _Stage(
    too_slow=marked("{name} took longer than {seconds} s to read; refused"),
    died=marked("{name} made the reader stop (exit status {status}): it needs more than {mb} "
                "MB of memory, or the file is corrupt; refused"),
    memory=marked("{name} needs more than {mb} MB of memory to read "
                  "(ATALAYA_INGEST_MEMORY_MB); refused"))
_CHECKING = _Stage(
    too_slow=marked("{name}: checking its rows took longer than {seconds} s; refused"),
    died=marked("{name}: checking its rows stopped (exit status {status}): it needs more "
                "than {mb} MB of memory; refused"),
    memory=marked("{name} needs more than {mb} MB of memory to check its rows "
                  "(ATALAYA_INGEST_MEMORY_MB); refused"))


def _in_worker(target: Callable[..., None], args: tuple[Any, ...], name: str, lim: Limits,
               timeout_s: float, stage: _Stage) -> tuple[str, Any]:
    """Run ``target(conn, *args)`` in a fresh spawned process; return what it sent."""
    ctx = mp.get_context("spawn")  # never fork a multi-threaded server
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=target, args=(child, *args), daemon=True)
    with _plain_main():
        proc.start()
    child.close()
    try:
        if not parent.poll(timeout_s):
            raise FileRefusedError(Message(stage.too_slow, name=name,
                                           seconds=Number(timeout_s, 0)))
        kind, payload = parent.recv()
    except (EOFError, OSError):
        proc.join(5)
        raise FileRefusedError(Message(stage.died, name=name, status=str(proc.exitcode),
                                       mb=Number(lim.max_memory_bytes / 1024**2, 0))) from None
    finally:
        parent.close()
        proc.join(5)
        if proc.is_alive():
            proc.kill()
            proc.join()
    return kind, payload


def _refusal(kind: str, payload: Any, name: str, lim: Limits,
             stage: _Stage) -> FileRefusedError:
    if kind == "memory":
        return FileRefusedError(Message(stage.memory, name=name,
                                        mb=Number(lim.max_memory_bytes / 1024**2, 0)))
    return FileRefusedError(payload)  # the worker's Message (or text), as it was raised
