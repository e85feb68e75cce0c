/*
** bench/bench_devices.c: pushes of many devices, one org against the same
** devices spread over 16 orgs (issue 14, "Pushes of one org that scale with
** devices").  Not a test; prints a table and BENCHROW lines.
**
** This process is the load generator: it starts a private PostgreSQL 15
** cluster (cf_pgcluster_start; migrated, removed at the end), creates the
** orgs, users and memberships, and starts `clientflow serve --workers 4` as
** a separate process (a login role that is neither owner nor BYPASSRLS), so
** the server's CPU and RSS are its own (read from /proc).  Then, for each
** device count N (default 1, 4, 16, 64) and each layout -- N devices in one
** org, then the same N devices over 16 orgs (device i in org i % 16) --
** with fresh orgs each time:
**
**   1. every device opens its own replica (SQLite file) and bootstraps it
**      (not timed);
**   2. on a common start, every device (one thread each) writes ROWS
**      contacts through the replica's view in one transaction, then runs
**      one cf_sync_run: connect, push its outbox, pull to the head;
**   3. rows/s = N * ROWS / the time until the last device is done; push
**      latency = from the start of cf_sync_run to the answer of its last
**      push (connect, HELLO and every PUSH round trip), p50/p99 over the
**      devices; server CPU = the server process's user + system time over
**      the run's wall time (100% = one core); RSS = its resident set at
**      the end of the run; rows pulled = by all devices (in one org each
**      device pulls what the others pushed before it: about N^2 * ROWS / 2);
**      lock wait / idle in tx = of the server's Postgres connections that
**      are in a transaction, the share waiting on a lock (the org clock
**      row) and the share idle waiting for the server, sampled every 20 ms;
**      gen CPU = this process (the devices' replicas) and PG CPU = the
**      cluster's postmaster and live children (/proc/<pid>/stat), both as
**      % of one core over the run's wall time (docs/scaling.md, "Where the
**      CPU of one org's 64 devices goes").  BENCH_SERVER_LOG=FILE keeps the
**      server's log (else /dev/null).
**
** Goal (issue 14): 64 devices in one org >= 0.8x the rows/s of the same 64
** over 16 orgs, with push p99 <= 500 ms.
**
** Usage: bench_devices [ROWS] [DEVICES,...]   (defaults 100 and 1,4,16,64)
** Build it without sanitizers (cmake -DCMAKE_BUILD_TYPE=Release); runs as
** root or as a user that can start PostgreSQL.  The `clientflow` program is
** taken from the directory of this program (the build directory).
*/
#include <libpq-fe.h>
#include <dirent.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/benchrow.h"
#include "clientflow.h"

#define SECRET "bench-devices-secret-0123456789abcdef-0123456789"
#define MAX_DEVICES 256
#define NORGS 16

static int die(const char *what, const char *detail) {
  fprintf(stderr, "bench_devices: %s: %s\n", what, detail ? detail : "");
  exit(1);
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The id of user u, and of org o of run r (fresh orgs for every run). */
static void user_id(int u, char out[37]) {
  snprintf(out, 37, "01940000-0001-7000-8000-%012d", u);
}
static void org_id(int r, int o, char out[37]) {
  snprintf(out, 37, "01940000-0000-7000-8000-%06d%06d", r, o);
}

static void exec_or_die(PGconn *pg, const char *sql) {
  PGresult *res = PQexec(pg, sql);
  if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
    die(sql, PQerrorMessage(pg));
  PQclear(res);
}

/* ---- the server process ------------------------------------------------- */

static pid_t srv_pid;

/* A free loopback TCP port (bound and released: good enough for a bench). */
static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  socklen_t len = sizeof a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
      getsockname(fd, (struct sockaddr *)&a, &len) != 0)
    die("free port", "socket");
  close(fd);
  return ntohs(a.sin_port);
}

static void start_server(const char *exe, const char *db_url, int port) {
  char port_s[16];
  snprintf(port_s, sizeof port_s, "%d", port);
  srv_pid = fork();
  if (srv_pid < 0) die("fork", "");
  if (srv_pid == 0) {
    setenv("JWT_SECRET", SECRET, 1);
    /* Its per-session log: BENCH_SERVER_LOG names a file for it. */
    const char *log = getenv("BENCH_SERVER_LOG");
    if (freopen(log != NULL && *log ? log : "/dev/null", "w", stderr) == NULL) _exit(126);
    execl(exe, exe, "serve", "--database-url", db_url, "--port", port_s, "--workers", "4",
          (char *)NULL);
    _exit(127);
  }
  /* Wait until it accepts connections (at most 20 s). */
  for (int i = 0; i < 400; i++) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0) close(fd);
    if (ok) return;
    int st;
    if (waitpid(srv_pid, &st, WNOHANG) == srv_pid) die("clientflow serve", "exited");
    struct timespec ts = {0, 50 * 1000000};
    nanosleep(&ts, NULL);
  }
  die("clientflow serve", "not listening after 20 s");
}

/* The CPU seconds (user + system) of process pid, from /proc/<pid>/stat;
** ppid set to its parent when not NULL.  0 when it is gone. */
static double proc_cpu_s(long pid, long *ppid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  FILE *f = fopen(path, "r");
  if (f == NULL) return 0;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  const char *p = strrchr(buf, ')');
  unsigned long ut = 0, st = 0;
  long pp = 0;
  if (p == NULL || sscanf(p + 2, "%*c %ld %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
                          &pp, &ut, &st) != 3)
    return 0;
  if (ppid != NULL) *ppid = pp;
  return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* The server's CPU seconds so far (user + system). */
static double srv_cpu_s(void) { return proc_cpu_s((long)srv_pid, NULL); }

/* The postmaster of the private cluster (first line of data/postmaster.pid). */
static long pg_postmaster;

/* The CPU seconds of the cluster: the postmaster and every live child
** (backends, walwriter, checkpointer...).  Children that exit between two
** readings are missed; the server's pooled connections live for the run. */
static double pg_cpu_s(void) {
  if (pg_postmaster <= 0) return 0;
  double sum = proc_cpu_s(pg_postmaster, NULL);
  DIR *dir = opendir("/proc");
  if (dir == NULL) return sum;
  struct dirent *e;
  while ((e = readdir(dir)) != NULL) {
    char *end;
    long pid = strtol(e->d_name, &end, 10);
    if (*end != '\0' || pid <= 0) continue;
    long pp = 0;
    double c = proc_cpu_s(pid, &pp);
    if (pp == pg_postmaster) sum += c;
  }
  closedir(dir);
  return sum;
}

/* This process's CPU seconds: the load generator (devices' replicas). */
static double self_cpu_s(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static long srv_rss_kib(void) {
  char path[64], line[256];
  long kib = 0;
  snprintf(path, sizeof path, "/proc/%d/status", (int)srv_pid);
  FILE *f = fopen(path, "r");
  if (f == NULL) return 0;
  while (fgets(line, sizeof line, f) != NULL)
    if (strncmp(line, "VmRSS:", 6) == 0) kib = strtol(line + 6, NULL, 10);
  fclose(f);
  return kib;
}

/* ---- the devices --------------------------------------------------------- */

typedef struct device {
  int index;           /* device number */
  char org[37];        /* its org */
  char user[37];       /* its user */
  char path[PATH_MAX]; /* its replica file */
  const char *url;     /* the server */
  int rows;            /* contacts to write */
  cf_node *node;       /* its replica */
  int64_t push_ns;     /* connect + push time of the timed sync */
  int64_t push_end;    /* when its last push was answered (monotonic) */
  int64_t done_ns;     /* when the timed sync finished (monotonic) */
  int64_t run_t0;      /* start of its cf_sync_run */
  int64_t last_push;   /* last PUSH progress seen */
  int64_t pulled;      /* rows the timed sync pulled */
  char err[256];       /* first failure */
} device;

static pthread_barrier_t start_line;

static void on_progress(void *ctx, int phase, int64_t done, int64_t total) {
  device *d = ctx;
  (void)done;
  (void)total;
  if (phase == CF_SYNC_PHASE_PUSH) d->last_push = now_ns();
}

static char *token_for(const char *user) {
  char *token = NULL;
  if (cf_token_mint_hs256(SECRET, strlen(SECRET), user, "authenticated", NULL,
                          "authenticated", 86400, &token) != CF_OK)
    die("token", user);
  return token;
}

/* One sync of d; push time recorded when measure. */
static int sync_once(device *d, int measure) {
  char *token = token_for(d->user);
  cf_sync *s = NULL;
  int rc = cf_sync_new(d->node, d->url, token, &s);
  if (rc == CF_OK) {
    if (measure) cf_sync_set_progress(s, on_progress, d);
    d->last_push = 0;
    d->run_t0 = now_ns();
    rc = cf_sync_run(s);
    if (rc != CF_OK) snprintf(d->err, sizeof d->err, "sync: %s", cf_sync_errmsg(s));
    if (measure && d->last_push) {
      d->push_ns = d->last_push - d->run_t0;
      d->push_end = d->last_push;
    }
    if (measure) d->pulled = cf_sync_count(s, CF_SYNC_PULLED);
  }
  cf_sync_free(s);
  cf_token_free(token);
  return rc;
}

static void *device_main(void *arg) {
  device *d = arg;
  pthread_barrier_wait(&start_line);
  /* The device's writes, one local transaction. */
  char sql[256];
  int rc = cf_node_exec(d->node, "BEGIN");
  for (int i = 0; i < d->rows && rc == CF_OK; i++) {
    snprintf(sql, sizeof sql,
             "INSERT INTO contacts (first_name, last_name, email, company) VALUES "
             "('Dev%d', 'Row%d', 'd%d.r%d@bench.test', 'Company %d')",
             d->index, i, d->index, i, i % 13);
    rc = cf_node_exec(d->node, sql);
  }
  if (rc == CF_OK) rc = cf_node_exec(d->node, "COMMIT");
  if (rc != CF_OK)
    snprintf(d->err, sizeof d->err, "write: %s", cf_node_errmsg(d->node));
  else
    sync_once(d, 1);
  d->done_ns = now_ns();
  return NULL;
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

typedef struct result {
  double rows_s;         /* rows pushed per second */
  double p50_ms, p99_ms; /* push latency over the devices */
  double cpu_pct;        /* server CPU, % of one core */
  long rss_kib;          /* server RSS at the end */
  int64_t pulled;        /* rows pulled by all devices */
  double lock_pct;       /* busy server connections waiting on a lock, % */
  double idle_tx_pct;    /* server connections idle in a transaction, % of busy */
  double push_rows_s;    /* rows pushed per second until the last push's answer */
  double pull_p50_ms;    /* from a device's last push answer to its end (the pull) */
  double pull_p99_ms;    /* the same, p99 */
  double push_share;     /* share of the devices' sync time spent pushing, % */
  double gen_pct;        /* the load generator's CPU (replicas), % of one core */
  double pg_pct;         /* the Postgres cluster's CPU, % of one core */
} result;

/* ---- a sampler of the server's Postgres connections ----------------------
** Every 20 ms during a run: how many of the server's connections are busy
** (in a transaction), how many of those wait on a lock (the org clock row
** lock, before 008), how many sit idle in a transaction (waiting for the
** server).  The "20-46% of busy connections wait on the org clock". */
typedef struct sampler {
  const char *url;          /* admin connection string */
  volatile int stop;        /* set to end the sampling */
  long busy, lock, idle_tx; /* sums over the samples */
} sampler;

static void *sampler_main(void *arg) {
  sampler *sm = arg;
  PGconn *pg = PQconnectdb(sm->url);
  if (PQstatus(pg) != CONNECTION_OK) {
    PQfinish(pg);
    return NULL;
  }
  while (!sm->stop) {
    PGresult *r = PQexec(pg, "SELECT count(*) FILTER (WHERE state <> 'idle'), "
                             "count(*) FILTER (WHERE wait_event_type = 'Lock'), "
                             "count(*) FILTER (WHERE state = 'idle in transaction') "
                             "FROM pg_stat_activity WHERE usename = 'clientflow_server' "
                             "AND query NOT LIKE 'LISTEN%'");
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
      sm->busy += atol(PQgetvalue(r, 0, 0));
      sm->lock += atol(PQgetvalue(r, 0, 1));
      sm->idle_tx += atol(PQgetvalue(r, 0, 2));
    }
    PQclear(r);
    struct timespec ts = {0, 20 * 1000000};
    nanosleep(&ts, NULL);
  }
  PQfinish(pg);
  return NULL;
}

static const char *admin_url_g;

/* One run: n devices, spread over norgs orgs of run r. */
static result run(PGconn *admin, const char *dir, const char *url, int r, int n,
                  int norgs, int rows) {
  char sql[1024];
  device *d = calloc((size_t)n, sizeof *d);
  pthread_t *th = calloc((size_t)n, sizeof *th);
  if (d == NULL || th == NULL) die("out of memory", "");
  for (int o = 0; o < norgs; o++) {
    char org[37];
    org_id(r, o, org);
    snprintf(sql, sizeof sql,
             "INSERT INTO organizations (id, name, slug) VALUES ('%s', 'Bench %d.%d', "
             "'bench-%d-%d')",
             org, r, o, r, o);
    exec_or_die(admin, sql);
  }
  for (int i = 0; i < n; i++) {
    d[i].index = i;
    org_id(r, i % norgs, d[i].org);
    user_id(i, d[i].user);
    d[i].url = url;
    d[i].rows = rows;
    snprintf(
        sql, sizeof sql,
        "INSERT INTO memberships (org_id, user_id, role) VALUES ('%s', '%s', 'member')",
        d[i].org, d[i].user);
    exec_or_die(admin, sql);
    snprintf(d[i].path, sizeof d[i].path, "%s/dev-%d-%d.db", dir, r, i);
    if (cf_node_open(d[i].path, d[i].org, d[i].user, &d[i].node) != CF_OK)
      die("cf_node_open", cf_node_errmsg(NULL));
    if (sync_once(&d[i], 0) != CF_OK) die("bootstrap", d[i].err);
  }
  if (pthread_barrier_init(&start_line, NULL, (unsigned)n + 1) != 0) die("barrier", "");
  for (int i = 0; i < n; i++)
    if (pthread_create(&th[i], NULL, device_main, &d[i]) != 0) die("thread", "");
  sampler sm = {admin_url_g, 0, 0, 0, 0};
  pthread_t sth;
  if (pthread_create(&sth, NULL, sampler_main, &sm) != 0) die("thread", "sampler");
  double cpu0 = srv_cpu_s(), gen0 = self_cpu_s(), pgc0 = pg_cpu_s();
  int64_t t0 = now_ns();
  pthread_barrier_wait(&start_line);
  for (int i = 0; i < n; i++)
    pthread_join(th[i], NULL);
  int64_t t1 = now_ns();
  double cpu1 = srv_cpu_s(), gen1 = self_cpu_s(), pgc1 = pg_cpu_s();
  sm.stop = 1;
  pthread_join(sth, NULL);
  pthread_barrier_destroy(&start_line);
  result res;
  memset(&res, 0, sizeof res);
  int64_t *lat = calloc((size_t)n, sizeof *lat);
  if (lat == NULL) die("out of memory", "");
  for (int i = 0; i < n; i++) {
    if (d[i].err[0]) die("device", d[i].err);
    lat[i] = d[i].push_ns;
    res.pulled += d[i].pulled;
  }
  res.lock_pct = sm.busy ? 100.0 * (double)sm.lock / (double)sm.busy : 0;
  res.idle_tx_pct = sm.busy ? 100.0 * (double)sm.idle_tx / (double)sm.busy : 0;
  qsort(lat, (size_t)n, sizeof *lat, cmp_i64);
  double wall = (double)(t1 - t0) / 1e9;
  /* Where the devices' sync time goes: the push (connect, HELLO, PUSH
  ** round trips) against the pull that follows it. */
  int64_t last_push_end = t0, push_sum = 0, sync_sum = 0;
  int64_t *pull = calloc((size_t)n, sizeof *pull);
  if (pull == NULL) die("out of memory", "");
  for (int i = 0; i < n; i++) {
    if (d[i].push_end > last_push_end) last_push_end = d[i].push_end;
    pull[i] = d[i].push_end ? d[i].done_ns - d[i].push_end : 0;
    push_sum += d[i].push_ns;
    sync_sum += d[i].done_ns - d[i].run_t0;
  }
  qsort(pull, (size_t)n, sizeof *pull, cmp_i64);
  res.push_rows_s = (double)n * rows / ((double)(last_push_end - t0) / 1e9);
  res.pull_p50_ms = (double)pull[(n - 1) / 2] / 1e6;
  res.pull_p99_ms = (double)pull[(int)((n - 1) * 0.99 + 0.5)] / 1e6;
  res.push_share = sync_sum > 0 ? 100.0 * (double)push_sum / (double)sync_sum : 0;
  free(pull);
  res.rows_s = (double)n * rows / wall;
  res.p50_ms = (double)lat[(n - 1) / 2] / 1e6;
  res.p99_ms = (double)lat[(int)((n - 1) * 0.99 + 0.5)] / 1e6;
  res.cpu_pct = 100.0 * (cpu1 - cpu0) / wall;
  res.gen_pct = 100.0 * (gen1 - gen0) / wall;
  res.pg_pct = 100.0 * (pgc1 - pgc0) / wall;
  res.rss_kib = srv_rss_kib();
  for (int i = 0; i < n; i++) {
    cf_node_close(d[i].node);
    unlink(d[i].path);
  }
  free(lat);
  free(d);
  free(th);
  return res;
}

int main(int argc, char **argv) {
  int rows = argc > 1 ? atoi(argv[1]) : 100;
  int counts[16], ncounts = 0;
  const char *list = argc > 2 ? argv[2] : "1,4,16,64";
  for (const char *p = list; *p && ncounts < 16;) {
    counts[ncounts] = atoi(p);
    if (counts[ncounts] < 1 || counts[ncounts] > MAX_DEVICES)
      die("usage", "bench_devices [ROWS] [DEVICES,...] (1..256 devices)");
    ncounts++;
    p = strchr(p, ',');
    if (p == NULL) break;
    p++;
  }
  if (rows < 1 || rows > 100000) die("usage", "bench_devices [ROWS 1..100000]");
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
  }
  signal(SIGPIPE, SIG_IGN);

  /* The clientflow program next to this one. */
  char exe[PATH_MAX];
  ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 16);
  if (len <= 0) die("readlink", "/proc/self/exe");
  exe[len] = '\0';
  char *slash = strrchr(exe, '/');
  if (slash == NULL) die("readlink", exe);
  strcpy(slash + 1, "clientflow");
  if (access(exe, X_OK) != 0) die("clientflow not built next to bench_devices", exe);

  char err[512];
  cf_pgcluster *pgc = NULL;
  if (cf_pgcluster_start(NULL, "cf_bench_devices", &pgc, err, sizeof err) != CF_OK)
    die("private cluster", err);
  char admin_url[512], srv_url[600];
  snprintf(admin_url, sizeof admin_url, "%s", cf_pgcluster_url(pgc));
  snprintf(srv_url, sizeof srv_url, "postgresql://clientflow_server%s",
           strchr(admin_url, '@'));
  cf_master *m = NULL;
  if (cf_master_open(admin_url, &m, err, sizeof err) != CF_OK) die("cf_master_open", err);
  if (cf_master_migrate_up(m) != CF_OK) die("migrate", cf_master_errmsg(m));
  cf_master_close(m);
  admin_url_g = admin_url;
  {
    char pidfile[PATH_MAX];
    snprintf(pidfile, sizeof pidfile, "%s/data/postmaster.pid", cf_pgcluster_dir(pgc));
    FILE *pf = fopen(pidfile, "r");
    if (pf == NULL || fscanf(pf, "%ld", &pg_postmaster) != 1) pg_postmaster = 0;
    if (pf != NULL) fclose(pf);
  }
  PGconn *admin = PQconnectdb(admin_url);
  if (PQstatus(admin) != CONNECTION_OK) die("connect", PQerrorMessage(admin));
  exec_or_die(
      admin, "DO $$ BEGIN "
             "IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'clientflow_server') "
             "THEN CREATE ROLE clientflow_server LOGIN; END IF; "
             "GRANT authenticator, cf_sync_server TO clientflow_server; END $$");
  int maxn = 0;
  for (int i = 0; i < ncounts; i++)
    if (counts[i] > maxn) maxn = counts[i];
  for (int u = 0; u < maxn; u++) {
    char sql[256], uid[37];
    user_id(u, uid);
    snprintf(sql, sizeof sql,
             "INSERT INTO users (id, email, full_name) VALUES ('%s', 'u%d@bench.test', "
             "'Device %d')",
             uid, u, u);
    exec_or_die(admin, sql);
  }
  int port = free_port();
  start_server(exe, srv_url, port);
  char url[128];
  snprintf(url, sizeof url, "ws://127.0.0.1:%d/sync", port);

  printf("bench_devices: %d contacts per device, then one sync (push, pull to head); "
         "clientflow serve --workers 4 (own process); loopback\n\n",
         rows);
  printf("| %7s | %-9s | %9s | %9s | %9s | %10s | %8s | %11s | %9s | %9s | %11s | "
         "%9s | %9s | %10s | %7s | %7s |\n",
         "devices", "layout", "rows/s", "push p50", "push p99", "server CPU", "srv RSS",
         "rows pulled", "lock wait", "idle in tx", "push rows/s", "pull p50", "pull p99",
         "push share", "gen CPU", "PG CPU");
  printf(
      "|---------|-----------|-----------|-----------|-----------|------------|----------"
      "|-------------|-----------|-----------|-------------|-----------|-----------|-----"
      "-"
      "------|---------|---------|\n");
  result one[16], spread[16];
  int runno = 0;
  for (int i = 0; i < ncounts; i++) {
    int n = counts[i];
    for (int layout = 0; layout < 2; layout++) {
      int norgs = layout == 0 ? 1 : NORGS;
      result r = run(admin, cf_pgcluster_dir(pgc), url, ++runno, n, norgs, rows);
      if (layout == 0)
        one[i] = r;
      else
        spread[i] = r;
      printf("| %7d | %-9s | %9.0f | %6.0f ms | %6.0f ms | %9.0f%% | %5ld MB | %11lld | "
             "%8.0f%% | %8.0f%% | %11.0f | %6.0f ms | %6.0f ms | %9.0f%% | %6.0f%% | "
             "%6.0f%% |\n",
             n, layout == 0 ? "one org" : "16 orgs", r.rows_s, r.p50_ms, r.p99_ms,
             r.cpu_pct, r.rss_kib / 1024, (long long)r.pulled, r.lock_pct, r.idle_tx_pct,
             r.push_rows_s, r.pull_p50_ms, r.pull_p99_ms, r.push_share, r.gen_pct,
             r.pg_pct);
      fflush(stdout);
    }
  }
  printf("\n");
  /* The goal rows (issue 14) for the largest device count run (64 by
  ** default). */
  int g = 0;
  for (int i = 1; i < ncounts; i++)
    if (counts[i] > counts[g]) g = i;
  char name[96], fig[48], base[64], val[32];
  double ratio = one[g].rows_s / spread[g].rows_s;
  snprintf(name, sizeof name, "%d devices in one org vs over 16 orgs", counts[g]);
  snprintf(base, sizeof base, "%.0f rows/s over 16 orgs", spread[g].rows_s);
  snprintf(val, sizeof val, "%.2fx", ratio);
  bench_row(name, bench_rate(fig, sizeof fig, one[g].rows_s, "rows/s"), base, val,
            ">=0.8x", ratio >= 0.8);
  snprintf(name, sizeof name, "%d devices in one org: push p99", counts[g]);
  snprintf(fig, sizeof fig, "%.0f ms", one[g].p99_ms);
  snprintf(base, sizeof base, "p50 %.0f ms", one[g].p50_ms);
  bench_row(name, fig, base, fig, "<=500 ms", one[g].p99_ms <= 500);
  kill(srv_pid, SIGTERM);
  int st;
  waitpid(srv_pid, &st, 0);
  PQfinish(admin);
  if (cf_pgcluster_stop(pgc) != CF_OK) die("stop cluster", "");
  return 0;
}
