/*
** sync/server.c: the sync server -- sessions, workers, health endpoint.
** Design: docs/protocol.md (the frames and the session's states) and
** docs/server.md (threads, limits, shutdown).
**
** THREADS.  One event-loop thread runs the transport (sync/transport.c): it
** accepts sockets, decodes frames, verifies tokens and keeps every session's
** state.  Work that talks to Postgres (HELLO's membership check, PUSH, PULL)
** becomes a job for a small pool of worker threads, each with its own
** connection, so that one slow transaction never stalls the loop or the
** other sessions.  A worker encodes the reply frame itself and hands the job
** back through the `done` list; the loop sends the bytes if the session is
** still there (sessions are named by a 64-bit id, never by pointer, across
** threads).
**
** SESSION STATES.
**
**   state      frames accepted         next
**   --------   ---------------------   -----------------------------------
**   HELLO      HELLO                   VERIFY (token checked on the loop)
**   VERIFY     (none; queued)          READY when the worker's WELCOME is sent
**   READY      AUTH PUSH PULL PING     READY; ERROR frame + close on misuse
**
** A session runs at most one job at a time; frames that arrive meanwhile wait
** in its queue (at most MAX_PENDING, else the session is closed as BUSY), so
** replies keep the order of requests.  Any malformed or out-of-place frame
** gets an ERROR frame and closes that session only.
*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clientflow.h"
#include "core/buf.h"
#include "core/codec.h"
#include "core/uuid.h"
#include "core/version.h"
#include "platform/platform.h"
#include "platform/thread.h"
#include "sync/master_sync.h"
#include "sync/pg.h"
#include "sync/server_int.h"
#include "sync/transport.h"

#define MAX_WORKERS 32
#define MAX_PENDING 8          /* frames queued behind a running job */
#define DEFAULT_MAX_BATCH 1000 /* changes per PUSH */
#define DEFAULT_MAX_PAGE 5000  /* rows per CHANGES */
#define MAX_FRAME_BYTES ((size_t)4 << 20)
#define SESSION_SQL "server/session.sql"
#define MASTER_SQL "server/master_sync.sql"

typedef enum sstate { ST_HELLO, ST_VERIFY, ST_READY, ST_CLOSING } sstate;

/* A frame waiting for the session's running job to finish. */
typedef struct pending {
  uint8_t *bytes;       /* a copy of the message */
  size_t n;             /* its length */
  struct pending *next; /* FIFO */
} pending;

/* One WebSocket session, owned by the loop thread. */
typedef struct session {
  uint64_t id;              /* stable name across threads */
  cf__ws_session *ws;       /* the transport's session */
  sstate state;             /* see the table above */
  int busy;                 /* a job of this session is running */
  cf_claims *claims;        /* the verified token (owned) */
  char org[CF_UUID_TEXT_LEN];  /* the org of the replica (HELLO) */
  cf_nodeid node;           /* the client's node id (HELLO) */
  uint32_t proto;           /* the protocol version chosen */
  pending *head, *tail;     /* frames waiting behind the running job */
  size_t npending;          /* entries in that queue */
  struct session *prev, *next; /* the server's list */
} session;

typedef enum job_kind { JOB_HELLO, JOB_PUSH, JOB_PULL } job_kind;

/* What a worker thread is started with (one per worker, in its server: two
** servers in one process must not share them). */
typedef struct worker_arg {
  struct cf_server *srv; /* the server */
  int index;             /* worker number, for logs */
} worker_arg;

/* Work for a worker: everything it needs is copied in, so the session may
** vanish meanwhile. */
typedef struct job {
  job_kind kind;           /* what to do */
  uint64_t session_id;     /* whose */
  char *claims_json;       /* the token's payload (owned) */
  char org[CF_UUID_TEXT_LEN];  /* the session's org */
  cf_nodeid node;          /* the session's node */
  uint8_t *bytes;          /* the request frame's bytes (owned; PUSH, PULL) */
  size_t n;                /* their length */
  cf_frame frame;          /* the decoded request, borrowing bytes */
  uint32_t proto;          /* HELLO: the chosen protocol version */
  int64_t token_exp;       /* HELLO: the token's expiry */
  cf_buf out;              /* the reply frame to send */
  cf_buf extra;            /* a second frame sent after it (ACCESS_REVOKED
                              after a PUSH_RESULT), usually empty */
  int close_code;          /* non-zero: close the session after sending */
  int db_rc;               /* the database failure that answered the job
                              (CF_OK: none) */
  int ok;                  /* HELLO: the session may become READY */
  struct job *next;        /* queue link */
} job;

struct cf_server {
  /* configuration */
  char *database_url;      /* the server's login (not an owner, no BYPASSRLS) */
  char *listen_url;        /* a direct (session) connection for LISTEN, or
                              NULL: database_url */
  char *host;              /* listen address */
  int port;                /* listen port (0: ephemeral) */
  int nworkers;            /* worker threads */
  size_t max_batch;        /* changes per PUSH */
  size_t max_page;         /* rows per CHANGES */
  cf_auth *auth;           /* token verifier (owned) */
  cf__server_http_hooks http; /* extra HTTP routes (REST API); zeroed: none */
  /* running state */
  cf__ws_server *ws;       /* the transport */
  session *sessions;       /* every open session (loop thread only) */
  uint64_t next_id;        /* next session id */
  cf__thread *threads[MAX_WORKERS]; /* workers */
  worker_arg wargs[MAX_WORKERS]; /* their start arguments */
  int nthreads;            /* started workers */
  cf__mutex *mu;           /* guards the fields below */
  cf__cond *cv;            /* signals work or stop to workers */
  job *queue_head, *queue_tail; /* jobs waiting for a worker */
  job *done;               /* finished jobs waiting for the loop */
  int stopping;            /* workers must exit */
  int db_ok;               /* the last worker query reached Postgres */
  uint64_t stats_pushed;   /* changes answered */
  uint64_t stats_pulled;   /* rows sent */
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

static void job_free(job *j) {
  if (j == NULL) return;
  cf__frame_free(&j->frame);
  cf__free(j->bytes);
  cf__free(j->claims_json);
  cf__buf_free(&j->out);
  cf__buf_free(&j->extra);
  cf__free(j);
}

static session *find_session(cf_server *srv, uint64_t id) {
  for (session *s = srv->sessions; s; s = s->next)
    if (s->id == id) return s;
  return NULL;
}

/* Sends an ERROR frame and closes the session with a WebSocket code. */
static void session_error(session *s, unsigned code, const char *msg, int ws_code) {
  cf_buf b;
  cf__buf_init(&b, 4096);
  if (cf__encode_error(code, msg, strlen(msg), &b) == CF_OK) (void)cf__ws_send(s->ws, b.p, b.len);
  cf__buf_free(&b);
  cf__log(CF_LOG_INFO, "msg=\"session closed\" session=%llu peer=%s code=%s reason=\"%s\"",
          (unsigned long long)s->id, cf__ws_session_peer(s->ws), cf__wire_error_name(code), msg);
  s->state = ST_CLOSING;
  cf__ws_close(s->ws, ws_code, cf__wire_error_name(code));
}

static void send_buf(session *s, const cf_buf *b) {
  if (b->len == 0) return;
  int rc = cf__ws_send(s->ws, b->p, b->len);
  if (rc != CF_OK && rc != CF_BUSY)
    cf__log(CF_LOG_WARN, "msg=\"send failed\" session=%llu rc=%s", (unsigned long long)s->id,
            cf_strerror(rc));
}

/* --- jobs: the loop side ------------------------------------------------- */

static void submit(cf_server *srv, session *s, job *j) {
  s->busy = 1;
  cf__mutex_lock(srv->mu);
  if (srv->queue_tail)
    srv->queue_tail->next = j;
  else
    srv->queue_head = j;
  srv->queue_tail = j;
  cf__cond_signal(srv->cv);
  cf__mutex_unlock(srv->mu);
}

static job *job_new(session *s, job_kind kind) {
  job *j = cf__calloc(1, sizeof *j);
  if (j == NULL) return NULL;
  j->kind = kind;
  j->session_id = s->id;
  memcpy(j->org, s->org, sizeof j->org);
  j->node = s->node;
  cf__buf_init(&j->out, MAX_FRAME_BYTES);
  cf__buf_init(&j->extra, 4096);
  size_t len = 0;
  const char *json = s->claims ? cf_claims_json(s->claims, &len) : NULL;
  j->claims_json = json ? cf__strndup(json, len) : NULL;
  if (json && j->claims_json == NULL) {
    cf__free(j);
    return NULL;
  }
  return j;
}

static void process_frame(cf_server *srv, session *s, const uint8_t *msg, size_t len);

/* Runs the frames that queued up behind a finished job. */
static void drain_pending(cf_server *srv, session *s) {
  while (!s->busy && s->head && s->state != ST_CLOSING) {
    pending *p = s->head;
    s->head = p->next;
    if (s->head == NULL) s->tail = NULL;
    s->npending--;
    process_frame(srv, s, p->bytes, p->n);
    cf__free(p->bytes);
    cf__free(p);
  }
}

static void finish_job(cf_server *srv, job *j) {
  session *s = find_session(srv, j->session_id);
  if (s == NULL || s->state == ST_CLOSING) return; /* gone meanwhile */
  s->busy = 0;
  send_buf(s, &j->out);
  send_buf(s, &j->extra);
  if (j->close_code) {
    s->state = ST_CLOSING;
    cf__ws_close(s->ws, j->close_code, "closed by server");
    return;
  }
  if (j->kind == JOB_HELLO && j->ok) {
    s->state = ST_READY;
    s->proto = j->proto;
    if (j->token_exp > 0) cf__ws_set_deadline(s->ws, j->token_exp * 1000);
    cf__log(CF_LOG_INFO, "msg=\"session ready\" session=%llu peer=%s org=%s user=%s",
            (unsigned long long)s->id, cf__ws_session_peer(s->ws), s->org,
            cf_claims_sub(s->claims));
  }
  drain_pending(srv, s);
}

/* Posted to the loop by workers: handles every finished job. */
static void on_jobs_done(void *arg) {
  cf_server *srv = arg;
  cf__mutex_lock(srv->mu);
  job *list = srv->done;
  srv->done = NULL;
  cf__mutex_unlock(srv->mu);
  /* The list is newest first; restore the order of completion. */
  job *ordered = NULL;
  while (list) {
    job *next = list->next;
    list->next = ordered;
    ordered = list;
    list = next;
  }
  while (ordered) {
    job *next = ordered->next;
    finish_job(srv, ordered);
    job_free(ordered);
    ordered = next;
  }
}

/* --- jobs: the worker side ----------------------------------------------- */

static void reply_error(job *j, unsigned code, const char *msg, int ws_code) {
  cf__buf_reset(&j->out);
  cf__buf_reset(&j->extra);
  if (cf__encode_error(code, msg, strlen(msg), &j->out) != CF_OK) cf__buf_reset(&j->out);
  j->close_code = ws_code;
}

/* Maps a failure of the database to the wire. */
static void reply_db_failure(cf_server *srv, job *j, cf__pg *pg, int rc) {
  (void)srv;
  cf__log(CF_LOG_WARN, "msg=\"database call failed\" session=%llu rc=%s detail=\"%s\"",
          (unsigned long long)j->session_id, cf_strerror(rc), pg ? cf__pg_errmsg(pg) : "");
  j->db_rc = rc;
  reply_error(j, rc == CF_UNREACHABLE ? CF_WIRE_BUSY : CF_WIRE_INTERNAL,
              rc == CF_UNREACHABLE ? "database unavailable, retry later" : "server error",
              CF_WS_CLOSE_TRY_LATER);
}

/* Appends ACCESS_REVOKED for the job's org, saying msg, to out. */
static int encode_revoked(const job *j, const char *msg, cf_buf *out) {
  cf_revoked r;
  memset(&r, 0, sizeof r);
  if (cf__uuid_parse(j->org, strlen(j->org), &r.org) != CF_OK) memset(&r.org, 0, sizeof r.org);
  r.message.p = msg;
  r.message.n = strlen(msg);
  return cf__encode_revoked(&r, out);
}

/*
** Reads, as the job's user in a read-only transaction, whether the user is
** a member of the job's org, the org's head, the user's role and the last
** batch of the job's node (the statement "hello" of SESSION_SQL: columns
** member, head_seq, role, last_batch).
** OUT: *res, freed by the caller.  CF_OK or the database's code.
*/
static int read_org_state(cf__pg *pg, const job *j, cf__pg_res **res) {
  char *sql = NULL;
  char *as_user_sql = NULL;
  const char *as_user = j->claims_json;
  char node[CF_NODE_ID_TEXT_LEN];
  cf__node_id_format(&j->node, node);
  const char *params[2] = {j->org, node};
  *res = NULL;
  int rc = cf__sql_named(MASTER_SQL, "as_user", &as_user_sql);
  if (rc == CF_OK) rc = cf__sql_named(SESSION_SQL, "hello", &sql);
  if (rc == CF_OK) rc = cf__pg_exec(pg, "BEGIN READ ONLY");
  if (rc == CF_OK) rc = cf__pg_query(pg, as_user_sql, 1, &as_user, NULL);
  if (rc == CF_OK) rc = cf__pg_query(pg, sql, 2, params, res);
  if (rc == CF_OK) rc = cf__pg_commit(pg);
  if (rc != CF_OK) {
    cf__pg_rollback(pg);
    cf__pg_res_free(*res);
    *res = NULL;
  }
  cf__free(sql);
  cf__free(as_user_sql);
  return rc;
}

static void run_hello(cf_server *srv, cf__pg *pg, job *j) {
  cf__pg_res *res = NULL;
  int rc = read_org_state(pg, j, &res);
  if (rc != CF_OK) {
    reply_db_failure(srv, j, pg, rc);
    goto out;
  }
  if (cf__pg_nrows(res) != 1 || !cf__pg_bool(res, 0, 0)) {
    /* docs/protocol.md, lifecycle 1 and 9: a user who is not (or no longer)
    ** a member gets ACCESS_REVOKED, so the node knows to stop syncing. */
    cf__buf_reset(&j->out);
    if (encode_revoked(j, "the user is not a member of this organization", &j->out) != CF_OK)
      cf__buf_reset(&j->out);
    j->close_code = CF_WS_CLOSE_POLICY;
    goto out;
  }
  cf_welcome w;
  memset(&w, 0, sizeof w);
  w.proto = j->proto;
  w.hlc = (cf_hlc)cf__now_ms() << 16;
  const char *role = cf__pg_value(res, 0, 2);
  w.role.p = role ? role : "member";
  w.role.n = strlen(w.role.p);
  w.head_seq = strtoull(cf__pg_value(res, 0, 1), NULL, 10);
  w.last_batch = strtoull(cf__pg_value(res, 0, 3), NULL, 10);
  w.max_frame_bytes = MAX_FRAME_BYTES;
  w.max_batch = srv->max_batch;
  w.max_page = srv->max_page;
  w.token_exp = j->token_exp;
  rc = cf__encode_welcome(&w, &j->out);
  if (rc != CF_OK) {
    reply_error(j, CF_WIRE_INTERNAL, "cannot encode WELCOME", CF_WS_CLOSE_INTERNAL);
    goto out;
  }
  j->ok = 1;
out:
  cf__pg_res_free(res);
}

static cf_reject_reason wire_reason(cf__push_reason r) {
  switch (r) {
    case CF__REASON_PERMISSION: return CF_REASON_PERMISSION;
    case CF__REASON_CONSTRAINT: return CF_REASON_CONSTRAINT;
    case CF__REASON_INVALID: return CF_REASON_INVALID;
    case CF__REASON_WRONG_ORG: return CF_REASON_WRONG_ORG;
    case CF__REASON_NONE: break;
  }
  return CF_REASON_NONE;
}

static void run_push(cf_server *srv, cf__pg *pg, job *j) {
  const cf_push *p = &j->frame.u.push;
  cf_change *changes = NULL;
  cf__push_result *results = NULL;
  cf_push_result *wire = NULL;
  changes = cf__calloc(p->nchanges ? p->nchanges : 1, sizeof *changes);
  results = cf__calloc(p->nchanges ? p->nchanges : 1, sizeof *results);
  wire = cf__calloc(p->nchanges ? p->nchanges : 1, sizeof *wire);
  if (changes == NULL || results == NULL || wire == NULL) {
    reply_error(j, CF_WIRE_INTERNAL, "out of memory", CF_WS_CLOSE_INTERNAL);
    goto out;
  }
  for (size_t i = 0; i < p->nchanges; i++) changes[i] = p->changes[i].row;
  cf__push_info info;
  memset(&info, 0, sizeof info);
  int rc = cf__master_push(pg, j->claims_json, j->org, &j->node, p->batch_seq, changes,
                           p->nchanges, results, &info);
  if (rc != CF_OK) {
    reply_db_failure(srv, j, pg, rc);
    goto out;
  }
  if (info.stale || info.reused) {
    /* docs/protocol.md, "Batches": no answer may claim a batch applied that
    ** the master did not apply.  Another replica pushed under this node id
    ** (a copied directory, a restored backup) or the client is broken. */
    char msg[256];
    if (info.stale)
      snprintf(msg, sizeof msg,
               "node id conflict: batch %llu is older than batch %llu this node id "
               "already pushed; another replica uses this node id",
               (unsigned long long)p->batch_seq, (unsigned long long)info.last_batch);
    else
      snprintf(msg, sizeof msg,
               "node id conflict: batch %llu was already pushed with other contents; "
               "another replica uses this node id",
               (unsigned long long)p->batch_seq);
    cf__log(CF_LOG_WARN, "msg=\"push refused\" session=%llu reason=\"%s\"",
            (unsigned long long)j->session_id, msg);
    reply_error(j, CF_WIRE_STATE, msg, CF_WS_CLOSE_POLICY);
    goto out;
  }
  for (size_t i = 0; i < p->nchanges; i++) {
    wire[i].change_id = p->changes[i].id;
    wire[i].status = results[i].status == CF__PUSH_APPLIED      ? CF_PUSH_APPLIED
                     : results[i].status == CF__PUSH_SUPERSEDED ? CF_PUSH_SUPERSEDED
                                                                : CF_PUSH_REJECTED;
    wire[i].reason = info.revoked && results[i].status == CF__PUSH_REJECTED
                         ? CF_REASON_REVOKED
                         : wire_reason(results[i].reason);
    wire[i].message.p = results[i].detail;
    wire[i].message.n = strlen(results[i].detail);
  }
  cf_push_reply reply;
  memset(&reply, 0, sizeof reply);
  reply.batch_seq = p->batch_seq;
  /* The head once the batch committed (docs/protocol.md, lifecycle 5: a
  ** pull up to it includes the batch).  A batch that wrote rows reserved
  ** seq_lo .. seq_hi under the org's clock lock, so that end covers it; a
  ** batch that wrote nothing (replayed, revoked, all superseded or
  ** rejected) reads the head after the fact.  If it cannot be read the
  ** session fails and the client's retry of the batch is answered from the
  ** record. */
  if (info.seq_hi > 0) {
    reply.head_seq = info.seq_hi;
  } else {
    cf__pg_res *state = NULL;
    rc = read_org_state(pg, j, &state);
    if (rc != CF_OK) {
      reply_db_failure(srv, j, pg, rc);
      goto out;
    }
    const char *head = cf__pg_nrows(state) == 1 ? cf__pg_value(state, 0, 1) : NULL;
    reply.head_seq = head ? strtoull(head, NULL, 10) : 0;
    cf__pg_res_free(state);
  }
  reply.results = wire;
  reply.nresults = p->nchanges;
  if (cf__encode_push_result(&reply, &j->out) != CF_OK) {
    reply_error(j, CF_WIRE_INTERNAL, "cannot encode PUSH_RESULT", CF_WS_CLOSE_INTERNAL);
    goto out;
  }
  if (info.revoked) {
    /* DESIGN 9: the replica learns it has lost access (docs/protocol.md,
    ** lifecycle 9), after the answers that keep its changes as conflicts. */
    if (encode_revoked(j, "the user is no longer a member of this organization", &j->extra) ==
        CF_OK)
      j->close_code = CF_WS_CLOSE_POLICY;
  }
  cf__mutex_lock(srv->mu);
  srv->stats_pushed += p->nchanges;
  cf__mutex_unlock(srv->mu);
  cf__log(CF_LOG_DEBUG,
          "msg=\"push\" session=%llu batch=%llu changes=%zu applied=%zu superseded=%zu "
          "rejected=%zu replayed=%d",
          (unsigned long long)j->session_id, (unsigned long long)p->batch_seq, p->nchanges,
          info.applied, info.superseded, info.rejected, info.replayed);
out:
  cf__free(changes);
  cf__free(results);
  cf__free(wire);
}

/*
** Encodes a pulled page as one CHANGES frame.  Items that share a cursor
** position are never split: if the frame fills up, it ends at the last whole
** group and says `more`.
*/
static int encode_page(const cf__pull_page *page, cf_buf *out, uint64_t from) {
  cf_buf body;
  cf__buf_init(&body, MAX_FRAME_BYTES - CF_CODEC_FRAME_OVERHEAD);
  size_t rows = 0, group_rows = 0, group_len = 0;
  uint64_t last_complete = from;
  int more = page->more, rc = CF_OK;
  for (size_t i = 0; i < page->n; i++) {
    if (i > 0 && page->items[i].seq != page->items[i - 1].seq) {
      last_complete = page->items[i - 1].seq;
      group_rows = rows;
      group_len = body.len;
    }
    rc = cf__codec_put_row(&page->items[i].row, &body);
    if (rc == CF_TOOBIG) {
      if (group_rows == 0) goto out; /* one group larger than a frame */
      cf__buf_truncate(&body, group_len);
      rows = group_rows;
      more = 1;
      rc = cf__encode_changes_body(last_complete, more, page->head, rows, body.p, body.len,
                                   out);
      goto out;
    }
    if (rc != CF_OK) goto out;
    rows++;
  }
  /* An empty page still moves the cursor to the head: positions may be
  ** holes (a rolled-back or all-rejected write), which no row will ever
  ** fill. */
  rc = cf__encode_changes_body(page->next_cursor > from ? page->next_cursor : from, more,
                               page->head, rows, body.p, body.len, out);
out:
  cf__buf_free(&body);
  return rc;
}

static void run_pull(cf_server *srv, cf__pg *pg, job *j) {
  const cf_pull *p = &j->frame.u.pull;
  cf__pull_page page;
  memset(&page, 0, sizeof page);
  size_t limit = p->limit < srv->max_page ? (size_t)p->limit : srv->max_page;
  if (limit == 0) limit = 1;
  int rc = cf__master_pull(pg, j->claims_json, j->org, p->from_seq, limit, &page);
  if (rc != CF_OK) {
    reply_db_failure(srv, j, pg, rc);
    goto out;
  }
  if (page.status == CF__PULL_REBOOTSTRAP) {
    rc = cf__encode_seq(CF_FRAME_REBOOTSTRAP, page.head, &j->out);
  } else if (page.status == CF__PULL_REVOKED) {
    rc = encode_revoked(j, "the user is no longer a member of this organization", &j->out);
  } else {
    rc = encode_page(&page, &j->out, p->from_seq);
    cf__mutex_lock(srv->mu);
    srv->stats_pulled += page.n;
    cf__mutex_unlock(srv->mu);
  }
  if (rc != CF_OK) reply_error(j, CF_WIRE_INTERNAL, "cannot encode the page", CF_WS_CLOSE_INTERNAL);
out:
  cf__pull_page_free(&page);
}

static void run_job(cf_server *srv, cf__pg *pg, job *j) {
  if (j->kind == JOB_HELLO) run_hello(srv, pg, j);
  if (j->kind == JOB_PUSH) run_push(srv, pg, j);
  if (j->kind == JOB_PULL) run_pull(srv, pg, j);
}

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
    job *j = srv->queue_head;
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
      if (pg == NULL) {
        char err[256];
        int rc = cf__pg_connect(srv->database_url, &pg, err, sizeof err);
        if (rc != CF_OK) {
          cf__log(CF_LOG_WARN, "msg=\"worker cannot connect\" worker=%d detail=\"%s\"",
                  wa->index, err);
          reply_db_failure(srv, j, NULL, CF_UNREACHABLE);
          break;
        }
      }
      cf__buf_reset(&j->out);
      cf__buf_reset(&j->extra);
      j->close_code = 0;
      j->db_rc = CF_OK;
      run_job(srv, pg, j);
      if (j->close_code != CF_WS_CLOSE_TRY_LATER) break;
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

/* --- frames on the loop -------------------------------------------------- */

static void handle_hello(cf_server *srv, session *s, cf_frame *f) {
  const cf_hello *h = &f->u.hello;
  if (h->proto_max < CF_PROTO_MIN || h->proto_min > CF_PROTO_MAX) {
    session_error(s, CF_WIRE_VERSION, "no protocol version in common", CF_WS_CLOSE_POLICY);
    return;
  }
  cf_token_error why = CF_TOKEN_OK;
  cf_claims *claims = NULL;
  int rc = cf_auth_verify(srv->auth, h->token.p, h->token.n, &claims, &why);
  if (rc != CF_OK) {
    session_error(s,
                  why == CF_TOKEN_EXPIRED || why == CF_TOKEN_NOT_YET_VALID
                      ? CF_WIRE_TOKEN_EXPIRED
                      : CF_WIRE_AUTH,
                  rc == CF_AUTH ? cf_token_strerror(why) : cf_strerror(rc), CF_WS_CLOSE_POLICY);
    return;
  }
  /* A node whose clock runs too far ahead would stamp versions the master
  ** refuses change by change: tell it now, with the size of the skew. */
  int64_t now_ms = cf__now_ms();
  int64_t node_ms = (int64_t)CF_HLC_MS(h->hlc);
  if (node_ms > now_ms + CF_PUSH_MAX_SKEW_MS) {
    char msg[160];
    snprintf(msg, sizeof msg,
             "the node's clock is ahead by %lld s of the server's (at most %lld s "
             "allowed): correct the device's clock",
             (long long)((node_ms - now_ms) / 1000),
             (long long)(CF_PUSH_MAX_SKEW_MS / 1000));
    cf_claims_free(claims);
    session_error(s, CF_WIRE_CLOCK_SKEW, msg, CF_WS_CLOSE_POLICY);
    return;
  }
  char user[CF_UUID_TEXT_LEN];
  cf_uuid zero;
  memset(&zero, 0, sizeof zero);
  cf__uuid_format(&h->user, user);
  if (cf__uuid_cmp(&h->user, &zero) != 0 && strcmp(user, cf_claims_sub(claims)) != 0) {
    cf_claims_free(claims);
    session_error(s, CF_WIRE_FORBIDDEN, "the token's subject is not the user this node belongs to",
                  CF_WS_CLOSE_POLICY);
    return;
  }
  s->claims = claims;
  cf__uuid_format(&h->org, s->org);
  s->node = h->node;
  job *j = job_new(s, JOB_HELLO);
  if (j == NULL) {
    session_error(s, CF_WIRE_INTERNAL, "out of memory", CF_WS_CLOSE_INTERNAL);
    return;
  }
  j->proto = h->proto_max < CF_PROTO_MAX ? h->proto_max : CF_PROTO_MAX;
  j->token_exp = cf_claims_exp(claims);
  s->state = ST_VERIFY;
  submit(srv, s, j);
}

static void handle_auth(cf_server *srv, session *s, cf_frame *f) {
  cf_token_error why = CF_TOKEN_OK;
  cf_claims *claims = NULL;
  int rc = cf_auth_verify(srv->auth, f->u.auth.token.p, f->u.auth.token.n, &claims, &why);
  if (rc != CF_OK) {
    session_error(s, why == CF_TOKEN_EXPIRED ? CF_WIRE_TOKEN_EXPIRED : CF_WIRE_AUTH,
                  rc == CF_AUTH ? cf_token_strerror(why) : cf_strerror(rc), CF_WS_CLOSE_POLICY);
    return;
  }
  if (strcmp(cf_claims_sub(claims), cf_claims_sub(s->claims)) != 0) {
    cf_claims_free(claims);
    session_error(s, CF_WIRE_FORBIDDEN, "a new token must be for the same user",
                  CF_WS_CLOSE_POLICY);
    return;
  }
  cf_claims_free(s->claims);
  s->claims = claims;
  cf__ws_set_deadline(s->ws, cf_claims_exp(claims) * 1000);
  cf_auth_ok ok = {cf_claims_exp(claims)};
  cf_buf b;
  cf__buf_init(&b, 256);
  if (cf__encode_auth_ok(&ok, &b) == CF_OK) send_buf(s, &b);
  cf__buf_free(&b);
}

/* Hands a PUSH or PULL to a worker with its own copy of the bytes. */
static void submit_request(cf_server *srv, session *s, job_kind kind, const uint8_t *msg,
                           size_t len) {
  job *j = job_new(s, kind);
  if (j != NULL) {
    j->bytes = cf__malloc(len);
    if (j->bytes != NULL) {
      memcpy(j->bytes, msg, len);
      j->n = len;
      cf_codec_limits lim = {MAX_FRAME_BYTES, srv->max_batch > srv->max_page
                                                  ? srv->max_batch
                                                  : srv->max_page};
      char err[256];
      if (cf__frame_decode(j->bytes, j->n, &lim, &j->frame, err, sizeof err) == CF_OK) {
        submit(srv, s, j);
        return;
      }
    }
  }
  job_free(j);
  session_error(s, CF_WIRE_INTERNAL, "out of memory", CF_WS_CLOSE_INTERNAL);
}

static void process_frame(cf_server *srv, session *s, const uint8_t *msg, size_t len) {
  cf_codec_limits lim = {MAX_FRAME_BYTES,
                         srv->max_batch > srv->max_page ? srv->max_batch : srv->max_page};
  cf_frame f;
  char err[256];
  int rc = cf__frame_decode(msg, len, &lim, &f, err, sizeof err);
  if (rc != CF_OK) {
    session_error(s, rc == CF_TOOBIG ? CF_WIRE_TOO_BIG : CF_WIRE_PROTOCOL, err,
                  rc == CF_TOOBIG ? CF_WS_CLOSE_TOO_BIG : CF_WS_CLOSE_PROTOCOL);
    return;
  }
  if (!cf__frame_from_client(f.type)) {
    session_error(s, CF_WIRE_PROTOCOL, "a frame only servers send", CF_WS_CLOSE_PROTOCOL);
  } else if (s->state == ST_HELLO) {
    if (f.type == CF_FRAME_HELLO)
      handle_hello(srv, s, &f);
    else
      session_error(s, CF_WIRE_STATE, "the first frame must be HELLO", CF_WS_CLOSE_PROTOCOL);
  } else if (f.type == CF_FRAME_HELLO) {
    session_error(s, CF_WIRE_STATE, "HELLO was already sent", CF_WS_CLOSE_PROTOCOL);
  } else if (f.type == CF_FRAME_AUTH) {
    handle_auth(srv, s, &f);
  } else if (f.type == CF_FRAME_PING) {
    cf_buf b;
    cf__buf_init(&b, 64);
    if (cf__encode_seq(CF_FRAME_PONG, f.u.ping.nonce, &b) == CF_OK) send_buf(s, &b);
    cf__buf_free(&b);
  } else if (f.type == CF_FRAME_PONG) {
    /* liveness answer: nothing to do */
  } else if (f.type == CF_FRAME_ERROR) {
    cf__log(CF_LOG_INFO, "msg=\"client reported an error\" session=%llu code=%s",
            (unsigned long long)s->id, cf__wire_error_name(f.u.error.code));
    s->state = ST_CLOSING;
    cf__ws_close(s->ws, CF_WS_CLOSE_NORMAL, "bye");
  } else if (f.type == CF_FRAME_PUSH) {
    if (f.u.push.batch_seq == 0 || f.u.push.batch_seq > (uint64_t)INT64_MAX)
      session_error(s, CF_WIRE_PROTOCOL, "batch_seq must be 1 .. 2^63-1",
                    CF_WS_CLOSE_PROTOCOL);
    else if (f.u.push.nchanges > srv->max_batch)
      session_error(s, CF_WIRE_TOO_BIG, "more changes than WELCOME's max_batch",
                    CF_WS_CLOSE_TOO_BIG);
    else
      submit_request(srv, s, JOB_PUSH, msg, len);
  } else if (f.type == CF_FRAME_PULL) {
    if (f.u.pull.from_seq > (uint64_t)INT64_MAX)
      session_error(s, CF_WIRE_PROTOCOL, "from_seq must be 0 .. 2^63-1", CF_WS_CLOSE_PROTOCOL);
    else
      submit_request(srv, s, JOB_PULL, msg, len);
  } else {
    session_error(s, CF_WIRE_PROTOCOL, "unexpected frame", CF_WS_CLOSE_PROTOCOL);
  }
  cf__frame_free(&f);
}

/* --- transport callbacks ------------------------------------------------- */

static int on_open(void *ctx, cf__ws_session *ws) {
  cf_server *srv = ctx;
  session *s = cf__calloc(1, sizeof *s);
  if (s == NULL) return CF_NOMEM;
  s->id = ++srv->next_id;
  s->ws = ws;
  s->state = ST_HELLO;
  s->next = srv->sessions;
  if (srv->sessions) srv->sessions->prev = s;
  srv->sessions = s;
  cf__ws_session_set_user(ws, s);
  /* A client has 30 seconds to say HELLO. */
  cf__ws_set_deadline(ws, cf__now_ms() + 30000);
  return CF_OK;
}

static void on_message(void *ctx, cf__ws_session *ws, const uint8_t *msg, size_t len) {
  cf_server *srv = ctx;
  session *s = cf__ws_session_user(ws);
  if (s == NULL || s->state == ST_CLOSING) return;
  if (s->busy || s->state == ST_VERIFY) {
    if (s->npending >= MAX_PENDING) {
      session_error(s, CF_WIRE_BUSY, "too many requests in flight", CF_WS_CLOSE_TRY_LATER);
      return;
    }
    pending *p = cf__calloc(1, sizeof *p);
    uint8_t *copy = p ? cf__malloc(len ? len : 1) : NULL;
    if (copy == NULL) {
      cf__free(p);
      session_error(s, CF_WIRE_INTERNAL, "out of memory", CF_WS_CLOSE_INTERNAL);
      return;
    }
    memcpy(copy, msg, len);
    p->bytes = copy;
    p->n = len;
    if (s->tail)
      s->tail->next = p;
    else
      s->head = p;
    s->tail = p;
    s->npending++;
    return;
  }
  process_frame(srv, s, msg, len);
}

static void on_deadline(void *ctx, cf__ws_session *ws) {
  (void)ctx;
  session *s = cf__ws_session_user(ws);
  if (s == NULL || s->state == ST_CLOSING) return;
  if (s->state == ST_HELLO)
    session_error(s, CF_WIRE_STATE, "no HELLO in time", CF_WS_CLOSE_POLICY);
  else
    session_error(s, CF_WIRE_TOKEN_EXPIRED, "token expired", CF_WS_CLOSE_POLICY);
}

static void on_close(void *ctx, cf__ws_session *ws, int rc, int code, const char *reason) {
  cf_server *srv = ctx;
  (void)rc;
  (void)code;
  (void)reason;
  session *s = cf__ws_session_user(ws);
  if (s == NULL) return;
  if (s->prev)
    s->prev->next = s->next;
  else
    srv->sessions = s->next;
  if (s->next) s->next->prev = s->prev;
  while (s->head) {
    pending *p = s->head;
    s->head = p->next;
    cf__free(p->bytes);
    cf__free(p);
  }
  cf_claims_free(s->claims);
  cf__free(s);
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

/* Tells every ready session of org that its head moved to head. */
static void wake_org(cf_server *srv, const char *org, uint64_t head) {
  cf_buf b;
  cf__buf_init(&b, 64);
  if (cf__encode_seq(CF_FRAME_LIVE, head, &b) != CF_OK) {
    cf__buf_free(&b);
    return;
  }
  for (session *s = srv->sessions; s; s = s->next)
    if (s->state == ST_READY && (org == NULL || strcmp(s->org, org) == 0)) send_buf(s, &b);
  cf__buf_free(&b);
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
  srv->max_batch = DEFAULT_MAX_BATCH;
  srv->max_page = DEFAULT_MAX_PAGE;
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
  cfg.limits.max_message = MAX_FRAME_BYTES;
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
    job *j = srv->queue_head;
    srv->queue_head = j->next;
    job_free(j);
  }
  while (srv->done) {
    job *j = srv->done;
    srv->done = j->next;
    job_free(j);
  }
  cf__cond_free(srv->cv);
  cf__mutex_free(srv->mu);
  cf_auth_free(srv->auth);
  cf__free(srv->database_url);
  cf__free(srv->listen_url);
  cf__free(srv->host);
  cf__free(srv);
}
