/*
** tests/portable/replica_portable.c: a replica file written on one
** architecture opens and reads the same on another (docs/portability.md).
**
**   replica_portable write PATH     builds the known replica at PATH and its
**                                   report at PATH.expect
**   replica_portable verify PATH    opens PATH, makes its report and
**                                   compares it with PATH.expect (written on
**                                   the other architecture), then builds the
**                                   same replica afresh here and compares
**                                   that too
**   replica_portable roundtrip DIR  write then verify in DIR (ctest)
**
** The replica is made with a fixed clock and a fixed random source, so
** every byte of its content is known: local inserts, updates and a delete
** (outbox entries with their HLCs and masks), pushed entries answered
** applied, superseded and rejected (a conflict), remote rows applied with
** versions of another node, and a pull cursor.  The report is text: every
** row of the metadata tables, the data tables (the version blobs in hex)
** and the views; every row read back and decoded (cell values, versions);
** the outbox read as a push batch, its PUSH frame in hex, and that frame
** decoded and encoded again.  scripts/cross.sh writes under qemu and
** verifies natively, and the other way; a few values are also checked
** against bytes spelled out here (docs/formats.md), so a mistake made the
** same way on both sides is caught as well.
*/
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clientflow.h"
#include "core/buf.h"
#include "core/codec.h"
#include "core/crypto.h"
#include "core/row.h"
#include "core/schema.h"
#include "core/value.h"
#include "core/version.h"
#include "store/store.h"

#define ORG "0190f1a2-0000-7000-8000-00000000a001"
#define USER "0190f1a2-0000-7000-8000-00000000b001"
#define BUF_LIMIT ((size_t)64 << 20) /* reports, frames: far below */
#define T0_MS INT64_C(1767225600000) /* 2026-01-01T00:00:00Z */

static void die(const char *fmt, const char *a, const char *b) {
  fprintf(stderr, "replica_portable: ");
  fprintf(stderr, fmt, a, b);
  fputc('\n', stderr);
  exit(1);
}

static void need(int rc, const char *what, cf_node *node) {
  if (rc != CF_OK) die("%s: %s", what, node ? cf_node_errmsg(node) : cf_strerror(rc));
}

/* Whether this machine stores integers most significant byte first. */
static int big_endian(void) {
  uint16_t one = 1;
  unsigned char first;
  memcpy(&first, &one, 1);
  return first == 0;
}

/* --- the fixed clock and random source ------------------------------------ */

static int64_t now_ms;
static uint64_t rnd_state;
static int64_t fixed_clock(void *ctx) {
  (void)ctx;
  return now_ms;
}
static int fixed_random(void *ctx, unsigned char *buf, size_t len) {
  (void)ctx;
  for (size_t i = 0; i < len; i++) {
    rnd_state ^= rnd_state << 13; /* xorshift64 */
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    buf[i] = (unsigned char)(rnd_state >> 56);
  }
  return 0;
}

/* --- writing the known replica --------------------------------------------- */

static void exec(cf_node *node, const char *sql) {
  need(cf_node_exec(node, sql), sql, node);
}

static cf_ver ver(int64_t ms, unsigned counter, unsigned char node_byte) {
  cf_nodeid id;
  memset(&id, node_byte, sizeof id);
  cf_ver v;
  cf__ver_make(CF_HLC_MAKE(ms, counter), &id, &v);
  return v;
}

static void set(cf_row *row, const char *col, cf_value val, const cf_ver *v) {
  int c = cf__schema_column_index(row->table, col);
  if (c < 0 || cf__row_set(row, (unsigned)c, &val, v) != CF_OK)
    die("column %s%s", col, "");
}
static cf_value text(const char *s) { return cf__value_text(s, strlen(s)); }

static cf_node *build(const char *path) {
  now_ms = T0_MS;
  rnd_state = UINT64_C(0x9e3779b97f4a7c15);
  cf_set_clock_hook(fixed_clock, NULL);
  cf_set_random_hook(fixed_random, NULL);
  cf_node *node = NULL;
  unlink(path);
  if (cf_node_open(path, ORG, USER, &node) != CF_OK)
    die("cf_node_open(%s): %s", path, cf_node_errmsg(NULL));

  /* Local writes: one transaction of three rows, then a lone insert. */
  now_ms += 1000;
  exec(node,
       "BEGIN;"
       "INSERT INTO contacts (id, first_name, last_name, email, phone, company)"
       " VALUES ('0190f1a2-0000-7000-8000-0000000c0001', 'Zo\xc3\xab',"
       " '\xc3\x85ngstr\xc3\xb6m', 'zoe@example.com', '+41 44 000 00 00', NULL);"
       "INSERT INTO deals (id, contact_id, title, value, currency, expected_close)"
       " VALUES ('0190f1a2-0000-7000-8000-0000000d0001',"
       " '0190f1a2-0000-7000-8000-0000000c0001', 'Big \xe2\x82\xac deal', '1234.50',"
       " 'EUR', '2026-03-31');"
       "INSERT INTO daily_metrics (id, day, new_contacts, deals_won, revenue)"
       " VALUES ('0190f1a2-0000-7000-8000-0000000e0001', '2026-01-01', 7,"
       " 2147483647, '-12.25');"
       "COMMIT;");
  now_ms += 1000;
  exec(node, "INSERT INTO contacts (id, first_name) VALUES"
             " ('0190f1a2-0000-7000-8000-0000000c0002', 'Second')");

  /* The first three are pushed: applied, superseded, rejected. */
  cf__push_batch *b = NULL;
  need(cf__store_push_next(node, 3, &b), "push_next", node);
  if (b->n != 3) die("push batch of %s items, expected %s", b->n == 0 ? "0" : "?", "3");
  cf__store_push_result res[3] = {
      {b->items[0].seq, CF_PUSH_APPLIED, 0, NULL},
      {b->items[1].seq, CF_PUSH_SUPERSEDED, 0, NULL},
      {b->items[2].seq, CF_PUSH_REJECTED, CF_PERMISSION, "not allowed \xe2\x9c\x8b"}};
  now_ms += 1000;
  need(cf__store_push_results(node, res, 3), "push_results", node);
  cf__store_push_free(b);

  /* Remote rows of another node (versions 0xab...), with a pull cursor. */
  cf_ver v1 = ver(T0_MS + 100000, 3, 0xab), v2 = ver(T0_MS + 100001, 0, 0xab);
  cf_change rows[2];
  cf__row_init(&rows[0], cf__schema_table_by_name("contacts"));
  set(&rows[0], "org_id", text(ORG), NULL);
  set(&rows[0], "id", text("0190f1a2-0000-7000-8000-0000000c00f0"), NULL);
  set(&rows[0], "first_name", text("Remote"), &v1);
  set(&rows[0], "email", text("remote@example.com"), &v2);
  cf__row_set_deleted(&rows[0], 0, &v1);
  cf__row_init(&rows[1], cf__schema_table_by_name("deals"));
  set(&rows[1], "org_id", text(ORG), NULL);
  set(&rows[1], "id", text("0190f1a2-0000-7000-8000-0000000d0001"), NULL);
  set(&rows[1], "stage", text("won"), &v2);
  now_ms = T0_MS + 200000;
  need(cf__store_apply(node, rows, 2, INT64_C(4242)), "apply", node);

  /* More local writes waiting in the outbox: an update, a delete, an insert
  ** in one transaction. */
  now_ms += 1000;
  exec(node, "BEGIN;"
             "UPDATE contacts SET email = 'zoe@example.org', phone = NULL"
             " WHERE id = '0190f1a2-0000-7000-8000-0000000c0001';"
             "DELETE FROM deals WHERE id = '0190f1a2-0000-7000-8000-0000000d0001';"
             "INSERT INTO daily_metrics (id, day, messages_sent) VALUES"
             " ('0190f1a2-0000-7000-8000-0000000e0002', '2026-01-02', 0);"
             "COMMIT;");
  return node;
}

/* --- the report ------------------------------------------------------------ */

static void put(cf_buf *r, const char *s) {
  if (cf__buf_puts(r, s) != CF_OK) die("report: %s%s", "out of memory", "");
}
static void puthex(cf_buf *r, const void *p, size_t n) {
  char *h = malloc(2 * n + 1);
  if (h == NULL) die("report: %s%s", "out of memory", "");
  cf__hex(p, n, h);
  h[2 * n] = '\0';
  put(r, h);
  free(h);
}

/* Every row of a query, one line each: typed cells. */
static void dump(cf_node *node, cf_buf *r, const char *sql) {
  cf_stmt *st = NULL;
  need(cf_node_prepare(node, sql, &st), sql, node);
  put(r, "# ");
  put(r, sql);
  put(r, "\n");
  int rc;
  char tmp[64];
  while ((rc = cf_stmt_step(st)) == CF_OK) {
    for (int c = 0; c < cf_stmt_column_count(st); c++) {
      put(r, c ? " | " : "");
      switch (cf_stmt_column_type(st, c)) {
        case CF_COL_NULL:
          put(r, "NULL");
          break;
        case CF_COL_INTEGER:
          snprintf(tmp, sizeof tmp, "%" PRId64, cf_stmt_column_int64(st, c));
          put(r, tmp);
          break;
        case CF_COL_REAL:
          snprintf(tmp, sizeof tmp, "%a", cf_stmt_column_double(st, c));
          put(r, tmp);
          break;
        case CF_COL_TEXT:
          put(r, "'");
          put(r, cf_stmt_column_text(st, c));
          put(r, "'");
          break;
        default: {
          size_t n = 0;
          const void *p = cf_stmt_column_blob(st, c, &n);
          put(r, "x");
          puthex(r, p, n);
        }
      }
    }
    put(r, "\n");
  }
  cf_stmt_finalize(st);
  if (rc != CF_DONE) die("%s: %s", sql, cf_node_errmsg(node));
}

static void put_cells(cf_buf *r, const cf_row *row) {
  char tmp[CF_VER_TEXT_LEN + 64];
  for (unsigned c = 0; c <= row->table->ncols; c++) {
    const cf_cell *cell = cf__row_cell(row, c);
    if (cell == NULL) continue;
    snprintf(tmp, sizeof tmp, "  %u type %d ", c, (int)cell->value.kind);
    put(r, tmp);
    switch (cell->value.kind) {
      case CF_VALUE_INT:
        snprintf(tmp, sizeof tmp, "%" PRId64, cell->value.i);
        put(r, tmp);
        break;
      case CF_VALUE_REAL:
        snprintf(tmp, sizeof tmp, "%a", cell->value.d);
        put(r, tmp);
        break;
      case CF_VALUE_TEXT:
      case CF_VALUE_BLOB:
        puthex(r, cell->value.p, cell->value.n);
        break;
      default:
        break;
    }
    put(r, " v ");
    put(r, cf__ver_format(&cell->ver, tmp));
    put(r, "\n");
  }
}

static void report(cf_node *node, cf_buf *r) {
  char sql[256];
  dump(node, r, "SELECT k, v FROM cf_meta ORDER BY k");
  dump(node, r, "SELECT * FROM cf_clock");
  dump(node, r, "SELECT * FROM cf_cursor ORDER BY 1");
  dump(node, r, "SELECT * FROM cf_conflicts ORDER BY 1");
  dump(node, r, "SELECT * FROM cf_outbox");
  for (unsigned t = 0; t < CF_SCHEMA_NTABLES; t++) {
    const cf_table *tb = cf__schema_table(t);
    snprintf(sql, sizeof sql, "SELECT * FROM cf_%s ORDER BY rid", tb->name);
    dump(node, r, sql);
    snprintf(sql, sizeof sql, "SELECT * FROM \"%s\" ORDER BY id", tb->name);
    dump(node, r, sql);
  }

  /* Every row of the tables that have any, read back and decoded. */
  static const char *const tables[] = {"contacts", "deals", "daily_metrics"};
  cf_buf arena;
  cf__buf_init(&arena, BUF_LIMIT);
  for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++) {
    const cf_table *tb = cf__schema_table_by_name(tables[t]);
    snprintf(sql, sizeof sql, "SELECT id FROM cf_%s ORDER BY rid", tb->name);
    cf_stmt *st = NULL;
    need(cf_node_prepare(node, sql, &st), sql, node);
    while (cf_stmt_step(st) == CF_OK) {
      char id[64];
      snprintf(id, sizeof id, "%s", cf_stmt_column_text(st, 0));
      cf_row row;
      int rc = cf__store_read_row(node, tb->number, id, &row, &arena);
      put(r, "# read ");
      put(r, tb->name);
      put(r, " ");
      put(r, id);
      put(r, rc == CF_OK ? "\n" : " not found\n");
      if (rc == CF_OK) put_cells(r, &row);
    }
    cf_stmt_finalize(st);
  }
  cf__buf_free(&arena);

  /* The outbox as a push batch, its PUSH frame, and that frame decoded and
  ** encoded again; then the batch goes back (the file is left as it was). */
  cf__push_batch *b = NULL;
  need(cf__store_push_next(node, 100, &b), "push_next", node);
  cf_buf body, frame, again;
  cf__buf_init(&body, BUF_LIMIT);
  cf__buf_init(&frame, BUF_LIMIT);
  cf__buf_init(&again, BUF_LIMIT);
  for (size_t i = 0; i < b->n; i++) {
    char tmp[128];
    snprintf(tmp, sizeof tmp,
             "# push %s seq %" PRId64 " tx %" PRId64 " mask %" PRIu64 "\n",
             b->items[i].change.table->name, b->items[i].seq, b->items[i].tx,
             b->items[i].mask);
    put(r, tmp);
    put_cells(r, &b->items[i].change);
    need(cf__codec_put_change((uint64_t)b->items[i].seq, &b->items[i].change, &body),
         "codec_put_change", NULL);
  }
  need(cf__encode_push_body(7, b->n, body.p, body.len, &frame), "encode_push", NULL);
  put(r, "# PUSH frame\n");
  puthex(r, frame.p, frame.len);
  put(r, "\n");
  cf_frame f;
  char why[256];
  need(cf__frame_decode(frame.p, frame.len, NULL, &f, why, sizeof why), why, NULL);
  need(cf__frame_encode(&f, &again), "frame_encode", NULL);
  if (again.len != frame.len || memcmp(again.p, frame.p, frame.len) != 0)
    die("PUSH frame %s%s", "changed by decode and encode", "");
  cf__frame_free(&f);
  cf__buf_free(&body);
  cf__buf_free(&frame);
  cf__buf_free(&again);
  cf__store_push_free(b);
  need(cf__store_push_requeue(node), "push_requeue", node);
}

/* Bytes spelled out (docs/formats.md), whatever the architecture. */
static void check_known_bytes(cf_node *node) {
  cf_stmt *st = NULL;
  const char *sql = "SELECT hex(_v) FROM cf_contacts"
                    " WHERE id = '0190f1a2-0000-7000-8000-0000000c00f0'";
  need(cf_node_prepare(node, sql, &st), sql, node);
  if (cf_stmt_step(st) != CF_OK) die("%s: %s", sql, "no row");
  /* 3 distinct versions in order of first use: HLC (T0 + 100000 ms,
  ** counter 3) of node ab..ab (first_name, deleted), the zero version (cells
  ** never written), (T0 + 100001 ms, 0) of node ab..ab (email); then one
  ** index per cell: org_id, id (keys: 0), first_name .. updated_at, deleted. */
  const char *want = "03"
                     "019B76DC2EA00003ABABABABABABABABABABABABABABABAB"
                     "000000000000000000000000000000000000000000000000"
                     "019B76DC2EA10000ABABABABABABABABABABABABABABABAB"
                     "000000010201010101010100";
  const char *got = cf_stmt_column_text(st, 0);
  if (strcmp(got, want) != 0) die("version blob %s, want %s", got, want);
  cf_stmt_finalize(st);
  sql = "SELECT hex(v) FROM cf_meta WHERE k = 'node_id'";
  need(cf_node_prepare(node, sql, &st), sql, node);
  if (cf_stmt_step(st) != CF_OK) die("%s: %s", sql, "no row");
  /* The first 16 bytes of the fixed random source (dc647b302c979ad9dd8f..)
  ** with the version-4 and variant bits set (bytes 6 and 8). */
  static const char want_id[] = "DC647B302C974AD99D8F082E550EB9C5";
  if (strcmp(cf_stmt_column_text(st, 0), want_id) != 0)
    die("node id %s, want %s", cf_stmt_column_text(st, 0), want_id);
  cf_stmt_finalize(st);
}

static char *read_all(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) die("cannot open %s%s", path, "");
  cf_buf b;
  cf__buf_init(&b, BUF_LIMIT);
  char tmp[4096];
  size_t n;
  while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
    if (cf__buf_append(&b, tmp, n) != CF_OK) die("read %s%s", path, "");
  fclose(f);
  return cf__buf_detach(&b, len);
}

/* Compares two reports; prints the first line that differs. */
static void compare(const char *what, const char *want, size_t wn, const cf_buf *got) {
  if (wn == got->len && memcmp(want, got->p, wn) == 0) return;
  size_t i = 0, line = 1, start = 0;
  while (i < wn && i < got->len && want[i] == got->p[i]) {
    if (want[i] == '\n') {
      line++;
      start = i + 1;
    }
    i++;
  }
  fprintf(stderr, "replica_portable: %s differs at report line %zu\n  want: %.*s\n", what,
          line, (int)strcspn(want + start, "\n"), want + start);
  fprintf(stderr, "  got:  %.*s\n", (int)strcspn(got->p + start, "\n"), got->p + start);
  exit(1);
}

static void write_replica(const char *path) {
  cf_node *node = build(path);
  check_known_bytes(node);
  cf_buf r;
  cf__buf_init(&r, BUF_LIMIT);
  report(node, &r);
  cf_node_close(node);
  char expect[4096];
  snprintf(expect, sizeof expect, "%s.expect", path);
  FILE *f = fopen(expect, "wb");
  if (f == NULL || fwrite(r.p, 1, r.len, f) != r.len || fclose(f) != 0)
    die("cannot write %s%s", expect, "");
  cf__buf_free(&r);
  printf("replica_portable: wrote %s (%s)\n", path,
         big_endian() ? "big-endian" : "little-endian");
}

static void verify_replica(const char *path) {
  char expect[4096], fresh[4096];
  snprintf(expect, sizeof expect, "%s.expect", path);
  snprintf(fresh, sizeof fresh, "%s.fresh", path);
  size_t wn = 0;
  char *want = read_all(expect, &wn);

  /* The file as written elsewhere, read here. */
  cf_set_clock_hook(fixed_clock, NULL);
  cf_node *node = NULL;
  if (cf_node_open(path, ORG, USER, &node) != CF_OK)
    die("cf_node_open(%s): %s", path, cf_node_errmsg(NULL));
  check_known_bytes(node);
  cf_buf r;
  cf__buf_init(&r, BUF_LIMIT);
  report(node, &r);
  cf_node_close(node);
  compare(path, want, wn, &r);

  /* The same replica built here. */
  node = build(fresh);
  check_known_bytes(node);
  cf__buf_reset(&r);
  report(node, &r);
  cf_node_close(node);
  compare("the replica built here", want, wn, &r);
  cf__buf_free(&r);
  free(want);
  printf("replica_portable: %s reads the same here (%s)\n", path,
         big_endian() ? "big-endian" : "little-endian");
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: replica_portable write|verify PATH | roundtrip DIR\n");
    return 2;
  }
  if (strcmp(argv[1], "write") == 0) {
    write_replica(argv[2]);
  } else if (strcmp(argv[1], "verify") == 0) {
    verify_replica(argv[2]);
  } else if (strcmp(argv[1], "roundtrip") == 0) {
    char path[4096];
    snprintf(path, sizeof path, "%s/replica_portable.db", argv[2]);
    write_replica(path);
    verify_replica(path);
  } else {
    fprintf(stderr, "replica_portable: unknown command %s\n", argv[1]);
    return 2;
  }
  return 0;
}
