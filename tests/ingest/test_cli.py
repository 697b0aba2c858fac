"""``python -m geo.ingest`` in a subprocess: exit codes, plain errors, dry runs, bounded memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from geo.world import read_layer
from tests.conftest import ROOT
from tests.ingest.hostile import _events_rows, lying_zip_bomb, unnamed_bands_tiff, zip_bomb


def _cli(*args: str | Path, env: dict[str, str] | None = None,
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "geo.ingest", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


@pytest.fixture
def events_csv(tmp_path: Path) -> Path:
    path = tmp_path / "eventos.csv"
    path.write_text(_events_rows() + "E9,xx,seizure,cocaine,1,PE,x,0.5,y,-9.4,-74.6\n")
    return path


def test_dry_run_reports_and_writes_nothing(events_csv: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    run = _cli(events_csv, "--layer", "events", "--dry-run", "--data-dir", data,
               env={"TMPDIR": str(scratch)})
    assert run.returncode == 0, run.stderr
    assert "3 row(s), 2 accepted, 1 rejected" in run.stdout
    assert "row 3: occurred_at: cannot read 'xx' as a date" in run.stdout
    assert list(data.iterdir()) == []
    assert list(scratch.iterdir()) == []  # its own temporary folder is gone too


def test_commit_then_duplicates_skipped(events_csv: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    rejected = tmp_path / "rejected.csv"
    run = _cli(events_csv, "--layer", "events", "--data-dir", data, "--user", "ana",
               "--rejected-csv", rejected)
    assert run.returncode == 0, run.stderr
    assert "stored 2 row(s) in events.parquet" in run.stdout
    stored = read_layer(data / "events.parquet", "events")
    assert stored["imported_by"].tolist() == ["ana", "ana"]
    assert "cannot read 'xx'" in rejected.read_text("utf-8-sig")
    again = _cli(events_csv, "--layer", "events", "--data-dir", data)
    assert again.returncode == 0, again.stderr
    assert "2 row(s) match rows already stored and will be skipped" in again.stdout
    assert "stored 0 row(s)" in again.stdout


def test_bands_names_a_scenes_bands_and_a_wrong_role_is_one_plain_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """In this process (the entry point's own start is tested above): --bands on a scene."""
    import rasterio

    from geo.ingest.__main__ import main

    data = tmp_path / "data"
    data.mkdir()
    tif = unnamed_bands_tiff(tmp_path)
    assert main([str(tif), "--layer", "scenes", "--data-dir", str(data),
                 "--bands", "red=3,nir=9"]) == 1
    assert capsys.readouterr().err == ("refused: the band roles nir=9 name bands "
                                       "landsat_2024-08-02.tif does not have: it has 6\n")
    assert main([str(tif), "--layer", "scenes", "--data-dir", str(data),
                 "--bands", "blue=1,green=2,red=3,nir=4,swir1=5"]) == 0
    assert "warning" not in capsys.readouterr().out
    assert read_layer(data / "scenes.geojson", "scenes")["bands"].tolist() == [
        "blue,green,red,nir,swir1,band6"]
    with rasterio.open(data / "scenes" / tif.name) as stored:
        assert stored.descriptions == ("blue", "green", "red", "nir", "swir1", "QA_PIXEL")


def test_saved_mapping_used(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """In this process: the entry point's own start and exit codes are tested above."""
    from geo.ingest.__main__ import main

    path = tmp_path / "x.csv"
    path.write_text("codigo,a,b\nAB12,-9.4,-74.6\n")
    mapping = tmp_path / "m.json"
    mapping.write_text(json.dumps({"layer": "aerodromes", "fields": {
        "ident": "codigo", "latitude": "a", "longitude": "b"}, "defaults": {"name": "pista"}}))
    common = [str(path), "--dry-run", "--data-dir", str(tmp_path)]
    assert main([*common, "--layer", "aerodromes", "--mapping", str(mapping)]) == 0
    assert "1 accepted" in capsys.readouterr().out
    assert main([*common, "--layer", "aerodromes", "--mapping", str(mapping),
                 "--default", "name=otra", "--default", "country=BR"]) == 0
    assert "1 accepted" in capsys.readouterr().out
    assert main([*common, "--layer", "aerodromes", "--default", "nonsense=1"]) == 1
    assert "unknown field" in capsys.readouterr().err
    assert main([*common, "--layer", "events", "--mapping", str(mapping)]) == 1
    assert "is for the aerodromes layer" in capsys.readouterr().err


@pytest.mark.parametrize("args", [["--layer", "nonsense"], []], ids=["bad-layer", "no-layer"])
def test_usage_errors_exit_2(events_csv: Path, args: list[str]) -> None:
    run = _cli(events_csv, *args)
    assert run.returncode == 2
    assert "Traceback" not in run.stderr


def test_refused_file_one_plain_line(tmp_path: Path) -> None:
    run = _cli(zip_bomb(tmp_path, megabytes=50), "--layer", "areas", "--data-dir", tmp_path)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert run.stderr.startswith("refused: ")
    assert run.stderr.count("\n") == 1
    missing = _cli(tmp_path / "nope.csv", "--layer", "events")
    assert missing.returncode == 1
    assert "no such file" in missing.stderr


_MEASURE = """
import resource, sys
from geo.ingest.__main__ import main

def peak():
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)

small, bomb = sys.argv[1], sys.argv[2]
main([small, "--layer", "events", "--dry-run", "--data-dir", sys.argv[3]], isolate=True)
self0, child0 = peak()  # imports done, one worker started and finished
code = main([bomb, "--layer", "areas", "--dry-run", "--data-dir", sys.argv[3]], isolate=True)
self1, child1 = peak()
print("GROWTH_KB", max(self1 - self0, child1 - child0), "CODE", code)
"""


@pytest.mark.slow
@pytest.mark.parametrize("build", [zip_bomb, lying_zip_bomb], ids=["honest", "lying-header"])
def test_memory_bounded_with_a_zip_bomb(build: object, events_csv: Path, tmp_path: Path) -> None:
    bomb = build(tmp_path, megabytes=400)  # type: ignore[operator]
    assert bomb.stat().st_size < 2 * 1024 * 1024
    run = subprocess.run([sys.executable, "-c", _MEASURE, str(events_csv), str(bomb),
                          str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    words = run.stdout.split()
    growth_mb = int(words[words.index("GROWTH_KB") + 1]) / 1024
    assert words[-1] == "1", run.stdout + run.stderr
    assert growth_mb < 200, f"peak memory grew by {growth_mb:.0f} MB"
    assert "Traceback" not in run.stderr


def test_reader_crash_or_memory_cap_is_a_plain_refusal(tmp_path: Path) -> None:
    from tests.ingest.hostile import million_vertices

    run = _cli(million_vertices(tmp_path), "--layer", "areas", "--dry-run", "--data-dir",
               tmp_path, env={"ATALAYA_INGEST_MEMORY_MB": "64"})
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert run.stderr.startswith("refused: ")
    assert "more than 64 MB of memory" in run.stderr
