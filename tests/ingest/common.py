"""Helpers shared by the import tests (as shapely's tests/common.py)."""

from __future__ import annotations

from pathlib import Path

from geo.ingest import (
    ImportReport,
    Limits,
    Mapping,
    propose_mapping,
    read_source,
    receive_file,
    validate,
)


def offer(path: Path, layer: str, *, name: str | None = None, limits: Limits | None = None,
          mapping: Mapping | None = None) -> ImportReport:
    """Run a file through receive -> read -> propose mapping -> validate, as the page does."""
    with receive_file(path, name=name, limits=limits) as upload:
        source = read_source(upload, limits=limits)
        chosen = mapping or propose_mapping(source, layer)
        return validate(source, chosen, imported_by="tester", limits=limits)
