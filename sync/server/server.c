/*
** sync/server/server.c: the sync server -- the glue between the transport
** (sync/net/transport.c, libwebsockets), the sessions (sync/session/server_session.c,
** state machines fed frames), the worker pool that runs their jobs on the
** master (sync/server/job_run.c), live updates and the health endpoint.
** Design: docs/protocol.md (frames, session states) and docs/server.md
** (threads, limits, shutdown).
**
** THREADS.  One event-loop thread runs the transport: it accepts sockets,
** feeds frames to the sessions and carries out their effects (send, close,
** deadlines).  A job a session submits (HELLO's membership check, PUSH,
** PULL) goes to a small pool of worker threads, each with its own Postgres
** connection, so that one slow transaction never stalls the loop or the
** other sessions.  A worker runs the job (cf__sjob_run) and hands it back
** through the `done` list; the loop gives it to its session if the session
** is still there (sessions are named by a 64-bit id, never by pointer,
** across threads).
*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clientflow.h"
#include "core/buf.h"
#include "core/codec.h"
#include "core/uuid.h"
#include "platform/platform.h"
#include "platform/thread.h"
#include "sync/master/master_sync.h"
#include "sync/master/pg.h"
#include "sync/server/server_int.h"
#include "sync/server/job_run.h"
#include "sync/session/server_session.h"
#include "sync/net/transport.h"

#define MAX_WORKERS 32
#define DEFAULT_MAX_BATCH 1000 /* changes per PUSH */
#define DEFAULT_MAX_PAGE 5000  /* rows per CHANGES */

/* One WebSocket connection and its session, owned by the loop thread. */
typedef struct conn {
  struct cf_server *srv;    /* the server */
  cf__ws_session *ws;       /* the transport's session */
  cf__ssess *sess;          /* the session state machine */
  uint64_t id;              /* the session's id */
  struct conn *prev, *next; /* the server's list */
} conn;

/* What a worker thread is started with (one per worker, in its server: two
** servers in one process must not share them). */
typedef struct worker_arg {
  struct cf_server *srv; /* the server */
  int index;             /* worker number, for logs */
} worker_arg;

struct cf_server {
  /* configuration */
  char *database_url;      /* the server's login (not an owner, no BYPASSRLS) */
  char *listen_url;        /* a direct (session) connection for LISTEN, or
                              NULL: database_url */
  char *host;              /* listen address */
  int port;                /* listen port (0: ephemeral) */
  int nworkers;            /* worker threads */
  cf__sjob_limits limits;  /* changes per PUSH, rows per CHANGES */
  cf_auth *auth;           /* token verifier (owned) */
  cf__server_http_hooks http; /* extra HTTP routes (REST API); zeroed: none */
  /* running state */
  cf__ws_server *ws;       /* the transport */
  conn *conns;             /* every open connection (loop thread only) */
  uint64_t next_id;        /* next session id */
  cf__thread *threads[MAX_WORKERS]; /* workers */
  worker_arg wargs[MAX_WORKERS]; /* their start arguments */
  int nthreads;            /* started workers */
  cf__mutex *mu;           /* guards the fields below */
  cf__cond *cv;            /* signals work or stop to workers */
  cf__sjob *queue_head, *queue_tail; /* jobs waiting for a worker */
  cf__sjob *done;          /* finished jobs waiting for the loop */
  int stopping;            /* workers must exit */
  int db_ok;               /* the last worker query reached Postgres */
  uint64_t stats_pushed;   /* changes answered (loop thread) */
  uint64_t stats_pulled;   /* rows sent (loop thread) */
  cf__pg *listen_pg;       /* LISTEN cf_changes (loop thread only) */
  cf__ws_watch *listen_watch; /* its socket in the event loop */
  int64_t listen_retry_ms; /* monotonic ms of the next reconnect attempt */
  int listen_backoff_ms;   /* delay before the following one */
  char errmsg[512];        /* detail of the last failure */
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

static conn *find_conn(cf_server *srv, uint64_t id) {
  for (conn *c = srv->conns; c; c = c->next)
    if (c->id == id) return c;
  return NULL;
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

static void io_submit(void *ctx, cf__sjob *j) {
  cf_server *srv = ((conn *)ctx)->srv;
  cf__mutex_lock(srv->mu);
  if (srv->queue_tail)
    srv->queue_tail->next = j;
  else
    srv->queue_head = j;
  srv->queue_tail = j;
  cf__cond_signal(srv->cv);
  cf__mutex_unlock(srv->mu);
}

static const char *io_peer(void *ctx) {
  conn *c = ctx;
  return cf__ws_session_peer(c->ws);
}

/* Posted to the loop by workers: hands every finished job to its session. */
static void on_jobs_done(void *arg) {
  cf_server *srv = arg;
  cf__mutex_lock(srv->mu);
  cf__sjob *list = srv->done;
  srv->done = NULL;
  cf__mutex_unlock(srv->mu);
  /* The list is newest first; restore the order of completion. */
  cf__sjob *ordered = NULL;
  while (list) {
    cf__sjob *next = list->next;
    list->next = ordered;
    ordered = list;
    list = next;
  }
  while (ordered) {
    cf__sjob *next = ordered->next;
    ordered->next = NULL;
    srv->stats_pushed += ordered->pushed;
    srv->stats_pulled += ordered->pulled;
    conn *c = find_conn(srv, ordered->session_id);
    if (c != NULL)
      cf__ssess_job_done(c->sess, ordered);
    else
      cf__sjob_free(ordered); /* the session went away meanwhile */
    ordered = next;
  }
}

/* --- the workers ----------------------------------------------------------- */

static void worker_main(void *arg) {
  worker_arg *wa = arg;
  cf_server *srv = wa->srv;
  cf__pg *pg = NULL;
  for (;;) {
    cf__mutex_lock(srv->mu);
    while (!srv->stopping && srv->queue_head == NULL) cf__cond_wait(srv->cv, srv->mu);
    if (srv->stopping) {
      cf__mutex_unlock(srv->mu);
      break;
    }
    cf__sjob *j = srv->queue_head;
    srv->queue_head = j->next;
    if (srv->queue_head == NULL) srv->queue_tail = NULL;
    j->next = NULL;
    cf__mutex_unlock(srv->mu);

    /* A connection that served earlier jobs may have been cut since (a
    ** Postgres restart, an idle timeout): a job that finds it broken runs
    ** once more on a fresh one before anyone is told the database is away.
    ** Safe for every job: a push that did commit before the connection
    ** dropped is answered from its record the second time. */
    for (int attempt = 0; attempt < 2; attempt++) {
      int reused = pg != NULL;
      cf__sjob_reset_answer(j);
      if (pg == NULL) {
        char err[256];
        if (cf__pg_connect(srv->database_url, &pg, err, sizeof err) != CF_OK) {
          cf__log(CF_LOG_WARN, "msg=\"worker cannot connect\" worker=%d detail=\"%s\"",
                  wa->index, err);
          cf__sjob_fail_unreachable(j);
          break;
        }
      }
      cf__sjob_run(pg, &srv->limits, j);
      if (j->db_rc != CF_UNREACHABLE && j->close_code != CF_WS_CLOSE_TRY_LATER) break;
      /* The connection may be broken: start afresh. */
      cf__pg_close(pg);
      pg = NULL;
      if (!reused || j->db_rc != CF_UNREACHABLE) break;
      cf__log(CF_LOG_INFO, "msg=\"retrying on a fresh connection\" worker=%d session=%llu",
              wa->index, (unsigned long long)j->session_id);
    }
    cf__mutex_lock(srv->mu);
    srv->db_ok = j->db_rc != CF_UNREACHABLE;
    j->next = srv->done;
    srv->done = j;
    cf__mutex_unlock(srv->mu);
    if (cf__ws_server_post(srv->ws, on_jobs_done, srv) != CF_OK)
      cf__log(CF_LOG_ERROR, "msg=\"cannot wake the event loop\"");
  }
  cf__pg_close(pg);
}

/* --- transport callbacks ------------------------------------------------- */

static int on_open(void *ctx, cf__ws_session *ws) {
  cf_server *srv = ctx;
  conn *c = cf__calloc(1, sizeof *c);
  if (c == NULL) return CF_NOMEM;
  c->srv = srv;
  c->ws = ws;
  c->id = ++srv->next_id;
  cf__ws_session_set_user(ws, c);
  cf__ssess_config cfg = {srv->auth, srv->limits};
  cf__ssess_io io = {c, io_send, io_close, io_set_deadline, io_submit, io_peer};
  if (cf__ssess_new(c->id, &cfg, &io, &c->sess) != CF_OK) {
    cf__ws_session_set_user(ws, NULL);
    cf__free(c);
    return CF_NOMEM;
  }
  c->next = srv->conns;
  if (srv->conns) srv->conns->prev = c;
  srv->conns = c;
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

static void on_close(void *ctx, cf__ws_session *ws, int rc, int code, const char *reason) {
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
    cf__mutex_lock(srv->mu);
    int db_ok = srv->db_ok;
    cf__mutex_unlock(srv->mu);
    char body[256];
    int n = snprintf(body, sizeof body,
                     "{\"status\":\"%s\",\"database\":\"%s\",\"sessions\":%zu,\"version\":\"%s\"}",
                     db_ok ? "ok" : "degraded", db_ok ? "ok" : "unreachable",
                     cf__ws_server_session_count(srv->ws), cf_version());
    (void)cf__ws_http_respond(req, db_ok ? 200 : 503, "application/json", body, (size_t)n);
    return;
  }
  if (srv->http.on_http != NULL && srv->http.on_http(srv->http.ctx, req) == CF_OK) return;
  static const char nf[] = "{\"error\":{\"code\":\"not_found\",\"message\":\"no such route\"}}";
  (void)cf__ws_http_respond(req, 404, "application/json", nf, sizeof nf - 1);
}

/* --- live updates: LISTEN cf_changes ----------------------------------------- */

#define LISTEN_CHANNEL "cf_changes"

static int64_t mono_ms(void) { return cf__monotonic_ns() / 1000000; }

/* Tells every ready session of org (NULL: all) that its head moved to head. */
static void wake_org(cf_server *srv, const char *org, uint64_t head) {
  for (conn *c = srv->conns; c; c = c->next) cf__ssess_live(c->sess, org, head);
}

static void on_notify(void *ctx, const char *channel, const char *payload) {
  cf_server *srv = ctx;
  (void)channel;
  /* payload: '<org uuid>:<head seq>' (sql/postgres/004_live.sql) */
  const char *colon = strchr(payload, ':');
  if (colon == NULL || colon - payload != CF_UUID_TEXT_LEN - 1) return;
  char org[CF_UUID_TEXT_LEN];
  memcpy(org, payload, CF_UUID_TEXT_LEN - 1);
  org[CF_UUID_TEXT_LEN - 1] = '\0';
  wake_org(srv, org, strtoull(colon + 1, NULL, 10));
}

static void stop_listener(cf_server *srv) {
  cf__ws_unwatch(srv->listen_watch);
  srv->listen_watch = NULL;
  cf__pg_close(srv->listen_pg);
  srv->listen_pg = NULL;
}

static void schedule_listener_retry(cf_server *srv) {
  srv->listen_retry_ms = mono_ms() + srv->listen_backoff_ms;
  srv->listen_backoff_ms = srv->listen_backoff_ms < 8000 ? srv->listen_backoff_ms * 2 : 10000;
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
  srv->db_ok = 1;
  if (cf__mutex_new(&srv->mu) != CF_OK || cf__cond_new(&srv->cv) != CF_OK) {
    cf_server_free(srv);
    return CF_NOMEM;
  }
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
  srv->http = *hooks;
  return CF_OK;
}

int cf__server_post(cf_server *srv, void (*fn)(void *arg), void *arg) {
  if (srv->ws == NULL) return CF_MISUSE;
  return cf__ws_server_post(srv->ws, fn, arg);
}

const char *cf__server_database_url(const cf_server *srv) { return srv->database_url; }
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
  for (int i = 0; i < srv->nworkers; i++) {
    srv->wargs[i].srv = srv;
    srv->wargs[i].index = i;
    rc = cf__thread_start(worker_main, &srv->wargs[i], &srv->threads[i]);
    if (rc != CF_OK) return fail(srv, rc, "cannot start worker threads");
    srv->nthreads++;
  }
  srv->listen_backoff_ms = 250;
  (void)start_listener(srv, 0);
  cf__log(CF_LOG_INFO, "msg=\"sync server listening\" host=%s port=%d workers=%d",
          srv->host ? srv->host : "127.0.0.1", cf__ws_server_port(srv->ws), srv->nworkers);
  return CF_OK;
}

int cf_server_port(const cf_server *srv) { return srv->ws ? cf__ws_server_port(srv->ws) : -1; }

int cf_server_run(cf_server *srv) {
  if (srv->ws == NULL) return fail(srv, CF_MISUSE, "cf_server_start was not called");
  int rc = CF_OK;
  while (rc == CF_OK && !cf__ws_server_stopped(srv->ws)) rc = cf_server_run_once(srv, 250);
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
  if (srv->mu) {
    cf__mutex_lock(srv->mu);
    srv->stopping = 1;
    cf__cond_broadcast(srv->cv);
    cf__mutex_unlock(srv->mu);
  }
  /* Workers finish the job they hold (its transaction commits or rolls
  ** back); queued jobs never started, so clients retry them. */
  for (int i = 0; i < srv->nthreads; i++) cf__thread_join(srv->threads[i]);
  stop_listener(srv);
  /* The HTTP module stops before the transport goes, which then drops the
  ** requests the module still held without calling back into it. */
  if (srv->http.on_free != NULL) srv->http.on_free(srv->http.ctx);
  memset(&srv->http, 0, sizeof srv->http);
  cf__ws_server_free(srv->ws);
  while (srv->queue_head) {
    cf__sjob *j = srv->queue_head;
    srv->queue_head = j->next;
    cf__sjob_free(j);
  }
  while (srv->done) {
    cf__sjob *j = srv->done;
    srv->done = j->next;
    cf__sjob_free(j);
  }
  cf__cond_free(srv->cv);
  cf__mutex_free(srv->mu);
  cf_auth_free(srv->auth);
  cf__free(srv->database_url);
  cf__free(srv->listen_url);
  cf__free(srv->host);
  cf__free(srv);
}
