"""Snapshots: the explorer's filters, the manifest and its hashes, safety, history, the CLI."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pyogrio
import pytest
from shapely.geometry import box

from geo.errors import DataNotFoundError, ExportError, SchemaError, StoreError
from geo.export import (
    SnapshotSpec,
    list_snapshots,
    load_snapshot,
    make_snapshot,
    save_snapshot,
    verify_snapshot,
    zip_snapshot,
)
from geo.export.frames import snapshot_layers
from geo.export.manifest import sha256_file
from geo.export.paths import safe_name, target
from geo.filters import Filters, filter_events
from geo.i18n import Message
from geo.store import open_store
from geo.store.snapshots import record_snapshot, snapshot_rows
from geo.world import read_world
from tests.conftest import ROOT, require
from tests.export.conftest import WHEN

SOUTH_AMERICA = (-82.0, -35.0, -34.0, 13.0)


def test_manifest_says_who_when_what_and_hashes_every_file(vector_snapshot):
    m = vector_snapshot
    assert m.folder is not None
    data = json.loads((m.folder / "manifest.json").read_text("utf-8"))
    assert data["created_by"] == "ana"
    assert data["created_at"] == WHEN.isoformat()
    assert data["app"] == {"name": "atalaya", "version": "0.1.0"}
    assert data["classification"] == "UNCLASSIFIED // FOR OFFICIAL USE"
    assert {k: v["features"] for k, v in data["layers"].items()} == {
        "events": 8, "routes": 2, "candidates": 1, "aerodromes": 3}
    assert all(v["crs"] == "EPSG:4326" for v in data["layers"].values())
    assert data["spec"]["filters"]["event_types"] is None
    assert "Time window: all dates" in data["filters_text"]
    names = {f["name"] for f in data["files"]}
    assert names == {p.name for p in m.folder.iterdir()} - {"manifest.json"}
    for f in data["files"]:
        assert sha256_file(m.folder / f["name"]) == f["sha256"]
        assert (m.folder / f["name"]).stat().st_size == f["bytes"]
    assert data["failed"] == {}
    assert verify_snapshot(m.folder) == []


def test_verify_reports_a_changed_missing_or_extra_file(tiny_world, tmp_path):
    m = make_snapshot(tiny_world, SnapshotSpec(formats=("csv", "geojson")), tmp_path)
    csv = tmp_path / next(f.name for f in m.files if f.format == "csv")
    csv.write_text(csv.read_text("utf-8-sig") + "x\n", encoding="utf-8")
    (tmp_path / next(f.name for f in m.files if f.format == "geojson")).unlink()
    (tmp_path / "extra.txt").write_text("?")
    problems = verify_snapshot(tmp_path)
    assert any(csv.name in p and "changed" in p for p in problems)
    assert any("geojson" in p and "missing" in p for p in problems)
    assert "extra.txt: not listed in the manifest" in problems
    assert all(isinstance(p, Message) for p in problems)  # localized by the export panel


def test_every_format_holds_the_rows_the_explorer_filters_keep(tiny_world, tmp_path):
    filters = Filters(start=datetime(2023, 1, 1, tzinfo=UTC), end=datetime(2024, 1, 1, tzinfo=UTC),
                      event_types=["seizure", "suspicious_flight"])
    spec = SnapshotSpec(filters=filters, bbox=SOUTH_AMERICA, formats=("gpkg", "csv", "kml"))
    m = make_snapshot(tiny_world, spec, tmp_path)
    world = read_world(tiny_world)
    expected = filter_events(world["events"], Filters(
        start=filters.start, end=filters.end, event_types=filters.event_types,
        bounds=SOUTH_AMERICA))
    assert sorted(expected["event_id"]) == ["e1", "e3", "e6"]
    assert m.counts["events"] == 3
    gpkg = tmp_path / next(f.name for f in m.files if f.format == "gpkg")
    assert sorted(pyogrio.read_dataframe(gpkg, layer="events")["event_id"]) == ["e1", "e3", "e6"]
    kml = tmp_path / next(f.name for f in m.files if f.format == "kml")
    assert pyogrio.read_info(kml, layer="events")["features"] == 3
    # the routes overlapping 2023 inside the box, the aerodromes inside the box
    assert m.counts["routes"] == 2
    assert m.counts["aerodromes"] == 2
    assert "Time window: 2023-01-01 to 2023-12-31" in m.filters_text
    assert "Event types: Seizure, Suspicious flight" in m.filters_text
    assert m.extent == SOUTH_AMERICA
    assert m.query["types"] == "seizure,suspicious_flight"


def test_an_area_of_interest_narrows_every_layer(tiny_world, tmp_path):
    aoi = box(-50.0, -25.0, -45.0, -22.0)  # around São Paulo
    m = make_snapshot(tiny_world, SnapshotSpec(filters=Filters(aoi=aoi), formats=("geojson",)),
                      tmp_path)
    assert m.counts == {"events": 2, "routes": 0, "candidates": 0, "aerodromes": 1}
    assert any(line.startswith("Area of interest: polygon of 4 vertices") for line in
               m.filters_text)


def test_a_snapshot_of_coarsened_events_says_so_in_its_language(tiny_world, tmp_path):
    """A planner's events are moved to cell centres: the briefing's words and the map say it."""
    require((ROOT / "static" / "vendor" / "leaflet" / "dist" / "leaflet.js").exists(),
            "front-end assets are not installed (make assets)")
    spec = SnapshotSpec(formats=("geojson", "html"), language="es", location_cell_deg=0.1)
    m = make_snapshot(tiny_world, spec, tmp_path)
    assert ("Los eventos se muestran en el centro de celdas de 0,1° (unos 11 km); las "
            "ubicaciones precisas requieren uno de estos roles: Analista, "
            "Administrador.") in m.filters_text
    assert m.notes["location_precision"].startswith("Event locations are shown at the centre")
    html = next(tmp_path.glob("**/*.html")).read_text(encoding="utf-8")
    assert "eventos en el centro de celdas de 0,1° (unos 11 km)" in html
    exact = make_snapshot(tiny_world, SnapshotSpec(formats=("geojson",)), tmp_path / "exact")
    assert not any("celdas" in line or "grid cells" in line for line in exact.filters_text)


def test_a_coarse_snapshot_narrows_events_at_their_cell_centres(tiny_world):
    """An extent or area around part of a cell must not tell which events lie there."""
    world = read_world(tiny_world)
    near_point = (-46.64, -23.56, -46.62, -23.54)  # e4's recorded point, not its cell's centre
    around_centre = (-46.66, -23.56, -46.64, -23.54)  # e4's cell centre (-46.65, -23.55)

    def events(bbox, cell, aoi=False):
        spec = SnapshotSpec(filters=Filters(aoi=box(*bbox)) if aoi else Filters(),
                            bbox=None if aoi else bbox, layers=("events",),
                            location_cell_deg=cell)
        return snapshot_layers(world, spec)["events"]

    for aoi in (False, True):
        assert list(events(near_point, None, aoi).event_id) == ["e4"]  # exact: as recorded
        assert events(near_point, 0.1, aoi).empty
        coarse = events(around_centre, 0.1, aoi)
        assert list(coarse.event_id) == ["e4"]
        assert coarse.geometry.iloc[0].coords[0] == (-46.65, -23.55)


def test_file_names_are_sanitised_and_stay_in_the_export_folder(tiny_world, tmp_path):
    out = tmp_path / "out"
    m = make_snapshot(tiny_world, SnapshotSpec(title="../../etc/passwd Petén", formats=("csv",)),
                      out)
    assert all(f.name.startswith("etc_passwd_Peten-") for f in m.files)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert safe_name("a/b\\c:d*e?f") == "a_b_c_d_e_f"
    with pytest.raises(ExportError, match="refusing"):
        target(out, "../escape.csv")
    (out / "link.csv").symlink_to(tmp_path / "elsewhere.csv")
    with pytest.raises(ExportError, match="symbolic link"):
        target(out, "link.csv")


def test_a_long_title_still_writes_every_format(tiny_world, tmp_path):
    title = ("Operación Río Putumayo — corredor fluvial Colombia/Perú: informe semanal para la "
             "planificación de interdicciones (borrador)")
    m = make_snapshot(tiny_world, SnapshotSpec(title=title, formats=(
        "gpkg", "geojson", "kml", "csv", "shp", "html")), tmp_path / "out")
    assert m.failed == {}
    names = [f.name for f in m.files]
    assert {n.split("-")[-1] for n in names if n.endswith(".csv")} >= {"candidates.csv",
                                                                       "aerodromes.csv"}
    assert all(n.startswith("Operacion_Rio_Putumayo_corredor_fluvial") and len(n) <= 80
               for n in names), names


def test_a_format_that_fails_half_way_leaves_no_file_behind(tiny_world, tmp_path,
                                                             monkeypatch):
    import geo.export.vector as vector

    def half_then_fail(layers, out_dir, base):
        target(out_dir, f"{base}-events.csv").write_text("event_id\n")
        raise ExportError("the disk filled up")

    monkeypatch.setattr(vector, "write_csv", half_then_fail)
    world = tmp_path / "data"
    world.mkdir()
    for p in tiny_world.iterdir():
        (world / p.name).write_bytes(p.read_bytes())
    m = save_snapshot(world, SnapshotSpec(formats=("csv", "gpkg"), title="half"))
    assert m.failed == {"csv": "the disk filled up"}
    assert sorted(p.name for p in m.folder.iterdir()) == ["half.gpkg", "manifest.json"]
    assert verify_snapshot(m.folder) == []  # nothing reported as added since


def test_a_folder_with_other_files_is_refused_and_an_old_snapshot_replaced(tiny_world,
                                                                           tmp_path):
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(ExportError, match="not empty"):
        make_snapshot(tiny_world, SnapshotSpec(formats=("csv",)), tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.txt"]
    out = tmp_path / "out"
    make_snapshot(tiny_world, SnapshotSpec(formats=("csv",), title="old"), out)
    new = make_snapshot(tiny_world, SnapshotSpec(formats=("gpkg",), title="new"), out)
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "new.gpkg"]
    assert verify_snapshot(out) == []
    assert new.title == "new"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"formats": ("xls",)}, "unknown format"),
    ({"formats": ()}, "no format"),
    ({"layers": ("events", "people")}, "unknown layer"),
    ({"bbox": (-10.0, 100.0, 5.0, 110.0)}, "swapped"),
    ({"dpi": 0}, "dpi"),
    ({"width_px": 100}, "width_px"),
    ({"title": "two\nlines"}, "one line"),
], ids=["format", "no-format", "layer", "bbox", "dpi", "width", "title"])
def test_a_bad_spec_is_refused_with_the_reason(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SnapshotSpec(**kwargs)


@pytest.mark.parametrize(("kwargs", "english"), [
    ({"formats": ("xls", "doc")},
     "unknown format(s) doc, xls; expected some of gpkg,geojson,kml,csv,xlsx,shp,html,png,pdf"),
    ({"layers": ()}, "no layer chosen; expected some of events,routes,candidates,aerodromes,"
                     "scenes"),
    ({"bbox": (-10.0, 100.0, 5.0, 110.0)}, "bounds (-10.0, 100.0, 5.0, 110.0) is not "
     "(lon_min, lat_min, lon_max, lat_max) in degrees: swapped latitude and longitude?"),
    ({"dpi": 5000}, "dpi 5000 is outside 1-600"),
    ({"width_px": 4000, "dpi": 300},
     "width_px=4000 at 300 dpi is outside 200 px - 8000 device pixels"),
    ({"classification": "x" * 201},
     "classification must be one line of at most 200 characters"),
], ids=["format", "no-layer", "bbox", "dpi", "pixels", "marking"])
def test_a_refused_spec_keeps_its_english_and_its_message(kwargs, english):
    with pytest.raises((ExportError, SchemaError)) as info:
        SnapshotSpec(**kwargs)
    assert str(info.value) == english  # the text it always was (numbers not grouped)
    assert isinstance(info.value.args[0], Message)  # so the export panel can localize it


def test_spec_survives_json_round_trip():
    spec = SnapshotSpec(filters=Filters(start=datetime(2023, 1, 1, tzinfo=UTC),
                                        countries=["PE", "BO"], aoi=box(-70, -15, -65, -10),
                                        min_confidence=0.5),
                        bbox=SOUTH_AMERICA, formats=("pdf", "gpkg"), title="T", user="u",
                        language="es")
    assert SnapshotSpec.from_json(json.loads(json.dumps(spec.to_json()))) == spec


def test_png_and_pdf_fail_clearly_without_chromium_and_the_rest_is_written(
        tiny_world, tmp_path, monkeypatch):
    import geo.export.render as render

    monkeypatch.setattr(render, "browser_available", lambda: None)
    m = make_snapshot(tiny_world, SnapshotSpec(formats=("csv", "png", "pdf")), tmp_path)
    assert set(m.failed) == {"png", "pdf"}
    assert "Chromium" in m.failed["png"]
    assert "apt-get install chromium" in m.failed["png"]
    assert {f.format for f in m.files} == {"csv"}
    assert sorted(p.name for p in tmp_path.iterdir() if "tmp" in p.name) == []


def test_history_keeps_snapshots_to_reopen(tiny_world, tmp_path):
    world = tmp_path / "data"
    world.mkdir()
    for p in tiny_world.iterdir():
        (world / p.name).write_bytes(p.read_bytes())
    first = save_snapshot(world, SnapshotSpec(formats=("csv",), title="first"),
                          now=datetime(2025, 1, 1, tzinfo=UTC))
    second = save_snapshot(world, SnapshotSpec(formats=("gpkg",), title="second",
                                               filters=Filters(countries=["BR"])),
                           now=datetime(2025, 1, 2, tzinfo=UTC))
    listed = list_snapshots(world)
    assert [m.title for m in listed] == ["second", "first"]
    assert second.folder is not None
    assert second.folder.parent == world / "snapshots"
    again = load_snapshot(world, first.snapshot_id[:8])
    assert again.snapshot_id == first.snapshot_id
    assert SnapshotSpec.from_json(load_snapshot(world, second.snapshot_id).spec).filters == \
        Filters(countries=["BR"])
    with zipfile.ZipFile(__import__("io").BytesIO(zip_snapshot(again))) as zf:
        assert sorted(zf.namelist()) == sorted(["manifest.json", *(f.name for f in first.files)])
    with pytest.raises(DataNotFoundError):
        load_snapshot(world, "ffffffffffff")
    (world / "snapshots" / "broken").mkdir()
    (world / "snapshots" / "broken" / "manifest.json").write_text("{")
    assert len(list_snapshots(world)) == 2


def test_the_store_keeps_the_history_with_each_manifest(tiny_world, tmp_path, monkeypatch):
    monkeypatch.delenv("ATALAYA_DATABASE_URL", raising=False)
    world = tmp_path / "data"
    world.mkdir()
    for p in tiny_world.iterdir():
        (world / p.name).write_bytes(p.read_bytes())
    made = save_snapshot(world, SnapshotSpec(formats=("csv",), title="São Paulo · Petén"),
                         now=datetime(2025, 3, 1, tzinfo=UTC))
    with open_store(f"sqlite:///{world / 'atalaya.sqlite3'}") as store:
        [row] = snapshot_rows(store)
        with pytest.raises(StoreError, match="already in the history"):
            record_snapshot(store, made.to_json(), folder="x", created_at=datetime.now(UTC))
    assert row["snapshot_id"] == made.snapshot_id
    assert row["title"] == "São Paulo · Petén"
    assert row["manifest"] == json.loads((made.folder / "manifest.json").read_text("utf-8"))
    assert row["manifest_sha256"] == hashlib.sha256(json.dumps(
        row["manifest"], ensure_ascii=False, sort_keys=True).encode("utf-8")).hexdigest()
    # The history comes from the store: a snapshot whose folder was moved away is still
    # listed (what it held is known), and verifying it says its files are missing.
    shutil.move(made.folder, tmp_path / "elsewhere")
    [listed] = list_snapshots(world)
    assert listed.snapshot_id == made.snapshot_id
    assert listed.counts == made.counts


def _cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "geo.export", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300, check=False)


def test_cli_writes_the_same_snapshot_as_the_function(tiny_world, tmp_path):
    out = tmp_path / "cli"
    done = _cli("--data", str(tiny_world), "--out", str(out), "--formats", "gpkg,geojson,csv",
                "--bbox", "-82,-35,-34,13", "--since", "2023-01-01", "--until", "2023-12-31",
                "--types", "seizure,suspicious_flight", "--user", "ana")
    assert done.returncode == 0, done.stderr
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    assert manifest["layers"]["events"]["features"] == 3
    assert manifest["created_by"] == "ana"
    assert manifest["extent"] == [-82.0, -35.0, -34.0, 13.0]
    assert verify_snapshot(out) == []
    spec = SnapshotSpec.from_json(manifest["spec"])
    again = make_snapshot(tiny_world, spec, tmp_path / "fn")
    assert again.counts == {k: v["features"] for k, v in manifest["layers"].items()}


@pytest.mark.parametrize(("args", "code", "message"), [
    (["--formats", "gpkg,xls"], 2, "unknown format(s) xls"),
    (["--bbox", "1,2,3"], 2, "expected four numbers"),
    (["--since", "2023-13-01"], 2, "is not a date"),
    (["--until", "2020-01-01", "--since", "2021-01-01"], 2, "exchange them"),
    (["--layers", "people"], 2, "unknown layer"),
], ids=["format", "bbox", "date", "window", "layer"])
def test_cli_user_mistakes_are_one_line_without_traceback(tiny_world, tmp_path, args, code,
                                                          message):
    done = _cli("--data", str(tiny_world), "--out", str(tmp_path / "o"), *args)
    assert done.returncode == code
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "o").exists()


def test_cli_save_keeps_a_copy_in_the_history(tiny_world, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for p in tiny_world.iterdir():
        (data / p.name).write_bytes(p.read_bytes())
    done = _cli("--data", str(data), "--out", str(tmp_path / "o"), "--formats", "csv", "--save")
    assert done.returncode == 0, done.stderr
    [kept] = list_snapshots(data)
    assert kept.snapshot_id == json.loads((tmp_path / "o" / "manifest.json").read_text())[
        "snapshot_id"]
    assert kept.folder is not None
    assert verify_snapshot(kept.folder) == []


def test_cli_on_an_empty_folder_says_how_to_make_data(tmp_path):
    done = _cli("--data", str(tmp_path), "--out", str(tmp_path / "o"), "--formats", "csv")
    assert done.returncode == 1
    assert "python -m geo.sample" in done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
