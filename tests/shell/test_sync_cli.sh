#!/bin/bash
# tests/shell/test_sync_cli.sh: the sync channel through real `clientflow`
# processes, as an operator and a field rep use it: `serve` against a seeded
# master as a non-superuser role, `token`, `node init` (bootstrap), `node sql`,
# `node sync`, `node status`, `node conflicts`.
#
# Proves, at the command line: two replicas of one org converge after
# offline edits of different columns; a unique clash made offline is shown
# as a rejected change with its reason and can be discarded; a node whose
# membership was revoked keeps its change and says access was revoked; a
# node whose server is gone keeps writing locally and says the server is
# unreachable; `serve` exits 0 on SIGTERM.  The outputs printed here are
# what each rejection looks like to a user (docs/testing.md).
source "$(dirname "$0")/cli_lib.sh"

demo_org=01936b2a-0000-7000-8000-100000000001
owner=01936b2a-0001-7000-8000-000000000001
rep=01936b2a-0001-7000-8000-000000000002
rep_membership=01936b2a-0002-7000-8000-100000000002
c1=01936b2a-0003-7000-8000-100000000001
export JWT_SECRET=shell-sync-test-secret-0123456789abcdef-0123

db=$(new_db sync_cli cf_template)
run seed --database-url "$(url "$db")"
expect_rc 0 "seed"
ensure_server_role cf_test_server

# The server: its first stdout line says where it listens (read from a
# pipe, no polling).
coproc SERVE { exec "$CF" serve --database-url "$(url "$db" cf_test_server)" --port 0 2>"$cf_tmp/serve.err"; }
serve_pid=$SERVE_PID
stop_serve() { kill -TERM "$serve_pid" 2>/dev/null || true; }
trap 'stop_serve; cleanup' EXIT
read -r -t 30 -u "${SERVE[0]}" line || { out=""; err=$(cat "$cf_tmp/serve.err"); fail "serve did not start"; }
case $line in "listening on 127.0.0.1:"*) ;; *) out=$line; err=$(cat "$cf_tmp/serve.err"); fail "serve said: $line" ;; esac
port=${line##*:}
ws="ws://127.0.0.1:$port/sync"
pass "serve listens on $port as a non-superuser role"

owner_token=$("$CF" token --user "$owner")
rep_token=$("$CF" token --user "$rep")
A=$cf_tmp/laptop-a
B=$cf_tmp/laptop-b
# Laptop A is encrypted (its key in a file only its owner reads) and keeps
# its token; laptop B is plain and is given the token at every sync.
akey=$cf_tmp/laptop-a.key
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$akey"
chmod 644 "$akey"
run node init --home "$A" --key-file "$akey" --org "$demo_org" --user "$owner" --server "$ws" --token "$owner_token"
expect_fail "node init with a world-readable key file"
expect_one_err_line "key file" "readable by others"
chmod 600 "$akey"

run node init --home "$A" --key-file "$akey" --org "$demo_org" --user "$owner" --server "$ws" --token "$owner_token"
expect_rc 0 "node init (owner)"
run node init --home "$B" --org "$demo_org" --user "$rep" --server "$ws" --token "$rep_token"
expect_rc 0 "node init (rep)"
# The pull's progress (stdout is not a terminal: one line a page) has a unit.
grep -qE '^pulled [0-9]+ rows? \([0-9]+%, [1-9][0-9]* rows/s\)$' <<<"$out" || fail "no progress line with rows/s"
run node sql --home "$B" "SELECT count(*) FROM contacts"
expect_rc 0 "node sql"
expect_out "10" "the rep's replica holds the org's 10 contacts"
pass "two laptops bootstrapped"

# Offline edits of different columns of one contact converge.
run node sql --home "$A" --key-file "$akey" "UPDATE contacts SET phone = '+1-555-7777' WHERE id = '$c1'"
expect_rc 0 "offline update (owner)"
run node sql --home "$B" "UPDATE contacts SET company = 'Rep Renamed Co' WHERE id = '$c1'"
expect_rc 0 "offline update (rep)"
run node sync --home "$B"
expect_fail "sync of a plain replica without a token"
expect_one_err_line "sync without a token" "keeps no token"
for h in "$A" "$B" "$A"; do
  if [ "$h" = "$A" ]; then
    run node sync --home "$A" --key-file "$akey"
  else
    run node sync --home "$B" --token "$rep_token"
  fi
  expect_rc 0 "node sync"
done
for f in "$A"/replica.db* "$B"/replica.db*; do
  if grep -qF "${owner_token##*.}" "$f" || grep -qF "${rep_token##*.}" "$f"; then
    out=""; err=""; fail "a token is stored in plain text in $f"
  fi
done
if grep -qF "CREATE TABLE" "$A/replica.db"; then out=""; err=""; fail "laptop A's replica holds plain text"; fi
run node sql --home "$A" --key-file "$akey" "SELECT count(*) FROM contacts"
expect_out "10" "the encrypted replica reads with its key"
run node sql --home "$A" "SELECT 1"
expect_fail "an encrypted replica without its key"
grep -qF "a key is needed" <<<"$err" || fail "no key: stderr lacks 'a key is needed'"

for h in "$A" "$B"; do
  if [ "$h" = "$A" ]; then key=(--key-file "$akey"); else key=(); fi
  run node sql --home "$h" "${key[@]}" "SELECT phone || ' / ' || company FROM contacts WHERE id = '$c1'"
  expect_out "+1-555-7777 / Rep Renamed Co" "both columns kept on $(basename "$h")"
done
[ "$(q "$db" "SELECT phone || ' / ' || company FROM contacts WHERE id = '$c1'")" = "+1-555-7777 / Rep Renamed Co" ] ||
  fail "the master did not merge both columns"
pass "different columns edited offline on two laptops are both kept"
pass "laptop A is encrypted and keeps its token only encrypted, laptop B keeps none"

# A unique clash made offline: the second push is rejected and kept.
run node sql --home "$A" --key-file "$akey" "INSERT INTO contacts (first_name, email) VALUES ('Jordan', 'jordan@clash.example')"
expect_rc 0 "insert (owner)"
run node sql --home "$B" "INSERT INTO contacts (first_name, email) VALUES ('Jordan', 'jordan@clash.example')"
expect_rc 0 "insert (rep)"
run node sync --home "$A" --key-file "$akey"
expect_rc 0 "owner pushes first"
run node sync --home "$B" --token "$rep_token"
expect_rc 0 "the rep's sync completes"
expect_out "rejected 1" "the rep's push has one rejection"
expect_out "see \`clientflow node conflicts\`" "the rep is told where to look"
echo "--- what the rep sees after the clash:"; echo "$out"
run node conflicts --home "$B"
expect_rc 0 "node conflicts"
expect_out "contacts_org_email_key" "the conflict names the constraint"
expect_out "constraint violated" "the conflict gives the reason"
expect_out "insert (a new row)" "the rejected insert is shown as one"
expect_no_out "org_id,id," "the rejected insert lists every column"
echo "$out"
id=$(sed -n 's/^#\([0-9]*\) .*/\1/p' <<<"$out" | head -1)
run node status --home "$B"
expect_out "conflicts:  1" "status counts the conflict"
run node conflicts --home "$B" --discard "$id"
expect_rc 0 "discard"
run node conflicts --home "$B"
expect_out "no conflicts" "the conflict is gone"
pass "a unique clash is kept as a conflict with its reason, then discarded"

# A refused token: the error says how to pass a new one.
bad_token=$(JWT_SECRET=another-secret-that-the-server-does-not-know-0123 "$CF" token --user "$rep")
run node sync --home "$B" --token "$bad_token"
expect_fail "sync with a refused token"
expect_one_err_line "sync with a refused token" "--token NEW_TOKEN"
echo "--- what the rep sees with a refused (or expired) token:"; echo "$err"
run node sync --home "$B" --token "$rep_token"
expect_rc 0 "sync with a good token again"
pass "a refused token's error says how to pass a new one"

# Revoked while offline: the change is kept and the node says why.
run node sql --home "$B" "UPDATE contacts SET phone = '+1-555-0000' WHERE id = '$c1'"
expect_rc 0 "offline update before revocation"
q "$db" "DELETE FROM memberships WHERE id = '$rep_membership'" >/dev/null
run node sync --home "$B" --token "$rep_token"
expect_fail "sync after revocation"
expect_one_err_line "sync after revocation" "access revoked"
echo "--- what the rep sees after the revocation:"; echo "$err"
run node conflicts --home "$B"
expect_out "revoked" "the kept change says revoked"
echo "$out"
[ "$(q "$db" "SELECT phone FROM contacts WHERE id = '$c1'")" = "+1-555-7777" ] ||
  fail "the revoked user's change reached the master"
run node status --home "$B"
expect_out "REVOKED by the server" "status after the revocation"
pass "a revoked member's change is kept and the node says access was revoked"

# The server stops cleanly on SIGTERM; then nodes are offline but keep writing.
stop_serve
set +e
wait "$serve_pid"
serve_rc=$?
set -e
[ "$serve_rc" = 0 ] || { out=""; err=$(cat "$cf_tmp/serve.err"); fail "serve exited $serve_rc on SIGTERM"; }
pass "serve exits 0 on SIGTERM"
run node sql --home "$A" --key-file "$akey" "UPDATE contacts SET phone = '+1-555-8888' WHERE id = '$c1'"
expect_rc 0 "offline write"
run node sync --home "$A" --key-file "$akey"
expect_fail "sync without a server"
expect_one_err_line "sync without a server" "server unreachable"
echo "--- what the owner sees offline:"; echo "$err"
run node status --home "$A" --key-file "$akey"
expect_out "outbox:     1 change(s) waiting" "the offline write waits in the outbox"
pass "offline, writes are kept and sync says the server is unreachable"
