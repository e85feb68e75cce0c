/*
** sync/server/server_int.h: the sync server's hooks for other server
** modules (internal), e.g. the REST API that shares the server's port and
** worker pool (sync/server/rest.c).
*/
#ifndef CF_SERVER_INT_H
#define CF_SERVER_INT_H

#include "clientflow.h"
#include "sync/net/transport.h"
#include "sync/server/pool.h"

/*
** Extra HTTP routes, as one module the server owns once it is set.
**
**  on_http    called on the loop thread for every request the server does
**             not answer itself (everything but /health).  Return CF_OK if
**             the module took the request (it must then answer it, now or
**             later from the loop thread), or CF_NOTFOUND to let the server
**             answer 404.
**  on_cancel  (may be NULL) the connection of a request the module took
**             and has not answered yet went away: the request is freed when
**             this returns and must not be touched again.  Loop thread.
**  on_free    (may be NULL) called once from cf_server_free, after the
**             worker pool stopped (items of the module's kind still queued
**             went to their ops->drop) and BEFORE the transport is freed:
**             the module frees itself.  Neither callback is called
**             afterwards; requests it still held are dropped by the
**             transport.
**  workers    how many of the pool's workers the module's items
**             (CF_POOL_REST) may hold at once; the pool grows by as many.
**  queue_max  how many of its items may wait for a worker (0: no limit);
**             cf__pool_submit answers CF_BUSY beyond it.
*/
typedef int (*cf_server_http_fn)(void *ctx, cf__ws_http *req);
typedef struct cf__server_http_hooks {
  void *ctx;                                      /* handed to each callback */
  cf_server_http_fn on_http;                      /* see above */
  void (*on_cancel)(void *ctx, cf__ws_http *req); /* see above */
  void (*on_free)(void *ctx);                     /* see above */
  int workers;                                    /* see above, 1..32 */
  size_t queue_max;                               /* see above */
} cf__server_http_hooks;

/*
** Installs the module (copied); the server owns it from then on and calls
** its on_free.  CF_MISUSE if a module is already installed or the server is
** started.
*/
int cf__server_set_http(cf_server *srv,
                        const cf__server_http_hooks *hooks) CF_WARN_UNUSED;

/*
** The server's worker pool (sync/server/pool.h), where the module submits
** its items (kind CF_POOL_REST); their ops->done run on the loop thread.
** NULL before cf_server_start; owned by srv.  Loop thread.
*/
cf__pool *cf__server_pool(const cf_server *srv);

/*
** Whether the server reads the next page of a pull ahead while the client
** takes the one before (sync/server/prefetch.h; on by default).  For
** benchmarks and tests that compare.  CF_MISUSE once started.
*/
int cf__server_set_read_ahead(cf_server *srv, int on) CF_WARN_UNUSED;

/* The rows of one CHANGES page the server offers in WELCOME and caps PULLs
** at (1..CF_PULL_MAX_PAGE; 5,000 by default), so that tests can have a
** small org come in many pages.  CF_CONFIG out of range, CF_MISUSE once
** started. */
int cf__server_set_max_page(cf_server *srv, size_t rows) CF_WARN_UNUSED;

/* The server's token verifier, for modules that verify tokens the same way.
** Owned by srv; fixed once it is started. */
const cf_auth *cf__server_auth(const cf_server *srv);

#endif
