"""Health report for a sound installation and for each broken start-up state."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from geo.health import REQUIRED_ASSETS, check_health, check_scenes, check_store
from geo.settings import Settings
from geo.store import open_store
from geo.store.migrations import latest_version
from tests.conftest import ROOT
from tests.geo.test_detect import ONE_STRIP, write_scene
from tests.geo.test_detect_dask import corrupt_copy
from tests.store.conftest import drop_schema, new_backend_url


@pytest.fixture
def installation(tmp_path: Path) -> Settings:
    """Build a data folder with a store, a layer and a scene, and a copy of the assets."""
    data, static = tmp_path / "data", tmp_path / "static"
    (data / "scenes").mkdir(parents=True)
    open_store(f"sqlite:///{data / 'atalaya.sqlite3'}").close()
    (data / "routes.geojson").write_text('{"type": "FeatureCollection", "features": []}')
    write_scene(data / "scenes" / "good_2024-08-02.tif", strips=ONE_STRIP)
    for asset in REQUIRED_ASSETS:
        (static / asset).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / "static" / asset, static / asset)
    return Settings(data_dir=data, static_dir=static)


def _url(settings: Settings) -> str:
    return f"sqlite:///{settings.data_dir / 'atalaya.sqlite3'}"


def _only(report, check: str):
    items = report.find(check)
    assert len(items) == 1, items
    return items[0]


def test_a_sound_installation_is_ok(installation):
    report = check_health(installation, url=_url(installation), decode_scenes=True)
    assert report.status == "ok", report.to_json()
    assert [i.check for i in report.items] == ["store", "schema", "data_dir", "scenes", "static"]
    assert report.to_json()["status"] == "ok"


def test_missing_store_file_is_a_warning_and_is_not_created(installation):
    path = installation.data_dir / "atalaya.sqlite3"
    path.unlink()
    report = check_health(installation, url=_url(installation))
    item = _only(report, "store")
    assert item.severity == "warning"
    assert "does not exist" in item.message
    assert "restore it from the backup" in item.fix
    assert not path.exists()  # a check never creates anything
    assert report.status == "degraded"
    assert report.ok


def test_locked_store_is_an_error_within_the_timeout(installation):
    holder = sqlite3.connect(installation.data_dir / "atalaya.sqlite3", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another program holds the write lock
    try:
        started = time.perf_counter()
        item = check_store(_url(installation), timeout_s=0.3)[0]
        waited = time.perf_counter() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert item.severity == "error"
    assert "locked by another program" in item.message
    assert "fuser" in item.fix
    assert waited < 2.0
    assert check_store(_url(installation))[0].severity == "ok"  # released: fine again


def test_garbage_store_file_is_an_error(installation):
    path = installation.data_dir / "atalaya.sqlite3"
    for side in path.parent.glob("atalaya.sqlite3-*"):
        side.unlink()
    path.write_bytes(b"this is not a database \x00\xff" * 400)
    item = _only(check_health(installation, url=_url(installation)), "store")
    assert item.severity == "error"
    assert "damaged or not a SQLite database" in item.message
    assert "restore the latest backup" in item.fix


def test_damaged_pages_fail_the_integrity_check(tmp_path):
    path = tmp_path / "damaged.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
    conn.execute("CREATE INDEX ix_t_body ON t (body)")
    conn.executemany("INSERT INTO t (body) VALUES (?)", [(f"row {k} " * 20,) for k in range(2000)])
    conn.commit()
    conn.close()
    raw = bytearray(path.read_bytes())
    page = 4096
    raw[page * 20: page * 20 + 3000] = b"\xa5" * 3000  # scribble over an index page
    path.write_bytes(bytes(raw))
    item = check_store(f"sqlite:///{path}")[0]
    assert item.severity == "error"
    assert "integrity check" in item.message or "damaged" in item.message


def test_schema_newer_than_the_code_is_an_error(installation):
    conn = sqlite3.connect(installation.data_dir / "atalaya.sqlite3")
    conn.execute("INSERT INTO schema_version VALUES (99, 'future', '2030-01-01')")
    conn.commit()
    conn.close()
    item = _only(check_health(installation, url=_url(installation)), "schema")
    assert item.severity == "error"
    assert "newer than this Atalaya" in item.message


def test_corrupt_scenes_are_warnings_naming_the_file(installation):
    scenes = installation.data_dir / "scenes"
    (scenes / "garbage.tif").write_bytes(b"II*\x00" + b"\x13" * 5000)
    corrupt_copy(scenes / "good_2024-08-02.tif", scenes / "blocks.tif")
    header_only = check_scenes(installation.data_dir)
    assert [i.message.split(":")[0] for i in header_only] == ["scene garbage.tif"]
    report = check_health(installation, url=_url(installation), decode_scenes=True)
    bad = sorted(i.message.split(":")[0] for i in report.find("scenes"))
    assert bad == ["scene blocks.tif", "scene garbage.tif"]
    assert all(i.severity == "warning" and "import the scene again" in i.fix
               for i in report.find("scenes"))
    assert report.ok  # the rest of the app still works


def test_catalogued_scene_that_is_missing_is_a_warning(installation):
    (installation.data_dir / "scenes.geojson").write_text(
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": null, '
        '"properties": {"path": "scenes/gone.tif"}}]}')
    item = [i for i in check_scenes(installation.data_dir) if "gone.tif" in i.message]
    assert item
    assert "missing" in item[0].message


def test_missing_static_folder_is_an_error(installation):
    shutil.rmtree(installation.static_dir)
    item = _only(check_health(installation, url=_url(installation)), "static")
    assert item.severity == "error"
    assert "the map cannot draw" in item.message
    assert "install_assets.py" in item.fix


def test_one_missing_asset_is_named(installation):
    (installation.static_dir / REQUIRED_ASSETS[0]).unlink()
    item = _only(check_health(installation, url=_url(installation)), "static")
    assert item.severity == "error"
    assert REQUIRED_ASSETS[0] in item.message


def test_missing_data_folder_is_an_error(installation):
    shutil.rmtree(installation.data_dir)
    report = check_health(installation, url=_url(installation))
    assert _only(report, "data_dir").severity == "error"
    assert report.find("scenes") == ()
    assert report.status == "failing"


def test_unreachable_postgres_is_an_error_without_the_password():
    item = check_store("postgresql+psycopg://app:s3cret@127.0.0.1:1/atalaya")[0]
    assert item.severity == "error"
    assert "does not answer" in item.message
    assert "s3cret" not in item.message


@pytest.mark.postgis
def test_postgis_store_answers(tmp_path):
    url, schema = new_backend_url("postgis", tmp_path)
    try:
        assert check_store(url)[0].severity == "ok"
        assert check_store(url)[1].message == "the store's schema is at version 0; " \
            f"start-up migrates it to {latest_version()}"
        open_store(url).close()
        items = check_store(url)
        assert [(i.check, i.severity) for i in items] == [("store", "ok"), ("schema", "ok")]
    finally:
        drop_schema(schema)


def test_report_logs_its_problems(installation, caplog):
    shutil.rmtree(installation.static_dir)
    report = check_health(installation, url=_url(installation))
    with caplog.at_level("WARNING", logger="atalaya.health"):
        report.log()
    assert [(r.levelname, r.check) for r in caplog.records] == [("ERROR", "static")]



def test_new_modules_import_without_streamlit_or_folium():
    code = ("import sys; sys.modules['streamlit'] = None; sys.modules['folium'] = None; "
            "import geo.jobs, geo.jobs.handlers, geo.jobs.runner, geo.health, geo.logjson")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr


def test_command_line_exit_status(installation, monkeypatch, capsys):
    from geo.health import main

    monkeypatch.delenv("ATALAYA_DATABASE_URL", raising=False)
    monkeypatch.setenv("ATALAYA_DATA_DIR", str(installation.data_dir))
    monkeypatch.setenv("ATALAYA_STATIC_DIR", str(installation.static_dir))
    assert main([]) == 0
    assert '"status": "ok"' in capsys.readouterr().out
    shutil.rmtree(installation.static_dir)
    assert main(["--decode-scenes"]) == 1
    assert '"status": "failing"' in capsys.readouterr().out
    assert main(["--fix-everything"]) == 2
