"""Safe file names, and a guard that nothing is written outside the export folder."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from geo.errors import ExportError

__all__ = ["MAX_NAME", "SUFFIX_ROOM", "safe_name", "target"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_RESERVED = frozenset({"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)),
                       *(f"lpt{i}" for i in range(1, 10))})
MAX_NAME = 80
#: Room a snapshot keeps after its base name for the longest suffix a format adds
#: (``-aerodromes.csv``, ``-candidates.csv``: 15 characters).
SUFFIX_ROOM = 16


def safe_name(text: str, *, default: str = "snapshot", limit: int = MAX_NAME) -> str:
    """Return ``text`` as a portable file name: ASCII letters, digits, ``.``, ``_`` and ``-``.

    Accents are dropped (``Petén`` -> ``Peten``), separators and anything else become ``_``,
    leading dots are removed (no hidden files, no ``..``), Windows device names are avoided
    and the result is at most ``limit`` characters (at most :data:`MAX_NAME`).

    Examples
    --------
    >>> safe_name("../../etc/passwd"), safe_name("Petén: ruta/norte"), safe_name("...")
    ('etc_passwd', 'Peten_ruta_norte', 'snapshot')
    >>> safe_name("CON")
    'CON_'
    >>> safe_name("Operación Río Putumayo: informe semanal", limit=22)
    'Operacion_Rio_Putumayo'
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    name = _UNSAFE.sub("_", ascii_text).strip("._-")
    name = re.sub(r"_+", "_", name)[:min(limit, MAX_NAME)].strip("._-")
    if not name:
        return default
    if name.split(".")[0].lower() in _RESERVED:
        name = name.split(".")[0] + "_" + name[len(name.split(".")[0]):]
    return name


def target(out_dir: Path, name: str) -> Path:
    """Return ``out_dir / name`` after checking it stays inside ``out_dir``.

    Raises
    ------
    ExportError
        When ``name`` is not already a safe name, or the path (symbolic links resolved) lies
        outside ``out_dir``.
    """
    if name != safe_name(name, default=""):
        raise ExportError(f"refusing the file name {name!r}: use geo.export.paths.safe_name")
    root = out_dir.resolve()
    if (root / name).is_symlink():
        raise ExportError(f"refusing to write through the symbolic link {root / name}")
    path = (root / name).resolve()
    if path.parent != root:
        raise ExportError(f"refusing to write {path}: outside the export folder {root}")
    return path
