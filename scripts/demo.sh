#!/usr/bin/env bash
# The main job: installs what is missing, builds an optimised `clientflow`
# into build/release and runs `clientflow demo`, which starts its own private
# PostgreSQL.  Extra arguments go to `clientflow demo` (e.g. --keep).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
build=${CF_BUILD_DIR:-build/release}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCF_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target clientflow
exec "$build/clientflow" demo "$@"
