/*
** bench/bench_push.c: the master's push cost against the table owner's
** fastest plain INSERT/UPDATE, in one process (issue 4, part 7).  Not a
** test; prints a table.
**
**   1. insert: N new contacts pushed through cf__master_push (as the user,
**      RLS WITH CHECK, core merge, versions kept, batches of B) vs the same
**      rows (same columns, same cf_versions/cf_seq bytes) inserted by the
**      table owner with one set-based INSERT ... SELECT FROM unnest() per B
**      rows, RLS bypassed and the sync triggers disabled (foreign keys,
**      checks and indexes still apply).
**   2. update: the N contacts changed (company + updated_at, newer versions)
**      pushed vs the owner's UPDATE ... FROM unnest() per B rows.
**
** Each side runs in its own fresh database cloned from cf_template, so both
** start from the same table size.  Timings include building the parameters
** in C on both sides.  The two sides take turns batch by batch (owner first
** in even batches, the push in odd ones), so that both meet the same load
** of a shared machine; before, the whole owner phase ran, then the whole
** push phase, and a change of load between them moved the ratio by 0.2.
**
** Both databases are ANALYZEd (untimed) before the update phase, as
** autovacuum would have done by then; "stale" as third argument skips it
** (the planner then believes the 100,000-row org is empty).
**
** Usage: bench_push [N] [B] [stale]  (defaults 100000 and 2000).  The cluster comes
** from CF_TEST_PGHOST / CF_TEST_PGPORT (as the tests; e.g.
** build/x/pg/sock and the port) and needs the migrated template cf_template
** (scripts/pgcluster.sh start DIR PORT CLIENTFLOW).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/benchrow.h"
#include "clientflow.h"
#include "core/buf.h"
#include "core/hlc.h"
#include "core/row.h"
#include "core/schema.h"
#include "core/uuid.h"
#include "core/value.h"
#include "core/version.h"
#include "platform/platform.h"
#include "sync/master/master_sync.h"
#include "sync/master/pg.h"

#define ORG "0190f1a2-0000-7000-8000-00000000a001"
#define USER "0190f1a2-0000-7000-8000-00000000b001"
#define CLAIMS "{\"sub\":\"" USER "\",\"role\":\"authenticated\"}"
#define DB_PUSH "cf_bench_push"
#define DB_OWNER "cf_bench_owner"

/* One generated contact's values (canonical text). */
typedef struct gen_row {
  char id[CF_UUID_TEXT_LEN];       /* UUIDv7 */
  char first[32], last[32];        /* names */
  char email[64], company[32];     /* contact data */
  char company2[32];               /* the changed company */
  char meta[40];                   /* metadata JSON */
  char ts[CF_TIMESTAMP_TEXT_LEN];  /* created_at = updated_at */
  char ts2[CF_TIMESTAMP_TEXT_LEN]; /* updated_at of the change */
} gen_row;

static const char *host, *port;

static double now_s(void) { return (double)cf__monotonic_ns() / 1e9; }

/* CPU seconds of this thread (the client side of a batch: building the
** parameters, the push's merge and statements in C). */
static double thread_cpu_s(void) {
  struct timespec ts;
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return 0;
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds a process has run (/proc/PID/schedstat, nanoseconds): the
** Postgres backend of a side's connection, on this machine. */
static double proc_cpu_s(int pid) {
  char path[64];
  unsigned long long ns = 0;
  snprintf(path, sizeof path, "/proc/%d/schedstat", pid);
  FILE *f = fopen(path, "r");
  if (f == NULL) return 0;
  if (fscanf(f, "%llu", &ns) != 1) ns = 0;
  fclose(f);
  return (double)ns / 1e9;
}

static void die(const char *what, const char *detail) {
  fprintf(stderr, "bench_push: %s: %s\n", what, detail ? detail : "");
  exit(1);
}

static cf__pg *connect_db(const char *db, const char *user) {
  char url[512], err[256];
  cf__pg *pg = NULL;
  snprintf(url, sizeof url, "host=%s port=%s user=%s dbname=%s", host, port, user, db);
  if (cf__pg_connect(url, &pg, err, sizeof err) != CF_OK) die("connect", err);
  return pg;
}

static void exec_sql(cf__pg *pg, const char *sql) {
  if (cf__pg_exec(pg, sql) != CF_OK) die(sql, cf__pg_errmsg(pg));
}

/* The pid of the backend serving pg. */
static int backend_pid(cf__pg *pg) {
  cf__pg_res *res = NULL;
  if (cf__pg_query(pg, "SELECT pg_backend_pid()", 0, NULL, &res) != CF_OK)
    die("pg_backend_pid", cf__pg_errmsg(pg));
  int pid = atoi(cf__pg_value(res, 0, 0));
  cf__pg_res_free(res);
  return pid;
}

static void fresh_db(const char *db) {
  cf__pg *pg = connect_db("postgres", "postgres");
  char sql[256];
  snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", db);
  exec_sql(pg, sql);
  snprintf(sql, sizeof sql, "CREATE DATABASE %s TEMPLATE cf_template", db);
  exec_sql(pg, sql);
  cf__pg_close(pg);
  pg = connect_db(db, "postgres");
  exec_sql(
      pg,
      "DO $$ BEGIN "
      "IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cf_bench_server') THEN "
      "  BEGIN CREATE ROLE cf_bench_server LOGIN; "
      "  EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END; END IF; "
      "BEGIN GRANT authenticator, cf_sync_server TO cf_bench_server; "
      "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END; END $$;"
      "INSERT INTO organizations (id, name, slug) VALUES ('" ORG "', 'Bench', 'bench');"
      "INSERT INTO users (id, email) VALUES ('" USER "', 'bench@x.test');"
      "INSERT INTO memberships (org_id, user_id, role) VALUES ('" ORG "', '" USER
      "', 'owner')");
  exec_sql(pg, "VACUUM ANALYZE");
  cf__pg_close(pg);
}

static void drop_db(const char *db) {
  cf__pg *pg = connect_db("postgres", "postgres");
  char sql[256];
  snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", db);
  exec_sql(pg, sql);
  cf__pg_close(pg);
}

static void checkpoint(void) {
  cf__pg *pg = connect_db("postgres", "postgres");
  exec_sql(pg, "CHECKPOINT");
  cf__pg_close(pg);
}

/* ANALYZE of db: the statistics autovacuum would have gathered by the time
** a table that grew by 100,000 rows is written again (it analyzes a table
** after 50 rows + 10% changed, within a minute).  Without it the planner
** still believes the tables as fresh_db left them, empty, and plans every
** statement of the update phase for an org of a few rows. */
static void analyze_db(const char *db) {
  cf__pg *pg = connect_db(db, "postgres");
  exec_sql(pg, "ANALYZE");
  cf__pg_close(pg);
}

static gen_row *generate(size_t n) {
  gen_row *rows = calloc(n, sizeof *rows);
  if (rows == NULL) die("out of memory", NULL);
  int64_t base_us = cf__now_ms() * 1000 - 3600 * 1000000LL;
  for (size_t i = 0; i < n; i++) {
    gen_row *r = &rows[i];
    cf_uuid u;
    if (cf__uuid_v7(&u) != CF_OK) die("uuid", NULL);
    cf__uuid_format(&u, r->id);
    snprintf(r->first, sizeof r->first, "First%zu", i);
    snprintf(r->last, sizeof r->last, "Last%zu", i);
    snprintf(r->email, sizeof r->email, "user%zu@bench.test", i);
    snprintf(r->company, sizeof r->company, "Company %zu", i % 997);
    snprintf(r->company2, sizeof r->company2, "Renamed %zu", i % 991);
    snprintf(r->meta, sizeof r->meta, "{\"i\":%zu}", i);
    if (cf__timestamp_format(base_us + (int64_t)i, r->ts) != CF_OK)
      die("timestamp", NULL);
    if (cf__timestamp_format(base_us + 1800 * 1000000LL + (int64_t)i, r->ts2) != CF_OK)
      die("timestamp", NULL);
  }
  return rows;
}

static void set_text(cf_change *c, unsigned col, const char *text, const cf_ver *ver) {
  cf_value v = text ? cf__value_text(text, strlen(text)) : cf__value_null();
  if (cf__row_set(c, col, &v, ver) != CF_OK) die("row_set", NULL);
}

/* The change inserting r (every cell) or changing it (company, updated_at). */
static void make_change(cf_change *c, const gen_row *r, int update, const cf_ver *ver) {
  const cf_table *t = cf__schema_table_by_name("contacts");
  cf__row_init(c, t);
  set_text(c, 0, ORG, NULL);
  set_text(c, 1, r->id, NULL);
  if (update) {
    set_text(c, 6, r->company2, ver);
    set_text(c, 10, r->ts2, ver);
    return;
  }
  set_text(c, 2, r->first, ver);
  set_text(c, 3, r->last, ver);
  set_text(c, 4, r->email, ver);
  set_text(c, 5, NULL, ver);
  set_text(c, 6, r->company, ver);
  set_text(c, 7, "[\"a\",\"b\"]", ver);
  set_text(c, 8, r->meta, ver);
  set_text(c, 9, r->ts, ver);
  set_text(c, 10, r->ts, ver);
  cf__row_set_deleted(c, 0, ver);
}

/* The push side: its connection and buffers. */
typedef struct push_side {
  cf__pg *pg;           /* as cf_bench_server */
  cf_change *ch;        /* a batch of changes */
  cf__push_result *res; /* their results */
  uint64_t batch_seq;   /* the node's last batch number */
  int pid;              /* its backend */
  double cpu;           /* CPU seconds of its batches, client and backend */
  double cpu_client;    /* of which this process's thread */
} push_side;

static void push_open(push_side *ps, size_t b) {
  ps->pg = connect_db(DB_PUSH, "cf_bench_server");
  if (cf__master_check_role(ps->pg) != CF_OK) die("role check", cf__pg_errmsg(ps->pg));
  ps->ch = malloc(b * sizeof *ps->ch);
  ps->res = malloc(b * sizeof *ps->res);
  if (ps->ch == NULL || ps->res == NULL) die("out of memory", NULL);
  ps->batch_seq = 0;
  ps->pid = backend_pid(ps->pg);
}

static void push_close(push_side *ps) {
  free(ps->ch);
  free(ps->res);
  cf__pg_close(ps->pg);
}

/* Pushes rows[lo..lo+m) as one batch.  Returns seconds. */
static double push_batch(push_side *ps, const gen_row *rows, size_t lo, size_t m,
                         int update) {
  cf_nodeid node;
  memset(node.b, 0x5a, sizeof node.b);
  double t0 = now_s(), tc0 = thread_cpu_s(), c0 = tc0 + proc_cpu_s(ps->pid);
  cf_ver ver;
  cf__ver_make(CF_HLC_MAKE(cf__now_ms(), 0), &node, &ver);
  for (size_t i = 0; i < m; i++)
    make_change(&ps->ch[i], &rows[lo + i], update, &ver);
  cf__push_info info;
  if (cf__master_push(ps->pg, CLAIMS, ORG, &node, ++ps->batch_seq, ps->ch, m, ps->res,
                      &info) != CF_OK)
    die("push", cf__pg_errmsg(ps->pg));
  if (info.applied != m) {
    for (size_t i = 0; i < m; i++)
      if (ps->res[i].status != CF_PUSH_APPLIED) die("push result", ps->res[i].detail);
  }
  double tc1 = thread_cpu_s();
  ps->cpu += tc1 + proc_cpu_s(ps->pid) - c0;
  ps->cpu_client += tc1 - tc0;
  return now_s() - t0;
}

/* Appends one quoted array element. */
static void elem(cf_buf *b, const char *s) {
  if (b->len > 1 && cf__buf_putc(b, ',') != CF_OK) die("buf", NULL);
  if (s == NULL) {
    if (cf__buf_puts(b, "NULL") != CF_OK) die("buf", NULL);
    return;
  }
  if (cf__buf_putc(b, '"') != CF_OK) die("buf", NULL);
  for (const char *p = s; *p; p++) {
    if ((*p == '"' || *p == '\\') && cf__buf_putc(b, '\\') != CF_OK) die("buf", NULL);
    if (cf__buf_putc(b, *p) != CF_OK) die("buf", NULL);
  }
  if (cf__buf_putc(b, '"') != CF_OK) die("buf", NULL);
}

/* The owner side: its connection, the array parameters, the next cf_seq. */
typedef struct owner_side {
  cf__pg *pg;             /* as postgres, the tables' owner */
  cf_buf p[13];           /* array parameters */
  char vhex[12 * 48 + 1]; /* the versions, hex */
  uint64_t seq;           /* the last cf_seq written */
  int pid;                /* its backend */
  double cpu;             /* CPU seconds of its batches, client and backend */
  double cpu_client;      /* of which this process's thread */
} owner_side;

static void owner_open(owner_side *os) {
  os->pg = connect_db(DB_OWNER, "postgres");
  /* User triggers off (sync stamps, updated_at); foreign keys stay on. */
  exec_sql(os->pg, "ALTER TABLE contacts DISABLE TRIGGER USER");
  for (int i = 0; i < 13; i++)
    cf__buf_init(&os->p[i], (size_t)1 << 28);
  memset(os->vhex, 'a', sizeof os->vhex - 1);
  os->vhex[sizeof os->vhex - 1] = '\0';
  os->seq = 1000;
  os->pid = backend_pid(os->pg);
}

static void owner_close(owner_side *os) {
  for (int i = 0; i < 13; i++)
    cf__buf_free(&os->p[i]);
  cf__pg_close(os->pg);
}

/* The owner's set-based INSERT (or UPDATE) of rows[lo..lo+m).  Seconds. */
static double owner_batch(owner_side *os, const gen_row *rows, size_t lo, size_t m,
                          int update) {
  static const char ins[] =
      "INSERT INTO contacts (org_id, id, first_name, last_name, email, phone, company, "
      "tags, "
      "metadata, created_at, updated_at, cf_versions, cf_seq) "
      "SELECT u.c0::uuid, u.c1::uuid, u.c2, u.c3, u.c4, u.c5, u.c6, u.c7::text[], "
      "u.c8::jsonb, "
      "u.c9::timestamptz, u.c10::timestamptz, decode(u.v, 'hex'), u.s::bigint "
      "FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], "
      "$6::text[], "
      "$7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], "
      "$13::text[]) "
      "AS u(c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, v, s)";
  static const char upd[] =
      "UPDATE contacts AS t SET company = u.c6, updated_at = u.c10::timestamptz, "
      "cf_versions = decode(u.v, 'hex'), cf_seq = u.s::bigint "
      "FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], "
      "$6::text[]) "
      "AS u(c0, c1, c6, c10, v, s) WHERE t.org_id = (($1::text[])[1])::uuid "
      "AND t.id = ANY ($2::text[]::uuid[]) AND t.org_id = u.c0::uuid AND t.id = "
      "u.c1::uuid";
  double t0 = now_s(), tc0 = thread_cpu_s(), c0 = tc0 + proc_cpu_s(os->pid);
  int np = update ? 6 : 13;
  for (int i = 0; i < np; i++) {
    cf__buf_reset(&os->p[i]);
    if (cf__buf_putc(&os->p[i], '{') != CF_OK) die("buf", NULL);
  }
  for (size_t i = 0; i < m; i++) {
    const gen_row *r = &rows[lo + i];
    char num[24];
    snprintf(num, sizeof num, "%llu", (unsigned long long)++os->seq);
    if (update) {
      const char *v[6] = {ORG, r->id, r->company2, r->ts2, os->vhex, num};
      for (int k = 0; k < 6; k++)
        elem(&os->p[k], v[k]);
    } else {
      const char *v[13] = {
          ORG,     r->id, r->first, r->last,  r->email, NULL, r->company, "{\"a\",\"b\"}",
          r->meta, r->ts, r->ts,    os->vhex, num};
      for (int k = 0; k < 13; k++)
        elem(&os->p[k], v[k]);
    }
  }
  const char *pv[13];
  for (int i = 0; i < np; i++) {
    if (cf__buf_putc(&os->p[i], '}') != CF_OK) die("buf", NULL);
    pv[i] = os->p[i].p;
  }
  if (cf__pg_query(os->pg, update ? upd : ins, np, pv, NULL) != CF_OK)
    die("owner statement", cf__pg_errmsg(os->pg));
  double tc1 = thread_cpu_s();
  os->cpu += tc1 + proc_cpu_s(os->pid) - c0;
  os->cpu_client += tc1 - tc0;
  return now_s() - t0;
}

/* What one phase measured. */
typedef struct phase {
  double owner_s, push_s; /* seconds of each side, all batches */
  double owner_med;       /* median seconds of an owner batch */
  double push_med;        /* median seconds of a push batch */
  double ratio_med;       /* median over the batches of owner / push time */
  double owner_cpu;       /* CPU seconds of the owner's batches (client + backend) */
  double push_cpu;        /* the same for the push's */
  double owner_cpu_client, push_cpu_client; /* of which the client's (this thread) */
} phase;

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, size_t n) {
  qsort(v, n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* One phase (insert or update) of both sides, batch by batch in turn --
** owner first in even batches, the push first in odd ones -- so that both
** run under the same load of the machine.  The median of the per-batch
** ratios is what the goal rows report: a burst of load from other
** processes lands on a batch or two of one side, which moves the sums
** but hardly the median. */
static phase run_phase(owner_side *os, push_side *ps, const gen_row *rows, size_t n,
                       size_t b, int update) {
  phase ph;
  memset(&ph, 0, sizeof ph);
  double oc0 = os->cpu, pc0 = ps->cpu, occ0 = os->cpu_client, pcc0 = ps->cpu_client;
  size_t nb = (n + b - 1) / b, k = 0;
  double *o = calloc(nb, sizeof *o), *p = calloc(nb, sizeof *p),
         *r = calloc(nb, sizeof *r);
  if (o == NULL || p == NULL || r == NULL) die("out of memory", NULL);
  for (size_t lo = 0; lo < n; lo += b, k++) {
    size_t m = n - lo < b ? n - lo : b;
    if (k % 2 == 0) {
      o[k] = owner_batch(os, rows, lo, m, update);
      p[k] = push_batch(ps, rows, lo, m, update);
    } else {
      p[k] = push_batch(ps, rows, lo, m, update);
      o[k] = owner_batch(os, rows, lo, m, update);
    }
    ph.owner_s += o[k];
    ph.push_s += p[k];
    r[k] = o[k] / p[k];
  }
  ph.owner_med = median(o, nb);
  ph.push_med = median(p, nb);
  ph.ratio_med = median(r, nb);
  ph.owner_cpu = os->cpu - oc0;
  ph.push_cpu = ps->cpu - pc0;
  ph.owner_cpu_client = os->cpu_client - occ0;
  ph.push_cpu_client = ps->cpu_client - pcc0;
  free(o);
  free(p);
  free(r);
  return ph;
}

int main(int argc, char **argv) {
  size_t n = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 100000;
  size_t b = argc > 2 ? (size_t)strtoull(argv[2], NULL, 10) : 2000;
  int analyze = !(argc > 3 && strcmp(argv[3], "stale") == 0);
  host = getenv("CF_TEST_PGHOST");
  port = getenv("CF_TEST_PGPORT");
  if (host == NULL || port == NULL)
    die("usage", "set CF_TEST_PGHOST and CF_TEST_PGPORT to a cluster with cf_template");
  if (n == 0 || b == 0 || b > CF_PUSH_MAX_BATCH)
    die("usage", "bench_push [N] [B<=10000] [stale]");
  gen_row *rows = generate(n);
  fresh_db(DB_OWNER);
  fresh_db(DB_PUSH);
  owner_side os;
  push_side ps;
  owner_open(&os);
  push_open(&ps, b);
  fprintf(stderr, "bench_push: backends: owner %d, push %d\n", os.pid, ps.pid);
  /* A checkpoint before each timed phase, so that no phase pays for the
  ** previous one's dirty pages. */
  checkpoint();
  phase ins = run_phase(&os, &ps, rows, n, b, 0);
  if (analyze) {
    analyze_db(DB_OWNER);
    analyze_db(DB_PUSH);
  }
  checkpoint();
  phase upd = run_phase(&os, &ps, rows, n, b, 1);
  owner_close(&os);
  push_close(&ps);
  printf("bench_push: %zu contacts, batches of %zu, one process, sides in turn batch "
         "by batch, %s\n\n",
         n, b,
         analyze ? "ANALYZE before the update phase"
                 : "stale statistics (tables analyzed empty)");
  printf("| %-52s | %8s | %10s | %6s | %12s | %7s | %9s | %10s |\n", "what", "seconds",
         "rows/s", "ratio", "median batch", "CPU s", "CPU ratio", "client CPU");
  printf("|%s|%s|%s|%s|%s|%s|%s|%s|\n",
         "------------------------------------------------------", "----------",
         "------------", "--------", "--------------", "---------", "-----------",
         "------------");
  const phase *ph[2] = {&ins, &upd};
  static const char *const what[2][2] = {
      {"owner INSERT ... unnest (no RLS, no sync triggers)",
       "push of new rows (RLS + merge + versions)"},
      {"owner UPDATE ... FROM unnest (no RLS, no triggers)",
       "push of changed rows (2 columns, RLS + merge)"}};
  for (int i = 0; i < 2; i++) {
    printf("| %-52s | %8.3f | %10.0f | %6s | %12s | %7.3f | %9s | %8.3f s |\n",
           what[i][0], ph[i]->owner_s, (double)n / ph[i]->owner_s, "1.00", "1.00",
           ph[i]->owner_cpu, "1.00", ph[i]->owner_cpu_client);
    printf("| %-52s | %8.3f | %10.0f | %6.2f | %12.2f | %7.3f | %9.2f | %8.3f s |\n",
           what[i][1], ph[i]->push_s, (double)n / ph[i]->push_s,
           ph[i]->owner_s / ph[i]->push_s, ph[i]->ratio_med, ph[i]->push_cpu,
           ph[i]->owner_cpu / ph[i]->push_cpu, ph[i]->push_cpu_client);
  }
  /* The goal rows: the median batch of each side, and the median of the
  ** per-batch ratios. */
  char fig[64], base[80], val[32];
  snprintf(val, sizeof val, "%.2fx", upd.ratio_med);
  bench_row("push of changed rows (RLS + merge)",
            bench_rate(fig, sizeof fig, (double)b / upd.push_med, "rows/s"),
            bench_rate(base, sizeof base, (double)b / upd.owner_med,
                       "rows/s owner UPDATE ... FROM unnest"),
            val, ">=0.6x", upd.ratio_med >= 0.6);
  snprintf(val, sizeof val, "%.2fx", ins.ratio_med);
  bench_row("push of new rows (RLS + merge)",
            bench_rate(fig, sizeof fig, (double)b / ins.push_med, "rows/s"),
            bench_rate(base, sizeof base, (double)b / ins.owner_med,
                       "rows/s owner INSERT ... unnest"),
            val, ">=0.7x", ins.ratio_med >= 0.7);
  free(rows);
  drop_db(DB_OWNER);
  drop_db(DB_PUSH);
  return 0;
}
