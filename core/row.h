/*
** core/row.h: rows and changes as sets of versioned cells (internal).
** Design: docs/sync.md, "Rows, changes and soft delete".
**
** A cf_row holds, for some or all cells of one row of one table, the cell's
** canonical value (core/value.h) and the version of the write that set it
** (core/version.h).  Cells are indexed like the table's columns; index
** table->ncols is the "deleted" pseudo-column, an INT 0 or 1.  `present`
** says which cells are set.
**
** The same struct is
**  - a row as a replica or the master holds it (every cell present), and
**  - a change: the cells one write set (a subset; an insert sets every cell,
**    an update the columns it changed, a delete only deleted = 1), each with
**    that write's version.
**
** The key columns (org_id, id; or id) are the row's identity, not writes:
** they carry no version and the merge never changes them (their ver is
** ignored and should be zero).  Every other cell, deleted included, is
** merged last-writer-wins on its own (core/merge.h).
**
** Soft delete: a row is visible iff its deleted cell is absent or 0.  An
** update with a newer version to a deleted row is merged into the hidden row
** (so every replica converges) but does not show it again; only a newer
** write of deleted = 0 undeletes it.
**
** A cf_row borrows its text and blob bytes (see cf_value); it allocates
** nothing and is plain data (about 2 KiB: keep big batches on the heap).
*/
#ifndef CF_ROW_H
#define CF_ROW_H

#include <stddef.h>
#include <stdint.h>

#include "clientflow.h"
#include "core/buf.h"
#include "core/schema.h"
#include "core/value.h"
#include "core/version.h"

#define CF_ROW_MAX_CELLS (CF_SCHEMA_MAX_COLS + 1)

/* One cell: a value and the version that wrote it. */
typedef struct cf_cell {
  cf_value value; /* canonical value (borrowed bytes) */
  cf_ver ver;     /* version of the write; zero for key cells */
} cf_cell;

/* Some or all cells of one row (see above). */
typedef struct cf_row {
  const cf_table *table;           /* the row's table (static descriptor) */
  uint64_t present;                /* bit i set: cells[i] holds a value */
  cf_cell cells[CF_ROW_MAX_CELLS]; /* by column index; [ncols] = deleted */
} cf_row;

/* A change is a row with a subset of its cells (same struct). */
typedef cf_row cf_change;

/* CONSTRUCTOR.  An empty row (nothing present) of table t.  Cannot fail. */
void cf__row_init(cf_row *row, const cf_table *t);

/* METHOD.  Sets cell col (0..ncols, ncols = deleted) to v with version ver
** (ver may be NULL for key cells: zero).  Borrows v's bytes.  CF_OK, or
** CF_MISUSE if col is out of range or the deleted cell gets anything but
** INT 0/1. */
int cf__row_set(cf_row *row, unsigned col, const cf_value *v,
                const cf_ver *ver) CF_WARN_UNUSED;

/* METHOD.  Sets the deleted cell to deleted (0 or 1) with version ver. */
void cf__row_set_deleted(cf_row *row, int deleted, const cf_ver *ver);

/* METHOD.  Removes cell col from the row (clears its present bit). */
void cf__row_unset(cf_row *row, unsigned col);

/* The cell col if present, else NULL.  Valid while row is. */
const cf_cell *cf__row_cell(const cf_row *row, unsigned col);

/* Non-zero if the row's deleted cell is present and 1. */
int cf__row_is_deleted(const cf_row *row);

/* Non-zero if a and b are rows of the same table whose key cells are all
** present and equal. */
int cf__row_same_key(const cf_row *a, const cf_row *b);

/* The greatest version among the row's present cells (zero if none). */
void cf__row_max_ver(const cf_row *row, cf_ver *out);

/*
** Appends the canonical bytes of row to out: the table number (1 byte), the
** present mask (8 bytes big-endian), then for each present cell in index
** order its cf__value_encode bytes and, for non-key cells, its 24-byte
** version.  Two rows are the same iff their encodings are equal bytes.
** CF_OK, CF_TOOBIG, CF_NOMEM.
*/
int cf__row_encode(const cf_row *row, cf_buf *out) CF_WARN_UNUSED;

/* Non-zero if a and b hold the same cells (same encoding). */
int cf__row_equal(const cf_row *a, const cf_row *b);

#endif /* CF_ROW_H */
