/*
** sync/net/transport.c: WebSocket sessions over libwebsockets 4.1 (internal).
**
** The API and its rules are in sync/net/transport.h; the design (why one lws
** context per endpoint, how queues, deadlines and shutdown work) is in
** docs/transport.md.  HTTP requests on the server's port are in
** sync/net/transport_http.c.
**
** How lws is driven here:
**  - One context per endpoint, one vhost ("cf"), running on a libev loop
**    (epoll) that the endpoint owns and lws uses as a foreign loop
**    (Debian's libwebsockets-evlib-ev plugin): run_once is one
**    ev_run(EVRUN_ONCE) bounded by a libev timer, then one EVRUN_NOWAIT
**    pass for lws's idle work.  The transport's timers are libev timers
**    (cf__ws_timer), and connections dropped from outside lws's service
**    wake lws through its event pipe (lws_timers_touched).  Without the
**    plugin, lws's default poll() loop: lws_service(ctx, 0) in 4.1 waits
**    until the next scheduled event or socket activity whatever the
**    timeout says, and lws_service(ctx, -1) never waits; run_once(timeout)
**    then schedules a no-op lws_sul at the timeout to bound the wait.
**  - Keepalive: lws's (a timer per connection, re-inserted into its sorted
**    timer list on every frame received) is off; open sessions are one
**    list in the order last heard from, with one timer for the head
**    (ka_*).
**  - Protocols: "http" (index 0: plain HTTP, and the target lws picks for an
**    upgrade without a subprotocol, which is refused), "clientflow.sync.v1"
**    (WebSocket sessions) and "cf-watch" (foreign fds adopted as raw files).
**    All three share the callback cb_lws.
**  - Each connection's lws "opaque user data" points at our object for it; a
**    tag in the object's first field says which kind (transport_int.h).
**  - A server message for a session with an empty queue is written at once
**    (try_direct_write).  Others are written from the WRITEABLE callbacks,
**    in frames of at most FRAME_BYTES from a queue whose entries keep
**    LWS_PRE bytes in front of their payload for lws's frame header.  A
**    long message goes out as a fragmented WebSocket message: the header of
**    fragment k is written into bytes of fragment k-1 that were already
**    sent.
**  - Session deadlines live in one min-heap per endpoint with one timer
**    for the earliest (lws's timer list is sorted and walked per insert).
*/
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "platform/platform.h"
#include "sync/net/transport_int.h"

#define DEFAULT_MAX_MESSAGE ((size_t)4 << 20)
#define DEFAULT_QUEUE_BYTES ((size_t)16 << 20)
#define DEFAULT_QUEUE_MESSAGES ((size_t)4096)
#define DEFAULT_CLOSE_TIMEOUT_MS 5000u
#define DEFAULT_PING_S 30u
#define DEFAULT_CONNECT_TIMEOUT_MS 10000u
#define DEFAULT_HTTP_BODY ((size_t)1 << 20)
#define DEFAULT_HTTP_TIMEOUT_MS 30000u
#define DEFAULT_SHUTDOWN_MS 5000u
#define FRAME_BYTES ((size_t)64 << 10) /* largest frame we write at once */
#define WRITES_PER_CALLBACK 16         /* frames per WRITEABLE callback */
#define REASON_MAX 123                 /* close reason bytes (RFC 6455) */

/* Where a client session connects; lws points at these while it does.
** Apart from the session so that a server session does not carry them. */
struct client_addr {
  char host[256]; /* host to connect to */
  char path[512]; /* request path */
};

/* One queued outgoing message. */
typedef struct qmsg {
  struct qmsg *next;    /* FIFO link */
  size_t len;           /* payload bytes */
  size_t off;           /* payload bytes already written */
  unsigned char data[]; /* LWS_PRE bytes for lws, then the payload */
} qmsg;

struct cf__ws_session {
  int kind;                          /* CF_WS_KIND_SESSION */
  cf__ws_endpoint *ep;               /* the endpoint it belongs to */
  struct lws *wsi;                   /* its connection; NULL once gone */
  cf__ws_session *prev;              /* endpoint's session list */
  cf__ws_session *next;              /* endpoint's session list */
  void *user;                        /* the caller's pointer */
  char peer[96];                     /* peer address for logs */
  int open;                          /* established (on_open was called) */
  int notify;                        /* on_close is owed to the caller */
  int gone;                          /* on_close was called or is running */
  int closing;                       /* a close was requested */
  int close_sent;                    /* our close frame went out */
  int discard;                       /* closing without sending the queue */
  int close_code;                    /* our close code */
  char close_reason[REASON_MAX + 1]; /* our close reason */
  int peer_closed;                   /* the peer sent a close frame */
  int peer_code;                     /* its code (1005 if none) */
  char peer_reason[REASON_MAX + 1];  /* its reason */
  int busy;                          /* cf__ws_send answered CF_BUSY since drain */
  qmsg *qhead;                       /* send queue head */
  qmsg *qtail;                       /* send queue tail */
  size_t q_bytes;                    /* payload bytes queued */
  size_t q_msgs;                     /* messages queued */
  uint8_t *rx;                       /* message being reassembled */
  size_t rx_len;                     /* its bytes so far */
  size_t rx_cap;                     /* rx allocation */
  int rx_in_msg;                     /* between first and final fragment */
  int rx_skip;                       /* drop the rest of this message */
  int64_t deadline_ms;               /* cf__ws_set_deadline (unix ms), 0: none */
  size_t dl_idx;                     /* its place in ep->dl_heap + 1; 0: none */
  cf__ws_timer grace;                /* close_timeout_ms after closing */
  cf__ws_session *ka_prev;           /* endpoint's keepalive list */
  cf__ws_session *ka_next;           /* endpoint's keepalive list */
  int64_t ka_at;                     /* monotonic ms: last frame heard, or ping sent */
  int ka_in;                         /* in the keepalive list */
  int ka_pinged;                     /* a ping is out, unanswered */
  int ping_owed;                     /* a ping waits for the writable callback */
  int in_connect;                    /* inside lws_client_connect_via_info */
  int failed_in_connect;             /* the connect failed synchronously */
  struct client_addr *addr;          /* client: where it connects (owned),
                                        NULL on the server side */
};

struct cf__ws_watch {
  int kind;              /* CF_WS_KIND_WATCH */
  cf__ws_endpoint *ep;   /* owner */
  struct lws *wsi;       /* the adopted duplicate fd; NULL once gone */
  void (*fn)(void *ctx); /* called when readable */
  void *ctx;             /* fn's argument */
  int dead;              /* cf__ws_unwatch was called */
  cf__ws_watch *prev;    /* endpoint's watch list */
  cf__ws_watch *next;    /* endpoint's watch list */
};

struct cf__ws_server {
  cf__ws_endpoint ep; /* everything; the type only keeps the two apart */
};

struct cf__ws_client {
  cf__ws_endpoint ep; /* everything; the type only keeps the two apart */
};

static int cb_lws(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                  size_t len);

/* Index 0 also receives every HTTP request and the WSI_DESTROY callbacks. */
static const struct lws_protocols protocols[] = {
    {"http", cb_lws, 0, 0, 0, NULL, 0},
    {CF_WS_SUBPROTOCOL, cb_lws, 0, 0, 0, NULL, 0},
    {"cf-watch", cb_lws, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0}};

/* ---- small helpers ------------------------------------------------------ */

static int64_t mono_ms(void) { return cf__monotonic_ns() / 1000000; }

static void set_err(char *errmsg, size_t errmsg_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *errmsg, size_t errmsg_len, const char *fmt, ...) {
  if (errmsg == NULL || errmsg_len == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(errmsg, errmsg_len, fmt, ap);
  va_end(ap);
}

static void copy_str(char *dst, size_t cap, const char *src, size_t n) {
  if (n > cap - 1) n = cap - 1;
  memcpy(dst, src, n);
  dst[n] = '\0';
}

static cf__ws_session *session_of(struct lws *wsi) {
  int *tag = lws_get_opaque_user_data(wsi);
  return tag && *tag == CF_WS_KIND_SESSION ? (cf__ws_session *)tag : NULL;
}

static cf__ws_watch *watch_of(struct lws *wsi) {
  int *tag = lws_get_opaque_user_data(wsi);
  return tag && *tag == CF_WS_KIND_WATCH ? (cf__ws_watch *)tag : NULL;
}

/* lws's own log lines go to cf__log at debug level, and only when asked. */
static void lws_log_emit(int level, const char *line) {
  size_t n = strlen(line);
  while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
    n--;
  cf__log(CF_LOG_DEBUG, "msg=\"lws\" lws_level=%d line=\"%.*s\"", level, (int)n, line);
}

static pthread_once_t log_once = PTHREAD_ONCE_INIT;
static void setup_lws_log(void) {
  const char *env = getenv("CF_LOG_LEVEL");
  if (env != NULL && strcmp(env, "debug") == 0)
    lws_set_log_level(LLL_ERR | LLL_WARN | LLL_NOTICE, lws_log_emit);
  else
    lws_set_log_level(0, lws_log_emit);
}

/* ---- posts from other threads -------------------------------------------- */

static void drain_posts(cf__ws_endpoint *ep) {
  pthread_mutex_lock(&ep->post_mu);
  cf__ws_post *p = ep->posts;
  ep->posts = ep->posts_tail = NULL;
  pthread_mutex_unlock(&ep->post_mu);
  while (p != NULL) {
    cf__ws_post *next = p->next;
    p->fn(p->arg);
    cf__free(p);
    p = next;
  }
}

static int endpoint_post(cf__ws_endpoint *ep, void (*fn)(void *arg), void *arg) {
  if (fn == NULL) return CF_MISUSE;
  cf__ws_post *p = cf__malloc(sizeof *p);
  if (p == NULL) return CF_NOMEM;
  p->fn = fn;
  p->arg = arg;
  p->next = NULL;
  pthread_mutex_lock(&ep->post_mu);
  if (ep->posts_tail != NULL)
    ep->posts_tail->next = p;
  else
    ep->posts = p;
  ep->posts_tail = p;
  pthread_mutex_unlock(&ep->post_mu);
  lws_cancel_service(ep->lws);
  return CF_OK;
}

int cf__ws_server_post(cf__ws_server *srv, void (*fn)(void *arg), void *arg) {
  return srv == NULL ? CF_MISUSE : endpoint_post(&srv->ep, fn, arg);
}

int cf__ws_client_post(cf__ws_client *cli, void (*fn)(void *arg), void *arg) {
  return cli == NULL ? CF_MISUSE : endpoint_post(&cli->ep, fn, arg);
}

/* ---- sessions ------------------------------------------------------------ */

/*
** An lws timer was set, or a connection told to die, perhaps from outside
** lws's own service (a posted function, a caller between two run_once
** calls).  On the libev loop lws re-arms its one libev timer only after
** its own events, so the next run_once wakes it first (endpoint_run_once).
*/
static void lws_timers_touched(cf__ws_endpoint *ep) { ep->lws_timers_dirty = 1; }

/* ---- timers ----------------------------------------------------------------- */

static void timer_sul_fired(lws_sorted_usec_list_t *sul) {
  cf__ws_timer *t = (cf__ws_timer *)(void *)((char *)sul - offsetof(cf__ws_timer, sul));
  t->fn(t);
}

static void timer_ev_fired(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)loop;
  (void)revents;
  cf__ws_timer *t = (cf__ws_timer *)(void *)((char *)w - offsetof(cf__ws_timer, ev));
  t->fn(t);
}

static void timer_init(cf__ws_endpoint *ep, cf__ws_timer *t,
                       void (*fn)(cf__ws_timer *t)) {
  memset(t, 0, sizeof *t);
  t->ep = ep;
  t->fn = fn;
  ev_init(&t->ev, timer_ev_fired);
}

/* (Re)schedules t delay_ms from now. */
static void timer_set(cf__ws_timer *t, int64_t delay_ms) {
  cf__ws_endpoint *ep = t->ep;
  if (ep == NULL || ep->lws == NULL || ep->destroying) return;
  if (ep->ev != NULL) {
    ev_timer_stop(ep->ev, &t->ev);
    ev_now_update(ep->ev); /* the loop's time is that of its last turn */
    ev_timer_set(&t->ev, (ev_tstamp)delay_ms / 1000.0, 0.);
    ev_timer_start(ep->ev, &t->ev);
  } else {
    lws_sul_schedule(ep->lws, 0, &t->sul, timer_sul_fired, (lws_usec_t)delay_ms * 1000);
  }
}

static void timer_cancel(cf__ws_timer *t) {
  cf__ws_endpoint *ep = t->ep;
  if (ep == NULL) return;
  if (ep->ev != NULL)
    ev_timer_stop(ep->ev, &t->ev);
  else if (ep->lws != NULL)
    lws_sul_cancel(&t->sul);
  else /* the context and its timer lists are gone */
    memset(&t->sul, 0, sizeof t->sul);
}

static void grace_fire(cf__ws_timer *t) {
  cf__ws_session *s =
      (cf__ws_session *)(void *)((char *)t - offsetof(cf__ws_session, grace));
  if (s->wsi != NULL) {
    cf__log(CF_LOG_DEBUG, "msg=\"ws close timed out, dropping\" peer=%s", s->peer);
    lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    lws_timers_touched(s->ep);
  }
}

/* ---- deadlines: a min-heap of sessions ---------------------------------------- */

static int dl_less(const cf__ws_endpoint *ep, size_t a, size_t b) {
  return ep->dl_heap[a]->deadline_ms < ep->dl_heap[b]->deadline_ms;
}

static void dl_swap(cf__ws_endpoint *ep, size_t a, size_t b) {
  cf__ws_session *t = ep->dl_heap[a];
  ep->dl_heap[a] = ep->dl_heap[b];
  ep->dl_heap[b] = t;
  ep->dl_heap[a]->dl_idx = a + 1;
  ep->dl_heap[b]->dl_idx = b + 1;
}

/* Restores the heap order around index i (after an insert or a change). */
static void dl_fix(cf__ws_endpoint *ep, size_t i) {
  while (i > 0 && dl_less(ep, i, (i - 1) / 2)) {
    dl_swap(ep, i, (i - 1) / 2);
    i = (i - 1) / 2;
  }
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < ep->dl_n && dl_less(ep, l, m)) m = l;
    if (r < ep->dl_n && dl_less(ep, r, m)) m = r;
    if (m == i) break;
    dl_swap(ep, i, m);
    i = m;
  }
}

static void dl_remove(cf__ws_session *s) {
  cf__ws_endpoint *ep = s->ep;
  if (s->dl_idx == 0) return;
  size_t i = s->dl_idx - 1;
  s->dl_idx = 0;
  ep->dl_n--;
  if (i == ep->dl_n) return;
  ep->dl_heap[i] = ep->dl_heap[ep->dl_n];
  ep->dl_heap[i]->dl_idx = i + 1;
  dl_fix(ep, i);
}

static void dl_fire(cf__ws_timer *t);

/* Points lws's one timer at the earliest deadline (if it moved). */
static void dl_arm(cf__ws_endpoint *ep) {
  if (ep->lws == NULL || ep->destroying) return;
  int64_t want = ep->dl_n > 0 ? ep->dl_heap[0]->deadline_ms : 0;
  if (want == ep->dl_armed_ms) return;
  ep->dl_armed_ms = want;
  if (want == 0) {
    timer_cancel(&ep->dl_timer);
    return;
  }
  int64_t delay = want - cf__now_ms();
  if (delay < 0) delay = 0;
  timer_set(&ep->dl_timer, delay);
}

static void dl_fire(cf__ws_timer *t) {
  cf__ws_endpoint *ep = t->ep;
  ep->dl_armed_ms = 0;
  int64_t now = cf__now_ms();
  /* Each callback may set or clear deadlines (its own or others'): take
  ** the due session out first, then call. */
  while (ep->dl_n > 0 && ep->dl_heap[0]->deadline_ms <= now) {
    cf__ws_session *s = ep->dl_heap[0];
    dl_remove(s);
    s->deadline_ms = 0;
    if (!s->gone && ep->h.on_deadline != NULL) ep->h.on_deadline(ep->h.ctx, s);
  }
  dl_arm(ep);
}

/* ---- keepalive: one list and one timer, not a timer per session ------------ */

static void ka_unlink(cf__ws_session *s) {
  cf__ws_endpoint *ep = s->ep;
  if (!s->ka_in) return;
  if (s->ka_prev != NULL)
    s->ka_prev->ka_next = s->ka_next;
  else
    ep->ka_head = s->ka_next;
  if (s->ka_next != NULL)
    s->ka_next->ka_prev = s->ka_prev;
  else
    ep->ka_tail = s->ka_prev;
  s->ka_prev = s->ka_next = NULL;
  s->ka_in = 0;
}

static void ka_fire(cf__ws_timer *t);

/* Schedules the keepalive timer for the head of the list unless it is set
** (an early wake-up finds the head not due and sets it again). */
static void ka_arm(cf__ws_endpoint *ep) {
  if (ep->ka_armed || ep->ka_head == NULL || ep->lws == NULL || ep->destroying) return;
  int64_t delay = ep->ka_head->ka_at + ep->ka_ms - mono_ms();
  if (delay < 0) delay = 0;
  /* a little late, so that the sessions due meanwhile go in one batch */
  delay += ep->ka_ms / 64;
  ep->ka_armed = 1;
  timer_set(&ep->ka_timer, delay);
}

/* s was heard from (or pinged) at now: to the tail of the list. */
static void ka_push(cf__ws_session *s, int64_t now) {
  cf__ws_endpoint *ep = s->ep;
  if (ep->ka_ms == 0) return;
  ka_unlink(s);
  s->ka_at = now;
  s->ka_prev = ep->ka_tail;
  if (ep->ka_tail != NULL)
    ep->ka_tail->ka_next = s;
  else
    ep->ka_head = s;
  ep->ka_tail = s;
  s->ka_in = 1;
  ka_arm(ep);
}

/* A frame (message, pong) arrived on an open session: it is alive. */
static void ka_heard(cf__ws_session *s) {
  if (!s->ka_in) return; /* not open, or closing */
  s->ka_pinged = 0;
  ka_push(s, mono_ms());
}

/* Pings s: at once if nothing of s waits to be sent (server), else from the
** writable callback, between two messages.  The ping carries 8 bytes (of
** ep->ping_buf): lws 4.1 does not report a pong without payload. */
static void ka_ping(cf__ws_session *s) {
  cf__ws_endpoint *ep = s->ep;
  if (ep->wbuf != NULL && s->qhead == NULL && !s->ping_owed &&
      !lws_send_pipe_choked(s->wsi)) {
    if (lws_write(s->wsi, ep->ping_buf + LWS_PRE, 8, LWS_WRITE_PING) < 0) {
      lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
      lws_timers_touched(ep);
    }
    return;
  }
  s->ping_owed = 1;
  lws_callback_on_writable(s->wsi);
}

static void ka_fire(cf__ws_timer *t) {
  cf__ws_endpoint *ep = t->ep;
  int64_t now = mono_ms();
  ep->ka_armed = 1; /* the pushes below do not set it: once, at the end */
  while (ep->ka_head != NULL && ep->ka_head->ka_at + ep->ka_ms <= now) {
    cf__ws_session *s = ep->ka_head;
    if (s->ka_pinged) { /* silent for a ping interval after a ping */
      ka_unlink(s);
      cf__log(CF_LOG_DEBUG, "msg=\"ws peer silent, dropping\" peer=%s", s->peer);
      lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
      lws_timers_touched(ep);
    } else {
      s->ka_pinged = 1;
      ka_push(s, now);
      ka_ping(s);
    }
  }
  ep->ka_armed = 0;
  ka_arm(ep);
}

static cf__ws_session *session_new(cf__ws_endpoint *ep) {
  if (ep->n_sessions + 1 > ep->dl_cap) { /* every session fits in the heap */
    size_t cap = ep->dl_cap ? ep->dl_cap * 2 : 64;
    cf__ws_session **grown = cf__realloc(ep->dl_heap, cap * sizeof *grown);
    if (grown == NULL) return NULL;
    ep->dl_heap = grown;
    ep->dl_cap = cap;
  }
  cf__ws_session *s = cf__calloc(1, sizeof *s);
  if (s == NULL) return NULL;
  s->kind = CF_WS_KIND_SESSION;
  s->ep = ep;
  timer_init(ep, &s->grace, grace_fire);
  s->next = ep->sessions;
  if (ep->sessions != NULL) ep->sessions->prev = s;
  ep->sessions = s;
  ep->n_sessions++;
  return s;
}

static void queue_clear(cf__ws_session *s) {
  while (s->qhead != NULL) {
    qmsg *m = s->qhead;
    s->qhead = m->next;
    cf__free(m);
  }
  s->qtail = NULL;
  s->q_bytes = 0;
  s->q_msgs = 0;
}

/* Unlinks and frees s; no callback. */
static void session_free(cf__ws_session *s) {
  cf__ws_endpoint *ep = s->ep;
  dl_remove(s);
  ka_unlink(s);
  timer_cancel(&s->grace);
  if (s->prev != NULL)
    s->prev->next = s->next;
  else
    ep->sessions = s->next;
  if (s->next != NULL) s->next->prev = s->prev;
  ep->n_sessions--;
  queue_clear(s);
  cf__free(s->rx);
  cf__free(s->addr);
  cf__free(s);
}

/*
** The connection of s is gone: tell the caller (once) and free s.  rc is
** CF_OK, or for a client that never got through CF_UNREACHABLE/CF_PROTOCOL
** with lws's explanation in why.
*/
static void session_gone(cf__ws_session *s, int rc, const char *why) {
  if (s->gone) return;
  if (s->wsi != NULL) lws_set_opaque_user_data(s->wsi, NULL);
  s->wsi = NULL;
  ka_unlink(s);
  if (s->in_connect) {
    s->failed_in_connect = 1; /* cf__ws_client_connect reports it */
    return;
  }
  s->gone = 1;
  int code = CF_WS_CLOSE_ABNORMAL;
  char reason[REASON_MAX + 64];
  if (rc != CF_OK && !s->closing) {
    snprintf(reason, sizeof reason, "%s: %s",
             rc == CF_PROTOCOL ? "server refused the upgrade" : "server unreachable",
             why != NULL && *why ? why : "connection failed");
  } else if (s->peer_closed) {
    code = s->peer_code;
    snprintf(reason, sizeof reason, "%s", s->peer_reason);
  } else if (s->closing) {
    code = s->close_code;
    snprintf(reason, sizeof reason, "%s", s->close_reason);
    rc = CF_OK;
  } else {
    snprintf(reason, sizeof reason, "connection lost");
  }
  cf__log(CF_LOG_DEBUG, "msg=\"ws session closed\" peer=%s code=%d reason=\"%s\"",
          s->peer, code, reason);
  if (s->notify && s->ep->h.on_close != NULL)
    s->ep->h.on_close(s->ep->h.ctx, s, rc, code, reason);
  session_free(s);
}

void cf__ws_close(cf__ws_session *s, int code, const char *reason) {
  if (s == NULL || s->gone || s->closing) return;
  if (code < 1000 || code > 4999 || code == 1005 || code == 1006)
    code = CF_WS_CLOSE_INTERNAL;
  s->closing = 1;
  s->close_code = code;
  if (reason == NULL) reason = "";
  copy_str(s->close_reason, sizeof s->close_reason, reason, strlen(reason));
  ka_unlink(s); /* the close timeout bounds it now */
  if (s->wsi == NULL) return;
  lws_timers_touched(s->ep);
  if (!s->open) {
    /* still connecting: nothing to say goodbye on */
    lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    return;
  }
  lws_callback_on_writable(s->wsi);
  timer_set(&s->grace, s->ep->lim.close_timeout_ms);
}

/* The queue overflowed: drop what is queued and close as too slow. */
static void close_too_slow(cf__ws_session *s) {
  cf__log(CF_LOG_WARN,
          "msg=\"ws peer too slow, dropping\" peer=%s queued_bytes=%zu "
          "queued_messages=%zu",
          s->peer, s->q_bytes, s->q_msgs);
  s->discard = 1;
  cf__ws_close(s, CF_WS_CLOSE_TRY_LATER, "too slow: send queue full");
}

/*
** Server side: writes msg at once when nothing of s waits to be sent and
** the socket takes it: a LIVE or a shared page then costs one write(2),
** without a queue entry and without a trip through the loop for the
** writable callback.  lws keeps what the kernel does not take and sends it
** before anything else.  1 if written (or the connection failed and is
** being dropped), 0 if the caller must queue it (a client endpoint, which
** has no write buffer, always queues).
*/
static int try_direct_write(cf__ws_session *s, const void *msg, size_t len) {
  cf__ws_endpoint *ep = s->ep;
  if (ep->wbuf == NULL || len > FRAME_BYTES || ep->destroying) return 0;
  if (lws_send_pipe_choked(s->wsi)) return 0;
  if (len > 0) memcpy(ep->wbuf + LWS_PRE, msg, len);
  if (lws_write(s->wsi, ep->wbuf + LWS_PRE, len, LWS_WRITE_BINARY) < 0) {
    /* the connection is broken: lws closes it; the session learns it in
    ** on_close like any dropped connection */
    s->discard = 1;
    lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    lws_timers_touched(ep);
  }
  return 1;
}

int cf__ws_send(cf__ws_session *s, const void *msg, size_t len) {
  if (s == NULL || (msg == NULL && len > 0)) return CF_MISUSE;
  if (s->gone || s->closing || !s->open || s->wsi == NULL) return CF_MISUSE;
  const cf__ws_limits *lim = &s->ep->lim;
  if (len > lim->max_message) return CF_TOOBIG;
  if (s->q_msgs >= lim->max_queue_messages || len > lim->max_queue_bytes - s->q_bytes) {
    s->busy = 1;
    if (!lim->keep_when_full) close_too_slow(s);
    return CF_BUSY;
  }
  if (s->qhead == NULL && try_direct_write(s, msg, len)) return CF_OK;
  qmsg *m = cf__malloc(sizeof *m + LWS_PRE + len);
  if (m == NULL) return CF_NOMEM;
  m->next = NULL;
  m->len = len;
  m->off = 0;
  if (len > 0) memcpy(m->data + LWS_PRE, msg, len);
  if (s->qtail != NULL)
    s->qtail->next = m;
  else
    s->qhead = m;
  s->qtail = m;
  s->q_bytes += len;
  s->q_msgs++;
  lws_callback_on_writable(s->wsi);
  return CF_OK;
}

void cf__ws_set_deadline(cf__ws_session *s, int64_t unix_ms) {
  if (s == NULL || s->gone) return;
  cf__ws_endpoint *ep = s->ep;
  if (unix_ms <= 0) {
    dl_remove(s);
    s->deadline_ms = 0;
  } else {
    s->deadline_ms = unix_ms;
    if (s->dl_idx == 0) { /* session_new made room */
      ep->dl_heap[ep->dl_n] = s;
      s->dl_idx = ++ep->dl_n;
    }
    dl_fix(ep, s->dl_idx - 1);
  }
  dl_arm(ep);
}

void cf__ws_session_set_user(cf__ws_session *s, void *user) { s->user = user; }
void *cf__ws_session_user(const cf__ws_session *s) { return s->user; }
const char *cf__ws_session_peer(const cf__ws_session *s) { return s->peer; }
size_t cf__ws_session_queued_bytes(const cf__ws_session *s) { return s->q_bytes; }
size_t cf__ws_session_queued_messages(const cf__ws_session *s) { return s->q_msgs; }
int cf__ws_session_is_open(const cf__ws_session *s) {
  return s->open && !s->closing && !s->gone;
}

/* ---- lws callbacks for sessions ------------------------------------------ */

/* Only "clientflow.sync.v1" on /sync may upgrade. */
static int filter_upgrade(struct lws *wsi) {
  cf__ws_endpoint *ep = cf__ws_endpoint_of(wsi);
  const struct lws_protocols *p = lws_get_protocol(wsi);
  if (ep == NULL || ep->draining) return 1;
  if (p == NULL || p->name == NULL || strcmp(p->name, CF_WS_SUBPROTOCOL) != 0) return 1;
  char path[sizeof CF_WS_PATH + 1];
  int n = lws_hdr_copy(wsi, path, (int)sizeof path, WSI_TOKEN_GET_URI);
  if (n <= 0 || strcmp(path, CF_WS_PATH) != 0) return 1;
  return 0;
}

/* Whether the comma-separated list has the token tok. */
static int list_has_token(const char *list, const char *tok) {
  size_t tl = strlen(tok);
  const char *p = list;
  while (*p) {
    while (*p == ' ' || *p == '\t' || *p == ',')
      p++;
    const char *start = p;
    while (*p && *p != ',' && *p != ' ' && *p != '\t')
      p++;
    if ((size_t)(p - start) == tl && strncmp(start, tok, tl) == 0) return 1;
  }
  return 0;
}

/*
** An upgrade request arrived (lws has not answered it yet): refuse with an
** HTTP status unless it is for our path and subprotocol, so that a client
** learns why (lws would otherwise just hang up).  lws: 0 allow, 1 answered.
*/
static int confirm_upgrade(struct lws *wsi, const char *what) {
  cf__ws_endpoint *ep = cf__ws_endpoint_of(wsi);
  char path[sizeof CF_WS_PATH + 1], protos[256];
  unsigned status = 0;
  if (ep == NULL || ep->draining) {
    status = HTTP_STATUS_SERVICE_UNAVAILABLE;
  } else if (what == NULL || strcmp(what, "websocket") != 0 ||
             lws_hdr_copy(wsi, path, (int)sizeof path, WSI_TOKEN_GET_URI) <= 0 ||
             strcmp(path, CF_WS_PATH) != 0) {
    status = HTTP_STATUS_NOT_FOUND;
  } else if (lws_hdr_copy(wsi, protos, (int)sizeof protos, WSI_TOKEN_PROTOCOL) <= 0 ||
             !list_has_token(protos, CF_WS_SUBPROTOCOL)) {
    status = HTTP_STATUS_BAD_REQUEST;
  }
  if (status == 0) return 0;
  cf__log(CF_LOG_DEBUG, "msg=\"ws upgrade refused\" status=%u", status);
  if (lws_return_http_status(wsi, status, NULL)) return -1;
  return 1;
}

static int established(struct lws *wsi, int server) {
  cf__ws_endpoint *ep = cf__ws_endpoint_of(wsi);
  cf__ws_session *s;
  if (ep == NULL) return -1;
  if (server) {
    if (ep->draining) return -1;
    s = session_new(ep);
    if (s == NULL) {
      cf__log(CF_LOG_ERROR, "msg=\"ws session refused: out of memory\"");
      return -1;
    }
    s->wsi = wsi;
    s->notify = 1;
    lws_set_opaque_user_data(wsi, s);
    if (lws_get_peer_simple(wsi, s->peer, sizeof s->peer) == NULL)
      copy_str(s->peer, sizeof s->peer, "?", 1);
  } else {
    s = session_of(wsi);
    if (s == NULL) return -1;
    s->wsi = wsi;
  }
  s->open = 1;
  if (!s->closing) ka_push(s, mono_ms());
  cf__log(CF_LOG_DEBUG, "msg=\"ws session open\" peer=%s side=%s", s->peer,
          server ? "server" : "client");
  if (s->closing) { /* closed while connecting */
    s->closing = 0;
    cf__ws_close(s, s->close_code, s->close_reason);
    return 0;
  }
  if (ep->h.on_open != NULL && ep->h.on_open(ep->h.ctx, s) != CF_OK)
    cf__ws_close(s, CF_WS_CLOSE_POLICY, "refused");
  return 0;
}

static void rx_deliver(cf__ws_session *s) {
  static const uint8_t empty[1] = {0};
  if (s->ep->h.on_message != NULL)
    s->ep->h.on_message(s->ep->h.ctx, s, s->rx != NULL ? s->rx : empty, s->rx_len);
}

static int on_receive(struct lws *wsi, const void *in, size_t len) {
  cf__ws_session *s = session_of(wsi);
  if (s == NULL || s->gone) return 0;
  ka_heard(s);
  if (!s->rx_in_msg) {
    s->rx_in_msg = 1;
    s->rx_len = 0;
    s->rx_skip = 0;
    if (!lws_frame_is_binary(wsi) && !s->closing) {
      s->rx_skip = 1;
      cf__ws_close(s, CF_WS_CLOSE_UNSUPPORTED, "binary messages only");
    } else if (lws_is_final_fragment(wsi) && !s->closing &&
               len <= s->ep->lim.max_message) {
      /* A whole message in one piece (the usual case) is handed over from
      ** lws's buffer: no copy, and no reassembly buffer kept per session
      ** (an idle session then holds none: docs/transport.md, memory). */
      s->rx_in_msg = 0;
      if (s->ep->h.on_message != NULL) {
        static const uint8_t empty[1] = {0};
        s->ep->h.on_message(s->ep->h.ctx, s, len > 0 ? in : empty, len);
      }
      return 0;
    }
  }
  if (!s->rx_skip && !s->closing) {
    size_t max = s->ep->lim.max_message;
    if (len > max - s->rx_len) {
      char why[80];
      snprintf(why, sizeof why, "message larger than %zu bytes", max);
      cf__log(CF_LOG_WARN, "msg=\"ws message too big\" peer=%s limit=%zu", s->peer, max);
      s->rx_skip = 1;
      cf__ws_close(s, CF_WS_CLOSE_TOO_BIG, why);
    } else if (s->rx_len + len > s->rx_cap) {
      size_t cap = s->rx_cap ? s->rx_cap : 4096;
      while (cap < s->rx_len + len)
        cap = cap > max / 2 ? max : cap * 2;
      uint8_t *grown = cf__realloc(s->rx, cap);
      if (grown == NULL) {
        s->rx_skip = 1;
        cf__ws_close(s, CF_WS_CLOSE_INTERNAL, "out of memory");
      } else {
        s->rx = grown;
        s->rx_cap = cap;
      }
    }
    if (!s->rx_skip && len > 0) {
      memcpy(s->rx + s->rx_len, in, len);
      s->rx_len += len;
    }
  }
  if (lws_is_final_fragment(wsi)) {
    s->rx_in_msg = 0;
    if (!s->rx_skip && !s->closing) rx_deliver(s);
    s->rx_len = 0;
    if (!s->gone) { /* fragmented messages are rare: keep nothing between them */
      cf__free(s->rx);
      s->rx = NULL;
      s->rx_cap = 0;
    }
  }
  return 0;
}

static int on_writeable(struct lws *wsi) {
  cf__ws_session *s = session_of(wsi);
  if (s == NULL || s->gone) return 0;
  if (s->closing && (s->discard || s->qhead == NULL)) {
    queue_clear(s);
    lws_close_reason(wsi, (enum lws_close_status)s->close_code,
                     (unsigned char *)s->close_reason, strlen(s->close_reason));
    s->close_sent = 1;
    return -1;
  }
  if (s->ping_owed && (s->qhead == NULL || s->qhead->off == 0)) {
    /* a keepalive ping, between two messages */
    s->ping_owed = 0;
    if (lws_write(wsi, s->ep->ping_buf + LWS_PRE, 8, LWS_WRITE_PING) < 0) return -1;
    if (lws_send_pipe_choked(wsi)) {
      lws_callback_on_writable(wsi);
      return 0;
    }
  }
  for (int i = 0; i < WRITES_PER_CALLBACK && s->qhead != NULL; i++) {
    qmsg *m = s->qhead;
    size_t left = m->len - m->off;
    size_t n = left > FRAME_BYTES ? FRAME_BYTES : left;
    int last = n == left;
    int wp = (m->off == 0 ? LWS_WRITE_BINARY : LWS_WRITE_CONTINUATION) |
             (last ? 0 : LWS_WRITE_NO_FIN);
    if (lws_write(wsi, m->data + LWS_PRE + m->off, n, (enum lws_write_protocol)wp) < 0)
      return -1;
    m->off += n;
    if (last) {
      s->qhead = m->next;
      if (s->qhead == NULL) s->qtail = NULL;
      s->q_bytes -= m->len;
      s->q_msgs--;
      cf__free(m);
    }
    if (lws_send_pipe_choked(wsi)) break;
  }
  if (s->qhead != NULL || s->closing || s->ping_owed) {
    lws_callback_on_writable(wsi);
  } else if (s->busy) {
    s->busy = 0;
    if (s->ep->h.on_drain != NULL) s->ep->h.on_drain(s->ep->h.ctx, s);
  }
  return 0;
}

static void peer_close(struct lws *wsi, const uint8_t *in, size_t len) {
  cf__ws_session *s = session_of(wsi);
  if (s == NULL) return;
  s->peer_closed = 1;
  s->peer_code = 1005; /* no status received */
  s->peer_reason[0] = '\0';
  if (in != NULL && len >= 2) {
    s->peer_code = in[0] << 8 | in[1];
    copy_str(s->peer_reason, sizeof s->peer_reason, (const char *)in + 2, len - 2);
  }
}

/* ---- watched fds ---------------------------------------------------------- */

static void watch_gone(cf__ws_watch *w) {
  if (w->wsi != NULL) lws_set_opaque_user_data(w->wsi, NULL);
  w->wsi = NULL;
  if (w->prev != NULL)
    w->prev->next = w->next;
  else if (w->ep->watches == w)
    w->ep->watches = w->next;
  if (w->next != NULL) w->next->prev = w->prev;
  w->prev = w->next = NULL;
  if (w->dead) cf__free(w);
}

int cf__ws_watch_fd(cf__ws_server *srv, int fd, void (*on_readable)(void *ctx), void *ctx,
                    cf__ws_watch **out) {
  int rc = CF_OK;
  cf__ws_watch *w = NULL;
  *out = NULL;
  if (srv == NULL || fd < 0 || on_readable == NULL) return CF_MISUSE;
  w = cf__calloc(1, sizeof *w);
  if (w == NULL) return CF_NOMEM;
  w->kind = CF_WS_KIND_WATCH;
  w->ep = &srv->ep;
  w->fn = on_readable;
  w->ctx = ctx;
  int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup_fd < 0) {
    cf__log(CF_LOG_ERROR, "msg=\"cannot watch fd\" fd=%d error=\"%s\"", fd,
            strerror(errno));
    rc = CF_IO;
    goto out;
  }
  lws_sock_file_fd_type desc;
  memset(&desc, 0, sizeof desc);
  desc.filefd = dup_fd;
  /* on failure lws closes dup_fd itself */
  w->wsi = lws_adopt_descriptor_vhost(srv->ep.vhost, LWS_ADOPT_RAW_FILE_DESC, desc,
                                      "cf-watch", NULL);
  if (w->wsi == NULL) {
    cf__log(CF_LOG_ERROR, "msg=\"cannot watch fd: lws refused it\" fd=%d", fd);
    rc = CF_IO;
    goto out;
  }
  lws_set_opaque_user_data(w->wsi, w);
  w->next = srv->ep.watches;
  if (w->next != NULL) w->next->prev = w;
  srv->ep.watches = w;
  *out = w;
  w = NULL;
out:
  cf__free(w);
  return rc;
}

void cf__ws_unwatch(cf__ws_watch *w) {
  if (w == NULL) return;
  w->dead = 1;
  if (w->wsi == NULL) {
    watch_gone(w); /* already closed by lws: just free */
    return;
  }
  lws_set_timeout(w->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
  lws_timers_touched(w->ep);
}

/* ---- the one lws callback ------------------------------------------------- */

static int cb_lws(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                  size_t len) {
  (void)user;
  switch (reason) {
    case LWS_CALLBACK_FILTER_NETWORK_CONNECTION: {
      cf__ws_endpoint *ep = cf__ws_endpoint_of(wsi);
      return ep != NULL && ep->draining ? -1 : 0;
    }
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
      return confirm_upgrade(wsi, in);
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
      return filter_upgrade(wsi);
    case LWS_CALLBACK_ESTABLISHED:
      return established(wsi, 1);
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
      return established(wsi, 0);
    case LWS_CALLBACK_RECEIVE:
    case LWS_CALLBACK_CLIENT_RECEIVE:
      return on_receive(wsi, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
    case LWS_CALLBACK_CLIENT_WRITEABLE:
      return on_writeable(wsi);
    case LWS_CALLBACK_RECEIVE_PONG:
    case LWS_CALLBACK_CLIENT_RECEIVE_PONG: {
      cf__ws_session *s = session_of(wsi);
      if (s != NULL) ka_heard(s);
      return 0;
    }
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
      peer_close(wsi, in, len);
      return 0;
    case LWS_CALLBACK_CLOSED:
    case LWS_CALLBACK_CLIENT_CLOSED: {
      cf__ws_session *s = session_of(wsi);
      if (s != NULL) session_gone(s, CF_OK, NULL);
      return 0;
    }
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
      cf__ws_session *s = session_of(wsi);
      char why[160];
      copy_str(why, sizeof why, in != NULL ? (const char *)in : "",
               in != NULL ? strnlen((const char *)in, len ? len : sizeof why) : 0);
      if (s != NULL) {
        int rc = strncmp(why, "HS:", 3) == 0 ? CF_PROTOCOL : CF_UNREACHABLE;
        if (s->open) rc = CF_OK;
        session_gone(s, rc, why);
      }
      return 0;
    }
    case LWS_CALLBACK_RAW_RX_FILE: {
      cf__ws_watch *w = watch_of(wsi);
      if (w != NULL && !w->dead) w->fn(w->ctx);
      return 0;
    }
    case LWS_CALLBACK_RAW_CLOSE_FILE: {
      cf__ws_watch *w = watch_of(wsi);
      if (w != NULL) watch_gone(w);
      return 0;
    }
    case LWS_CALLBACK_WSI_DESTROY: {
      int *tag = lws_get_opaque_user_data(wsi);
      if (tag == NULL) return 0;
      if (*tag == CF_WS_KIND_SESSION)
        session_gone((cf__ws_session *)tag, CF_OK, NULL);
      else if (*tag == CF_WS_KIND_WATCH)
        watch_gone((cf__ws_watch *)tag);
      else if (*tag == CF_WS_KIND_HTTP)
        cf__ws_http_gone((cf__ws_http *)tag);
      return 0;
    }
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED: {
      cf__ws_endpoint *ep = cf__ws_endpoint_of(wsi);
      if (ep != NULL && !ep->destroying) drain_posts(ep);
      return 0;
    }
    case LWS_CALLBACK_HTTP:
    case LWS_CALLBACK_HTTP_BODY:
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
    case LWS_CALLBACK_HTTP_WRITEABLE:
    case LWS_CALLBACK_CLOSED_HTTP:
      return cf__ws_http_callback(wsi, reason, in, len);
    default:
      return 0;
  }
}

/* ---- endpoints ------------------------------------------------------------ */

static void fill_limits(cf__ws_limits *lim, const cf__ws_limits *in) {
  *lim = *in;
  if (lim->max_message == 0) lim->max_message = DEFAULT_MAX_MESSAGE;
  if (lim->max_queue_bytes == 0) lim->max_queue_bytes = DEFAULT_QUEUE_BYTES;
  if (lim->max_queue_messages == 0) lim->max_queue_messages = DEFAULT_QUEUE_MESSAGES;
  if (lim->close_timeout_ms == 0) lim->close_timeout_ms = DEFAULT_CLOSE_TIMEOUT_MS;
  if (lim->ping_interval_s == 0) lim->ping_interval_s = DEFAULT_PING_S;
}

/* Whether host is an IPv4 address or a wildcard (lws then needs no IPv6). */
static int host_is_ipv4(const char *host) {
  if (host == NULL) return 1;
  for (const char *p = host; *p; p++)
    if (*p == ':') return 0;
  return 1;
}

/* Set once lws's libev plugin could not be loaded: later endpoints use the
** poll() loop without trying again. */
static atomic_int evlib_missing;

static void ev_wait_done(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)loop;
  (void)w;
  (void)revents;
}

/* Once a second on the libev loop: lws's own timers (connect, HTTP and
** close handshake timeouts) are serviced after lws's events, or when its
** one libev timer fires, which lws 4.1 does not move earlier for a timer
** set while it is running (ev_timer_set on an active watcher): an event of
** its own at least once a second bounds how late they can be. */
static void ev_tick_fired(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)loop;
  (void)revents;
  cf__ws_endpoint *ep =
      (cf__ws_endpoint *)(void *)((char *)w - offsetof(cf__ws_endpoint, ev_tick));
  lws_cancel_service(ep->lws);
}

/*
** Creates ep->lws on a libev loop of our own (epoll: a loop turn costs what
** the active sockets cost), or on lws's poll() loop when Debian's
** libwebsockets-evlib-ev plugin is not installed or CF_WS_POLL is set.
*/
static void create_context(cf__ws_endpoint *ep, struct lws_context_creation_info *info) {
  const char *env = getenv("CF_WS_POLL");
  int want_ev = !atomic_load(&evlib_missing) && (env == NULL || *env == '\0');
  if (want_ev) {
    ep->ev = ev_loop_new(EVBACKEND_EPOLL | EVFLAG_NOENV);
    if (ep->ev == NULL) ep->ev = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOENV);
  }
  if (ep->ev != NULL) {
    ev_init(&ep->ev_wait, ev_wait_done);
    ev_init(&ep->ev_tick, ev_tick_fired);
    ep->foreign[0] = ep->ev;
    info->foreign_loops = ep->foreign;
    info->options |= LWS_SERVER_OPTION_LIBEV;
    ep->lws = lws_create_context(info);
    if (ep->lws != NULL) {
      ev_timer_set(&ep->ev_tick, 1., 1.);
      ev_timer_start(ep->ev, &ep->ev_tick);
      return;
    }
    ev_loop_destroy(ep->ev);
    ep->ev = NULL;
    info->foreign_loops = NULL;
    info->options &= ~(uint64_t)LWS_SERVER_OPTION_LIBEV;
  }
  ep->lws = lws_create_context(info);
  if (ep->lws != NULL && want_ev) {
    /* the poll() loop works where libev did not: the plugin is missing */
    if (!atomic_exchange(&evlib_missing, 1))
      cf__log(CF_LOG_INFO,
              "msg=\"transport: libwebsockets' libev plugin not found, using "
              "poll()\"");
  }
}

static int endpoint_init(cf__ws_endpoint *ep, int is_server, const char *host, int port,
                         const char *cert, const char *key, const char *ca, char *errmsg,
                         size_t errmsg_len) {
  pthread_once(&log_once, setup_lws_log);
  ep->is_server = is_server;
  timer_init(ep, &ep->dl_timer, dl_fire);
  timer_init(ep, &ep->ka_timer, ka_fire);
  if (pthread_mutex_init(&ep->post_mu, NULL) != 0) {
    set_err(errmsg, errmsg_len, "cannot create a mutex");
    return CF_IO;
  }
  ep->mutex_ok = 1;
  struct lws_context_creation_info info;
  memset(&info, 0, sizeof info);
  info.protocols = protocols;
  info.vhost_name = "cf";
  info.user = ep;
  info.max_http_header_data = 8192;
  info.pt_serv_buf_size = 32768;
  info.timeout_secs = 20;
  /* lws keeps pointing at the policy, so it lives in the endpoint.  It is
  ** all zeros: lws's own keepalive (a timer per connection in its sorted
  ** timer list, re-inserted on every frame received) is off; ours is the
  ** keepalive list (ka_*). */
  memset(&ep->retry, 0, sizeof ep->retry);
  info.retry_and_idle_policy = &ep->retry;
  ep->ka_ms =
      ep->lim.ping_interval_s == UINT32_MAX
          ? 0
          : (int64_t)(ep->lim.ping_interval_s > 0x7fffff ? 0x7fffff
                                                         : ep->lim.ping_interval_s) *
                1000;
  if (host != NULL && strcmp(host, "localhost") == 0) host = "127.0.0.1";
  if (host != NULL) {
    if (strlen(host) >= sizeof ep->host) {
      set_err(errmsg, errmsg_len, "host name too long");
      return CF_INVALID;
    }
    memcpy(ep->host, host, strlen(host) + 1);
    host = ep->host;
  }
  if (is_server) {
    int any = host != NULL &&
              (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "*") == 0 || *host == '\0');
    info.port = port;
    info.iface = any ? NULL : host != NULL ? host : "127.0.0.1";
    if (host_is_ipv4(host)) info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    if (cert != NULL) {
      info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
      info.ssl_cert_filepath = cert;
      info.ssl_private_key_filepath = key;
      /* lws also builds a client TLS context for the server's vhost, never
         used here: keep it from loading the system's CA bundle */
      info.options |= LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS;
      info.client_ssl_ca_filepath = cert;
    }
  } else {
    info.port = CONTEXT_PORT_NO_LISTEN;
    if (ep->tls) {
      info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
      info.client_ssl_ca_filepath = ca;
      /* an explicit CA bundle replaces the system's */
      if (ca != NULL) info.options |= LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS;
    }
    info.connect_timeout_secs = (ep->connect_timeout_ms + 999) / 1000;
  }
  create_context(ep, &info);
  if (ep->lws == NULL) {
    set_err(errmsg, errmsg_len,
            is_server ? "cannot listen on %s:%d (address in use, unknown "
                        "interface, or bad TLS files)"
                      : "cannot create the WebSocket client%s%d",
            is_server ? (host ? host : "127.0.0.1") : "", is_server ? port : 0);
    return CF_IO;
  }
  ep->vhost = lws_get_vhost_by_name(ep->lws, "cf");
  if (ep->vhost == NULL) {
    set_err(errmsg, errmsg_len, "libwebsockets created no vhost");
    return CF_IO;
  }
  if (is_server) {
    ep->wbuf = cf__malloc(LWS_PRE + FRAME_BYTES);
    if (ep->wbuf == NULL) {
      set_err(errmsg, errmsg_len, "out of memory");
      return CF_NOMEM;
    }
    ep->port = lws_get_vhost_listen_port(ep->vhost);
    if (ep->port <= 0) {
      set_err(errmsg, errmsg_len, "cannot listen on %s:%d", host ? host : "127.0.0.1",
              port);
      return CF_IO;
    }
  }
  return CF_OK;
}

/* Frees everything; every live session gets its on_close. */
static void endpoint_destroy(cf__ws_endpoint *ep) {
  if (ep->lws != NULL) {
    ep->destroying = 1;
    for (cf__ws_session *s = ep->sessions; s != NULL; s = s->next)
      if (!s->closing) {
        s->closing = 1;
        s->close_code = CF_WS_CLOSE_GOING_AWAY;
        copy_str(s->close_reason, sizeof s->close_reason, "endpoint freed", 14);
      }
    /* watches die with the endpoint (lws closes them and they are freed) */
    for (cf__ws_watch *w = ep->watches; w != NULL; w = w->next)
      w->dead = 1;
    lws_sul_cancel(&ep->wake_sul);
    timer_cancel(&ep->dl_timer);
    timer_cancel(&ep->ka_timer);
    lws_context_destroy(ep->lws);
    ep->lws = NULL;
  }
  while (ep->sessions != NULL) { /* lws should have closed them all */
    cf__ws_session *s = ep->sessions;
    s->wsi = NULL; /* (timer_cancel knows the lws context is gone) */
    session_gone(s, CF_OK, NULL);
  }
  while (ep->watches != NULL) {
    cf__ws_watch *w = ep->watches;
    w->dead = 1;
    w->wsi = NULL;
    watch_gone(w);
  }
  cf__ws_post *p = ep->posts;
  while (p != NULL) {
    cf__ws_post *next = p->next;
    cf__free(p);
    p = next;
  }
  cf__free(ep->dl_heap);
  ep->dl_heap = NULL;
  ep->dl_n = ep->dl_cap = 0;
  cf__free(ep->wbuf);
  ep->wbuf = NULL;
  if (ep->ev != NULL) {
    ev_timer_stop(ep->ev, &ep->ev_wait);
    ev_timer_stop(ep->ev, &ep->ev_tick);
    ev_loop_destroy(ep->ev);
    ep->ev = NULL;
  }
  if (ep->mutex_ok) pthread_mutex_destroy(&ep->post_mu);
}

static void wake_noop(lws_sorted_usec_list_t *sul) { (void)sul; }

/* Graceful shutdown: start it when asked, finish it when nothing is left. */
static void check_stop(cf__ws_endpoint *ep) {
  if (!ep->is_server || ep->stopped) return;
  if (!ep->draining && atomic_load(&ep->stop_requested)) {
    ep->draining = 1;
    ep->drain_deadline_ms = mono_ms() + ep->shutdown_timeout_ms;
    cf__log(CF_LOG_INFO, "msg=\"transport stopping\" sessions=%zu http=%zu",
            ep->n_sessions, ep->n_http);
    for (cf__ws_session *s = ep->sessions; s != NULL; s = s->next)
      cf__ws_close(s, CF_WS_CLOSE_GOING_AWAY, "server shutting down");
  }
  if (ep->draining) {
    if (ep->n_sessions == 0 && ep->n_http == 0) {
      ep->stopped = 1;
    } else if (mono_ms() >= ep->drain_deadline_ms) {
      cf__log(CF_LOG_WARN,
              "msg=\"transport shutdown timed out, dropping the rest\" "
              "sessions=%zu http=%zu",
              ep->n_sessions, ep->n_http);
      ep->stopped = 1;
    }
  }
}

/*
** One turn of the libev loop: wait for an event (at most timeout_ms; 0: do
** not wait, < 0: no bound), handle what is ready, then one more pass
** without waiting for lws's idle work (timers due, buffered input, the
** libev timer re-armed for lws's next timer).
*/
static void ev_turn(cf__ws_endpoint *ep, int timeout_ms) {
  if (ep->lws_timers_dirty) {
    /* lws re-arms its timer after an event of its own: give it one */
    ep->lws_timers_dirty = 0;
    lws_cancel_service(ep->lws);
  }
  if (timeout_ms == 0) {
    ev_run(ep->ev, EVRUN_NOWAIT);
    return;
  }
  if (timeout_ms > 0) {
    ev_now_update(ep->ev);
    ev_timer_set(&ep->ev_wait, (ev_tstamp)timeout_ms / 1000.0, 0.);
    ev_timer_start(ep->ev, &ep->ev_wait);
  }
  ev_run(ep->ev, EVRUN_ONCE);
  ev_timer_stop(ep->ev, &ep->ev_wait);
  ev_run(ep->ev, EVRUN_NOWAIT);
}

static int endpoint_run_once(cf__ws_endpoint *ep, int timeout_ms) {
  int n;
  drain_posts(ep);
  check_stop(ep);
  if (ep->stopped) return CF_OK;
  if (ep->draining && (timeout_ms < 0 || timeout_ms > 50)) timeout_ms = 50;
  if (ep->ev != NULL) {
    ev_turn(ep, timeout_ms);
    n = 0;
  } else if (timeout_ms == 0) {
    n = lws_service(ep->lws, -1); /* poll without waiting */
  } else {
    if (timeout_ms > 0)
      lws_sul_schedule(ep->lws, 0, &ep->wake_sul, wake_noop,
                       (lws_usec_t)timeout_ms * 1000);
    n = lws_service(ep->lws, 0); /* waits for the next event */
    lws_sul_cancel(&ep->wake_sul);
  }
  drain_posts(ep);
  check_stop(ep);
  return n < 0 ? CF_IO : CF_OK;
}

/* ---- server --------------------------------------------------------------- */

int cf__ws_server_new(const cf__ws_server_config *cfg, cf__ws_server **out, char *errmsg,
                      size_t errmsg_len) {
  int rc;
  cf__ws_server *srv = NULL;
  *out = NULL;
  if (cfg == NULL || cfg->port < 0 || cfg->port > 65535 ||
      (cfg->tls_cert_path == NULL) != (cfg->tls_key_path == NULL)) {
    set_err(errmsg, errmsg_len, "invalid server configuration");
    return CF_INVALID;
  }
  srv = cf__calloc(1, sizeof *srv);
  if (srv == NULL) {
    set_err(errmsg, errmsg_len, "out of memory");
    return CF_NOMEM;
  }
  cf__ws_endpoint *ep = &srv->ep;
  ep->h = cfg->ws;
  fill_limits(&ep->lim, &cfg->limits);
  ep->http = cfg->http;
  ep->max_http_body = cfg->max_http_body ? cfg->max_http_body : DEFAULT_HTTP_BODY;
  ep->http_timeout_ms =
      cfg->http_timeout_ms ? cfg->http_timeout_ms : DEFAULT_HTTP_TIMEOUT_MS;
  ep->shutdown_timeout_ms =
      cfg->shutdown_timeout_ms ? cfg->shutdown_timeout_ms : DEFAULT_SHUTDOWN_MS;
  atomic_init(&ep->stop_requested, 0);
  rc = endpoint_init(ep, 1, cfg->host, cfg->port, cfg->tls_cert_path, cfg->tls_key_path,
                     NULL, errmsg, errmsg_len);
  if (rc != CF_OK) goto out;
  cf__log(CF_LOG_DEBUG, "msg=\"transport listening\" host=%s port=%d",
          cfg->host ? cfg->host : "127.0.0.1", ep->port);
  *out = srv;
  srv = NULL;
out:
  if (srv != NULL) {
    endpoint_destroy(&srv->ep);
    cf__free(srv);
  }
  return rc;
}

void cf__ws_server_free(cf__ws_server *srv) {
  if (srv == NULL) return;
  endpoint_destroy(&srv->ep);
  cf__free(srv);
}

int cf__ws_server_port(const cf__ws_server *srv) { return srv->ep.port; }

int cf__ws_server_run_once(cf__ws_server *srv, int timeout_ms) {
  return endpoint_run_once(&srv->ep, timeout_ms);
}

int cf__ws_server_run(cf__ws_server *srv) {
  while (!srv->ep.stopped) {
    int rc = endpoint_run_once(&srv->ep, -1);
    if (rc != CF_OK) return rc;
  }
  return CF_OK;
}

void cf__ws_server_stop(cf__ws_server *srv) {
  atomic_store(&srv->ep.stop_requested, 1);
  lws_cancel_service(srv->ep.lws);
}

int cf__ws_server_stopped(const cf__ws_server *srv) { return srv->ep.stopped; }

size_t cf__ws_server_session_count(const cf__ws_server *srv) {
  return srv->ep.n_sessions;
}

/* ---- client --------------------------------------------------------------- */

int cf__ws_client_new(const cf__ws_client_config *cfg, cf__ws_client **out, char *errmsg,
                      size_t errmsg_len) {
  int rc;
  cf__ws_client *cli = NULL;
  *out = NULL;
  if (cfg == NULL) {
    set_err(errmsg, errmsg_len, "invalid client configuration");
    return CF_INVALID;
  }
  cli = cf__calloc(1, sizeof *cli);
  if (cli == NULL) {
    set_err(errmsg, errmsg_len, "out of memory");
    return CF_NOMEM;
  }
  cf__ws_endpoint *ep = &cli->ep;
  ep->h = cfg->ws;
  fill_limits(&ep->lim, &cfg->limits);
  ep->connect_timeout_ms =
      cfg->connect_timeout_ms ? cfg->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
  ep->tls_insecure = cfg->tls_insecure;
  ep->tls = cfg->tls || cfg->tls_insecure || cfg->tls_ca_path != NULL;
  atomic_init(&ep->stop_requested, 0);
  rc = endpoint_init(ep, 0, NULL, 0, NULL, NULL, cfg->tls_ca_path, errmsg, errmsg_len);
  if (rc != CF_OK) goto out;
  *out = cli;
  cli = NULL;
out:
  if (cli != NULL) {
    endpoint_destroy(&cli->ep);
    cf__free(cli);
  }
  return rc;
}

void cf__ws_client_free(cf__ws_client *cli) {
  if (cli == NULL) return;
  endpoint_destroy(&cli->ep);
  cf__free(cli);
}

/*
** Splits "ws[s]://host[:port][/path]".  host may be "[v6]".  The path must be
** printable ASCII without spaces.  CF_OK or CF_INVALID.
*/
static int parse_url(const char *url, int *tls, char *host, size_t host_cap, int *port,
                     char *path, size_t path_cap) {
  const char *p;
  if (strncmp(url, "ws://", 5) == 0) {
    *tls = 0;
    p = url + 5;
  } else if (strncmp(url, "wss://", 6) == 0) {
    *tls = 1;
    p = url + 6;
  } else {
    return CF_INVALID;
  }
  const char *h = p, *h_end;
  if (*p == '[') {
    h = ++p;
    while (*p && *p != ']')
      p++;
    if (*p != ']') return CF_INVALID;
    h_end = p++;
  } else {
    while (*p && *p != ':' && *p != '/')
      p++;
    h_end = p;
  }
  if (h_end == h || (size_t)(h_end - h) >= host_cap) return CF_INVALID;
  memcpy(host, h, (size_t)(h_end - h));
  host[h_end - h] = '\0';
  *port = *tls ? 443 : 80;
  if (*p == ':') {
    long v = 0;
    int digits = 0;
    for (p++; *p >= '0' && *p <= '9'; p++, digits++) {
      v = v * 10 + (*p - '0');
      if (v > 65535) return CF_INVALID;
    }
    if (digits == 0 || v == 0) return CF_INVALID;
    *port = (int)v;
  }
  if (*p == '\0') p = CF_WS_PATH;
  if (*p != '/' || strlen(p) >= path_cap) return CF_INVALID;
  for (const char *q = p; *q; q++)
    if ((unsigned char)*q <= ' ' || (unsigned char)*q >= 0x7f) return CF_INVALID;
  memcpy(path, p, strlen(p) + 1);
  return CF_OK;
}

int cf__ws_client_connect(cf__ws_client *cli, const char *url, cf__ws_session **out) {
  int rc = CF_OK, tls = 0, port = 0;
  cf__ws_session *s = NULL;
  *out = NULL;
  if (cli == NULL || url == NULL) return CF_MISUSE;
  s = session_new(&cli->ep);
  if (s == NULL) return CF_NOMEM;
  s->addr = cf__calloc(1, sizeof *s->addr);
  if (s->addr == NULL) {
    rc = CF_NOMEM;
    goto out;
  }
  char *host = s->addr->host, *path = s->addr->path;
  if (parse_url(url, &tls, host, sizeof s->addr->host, &port, path,
                sizeof s->addr->path) != CF_OK) {
    cf__log(CF_LOG_WARN, "msg=\"bad server url\" url=\"%.200s\"", url);
    rc = CF_INVALID;
    goto out;
  }
  if (tls && !cli->ep.tls) {
    cf__log(CF_LOG_WARN,
            "msg=\"wss:// needs a client created with tls\" "
            "url=\"%.200s\"",
            url);
    rc = CF_CONFIG;
    goto out;
  }
  snprintf(s->peer, sizeof s->peer, "%.80s:%d", host, port);
  struct lws_client_connect_info i;
  memset(&i, 0, sizeof i);
  i.context = cli->ep.lws;
  i.vhost = cli->ep.vhost;
  i.address = host;
  i.port = port;
  i.path = path;
  i.host = host;
  i.origin = host;
  i.protocol = CF_WS_SUBPROTOCOL;
  i.local_protocol_name = CF_WS_SUBPROTOCOL;
  i.ietf_version_or_minus_one = -1;
  i.opaque_user_data = s;
  if (tls) {
    i.ssl_connection = LCCSCF_USE_SSL;
    if (cli->ep.tls_insecure)
      i.ssl_connection |= LCCSCF_ALLOW_SELFSIGNED |
                          LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK | LCCSCF_ALLOW_EXPIRED;
  }
  s->in_connect = 1;
  struct lws *wsi = lws_client_connect_via_info(&i);
  s->in_connect = 0;
  lws_timers_touched(&cli->ep); /* the connect timeout */
  if (wsi == NULL || s->failed_in_connect) {
    cf__log(CF_LOG_DEBUG, "msg=\"ws connect failed at once\" peer=%s", s->peer);
    rc = CF_UNREACHABLE;
    goto out;
  }
  s->wsi = wsi;
  s->notify = 1;
  *out = s;
  s = NULL;
out:
  if (s != NULL) session_free(s);
  return rc;
}

int cf__ws_client_run_once(cf__ws_client *cli, int timeout_ms) {
  return endpoint_run_once(&cli->ep, timeout_ms);
}

void cf__ws_client_wake(cf__ws_client *cli) { lws_cancel_service(cli->ep.lws); }

size_t cf__ws_client_session_count(const cf__ws_client *cli) {
  return cli->ep.n_sessions;
}
