/*
** core/merge.c: THE merge function (see core/merge.h, docs/sync.md "Merge").
**
** Each non-key cell becomes the maximum of (version, value) over every write
** seen; cf__cell_cmp is that order.  Nothing else is consulted -- not arrival
** order, not which side is local -- which is what makes the result the same
** on every node for any order of arrival.
*/
#include "core/merge.h"

#include <string.h>

#include "platform/plant.h"

int cf__cell_cmp(const cf_cell *a, const cf_cell *b) {
  int c = cf__ver_cmp(&a->ver, &b->ver);
  if (cf__plant(CF_PLANT_TIE) && c != 0 && memcmp(a->ver.b, b->ver.b, 8) == 0) return -1;
  if (c != 0) return c < 0 ? -1 : 1;
  return cf__value_cmp(&a->value, &b->value);
}

int cf__merge(const cf_row *local, const cf_row *change, cf_merge_result *res) {
  res->take = res->superseded = res->same = 0;
  res->was_visible = res->visible = 0;
  if (change == NULL || change->table == NULL) return CF_MISUSE;
  const cf_table *t = change->table;
  uint64_t all = CF_COL_BIT(t->ncols + 1) - 1;
  if ((change->present & ~all) != 0) return CF_MISUSE;
  int exists = local != NULL && local->present != 0;
  if (exists) {
    if (local->table != t || (local->present & ~all) != 0) return CF_MISUSE;
    /* Key cells present on both sides must agree: same row. */
    for (unsigned k = 0; k < t->nkey; k++) {
      const cf_cell *x = cf__row_cell(local, t->key[k]);
      const cf_cell *y = cf__row_cell(change, t->key[k]);
      if (x != NULL && y != NULL && !cf__value_equal(&x->value, &y->value))
        return CF_MISUSE;
    }
    res->was_visible = !cf__row_is_deleted(local);
  }
  uint64_t data = change->present & ~t->key_mask;
  for (unsigned i = 0; data >> i != 0; i++) {
    uint64_t bit = CF_COL_BIT(i);
    if (!(data & bit)) continue;
    if (!exists || !(local->present & bit)) {
      res->take |= bit;
      continue;
    }
    int c = cf__cell_cmp(&change->cells[i], &local->cells[i]);
    if (c > 0)
      res->take |= bit;
    else if (c < 0)
      res->superseded |= bit;
    else
      res->same |= bit;
  }
  /* Visible after: the deleted cell that wins decides. */
  unsigned d = t->ncols;
  const cf_cell *del = NULL;
  if (res->take & CF_COL_BIT(d))
    del = &change->cells[d];
  else if (exists)
    del = cf__row_cell(local, d);
  res->visible = del == NULL || del->value.kind != CF_VALUE_INT || del->value.i != 1;
  return CF_OK;
}

void cf__merge_apply(cf_row *local, const cf_row *change, const cf_merge_result *res) {
  const cf_table *t = change->table;
  if (local->present == 0) {
    local->table = t;
    uint64_t keys = change->present & t->key_mask;
    for (unsigned k = 0; k < t->nkey; k++) {
      if (keys & CF_COL_BIT(t->key[k]))
        local->cells[t->key[k]] = change->cells[t->key[k]];
    }
    local->present |= keys;
  }
  uint64_t take = res->take;
  for (unsigned i = 0; take >> i != 0; i++) {
    if (take & CF_COL_BIT(i)) local->cells[i] = change->cells[i];
  }
  local->present |= take;
}

int cf__merge_into(cf_row *local, const cf_row *change, cf_merge_result *res) {
  cf_merge_result tmp;
  if (res == NULL) res = &tmp;
  int rc = cf__merge(local, change, res);
  if (rc == CF_OK) cf__merge_apply(local, change, res);
  return rc;
}
