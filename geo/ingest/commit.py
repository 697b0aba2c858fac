"""Storing a validated import in the data folder, all or nothing.

The layer file is rewritten whole: the merged layer is validated against its contract, written
to a temporary file in the same folder, flushed to disk and moved over the old file with
``os.replace`` (atomic on POSIX), so a reader sees the old or the new layer, never half of one,
and any failure leaves the old file untouched. Scene GeoTIFFs are copied the same way before the
catalogue, and removed again if the catalogue cannot be written. Given a store, a scene import
also registers its rows in the store's catalogue (:mod:`geo.store.scenes`) in a transaction that
commits only once the layer file is in place, so the two agree. An exclusive lock on
``<data>/.ingest.lock`` serialises concurrent imports into one folder. The app notices the new
layer through :func:`geo.world.data_version` (file size and modification time).
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd
import rasterio
from rasterio.errors import RasterioError

from geo.areas import AREAS_FILE, read_areas
from geo.atomicfile import replacing
from geo.errors import AtalayaError, SchemaError
from geo.i18n import Message, message_of, plural
from geo.ingest.errors import CommitError
from geo.ingest.report import ImportReport
from geo.ingest.validate import _ID_FIELDS
from geo.sample.geojson import write_geojson
from geo.schema import SCHEMAS, empty_layer, validate_layer
from geo.world import LAYER_FILES, read_layer

if TYPE_CHECKING:
    from geo.reproject import RowProgress
    from geo.store.engine import Store

LOCK_FILE = ".ingest.lock"
_LOG = logging.getLogger("atalaya.ingest")


@dataclass(frozen=True)
class CommitResult:
    """What was stored: the layer file, rows added, rows skipped as duplicates, rows now."""

    path: Path
    added: int
    skipped: int
    total: int


def layer_path(data_dir: Path, layer: str) -> Path:
    """Return the file of ``layer`` in a data folder (``events.parquet``, ``areas.geojson``...)."""
    if layer == "areas":
        return data_dir / AREAS_FILE
    if layer not in LAYER_FILES:
        raise CommitError(Message("unknown layer {layer}", layer=repr(layer)))
    return data_dir / LAYER_FILES[layer]


def read_existing(data_dir: Path, layer: str) -> gpd.GeoDataFrame:
    """Read the stored layer (validated), or an empty one when the file does not exist yet."""
    path = layer_path(data_dir, layer)
    if layer == "areas":
        return read_areas(data_dir)
    if not path.exists():
        return empty_layer(SCHEMAS[layer])
    return read_layer(path, layer)


@contextmanager
def _locked(data_dir: Path) -> Iterator[None]:
    with open(data_dir / LOCK_FILE, "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _write_atomic(layer: gpd.GeoDataFrame, path: Path) -> None:
    with replacing(path) as tmp:
        if path.suffix == ".parquet":
            layer.to_parquet(tmp, index=False, compression="zstd")
        else:
            write_geojson(layer, tmp)


def commit(report: ImportReport, data_dir: Path, *, skip: Iterable[int] = (),
           store: Store | None = None,
           on_rows: RowProgress | None = None) -> CommitResult:
    """Append the accepted rows of ``report`` (minus ``skip``) to its layer in ``data_dir``.

    Parameters
    ----------
    report
        From :func:`~geo.ingest.validate.validate`.
    data_dir
        The data folder (must exist).
    skip
        Indices of ``report.accepted`` not to store, typically ``Duplicates.new_index``.
    store
        For scenes: the store whose catalogue registers the new scenes too (by
        ``report.imported_by``); None: the layer file only (:func:`geo.store.scenes.
        backfill_scenes` registers them later).
    on_rows
        For scenes resampled onto their UTM grid as they are stored: called with (rows
        written, rows in all) as the copy is written (:func:`geo.reproject.reproject_scene`).

    Raises
    ------
    CommitError
        Identifiers already stored, or the merged layer breaks its contract; nothing written.
    StoreError
        The store refused the scenes' registration; nothing written.

    Notes
    -----
    For scenes, call it before :meth:`~geo.ingest.upload.Upload.close`: the GeoTIFF is copied
    from the upload's temporary folder.
    """
    if not data_dir.is_dir():
        raise CommitError(Message("the data folder {folder} does not exist",
                                  folder=str(data_dir)))
    skipped = set(skip)
    new = report.accepted[~report.accepted.index.isin(skipped)]
    path = layer_path(data_dir, report.layer)
    with _locked(data_dir):
        existing = read_existing(data_dir, report.layer)
        if new.empty:
            return CommitResult(path, 0, len(skipped), len(existing))
        _check_ids(new, existing, report.layer)
        merged = gpd.GeoDataFrame(pd.concat([existing, new], ignore_index=True), crs=4326)
        try:
            merged = validate_layer(merged, SCHEMAS[report.layer], source=path.name)
        except SchemaError as exc:
            raise CommitError(Message("nothing stored: the layer would break its contract "
                                      "({cause})", cause=message_of(exc))) from None
        copied = _copy_files(report, new, data_dir, on_rows)
        try:
            if report.layer == "scenes":
                _write_scenes(store, new, merged, path, data_dir, by=str(report.imported_by),
                              at=pd.Timestamp(report.imported_at).to_pydatetime())
            else:
                _write_atomic(merged, path)
        except BaseException:
            for p in copied:
                p.unlink(missing_ok=True)
            raise
    return CommitResult(path, len(new), len(report.accepted) - len(new), len(merged))


def _write_scenes(store: Store | None, new: gpd.GeoDataFrame, layer: gpd.GeoDataFrame,
                  path: Path, data_dir: Path, *, by: str, at: datetime | None = None) -> None:
    """Register the ``new`` rows in the store and write the scenes ``layer`` file: both or neither.

    Without a store, the layer file only (:func:`geo.store.scenes.backfill_scenes` registers
    it later). The files are hashed before the transaction opens, and it commits after the
    layer file moved into place (a crash in between leaves a scene the backfill registers).
    """
    if store is None:
        _write_atomic(layer, path)
        return
    from geo.store.engine import write_tx
    from geo.store.scenes import scene_records, upsert_scenes

    records = scene_records(new, data_dir)
    with write_tx(store) as conn:
        upsert_scenes(conn, records, by=by, at=at)
        _write_atomic(layer, path)


def name_stored_bands(data_dir: Path, scene_id: str, roles: Mapping[str, int], *, by: str,
                      store: Store | None = None) -> str | None:
    """Give a stored scene's bands their roles: its file's band descriptions and catalogue row.

    For a scene stored before its bands were named (the import warned that detection cannot
    tell them apart). Under the import lock, the file is copied with the new descriptions
    (:func:`describe_bands`) and moved into place, so a reader holding the old one open keeps
    reading it; then the row's ``bands`` is written to the layer file and, given ``store``,
    to the store's catalogue (an audit row by ``by``) in one transaction. Returns the new
    ``bands`` text, or None when the scene already had those roles (nothing written).

    Raises
    ------
    MappingError
        Unknown or repeated roles, indices below 1.
    FileRefusedError
        A role names a band the scene does not have.
    CommitError
        No stored scene has that identifier.
    """
    from geo.imagery import roles_from_descriptions
    from geo.ingest.mapping import Mapping as IngestMapping
    from geo.ingest.scenes import renamed_bands

    IngestMapping("scenes", bands=dict(roles)).check()
    path = layer_path(data_dir, "scenes")
    with _locked(data_dir):
        layer = read_existing(data_dir, "scenes")
        rows = layer.index[layer["scene_id"].astype(str) == scene_id] if len(layer) else []
        if not len(rows):
            raise CommitError(Message("no stored scene is called {scene}", scene=scene_id))
        row = rows[0]
        before = str(layer.at[row, "bands"])
        bands = renamed_bands(before, roles, scene_id)
        target = data_dir / str(layer.at[row, "path"])
        if target.resolve().parent != (data_dir / "scenes").resolve():
            raise CommitError(Message("the scene {scene} is not in scenes/", scene=scene_id))
        with rasterio.open(target) as src:
            described = roles_from_descriptions(tuple(src.descriptions))
        if described != roles_from_descriptions(tuple(bands.split(","))):
            with replacing(target) as tmp:
                shutil.copyfile(target, tmp)
                describe_bands(tmp, bands.split(","))
        elif bands == before:
            return None
        layer.at[row, "bands"] = bands
        layer = validate_layer(layer, SCHEMAS["scenes"], source=path.name)
        _write_scenes(store, layer.loc[[row]], layer, path, data_dir, by=by)
    return bands


def _check_ids(new: gpd.GeoDataFrame, existing: gpd.GeoDataFrame, layer: str) -> None:
    key = _ID_FIELDS[layer]
    if key not in existing.columns or existing.empty:
        return
    clash = sorted(set(new[key].astype(str)) & set(existing[key].astype(str)))
    if clash:
        shown: str = ", ".join(clash[:5])
        if len(clash) > 5:
            shown = Message("{identifiers} (+{count} more)", identifiers=shown,
                            count=len(clash) - 5)
        raise CommitError(plural("nothing stored: {count} identifier is already stored "
                                 "({identifiers}). Skip the duplicate, or map the file's own "
                                 "identifier column",
                                 "nothing stored: {count} identifiers are already stored "
                                 "({identifiers}). Skip the duplicates, or map the file's own "
                                 "identifier column", "count", count=len(clash),
                                 identifiers=shown))


def set_aside(path: Path, at: datetime | None = None) -> Path:
    """Rename a scene file no catalogue lists to ``<name>.orphaned-<UTC time>``; return it.

    Called under the import lock, for the file an import is about to write: its scene id is
    in no layer file (checked first), so nothing refers to it. It is what an import killed
    between moving its GeoTIFF into place and writing the catalogue leaves behind (the retry
    of that import was refused for ever, 2026-12-05), or a file copied there by hand: kept,
    under a name no reader takes for a scene, for whoever looks after the folder.
    """
    stamp = (at or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")
    aside = path.with_name(f"{path.name}.orphaned-{stamp}")
    os.replace(path, aside)
    _LOG.warning("Set aside %s as %s: no catalogue lists it (an interrupted import?)",
                 path, aside.name)
    return aside


def _copy_files(report: ImportReport, new: gpd.GeoDataFrame, data_dir: Path,
                on_rows: RowProgress | None = None) -> list[Path]:
    """Copy scene GeoTIFFs to ``<data>/scenes/``; an uncatalogued file there is set aside."""
    if not report.files:
        return []
    folder = data_dir / "scenes"
    folder.mkdir(exist_ok=True)
    copied: list[Path] = []
    row_bands = dict(zip(new["scene_id"].astype(str), new["bands"], strict=True))
    try:
        for scene_id, rel in zip(new["scene_id"], new["path"], strict=True):
            target = data_dir / str(rel)
            if target.resolve().parent != folder.resolve():
                raise CommitError(Message("nothing stored: {path} already exists or is outside "
                                          "scenes/", path=str(rel)))
            if target.exists():  # its id is in no layer file (_check_ids): nobody's scene
                set_aside(target)
            origin = report.files[str(scene_id)]
            if not origin.is_file():
                raise CommitError(Message("nothing stored: the uploaded {name} is gone; commit "
                                          "before closing the upload", name=str(report.source)))
            with replacing(target) as tmp:
                _store_scene(origin, tmp, on_rows)
                describe_bands(tmp, str(row_bands[str(scene_id)]).split(","))
            copied.append(target)
            _add_overviews(target)
    except BaseException:
        for p in copied:
            p.unlink(missing_ok=True)
        raise
    return copied


def _store_scene(origin: Path, target: Path,
                 on_rows: RowProgress | None = None) -> None:
    """Copy a scene, or write it on its UTM grid when it needs one (:mod:`geo.reproject`).

    Every reader of stored scenes (the imagery page, detection) measures in ground metres on
    square pixels, so a Google Earth Engine export in EPSG:4326, a portal's in Web Mercator
    (whose metres are not ground metres), a grid in feet or a rotated one is resampled once,
    here; its catalogue row keeps the CRS it came in (``native_crs``).
    """
    from geo.reproject import needs_utm_copy, reproject_scene

    if needs_utm_copy(origin):
        reproject_scene(origin, target, on_rows=on_rows)
    else:
        shutil.copyfile(origin, target)


def describe_bands(path: Path, names: list[str]) -> None:
    """Write the band roles of a scene's catalogue row into its stored copy, when they differ.

    ``names`` are the row's ``bands`` (``"blue"``, ``"band4"``...). When they give other roles
    than the file's band descriptions (the user named the bands, ``Mapping.bands``), each
    named band's description becomes its role, so detection and the imagery page read them;
    an unnamed band keeps its description unless that names a role (then it is cleared).
    Otherwise the file is left as it is.
    """
    from geo.imagery import ROLES, roles_from_descriptions

    with rasterio.open(path, "r+") as dst:
        kept = tuple(dst.descriptions)
        wanted = roles_from_descriptions(tuple(names))
        if wanted == roles_from_descriptions(kept) or len(names) != dst.count:
            return
        for i, (name, old) in enumerate(zip(names, kept, strict=True), start=1):
            taken = name if name in ROLES else ("" if roles_from_descriptions((old,)) else old)
            dst.set_band_description(i, taken or "")


def _add_overviews(path: Path) -> None:
    """Give an ingested scene internal overviews, so the imagery page reads screen-sized levels.

    A scene whose overviews cannot be built is still stored: the page then decimates full
    resolution reads, which is slower but shows the same picture.
    """
    from geo.display import build_overviews

    try:
        build_overviews(path)
    except (AtalayaError, OSError, RasterioError):
        return
