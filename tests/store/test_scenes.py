"""The imagery catalogue in the store: registered by the scene import, back-filled, read back."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
from sqlalchemy import select, text

from geo.errors import DataNotFoundError, SchemaError, StoreError
from geo.hashing import sha256_file
from geo.ingest import (
    CommitError,
    FileRefusedError,
    commit,
    read_source,
    receive_file,
    validate,
)
from geo.ingest.mapping import propose_mapping
from geo.ingest.report import ImportReport
from geo.store import Store
from geo.store import tables as t
from geo.store.engine import read_tx
from geo.store.migrations import latest_version
from geo.store.scenes import backfill_scenes, count_scenes, read_scene_catalogue
from geo.world import read_layer
from tests.ingest.hostile import good_tiff

NOW = pd.Timestamp("2025-01-10T12:00:00Z")


def _import(tmp_path: Path, data: Path, store: Store | None,
            name: str = "scene_2024-08-02.tif") -> ImportReport:
    tif = good_tiff(tmp_path, name)
    with receive_file(tif) as up:  # commit before the upload's folder is removed
        source = read_source(up)
        report = validate(source, propose_mapping(source, "scenes"), imported_by="ana",
                          now=NOW)
        commit(report, data, store=store)
    return report


@pytest.fixture
def data(tmp_path: Path) -> Path:
    out = tmp_path / "data"
    out.mkdir()
    return out


def test_migration_7_creates_the_scenes_table(store: Store) -> None:
    assert latest_version() >= 7
    with read_tx(store) as conn:
        columns = set(conn.execute(text("SELECT * FROM scenes WHERE 1 = 0")).keys())
    assert columns == {"scene_id", "path", "footprint", "acquired_at", "sensor", "bands",
                       "resolution_m", "crs", "cloud_share", "sha256", "registered_at",
                       "registered_by"}


def test_scene_import_registers_the_scene(store: Store, tmp_path: Path, data: Path) -> None:
    report = _import(tmp_path, data, store)
    got = read_scene_catalogue(store)
    assert got["scene_id"].tolist() == ["scene_2024-08-02"]
    row = got.iloc[0]
    stored = data / "scenes" / "scene_2024-08-02.tif"
    assert row["path"] == "scenes/scene_2024-08-02.tif"
    assert row["sha256"] == sha256_file(stored)  # the stored copy, overviews included
    assert row["acquired_at"] == pd.Timestamp("2024-08-02", tz="UTC")
    assert (row["sensor"], row["bands"], row["native_crs"]) == (
        "test-sensor", "red,green,blue,cloud", "EPSG:32718")
    assert row["resolution_m"] == 10.0
    assert row["cloud_share"] == pytest.approx(0.25, abs=0.01)
    assert (row["registered_by"], row["registered_at"]) == ("ana", NOW.to_pydatetime())
    # the footprint is the import's own, not read again
    assert row.geometry.equals_exact(report.accepted.geometry.iloc[0], 1e-12)
    assert got.crs.to_epsg() == 4326
    with read_tx(store) as conn:
        audit = conn.execute(select(t.audit_log).where(
            t.audit_log.c.action == "scene_registered")).all()
    assert len(audit) == 1
    assert json.loads(audit[0].new_value)["scene_id"] == "scene_2024-08-02"


def test_a_stored_scenes_bands_are_named_afterwards(store: Store, tmp_path: Path,
                                                    data: Path) -> None:
    """Stored with bands detection could not tell apart; named later: file, layer, store."""
    from geo.imagery import read_scene_info
    from geo.ingest import name_stored_bands
    from tests.ingest.hostile import unnamed_bands_tiff

    tif = unnamed_bands_tiff(tmp_path)
    with receive_file(tif) as up:
        source = read_source(up)
        commit(validate(source, propose_mapping(source, "scenes"), imported_by="ana",
                        now=NOW), data, store=store)
    stored = data / "scenes" / tif.name
    with rasterio.open(stored) as first:
        levels = first.overviews(1)
    roles = {"blue": 1, "green": 2, "red": 3, "nir": 4, "swir1": 5}
    assert name_stored_bands(data, "landsat_2024-08-02", roles, by="bea",
                             store=store) == "blue,green,red,nir,swir1,band6"
    with rasterio.open(stored) as copy, rasterio.open(tif) as original:
        assert copy.descriptions == ("blue", "green", "red", "nir", "swir1", "QA_PIXEL")
        assert np.array_equal(copy.read(), original.read())
        assert copy.overviews(1) == levels  # the stored copy's overviews came along
    assert read_scene_info(stored).roles.is_multispectral  # what detection jobs read
    assert read_layer(data / "scenes.geojson", "scenes")["bands"].tolist() == [
        "blue,green,red,nir,swir1,band6"]
    row = read_scene_catalogue(store).iloc[0]
    assert (row["bands"], row["registered_by"], row["sha256"]) == (
        "blue,green,red,nir,swir1,band6", "bea", sha256_file(stored))
    with read_tx(store) as conn:
        audit = conn.execute(select(t.audit_log).where(
            t.audit_log.c.action == "scene_registered")).all()
    assert [json.loads(a.new_value)["change"] for a in audit] == ["added", "updated"]
    assert audit[-1].actor == "bea"
    # the same roles again: nothing written
    before = stored.stat().st_mtime_ns
    assert name_stored_bands(data, "landsat_2024-08-02", roles, by="bea", store=store) is None
    assert stored.stat().st_mtime_ns == before
    with pytest.raises(FileRefusedError, match="it has 6"):
        name_stored_bands(data, "landsat_2024-08-02", {"red": 7}, by="bea", store=store)
    with pytest.raises(CommitError, match="no stored scene is called nope"):
        name_stored_bands(data, "nope", roles, by="bea", store=store)
    assert read_scene_catalogue(store)["bands"].tolist() == ["blue,green,red,nir,swir1,band6"]


def test_backfill_from_the_layer_file_is_idempotent(store: Store, tmp_path: Path,
                                                    data: Path) -> None:
    _import(tmp_path, data, None)  # an import without a store: the layer file only
    _import(tmp_path, data, None, name="scene_2024-09-14.tif")
    assert count_scenes(store) == 0
    first = backfill_scenes(store, data)
    assert sorted(first.added) == ["scene_2024-08-02", "scene_2024-09-14"]
    again = backfill_scenes(store, data)
    assert (again.added, again.updated) == ((), ())
    assert sorted(again.unchanged) == sorted(first.added)
    assert read_scene_catalogue(store)["registered_by"].tolist() == ["backfill", "backfill"]
    # a file rewritten in place (new overviews, say) is registered again: updated
    stored = data / "scenes" / "scene_2024-08-02.tif"
    stored.write_bytes(stored.read_bytes() + b"\0")
    assert backfill_scenes(store, data).updated == ("scene_2024-08-02",)


def test_backfill_of_a_folder_without_catalogue_does_nothing(store: Store, data: Path) -> None:
    assert backfill_scenes(store, data).added == ()


def test_backfill_names_the_missing_files(store: Store, tmp_path: Path, data: Path) -> None:
    _import(tmp_path, data, None)
    (data / "scenes" / "scene_2024-08-02.tif").unlink()
    with pytest.raises(DataNotFoundError, match=r"scene_2024-08-02\.tif"):
        backfill_scenes(store, data)
    assert count_scenes(store) == 0


def test_backfill_refuses_a_path_outside_the_data_folder(store: Store, tmp_path: Path,
                                                         data: Path) -> None:
    _import(tmp_path, data, None)
    layer = read_layer(data / "scenes.geojson", "scenes")
    layer["path"] = "../scene_2024-08-02.tif"
    from geo.store.scenes import register_scenes

    with pytest.raises(SchemaError, match="outside the data folder"):
        register_scenes(store, layer, data, by="ana")


def test_a_refused_registration_stores_nothing(store: Store, tmp_path: Path, data: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import geo.store.scenes as scenes

    def refuse(*args: object, **kwargs: object) -> None:
        raise StoreError("the store is read-only")

    monkeypatch.setattr(scenes, "upsert_scenes", refuse)
    with pytest.raises(StoreError, match="read-only"):
        _import(tmp_path, data, store)
    assert not (data / "scenes.geojson").exists()
    assert not list((data / "scenes").glob("*.tif"))
    assert count_scenes(store) == 0
