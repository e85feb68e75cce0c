/*
** tests/integration/test_fault_pg_restart.c: PostgreSQL restarted while
** nodes are connected (issue 5, faults; docs/faults.md "Postgres
** restarted").
**
** The shared test cluster serves every test running in parallel, so this
** test starts its OWN private cluster (cf_pgcluster_start: migrated, seeded,
** with the login role clientflow_server) and restarts it with
** `pg_ctl restart -m fast` as the postgres user.  A sync server runs on a
** thread of the test; two nodes of the demo org watch live
** (cf_sync_watch, each on its own thread; the test reads and writes their
** replica files through second handles).  It proves:
**
**   - the server reconnects: its workers open new connections per job,
**     its LISTEN connection comes back (seen in pg_stat_activity);
**   - the nodes carry on by themselves (reconnect with backoff), and
**     nothing is lost: a write made just before the restart (possibly in
**     flight during it) and one made after reach the master and the other
**     node, each once;
**   - live updates resume: a direct SQL write committed after the restart
**     reaches both nodes with no poll (watching clients pull only when told).
*/
#include "fault_fixture.h"

/* A watching node: its own handle on its own thread. */
typedef struct watcher {
  cf_node *node;    /* the watch thread's handle */
  cf_sync *sync;    /* its live session */
  pthread_t thread; /* runs cf_sync_watch */
  int rc;           /* cf_sync_watch's result */
} watcher;

static void *watch_main(void *arg) {
  watcher *w = arg;
  w->rc = cf_sync_watch(w->sync);
  return NULL;
}

static void watcher_start(watcher *w, sync_fx *f, const char *name, char *token) {
  memset(w, 0, sizeof *w);
  w->node = sfx_node(name, DEMO_ORG, DEMO_REP);
  CHECK_OK(cf_sync_new(w->node, f->ws_url, token, &w->sync));
  CHECK(pthread_create(&w->thread, NULL, watch_main, w) == 0);
}

static void watcher_stop(watcher *w) {
  cf_sync_stop(w->sync);
  pthread_join(w->thread, NULL);
  CHECK_MSG(w->rc == CF_OK, "cf_sync_watch: %s: %s", cf_strerror(w->rc),
            cf_sync_errmsg(w->sync));
  cf_sync_free(w->sync);
  cf_node_close(w->node);
}

/* A condition: the query q returns the text want on the replica handle. */
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

static void wait_node(cf_node *node, const char *q, const char *want, const char *what) {
  node_has h = {node, q, want};
  fx_wait_until(node_has_cond, &h, 30000, what);
}

/* The same on the master, with its own connection (reconnected if lost). */
typedef struct master_has {
  PGconn *conn;   /* superuser connection */
  const char *q;  /* the query */
  long long want; /* its expected number */
} master_has;

static int master_has_cond(void *ctx) {
  master_has *h = ctx;
  if (PQstatus(h->conn) != CONNECTION_OK) PQreset(h->conn);
  return fx_pg_num(h->conn, h->q) == h->want;
}

static void wait_master(PGconn *c, const char *q, long long want, const char *what) {
  master_has h = {c, q, want};
  fx_wait_until(master_has_cond, &h, 60000, what);
}

CF_TEST(postgres_restart_server_reconnects_nodes_carry_on_nothing_lost) {
  sync_fx f;
  fx_cluster_open(&f, "cf_restart");
  sfx_server_start(&f, 2);

  char *token = sfx_token(DEMO_REP, 3600);
  watcher a, b;
  watcher_start(&a, &f, "a", token);
  watcher_start(&b, &f, "b", token);
  cf_node *ra = sfx_node("a", DEMO_ORG, DEMO_REP); /* the test's handles */
  cf_node *rb = sfx_node("b", DEMO_ORG, DEMO_REP);
  static const char company_q[] =
      "SELECT coalesce(company, '') FROM contacts WHERE id = '" DEMO_CONTACT("03") "'";
  sfx_sql(&f, "UPDATE contacts SET company = 'before restart' WHERE id = '" DEMO_CONTACT(
                  "03") "'");
  wait_node(ra, company_q, "before restart", "node a to get the first SQL write");
  wait_node(rb, company_q, "before restart", "node b to get the first SQL write");

  /* A local write on a, pushed by its watcher around the restart. */
  sfx_node_exec(ra,
                "UPDATE contacts SET phone = 'w1' WHERE id = '" DEMO_CONTACT("04") "'");

  fx_cluster_restart(&f);

  /* A write after the restart, on a. */
  sfx_node_exec(ra,
                "UPDATE contacts SET phone = 'w2' WHERE id = '" DEMO_CONTACT("05") "'");
  wait_master(f.admin,
              "SELECT count(*) FROM contacts WHERE (id = '" DEMO_CONTACT(
                  "04") "' AND phone = "
                        "'w1') OR (id = '" DEMO_CONTACT("05") "' AND phone = 'w2')",
              2, "both writes of node a on the master");
  wait_node(
      rb, "SELECT coalesce(phone, '') FROM contacts WHERE id = '" DEMO_CONTACT("04") "'",
      "w1", "node b to get the write made before the restart");
  wait_node(
      rb, "SELECT coalesce(phone, '') FROM contacts WHERE id = '" DEMO_CONTACT("05") "'",
      "w2", "node b to get the write made after the restart");

  /* The server's LISTEN connection is back. */
  wait_master(f.admin,
              "SELECT count(*) FROM pg_stat_activity WHERE usename = 'clientflow_server' "
              "AND query ILIKE 'LISTEN%'",
              1, "the server's LISTEN connection to come back");

  /* Live updates resume: a direct write reaches both without polling. */
  int64_t t0 = sfx_monotonic_ms();
  sfx_sql(&f, "UPDATE contacts SET company = 'after restart' WHERE id = '" DEMO_CONTACT(
                  "03") "'");
  wait_node(ra, company_q, "after restart",
            "node a to get the SQL write after the restart");
  wait_node(rb, company_q, "after restart",
            "node b to get the SQL write after the restart");
  printf("live update after the restart reached both nodes in %lld ms\n",
         (long long)(sfx_monotonic_ms() - t0));

  /* Nothing pending, nothing rejected, each write once. */
  CHECK_EQ(sfx_outbox(ra), 0);
  CHECK_EQ(sfx_node_conflicts(ra).n, 0);
  CHECK_EQ(sfx_sql_num(&f, "SELECT count(*) FROM contacts WHERE phone IN ('w1', 'w2')"),
           2);

  cf_node_close(ra);
  cf_node_close(rb);
  watcher_stop(&a);
  watcher_stop(&b);
  cf_token_free(token);
  sfx_close(&f);
  cf_pgcluster *pgc = fx_cluster;
  fx_cluster = NULL;
  CHECK_OK(cf_pgcluster_stop(pgc));
}
