"""Open the alert store: pick the backend from a URL, tune it, migrate it.

SQLite (the embedded default, ``<data dir>/atalaya.sqlite3``) runs in WAL mode with
``synchronous=FULL`` (an acknowledged verdict survives a power cut), foreign keys on and a busy
timeout; every write transaction starts with ``BEGIN IMMEDIATE`` so concurrent writers queue
for the lock instead of failing half-way. PostgreSQL/PostGIS (``ATALAYA_DATABASE_URL=
postgresql+psycopg://user@host/db``) runs at READ COMMITTED with row locks (``SELECT ... FOR
UPDATE``) and the version check doing the rest.

A :class:`Store` holds an engine with a connection pool: open one per process (after a fork or
in each ``multiprocessing`` worker), never share it across processes. Threads of one process
(Streamlit sessions) share one store (``st.cache_resource``); on SQLite its writes queue on a
lock in the process, which keeps the slowest waits short (see ``bench/bench_store.py``).

Write transactions go through :func:`in_transaction`, which runs them again when PostgreSQL
aborted them for a deadlock and turns a SQLite lock timeout into a
:class:`~geo.errors.StoreError`.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, DBAPIError, OperationalError

from geo.errors import ConfigError, StoreError
from geo.settings import load_settings
from geo.store.migrations import current_version, latest_version, migrate

_LOG = logging.getLogger("atalaya.store")

SQLITE_FILE = "atalaya.sqlite3"
BUSY_TIMEOUT_S = 30.0  # the guide's measurements: 16 writers need more than 5 s at the tail
_READONLY = "atalaya_readonly"
T = TypeVar("T")


@dataclass(frozen=True)
class Store:
    """An open alert store: the engine and which backend it is.

    Attributes
    ----------
    engine
        SQLAlchemy engine (connection pool) of this process.
    backend
        ``"sqlite"`` or ``"postgresql"``.
    write_lock
        Serialises this process's SQLite write transactions (unused on PostgreSQL).
    """

    engine: Engine
    backend: str
    # SQLite lets one writer in at a time and makes the others poll with growing sleeps (up
    # to 100 ms), so under load a few wait for seconds. Threads of one process (Streamlit
    # sessions) queue here instead and are handed the database as soon as it is free.
    write_lock: threading.Lock = field(default_factory=threading.Lock, compare=False,
                                       repr=False)

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def url(self) -> str:
        """The database URL with any password hidden."""
        return self.engine.url.render_as_string(hide_password=True)


def default_url(environ: Mapping[str, str] | None = None) -> str:
    """``ATALAYA_DATABASE_URL`` if set, else the SQLite file under the data folder.

    Examples
    --------
    >>> default_url({"ATALAYA_DATABASE_URL": "postgresql+psycopg://a@db/atalaya"})
    'postgresql+psycopg://a@db/atalaya'
    >>> default_url({"ATALAYA_DATA_DIR": "/srv/atalaya"})
    'sqlite:////srv/atalaya/atalaya.sqlite3'
    """
    env = os.environ if environ is None else environ
    url = env.get("ATALAYA_DATABASE_URL", "").strip()
    if url:
        return url
    return f"sqlite:///{load_settings(env).data_dir / SQLITE_FILE}"


def _sqlite_engine(url: str, busy_timeout_s: float) -> Engine:
    parsed = make_url(url)
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        raise ConfigError(f"{url!r}: the SQLite store needs a file path "
                          "(sqlite:////absolute/path/atalaya.sqlite3), not memory")
    Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": busy_timeout_s})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: object) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (below)
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        _wal(cur, busy_timeout_s)
        for pragma in ("synchronous=FULL", "foreign_keys=ON"):
            cur.execute(f"PRAGMA {pragma}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # IMMEDIATE takes the write lock up front: a deferred transaction that reads and then
        # writes fails at once with "database is locked" when another writer got in between.
        readonly = conn.get_execution_options().get(_READONLY, False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

    return engine


def _wal(cur: sqlite3.Cursor, timeout_s: float) -> None:
    """Put the database in WAL mode, waiting up to ``timeout_s`` seconds for other writers.

    Switching a new file from its rollback journal needs an exclusive lock, and SQLite
    answers "database is locked" at once instead of calling the busy handler when another
    connection holds the write lock (processes opening and migrating one new store together:
    ``tests/store/test_concurrency.py`` failed so, about one run in eight on a loaded
    machine). A file already in WAL mode answers without locking.
    """
    deadline = time.monotonic() + timeout_s
    pause = 0.005
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(2 * pause, 0.2)


def _postgres_engine(url: str) -> Engine:
    parsed = make_url(url)
    # Keep the URL's own libpq options (e.g. -csearch_path=team,public) and add UTC.
    given = parsed.query.get("options", "")
    options = " ".join([*(given if isinstance(given, tuple) else [given]), "-c timezone=UTC"])
    return create_engine(parsed.difference_update_query(["options"]), pool_pre_ping=True,
                         isolation_level="READ COMMITTED",
                         connect_args={"connect_timeout": 10, "options": options.strip()})


def open_store(url: str | None = None, *, busy_timeout_s: float = BUSY_TIMEOUT_S,
               migrate_schema: bool = True) -> Store:
    """Connect to the store at ``url`` (default :func:`default_url`) and migrate its schema.

    Parameters
    ----------
    url
        ``sqlite:///path/file.sqlite3`` or ``postgresql+psycopg://user@host:port/db``.
    busy_timeout_s
        SQLite only: how long a writer waits for another one before giving up.
    migrate_schema
        Apply pending migrations (default). Without it, a database that is not at the
        latest version is refused.

    Raises
    ------
    ConfigError
        The URL is malformed or names an unsupported backend.
    StoreError
        The database cannot be reached, is not a database (a damaged file), or its schema is
        newer than this code.
    """
    url = url or default_url()
    try:
        backend = make_url(url).get_backend_name()
    except ArgumentError as exc:
        raise ConfigError(f"database URL {url!r} is malformed: {exc}") from exc
    if backend == "sqlite":
        engine = _sqlite_engine(url, busy_timeout_s)
    elif backend == "postgresql":
        engine = _postgres_engine(url)
    else:
        raise ConfigError(f"database URL {url!r}: expected sqlite:/// or postgresql+psycopg://")
    store = Store(engine=engine, backend=backend)
    try:
        with write_tx(store) as conn:
            _check_or_migrate(conn, migrate_schema)
    except OperationalError as exc:
        store.close()
        raise StoreError(f"cannot open the store at {store.url}: {exc.orig}") from exc
    except DatabaseError as exc:  # not a database at all: a damaged or foreign file
        store.close()
        raise StoreError(f"the store at {store.url} is not a readable database ({exc.orig}); "
                         "restore it from a backup, or move it away to start an empty "
                         "one") from exc
    return store


def _check_or_migrate(conn: Connection, migrate_schema: bool) -> None:
    if migrate_schema:
        migrate(conn)
    elif current_version(conn) != latest_version():
        raise StoreError(f"the database schema is at version {current_version(conn)}, "
                         f"expected {latest_version()}; open it with migrations on")


@contextmanager
def write_tx(store: Store) -> Iterator[Connection]:
    """One write transaction: committed on success, rolled back on any exception."""
    if store.backend != "sqlite":
        with store.engine.begin() as conn:
            yield conn
        return
    with store.write_lock, store.engine.begin() as conn:
        yield conn


#: PostgreSQL aborts one of two transactions that wait on each other (deadlock, 40P01) or
#: cannot be serialised (40001); the whole transaction rolled back, so running it again is safe.
RETRY_SQLSTATES = frozenset({"40P01", "40001"})
RETRIES = 3


def in_transaction(store: Store, work: Callable[[Connection], T]) -> T:
    """Run ``work(conn)`` in one write transaction, again if the server aborted it (deadlock).

    Raises
    ------
    StoreError
        SQLite stayed locked by another writer longer than the busy timeout; or the database
        could not write at all (disk full, read-only file, I/O error, server gone): the
        transaction was rolled back, and the caller says so instead of failing the page (a
        full disk blanked the alert page and lost the comment being typed, 2026-12-05).
    """
    for attempt in range(RETRIES):
        try:
            with write_tx(store) as conn:
                return work(conn)
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) in RETRY_SQLSTATES and attempt + 1 < RETRIES:
                continue
            if store.backend == "sqlite" and "locked" in str(exc.orig):
                raise StoreError(f"the store {store.url} stayed locked by another writer; "
                                 "nothing was written, try again") from exc
            if isinstance(exc, OperationalError):
                _LOG.error("The store %s could not write: %s", store.url, exc.orig)
                raise StoreError(f"the store {store.url} could not write ({exc.orig}); nothing "
                                 "was written: tell whoever runs the server (is its disk full, "
                                 "or the database read-only?)") from exc
            raise
    raise AssertionError("unreachable: the last attempt returns or raises")


@contextmanager
def read_tx(store: Store) -> Iterator[Connection]:
    """One read-only transaction (a consistent snapshot; takes no write lock on SQLite)."""
    with store.engine.connect() as conn:
        conn.execution_options(**{_READONLY: True})
        with conn.begin():
            yield conn
