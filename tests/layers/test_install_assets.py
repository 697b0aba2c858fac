from __future__ import annotations

import json
from pathlib import Path

import pytest

from layers.assets import LOCAL_ASSETS
from tests.conftest import ROOT, require
from tools.install_assets import AssetError, install, main

NODE_MODULES = ROOT / "node_modules"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require(NODE_MODULES.is_dir(), "node_modules absent (run npm ci)")
    static = tmp_path_factory.mktemp("static")
    install(NODE_MODULES, static)
    return static


def test_every_localized_url_has_a_file(installed: Path) -> None:
    for rel in LOCAL_ASSETS.values():
        assert (installed / "vendor" / rel).is_file(), rel


@pytest.mark.parametrize("rel", [
    "leaflet/dist/images/marker-icon.png",
    "leaflet-draw/dist/images/spritesheet.svg",
    "leaflet.awesome-markers/dist/images/markers-soft.png",
    "fontawesome-free/webfonts/fa-solid-900.woff2",
    "leaflet-side-by-side/range-icon.png",
])
def test_files_referenced_by_stylesheets_are_copied(installed: Path, rel: str) -> None:
    assert (installed / "vendor" / rel).is_file()


def test_basemap_covers_latin_america(installed: Path) -> None:
    doc = json.loads((installed / "basemap" / "countries-50m.geojson").read_text("utf-8"))
    names = {f["properties"].get("name") for f in doc["features"]}
    assert {"Colombia", "Peru", "Bolivia", "Mexico", "Brazil", "Guatemala"} <= names
    assert all(f["properties"].get("id") is None or len(f["properties"]["id"]) == 3
               for f in doc["features"] if "name" in f["properties"])
    assert any(f["properties"].get("kind") == "border" for f in doc["features"])
    world = json.loads((installed / "basemap" / "world-110m.geojson").read_text("utf-8"))
    assert "Spain" in {f["properties"].get("name") for f in world["features"]}


def test_second_run_changes_nothing(installed: Path) -> None:
    report = install(NODE_MODULES, installed)
    assert report.written == 0
    assert report.unchanged > 50


def test_missing_node_modules_says_run_npm_ci(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(AssetError, match="npm ci"):
        install(tmp_path / "node_modules", tmp_path / "static")
    assert main(["--node-modules", str(tmp_path / "nm"), "--static", str(tmp_path / "s")]) == 2
    assert "npm ci" in capsys.readouterr().err


def test_side_by_side_is_built_for_the_browser(installed: Path) -> None:
    vendor = installed / "vendor" / "leaflet-side-by-side"
    script = (vendor / "leaflet-side-by-side.js").read_text("utf-8")
    assert "require(" not in script
    assert "var L = window.L" in script
    assert "L.control.sideBySide" in script
    for name in ("layout.css", "range.css", "range-icon.png", "LICENSE"):
        assert (vendor / name).is_file(), name
