/*
** core/merge.h: THE merge function (internal).  Design: docs/sync.md,
** "Merge".
**
** One function decides, cell by cell, what a row becomes when a change
** arrives; the replica (store/) and the master (sync/) both call it, on plain
** structs, so every node that has seen the same set of changes holds the same
** rows, whatever the order it saw them in.
**
** Rule, for every non-key cell i (real columns and deleted) present in the
** remote change:
**   - absent locally                        -> take remote
**   - remote version newer (cf__ver_cmp > 0) -> take remote
**   - remote version older                   -> keep local (superseded)
**   - same version, same value               -> keep local (already have it)
**   - same version, different values (one write seen two ways: a bug or
**     corruption elsewhere, but it must still converge): the greater value by
**     cf__value_cmp wins.
** In other words each cell becomes the maximum of (version, value) in a total
** order, which is commutative, associative and idempotent: a join
** semilattice.  Cells the change does not carry keep their local value.  Key
** cells are never merged: they must be equal (CF_MISUSE otherwise) and a new
** row takes the change's key.
*/
#ifndef CF_MERGE_H
#define CF_MERGE_H

#include <stdint.h>

#include "clientflow.h"
#include "core/row.h"

/* Per-cell outcome of merging one change into one row (masks by cell index;
** every non-key cell present in the change is in exactly one of take,
** superseded and same). */
typedef struct cf_merge_result {
  uint64_t take;       /* cells where the change wins: write its value+ver */
  uint64_t superseded; /* cells where the local cell is newer (or wins the
                          same-version tie): the change loses there */
  uint64_t same;       /* cells identical to local (value and version) */
  int was_visible;     /* the row existed and was not deleted before */
  int visible;         /* the row is present and not deleted after */
} cf_merge_result;

/*
** Merges change into local.  local may be NULL (or have no cells present)
** when the row does not exist yet.  Both must be of the same table, with the
** same key where both have key cells.  OUT: *res.  Changes nothing else:
** apply the outcome with cf__merge_apply (or write res->take to storage).
** CF_OK, or CF_MISUSE for different tables or keys.
*/
int cf__merge(const cf_row *local, const cf_row *change,
              cf_merge_result *res) CF_WARN_UNUSED;

/* METHOD.  Copies the cells in res->take (and, if local had none, the key
** cells) from change into local.  local then borrows change's bytes. */
void cf__merge_apply(cf_row *local, const cf_row *change, const cf_merge_result *res);

/* cf__merge then cf__merge_apply.  local must be initialised for the
** change's table (cf__row_init) if the row is new.  OUT: res may be NULL. */
int cf__merge_into(cf_row *local, const cf_row *change,
                   cf_merge_result *res) CF_WARN_UNUSED;

/* Compares two cells in the merge's total order (version, then value):
** <0, 0, >0.  The merge keeps the greater. */
int cf__cell_cmp(const cf_cell *a, const cf_cell *b);

#endif /* CF_MERGE_H */
