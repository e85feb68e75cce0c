/*
** tests/unit/test_transport.c: the WebSocket/HTTP transport over real
** sockets on 127.0.0.1 (sync/net/transport.h, docs/transport.md).
**
** Every test drives the server and client loops from this one thread with
** run_once until a condition holds; a condition that does not hold within
** its time cap fails the test.  Nothing sleeps.  Ports are ephemeral.
*/
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cf_test.h"
#include "clientflow.h"
#include "platform/platform.h"
#include "sync/net/transport.h"

/* ---- harness -------------------------------------------------------------- */

/* One client-side connection as the test sees it. */
typedef struct conn {
  cf__ws_session *s; /* NULL once closed */
  int opened;        /* on_open seen */
  int closed;        /* on_close seen */
  int close_rc;      /* its rc */
  int close_code;    /* its code */
  char reason[200];  /* its reason */
  size_t n_msgs;     /* messages received */
  uint8_t *last;     /* copy of the last message */
  size_t last_len;   /* its length */
} conn;

/* What the server side saw. */
typedef struct server_state {
  int echo;                /* echo every message back */
  size_t opened;           /* on_open calls */
  size_t closed;           /* on_close calls */
  cf__ws_session *first;   /* first session opened */
  int first_close_code;    /* its close code, 0 while open */
  char first_reason[200];  /* its close reason */
  size_t deadline_ms;      /* if set, on_open sets a deadline this far */
  int deadlines;           /* on_deadline calls */
  int send_busy;           /* cf__ws_send answered CF_BUSY */
  cf__ws_session *all[32]; /* the first 32 sessions opened, in order */
} server_state;

static server_state sst;

static int srv_on_open(void *ctx, cf__ws_session *s) {
  server_state *st = ctx;
  if (st->opened < 32) st->all[st->opened] = s;
  if (st->opened++ == 0) st->first = s;
  if (st->deadline_ms) cf__ws_set_deadline(s, cf__now_ms() + (int64_t)st->deadline_ms);
  return CF_OK;
}

static void srv_on_message(void *ctx, cf__ws_session *s, const uint8_t *m, size_t n) {
  server_state *st = ctx;
  if (st->echo) {
    int rc = cf__ws_send(s, m, n);
    if (rc == CF_BUSY) st->send_busy++;
  }
}

static void srv_on_close(void *ctx, cf__ws_session *s, int rc, int code,
                         const char *reason) {
  server_state *st = ctx;
  (void)rc;
  st->closed++;
  if (s == st->first) {
    st->first_close_code = code;
    snprintf(st->first_reason, sizeof st->first_reason, "%s", reason);
    st->first = NULL;
  }
}

static void srv_on_deadline(void *ctx, cf__ws_session *s) {
  server_state *st = ctx;
  st->deadlines++;
  cf__ws_close(s, CF_WS_CLOSE_POLICY, "token expired");
}

static int cli_on_open(void *ctx, cf__ws_session *s) {
  conn *c = cf__ws_session_user(s);
  (void)ctx;
  c->opened = 1;
  return CF_OK;
}

static void cli_on_message(void *ctx, cf__ws_session *s, const uint8_t *m, size_t n) {
  conn *c = cf__ws_session_user(s);
  (void)ctx;
  c->n_msgs++;
  free(c->last);
  c->last = malloc(n ? n : 1);
  if (n) memcpy(c->last, m, n);
  c->last_len = n;
}

static void cli_on_close(void *ctx, cf__ws_session *s, int rc, int code,
                         const char *reason) {
  conn *c = cf__ws_session_user(s);
  (void)ctx;
  if (c == NULL) return;
  c->closed = 1;
  c->close_rc = rc;
  c->close_code = code;
  snprintf(c->reason, sizeof c->reason, "%s", reason);
  c->s = NULL;
}

static cf__ws_server *start_server(cf__ws_server_config *cfg) {
  memset(&sst, 0, sizeof sst);
  sst.echo = 1;
  cfg->ws.ctx = &sst;
  cfg->ws.on_open = srv_on_open;
  cfg->ws.on_message = srv_on_message;
  cfg->ws.on_close = srv_on_close;
  cfg->ws.on_deadline = srv_on_deadline;
  cf__ws_server *srv = NULL;
  char err[200] = "";
  int rc = cf__ws_server_new(cfg, &srv, err, sizeof err);
  CHECK_MSG(rc == CF_OK, "server: %s (%s)", cf_strerror(rc), err);
  CHECK(cf__ws_server_port(srv) > 0);
  return srv;
}

static cf__ws_client *start_client(const cf__ws_limits *lim) {
  cf__ws_client_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.ws.on_open = cli_on_open;
  cfg.ws.on_message = cli_on_message;
  cfg.ws.on_close = cli_on_close;
  if (lim != NULL) cfg.limits = *lim;
  cf__ws_client *cli = NULL;
  char err[200] = "";
  int rc = cf__ws_client_new(&cfg, &cli, err, sizeof err);
  CHECK_MSG(rc == CF_OK, "client: %s (%s)", cf_strerror(rc), err);
  return cli;
}

static void connect_conn(cf__ws_client *cli, int port, const char *path, conn *c) {
  char url[128];
  snprintf(url, sizeof url, "ws://127.0.0.1:%d%s", port, path);
  memset(c, 0, sizeof *c);
  CHECK_OK(cf__ws_client_connect(cli, url, &c->s));
  cf__ws_session_set_user(c->s, c);
}

/* Runs both loops until cond(arg) holds; fails the test after max_ms. */
#define PUMP_UNTIL(srv, cli, cond, max_ms)                                               \
  do {                                                                                   \
    int64_t pump_t0_ = cf__monotonic_ns();                                               \
    while (!(cond)) {                                                                    \
      CHECK_MSG(cf__monotonic_ns() - pump_t0_ < (int64_t)(max_ms)*1000000,               \
                "timed out after %d ms waiting for %s", (int)(max_ms), #cond);           \
      if ((srv) != NULL) CHECK_OK(cf__ws_server_run_once((srv), 1));                     \
      if ((cli) != NULL) CHECK_OK(cf__ws_client_run_once((cli), 1));                     \
    }                                                                                    \
  } while (0)

static void fill_pattern(uint8_t *b, size_t n, unsigned k) {
  for (size_t i = 0; i < n; i++)
    b[i] = (uint8_t)(i * 31u + k * 7u + (i >> 8));
}

static int count_opened(const conn *cs, int n) {
  int k = 0;
  for (int i = 0; i < n; i++)
    k += cs[i].opened;
  return k;
}

static int count_with_msgs(const conn *cs, int n, size_t msgs) {
  int k = 0;
  for (int i = 0; i < n; i++)
    k += cs[i].n_msgs == msgs;
  return k;
}

static void free_conns(conn *cs, int n) {
  for (int i = 0; i < n; i++)
    free(cs[i].last);
}

/* ---- raw TCP helpers for HTTP and for a client that never reads ------------ */

static int raw_connect(int port, int rcvbuf) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(fd >= 0);
  if (rcvbuf > 0)
    CHECK(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) == 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK(connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
  CHECK(fcntl(fd, F_SETFL, O_NONBLOCK) == 0);
  return fd;
}

static void raw_write_all(cf__ws_server *srv, int fd, const char *buf, size_t len) {
  size_t off = 0;
  int64_t t0 = cf__monotonic_ns();
  while (off < len) {
    ssize_t n = write(fd, buf + off, len - off);
    if (n > 0)
      off += (size_t)n;
    else
      CHECK(errno == EAGAIN || errno == EWOULDBLOCK);
    CHECK_MSG(cf__monotonic_ns() - t0 < 5000000000LL, "raw write timed out");
    CHECK_OK(cf__ws_server_run_once(srv, 0));
  }
}

/* Case-insensitive strstr (strcasestr is a GNU extension). */
static const char *find_ci(const char *hay, const char *needle) {
  size_t n = strlen(needle);
  for (; *hay; hay++)
    if (strncasecmp(hay, needle, n) == 0) return hay;
  return NULL;
}

/* An HTTP response read from a raw socket. */
typedef struct http_resp {
  char buf[65536];  /* the whole response */
  size_t len;       /* its length */
  int status;       /* status code */
  const char *body; /* into buf */
  size_t body_len;  /* Content-Length */
  int eof;          /* the server closed the connection */
} http_resp;

/* Reads one response (headers and Content-Length body) while serving. */
static void raw_read_response(cf__ws_server *srv, int fd, http_resp *r, int want_eof) {
  memset(r, 0, sizeof *r);
  int64_t t0 = cf__monotonic_ns();
  for (;;) {
    CHECK_MSG(cf__monotonic_ns() - t0 < 5000000000LL, "no HTTP response");
    CHECK_OK(cf__ws_server_run_once(srv, 1));
    ssize_t n = read(fd, r->buf + r->len, sizeof r->buf - 1 - r->len);
    if (n == 0) r->eof = 1;
    if (n > 0) r->len += (size_t)n;
    r->buf[r->len] = '\0';
    char *end = strstr(r->buf, "\r\n\r\n");
    if (end != NULL) {
      const char *cl = find_ci(r->buf, "content-length:");
      size_t want = cl ? strtoul(cl + 15, NULL, 10) : 0;
      if (r->len >= (size_t)(end + 4 - r->buf) + want && (!want_eof || r->eof)) {
        r->status = atoi(r->buf + 9);
        r->body = end + 4;
        r->body_len = want;
        return;
      }
    }
    if (r->eof && end == NULL) cf_test_fail(__FILE__, __LINE__, "closed early");
  }
}

/* ---- WebSocket tests ---------------------------------------------------------- */

CF_TEST(test_transport_echo_round_trips_binary_messages_of_many_sizes) {
  static const size_t sizes[] = {0,     1,     125,   126,    127,     4096,
                                 65535, 65536, 65537, 200000, 1 << 20, (3 << 20) + 17};
  cf__ws_server_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cf__ws_server *srv = start_server(&cfg);
  cf__ws_client *cli = start_client(NULL);
  conn c;
  connect_conn(cli, cf__ws_server_port(srv), "", &c);
  PUMP_UNTIL(srv, cli, c.opened, 5000);
  CHECK(strncmp(cf__ws_session_peer(c.s), "127.0.0.1:", 10) == 0);
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    size_t n = sizes[i];
    uint8_t *msg = malloc(n ? n : 1);
    fill_pattern(msg, n, (unsigned)i);
    CHECK_OK(cf__ws_send(c.s, msg, n));
    size_t want = i + 1;
    PUMP_UNTIL(srv, cli, c.n_msgs == want, 10000);
    CHECK_EQ(c.last_len, n);
    CHECK(n == 0 || memcmp(c.last, msg, n) == 0);
    free(msg);
  }
  CHECK_EQ(sst.opened, 1);
  cf__ws_close(c.s, CF_WS_CLOSE_NORMAL, "bye");
  PUMP_UNTIL(srv, cli, c.closed && sst.closed == 1, 5000);
  CHECK_EQ(c.close_code, CF_WS_CLOSE_NORMAL);
  CHECK_STR(c.reason, "bye");
  CHECK_EQ(sst.first_close_code, CF_WS_CLOSE_NORMAL);
  CHECK_STR(sst.first_reason, "bye");
  cf__ws_client_free(cli);
  cf__ws_server_free(srv);
  free_conns(&c, 1);
}

CF_TEST(test_transport_oversized_message_closes_only_that_session_with_1009) {
  cf__ws_server_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.limits.max_message = 64 << 10;
  cf__ws_server *srv = start_server(&cfg);
  cf__ws_client *cli = start_client(NULL);
  conn c[2];
  connect_conn(cli, cf__ws_server_port(srv), "/sync", &c[0]);
  PUMP_UNTIL(srv, cli, c[0].opened, 5000);
  connect_conn(cli, cf__ws_server_port(srv), "/sync", &c[1]);
  PUMP_UNTIL(srv, cli, c[1].opened, 5000);
  size_t big = (100 << 10);
  uint8_t *msg = malloc(big);
  fill_pattern(msg, big, 3);
  CHECK_OK(cf__ws_send(c[0].s, msg, big));
  PUMP_UNTIL(srv, cli, c[0].closed, 5000);
  CHECK_EQ(c[0].close_rc, CF_OK);
  CHECK_EQ(c[0].close_code, CF_WS_CLOSE_TOO_BIG);
  CHECK(strstr(c[0].reason, "larger than 65536") != NULL);
  CHECK_EQ(c[0].n_msgs, 0);
  PUMP_UNTIL(srv, cli, sst.closed == 1, 5000);
  CHECK_EQ(sst.first_close_code, CF_WS_CLOSE_TOO_BIG);
  /* the other session carries on, up to the limit exactly */
  for (unsigned k = 0; k < 10; k++) {
    size_t n = k == 9 ? (64 << 10) : 1000 * (k + 1);
    fill_pattern(msg, n, k);
    CHECK_OK(cf__ws_send(c[1].s, msg, n));
    PUMP_UNTIL(srv, cli, c[1].n_msgs == k + 1, 5000);
    CHECK_EQ(c[1].last_len, n);
    CHECK(memcmp(c[1].last, msg, n) == 0);
  }
  CHECK(!c[1].closed);
  CHECK_EQ(cf__ws_server_session_count(srv), 1);
  free(msg);
  cf__ws_client_free(cli);
  CHECK(c[1].closed); /* freeing the client closes its sessions */
  cf__ws_server_free(srv);
  free_conns(c, 2);
}

CF_TEST(test_transport_two_hundred_fifty_clients_each_get_their_own_echo) {
  enum { N = 250 };
  cf__ws_server_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cf__ws_server *srv = start_server(&cfg);
  cf__ws_client *cli = start_client(NULL);
  static conn c[N];
  int port = cf__ws_server_port(srv);
  for (int i = 0; i < N; i++)
    connect_conn(cli, port, "/sync", &c[i]);
  PUMP_UNTIL(srv, cli, count_opened(c, N) == N, 20000);
  CHECK_EQ(cf__ws_server_session_count(srv), N);
  uint8_t msg[4096];
  for (int i = 0; i < N; i++) {
    fill_pattern(msg, sizeof msg, (unsigned)i);
    memcpy(msg, &i, sizeof i);
    CHECK_OK(cf__ws_send(c[i].s, msg, sizeof msg));
  }
  PUMP_UNTIL(srv, cli, count_with_msgs(c, N, 1) == N, 20000);
  for (int i = 0; i < N; i++) {
    fill_pattern(msg, sizeof msg, (unsigned)i);
    memcpy(msg, &i, sizeof i);
    CHECK_EQ(c[i].last_len, sizeof msg);
    CHECK_MSG(memcmp(c[i].last, msg, sizeof msg) == 0, "client %d got another's echo", i);
  }
  cf__ws_client_free(cli);
  PUMP_UNTIL(srv, (cf__ws_client *)NULL, cf__ws_server_session_count(srv) == 0, 10000);
  CHECK_EQ(sst.closed, N);
  cf__ws_server_free(srv);
  free_conns(c, N);
}

CF_TEST(test_transport_stalled_client_is_dropped_while_another_continues) {
  cf__ws_server_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.limits.max_queue_bytes = 256 << 10;
  cfg.limits.close_timeout_ms = 200;
  cf__ws_server *srv = start_server(&cfg);
  int port = cf__ws_server_port(srv);
  /* a WebSocket client that completes the upgrade and then never reads */
  int raw = raw_connect(port, 4096);
  static const char upgrade[] =
      "GET /sync HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: clientflow.sync.v1\r\n\r\n";
  raw_write_all(srv, raw, upgrade, sizeof upgrade - 1);
  PUMP_UNTIL(srv, (cf__ws_client *)NULL, sst.opened == 1, 5000);
  cf__ws_session *stalled = sst.first;
  CHECK(stalled != NULL);
  cf__ws_client *cli = start_client(NULL);
  conn good;
  connect_conn(cli, port, "/sync", &good);
  PUMP_UNTIL(srv, cli, good.opened, 5000);

  uint8_t chunk[16 << 10];
  fill_pattern(chunk, sizeof chunk, 1);
  int busy = 0;
  size_t pushed = 0, echoes = 0;
  int64_t t0 = cf__monotonic_ns();
  while (sst.first_close_code == 0) {
    CHECK_MSG(cf__monotonic_ns() - t0 < 20000000000LL, "stalled client never dropped");
    if (sst.first != NULL && !busy) {
      int rc = cf__ws_send(stalled, chunk, sizeof chunk);
      if (rc == CF_BUSY) {
        busy = 1;
        CHECK(cf__ws_session_queued_bytes(stalled) <= (256u << 10));
      } else if (rc == CF_OK) {
        pushed += sizeof chunk;
      }
    }
    /* the good client keeps talking meanwhile */
    if (good.n_msgs == echoes) {
      CHECK_OK(cf__ws_send(good.s, chunk, 1000));
      echoes++;
    }
    CHECK_OK(cf__ws_server_run_once(srv, 0));
    CHECK_OK(cf__ws_client_run_once(cli, 0));
  }
  CHECK(busy);
  CHECK_EQ(sst.first_close_code, CF_WS_CLOSE_TRY_LATER);
  CHECK(strstr(sst.first_reason, "too slow") != NULL);
  size_t before = good.n_msgs;
  for (unsigned k = 0; k < 20; k++) {
    CHECK_OK(cf__ws_send(good.s, chunk, sizeof chunk));
    PUMP_UNTIL(srv, cli, good.n_msgs == before + k + 1, 5000);
  }
  CHECK(!good.closed);
  CHECK_EQ(cf__ws_server_session_count(srv), 1);
  printf("stalled client dropped after %zu bytes queued; good client did %zu echoes "
         "meanwhile\n",
         pushed, echoes);
  close(raw);
  cf__ws_client_free(cli);
  cf__ws_server_free(srv);
  free_conns(&good, 1);
}

CF_TEST(test_transport_client_reports_unreachable_server_on_closed_port) {
  /* find a port nobody listens on: bind, read it, close */
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  socklen_t alen = sizeof a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
  CHECK(getsockname(fd, (struct sockaddr *)&a, &alen) == 0);
  int port = ntohs(a.sin_port);
  close(fd);
  cf__ws_client *cli = start_client(NULL);
  char url[64];
  snprintf(url, sizeof url, "ws://127.0.0.1:%d/sync", port);
  conn c;
  memset(&c, 0, sizeof c);
  int rc = cf__ws_client_connect(cli, url, &c.s);
  if (rc == CF_OK) {
    cf__ws_session_set_user(c.s, &c);
    PUMP_UNTIL((cf__ws_server *)NULL, cli, c.closed, 10000);
    CHECK_EQ(c.close_rc, CF_UNREACHABLE);
    CHECK(strstr(c.reason, "server unreachable") != NULL);
    CHECK(!c.opened);
  } else {
    CHECK_EQ(rc, CF_UNREACHABLE);
    CHECK(c.s == NULL);
  }
  CHECK_EQ(cf__ws_client_session_count(cli), 0);
  /* malformed URLs are refused up front */
  cf__ws_session *s = NULL;
  CHECK_EQ(cf__ws_client_connect(cli, "http://127.0.0.1:1/sync", &s), CF_INVALID);
  CHECK_EQ(cf__ws_client_connect(cli, "ws://127.0.0.1:99999/sync", &s), CF_INVALID);
  CHECK_EQ(cf__ws_client_connect(cli, "ws:///sync", &s), CF_INVALID);
  CHECK_EQ(cf__ws_client_connect(cli, "ws://h/a b", &s), CF_INVALID);
  CHECK(s == NULL);
  cf__ws_client_free(cli);
}

CF_TEST(test_transport_upgrade_on_other_path_is_refused) {
  cf__ws_server_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cf__ws_server *srv = start_server(&cfg);
  cf__ws_client *cli = start_client(NULL);
  conn c;
  connect_conn(cli, cf__ws_server_port(srv), "/elsewhere", &c);
  PUMP_UNTIL(srv, cli, c.closed, 5000);
  CHECK(!c.opened);
  CHECK_MSG(c.close_rc == CF_PROTOCOL, "rc %d reason %s", c.close_rc, c.reason);
  CHECK(strstr(c.reason, "refused") != NULL);
  CHECK_EQ(sst.opened, 0);
  cf__ws_client_free(cli);
  cf__ws_server_free(srv);
  free_conns(&c, 1);
}

CF_TEST(test_transport_deadline_fires_and_closes_the_session) {
  cf__ws_server_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cf__ws_server *srv = start_server(&cfg);
  sst.deadline_ms = 50;
  cf__ws_client *cli = start_client(NULL);
  conn c;
  int64_t t0 = cf__monotonic_ns();
  connect_conn(cli, cf__ws_server_port(srv), "/sync", &c);
  PUMP_UNTIL(srv, cli, c.closed, 5000);
  int64_t took_ms = (cf__monotonic_ns() - t0) / 1000000;
  CHECK(c.opened);
  CHECK_EQ(sst.deadlines, 1);
  CHECK_EQ(c.close_code, CF_WS_CLOSE_POLICY);
  CHECK_STR(c.reason, "token expired");
  CHECK_MSG(took_ms >= 45, "deadline fired early: %lld ms", (long long)took_ms);
  cf__ws_client_free(cli);
  cf__ws_server_free(srv);
  free_conns(&c, 1);
}

static int count_closed(const conn *c, int n) {
  int k = 0;
  for (int i = 0; i < n; i++)
    k += c[i].closed;
  return k;
}

/* The deadlines of many sessions share one heap: each fires once, at its
** own time, and a moved or cleared one follows the move. */
CF_TEST(test_transport_deadlines_of_many_sessions_fire_once_each_and_follow_moves) {
  enum { N = 20 };
  cf__ws_server_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cf__ws_server *srv = start_server(&cfg);
  cf__ws_client *cli = start_client(NULL);
  conn c[N];
  for (int i = 0; i < N; i++) {
    connect_conn(cli, cf__ws_server_port(srv), "/sync", &c[i]);
    PUMP_UNTIL(srv, cli, c[i].opened && sst.opened == (size_t)i + 1, 5000);
  }
  int64_t now = cf__now_ms();
  for (int i = 0; i < N; i++) /* far away, set in an order that is not sorted */
    cf__ws_set_deadline(sst.all[(i * 7) % N], now + 60000 + (i % 5) * 1000);
  for (int i = 0; i < N; i += 2) /* the even ones move close */
    cf__ws_set_deadline(sst.all[i], now + 20 + i);
  cf__ws_set_deadline(sst.all[0], 0); /* two of them are cleared again */
  cf__ws_set_deadline(sst.all[2], 0);
  PUMP_UNTIL(srv, cli, sst.deadlines == N / 2 - 2 && count_closed(c, N) == N / 2 - 2,
             5000);
  for (int i = 0; i < N; i++)
    CHECK_MSG(c[i].closed == (i % 2 == 0 && i > 2), "session %d closed=%d", i,
              c[i].closed);
  /* one more, moved close late: it fires alone (the far ones do not) */
  cf__ws_set_deadline(sst.all[1], cf__now_ms() + 10);
  PUMP_UNTIL(srv, cli, c[1].closed, 5000);
  CHECK_EQ(sst.deadlines, N / 2 - 1);
  CHECK(!c[0].closed && !c[2].closed && !c[3].closed);
  cf__ws_client_free(cli);
  cf__ws_server_free(srv);
  free_conns(c, N);
}

CF_TEST(test_transport_server_stop_sends_queued_messages_then_closes_1001) {
  cf__ws_server_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cf__ws_server *srv = start_server(&cfg);
  cf__ws_client *cli = start_client(NULL);
  conn c[3];
  for (int i = 0; i < 3; i++) {
    connect_conn(cli, cf__ws_server_port(srv), "/sync", &c[i]);
    PUMP_UNTIL(srv, cli, c[i].opened && sst.opened == (size_t)i + 1, 5000);
  }
  /* a large message in flight when the stop comes */
  size_t n = 2 << 20;
  uint8_t *msg = malloc(n);
  fill_pattern(msg, n, 9);
  CHECK_OK(cf__ws_send(sst.first, msg, n));
  cf__ws_server_stop(srv);
  PUMP_UNTIL(srv, cli,
             c[0].closed && c[1].closed && c[2].closed && cf__ws_server_stopped(srv),
             10000);
  CHECK_EQ(c[0].n_msgs, 1);
  CHECK_EQ(c[0].last_len, n);
  CHECK(memcmp(c[0].last, msg, n) == 0);
  for (int i = 0; i < 3; i++) {
    CHECK_EQ(c[i].close_code, CF_WS_CLOSE_GOING_AWAY);
    CHECK_STR(c[i].reason, "server shutting down");
  }
  CHECK_EQ(sst.closed, 3);
  CHECK_EQ(cf__ws_server_session_count(srv), 0);
  /* once freed, nothing listens any more */
  int port = cf__ws_server_port(srv);
  cf__ws_server_free(srv);
  conn late;
  connect_conn(cli, port, "/sync", &late);
  PUMP_UNTIL((cf__ws_server *)NULL, cli, late.closed, 5000);
  CHECK(!late.opened);
  CHECK_EQ(late.close_rc, CF_UNREACHABLE);
  free(msg);
  cf__ws_client_free(cli);
  free_conns(c, 3);
  free_conns(&late, 1);
}

static void *stop_from_thread(void *arg) {
  cf__ws_server_stop(arg);
  return NULL;
}

CF_TEST(test_transport_stop_from_another_thread_ends_run) {
  cf__ws_server_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cf__ws_server *srv = start_server(&cfg);
  pthread_t t;
  CHECK(pthread_create(&t, NULL, stop_from_thread, srv) == 0);
  CHECK_OK(cf__ws_server_run(srv));
  CHECK(cf__ws_server_stopped(srv));
  pthread_join(t, NULL);
  cf__ws_server_free(srv);
}

static const char upgrade_req[] =
    "GET /sync HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: clientflow.sync.v1\r\n\r\n";

CF_TEST(test_transport_upgrade_without_subprotocol_gets_400) {
  cf__ws_server_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cf__ws_server *srv = start_server(&cfg);
  int fd = raw_connect(cf__ws_server_port(srv), 0);
  static const char req[] =
      "GET /sync HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Version: 13\r\n\r\n";
  raw_write_all(srv, fd, req, sizeof req - 1);
  http_resp *r = malloc(sizeof *r);
  raw_read_response(srv, fd, r, 0);
  CHECK_EQ(r->status, 400);
  CHECK_EQ(sst.opened, 0);
  free(r);
  close(fd);
  cf__ws_server_free(srv);
}

/* Reads at least n bytes from a raw socket while serving. */
static size_t raw_read_at_least(cf__ws_server *srv, int fd, uint8_t *buf, size_t cap,
                                size_t n) {
  size_t got = 0;
  int64_t t0 = cf__monotonic_ns();
  while (got < n) {
    CHECK_MSG(cf__monotonic_ns() - t0 < 5000000000LL, "raw read timed out");
    CHECK_OK(cf__ws_server_run_once(srv, 1));
    ssize_t k = read(fd, buf + got, cap - got);
    if (k > 0) got += (size_t)k;
    CHECK(k != 0 || got >= n);
  }
  return got;
}

CF_TEST(test_transport_text_message_closes_with_1003) {
  cf__ws_server_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cf__ws_server *srv = start_server(&cfg);
  int fd = raw_connect(cf__ws_server_port(srv), 0);
  raw_write_all(srv, fd, upgrade_req, sizeof upgrade_req - 1);
  uint8_t buf[1024];
  size_t got = 0;
  char *end = NULL;
  while (end == NULL) {
    got += raw_read_at_least(srv, fd, buf + got, sizeof buf - 1 - got, 1);
    buf[got] = 0;
    end = strstr((char *)buf, "\r\n\r\n");
  }
  CHECK(strncmp((char *)buf, "HTTP/1.1 101", 12) == 0);
  size_t frame_at = (size_t)(end + 4 - (char *)buf);
  /* a masked text frame "hi" */
  const uint8_t frame[] = {0x81, 0x82, 1, 2, 3, 4, 'h' ^ 1, 'i' ^ 2};
  raw_write_all(srv, fd, (const char *)frame, sizeof frame);
  if (got < frame_at + 4)
    got += raw_read_at_least(srv, fd, buf + got, sizeof buf - got, frame_at + 4 - got);
  CHECK_EQ(buf[frame_at], 0x88); /* a close frame */
  CHECK_EQ(buf[frame_at + 2] << 8 | buf[frame_at + 3], CF_WS_CLOSE_UNSUPPORTED);
  close(fd);
  PUMP_UNTIL(srv, (cf__ws_client *)NULL, sst.closed == 1, 5000);
  CHECK_EQ(sst.first_close_code, CF_WS_CLOSE_UNSUPPORTED);
  cf__ws_server_free(srv);
}

typedef struct drain_state {
  int drains; /* on_drain calls */
} drain_state;

static drain_state dst;

static void cli_on_drain(void *ctx, cf__ws_session *s) {
  (void)ctx;
  (void)s;
  dst.drains++;
}

CF_TEST(test_transport_full_queue_answers_busy_then_drains) {
  cf__ws_server_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cf__ws_server *srv = start_server(&cfg);
  cf__ws_client_config ccfg;
  memset(&ccfg, 0, sizeof ccfg);
  ccfg.ws.on_open = cli_on_open;
  ccfg.ws.on_message = cli_on_message;
  ccfg.ws.on_close = cli_on_close;
  ccfg.ws.on_drain = cli_on_drain;
  ccfg.limits.max_queue_messages = 2;
  ccfg.limits.max_queue_bytes = 10000;
  ccfg.limits.keep_when_full = 1;
  cf__ws_client *cli = NULL;
  CHECK_OK(cf__ws_client_new(&ccfg, &cli, NULL, 0));
  memset(&dst, 0, sizeof dst);
  conn c;
  connect_conn(cli, cf__ws_server_port(srv), "/sync", &c);
  PUMP_UNTIL(srv, cli, c.opened, 5000);
  uint8_t m[6000];
  fill_pattern(m, sizeof m, 5);
  CHECK_OK(cf__ws_send(c.s, m, 10));
  CHECK_OK(cf__ws_send(c.s, m, 20));
  CHECK_EQ(cf__ws_session_queued_messages(c.s), 2);
  CHECK_EQ(cf__ws_send(c.s, m, 30), CF_BUSY);    /* too many messages */
  CHECK_EQ(cf__ws_send(c.s, m, 20000), CF_BUSY); /* bytes */
  PUMP_UNTIL(srv, cli, dst.drains == 1 && c.n_msgs == 2, 5000);
  CHECK(cf__ws_session_is_open(c.s)); /* keep_when_full: not dropped */
  CHECK_EQ(cf__ws_session_queued_bytes(c.s), 0);
  CHECK_OK(cf__ws_send(c.s, m, sizeof m));
  PUMP_UNTIL(srv, cli, c.n_msgs == 3, 5000);
  CHECK_EQ(c.last_len, sizeof m);
  /* over max_message is refused without touching the queue */
  uint8_t *huge = malloc((4 << 20) + 1);
  CHECK_EQ(cf__ws_send(c.s, huge, (4 << 20) + 1), CF_TOOBIG);
  free(huge);
  /* out of memory while queueing: reported, the session lives on */
  cf__alloc_fail_at(1);
  int rc = cf__ws_send(c.s, m, 100);
  cf__alloc_fail_at(0);
  CHECK_EQ(rc, CF_NOMEM);
  CHECK_OK(cf__ws_send(c.s, m, 100));
  PUMP_UNTIL(srv, cli, c.n_msgs == 4, 5000);
  cf__ws_client_free(cli);
  cf__ws_server_free(srv);
  free_conns(&c, 1);
}

static int refuse_open(void *ctx, cf__ws_session *s) {
  (void)ctx;
  (void)s;
  return CF_PERMISSION;
}

CF_TEST(test_transport_refused_on_open_closes_with_1008) {
  cf__ws_server_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cf__ws_server *srv = start_server(&cfg);
  cf__ws_server_free(srv);
  cfg.ws.on_open = refuse_open; /* start_server set the others */
  srv = NULL;
  CHECK_OK(cf__ws_server_new(&cfg, &srv, NULL, 0));
  cf__ws_client *cli = start_client(NULL);
  conn c;
  connect_conn(cli, cf__ws_server_port(srv), "/sync", &c);
  PUMP_UNTIL(srv, cli, c.closed, 5000);
  CHECK_EQ(c.close_code, CF_WS_CLOSE_POLICY);
  CHECK_STR(c.reason, "refused");
  PUMP_UNTIL(srv, cli, sst.closed == 1, 5000); /* on_close follows a refusal */
  cf__ws_client_free(cli);
  cf__ws_server_free(srv);
  free_conns(&c, 1);
}

/*
** libwebsockets 4.1.6 keeps its OpenSSL ex_data indexes in globals that every
** TLS-enabled context re-allocates, so when two such contexts live in one
** process the earlier one cannot find (and leaks) its client SSL_CTX when it
** is destroyed (docs/transport.md).  The wss test has two: ignore OpenSSL's
** allocations in leak reports of this executable.
*/
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) {
  return "leak:libcrypto.so\nleak:libssl.so\n";
}

CF_TEST(test_transport_wss_echo_verifies_the_server_certificate) {
  char cmd[4096], cert[1024], key[1024];
  const char *dir = cf_test_tmpdir();
  snprintf(cert, sizeof cert, "%s/cert.pem", dir);
  snprintf(key, sizeof key, "%s/key.pem", dir);
  snprintf(cmd, sizeof cmd,
           "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
           "-nodes -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 "
           "-keyout %s -out %s 2>/dev/null",
           key, cert);
  CHECK_MSG(system(cmd) == 0, "openssl could not make a test certificate");
  cf__ws_server_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.tls_cert_path = cert;
  cfg.tls_key_path = key;
  cf__ws_server *srv = start_server(&cfg);
  cf__ws_client_config ccfg;
  memset(&ccfg, 0, sizeof ccfg);
  ccfg.ws.on_open = cli_on_open;
  ccfg.ws.on_message = cli_on_message;
  ccfg.ws.on_close = cli_on_close;
  ccfg.tls_ca_path = cert; /* trust exactly the test certificate */
  cf__ws_client *cli = NULL;
  CHECK_OK(cf__ws_client_new(&ccfg, &cli, NULL, 0));
  char url[64];
  snprintf(url, sizeof url, "wss://127.0.0.1:%d/sync", cf__ws_server_port(srv));
  conn c;
  memset(&c, 0, sizeof c);
  CHECK_OK(cf__ws_client_connect(cli, url, &c.s));
  cf__ws_session_set_user(c.s, &c);
  PUMP_UNTIL(srv, cli, c.opened || c.closed, 5000);
  CHECK_MSG(c.opened, "wss refused: %s", c.reason);
  size_t n = 300000;
  uint8_t *m = malloc(n);
  fill_pattern(m, n, 11);
  CHECK_OK(cf__ws_send(c.s, m, n));
  PUMP_UNTIL(srv, cli, c.n_msgs == 1, 5000);
  CHECK_EQ(c.last_len, n);
  CHECK(memcmp(c.last, m, n) == 0);
  free(m);
  cf__ws_client_free(cli);
  free_conns(&c, 1);
  /* a client trusting only the system's CAs refuses the self-signed one */
  memset(&ccfg, 0, sizeof ccfg);
  ccfg.ws.on_open = cli_on_open;
  ccfg.ws.on_close = cli_on_close;
  ccfg.tls = 1;
  CHECK_OK(cf__ws_client_new(&ccfg, &cli, NULL, 0));
  memset(&c, 0, sizeof c);
  int rc = cf__ws_client_connect(cli, url, &c.s);
  if (rc == CF_OK) {
    cf__ws_session_set_user(c.s, &c);
    PUMP_UNTIL(srv, cli, c.closed, 5000);
    CHECK(!c.opened);
    CHECK(c.close_rc != CF_OK);
  }
  cf__ws_client_free(cli);
  /* and a client made without tls says so */
  cli = start_client(NULL);
  CHECK_EQ(cf__ws_client_connect(cli, url, &c.s), CF_CONFIG);
  cf__ws_client_free(cli);
  cf__ws_server_free(srv);
}

CF_TEST(test_transport_out_of_memory_fails_cleanly_and_server_survives) {
  /* constructors: every failing allocation gives CF_NOMEM and no handle */
  cf__ws_server_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cf__ws_server *srv = NULL;
  int rc = CF_NOMEM;
  for (uint64_t n = 1; rc == CF_NOMEM; n++) {
    cf__alloc_fail_at(n);
    rc = cf__ws_server_new(&cfg, &srv, NULL, 0);
    cf__alloc_fail_at(0);
    CHECK(rc == CF_OK || srv == NULL);
  }
  CHECK_OK(rc);
  cf__ws_server_free(srv);
  srv = start_server(&cfg);
  cf__ws_client *cli = NULL;
  rc = CF_NOMEM;
  for (uint64_t n = 1; rc == CF_NOMEM; n++) {
    cf__alloc_fail_at(n);
    rc = cf__ws_client_new(&(cf__ws_client_config){0}, &cli, NULL, 0);
    cf__alloc_fail_at(0);
    CHECK(rc == CF_OK || cli == NULL);
  }
  CHECK_OK(rc);
  cf__ws_client_free(cli);
  cli = start_client(NULL);
  char url[64];
  snprintf(url, sizeof url, "ws://127.0.0.1:%d/sync", cf__ws_server_port(srv));
  cf__ws_session *s = NULL;
  cf__alloc_fail_at(1);
  rc = cf__ws_client_connect(cli, url, &s);
  cf__alloc_fail_at(0);
  CHECK_EQ(rc, CF_NOMEM);
  CHECK(s == NULL);
  /* the server cannot allocate the session: that connection fails alone */
  conn c[2];
  connect_conn(cli, cf__ws_server_port(srv), "/sync", &c[0]);
  cf__alloc_fail_at(1);
  PUMP_UNTIL(srv, cli, c[0].closed, 5000);
  cf__alloc_fail_at(0);
  CHECK_EQ(sst.opened, 0);
  connect_conn(cli, cf__ws_server_port(srv), "/sync", &c[1]);
  PUMP_UNTIL(srv, cli, c[1].opened, 5000);
  CHECK_OK(cf__ws_send(c[1].s, "ping", 4));
  PUMP_UNTIL(srv, cli, c[1].n_msgs == 1, 5000);
  /* a server session with nothing queued writes at once, without
  ** allocating: out of memory does not stop it (the queue's own
  ** out-of-memory path is checked on a client session, which always
  ** queues, in test_transport_full_queue_answers_busy_then_drains) */
  cf__ws_session *srv_side = sst.first;
  cf__alloc_fail_at(1);
  rc = cf__ws_send(srv_side, "x", 1);
  cf__alloc_fail_at(0);
  CHECK_OK(rc);
  PUMP_UNTIL(srv, cli, c[1].n_msgs == 2, 5000);
  cf__ws_client_free(cli);
  cf__ws_server_free(srv);
  free_conns(c, 2);
}

/* ---- watched fds and posts ------------------------------------------------------ */

typedef struct watch_state {
  int fd;         /* read end of the pipe */
  int calls;      /* on_readable calls */
  int posted;     /* posted function ran */
  pthread_t loop; /* the loop thread */
  int on_loop;    /* posted function ran on the loop thread */
} watch_state;

static void on_pipe_readable(void *ctx) {
  watch_state *w = ctx;
  char b[16];
  while (read(w->fd, b, sizeof b) > 0) {
  }
  w->calls++;
}

static void posted_fn(void *arg) {
  watch_state *w = arg;
  w->posted++;
  w->on_loop = pthread_equal(pthread_self(), w->loop);
}

static void *post_from_thread(void *arg) {
  void **a = arg;
  (void)cf__ws_server_post(a[0], posted_fn, a[1]);
  return NULL;
}

CF_TEST(test_transport_watched_fd_and_posted_function_run_on_loop) {
  cf__ws_server_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cf__ws_server *srv = start_server(&cfg);
  int p[2];
  CHECK(pipe(p) == 0);
  CHECK(fcntl(p[0], F_SETFL, O_NONBLOCK) == 0);
  watch_state w;
  memset(&w, 0, sizeof w);
  w.fd = p[0];
  w.loop = pthread_self();
  cf__ws_watch *wt = NULL;
  CHECK_OK(cf__ws_watch_fd(srv, p[0], on_pipe_readable, &w, &wt));
  CHECK(write(p[1], "x", 1) == 1);
  PUMP_UNTIL(srv, (cf__ws_client *)NULL, w.calls == 1, 5000);
  CHECK(write(p[1], "y", 1) == 1);
  PUMP_UNTIL(srv, (cf__ws_client *)NULL, w.calls == 2, 5000);
  cf__ws_unwatch(wt);
  CHECK(write(p[1], "z", 1) == 1);
  for (int i = 0; i < 20; i++)
    CHECK_OK(cf__ws_server_run_once(srv, 1));
  CHECK_EQ(w.calls, 2);
  /* the caller still owns its fd */
  char b;
  CHECK(read(p[0], &b, 1) == 1 && b == 'z');
  pthread_t t;
  void *args[2] = {srv, &w};
  CHECK(pthread_create(&t, NULL, post_from_thread, args) == 0);
  PUMP_UNTIL(srv, (cf__ws_client *)NULL, w.posted == 1, 5000);
  pthread_join(t, NULL);
  CHECK(w.on_loop);
  /* a client loop takes posts too */
  cf__ws_client *cli = start_client(NULL);
  CHECK_OK(cf__ws_client_post(cli, posted_fn, &w));
  PUMP_UNTIL((cf__ws_server *)NULL, cli, w.posted == 2, 5000);
  cf__ws_client_free(cli);
  cf__ws_server_free(srv);
  close(p[0]);
  close(p[1]);
}

/* ---- HTTP ----------------------------------------------------------------------- */

typedef struct http_state {
  int calls;            /* on_http calls */
  int cancels;          /* on_http_cancel calls */
  char method[16];      /* last request's method */
  char path[64];        /* its path */
  char query[128];      /* its query string */
  char x[32];           /* its x parameter */
  char auth[64];        /* its Authorization */
  char user_id[64];     /* its x-user-id */
  size_t body_len;      /* its body length */
  cf__ws_http *pending; /* a request left for later */
} http_state;

static http_state hst;

static void on_http(void *ctx, cf__ws_http *req) {
  http_state *h = ctx;
  h->calls++;
  const char *v;
  snprintf(h->method, sizeof h->method, "%s", cf__ws_http_method(req));
  snprintf(h->path, sizeof h->path, "%s", cf__ws_http_path(req));
  snprintf(h->query, sizeof h->query, "%s", cf__ws_http_query(req));
  v = cf__ws_http_query_param(req, "x");
  snprintf(h->x, sizeof h->x, "%s", v ? v : "(none)");
  v = cf__ws_http_header_value(req, CF_WS_HDR_AUTHORIZATION);
  snprintf(h->auth, sizeof h->auth, "%s", v ? v : "(none)");
  v = cf__ws_http_header_value(req, CF_WS_HDR_USER_ID);
  snprintf(h->user_id, sizeof h->user_id, "%s", v ? v : "(none)");
  (void)cf__ws_http_body(req, &h->body_len);
  if (strcmp(h->path, "/health") == 0) {
    CHECK_OK(
        cf__ws_http_respond(req, 200, "application/json", "{\"status\":\"ok\"}", 15));
  } else if (strcmp(h->path, "/later") == 0) {
    h->pending = req; /* answered by the test, outside the callback */
  } else if (strcmp(cf__ws_http_method(req), "GET") != 0) {
    CHECK_OK(cf__ws_http_add_header(req, "Allow", "GET"));
    CHECK_OK(cf__ws_http_respond(req, 405, "application/json",
                                 "{\"error\":\"method not allowed\"}", 30));
  } else {
    CHECK_OK(cf__ws_http_respond(req, 404, "application/json", "{}", 2));
  }
}

static void on_http_cancel(void *ctx, cf__ws_http *req) {
  http_state *h = ctx;
  h->cancels++;
  if (h->pending == req) h->pending = NULL;
}

static cf__ws_server *start_http_server(size_t max_body, unsigned timeout_ms) {
  memset(&hst, 0, sizeof hst);
  cf__ws_server_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.http.ctx = &hst;
  cfg.http.on_http = on_http;
  cfg.http.on_http_cancel = on_http_cancel;
  cfg.max_http_body = max_body;
  cfg.http_timeout_ms = timeout_ms;
  return start_server(&cfg);
}

CF_TEST(test_transport_http_health_is_answered_by_the_hook) {
  cf__ws_server *srv = start_http_server(0, 0);
  int fd = raw_connect(cf__ws_server_port(srv), 0);
  static const char req[] = "GET /health?x=a%20b&y=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                            "Authorization: Bearer abc.def\r\nX-User-Id: u-1\r\n\r\n";
  raw_write_all(srv, fd, req, sizeof req - 1);
  http_resp r;
  raw_read_response(srv, fd, &r, 0);
  CHECK_EQ(r.status, 200);
  CHECK_EQ(r.body_len, 15);
  CHECK(memcmp(r.body, "{\"status\":\"ok\"}", 15) == 0);
  CHECK(find_ci(r.buf, "content-type: application/json") != NULL);
  CHECK_EQ(hst.calls, 1);
  CHECK_STR(hst.method, "GET");
  CHECK_STR(hst.path, "/health");
  CHECK_STR(hst.x, "a b");
  CHECK_STR(hst.query, "x=a%20b&y=1");
  CHECK_STR(hst.auth, "Bearer abc.def");
  CHECK_STR(hst.user_id, "u-1");
  /* same connection (keep-alive): a POST with a body, answered 405 */
  static const char post[] = "POST /api/crm/contacts HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                             "Content-Length: 11\r\n\r\nhello world";
  raw_write_all(srv, fd, post, sizeof post - 1);
  raw_read_response(srv, fd, &r, 0);
  CHECK_EQ(r.status, 405);
  CHECK(find_ci(r.buf, "allow: GET") != NULL);
  CHECK_EQ(hst.calls, 2);
  CHECK_STR(hst.method, "POST");
  CHECK_EQ(hst.body_len, 11);
  CHECK_STR(hst.user_id, "(none)");
  close(fd);
  cf__ws_server_free(srv);
}

CF_TEST(test_transport_http_request_can_be_answered_later_or_times_out) {
  cf__ws_server *srv = start_http_server(0, 1000);
  int fd = raw_connect(cf__ws_server_port(srv), 0);
  static const char req[] = "GET /later HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  raw_write_all(srv, fd, req, sizeof req - 1);
  PUMP_UNTIL(srv, (cf__ws_client *)NULL, hst.pending != NULL, 5000);
  for (int i = 0; i < 10; i++)
    CHECK_OK(cf__ws_server_run_once(srv, 1));
  char big[100000];
  memset(big, 'a', sizeof big);
  CHECK_OK(cf__ws_http_respond(hst.pending, 200, "text/plain", big, sizeof big));
  hst.pending = NULL;
  /* the body is larger than the reader's buffer: count it instead */
  size_t got = 0, body = 0;
  char buf[8192], head[512] = "";
  int64_t t0 = cf__monotonic_ns();
  while (body < sizeof big) {
    CHECK_MSG(cf__monotonic_ns() - t0 < 5000000000LL, "late answer not seen");
    CHECK_OK(cf__ws_server_run_once(srv, 1));
    ssize_t n = read(fd, buf, sizeof buf);
    CHECK(n != 0);
    if (n < 0) continue;
    if (got < sizeof head - 1) {
      size_t k = (size_t)n < sizeof head - 1 - got ? (size_t)n : sizeof head - 1 - got;
      memcpy(head + got, buf, k);
      head[got + k] = '\0';
    }
    got += (size_t)n;
    const char *end = strstr(head, "\r\n\r\n");
    if (end != NULL) body = got - (size_t)(end + 4 - head);
  }
  CHECK_EQ(body, sizeof big);
  CHECK(strncmp(head, "HTTP/1.1 200", 12) == 0);
  CHECK(find_ci(head, "content-length: 100000") != NULL);
  /*
  ** a request left unanswered past http_timeout_ms is cancelled and its
  ** connection dropped (a client that closes is only noticed then: HTTP
  ** allows a half-closed client to wait for its answer)
  */
  int fd2 = raw_connect(cf__ws_server_port(srv), 0);
  raw_write_all(srv, fd2, req, sizeof req - 1);
  PUMP_UNTIL(srv, (cf__ws_client *)NULL, hst.pending != NULL, 5000);
  int64_t t0c = cf__monotonic_ns();
  PUMP_UNTIL(srv, (cf__ws_client *)NULL, hst.cancels == 1, 5000);
  CHECK(hst.pending == NULL);
  CHECK((cf__monotonic_ns() - t0c) / 1000000 >= 900);
  close(fd2);
  close(fd);
  cf__ws_server_free(srv);
}

CF_TEST(test_transport_http_late_answers_keep_pipelined_requests_and_close_when_asked) {
  cf__ws_server *srv = start_http_server(0, 0);
  int fd = raw_connect(cf__ws_server_port(srv), 0);
  /* two requests in one write: the second waits in lws while the first is
     answered from outside the callbacks (written at once) */
  static const char two[] = "GET /later?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                            "GET /later?x=2 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  raw_write_all(srv, fd, two, sizeof two - 1);
  http_resp *r = malloc(sizeof *r);
  for (int i = 1; i <= 2; i++) {
    PUMP_UNTIL(srv, (cf__ws_client *)NULL, hst.pending != NULL, 5000);
    CHECK_EQ(hst.calls, i);
    CHECK_STR(hst.x, i == 1 ? "1" : "2");
    cf__ws_http *req = hst.pending;
    hst.pending = NULL;
    CHECK_OK(cf__ws_http_add_header(req, "X-Answer", i == 1 ? "one" : "two"));
    CHECK_OK(cf__ws_http_respond(req, 200, "text/plain", i == 1 ? "one" : "two", 3));
    raw_read_response(srv, fd, r, 0);
    CHECK_EQ(r->status, 200);
    CHECK_EQ(r->len, (size_t)(r->body - r->buf) + 3); /* nothing more yet */
    CHECK(memcmp(r->body, i == 1 ? "one" : "two", 3) == 0);
    CHECK(find_ci(r->buf, i == 1 ? "x-answer: one" : "x-answer: two") != NULL);
  }
  /* the connection still serves: a HEAD answered late has no body */
  static const char head[] = "HEAD /later HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  raw_write_all(srv, fd, head, sizeof head - 1);
  PUMP_UNTIL(srv, (cf__ws_client *)NULL, hst.pending != NULL, 5000);
  CHECK_OK(cf__ws_http_respond(hst.pending, 200, "text/plain", "body", 4));
  hst.pending = NULL;
  memset(r, 0, sizeof *r);
  int64_t t0 = cf__monotonic_ns();
  while (strstr(r->buf, "\r\n\r\n") == NULL) {
    CHECK_MSG(cf__monotonic_ns() - t0 < 5000000000LL, "no HEAD answer");
    CHECK_OK(cf__ws_server_run_once(srv, 1));
    ssize_t n = read(fd, r->buf + r->len, sizeof r->buf - 1 - r->len);
    if (n > 0) r->len += (size_t)n;
  }
  CHECK(strncmp(r->buf, "HTTP/1.1 200", 12) == 0);
  CHECK(find_ci(r->buf, "content-length: 4") != NULL);
  for (int i = 0; i < 10; i++)
    CHECK_OK(cf__ws_server_run_once(srv, 1));
  CHECK(read(fd, r->buf, sizeof r->buf) < 0); /* no body followed */
  close(fd);
  /* HTTP/1.0 without keep-alive: answered late, then closed by the server */
  fd = raw_connect(cf__ws_server_port(srv), 0);
  static const char old[] = "GET /later HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  raw_write_all(srv, fd, old, sizeof old - 1);
  PUMP_UNTIL(srv, (cf__ws_client *)NULL, hst.pending != NULL, 5000);
  CHECK_OK(cf__ws_http_respond(hst.pending, 200, "text/plain", "bye", 3));
  hst.pending = NULL;
  raw_read_response(srv, fd, r, 1);
  CHECK_EQ(r->status, 200);
  CHECK(memcmp(r->body, "bye", 3) == 0);
  CHECK_EQ(hst.cancels, 0);
  free(r);
  close(fd);
  cf__ws_server_free(srv);
}

CF_TEST(test_transport_http_body_over_limit_gets_413) {
  cf__ws_server *srv = start_http_server(1024, 0);
  int fd = raw_connect(cf__ws_server_port(srv), 0);
  static const char req[] = "POST /api/crm/contacts HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                            "Content-Length: 100000\r\n\r\n";
  raw_write_all(srv, fd, req, sizeof req - 1);
  http_resp r;
  raw_read_response(srv, fd, &r, 1);
  CHECK_EQ(r.status, 413);
  CHECK(r.eof); /* the connection is closed after a 413 */
  CHECK_EQ(hst.calls, 0);
  close(fd);
  /* a body within the limit still passes */
  fd = raw_connect(cf__ws_server_port(srv), 0);
  static const char ok[] =
      "PUT /x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1024\r\n\r\n";
  raw_write_all(srv, fd, ok, sizeof ok - 1);
  char body[1024];
  memset(body, 'b', sizeof body);
  raw_write_all(srv, fd, body, sizeof body);
  raw_read_response(srv, fd, &r, 0);
  CHECK_EQ(r.status, 405);
  CHECK_EQ(hst.body_len, 1024);
  close(fd);
  cf__ws_server_free(srv);
}

CF_TEST(test_transport_stop_waits_for_an_unanswered_http_request) {
  cf__ws_server *srv = start_http_server(0, 0);
  int fd = raw_connect(cf__ws_server_port(srv), 0);
  static const char req[] = "GET /later HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  raw_write_all(srv, fd, req, sizeof req - 1);
  PUMP_UNTIL(srv, (cf__ws_client *)NULL, hst.pending != NULL, 5000);
  cf__ws_server_stop(srv);
  for (int i = 0; i < 20; i++)
    CHECK_OK(cf__ws_server_run_once(srv, 1));
  CHECK(!cf__ws_server_stopped(srv)); /* the request is still in flight */
  /* a new request meanwhile is turned away */
  int fd2 = raw_connect(cf__ws_server_port(srv), 0);
  raw_write_all(srv, fd2, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n", 33);
  http_resp *r = malloc(sizeof *r);
  int64_t t0 = cf__monotonic_ns();
  char b[256];
  ssize_t n = -1;
  while (n < 0) { /* refused at accept, or answered 503 */
    CHECK_MSG(cf__monotonic_ns() - t0 < 5000000000LL, "second request hangs");
    CHECK_OK(cf__ws_server_run_once(srv, 1));
    n = read(fd2, b, sizeof b - 1);
    if (n < 0 && errno == ECONNRESET) n = 0;
  }
  if (n > 0) {
    b[n] = '\0';
    CHECK(strncmp(b, "HTTP/1.1 503", 12) == 0);
  }
  CHECK_EQ(hst.calls, 1);
  CHECK_OK(cf__ws_http_respond(hst.pending, 200, "text/plain", "late", 4));
  hst.pending = NULL;
  raw_read_response(srv, fd, r, 0);
  CHECK_EQ(r->status, 200);
  PUMP_UNTIL(srv, (cf__ws_client *)NULL, cf__ws_server_stopped(srv), 5000);
  free(r);
  close(fd);
  close(fd2);
  cf__ws_server_free(srv);
}

CF_TEST(test_transport_ping_drops_a_silent_peer_and_keeps_a_live_one) {
  cf__ws_server_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.limits.ping_interval_s = 1; /* ping after 1 s idle, drop after 2 s */
  cf__ws_server *srv = start_server(&cfg);
  int raw = raw_connect(cf__ws_server_port(srv), 0);
  raw_write_all(srv, raw, upgrade_req, sizeof upgrade_req - 1);
  PUMP_UNTIL(srv, (cf__ws_client *)NULL, sst.opened == 1, 5000);
  cf__ws_client *cli = start_client(NULL); /* lws answers pings itself */
  conn c;
  connect_conn(cli, cf__ws_server_port(srv), "/sync", &c);
  PUMP_UNTIL(srv, cli, c.opened, 5000);
  int64_t t0 = cf__monotonic_ns();
  PUMP_UNTIL(srv, cli, sst.closed == 1, 8000);
  int64_t took_ms = (cf__monotonic_ns() - t0) / 1000000;
  CHECK_MSG(took_ms >= 1000, "dropped too early: %lld ms", (long long)took_ms);
  CHECK_EQ(sst.first_close_code, CF_WS_CLOSE_ABNORMAL);
  /* the live client has been pinged too, and answered */
  int64_t t1 = cf__monotonic_ns();
  PUMP_UNTIL(srv, cli, cf__monotonic_ns() - t1 > 2500000000LL, 5000);
  CHECK(!c.closed);
  CHECK_OK(cf__ws_send(c.s, "still here", 10));
  PUMP_UNTIL(srv, cli, c.n_msgs == 1, 5000);
  close(raw);
  cf__ws_client_free(cli);
  cf__ws_server_free(srv);
  free_conns(&c, 1);
}
