/*
** store/vblob.c: encoding of the per-row version blob (layout in
** store/vblob.h and docs/replica.md).
*/
#include <string.h>

#include "store/vblob.h"

int cf__vblob_decode(const void *blob, size_t len, unsigned n, cf_vrow *out) {
  const unsigned char *p = blob;
  if (n == 0 || n > CF_VBLOB_MAX_CELLS || p == NULL || len < 1) return CF_CORRUPT;
  unsigned k = p[0];
  if (k < 1 || k > n || len != 1 + (size_t)CF_VER_LEN * k + n) return CF_CORRUPT;
  const unsigned char *idx = p + 1 + (size_t)CF_VER_LEN * k;
  out->n = n;
  for (unsigned i = 0; i < n; i++) {
    if (idx[i] >= k) return CF_CORRUPT;
    memcpy(out->v[i].b, p + 1 + (size_t)CF_VER_LEN * idx[i], CF_VER_LEN);
  }
  return CF_OK;
}

size_t cf__vblob_encode(const cf_vrow *row, uint64_t key_mask, unsigned char *out) {
  unsigned k = 0;
  unsigned char idx[CF_VBLOB_MAX_CELLS];
  const cf_ver *distinct[CF_VBLOB_MAX_CELLS];
  for (unsigned i = 0; i < row->n; i++) {
    if (key_mask & ((uint64_t)1 << i)) {
      idx[i] = 0;
      continue;
    }
    unsigned j = 0;
    while (j < k && memcmp(distinct[j]->b, row->v[i].b, CF_VER_LEN) != 0)
      j++;
    if (j == k) distinct[k++] = &row->v[i];
    idx[i] = (unsigned char)j;
  }
  out[0] = (unsigned char)k;
  for (unsigned j = 0; j < k; j++)
    /* cppcheck-suppress uninitvar ; distinct[0..k) were all set by the loop above */
    memcpy(out + 1 + (size_t)CF_VER_LEN * j, distinct[j]->b, CF_VER_LEN);
  /* cppcheck-suppress uninitvar ; the loop above set idx[0..row->n) */
  memcpy(out + 1 + (size_t)CF_VER_LEN * k, idx, row->n);
  return 1 + (size_t)CF_VER_LEN * k + row->n;
}

void cf__vrow_fill(cf_vrow *out, unsigned n, const cf_ver *v) {
  out->n = n;
  for (unsigned i = 0; i < n; i++)
    out->v[i] = *v;
}
