#!/usr/bin/env bash
# The threading model's check under ThreadSanitizer: builds the library and
# the threads test with -fsanitize=thread into build/tsan (CF_TSAN=ON; a
# build of its own, TSan cannot be combined with ASan) and runs
# tests/unit/test_threads.c: two threads with a handle each on one replica
# file (include/clientflow.h, "THREADS").  A data race report fails it.
# scripts/test.sh runs it after ctest.  CF_TSAN_BUILD_DIR changes the dir.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${CF_TSAN_BUILD_DIR:-build/tsan}
cmake -S . -B "$build" -DCF_TSAN=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$build" -j"$(nproc)" --target test_threads
TSAN_OPTIONS="halt_on_error=1 exitcode=66 ${TSAN_OPTIONS:-}" "$build/test_threads"
echo "tsan: no data race in the threads test"
