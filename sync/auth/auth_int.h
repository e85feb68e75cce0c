/*
** sync/auth/auth_int.h: what the files of sync/auth/ share (internal to
** that folder).
**
** sync/auth/ verifies and mints JSON Web Tokens; the public contract is the
** "Tokens" section of include/clientflow.h, the formats and every check are
** in docs/auth.md.  One concept a file:
**
**   | file      | holds                                                      |
**   |-----------|------------------------------------------------------------|
**   | keys.c    | the cf_auth handle: secret, PEM keys, settings, files      |
**   | jwks.c    | loading a JWK Set                                          |
**   | fields.c  | reading named members of a JSON object (core/json.c) with  |
**   |           | their expected types and lengths                           |
**   | verify.c  | cf_auth_verify: shape, header, algorithm, signature        |
**   | claims.c  | the payload's claims: checks and the cf_claims object      |
**   | mint.c    | minting tokens (clientflow token, tests)                   |
**
** Cryptography is core/crypto.c (the only mbedTLS user), JSON is
** core/json.c: nothing here includes a third-party library.
*/
#ifndef CF_SYNC_AUTH_INT_H
#define CF_SYNC_AUTH_INT_H

#include <stddef.h>
#include <stdint.h>

#include "clientflow.h"
#include "core/crypto.h"
#include "core/json.h"

#define CF_AUTH_MAX_KEYS 32           /* ES256 keys per cf_auth */
#define CF_AUTH_MAX_KID 128           /* bytes of a key id */
#define CF_AUTH_MAX_SECRET 4096       /* bytes of an HS256 secret */
#define CF_AUTH_MAX_LEEWAY 300        /* seconds */
#define CF_AUTH_MAX_AUD 16            /* entries of an "aud" array */
#define CF_AUTH_MAX_FIELDS 8          /* members one field reader picks */
#define CF_AUTH_MAX_JWKS (256 * 1024) /* bytes of a JWKS document */
/* 9999-12-31T23:59:59Z: NumericDates beyond it are refused as out of range. */
#define CF_AUTH_MAX_TIME INT64_C(253402300799)

/* A defensive branch that the code around it makes unreachable. */
#define NEVER(x) (x)

/* ---- the handle ----------------------------------------------------------- */

typedef struct cf__auth_key {
  cf__ec_key *key; /* an ES256 verification key, owned */
  char *kid;       /* its key id (cf__malloc'd), NULL for none */
} cf__auth_key;

struct cf_auth {
  cf__hmac_key *hmac;                  /* HS256 secret's hash states, NULL: HS256 off */
  cf__auth_key keys[CF_AUTH_MAX_KEYS]; /* ES256 keys; ES256 is off when n_keys is 0 */
  int n_keys;                          /* used entries of keys */
  char *audience;                      /* required "aud" value, NULL: not checked */
  int64_t leeway_s;                    /* tolerated clock difference, seconds */
  char errmsg[256];                    /* detail of the last configuration failure */
};

/* Formats auth's message and returns rc. */
int cf__auth_err(cf_auth *auth, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Drops the keys added after the first n (a JWKS load is all or nothing). */
void cf__auth_keys_truncate(cf_auth *auth, int n);

/* 1 if s[0..len) is a UUID in canonical lowercase 8-4-4-4-12 form. */
int cf__auth_is_canonical_uuid(const char *s, size_t len);

/* ---- reading named members (fields.c) -------------------------------------- */

typedef enum cf__field_kind {
  CF_F_STRING, /* a string (or null) */
  CF_F_INT,    /* a non-negative integer up to CF_AUTH_MAX_TIME (or null) */
  CF_F_AUD,    /* a string or an array of strings (or null) */
  CF_F_ANY     /* any value: only its presence matters */
} cf__field_kind;

typedef struct cf__field_spec {
  const char *name;    /* member name */
  cf__field_kind kind; /* expected type */
  size_t max_len;      /* longest string accepted (F_STRING, F_AUD items) */
} cf__field_spec;

typedef struct cf__field_val {
  int present;                        /* the member appeared (even as null) */
  int is_null;                        /* its value was null */
  const char *str;                    /* F_STRING value, NUL-terminated in the arena */
  size_t len;                         /* bytes of str */
  int64_t num;                        /* F_INT value */
  int n_items;                        /* F_AUD: number of strings in items */
  const char *items[CF_AUTH_MAX_AUD]; /* F_AUD: the strings, in the arena */
} cf__field_val;

/* Storage for decoded strings.  Sized by the caller so that every string of
** a document fits: decoding never makes a string longer than its quoted
** text, so twice the document plus one is always enough. */
typedef struct cf__auth_arena {
  char *p;    /* the bytes */
  size_t len; /* used */
  size_t cap; /* available */
} cf__auth_arena;

/*
** Reads json[0..n) as one JSON object within the bounds tokens and key sets
** share (docs/auth.md: nesting 8, arrays 5, names 64 bytes, paths 100,
** numbers 32 bytes).  OUT: *root.  CF_TOKEN_OK or CF_TOKEN_MALFORMED.
*/
cf_token_error cf__auth_json_object(const char *json, size_t n, cf_json_val *root);

/*
** Picks the members specs[0..count) of obj into vals (zeroed first), their
** strings decoded into arena.  CF_TOKEN_OK; CF_TOKEN_MALFORMED for a wanted
** member given twice; CF_TOKEN_BAD_CLAIM for a wrong type, an over-long
** string, an escaped NUL, or more than CF_AUTH_MAX_AUD audiences.
*/
cf_token_error cf__auth_read_fields(const cf_json_val *obj, const cf__field_spec *specs,
                                    int count, cf__field_val *vals,
                                    cf__auth_arena *arena);

/* ---- claims (claims.c) ------------------------------------------------------ */

/*
** Reads and checks a payload whose signature was verified: json[0..n) at
** time now_s (seconds), strings decoded into arena.  OUT: *out, the claims
** (NULL on failure), *why.  CF_OK, CF_AUTH (*why says why), CF_NOMEM.
*/
int cf__auth_payload_claims(const cf_auth *auth, const char *json, size_t n,
                            cf__auth_arena *arena, int64_t now_s, cf_claims **out,
                            cf_token_error *why) CF_WARN_UNUSED;

#endif /* CF_SYNC_AUTH_INT_H */
