/*
** sync/auth.c: JSON Web Token verification and minting (HS256, ES256).
**
** The public contract is the "Tokens" section of include/clientflow.h; the
** token formats, configuration names and the table of refusals are in
** docs/auth.md.  Cryptography is core/crypto.c; JSON is libwebsockets' LEJP.
**
** A compact JWS token is three base64url segments:
**
**   | segment   | decoded                               | checked here          |
**   |-----------|---------------------------------------|-----------------------|
**   | header    | {"alg":"HS256"|"ES256","typ":"JWT",   | alg allow-list, kid,  |
**   |           |  "kid":"..."}                         | no "crit"             |
**   | payload   | {"sub":uuid,"exp":n,"nbf":n,"iat":n,  | after the signature:  |
**   |           |  "aud":s|[s..],"role":s,"email":s,..} | exp, nbf, aud, sub    |
**   | signature | HS256: 32-byte HMAC; ES256: r||s (64) | constant time         |
**
** Order of checks: size, shape (three non-empty segments of base64url),
** header, algorithm against the configured keys, signature over the ASCII
** "header.payload", and only then the payload's JSON and claims, so that
** unauthenticated bytes meet as little code as possible.
**
** Why a pre-scan before LEJP: LEJP (libwebsockets 4.1) writes member names
** into a 128-byte path buffer with an 8-bit index and no bound, so a
** 259-byte name ending in "sub" is reported as "sub"; it also accepts
** '#' comments, a top-level array and trailing bytes.  json_prescan()
** refuses all of these, caps nesting below LEJP's own limit and caps the
** length of names and of the whole path, before LEJP sees the text.
*/
#include "sync/auth.h"

#include <libwebsockets.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "platform/platform.h"

#define MAX_KEYS 32            /* ES256 keys per cf_auth */
#define MAX_KID 128            /* bytes of a key id */
#define MAX_SECRET 4096        /* bytes of an HS256 secret */
#define MAX_LEEWAY 300         /* seconds */
#define DEFAULT_LEEWAY 30      /* seconds */
#define MAX_DEPTH 8            /* JSON nesting accepted (LEJP's own cap is 12) */
#define MAX_NAME 64            /* raw bytes of one JSON member name */
#define MAX_PATH 100           /* LEJP path bytes (its buffer holds 128) */
#define MAX_AUD 16             /* entries of an "aud" array */
#define MAX_FIELDS 8           /* fields one reader collects */
#define MAX_JWKS (256 * 1024)  /* bytes of a JWKS document */
#define MAX_MINTED (64 * 1024) /* bytes of a token built here */
#define MAX_TTL 31536000       /* one year, for minted tokens */
/* 9999-12-31T23:59:59Z: NumericDates beyond it are refused as out of range. */
#define MAX_TIME INT64_C(253402300799)

/* A defensive branch that the code above makes unreachable. */
#define NEVER(x) (x)

/* ---- the handle ----------------------------------------------------------- */

typedef struct auth_key {
  cf__ec_key *key; /* an ES256 verification key, owned */
  char *kid;       /* its key id (cf__malloc'd), NULL for none */
} auth_key;

struct cf_auth {
  cf__hmac_key *hmac;      /* HS256 secret's hash states, NULL: HS256 off */
  auth_key keys[MAX_KEYS]; /* ES256 keys; ES256 is off when n_keys is 0 */
  int n_keys;              /* used entries of keys */
  char *audience;          /* required "aud" value, NULL: not checked */
  int64_t leeway_s;        /* tolerated clock difference, seconds */
  char errmsg[256];        /* detail of the last configuration failure */
};

struct cf_claims {
  char sub[37];    /* canonical UUID, NUL-terminated */
  char *role;      /* "role", NULL if absent (points into this block) */
  char *email;     /* "email", NULL if absent (points into this block) */
  int64_t exp;     /* expiry, seconds since the epoch */
  int64_t iat;     /* issue time, 0 if absent */
  char *json;      /* the payload JSON (points into this block) */
  size_t json_len; /* bytes of json, without the NUL */
};

static int set_err(cf_auth *auth, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int set_err(cf_auth *auth, int rc, const char *fmt, ...) {
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

const char *cf_auth_errmsg(const cf_auth *auth) { return auth ? auth->errmsg : ""; }

int cf_auth_set_hs256_secret(cf_auth *auth, const void *secret, size_t len) {
  if (auth == NULL || secret == NULL) return CF_MISUSE;
  auth->errmsg[0] = '\0';
  if (len < CF_TOKEN_MIN_SECRET || len > MAX_SECRET)
    return set_err(auth, CF_CONFIG, "JWT secret must be %d to %d bytes, not %zu",
                   CF_TOKEN_MIN_SECRET, MAX_SECRET, len);
  cf__hmac_key *hmac = NULL;
  if (cf__hmac_key_new(secret, len, &hmac) != CF_OK) return CF_NOMEM;
  cf__hmac_key_free(auth->hmac);
  auth->hmac = hmac; /* the padded hash states; the secret itself is not kept */
  return CF_OK;
}

int cf__auth_add_es256_key(cf_auth *auth, cf__ec_key *key, const char *kid) {
  char *kid_copy = NULL;
  if (auth->n_keys == MAX_KEYS) {
    cf__ec_key_free(key);
    return set_err(auth, CF_TOOBIG, "too many ES256 keys (at most %d)", MAX_KEYS);
  }
  if (kid != NULL) {
    if (strlen(kid) > MAX_KID) {
      cf__ec_key_free(key);
      return set_err(auth, CF_TOOBIG, "key id longer than %d bytes", MAX_KID);
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
    return set_err(auth, CF_CONFIG, "not a PEM P-256 (ES256) key%s",
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
  if (seconds < 0 || seconds > MAX_LEEWAY)
    return set_err(auth, CF_CONFIG, "leeway must be 0 to %d seconds, not %d", MAX_LEEWAY,
                   seconds);
  auth->leeway_s = seconds;
  return CF_OK;
}

/* ---- JSON: the pre-scan ----------------------------------------------------- */

/*
** Refuses what LEJP would mishandle or accept beyond strict JSON (see the
** file comment): anything but one top-level object followed by whitespace,
** nesting deeper than MAX_DEPTH, a member name longer than MAX_NAME raw
** bytes, a path longer than MAX_PATH, '#', NUL or other bytes outside
** strings that JSON does not allow there.  Returns 1 if the text may go to
** LEJP, else 0.  Grammar details (commas, colons, literals, numbers,
** escapes) are left to LEJP.
*/
static int json_prescan(const unsigned char *s, size_t n) {
  char kind[MAX_DEPTH + 1];   /* 'o' object or 'a' array, per open level */
  size_t base[MAX_DEPTH + 1]; /* LEJP path length when the level opened */
  size_t path = 0;            /* LEJP path length at this point */
  int depth = 0, done = 0, expect_name = 0;
  size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      i++;
      continue;
    }
    if (done) return 0; /* bytes after the top-level object */
    if (depth == 0 && c != '{') return 0;
    if (c == '"') {
      size_t start = ++i;
      while (i < n && s[i] != '"') {
        if (s[i] == '\\') i++; /* the escaped byte cannot end the string */
        if (i < n && s[i] < 0x20) return 0;
        i++;
      }
      if (i >= n) return 0;
      size_t len = i - start;
      i++;
      if (expect_name) {
        if (len > MAX_NAME) return 0;
        /* LEJP: the level's base, a '.' if nested, then the name. */
        path = base[depth] + (base[depth] ? 1 : 0) + len;
        if (path > MAX_PATH) return 0;
        expect_name = 0;
      }
      continue;
    }
    if (c == '{' || c == '[') {
      if (depth == MAX_DEPTH) return 0;
      depth++;
      kind[depth] = c == '{' ? 'o' : 'a';
      if (c == '[') path += 2; /* LEJP appends "[]" */
      if (path > MAX_PATH) return 0;
      base[depth] = path;
      expect_name = c == '{';
    } else if (c == '}' || c == ']') {
      if (depth == 0 || kind[depth] != (c == '}' ? 'o' : 'a')) return 0;
      depth--;
      if (depth == 0) done = 1;
      path = depth > 0 ? base[depth] : 0;
      expect_name = 0;
    } else if (c == ',') {
      if (depth == 0) return 0;
      path = base[depth];
      expect_name = kind[depth] == 'o';
    } else if (c == ':' || c == '-' || c == '.' || c == '+' || (c >= '0' && c <= '9') ||
               (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      /* separators, numbers, true/false/null: LEJP checks their grammar */
    } else {
      return 0; /* '#', NUL, control bytes, non-ASCII outside strings */
    }
    i++;
  }
  return done;
}

/* ---- JSON: reading the members of a flat object with LEJP ------------------- */

typedef enum field_kind {
  F_STRING, /* a string (or null) */
  F_INT,    /* a non-negative integer up to MAX_TIME (or null) */
  F_AUD,    /* a string or an array of strings (or null) */
  F_ANY     /* any value: only its presence matters */
} field_kind;

typedef struct field_spec {
  const char *name; /* member name */
  field_kind kind;  /* expected type */
  size_t max_len;   /* longest string accepted (F_STRING, F_AUD items) */
} field_spec;

typedef struct field_val {
  int present;                /* the member appeared (even as null) */
  int is_null;                /* its value was null */
  const char *str;            /* F_STRING value, in the reader's arena */
  size_t len;                 /* bytes of str */
  int64_t num;                /* F_INT value */
  int n_items;                /* F_AUD: number of strings in items */
  const char *items[MAX_AUD]; /* F_AUD: the strings, in the arena */
} field_val;

/*
** State of one LEJP parse.  The members of an object at depth `base` are
** matched against specs (base 1: the root object; base 3: the objects of a
** JWKS "keys" array).  Strings are copied into arena, which is sized so the
** decoded text always fits (decoding never makes a string longer).
*/
typedef struct reader {
  const field_spec *specs;     /* wanted members */
  int n_specs;                 /* entries of specs */
  field_val vals[MAX_FIELDS];  /* their values, parallel to specs */
  int base;                    /* depth of the object whose members are read */
  int active;                  /* currently inside such an object */
  int depth;                   /* open containers */
  char kind[MAX_DEPTH + 2];    /* 'o' or 'a' per open depth (1-based) */
  int cur;                     /* spec index of the current member, -1: ignored */
  int in_array;                /* inside the array value of an F_AUD member */
  int root_is_keys;            /* JWKS: the current root member is "keys" */
  int str_wanted;              /* the string being read is kept */
  size_t str_start;            /* arena offset where it starts */
  char *arena;                 /* string storage */
  size_t arena_len, arena_cap; /* bytes used, bytes available */
  cf_token_error err;          /* first problem found, CF_TOKEN_OK if none */
  /* Called when an object at depth base closes (JWKS); nonzero aborts. */
  int (*on_object_end)(struct reader *r);
  void *user; /* for on_object_end */
} reader;

static void reader_reset_vals(reader *r) {
  memset(r->vals, 0, sizeof r->vals);
  r->cur = -1;
  r->in_array = 0;
}

/* Records the first problem and tells LEJP to stop. */
static signed char reader_fail(reader *r, cf_token_error err) {
  if (r->err == CF_TOKEN_OK) r->err = err;
  return -1;
}

static int arena_append(reader *r, const char *p, size_t n) {
  if (NEVER(n > r->arena_cap - r->arena_len)) return 0;
  memcpy(r->arena + r->arena_len, p, n);
  r->arena_len += n;
  return 1;
}

/* Parses LEJP's integer text (at most 20 digits) into [0, MAX_TIME]. */
static int parse_time(const char *s, int64_t *out) {
  int64_t v = 0;
  if (*s == '\0' || *s == '-') return 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return 0;
    if (v > MAX_TIME / 10) return 0;
    v = v * 10 + (*s - '0');
    if (v > MAX_TIME) return 0;
  }
  *out = v;
  return 1;
}

/* Finishes a kept string: NUL-terminates it and files it under r->cur. */
static signed char reader_string_end(reader *r) {
  static const char nul = '\0';
  r->str_wanted = 0;
  size_t len = r->arena_len - r->str_start;
  const char *str = r->arena + r->str_start;
  if (!arena_append(r, &nul, 1)) return reader_fail(r, CF_TOKEN_MALFORMED);
  const field_spec *spec = &r->specs[r->cur];
  field_val *v = &r->vals[r->cur];
  /* An escaped \u0000 would cut the string short in C: refuse it. */
  if (len > spec->max_len || memchr(str, '\0', len) != NULL)
    return reader_fail(r, CF_TOKEN_BAD_CLAIM);
  if (r->in_array) {
    if (v->n_items == MAX_AUD) return reader_fail(r, CF_TOKEN_BAD_CLAIM);
    v->items[v->n_items++] = str;
  } else if (spec->kind == F_AUD) {
    v->items[0] = str;
    v->n_items = 1;
  } else {
    v->str = str;
    v->len = len;
  }
  return 0;
}

static signed char reader_cb(struct lejp_ctx *ctx, char reason) {
  reader *r = ctx->user;
  if (r == NULL) return 0; /* LEJPCB_CONSTRUCTED arrives before user is set */
  switch (reason) {
    case LEJPCB_OBJECT_START:
    case LEJPCB_ARRAY_START: {
      if (r->depth == 0 && reason == LEJPCB_ARRAY_START)
        return reader_fail(r, CF_TOKEN_MALFORMED);
      /* A container as the value of a wanted member. */
      if (r->active && r->depth == r->base && r->cur >= 0) {
        const field_spec *spec = &r->specs[r->cur];
        if (spec->kind == F_AUD && reason == LEJPCB_ARRAY_START)
          r->in_array = 1;
        else if (spec->kind != F_ANY)
          return reader_fail(r, CF_TOKEN_BAD_CLAIM);
      } else if (r->in_array && r->depth == r->base + 1) {
        return reader_fail(r, CF_TOKEN_BAD_CLAIM); /* nested inside "aud" */
      }
      if (r->depth == MAX_DEPTH + 1) return reader_fail(r, CF_TOKEN_MALFORMED);
      r->depth++;
      r->kind[r->depth] = reason == LEJPCB_OBJECT_START ? 'o' : 'a';
      if (reason == LEJPCB_OBJECT_START && r->depth == r->base) {
        /* base 1 is the root; base 3 must be an element of the root "keys" array */
        if (r->base == 1 || (r->root_is_keys && r->kind[r->depth - 1] == 'a')) {
          r->active = 1;
          reader_reset_vals(r);
          r->arena_len = 0;
        }
      }
      return 0;
    }
    case LEJPCB_OBJECT_END:
    case LEJPCB_ARRAY_END:
      if (r->depth == r->base + 1) r->in_array = 0;
      if (r->depth == r->base && r->active) {
        r->active = 0;
        if (r->on_object_end != NULL && r->on_object_end(r) != 0) return -1;
      }
      if (r->depth > 0) r->depth--;
      return 0;
    case LEJPCB_PAIR_NAME:
      if (r->depth == 1) r->root_is_keys = strcmp(ctx->path, "keys") == 0;
      if (!r->active || r->depth != r->base) return 0;
      {
        /* At the base level of a flat object the path ends with the name. */
        const char *name = ctx->path;
        if (r->base == 3) { /* JWKS: the path is "keys[]." then the name */
          if (strncmp(name, "keys[].", 7) != 0) return reader_fail(r, CF_TOKEN_MALFORMED);
          name += 7;
        }
        r->cur = -1;
        for (int i = 0; i < r->n_specs; i++) {
          if (strcmp(name, r->specs[i].name) != 0) continue;
          if (r->vals[i].present)
            return reader_fail(r, CF_TOKEN_MALFORMED); /* duplicate */
          r->vals[i].present = 1;
          r->cur = i;
          break;
        }
      }
      return 0;
    default:
      break;
  }
  if (!(reason & LEJP_FLAG_CB_IS_VALUE) && reason != LEJPCB_VAL_STR_START) return 0;

  /* A value: is it one we keep? */
  int at_member = r->active && r->depth == r->base && r->cur >= 0;
  int in_aud = r->active && r->in_array && r->depth == r->base + 1 && r->cur >= 0;
  if (!at_member && !in_aud) return 0;
  const field_spec *spec = &r->specs[r->cur];
  field_val *v = &r->vals[r->cur];
  if (spec->kind == F_ANY) return 0;
  switch (reason) {
    case LEJPCB_VAL_STR_START:
      if (spec->kind == F_INT) return reader_fail(r, CF_TOKEN_BAD_CLAIM);
      r->str_wanted = 1;
      r->str_start = r->arena_len;
      return 0;
    case LEJPCB_VAL_STR_CHUNK:
      if (!r->str_wanted) return 0;
      if (r->arena_len - r->str_start + ctx->npos > spec->max_len)
        return reader_fail(r, CF_TOKEN_BAD_CLAIM);
      return arena_append(r, ctx->buf, ctx->npos) ? 0
                                                  : reader_fail(r, CF_TOKEN_MALFORMED);
    case LEJPCB_VAL_STR_END:
      if (!r->str_wanted) return 0;
      if (!arena_append(r, ctx->buf, ctx->npos))
        return reader_fail(r, CF_TOKEN_MALFORMED);
      return reader_string_end(r);
    case LEJPCB_VAL_NULL:
      if (in_aud) return reader_fail(r, CF_TOKEN_BAD_CLAIM);
      v->is_null = 1;
      return 0;
    case LEJPCB_VAL_NUM_INT:
      if (spec->kind != F_INT || !parse_time(ctx->buf, &v->num))
        return reader_fail(r, CF_TOKEN_BAD_CLAIM);
      return 0;
    default: /* floats, true, false */
      return reader_fail(r, CF_TOKEN_BAD_CLAIM);
  }
}

/*
** Parses json[0..n) with r's specs.  The arena must already hold n + the
** number of strings bytes (callers give 2n + 1).  Returns CF_TOKEN_OK or
** why not.
*/
static cf_token_error reader_run(reader *r, const unsigned char *json, size_t n) {
  struct lejp_ctx ctx;
  if (n == 0 || n > INT32_MAX || !json_prescan(json, n)) return CF_TOKEN_MALFORMED;
  r->depth = 0;
  r->active = 0;
  r->err = CF_TOKEN_OK;
  r->root_is_keys = 0;
  reader_reset_vals(r);
  lejp_construct(&ctx, reader_cb, NULL, NULL, 0);
  ctx.user = r;
  int ret = lejp_parse(&ctx, json, (int)n);
  ctx.user = NULL;
  lejp_destruct(&ctx);
  if (r->err != CF_TOKEN_OK) return r->err;
  /* ret >= 0: complete, ret bytes unused (whitespace, per the pre-scan). */
  return ret >= 0 ? CF_TOKEN_OK : CF_TOKEN_MALFORMED;
}

/* ---- JWKS ------------------------------------------------------------------- */

enum { JK_KTY, JK_CRV, JK_X, JK_Y, JK_KID, JK_ALG, JK_USE, JK_COUNT };
static const field_spec jwk_specs[JK_COUNT] = {
    [JK_KTY] = {"kty", F_STRING, 16},      [JK_CRV] = {"crv", F_STRING, 16},
    [JK_X] = {"x", F_STRING, 64},          [JK_Y] = {"y", F_STRING, 64},
    [JK_KID] = {"kid", F_STRING, MAX_KID}, [JK_ALG] = {"alg", F_STRING, 16},
    [JK_USE] = {"use", F_STRING, 16},
};

typedef struct jwks_state {
  cf_auth *auth; /* keys are added here */
  int index;     /* 1-based position of the current entry of "keys" */
  int added;     /* keys added so far */
  int rc;        /* CF_OK, or the error that stopped the parse */
} jwks_state;

/* 1 if field i is present, a string, and equal to s. */
static int jwk_is(const reader *r, int i, const char *s) {
  return r->vals[i].present && r->vals[i].str != NULL && strcmp(r->vals[i].str, s) == 0;
}

/* One JWK object of the "keys" array closed: add it if it is ES256-usable. */
static int jwks_object_end(reader *r) {
  jwks_state *st = r->user;
  unsigned char x[CF_P256_COORD_LEN], y[CF_P256_COORD_LEN];
  size_t xl = 0, yl = 0;
  st->index++;
  if (!jwk_is(r, JK_KTY, "EC") || !jwk_is(r, JK_CRV, "P-256")) return 0;
  if (r->vals[JK_ALG].present && !jwk_is(r, JK_ALG, "ES256")) return 0;
  if (r->vals[JK_USE].present && !jwk_is(r, JK_USE, "sig")) return 0;
  const field_val *fx = &r->vals[JK_X], *fy = &r->vals[JK_Y];
  if (fx->str == NULL || fy->str == NULL ||
      cf__base64url_decode(fx->str, fx->len, x, sizeof x, &xl) != CF_OK ||
      cf__base64url_decode(fy->str, fy->len, y, sizeof y, &yl) != CF_OK ||
      xl != sizeof x || yl != sizeof y) {
    st->rc = set_err(st->auth, CF_CONFIG, "JWKS key %d: bad \"x\" or \"y\"", st->index);
    return -1;
  }
  cf__ec_key *key = NULL;
  int rc = cf__ec_key_from_xy(x, y, &key);
  if (rc != CF_OK) {
    st->rc = rc == CF_NOMEM ? rc
                            : set_err(st->auth, CF_CONFIG,
                                      "JWKS key %d: not a P-256 point", st->index);
    return -1;
  }
  rc = cf__auth_add_es256_key(st->auth, key, r->vals[JK_KID].str);
  if (rc != CF_OK) {
    st->rc = rc == CF_TOOBIG ? CF_CONFIG : rc;
    return -1;
  }
  st->added++;
  return 0;
}

int cf_auth_add_jwks(cf_auth *auth, const char *json, size_t len) {
  if (auth == NULL || json == NULL) return CF_MISUSE;
  auth->errmsg[0] = '\0';
  if (len > MAX_JWKS)
    return set_err(auth, CF_CONFIG, "JWKS larger than %d bytes", MAX_JWKS);
  jwks_state st = {auth, 0, 0, CF_OK};
  reader r;
  memset(&r, 0, sizeof r);
  r.specs = jwk_specs;
  r.n_specs = JK_COUNT;
  r.base = 3; /* root object, "keys" array, key object */
  r.on_object_end = jwks_object_end;
  r.user = &st;
  r.arena_cap = 2 * len + 1;
  r.arena = cf__malloc(r.arena_cap);
  if (r.arena == NULL) return CF_NOMEM;
  int n_before = auth->n_keys;
  cf_token_error err = reader_run(&r, (const unsigned char *)json, len);
  cf__free(r.arena);
  int rc = st.rc;
  if (rc == CF_OK && err != CF_TOKEN_OK)
    rc = set_err(auth, CF_CONFIG, "JWKS is not valid JSON of the expected shape");
  if (rc == CF_OK && st.added == 0)
    rc = set_err(auth, CF_CONFIG, "JWKS has no EC P-256 signing key");
  if (rc != CF_OK) {
    /* All or nothing: drop the keys this document added. */
    while (auth->n_keys > n_before) {
      auth->n_keys--;
      cf__ec_key_free(auth->keys[auth->n_keys].key);
      cf__free(auth->keys[auth->n_keys].kid);
    }
  }
  return rc;
}

/* ---- files ------------------------------------------------------------------ */

/* Reads a whole file of at most max bytes (platform/file.c), with the
** reason in auth's message. */
static int read_file(cf_auth *auth, const char *path, size_t max, char **out,
                     size_t *len) {
  int rc = cf__file_read_all(path, max, out, len);
  if (rc == CF_IO) return set_err(auth, CF_IO, "cannot read %s", path);
  if (rc == CF_TOOBIG) return set_err(auth, CF_CONFIG, "%s is larger than %zu bytes", path, max);
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
    set_err(auth, rc, "%s: %s", path, why);
  }
  wipe(text, len);
  cf__free(text);
  return rc;
}

int cf_auth_add_jwks_file(cf_auth *auth, const char *path) {
  if (auth == NULL || path == NULL) return CF_MISUSE;
  char *text = NULL;
  size_t len = 0;
  int rc = read_file(auth, path, MAX_JWKS, &text, &len);
  if (rc != CF_OK) return rc;
  rc = cf_auth_add_jwks(auth, text, len);
  if (rc == CF_CONFIG) {
    char why[sizeof auth->errmsg];
    snprintf(why, sizeof why, "%s", auth->errmsg);
    set_err(auth, rc, "%s: %s", path, why);
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
    return set_err(
        auth, CF_CONFIG,
        "no token key: set JWT_SECRET, JWT_ES256_PUBLIC_KEY_FILE or JWT_JWKS_FILE");
  if (secret != NULL) {
    rc = cf_auth_set_hs256_secret(auth, secret, strlen(secret));
    if (rc == CF_CONFIG)
      return set_err(auth, rc, "JWT_SECRET must be at least %d bytes",
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
    if (end == leeway || *end != '\0' || v < 0 || v > MAX_LEEWAY)
      return set_err(auth, CF_CONFIG, "JWT_LEEWAY must be 0 to %d seconds", MAX_LEEWAY);
    auth->leeway_s = v;
  }
  return CF_OK;
}

/* ---- verification ------------------------------------------------------------ */

enum { H_ALG, H_TYP, H_KID, H_CRIT, H_COUNT };
static const field_spec header_specs[H_COUNT] = {
    [H_ALG] = {"alg", F_STRING, 16},
    [H_TYP] = {"typ", F_STRING, 32},
    [H_KID] = {"kid", F_STRING, MAX_KID},
    [H_CRIT] = {"crit", F_ANY, 0},
};

enum { P_SUB, P_EXP, P_NBF, P_IAT, P_AUD, P_ROLE, P_EMAIL, P_COUNT };
static const field_spec payload_specs[P_COUNT] = {
    [P_SUB] = {"sub", F_STRING, 256},     [P_EXP] = {"exp", F_INT, 0},
    [P_NBF] = {"nbf", F_INT, 0},          [P_IAT] = {"iat", F_INT, 0},
    [P_AUD] = {"aud", F_AUD, 256},        [P_ROLE] = {"role", F_STRING, 64},
    [P_EMAIL] = {"email", F_STRING, 320},
};

/* 1 if s[0..len) is a UUID in canonical lowercase 8-4-4-4-12 form. */
static int is_canonical_uuid(const char *s, size_t len) {
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
** Decodes one base64url segment and reads it as a flat JSON object.  buf
** must hold cf__base64url_decoded_max(n) bytes, arena 2 * that + 1.
*/
static cf_token_error read_segment(reader *r, const char *seg, size_t n,
                                   unsigned char *buf, size_t cap, size_t *json_len) {
  if (cf__base64url_decode(seg, n, buf, cap, json_len) != CF_OK)
    return CF_TOKEN_MALFORMED;
  r->arena_len = 0;
  return reader_run(r, buf, *json_len);
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
    const auth_key *k = &auth->keys[i];
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

/* Checks the payload's claims at time now_s.  CF_TOKEN_*. */
static cf_token_error check_claims(const cf_auth *auth, const field_val *p,
                                   int64_t now_s) {
  if (!p[P_EXP].present || p[P_EXP].is_null) return CF_TOKEN_MISSING_CLAIM;
  if (!p[P_SUB].present || p[P_SUB].is_null || NEVER(p[P_SUB].str == NULL))
    return CF_TOKEN_MISSING_CLAIM;
  if (!is_canonical_uuid(p[P_SUB].str, p[P_SUB].len)) return CF_TOKEN_BAD_SUBJECT;
  /* RFC 7519 4.1.4: valid only before exp.  Values are <= MAX_TIME: no overflow. */
  if (now_s >= p[P_EXP].num + auth->leeway_s) return CF_TOKEN_EXPIRED;
  if (p[P_NBF].present && !p[P_NBF].is_null && now_s + auth->leeway_s < p[P_NBF].num)
    return CF_TOKEN_NOT_YET_VALID;
  if (auth->audience != NULL) {
    const field_val *aud = &p[P_AUD];
    int found = 0;
    for (int i = 0; i < aud->n_items && !found; i++)
      found = strcmp(aud->items[i], auth->audience) == 0;
    if (!found) return CF_TOKEN_WRONG_AUDIENCE;
  }
  return CF_TOKEN_OK;
}

/* Builds the claims object from the payload fields and JSON text. */
static cf_claims *claims_new(const field_val *p, const unsigned char *json,
                             size_t json_len) {
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

int cf_auth_verify(const cf_auth *auth, const char *token, size_t len, cf_claims **out,
                   cf_token_error *reason) {
  cf_token_error why = CF_TOKEN_MALFORMED;
  int rc = CF_AUTH, nomem = 0;
  unsigned char *buf = NULL;
  reader r;
  memset(&r, 0, sizeof r);
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

  /* One block: decoded segment, then the arena (2x + 1, see reader_run). */
  size_t cap = cf__base64url_decoded_max(len);
  buf = cf__malloc(cap + 2 * cap + 1);
  if (buf == NULL) {
    rc = CF_NOMEM;
    goto out;
  }
  r.arena = (char *)buf + cap;
  r.arena_cap = 2 * cap + 1;
  r.base = 1;

  /* Header and algorithm. */
  size_t json_len = 0;
  r.specs = header_specs;
  r.n_specs = H_COUNT;
  why = read_segment(&r, token, h_len, buf, cap, &json_len);
  if (why != CF_TOKEN_OK) {
    why = CF_TOKEN_MALFORMED; /* wrong types in the header too: it carries no claims */
    goto out;
  }
  const field_val *h = r.vals;
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
  char kid[MAX_KID + 1];
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
  r.specs = payload_specs;
  r.n_specs = P_COUNT;
  why = read_segment(&r, d1 + 1, p_len, buf, cap, &json_len);
  if (why != CF_TOKEN_OK) goto out;
  int64_t now_ms = cf__now_ms();
  int64_t now_s = now_ms / 1000 - (now_ms % 1000 < 0); /* floor, no overflow */
  why = check_claims(auth, r.vals, now_s);
  if (why != CF_TOKEN_OK) goto out;
  *out = claims_new(r.vals, buf, json_len);
  if (*out == NULL) {
    rc = CF_NOMEM;
    goto out;
  }
  rc = CF_OK;
out:
  cf__free(buf);
  if (rc == CF_OK) why = CF_TOKEN_OK;
  if (reason != NULL) *reason = why;
  return rc;
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

/* ---- minting ------------------------------------------------------------------ */

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

/* A JSON string literal for s (quotes included), cf__malloc'd; NULL on OOM. */
static char *json_quote(const char *s) {
  size_t n = strlen(s);
  if (n > MAX_MINTED) return NULL;
  char *q = cf__malloc(6 * n + 3), *o = q;
  if (q == NULL) return NULL;
  *o++ = '"';
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      *o++ = '\\';
      *o++ = (char)c;
    } else if (c < 0x20) {
      o += snprintf(o, 7, "\\u%04x", c);
    } else {
      *o++ = (char)c;
    }
  }
  *o++ = '"';
  *o = '\0';
  return q;
}

/* The payload text of a minted token; CF_OK, CF_INVALID, CF_NOMEM. */
static int mint_payload(const char *sub, const char *role, const char *email,
                        const char *aud, int64_t ttl_seconds, char **out) {
  int rc = CF_NOMEM;
  char *qaud = NULL, *qemail = NULL, *qrole = NULL;
  *out = NULL;
  if (sub == NULL || !is_canonical_uuid(sub, strlen(sub))) return CF_INVALID;
  if (ttl_seconds < 1 || ttl_seconds > MAX_TTL) return CF_INVALID;
  int64_t now_ms = cf__now_ms();
  if (now_ms < 0 || now_ms / 1000 > MAX_TIME - MAX_TTL) return CF_INVALID;
  int64_t iat = now_ms / 1000, exp = iat + ttl_seconds;
  if ((aud && !(qaud = json_quote(aud))) || (email && !(qemail = json_quote(email))) ||
      (role && !(qrole = json_quote(role))))
    goto out;
  *out = cf__mprintf("{%s%s%s\"exp\":%lld,\"iat\":%lld,\"sub\":\"%s\"%s%s%s%s}",
                     qaud ? "\"aud\":" : "", qaud ? qaud : "", qaud ? "," : "",
                     (long long)exp, (long long)iat, sub, qemail ? ",\"email\":" : "",
                     qemail ? qemail : "", qrole ? ",\"role\":" : "", qrole ? qrole : "");
  rc = *out ? CF_OK : CF_NOMEM;
out:
  cf__free(qaud);
  cf__free(qemail);
  cf__free(qrole);
  return rc;
}

int cf_token_mint_hs256(const void *secret, size_t secret_len, const char *sub,
                        const char *role, const char *email, const char *aud,
                        int64_t ttl_seconds, char **out) {
  if (out == NULL) return CF_MISUSE;
  *out = NULL;
  if (secret == NULL) return CF_MISUSE;
  if (secret_len < CF_TOKEN_MIN_SECRET || secret_len > MAX_SECRET) return CF_CONFIG;
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
  char *payload = NULL, *header = NULL, *qkid = NULL;
  rc = cf__ec_key_from_pem(private_pem, pem_len, &key);
  if (rc != CF_OK) goto out;
  if (!cf__ec_key_has_private(key) || (kid != NULL && strlen(kid) > MAX_KID)) {
    rc = CF_INVALID;
    goto out;
  }
  rc = mint_payload(sub, role, email, aud, ttl_seconds, &payload);
  if (rc != CF_OK) goto out;
  rc = CF_NOMEM;
  if (kid != NULL && (qkid = json_quote(kid)) == NULL) goto out;
  header = cf__mprintf("{\"alg\":\"ES256\",%s%s%s\"typ\":\"JWT\"}",
                       qkid ? "\"kid\":" : "", qkid ? qkid : "", qkid ? "," : "");
  if (header == NULL) goto out;
  rc = cf__jwt_sign_es256(key, header, payload, out);
out:
  if (rc == CF_TOOBIG) rc = CF_INVALID;
  cf__ec_key_free(key);
  cf__free(payload);
  cf__free(header);
  cf__free(qkid);
  return rc;
}

void cf_token_free(char *token) { cf__free(token); }
