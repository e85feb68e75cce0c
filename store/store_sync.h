/*
** store/store_sync.h: replica bookkeeping for the sync client (internal).
*/
#ifndef CF_STORE_SYNC_H
#define CF_STORE_SYNC_H

#include <stdint.h>

#include "clientflow.h"

/*
** The number of the next PUSH batch of this node, persisted before it is
** returned: strictly greater than every number returned before, across
** restarts, and than `above` (the last batch the master recorded for this
** node, from WELCOME: another replica with the same node id -- a copied
** directory -- may have pushed higher numbers), so the master never
** mistakes a new batch for a retry or a stale one.
** OUT: *out.  CF_OK or a store error.
*/
int cf__store_next_batch_seq(cf_node *node, uint64_t above, uint64_t *out) CF_WARN_UNUSED;

/*
** The server's clock as a session learned it (WELCOME, in wall-clock ms):
** pulled versions are bounded by the later of the node's wall clock and
** the server's (running on with the monotonic clock), plus the skew bound
** (core/hlc.h, cf__hlc_set_reference).  Lasts while the replica is open.
*/
void cf__store_set_server_clock(cf_node *node, int64_t server_ms);

#endif
