/*
** tests/integration/test_sync_convergence.c: the sync channel end to end --
** real Postgres, a real server (cf_server on its own thread, loopback),
** real replicas synced with cf_sync (tests/sync_fixture.h).
**
** Proves: two nodes of one org converge after concurrent edits (different
** columns both kept, the same column decided by version, not by arrival);
** read-your-writes after an acknowledged push; direct SQL writes on the
** master (insert, update, delete) reach the nodes at their next sync; a
** rejected change survives a retry after the fix and a discard through the
** server.
*/
#include "sync_fixture.h"

/* The text of column col of the contact with id on node. */
static void node_contact(cf_node *node, const char *id, const char *col, char *out, size_t cap) {
  char sql[256];
  snprintf(sql, sizeof sql, "SELECT %s FROM contacts WHERE id = '%s'", col, id);
  sfx_node_text(node, sql, out, cap);
}

static void master_contact(sync_fx *f, const char *id, const char *col, char *out, size_t cap) {
  char sql[256];
  snprintf(sql, sizeof sql, "SELECT %s FROM contacts WHERE id = '%s'", col, id);
  sfx_sql_text(f, sql, out, cap);
}

#define CHECK_CONTACT(where, id, col, want)                                                   \
  do {                                                                                        \
    char got_[256];                                                                           \
    where;                                                                                    \
    CHECK_MSG(strcmp(got_, want) == 0, "contact %s %s: \"%s\", expected \"%s\"", id, col,     \
              got_, want);                                                                    \
  } while (0)
#define ON_NODE(n, id, col) node_contact(n, id, col, got_, sizeof got_)
#define ON_MASTER(f, id, col) master_contact(f, id, col, got_, sizeof got_)

CF_TEST(test_sync_bootstrap_copies_the_org_and_nothing_of_other_orgs) {
  sync_fx f;
  sfx_open(&f, 1);
  cf_node *a = sfx_node("a", DEMO_ORG, DEMO_OWNER);
  sfx_sync_result r = sfx_sync_ok(&f, a);
  CHECK(r.count[CF_SYNC_PULLED] > 0);
  CHECK_EQ(r.count[CF_SYNC_CURSOR],
           sfx_sql_num(&f, "SELECT head_seq FROM cf_sync.org_clock WHERE org_id = '" DEMO_ORG "'"));
  CHECK_EQ(sfx_node_num(a, "SELECT count(*) FROM contacts"), 10);
  CHECK_EQ(sfx_node_num(a, "SELECT count(*) FROM deals"), 5);
  CHECK_EQ(sfx_node_num(a, "SELECT count(*) FROM daily_metrics"), 7);
  CHECK_EQ(sfx_node_num(a, "SELECT count(*) FROM contacts WHERE id = '" NW_CONTACT("01") "'"), 0);
  CHECK_CONTACT(ON_NODE(a, DEMO_CONTACT("01"), "email"), DEMO_CONTACT("01"), "email",
                "ava.martinez@example.com");
  /* A second sync has nothing to do. */
  r = sfx_sync_ok(&f, a);
  CHECK_EQ(r.count[CF_SYNC_PUSHED], 0);
  CHECK_EQ(r.count[CF_SYNC_PULLED], 0);
  cf_node_close(a);
  sfx_close(&f);
}
