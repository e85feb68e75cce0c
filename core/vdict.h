/*
** core/vdict.h: the version dictionary of one row (internal).  Design:
** docs/protocol.md ("Rows") and docs/replica.md (the _v blob).
**
** A row's cells usually share a few versions (core/version.h: 24 bytes
** each): an insert stamps every cell with one, an update a few more.  Both
** places that carry a row's versions -- a ROW on the wire (core/codec.c:
** "vers" and "vidx") and the replica's _v blob (store/vblob.c) -- store
** each distinct version once and one index byte per cell.  This file is
** that dictionary; each caller writes it in its own byte layout.
**
** CANONICAL FORM.  The versions are listed in the order the cells first use
** them (cell order), so cell 0's version is index 0, the next new one index
** 1, and so on: equal rows give equal bytes.  A cell without a version (a
** key cell of the replica's blob) points at index 0 and adds nothing.
**
**   cells:   v7  v7  v9  v7  v2           vers: [v7, v9, v2]
**   idx:      0   0   1   0   2           (k = 3, n = 5)
**
** USAGE.
**
**     cf__vdict d;                          // writing
**     cf__vdict_build(&d, cells, n);        // cells[i]: a version or NULL
**     write d.k, d.vers[0..k), d.idx[0..n)
**
**     read k, d.vers[0..k), d.idx[0..n)     // reading, bounded by the caller
**     if (cf__vdict_check_ver(&d, i, &other) != CF_VDICT_OK) ...  // each version
**     if (cf__vdict_check_idx(&d, 1, &at) != CF_VDICT_OK) ...     // the indexes
**     cf__vdict_ver(&d, i)                  // cell i's version
*/
#ifndef CF_CORE_VDICT_H
#define CF_CORE_VDICT_H

#include "core/schema.h"
#include "core/version.h"

/* vers[] is read and written as k * CF_VER_LEN contiguous bytes. */
_Static_assert(sizeof(cf_ver) == CF_VER_LEN, "cf_ver must be exactly its bytes");

/* Most cells (and so versions) in one dictionary: a row's. */
#define CF_VDICT_MAX (CF_SCHEMA_MAX_COLS + 1)

/* One row's dictionary.  Fields are read and written by the callers, which
** keep k and n within CF_VDICT_MAX. */
typedef struct cf__vdict {
  unsigned k;                      /* distinct versions in vers */
  unsigned n;                      /* cells in idx */
  cf_ver vers[CF_VDICT_MAX];       /* the distinct versions, first use first */
  unsigned char idx[CF_VDICT_MAX]; /* idx[i]: cell i's version is vers[idx[i]] */
} cf__vdict;

/* Why a dictionary read from outside is refused. */
typedef enum cf__vdict_fault {
  CF_VDICT_OK = 0,   /* fine */
  CF_VDICT_ZERO,     /* a version is all zero ("never written") */
  CF_VDICT_REPEATED, /* a version equals an earlier one */
  CF_VDICT_INDEX,    /* an index is out of range, or (canonical) names a
                        version before all earlier ones were used */
  CF_VDICT_UNUSED    /* (canonical) a version no cell uses */
} cf__vdict_fault;

/*
** METHOD.  Builds d, in canonical form, from the versions of n cells
** (n <= CF_VDICT_MAX): cells[i] is cell i's version, or NULL for a cell
** without one (index 0, not counted).  The versions are copied.  OUT: *d.
*/
void cf__vdict_build(cf__vdict *d, const cf_ver *const *cells, unsigned n);

/*
** Checks version i of a dictionary being read (call it for i = 0, 1, ...
** as they arrive): not all zero, not equal to any of vers[0..i).
** CF_VDICT_OK, CF_VDICT_ZERO, or CF_VDICT_REPEATED with *other, the index
** of the earlier equal version.
*/
cf__vdict_fault cf__vdict_check_ver(const cf__vdict *d, unsigned i, unsigned *other);

/*
** Checks the n indexes of a dictionary of k versions: each below k; when
** canonical, also in order of first use (each at most one above the
** largest before it) and using every version.  CF_VDICT_OK, or
** CF_VDICT_INDEX with *at, the bad cell, or CF_VDICT_UNUSED with *at, the
** number of unused versions.
*/
cf__vdict_fault cf__vdict_check_idx(const cf__vdict *d, int canonical, unsigned *at);

/* Cell i's version (i < d->n, indexes checked).  Owned by d. */
static inline const cf_ver *cf__vdict_ver(const cf__vdict *d, unsigned i) {
  return &d->vers[d->idx[i]];
}

#endif
