/*
** sync/auth/jwks.c: loading a JWK Set (RFC 7517), e.g. a copy of Supabase's
** /auth/v1/.well-known/jwks.json, into a cf_auth (docs/auth.md,
** "Configuration").
**
**   {"keys": [ {"kty":"EC","crv":"P-256","x":b64url,"y":b64url,
**               "kid":"...","alg":"ES256","use":"sig"}, ... ]}
**
** Entries that are not EC P-256 signing keys (RSA, "oct", another alg or
** use) are skipped; a usable-looking key with a bad point is an error, as is
** a set without any usable key.  Loading is all or nothing.
*/
#include "sync/auth/auth.h"
#include "sync/auth/auth_int.h"

#include <string.h>

#include "platform/platform.h"

enum { JK_KTY, JK_CRV, JK_X, JK_Y, JK_KID, JK_ALG, JK_USE, JK_COUNT };
static const cf__field_spec jwk_specs[JK_COUNT] = {
    [JK_KTY] = {"kty", CF_F_STRING, 16},
    [JK_CRV] = {"crv", CF_F_STRING, 16},
    [JK_X] = {"x", CF_F_STRING, 64},
    [JK_Y] = {"y", CF_F_STRING, 64},
    [JK_KID] = {"kid", CF_F_STRING, CF_AUTH_MAX_KID},
    [JK_ALG] = {"alg", CF_F_STRING, 16},
    [JK_USE] = {"use", CF_F_STRING, 16},
};

/* 1 if member i is present, a string, and equal to s. */
static int jwk_is(const cf__field_val *v, int i, const char *s) {
  return v[i].present && v[i].str != NULL && strcmp(v[i].str, s) == 0;
}

/* Adds the JWK v (the index-th of the set, 1-based) if it is an ES256
** signing key.  CF_OK (added or skipped: *added says), CF_CONFIG, CF_NOMEM. */
static int add_jwk(cf_auth *auth, const cf__field_val *v, int index, int *added) {
  unsigned char x[CF_P256_COORD_LEN], y[CF_P256_COORD_LEN];
  size_t xl = 0, yl = 0;
  *added = 0;
  if (!jwk_is(v, JK_KTY, "EC") || !jwk_is(v, JK_CRV, "P-256")) return CF_OK;
  if (v[JK_ALG].present && !jwk_is(v, JK_ALG, "ES256")) return CF_OK;
  if (v[JK_USE].present && !jwk_is(v, JK_USE, "sig")) return CF_OK;
  const cf__field_val *fx = &v[JK_X], *fy = &v[JK_Y];
  if (fx->str == NULL || fy->str == NULL ||
      cf__base64url_decode(fx->str, fx->len, x, sizeof x, &xl) != CF_OK ||
      cf__base64url_decode(fy->str, fy->len, y, sizeof y, &yl) != CF_OK ||
      xl != sizeof x || yl != sizeof y)
    return cf__auth_err(auth, CF_CONFIG, "JWKS key %d: bad \"x\" or \"y\"", index);
  cf__ec_key *key = NULL;
  int rc = cf__ec_key_from_xy(x, y, &key);
  if (rc == CF_NOMEM) return rc;
  if (rc != CF_OK)
    return cf__auth_err(auth, CF_CONFIG, "JWKS key %d: not a P-256 point", index);
  rc = cf__auth_add_es256_key(auth, key, v[JK_KID].str);
  if (rc != CF_OK) return rc == CF_TOOBIG ? CF_CONFIG : rc;
  *added = 1;
  return CF_OK;
}

/* Adds the usable keys of the set's "keys" array.  OUT: *added, how many. */
static int add_keys(cf_auth *auth, const cf_json_val *keys, cf__auth_arena *arena,
                    int *added) {
  cf__field_val v[JK_COUNT];
  cf_json_val item;
  size_t pos = 0;
  int index = 0, one = 0, rc = CF_OK;
  *added = 0;
  if (keys->type != CF_JSON_T_ARRAY) return CF_OK; /* no keys at all */
  while (rc == CF_OK && cf__json_array_next(keys, &pos, &item) == CF_OK) {
    if (item.type != CF_JSON_T_OBJECT) continue; /* not a JWK: ignored */
    index++;
    arena->len = 0; /* each key's strings are used before the next is read */
    if (cf__auth_read_fields(&item, jwk_specs, JK_COUNT, v, arena) != CF_TOKEN_OK)
      return cf__auth_err(auth, CF_CONFIG,
                          "JWKS is not valid JSON of the expected shape");
    rc = add_jwk(auth, v, index, &one);
    *added += one;
  }
  return rc;
}

int cf_auth_add_jwks(cf_auth *auth, const char *json, size_t len) {
  static const char *const root_names[] = {"keys"};
  if (auth == NULL || json == NULL) return CF_MISUSE;
  auth->errmsg[0] = '\0';
  if (len > CF_AUTH_MAX_JWKS)
    return cf__auth_err(auth, CF_CONFIG, "JWKS larger than %d bytes", CF_AUTH_MAX_JWKS);
  cf_json_val root, keys;
  if (cf__auth_json_object(json, len, &root) != CF_TOKEN_OK ||
      cf__json_object_pick(&root, root_names, 1, &keys) != CF_OK)
    return cf__auth_err(auth, CF_CONFIG, "JWKS is not valid JSON of the expected shape");
  cf__auth_arena arena = {NULL, 0, 2 * len + 1};
  arena.p = cf__malloc(arena.cap);
  if (arena.p == NULL) return CF_NOMEM;
  int n_before = auth->n_keys, added = 0;
  int rc = add_keys(auth, &keys, &arena, &added);
  cf__free(arena.p);
  if (rc == CF_OK && added == 0)
    rc = cf__auth_err(auth, CF_CONFIG, "JWKS has no EC P-256 signing key");
  if (rc != CF_OK) cf__auth_keys_truncate(auth, n_before); /* all or nothing */
  return rc;
}
