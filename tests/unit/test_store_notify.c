/*
** tests/unit/test_store_notify.c: change notifications, watched queries and
** cf_node_changes (store/notify.c, store/watch.c): one event per committed
** transaction with its tables, row ids and origin, nothing for a rollback
** or mid-transaction, changes made through a second handle on the same file
** delivered to the first, watched queries re-run only for the tables they
** read and delivered only when their result changed, conflicts reported as
** they are recorded.
*/
#include "store_helpers.h"

#define ID1 "0190f1a2-0000-7000-8000-000000000001"
#define ID2 "0190f1a2-0000-7000-8000-000000000002"

/* What the callbacks saw. */
typedef struct seen {
  int events;          /* change events */
  int origin;          /* origin of the last one */
  char tables[256];    /* "table:nrows " of the last event */
  char first_id[40];   /* first row id of the last event's first table */
  int results;         /* watch results delivered */
  int64_t last_count;  /* row count of the last result */
  char last_cell[128]; /* its first cell */
  int conflicts;       /* conflicts reported */
  int64_t conflict_id; /* the last one's id */
} seen;

static void on_changes(void *ctx, const cf_change_event *ev) {
  seen *s = ctx;
  s->events++;
  s->origin = ev->origin;
  s->tables[0] = '\0';
  s->first_id[0] = '\0';
  for (size_t i = 0; i < ev->ntables; i++) {
    char part[64];
    snprintf(part, sizeof part, "%s:%s ", ev->tables[i].table,
             ev->tables[i].all_rows ? "all" : "");
    if (!ev->tables[i].all_rows)
      snprintf(part, sizeof part, "%s:%zu ", ev->tables[i].table, ev->tables[i].nrows);
    strncat(s->tables, part, sizeof s->tables - strlen(s->tables) - 1);
  }
  if (ev->ntables > 0 && ev->tables[0].nrows > 0)
    snprintf(s->first_id, sizeof s->first_id, "%s", ev->tables[0].row_ids[0]);
}

static void on_rows(void *ctx, const cf_rows *rows) {
  seen *s = ctx;
  s->results++;
  s->last_count = cf_rows_count(rows);
  const char *cell = cf_rows_count(rows) > 0 ? cf_rows_text(rows, 0, 0) : NULL;
  snprintf(s->last_cell, sizeof s->last_cell, "%s", cell ? cell : "(null)");
}

static int on_conflict(void *ctx, const cf_conflict_info *c) {
  seen *s = ctx;
  s->conflicts++;
  s->conflict_id = c->id;
  return 0;
}

CF_TEST(test_notify_one_event_per_committed_transaction_with_row_ids) {
  cf_node *node = open_replica("r.db", ORG_A);
  seen s = {0};
  cf_node_on_changes(node, on_changes, &s);
  CHECK_OK(cf_node_poll(node));
  CHECK_EQ(s.events, 0);
  EXEC_OK(node, "INSERT INTO contacts (id, first_name) VALUES ('" ID1 "', 'Ava')");
  CHECK_EQ(cf_node_changes(node), 1);
  CHECK_OK(cf_node_poll(node));
  CHECK_EQ(s.events, 1);
  CHECK_EQ(s.origin, CF_CHANGE_LOCAL);
  CHECK_STR(s.tables, "contacts:1 ");
  CHECK_STR(s.first_id, ID1);
  /* Two tables in one transaction: one event; polling again: nothing. */
  EXEC_OK(node, "BEGIN; INSERT INTO contacts (id, first_name) VALUES ('" ID2 "', 'Bo');"
                "UPDATE contacts SET phone = '1';"
                "INSERT INTO deals (title) VALUES ('d'); COMMIT");
  CHECK_OK(cf_node_poll(node));
  CHECK_OK(cf_node_poll(node));
  CHECK_EQ(s.events, 2);
  CHECK_STR(s.tables, "contacts:2 deals:1 ");
  /* The rows the last statement wrote, through the views. */
  EXEC_OK(node, "UPDATE contacts SET phone = '2'");
  CHECK_EQ(cf_node_changes(node), 2);
  EXEC_OK(node, "UPDATE contacts SET phone = '3' WHERE id = 'none'");
  CHECK_EQ(cf_node_changes(node), 0);
  CHECK_OK(cf_node_poll(node));
  CHECK_EQ(s.events, 3); /* the update of 2 rows; the one of none made no event */
  /* A rollback: nothing.  Mid-transaction: refused, nothing delivered. */
  EXEC_OK(node, "BEGIN; DELETE FROM contacts");
  CHECK_EQ(cf_node_changes(node), 2);
  CHECK_EQ(cf_node_poll(node), CF_BUSY);
  EXEC_OK(node, "ROLLBACK");
  CHECK_OK(cf_node_poll(node));
  CHECK_EQ(s.events, 3);
  /* A delete through the view is reported with the deleted row's id. */
  EXEC_OK(node, "DELETE FROM contacts WHERE id = '" ID1 "'");
  CHECK_OK(cf_node_poll(node));
  CHECK_EQ(s.events, 4);
  CHECK_STR(s.first_id, ID1);
  cf_node_close(node);
}

CF_TEST(test_notify_prepared_write_outside_transaction_is_journaled) {
  cf_node *node = open_replica("r.db", ORG_A);
  seen s = {0};
  cf_node_on_changes(node, on_changes, &s);
  cf_stmt *st = NULL;
  CHECK_OK(cf_node_prepare(node, "INSERT INTO contacts (first_name) VALUES (?1)", &st));
  for (int i = 0; i < 3; i++) {
    CHECK_OK(cf_stmt_bind_text(st, 1, "x"));
    CHECK_EQ(cf_stmt_step(st), CF_DONE);
    CHECK_OK(cf_stmt_reset(st));
  }
  cf_stmt_finalize(st);
  CHECK_EQ(query_int(node, "SELECT count(*) FROM contacts"), 3);
  CHECK_OK(cf_node_poll(node));
  CHECK_EQ(s.events, 3);
  /* A failing write leaves no transaction open and no event. */
  CHECK_EQ(cf_node_exec(node, "INSERT INTO contacts (org_id, first_name) VALUES ('" ORG_B
                              "', 'x')"),
           CF_WRONG_ORG);
  CHECK_OK(cf_node_exec(node, "BEGIN; COMMIT"));
  CHECK_OK(cf_node_poll(node));
  CHECK_EQ(s.events, 3);
  cf_node_close(node);
}

CF_TEST(test_notify_second_handle_changes_reach_the_first) {
  cf_node *ui = open_replica("r.db", ORG_A);
  cf_node *other = open_replica("r.db", ORG_A);
  seen s = {0};
  cf_node_on_changes(ui, on_changes, &s);
  EXEC_OK(other, "INSERT INTO contacts (id, first_name) VALUES ('" ID1 "', 'Ava')");
  CHECK_OK(cf_node_poll(ui));
  CHECK_EQ(s.events, 1);
  CHECK_EQ(s.origin, CF_CHANGE_LOCAL);
  CHECK_STR(s.first_id, ID1);
  /* A pulled row applied on the other handle: remote. */
  cf_row ch;
  remote_contact(&ch, ORG_A, ID2);
  cf_ver v = make_ver(cf__now_ms(), 3, 0x11);
  set_text(&ch, "first_name", "Remote", &v);
  set_text(&ch, "tags", "[]", &v);
  set_text(&ch, "metadata", "{}", &v);
  cf__row_set_deleted(&ch, 0, &v);
  CHECK_OK(cf__store_apply(other, &ch, 1, 5));
  CHECK_OK(cf_node_poll(ui));
  CHECK_EQ(s.events, 2);
  CHECK_EQ(s.origin, CF_CHANGE_REMOTE);
  CHECK_STR(s.first_id, ID2);
  /* Pushing changes nothing the views show: no event. */
  cf__push_batch *b = NULL;
  CHECK_OK(cf__store_push_next(other, 10, &b));
  CHECK_EQ(b->n, 1);
  cf__store_push_result res = {b->items[0].seq, CF_PUSH_APPLIED, 0, NULL};
  CHECK_OK(cf__store_push_results(other, &res, 1));
  cf__store_push_free(b);
  CHECK_OK(cf_node_poll(ui));
  CHECK_EQ(s.events, 2);
  cf_node_close(other);
  cf_node_close(ui);
}

CF_TEST(test_watch_delivers_first_result_then_only_changed_results) {
  cf_node *ui = open_replica("r.db", ORG_A);
  cf_node *other = open_replica("r.db", ORG_A);
  seen s = {0};
  cf_watch *w = NULL;
  CHECK_OK(cf_node_watch(ui, "SELECT count(*) FROM contacts WHERE first_name = 'Ava'",
                         on_rows, &s, &w));
  CHECK_EQ(s.results, 0); /* only from cf_node_poll, on the app's thread */
  CHECK_OK(cf_node_poll(ui));
  CHECK_EQ(s.results, 1);
  CHECK_STR(s.last_cell, "0");
  /* Two commits before a poll: one result (coalesced). */
  EXEC_OK(other, "INSERT INTO contacts (first_name) VALUES ('Ava')");
  EXEC_OK(other, "INSERT INTO contacts (first_name) VALUES ('Ava')");
  CHECK_OK(cf_node_poll(ui));
  CHECK_EQ(s.results, 2);
  CHECK_STR(s.last_cell, "2");
  /* A change that leaves the result as it was: no callback. */
  EXEC_OK(other, "INSERT INTO contacts (first_name) VALUES ('Bo')");
  CHECK_OK(cf_node_poll(ui));
  CHECK_EQ(s.results, 2);
  /* A table the query does not read: not even re-run (no callback either). */
  EXEC_OK(ui, "INSERT INTO deals (title) VALUES ('d')");
  CHECK_OK(cf_node_poll(ui));
  CHECK_EQ(s.results, 2);
  /* A write on the watching handle itself. */
  EXEC_OK(ui, "UPDATE contacts SET first_name = 'Ava' WHERE first_name = 'Bo'");
  CHECK_OK(cf_node_poll(ui));
  CHECK_EQ(s.results, 3);
  CHECK_STR(s.last_cell, "3");
  cf_watch_free(w);
  /* Not a query: refused. */
  CHECK_EQ(cf_node_watch(ui, "DELETE FROM contacts", on_rows, &s, &w), CF_INVALID);
  CHECK(w == NULL);
  CHECK_EQ(cf_node_watch(ui, "SELECT 1; SELECT 2", on_rows, &s, &w), CF_INVALID);
  cf_node_close(other);
  cf_node_close(ui);
}

CF_TEST(test_notify_conflicts_reported_as_they_are_recorded) {
  cf_node *ui = open_replica("r.db", ORG_A);
  cf_node *sync = open_replica("r.db", ORG_A);
  seen s = {0};
  cf_node_on_conflict(ui, on_conflict, &s);
  EXEC_OK(ui, "INSERT INTO contacts (first_name) VALUES ('x')");
  cf__push_batch *b = NULL;
  CHECK_OK(cf__store_push_next(sync, 10, &b));
  cf__store_push_result res = {b->items[0].seq, CF_PUSH_REJECTED, CF_PERMISSION,
                               "not a member"};
  CHECK_OK(cf__store_push_results(sync, &res, 1));
  cf__store_push_free(b);
  CHECK_OK(cf_node_poll(ui));
  CHECK_EQ(s.conflicts, 1);
  CHECK_OK(cf_node_poll(ui));
  CHECK_EQ(s.conflicts, 1);
  CHECK_OK(cf_node_conflict_discard(ui, s.conflict_id));
  cf_node_close(sync);
  cf_node_close(ui);
}

CF_TEST(test_notify_wait_returns_after_a_commit_and_times_out_without) {
  cf_node *ui = open_replica("r.db", ORG_A);
  cf_node *other = open_replica("r.db", ORG_A);
  CHECK_OK(cf_node_poll(ui));
  CHECK_EQ(cf_node_wait(ui, 0), 0);
  EXEC_OK(other, "INSERT INTO contacts (first_name) VALUES ('x')");
  CHECK_EQ(cf_node_wait(ui, 10000), 1);
  CHECK_OK(cf_node_poll(ui));
  CHECK_EQ(cf_node_wait(ui, 1), 0);
  cf_node_close(other);
  cf_node_close(ui);
}
