/*
** core/ws_codes.h: the sync channel's WebSocket path, subprotocol and close
** codes (internal).  Shared by the transport (sync/net/transport.h) and the
** sessions, which decide how a connection ends without knowing the
** transport that ends it.  docs/protocol.md and docs/transport.md list them.
*/
#ifndef CF_SYNC_WS_CODES_H
#define CF_SYNC_WS_CODES_H

/* The WebSocket path and subprotocol of the sync channel. */
#define CF_WS_PATH "/sync"
#define CF_WS_SUBPROTOCOL "clientflow.sync.v1"

/* WebSocket close codes the transport sends or reports (RFC 6455, 7.4.1). */
#define CF_WS_CLOSE_NORMAL 1000      /* orderly close by either side */
#define CF_WS_CLOSE_GOING_AWAY 1001  /* the server is shutting down */
#define CF_WS_CLOSE_PROTOCOL 1002    /* malformed WebSocket framing */
#define CF_WS_CLOSE_UNSUPPORTED 1003 /* a text message: only binary is spoken */
#define CF_WS_CLOSE_ABNORMAL 1006    /* never sent: the connection dropped */
#define CF_WS_CLOSE_POLICY 1008      /* refused, or token expired */
#define CF_WS_CLOSE_TOO_BIG 1009     /* a message over the size limit */
#define CF_WS_CLOSE_INTERNAL 1011    /* the endpoint failed (out of memory) */
#define CF_WS_CLOSE_TRY_LATER 1013   /* too slow: its send queue overflowed */

#endif
