"""Versioned schema migrations, applied in order at start-up by :func:`migrate`.

A small equivalent of Alembic: each :class:`Migration` has a number, a name and a function that
receives an open connection inside the migration transaction. ``schema_version`` records the
ones applied. All pending steps run in **one** transaction (both backends have transactional
DDL), under a lock, so two processes starting at once do not both migrate and a crash leaves the
previous schema intact.

To change the schema: edit :mod:`geo.store.tables`, then append a migration that brings an
existing database to it (``ALTER TABLE ...``). Never edit a migration that has been released.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, bindparam, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError

from geo.countries import locate_countries
from geo.errors import StoreError
from geo.store import tables as t

#: Advisory lock key for migrations and merges on PostgreSQL (any constant bigint).
PG_MIGRATION_LOCK = 0x41_54_41_4C_01  # "ATAL" 1
APPEND_ONLY_MESSAGE = "audit_log is append-only: rows cannot be changed or deleted"


@dataclass(frozen=True)
class Migration:
    """One schema step: ``apply(connection)`` runs inside the migration transaction."""

    version: int
    name: str
    apply: Callable[[Connection], None]


def _require_postgis(conn: Connection) -> None:
    """Make sure the postgis extension exists, creating it when the role may."""
    if conn.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'postgis'")).first():
        return
    try:
        with conn.begin_nested():
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    except DBAPIError as exc:
        raise StoreError(
            "the database has no postgis extension and this role may not create it: "
            f"{exc.__class__.__name__}; run `CREATE EXTENSION postgis;` in it as a superuser"
        ) from exc


def _append_only_sqlite(conn: Connection) -> None:
    for op in ("UPDATE", "DELETE"):
        conn.execute(text(
            f"CREATE TRIGGER audit_log_no_{op.lower()} BEFORE {op} ON audit_log "
            f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}'); END"))


def _append_only_postgres(conn: Connection) -> None:
    conn.execute(text(
        "CREATE FUNCTION atalaya_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN RAISE EXCEPTION '{APPEND_ONLY_MESSAGE}' USING ERRCODE = 'insufficient_privilege'; "
        "END $$"))
    conn.execute(text(
        "CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION atalaya_audit_append_only()"))
    conn.execute(text(
        "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION atalaya_audit_append_only()"))
    # Other roles of the team database may read and append, never rewrite.
    conn.execute(text("REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC"))


def _initial(conn: Connection) -> None:
    """Version 1: alerts, detections, assignments, comments, attachments, audit log."""
    postgres = conn.dialect.name == "postgresql"
    if postgres:
        _require_postgis(conn)
    names = ("alerts", "detections", "assignments", "comments", "attachments", "audit_log",
             "applied_requests")
    t.metadata.create_all(conn, tables=[t.metadata.tables[n] for n in names])
    if postgres:
        conn.execute(text("CREATE INDEX ix_alerts_geometry ON alerts USING GIST (geometry)"))
        _append_only_postgres(conn)
    else:
        _append_only_sqlite(conn)


def backfill_countries(conn: Connection) -> int:
    """Set ``country`` on the alerts that have none, from their centroid; return how many.

    Alerts at sea stay ``None`` (and are looked at again next time, which is cheap).
    """
    a = t.alerts.c
    rows = conn.execute(select(a.id, a.centroid_lon, a.centroid_lat)
                        .where(a.country.is_(None)).order_by(a.id)).all()
    if not rows:
        return 0
    found = locate_countries([r.centroid_lon for r in rows], [r.centroid_lat for r in rows])
    filled = [{"key": r.id, "value": c} for r, c in zip(rows, found, strict=True) if c]
    if filled:
        # A data fix, not a person's change: no version bump, no audit row.
        conn.execute(update(t.alerts).where(a.id == bindparam("key"))
                     .values(country=bindparam("value")), filled)
    return len(filled)


def _alert_country(conn: Connection) -> None:
    """Version 2: ``alerts.country`` (ISO 3166-1 alpha-2), back-filled from the centroids."""
    # Version 1 creates tables from the latest definitions, so a database created by this
    # code already has the column: add it only where it is missing.
    have = conn.execute(text("SELECT * FROM alerts WHERE 1 = 0")).keys()
    if "country" not in have:
        conn.execute(text("ALTER TABLE alerts ADD COLUMN country VARCHAR(2)"))
    conn.execute(text("CREATE INDEX IF NOT EXISTS ix_alerts_country ON alerts (country)"))
    backfill_countries(conn)


def _subscriptions(conn: Connection) -> None:
    """Version 3: subscriptions to saved areas, the in-app inbox and the delivery outbox."""
    names = ("subscriptions", "notifications", "deliveries")
    t.metadata.create_all(conn, tables=[t.metadata.tables[n] for n in names])


def _snapshots(conn: Connection) -> None:
    """Version 4: the history of planners' snapshots (manifest and folder of each)."""
    t.metadata.create_all(conn, tables=[t.snapshots])


def _users(conn: Connection) -> None:
    """Version 5: user accounts (sign-ins and changes go to the audit log)."""
    t.metadata.create_all(conn, tables=[t.users])


def _jobs(conn: Connection) -> None:
    """Version 6: background jobs (detection, imagery ingest, exports) and their progress."""
    t.metadata.create_all(conn, tables=[t.jobs])


def _scenes(conn: Connection) -> None:
    """Version 7: the imagery catalogue (:mod:`geo.store.scenes` fills it)."""
    t.metadata.create_all(conn, tables=[t.scenes])
    if conn.dialect.name == "postgresql":
        conn.execute(text("CREATE INDEX IF NOT EXISTS ix_scenes_footprint ON scenes "
                          "USING GIST (footprint)"))


def _absences(conn: Connection) -> None:
    """Version 8: dates a detection run saw an alert's ground without the strip."""
    t.metadata.create_all(conn, tables=[t.absences])


def _languages(conn: Connection) -> None:
    """Version 10: the language of a subscription's e-mails, copied onto each delivery.

    Rows from before stay None, which means English: what their e-mails were written in.
    """
    for table in ("subscriptions", "deliveries"):
        # Version 1 creates tables from the latest definitions: add only where missing.
        columns = conn.execute(text(f"SELECT * FROM {table} WHERE 1 = 0")).keys()
        if "language" not in columns:
            conn.execute(text(f"ALTER TABLE {table} ADD COLUMN language VARCHAR(8)"))


def _user_languages(conn: Connection) -> None:
    """Version 11: the interface language each account last chose (None: the deployment's)."""
    columns = conn.execute(text("SELECT * FROM users WHERE 1 = 0")).keys()
    if "language" not in columns:  # version 5 made the table from the latest definition
        conn.execute(text("ALTER TABLE users ADD COLUMN language VARCHAR(8)"))


def _bare_contrast(conn: Connection) -> None:
    """Version 12: each detection's bare-ground contrast (None for sightings from before)."""
    columns = conn.execute(text("SELECT * FROM detections WHERE 1 = 0")).keys()
    if "bare_contrast" not in columns:  # version 1 made the table from the latest definition
        conn.execute(text("ALTER TABLE detections ADD COLUMN bare_contrast FLOAT"))


_KIND_CHECK = re.compile(r"CONSTRAINT ck_kind_allowed CHECK \(kind IN \([^)]*\)\)")


def _notification_kinds(conn: Connection) -> None:
    """Version 9: notifications of a change on the imagery (``kind`` allows imagery_change).

    Only widens a CHECK constraint, so every stored row stays valid. PostgreSQL drops and adds
    it. SQLite cannot alter a constraint, and rebuilding ``notifications`` would break the
    foreign keys of ``deliveries`` inside this transaction, so the table's definition is edited
    in place, as SQLite documents for removing or changing CHECK constraints ("ALTER TABLE",
    section 7): ``writable_schema`` on, the stored CREATE TABLE text rewritten, the schema
    version bumped so every connection re-reads it.
    """
    kinds = ", ".join(f"'{k}'" for k in t.NOTIFICATION_KINDS)
    check = f"CONSTRAINT ck_kind_allowed CHECK (kind IN ({kinds}))"
    if conn.dialect.name == "postgresql":
        conn.execute(text("ALTER TABLE notifications DROP CONSTRAINT IF EXISTS ck_kind_allowed"))
        conn.execute(text(f"ALTER TABLE notifications ADD {check}"))
        return
    sql = conn.execute(text("SELECT sql FROM sqlite_master WHERE type = 'table' "
                            "AND name = 'notifications'")).scalar_one()
    new, found = _KIND_CHECK.subn(lambda _: check, sql)
    if found != 1:
        raise StoreError("the notifications table of this database has no kind constraint "
                         "Atalaya recognises; it cannot be migrated")
    if new == sql:
        return  # created by this version already
    version = conn.execute(text("PRAGMA schema_version")).scalar_one()
    conn.execute(text("PRAGMA writable_schema = ON"))
    try:
        conn.execute(text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' "
                          "AND name = 'notifications'"), {"sql": new})
        conn.execute(text(f"PRAGMA schema_version = {int(version) + 1}"))
    finally:
        conn.execute(text("PRAGMA writable_schema = OFF"))


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "alerts, detections, assignments, comments, attachments, audit log", _initial),
    Migration(2, "alerts.country", _alert_country),
    Migration(3, "subscriptions, notifications, deliveries", _subscriptions),
    Migration(4, "snapshots", _snapshots),
    Migration(5, "users", _users),
    Migration(6, "jobs", _jobs),
    Migration(7, "scenes", _scenes),
    Migration(8, "absences", _absences),
    Migration(9, "notifications of changes on the imagery", _notification_kinds),
    Migration(10, "language of e-mails", _languages),
    Migration(11, "language of each account's pages", _user_languages),
    Migration(12, "bare-ground contrast of each detection", _bare_contrast),
)


def latest_version() -> int:
    """Return the schema version this code expects."""
    return MIGRATIONS[-1].version


def current_version(conn: Connection) -> int:
    """Highest migration applied to the database (0 for an empty database)."""
    t.schema_version.create(conn, checkfirst=True)
    found = conn.execute(select(func.max(t.schema_version.c.version))).scalar()
    return int(found or 0)


def migrate(conn: Connection) -> list[int]:
    """Apply every pending migration on ``conn`` (inside its transaction); return their numbers.

    Raises
    ------
    StoreError
        When the database was migrated by a newer version of Atalaya than this one.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(PG_MIGRATION_LOCK)))
    have = current_version(conn)
    if have > latest_version():
        raise StoreError(
            f"the database schema is at version {have} but this Atalaya knows up to "
            f"{latest_version()}; upgrade Atalaya before opening this database")
    # Every missing step, not only those above the highest applied: a database that got a
    # later step from a branch before an earlier one still gets the earlier one.
    applied = set(conn.execute(select(t.schema_version.c.version)).scalars())
    done = []
    for step in MIGRATIONS:
        if step.version in applied:
            continue
        step.apply(conn)
        conn.execute(insert(t.schema_version).values(
            version=step.version, name=step.name, applied_at=datetime.now(UTC)))
        done.append(step.version)
    return done
