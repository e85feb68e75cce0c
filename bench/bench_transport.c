/*
** bench/bench_transport.c: WebSocket round trips over loopback through
** sync/net/transport.h (docs/transport.md has the figures).
**
** An echo server runs its loop in a second thread; the client loop runs here.
** For each message size and number of messages in flight, the client sends
** messages and counts echoes for a fixed number of round trips, and prints a
** table: round trips per second, payload MB/s each way, and the latency of a
** round trip (p50, p99) when one message is in flight.  Run it from the build
** directory: ./bench_transport [seconds-per-row, default 1] [--wss]
*/
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clientflow.h"
#include "platform/platform.h"
#include "sync/net/transport.h"

/* The client's view of one run. */
typedef struct run {
  cf__ws_session *s;  /* the session */
  int opened;         /* on_open seen */
  int closed;         /* on_close seen */
  const uint8_t *msg; /* payload sent each time */
  size_t len;         /* its length */
  long sent;          /* messages sent */
  long got;           /* echoes received */
  long total;         /* messages to send */
  int64_t *sent_at;   /* send time of message i (window 1 only) */
  int64_t *lat;       /* round trip of message i, ns */
} run;

static void srv_on_message(void *ctx, cf__ws_session *s, const uint8_t *m, size_t n) {
  (void)ctx;
  if (cf__ws_send(s, m, n) != CF_OK) cf__ws_close(s, 1011, "echo failed");
}

static int cli_on_open(void *ctx, cf__ws_session *s) {
  run *r = ctx;
  (void)s;
  r->opened = 1;
  return CF_OK;
}

static void send_one(run *r) {
  if (r->sent_at != NULL) r->sent_at[r->sent] = cf__monotonic_ns();
  if (cf__ws_send(r->s, r->msg, r->len) != CF_OK) {
    fprintf(stderr, "send failed\n");
    exit(1);
  }
  r->sent++;
}

static void cli_on_message(void *ctx, cf__ws_session *s, const uint8_t *m, size_t n) {
  run *r = ctx;
  (void)s;
  (void)m;
  if (n != r->len) {
    fprintf(stderr, "echo of %zu bytes, sent %zu\n", n, r->len);
    exit(1);
  }
  if (r->sent_at != NULL) r->lat[r->got] = cf__monotonic_ns() - r->sent_at[r->got];
  r->got++;
  if (r->sent < r->total) send_one(r);
}

static void cli_on_close(void *ctx, cf__ws_session *s, int rc, int code,
                         const char *reason) {
  run *r = ctx;
  (void)s;
  r->closed = 1;
  if (r->got < r->total)
    fprintf(stderr, "closed early: rc %d code %d %s\n", rc, code, reason);
}

static void *server_thread(void *arg) {
  (void)cf__ws_server_run(arg);
  return NULL;
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

/* One table row.  Returns 0 or -1. */
static int bench_row(const char *url, int tls, size_t len, int window, double seconds) {
  run r;
  memset(&r, 0, sizeof r);
  uint8_t *msg = malloc(len);
  for (size_t i = 0; i < len; i++)
    msg[i] = (uint8_t)(i * 13);
  r.msg = msg;
  r.len = len;
  cf__ws_client_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.ws.ctx = &r;
  cfg.ws.on_open = cli_on_open;
  cfg.ws.on_message = cli_on_message;
  cfg.ws.on_close = cli_on_close;
  cfg.tls_insecure = tls;
  cf__ws_client *cli = NULL;
  if (cf__ws_client_new(&cfg, &cli, NULL, 0) != CF_OK ||
      cf__ws_client_connect(cli, url, &r.s) != CF_OK)
    return -1;
  while (!r.opened && !r.closed)
    (void)cf__ws_client_run_once(cli, 100);
  if (!r.opened) return -1;
  /* warm up, then size the run to about `seconds` */
  r.total = 200;
  for (int i = 0; i < window && r.sent < r.total; i++)
    send_one(&r);
  int64_t t0 = cf__monotonic_ns();
  while (r.got < r.total && !r.closed)
    (void)cf__ws_client_run_once(cli, 100);
  double warm = (double)(cf__monotonic_ns() - t0) / 1e9;
  long n = (long)(seconds / (warm / 200.0));
  if (n < 100) n = 100;
  r.sent = r.got = 0;
  r.total = n;
  if (window == 1) {
    r.sent_at = malloc(sizeof(int64_t) * (size_t)n);
    r.lat = malloc(sizeof(int64_t) * (size_t)n);
  }
  t0 = cf__monotonic_ns();
  for (int i = 0; i < window && r.sent < r.total; i++)
    send_one(&r);
  while (r.got < r.total && !r.closed)
    (void)cf__ws_client_run_once(cli, 100);
  double secs = (double)(cf__monotonic_ns() - t0) / 1e9;
  char p50[32] = "-", p99[32] = "-";
  if (r.lat != NULL) {
    qsort(r.lat, (size_t)n, sizeof r.lat[0], cmp_i64);
    snprintf(p50, sizeof p50, "%.0f", (double)r.lat[n / 2] / 1000.0);
    snprintf(p99, sizeof p99, "%.0f", (double)r.lat[n * 99 / 100] / 1000.0);
  }
  printf("| %-4s | %8zu | %9d | %8ld | %12.0f | %9.1f | %8s | %8s |\n",
         tls ? "wss" : "ws", len, window, n, (double)n / secs,
         (double)n * (double)len / secs / 1e6, p50, p99);
  cf__ws_close(r.s, CF_WS_CLOSE_NORMAL, "done");
  while (!r.closed)
    (void)cf__ws_client_run_once(cli, 100);
  cf__ws_client_free(cli);
  free(r.sent_at);
  free(r.lat);
  free(msg);
  return 0;
}

int main(int argc, char **argv) {
  double seconds = argc > 1 ? atof(argv[1]) : 1.0;
  int with_tls = argc > 2 && strcmp(argv[2], "--wss") == 0;
  if (seconds <= 0) seconds = 1.0;
  char cert[] = "/tmp/cf-bench-cert-XXXXXX";
  char key[sizeof cert + 8];
  if (with_tls) {
    int fd = mkstemp(cert);
    if (fd < 0) return 1;
    close(fd);
    snprintf(key, sizeof key, "%s.key", cert);
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
             "-nodes -days 1 -subj /CN=127.0.0.1 -keyout %s -out %s 2>/dev/null",
             key, cert);
    if (system(cmd) != 0) {
      fprintf(stderr, "openssl failed\n");
      return 1;
    }
  }
  cf__ws_server_config scfg;
  memset(&scfg, 0, sizeof scfg);
  scfg.ws.on_message = srv_on_message;
  scfg.limits.max_message = 8 << 20;
  if (with_tls) {
    scfg.tls_cert_path = cert;
    scfg.tls_key_path = key;
  }
  cf__ws_server *srv = NULL;
  char err[200];
  if (cf__ws_server_new(&scfg, &srv, err, sizeof err) != CF_OK) {
    fprintf(stderr, "server: %s\n", err);
    return 1;
  }
  pthread_t t;
  pthread_create(&t, NULL, server_thread, srv);
  char url[64];
  snprintf(url, sizeof url, "%s://127.0.0.1:%d/sync", with_tls ? "wss" : "ws",
           cf__ws_server_port(srv));
  printf("WebSocket echo over loopback, server loop in its own thread\n\n");
  printf("| tls  |    bytes | in flight |   trips  | round trips/s |  MB/s each| p50 µs  "
         " | p99 µs   |\n");
  printf("|------|----------|-----------|----------|---------------|-----------|---------"
         "-|----------|\n");
  static const size_t sizes[] = {64, 4096, 65536, 1 << 20};
  static const int windows[] = {1, 16};
  int rc = 0;
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
    for (size_t w = 0; w < sizeof windows / sizeof windows[0]; w++)
      if (bench_row(url, with_tls, sizes[i], windows[w], seconds) != 0) {
        fprintf(stderr, "row failed\n");
        rc = 1;
      }
  cf__ws_server_stop(srv);
  pthread_join(t, NULL);
  cf__ws_server_free(srv);
  if (with_tls) {
    unlink(cert);
    unlink(key);
  }
  return rc;
}
