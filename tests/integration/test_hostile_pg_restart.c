/*
** tests/integration/test_hostile_pg_restart.c: the first requests after a
** PostgreSQL restart (review finding 6; docs/faults.md "Postgres
** restarted").
**
** A server of 4 workers, each of which holds its own database connection,
** all of them open before the restart (checked in pg_stat_activity).  After
** `pg_ctl restart -m fast` every one of those connections is stale.  The
** server must notice on the first use and run the job again on a fresh
** connection: the first `/health` answers 200 "ok", and 8 sequential node
** syncs (each pushing one change and pulling) all succeed at the first
** attempt, whichever worker takes them.
**
** Like test_fault_pg_restart.c, it restarts a PRIVATE cluster
** (cf_pgcluster_start), never the shared one other tests use.
*/
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "fault_fixture.h"
#include "hostile_fixture.h"

#define WORKERS 4

/* GET path on 127.0.0.1:port; returns the HTTP status (-1 if none) and the
** response in buf. */
static int http_get(int port, const char *path, char *buf, size_t cap) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(fd >= 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK_MSG(connect(fd, (struct sockaddr *)&a, sizeof a) == 0, "connect: %s",
            strerror(errno));
  char req[256];
  int n =
      snprintf(req, sizeof req,
               "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
  CHECK(write(fd, req, (size_t)n) == n);
  size_t len = 0;
  int64_t deadline = sfx_monotonic_ms() + 15000;
  while (len + 1 < cap && sfx_monotonic_ms() < deadline) {
    struct pollfd pfd = {fd, POLLIN, 0};
    if (poll(&pfd, 1, 1000) != 1) continue;
    ssize_t r = read(fd, buf + len, cap - 1 - len);
    if (r <= 0) break;
    len += (size_t)r;
  }
  close(fd);
  buf[len] = '\0';
  int status = -1;
  if (strncmp(buf, "HTTP/1.1 ", 9) == 0) status = atoi(buf + 9);
  return status;
}

/* Worker connections of the server's login (not the LISTEN one). */
static long long worker_backends(PGconn *c) {
  return fx_pg_num(c, "SELECT count(*) FROM pg_stat_activity WHERE usename = "
                      "'clientflow_server' AND query NOT ILIKE 'LISTEN%'");
}

/* Runs rounds of WORKERS*2 concurrent HELLOs until every worker has opened
** its connection (at most 50 rounds). */
static void open_every_worker_connection(sync_fx *f, const char *token) {
  for (int round = 0; round < 50; round++) {
    if (worker_backends(f->admin) >= WORKERS) return;
    raw_client c[WORKERS * 2];
    for (int i = 0; i < WORKERS * 2; i++) {
      hx_connect(&c[i], f, NULL);
      hx_hello(&c[i], token, DEMO_ORG, 0, 0);
    }
    for (int i = 0; i < WORKERS * 2; i++) {
      cf_frame fr;
      char why[1200];
      hx_next(&c[i], &fr);
      CHECK_MSG(fr.type == CF_FRAME_WELCOME, "warm-up HELLO: %s",
                hx_describe(&fr, why, sizeof why));
      cf__frame_free(&fr);
      raw_free(&c[i]);
    }
  }
  CHECK_MSG(worker_backends(f->admin) >= WORKERS, "only %lld worker connections open",
            worker_backends(f->admin));
}

CF_TEST(test_hostile_pg_restart_first_syncs_and_health_succeed_on_stale_connections) {
  sync_fx f;
  fx_cluster_open(&f, "cf_hostile_restart");
  sfx_server_start(&f, WORKERS);
  int port = cf_server_port(f.srv);

  char *token = sfx_token(DEMO_REP, 3600);
  cf_node *n = sfx_node("rep", DEMO_ORG, DEMO_REP);
  sfx_sync_ok(&f, n);
  open_every_worker_connection(&f, token);
  char body[4096];
  CHECK_EQ(http_get(port, "/health", body, sizeof body), 200);

  fx_cluster_restart(&f);

  /* The first /health after the restart. */
  int status = http_get(port, "/health", body, sizeof body);
  const char *json = strstr(body, "\r\n\r\n");
  CHECK_MSG(status == 200 && json && strstr(json, "\"status\":\"ok\""),
            "first /health after the restart: %d %s", status, json ? json + 4 : body);

  /* Eight sequential syncs, each with a change to push: all first try. */
  char report[4096] = "";
  int failed = 0;
  for (int i = 0; i < 8; i++) {
    char sql[256];
    snprintf(sql, sizeof sql,
             "UPDATE contacts SET phone = 'after-restart-%d' WHERE id = '" DEMO_CONTACT(
                 "04") "'",
             i);
    sfx_node_exec(n, sql);
    sfx_sync_result r = sfx_sync_with(&f, n, token);
    printf("sync %d after the restart: %s %s\n", i + 1, cf_strerror(r.rc), r.errmsg);
    if (r.rc != CF_OK) {
      failed++;
      size_t len = strlen(report);
      snprintf(report + len, sizeof report - len, "  sync %d: %s: %s\n", i + 1,
               cf_strerror(r.rc), r.errmsg);
    }
  }
  CHECK_MSG(failed == 0, "%d of 8 syncs after the restart failed:\n%s", failed, report);
  CHECK_EQ(sfx_outbox(n), 0);
  CHECK_EQ(
      sfx_sql_num(&f, "SELECT count(*) FROM contacts WHERE phone = 'after-restart-7'"),
      1);

  cf_node_close(n);
  cf_token_free(token);
  sfx_close(&f);
  cf_pgcluster *pgc = fx_cluster;
  fx_cluster = NULL;
  CHECK_OK(cf_pgcluster_stop(pgc));
}
