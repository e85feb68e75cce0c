/*
** tests/integration/test_sync_rejections.c: every way the master rejects a
** pushed change, through a real server (tests/sync_fixture.h), and what the
** node keeps of it.
**
** Rows of another org never leave a replica (its triggers refuse them with
** CF_WRONG_ORG), so the server's own check is proven with PUSH frames made
** by hand (core/codec.h) on a raw WebSocket session.  The other paths start
** from ordinary writes on real replicas and end with the change kept in the
** node's conflicts table with its reason.
*/
#include "sync_fixture.h"

#define NEW_ID_1 "01936b2a-0003-7000-8000-1000000000b1"
#define NEW_ID_2 "01936b2a-0003-7000-8000-1000000000b2"

CF_TEST(test_sync_server_rejects_pushed_rows_of_another_org_as_wrong_org) {
  sync_fx f;
  sfx_open(&f, 1);
  char *token = sfx_token(DEMO_REP, 3600);
  raw_client c;
  raw_connect_welcomed(&c, &f, token, DEMO_ORG);
  cf_nodeid node;
  CHECK_OK(cf__node_id_generate(&node));
  /* 1: a new row carrying Northwind's org_id in a demo session;
  ** 2: an existing Northwind contact "moved" into the batch (its key names
  **    the other org), as an update;
  ** 3: a good demo row in the same batch, which must still be applied. */
  cf_push_change ch[3];
  memset(ch, 0, sizeof ch);
  ch[0].id = 1;
  sfx_contact_change(&ch[0].row, &node, NW_ORG, NEW_ID_1, "Mallory", 1);
  ch[1].id = 2;
  sfx_contact_change(&ch[1].row, &node, NW_ORG, NW_CONTACT("01"), "Moved", 0);
  ch[2].id = 3;
  sfx_contact_change(&ch[2].row, &node, DEMO_ORG, NEW_ID_2, "Good", 1);
  cf_frame r;
  sfx_raw_push(&c, 1, ch, 3, &r);
  const cf_push_result *res = r.u.push_result.results;
  for (int i = 0; i < 2; i++) {
    CHECK_EQ(res[i].status, CF_PUSH_REJECTED);
    CHECK_MSG(res[i].reason == CF_REASON_WRONG_ORG, "change %d: reason %s (%.*s)", i + 1,
              cf__reject_reason_name(res[i].reason), (int)res[i].message.n,
              res[i].message.p);
  }
  CHECK_MSG(res[2].status == CF_PUSH_APPLIED, "good change: %s %s (%.*s)",
            cf__push_status_name(res[2].status), cf__reject_reason_name(res[2].reason),
            (int)res[2].message.n, res[2].message.p);
  cf__frame_free(&r);
  raw_free(&c);
  cf_token_free(token);
  CHECK_EQ(sfx_sql_num(&f, "SELECT count(*) FROM contacts WHERE id = '" NEW_ID_1 "'"), 0);
  CHECK_EQ(sfx_sql_num(&f, "SELECT count(*) FROM contacts WHERE first_name = 'Moved'"),
           0);
  CHECK_EQ(sfx_sql_num(&f, "SELECT count(*) FROM contacts WHERE id = '" NEW_ID_2 "'"), 1);

  /* On a replica the same writes never reach the outbox. */
  cf_node *n = sfx_node("rep", DEMO_ORG, DEMO_REP);
  sfx_sync_ok(&f, n);
  CHECK_EQ(cf_node_exec(n, "INSERT INTO contacts (org_id, first_name) VALUES ('" NW_ORG
                           "', 'Mallory')"),
           CF_WRONG_ORG);
  CHECK_EQ(cf_node_exec(n, "UPDATE contacts SET org_id = '" NW_ORG
                           "' WHERE id = '" DEMO_CONTACT("01") "'"),
           CF_WRONG_ORG);
  CHECK_EQ(sfx_outbox(n), 0);
  cf_node_close(n);
  sfx_close(&f);
}

CF_TEST(test_sync_push_after_membership_revoked_offline_is_kept_and_pull_says_revoked) {
  sync_fx f;
  sfx_open(&f, 1);
  cf_node *n = sfx_node("rep", DEMO_ORG, DEMO_REP);
  sfx_sync_ok(&f, n);
  /* Offline, the rep edits; meanwhile the owner removes the rep. */
  sfx_node_exec(
      n, "UPDATE contacts SET phone = '+1-rev' WHERE id = '" DEMO_CONTACT("05") "'");
  sfx_sql(&f, "DELETE FROM memberships WHERE id = '" DEMO_REP_MEMBERSHIP "'");
  char *t = sfx_token(DEMO_REP, 3600);
  sfx_sync_result r = sfx_sync_with(&f, n, t);
  cf_token_free(t);
  CHECK_MSG(r.rc == CF_PERMISSION, "sync: %s: %s", cf_strerror(r.rc), r.errmsg);
  CHECK_MSG(r.count[CF_SYNC_REVOKED] == 1, "not reported as revoked: %s", r.errmsg);
  CHECK_MSG(strstr(r.errmsg, "revoked") != NULL, "errmsg: %s", r.errmsg);
  /* Nothing is lost: the change is kept (rejected into the conflicts table
  ** with reason revoked/permission, or still waiting in the outbox). */
  sfx_conflicts c = sfx_node_conflicts(n);
  CHECK_MSG(c.n == 1, "conflicts: %d, outbox: %lld", c.n, (long long)sfx_outbox(n));
  CHECK_EQ(c.c[0].code, CF_PERMISSION);
  CHECK_STR(c.c[0].row_id, DEMO_CONTACT("05"));
  CHECK_MSG(strstr(c.c[0].message, "revoked") != NULL, "message: %s", c.c[0].message);
  CHECK_EQ(sfx_outbox(n), 0);
  char phone[64];
  sfx_node_text(n, "SELECT phone FROM contacts WHERE id = '" DEMO_CONTACT("05") "'",
                phone, sizeof phone);
  CHECK_STR(phone, "+1-rev");
  sfx_sql_text(&f, "SELECT phone FROM contacts WHERE id = '" DEMO_CONTACT("05") "'",
               phone, sizeof phone);
  CHECK_STR(phone, "+1-555-0105");
  cf_node_close(n);
  sfx_close(&f);
}

CF_TEST(test_sync_unique_clash_created_offline_on_two_nodes_keeps_second_in_conflicts) {
  sync_fx f;
  sfx_open(&f, 1);
  cf_node *a = sfx_node("a", DEMO_ORG, DEMO_OWNER);
  cf_node *b = sfx_node("b", DEMO_ORG, DEMO_REP);
  sfx_sync_ok(&f, a);
  sfx_sync_ok(&f, b);
  sfx_node_exec(
      a, "INSERT INTO contacts (first_name, email) VALUES ('Ann', 'same@clash.test')");
  sfx_node_exec(
      b, "INSERT INTO contacts (first_name, email) VALUES ('Bea', 'same@clash.test')");
  char bid[64];
  sfx_node_text(b, "SELECT id FROM contacts WHERE first_name = 'Bea'", bid, sizeof bid);
  sfx_sync_result r = sfx_sync_ok(&f, a);
  CHECK_EQ(r.count[CF_SYNC_APPLIED], 1);
  char *t = sfx_token(DEMO_REP, 3600);
  r = sfx_sync_with(&f, b, t);
  cf_token_free(t);
  CHECK_EQ(r.count[CF_SYNC_PUSHED], 1);
  CHECK_EQ(r.count[CF_SYNC_REJECTED], 1);
  sfx_conflicts c = sfx_node_conflicts(b);
  CHECK_EQ(c.n, 1);
  CHECK_EQ(c.c[0].code, CF_CONSTRAINT);
  CHECK_STR(c.c[0].table, "contacts");
  CHECK_STR(c.c[0].row_id, bid);
  CHECK_MSG(strncmp(c.c[0].message, "constraint", 10) == 0, "message: %s",
            c.c[0].message);
  CHECK_EQ(sfx_outbox(b), 0);
  /* The sync itself (push, then the pull that brings Ann's row with the
  ** same email) must succeed: the replica holds both until the app fixes
  ** or discards Bea's. */
  CHECK_MSG(r.rc == CF_OK, "sync after the rejection: %s: %s", cf_strerror(r.rc),
            r.errmsg);
  CHECK_EQ(
      sfx_sql_num(&f, "SELECT count(*) FROM contacts WHERE email = 'same@clash.test'"),
      1);
  CHECK_EQ(sfx_node_num(b, "SELECT count(*) FROM contacts WHERE first_name = 'Ann'"), 1);
  cf_node_close(a);
  cf_node_close(b);
  sfx_close(&f);
}

CF_TEST(test_sync_change_too_big_for_a_frame_becomes_a_conflict_and_the_rest_syncs) {
  /* One value over the 1 MiB cap is refused by the replica at write time;
  ** a row whose values each fit but together exceed a frame can never be
  ** sent: it is kept as a conflict (too_big) and every other change syncs,
  ** now and at every later sync (found by clientflow sim). */
  sync_fx f;
  sfx_open(&f, 1);
  cf_node *n = sfx_node("big", DEMO_ORG, DEMO_REP);
  sfx_sync_ok(&f, n);
  int rc = cf_node_exec(n, "UPDATE contacts SET last_name = printf('%.*c', 1048586, 'x') "
                           "WHERE id = '" DEMO_CONTACT("10") "'");
  CHECK_EQ(rc, CF_TOOBIG);
  CHECK_EQ(sfx_outbox(n), 0);
  sfx_node_exec(n, "UPDATE contacts SET first_name = printf('%.*c', 1000000, 'a'), "
                   "last_name = printf('%.*c', 1000000, 'b'), "
                   "company = printf('%.*c', 1000000, 'c'), "
                   "phone = printf('%.*c', 1000000, 'd'), "
                   "metadata = json_object('k', printf('%.*c', 1000000, 'e')) "
                   "WHERE id = '" DEMO_CONTACT("09") "'");
  sfx_node_exec(
      n, "UPDATE contacts SET phone = '+1-555-0101' WHERE id = '" DEMO_CONTACT("01") "'");
  for (int round = 0; round < 2; round++) {
    sfx_sync_result r = sfx_sync_ok(&f, n);
    CHECK_EQ(r.count[CF_SYNC_REJECTED], round == 0 ? 1 : 0);
  }
  CHECK_EQ(sfx_sql_num(&f, "SELECT count(*) FROM contacts WHERE id = '" DEMO_CONTACT(
                               "01") "' AND phone = '+1-555-0101'"),
           1);
  sfx_conflicts c = sfx_node_conflicts(n);
  CHECK_EQ(c.n, 1);
  CHECK_EQ(c.c[0].code, CF_TOOBIG);
  CHECK_MSG(strncmp(c.c[0].message, "too_big", 7) == 0, "message: %s", c.c[0].message);
  CHECK_EQ(sfx_outbox(n), 0);
  cf_node_close(n);
  sfx_close(&f);
}
