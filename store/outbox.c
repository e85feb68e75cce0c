/*
** store/outbox.c: the outbox and the conflicts table (docs/replica.md,
** "Outbox" and "Conflicts"): counts and listings for apps, push batches and
** results for the sync layer, conflict retry and discard.
**
** The outbox logs which row and which cells changed (cf_outbox, described in
** store/node.c); a push batch reads the current values and versions of those
** cells.  An entry leaves the outbox only through cf__store_push_results()
** (applied, superseded, or rejected into cf_conflicts), and a conflict only
** through cf_node_conflict_retry() or cf_node_conflict_discard().
*/
#include <stdio.h>
#include <string.h>

#include "platform/platform.h"
#include "store/store.h"
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
  cf_table_stmts *ts;
  out[0] = '\0';
  int rc = cf__ddl_stmts(node, t->number, &ts);
  if (rc != CF_OK) return rc;
  sqlite3_reset(ts->by_rid);
  sqlite3_bind_int64(ts->by_rid, 1, rid);
  int src = sqlite3_step(ts->by_rid);
  if (src == SQLITE_ROW) {
    const char *id = (const char *)sqlite3_column_text(ts->by_rid, 1 + t->id_col);
    if (id != NULL) snprintf(out, CF_UUID_TEXT_LEN, "%s", id);
  } else if (src != SQLITE_DONE) {
    rc = cf__node_sqlerr(node, src, "read row");
  }
  sqlite3_reset(ts->by_rid);
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
    cf_change_info info = {sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1), t->name, id,
                           cols, sqlite3_column_int64(st, 5) != 0};
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
    cf_conflict_info info = {sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1), t->name,
                             id, cols, sqlite3_column_int(st, 6), msg ? msg : "",
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
static int conflict_get(struct cf_node *node, int64_t id, const cf_table **t, int64_t *rid,
                        uint64_t *mask) {
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

/* Sets the versions of the cells in mask of row rid to v. */
static int restamp(struct cf_node *node, const cf_table *t, int64_t rid, uint64_t mask,
                   const cf_ver *v) {
  cf_table_stmts *ts;
  int rc = cf__ddl_stmts(node, t->number, &ts);
  if (rc != CF_OK) return rc;
  sqlite3_reset(ts->by_rid);
  sqlite3_bind_int64(ts->by_rid, 1, rid);
  int src = sqlite3_step(ts->by_rid);
  if (src != SQLITE_ROW) {
    rc = src == SQLITE_DONE ? cf__node_fail(node, CF_CORRUPT, "the conflict's row is missing")
                            : cf__node_sqlerr(node, src, "read row");
    sqlite3_reset(ts->by_rid);
    return rc;
  }
  cf_vrow vr;
  const void *vb = sqlite3_column_blob(ts->by_rid, (int)t->ncols + 2);
  rc = cf__vblob_decode(vb, (size_t)sqlite3_column_bytes(ts->by_rid, (int)t->ncols + 2),
                        t->ncols + 1, &vr);
  sqlite3_reset(ts->by_rid);
  if (rc != CF_OK) return cf__node_fail(node, CF_CORRUPT, "damaged version blob");
  for (unsigned c = 0; c <= t->ncols; c++)
    if (mask & CF_COL_BIT(c)) vr.v[c] = *v;
  unsigned char blob[CF_VBLOB_MAX_LEN];
  size_t len = cf__vblob_encode(&vr, t->key_mask, blob);
  sqlite3_reset(ts->set_v);
  sqlite3_bind_int64(ts->set_v, 1, rid);
  sqlite3_bind_blob(ts->set_v, 2, blob, (int)len, SQLITE_STATIC);
  src = sqlite3_step(ts->set_v);
  rc = src == SQLITE_DONE ? CF_OK : cf__node_sqlerr(node, src, "restamp row");
  sqlite3_reset(ts->set_v);
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
  if ((rc = restamp(node, t, rid, mask, &v)) != CF_OK) goto out;
  if (retry) {
    sqlite3_stmt *st;
    if ((rc = cf__node_stmt(node, CF_SQL_outbox_append, &st)) != CF_OK) goto out;
    sqlite3_bind_int64(st, 1, (int64_t)cf__ver_hlc(&v));
    sqlite3_bind_int(st, 2, (int)t->number);
    sqlite3_bind_int64(st, 3, rid);
    sqlite3_bind_int64(st, 4, (int64_t)mask);
    int src = sqlite3_step(st);
    if (src != SQLITE_DONE) rc = cf__node_sqlerr(node, src, "requeue");
    sqlite3_reset(st);
    if (rc != CF_OK) goto out;
    if ((rc = cf__node_persist_clock(node)) != CF_OK) goto out;
  }
  if ((rc = cf__node_run(node, CF_SQL_conflict_delete, id, 0)) != CF_OK) goto out;
  rc = cf__node_commit(node);
out:
  if (rc != CF_OK) cf__node_rollback(node);
  return rc;
}

int cf_node_conflict_retry(cf_node *node, int64_t id) { return conflict_resolve(node, id, 1); }
int cf_node_conflict_discard(cf_node *node, int64_t id) { return conflict_resolve(node, id, 0); }

/* --- push ------------------------------------------------------------------ */

void cf__store_push_free(cf__push_batch *batch) {
  if (batch == NULL) return;
  if (batch->bytes != NULL)
    for (size_t i = 0; i < batch->n; i++) cf__free(batch->bytes[i]);
  cf__free(batch->bytes);
  cf__free(batch->items);
  cf__free(batch);
}

/* Fills item from the current row of its table: the key cells and the cells
** in its mask, bytes copied into *bytes (cf__malloc'd). */
static int load_item(struct cf_node *node, const cf_table *t, int64_t rid, cf__push_item *item,
                     char **bytes) {
  cf_table_stmts *ts;
  int rc = cf__ddl_stmts(node, t->number, &ts);
  if (rc != CF_OK) return rc;
  sqlite3_stmt *st = ts->by_rid;
  sqlite3_reset(st);
  sqlite3_bind_int64(st, 1, rid);
  int src = sqlite3_step(st);
  cf_row row;
  int64_t got;
  if (src != SQLITE_ROW) {
    rc = src == SQLITE_DONE ? cf__node_fail(node, CF_CORRUPT, "an outbox entry's row is missing")
                            : cf__node_sqlerr(node, src, "read row");
    goto out;
  }
  if ((rc = cf__store_load_row(node, t, st, &row, &got)) != CF_OK) goto out;
  row.present &= item->mask | t->key_mask;
  size_t total = 0;
  for (unsigned c = 0; c <= t->ncols; c++)
    if ((row.present & CF_COL_BIT(c)) &&
        (row.cells[c].value.kind == CF_VALUE_TEXT || row.cells[c].value.kind == CF_VALUE_BLOB))
      total += row.cells[c].value.n + 1;
  char *p = cf__malloc(total);
  if (p == NULL) {
    rc = cf__node_fail(node, CF_NOMEM, "out of memory");
    goto out;
  }
  *bytes = p;
  for (unsigned c = 0; c <= t->ncols; c++) {
    cf_value *v = &row.cells[c].value;
    if (!(row.present & CF_COL_BIT(c)) || (v->kind != CF_VALUE_TEXT && v->kind != CF_VALUE_BLOB))
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

int cf__store_push_next(cf_node *node, size_t max, cf__push_batch **out) {
  if (out == NULL) return CF_MISUSE;
  *out = NULL;
  if (node == NULL || max == 0 || max > 100000) return CF_MISUSE;
  node->errmsg[0] = '\0';
  cf__push_batch *b = cf__calloc(1, sizeof *b);
  if (b == NULL) return cf__node_fail(node, CF_NOMEM, "out of memory");
  b->items = cf__calloc(max, sizeof *b->items);
  b->bytes = cf__calloc(max, sizeof *b->bytes);
  int rc = CF_OK;
  if (b->items == NULL || b->bytes == NULL) {
    rc = cf__node_fail(node, CF_NOMEM, "out of memory");
    goto fail;
  }
  if ((rc = cf__node_begin(node)) != CF_OK) {
    cf__store_push_free(b); /* not ours to roll back: the app's transaction */
    return rc;
  }
  /* Pick entries: whole transactions, unless the first alone is too big. */
  int64_t after = 0;
  size_t last_boundary = 0; /* items before it form whole transactions */
  for (;;) {
    sqlite3_stmt *st;
    if ((rc = cf__node_stmt(node, CF_SQL_outbox_next, &st)) != CF_OK) goto fail;
    sqlite3_bind_int64(st, 1, after);
    int src = sqlite3_step(st);
    if (src == SQLITE_DONE) {
      sqlite3_reset(st);
      last_boundary = b->n;
      break;
    }
    if (src != SQLITE_ROW) {
      rc = cf__node_sqlerr(node, src, "read outbox");
      sqlite3_reset(st);
      goto fail;
    }
    int64_t seq = sqlite3_column_int64(st, 0), tx = sqlite3_column_int64(st, 1);
    unsigned tbl = (unsigned)sqlite3_column_int(st, 2);
    int64_t rid = sqlite3_column_int64(st, 3);
    uint64_t mask = (uint64_t)sqlite3_column_int64(st, 4);
    sqlite3_reset(st);
    if (b->n > 0 && tx != b->items[b->n - 1].tx) last_boundary = b->n;
    if (b->n == max) {
      if (last_boundary == 0) last_boundary = b->n; /* one huge transaction */
      break;
    }
    const cf_table *t = cf__schema_table(tbl);
    if (t == NULL) {
      rc = cf__node_fail(node, CF_CORRUPT, "outbox entry of an unknown table");
      goto fail;
    }
    cf__push_item *item = &b->items[b->n];
    item->seq = seq;
    item->tx = tx;
    item->mask = mask & ~t->key_mask;
    if ((rc = load_item(node, t, rid, item, &b->bytes[b->n])) != CF_OK) goto fail;
    b->n++;
    after = seq;
  }
  /* Drop a trailing partial transaction. */
  while (b->n > last_boundary) {
    b->n--;
    cf__free(b->bytes[b->n]);
    b->bytes[b->n] = NULL;
  }
  b->id = b->n > 0 ? b->items[0].seq : 0;
  for (size_t i = 0; i < b->n; i++)
    if ((rc = cf__node_run(node, CF_SQL_outbox_mark, b->items[i].seq, b->id)) != CF_OK) goto fail;
  if ((rc = cf__node_commit(node)) != CF_OK) goto fail;
  *out = b;
  return CF_OK;
fail:
  cf__node_rollback(node);
  cf__store_push_free(b);
  return rc;
}

int cf__store_push_results(cf_node *node, const cf__push_result *res, size_t n) {
  if (node == NULL || (res == NULL && n > 0)) return CF_MISUSE;
  node->errmsg[0] = '\0';
  int rc = cf__node_begin(node);
  if (rc != CF_OK) return rc;
  for (size_t i = 0; i < n && rc == CF_OK; i++) {
    const cf__push_result *r = &res[i];
    if (r->outcome == CF__OUTCOME_REJECTED) {
      sqlite3_stmt *st;
      if ((rc = cf__node_stmt(node, CF_SQL_conflict_from_outbox, &st)) != CF_OK) break;
      sqlite3_bind_int64(st, 1, r->seq);
      sqlite3_bind_int(st, 2, r->code);
      sqlite3_bind_text(st, 3, r->message ? r->message : cf_strerror(r->code), -1, SQLITE_STATIC);
      sqlite3_bind_int64(st, 4, cf__now_ms());
      int src = sqlite3_step(st);
      if (src != SQLITE_DONE) rc = cf__node_sqlerr(node, src, "record conflict");
      sqlite3_reset(st);
    } else if (r->outcome != CF__OUTCOME_APPLIED && r->outcome != CF__OUTCOME_SUPERSEDED) {
      rc = cf__node_fail(node, CF_INVALID, "unknown push outcome %d", (int)r->outcome);
    }
    if (rc == CF_OK) rc = cf__node_run(node, CF_SQL_outbox_delete, r->seq, 0);
  }
  /* The removed entries' seqs were part of the persisted clock. */
  if (rc == CF_OK) rc = cf__node_persist_clock(node);
  if (rc == CF_OK) rc = cf__node_commit(node);
  if (rc != CF_OK) cf__node_rollback(node);
  return rc;
}

int cf__store_push_requeue(cf_node *node) {
  if (node == NULL) return CF_MISUSE;
  node->errmsg[0] = '\0';
  cf__node_settle(node);
  return cf__node_run(node, CF_SQL_outbox_unmark_all, 0, 0);
}
