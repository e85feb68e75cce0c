#!/usr/bin/env bash
# tests/shell/test_cli_demo.sh: `clientflow demo` end to end: it starts its
# own PostgreSQL 15, migrates, seeds (twice), runs doctor, stops the server
# and removes its directory, exiting 0; with --keep the server stays up, its
# DATABASE_URL works, and the printed command stops it and removes its data.
. "$(dirname "$0")/cli_lib.sh"

# The cluster directory goes under CLIENTFLOW_HOME; the postgres user must reach it.
home=$(mktemp -d /tmp/cf-demo-test.XXXXXX)
chmod 755 "$home"
kept_dir=""
kept_pid=""
# Whatever happens, no server of ours outlives the test.
stop_kept() {
  if [ -n "$kept_pid" ]; then kill "$kept_pid" 2>/dev/null || true; fi
  if [ -n "$kept_dir" ] && [ -f "$kept_dir/data/PG_VERSION" ]; then
    if [ "$(id -u)" = 0 ]; then
      runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$kept_dir/data" -m fast -w stop >/dev/null 2>&1 || true
    else
      /usr/lib/postgresql/15/bin/pg_ctl -D "$kept_dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
  fi
}
trap 'stop_kept; cleanup; rm -rf "$home"' EXIT
export CLIENTFLOW_HOME=$home

run demo --help
expect_rc 0 "demo --help"; expect_out "usage: clientflow demo" "demo --help"
pass "demo --help prints usage"

run demo
expect_rc 0 "demo"
expect_out "Tables found: $(n_tables)" "demo"
expect_out "All database tests passed!" "demo"
expect_out "applied 001_init.sql" "demo"
expect_out "seeded the demo data" "demo"
# The sync story (issue 5): merges, conflicts kept, isolation, convergence.
expect_out "phone +1-555-0199    email ava@martinez-dental.example" "demo"
expect_out "deal stage: won" "demo"
expect_out "contact 2: (deleted)" "demo"
expect_out "reason: constraint: contacts_org_email_key" "demo"
expect_out "reason: revoked: the user is not a member of this organization" "demo"
expect_out "refused by the replica itself: CF_WRONG_ORG" "demo"
expect_out "0 occurrence(s) of" "demo"
expect_out "identical: both replicas saw the same changes" "demo"
expect_out "demo finished:" "demo"
[ -z "$(ls -A "$home")" ] || fail "demo left $(ls -A "$home") behind"
pass "demo runs end to end (exit 0) and removes its cluster"

run demo --keep
kept_dir=$(sed -n 's/^started in //p' <<<"$out")
kept_pid=$(sed -n 's/.*(pid \([0-9]*\),$/\1/p' <<<"$out")
[ -n "$kept_pid" ] || fail "demo --keep did not print the sync server's pid"
# The laptop it suggests lives in its own directory (under CLIENTFLOW_HOME), not /tmp.
grep -qF -- "node init --home $kept_dir/my-laptop " <<<"$out" ||
  fail "demo --keep suggests a laptop home outside $kept_dir"
kept_port_ws=$(sed -n 's|.*sync server: ws://127.0.0.1:\([0-9]*\)/sync.*|\1|p' <<<"$out")
# The kept sync server answers /health (it may need a moment to listen).
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$kept_port_ws/health" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$kept_port_ws/health" | grep -q '"status":"ok"' ||
  fail "the kept sync server does not answer /health"
kept_port=$(sed -n 's|^DATABASE_URL=postgresql://postgres@127.0.0.1:\([0-9]*\)/.*|\1|p' <<<"$out")
expect_rc 0 "demo --keep"
kept_url=$(sed -n "s/^  export DATABASE_URL='\(.*\)'$/\1/p" <<<"$out")
stop_cmd=$(grep -A1 "stop it and remove its data" <<<"$out" | tail -1)
[ -n "$kept_url" ] && [ -n "$stop_cmd" ] || fail "demo --keep did not print the URL and the stop command"
run doctor --database-url "$kept_url"
expect_rc 0 "doctor on the kept cluster"; expect_out "Tables found: $(n_tables)" "doctor on kept cluster"
# A wrong password on the kept cluster (ours alone, so its pg_hba.conf is ours to change).
kpsql() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$kept_port" -U postgres -d clientflow "$@"; }
kpsql -c "CREATE ROLE cf_pw LOGIN PASSWORD 'right'"
sed -i '1i host all cf_pw 127.0.0.1/32 scram-sha-256' "$kept_dir/data/pg_hba.conf"
kpsql -c "SELECT pg_reload_conf()" >/dev/null
# The reload is asynchronous: poll (bounded) until the server asks for the password.
for _ in $(seq 1 200); do
  run doctor --database-url "postgresql://cf_pw:wrong@127.0.0.1:$kept_port/clientflow"
  grep -q "password authentication failed" <<<"$err" && break
done
expect_fail "wrong password"
expect_one_err_line "wrong password" "password authentication failed for user \"cf_pw\""
run doctor --database-url "postgresql://cf_pw@127.0.0.1:$kept_port/clientflow"
expect_fail "missing password"; expect_one_err_line "missing password" "password"
pass "a wrong or missing password gives one line and a non-zero exit"

eval "$stop_cmd" >/dev/null 2>&1 || fail "the printed stop command failed: $stop_cmd"
[ -z "$(ls -A "$home")" ] || fail "the stop command left $(ls -A "$home") behind"
run doctor --database-url "$kept_url"
expect_fail "doctor after stop"; expect_one_err_line "doctor after stop" "failed"
pass "demo --keep leaves a working server; the printed command stops it and removes its data"

# A reader that goes away early (SIGPIPE) must not leave the server behind.
set +o pipefail
"$CF" demo 2>/dev/null | head -1 >/dev/null
set -o pipefail
[ -z "$(ls -A "$home")" ] || fail "demo | head left $(ls -A "$home") behind"
pass "demo cleans up when its output is closed early (SIGPIPE)"

CLIENTFLOW_HOME=/nonexistent/dir run demo
expect_fail "demo in a missing directory"; expect_one_err_line "demo missing dir" "/nonexistent/dir"
pass "demo fails with one line when CLIENTFLOW_HOME does not exist"
echo "test_cli_demo: all passed"
