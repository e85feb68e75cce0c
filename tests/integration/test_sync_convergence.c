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
static void node_contact(cf_node *node, const char *id, const char *col, char *out,
                         size_t cap) {
  char sql[256];
  snprintf(sql, sizeof sql, "SELECT %s FROM contacts WHERE id = '%s'", col, id);
  sfx_node_text(node, sql, out, cap);
}

static void master_contact(sync_fx *f, const char *id, const char *col, char *out,
                           size_t cap) {
  char sql[256];
  snprintf(sql, sizeof sql, "SELECT %s FROM contacts WHERE id = '%s'", col, id);
  sfx_sql_text(f, sql, out, cap);
}

#define CHECK_CONTACT(where, id, col, want)                                              \
  do {                                                                                   \
    char got_[256];                                                                      \
    where;                                                                               \
    CHECK_MSG(strcmp(got_, want) == 0, "contact %s %s: \"%s\", expected \"%s\"", id,     \
              col, got_, want);                                                          \
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
           sfx_sql_num(&f,
                       "SELECT head_seq FROM cf_sync.org_clock WHERE org_id = '" DEMO_ORG
                       "'"));
  CHECK_EQ(sfx_node_num(a, "SELECT count(*) FROM contacts"), 10);
  CHECK_EQ(sfx_node_num(a, "SELECT count(*) FROM deals"), 5);
  CHECK_EQ(sfx_node_num(a, "SELECT count(*) FROM daily_metrics"), 7);
  CHECK_EQ(
      sfx_node_num(a, "SELECT count(*) FROM contacts WHERE id = '" NW_CONTACT("01") "'"),
      0);
  CHECK_CONTACT(ON_NODE(a, DEMO_CONTACT("01"), "email"), DEMO_CONTACT("01"), "email",
                "ava.martinez@example.com");
  /* A second sync has nothing to do. */
  r = sfx_sync_ok(&f, a);
  CHECK_EQ(r.count[CF_SYNC_PUSHED], 0);
  CHECK_EQ(r.count[CF_SYNC_PULLED], 0);
  cf_node_close(a);
  sfx_close(&f);
}

CF_TEST(test_sync_two_nodes_converge_per_column_and_by_version) {
  sync_fx f;
  sfx_open(&f, 1);
  cf_node *a = sfx_node("a", DEMO_ORG, DEMO_OWNER);
  cf_node *b = sfx_node("b", DEMO_ORG, DEMO_REP);
  sfx_sync_ok(&f, a);
  sfx_sync_ok(&f, b);

  /* Both offline.  A edits first, B later (the shared clock moves between
  ** them, so B's versions are newer whatever the scheduling). */
  sfx_clock_advance(1000);
  sfx_node_exec(a,
                "UPDATE contacts SET phone = '+1-A' WHERE id = '" DEMO_CONTACT("01") "'");
  sfx_node_exec(
      a, "UPDATE contacts SET company = 'A Co' WHERE id = '" DEMO_CONTACT("02") "'");
  sfx_clock_advance(1000);
  sfx_node_exec(
      b, "UPDATE contacts SET company = 'B Co' WHERE id = '" DEMO_CONTACT("01") "'");
  sfx_node_exec(
      b, "UPDATE contacts SET company = 'B wins' WHERE id = '" DEMO_CONTACT("02") "'");

  /* The newer write arrives first, the older one after it: arrival order
  ** must not decide. */
  sfx_sync_result r = sfx_sync_ok(&f, b);
  CHECK_EQ(r.count[CF_SYNC_PUSHED], 2);
  CHECK_EQ(r.count[CF_SYNC_APPLIED], 2);
  r = sfx_sync_ok(&f, a);
  CHECK_EQ(r.count[CF_SYNC_PUSHED], 2);
  CHECK_EQ(r.count[CF_SYNC_REJECTED], 0);
  CHECK_EQ(r.count[CF_SYNC_APPLIED], 1);    /* contact 1: A's phone is kept */
  CHECK_EQ(r.count[CF_SYNC_SUPERSEDED], 1); /* contact 2: B's company is newer */
  sfx_sync_ok(&f, b);

  cf_node *nodes[2] = {a, b};
  for (int i = 0; i < 2; i++) {
    CHECK_CONTACT(ON_NODE(nodes[i], DEMO_CONTACT("01"), "phone"), DEMO_CONTACT("01"),
                  "phone", "+1-A");
    CHECK_CONTACT(ON_NODE(nodes[i], DEMO_CONTACT("01"), "company"), DEMO_CONTACT("01"),
                  "company", "B Co");
    CHECK_CONTACT(ON_NODE(nodes[i], DEMO_CONTACT("02"), "company"), DEMO_CONTACT("02"),
                  "company", "B wins");
  }
  CHECK_CONTACT(ON_MASTER(&f, DEMO_CONTACT("01"), "phone"), DEMO_CONTACT("01"), "phone",
                "+1-A");
  CHECK_CONTACT(ON_MASTER(&f, DEMO_CONTACT("01"), "company"), DEMO_CONTACT("01"),
                "company", "B Co");
  CHECK_CONTACT(ON_MASTER(&f, DEMO_CONTACT("02"), "company"), DEMO_CONTACT("02"),
                "company", "B wins");
  /* Whole replicas agree, row for row. */
  static const char digest[] =
      "SELECT group_concat(id || '|' || first_name || '|' || coalesce(last_name, '') || "
      "'|' || "
      "coalesce(email, '') || '|' || coalesce(phone, '') || '|' || coalesce(company, '') "
      "|| '|' "
      "|| updated_at, ';') FROM (SELECT * FROM contacts ORDER BY id)";
  char da[8192], db[8192];
  sfx_node_text(a, digest, da, sizeof da);
  sfx_node_text(b, digest, db, sizeof db);
  CHECK_STR(da, db);
  CHECK_EQ(sfx_outbox(a), 0);
  CHECK_EQ(sfx_outbox(b), 0);
  cf_node_close(a);
  cf_node_close(b);
  sfx_close(&f);
}

CF_TEST(test_sync_read_your_writes_after_acknowledged_push) {
  sync_fx f;
  sfx_open(&f, 1);
  cf_node *a = sfx_node("a", DEMO_ORG, DEMO_REP);
  cf_node *b = sfx_node("b", DEMO_ORG, DEMO_OWNER);
  sfx_sync_ok(&f, a);
  sfx_sync_ok(&f, b);
  sfx_node_exec(
      a, "INSERT INTO contacts (first_name, email) VALUES ('Rita', 'rita@ryw.test')");
  char id[64];
  sfx_node_text(a, "SELECT id FROM contacts WHERE email = 'rita@ryw.test'", id,
                sizeof id);
  CHECK_EQ(strlen(id), 36);
  sfx_sync_result r = sfx_sync_ok(&f, a);
  CHECK_EQ(r.count[CF_SYNC_APPLIED], 1);
  CHECK_EQ(sfx_outbox(a), 0);
  /* The pull that followed the acknowledged push reached the row's place
  ** in the cursor. */
  char sql[256];
  snprintf(sql, sizeof sql, "SELECT cf_seq FROM contacts WHERE id = '%s'", id);
  long long seq = sfx_sql_num(&f, sql);
  CHECK(seq > 0);
  CHECK(r.count[CF_SYNC_CURSOR] >= seq);
  /* Another member's next pull includes it, as written. */
  r = sfx_sync_ok(&f, b);
  CHECK(r.count[CF_SYNC_PULLED] >= 1);
  CHECK_CONTACT(ON_NODE(b, id, "first_name"), id, "first_name", "Rita");
  CHECK_CONTACT(ON_MASTER(&f, id, "email"), id, "email", "rita@ryw.test");
  cf_node_close(a);
  cf_node_close(b);
  sfx_close(&f);
}

#define RYW_CONTACT "01936b2a-0003-7000-8000-1000000000c1"

/* docs/protocol.md, lifecycle 5: PUSH_RESULT carries the org's head once
** the batch committed, and a PULL up to it returns the batch's rows. */
CF_TEST(test_sync_push_result_head_covers_the_batch_and_pull_returns_it) {
  sync_fx f;
  sfx_open(&f, 1);
  char *token = sfx_token(DEMO_REP, 3600);
  raw_client c;
  raw_connect_welcomed(&c, &f, token, DEMO_ORG);
  cf_nodeid node;
  CHECK_OK(cf__node_id_generate(&node));
  cf_push_change ch;
  memset(&ch, 0, sizeof ch);
  ch.id = 1;
  sfx_contact_change(&ch.row, &node, DEMO_ORG, RYW_CONTACT, "Read", 1);
  cf_frame r;
  sfx_raw_push(&c, 1, &ch, 1, &r);
  CHECK_EQ(r.u.push_result.results[0].status, CF_PUSH_APPLIED);
  uint64_t head = r.u.push_result.head_seq;
  cf__frame_free(&r);
  long long seq =
      sfx_sql_num(&f, "SELECT cf_seq FROM contacts WHERE id = '" RYW_CONTACT "'");
  CHECK(seq > 0);
  CHECK_MSG(head >= (uint64_t)seq,
            "PUSH_RESULT head_seq %llu is below the row's seq %lld",
            (unsigned long long)head, seq);
  /* A pull from just below the row's seq returns it. */
  cf_buf b;
  cf__buf_init(&b, 64);
  cf_pull pull = {(uint64_t)seq - 1, 100};
  CHECK_OK(cf__encode_pull(&pull, &b));
  raw_send(&c, b.p, b.len);
  cf__buf_free(&b);
  raw_expect_frame(&c, &r);
  CHECK_MSG(r.type == CF_FRAME_CHANGES, "got %s", cf__frame_type_name(r.type));
  int found = 0;
  const cf_table *t = cf__schema_table_by_name("contacts");
  int idcol = cf__schema_column_index(t, "id");
  for (size_t i = 0; i < r.u.changes.nrows; i++) {
    const cf_cell *cell = cf__row_cell(&r.u.changes.rows[i], (unsigned)idcol);
    if (r.u.changes.rows[i].table == t && cell != NULL && cell->value.n == 36 &&
        memcmp(cell->value.p, RYW_CONTACT, 36) == 0)
      found = 1;
  }
  CHECK(found);
  CHECK(r.u.changes.last_seq >= (uint64_t)seq);
  cf__frame_free(&r);
  raw_free(&c);
  cf_token_free(token);
  sfx_close(&f);
}

#define BATCH_CONTACT "01936b2a-0003-7000-8000-1000000000c2"

/* docs/protocol.md, lifecycle 2 and "Idempotency": WELCOME's last_batch is
** the highest batch of this node (and user) the master committed, so a
** client that lost a PUSH_RESULT knows at connect time that its batch went
** in; a retry of that batch changes nothing and gets the recorded results. */
CF_TEST(
    test_sync_welcome_reports_last_committed_batch_and_retry_is_answered_from_record) {
  sync_fx f;
  sfx_open(&f, 1);
  char *token = sfx_token(DEMO_REP, 3600);
  raw_client c;
  raw_connect_welcomed(&c, &f, token, DEMO_ORG);
  cf_nodeid node = c.node;
  cf_push_change ch;
  memset(&ch, 0, sizeof ch);
  ch.id = 7;
  sfx_contact_change(&ch.row, &node, DEMO_ORG, BATCH_CONTACT, "Once", 1);
  cf_frame r;
  sfx_raw_push(&c, 3, &ch, 1, &r);
  CHECK_EQ(r.u.push_result.results[0].status, CF_PUSH_APPLIED);
  cf__frame_free(&r);
  raw_free(&c);
  long long seq =
      sfx_sql_num(&f, "SELECT cf_seq FROM contacts WHERE id = '" BATCH_CONTACT "'");

  /* The same node connects again: its answer was "lost". */
  raw_connect(&c, &f, 0);
  c.node = node;
  raw_hello(&c, token, DEMO_ORG, NULL);
  raw_expect_frame(&c, &r);
  CHECK_MSG(r.type == CF_FRAME_WELCOME, "got %s", cf__frame_type_name(r.type));
  uint64_t last_batch = r.u.welcome.last_batch;
  cf__frame_free(&r);
  /* The retry is answered from the record and writes nothing again. */
  sfx_raw_push(&c, 3, &ch, 1, &r);
  CHECK_EQ(r.u.push_result.results[0].status, CF_PUSH_APPLIED);
  cf__frame_free(&r);
  CHECK_EQ(sfx_sql_num(&f, "SELECT cf_seq FROM contacts WHERE id = '" BATCH_CONTACT "'"),
           seq);
  CHECK_EQ(
      sfx_sql_num(&f, "SELECT count(*) FROM contacts WHERE id = '" BATCH_CONTACT "'"), 1);
  raw_free(&c);
  cf_token_free(token);
  sfx_close(&f);
  CHECK_MSG(last_batch == 3, "WELCOME last_batch is %llu, expected 3",
            (unsigned long long)last_batch);
}

#define NEW_CONTACT "01936b2a-0003-7000-8000-1000000000aa"

CF_TEST(test_sync_direct_sql_on_master_reaches_nodes) {
  sync_fx f;
  sfx_open(&f, 1);
  cf_node *a = sfx_node("a", DEMO_ORG, DEMO_REP);
  cf_node *b = sfx_node("b", DEMO_ORG, DEMO_OWNER);
  sfx_sync_ok(&f, a);
  sfx_sync_ok(&f, b);
  CHECK_EQ(sfx_node_num(
               a, "SELECT count(*) FROM contacts WHERE id = '" DEMO_CONTACT("04") "'"),
           1);
  /* Another app writes straight into Postgres. */
  sfx_sql(&f,
          "INSERT INTO contacts (org_id, id, first_name, email, tags) VALUES ('" DEMO_ORG
          "', '" NEW_CONTACT "', 'Zed', 'zed@direct.test', '{direct,sql}')");
  sfx_sql(&f, "UPDATE contacts SET phone = '+9-999' WHERE id = '" DEMO_CONTACT("03") "'");
  sfx_sql(&f, "DELETE FROM contacts WHERE id = '" DEMO_CONTACT("04") "'");
  cf_node *nodes[2] = {a, b};
  for (int i = 0; i < 2; i++) {
    sfx_sync_result r = sfx_sync_ok(&f, nodes[i]);
    CHECK(r.count[CF_SYNC_PULLED] >= 3);
    CHECK_CONTACT(ON_NODE(nodes[i], NEW_CONTACT, "first_name"), NEW_CONTACT, "first_name",
                  "Zed");
    CHECK_CONTACT(ON_NODE(nodes[i], NEW_CONTACT, "tags"), NEW_CONTACT, "tags",
                  "[\"direct\",\"sql\"]");
    CHECK_CONTACT(ON_NODE(nodes[i], DEMO_CONTACT("03"), "phone"), DEMO_CONTACT("03"),
                  "phone", "+9-999");
    CHECK_EQ(
        sfx_node_num(nodes[i],
                     "SELECT count(*) FROM contacts WHERE id = '" DEMO_CONTACT("04") "'"),
        0);
    CHECK_EQ(sfx_node_num(nodes[i], "SELECT count(*) FROM contacts"), 10);
  }
  /* The node's later edit of the directly written row merges per column. */
  sfx_node_exec(a,
                "UPDATE contacts SET company = 'Zed Ltd' WHERE id = '" NEW_CONTACT "'");
  sfx_sync_ok(&f, a);
  CHECK_CONTACT(ON_MASTER(&f, NEW_CONTACT, "company"), NEW_CONTACT, "company", "Zed Ltd");
  CHECK_CONTACT(ON_MASTER(&f, NEW_CONTACT, "email"), NEW_CONTACT, "email",
                "zed@direct.test");
  cf_node_close(a);
  cf_node_close(b);
  sfx_close(&f);
}

#define AUTO1 "01936b2a-0008-7000-8000-100000000001"
#define AUTO2 "01936b2a-0008-7000-8000-100000000002"

static void auto_name(cf_node *n, const char *id, char *out, size_t cap) {
  char sql[160];
  snprintf(sql, sizeof sql, "SELECT name FROM automations WHERE id = '%s'", id);
  sfx_node_text(n, sql, out, cap);
}

CF_TEST(test_sync_conflict_retry_and_discard_round_trip_through_server) {
  sync_fx f;
  sfx_open(&f, 1);
  cf_node *rep = sfx_node("rep", DEMO_ORG, DEMO_REP);
  sfx_sync_ok(&f, rep);
  char name[128];

  /* A member may not manage automations: RLS rejects the rename. */
  sfx_node_exec(rep,
                "UPDATE automations SET name = 'Renamed by rep' WHERE id = '" AUTO1 "'");
  sfx_sync_result r = sfx_sync_ok(&f, rep);
  CHECK_EQ(r.count[CF_SYNC_REJECTED], 1);
  CHECK_EQ(sfx_outbox(rep), 0);
  sfx_conflicts c = sfx_node_conflicts(rep);
  CHECK_EQ(c.n, 1);
  CHECK_EQ(c.c[0].code, CF_PERMISSION);
  CHECK_STR(c.c[0].table, "automations");
  CHECK_STR(c.c[0].row_id, AUTO1);
  CHECK_MSG(strstr(c.c[0].columns, "name") != NULL, "columns: %s", c.c[0].columns);
  CHECK_MSG(strncmp(c.c[0].message, "permission", 10) == 0, "message: %s",
            c.c[0].message);
  sfx_sql_text(&f, "SELECT name FROM automations WHERE id = '" AUTO1 "'", name,
               sizeof name);
  CHECK_STR(name, "Booking confirmation");

  /* Retry without a fix: rejected again, still kept. */
  CHECK_OK(cf_node_conflict_retry(rep, c.c[0].id));
  CHECK_EQ(sfx_outbox(rep), 1);
  r = sfx_sync_ok(&f, rep);
  CHECK_EQ(r.count[CF_SYNC_REJECTED], 1);
  c = sfx_node_conflicts(rep);
  CHECK_EQ(c.n, 1);
  CHECK_EQ(c.c[0].code, CF_PERMISSION);

  /* The fix is on the master (the rep becomes admin); the retry wins. */
  sfx_sql(&f,
          "UPDATE memberships SET role = 'admin' WHERE id = '" DEMO_REP_MEMBERSHIP "'");
  CHECK_OK(cf_node_conflict_retry(rep, c.c[0].id));
  r = sfx_sync_ok(&f, rep);
  CHECK_EQ(r.count[CF_SYNC_APPLIED], 1);
  CHECK_EQ(r.count[CF_SYNC_REJECTED], 0);
  CHECK_EQ(sfx_node_conflicts(rep).n, 0);
  sfx_sql_text(&f, "SELECT name FROM automations WHERE id = '" AUTO1 "'", name,
               sizeof name);
  CHECK_STR(name, "Renamed by rep");
  CHECK_EQ(cf_node_conflict_retry(rep, c.c[0].id), CF_NOTFOUND);

  /* Member again: a rejected rename is discarded; the local value stays
  ** until the master's row comes back, then the master's value wins. */
  sfx_sql(&f,
          "UPDATE memberships SET role = 'member' WHERE id = '" DEMO_REP_MEMBERSHIP "'");
  sfx_node_exec(rep, "UPDATE automations SET name = 'Discard me' WHERE id = '" AUTO2 "'");
  r = sfx_sync_ok(&f, rep);
  CHECK_EQ(r.count[CF_SYNC_REJECTED], 1);
  c = sfx_node_conflicts(rep);
  CHECK_EQ(c.n, 1);
  CHECK_OK(cf_node_conflict_discard(rep, c.c[0].id));
  CHECK_EQ(sfx_node_conflicts(rep).n, 0);
  CHECK_EQ(sfx_outbox(rep), 0);
  r = sfx_sync_ok(&f, rep);
  CHECK_EQ(r.count[CF_SYNC_PUSHED], 0);
  sfx_sql(&f, "UPDATE automations SET enabled = false WHERE id = '" AUTO2 "'");
  sfx_sync_ok(&f, rep);
  auto_name(rep, AUTO2, name, sizeof name);
  CHECK_STR(name, "Follow-up reminder");
  CHECK_EQ(sfx_node_num(rep, "SELECT enabled FROM automations WHERE id = '" AUTO2 "'"),
           0);
  sfx_sql_text(&f, "SELECT name FROM automations WHERE id = '" AUTO2 "'", name,
               sizeof name);
  CHECK_STR(name, "Follow-up reminder");
  cf_node_close(rep);
  sfx_close(&f);
}
