"""Field packages: export, a field app's edits, import with conflicts, hostile packages."""

from __future__ import annotations

import io
import json
import sqlite3
import zipfile
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pandas as pd
import pyogrio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo.errors import AtalayaError
from geo.i18n import Translator, localize
from geo.store import (
    AlertChange,
    add_attachment,
    add_comment,
    fieldpkg,
    get_alert,
    list_alerts,
    merge_candidates,
    read_audit,
    read_comments,
    update_alert,
)
from geo.store.fieldpkg import (
    FieldPackageError,
    apply_import,
    export_field_package,
    plan_import,
    read_field_package,
    xml_text,
)
from tests.store.conftest import candidates

SITES = [{"lon": -65.0, "lat": -14.0, "scene_id": "s1", "date": "2024-05-01", "score": 0.9},
         {"lon": -64.0, "lat": -13.0, "scene_id": "s1", "date": "2024-05-01", "score": 0.8},
         {"lon": -63.0, "lat": -12.0, "scene_id": "s1", "date": "2024-05-01", "score": 0.7}]
HOSTILE = 'hola <script>alert(1)</script> ]]> & "x" <img src=x onerror=alert(2)>'
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def seeded(store):
    """Three alerts: a (under review), b (new), both for 'team1'; c (new, unassigned).

    Alert a has a hostile comment and an image chip.
    """
    merge_candidates(store, candidates(SITES))
    a, b, c = sorted(list_alerts(store), key=lambda al: al.id)
    update_alert(store, AlertChange(a.id, a.version, state="under_review", assignee="team1"),
                 actor="lead")
    update_alert(store, AlertChange(b.id, b.version, assignee="team1"), actor="lead")
    add_comment(store, a.id, HOSTILE, actor="ana")
    add_attachment(store, a.id, actor="lead", kind="chip", media_type="image/png",
                   content=PNG, label="2024-05-01")
    return store, (a.id, b.id, c.id)


def export(store, tmp_path: Path, **kwargs: Any) -> tuple[Any, Path]:
    """Export and unpack; return the report and the folder."""
    kwargs.setdefault("assignee", "team1")
    report = export_field_package(store, out=tmp_path / "package.zip", user="lead", **kwargs)
    folder = tmp_path / "unpacked"
    with zipfile.ZipFile(report.path) as archive:
        archive.extractall(folder)
    return report, folder


def field_edit(gpkg: Path, edits: dict[int, dict[str, Any]]) -> None:
    """Edit the alerts layer as a field app does: read it, change cells, write it back."""
    frame = pyogrio.read_dataframe(gpkg, layer="alerts")
    touched = {column for values in edits.values() for column in values}
    for column in ("verdict", "field_comment", "visited_by", "visited_at"):
        if column in touched:  # an all-empty object column has no type GDAL can write
            frame[column] = frame[column].astype(object)
    for alert_id, values in edits.items():
        index = frame.index[frame["alert_id"] == alert_id]
        for column, value in values.items():
            frame.loc[index, column] = value
    pyogrio.write_dataframe(frame, gpkg, layer="alerts", driver="GPKG")


def returned(store, gpkg: Path):
    return plan_import(store, read_field_package(gpkg))


def by_id(plan) -> dict[int | None, Any]:
    return {i.alert_id: i for i in plan.items}


# -- export -----------------------------------------------------------------------------------

def test_export_writes_every_file_and_layer(seeded, tmp_path):
    store, (a, b, _c) = seeded
    before = {al.id: al.version for al in list_alerts(store)}
    report, folder = export(store, tmp_path)
    assert report.alert_ids == (a, b)
    assert report.chips == 1
    assert sorted(zipfile.ZipFile(report.path).namelist()) == sorted(
        ["alerts.gpkg", "alerts.kml", "alerts.kmz", "README.txt", "manifest.json"])
    gpkg = folder / "alerts.gpkg"
    layers = dict(pyogrio.list_layers(gpkg))
    assert layers == {"alerts": "Polygon", "alert_points": "Point", "comments": None,
                      "verdict_choices": None, "package": None}
    alerts = pyogrio.read_dataframe(gpkg, layer="alerts")
    assert alerts.crs.to_epsg() == 4326
    assert sorted(alerts["alert_id"]) == [a, b]
    assert alerts.set_index("alert_id")["version"].to_dict() == {a: before[a], b: before[b]}
    assert alerts.set_index("alert_id").loc[a, "verdict_choices"] == \
        "confirmed|dismissed|needs_field_visit"
    for column in ("verdict", "field_comment", "visited_at", "visited_by"):
        assert alerts[column].isna().all(), column
    assert alerts.set_index("alert_id")["imagery_state"].to_dict() == {
        al.id: al.detection_state or "" for al in list_alerts(store) if al.id in (a, b)}
    info = pyogrio.read_info(gpkg, layer="alerts")
    types = dict(zip(info["fields"], info["ogr_types"], strict=True))
    assert types["verdict"] == "OFTString"
    assert types["visited_at"] == "OFTDateTime"
    points = pyogrio.read_dataframe(gpkg, layer="alert_points")
    assert len(points) == 2
    assert set(points.geometry.geom_type) == {"Point"}
    comments = pyogrio.read_dataframe(gpkg, layer="comments", read_geometry=False)
    assert comments["body"].tolist() == [HOSTILE]
    choices = pyogrio.read_dataframe(gpkg, layer="verdict_choices", read_geometry=False)
    assert choices.set_index("state").loc["destroyed", "may_go_to"] == "reopened"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["package_id"] == report.package_id
    assert "verdict" in (folder / "README.txt").read_text()


def test_export_changes_no_alert_and_is_audited(seeded, tmp_path):
    store, (a, b, c) = seeded
    before = list_alerts(store)
    report, _ = export(store, tmp_path)
    assert list_alerts(store) == before
    rows = [e for e in read_audit(store) if e.action == "field_export"]
    assert sorted(e.alert_id for e in rows) == [a, b]
    assert {e.actor for e in rows} == {"lead"}
    assert all(e.new_value["package_id"] == report.package_id for e in rows)
    assert read_audit(store, alert_id=c)[-1].action != "field_export"


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"assignee": "team1"}, "ab"),
    ({"assignee": None, "states": ["new"]}, "bc"),
    ({"assignee": None, "alert_ids": "c"}, "c"),
    ({"assignee": "team1", "states": ["under_review"]}, "a"),
], ids=["assignee", "states", "ids", "assignee-and-state"])
def test_export_filters(seeded, tmp_path, kwargs, expected):
    store, ids = seeded
    names = dict(zip("abc", ids, strict=True))
    kwargs = dict(kwargs)  # the parameter is shared by both backends' runs
    if "alert_ids" in kwargs:
        kwargs["alert_ids"] = [names[k] for k in kwargs["alert_ids"]]
    report, _ = export(store, tmp_path, **kwargs)
    assert set(report.alert_ids) == {names[k] for k in expected}


@pytest.mark.parametrize("kwargs", [
    {"assignee": "nobody"}, {"assignee": None, "alert_ids": [9999]},
    {"assignee": None, "states": ["bogus"]},
], ids=["no-match", "unknown-id", "unknown-state"])
def test_export_refuses_an_empty_or_wrong_choice(seeded, tmp_path, kwargs):
    store, _ = seeded
    with pytest.raises(FieldPackageError, match=r"no alert|unknown state"):
        export(store, tmp_path, **kwargs)
    assert not (tmp_path / "package.zip").exists()


def test_kml_and_kmz_open_with_gdal(seeded, tmp_path):
    store, (a, b, _c) = seeded
    _, folder = export(store, tmp_path)
    for source in (folder / "alerts.kml", f"/vsizip/{folder / 'alerts.kmz'}/doc.kml"):
        layers = pyogrio.list_layers(source)
        assert [str(n) for n, _ in layers] == ["alerts"]
        frame = pyogrio.read_dataframe(source)
        assert len(frame) == 2
        assert sorted(int(v) for v in frame["alert_id"]) == [a, b]
        first = frame.set_index(frame["alert_id"].astype(int)).loc[a]
        assert HOSTILE in first["comments"]  # ExtendedData: the exact text
        assert "&lt;script&gt;" in first["description"]  # HTML-escaped for the balloon
        assert "<script" not in first["description"]
    with zipfile.ZipFile(folder / "alerts.kmz") as kmz:
        names = kmz.namelist()
        assert names[0] == "doc.kml"
        chips = [n for n in names if n.startswith("images/")]
        assert len(chips) == 1
        assert kmz.read(chips[0]) == PNG
        assert chips[0] in kmz.read("doc.kml").decode()
    raw = (folder / "alerts.kml").read_text()
    assert "<script" not in raw
    assert "CDATA" not in raw
    ElementTree.fromstring(raw.encode())  # well-formed despite "]]>" in a comment


def test_balloons_are_in_the_teams_language_and_the_geopackage_keeps_its_codes(seeded,
                                                                                 tmp_path):
    from geo.i18n import translator

    store, (a, _b, _c) = seeded
    alert = get_alert(store, a)
    _, folder = export(store, tmp_path, t=translator("es"))
    frame = pyogrio.read_dataframe(f"/vsizip/{folder / 'alerts.kmz'}/doc.kml")
    first = frame.set_index(frame["alert_id"].astype(int)).loc[a]
    assert first["Name"] == f"#{a} · En revisión"
    balloon = first["description"]
    for spanish in ("Estado", "Prioridad", "Motivo", "Veredictos posibles",
                    "Confirmada (confirmed)", "Descartada (dismissed)"):
        assert spanish in balloon
    assert "&lt;script&gt;" in balloon  # still escaped
    assert "<script" not in balloon
    assert alert.reason == "1.0 km long, 25 m wide"  # stored in English
    assert "1,0 km de largo, 25 m de ancho" in balloon
    gpkg = pyogrio.read_dataframe(folder / "alerts.gpkg", layer="alerts")
    assert gpkg.set_index("alert_id").loc[a, "state"] == "under_review"  # the code, as sent
    assert gpkg.set_index("alert_id").loc[a, "reason"] == "1,0 km de largo, 25 m de ancho"
    # the states' meanings in the team's language; the codes they type back stay codes
    choices = pyogrio.read_dataframe(folder / "alerts.gpkg", layer="verdict_choices",
                                     read_geometry=False).set_index("state")
    assert choices.loc["confirmed", "meaning"] == "una pista clandestina"
    assert choices.loc["confirmed", "name"] == "Confirmada"  # typed back, it is read too
    assert choices.loc["destroyed", "may_go_to"] == "reopened"
    readme = (folder / "README.txt").read_text()
    assert "(p. ej. Confirmada)" in readme
    assert "exactamente como" not in readme


def test_kmz_without_chips_still_opens(seeded, tmp_path):
    store, (_a, _b, c) = seeded
    report, folder = export(store, tmp_path, assignee=None, alert_ids=[c])
    assert report.chips == 0
    assert len(pyogrio.read_dataframe(f"/vsizip/{folder / 'alerts.kmz'}/doc.kml")) == 1


def test_chips_with_corners_are_laid_on_the_ground(seeded, tmp_path):
    store, (a, b, _c) = seeded
    corners = [[-65.01, -14.01], [-64.99, -14.01], [-64.99, -13.99], [-65.01, -13.99]]
    for date in ("2024-06-01", "2024-07-01"):
        add_attachment(store, b, actor="lead", kind="image_chip", media_type="image/png",
                       content=PNG + date.encode(), label="",
                       meta={"date": date, "composite": "true_colour",
                             "scene_id": f"ucayali_{date}", "corners_lonlat": corners})
    add_attachment(store, b, actor="lead", kind="image_chip", media_type="image/png",
                   content=PNG + b"2024-07-01", meta={"date": "2024-07-01"})  # same bytes
    add_attachment(store, b, actor="lead", kind="report", media_type="application/pdf",
                   content=b"%PDF-1.4")
    report, folder = export(store, tmp_path)
    assert report.chips == 3
    assert len(report.skipped_chips) == 1
    assert "application/pdf" in report.skipped_chips[0]
    source = f"/vsizip/{folder / 'alerts.kmz'}/doc.kml"
    assert [str(n) for n, _ in pyogrio.list_layers(source)] == ["alerts", "image chips"]
    assert len(pyogrio.read_dataframe(source, layer="alerts")) == 2
    doc = zipfile.ZipFile(folder / "alerts.kmz").read("doc.kml").decode()
    root = ElementTree.fromstring(doc.encode())
    ns = {"k": "http://www.opengis.net/kml/2.2", "gx": "http://www.google.com/kml/ext/2.2"}
    overlays = root.findall(".//k:GroundOverlay", ns)
    assert [o.find("k:name", ns).text for o in overlays] == [
        f"#{b} · 2024-06-01 · True colour · ucayali_2024-06-01",
        f"#{b} · 2024-07-01 · True colour · ucayali_2024-07-01"]
    # in the team's language (the composite's code is not shown)
    from geo.i18n import translator

    _, es_folder = export(store, tmp_path / "es", t=translator("es"))
    doc = zipfile.ZipFile(es_folder / "alerts.kmz").read("doc.kml").decode()
    assert "2024-06-01 · Color verdadero · ucayali_2024-06-01" in doc
    assert "true_colour" not in doc
    assert [o.find("k:visibility", ns).text for o in overlays] == ["0", "1"]
    quad = overlays[0].find("gx:LatLonQuad/k:coordinates", ns).text
    assert quad.split()[0] == "-65.0100000,-14.0100000"
    assert a not in {int(o.find("k:name", ns).text[1:].split()[0]) for o in overlays}


_XML_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=200)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_XML_TEXT)
def test_any_text_round_trips_through_kml_as_text(tmp_path_factory, text):
    folder = tmp_path_factory.mktemp("kml")
    kml = ('<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2">'
           "<Document><Folder><name>alerts</name><Placemark><name>x</name>"
           f'<ExtendedData><Data name="comments"><value>{xml_text(text)}</value></Data>'
           "</ExtendedData><Point><coordinates>-65,-14</coordinates></Point></Placemark>"
           "</Folder></Document></kml>")
    path = folder / "t.kml"
    path.write_text(kml, encoding="utf-8")
    ElementTree.fromstring(kml.encode())
    read = pyogrio.read_dataframe(path)["comments"].iloc[0]
    assert read == fieldpkg._XML_ILLEGAL.sub("\ufffd", text)


# -- round trip -------------------------------------------------------------------------------

def test_round_trip_applies_verdicts_comments_and_audits(seeded, tmp_path):
    store, (a, b, _c) = seeded
    _, folder = export(store, tmp_path)
    gpkg = folder / "alerts.gpkg"
    field_edit(gpkg, {
        a: {"verdict": "confirmed", "field_comment": "fresh tyre marks",
            "visited_at": "2024-06-02T10:30:00Z", "visited_by": "Team 1 (Ruiz)"},
        b: {"verdict": "dismissed", "visited_by": "Team 1 (Ruiz)"},
    })
    plan = returned(store, gpkg)
    assert plan.counts() == {"apply": 2, "conflict": 0, "rejected": 0, "unchanged": 0}
    report = apply_import(store, plan, "office")
    assert sorted(report.verdicts) == [a, b]
    assert not report.failed
    alert_a, alert_b = get_alert(store, a), get_alert(store, b)
    assert (alert_a.state, alert_b.state) == ("confirmed", "dismissed")
    assert alert_a.updated_by == "office"
    bodies = [c["body"] for c in read_comments(store, a)]
    assert bodies[-1] == ("[field visit: Team 1 (Ruiz), 2024-06-02 10:30 UTC] "
                          "fresh tyre marks")
    assert read_comments(store, b)[-1]["body"] == \
        "[field visit: Team 1 (Ruiz)] verdict: dismissed"
    audit = [e for e in read_audit(store, alert_id=a) if e.actor == "office"]
    assert {(e.action, e.field) for e in audit} >= {("update", "state"), ("comment", None)}
    assert all(e.request_id and e.request_id.startswith("fieldpkg:") for e in audit)
    state_row = next(e for e in audit if e.field == "state")
    assert (state_row.old_value, state_row.new_value) == ("under_review", "confirmed")


def test_the_whole_zip_is_accepted_too(seeded, tmp_path):
    store, (a, _b, _c) = seeded
    report, folder = export(store, tmp_path)
    field_edit(folder / "alerts.gpkg", {a: {"verdict": "needs_field_visit"}})
    repacked = tmp_path / "back.zip"
    with zipfile.ZipFile(repacked, "w") as archive:
        archive.write(folder / "alerts.gpkg", "alerts.gpkg")
        archive.write(folder / "README.txt", "README.txt")
    result = read_field_package(repacked.read_bytes())
    assert result.package_id == report.package_id
    assert result.exported_by == "lead"
    assert by_id(plan_import(store, result))[a].kind == "apply"


def test_reimport_applies_nothing_twice(seeded, tmp_path):
    store, (a, b, _c) = seeded
    _, folder = export(store, tmp_path)
    gpkg = folder / "alerts.gpkg"
    field_edit(gpkg, {a: {"verdict": "confirmed", "field_comment": "seen"},
                      b: {"field_comment": "only a note"}})
    first = apply_import(store, returned(store, gpkg), "office")
    assert sorted(first.applied) == [a, b]
    comments = {i: len(read_comments(store, i)) for i in (a, b)}
    audit = len(read_audit(store))
    versions = {i: get_alert(store, i).version for i in (a, b)}
    plan = returned(store, gpkg)
    assert [i.kind for i in plan.items] == ["unchanged", "unchanged"]
    assert all("already imported by office" in i.reason for i in plan.items)
    second = apply_import(store, plan, "office")
    assert not second.applied
    assert {i: len(read_comments(store, i)) for i in (a, b)} == comments
    assert len(read_audit(store)) == audit
    assert {i: get_alert(store, i).version for i in (a, b)} == versions


def test_a_stale_plan_applied_twice_is_still_applied_once(seeded, tmp_path):
    store, (a, _b, _c) = seeded
    _, folder = export(store, tmp_path)
    field_edit(folder / "alerts.gpkg", {a: {"verdict": "confirmed", "field_comment": "x"}})
    plan = returned(store, folder / "alerts.gpkg")
    apply_import(store, plan, "office")
    again = apply_import(store, plan, "office")  # two browser tabs, one plan
    assert not again.applied
    assert len(read_comments(store, a)) == 2


# -- conflicts --------------------------------------------------------------------------------

def test_a_change_since_export_is_a_conflict_not_applied(seeded, tmp_path):
    store, (a, _b, _c) = seeded
    _, folder = export(store, tmp_path)
    now = get_alert(store, a)
    update_alert(store, AlertChange(a, now.version, state="needs_field_visit"), actor="maria")
    field_edit(folder / "alerts.gpkg", {a: {"verdict": "confirmed", "field_comment": "seen"}})
    item = by_id(returned(store, folder / "alerts.gpkg"))[a]
    assert item.kind == "conflict"
    assert (item.store_state, item.store_version, item.updated_by) == \
        ("needs_field_visit", now.version + 1, "maria")
    assert item.exported_version == now.version
    assert "maria" in item.reason
    report = apply_import(store, returned(store, folder / "alerts.gpkg"), "office")
    assert report.skipped_conflicts == [a]
    assert get_alert(store, a).state == "needs_field_visit"
    assert len(read_comments(store, a)) == 1

    accepted = apply_import(store, returned(store, folder / "alerts.gpkg"), "office",
                            accept_conflicts={a})
    assert accepted.verdicts == [a]
    assert get_alert(store, a).state == "confirmed"
    assert get_alert(store, a).updated_by == "office"


def test_a_changed_alert_the_verdict_cannot_follow_is_rejected_not_offered(seeded, tmp_path):
    """Accepting it could never apply (the state machine refuses the move): no conflict box."""
    store, (a, _b, _c) = seeded
    _, folder = export(store, tmp_path)
    now = get_alert(store, a)
    update_alert(store, AlertChange(a, now.version, state="dismissed"), actor="maria")
    field_edit(folder / "alerts.gpkg", {a: {"verdict": "confirmed"}})
    plan = returned(store, folder / "alerts.gpkg")
    (item,) = [i for i in plan.items if i.alert_id == a]
    assert item.kind == "rejected"
    assert "by maria" in item.reason
    assert "now Dismissed, which cannot go to Confirmed (it can go to Under review)" in item.reason
    report = apply_import(store, plan, "office", accept_conflicts={a})
    assert (report.applied, report.failed) == ([], [])
    assert get_alert(store, a).state == "dismissed"


def test_a_conflict_changed_again_after_the_plan_is_not_overwritten(seeded, tmp_path):
    store, (a, _b, _c) = seeded
    _, folder = export(store, tmp_path)
    update_alert(store, AlertChange(a, get_alert(store, a).version,
                                    state="needs_field_visit"), actor="maria")
    field_edit(folder / "alerts.gpkg", {a: {"verdict": "confirmed"}})
    plan = returned(store, folder / "alerts.gpkg")
    update_alert(store, AlertChange(a, get_alert(store, a).version, state="destroyed"),
                 actor="jose")
    report = apply_import(store, plan, "office", accept_conflicts={a})
    assert report.failed
    assert "jose" in report.failed[0][1]
    assert get_alert(store, a).state == "destroyed"


def test_a_conflict_says_when_only_other_fields_moved(seeded, tmp_path):
    store, (a, _b, _c) = seeded
    _, folder = export(store, tmp_path)
    update_alert(store, AlertChange(a, get_alert(store, a).version, priority="low"),
                 actor="maria")
    field_edit(folder / "alerts.gpkg", {a: {"verdict": "confirmed"}})
    item = by_id(returned(store, folder / "alerts.gpkg"))[a]
    assert item.kind == "conflict"
    assert "review state is as exported" in item.reason


def test_a_comment_never_conflicts(seeded, tmp_path):
    store, (a, _b, _c) = seeded
    _, folder = export(store, tmp_path)
    update_alert(store, AlertChange(a, get_alert(store, a).version, state="dismissed"),
                 actor="maria")
    field_edit(folder / "alerts.gpkg", {a: {"field_comment": "we could not reach it"}})
    item = by_id(returned(store, folder / "alerts.gpkg"))[a]
    assert item.kind == "apply"
    apply_import(store, returned(store, folder / "alerts.gpkg"), "office")
    assert read_comments(store, a)[-1]["body"] == "[field visit] we could not reach it"
    assert get_alert(store, a).state == "dismissed"


# -- rejected rows ----------------------------------------------------------------------------

def test_bad_rows_are_rejected_with_reasons_and_change_nothing(seeded, tmp_path):
    store, (a, _b, c) = seeded
    _, folder = export(store, tmp_path, assignee=None)
    gpkg = folder / "alerts.gpkg"
    frame = pyogrio.read_dataframe(gpkg, layer="alerts")
    for column in ("verdict", "field_comment", "visited_by"):
        frame[column] = frame[column].astype(object)
    frame = pd.concat([frame, frame.iloc[[2]]], ignore_index=True)
    frame.loc[0, ["verdict"]] = ["banana"]  # a: not a state
    frame.loc[1, ["verdict"]] = ["destroyed"]  # b: new -> destroyed is impossible
    frame.loc[2, ["field_comment"]] = ["x" * 5000]  # c: too long
    frame.loc[3, ["alert_id", "verdict"]] = [9999, "dismissed"]  # unknown alert
    pyogrio.write_dataframe(frame, gpkg, layer="alerts", driver="GPKG")
    before = list_alerts(store)
    audit = len(read_audit(store))
    plan = returned(store, gpkg)
    reasons = {i.row: (i.kind, i.reason) for i in plan.items}
    assert reasons[1][0] == "rejected"
    assert "banana" in reasons[1][1]
    assert reasons[2][0] == "rejected"
    assert "cannot move from New to Destroyed" in reasons[2][1]
    assert reasons[3][0] == "rejected"
    assert "5000 characters" in reasons[3][1]
    assert reasons[4][0] == "rejected"
    assert "no alert 9999" in reasons[4][1]
    report = apply_import(store, plan, "office")
    assert not report.applied
    assert list_alerts(store) == before
    assert len(read_audit(store)) == audit
    assert (get_alert(store, a).state, get_alert(store, c).state) == ("under_review", "new")


@pytest.mark.parametrize(("column", "value", "message"), [
    ("field_comment", "red \x1b[31m text", "control characters"),
    ("visited_by", "line\nbreak", "control characters"),
    ("visited_at", "yesterday-ish", "not a date"),
    ("visited_at", "1990-01-01T00:00:00Z", "before 2000"),
], ids=["escape-in-comment", "newline-in-name", "bad-time", "old-time"])
def test_bad_values_reject_the_row(seeded, tmp_path, column, value, message):
    store, (a, _b, _c) = seeded
    _, folder = export(store, tmp_path)
    field_edit(folder / "alerts.gpkg", {a: {"verdict": "confirmed", column: value}})
    item = by_id(returned(store, folder / "alerts.gpkg"))[a]
    assert item.kind == "rejected"
    assert message in item.reason


def test_wrong_types_and_duplicates_are_rejected(seeded, tmp_path):
    store, (a, b, _c) = seeded
    _, folder = export(store, tmp_path)
    gpkg = folder / "alerts.gpkg"
    frame = pyogrio.read_dataframe(gpkg, layer="alerts")
    frame["alert_id"] = [str(a), "abc"]  # a careless app turned the ids into text
    frame["verdict"] = ["7", "confirmed"]
    pyogrio.write_dataframe(frame, gpkg, layer="alerts", driver="GPKG")
    plan = returned(store, gpkg)
    assert [i.kind for i in plan.items] == ["rejected", "rejected"]
    assert "not a state" in plan.items[0].reason
    assert "not a whole number" in plan.items[1].reason

    frame = pyogrio.read_dataframe(gpkg, layer="alerts")
    frame["alert_id"] = [a, a]
    frame["verdict"] = ["confirmed", "dismissed"]
    pyogrio.write_dataframe(frame, gpkg, layer="alerts", driver="GPKG")
    plan = returned(store, gpkg)
    assert [i.kind for i in plan.items] == ["rejected", "rejected"]
    assert "appears 2 times" in plan.items[0].reason
    assert get_alert(store, b).state == "new"


def test_verdicts_are_read_leniently(seeded, tmp_path):
    store, (a, _b, _c) = seeded
    _, folder = export(store, tmp_path)
    field_edit(folder / "alerts.gpkg", {a: {"verdict": " Needs field visit "}})
    assert by_id(returned(store, folder / "alerts.gpkg"))[a].verdict == "needs_field_visit"


def test_verdicts_in_the_teams_language_are_read(seeded, tmp_path):
    """The KML lists "Destruida (destroyed)": a Spanish team types the name, or the line."""
    store, (a, b, _c) = seeded
    _, folder = export(store, tmp_path)
    gpkg = folder / "alerts.gpkg"
    field_edit(gpkg, {a: {"verdict": "Destruida"},
                      b: {"verdict": "Requiere visita de campo (needs_field_visit)"}})
    items = by_id(returned(store, gpkg))
    assert (items[a].verdict, items[b].verdict) == ("destroyed", "needs_field_visit")
    field_edit(gpkg, {a: {"verdict": "descartada"}, b: {"verdict": "Requer visita de campo"}})
    items = by_id(returned(store, gpkg))
    assert (items[a].verdict, items[b].verdict) == ("dismissed", "needs_field_visit")
    field_edit(gpkg, {a: {"verdict": "Confirmado pelo campo"}})
    assert "not a state" in by_id(returned(store, folder / "alerts.gpkg"))[a].reason


@pytest.mark.filterwarnings("ignore:Invalid content for record:RuntimeWarning")  # GDAL's own
def test_a_visit_time_gdal_cannot_read_is_reported_not_dropped(seeded, tmp_path):
    """Text typed in the date column reads as empty through GDAL (with a warning only)."""
    store, (a, b, _c) = seeded
    _, folder = export(store, tmp_path)
    gpkg = folder / "alerts.gpkg"
    field_edit(gpkg, {a: {"verdict": "confirmed"}, b: {"verdict": "confirmed"}})
    with sqlite3.connect(gpkg) as conn:  # as a spreadsheet or a form would leave the cell
        # the GeoPackage's R-tree triggers call SpatiaLite functions: stand-ins (no geometry
        # changes here)
        conn.create_function("ST_IsEmpty", 1, lambda _g: 1)
        for name in ("ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY"):
            conn.create_function(name, 1, lambda _g: 0.0)
        for alert_id, typed in ((a, "2024-06-02T10:30:00Z"), (b, "ayer por la tarde")):
            conn.execute("UPDATE alerts SET visited_at = ? WHERE alert_id = ?", (typed, alert_id))
    read = pyogrio.read_dataframe(gpkg, layer="alerts").set_index("alert_id")["visited_at"]
    assert pd.isna(read[b])  # GDAL: the text is gone, with a warning only
    assert not pd.isna(read[a])
    items = by_id(returned(store, gpkg))
    assert items[a].kind != "rejected"
    assert items[b].kind == "rejected"
    assert "visited_at 'ayer por la tarde' is not a date and time" in items[b].reason


def test_import_needs_a_user(seeded, tmp_path):
    store, _ = seeded
    _, folder = export(store, tmp_path)
    with pytest.raises(FieldPackageError, match="user"):
        apply_import(store, returned(store, folder / "alerts.gpkg"), "  ")


# -- hostile packages -------------------------------------------------------------------------

def _zip_bytes(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _sqlite_not_gpkg(path: Path) -> Path:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE alerts (alert_id INTEGER)")
    return path


def _bytes(data: bytes) -> Any:
    def make(path: Path) -> Path:
        path.write_bytes(data)
        return path
    return make


VRT = (b'<OGRVRTDataSource><OGRVRTLayer name="x"><SrcDataSource>/etc/passwd</SrcDataSource>'
       b"</OGRVRTLayer></OGRVRTDataSource>")


@pytest.mark.filterwarnings("ignore:GPKG:RuntimeWarning")
@pytest.mark.parametrize(("make", "message"), [
    (_bytes(b"alert_id,verdict\n1,confirmed\n"), "neither a GeoPackage"),
    (_bytes(VRT), "neither a GeoPackage"),
    (_bytes(b""), "neither a GeoPackage"),
    (_sqlite_not_gpkg, "not a GeoPackage"),
    (_bytes(b"SQLite format 3\x00" + b"\xff" * 200), "not a GeoPackage"),
    (_bytes(b"SQLite format 3\x00" + b"\x00" * 52 + b"GPKG" + b"\x00" * 100),
     r"GDAL cannot read it|damaged"),
    (_bytes(_zip_bytes({"../alerts.gpkg": b"x"})), "outside the archive"),
    (_bytes(_zip_bytes({"/etc/alerts.gpkg": b"x"})), "outside the archive"),
    (_bytes(_zip_bytes({"README.txt": b"x"})), "0 files named"),
    (_bytes(_zip_bytes({"a/alerts.gpkg": b"x", "b/alerts.gpkg": b"y"})), "2 files named"),
    (_bytes(_zip_bytes({"alerts.gpkg": VRT})), "not a GeoPackage"),
    (_bytes(b"PK\x03\x04 truncated"), "ZIP cannot be read"),
], ids=["csv-renamed", "vrt-renamed", "empty", "sqlite", "sqlite-garbage", "gpkg-garbage",
        "zip-dotdot", "zip-absolute", "zip-no-gpkg", "zip-two-gpkg", "zip-vrt",
        "zip-truncated"])
def test_hostile_files_are_refused_clearly(tmp_path, make, message):
    path = make(tmp_path / "alerts.gpkg")
    with pytest.raises(FieldPackageError, match=message) as caught:
        read_field_package(path)
    assert isinstance(caught.value, AtalayaError)
    assert isinstance(caught.value, ValueError)


def test_a_zip_bomb_is_refused(tmp_path):
    bomb = _zip_bytes({"alerts.gpkg": b"\x00" * (8 * 2**20)})
    assert len(bomb) < 100_000
    with pytest.raises(FieldPackageError, match="zip bomb"):
        read_field_package(bomb)


def test_a_lying_zip_header_stops_at_the_cap(tmp_path, monkeypatch):
    monkeypatch.setattr(fieldpkg, "MAX_GPKG_BYTES", 1000)
    monkeypatch.setattr(fieldpkg, "MAX_ZIP_RATIO", 10**9)
    data = bytearray(_zip_bytes({"alerts.gpkg": b"\x01" * 5000}))
    # Rewrite the sizes both headers declare to 10 bytes: the copy must still stop at the cap.
    local = data.index(b"PK\x03\x04")
    central = data.index(b"PK\x01\x02")
    data[local + 22:local + 26] = (10).to_bytes(4, "little")
    data[central + 24:central + 28] = (10).to_bytes(4, "little")
    with pytest.raises(FieldPackageError, match=r"inflates past|cannot be read"):
        read_field_package(bytes(data))


def test_a_view_that_would_run_forever_is_refused(seeded, tmp_path):
    store, _ = seeded
    _, folder = export(store, tmp_path)
    gpkg = folder / "alerts.gpkg"
    with sqlite3.connect(gpkg) as conn:
        conn.execute("CREATE VIEW forever AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL "
                     "SELECT x + 1 FROM c) SELECT x FROM c")
    with pytest.raises(FieldPackageError, match="view"):
        read_field_package(gpkg)


def test_a_zip_with_a_link_is_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        link = zipfile.ZipInfo("alerts.gpkg")
        link.external_attr = (0o120777 << 16)  # a symbolic link to /etc/passwd
        archive.writestr(link, "/etc/passwd")
    with pytest.raises(FieldPackageError, match="symbolic link"):
        read_field_package(buffer.getvalue())


def test_a_huge_declared_size_is_refused_before_reading():
    data = bytearray(_zip_bytes({"alerts.gpkg": b"\x01" * 100}))
    central = data.index(b"PK\x01\x02")
    data[central + 24:central + 28] = (2**32 - 1).to_bytes(4, "little")  # 4 GiB declared
    with pytest.raises(FieldPackageError, match=r"declares \d+ bytes"):
        read_field_package(bytes(data))


@pytest.mark.parametrize("cap", ["MAX_UPLOAD_BYTES", "MAX_GPKG_BYTES"])
def test_oversized_packages_are_refused(seeded, tmp_path, monkeypatch, cap):
    store, _ = seeded
    _, folder = export(store, tmp_path)
    monkeypatch.setattr(fieldpkg, cap, 2048)
    with pytest.raises(FieldPackageError, match="MiB"):
        read_field_package(folder / "alerts.gpkg")


def test_too_many_rows_are_refused(seeded, tmp_path, monkeypatch):
    store, _ = seeded
    _, folder = export(store, tmp_path)
    monkeypatch.setattr(fieldpkg, "MAX_ROWS", 1)
    with pytest.raises(FieldPackageError, match="at most 1"):
        read_field_package(folder / "alerts.gpkg")


def test_missing_layer_or_fields_are_refused(seeded, tmp_path):
    store, _ = seeded
    _, folder = export(store, tmp_path)
    gpkg = folder / "alerts.gpkg"
    frame = pyogrio.read_dataframe(gpkg, layer="alerts").drop(columns=["verdict", "version"])
    other = tmp_path / "other.gpkg"
    pyogrio.write_dataframe(frame, other, layer="alerts", driver="GPKG")
    with pytest.raises(FieldPackageError, match=r"lacks field.*verdict"):
        read_field_package(other)
    renamed = tmp_path / "renamed.gpkg"
    pyogrio.write_dataframe(frame, renamed, layer="runways", driver="GPKG")
    with pytest.raises(FieldPackageError, match="no layer 'alerts'"):
        read_field_package(renamed)


def test_a_script_in_a_field_comment_stays_text(seeded, tmp_path):
    store, (a, _b, _c) = seeded
    _, folder = export(store, tmp_path)
    field_edit(folder / "alerts.gpkg", {a: {"field_comment": HOSTILE}})
    apply_import(store, returned(store, folder / "alerts.gpkg"), "office")
    assert read_comments(store, a)[-1]["body"] == f"[field visit] {HOSTILE}"
    again, folder2 = export(store, tmp_path / "second")
    frame = pyogrio.read_dataframe(folder2 / "alerts.kml")
    described = frame.set_index(frame["alert_id"].astype(int)).loc[a, "description"]
    assert "<script" not in described
    assert "<img src=x" not in described
    assert again.alert_ids


_CELL = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
                  st.text(max_size=50), st.datetimes(), st.binary(max_size=10))


@settings(max_examples=300, deadline=None)
@given(values=st.fixed_dictionaries(dict.fromkeys(fieldpkg.REQUIRED_FIELDS, _CELL)))
def test_any_cell_values_give_a_row_or_reasons_never_an_exception(values):
    row = fieldpkg._parse_row(1, values)
    if not row.problems:
        assert row.alert_id is not None
        assert row.verdict is None or row.verdict in fieldpkg.ALERT_STATES
        assert row.comment is None or len(row.comment) <= fieldpkg.MAX_COMMENT_CHARS
    item = fieldpkg._decide(row, None, {})
    assert item.kind in {"rejected", "unchanged"}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_comment_of_bytes_that_are_not_utf8_refuses_the_file_clearly(seeded, tmp_path):
    """GDAL raises UnicodeDecodeError on such a cell; it crashed the alerts page."""
    store, (a, _b, _c) = seeded
    _, folder = export(store, tmp_path)
    gpkg = folder / "alerts.gpkg"
    with sqlite3.connect(gpkg) as conn:
        conn.create_function("ST_IsEmpty", 1, lambda _g: 1)
        for name in ("ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY"):
            conn.create_function(name, 1, lambda _g: 0.0)
        conn.execute("UPDATE alerts SET verdict = 'confirmed', "
                     "field_comment = CAST(X'41fffe42c3' AS TEXT) WHERE alert_id = ?", (a,))
    with pytest.raises(FieldPackageError, match="not UTF-8"):
        read_field_package(gpkg)


def test_the_store_checks_the_importers_role_again_when_applying(seeded, tmp_path):
    """A plan made without a role (or by someone else) is refused by the store on Apply."""
    store, (a, _b, _c) = seeded
    _, folder = export(store, tmp_path)
    gpkg = folder / "alerts.gpkg"
    field_edit(gpkg, {a: {"verdict": "confirmed", "field_comment": "fresh tyre marks"}})
    plan = plan_import(store, read_field_package(gpkg))  # not checked: planned for anyone
    assert by_id(plan)[a].kind == "apply"
    before = get_alert(store, a)
    report = apply_import(store, plan, "team2", role="field")  # team1's alert
    assert report.verdicts == []
    [(failed, why)] = report.failed
    assert failed == a
    assert "is assigned to team1" in localize(why, Translator("en"))
    assert get_alert(store, a) == before
    assert apply_import(store, plan, "team1", role="field").verdicts == [a]
