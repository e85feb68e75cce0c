/*
** sync/net/transport.h: the WebSocket and HTTP transport (internal).
**
** The transport carries whole binary messages between a sync client and a
** sync server, and answers plain HTTP requests on the server's port.  It knows
** nothing about the protocol inside the messages: the client and server sync
** sessions are state machines fed whole messages, so a simulated network can
** replace this file (docs/transport.md, DESIGN.md "Built to be simulated").
** sync/transport*.c are the only files that include <libwebsockets.h>.
**
** MODEL
**
**  - An endpoint is one libwebsockets context with a single-threaded event
**    loop.  A server (cf__ws_server) listens on host:port; a client
**    (cf__ws_client) opens any number of outgoing connections.  The loop runs
**    when the owner calls *_run_once(timeout) or cf__ws_server_run().
**  - A session (cf__ws_session) is one WebSocket connection, on either side.
**    Callbacks receive it; it stays valid until its on_close callback returns.
**    on_close is called exactly once for every session whose on_open was
**    called (server) or that cf__ws_client_connect returned (client), also
**    when the endpoint is freed.
**  - Incoming messages are reassembled from their fragments and delivered
**    whole; a message longer than the limit closes that session with 1009.
**  - Outgoing messages are copied into a bounded per-session queue and written
**    when the socket is writable; a full queue answers CF_BUSY and, if so
**    configured, closes the session as too slow (1013), so that a stalled
**    peer never holds up the others or grows memory without bound.
**
** THREADS
**
** Every function here must be called from the thread that runs the loop,
** except cf__ws_server_stop, cf__ws_client_wake and the *_post functions,
** which any thread (and, for stop and wake, a signal handler) may call.
** Callbacks run on the loop thread, inside *_run_once.  A callback must not
** free its endpoint.
**
** USAGE (an echo server)
**
**   static void on_message(void *ctx, cf__ws_session *s, const uint8_t *m,
**                          size_t n) { (void)cf__ws_send(s, m, n); }
**   cf__ws_server_config cfg = {0};
**   cfg.ws.on_message = on_message;
**   cf__ws_server *srv;
**   if (cf__ws_server_new(&cfg, &srv) == CF_OK) {
**     printf("port %d\n", cf__ws_server_port(srv));
**     cf__ws_server_run(srv);           // until cf__ws_server_stop
**     cf__ws_server_free(srv);
**   }
*/
#ifndef CF_SYNC_TRANSPORT_H
#define CF_SYNC_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "clientflow.h"
#include "core/ws_codes.h"

typedef struct cf__ws_server cf__ws_server;   /* a listening endpoint */
typedef struct cf__ws_client cf__ws_client;   /* an endpoint for outgoing ones */
typedef struct cf__ws_session cf__ws_session; /* one WebSocket connection */
typedef struct cf__ws_http cf__ws_http;       /* one HTTP request */
typedef struct cf__ws_watch cf__ws_watch;     /* a watched foreign fd */

/*
** Callbacks for WebSocket sessions, on both sides.  Each may be NULL.  ctx is
** handed back unchanged.
*/
typedef struct cf__ws_handlers {
  void *ctx; /* the caller's context for every callback */
  /*
  ** The session is open (server: the upgrade on /sync with the subprotocol
  ** succeeded; client: the server accepted the upgrade).  Return CF_OK to
  ** keep it; anything else closes it with 1008 "refused" (on_close follows).
  */
  int (*on_open)(void *ctx, cf__ws_session *s);
  /* One whole binary message; msg is valid only during the call. */
  void (*on_message)(void *ctx, cf__ws_session *s, const uint8_t *msg, size_t len);
  /*
  ** The session is gone.  rc is CF_OK for any connection that was open,
  ** CF_UNREACHABLE for a client connection that could not be made, and
  ** CF_PROTOCOL for one whose upgrade the server refused.  code is the close
  ** code (the peer's if it closed first, ours if we did, 1006 if the
  ** connection dropped); reason is a static or short-lived string, valid
  ** during the call.  The session is freed when this returns.
  */
  void (*on_close)(void *ctx, cf__ws_session *s, int rc, int code, const char *reason);
  /* The deadline set with cf__ws_set_deadline passed. */
  void (*on_deadline)(void *ctx, cf__ws_session *s);
  /* The send queue emptied after cf__ws_send had answered CF_BUSY. */
  void (*on_drain)(void *ctx, cf__ws_session *s);
} cf__ws_handlers;

/*
** Limits for WebSocket sessions; 0 in a field means its default.
*/
typedef struct cf__ws_limits {
  size_t max_message;        /* longest message either way; 4 MiB */
  size_t max_queue_bytes;    /* bytes waiting to be sent per session; 16 MiB */
  size_t max_queue_messages; /* messages waiting per session; 4096 */
  int keep_when_full;        /* 1: a full queue only answers CF_BUSY; 0: it
                                also closes the session with 1013 */
  unsigned close_timeout_ms; /* a closing session that has not finished its
                                close handshake by then is dropped; 5000 */
  unsigned ping_interval_s;  /* idle seconds before a ping; a peer silent for
                                twice as long is dropped; 0 = 30, and
                                UINT32_MAX turns pings off */
} cf__ws_limits;

/*
** HTTP on the server's port.  on_http is called once per request with its
** body complete; it answers with cf__ws_http_respond, now or later (from the
** loop thread, e.g. when a database result arrives).  If the connection goes
** away before the answer, on_http_cancel is called and the request is freed.
*/
typedef struct cf__ws_http_handlers {
  void *ctx; /* the caller's context for both callbacks */
  void (*on_http)(void *ctx, cf__ws_http *req);
  void (*on_http_cancel)(void *ctx, cf__ws_http *req);
} cf__ws_http_handlers;

typedef struct cf__ws_server_config {
  const char *host;             /* numeric address, interface name or
                                   "localhost" to listen on; NULL = "127.0.0.1";
                                   "0.0.0.0" = every IPv4 interface */
  int port;                     /* TCP port; 0 = an ephemeral one */
  cf__ws_handlers ws;           /* WebSocket callbacks */
  cf__ws_limits limits;         /* WebSocket limits */
  cf__ws_http_handlers http;    /* HTTP callbacks; without on_http every request
                                   is answered 404 */
  size_t max_http_body;         /* longest request body; over it: 413; 1 MiB */
  unsigned http_timeout_ms;     /* an unanswered request is dropped; 30000 */
  unsigned shutdown_timeout_ms; /* graceful shutdown gives up after; 5000 */
  const char *tls_cert_path;    /* PEM certificate: serve wss:// and https://;
                                   NULL = plain */
  const char *tls_key_path;     /* PEM private key, with tls_cert_path */
} cf__ws_server_config;

typedef struct cf__ws_client_config {
  cf__ws_handlers ws;          /* WebSocket callbacks */
  cf__ws_limits limits;        /* WebSocket limits */
  unsigned connect_timeout_ms; /* connect + upgrade must finish by; 10000 */
  int tls;                     /* 1: wss:// will be used (initialises OpenSSL
                                  for this endpoint; implied by the two below) */
  const char *tls_ca_path;     /* PEM CA bundle that replaces the system's */
  int tls_insecure;            /* 1: accept any server certificate (tests) */
} cf__ws_client_config;

/* ---- server ------------------------------------------------------------ */

/*
** CONSTRUCTOR.  Listens on cfg->host:cfg->port.  cfg and its strings need
** only live during the call.
** OUT: *out is the server, freed with cf__ws_server_free; NULL on failure.
** CF_IO when the address cannot be listened on (in use, no such interface),
** CF_NOMEM, CF_INVALID for a bad config.  errmsg, if not NULL, receives a
** one-line reason (errmsg_len bytes at most).
*/
int cf__ws_server_new(const cf__ws_server_config *cfg, cf__ws_server **out, char *errmsg,
                      size_t errmsg_len) CF_WARN_UNUSED;
/*
** DESTRUCTOR.  Drops every connection at once (on_close is called for each
** open session, on_http_cancel for each unanswered request) and frees the
** server.  For a graceful stop, use cf__ws_server_stop and run until
** cf__ws_server_stopped first.  NULL is a no-op.
*/
void cf__ws_server_free(cf__ws_server *srv);
/* The TCP port the server listens on (the chosen one when cfg->port was 0). */
int cf__ws_server_port(const cf__ws_server *srv);
/*
** Runs the loop once: waits up to timeout_ms for an event (0: does not wait,
** -1: until something happens), then handles what is ready.  CF_OK, or
** CF_IO if the loop failed.
*/
int cf__ws_server_run_once(cf__ws_server *srv, int timeout_ms);
/*
** Runs the loop until cf__ws_server_stop was called and the graceful shutdown
** finished.  CF_OK or CF_IO.
*/
int cf__ws_server_run(cf__ws_server *srv);
/*
** Asks the server to stop: from then on it accepts no connection, closes
** every session with 1001 after its queued messages are sent, waits for
** unanswered HTTP requests, and after shutdown_timeout_ms drops what is left.
** Safe from any thread and from a signal handler.
*/
void cf__ws_server_stop(cf__ws_server *srv);
/* 1 once a requested stop has finished (nothing left open), else 0. */
int cf__ws_server_stopped(const cf__ws_server *srv);
/* Number of open sessions (for logs and tests). */
size_t cf__ws_server_session_count(const cf__ws_server *srv);
/*
** Runs fn(arg) on the loop thread soon, waking the loop.  Safe from any
** thread.  Calls still pending when the server is freed are dropped
** (fn is not called).  CF_OK or CF_NOMEM.
*/
int cf__ws_server_post(cf__ws_server *srv, void (*fn)(void *arg), void *arg);
/*
** Watches the foreign file descriptor fd (e.g. libpq's socket, for
** LISTEN/NOTIFY): on_readable(ctx) runs on the loop thread whenever fd is
** readable, until cf__ws_unwatch.  The caller keeps owning fd (the loop polls
** a duplicate) and must unwatch before closing it.  OUT: *out is the watch;
** NULL on failure.  CF_IO, CF_NOMEM.
*/
int cf__ws_watch_fd(cf__ws_server *srv, int fd, void (*on_readable)(void *ctx), void *ctx,
                    cf__ws_watch **out) CF_WARN_UNUSED;
/*
** DESTRUCTOR.  Stops watching; on_readable is not called again.  NULL ok.
** cf__ws_server_free frees the watches still alive: do not unwatch after it.
*/
void cf__ws_unwatch(cf__ws_watch *w);

/* ---- client ------------------------------------------------------------ */

/* CONSTRUCTOR, as cf__ws_server_new, for outgoing connections. */
int cf__ws_client_new(const cf__ws_client_config *cfg, cf__ws_client **out, char *errmsg,
                      size_t errmsg_len) CF_WARN_UNUSED;
/* DESTRUCTOR.  Drops every connection (on_close for each).  NULL ok. */
void cf__ws_client_free(cf__ws_client *cli);
/*
** Starts a connection to url, "ws://host[:port][/path]" or "wss://...", the
** path defaulting to /sync.  Returns at once: on_open or on_close (rc
** CF_UNREACHABLE) follow from the loop.  OUT: *out is the session, valid
** until its on_close returns; NULL on failure: CF_INVALID for a bad URL,
** CF_CONFIG for wss:// on a client made without tls, CF_UNREACHABLE if the
** connection failed at once, CF_NOMEM.
*/
int cf__ws_client_connect(cf__ws_client *cli, const char *url,
                          cf__ws_session **out) CF_WARN_UNUSED;
/* As cf__ws_server_run_once. */
int cf__ws_client_run_once(cf__ws_client *cli, int timeout_ms);
/* Wakes a client loop blocked in run_once.  Any thread, signal handlers. */
void cf__ws_client_wake(cf__ws_client *cli);
/* As cf__ws_server_post: fn(arg) runs on the client's loop thread soon. */
int cf__ws_client_post(cf__ws_client *cli, void (*fn)(void *arg), void *arg);
/* Number of sessions not yet closed (connecting or open). */
size_t cf__ws_client_session_count(const cf__ws_client *cli);

/* ---- sessions (both sides) --------------------------------------------- */

/*
** Queues a copy of msg[0..len) as one binary message.  CF_OK; CF_TOOBIG if
** len is over max_message; CF_BUSY if the queue is full (the message is not
** queued, and unless keep_when_full the session is now closing with 1013);
** CF_MISUSE if the session is closing or not open yet; CF_NOMEM.
*/
int cf__ws_send(cf__ws_session *s, const void *msg, size_t len);
/*
** Closes the session with code (1000-4999, not 1005/1006) and reason (at most
** 123 bytes are sent): queued messages are sent first.  Further calls are
** no-ops.  on_close follows from the loop.
*/
void cf__ws_close(cf__ws_session *s, int code, const char *reason);
/* Calls on_deadline at unix_ms (cf__now_ms clock); 0 cancels. */
void cf__ws_set_deadline(cf__ws_session *s, int64_t unix_ms);
/* The caller's pointer for this session (NULL until set). */
void cf__ws_session_set_user(cf__ws_session *s, void *user);
void *cf__ws_session_user(const cf__ws_session *s);
/* The peer's address for logs: "127.0.0.1" (server side), "host:port"
** (client side).  Valid as long as the session. */
const char *cf__ws_session_peer(const cf__ws_session *s);
/* Bytes and messages waiting in the send queue. */
size_t cf__ws_session_queued_bytes(const cf__ws_session *s);
size_t cf__ws_session_queued_messages(const cf__ws_session *s);
/* 1 once the session is open and not closing. */
int cf__ws_session_is_open(const cf__ws_session *s);

/* ---- HTTP requests ------------------------------------------------------ */

/* Headers the transport keeps from a request. */
typedef enum cf__ws_http_header {
  CF_WS_HDR_AUTHORIZATION, /* Authorization */
  CF_WS_HDR_USER_ID,       /* x-user-id (development only, see DESIGN.md) */
  CF_WS_HDR_CONTENT_TYPE,  /* Content-Type */
  CF_WS_HDR_COUNT
} cf__ws_http_header;

/*
** What a request carries.  Every pointer is owned by the request and valid
** until it is answered (cf__ws_http_respond) or cancelled.
*/
const char *cf__ws_http_method(const cf__ws_http *req); /* "GET", "POST", ... */
const char *cf__ws_http_path(const cf__ws_http *req);   /* "/health" (decoded) */
/* The query string re-encoded ("orgId=...&limit=10"), "" if none. */
const char *cf__ws_http_query(const cf__ws_http *req);
/* The decoded value of query parameter name, NULL if absent. */
const char *cf__ws_http_query_param(const cf__ws_http *req, const char *name);
/* A kept header's value, NULL if absent. */
const char *cf__ws_http_header_value(const cf__ws_http *req, cf__ws_http_header h);
/* The body (not NUL-terminated) and its length; NULL and 0 if none. */
const uint8_t *cf__ws_http_body(const cf__ws_http *req, size_t *len);
/* The client's address, for logs (looked up on the first call). */
const char *cf__ws_http_peer(cf__ws_http *req);
/* The caller's pointer for this request. */
void cf__ws_http_set_user(cf__ws_http *req, void *user);
void *cf__ws_http_user(const cf__ws_http *req);
/*
** Adds a response header (name without the colon, e.g. "Allow"); up to 8,
** before cf__ws_http_respond.  CF_OK, CF_TOOBIG, CF_NOMEM.
*/
int cf__ws_http_add_header(cf__ws_http *req, const char *name, const char *value);
/*
** Answers the request with status, content_type and a copy of body[0..len).
** The request belongs to the transport again from here on: the caller must
** not touch it after this call.  CF_OK; CF_NOMEM (the connection is then
** dropped); CF_MISUSE if it was already answered.
*/
int cf__ws_http_respond(cf__ws_http *req, int status, const char *content_type,
                        const void *body, size_t len);

#endif /* CF_SYNC_TRANSPORT_H */
