/*
** store/vblob.h: the per-row version blob of the replica (internal to
** store/).
**
** Every row of a data table cf_<table> keeps the versions of all its cells
** (core/version.h: 24 bytes, memcmp order == last-writer-wins order) in one
** BLOB column, _v.  Most rows have one or two distinct versions (the insert,
** then a few updates), so the blob stores each distinct version once and one
** index byte per cell:
**
**   offset     size   field
**   0          1      k: number of distinct versions, 1..CF_VBLOB_MAX_CELLS
**   1          24*k   the distinct versions, in order of first use by cell
**   1+24*k     n      one byte per cell (n = ncols + 1, the last one is the
**                     deleted pseudo-column): index 0..k-1 of its version
**
** The encoding is canonical (versions ordered by first use in cell order,
** no unused version, key cells at index 0), so two replicas holding the
** same versions hold the same bytes.  A freshly inserted row of a 12-column
** table takes 1 + 24 + 13 = 38 bytes instead of 13 * 24 = 312.  The
** dictionary (build, index checks) is core/vdict.h, shared with the wire's
** ROW; this file owns only the byte layout above.
*/
#ifndef CF_STORE_VBLOB_H
#define CF_STORE_VBLOB_H

#include <stddef.h>
#include <stdint.h>

#include "core/schema.h"
#include "core/version.h"

#define CF_VBLOB_MAX_CELLS (CF_SCHEMA_MAX_COLS + 1)
/* Largest encoding: every cell with its own version. */
#define CF_VBLOB_MAX_LEN (1 + CF_VER_LEN * CF_VBLOB_MAX_CELLS + CF_VBLOB_MAX_CELLS)

/* The versions of one row's cells, decoded. */
typedef struct cf_vrow {
  unsigned n;                   /* number of cells (ncols + 1) */
  cf_ver v[CF_VBLOB_MAX_CELLS]; /* v[i]: version of cell i */
} cf_vrow;

/* Decodes blob[0..len) for a row of n cells.  CF_OK or CF_CORRUPT.
** OUT: *out. */
int cf__vblob_decode(const void *blob, size_t len, unsigned n, cf_vrow *out);

/* Encodes row canonically into out[CF_VBLOB_MAX_LEN]; returns the length.
** Cells in key_mask carry no version (core/row.h): they are not counted as
** distinct versions and point at index 0; decoding gives them that version,
** which readers ignore. */
size_t cf__vblob_encode(const cf_vrow *row, uint64_t key_mask, unsigned char *out);

/* Fills every cell of a row of n cells with version v.  OUT: *out. */
void cf__vrow_fill(cf_vrow *out, unsigned n, const cf_ver *v);

#endif
