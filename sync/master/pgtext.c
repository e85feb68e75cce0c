/*
** sync/master/pgtext.c: canonical values <-> Postgres text, and result rows -> cf_row
** (sync/master/master_sync_int.h; docs/master-sync.md).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "platform/platform.h"
#include "sync/master/master_sync_int.h"

/* The cast that turns a text array element into the column's type. */
const char *cf__pg_cast(cf_coltype type) {
  switch (type) {
    case CF_TYPE_UUID:
      return "::uuid";
    case CF_TYPE_TEXT:
      return "";
    case CF_TYPE_INTEGER:
      return "::integer";
    case CF_TYPE_BIGINT:
      return "::bigint";
    case CF_TYPE_NUMERIC:
      return "::numeric";
    case CF_TYPE_BOOLEAN:
      return "::boolean";
    case CF_TYPE_DATE:
      return "::date";
    case CF_TYPE_TIMESTAMPTZ:
      return "::timestamptz";
    case CF_TYPE_JSONB:
      return "::jsonb";
    case CF_TYPE_TEXT_ARRAY:
      return "::text[]";
  }
  return "";
}

int cf__pg_append_hex(cf_buf *b, const unsigned char *p, size_t n) {
  int rc = cf__buf_reserve(b, n * 2);
  if (rc != CF_OK) return rc;
  cf__hex(p, n, b->p + b->len);
  b->len += n * 2;
  return CF_OK;
}

/* The canonical value of the n bytes of Postgres output text at s (NULL:
** SQL NULL), as cf__pg_value_from_text. */
static int value_from_bytes(const cf_column *col, const char *s, size_t n, cf_buf *tmp,
                            cf__arena *a, cf_value *out) {
  if (s == NULL) {
    *out = cf__value_null();
    return CF_OK;
  }
  cf_value in = cf__value_text(s, n), v;
  int rc = cf__value_canon(col, &in, tmp, &v);
  if (rc == CF_NOMEM) return rc;
  if (rc != CF_OK) return CF_CORRUPT;
  if (v.kind == CF_VALUE_TEXT) {
    const char *p = cf__arena_copy(a, v.p, v.n);
    if (p == NULL) return CF_NOMEM;
    v.p = p;
  }
  *out = v;
  return CF_OK;
}

/*
** Canonical value of Postgres output text s (NULL: SQL NULL) for col, with
** its bytes copied into a.  CF_OK, CF_CORRUPT if it does not parse, CF_NOMEM.
*/
int cf__pg_value_from_text(const cf_column *col, const char *s, cf_buf *tmp, cf__arena *a,
                           cf_value *out) {
  return value_from_bytes(col, s, s ? strlen(s) : 0, tmp, a, out);
}

/*
** Appends v (canonical for col) as one element of a Postgres array literal
** to out: NULL, or a double-quoted string with '"' and '\' escaped.
** CF_OK, CF_INVALID for a value the column cannot hold, CF_TOOBIG, CF_NOMEM.
*/
int cf__pg_append_element(cf_buf *out, const cf_column *col, const cf_value *v,
                          cf_buf *tmp) {
  char num[32];
  const char *p = NULL;
  size_t n = 0;
  int rc;
  switch (v->kind) {
    case CF_VALUE_NULL:
      return cf__buf_puts(out, "NULL");
    case CF_VALUE_INT:
      if (col->type == CF_TYPE_BOOLEAN) {
        if (v->i != 0 && v->i != 1) return CF_INVALID;
        p = v->i ? "t" : "f";
        n = 1;
      } else if (col->type == CF_TYPE_INTEGER || col->type == CF_TYPE_BIGINT) {
        n = (size_t)snprintf(num, sizeof num, "%lld", (long long)v->i);
        p = num;
      } else {
        return CF_INVALID;
      }
      break;
    case CF_VALUE_TEXT:
      if (col->type == CF_TYPE_TEXT_ARRAY) {
        if ((rc = cf__text_array_to_pg(v->p, v->n, tmp)) != CF_OK) return rc;
        p = tmp->p;
        n = tmp->len;
      } else {
        p = v->p;
        n = v->n;
      }
      break;
    default:
      return CF_INVALID;
  }
  if ((rc = cf__buf_reserve(out, 2 * n + 2)) != CF_OK) return rc;
  out->p[out->len++] = '"';
  for (size_t i = 0; i < n; i++) {
    if (p[i] == '"' || p[i] == '\\') out->p[out->len++] = '\\';
    out->p[out->len++] = p[i];
  }
  out->p[out->len++] = '"';
  out->p[out->len] = '\0';
  return CF_OK;
}

/*
** Fills row (of table t) from result row r of res, whose columns from col0
** on are the table's columns as text and then the versions, in hex or (a
** binary result, cf__pg_query_many_binary) as their raw bytes.  Key
** cells get zero versions; deleted = 0 with the stored version.
**
** Total over what the master may hold: a cell without a usable version (a
** cf_versions of the wrong length, or a zero version, which only a writer
** bypassing the triggers can leave) gets CF_VER_FLOOR, the oldest version
** there is, so every replica receives the same cell and any real write wins
** over it.  A value that has no canonical form (stored before 005's checks)
** gives CF_CORRUPT: the caller leaves that row out and says so.
*/
int cf__pg_row_from_result(const cf_table *t, const cf__pg_res *res, int r, int col0,
                           cf_buf *tmp, cf__arena *a, cf_row *row) {
  int vcol = col0 + (int)t->ncols;
  size_t vlen;
  const char *vp = cf__pg_bytes(res, r, vcol, &vlen);
  unsigned char vers[(CF_SCHEMA_MAX_COLS + 1) * CF_VER_LEN];
  size_t nv = (size_t)(t->ncols + 1) * CF_VER_LEN;
  int rc;
  if (cf__pg_is_binary(res, vcol)) {
    if (vp == NULL || vlen != nv)
      memset(vers, 0, nv);
    else
      memcpy(vers, vp, nv);
  } else if (vp == NULL || vlen != 2 * nv || strlen(vp) != 2 * nv ||
             cf__hex_decode(vp, 2 * nv, vers) != CF_OK) {
    memset(vers, 0, nv);
  }
  cf__row_init(row, t);
  for (unsigned i = 0; i <= t->ncols; i++) {
    cf_value v;
    cf_ver ver;
    memcpy(ver.b, vers + (size_t)i * CF_VER_LEN, CF_VER_LEN);
    if ((t->key_mask & CF_COL_BIT(i)) != 0)
      memset(ver.b, 0, sizeof ver.b);
    else if (cf__ver_is_zero(&ver))
      ver = cf__ver_floor();
    if (i == t->ncols) {
      cf__row_set_deleted(row, 0, &ver);
      break;
    }
    /* The length the server sent (a text column of a binary result has no
    ** terminator of its own): a value with a 0 byte in it is no text. */
    size_t n;
    const char *s = cf__pg_bytes(res, r, col0 + (int)i, &n);
    if (s != NULL && memchr(s, '\0', n) != NULL) return CF_CORRUPT;
    if ((rc = value_from_bytes(&t->cols[i], s, n, tmp, a, &v)) != CF_OK) return rc;
    if ((rc = cf__row_set(row, i, &v, &ver)) != CF_OK) return CF_CORRUPT;
  }
  return CF_OK;
}
