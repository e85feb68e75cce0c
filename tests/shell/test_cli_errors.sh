#!/usr/bin/env bash
# tests/shell/test_cli_errors.sh: configuration and connection failures of
# the database commands: a malformed DATABASE_URL, an unreachable port, a
# missing database and an unset DATABASE_URL each give exactly one line on
# stderr and a non-zero exit, for migrate, seed and doctor alike; the
# --database-url flag beats the environment, which beats ./.env.
. "$(dirname "$0")/cli_lib.sh"

db=$(new_db cli_errors cf_template)
good=$(url "$db")
# A port nobody listens on: bind-free ports are racy, port 1 needs root to serve.
unreachable="postgresql://postgres@127.0.0.1:1/$db?connect_timeout=5"

for cmd in "migrate status" "migrate up" "seed" "doctor"; do
  # shellcheck disable=SC2086
  run $cmd --database-url "postgresql://postgres@/x?host=$CF_TEST_PGHOST&nosuchparam=1"
  expect_fail "$cmd malformed"; expect_one_err_line "$cmd malformed URL" "malformed DATABASE_URL"
  # shellcheck disable=SC2086
  run $cmd --database-url "not a url"
  expect_fail "$cmd garbage"; expect_one_err_line "$cmd garbage URL" "malformed DATABASE_URL"
  # shellcheck disable=SC2086
  run $cmd --database-url "$unreachable"
  expect_fail "$cmd unreachable"; expect_one_err_line "$cmd unreachable port" "port 1 failed"
  # shellcheck disable=SC2086
  run $cmd --database-url "$(url "no_such_db_$$")"
  expect_fail "$cmd wrong db"; expect_one_err_line "$cmd wrong database" "does not exist"
  # shellcheck disable=SC2086
  DATABASE_URL= run $cmd
  expect_fail "$cmd unset"; expect_one_err_line "$cmd unset DATABASE_URL" "DATABASE_URL is not set"
  pass "$cmd: malformed URL, unreachable port, wrong database, unset URL: one line each, non-zero exit"
done

run doctor --database-url
[ "$rc" = 2 ] || fail "--database-url without value: exit $rc, expected 2"
run doctor --frobnicate
[ "$rc" = 2 ] || fail "unknown option: exit $rc, expected 2"
pass "a missing option value or an unknown option is a usage error (exit 2)"

# Precedence: flag > environment > ./.env
mkdir -p "$cf_tmp/envdir"
cd "$cf_tmp/envdir"
printf '# test\nDATABASE_URL="%s"\n' "$good" >.env
unset DATABASE_URL
run doctor
expect_rc 0 "doctor from .env"; expect_out "Tables found: $(n_tables)" "doctor from .env"
pass "DATABASE_URL is read from ./.env"
DATABASE_URL="$unreachable" run doctor
expect_fail "env beats .env"; expect_one_err_line "env beats .env" "port 1"
pass "the environment beats ./.env"
DATABASE_URL="$unreachable" run doctor --database-url="$good"
expect_rc 0 "flag beats env"
pass "--database-url beats the environment"
echo "test_cli_errors: all passed"
