#!/usr/bin/env bash
# Starts or stops a private PostgreSQL 15 cluster for tests and the demo.
#
#   scripts/pgcluster.sh start DIR PORT [CLIENTFLOW]   init if needed, start, and
#                                                      (with CLIENTFLOW) migrate
#                                                      a template database cf_template
#   scripts/pgcluster.sh stop DIR PORT                 stop it (fast shutdown)
#
# The cluster lives in DIR/data, listens only on a Unix socket in DIR/sock and
# on 127.0.0.1:PORT, and logs to DIR/log.  PostgreSQL refuses to run as root,
# so as root it runs as the `postgres` user (runuser); DIR is handed to that
# user.  Authentication is `trust` for local connections: this cluster is for
# tests on one machine and never listens beyond loopback.
set -euo pipefail

cmd=${1:?usage: pgcluster.sh start|stop DIR PORT [CLIENTFLOW]}
dir=${2:?DIR}
port=${3:?PORT}
clientflow=${4:-}

pgbin=${PG_BIN:-/usr/lib/postgresql/15/bin}
if [ ! -x "$pgbin/pg_ctl" ]; then
  echo "pgcluster: PostgreSQL 15 not found in $pgbin (run scripts/deps.sh)" >&2
  exit 1
fi

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Where the cluster really lives.  Normally DIR itself; but when DIR sits in a
# tree the postgres user cannot reach (a clone under a private home), the data
# goes to a private directory under /tmp, named in DIR/base, and DIR/sock is
# a link to its socket directory, so clients still connect through DIR/sock.
base_of() {
  if [ -f "$dir/base" ]; then cat "$dir/base"; else echo "$dir"; fi
}

case "$cmd" in
start)
  mkdir -p "$dir"
  base=$(base_of)
  if [ "$(id -u)" = 0 ] && [ "$base" = "$dir" ]; then
    mkdir -p "$dir/sock"
    chown -R postgres:postgres "$dir"
    if ! runuser -u postgres -- test -w "$dir"; then
      # A parent directory is private: keep the cluster under /tmp instead.
      base=$(mktemp -d /tmp/clientflow-pg.XXXXXX)
      chmod 755 "$base"
      echo "$base" >"$dir/base"
      rm -rf "$dir/sock"
      mkdir -p "$base/sock"
      ln -s "$base/sock" "$dir/sock"
      chown -R postgres:postgres "$base"
      echo "pgcluster: $dir is not reachable by user postgres; cluster data in $base"
    fi
  fi
  mkdir -p "$base/sock"
  [ "$(id -u)" = 0 ] && chown -R postgres:postgres "$base"
  if [ ! -f "$base/data/PG_VERSION" ]; then
    as_pg "$pgbin/initdb" -D "$base/data" -U postgres --auth=trust \
      --encoding=UTF8 --locale=C.UTF-8 >"$base/initdb.log" 2>&1 ||
      { cat "$base/initdb.log" >&2; exit 1; }
  fi
  if as_pg "$pgbin/pg_ctl" -D "$base/data" status >/dev/null 2>&1; then
    as_pg "$pgbin/pg_ctl" -D "$base/data" -m fast -w stop >/dev/null
  fi
  log_size=$(stat -c %s "$base/log" 2>/dev/null || echo 0)
  as_pg "$pgbin/pg_ctl" -D "$base/data" -l "$base/log" -w -t 60 \
    -o "-p $port -k $base/sock -c listen_addresses=127.0.0.1 -c max_connections=400 -c fsync=off -c shared_buffers=128MB -c max_wal_size=1GB -c timezone=UTC" \
    start >/dev/null || {
    tail -20 "$base/log" >&2
    if tail -c +"$((log_size + 1))" "$base/log" | grep -q 'could not bind.*Address already in use'; then
      echo "pgcluster: port $port is taken (a server, or a connection's local port:" \
        "it lies in Linux's ephemeral range); use another one: CF_TEST_PG_PORT=N" \
        "scripts/test.sh (without CF_TEST_PG_PORT it picks a free one), or configure" \
        "a build with -DCF_TEST_PG_PORT=N" >&2
    fi
    exit 1
  }
  echo "pgcluster: started on port $port, socket $dir/sock"
  if [ -n "$clientflow" ]; then
    psql() { command psql -X -q -v ON_ERROR_STOP=1 -h "$dir/sock" -p "$port" -U postgres "$@"; }
    psql -d postgres -c "DROP DATABASE IF EXISTS cf_template" >/dev/null
    psql -d postgres -c "CREATE DATABASE cf_template" >/dev/null
    DATABASE_URL="postgresql://postgres@/cf_template?host=$dir/sock&port=$port" \
      "$clientflow" migrate up
    echo "pgcluster: template database cf_template migrated"
  fi
  ;;
stop)
  base=$(base_of)
  if [ -f "$base/data/PG_VERSION" ]; then
    as_pg "$pgbin/pg_ctl" -D "$base/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  if [ "$base" != "$dir" ]; then
    rm -rf "$base" "$dir/base" "$dir/sock"
  fi
  echo "pgcluster: stopped"
  ;;
*)
  echo "usage: pgcluster.sh start|stop DIR PORT [CLIENTFLOW]" >&2
  exit 2
  ;;
esac
