/*
** sim/real.c: the real-mode transport backend (sim_transport_real,
** docs/sim.md "Real mode"): the same scripts and invariants as the fast
** mode, but the server is a `clientflow serve` process on a loopback port
** and every sync is a `clientflow node sync` process speaking real
** WebSockets to it, some of them killed with SIGKILL in the middle.
**
** What differs from the in-process transport (sim/net.c):
**   - the run uses the real clock (a server process cannot share a
**     simulated one): `clock` and `tick` steps only move the harness's
**     own notion of time, and `replay` is not available (there is no
**     frame to replay from outside a process); both are no-ops here;
**   - what the master answered for each change is not observed (it happens
**     inside the node process), so the checks built on those answers (no
**     acknowledged cell lost, no change both applied and rejected) hold
**     vacuously; every state invariant -- each replica equals what the
**     master shows its user through RLS, replicas agree, outboxes empty,
**     rejections kept as conflicts, cursors at the head, isolation at every
**     step -- is checked as in the fast mode, on the replica files the
**     processes left behind;
**   - a node's replica lives in its own home (<run>/<node>/replica.db with
**     node.conf), as `clientflow node init` would leave it; the harness
**     closes its own handle before a node process runs and reopens it
**     after, so they never hold the file at once.
**
** This file runs processes itself (fork/exec/kill/waitpid): it is the
** harness, not the library, whose only OS calls are in platform/.
*/
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include "sim/world.h"

const char *sim_user_token(sim_world *w, int u);

/* The real-mode state of a run. */
struct sim_real {
  pid_t server;   /* the `clientflow serve` process, 0 if none */
  int port;       /* its loopback port */
  char url[128];  /* ws://127.0.0.1:PORT/sync */
  char log[1300]; /* the server's output */
  char exe[1024]; /* the clientflow program */
};

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void pause_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* Starts argv with env_add added, stdout and stderr to out_path (appended),
** stdin from /dev/null.  Returns the pid, or -1. */
static pid_t spawn(char *const argv[], char *const env_add[], const char *out_path) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  int fd = open("/dev/null", O_RDONLY);
  if (fd >= 0) dup2(fd, 0);
  fd = open(out_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (fd >= 0) {
    dup2(fd, 1);
    dup2(fd, 2);
  }
  for (int i = 0; env_add && env_add[i]; i++)
    putenv(env_add[i]);
  execv(argv[0], argv);
  _exit(127);
}

/* Waits for pid at most timeout_ms; kills it (SIGKILL) if it is still
** running then.  Returns its exit status (128 + signal when killed). */
static int wait_for(pid_t pid, int timeout_ms) {
  double until = now_ms() + timeout_ms;
  for (;;) {
    int st = 0;
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (r < 0 && errno != EINTR) return -1;
    if (now_ms() > until) {
      kill(pid, SIGKILL);
      waitpid(pid, &st, 0);
      return 128 + SIGKILL;
    }
    pause_ms(5);
  }
}

/* Whether something accepts TCP connections on 127.0.0.1:port. */
static int port_open(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
  close(fd);
  return ok;
}

int sim_real_start(sim_world *w, const char *server_url) {
  struct sim_real *r = calloc(1, sizeof *r);
  if (r == NULL) return sim_error(w, "out of memory");
  w->real = r;
  const char *exe = cf__self_exe();
  if (exe == NULL) return sim_error(w, "cannot find the clientflow program");
  snprintf(r->exe, sizeof r->exe, "%s", exe);
  if (cf__port_free_loopback(&r->port) != CF_OK) return sim_error(w, "no free port");
  snprintf(r->url, sizeof r->url, "ws://127.0.0.1:%d/sync", r->port);
  snprintf(r->log, sizeof r->log, "%s/server.log", w->run_dir);
  char port[16];
  snprintf(port, sizeof port, "%d", r->port);
  char *argv[] = {r->exe,   "serve",     "--database-url", (char *)server_url,
                  "--host", "127.0.0.1", "--port",         port,
                  NULL};
  static char secret[] = "JWT_SECRET=" SIM_SECRET;
  char *env[] = {secret, NULL};
  r->server = spawn(argv, env, r->log);
  if (r->server < 0) return sim_error(w, "cannot start clientflow serve");
  /* Up when its port accepts connections (or dead: its log says why). */
  double until = now_ms() + 30000;
  while (!port_open(r->port)) {
    int st = 0;
    if (waitpid(r->server, &st, WNOHANG) == r->server) {
      r->server = 0;
      char last[512];
      cf__file_last_line(r->log, last, sizeof last);
      return sim_error(w, "clientflow serve exited: %s", last);
    }
    if (now_ms() > until) return sim_error(w, "clientflow serve did not listen in 30 s");
    pause_ms(10);
  }
  return 0;
}

void sim_real_stop(sim_world *w) {
  struct sim_real *r = w->real;
  if (r == NULL) return;
  if (r->server > 0) {
    kill(r->server, SIGTERM);
    if (wait_for(r->server, 10000) < 0) kill(r->server, SIGKILL);
  }
  free(r);
  w->real = NULL;
}

int sim_real_node_home(sim_world *w, sim_node *n) {
  char dir[1250], conf[1400];
  snprintf(dir, sizeof dir, "%.1190s/%s", w->run_dir, n->name);
  if (mkdir(dir, 0700) != 0 && errno != EEXIST)
    return sim_error(w, "mkdir %s: %s", dir, strerror(errno));
  snprintf(n->path, sizeof n->path, "%s/replica.db", dir);
  snprintf(conf, sizeof conf, "%s/node.conf", dir);
  FILE *f = fopen(conf, "w");
  if (f == NULL) return sim_error(w, "cannot write %s", conf);
  fprintf(f, "org_id=%s\nuser_id=%s\n", w->orgs[n->org].id, w->users[n->user].id);
  fclose(f);
  return 0;
}

/* The node's replica knows its server (as `node init` leaves it); a plain
** replica keeps no token (docs/encryption.md): every sync is given it. */
static int save_settings(sim_world *w, sim_node *n) {
  if (cf_node_setting_set(n->node, "server_url", w->real->url) != CF_OK)
    return sim_error(w, "%s: cannot save the node's settings", n->name);
  return 0;
}

/* Reads "pushed N" and "pulled M rows" from a node's output. */
static void count_output(sim_world *w, const char *path) {
  FILE *f = fopen(path, "r");
  if (f == NULL) return;
  char line[1024];
  while (fgets(line, sizeof line, f)) {
    const char *p = strstr(line, ": pushed ");
    long long pushed = 0, applied = 0, superseded = 0, rejected = 0, pulled = 0;
    if (p && sscanf(p,
                    ": pushed %lld (applied %lld, superseded %lld, rejected %lld), "
                    "pulled %lld",
                    &pushed, &applied, &superseded, &rejected, &pulled) == 5) {
      w->count[SIM_PUSHED] += pushed;
      w->count[SIM_APPLIED] += applied;
      w->count[SIM_SUPERSEDED] += superseded;
      w->count[SIM_REJECTED] += rejected;
      w->count[SIM_PULLED] += pulled;
    }
  }
  fclose(f);
}

/* One `clientflow node sync` of node i; with kill_after_ms >= 0 it is
** killed (SIGKILL) that long after it started, whatever it was doing. */
static int node_process(sim_world *w, int i, int kill_after_ms) {
  sim_node *n = &w->nodes[i];
  char home[1250], out[1400];
  snprintf(home, sizeof home, "%.1190s/%s", w->run_dir, n->name);
  snprintf(out, sizeof out, "%s/sync.out", home);
  if (unlink(out) != 0 && errno != ENOENT) return sim_error(w, "unlink %s", out);
  char *token = (char *)sim_user_token(w, n->user);
  char *argv[] = {w->real->exe, "node", "sync", "--home", home, "--token", token, NULL};
  pid_t pid = spawn(argv, NULL, out);
  if (pid < 0) return sim_error(w, "cannot start clientflow node");
  if (kill_after_ms >= 0) {
    int st = wait_for(pid, kill_after_ms);
    if (st == 128 + SIGKILL) w->count[SIM_FAULT_KILL]++;
    return 0;
  }
  int st = wait_for(pid, 120000);
  if (st == 128 + SIGKILL) return sim_error(w, "%s: clientflow node sync hung", n->name);
  count_output(w, out);
  return 0;
}

static int real_sync(sim_world *w, const int *nodes, int n, uint64_t faults) {
  for (int k = 0; k < n && !w->failed; k++) {
    int i = nodes[k];
    sim_node *nd = &w->nodes[i];
    if (nd->offline) continue; /* partitioned: no connection at all */
    w->count[SIM_SYNCS]++;
    if (nd->node == NULL && sim_node_open(w, i) != 0) return -1;
    if (save_settings(w, nd) != 0) return -1;
    /* The harness lets go of the file while the node process has it. */
    cf__csess_free(nd->cs);
    nd->cs = NULL;
    cf_node_close(nd->node);
    nd->node = NULL;
    if (faults != 0) {
      /* A node process killed at a moment of the fault stream's choosing
      ** (connecting, pushing, pulling, committing), then a clean sync. */
      uint64_t x = faults * 0x9e3779b97f4a7c15ULL + (uint64_t)i;
      if (node_process(w, i, (int)(x % 400)) != 0) return -1;
    }
    if (node_process(w, i, -1) != 0) return -1;
    if (sim_node_open(w, i) != 0) return -1;
    if (sim_check_isolation(w) != 0) return -1;
  }
  return w->failed ? -1 : 0;
}

static int real_replay(sim_world *w, int i) {
  (void)w;
  (void)i;
  return 0; /* no frame to replay from outside a process (see the top) */
}

const sim_transport sim_transport_real = {"real", real_sync, real_replay};
