/*
** tests/unit/test_jwt.c: JWT verification and minting (sync/auth/).
**
** Every refusal in docs/auth.md's table has a test here that checks the
** exact cf_token_error, plus published examples (RFC 7515 A.1, A.3), the
** JSON reader's bounds, allocation failures, and randomised mutation of valid
** tokens (seeded: CF_TEST_SEED replays a run).  Time is the clock hook.
*/
#include "cf_test.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "clientflow.h"
#include "core/crypto.h"
#include "platform/platform.h"
#include "sync/auth/auth.h"

#define SECRET "super-secret-jwt-token-with-at-least-32-characters-long"
#define USER "3f1c2a9e-5b7d-4e8f-9a01-23456789abcd"
#define NOW 1800000000 /* the fake clock, in seconds */
#define HS_HEADER "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"

static int64_t fake_now_ms = (int64_t)NOW * 1000;

static int64_t fake_clock(void *ctx) {
  (void)ctx;
  return fake_now_ms;
}

/* Installs the fake clock at NOW. */
static void clock_at_now(void) {
  fake_now_ms = (int64_t)NOW * 1000;
  cf_set_clock_hook(fake_clock, NULL);
}

/* A verifier with the HS256 secret only. */
static cf_auth *hs_auth(void) {
  cf_auth *auth = NULL;
  CHECK_OK(cf_auth_new(&auth));
  CHECK_OK(cf_auth_set_hs256_secret(auth, SECRET, strlen(SECRET)));
  return auth;
}

/* An HS256 token over the given payload text (owned by the caller). */
static char *hs_token(const char *payload) {
  char *tok = NULL;
  CHECK_OK(cf__jwt_sign_hs256(SECRET, strlen(SECRET), HS_HEADER, payload, &tok));
  return tok;
}

/* A typical Supabase payload valid at NOW; static storage. */
static const char *good_payload(void) {
  static char buf[512];
  snprintf(buf, sizeof buf,
           "{\"aud\":\"authenticated\",\"exp\":%d,\"iat\":%d,\"sub\":\"" USER "\","
           "\"email\":\"rep@example.com\",\"phone\":\"\",\"app_metadata\":{\"provider\":"
           "\"email\",\"providers\":[\"email\"]},\"user_metadata\":{},\"role\":"
           "\"authenticated\",\"aal\":\"aal1\",\"amr\":[{\"method\":\"password\","
           "\"timestamp\":%d}],\"session_id\":\"e0b7c7a2-1111-4222-8333-444455556666\"}",
           NOW + 3600, NOW - 60, NOW - 60);
  return buf;
}

/* Verifies tok; frees the claims; returns the reason (CF_TOKEN_OK if accepted). */
static cf_token_error reason_of(const cf_auth *auth, const char *tok) {
  cf_claims *claims = NULL;
  cf_token_error why = (cf_token_error)-1;
  int rc = cf_auth_verify(auth, tok, strlen(tok), &claims, &why);
  if (rc == CF_OK) {
    CHECK(claims != NULL);
    CHECK_EQ(why, CF_TOKEN_OK);
    cf_claims_free(claims);
  } else {
    CHECK_EQ(rc, CF_AUTH);
    CHECK(claims == NULL);
  }
  return why;
}

/* Signs payload with SECRET and checks the verdict. */
static void expect_payload(const cf_auth *auth, const char *payload,
                           cf_token_error want) {
  char *tok = hs_token(payload);
  cf_token_error got = reason_of(auth, tok);
  CHECK_MSG(got == want, "payload %s: got \"%s\", want \"%s\"", payload,
            cf_token_strerror(got), cf_token_strerror(want));
  cf_token_free(tok);
}

CF_TEST(test_hs256_valid_token_accepted_with_claims) {
  clock_at_now();
  cf_auth *auth = hs_auth();
  char *tok = hs_token(good_payload());
  cf_claims *claims = NULL;
  cf_token_error why;
  CHECK_OK(cf_auth_verify(auth, tok, strlen(tok), &claims, &why));
  CHECK_EQ(why, CF_TOKEN_OK);
  CHECK_STR(cf_claims_sub(claims), USER);
  CHECK_STR(cf_claims_role(claims), "authenticated");
  CHECK_STR(cf_claims_email(claims), "rep@example.com");
  CHECK_EQ(cf_claims_exp(claims), NOW + 3600);
  CHECK_EQ(cf_claims_iat(claims), NOW - 60);
  size_t len = 0;
  CHECK_STR(cf_claims_json(claims, &len), good_payload());
  CHECK_EQ(len, strlen(good_payload()));
  cf_claims_free(claims);
  cf_token_free(tok);
  cf_auth_free(auth);
}

CF_TEST(test_optional_claims_may_be_absent_or_null) {
  clock_at_now();
  cf_auth *auth = hs_auth();
  char payload[256];
  snprintf(payload, sizeof payload,
           "{\"sub\":\"" USER "\",\"exp\":%d,\"aud\":\"authenticated\",\"email\":null}",
           NOW + 10);
  char *tok = hs_token(payload);
  cf_claims *claims = NULL;
  CHECK_OK(cf_auth_verify(auth, tok, strlen(tok), &claims, NULL));
  CHECK(cf_claims_role(claims) == NULL);
  CHECK(cf_claims_email(claims) == NULL);
  CHECK_EQ(cf_claims_iat(claims), 0);
  cf_claims_free(claims);
  cf_token_free(tok);
  cf_auth_free(auth);
}

CF_TEST(test_string_claims_are_length_capped) {
  clock_at_now();
  cf_auth *auth = hs_auth();
  char p[1024], email[400];
  /* 320 bytes is the longest email (RFC 3696). */
  memset(email, 'e', 320);
  email[320] = '\0';
  snprintf(p, sizeof p,
           "{\"sub\":\"" USER "\",\"exp\":%d,\"aud\":\"authenticated\",\"email\":\"%s\"}",
           NOW + 60, email);
  char *tok = hs_token(p);
  cf_claims *claims = NULL;
  CHECK_OK(cf_auth_verify(auth, tok, strlen(tok), &claims, NULL));
  CHECK_STR(cf_claims_email(claims), email);
  cf_claims_free(claims);
  cf_token_free(tok);
  memset(email, 'e', 321);
  email[321] = '\0';
  snprintf(p, sizeof p,
           "{\"sub\":\"" USER "\",\"exp\":%d,\"aud\":\"authenticated\",\"email\":\"%s\"}",
           NOW + 60, email);
  expect_payload(auth, p, CF_TOKEN_BAD_CLAIM);
  snprintf(p, sizeof p,
           "{\"sub\":\"" USER
           "\",\"exp\":%d,\"aud\":\"authenticated\",\"role\":\"%.65s\"}",
           NOW + 60, email);
  expect_payload(auth, p, CF_TOKEN_BAD_CLAIM);
  cf_auth_free(auth);
}

CF_TEST(test_hs256_forged_signature_refused) {
  clock_at_now();
  cf_auth *auth = hs_auth();
  /* Signed with another secret. */
  const char *other = "another-secret-that-is-also-32-bytes-or-more";
  char *tok = NULL;
  CHECK_OK(cf__jwt_sign_hs256(other, strlen(other), HS_HEADER, good_payload(), &tok));
  CHECK_EQ(reason_of(auth, tok), CF_TOKEN_BAD_SIGNATURE);
  cf_token_free(tok);
  /* The right signature with its first character changed. */
  tok = hs_token(good_payload());
  char *sig = strrchr(tok, '.') + 1;
  sig[0] = sig[0] == 'A' ? 'B' : 'A';
  CHECK_EQ(reason_of(auth, tok), CF_TOKEN_BAD_SIGNATURE);
  /* A signature of the wrong length (8 characters: 6 bytes, canonical). */
  sig[8] = '\0';
  CHECK_EQ(reason_of(auth, tok), CF_TOKEN_BAD_SIGNATURE);
  cf_token_free(tok);
  cf_auth_free(auth);
}

CF_TEST(test_hs256_tampered_payload_refused) {
  clock_at_now();
  cf_auth *auth = hs_auth();
  char *tok = hs_token(good_payload());
  /* Re-encode a payload with another user but keep the signature. */
  const char *evil = "{\"aud\":\"authenticated\",\"exp\":1900000000,"
                     "\"sub\":\"00000000-0000-4000-8000-000000000001\"}";
  char *forged = NULL;
  CHECK_OK(cf__jwt_assemble(HS_HEADER, evil, NULL, 0, &forged));
  char *joined = cf__mprintf("%s%s", forged, strrchr(tok, '.') + 1);
  CHECK(joined != NULL);
  CHECK_EQ(reason_of(auth, joined), CF_TOKEN_BAD_SIGNATURE);
  cf__free(joined);
  cf_token_free(forged);
  cf_token_free(tok);
  cf_auth_free(auth);
}

CF_TEST(test_expired_token_refused_after_leeway) {
  clock_at_now();
  cf_auth *auth = hs_auth();
  CHECK_OK(cf_auth_set_leeway(auth, 30));
  char payload[200];
  snprintf(payload, sizeof payload,
           "{\"sub\":\"" USER "\",\"exp\":%d,\"aud\":\"authenticated\"}", NOW - 31);
  expect_payload(auth, payload, CF_TOKEN_EXPIRED);
  /* exp + leeway is the first refused second; one second earlier passes. */
  snprintf(payload, sizeof payload,
           "{\"sub\":\"" USER "\",\"exp\":%d,\"aud\":\"authenticated\"}", NOW - 30);
  expect_payload(auth, payload, CF_TOKEN_EXPIRED);
  snprintf(payload, sizeof payload,
           "{\"sub\":\"" USER "\",\"exp\":%d,\"aud\":\"authenticated\"}", NOW - 29);
  expect_payload(auth, payload, CF_TOKEN_OK);
  /* With no leeway a token is dead at its exp second. */
  CHECK_OK(cf_auth_set_leeway(auth, 0));
  snprintf(payload, sizeof payload,
           "{\"sub\":\"" USER "\",\"exp\":%d,\"aud\":\"authenticated\"}", NOW);
  expect_payload(auth, payload, CF_TOKEN_EXPIRED);
  /* Moving the clock expires a token that was valid. */
  char *tok = hs_token(good_payload());
  CHECK_EQ(reason_of(auth, tok), CF_TOKEN_OK);
  fake_now_ms = (int64_t)(NOW + 3600) * 1000;
  CHECK_EQ(reason_of(auth, tok), CF_TOKEN_EXPIRED);
  cf_token_free(tok);
  CHECK_EQ(cf_auth_set_leeway(auth, 301), CF_CONFIG);
  CHECK_EQ(cf_auth_set_leeway(auth, -1), CF_CONFIG);
  cf_auth_free(auth);
}

CF_TEST(test_not_yet_valid_token_refused) {
  clock_at_now();
  cf_auth *auth = hs_auth();
  CHECK_OK(cf_auth_set_leeway(auth, 0));
  char payload[200];
  snprintf(payload, sizeof payload,
           "{\"sub\":\"" USER "\",\"exp\":%d,\"nbf\":%d,\"aud\":\"authenticated\"}",
           NOW + 600, NOW + 1);
  expect_payload(auth, payload, CF_TOKEN_NOT_YET_VALID);
  snprintf(payload, sizeof payload,
           "{\"sub\":\"" USER "\",\"exp\":%d,\"nbf\":%d,\"aud\":\"authenticated\"}",
           NOW + 600, NOW);
  expect_payload(auth, payload, CF_TOKEN_OK);
  cf_auth_free(auth);
}

CF_TEST(test_wrong_audience_refused) {
  clock_at_now();
  cf_auth *auth = hs_auth();
  char p[300];
  snprintf(p, sizeof p, "{\"sub\":\"" USER "\",\"exp\":%d,\"aud\":\"anon\"}", NOW + 60);
  expect_payload(auth, p, CF_TOKEN_WRONG_AUDIENCE);
  snprintf(p, sizeof p, "{\"sub\":\"" USER "\",\"exp\":%d}", NOW + 60);
  expect_payload(auth, p, CF_TOKEN_WRONG_AUDIENCE);
  snprintf(p, sizeof p, "{\"sub\":\"" USER "\",\"exp\":%d,\"aud\":[]}", NOW + 60);
  expect_payload(auth, p, CF_TOKEN_WRONG_AUDIENCE);
  snprintf(p, sizeof p, "{\"sub\":\"" USER "\",\"exp\":%d,\"aud\":[\"a\",\"b\"]}",
           NOW + 60);
  expect_payload(auth, p, CF_TOKEN_WRONG_AUDIENCE);
  /* An array that contains the audience is accepted. */
  snprintf(p, sizeof p,
           "{\"sub\":\"" USER "\",\"exp\":%d,\"aud\":[\"a\",\"authenticated\"]}",
           NOW + 60);
  expect_payload(auth, p, CF_TOKEN_OK);
  /* Wrong types inside aud are malformed claims, not audiences. */
  snprintf(p, sizeof p, "{\"sub\":\"" USER "\",\"exp\":%d,\"aud\":[\"authenticated\",1]}",
           NOW + 60);
  expect_payload(auth, p, CF_TOKEN_BAD_CLAIM);
  snprintf(p, sizeof p, "{\"sub\":\"" USER "\",\"exp\":%d,\"aud\":[[\"authenticated\"]]}",
           NOW + 60);
  expect_payload(auth, p, CF_TOKEN_BAD_CLAIM);
  /* Another configured audience; and the check turned off. */
  CHECK_OK(cf_auth_set_audience(auth, "b"));
  snprintf(p, sizeof p, "{\"sub\":\"" USER "\",\"exp\":%d,\"aud\":[\"a\",\"b\"]}",
           NOW + 60);
  expect_payload(auth, p, CF_TOKEN_OK);
  CHECK_OK(cf_auth_set_audience(auth, NULL));
  snprintf(p, sizeof p, "{\"sub\":\"" USER "\",\"exp\":%d}", NOW + 60);
  expect_payload(auth, p, CF_TOKEN_OK);
  cf_auth_free(auth);
}

CF_TEST(test_alg_none_refused) {
  clock_at_now();
  cf_auth *auth = hs_auth();
  char *tok = NULL;
  /* The classic: alg none and an empty signature. */
  CHECK_OK(cf__jwt_assemble("{\"alg\":\"none\",\"typ\":\"JWT\"}", good_payload(), NULL, 0,
                            &tok));
  CHECK_EQ(reason_of(auth, tok), CF_TOKEN_BAD_ALG);
  cf_token_free(tok);
  /* Spelling variants and a valid HS256 signature do not help. */
  static const char *headers[] = {"{\"alg\":\"None\"}", "{\"alg\":\"NONE\"}",
                                  "{\"alg\":\"nOnE\"}", "{\"alg\":\"\"}",
                                  "{\"alg\":\"hs256\"}"};
  for (int i = 0; i < 5; i++) {
    CHECK_OK(
        cf__jwt_sign_hs256(SECRET, strlen(SECRET), headers[i], good_payload(), &tok));
    CHECK_MSG(reason_of(auth, tok) == CF_TOKEN_BAD_ALG, "header %s", headers[i]);
    cf_token_free(tok);
  }
  /* A header without alg, or with a non-string alg, is malformed. */
  CHECK_OK(cf__jwt_sign_hs256(SECRET, strlen(SECRET), "{\"typ\":\"JWT\"}", good_payload(),
                              &tok));
  CHECK_EQ(reason_of(auth, tok), CF_TOKEN_MALFORMED);
  cf_token_free(tok);
  CHECK_OK(
      cf__jwt_sign_hs256(SECRET, strlen(SECRET), "{\"alg\":null}", good_payload(), &tok));
  CHECK_EQ(reason_of(auth, tok), CF_TOKEN_MALFORMED);
  cf_token_free(tok);
  CHECK_OK(cf__jwt_sign_hs256(SECRET, strlen(SECRET), "{\"alg\":[\"HS256\"]}",
                              good_payload(), &tok));
  CHECK_EQ(reason_of(auth, tok), CF_TOKEN_MALFORMED);
  cf_token_free(tok);
  cf_auth_free(auth);
}

CF_TEST(test_alg_hs512_refused) {
  clock_at_now();
  cf_auth *auth = hs_auth();
  char *tok = NULL;
  static const char *algs[] = {"HS512", "HS384", "RS256", "PS256", "ES384", "EdDSA"};
  for (int i = 0; i < 6; i++) {
    char header[64];
    snprintf(header, sizeof header, "{\"alg\":\"%s\",\"typ\":\"JWT\"}", algs[i]);
    CHECK_OK(cf__jwt_sign_hs256(SECRET, strlen(SECRET), header, good_payload(), &tok));
    CHECK_MSG(reason_of(auth, tok) == CF_TOKEN_BAD_ALG, "alg %s", algs[i]);
    cf_token_free(tok);
  }
  cf_auth_free(auth);
}

CF_TEST(test_hs256_signed_with_public_key_refused_when_only_es256) {
  clock_at_now();
  cf__ec_key *key = NULL;
  char *pem = NULL, *tok = NULL;
  CHECK_OK(cf__ec_key_generate(&key));
  CHECK_OK(cf__ec_key_public_pem(key, &pem));
  cf_auth *auth = NULL;
  CHECK_OK(cf_auth_new(&auth));
  CHECK_OK(cf_auth_add_es256_pem(auth, pem, strlen(pem), NULL));
  /* The key-confusion attack: the public key's PEM text as the HMAC secret. */
  CHECK_OK(cf__jwt_sign_hs256(pem, strlen(pem), HS_HEADER, good_payload(), &tok));
  CHECK_EQ(reason_of(auth, tok), CF_TOKEN_BAD_ALG);
  cf_token_free(tok);
  /* And with the PEM including its terminating NUL, as some libraries do. */
  CHECK_OK(cf__jwt_sign_hs256(pem, strlen(pem) + 1, HS_HEADER, good_payload(), &tok));
  CHECK_EQ(reason_of(auth, tok), CF_TOKEN_BAD_ALG);
  cf_token_free(tok);
  cf__free(pem);
  cf__ec_key_free(key);
  cf_auth_free(auth);
}

CF_TEST(test_es256_token_refused_when_only_hs256) {
  clock_at_now();
  cf__ec_key *key = NULL;
  char *tok = NULL;
  CHECK_OK(cf__ec_key_generate(&key));
  CHECK_OK(cf__jwt_sign_es256(key, "{\"alg\":\"ES256\"}", good_payload(), &tok));
  cf_auth *auth = hs_auth();
  CHECK_EQ(reason_of(auth, tok), CF_TOKEN_BAD_ALG);
  cf_token_free(tok);
  cf__ec_key_free(key);
  cf_auth_free(auth);
}

CF_TEST(test_es256_valid_token_accepted_and_other_key_refused) {
  clock_at_now();
  cf__ec_key *key = NULL, *other = NULL;
  char *pub = NULL, *priv = NULL, *tok = NULL;
  CHECK_OK(cf__ec_key_generate(&key));
  CHECK_OK(cf__ec_key_generate(&other));
  CHECK_OK(cf__ec_key_public_pem(key, &pub));
  CHECK_OK(cf__ec_key_private_pem(key, &priv));
  cf_auth *auth = NULL;
  CHECK_OK(cf_auth_new(&auth));
  CHECK_OK(cf_auth_add_es256_pem(auth, pub, strlen(pub), NULL));
  /* Minted through the public API with the private PEM. */
  CHECK_OK(cf_token_mint_es256(priv, strlen(priv), "k1", USER, "authenticated", NULL,
                               "authenticated", 600, &tok));
  cf_claims *claims = NULL;
  CHECK_OK(cf_auth_verify(auth, tok, strlen(tok), &claims, NULL));
  CHECK_STR(cf_claims_sub(claims), USER);
  CHECK_EQ(cf_claims_exp(claims), NOW + 600);
  cf_claims_free(claims);
  cf_token_free(tok);
  /* Signed by a key that is not configured. */
  CHECK_OK(cf__jwt_sign_es256(other, "{\"alg\":\"ES256\"}", good_payload(), &tok));
  CHECK_EQ(reason_of(auth, tok), CF_TOKEN_BAD_SIGNATURE);
  /* r || s with s replaced by zeros. */
  char *sig = strrchr(tok, '.') + 1;
  memset(sig + 43, 'A', strlen(sig) - 43);
  CHECK_EQ(reason_of(auth, tok), CF_TOKEN_BAD_SIGNATURE);
  cf_token_free(tok);
  /* A DER-encoded signature (what OpenSSL emits) is not r || s: refused. */
  unsigned char der[72];
  memset(der, 0x30, sizeof der);
  CHECK_OK(
      cf__jwt_assemble("{\"alg\":\"ES256\"}", good_payload(), der, sizeof der, &tok));
  CHECK_EQ(reason_of(auth, tok), CF_TOKEN_BAD_SIGNATURE);
  cf_token_free(tok);
  CHECK_EQ(cf_auth_add_es256_pem(auth, "junk", 4, NULL), CF_CONFIG);
  CHECK(strstr(cf_auth_errmsg(auth), "P-256") != NULL);
  cf__free(pub);
  cf__free(priv);
  cf__ec_key_free(key);
  cf__ec_key_free(other);
  cf_auth_free(auth);
}

/* A JWK for key as JSON members (static storage). */
static const char *jwk_members(const cf__ec_key *key) {
  static char buf[256];
  unsigned char x[32], y[32];
  char xs[64], ys[64];
  CHECK_OK(cf__ec_key_public_xy(key, x, y));
  cf__base64url_encode(x, 32, xs);
  cf__base64url_encode(y, 32, ys);
  snprintf(buf, sizeof buf, "\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"",
           xs, ys);
  return buf;
}

CF_TEST(test_jwks_selects_key_by_kid) {
  clock_at_now();
  cf__ec_key *k1 = NULL, *k2 = NULL;
  CHECK_OK(cf__ec_key_generate(&k1));
  CHECK_OK(cf__ec_key_generate(&k2));
  char jwks[2048];
  int n = snprintf(
      jwks, sizeof jwks,
      "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"%0300d\",\"e\":\"AQAB\",\"kid\":\"rsa\"},"
      "{\"kty\":\"oct\",\"k\":\"c2VjcmV0\",\"kid\":\"one\"},",
      0);
  n += snprintf(
      jwks + n, sizeof jwks - (size_t)n,
      "{%s,\"kid\":\"one\",\"alg\":\"ES256\",\"use\":\"sig\",\"key_ops\":[\"verify\"]},",
      jwk_members(k1));
  n += snprintf(jwks + n, sizeof jwks - (size_t)n, "{%s,\"kid\":\"two\"}]}",
                jwk_members(k2));
  cf_auth *auth = NULL;
  CHECK_OK(cf_auth_new(&auth));
  CHECK_OK(cf_auth_add_jwks(auth, jwks, (size_t)n));
  char *tok = NULL;
  /* k2's token names its kid. */
  CHECK_OK(cf__jwt_sign_es256(k2, "{\"alg\":\"ES256\",\"kid\":\"two\"}", good_payload(),
                              &tok));
  CHECK_EQ(reason_of(auth, tok), CF_TOKEN_OK);
  cf_token_free(tok);
  /* k2's token claiming k1's kid: only k1 is tried. */
  CHECK_OK(cf__jwt_sign_es256(k2, "{\"alg\":\"ES256\",\"kid\":\"one\"}", good_payload(),
                              &tok));
  CHECK_EQ(reason_of(auth, tok), CF_TOKEN_BAD_SIGNATURE);
  cf_token_free(tok);
  /* An unknown kid. */
  CHECK_OK(cf__jwt_sign_es256(k2, "{\"alg\":\"ES256\",\"kid\":\"three\"}", good_payload(),
                              &tok));
  CHECK_EQ(reason_of(auth, tok), CF_TOKEN_NO_KEY);
  cf_token_free(tok);
  /* The RSA kid does not select anything either. */
  CHECK_OK(cf__jwt_sign_es256(k2, "{\"alg\":\"ES256\",\"kid\":\"rsa\"}", good_payload(),
                              &tok));
  CHECK_EQ(reason_of(auth, tok), CF_TOKEN_NO_KEY);
  cf_token_free(tok);
  /* No kid: every key is tried. */
  CHECK_OK(cf__jwt_sign_es256(k1, "{\"alg\":\"ES256\"}", good_payload(), &tok));
  CHECK_EQ(reason_of(auth, tok), CF_TOKEN_OK);
  cf_token_free(tok);
  cf__ec_key_free(k1);
  cf__ec_key_free(k2);
  cf_auth_free(auth);
}

CF_TEST(test_jwks_without_usable_key_or_with_bad_point_refused) {
  cf_auth *auth = NULL;
  CHECK_OK(cf_auth_new(&auth));
  const char *rsa_only = "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}";
  CHECK_EQ(cf_auth_add_jwks(auth, rsa_only, strlen(rsa_only)), CF_CONFIG);
  CHECK(strstr(cf_auth_errmsg(auth), "no EC P-256") != NULL);
  const char *off_curve = "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\","
                          "\"x\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE\","
                          "\"y\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE\"}]}";
  CHECK_EQ(cf_auth_add_jwks(auth, off_curve, strlen(off_curve)), CF_CONFIG);
  const char *short_x =
      "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AAAA\",\"y\":\"AAAA\"}]}";
  CHECK_EQ(cf_auth_add_jwks(auth, short_x, strlen(short_x)), CF_CONFIG);
  CHECK_EQ(cf_auth_add_jwks(auth, "[]", 2), CF_CONFIG);
  CHECK_EQ(cf_auth_add_jwks(auth, "{\"keys\":", 8), CF_CONFIG);
  /* Nothing was added by the failures: ES256 stays off. */
  clock_at_now();
  cf__ec_key *k = NULL;
  char *tok = NULL;
  CHECK_OK(cf__ec_key_generate(&k));
  CHECK_OK(cf__jwt_sign_es256(k, "{\"alg\":\"ES256\"}", good_payload(), &tok));
  CHECK_EQ(reason_of(auth, tok), CF_TOKEN_BAD_ALG);
  cf_token_free(tok);
  cf__ec_key_free(k);
  cf_auth_free(auth);
}

CF_TEST(test_malformed_segments_refused) {
  clock_at_now();
  cf_auth *auth = hs_auth();
  char *good = hs_token(good_payload());
  const char *d1 = strchr(good, '.'), *d2 = strrchr(good, '.');
  char buf[2048];
  /* Shapes that are not three segments. */
  static const char *shapes[] = {"",    ".",       "..",   "...",  "a",
                                 "a.b", "a.b.c.d", ".b.c", "a..c", "eyJhbGciOiJIUzI1NiJ9",
                                 " "};
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
    CHECK_MSG(reason_of(auth, shapes[i]) == CF_TOKEN_MALFORMED, "shape \"%s\"",
              shapes[i]);
  /* An empty signature on a valid header and payload. */
  snprintf(buf, sizeof buf, "%.*s", (int)(d2 - good + 1), good);
  CHECK_EQ(reason_of(auth, buf), CF_TOKEN_MALFORMED);
  /* "Bearer " left in front, whitespace around, a fourth segment. */
  snprintf(buf, sizeof buf, "Bearer %s", good);
  CHECK_EQ(reason_of(auth, buf), CF_TOKEN_MALFORMED);
  snprintf(buf, sizeof buf, "%s\n", good);
  CHECK_EQ(reason_of(auth, buf), CF_TOKEN_MALFORMED);
  snprintf(buf, sizeof buf, "%s.", good);
  CHECK_EQ(reason_of(auth, buf), CF_TOKEN_MALFORMED);
  /* Padding or standard-alphabet characters in the header. */
  snprintf(buf, sizeof buf, "%.*s=%s", (int)(d1 - good), good, d1);
  CHECK_EQ(reason_of(auth, buf), CF_TOKEN_MALFORMED);
  snprintf(buf, sizeof buf, "%s", good);
  buf[3] = '+';
  CHECK_EQ(reason_of(auth, buf), CF_TOKEN_MALFORMED);
  /* Headers and payloads that are not JSON objects (correctly signed). */
  static const char *not_objects[] = {"",
                                      "[]",
                                      "\"alg\"",
                                      "{",
                                      "{\"alg\":\"HS256\"",
                                      "{\"alg\":\"HS256\"}x",
                                      "{\"alg\":\"HS256\",}",
                                      "{\"alg\":\"HS256\"}{}",
                                      "{\"alg\" \"HS256\"}",
                                      "{'alg':'HS256'}",
                                      "{#c\n\"alg\":\"HS256\"}",
                                      "{\"alg\":\"HS256\",\"x\":tru}",
                                      "{\"alg\":\"HS2\\q\"}"};
  char *tok = NULL;
  for (size_t i = 0; i < sizeof not_objects / sizeof not_objects[0]; i++) {
    CHECK_OK(
        cf__jwt_sign_hs256(SECRET, strlen(SECRET), not_objects[i], good_payload(), &tok));
    CHECK_MSG(reason_of(auth, tok) == CF_TOKEN_MALFORMED, "header %s", not_objects[i]);
    cf_token_free(tok);
    CHECK_OK(cf__jwt_sign_hs256(SECRET, strlen(SECRET), HS_HEADER, not_objects[i], &tok));
    CHECK_MSG(reason_of(auth, tok) == CF_TOKEN_MALFORMED, "payload %s", not_objects[i]);
    cf_token_free(tok);
  }
  /* Critical extensions and other token types are refused. */
  CHECK_OK(cf__jwt_sign_hs256(SECRET, strlen(SECRET),
                              "{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", good_payload(),
                              &tok));
  CHECK_EQ(reason_of(auth, tok), CF_TOKEN_MALFORMED);
  cf_token_free(tok);
  CHECK_OK(cf__jwt_sign_hs256(SECRET, strlen(SECRET),
                              "{\"alg\":\"HS256\",\"typ\":\"JWE\"}", good_payload(),
                              &tok));
  CHECK_EQ(reason_of(auth, tok), CF_TOKEN_MALFORMED);
  cf_token_free(tok);
  CHECK_OK(cf__jwt_sign_hs256(SECRET, strlen(SECRET),
                              "{\"alg\":\"HS256\",\"typ\":\"jwt\"}", good_payload(),
                              &tok));
  CHECK_EQ(reason_of(auth, tok), CF_TOKEN_OK);
  cf_token_free(tok);
  cf_token_free(good);
  cf_auth_free(auth);
}

CF_TEST(test_oversized_token_refused) {
  clock_at_now();
  cf_auth *auth = hs_auth();
  /* A payload padded so the token passes CF_TOKEN_MAX_LEN. */
  char *payload = malloc(8000);
  CHECK(payload != NULL);
  int n = snprintf(payload, 8000,
                   "{\"sub\":\"" USER "\",\"exp\":%d,\"aud\":\"authenticated\","
                   "\"pad\":\"",
                   NOW + 60);
  memset(payload + n, 'x', 6300);
  strcpy(payload + n + 6300, "\"}");
  char *tok = hs_token(payload);
  CHECK(strlen(tok) > CF_TOKEN_MAX_LEN);
  CHECK_EQ(reason_of(auth, tok), CF_TOKEN_TOO_LARGE);
  cf_token_free(tok);
  /* Just under the cap is fine. */
  payload[n + 5000] = '\0';
  strcat(payload, "\"}");
  tok = hs_token(payload);
  CHECK(strlen(tok) <= CF_TOKEN_MAX_LEN);
  CHECK_EQ(reason_of(auth, tok), CF_TOKEN_OK);
  cf_token_free(tok);
  free(payload);
  cf_auth_free(auth);
}

CF_TEST(test_deeply_nested_json_refused) {
  clock_at_now();
  cf_auth *auth = hs_auth();
  char p[1024];
  /* Seven levels below the root are allowed (depth 8 in all)... */
  int n = snprintf(p, sizeof p,
                   "{\"sub\":\"" USER "\",\"exp\":%d,\"aud\":\"authenticated\","
                   "\"m\":",
                   NOW + 60);
  for (int i = 0; i < 7; i++)
    n += snprintf(p + n, sizeof p - (size_t)n, "{\"a\":");
  n += snprintf(p + n, sizeof p - (size_t)n, "1");
  for (int i = 0; i < 7; i++)
    n += snprintf(p + n, sizeof p - (size_t)n, "}");
  snprintf(p + n, sizeof p - (size_t)n, "}");
  expect_payload(auth, p, CF_TOKEN_OK);
  /* ...but arrays nest at most 5 deep (the token reader's bound). */
  n = snprintf(p, sizeof p,
               "{\"sub\":\"" USER "\",\"exp\":%d,\"aud\":\"authenticated\","
               "\"m\":[[[[[1]]]]],\"n\":",
               NOW + 60);
  snprintf(p + n, sizeof p - (size_t)n, "[[[[[[1]]]]]]}");
  expect_payload(auth, p, CF_TOKEN_MALFORMED);
  p[n] = '\0';
  strcat(p, "1}");
  expect_payload(auth, p, CF_TOKEN_OK);
  /* One more is refused; and 13, and a thousand. */
  for (int depth = 8; depth <= 1000; depth = depth == 8    ? 13
                                             : depth == 13 ? 1000
                                                           : 1001) {
    enum { BIG = 16384 };
    char *big = malloc(BIG);
    CHECK(big != NULL);
    int m = snprintf(big, BIG, "{\"sub\":\"" USER "\",\"exp\":%d,\"m\":", NOW + 60);
    for (int i = 0; i < depth; i++)
      m += snprintf(big + m, BIG - (size_t)m, "{\"a\":");
    m += snprintf(big + m, BIG - (size_t)m, "1");
    for (int i = 0; i < depth; i++)
      m += snprintf(big + m, BIG - (size_t)m, "}");
    snprintf(big + m, BIG - (size_t)m, "}");
    expect_payload(auth, big, CF_TOKEN_MALFORMED);
    free(big);
  }
  cf_auth_free(auth);
}

CF_TEST(test_huge_and_odd_numbers_refused) {
  clock_at_now();
  cf_auth *auth = hs_auth();
  static const char *exps[] = {"1e30",
                               "99999999999999999999",
                               "999999999999999999999999",
                               "-1",
                               "1800000060.5",
                               "253402300800",
                               "\"1800000060\"",
                               "true",
                               "[1800000060]",
                               "{}"};
  char p[300];
  for (size_t i = 0; i < sizeof exps / sizeof exps[0]; i++) {
    snprintf(p, sizeof p, "{\"sub\":\"" USER "\",\"exp\":%s,\"aud\":\"authenticated\"}",
             exps[i]);
    char *tok = hs_token(p);
    cf_token_error got = reason_of(auth, tok);
    /* Numbers longer than the reader's bound (32 bytes) would be malformed. */
    CHECK_MSG(got == CF_TOKEN_BAD_CLAIM || (i == 2 && got == CF_TOKEN_MALFORMED),
              "exp %s gave %s", exps[i], cf_token_strerror(got));
    cf_token_free(tok);
  }
  /* The largest accepted exp (9999-12-31) and a huge nbf. */
  snprintf(p, sizeof p,
           "{\"sub\":\"" USER "\",\"exp\":253402300799,\"aud\":\"authenticated\"}");
  expect_payload(auth, p, CF_TOKEN_OK);
  snprintf(p, sizeof p,
           "{\"sub\":\"" USER "\",\"exp\":%d,\"nbf\":1e999,\"aud\":\"authenticated\"}",
           NOW + 9);
  expect_payload(auth, p, CF_TOKEN_BAD_CLAIM);
  cf_auth_free(auth);
}

CF_TEST(test_missing_sub_or_exp_refused) {
  clock_at_now();
  cf_auth *auth = hs_auth();
  char p[300];
  snprintf(p, sizeof p, "{\"exp\":%d,\"aud\":\"authenticated\"}", NOW + 60);
  expect_payload(auth, p, CF_TOKEN_MISSING_CLAIM);
  snprintf(p, sizeof p, "{\"sub\":null,\"exp\":%d,\"aud\":\"authenticated\"}", NOW + 60);
  expect_payload(auth, p, CF_TOKEN_MISSING_CLAIM);
  expect_payload(auth, "{\"sub\":\"" USER "\",\"aud\":\"authenticated\"}",
                 CF_TOKEN_MISSING_CLAIM);
  expect_payload(auth, "{\"sub\":\"" USER "\",\"exp\":null}", CF_TOKEN_MISSING_CLAIM);
  /* The claim nested one level down does not count. */
  snprintf(p, sizeof p,
           "{\"x\":{\"sub\":\"" USER "\"},\"exp\":%d,\"aud\":\"authenticated\"}",
           NOW + 60);
  expect_payload(auth, p, CF_TOKEN_MISSING_CLAIM);
  cf_auth_free(auth);
}

CF_TEST(test_non_uuid_sub_refused) {
  clock_at_now();
  cf_auth *auth = hs_auth();
  static const char *subs[] = {"\"3F1C2A9E-5B7D-4E8F-9A01-23456789ABCD\"",
                               "\"{3f1c2a9e-5b7d-4e8f-9a01-23456789abcd}\"",
                               "\"3f1c2a9e5b7d4e8f9a0123456789abcd\"",
                               "\"3f1c2a9e-5b7d-4e8f-9a01-23456789abc\"",
                               "\"3f1c2a9e-5b7d-4e8f-9a01-23456789abcdd\"",
                               "\"3f1c2a9e-5b7d-4e8f-9a01_23456789abcd\"",
                               "\"3f1c2a9e-5b7d-4e8f-9a01-23456789abcg\"",
                               "\"\"",
                               "\"admin\"",
                               "\"3f1c2a9e-5b7d-4e8f-9a01-23456789abc\\u0000\""};
  char p[300];
  for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
    snprintf(p, sizeof p, "{\"sub\":%s,\"exp\":%d,\"aud\":\"authenticated\"}", subs[i],
             NOW + 60);
    char *tok = hs_token(p);
    cf_token_error got = reason_of(auth, tok);
    /* An escaped NUL is refused while reading the string. */
    CHECK_MSG(got == (i == 9 ? CF_TOKEN_BAD_CLAIM : CF_TOKEN_BAD_SUBJECT),
              "sub %s gave %s", subs[i], cf_token_strerror(got));
    cf_token_free(tok);
  }
  snprintf(p, sizeof p, "{\"sub\":42,\"exp\":%d,\"aud\":\"authenticated\"}", NOW + 60);
  expect_payload(auth, p, CF_TOKEN_BAD_CLAIM);
  cf_auth_free(auth);
}

CF_TEST(test_duplicate_claims_refused) {
  clock_at_now();
  cf_auth *auth = hs_auth();
  char p[300];
  snprintf(p, sizeof p,
           "{\"sub\":\"" USER "\",\"exp\":%d,\"aud\":\"authenticated\","
           "\"sub\":\"00000000-0000-4000-8000-000000000001\"}",
           NOW + 60);
  expect_payload(auth, p, CF_TOKEN_MALFORMED);
  snprintf(p, sizeof p,
           "{\"sub\":\"" USER "\",\"exp\":%d,\"exp\":%d,\"aud\":\"authenticated\"}",
           NOW + 60, NOW + 99999);
  expect_payload(auth, p, CF_TOKEN_MALFORMED);
  char *tok = NULL;
  CHECK_OK(cf__jwt_sign_hs256(SECRET, strlen(SECRET),
                              "{\"alg\":\"HS256\",\"alg\":\"none\"}", good_payload(),
                              &tok));
  CHECK_EQ(reason_of(auth, tok), CF_TOKEN_MALFORMED);
  cf_token_free(tok);
  cf_auth_free(auth);
}

CF_TEST(test_long_member_name_cannot_pose_as_claim) {
  /* A 259-byte name ending in "sub" is refused, not read as "sub" (LEJP, the
     parser used before core/json.c, had an 8-bit path index that wrapped). */
  clock_at_now();
  cf_auth *auth = hs_auth();
  char p[1024];
  char name[300];
  memset(name, 'x', 256);
  strcpy(name + 256, "sub");
  snprintf(p, sizeof p,
           "{\"sub\":\"" USER "\",\"exp\":%d,\"aud\":\"authenticated\",\"%s\":\"evil\"}",
           NOW + 60, name);
  expect_payload(auth, p, CF_TOKEN_MALFORMED);
  /* Long paths made of nested names are refused too; 64-byte names are fine. */
  memset(name, 'y', 64);
  name[64] = '\0';
  snprintf(p, sizeof p,
           "{\"sub\":\"" USER "\",\"exp\":%d,\"aud\":\"authenticated\",\"%s\":1}",
           NOW + 60, name);
  expect_payload(auth, p, CF_TOKEN_OK);
  snprintf(p, sizeof p,
           "{\"sub\":\"" USER
           "\",\"exp\":%d,\"aud\":\"authenticated\",\"%s\":{\"%s\":1}}",
           NOW + 60, name, name);
  expect_payload(auth, p, CF_TOKEN_MALFORMED);
  cf_auth_free(auth);
}

CF_TEST(test_rfc7515_hs256_example_verifies) {
  /* RFC 7515 A.1: its key, its token.  It has no "sub", so acceptance of the
     signature shows as the claim check that follows it. */
  unsigned char key[64];
  size_t klen = 0;
  const char *k = "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-"
                  "1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
  CHECK_OK(cf__base64url_decode(k, strlen(k), key, sizeof key, &klen));
  const char *tok =
      "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
      "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9p"
      "c19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
  cf_auth *auth = NULL;
  CHECK_OK(cf_auth_new(&auth));
  CHECK_OK(cf_auth_set_hs256_secret(auth, key, klen));
  fake_now_ms = INT64_C(1300819000) * 1000;
  cf_set_clock_hook(fake_clock, NULL);
  CHECK_EQ(reason_of(auth, tok), CF_TOKEN_MISSING_CLAIM);
  char *bad = cf__strdup(tok);
  CHECK(bad != NULL);
  bad[strlen(bad) - 1] = 'g'; /* another 32-byte MAC */
  CHECK_EQ(reason_of(auth, bad), CF_TOKEN_BAD_SIGNATURE);
  bad[strlen(bad) - 1] = 'j'; /* non-zero unused bits: not canonical base64url */
  CHECK_EQ(reason_of(auth, bad), CF_TOKEN_MALFORMED);
  cf__free(bad);
  cf_auth_free(auth);
}

CF_TEST(test_rfc7515_es256_example_verifies_through_jwks) {
  const char *jwks = "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\","
                     "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
                     "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}]}";
  const char *tok =
      "eyJhbGciOiJFUzI1NiJ9."
      "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9p"
      "c19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8"
      "ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
  cf_auth *auth = NULL;
  CHECK_OK(cf_auth_new(&auth));
  CHECK_OK(cf_auth_add_jwks(auth, jwks, strlen(jwks)));
  fake_now_ms = INT64_C(1300819000) * 1000;
  cf_set_clock_hook(fake_clock, NULL);
  CHECK_EQ(reason_of(auth, tok), CF_TOKEN_MISSING_CLAIM);
  cf_auth_free(auth);
}

CF_TEST(test_mint_hs256_round_trips_and_escapes_strings) {
  clock_at_now();
  cf_auth *auth = hs_auth();
  char *tok = NULL;
  const char *email = "o'brien\"\\\x01@example.com";
  CHECK_OK(cf_token_mint_hs256(SECRET, strlen(SECRET), USER, "authenticated", email,
                               "authenticated", 3600, &tok));
  cf_claims *claims = NULL;
  CHECK_OK(cf_auth_verify(auth, tok, strlen(tok), &claims, NULL));
  CHECK_STR(cf_claims_email(claims), email);
  CHECK_EQ(cf_claims_exp(claims), NOW + 3600);
  CHECK_EQ(cf_claims_iat(claims), NOW);
  cf_claims_free(claims);
  cf_token_free(tok);
  /* Refusals: bad sub, bad ttl, short secret. */
  CHECK_EQ(
      cf_token_mint_hs256(SECRET, strlen(SECRET), "nope", NULL, NULL, NULL, 60, &tok),
      CF_INVALID);
  CHECK(tok == NULL);
  CHECK_EQ(cf_token_mint_hs256(SECRET, strlen(SECRET), USER, NULL, NULL, NULL, 0, &tok),
           CF_INVALID);
  CHECK_EQ(cf_token_mint_hs256("short", 5, USER, NULL, NULL, NULL, 60, &tok), CF_CONFIG);
  CHECK_EQ(cf_auth_set_hs256_secret(auth, "short", 5), CF_CONFIG);
  cf_auth_free(auth);
}

/* Settings for test_configure_reads_settings. */
static const char *settings[][2] = {
    {"JWT_SECRET", SECRET}, {"JWT_AUDIENCE", "crm"}, {"JWT_LEEWAY", "0"}, {NULL, NULL}};

static const char *lookup_settings(const char *name) {
  for (int i = 0; settings[i][0]; i++)
    if (strcmp(settings[i][0], name) == 0) return settings[i][1];
  return NULL;
}

static const char *lookup_nothing(const char *name) {
  (void)name;
  return NULL;
}

static const char *jwks_path; /* for lookup_jwks */

static const char *lookup_jwks(const char *name) {
  return strcmp(name, "JWT_JWKS_FILE") == 0 ? jwks_path : NULL;
}

CF_TEST(test_configure_reads_settings) {
  clock_at_now();
  cf_auth *auth = NULL;
  CHECK_OK(cf_auth_new(&auth));
  CHECK_EQ(cf_auth_configure(auth, lookup_nothing), CF_CONFIG);
  CHECK(strstr(cf_auth_errmsg(auth), "JWT_SECRET") != NULL);
  CHECK_OK(cf_auth_configure(auth, lookup_settings));
  char p[200];
  snprintf(p, sizeof p, "{\"sub\":\"" USER "\",\"exp\":%d,\"aud\":\"crm\"}", NOW);
  expect_payload(auth, p, CF_TOKEN_EXPIRED); /* leeway 0 */
  snprintf(p, sizeof p, "{\"sub\":\"" USER "\",\"exp\":%d,\"aud\":\"crm\"}", NOW + 1);
  expect_payload(auth, p, CF_TOKEN_OK);
  cf_auth_free(auth);

  /* A JWKS file. */
  cf__ec_key *k = NULL;
  CHECK_OK(cf__ec_key_generate(&k));
  static char path[1024];
  snprintf(path, sizeof path, "%s/jwks.json", cf_test_tmpdir());
  FILE *f = fopen(path, "w");
  CHECK(f != NULL);
  fprintf(f, "{\"keys\": [ {%s, \"kid\": \"k\"} ]}\n", jwk_members(k));
  fclose(f);
  jwks_path = path;
  CHECK_OK(cf_auth_new(&auth));
  CHECK_OK(cf_auth_configure(auth, lookup_jwks));
  char *tok = NULL;
  CHECK_OK(
      cf__jwt_sign_es256(k, "{\"alg\":\"ES256\",\"kid\":\"k\"}", good_payload(), &tok));
  CHECK_EQ(reason_of(auth, tok), CF_TOKEN_OK);
  cf_token_free(tok);
  cf_auth_free(auth);
  jwks_path = "/nonexistent/jwks.json";
  CHECK_OK(cf_auth_new(&auth));
  CHECK_EQ(cf_auth_configure(auth, lookup_jwks), CF_IO);
  CHECK(strstr(cf_auth_errmsg(auth), "/nonexistent/jwks.json") != NULL);
  cf_auth_free(auth);
  cf__ec_key_free(k);
}

CF_TEST(test_verify_survives_allocation_failures) {
  clock_at_now();
  cf_auth *auth = hs_auth();
  char *tok = hs_token(good_payload());
  int saw_nomem = 0;
  for (uint64_t n = 1; n < 50; n++) {
    cf_claims *claims = NULL;
    cf__alloc_fail_at(n);
    int rc = cf_auth_verify(auth, tok, strlen(tok), &claims, NULL);
    uint64_t used = cf__alloc_count();
    cf__alloc_fail_at(0);
    CHECK_MSG(rc == CF_OK || rc == CF_NOMEM, "rc %d at allocation %llu", rc,
              (unsigned long long)n);
    if (rc == CF_NOMEM) {
      saw_nomem = 1;
      CHECK(claims == NULL);
    } else {
      CHECK_STR(cf_claims_sub(claims), USER);
      cf_claims_free(claims);
    }
    if (used < n) break; /* the n-th allocation never happened: all covered */
  }
  CHECK(saw_nomem);
  cf_token_free(tok);
  cf_auth_free(auth);
}

/* Applies 1-4 random edits to tok (length n) in place; returns the new length. */
static size_t mutate(char *tok, size_t n, size_t cap, uint64_t *state) {
  static const char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ {}\"\\";
  int edits = 1 + (int)(cf_test_rand(state) % 4);
  for (int e = 0; e < edits; e++) {
    size_t at = n ? (size_t)(cf_test_rand(state) % n) : 0;
    switch (cf_test_rand(state) % 5) {
      case 0: /* replace with a likely character */
        if (n) tok[at] = alphabet[cf_test_rand(state) % (sizeof alphabet - 1)];
        break;
      case 1: /* replace with any byte but NUL */
        if (n) tok[at] = (char)(1 + cf_test_rand(state) % 255);
        break;
      case 2: /* insert */
        if (n + 1 < cap) {
          memmove(tok + at + 1, tok + at, n - at);
          tok[at] = alphabet[cf_test_rand(state) % (sizeof alphabet - 1)];
          n++;
        }
        break;
      case 3: /* delete */
        if (n) {
          memmove(tok + at, tok + at + 1, n - at - 1);
          n--;
        }
        break;
      default: /* truncate */
        n = at;
        break;
    }
  }
  tok[n] = '\0';
  return n;
}

CF_TEST(test_mutated_tokens_never_accepted) {
  clock_at_now();
  uint64_t state = cf_test_seed();
  cf__ec_key *key = NULL;
  CHECK_OK(cf__ec_key_generate(&key));
  char *pub = NULL;
  CHECK_OK(cf__ec_key_public_pem(key, &pub));
  cf_auth *auth = hs_auth();
  CHECK_OK(cf_auth_add_es256_pem(auth, pub, strlen(pub), "k"));
  char *originals[2] = {hs_token(good_payload()), NULL};
  CHECK_OK(cf__jwt_sign_es256(key, "{\"alg\":\"ES256\",\"kid\":\"k\"}", good_payload(),
                              &originals[1]));
  char buf[4096];
  int refused = 0;
  for (int iter = 0; iter < 4000; iter++) {
    const char *orig = originals[iter % 2];
    size_t n = strlen(orig);
    memcpy(buf, orig, n + 1);
    n = mutate(buf, n, sizeof buf, &state);
    cf_claims *claims = NULL;
    cf_token_error why;
    int rc = cf_auth_verify(auth, buf, n, &claims, &why);
    if (strcmp(buf, orig) == 0) {
      CHECK_OK(rc); /* the edits cancelled out */
      cf_claims_free(claims);
      continue;
    }
    CHECK_MSG(rc == CF_AUTH, "iteration %d: mutated token accepted: %s", iter, buf);
    CHECK(claims == NULL);
    CHECK(why != CF_TOKEN_OK);
    refused++;
  }
  CHECK(refused > 3000);
  cf_token_free(originals[0]);
  cf_token_free(originals[1]);
  cf__free(pub);
  cf__ec_key_free(key);
  cf_auth_free(auth);
}

CF_TEST(test_signed_garbage_payloads_never_crash_the_parser) {
  /* The payload parser only sees signed text, but a key holder's bugs
     should not crash the server either: mutate JSON, sign it, verify it. */
  clock_at_now();
  uint64_t state = cf_test_seed() ^ 0x9e3779b97f4a7c15u;
  cf_auth *auth = hs_auth();
  char buf[4096];
  int accepted = 0;
  for (int iter = 0; iter < 3000; iter++) {
    const char *orig = good_payload();
    size_t n = strlen(orig);
    memcpy(buf, orig, n + 1);
    mutate(buf, n, sizeof buf, &state);
    char *tok = hs_token(buf);
    cf_claims *claims = NULL;
    cf_token_error why;
    int rc = cf_auth_verify(auth, tok, strlen(tok), &claims, &why);
    CHECK(rc == CF_OK || rc == CF_AUTH);
    if (rc == CF_OK) {
      accepted++;
      CHECK_EQ(strlen(cf_claims_sub(claims)), 36);
      cf_claims_free(claims);
    } else {
      CHECK(why != CF_TOKEN_OK && why != CF_TOKEN_BAD_SIGNATURE);
    }
    cf_token_free(tok);
  }
  CHECK(accepted > 0); /* edits in ignored members keep the token valid */
  cf_auth_free(auth);
}

/* Shared by the threads of test_one_auth_verifies_on_many_threads. */
typedef struct verify_job {
  const cf_auth *auth;        /* shared verifier */
  const char *tokens[2];      /* an HS256 and an ES256 token */
  pthread_barrier_t *barrier; /* makes the first verifications collide */
  int failures;               /* verifications that did not succeed */
} verify_job;

static void *verify_thread(void *arg) {
  verify_job *job = arg;
  pthread_barrier_wait(job->barrier);
  for (int i = 0; i < 40; i++) {
    const char *tok = job->tokens[(i + 1) % 2];
    cf_claims *claims = NULL;
    if (cf_auth_verify(job->auth, tok, strlen(tok), &claims, NULL) != CF_OK ||
        strcmp(cf_claims_sub(claims), USER) != 0)
      job->failures++;
    cf_claims_free(claims);
  }
  return NULL;
}

CF_TEST(test_one_auth_verifies_on_many_threads) {
  /* A configured cf_auth is read-only in cf_auth_verify, including the
     mbedTLS curve tables (see key_precompute in core/crypto.c). */
  enum { THREADS = 4 };
  clock_at_now();
  cf__ec_key *key = NULL;
  char *pub = NULL, *es = NULL;
  CHECK_OK(cf__ec_key_generate(&key));
  CHECK_OK(cf__ec_key_public_pem(key, &pub));
  cf_auth *auth = hs_auth();
  CHECK_OK(cf_auth_add_es256_pem(auth, pub, strlen(pub), NULL));
  CHECK_OK(cf__jwt_sign_es256(key, "{\"alg\":\"ES256\"}", good_payload(), &es));
  char *hs = hs_token(good_payload());
  pthread_barrier_t barrier;
  CHECK(pthread_barrier_init(&barrier, NULL, THREADS) == 0);
  verify_job jobs[THREADS];
  pthread_t th[THREADS];
  for (int i = 0; i < THREADS; i++) {
    jobs[i] = (verify_job){auth, {hs, es}, &barrier, 0};
    CHECK(pthread_create(&th[i], NULL, verify_thread, &jobs[i]) == 0);
  }
  for (int i = 0; i < THREADS; i++) {
    CHECK(pthread_join(th[i], NULL) == 0);
    CHECK_EQ(jobs[i].failures, 0);
  }
  pthread_barrier_destroy(&barrier);
  cf_token_free(hs);
  cf_token_free(es);
  cf__free(pub);
  cf__ec_key_free(key);
  cf_auth_free(auth);
}

CF_TEST(test_minting_and_jwks_survive_allocation_failures) {
  clock_at_now();
  cf__ec_key *key = NULL;
  char *priv = NULL;
  CHECK_OK(cf__ec_key_generate(&key));
  CHECK_OK(cf__ec_key_private_pem(key, &priv));
  char jwks[512];
  snprintf(jwks, sizeof jwks, "{\"keys\":[{%s,\"kid\":\"k\"}]}", jwk_members(key));
  for (int what = 0; what < 3; what++) {
    int done = 0;
    for (uint64_t n = 1; !done && n < 100; n++) {
      char *tok = NULL;
      cf_auth *auth = NULL;
      int rc;
      cf__alloc_fail_at(n);
      if (what == 0) {
        rc = cf_token_mint_hs256(SECRET, strlen(SECRET), USER, "authenticated", "e@x.io",
                                 "authenticated", 60, &tok);
      } else if (what == 1) {
        rc = cf_token_mint_es256(priv, strlen(priv), "k", USER, NULL, NULL,
                                 "authenticated", 60, &tok);
      } else {
        rc = cf_auth_new(&auth);
        if (rc == CF_OK) rc = cf_auth_add_jwks(auth, jwks, strlen(jwks));
      }
      done = cf__alloc_count() < n; /* the n-th allocation never happened */
      cf__alloc_fail_at(0);
      CHECK_MSG(rc == CF_OK || rc == CF_NOMEM, "case %d, allocation %llu: %s", what,
                (unsigned long long)n, cf_strerror(rc));
      CHECK(done ? rc == CF_OK : rc == CF_NOMEM);
      if (rc == CF_OK && what < 2) {
        cf_auth *check = hs_auth();
        CHECK_OK(cf_auth_add_jwks(check, jwks, strlen(jwks)));
        CHECK_EQ(reason_of(check, tok), CF_TOKEN_OK);
        cf_auth_free(check);
      }
      if (rc != CF_OK) CHECK(tok == NULL);
      cf_token_free(tok);
      cf_auth_free(auth);
    }
    CHECK_MSG(done, "case %d never finished", what);
  }
  cf__free(priv);
  cf__ec_key_free(key);
}

CF_TEST(test_mutated_jwks_never_crash_or_half_load) {
  uint64_t state = cf_test_seed() ^ 0x5bd1e995u;
  cf__ec_key *key = NULL;
  CHECK_OK(cf__ec_key_generate(&key));
  char orig[1024], buf[2048];
  snprintf(orig, sizeof orig,
           "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"},{%s,\"kid\":\"k\","
           "\"use\":\"sig\"}]}",
           jwk_members(key));
  int loaded = 0;
  for (int iter = 0; iter < 3000; iter++) {
    size_t n = strlen(orig);
    memcpy(buf, orig, n + 1);
    n = mutate(buf, n, sizeof buf, &state);
    cf_auth *auth = NULL;
    CHECK_OK(cf_auth_new(&auth));
    int rc = cf_auth_add_jwks(auth, buf, n);
    CHECK_MSG(rc == CF_OK || rc == CF_CONFIG, "rc %s for %s", cf_strerror(rc), buf);
    if (rc == CF_OK) loaded++;
    cf_auth_free(auth);
  }
  CHECK(loaded > 0);
  cf__ec_key_free(key);
}
