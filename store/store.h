/*
** store/store.h: the replica's internal API for the sync layer (issue 4) and
** the tests.  Design: docs/replica.md.
**
** The public half (open, SQL, outbox and conflict listings) is in
** include/clientflow.h.  This half moves changes between the replica and the
** master:
**
**   push:  cf__store_push_next() reads the next batch of outbox entries as
**          rows (current values and versions of the changed cells) and marks
**          them in flight; cf__store_push_results() records the master's
**          answer for each; cf__store_push_requeue() puts in-flight entries
**          back after a lost connection (pushes are idempotent).
**   pull:  cf__store_apply() merges remote rows through core/merge.h and
**          stores the pull cursor in the same transaction;
**          cf__store_cursor() reads it.
**
** None of these may be called while the app holds a transaction open on the
** node (CF_MISUSE).  All run on the node's one connection: one thread at a
** time.
*/
#ifndef CF_STORE_H
#define CF_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "clientflow.h"
#include "core/buf.h"
#include "core/outcome.h"
#include "core/row.h"

/* One outbox entry read for a push. */
typedef struct cf__push_item {
  int64_t seq;      /* the entry's seq: HLC of the row's latest local version,
                       unique on this node; the key of its result */
  int64_t tx;       /* local transaction (HLC of its first write) */
  uint64_t mask;    /* cells the entry changed (key cells not included) */
  cf_change change; /* the key cells and the cells in mask, with their current
                       values and versions; bytes owned by the batch */
} cf__push_item;

/* A batch of outbox entries in outbox order.  Free with
** cf__store_push_free(). */
typedef struct cf__push_batch {
  int64_t id;           /* batch id (the first entry's seq) */
  size_t n;             /* number of items */
  cf__push_item *items; /* items[0..n) */
  char **bytes;         /* per item, the text/blob bytes its change borrows */
} cf__push_batch;

/* Most entries one push batch may hold (a cf__push_item is about 2 KiB). */
#define CF_PUSH_MAX_ITEMS 10000

/*
** Reads up to max (1..CF_PUSH_MAX_ITEMS) entries that are not in flight, in seq order,
** and marks them in flight (in one transaction).  It takes whole local
** transactions: it stops before a transaction that would not fit, unless
** the batch would be empty (only a transaction larger than max is split).
** A row changed several times before it is sent is one entry (the cells
** OR-ed, at the seq of the latest change); values are read now, so they are
** the row's current ones.  A row that changes while in flight gets a second
** entry in a later batch.  OUT: *out, NULL on failure; an empty batch (n = 0)
** when nothing is waiting.  CF_OK, CF_NOMEM, CF_MISUSE, store errors.
*/
int cf__store_push_next(cf_node *node, size_t max, cf__push_batch **out) CF_WARN_UNUSED;

/*
** METHOD.  Entries items[keep..n) of batch were not sent after all (the
** frame was full): they go back to the outbox as not in flight, their bytes
** are freed, and batch->n becomes keep.  CF_OK or a store error (the
** entries then stay in flight until cf__store_push_requeue).
*/
int cf__store_push_release(cf_node *node, cf__push_batch *batch,
                           size_t keep) CF_WARN_UNUSED;

/* DESTRUCTOR.  Frees a batch (NULL is fine). */
void cf__store_push_free(cf__push_batch *batch);

typedef struct cf__store_push_result {
  int64_t seq;            /* the item's seq */
  cf_push_status outcome; /* what happened (core/outcome.h) */
  int code;               /* REJECTED: CF_* reason code */
  const char *message;    /* REJECTED: the reason (copied), may be NULL */
} cf__store_push_result;

/*
** Records n results in one transaction: applied and superseded clear the
** entry, rejected moves it to the conflicts table with code and message.  A
** seq no longer in the outbox is skipped (a result applied twice changes
** nothing).  CF_OK, CF_INVALID (bad
** outcome), CF_MISUSE, store errors (nothing recorded then).
*/
int cf__store_push_results(cf_node *node, const cf__store_push_result *res,
                           size_t n) CF_WARN_UNUSED;

/* Marks every in-flight entry as not sent (after a lost connection). */
int cf__store_push_requeue(cf_node *node) CF_WARN_UNUSED;

/*
** Merges n remote rows (changes: key cells plus any subset of cells, each
** with its version) into the replica through cf__merge, without logging
** them in the outbox, and stores cursor as the org's pull cursor, all in one
** transaction: either everything is applied or nothing is.  Values must be
** canonical (they are checked: CF_INVALID).  Every version passes through
** the node's clock (cf__hlc_recv): one too far ahead fails the whole batch
** with CF_CLOCK_SKEW.  Rows of another org fail it with CF_WRONG_ORG.
** Local changes not yet acknowledged keep their outbox entries; where their
** versions are newer they stay.  cursor < 0 leaves the cursor unchanged.
** CF_OK, or an error with cf_node_errmsg() and nothing applied.
*/
int cf__store_apply(cf_node *node, const cf_change *rows, size_t n,
                    int64_t cursor) CF_WARN_UNUSED;

/*
** What the replica does once the master has revoked access, by the policy
** chosen at open (cf_node_options_set_revoke): nothing for CF_REVOKE_KEEP;
** cf_node_wipe to the policy's export path for CF_REVOKE_WIPE.  Called by
** the client session after the outbox moved to the conflicts.  CF_OK or
** cf_node_wipe's errors.
*/
int cf__store_on_revoked(cf_node *node) CF_WARN_UNUSED;

/* The org's pull cursor.  OUT: *cursor (0 if none stored yet). */
int cf__store_cursor(cf_node *node, int64_t *cursor) CF_WARN_UNUSED;

/*
** Reads the current row (all cells, versions of non-key cells) of table
** number tbl with id row_id (canonical UUID text).  Bytes are copied into
** arena (reset first), which row borrows.  CF_OK, CF_NOTFOUND.  For the sync
** layer and tests.
*/
int cf__store_read_row(cf_node *node, unsigned tbl, const char *row_id, cf_row *row,
                       cf_buf *arena) CF_WARN_UNUSED;

/* The CREATE TABLE text of a plain copy of t named name (the master's
** columns and key, no sync metadata, no triggers), appended to b.  Used by
** the benchmark as the baseline.  CF_OK, CF_TOOBIG, CF_NOMEM. */
int cf__ddl_build_plain_table(const cf_table *t, const char *name,
                              cf_buf *b) CF_WARN_UNUSED;

#endif /* CF_STORE_H */
