#!/bin/bash
# tests/shell/test_token_cli.sh: `clientflow token` end to end.
#
# Mints HS256 and ES256 tokens with the CLI and verifies them with
# `clientflow token --verify`, and checks the one-line refusals (unset or
# short JWT_SECRET, bad user id, tampered token, algorithm not configured).
# Needs no database.  CF_CLIENTFLOW is the program (set by ctest).
set -euo pipefail

CF=${CF_CLIENTFLOW:?CF_CLIENTFLOW must name the clientflow program}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" # no stray ./.env is read
unset JWT_SECRET JWT_ES256_PUBLIC_KEY_FILE JWT_ES256_KID JWT_JWKS_FILE JWT_AUDIENCE JWT_LEEWAY

user=3f1c2a9e-5b7d-4e8f-9a01-23456789abcd
fail() { echo "FAIL: $*" >&2; exit 1; }

# tamper TOKEN: the same token with the first signature character changed.
tamper() {
  local sig=${1##*.} c=A
  [ "${sig:0:1}" = A ] && c=B
  printf '%s.%s%s\n' "${1%.*}" "$c" "${sig:1}"
}

# expect_fail "<stderr substring>" cmd...: exit 1 and one line naming the reason.
expect_fail() {
  local want=$1; shift
  local err rc=0
  err=$("$@" 2>&1 >/dev/null) || rc=$?
  [ "$rc" -eq 1 ] || fail "'$*' exited $rc, want 1"
  [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] || fail "'$*' printed more than one line: $err"
  case $err in *"$want"*) ;; *) fail "'$*' said '$err', want '$want'" ;; esac
}

expect_fail "JWT_SECRET is not set" "$CF" token --user "$user"
JWT_SECRET=too-short expect_fail "at least 32" "$CF" token --user "$user"

export JWT_SECRET=super-secret-jwt-token-with-at-least-32-characters-long
expect_fail "UUID" "$CF" token --user not-a-uuid

# HS256 round trip.
tok=$("$CF" token --user "$user" --email rep@example.com --ttl 600)
[ "$(grep -o '\.' <<<"$tok" | wc -l)" -eq 2 ] || fail "not a compact JWS: $tok"
out=$("$CF" token --verify "$tok")
grep -qx "sub=$user" <<<"$out" || fail "verify printed: $out"
grep -qx "email=rep@example.com" <<<"$out" || fail "verify printed: $out"
grep -qx "role=authenticated" <<<"$out" || fail "verify printed: $out"

# The .env file is read too, and a flag-less environment wins over it.
env -u JWT_SECRET bash -c "printf 'JWT_SECRET=%s\n' '$JWT_SECRET' > .env; \"$CF\" token --verify '$tok' >/dev/null" ||
  fail "JWT_SECRET from ./.env was not used"
rm -f .env

# Tampering and configuration mismatches.
expect_fail "bad signature" "$CF" token --verify "$(tamper "$tok")"
JWT_SECRET=another-secret-that-is-also-32-bytes-long expect_fail "bad signature" "$CF" token --verify "$tok"
JWT_AUDIENCE=crm expect_fail "wrong audience" "$CF" token --verify "$tok"
expect_fail "malformed" "$CF" token --verify "not.a.token"

# ES256 with a generated key (if OpenSSL's tool is here).
if command -v openssl >/dev/null; then
  openssl ecparam -name prime256v1 -genkey -noout -out key.pem 2>/dev/null
  openssl ec -in key.pem -pubout -out pub.pem 2>/dev/null
  es=$("$CF" token --user "$user" --es256-key key.pem --kid k1)
  out=$(env -u JWT_SECRET JWT_ES256_PUBLIC_KEY_FILE=pub.pem "$CF" token --verify "$es")
  grep -qx "sub=$user" <<<"$out" || fail "ES256 verify printed: $out"
  # HS256-only configuration refuses ES256, and the other way round.
  expect_fail "algorithm not allowed" "$CF" token --verify "$es"
  JWT_ES256_PUBLIC_KEY_FILE=pub.pem expect_fail "bad signature" "$CF" token --verify "$(tamper "$es")"
  expect_fail "algorithm not allowed" env -u JWT_SECRET JWT_ES256_PUBLIC_KEY_FILE=pub.pem \
    "$CF" token --verify "$tok"
fi

echo "ok: clientflow token"
