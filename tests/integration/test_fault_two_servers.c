/*
** tests/integration/test_fault_two_servers.c: several servers side by side
** (issue 5, part 2; DESIGN.md "Sync semantics" 7 and "Scale";
** docs/scaling.md).
**
** Two `clientflow serve` processes run against one database.  A node
** watches live through server 2; another node pushes a write through
** server 1.  The write reaches the watching node, which only pulls when its
** server tells it to (LIVE): server 2 learned of the commit from Postgres
** (LISTEN/NOTIFY), since nothing passes between the two processes.  The
** same holds the other way round.  Then server 1 is killed: the node it
** served reconnects to server 2 with the same replica and carries on --
** no state of a server process was needed.
*/
#include "fault_fixture.h"

typedef struct watcher {
  cf_node *node;    /* the watch thread's handle */
  cf_sync *sync;    /* the live session */
  pthread_t thread; /* runs cf_sync_watch */
  int rc;           /* its result */
} watcher;

static void *watch_main(void *arg) {
  watcher *w = arg;
  w->rc = cf_sync_watch(w->sync);
  return NULL;
}

static void watcher_start(watcher *w, const char *name, const char *url,
                          const char *token) {
  memset(w, 0, sizeof *w);
  w->node = sfx_node(name, DEMO_ORG, DEMO_REP);
  CHECK_OK(cf_sync_new(w->node, url, token, &w->sync));
  CHECK(pthread_create(&w->thread, NULL, watch_main, w) == 0);
}

static void watcher_stop(watcher *w) {
  cf_sync_stop(w->sync);
  pthread_join(w->thread, NULL);
  CHECK_MSG(w->rc == CF_OK, "watch: %s", cf_sync_errmsg(w->sync));
  cf_sync_free(w->sync);
  cf_node_close(w->node);
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

/* Pushes company = value on contact 07 from `writer` through url, then
** waits for `reader` (watching through the other server) to have it. */
static int64_t push_and_wait(sync_fx *f, cf_node *writer, const char *url,
                             cf_node *reader, const char *value) {
  char sql[256];
  snprintf(sql, sizeof sql,
           "UPDATE contacts SET company = '%s' WHERE id = '" DEMO_CONTACT("07") "'",
           value);
  sfx_node_exec(writer, sql);
  snprintf(f->ws_url, sizeof f->ws_url, "%s", url);
  int64_t t0 = sfx_monotonic_ms();
  sfx_sync_result r = sfx_sync_ok(f, writer);
  CHECK_EQ(r.count[CF_SYNC_APPLIED], 1);
  node_has h = {
      reader,
      "SELECT coalesce(company, '') FROM contacts WHERE id = '" DEMO_CONTACT("07") "'",
      value};
  fx_wait_until(node_has_cond, &h, 10000,
                "the node on the other server to get the write");
  return sfx_monotonic_ms() - t0;
}

CF_TEST(write_through_one_server_reaches_node_on_another_via_notify) {
  sync_fx f;
  sfx_open(&f, 1);
  sfx_server_stop(&f);
  fx_proc s1, s2;
  char url1[128], url2[128];
  snprintf(url1, sizeof url1, "ws://127.0.0.1:%d/sync", fx_serve(&f, &s1, 0, "server1"));
  snprintf(url2, sizeof url2, "ws://127.0.0.1:%d/sync", fx_serve(&f, &s2, 0, "server2"));
  char *token = sfx_token(DEMO_REP, 3600);

  watcher on1, on2;
  watcher_start(&on1, "on1", url1, token);
  watcher_start(&on2, "on2", url2, token);
  cf_node *read1 = sfx_node("on1", DEMO_ORG, DEMO_REP);
  cf_node *read2 = sfx_node("on2", DEMO_ORG, DEMO_REP);
  cf_node *writer = sfx_node("writer", DEMO_ORG, DEMO_REP);
  snprintf(f.ws_url, sizeof f.ws_url, "%s", url1);
  sfx_sync_ok(&f, writer);

  printf("server 1 -> node on server 2: %lld ms\n",
         (long long)push_and_wait(&f, writer, url1, read2, "via server 1"));
  printf("server 2 -> node on server 1: %lld ms\n",
         (long long)push_and_wait(&f, writer, url2, read1, "via server 2"));

  /* Server 1 dies; its node moves to server 2 and carries on. */
  fx_kill(&s1);
  watcher_stop(&on1);
  watcher_start(&on1, "on1", url2, token);
  printf("after server 1 died, node moved to server 2: %lld ms\n",
         (long long)push_and_wait(&f, writer, url2, read1, "after the move"));
  CHECK_EQ(sfx_outbox(read1), 0);

  cf_node_close(read1);
  cf_node_close(read2);
  cf_node_close(writer);
  watcher_stop(&on1);
  watcher_stop(&on2);
  CHECK_EQ(fx_term(&s2), 0);
  cf_token_free(token);
  sfx_close(&f);
}
