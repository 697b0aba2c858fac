"""The store's history of planners' snapshots: one row per snapshot, its manifest and folder.

``geo.export`` writes a snapshot's files into a folder of the data folder and then records it
here (:func:`record_snapshot`), in one transaction; the export panel lists the history from
here (:func:`snapshot_rows`). The manifest is kept whole (JSON text) with its SHA-256, so a
snapshot can be checked against what the store says it was even if its folder was edited.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from geo.errors import StoreError
from geo.store import tables as t
from geo.store.audit import record
from geo.store.engine import Store, read_tx, write_tx

__all__ = ["record_snapshot", "snapshot_rows"]


def record_snapshot(store: Store, manifest: Mapping[str, Any], *, folder: str,
                    created_at: datetime) -> str:
    """Add a snapshot to the history; return the SHA-256 of its manifest (JSON, UTF-8).

    The same transaction writes a ``snapshot_exported`` row to the audit log (who, when, the
    manifest's hash).

    Parameters
    ----------
    manifest
        The manifest as written to ``manifest.json`` (``snapshot_id``, ``created_by``,
        ``title`` are read from it).
    folder
        Where its files lie, relative to the data folder (POSIX separators).
    created_at
        When it was made (timezone-aware).

    Raises
    ------
    StoreError
        When a snapshot with the same id is already recorded.
    """
    text = json.dumps(manifest, ensure_ascii=False, sort_keys=True)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    sid = str(manifest["snapshot_id"])
    with write_tx(store) as conn:
        if conn.execute(select(t.snapshots.c.snapshot_id)
                        .where(t.snapshots.c.snapshot_id == sid)).first():
            raise StoreError(f"snapshot {sid} is already in the history")
        conn.execute(insert(t.snapshots).values(
            snapshot_id=sid, created_at=created_at, created_by=str(manifest["created_by"]),
            title=str(manifest.get("title", "")), folder=folder, manifest=text,
            manifest_sha256=digest))
        # The export in the append-only audit log too, with the hash that names its manifest.
        record(conn, [{"alert_id": None, "action": "snapshot_exported", "field": sid,
                       "new": {"manifest_sha256": digest, "folder": folder}}],
               at=created_at, actor=str(manifest["created_by"]))
    return digest


def snapshot_rows(store: Store) -> list[dict[str, Any]]:
    """Return the recorded snapshots, newest first.

    Each row: ``snapshot_id``, ``created_at``, ``created_by``, ``title``, ``folder``,
    ``manifest`` (parsed) and ``manifest_sha256``.
    """
    s = t.snapshots.c
    query = select(t.snapshots).order_by(s.created_at.desc(), s.snapshot_id)
    with read_tx(store) as conn:
        rows = [dict(r) for r in conn.execute(query).mappings()]
    for row in rows:
        row["manifest"] = json.loads(row["manifest"])
    return rows
