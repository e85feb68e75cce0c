/*
** store/stmt.c: the public SQL interface of a replica: cf_node_exec and the
** thin prepared-statement API (include/clientflow.h, "Replica (node)").
**
** A cf_stmt wraps one sqlite3_stmt and remembers its node, so that errors
** land in cf_node_errmsg().  Writes reach the data tables only through the
** views' triggers (store/ddl.c).  What this file adds is the change
** journal's part (store/notify.c): a COMMIT, END or RELEASE first adds the
** transaction's journal row, and a write made outside a transaction runs
** inside BEGIN IMMEDIATE .. journal row .. COMMIT, which is what SQLite's
** autocommit would have done with one more small insert.  It also counts
** the rows each statement wrote (cf_node_changes).
*/
#include <string.h>

#include "platform/platform.h"
#include "store/notify.h"
#include "store/store_int.h"

/* A prepared statement of the public API. */
struct cf_stmt {
  struct cf_node *node; /* the node it was prepared on (not owned) */
  sqlite3_stmt *st;     /* the compiled statement; owned */
  cf__stmt_kind kind;   /* what it does (writes, ends a transaction) */
  int wrapped;          /* 1 while the transaction begun for it is open */
};

/* Before a statement's first step: opens the transaction of a write made
** outside one (OUT: *wrapped), or journals the transaction a COMMIT ends. */
static int stmt_start(struct cf_node *node, sqlite3_stmt *st, const cf__stmt_kind *kind,
                      int *wrapped) {
  *wrapped = 0;
  cf__notify_stmt_begin(node);
  int autocommit = sqlite3_get_autocommit(node->db);
  if (kind->writes && autocommit && !sqlite3_stmt_readonly(st)) {
    int rc = cf__node_run(node, CF_SQL_begin_immediate, 0, 0);
    if (rc == CF_OK) *wrapped = 1;
    return rc;
  }
  if (kind->ends_tx && !autocommit) return cf__notify_journal(node);
  return CF_OK;
}

/* After a statement ran to its end (rc: how): commits the transaction
** stmt_start opened, with its journal row, or rolls it back. */
static int stmt_finish(struct cf_node *node, int wrapped, int rc) {
  cf__notify_stmt_end(node);
  if (!wrapped) return rc;
  if (rc == CF_OK) rc = cf__notify_journal(node);
  if (rc == CF_OK) rc = cf__node_run(node, CF_SQL_commit, 0, 0);
  if (rc != CF_OK && !sqlite3_get_autocommit(node->db)) {
    char saved[sizeof node->errmsg];
    memcpy(saved, node->errmsg, sizeof saved);
    if (cf__node_run(node, CF_SQL_rollback, 0, 0) != CF_OK) node->own_tx = 1;
    memcpy(node->errmsg, saved, sizeof saved);
  }
  return rc;
}

/* Runs one compiled statement of cf_node_exec to its end. */
static int exec_one(struct cf_node *node, sqlite3_stmt *st, const cf__stmt_kind *kind) {
  int wrapped;
  int rc = stmt_start(node, st, kind, &wrapped);
  if (rc != CF_OK) return rc;
  int src;
  while ((src = sqlite3_step(st)) == SQLITE_ROW) {
  }
  if (src != SQLITE_DONE) rc = cf__node_sqlerr(node, src, NULL);
  return stmt_finish(node, wrapped, rc);
}

int cf_node_exec(cf_node *node, const char *sql) {
  if (node == NULL || sql == NULL) return CF_MISUSE;
  node->errmsg[0] = '\0';
  cf__node_settle(node);
  const char *at = sql;
  int rc = CF_OK;
  while (rc == CF_OK && at != NULL && *at != '\0') {
    sqlite3_stmt *st = NULL;
    cf__stmt_kind kind;
    const char *tail = NULL;
    int src = cf__notify_prepare(node, at, &st, &tail, &kind);
    if (src != SQLITE_OK) {
      rc = cf__node_sqlerr(node, src, NULL);
      break;
    }
    if (st != NULL) rc = exec_one(node, st, &kind);
    sqlite3_finalize(st);
    at = tail;
  }
  return rc;
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
  int src = cf__notify_prepare(node, sql, &s->st, NULL, &s->kind);
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
  int rc;
  if (!sqlite3_stmt_busy(s->st) &&
      (rc = stmt_start(s->node, s->st, &s->kind, &s->wrapped)) != CF_OK)
    return rc;
  int src = sqlite3_step(s->st);
  if (src == SQLITE_ROW) return CF_OK;
  if (src == SQLITE_DONE) {
    int wrapped = s->wrapped;
    s->wrapped = 0;
    rc = stmt_finish(s->node, wrapped, CF_OK);
    return rc == CF_OK ? CF_DONE : rc;
  }
  rc = cf__node_sqlerr(s->node, src, NULL);
  sqlite3_reset(s->st);
  int wrapped = s->wrapped;
  s->wrapped = 0;
  return stmt_finish(s->node, wrapped, rc);
}

/* A statement stopped before its end (reset, finalize): what it did stands,
** as it would have in autocommit. */
static int stmt_stop(cf_stmt *s) {
  sqlite3_reset(s->st);
  if (!s->wrapped) return CF_OK;
  s->wrapped = 0;
  return stmt_finish(s->node, 1, CF_OK);
}

int cf_stmt_reset(cf_stmt *s) {
  if (s == NULL) return CF_MISUSE;
  return stmt_stop(s);
}

void cf_stmt_finalize(cf_stmt *s) {
  if (s == NULL) return;
  if (s->wrapped) (void)stmt_stop(s); /* only then is the node known to be open */
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
