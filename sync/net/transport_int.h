/*
** sync/net/transport_int.h: what sync/net/transport.c and sync/net/transport_http.c share
** (internal to the transport; nothing else includes it).
**
** transport.c owns the endpoint (the lws context and its loop), WebSocket
** sessions and watched fds; transport_http.c owns HTTP requests.  lws hands
** every callback to one function, cb_lws in transport.c, which passes the
** HTTP ones to cf__ws_http_callback.  The lws "opaque user data" of each
** connection points at an object whose first field is a cf__ws_kind tag.
*/
#ifndef CF_SYNC_TRANSPORT_INT_H
#define CF_SYNC_TRANSPORT_INT_H

#include <ev.h>
#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>

#include "sync/net/transport.h"

/* The tag at the start of every object lws's opaque user data points at. */
typedef enum cf__ws_kind {
  CF_WS_KIND_SESSION = 0x5e55, /* cf__ws_session */
  CF_WS_KIND_HTTP = 0x4777,    /* cf__ws_http */
  CF_WS_KIND_WATCH = 0x3a7c    /* cf__ws_watch */
} cf__ws_kind;

/* A function posted to the loop from another thread. */
typedef struct cf__ws_post {
  void (*fn)(void *arg);    /* what to run on the loop thread */
  void *arg;                /* its argument */
  struct cf__ws_post *next; /* FIFO link */
} cf__ws_post;

struct cf__ws_endpoint;

/*
** A one-shot timer of the endpoint's loop: an lws timer (lws_sul) on lws's
** poll() loop, a libev timer on the libev loop (lws 4.1's libev glue only
** re-arms its one libev timer after its own events, so an lws timer set
** from anywhere else could fire late; a libev timer of ours cannot).
*/
typedef struct cf__ws_timer {
  lws_sorted_usec_list_t sul;         /* poll() loop */
  ev_timer ev;                        /* libev loop */
  struct cf__ws_endpoint *ep;         /* its endpoint */
  void (*fn)(struct cf__ws_timer *t); /* called when it fires */
} cf__ws_timer;

/* The shared part of a server and a client. */
typedef struct cf__ws_endpoint {
  struct lws_context *lws;         /* the lws context; NULL before/after */
  struct lws_vhost *vhost;         /* its one vhost */
  int is_server;                   /* 1 for a cf__ws_server */
  cf__ws_handlers h;               /* WebSocket callbacks */
  cf__ws_limits lim;               /* limits, defaults filled in */
  cf__ws_session *sessions;        /* every live session, doubly linked */
  size_t n_sessions;               /* length of that list */
  cf__ws_watch *watches;           /* every live watch, doubly linked */
  lws_sorted_usec_list_t wake_sul; /* bounds the wait of run_once (poll loop) */
  /* The loop: a libev loop of ours (epoll) that lws uses as a foreign loop,
  ** or, when lws's libev plugin cannot be loaded, lws's own poll() loop. */
  struct ev_loop *ev;   /* the libev loop; NULL: lws's poll() loop */
  void *foreign[1];     /* lws's foreign_loops array: { ev } */
  ev_timer ev_wait;     /* bounds the wait of run_once (libev loop) */
  ev_timer ev_tick;     /* wakes lws once a second (libev loop) */
  int lws_timers_dirty; /* lws timers were set outside lws's service: wake it */
  /* Keepalive (docs/transport.md, "Pings"): open sessions in the order of
  ** their last received frame (or ping sent); one lws timer for the head. */
  int64_t ka_ms;                       /* ping after this idle time; 0: off */
  cf__ws_session *ka_head;             /* least recently heard from */
  cf__ws_session *ka_tail;             /* most recently */
  int ka_armed;                        /* ka_timer is set */
  cf__ws_timer ka_timer;               /* fires when the head is due */
  unsigned char ping_buf[LWS_PRE + 8]; /* an empty ping, LWS_PRE in front */
  /* Session deadlines (cf__ws_set_deadline): a binary min-heap ordered by
  ** deadline, so setting one costs O(log n) whatever the number of
  ** sessions; one timer for the earliest (dl_timer). */
  cf__ws_session **dl_heap;  /* the heap; room for every session */
  size_t dl_n;               /* entries in it */
  size_t dl_cap;             /* its room */
  int64_t dl_armed_ms;       /* unix ms dl_timer is set for; 0: not set */
  cf__ws_timer dl_timer;     /* fires at the earliest deadline */
  unsigned char *wbuf;       /* LWS_PRE + FRAME bytes for direct writes */
  lws_retry_bo_t retry;      /* ping/hangup policy lws points at */
  atomic_int stop_requested; /* set by cf__ws_server_stop (any thread) */
  int draining;              /* graceful shutdown in progress */
  int stopped;               /* graceful shutdown finished */
  int64_t drain_deadline_ms; /* monotonic ms when shutdown gives up */
  int destroying;            /* lws_context_destroy is running */
  pthread_mutex_t post_mu;   /* guards posts/posts_tail */
  cf__ws_post *posts;        /* functions posted from other threads */
  cf__ws_post *posts_tail;   /* last of them */
  /* server-only: HTTP */
  cf__ws_http_handlers http;    /* HTTP callbacks */
  size_t max_http_body;         /* request body cap */
  unsigned http_timeout_ms;     /* an unanswered request is dropped after */
  unsigned shutdown_timeout_ms; /* graceful shutdown bound */
  size_t n_http;                /* HTTP requests alive (unanswered or writing) */
  int port;                     /* bound port (server) */
  char host[256];               /* listen address; lws keeps pointing at it */
  int mutex_ok;                 /* post_mu was initialised */
  /* client-only */
  unsigned connect_timeout_ms; /* connect + upgrade bound */
  int tls;                     /* TLS initialised for this endpoint */
  int tls_insecure;            /* accept any server certificate */
} cf__ws_endpoint;

/* The endpoint of the lws context a connection belongs to.  Inline here, with
** the type, so that transport_http.c needs nothing from transport.c (which
** calls into transport_http.c, not the other way round). */
static inline cf__ws_endpoint *cf__ws_endpoint_of(struct lws *wsi) {
  struct lws_context *c = lws_get_context(wsi);
  return c ? (cf__ws_endpoint *)lws_context_user(c) : NULL;
}

/*
** HTTP callbacks from cb_lws (transport_http.c): the lws return convention
** (0 continue, -1 close the connection).
*/
int cf__ws_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *in,
                         size_t len);
/* The connection of an HTTP request is gone: cancel and free it. */
void cf__ws_http_gone(cf__ws_http *req);

#endif /* CF_SYNC_TRANSPORT_INT_H */
