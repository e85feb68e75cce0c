/*
** tests/unit/test_codec.c: the protocol frame codec (core/codec.h,
** docs/protocol.md).
**
** Proves that every frame type round-trips exactly (values, floats, integer
** extremes, big strings), that the encoding is canonical (decode then encode
** gives back the same bytes), and that malformed input of every kind --
** truncation at every offset, lying counts, nesting bombs, wrong types,
** non-canonical forms, bad versions, unknown tables and columns, oversized
** strings, trailing bytes, unknown types and versions, random mutations --
** gives CF_PROTOCOL or CF_TOOBIG with a message, no crash and no leak (the
** tests run under AddressSanitizer with leak detection).
*/
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cf_test.h"
#include "clientflow.h"
#include "core/codec.h"
#include "core/schema.h"
#include "platform/platform.h"

/* ---- helpers --------------------------------------------------------------- */

static const cf_table *contacts(void) {
  const cf_table *t = cf__schema_table_by_name("contacts");
  CHECK(t != NULL);
  return t;
}

static cf_ver make_ver(uint64_t hlc, unsigned char node) {
  cf_ver v;
  for (int i = 0; i < 8; i++)
    v.b[i] = (unsigned char)(hlc >> (56 - 8 * i));
  memset(v.b + 8, node, 16);
  return v;
}

static void set_cell(cf_row *row, unsigned c, cf_value v, const cf_ver *ver) {
  row->present |= CF_COL_BIT(c);
  row->cells[c].value = v;
  if (ver != NULL && !(row->table->key_mask & CF_COL_BIT(c))) row->cells[c].ver = *ver;
}

static cf_value text(const char *s) { return cf__value_text(s, strlen(s)); }

/* A realistic full contacts row; i varies the content, versions come from
** ver (all cells) or, when mixed, three different versions. */
static void make_contact(cf_row *row, unsigned i, int mixed) {
  static const char *const firsts[] = {"Ann", "Bob", "Chen", "Dana", "Émile"};
  const cf_table *t = contacts();
  memset(row, 0, sizeof *row);
  row->table = t;
  cf_ver v1 = make_ver(((uint64_t)1764345600000 << 16) + i, 0x11);
  cf_ver v2 = make_ver(((uint64_t)1764345700000 << 16) + i, 0x22);
  cf_ver v3 = make_ver(((uint64_t)1764345800000 << 16) + i, 0x33);
  set_cell(row, 0, text("0192f0c4-7e2a-7b51-9d3a-5c2f4e6a8b10"), NULL);
  set_cell(row, 1, text("0192f0c4-7e2a-7c00-8a11-22b3c4d5e6f7"), NULL);
  set_cell(row, 2, text(firsts[i % 5]), &v1);
  set_cell(row, 3, text("Lovelace"), mixed ? &v2 : &v1);
  set_cell(row, 4, i % 3 ? text("ann.lovelace@example.com") : cf__value_null(), &v1);
  set_cell(row, 5, text("+44 20 7946 0958"), &v1);
  set_cell(row, 6, text("Analytical Engines Ltd"), mixed ? &v3 : &v1);
  set_cell(row, 7, text("[\"vip\",\"lead\"]"), &v1);
  set_cell(row, 8, text("{\"source\":\"web\"}"), mixed ? &v2 : &v1);
  set_cell(row, 9, text("2026-11-28T16:00:00.123456Z"), &v1);
  set_cell(row, 10, text("2026-11-28T16:05:00.000000Z"), mixed ? &v3 : &v1);
  set_cell(row, t->ncols, cf__value_int(0), &v1);
}

/* Strict equality of two values: kinds, bits of reals, bytes of text. */
static int value_same(const cf_value *a, const cf_value *b) {
  if (a->kind != b->kind) return 0;
  switch (a->kind) {
    case CF_VALUE_NULL:
      return 1;
    case CF_VALUE_INT:
      return a->i == b->i;
    case CF_VALUE_REAL:
      return memcmp(&a->d, &b->d, sizeof a->d) == 0;
    case CF_VALUE_TEXT:
    case CF_VALUE_BLOB:
      return a->n == b->n && (a->n == 0 || memcmp(a->p, b->p, a->n) == 0);
  }
  return 0;
}

static int row_same(const cf_row *a, const cf_row *b) {
  if (a->table != b->table || a->present != b->present) return 0;
  for (unsigned c = 0; c <= a->table->ncols; c++) {
    if (!(a->present & CF_COL_BIT(c))) continue;
    if (!value_same(&a->cells[c].value, &b->cells[c].value)) return 0;
    if (!(a->table->key_mask & CF_COL_BIT(c)) &&
        memcmp(a->cells[c].ver.b, b->cells[c].ver.b, CF_VER_LEN) != 0)
      return 0;
  }
  return 1;
}

static int slice_is(cf_slice s, const char *want) {
  size_t n = strlen(want);
  return s.n == n && (n == 0 || memcmp(s.p, want, n) == 0);
}

/* Decodes p[0..n) expecting failure; returns the code, checks a message. */
static int decode_fails(const void *p, size_t n, const cf_codec_limits *lim) {
  cf_frame f;
  char why[256];
  int rc = cf__frame_decode(p, n, lim, &f, why, sizeof why);
  CHECK_MSG(rc != CF_OK, "decoded a frame that should fail (%zu bytes)", n);
  CHECK_MSG(why[0] != '\0', "no error message for rc %d", rc);
  CHECK(f.owned == NULL);
  cf__frame_free(&f);
  return rc;
}

/* Encodes f, decodes it, re-encodes the result: both encodings equal.
** OUT: *g the decoded frame (borrowing *enc, which the caller frees). */
static void round_trip(const cf_frame *f, cf_buf *enc, cf_frame *g) {
  char why[256] = "";
  cf__buf_init(enc, CF_CODEC_MAX_FRAME);
  CHECK_OK(cf__frame_encode(f, enc));
  int rc = cf__frame_decode(enc->p, enc->len, NULL, g, why, sizeof why);
  CHECK_MSG(rc == CF_OK, "decode failed: %s", why);
  CHECK_EQ(g->type, f->type);
  CHECK_EQ(g->version, CF_PROTO_VERSION);
  cf_buf again;
  cf__buf_init(&again, CF_CODEC_MAX_FRAME);
  CHECK_OK(cf__frame_encode(g, &again));
  CHECK_EQ(again.len, enc->len);
  CHECK(memcmp(again.p, enc->p, enc->len) == 0);
  cf__buf_free(&again);
}

/* A few valid frames of every type, for the malformation tests. */
#define NSAMPLES 16
typedef struct samples {
  cf_buf b[NSAMPLES]; /* encoded frames */
  size_t n;           /* how many */
} samples;

static cf_row sample_rows[3];
static cf_push_change sample_changes[2];
static cf_push_result sample_results[2];

static void add(samples *s, const cf_frame *f) {
  CHECK(s->n < NSAMPLES);
  cf__buf_init(&s->b[s->n], CF_CODEC_MAX_FRAME);
  CHECK_OK(cf__frame_encode(f, &s->b[s->n]));
  s->n++;
}

static void make_samples(samples *s) {
  cf_frame f;
  memset(s, 0, sizeof *s);
  memset(&f, 0, sizeof f);
  f.type = CF_FRAME_HELLO;
  f.u.hello = (cf_hello){1,
                         1,
                         {"eyJhbGciOiJIUzI1NiJ9.e30.sig", 28},
                         {{1, 2, 3}},
                         {{4, 5, 6}},
                         {{7, 8, 9}},
                         300,
                         7,
                         123456789,
                         {"clientflow/0.1.0", 16}};
  add(s, &f);
  f.type = CF_FRAME_WELCOME;
  f.u.welcome =
      (cf_welcome){1, 987654321, {"member", 6}, 1000, 7, 4 << 20, 1000, 1000, 1764345600};
  add(s, &f);
  f.type = CF_FRAME_AUTH;
  f.u.auth.token = (cf_slice){"abc.def.ghi", 11};
  add(s, &f);
  f.type = CF_FRAME_AUTH_OK;
  f.u.auth_ok.token_exp = 1764349200;
  add(s, &f);
  make_contact(&sample_rows[0], 1, 0);
  make_contact(&sample_rows[1], 2, 1);
  memset(&sample_rows[2], 0, sizeof sample_rows[2]);
  sample_rows[2].table = contacts();
  cf_ver v = make_ver(99, 0x44);
  set_cell(&sample_rows[2], 0, text("o"), NULL);
  set_cell(&sample_rows[2], 1, text("i"), NULL);
  set_cell(&sample_rows[2], contacts()->ncols, cf__value_int(1), &v);
  sample_changes[0] = (cf_push_change){41, sample_rows[0]};
  sample_changes[1] = (cf_push_change){42, sample_rows[2]};
  f.type = CF_FRAME_PUSH;
  f.u.push = (cf_push){8, sample_changes, 2};
  add(s, &f);
  sample_results[0] = (cf_push_result){41, CF_PUSH_APPLIED, 0, {"", 0}};
  sample_results[1] =
      (cf_push_result){42, CF_PUSH_REJECTED, CF_REASON_PERMISSION, {"RLS said no", 11}};
  f.type = CF_FRAME_PUSH_RESULT;
  f.u.push_result = (cf_push_reply){8, 1002, sample_results, 2};
  add(s, &f);
  f.type = CF_FRAME_PULL;
  f.u.pull = (cf_pull){300, 500};
  add(s, &f);
  f.type = CF_FRAME_CHANGES;
  f.u.changes = (cf_changes){1002, 1, 5000, sample_rows, 3};
  add(s, &f);
  f.type = CF_FRAME_LIVE;
  f.u.live.seq = 300;
  add(s, &f);
  f.type = CF_FRAME_ACCESS_REVOKED;
  f.u.revoked = (cf_revoked){{{9, 9, 9}}, {"membership removed", 18}};
  add(s, &f);
  f.type = CF_FRAME_ERROR;
  memset(&f.u, 0, sizeof f.u);
  f.u.error = (cf_error_frame){CF_WIRE_AUTH, {"token expired", 13}};
  add(s, &f);
  f.type = CF_FRAME_PING;
  f.u.ping.nonce = 77;
  add(s, &f);
}

static void free_samples(samples *s) {
  for (size_t i = 0; i < s->n; i++)
    cf__buf_free(&s->b[i]);
}

/* Length of the well-formed msgpack element at p (trusted test data). */
static size_t mp_len(const unsigned char *p) {
  unsigned char b = p[0];
  size_t n, total;
  if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) return 1;
  if (b >= 0xa0 && b <= 0xbf) return 1 + (b & 0x1f);
  if (b >= 0x90 && b <= 0x9f) {
    n = b & 0x0f;
    total = 1;
    goto elems;
  }
  switch (b) {
    case 0xcc:
    case 0xd0:
      return 2;
    case 0xcd:
    case 0xd1:
      return 3;
    case 0xce:
    case 0xd2:
    case 0xca:
      return 5;
    case 0xcf:
    case 0xd3:
    case 0xcb:
      return 9;
    case 0xc4:
    case 0xd9:
      return 2 + p[1];
    case 0xc5:
    case 0xda:
      return 3 + ((size_t)p[1] << 8 | p[2]);
    case 0xc6:
    case 0xdb:
      return 5 + ((size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | p[4]);
    case 0xdc:
      n = (size_t)p[1] << 8 | p[2];
      total = 3;
      goto elems;
    case 0xdd:
      n = (size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | p[4];
      total = 5;
      goto elems;
  }
  CHECK_MSG(0, "mp_len: unexpected byte 0x%02x", b);
  return 0;
elems:
  for (size_t i = 0; i < n; i++)
    total += mp_len(p + total);
  return total;
}

/* ---- round trips ----------------------------------------------------------- */

CF_TEST(test_codec_hello_round_trips) {
  cf_frame f, g;
  cf_buf enc;
  memset(&f, 0, sizeof f);
  f.type = CF_FRAME_HELLO;
  cf_hello *h = &f.u.hello;
  h->proto_min = 1;
  h->proto_max = 3;
  h->token = (cf_slice){"header.payload.signature", 24};
  for (int i = 0; i < 16; i++) {
    h->node.b[i] = (unsigned char)i;
    h->org.b[i] = (unsigned char)(0xf0 + i);
    h->user.b[i] = 0; /* unknown: from the token */
  }
  h->cursor = UINT64_MAX;
  h->last_batch = 0;
  h->hlc = ((uint64_t)1764345600123 << 16) | 5;
  h->software = (cf_slice){"clientflow/0.1.0", 16};
  round_trip(&f, &enc, &g);
  CHECK_EQ(g.u.hello.proto_min, 1);
  CHECK_EQ(g.u.hello.proto_max, 3);
  CHECK(slice_is(g.u.hello.token, "header.payload.signature"));
  CHECK(memcmp(g.u.hello.node.b, h->node.b, 16) == 0);
  CHECK(memcmp(g.u.hello.org.b, h->org.b, 16) == 0);
  CHECK(memcmp(g.u.hello.user.b, h->user.b, 16) == 0);
  CHECK(g.u.hello.cursor == UINT64_MAX);
  CHECK(g.u.hello.last_batch == 0);
  CHECK(g.u.hello.hlc == h->hlc);
  CHECK(slice_is(g.u.hello.software, "clientflow/0.1.0"));
  /* Borrowed: the token points into the encoded bytes. */
  CHECK(g.u.hello.token.p >= enc.p && g.u.hello.token.p < enc.p + enc.len);
  cf__frame_free(&g);
  cf__buf_free(&enc);
}

CF_TEST(test_codec_welcome_round_trips) {
  cf_frame f, g;
  cf_buf enc;
  memset(&f, 0, sizeof f);
  f.type = CF_FRAME_WELCOME;
  f.u.welcome =
      (cf_welcome){1, 42, {"owner", 5}, 123456, 17, 4u << 20, 1000, 2000, INT64_MIN};
  round_trip(&f, &enc, &g);
  const cf_welcome *w = &g.u.welcome;
  CHECK_EQ(w->proto, 1);
  CHECK(w->hlc == 42);
  CHECK(slice_is(w->role, "owner"));
  CHECK(w->head_seq == 123456 && w->last_batch == 17);
  CHECK(w->max_frame_bytes == 4u << 20 && w->max_batch == 1000 && w->max_page == 2000);
  CHECK(w->token_exp == INT64_MIN);
  cf__frame_free(&g);
  cf__buf_free(&enc);
}

CF_TEST(test_codec_auth_and_auth_ok_round_trip) {
  cf_frame f, g;
  cf_buf enc;
  memset(&f, 0, sizeof f);
  f.type = CF_FRAME_AUTH;
  f.u.auth.token = (cf_slice){"new.token.here", 14};
  round_trip(&f, &enc, &g);
  CHECK(slice_is(g.u.auth.token, "new.token.here"));
  cf__frame_free(&g);
  cf__buf_free(&enc);

  f.type = CF_FRAME_AUTH_OK;
  f.u.auth_ok.token_exp = INT64_MAX;
  round_trip(&f, &enc, &g);
  CHECK(g.u.auth_ok.token_exp == INT64_MAX);
  cf__frame_free(&g);
  cf__buf_free(&enc);
}

CF_TEST(test_codec_push_round_trips_changes) {
  static cf_push_change ch[3];
  cf_frame f, g;
  cf_buf enc;
  make_contact(&ch[0].row, 0, 0); /* an insert: one version */
  make_contact(&ch[1].row, 1, 1); /* three versions */
  ch[0].id = 1;
  ch[1].id = 2;
  /* an update of two columns */
  memset(&ch[2].row, 0, sizeof ch[2].row);
  ch[2].row.table = contacts();
  ch[2].id = UINT64_MAX;
  cf_ver v = make_ver(UINT64_MAX, 0xff);
  set_cell(&ch[2].row, 0, text("org"), NULL);
  set_cell(&ch[2].row, 1, text("id"), NULL);
  set_cell(&ch[2].row, 5, cf__value_null(), &v);
  set_cell(&ch[2].row, 7, text("[]"), &v);
  memset(&f, 0, sizeof f);
  f.type = CF_FRAME_PUSH;
  f.u.push = (cf_push){UINT64_MAX, ch, 3};
  round_trip(&f, &enc, &g);
  CHECK(g.u.push.batch_seq == UINT64_MAX);
  CHECK_EQ(g.u.push.nchanges, 3);
  for (int i = 0; i < 3; i++) {
    CHECK(g.u.push.changes[i].id == ch[i].id);
    CHECK_MSG(row_same(&g.u.push.changes[i].row, &ch[i].row), "change %d differs", i);
  }
  CHECK(g.owned == g.u.push.changes);
  cf__frame_free(&g);
  CHECK(g.owned == NULL);
  cf__buf_free(&enc);
}

CF_TEST(test_codec_push_result_round_trips) {
  cf_push_result res[4] = {
      {1, CF_PUSH_APPLIED, CF_REASON_NONE, {"", 0}},
      {5, CF_PUSH_SUPERSEDED, CF_REASON_NONE, {"newer version on master", 23}},
      {6,
       CF_PUSH_REJECTED,
       CF_REASON_CONSTRAINT,
       {"duplicate key contacts_org_email", 32}},
      {9, CF_PUSH_REJECTED, 200, {"a reason from the future", 24}},
  };
  cf_frame f, g;
  cf_buf enc;
  memset(&f, 0, sizeof f);
  f.type = CF_FRAME_PUSH_RESULT;
  f.u.push_result = (cf_push_reply){12, 3456, res, 4};
  round_trip(&f, &enc, &g);
  const cf_push_reply *r = &g.u.push_result;
  CHECK(r->batch_seq == 12 && r->head_seq == 3456 && r->nresults == 4);
  for (int i = 0; i < 4; i++) {
    CHECK(r->results[i].change_id == res[i].change_id);
    CHECK_EQ(r->results[i].status, res[i].status);
    CHECK_EQ(r->results[i].reason, res[i].reason);
    CHECK(r->results[i].message.n == res[i].message.n);
  }
  CHECK_STR(cf__reject_reason_name(r->results[2].reason), "constraint");
  CHECK_STR(cf__reject_reason_name(r->results[3].reason), "unknown");
  cf__frame_free(&g);
  cf__buf_free(&enc);
}

CF_TEST(test_codec_pull_round_trips) {
  cf_frame f, g;
  cf_buf enc;
  memset(&f, 0, sizeof f);
  f.type = CF_FRAME_PULL;
  f.u.pull = (cf_pull){0, CF_CODEC_MAX_ROWS};
  round_trip(&f, &enc, &g);
  CHECK(g.u.pull.from_seq == 0 && g.u.pull.limit == CF_CODEC_MAX_ROWS);
  cf__frame_free(&g);
  cf__buf_free(&enc);
  f.u.pull.limit = 0;
  cf__buf_init(&enc, 1024);
  CHECK_EQ(cf__frame_encode(&f, &enc), CF_INVALID);
  CHECK_EQ(enc.len, 0);
  cf__buf_free(&enc);
}

CF_TEST(test_codec_changes_round_trips_full_rows) {
  static cf_row rows[50];
  cf_frame f, g;
  cf_buf enc;
  for (unsigned i = 0; i < 50; i++)
    make_contact(&rows[i], i, i % 2);
  memset(&f, 0, sizeof f);
  f.type = CF_FRAME_CHANGES;
  f.u.changes = (cf_changes){777, 1, 900, rows, 50};
  round_trip(&f, &enc, &g);
  CHECK(g.u.changes.last_seq == 777 && g.u.changes.more == 1 &&
        g.u.changes.head_seq == 900);
  CHECK_EQ(g.u.changes.nrows, 50);
  for (unsigned i = 0; i < 50; i++)
    CHECK_MSG(row_same(&g.u.changes.rows[i], &rows[i]), "row %u differs", i);
  cf__frame_free(&g);
  cf__buf_free(&enc);

  /* An empty last page allocates nothing. */
  f.u.changes = (cf_changes){777, 0, 777, NULL, 0};
  round_trip(&f, &enc, &g);
  CHECK(g.u.changes.nrows == 0 && g.u.changes.rows == NULL && g.owned == NULL);
  CHECK_EQ(g.u.changes.more, 0);
  cf__frame_free(&g);
  cf__buf_free(&enc);
}

CF_TEST(test_codec_every_table_round_trips) {
  for (unsigned t = 0; t < CF_SCHEMA_NTABLES; t++) {
    static cf_row row;
    const cf_table *tab = cf__schema_table(t);
    CHECK(tab != NULL);
    memset(&row, 0, sizeof row);
    row.table = tab;
    for (unsigned c = 0; c <= tab->ncols; c++) {
      cf_ver v = make_ver(1000 + c % 3, (unsigned char)(c % 2 + 1));
      if (tab->key_mask & CF_COL_BIT(c))
        set_cell(&row, c, text("01234567-89ab-7def-8123-456789abcdef"), NULL);
      else if (c == tab->ncols)
        set_cell(&row, c, cf__value_int(0), &v);
      else
        set_cell(&row, c, cf__value_int((int64_t)c * 1000), &v);
    }
    cf_frame f, g;
    cf_buf enc;
    memset(&f, 0, sizeof f);
    f.type = CF_FRAME_CHANGES;
    f.u.changes = (cf_changes){1, 0, 1, &row, 1};
    round_trip(&f, &enc, &g);
    CHECK_MSG(row_same(&g.u.changes.rows[0], &row), "table %s differs", tab->name);
    cf__frame_free(&g);
    cf__buf_free(&enc);
  }
}

CF_TEST(test_codec_seq_frames_round_trip) {
  static const cf_frame_type types[] = {CF_FRAME_CHECKPOINT, CF_FRAME_LIVE,
                                        CF_FRAME_REBOOTSTRAP, CF_FRAME_PING,
                                        CF_FRAME_PONG};
  static const uint64_t seqs[] = {0,     1,     127,         128,         255,       256,
                                  65535, 65536, 4294967295u, 4294967296u, UINT64_MAX};
  for (size_t t = 0; t < sizeof types / sizeof *types; t++)
    for (size_t i = 0; i < sizeof seqs / sizeof *seqs; i++) {
      cf_frame f, g;
      cf_buf enc;
      memset(&f, 0, sizeof f);
      f.type = types[t];
      f.u.checkpoint.seq = seqs[i];
      round_trip(&f, &enc, &g);
      CHECK(g.u.checkpoint.seq == seqs[i]);
      cf__frame_free(&g);
      cf__buf_free(&enc);
    }
  /* The byte example of docs/protocol.md. */
  cf_buf b;
  cf__buf_init(&b, 64);
  CHECK_OK(cf__encode_seq(CF_FRAME_LIVE, 300, &b));
  static const unsigned char live300[] = {0x93, 0x01, 0x0a, 0xcd, 0x01, 0x2c};
  CHECK_EQ(b.len, sizeof live300);
  CHECK(memcmp(b.p, live300, sizeof live300) == 0);
  CHECK_EQ(cf__encode_seq(CF_FRAME_PUSH, 1, &b), CF_MISUSE);
  CHECK_EQ(b.len, sizeof live300);
  cf__buf_free(&b);
}

CF_TEST(test_codec_revoked_and_error_round_trip) {
  cf_frame f, g;
  cf_buf enc;
  memset(&f, 0, sizeof f);
  f.type = CF_FRAME_ACCESS_REVOKED;
  memset(f.u.revoked.org.b, 0xab, 16);
  f.u.revoked.message = (cf_slice){"removed from org", 16};
  round_trip(&f, &enc, &g);
  CHECK(memcmp(g.u.revoked.org.b, f.u.revoked.org.b, 16) == 0);
  CHECK(slice_is(g.u.revoked.message, "removed from org"));
  cf__frame_free(&g);
  cf__buf_free(&enc);

  memset(&f, 0, sizeof f);
  f.type = CF_FRAME_ERROR;
  f.u.error = (cf_error_frame){CF_WIRE_TOKEN_EXPIRED, {"token expired at 12:00", 22}};
  round_trip(&f, &enc, &g);
  CHECK_EQ(g.u.error.code, CF_WIRE_TOKEN_EXPIRED);
  CHECK(slice_is(g.u.error.message, "token expired at 12:00"));
  CHECK_EQ(cf__wire_error_result(g.u.error.code), CF_AUTH);
  CHECK_STR(cf__wire_error_name(g.u.error.code), "token_expired");
  CHECK_EQ(cf__wire_error_result(60000), CF_ERROR);
  cf__frame_free(&g);
  cf__buf_free(&enc);

  /* A long message is cut at a character boundary, never refused. */
  static char longmsg[3000];
  for (size_t i = 0; i + 2 <= sizeof longmsg; i += 2)
    memcpy(longmsg + i, "\xc3\xa9", 2);
  cf__buf_init(&enc, 8192);
  CHECK_OK(cf__encode_error(CF_WIRE_INTERNAL, longmsg, sizeof longmsg, &enc));
  CHECK_OK(cf__frame_decode(enc.p, enc.len, NULL, &g, NULL, 0));
  CHECK(g.u.error.message.n <= CF_CODEC_MAX_MESSAGE && g.u.error.message.n >= 1022);
  CHECK_EQ(g.u.error.message.n % 2, 0);
  cf__frame_free(&g);
  cf__buf_free(&enc);
}

CF_TEST(test_codec_reals_round_trip_exactly) {
  static const double reals[] = {0.0,
                                 -0.0,
                                 1.0,
                                 -1.5,
                                 0.1,
                                 1e308,
                                 -1e308,
                                 DBL_MAX,
                                 -DBL_MAX,
                                 DBL_MIN,
                                 4.9406564584124654e-324 /* denormal */,
                                 2.2250738585072009e-308 /* largest denormal */,
                                 3.141592653589793,
                                 9007199254740993.0};
  static cf_row row;
  cf_ver v = make_ver(5, 1);
  memset(&row, 0, sizeof row);
  row.table = contacts();
  set_cell(&row, 0, text("k"), NULL);
  set_cell(&row, 1, text("k"), NULL);
  for (size_t i = 0; i < sizeof reals / sizeof *reals; i++) {
    cf_frame f, g;
    cf_buf enc;
    set_cell(&row, 2, cf__value_real(reals[i]), &v);
    memset(&f, 0, sizeof f);
    f.type = CF_FRAME_CHANGES;
    f.u.changes = (cf_changes){1, 0, 1, &row, 1};
    round_trip(&f, &enc, &g);
    const cf_value *d = &g.u.changes.rows[0].cells[2].value;
    CHECK_EQ(d->kind, CF_VALUE_REAL);
    CHECK_MSG(memcmp(&d->d, &reals[i], sizeof(double)) == 0, "real %zu changed", i);
    CHECK_EQ(signbit(d->d) != 0, signbit(reals[i]) != 0);
    cf__frame_free(&g);
    cf__buf_free(&enc);
  }
  /* NaN and infinities are not values: the encoder refuses them. */
  cf_buf b;
  cf__buf_init(&b, 4096);
  set_cell(&row, 2, cf__value_real(NAN), &v);
  CHECK_EQ(cf__codec_put_row(&row, &b), CF_INVALID);
  set_cell(&row, 2, cf__value_real(-INFINITY), &v);
  CHECK_EQ(cf__codec_put_row(&row, &b), CF_INVALID);
  CHECK_EQ(b.len, 0);
  cf__buf_free(&b);
}

CF_TEST(test_codec_ints_round_trip_at_int64_extremes) {
  static const int64_t ints[] = {
      INT64_MIN, INT64_MIN + 1, -2147483649LL, -2147483648LL, -32769,   -32768,
      -129,      -128,          -33,           -32,           -1,       0,
      1,         127,           128,           255,           256,      65535,
      65536,     4294967295LL,  4294967296LL,  INT64_MAX - 1, INT64_MAX};
  static cf_row row;
  cf_ver v = make_ver(5, 1);
  memset(&row, 0, sizeof row);
  row.table = contacts();
  set_cell(&row, 0, text("k"), NULL);
  set_cell(&row, 1, text("k"), NULL);
  for (size_t i = 0; i < sizeof ints / sizeof *ints; i++) {
    cf_frame f, g;
    cf_buf enc;
    set_cell(&row, 3, cf__value_int(ints[i]), &v);
    memset(&f, 0, sizeof f);
    f.type = CF_FRAME_CHANGES;
    f.u.changes = (cf_changes){1, 0, 1, &row, 1};
    round_trip(&f, &enc, &g);
    const cf_value *d = &g.u.changes.rows[0].cells[3].value;
    CHECK_EQ(d->kind, CF_VALUE_INT);
    CHECK_MSG(d->i == ints[i], "int %zu changed", i);
    cf__frame_free(&g);
    cf__buf_free(&enc);
  }
}

CF_TEST(test_codec_empty_and_1mib_strings_round_trip) {
  static cf_row row;
  char *big = malloc(CF_VALUE_MAX_BYTES + 1);
  CHECK(big != NULL);
  for (size_t i = 0; i < CF_VALUE_MAX_BYTES + 1; i++)
    big[i] = (char)('a' + i % 26);
  cf_ver v = make_ver(5, 1);
  memset(&row, 0, sizeof row);
  row.table = contacts();
  set_cell(&row, 0, text(""), NULL);
  set_cell(&row, 1, text("k"), NULL);
  set_cell(&row, 2, cf__value_text(big, CF_VALUE_MAX_BYTES), &v);
  set_cell(&row, 3, cf__value_blob(big, CF_VALUE_MAX_BYTES), &v);
  set_cell(&row, 4, cf__value_blob("", 0), &v);
  set_cell(&row, 5, text(""), &v);
  cf_frame f, g;
  cf_buf enc;
  memset(&f, 0, sizeof f);
  f.type = CF_FRAME_CHANGES;
  f.u.changes = (cf_changes){1, 0, 1, &row, 1};
  round_trip(&f, &enc, &g);
  CHECK(row_same(&g.u.changes.rows[0], &row));
  CHECK_EQ(g.u.changes.rows[0].cells[4].value.kind, CF_VALUE_BLOB);
  CHECK_EQ(g.u.changes.rows[0].cells[5].value.n, 0);
  cf__frame_free(&g);
  cf__buf_free(&enc);

  /* One byte more is refused by the encoder... */
  cf__buf_init(&enc, CF_CODEC_MAX_FRAME);
  set_cell(&row, 2, cf__value_text(big, CF_VALUE_MAX_BYTES + 1), &v);
  CHECK_EQ(cf__codec_put_row(&row, &enc), CF_TOOBIG);
  CHECK_EQ(enc.len, 0);
  cf__buf_free(&enc);
  free(big);

  /* ...and by the decoder, even when the bytes are not there (str32 of
  ** 1 MiB + 1 in a 40-byte frame: CF_TOOBIG, not an allocation). */
  unsigned char frame[64];
  size_t n = 0;
  static const unsigned char head[] = {0x96, 0x01, 0x08, 0x01, 0xc2, 0x01, 0x91,
                                       0x95, 0x03, 0x07, 0x93, 0xa1, 'o',  0xa1,
                                       'i',  0xdb, 0x00, 0x10, 0x00, 0x01};
  memcpy(frame, head, sizeof head);
  n = sizeof head;
  memset(frame + n, 'x', 20);
  n += 20;
  CHECK_EQ(decode_fails(frame, n, NULL), CF_TOOBIG);
}

CF_TEST(test_codec_row_layout_shares_versions) {
  static cf_row row;
  cf_buf b;
  make_contact(&row, 0, 0);
  cf__buf_init(&b, 4096);
  CHECK_OK(cf__codec_put_row(&row, &b));
  /* An insert has one version: vers = [ver], vidx = nil at the very end. */
  CHECK_EQ((unsigned char)b.p[b.len - 1], 0xc0);
  CHECK_EQ((unsigned char)b.p[b.len - 28], 0x91);
  CHECK_EQ((unsigned char)b.p[b.len - 27], 0xc4);
  CHECK_EQ((unsigned char)b.p[b.len - 26], CF_VER_LEN);
  size_t one = b.len;
  cf__buf_reset(&b);
  make_contact(&row, 0, 1);
  CHECK_OK(cf__codec_put_row(&row, &b));
  /* Three versions and one index byte per versioned cell (10). */
  CHECK_EQ(b.len, one + 2 * 26 + 2 + 10 - 1);
  static const unsigned char vidx[] = {0xc4, 10, 0, 1, 0, 0, 2, 0, 1, 0, 2, 0};
  CHECK(memcmp(b.p + b.len - sizeof vidx, vidx, sizeof vidx) == 0);

  /* The two examples of docs/protocol.md "Rows": an insert starts
  ** 95 03 cd 0f ff 9c; after B updates company and C then phone (and
  ** updated_at), vidx is c4 0a 00 00 00 01 02 00 00 00 01 00. */
  cf__buf_reset(&b);
  make_contact(&row, 0, 0);
  CHECK_OK(cf__codec_put_row(&row, &b));
  static const unsigned char start[] = {0x95, 0x03, 0xcd, 0x0f, 0xff, 0x9c};
  CHECK(memcmp(b.p, start, sizeof start) == 0);
  cf_ver vb = make_ver(2000, 0xbb), vc = make_ver(3000, 0xcc);
  row.cells[6].ver = vb;
  row.cells[5].ver = vc;
  row.cells[10].ver = vc;
  cf__buf_reset(&b);
  CHECK_OK(cf__codec_put_row(&row, &b));
  static const unsigned char doc[] = {0xc4, 0x0a, 0, 0, 0, 1, 2, 0, 0, 0, 1, 0};
  CHECK(memcmp(b.p + b.len - sizeof doc, doc, sizeof doc) == 0);
  cf__buf_free(&b);
}

/* ---- malformed input ------------------------------------------------------- */

CF_TEST(test_codec_truncated_frames_fail_at_every_offset) {
  samples s;
  make_samples(&s);
  for (size_t i = 0; i < s.n; i++) {
    /* The whole frame decodes... */
    cf_frame f;
    CHECK_OK(cf__frame_decode(s.b[i].p, s.b[i].len, NULL, &f, NULL, 0));
    cf__frame_free(&f);
    /* ...every strict prefix fails, copied to a tight heap block so that
    ** AddressSanitizer sees any read past its end. */
    for (size_t n = 0; n < s.b[i].len; n++) {
      unsigned char *p = malloc(n ? n : 1);
      CHECK(p != NULL);
      memcpy(p, s.b[i].p, n);
      int rc = decode_fails(p, n, NULL);
      CHECK_MSG(rc == CF_PROTOCOL, "sample %zu cut at %zu: rc %d", i, n, rc);
      free(p);
    }
  }
  free_samples(&s);
}

CF_TEST(test_codec_huge_array_count_fails_before_allocating) {
  /* CHANGES whose rows array declares 2^32-1 rows, with 3 bytes after it. */
  static const unsigned char lying[] = {0x96, 0x01, 0x08, 0x01, 0xc2, 0x01, 0xdd,
                                        0xff, 0xff, 0xff, 0xff, 0x95, 0x03, 0x07};
  cf_codec_limits lim = {0, 0};
  cf__alloc_fail_at(0); /* resets the counter */
  CHECK_EQ(decode_fails(lying, sizeof lying, &lim), CF_TOOBIG);
  CHECK_EQ(cf__alloc_count(), 0);
  /* Under the limit but more than the bytes can hold: refused, no alloc. */
  static const unsigned char lying2[] = {0x96, 0x01, 0x08, 0x01, 0xc2, 0x01,
                                         0xdc, 0x27, 0x0f, 0x95, 0x03, 0x07};
  cf__alloc_fail_at(0);
  CHECK_EQ(decode_fails(lying2, sizeof lying2, NULL), CF_PROTOCOL);
  CHECK_EQ(cf__alloc_count(), 0);
  /* The same for PUSH changes, PUSH_RESULT results and the frame itself. */
  static const unsigned char lying3[] = {0x94, 0x01, 0x05, 0x01, 0xdc, 0x00, 0x20, 0x96};
  CHECK_EQ(decode_fails(lying3, sizeof lying3, NULL), CF_PROTOCOL);
  static const unsigned char lying4[] = {0x95, 0x01, 0x06, 0x01, 0x01,
                                         0xdc, 0x00, 0x64, 0x94};
  CHECK_EQ(decode_fails(lying4, sizeof lying4, NULL), CF_PROTOCOL);
  static const unsigned char lying5[] = {0xdd, 0x7f, 0xff, 0xff, 0xff, 0x01, 0x0a};
  CHECK_EQ(decode_fails(lying5, sizeof lying5, NULL), CF_PROTOCOL);
  CHECK_EQ(cf__alloc_count(), 0);
  /* A count over the configured limit is CF_TOOBIG even with the bytes. */
  samples s;
  make_samples(&s);
  cf_codec_limits two = {0, 2};
  cf_frame f;
  CHECK_EQ(cf__frame_decode(s.b[7].p, s.b[7].len, &two, &f, NULL, 0), CF_TOOBIG);
  cf__frame_free(&f);
  free_samples(&s);
}

CF_TEST(test_codec_nesting_bombs_are_refused) {
  size_t n = 100000;
  unsigned char *bomb = malloc(n);
  CHECK(bomb != NULL);
  memset(bomb, 0x91, n); /* [[[[...]]]] */
  CHECK_EQ(decode_fails(bomb, n, NULL), CF_PROTOCOL);
  /* Nested arrays where a row's values are expected. */
  static const unsigned char head[] = {0x96, 0x01, 0x08, 0x01, 0xc2, 0x01,
                                       0x91, 0x95, 0x03, 0x03, 0x92};
  memcpy(bomb, head, sizeof head);
  CHECK_EQ(decode_fails(bomb, n, NULL), CF_PROTOCOL);
  /* Nested maps. */
  memset(bomb, 0x81, n);
  CHECK_EQ(decode_fails(bomb, n, NULL), CF_PROTOCOL);
  free(bomb);
}

CF_TEST(test_codec_wrong_type_in_any_field_is_refused) {
  samples s;
  make_samples(&s);
  static const unsigned char wrongs[] = {0xc3, 0x80, 0xc0, 0x90, 0xa0};
  for (size_t i = 0; i < s.n; i++) {
    const unsigned char *p = (const unsigned char *)s.b[i].p;
    size_t nelem = p[0] & 0x0f, off = 1;
    for (size_t e = 0; e < nelem; e++) {
      size_t len = mp_len(p + off);
      for (size_t w = 0; w < sizeof wrongs; w++) {
        /* Skip replacements that are the field's own type: an empty string
        ** for a message or token is valid; nil is the wrong type for more. */
        if ((p[off] >= 0xa0 && p[off] <= 0xbf && wrongs[w] == 0xa0) ||
            (p[off] >= 0x90 && p[off] <= 0x9f && wrongs[w] == 0x90))
          continue;
        if ((p[off] == 0xc2 || p[off] == 0xc3) && wrongs[w] == 0xc3) continue;
        unsigned char *m = malloc(s.b[i].len);
        CHECK(m != NULL);
        memcpy(m, p, off);
        m[off] = wrongs[w];
        memcpy(m + off + 1, p + off + len, s.b[i].len - off - len);
        size_t mlen = s.b[i].len - len + 1;
        int rc = decode_fails(m, mlen, NULL);
        CHECK_MSG(rc == CF_PROTOCOL, "sample %zu field %zu as 0x%02x: rc %d", i, e,
                  wrongs[w], rc);
        free(m);
      }
      off += len;
    }
  }
  free_samples(&s);
}

/* The PUSH sample with one byte changed (or a replacement of the frame). */
static unsigned char *push_copy(const samples *s, size_t *n) {
  *n = s->b[4].len;
  unsigned char *m = malloc(*n);
  CHECK(m != NULL);
  memcpy(m, s->b[4].p, *n);
  return m;
}

/* Offset of the first change's fields: [1, 5, batch, [[id, table, ...]]]. */
static size_t first_change_at(const unsigned char *m) {
  size_t off = 1 + 1 + 1 + mp_len(m + 3); /* envelope, batch seq */
  off += 1;                               /* changes array header (fixarray) */
  off += 1;                               /* change fixarray(6) */
  off += mp_len(m + off);                 /* change id */
  return off;                             /* at the table number */
}

CF_TEST(test_codec_bad_version_length_is_refused) {
  samples s;
  make_samples(&s);
  size_t n;
  unsigned char *m = push_copy(&s, &n);
  /* Find the first version: bin8 of 24 bytes. */
  size_t at = 0;
  for (size_t i = 0; i + 1 < n; i++)
    if (m[i] == 0xc4 && m[i + 1] == 24) {
      at = i;
      break;
    }
  CHECK(at > 0);
  m[at + 1] = 23;
  char why[256];
  cf_frame f;
  CHECK_EQ(cf__frame_decode(m, n, NULL, &f, why, sizeof why), CF_PROTOCOL);
  CHECK_MSG(strstr(why, "24 bytes") != NULL, "message: %s", why);
  m[at + 1] = 25;
  CHECK_EQ(decode_fails(m, n, NULL), CF_PROTOCOL);
  /* An all-zero version is never a write. */
  m[at + 1] = 24;
  memset(m + at + 2, 0, 24);
  CHECK_EQ(decode_fails(m, n, NULL), CF_PROTOCOL);
  free(m);
  free_samples(&s);
}

CF_TEST(test_codec_unknown_table_number_is_refused) {
  samples s;
  make_samples(&s);
  size_t n;
  unsigned char *m = push_copy(&s, &n);
  size_t at = first_change_at(m);
  CHECK_EQ(m[at], 3);        /* contacts */
  m[at] = CF_SCHEMA_NTABLES; /* the first number past the registry (10 with ten) */
  char why[256], unknown[64];
  snprintf(unknown, sizeof unknown, "unknown table number %d", CF_SCHEMA_NTABLES);
  cf_frame f;
  CHECK_EQ(cf__frame_decode(m, n, NULL, &f, why, sizeof why), CF_PROTOCOL);
  CHECK_MSG(strstr(why, unknown) != NULL, "message: %s", why);
  CHECK_MSG(strstr(why, "PUSH: change 0") != NULL, "message: %s", why);
  m[at] = 0x7f;
  CHECK_EQ(decode_fails(m, n, NULL), CF_PROTOCOL);
  free(m);
  free_samples(&s);
}

CF_TEST(test_codec_mask_bit_past_ncols_is_refused) {
  /* A hand-built CHANGES row: contacts, keys + deleted, plus bit ncols+1. */
  const cf_table *t = contacts();
  uint64_t mask = t->key_mask | CF_COL_BIT(t->ncols) | CF_COL_BIT(t->ncols + 1);
  unsigned char m[128];
  size_t n = 0;
  static const unsigned char head[] = {0x96, 0x01, 0x08, 0x01, 0xc2,
                                       0x01, 0x91, 0x95, 0x03};
  memcpy(m, head, sizeof head);
  n = sizeof head;
  m[n++] = 0xcd;
  m[n++] = (unsigned char)(mask >> 8);
  m[n++] = (unsigned char)mask;
  static const unsigned char rest[] = {0x94, 0xa1, 'o', 0xa1, 'i', 0x00, 0x00};
  memcpy(m + n, rest, sizeof rest);
  n += sizeof rest;
  char why[256];
  cf_frame f;
  CHECK_EQ(cf__frame_decode(m, n, NULL, &f, why, sizeof why), CF_PROTOCOL);
  CHECK_MSG(strstr(why, "above column") != NULL, "message: %s", why);
  /* The same without the key columns: refused too. */
  mask = CF_COL_BIT(t->ncols);
  memcpy(m, head, sizeof head);
  n = sizeof head;
  m[n++] = 0xcd;
  m[n++] = (unsigned char)(mask >> 8);
  m[n++] = (unsigned char)mask;
  static const unsigned char rest2[] = {0x91, 0x00, 0x91, 0xc4, 24};
  memcpy(m + n, rest2, sizeof rest2);
  n += sizeof rest2;
  memset(m + n, 1, 24);
  n += 24;
  m[n++] = 0xc0;
  CHECK_EQ(cf__frame_decode(m, n, NULL, &f, why, sizeof why), CF_PROTOCOL);
  CHECK_MSG(strstr(why, "key column") != NULL, "message: %s", why);
  /* A values array that does not match the mask. */
  mask = t->key_mask;
  static const unsigned char short_values[] = {0x96, 0x01, 0x08, 0x01, 0xc2,
                                               0x01, 0x91, 0x95, 0x03, 0x03,
                                               0x91, 0xa1, 'o',  0x90, 0xc0};
  CHECK_EQ(decode_fails(short_values, sizeof short_values, NULL), CF_PROTOCOL);
}

CF_TEST(test_codec_bad_cells_are_refused) {
  /* [1,8,1,false,1,[[3, keys+deleted, [k, k, X], [ver], nil]]] with X bad. */
  const cf_table *t = contacts();
  uint64_t mask = t->key_mask | CF_COL_BIT(t->ncols);
  static const unsigned char bad[][10] = {
      {0x02},                               /* deleted = 2 */
      {0xa1, '1'},                          /* deleted as text */
      {0xc3},                               /* boolean */
      {0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0}, /* NaN */
      {0xca, 0, 0, 0, 0},                   /* float32 */
      {0xd4, 0, 0},                         /* fixext */
  };
  static const size_t badlen[] = {1, 2, 1, 9, 5, 3};
  for (size_t b = 0; b < sizeof badlen / sizeof *badlen; b++) {
    unsigned char m[128];
    size_t n = 0;
    static const unsigned char head[] = {0x96, 0x01, 0x08, 0x01, 0xc2,
                                         0x01, 0x91, 0x95, 0x03};
    memcpy(m, head, sizeof head);
    n = sizeof head;
    m[n++] = 0xcd;
    m[n++] = (unsigned char)(mask >> 8);
    m[n++] = (unsigned char)mask;
    static const unsigned char keys[] = {0x93, 0xa1, 'o', 0xa1, 'i'};
    memcpy(m + n, keys, sizeof keys);
    n += sizeof keys;
    memcpy(m + n, bad[b], badlen[b]);
    n += badlen[b];
    m[n++] = 0x91;
    m[n++] = 0xc4;
    m[n++] = 24;
    memset(m + n, 1, 24);
    n += 24;
    m[n++] = 0xc0;
    CHECK_MSG(decode_fails(m, n, NULL) == CF_PROTOCOL, "bad cell %zu accepted", b);
    /* The same frame with a good deleted cell decodes. */
    if (b == 0) {
      cf_frame f;
      m[sizeof head + 3 + sizeof keys] = 0x01;
      CHECK_OK(cf__frame_decode(m, n, NULL, &f, NULL, 0));
      CHECK(cf__row_is_deleted(&f.u.changes.rows[0]));
      cf__frame_free(&f);
    }
  }
  /* A key cell that is not a string. */
  static const unsigned char intkey[] = {0x96, 0x01, 0x08, 0x01, 0xc2, 0x01, 0x91, 0x95,
                                         0x03, 0x03, 0x92, 0x05, 0xa1, 'i',  0x90, 0xc0};
  CHECK_EQ(decode_fails(intkey, sizeof intkey, NULL), CF_PROTOCOL);
}

CF_TEST(test_codec_vidx_must_be_canonical) {
  /* Row with two versioned cells (first_name, last_name). */
  unsigned char m[256];
  size_t n, at_vers;
  static const unsigned char head[] = {0x96, 0x01, 0x08, 0x01, 0xc2, 0x01, 0x91,
                                       0x95, 0x03, 0x0f, 0x94, 0xa1, 'o',  0xa1,
                                       'i',  0xa1, 'a',  0xa1, 'b'};
  memcpy(m, head, sizeof head);
  n = sizeof head;
  at_vers = n;
  /* vers = [v1, v2], vidx = bin [0, 1]: valid. */
  m[n++] = 0x92;
  for (int v = 1; v <= 2; v++) {
    m[n++] = 0xc4;
    m[n++] = 24;
    memset(m + n, v, 24);
    n += 24;
  }
  size_t at_vidx = n;
  m[n++] = 0xc4;
  m[n++] = 2;
  m[n++] = 0;
  m[n++] = 1;
  cf_frame f;
  CHECK_OK(cf__frame_decode(m, n, NULL, &f, NULL, 0));
  CHECK(f.u.changes.rows[0].cells[2].ver.b[0] == 1);
  CHECK(f.u.changes.rows[0].cells[3].ver.b[0] == 2);
  cf__frame_free(&f);
  /* First uses out of order: [1, 0]. */
  m[at_vidx + 2] = 1;
  m[at_vidx + 3] = 0;
  CHECK_EQ(decode_fails(m, n, NULL), CF_PROTOCOL);
  /* An unused entry: [0, 0]. */
  m[at_vidx + 2] = 0;
  CHECK_EQ(decode_fails(m, n, NULL), CF_PROTOCOL);
  /* An index past the dictionary: [0, 2]. */
  m[at_vidx + 3] = 2;
  CHECK_EQ(decode_fails(m, n, NULL), CF_PROTOCOL);
  /* The same version twice. */
  m[at_vidx + 3] = 1;
  memset(m + at_vers + 3 + 26, 1, 24);
  CHECK_EQ(decode_fails(m, n, NULL), CF_PROTOCOL);
  /* One version with a bin vidx instead of nil. */
  n = at_vers;
  m[n++] = 0x91;
  m[n++] = 0xc4;
  m[n++] = 24;
  memset(m + n, 1, 24);
  n += 24;
  m[n++] = 0xc4;
  m[n++] = 2;
  m[n++] = 0;
  m[n++] = 0;
  CHECK_EQ(decode_fails(m, n, NULL), CF_PROTOCOL);
  m[n - 4] = 0xc0; /* nil: valid */
  CHECK_OK(cf__frame_decode(m, n - 3, NULL, &f, NULL, 0));
  cf__frame_free(&f);
  /* No versions at all for versioned cells. */
  n = at_vers;
  m[n++] = 0x90;
  m[n++] = 0xc0;
  CHECK_EQ(decode_fails(m, n, NULL), CF_PROTOCOL);
}

CF_TEST(test_codec_strings_over_their_cap_are_toobig) {
  cf_frame f;
  cf_buf b;
  char *tok = malloc(CF_CODEC_MAX_TOKEN + 1);
  CHECK(tok != NULL);
  memset(tok, 'a', CF_CODEC_MAX_TOKEN + 1);
  memset(&f, 0, sizeof f);
  f.type = CF_FRAME_AUTH;
  f.u.auth.token = (cf_slice){tok, CF_CODEC_MAX_TOKEN + 1};
  cf__buf_init(&b, CF_CODEC_MAX_FRAME);
  CHECK_EQ(cf__frame_encode(&f, &b), CF_TOOBIG);
  CHECK_EQ(b.len, 0);
  f.u.auth.token.n = CF_CODEC_MAX_TOKEN;
  CHECK_OK(cf__frame_encode(&f, &b));
  /* Hand-grow the str16 length by one and append a byte. */
  CHECK_EQ((unsigned char)b.p[3], 0xda);
  size_t len = ((size_t)(unsigned char)b.p[4] << 8 | (unsigned char)b.p[5]) + 1;
  b.p[4] = (char)(len >> 8);
  b.p[5] = (char)len;
  CHECK_OK(cf__buf_putc(&b, 'a'));
  char why[256];
  cf_frame g;
  CHECK_EQ(cf__frame_decode(b.p, b.len, NULL, &g, why, sizeof why), CF_TOOBIG);
  CHECK_MSG(strstr(why, "token") != NULL, "message: %s", why);
  cf__buf_free(&b);
  free(tok);

  /* A role over 64 bytes. */
  static const char role[65] =
      "0123456789012345678901234567890123456789012345678901234567890123";
  f.type = CF_FRAME_WELCOME;
  memset(&f.u, 0, sizeof f.u);
  f.u.welcome.proto = 1;
  f.u.welcome.role = (cf_slice){role, 65};
  cf__buf_init(&b, 1024);
  CHECK_EQ(cf__frame_encode(&f, &b), CF_TOOBIG);
  /* Invalid UTF-8 in a frame string is refused both ways. */
  f.u.welcome.role = (cf_slice){"\xff", 1};
  CHECK_EQ(cf__frame_encode(&f, &b), CF_INVALID);
  f.u.welcome.role = (cf_slice){"x", 1};
  CHECK_OK(cf__frame_encode(&f, &b));
  char *r = memchr(b.p, 'x', b.len);
  CHECK(r != NULL);
  *r = (char)0xff;
  CHECK_EQ(decode_fails(b.p, b.len, NULL), CF_PROTOCOL);
  cf__buf_free(&b);
}

CF_TEST(test_codec_trailing_garbage_is_refused) {
  samples s;
  make_samples(&s);
  for (size_t i = 0; i < s.n; i++) {
    CHECK_OK(cf__buf_putc(&s.b[i], 0x00));
    char why[256];
    cf_frame f;
    CHECK_EQ(cf__frame_decode(s.b[i].p, s.b[i].len, NULL, &f, why, sizeof why),
             CF_PROTOCOL);
    CHECK_MSG(strstr(why, "trailing") != NULL, "message: %s", why);
    /* Two frames in one message are refused the same way. */
    cf__buf_truncate(&s.b[i], s.b[i].len - 1);
    size_t n = s.b[i].len;
    char *copy = malloc(n);
    CHECK(copy != NULL);
    memcpy(copy, s.b[i].p, n);
    CHECK_OK(cf__buf_append(&s.b[i], copy, n));
    free(copy);
    CHECK_EQ(decode_fails(s.b[i].p, s.b[i].len, NULL), CF_PROTOCOL);
  }
  free_samples(&s);
}

CF_TEST(test_codec_unknown_frame_type_is_refused) {
  static const unsigned char t0[] = {0x93, 0x01, 0x00, 0x01};
  static const unsigned char t17[] = {0x93, 0x01, 0x11, 0x01};
  static const unsigned char t200[] = {0x93, 0x01, 0xcc, 0xc8, 0x01};
  char why[256];
  cf_frame f;
  CHECK_EQ(cf__frame_decode(t17, sizeof t17, NULL, &f, why, sizeof why), CF_PROTOCOL);
  CHECK_MSG(strstr(why, "unknown frame type 17") != NULL, "message: %s", why);
  CHECK_EQ(cf__frame_decode(t200, sizeof t200, NULL, &f, why, sizeof why), CF_PROTOCOL);
  CHECK_MSG(strstr(why, "unknown frame type 200") != NULL, "message: %s", why);
  CHECK_EQ(decode_fails(t0, sizeof t0, NULL), CF_PROTOCOL);
  /* A known type with the wrong number of fields. */
  static const unsigned char live2[] = {0x94, 0x01, 0x0a, 0x01, 0x02};
  CHECK_EQ(cf__frame_decode(live2, sizeof live2, NULL, &f, why, sizeof why), CF_PROTOCOL);
  CHECK_MSG(strstr(why, "LIVE") != NULL, "message: %s", why);
  static const unsigned char bare[] = {0x91, 0x01};
  CHECK_EQ(decode_fails(bare, sizeof bare, NULL), CF_PROTOCOL);
  CHECK_EQ(decode_fails("", 0, NULL), CF_PROTOCOL);
  CHECK_EQ(decode_fails(NULL, 0, NULL), CF_PROTOCOL);
  static const unsigned char map[] = {0x80};
  CHECK_EQ(decode_fails(map, sizeof map, NULL), CF_PROTOCOL);
}

CF_TEST(test_codec_feed_round_trips_and_wraps_a_body) {
  /* FEED [1, 16, from, last, more, head, rows]: the bytes of the example in
  ** docs/protocol.md (from 300, last 301, no more, head 301, no rows). */
  static const unsigned char feed[] = {0x97, 0x01, 0x10, 0xcd, 0x01, 0x2c, 0xcd,
                                       0x01, 0x2d, 0xc2, 0xcd, 0x01, 0x2d, 0x90};
  cf_frame f;
  char why[256];
  CHECK_OK(cf__frame_decode(feed, sizeof feed, NULL, &f, why, sizeof why));
  CHECK_EQ(f.type, CF_FRAME_FEED);
  CHECK_EQ(f.u.feed.from_seq, 300);
  CHECK_EQ(f.u.feed.changes.last_seq, 301);
  CHECK_EQ(f.u.feed.changes.more, 0);
  CHECK_EQ(f.u.feed.changes.head_seq, 301);
  CHECK_EQ(f.u.feed.changes.nrows, 0);
  cf_buf b;
  cf__buf_init(&b, 1024);
  CHECK_OK(cf__frame_encode(&f, &b));
  CHECK_EQ(b.len, sizeof feed);
  CHECK(memcmp(b.p, feed, sizeof feed) == 0);
  cf__buf_reset(&b);
  CHECK_OK(cf__encode_feed_body(300, 301, 0, 301, 0, NULL, 0, &b));
  CHECK_EQ(b.len, sizeof feed);
  CHECK(memcmp(b.p, feed, sizeof feed) == 0);
  cf__buf_free(&b);
  cf__frame_free(&f);
  /* one field short is refused like any frame of the wrong length */
  static const unsigned char short_feed[] = {0x96, 0x01, 0x10, 0x01,
                                             0x02, 0xc2, 0x02, 0x90};
  CHECK_EQ(cf__frame_decode(short_feed, sizeof short_feed, NULL, &f, why, sizeof why),
           CF_PROTOCOL);
}

CF_TEST(test_codec_wrong_protocol_version_is_refused) {
  static const unsigned char v2[] = {0x93, 0x02, 0x0a, 0x01};
  static const unsigned char v0[] = {0x93, 0x00, 0x0a, 0x01};
  static const unsigned char v300[] = {0x93, 0xcd, 0x01, 0x2c, 0x0a, 0x01};
  static const unsigned char vneg[] = {0x93, 0xff, 0x0a, 0x01};
  char why[256];
  cf_frame f;
  CHECK_EQ(cf__frame_decode(v2, sizeof v2, NULL, &f, why, sizeof why), CF_PROTOCOL);
  CHECK_MSG(strstr(why, "unsupported protocol version 2") != NULL, "message: %s", why);
  CHECK_EQ(cf__frame_decode(v300, sizeof v300, NULL, &f, why, sizeof why), CF_PROTOCOL);
  CHECK_MSG(strstr(why, "version 300") != NULL && strstr(why, "byte 1") != NULL,
            "message: %s", why);
  CHECK_EQ(decode_fails(v0, sizeof v0, NULL), CF_PROTOCOL);
  CHECK_EQ(decode_fails(vneg, sizeof vneg, NULL), CF_PROTOCOL);
  /* HELLO's version range is checked too. */
  cf_hello h;
  memset(&h, 0, sizeof h);
  h.proto_min = 2;
  h.proto_max = 1;
  cf_buf b;
  cf__buf_init(&b, 1024);
  CHECK_EQ(cf__encode_hello(&h, &b), CF_INVALID);
  cf__buf_free(&b);
}

CF_TEST(test_codec_hello_init_sets_the_offer_and_zeroes_the_rest) {
  cf_hello h;
  memset(&h, 0xa5, sizeof h);
  cf__hello_init(&h, "tok.en.sig", 2, "app/1");
  CHECK_EQ(h.proto_min, CF_PROTO_MIN);
  CHECK_EQ(h.proto_max, 2u);
  CHECK(h.token.n == 10 && memcmp(h.token.p, "tok.en.sig", 10) == 0);
  CHECK(h.software.n == 5 && memcmp(h.software.p, "app/1", 5) == 0);
  static const unsigned char zero[sizeof(cf_uuid)];
  CHECK(memcmp(&h.org, zero, sizeof h.org) == 0 &&
        memcmp(&h.user, zero, sizeof h.user) == 0);
  CHECK(h.cursor == 0 && h.last_batch == 0 && h.hlc == 0);
  cf__hello_init(&h, "t", CF_PROTO_MAX, NULL);
  CHECK(h.software.p == NULL && h.software.n == 0);
}

CF_TEST(test_codec_non_canonical_forms_are_refused) {
  /* LIVE with seq 5 as uint8, uint16, uint32, uint64, and as int8. */
  static const unsigned char forms[][12] = {
      {0x93, 0x01, 0x0a, 0xcc, 0x05},
      {0x93, 0x01, 0x0a, 0xcd, 0x00, 0x05},
      {0x93, 0x01, 0x0a, 0xce, 0x00, 0x00, 0x00, 0x05},
      {0x93, 0x01, 0x0a, 0xcf, 0, 0, 0, 0, 0, 0, 0, 0x05},
      {0x93, 0x01, 0x0a, 0xd0, 0x05},
      {0xdc, 0x00, 0x03, 0x01, 0x0a, 0x05}, /* array16 for 3 elements */
  };
  static const size_t lens[] = {5, 6, 8, 12, 5, 6};
  for (size_t i = 0; i < sizeof lens / sizeof *lens; i++)
    CHECK_MSG(decode_fails(forms[i], lens[i], NULL) == CF_PROTOCOL, "form %zu accepted",
              i);
  /* AUTH with a 3-byte token as str8; AUTH_OK with -5 as int8; token_exp
  ** -200 as int32. */
  static const unsigned char str8[] = {0x93, 0x01, 0x03, 0xd9, 0x03, 'a', 'b', 'c'};
  CHECK_EQ(decode_fails(str8, sizeof str8, NULL), CF_PROTOCOL);
  static const unsigned char int8[] = {0x93, 0x01, 0x04, 0xd0, 0xfb};
  CHECK_EQ(decode_fails(int8, sizeof int8, NULL), CF_PROTOCOL);
  static const unsigned char int32[] = {0x93, 0x01, 0x04, 0xd2, 0xff, 0xff, 0xff, 0x38};
  CHECK_EQ(decode_fails(int32, sizeof int32, NULL), CF_PROTOCOL);
  static const unsigned char int16ok[] = {0x93, 0x01, 0x04, 0xd1, 0xff, 0x38};
  cf_frame f;
  CHECK_OK(cf__frame_decode(int16ok, sizeof int16ok, NULL, &f, NULL, 0));
  CHECK(f.u.auth_ok.token_exp == -200);
  /* A uint64 over INT64_MAX where an int is expected. */
  static const unsigned char big[] = {0x93, 0x01, 0x04, 0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0};
  CHECK_EQ(decode_fails(big, sizeof big, NULL), CF_PROTOCOL);
}

CF_TEST(test_codec_frame_over_the_limit_is_toobig) {
  samples s;
  make_samples(&s);
  cf_codec_limits lim = {s.b[7].len - 1, 0};
  char why[256];
  cf_frame f;
  CHECK_EQ(cf__frame_decode(s.b[7].p, s.b[7].len, &lim, &f, why, sizeof why), CF_TOOBIG);
  CHECK_MSG(strstr(why, "frame limit") != NULL, "message: %s", why);
  lim.max_frame_bytes = s.b[7].len;
  CHECK_OK(cf__frame_decode(s.b[7].p, s.b[7].len, &lim, &f, NULL, 0));
  cf__frame_free(&f);
  /* More rows than the limit, more changes, more results. */
  cf_codec_limits one = {0, 1};
  CHECK_EQ(decode_fails(s.b[7].p, s.b[7].len, &one), CF_TOOBIG);
  CHECK_EQ(decode_fails(s.b[4].p, s.b[4].len, &one), CF_TOOBIG);
  CHECK_EQ(decode_fails(s.b[5].p, s.b[5].len, &one), CF_TOOBIG);
  /* A frame of CF_CODEC_MAX_FRAME + 1 bytes, whatever it holds. */
  unsigned char *huge = calloc(1, CF_CODEC_MAX_FRAME + 1);
  CHECK(huge != NULL);
  CHECK_EQ(decode_fails(huge, CF_CODEC_MAX_FRAME + 1, NULL), CF_TOOBIG);
  free(huge);
  free_samples(&s);
}

CF_TEST(test_codec_push_ids_and_result_reasons_are_checked) {
  samples s;
  make_samples(&s);
  cf_frame f;
  memset(&f, 0, sizeof f);
  cf_buf b;
  cf__buf_init(&b, 1 << 20);
  /* Change ids not increasing. */
  cf_push_change ch[2] = {{5, sample_rows[0]}, {5, sample_rows[2]}};
  f.type = CF_FRAME_PUSH;
  f.u.push = (cf_push){1, ch, 2};
  CHECK_EQ(cf__frame_encode(&f, &b), CF_INVALID);
  CHECK_EQ(b.len, 0);
  f.u.push.batch_seq = 0;
  ch[1].id = 6;
  CHECK_EQ(cf__frame_encode(&f, &b), CF_INVALID);
  f.u.push.batch_seq = 1;
  f.u.push.nchanges = 0;
  CHECK_EQ(cf__frame_encode(&f, &b), CF_INVALID);
  /* A rejection without a reason, and a reason without a rejection. */
  cf_push_result res = {1, CF_PUSH_REJECTED, 0, {"", 0}};
  f.type = CF_FRAME_PUSH_RESULT;
  f.u.push_result = (cf_push_reply){1, 1, &res, 1};
  CHECK_EQ(cf__frame_encode(&f, &b), CF_INVALID);
  res.status = CF_PUSH_APPLIED;
  res.reason = CF_REASON_PERMISSION;
  CHECK_EQ(cf__frame_encode(&f, &b), CF_INVALID);
  res.reason = 0;
  CHECK_OK(cf__frame_encode(&f, &b));
  /* On the wire: [1, 6, 1, 1, [[1, 0, 0, ""]]]; make it rejected/0. */
  CHECK_EQ((unsigned char)b.p[b.len - 3], 0x00);
  b.p[b.len - 3] = 0x02;
  CHECK_EQ(decode_fails(b.p, b.len, NULL), CF_PROTOCOL);
  b.p[b.len - 2] = 0x03;
  cf_frame g;
  CHECK_OK(cf__frame_decode(b.p, b.len, NULL, &g, NULL, 0));
  CHECK_EQ(g.u.push_result.results[0].reason, CF_REASON_INVALID);
  cf__frame_free(&g);
  b.p[b.len - 3] = 0x03; /* status 3 */
  CHECK_EQ(decode_fails(b.p, b.len, NULL), CF_PROTOCOL);
  cf__buf_free(&b);
  /* Duplicate ids in a decoded PUSH: make the second change's id the first's. */
  size_t n = s.b[4].len;
  unsigned char *m = malloc(n);
  CHECK(m != NULL);
  memcpy(m, s.b[4].p, n);
  size_t first = 1 + 1 + 1 + mp_len(m + 3) + 1; /* first change */
  size_t second = first + mp_len(m + first);
  CHECK_EQ(m[first + 1], 41);
  CHECK_EQ(m[second + 1], 42);
  m[second + 1] = 41;
  CHECK_EQ(decode_fails(m, n, NULL), CF_PROTOCOL);
  free(m);
  free_samples(&s);
}

CF_TEST(test_codec_encoder_refuses_invalid_rows_and_keeps_buffer) {
  static cf_row row;
  cf_buf b;
  cf__buf_init(&b, 1 << 16);
  CHECK_OK(cf__buf_puts(&b, "prefix"));
  make_contact(&row, 0, 0);
  row.cells[contacts()->ncols].value = cf__value_int(2); /* deleted = 2 */
  CHECK_EQ(cf__codec_put_row(&row, &b), CF_INVALID);
  make_contact(&row, 0, 0);
  row.cells[0].value = cf__value_null(); /* key not text */
  CHECK_EQ(cf__codec_put_row(&row, &b), CF_INVALID);
  make_contact(&row, 0, 0);
  memset(row.cells[4].ver.b, 0, CF_VER_LEN); /* zero version */
  CHECK_EQ(cf__codec_put_row(&row, &b), CF_INVALID);
  make_contact(&row, 0, 0);
  row.present &= ~CF_COL_BIT(1); /* key missing */
  CHECK_EQ(cf__codec_put_row(&row, &b), CF_INVALID);
  make_contact(&row, 0, 0);
  row.present |= CF_COL_BIT(contacts()->ncols + 1); /* past deleted */
  CHECK_EQ(cf__codec_put_row(&row, &b), CF_INVALID);
  make_contact(&row, 0, 0);
  cf_table fake = *contacts(); /* not the schema's descriptor */
  row.table = &fake;
  CHECK_EQ(cf__codec_put_row(&row, &b), CF_INVALID);
  CHECK_EQ(b.len, 6);
  CHECK_STR(b.p, "prefix");
  cf__buf_free(&b);
}

CF_TEST(test_codec_pages_fill_up_to_the_frame_cap) {
  static cf_row row;
  const size_t max_frame = 16384;
  cf_buf body, out;
  cf__buf_init(&body, max_frame - CF_CODEC_FRAME_OVERHEAD);
  size_t n = 0;
  for (unsigned i = 0; i < 1000; i++) {
    make_contact(&row, i, i % 2);
    int rc = cf__codec_put_row(&row, &body);
    if (rc == CF_TOOBIG) break;
    CHECK_OK(rc);
    n++;
  }
  CHECK(n > 10 && n < 1000);
  cf__buf_init(&out, max_frame);
  CHECK_OK(cf__encode_changes_body(n + 5, 1, 5000, n, body.p, body.len, &out));
  cf_codec_limits lim = {max_frame, 0};
  cf_frame f;
  CHECK_OK(cf__frame_decode(out.p, out.len, &lim, &f, NULL, 0));
  CHECK_EQ(f.u.changes.nrows, n);
  for (unsigned i = 0; i < n; i++) {
    make_contact(&row, i, i % 2);
    CHECK(row_same(&f.u.changes.rows[i], &row));
  }
  cf__frame_free(&f);
  /* The same through the PUSH body builder. */
  cf__buf_reset(&body);
  cf__buf_reset(&out);
  for (unsigned i = 0; i < 3; i++) {
    make_contact(&row, i, 0);
    CHECK_OK(cf__codec_put_change(100 + i, &row, &body));
  }
  CHECK_OK(cf__encode_push_body(9, 3, body.p, body.len, &out));
  CHECK_OK(cf__frame_decode(out.p, out.len, &lim, &f, NULL, 0));
  CHECK(f.u.push.batch_seq == 9 && f.u.push.nchanges == 3 &&
        f.u.push.changes[2].id == 102);
  cf__frame_free(&f);
  /* An output buffer too small for the frame: CF_TOOBIG, unchanged. */
  cf_buf tiny;
  cf__buf_init(&tiny, 100);
  CHECK_EQ(cf__encode_push_body(9, 3, body.p, body.len, &tiny), CF_TOOBIG);
  CHECK_EQ(tiny.len, 0);
  cf__buf_free(&tiny);
  cf__buf_free(&body);
  cf__buf_free(&out);
}

CF_TEST(test_codec_survives_allocation_failure) {
  samples s;
  make_samples(&s);
  /* Decoding: the only allocation is the rows/changes/results array. */
  const size_t which[] = {4, 5, 7};
  for (size_t i = 0; i < 3; i++) {
    cf_frame f;
    char why[256];
    cf__alloc_fail_at(1);
    int rc =
        cf__frame_decode(s.b[which[i]].p, s.b[which[i]].len, NULL, &f, why, sizeof why);
    cf__alloc_fail_at(0);
    CHECK_EQ(rc, CF_NOMEM);
    CHECK(f.owned == NULL);
  }
  /* Encoding: every allocation failure gives CF_NOMEM and an unchanged
  ** buffer, until the encoding succeeds. */
  for (uint64_t k = 1; k < 50; k++) {
    cf_buf b;
    cf__buf_init(&b, CF_CODEC_MAX_FRAME);
    cf_frame f;
    CHECK_OK(cf__frame_decode(s.b[7].p, s.b[7].len, NULL, &f, NULL, 0));
    cf__alloc_fail_at(k);
    int rc = cf__frame_encode(&f, &b);
    cf__alloc_fail_at(0);
    cf__frame_free(&f);
    if (rc == CF_OK) {
      CHECK_EQ(b.len, s.b[7].len);
      cf__buf_free(&b);
      break;
    }
    CHECK_EQ(rc, CF_NOMEM);
    CHECK_EQ(b.len, 0);
    cf__buf_free(&b);
  }
  free_samples(&s);
}

CF_TEST(test_codec_random_mutations_never_crash_and_reencode_canonically) {
  samples s;
  make_samples(&s);
  uint64_t st = cf_test_seed();
  size_t ok = 0, fails = 0;
  const size_t iterations = 30000;
  for (size_t it = 0; it < iterations; it++) {
    const cf_buf *src = &s.b[cf_test_rand(&st) % s.n];
    size_t cap = src->len + 16, n = src->len;
    unsigned char *m = malloc(cap);
    CHECK(m != NULL);
    memcpy(m, src->p, n);
    unsigned nmut = 1 + (unsigned)(cf_test_rand(&st) % 4);
    for (unsigned k = 0; k < nmut; k++) {
      uint64_t r = cf_test_rand(&st);
      size_t at = n ? (size_t)(r >> 8) % n : 0;
      switch (r % 6) {
        case 0: /* flip one bit */
          if (n) m[at] ^= (unsigned char)(1u << ((r >> 4) % 8));
          break;
        case 1: /* replace a byte with an interesting one */
          if (n) {
            static const unsigned char hot[] = {0x00, 0x7f, 0x80, 0xc0, 0xc1, 0xc4, 0xcc,
                                                0xcf, 0xd9, 0xdb, 0xdc, 0xdd, 0xff, 0x18,
                                                0x90, 0x9f, 0xa0, 0xbf, 0xcb, 0xe0};
            m[at] = hot[(r >> 40) % sizeof hot];
          }
          break;
        case 2: /* insert a byte */
          if (n < cap) {
            memmove(m + at + 1, m + at, n - at);
            m[at] = (unsigned char)(r >> 32);
            n++;
          }
          break;
        case 3: /* delete a byte */
          if (n) {
            memmove(m + at, m + at + 1, n - at - 1);
            n--;
          }
          break;
        case 4: /* truncate */
          n = at;
          break;
        default: /* random byte */
          if (n) m[at] = (unsigned char)(r >> 24);
          break;
      }
    }
    /* Exactly n bytes on the heap, so reads past the end are caught. */
    unsigned char *exact = malloc(n ? n : 1);
    CHECK(exact != NULL);
    memcpy(exact, m, n);
    free(m);
    cf_frame f;
    char why[256];
    int rc = cf__frame_decode(exact, n, NULL, &f, why, sizeof why);
    if (rc == CF_OK) {
      cf_buf again;
      cf__buf_init(&again, CF_CODEC_MAX_FRAME);
      int erc = cf__frame_encode(&f, &again);
      CHECK_MSG(erc == CF_OK, "iteration %zu: decoded frame does not re-encode (%d)", it,
                erc);
      CHECK_MSG(again.len == n && memcmp(again.p, exact, n) == 0,
                "iteration %zu: re-encoding differs from the accepted input", it);
      cf__buf_free(&again);
      cf__frame_free(&f);
      ok++;
    } else {
      CHECK_MSG(rc == CF_PROTOCOL || rc == CF_TOOBIG, "iteration %zu: rc %d", it, rc);
      CHECK(why[0] != '\0');
      CHECK(f.owned == NULL);
      fails++;
    }
    free(exact);
  }
  printf("mutations: %zu decoded (re-encoded identically), %zu refused\n", ok, fails);
  CHECK(fails > iterations / 2);
  free_samples(&s);
}

CF_TEST(test_codec_frame_directions_and_names) {
  CHECK(cf__frame_from_client(CF_FRAME_HELLO) && !cf__frame_from_server(CF_FRAME_HELLO));
  CHECK(cf__frame_from_client(CF_FRAME_PUSH) && !cf__frame_from_server(CF_FRAME_PUSH));
  CHECK(!cf__frame_from_client(CF_FRAME_CHANGES) &&
        cf__frame_from_server(CF_FRAME_CHANGES));
  CHECK(cf__frame_from_client(CF_FRAME_ERROR) && cf__frame_from_server(CF_FRAME_ERROR));
  CHECK(!cf__frame_from_client(CF_FRAME_FEED) && cf__frame_from_server(CF_FRAME_FEED));
  CHECK(!cf__frame_from_client(0) && !cf__frame_from_server(17));
  CHECK_STR(cf__frame_type_name(CF_FRAME_FEED), "FEED");
  CHECK_STR(cf__frame_type_name(CF_FRAME_PUSH_RESULT), "PUSH_RESULT");
  CHECK_STR(cf__frame_type_name(99), "?");
  CHECK_STR(cf__push_status_name(CF_PUSH_SUPERSEDED), "superseded");
}
