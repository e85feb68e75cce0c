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
** in C on both sides.
**
** Usage: bench_push [N] [B]  (defaults 100000 and 2000).  The cluster comes
** from CF_TEST_PGHOST / CF_TEST_PGPORT (as the tests; e.g.
** build/x/pg/sock and the port) and needs the migrated template cf_template
** (scripts/pgcluster.sh start DIR PORT CLIENTFLOW).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Pushes rows[0..n) in batches of b.  Returns seconds. */
static double run_push(const gen_row *rows, size_t n, size_t b, int update) {
  cf__pg *pg = connect_db(DB_PUSH, "cf_bench_server");
  if (cf__master_check_role(pg) != CF_OK) die("role check", cf__pg_errmsg(pg));
  cf_change *ch = malloc(b * sizeof *ch);
  cf__push_result *res = malloc(b * sizeof *res);
  if (ch == NULL || res == NULL) die("out of memory", NULL);
  cf_nodeid node;
  memset(node.b, 0x5a, sizeof node.b);
  static uint64_t batch_seq = 0;
  double t0 = now_s();
  for (size_t lo = 0; lo < n; lo += b) {
    size_t m = n - lo < b ? n - lo : b;
    cf_ver ver;
    cf__ver_make(CF_HLC_MAKE(cf__now_ms(), 0), &node, &ver);
    for (size_t i = 0; i < m; i++)
      make_change(&ch[i], &rows[lo + i], update, &ver);
    cf__push_info info;
    if (cf__master_push(pg, CLAIMS, ORG, &node, ++batch_seq, ch, m, res, &info) != CF_OK)
      die("push", cf__pg_errmsg(pg));
    if (info.applied != m) {
      for (size_t i = 0; i < m; i++)
        if (res[i].status != CF_PUSH_APPLIED) die("push result", res[i].detail);
    }
  }
  double dt = now_s() - t0;
  free(ch);
  free(res);
  cf__pg_close(pg);
  return dt;
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

/* The owner's set-based INSERT (or UPDATE) of the same rows.  Seconds. */
static double run_owner(const gen_row *rows, size_t n, size_t b, int update) {
  cf__pg *pg = connect_db(DB_OWNER, "postgres");
  /* User triggers off (sync stamps, updated_at); foreign keys stay on. */
  exec_sql(pg, "ALTER TABLE contacts DISABLE TRIGGER USER");
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
  cf_buf p[13];
  for (int i = 0; i < 13; i++)
    cf__buf_init(&p[i], (size_t)1 << 28);
  char vhex[12 * 48 + 1];
  memset(vhex, 'a', sizeof vhex - 1);
  vhex[sizeof vhex - 1] = '\0';
  uint64_t seq = 1000;
  double t0 = now_s();
  for (size_t lo = 0; lo < n; lo += b) {
    size_t m = n - lo < b ? n - lo : b;
    int np = update ? 6 : 13;
    for (int i = 0; i < np; i++) {
      cf__buf_reset(&p[i]);
      if (cf__buf_putc(&p[i], '{') != CF_OK) die("buf", NULL);
    }
    for (size_t i = 0; i < m; i++) {
      const gen_row *r = &rows[lo + i];
      char num[24];
      snprintf(num, sizeof num, "%llu", (unsigned long long)++seq);
      if (update) {
        const char *v[6] = {ORG, r->id, r->company2, r->ts2, vhex, num};
        for (int k = 0; k < 6; k++)
          elem(&p[k], v[k]);
      } else {
        const char *v[13] = {ORG,      r->id, r->first,   r->last,
                             r->email, NULL,  r->company, "{\"a\",\"b\"}",
                             r->meta,  r->ts, r->ts,      vhex,
                             num};
        for (int k = 0; k < 13; k++)
          elem(&p[k], v[k]);
      }
    }
    const char *pv[13];
    for (int i = 0; i < np; i++) {
      if (cf__buf_putc(&p[i], '}') != CF_OK) die("buf", NULL);
      pv[i] = p[i].p;
    }
    if (cf__pg_query(pg, update ? upd : ins, np, pv, NULL) != CF_OK)
      die("owner statement", cf__pg_errmsg(pg));
  }
  double dt = now_s() - t0;
  for (int i = 0; i < 13; i++)
    cf__buf_free(&p[i]);
  cf__pg_close(pg);
  return dt;
}

int main(int argc, char **argv) {
  size_t n = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 100000;
  size_t b = argc > 2 ? (size_t)strtoull(argv[2], NULL, 10) : 2000;
  host = getenv("CF_TEST_PGHOST");
  port = getenv("CF_TEST_PGPORT");
  if (host == NULL || port == NULL)
    die("usage", "set CF_TEST_PGHOST and CF_TEST_PGPORT to a cluster with cf_template");
  if (n == 0 || b == 0 || b > CF_PUSH_MAX_BATCH)
    die("usage", "bench_push [N] [B<=10000]");
  gen_row *rows = generate(n);
  fresh_db(DB_OWNER);
  fresh_db(DB_PUSH);
  /* A checkpoint before each timed phase, so that no phase pays for the
  ** previous one's dirty pages. */
  checkpoint();
  double owner_ins = run_owner(rows, n, b, 0);
  checkpoint();
  double push_ins = run_push(rows, n, b, 0);
  checkpoint();
  double owner_upd = run_owner(rows, n, b, 1);
  checkpoint();
  double push_upd = run_push(rows, n, b, 1);
  printf("bench_push: %zu contacts, batches of %zu, one process\n\n", n, b);
  printf("| %-52s | %8s | %10s | %6s |\n", "what", "seconds", "rows/s", "ratio");
  printf("|%s|%s|%s|%s|\n", "------------------------------------------------------",
         "----------", "------------", "--------");
  printf("| %-52s | %8.3f | %10.0f | %6s |\n",
         "owner INSERT ... unnest (no RLS, no sync triggers)", owner_ins,
         (double)n / owner_ins, "1.00");
  printf("| %-52s | %8.3f | %10.0f | %6.2f |\n",
         "push of new rows (RLS + merge + versions)", push_ins, (double)n / push_ins,
         owner_ins / push_ins);
  printf("| %-52s | %8.3f | %10.0f | %6s |\n",
         "owner UPDATE ... FROM unnest (no RLS, no triggers)", owner_upd,
         (double)n / owner_upd, "1.00");
  printf("| %-52s | %8.3f | %10.0f | %6.2f |\n",
         "push of changed rows (2 columns, RLS + merge)", push_upd, (double)n / push_upd,
         owner_upd / push_upd);
  char fig[64], base[80], val[32];
  snprintf(val, sizeof val, "%.2fx", owner_upd / push_upd);
  bench_row("push of changed rows (RLS + merge)",
            bench_rate(fig, sizeof fig, (double)n / push_upd, "rows/s"),
            bench_rate(base, sizeof base, (double)n / owner_upd,
                       "rows/s owner UPDATE ... FROM unnest"),
            val, ">=0.6x", owner_upd / push_upd >= 0.6);
  snprintf(val, sizeof val, "%.2fx", owner_ins / push_ins);
  bench_row("push of new rows (RLS + merge)",
            bench_rate(fig, sizeof fig, (double)n / push_ins, "rows/s"),
            bench_rate(base, sizeof base, (double)n / owner_ins,
                       "rows/s owner INSERT ... unnest"),
            val, ">=0.7x", owner_ins / push_ins >= 0.7);
  free(rows);
  drop_db(DB_OWNER);
  drop_db(DB_PUSH);
  return 0;
}
