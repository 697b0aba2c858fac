"""The imagery catalogue in the store: one row per registered GeoTIFF scene (schema version 7).

A scene's metadata (footprint in EPSG:4326, acquisition time, sensor, bands, resolution, CRS,
cloud share) is read once, by the import (:func:`geo.ingest.scenes.read_scene_source`), into
the rows of the ``scenes`` layer contract (:data:`geo.schema.SCENES`). Those same rows are what
this module registers, adding the file's SHA-256 and who registered it and when: the import's
commit calls :func:`scene_records` and :func:`upsert_scenes` in the transaction that ends with
the layer file written (:func:`geo.ingest.commit.commit` with a store), and
:func:`backfill_scenes` registers a data folder's existing ``scenes.geojson`` (catalogues that
predate the store's). Nothing here opens a raster header: the rows are the import's.

Registering is idempotent: a scene already there with the same file (path and SHA-256) and
metadata is left as it is; one whose file or metadata changed is updated. Every addition or
change also goes to the append-only audit log (``scene_registered``).

:func:`read_scene_catalogue` gives the stored rows back in the layer contract, so the imagery
page hands them to :func:`geo.imagechips.scene_refs` as it does the layer file.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
from sqlalchemy import Connection, func, insert, select, update

from geo.errors import DataNotFoundError
from geo.hashing import sha256_file
from geo.i18n import Message, plural
from geo.imagechips import scene_refs
from geo.schema import SCENES, validate_layer
from geo.store import tables as t
from geo.store.audit import record, same_value
from geo.store.engine import Store, read_tx, write_tx
from geo.world import LAYER_FILES, read_layer

__all__ = [
    "RegisterResult",
    "backfill_scenes",
    "count_scenes",
    "read_scene_catalogue",
    "register_scenes",
    "scene_records",
    "upsert_scenes",
]

#: Columns compared to tell an unchanged registration from a changed one.
_COMPARED = ("path", "footprint", "acquired_at", "sensor", "bands", "resolution_m", "crs",
             "cloud_share", "sha256")


@dataclass(frozen=True)
class RegisterResult:
    """Scene ids added, updated (file or metadata changed) and left unchanged."""

    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()


def scene_records(catalogue: gpd.GeoDataFrame, data_dir: str | Path) -> list[dict[str, Any]]:
    """Store rows of catalogue rows (``scenes`` contract): checked paths and file hashes.

    Parameters
    ----------
    catalogue
        Rows of the ``scenes`` layer (the import's accepted rows, or ``scenes.geojson``);
        extra columns (the import's provenance) are ignored.
    data_dir
        The data folder the rows' paths are relative to.

    Returns
    -------
    list of dict
        One per row, the columns of ``scenes`` but the registration's own.

    Raises
    ------
    SchemaError
        Rows breaking the contract, or a path leaving the data folder.
    DataNotFoundError
        Files that are not there (every one named).

    Notes
    -----
    Reads every file once for its SHA-256 (about 1 s per GB): call it before a write
    transaction, not inside one.
    """
    valid = validate_layer(catalogue, SCENES, source=Message("scene catalogue"))
    root = Path(data_dir).resolve()
    refs = {r.scene_id: r for r in scene_refs(valid, root)}  # paths inside root, UTC times
    missing = sorted(str(r.path) for r in refs.values() if not r.path.is_file())
    if missing:
        raise DataNotFoundError(plural(
            "{n} scene file of the catalogue is missing: {files}; import it again or remove "
            "its row",
            "{n} scene files of the catalogue are missing: {files}; import them again or "
            "remove their rows", "n", n=len(missing), files=", ".join(missing[:5])))
    out = []
    for rec in valid.to_dict("records"):
        ref = refs[str(rec["scene_id"])]
        cloud = rec.get("cloud_share")
        out.append({
            "scene_id": ref.scene_id, "path": ref.path.relative_to(root).as_posix(),
            "footprint": ref.footprint, "acquired_at": ref.acquired_at, "sensor": ref.sensor,
            "bands": str(rec["bands"]), "resolution_m": float(rec["resolution_m"]),
            "crs": str(rec["native_crs"]),
            "cloud_share": None if cloud is None or pd.isna(cloud) else float(cloud),
            "sha256": sha256_file(ref.path)})
    return out


def upsert_scenes(conn: Connection, records: Sequence[dict[str, Any]], *, by: str,
                  at: datetime | None = None) -> RegisterResult:
    """Add or update scene rows inside the caller's write transaction (with audit rows).

    Parameters
    ----------
    records
        From :func:`scene_records`.
    by
        Who registers them (a user name, or ``"backfill"``).
    at
        When (timezone-aware); default now.
    """
    when = at or datetime.now(UTC)
    c = t.scenes.c
    ids = [str(r["scene_id"]) for r in records]
    have = {row["scene_id"]: row for row in conn.execute(
        select(t.scenes).where(c.scene_id.in_(ids))).mappings()} if ids else {}
    added: list[str] = []
    updated: list[str] = []
    unchanged: list[str] = []
    audit: list[dict[str, object]] = []
    for rec in records:
        sid = str(rec["scene_id"])
        old = have.get(sid)
        if old is not None and all(_same(old[k], rec[k]) for k in _COMPARED):
            unchanged.append(sid)
            continue
        values = {**rec, "registered_at": when, "registered_by": by}
        if old is None:
            conn.execute(insert(t.scenes).values(**values))
            added.append(sid)
        else:
            conn.execute(update(t.scenes).where(c.scene_id == sid).values(**values))
            updated.append(sid)
        audit.append({"alert_id": None, "action": "scene_registered", "field": "scene",
                      "new": {"scene_id": sid, "path": rec["path"], "sha256": rec["sha256"],
                              "change": "added" if old is None else "updated"}})
    record(conn, audit, at=when, actor=by)
    return RegisterResult(tuple(added), tuple(updated), tuple(unchanged))


def _same(old: object, new: object) -> bool:
    if isinstance(old, float) and isinstance(new, float):
        return math.isclose(old, new, rel_tol=1e-12, abs_tol=0.0)
    return same_value(old, new)


def register_scenes(store: Store, catalogue: gpd.GeoDataFrame, data_dir: str | Path, *,
                    by: str, at: datetime | None = None) -> RegisterResult:
    """Register catalogue rows (``scenes`` contract) of files in ``data_dir`` in the store.

    See :func:`scene_records` for the checks and :func:`upsert_scenes` for what is written;
    the files are hashed before the write transaction opens.
    """
    records = scene_records(catalogue, data_dir)
    with write_tx(store) as conn:
        return upsert_scenes(conn, records, by=by, at=at)


def backfill_scenes(store: Store, data_dir: str | Path, *, by: str = "backfill",
                    at: datetime | None = None) -> RegisterResult:
    """Register the scenes of a data folder's ``scenes.geojson`` (nothing when it is absent).

    Raises
    ------
    SchemaError, DataNotFoundError
        The layer file breaks its contract, or lists files that are missing.
    """
    path = Path(data_dir) / LAYER_FILES["scenes"]
    if not path.is_file():
        return RegisterResult()
    return register_scenes(store, read_layer(path, "scenes"), data_dir, by=by, at=at)


def count_scenes(store: Store) -> int:
    """Return how many scenes the store's catalogue holds."""
    with read_tx(store) as conn:
        return int(conn.execute(select(func.count()).select_from(t.scenes)).scalar() or 0)


def read_scene_catalogue(store: Store) -> gpd.GeoDataFrame:
    """Return the stored scenes as ``scenes`` layer rows (EPSG:4326), by acquisition time.

    The columns of :data:`geo.schema.SCENES` (``crs`` as ``native_crs``) plus ``sha256``,
    ``registered_at`` and ``registered_by``; paths stay relative to the data folder.
    """
    c = t.scenes.c
    with read_tx(store) as conn:
        rows = [dict(r) for r in conn.execute(
            select(t.scenes).order_by(c.acquired_at, c.scene_id)).mappings()]
    columns = [*SCENES.column_names, "sha256", "registered_at", "registered_by"]
    frame = pd.DataFrame([{**r, "native_crs": r["crs"]} for r in rows], columns=columns)
    frame["acquired_at"] = pd.to_datetime(frame["acquired_at"], utc=True)
    geometry = gpd.GeoSeries([r["footprint"] for r in rows], crs=4326)
    return gpd.GeoDataFrame(frame, geometry=geometry, crs=4326)
