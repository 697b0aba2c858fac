"""The upload an ingest job reads: kept under the data folder, removed when the job ends."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from geo.errors import JobError
from geo.ingest import (
    Mapping,
    discard_kept_upload,
    keep_upload,
    propose_mapping,
    read_source,
    receive_file,
)
from geo.jobs import Job, JobRunner, ingest_params, submit_job
from geo.settings import Settings
from geo.store import open_store
from geo.world import read_layer
from tests.conftest import ROOT
from tests.ingest.hostile import good_tiff


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    return folder


def _runner(store, data: Path) -> JobRunner:
    return JobRunner(store, settings=Settings(data_dir=data, static_dir=ROOT / "static"),
                     use_dask=False)


def _failed_ingest(path: Path, data: Path, tmp_path: Path) -> tuple[Job, Path]:
    """Keep ``path`` as an upload, run its ingest job; return the job (failed) and the copy."""
    with receive_file(path) as upload:
        kept = keep_upload(upload, data)
    with open_store(f"sqlite:///{tmp_path / 'jobs.sqlite3'}") as store:
        submit_job(store, "ingest", ingest_params(kept), "ana")
        done = _runner(store, data).run_next()
    assert done is not None
    assert done.state == "failed"
    return done, kept


def test_the_same_file_is_kept_once_under_its_sha256(data: Path, tmp_path: Path) -> None:
    tif = good_tiff(tmp_path)
    with receive_file(tif, name="../../x/scène.tif") as one, receive_file(tif) as two:
        first, second = keep_upload(one, data), keep_upload(two, data)
    assert first.parent == second.parent == data / "uploads" / one.sha256
    assert first.name == "scène.tif"
    assert first.read_bytes() == tif.read_bytes()
    assert ingest_params(first) != ingest_params(second)  # the name is part of the request
    assert ingest_params(first) == ingest_params(first.parent / "." / first.name)
    assert discard_kept_upload(first, data)
    assert not first.parent.exists()


def test_only_kept_uploads_are_discarded(data: Path, tmp_path: Path) -> None:
    tif = good_tiff(tmp_path)
    assert not discard_kept_upload(tif, data)
    assert not discard_kept_upload(data / "uploads" / "x.tif", data)  # not in a folder of its own
    assert tif.is_file()


def test_an_ingest_job_removes_its_kept_upload_also_when_it_fails(data: Path,
                                                                  tmp_path: Path) -> None:
    bad = tmp_path / "broken.tif"
    bad.write_bytes(b"II*\x00" + b"\x00" * 200)
    _, kept = _failed_ingest(bad, data, tmp_path)
    assert not kept.parent.exists()


def test_an_ingest_job_uses_the_validated_mapping(data: Path, tmp_path: Path) -> None:
    tif = good_tiff(tmp_path)
    with receive_file(tif) as upload:
        kept = keep_upload(upload, data)
        proposed = propose_mapping(read_source(upload), "scenes")
    fields = {k: v for k, v in proposed.fields.items() if k != "sensor"}
    mapping = replace(proposed, fields=fields, defaults={"sensor": "from the mapping"})
    with open_store(f"sqlite:///{tmp_path / 'jobs.sqlite3'}") as store:
        submit_job(store, "ingest", ingest_params(kept, mapping=mapping), "ana")
        done = _runner(store, data).run_next()
    assert done is not None
    assert done.state == "succeeded", done.error
    assert read_layer(data / "scenes.geojson", "scenes")["sensor"].tolist() == [
        "from the mapping"]
    assert not kept.parent.exists()
    with pytest.raises(JobError, match="mapping is for events"):
        ingest_params(kept, mapping=Mapping(layer="events"))


def test_a_refused_scene_fails_its_job_with_a_message_shown_in_the_readers_language(
        data: Path, tmp_path: Path) -> None:
    import numpy as np
    import rasterio

    from geo.i18n import Translator
    from geo.jobs.messages import localize_error

    plain = tmp_path / "sin_crs.tif"
    with rasterio.open(plain, "w", driver="GTiff", width=64, height=64, count=3,
                       dtype="uint16") as dst:  # no CRS, no transform: never placed by guess
        dst.write(np.ones((3, 64, 64), dtype=np.uint16))
    done, _ = _failed_ingest(plain, data, tmp_path)
    assert done.error is not None
    assert "sin_crs.tif has no CRS" in done.error
    spanish = localize_error(done.error, done.result, Translator("es"))
    assert spanish.startswith("sin_crs.tif no tiene SRC"), spanish
    # a record without the stored message (older jobs) still shows its text
    assert localize_error(done.error, None, Translator("es")) == done.error
