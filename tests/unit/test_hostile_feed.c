/*
** tests/unit/test_hostile_feed.c: the client session against a hostile or
** confused server's FEED frames (protocol 2, docs/protocol.md "FEED"): a
** page the server sends unasked is applied only when it continues the
** replica's cursor exactly, while no request of the client's own is out,
** and never moves the cursor back; any other FEED only makes the client
** pull as itself; a FEED in a protocol 1 session is a protocol error.
** The client session is driven in memory against a real replica file; no
** server, no socket.
*/
#include <stdio.h>
#include <string.h>

#include "cf_test.h"
#include "core/codec.h"
#include "platform/platform.h"
#include "sync/session/client_session.h"

#define ORG "01936b2a-0000-7000-8000-100000000001"
#define USER "01936b2a-0001-7000-8000-000000000002"

/* The frames the client sent (the last one kept). */
typedef struct sent {
  int n;         /* frames sent */
  cf_frame last; /* the last, decoded (owns nothing: no rows) */
  int closed;    /* the client closed */
} sent;

static int t_send(void *ctx, const uint8_t *b, size_t n) {
  sent *s = ctx;
  cf__frame_free(&s->last);
  char err[128];
  CHECK_OK(cf__frame_decode(b, n, NULL, &s->last, err, sizeof err));
  s->n++;
  return CF_OK;
}

static void t_close(void *ctx, int code, const char *reason) {
  (void)code;
  (void)reason;
  ((sent *)ctx)->closed = 1;
}

static void deliver(cf__csess *c, const cf_buf *b) {
  cf__csess_on_message(c, (const uint8_t *)b->p, b->len);
}

static void send_welcome(cf__csess *c, uint32_t proto) {
  cf_welcome w;
  memset(&w, 0, sizeof w);
  w.proto = proto;
  w.hlc = (cf_hlc)cf__now_ms() << 16;
  w.role.p = "member";
  w.role.n = 6;
  w.max_frame_bytes = CF_CODEC_MAX_FRAME;
  w.max_batch = 100;
  w.max_page = 100;
  w.token_exp = cf__now_ms() / 1000 + 3600;
  cf_buf b;
  cf__buf_init(&b, 4096);
  CHECK_OK(cf__encode_welcome(&w, &b));
  deliver(c, &b);
  cf__buf_free(&b);
}

static void send_changes(cf__csess *c, uint64_t last, uint64_t head) {
  cf_buf b;
  cf__buf_init(&b, 4096);
  CHECK_OK(cf__encode_changes_body(last, 0, head, 0, NULL, 0, &b));
  deliver(c, &b);
  cf__buf_free(&b);
}

static void send_feed(cf__csess *c, uint64_t from, uint64_t last, uint64_t head) {
  cf_buf b;
  cf__buf_init(&b, 4096);
  CHECK_OK(cf__encode_feed_body(from, last, 0, head, 0, NULL, 0, &b));
  deliver(c, &b);
  cf__buf_free(&b);
}

/* A watching session of protocol `proto` on a fresh replica, pulled to
** cursor 5 and idle. */
static cf__csess *idle_session(cf_node **node, sent *out, uint32_t proto) {
  char path[512];
  snprintf(path, sizeof path, "%s/feed-%u.db", cf_test_tmpdir(), (unsigned)proto);
  (void)remove(path);
  CHECK_OK(cf_node_open(path, ORG, USER, node));
  cf__csess *c = NULL;
  CHECK_OK(cf__csess_new(*node, "ws://test/sync", &c));
  cf__csess_begin_run(c, 1);
  CHECK_OK(cf__csess_start(c));
  memset(out, 0, sizeof *out);
  cf__csess_io io = {out, t_send, t_close};
  CHECK_OK(cf__csess_open(c, &io, "token"));
  CHECK_EQ(out->last.type, CF_FRAME_HELLO);
  send_welcome(c, proto);
  CHECK_EQ(out->last.type, CF_FRAME_PULL); /* empty outbox: pulls */
  send_changes(c, 5, 5);
  CHECK_EQ(cf__csess_count(c, CF_SYNC_CURSOR), 5);
  return c;
}

CF_TEST(test_hostile_feed_is_applied_only_when_it_continues_the_cursor) {
  cf_node *node = NULL;
  sent out;
  cf__csess *c = idle_session(&node, &out, 2);
  int frames = out.n;
  /* from another cursor: not applied, taken as news of head 9 -> PULL from 5 */
  send_feed(c, 3, 9, 9);
  CHECK_EQ(cf__csess_count(c, CF_SYNC_CURSOR), 5);
  CHECK_EQ(cf__csess_count(c, CF_SYNC_FED), 0);
  CHECK_EQ(out.n, frames + 1);
  CHECK_EQ(out.last.type, CF_FRAME_PULL);
  CHECK_EQ(out.last.u.pull.from_seq, 5);
  /* while that PULL is out, even a FEED from the cursor is not applied */
  send_feed(c, 5, 7, 7);
  CHECK_EQ(cf__csess_count(c, CF_SYNC_CURSOR), 5);
  send_changes(c, 9, 9);
  CHECK_EQ(cf__csess_count(c, CF_SYNC_CURSOR), 9);
  /* idle at 9: a FEED from 9 is applied and asks for nothing */
  frames = out.n;
  send_feed(c, 9, 12, 12);
  CHECK_EQ(cf__csess_count(c, CF_SYNC_CURSOR), 12);
  CHECK_EQ(cf__csess_count(c, CF_SYNC_FED), 1);
  CHECK_EQ(out.n, frames);
  CHECK(!cf__csess_ended(c));
  /* one that would move the cursor back is refused: the session fails */
  send_feed(c, 12, 10, 12);
  CHECK(cf__csess_ended(c));
  CHECK_EQ(cf__csess_rc(c), CF_PROTOCOL);
  CHECK_EQ(cf__csess_count(c, CF_SYNC_CURSOR), 12);
  cf__frame_free(&out.last);
  cf__csess_free(c);
  cf_node_close(node);
}

CF_TEST(test_hostile_feed_in_a_protocol_1_session_is_a_protocol_error) {
  cf_node *node = NULL;
  sent out;
  cf__csess *c = idle_session(&node, &out, 1);
  send_feed(c, 5, 6, 6);
  CHECK(cf__csess_ended(c));
  CHECK_EQ(cf__csess_rc(c), CF_PROTOCOL);
  CHECK_EQ(cf__csess_count(c, CF_SYNC_CURSOR), 5);
  CHECK(strstr(cf__csess_errmsg(c), "FEED") != NULL);
  cf__frame_free(&out.last);
  cf__csess_free(c);
  cf_node_close(node);
}
