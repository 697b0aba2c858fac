"""Table definitions of the alert store (SQLAlchemy Core), the same on SQLite and PostGIS.

Geometry is a :class:`Geometry` column: ``geometry(POLYGON, 4326)`` in PostGIS, WKB in a BLOB
on SQLite. Python code always sees shapely geometries in EPSG:4326. Each alert also keeps its
bounding box and centroid as plain numbers, so the overlap search of a merge is an indexed
range query on both backends (PostGIS adds a GiST index for the screens' spatial filters).

Times are :class:`UTCDateTime`: written as UTC, read back timezone-aware in UTC on both backends.

Notes
-----
This module describes the *latest* schema; :mod:`geo.store.migrations` creates and changes it
step by step. A change here needs a new migration there.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler, TypeCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import GenericFunction
from sqlalchemy.types import TypeDecorator, UserDefinedType

from geo.auth.permissions import Role
from geo.schema import PRIORITIES
from geo.store.states import ALERT_STATES

SRID = 4326


class _GeomFromWKB(GenericFunction[Any]):
    """WKB parameter to a geometry: ``ST_GeomFromWKB(x, 4326)`` in PostGIS, ``x`` elsewhere."""

    inherit_cache = True
    name = "atalaya_geom_from_wkb"


class _GeomAsWKB(GenericFunction[Any]):
    """Geometry column to WKB: ``ST_AsBinary(x)`` in PostGIS, ``x`` elsewhere."""

    inherit_cache = True
    name = "atalaya_geom_as_wkb"


@compiles(_GeomFromWKB)
def _from_wkb_plain(element: _GeomFromWKB, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(_GeomFromWKB, "postgresql")
def _from_wkb_pg(element: _GeomFromWKB, compiler: SQLCompiler, **kw: Any) -> str:
    return f"ST_GeomFromWKB({compiler.process(element.clauses, **kw)}, {SRID})"


@compiles(_GeomAsWKB)
def _as_wkb_plain(element: _GeomAsWKB, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(_GeomAsWKB, "postgresql")
def _as_wkb_pg(element: _GeomAsWKB, compiler: SQLCompiler, **kw: Any) -> str:
    return f"ST_AsBinary({compiler.process(element.clauses, **kw)})"


class Geometry(UserDefinedType[BaseGeometry]):
    """A shapely geometry in EPSG:4326: PostGIS ``geometry(<type>, 4326)``, or WKB in SQLite."""

    cache_ok = True

    def __init__(self, geometry_type: str = "POLYGON") -> None:
        self.geometry_type = geometry_type

    def get_col_spec(self, **kw: Any) -> str:
        """Column type in PostGIS DDL."""
        return f"geometry({self.geometry_type}, {SRID})"

    def bind_expression(self, bindvalue: Any) -> ColumnElement[Any]:
        """Wrap the WKB parameter so PostGIS builds a geometry of it."""
        return _GeomFromWKB(bindvalue, type_=self)

    def column_expression(self, colexpr: Any) -> ColumnElement[Any]:
        """Read the column back as WKB."""
        return _GeomAsWKB(colexpr, type_=self)

    def bind_processor(self, dialect: Dialect) -> Any:
        """Shapely geometry -> WKB bytes."""
        def process(value: BaseGeometry | None) -> bytes | None:
            return None if value is None else bytes(shapely.to_wkb(value))
        return process

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        """WKB bytes -> shapely geometry."""
        def process(value: bytes | memoryview | None) -> BaseGeometry | None:
            return None if value is None else shapely.from_wkb(bytes(value))
        return process


@compiles(Geometry, "sqlite")
def _geometry_sqlite(type_: Geometry, compiler: TypeCompiler, **kw: Any) -> str:
    return "BLOB"


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend; a naive datetime is refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Normalise to UTC (naive UTC for SQLite, which has no time zones)."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} given; use a UTC-aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return UTC-aware datetimes."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _in(column: str, values: tuple[str, ...]) -> CheckConstraint:
    quoted = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({quoted})", name=f"ck_{column}_allowed")


metadata = MetaData()

schema_version = Table(
    "schema_version", metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("name", String(200), nullable=False),
    Column("applied_at", UTCDateTime, nullable=False),
)


def _measurements() -> list[Column[Any]]:
    """Columns describing one sighting of a strip (shared by alerts and detections)."""
    return [
        Column("geometry", Geometry("POLYGON"), nullable=False),
        Column("score", Float, nullable=False),
        Column("length_m", Float, nullable=False),
        Column("width_m", Float, nullable=False),
        Column("bearing_deg", Float, nullable=False),
        Column("scene_id", String(200), nullable=False),
        Column("scene", String(500)),
        Column("candidate_id", String(200)),
        Column("detection_state", String(32)),
        Column("reason", Text, nullable=False, server_default=""),
        Column("aerodrome_km", Float),
        Column("nearest_aerodrome", String(32)),
    ]


alerts = Table(
    "alerts", metadata,
    Column("id", Integer, primary_key=True),
    *_measurements(),
    Column("min_lon", Float, nullable=False),
    Column("min_lat", Float, nullable=False),
    Column("max_lon", Float, nullable=False),
    Column("max_lat", Float, nullable=False),
    Column("centroid_lon", Float, nullable=False),
    Column("centroid_lat", Float, nullable=False),
    Column("state", String(32), nullable=False, server_default="new"),
    Column("priority", String(16), nullable=False, server_default="medium"),
    # True once a person set the priority; the detector then leaves it alone.
    Column("priority_locked", Boolean, nullable=False, server_default="0"),
    Column("first_seen", UTCDateTime, nullable=False),
    Column("last_seen", UTCDateTime, nullable=False),
    Column("detections", Integer, nullable=False, server_default="1"),
    Column("assignee", String(200)),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("updated_by", String(200), nullable=False),
    Column("state_changed_at", UTCDateTime),
    # ISO 3166-1 alpha-2 of the country holding the centroid (None at sea); schema version 2.
    Column("country", String(2)),
    _in("state", ALERT_STATES),
    _in("priority", PRIORITIES),
    CheckConstraint("version >= 1", name="ck_version_positive"),
    Index("ix_alerts_bbox", "min_lon", "max_lon", "min_lat", "max_lat"),
    Index("ix_alerts_state", "state"),
    Index("ix_alerts_assignee", "assignee"),
    Index("ix_alerts_country", "country"),
)

detections = Table(
    "detections", metadata,
    Column("id", Integer, primary_key=True),
    Column("alert_id", Integer, ForeignKey("alerts.id"), nullable=False),
    *_measurements(),
    Column("detected_at", UTCDateTime, nullable=False),
    Column("priority", String(16)),
    Column("recorded_at", UTCDateTime, nullable=False),
    # |strip-to-flank visible ratio - 1| (geo.detect.scene.bare_contrast): what the alert's
    # lifecycle compares between sightings to call a strip overgrown; None when not given.
    Column("bare_contrast", Float),
    UniqueConstraint("alert_id", "scene_id", name="uq_detections_alert_scene"),
)

#: Looks that saw an alert's ground clearly without the strip: a detection run over a scene
#: that covers the alert, clear of clouds and nodata there, found no candidate on it. With the
#: detections, they give the alert's lifecycle (destroyed, reopened, new) across runs.
absences = Table(
    "absences", metadata,
    Column("id", Integer, primary_key=True),
    Column("alert_id", Integer, ForeignKey("alerts.id"), nullable=False),
    Column("scene_id", String(200), nullable=False),
    Column("observed_at", UTCDateTime, nullable=False),  # the scene's acquisition
    Column("clear_share", Float, nullable=False),  # share of the strip's pixels seen clearly
    Column("recorded_at", UTCDateTime, nullable=False),
    UniqueConstraint("alert_id", "scene_id", name="uq_absences_alert_scene"),
    CheckConstraint("clear_share >= 0 AND clear_share <= 1", name="ck_absences_clear_share"),
)

assignments = Table(
    "assignments", metadata,
    Column("id", Integer, primary_key=True),
    Column("alert_id", Integer, ForeignKey("alerts.id"), nullable=False, index=True),
    Column("assignee", String(200), nullable=False),
    Column("assigned_by", String(200), nullable=False),
    Column("assigned_at", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime),
    Column("ended_by", String(200)),
)

comments = Table(
    "comments", metadata,
    Column("id", Integer, primary_key=True),
    Column("alert_id", Integer, ForeignKey("alerts.id"), nullable=False, index=True),
    Column("author", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("body", Text, nullable=False),
)

attachments = Table(
    "attachments", metadata,
    Column("id", Integer, primary_key=True),
    Column("alert_id", Integer, ForeignKey("alerts.id"), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("label", String(500), nullable=False, server_default=""),
    Column("taken_at", UTCDateTime),
    Column("media_type", String(100), nullable=False),
    Column("content", LargeBinary),
    Column("path", Text),
    Column("size_bytes", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("width_px", Integer),
    Column("height_px", Integer),
    Column("meta", Text, nullable=False, server_default="{}"),
    Column("created_by", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("content IS NOT NULL OR path IS NOT NULL", name="ck_attachment_has_data"),
)

audit_log = Table(
    "audit_log", metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(200), nullable=False),
    # No foreign key: the log outlives whatever it describes.
    Column("alert_id", Integer, index=True),
    Column("action", String(32), nullable=False),
    Column("field", String(64)),
    Column("old_value", Text),
    Column("new_value", Text),
    Column("request_id", String(200)),
)

applied_requests = Table(
    "applied_requests", metadata,
    Column("request_id", String(200), primary_key=True),
    Column("alert_id", Integer, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("applied_at", UTCDateTime, nullable=False),
)


# -- schema version 3: subscriptions, the in-app inbox and the delivery outbox ---------------

subscriptions = Table(
    "subscriptions", metadata,
    Column("id", Integer, primary_key=True),
    Column("user_name", String(200), nullable=False),
    Column("area_name", String(200), nullable=False),
    # A copy of the saved area when the user subscribed: renaming or redrawing the area file
    # later does not silently change what someone follows.
    Column("geometry", Geometry("GEOMETRY"), nullable=False),
    Column("min_lon", Float, nullable=False),
    Column("min_lat", Float, nullable=False),
    Column("max_lon", Float, nullable=False),
    Column("max_lat", Float, nullable=False),
    Column("email", String(320)),
    Column("webhook_url", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("active", Boolean, nullable=False, server_default="1"),
    Column("ended_at", UTCDateTime),
    # Language of the e-mails (en, es, pt): the page's when the user followed the area. None
    # (followed before version 10): English, as those e-mails were.
    Column("language", String(8)),
    Index("ix_subscriptions_bbox", "active", "min_lon", "max_lon", "min_lat", "max_lat"),
    Index("ix_subscriptions_user", "user_name"),
)

#: ``imagery_change``: a detection run changed an alert's state on the imagery (version 9).
NOTIFICATION_KINDS: tuple[str, ...] = ("new_alert", "state_change", "imagery_change")

notifications = Table(
    "notifications", metadata,
    Column("id", Integer, primary_key=True),
    Column("user_name", String(200), nullable=False),
    Column("alert_id", Integer, ForeignKey("alerts.id"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("area_name", String(200), nullable=False),
    Column("old_state", String(32)),
    Column("new_state", String(32)),
    Column("actor", String(200), nullable=False),
    Column("summary", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("read_at", UTCDateTime),
    _in("kind", NOTIFICATION_KINDS),
    Index("ix_notifications_user", "user_name", "read_at"),
)

DELIVERY_CHANNELS: tuple[str, ...] = ("email", "webhook")
DELIVERY_STATUSES: tuple[str, ...] = ("pending", "sent", "failed")

deliveries = Table(
    "deliveries", metadata,
    Column("id", Integer, primary_key=True),
    Column("notification_id", Integer, ForeignKey("notifications.id"), nullable=False,
           index=True),
    Column("channel", String(16), nullable=False),
    Column("target", Text, nullable=False),
    Column("status", String(16), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text),
    # When the next try may start; None once sent or given up.
    Column("next_attempt_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    Column("language", String(8)),  # of the subscription that asked for it (None: English)
    _in("channel", DELIVERY_CHANNELS),
    _in("status", DELIVERY_STATUSES),
    Index("ix_deliveries_due", "next_attempt_at"),
)

#: The history of planners' snapshots (``geo.export``): the manifest of each, and the folder
#: (relative to the data folder) that holds its files. The files stay on disk; the store says
#: which snapshots exist, who made them and what they held, for every server of a team.
snapshots = Table(
    "snapshots", metadata,
    Column("snapshot_id", String(64), primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("title", Text, nullable=False),
    Column("folder", Text, nullable=False),
    Column("manifest", Text, nullable=False),
    Column("manifest_sha256", String(64), nullable=False),
    Index("ix_snapshots_created", "created_at"),
)


# -- schema version 5: user accounts (geo.store.users) ---------------------------------------

USER_ROLES: tuple[str, ...] = tuple(r.value for r in Role)

#: Local accounts. Sign-ins, failed sign-ins and every change go to ``audit_log`` (no secret in
#: it); the lockout state (failed_count, locked_until) lives here. ``password_hash`` is None for
#: an account that signs in only through the OIDC provider.
users = Table(
    "users", metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(64), nullable=False, unique=True),  # lower case, normalised
    Column("display_name", String(200), nullable=False, server_default=""),
    Column("role", String(16), nullable=False),
    Column("password_hash", String(255)),
    Column("active", Boolean, nullable=False, server_default="1"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("password_changed_at", UTCDateTime),
    Column("failed_count", Integer, nullable=False, server_default="0"),
    Column("locked_until", UTCDateTime),
    Column("last_sign_in_at", UTCDateTime),
    # schema version 11: the interface language the user last chose (None: the deployment's)
    Column("language", String(8)),
    _in("role", USER_ROLES),
    CheckConstraint("failed_count >= 0", name="ck_users_failed_count"),
)


# -- schema version 6: background jobs (geo.jobs) ---------------------------------------------

JOB_KINDS: tuple[str, ...] = ("detect", "ingest", "export")
JOB_STATES: tuple[str, ...] = (
    "queued", "running", "cancelling", "cancelled", "succeeded", "failed")
#: States of a job that is not finished: at most one such job per dedupe key.
JOB_ACTIVE_STATES: tuple[str, ...] = ("queued", "running", "cancelling")

jobs = Table(
    "jobs", metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(16), nullable=False),
    # SHA-256 of the kind and the canonical JSON of the parameters (geo.jobs.dedupe_key).
    Column("dedupe_key", String(64), nullable=False),
    Column("params", Text, nullable=False),
    Column("state", String(16), nullable=False, server_default="queued"),
    Column("progress", Float, nullable=False, server_default="0"),
    Column("message", Text, nullable=False, server_default=""),
    Column("created_by", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime),
    Column("heartbeat_at", UTCDateTime),
    Column("finished_at", UTCDateTime),
    Column("error", Text),
    Column("result", Text),
    # Which runner holds it: "<host>:<pid>:<random>"; None while queued.
    Column("owner", String(200)),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("max_attempts", Integer, nullable=False, server_default="1"),
    _in("kind", JOB_KINDS),
    _in("state", JOB_STATES),
    CheckConstraint("progress >= 0 AND progress <= 1", name="ck_jobs_progress"),
    Index("ix_jobs_state_created", "state", "created_at"),
    Index("ix_jobs_created_by", "created_by"),
)
# Two users starting the same job get one: the database refuses a second unfinished job with
# the same key (a partial unique index, on both backends), whatever the race.
Index("uq_jobs_active_dedupe", jobs.c.dedupe_key, unique=True,
      sqlite_where=jobs.c.state.in_(JOB_ACTIVE_STATES),
      postgresql_where=jobs.c.state.in_(JOB_ACTIVE_STATES))


# -- schema version 7: the imagery catalogue (geo.store.scenes) -------------------------------

scenes = Table(
    "scenes", metadata,
    Column("scene_id", String(200), primary_key=True),
    # Relative to the data folder, POSIX separators ("scenes/<id>.tif"); never absolute.
    Column("path", Text, nullable=False),
    Column("footprint", Geometry("POLYGON"), nullable=False),
    Column("acquired_at", UTCDateTime, nullable=False),
    Column("sensor", String(100), nullable=False, server_default=""),
    Column("bands", Text, nullable=False),  # band roles in file order, comma-separated
    Column("resolution_m", Float, nullable=False),
    Column("crs", Text, nullable=False),  # the CRS the file came in (its copy may be on UTM)
    Column("cloud_share", Float),  # None without a mask band
    Column("sha256", String(64), nullable=False),
    Column("registered_at", UTCDateTime, nullable=False),
    Column("registered_by", String(200), nullable=False),
    CheckConstraint("resolution_m > 0", name="ck_scenes_resolution_m"),
    CheckConstraint("cloud_share IS NULL OR (cloud_share >= 0 AND cloud_share <= 1)",
                    name="ck_scenes_cloud_share"),
    Index("ix_scenes_acquired_at", "acquired_at"),
)
