"""The manifest of a snapshot: who, when, which version, what was asked, what each file is.

``manifest.json`` sits beside the snapshot's files and lists every one of them with its size
and SHA-256, so a snapshot copied to a USB stick or mailed can be checked later
(:func:`verify_snapshot`).
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geo.hashing import sha256_file
from geo.message import Message
from geo.settings import PROJECT_ROOT

__all__ = ["MANIFEST_NAME", "FileEntry", "Manifest", "app_version", "read_manifest",
           "sha256_file", "verify_snapshot"]

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1


def app_version() -> str:
    """Return the project's version from ``pyproject.toml`` (``unknown`` when not found)."""
    try:
        with (PROJECT_ROOT / "pyproject.toml").open("rb") as fh:
            return str(tomllib.load(fh)["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"


@dataclass(frozen=True)
class FileEntry:
    """One file of a snapshot: name (in the folder), format, size in bytes and SHA-256."""

    name: str
    format: str
    bytes: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    """What ``manifest.json`` says (see the module docstring); ``folder`` is where it lies."""

    snapshot_id: str
    created_at: str
    created_by: str
    app_version: str
    title: str
    classification: str
    spec: Mapping[str, Any]
    filters_text: tuple[str, ...]
    extent: tuple[float, float, float, float] | None
    layers: Mapping[str, Mapping[str, Any]]
    files: tuple[FileEntry, ...]
    failed: Mapping[str, str] = field(default_factory=dict)
    notes: Mapping[str, Any] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    folder: Path | None = field(default=None, compare=False)

    @property
    def counts(self) -> dict[str, int]:
        """Feature count of each layer."""
        return {name: int(info["features"]) for name, info in self.layers.items()}

    def to_json(self) -> dict[str, Any]:
        """Return the manifest as JSON-ready data."""
        return {
            "manifest_version": MANIFEST_VERSION, "snapshot_id": self.snapshot_id,
            "created_at": self.created_at, "created_by": self.created_by,
            "app": {"name": "atalaya", "version": self.app_version},
            "title": self.title, "classification": self.classification, "spec": self.spec,
            "filters_text": list(self.filters_text),
            "extent": None if self.extent is None else list(self.extent),
            "crs": "EPSG:4326", "layers": self.layers,
            "files": [{"name": f.name, "format": f.format, "bytes": f.bytes,
                       "sha256": f.sha256} for f in self.files],
            "failed": dict(self.failed), "notes": dict(self.notes), "query": dict(self.query),
        }

    def write(self, folder: Path) -> Path:
        """Write ``manifest.json`` into ``folder`` (UTF-8, sorted keys, two-space indent)."""
        path = folder / MANIFEST_NAME
        path.write_text(json.dumps(self.to_json(), ensure_ascii=False, indent=2,
                                   sort_keys=True) + "\n", encoding="utf-8")
        return path


def read_manifest(folder: Path) -> Manifest:
    """Read ``folder/manifest.json`` back into a :class:`Manifest`."""
    return manifest_from_json(json.loads((folder / MANIFEST_NAME).read_text("utf-8")), folder)


def manifest_from_json(data: Mapping[str, Any], folder: Path | None) -> Manifest:
    """Build a :class:`Manifest` from its JSON data (as :meth:`Manifest.to_json` gives it)."""
    extent = data.get("extent")
    return Manifest(
        snapshot_id=str(data["snapshot_id"]), created_at=str(data["created_at"]),
        created_by=str(data["created_by"]), app_version=str(data["app"]["version"]),
        title=str(data["title"]), classification=str(data["classification"]),
        spec=data["spec"], filters_text=tuple(data.get("filters_text", ())),
        extent=None if extent is None else (extent[0], extent[1], extent[2], extent[3]),
        layers=data["layers"],
        files=tuple(FileEntry(f["name"], f["format"], int(f["bytes"]), f["sha256"])
                    for f in data["files"]),
        failed=data.get("failed", {}), notes=data.get("notes", {}),
        query=data.get("query", {}), folder=folder)


def verify_snapshot(folder: Path) -> list[str]:
    """Check every file the manifest lists against its size and SHA-256.

    Returns
    -------
    list of str
        One line per problem (missing, changed, or a file the manifest does not list), each a
        :class:`~geo.message.Message`; empty when the snapshot is intact.
    """
    manifest = read_manifest(folder)
    problems: list[str] = []
    listed = {f.name for f in manifest.files}
    for entry in manifest.files:
        path = folder / entry.name
        if not path.is_file():
            problems.append(Message("{name}: missing", name=entry.name))
        elif path.stat().st_size != entry.bytes or sha256_file(path) != entry.sha256:
            problems.append(Message("{name}: changed since the snapshot was made (SHA-256 "
                                    "differs)", name=entry.name))
    extra = sorted(p.name for p in folder.iterdir() if p.is_file()
                   and p.name != MANIFEST_NAME and p.name not in listed)
    problems += [Message("{name}: not listed in the manifest", name=name) for name in extra]
    return problems
