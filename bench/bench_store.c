/*
** bench/bench_store.c: the replica's write and apply costs against SQLite
** baselines, in one process (issue 3, part 7).  Not a test; prints a table.
**
**   1. N contacts written through the `contacts` view (triggers: id, org,
**      canonical values, versions, outbox) vs N plain INSERTs into an
**      identical table without triggers (the master's columns and key) in a
**      database with the same settings.  Both in one transaction, with
**      prepared statements.  A second baseline inserts the same rows, with
**      the sync columns filled by the caller, into a copy of the replica's
**      own data table (its DDL and indexes, no views or triggers).
**   2. N remote rows applied through the merge (cf__store_apply, batches of
**      APPLY_BATCH rows) vs sqlite3changeset_apply() of the same rows into
**      an empty database.
**
** Usage: bench_store [N [ROUNDS]] (default 200000 rows, best of 3 rounds).  Files go to a
*fresh directory
** under /tmp, removed at the end.  SQLite is included here only for the
** baselines; the library's use of it is confined to store/.
*/
#define SQLITE_ENABLE_SESSION 1
#define SQLITE_ENABLE_PREUPDATE_HOOK 1
#include <sqlite3.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench/benchrow.h"
#include "clientflow.h"
#include "core/buf.h"
#include "core/row.h"
#include "core/schema.h"
#include "core/uuid.h"
#include "core/value.h"
#include "platform/platform.h"
#include "store/store.h"

#define ORG "0190f1a2-0000-7000-8000-00000000a001"
#define USER "0190f1a2-0000-7000-8000-00000000b001"
#define APPLY_BATCH 5000

/* The values of one generated contact. */
typedef struct gen_row {
  char id[CF_UUID_TEXT_LEN];      /* UUIDv7 */
  char first[32], last[32];       /* names */
  char email[64], company[32];    /* contact data */
  char meta[40];                  /* metadata JSON */
  char ts[CF_TIMESTAMP_TEXT_LEN]; /* created_at = updated_at */
} gen_row;

static double now_s(void) { return (double)cf__monotonic_ns() / 1e9; }

/* CPU seconds of this (single-threaded) process: on a loaded machine the
** wall times move with the load, the CPU times much less. */
static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
static double last_cpu; /* CPU seconds of the last measurement */

static void die(const char *what, const char *detail) {
  fprintf(stderr, "bench_store: %s: %s\n", what, detail ? detail : "");
  exit(1);
}

static gen_row *generate(size_t n) {
  gen_row *rows = calloc(n, sizeof *rows);
  if (rows == NULL) die("out of memory", NULL);
  int64_t base_us = cf__now_ms() * 1000;
  for (size_t i = 0; i < n; i++) {
    gen_row *r = &rows[i];
    cf_uuid u;
    if (cf__uuid_v7(&u) != CF_OK) die("uuid", NULL);
    cf__uuid_format(&u, r->id);
    snprintf(r->first, sizeof r->first, "First%zu", i);
    snprintf(r->last, sizeof r->last, "Last%zu", i % 5000);
    snprintf(r->email, sizeof r->email, "user%zu@example.com", i);
    snprintf(r->company, sizeof r->company, "Company %zu", i % 1000);
    snprintf(r->meta, sizeof r->meta, "{\"n\":%zu}", i);
    if (cf__timestamp_format(base_us + (int64_t)i, r->ts) != CF_OK)
      die("timestamp", NULL);
  }
  return rows;
}

/* --- raw SQLite helpers for the baselines ---------------------------------- */

static sqlite3 *open_plain(const char *path) {
  sqlite3 *db = NULL;
  if (sqlite3_open(path, &db) != SQLITE_OK) die("open", sqlite3_errmsg(db));
  /* The replica's settings (sql/sqlite/000_connection.sql). */
  if (sqlite3_exec(
          db,
          "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-65536;"
          "PRAGMA temp_store=MEMORY;",
          NULL, NULL, NULL) != SQLITE_OK)
    die("pragmas", sqlite3_errmsg(db));
  return db;
}

static void create_plain_table(sqlite3 *db, const char *name) {
  cf_buf b;
  cf__buf_init(&b, 1 << 16);
  if (cf__ddl_build_plain_table(cf__schema_table_by_name("contacts"), name, &b) != CF_OK)
    die("plain table", NULL);
  if (sqlite3_exec(db, b.p, NULL, NULL, NULL) != SQLITE_OK)
    die("create", sqlite3_errmsg(db));
  cf__buf_free(&b);
}

#define PLAIN_INSERT                                                                     \
  "INSERT INTO %s (org_id, id, first_name, last_name, email, phone, company, tags, "     \
  "metadata, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, NULL, ?6, "             \
  "'[\"a\",\"b\"]', "                                                                    \
  "?7, ?8, ?8)"

static void plain_insert_all(sqlite3 *db, const char *table, const gen_row *rows,
                             size_t n) {
  char sql[512];
  snprintf(sql, sizeof sql, PLAIN_INSERT, table);
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    die("prepare", sqlite3_errmsg(db));
  for (size_t i = 0; i < n; i++) {
    const gen_row *r = &rows[i];
    sqlite3_bind_text(st, 1, ORG, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, r->first, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, r->last, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, r->email, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, r->company, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, r->meta, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, r->ts, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) die("plain insert", sqlite3_errmsg(db));
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
}

static int on_conflict(void *ctx, int kind, sqlite3_changeset_iter *it) {
  return SQLITE_CHANGESET_ABORT;
}

/* --- the measurements -------------------------------------------------------- */

static double bench_plain(const char *dir, const gen_row *rows, size_t n) {
  char path[512];
  snprintf(path, sizeof path, "%s/plain.db", dir);
  sqlite3 *db = open_plain(path);
  create_plain_table(db, "contacts");
  double t0 = now_s(), c0 = cpu_now();
  sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
  plain_insert_all(db, "contacts", rows, n);
  if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
    die("commit", sqlite3_errmsg(db));
  double dt = now_s() - t0;
  last_cpu = cpu_now() - c0;
  sqlite3_close(db);
  return dt;
}

/* Baseline 2: the replica's own data table (cf_contacts: same DDL, indexes,
** version blob and pending-change columns, written by the app), copied from
** a replica file into a plain database, without views or triggers.  It
** separates the cost of the triggers from the cost of the extra bytes. */
static double bench_plain_replica_table(const char *dir, const gen_row *rows, size_t n) {
  char path[512], rpath[512];
  snprintf(rpath, sizeof rpath, "%s/schema.db", dir);
  cf_node *node = NULL;
  if (cf_node_open(rpath, ORG, USER, &node) != CF_OK)
    die("open replica", cf_node_errmsg(NULL));
  cf_buf ddl;
  cf__buf_init(&ddl, 1 << 20);
  cf_stmt *q = NULL;
  if (cf_node_prepare(
          node,
          "SELECT sql FROM sqlite_schema WHERE tbl_name = 'cf_contacts' AND sql"
          " IS NOT NULL ORDER BY type DESC",
          &q) != CF_OK)
    die("schema", cf_node_errmsg(node));
  while (cf_stmt_step(q) == CF_OK)
    if (cf__buf_puts(&ddl, cf_stmt_column_text(q, 0)) != CF_OK ||
        cf__buf_puts(&ddl, ";\n") != CF_OK)
      die("out of memory", NULL);
  cf_stmt_finalize(q);
  cf_node_close(node);

  snprintf(path, sizeof path, "%s/plain2.db", dir);
  sqlite3 *db = open_plain(path);
  if (sqlite3_exec(db, ddl.p, NULL, NULL, NULL) != SQLITE_OK)
    die("create", sqlite3_errmsg(db));
  cf__buf_free(&ddl);
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(
          db,
          "INSERT INTO cf_contacts (org_id, id, first_name, last_name, email, "
          "phone, company, tags, metadata, created_at, updated_at, deleted, _v, "
          "_seq, _tx, _mask) VALUES (?1, ?2, ?3, ?4, ?5, NULL, ?6, "
          "'[\"a\",\"b\"]', ?7, ?8, ?8, 0, ?9, ?10, ?10, 4095)",
          -1, &st, NULL) != SQLITE_OK)
    die("prepare", sqlite3_errmsg(db));
  unsigned char vblob[37];
  memset(vblob, 0x11, sizeof vblob);
  vblob[0] = 1;
  memset(vblob + 25, 0, 12);
  double t0 = now_s(), c0 = cpu_now();
  sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
  for (size_t i = 0; i < n; i++) {
    const gen_row *r = &rows[i];
    sqlite3_bind_text(st, 1, ORG, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, r->first, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, r->last, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, r->email, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, r->company, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, r->meta, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, r->ts, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 9, vblob, sizeof vblob, SQLITE_STATIC);
    sqlite3_bind_int64(st, 10, (sqlite3_int64)(((uint64_t)1 << 56) + i));
    if (sqlite3_step(st) != SQLITE_DONE) die("plain insert", sqlite3_errmsg(db));
    sqlite3_reset(st);
  }
  if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
    die("commit", sqlite3_errmsg(db));
  double dt = now_s() - t0;
  last_cpu = cpu_now() - c0;
  sqlite3_finalize(st);
  sqlite3_close(db);
  return dt;
}

static double bench_logged(const char *dir, const gen_row *rows, size_t n, int give_ids) {
  char path[512];
  snprintf(path, sizeof path, "%s/logged%d.db", dir, give_ids);
  cf_node *node = NULL;
  if (cf_node_open(path, ORG, USER, &node) != CF_OK)
    die("open replica", cf_node_errmsg(NULL));
  cf_stmt *st = NULL;
  const char *sql =
      give_ids ? "INSERT INTO contacts (id, first_name, last_name, email, company, tags, "
                 "metadata, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, "
                 "'[\"a\",\"b\"]', ?6, ?7, ?7)"
               : "INSERT INTO contacts (first_name, last_name, email, company, tags, "
                 "metadata) VALUES (?2, ?3, ?4, ?5, '[\"a\",\"b\"]', ?6)";
  if (cf_node_prepare(node, sql, &st) != CF_OK) die("prepare", cf_node_errmsg(node));
  double t0 = now_s(), c0 = cpu_now();
  if (cf_node_exec(node, "BEGIN") != CF_OK) die("begin", cf_node_errmsg(node));
  for (size_t i = 0; i < n; i++) {
    const gen_row *r = &rows[i];
    int rc = CF_OK;
    if (give_ids) rc = cf_stmt_bind_text(st, 1, r->id);
    if (rc == CF_OK) rc = cf_stmt_bind_text(st, 2, r->first);
    if (rc == CF_OK) rc = cf_stmt_bind_text(st, 3, r->last);
    if (rc == CF_OK) rc = cf_stmt_bind_text(st, 4, r->email);
    if (rc == CF_OK) rc = cf_stmt_bind_text(st, 5, r->company);
    if (rc == CF_OK) rc = cf_stmt_bind_text(st, 6, r->meta);
    if (rc == CF_OK && give_ids) rc = cf_stmt_bind_text(st, 7, r->ts);
    if (rc != CF_OK || cf_stmt_step(st) != CF_DONE)
      die("logged insert", cf_node_errmsg(node));
    cf_stmt_reset(st);
  }
  if (cf_node_exec(node, "COMMIT") != CF_OK) die("commit", cf_node_errmsg(node));
  double dt = now_s() - t0;
  last_cpu = cpu_now() - c0;
  int64_t logged = 0;
  if (cf_node_outbox_count(node, &logged) != CF_OK || (size_t)logged != n)
    die("outbox", "not every write was logged");
  cf_stmt_finalize(st);
  cf_node_close(node);
  return dt;
}

static double bench_changeset(const char *dir, const gen_row *rows, size_t n,
                              int *size_out) {
  /* Record the rows as a changeset from an in-memory source. */
  sqlite3 *src = NULL;
  if (sqlite3_open(":memory:", &src) != SQLITE_OK) die("open", NULL);
  create_plain_table(src, "contacts");
  sqlite3_session *session = NULL;
  if (sqlite3session_create(src, "main", &session) != SQLITE_OK) die("session", NULL);
  sqlite3session_attach(session, "contacts");
  sqlite3_exec(src, "BEGIN", NULL, NULL, NULL);
  plain_insert_all(src, "contacts", rows, n);
  sqlite3_exec(src, "COMMIT", NULL, NULL, NULL);
  int size = 0;
  void *blob = NULL;
  if (sqlite3session_changeset(session, &size, &blob) != SQLITE_OK)
    die("changeset", NULL);
  sqlite3session_delete(session);
  sqlite3_close(src);
  *size_out = size;

  char path[512];
  snprintf(path, sizeof path, "%s/changeset.db", dir);
  sqlite3 *db = open_plain(path);
  create_plain_table(db, "contacts");
  double t0 = now_s(), c0 = cpu_now();
  if (sqlite3changeset_apply(db, size, blob, NULL, on_conflict, NULL) != SQLITE_OK)
    die("changeset apply", sqlite3_errmsg(db));
  double dt = now_s() - t0;
  last_cpu = cpu_now() - c0;
  sqlite3_free(blob);
  sqlite3_close(db);
  return dt;
}

static void set_text(cf_row *row, int col, const char *s, const cf_ver *v) {
  cf_value val = s ? cf__value_text(s, strlen(s)) : cf__value_null();
  if (cf__row_set(row, (unsigned)col, &val, v) != CF_OK) die("row", NULL);
}

static double bench_merge_apply(const char *dir, const gen_row *rows, size_t n) {
  char path[512];
  snprintf(path, sizeof path, "%s/apply.db", dir);
  cf_node *node = NULL;
  if (cf_node_open(path, ORG, USER, &node) != CF_OK)
    die("open replica", cf_node_errmsg(NULL));
  const cf_table *t = cf__schema_table_by_name("contacts");
  cf_row *batch = calloc(APPLY_BATCH, sizeof *batch);
  if (batch == NULL) die("out of memory", NULL);
  cf_nodeid remote;
  memset(&remote, 0x5a, sizeof remote);
  int64_t ms = cf__now_ms();
  int c_org = cf__schema_column_index(t, "org_id"),
      c_id = cf__schema_column_index(t, "id");
  int c_first = cf__schema_column_index(t, "first_name");
  int c_last = cf__schema_column_index(t, "last_name");
  int c_email = cf__schema_column_index(t, "email"),
      c_phone = cf__schema_column_index(t, "phone");
  int c_company = cf__schema_column_index(t, "company");
  int c_tags = cf__schema_column_index(t, "tags"),
      c_meta = cf__schema_column_index(t, "metadata");
  int c_created = cf__schema_column_index(t, "created_at");
  int c_updated = cf__schema_column_index(t, "updated_at");
  double total = 0, cpu_total = 0;
  for (size_t done = 0; done < n;) {
    size_t k = n - done < APPLY_BATCH ? n - done : APPLY_BATCH;
    for (size_t j = 0; j < k; j++) {
      const gen_row *r = &rows[done + j];
      cf_row *ch = &batch[j];
      cf_ver v;
      cf__ver_make(CF_HLC_MAKE(ms, (done + j) % 60000), &remote, &v);
      cf__row_init(ch, t);
      set_text(ch, c_org, ORG, NULL);
      set_text(ch, c_id, r->id, NULL);
      set_text(ch, c_first, r->first, &v);
      set_text(ch, c_last, r->last, &v);
      set_text(ch, c_email, r->email, &v);
      set_text(ch, c_phone, NULL, &v);
      set_text(ch, c_company, r->company, &v);
      set_text(ch, c_tags, "[\"a\",\"b\"]", &v);
      set_text(ch, c_meta, r->meta, &v);
      set_text(ch, c_created, r->ts, &v);
      set_text(ch, c_updated, r->ts, &v);
      cf__row_set_deleted(ch, 0, &v);
    }
    double t0 = now_s(), c0 = cpu_now();
    if (cf__store_apply(node, batch, k, (int64_t)(done + k)) != CF_OK)
      die("merge apply", cf_node_errmsg(node));
    total += now_s() - t0;
    cpu_total += cpu_now() - c0;
    done += k;
  }
  free(batch);
  cf_node_close(node);
  last_cpu = cpu_total;
  return total;
}

static void rm_dir_files(const char *dir) {
  const char *files[] = {"plain.db",   "plain2.db",    "schema.db", "logged0.db",
                         "logged1.db", "changeset.db", "apply.db",  "first.db"};
  const char *suffix[] = {"", "-wal", "-shm"};
  char p[600];
  for (size_t i = 0; i < sizeof files / sizeof *files; i++)
    for (int s = 0; s < 3; s++) {
      snprintf(p, sizeof p, "%s/%s%s", dir, files[i], suffix[s]);
      unlink(p);
    }
}

int main(int argc, char **argv) {
  size_t n = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 200000;
  int rounds = argc > 2 ? atoi(argv[2]) : 3;
  if (n == 0 || n > 10000000 || rounds < 1 || rounds > 20)
    die("usage", "bench_store [rows [rounds]]");
  char dir[] = "/tmp/cf-bench-XXXXXX";
  if (mkdtemp(dir) == NULL) die("mkdtemp", NULL);
  /* The library installs its SQLite allocator (store/sqlmem.c) at the first
  ** cf_node_open, which must come before SQLite initialises; an app opens its
  ** replica before it would use SQLite itself.  Do the same here, so that
  ** the baselines' SQLite runs on the same allocator as the replica's. */
  char first[600];
  snprintf(first, sizeof first, "%s/first.db", dir);
  cf_node *warm = NULL;
  if (cf_node_open(first, ORG, USER, &warm) != CF_OK) die("open replica", NULL);
  cf_node_close(warm);
  gen_row *rows = generate(n);
  /* The machine is shared and noisy: run every measurement `rounds` times,
  ** interleaved, and keep each one's best time. */
  double plain = 1e9, plain2 = 1e9, logged = 1e9, logged_ids = 1e9, changeset = 1e9,
         merge = 1e9, t;
  double plain_cpu = 1e9, logged_cpu = 1e9, changeset_cpu = 1e9, merge_cpu = 1e9;
  int cs_size = 0;
  for (int r = 0; r < rounds; r++) {
    if ((t = bench_plain(dir, rows, n)) < plain) plain = t;
    if (last_cpu < plain_cpu) plain_cpu = last_cpu;
    if ((t = bench_plain_replica_table(dir, rows, n)) < plain2) plain2 = t;
    if ((t = bench_logged(dir, rows, n, 0)) < logged) logged = t;
    if (last_cpu < logged_cpu) logged_cpu = last_cpu;
    if ((t = bench_logged(dir, rows, n, 1)) < logged_ids) logged_ids = t;
    if ((t = bench_changeset(dir, rows, n, &cs_size)) < changeset) changeset = t;
    if (last_cpu < changeset_cpu) changeset_cpu = last_cpu;
    if ((t = bench_merge_apply(dir, rows, n)) < merge) merge = t;
    if (last_cpu < merge_cpu) merge_cpu = last_cpu;
    rm_dir_files(dir);
  }
  printf("bench_store: %zu contacts, SQLite %s, one process, best of %d rounds\n\n", n,
         sqlite3_libversion(), rounds);
  printf("| %-56s | %9s | %11s | %10s |\n", "what", "seconds", "rows/s", "ratio");
  printf("|%s|%s|%s|%s|\n", "----------------------------------------------------------",
         "-----------", "-------------", "------------");
  printf("| %-56s | %9.3f | %11.0f | %10s |\n",
         "plain INSERT, identical table, no triggers", plain, n / plain, "1.00");
  printf("| %-56s | %9.3f | %11.0f | %9.2fx |\n",
         "plain INSERT, copy of the replica table cf_contacts", plain2, n / plain2,
         plain / plain2);
  printf("| %-56s | %9.3f | %11.0f | %9.2fx |\n",
         "logged write through the view (ids made by trigger)", logged, n / logged,
         plain / logged);
  printf("| %-56s | %9.3f | %11.0f | %9.2fx |\n",
         "logged write through the view (app gives id, ts)", logged_ids, n / logged_ids,
         plain / logged_ids);
  printf("| %-56s | %9.3f | %11.0f | %10s |\n",
         "sqlite3changeset_apply into an empty database", changeset, n / changeset,
         "1.00");
  printf("| %-56s | %9.3f | %11.0f | %9.2fx |\n",
         "merge apply (cf__store_apply, 5000-row batches)", merge, n / merge,
         changeset / merge);
  printf("\nlogged vs the cf_contacts copy (trigger cost alone): %.2fx (ids by trigger), "
         "%.2fx (app gives them)\n",
         plain2 / logged, plain2 / logged_ids);
  printf("in CPU time (best of the rounds): logged %.3f s vs plain %.3f s = %.2fx; merge "
         "apply %.3f s vs changeset apply %.3f s = %.2fx\n",
         logged_cpu, plain_cpu, plain_cpu / logged_cpu, merge_cpu, changeset_cpu,
         changeset_cpu / merge_cpu);
  printf("targets: logged >= 0.50x plain; merge apply >= 0.33x changeset apply "
         "(changeset: %d bytes)\n",
         cs_size);
  char fig[64], base[64], val[32];
  snprintf(val, sizeof val, "%.2fx", plain / logged);
  bench_row("local write via view (change capture)",
            bench_rate(fig, sizeof fig, n / logged, "rows/s"),
            bench_rate(base, sizeof base, n / plain, "rows/s plain insert"), val,
            ">=0.5x", plain / logged >= 0.5);
  free(rows);
  rmdir(dir);
  return 0;
}
