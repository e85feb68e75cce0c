/*
** tests/integration/test_sync_order.c: changes that reference each other
** reach the master even when the outbox sends a child before its parent.
**
** The outbox keeps one entry per row and moves it to the row's latest change
** (docs/replica.md), so a parent edited after its child was created is sent
** after the child; with more changes than one batch holds, the child lands in
** an earlier batch than its parent and the master's foreign key refuses it.
** The client answers such a rejection by sending the child again after the
** rest of the outbox (once per sync), so nothing ends in conflicts.
*/
#include "sync_fixture.h"

#define PARENT "01936b2a-0003-7000-8000-900000000001"

CF_TEST(test_sync_child_sent_before_its_edited_parent_still_lands) {
  sync_fx f;
  sfx_open(&f, 1);
  cf_node *a = sfx_node("a", DEMO_ORG, DEMO_OWNER);
  sfx_sync_ok(&f, a);

  /* Offline: a new contact, a deal for it, more changes than one batch,
  ** then an edit of the contact, which moves its entry behind all of them. */
  sfx_node_exec(a, "INSERT INTO contacts (id, first_name, email) "
                   "VALUES ('" PARENT "', 'Parent', 'parent@order.test')");
  sfx_node_exec(a, "INSERT INTO deals (title, contact_id) VALUES ('Child deal', '" PARENT
                   "')");
  for (int i = 0; i < 1100; i++) {
    char sql[200];
    snprintf(
        sql, sizeof sql,
        "INSERT INTO contacts (first_name, email) VALUES ('Filler', 'f%d@order.test')",
        i);
    sfx_node_exec(a, sql);
  }
  sfx_node_exec(a, "UPDATE contacts SET phone = '+1-555-0142' WHERE id = '" PARENT "'");

  sfx_sync_result r = sfx_sync_ok(&f, a);
  CHECK_EQ(r.count[CF_SYNC_REJECTED], 0);
  sfx_conflicts c = sfx_node_conflicts(a);
  CHECK_EQ(c.n, 0);
  CHECK_EQ(sfx_node_num(a, "SELECT count(*) FROM cf_outbox"), 0);
  CHECK_EQ(sfx_sql_num(&f, "SELECT count(*) FROM deals WHERE title = 'Child deal' AND "
                           "contact_id = '" PARENT "'"),
           1);
  CHECK_EQ(sfx_sql_num(&f, "SELECT count(*) FROM contacts WHERE id = '" PARENT "' AND "
                           "phone = '+1-555-0142'"),
           1);
  cf_node_close(a);
  sfx_close(&f);
}
