/*
** tests/integration/test_fault_rebootstrap.c: a node offline for longer
** than the master keeps deleted rows' history is told to bootstrap again,
** and its unacknowledged writes survive (issue 5, faults; docs/faults.md
** "re-bootstrap").
**
** The master forgets deletions with cf_sync.purge_tombstones (here with a
** zero retention, as the superuser), which raises the org's purged_seq past
** the node's cursor; the server then answers the node's PULL with
** REBOOTSTRAP.  sync/client/client.c handles it with cf__store_rebootstrap
** (store/rebootstrap.c): synced rows go, rows with pending outbox entries or
** conflicts stay, the cursor goes back to 0, and the pull starts over.
*/
#include "fault_fixture.h"
#include "store/store_rebootstrap.h"

/* The master deletes contacts 09 and 10 of the demo org and forgets the
** deletions; another contact changes so the head moves past them. */
static void delete_and_purge(sync_fx *f) {
  sfx_sql(f, "DELETE FROM contacts WHERE id IN ('" DEMO_CONTACT("09") "', '" DEMO_CONTACT(
                 "10") "')");
  sfx_sql(f, "UPDATE contacts SET company = 'Moved On Ltd' WHERE id = '" DEMO_CONTACT(
                 "08") "'");
  CHECK(sfx_sql_num(f, "SELECT cf_sync.purge_tombstones('0 seconds')") >= 2);
  CHECK(sfx_sql_num(f,
                    "SELECT purged_seq FROM cf_sync.org_clock WHERE org_id = '" DEMO_ORG
                    "'") > 0);
}

/* The replica and the master hold the same demo-org contacts (id, email,
** phone, company). */
static void check_same_contacts(sync_fx *f, cf_node *node) {
#define ROW_TEXT                                                                         \
  "id || ':' || coalesce(email, '') || ':' || coalesce(phone, '') || ':' || "            \
  "coalesce(company, '')"
  static const char local_q[] =
      "SELECT coalesce(group_concat(r, ','), '') FROM (SELECT " ROW_TEXT
      " AS r FROM contacts WHERE org_id = '" DEMO_ORG "' ORDER BY id)";
  static const char master_q[] =
      "SELECT coalesce(string_agg(" ROW_TEXT
      ", ',' ORDER BY id), '') FROM contacts WHERE org_id = '" DEMO_ORG "'";
#undef ROW_TEXT
  static char local[65536], master[65536];
  sfx_node_text(node, local_q, local, sizeof local);
  sfx_sql_text(f, master_q, master, sizeof master);
  CHECK_MSG(strcmp(local, master) == 0, "replica:\n%s\nmaster:\n%s", local, master);
}

/*
** Through the sync client: the node was offline, wrote locally, the master
** deleted and purged; the node's next sync re-bootstraps on its own and
** succeeds, the deleted rows vanish from the replica, the node's writes are
** on the master, and a write the master rejected is still kept locally as a
** conflict with its row.
*/
CF_TEST(node_behind_purge_horizon_rebootstraps_and_keeps_its_writes) {
  sync_fx f;
  sfx_open(&f, 1);
  cf_node *node = sfx_node("rep", DEMO_ORG, DEMO_REP);
  sfx_sync_ok(&f, node);
  CHECK_EQ(sfx_node_num(
               node, "SELECT count(*) FROM contacts WHERE id = '" DEMO_CONTACT("10") "'"),
           1);

  /* Offline: a phone change, a new contact, and an automation (members may
  ** not manage automations: the master will reject it). */
  sfx_node_exec(
      node,
      "UPDATE contacts SET phone = '+1 555 0101' WHERE id = '" DEMO_CONTACT("01") "'");
  sfx_node_exec(node, "INSERT INTO contacts (id, first_name, email) VALUES "
                      "('01936b2a-0003-7000-8000-1000000000f1', 'Offline', "
                      "'offline@rebootstrap.test')");
  sfx_node_exec(node,
                "INSERT INTO automations (id, name, trigger, action, config, enabled) "
                "VALUES ('01936b2a-0007-7000-8000-1000000000f1', 'rep automation', "
                "'contact_created', 'send_email', '{}', 1)");
  delete_and_purge(&f);

  sfx_sync_result r = sfx_sync_ok(&f, node);
  printf("pushed %lld, pulled %lld, cursor %lld\n", (long long)r.count[CF_SYNC_PUSHED],
         (long long)r.count[CF_SYNC_PULLED], (long long)r.count[CF_SYNC_CURSOR]);
  CHECK_EQ(sfx_node_num(node, "SELECT count(*) FROM contacts WHERE id IN ('" DEMO_CONTACT(
                                  "09") "', '" DEMO_CONTACT("10") "')"),
           0);
  CHECK_EQ(sfx_sql_num(&f, "SELECT count(*) FROM contacts WHERE phone = '+1 555 0101' "
                           "AND id = '" DEMO_CONTACT("01") "'"),
           1);
  CHECK_EQ(sfx_sql_num(&f, "SELECT count(*) FROM contacts WHERE email = "
                           "'offline@rebootstrap.test'"),
           1);
  check_same_contacts(&f, node);

  /* The rejected automation: still a conflict, its row still in the
  ** replica, never on the master. */
  sfx_conflicts c = sfx_node_conflicts(node);
  CHECK_EQ(c.n, 1);
  CHECK_STR(c.c[0].table, "automations");
  CHECK_EQ(sfx_node_num(node, "SELECT count(*) FROM automations WHERE id = "
                              "'01936b2a-0007-7000-8000-1000000000f1'"),
           1);
  CHECK_EQ(sfx_sql_num(&f, "SELECT count(*) FROM automations WHERE id = "
                           "'01936b2a-0007-7000-8000-1000000000f1'"),
           0);
  CHECK_EQ(sfx_outbox(node), 0);
  cf_node_close(node);
  sfx_close(&f);
}

/*
** The store step on its own, with writes still in the outbox (never pushed,
** so nothing has acknowledged them): they survive with their values, the
** other rows go, the cursor is 0; the next sync pushes them and rebuilds the
** rest from the master.
*/
CF_TEST(rebootstrap_keeps_unacknowledged_writes_and_drops_synced_rows) {
  sync_fx f;
  sfx_open(&f, 1);
  cf_node *node = sfx_node("rep", DEMO_ORG, DEMO_REP);
  sfx_sync_ok(&f, node);
  long long synced = sfx_node_num(node, "SELECT count(*) FROM contacts");
  CHECK(synced >= 10);

  sfx_node_exec(
      node,
      "UPDATE contacts SET phone = '+1 555 0202' WHERE id = '" DEMO_CONTACT("02") "'");
  sfx_node_exec(node, "INSERT INTO contacts (id, first_name, email) VALUES "
                      "('01936b2a-0003-7000-8000-1000000000f2', 'Pending', "
                      "'pending@rebootstrap.test')");
  int64_t pending = sfx_outbox(node);
  CHECK(pending >= 2);
  delete_and_purge(&f);

  int64_t kept = -1;
  CHECK_OK(cf__store_rebootstrap(node, &kept));
  printf("kept %lld rows\n", (long long)kept);
  CHECK_EQ(kept, 2);
  CHECK_EQ(sfx_outbox(node), pending);
  CHECK_EQ(sfx_node_num(node, "SELECT count(*) FROM contacts"), 2);
  char phone[64];
  sfx_node_text(node, "SELECT phone FROM contacts WHERE id = '" DEMO_CONTACT("02") "'",
                phone, sizeof phone);
  CHECK_STR(phone, "+1 555 0202");

  /* The cursor is 0: a full pull, no REBOOTSTRAP; the writes reach the
  ** master and the replica is rebuilt around them. */
  sfx_sync_result r = sfx_sync_ok(&f, node);
  CHECK_EQ(r.count[CF_SYNC_APPLIED], pending);
  CHECK_EQ(sfx_outbox(node), 0);
  CHECK_EQ(sfx_sql_num(&f, "SELECT count(*) FROM contacts WHERE phone = '+1 555 0202' "
                           "AND id = '" DEMO_CONTACT("02") "'"),
           1);
  check_same_contacts(&f, node);
  CHECK_EQ(sfx_node_num(
               node, "SELECT count(*) FROM contacts WHERE id = '" DEMO_CONTACT("10") "'"),
           0);
  cf_node_close(node);
  sfx_close(&f);
}

/* The live session of the watch test, on its own thread. */
typedef struct watch_job {
  cf_sync *sync;    /* the session */
  pthread_t thread; /* runs cf_sync_watch */
  int rc;           /* its result */
} watch_job;

static void *watch_main(void *arg) {
  watch_job *w = arg;
  w->rc = cf_sync_watch(w->sync);
  return NULL;
}

typedef struct node_has {
  cf_node *node;    /* a reading handle */
  const char *q;    /* the query */
  const char *want; /* its expected first value */
} node_has;

static int node_has_cond(void *ctx) {
  node_has *h = ctx;
  char v[256];
  sfx_node_text(h->node, h->q, v, sizeof v);
  return strcmp(v, h->want) == 0;
}

/*
** The same in a live session: a node that comes back after the purge and
** starts watching re-bootstraps in its first exchange, keeps its offline
** write, and then follows live updates as usual.
*/
CF_TEST(watching_node_behind_purge_horizon_rebootstraps_then_follows_live) {
  sync_fx f;
  sfx_open(&f, 1);
  cf_node *node = sfx_node("rep", DEMO_ORG, DEMO_REP);
  sfx_sync_ok(&f, node);
  sfx_node_exec(
      node,
      "UPDATE contacts SET phone = '+1 555 0303' WHERE id = '" DEMO_CONTACT("03") "'");
  delete_and_purge(&f);

  char *token = sfx_token(DEMO_REP, 3600);
  watch_job w;
  memset(&w, 0, sizeof w);
  CHECK_OK(cf_sync_new(node, f.ws_url, token, &w.sync));
  CHECK(pthread_create(&w.thread, NULL, watch_main, &w) == 0);
  cf_node *reader = sfx_node("rep", DEMO_ORG, DEMO_REP);
  node_has gone = {
      reader, "SELECT count(*) FROM contacts WHERE id = '" DEMO_CONTACT("10") "'", "0"};
  fx_wait_until(node_has_cond, &gone, 15000,
                "the watching node to drop the purged contact");
  sfx_sql(
      &f,
      "UPDATE contacts SET company = 'live after rebootstrap' WHERE id = '" DEMO_CONTACT(
          "05") "'");
  node_has live = {
      reader,
      "SELECT coalesce(company, '') FROM contacts WHERE id = '" DEMO_CONTACT("05") "'",
      "live after rebootstrap"};
  fx_wait_until(node_has_cond, &live, 15000, "a live update after the re-bootstrap");
  CHECK_EQ(sfx_sql_num(&f, "SELECT count(*) FROM contacts WHERE phone = '+1 555 0303' "
                           "AND id = '" DEMO_CONTACT("03") "'"),
           1);
  cf_sync_stop(w.sync);
  pthread_join(w.thread, NULL);
  CHECK_MSG(w.rc == CF_OK, "watch: %s: %s", cf_strerror(w.rc), cf_sync_errmsg(w.sync));
  cf_sync_free(w.sync);
  check_same_contacts(&f, reader);
  CHECK_EQ(sfx_outbox(reader), 0);
  cf_node_close(reader);
  cf_node_close(node);
  cf_token_free(token);
  sfx_close(&f);
}
