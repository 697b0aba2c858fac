"""Health findings are Messages: the same English as before, written again in the reader's language.

The Spanish below is the translation handed to the lead with these templates (``tr_health.json``),
written into a catalogue of the test's own (:func:`es`) because ``locales/*.po`` is merged later.
:func:`test_the_shipped_catalogue_has_the_handed_over_spanish` checks the shipped catalogue once the
translations are merged, and is skipped until then.
"""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
from functools import cache
from pathlib import Path

import pytest

from geo.health import (
    HealthItem,
    _schema_item,
    _sqlite_problem,
    check_health,
    check_scenes,
    check_store,
)
from geo.i18n import Message, Translator, localize
from geo.settings import Settings
from tests.catalogues import extracted as extracted_from
from tests.catalogues import write_catalogue
from tests.geo.test_health import _url, installation  # noqa: F401 (a fixture)

# -- the Spanish handed over with these templates (tr_health.json); NOT yet in locales/es --------
HANDED_OVER_ES = {
    "listed in scenes.geojson but missing": "figura en scenes.geojson pero falta",
    "scene {name}: {problem}; it is left out of the imagery and detection pages":
        "escena {name}: {problem}; queda fuera de las páginas de imágenes y de detección",
    "import the scene again, or remove it from scenes/ and scenes.geojson":
        "importe la escena de nuevo, o quítela de scenes/ y de scenes.geojson",
    "the store's schema is at version {version}, newer than this Atalaya ({latest})":
        "el esquema de la base de datos está en la versión {version}, más reciente que "
        "este Atalaya ({latest})",
    "upgrade Atalaya": "actualice Atalaya",
    "the static folder {folder} is missing: the map cannot draw (no Leaflet); the other pages "
    "work": "falta la carpeta de archivos estáticos {folder}: el mapa no se puede dibujar (no hay "
            "Leaflet); las demás páginas funcionan",
    "install them: `npm ci` then `python tools/install_assets.py --node-modules node_modules "
    "--static static` (or `make run`)":
        "instálelos: `npm ci` y luego `python tools/install_assets.py --node-modules "
        "node_modules --static static` (o `make run`)",
    "scenes": "escenas",
    "store": "base de datos",
}
#: Already in the shipped catalogue: the frame, and a reason shared with the imagery pages.
SHIPPED_ES = {
    "Start-up check ({check}): {message}": "Comprobación de arranque ({check}): {message}",
    "Fix: {fix}": "Solución: {fix}",
    "unreadable ({error})": "ilegible ({error})",
    "{name} is not a readable GeoTIFF ({cause}); only GeoTIFF scenes are accepted":
        "{name} no es un GeoTIFF legible ({cause}); solo se aceptan escenas GeoTIFF",
}
MISSING_SCENE = ("scene gone.tif: listed in scenes.geojson but missing; it is left out of the "
                 "imagery and detection pages")
SCENE_FIX = "import the scene again, or remove it from scenes/ and scenes.geojson"


@pytest.fixture
def es(tmp_path: Path) -> Translator:
    """Spanish, from a catalogue holding the handed-over translations of these templates."""
    return Translator("es", locale_dir=write_catalogue(tmp_path / "locales",
                                                       {**SHIPPED_ES, **HANDED_OVER_ES}))


@cache
def extracted() -> frozenset[str]:
    """Return the templates ``make messages`` extracts (keyword ``Message``) from geo/health.py."""
    return extracted_from(("geo/health.py",))


def _catalogue_a_missing_scene(data_dir: Path) -> None:
    (data_dir / "scenes.geojson").write_text(
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": null, '
        '"properties": {"path": "scenes/gone.tif"}}]}')


def _broken_states(settings: Settings) -> list[HealthItem]:
    """Every kind of finding the checks make, ok ones included (SQLite, files, scenes)."""
    items = list(check_health(settings, url=_url(settings)).items)  # all ok
    _catalogue_a_missing_scene(settings.data_dir)
    (settings.data_dir / "scenes" / "garbage.tif").write_bytes(b"II*\x00" + b"\x13" * 5000)
    (settings.static_dir / "basemap" / "world-110m.geojson").unlink()
    items += check_health(settings, url=_url(settings)).items
    shutil.rmtree(settings.static_dir)
    items += check_health(settings, url=_url(settings)).items
    store = settings.data_dir / "atalaya.sqlite3"
    for side in store.parent.glob("atalaya.sqlite3-*"):
        side.unlink()
    store.write_bytes(b"this is not a database \x00\xff" * 400)
    items += check_store(_url(settings))
    store.unlink()
    items += check_store(_url(settings))
    items += [_schema_item(0), _schema_item(10_000),
              _sqlite_problem(sqlite3.OperationalError("database is locked"), store),
              _sqlite_problem(sqlite3.OperationalError("unable to open database file"), store)]
    items += check_store("postgresql+psycopg://app:s3cret@127.0.0.1:1/atalaya", timeout_s=1)
    shutil.rmtree(settings.data_dir / "scenes")
    for layer in settings.data_dir.glob("*.geojson"):
        layer.unlink()
    items += check_health(settings, url=_url(settings)).items
    shutil.rmtree(settings.data_dir)
    items += check_health(settings, url=_url(settings)).items
    return items


def test_every_finding_is_a_message_make_messages_extracts(installation):  # noqa: F811
    items = _broken_states(installation)
    assert {i.severity for i in items} == {"ok", "warning", "error"}
    seen = set()
    for item in items:
        assert isinstance(item.message, Message), item
        assert item.message.template in extracted(), item.message.template
        assert item.fix == "" or isinstance(item.fix, Message), item
        if item.fix:
            assert item.fix.template in extracted()
        seen.add(item.message.template)
        seen.add(item.fix.template if isinstance(item.fix, Message) else "")
    seen.update(v.template for i in items for v in i.message.values.values()
                if isinstance(v, Message))  # the scenes' reasons
    not_reached = {"the store {path} fails its integrity check: {problems}",  # test_health
                   "stop the app, move the file aside and restore the latest backup",
                   "the store {store} answers"}  # a PostgreSQL server
    assert extracted() - seen == not_reached


def test_the_english_is_what_it_was(installation):  # noqa: F811
    _catalogue_a_missing_scene(installation.data_dir)
    shutil.rmtree(installation.static_dir)
    report = check_health(installation, url=_url(installation))
    scene, = (i for i in report.find("scenes") if "gone.tif" in i.message)
    assert scene.message == MISSING_SCENE
    assert scene.fix == SCENE_FIX
    static, = report.find("static")
    assert static.message == (f"the static folder {installation.static_dir} is missing: the "
                              "map cannot draw (no Leaflet); the other pages work")
    assert static.fix == ("install them: `npm ci` then `python tools/install_assets.py "
                          "--node-modules node_modules --static static` (or `make run`)")
    store, schema = report.find("store") + report.find("schema")
    assert store.message == (f"the store {installation.data_dir / 'atalaya.sqlite3'} is "
                             "readable and intact")
    assert schema.message.startswith("the store's schema is at version ")
    newer = _schema_item(10_000)  # a version is a name: never "10,000"
    assert (newer.message, newer.fix) == (
        f"the store's schema is at version 10000, newer than this Atalaya "
        f"({newer.message.values['latest']})", "upgrade Atalaya")
    (installation.data_dir / "atalaya.sqlite3").unlink()
    missing, = check_store(_url(installation))
    assert missing.message == (f"the store file {installation.data_dir / 'atalaya.sqlite3'} "
                               "does not exist: alerts, verdicts and jobs start empty (it is "
                               "created at start-up)")
    assert missing.fix == "if it held alerts, stop the app and restore it from the backup"


def test_a_locked_store_keeps_its_english(installation):  # noqa: F811
    path = installation.data_dir / "atalaya.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        item, = check_store(_url(installation), timeout_s=0.2)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert item.message == (f"the store {path} is locked by another program (a write lock held "
                            "too long): verdicts and jobs cannot be saved")
    assert item.fix == (f"find the process holding it (`fuser {path}`) and stop it; never copy "
                        "the file while the app runs")


def test_json_and_log_write_plain_english(installation, caplog):  # noqa: F811
    _catalogue_a_missing_scene(installation.data_dir)
    report = check_health(installation, url=_url(installation))
    data = report.to_json()
    for item in data["items"]:
        assert type(item["message"]) is str, item
        assert type(item["fix"]) is str, item
    scene, = (i for i in data["items"] if i["check"] == "scenes")
    assert (scene["message"], scene["fix"]) == (MISSING_SCENE, SCENE_FIX)
    assert json.loads(json.dumps(data)) == data
    with caplog.at_level(logging.WARNING, logger="atalaya.health"):
        report.log()
    record, = caplog.records
    assert type(record.msg) is str
    assert type(record.fix) is str
    assert (record.getMessage(), record.fix) == (MISSING_SCENE, SCENE_FIX)


def test_a_missing_scene_in_spanish(installation, es):  # noqa: F811
    _catalogue_a_missing_scene(installation.data_dir)
    item, = (i for i in check_scenes(installation.data_dir) if "gone.tif" in i.message)
    assert localize(item.message, es) == ("escena gone.tif: figura en scenes.geojson pero falta; "
                                          "queda fuera de las páginas de imágenes y de detección")
    assert localize(item.fix, es) == ("importe la escena de nuevo, o quítela de scenes/ y de "
                                      "scenes.geojson")


def test_an_unreadable_scene_localizes_its_cause(installation, es):  # noqa: F811
    (installation.data_dir / "scenes" / "roto.tif").write_bytes(b"II*\x00" + b"\x13" * 5000)
    item, = check_scenes(installation.data_dir)
    assert item.message.startswith("scene roto.tif: unreadable (roto.tif is not a readable "
                                   "GeoTIFF (")
    spanish = localize(item.message, es)
    assert spanish.startswith("escena roto.tif: ilegible (roto.tif no es un GeoTIFF legible (")
    assert spanish.endswith("); solo se aceptan escenas GeoTIFF); queda fuera de las páginas de "
                            "imágenes y de detección")


def test_a_version_stays_a_name_and_commands_stay_verbatim_in_spanish(installation, es):  # noqa: F811
    newer = _schema_item(10_000)
    assert localize(newer.message, es).startswith(
        "el esquema de la base de datos está en la versión 10000, más reciente que este Atalaya (")
    shutil.rmtree(installation.static_dir)
    static, = check_health(installation, url=_url(installation)).find("static")
    assert localize(static.fix, es) == (
        "instálelos: `npm ci` y luego `python tools/install_assets.py --node-modules "
        "node_modules --static static` (o `make run`)")


@pytest.mark.parametrize("template", sorted(HANDED_OVER_ES))
def test_the_shipped_catalogue_has_the_handed_over_spanish(template: str) -> None:
    """Skipped until the lead merges tr_health.json into locales/es (then it must hold)."""
    shipped = Translator("es")(template)
    if shipped == template:
        pytest.skip("tr_health.json not merged into locales/es/LC_MESSAGES/atalaya.po yet")
    assert shipped == HANDED_OVER_ES[template]
