/*
** sync/auth/claims.c: a verified token's payload: reading its claims,
** checking them (docs/auth.md, "What is checked", steps 6 to 9) and the
** cf_claims object handed to the caller.
*/
#include "sync/auth/auth_int.h"

#include <string.h>

#include "platform/platform.h"

struct cf_claims {
  char sub[37];    /* canonical UUID, NUL-terminated */
  char *role;      /* "role", NULL if absent (points into this block) */
  char *email;     /* "email", NULL if absent (points into this block) */
  int64_t exp;     /* expiry, seconds since the epoch */
  int64_t iat;     /* issue time, 0 if absent */
  char *json;      /* the payload JSON (points into this block) */
  size_t json_len; /* bytes of json, without the NUL */
};

enum { P_SUB, P_EXP, P_NBF, P_IAT, P_AUD, P_ROLE, P_EMAIL, P_COUNT };
static const cf__field_spec payload_specs[P_COUNT] = {
    [P_SUB] = {"sub", CF_F_STRING, 256},     [P_EXP] = {"exp", CF_F_INT, 0},
    [P_NBF] = {"nbf", CF_F_INT, 0},          [P_IAT] = {"iat", CF_F_INT, 0},
    [P_AUD] = {"aud", CF_F_AUD, 256},        [P_ROLE] = {"role", CF_F_STRING, 64},
    [P_EMAIL] = {"email", CF_F_STRING, 320},
};

/* 1 if s[0..len) is a UUID in canonical lowercase 8-4-4-4-12 form. */
int cf__auth_is_canonical_uuid(const char *s, size_t len) {
  if (len != 36) return 0;
  for (size_t i = 0; i < 36; i++) {
    char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return 0;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return 0;
    }
  }
  return 1;
}

/* Checks the payload's claims at time now_s.  CF_TOKEN_*. */
static cf_token_error check_claims(const cf_auth *auth, const cf__field_val *p,
                                   int64_t now_s) {
  if (!p[P_EXP].present || p[P_EXP].is_null) return CF_TOKEN_MISSING_CLAIM;
  if (!p[P_SUB].present || p[P_SUB].is_null || NEVER(p[P_SUB].str == NULL))
    return CF_TOKEN_MISSING_CLAIM;
  if (!cf__auth_is_canonical_uuid(p[P_SUB].str, p[P_SUB].len))
    return CF_TOKEN_BAD_SUBJECT;
  /* RFC 7519 4.1.4: valid only before exp.  Values are <= MAX_TIME: no overflow. */
  if (now_s >= p[P_EXP].num + auth->leeway_s) return CF_TOKEN_EXPIRED;
  if (p[P_NBF].present && !p[P_NBF].is_null && now_s + auth->leeway_s < p[P_NBF].num)
    return CF_TOKEN_NOT_YET_VALID;
  if (auth->audience != NULL) {
    const cf__field_val *aud = &p[P_AUD];
    int found = 0;
    for (int i = 0; i < aud->n_items && !found; i++)
      found = strcmp(aud->items[i], auth->audience) == 0;
    if (!found) return CF_TOKEN_WRONG_AUDIENCE;
  }
  return CF_TOKEN_OK;
}

/* Builds the claims object from the payload fields and JSON text. */
static cf_claims *claims_new(const cf__field_val *p, const char *json, size_t json_len) {
  size_t role_len = p[P_ROLE].str ? p[P_ROLE].len + 1 : 0;
  size_t email_len = p[P_EMAIL].str ? p[P_EMAIL].len + 1 : 0;
  cf_claims *c = cf__malloc(sizeof *c + json_len + 1 + role_len + email_len);
  if (c == NULL) return NULL;
  char *tail = (char *)(c + 1);
  memcpy(c->sub, p[P_SUB].str, 36);
  c->sub[36] = '\0';
  c->exp = p[P_EXP].num;
  c->iat = p[P_IAT].present && !p[P_IAT].is_null ? p[P_IAT].num : 0;
  c->json = tail;
  c->json_len = json_len;
  memcpy(tail, json, json_len);
  tail[json_len] = '\0';
  tail += json_len + 1;
  c->role = NULL;
  c->email = NULL;
  if (role_len) {
    c->role = tail;
    memcpy(tail, p[P_ROLE].str, role_len);
    tail += role_len;
  }
  if (email_len) {
    c->email = tail;
    memcpy(tail, p[P_EMAIL].str, email_len);
  }
  return c;
}

int cf__auth_payload_claims(const cf_auth *auth, const char *json, size_t n,
                            cf__auth_arena *arena, int64_t now_s, cf_claims **out,
                            cf_token_error *why) {
  cf_json_val root;
  cf__field_val p[P_COUNT];
  *out = NULL;
  *why = cf__auth_json_object(json, n, &root);
  if (*why == CF_TOKEN_OK)
    *why = cf__auth_read_fields(&root, payload_specs, P_COUNT, p, arena);
  if (*why == CF_TOKEN_OK) *why = check_claims(auth, p, now_s);
  if (*why != CF_TOKEN_OK) return CF_AUTH;
  *out = claims_new(p, json, n);
  return *out != NULL ? CF_OK : CF_NOMEM;
}

const char *cf_claims_sub(const cf_claims *c) { return c->sub; }
const char *cf_claims_role(const cf_claims *c) { return c->role; }
const char *cf_claims_email(const cf_claims *c) { return c->email; }
int64_t cf_claims_exp(const cf_claims *c) { return c->exp; }
int64_t cf_claims_iat(const cf_claims *c) { return c->iat; }

const char *cf_claims_json(const cf_claims *c, size_t *len) {
  if (len != NULL) *len = c->json_len;
  return c->json;
}

void cf_claims_free(cf_claims *c) { cf__free(c); }
