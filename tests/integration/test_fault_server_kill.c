/*
** tests/integration/test_fault_server_kill.c: the sync server killed with
** SIGKILL in the middle of a push (issue 5, faults; docs/faults.md "server
** killed").
**
** The server is the real `clientflow serve` program in a child process.  A
** node pushes 3,000 new contacts (three PUSH batches of the server's 1,000)
** from a thread of the test.  The test watches pg_stat_activity for the
** server's write transaction (a backend of the server's login role in this
** database with a transaction id assigned: the push's INSERTs have started)
** and then SIGKILLs the server.  It proves:
**
**   - the push's transaction rolled back: once the server's backends are
**     gone, the master holds a whole number of batches (no half batch);
**   - the node's sync reports the server unreachable, and a retry against
**     a server restarted on the same port succeeds;
**   - the master then holds every change exactly once: 3,000 rows, 3,000
**     distinct ids, each with its values, and the node's outbox is empty.
*/
#include <inttypes.h>

#include "fault_fixture.h"

#define NROWS 3000
#define BATCH 1000 /* the server's DEFAULT_MAX_BATCH */

/* The node's sync, run on its own thread. */
typedef struct sync_job {
  cf_node *node;    /* the replica */
  char url[128];    /* the server */
  char *token;      /* the user's token */
  int rc;           /* cf_sync_run's result */
  char errmsg[512]; /* its detail */
  atomic_int done;  /* 1 once cf_sync_run returned */
} sync_job;

static void *sync_main(void *arg) {
  sync_job *j = arg;
  cf_sync *s = NULL;
  j->rc = cf_sync_new(j->node, j->url, j->token, &s);
  if (j->rc == CF_OK) j->rc = cf_sync_run(s);
  snprintf(j->errmsg, sizeof j->errmsg, "%s", s ? cf_sync_errmsg(s) : "");
  cf_sync_free(s);
  atomic_store(&j->done, 1);
  return NULL;
}

/* Superuser connection used by the condition functions. */
static PGconn *watch_conn;

/* A write transaction of the server's role is open in this database. */
static int push_in_flight(void *ctx) {
  (void)ctx;
  return fx_pg_num(
             watch_conn,
             "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
             "AND usename = 'cf_test_server' AND backend_xid IS NOT NULL") > 0;
}

/* The killed server's backends have ended (their transactions are over). */
static int server_backends_gone(void *ctx) {
  (void)ctx;
  return fx_pg_num(
             watch_conn,
             "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
             "AND usename = 'cf_test_server'") == 0;
}

static int job_done(void *ctx) { return atomic_load(&((sync_job *)ctx)->done); }

CF_TEST(server_killed_mid_push_rolls_back_and_master_holds_each_change_once) {
  sync_fx f;
  sfx_open(&f, 1);
  sfx_server_stop(&f); /* this test runs the server as a process */
  watch_conn = fx_connect(f.admin_url);

  fx_proc srv;
  int port = fx_serve(&f, &srv, 0, "server1");
  char url[128];
  snprintf(url, sizeof url, "ws://127.0.0.1:%d/sync", port);
  snprintf(f.ws_url, sizeof f.ws_url, "%s", url);

  /* The node: bootstrapped, then 3,000 new contacts in one local
  ** transaction, each with a bulky metadata document so a batch takes the
  ** master a while. */
  cf_node *node = sfx_node("rep", DEMO_ORG, DEMO_REP);
  sfx_sync_ok(&f, node);
  sfx_node_exec(node, "BEGIN");
  for (int i = 0; i < NROWS; i++) {
    char id[CF_UUID_TEXT_LEN], sql[1024];
    fx_uuid(id, 0x5e4c, (unsigned long long)i + 1);
    snprintf(sql, sizeof sql,
             "INSERT INTO contacts (id, first_name, last_name, email, metadata) VALUES "
             "('%s', 'push', 'n%d', 'push-%d@kill.test', "
             "json_object('pad', printf('%%.600c', 'x'), 'n', %d))",
             id, i, i, i);
    sfx_node_exec(node, sql);
  }
  sfx_node_exec(node, "COMMIT");
  CHECK_EQ(sfx_outbox(node), NROWS);

  sync_job job;
  memset(&job, 0, sizeof job);
  job.node = node;
  snprintf(job.url, sizeof job.url, "%s", url);
  job.token = sfx_token(DEMO_REP, 3600);
  pthread_t th;
  CHECK(pthread_create(&th, NULL, sync_main, &job) == 0);

  /* Kill the server while a push transaction is open on the master. */
  int64_t deadline = sfx_monotonic_ms() + 60000;
  while (!push_in_flight(NULL)) {
    CHECK_MSG(!atomic_load(&job.done), "the sync finished before a push was seen: %s",
              job.errmsg);
    CHECK_MSG(sfx_monotonic_ms() < deadline, "no push transaction seen within 60 s");
  }
  fx_kill(&srv);
  fx_wait_until(job_done, &job, 60000, "the node's sync to notice the dead server");
  pthread_join(th, NULL);
  CHECK_MSG(job.rc == CF_UNREACHABLE, "sync after the kill: %s: %s", cf_strerror(job.rc),
            job.errmsg);
  printf("sync after the kill: %s (%s)\n", cf_strerror(job.rc), job.errmsg);

  /* The backend that ran the push has gone, and its transaction with it. */
  fx_wait_until(server_backends_gone, NULL, 60000, "the killed server's backends to end");
  long long after_kill =
      sfx_sql_num(&f, "SELECT count(*) FROM contacts WHERE first_name = 'push'");
  printf("rows on the master after the kill: %lld\n", after_kill);
  CHECK_MSG(after_kill % BATCH == 0 && after_kill < NROWS,
            "%lld rows: a partial batch was committed", after_kill);
  CHECK(sfx_outbox(node) > 0);

  /* Restart on the same port; the node retries until the sync succeeds. */
  int port2 = fx_serve(&f, &srv, port, "server2");
  CHECK_EQ(port2, port);
  sfx_sync_result r;
  int attempts = 0;
  do {
    r = sfx_sync_with(&f, node, job.token);
    attempts++;
  } while (r.rc == CF_UNREACHABLE && attempts < 5);
  CHECK_MSG(r.rc == CF_OK, "retry: %s: %s", cf_strerror(r.rc), r.errmsg);
  CHECK_EQ(sfx_outbox(node), 0);
  CHECK_EQ(sfx_node_conflicts(node).n, 0);

  /* Each change exactly once, with its values. */
  CHECK_EQ(sfx_sql_num(&f, "SELECT count(*) FROM contacts WHERE first_name = 'push'"),
           NROWS);
  CHECK_EQ(sfx_sql_num(
               &f, "SELECT count(DISTINCT id) FROM contacts WHERE first_name = 'push'"),
           NROWS);
  CHECK_EQ(sfx_sql_num(&f, "SELECT count(*) FROM contacts WHERE first_name = 'push' AND "
                           "last_name = 'n' || (metadata->>'n') AND "
                           "email = 'push-' || (metadata->>'n') || '@kill.test' AND "
                           "length(metadata->>'pad') = 600"),
           NROWS);
  CHECK_EQ(sfx_node_num(node, "SELECT count(*) FROM contacts WHERE first_name = 'push'"),
           NROWS);

  CHECK_EQ(fx_term(&srv), 0);
  cf_token_free(job.token);
  cf_node_close(node);
  PQfinish(watch_conn);
  watch_conn = NULL;
  sfx_close(&f);
}
