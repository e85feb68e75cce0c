/*
** tests/unit/test_store_views.c: the replica's views and triggers
** (store/ddl.c, store/sqlfn.c): org scoping, hidden metadata and deleted
** rows, what the triggers fill, refusal of other orgs and bad values, and
** the node's identity and clock across reopen.
*/
#include "store_helpers.h"

CF_TEST(test_views_show_only_the_replicas_org_and_live_rows) {
  cf_node *node = open_replica("r.db", ORG_A);
  EXEC_OK(node, "INSERT INTO contacts (first_name) VALUES ('mine')");
  EXEC_OK(node, "INSERT INTO contacts (first_name) VALUES ('gone')");
  EXEC_OK(node, "DELETE FROM contacts WHERE first_name = 'gone'");
  /* A row of another org smuggled into the data table is never shown. */
  EXEC_OK(node,
          "INSERT INTO cf_contacts (org_id, id, first_name, deleted, _v) VALUES "
          "('" ORG_B "', '0190f1a2-0000-7000-8000-0000000000ff', 'theirs', 0, x'00')");
  CHECK_EQ(query_int(node, "SELECT count(*) FROM contacts"), 1);
  char buf[64];
  CHECK_STR(query_text(node, "SELECT first_name FROM contacts", buf, sizeof buf), "mine");
  CHECK_EQ(query_int(node, "SELECT count(*) FROM cf_contacts"), 3);

  /* The view has exactly the master's columns, no sync metadata. */
  cf_stmt *st = NULL;
  CHECK_OK(cf_node_prepare(node, "SELECT * FROM contacts", &st));
  const cf_table *t = cf__schema_table_by_name("contacts");
  CHECK_EQ(cf_stmt_column_count(st), t->ncols);
  for (unsigned c = 0; c < t->ncols; c++)
    CHECK_STR(cf_stmt_column_name(st, (int)c), t->cols[c].name);
  cf_stmt_finalize(st);
  /* Every table of the descriptor has its view. */
  for (unsigned n = 0; n < CF_SCHEMA_NTABLES; n++) {
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM \"%s\"", cf__schema_table(n)->name);
    CHECK(query_int(node, sql) >= 0);
  }
  cf_node_close(node);
}

CF_TEST(test_insert_trigger_fills_id_org_timestamps_defaults_and_canonical_values) {
  cf_node *node = open_replica("r.db", ORG_A);
  EXEC_OK(node, "INSERT INTO contacts (first_name, email, tags, metadata) VALUES "
                "('Ada', 'ada@example.com', '{b,a}', '{ \"z\": 1, \"a\": [1.50] }')");
  char buf[256];
  query_text(node, "SELECT id FROM contacts", buf, sizeof buf);
  CHECK_EQ(strlen(buf), 36);
  CHECK_EQ(buf[14], '7'); /* UUIDv7 */
  CHECK_STR(query_text(node, "SELECT org_id FROM contacts", buf, sizeof buf), ORG_A);
  CHECK_STR(query_text(node, "SELECT tags FROM contacts", buf, sizeof buf),
            "[\"b\",\"a\"]");
  CHECK_STR(query_text(node, "SELECT metadata FROM contacts", buf, sizeof buf),
            "{\"a\":[1.5],\"z\":1}");
  query_text(node, "SELECT created_at FROM contacts", buf, sizeof buf);
  CHECK_EQ(strlen(buf), 27);
  CHECK_EQ(buf[10], 'T');
  CHECK_EQ(buf[26], 'Z');
  CHECK_EQ(query_int(node, "SELECT created_at = updated_at FROM contacts"), 1);

  EXEC_OK(node, "INSERT INTO deals (title, value) VALUES ('Big', 12.5)");
  CHECK_STR(query_text(node, "SELECT value FROM deals", buf, sizeof buf), "12.50");
  CHECK_STR(
      query_text(node, "SELECT stage || ' ' || currency FROM deals", buf, sizeof buf),
      "lead USD");
  EXEC_OK(node, "INSERT INTO automations (name, \"trigger\", action) VALUES "
                "('a', 'contact_created', 'webhook')");
  CHECK_EQ(query_int(node, "SELECT enabled FROM automations"), 1);
  /* An explicit id is kept (canonicalised to lowercase). */
  EXEC_OK(node, "INSERT INTO contacts (id, first_name) VALUES "
                "('0190F1A2-0000-7000-8000-0000000000AA', 'Upper')");
  CHECK_EQ(query_int(node, "SELECT count(*) FROM contacts WHERE id = "
                           "'0190f1a2-0000-7000-8000-0000000000aa'"),
           1);
  /* Each insert is logged in the same transaction. */
  CHECK_EQ(query_int(node, "SELECT count(*) FROM cf_outbox"), 4);
  cf_node_close(node);
}

CF_TEST(test_write_naming_another_org_fails_with_a_clear_error) {
  cf_node *node = open_replica("r.db", ORG_A);
  int rc = cf_node_exec(node, "INSERT INTO contacts (org_id, first_name) VALUES ('" ORG_B
                              "', 'x')");
  CHECK_EQ(rc, CF_WRONG_ORG);
  CHECK(strstr(cf_node_errmsg(node), "another organization") != NULL);
  EXEC_OK(node, "INSERT INTO contacts (org_id, first_name) VALUES ('" ORG_A "', 'ok')");
  rc = cf_node_exec(node, "UPDATE contacts SET org_id = '" ORG_B "'");
  CHECK_EQ(rc, CF_WRONG_ORG);
  rc = cf_node_exec(node, "INSERT INTO organizations (id, name, slug) VALUES ('" ORG_B
                          "', 'B', 'b')");
  CHECK_EQ(rc, CF_WRONG_ORG);
  EXEC_OK(node, "INSERT INTO organizations (name, slug) VALUES ('A', 'a')");
  char buf[64];
  CHECK_STR(query_text(node, "SELECT id FROM organizations", buf, sizeof buf), ORG_A);
  /* Refused writes left nothing behind: two rows, two outbox entries. */
  CHECK_EQ(query_int(node, "SELECT count(*) FROM cf_contacts"), 1);
  CHECK_EQ(query_int(node, "SELECT count(*) FROM cf_outbox"), 2);
  CHECK_EQ(query_int(node, "SELECT count(*) FROM contacts WHERE org_id = '" ORG_A "'"),
           1);
  cf_node_close(node);
}

CF_TEST(test_invalid_values_are_refused_with_their_code) {
  cf_node *node = open_replica("r.db", ORG_A);
  CHECK_EQ(cf_node_exec(node, "INSERT INTO deals (title, value) VALUES ('x', 'abc')"),
           CF_INVALID);
  CHECK(strstr(cf_node_errmsg(node), "deals.value") != NULL);
  CHECK_EQ(cf_node_exec(node, "INSERT INTO contacts (last_name) VALUES ('x')"),
           CF_CONSTRAINT);
  CHECK(strstr(cf_node_errmsg(node), "first_name") != NULL);
  CHECK_EQ(
      cf_node_exec(node, "INSERT INTO contacts (first_name, id) VALUES ('x', 'nope')"),
      CF_INVALID);
  EXEC_OK(node, "INSERT INTO contacts (first_name) VALUES ('x')");
  CHECK_EQ(cf_node_exec(
               node, "UPDATE contacts SET id = '0190f1a2-0000-7000-8000-0000000000ab'"),
           CF_INVALID);
  CHECK_EQ(query_int(node, "SELECT count(*) FROM cf_outbox"), 1);
  cf_node_close(node);
}

CF_TEST(test_update_stamps_only_changed_columns_and_logs_them) {
  cf_node *node = open_replica("r.db", ORG_A);
  EXEC_OK(node, "INSERT INTO contacts (id, first_name, email) VALUES "
                "('0190f1a2-0000-7000-8000-000000000001', 'Ada', 'a@x.io')");
  /* Acknowledge the insert so the update gets its own entry. */
  cf__push_batch *b = NULL;
  CHECK_OK(cf__store_push_next(node, 10, &b));
  CHECK_EQ(b->n, 1);
  cf__store_push_result r = {b->items[0].seq, CF_PUSH_APPLIED, 0, NULL};
  CHECK_OK(cf__store_push_results(node, &r, 1));
  cf__store_push_free(b);
  CHECK_EQ(query_int(node, "SELECT count(*) FROM cf_outbox"), 0);

  cf_row before, after;
  cf_buf arena1, arena2;
  cf__buf_init(&arena1, 1 << 20);
  cf__buf_init(&arena2, 1 << 20);
  const cf_table *t = cf__schema_table_by_name("contacts");
  CHECK_OK(cf__store_read_row(node, t->number, "0190f1a2-0000-7000-8000-000000000001",
                              &before, &arena1));
  EXEC_OK(node, "UPDATE contacts SET email = 'ada@x.io', first_name = 'Ada'");
  CHECK_OK(cf__store_read_row(node, t->number, "0190f1a2-0000-7000-8000-000000000001",
                              &after, &arena2));
  int email = cf__schema_column_index(t, "email"),
      first = cf__schema_column_index(t, "first_name");
  int upd = cf__schema_column_index(t, "updated_at");
  CHECK(cf__ver_cmp(&after.cells[email].ver, &before.cells[email].ver) > 0);
  CHECK(cf__ver_cmp(&after.cells[first].ver, &before.cells[first].ver) == 0);
  CHECK(cf__ver_cmp(&after.cells[upd].ver, &before.cells[upd].ver) > 0);
  uint64_t want = CF_COL_BIT(email) | CF_COL_BIT(upd);
  CHECK_EQ(query_int(node, "SELECT mask FROM cf_outbox"), (int64_t)want);

  /* A second update of the same row merges into that entry. */
  EXEC_OK(node, "UPDATE contacts SET phone = '123'");
  CHECK_EQ(query_int(node, "SELECT count(*) FROM cf_outbox"), 1);
  want |= CF_COL_BIT(cf__schema_column_index(t, "phone"));
  CHECK_EQ(query_int(node, "SELECT mask FROM cf_outbox"), (int64_t)want);

  /* Delete: only the deleted cell, row hidden. */
  EXEC_OK(node, "INSERT INTO contacts (first_name) VALUES ('other')");
  EXEC_OK(node, "DELETE FROM contacts WHERE first_name = 'Ada'");
  CHECK_EQ(query_int(node, "SELECT count(*) FROM contacts"), 1);
  /* The delete joins Ada's pending entry, which moves to the end. */
  CHECK_EQ(query_int(node, "SELECT count(*) FROM cf_outbox"), 2);
  want |= CF_COL_BIT(t->ncols);
  CHECK_EQ(query_int(node, "SELECT mask FROM cf_outbox ORDER BY seq DESC LIMIT 1"),
           (int64_t)want);
  CHECK_EQ(query_int(node, "SELECT deleted FROM cf_contacts WHERE first_name = 'Ada'"),
           1);
  cf__buf_free(&arena1);
  cf__buf_free(&arena2);
  cf_node_close(node);
}

CF_TEST(test_reopen_keeps_identity_and_refuses_another_org) {
  char path[8192];
  snprintf(path, sizeof path, "%s/r.db", cf_test_tmpdir());
  cf_node *node = NULL;
  CHECK_OK(test_node_open(path, ORG_A, USER_A, &node));
  char id[64];
  snprintf(id, sizeof id, "%s", cf_node_id(node));
  CHECK_STR(cf_node_org_id(node), ORG_A);
  CHECK_STR(cf_node_user_id(node), USER_A);
  EXEC_OK(node, "INSERT INTO contacts (first_name) VALUES ('kept')");
  cf_node_close(node);
  CHECK_OK(test_node_open(path, ORG_A, USER_A, &node));
  CHECK_STR(cf_node_id(node), id);
  CHECK_EQ(query_int(node, "SELECT count(*) FROM contacts"), 1);
  CHECK_EQ(query_int(node, "SELECT count(*) FROM cf_outbox"), 1);
  cf_node_close(node);
  node = NULL;
  CHECK_EQ(test_node_open(path, ORG_B, USER_A, &node), CF_WRONG_ORG);
  CHECK(node == NULL);
  CHECK(strstr(cf_node_errmsg(NULL), "belongs to org") != NULL);
  CHECK_EQ(test_node_open(path, "not-a-uuid", USER_A, &node), CF_INVALID);
}

CF_TEST(test_clock_restored_on_reopen_never_goes_back) {
  char path[8192];
  snprintf(path, sizeof path, "%s/r.db", cf_test_tmpdir());
  const cf_table *t = cf__schema_table_by_name("contacts");
  int first = cf__schema_column_index(t, "first_name");
  fake_now_ms = 1800000000000LL;
  cf_set_clock_hook(fake_clock, NULL);
  cf_node *node = NULL;
  CHECK_OK(test_node_open(path, ORG_A, USER_A, &node));
  EXEC_OK(node, "INSERT INTO contacts (id, first_name) VALUES "
                "('0190f1a2-0000-7000-8000-000000000001', 'a')");
  cf_row row;
  cf_buf arena;
  cf__buf_init(&arena, 1 << 20);
  CHECK_OK(cf__store_read_row(node, t->number, "0190f1a2-0000-7000-8000-000000000001",
                              &row, &arena));
  cf_ver v1 = row.cells[first].ver;
  cf_node_close(node);
  /* The wall clock jumps back an hour while the node is closed. */
  fake_now_ms -= 3600 * 1000;
  CHECK_OK(test_node_open(path, ORG_A, USER_A, &node));
  EXEC_OK(node, "INSERT INTO contacts (id, first_name) VALUES "
                "('0190f1a2-0000-7000-8000-000000000002', 'b')");
  CHECK_OK(cf__store_read_row(node, t->number, "0190f1a2-0000-7000-8000-000000000002",
                              &row, &arena));
  CHECK(cf__ver_cmp(&row.cells[first].ver, &v1) > 0);
  /* And a write later in the same run too. */
  EXEC_OK(node, "UPDATE contacts SET first_name = 'c' WHERE first_name = 'a'");
  CHECK_OK(cf__store_read_row(node, t->number, "0190f1a2-0000-7000-8000-000000000001",
                              &row, &arena));
  CHECK(cf__ver_cmp(&row.cells[first].ver, &v1) > 0);
  cf_node_close(node);
  cf_set_clock_hook(NULL, NULL);
  cf__buf_free(&arena);
}

/* The replica holds `contacts` rows in cf_contacts and `outbox` entries,
** and its file is sound. */
static void check_contacts_and_outbox(cf_node *node, int64_t contacts, int64_t outbox) {
  CHECK_EQ(query_int(node, "SELECT count(*) FROM cf_contacts"), contacts);
  CHECK_EQ(query_int(node, "SELECT count(*) FROM cf_outbox"), outbox);
  char ok[16];
  CHECK_STR(query_text(node, "PRAGMA integrity_check", ok, sizeof ok), "ok");
}

CF_TEST(test_transaction_rollback_leaves_no_row_and_no_outbox_entry) {
  cf_node *node = open_replica("r.db", ORG_A);
  EXEC_OK(node, "BEGIN; INSERT INTO contacts (first_name) VALUES ('x'); ROLLBACK;");
  check_contacts_and_outbox(node, 0, 0);
  cf_node_close(node);
}

/* Closing a node inside the app's transaction rolls it back, also once the
** rollback statement is cached (a failed apply rolled back before): close
** used to finalize that statement first and then run it (a use after free,
** found under qemu for s390x). */
CF_TEST(test_close_inside_a_transaction_after_a_failed_apply_rolls_back) {
  cf_node *node = open_replica("r.db", ORG_A);
  cf_row row;
  remote_contact(&row, ORG_B, "0190f1a2-0000-7000-8000-0000000c0001");
  cf_ver v = make_ver(1700000000000, 0, 0xab);
  set_text(&row, "first_name", "Other", &v);
  CHECK_EQ(cf__store_apply(node, &row, 1, -1), CF_WRONG_ORG);
  EXEC_OK(node, "BEGIN; INSERT INTO contacts (first_name) VALUES ('x')");
  cf_node_close(node);
  node = open_replica("r.db", ORG_A);
  CHECK_EQ(query_int(node, "SELECT count(*) FROM cf_contacts"), 0);
  cf_node_close(node);
}

/* A clock that moves one millisecond at every reading. */
static int64_t ticking_ms;
static int64_t ticking_clock(void *ctx) { return ticking_ms++; }

/* One row's timestamps are one reading of the clock, even when the clock
** moves between the columns (it did under qemu, docs/portability.md). */
CF_TEST(test_one_row_gets_one_time_even_when_the_clock_moves) {
  cf_node *node = open_replica("r.db", ORG_A);
  ticking_ms = 1767225600000;
  cf_set_clock_hook(ticking_clock, NULL);
  EXEC_OK(node, "INSERT INTO contacts (first_name) VALUES ('a'), ('b')");
  CHECK_EQ(query_int(node, "SELECT count(*) FROM contacts WHERE created_at = updated_at"),
           2);
  CHECK_EQ(query_int(node, "SELECT count(DISTINCT created_at) FROM contacts"), 2);
  EXEC_OK(node, "UPDATE contacts SET last_name = 'z' WHERE first_name = 'a'");
  CHECK_EQ(query_int(node, "SELECT count(*) FROM contacts WHERE updated_at > created_at"),
           1);
  cf_set_clock_hook(NULL, NULL);
  cf_node_close(node);
}

/* A row refused by the insert trigger leaves nothing of itself: the trigger
** computes every value (id, org, canonical values, versions, outbox entry)
** before its one INSERT, so no statement journal is needed for that.  Inside
** the app's transaction the rows before it stay, each whole with its outbox
** entry (SQLite keeps them: no statement journal, docs/replica.md); outside,
** the whole statement is rolled back. */
CF_TEST(test_a_refused_row_of_a_multi_row_insert_leaves_nothing_half_written) {
  cf_node *node = open_replica("r.db", ORG_A);
  EXEC_OK(node, "BEGIN");
  CHECK_EQ(cf_node_exec(node, "INSERT INTO contacts (first_name, email) VALUES "
                              "('a', 'a@x.io'), (NULL, 'b@x.io')"),
           CF_CONSTRAINT);
  CHECK_EQ(cf_node_exec(node, "INSERT INTO deals (title, value) VALUES ('ok', 1), "
                              "('bad', 'abc')"),
           CF_INVALID);
  CHECK_EQ(cf_node_exec(node, "INSERT INTO contacts (first_name, org_id) VALUES "
                              "('c', NULL), ('d', '" ORG_B "')"),
           CF_WRONG_ORG);
  EXEC_OK(node, "COMMIT");
  CHECK_EQ(query_int(node, "SELECT count(*) FROM cf_deals"), 1);
  check_contacts_and_outbox(node, 2, 3);
  /* Each kept row is whole: id, org, timestamps, versions, pending entry. */
  CHECK_EQ(query_int(node, "SELECT count(*) FROM cf_contacts WHERE length(id) = 36 AND "
                           "org_id = '" ORG_A "' AND created_at IS NOT NULL AND "
                           "_v IS NOT NULL AND _seq IS NOT NULL AND _tx IS NOT NULL AND "
                           "_mask IS NOT NULL AND first_name IN ('a', 'c')"),
           2);
  CHECK_EQ(query_int(node, "SELECT count(*) FROM cf_contacts WHERE email = 'b@x.io' OR "
                           "first_name = 'd'"),
           0);
  /* Outside a transaction the statement is all or nothing. */
  CHECK_EQ(cf_node_exec(node, "INSERT INTO contacts (first_name) VALUES ('e'), (NULL)"),
           CF_CONSTRAINT);
  check_contacts_and_outbox(node, 2, 3);
  cf_node_close(node);
}

/* What the insert trigger stores for values that are not text: canonical
** forms of numbers given to text columns, NULL kept in a nullable column,
** a value past the 1 MiB cap refused, a blob id, several rows of one
** statement each with their own id and version. */
CF_TEST(test_insert_trigger_canonicalises_every_kind_of_value) {
  cf_node *node = open_replica("r.db", ORG_A);
  EXEC_OK(node, "INSERT INTO contacts (first_name, phone, email) VALUES (12, NULL, 1.5)");
  char buf[64];
  CHECK_STR(query_text(node,
                       "SELECT first_name || '|' || typeof(first_name) || '|' || "
                       "email FROM contacts",
                       buf, sizeof buf),
            "12|text|1.5");
  CHECK_EQ(query_int(node, "SELECT phone IS NULL FROM contacts"), 1);
  CHECK_EQ(cf_node_exec(node, "INSERT INTO contacts (first_name) VALUES "
                              "(zeroblob(1048577))"),
           CF_TOOBIG);
  CHECK_EQ(cf_node_exec(node, "INSERT INTO contacts (first_name) VALUES "
                              "(printf('%.*c', 1048577, 'x'))"),
           CF_TOOBIG);
  EXEC_OK(node, "INSERT INTO contacts (id, first_name) VALUES "
                "(x'0190f1a2000070008000000000000abc', 'blob id')");
  CHECK_EQ(query_int(node, "SELECT count(*) FROM contacts WHERE id = "
                           "'0190f1a2-0000-7000-8000-000000000abc'"),
           1);
  EXEC_OK(node, "INSERT INTO contacts (first_name) VALUES ('x'), ('y'), ('z')");
  CHECK_EQ(query_int(node, "SELECT count(DISTINCT id) FROM contacts"), 5);
  CHECK_EQ(query_int(node, "SELECT count(DISTINCT _v) FROM cf_contacts"), 5);
  CHECK_EQ(query_int(node, "SELECT count(DISTINCT seq) FROM cf_outbox"), 5);
  cf_node_close(node);
}

/* A replica made by an older library has other trigger text: opening it
** regenerates the views and triggers (cf_meta.ddl_hash) before any write. */
CF_TEST(test_an_older_replicas_triggers_are_regenerated_on_open) {
  char path[8192];
  snprintf(path, sizeof path, "%s/r.db", cf_test_tmpdir());
  cf_node *node = NULL;
  CHECK_OK(test_node_open(path, ORG_A, USER_A, &node));
  EXEC_OK(node, "INSERT INTO contacts (first_name) VALUES ('before')");
  /* The insert trigger as the previous library wrote it (function calls,
  ** no cf_row), and the hash of that text. */
  EXEC_OK(node,
          "DROP TRIGGER contacts_insert; CREATE TRIGGER contacts_insert INSTEAD OF "
          "INSERT ON contacts BEGIN INSERT OR FAIL INTO cf_contacts (org_id, id, "
          "first_name, deleted, _v, _seq, _tx, _mask) VALUES (cf_org(), cf_uuid_new(), "
          "cf_canon(1, 2, NEW.first_name), 0, cf_vstamp(1, NULL, 1), cf_last_hlc(), "
          "cf_tx(), 1); END; UPDATE cf_meta SET v = 'an older library' WHERE k = "
          "'ddl_hash'");
  cf_node_close(node);
  CHECK_OK(test_node_open(path, ORG_A, USER_A, &node));
  char sql[8192];
  query_text(node, "SELECT sql FROM sqlite_master WHERE name = 'contacts_insert'", sql,
             sizeof sql);
  CHECK(strstr(sql, "FROM cf_row(") != NULL);
  CHECK(strstr(sql, "cf_uuid_new") == NULL);
  char hash[80];
  CHECK(strcmp(query_text(node, "SELECT v FROM cf_meta WHERE k = 'ddl_hash'", hash,
                          sizeof hash),
               "an older library") != 0);
  EXEC_OK(node, "INSERT INTO contacts (first_name, created_at) VALUES ('after', NULL)");
  CHECK_EQ(query_int(node, "SELECT count(*) FROM contacts WHERE created_at IS NOT NULL"),
           2);
  CHECK_EQ(query_int(node, "SELECT count(*) FROM cf_outbox"), 2);
  cf_node_close(node);
}
