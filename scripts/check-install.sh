#!/usr/bin/env bash
# Installs a build into a temporary prefix and uses it the way an app
# developer and a packager would (docs/packaging.md, "What CI checks"):
#
#   scripts/check-install.sh [BUILD_DIR]      (default build/release)
#
#  1. `cmake --install BUILD_DIR --prefix TMP`; the installed tree has the
#     header, libclientflow.a, libclientflow.so.0 (SONAME checked), the
#     `clientflow` program (it runs), clientflow.pc and the CMake package;
#  2. the installed shared library exports exactly the header's functions
#     (scripts/check-exports.sh);
#  3. every examples/<name>/ with a CMakeLists.txt is built OUTSIDE the
#     tree, as its own project, against TMP only:
#       - with CMake: `cmake -S examples/<name> -DCMAKE_PREFIX_PATH=TMP`
#         (find_package(clientflow)), then its own tests run (`ctest -LE
#         online`: a test that needs a server or PostgreSQL carries the
#         label `online` and is skipped here);
#       - with pkg-config: each program of that build compiled again by
#         hand from the same C sources ($CC, else cc, in its default
#         dialect) with `pkg-config --cflags --libs clientflow` (shared) and
#         again with `pkg-config --static` against libclientflow.a; the
#         binaries then replace the CMake-built ones and the example's
#         offline tests run again, once per kind.
#
# A build made with CF_SANITIZE=ON gives its sanitizer flags to the outside
# builds too (the installed library is instrumented).  CF_KEEP_INSTALL=1
# keeps TMP and prints it.  Exit 0 only if every step passed.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build/release}
build=$(cd "$build" && pwd)
jobs=${CF_JOBS:-2}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cf-install.XXXXXX")
if [ "${CF_KEEP_INSTALL:-0}" = 1 ]; then
  trap 'echo "check-install: kept $tmp"' EXIT
else
  trap 'rm -rf "$tmp"' EXIT
fi
prefix=$tmp/prefix
step() { echo "check-install: $*"; }
fail() { echo "check-install: FAIL: $*" >&2; exit 1; }

flags=""
if grep -q '^CF_SANITIZE:BOOL=ON' "$build/CMakeCache.txt"; then
  flags="-fsanitize=address,undefined -fno-omit-frame-pointer"
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
fi

# --- 1. install -------------------------------------------------------------
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" ||
  { cat "$tmp/install.log" >&2; fail "cmake --install $build"; }
libdir=$(find "$prefix" -name libclientflow.a -printf '%h\n' | head -1)
[ -n "$libdir" ] || fail "libclientflow.a not installed"
for f in "$prefix/include/clientflow.h" "$prefix/bin/clientflow" "$libdir/libclientflow.so" \
  "$libdir/libclientflow.so.0" "$libdir/pkgconfig/clientflow.pc" \
  "$libdir/cmake/clientflow/clientflowConfig.cmake" \
  "$libdir/cmake/clientflow/clientflowConfigVersion.cmake"; do
  [ -e "$f" ] || fail "not installed: ${f#"$prefix"/}"
done
soname=$(readelf -d "$libdir/libclientflow.so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[ "$soname" = libclientflow.so.0 ] || fail "SONAME is '$soname', not libclientflow.so.0"
"$prefix/bin/clientflow" --version >/dev/null || fail "the installed clientflow does not run"
step "installed into $prefix (SONAME $soname, lib in ${libdir#"$prefix"/})"

# --- 2. the export list -------------------------------------------------------
"$src/scripts/check-exports.sh" "$libdir/libclientflow.so" "$prefix/include/clientflow.h"

# --- 3. the examples, as outside projects -------------------------------------
export PKG_CONFIG_PATH=$libdir/pkgconfig
pkg-config --exists clientflow || fail "pkg-config does not find clientflow.pc"
built=0
for cml in "$src"/examples/*/CMakeLists.txt; do
  [ -e "$cml" ] || continue
  exdir=$(dirname "$cml")
  name=$(basename "$exdir")
  b=$tmp/ex-$name
  # Only the installed package: no path into the source tree's include/.
  cmake -S "$exdir" -B "$b" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_FLAGS="$flags" >"$tmp/$name.cmake.log" 2>&1 ||
    { cat "$tmp/$name.cmake.log" >&2; fail "$name: cmake configure against $prefix"; }
  cmake --build "$b" -j"$jobs" >"$tmp/$name.build.log" 2>&1 ||
    { cat "$tmp/$name.build.log" >&2; fail "$name: cmake build"; }
  run_tests() {
    (cd "$b" && LD_LIBRARY_PATH=$libdir CF_CLIENTFLOW=$prefix/bin/clientflow \
      ctest -LE online --output-on-failure --no-tests=ignore) >"$tmp/$name.ctest.log" 2>&1 ||
      { cat "$tmp/$name.ctest.log" >&2; fail "$name ($1): its tests"; }
    ntests=$(grep -c 'Test *#' "$tmp/$name.ctest.log" || true)
  }
  run_tests cmake
  step "$name: built with find_package(clientflow), $ntests offline test(s) passed"

  # pkg-config: each program of the CMake build compiled again by hand from
  # the same sources (CMake keeps one object per source,
  # CMakeFiles/<program>.dir/<source>.o), shared then static.
  mapfile -t exes < <(find "$b" -maxdepth 1 -type f -executable -printf '%f\n' | sort)
  [ ${#exes[@]} -gt 0 ] || fail "$name: its CMake build made no program"
  static_libs=$(pkg-config --static --libs clientflow |
    sed 's/-lclientflow/-Wl,-Bstatic -lclientflow -Wl,-Bdynamic/')
  uses=0
  for exe in "${exes[@]}"; do
    mapfile -t srcs < <(cd "$b/CMakeFiles/$exe.dir" 2>/dev/null &&
      find . -name '*.c.o' | sed 's|^\./||; s|\.o$||' | sort)
    [ ${#srcs[@]} -gt 0 ] || fail "$name: no C sources found for $exe"
    srcs=("${srcs[@]/#/$exdir/}")
    for f in "${srcs[@]}"; do [ -f "$f" ] || fail "$name: $exe's source ${f#"$exdir"/} is not in $exdir"; done
    # shellcheck disable=SC2046,SC2086
    "${CC:-cc}" $flags -o "$tmp/$exe.shared" "${srcs[@]}" $(pkg-config --cflags --libs clientflow) ||
      fail "$name: $exe with pkg-config --libs clientflow"
    # shellcheck disable=SC2046,SC2086
    "${CC:-cc}" $flags -o "$tmp/$exe.static" "${srcs[@]}" $(pkg-config --cflags clientflow) $static_libs ||
      fail "$name: $exe with pkg-config --static --libs clientflow"
    if readelf -d "$tmp/$exe.static" | grep -q 'libclientflow'; then
      fail "$name: $exe built --static still needs libclientflow.so"
    fi
    # (a program that calls nothing of the library, a test driver, may not need it)
    if readelf -d "$tmp/$exe.shared" | grep -q 'libclientflow.so.0'; then uses=$((uses + 1)); fi
  done
  [ "$uses" -gt 0 ] || fail "$name: no program built with pkg-config needs libclientflow.so.0"
  for kind in shared static; do
    for exe in "${exes[@]}"; do cp "$tmp/$exe.$kind" "$b/$exe"; done
    run_tests "pkg-config $kind"
  done
  step "$name: ${exes[*]} built with pkg-config (shared and --static), the offline tests passed with each"
  built=$((built + 1))
done
[ $built -gt 0 ] || fail "no examples/*/CMakeLists.txt found"
step "OK: $built example(s) built and run against the installed package"
