/*
** store/store_rebootstrap.h: starting a replica's pull over from the
** beginning without losing its unacknowledged writes (internal; used by
** sync/client/client.c when the server answers REBOOTSTRAP).  Design: DESIGN.md
** "Sync semantics" 4 and 5, docs/faults.md ("re-bootstrap").
*/
#ifndef CF_STORE_REBOOTSTRAP_H
#define CF_STORE_REBOOTSTRAP_H

#include <stdint.h>

#include "clientflow.h"

/*
** METHOD.  Prepares node for a full pull from cursor 0 after the master has
** purged history the replica's cursor still needs.  In one SQLite
** transaction: every row of every data table is removed EXCEPT the rows an
** outbox entry or a conflict refers to (the writes the master has not
** acknowledged, with their values and column versions untouched), entries
** in flight are put back to "not sent" (they go again, with a new batch
** number), and the pull cursor is reset to 0.  The pull that follows merges
** the master's rows column by column into the kept rows, so a local change
** newer than the master's survives and is pushed afterwards.
**
** OUT: *kept (may be NULL), the number of data rows kept.  CF_OK; CF_MISUSE
** when the app holds a transaction open; a store error with
** cf_node_errmsg(node) otherwise (nothing changed then).
*/
int cf__store_rebootstrap(cf_node *node, int64_t *kept) CF_WARN_UNUSED;

#endif /* CF_STORE_REBOOTSTRAP_H */
