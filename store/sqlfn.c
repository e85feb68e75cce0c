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

#define NOW_ERROR "CF_INVALID: the wall clock is out of range"

/* The time of the row being written as canonical timestamptz text, or NULL
** when the wall clock is out of range.  created_at and updated_at of one row
** are one reading of the clock: a second call for the same row (before its
** versions are stamped) gives the same text even if the millisecond changed
** in between (it did under qemu). */
static const char *node_now(struct cf_node *node) {
  if (node->now_row && node->now_text[0] != '\0') return node->now_text;
  int64_t ms = cf__now_ms();
  if (ms != node->now_ms || node->now_text[0] == '\0') {
    if (cf__timestamp_format(ms * 1000, node->now_text) != CF_OK) {
      node->now_text[0] = '\0';
      return NULL;
    }
    node->now_ms = ms;
  }
  node->now_row = 1;
  return node->now_text;
}

static void fn_now(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  const char *now = node_now(node_of(ctx));
  if (now == NULL)
    sqlite3_result_error(ctx, NOW_ERROR, -1);
  else
    sqlite3_result_text(ctx, now, -1, SQLITE_TRANSIENT);
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

/* The message of canonicalisation failure rc (not CF_NOMEM) for column col
** of t, into msg[256]. */
static void canon_message(char *msg, int rc, const cf_table *t, const cf_column *col) {
  switch (rc) {
    case CF_CONSTRAINT:
      snprintf(msg, 256, "CF_CONSTRAINT: %s.%s may not be NULL", t->name, col->name);
      break;
    case CF_TOOBIG:
      snprintf(msg, 256, "CF_TOOBIG: %s.%s is too long", t->name, col->name);
      break;
    default:
      snprintf(msg, 256, "CF_INVALID: %s.%s: not a valid %s value", t->name, col->name,
               cf__coltype_name(col->type));
      break;
  }
}

/* Reports rc for column col of t as the function's error. */
static void canon_error(sqlite3_context *ctx, int rc, const cf_table *t,
                        const cf_column *col) {
  char msg[256];
  if (rc == CF_NOMEM) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  canon_message(msg, rc, t, col);
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

/* --- cf_row: everything an insert through a view computes, in one call -----
**
** An eponymous virtual table used as a table-valued function by the insert
** triggers (store/ddl.c):
**
**   INSERT OR FAIL INTO cf_<t> (<cols>, deleted, _v, _seq, _tx, _mask)
**     SELECT coalesce(r.c0, NEW.<col0>), ..., 0, r.v, r.seq, r.tx, <mask>
**     FROM cf_row(T, NEW.<col0>, NEW.<col1>, ...) AS r;
**
** It yields one row:
**   c0..c30  the value to store for column i, or NULL to store NEW.<col i>
**            as given (already canonical, or NULL in a nullable column
**            without default): the org, a new UUIDv7 for a NULL id, the
**            default of a NULL column, or the canonical form of the value
**   v        the version blob, every non-key cell with one fresh version
**   seq      that version's HLC: the outbox entry's seq (cf_last_hlc())
**   tx       the local transaction (cf_tx())
** or fails with the message a function would have raised (CF_WRONG_ORG,
** CF_CONSTRAINT, CF_INVALID, CF_TOOBIG), before the trigger writes anything.
**
** Why a virtual table rather than functions: SQLite counts every function
** call in a trigger as a possible abort and then opens a statement journal
** for each row written through the view; reading a virtual table does not
** (docs/replica.md, "Performance"). */

#define ROW_NOUT (CF_SCHEMA_MAX_COLS + 3)           /* c0..c30, v, seq, tx */
#define ROW_COL_V CF_SCHEMA_MAX_COLS                /* the version blob */
#define ROW_COL_SEQ (CF_SCHEMA_MAX_COLS + 1)        /* its HLC */
#define ROW_COL_TX (CF_SCHEMA_MAX_COLS + 2)         /* the transaction */
#define ROW_COL_T ROW_NOUT                          /* HIDDEN: the table number */
#define ROW_COL_A0 (ROW_NOUT + 1)                   /* HIDDEN: NEW.<col 0>, ... */
#define ROW_NCOLS (ROW_COL_A0 + CF_SCHEMA_MAX_COLS) /* every column */

/* A cell's answer: kind NULL = store NEW as given; TEXT/BLOB bytes at p, or
** at arena offset off when off >= 0 (the arena may move while it grows). */
typedef struct row_cell {
  cf_value val; /* the value (p unset when off >= 0) */
  long off;     /* offset of the bytes in the cursor's arena, or -1 */
} row_cell;

typedef struct row_cursor {
  sqlite3_vtab_cursor base;
  int eof;                           /* 1 once the one row was read */
  int spare;                         /* 1: the table's preallocated cursor */
  unsigned ncols;                    /* columns of the table written */
  row_cell cell[CF_SCHEMA_MAX_COLS]; /* per column */
  unsigned char v[CF_VBLOB_MAX_LEN]; /* the version blob */
  size_t vlen;                       /* its length */
  int64_t seq, tx;                   /* HLC of the versions, transaction */
  char id[CF_UUID_TEXT_LEN];         /* a new UUIDv7 */
  cf_buf arena;                      /* canonical forms made for this row */
} row_cursor;

typedef struct row_vtab {
  sqlite3_vtab base;
  struct cf_node *node;
  int spare_busy;   /* 1 while spare is open */
  row_cursor spare; /* the cursor of one write at a time, kept */
} row_vtab;

static int row_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
                       sqlite3_vtab **out, char **err) {
  cf_buf decl;
  cf__buf_init(&decl, 4096);
  char name[32];
  int rc = cf__buf_puts(&decl, "CREATE TABLE x(");
  for (unsigned i = 0; rc == CF_OK && i < CF_SCHEMA_MAX_COLS; i++) {
    snprintf(name, sizeof name, "c%u, ", i);
    rc = cf__buf_puts(&decl, name);
  }
  if (rc == CF_OK) rc = cf__buf_puts(&decl, "v, seq, tx, t HIDDEN");
  for (unsigned i = 0; rc == CF_OK && i < CF_SCHEMA_MAX_COLS; i++) {
    snprintf(name, sizeof name, ", a%u HIDDEN", i);
    rc = cf__buf_puts(&decl, name);
  }
  if (rc == CF_OK) rc = cf__buf_puts(&decl, ")");
  int src = rc == CF_OK ? sqlite3_declare_vtab(db, decl.p) : SQLITE_NOMEM;
  cf__buf_free(&decl);
  if (src != SQLITE_OK) return src;
  sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS);
  row_vtab *tab = sqlite3_malloc(sizeof *tab);
  if (tab == NULL) return SQLITE_NOMEM;
  memset(tab, 0, sizeof *tab);
  tab->node = aux;
  tab->spare.spare = 1;
  cf__buf_init(&tab->spare.arena, (size_t)CF_SCHEMA_MAX_COLS * (CF_VALUE_MAX_BYTES + 1));
  *out = &tab->base;
  return SQLITE_OK;
}

static int row_disconnect(sqlite3_vtab *vtab) {
  row_vtab *tab = (row_vtab *)vtab;
  cf__buf_free(&tab->spare.arena);
  sqlite3_free(tab);
  return SQLITE_OK;
}

/* The plan: every argument given is an equality on its hidden column, passed
** to xFilter in order (the table number first) and never checked again. */
static int row_best_index(sqlite3_vtab *vtab, sqlite3_index_info *info) {
  int at[1 + CF_SCHEMA_MAX_COLS];
  int n = 0;
  for (int i = 0; i < 1 + CF_SCHEMA_MAX_COLS; i++)
    at[i] = -1;
  for (int i = 0; i < info->nConstraint; i++) {
    int col = info->aConstraint[i].iColumn;
    if (col < ROW_COL_T) continue;
    if (!info->aConstraint[i].usable ||
        info->aConstraint[i].op != SQLITE_INDEX_CONSTRAINT_EQ)
      return SQLITE_CONSTRAINT;
    at[col - ROW_COL_T] = i;
  }
  while (n < 1 + CF_SCHEMA_MAX_COLS && at[n] >= 0)
    n++;
  if (n == 0) return SQLITE_CONSTRAINT; /* no table number */
  for (int k = n; k < 1 + CF_SCHEMA_MAX_COLS; k++)
    if (at[k] >= 0) return SQLITE_CONSTRAINT; /* a gap in the arguments */
  for (int k = 0; k < n; k++) {
    info->aConstraintUsage[at[k]].argvIndex = k + 1;
    info->aConstraintUsage[at[k]].omit = 1;
  }
  info->idxNum = n;
  info->estimatedCost = 1.0;
  info->estimatedRows = 1;
  info->idxFlags = SQLITE_INDEX_SCAN_UNIQUE;
  return SQLITE_OK;
}

static int row_open(sqlite3_vtab *vtab, sqlite3_vtab_cursor **out) {
  row_vtab *tab = (row_vtab *)vtab;
  row_cursor *cur;
  if (!tab->spare_busy) {
    tab->spare_busy = 1;
    cur = &tab->spare;
  } else {
    cur = sqlite3_malloc(sizeof *cur);
    if (cur == NULL) return SQLITE_NOMEM;
    memset(cur, 0, sizeof *cur);
    cf__buf_init(&cur->arena, (size_t)CF_SCHEMA_MAX_COLS * (CF_VALUE_MAX_BYTES + 1));
  }
  cur->eof = 1;
  *out = &cur->base;
  return SQLITE_OK;
}

static int row_close(sqlite3_vtab_cursor *c) {
  row_cursor *cur = (row_cursor *)c;
  if (cur->spare) {
    ((row_vtab *)c->pVtab)->spare_busy = 0;
    cf__buf_reset(&cur->arena);
  } else {
    cf__buf_free(&cur->arena);
    sqlite3_free(cur);
  }
  return SQLITE_OK;
}

/* Fails the filter with msg (SQLITE_NOMEM if even that cannot be kept). */
static int row_fail(sqlite3_vtab_cursor *c, const char *msg) {
  sqlite3_free(c->pVtab->zErrMsg);
  c->pVtab->zErrMsg = sqlite3_mprintf("%s", msg);
  return c->pVtab->zErrMsg != NULL ? SQLITE_ERROR : SQLITE_NOMEM;
}

/* The canonical form of in for column col into cell (NULL: in is canonical
** already).  CF_OK or a cf__value_canon code. */
static int row_canon(struct cf_node *node, row_cursor *cur, const cf_column *col,
                     const cf_value *in, row_cell *cell) {
  cf_value out;
  int rc = cf__value_canon(col, in, &node->scratch, &out);
  if (rc != CF_OK) return rc;
  if (cf__value_equal(&out, in)) return CF_OK; /* store NEW as it is */
  cell->val = out;
  if (out.kind == CF_VALUE_TEXT || out.kind == CF_VALUE_BLOB) {
    cell->off = (long)cur->arena.len;
    rc = cf__buf_append(&cur->arena, out.p, out.n);
  }
  return rc;
}

static int row_filter(sqlite3_vtab_cursor *c, int idx_num, const char *idx_str, int argc,
                      sqlite3_value **argv) {
  row_cursor *cur = (row_cursor *)c;
  struct cf_node *node = ((row_vtab *)c->pVtab)->node;
  char msg[256];
  cur->eof = 1;
  cf__buf_reset(&cur->arena);
  const cf_table *t =
      argc > 0 ? cf__schema_table((unsigned)sqlite3_value_int(argv[0])) : NULL;
  if (t == NULL || (unsigned)argc != t->ncols + 1)
    return row_fail(c,
                    "CF_MISUSE: cf_row: no such table, or not one argument per column");
  int org_table = !t->tenant && strcmp(t->name, "organizations") == 0;
  node->now_row = 0; /* a new row: its own reading of the clock */
  cur->ncols = t->ncols;
  for (unsigned i = 0; i < t->ncols; i++) {
    const cf_column *col = &t->cols[i];
    row_cell *cell = &cur->cell[i];
    cell->val = cf__value_null();
    cell->off = -1;
    sqlite3_value *a = argv[1 + i];
    int type = sqlite3_value_type(a);
    int rc = CF_OK;
    if ((int)i == t->org_col || (org_table && (int)i == t->id_col)) {
      if (type != SQLITE_NULL) {
        cf_value in, out;
        rc = value_of(a, &in);
        if (rc == CF_OK) rc = cf__value_canon(col, &in, &node->scratch, &out);
        if (rc == CF_OK && (out.kind != CF_VALUE_TEXT || out.n != strlen(node->org_id) ||
                            memcmp(out.p, node->org_id, out.n) != 0))
          return row_fail(c, "CF_WRONG_ORG: the row names another organization than this "
                             "replica's");
      }
      if (rc == CF_OK) cell->val = cf__value_text(node->org_id, strlen(node->org_id));
    } else if (type == SQLITE_NULL) {
      switch (col->def) {
        case CF_DEFAULT_UUIDV7: {
          cf_uuid u;
          if (cf__uuid_v7_pooled(&node->uuid_pool, &u) != CF_OK)
            return row_fail(c, "CF_IO: cannot read random bytes for a UUID");
          cf__uuid_format(&u, cur->id);
          cell->val = cf__value_text(cur->id, CF_UUID_TEXT_LEN - 1);
          break;
        }
        case CF_DEFAULT_ORG:
          cell->val = cf__value_text(node->org_id, strlen(node->org_id));
          break;
        case CF_DEFAULT_NOW: {
          const char *now = node_now(node);
          if (now == NULL) return row_fail(c, NOW_ERROR);
          cell->val = cf__value_text(now, strlen(now));
          break;
        }
        default:
          rc = cf__column_default(col, &cell->val);
          break;
      }
    } else if (col->type == CF_TYPE_TEXT && type == SQLITE_TEXT &&
               (size_t)sqlite3_value_bytes(a) <= CF_VALUE_MAX_BYTES) {
      /* A text column's canonical form is the text itself (the master
      ** refuses invalid UTF-8, which then comes back as a conflict). */
    } else {
      cf_value in;
      rc = value_of(a, &in);
      if (rc == CF_OK) rc = row_canon(node, cur, col, &in, cell);
    }
    if (rc == CF_NOMEM) return SQLITE_NOMEM;
    if (rc != CF_OK) {
      canon_message(msg, rc, t, col);
      return row_fail(c, msg);
    }
  }
  /* Every non-key cell gets one fresh version; then the transaction id (a
  ** transaction's first write ticks before it reads the clock for its id, as
  ** the cf_vstamp() and cf_tx() of the other triggers do). */
  uint64_t mask = cf__schema_mask_all(t) & ~t->key_mask;
  static const cf_ver zero;
  cf_vrow row;
  cf_ver v;
  cf__vrow_fill(&row, t->ncols + 1, &zero);
  cf__node_tick(node, &v);
  for (unsigned i = 0; i < t->ncols + 1; i++)
    if (mask & CF_COL_BIT(i)) row.v[i] = v;
  cur->vlen = cf__vblob_encode(&row, t->key_mask, cur->v);
  node->last_mask = mask;
  node->last_hlc = cf__ver_hlc(&v);
  node->now_row = 0;
  if (node->tx_hlc == 0) node->tx_hlc = cf__hlc_now(&node->clock);
  cur->seq = (int64_t)node->last_hlc;
  cur->tx = (int64_t)node->tx_hlc;
  cur->eof = 0;
  return SQLITE_OK;
}

static int row_next(sqlite3_vtab_cursor *c) {
  ((row_cursor *)c)->eof = 1;
  return SQLITE_OK;
}

static int row_eof(sqlite3_vtab_cursor *c) { return ((row_cursor *)c)->eof; }

static int row_column(sqlite3_vtab_cursor *c, sqlite3_context *ctx, int i) {
  row_cursor *cur = (row_cursor *)c;
  /* The spare cursor's bytes, the org and the defaults stay put until the
  ** next row's xFilter, after this row was written: no copy. */
  sqlite3_destructor_type keep = cur->spare ? SQLITE_STATIC : SQLITE_TRANSIENT;
  if (i == ROW_COL_V) {
    sqlite3_result_blob(ctx, cur->v, (int)cur->vlen, keep);
  } else if (i == ROW_COL_SEQ) {
    sqlite3_result_int64(ctx, cur->seq);
  } else if (i == ROW_COL_TX) {
    sqlite3_result_int64(ctx, cur->tx);
  } else if (i >= 0 && (unsigned)i < cur->ncols) {
    const row_cell *cell = &cur->cell[i];
    const char *p = cell->off >= 0 ? cur->arena.p + cell->off : cell->val.p;
    switch (cell->val.kind) {
      case CF_VALUE_INT:
        sqlite3_result_int64(ctx, cell->val.i);
        break;
      case CF_VALUE_REAL:
        sqlite3_result_double(ctx, cell->val.d);
        break;
      case CF_VALUE_TEXT:
        sqlite3_result_text64(ctx, p, cell->val.n, keep, SQLITE_UTF8);
        break;
      case CF_VALUE_BLOB:
        sqlite3_result_blob64(ctx, p, cell->val.n, keep);
        break;
      default:
        sqlite3_result_null(ctx);
        break;
    }
  } else {
    sqlite3_result_null(ctx); /* the hidden arguments are never read back */
  }
  return SQLITE_OK;
}

static int row_rowid(sqlite3_vtab_cursor *c, sqlite3_int64 *out) {
  *out = 1;
  return SQLITE_OK;
}

static const sqlite3_module row_module = {
    .iVersion = 0,
    .xCreate = NULL, /* eponymous only: no CREATE VIRTUAL TABLE */
    .xConnect = row_connect,
    .xBestIndex = row_best_index,
    .xDisconnect = row_disconnect,
    .xDestroy = row_disconnect,
    .xOpen = row_open,
    .xClose = row_close,
    .xFilter = row_filter,
    .xNext = row_next,
    .xEof = row_eof,
    .xColumn = row_column,
    .xRowid = row_rowid,
};

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
  int src = sqlite3_create_module_v2(node->db, "cf_row", &row_module, node, NULL);
  if (src != SQLITE_OK) return cf__node_sqlerr(node, src, "cf_row");
  sqlite3_commit_hook(node->db, on_commit, node);
  sqlite3_rollback_hook(node->db, on_rollback, node);
  return CF_OK;
}
