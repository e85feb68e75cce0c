#!/usr/bin/env bash
# tests/shell/test_cli_first_hour.sh: what a new user meets in the first hour
# with `clientflow` (issue 15, "The first hour"), each stumble fixed:
#
#   - `clientflow help` works and the overview names the REST API;
#     `clientflow help <cmd> [<sub>]` is `<cmd> [<sub>] --help`;
#   - every `node <sub> --help` prints its own usage and option list;
#   - `token` without JWT_SECRET says how to set it (it names no flag that
#     does not exist);
#   - `node init` against a dead server says the replica was created empty
#     (not that local writes are kept), `node sync` offline says it once and
#     counts the changes kept;
#   - `node sql` runs every statement of a text in one transaction, prints
#     how many rows each write changed, and on a failure says which
#     statement failed and that nothing was changed;
#   - `seed` as a role that does not own the tables explains why it must.
. "$(dirname "$0")/cli_lib.sh"
unset JWT_SECRET CLIENTFLOW_TOKEN CLIENTFLOW_HOME

run help
expect_rc 0 "clientflow help"; expect_out "/api/crm/" "help names the REST API"
expect_out "serve" "help lists the commands"
run --help
expect_out "/api/crm/contacts" "--help names the REST API"
run help seed
expect_rc 0 "help seed"; expect_out "usage: clientflow seed" "help seed"
run help node sql
expect_rc 0 "help node sql"; expect_out "usage: clientflow node sql" "help node sql"
run help nosuch
expect_rc 2 "help of an unknown command"
pass "clientflow help [command [subcommand]] works; the overview names the REST API"

declare -A seen
for sub in init sync sql status conflicts; do
  run node "$sub" --help
  expect_rc 0 "node $sub --help"
  expect_out "usage: clientflow node $sub" "node $sub --help"
  expect_out "options:" "node $sub --help"
  expect_out "--home DIR" "node $sub --help"
  sum=$(md5sum <<<"$out" | cut -c1-32)
  [ -z "${seen[$sum]:-}" ] || fail "node $sub --help prints the same text as node ${seen[$sum]} --help"
  seen[$sum]=$sub
done
run node init --help; expect_out "--server URL" "init's options"; expect_out "--org UUID" "init's options"
run node sync --help; expect_out "--watch" "sync's options"
run node conflicts --help; expect_out "--discard ID" "conflicts' options"
run node
expect_rc 2 "node without a subcommand"
grep -qF "node <subcommand> --help" <<<"$err" || fail "node without a subcommand: no pointer to the per-subcommand help"
run node frobnicate
expect_rc 2 "unknown node subcommand"; grep -qF "unknown subcommand 'frobnicate'" <<<"$err" || fail "unknown subcommand: $err"
pass "every node subcommand has its own --help with its options"

run token --user 3f1c2a9e-5b7d-4e8f-9a01-23456789abcd
expect_rc 1 "token without JWT_SECRET"
expect_one_err_line "token without JWT_SECRET" "JWT_SECRET is not set"
grep -qi "flag" <<<"$err" && fail "token names a flag that does not exist: $err"
grep -qF "./.env" <<<"$err" || fail "token does not say where JWT_SECRET goes: $err"
pass "token without JWT_SECRET says how to set it"

# A dead server: a port nothing listens on.
dead=ws://127.0.0.1:1/sync
org=0190f1a2-0000-7000-8000-00000000a001
user=0190f1a2-0000-7000-8000-00000000b001
home=$cf_tmp/laptop
run node init --home "$home" --org "$org" --user "$user" --server "$dead" --token t
expect_rc 1 "init against a dead server"
expect_one_err_line "init against a dead server" "the replica was created empty"
grep -qF "local writes are kept" <<<"$err" && fail "init claims local writes are kept: $err"
grep -qF "server unreachable (server unreachable" <<<"$err" && fail "init repeats itself: $err"
run node sync --home "$home" --token t
expect_rc 1 "sync offline, nothing written"
expect_one_err_line "sync offline, nothing written" "nothing to push"
[ "$(grep -o "unreachable" <<<"$err" | wc -l)" = 1 ] || fail "sync says unreachable more than once: $err"
pass "init against a dead server says the replica is empty; sync offline says it once"

run node sql --home "$home" "INSERT INTO contacts (first_name, email) VALUES ('Ann', 'ann@x.test'), ('Bo', 'bo@x.test');
  UPDATE contacts SET phone = '+1-555-0101' -- every contact
  ; SELECT first_name, phone FROM contacts ORDER BY first_name; DELETE FROM contacts WHERE first_name = 'Bo';"
expect_rc 0 "node sql with four statements"
expect_out "inserted 2 rows" "insert count"; expect_out "updated 2 rows" "update count"
expect_out "Ann | +1-555-0101" "the query's rows"; expect_out "(2 rows)" "the query's count"
expect_out "deleted 1 row" "delete count"
run node sql --home "$home" "SELECT count(*) FROM contacts"
expect_out "1" "one contact left"
pass "node sql runs every statement and prints each write's row count"

run node sql --home "$home" "UPDATE contacts SET phone = '+1-555-0199'; INSERT INTO no_such_table VALUES (1)"
expect_rc 1 "a failing second statement"
expect_one_err_line "a failing second statement" "statement 2 of 2 failed"
grep -qF "nothing was changed" <<<"$err" || fail "does not say the first statement was undone: $err"
run node sql --home "$home" "SELECT phone FROM contacts"
expect_out "+1-555-0101" "the first statement was rolled back"
run node sql --home "$home" "INSERT INTO contacts (first_name) VALUES ('semi;colon') RETURNING first_name"
expect_rc 0 "a quoted semicolon"; expect_out "semi;colon" "a quoted semicolon"
pass "a failing statement undoes the others and is named; quoted ';' do not split"

run node sync --home "$home" --token t
expect_rc 1 "sync offline with local writes"
expect_one_err_line "sync offline with local writes" "local change(s) in the outbox are kept"
pass "sync offline with local writes says how many are kept"

# seed as a role that does not own the tables.
db=$(new_db first_hour cf_template)
psql_admin -d "$db" >/dev/null <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cf_test_not_owner') THEN
    BEGIN CREATE ROLE cf_test_not_owner LOGIN;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END;
  END IF;
END $$;
SQL
run seed --database-url "$(url "$db" cf_test_not_owner)"
expect_rc 1 "seed as a non-owner"
expect_one_err_line "seed as a non-owner" "permission denied"
grep -qF "must run as the owner of the tables" <<<"$err" || fail "seed does not explain: $err"
pass "seed as a non-owner explains that it must run as the tables' owner"
