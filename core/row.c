/*
** core/row.c: versioned cells of one row (see core/row.h).
*/
#include "core/row.h"

#include <string.h>

#include "platform/platform.h"

void cf__row_init(cf_row *row, const cf_table *t) {
  row->table = t;
  row->present = 0;
}

int cf__row_set(cf_row *row, unsigned col, const cf_value *v, const cf_ver *ver) {
  if (row->table == NULL || col > row->table->ncols) return CF_MISUSE;
  if (col == row->table->ncols && (v->kind != CF_VALUE_INT || (v->i != 0 && v->i != 1)))
    return CF_MISUSE;
  row->cells[col].value = *v;
  if (ver != NULL)
    row->cells[col].ver = *ver;
  else
    memset(&row->cells[col].ver, 0, sizeof row->cells[col].ver);
  row->present |= CF_COL_BIT(col);
  return CF_OK;
}

void cf__row_set_deleted(cf_row *row, int deleted, const cf_ver *ver) {
  unsigned d = row->table->ncols;
  row->cells[d].value = cf__value_int(deleted ? 1 : 0);
  row->cells[d].ver = *ver;
  row->present |= CF_COL_BIT(d);
}

void cf__row_unset(cf_row *row, unsigned col) {
  if (col < CF_ROW_MAX_CELLS) row->present &= ~CF_COL_BIT(col);
}

const cf_cell *cf__row_cell(const cf_row *row, unsigned col) {
  if (col >= CF_ROW_MAX_CELLS || !(row->present & CF_COL_BIT(col))) return NULL;
  return &row->cells[col];
}

int cf__row_is_deleted(const cf_row *row) {
  const cf_cell *c = cf__row_cell(row, row->table->ncols);
  return c != NULL && c->value.kind == CF_VALUE_INT && c->value.i == 1;
}

int cf__row_same_key(const cf_row *a, const cf_row *b) {
  if (a->table != b->table || a->table == NULL) return 0;
  const cf_table *t = a->table;
  for (unsigned k = 0; k < t->nkey; k++) {
    const cf_cell *x = cf__row_cell(a, t->key[k]), *y = cf__row_cell(b, t->key[k]);
    if (x == NULL || y == NULL || !cf__value_equal(&x->value, &y->value)) return 0;
  }
  return 1;
}

void cf__row_max_ver(const cf_row *row, cf_ver *out) {
  memset(out, 0, sizeof *out);
  uint64_t m = row->present & ~row->table->key_mask;
  for (unsigned i = 0; m != 0; i++, m >>= 1) {
    if ((m & 1) && cf__ver_cmp(&row->cells[i].ver, out) > 0) *out = row->cells[i].ver;
  }
}

int cf__row_encode(const cf_row *row, cf_buf *out) {
  size_t mark = out->len;
  unsigned char head[9];
  int rc;
  head[0] = (unsigned char)row->table->number;
  for (int i = 0; i < 8; i++)
    head[1 + i] = (unsigned char)(row->present >> (56 - 8 * i));
  if ((rc = cf__buf_append(out, head, sizeof head)) != CF_OK) goto out;
  for (unsigned i = 0; i <= row->table->ncols; i++) {
    if (!(row->present & CF_COL_BIT(i))) continue;
    if ((rc = cf__value_encode(&row->cells[i].value, out)) != CF_OK) goto out;
    if (row->table->key_mask & CF_COL_BIT(i)) continue;
    if ((rc = cf__buf_append(out, row->cells[i].ver.b, CF_VER_LEN)) != CF_OK) goto out;
  }
out:
  if (rc != CF_OK) cf__buf_truncate(out, mark);
  return rc;
}

int cf__row_equal(const cf_row *a, const cf_row *b) {
  if (a->table != b->table || a->present != b->present) return 0;
  const cf_table *t = a->table;
  for (unsigned i = 0; i <= t->ncols; i++) {
    if (!(a->present & CF_COL_BIT(i))) continue;
    if (!cf__value_equal(&a->cells[i].value, &b->cells[i].value)) return 0;
    if (!(t->key_mask & CF_COL_BIT(i)) &&
        cf__ver_cmp(&a->cells[i].ver, &b->cells[i].ver) != 0)
      return 0;
  }
  return 1;
}
