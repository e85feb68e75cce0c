/*
** tests/integration/test_sync_frames.c: bad input on the wire closes only the
** session that sent it (docs/protocol.md, "Errors close only that
** session", "Limits"), through a real server (tests/sync_fixture.h).
**
** Raw WebSocket sessions send malformed, misplaced and oversized frames;
** each must get an ERROR frame with the right code (or, for a message over
** the transport's limit, a 1009 close) and be closed, while a concurrent,
** already welcomed session keeps answering and a node still syncs.
*/
#include "core/row.h"
#include "core/schema.h"
#include "core/value.h"
#include "sync_fixture.h"

/* The good session answers PING(nonce) with PONG(nonce). */
static void check_alive(raw_client *g, uint64_t nonce) {
  cf_buf b;
  cf__buf_init(&b, 64);
  CHECK_OK(cf__encode_seq(CF_FRAME_PING, nonce, &b));
  raw_send(g, b.p, b.len);
  cf__buf_free(&b);
  cf_frame f;
  raw_expect_frame(g, &f);
  CHECK_MSG(f.type == CF_FRAME_PONG, "good session got %s", cf__frame_type_name(f.type));
  CHECK_EQ(f.u.ping.nonce, nonce);
  cf__frame_free(&f);
  CHECK(!g->closed);
}

/* A fresh session (welcomed if `hello`) sends bytes; it must get ERROR
** `code` and be closed with ws_code. */
static void send_bad(sync_fx *f, const char *token, int hello, const void *bytes,
                     size_t n, unsigned code, int ws_code) {
  raw_client c;
  if (hello)
    raw_connect_welcomed(&c, f, token, DEMO_ORG);
  else
    raw_connect(&c, f, 0);
  raw_send(&c, bytes, n);
  raw_expect_error_and_close(&c, code);
  CHECK_MSG(c.close_code == ws_code, "close code %d, expected %d", c.close_code, ws_code);
  raw_free(&c);
}

CF_TEST(test_sync_malformed_frames_get_error_and_close_only_their_session) {
  sync_fx f;
  sfx_open(&f, 1);
  char *token = sfx_token(DEMO_REP, 3600);
  raw_client g;
  raw_connect_welcomed(&g, &f, token, DEMO_ORG);
  check_alive(&g, 1);

  /* Not msgpack at all, before HELLO. */
  static const uint8_t garbage[] = {0xc1, 0xff, 0x00, 0x13};
  send_bad(&f, token, 0, garbage, sizeof garbage, CF_WIRE_PROTOCOL, CF_WS_CLOSE_PROTOCOL);
  check_alive(&g, 2);

  /* A PULL cut short, after WELCOME. */
  cf_buf b;
  cf__buf_init(&b, 256);
  cf_pull pull = {0, 100};
  CHECK_OK(cf__encode_pull(&pull, &b));
  send_bad(&f, token, 1, b.p, b.len - 1, CF_WIRE_PROTOCOL, CF_WS_CLOSE_PROTOCOL);
  check_alive(&g, 3);

  /* A frame only servers send. */
  cf__buf_reset(&b);
  CHECK_OK(cf__encode_seq(CF_FRAME_CHECKPOINT, 5, &b));
  send_bad(&f, token, 1, b.p, b.len, CF_WIRE_PROTOCOL, CF_WS_CLOSE_PROTOCOL);
  check_alive(&g, 4);

  /* PULL before HELLO. */
  cf__buf_reset(&b);
  CHECK_OK(cf__encode_pull(&pull, &b));
  send_bad(&f, token, 0, b.p, b.len, CF_WIRE_STATE, CF_WS_CLOSE_PROTOCOL);
  check_alive(&g, 5);

  /* A second HELLO. */
  {
    raw_client c;
    raw_connect_welcomed(&c, &f, token, DEMO_ORG);
    raw_hello(&c, token, DEMO_ORG, NULL);
    raw_expect_error_and_close(&c, CF_WIRE_STATE);
    raw_free(&c);
  }
  check_alive(&g, 6);

  /* Unknown protocol version and unknown frame type. */
  static const uint8_t v2_ping[] = {0x93, 0x02, 0x0e, 0x01};
  send_bad(&f, token, 1, v2_ping, sizeof v2_ping, CF_WIRE_PROTOCOL, CF_WS_CLOSE_PROTOCOL);
  static const uint8_t type_99[] = {0x93, 0x01, 0x63, 0x01};
  send_bad(&f, token, 1, type_99, sizeof type_99, CF_WIRE_PROTOCOL, CF_WS_CLOSE_PROTOCOL);
  /* A lying count: an array32 of 2^31 elements in 9 bytes. */
  static const uint8_t liar[] = {0xdd, 0x80, 0x00, 0x00, 0x00, 0x01, 0x0e, 0x01, 0x01};
  send_bad(&f, token, 1, liar, sizeof liar, CF_WIRE_PROTOCOL, CF_WS_CLOSE_PROTOCOL);
  /* Trailing bytes after a valid PING. */
  static const uint8_t trailing[] = {0x93, 0x01, 0x0e, 0x01, 0x00};
  send_bad(&f, token, 1, trailing, sizeof trailing, CF_WIRE_PROTOCOL,
           CF_WS_CLOSE_PROTOCOL);
  check_alive(&g, 7);
  cf__buf_free(&b);

  /* The good session still pulls, and a node still syncs. */
  {
    cf_buf pb;
    cf__buf_init(&pb, 64);
    cf_pull p = {0, 100};
    CHECK_OK(cf__encode_pull(&p, &pb));
    raw_send(&g, pb.p, pb.len);
    cf__buf_free(&pb);
    cf_frame ch;
    raw_expect_frame(&g, &ch);
    CHECK_MSG(ch.type == CF_FRAME_CHANGES, "got %s", cf__frame_type_name(ch.type));
    CHECK(ch.u.changes.nrows > 0);
    cf__frame_free(&ch);
  }
  cf_node *n = sfx_node("rep", DEMO_ORG, DEMO_REP);
  sfx_sync_ok(&f, n);
  CHECK_EQ(sfx_node_num(n, "SELECT count(*) FROM contacts"), 10);
  cf_node_close(n);
  raw_free(&g);
  cf_token_free(token);
  sfx_close(&f);
}

CF_TEST(test_sync_oversized_frames_close_only_their_session) {
  sync_fx f;
  sfx_open(&f, 1);
  char *token = sfx_token(DEMO_REP, 3600);
  raw_client g;
  raw_connect_welcomed(&g, &f, token, DEMO_ORG);
  check_alive(&g, 1);

  /* A PUSH of more changes than WELCOME's max_batch (1000). */
  enum { N = 1001 };
  cf_push_change *ch = calloc(N, sizeof *ch);
  char(*ids)[40] = calloc(N, sizeof *ids);
  CHECK(ch != NULL && ids != NULL);
  cf_nodeid node;
  CHECK_OK(cf__node_id_generate(&node));
  cf_ver v;
  cf__ver_make(CF_HLC_MAKE(cf__now_ms(), 0), &node, &v);
  const cf_table *t = cf__schema_table_by_name("contacts");
  for (int i = 0; i < N; i++) {
    snprintf(ids[i], sizeof ids[i], "01936b2a-0003-7000-8000-3%011d", i);
    ch[i].id = (uint64_t)i + 1;
    cf__row_init(&ch[i].row, t);
    cf_value org = cf__value_text(DEMO_ORG, strlen(DEMO_ORG));
    cf_value id = cf__value_text(ids[i], strlen(ids[i]));
    cf_value first = cf__value_text("Bulk", 4);
    CHECK_OK(cf__row_set(&ch[i].row, (unsigned)cf__schema_column_index(t, "org_id"), &org,
                         NULL));
    CHECK_OK(
        cf__row_set(&ch[i].row, (unsigned)cf__schema_column_index(t, "id"), &id, NULL));
    CHECK_OK(cf__row_set(&ch[i].row, (unsigned)cf__schema_column_index(t, "first_name"),
                         &first, &v));
  }
  cf_push p = {1, ch, N};
  cf_buf b;
  cf__buf_init(&b, CF_CODEC_MAX_FRAME);
  CHECK_OK(cf__encode_push(&p, &b));
  free(ch);
  free(ids);
  send_bad(&f, token, 1, b.p, b.len, CF_WIRE_TOO_BIG, CF_WS_CLOSE_TOO_BIG);
  cf__buf_free(&b);
  check_alive(&g, 2);

  /* A token over the codec's 16 KiB cap in HELLO. */
  {
    /* Made by hand: the encoder refuses such a token.  HELLO = fixarray
    ** of 12: version, type, proto_min, proto_max, token (str16), node,
    ** org, user (bin8 16), cursor, last_batch, hlc, software. */
    size_t len = CF_CODEC_MAX_TOKEN + 100;
    size_t cap = len + 128, n = 0;
    uint8_t *m = malloc(cap);
    CHECK(m != NULL);
    m[n++] = 0x9c;
    m[n++] = 0x01;
    m[n++] = 0x01;
    m[n++] = 0x01;
    m[n++] = 0x01;
    m[n++] = 0xda;
    m[n++] = (uint8_t)(len >> 8);
    m[n++] = (uint8_t)len;
    memset(m + n, 'a', len);
    n += len;
    for (int i = 0; i < 3; i++) {
      m[n++] = 0xc4;
      m[n++] = 16;
      memset(m + n, i == 2 ? 0 : 0x11, 16);
      n += 16;
    }
    m[n++] = 0x00;
    m[n++] = 0x00;
    m[n++] = 0x00;
    m[n++] = 0xa0;
    send_bad(&f, token, 0, m, n, CF_WIRE_TOO_BIG, CF_WS_CLOSE_TOO_BIG);
    free(m);
  }
  check_alive(&g, 3);

  /* A message over the transport's 4 MiB limit: closed with 1009. */
  {
    size_t len = (size_t)5 << 20;
    uint8_t *huge = malloc(len);
    CHECK(huge != NULL);
    memset(huge, 0x90, len);
    raw_client c;
    raw_connect_welcomed(&c, &f, token, DEMO_ORG);
    CHECK_OK(cf__ws_send(c.s, huge, len));
    free(huge);
    CHECK_MSG(raw_run_until(&c, raw_is_closed), "oversized message: session not closed");
    /* The server closes with 1009 as soon as the message's header says
    ** it is too long; a sender still writing the rest may see the
    ** connection reset (1006) before that close frame. */
    CHECK_MSG(c.close_code == CF_WS_CLOSE_TOO_BIG || c.close_code == CF_WS_CLOSE_ABNORMAL,
              "close code %d", c.close_code);
    raw_free(&c);
  }
  check_alive(&g, 4);
  cf_node *n = sfx_node("rep", DEMO_ORG, DEMO_REP);
  sfx_sync_ok(&f, n);
  cf_node_close(n);
  raw_free(&g);
  cf_token_free(token);
  sfx_close(&f);
}
