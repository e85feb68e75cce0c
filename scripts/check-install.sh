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
#       - with pkg-config: the directory's *.c files compiled by hand ($CC,
#         else cc, its default C dialect) with
#         `pkg-config --cflags --libs clientflow` (shared) and again with
#         `pkg-config --static` against libclientflow.a; each binary then
#         replaces the CMake-built one of the same name and the example's
#         offline tests run again.
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

  # pkg-config: the directory's sources compiled by hand, shared then static.
  mapfile -t exes < <(find "$b" -maxdepth 1 -type f -executable -printf '%f\n')
  exe=${exes[0]:-$name}
  shopt -s nullglob
  srcs=("$exdir"/*.c)
  shopt -u nullglob
  [ ${#srcs[@]} -gt 0 ] || fail "$name: no .c files to build with pkg-config"
  # shellcheck disable=SC2046,SC2086
  "${CC:-cc}" $flags -o "$tmp/$name.shared" "${srcs[@]}" $(pkg-config --cflags --libs clientflow) ||
    fail "$name: build with pkg-config --libs clientflow"
  static_libs=$(pkg-config --static --libs clientflow |
    sed 's/-lclientflow/-Wl,-Bstatic -lclientflow -Wl,-Bdynamic/')
  # shellcheck disable=SC2046,SC2086
  "${CC:-cc}" $flags -o "$tmp/$name.static" "${srcs[@]}" $(pkg-config --cflags clientflow) $static_libs ||
    fail "$name: build with pkg-config --static --libs clientflow"
  if readelf -d "$tmp/$name.static" | grep -q 'libclientflow'; then
    fail "$name: the --static build still needs libclientflow.so"
  fi
  readelf -d "$tmp/$name.shared" | grep -q 'libclientflow.so.0' ||
    fail "$name: the shared build does not need libclientflow.so.0"
  if [ ${#exes[@]} = 1 ]; then
    for kind in shared static; do
      cp "$tmp/$name.$kind" "$b/$exe"
      run_tests "pkg-config $kind"
    done
    step "$name: built with pkg-config (shared and --static), its offline tests passed with each"
  else
    step "$name: built with pkg-config (shared and --static); ${#exes[@]} programs in its CMake build, so not run"
  fi
  built=$((built + 1))
done
[ $built -gt 0 ] || fail "no examples/*/CMakeLists.txt found"
step "OK: $built example(s) built and run against the installed package"
