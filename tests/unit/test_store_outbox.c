/*
** tests/unit/test_store_outbox.c: the outbox and conflicts (store/outbox.c):
** push batches in local order made of whole transactions, results that
** clear entries or move them to conflicts, requeue after a lost connection,
** and conflict retry/discard.  Nothing leaves without an answer.
*/
#include "store_helpers.h"

/* Four local transactions: 2 rows, 1, 3, 1. */
static void four_transactions(cf_node *node) {
  EXEC_OK(node, "BEGIN; INSERT INTO contacts (first_name) VALUES ('t1a');"
                "INSERT INTO contacts (first_name) VALUES ('t1b'); COMMIT;");
  EXEC_OK(node, "INSERT INTO contacts (first_name) VALUES ('t2')");
  EXEC_OK(node, "BEGIN; INSERT INTO contacts (first_name) VALUES ('t3a');"
                "INSERT INTO deals (title) VALUES ('t3b');"
                "INSERT INTO deals (title) VALUES ('t3c'); COMMIT;");
  EXEC_OK(node, "INSERT INTO contacts (first_name) VALUES ('t4')");
}

static const char *first_text(const cf__push_item *it) {
  int c = cf__schema_column_index(
      it->change.table,
      strcmp(it->change.table->name, "deals") == 0 ? "title" : "first_name");
  const cf_cell *cell = cf__row_cell(&it->change, (unsigned)c);
  static char buf[64];
  snprintf(buf, sizeof buf, "%.*s", (int)cell->value.n, cell->value.p);
  return buf;
}

CF_TEST(test_push_batches_follow_local_order_in_whole_transactions) {
  cf_node *node = open_replica("r.db", ORG_A);
  four_transactions(node);
  CHECK_EQ(query_int(node, "SELECT count(DISTINCT tx) FROM cf_outbox"), 4);
  cf__push_batch *b = NULL;
  /* max 4: t1 (2) + t2 (1) fit; t3 (3) would not. */
  CHECK_OK(cf__store_push_next(node, 4, &b));
  CHECK_EQ(b->n, 3);
  CHECK_STR(first_text(&b->items[0]), "t1a");
  CHECK_STR(first_text(&b->items[1]), "t1b");
  CHECK_STR(first_text(&b->items[2]), "t2");
  CHECK(b->items[0].tx == b->items[1].tx && b->items[1].tx < b->items[2].tx);
  /* Items carry the key cells and every changed cell with its version. */
  const cf_cell *fn = cf__row_cell(&b->items[0].change, 2);
  CHECK(fn != NULL && !cf__ver_is_zero(&fn->ver));
  CHECK(cf__row_cell(&b->items[0].change, 1) != NULL);
  cf__push_batch *b2 = NULL;
  CHECK_OK(cf__store_push_next(node, 2, &b2)); /* t3 alone is bigger: split */
  CHECK_EQ(b2->n, 2);
  CHECK_STR(first_text(&b2->items[0]), "t3a");
  int64_t in_flight = query_int(node, "SELECT count(*) FROM cf_outbox WHERE batch <> 0");
  CHECK_EQ(in_flight, 5);

  /* Answers: applied, superseded, rejected. */
  cf__store_push_result res[3] = {
      {b->items[0].seq, CF_PUSH_APPLIED, 0, NULL},
      {b->items[1].seq, CF_PUSH_SUPERSEDED, 0, NULL},
      {b->items[2].seq, CF_PUSH_REJECTED, CF_PERMISSION, "not a member"}};
  CHECK_OK(cf__store_push_results(node, res, 3));
  CHECK_OK(cf__store_push_results(node, res, 3)); /* a repeated answer changes nothing */
  int64_t n = 0;
  CHECK_OK(cf_node_outbox_count(node, &n));
  CHECK_EQ(n, 4);
  CHECK_OK(cf_node_conflict_count(node, &n));
  CHECK_EQ(n, 1);
  char buf[128];
  CHECK_STR(query_text(node, "SELECT message FROM cf_conflicts", buf, sizeof buf),
            "not a member");

  /* Lost connection: in-flight entries go back; the next batch restarts at t3. */
  CHECK_OK(cf__store_push_requeue(node));
  cf__push_batch *b3 = NULL;
  CHECK_OK(cf__store_push_next(node, 100, &b3));
  CHECK_EQ(b3->n, 4);
  CHECK_STR(first_text(&b3->items[0]), "t3a");
  CHECK_STR(first_text(&b3->items[3]), "t4");
  cf__push_batch *empty = NULL;
  CHECK_OK(cf__store_push_next(node, 100, &empty));
  CHECK_EQ(empty->n, 0);
  cf__store_push_free(empty);
  cf__store_push_free(b);
  cf__store_push_free(b2);
  cf__store_push_free(b3);
  cf_node_close(node);
}

/* Collects conflict ids and checks the listing's fields. */
static int collect_conflict(void *ctx, const cf_conflict_info *c) {
  int64_t *ids = ctx;
  CHECK_STR(c->table, "contacts");
  CHECK_EQ(c->code, CF_CONSTRAINT);
  CHECK(strstr(c->columns, "first_name") != NULL);
  CHECK_EQ(strlen(c->row_id), 36);
  ids[ids[0] + 1] = c->id;
  ids[0]++;
  return 0;
}

static int count_change(void *ctx, const cf_change_info *c) {
  (*(int *)ctx)++;
  CHECK(c->seq > 0 && c->table != NULL && strlen(c->row_id) == 36);
  return 0;
}

/* Pushes everything and rejects it all. */
static void reject_all(cf_node *node) {
  cf__push_batch *b = NULL;
  CHECK_OK(cf__store_push_next(node, 100, &b));
  cf__store_push_result res[16];
  CHECK(b->n <= 16);
  for (size_t i = 0; i < b->n; i++) {
    res[i].seq = b->items[i].seq;
    res[i].outcome = CF_PUSH_REJECTED;
    res[i].code = CF_CONSTRAINT;
    res[i].message = "duplicate email";
  }
  CHECK_OK(cf__store_push_results(node, res, b->n));
  cf__store_push_free(b);
}

CF_TEST(test_conflict_retry_requeues_with_a_fresh_version) {
  cf_node *node = open_replica("r.db", ORG_A);
  EXEC_OK(node, "INSERT INTO contacts (id, first_name) VALUES "
                "('0190f1a2-0000-7000-8000-000000000001', 'dup')");
  const cf_table *t = cf__schema_table_by_name("contacts");
  cf_row before, after;
  cf_buf a1, a2;
  cf__buf_init(&a1, 1 << 20);
  cf__buf_init(&a2, 1 << 20);
  CHECK_OK(cf__store_read_row(node, t->number, "0190f1a2-0000-7000-8000-000000000001",
                              &before, &a1));
  reject_all(node);
  int64_t ids[4] = {0};
  CHECK_OK(cf_node_conflicts_list(node, 10, collect_conflict, ids));
  CHECK_EQ(ids[0], 1);
  int seen = 0;
  CHECK_OK(cf_node_outbox_list(node, 10, count_change, &seen));
  CHECK_EQ(seen, 0);
  CHECK_OK(cf_node_conflict_retry(node, ids[1]));
  CHECK_EQ(cf_node_conflict_retry(node, ids[1]), CF_NOTFOUND);
  CHECK_OK(cf_node_outbox_list(node, 10, count_change, &seen));
  CHECK_EQ(seen, 1);
  CHECK_OK(cf__store_read_row(node, t->number, "0190f1a2-0000-7000-8000-000000000001",
                              &after, &a2));
  unsigned fn = (unsigned)cf__schema_column_index(t, "first_name");
  CHECK(cf__ver_cmp(&after.cells[fn].ver, &before.cells[fn].ver) > 0);
  int64_t n = -1;
  CHECK_OK(cf_node_conflict_count(node, &n));
  CHECK_EQ(n, 0);
  cf__buf_free(&a1);
  cf__buf_free(&a2);
  cf_node_close(node);
}

CF_TEST(test_conflict_discard_removes_it_and_lets_the_master_win) {
  cf_node *node = open_replica("r.db", ORG_A);
  EXEC_OK(node, "INSERT INTO contacts (id, first_name) VALUES "
                "('0190f1a2-0000-7000-8000-000000000001', 'mine')");
  reject_all(node);
  int64_t ids[4] = {0};
  CHECK_OK(cf_node_conflicts_list(node, 10, collect_conflict, ids));
  CHECK_OK(cf_node_conflict_discard(node, ids[1]));
  CHECK_EQ(cf_node_conflict_discard(node, ids[1]), CF_NOTFOUND);
  int64_t n = -1;
  CHECK_OK(cf_node_conflict_count(node, &n));
  CHECK_EQ(n, 0);
  CHECK_OK(cf_node_outbox_count(node, &n));
  CHECK_EQ(n, 0);
  /* The master's value, however old, now replaces the discarded one. */
  cf_row ch;
  remote_contact(&ch, ORG_A, "0190f1a2-0000-7000-8000-000000000001");
  cf_ver old = make_ver(1600000000000LL, 0, 0x55);
  set_text(&ch, "first_name", "master", &old);
  CHECK_OK(cf__store_apply(node, &ch, 1, 3));
  char buf[64];
  CHECK_STR(query_text(node, "SELECT first_name FROM contacts", buf, sizeof buf),
            "master");
  cf_node_close(node);
}

CF_TEST(test_sync_calls_refuse_an_open_app_transaction) {
  cf_node *node = open_replica("r.db", ORG_A);
  EXEC_OK(node, "BEGIN; INSERT INTO contacts (first_name) VALUES ('x')");
  cf__push_batch *b = NULL;
  CHECK_EQ(cf__store_push_next(node, 10, &b), CF_MISUSE);
  CHECK(b == NULL);
  CHECK_EQ(cf__store_apply(node, NULL, 0, 1), CF_MISUSE);
  EXEC_OK(node, "COMMIT");
  CHECK_OK(cf__store_apply(node, NULL, 0, 1));
  cf_node_close(node);
}

CF_TEST(test_change_to_a_row_in_flight_waits_for_both_answers) {
  cf_node *node = open_replica("r.db", ORG_A);
  EXEC_OK(node, "INSERT INTO contacts (first_name) VALUES ('a')");
  cf__push_batch *b = NULL;
  CHECK_OK(cf__store_push_next(node, 10, &b));
  CHECK_EQ(b->n, 1);
  int64_t sent_seq = b->items[0].seq;
  /* The row changes while its insert is in flight: a second entry. */
  EXEC_OK(node, "UPDATE contacts SET company = 'X'");
  CHECK_EQ(query_int(node, "SELECT count(*) FROM cf_outbox"), 2);
  CHECK_EQ(query_int(node, "SELECT count(*) FROM cf_outbox WHERE batch = 0"), 1);
  /* At most one change per row in flight: the update waits for the answer. */
  cf__push_batch *held = NULL;
  CHECK_OK(cf__store_push_next(node, 10, &held));
  CHECK_EQ(held->n, 0);
  cf__store_push_free(held);
  /* The insert is rejected: a conflict, and the update still goes. */
  cf__store_push_result r = {sent_seq, CF_PUSH_REJECTED, CF_PERMISSION, "no"};
  CHECK_OK(cf__store_push_results(node, &r, 1));
  int64_t n = 0;
  CHECK_OK(cf_node_conflict_count(node, &n));
  CHECK_EQ(n, 1);
  CHECK_OK(cf_node_outbox_count(node, &n));
  CHECK_EQ(n, 1);
  cf__push_batch *b2 = NULL;
  CHECK_OK(cf__store_push_next(node, 10, &b2));
  CHECK_EQ(b2->n, 1);
  CHECK(b2->items[0].seq > sent_seq);
  int co = cf__schema_column_index(b2->items[0].change.table, "company");
  CHECK(cf__row_cell(&b2->items[0].change, (unsigned)co) != NULL);
  cf__store_push_result r2 = {b2->items[0].seq, CF_PUSH_APPLIED, 0, NULL};
  CHECK_OK(cf__store_push_results(node, &r2, 1));
  CHECK_OK(cf_node_outbox_count(node, &n));
  CHECK_EQ(n, 0);
  cf__store_push_free(b);
  cf__store_push_free(b2);
  cf_node_close(node);
}

CF_TEST(test_setting_outbox_batch_to_zero_requeues_in_flight_entries) {
  cf_node *node = open_replica("r.db", ORG_A);
  EXEC_OK(node, "INSERT INTO contacts (first_name) VALUES ('a');"
                "INSERT INTO contacts (first_name) VALUES ('b')");
  cf__push_batch *b = NULL;
  CHECK_OK(cf__store_push_next(node, 10, &b));
  CHECK_EQ(b->n, 2);
  EXEC_OK(node, "UPDATE contacts SET phone = '1' WHERE first_name = 'a'");
  CHECK_EQ(query_int(node, "SELECT count(*) FROM cf_outbox WHERE batch <> 0"), 2);
  /* What store/rebootstrap.c does after a lost connection. */
  EXEC_OK(node, "UPDATE cf_outbox SET batch = 0 WHERE batch <> 0");
  CHECK_EQ(query_int(node, "SELECT count(*) FROM cf_outbox WHERE batch <> 0"), 0);
  CHECK_EQ(query_int(node, "SELECT count(*) FROM cf_outbox"), 2);
  cf__push_batch *b2 = NULL;
  CHECK_OK(cf__store_push_next(node, 10, &b2));
  CHECK_EQ(b2->n, 2);
  cf__store_push_free(b);
  cf__store_push_free(b2);
  cf_node_close(node);
}
