/*
** bench/bench_crypt.c: what encryption at rest costs (issue 16, item 5;
** docs/encryption.md "Cost"), each figure against the same work on a
** plain replica in the same process and run.  Not a test; prints a table
** and one BENCHROW line per goal (bench/benchrow.h).
**
**   1. local write: N contacts through the `contacts` view in one
**      transaction (triggers, outbox), encrypted vs plain;
**   2. apply: N remote contacts merged by cf__store_apply in 5000-row
**      batches, encrypted vs plain;
**   3. open: cf_node_open of a replica of N contacts (raw key) vs plain,
**      then a full scan of the contacts; and an open with a passphrase
**      (PBKDF2, CF_CRYPT_KDF_ITERATIONS rounds).
**
** Usage: bench_crypt [N [ROUNDS]] (default 100000 rows, best of 3 rounds).
** Files go to a fresh directory under /tmp, removed at the end.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "benchrow.h"
#include "clientflow.h"
#include "core/row.h"
#include "core/schema.h"
#include "core/uuid.h"
#include "core/value.h"
#include "platform/platform.h"
#include "store/store.h"

#define ORG "0190f1a2-0000-7000-8000-00000000a001"
#define USER "0190f1a2-0000-7000-8000-00000000b001"
#define APPLY_BATCH 5000
#define PASSPHRASE "correct horse battery staple"

static const unsigned char KEY[32] = "bench-crypt-key-0123456789abcdef";

static double now_s(void) { return (double)cf__monotonic_ns() / 1e9; }

static void die(const char *what, const char *detail) {
  fprintf(stderr, "bench_crypt: %s: %s\n", what, detail ? detail : "");
  exit(1);
}

/* mode 0: plain, 1: raw key, 2: passphrase. */
static cf_node *open_mode(const char *path, int mode) {
  cf_node_options *o = NULL;
  if (cf_node_options_new(&o) != CF_OK) die("options", NULL);
  if (mode == 1 && cf_node_options_set_key(o, KEY) != CF_OK) die("key", NULL);
  if (mode == 2 &&
      cf_node_options_set_passphrase(o, PASSPHRASE, strlen(PASSPHRASE)) != CF_OK)
    die("passphrase", NULL);
  cf_node *n = NULL;
  if (cf_node_open_with(path, ORG, USER, o, &n) != CF_OK)
    die("open", cf_node_errmsg(NULL));
  cf_node_options_free(o);
  return n;
}

static void remove_replica(const char *path) {
  char p[600];
  const char *suffix[] = {"", "-wal", "-shm"};
  for (int i = 0; i < 3; i++) {
    snprintf(p, sizeof p, "%s%s", path, suffix[i]);
    unlink(p);
  }
}

static double bench_write(const char *path, size_t n, int mode) {
  remove_replica(path);
  cf_node *node = open_mode(path, mode);
  cf_stmt *st = NULL;
  if (cf_node_prepare(
          node,
          "INSERT INTO contacts (first_name, last_name, email, company, tags, "
          "metadata) VALUES (?1, ?2, ?3, ?4, '[\"a\",\"b\"]', ?5)",
          &st) != CF_OK)
    die("prepare", cf_node_errmsg(node));
  char first[32], last[32], email[64], company[32], meta[48];
  double t0 = now_s();
  if (cf_node_exec(node, "BEGIN") != CF_OK) die("begin", cf_node_errmsg(node));
  for (size_t i = 0; i < n; i++) {
    snprintf(first, sizeof first, "First%zu", i);
    snprintf(last, sizeof last, "Last%zu", i % 977);
    snprintf(email, sizeof email, "person%zu@example.test", i);
    snprintf(company, sizeof company, "Company %zu", i % 313);
    snprintf(meta, sizeof meta, "{\"source\":\"bench\",\"n\":%zu}", i);
    if (cf_stmt_bind_text(st, 1, first) != CF_OK ||
        cf_stmt_bind_text(st, 2, last) != CF_OK ||
        cf_stmt_bind_text(st, 3, email) != CF_OK ||
        cf_stmt_bind_text(st, 4, company) != CF_OK ||
        cf_stmt_bind_text(st, 5, meta) != CF_OK || cf_stmt_step(st) != CF_DONE)
      die("insert", cf_node_errmsg(node));
    cf_stmt_reset(st);
  }
  if (cf_node_exec(node, "COMMIT") != CF_OK) die("commit", cf_node_errmsg(node));
  double dt = now_s() - t0;
  cf_stmt_finalize(st);
  cf_node_close(node);
  return dt;
}

static void set_text(cf_row *row, const cf_table *t, const char *col, const char *s,
                     const cf_ver *v) {
  cf_value val = s ? cf__value_text(s, strlen(s)) : cf__value_null();
  if (cf__row_set(row, (unsigned)cf__schema_column_index(t, col), &val, v) != CF_OK)
    die("row", col);
}

static double bench_apply(const char *path, size_t n, int mode) {
  remove_replica(path);
  cf_node *node = open_mode(path, mode);
  const cf_table *t = cf__schema_table_by_name("contacts");
  cf_row *batch = calloc(APPLY_BATCH, sizeof *batch);
  char(*text)[5][64] = calloc(APPLY_BATCH, sizeof *text);
  if (batch == NULL || text == NULL) die("out of memory", NULL);
  cf_nodeid remote;
  memset(&remote, 0x5a, sizeof remote);
  int64_t ms = cf__now_ms();
  double total = 0;
  for (size_t done = 0; done < n;) {
    size_t k = n - done < APPLY_BATCH ? n - done : APPLY_BATCH;
    for (size_t j = 0; j < k; j++) {
      size_t i = done + j;
      cf_row *ch = &batch[j];
      cf_ver v;
      cf__ver_make(CF_HLC_MAKE(ms, i % 60000), &remote, &v);
      snprintf(text[j][0], 64, "0190f1a2-0000-7000-8000-%012zx", i + 1);
      snprintf(text[j][1], 64, "Remote%zu", i);
      snprintf(text[j][2], 64, "remote%zu@example.test", i);
      snprintf(text[j][3], 64, "Company %zu", i % 313);
      snprintf(text[j][4], 64, "{\"n\":%zu}", i);
      cf__row_init(ch, t);
      set_text(ch, t, "org_id", ORG, NULL);
      set_text(ch, t, "id", text[j][0], NULL);
      set_text(ch, t, "first_name", text[j][1], &v);
      set_text(ch, t, "email", text[j][2], &v);
      set_text(ch, t, "company", text[j][3], &v);
      set_text(ch, t, "metadata", text[j][4], &v);
      cf__row_set_deleted(ch, 0, &v);
    }
    double t0 = now_s();
    if (cf__store_apply(node, batch, k, (int64_t)(done + k)) != CF_OK)
      die("apply", cf_node_errmsg(node));
    total += now_s() - t0;
    done += k;
  }
  free(batch);
  free(text);
  cf_node_close(node);
  return total;
}

/* Opens the replica at path (written before) and scans it: *open_s the
** open alone, *scan_s the count of every contact after it. */
static void bench_open(const char *path, int mode, size_t n, double *open_s,
                       double *scan_s) {
  double t0 = now_s();
  cf_node *node = open_mode(path, mode);
  double t1 = now_s();
  cf_stmt *st = NULL;
  if (cf_node_prepare(node, "SELECT count(*), max(email) FROM contacts", &st) != CF_OK ||
      cf_stmt_step(st) != CF_OK)
    die("scan", cf_node_errmsg(node));
  if ((size_t)cf_stmt_column_int64(st, 0) != n) die("scan", "wrong count");
  cf_stmt_finalize(st);
  double t2 = now_s();
  cf_node_close(node);
  *open_s = t1 - t0;
  *scan_s = t2 - t1;
}

static void min_of(double *best, double t) {
  if (t < *best) *best = t;
}

int main(int argc, char **argv) {
  size_t n = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 100000;
  int rounds = argc > 2 ? atoi(argv[2]) : 3;
  if (n == 0 || n > 5000000 || rounds < 1 || rounds > 20)
    die("usage", "bench_crypt [rows [rounds]]");
  char dir[] = "/tmp/cf-bench-crypt-XXXXXX";
  if (mkdtemp(dir) == NULL) die("mkdtemp", NULL);
  char plain[600], enc[600], pass[600], applied[600];
  snprintf(plain, sizeof plain, "%s/plain.db", dir);
  snprintf(enc, sizeof enc, "%s/enc.db", dir);
  snprintf(pass, sizeof pass, "%s/pass.db", dir);
  snprintf(applied, sizeof applied, "%s/apply.db", dir);
  double w[2] = {1e9, 1e9}, a[2] = {1e9, 1e9}, o[3] = {1e9, 1e9, 1e9},
         s[3] = {1e9, 1e9, 1e9};
  /* The machine is shared and noisy: interleave, keep each one's best. */
  for (int r = 0; r < rounds; r++) {
    min_of(&w[0], bench_write(plain, n, 0));
    min_of(&w[1], bench_write(enc, n, 1));
    min_of(&a[0], bench_apply(applied, n, 0));
    min_of(&a[1], bench_apply(applied, n, 1));
  }
  remove_replica(applied);
  /* The passphrase replica: a copy of the data under a passphrase. */
  remove_replica(pass);
  {
    double ignored = bench_write(pass, n, 2);
    (void)ignored;
  }
  for (int r = 0; r < rounds; r++) {
    double os, ss;
    for (int m = 0; m < 3; m++) {
      bench_open(m == 0 ? plain : m == 1 ? enc : pass, m, n, &os, &ss);
      min_of(&o[m], os);
      min_of(&s[m], ss);
    }
  }
  remove_replica(plain);
  remove_replica(enc);
  remove_replica(pass);
  rmdir(dir);

  printf("bench_crypt: %zu contacts, one process, best of %d rounds\n\n", n, rounds);
  printf("| %-52s | %9s | %11s | %8s |\n", "what", "seconds", "rows/s", "vs plain");
  printf("|%s|%s|%s|%s|\n", "------------------------------------------------------",
         "-----------", "-------------", "----------");
  printf("| %-52s | %9.3f | %11.0f | %8s |\n", "local write, plain (one transaction)",
         w[0], n / w[0], "1.00x");
  printf("| %-52s | %9.3f | %11.0f | %7.2fx |\n", "local write, encrypted", w[1],
         n / w[1], w[0] / w[1]);
  printf("| %-52s | %9.3f | %11.0f | %8s |\n", "apply, plain (5000-row batches)", a[0],
         n / a[0], "1.00x");
  printf("| %-52s | %9.3f | %11.0f | %7.2fx |\n", "apply, encrypted", a[1], n / a[1],
         a[0] / a[1]);
  const char *om[3] = {"plain", "encrypted, 256-bit key",
                       "encrypted, passphrase (PBKDF2)"};
  for (int m = 0; m < 3; m++) {
    char what[80];
    snprintf(what, sizeof what, "open, %s", om[m]);
    printf("| %-52s | %9.4f | %11s | %7.2fx |\n", what, o[m], "-", o[0] / o[m]);
    snprintf(what, sizeof what, "then scan every contact, %s", om[m]);
    printf("| %-52s | %9.4f | %11.0f | %7.2fx |\n", what, s[m], n / s[m], s[0] / s[m]);
  }
  char fig[64], base[64], val[32];
  double rw = w[0] / w[1], ra = a[0] / a[1];
  bench_rate(fig, sizeof fig, n / w[1], "rows/s");
  bench_rate(base, sizeof base, n / w[0], "rows/s plain");
  snprintf(val, sizeof val, "%.2fx", rw);
  bench_row("encrypted local write", fig, base, val, ">=0.8x", rw >= 0.8);
  bench_rate(fig, sizeof fig, n / a[1], "rows/s");
  bench_rate(base, sizeof base, n / a[0], "rows/s plain");
  snprintf(val, sizeof val, "%.2fx", ra);
  bench_row("encrypted apply", fig, base, val, ">=0.8x", ra >= 0.8);
  char name[96];
  snprintf(name, sizeof name, "open %zuk-row encrypted replica + scan", n / 1000);
  snprintf(fig, sizeof fig, "%.0f ms", (o[1] + s[1]) * 1e3);
  snprintf(base, sizeof base, "%.0f ms plain", (o[0] + s[0]) * 1e3);
  snprintf(val, sizeof val, "%.2fx", (o[0] + s[0]) / (o[1] + s[1]));
  bench_row(name, fig, base, val, ">=0.8x", (o[0] + s[0]) / (o[1] + s[1]) >= 0.8);
  snprintf(name, sizeof name, "open %zuk-row replica with a passphrase", n / 1000);
  snprintf(fig, sizeof fig, "%.0f ms", o[2] * 1e3);
  snprintf(base, sizeof base, "%.0f ms plain", o[0] * 1e3);
  snprintf(val, sizeof val, "%.0f ms", o[2] * 1e3);
  bench_row(name, fig, base, val, "<=1000 ms", o[2] <= 1.0);
  return 0;
}
