/*
** tests/unit/store_helpers.h: helpers shared by the replica tests
** (test_store_*.c): opening a node in the test's directory, running SQL and
** reading single values, dumping the views, and building remote changes.
*/
#ifndef CF_STORE_HELPERS_H
#define CF_STORE_HELPERS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_test.h"
#include "clientflow.h"
#include "core/buf.h"
#include "core/row.h"
#include "core/schema.h"
#include "core/version.h"
#include "platform/platform.h"
#include "store/store.h"

#define ORG_A "0190f1a2-0000-7000-8000-00000000a001"
#define ORG_B "0190f1a2-0000-7000-8000-00000000a002"
#define USER_A "0190f1a2-0000-7000-8000-00000000b001"

#define UNUSED_FN __attribute__((unused))

/* The key the store tests use when CF_TEST_ENCRYPT=1 (ctest runs every
** store test a second time so, as <name>_encrypted). */
static const unsigned char test_replica_key[32] = "store-tests-key-0123456789abcdef";

/* 1 when the store tests run on encrypted replicas (CF_TEST_ENCRYPT=1). */
static UNUSED_FN int test_encrypted(void) {
  const char *enc = getenv("CF_TEST_ENCRYPT");
  return enc != NULL && strcmp(enc, "1") == 0;
}

/* cf_node_open, encrypted with test_replica_key when test_encrypted(). */
static UNUSED_FN int test_node_open(const char *path, const char *org, const char *user,
                                    cf_node **out) {
  if (!test_encrypted()) return cf_node_open(path, org, user, out);
  cf_node_options *opts = NULL;
  int rc = cf_node_options_new(&opts);
  if (rc == CF_OK) rc = cf_node_options_set_key(opts, test_replica_key);
  if (rc == CF_OK) rc = cf_node_open_with(path, org, user, opts, out);
  cf_node_options_free(opts);
  return rc;
}

/* Opens (creating) the replica <tmpdir>/<name> for org: encrypted with
** test_replica_key when CF_TEST_ENCRYPT=1. */
static UNUSED_FN cf_node *open_replica(const char *name, const char *org) {
  char path[8192];
  snprintf(path, sizeof path, "%s/%s", cf_test_tmpdir(), name);
  cf_node *node = NULL;
  int rc = test_node_open(path, org, USER_A, &node);
  if (rc == CF_OK && test_encrypted()) CHECK(cf_node_encrypted(node));
  CHECK_MSG(rc == CF_OK, "cf_node_open(%s): %s: %s", path, cf_strerror(rc),
            cf_node_errmsg(NULL));
  return node;
}

/* Runs sql and requires success. */
#define EXEC_OK(node, sql)                                                               \
  do {                                                                                   \
    int rc_ = cf_node_exec((node), (sql));                                               \
    CHECK_MSG(rc_ == CF_OK, "%s -> %s: %s", (sql), cf_strerror(rc_),                     \
              cf_node_errmsg(node));                                                     \
  } while (0)

/* The first column of the first row of sql as an integer (-1 if no row). */
static UNUSED_FN int64_t query_int(cf_node *node, const char *sql) {
  cf_stmt *st = NULL;
  int rc = cf_node_prepare(node, sql, &st);
  CHECK_MSG(rc == CF_OK, "%s: %s", sql, cf_node_errmsg(node));
  int64_t v = -1;
  rc = cf_stmt_step(st);
  if (rc == CF_OK) v = cf_stmt_column_int64(st, 0);
  cf_stmt_finalize(st);
  CHECK_MSG(rc == CF_OK || rc == CF_DONE, "%s: %s", sql, cf_node_errmsg(node));
  return v;
}

/* The first column of the first row of sql as text into out[cap] ("" if
** NULL or no row). */
static UNUSED_FN const char *query_text(cf_node *node, const char *sql, char *out,
                                        size_t cap) {
  cf_stmt *st = NULL;
  int rc = cf_node_prepare(node, sql, &st);
  CHECK_MSG(rc == CF_OK, "%s: %s", sql, cf_node_errmsg(node));
  out[0] = '\0';
  rc = cf_stmt_step(st);
  if (rc == CF_OK && cf_stmt_column_text(st, 0) != NULL)
    snprintf(out, cap, "%s", cf_stmt_column_text(st, 0));
  cf_stmt_finalize(st);
  CHECK_MSG(rc == CF_OK || rc == CF_DONE, "%s: %s", sql, cf_node_errmsg(node));
  return out;
}

/* Appends every view's rows (ordered by id; typed cells) to out. */
static UNUSED_FN void dump_views(cf_node *node, cf_buf *out) {
  for (unsigned n = 0; n < CF_SCHEMA_NTABLES; n++) {
    const cf_table *t = cf__schema_table(n);
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT * FROM \"%s\" ORDER BY id", t->name);
    cf_stmt *st = NULL;
    CHECK_OK(cf_node_prepare(node, sql, &st));
    CHECK_OK(cf__buf_puts(out, t->name));
    CHECK_OK(cf__buf_putc(out, '\n'));
    int rc;
    while ((rc = cf_stmt_step(st)) == CF_OK) {
      for (int c = 0; c < cf_stmt_column_count(st); c++) {
        char cell[64];
        int type = cf_stmt_column_type(st, c);
        snprintf(cell, sizeof cell, "%d:", type);
        CHECK_OK(cf__buf_puts(out, cell));
        if (type != CF_COL_NULL) CHECK_OK(cf__buf_puts(out, cf_stmt_column_text(st, c)));
        CHECK_OK(cf__buf_putc(out, '|'));
      }
      CHECK_OK(cf__buf_putc(out, '\n'));
    }
    cf_stmt_finalize(st);
    CHECK_EQ(rc, CF_DONE);
  }
}

/* A version (ms, counter, node byte). */
static UNUSED_FN cf_ver make_ver(int64_t ms, unsigned counter, unsigned char node_byte) {
  cf_nodeid id;
  memset(&id, node_byte, sizeof id);
  cf_ver v;
  cf__ver_make(CF_HLC_MAKE(ms, counter), &id, &v);
  return v;
}

/* Sets text cell col (by name) of row to s with version v (NULL: key). */
static UNUSED_FN void set_text(cf_row *row, const char *col, const char *s,
                               const cf_ver *v) {
  int c = cf__schema_column_index(row->table, col);
  CHECK_MSG(c >= 0, "no column %s", col);
  cf_value val = s != NULL ? cf__value_text(s, strlen(s)) : cf__value_null();
  CHECK_OK(cf__row_set(row, (unsigned)c, &val, v));
}

/* A remote contact change with key (org, id) and no other cell. */
static UNUSED_FN void remote_contact(cf_row *row, const char *org, const char *id) {
  cf__row_init(row, cf__schema_table_by_name("contacts"));
  set_text(row, "org_id", org, NULL);
  set_text(row, "id", id, NULL);
}

/* Process-wide fake clock for tests that move time. */
static int64_t fake_now_ms;
static UNUSED_FN int64_t fake_clock(void *ctx) { return fake_now_ms; }

#endif
