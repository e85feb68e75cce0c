/*
** sync/auth/mint.c: minting tokens (HS256, ES256) for `clientflow token`
** and tests, and the raw signers tests use to craft hostile tokens.  The
** payload looks like Supabase's (docs/auth.md, "Token format"); its strings
** are written by core/json.c's cf__json_quote.
*/
#include "sync/auth/auth.h"
#include "sync/auth/auth_int.h"

#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "platform/platform.h"

#define MAX_MINTED (64 * 1024) /* bytes of a token built here */
#define MAX_TTL 31536000       /* one year, for minted tokens */

int cf__jwt_assemble(const char *header_json, const char *payload_json,
                     const unsigned char *sig, size_t sig_len, char **out) {
  *out = NULL;
  size_t hl = strlen(header_json), pl = strlen(payload_json);
  if (hl > MAX_MINTED || pl > MAX_MINTED || sig_len > MAX_MINTED) return CF_TOOBIG;
  size_t he = cf__base64url_encoded_len(hl), pe = cf__base64url_encoded_len(pl);
  size_t se = cf__base64url_encoded_len(sig_len);
  char *tok = cf__malloc(he + pe + se + 3);
  if (tok == NULL) return CF_NOMEM;
  cf__base64url_encode(header_json, hl, tok);
  tok[he] = '.';
  cf__base64url_encode(payload_json, pl, tok + he + 1);
  tok[he + 1 + pe] = '.';
  cf__base64url_encode(sig, sig_len, tok + he + pe + 2);
  *out = tok;
  return CF_OK;
}

int cf__jwt_sign_hs256(const void *secret, size_t secret_len, const char *header_json,
                       const char *payload_json, char **out) {
  unsigned char mac[CF_HMAC_SHA256_LEN];
  char *unsigned_tok = NULL;
  /* Sign the text the verifier will see: "header.payload" as encoded. */
  int rc = cf__jwt_assemble(header_json, payload_json, NULL, 0, &unsigned_tok);
  if (rc != CF_OK) {
    *out = NULL;
    return rc;
  }
  size_t signed_len = strlen(unsigned_tok) - 1; /* drop the trailing '.' */
  rc = cf__hmac_sha256(secret, secret_len, unsigned_tok, signed_len, mac);
  cf__free(unsigned_tok);
  if (rc != CF_OK) {
    *out = NULL;
    return rc;
  }
  return cf__jwt_assemble(header_json, payload_json, mac, sizeof mac, out);
}

int cf__jwt_sign_es256(const cf__ec_key *key, const char *header_json,
                       const char *payload_json, char **out) {
  unsigned char sig[CF_ES256_SIG_LEN];
  char *unsigned_tok = NULL;
  int rc = cf__jwt_assemble(header_json, payload_json, NULL, 0, &unsigned_tok);
  if (rc != CF_OK) {
    *out = NULL;
    return rc;
  }
  rc = cf__es256_sign(key, unsigned_tok, strlen(unsigned_tok) - 1, sig);
  cf__free(unsigned_tok);
  if (rc != CF_OK) {
    *out = NULL;
    return rc;
  }
  return cf__jwt_assemble(header_json, payload_json, sig, sizeof sig, out);
}

/* Appends sep, then "name":<s as a JSON string>.  CF_OK, CF_INVALID (s is
** not UTF-8), CF_TOOBIG, CF_NOMEM. */
static int put_member(cf_buf *b, const char *sep, const char *name, const char *s) {
  int rc = cf__buf_puts(b, sep);
  if (rc == CF_OK) rc = cf__buf_putc(b, '"');
  if (rc == CF_OK) rc = cf__buf_puts(b, name);
  if (rc == CF_OK) rc = cf__buf_puts(b, "\":");
  if (rc == CF_OK) rc = cf__json_quote(s, strlen(s), b);
  return rc;
}

/* The payload text of a minted token; CF_OK, CF_INVALID, CF_NOMEM. */
static int mint_payload(const char *sub, const char *role, const char *email,
                        const char *aud, int64_t ttl_seconds, char **out) {
  char times[64];
  cf_buf b;
  *out = NULL;
  if (sub == NULL || !cf__auth_is_canonical_uuid(sub, strlen(sub))) return CF_INVALID;
  if (ttl_seconds < 1 || ttl_seconds > MAX_TTL) return CF_INVALID;
  int64_t now_ms = cf__now_ms();
  if (now_ms < 0 || now_ms / 1000 > CF_AUTH_MAX_TIME - MAX_TTL) return CF_INVALID;
  int64_t iat = now_ms / 1000, exp = iat + ttl_seconds;
  snprintf(times, sizeof times, "\"exp\":%lld,\"iat\":%lld,", (long long)exp,
           (long long)iat);
  /* Members in the order Supabase writes them. */
  cf__buf_init(&b, MAX_MINTED);
  int rc = cf__buf_putc(&b, '{');
  if (rc == CF_OK && aud != NULL) rc = put_member(&b, "", "aud", aud);
  if (rc == CF_OK && aud != NULL) rc = cf__buf_putc(&b, ',');
  if (rc == CF_OK) rc = cf__buf_puts(&b, times);
  if (rc == CF_OK) rc = put_member(&b, "", "sub", sub);
  if (rc == CF_OK && email != NULL) rc = put_member(&b, ",", "email", email);
  if (rc == CF_OK && role != NULL) rc = put_member(&b, ",", "role", role);
  if (rc == CF_OK) rc = cf__buf_putc(&b, '}');
  if (rc == CF_OK) *out = cf__buf_detach(&b, NULL);
  cf__buf_free(&b);
  return rc == CF_TOOBIG ? CF_INVALID : rc;
}

int cf_token_mint_hs256(const void *secret, size_t secret_len, const char *sub,
                        const char *role, const char *email, const char *aud,
                        int64_t ttl_seconds, char **out) {
  if (out == NULL) return CF_MISUSE;
  *out = NULL;
  if (secret == NULL) return CF_MISUSE;
  if (secret_len < CF_TOKEN_MIN_SECRET || secret_len > CF_AUTH_MAX_SECRET)
    return CF_CONFIG;
  char *payload = NULL;
  int rc = mint_payload(sub, role, email, aud, ttl_seconds, &payload);
  if (rc != CF_OK) return rc;
  rc = cf__jwt_sign_hs256(secret, secret_len, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
                          payload, out);
  cf__free(payload);
  return rc;
}

int cf_token_mint_es256(const char *private_pem, size_t pem_len, const char *kid,
                        const char *sub, const char *role, const char *email,
                        const char *aud, int64_t ttl_seconds, char **out) {
  if (out == NULL) return CF_MISUSE;
  *out = NULL;
  if (private_pem == NULL) return CF_MISUSE;
  int rc;
  cf__ec_key *key = NULL;
  char *payload = NULL, *header = NULL;
  rc = cf__ec_key_from_pem(private_pem, pem_len, &key);
  if (rc != CF_OK) goto out;
  if (!cf__ec_key_has_private(key) || (kid != NULL && strlen(kid) > CF_AUTH_MAX_KID)) {
    rc = CF_INVALID;
    goto out;
  }
  rc = mint_payload(sub, role, email, aud, ttl_seconds, &payload);
  if (rc != CF_OK) goto out;
  cf_buf h;
  cf__buf_init(&h, MAX_MINTED);
  rc = cf__buf_puts(&h, "{\"alg\":\"ES256\",");
  if (rc == CF_OK && kid != NULL) rc = put_member(&h, "", "kid", kid);
  if (rc == CF_OK && kid != NULL) rc = cf__buf_putc(&h, ',');
  if (rc == CF_OK) rc = cf__buf_puts(&h, "\"typ\":\"JWT\"}");
  header = cf__buf_detach(&h, NULL);
  if (rc == CF_OK) rc = cf__jwt_sign_es256(key, header, payload, out);
out:
  if (rc == CF_TOOBIG) rc = CF_INVALID;
  cf__ec_key_free(key);
  cf__free(payload);
  cf__free(header);
  return rc;
}

void cf_token_free(char *token) { cf__free(token); }
