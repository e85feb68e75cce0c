/*
** tests/integration/test_fault_slow_client.c: a stalled client does not
** hold up the others; it is dropped when its bounded send queue overflows
** and resumes from its cursor when it reconnects (issue 5, faults;
** docs/faults.md "stalled client").
**
** The server is `clientflow serve` in a child process (its log is the
** test's window into it).  The stalled client is a plain TCP socket with a
** tiny receive buffer that speaks just enough WebSocket to upgrade, then
** sends HELLO and eight PULLs of big pages (2,000 contacts of about 2.5 KB
** each were written by SQL after its cursor) and never reads a byte.  The
** replies pile up in the server's per-session send queue (16 MiB) until the
** transport gives up on it ("ws peer too slow", close 1013).  Meanwhile a
** real node watches live and must get a direct SQL write promptly, before
** and after the drop.  Then a new connection from the stalled client's
** cursor gets exactly the rows after it.
*/
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "fault_fixture.h"

#define BULK_ROWS 2000
#define STALL_PULLS 8 /* with HELLO: 9 frames, what a session may queue */

/* --- a WebSocket client that never reads ----------------------------------- */

static int tcp_connect(int port, int rcvbuf) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(fd >= 0);
  if (rcvbuf > 0)
    CHECK(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) == 0);
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK_MSG(connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0, "connect: %s",
            strerror(errno));
  return fd;
}

static void write_all(int fd, const void *p, size_t n) {
  const uint8_t *b = p;
  while (n > 0) {
    ssize_t w = write(fd, b, n);
    CHECK_MSG(w > 0, "write: %s", strerror(errno));
    b += w;
    n -= (size_t)w;
  }
}

/* Sends the upgrade request and reads the response headers, nothing more. */
static void ws_upgrade(int fd, int port) {
  char req[512];
  int n = snprintf(req, sizeof req,
                   "GET " CF_WS_PATH " HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                   "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                   "Sec-WebSocket-Version: 13\r\n"
                   "Sec-WebSocket-Protocol: " CF_WS_SUBPROTOCOL "\r\n\r\n",
                   port);
  write_all(fd, req, (size_t)n);
  char head[2048];
  size_t len = 0;
  while (len < 4 || memcmp(head + len - 4, "\r\n\r\n", 4) != 0) {
    CHECK(len + 1 < sizeof head);
    struct pollfd pfd = {fd, POLLIN, 0};
    CHECK_MSG(poll(&pfd, 1, 10000) == 1, "no upgrade response");
    CHECK(read(fd, head + len, 1) == 1);
    len++;
  }
  head[len] = '\0';
  CHECK_MSG(strncmp(head, "HTTP/1.1 101", 12) == 0, "upgrade refused: %s", head);
}

/* Sends one masked binary message (RFC 6455 5.2). */
static void ws_send(int fd, const uint8_t *msg, size_t n) {
  uint8_t hdr[14];
  size_t h = 0;
  static const uint8_t key[4] = {0x5a, 0x17, 0xc3, 0x9e};
  hdr[h++] = 0x82; /* FIN, binary */
  if (n < 126) {
    hdr[h++] = (uint8_t)(0x80 | n);
  } else if (n < 65536) {
    hdr[h++] = 0x80 | 126;
    hdr[h++] = (uint8_t)(n >> 8);
    hdr[h++] = (uint8_t)n;
  } else {
    hdr[h++] = 0x80 | 127;
    for (int i = 7; i >= 0; i--)
      hdr[h++] = (uint8_t)((uint64_t)n >> (8 * i));
  }
  memcpy(hdr + h, key, 4);
  h += 4;
  uint8_t *masked = malloc(n ? n : 1);
  CHECK(masked != NULL);
  for (size_t i = 0; i < n; i++)
    masked[i] = msg[i] ^ key[i % 4];
  write_all(fd, hdr, h);
  write_all(fd, masked, n);
  free(masked);
}

/* --- observing the server ---------------------------------------------------- */

/* GET /health: the number of open sessions, or -1. */
static long health_sessions(int port) {
  int fd = tcp_connect(port, 0);
  static const char req[] =
      "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  write_all(fd, req, sizeof req - 1);
  char buf[4096];
  size_t len = 0;
  for (;;) {
    struct pollfd pfd = {fd, POLLIN, 0};
    if (poll(&pfd, 1, 5000) != 1) break;
    ssize_t r = read(fd, buf + len, sizeof buf - 1 - len);
    if (r <= 0) break;
    len += (size_t)r;
    if (len == sizeof buf - 1) break;
  }
  close(fd);
  buf[len] = '\0';
  const char *p = strstr(buf, "\"sessions\":");
  return p ? strtol(p + strlen("\"sessions\":"), NULL, 10) : -1;
}

typedef struct log_has {
  const char *path; /* the server's log */
  const char *text; /* what to find */
} log_has;

static int log_has_cond(void *ctx) {
  log_has *l = ctx;
  FILE *fp = fopen(l->path, "r");
  if (fp == NULL) return 0;
  static char line[8192];
  int found = 0;
  while (!found && fgets(line, sizeof line, fp))
    found = strstr(line, l->text) != NULL;
  fclose(fp);
  return found;
}

typedef struct sessions_are {
  int port;  /* the server */
  long want; /* expected count */
} sessions_are;

static int sessions_cond(void *ctx) {
  sessions_are *s = ctx;
  return health_sessions(s->port) == s->want;
}

/* --- the watching node ------------------------------------------------------ */

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

/* Commits a direct SQL write and waits for the watching node to apply it;
** returns the milliseconds it took. */
static int64_t live_write(sync_fx *f, cf_node *reader, const char *value) {
  char sql[256];
  snprintf(sql, sizeof sql,
           "UPDATE contacts SET company = '%s' WHERE id = '" DEMO_CONTACT("06") "'",
           value);
  int64_t t0 = sfx_monotonic_ms();
  sfx_sql(f, sql);
  node_has h = {
      reader,
      "SELECT coalesce(company, '') FROM contacts WHERE id = '" DEMO_CONTACT("06") "'",
      value};
  fx_wait_until(node_has_cond, &h, 10000, "the watching node to get a live update");
  return sfx_monotonic_ms() - t0;
}

CF_TEST(stalled_client_is_dropped_others_keep_live_updates_and_it_resumes_from_cursor) {
  sync_fx f;
  sfx_open(&f, 1);
  sfx_server_stop(&f);
  fx_proc srv;
  int port = fx_serve(&f, &srv, 0, "server");
  snprintf(f.ws_url, sizeof f.ws_url, "ws://127.0.0.1:%d/sync", port);
  char log[4300];
  fx_log_path("server", log, sizeof log);
  char *token = sfx_token(DEMO_REP, 3600);

  /* The healthy node, watching. */
  watcher w;
  memset(&w, 0, sizeof w);
  w.node = sfx_node("healthy", DEMO_ORG, DEMO_REP);
  CHECK_OK(cf_sync_new(w.node, f.ws_url, token, &w.sync));
  CHECK(pthread_create(&w.thread, NULL, watch_main, &w) == 0);
  cf_node *reader = sfx_node("healthy", DEMO_ORG, DEMO_REP);
  printf("live update with no stalled client: %lld ms\n",
         (long long)live_write(&f, reader, "warm-up"));

  /* The stalled client's cursor, then a lot of bulky rows after it. */
  long long cursor = sfx_sql_num(
      &f, "SELECT head_seq FROM cf_sync.org_clock WHERE org_id = '" DEMO_ORG "'");
  CHECK(cursor > 0);
  char sql[1024];
  snprintf(
      sql, sizeof sql,
      "INSERT INTO contacts (org_id, id, first_name, last_name, email, metadata) "
      "SELECT '" DEMO_ORG
      "', ('01936b2a-00b0-7000-8000-' || lpad(to_hex(g), 12, '0'))::uuid, "
      "'bulk', 'n' || g, 'bulk-' || g || '@stall.test', "
      "jsonb_build_object('pad', repeat('x', 2500)) FROM generate_series(1, %d) AS g",
      BULK_ROWS);
  sfx_sql(&f, sql);
  (void)live_write(&f, reader, "after bulk"); /* the healthy node has caught up */

  /* The stalled client: HELLO and eight PULLs of ~4 MiB pages, never read. */
  int fd = tcp_connect(port, 4096);
  ws_upgrade(fd, port);
  cf_hello h;
  cf__hello_init(&h, token, CF_PROTO_MAX, "stalled-client");
  CHECK_OK(cf__node_id_generate(&h.node));
  CHECK_OK(cf__uuid_parse(DEMO_ORG, strlen(DEMO_ORG), &h.org));
  h.cursor = (uint64_t)cursor;
  h.hlc = (cf_hlc)cf__now_ms() << 16;
  cf_buf b;
  cf__buf_init(&b, CF_CODEC_MAX_FRAME);
  CHECK_OK(cf__encode_hello(&h, &b));
  ws_send(fd, (const uint8_t *)b.p, b.len);
  for (int i = 0; i < STALL_PULLS; i++) {
    cf__buf_reset(&b);
    cf_pull p = {(uint64_t)cursor, BULK_ROWS};
    CHECK_OK(cf__encode_pull(&p, &b));
    ws_send(fd, (const uint8_t *)b.p, b.len);
  }
  cf__buf_free(&b);

  /* The healthy node is not held up while the stalled session fills up. */
  int64_t during = live_write(&f, reader, "during stall");
  printf("live update while a client stalls: %lld ms\n", (long long)during);

  /* The transport drops the stalled session when its queue overflows. */
  log_has l = {log, "ws peer too slow"};
  fx_wait_until(log_has_cond, &l, 60000, "the server to drop the stalled client");
  sessions_are one = {port, 1};
  fx_wait_until(sessions_cond, &one, 30000, "only the healthy session to remain");
  int64_t after = live_write(&f, reader, "after drop");
  printf("live update after the drop: %lld ms\n", (long long)after);
  close(fd);

  /* It reconnects and resumes from its cursor: the rows after it, from the
  ** first bulk contact on, and nothing from before. */
  raw_client rc;
  raw_connect_welcomed(&rc, &f, token, DEMO_ORG);
  cf_buf pb;
  cf__buf_init(&pb, 256);
  cf_pull p = {(uint64_t)cursor, 50};
  CHECK_OK(cf__encode_pull(&p, &pb));
  raw_send(&rc, pb.p, pb.len);
  cf__buf_free(&pb);
  cf_frame ch;
  raw_expect_frame(&rc, &ch); /* skips LIVE notices */
  CHECK_MSG(ch.type == CF_FRAME_CHANGES, "expected CHANGES, got %s",
            cf__frame_type_name(ch.type));
  CHECK_EQ(ch.u.changes.nrows, 50);
  CHECK(ch.u.changes.more);
  CHECK(ch.u.changes.last_seq > (uint64_t)cursor);
  for (size_t i = 0; i < ch.u.changes.nrows; i++)
    CHECK_STR(ch.u.changes.rows[i].table->name, "contacts");
  cf__frame_free(&ch);
  raw_free(&rc);

  cf_sync_stop(w.sync);
  pthread_join(w.thread, NULL);
  CHECK_MSG(w.rc == CF_OK, "watch: %s", cf_sync_errmsg(w.sync));
  cf_sync_free(w.sync);
  cf_node_close(w.node);
  cf_node_close(reader);
  CHECK_EQ(fx_term(&srv), 0);
  cf_token_free(token);
  sfx_close(&f);
}
