/*
** store/node_ops.c: what every file of store/ does on an open node:
** record an error (cf__node_fail, cf__node_sqlerr), run the fixed statements
** of sql/sqlite/statements.sql, open and end transactions, tick and persist
** the clock, read and write cf_meta.  The tables are described in
** store/node.c; opening and closing a replica is there too.
*/
#include <stdio.h>
#include <string.h>

#include "core/value.h"
#include "platform/platform.h"
#include "store/notify.h"
#include "store/sqltext.h"
#include "store/store_int.h"
#include "store/vfs_crypt.h"

/* --- errors ---------------------------------------------------------------- */

int cf__node_fail(struct cf_node *node, int rc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(node->errmsg, sizeof node->errmsg, fmt, ap);
  va_end(ap);
  return rc;
}

/* The CF_* code named at the start of msg ("CF_WRONG_ORG: ..."), or -1. */
static int code_from_message(const char *msg) {
#define CF_X_MATCH(name, value, text)                                                    \
  if (strncmp(msg, #name ":", sizeof(#name)) == 0) return value;
  CF_RESULT_TABLE(CF_X_MATCH)
#undef CF_X_MATCH
  return -1;
}

int cf__node_sqlerr(struct cf_node *node, int src, const char *what) {
  const char *msg = node->db != NULL ? sqlite3_errmsg(node->db) : sqlite3_errstr(src);
  int rc;
  switch (src & 0xff) {
    case SQLITE_NOMEM:
      rc = CF_NOMEM;
      break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      rc = CF_BUSY;
      break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      rc = CF_CORRUPT;
      break;
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_FULL:
    case SQLITE_READONLY:
    case SQLITE_PERM:
      rc = CF_IO;
      break;
    case SQLITE_MISUSE:
      rc = CF_MISUSE;
      break;
    case SQLITE_TOOBIG:
      rc = CF_TOOBIG;
      break;
    case SQLITE_CONSTRAINT:
      rc = CF_CONSTRAINT;
      break;
    default:
      rc = CF_STORE;
      break;
  }
  int named = code_from_message(msg);
  if (named > 0) rc = named;
  /* What the encrypting VFS could only report as an I/O error. */
  char why[256];
  int crypt_rc =
      node->crypt != NULL ? cf__crypt_take_error(node->crypt, why, sizeof why) : 0;
  if (crypt_rc != 0 && (rc == CF_IO || rc == CF_CORRUPT || rc == CF_STORE)) {
    rc = crypt_rc;
    msg = why;
  }
  if (what != NULL)
    snprintf(node->errmsg, sizeof node->errmsg, "%s: %s", what, msg);
  else
    snprintf(node->errmsg, sizeof node->errmsg, "%s", msg);
  return rc;
}

/* --- fixed statements ------------------------------------------------------ */

static const char *const stmt_names[CF_SQL_COUNT] = {
#define CF_X_NAME(name) #name,
    CF_STORE_STMTS(CF_X_NAME)
#undef CF_X_NAME
};

int cf__node_stmt(struct cf_node *node, cf_stmt_id id, sqlite3_stmt **out) {
  *out = NULL;
  sqlite3_stmt *st = node->stmts[id];
  if (st == NULL) {
    const char *text;
    size_t len;
    if (cf__sql_text(stmt_names[id], &text, &len) != 0)
      return cf__node_fail(node, CF_MISUSE, "statement %s not found", stmt_names[id]);
    int src = sqlite3_prepare_v3(node->db, text, (int)len, SQLITE_PREPARE_PERSISTENT, &st,
                                 NULL);
    if (src != SQLITE_OK) return cf__node_sqlerr(node, src, stmt_names[id]);
    node->stmts[id] = st;
  } else {
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
  }
  *out = st;
  return CF_OK;
}

int cf__node_run(struct cf_node *node, cf_stmt_id id, int64_t a, int64_t b) {
  sqlite3_stmt *st;
  int rc = cf__node_stmt(node, id, &st);
  if (rc != CF_OK) return rc;
  int np = sqlite3_bind_parameter_count(st);
  if (np >= 1) sqlite3_bind_int64(st, 1, a);
  if (np >= 2) sqlite3_bind_int64(st, 2, b);
  int src = sqlite3_step(st);
  if (src != SQLITE_DONE && src != SQLITE_ROW) {
    rc = cf__node_sqlerr(node, src, stmt_names[id]);
    sqlite3_reset(st);
    return rc;
  }
  sqlite3_reset(st);
  return CF_OK;
}

/* --- transactions ---------------------------------------------------------- */

int cf__node_begin(struct cf_node *node) {
  cf__node_settle(node);
  if (!sqlite3_get_autocommit(node->db))
    return cf__node_fail(node, CF_MISUSE,
                         "a transaction is open on the replica: commit it first");
  int rc = cf__node_run(node, CF_SQL_begin_immediate, 0, 0);
  if (rc == CF_OK) node->own_tx = 1;
  return rc;
}

int cf__node_commit(struct cf_node *node) {
  int rc = cf__notify_journal(node);
  if (rc == CF_OK) rc = cf__node_run(node, CF_SQL_commit, 0, 0);
  if (rc != CF_OK) {
    cf__node_rollback(node);
    return rc;
  }
  node->own_tx = 0;
  return CF_OK;
}

void cf__node_rollback(struct cf_node *node) {
  if (node->db == NULL) return;
  if (sqlite3_get_autocommit(node->db)) {
    node->own_tx = 0;
    return;
  }
  /* Keep the first error's message: a rollback failure adds nothing. */
  char saved[sizeof node->errmsg];
  memcpy(saved, node->errmsg, sizeof saved);
  if (cf__node_run(node, CF_SQL_rollback, 0, 0) == CF_OK ||
      sqlite3_get_autocommit(node->db))
    node->own_tx = 0; /* else cf__node_settle finishes it later */
  memcpy(node->errmsg, saved, sizeof saved);
}

void cf__node_settle(struct cf_node *node) {
  if (node->own_tx) cf__node_rollback(node);
}

/* --- clock ----------------------------------------------------------------- */

void cf__node_tick(struct cf_node *node, cf_ver *out) {
  cf__ver_make(cf__hlc_now(&node->clock), &node->node_id, out);
}

int cf__node_persist_clock(struct cf_node *node) {
  cf_hlc last = cf__hlc_last(&node->clock);
  return cf__node_run(node, CF_SQL_clock_raise, (int64_t)last,
                      (int64_t)(last + CF_CLOCK_RESERVE));
}

/* --- meta ------------------------------------------------------------------ */

static int meta_put_text(struct cf_node *node, const char *k, const char *v) {
  sqlite3_stmt *st;
  int rc = cf__node_stmt(node, CF_SQL_meta_put, &st);
  if (rc != CF_OK) return rc;
  sqlite3_bind_text(st, 1, k, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, v, -1, SQLITE_STATIC);
  int src = sqlite3_step(st);
  rc = src == SQLITE_DONE ? CF_OK : cf__node_sqlerr(node, src, "meta_put");
  sqlite3_reset(st);
  return rc;
}

int cf__meta_put_int(struct cf_node *node, const char *k, int64_t v) {
  sqlite3_stmt *st;
  int rc = cf__node_stmt(node, CF_SQL_meta_put, &st);
  if (rc != CF_OK) return rc;
  sqlite3_bind_text(st, 1, k, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, v);
  int src = sqlite3_step(st);
  rc = src == SQLITE_DONE ? CF_OK : cf__node_sqlerr(node, src, "meta_put");
  sqlite3_reset(st);
  return rc;
}

int cf__meta_put_blob(struct cf_node *node, const char *k, const void *p, int n) {
  sqlite3_stmt *st;
  int rc = cf__node_stmt(node, CF_SQL_meta_put, &st);
  if (rc != CF_OK) return rc;
  sqlite3_bind_text(st, 1, k, -1, SQLITE_STATIC);
  sqlite3_bind_blob(st, 2, p, n, SQLITE_STATIC);
  int src = sqlite3_step(st);
  rc = src == SQLITE_DONE ? CF_OK : cf__node_sqlerr(node, src, "meta_put");
  sqlite3_reset(st);
  return rc;
}

int cf__meta_put_text(struct cf_node *node, const char *k, const char *v) {
  return meta_put_text(node, k, v);
}

int cf__meta_get(struct cf_node *node, const char *k, char *buf, size_t cap, size_t *n,
                 int64_t *i) {
  sqlite3_stmt *st;
  int rc = cf__node_stmt(node, CF_SQL_meta_get, &st);
  if (rc != CF_OK) return rc;
  sqlite3_bind_text(st, 1, k, -1, SQLITE_STATIC);
  int src = sqlite3_step(st);
  if (src == SQLITE_ROW) {
    int type = sqlite3_column_type(st, 0);
    if (type == SQLITE_INTEGER && i != NULL) {
      *i = sqlite3_column_int64(st, 0);
    } else if ((type == SQLITE_TEXT || type == SQLITE_BLOB) && buf != NULL) {
      const void *p = type == SQLITE_TEXT ? (const void *)sqlite3_column_text(st, 0)
                                          : sqlite3_column_blob(st, 0);
      size_t len = (size_t)sqlite3_column_bytes(st, 0);
      if (p == NULL && len > 0) {
        rc = cf__node_sqlerr(node, SQLITE_NOMEM, "meta_get");
      } else if (len + 1 > cap) {
        rc = cf__node_fail(node, CF_CORRUPT, "replica metadata %s is too long", k);
      } else {
        if (len) memcpy(buf, p, len);
        buf[len] = '\0';
        if (n != NULL) *n = len;
      }
    } else {
      rc = cf__node_fail(node, CF_CORRUPT, "replica metadata %s has the wrong type", k);
    }
  } else if (src == SQLITE_DONE) {
    rc = cf__node_fail(node, CF_NOTFOUND, "replica metadata %s is missing", k);
  } else {
    rc = cf__node_sqlerr(node, src, "meta_get");
  }
  sqlite3_reset(st);
  return rc;
}

int cf__meta_get_text(struct cf_node *node, const char *k, char *buf, size_t cap) {
  return cf__meta_get(node, k, buf, cap, NULL, NULL);
}
