"""Fixtures of the snapshot tests: the tiny world, and one vector snapshot made from it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from geo.export import Manifest, SnapshotSpec, make_snapshot
from tests.export.world import write_tiny_world

VECTOR = ("gpkg", "geojson", "kml", "csv", "xlsx", "shp")
WHEN = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_world(tmp_path_factory.mktemp("tiny-world"))


@pytest.fixture(scope="module")
def vector_snapshot(tiny_world: Path, tmp_path_factory: pytest.TempPathFactory) -> Manifest:
    """Every vector format of the whole tiny world (no filter)."""
    spec = SnapshotSpec(formats=VECTOR, title="Snapshot Petén", user="ana")
    return make_snapshot(tiny_world, spec, tmp_path_factory.mktemp("snap"),
                         snapshot_id="0123456789abcdef0123456789abcdef", now=WHEN)
