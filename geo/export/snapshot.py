"""Make a snapshot (every format from one set of frames), keep it in the history, reopen it.

:func:`make_snapshot` is what the CLI and the export panel call: it reads the data folder,
narrows the layers with the explorer's filters and the extent, writes each format asked for
into the export folder, and writes ``manifest.json`` last, with each file's SHA-256. A format
that cannot be written (Chromium absent for PNG/PDF, say) is recorded in the manifest's
``failed`` with the reason; the others are still written.

History: :func:`save_snapshot` writes into ``<data>/snapshots/<UTC time>-<id>/`` and records
the snapshot (its manifest and folder) in the store's ``snapshots`` table
(``geo.store.snapshots``: the team's PostGIS when ``ATALAYA_DATABASE_URL`` is set, else the
data folder's SQLite file). :func:`list_snapshots` and :func:`load_snapshot` read the store's
history, plus any folder of ``<data>/snapshots`` the store does not list (made by an older
version, or copied in by hand).
"""

from __future__ import annotations

import io
import os
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import shapely

from geo.errors import DataNotFoundError, ExportError
from geo.export.briefing import briefing_html, describe_filters, top_tables
from geo.export.frames import snapshot_layers
from geo.export.manifest import (
    MANIFEST_NAME,
    FileEntry,
    Manifest,
    app_version,
    manifest_from_json,
    read_manifest,
    sha256_file,
)
from geo.export.paths import MAX_NAME, SUFFIX_ROOM, safe_name, target
from geo.export.spec import SnapshotSpec
from geo.i18n import Translator
from geo.querystate import ViewState, encode_query
from geo.store.engine import SQLITE_FILE, Store, open_store
from geo.store.snapshots import record_snapshot, snapshot_rows
from geo.world import read_world

__all__ = ["SNAPSHOTS_DIR", "list_snapshots", "load_snapshot", "make_snapshot",
           "readable_at", "save_snapshot", "zip_snapshot"]

SNAPSHOTS_DIR = "snapshots"


@dataclass
class _Run:
    """What one snapshot run has written so far (files, notes, failures)."""

    spec: SnapshotSpec
    out_dir: Path
    base: str
    layers: dict[str, gpd.GeoDataFrame]
    when: datetime
    snapshot_id: str
    static_dir: Path | None
    files: list[tuple[Path, str]] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    extent: tuple[float, float, float, float] | None = None
    html: str | None = None
    png: bytes | None = None

    @property
    def t(self) -> Translator:
        return Translator(self.spec.language)

    def labels(self) -> dict[str, str]:
        from geo.export.html import snapshot_labels

        return snapshot_labels(self.spec)

    def name(self, suffix: str) -> str:
        return f"{self.base}{suffix}"


# -- one writer per format ----------------------------------------------------------------------

def _gpkg(run: _Run) -> None:
    from geo.export.vector import write_gpkg

    info = {"snapshot_id": run.snapshot_id, "created_at": run.when.isoformat(),
            "created_by": run.spec.user, "app_version": app_version(), "title": run.spec.title,
            "classification": run.spec.classification, "spec": run.spec.to_json(),
            "counts": {k: len(v) for k, v in run.layers.items()}}
    run.files.append((write_gpkg(run.layers, run.out_dir, run.name(".gpkg"), info), "gpkg"))


def _geojson(run: _Run) -> None:
    from geo.export.vector import write_geojson_zip

    run.files.append((write_geojson_zip(run.layers, run.out_dir, run.name("-geojson.zip")),
                      "geojson"))


def _kml(run: _Run) -> None:
    from geo.detect.reasons import localize_reasons
    from geo.export.kml import write_kml, write_kmz

    # Google Earth's reader sees the snapshot's language: folders, fields, categories, reasons
    labels = run.labels()
    layers = {**run.layers}
    if "candidates" in layers:
        layers["candidates"] = localize_reasons(layers["candidates"], run.t)
    path, renamed = write_kml(layers, run.out_dir, run.name(".kml"), title=run.spec.title,
                              labels=labels)
    run.files.append((path, "kml"))
    run.files.append((write_kmz(layers, run.out_dir, run.name(".kmz"), title=run.spec.title,
                                labels=labels), "kmz"))
    run.notes["kml_fields"] = {k: v for k, v in renamed.items() if v}
    run.notes["kml_layers"] = {k: labels.get(k, k) for k in layers}


def _csv(run: _Run) -> None:
    from geo.export.vector import write_csv

    paths, neutralised = write_csv(run.layers, run.out_dir, run.base)
    run.files += [(p, "csv") for p in paths]
    run.notes["csv_neutralised_cells"] = neutralised


def _xlsx(run: _Run) -> None:
    from geo.export.vector import write_xlsx

    path, left_out = write_xlsx(run.layers, run.out_dir, run.name(".xlsx"))
    run.files.append((path, "xlsx"))
    if any(left_out.values()):
        run.notes["xlsx_wkt_left_out"] = left_out


def _shp(run: _Run) -> None:
    from geo.export.vector import write_shapefile_zip

    path, notes = write_shapefile_zip(run.layers, run.out_dir, run.name("-shp.zip"))
    run.files.append((path, "shp"))
    run.notes["shapefile"] = notes


def _page(run: _Run) -> str:
    if run.html is None:
        from geo.export.html import snapshot_html

        subtitle = describe_filters(run.spec, run.t, run.labels())[0]  # the time window
        if run.spec.location_cell_deg is not None and "events" in run.spec.layers:
            from geo.auth.precision import precision_short

            subtitle += " · " + precision_short(run.spec.location_cell_deg).localized(run.t)
        run.html, run.extent = snapshot_html(run.layers, run.spec, when=run.when,
                                             subtitle=subtitle, static_dir=run.static_dir)
    return run.html


def _html(run: _Run) -> None:
    path = target(run.out_dir, run.name(".html"))
    path.write_text(_page(run), encoding="utf-8")
    run.files.append((path, "html"))


def _map_png(run: _Run) -> bytes:
    """Render the map once (PNG and PDF share it); scratch files stay in the export folder."""
    if run.png is None:
        from geo.export.render import render_map_png

        page = target(run.out_dir, f"render-{run.snapshot_id[:8]}.tmp.html")
        shot = target(run.out_dir, f"render-{run.snapshot_id[:8]}.tmp.png")
        try:
            page.write_text(_page(run), encoding="utf-8")
            result = render_map_png(page, shot, width=run.spec.width_px,
                                    height=run.spec.height_px, dpi=run.spec.dpi,
                                    expect_events=len(run.layers.get("events", ())) > 0)
            run.png = shot.read_bytes()
        finally:
            page.unlink(missing_ok=True)
            shot.unlink(missing_ok=True)
        run.notes["png_render"] = {"events_drawn": result.events_drawn,
                                   "legends": result.legends, "basemap": result.basemap,
                                   "legend_carets_shown": result.carets_shown,
                                   "legends_folded": result.legends_folded}
    return run.png


def _png(run: _Run) -> None:
    path = target(run.out_dir, run.name(".png"))
    path.write_bytes(_map_png(run))
    run.files.append((path, "png"))


def _pdf(run: _Run) -> None:
    from geo.export.render import render_pdf

    labels = run.labels()
    page_html = briefing_html(
        run.spec, when=run.when, snapshot_id=run.snapshot_id, version=app_version(),
        filters_text=describe_filters(run.spec, run.t, labels),
        tables=top_tables(run.layers, run.t, labels), map_png=_map_png(run), labels=labels,
        t=run.t, layers=run.layers)
    page = target(run.out_dir, f"briefing-{run.snapshot_id[:8]}.tmp.html")
    path = target(run.out_dir, run.name(".pdf"))
    try:
        page.write_text(page_html, encoding="utf-8")
        render_pdf(page, path, marking=run.spec.classification)
    finally:
        page.unlink(missing_ok=True)
    run.files.append((path, "pdf"))


WRITERS: dict[str, Callable[[_Run], None]] = {
    "gpkg": _gpkg, "geojson": _geojson, "kml": _kml, "csv": _csv, "xlsx": _xlsx, "shp": _shp,
    "html": _html, "png": _png, "pdf": _pdf,
}


# -- the orchestrator -----------------------------------------------------------------------------

def _layer_info(gdf: gpd.GeoDataFrame) -> dict[str, Any]:
    kinds = sorted(set(shapely.get_type_id(gdf.geometry.to_numpy()).tolist()))
    names = {0: "Point", 1: "LineString", 3: "Polygon", 4: "MultiPoint", 5: "MultiLineString",
             6: "MultiPolygon"}
    bounds = gdf.total_bounds.tolist() if len(gdf) else None
    return {"features": len(gdf), "crs": "EPSG:4326",
            "geometry_types": [names.get(k, str(k)) for k in kinds],
            "bounds": bounds, "columns": [c for c in gdf.columns if c != gdf.geometry.name]}


def _query(spec: SnapshotSpec, extent: tuple[float, float, float, float] | None) -> dict[str, str]:
    """Return the explorer's link parameters that reopen this view (filters, centre, zoom)."""
    center = zoom = None
    if extent is not None:
        from geo.export.html import fit_view

        center, zoom = fit_view(extent, spec.width_px, spec.height_px)
    return encode_query(ViewState(spec.filters, center, zoom))


def _prepare_folder(out_dir: Path) -> None:
    """Create the export folder, or empty it of the snapshot it already holds.

    A folder holding anything but an earlier snapshot is refused: a snapshot never overwrites
    or mixes with files it did not write.
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise ExportError(f"{out_dir} is a file; give a folder for the snapshot")
    out_dir.mkdir(parents=True, exist_ok=True)
    present = {p.name for p in out_dir.iterdir()}
    if not present:
        return
    if MANIFEST_NAME not in present:
        raise ExportError(f"{out_dir} is not empty and holds no snapshot: choose an empty or "
                          "new folder")
    try:
        old = read_manifest(out_dir)
    except (ValueError, KeyError, TypeError) as err:
        raise ExportError(f"{out_dir}/{MANIFEST_NAME} is unreadable ({err}); choose an empty "
                          "or new folder") from None
    ours = {f.name for f in old.files} | {MANIFEST_NAME}
    if present - ours:
        raise ExportError(f"{out_dir} holds files the snapshot there did not write "
                          f"({', '.join(sorted(present - ours)[:5])}); choose an empty folder")
    for name in present:
        target(out_dir, name).unlink()


def make_snapshot(data_dir: Path, spec: SnapshotSpec, out_dir: Path, *,
                  snapshot_id: str | None = None, now: datetime | None = None,
                  static_dir: Path | None = None) -> Manifest:
    """Write the snapshot ``spec`` of ``data_dir`` into ``out_dir``; return its manifest.

    Parameters
    ----------
    data_dir
        The data folder (``geo.world.read_world``).
    spec
        Filters, extent, layers, formats, title, marking, user, language, PNG size.
    out_dir
        Export folder: new, empty, or holding an earlier snapshot (which is replaced); any
        other content is refused. Nothing is written outside it: file names come from
        :func:`geo.export.paths.safe_name` and every path is checked.
    snapshot_id, now
        Fixed for reproducible tests; a new UUID and the current UTC time otherwise.
    static_dir
        Installed front-end assets (default ``static/`` of the project), for HTML/PNG/PDF.

    Returns
    -------
    Manifest
        Also written as ``out_dir/manifest.json``; ``failed`` names formats not written.

    Raises
    ------
    DataNotFoundError, SchemaError
        When the data folder is empty or breaks a contract (nothing is written then).
    ExportError
        When ``out_dir`` holds files that are not an earlier snapshot's.
    """
    world = read_world(Path(data_dir))
    out_dir = Path(out_dir)
    _prepare_folder(out_dir)
    # the base leaves room for every format's suffix: a file name is never cut (and refused)
    run = _Run(spec=spec, out_dir=out_dir,
               base=safe_name(spec.title, limit=MAX_NAME - SUFFIX_ROOM),
               layers=snapshot_layers(world, spec), when=(now or datetime.now(UTC)),
               snapshot_id=snapshot_id or uuid.uuid4().hex, static_dir=static_dir)
    for fmt in spec.formats:
        before = set(out_dir.iterdir())
        try:
            WRITERS[fmt](run)
        except (ExportError, OSError) as err:
            run.failed[fmt] = str(err)
            _drop_leftovers(run, before)
    if run.extent is None:
        from geo.export.html import snapshot_extent

        run.extent = snapshot_extent(run.layers, spec)
    labels = run.labels()
    if spec.location_cell_deg is not None:
        from geo.auth.precision import precision_sentence

        run.notes["location_precision"] = precision_sentence(spec.location_cell_deg)
    manifest = Manifest(
        snapshot_id=run.snapshot_id, created_at=run.when.isoformat(), created_by=spec.user,
        app_version=app_version(), title=spec.title, classification=spec.classification,
        spec=spec.to_json(), filters_text=tuple(describe_filters(spec, run.t, labels)),
        extent=run.extent, layers={k: _layer_info(v) for k, v in run.layers.items()},
        files=tuple(FileEntry(p.name, fmt, p.stat().st_size, sha256_file(p))
                    for p, fmt in run.files),
        failed=run.failed, notes=run.notes, query=_query(spec, run.extent), folder=out_dir)
    manifest.write(out_dir)
    return manifest


def _drop_leftovers(run: _Run, before: set[Path]) -> None:
    """Remove the files a failed format wrote before failing (a CSV of some layers only).

    They are in no manifest, so the history's check would report them as added later.
    """
    kept = {p.resolve() for p, _ in run.files}
    for path in set(run.out_dir.iterdir()) - before:
        if path.is_file() and not path.is_symlink() and path.resolve() not in kept:
            path.unlink(missing_ok=True)


# -- history ------------------------------------------------------------------------------------

def snapshots_dir(data_dir: Path) -> Path:
    """Return the history folder of a data folder (``<data>/snapshots``)."""
    return Path(data_dir) / SNAPSHOTS_DIR


def history_folder(data_dir: Path, when: datetime, snapshot_id: str) -> Path:
    """Return where the history keeps a snapshot: ``<data>/snapshots/<YYYYmmddTHHMMSSZ>-<id8>``."""
    return snapshots_dir(data_dir) / f"{when.astimezone(UTC):%Y%m%dT%H%M%SZ}-{snapshot_id[:8]}"


def _history_store(data_dir: Path) -> Store:
    """Open the store that keeps the history of ``data_dir``'s snapshots."""
    url = os.environ.get("ATALAYA_DATABASE_URL", "").strip()
    return open_store(url or f"sqlite:///{Path(data_dir).resolve() / SQLITE_FILE}")


def save_snapshot(data_dir: Path, spec: SnapshotSpec, *, now: datetime | None = None,
                  static_dir: Path | None = None) -> Manifest:
    """Make a snapshot into the history (:func:`history_folder`) and record it in the store."""
    when = now or datetime.now(UTC)
    sid = uuid.uuid4().hex
    folder = history_folder(data_dir, when, sid)
    manifest = make_snapshot(data_dir, spec, folder, snapshot_id=sid, now=when,
                             static_dir=static_dir)
    with _history_store(data_dir) as store:
        record_snapshot(store, manifest.to_json(), created_at=when,
                        folder=folder.relative_to(data_dir).as_posix())
    return manifest


def list_snapshots(data_dir: Path) -> list[Manifest]:
    """Return the snapshots kept in the history, newest first.

    The store's rows first (their folder under ``data_dir``), then the folders of
    ``<data>/snapshots`` it does not list; unreadable folders are skipped.
    """
    with _history_store(data_dir) as store:
        rows = snapshot_rows(store)
    out = [manifest_from_json(r["manifest"], Path(data_dir) / r["folder"]) for r in rows]
    known = {m.snapshot_id for m in out}
    root = snapshots_dir(data_dir)
    for folder in root.iterdir() if root.is_dir() else ():
        if folder.is_dir() and not folder.is_symlink() and (folder / MANIFEST_NAME).is_file():
            try:
                found = read_manifest(folder)
            except (ValueError, KeyError, TypeError, OSError):
                continue  # a half-written or hand-edited folder is not a snapshot
            if found.snapshot_id not in known:
                out.append(found)
    return sorted(out, key=lambda m: m.created_at, reverse=True)


def readable_at(manifest: Manifest, cell_deg: float | None) -> bool:
    """Whether a reader who sees events at ``cell_deg`` cells may open this snapshot.

    ``cell_deg`` is the reader's location precision in degrees (EPSG:4326 grid cells,
    :mod:`geo.auth.precision`), None for a role that sees exact locations. A snapshot with an
    events layer is readable only when its events were coarsened to cells at least that
    large; one made with exact locations (by an analyst, an administrator or the command line,
    or a manifest that does not say) is not, so a planner cannot download positions the
    planner's own views withhold. A snapshot without events holds no coarsened layer.

    Examples
    --------
    >>> from geo.export.manifest import Manifest
    >>> def made(cell, layers=("events",)):
    ...     return Manifest("s", "2026-01-01T00:00:00Z", "ana", "1", "t", "m",
    ...                     {"location_cell_deg": cell}, (), None,
    ...                     {k: {"features": 1} for k in layers}, ())
    >>> readable_at(made(None), 0.1), readable_at(made(0.1), 0.1), readable_at(made(0.1), None)
    (False, True, True)
    >>> readable_at(made(0.05), 0.1), readable_at(made(None, ("routes",)), 0.1)
    (False, True)
    """
    if cell_deg is None:
        return True
    if "events" not in manifest.layers and "events" not in manifest.spec.get("layers", ()):
        return True
    made_at = manifest.spec.get("location_cell_deg")
    try:
        return made_at is not None and float(made_at) >= cell_deg
    except (TypeError, ValueError):
        return False  # a hand-edited manifest: fail closed


def load_snapshot(data_dir: Path, snapshot_id: str) -> Manifest:
    """Return the history's snapshot whose id is (or starts with, 8+ characters) ``snapshot_id``.

    Raises
    ------
    DataNotFoundError
        When no snapshot (or more than one) matches.
    """
    if len(snapshot_id) < 8:
        raise DataNotFoundError(f"snapshot id {snapshot_id!r} is too short: give at least 8 "
                                "characters")
    found = [m for m in list_snapshots(data_dir) if m.snapshot_id.startswith(snapshot_id)]
    if len(found) != 1:
        raise DataNotFoundError(f"{len(found)} snapshots match {snapshot_id!r} in "
                                f"{snapshots_dir(data_dir)}")
    return found[0]


def zip_snapshot(manifest: Manifest) -> bytes:
    """Return the snapshot (its manifest and every file it lists) as one ZIP, in memory."""
    if manifest.folder is None:
        raise ExportError("this manifest was not read from a folder")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.write(manifest.folder / MANIFEST_NAME, arcname=MANIFEST_NAME)
        for entry in manifest.files:
            zf.write(target(manifest.folder, entry.name), arcname=entry.name)
    return buf.getvalue()
