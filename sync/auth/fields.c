/*
** sync/auth/fields.c: reading the named members of a token header, a token
** payload or a JWK, with their expected types, on core/json.c.
**
** The document is checked whole first (cf__json_read, with the bounds
** below), then the wanted members are picked from the top-level object;
** other members are checked JSON but otherwise ignored.  Why these bounds
** (they are those of the LEJP-based reader this replaced, so the set of
** accepted tokens did not change): nesting 8 with at most 5 arrays, member
** names of at most 64 bytes and member paths ("a.b[].c") of at most 100, so
** no claim can hide under an absurd name, and numbers of at most 32 bytes.
*/
#include "sync/auth/auth_int.h"

#include <string.h>

static const cf_json_limits token_json_limits = {
    8,   /* max_depth, the root object included */
    5,   /* max_arrays */
    64,  /* max_name */
    100, /* max_path */
    32,  /* max_number */
};

cf_token_error cf__auth_json_object(const char *json, size_t n, cf_json_val *root) {
  if (n == 0 || cf__json_read(json, n, &token_json_limits, root) != CF_OK ||
      root->type != CF_JSON_T_OBJECT)
    return CF_TOKEN_MALFORMED;
  return CF_TOKEN_OK;
}

/* Decodes the string v into the arena, at most max_len bytes and no NUL.
** OUT: *str, *len.  CF_TOKEN_OK or CF_TOKEN_BAD_CLAIM. */
static cf_token_error read_string(const cf_json_val *v, size_t max_len,
                                  cf__auth_arena *arena, const char **str, size_t *len) {
  if (v->type != CF_JSON_T_STRING) return CF_TOKEN_BAD_CLAIM;
  size_t room = arena->cap - arena->len;
  if (room > max_len + 1) room = max_len + 1;
  char *dst = arena->p + arena->len;
  if (NEVER(room == 0) || cf__json_string_get(v, dst, room, len) != CF_OK)
    return CF_TOKEN_BAD_CLAIM; /* longer than max_len */
  /* An escaped \u0000 would cut the string short in C: refuse it. */
  if (memchr(dst, '\0', *len) != NULL) return CF_TOKEN_BAD_CLAIM;
  arena->len += *len + 1;
  *str = dst;
  return CF_TOKEN_OK;
}

/* Reads one member's value v per spec into out. */
static cf_token_error read_field(const cf_json_val *v, const cf__field_spec *spec,
                                 cf__auth_arena *arena, cf__field_val *out) {
  out->present = 1;
  if (spec->kind == CF_F_ANY) return CF_TOKEN_OK;
  if (v->type == CF_JSON_T_NULL) {
    out->is_null = 1;
    return CF_TOKEN_OK;
  }
  switch (spec->kind) {
    case CF_F_STRING:
      return read_string(v, spec->max_len, arena, &out->str, &out->len);
    case CF_F_INT: {
      uint64_t num = 0;
      if (cf__json_uint(v, (uint64_t)CF_AUTH_MAX_TIME, &num) != CF_OK)
        return CF_TOKEN_BAD_CLAIM;
      out->num = (int64_t)num;
      return CF_TOKEN_OK;
    }
    case CF_F_AUD: {
      size_t len = 0, pos = 0;
      cf_json_val item;
      cf_token_error err;
      if (v->type == CF_JSON_T_STRING) {
        out->n_items = 1;
        return read_string(v, spec->max_len, arena, &out->items[0], &len);
      }
      if (v->type != CF_JSON_T_ARRAY) return CF_TOKEN_BAD_CLAIM;
      while (cf__json_array_next(v, &pos, &item) == CF_OK) {
        if (out->n_items == CF_AUTH_MAX_AUD) return CF_TOKEN_BAD_CLAIM;
        err = read_string(&item, spec->max_len, arena, &out->items[out->n_items], &len);
        if (err != CF_TOKEN_OK) return err;
        out->n_items++;
      }
      return CF_TOKEN_OK;
    }
    default:
      return CF_TOKEN_OK;
  }
}

cf_token_error cf__auth_read_fields(const cf_json_val *obj, const cf__field_spec *specs,
                                    int count, cf__field_val *vals,
                                    cf__auth_arena *arena) {
  const char *names[CF_AUTH_MAX_FIELDS] = {0};
  cf_json_val found[CF_AUTH_MAX_FIELDS];
  if (NEVER(count > CF_AUTH_MAX_FIELDS)) return CF_TOKEN_MALFORMED;
  memset(vals, 0, (size_t)count * sizeof *vals);
  for (int i = 0; i < count; i++)
    names[i] = specs[i].name;
  if (cf__json_object_pick(obj, names, count, found) != CF_OK)
    return CF_TOKEN_MALFORMED; /* a wanted member twice */
  for (int i = 0; i < count; i++) {
    if (found[i].p == NULL) continue;
    cf_token_error err = read_field(&found[i], &specs[i], arena, &vals[i]);
    if (err != CF_TOKEN_OK) return err;
  }
  return CF_TOKEN_OK;
}
