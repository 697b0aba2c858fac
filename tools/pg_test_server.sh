#!/usr/bin/env bash
# Throwaway PostgreSQL + PostGIS server on 127.0.0.1 for the store tests and benchmark.
#
#   tools/pg_test_server.sh start   # initdb a cluster under a temp dir, start it, create the
#                                   # database with the postgis extension, print an export line
#   tools/pg_test_server.sh stop    # stop it and delete the temp dir
#   tools/pg_test_server.sh url     # print the URL of a running server
#
# Usage in a shell or CI script:  eval "$(tools/pg_test_server.sh start)"
# which exports ATALAYA_TEST_DATABASE_URL=postgresql+psycopg://...
#
# The binaries come from Debian's packages (postgresql, postgresql-15-postgis-3; .ci/run installs
# them). PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres`
# system user (created by the Debian package; made here if it is missing). Authentication is
# `trust` on loopback only: this cluster holds test data and lives as long as the run.
#
# Settings (environment): PG_TEST_DIR (default /tmp/atalaya-pg-test), PG_TEST_PORT (default:
# the first free port from 55432), PG_TEST_DB (default atalaya_test), PG_BINDIR (default: the
# newest /usr/lib/postgresql/*/bin), PG_TEST_DURABLE (default 1: fsync and synchronous commits on,
# as in production, which the store benchmark measures; 0: both off, for tests, which check what
# the store does and not how fast the disk flushes: a killed client never needs the server's
# fsync, only a power cut would).
set -euo pipefail

DIR="${PG_TEST_DIR:-/tmp/atalaya-pg-test}"
DB="${PG_TEST_DB:-atalaya_test}"
DB_USER=atalaya

durability() {
  if [ "${PG_TEST_DURABLE:-1}" = 0 ]; then
    echo "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  else
    echo "-c fsync=on -c synchronous_commit=on"
  fi
}

bindir() {
  if [ -n "${PG_BINDIR:-}" ]; then echo "$PG_BINDIR"; return; fi
  local found
  found="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  if [ -z "$found" ]; then
    echo "pg_test_server: no PostgreSQL binaries under /usr/lib/postgresql;" \
      "apt-get install postgresql postgresql-15-postgis-3" >&2
    exit 1
  fi
  echo "$found"
}

# Run a command as the cluster owner: ourselves, or `postgres` when we are root.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  local port="${PG_TEST_PORT:-55432}"
  if [ -n "${PG_TEST_PORT:-}" ]; then echo "$port"; return; fi
  while (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
  echo "$port"
}

url() {
  local port
  port="$(cat "$DIR/port")"
  echo "postgresql+psycopg://$DB_USER@127.0.0.1:$port/$DB"
}

start() {
  local bin port
  bin="$(bindir)"
  if [ -f "$DIR/data/postmaster.pid" ] && as_owner "$bin/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
    echo "export ATALAYA_TEST_DATABASE_URL='$(url)'"
    return
  fi
  if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
    useradd --system --home-dir /var/lib/postgresql --shell /usr/sbin/nologin postgres
  fi
  rm -rf "$DIR"
  mkdir -p "$DIR"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$DIR"
  chmod 700 "$DIR"
  port="$(free_port)"
  echo "$port" >"$DIR/port"
  as_owner "$bin/initdb" -D "$DIR/data" -U postgres --auth=trust --encoding=UTF8 \
    --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 || { cat "$DIR/initdb.log" >&2; exit 1; }
  # Loopback TCP and a socket inside the cluster directory; nothing on other interfaces.
  as_owner "$bin/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 start \
    -o "-h 127.0.0.1 -p $port -k $DIR -c max_connections=200 $(durability)" >/dev/null \
    || { cat "$DIR/server.log" >&2; exit 1; }
  local psql=("$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1 -q)
  as_owner "${psql[@]}" -d postgres -c "CREATE ROLE $DB_USER LOGIN" \
    -c "CREATE DATABASE $DB OWNER $DB_USER"
  # The extension needs a superuser to create; the tables are made by the app's own role.
  as_owner "${psql[@]}" -d "$DB" -c "CREATE EXTENSION IF NOT EXISTS postgis"
  echo "export ATALAYA_TEST_DATABASE_URL='$(url)'"
}

stop() {
  local bin
  bin="$(bindir)"
  if [ -d "$DIR/data" ]; then
    as_owner "$bin/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$DIR"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  url) url ;;
  *) echo "usage: $0 start|stop|url" >&2; exit 2 ;;
esac
