"""Start-up with broken state: each case is said on the page and in the log; the rest works."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from geo.auth import Role, Session
from tests.conftest import ROOT, KeptRecords, copy_world, kept_records, signed_in
from ui import health, state
from ui.text import escape_markdown


@pytest.fixture
def health_log() -> Iterator[KeptRecords]:
    with kept_records("atalaya.health", logging.WARNING) as kept:
        yield kept


@pytest.fixture
def world(small_world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = copy_world(small_world, tmp_path / "world")
    monkeypatch.setenv("ATALAYA_DATA_DIR", str(folder))
    monkeypatch.setenv("ATALAYA_LANGUAGE", "en")
    monkeypatch.chdir(ROOT)
    return folder


def _run(*, sign_in: bool = True, accounts: bool = True) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    if sign_in and accounts:
        signed_in(at)
    elif sign_in:  # the accounts exist already (and the store cannot be written now)
        at.session_state[state.SESSION] = Session.start("analyst", Role.ANALYST,
                                                        datetime.now(UTC))
    at.run()
    assert not at.exception, at.exception
    return at


def _said(at: AppTest) -> str:
    return " ".join([e.value for e in at.error] + [w.value for w in at.warning])


def _logged(handler: KeptRecords, check: str) -> list[str]:
    return [r.getMessage() for r in handler.records if getattr(r, "check", None) == check]


def test_a_corrupt_store_file_is_said_and_nothing_crashes(world, health_log):
    (world / "atalaya.sqlite3").write_bytes(b"this is not a database " * 200)
    at = _run(sign_in=False)
    said = _said(at)
    assert "The account store could not be opened." in said
    assert "Start-up check (store)" in said
    assert _logged(health_log, "store")


def test_a_locked_store_is_said_and_the_map_still_works(world, health_log):
    _run()  # creates the store and the accounts
    holder = sqlite3.connect(world / "atalaya.sqlite3", isolation_level=None, timeout=30)
    holder.execute("BEGIN IMMEDIATE")  # another program holding the write lock
    health._report.clear()  # the check runs again within a minute; here, now
    try:
        at = _run(accounts=False)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert "Start-up check (store)" in _said(at)
    assert {m.label for m in at.metric} >= {"Events", "Runway candidates"}
    assert _logged(health_log, "store")


def test_a_corrupt_scene_is_said_and_the_map_still_works(world, health_log):
    scene = sorted((world / "scenes").glob("*.tif"))[0]
    scene.write_bytes(b"II*\x00" + b"\x00" * 64)  # a TIFF header and nothing behind it
    at = _run()
    assert "Start-up check (scenes)" in _said(at)
    assert escape_markdown(scene.name) in _said(at)  # shown as typed (ui.text)
    assert {m.label for m in at.metric} >= {"Events", "Runway candidates"}
    assert _logged(health_log, "scenes")


def test_a_missing_asset_folder_is_said_and_the_tables_still_work(world, health_log,
                                                                   tmp_path, monkeypatch):
    monkeypatch.setenv("ATALAYA_STATIC_DIR", str(tmp_path / "no-static"))
    at = _run()
    assert "Start-up check (map assets)" in _said(at)
    assert {m.label for m in at.metric} >= {"Events", "Runway candidates"}
    assert _logged(health_log, "static")


def test_a_missing_data_folder_is_said(world, health_log, tmp_path, monkeypatch):
    monkeypatch.setenv("ATALAYA_DATA_DIR", str(tmp_path / "nowhere"))
    monkeypatch.setenv("ATALAYA_DATABASE_URL", f"sqlite:///{world / 'atalaya.sqlite3'}")
    at = _run()
    said = _said(at)
    assert "Start-up check (data folder)" in said
    assert "The data could not be loaded." in said
    assert _logged(health_log, "data_dir")
