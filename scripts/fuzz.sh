#!/usr/bin/env bash
# Runs the libFuzzer targets of tests/fuzz/ (docs/testing.md, "Fuzzing").
#
#   scripts/fuzz.sh TARGET SECONDS   one target, e.g. fuzz_frame_decode 600
#   scripts/fuzz.sh all SECONDS      every target, one after the other
#   scripts/fuzz.sh list             the targets
#   scripts/fuzz.sh corpus           rewrites tests/fuzz/corpus/ from the encoders
#
# Builds $CF_FUZZ_BUILD_DIR (default build/fuzz) with clang and CF_FUZZ=ON
# when needed, copies the target's checked-in seeds into
# <build>/corpus/<target>/ (which keeps what earlier runs found) and fuzzes
# that copy for SECONDS, then prints the executions per second and the
# coverage (libFuzzer's cov: edges and ft: features).  Fails (exit 1) on any
# crash, leak, sanitizer report, timeout (one input over 10 s) or
# out-of-memory; the input is saved under <build>/artifacts/<target>/ and
# the command that replays it is printed.  The log is <build>/logs/<target>.log.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${CF_FUZZ_BUILD_DIR:-build/fuzz}
case $build in /*) ;; *) build=$root/$build ;; esac

targets() {
  local f
  for f in tests/fuzz/fuzz_*.c; do basename "$f" .c; done
}

usage() {
  echo "usage: scripts/fuzz.sh TARGET|all SECONDS | list | corpus" >&2
  echo "targets: $(targets | tr '\n' ' ')" >&2
  exit 2
}

# Configures (the first time with clang; again each time, so a new
# tests/fuzz/fuzz_*.c is picked up) and builds the given targets.
build_targets() {
  if [ ! -f "$build/CMakeCache.txt" ]; then
    command -v clang >/dev/null || { echo "fuzz: clang is not installed (scripts/deps.sh)" >&2; exit 1; }
    CC=clang cmake -S . -B "$build" -DCF_FUZZ=ON -DCF_BUILD_TESTS=OFF \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  else
    cmake -S . -B "$build" >/dev/null
  fi
  cmake --build "$build" -j"$(nproc)" --target "$@"
}

# Fuzzes one target for $2 seconds; prints one summary line.
run_one() {
  local t=$1 secs=$2
  local corpus=$build/corpus/$t art=$build/artifacts/$t/ log=$build/logs/$t.log
  mkdir -p "$corpus" "$art" "$build/logs"
  cp tests/fuzz/corpus/"$t"/* "$corpus"/
  local rc=0
  (cd "$build" &&
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
      UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
      "./$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$art" "$corpus" >"$log" 2>&1) || rc=$?
  # The last status line ("#N ... cov: C ft: F corp: K/S ... exec/s: E").
  local last runs cov ft corp eps
  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
  runs=$(grep -oE '^stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || true)
  cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
  ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
  corp=$(sed -nE 's/.* corp: ([0-9]+)\/.*/\1/p' <<<"$last")
  eps=$(grep -oE '^stat::average_exec_per_sec: *[0-9]+' "$log" | grep -oE '[0-9]+$' || true)
  printf '%-20s %5ss  execs %-10s exec/s %-7s cov %-5s ft %-6s corpus %s\n' \
    "$t" "$secs" "${runs:-?}" "${eps:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}"
  if [ "$rc" -ne 0 ]; then
    echo "fuzz: $t FAILED (exit $rc); the end of $log:" >&2
    grep -E 'ERROR|SUMMARY|fuzz_[a-z_]+:|Test unit written|^artifact_prefix' "$log" | head -n 20 >&2 || true
    local crash
    crash=$(sed -nE 's/.*Test unit written to (.*)$/\1/p' "$log" | tail -n 1)
    [ -n "$crash" ] && echo "fuzz: replay with: $build/$t $crash" >&2
    return 1
  fi
}

[ $# -ge 1 ] || usage
case $1 in
  list) targets; exit 0 ;;
  corpus)
    build_targets fuzz_corpus_gen
    "$build/fuzz_corpus_gen" tests/fuzz/corpus
    echo "fuzz: wrote tests/fuzz/corpus/ (regress-* inputs are kept)"
    exit 0 ;;
esac
[ $# -eq 2 ] || usage
secs=$2
[[ $secs =~ ^[0-9]+$ ]] && [ "$secs" -ge 1 ] || usage
if [ "$1" = all ]; then
  mapfile -t list < <(targets)
else
  [ -f "tests/fuzz/$1.c" ] || usage
  list=("$1")
fi
build_targets "${list[@]}" >/dev/null
failed=0
for t in "${list[@]}"; do
  run_one "$t" "$secs" || failed=1
done
exit "$failed"
