#!/usr/bin/env bash
# bench/bench_rest.sh: the REST API's cost (issue 6, part 5).  Not a test;
# prints a table.
#
#   bench/bench_rest.sh [BUILD_DIR] [SECONDS] [PG_PORT]
#   (defaults: build, 5, 54490; use a Release build for figures)
#
# Starts its own PostgreSQL (scripts/pgcluster.sh, in BUILD_DIR/bench-rest-pg),
# seeds the demo data plus ROWS extra contacts in the demo org, starts
# `clientflow serve` (4 REST workers) as a login role that is neither owner
# nor BYPASSRLS, and measures over loopback, one after the other:
#
#   rest      GET /api/crm/contacts?orgId=<demo>&limit=50 under wrk
#             (2 threads, 50 connections, keep-alive): token check, one
#             transaction as the user (BEGIN, as_user, the query, COMMIT), RLS
#   rest-c4   the same with 4 connections, the concurrency of the SQL rows
#             (with 50, p99 is mostly waiting for one of the 4 workers)
#   sql-rls   the same transaction shape run directly on Postgres by pgbench
#             as the server's login (RLS on), 4 connections
#   sql-owner the same statement (sql/server/rest.sql "contacts", same JSON)
#             run directly by the table owner (superuser: no RLS), one
#             statement per transaction, 4 connections
#
# Requests (transactions) per second and p99 latency for each; pgbench's
# percentiles come from its per-transaction log.  The machine is shared:
# compare the rows of one run, not runs.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$here/build}" && pwd)
secs=${2:-5}
pgport=${3:-54490}
rows=${ROWS:-5000}
cf=$build/clientflow
[ -x "$cf" ] || { echo "bench_rest: $cf not built" >&2; exit 1; }
for tool in wrk pgbench psql curl; do
  command -v $tool >/dev/null || { echo "bench_rest: $tool missing (scripts/deps.sh)" >&2; exit 1; }
done

pgdir=$build/bench-rest-pg
work=$(mktemp -d)
srv_pid=
cleanup() {
  [ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null && wait "$srv_pid" 2>/dev/null
  "$here/scripts/pgcluster.sh" stop "$pgdir" "$pgport" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

"$here/scripts/pgcluster.sh" stop "$pgdir" "$pgport" >/dev/null 2>&1 || true
rm -rf "$pgdir" # a fresh cluster: its template matches this build's migrations
"$here/scripts/pgcluster.sh" start "$pgdir" "$pgport" "$cf" >/dev/null
sock=$pgdir/sock
su_url="host=$sock port=$pgport dbname=bench_rest user=postgres"
srv_url="host=$sock port=$pgport dbname=bench_rest user=cf_bench_rest"
psqlsu() { psql -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$pgport" -U postgres "$@"; }

psqlsu -d postgres -c "DROP DATABASE IF EXISTS bench_rest" \
  -c "CREATE DATABASE bench_rest TEMPLATE cf_template" 2>/dev/null
psqlsu -d postgres <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cf_bench_rest') THEN
    CREATE ROLE cf_bench_rest LOGIN;
  END IF;
  GRANT authenticator, cf_sync_server TO cf_bench_rest;
END $$;
SQL
"$cf" seed --database-url "$su_url" >/dev/null
org=01936b2a-0000-7000-8000-100000000001
user=01936b2a-0001-7000-8000-000000000001
psqlsu -d bench_rest -c "
  INSERT INTO contacts (org_id, id, first_name, last_name, email, company, tags, created_at)
  SELECT '$org', gen_random_uuid(), 'First' || g, 'Last' || g, 'c' || g || '@bench.test',
         'Company ' || (g % 97), ARRAY['bench', 'tag' || (g % 5)],
         now() - g * interval '1 minute'
  FROM generate_series(1, $rows) AS g;
  ANALYZE;"

export JWT_SECRET=bench-rest-secret-bench-rest-secret-0123
token=$("$cf" token --user "$user" --ttl 3600)
"$cf" serve --database-url "$srv_url" --port 0 --workers 4 >"$work/serve.out" 2>"$work/serve.err" &
srv_pid=$!
for _ in $(seq 100); do
  grep -q '^listening on' "$work/serve.out" 2>/dev/null && break
  sleep 0.1
done
port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$work/serve.out")
[ -n "$port" ] || { cat "$work/serve.err" >&2; exit 1; }
url="http://127.0.0.1:$port/api/crm/contacts?orgId=$org&limit=50"
n=$(curl -sf -H "Authorization: Bearer $token" "$url" | grep -o '"firstName"' | wc -l)
[ "$n" = 50 ] || { echo "bench_rest: expected 50 contacts, got $n" >&2; exit 1; }

# The contacts statement of rest.sql with the first page's parameters.
stmt=$(awk '/^-- @name contacts$/{on=1; next} /^-- @name /{on=0} on && !/^--/' \
  "$here/sql/server/rest.sql" |
  sed -e "s/\$1::uuid/'$org'::uuid/g" -e 's/\$2::bigint/NULL::bigint/g' \
      -e 's/\$3::uuid/NULL::uuid/g' -e 's/\$4::integer/50/g' | tr '\n' ' ')
claims="{\"sub\":\"$user\",\"role\":\"authenticated\",\"aud\":\"authenticated\"}"
as_user=$(awk '/^-- @name as_user$/{on=1; next} /^-- @name /{on=0} on && !/^--/' \
  "$here/sql/server/master_sync.sql" | sed -e "s/\$1/'$claims'/" | tr '\n' ' ')
printf '%s;\n' "$stmt" >"$work/owner.sql"
{
  echo "BEGIN READ ONLY;"
  echo "SET LOCAL statement_timeout = '5s';"
  echo "$as_user;"
  printf '%s;\n' "$stmt"
  echo "COMMIT;"
} >"$work/rls.sql"

# wrk: requests/s and p99 from its --latency report.  CONNS connections.
bench_wrk() { # CONNS
  local out
  out=$(wrk -t2 -c"$1" -d"${secs}s" --latency -H "Authorization: Bearer $token" "$url")
  ! grep -q 'Non-2xx' <<<"$out" || { echo "bench_rest: wrk saw errors: $out" >&2; exit 1; }
  echo "$(awk '/^Requests\/sec:/{print $2}' <<<"$out") $(awk '$1 == "99%" {print $2}' <<<"$out")"
}
read -r rest_rps rest_p99 < <(bench_wrk 50)
read -r rest4_rps rest4_p99 < <(bench_wrk 4)

# pgbench: tps, and p99 from the per-transaction log (microseconds, column 3).
bench_sql() { # NAME SCRIPT USER
  (cd "$work" && pgbench -n -h "$sock" -p "$pgport" -U "$3" -M extended -c 4 -j 2 \
    -T "$secs" -l --log-prefix="$1" -f "$2" bench_rest >"out_$1.txt" 2>&1) ||
    { cat "$work/out_$1.txt" >&2; exit 1; }
  local tps p99
  tps=$(awk '/^tps = /{print $3}' "$work/out_$1.txt")
  p99=$(cat "$work/$1".* 2>/dev/null | awk '{print $3}' | sort -n |
    awk '{v[NR]=$1} END {i=int(NR*0.99); if (i < 1) i=1; printf "%.2fms", v[i]/1000}')
  echo "$tps $p99"
}
read -r rls_tps rls_p99 < <(bench_sql rls "$work/rls.sql" cf_bench_rest)
read -r own_tps own_p99 < <(bench_sql owner "$work/owner.sql" postgres)

printf '\nREST /api/crm/contacts (50 rows/page, %s contacts in the org), %ss each, loopback\n\n' \
  "$((rows + 10))" "$secs"
printf '| %-10s | %-44s | %10s | %9s |\n' what how "req/s" "p99"
printf '|%s|%s|%s|%s|\n' ------------ ---------------------------------------------- ------------ -----------
printf '| %-10s | %-44s | %10.0f | %9s |\n' rest "wrk -c50, JWT + tx as user, RLS on" "$rest_rps" "$rest_p99"
printf '| %-10s | %-44s | %10.0f | %9s |\n' rest-c4 "wrk -c4 (the SQL rows' concurrency)" "$rest4_rps" "$rest4_p99"
printf '| %-10s | %-44s | %10.0f | %9s |\n' sql-rls "pgbench -c4, same tx as the user, RLS on" "$rls_tps" "$rls_p99"
printf '| %-10s | %-44s | %10.0f | %9s |\n' sql-owner "pgbench -c4, statement as owner, no RLS" "$own_tps" "$own_p99"

# One line per goal of issue 13 for bench/run.sh (bench/README.md): REST with
# 4 connections against the same transaction run directly as the user.
awk -v rr="$rest4_rps" -v rp="$rest4_p99" -v sr="$rls_tps" -v sp="$rls_p99" '
  function ms(x) { if (x ~ /us$/) return x / 1000; if (x ~ /ms$/) return x + 0;
                   if (x ~ /s$/) return x * 1000; return x + 0 }
  BEGIN {
    pr = ms(rp) / ms(sp); tr = rr / sr
    printf "BENCHROW\tREST contacts p99, 4 connections\t%s\t%s direct tx as user\t%.2fx\t<=1.5x\t%s\n",
      rp, sp, pr, (pr <= 1.5 ? "met" : "missed")
    printf "BENCHROW\tREST contacts throughput, 4 connections\t%.0f req/s\t%.0f tx/s direct as user\t%.2fx\t>=1.0x\t%s\n",
      rr, sr, tr, (tr >= 1.0 ? "met" : "missed")
  }'
