/*
** tests/sync_fixture.h: shared set-up for the sync channel's integration
** tests (tests/integration/test_sync_*.c) and its benchmark (bench/bench_sync.c).
**
** A fixture is a fresh migrated database (cf_test_pg_createdb) with the demo
** seed (docs/seed.md: fixed ids below), a sync server (cf_server) running on
** its own thread on a loopback ephemeral port with an HS256 secret, logged in
** as the non-superuser role cf_test_server (granted authenticator and
** cf_sync_server, created idempotently: roles are cluster-global), and a
** superuser libpq connection for set-up and inspection.  Nodes are real
** replicas in the test's directory, synced with cf_sync on the test thread.
**
** Also here: a raw WebSocket client (sync/net/transport.h) that sends
** hand-crafted frames (core/codec.h), for the paths a well-behaved client
** never takes.
**
** Everything is `static inline`, so a test file includes only what it uses
** and no build change is needed.  Every wait has a deadline on the
** monotonic clock and polls an event loop: no sleeps.
*/
#ifndef CF_SYNC_FIXTURE_H
#define CF_SYNC_FIXTURE_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cf_test.h"
#include "clientflow.h"
#include "core/buf.h"
#include "core/codec.h"
#include "core/row.h"
#include "core/schema.h"
#include "core/uuid.h"
#include "core/value.h"
#include "core/version.h"
#include "platform/platform.h"
#include "sync/net/transport.h"

/* Seeded ids (docs/seed.md). */
#define DEMO_ORG "01936b2a-0000-7000-8000-100000000001"
#define NW_ORG "01936b2a-0000-7000-8000-200000000001"
#define DEMO_OWNER "01936b2a-0001-7000-8000-000000000001"
#define DEMO_REP "01936b2a-0001-7000-8000-000000000002"
#define NW_OWNER "01936b2a-0001-7000-8000-000000000003"
#define NW_REP "01936b2a-0001-7000-8000-000000000004"
#define DEMO_REP_MEMBERSHIP "01936b2a-0002-7000-8000-100000000002"
#define DEMO_CONTACT(n) "01936b2a-0003-7000-8000-1000000000" n /* n: "01".."10" */
#define NW_CONTACT(n) "01936b2a-0003-7000-8000-2000000000" n   /* n: "01".."04" */

/* The server's HS256 secret (at least CF_TOKEN_MIN_SECRET bytes). */
#define SFX_SECRET "sync-fixture-secret-0123456789abcdef-0123456789"

/* One running fixture. */
typedef struct sync_fx {
  char admin_url[600]; /* the test database, as the superuser */
  char srv_url[700];   /* the same, as the server's login role */
  char ws_url[128];    /* ws://127.0.0.1:PORT/sync */
  PGconn *admin;       /* superuser connection (set-up, inspection) */
  cf_server *srv;      /* the sync server */
  pthread_t thread;    /* runs cf_server_run */
  int running;         /* thread was started */
  int server_rc;       /* cf_server_run's result */
} sync_fx;

/* --- clock: a process-wide hook with a movable offset --------------------- */

static _Atomic int64_t sfx_clock_offset_ms; /* added to the wall clock */

static inline int64_t sfx_clock(void *ctx) {
  (void)ctx;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 +
         atomic_load(&sfx_clock_offset_ms);
}

/* Moves the process clock forward by ms from now on (every node and the
** server share it): writes made after the call get later versions than any
** made before it, whatever the scheduling. */
static inline void sfx_clock_advance(int64_t ms) {
  cf_set_clock_hook(sfx_clock, NULL);
  atomic_fetch_add(&sfx_clock_offset_ms, ms);
}

static inline int64_t sfx_monotonic_ms(void) { return cf__monotonic_ns() / 1000000; }

/* --- superuser SQL --------------------------------------------------------- */

static inline void sfx_sql(sync_fx *f, const char *sql) {
  PGresult *r = PQexec(f->admin, sql);
  ExecStatusType st = PQresultStatus(r);
  int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
  char err[512];
  snprintf(err, sizeof err, "%s", PQerrorMessage(f->admin));
  PQclear(r);
  CHECK_MSG(ok, "%s: %s", sql, err);
}

/* The first value of the first row of sql as text ("" if NULL or no row). */
static inline void sfx_sql_text(sync_fx *f, const char *sql, char *out, size_t cap) {
  PGresult *r = PQexec(f->admin, sql);
  int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
  if (ok) snprintf(out, cap, "%s", PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "");
  char err[512];
  snprintf(err, sizeof err, "%s", PQerrorMessage(f->admin));
  PQclear(r);
  CHECK_MSG(ok, "%s: %s", sql, err);
}

static inline long long sfx_sql_num(sync_fx *f, const char *sql) {
  char v[64];
  sfx_sql_text(f, sql, v, sizeof v);
  return v[0] ? strtoll(v, NULL, 10) : -1;
}

/* --- the server ------------------------------------------------------------ */

static const char sfx_role_sql[] =
    "DO $$ BEGIN "
    "  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cf_test_server') THEN "
    "    BEGIN CREATE ROLE cf_test_server LOGIN; "
    "    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END; "
    "  END IF; "
    "  BEGIN GRANT authenticator, cf_sync_server TO cf_test_server; "
    "  EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END; "
    "END $$";

static inline void *sfx_server_main(void *arg) {
  sync_fx *f = arg;
  f->server_rc = cf_server_run(f->srv);
  return NULL;
}

/* Makes (without starting it) a server for f's database with `workers`
** worker threads, in f->srv: a test may configure it further, then
** sfx_server_go. */
static inline void sfx_server_make(sync_fx *f, int workers) {
  cf_auth *auth = NULL;
  CHECK_OK(cf_auth_new(&auth));
  int rc = cf_auth_set_hs256_secret(auth, SFX_SECRET, strlen(SFX_SECRET));
  if (rc != CF_OK) cf_auth_free(auth);
  CHECK_OK(rc);
  CHECK_OK(cf_server_new(&f->srv));
  cf_server_set_auth(f->srv, auth);
  CHECK_OK(cf_server_set_database(f->srv, f->srv_url));
  CHECK_OK(cf_server_set_listen(f->srv, "127.0.0.1", 0));
  CHECK_OK(cf_server_set_workers(f->srv, workers));
}

/* Starts f->srv (sfx_server_make) on a thread of its own. */
static inline void sfx_server_go(sync_fx *f) {
  int rc = cf_server_start(f->srv);
  CHECK_MSG(rc == CF_OK, "cf_server_start: %s: %s", cf_strerror(rc),
            cf_server_errmsg(f->srv));
  snprintf(f->ws_url, sizeof f->ws_url, "ws://127.0.0.1:%d/sync", cf_server_port(f->srv));
  CHECK(pthread_create(&f->thread, NULL, sfx_server_main, f) == 0);
  f->running = 1;
}

/* Starts a server for f's database with `workers` worker threads. */
static inline void sfx_server_start(sync_fx *f, int workers) {
  sfx_server_make(f, workers);
  sfx_server_go(f);
}

static inline void sfx_server_stop(sync_fx *f) {
  if (f->running) {
    cf_server_stop(f->srv);
    pthread_join(f->thread, NULL);
    f->running = 0;
  }
  cf_server_free(f->srv);
  f->srv = NULL;
}

/*
** Opens a fixture: a fresh database, the demo seed if `seed`, the server
** role, a running server.  Close it with sfx_close at the end of the test.
** A failed CHECK skips that (the runner longjmps out of the test): ctest
** runs every test in its own process, which ends right after the failure,
** and the runner drops the test's database itself.
*/
static inline void sfx_open_db(sync_fx *f, int seed) {
  memset(f, 0, sizeof *f);
  atomic_store(&sfx_clock_offset_ms, 0);
  cf_set_clock_hook(NULL, NULL);
  snprintf(f->admin_url, sizeof f->admin_url, "%s", cf_test_pg_createdb());
  snprintf(f->srv_url, sizeof f->srv_url, "%s user=cf_test_server", f->admin_url);
  f->admin = PQconnectdb(f->admin_url);
  CHECK_MSG(PQstatus(f->admin) == CONNECTION_OK, "connect: %s", PQerrorMessage(f->admin));
  sfx_sql(f, sfx_role_sql);
  if (seed) {
    cf_master *m = NULL;
    char err[256];
    int rc = cf_master_open(f->admin_url, &m, err, sizeof err);
    CHECK_MSG(rc == CF_OK, "cf_master_open: %s", err);
    rc = cf_master_seed(m);
    char why[512];
    snprintf(why, sizeof why, "%s", cf_master_errmsg(m));
    cf_master_close(m);
    CHECK_MSG(rc == CF_OK, "seed: %s", why);
  }
}

/* sfx_open_db, then a sync server with 2 workers on a loopback port. */
static inline void sfx_open(sync_fx *f, int seed) {
  sfx_open_db(f, seed);
  sfx_server_start(f, 2);
}

static inline void sfx_close(sync_fx *f) {
  sfx_server_stop(f);
  PQfinish(f->admin);
  f->admin = NULL;
  cf_set_clock_hook(NULL, NULL);
  atomic_store(&sfx_clock_offset_ms, 0);
}

/* --- tokens ------------------------------------------------------------------ */

/* A token for user (audience "authenticated"), ttl seconds; free with
** cf_token_free. */
static inline char *sfx_token(const char *user, int64_t ttl) {
  char *t = NULL;
  CHECK_OK(cf_token_mint_hs256(SFX_SECRET, strlen(SFX_SECRET), user, "authenticated",
                               NULL, "authenticated", ttl, &t));
  return t;
}

/* --- nodes ----------------------------------------------------------------- */

/* A replica file <tmpdir>/<name>.db for org and user. */
static inline cf_node *sfx_node(const char *name, const char *org, const char *user) {
  char path[4200];
  snprintf(path, sizeof path, "%s/%s.db", cf_test_tmpdir(), name);
  cf_node *n = NULL;
  int rc = cf_node_open(path, org, user, &n);
  CHECK_MSG(rc == CF_OK, "cf_node_open %s: %s", path, cf_node_errmsg(NULL));
  return n;
}

/* The result of one cf_sync_run. */
typedef struct sfx_sync_result {
  int rc;                             /* cf_sync_run's result */
  int64_t count[CF_SYNC_COUNTER_MAX]; /* its counters */
  char errmsg[512];                   /* cf_sync_errmsg */
} sfx_sync_result;

/* One full sync of node with the fixture's server and token. */
static inline sfx_sync_result sfx_sync_with(sync_fx *f, cf_node *node,
                                            const char *token) {
  sfx_sync_result r;
  memset(&r, 0, sizeof r);
  cf_sync *s = NULL;
  CHECK_OK(cf_sync_new(node, f->ws_url, token, &s));
  r.rc = cf_sync_run(s);
  for (int i = 0; i < CF_SYNC_COUNTER_MAX; i++)
    r.count[i] = cf_sync_count(s, (cf_sync_counter)i);
  snprintf(r.errmsg, sizeof r.errmsg, "%s", cf_sync_errmsg(s));
  cf_sync_free(s);
  return r;
}

/* One full sync with a fresh one-hour token for the node's own user; the
** sync must succeed. */
static inline sfx_sync_result sfx_sync_ok(sync_fx *f, cf_node *node) {
  char *t = sfx_token(cf_node_user_id(node), 3600);
  sfx_sync_result r = sfx_sync_with(f, node, t);
  cf_token_free(t);
  CHECK_MSG(r.rc == CF_OK, "sync of node %s: %s: %s", cf_node_id(node), cf_strerror(r.rc),
            r.errmsg);
  return r;
}

static inline void sfx_node_exec(cf_node *node, const char *sql) {
  int rc = cf_node_exec(node, sql);
  CHECK_MSG(rc == CF_OK, "%s: %s: %s", sql, cf_strerror(rc), cf_node_errmsg(node));
}

/* The first column of the first row of sql on node, as text ("" if NULL or
** no row). */
static inline void sfx_node_text(cf_node *node, const char *sql, char *out, size_t cap) {
  cf_stmt *st = NULL;
  int rc = cf_node_prepare(node, sql, &st);
  CHECK_MSG(rc == CF_OK, "%s: %s", sql, cf_node_errmsg(node));
  rc = cf_stmt_step(st);
  if (rc == CF_OK) {
    const char *v = cf_stmt_column_text(st, 0);
    snprintf(out, cap, "%s", v ? v : "");
  } else if (rc == CF_DONE) {
    out[0] = '\0';
  }
  cf_stmt_finalize(st);
  CHECK_MSG(rc == CF_OK || rc == CF_DONE, "%s: %s", sql, cf_strerror(rc));
}

static inline long long sfx_node_num(cf_node *node, const char *sql) {
  char v[64];
  sfx_node_text(node, sql, v, sizeof v);
  return v[0] ? strtoll(v, NULL, 10) : -1;
}

/* Conflicts of a node, copied out of cf_node_conflicts_list. */
#define SFX_MAX_CONFLICTS 16
typedef struct sfx_conflict {
  int64_t id;        /* conflict id */
  int code;          /* CF_* reason */
  char table[32];    /* table name */
  char row_id[40];   /* the row */
  char columns[256]; /* changed columns */
  char message[512]; /* the master's reason */
} sfx_conflict;
typedef struct sfx_conflicts {
  sfx_conflict c[SFX_MAX_CONFLICTS]; /* oldest first */
  int n;                             /* how many */
} sfx_conflicts;

static inline int sfx_conflict_cb(void *ctx, const cf_conflict_info *ci) {
  sfx_conflicts *l = ctx;
  if (l->n == SFX_MAX_CONFLICTS) return 1;
  sfx_conflict *c = &l->c[l->n++];
  c->id = ci->id;
  c->code = ci->code;
  snprintf(c->table, sizeof c->table, "%s", ci->table ? ci->table : "");
  snprintf(c->row_id, sizeof c->row_id, "%s", ci->row_id ? ci->row_id : "");
  snprintf(c->columns, sizeof c->columns, "%s", ci->columns ? ci->columns : "");
  snprintf(c->message, sizeof c->message, "%s", ci->message ? ci->message : "");
  return 0;
}

static inline sfx_conflicts sfx_node_conflicts(cf_node *node) {
  sfx_conflicts l;
  memset(&l, 0, sizeof l);
  CHECK_OK(cf_node_conflicts_list(node, SFX_MAX_CONFLICTS, sfx_conflict_cb, &l));
  return l;
}

static inline int64_t sfx_outbox(cf_node *node) {
  int64_t n = -1;
  CHECK_OK(cf_node_outbox_count(node, &n));
  return n;
}

/* --- a raw WebSocket client ------------------------------------------------ */

#define RAW_MAX_MSGS 32

/* One raw connection to the server and what it received. */
typedef struct raw_client {
  cf__ws_client *cli;         /* the endpoint */
  cf__ws_session *s;          /* the session, NULL once closed */
  int open;                   /* on_open was called */
  int closed;                 /* on_close was called */
  int close_rc;               /* its rc */
  int close_code;             /* its close code */
  uint8_t *msg[RAW_MAX_MSGS]; /* received messages (malloc'd copies) */
  size_t len[RAW_MAX_MSGS];   /* their lengths */
  int nmsg;                   /* how many */
  int next;                   /* the next one raw_expect_frame reads */
  cf_nodeid node;             /* the node id its HELLO names (random) */
} raw_client;

static inline int raw_on_open(void *ctx, cf__ws_session *s) {
  raw_client *c = ctx;
  c->s = s;
  c->open = 1;
  return CF_OK;
}

static inline void raw_on_message(void *ctx, cf__ws_session *s, const uint8_t *m,
                                  size_t n) {
  raw_client *c = ctx;
  (void)s;
  if (c->nmsg == RAW_MAX_MSGS) return;
  uint8_t *copy = malloc(n ? n : 1);
  if (copy == NULL) return;
  memcpy(copy, m, n);
  c->msg[c->nmsg] = copy;
  c->len[c->nmsg] = n;
  c->nmsg++;
}

static inline void raw_on_close(void *ctx, cf__ws_session *s, int rc, int code,
                                const char *why) {
  raw_client *c = ctx;
  (void)s;
  (void)why;
  c->s = NULL;
  c->closed = 1;
  c->close_rc = rc;
  c->close_code = code;
}

/* Runs c's loop until cond(c) holds or 15 s pass; returns cond(c). */
static inline int raw_run_until(raw_client *c, int (*cond)(const raw_client *)) {
  int64_t deadline = sfx_monotonic_ms() + 15000;
  while (!cond(c) && sfx_monotonic_ms() < deadline)
    CHECK_OK(cf__ws_client_run_once(c->cli, 50));
  return cond(c);
}

static inline int raw_is_open_or_closed(const raw_client *c) {
  return c->open || c->closed;
}
static inline int raw_is_closed(const raw_client *c) { return c->closed; }

/* Connects to the fixture's server; the session must open.  max_message:
** the client's own message limit (0: 16 MiB, so that oversized frames can
** be sent). */
static inline void raw_connect(raw_client *c, const sync_fx *f, size_t max_message) {
  memset(c, 0, sizeof *c);
  cf__ws_client_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.ws.ctx = c;
  cfg.ws.on_open = raw_on_open;
  cfg.ws.on_message = raw_on_message;
  cfg.ws.on_close = raw_on_close;
  cfg.limits.max_message = max_message ? max_message : (size_t)16 << 20;
  char err[256];
  CHECK_OK(cf__node_id_generate(&c->node));
  int rc = cf__ws_client_new(&cfg, &c->cli, err, sizeof err);
  CHECK_MSG(rc == CF_OK, "cf__ws_client_new: %s", err);
  cf__ws_session *s = NULL;
  CHECK_OK(cf__ws_client_connect(c->cli, f->ws_url, &s));
  CHECK_MSG(raw_run_until(c, raw_is_open_or_closed) && c->open,
            "raw client did not connect");
}

static inline void raw_free(raw_client *c) {
  cf__ws_client_free(c->cli);
  c->cli = NULL;
  for (int i = 0; i < c->nmsg; i++)
    free(c->msg[i]);
  c->nmsg = 0;
}

static inline void raw_send(raw_client *c, const void *bytes, size_t n) {
  CHECK(c->s != NULL);
  CHECK_OK(cf__ws_send(c->s, bytes, n));
}

/* Waits for the next unread frame other than LIVE and FEED (which the
** server may send at any time between others: a head moved) and decodes it
** into *out (borrowing c's copy; free with cf__frame_free).  Fails the test
** if none comes. */
static inline void raw_expect_frame(raw_client *c, cf_frame *out) {
  for (;;) {
    int64_t deadline = sfx_monotonic_ms() + 15000;
    while (c->nmsg <= c->next && !c->closed && sfx_monotonic_ms() < deadline)
      CHECK_OK(cf__ws_client_run_once(c->cli, 50));
    CHECK_MSG(c->nmsg > c->next, "raw client: no message %d (closed=%d code=%d)", c->next,
              c->closed, c->close_code);
    int i = c->next++;
    char err[256];
    int rc = cf__frame_decode(c->msg[i], c->len[i], NULL, out, err, sizeof err);
    CHECK_MSG(rc == CF_OK, "raw client: message %d does not decode: %s", i, err);
    if (out->type != CF_FRAME_LIVE && out->type != CF_FRAME_FEED) return;
    cf__frame_free(out);
  }
}

/* Sends HELLO for org as user (NULL: all-zero, take the token's subject),
** naming c->node as the node. */
static inline void raw_hello(raw_client *c, const char *token, const char *org,
                             const char *user) {
  cf_hello h;
  cf__hello_init(&h, token, CF_PROTO_MAX, "sync-fixture");
  h.node = c->node;
  CHECK_OK(cf__uuid_parse(org, strlen(org), &h.org));
  if (user) CHECK_OK(cf__uuid_parse(user, strlen(user), &h.user));
  h.hlc = (cf_hlc)cf__now_ms() << 16;
  cf_buf b;
  cf__buf_init(&b, CF_CODEC_MAX_FRAME);
  CHECK_OK(cf__encode_hello(&h, &b));
  raw_send(c, b.p, b.len);
  cf__buf_free(&b);
}

/* Connects and says HELLO; the next frame must be WELCOME. */
static inline void raw_connect_welcomed(raw_client *c, const sync_fx *f,
                                        const char *token, const char *org) {
  raw_connect(c, f, 0);
  raw_hello(c, token, org, NULL);
  cf_frame w;
  raw_expect_frame(c, &w);
  CHECK_MSG(w.type == CF_FRAME_WELCOME, "expected WELCOME, got %s (%.*s)",
            cf__frame_type_name(w.type),
            w.type == CF_FRAME_ERROR ? (int)w.u.error.message.n : 0,
            w.type == CF_FRAME_ERROR ? w.u.error.message.p : "");
  cf__frame_free(&w);
}

/* Expects the next frame to be ERROR with wire code `code`, then the
** session to close. */
static inline void raw_expect_error_and_close(raw_client *c, unsigned code) {
  cf_frame e;
  raw_expect_frame(c, &e);
  CHECK_MSG(e.type == CF_FRAME_ERROR, "expected ERROR, got %s",
            cf__frame_type_name(e.type));
  CHECK_MSG(e.u.error.code == code, "ERROR %s (%.*s), expected %s",
            cf__wire_error_name(e.u.error.code), (int)e.u.error.message.n,
            e.u.error.message.p, cf__wire_error_name(code));
  cf__frame_free(&e);
  CHECK_MSG(raw_run_until(c, raw_is_closed), "the server did not close the session");
}

/* --- hand-made PUSH frames ------------------------------------------------- */

static inline void sfx_set_text(cf_change *c, const char *col, const char *text,
                                const cf_ver *ver) {
  int i = cf__schema_column_index(c->table, col);
  CHECK(i >= 0);
  cf_value v = text ? cf__value_text(text, strlen(text)) : cf__value_null();
  CHECK_OK(cf__row_set(c, (unsigned)i, &v, ver));
}

/* A change of contact (org, id) setting first_name (and, for an insert,
** every other cell and deleted = 0) with a fresh version of node `node`. */
static inline void sfx_contact_change(cf_change *c, const cf_nodeid *node,
                                      const char *org, const char *id, const char *first,
                                      int insert) {
  cf__row_init(c, cf__schema_table_by_name("contacts"));
  sfx_set_text(c, "org_id", org, NULL);
  sfx_set_text(c, "id", id, NULL);
  cf_ver v;
  cf__ver_make(CF_HLC_MAKE(cf__now_ms(), 0), node, &v);
  sfx_set_text(c, "first_name", first, &v);
  if (insert) {
    sfx_set_text(c, "last_name", NULL, &v);
    sfx_set_text(c, "email", NULL, &v);
    sfx_set_text(c, "phone", NULL, &v);
    sfx_set_text(c, "company", NULL, &v);
    sfx_set_text(c, "tags", "[]", &v);
    sfx_set_text(c, "metadata", "{}", &v);
    sfx_set_text(c, "created_at", "2026-11-28T16:00:00.000000Z", &v);
    sfx_set_text(c, "updated_at", "2026-11-28T16:00:00.000000Z", &v);
    cf__row_set_deleted(c, 0, &v);
  }
}

/* Sends PUSH(batch, ch[0..n)) on a raw session (does not read the answer). */
static inline void sfx_raw_send_push(raw_client *c, uint64_t batch, cf_push_change *ch,
                                     size_t n) {
  cf_push p;
  memset(&p, 0, sizeof p);
  p.batch_seq = batch;
  p.changes = ch;
  p.nchanges = n;
  cf_buf b;
  cf__buf_init(&b, CF_CODEC_MAX_FRAME);
  CHECK_OK(cf__encode_push(&p, &b));
  raw_send(c, b.p, b.len);
  cf__buf_free(&b);
}

/* Sends PUSH(batch, changes) on a welcomed raw session and decodes the
** answer, which must be its PUSH_RESULT, into *out. */
static inline void sfx_raw_push(raw_client *c, uint64_t batch, cf_push_change *ch,
                                size_t n, cf_frame *out) {
  sfx_raw_send_push(c, batch, ch, n);
  raw_expect_frame(c, out);
  CHECK_MSG(out->type == CF_FRAME_PUSH_RESULT, "expected PUSH_RESULT, got %s (%.*s)",
            cf__frame_type_name(out->type),
            out->type == CF_FRAME_ERROR ? (int)out->u.error.message.n : 0,
            out->type == CF_FRAME_ERROR ? out->u.error.message.p : "");
  CHECK_EQ(out->u.push_result.batch_seq, batch);
  CHECK_EQ(out->u.push_result.nresults, n);
}

#endif /* CF_SYNC_FIXTURE_H */
