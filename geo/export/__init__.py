"""Snapshots for planners: the analyst's current view, in the formats partners open.

A snapshot is the visible layers narrowed by the explorer's filters, the area of interest, the
time window and the map extent, written at one moment as GeoPackage, zipped GeoJSON, KML/KMZ,
CSV, zipped Shapefile, a standalone offline HTML map, a PNG and a PDF briefing, with a
``manifest.json`` that says who made it, when, with which version and filters, how many
features each layer holds and the SHA-256 of every file.

The same :class:`SnapshotSpec` gives the same snapshot from the command line
(``python -m geo.export``), the export panel (``ui.export``) or a notebook::

    from geo.export import SnapshotSpec, make_snapshot
    manifest = make_snapshot(Path("data"), SnapshotSpec(formats=("gpkg", "pdf")), Path("out"))

Nothing here imports streamlit; folium (through ``layers``) is imported only when an HTML,
KML, PNG or PDF is written.
"""

from __future__ import annotations

from geo.export.manifest import Manifest, read_manifest, verify_snapshot
from geo.export.snapshot import (
    list_snapshots,
    load_snapshot,
    make_snapshot,
    readable_at,
    save_snapshot,
    zip_snapshot,
)
from geo.export.spec import DEFAULT_MARKING, FORMATS, LAYERS, SnapshotSpec, parse_formats

__all__ = [
    "DEFAULT_MARKING",
    "FORMATS",
    "LAYERS",
    "Manifest",
    "SnapshotSpec",
    "list_snapshots",
    "load_snapshot",
    "make_snapshot",
    "parse_formats",
    "read_manifest",
    "readable_at",
    "save_snapshot",
    "verify_snapshot",
    "zip_snapshot",
]
