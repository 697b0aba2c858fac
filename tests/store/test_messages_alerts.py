"""Errors and reasons of the alert store are Messages: English text, localized when shown.

No catalogue has these templates yet, so an empty catalogue folder stands for Spanish: the
words stay English and the numbers take Spanish separators. One test writes a catalogue with
one template translated, to show the template is what the translator looks up.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import Point

from geo.errors import SchemaError, StaleVersionError
from geo.i18n import Message, Translator, localize, message_of
from geo.store import (
    AlertChange,
    Store,
    add_attachment,
    fieldpkg,
    get_alert,
    list_alerts,
    merge_candidates,
    update_alert,
)
from geo.store.fieldpkg import (
    FieldPackageError,
    apply_import,
    export_field_package,
    plan_import,
    read_field_package,
)
from tests.store.conftest import candidates

Two = tuple[Store, tuple[int, ...]]

SITES = [{"lon": -65.0, "lat": -14.0, "scene_id": "s1", "date": "2024-05-01", "score": 0.9},
         {"lon": -64.0, "lat": -13.0, "scene_id": "s1", "date": "2024-05-01", "score": 0.8}]


@pytest.fixture
def spanish(tmp_path: Path) -> Translator:
    """Spanish with an empty catalogue folder: English words, Spanish number separators."""
    folder = tmp_path / "no-catalogue"
    folder.mkdir()
    return Translator("es", locale_dir=folder)


@pytest.fixture
def two(store: Store) -> Two:
    """Two new alerts; return the store and their ids."""
    merge_candidates(store, candidates(SITES))
    return store, tuple(sorted(a.id for a in list_alerts(store)))


def _export(store: Store, tmp_path: Path) -> Path:
    """Export every alert and return the unpacked alerts.gpkg."""
    report = export_field_package(store, out=tmp_path / "package.zip", user="lead")
    with zipfile.ZipFile(report.path) as archive:
        archive.extract("alerts.gpkg", tmp_path)
    return tmp_path / "alerts.gpkg"


def _fill(gpkg: Path, verdicts: dict[int, str]) -> None:
    """Write verdicts into the exported layer, as a field app does."""
    frame = pyogrio.read_dataframe(gpkg, layer="alerts")
    frame["verdict"] = pd.Series([verdicts.get(int(i)) for i in frame["alert_id"]],
                                 dtype=object)
    pyogrio.write_dataframe(frame, gpkg, layer="alerts", driver="GPKG")


def test_a_version_conflict_is_a_message(two: Two, spanish: Translator) -> None:
    store, (a, _b) = two
    mine = get_alert(store, a)
    update_alert(store, AlertChange(a, mine.version, state="under_review"), actor="maria")
    now = get_alert(store, a)
    with pytest.raises(StaleVersionError) as caught:
        update_alert(store, AlertChange(a, mine.version, state="dismissed"), actor="luis")
    message = message_of(caught.value)
    assert isinstance(message, Message)
    assert message.template.startswith("alert {id} was changed by {who} at {when} UTC")
    old = (f"alert {a} was changed by maria at {now.updated_at:%Y-%m-%d %H:%M:%S} UTC (now "
           f"version {now.version}, your copy is version {mine.version}); reload it and apply "
           "your change again")
    assert str(caught.value) == message == old
    # Ids and versions are labels, the time is written as stored: the same in Spanish.
    assert localize(caught.value, spanish) == old


def test_a_refused_state_change_is_a_message(spanish: Translator) -> None:
    with pytest.raises(SchemaError) as caught:
        AlertChange(7, 1, state="done")
    assert isinstance(message_of(caught.value), Message)
    old = ("unknown alert state 'done'; expected one of new, under_review, confirmed, "
           "dismissed, needs_field_visit, destroyed, reopened")
    assert str(caught.value) == old
    assert localize(caught.value, spanish) == old


def test_a_refused_verdict_in_a_returned_package_is_a_message(two: Two, tmp_path: Path,
                                                              spanish: Translator) -> None:
    store, (a, b) = two
    gpkg = _export(store, tmp_path)
    _fill(gpkg, {a: "destroyed", b: "dismissed"})
    update_alert(store, AlertChange(b, get_alert(store, b).version, priority="low"),
                 actor="maria")
    plan = plan_import(store, read_field_package(gpkg))
    items = {i.alert_id: i for i in plan.items}
    refused, conflict = items[a], items[b]
    assert refused.kind == "rejected"
    assert isinstance(refused.reason, Message)
    assert refused.reason == ("cannot move from New to Destroyed; from New it can go to "
                              "Under review, Dismissed")
    assert localize(refused.reason, spanish) == refused.reason
    assert localize(refused.reason, Translator("es")) == (  # states as words, in Spanish too
        "no se puede pasar de Nueva a Destruida; estados permitidos desde Nueva: En revisión, "
        "Descartada")
    assert conflict.kind == "conflict"
    assert isinstance(conflict.reason, Message)
    assert conflict.reason.endswith("now New (the review state is as exported; other fields "
                                    "changed)")

    # The office moves the alert again after the plan: the failure keeps its Message.
    update_alert(store, AlertChange(b, get_alert(store, b).version, state="under_review"),
                 actor="jose")
    report = apply_import(store, plan, "office", accept_conflicts={b})
    (failed_id, why), = report.failed
    assert failed_id == b
    assert isinstance(why, Message)
    assert why.startswith(f"alert {b} was changed by jose at ")


def test_a_refused_package_is_a_message(tmp_path: Path, spanish: Translator) -> None:
    fake = tmp_path / "alerts.gpkg"
    fake.write_text("alert_id,verdict\n1,confirmed\n")
    with pytest.raises(FieldPackageError) as caught:
        read_field_package(fake)
    assert isinstance(message_of(caught.value), Message)
    old = ("the file is neither a GeoPackage nor a ZIP (its first bytes are 'alert_id'); "
           "send back alerts.gpkg from the field package")
    assert str(caught.value) == old  # the text as text, not Python's b'...'
    assert localize(caught.value, spanish) == old
    fake.write_bytes(b"\x89PNG\r\n\x1a\n rest")
    with pytest.raises(FieldPackageError, match=r"first bytes are 89 50 4e 47 0d 0a 1a 0a\)"):
        read_field_package(fake)


def test_counts_in_a_refused_package_take_the_readers_separators(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spanish: Translator) -> None:
    monkeypatch.setattr(fieldpkg, "MAX_ROWS", 1234)
    n = 1235
    frame = gpd.GeoDataFrame(
        {"alert_id": range(1, n + 1), "version": [1] * n,
         "verdict": pd.Series([None] * n, dtype=object),
         "field_comment": pd.Series([None] * n, dtype=object),
         "visited_at": pd.Series([pd.NaT] * n, dtype="datetime64[ms, UTC]"),
         "visited_by": pd.Series([None] * n, dtype=object)},
        geometry=[Point(-65, -14)] * n, crs=4326)
    gpkg = tmp_path / "alerts.gpkg"
    pyogrio.write_dataframe(frame, gpkg, layer="alerts", driver="GPKG")
    with pytest.raises(FieldPackageError) as caught:
        read_field_package(gpkg)
    assert str(caught.value) == ("alerts.gpkg is not a usable field package: layer alerts has "
                                 "1,235 rows; at most 1,234")
    assert localize(caught.value, spanish) == ("alerts.gpkg is not a usable field package: "
                                               "layer alerts has 1.235 rows; at most 1.234")


def test_a_chip_left_out_says_why_in_the_readers_numbers(two: Two, tmp_path: Path,
                                                         spanish: Translator) -> None:
    store, (a, _b) = two
    add_attachment(store, a, actor="lead", kind="report", media_type="application/pdf",
                   content=b"%PDF-1.4" + b"\x00" * 12337)
    report = export_field_package(store, out=tmp_path / "package.zip", user="lead")
    (why,) = report.skipped_chips
    assert isinstance(why, Message)
    assert why.startswith(f"alert {a}: attachment ")
    assert why.endswith("left out (application/pdf, 12,345 bytes: not a PNG/JPEG/GIF under "
                        "20 MiB)")
    assert localize(why, spanish).endswith("(application/pdf, 12.345 bytes: not a "
                                           "PNG/JPEG/GIF under 20 MiB)")


def test_the_template_is_what_is_translated(tmp_path: Path) -> None:
    folder = tmp_path / "catalogue"
    po = folder / "es" / "LC_MESSAGES" / "atalaya.po"
    po.parent.mkdir(parents=True)
    po.write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        'msgid "{name} {value} is not a whole number"\n'
        'msgstr "{name} {value} no es un número entero"\n\n'
        'msgid "alert {id} appears {n} times; keep one row"\n'
        'msgstr "la alerta {id} aparece {n} veces; deje una sola fila"\n', encoding="utf-8")
    es = Translator("es", locale_dir=folder)
    problems: list[str] = []
    assert fieldpkg._as_int("abc", "alert_id", problems) is None
    assert problems == ["alert_id 'abc' is not a whole number"]
    assert localize(problems[0], es) == "alert_id 'abc' no es un número entero"
    row = fieldpkg.FieldRow(row=1, alert_id=7, exported_version=1, verdict=None,
                            comment=None, visited_at=None, visited_by=None)
    flagged = fieldpkg._flag_duplicates((row,) * 1001)
    reason = flagged[0].problems[-1]
    assert reason == "alert 7 appears 1,001 times; keep one row"
    assert localize(reason, es) == "la alerta 7 aparece 1.001 veces; deje una sola fila"


def test_a_bad_candidates_frame_is_a_message(store: Store, spanish: Translator) -> None:
    frame = candidates(SITES).drop(columns=["score", "width_m"])
    with pytest.raises(SchemaError) as caught:
        merge_candidates(store, frame)
    assert isinstance(message_of(caught.value), Message)
    old = ("candidates lack column(s) score, width_m; expected the output of geo.detect "
           "(CANDIDATES layer)")
    assert str(caught.value) == old
    assert localize(caught.value, spanish) == old
