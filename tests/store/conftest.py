"""Store fixtures: the same tests on SQLite (in tmp_path) and on PostGIS (a schema per test).

PostGIS comes from ``ATALAYA_TEST_DATABASE_URL`` (``.ci/run`` starts a throwaway server with
``tools/pg_test_server.sh``); without it those tests skip, and fail under CI=true.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Polygon
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from geo.runway_geometry import oriented_rectangle
from geo.store import SmtpConfig, Store, open_store
from tests.conftest import require

PG_URL = os.environ.get("ATALAYA_TEST_DATABASE_URL", "")
BACKENDS = [pytest.param("sqlite", id="sqlite"),
            pytest.param("postgis", id="postgis", marks=pytest.mark.postgis)]


def pg_schema_url(base: str, schema: str) -> str:
    """Return the base URL with the schema first on the search path (PostGIS stays in public)."""
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema},public"})
    return url.render_as_string(hide_password=False)


def new_backend_url(backend: str, folder: os.PathLike[str]) -> tuple[str, str | None]:
    """Return a fresh, empty store URL for the backend, and the PostGIS schema to drop after."""
    if backend == "sqlite":
        return f"sqlite:///{os.fspath(folder)}/alerts.sqlite3", None
    require(bool(PG_URL), "ATALAYA_TEST_DATABASE_URL is not set; start a server with "
            "`eval \"$(tools/pg_test_server.sh start)\"`")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    admin.dispose()
    return pg_schema_url(PG_URL, schema), schema


def drop_schema(schema: str | None) -> None:
    """Remove a test's PostGIS schema and everything in it."""
    if schema is None:
        return
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    admin.dispose()


def undo_migration(store_url: str, version: int, *undo_sql: str) -> None:
    """Take a store back to before migration ``version``: run ``undo_sql``, forget the step.

    Then reopening the store must apply the step again, as on a database released before it.
    """
    from sqlalchemy import create_engine

    from geo.store import tables as t

    engine = create_engine(store_url)
    with engine.begin() as conn:
        for sql in undo_sql:
            conn.exec_driver_sql(sql)
        conn.execute(t.schema_version.delete().where(t.schema_version.c.version == version))
    engine.dispose()


def applied_versions(store: Store) -> set[int]:
    """Return the schema versions recorded as applied in ``store``."""
    from sqlalchemy import select

    from geo.store import tables as t
    from geo.store.engine import read_tx

    with read_tx(store) as conn:
        return set(conn.execute(select(t.schema_version.c.version)).scalars())


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[str]:
    """URL of an empty store on each backend."""
    url, schema = new_backend_url(request.param, tmp_path_factory.mktemp("store"))
    yield url
    drop_schema(schema)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """Open a migrated, empty store on each backend."""
    opened = open_store(store_url)
    yield opened
    opened.close()


def strip(lon: float, lat: float, *, length_m: float = 1000.0, width_m: float = 25.0,
          bearing_deg: float = 45.0) -> Polygon:
    """Build an oriented rectangle in EPSG:4326 around (lon, lat), sized in metres."""
    return oriented_rectangle(lon, lat, length_m=length_m, width_m=width_m,
                              bearing_deg=bearing_deg)


def candidates(rows: list[dict[str, Any]]) -> gpd.GeoDataFrame:
    """Build a CANDIDATES-like frame; each row needs lon, lat, scene_id and a date."""
    records, geoms = [], []
    for k, r in enumerate(rows):
        geoms.append(strip(r["lon"], r["lat"], bearing_deg=r.get("bearing_deg", 45.0)))
        records.append({
            "candidate_id": f"{r['scene_id']}-{k:04d}", "scene_id": r["scene_id"],
            "scene": f"{r['scene_id']}.tif",
            "detected_at": pd.Timestamp(str(r["date"]), tz="UTC"),
            "score": r.get("score", 0.8), "length_m": 1000.0, "width_m": 25.0,
            "bearing_deg": r.get("bearing_deg", 45.0), "state": r.get("state", "new"),
            "reason": r.get("reason", "1.0 km long, 25 m wide"),
            "priority": r.get("priority", "high"),
            **({"bare_contrast": r["bare_contrast"]} if "bare_contrast" in r else {}),
        })
    return gpd.GeoDataFrame(records, geometry=geoms, crs=4326)


NOW = datetime(2024, 5, 1, tzinfo=UTC)


@pytest.fixture
def postgis_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """Open an empty store on PostGIS only (for what exists only there)."""
    url, schema = new_backend_url("postgis", tmp_path_factory.mktemp("store"))
    opened = open_store(url)
    yield opened
    opened.close()
    drop_schema(schema)


def free_port() -> int:
    """Return a TCP port free on 127.0.0.1 now (nothing listens on it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SmtpSink:
    """aiosmtpd handler keeping every envelope it receives."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        self.envelopes.append(envelope)
        return "250 Message accepted"


@pytest.fixture
def smtp_server() -> Iterator[tuple[SmtpConfig, SmtpSink]]:
    """Run a real SMTP server (aiosmtpd) on a free port of 127.0.0.1; yield it and its sink."""
    from aiosmtpd.controller import Controller

    sink = SmtpSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpConfig(host="127.0.0.1", port=port, sender="atalaya@example.org",
                         timeout_s=5), sink
    finally:
        controller.stop()


class Receiver(BaseHTTPRequestHandler):
    """Record each POST; answer ``status`` (a redirect points at a dead port)."""

    received: list[tuple[dict[str, str], bytes, str]]
    status = 204

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers.items()), body, self.path))
        self.send_response(self.status)
        if self.status in (301, 302, 307):
            self.send_header("Location", "http://127.0.0.1:9/elsewhere")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        """Keep the test output quiet."""


@pytest.fixture
def webhook(monkeypatch) -> Iterator[tuple[str, type[Receiver]]]:
    """Start a webhook receiver on 127.0.0.1 and allow it (loopback is refused by default).

    Yields its URL and its handler class, whose ``received`` lists (headers, body, path) of
    each POST and whose ``status`` is the HTTP status it answers.
    """
    monkeypatch.setenv("ATALAYA_WEBHOOK_ALLOW", "127.0.0.1")
    handler = type("TestReceiver", (Receiver,), {"received": [], "status": 204})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", handler
    finally:
        server.shutdown()
        server.server_close()
