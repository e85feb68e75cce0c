/*
** core/vdict.c: the version dictionary of one row (see core/vdict.h; the
** byte layouts that carry it are in core/codec.c and store/vblob.h).
*/
#include <string.h>

#include "core/vdict.h"

void cf__vdict_build(cf__vdict *d, const cf_ver *const *cells, unsigned n) {
  unsigned k = 0;
  const cf_ver *prev = NULL; /* the previous cell's version */
  unsigned prev_j = 0;       /* and its index */
  d->n = n;
  for (unsigned i = 0; i < n; i++) {
    const cf_ver *v = cells[i];
    if (v == NULL) {
      d->idx[i] = 0;
      continue;
    }
    unsigned j;
    if (prev != NULL && memcmp(prev->b, v->b, CF_VER_LEN) == 0) {
      j = prev_j; /* the common case: the same as the previous cell */
    } else {
      for (j = 0; j < k; j++)
        if (memcmp(d->vers[j].b, v->b, CF_VER_LEN) == 0) break;
      if (j == k) d->vers[k++] = *v;
    }
    d->idx[i] = (unsigned char)j;
    prev = v;
    prev_j = j;
  }
  d->k = k;
}

cf__vdict_fault cf__vdict_check_ver(const cf__vdict *d, unsigned i, unsigned *other) {
  if (cf__ver_is_zero(&d->vers[i])) return CF_VDICT_ZERO;
  for (unsigned j = 0; j < i; j++)
    if (memcmp(d->vers[i].b, d->vers[j].b, CF_VER_LEN) == 0) {
      *other = j;
      return CF_VDICT_REPEATED;
    }
  return CF_VDICT_OK;
}

cf__vdict_fault cf__vdict_check_idx(const cf__vdict *d, int canonical, unsigned *at) {
  unsigned next = 0; /* the next version to be used first */
  for (unsigned i = 0; i < d->n; i++) {
    unsigned x = d->idx[i];
    if (x >= d->k || (canonical && x > next)) {
      *at = i;
      return CF_VDICT_INDEX;
    }
    if (x == next) next++;
  }
  if (canonical && next != d->k) {
    *at = d->k - next;
    return CF_VDICT_UNUSED;
  }
  return CF_VDICT_OK;
}
