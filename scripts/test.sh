#!/usr/bin/env bash
# The test command: installs what is missing, checks the style (clang-format,
# cppcheck: scripts/check-style.sh), builds with AddressSanitizer and
# UndefinedBehaviorSanitizer into build/asan, and runs every test with ctest
# (unit tests, integration tests against a private PostgreSQL 15 that ctest
# starts and stops, pgTAP RLS tests, examples).  Extra arguments go to ctest,
# e.g. scripts/test.sh -R merge.
#
# Once ctest has passed, the threads test runs under ThreadSanitizer
# (scripts/tsan.sh), the Release build is compiled (warnings are errors
# there too), then every libFuzzer target of tests/fuzz/ is built with
# clang (build/fuzz) and run for CF_FUZZ_SECONDS seconds each (default 20;
# 0 skips the step) by scripts/fuzz.sh; a crash, leak, sanitizer report or
# timeout fails the script (docs/testing.md, "Fuzzing").
#
# Then the Release build is installed into a temporary prefix and every
# examples/*/CMakeLists.txt is built against it as an outside project, with
# CMake and with pkg-config (scripts/check-install.sh, docs/packaging.md).
#
# Portability (docs/portability.md): after the Release build, scripts/cross.sh
# cross-builds the unit tests for arm64 and big-endian s390x and runs them
# under qemu-user (CF_CROSS=0 skips it).
#
# CF_BUILD_DIR (default build/asan) and CF_TEST_PG_PORT (the port of the
# private PostgreSQL) let two checkouts test side by side.  Without
# CF_TEST_PG_PORT the tests use 54329, or, when something already listens
# there, the first free port above it (the script says which).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
# One style, kept by tools: clang-format and cppcheck (docs/architecture.md).
scripts/check-style.sh
build=${CF_BUILD_DIR:-build/asan}
# Taken = PostgreSQL could not bind it: a listener, or an outgoing
# connection's local port (54329 lies in Linux's ephemeral range).  Perl is
# in every Debian (perl-base).
port_in_use() {
  ! perl -MIO::Socket::INET -e 'IO::Socket::INET->new(LocalAddr => "127.0.0.1",
    LocalPort => $ARGV[0], Listen => 1, ReuseAddr => 1, Proto => "tcp") or exit 1' "$1"
}
if [ -z "${CF_TEST_PG_PORT:-}" ]; then
  CF_TEST_PG_PORT=54329
  while port_in_use "$CF_TEST_PG_PORT"; do
    CF_TEST_PG_PORT=$((CF_TEST_PG_PORT + 1))
    if [ "$CF_TEST_PG_PORT" -gt 54429 ]; then
      echo "test: no free port in 54329..54429; set CF_TEST_PG_PORT" >&2
      exit 1
    fi
  done
  [ "$CF_TEST_PG_PORT" = 54329 ] ||
    echo "test: port 54329 is taken; the test PostgreSQL uses $CF_TEST_PG_PORT (CF_TEST_PG_PORT)"
fi
cmake -S . -B "$build" -DCF_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug \
  -DCF_TEST_PG_PORT="$CF_TEST_PG_PORT" >/dev/null
cmake --build "$build" -j"$(nproc)"
(cd "$build" && ctest --output-on-failure -j"$(nproc)" "$@")
# The threading model under ThreadSanitizer: two threads, one replica file
# (scripts/tsan.sh, its own build in build/tsan).
scripts/tsan.sh
# The optimised build has warnings the debug build does not (GCC's
# -Wmaybe-uninitialized at -O2): it must compile warning-free too.
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j"$(nproc)"
scripts/check-install.sh build/release
# Portability (docs/portability.md): the library and its unit tests
# cross-built for arm64 and big-endian s390x and run under qemu-user, and a
# replica file moved between the architectures.  CF_CROSS=0 skips the step.
if [ "${CF_CROSS:-1}" != 0 ]; then
  CF_CROSS_NATIVE=build/release scripts/cross.sh
fi
fuzz_seconds=${CF_FUZZ_SECONDS:-20}
if [ "$fuzz_seconds" != 0 ]; then
  echo "test: fuzzing every target for ${fuzz_seconds} s (CF_FUZZ_SECONDS)"
  scripts/fuzz.sh all "$fuzz_seconds"
fi
