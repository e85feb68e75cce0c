/*
** sync/auth/verify.c: cf_auth_verify, JSON Web Token verification (HS256,
** ES256).  docs/auth.md lists every check and refusal.
**
** A compact JWS token is three base64url segments:
**
**   | segment   | decoded                               | checked here          |
**   |-----------|---------------------------------------|-----------------------|
**   | header    | {"alg":"HS256"|"ES256","typ":"JWT",   | alg allow-list, kid,  |
**   |           |  "kid":"..."}                         | no "crit"             |
**   | payload   | {"sub":uuid,"exp":n,"nbf":n,"iat":n,  | after the signature,  |
**   |           |  "aud":s|[s..],"role":s,"email":s,..} | in claims.c           |
**   | signature | HS256: 32-byte HMAC; ES256: r||s (64) | constant time         |
**
** Order of checks: size, shape (three non-empty segments of base64url),
** header, algorithm against the configured keys, signature over the ASCII
** "header.payload", and only then the payload's JSON and claims, so that
** unauthenticated bytes meet as little code as possible.
*/
#include "sync/auth/auth_int.h"

#include <string.h>

#include "platform/platform.h"

enum { H_ALG, H_TYP, H_KID, H_CRIT, H_COUNT };
static const cf__field_spec header_specs[H_COUNT] = {
    [H_ALG] = {"alg", CF_F_STRING, 16},
    [H_TYP] = {"typ", CF_F_STRING, 32},
    [H_KID] = {"kid", CF_F_STRING, CF_AUTH_MAX_KID},
    [H_CRIT] = {"crit", CF_F_ANY, 0},
};

/* Case-insensitive ASCII equality of a NUL-terminated s and lit. */
static int ascii_ieq(const char *s, const char *lit) {
  for (; *s && *lit; s++, lit++) {
    char a = *s, b = *lit;
    if (a >= 'A' && a <= 'Z') a = (char)(a - 'A' + 'a');
    if (b >= 'A' && b <= 'Z') b = (char)(b - 'A' + 'a');
    if (a != b) return 0;
  }
  return *s == *lit;
}

/*
** Decodes the header segment seg[0..n) into buf (cf__base64url_decoded_max(n)
** bytes) and reads its members into h, strings in arena.  OUT: *json_len.
*/
static cf_token_error read_segment(const char *seg, size_t n, unsigned char *buf,
                                   size_t cap, size_t *json_len, cf__auth_arena *arena,
                                   cf__field_val *h) {
  cf_json_val root;
  if (cf__base64url_decode(seg, n, buf, cap, json_len) != CF_OK)
    return CF_TOKEN_MALFORMED;
  arena->len = 0;
  cf_token_error why = cf__auth_json_object((const char *)buf, *json_len, &root);
  if (why != CF_TOKEN_OK) return why;
  return cf__auth_read_fields(&root, header_specs, H_COUNT, h, arena);
}

/* Checks the signature of token[0..signed_len) per the header.  CF_TOKEN_*. */
static cf_token_error check_signature(const cf_auth *auth, int es256, const char *kid,
                                      const char *token, size_t signed_len,
                                      const unsigned char *sig, size_t sig_len,
                                      int *nomem) {
  if (!es256) {
    unsigned char mac[CF_HMAC_SHA256_LEN];
    if (sig_len != sizeof mac) return CF_TOKEN_BAD_SIGNATURE;
    cf__hmac_sha256_with(auth->hmac, token, signed_len, mac);
    return cf__ct_equal(mac, sig, sizeof mac) ? CF_TOKEN_OK : CF_TOKEN_BAD_SIGNATURE;
  }
  if (sig_len != CF_ES256_SIG_LEN) return CF_TOKEN_BAD_SIGNATURE;
  int tried = 0;
  for (int i = 0; i < auth->n_keys; i++) {
    const cf__auth_key *k = &auth->keys[i];
    /* A token's kid picks the keys of that id (and keys without one). */
    if (kid != NULL && k->kid != NULL && strcmp(kid, k->kid) != 0) continue;
    tried++;
    int rc = cf__es256_verify(k->key, token, signed_len, sig);
    if (rc == CF_OK) return CF_TOKEN_OK;
    if (rc == CF_NOMEM) {
      *nomem = 1;
      return CF_TOKEN_BAD_SIGNATURE;
    }
  }
  return tried ? CF_TOKEN_BAD_SIGNATURE : CF_TOKEN_NO_KEY;
}

int cf_auth_verify(const cf_auth *auth, const char *token, size_t len, cf_claims **out,
                   cf_token_error *reason) {
  cf_token_error why = CF_TOKEN_MALFORMED;
  int rc = CF_AUTH, nomem = 0;
  unsigned char *buf = NULL;
  cf__auth_arena arena = {NULL, 0, 0};
  if (out != NULL) *out = NULL;
  if (auth == NULL || token == NULL || out == NULL) {
    rc = CF_MISUSE;
    goto out;
  }
  if (len > CF_TOKEN_MAX_LEN) {
    why = CF_TOKEN_TOO_LARGE;
    goto out;
  }
  /* Shape: exactly two dots, non-empty header and payload. */
  const char *d1 = memchr(token, '.', len);
  const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
  if (d1 == NULL || d2 == NULL || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)) ||
      d1 == token || d2 == d1 + 1)
    goto out;
  size_t h_len = (size_t)(d1 - token), p_len = (size_t)(d2 - d1 - 1);
  size_t s_len = len - (size_t)(d2 + 1 - token), signed_len = (size_t)(d2 - token);

  /* One block: decoded segment, then the arena (2x + 1, see cf__auth_arena). */
  size_t cap = cf__base64url_decoded_max(len);
  buf = cf__malloc(cap + 2 * cap + 1);
  if (buf == NULL) {
    rc = CF_NOMEM;
    goto out;
  }
  arena.p = (char *)buf + cap;
  arena.cap = 2 * cap + 1;

  /* Header and algorithm. */
  size_t json_len = 0;
  cf__field_val h[H_COUNT];
  why = read_segment(token, h_len, buf, cap, &json_len, &arena, h);
  if (why != CF_TOKEN_OK) {
    why = CF_TOKEN_MALFORMED; /* wrong types in the header too: it carries no claims */
    goto out;
  }
  why = CF_TOKEN_MALFORMED;
  if (h[H_CRIT].present) goto out; /* RFC 7515 4.1.11: no extension is understood */
  if (h[H_ALG].str == NULL) goto out;
  if (h[H_TYP].present && (h[H_TYP].str == NULL || !ascii_ieq(h[H_TYP].str, "JWT")))
    goto out;
  why = CF_TOKEN_BAD_ALG;
  int es256;
  if (strcmp(h[H_ALG].str, "HS256") == 0 && auth->hmac != NULL)
    es256 = 0;
  else if (strcmp(h[H_ALG].str, "ES256") == 0 && auth->n_keys > 0)
    es256 = 1;
  else
    goto out; /* none, HS512, RS256, ...; or HS256/ES256 without its kind of key */
  char kid[CF_AUTH_MAX_KID + 1];
  int has_kid = h[H_KID].str != NULL;
  if (has_kid) memcpy(kid, h[H_KID].str, h[H_KID].len + 1);

  /* Signature. */
  unsigned char sig[CF_ES256_SIG_LEN];
  size_t sig_len = 0;
  int drc = cf__base64url_decode(d2 + 1, s_len, sig, sizeof sig, &sig_len);
  if (drc == CF_INVALID || s_len == 0) {
    why = CF_TOKEN_MALFORMED;
    goto out;
  }
  if (drc != CF_OK) {
    why = CF_TOKEN_BAD_SIGNATURE; /* longer than any signature we accept */
    goto out;
  }
  why = check_signature(auth, es256, has_kid ? kid : NULL, token, signed_len, sig,
                        sig_len, &nomem);
  if (nomem) {
    rc = CF_NOMEM;
    goto out;
  }
  if (why != CF_TOKEN_OK) goto out;

  /* Payload, now known to come from a key holder. */
  if (cf__base64url_decode(d1 + 1, p_len, buf, cap, &json_len) != CF_OK) {
    why = CF_TOKEN_MALFORMED;
    goto out;
  }
  arena.len = 0;
  int64_t now_ms = cf__now_ms();
  int64_t now_s = now_ms / 1000 - (now_ms % 1000 < 0); /* floor, no overflow */
  rc = cf__auth_payload_claims(auth, (const char *)buf, json_len, &arena, now_s, out,
                               &why);
out:
  cf__free(buf);
  if (rc == CF_OK) why = CF_TOKEN_OK;
  if (reason != NULL) *reason = why;
  return rc;
}
