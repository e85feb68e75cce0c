#!/bin/bash
# examples/field-sales/test.sh: the field-sales app's scripted session, run
# by ctest (example_field-sales) with CF_EXAMPLE naming the built program,
# against a real `clientflow serve` and the test cluster's PostgreSQL.
#
# The rep's app (a coprocess fed one command at a time) bootstraps in the
# background, lists and searches contacts, edits a phone; a colleague's
# laptop (`clientflow node`) edits an email, which the app shows by itself
# (its watched query); the rep renames the organization, which the master
# refuses, and the app reports the conflict and discards it.
source "$CF_SOURCE_DIR/tests/shell/cli_lib.sh"
: "${CF_EXAMPLE:?run under ctest}"

demo_org=01936b2a-0000-7000-8000-100000000001
owner=01936b2a-0001-7000-8000-000000000001
rep=01936b2a-0001-7000-8000-000000000002
c3=01936b2a-0003-7000-8000-100000000003
export JWT_SECRET=field-sales-test-secret-0123456789abcdef-0123

db=$(new_db field_sales cf_template)
run seed --database-url "$(url "$db")"
expect_rc 0 "seed"
ensure_server_role cf_test_server

coproc SERVE { exec "$CF" serve --database-url "$(url "$db" cf_test_server)" --port 0 2>"$cf_tmp/serve.err"; }
serve_pid=$SERVE_PID
read -r -t 30 -u "${SERVE[0]}" line || { out=""; err=$(cat "$cf_tmp/serve.err"); fail "serve did not start"; }
port=${line##*:}
ws="ws://127.0.0.1:$port/sync"

export CLIENTFLOW_TOKEN
CLIENTFLOW_TOKEN=$("$CF" token --user "$rep")
coproc APP { exec "$CF_EXAMPLE" --replica "$cf_tmp/rep.db" --org "$demo_org" --user "$rep" --server "$ws" 2>"$cf_tmp/app.err"; }
app_pid=$APP_PID
app_in=${APP[1]}
app_out=${APP[0]}
trap 'kill -TERM "$app_pid" "$serve_pid" 2>/dev/null || true; cleanup' EXIT
transcript=$cf_tmp/transcript

# say COMMAND: sends one command, reads up to its "ok"/"error" line into $out.
say() {
  echo "> $1" >>"$transcript"
  echo "$1" >&"$app_in"
  out=""
  err=""
  local l
  while read -r -t 40 -u "$app_out" l; do
    echo "$l" >>"$transcript"
    out+="$l"$'\n'
    case $l in ok*) return 0 ;; error*) err=$l; return 1 ;; esac
  done
  err=$(cat "$cf_tmp/app.err")
  fail "no answer to '$1'"
}
ok() { say "$1" || fail "'$1' failed: $err"; }

ok "wait synced"
pass "the app bootstrapped in the background"
ok "list"
expect_out "ok 10 contact(s)" "list shows the org's 10 contacts"
ok "search ava"
expect_out "ok 1 contact(s)" "search finds one contact"
ok "edit ${c3:0:36} phone +1-555-0199"
expect_out "ok saved" "edit"
# The edit shows in the app's own live list, and reaches the master.
ok "wait live +1-555-0199"
for _ in $(seq 1 100); do
  [ "$(q "$db" "SELECT phone FROM contacts WHERE id = '$c3'")" = "+1-555-0199" ] && break
  psql_admin -d postgres -c "SELECT pg_sleep(0.1)" >/dev/null
done
[ "$(q "$db" "SELECT phone FROM contacts WHERE id = '$c3'")" = "+1-555-0199" ] || fail "the edit did not reach the master"
pass "the rep's edit reached the master"

# A colleague (the owner, on her own laptop) edits the same contact's email.
owner_token=$("$CF" token --user "$owner")
run node init --home "$cf_tmp/owner" --org "$demo_org" --user "$owner" --server "$ws" --token "$owner_token"
expect_rc 0 "the colleague's node init"
run node sql --home "$cf_tmp/owner" "UPDATE contacts SET email = 'colleague-edit@example.com' WHERE id = '$c3'"
expect_rc 0 "the colleague's edit"
run node sync --home "$cf_tmp/owner" --token "$owner_token"
expect_rc 0 "the colleague's sync"
ok "wait live colleague-edit@example.com"
grep -qF "[live] changed:" "$transcript" || fail "the app did not print the live change"
grep -q "colleague-edit@example.com" "$transcript" || fail "the colleague's email not shown"
pass "the colleague's edit appeared in the app by itself"

# A rep may not rename the organization: the master refuses, the app says so.
ok "sql UPDATE organizations SET name = 'Rep Renamed It'"
expect_out "ok 1 row(s)" "the local write counts its row"
ok "wait conflict"
grep -qF "[conflict] #" "$transcript" || fail "no conflict line"
ok "conflicts"
expect_out "organizations $demo_org" "the conflict names the row"
id=$(grep -o '#[0-9]*  organizations' <<<"$out" | head -1 | tr -dc 0-9)
ok "resolve $id discard"
expect_out "discarded" "discard"
ok "conflicts"
expect_out "ok 0 conflict(s)" "no conflict left"
pass "the conflict was reported as it happened and discarded"

echo quit >&"$app_in"
while read -r -t 30 -u "$app_out" l; do echo "$l" >>"$transcript"; done
wait "$app_pid" || { cat "$transcript" >&2; fail "the app exited with an error"; }
pass "the app quit cleanly"
echo "--- transcript:"
cat "$transcript"
