"""Health of an Atalaya installation: the store, the data folder, the scenes, the assets.

:func:`check_health` looks without changing anything (it never creates, migrates or repairs)
and returns a :class:`HealthReport`: one :class:`HealthItem` per finding, each with a
severity, a plain message and the fix. The start-up page shows the items and carries on with
what works; a ``/healthz``-style probe serves :meth:`HealthReport.to_json`.

Messages and fixes are :class:`geo.message.Message`: the English text (what the JSON report
and the log write) that the interface writes again in the reader's language.

Broken states it tells apart (each has a test):

================== ======== ==================================================================
check              severity what the user reads
================== ======== ==================================================================
store (missing)    warning  the store file does not exist: alerts and jobs start empty
store (locked)     error    another program holds the store's write lock: nothing can be saved
store (corrupt)    error    the file is not a SQLite database, or fails its integrity check
store (schema)     warn/err older (migrated at start) or newer than this Atalaya
data_dir           error    the data folder is missing
scenes             warning  a scene GeoTIFF is missing, unreadable or damaged
static             error    the map's scripts (Leaflet...) are missing: the map cannot draw
================== ======== ==================================================================
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from geo.message import Message, message_of, plural
from geo.settings import Settings, load_settings

__all__ = [
    "REQUIRED_ASSETS",
    "HealthItem",
    "HealthReport",
    "check_data_dir",
    "check_health",
    "check_scenes",
    "check_static",
    "check_store",
    "main",
]

Severity = Literal["ok", "warning", "error"]
#: Files under the static folder without which the map page cannot draw (see ``layers.assets``).
REQUIRED_ASSETS: tuple[str, ...] = (
    "vendor/leaflet/dist/leaflet.js",
    "vendor/leaflet/dist/leaflet.css",
    "vendor/leaflet.markercluster/dist/leaflet.markercluster.js",
    "basemap/world-110m.geojson",
)
SQLITE_FILE = "atalaya.sqlite3"  # as geo.store.engine.SQLITE_FILE (not imported: no engine here)
_log = logging.getLogger("atalaya.health")


@dataclass(frozen=True)
class HealthItem:
    """One finding: which check, how bad, what is wrong and how to fix it.

    ``check`` is an identifier (``store``, ``schema``, ``data_dir``, ``scenes``, ``static``);
    ``message`` and ``fix`` are :class:`~geo.message.Message` (``fix`` is ``""`` when there
    is nothing to do): English text that the interface localizes.
    """

    check: str
    severity: Severity
    message: Message
    fix: Message | str = ""


@dataclass(frozen=True)
class HealthReport:
    """Every finding of one health check, and when it ran."""

    items: tuple[HealthItem, ...]
    checked_at: datetime

    @property
    def ok(self) -> bool:
        """True when nothing is an error (warnings allowed)."""
        return not self.errors

    @property
    def errors(self) -> tuple[HealthItem, ...]:
        """The items of severity ``error``."""
        return tuple(i for i in self.items if i.severity == "error")

    @property
    def warnings(self) -> tuple[HealthItem, ...]:
        """The items of severity ``warning``."""
        return tuple(i for i in self.items if i.severity == "warning")

    @property
    def status(self) -> str:
        """``ok``, ``degraded`` (warnings only) or ``failing`` (an error)."""
        return "failing" if self.errors else "degraded" if self.warnings else "ok"

    def find(self, check: str) -> tuple[HealthItem, ...]:
        """Return the items of one check (``store``, ``data_dir``, ``scenes``, ``static``...)."""
        return tuple(i for i in self.items if i.check == check)

    def to_json(self) -> dict[str, Any]:
        """Return the report as JSON-ready data (for a health endpoint or the log)."""
        return {"status": self.status, "checked_at": self.checked_at.isoformat(),
                "items": [{**asdict(i), "message": str(i.message), "fix": str(i.fix)}
                          for i in self.items]}  # plain English strings, not Messages

    def log(self, logger: logging.Logger = _log) -> None:
        """Log every warning and error (one record each, with check and fix as fields)."""
        for item in self.items:
            if item.severity != "ok":
                level = logging.ERROR if item.severity == "error" else logging.WARNING
                logger.log(level, str(item.message),
                           extra={"check": item.check, "fix": str(item.fix)})


# -- the store ----------------------------------------------------------------------------------

def _sqlite_path(url: str) -> Path | None:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    return Path(parsed.database or "") if parsed.get_backend_name() == "sqlite" else None


def _sqlite_problem(exc: sqlite3.Error, path: Path) -> HealthItem:
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return HealthItem("store", "error", Message(
            "the store {path} is locked by another program (a write lock held too long): "
            "verdicts and jobs cannot be saved", path=str(path)), Message(
            "find the process holding it (`fuser {path}`) and stop it; never copy the file "
            "while the app runs", path=str(path)))
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return HealthItem("store", "error", Message(
            "the store {path} is damaged or not a SQLite database ({error})", path=str(path),
            error=str(exc)), Message(
            "stop the app, move the file aside and restore the latest backup (the app would "
            "start with an empty store)"))
    return HealthItem("store", "error", Message(
        "the store {path} cannot be opened ({error})", path=str(path), error=str(exc)),
        Message("check the file's permissions and the disk"))


def _sqlite_checks(conn: sqlite3.Connection, path: Path) -> list[HealthItem]:
    rows = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
    if rows != ["ok"]:
        return [HealthItem("store", "error", Message(
            "the store {path} fails its integrity check: {problems}", path=str(path),
            problems="; ".join(rows[:3])), Message(
            "stop the app, move the file aside and restore the latest backup"))]
    conn.execute("BEGIN IMMEDIATE")  # can a writer get in? (no write follows)
    conn.execute("ROLLBACK")
    have = conn.execute("SELECT name FROM sqlite_master WHERE name = 'schema_version'").fetchone()
    version = conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] \
        if have else 0
    return [HealthItem("store", "ok", Message("the store {path} is readable and intact",
                                              path=str(path))),
            _schema_item(int(version or 0))]


def _check_sqlite(path: Path, timeout_s: float) -> list[HealthItem]:
    if not path.is_file():
        return [HealthItem("store", "warning", Message(
            "the store file {path} does not exist: alerts, verdicts and jobs start empty (it is "
            "created at start-up)", path=str(path)), Message(
            "if it held alerts, stop the app and restore it from the backup"))]
    try:
        # mode=rw: never creates a file; the timeout bounds the wait for a held lock
        conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=timeout_s,
                               isolation_level=None)
    except sqlite3.Error as exc:
        return [_sqlite_problem(exc, path)]
    try:
        return _sqlite_checks(conn, path)
    except sqlite3.Error as exc:
        return [_sqlite_problem(exc, path)]
    finally:
        conn.close()


def _schema_item(version: int) -> HealthItem:
    from geo.store.migrations import latest_version

    latest = latest_version()
    # versions are names, not quantities: written as they are (never "1,000")
    if version == latest:
        return HealthItem("schema", "ok", Message("the store's schema is at version {version}",
                                                  version=str(version)))
    if version > latest:
        return HealthItem("schema", "error", Message(
            "the store's schema is at version {version}, newer than this Atalaya ({latest})",
            version=str(version), latest=str(latest)), Message("upgrade Atalaya"))
    return HealthItem("schema", "warning", Message(
        "the store's schema is at version {version}; start-up migrates it to {latest}",
        version=str(version), latest=str(latest)), "")


def _check_postgres(url: str, timeout_s: float) -> list[HealthItem]:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import DBAPIError

    from geo.store.engine import _postgres_engine

    shown = make_url(url).render_as_string(hide_password=True)
    engine = _postgres_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text(f"SET statement_timeout = {int(timeout_s * 1000)}"))
            conn.execute(text("SELECT 1"))
            have = conn.execute(text("SELECT to_regclass('schema_version')")).scalar()
            version = conn.execute(text("SELECT max(version) FROM schema_version")).scalar() \
                if have else 0
    except DBAPIError as exc:
        return [HealthItem("store", "error", Message(
            "the store {store} does not answer ({error})", store=shown,
            error=str(exc.orig).strip()[:200]), Message(
            "start the database server or fix ATALAYA_DATABASE_URL"))]
    finally:
        engine.dispose()
    return [HealthItem("store", "ok", Message("the store {store} answers", store=shown)),
            _schema_item(int(version or 0))]


def check_store(url: str, *, timeout_s: float = 5.0) -> list[HealthItem]:
    """Check the store at ``url`` without changing it: present, unlocked, intact, schema.

    SQLite: the file exists, opens as a database, passes ``PRAGMA integrity_check`` and a
    writer could take its lock within ``timeout_s``. PostgreSQL: it answers a simple query.
    Both: the schema version against this code's.
    """
    path = _sqlite_path(url)
    if path is None:
        return _check_postgres(url, timeout_s)
    return _check_sqlite(path, timeout_s)


# -- files --------------------------------------------------------------------------------------

def check_data_dir(data_dir: Path) -> list[HealthItem]:
    """Check that the data folder exists and holds at least one layer."""
    from geo.world import LAYER_FILES

    if not data_dir.is_dir():
        return [HealthItem("data_dir", "error", Message(
            "the data folder {folder} is missing: there is nothing to show",
            folder=str(data_dir)), Message(
            "set ATALAYA_DATA_DIR to the team's data folder, or generate the sample world "
            "(`python -m geo.sample --out DIR`)"))]
    present = [n for n in LAYER_FILES.values() if (data_dir / n).is_file()]
    if not present:
        return [HealthItem("data_dir", "warning", Message(
            "the data folder {folder} holds no layer file", folder=str(data_dir)), Message(
            "import data on the Import page or generate the sample world"))]
    return [HealthItem("data_dir", "ok", plural("{n} layer file in {folder}",
                                                "{n} layer files in {folder}", "n",
                                                n=len(present), folder=str(data_dir)))]


def check_static(static_dir: Path) -> list[HealthItem]:
    """Check that the assets the map needs (:data:`REQUIRED_ASSETS`) are installed."""
    fix = Message("install them: `npm ci` then `python tools/install_assets.py --node-modules "
                  "node_modules --static static` (or `make run`)")
    if not static_dir.is_dir():
        return [HealthItem("static", "error", Message(
            "the static folder {folder} is missing: the map cannot draw (no Leaflet); the "
            "other pages work", folder=str(static_dir)), fix)]
    missing = [a for a in REQUIRED_ASSETS if not (static_dir / a).is_file()]
    if missing:
        return [HealthItem("static", "error", plural(
            "{n} map asset missing under {folder}: {assets}",
            "{n} map assets missing under {folder}: {assets}", "n", n=len(missing),
            folder=str(static_dir), assets=", ".join(missing)), fix)]
    return [HealthItem("static", "ok", Message("map assets present in {folder}",
                                               folder=str(static_dir)))]


def _scene_paths(data_dir: Path) -> list[Path]:
    """Scene files: those the catalogue names, and any other GeoTIFF under ``scenes/``."""
    named: list[Path] = []
    catalogue = data_dir / "scenes.geojson"
    if catalogue.is_file():
        try:
            features = json.loads(catalogue.read_text(encoding="utf-8")).get("features", [])
            named = [data_dir / str(f["properties"]["path"]) for f in features]
        except (ValueError, KeyError, TypeError, AttributeError):
            named = []  # a broken catalogue is the import's business; scan the folder
    folder = data_dir / "scenes"
    found = sorted(folder.glob("*.tif")) if folder.is_dir() else []
    return list(dict.fromkeys([*named, *found]))


def _scene_problem(path: Path, decode: bool) -> Message | None:
    import rasterio

    from geo.errors import AtalayaError
    from geo.imagery import open_geotiff

    if not path.is_file():
        return Message("listed in scenes.geojson but missing")
    try:
        with open_geotiff(path) as src:
            if decode:  # a decimated read decodes every block (or reads an overview)
                src.read(1, out_shape=(min(src.height, 64), min(src.width, 64)))
    except (AtalayaError, rasterio.errors.RasterioError, OSError) as exc:
        return Message("unreadable ({error})", error=_first_line(exc))
    return None


def _first_line(exc: BaseException, limit: int = 160) -> str:
    """Return the first line of an error, cut at ``limit`` (a :class:`Message` when it fits)."""
    text = message_of(exc)
    lines = text.splitlines() or [type(exc).__name__]
    if isinstance(text, Message) and lines == [text] and len(text) <= limit:
        return text  # localized with the finding (imagery's refusals are Messages)
    return lines[0][:limit]


def check_scenes(data_dir: Path, *, decode: bool = False) -> list[HealthItem]:
    """Each scene GeoTIFF opens (``decode``: and its pixels decode); one warning per bad one."""
    paths = _scene_paths(data_dir)
    bad = [(p, why) for p in paths if (why := _scene_problem(p, decode)) is not None]
    items = [HealthItem("scenes", "warning", Message(
        "scene {name}: {problem}; it is left out of the imagery and detection pages",
        name=p.name, problem=why), Message(
        "import the scene again, or remove it from scenes/ and scenes.geojson"))
        for p, why in bad]
    return items or [HealthItem("scenes", "ok", plural("{n} scene readable",
                                                       "{n} scenes readable", "n",
                                                       n=len(paths)))]


# -- everything ---------------------------------------------------------------------------------

def _store_url(settings: Settings) -> str:
    url = os.environ.get("ATALAYA_DATABASE_URL", "").strip()
    return url or f"sqlite:///{settings.data_dir / SQLITE_FILE}"


def check_health(settings: Settings | None = None, *, url: str | None = None,
                 decode_scenes: bool = False, timeout_s: float = 5.0,
                 now: datetime | None = None) -> HealthReport:
    """Run every check (store, data folder, scenes, static assets); change nothing.

    Parameters
    ----------
    settings
        Data and static folders (default: from the environment).
    url
        The store (default: ``ATALAYA_DATABASE_URL`` or the data folder's SQLite file).
    decode_scenes
        Also decode every scene's pixels, decimated (slower; finds damaged blocks).
    timeout_s
        How long to wait for the store's lock or answer.
    """
    settings = settings or load_settings()
    items: list[HealthItem] = []
    for part in _parts(settings, url or _store_url(settings), decode_scenes, timeout_s):
        items.extend(part)
    return HealthReport(items=tuple(items), checked_at=now or datetime.now(UTC))


def _parts(settings: Settings, url: str, decode: bool,
           timeout_s: float) -> Iterable[list[HealthItem]]:
    yield check_store(url, timeout_s=timeout_s)
    yield check_data_dir(settings.data_dir)
    if settings.data_dir.is_dir():
        yield check_scenes(settings.data_dir, decode=decode)
    yield check_static(settings.static_dir)


def main(argv: list[str] | None = None) -> int:
    """``python -m geo.health [--decode-scenes]``: print the report as JSON; 1 when failing.

    For a container's health probe or a start-up script (warnings still exit 0).
    """
    args = sys.argv[1:] if argv is None else argv
    unknown = [a for a in args if a != "--decode-scenes"]
    if unknown:
        print(f"usage: python -m geo.health [--decode-scenes] (got {' '.join(unknown)})",
              file=sys.stderr)
        return 2
    report = check_health(decode_scenes="--decode-scenes" in args)
    print(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
