#!/usr/bin/env bash
# tests/shell/test_cli_migrate.sh: `clientflow migrate up|status|reset` on a
# real database: up on an empty database applies every file and status then
# shows them all applied; up again is a no-op; a tampered checksum makes up
# and status refuse, naming the file; reset refuses without --force and
# gives a clean re-apply with it; two concurrent ups apply each file once.
. "$(dirname "$0")/cli_lib.sh"
n=$(n_migrations)

db=$(new_db cli_migrate)
export DATABASE_URL=$(url "$db")

run migrate --help
expect_rc 0 "migrate --help"; expect_out "usage: clientflow migrate" "migrate --help"
pass "migrate --help prints usage"

run migrate status
expect_rc 0 "status on empty db"; expect_out "0 applied, $n pending" "status on empty db"
pass "status on an empty database lists $n pending"

run migrate up
expect_rc 0 "up"; expect_out "applied 001_init.sql" "up"; expect_no_err "up"
[ "$(q "$db" "SELECT count(*) FROM cf_meta.schema_migrations")" = "$n" ] || fail "ledger rows"
pass "up on an empty database applies $n migrations"

run migrate status
expect_rc 0 "status after up"; expect_out "$n applied, 0 pending" "status after up"
expect_out "applied  001_init.sql" "status after up"
pass "status after up shows all applied"

sums=$(q "$db" "SELECT string_agg(version || checksum || applied_at, ',' ORDER BY version) FROM cf_meta.schema_migrations")
file_sum=$(sha256sum "$CF_SOURCE_DIR/sql/postgres/001_init.sql" | cut -d' ' -f1)
[ "$(q "$db" "SELECT checksum FROM cf_meta.schema_migrations WHERE version = '001'")" = "$file_sum" ] ||
  fail "recorded checksum is not the file's SHA-256"
pass "the ledger records each file's SHA-256"

run migrate up
expect_rc 0 "up again"; expect_out "nothing to apply" "up again"
[ "$(q "$db" "SELECT string_agg(version || checksum || applied_at, ',' ORDER BY version) FROM cf_meta.schema_migrations")" = "$sums" ] ||
  fail "up again changed the ledger"
pass "up again is a no-op"

q "$db" "UPDATE cf_meta.schema_migrations SET checksum = repeat('0', 64) WHERE version = '001'" >/dev/null
run migrate up
expect_fail "up after tamper"; expect_one_err_line "up after tamper" "001_init.sql"
pass "up refuses a changed applied file, naming it"
run migrate status
expect_fail "status after tamper"; expect_one_err_line "status after tamper" "001_init.sql"
expect_out "changed  001_init.sql" "status after tamper"
pass "status refuses a changed applied file, naming it"

q "$db" "INSERT INTO organizations (name, slug) VALUES ('Doomed', 'doomed')" >/dev/null
run migrate reset
expect_fail "reset without --force"; expect_one_err_line "reset without --force" "--force"
[ "$(q "$db" "SELECT count(*) FROM organizations")" = 1 ] || fail "reset without --force touched data"
pass "reset without --force refuses and changes nothing"

run migrate reset --force
expect_rc 0 "reset --force"; expect_out "applied 001_init.sql" "reset --force"
[ "$(q "$db" "SELECT count(*) FROM organizations")" = 0 ] || fail "reset kept data"
[ "$(q "$db" "SELECT checksum FROM cf_meta.schema_migrations WHERE version = '001'")" = "$file_sum" ] ||
  fail "reset left the tampered checksum"
run migrate status
expect_rc 0 "status after reset"; expect_out "$n applied, 0 pending" "status after reset"
[ "$(q "$db" "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r' AND relforcerowsecurity")" -ge 10 ] ||
  fail "reset did not re-create the tables with forced RLS"
pass "reset --force drops everything and re-applies cleanly"

run migrate reset --force
expect_rc 0 "second reset"
pass "reset --force twice in a row works"

# Two concurrent ups on a fresh database: the advisory lock serialises them.
db2=$(new_db cli_migrate_race)
"$CF" migrate up --database-url "$(url "$db2")" >"$cf_tmp/a.out" 2>"$cf_tmp/a.err" & pa=$!
"$CF" migrate up --database-url "$(url "$db2")" >"$cf_tmp/b.out" 2>"$cf_tmp/b.err" & pb=$!
wait $pa || { out=$(cat "$cf_tmp/a.out"); err=$(cat "$cf_tmp/a.err"); fail "concurrent up A"; }
wait $pb || { out=$(cat "$cf_tmp/b.out"); err=$(cat "$cf_tmp/b.err"); fail "concurrent up B"; }
[ "$(q "$db2" "SELECT count(*) FROM cf_meta.schema_migrations")" = "$n" ] || fail "concurrent ledger rows"
applied=$(cat "$cf_tmp/a.out" "$cf_tmp/b.out" | grep -c "^OK *applied 001_init.sql" || true)
[ "$applied" = 1 ] || fail "001_init.sql applied $applied times by concurrent ups"
pass "two concurrent ups apply each file exactly once"

run migrate sideways
[ "$rc" = 2 ] || fail "unknown action: exit $rc, expected 2"
pass "an unknown action is a usage error"
echo "test_cli_migrate: all passed"
