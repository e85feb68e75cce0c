/*
** tests/fuzz/fuzz_jwt_verify.c: libFuzzer target for token verification
** (cf_auth_verify, sync/auth/verify.c) and JWKS parsing (cf_auth_add_jwks).
** Design: docs/auth.md; fuzzing in docs/testing.md, "Fuzzing".
**
** One verifier per process holds the HS256 test secret (FUZZ_SECRET), the
** RFC 7515 A.3 ES256 public key as a JWKS with kid "a3" and the default
** audience "authenticated"; the clock hook is fixed at FUZZ_NOW_MS.  Input
** (tests/fuzz/fuzz_inputs.h), byte 0 % 4:
**
**   RAW      the rest is the token text as an attacker sends it;
**   SIGNED   header JSON, NUL, payload JSON, each base64url'd and signed
**            with the real secret (cf__jwt_sign_hs256), so the fuzzer gets
**            past the signature into the header and claims parsers;
**   PAYLOAD  the payload JSON alone under {"alg":"HS256","typ":"JWT"};
**   JWKS     a JWK Set document given to cf_auth_add_jwks of a fresh
**            verifier (at most 256 KiB).
**
** Proves, for every input:
**  - no crash, overread, leak or undefined behaviour in the base64url, JSON
**    pre-scan, LEJP claims parsing, signature and JWKS code;
**  - cf_auth_verify answers CF_OK with claims, or CF_AUTH with no claims and
**    a reason from CF_TOKEN_ERROR_TABLE, or CF_NOMEM;
**  - an accepted token has a canonical lowercase UUID subject, an expiry
**    after now - leeway (30 s), the payload JSON and, for SIGNED/PAYLOAD,
**    is refused by a verifier holding another secret (the signature was
**    checked against the configured secret, not taken on trust);
**  - cf_auth_add_jwks answers CF_OK, CF_CONFIG or CF_NOMEM, and a verifier
**    it configured still refuses a garbage token cleanly.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clientflow.h"
#include "core/uuid.h"
#include "fuzz_inputs.h"
#include "sync/auth/auth.h"

#define HS_HEADER "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"
#define LEEWAY_S 30

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static cf_auth *verifier;

static void fail(const char *what, const char *detail) {
  fprintf(stderr, "fuzz_jwt_verify: %s: %s\n", what, detail != NULL ? detail : "");
  abort();
}

static int64_t fixed_clock(void *ctx) {
  (void)ctx;
  return FUZZ_NOW_MS;
}

/* Builds the process's verifier once. */
static void setup(void) {
  if (verifier != NULL) return;
  cf_set_clock_hook(fixed_clock, NULL);
  if (cf_auth_new(&verifier) != CF_OK ||
      cf_auth_set_hs256_secret(verifier, FUZZ_SECRET, strlen(FUZZ_SECRET)) != CF_OK ||
      cf_auth_add_jwks(verifier, FUZZ_JWKS, strlen(FUZZ_JWKS)) != CF_OK)
    fail("cannot configure the verifier", cf_auth_errmsg(verifier));
}

/* Non-zero if a verifier holding another HS256 secret also accepts
** tok[0..len): then the signature check ignored the secret. */
static int accepted_by_other_secret(const char *tok, size_t len) {
  static const char other_secret[] = "another-secret-of-at-least-32-bytes-length!";
  cf_auth *other = NULL;
  cf_claims *c = NULL;
  int accepted = 0;
  if (cf_auth_new(&other) == CF_OK &&
      cf_auth_set_hs256_secret(other, other_secret, strlen(other_secret)) == CF_OK)
    accepted = cf_auth_verify(other, tok, len, &c, NULL) == CF_OK;
  cf_claims_free(c);
  cf_auth_free(other);
  return accepted;
}

/* Verifies tok[0..len) and checks the answer. */
static void verify(const char *tok, size_t len) {
  cf_claims *claims = NULL;
  cf_token_error why = (cf_token_error)-1;
  int rc = cf_auth_verify(verifier, tok, len, &claims, &why);
  if (rc == CF_NOMEM) return;
  if (rc == CF_AUTH) {
    if (claims != NULL) fail("a refused token gave claims", tok);
    if (why <= CF_TOKEN_OK || why > CF_TOKEN_BAD_SUBJECT)
      fail("refused without a reason", tok);
    return;
  }
  if (rc != CF_OK) fail("unexpected result", cf_strerror(rc));
  if (claims == NULL || why != CF_TOKEN_OK) fail("accepted without claims", tok);
  const char *sub = cf_claims_sub(claims);
  cf_uuid u;
  char canon[CF_UUID_TEXT_LEN];
  if (sub == NULL || cf__uuid_parse(sub, strlen(sub), &u) != CF_OK ||
      strcmp(cf__uuid_format(&u, canon), sub) != 0)
    fail("accepted a subject that is not a canonical UUID", sub);
  if (cf_claims_exp(claims) <= FUZZ_NOW_MS / 1000 - LEEWAY_S)
    fail("accepted an expired token", tok);
  size_t jlen = 0;
  const char *json = cf_claims_json(claims, &jlen);
  if (json == NULL || jlen == 0 || json[jlen] != '\0')
    fail("claims without payload", tok);
  (void)cf_claims_role(claims);
  (void)cf_claims_email(claims);
  (void)cf_claims_iat(claims);
  cf_claims_free(claims);
  if (accepted_by_other_secret(tok, len))
    fail("a verifier with another secret accepts the token too", tok);
}

/* Signs header and payload (NUL-terminated) with the secret and verifies. */
static void verify_signed(const char *header, const char *payload) {
  char *tok = NULL;
  int rc = cf__jwt_sign_hs256(FUZZ_SECRET, strlen(FUZZ_SECRET), header, payload, &tok);
  if (rc == CF_OK) {
    verify(tok, strlen(tok));
  } else if (rc != CF_TOOBIG && rc != CF_NOMEM) {
    fail("cannot sign", cf_strerror(rc));
  }
  cf_token_free(tok);
}

static void fuzz_jwks(const char *doc, size_t n) {
  cf_auth *auth = NULL;
  if (cf_auth_new(&auth) != CF_OK) return;
  int rc = cf_auth_add_jwks(auth, doc, n);
  if (rc != CF_OK && rc != CF_CONFIG && rc != CF_NOMEM) fail("unexpected result", doc);
  if (rc == CF_CONFIG && cf_auth_errmsg(auth)[0] == '\0')
    fail("a refused JWKS without a reason", doc);
  if (rc == CF_OK) {
    static const char junk[] = "eyJhbGciOiJFUzI1NiJ9.e30.AAAA";
    cf_claims *c = NULL;
    if (cf_auth_verify(auth, junk, strlen(junk), &c, NULL) != CF_AUTH || c != NULL)
      fail("a JWKS verifier accepted junk", doc);
  }
  cf_auth_free(auth);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  setup();
  if (size < 1) return 0;
  int mode = data[0] % 4;
  size_t n = size - 1;
  /* A private NUL-terminated copy of exactly the text. */
  char *s = malloc(n + 1);
  if (s == NULL) return 0;
  memcpy(s, data + 1, n);
  s[n] = '\0';
  switch (mode) {
    case JWT_MODE_RAW:
      verify(s, n);
      break;
    case JWT_MODE_SIGNED: {
      size_t h = strlen(s); /* header up to the first NUL, payload after it */
      verify_signed(s, h < n ? s + h + 1 : "");
      break;
    }
    case JWT_MODE_PAYLOAD:
      verify_signed(HS_HEADER, s);
      break;
    default:
      fuzz_jwks(s, n);
      break;
  }
  free(s);
  return 0;
}
