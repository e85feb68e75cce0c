/*
** tests/fault_fixture.h: helpers for the fault tests
** (tests/integration/test_fault_*.c; docs/faults.md says what each proves).
**
** Built on tests/sync_fixture.h (a fresh seeded database, the server's
** login role, tokens, nodes).  Adds what the fault tests need beyond it:
**
**  - child processes: `clientflow serve` and `clientflow node ...` started
**    with posix_spawn (the test process has threads; fork without exec
**    would be unsafe), killed with SIGKILL or stopped with SIGTERM, always
**    reaped;
**  - bounded waits: fx_wait_until polls an observable condition until a
**    deadline on the monotonic clock and fails the test when it passes.
**    A short pause between two looks is the only "sleep" here; nothing
**    relies on timing to be correct.
**
** Everything is `static inline`, like sync_fixture.h.
*/
#ifndef CF_FAULT_FIXTURE_H
#define CF_FAULT_FIXTURE_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sync_fixture.h"

extern char **environ;

/* One child process. */
typedef struct fx_proc {
  pid_t pid;  /* 0 when not running */
  int out_fd; /* read end of its stdout, or -1 */
  int status; /* waitpid status once reaped */
} fx_proc;

/* The clientflow program under test (ctest sets CF_CLIENTFLOW). */
static inline const char *fx_clientflow(void) {
  const char *p = getenv("CF_CLIENTFLOW");
  CHECK_MSG(p != NULL && p[0], "CF_CLIENTFLOW is not set: run through ctest");
  return p;
}

/* Children still running when the process exits (a failed CHECK leaves the
** test early) are killed, so no server outlives its test. */
#define FX_MAX_CHILDREN 64
static pid_t fx_children[FX_MAX_CHILDREN]; /* running children, 0 = free slot */

static inline void fx_kill_children_at_exit(void) {
  for (int i = 0; i < FX_MAX_CHILDREN; i++)
    if (fx_children[i] > 0) {
      kill(fx_children[i], SIGKILL);
      waitpid(fx_children[i], NULL, 0);
      fx_children[i] = 0;
    }
}

static inline void fx_track(pid_t pid, pid_t replace) {
  static int registered;
  if (!registered) {
    registered = 1;
    atexit(fx_kill_children_at_exit);
  }
  for (int i = 0; i < FX_MAX_CHILDREN; i++)
    if (fx_children[i] == replace) {
      fx_children[i] = pid;
      return;
    }
}

/*
** Starts argv[0] with argv, the environment plus extra (NULL-terminated
** "NAME=value" strings, may be NULL), stdout into a pipe if capture (else
** /dev/null), stderr appended to log_path (NULL: inherited).
*/
static inline void fx_spawn(fx_proc *p, char *const argv[], char *const extra[],
                            int capture, const char *log_path) {
  memset(p, 0, sizeof *p);
  p->out_fd = -1;
  size_t nenv = 0, nextra = 0;
  while (environ[nenv])
    nenv++;
  while (extra && extra[nextra])
    nextra++;
  char **envp = calloc(nenv + nextra + 1, sizeof *envp);
  CHECK(envp != NULL);
  size_t k = 0;
  for (size_t i = 0; i < nextra; i++)
    envp[k++] = extra[i];
  for (size_t i = 0; i < nenv; i++) {
    /* An extra variable replaces the inherited one of the same name. */
    int dup = 0;
    for (size_t j = 0; j < nextra && !dup; j++) {
      const char *eq = strchr(extra[j], '=');
      size_t n = eq ? (size_t)(eq - extra[j]) + 1 : strlen(extra[j]);
      dup = strncmp(environ[i], extra[j], n) == 0;
    }
    if (!dup) envp[k++] = environ[i];
  }
  envp[k] = NULL;
  posix_spawn_file_actions_t fa;
  CHECK(posix_spawn_file_actions_init(&fa) == 0);
  int pipefd[2] = {-1, -1};
  if (capture) {
    CHECK(pipe(pipefd) == 0);
    CHECK(fcntl(pipefd[0], F_SETFD, FD_CLOEXEC) == 0);
    CHECK(fcntl(pipefd[1], F_SETFD, FD_CLOEXEC) == 0);
    CHECK(posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1) == 0);
  } else {
    CHECK(posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0) == 0);
  }
  if (log_path)
    CHECK(posix_spawn_file_actions_addopen(&fa, 2, log_path,
                                           O_WRONLY | O_CREAT | O_APPEND, 0644) == 0);
  int rc = posix_spawn(&p->pid, argv[0], &fa, NULL, argv, envp);
  posix_spawn_file_actions_destroy(&fa);
  free(envp);
  if (capture) {
    close(pipefd[1]);
    p->out_fd = pipefd[0];
  }
  CHECK_MSG(rc == 0, "posix_spawn %s: %s", argv[0], strerror(rc));
  fx_track(p->pid, 0);
}

/* Waits for p to exit, at most timeout_ms (then kills it and fails). Returns
** its exit code, or 128+signal. */
static inline int fx_reap(fx_proc *p, int timeout_ms) {
  if (p->pid == 0) return p->status;
  int64_t deadline = sfx_monotonic_ms() + timeout_ms;
  for (;;) {
    pid_t r = waitpid(p->pid, &p->status, WNOHANG);
    if (r == p->pid) {
      fx_track(0, p->pid);
      break;
    }
    CHECK_MSG(r == 0, "waitpid: %s", strerror(errno));
    if (sfx_monotonic_ms() > deadline) {
      kill(p->pid, SIGKILL);
      waitpid(p->pid, &p->status, 0);
      fx_track(0, p->pid);
      p->pid = 0;
      CHECK_MSG(0, "child process did not exit within %d ms", timeout_ms);
    }
    cf__sleep_ms(2);
  }
  p->pid = 0;
  if (p->out_fd >= 0) close(p->out_fd);
  p->out_fd = -1;
  p->status = WIFEXITED(p->status) ? WEXITSTATUS(p->status) : 128 + WTERMSIG(p->status);
  return p->status;
}

/* SIGKILL, then reap.  Returns what fx_reap returns. */
static inline int fx_kill(fx_proc *p) {
  if (p->pid == 0) return p->status;
  kill(p->pid, SIGKILL);
  return fx_reap(p, 10000);
}

/* SIGTERM (a graceful stop), then reap within 15 s. */
static inline int fx_term(fx_proc *p) {
  if (p->pid == 0) return p->status;
  kill(p->pid, SIGTERM);
  return fx_reap(p, 15000);
}

/* Runs argv to completion (at most timeout_ms) and returns its exit code. */
static inline int fx_run(char *const argv[], char *const extra[], const char *log_path,
                         int timeout_ms) {
  fx_proc p;
  fx_spawn(&p, argv, extra, 0, log_path);
  return fx_reap(&p, timeout_ms);
}

/*
** Reads p's stdout until a line starting with prefix arrives (at most
** timeout_ms); copies the rest of that line into rest[cap].
*/
static inline void fx_read_line(fx_proc *p, const char *prefix, char *rest, size_t cap,
                                int timeout_ms) {
  char line[512];
  size_t n = 0;
  int64_t deadline = sfx_monotonic_ms() + timeout_ms;
  for (;;) {
    int64_t left = deadline - sfx_monotonic_ms();
    CHECK_MSG(left > 0, "no line \"%s...\" from the child within %d ms", prefix,
              timeout_ms);
    struct pollfd pfd = {p->out_fd, POLLIN, 0};
    int r = poll(&pfd, 1, (int)left);
    if (r <= 0) continue;
    char c;
    ssize_t got = read(p->out_fd, &c, 1);
    CHECK_MSG(got == 1, "the child closed its output before \"%s\"", prefix);
    if (c != '\n') {
      if (n + 1 < sizeof line) line[n++] = c;
      continue;
    }
    line[n] = '\0';
    n = 0;
    if (strncmp(line, prefix, strlen(prefix)) == 0) {
      size_t want = strlen(line + strlen(prefix));
      if (want >= cap) want = cap - 1;
      memcpy(rest, line + strlen(prefix), want);
      rest[want] = '\0';
      return;
    }
  }
}

/* <tmp>/<name>.log in buf[cap], for a child's stderr. */
static inline char *fx_log_path(const char *name, char *buf, size_t cap) {
  snprintf(buf, cap, "%s/%s.log", cf_test_tmpdir(), name);
  return buf;
}

/*
** Starts `clientflow serve` for f's database on port (0: any) as a child
** process; returns the port it listens on.  Its log goes to <tmp>/<name>.log.
*/
static inline int fx_serve(sync_fx *f, fx_proc *p, int port, const char *name) {
  char portbuf[16], log[4300];
  snprintf(portbuf, sizeof portbuf, "%d", port);
  char *argv[] = {
      (char *)fx_clientflow(), "serve",    "--port", portbuf, "--workers", "2",
      "--database-url",        f->srv_url, NULL};
  char *extra[] = {"JWT_SECRET=" SFX_SECRET, "CF_LOG_LEVEL=debug", NULL};
  fx_spawn(p, argv, extra, 1, fx_log_path(name, log, sizeof log));
  char rest[128];
  fx_read_line(p, "listening on 127.0.0.1:", rest, sizeof rest, 20000);
  int got = atoi(rest);
  CHECK_MSG(got > 0, "bad listening line: %s", rest);
  return got;
}

/*
** Polls cond(ctx) every few milliseconds until it returns non-zero or
** timeout_ms pass; then fails the test naming what.
*/
static inline void fx_wait_until(int (*cond)(void *ctx), void *ctx, int timeout_ms,
                                 const char *what) {
  int64_t deadline = sfx_monotonic_ms() + timeout_ms;
  while (!cond(ctx)) {
    CHECK_MSG(sfx_monotonic_ms() < deadline, "timed out after %d ms waiting for %s",
              timeout_ms, what);
    cf__sleep_ms(5);
  }
}

/* A fresh connection to url (for a reader on another thread). */
static inline PGconn *fx_connect(const char *url) {
  PGconn *c = PQconnectdb(url);
  CHECK_MSG(PQstatus(c) == CONNECTION_OK, "connect: %s", PQerrorMessage(c));
  return c;
}

/* The first value of sql on conn as a number (-1 if NULL, no row or error). */
static inline long long fx_pg_num(PGconn *c, const char *sql) {
  PGresult *r = PQexec(c, sql);
  long long v = -1;
  if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
    v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
  PQclear(r);
  return v;
}

/* A valid UUIDv7-shaped id for the n-th object a test makes, from tag. */
static inline void fx_uuid(char out[CF_UUID_TEXT_LEN], unsigned tag,
                           unsigned long long n) {
  snprintf(out, CF_UUID_TEXT_LEN, "01936b2a-%04x-7000-8000-%012llx", tag & 0xffffu,
           n & 0xffffffffffffULL);
}

/* --- a private cluster a test may restart --------------------------------- */

#define FX_PG_BIN "/usr/lib/postgresql/15/bin"

static cf_pgcluster *fx_cluster; /* the test's private cluster, or NULL */

static inline void fx_cluster_stop_at_exit(void) {
  if (fx_cluster) (void)cf_pgcluster_stop(fx_cluster);
  fx_cluster = NULL;
}

/*
** Starts a private cluster (the shared test cluster serves tests running in
** parallel, so a test that restarts Postgres needs its own) with database
** dbname migrated and seeded and the login role clientflow_server, and
** fills f's URLs and admin connection (no server yet).  Stopped at exit.
*/
static inline void fx_cluster_open(sync_fx *f, const char *dbname) {
  char err[512];
  int rc = cf_pgcluster_start(NULL, dbname, &fx_cluster, err, sizeof err);
  CHECK_MSG(rc == CF_OK, "private cluster: %s", err);
  atexit(fx_cluster_stop_at_exit);
  memset(f, 0, sizeof *f);
  snprintf(f->admin_url, sizeof f->admin_url, "%s", cf_pgcluster_url(fx_cluster));
  /* postgresql://postgres@127.0.0.1:PORT/db -> the server's login */
  const char *at = strchr(f->admin_url, '@');
  CHECK(at != NULL);
  snprintf(f->srv_url, sizeof f->srv_url, "postgresql://clientflow_server%s", at);
  cf_master *m = NULL;
  rc = cf_master_open(f->admin_url, &m, err, sizeof err);
  CHECK_MSG(rc == CF_OK, "cf_master_open: %s", err);
  rc = cf_master_migrate_up(m);
  if (rc == CF_OK) rc = cf_master_seed(m);
  snprintf(err, sizeof err, "%s", cf_master_errmsg(m));
  cf_master_close(m);
  CHECK_MSG(rc == CF_OK, "migrate/seed: %s", err);
  f->admin = fx_connect(f->admin_url);
  sfx_sql(
      f,
      "DO $$ BEGIN "
      "IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'clientflow_server') THEN "
      "CREATE ROLE clientflow_server LOGIN; END IF; "
      "GRANT authenticator, cf_sync_server TO clientflow_server; END $$");
}

/* Restarts the private cluster (pg_ctl restart -m fast, as postgres) and
** reconnects f's admin connection. */
static inline void fx_cluster_restart(sync_fx *f) {
  char data[4200], log[4200], ctl_log[4300];
  snprintf(data, sizeof data, "%s/data", cf_pgcluster_dir(fx_cluster));
  snprintf(log, sizeof log, "%s/log", cf_pgcluster_dir(fx_cluster));
  char *restart[] = {"/usr/sbin/runuser",
                     "-u",
                     "postgres",
                     "--",
                     FX_PG_BIN "/pg_ctl",
                     "restart",
                     "-D",
                     data,
                     "-m",
                     "fast",
                     "-w",
                     "-t",
                     "60",
                     "-l",
                     log,
                     NULL};
  CHECK_EQ(fx_run(restart, NULL, fx_log_path("pg_ctl", ctl_log, sizeof ctl_log), 90000),
           0);
  printf("postgres restarted\n");
  PQreset(f->admin);
}

#endif /* CF_FAULT_FIXTURE_H */
