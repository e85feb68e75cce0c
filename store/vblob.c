/*
** store/vblob.c: encoding of the per-row version blob (layout in
** store/vblob.h and docs/replica.md).  The dictionary itself -- distinct
** versions in order of first use, one index per cell -- is core/vdict.c;
** this file lays it out in the blob's bytes.
*/
#include <string.h>

#include "core/vdict.h"
#include "store/vblob.h"

int cf__vblob_decode(const void *blob, size_t len, unsigned n, cf_vrow *out) {
  const unsigned char *p = blob;
  if (n == 0 || n > CF_VBLOB_MAX_CELLS || p == NULL || len < 1) return CF_CORRUPT;
  unsigned k = p[0];
  if (k < 1 || k > n || len != 1 + (size_t)CF_VER_LEN * k + n) return CF_CORRUPT;
  cf__vdict d;
  d.k = k;
  d.n = n;
  memcpy(d.vers, p + 1, (size_t)CF_VER_LEN * k);
  memcpy(d.idx, p + 1 + (size_t)CF_VER_LEN * k, n);
  /* Only the range of each index is checked: blobs are written by this
  ** file alone, and reading stays as lenient as it always was. */
  unsigned bad = 0;
  if (cf__vdict_check_idx(&d, 0, &bad) != CF_VDICT_OK) return CF_CORRUPT;
  out->n = n;
  for (unsigned i = 0; i < n; i++)
    out->v[i] = *cf__vdict_ver(&d, i);
  return CF_OK;
}

size_t cf__vblob_encode(const cf_vrow *row, uint64_t key_mask, unsigned char *out) {
  const cf_ver *cells[CF_VBLOB_MAX_CELLS];
  for (unsigned i = 0; i < row->n; i++)
    cells[i] = (key_mask & ((uint64_t)1 << i)) ? NULL : &row->v[i];
  cf__vdict d;
  cf__vdict_build(&d, cells, row->n);
  out[0] = (unsigned char)d.k;
  memcpy(out + 1, d.vers, (size_t)CF_VER_LEN * d.k);
  memcpy(out + 1 + (size_t)CF_VER_LEN * d.k, d.idx, row->n);
  return 1 + (size_t)CF_VER_LEN * d.k + row->n;
}

void cf__vrow_fill(cf_vrow *out, unsigned n, const cf_ver *v) {
  out->n = n;
  for (unsigned i = 0; i < n; i++)
    out->v[i] = *v;
}
