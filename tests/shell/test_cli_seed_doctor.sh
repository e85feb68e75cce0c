#!/usr/bin/env bash
# tests/shell/test_cli_seed_doctor.sh: `clientflow seed` and `clientflow
# doctor` on a real database: seed twice leaves the same rows per table and
# prints no error; doctor on the seeded database exits 0 with the seed's
# checks and one OK line per table; doctor as a superuser warns, as a plain
# role does not; doctor fails on unforced RLS, a master table registry
# (cf_sync.tables) that differs from the build's (and migrate up refuses it),
# a missing table and pending migrations; seed refuses while migrations are
# pending.  Table counts come from the registry (core/tables.h).
. "$(dirname "$0")/cli_lib.sh"

db=$(new_db cli_seed cf_template)
export DATABASE_URL=$(url "$db")

run seed --help
expect_rc 0 "seed --help"; expect_out "usage: clientflow seed" "seed --help"
run doctor --help
expect_rc 0 "doctor --help"; expect_out "usage: clientflow doctor" "doctor --help"
pass "seed and doctor print usage with --help"

run seed
expect_rc 0 "seed"; expect_no_err "seed"; expect_out "seeded the demo data" "seed"
first=$(row_counts "$db")
first_ids=$(ids_digest "$db")
[ "$(q "$db" "SELECT count(*) FROM organizations WHERE name = 'ClientFlow Demo'")" = 1 ] ||
  fail "seed: no organization 'ClientFlow Demo'"
[ "$(q "$db" "SELECT count(*) FROM users WHERE email = 'demo@clientflow.test'")" = 1 ] ||
  fail "seed: no user demo@clientflow.test"
pass "seed loads the demo data ($first)"

run seed
expect_rc 0 "seed again"; expect_no_err "seed again"
second=$(row_counts "$db")
[ "$first" = "$second" ] || fail "seed twice: $first != $second"
[ "$first_ids" = "$(ids_digest "$db")" ] || fail "seed twice: the row ids changed"
pass "seed twice leaves the same rows (counts and ids) and prints no error"

run doctor
expect_rc 0 "doctor"
expect_out "Database connection successful" "doctor"
expect_out "Raw query test successful: [ { test: 1 } ]" "doctor"
nt=$(n_tables)
expect_out "Tables found: $nt" "doctor"
ok_rls=$(grep -c "^OK *RLS enabled and forced on" <<<"$out" || true)
[ "$ok_rls" = "$nt" ] || fail "doctor: $ok_rls RLS OK lines, expected $nt"
expect_out "table registry: cf_sync.tables matches this build ($nt tables)" "doctor"
expect_out "0 pending" "doctor"
pass "doctor on the seeded database passes with Tables found: $nt, $nt RLS OK lines and the registry"

expect_out "WARNING  the connected role is a superuser" "doctor as postgres"
expect_out "owns" "doctor as postgres"
pass "doctor as a superuser warns (superuser, owner, BYPASSRLS)"

role="cf_cli_plain_$$"
cf_roles+=("$role")
q postgres "CREATE ROLE \"$role\" LOGIN NOSUPERUSER NOBYPASSRLS" >/dev/null
run doctor --database-url "$(url "$db" "$role")"
expect_rc 0 "doctor as plain role"; expect_no_out "WARNING" "doctor as plain role"
pass "doctor as a plain role (not superuser, not owner, no BYPASSRLS) passes without warnings"

q "$db" "ALTER TABLE contacts NO FORCE ROW LEVEL SECURITY" >/dev/null
run doctor
expect_fail "doctor with unforced RLS"; expect_out "FAIL     RLS enabled but not forced on contacts" "doctor unforced"
expect_one_err_line "doctor with unforced RLS" "check"
pass "doctor fails when RLS is not forced on contacts"

q "$db" "ALTER TABLE contacts FORCE ROW LEVEL SECURITY; ALTER TABLE deals DISABLE ROW LEVEL SECURITY" >/dev/null
run doctor
expect_fail "doctor with RLS disabled"; expect_out "FAIL     RLS not enabled on deals" "doctor disabled"
pass "doctor fails when RLS is disabled on deals"

q "$db" "ALTER TABLE deals ENABLE ROW LEVEL SECURITY" >/dev/null
# The registry's last table, as the master records it.
last=$(q "$db" "SELECT table_no || ' ' || name || ' ' || kind FROM cf_sync.tables ORDER BY table_no DESC LIMIT 1")
read -r last_no last_name last_kind <<<"$last"
q "$db" "DELETE FROM cf_sync.tables WHERE table_no = $last_no" >/dev/null
run doctor
expect_fail "doctor with a table missing from the master's registry"
expect_out "FAIL     table registry: this build's table $last_no $last_name" "doctor registry"
pass "doctor fails when the master's registry (cf_sync.tables) lacks a table of the build"
run migrate up
expect_fail "migrate up with a table missing from the master's registry"
expect_one_err_line "migrate up registry" "cf_sync.attach_table($last_no, '$last_name')"
pass "migrate up fails, naming the fix, when the master's registry lacks a table of the build"
q "$db" "INSERT INTO cf_sync.tables VALUES ($last_no, '$last_name', '$last_kind')" >/dev/null
q "$db" "UPDATE cf_sync.tables SET kind = 'user' WHERE name = 'contacts'" >/dev/null
run doctor
expect_fail "doctor with a registry row that differs"
expect_out "FAIL     table registry: the master has table 3 contacts (user)" "doctor registry differs"
q "$db" "UPDATE cf_sync.tables SET kind = 'tenant' WHERE name = 'contacts'" >/dev/null
run doctor
expect_rc 0 "doctor with the registry restored"
pass "doctor fails when a registry row differs, and passes once it is restored"

q "$db" "DROP TABLE daily_metrics" >/dev/null
run doctor
expect_fail "doctor with a missing table"; expect_out "Tables found: $((nt - 1))" "doctor missing table"
expect_out "table public.daily_metrics is missing" "doctor missing table"
pass "doctor fails when a table is missing"

empty=$(new_db cli_doctor_empty)
run doctor --database-url "$(url "$empty")"
expect_fail "doctor on an empty database"; expect_out "pending" "doctor empty"
pass "doctor fails on pending migrations"

run seed --database-url "$(url "$empty")"
expect_fail "seed with pending migrations"; expect_one_err_line "seed pending" "migrate up"
pass "seed refuses while migrations are pending"
echo "test_cli_seed_doctor: all passed"
