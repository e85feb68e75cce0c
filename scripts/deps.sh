#!/usr/bin/env bash
# Installs the Debian 12 packages ClientFlow Sync needs to build, test and run
# its demo, when any is missing.  Needs root (or sudo) only when it installs.
# docs/dependencies.md says why each package is here.  The fuzz targets
# (scripts/fuzz.sh) need clang, its sanitizer and libFuzzer runtimes
# (libclang-rt-14-dev: only a Recommends of clang-14, which this script does
# not install) and llvm-symbolizer (llvm) for readable sanitizer reports.
# The cross compilers and qemu-user are scripts/cross.sh's, which also
# downloads the arm64 and s390x -dev packages into its own sysroots.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  libsqlite3-dev libpq-dev libmbedtls-dev libwebsockets-dev libmsgpack-dev
  libev-dev libwebsockets-evlib-ev
  postgresql-15 postgresql-client-15 postgresql-15-pgtap
  libtap-parser-sourcehandler-pgtap-perl
  wrk curl
  clang libclang-rt-14-dev llvm
  clang-format cppcheck
  gcc-aarch64-linux-gnu gcc-s390x-linux-gnu libc6-dev-arm64-cross libc6-dev-s390x-cross
  qemu-user
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q >/dev/null
# Debian's postgresql-common would create and start a cluster on port 5432;
# the project starts its own, so skip that one.
$sudo mkdir -p /etc/postgresql-common
grep -qs '^create_main_cluster' /etc/postgresql-common/createcluster.conf ||
  echo 'create_main_cluster = false' | $sudo tee -a /etc/postgresql-common/createcluster.conf >/dev/null
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
