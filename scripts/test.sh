#!/usr/bin/env bash
# The test command: installs what is missing, builds with AddressSanitizer and
# UndefinedBehaviorSanitizer into build/asan, and runs every test with ctest
# (unit tests, integration tests against a private PostgreSQL 15 that ctest
# starts and stops, pgTAP RLS tests, examples).  Extra arguments go to ctest,
# e.g. scripts/test.sh -R merge.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
build=${CF_BUILD_DIR:-build/asan}
cmake -S . -B "$build" -DCF_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$build" -j"$(nproc)"
cd "$build"
ctest --output-on-failure -j"$(nproc)" "$@"
