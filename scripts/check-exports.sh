#!/usr/bin/env bash
# Checks that a libclientflow.so exports exactly the functions that
# include/clientflow.h declares, both ways (docs/packaging.md):
#
#   scripts/check-exports.sh LIBRARY.so [HEADER]
#
# The header's declarations come from GCC itself (-aux-info lists every
# prototype with the file it was declared in), the library's from
# `nm -D --defined-only`.  A name exported but not declared is an internal
# function leaking into the ABI (cmake/libclientflow.map keeps `cf__*` and
# everything else local); a name declared but not exported is a function an
# app cannot link.  Both fail the check, naming the function.  Exported data
# (no public variables exist) counts like a function.
set -euo pipefail
lib=${1:?usage: check-exports.sh LIBRARY.so [HEADER]}
header=${2:-"$(dirname "$0")/../include/clientflow.h"}
gcc=${CF_GCC:-gcc}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cf-exports.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

"$gcc" -std=c11 -aux-info "$tmp/aux" -fsyntax-only -x c "$header"
hname=$(basename "$header")
grep -F "$hname:" "$tmp/aux" | sed -n 's/.*[ *]\(cf_[A-Za-z0-9_]*\) (.*/\1/p' | sort -u >"$tmp/declared"
nm -D --defined-only "$lib" | awk '$2 ~ /^[TtDdBbRrVWiu]$/ {print $3}' | sed 's/@.*//' |
  sort -u >"$tmp/exported"

status=0
extra=$(comm -13 "$tmp/declared" "$tmp/exported")
missing=$(comm -23 "$tmp/declared" "$tmp/exported")
if [ -n "$extra" ]; then
  echo "check-exports: $(echo "$extra" | wc -l) symbol(s) exported but not declared in $hname:" >&2
  echo "$extra" | sed 's/^/  /' >&2
  status=1
fi
if [ -n "$missing" ]; then
  echo "check-exports: $(echo "$missing" | wc -l) function(s) declared in $hname but not exported:" >&2
  echo "$missing" | sed 's/^/  /' >&2
  status=1
fi
n=$(wc -l <"$tmp/declared")
[ "$n" -gt 0 ] || { echo "check-exports: no cf_ declarations found in $header" >&2; exit 1; }
[ $status = 0 ] && echo "check-exports: $(basename "$lib") exports exactly the $n functions of $hname"
exit $status
