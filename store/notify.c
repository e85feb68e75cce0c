/*
** store/notify.c: what changed, for the app -- change capture on the
** connection, the change journal in the replica, and delivery of change
** events and new conflicts from cf_node_poll on the app's thread.  Watched
** queries are store/watch.c.  Public API: include/clientflow.h, "Change
** notifications"; design: docs/embedding.md, "How changes are found".
**
** Capture.  An update hook notes every row written in a data table cf_<t>
** (table number, rid) while a transaction is open: a function call and an
** array append per row, nothing written.  A rollback forgets them.
**
** Journal.  Just before a transaction that captured something commits,
** ONE row goes into cf_journal (sql/sqlite/notify.sql): the tables, the
** rows (at most CF__JOURNAL_MAX_ROWS, else none: "every row of these
** tables") and the origin (a local write, or a pulled page).  Where the
** COMMIT comes from:
**   the library's own transactions   cf__node_commit (store/node_ops.c)
**   an app's COMMIT / END / RELEASE  store/stmt.c, before stepping it
**   an app's write in autocommit     store/stmt.c wraps it in BEGIN IMMEDIATE
**                                    .. journal row .. COMMIT (the same one
**                                    fsync as before)
** A commit that still carries a capture (no journal row: a savepoint
** released by other means) is remembered and delivered to this handle as
** a RESYNC event.
**
** Delivery.  cf_node_poll, on the thread that uses the node, outside any
** transaction: when this handle committed (the WAL hook says so) or PRAGMA
** data_version says another connection did, it reads the journal rows
** after the last one it delivered, turns rids into ids and calls the
** change callback once per committed transaction, then the conflict
** callback for conflicts added since, then re-runs the watched queries
** that read a changed table.  A reader that fell behind the pruning (its
** next id is gone) gets one RESYNC event: everything may have changed.
**
** Waking.  The WAL hook, which runs after a commit has completed, bumps the
** process-wide beacon (platform/thread.h), so cf_node_wait on another
** thread returns.  A commit made by another process is seen by the next
** cf_node_poll (the app polls on a timer: cf_node_wait's timeout).
**
** The WAL hook replaces SQLite's automatic checkpoint hook, so it
** checkpoints itself at the same threshold (PRAGMA wal_autocheckpoint as
** configured when the node opened).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/uuid.h"
#include "platform/assets.h"
#include "platform/platform.h"
#include "platform/thread.h"
#include "store/notify.h"

/* The statements of sql/sqlite/notify.sql this file runs. */
/* clang-format off */
#define NT_STMTS(X) \
  X(journal_add) \
  X(journal_prune) \
  X(journal_head) \
  X(journal_since) \
  X(data_version) \
  X(conflict_head) \
  X(begin_deferred)
/* clang-format on */

enum {
#define NT_X_ID(name) NT_##name,
  NT_STMTS(NT_X_ID)
#undef NT_X_ID
      NT_COUNT
};

static const char *const nt_names[NT_COUNT] = {
#define NT_X_NAME(name) #name,
    NT_STMTS(NT_X_NAME)
#undef NT_X_NAME
};

/* One journal row read back, while events are built from it. */
typedef struct jrow {
  int64_t id;       /* journal id */
  int origin;       /* CF_CHANGE_LOCAL or CF_CHANGE_REMOTE */
  uint64_t tables;  /* table bits */
  unsigned char *p; /* the rows blob (owned), NULL: all rows */
  size_t n;         /* its length */
} jrow;

/* Change capture and delivery state of one node. */
struct cf_notify {
  int64_t *rows;                        /* captured (table << 56 | rid) */
  size_t nrows;                         /* entries in rows */
  size_t cap;                           /* entries allocated */
  uint64_t tables;                      /* captured table bits */
  int overflow;                         /* more rows than a journal row lists */
  int origin;                           /* origin of the open transaction */
  int unjournaled;                      /* a commit carried a capture */
  int64_t stmt_rows;                    /* rows written by the running statement */
  int64_t last_changes;                 /* cf_node_changes() */
  char last_name[48];                   /* cache of the update hook's last table */
  int last_no;                          /* its number, or -1 */
  sqlite3_stmt *st[NT_COUNT];           /* notify.sql statements, lazily */
  sqlite3_stmt *idq[CF_SCHEMA_NTABLES]; /* SELECT id FROM cf_<t> WHERE rid = ?1 */
  cf__stmt_kind prep;                   /* what the statement compiling does */
  int64_t seen_journal;                 /* last journal id delivered */
  int64_t data_version;                 /* last PRAGMA data_version seen */
  int64_t seen_conflict;                /* last conflict id delivered */
  int dirty;                            /* this handle committed since the last poll */
  uint64_t beacon_seen;                 /* beacon value at the last poll */
  int wal_autockpt;                     /* checkpoint threshold, in frames */
  int delivering;                       /* inside cf_node_poll's callbacks */
  cf_changes_fn on_changes;             /* change callback, may be NULL */
  void *changes_ctx;                    /* its context */
  cf_conflict_fn on_conflict;           /* conflict callback, may be NULL */
  void *conflict_ctx;                   /* its context */
};

int cf__notify_table_no(const char *name) {
  if (name == NULL) return -1;
  if (strncmp(name, "cf_", 3) == 0) name += 3;
  const cf_table *t = cf__schema_table_by_name(name);
  if (t == NULL) return -1;
  for (unsigned n = 0; n < CF_SCHEMA_NTABLES; n++)
    if (cf__schema_table(n) == t) return (int)n;
  return -1;
}

/* The number of data table name ("cf_<t>" only), or -1. */
static int data_table_no(const char *name) {
  if (strncmp(name, "cf_", 3) != 0) return -1;
  return cf__notify_table_no(name);
}

static int nt_stmt(struct cf_node *node, int id, sqlite3_stmt **out) {
  struct cf_notify *nt = node->nt;
  *out = NULL;
  if (nt->st[id] == NULL) {
    const char *text;
    size_t len;
    if (cf__asset_statement("sqlite/notify.sql", nt_names[id], &text, &len) != CF_OK)
      return cf__node_fail(node, CF_MISUSE, "statement %s not embedded", nt_names[id]);
    int src = sqlite3_prepare_v3(node->db, text, (int)len, SQLITE_PREPARE_PERSISTENT,
                                 &nt->st[id], NULL);
    if (src != SQLITE_OK) return cf__node_sqlerr(node, src, nt_names[id]);
  } else {
    sqlite3_reset(nt->st[id]);
    sqlite3_clear_bindings(nt->st[id]);
  }
  *out = nt->st[id];
  return CF_OK;
}

/* Runs a statement that returns one integer.  OUT: *v. */
static int nt_int(struct cf_node *node, int id, int64_t *v) {
  sqlite3_stmt *st;
  int rc = nt_stmt(node, id, &st);
  if (rc != CF_OK) return rc;
  int src = sqlite3_step(st);
  if (src == SQLITE_ROW)
    *v = sqlite3_column_int64(st, 0);
  else
    rc = cf__node_sqlerr(node, src, nt_names[id]);
  sqlite3_reset(st);
  return rc;
}

/* --- capture --------------------------------------------------------------- */

static void capture_clear(struct cf_notify *nt) {
  nt->nrows = 0;
  nt->tables = 0;
  nt->overflow = 0;
  nt->origin = CF_CHANGE_LOCAL;
}

static void on_update(void *arg, int op, const char *db, const char *tbl,
                      sqlite3_int64 rid) {
  struct cf_notify *nt = ((struct cf_node *)arg)->nt;
  (void)op;
  (void)db;
  if (tbl[0] != 'c' || tbl[1] != 'f' || tbl[2] != '_') return;
  if (strcmp(tbl, nt->last_name) != 0) {
    size_t n = strlen(tbl);
    if (n >= sizeof nt->last_name) return;
    memcpy(nt->last_name, tbl, n + 1);
    nt->last_no = data_table_no(tbl);
  }
  if (nt->last_no < 0) return;
  nt->stmt_rows++;
  nt->tables |= (uint64_t)1 << nt->last_no;
  if (nt->overflow) return;
  if (nt->nrows == nt->cap) {
    size_t cap = nt->cap ? nt->cap * 2 : 64;
    int64_t *grown =
        cap <= CF__JOURNAL_MAX_ROWS ? cf__realloc(nt->rows, cap * sizeof *grown) : NULL;
    if (grown == NULL) { /* too many (or no memory): record the tables only */
      nt->overflow = 1;
      return;
    }
    nt->rows = grown;
    nt->cap = cap;
  }
  nt->rows[nt->nrows++] = ((int64_t)nt->last_no << 56) | (int64_t)rid;
}

void cf__notify_on_commit(struct cf_node *node) {
  struct cf_notify *nt = node->nt;
  if (nt == NULL) return;
  if (nt->tables != 0 && nt->origin != CF__ORIGIN_QUIET) nt->unjournaled = 1;
  capture_clear(nt);
}

void cf__notify_on_rollback(struct cf_node *node) {
  if (node->nt != NULL) capture_clear(node->nt);
}

/* After a commit has completed: this handle has news, other threads may. */
static int on_wal(void *arg, sqlite3 *db, const char *name, int frames) {
  struct cf_node *node = arg;
  node->nt->dirty = 1;
  cf__beacon_bump();
  if (node->nt->wal_autockpt > 0 && frames >= node->nt->wal_autockpt)
    sqlite3_wal_checkpoint(db, name);
  return SQLITE_OK;
}

void cf__notify_origin(struct cf_node *node, int origin) {
  if (node->nt != NULL) node->nt->origin = origin;
}

void cf__notify_stmt_begin(struct cf_node *node) { node->nt->stmt_rows = 0; }
void cf__notify_stmt_end(struct cf_node *node) {
  node->nt->last_changes = node->nt->stmt_rows;
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

int cf__notify_journal(struct cf_node *node) {
  struct cf_notify *nt = node->nt;
  if (nt == NULL) return CF_OK;
  if (nt->tables == 0 || nt->origin == CF__ORIGIN_QUIET) {
    capture_clear(nt);
    return CF_OK;
  }
  unsigned char *blob = NULL;
  size_t n = 0;
  if (!nt->overflow && nt->nrows > 0) {
    qsort(nt->rows, nt->nrows, sizeof *nt->rows, cmp_i64);
    blob = cf__malloc(nt->nrows * 9);
    if (blob == NULL) return cf__node_fail(node, CF_NOMEM, "out of memory");
    for (size_t i = 0; i < nt->nrows; i++) {
      if (i > 0 && nt->rows[i] == nt->rows[i - 1]) continue;
      uint64_t v = (uint64_t)nt->rows[i];
      blob[n++] = (unsigned char)(v >> 56);
      for (int b = 0; b < 8; b++)
        blob[n++] = (unsigned char)(b < 7 ? (v >> (8 * b)) & 0xff : 0);
    }
  }
  sqlite3_stmt *st;
  int rc = nt_stmt(node, NT_journal_add, &st);
  if (rc == CF_OK) {
    sqlite3_bind_int(st, 1, nt->origin);
    sqlite3_bind_int64(st, 2, (int64_t)nt->tables);
    if (blob != NULL) sqlite3_bind_blob(st, 3, blob, (int)n, SQLITE_STATIC);
    int src = sqlite3_step(st);
    if (src != SQLITE_DONE) rc = cf__node_sqlerr(node, src, "journal_add");
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
  }
  cf__free(blob);
  if (rc != CF_OK) return rc;
  int64_t id = sqlite3_last_insert_rowid(node->db);
  if (id > CF__JOURNAL_KEEP && id % 64 == 0) {
    if ((rc = nt_stmt(node, NT_journal_prune, &st)) != CF_OK) return rc;
    sqlite3_bind_int64(st, 1, id - CF__JOURNAL_KEEP);
    int src = sqlite3_step(st);
    if (src != SQLITE_DONE) rc = cf__node_sqlerr(node, src, "journal_prune");
    sqlite3_reset(st);
    if (rc != CF_OK) return rc;
  }
  capture_clear(nt);
  return CF_OK;
}

/* --- statements' kinds ----------------------------------------------------- */

static int on_auth(void *arg, int code, const char *a1, const char *a2, const char *a3,
                   const char *a4) {
  struct cf_notify *nt = ((struct cf_node *)arg)->nt;
  (void)a2;
  (void)a3;
  (void)a4;
  switch (code) {
    case SQLITE_INSERT:
    case SQLITE_UPDATE:
    case SQLITE_DELETE:
      nt->prep.writes = 1;
      break;
    case SQLITE_TRANSACTION:
      if (a1 != NULL && strcasecmp(a1, "COMMIT") == 0) nt->prep.ends_tx = 1;
      break;
    case SQLITE_SAVEPOINT:
      if (a1 != NULL && strcasecmp(a1, "RELEASE") == 0) nt->prep.ends_tx = 1;
      break;
    case SQLITE_READ: {
      int t = cf__notify_table_no(a1);
      if (t >= 0)
        nt->prep.reads |= (uint64_t)1 << t;
      else if (a1 != NULL && strncmp(a1, "sqlite_", 7) != 0)
        nt->prep.reads_other = 1;
      break;
    }
    default:
      break;
  }
  return SQLITE_OK;
}

int cf__notify_prepare(struct cf_node *node, const char *sql, sqlite3_stmt **st,
                       const char **tail, cf__stmt_kind *kind) {
  memset(&node->nt->prep, 0, sizeof node->nt->prep);
  int src = sqlite3_prepare_v2(node->db, sql, -1, st, tail);
  *kind = node->nt->prep;
  return src;
}

/* --- attach ---------------------------------------------------------------- */

int cf__notify_attach(struct cf_node *node) {
  node->nt = cf__calloc(1, sizeof *node->nt);
  if (node->nt == NULL) return cf__node_fail(node, CF_NOMEM, "out of memory");
  node->nt->origin = CF_CHANGE_LOCAL;
  node->nt->last_no = -1;
  node->nt->wal_autockpt = 1000;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(node->db, "PRAGMA wal_autocheckpoint", -1, &st, NULL) ==
      SQLITE_OK) {
    if (sqlite3_step(st) == SQLITE_ROW)
      node->nt->wal_autockpt = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
  }
  sqlite3_update_hook(node->db, on_update, node);
  sqlite3_wal_hook(node->db, on_wal, node);
  sqlite3_set_authorizer(node->db, on_auth, node);
  return CF_OK;
}

int cf__notify_install(struct cf_node *node) {
  const char *text;
  size_t len;
  if (cf__asset_statement("sqlite/notify.sql", "journal_create", &text, &len) != CF_OK)
    return cf__node_fail(node, CF_MISUSE, "journal DDL not embedded");
  char *sql = cf__malloc(len + 1);
  if (sql == NULL) return cf__node_fail(node, CF_NOMEM, "out of memory");
  memcpy(sql, text, len);
  sql[len] = '\0';
  int src = sqlite3_exec(node->db, sql, NULL, NULL, NULL);
  cf__free(sql);
  if (src != SQLITE_OK) return cf__node_sqlerr(node, src, "journal_create");
  struct cf_notify *nt = node->nt;
  int rc;
  if ((rc = nt_int(node, NT_journal_head, &nt->seen_journal)) != CF_OK ||
      (rc = nt_int(node, NT_conflict_head, &nt->seen_conflict)) != CF_OK ||
      (rc = nt_int(node, NT_data_version, &nt->data_version)) != CF_OK)
    return rc;
  nt->beacon_seen = cf__beacon_value();
  return CF_OK;
}

void cf__notify_finalize(struct cf_node *node) {
  struct cf_notify *nt = node->nt;
  if (nt == NULL) return;
  for (int i = 0; i < NT_COUNT; i++) {
    sqlite3_finalize(nt->st[i]);
    nt->st[i] = NULL;
  }
  for (int i = 0; i < CF_SCHEMA_NTABLES; i++) {
    sqlite3_finalize(nt->idq[i]);
    nt->idq[i] = NULL;
  }
}

void cf__notify_detach(struct cf_node *node) {
  struct cf_notify *nt = node->nt;
  cf__watch_free_all(node);
  if (nt == NULL) return;
  for (int i = 0; i < NT_COUNT; i++)
    sqlite3_finalize(nt->st[i]);
  for (int i = 0; i < CF_SCHEMA_NTABLES; i++)
    sqlite3_finalize(nt->idq[i]);
  if (node->db != NULL) {
    sqlite3_update_hook(node->db, NULL, NULL);
    sqlite3_wal_hook(node->db, NULL, NULL);
    sqlite3_set_authorizer(node->db, NULL, NULL);
  }
  cf__free(nt->rows);
  cf__free(nt);
  node->nt = NULL;
}

/* --- delivery -------------------------------------------------------------- */

/* The id of row rid of table t, copied into out; "" when the row is gone. */
static int row_id(struct cf_node *node, unsigned t, int64_t rid,
                  char out[CF_UUID_TEXT_LEN]) {
  struct cf_notify *nt = node->nt;
  out[0] = '\0';
  if (nt->idq[t] == NULL) {
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT id FROM \"cf_%s\" WHERE rid = ?1",
             cf__schema_table(t)->name);
    int src = sqlite3_prepare_v3(node->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
                                 &nt->idq[t], NULL);
    if (src != SQLITE_OK) return cf__node_sqlerr(node, src, "row id");
  }
  sqlite3_stmt *st = nt->idq[t];
  sqlite3_reset(st);
  sqlite3_bind_int64(st, 1, rid);
  int src = sqlite3_step(st);
  int rc = CF_OK;
  if (src == SQLITE_ROW) {
    const char *id = (const char *)sqlite3_column_text(st, 0);
    if (id != NULL) snprintf(out, CF_UUID_TEXT_LEN, "%s", id);
  } else if (src != SQLITE_DONE) {
    rc = cf__node_sqlerr(node, src, "row id");
  }
  sqlite3_reset(st);
  return rc;
}

/* Builds the event of one journal row (or a RESYNC when j->origin is
** CF_CHANGE_RESYNC) and calls the change callback. */
static int deliver_event(struct cf_node *node, const jrow *j) {
  struct cf_notify *nt = node->nt;
  cf_change_table tables[CF_SCHEMA_NTABLES];
  size_t nt_count = 0;
  size_t nrows = j->p != NULL ? j->n / 9 : 0;
  char(*ids)[CF_UUID_TEXT_LEN] = NULL;
  const char **ptrs = NULL;
  int rc = CF_OK;
  if (nrows > 0) {
    ids = cf__calloc(nrows, sizeof *ids);
    ptrs = cf__calloc(nrows, sizeof *ptrs);
    if (ids == NULL || ptrs == NULL) {
      rc = cf__node_fail(node, CF_NOMEM, "out of memory");
      goto out;
    }
  }
  size_t at = 0;
  for (unsigned t = 0; t < CF_SCHEMA_NTABLES; t++) {
    if (!(j->tables & ((uint64_t)1 << t))) continue;
    cf_change_table *ct = &tables[nt_count++];
    ct->table = cf__schema_table(t)->name;
    ct->all_rows = j->p == NULL;
    ct->nrows = 0;
    ct->row_ids = ptrs != NULL ? ptrs + at : NULL;
    for (size_t i = 0; i < nrows; i++) {
      const unsigned char *e = j->p + 9 * i;
      if (e[0] != t) continue;
      uint64_t rid = 0;
      for (int b = 7; b >= 0; b--)
        rid = (rid << 8) | e[1 + b];
      if ((rc = row_id(node, t, (int64_t)rid, ids[at])) != CF_OK) goto out;
      if (ids[at][0] == '\0') continue; /* removed since: nothing to show */
      ptrs[at] = ids[at];
      at++;
      ct->nrows++;
    }
  }
  cf_change_event ev = {j->id, j->origin, nt_count, tables};
  nt->on_changes(nt->changes_ctx, &ev);
out:
  cf__free(ids);
  cf__free(ptrs);
  return rc;
}

static int deliver_resync(struct cf_node *node, int64_t id) {
  jrow j = {id, CF_CHANGE_RESYNC, ((uint64_t)1 << CF_SCHEMA_NTABLES) - 1, NULL, 0};
  return deliver_event(node, &j);
}

/* Reads up to 256 journal rows after the last delivered one.  OUT: rows[],
** *n. */
static int read_journal(struct cf_node *node, jrow *rows, size_t *n) {
  sqlite3_stmt *st;
  *n = 0;
  int rc = nt_stmt(node, NT_journal_since, &st);
  if (rc != CF_OK) return rc;
  sqlite3_bind_int64(st, 1, node->nt->seen_journal);
  int src;
  while ((src = sqlite3_step(st)) == SQLITE_ROW) {
    jrow *j = &rows[*n];
    memset(j, 0, sizeof *j);
    j->id = sqlite3_column_int64(st, 0);
    j->origin = sqlite3_column_int(st, 1);
    j->tables = (uint64_t)sqlite3_column_int64(st, 2);
    if (sqlite3_column_type(st, 3) == SQLITE_BLOB) {
      j->n = (size_t)sqlite3_column_bytes(st, 3);
      j->p = cf__malloc(j->n ? j->n : 1);
      if (j->p == NULL) {
        rc = cf__node_fail(node, CF_NOMEM, "out of memory");
        break;
      }
      if (j->n) memcpy(j->p, sqlite3_column_blob(st, 3), j->n);
    }
    (*n)++;
  }
  if (rc == CF_OK && src != SQLITE_DONE) rc = cf__node_sqlerr(node, src, "journal_since");
  sqlite3_reset(st);
  return rc;
}

/* Delivers the journal rows added since the last poll.  OUT: *mask, the
** tables they changed. */
static int deliver_journal(struct cf_node *node, uint64_t *mask) {
  struct cf_notify *nt = node->nt;
  enum { PAGE = 256 };
  jrow *rows = cf__calloc(PAGE, sizeof *rows);
  if (rows == NULL) return cf__node_fail(node, CF_NOMEM, "out of memory");
  int rc = CF_OK;
  size_t n;
  do {
    if ((rc = read_journal(node, rows, &n)) != CF_OK) n = 0;
    for (size_t i = 0; rc == CF_OK && i < n; i++) {
      if (rows[i].id != nt->seen_journal + 1) { /* pruned before we looked */
        *mask = ~(uint64_t)0;
        if (nt->on_changes) rc = deliver_resync(node, rows[i].id - 1);
      }
      *mask |= rows[i].tables;
      if (rc == CF_OK && nt->on_changes) rc = deliver_event(node, &rows[i]);
      nt->seen_journal = rows[i].id;
    }
    for (size_t i = 0; i < PAGE; i++) {
      cf__free(rows[i].p);
      rows[i].p = NULL;
    }
  } while (rc == CF_OK && n == PAGE);
  cf__free(rows);
  return rc;
}

typedef struct conflict_scan {
  struct cf_node *node; /* the node */
  int64_t after;        /* deliver conflicts with a greater id */
} conflict_scan;

static int conflict_cb(void *ctx, const cf_conflict_info *c) {
  conflict_scan *scan = ctx;
  struct cf_notify *nt = scan->node->nt;
  if (c->id > scan->after) nt->on_conflict(nt->conflict_ctx, c);
  return 0;
}

static int deliver_conflicts(struct cf_node *node) {
  struct cf_notify *nt = node->nt;
  int64_t head = 0;
  int rc = nt_int(node, NT_conflict_head, &head);
  if (rc != CF_OK || head <= nt->seen_conflict) return rc;
  conflict_scan scan = {node, nt->seen_conflict};
  nt->seen_conflict = head;
  if (nt->on_conflict == NULL) return CF_OK;
  return cf_node_conflicts_list(node, INT64_MAX, conflict_cb, &scan);
}

int cf_node_poll(cf_node *node) {
  if (node == NULL || node->nt == NULL) return CF_MISUSE;
  struct cf_notify *nt = node->nt;
  if (nt->delivering)
    return cf__node_fail(node, CF_MISUSE, "cf_node_poll called from its own callback");
  cf__node_settle(node);
  if (!sqlite3_get_autocommit(node->db))
    return cf__node_fail(node, CF_BUSY,
                         "a transaction is open: changes are delivered after it ends");
  nt->beacon_seen = cf__beacon_value();
  int64_t dv = 0;
  int rc = nt_int(node, NT_data_version, &dv);
  if (rc != CF_OK) return rc;
  int changed = dv != nt->data_version || nt->dirty;
  nt->data_version = dv;
  nt->dirty = 0;
  if (!changed && !nt->unjournaled && !cf__watch_pending(node)) return CF_OK;
  uint64_t mask = 0;
  nt->delivering = 1;
  if (changed) rc = deliver_journal(node, &mask);
  if (rc == CF_OK && nt->unjournaled) {
    nt->unjournaled = 0;
    mask = ~(uint64_t)0;
    if (nt->on_changes) rc = deliver_resync(node, nt->seen_journal);
  }
  if (rc == CF_OK && changed) rc = deliver_conflicts(node);
  if (rc == CF_OK) rc = cf__watch_run(node, mask, changed);
  nt->delivering = 0;
  return rc;
}

int cf_node_wait(cf_node *node, int timeout_ms) {
  if (node == NULL || node->nt == NULL) return 0;
  uint64_t seen = node->nt->beacon_seen;
  return cf__beacon_wait(seen, timeout_ms) != seen;
}

void cf_node_on_changes(cf_node *node, cf_changes_fn fn, void *ctx) {
  node->nt->on_changes = fn;
  node->nt->changes_ctx = ctx;
}

void cf_node_on_conflict(cf_node *node, cf_conflict_fn fn, void *ctx) {
  node->nt->on_conflict = fn;
  node->nt->conflict_ctx = ctx;
}

int64_t cf_node_changes(const cf_node *node) {
  return node != NULL && node->nt != NULL ? node->nt->last_changes : 0;
}
