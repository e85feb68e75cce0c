/*
** sync/server_int.h: the sync server's hooks for other server modules
** (internal), e.g. the REST API that shares the server's port (sync/server/rest.c).
*/
#ifndef CF_SERVER_INT_H
#define CF_SERVER_INT_H

#include "clientflow.h"
#include "sync/net/transport.h"

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
**             server's own workers stopped and BEFORE the transport is
**             freed: the module stops its threads and frees itself.  Neither
**             callback is called afterwards; requests it still held are
**             dropped by the transport.
*/
typedef int (*cf_server_http_fn)(void *ctx, cf__ws_http *req);
typedef struct cf__server_http_hooks {
  void *ctx;                                      /* handed to each callback */
  cf_server_http_fn on_http;                      /* see above */
  void (*on_cancel)(void *ctx, cf__ws_http *req); /* see above */
  void (*on_free)(void *ctx);                     /* see above */
} cf__server_http_hooks;

/*
** Installs the module (copied); the server owns it from then on and calls
** its on_free.  CF_MISUSE if a module is already installed or the server is
** started.
*/
int cf__server_set_http(cf_server *srv,
                        const cf__server_http_hooks *hooks) CF_WARN_UNUSED;

/*
** Runs fn(arg) on the loop thread soon (cf__ws_server_post): for a module's
** worker threads that answer a request.  Safe from any thread once the
** server is started; pending calls are dropped when the server is freed.
** CF_OK, CF_NOMEM, CF_MISUSE (not started).
*/
int cf__server_post(cf_server *srv, void (*fn)(void *arg), void *arg);

/* The server's configuration, for modules that open their own connections
** or verify tokens the same way.  Owned by srv; fixed once it is started. */
const char *cf__server_database_url(const cf_server *srv);
const cf_auth *cf__server_auth(const cf_server *srv);

#endif
