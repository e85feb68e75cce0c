/*
** store/stmt.c: the public SQL interface of a replica: cf_node_exec and the
** thin prepared-statement API (include/clientflow.h, "Replica (node)").
**
** A cf_stmt wraps one sqlite3_stmt and remembers its node, so that errors
** land in cf_node_errmsg().  Writes reach the data tables only through the
** views' triggers (store/ddl.c); nothing here adds logic of its own.
*/
#include <string.h>

#include "platform/platform.h"
#include "store/store_int.h"

/* A prepared statement of the public API. */
struct cf_stmt {
  struct cf_node *node; /* the node it was prepared on (not owned) */
  sqlite3_stmt *st;     /* the compiled statement; owned */
};

int cf_node_exec(cf_node *node, const char *sql) {
  if (node == NULL || sql == NULL) return CF_MISUSE;
  node->errmsg[0] = '\0';
  cf__node_settle(node);
  int src = sqlite3_exec(node->db, sql, NULL, NULL, NULL);
  return src == SQLITE_OK ? CF_OK : cf__node_sqlerr(node, src, NULL);
}

int cf_node_prepare(cf_node *node, const char *sql, cf_stmt **out) {
  if (out == NULL) return CF_MISUSE;
  *out = NULL;
  if (node == NULL || sql == NULL) return CF_MISUSE;
  node->errmsg[0] = '\0';
  cf__node_settle(node);
  struct cf_stmt *s = cf__calloc(1, sizeof *s);
  if (s == NULL) return cf__node_fail(node, CF_NOMEM, "out of memory");
  s->node = node;
  int src = sqlite3_prepare_v2(node->db, sql, -1, &s->st, NULL);
  if (src != SQLITE_OK || s->st == NULL) {
    int rc = src != SQLITE_OK ? cf__node_sqlerr(node, src, NULL)
                              : cf__node_fail(node, CF_INVALID, "no SQL statement given");
    sqlite3_finalize(s->st);
    cf__free(s);
    return rc;
  }
  *out = s;
  return CF_OK;
}

static int bind_result(struct cf_stmt *s, int src) {
  switch (src) {
    case SQLITE_OK:
      return CF_OK;
    case SQLITE_RANGE:
      return cf__node_fail(s->node, CF_INVALID, "no such parameter");
    case SQLITE_MISUSE:
      return cf__node_fail(s->node, CF_MISUSE, "statement running: reset it first");
    default:
      return cf__node_sqlerr(s->node, src, "bind");
  }
}

int cf_stmt_bind_null(cf_stmt *s, int idx) {
  return bind_result(s, sqlite3_bind_null(s->st, idx));
}

int cf_stmt_bind_int64(cf_stmt *s, int idx, int64_t v) {
  return bind_result(s, sqlite3_bind_int64(s->st, idx, v));
}

int cf_stmt_bind_double(cf_stmt *s, int idx, double v) {
  return bind_result(s, sqlite3_bind_double(s->st, idx, v));
}

int cf_stmt_bind_text(cf_stmt *s, int idx, const char *text) {
  if (text == NULL) return cf_stmt_bind_null(s, idx);
  return bind_result(s, sqlite3_bind_text(s->st, idx, text, -1, SQLITE_TRANSIENT));
}

int cf_stmt_bind_blob(cf_stmt *s, int idx, const void *p, size_t n) {
  if (n > ((size_t)1 << 30)) return cf__node_fail(s->node, CF_TOOBIG, "blob too big");
  return bind_result(s, sqlite3_bind_blob64(s->st, idx, p, n, SQLITE_TRANSIENT));
}

int cf_stmt_step(cf_stmt *s) {
  if (s == NULL) return CF_MISUSE;
  int src = sqlite3_step(s->st);
  if (src == SQLITE_ROW) return CF_OK;
  if (src == SQLITE_DONE) return CF_DONE;
  int rc = cf__node_sqlerr(s->node, src, NULL);
  sqlite3_reset(s->st);
  return rc;
}

int cf_stmt_reset(cf_stmt *s) {
  if (s == NULL) return CF_MISUSE;
  sqlite3_reset(s->st);
  return CF_OK;
}

void cf_stmt_finalize(cf_stmt *s) {
  if (s == NULL) return;
  sqlite3_finalize(s->st);
  cf__free(s);
}

int cf_stmt_column_count(cf_stmt *s) { return sqlite3_column_count(s->st); }
const char *cf_stmt_column_name(cf_stmt *s, int col) {
  return sqlite3_column_name(s->st, col);
}

int cf_stmt_column_type(cf_stmt *s, int col) {
  switch (sqlite3_column_type(s->st, col)) {
    case SQLITE_INTEGER:
      return CF_COL_INTEGER;
    case SQLITE_FLOAT:
      return CF_COL_REAL;
    case SQLITE_TEXT:
      return CF_COL_TEXT;
    case SQLITE_BLOB:
      return CF_COL_BLOB;
    default:
      return CF_COL_NULL;
  }
}

int64_t cf_stmt_column_int64(cf_stmt *s, int col) {
  return sqlite3_column_int64(s->st, col);
}
double cf_stmt_column_double(cf_stmt *s, int col) {
  return sqlite3_column_double(s->st, col);
}
const char *cf_stmt_column_text(cf_stmt *s, int col) {
  return (const char *)sqlite3_column_text(s->st, col);
}

const void *cf_stmt_column_blob(cf_stmt *s, int col, size_t *len) {
  const void *p = sqlite3_column_blob(s->st, col);
  if (len != NULL) *len = (size_t)sqlite3_column_bytes(s->st, col);
  return p;
}
