#!/bin/bash
# tests/shell/test_rest_cli.sh: the REST API of `clientflow serve` end to end
# with curl, as docs/rest-api.md shows it: a token from `clientflow token`,
# the seed's endpoints, the x-user-id header ignored without
# --dev-user-header and honoured (with a warning at start) with it, and a
# clean exit on SIGTERM.  The HTTP details are covered by
# tests/integration/test_rest_api.c.
source "$(dirname "$0")/cli_lib.sh"
unset JWT_ES256_PUBLIC_KEY_FILE JWT_ES256_KID JWT_JWKS_FILE JWT_AUDIENCE JWT_LEEWAY DATABASE_URL

DEMO=01936b2a-0000-7000-8000-100000000001
OWNER=01936b2a-0001-7000-8000-000000000001
export JWT_SECRET=rest-cli-test-secret-rest-cli-test-secret

db=$(new_db rest_cli cf_template)
run seed --database-url "$(url "$db")"
expect_rc 0 "seed"
ensure_server_role cf_test_rest_cli

srv_pid=
port=
# serve [FLAGS...]: starts the server; sets srv_pid and port (read from its
# "listening on" line, a blocking read, no polling).
serve() {
  exec 3< <(exec "$CF" serve --database-url "$(url "$db" cf_test_rest_cli)" --port 0 \
    --workers 2 "$@" 2>"$cf_tmp/serve.err")
  srv_pid=$!
  local line=
  read -r -t 30 line <&3 || { cat "$cf_tmp/serve.err" >&2; fail "serve $*: no listening line"; }
  port=${line##*:}
  [ -n "$port" ] || fail "serve $*: '$line'"
}
stop() {
  kill -TERM "$srv_pid"
  local rc=0
  wait "$srv_pid" || rc=$?
  exec 3<&-
  [ "$rc" = 0 ] || { cat "$cf_tmp/serve.err" >&2; fail "serve exited $rc on SIGTERM"; }
}
trap 'kill "$srv_pid" 2>/dev/null || true; cleanup' EXIT

# get PATH [curl args...]: sets $status and $body.
get() {
  local path=$1
  shift
  body=$(curl -s -o - -w '\n%{http_code}' "$@" "http://127.0.0.1:$port$path")
  status=${body##*$'\n'}
  body=${body%$'\n'*}
}

serve
grep -q "x-user-id" "$cf_tmp/serve.err" && fail "a warning about x-user-id without the flag"

# The README's examples: a token from `clientflow token`.
TOKEN=$("$CF" token --user "$OWNER")
get /api/crm/organizations -H "Authorization: Bearer $TOKEN"
[ "$status" = 200 ] || fail "organizations: $status $body"
grep -qF "\"id\" : \"$DEMO\"" <<<"$body" || fail "organizations: $body"
grep -qF '"role" : "owner"' <<<"$body" || fail "organizations role: $body"
pass "organizations with a token"
get "/api/crm/contacts?orgId=$DEMO" -H "Authorization: Bearer $TOKEN"
[ "$status" = 200 ] || fail "contacts: $status $body"
[ "$(grep -o '"firstName"' <<<"$body" | wc -l)" = 10 ] || fail "contacts: $body"
pass "contacts with a token"
get "/api/crm/metrics?orgId=$DEMO&days=30" -H "Authorization: Bearer $TOKEN"
[ "$(grep -o '"day"' <<<"$body" | wc -l)" = 30 ] || fail "metrics: $body"
pass "metrics, 30 days"

# The seed's header-only identity is ignored without the flag.
get /api/crm/organizations -H "x-user-id: $OWNER"
[ "$status" = 401 ] || fail "x-user-id without the flag: $status $body"
grep -qF '"code":"unauthorized"' <<<"$body" || fail "401 body: $body"
grep -qF 'only when the server runs with --dev-user-header' <<<"$body" || fail "no hint about --dev-user-header: $body"
get /api/crm/organizations
grep -qF 'dev-user-header' <<<"$body" && fail "the hint without an x-user-id header: $body"
pass "x-user-id ignored without --dev-user-header, and the 401 says how to enable it"
get /api/crm/contacts -X POST -H "Authorization: Bearer $TOKEN"
[ "$status" = 405 ] || fail "POST: $status"
stop
pass "SIGTERM: exit 0"

serve --dev-user-header
grep -q "level=warn.*x-user-id" "$cf_tmp/serve.err" || fail "no warning at start: $(cat "$cf_tmp/serve.err")"
get /api/crm/organizations -H "x-user-id: $OWNER"
[ "$status" = 200 ] || fail "x-user-id with the flag: $status $body"
grep -qF "$DEMO" <<<"$body" || fail "x-user-id with the flag: $body"
stop
pass "x-user-id honoured with --dev-user-header, warning logged"
