/*
** tests/integration/test_sessions_in_memory.c: the client session and the
** server session driven against each other with frames handed over in
** memory -- no socket, no thread, no event loop -- with a real replica and
** a real PostgreSQL behind the server session (docs/architecture.md, "The
** sessions").  This is the seam the simulation harness uses.
*/
#include <string.h>

#include "cf_test.h"
#include "platform/thread.h"
#include "store/store.h"
#include "sync/session/client_session.h"
#include "sync/master/pg.h"
#include "sync/server/job_run.h"
#include "sync/session/server_session.h"
#include "sync_fixture.h"

/* A queue of frames in one direction. */
typedef struct frame_q {
  uint8_t *bytes[64]; /* copies */
  size_t len[64];     /* their lengths */
  size_t n;           /* queued */
} frame_q;

/* One in-memory connection between a client and a server session. */
typedef struct pipe_fx {
  frame_q c2s, s2c;      /* frames in flight each way */
  cf__sjob *job;         /* the server session's submitted job, not yet run */
  int client_closed;     /* the client closed its side */
  int server_closed;     /* the server closed its side */
  int server_close_code; /* with this WebSocket code */
  int64_t deadline_ms;   /* the server session's deadline */
  size_t frames;         /* frames handed over, both ways */
} pipe_fx;

static void q_push(frame_q *q, const uint8_t *b, size_t n) {
  CHECK(q->n < 64);
  q->bytes[q->n] = malloc(n ? n : 1);
  CHECK(q->bytes[q->n] != NULL);
  memcpy(q->bytes[q->n], b, n);
  q->len[q->n] = n;
  q->n++;
}

/* Takes the oldest frame (caller frees). */
static uint8_t *q_pop(frame_q *q, size_t *n) {
  uint8_t *b = q->bytes[0];
  *n = q->len[0];
  memmove(q->bytes, q->bytes + 1, (q->n - 1) * sizeof q->bytes[0]);
  memmove(q->len, q->len + 1, (q->n - 1) * sizeof q->len[0]);
  q->n--;
  return b;
}

static int c_send(void *ctx, const uint8_t *b, size_t n) {
  pipe_fx *p = ctx;
  q_push(&p->c2s, b, n);
  return CF_OK;
}
static void c_close(void *ctx, int code, const char *reason) {
  (void)code;
  (void)reason;
  ((pipe_fx *)ctx)->client_closed = 1;
}
static int s_send(void *ctx, const uint8_t *b, size_t n) {
  pipe_fx *p = ctx;
  q_push(&p->s2c, b, n);
  return CF_OK;
}
static void s_close(void *ctx, int code, const char *reason) {
  (void)reason;
  pipe_fx *p = ctx;
  p->server_closed = 1;
  p->server_close_code = code;
}
static void s_deadline(void *ctx, int64_t ms) { ((pipe_fx *)ctx)->deadline_ms = ms; }
static void s_submit(void *ctx, cf__sjob *j) {
  pipe_fx *p = ctx;
  CHECK(p->job == NULL); /* one job at a time per session */
  p->job = j;
}
static const char *s_peer(void *ctx) {
  (void)ctx;
  return "memory";
}

static size_t page_rows = 5000; /* the server session's max_page */

/*
** One connection of node's session with a fresh server session, run to the
** end by handing frames across and running jobs on pg inline.  Returns
** cf__csess_finish's result.
*/
static int run_connection(cf__csess *cs, cf__pg *pg, const cf_auth *auth,
                          const char *token, pipe_fx *p) {
  memset(p, 0, sizeof *p);
  cf__sjob_limits lim = {1000, page_rows};
  cf__ssess_config cfg = {auth, lim};
  cf__ssess_io sio = {p, s_send, s_close, s_deadline, s_submit, s_peer, NULL};
  cf__csess_io cio = {p, c_send, c_close};
  cf__ssess *ss = NULL;
  CHECK_OK(cf__ssess_new(1, &cfg, &sio, &ss));
  CHECK(p->deadline_ms > 0); /* the HELLO deadline is set */
  CHECK_OK(cf__csess_start(cs));
  CHECK_OK(cf__csess_open(cs, &cio, token));
  for (int steps = 0; steps < 10000; steps++) {
    int moved = 0;
    while (p->c2s.n > 0 && !p->server_closed) {
      size_t n;
      uint8_t *b = q_pop(&p->c2s, &n);
      cf__ssess_on_message(ss, b, n);
      free(b);
      p->frames++;
      moved = 1;
    }
    if (p->job != NULL) {
      cf__sjob *j = p->job;
      p->job = NULL;
      cf__sjob_run(pg, &lim, j);
      cf__ssess_job_done(ss, j);
      moved = 1;
    }
    while (p->s2c.n > 0 && !p->client_closed) {
      size_t n;
      uint8_t *b = q_pop(&p->s2c, &n);
      cf__csess_on_message(cs, b, n);
      free(b);
      p->frames++;
      moved = 1;
    }
    if (cf__csess_has_deferred(cs)) {
      cf__csess_apply_deferred(cs);
      moved = 1;
    }
    if (p->client_closed || p->server_closed) break;
    CHECK_MSG(moved, "the sessions stalled: nothing in flight and nobody closed");
  }
  while (p->c2s.n)
    free(q_pop(&p->c2s, &(size_t){0}));
  while (p->s2c.n)
    free(q_pop(&p->s2c, &(size_t){0}));
  cf__sjob_free(p->job);
  p->job = NULL;
  cf__csess_on_close(cs, CF_OK, p->server_closed ? p->server_close_code : 1000, "closed");
  cf__ssess_free(ss);
  return cf__csess_finish(cs);
}

/* A master, the server session's connection and verifier, and a node of
** the demo org's rep with its client session. */
typedef struct mem_fx {
  sync_fx f;     /* the master */
  cf__pg *pg;    /* the server session's connection */
  cf_auth *auth; /* its token verifier */
  char *token;   /* the rep's token */
  cf_node *node; /* the replica */
  cf__csess *cs; /* its session */
} mem_fx;

static void mem_open(mem_fx *m, const char *node_name) {
  memset(m, 0, sizeof *m);
  sfx_open_db(&m->f, 1);
  char err[256];
  CHECK_MSG(cf__pg_connect(m->f.srv_url, &m->pg, err, sizeof err) == CF_OK, "connect: %s",
            err);
  CHECK_OK(cf_auth_new(&m->auth));
  CHECK_OK(cf_auth_set_hs256_secret(m->auth, SFX_SECRET, strlen(SFX_SECRET)));
  m->token = sfx_token(DEMO_REP, 3600);
  m->node = sfx_node(node_name, DEMO_ORG, DEMO_REP);
  CHECK_OK(cf__csess_new(m->node, "memory://", &m->cs));
}

static void mem_close(mem_fx *m) {
  cf__csess_free(m->cs);
  cf_node_close(m->node);
  cf_token_free(m->token);
  cf_auth_free(m->auth);
  cf__pg_close(m->pg);
  sfx_close(&m->f);
}

CF_TEST(test_sessions_in_memory_push_pull_and_master_changes_without_a_socket) {
  mem_fx m;
  mem_open(&m, "memory");
  sync_fx *f = &m.f;
  cf__pg *pg = m.pg;
  cf_auth *auth = m.auth;
  char *token = m.token;
  cf_node *node = m.node;
  cf__csess *cs = m.cs;

  /* Bootstrap: the org's rows arrive, nothing of Northwind. */
  pipe_fx p;
  cf__csess_begin_run(cs, 0);
  int rc = run_connection(cs, pg, auth, token, &p);
  CHECK_MSG(rc == CF_OK, "bootstrap: %s", cf__csess_errmsg(cs));
  CHECK(p.frames >= 4); /* HELLO, WELCOME, PULL, CHANGES at least */
  CHECK(cf__csess_count(cs, CF_SYNC_PULLED) > 0);
  char v[128];
  sfx_node_text(node, "SELECT count(*) FROM contacts", v, sizeof v);
  CHECK_STR(v, "10");

  /* A local write goes up; the master holds it with the node's version. */
  sfx_node_exec(
      node,
      "UPDATE contacts SET phone = '+1-555-0707' WHERE id = '" DEMO_CONTACT("02") "'");
  cf__csess_begin_run(cs, 0);
  rc = run_connection(cs, pg, auth, token, &p);
  CHECK_MSG(rc == CF_OK, "push: %s", cf__csess_errmsg(cs));
  CHECK_EQ(cf__csess_count(cs, CF_SYNC_APPLIED), 1);
  sfx_sql_text(f, "SELECT phone FROM contacts WHERE id = '" DEMO_CONTACT("02") "'", v,
               sizeof v);
  CHECK_STR(v, "+1-555-0707");

  /* A direct write on the master comes down. */
  sfx_sql(f, "UPDATE contacts SET company = 'Memory Lane' WHERE id = '" DEMO_CONTACT(
                 "03") "'");
  cf__csess_begin_run(cs, 0);
  rc = run_connection(cs, pg, auth, token, &p);
  CHECK_MSG(rc == CF_OK, "pull: %s", cf__csess_errmsg(cs));
  sfx_node_text(node, "SELECT company FROM contacts WHERE id = '" DEMO_CONTACT("03") "'",
                v, sizeof v);
  CHECK_STR(v, "Memory Lane");
  int64_t outbox = -1;
  CHECK_OK(cf_node_outbox_count(node, &outbox));
  CHECK_EQ(outbox, 0);

  /* A forged token is refused by the server session, and the client fails
  ** with the server's reason. */
  cf__csess_begin_run(cs, 0);
  rc = run_connection(cs, pg, auth, "not.a.token", &p);
  CHECK_EQ(rc, CF_AUTH);
  CHECK(p.server_closed);
  mem_close(&m);
}

/* An applier as cf_sync's: a thread per page (or none: start refuses). */
typedef struct thread_applier {
  cf__thread *t; /* the page's thread, NULL when none runs */
  int refuse;    /* start fails: the session applies the page itself */
  int started;   /* pages applied on a thread */
  int waited;    /* waits */
} thread_applier;

static void ta_run(void *arg) { cf__csess_apply_job_run(arg); }

static int ta_start(void *ctx, cf__csess_apply_job *job) {
  thread_applier *a = ctx;
  CHECK(a->t == NULL); /* one page at a time */
  if (a->refuse) return CF_NOMEM;
  int rc = cf__thread_start(ta_run, job, &a->t);
  if (rc == CF_OK) a->started++;
  return rc;
}

static void ta_wait(void *ctx) {
  thread_applier *a = ctx;
  CHECK(a->t != NULL);
  cf__thread_join(a->t);
  a->t = NULL;
  a->waited++;
}

/* A bootstrap of pages of 3 rows through an applier: every row, the
** master's head as the cursor, each page applied once. */
static void bootstrap_with_applier(int refuse) {
  mem_fx m;
  mem_open(&m, "applier");
  cf__csess *cs = m.cs;
  cf_node *node = m.node;
  thread_applier ta;
  memset(&ta, 0, sizeof ta);
  ta.refuse = refuse;
  cf__csess_applier a = {&ta, ta_start, ta_wait};
  cf__csess_set_applier(cs, &a);

  page_rows = 3;
  pipe_fx p;
  cf__csess_begin_run(cs, 0);
  int rc = run_connection(cs, m.pg, m.auth, m.token, &p);
  page_rows = 5000;
  CHECK_MSG(rc == CF_OK, "bootstrap: %s", cf__csess_errmsg(cs));
  CHECK(ta.t == NULL); /* the session waited for the last one */
  CHECK_EQ(ta.waited, ta.started);
  if (refuse)
    CHECK_EQ(ta.started, 0);
  else
    CHECK_MSG(ta.started >= 3, "only %d pages applied on a thread", ta.started);
  char v[128], head[128];
  sfx_node_text(node, "SELECT count(*) FROM contacts", v, sizeof v);
  CHECK_STR(v, "10");
  int64_t cursor = -1;
  CHECK_OK(cf__store_cursor(node, &cursor));
  sfx_sql_text(&m.f,
               "SELECT head_seq FROM cf_sync.org_clock WHERE org_id = '" DEMO_ORG "'",
               head, sizeof head);
  snprintf(v, sizeof v, "%lld", (long long)cursor);
  CHECK_STR(v, head);
  CHECK_EQ(cf__csess_count(cs, CF_SYNC_CURSOR), cursor);
  mem_close(&m);
}

CF_TEST(test_sessions_in_memory_pages_applied_on_a_thread_keep_order_and_cursor) {
  bootstrap_with_applier(0);
}

CF_TEST(test_sessions_in_memory_applier_that_cannot_start_applies_inline) {
  bootstrap_with_applier(1);
}
