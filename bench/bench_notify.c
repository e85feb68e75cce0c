/*
** bench/bench_notify.c: how soon a UI handle learns of a commit made on
** another handle of the same replica file (store/notify.c,
** docs/embedding.md).  Not a test; prints a table and its BENCHROW.
**
** A writer thread, with its own handle, commits one contact at a time
** through the view and notes the monotonic time cf_node_exec returned; the
** UI thread sleeps in cf_node_wait, calls cf_node_poll, and its change
** callback notes when the event arrived.  The writer waits for each event
** before the next commit, so every latency is one commit's alone.  The
** figure is the median and 99th percentile of (event - commit returned);
** the baseline is the commit itself (cf_node_exec's own time, fsync
** included), against which the delivery is a fraction.  The goal is on the
** median; the tail follows the machine's load as the commit's own does.
**
** Usage: bench_notify [COMMITS] (default 300).  Files go to a fresh
** directory under /tmp, removed at the end.
*/
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/benchrow.h"
#include "clientflow.h"
#include "platform/platform.h"

#define ORG "0190f1a2-0000-7000-8000-00000000a001"
#define USER "0190f1a2-0000-7000-8000-00000000b001"

static char path[512];
static int commits = 300;
static _Atomic int64_t committed_ns; /* when the writer's exec returned */
static _Atomic int acked;            /* events the UI received */
static int64_t *latency_ns;          /* per commit: event - commit */
static int64_t *commit_ns;           /* per commit: the exec's own time */

static void die(const char *what, const char *detail) {
  fprintf(stderr, "bench_notify: %s: %s\n", what, detail);
  exit(1);
}

static void *writer(void *arg) {
  cf_node *node = NULL;
  if (cf_node_open(path, ORG, USER, &node) != CF_OK) die("open", cf_node_errmsg(NULL));
  for (int i = 0; i < commits; i++) {
    int64_t t0 = cf__monotonic_ns();
    if (cf_node_exec(node, "INSERT INTO contacts (first_name) VALUES ('w')") != CF_OK)
      die("write", cf_node_errmsg(node));
    int64_t t1 = cf__monotonic_ns();
    commit_ns[i] = t1 - t0;
    atomic_store(&committed_ns, t1);
    while (atomic_load(&acked) <= i) /* the UI's event for this commit */
      cf__sleep_ms(0);
  }
  cf_node_close(node);
  return NULL;
}

static void on_changes(void *ctx, const cf_change_event *ev) {
  int n = atomic_load(&acked);
  if (n < commits) latency_ns[n] = cf__monotonic_ns() - atomic_load(&committed_ns);
  atomic_store(&acked, n + 1);
}

static int cmp(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  if (argc > 1) commits = atoi(argv[1]);
  if (commits < 10) die("usage", "bench_notify [COMMITS >= 10]");
  char dir[] = "/tmp/cf-bench-notify-XXXXXX";
  if (mkdtemp(dir) == NULL) die("mkdtemp", "failed");
  snprintf(path, sizeof path, "%s/r.db", dir);
  latency_ns = calloc((size_t)commits, sizeof *latency_ns);
  commit_ns = calloc((size_t)commits, sizeof *commit_ns);
  if (latency_ns == NULL || commit_ns == NULL) die("calloc", "out of memory");
  cf_node *ui = NULL;
  if (cf_node_open(path, ORG, USER, &ui) != CF_OK) die("open", cf_node_errmsg(NULL));
  cf_node_on_changes(ui, on_changes, NULL);
  pthread_t t;
  if (pthread_create(&t, NULL, writer, NULL) != 0) die("thread", "cannot start");
  while (atomic_load(&acked) < commits) {
    (void)cf_node_wait(ui, 1000);
    if (cf_node_poll(ui) != CF_OK) die("poll", cf_node_errmsg(ui));
  }
  pthread_join(t, NULL);
  cf_node_close(ui);
  qsort(latency_ns, (size_t)commits, sizeof *latency_ns, cmp);
  qsort(commit_ns, (size_t)commits, sizeof *commit_ns, cmp);
  double med = (double)latency_ns[commits / 2] / 1e3;
  double p99 = (double)latency_ns[commits * 99 / 100] / 1e3;
  double commit_med = (double)commit_ns[commits / 2] / 1e3;
  printf("| %-46s | %10s | %10s |\n", "what (microseconds)", "median", "p99");
  printf(
      "|------------------------------------------------|------------|------------|\n");
  printf("| %-46s | %10.0f | %10.0f |\n", "commit (cf_node_exec, one row, fsync)",
         commit_med, (double)commit_ns[commits * 99 / 100] / 1e3);
  printf("| %-46s | %10.0f | %10.0f |\n", "commit returned -> UI handle's change event",
         med, p99);
  char fig[64], base[64], val[32];
  snprintf(fig, sizeof fig, "%.0f us median, %.0f us p99", med, p99);
  snprintf(base, sizeof base, "%.0f us commit", commit_med);
  snprintf(val, sizeof val, "%.2fx commit", commit_med > 0 ? med / commit_med : 0.0);
  /* The median is the goal: the tail follows the machine's load (the commit's
  ** own p99 shows the same). */
  bench_row("change reaches another handle", fig, base, val, "median <= 1 ms",
            med <= 1000.0);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "bench_notify: could not remove %s\n", dir);
  free(latency_ns);
  free(commit_ns);
  return 0;
}
