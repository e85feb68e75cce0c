/*
** sync/server/server.c: the sync server -- the glue between the transport
** (sync/net/transport.c, libwebsockets), the sessions
** (sync/session/server_session.c, state machines fed frames), the worker
** pool that runs their jobs on the master (sync/server/pool.c running
** sync/server/job_run.c), live updates and the health endpoint.
** Design: docs/protocol.md (frames, session states) and docs/server.md
** (threads, the worker pool, limits, shutdown).
**
** THREADS.  One event-loop thread runs the transport: it accepts sockets,
** feeds frames to the sessions and carries out their effects (send, close,
** deadlines).  A job a session submits (HELLO's membership check, PUSH,
** PULL) goes to the server's one worker pool (kind CF_POOL_SYNC; the REST
** API's requests share it as CF_POOL_REST), whose threads each own a
** Postgres connection, so that one slow transaction never stalls the loop
** or the other sessions.  A worker runs the job (cf__sjob_run) and the pool
** hands it back on the loop thread (sync_done), which gives it to its
** session if the session is still there (sessions are named by a 64-bit
** id, never by pointer, across threads).
*/
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clientflow.h"
#include "core/buf.h"
#include "core/codec.h"
#include "core/uuid.h"
#include "platform/platform.h"
#include "sync/master/master_sync.h"
#include "sync/master/pg.h"
#include "sync/server/job_run.h"
#include "sync/server/pool.h"
#include "sync/server/prefetch.h"
#include "sync/server/server_int.h"
#include "sync/session/server_session.h"
#include "sync/net/transport.h"

#define MAX_WORKERS 32         /* workers of one kind (cf_server_set_workers) */
#define DEFAULT_MAX_BATCH 1000 /* changes per PUSH */
#define DEFAULT_MAX_PAGE 5000  /* rows per CHANGES */

struct org_group;

/* One WebSocket connection and its session, owned by the loop thread. */
typedef struct conn {
  struct cf_server *srv;            /* the server */
  cf__ws_session *ws;               /* the transport's session */
  cf__ssess *sess;                  /* the session state machine */
  uint64_t id;                      /* the session's id */
  struct conn *prev, *next;         /* the server's list */
  struct org_group *grp;            /* its org's group once READY, or NULL */
  struct conn *org_prev, *org_next; /* that group's list */
  struct conn *id_next;             /* hash chain of srv->by_id */
  int no_feed;                      /* a shared pull run as this session's user
                                       found it revoked: LIVE only from now on */
  uint64_t feed_id;                 /* the shared pull that ran as it, 0: none */
  cf__prefetch *pf;                 /* its next page read ahead (NULL: none) */
} conn;

/* The READY sessions of one org: a NOTIFY for the org touches these only. */
typedef struct org_group {
  char org[CF_UUID_TEXT_LEN];  /* the org */
  conn *first;                 /* its sessions (conn.org_next) */
  size_t n;                    /* how many */
  struct org_group *next;      /* hash chain of srv->orgs */
  uint64_t feed_id;            /* the shared pull running for it, 0: none */
  uint64_t feed_from;          /* ...the cursor it continues */
  uint64_t feed_head;          /* ...the head it was started for */
  uint64_t feed_again;         /* a head notified while it ran, 0: none */
  int64_t feed_notify_ns;      /* monotonic time of the NOTIFY it answers */
  int64_t again_notify_ns;     /* ...of the first one folded into feed_again */
  conn *live_next;             /* LIVEs being written in steps: the next session
                                  to tell (see tell_org), NULL: none */
  uint64_t live_head;          /* ...the head they announce */
  int live_again;              /* a newer head came during the round: another
                                  round from the first session after it */
  int live_queued;             /* on srv->live_orgs */
  struct org_group *live_link; /* next on srv->live_orgs */
} org_group;

/* A session's job on its way through the pool (the job's own struct lives
** in sync/session, which may not know the pool). */
typedef struct sync_item {
  cf__pool_item item;    /* the pool's head: must be first */
  struct cf_server *srv; /* the server */
  cf__sjob *job;         /* the job (owned) */
} sync_item;

struct cf_server {
  /* configuration */
  char *database_url;         /* the server's login (not an owner, no BYPASSRLS) */
  char *listen_url;           /* a direct (session) connection for LISTEN, or
                                 NULL: database_url */
  char *host;                 /* listen address */
  int port;                   /* listen port (0: ephemeral) */
  int nworkers;               /* pool workers for sync jobs (CF_POOL_SYNC cap) */
  cf__sjob_limits limits;     /* changes per PUSH, rows per CHANGES */
  cf_auth *auth;              /* token verifier (owned) */
  cf__server_http_hooks http; /* extra HTTP routes (REST API); zeroed: none */
  /* running state */
  cf__ws_server *ws;          /* the transport */
  conn *conns;                /* every open connection (loop thread only) */
  conn **by_id;               /* conns hashed by id (by_id_cap buckets) */
  size_t by_id_cap;           /* a power of two */
  size_t nconns;              /* entries in conns */
  org_group **orgs;           /* READY sessions hashed by org (orgs_cap buckets) */
  size_t orgs_cap;            /* a power of two */
  size_t norgs;               /* groups in it */
  uint64_t next_feed_id;      /* names shared pulls (org_group.feed_id) */
  org_group *live_orgs;       /* orgs whose LIVEs are being written in steps */
  int live_posted;            /* the next step is posted to the loop */
  uint64_t stats_feeds;       /* shared pages read (loop thread) */
  uint64_t stats_fed;         /* ...and sent, counted per session */
  uint64_t next_id;           /* next session id */
  cf__pool *pool;             /* the workers of sync jobs and the HTTP module */
  cf__prefetch_host pf_host;  /* pages read ahead (sync/server/prefetch.h) */
  int no_read_ahead;          /* cf__server_set_read_ahead(srv, 0) was called */
  uint64_t stats_pushed;      /* changes answered (loop thread) */
  uint64_t stats_pulled;      /* rows sent (loop thread) */
  cf__pg *listen_pg;          /* LISTEN cf_changes (loop thread only) */
  cf__ws_watch *listen_watch; /* its socket in the event loop */
  int64_t listen_retry_ms;    /* monotonic ms of the next reconnect attempt */
  int listen_backoff_ms;      /* delay before the following one */
  char errmsg[512];           /* detail of the last failure */
  /* pages read ahead, handed back, whose worker's notice is still to run */
  struct cf__prefetch_item *pf_limbo;
};

/* --- small helpers ------------------------------------------------------- */

static int fail(cf_server *srv, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(cf_server *srv, int rc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(srv->errmsg, sizeof srv->errmsg, fmt, ap);
  va_end(ap);
  return rc;
}

/* --- indexes: sessions by id and by org (loop thread) ------------------------ */

static size_t hash_id(uint64_t id) {
  id ^= id >> 33;
  id *= 0xff51afd7ed558ccdULL;
  id ^= id >> 33;
  return (size_t)id;
}

static size_t hash_org(const char *org) {
  uint64_t h = 1469598103934665603ULL; /* FNV-1a */
  for (const char *p = org; *p; p++) {
    h ^= (unsigned char)*p;
    h *= 1099511628211ULL;
  }
  return (size_t)h;
}

static conn *find_conn(cf_server *srv, uint64_t id) {
  if (srv->by_id_cap == 0) return NULL;
  for (conn *c = srv->by_id[hash_id(id) & (srv->by_id_cap - 1)]; c; c = c->id_next)
    if (c->id == id) return c;
  return NULL;
}

/* Makes room in srv->by_id for one more connection at a load of at most
** one per bucket (doubling and rehashing).  CF_OK or CF_NOMEM. */
static int grow_ids(cf_server *srv) {
  if (srv->nconns < srv->by_id_cap) return CF_OK;
  size_t cap = srv->by_id_cap ? srv->by_id_cap * 2 : 256;
  conn **t = cf__calloc(cap, sizeof *t);
  if (t == NULL) return CF_NOMEM;
  for (size_t i = 0; i < srv->by_id_cap; i++)
    for (conn *c = srv->by_id[i], *nx; c; c = nx) {
      nx = c->id_next;
      size_t b = hash_id(c->id) & (cap - 1);
      c->id_next = t[b];
      t[b] = c;
    }
  cf__free(srv->by_id);
  srv->by_id = t;
  srv->by_id_cap = cap;
  return CF_OK;
}

static void unlink_id(cf_server *srv, conn *c) {
  conn **pp = &srv->by_id[hash_id(c->id) & (srv->by_id_cap - 1)];
  while (*pp && *pp != c)
    pp = &(*pp)->id_next;
  if (*pp) *pp = c->id_next;
}

static org_group *find_org(cf_server *srv, const char *org) {
  if (srv->orgs_cap == 0) return NULL;
  for (org_group *g = srv->orgs[hash_org(org) & (srv->orgs_cap - 1)]; g; g = g->next)
    if (strcmp(g->org, org) == 0) return g;
  return NULL;
}

static int grow_orgs(cf_server *srv) {
  if (srv->norgs < srv->orgs_cap) return CF_OK;
  size_t cap = srv->orgs_cap ? srv->orgs_cap * 2 : 64;
  org_group **t = cf__calloc(cap, sizeof *t);
  if (t == NULL) return CF_NOMEM;
  for (size_t i = 0; i < srv->orgs_cap; i++)
    for (org_group *g = srv->orgs[i], *nx; g; g = nx) {
      nx = g->next;
      size_t b = hash_org(g->org) & (cap - 1);
      g->next = t[b];
      t[b] = g;
    }
  cf__free(srv->orgs);
  srv->orgs = t;
  srv->orgs_cap = cap;
  return CF_OK;
}

/* Adds a READY session to its org's group.  CF_OK or CF_NOMEM. */
static int join_org(cf_server *srv, conn *c, const char *org) {
  org_group *g = find_org(srv, org);
  if (g == NULL) {
    if (grow_orgs(srv) != CF_OK) return CF_NOMEM;
    g = cf__calloc(1, sizeof *g);
    if (g == NULL) return CF_NOMEM;
    snprintf(g->org, sizeof g->org, "%s", org);
    size_t b = hash_org(org) & (srv->orgs_cap - 1);
    g->next = srv->orgs[b];
    srv->orgs[b] = g;
    srv->norgs++;
  }
  c->grp = g;
  c->org_prev = NULL;
  c->org_next = g->first;
  if (g->first) g->first->org_prev = c;
  g->first = c;
  g->n++;
  return CF_OK;
}

static void leave_org(cf_server *srv, conn *c) {
  org_group *g = c->grp;
  if (g == NULL) return;
  if (c->org_prev)
    c->org_prev->org_next = c->org_next;
  else
    g->first = c->org_next;
  if (c->org_next) c->org_next->org_prev = c->org_prev;
  if (g->live_next == c) g->live_next = c->org_next;
  c->grp = NULL;
  if (--g->n > 0) return;
  if (g->live_queued) {
    org_group **lp = &srv->live_orgs;
    while (*lp && *lp != g)
      lp = &(*lp)->live_link;
    if (*lp) *lp = g->live_link;
  }
  org_group **pp = &srv->orgs[hash_org(g->org) & (srv->orgs_cap - 1)];
  while (*pp && *pp != g)
    pp = &(*pp)->next;
  if (*pp) *pp = g->next;
  srv->norgs--;
  cf__free(g);
}

/* --- the sessions' effects (loop thread) ---------------------------------- */

static int io_send(void *ctx, const uint8_t *bytes, size_t n) {
  conn *c = ctx;
  return cf__ws_send(c->ws, bytes, n);
}

static void io_close(void *ctx, int ws_code, const char *reason) {
  conn *c = ctx;
  cf__ws_close(c->ws, ws_code, reason);
}

static void io_set_deadline(void *ctx, int64_t unix_ms) {
  conn *c = ctx;
  cf__ws_set_deadline(c->ws, unix_ms);
}

static const cf__pool_ops sync_ops;

static void io_submit(void *ctx, cf__sjob *j) {
  conn *c = ctx;
  if (cf__prefetch_claim(c->pf, j)) return; /* answered by the page read ahead */
  sync_item *it = cf__calloc(1, sizeof *it);
  if (it != NULL) {
    it->item.ops = &sync_ops;
    it->item.kind = CF_POOL_SYNC;
    it->srv = c->srv;
    it->job = j;
    if (cf__pool_submit(c->srv->pool, &it->item) == CF_OK) return;
  }
  /* Nobody will answer the job: end the session as a failed allocation of
  ** the session itself would (the sync queue has no limit of its own: one
  ** job per session at a time). */
  cf__free(it);
  cf__sjob_free(j);
  cf__ws_close(c->ws, CF_WS_CLOSE_INTERNAL, "out of memory");
}

static const char *io_peer(void *ctx) {
  conn *c = ctx;
  return cf__ws_session_peer(c->ws);
}

/* The session is READY: from now on its org's notices reach it. */
static void io_on_ready(void *ctx) {
  conn *c = ctx;
  if (c->grp == NULL && join_org(c->srv, c, cf__ssess_org(c->sess)) != CF_OK)
    cf__ws_close(c->ws, CF_WS_CLOSE_INTERNAL, "out of memory");
}

/* --- sync jobs in the pool ------------------------------------------------- */

static void feed_done(cf_server *srv, cf__sjob *j);

/* Worker thread.  Runs the job; a database failure drops the connection
** (the pool runs the job once more when a reused connection was lost). */
static cf__pool_conn sync_run(cf__pg *pg, cf__pool_item *item) {
  sync_item *it = (sync_item *)item;
  return cf__sjob_run_pooled(pg, &it->srv->limits, it->job);
}

/* Loop thread: gives a session's finished job to the session, if it is
** still there (the page after a PULL's answer is read ahead meanwhile). */
static void hand_back(void *ctx, cf__sjob *j) {
  cf_server *srv = ctx;
  srv->stats_pushed += j->pushed;
  srv->stats_pulled += j->pulled;
  conn *c = find_conn(srv, j->session_id);
  if (c == NULL) {
    cf__sjob_free(j); /* the session went away meanwhile */
    return;
  }
  cf__prefetch_answered(c->pf, j);
  cf__ssess_job_done(c->sess, j);
}

static cf__prefetch *slot_of(void *ctx, uint64_t session_id) {
  conn *c = find_conn(ctx, session_id);
  return c != NULL ? c->pf : NULL;
}

/* Loop thread: a finished job. */
static void sync_done(cf__pool_item *item) {
  sync_item *it = (sync_item *)item;
  cf_server *srv = it->srv;
  cf__sjob *j = it->job;
  cf__free(it);
  if (j->kind == CF_SJOB_FEED) {
    srv->stats_pulled += j->pulled;
    feed_done(srv, j);
    return;
  }
  hand_back(srv, j);
}

/* Shutdown: a job that never ran or was never handed back (its client
** retries it; pushes are idempotent). */
static void sync_drop(cf__pool_item *item) {
  sync_item *it = (sync_item *)item;
  cf__sjob_free(it->job);
  cf__free(it);
}

static const cf__pool_ops sync_ops = {sync_run, sync_done, sync_drop};

/* --- transport callbacks ------------------------------------------------- */

static int on_open(void *ctx, cf__ws_session *ws) {
  cf_server *srv = ctx;
  conn *c = cf__calloc(1, sizeof *c);
  if (c == NULL) return CF_NOMEM;
  c->srv = srv;
  c->ws = ws;
  c->id = ++srv->next_id;
  if (grow_ids(srv) != CF_OK) {
    cf__free(c);
    return CF_NOMEM;
  }
  cf__ws_session_set_user(ws, c);
  cf__ssess_config cfg = {srv->auth, srv->limits};
  cf__ssess_io io = {c,         io_send, io_close,   io_set_deadline,
                     io_submit, io_peer, io_on_ready};
  if (cf__ssess_new(c->id, &cfg, &io, &c->sess) != CF_OK ||
      (!srv->no_read_ahead && cf__prefetch_new(&srv->pf_host, &c->pf) != CF_OK)) {
    cf__ws_session_set_user(ws, NULL);
    cf__ssess_free(c->sess);
    cf__free(c);
    return CF_NOMEM;
  }
  c->next = srv->conns;
  if (srv->conns) srv->conns->prev = c;
  srv->conns = c;
  size_t b = hash_id(c->id) & (srv->by_id_cap - 1);
  c->id_next = srv->by_id[b];
  srv->by_id[b] = c;
  srv->nconns++;
  return CF_OK;
}

static void on_message(void *ctx, cf__ws_session *ws, const uint8_t *msg, size_t len) {
  (void)ctx;
  conn *c = cf__ws_session_user(ws);
  if (c != NULL) cf__ssess_on_message(c->sess, msg, len);
}

static void on_deadline(void *ctx, cf__ws_session *ws) {
  (void)ctx;
  conn *c = cf__ws_session_user(ws);
  if (c != NULL) cf__ssess_on_deadline(c->sess);
}

static void on_close(void *ctx, cf__ws_session *ws, int rc, int code,
                     const char *reason) {
  cf_server *srv = ctx;
  (void)rc;
  (void)code;
  (void)reason;
  conn *c = cf__ws_session_user(ws);
  if (c == NULL) return;
  if (c->prev)
    c->prev->next = c->next;
  else
    srv->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  unlink_id(srv, c);
  srv->nconns--;
  leave_org(srv, c);
  cf__prefetch_free(c->pf);
  cf__ssess_free(c->sess);
  cf__free(c);
}

static void on_http(void *ctx, cf__ws_http *req) {
  cf_server *srv = ctx;
  const char *path = cf__ws_http_path(req);
  if (strcmp(path, "/health") == 0) {
    if (strcmp(cf__ws_http_method(req), "GET") != 0 &&
        strcmp(cf__ws_http_method(req), "HEAD") != 0) {
      static const char body[] =
          "{\"error\":{\"code\":\"method_not_allowed\",\"message\":\"use GET\"}}";
      (void)cf__ws_http_add_header(req, "Allow", "GET, HEAD");
      (void)cf__ws_http_respond(req, 405, "application/json", body, sizeof body - 1);
      return;
    }
    int db_ok = srv->pool ? cf__pool_db_ok(srv->pool) : 1;
    char body[256];
    int n = snprintf(
        body, sizeof body,
        "{\"status\":\"%s\",\"database\":\"%s\",\"sessions\":%zu,\"version\":\"%s\"}",
        db_ok ? "ok" : "degraded", db_ok ? "ok" : "unreachable",
        cf__ws_server_session_count(srv->ws), cf_version());
    (void)cf__ws_http_respond(req, db_ok ? 200 : 503, "application/json", body,
                              (size_t)n);
    return;
  }
  if (srv->http.on_http != NULL && srv->http.on_http(srv->http.ctx, req) == CF_OK) return;
  static const char nf[] =
      "{\"error\":{\"code\":\"not_found\",\"message\":\"no such route\"}}";
  (void)cf__ws_http_respond(req, 404, "application/json", nf, sizeof nf - 1);
}

/* --- live updates: LISTEN cf_changes ----------------------------------------- */

#define LISTEN_CHANNEL "cf_changes"

static int64_t mono_ms(void) { return cf__monotonic_ns() / 1000000; }

/* Tells every ready session of org (NULL: all) that its head moved to head.
** An org's notice touches that org's sessions only (the index by org). */
static void wake_org(cf_server *srv, const char *org, uint64_t head) {
  if (org == NULL) {
    for (conn *c = srv->conns; c; c = c->next)
      cf__ssess_live(c->sess, NULL, head);
    return;
  }
  org_group *g = find_org(srv, org);
  for (conn *c = g ? g->first : NULL; c; c = c->org_next)
    cf__ssess_live(c->sess, org, head);
}

/* --- the shared pull of an org (docs/server.md, "Shared pages") ------------- */

/* Sessions told with LIVE per step of the loop (tell_org). */
#define LIVE_STEP 64

static int feedable(const conn *c, uint64_t *cursor);

/* Tells session c of g that the head moved, unless it waits for the shared
** pull running for g, which answers it (feed_done). */
static void tell_one(org_group *g, conn *c, uint64_t head) {
  uint64_t cur;
  if (g->feed_id != 0 && feedable(c, &cur) && cur == g->feed_from) return;
  cf__ssess_live(c->sess, g->org, head);
}

static void live_step(void *arg);

/* Writes up to budget LIVEs of g from g->live_next; returns what is left of
** budget (0: g may have more). */
static size_t live_some(org_group *g, size_t budget) {
  while (g->live_next != NULL && budget > 0) {
    conn *c = g->live_next;
    g->live_next = c->org_next;
    tell_one(g, c, g->live_head);
    budget--;
  }
  return budget;
}

/* Loop thread, a posted step: the next LIVE_STEP LIVEs of the queued orgs. */
static void live_step(void *arg) {
  cf_server *srv = arg;
  srv->live_posted = 0;
  size_t budget = LIVE_STEP;
  while (srv->live_orgs != NULL && budget > 0) {
    org_group *g = srv->live_orgs;
    budget = live_some(g, budget);
    if (g->live_next == NULL && g->live_again) { /* those told an older head */
      g->live_again = 0;
      g->live_next = g->first;
      continue;
    }
    if (g->live_next == NULL) {
      srv->live_orgs = g->live_link;
      g->live_queued = 0;
      g->live_link = NULL;
    }
  }
  if (srv->live_orgs == NULL || srv->live_posted) return;
  if (cf__ws_server_post(srv->ws, live_step, srv) == CF_OK) {
    srv->live_posted = 1;
    return;
  }
  while (srv->live_orgs != NULL) { /* cannot post: the rest at once */
    org_group *g = srv->live_orgs;
    (void)live_some(g, SIZE_MAX);
    if (g->live_again) {
      g->live_again = 0;
      g->live_next = g->first;
      (void)live_some(g, SIZE_MAX);
    }
    srv->live_orgs = g->live_link;
    g->live_queued = 0;
    g->live_link = NULL;
  }
}

/*
** Tells every session of g but those waiting for its running shared pull
** that the head moved to head.  A large org's LIVEs (one socket write each:
** 7 us apiece, 7 ms for 1,000 sessions) are written LIVE_STEP at a time, one
** step per turn of the loop (a post to itself), so that a shared pull's
** answer (FEED) and the next NOTIFY are handled between two steps instead
** of after the last write.  A head announced while a round is under way
** goes on with the round (the sessions not reached yet get the newer head)
** and then makes one more from the first session (those told an older one;
** cf__ssess_live skips whoever has this head already): no session waits for
** more than two rounds however often heads come.  If the post fails, the
** rest is written at once.
*/
static void tell_org(cf_server *srv, org_group *g, uint64_t head) {
  if (head > g->live_head) g->live_head = head;
  if (g->live_queued) {
    g->live_again = 1;
    return;
  }
  g->live_next = g->first;
  g->live_again = 0;
  if (live_some(g, LIVE_STEP) > 0) return;
  if (!srv->live_posted) {
    if (cf__ws_server_post(srv->ws, live_step, srv) != CF_OK) {
      (void)live_some(g, SIZE_MAX);
      return;
    }
    srv->live_posted = 1;
  }
  g->live_queued = 1;
  g->live_link = srv->live_orgs;
  srv->live_orgs = g;
}

static int cmp_user(const void *a, const void *b) { return strcmp(a, b); }

/* Whether c may take part in a shared pull now (cf__ssess_feedable). */
static int feedable(const conn *c, uint64_t *cursor) {
  return !c->no_feed && cf__ssess_feedable(c->sess, cursor);
}

/* Hands the shared pull of g after cursor from, run as the session as, for
** the n sessions standing at from, to the pool.  CF_OK, or a failure: then
** no pull runs and those sessions must be told with LIVE. */
static int submit_feed(cf_server *srv, org_group *g, conn *as, uint64_t from, size_t n,
                       uint64_t head, int64_t notify_ns) {
  size_t claims_len = 0;
  const char *claims = cf__ssess_claims(as->sess, &claims_len);
  cf_nodeid none;
  memset(&none, 0, sizeof none);
  cf__sjob *j = NULL;
  sync_item *it = NULL;
  uint64_t cur;
  if (cf__sjob_new(CF_SJOB_FEED, 0, claims, claims_len, g->org, &none, NULL, 0,
                   &srv->limits, &j) != CF_OK ||
      (j->users = cf__calloc(n, sizeof *j->users)) == NULL ||
      (it = cf__calloc(1, sizeof *it)) == NULL)
    goto fail;
  for (conn *c = g->first; c; c = c->org_next)
    if (feedable(c, &cur) && cur == from)
      snprintf(j->users[j->nusers++], CF_UUID_TEXT_LEN, "%s", cf__ssess_user(c->sess));
  qsort(j->users, j->nusers, sizeof *j->users, cmp_user);
  size_t k = 0; /* distinct users: a user's devices share a row */
  for (size_t i = 0; i < j->nusers; i++)
    if (k == 0 || strcmp(j->users[k - 1], j->users[i]) != 0)
      memmove(j->users[k++], j->users[i], CF_UUID_TEXT_LEN);
  j->nusers = k;
  j->from_seq = from;
  j->feed_id = ++srv->next_feed_id;
  j->t_submit_ns = cf__monotonic_ns();
  it->item.ops = &sync_ops;
  it->item.kind = CF_POOL_SYNC;
  it->srv = srv;
  it->job = j;
  if (cf__pool_submit(srv->pool, &it->item) != CF_OK) goto fail;
  g->feed_id = j->feed_id;
  as->feed_id = j->feed_id;
  g->feed_from = from;
  g->feed_head = head;
  g->feed_notify_ns = notify_ns;
  return CF_OK;
fail:
  cf__free(it);
  cf__sjob_free(j);
  return CF_NOMEM;
}

/*
** The org's head moved to head.  The READY sessions of the org that can take
** a page now (cf__ssess_feedable) and stand at the most advanced cursor
** below head are served by ONE pull, read as one of them and sent to all as
** the same FEED bytes (feed_done); every other session of the org is told
** with LIVE and pulls as itself.  While a shared pull runs, further heads
** wait for it (feed_again) and the next one starts when it is answered.
*/
static void start_feed(cf_server *srv, org_group *g, uint64_t head, int64_t notify_ns) {
  uint64_t from = 0, cur;
  conn *as = NULL;
  size_t n = 0;
  for (conn *c = g->first; c; c = c->org_next)
    if (feedable(c, &cur) && cur < head && (as == NULL || cur > from)) {
      from = cur;
      as = c;
    }
  for (conn *c = g->first; as != NULL && c; c = c->org_next)
    if (feedable(c, &cur) && cur == from) n++;
  /* The pull is handed to a worker first, the LIVEs of the others written
  ** after, in steps (tell_org): the loop's writes (one per session:
  ** thousands in a large org) run while the worker reads the page, and its
  ** answer goes out between two steps. */
  if (as != NULL) (void)submit_feed(srv, g, as, from, n, head, notify_ns);
  tell_org(srv, g, head);
}

/*
** Where a shared pull's time went, one DEBUG line per pull (docs/server.md,
** "Tracing a shared pull"): from the NOTIFY it answers (mono_us: the
** monotonic clock, comparable with other processes of the host) to the
** pool's worker (queue), the pull itself, the hand-back to the loop and the
** writes of its frames.
*/
static void trace_feed(const org_group *g, const cf__sjob *j, size_t fed,
                       int64_t t_back) {
  int64_t t_sent = cf__monotonic_ns();
  cf__log(CF_LOG_DEBUG,
          "msg=\"shared pull\" org=%s head=%llu from=%llu to=%llu rows=%zu sessions=%zu "
          "notify_mono_us=%lld wait_us=%lld queue_us=%lld pull_us=%lld back_us=%lld "
          "write_us=%lld",
          g->org, (unsigned long long)g->feed_head, (unsigned long long)j->from_seq,
          (unsigned long long)j->cursor_after, j->pulled, fed,
          (long long)(g->feed_notify_ns / 1000),
          (long long)((j->t_submit_ns - g->feed_notify_ns) / 1000),
          (long long)((j->t_start_ns - j->t_submit_ns) / 1000),
          (long long)((j->t_done_ns - j->t_start_ns) / 1000),
          (long long)((t_back - j->t_done_ns) / 1000),
          (long long)((t_sent - t_back) / 1000));
}

/*
** Loop thread: a shared pull is answered.  The FEED goes to every session
** of the org that still stands at its cursor, can take it now and whose
** user the pull found a member; the others are told with LIVE.
*/
static void feed_done(cf_server *srv, cf__sjob *j) {
  int64_t t_back = cf__monotonic_ns();
  org_group *g = find_org(srv, j->org);
  if (g == NULL || g->feed_id != j->feed_id) { /* the org's sessions all left */
    cf__sjob_free(j);
    return;
  }
  g->feed_id = 0;
  uint64_t head = g->feed_head, cur;
  if (j->feed_revoked) {
    /* The session it ran as lost the org: it hears LIVE from now on (its
    ** own pull answers ACCESS_REVOKED), and the others get a shared pull
    ** run as someone else. */
    for (conn *c = g->first; c; c = c->org_next)
      if (c->feed_id == j->feed_id) c->no_feed = 1;
    cf__sjob_free(j);
    uint64_t again = g->feed_again;
    g->feed_again = 0;
    start_feed(srv, g, head > again ? head : again, g->feed_notify_ns);
    return;
  }
  if (j->feed_ok) srv->stats_feeds++;
  size_t fed = 0;
  for (conn *c = g->first; c; c = c->org_next) {
    if (!feedable(c, &cur) || cur != j->from_seq) continue;
    size_t u = j->feed_ok ? cf__sjob_find_user(j, cf__ssess_user(c->sess)) : j->nusers;
    if (u < j->nusers && j->member[u] &&
        cf__ssess_feed(c->sess, (const uint8_t *)j->out.p, j->out.len, j->from_seq,
                       j->cursor_after, j->more))
      fed++;
    else
      cf__ssess_live(c->sess, g->org, head);
  }
  srv->stats_fed += fed;
  trace_feed(g, j, fed, t_back);
  uint64_t again = g->feed_again;
  g->feed_again = 0;
  cf__sjob_free(j);
  if (again > 0) start_feed(srv, g, again, g->again_notify_ns);
}

static void on_notify(void *ctx, const char *channel, const char *payload) {
  cf_server *srv = ctx;
  int64_t now_ns = cf__monotonic_ns();
  (void)channel;
  /* payload: '<org uuid>:<head seq>' (sql/postgres/004_live.sql) */
  const char *colon = strchr(payload, ':');
  if (colon == NULL || colon - payload != CF_UUID_TEXT_LEN - 1) return;
  char org[CF_UUID_TEXT_LEN];
  memcpy(org, payload, CF_UUID_TEXT_LEN - 1);
  org[CF_UUID_TEXT_LEN - 1] = '\0';
  uint64_t head = strtoull(colon + 1, NULL, 10);
  org_group *g = find_org(srv, org);
  if (g == NULL || head == 0) {
    wake_org(srv, org, head);
  } else if (g->feed_id != 0) {
    /* the sessions waiting for the running shared pull hear of this head
    ** when it is answered; the others now */
    if (g->feed_again == 0) g->again_notify_ns = now_ns;
    if (head > g->feed_again) g->feed_again = head;
    tell_org(srv, g, head);
  } else {
    start_feed(srv, g, head, now_ns);
  }
}

static void stop_listener(cf_server *srv) {
  cf__ws_unwatch(srv->listen_watch);
  srv->listen_watch = NULL;
  cf__pg_close(srv->listen_pg);
  srv->listen_pg = NULL;
}

static void schedule_listener_retry(cf_server *srv) {
  srv->listen_retry_ms = mono_ms() + srv->listen_backoff_ms;
  srv->listen_backoff_ms =
      srv->listen_backoff_ms < 8000 ? srv->listen_backoff_ms * 2 : 10000;
}

static void on_listen_readable(void *ctx) {
  cf_server *srv = ctx;
  if (srv->listen_pg == NULL) return;
  if (cf__pg_consume_notifies(srv->listen_pg, on_notify, srv) != CF_OK) {
    cf__log(CF_LOG_WARN, "msg=\"live updates interrupted\" detail=\"%s\"",
            cf__pg_errmsg(srv->listen_pg));
    stop_listener(srv);
    schedule_listener_retry(srv);
  }
}

/* Connects the LISTEN connection.  After a reconnect, every session is woken:
** notifications sent while it was away are lost, a pull is not. */
static int start_listener(cf_server *srv, int wake_all) {
  char err[256];
  int rc = cf__pg_connect(srv->listen_url ? srv->listen_url : srv->database_url,
                          &srv->listen_pg, err, sizeof err);
  if (rc == CF_OK) rc = cf__pg_listen(srv->listen_pg, LISTEN_CHANNEL);
  if (rc == CF_OK)
    rc = cf__ws_watch_fd(srv->ws, cf__pg_socket(srv->listen_pg), on_listen_readable, srv,
                         &srv->listen_watch);
  if (rc != CF_OK) {
    cf__log(CF_LOG_WARN, "msg=\"cannot listen for changes\" detail=\"%s\"",
            srv->listen_pg ? cf__pg_errmsg(srv->listen_pg) : err);
    stop_listener(srv);
    schedule_listener_retry(srv);
    return rc;
  }
  srv->listen_backoff_ms = 250;
  srv->listen_retry_ms = 0;
  if (wake_all) {
    cf__log(CF_LOG_INFO, "msg=\"live updates resumed\"");
    wake_org(srv, NULL, 0);
  }
  return CF_OK;
}

/* Periodic work of the loop thread. */
static void tick(cf_server *srv) {
  if (srv->listen_pg == NULL && srv->listen_retry_ms && mono_ms() >= srv->listen_retry_ms)
    (void)start_listener(srv, 1);
}

/* A request the HTTP module took lost its connection. */
static void on_http_cancel(void *ctx, cf__ws_http *req) {
  cf_server *srv = ctx;
  if (srv->http.on_cancel != NULL) srv->http.on_cancel(srv->http.ctx, req);
}

/* --- public API ---------------------------------------------------------- */

int cf_server_new(cf_server **out) {
  *out = NULL;
  cf_server *srv = cf__calloc(1, sizeof *srv);
  if (srv == NULL) return CF_NOMEM;
  srv->port = 4000;
  srv->nworkers = 4;
  srv->limits.max_batch = DEFAULT_MAX_BATCH;
  srv->limits.max_page = DEFAULT_MAX_PAGE;
  *out = srv;
  return CF_OK;
}

static int set_string(char **slot, const char *v) {
  char *copy = v ? cf__strdup(v) : NULL;
  if (v && copy == NULL) return CF_NOMEM;
  cf__free(*slot);
  *slot = copy;
  return CF_OK;
}

int cf_server_set_database(cf_server *srv, const char *url) {
  return set_string(&srv->database_url, url);
}

int cf_server_set_listen_database(cf_server *srv, const char *url) {
  return set_string(&srv->listen_url, url);
}

int cf_server_set_listen(cf_server *srv, const char *host, int port) {
  if (port < 0 || port > 65535) return fail(srv, CF_CONFIG, "port out of range");
  srv->port = port;
  return set_string(&srv->host, host);
}

int cf_server_set_workers(cf_server *srv, int n) {
  if (n < 1 || n > MAX_WORKERS) return fail(srv, CF_CONFIG, "workers must be 1..32");
  srv->nworkers = n;
  return CF_OK;
}

void cf_server_set_auth(cf_server *srv, cf_auth *auth) {
  cf_auth_free(srv->auth);
  srv->auth = auth;
}

int cf__server_set_http(cf_server *srv, const cf__server_http_hooks *hooks) {
  if (srv->http.on_http != NULL || srv->ws != NULL) return CF_MISUSE;
  if (hooks->workers < 1 || hooks->workers > MAX_WORKERS) return CF_CONFIG;
  srv->http = *hooks;
  return CF_OK;
}

static int post_to_loop(void *ctx, void (*fn)(void *arg), void *arg) {
  cf_server *srv = ctx;
  return cf__ws_server_post(srv->ws, fn, arg);
}

cf__pool *cf__server_pool(const cf_server *srv) { return srv->pool; }

int cf__server_set_max_page(cf_server *srv, size_t rows) {
  if (srv->ws != NULL) return CF_MISUSE;
  if (rows < 1 || rows > CF_PULL_MAX_PAGE) return CF_CONFIG;
  srv->limits.max_page = rows;
  return CF_OK;
}

int cf__server_set_read_ahead(cf_server *srv, int on) {
  if (srv->ws != NULL) return CF_MISUSE;
  srv->no_read_ahead = !on;
  return CF_OK;
}

const cf_auth *cf__server_auth(const cf_server *srv) { return srv->auth; }

int cf_server_start(cf_server *srv) {
  if (srv->database_url == NULL) return fail(srv, CF_CONFIG, "DATABASE_URL is not set");
  if (srv->auth == NULL) return fail(srv, CF_CONFIG, "no token verifier configured");
  if (srv->ws != NULL) return fail(srv, CF_MISUSE, "the server is already started");
  char err[256];
  cf__pg *pg = NULL;
  int rc = cf__pg_connect(srv->database_url, &pg, err, sizeof err);
  if (rc != CF_OK) return fail(srv, rc, "%s", err);
  rc = cf__master_check_role(pg);
  if (rc != CF_OK) {
    fail(srv, rc, "%s", cf__pg_errmsg(pg));
    cf__pg_close(pg);
    return rc;
  }
  cf__pg_close(pg);

  cf__ws_server_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.host = srv->host;
  cfg.port = srv->port;
  cfg.ws.ctx = srv;
  cfg.ws.on_open = on_open;
  cfg.ws.on_message = on_message;
  cfg.ws.on_close = on_close;
  cfg.ws.on_deadline = on_deadline;
  cfg.limits.max_message = CF_SJOB_MAX_FRAME;
  cfg.http.ctx = srv;
  cfg.http.on_http = on_http;
  cfg.http.on_http_cancel = on_http_cancel;
  rc = cf__ws_server_new(&cfg, &srv->ws, err, sizeof err);
  if (rc != CF_OK) return fail(srv, rc, "%s", err);
  /* One pool for sync jobs and the HTTP module's requests: each kind may
  ** hold as many workers as it was given, so neither can take the other's
  ** (docs/server.md, "The worker pool"). */
  cf__pool_config pc;
  memset(&pc, 0, sizeof pc);
  pc.database_url = srv->database_url;
  pc.caps[CF_POOL_SYNC] = srv->nworkers;
  pc.caps[CF_POOL_REST] = srv->http.on_http != NULL ? srv->http.workers : 0;
  pc.nthreads = pc.caps[CF_POOL_SYNC] + pc.caps[CF_POOL_REST];
  pc.queue_max[CF_POOL_REST] = srv->http.queue_max;
  pc.post = post_to_loop;
  pc.post_ctx = srv;
  rc = cf__pool_start(&pc, &srv->pool);
  if (rc != CF_OK) {
    /* Not started: no loop may run without the pool its sessions need. */
    cf__ws_server_free(srv->ws);
    srv->ws = NULL;
    return fail(srv, rc, "cannot start the worker pool");
  }
  srv->pf_host.pool = srv->pool;
  srv->pf_host.limits = &srv->limits;
  srv->pf_host.ctx = srv;
  srv->pf_host.slot_of = slot_of;
  srv->pf_host.deliver = hand_back;
  srv->pf_host.post = post_to_loop;
  srv->pf_host.limbo = &srv->pf_limbo;
  srv->listen_backoff_ms = 250;
  (void)start_listener(srv, 0);
  cf__log(CF_LOG_INFO,
          "msg=\"sync server listening\" host=%s port=%d workers=%d sync=%d rest=%d",
          srv->host ? srv->host : "127.0.0.1", cf__ws_server_port(srv->ws), pc.nthreads,
          pc.caps[CF_POOL_SYNC], pc.caps[CF_POOL_REST]);
  return CF_OK;
}

int cf_server_port(const cf_server *srv) {
  return srv->ws ? cf__ws_server_port(srv->ws) : -1;
}

int cf_server_run(cf_server *srv) {
  if (srv->ws == NULL) return fail(srv, CF_MISUSE, "cf_server_start was not called");
  int rc = CF_OK;
  while (rc == CF_OK && !cf__ws_server_stopped(srv->ws))
    rc = cf_server_run_once(srv, 250);
  return rc;
}

int cf_server_run_once(cf_server *srv, int timeout_ms) {
  if (srv->ws == NULL) return CF_MISUSE;
  int rc = cf__ws_server_run_once(srv->ws, timeout_ms);
  tick(srv);
  return rc;
}

void cf_server_stop(cf_server *srv) {
  if (srv->ws) cf__ws_server_stop(srv->ws);
}

const char *cf_server_errmsg(const cf_server *srv) { return srv->errmsg; }

void cf_server_free(cf_server *srv) {
  if (srv == NULL) return;
  /* Workers finish the item they hold (its transaction commits or rolls
  ** back); queued jobs and requests never started, so clients retry them.
  ** This comes first: running REST requests use the HTTP module's state. */
  cf__pool_free(srv->pool);
  srv->pool = NULL;
  stop_listener(srv);
  /* The HTTP module stops before the transport goes, which then drops the
  ** requests the module still held without calling back into it. */
  if (srv->http.on_free != NULL) srv->http.on_free(srv->http.ctx);
  memset(&srv->http, 0, sizeof srv->http);
  cf__ws_server_free(srv->ws); /* on_close for every session empties the indexes */
  if (srv->pf_host.limbo != NULL) cf__prefetch_host_cleanup(&srv->pf_host);
  cf__free(srv->by_id);
  cf__free(srv->orgs);
  cf_auth_free(srv->auth);
  cf__free(srv->database_url);
  cf__free(srv->listen_url);
  cf__free(srv->host);
  cf__free(srv);
}
