# tests/shell/cli_lib.sh: helpers for the `clientflow` command tests
# (tests/shell/test_cli_*.sh), sourced, not run.  ctest provides
# CF_TEST_PGHOST (socket dir), CF_TEST_PGPORT, CF_CLIENTFLOW (the program)
# and CF_SOURCE_DIR.  Every database a test makes is dropped when it exits.
set -euo pipefail

: "${CF_TEST_PGHOST:?run under ctest}" "${CF_TEST_PGPORT:?}" "${CF_CLIENTFLOW:?}" "${CF_SOURCE_DIR:?}"
CF=$CF_CLIENTFLOW
cf_test_name=$(basename "$0" .sh)
cf_dbs=()
cf_roles=()
cf_tmp=$(mktemp -d)
cf_failed=0

psql_admin() { psql -X -q -v ON_ERROR_STOP=1 -h "$CF_TEST_PGHOST" -p "$CF_TEST_PGPORT" -U postgres "$@"; }

cleanup() {
  for db in "${cf_dbs[@]}"; do
    psql_admin -d postgres -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
  done
  for role in "${cf_roles[@]}"; do
    psql_admin -d postgres -c "DROP ROLE IF EXISTS \"$role\"" >/dev/null 2>&1 || true
  done
  rm -rf "$cf_tmp"
}
trap cleanup EXIT
# Run from a private directory, so no stray ./.env is read.
cd "$cf_tmp"

# url DB [USER]: the connection URL of database DB on the test cluster.
url() { echo "postgresql://${2:-postgres}@/$1?host=$CF_TEST_PGHOST&port=$CF_TEST_PGPORT"; }

# new_db NAME [TEMPLATE]: creates NAME_<pid> (empty, or cloned from TEMPLATE), prints its name.
new_db() {
  local db="${1}_$$" template=${2:-template0} tries=0
  # Cloning fails while another session is connected to the template; retry briefly.
  until psql_admin -d postgres -c "CREATE DATABASE \"$db\" TEMPLATE \"$template\"" >/dev/null 2>"$cf_tmp/createdb.err"; do
    tries=$((tries + 1))
    if [ $tries -ge 20 ]; then cat "$cf_tmp/createdb.err" >&2; return 1; fi
    psql_admin -d postgres -c "SELECT pg_sleep(0.25)" >/dev/null
  done
  cf_dbs+=("$db")
  echo "$db"
}

# ensure_server_role ROLE: makes ROLE a login role the sync server may use
# (granted authenticator and cf_sync_server); idempotent, and safe when
# several tests create it at once (roles are cluster-global).
ensure_server_role() {
  psql_admin -d postgres >/dev/null <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$1') THEN
    BEGIN CREATE ROLE $1 LOGIN;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END;
  END IF;
  BEGIN GRANT authenticator, cf_sync_server TO $1;
  EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END;
END \$\$;
SQL
}

# q DB SQL: runs SQL as postgres, prints the unaligned result.
q() { psql_admin -d "$1" -At -c "$2"; }

# run CMD...: runs clientflow with stdout/stderr captured into $out / $err and status $rc.
run() {
  set +e
  "$CF" "$@" >"$cf_tmp/out" 2>"$cf_tmp/err"
  rc=$?
  set -e
  out=$(cat "$cf_tmp/out")
  err=$(cat "$cf_tmp/err")
}

fail() {
  echo "FAIL [$cf_test_name] $*" >&2
  echo "--- stdout:" >&2; echo "$out" >&2
  echo "--- stderr:" >&2; echo "$err" >&2
  exit 1
}
pass() { echo "ok   $*"; }

expect_rc() { [ "$rc" = "$1" ] || fail "$2: exit $rc, expected $1"; }
expect_fail() { [ "$rc" != 0 ] || fail "$1: exit 0, expected failure"; }
expect_out() { grep -qF -- "$1" <<<"$out" || fail "$2: stdout lacks '$1'"; }
expect_no_out() { ! grep -qF -- "$1" <<<"$out" || fail "$2: stdout has '$1'"; }
expect_one_err_line() {
  local n
  n=$(printf '%s' "$err" | grep -c '' || true)
  [ "$n" = 1 ] || fail "$1: $n lines on stderr, expected exactly one"
  [ -n "${2:-}" ] && { grep -qF -- "$2" <<<"$err" || fail "$1: stderr lacks '$2'"; }
  return 0
}
expect_no_err() { [ -z "$err" ] || fail "$1: unexpected stderr"; }

# The number of migration files this source tree has.
n_migrations() { ls "$CF_SOURCE_DIR"/sql/postgres/[0-9]*_*.sql | wc -l; }

# The number of tables in the registry, core/tables.h (one X(...) line each).
n_tables() { grep -c '^ *X([0-9]' "$CF_SOURCE_DIR/core/tables.h"; }

# union_over_tables DB FORMAT: FORMAT (a format() string, %1$L the table's
# name as a literal, %1$I as an identifier) once per table of the registry
# (cf_sync.tables), joined with UNION ALL.
union_over_tables() {
  q "$1" "SELECT string_agg(format('$2', t.name), ' UNION ALL ' ORDER BY t.table_no)
          FROM cf_sync.tables AS t"
}

# row_counts DB: "table count" per line for the registry's tables.
row_counts() {
  q "$1" "SELECT string_agg(t || ' ' || n, ', ' ORDER BY t) FROM (
    $(union_over_tables "$1" 'SELECT %1$L t, count(*) n FROM %1$I')) s"
}

# ids_digest DB: one digest over the ids of every row of the registry's
# tables, so two states with the same rows (not just the same counts)
# compare equal.
ids_digest() {
  q "$1" "SELECT md5(string_agg(t || ':' || id, ',' ORDER BY t, id)) FROM (
    $(union_over_tables "$1" 'SELECT %1$L t, id::text FROM %1$I')) s"
}
