#!/usr/bin/env bash
# bench/run.sh: runs every benchmark and prints one table of the goals
# (issue 13): figure, baseline, ratio or value, goal, met or missed.
#
#   bench/run.sh [NAME...]      only the benchmarks whose name contains a NAME
#   bench/run.sh --list         the benchmarks' names and commands
#
# Environment (all optional):
#   BENCH_BUILD    the Release build tree (default build-rel at the top of the
#                  repository; configured and built here when needed)
#   BENCH_PG_PORT  the port of the private PostgreSQL this script starts for
#                  the benchmarks that need one (default 54490); bench_rest.sh
#                  runs its own cluster on BENCH_PG_PORT + 1
#   BENCH_LOGS     where each benchmark's whole output goes (default
#                  BENCH_BUILD/bench-logs)
#
# Each benchmark keeps its baseline in its own process and run and prints,
# besides its own table, one line per goal on stdout (bench/benchrow.h):
#   BENCHROW<TAB>name<TAB>figure<TAB>baseline<TAB>ratio-or-value<TAB>goal<TAB>met|missed
# This script only runs them and collects those lines.  A benchmark that
# fails is listed as failed, and the others still run; the exit status is 1
# when one failed, else 0 (a missed goal is a figure, not a failure).
#
# Adding a benchmark: one line in the list below (bench/README.md).
set -uo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
build=${BENCH_BUILD:-$here/build-rel}
pgport=${BENCH_PG_PORT:-54490}
logs=${BENCH_LOGS:-$build/bench-logs}
pgdir=$build/bench-pg

list_only=0
filters=()
for a in "$@"; do
  case "$a" in
  --list) list_only=1 ;;
  -h | --help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) filters+=("$a") ;;
  esac
done

selected() { # NAME
  [ ${#filters[@]} -eq 0 ] && return 0
  local f
  for f in "${filters[@]}"; do [[ "$1" == *"$f"* ]] && return 0; done
  return 1
}

# --- the benchmarks ------------------------------------------------------------
# bench NAME COMMAND...      runs COMMAND (no database, or one it starts itself)
# bench_pg NAME COMMAND...   the same with CF_TEST_PGHOST/CF_TEST_PGPORT set to
#                            this script's private cluster (template cf_template)
# $B is the build tree.  One line per benchmark; keep the heavy ones last.
benchmarks() {
  bench store "$B/bench_store" 200000 3
  bench notify "$B/bench_notify" 300
  bench journal "$B/bench_journal" 50000 200 6
  bench crypt "$B/bench_crypt" 100000 3
  bench_pg bootstrap-100k "$B/bench_sync" 100000
  bench_pg push "$B/bench_push" 100000 2000
  bench scale "$B/bench_scale" 500 1000 10000 200 50 6
  bench devices "$B/bench_devices" 100 1,4,16,64
  bench rest "$here/bench/bench_rest.sh" "$B" 5 $((pgport + 1))
  bench_pg bootstrap-1m "$B/bench_sync" 1000000
}

# --- machinery -----------------------------------------------------------------
B=$build
rows=$(mktemp)
failed=()
pg_up=0
cleanup() {
  if [ "$pg_up" = 1 ]; then
    "$here/scripts/pgcluster.sh" stop "$pgdir" "$pgport" >/dev/null 2>&1 || true
  fi
  rm -f "$rows"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$list_only" = 1 ]; then
  bench() { printf '%-16s %s\n' "$1" "${*:2}"; }
  bench_pg() { printf '%-16s %s   (private PostgreSQL)\n' "$1" "${*:2}"; }
  benchmarks
  exit 0
fi

ensure_build() {
  if [ ! -f "$build/CMakeCache.txt" ]; then
    echo "run.sh: configuring a Release tree in $build"
    cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release \
      -DCF_TEST_PG_PORT="$pgport" >/dev/null || exit 1
  fi
  local targets=(clientflow) src
  for src in "$here"/bench/bench_*.c; do targets+=("$(basename "$src" .c)"); done
  echo "run.sh: building ${targets[*]} in $build"
  cmake --build "$build" -j2 --target "${targets[@]}" >"$build/bench-build.log" 2>&1 ||
    { tail -30 "$build/bench-build.log" >&2; exit 1; }
}

ensure_pg() {
  [ "$pg_up" = 1 ] && return 0
  rm -rf "$pgdir" # fresh, so that cf_template matches this build's migrations
  "$here/scripts/pgcluster.sh" start "$pgdir" "$pgport" "$build/clientflow" \
    >"$logs/pgcluster.log" 2>&1 || { cat "$logs/pgcluster.log" >&2; return 1; }
  pg_up=1
}

run_one() { # NAME PG COMMAND...
  local name=$1 pg=$2
  shift 2
  selected "$name" || return 0
  local log=$logs/$name.log
  echo
  echo "=== $name: $* $(date -u +%H:%M:%S)"
  local rc
  if [ "$pg" = 1 ]; then
    if ! ensure_pg; then
      failed+=("$name (no PostgreSQL)")
      return 0
    fi
    CF_TEST_PGHOST=$pgdir/sock CF_TEST_PGPORT=$pgport "$@" 2>&1 | tee "$log" | grep -v '^BENCHROW'
    rc=${PIPESTATUS[0]}
  else
    "$@" 2>&1 | tee "$log" | grep -v '^BENCHROW'
    rc=${PIPESTATUS[0]}
  fi
  grep '^BENCHROW' "$log" >>"$rows"
  if [ "$rc" != 0 ]; then
    failed+=("$name (exit $rc, $log)")
  fi
}
bench() { run_one "$1" 0 "${@:2}"; }
bench_pg() { run_one "$1" 1 "${@:2}"; }

ensure_build
mkdir -p "$logs"
load=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)
echo "run.sh: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load $load, logs in $logs"
benchmarks

# --- the table -----------------------------------------------------------------
echo
echo "Goals (issue 13), $(date -u '+%Y-%m-%d %H:%M UTC'), $(git -C "$here" rev-parse --short HEAD 2>/dev/null)"
echo
awk -F'\t' '
  BEGIN {
    h[1] = "goal"; h[2] = "figure"; h[3] = "baseline (same run)"; h[4] = "ratio/value";
    h[5] = "goal"; h[6] = "met"
    for (i = 1; i <= 6; i++) w[i] = length(h[i])
  }
  {
    n++
    for (i = 1; i <= 6; i++) { c[n, i] = $(i + 1); if (length($(i + 1)) > w[i]) w[i] = length($(i + 1)) }
  }
  function line(a1, a2, a3, a4, a5, a6) {
    printf "| %-*s | %*s | %-*s | %*s | %-*s | %-*s |\n", w[1], a1, w[2], a2, w[3], a3,
      w[4], a4, w[5], a5, w[6], a6
  }
  function dash(k,   s) { s = ""; while (k-- > 0) s = s "-"; return s }
  END {
    line(h[1], h[2], h[3], h[4], h[5], h[6])
    printf "|%s|%s|%s|%s|%s|%s|\n", dash(w[1] + 2), dash(w[2] + 2), dash(w[3] + 2),
      dash(w[4] + 2), dash(w[5] + 2), dash(w[6] + 2)
    for (r = 1; r <= n; r++) {
      line(c[r, 1], c[r, 2], c[r, 3], c[r, 4], c[r, 5], c[r, 6])
      if (c[r, 6] == "met") met++
    }
    printf "\n%d of %d goals met\n", met, n
  }' "$rows"
if [ ${#failed[@]} -gt 0 ]; then
  echo
  printf 'FAILED: %s\n' "${failed[@]}"
  exit 1
fi
exit 0
