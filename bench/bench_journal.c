/*
** bench/bench_journal.c: what the change journal (store/notify.c) costs a
** local write, measured in one process against the same replica code with
** the capture switched off.  Not a test; prints a table and its BENCHROWs.
**
** Two replica files, written alternately round after round: one as the
** library opens it (an update hook notes each changed row, each transaction
** adds one journal row before it commits), one whose update hook is
** removed after opening (nothing is captured, so no journal row is
** written either: the library's write path as it was before the journal).
**   1. bulk: N contacts through the view in one transaction (prepared);
**   2. small: T transactions of one contact each (cf_node_exec outside a
**      transaction, fsync per commit), the two replicas taking turns
**      commit by commit (an fsync's latency moves too much from one moment
**      to the next for whole runs taken one after the other to compare).
** Bulk: best of ROUNDS; small: all commits of all ROUNDS summed per side.
** The figure is the ratio with / without.
**
** Usage: bench_journal [N [T [ROUNDS]]] (default 50000 200 3).  Files go
** to a fresh directory under /tmp, removed at the end.  It reaches into the
** node (store/store_int.h) only to remove the hook.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/benchrow.h"
#include "clientflow.h"
#include "platform/platform.h"
#include "store/store_int.h"

#define ORG "0190f1a2-0000-7000-8000-00000000a001"
#define USER "0190f1a2-0000-7000-8000-00000000b001"

static double now_s(void) { return (double)cf__monotonic_ns() / 1e9; }

static void die(const char *what, const char *detail) {
  fprintf(stderr, "bench_journal: %s: %s\n", what, detail);
  exit(1);
}

/* A fresh replica file dir/name; capture 0 removes the update hook. */
static cf_node *open_node(const char *dir, const char *name, int capture) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  unlink(path);
  cf_node *node = NULL;
  if (cf_node_open(path, ORG, USER, &node) != CF_OK) die("open", cf_node_errmsg(NULL));
  if (!capture) sqlite3_update_hook(node->db, NULL, NULL);
  return node;
}

/* n contacts in one transaction; returns rows/s. */
static double bulk(const char *dir, int capture, int n, int round) {
  char name[64];
  snprintf(name, sizeof name, "bulk-%d-%d.db", capture, round);
  cf_node *node = open_node(dir, name, capture);
  cf_stmt *st = NULL;
  if (cf_node_prepare(node,
                      "INSERT INTO contacts (first_name, last_name, email, company) "
                      "VALUES (?1, 'Lovelace', ?1 || '@example.com', 'Analytical')",
                      &st) != CF_OK)
    die("prepare", cf_node_errmsg(node));
  double t0 = now_s();
  if (cf_node_exec(node, "BEGIN") != CF_OK) die("begin", cf_node_errmsg(node));
  for (int i = 0; i < n; i++) {
    char first[32];
    snprintf(first, sizeof first, "ada%d", i);
    if (cf_stmt_bind_text(st, 1, first) != CF_OK || cf_stmt_step(st) != CF_DONE)
      die("insert", cf_node_errmsg(node));
    if (cf_stmt_reset(st) != CF_OK) die("reset", cf_node_errmsg(node));
  }
  if (cf_node_exec(node, "COMMIT") != CF_OK) die("commit", cf_node_errmsg(node));
  double dt = now_s() - t0;
  cf_stmt_finalize(st);
  cf_node_close(node);
  return n / dt;
}

/* t one-row transactions on each of two replicas, one with the capture and
** one without, taken in turns (who goes first alternates) so that the
** disk's fsync latency, which moves a lot from one moment to the next,
** falls on both alike; spent[1] (with) and spent[0] (without) grow by the
** seconds each side's commits took. */
static void small_pair(const char *dir, int t, int round, double spent[2]) {
  char name[64];
  snprintf(name, sizeof name, "small-1-%d.db", round);
  cf_node *with = open_node(dir, name, 1);
  snprintf(name, sizeof name, "small-0-%d.db", round);
  cf_node *without = open_node(dir, name, 0);
  for (int i = 0; i < t; i++) {
    for (int k = 0; k < 2; k++) {
      int capture = (i + k) % 2;
      cf_node *node = capture ? with : without;
      double t0 = now_s();
      if (cf_node_exec(node, "INSERT INTO contacts (first_name) VALUES ('grace')") !=
          CF_OK)
        die("insert", cf_node_errmsg(node));
      spent[capture] += now_s() - t0;
    }
  }
  cf_node_close(with);
  cf_node_close(without);
}

static double best(double a, double b) { return a > b ? a : b; }

static void row(const char *name, double with, double without, const char *unit) {
  char fig[64], base[64], val[32];
  bench_rate(fig, sizeof fig, with, unit);
  char tmp[48];
  snprintf(base, sizeof base, "%s without capture",
           bench_rate(tmp, sizeof tmp, without, unit));
  double ratio = without > 0 ? with / without : 0;
  snprintf(val, sizeof val, "%.3fx", ratio);
  bench_row(name, fig, base, val, ">=0.95x", ratio >= 0.95);
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 50000;
  int t = argc > 2 ? atoi(argv[2]) : 200;
  int rounds = argc > 3 ? atoi(argv[3]) : 3;
  if (n < 1 || t < 1 || rounds < 1) die("usage", "bench_journal [N [T [ROUNDS]]]");
  char dir[] = "/tmp/cf-bench-journal-XXXXXX";
  if (mkdtemp(dir) == NULL) die("mkdtemp", "failed");
  double bulk_on = 0, bulk_off = 0, small_on = 0, small_off = 0;
  double spent[2] = {0, 0}; /* seconds of the one-row commits: [1] with capture */
  for (int r = 0; r < rounds;
       r++) { /* alternate who goes first, so load hits both alike */
    int first = r % 2;
    for (int k = 0; k < 2; k++) {
      int capture = k == 0 ? first : !first;
      double b = bulk(dir, capture, n, r);
      if (capture)
        bulk_on = best(bulk_on, b);
      else
        bulk_off = best(bulk_off, b);
    }
    small_pair(dir, t, r, spent);
  }
  small_on = (double)t * rounds / spent[1];
  small_off = (double)t * rounds / spent[0];
  printf("| %-52s | %12s | %12s | %7s |\n", "local writes (best of rounds)",
         "with journal", "without", "ratio");
  printf("|------------------------------------------------------|--------------|-------"
         "-------|---------|\n");
  printf("| %-52s | %12.0f | %12.0f | %6.3fx |\n", "rows/s, one transaction of N rows",
         bulk_on, bulk_off, bulk_on / bulk_off);
  printf("| %-52s | %12.0f | %12.0f | %6.3fx |\n", "transactions/s, one row each (fsync)",
         small_on, small_off, small_on / small_off);
  row("journal cost, bulk write", bulk_on, bulk_off, "rows/s");
  row("journal cost, one-row transactions", small_on, small_off, "tx/s");
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "bench_journal: could not remove %s\n", dir);
  return 0;
}
