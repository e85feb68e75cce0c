#!/usr/bin/env bash
# Portability check (docs/portability.md): cross-builds the library and its
# unit tests for Debian arm64 (little-endian) and s390x (big-endian) with
# Debian 12's cross compilers, runs every unit test (ctest label "unit": no
# server) under qemu-user, and moves replica files between the architectures
# (written natively, read under qemu, and back).
#
#   scripts/cross.sh [arch...]      arch: arm64, s390x (default: both)
#
# Needs root (or sudo) the first time: it installs the cross compilers and
# qemu-user (scripts/deps.sh lists them too), adds the architectures to dpkg
# (dpkg --add-architecture) and downloads their -dev packages.  Those are not
# installed through multiarch (the foreign indexes often carry other versions
# of Multi-Arch: same packages than the ones installed, which apt refuses):
# each .deb is unpacked into a private sysroot, build/cross/<arch>/sysroot.
# No sanitizers (ASan under qemu-user is unreliable); warnings are errors.
#
# Environment: CF_CROSS_DIR (default build/cross), CF_CROSS_NATIVE (the
# native build that writes and reads the replica on this machine's side,
# default build/release), CF_CROSS_JOBS (default nproc).
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
archs=("$@")
[ ${#archs[@]} -gt 0 ] || archs=(arm64 s390x)
root=${CF_CROSS_DIR:-build/cross}
native=${CF_CROSS_NATIVE:-build/release}
jobs=${CF_CROSS_JOBS:-$(nproc)}
mkdir -p "$root"
root=$(cd "$root" && pwd)

sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive

triplet() {
  case $1 in
  arm64) echo aarch64-linux-gnu ;;
  s390x) echo s390x-linux-gnu ;;
  *) echo "cross: unknown architecture $1 (arm64, s390x)" >&2 && exit 2 ;;
  esac
}
qemu_cpu() { case $1 in arm64) echo aarch64 ;; s390x) echo s390x ;; esac; }

# --- host packages: cross compilers, their C libraries, qemu-user ----------
want=(qemu-user)
for a in "${archs[@]}"; do
  want+=("gcc-$(triplet "$a")" "libc6-dev-$a-cross")
done
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$p")
done
updated=0
if [ ${#missing[@]} -gt 0 ]; then
  echo "cross: installing ${missing[*]}"
  $sudo apt-get update -q >/dev/null
  updated=1
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- foreign architectures: indexes for apt-get download -------------------
for a in "${archs[@]}"; do
  if ! dpkg --print-foreign-architectures | grep -qx "$a"; then
    echo "cross: dpkg --add-architecture $a"
    $sudo dpkg --add-architecture "$a"
    updated=0
  fi
done
if [ "$updated" = 0 ]; then
  for a in "${archs[@]}"; do
    if ! apt-cache show "libsqlite3-dev:$a" >/dev/null 2>&1; then
      $sudo apt-get update -q >/dev/null
      break
    fi
  done
fi

# --- the sysroot of one architecture ---------------------------------------
# The five -dev packages and, recursively, what they depend on, except the
# C library, the compiler's runtime and C++ (the cross toolchain brings the
# first two; nothing here is C++).
dev_packages=(libsqlite3-dev libmbedtls-dev libmsgpack-dev libwebsockets-dev libev-dev libpq-dev)
skip='^(libc6|libc6-dev|libc-dev-bin|linux-libc-dev|libcrypt1|libcrypt-dev|libnsl2|libnsl-dev|libtirpc.*|rpcsvc-proto|gcc-12-base|libgcc-s1|libgcc-12-dev|libasan8|libatomic1|libubsan1|libgomp1|libitm1|liblsan0|libtsan2|libhwasan0|libstdc\+\+6|libstdc\+\+-12-dev|libboost.*|libmsgpack-cxx-dev)$'

make_sysroot() {
  local a=$1 t dir debs list
  t=$(triplet "$a")
  dir=$root/$a
  debs=$dir/debs
  list=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
    --no-breaks --no-replaces --no-enhances "${dev_packages[@]/%/:$a}" 2>/dev/null |
    sed -n "s/^\([a-z0-9][a-z0-9.+-]*\):$a\$/\1/p" | grep -Ev "$skip" | sort -u)
  # Unpacked already for the same package versions: nothing to do.
  local stamp
  # shellcheck disable=SC2086
  stamp=$(apt-cache policy $(printf "%s:$a " $list) |
    awk '/^[^ ]/ { p = $1 } /^  Candidate:/ { print p, $2 }')
  if [ -f "$dir/sysroot.stamp" ] && [ "$(cat "$dir/sysroot.stamp")" = "$stamp" ]; then
    return 0
  fi
  echo "cross: $a sysroot from $(echo "$list" | wc -w) packages"
  rm -rf "$dir/sysroot" "$debs"
  mkdir -p "$debs" "$dir/sysroot"
  # shellcheck disable=SC2086
  (cd "$debs" && apt-get download -q $(printf "%s:$a " $list) 2>&1 |
    grep -v -e '^Get:' -e 'unsandboxed' -e '^Fetched' || true)
  for deb in "$debs"/*.deb; do dpkg-deb -x "$deb" "$dir/sysroot"; done
  # Absolute symbolic links point into the sysroot instead of the host.
  find "$dir/sysroot" -type l | while read -r l; do
    target=$(readlink "$l")
    case $target in /*) ln -sfn "$dir/sysroot$target" "$l" ;; esac
  done
  # CMake package files name absolute /usr paths (lws's do): into the sysroot.
  find "$dir/sysroot/usr/lib/$t/cmake" -name '*.cmake' -print0 |
    xargs -0 sed -i -E "s#(^|[\"; ])/usr/(lib|include)#\\1$dir/sysroot/usr/\\2#g"
  echo "$stamp" >"$dir/sysroot.stamp"
}

# --- build, unit tests under qemu, replica files both ways -----------------
# The native side of the replica exchange.
if [ ! -f "$native/CMakeCache.txt" ]; then
  cmake -S . -B "$native" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$native" -j"$jobs" --target replica_portable >/dev/null
native_prog=$native/replica_portable

summary=()
for a in "${archs[@]}"; do
  t0=$(date +%s)
  make_sysroot "$a"
  dir=$root/$a
  build=$dir/build
  # -O2 without NDEBUG: the optimiser's warnings, and every assert() kept.
  cmake -S . -B "$build" -DCMAKE_TOOLCHAIN_FILE="$src/cmake/toolchain-$a.cmake" \
    -DCF_CROSS_SYSROOT="$dir/sysroot" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_FLAGS_RELEASE=-O2 -DCF_SANITIZE=OFF >/dev/null
  cmake --build "$build" -j"$jobs" --target cf_unit_tests
  t1=$(date +%s)
  echo "cross: $a unit tests under qemu-$(qemu_cpu "$a")"
  log=$dir/ctest.log
  retried=""
  if ! (cd "$build" && ctest -L unit -LE package -j"$jobs" --output-on-failure) >"$log" 2>&1; then
    # A few tests wait for wall-clock deadlines (pings, timeouts) that an
    # emulated CPU shared with parallel tests can miss: the failed ones run
    # again, alone.  A failure that repeats fails the step.
    retried=$(sed -n 's/^[[:space:]]*[0-9]* - \([a-z0-9_]*\) (.*$/\1/p' "$log" | paste -sd' ')
    echo "cross: $a: again, one at a time: $retried"
    if ! (cd "$build" && ctest --rerun-failed -j1 --output-on-failure) >>"$log" 2>&1; then
      cat "$log"
      echo "cross: $a unit tests FAILED" >&2
      exit 1
    fi
  fi
  total=$(sed -n 's/^.*tests passed, [0-9]* tests failed out of \([0-9]*\)$/\1/p' "$log" | head -1)
  t2=$(date +%s)

  # A replica written here opens there, and the other way.
  emu=(qemu-"$(qemu_cpu "$a")" -L "/usr/$(triplet "$a")" -E
    "LD_LIBRARY_PATH=$dir/sysroot/usr/lib/$(triplet "$a"):$dir/sysroot/lib/$(triplet "$a")")
  x=$dir/replicas
  rm -rf "$x" && mkdir -p "$x"
  "$native_prog" write "$x/from-native.db"
  "${emu[@]}" "$build/replica_portable" verify "$x/from-native.db"
  "${emu[@]}" "$build/replica_portable" write "$x/from-$a.db"
  "$native_prog" verify "$x/from-$a.db"
  t3=$(date +%s)
  summary+=("$a: ${total:-?} unit tests passed under qemu${retried:+ (passed when run again alone: $retried)},\
 replica files both ways; build $((t1 - t0)) s, tests $((t2 - t1)) s, replicas $((t3 - t2)) s")
done
for s in "${summary[@]}"; do echo "cross: $s"; done
