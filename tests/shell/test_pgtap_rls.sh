#!/usr/bin/env bash
# test_pgtap_rls.sh: runs the pgTAP suite of the master's security layer
# (tests/pgtap/*.sql, described in docs/security.md) with pg_prove.
#
# It clones the migrated template database (cf_template) into a fresh
# database named after this test and its process id, installs pgTAP there,
# runs every tests/pgtap/*.sql file, and drops the database on exit, also on
# failure or interruption.  Exit status: 0 when every file passes.
#
# Environment (set by ctest, see cmake/tests.cmake):
#   CF_TEST_PGHOST      socket directory of the private cluster
#   CF_TEST_PGPORT      its port
#   CF_TEST_PGTEMPLATE  the migrated template database (default cf_template)
#   CF_SOURCE_DIR       the source root (default: two levels above this file)
set -euo pipefail

host=${CF_TEST_PGHOST:?CF_TEST_PGHOST: socket directory of the test cluster}
port=${CF_TEST_PGPORT:?CF_TEST_PGPORT: port of the test cluster}
template=${CF_TEST_PGTEMPLATE:-cf_template}
src=${CF_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
db="test_pgtap_rls_$$"

for tool in psql pg_prove; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "test_pgtap_rls: $tool not found (apt-get install postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl)" >&2
    exit 1
  fi
done

psql_admin() {
  psql -X -q -v ON_ERROR_STOP=1 -h "$host" -p "$port" -U postgres -d postgres "$@"
}

cleanup() {
  psql_admin -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! out=$(psql_admin -c "CREATE DATABASE \"$db\" TEMPLATE \"$template\"" 2>&1); then
  echo "test_pgtap_rls: cannot create $db from $template: $out" >&2
  exit 1
fi

psql -X -q -v ON_ERROR_STOP=1 -h "$host" -p "$port" -U postgres -d "$db" \
  -c "CREATE EXTENSION IF NOT EXISTS pgtap" >/dev/null

shopt -s nullglob
files=("$src"/tests/pgtap/*.sql)
if [ ${#files[@]} -eq 0 ]; then
  echo "test_pgtap_rls: no pgTAP files in $src/tests/pgtap" >&2
  exit 1
fi

# pg_prove resolves each file's \ir includes relative to the file itself.
pg_prove --host "$host" --port "$port" --username postgres --dbname "$db" \
  --failures --comments "${files[@]}"
