/*
** store/apply.c: applying remote rows to the replica through the one merge
** function (core/merge.h), and reading rows back.  Design: docs/replica.md,
** "Applying remote rows".
**
** A batch is one SQLite transaction: every row is merged cell by cell with
** the local row (versions from its _v blob, store/vblob.h), only rows where
** the remote side wins somewhere are written, the clock receives every
** remote version (refusing one too far ahead), its ceiling is persisted and
** the pull cursor is stored, then the transaction commits.  Remote rows are
** not logged in the outbox; local entries stay, and a local cell whose
** version is newer than the remote one is kept by the merge, so pending
** local changes stay visible.
*/
#include <string.h>

#include "core/merge.h"
#include "core/value.h"
#include "platform/platform.h"
#include "store/store.h"
#include "store/notify.h"
#include "store/store_int.h"
#include "store/vblob.h"

_Static_assert(CF_SCHEMA_NTABLES <= 32, "apply_lookup has one bit per table");

/* The column value i of st as a borrowed cf_value. */
static int column_value(sqlite3_stmt *st, int i, cf_value *out) {
  switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER:
      *out = cf__value_int(sqlite3_column_int64(st, i));
      return CF_OK;
    case SQLITE_FLOAT:
      *out = cf__value_real(sqlite3_column_double(st, i));
      return CF_OK;
    case SQLITE_TEXT: {
      const unsigned char *p = sqlite3_column_text(st, i);
      if (p == NULL) return CF_NOMEM;
      *out = cf__value_text((const char *)p, (size_t)sqlite3_column_bytes(st, i));
      return CF_OK;
    }
    case SQLITE_BLOB: {
      const void *p = sqlite3_column_blob(st, i);
      size_t n = (size_t)sqlite3_column_bytes(st, i);
      if (p == NULL && n > 0) return CF_NOMEM;
      *out = cf__value_blob(p, n);
      return CF_OK;
    }
    default:
      *out = cf__value_null();
      return CF_OK;
  }
}

int cf__store_load_row(struct cf_node *node, const cf_table *t, sqlite3_stmt *st,
                       cf_row *row, int64_t *rid) {
  unsigned n = t->ncols + 1;
  cf_vrow vr;
  const void *vb = sqlite3_column_blob(st, (int)t->ncols + 2);
  size_t vlen = (size_t)sqlite3_column_bytes(st, (int)t->ncols + 2);
  if (vb == NULL && vlen > 0) return cf__node_fail(node, CF_NOMEM, "out of memory");
  if (cf__vblob_decode(vb, vlen, n, &vr) != CF_OK)
    return cf__node_fail(node, CF_CORRUPT, "a row of %s has a damaged version blob",
                         t->name);
  cf__row_init(row, t);
  for (unsigned c = 0; c < t->ncols; c++) {
    cf_value v;
    if (column_value(st, (int)c + 1, &v) != CF_OK)
      return cf__node_fail(node, CF_NOMEM, "out of memory");
    int is_key = (t->key_mask & CF_COL_BIT(c)) != 0;
    if (cf__row_set(row, c, &v, is_key ? NULL : &vr.v[c]) != CF_OK)
      return cf__node_fail(node, CF_CORRUPT, "a row of %s cannot be read", t->name);
  }
  int64_t deleted = sqlite3_column_int64(st, (int)t->ncols + 1);
  cf__row_set_deleted(row, deleted != 0, &vr.v[t->ncols]);
  *rid = sqlite3_column_int64(st, 0);
  return CF_OK;
}

/* Binds value v to parameter idx of st (bytes borrowed: SQLITE_STATIC). */
static int bind_value(sqlite3_stmt *st, int idx, const cf_value *v) {
  switch (v->kind) {
    case CF_VALUE_INT:
      return sqlite3_bind_int64(st, idx, v->i);
    case CF_VALUE_REAL:
      return sqlite3_bind_double(st, idx, v->d);
    case CF_VALUE_TEXT:
      return sqlite3_bind_text64(st, idx, v->p, v->n, SQLITE_STATIC, SQLITE_UTF8);
    case CF_VALUE_BLOB:
      return sqlite3_bind_blob64(st, idx, v->p, v->n, SQLITE_STATIC);
    default:
      return sqlite3_bind_null(st, idx);
  }
}

/* Writes row (merged) as a new row (rid < 0) or over rid.  A new row whose
** id the replica holds already is not written (INSERT OR IGNORE).  OUT:
** *written (may be NULL), 1 if a row was written. */
static int write_row(struct cf_node *node, const cf_row *row, int64_t rid, int *written) {
  const cf_table *t = row->table;
  sqlite3_stmt *st;
  int rc = cf__table_stmt(node, t->number, rid < 0 ? CF_TS_insert : CF_TS_update, &st);
  if (rc != CF_OK) return rc;
  cf_vrow vr;
  static const cf_ver zero;
  cf__vrow_fill(&vr, t->ncols + 1, &zero);
  int src = SQLITE_OK;
  for (unsigned c = 0; src == SQLITE_OK && c < t->ncols; c++) {
    const cf_cell *cell = cf__row_cell(row, c);
    cf_value null = cf__value_null();
    src = bind_value(st, (int)c + 1, cell != NULL ? &cell->value : &null);
    if (cell != NULL) vr.v[c] = cell->ver;
  }
  const cf_cell *del = cf__row_cell(row, t->ncols);
  if (del != NULL) vr.v[t->ncols] = del->ver;
  unsigned char blob[CF_VBLOB_MAX_LEN];
  size_t blen = cf__vblob_encode(&vr, t->key_mask, blob);
  if (src == SQLITE_OK)
    src = sqlite3_bind_int(st, (int)t->ncols + 1, cf__row_is_deleted(row));
  if (src == SQLITE_OK)
    src = sqlite3_bind_blob(st, (int)t->ncols + 2, blob, (int)blen, SQLITE_STATIC);
  if (src == SQLITE_OK && rid >= 0) src = sqlite3_bind_int64(st, (int)t->ncols + 3, rid);
  if (src == SQLITE_OK) src = sqlite3_step(st);
  rc = src == SQLITE_DONE ? CF_OK : cf__node_sqlerr(node, src, "write remote row");
  if (written != NULL) *written = rc == CF_OK && sqlite3_changes(node->db) > 0;
  sqlite3_reset(st);
  return rc;
}

/* Checks the change's key and org, and that its values are canonical. */
static int check_change(struct cf_node *node, const cf_change *ch) {
  const cf_table *t = ch->table;
  if (t == NULL || cf__schema_table(t->number) != t)
    return cf__node_fail(node, CF_INVALID, "remote row of an unknown table");
  for (unsigned k = 0; k < t->nkey; k++)
    if (cf__row_cell(ch, t->key[k]) == NULL)
      return cf__node_fail(node, CF_INVALID, "remote row of %s without its key", t->name);
  int scope = t->org_col >= 0                         ? t->org_col
              : strcmp(t->name, "organizations") == 0 ? t->id_col
                                                      : -1;
  if (scope >= 0) {
    const cf_value *org = &cf__row_cell(ch, (unsigned)scope)->value;
    if (org->kind != CF_VALUE_TEXT || org->n != strlen(node->org_id) ||
        memcmp(org->p, node->org_id, org->n) != 0)
      return cf__node_fail(node, CF_WRONG_ORG, "remote row of %s belongs to another org",
                           t->name);
  }
  for (unsigned c = 0; c < t->ncols; c++) {
    const cf_cell *cell = cf__row_cell(ch, c);
    if (cell == NULL || cell->value.kind == CF_VALUE_NULL) continue; /* partial rows */
    int yes = 0;
    int rc = cf__value_is_canon(&t->cols[c], &cell->value, &node->scratch, &yes);
    if (rc == CF_NOMEM) return cf__node_fail(node, rc, "out of memory");
    if (!yes)
      return cf__node_fail(node, CF_INVALID, "remote %s.%s is not a canonical %s value",
                           t->name, t->cols[c].name, cf__coltype_name(t->cols[c].type));
  }
  return CF_OK;
}

/* Lets every version of the change through the clock. */
static int receive_versions(struct cf_node *node, const cf_change *ch) {
  cf_ver maxv;
  cf__row_max_ver(ch, &maxv);
  if (cf__ver_is_zero(&maxv)) return CF_OK;
  int rc = cf__hlc_recv(&node->clock, cf__ver_hlc(&maxv), NULL);
  if (rc != CF_OK)
    return cf__node_fail(node, rc, "a remote version of %s is too far in the future",
                         ch->table->name);
  return CF_OK;
}

/* The insert-first path (docs/replica.md, "Bootstrap"): the change merged
** into an empty row, inserted unless the replica holds a row with its id.
** For a row the replica does not hold, the merge's result is exactly that,
** so this writes the same bytes as the lookup path without reading first.
** OUT: *written, 0 if the id exists (nothing written; the caller merges). */
static int insert_if_new(struct cf_node *node, const cf_change *ch, int *written) {
  cf_row row;
  cf__row_init(&row, ch->table);
  int rc = cf__merge_into(&row, ch, NULL);
  if (rc != CF_OK)
    return cf__node_fail(node, rc, "remote row of %s cannot be merged", ch->table->name);
  return write_row(node, &row, -1, written);
}

/* Merges one change. */
static int apply_one(struct cf_node *node, const cf_change *ch) {
  const cf_table *t = ch->table;
  uint32_t bit = (uint32_t)1 << t->number;
  sqlite3_stmt *st;
  int rc;
  if ((rc = check_change(node, ch)) != CF_OK) return rc;
  if ((rc = receive_versions(node, ch)) != CF_OK) return rc;
  /* A row of a table whose last applied row was new is most likely new too
  ** (a bootstrap, or a page of inserts): insert it without the lookup. */
  if (!(node->apply_lookup & bit)) {
    int written = 0;
    if ((rc = insert_if_new(node, ch, &written)) != CF_OK || written) return rc;
    node->apply_lookup |= bit;
  }
  if ((rc = cf__table_stmt(node, t->number, CF_TS_by_id, &st)) != CF_OK) return rc;
  const cf_value *id = &cf__row_cell(ch, (unsigned)t->id_col)->value;
  int src = bind_value(st, 1, id);
  if (src == SQLITE_OK) src = sqlite3_step(st);
  cf_row local;
  cf_merge_result res;
  int64_t rid = -1;
  if (src == SQLITE_ROW) {
    if ((rc = cf__store_load_row(node, t, st, &local, &rid)) != CF_OK) goto out;
  } else if (src == SQLITE_DONE) {
    cf__row_init(&local, t);
    node->apply_lookup &= ~bit;
  } else {
    rc = cf__node_sqlerr(node, src, "read local row");
    goto out;
  }
  if ((rc = cf__merge(&local, ch, &res)) != CF_OK) {
    cf__node_fail(node, rc, "remote row of %s does not match the local row's key",
                  t->name);
    goto out;
  }
  if (res.take == 0 && rid >= 0) goto out; /* nothing newer */
  cf__merge_apply(&local, ch, &res);
  rc = write_row(node, &local, rid, NULL);
out:
  sqlite3_reset(st);
  return rc;
}

int cf__store_apply(cf_node *node, const cf_change *rows, size_t n, int64_t cursor) {
  if (node == NULL || (rows == NULL && n > 0)) return CF_MISUSE;
  node->errmsg[0] = '\0';
  int rc = cf__node_begin(node);
  if (rc != CF_OK) return rc;
  cf__notify_origin(node, CF_CHANGE_REMOTE);
  for (size_t i = 0; i < n && rc == CF_OK; i++)
    rc = apply_one(node, &rows[i]);
  if (rc == CF_OK && cursor >= 0) {
    sqlite3_stmt *st;
    if ((rc = cf__node_stmt(node, CF_SQL_cursor_put, &st)) == CF_OK) {
      sqlite3_bind_text(st, 1, node->org_id, -1, SQLITE_STATIC);
      sqlite3_bind_int64(st, 2, cursor);
      int src = sqlite3_step(st);
      if (src != SQLITE_DONE) rc = cf__node_sqlerr(node, src, "store cursor");
      sqlite3_reset(st);
    }
  }
  if (rc == CF_OK) rc = cf__node_persist_clock(node);
  if (rc == CF_OK) rc = cf__node_commit(node);
  /* On failure the clock may have adopted remote time that was not
  ** committed; that is harmless (it only moves forward). */
  if (rc != CF_OK) cf__node_rollback(node);
  return rc;
}

int cf__store_cursor(cf_node *node, int64_t *cursor) {
  *cursor = 0;
  cf__node_settle(node);
  sqlite3_stmt *st;
  int rc = cf__node_stmt(node, CF_SQL_cursor_get, &st);
  if (rc != CF_OK) return rc;
  sqlite3_bind_text(st, 1, node->org_id, -1, SQLITE_STATIC);
  int src = sqlite3_step(st);
  if (src == SQLITE_ROW)
    *cursor = sqlite3_column_int64(st, 0);
  else if (src != SQLITE_DONE)
    rc = cf__node_sqlerr(node, src, "read cursor");
  sqlite3_reset(st);
  return rc;
}

/* Copies the text and blob bytes row borrows into arena and re-points them. */
static int own_bytes(cf_row *row, cf_buf *arena) {
  size_t total = 0;
  for (unsigned c = 0; c <= row->table->ncols; c++) {
    const cf_cell *cell = cf__row_cell(row, c);
    if (cell && (cell->value.kind == CF_VALUE_TEXT || cell->value.kind == CF_VALUE_BLOB))
      total += cell->value.n + 1;
  }
  cf__buf_reset(arena);
  int rc = cf__buf_reserve(arena, total);
  if (rc != CF_OK) return rc;
  for (unsigned c = 0; c <= row->table->ncols; c++) {
    cf_cell *cell = &row->cells[c];
    if (!(row->present & CF_COL_BIT(c))) continue;
    if (cell->value.kind != CF_VALUE_TEXT && cell->value.kind != CF_VALUE_BLOB) continue;
    char *dst = arena->p + arena->len;
    if (cell->value.n) memcpy(dst, cell->value.p, cell->value.n);
    dst[cell->value.n] = '\0';
    arena->len += cell->value.n + 1;
    cell->value.p = dst;
  }
  return CF_OK;
}

int cf__store_read_row(cf_node *node, unsigned tbl, const char *row_id, cf_row *row,
                       cf_buf *arena) {
  sqlite3_stmt *st;
  cf__node_settle(node);
  int rc = cf__table_stmt(node, tbl, CF_TS_by_id, &st);
  if (rc != CF_OK) return rc;
  sqlite3_bind_text(st, 1, row_id, -1, SQLITE_STATIC);
  int src = sqlite3_step(st);
  int64_t rid;
  if (src == SQLITE_ROW) {
    rc = cf__store_load_row(node, cf__schema_table(tbl), st, row, &rid);
    if (rc == CF_OK && (rc = own_bytes(row, arena)) != CF_OK)
      cf__node_fail(node, rc, "out of memory");
  } else if (src == SQLITE_DONE) {
    rc = cf__node_fail(node, CF_NOTFOUND, "no row %s", row_id);
  } else {
    rc = cf__node_sqlerr(node, src, "read row");
  }
  sqlite3_reset(st);
  return rc;
}
