/*
** sync/master/master_sync.h: the master side of sync -- push, pull and the server's
** role check (internal).  Design: docs/master-sync.md; the SQL it relies on
** is sql/postgres/003_sync.sql (versions, cursor, tombstones, bookkeeping)
** and its fixed statements are in sql/server/master_sync.sql.
**
** Both push and pull run AS THE USER: each opens one transaction on the
** given connection, switches to `authenticated` with SET LOCAL ROLE and puts
** the token's claims into request.jwt.claims with set_config(..., true), so
** the master's RLS judges every row, and nothing outlives the transaction
** (safe behind PgBouncer in transaction mode).  The caller has verified the
** token; claims_json is its payload (it must hold "sub").
**
** The connection must not be inside a transaction when a function here is
** called, and is left outside one.  The login role must pass
** cf__master_check_role (not a superuser, no BYPASSRLS, owns none of the
** tables, may SET ROLE authenticated, member of cf_sync_server).
*/
#ifndef CF_SYNC_MASTER_SYNC_H
#define CF_SYNC_MASTER_SYNC_H

#include <stddef.h>
#include <stdint.h>

#include "clientflow.h"
#include "core/outcome.h"
#include "core/row.h"
#include "core/version.h"
#include "sync/master/pg.h"

/* Most changes in one pushed batch, and most rows in one pulled page. */
#define CF_PUSH_MAX_BATCH 10000
#define CF_PULL_MAX_PAGE 10000
/* Room for a result's detail (constraint name or reason), NUL included. */
#define CF_PUSH_DETAIL_LEN 128
/* How far ahead of the master's wall clock a pushed HLC may be. */
#define CF_PUSH_MAX_SKEW_MS CF_HLC_DEFAULT_MAX_SKEW_MS

/* The answer for one change. */
typedef struct cf__push_result {
  cf_push_status status;           /* applied, superseded or rejected */
  cf_reject_reason reason;         /* CF_REASON_NONE unless rejected */
  char detail[CF_PUSH_DETAIL_LEN]; /* constraint name or a short reason,
                                      "" if none; one line */
} cf__push_result;

/* What a push did as a whole. */
typedef struct cf__push_info {
  int revoked;         /* the user is not a member of the org: every change
                          was rejected with CF_REASON_PERMISSION */
  int replayed;        /* the node's last batch again, same digest: nothing
                          changed and the results are the recorded ones */
  int stale;           /* batch_seq is below the node's last batch: nothing
                          changed, no result is set (another replica uses this
                          node id, or a client bug) */
  int reused;          /* batch_seq is the node's last batch but the contents
                          differ: nothing changed, no result is set */
  uint64_t last_batch; /* the node's last recorded batch (0: none) */
  size_t applied;      /* count of results by status */
  size_t superseded;
  size_t rejected;
  uint64_t seq_lo; /* first cursor position reserved (0 if none) */
  uint64_t seq_hi; /* last cursor position reserved (0 if none) */
} cf__push_info;

/*
** Applies one batch of changes pushed by node to org, in one transaction, as
** the user of claims_json.  changes[i] is a row of any of the ten tables with
** the cells one write set (core/row.h), values in canonical form.  batch_seq
** numbers the node's batches (increasing, 1 .. 2^63-1).  A batch is known by
** its number AND a SHA-256 digest of its changes (docs/master-sync.md,
** "Batches"): the node's last batch again with the same digest is a retry
** (info->replayed, the recorded results); with other contents, or a lower
** number, nothing changes and no result is set (info->reused, info->stale):
** the caller must answer with a protocol error, never with results.
** OUT: results[0..n) (caller's array), *info (may be NULL).
** Returns CF_OK when every change has its result (rejections included) or
** the batch was refused as stale or reused; on any other code
** (CF_UNREACHABLE, CF_DATABASE for a deadlock or a serialization failure,
** CF_NOMEM, CF_TOOBIG for n > CF_PUSH_MAX_BATCH) nothing was committed and
** the batch may be retried as it is.  Borrows everything; keeps nothing
** after returning.
*/
int cf__master_push(cf__pg *pg, const char *claims_json, const char *org_id,
                    const cf_nodeid *node, uint64_t batch_seq, const cf_change *changes,
                    size_t n, cf__push_result *results,
                    cf__push_info *info) CF_WARN_UNUSED;

/* What a pull found. */
typedef enum cf__pull_status {
  CF__PULL_OK = 0,          /* items hold the next page (maybe empty) */
  CF__PULL_REBOOTSTRAP = 1, /* cursor is older than the tombstone horizon:
                               the node must bootstrap again from 0 */
  CF__PULL_REVOKED = 2      /* the user is not a member of the org */
} cf__pull_status;

/* One change in a page: a full row (every cell with its version, deleted =
** 0) or, for a deleted row, a tombstone (key cells and deleted = 1 with the
** delete's version). */
typedef struct cf__pull_item {
  uint64_t seq; /* cursor position of this change */
  cf_row row;   /* the row or tombstone; bytes owned by the page */
} cf__pull_item;

/* One page of an org's changes. */
typedef struct cf__pull_page {
  cf__pull_status status; /* see above */
  cf__pull_item *items;   /* n items in cursor order (cf__malloc'd) */
  size_t n;               /* number of items */
  uint64_t next_cursor;   /* the cursor to pull from next (and to store with
                             the applied items) */
  uint64_t head;          /* the org's cursor head in this page's snapshot */
  int more;               /* 1 if changes beyond next_cursor exist */
  size_t skipped;         /* rows left out: a stored value with no canonical
                             form (logged; docs/master-sync.md, "Pull") */
  void *mem;              /* private: the bytes the rows point into */
} cf__pull_page;

/*
** Reads the changes of org after cursor, at most limit items (a group of
** changes with one cursor position is never split, so a page may hold one
** more), as the user of claims_json, in one read-only REPEATABLE READ
** transaction.  Rows come with every cell in canonical form and its version;
** users rows of the org's members are included.  OUT: *page (zeroed first);
** free with cf__pull_page_free, also after a failure.  CF_OK (see
** page->status), CF_INVALID for a bad org id or limit 0, CF_UNREACHABLE,
** CF_DATABASE, CF_CORRUPT (a stored value or version that does not parse),
** CF_NOMEM.
*/
int cf__master_pull(cf__pg *pg, const char *claims_json, const char *org_id,
                    uint64_t cursor, size_t limit, cf__pull_page *page) CF_WARN_UNUSED;

/*
** Told by cf__master_pull_cut once the page is cut, before its rows are
** converted (the longer half of a page's work on the server): the cursor
** its answer will end at (CHANGES last_seq, unless the encoder cuts the
** frame shorter) and whether more follow.  Called on the puller's thread.
*/
typedef void (*cf__pull_cut_fn)(void *ctx, uint64_t last_seq, int more);

/* cf__master_pull, calling on_cut(ctx, ...) (if not NULL) when a page of
** status CF__PULL_OK is cut and more follow: the next page's read can
** start while this one is converted (sync/server/prefetch.c). */
int cf__master_pull_cut(cf__pg *pg, const char *claims_json, const char *org_id,
                        uint64_t cursor, size_t limit, cf__pull_cut_fn on_cut, void *ctx,
                        cf__pull_page *page) CF_WARN_UNUSED;

/* DESTRUCTOR.  Frees what page holds and zeroes it; accepts a zeroed page. */
void cf__pull_page_free(cf__pull_page *page);

/*
** Checks the connected login role for serving sync: refuses a superuser, a
** role with BYPASSRLS, a role that owns (or is a member of an owner of) any
** of the ten tables, one that cannot SET ROLE authenticated, and one that is
** not a member of cf_sync_server; and a master whose schema lacks what this
** server calls (a migration not applied yet).  CF_OK, or CF_PERMISSION
** (role) / CF_CONFIG (schema) with a message in cf__pg_errmsg(pg) saying
** what is wrong and how to fix it; CF_UNREACHABLE, CF_DATABASE.
*/
int cf__master_check_role(cf__pg *pg) CF_WARN_UNUSED;

/* The reason's wire name: "none", "permission", "constraint", "invalid",
** "wrong_org".  Static storage. */
const char *cf__reject_reason_name(cf_reject_reason reason);

#endif /* CF_SYNC_MASTER_SYNC_H */
