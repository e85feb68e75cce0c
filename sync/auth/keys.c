/*
** sync/auth/keys.c: the cf_auth handle and its configuration: the HS256
** secret, ES256 keys from PEM text or files, audience, leeway, and
** cf_auth_configure's settings (docs/auth.md, "Configuration").  JWK Sets are
** read by jwks.c.
*/
#include "sync/auth/auth.h"
#include "sync/auth/auth_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/platform.h"

#define DEFAULT_LEEWAY 30 /* seconds */

int cf__auth_err(cf_auth *auth, int rc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(auth->errmsg, sizeof auth->errmsg, fmt, ap);
  va_end(ap);
  return rc;
}

const char *cf_token_strerror(int reason) {
  switch (reason) {
#define CF_X_CASE(name, value, msg)                                                      \
  case value:                                                                            \
    return msg;
    CF_TOKEN_ERROR_TABLE(CF_X_CASE)
#undef CF_X_CASE
  }
  return "unknown token error";
}

int cf_auth_new(cf_auth **out) {
  if (out == NULL) return CF_MISUSE;
  *out = NULL;
  cf_auth *auth = cf__calloc(1, sizeof *auth);
  if (auth == NULL) return CF_NOMEM;
  auth->audience = cf__strdup("authenticated");
  if (auth->audience == NULL) {
    cf__free(auth);
    return CF_NOMEM;
  }
  auth->leeway_s = DEFAULT_LEEWAY;
  *out = auth;
  return CF_OK;
}

/* Overwrites n bytes in a way the compiler cannot drop. */
static void wipe(void *p, size_t n) {
  volatile unsigned char *v = p;
  while (n--)
    *v++ = 0;
}

void cf_auth_free(cf_auth *auth) {
  if (auth == NULL) return;
  cf__hmac_key_free(auth->hmac);
  for (int i = 0; i < auth->n_keys; i++) {
    cf__ec_key_free(auth->keys[i].key);
    cf__free(auth->keys[i].kid);
  }
  cf__free(auth->audience);
  cf__free(auth);
}

void cf__auth_keys_truncate(cf_auth *auth, int n) {
  while (auth->n_keys > n) {
    auth->n_keys--;
    cf__ec_key_free(auth->keys[auth->n_keys].key);
    cf__free(auth->keys[auth->n_keys].kid);
  }
}

const char *cf_auth_errmsg(const cf_auth *auth) { return auth ? auth->errmsg : ""; }

int cf_auth_set_hs256_secret(cf_auth *auth, const void *secret, size_t len) {
  if (auth == NULL || secret == NULL) return CF_MISUSE;
  auth->errmsg[0] = '\0';
  if (len < CF_TOKEN_MIN_SECRET || len > CF_AUTH_MAX_SECRET)
    return cf__auth_err(auth, CF_CONFIG, "JWT secret must be %d to %d bytes, not %zu",
                        CF_TOKEN_MIN_SECRET, CF_AUTH_MAX_SECRET, len);
  cf__hmac_key *hmac = NULL;
  if (cf__hmac_key_new(secret, len, &hmac) != CF_OK) return CF_NOMEM;
  cf__hmac_key_free(auth->hmac);
  auth->hmac = hmac; /* the padded hash states; the secret itself is not kept */
  return CF_OK;
}

int cf__auth_add_es256_key(cf_auth *auth, cf__ec_key *key, const char *kid) {
  char *kid_copy = NULL;
  if (auth->n_keys == CF_AUTH_MAX_KEYS) {
    cf__ec_key_free(key);
    return cf__auth_err(auth, CF_TOOBIG, "too many ES256 keys (at most %d)",
                        CF_AUTH_MAX_KEYS);
  }
  if (kid != NULL) {
    if (strlen(kid) > CF_AUTH_MAX_KID) {
      cf__ec_key_free(key);
      return cf__auth_err(auth, CF_TOOBIG, "key id longer than %d bytes",
                          CF_AUTH_MAX_KID);
    }
    kid_copy = cf__strdup(kid);
    if (kid_copy == NULL) {
      cf__ec_key_free(key);
      return CF_NOMEM;
    }
  }
  auth->keys[auth->n_keys].key = key;
  auth->keys[auth->n_keys].kid = kid_copy;
  auth->n_keys++;
  return CF_OK;
}

int cf_auth_add_es256_pem(cf_auth *auth, const char *pem, size_t len, const char *kid) {
  if (auth == NULL || pem == NULL) return CF_MISUSE;
  auth->errmsg[0] = '\0';
  cf__ec_key *key = NULL;
  int rc = cf__ec_key_from_pem(pem, len, &key);
  if (rc == CF_NOMEM) return rc;
  if (rc != CF_OK)
    return cf__auth_err(auth, CF_CONFIG, "not a PEM P-256 (ES256) key%s",
                        rc == CF_TOOBIG ? " (text too large)" : "");
  rc = cf__auth_add_es256_key(auth, key, kid);
  return rc == CF_TOOBIG ? CF_CONFIG : rc;
}

int cf_auth_set_audience(cf_auth *auth, const char *audience) {
  if (auth == NULL) return CF_MISUSE;
  auth->errmsg[0] = '\0';
  char *copy = NULL;
  if (audience != NULL && (copy = cf__strdup(audience)) == NULL) return CF_NOMEM;
  cf__free(auth->audience);
  auth->audience = copy;
  return CF_OK;
}

int cf_auth_set_leeway(cf_auth *auth, int seconds) {
  if (auth == NULL) return CF_MISUSE;
  auth->errmsg[0] = '\0';
  if (seconds < 0 || seconds > CF_AUTH_MAX_LEEWAY)
    return cf__auth_err(auth, CF_CONFIG, "leeway must be 0 to %d seconds, not %d",
                        CF_AUTH_MAX_LEEWAY, seconds);
  auth->leeway_s = seconds;
  return CF_OK;
}

/* Reads a whole file of at most max bytes (platform/file.c), with the
** reason in auth's message. */
static int read_file(cf_auth *auth, const char *path, size_t max, char **out,
                     size_t *len) {
  int rc = cf__file_read_all(path, max, out, len);
  if (rc == CF_IO) return cf__auth_err(auth, CF_IO, "cannot read %s", path);
  if (rc == CF_TOOBIG)
    return cf__auth_err(auth, CF_CONFIG, "%s is larger than %zu bytes", path, max);
  return rc;
}

int cf_auth_add_es256_pem_file(cf_auth *auth, const char *path, const char *kid) {
  if (auth == NULL || path == NULL) return CF_MISUSE;
  char *text = NULL;
  size_t len = 0;
  int rc = read_file(auth, path, CF_PEM_MAX, &text, &len);
  if (rc != CF_OK) return rc;
  rc = cf_auth_add_es256_pem(auth, text, len, kid);
  if (rc == CF_CONFIG) {
    char why[sizeof auth->errmsg];
    snprintf(why, sizeof why, "%s", auth->errmsg);
    cf__auth_err(auth, rc, "%s: %s", path, why);
  }
  wipe(text, len);
  cf__free(text);
  return rc;
}

int cf_auth_add_jwks_file(cf_auth *auth, const char *path) {
  if (auth == NULL || path == NULL) return CF_MISUSE;
  char *text = NULL;
  size_t len = 0;
  int rc = read_file(auth, path, CF_AUTH_MAX_JWKS, &text, &len);
  if (rc != CF_OK) return rc;
  rc = cf_auth_add_jwks(auth, text, len);
  if (rc == CF_CONFIG) {
    char why[sizeof auth->errmsg];
    snprintf(why, sizeof why, "%s", auth->errmsg);
    cf__auth_err(auth, rc, "%s: %s", path, why);
  }
  cf__free(text);
  return rc;
}

int cf_auth_configure(cf_auth *auth, const char *(*lookup)(const char *name)) {
  if (auth == NULL || lookup == NULL) return CF_MISUSE;
  auth->errmsg[0] = '\0';
  int rc = CF_OK;
  const char *secret = lookup("JWT_SECRET");
  const char *pem_file = lookup("JWT_ES256_PUBLIC_KEY_FILE");
  const char *jwks_file = lookup("JWT_JWKS_FILE");
  const char *audience = lookup("JWT_AUDIENCE");
  const char *leeway = lookup("JWT_LEEWAY");
  if (secret == NULL && pem_file == NULL && jwks_file == NULL)
    return cf__auth_err(
        auth, CF_CONFIG,
        "no token key: set JWT_SECRET, JWT_ES256_PUBLIC_KEY_FILE or JWT_JWKS_FILE");
  if (secret != NULL) {
    rc = cf_auth_set_hs256_secret(auth, secret, strlen(secret));
    if (rc == CF_CONFIG)
      return cf__auth_err(auth, rc, "JWT_SECRET must be at least %d bytes",
                          CF_TOKEN_MIN_SECRET);
    if (rc != CF_OK) return rc;
  }
  if (pem_file != NULL) {
    rc = cf_auth_add_es256_pem_file(auth, pem_file, lookup("JWT_ES256_KID"));
    if (rc != CF_OK) return rc;
  }
  if (jwks_file != NULL) {
    rc = cf_auth_add_jwks_file(auth, jwks_file);
    if (rc != CF_OK) return rc;
  }
  if (audience != NULL) {
    rc = cf_auth_set_audience(auth, audience);
    if (rc != CF_OK) return rc;
  }
  if (leeway != NULL) {
    char *end = NULL;
    long v = strtol(leeway, &end, 10);
    if (end == leeway || *end != '\0' || v < 0 || v > CF_AUTH_MAX_LEEWAY)
      return cf__auth_err(auth, CF_CONFIG, "JWT_LEEWAY must be 0 to %d seconds",
                          CF_AUTH_MAX_LEEWAY);
    auth->leeway_s = v;
  }
  return CF_OK;
}
