/*
** tests/unit/test_store_apply.c: applying remote rows (store/apply.c):
** column-wise last-writer-wins through core/merge.h, pending local changes
** kept, the cursor stored atomically with the rows, clock skew refused, and
** replicas fed the same changes in different orders converge byte for byte.
*/
#include "store/store_int.h"
#include "store_helpers.h"

#define ID1 "0190f1a2-0000-7000-8000-000000000001"
#define ID2 "0190f1a2-0000-7000-8000-000000000002"

static int col(const char *table, const char *name) {
  return cf__schema_column_index(cf__schema_table_by_name(table), name);
}

CF_TEST(test_apply_merges_column_wise_older_remote_loses_newer_wins) {
  fake_now_ms = 1800000000000LL;
  cf_set_clock_hook(fake_clock, NULL);
  cf_node *node = open_replica("r.db", ORG_A);
  EXEC_OK(node, "INSERT INTO contacts (id, first_name, email) VALUES ('" ID1
                "', 'local', 'local@x.io')");
  cf_row ch;
  remote_contact(&ch, ORG_A, ID1);
  cf_ver older = make_ver(fake_now_ms - 1000, 0, 0xee);
  cf_ver newer = make_ver(fake_now_ms + 1000, 0, 0xee);
  set_text(&ch, "first_name", "remote", &older);
  set_text(&ch, "email", "remote@x.io", &newer);
  CHECK_OK(cf__store_apply(node, &ch, 1, 7));
  char buf[64];
  CHECK_STR(query_text(node, "SELECT first_name FROM contacts", buf, sizeof buf),
            "local");
  CHECK_STR(query_text(node, "SELECT email FROM contacts", buf, sizeof buf),
            "remote@x.io");
  /* The local insert is still pending; the remote row was not logged. */
  CHECK_EQ(query_int(node, "SELECT count(*) FROM cf_outbox"), 1);
  int64_t cursor = 0;
  CHECK_OK(cf__store_cursor(node, &cursor));
  CHECK_EQ(cursor, 7);
  /* The clock adopted the remote time: the next local write is newer. */
  EXEC_OK(node, "UPDATE contacts SET email = 'again@x.io'");
  cf_row row;
  cf_buf arena;
  cf__buf_init(&arena, 1 << 20);
  CHECK_OK(cf__store_read_row(node, ch.table->number, ID1, &row, &arena));
  CHECK(cf__ver_cmp(&row.cells[col("contacts", "email")].ver, &newer) > 0);
  cf__buf_free(&arena);
  cf_node_close(node);
  cf_set_clock_hook(NULL, NULL);
}

CF_TEST(test_apply_new_row_is_visible_and_not_logged) {
  cf_node *node = open_replica("r.db", ORG_A);
  cf_row ch;
  remote_contact(&ch, ORG_A, ID2);
  cf_ver v = make_ver(cf__now_ms(), 3, 0x11);
  set_text(&ch, "first_name", "Remote", &v);
  set_text(&ch, "tags", "[]", &v);
  set_text(&ch, "metadata", "{}", &v);
  cf__row_set_deleted(&ch, 0, &v);
  CHECK_OK(cf__store_apply(node, &ch, 1, -1));
  CHECK_EQ(query_int(node, "SELECT count(*) FROM contacts WHERE first_name = 'Remote'"),
           1);
  CHECK_EQ(query_int(node, "SELECT count(*) FROM cf_outbox"), 0);
  /* Applying the same change again changes nothing. */
  CHECK_OK(cf__store_apply(node, &ch, 1, -1));
  CHECK_EQ(query_int(node, "SELECT count(*) FROM cf_contacts"), 1);
  /* A newer remote delete hides it. */
  cf_row del;
  remote_contact(&del, ORG_A, ID2);
  cf_ver v2 = make_ver(cf__now_ms(), 4, 0x11);
  cf__row_set_deleted(&del, 1, &v2);
  CHECK_OK(cf__store_apply(node, &del, 1, -1));
  CHECK_EQ(query_int(node, "SELECT count(*) FROM contacts"), 0);
  cf_node_close(node);
}

CF_TEST(test_apply_batch_and_cursor_are_atomic) {
  cf_node *node = open_replica("r.db", ORG_A);
  cf_row rows[3];
  cf_ver v = make_ver(cf__now_ms(), 0, 0x22);
  remote_contact(&rows[0], ORG_A, ID1);
  set_text(&rows[0], "first_name", "one", &v);
  CHECK_OK(cf__store_apply(node, rows, 1, 42));
  remote_contact(&rows[1], ORG_A, ID2);
  set_text(&rows[1], "first_name", "two", &v);
  remote_contact(&rows[2], ORG_B, "0190f1a2-0000-7000-8000-000000000003");
  set_text(&rows[2], "first_name", "theirs", &v);
  /* One bad row (another org) refuses the whole batch and its cursor. */
  CHECK_EQ(cf__store_apply(node, &rows[1], 2, 50), CF_WRONG_ORG);
  int64_t cursor = 0;
  CHECK_OK(cf__store_cursor(node, &cursor));
  CHECK_EQ(cursor, 42);
  CHECK_EQ(query_int(node, "SELECT count(*) FROM cf_contacts"), 1);
  /* A non-canonical value refuses it too. */
  set_text(&rows[2], "org_id", ORG_A, NULL);
  set_text(&rows[2], "email", "x@y.z", &v);
  set_text(&rows[2], "created_at", "2026-01-01 10:00:00+00", &v);
  CHECK_EQ(cf__store_apply(node, &rows[1], 2, 50), CF_INVALID);
  CHECK_EQ(query_int(node, "SELECT count(*) FROM cf_contacts"), 1);
  set_text(&rows[2], "created_at", "2026-01-01T10:00:00.000000Z", &v);
  CHECK_OK(cf__store_apply(node, &rows[1], 2, 50));
  CHECK_OK(cf__store_cursor(node, &cursor));
  CHECK_EQ(cursor, 50);
  CHECK_EQ(query_int(node, "SELECT count(*) FROM contacts"), 3);
  cf_node_close(node);
}

CF_TEST(test_apply_refuses_versions_too_far_in_the_future) {
  cf_node *node = open_replica("r.db", ORG_A);
  cf_row ch;
  remote_contact(&ch, ORG_A, ID1);
  cf_ver v = make_ver(cf__now_ms() + 24 * 3600 * 1000LL, 0, 0x33);
  set_text(&ch, "first_name", "future", &v);
  CHECK_EQ(cf__store_apply(node, &ch, 1, 5), CF_CLOCK_SKEW);
  CHECK(strstr(cf_node_errmsg(node), "future") != NULL);
  CHECK_EQ(query_int(node, "SELECT count(*) FROM cf_contacts"), 0);
  int64_t cursor = -1;
  CHECK_OK(cf__store_cursor(node, &cursor));
  CHECK_EQ(cursor, 0);
  cf_node_close(node);
}

CF_TEST(test_pending_local_change_stays_visible_where_newer) {
  cf_node *node = open_replica("r.db", ORG_A);
  cf_row ch;
  remote_contact(&ch, ORG_A, ID1);
  cf_ver old = make_ver(cf__now_ms() - 5000, 0, 0x44);
  set_text(&ch, "first_name", "server", &old);
  set_text(&ch, "company", "ServerCo", &old);
  CHECK_OK(cf__store_apply(node, &ch, 1, 1));
  EXEC_OK(node, "UPDATE contacts SET company = 'LocalCo'");
  /* The master echoes an older state of the row (e.g. a pull that raced the
  ** local write): the local company stays, as does its outbox entry. */
  CHECK_OK(cf__store_apply(node, &ch, 1, 2));
  char buf[64];
  CHECK_STR(query_text(node, "SELECT company FROM contacts", buf, sizeof buf), "LocalCo");
  CHECK_EQ(query_int(node, "SELECT count(*) FROM cf_outbox"), 1);
  cf_node_close(node);
}

/* --- convergence --------------------------------------------------------- */

#define NROWS 6
#define NCHANGES 300

static const char *const row_ids[NROWS] = {
    "0190f1a2-0000-7000-8000-000000000101", "0190f1a2-0000-7000-8000-000000000102",
    "0190f1a2-0000-7000-8000-000000000103", "0190f1a2-0000-7000-8000-000000000104",
    "0190f1a2-0000-7000-8000-000000000105", "0190f1a2-0000-7000-8000-000000000106"};
static const char *const names[] = {"ann", "bob", "cy", "dee", NULL};
static const char *const companies[] = {"A", "B", "C", NULL};

/* A random change: a random subset of first_name, company, phone, deleted,
** from one of three nodes, at a random time (ties included). */
static void random_change(uint64_t *rng, cf_row *ch) {
  remote_contact(ch, ORG_A, row_ids[cf_test_rand(rng) % NROWS]);
  unsigned char node_byte = (unsigned char)(1 + cf_test_rand(rng) % 3);
  cf_ver v = make_ver(1700000000000LL + (int64_t)(cf_test_rand(rng) % 50), 0, node_byte);
  uint64_t pick = cf_test_rand(rng);
  if (pick & 1) set_text(ch, "first_name", names[cf_test_rand(rng) % 4], &v);
  if (pick & 2) set_text(ch, "company", companies[cf_test_rand(rng) % 4], &v);
  if (pick & 4) set_text(ch, "phone", names[cf_test_rand(rng) % 5], &v);
  if (pick & 8) cf__row_set_deleted(ch, (int)(cf_test_rand(rng) % 2), &v);
  if ((pick & 15) == 0) set_text(ch, "first_name", "zed", &v);
}

CF_TEST(test_replicas_fed_the_same_changes_in_different_orders_hold_identical_views) {
  uint64_t rng = cf_test_seed();
  cf_row *changes = calloc(NCHANGES, sizeof *changes);
  size_t *order = calloc(NCHANGES, sizeof *order);
  CHECK(changes != NULL && order != NULL);
  for (size_t i = 0; i < NCHANGES; i++)
    random_change(&rng, &changes[i]);
  cf_node *a = open_replica("a.db", ORG_A);
  cf_node *b = open_replica("b.db", ORG_A);
  /* a: in order, one batch; b: shuffled, in random batch sizes, some twice. */
  CHECK_OK(cf__store_apply(a, changes, NCHANGES, 1));
  for (size_t i = 0; i < NCHANGES; i++)
    order[i] = i;
  for (size_t i = NCHANGES - 1; i > 0; i--) {
    size_t j = (size_t)(cf_test_rand(&rng) % (i + 1)), tmp = order[i];
    order[i] = order[j];
    order[j] = tmp;
  }
  cf_row batch[8];
  for (size_t i = 0; i < NCHANGES;) {
    size_t n = 1 + (size_t)(cf_test_rand(&rng) % 8);
    size_t k = 0;
    for (; k < n && i < NCHANGES; k++, i++)
      batch[k] = changes[order[i]];
    CHECK_OK(cf__store_apply(b, batch, k, (int64_t)i));
    if (cf_test_rand(&rng) % 4 == 0) CHECK_OK(cf__store_apply(b, batch, k, (int64_t)i));
  }
  cf_buf da, db;
  cf__buf_init(&da, 1 << 24);
  cf__buf_init(&db, 1 << 24);
  dump_views(a, &da);
  dump_views(b, &db);
  CHECK(da.len > 0);
  CHECK_MSG(da.len == db.len && memcmp(da.p, db.p, da.len) == 0,
            "views differ:\n%s\n---\n%s", da.p, db.p);
  /* The data tables agree too, versions included (rids aside). */
  CHECK_EQ(query_int(a, "SELECT count(*) FROM cf_contacts"),
           query_int(b, "SELECT count(*) FROM cf_contacts"));
  for (size_t r = 0; r < NROWS; r++) {
    char sql[256], va[512], vb[512];
    snprintf(sql, sizeof sql,
             "SELECT hex(_v) || deleted FROM cf_contacts WHERE id = '%s'", row_ids[r]);
    CHECK_STR(query_text(a, sql, va, sizeof va), query_text(b, sql, vb, sizeof vb));
  }
  cf__buf_free(&da);
  cf__buf_free(&db);
  cf_node_close(a);
  cf_node_close(b);
  free(changes);
  free(order);
}

/* --- the insert-first path (docs/replica.md, "Bootstrap") ---------------- */

/* Every column of cf_contacts but rid, versions and pending columns
** included, of the rows other than `except`, in id order. */
static void dump_contacts(cf_node *node, const char *except, cf_buf *out) {
  char sql[512];
  snprintf(sql, sizeof sql,
           "SELECT id, first_name, company, phone, deleted, hex(_v), _seq, _tx, _mask,"
           " _batch, _sent FROM cf_contacts WHERE id <> '%s' ORDER BY id",
           except);
  cf_stmt *st = NULL;
  CHECK_OK(cf_node_prepare(node, sql, &st));
  int rc;
  while ((rc = cf_stmt_step(st)) == CF_OK) {
    for (int c = 0; c < cf_stmt_column_count(st); c++) {
      const char *v = cf_stmt_column_text(st, c);
      CHECK_OK(cf__buf_puts(out, v ? v : "NULL"));
      CHECK_OK(cf__buf_putc(out, '|'));
    }
    CHECK_OK(cf__buf_putc(out, '\n'));
  }
  cf_stmt_finalize(st);
  CHECK_EQ(rc, CF_DONE);
}

CF_TEST(test_apply_insert_first_writes_exactly_what_the_lookup_path_writes) {
  uint64_t rng = cf_test_seed();
  cf_row *changes = calloc(NCHANGES, sizeof *changes);
  CHECK(changes != NULL);
  for (size_t i = 0; i < NCHANGES; i++)
    random_change(&rng, &changes[i]);
  cf_node *a = open_replica("a.db", ORG_A);
  cf_node *b = open_replica("b.db", ORG_A);
  /* Both hold a pending local row that the remote changes also touch. */
  EXEC_OK(a, "INSERT INTO contacts (id, first_name) VALUES ('0190f1a2-0000-7000-8000-"
             "000000000101', 'local')");
  EXEC_OK(b, "INSERT INTO contacts (id, first_name) VALUES ('0190f1a2-0000-7000-8000-"
             "000000000101', 'local')");
  /* a: one batch, the insert-first path wherever it guesses a new row (the
  ** same id comes again and again, so it falls back to the merge often);
  ** b: one change at a time, always looked up first. */
  CHECK_OK(cf__store_apply(a, changes, NCHANGES, 1));
  for (size_t i = 0; i < NCHANGES; i++) {
    b->apply_lookup = UINT32_MAX;
    CHECK_OK(cf__store_apply(b, &changes[i], 1, 1));
  }
  cf_buf da, db;
  cf__buf_init(&da, 1 << 24);
  cf__buf_init(&db, 1 << 24);
  dump_contacts(a, row_ids[0], &da);
  dump_contacts(b, row_ids[0], &db);
  CHECK(da.len > 0);
  CHECK_MSG(da.len == db.len && memcmp(da.p, db.p, da.len) == 0,
            "rows differ:\n%s\n---\n%s", da.p, db.p);
  /* The local row keeps its outbox entry on both; nothing else is pending. */
  CHECK_EQ(query_int(a, "SELECT count(*) FROM cf_outbox"), 1);
  CHECK_EQ(query_int(b, "SELECT count(*) FROM cf_outbox"), 1);
  cf__buf_free(&da);
  cf__buf_free(&db);
  cf_node_close(a);
  cf_node_close(b);
  free(changes);
}
