/*
** bench/bench_latency.c: live-update latency, from a commit on the master to
** the change applied in a connected replica (issue 5, part 4).  Not a test;
** prints a table.
**
** Everything runs in this process against a private PostgreSQL 15 cluster
** it starts itself (cf_pgcluster_start; migrated and seeded, removed at the
** end): a sync server on a thread (4 workers, loopback, ephemeral port), and
** one replica of the demo org watching live (cf_sync_watch on a thread).
** Each of N single-row changes is an autocommit UPDATE by direct SQL; the
** clock starts just before the statement is sent and stops when the
** replica's sync session reports the page applied (its progress callback
** runs right after the SQLite transaction that stored the row and the
** cursor commits).  The path measured is the whole live path: commit ->
** NOTIFY -> the server's LISTEN connection -> LIVE frame -> PULL -> a
** worker's pull transaction -> CHANGES -> merge into SQLite.  The changes
** are made one after another (the next after the previous was applied).
**
** The second run repeats it with IDLE more sessions of the same org
** connected (raw WebSocket clients that did HELLO and then only read), so
** every commit fans out to IDLE + 1 sessions.  The third has the IDLE
** sessions on the other seeded org instead: connected, but woken by none of
** these commits (the server wakes only the committing org's sessions).
**
** Usage: bench_latency [N] [IDLE]   (defaults 1000 and 1000)
** CF_BENCH_REPLICA_DIR puts the replica file elsewhere (default: the
** cluster's directory), e.g. /dev/shm to see the cost of its fsyncs.
** Build it without sanitizers for meaningful figures
** (cmake -DCMAKE_BUILD_TYPE=Release).  Runs as root or as a user that can
** start PostgreSQL (docs/operations.md).
*/
#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench/benchrow.h"
#include "clientflow.h"
#include "core/buf.h"
#include "core/codec.h"
#include "core/uuid.h"
#include "core/version.h"
#include "platform/platform.h"
#include "sync/net/transport.h"

#define ORG "01936b2a-0000-7000-8000-100000000001"     /* demo org (docs/seed.md) */
#define USER "01936b2a-0001-7000-8000-000000000002"    /* its rep */
#define NW_ORG "01936b2a-0000-7000-8000-200000000001"  /* the second org */
#define NW_USER "01936b2a-0001-7000-8000-000000000004" /* its rep */
#define CONTACT "01936b2a-0003-7000-8000-100000000001" /* a seeded contact */
#define SECRET "bench-latency-secret-0123456789abcdef-0123456789"
#define MAX_IDLE 20000

static int die(const char *what, const char *detail) {
  fprintf(stderr, "bench_latency: %s: %s\n", what, detail ? detail : "");
  exit(1);
}

static int64_t now_ns(void) { return cf__monotonic_ns(); }

/* --- the watching replica ----------------------------------------------------- */

/* Applied pages, as the progress callback reports them. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int64_t applied_done = -1; /* the last "done" the pull reported */
static uint64_t applied_gen;      /* bumped when it moves */
static int64_t applied_ns;        /* monotonic time of that */

static void on_progress(void *ctx, int phase, int64_t done, int64_t total) {
  (void)ctx;
  (void)total;
  if (phase != CF_SYNC_PHASE_PULL) return;
  int64_t t = now_ns();
  pthread_mutex_lock(&mu);
  if (done != applied_done) {
    applied_done = done;
    applied_gen++;
    applied_ns = t;
    pthread_cond_broadcast(&cv);
  }
  pthread_mutex_unlock(&mu);
}

static void *watch_main(void *arg) {
  cf_sync *s = arg;
  int rc = cf_sync_watch(s);
  if (rc != CF_OK) die("cf_sync_watch", cf_sync_errmsg(s));
  return NULL;
}

static void *server_main(void *arg) {
  if (cf_server_run(arg) != CF_OK) die("cf_server_run", cf_server_errmsg(arg));
  return NULL;
}

/* --- idle sessions --------------------------------------------------------- */

typedef struct idle_set {
  cf__ws_client *cli;  /* one endpoint, many connections */
  atomic_int welcomed; /* sessions that got their first frame */
  atomic_int closed;   /* sessions that closed */
  atomic_long frames;  /* frames received in all */
  atomic_int stop;     /* the loop thread must end */
  const char *token;   /* their token */
  const char *org;     /* the org they say HELLO to */
  pthread_t thread;    /* runs the loop */
} idle_set;

typedef struct idle_conn {
  idle_set *set; /* the set */
  int got_first; /* WELCOME (or ERROR) came */
} idle_conn;

static int idle_on_open(void *ctx, cf__ws_session *s) {
  idle_set *set = ctx;
  cf_hello h;
  memset(&h, 0, sizeof h);
  h.proto_min = CF_PROTO_MIN;
  h.proto_max = CF_PROTO_MAX;
  h.token.p = set->token;
  h.token.n = strlen(set->token);
  if (cf__node_id_generate(&h.node) != CF_OK) return CF_ERROR;
  if (cf__uuid_parse(set->org, strlen(set->org), &h.org) != CF_OK) return CF_ERROR;
  h.hlc = (cf_hlc)cf__now_ms() << 16;
  h.software.p = "bench-idle";
  h.software.n = strlen(h.software.p);
  cf_buf b;
  cf__buf_init(&b, CF_CODEC_MAX_FRAME);
  int rc = cf__encode_hello(&h, &b);
  if (rc == CF_OK) rc = cf__ws_send(s, b.p, b.len);
  cf__buf_free(&b);
  idle_conn *c = calloc(1, sizeof *c);
  if (c == NULL) return CF_NOMEM;
  c->set = set;
  cf__ws_session_set_user(s, c);
  return rc;
}

static void idle_on_message(void *ctx, cf__ws_session *s, const uint8_t *m, size_t n) {
  idle_set *set = ctx;
  (void)m;
  (void)n;
  idle_conn *c = cf__ws_session_user(s);
  atomic_fetch_add(&set->frames, 1);
  if (c && !c->got_first) {
    c->got_first = 1;
    atomic_fetch_add(&set->welcomed, 1);
  }
}

static void idle_on_close(void *ctx, cf__ws_session *s, int rc, int code,
                          const char *why) {
  idle_set *set = ctx;
  (void)rc;
  (void)code;
  (void)why;
  free(cf__ws_session_user(s));
  cf__ws_session_set_user(s, NULL);
  atomic_fetch_add(&set->closed, 1);
}

static void *idle_main(void *arg) {
  idle_set *set = arg;
  while (!atomic_load(&set->stop))
    if (cf__ws_client_run_once(set->cli, 100) != CF_OK)
      die("idle loop", "run_once failed");
  return NULL;
}

static void idle_start(idle_set *set, int n, const char *url, const char *token,
                       const char *org) {
  memset(set, 0, sizeof *set);
  set->token = token;
  set->org = org;
  cf__ws_client_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.ws.ctx = set;
  cfg.ws.on_open = idle_on_open;
  cfg.ws.on_message = idle_on_message;
  cfg.ws.on_close = idle_on_close;
  cfg.connect_timeout_ms = 60000;
  char err[256];
  if (cf__ws_client_new(&cfg, &set->cli, err, sizeof err) != CF_OK)
    die("idle client", err);
  /* Connect in waves so the listen backlog is never exceeded. */
  for (int i = 0; i < n; i++) {
    cf__ws_session *s = NULL;
    if (cf__ws_client_connect(set->cli, url, &s) != CF_OK) die("idle connect", url);
    if (i % 100 == 99) {
      int64_t deadline = now_ns() + (int64_t)60e9;
      while (atomic_load(&set->welcomed) + atomic_load(&set->closed) < i + 1) {
        if (now_ns() > deadline) die("idle sessions", "no WELCOME within 60 s");
        if (cf__ws_client_run_once(set->cli, 50) != CF_OK)
          die("idle loop", "run_once failed");
      }
    }
  }
  int64_t deadline = now_ns() + (int64_t)60e9;
  while (atomic_load(&set->welcomed) + atomic_load(&set->closed) < n) {
    if (now_ns() > deadline) die("idle sessions", "no WELCOME within 60 s");
    if (cf__ws_client_run_once(set->cli, 50) != CF_OK)
      die("idle loop", "run_once failed");
  }
  if (atomic_load(&set->closed) > 0) die("idle sessions", "some were refused");
  if (pthread_create(&set->thread, NULL, idle_main, set) != 0)
    die("idle", "pthread_create");
}

static void idle_stop(idle_set *set) {
  atomic_store(&set->stop, 1);
  cf__ws_client_wake(set->cli);
  pthread_join(set->thread, NULL);
  cf__ws_client_free(set->cli);
}

/* --- measuring ------------------------------------------------------------- */

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

/* Commits n single-row changes and fills lat[i] (ns), one at a time, and
** commit_ns[i] (if not NULL) with how long the UPDATE itself took. */
static void measure(PGconn *pg, int n, int64_t *lat, int64_t *commit_ns, int tag) {
  for (int i = 0; i < n; i++) {
    char sql[256];
    snprintf(sql, sizeof sql,
             "UPDATE contacts SET company = 'bench %d/%d' WHERE id = '" CONTACT "'", tag,
             i);
    pthread_mutex_lock(&mu);
    uint64_t gen = applied_gen;
    pthread_mutex_unlock(&mu);
    int64_t t0 = now_ns();
    PGresult *r = PQexec(pg, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) die("UPDATE", PQerrorMessage(pg));
    PQclear(r);
    if (commit_ns) commit_ns[i] = now_ns() - t0;
    pthread_mutex_lock(&mu);
    while (applied_gen == gen) {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_sec += 10;
      if (pthread_cond_timedwait(&cv, &mu, &ts) != 0 && applied_gen == gen) {
        pthread_mutex_unlock(&mu);
        die("measure", "a change was not applied within 10 s");
      }
    }
    lat[i] = applied_ns - t0;
    pthread_mutex_unlock(&mu);
  }
}

/* Prints one scenario's row; OUT: its p50 and p99 in milliseconds. */
static void report_row(const char *name, int64_t *lat, int n, double *p50_out,
                       double *p99_out) {
  qsort(lat, (size_t)n, sizeof *lat, cmp_i64);
  double p50 = lat[(n - 1) / 2] / 1e6, p99 = lat[(int)((n - 1) * 0.99)] / 1e6,
         max = lat[n - 1] / 1e6;
  printf("| %-32s | %6d | %8.2f | %8.2f | %8.2f |\n", name, n, p50, p99, max);
  if (p50_out) *p50_out = p50;
  if (p99_out) *p99_out = p99;
}

/* A goal row of a latency in milliseconds against a fixed bound. */
static void latency_goal(const char *name, double ms, double bound, const char *base) {
  char fig[32], goal[32];
  snprintf(fig, sizeof fig, "%.2f ms", ms);
  snprintf(goal, sizeof goal, "<=%g ms", bound);
  bench_row(name, fig, base, fig, goal, ms <= bound);
}

static void exec_or_die(PGconn *pg, const char *sql) {
  PGresult *r = PQexec(pg, sql);
  if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
    die(sql, PQerrorMessage(pg));
  PQclear(r);
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 1000;
  int idle = argc > 2 ? atoi(argv[2]) : 1000;
  if (n < 1 || n > 1000000 || idle < 0 || idle > MAX_IDLE) {
    fprintf(stderr, "usage: bench_latency [N 1..1000000] [IDLE 0..%d]\n", MAX_IDLE);
    return 2;
  }
  /* Two descriptors per idle session in this process (both ends). */
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
  }
  cf__log_set_level(CF_LOG_WARN);

  char err[512];
  cf_pgcluster *pgc = NULL;
  if (cf_pgcluster_start(NULL, "cf_bench_latency", &pgc, err, sizeof err) != CF_OK)
    die("private cluster", err);
  char admin_url[512], srv_url[600];
  snprintf(admin_url, sizeof admin_url, "%s", cf_pgcluster_url(pgc));
  snprintf(srv_url, sizeof srv_url, "postgresql://clientflow_server%s",
           strchr(admin_url, '@'));
  cf_master *m = NULL;
  if (cf_master_open(admin_url, &m, err, sizeof err) != CF_OK) die("cf_master_open", err);
  if (cf_master_migrate_up(m) != CF_OK || cf_master_seed(m) != CF_OK)
    die("migrate/seed", cf_master_errmsg(m));
  cf_master_close(m);
  PGconn *pg = PQconnectdb(admin_url);
  if (PQstatus(pg) != CONNECTION_OK) die("connect", PQerrorMessage(pg));
  exec_or_die(
      pg, "DO $$ BEGIN "
          "IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'clientflow_server') "
          "THEN CREATE ROLE clientflow_server LOGIN; END IF; "
          "GRANT authenticator, cf_sync_server TO clientflow_server; END $$");

  cf_auth *auth = NULL;
  if (cf_auth_new(&auth) != CF_OK ||
      cf_auth_set_hs256_secret(auth, SECRET, strlen(SECRET)))
    die("auth", "cannot configure");
  cf_server *srv = NULL;
  if (cf_server_new(&srv) != CF_OK) die("cf_server_new", "");
  cf_server_set_auth(srv, auth);
  if (cf_server_set_database(srv, srv_url) != CF_OK ||
      cf_server_set_listen(srv, "127.0.0.1", 0) != CF_OK ||
      cf_server_set_workers(srv, 4) != CF_OK || cf_server_start(srv) != CF_OK)
    die("cf_server_start", cf_server_errmsg(srv));
  pthread_t srv_thread;
  if (pthread_create(&srv_thread, NULL, server_main, srv) != 0)
    die("server", "pthread_create");
  char url[128];
  snprintf(url, sizeof url, "ws://127.0.0.1:%d/sync", cf_server_port(srv));

  char *token = NULL;
  if (cf_token_mint_hs256(SECRET, strlen(SECRET), USER, "authenticated", NULL,
                          "authenticated", 86400, &token) != CF_OK)
    die("token", "");
  char path[4200];
  const char *rdir = getenv("CF_BENCH_REPLICA_DIR"); /* e.g. /dev/shm: no fsync cost */
  snprintf(path, sizeof path, "%s/bench-latency-%d.db",
           rdir ? rdir : cf_pgcluster_dir(pgc), (int)getpid());
  cf_node *node = NULL;
  if (cf_node_open(path, ORG, USER, &node) != CF_OK)
    die("cf_node_open", cf_node_errmsg(NULL));
  cf_sync *s = NULL;
  if (cf_sync_new(node, url, token, &s) != CF_OK) die("cf_sync_new", "");
  if (cf_sync_run(s) != CF_OK) die("bootstrap", cf_sync_errmsg(s));
  cf_sync_set_progress(s, on_progress, NULL);
  pthread_t watch_thread;
  if (pthread_create(&watch_thread, NULL, watch_main, s) != 0)
    die("watch", "pthread_create");

  int64_t *lat = calloc((size_t)n, sizeof *lat);
  if (lat == NULL) die("calloc", "");
  int64_t warm[20];
  measure(pg, 20, warm, NULL, 0); /* the session is up and the caches are warm */

  printf(
      "live update latency: master commit (direct SQL UPDATE) -> applied in a watching\n"
      "replica; loopback, one change at a time, server with 4 workers\n\n");
  printf("| %-32s | %6s | %8s | %8s | %8s |\n", "scenario", "n", "p50 ms", "p99 ms",
         "max ms");
  printf("|%s|%s|%s|%s|%s|\n", "----------------------------------", "--------",
         "----------", "----------", "----------");
  int64_t *commit = calloc((size_t)n, sizeof *commit);
  if (commit == NULL) die("calloc", "");
  measure(pg, n, lat, commit, 1);
  double p50_1 = 0, p99_1 = 0, p50_x = 0, p99_x = 0;
  report_row("1 watching replica", lat, n, &p50_1, &p99_1);
  report_row("  (of which the SQL commit)", commit, n, NULL, NULL);
  free(commit);
  fflush(stdout);
  latency_goal("live commit->applied p50, 1 replica", p50_1, 3, "-");
  latency_goal("live commit->applied p99, 1 replica", p99_1, 10, "-");

  if (idle > 0) {
    /* The same org: every commit wakes every idle session too. */
    idle_set set;
    idle_start(&set, idle, url, token, ORG);
    measure(pg, 20, warm, NULL, 2);
    measure(pg, n, lat, NULL, 3);
    char name[64];
    snprintf(name, sizeof name, "+ %d idle sessions, same org", idle);
    report_row(name, lat, n, &p50_x, &p99_x);
    fflush(stdout);
    long frames = atomic_load(&set.frames);
    idle_stop(&set);

    /* Another org: the commits wake none of them. */
    char *nw_token = NULL;
    if (cf_token_mint_hs256(SECRET, strlen(SECRET), NW_USER, "authenticated", NULL,
                            "authenticated", 86400, &nw_token) != CF_OK)
      die("token", "");
    idle_start(&set, idle, url, nw_token, NW_ORG);
    measure(pg, 20, warm, NULL, 4);
    measure(pg, n, lat, NULL, 5);
    double same_p99 = p99_x;
    snprintf(name, sizeof name, "+ %d idle sessions, other org", idle);
    report_row(name, lat, n, &p50_x, &p99_x);
    long nw_frames = atomic_load(&set.frames);
    idle_stop(&set);
    cf_token_free(nw_token);
    printf("\nframes received by the idle sessions: same org %ld (WELCOME + one LIVE per "
           "commit each), other org %ld (WELCOME only)\n",
           frames, nw_frames);
    char gname[96], base[64], val[32], goal[32];
    snprintf(gname, sizeof gname, "live p99, %d idle sessions same org", idle);
    snprintf(base, sizeof base, "%.2f ms with no idle", p99_1);
    latency_goal(gname, same_p99, 20, base);
    snprintf(gname, sizeof gname, "live p50, %d idle sessions other org", idle);
    snprintf(base, sizeof base, "%.2f ms with no idle", p50_1);
    snprintf(val, sizeof val, "%.2fx", p50_x / p50_1);
    snprintf(goal, sizeof goal, "<=1.2x");
    char fig[32];
    snprintf(fig, sizeof fig, "%.2f ms", p50_x);
    bench_row(gname, fig, base, val, goal, p50_x <= 1.2 * p50_1);
  }

  cf_sync_stop(s);
  pthread_join(watch_thread, NULL);
  cf_sync_free(s);
  cf_node_close(node);
  if (rdir) { /* the cluster's directory goes with it; this one does not */
    char side[4300];
    (void)remove(path);
    snprintf(side, sizeof side, "%s-wal", path);
    (void)remove(side);
    snprintf(side, sizeof side, "%s-shm", path);
    (void)remove(side);
  }
  cf_token_free(token);
  cf_server_stop(srv);
  pthread_join(srv_thread, NULL);
  cf_server_free(srv);
  PQfinish(pg);
  free(lat);
  if (cf_pgcluster_stop(pgc) != CF_OK)
    fprintf(stderr, "bench_latency: cluster not removed\n");
  return 0;
}
