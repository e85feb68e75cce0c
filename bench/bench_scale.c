/*
** bench/bench_scale.c: the sync server at scale -- live-update latency with
** and without thousands of idle sessions, the server's own memory and CPU
** per idle session, and the slowest of many watching replicas (issues 13
** and 14).  Not a test; prints a table and one BENCHROW line per goal.
**
** Two processes.  This program starts a private PostgreSQL 15 cluster
** (migrated and seeded, removed at the end), then forks the SERVER: a
** `cf_server` with 4 sync workers on an ephemeral loopback port, alone in
** its process, so that /proc/<pid>/status (VmRSS) and /proc/<pid>/stat
** (utime + stime) measure the server and nothing else.  The parent is the
** LOAD GENERATOR: idle sessions (raw WebSocket clients that say HELLO and
** then only read, on one event-loop thread), watching replicas
** (cf_sync_watch, one thread each) and the writer (libpq, direct SQL).
**
** Scenarios, in order, each against the same server:
**
**   latency   one watching replica; N single-row UPDATEs one after another
**             (the next after the previous was applied): commit -> NOTIFY ->
**             server -> replica applied (its progress callback, after the
**             SQLite commit of the rows and the cursor)
**   same      the same with IDLE_SAME idle sessions of the same org
**   other     the same with IDLE_OTHER idle sessions of the other seeded org
**             (none of them is woken by these commits)
**   idle      server CPU over an idle interval and VmRSS growth divided by
**             the sessions, measured with each idle set connected
**   watchers  W watching replicas of one org and one writer committing
**             RATE changes/s: for every commit, the time until the SLOWEST
**             replica applied it, and until the slowest replica's thread
**             READ the frame carrying it (before decoding and applying);
**             once with 1 watcher (the baseline), once with W
**
** Where the time goes.  While the latency and watcher scenarios run, the
** server traces its shared pulls (SIGUSR1 turns its DEBUG log on into a file,
** SIGUSR2 off; one line per pull, sync/server/server.c trace_feed) with the
** monotonic clock, which this process shares; together with the commit's
** time and the replicas' read and applied times each commit's latency is
** cut into hops (print_breakdown), printed after the table with the CPU
** both processes used meanwhile.
**
** The load generator's own cost.  W real replicas on this machine apply
** every change W times (W SQLite transactions, each with its fsync, on one
** disk) on the same two cores as the server and Postgres: about one core at
** 200 x 50/s, so their 200 threads, runnable at once after each round, took
** the CPUs from the server's loop and workers, and their fsyncs queued on
** one disk.  Real devices apply each on its own.  So by default
** (BENCH_SCALE_WATCHERS=light) the W-watcher run is ONE real replica (the
** first, on disk, fsync and all) and W-1 LIGHT watchers (see "light
** watchers" below): protocol-2 sessions that the server cannot tell from
** replicas, read on one thread, applying nothing.  "Read" is then the
** latest of all W; "applied" the latest of the real replica's apply and
** the slowest read plus the real replica's own read -> apply of the same
** commit (a device applies on its own CPU as fast as the real one).
** BENCH_SCALE_WATCHERS=replicas makes all W real replicas (the W-1 on tmpfs,
** /dev/shm or CF_BENCH_WATCHER_DIR, their threads SCHED_IDLE while they run
** so they never take a CPU from the server: pessimistic for devices, and
** starved on a machine busy with other work); =normal the same without
** SCHED_IDLE (the figures of the previous round).  bench/README.md gives
** figures of each.
**
** Usage: bench_scale [N [IDLE_SAME [IDLE_OTHER [W [RATE [SECONDS]]]]]]
**        defaults 500 1000 10000 200 50 6.  0 skips a scenario.
**        CF_BENCH_IDLE_WINDOW_S=40 measures idle CPU over 40 s instead of 10,
**        long enough to include every idle session's first keepalive ping.
** The descriptor limit is raised to its hard limit here (both ends of every
** idle session live on this machine); the product's defaults are not
** touched.  Build it without sanitizers (cmake -DCMAKE_BUILD_TYPE=Release).
** Runs as root or as a user that can start PostgreSQL (docs/operations.md).
*/
#define _GNU_SOURCE /* SCHED_IDLE, syscall */
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/benchrow.h"
#include "clientflow.h"
#include "core/buf.h"
#include "core/codec.h"
#include "core/uuid.h"
#include "platform/platform.h"
#include "sync/net/transport.h"
#include "sync/session/client_session.h"

#define ORG "01936b2a-0000-7000-8000-100000000001"     /* demo org (docs/seed.md) */
#define USER "01936b2a-0001-7000-8000-000000000002"    /* its rep */
#define OWNER "01936b2a-0001-7000-8000-000000000001"   /* its owner */
#define NW_ORG "01936b2a-0000-7000-8000-200000000001"  /* the second org */
#define NW_USER "01936b2a-0001-7000-8000-000000000004" /* its rep */
#define CONTACT "01936b2a-0003-7000-8000-100000000001" /* a seeded contact */
#define SECRET "bench-scale-secret-0123456789abcdef-0123456789abc"
#define MAX_IDLE 15000
#define MAX_WATCHERS 1000
#define IDLE_WINDOW_S 10 /* seconds over which idle CPU is measured */

/* The idle CPU window: IDLE_WINDOW_S, or CF_BENCH_IDLE_WINDOW_S seconds (40
** covers every idle session's first keepalive ping, due 30 s after it
** connected: docs/transport.md, "Pings"). */
static int idle_window_s(void) {
  const char *env = getenv("CF_BENCH_IDLE_WINDOW_S");
  int s = env != NULL ? atoi(env) : 0;
  return s > 0 && s <= 600 ? s : IDLE_WINDOW_S;
}

static int die(const char *what, const char *detail) {
  fprintf(stderr, "bench_scale: %s: %s\n", what, detail ? detail : "");
  exit(1);
}

static int64_t now_ns(void) { return cf__monotonic_ns(); }

static void sleep_ns(int64_t ns) {
  if (ns <= 0) return;
  struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* --- the server process -------------------------------------------------------- */

static cf_server *child_srv;
static void on_term(int sig) {
  (void)sig;
  if (child_srv) cf_server_stop(child_srv);
}

/* The server's trace of its shared pulls (one DEBUG line each, sync/server/
** server.c trace_feed) goes to this file while SIGUSR1 turned it on. */
static char trace_path[4200];
static void on_trace(int sig) {
  if (sig == SIGUSR1) {
    int fd = open(trace_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
      (void)dup2(fd, STDERR_FILENO);
      close(fd);
    }
    cf__log_set_level(CF_LOG_DEBUG);
  } else {
    cf__log_set_level(CF_LOG_WARN);
  }
}

/* Forks the server; returns its pid and writes its port. */
static pid_t spawn_server(const char *url, int *port) {
  int fds[2];
  if (pipe(fds) != 0) die("pipe", strerror(errno));
  pid_t pid = fork();
  if (pid < 0) die("fork", strerror(errno));
  if (pid > 0) {
    close(fds[1]);
    if (read(fds[0], port, sizeof *port) != (ssize_t)sizeof *port)
      die("server", "did not start");
    close(fds[0]);
    return pid;
  }
  close(fds[0]);
  cf_auth *auth = NULL;
  if (cf_auth_new(&auth) != CF_OK ||
      cf_auth_set_hs256_secret(auth, SECRET, strlen(SECRET)) != CF_OK)
    die("auth", "cannot configure");
  if (cf_server_new(&child_srv) != CF_OK) die("cf_server_new", "");
  cf_server_set_auth(child_srv, auth);
  if (cf_server_set_database(child_srv, url) != CF_OK ||
      cf_server_set_listen(child_srv, "127.0.0.1", 0) != CF_OK ||
      cf_server_set_workers(child_srv, 4) != CF_OK || cf_server_start(child_srv) != CF_OK)
    die("cf_server_start", cf_server_errmsg(child_srv));
  signal(SIGTERM, on_term);
  signal(SIGUSR1, on_trace);
  signal(SIGUSR2, on_trace);
  int p = cf_server_port(child_srv);
  if (write(fds[1], &p, sizeof p) != (ssize_t)sizeof p) _exit(1);
  close(fds[1]);
  int rc = cf_server_run(child_srv);
  cf_server_free(child_srv);
  _exit(rc == CF_OK ? 0 : 1);
}

/* The server's resident memory in KiB (VmRSS). */
static long server_rss_kb(pid_t pid) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  FILE *f = fopen(path, "r");
  if (f == NULL) die("open", path);
  long kb = -1;
  while (fgets(line, sizeof line, f))
    if (strncmp(line, "VmRSS:", 6) == 0) kb = strtol(line + 6, NULL, 10);
  fclose(f);
  return kb;
}

/* The server's CPU time so far (user + system), in clock ticks. */
static long long server_cpu_ticks(pid_t pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (f == NULL) die("open", path);
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
  if (p == NULL) die("parse", path);
  /* after ") ": state(3) ppid pgrp session tty tpgid flags minflt cminflt
  ** majflt cmajflt utime(14) stime(15) */
  long long ut = 0, st = 0;
  if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lld %lld", &ut, &st) !=
      2)
    die("parse", path);
  return ut + st;
}

/* Percent of one core the server used over the next `secs` seconds. */
static double server_cpu_pct(pid_t pid, int secs) {
  long long t0 = server_cpu_ticks(pid);
  int64_t w0 = now_ns();
  sleep_ns((int64_t)secs * 1000000000);
  long long t1 = server_cpu_ticks(pid);
  double wall = (double)(now_ns() - w0) / 1e9;
  return 100.0 * (double)(t1 - t0) / (double)sysconf(_SC_CLK_TCK) / wall;
}

/* --- watching replicas ------------------------------------------------------------ */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

/* When a watcher's cursor moved, and to where. */
typedef struct wevent {
  uint64_t cursor; /* after the apply */
  int64_t recv_ns; /* monotonic time the frame that moved it was read */
  int64_t ns;      /* ...and it was applied (rows and cursor committed) */
} wevent;

typedef struct watcher {
  cf_node *node;     /* its replica */
  cf_sync *sync;     /* its session */
  pthread_t thread;  /* runs cf_sync_watch */
  uint64_t cursor;   /* latest cursor (mu) */
  int64_t recv_ns;   /* when its thread read the frame it handles now */
  _Atomic pid_t tid; /* its thread's id (Linux), 0 until it runs */
  wevent *ev;        /* events (mu) */
  size_t nev, cap;   /* their count and room */
  char path[4200];   /* the replica's file */
} watcher;

static void on_progress(void *ctx, int phase, int64_t done, int64_t total) {
  watcher *w = ctx;
  (void)done;
  (void)total;
  if (phase != CF_SYNC_PHASE_PULL) return;
  int64_t t = now_ns();
  uint64_t cur = (uint64_t)cf_sync_count(w->sync, CF_SYNC_CURSOR);
  pthread_mutex_lock(&mu);
  if (cur > w->cursor) {
    w->cursor = cur;
    if (w->nev == w->cap) {
      size_t cap = w->cap ? w->cap * 2 : 1024;
      wevent *grown = realloc(w->ev, cap * sizeof *grown);
      if (grown == NULL) die("realloc", "");
      w->ev = grown;
      w->cap = cap;
    }
    w->ev[w->nev].cursor = cur;
    w->ev[w->nev].recv_ns = w->recv_ns ? w->recv_ns : t;
    w->ev[w->nev].ns = t;
    w->nev++;
    pthread_cond_broadcast(&cv);
  }
  pthread_mutex_unlock(&mu);
}

/*
** "Received": the moment a watcher's thread hands a frame to its session,
** before the session decodes and applies it.  The bench is linked with
** -Wl,--wrap=cf__csess_on_message (cmake/tests.cmake), so the library's
** call from the transport's message callback (sync/client/client.c) comes
** here first; the watcher is found through its thread.
*/
static _Thread_local watcher *tl_watcher;
/* BENCH_SCALE_WATCHERS: how the W watchers stand in for devices. */
enum { WATCH_LIGHT, WATCH_REPLICAS, WATCH_NORMAL };
static int watchers_mode;
void __real_cf__csess_on_message(cf__csess *s, const uint8_t *bytes, size_t n);
void __wrap_cf__csess_on_message(cf__csess *s, const uint8_t *bytes, size_t n);
void __wrap_cf__csess_on_message(cf__csess *s, const uint8_t *bytes, size_t n) {
  if (tl_watcher != NULL) tl_watcher->recv_ns = now_ns();
  __real_cf__csess_on_message(s, bytes, n);
}

static void *watch_main(void *arg) {
  watcher *w = arg;
  tl_watcher = w;
  w->tid = (pid_t)syscall(SYS_gettid);
  int rc = cf_sync_watch(w->sync);
  if (rc != CF_OK) die("cf_sync_watch", cf_sync_errmsg(w->sync));
  return NULL;
}

static void watcher_start(watcher *w, const char *dir, int k, const char *url,
                          const char *token) {
  memset(w, 0, sizeof *w);
  snprintf(w->path, sizeof w->path, "%s/bench-scale-%d-%d.db", dir, (int)getpid(), k);
  if (cf_node_open(w->path, ORG, USER, &w->node) != CF_OK)
    die("cf_node_open", cf_node_errmsg(NULL));
  if (cf_sync_new(w->node, url, token, &w->sync) != CF_OK) die("cf_sync_new", "");
  if (cf_sync_run(w->sync) != CF_OK) die("bootstrap", cf_sync_errmsg(w->sync));
  w->cursor = (uint64_t)cf_sync_count(w->sync, CF_SYNC_CURSOR);
  cf_sync_set_progress(w->sync, on_progress, w);
  if (pthread_create(&w->thread, NULL, watch_main, w) != 0)
    die("watch", "pthread_create");
}

static void watcher_stop(watcher *w) {
  cf_sync_stop(w->sync);
  pthread_join(w->thread, NULL);
  cf_sync_free(w->sync);
  cf_node_close(w->node);
  free(w->ev);
  (void)remove(w->path);
  char side[4300];
  snprintf(side, sizeof side, "%s-wal", w->path);
  (void)remove(side);
  snprintf(side, sizeof side, "%s-shm", w->path);
  (void)remove(side);
}

/*
** Puts the watchers' threads in SCHED_IDLE (on) or back in SCHED_OTHER.  On
** while many watchers run: they stand in for devices, whose CPUs are not
** the server's, so they must not take a CPU from the server, Postgres or
** the writer (see the header).  Waits for each thread to have started.
*/
static void watchers_sched(watcher *ws, int nw, int on) {
  if (watchers_mode != WATCH_REPLICAS) return;
  for (int k = 0; k < nw; k++) {
    while (atomic_load(&ws[k].tid) == 0)
      sleep_ns(1000000);
    struct sched_param sp = {0};
    if (sched_setscheduler(atomic_load(&ws[k].tid), on ? SCHED_IDLE : SCHED_OTHER, &sp) !=
        0)
      die("sched_setscheduler", strerror(errno));
  }
}

/* Waits until every watcher's cursor reached seq. */
static void wait_all(watcher *ws, int nw, uint64_t seq) {
  int64_t deadline = now_ns() + (int64_t)30e9;
  pthread_mutex_lock(&mu);
  for (int k = 0; k < nw; k++)
    while (ws[k].cursor < seq) {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_sec += 1;
      (void)pthread_cond_timedwait(&cv, &mu, &ts);
      if (now_ns() > deadline) {
        pthread_mutex_unlock(&mu);
        die("watchers", "a change was not applied within 30 s");
      }
    }
  pthread_mutex_unlock(&mu);
}

/* --- the writer --------------------------------------------------------------------- */

static void exec_or_die(PGconn *pg, const char *sql) {
  PGresult *r = PQexec(pg, sql);
  if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
    die(sql, PQerrorMessage(pg));
  PQclear(r);
}

/* One autocommit UPDATE of the demo org; returns the org's head after it
** (the change's own position: this is the only writer). */
static uint64_t commit_one(PGconn *pg, int tag, int i) {
  char sql[512];
  snprintf(sql, sizeof sql,
           "UPDATE contacts SET company = 'bench %d/%d' WHERE id = '" CONTACT "';"
           "SELECT head_seq FROM cf_sync.org_clock WHERE org_id = '" ORG "'",
           tag, i);
  PGresult *r = PQexec(pg, sql);
  if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
    die("UPDATE", PQerrorMessage(pg));
  uint64_t head = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
  PQclear(r);
  return head;
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

typedef struct stats {
  double p50, p99, max; /* milliseconds */
} stats;

static stats summarize(int64_t *lat, int n) {
  qsort(lat, (size_t)n, sizeof *lat, cmp_i64);
  stats s = {lat[(n - 1) / 2] / 1e6, lat[(int)((n - 1) * 0.99)] / 1e6, lat[n - 1] / 1e6};
  return s;
}

static void print_row(const char *name, int n, stats s) {
  printf("| %-44s | %6d | %8.2f | %8.2f | %8.2f |\n", name, n, s.p50, s.p99, s.max);
  fflush(stdout);
}

/* The commits of one scenario and when the slowest watcher had each. */
typedef struct commits {
  int n;            /* commits */
  int64_t *t0;      /* monotonic time before each commit was sent */
  uint64_t *head;   /* its position in the org's cursor */
  int64_t *recv;    /* the slowest watcher's thread read the frame carrying it */
  int64_t *applied; /* the slowest watcher had applied it */
} commits;

static void commits_init(commits *c, int n) {
  c->n = n;
  c->t0 = calloc((size_t)n, sizeof *c->t0);
  c->head = calloc((size_t)n, sizeof *c->head);
  c->recv = calloc((size_t)n, sizeof *c->recv);
  c->applied = calloc((size_t)n, sizeof *c->applied);
  if (c->t0 == NULL || c->head == NULL || c->recv == NULL || c->applied == NULL)
    die("calloc", "");
}

static void commits_free(commits *c) {
  free(c->t0);
  free(c->head);
  free(c->recv);
  free(c->applied);
}

/* The first event of w at or past seq (events are in cursor order), or NULL.
** Under mu. */
static const wevent *event_for(const watcher *w, uint64_t seq) {
  size_t lo = 0, hi = w->nev;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (w->ev[mid].cursor < seq)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < w->nev ? &w->ev[lo] : NULL;
}

/* Fills c->recv and c->applied: for each commit the latest of the nw
** watchers (each the first event covering it). */
static void collect_slowest(watcher *ws, int nw, commits *c) {
  pthread_mutex_lock(&mu);
  for (int i = 0; i < c->n; i++) {
    int64_t r = c->t0[i], a = c->t0[i];
    for (int k = 0; k < nw; k++) {
      const wevent *e = event_for(&ws[k], c->head[i]);
      if (e == NULL) continue;
      if (e->recv_ns > r) r = e->recv_ns;
      if (e->ns > a) a = e->ns;
    }
    c->recv[i] = r;
    c->applied[i] = a;
  }
  pthread_mutex_unlock(&mu);
}

/* Latency stats of (at[i] - c->t0[i]). */
static stats latency(const commits *c, const int64_t *at) {
  int64_t *lat = calloc((size_t)c->n, sizeof *lat);
  if (lat == NULL) die("calloc", "");
  for (int i = 0; i < c->n; i++)
    lat[i] = at[i] - c->t0[i];
  stats s = summarize(lat, c->n);
  free(lat);
  return s;
}

/* Commits n changes one after another, each once the previous was applied
** by the watcher w. */
static stats measure_serial(PGconn *pg, watcher *w, int n, int tag, commits *c) {
  commits_init(c, n);
  for (int i = 0; i < n; i++) {
    c->t0[i] = now_ns();
    c->head[i] = commit_one(pg, tag, i);
    wait_all(w, 1, c->head[i]);
  }
  collect_slowest(w, 1, c);
  return latency(c, c->applied);
}

/* One writer at rate changes/s for secs seconds; for every commit the time
** until the slowest of the nw watchers applied it. */
typedef struct light_set light_set;
static int64_t light_slowest(const light_set *set, uint64_t seq);
static void light_forget(light_set *set);
static void light_wait(light_set *set, uint64_t seq);

/* One writer at rate changes/s for secs seconds; for every commit the time
** until the slowest of the nw watchers applied it.  With light watchers
** (lw, or NULL) besides: the slowest read is the latest of all, and the
** slowest applied is that read plus the apply of the real replica ws[0]
** for the same commit (its read -> applied), when that is later than every
** real replica's apply: a device applies on its own CPU, as fast as the
** real one. */
static stats measure_fanout(PGconn *pg, watcher *ws, int nw, light_set *lw, int rate,
                            int secs, int tag, commits *c) {
  commits_init(c, rate * secs);
  pthread_mutex_lock(&mu);
  for (int k = 0; k < nw; k++)
    ws[k].nev = 0;
  pthread_mutex_unlock(&mu);
  if (lw != NULL) light_forget(lw);
  int64_t start = now_ns(), period = 1000000000 / rate;
  for (int i = 0; i < c->n; i++) {
    sleep_ns(start + i * period - now_ns());
    c->t0[i] = now_ns();
    c->head[i] = commit_one(pg, tag, i);
  }
  wait_all(ws, nw, c->head[c->n - 1]);
  if (lw != NULL) light_wait(lw, c->head[c->n - 1]);
  collect_slowest(ws, nw, c);
  if (lw != NULL) {
    pthread_mutex_lock(&mu);
    for (int i = 0; i < c->n; i++) {
      int64_t r = light_slowest(lw, c->head[i]);
      const wevent *e = event_for(&ws[0], c->head[i]);
      int64_t a = e != NULL ? r + (e->ns - e->recv_ns) : r;
      if (r > c->recv[i]) c->recv[i] = r;
      if (a > c->applied[i]) c->applied[i] = a;
    }
    pthread_mutex_unlock(&mu);
  }
  return latency(c, c->applied);
}

/* CPU time of this process (the load generator) so far, in seconds. */
static double self_cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* What a scenario cost in CPU, in % of one core over its wall time. */
typedef struct cpu_use {
  double load_pct, server_pct; /* the load generator, the server process */
} cpu_use;

typedef struct cpu_mark {
  double self_s;
  long long srv_ticks;
  int64_t wall_ns;
} cpu_mark;

static cpu_mark cpu_mark_now(pid_t srv) {
  cpu_mark m = {self_cpu_s(), server_cpu_ticks(srv), now_ns()};
  return m;
}

static cpu_use cpu_since(pid_t srv, cpu_mark m0) {
  cpu_mark m1 = cpu_mark_now(srv);
  double wall = (double)(m1.wall_ns - m0.wall_ns) / 1e9;
  cpu_use u = {100.0 * (m1.self_s - m0.self_s) / wall,
               100.0 * (double)(m1.srv_ticks - m0.srv_ticks) /
                   (double)sysconf(_SC_CLK_TCK) / wall};
  return u;
}

/* --- where the time goes: the server's trace and the replicas' hops -------------- */

/* One shared pull as the server traced it (sync/server/server.c, trace_feed). */
typedef struct feed_trace {
  uint64_t to;    /* the cursor its page ends at */
  int64_t notify; /* monotonic ns the NOTIFY it answers reached the loop */
  int64_t hop[5]; /* ns: wait, queue, pull, back, write */
  long sessions;  /* frames written */
} feed_trace;

static void trace_begin(pid_t srv) {
  kill(srv, SIGUSR1);
  sleep_ns(100000000); /* the signal is handled before the first commit */
}

static int64_t field(const char *line, const char *key) {
  const char *p = strstr(line, key);
  return p ? strtoll(p + strlen(key), NULL, 10) : 0;
}

/* Stops the trace and reads it.  OUT: *out (malloc'd), its count. */
static int trace_end(pid_t srv, feed_trace **out) {
  kill(srv, SIGUSR2);
  sleep_ns(100000000);
  *out = NULL;
  FILE *f = fopen(trace_path, "r");
  if (f == NULL) return 0;
  int n = 0, cap = 0;
  char line[2048];
  while (fgets(line, sizeof line, f)) {
    if (strstr(line, "msg=\"shared pull\"") == NULL) continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 256;
      feed_trace *g = realloc(*out, (size_t)cap * sizeof *g);
      if (g == NULL) die("realloc", "");
      *out = g;
    }
    feed_trace *t = &(*out)[n++];
    t->to = (uint64_t)field(line, " to=");
    t->notify = field(line, "notify_mono_us=") * 1000;
    t->hop[0] = field(line, "wait_us=") * 1000;
    t->hop[1] = field(line, "queue_us=") * 1000;
    t->hop[2] = field(line, "pull_us=") * 1000;
    t->hop[3] = field(line, "back_us=") * 1000;
    t->hop[4] = field(line, "write_us=") * 1000;
    t->sessions = (long)field(line, "sessions=");
  }
  fclose(f);
  return n;
}

#define NHOPS 8
static const char *const hop_names[NHOPS] = {
    "commit -> NOTIFY read by the server's loop",
    "NOTIFY -> shared pull queued (behind one running)",
    "queued -> a worker starts it",
    "shared pull on a worker (page, members if >1 user)",
    "worker -> back on the loop",
    "loop writes every session's FEED frame",
    "last frame written -> slowest replica read it",
    "slowest replica read -> slowest applied"};

/*
** Prints where each commit's time went: the server's hops from its trace
** (the shared pull whose page first covers the commit), then the replicas'
** (the slowest watcher's read and apply).  The points are taken in order and
** each hop is the time from the previous point (never negative), so the hops
** of one commit add up to its commit -> slowest applied.
*/
static void print_breakdown(const char *title, const commits *c, const feed_trace *tr,
                            int ntr) {
  int64_t *h[NHOPS];
  for (int k = 0; k < NHOPS; k++)
    if ((h[k] = calloc((size_t)c->n, sizeof *h[k])) == NULL) die("calloc", "");
  int m = 0;
  for (int i = 0; i < c->n; i++) {
    const feed_trace *t = NULL;
    for (int f = 0; f < ntr && t == NULL; f++)
      if (tr[f].to >= c->head[i] && tr[f].sessions > 0) t = &tr[f];
    if (t == NULL) continue; /* not fed by a shared pull (LIVE + own PULL) */
    int64_t pt[NHOPS + 1];
    pt[0] = c->t0[i];
    pt[1] = t->notify;
    for (int k = 0; k < 5; k++)
      pt[k + 2] = pt[k + 1] + t->hop[k];
    pt[7] = c->recv[i];
    pt[8] = c->applied[i];
    int64_t prev = pt[0];
    for (int k = 0; k < NHOPS; k++) {
      int64_t at = pt[k + 1] > prev ? pt[k + 1] : prev;
      h[k][m] = at - prev;
      prev = at;
    }
    m++;
  }
  long fed = 0;
  for (int f = 0; f < ntr; f++)
    fed += tr[f].sessions;
  printf("\nwhere the time goes: %s (%d of %d commits fed by a shared pull; %d shared "
         "pulls, %.1f sessions fed each)\n",
         title, m, c->n, ntr, ntr ? (double)fed / ntr : 0.0);
  printf("| %-52s | %8s | %8s |\n", "hop", "p50 ms", "p99 ms");
  printf(
      "|------------------------------------------------------|----------|----------|\n");
  for (int k = 0; k < NHOPS && m > 0; k++) {
    stats s = summarize(h[k], m);
    printf("| %-52s | %8.2f | %8.2f |\n", hop_names[k], s.p50, s.p99);
  }
  stats r = latency(c, c->recv);
  printf("| %-52s | %8.2f | %8.2f |\n", "= commit -> slowest replica read the frame",
         r.p50, r.p99);
  stats a = latency(c, c->applied);
  printf("| %-52s | %8.2f | %8.2f |\n", "= commit -> slowest replica applied", a.p50,
         a.p99);
  printf("\n");
  fflush(stdout);
  for (int k = 0; k < NHOPS; k++)
    free(h[k]);
}

/* --- light watchers: devices whose apply runs on their own CPU --------------- */

/*
** A light watcher is a protocol-2 session that does what a watching
** replica does on the wire -- HELLO at the org's head, take every FEED that
** continues its cursor, PULL after a LIVE (or a FEED it cannot take) and
** take the CHANGES -- and records when each page arrived, but applies
** nothing: the apply of a device runs on the device.  The server cannot tell
** it from a replica (same frames, same cursor, fed by the same shared
** pull); all of them share one event-loop thread here, which reads a frame
** in microseconds, so the W-watcher rows measure the server's fan-out and
** not 200 SQLite transactions queued on two cores.  One real replica
** watches with them and gives the apply.
*/
/* --- sessions of the load generator: one endpoint, many connections -------------- */

/* What the light watchers and the idle sessions share: one client endpoint
** with many connections, counters kept by its callbacks, and a thread running
** its loop once they are connected.  First member of each set, so a set's
** callbacks' ctx is also a client_set. */
typedef struct client_set {
  const char *what;    /* for messages: "light watchers", "idle sessions" */
  cf__ws_client *cli;  /* one endpoint, many connections */
  atomic_int welcomed; /* sessions that got their first frame (WELCOME) */
  atomic_int closed;   /* sessions that closed */
  atomic_int stop;     /* the loop thread must end */
  pthread_t thread;    /* runs the loop */
} client_set;

/* Sends a HELLO to org as token's user, at cursor, speaking protocols
 * CF_PROTO_MIN..proto_max. */
static int send_hello(cf__ws_session *s, const char *token, const char *org,
                      uint32_t proto_max, uint64_t cursor, const char *software) {
  cf_hello h;
  cf__hello_init(&h, token, proto_max, software);
  h.cursor = cursor;
  if (cf__node_id_generate(&h.node) != CF_OK) return CF_ERROR;
  if (cf__uuid_parse(org, strlen(org), &h.org) != CF_OK) return CF_ERROR;
  h.hlc = (cf_hlc)cf__now_ms() << 16;
  cf_buf b;
  cf__buf_init(&b, CF_CODEC_MAX_FRAME);
  int rc = cf__encode_hello(&h, &b);
  if (rc == CF_OK) rc = cf__ws_send(s, b.p, b.len);
  cf__buf_free(&b);
  return rc;
}

static void client_set_on_close(void *ctx, cf__ws_session *s, int rc, int code,
                                const char *why) {
  client_set *cs = ctx;
  (void)s;
  (void)rc;
  (void)code;
  (void)why;
  atomic_fetch_add(&cs->closed, 1);
}

/* A client endpoint whose callbacks get ctx (a set beginning with cs). */
static void client_set_new(client_set *cs, const char *what, void *ctx,
                           int (*on_open)(void *, cf__ws_session *),
                           void (*on_message)(void *, cf__ws_session *, const uint8_t *,
                                              size_t)) {
  cs->what = what;
  cf__ws_client_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.ws.ctx = ctx;
  cfg.ws.on_open = on_open;
  cfg.ws.on_message = on_message;
  cfg.ws.on_close = client_set_on_close;
  cfg.connect_timeout_ms = 120000;
  /* The load generator never pings: what the server spends is its own. */
  cfg.limits.ping_interval_s = UINT32_MAX;
  char err[256];
  if (cf__ws_client_new(&cfg, &cs->cli, err, sizeof err) != CF_OK) die(what, err);
}

/* Runs the loop here until want sessions got WELCOME or closed. */
static void client_set_wait(client_set *cs, int want) {
  int64_t deadline = now_ns() + (int64_t)120e9;
  while (atomic_load(&cs->welcomed) + atomic_load(&cs->closed) < want) {
    if (now_ns() > deadline) die(cs->what, "no WELCOME within 120 s");
    if (cf__ws_client_run_once(cs->cli, 50) != CF_OK) die(cs->what, "run_once");
  }
}

static void *client_set_main(void *arg) {
  client_set *cs = arg;
  while (!atomic_load(&cs->stop))
    if (cf__ws_client_run_once(cs->cli, 200) != CF_OK) die(cs->what, "run_once");
  return NULL;
}

/* Once every session is welcomed: refuses a set with any refused, then
** hands the loop to a thread of its own. */
static void client_set_run(client_set *cs) {
  if (atomic_load(&cs->closed) > 0) die(cs->what, "some were refused");
  if (pthread_create(&cs->thread, NULL, client_set_main, cs) != 0)
    die(cs->what, "pthread_create");
}

static void client_set_stop(client_set *cs) {
  atomic_store(&cs->stop, 1);
  cf__ws_client_wake(cs->cli);
  pthread_join(cs->thread, NULL);
  cf__ws_client_free(cs->cli);
}

/* --- light watchers ------------------------------------------------------------------
 */

typedef struct light {
  const char *token; /* its user's token */
  uint64_t cursor;   /* its cursor (loop thread) */
  int pulling;       /* a PULL of its own is out (loop thread) */
  wevent *ev;        /* pages taken (mu) */
  size_t nev, cap;   /* their count and room (mu) */
} light;

typedef struct light_set {
  client_set cs;  /* first: the callbacks' ctx */
  light *l;       /* the watchers */
  int n;          /* how many */
  uint64_t start; /* the cursor they say HELLO with */
} light_set;

static int light_send_pull(cf__ws_session *s, light *l) {
  cf_pull p = {l->cursor, 5000};
  cf_buf b;
  cf__buf_init(&b, 256);
  int rc = cf__encode_pull(&p, &b);
  if (rc == CF_OK) rc = cf__ws_send(s, b.p, b.len);
  cf__buf_free(&b);
  l->pulling = rc == CF_OK;
  return rc;
}

static void light_took(light *l, uint64_t last) {
  int64_t t = now_ns();
  l->cursor = last;
  pthread_mutex_lock(&mu);
  if (l->nev == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 1024;
    wevent *grown = realloc(l->ev, cap * sizeof *grown);
    if (grown == NULL) die("realloc", "");
    l->ev = grown;
    l->cap = cap;
  }
  wevent e = {last, t, t};
  l->ev[l->nev++] = e;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
}

static int light_on_open(void *ctx, cf__ws_session *s) {
  light_set *set = ctx;
  const light *l = cf__ws_session_user(s);
  return send_hello(s, l->token, ORG, CF_PROTO_MAX, set->start, "bench-light");
}

static void light_on_message(void *ctx, cf__ws_session *s, const uint8_t *m, size_t n) {
  light_set *set = ctx;
  light *l = cf__ws_session_user(s);
  cf_frame f;
  char err[256];
  if (l == NULL || cf__frame_decode(m, n, NULL, &f, err, sizeof err) != CF_OK) return;
  uint64_t head = 0;
  if (f.type == CF_FRAME_WELCOME) {
    atomic_fetch_add(&set->cs.welcomed, 1);
  } else if (f.type == CF_FRAME_FEED && !l->pulling && f.u.feed.from_seq == l->cursor) {
    light_took(l, f.u.feed.changes.last_seq);
    if (f.u.feed.changes.more) (void)light_send_pull(s, l);
  } else if (f.type == CF_FRAME_FEED) {
    head = f.u.feed.changes.head_seq;
  } else if (f.type == CF_FRAME_LIVE) {
    head = f.u.live.seq;
  } else if (f.type == CF_FRAME_CHANGES) {
    l->pulling = 0;
    light_took(l, f.u.changes.last_seq);
    if (f.u.changes.more || f.u.changes.head_seq > l->cursor) (void)light_send_pull(s, l);
  }
  if (head > l->cursor && !l->pulling) (void)light_send_pull(s, l);
  cf__frame_free(&f);
}

/* Connects n light watchers at cursor start, every other one as the second
** user (tokens[0], tokens[1]): an org's watchers are several users, so the
** shared pull also reads which of them are members (docs/server.md).  Then
** runs their loop thread. */
static void light_start(light_set *set, int n, const char *url, const char *const *tokens,
                        uint64_t start) {
  memset(set, 0, sizeof *set);
  set->start = start;
  set->n = n;
  set->l = calloc((size_t)n, sizeof *set->l);
  if (set->l == NULL) die("calloc", "");
  client_set_new(&set->cs, "light watchers", set, light_on_open, light_on_message);
  for (int i = 0; i < n; i++) {
    set->l[i].cursor = start;
    set->l[i].token = tokens[i % 2];
    cf__ws_session *s = NULL;
    if (cf__ws_client_connect(set->cs.cli, url, &s) != CF_OK) die("light connect", url);
    cf__ws_session_set_user(s, &set->l[i]);
  }
  client_set_wait(&set->cs, n);
  client_set_run(&set->cs);
}

/* Forgets the pages taken so far. */
static void light_forget(light_set *set) {
  pthread_mutex_lock(&mu);
  for (int i = 0; i < set->n; i++)
    set->l[i].nev = 0;
  pthread_mutex_unlock(&mu);
}

/* Waits until every light watcher took a page covering seq. */
static void light_wait(light_set *set, uint64_t seq) {
  int64_t deadline = now_ns() + (int64_t)30e9;
  pthread_mutex_lock(&mu);
  for (int i = 0; i < set->n; i++)
    while (set->l[i].nev == 0 || set->l[i].ev[set->l[i].nev - 1].cursor < seq) {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_sec += 1;
      (void)pthread_cond_timedwait(&cv, &mu, &ts);
      if (now_ns() > deadline) {
        pthread_mutex_unlock(&mu);
        die("light watchers", "a change was not received within 30 s");
      }
    }
  pthread_mutex_unlock(&mu);
}

static void light_stop(light_set *set) {
  client_set_stop(&set->cs);
  for (int i = 0; i < set->n; i++)
    free(set->l[i].ev);
  free(set->l);
}

/* The latest time one of the light watchers took a page covering seq (0:
** none).  Under mu. */
static int64_t light_slowest(const light_set *set, uint64_t seq) {
  int64_t t = 0;
  for (int i = 0; i < set->n; i++) {
    const light *l = &set->l[i];
    size_t lo = 0, hi = l->nev;
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (l->ev[mid].cursor < seq)
        lo = mid + 1;
      else
        hi = mid;
    }
    if (lo < l->nev && l->ev[lo].ns > t) t = l->ev[lo].ns;
  }
  return t;
}

/* --- idle sessions ----------------------------------------------------------------- */

typedef struct idle_set {
  client_set cs;      /* first: the callbacks' ctx */
  atomic_long frames; /* frames received in all */
  const char *token;  /* their token */
  const char *org;    /* the org they say HELLO to */
} idle_set;

static int idle_on_open(void *ctx, cf__ws_session *s) {
  idle_set *set = ctx;
  /* LIVE only (protocol 1): an idle session never pulls */
  int rc = send_hello(s, set->token, set->org, CF_PROTO_MIN, 0, "bench-idle");
  cf__ws_session_set_user(s, NULL);
  return rc;
}

static void idle_on_message(void *ctx, cf__ws_session *s, const uint8_t *m, size_t n) {
  idle_set *set = ctx;
  (void)m;
  (void)n;
  atomic_fetch_add(&set->frames, 1);
  if (cf__ws_session_user(s) == NULL) { /* the first frame: WELCOME (or a refusal) */
    cf__ws_session_set_user(s, set);
    atomic_fetch_add(&set->cs.welcomed, 1);
  }
}

static void idle_start(idle_set *set, int n, const char *url, const char *token,
                       const char *org) {
  memset(set, 0, sizeof *set);
  set->token = token;
  set->org = org;
  client_set_new(&set->cs, "idle sessions", set, idle_on_open, idle_on_message);
  for (int i = 0; i < n; i++) { /* in waves: the listen backlog is finite */
    cf__ws_session *s = NULL;
    if (cf__ws_client_connect(set->cs.cli, url, &s) != CF_OK) die("idle connect", url);
    if (i % 100 == 99) client_set_wait(&set->cs, i + 1);
  }
  client_set_wait(&set->cs, n);
  client_set_run(&set->cs);
}

static void idle_stop(idle_set *set) { client_set_stop(&set->cs); }

typedef struct idle_figures {
  double cpu_pct; /* server CPU, % of a core, while idle */
  double kb_per;  /* server RSS growth per session, KiB */
  int n;          /* sessions */
} idle_figures;

/* Connects n idle sessions of org and measures the server's memory and idle
** CPU with them; they stay connected (the caller stops them). */
static idle_figures idle_measure(idle_set *set, pid_t srv, int n, const char *url,
                                 const char *token, const char *org) {
  idle_figures f;
  memset(&f, 0, sizeof f);
  f.n = n;
  long rss0 = server_rss_kb(srv);
  idle_start(set, n, url, token, org);
  sleep_ns(1000000000); /* the HELLO jobs' last answers are written */
  long rss1 = server_rss_kb(srv);
  f.kb_per = (double)(rss1 - rss0) / n;
  f.cpu_pct = server_cpu_pct(srv, idle_window_s());
  return f;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 500;
  int idle_same = argc > 2 ? atoi(argv[2]) : 1000;
  int idle_other = argc > 3 ? atoi(argv[3]) : 10000;
  int nwatch = argc > 4 ? atoi(argv[4]) : 200;
  int rate = argc > 5 ? atoi(argv[5]) : 50;
  int secs = argc > 6 ? atoi(argv[6]) : 6;
  if (n < 1 || idle_same < 0 || idle_same > MAX_IDLE || idle_other < 0 ||
      idle_other > MAX_IDLE || nwatch < 0 || nwatch > MAX_WATCHERS || rate < 1 ||
      rate > 1000 || secs < 1) {
    fprintf(
        stderr,
        "usage: bench_scale [N [IDLE_SAME [IDLE_OTHER [WATCHERS [RATE [SECONDS]]]]]]\n");
    return 2;
  }
  struct rlimit rl; /* for this benchmark only: both ends are on this machine */
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
  }
  cf__log_set_level(CF_LOG_WARN);
  const char *policy = getenv("BENCH_SCALE_WATCHERS");
  watchers_mode = policy == NULL || strcmp(policy, "light") == 0 ? WATCH_LIGHT
                  : strcmp(policy, "replicas") == 0              ? WATCH_REPLICAS
                  : strcmp(policy, "normal") == 0                ? WATCH_NORMAL
                                                                 : -1;
  if (watchers_mode < 0) die("BENCH_SCALE_WATCHERS", "light, replicas or normal");

  char err[512];
  cf_pgcluster *pgc = NULL;
  if (cf_pgcluster_start(NULL, "cf_bench_scale", &pgc, err, sizeof err) != CF_OK)
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
  PQfinish(pg); /* the server process must not share this connection */

  snprintf(trace_path, sizeof trace_path, "%s/server-trace.log", cf_pgcluster_dir(pgc));
  int port = 0;
  pid_t srv = spawn_server(srv_url, &port); /* before any thread of ours */
  pg = PQconnectdb(admin_url);
  if (PQstatus(pg) != CONNECTION_OK) die("connect", PQerrorMessage(pg));
  char url[128];
  snprintf(url, sizeof url, "ws://127.0.0.1:%d/sync", port);
  char *token = NULL, *nw_token = NULL, *owner_token = NULL;
  if (cf_token_mint_hs256(SECRET, strlen(SECRET), USER, "authenticated", NULL,
                          "authenticated", 86400, &token) != CF_OK ||
      cf_token_mint_hs256(SECRET, strlen(SECRET), NW_USER, "authenticated", NULL,
                          "authenticated", 86400, &nw_token) != CF_OK ||
      cf_token_mint_hs256(SECRET, strlen(SECRET), OWNER, "authenticated", NULL,
                          "authenticated", 86400, &owner_token) != CF_OK)
    die("token", "");
  const char *rdir = getenv("CF_BENCH_REPLICA_DIR");
  const char *dir = rdir ? rdir : cf_pgcluster_dir(pgc);

  printf(
      "sync server at scale: server in its own process (4 workers), load generator\n"
      "and Postgres on the same machine, loopback; latencies from the commit of a\n"
      "direct SQL UPDATE to the change applied in a watching replica%s\n\n",
      watchers_mode == WATCH_LIGHT ? ""
      : watchers_mode == WATCH_REPLICAS
          ? "\n(BENCH_SCALE_WATCHERS=replicas: W real replicas, SCHED_IDLE while W watch)"
          : "\n(BENCH_SCALE_WATCHERS=normal: W real replicas, never SCHED_IDLE)");
  double load = 0;
  if (getloadavg(&load, 1) == 1 && load > 2.0)
    printf("The machine is busy (load average %.1f): every latency here waits for a\n"
           "CPU.\n\n",
           load);
  printf("| %-44s | %6s | %8s | %8s | %8s |\n", "scenario", "n", "p50 ms", "p99 ms",
         "max ms");
  printf("|%s|%s|%s|%s|%s|\n", "----------------------------------------------",
         "--------", "----------", "----------", "----------");

  watcher *ws = calloc((size_t)(nwatch > 1 ? nwatch : 1), sizeof *ws);
  if (ws == NULL) die("calloc", "");
  watcher_start(&ws[0], dir, 0, url, token);
  commits c1, cw;
  (void)measure_serial(pg, &ws[0], 20, 0, &c1); /* warm: sessions up, caches hot */
  commits_free(&c1);
  long rss_base = server_rss_kb(srv);
  double cpu_base = server_cpu_pct(srv, 3);
  feed_trace *tr = NULL;
  trace_begin(srv);
  stats one = measure_serial(pg, &ws[0], n, 1, &c1);
  int ntr = trace_end(srv, &tr);
  print_row("1 watching replica", n, one);

  idle_figures same_f = {0, 0, 0}, other_f = {0, 0, 0};
  feed_trace *trs = NULL; /* the shared pulls with IDLE_SAME idle sessions */
  int ntrs = 0;
  stats same = {0, 0, 0}, other = {0, 0, 0};
  char name[96];
  if (idle_same > 0) {
    idle_set set;
    same_f = idle_measure(&set, srv, idle_same, url, token, ORG);
    (void)measure_serial(pg, &ws[0], 20, 2, &cw);
    commits_free(&cw);
    trace_begin(srv);
    same = measure_serial(pg, &ws[0], n, 3, &cw);
    ntrs = trace_end(srv, &trs);
    snprintf(name, sizeof name, "+ %d idle sessions, same org", idle_same);
    print_row(name, n, same);
    idle_stop(&set);
  }
  if (idle_other > 0) {
    idle_set set;
    other_f = idle_measure(&set, srv, idle_other, url, nw_token, NW_ORG);
    /* its own commits: cw still holds the same-org ones, printed below */
    commits co;
    (void)measure_serial(pg, &ws[0], 20, 4, &co);
    commits_free(&co);
    other = measure_serial(pg, &ws[0], n, 5, &co);
    commits_free(&co);
    snprintf(name, sizeof name, "+ %d idle sessions, other org", idle_other);
    print_row(name, n, other);
    idle_stop(&set);
  }
  stats fan1 = {0, 0, 0}, fanw = {0, 0, 0}, fan1r = {0, 0, 0}, fanwr = {0, 0, 0};
  commits cf1, cfw;
  feed_trace *tr1 = NULL, *trw = NULL;
  int ntr1 = 0, ntrw = 0;
  cpu_use cpu1 = {0, 0}, cpuw = {0, 0};
  if (nwatch > 0) {
    trace_begin(srv);
    cpu_mark m0 = cpu_mark_now(srv);
    fan1 = measure_fanout(pg, ws, 1, NULL, rate, secs, 6, &cf1);
    cpu1 = cpu_since(srv, m0);
    ntr1 = trace_end(srv, &tr1);
    fan1r = latency(&cf1, cf1.recv);
    snprintf(name, sizeof name, "1 watcher, writer at %d/s", rate);
    print_row(name, cf1.n, fan1);
    snprintf(name, sizeof name, "  (read by its thread)");
    print_row(name, cf1.n, fan1r);
    /* The other watchers' files: on tmpfs unless told otherwise (bench/
    ** README.md: 200 replicas' fsyncs queue on one disk here, a device's
    ** go to its own); the first one, the baseline, stays in dir. */
    const char *wdir = getenv("CF_BENCH_WATCHER_DIR");
    if (wdir == NULL) wdir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : dir;
    light_set lights;
    int nreal = watchers_mode == WATCH_LIGHT ? 1 : nwatch;
    for (int k = 1; k < nreal; k++)
      watcher_start(&ws[k], wdir, k, url, token);
    uint64_t at = commit_one(pg, 7, 0);
    wait_all(ws, nreal, at);
    const char *tokens[2] = {owner_token, token};
    if (nreal < nwatch) light_start(&lights, nwatch - nreal, url, tokens, at);
    watchers_sched(ws, nreal, 1);
    trace_begin(srv);
    m0 = cpu_mark_now(srv);
    fanw = measure_fanout(pg, ws, nreal, nreal < nwatch ? &lights : NULL, rate, secs, 8,
                          &cfw);
    cpuw = cpu_since(srv, m0);
    ntrw = trace_end(srv, &trw);
    fanwr = latency(&cfw, cfw.recv);
    watchers_sched(ws, nreal, 0);
    snprintf(name, sizeof name, "slowest of %d watchers, writer at %d/s", nwatch, rate);
    print_row(name, cfw.n, fanw);
    snprintf(name, sizeof name, "  (slowest read by its thread)");
    print_row(name, cfw.n, fanwr);
    if (nreal < nwatch) light_stop(&lights);
    for (int k = 1; k < nreal; k++)
      watcher_stop(&ws[k]);
  }
  print_breakdown("1 watching replica, one commit at a time", &c1, tr, ntr);
  if (idle_same > 0) {
    snprintf(name, sizeof name, "1 watching replica + %d idle sessions of its org",
             idle_same);
    print_breakdown(name, &cw, trs, ntrs);
    commits_free(&cw);
  }
  if (nwatch > 0) {
    snprintf(name, sizeof name, "1 watcher, writer at %d/s", rate);
    print_breakdown(name, &cf1, tr1, ntr1);
    printf("CPU while measured: load generator %.0f%% of a core, server %.0f%%\n\n",
           cpu1.load_pct, cpu1.server_pct);
    snprintf(name, sizeof name, "slowest of %d watchers, writer at %d/s", nwatch, rate);
    print_breakdown(name, &cfw, trw, ntrw);
    printf("CPU while measured: load generator %.0f%% of a core, server %.0f%%\n\n",
           cpuw.load_pct, cpuw.server_pct);
    commits_free(&cf1);
    commits_free(&cfw);
  }
  commits_free(&c1);
  free(tr);
  free(trs);
  free(tr1);
  free(trw);
  printf("\nserver process: RSS %ld KiB with one session; CPU %.2f%% of a core idle\n",
         rss_base, cpu_base);
  if (idle_same > 0)
    printf("with %d idle sessions (same org): +%.2f KiB RSS per session, CPU %.2f%% "
           "over %d s\n",
           same_f.n, same_f.kb_per, same_f.cpu_pct, idle_window_s());
  if (idle_other > 0)
    printf("with %d idle sessions (other org): +%.2f KiB RSS per session, CPU %.2f%% "
           "over %d s\n",
           other_f.n, other_f.kb_per, other_f.cpu_pct, idle_window_s());
  printf("\n");

  char fig[64], base[96], val[64];
  snprintf(fig, sizeof fig, "%.2f ms", one.p50);
  bench_row("commit->applied, 1 replica, p50", fig, "-", fig, "<=3 ms", one.p50 <= 3.0);
  snprintf(fig, sizeof fig, "%.2f ms", one.p99);
  bench_row("commit->applied, 1 replica, p99", fig, "-", fig, "<=10 ms", one.p99 <= 10.0);
  if (idle_same > 0) {
    snprintf(name, sizeof name, "commit->applied, +%d idle same org, p99", idle_same);
    snprintf(fig, sizeof fig, "%.2f ms", same.p99);
    snprintf(base, sizeof base, "%.2f ms no idle", one.p99);
    snprintf(val, sizeof val, "%.2fx", same.p99 / one.p99);
    bench_row(name, fig, base, val, "<=20 ms", same.p99 <= 20.0);
  }
  if (idle_other > 0) {
    snprintf(name, sizeof name, "commit->applied, +%d idle other org, p50", idle_other);
    snprintf(fig, sizeof fig, "%.2f ms", other.p50);
    snprintf(base, sizeof base, "%.2f ms no idle", one.p50);
    snprintf(val, sizeof val, "%.2fx", other.p50 / one.p50);
    bench_row(name, fig, base, val, "<=1.2x", other.p50 <= 1.2 * one.p50);
  }
  idle_figures *big = other_f.n >= same_f.n ? &other_f : &same_f;
  if (big->n > 0) {
    snprintf(name, sizeof name, "server RSS per idle session (%d)", big->n);
    snprintf(fig, sizeof fig, "%.2f KiB", big->kb_per);
    snprintf(base, sizeof base, "%ld KiB process", rss_base);
    bench_row(name, fig, base, fig, "<=8 KiB", big->kb_per <= 8.0);
  }
  const idle_figures *sets[2] = {&same_f, &other_f};
  for (int k = 0; k < 2; k++) {
    if (sets[k]->n == 0) continue;
    snprintf(name, sizeof name, "server CPU with %d idle sessions", sets[k]->n);
    snprintf(fig, sizeof fig, "%.2f%% of a core", sets[k]->cpu_pct);
    snprintf(base, sizeof base, "%.2f%% with 1 session", cpu_base);
    bench_row(name, fig, base, fig, "<1%", sets[k]->cpu_pct < 1.0);
  }
  if (nwatch > 0) {
    snprintf(name, sizeof name, "slowest of %d watchers, writer %d/s, p99", nwatch, rate);
    snprintf(fig, sizeof fig, "%.2f ms", fanw.p99);
    snprintf(base, sizeof base, "%.2f ms 1 watcher", fan1.p99);
    snprintf(val, sizeof val, "%.2fx", fanw.p99 / fan1.p99);
    bench_row(name, fig, base, val, "<=100 ms and <=3x",
              fanw.p99 <= 100.0 && fanw.p99 <= 3.0 * fan1.p99);
    snprintf(name, sizeof name, "slowest of %d watchers read the frame, p99", nwatch);
    snprintf(fig, sizeof fig, "%.2f ms", fanwr.p99);
    snprintf(base, sizeof base, "%.2f ms 1 watcher", fan1r.p99);
    snprintf(val, sizeof val, "%.2fx", fanwr.p99 / fan1r.p99);
    bench_row(name, fig, base, val, "<=100 ms and <=3x",
              fanwr.p99 <= 100.0 && fanwr.p99 <= 3.0 * fan1r.p99);
  }
  fflush(stdout);

  watcher_stop(&ws[0]);
  free(ws);
  cf_token_free(token);
  cf_token_free(nw_token);
  cf_token_free(owner_token);
  PQfinish(pg);
  kill(srv, SIGTERM);
  int status = 0;
  (void)waitpid(srv, &status, 0);
  if (cf_pgcluster_stop(pgc) != CF_OK)
    fprintf(stderr, "bench_scale: cluster not removed\n");
  return 0;
}
