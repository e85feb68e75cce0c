#!/usr/bin/env bash
# The style check (STYLE.md, habit 12): clang-format 14 with the repository's
# .clang-format on every tracked .c/.h file, and cppcheck (Debian's 2.10) on
# the library and the program (core/ store/ sync/ platform/ cli/).  Exits
# non-zero, naming the files, when either finds something.
#
#   scripts/check-style.sh              check everything
#   scripts/check-style.sh --fix        apply clang-format to every tracked
#                                       .c/.h first, then check
#   scripts/check-style.sh --format     only the format check
#   scripts/check-style.sh --cppcheck   only cppcheck
#   scripts/check-style.sh [--fix] [--format] FILE...
#                                       format check (or fix) of these files only
#
# Suppressions: cppcheck's findings are fixed in the code.  Where it is
# provably wrong, the line carries `/* cppcheck-suppress <id> ; why */`
# (--inline-suppr), so each one is justified where it applies; nothing is
# suppressed here globally.
set -euo pipefail
cd "$(dirname "$0")/.."

fix=0
run_format=1
run_cppcheck=1
files=()
for arg in "$@"; do
  case "$arg" in
    --fix) fix=1 ;;
    --format) run_cppcheck=0 ;;
    --cppcheck) run_format=0 ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "check-style.sh: unknown option $arg" >&2; exit 2 ;;
    *) files+=("$arg") ;;
  esac
done
if [ "${#files[@]}" -gt 0 ]; then
  run_cppcheck=0 # cppcheck looks at whole directories, not single files
fi

status=0

if [ "$run_format" = 1 ]; then
  clang_format=""
  for c in clang-format-14 clang-format; do
    if command -v "$c" >/dev/null 2>&1 && "$c" --version | grep -q 'version 14\.'; then
      clang_format=$c
      break
    fi
  done
  if [ -z "$clang_format" ]; then
    echo "check-style.sh: clang-format 14 not found (apt-get install clang-format-14)" >&2
    exit 2
  fi
  if [ "${#files[@]}" -eq 0 ]; then
    mapfile -t files < <(git ls-files '*.c' '*.h')
  fi
  if [ "$fix" = 1 ]; then
    "$clang_format" -i --style=file "${files[@]}"
  fi
  bad=()
  for f in "${files[@]}"; do
    if ! "$clang_format" --dry-run --Werror --style=file "$f" >/dev/null 2>&1; then
      bad+=("$f")
    fi
  done
  if [ "${#bad[@]}" -gt 0 ]; then
    echo "clang-format: ${#bad[@]} file(s) differ from .clang-format" \
      "(scripts/check-style.sh --fix FILE... rewrites them):" >&2
    printf '  %s\n' "${bad[@]}" >&2
    status=1
  else
    echo "clang-format: ${#files[@]} files formatted"
  fi
fi

if [ "$run_cppcheck" = 1 ]; then
  if ! command -v cppcheck >/dev/null 2>&1; then
    echo "check-style.sh: cppcheck not found (apt-get install cppcheck)" >&2
    exit 2
  fi
  # The defines are the build's (CMakeLists.txt add_compile_definitions);
  # system and third-party headers are not given, so cppcheck reads only
  # the project's code.
  if cppcheck --enable=warning,performance,portability --error-exitcode=1 \
    --inline-suppr -q --std=c11 \
    -I include -I . -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
    --template='{file}:{line}: {severity} ({id}): {message}' \
    core store sync platform cli; then
    echo "cppcheck: clean"
  else
    echo "cppcheck: findings above" >&2
    status=1
  fi
fi

exit "$status"
