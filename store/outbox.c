/*
** store/outbox.c: the outbox and the conflicts table (docs/replica.md,
** "Outbox" and "Conflicts"): counts and listings for apps, push batches and
** results for the sync layer, conflict retry and discard.
**
** The outbox records which row and which cells changed: the pending-change
** columns of each data table (_seq, _tx, _mask, _batch, _sent; store/ddl.c),
** written by the same statement as the row, listed by the view cf_outbox.
** A push batch is a merge of the ten tables' pending rows in seq order and
** reads the current values and versions of the changed cells.  An entry
** leaves the outbox only through cf__store_push_results() (applied,
** superseded, or rejected into cf_conflicts), and a conflict only through
** cf_node_conflict_retry() or cf_node_conflict_discard().
*/
#include <stdio.h>
#include <string.h>

#include "platform/platform.h"
#include "store/store.h"
#include "store/notify.h"
#include "store/store_int.h"
#include "store/vblob.h"

static int count_of(struct cf_node *node, cf_stmt_id id, int64_t *count) {
  if (node == NULL || count == NULL) return CF_MISUSE;
  *count = 0;
  cf__node_settle(node);
  sqlite3_stmt *st;
  int rc = cf__node_stmt(node, id, &st);
  if (rc != CF_OK) return rc;
  int src = sqlite3_step(st);
  if (src == SQLITE_ROW)
    *count = sqlite3_column_int64(st, 0);
  else
    rc = cf__node_sqlerr(node, src, "count");
  sqlite3_reset(st);
  return rc;
}

int cf_node_outbox_count(cf_node *node, int64_t *count) {
  return count_of(node, CF_SQL_outbox_count, count);
}

int cf_node_conflict_count(cf_node *node, int64_t *count) {
  return count_of(node, CF_SQL_conflict_count, count);
}

/* "col,col,deleted" of mask for t into out[cap]. */
static void mask_names(const cf_table *t, uint64_t mask, char *out, size_t cap) {
  size_t len = 0;
  out[0] = '\0';
  for (unsigned c = 0; c <= t->ncols; c++) {
    if (!(mask & CF_COL_BIT(c))) continue;
    const char *name = c < t->ncols ? t->cols[c].name : CF_SCHEMA_DELETED_NAME;
    int n = snprintf(out + len, cap - len, "%s%s", len ? "," : "", name);
    if (n < 0 || (size_t)n >= cap - len) break;
    len += (size_t)n;
  }
}

/* The id text of row rid of table tbl into out[CF_UUID_TEXT_LEN] ("" if the
** row is missing). */
static int row_id_of(struct cf_node *node, const cf_table *t, int64_t rid, char *out) {
  sqlite3_stmt *st;
  out[0] = '\0';
  int rc = cf__table_stmt(node, t->number, CF_TS_by_rid, &st);
  if (rc != CF_OK) return rc;
  sqlite3_bind_int64(st, 1, rid);
  int src = sqlite3_step(st);
  if (src == SQLITE_ROW) {
    const char *id = (const char *)sqlite3_column_text(st, 1 + t->id_col);
    if (id != NULL) snprintf(out, CF_UUID_TEXT_LEN, "%s", id);
  } else if (src != SQLITE_DONE) {
    rc = cf__node_sqlerr(node, src, "read row");
  }
  sqlite3_reset(st);
  return rc;
}

int cf_node_outbox_list(cf_node *node, int64_t limit, cf_change_fn fn, void *ctx) {
  if (node == NULL || fn == NULL) return CF_MISUSE;
  cf__node_settle(node);
  sqlite3_stmt *st;
  int rc = cf__node_stmt(node, CF_SQL_outbox_list, &st);
  if (rc != CF_OK) return rc;
  sqlite3_bind_int64(st, 1, limit);
  int src;
  while ((src = sqlite3_step(st)) == SQLITE_ROW) {
    const cf_table *t = cf__schema_table((unsigned)sqlite3_column_int(st, 2));
    if (t == NULL) {
      rc = cf__node_fail(node, CF_CORRUPT, "outbox entry of an unknown table");
      break;
    }
    char id[CF_UUID_TEXT_LEN], cols[1024];
    if ((rc = row_id_of(node, t, sqlite3_column_int64(st, 3), id)) != CF_OK) break;
    mask_names(t, (uint64_t)sqlite3_column_int64(st, 4), cols, sizeof cols);
    cf_change_info info = {
        sqlite3_column_int64(st, 0),     sqlite3_column_int64(st, 1), t->name, id, cols,
        sqlite3_column_int64(st, 5) != 0};
    if (fn(ctx, &info) != 0) break;
  }
  if (rc == CF_OK && src != SQLITE_ROW && src != SQLITE_DONE)
    rc = cf__node_sqlerr(node, src, "list outbox");
  sqlite3_reset(st);
  return rc;
}

int cf_node_conflicts_list(cf_node *node, int64_t limit, cf_conflict_fn fn, void *ctx) {
  if (node == NULL || fn == NULL) return CF_MISUSE;
  cf__node_settle(node);
  sqlite3_stmt *st;
  int rc = cf__node_stmt(node, CF_SQL_conflict_list, &st);
  if (rc != CF_OK) return rc;
  sqlite3_bind_int64(st, 1, limit);
  int src;
  while ((src = sqlite3_step(st)) == SQLITE_ROW) {
    const cf_table *t = cf__schema_table((unsigned)sqlite3_column_int(st, 3));
    if (t == NULL) {
      rc = cf__node_fail(node, CF_CORRUPT, "conflict of an unknown table");
      break;
    }
    char id[CF_UUID_TEXT_LEN], cols[1024];
    if ((rc = row_id_of(node, t, sqlite3_column_int64(st, 4), id)) != CF_OK) break;
    mask_names(t, (uint64_t)sqlite3_column_int64(st, 5), cols, sizeof cols);
    const char *msg = (const char *)sqlite3_column_text(st, 7);
    cf_conflict_info info = {sqlite3_column_int64(st, 0),
                             sqlite3_column_int64(st, 1),
                             t->name,
                             id,
                             cols,
                             sqlite3_column_int(st, 6),
                             msg ? msg : "",
                             sqlite3_column_int64(st, 8)};
    if (fn(ctx, &info) != 0) break;
  }
  if (rc == CF_OK && src != SQLITE_ROW && src != SQLITE_DONE)
    rc = cf__node_sqlerr(node, src, "list conflicts");
  sqlite3_reset(st);
  return rc;
}

/* --- conflicts: retry and discard ------------------------------------------ */

/* Reads conflict id: OUT table, rid and mask.  CF_NOTFOUND if none. */
static int conflict_get(struct cf_node *node, int64_t id, const cf_table **t,
                        int64_t *rid, uint64_t *mask) {
  sqlite3_stmt *st;
  int rc = cf__node_stmt(node, CF_SQL_conflict_get, &st);
  if (rc != CF_OK) return rc;
  sqlite3_bind_int64(st, 1, id);
  int src = sqlite3_step(st);
  if (src == SQLITE_ROW) {
    *t = cf__schema_table((unsigned)sqlite3_column_int(st, 0));
    *rid = sqlite3_column_int64(st, 1);
    *mask = (uint64_t)sqlite3_column_int64(st, 2);
    if (*t == NULL) rc = cf__node_fail(node, CF_CORRUPT, "conflict of an unknown table");
  } else if (src == SQLITE_DONE) {
    rc = cf__node_fail(node, CF_NOTFOUND, "no conflict %lld", (long long)id);
  } else {
    rc = cf__node_sqlerr(node, src, "read conflict");
  }
  sqlite3_reset(st);
  return rc;
}

/* The version blob of row rid with the cells in mask set to v, into
** blob[CF_VBLOB_MAX_LEN].  OUT: *len. */
static int restamped_blob(struct cf_node *node, const cf_table *t, int64_t rid,
                          uint64_t mask, const cf_ver *v, unsigned char *blob,
                          size_t *len, int *unversioned) {
  sqlite3_stmt *st;
  int rc = cf__table_stmt(node, t->number, CF_TS_by_rid, &st);
  if (rc != CF_OK) return rc;
  sqlite3_bind_int64(st, 1, rid);
  int src = sqlite3_step(st);
  if (src != SQLITE_ROW) {
    rc = src == SQLITE_DONE
             ? cf__node_fail(node, CF_CORRUPT, "the conflict's row is missing")
             : cf__node_sqlerr(node, src, "read row");
    sqlite3_reset(st);
    return rc;
  }
  cf_vrow vr;
  const void *vb = sqlite3_column_blob(st, (int)t->ncols + 2);
  rc = cf__vblob_decode(vb, (size_t)sqlite3_column_bytes(st, (int)t->ncols + 2),
                        t->ncols + 1, &vr);
  sqlite3_reset(st);
  if (rc != CF_OK) return cf__node_fail(node, CF_CORRUPT, "damaged version blob");
  *unversioned = 1;
  for (unsigned c = 0; c <= t->ncols; c++) {
    if (mask & CF_COL_BIT(c)) vr.v[c] = *v;
    if (!(t->key_mask & CF_COL_BIT(c)) && !cf__ver_is_zero(&vr.v[c])) *unversioned = 0;
  }
  *len = cf__vblob_encode(&vr, t->key_mask, blob);
  return CF_OK;
}

/* Runs a per-table statement that returns no rows with (rid, blob[, a, b]). */
static int run_table(struct cf_node *node, const cf_table *t, cf_tstmt_id id, int64_t rid,
                     const unsigned char *blob, size_t len, int64_t a, int64_t b) {
  sqlite3_stmt *st;
  int rc = cf__table_stmt(node, t->number, id, &st);
  if (rc != CF_OK) return rc;
  int np = sqlite3_bind_parameter_count(st);
  sqlite3_bind_int64(st, 1, rid);
  if (np >= 2) {
    if (blob != NULL)
      sqlite3_bind_blob(st, 2, blob, (int)len, SQLITE_STATIC);
    else
      sqlite3_bind_int64(st, 2, a);
  }
  if (np >= 3) sqlite3_bind_int64(st, 3, a);
  if (np >= 4) sqlite3_bind_int64(st, 4, b);
  int src = sqlite3_step(st);
  rc = src == SQLITE_DONE ? CF_OK : cf__node_sqlerr(node, src, "update row");
  sqlite3_reset(st);
  return rc;
}

/* retry: fresh version + new outbox entry; discard: zero version. */
static int conflict_resolve(cf_node *node, int64_t id, int retry) {
  if (node == NULL) return CF_MISUSE;
  node->errmsg[0] = '\0';
  const cf_table *t = NULL;
  int64_t rid = 0;
  uint64_t mask = 0;
  int rc = cf__node_begin(node);
  if (rc != CF_OK) return rc;
  if ((rc = conflict_get(node, id, &t, &rid, &mask)) != CF_OK) goto out;
  cf_ver v;
  memset(&v, 0, sizeof v);
  if (retry) cf__node_tick(node, &v);
  unsigned char blob[CF_VBLOB_MAX_LEN];
  size_t len = 0;
  int unversioned = 0;
  if ((rc = restamped_blob(node, t, rid, mask, &v, blob, &len, &unversioned)) != CF_OK)
    goto out;
  if (retry) /* new version and a pending entry at the end of the outbox */
    rc = run_table(node, t, CF_TS_requeue, rid, blob, len, (int64_t)cf__ver_hlc(&v),
                   (int64_t)mask);
  else if (unversioned)
    /* Every cell of the row came from the rejected change (a rejected
    ** insert): the master never had it and never will, so discarding it
    ** removes the row, and the replica matches the master again. */
    rc = run_table(node, t, CF_TS_drop, rid, NULL, 0, 0, 0);
  else
    rc = run_table(node, t, CF_TS_set_v, rid, blob, len, 0, 0);
  if (rc != CF_OK) goto out;
  if ((rc = cf__node_run(node, CF_SQL_conflict_delete, id, 0)) != CF_OK) goto out;
  rc = cf__node_commit(node);
out:
  if (rc != CF_OK) cf__node_rollback(node);
  return rc;
}

int cf_node_conflict_retry(cf_node *node, int64_t id) {
  return conflict_resolve(node, id, 1);
}
int cf_node_conflict_discard(cf_node *node, int64_t id) {
  return conflict_resolve(node, id, 0);
}

/* --- push ------------------------------------------------------------------ */

void cf__store_push_free(cf__push_batch *batch) {
  if (batch == NULL) return;
  if (batch->bytes != NULL)
    for (size_t i = 0; i < batch->n; i++)
      cf__free(batch->bytes[i]);
  cf__free(batch->bytes);
  cf__free(batch->items);
  cf__free(batch);
}

/* Fills item from the current row of its table: the key cells and the cells
** in its mask, bytes copied into *bytes (cf__malloc'd). */
static int load_item(struct cf_node *node, const cf_table *t, int64_t rid,
                     cf__push_item *item, char **bytes) {
  sqlite3_stmt *st;
  int rc = cf__table_stmt(node, t->number, CF_TS_by_rid, &st);
  if (rc != CF_OK) return rc;
  sqlite3_bind_int64(st, 1, rid);
  int src = sqlite3_step(st);
  cf_row row;
  int64_t got;
  if (src != SQLITE_ROW) {
    rc = src == SQLITE_DONE
             ? cf__node_fail(node, CF_CORRUPT, "an outbox entry's row is missing")
             : cf__node_sqlerr(node, src, "read row");
    goto out;
  }
  if ((rc = cf__store_load_row(node, t, st, &row, &got)) != CF_OK) goto out;
  row.present &= item->mask | t->key_mask;
  size_t total = 0;
  for (unsigned c = 0; c <= t->ncols; c++)
    if ((row.present & CF_COL_BIT(c)) && (row.cells[c].value.kind == CF_VALUE_TEXT ||
                                          row.cells[c].value.kind == CF_VALUE_BLOB))
      total += row.cells[c].value.n + 1;
  char *p = cf__malloc(total);
  if (p == NULL) {
    rc = cf__node_fail(node, CF_NOMEM, "out of memory");
    goto out;
  }
  *bytes = p;
  for (unsigned c = 0; c <= t->ncols; c++) {
    cf_value *v = &row.cells[c].value;
    if (!(row.present & CF_COL_BIT(c)) ||
        (v->kind != CF_VALUE_TEXT && v->kind != CF_VALUE_BLOB))
      continue;
    if (v->n) memcpy(p, v->p, v->n);
    p[v->n] = '\0';
    v->p = p;
    p += v->n + 1;
  }
  item->change = row;
out:
  sqlite3_reset(st);
  return rc;
}

/* The head of one table's unsent pending changes, for the merge. */
typedef struct pending_head {
  int valid;     /* 1 if the fields below hold the table's next entry */
  int done;      /* 1 if the table has no more entries after `after` */
  int64_t rid;   /* the row */
  int64_t seq;   /* its _seq */
  int64_t tx;    /* its _tx */
  uint64_t mask; /* its _mask */
} pending_head;

/* Loads the first unsent pending change of table n with seq > after. */
static int next_pending(struct cf_node *node, unsigned n, int64_t after,
                        pending_head *h) {
  sqlite3_stmt *st;
  int rc = cf__table_stmt(node, n, CF_TS_pending_next, &st);
  if (rc != CF_OK) return rc;
  sqlite3_bind_int64(st, 1, after);
  int src = sqlite3_step(st);
  h->valid = 0;
  if (src == SQLITE_ROW) {
    h->valid = 1;
    h->rid = sqlite3_column_int64(st, 0);
    h->seq = sqlite3_column_int64(st, 1);
    h->tx = sqlite3_column_int64(st, 2);
    h->mask = (uint64_t)sqlite3_column_int64(st, 3);
  } else if (src == SQLITE_DONE) {
    h->done = 1;
  } else {
    rc = cf__node_sqlerr(node, src, "read outbox");
  }
  sqlite3_reset(st);
  return rc;
}

int cf__store_push_next(cf_node *node, size_t max, cf__push_batch **out) {
  if (out == NULL) return CF_MISUSE;
  *out = NULL;
  if (node == NULL || max == 0 || max > CF_PUSH_MAX_ITEMS) return CF_MISUSE;
  node->errmsg[0] = '\0';
  cf__push_batch *b = cf__calloc(1, sizeof *b);
  if (b == NULL) return cf__node_fail(node, CF_NOMEM, "out of memory");
  b->items = cf__calloc(max, sizeof *b->items);
  b->bytes = cf__calloc(max, sizeof *b->bytes);
  unsigned *tbls = cf__calloc(max, sizeof *tbls);
  int64_t *rids = cf__calloc(max, sizeof *rids);
  int rc = CF_OK;
  if (b->items == NULL || b->bytes == NULL || tbls == NULL || rids == NULL) {
    cf__free(tbls);
    cf__free(rids);
    cf__store_push_free(b);
    return cf__node_fail(node, CF_NOMEM, "out of memory");
  }
  if ((rc = cf__node_begin(node)) != CF_OK) {
    cf__free(tbls);
    cf__free(rids);
    cf__store_push_free(b); /* not ours to roll back: the app's transaction */
    return rc;
  }
  cf__notify_origin(node, CF__ORIGIN_QUIET); /* pending columns only */
  /* A merge of the tables' pending changes in seq order; whole local
  ** transactions, unless the first alone is bigger than max. */
  pending_head heads[CF_SCHEMA_NTABLES];
  memset(heads, 0, sizeof heads);
  size_t last_boundary = 0; /* items before it form whole transactions */
  for (;;) {
    int best = -1;
    for (unsigned n = 0; n < CF_SCHEMA_NTABLES; n++) {
      if (!heads[n].valid && !heads[n].done &&
          (rc = next_pending(node, n, b->n ? b->items[b->n - 1].seq : 0, &heads[n])) !=
              CF_OK)
        goto fail;
      if (heads[n].valid && (best < 0 || heads[n].seq < heads[best].seq)) best = (int)n;
    }
    if (best < 0) {
      last_boundary = b->n;
      break;
    }
    pending_head *h = &heads[best];
    if (b->n > 0 && h->tx != b->items[b->n - 1].tx) last_boundary = b->n;
    if (b->n == max) {
      if (last_boundary == 0) last_boundary = b->n; /* one huge transaction */
      break;
    }
    const cf_table *t = cf__schema_table((unsigned)best);
    cf__push_item *item = &b->items[b->n];
    item->seq = h->seq;
    item->tx = h->tx;
    item->mask = h->mask & ~t->key_mask;
    if ((rc = load_item(node, t, h->rid, item, &b->bytes[b->n])) != CF_OK) goto fail;
    tbls[b->n] = (unsigned)best;
    rids[b->n] = h->rid;
    b->n++;
    h->valid = 0;
  }
  while (b->n > last_boundary) { /* drop a trailing partial transaction */
    b->n--;
    cf__free(b->bytes[b->n]);
    b->bytes[b->n] = NULL;
  }
  b->id = b->n > 0 ? b->items[0].seq : 0;
  for (size_t i = 0; i < b->n; i++)
    if ((rc = run_table(node, cf__schema_table(tbls[i]), CF_TS_mark, rids[i], NULL, 0,
                        b->id, 0)) != CF_OK)
      goto fail;
  if ((rc = cf__node_commit(node)) != CF_OK) goto fail;
  cf__free(tbls);
  cf__free(rids);
  *out = b;
  return CF_OK;
fail:
  cf__node_rollback(node);
  cf__free(tbls);
  cf__free(rids);
  cf__store_push_free(b);
  return rc;
}

/* Finds the row whose pending change (or earlier sent change) has seq.
** OUT: *t, *rid, *tx, *mask, *sent (1 if it matched _sent).  CF_NOTFOUND if
** no row has it. */
static int find_seq(struct cf_node *node, int64_t seq, const cf_table **t, int64_t *rid,
                    int64_t *tx, uint64_t *mask, int *sent) {
  for (int pass = 0; pass < 2; pass++) {
    for (unsigned n = 0; n < CF_SCHEMA_NTABLES; n++) {
      sqlite3_stmt *st;
      int rc = cf__table_stmt(node, n, pass == 0 ? CF_TS_find_seq : CF_TS_find_sent, &st);
      if (rc != CF_OK) return rc;
      sqlite3_bind_int64(st, 1, seq);
      int src = sqlite3_step(st);
      if (src == SQLITE_ROW) {
        *t = cf__schema_table(n);
        *rid = sqlite3_column_int64(st, 0);
        *tx = sqlite3_column_int64(st, 1);
        *mask = (uint64_t)sqlite3_column_int64(st, 2);
        *sent = pass;
      }
      sqlite3_reset(st);
      if (src == SQLITE_ROW) return CF_OK;
      if (src != SQLITE_DONE) return cf__node_sqlerr(node, src, "find outbox entry");
    }
  }
  return CF_NOTFOUND;
}

/* Records one result. */
static int push_result(struct cf_node *node, const cf__store_push_result *r) {
  if (r->outcome != CF_PUSH_APPLIED && r->outcome != CF_PUSH_SUPERSEDED &&
      r->outcome != CF_PUSH_REJECTED)
    return cf__node_fail(node, CF_INVALID, "unknown push outcome %d", (int)r->outcome);
  const cf_table *t = NULL;
  int64_t rid = 0, tx = 0;
  uint64_t mask = 0;
  int sent = 0;
  int rc = find_seq(node, r->seq, &t, &rid, &tx, &mask, &sent);
  if (rc == CF_NOTFOUND) return CF_OK; /* answered before */
  if (rc != CF_OK) return rc;
  if (r->outcome == CF_PUSH_REJECTED) {
    sqlite3_stmt *st;
    if ((rc = cf__node_stmt(node, CF_SQL_conflict_insert, &st)) != CF_OK) return rc;
    sqlite3_bind_int64(st, 1, r->seq);
    sqlite3_bind_int64(st, 2, tx);
    sqlite3_bind_int(st, 3, (int)t->number);
    sqlite3_bind_int64(st, 4, rid);
    sqlite3_bind_int64(st, 5, (int64_t)mask);
    sqlite3_bind_int(st, 6, r->code);
    sqlite3_bind_text(st, 7, r->message ? r->message : cf_strerror(r->code), -1,
                      SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, cf__now_ms());
    int src = sqlite3_step(st);
    if (src != SQLITE_DONE) rc = cf__node_sqlerr(node, src, "record conflict");
    sqlite3_reset(st);
    if (rc != CF_OK) return rc;
  }
  return run_table(node, t, sent ? CF_TS_clear_sent : CF_TS_clear_seq, rid, NULL, 0, 0,
                   0);
}

int cf__store_push_release(cf_node *node, cf__push_batch *batch, size_t keep) {
  if (node == NULL || batch == NULL || keep > batch->n) return CF_MISUSE;
  node->errmsg[0] = '\0';
  int rc = cf__node_begin(node);
  if (rc != CF_OK) return rc;
  cf__notify_origin(node, CF__ORIGIN_QUIET);
  for (size_t i = keep; i < batch->n && rc == CF_OK; i++) {
    const cf_table *t = NULL;
    int64_t rid = 0, tx = 0;
    uint64_t mask = 0;
    int sent = 0;
    rc = find_seq(node, batch->items[i].seq, &t, &rid, &tx, &mask, &sent);
    if (rc == CF_NOTFOUND) {
      rc = CF_OK; /* answered or dropped meanwhile */
      continue;
    }
    if (rc == CF_OK && !sent)
      rc = run_table(node, t, CF_TS_unmark_row, rid, NULL, 0, 0, 0);
  }
  if (rc == CF_OK) rc = cf__node_commit(node);
  if (rc != CF_OK) {
    cf__node_rollback(node);
    return rc;
  }
  for (size_t i = keep; i < batch->n; i++) {
    cf__free(batch->bytes[i]);
    batch->bytes[i] = NULL;
  }
  batch->n = keep;
  return CF_OK;
}

int cf__store_push_results(cf_node *node, const cf__store_push_result *res, size_t n) {
  if (node == NULL || (res == NULL && n > 0)) return CF_MISUSE;
  node->errmsg[0] = '\0';
  int rc = cf__node_begin(node);
  if (rc != CF_OK) return rc;
  cf__notify_origin(node, CF__ORIGIN_QUIET);
  for (size_t i = 0; i < n && rc == CF_OK; i++)
    rc = push_result(node, &res[i]);
  /* The cleared entries' seqs were part of the persisted clock. */
  if (rc == CF_OK) rc = cf__node_persist_clock(node);
  if (rc == CF_OK) rc = cf__node_commit(node);
  if (rc != CF_OK) cf__node_rollback(node);
  return rc;
}

int cf__store_push_requeue(cf_node *node) {
  if (node == NULL) return CF_MISUSE;
  node->errmsg[0] = '\0';
  int rc = cf__node_begin(node);
  if (rc != CF_OK) return rc;
  cf__notify_origin(node, CF__ORIGIN_QUIET);
  for (unsigned n = 0; n < CF_SCHEMA_NTABLES && rc == CF_OK; n++) {
    sqlite3_stmt *st;
    if ((rc = cf__table_stmt(node, n, CF_TS_unmark, &st)) != CF_OK) break;
    int src = sqlite3_step(st);
    if (src != SQLITE_DONE) rc = cf__node_sqlerr(node, src, "requeue");
    sqlite3_reset(st);
  }
  if (rc == CF_OK) rc = cf__node_commit(node);
  if (rc != CF_OK) cf__node_rollback(node);
  return rc;
}
