/*
** store/sqlfn.c: the SQL functions the replica's views and triggers call,
** registered on every connection (docs/replica.md, "SQL functions").
**
**   function                 returns
**   cf_org()                 the replica's org id (text)
**   cf_uuid_new()            a fresh UUIDv7 (text)
**   cf_now()                 the wall clock as canonical timestamptz text,
**                            read once per row written (created_at = updated_at)
**   cf_canon(T, c, x)        x in the canonical form of column c of table T
**                            (core/value.h); errors "CF_CONSTRAINT: ..." for
**                            NULL in a NOT NULL column, "CF_INVALID: ..." for
**                            a value the type cannot hold
**   cf_vstamp(T, v, mask)    the version blob v (NULL: new row) with a fresh
**                            version (new HLC tick, node id) on the cells in
**                            mask; remembers mask for cf_last_mask()
**   cf_last_mask()           the mask of the last cf_vstamp() (key cells
**                            removed): the cells the current row changed
**   cf_last_hlc()            the HLC of the last cf_vstamp() tick: the outbox
**                            entry's seq
**   cf_tx()                  the current local transaction's id: the HLC of
**                            its first write (reset by commit/rollback hooks)
**
** The node is each function's user data.  All run on the node's one
** connection, so the state they share (clock, last mask, tx id) needs no
** lock.
*/
#include <stdio.h>
#include <string.h>

#include "core/value.h"
#include "platform/platform.h"
#include "store/notify.h"
#include "store/store_int.h"
#include "store/vblob.h"

static struct cf_node *node_of(sqlite3_context *ctx) { return sqlite3_user_data(ctx); }

static void fn_org(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  sqlite3_result_text(ctx, node_of(ctx)->org_id, -1, SQLITE_STATIC);
}

static void fn_uuid_new(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  cf_uuid u;
  char text[CF_UUID_TEXT_LEN];
  if (cf__uuid_v7_pooled(&node_of(ctx)->uuid_pool, &u) != CF_OK) {
    sqlite3_result_error(ctx, "CF_IO: cannot read random bytes for a UUID", -1);
    return;
  }
  sqlite3_result_text(ctx, cf__uuid_format(&u, text), -1, SQLITE_TRANSIENT);
}

static void fn_now(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  struct cf_node *node = node_of(ctx);
  /* created_at and updated_at of one row are one reading of the clock: a
  ** second call for the same row (before its cf_vstamp) gives the same text
  ** even if the millisecond changed in between (it did under qemu). */
  if (node->now_row && node->now_text[0] != '\0') {
    sqlite3_result_text(ctx, node->now_text, -1, SQLITE_TRANSIENT);
    return;
  }
  int64_t ms = cf__now_ms();
  if (ms != node->now_ms || node->now_text[0] == '\0') {
    if (cf__timestamp_format(ms * 1000, node->now_text) != CF_OK) {
      node->now_text[0] = '\0';
      sqlite3_result_error(ctx, "CF_INVALID: the wall clock is out of range", -1);
      return;
    }
    node->now_ms = ms;
  }
  node->now_row = 1;
  sqlite3_result_text(ctx, node->now_text, -1, SQLITE_TRANSIENT);
}

/* The argument as a borrowed cf_value.  CF_OK or CF_NOMEM. */
static int value_of(sqlite3_value *v, cf_value *out) {
  switch (sqlite3_value_type(v)) {
    case SQLITE_INTEGER:
      *out = cf__value_int(sqlite3_value_int64(v));
      return CF_OK;
    case SQLITE_FLOAT:
      *out = cf__value_real(sqlite3_value_double(v));
      return CF_OK;
    case SQLITE_TEXT: {
      const unsigned char *p = sqlite3_value_text(v);
      if (p == NULL) return CF_NOMEM;
      *out = cf__value_text((const char *)p, (size_t)sqlite3_value_bytes(v));
      return CF_OK;
    }
    case SQLITE_BLOB: {
      const void *p = sqlite3_value_blob(v);
      size_t n = (size_t)sqlite3_value_bytes(v);
      if (p == NULL && n > 0) return CF_NOMEM;
      *out = cf__value_blob(p, n);
      return CF_OK;
    }
    default:
      *out = cf__value_null();
      return CF_OK;
  }
}

/* Reports rc for column col of t as the function's error. */
static void canon_error(sqlite3_context *ctx, int rc, const cf_table *t,
                        const cf_column *col) {
  char msg[256];
  switch (rc) {
    case CF_NOMEM:
      sqlite3_result_error_nomem(ctx);
      return;
    case CF_CONSTRAINT:
      snprintf(msg, sizeof msg, "CF_CONSTRAINT: %s.%s may not be NULL", t->name,
               col->name);
      break;
    case CF_TOOBIG:
      snprintf(msg, sizeof msg, "CF_TOOBIG: %s.%s is too long", t->name, col->name);
      break;
    default:
      snprintf(msg, sizeof msg, "CF_INVALID: %s.%s: not a valid %s value", t->name,
               col->name, cf__coltype_name(col->type));
      break;
  }
  sqlite3_result_error(ctx, msg, -1);
}

static void fn_canon(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  struct cf_node *node = node_of(ctx);
  const cf_table *t = cf__schema_table((unsigned)sqlite3_value_int(argv[0]));
  int c = sqlite3_value_int(argv[1]);
  if (t == NULL || c < 0 || (unsigned)c >= t->ncols) {
    sqlite3_result_error(ctx, "CF_MISUSE: cf_canon: no such column", -1);
    return;
  }
  const cf_column *col = &t->cols[c];
  cf_value in, out;
  int rc = value_of(argv[2], &in);
  if (rc == CF_OK) rc = cf__value_canon(col, &in, &node->scratch, &out);
  if (rc != CF_OK) {
    canon_error(ctx, rc, t, col);
    return;
  }
  switch (out.kind) {
    case CF_VALUE_INT:
      sqlite3_result_int64(ctx, out.i);
      break;
    case CF_VALUE_TEXT:
      sqlite3_result_text64(ctx, out.p, out.n, SQLITE_TRANSIENT, SQLITE_UTF8);
      break;
    case CF_VALUE_REAL:
      sqlite3_result_double(ctx, out.d);
      break;
    case CF_VALUE_BLOB:
      sqlite3_result_blob64(ctx, out.p, out.n, SQLITE_TRANSIENT);
      break;
    default:
      sqlite3_result_null(ctx);
      break;
  }
}

static void fn_vstamp(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  struct cf_node *node = node_of(ctx);
  node->now_row = 0; /* the row's columns, cf_now() included, are computed */
  const cf_table *t = cf__schema_table((unsigned)sqlite3_value_int(argv[0]));
  if (t == NULL) {
    sqlite3_result_error(ctx, "CF_MISUSE: cf_vstamp: no such table", -1);
    return;
  }
  unsigned n = t->ncols + 1;
  uint64_t mask = (uint64_t)sqlite3_value_int64(argv[2]) & cf__schema_mask_all(t);
  mask &= ~t->key_mask;
  cf_vrow row;
  if (sqlite3_value_type(argv[1]) == SQLITE_NULL) {
    static const cf_ver zero;
    cf__vrow_fill(&row, n, &zero);
  } else {
    const void *p = sqlite3_value_blob(argv[1]);
    if (cf__vblob_decode(p, (size_t)sqlite3_value_bytes(argv[1]), n, &row) != CF_OK) {
      sqlite3_result_error(ctx, "CF_CORRUPT: a row's version blob is damaged", -1);
      return;
    }
  }
  node->last_mask = mask;
  if (mask != 0) {
    cf_ver v;
    cf__node_tick(node, &v);
    node->last_hlc = cf__ver_hlc(&v);
    for (unsigned i = 0; i < n; i++)
      if (mask & CF_COL_BIT(i)) row.v[i] = v;
  }
  unsigned char out[CF_VBLOB_MAX_LEN];
  size_t len = cf__vblob_encode(&row, t->key_mask, out);
  sqlite3_result_blob(ctx, out, (int)len, SQLITE_TRANSIENT);
}

static void fn_last_hlc(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  sqlite3_result_int64(ctx, (int64_t)node_of(ctx)->last_hlc);
}

static void fn_last_mask(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  sqlite3_result_int64(ctx, (int64_t)node_of(ctx)->last_mask);
}

static void fn_tx(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  struct cf_node *node = node_of(ctx);
  if (node->tx_hlc == 0) node->tx_hlc = cf__hlc_now(&node->clock);
  sqlite3_result_int64(ctx, (int64_t)node->tx_hlc);
}

/* A new local transaction starts after every commit and rollback. */
static int on_commit(void *arg) {
  ((struct cf_node *)arg)->tx_hlc = 0;
  cf__notify_on_commit(arg);
  ((struct cf_node *)arg)->now_row = 0;
  return 0;
}

static void on_rollback(void *arg) {
  ((struct cf_node *)arg)->tx_hlc = 0;
  cf__notify_on_rollback(arg);
  ((struct cf_node *)arg)->now_row = 0;
}

/* The function table. */
static const struct {
  const char *name;                                     /* SQL name */
  int nargs;                                            /* number of arguments */
  int flags;                                            /* SQLITE_DETERMINISTIC etc. */
  void (*fn)(sqlite3_context *, int, sqlite3_value **); /* implementation */
} functions[] = {
    {"cf_org", 0, SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, fn_org},
    {"cf_uuid_new", 0, 0, fn_uuid_new},
    {"cf_now", 0, 0, fn_now},
    {"cf_canon", 3, SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, fn_canon},
    {"cf_vstamp", 3, 0, fn_vstamp},
    {"cf_last_mask", 0, 0, fn_last_mask},
    {"cf_last_hlc", 0, 0, fn_last_hlc},
    {"cf_tx", 0, 0, fn_tx},
};

int cf__sqlfn_register(struct cf_node *node) {
  for (size_t i = 0; i < sizeof functions / sizeof functions[0]; i++) {
    int src = sqlite3_create_function_v2(node->db, functions[i].name, functions[i].nargs,
                                         SQLITE_UTF8 | functions[i].flags, node,
                                         functions[i].fn, NULL, NULL, NULL);
    if (src != SQLITE_OK) return cf__node_sqlerr(node, src, functions[i].name);
  }
  sqlite3_commit_hook(node->db, on_commit, node);
  sqlite3_rollback_hook(node->db, on_rollback, node);
  return CF_OK;
}
