/*
** sync/server_int.h: the sync server's hooks for other server modules
** (internal), e.g. the REST API that shares the server's port.
*/
#ifndef CF_SERVER_INT_H
#define CF_SERVER_INT_H

#include "clientflow.h"
#include "sync/transport.h"

/*
** Extra HTTP routes.  Called on the loop thread for every request the server
** does not answer itself (everything but /health).  Return CF_OK if the
** function took the request (it must then answer it, now or later), or
** CF_NOTFOUND to let the server answer 404.
*/
typedef int (*cf_server_http_fn)(void *ctx, cf__ws_http *req);
void cf__server_set_http(cf_server *srv, cf_server_http_fn fn, void *ctx);

/* The server's configuration, for modules that open their own connections
** or verify tokens the same way.  Owned by srv. */
const char *cf__server_database_url(const cf_server *srv);
const cf_auth *cf__server_auth(const cf_server *srv);

#endif
