/*
** tests/unit/test_hlc.c: the hybrid logical clock (core/hlc.h) and column
** versions (core/version.h).
**
** The wall clock is replaced through cf_set_clock_hook, so every test says
** exactly what time it is.
*/
#include <string.h>

#include "cf_test.h"
#include "clientflow.h"
#include "core/hlc.h"
#include "platform/platform.h"
#include "core/version.h"

static int64_t fake_ms; /* what the hooked wall clock says */

static int64_t fake_clock(void *ctx) {
  (void)ctx;
  return fake_ms;
}

static void use_fake_clock(int64_t ms) {
  fake_ms = ms;
  cf_set_clock_hook(fake_clock, NULL);
}

#define T0 INT64_C(1795881600000) /* 2026-11-28T16:00:00Z */

CF_TEST(test_hlc_now_uses_wall_clock_and_ticks_within_a_millisecond) {
  cf_hlc_clock c;
  use_fake_clock(T0);
  cf__hlc_init(&c);
  cf_hlc a = cf__hlc_now(&c), b = cf__hlc_now(&c);
  CHECK_EQ(CF_HLC_MS(a), T0);
  CHECK_EQ(CF_HLC_COUNTER(a), 0);
  CHECK_EQ(CF_HLC_MS(b), T0);
  CHECK_EQ(CF_HLC_COUNTER(b), 1);
  fake_ms = T0 + 5;
  cf_hlc d = cf__hlc_now(&c);
  CHECK_EQ(CF_HLC_MS(d), T0 + 5);
  CHECK_EQ(CF_HLC_COUNTER(d), 0);
  CHECK(cf__hlc_last(&c) == d);
  cf_set_clock_hook(NULL, NULL);
}

CF_TEST(test_hlc_stays_monotonic_when_wall_clock_goes_back) {
  cf_hlc_clock c;
  use_fake_clock(T0);
  cf__hlc_init(&c);
  cf_hlc prev = cf__hlc_now(&c);
  /* The wall clock jumps back an hour, then crawls forward. */
  fake_ms = T0 - 3600 * 1000;
  for (int i = 0; i < 10000; i++) {
    if (i % 7 == 0) fake_ms++;
    cf_hlc h = cf__hlc_now(&c);
    CHECK_MSG(h > prev, "tick %d went back", i);
    CHECK_EQ(CF_HLC_MS(h), T0); /* held at the old high-water mark */
    prev = h;
  }
  cf_set_clock_hook(NULL, NULL);
}

CF_TEST(test_hlc_stays_monotonic_across_restore_after_restart) {
  cf_hlc_clock c, restarted;
  use_fake_clock(T0);
  cf__hlc_init(&c);
  cf_hlc last = 0;
  for (int i = 0; i < 100; i++)
    last = cf__hlc_now(&c);
  cf_hlc persisted = cf__hlc_last(&c);
  CHECK(persisted == last);
  /* Restart with a wall clock ten minutes behind. */
  fake_ms = T0 - 600 * 1000;
  cf__hlc_init(&restarted);
  cf__hlc_restore(&restarted, persisted);
  cf_hlc next = cf__hlc_now(&restarted);
  CHECK(next > persisted);
  /* Restoring an older value never moves the clock back. */
  cf__hlc_restore(&restarted, 1);
  CHECK(cf__hlc_now(&restarted) > next);
  cf_set_clock_hook(NULL, NULL);
}

CF_TEST(test_hlc_counter_overflow_borrows_into_milliseconds) {
  cf_hlc_clock c;
  use_fake_clock(T0);
  cf__hlc_init(&c);
  cf__hlc_restore(&c, CF_HLC_MAKE(T0, 0xfffe));
  cf_hlc a = cf__hlc_now(&c);
  CHECK_EQ(CF_HLC_MS(a), T0);
  CHECK_EQ(CF_HLC_COUNTER(a), 0xffff);
  cf_hlc b = cf__hlc_now(&c);
  CHECK(b > a);
  CHECK_EQ(CF_HLC_MS(b), T0 + 1);
  CHECK_EQ(CF_HLC_COUNTER(b), 0);
  /* 200k ticks in one frozen millisecond stay strictly increasing. */
  cf_hlc prev = b;
  for (int i = 0; i < 200000; i++) {
    cf_hlc h = cf__hlc_now(&c);
    CHECK(h == prev + 1);
    prev = h;
  }
  cf_set_clock_hook(NULL, NULL);
}

CF_TEST(test_hlc_recv_refuses_remote_beyond_skew_and_leaves_clock_unchanged) {
  cf_hlc_clock c;
  use_fake_clock(T0);
  cf__hlc_init(&c);
  cf_hlc mine = cf__hlc_now(&c);
  cf_hlc out = 12345;
  cf_hlc far = CF_HLC_MAKE(T0 + CF_HLC_DEFAULT_MAX_SKEW_MS + 1, 0);
  CHECK_EQ(cf__hlc_recv(&c, far, &out), CF_CLOCK_SKEW);
  CHECK(out == 12345);
  CHECK(cf__hlc_last(&c) == mine);
  CHECK_EQ(cf__hlc_recv(&c, far, NULL), CF_CLOCK_SKEW);
  CHECK(cf__hlc_last(&c) == mine);
  /* Exactly at the bound is accepted. */
  cf_hlc edge = CF_HLC_MAKE(T0 + CF_HLC_DEFAULT_MAX_SKEW_MS, 7);
  CHECK_OK(cf__hlc_recv(&c, edge, &out));
  CHECK(out > edge);
  /* A configured bound of one second. */
  cf__hlc_set_max_skew(&c, 1000);
  fake_ms = T0 + CF_HLC_DEFAULT_MAX_SKEW_MS;
  CHECK_EQ(cf__hlc_recv(&c, CF_HLC_MAKE(fake_ms + 1001, 0), NULL), CF_CLOCK_SKEW);
  CHECK_OK(cf__hlc_recv(&c, CF_HLC_MAKE(fake_ms + 1000, 0), NULL));
  cf_set_clock_hook(NULL, NULL);
}

CF_TEST(test_hlc_recv_advances_past_acceptable_remote) {
  cf_hlc_clock c;
  use_fake_clock(T0);
  cf__hlc_init(&c);
  (void)cf__hlc_now(&c);
  cf_hlc remote = CF_HLC_MAKE(T0 + 60 * 1000, 42);
  cf_hlc out;
  CHECK_OK(cf__hlc_recv(&c, remote, &out));
  CHECK(out > remote);
  CHECK(cf__hlc_now(&c) > out);
  /* Adopt without issuing: the next tick still passes the remote. */
  cf_hlc remote2 = CF_HLC_MAKE(T0 + 120 * 1000, 3);
  CHECK_OK(cf__hlc_recv(&c, remote2, NULL));
  CHECK(cf__hlc_last(&c) == remote2);
  CHECK(cf__hlc_now(&c) > remote2);
  /* An old remote changes nothing but still yields a fresh tick. */
  cf_hlc before = cf__hlc_last(&c);
  CHECK_OK(cf__hlc_recv(&c, CF_HLC_MAKE(T0 - 1000, 0), &out));
  CHECK(out == before + 1);
  cf_set_clock_hook(NULL, NULL);
}

CF_TEST(test_hlc_negative_wall_clock_counts_as_zero) {
  cf_hlc_clock c;
  use_fake_clock(-5000);
  cf__hlc_init(&c);
  cf_hlc a = cf__hlc_now(&c);
  CHECK(a == CF_HLC_MAKE(0, 0) + 1 || a == CF_HLC_MAKE(0, 0));
  CHECK(cf__hlc_now(&c) > a);
  cf_set_clock_hook(NULL, NULL);
}

CF_TEST(test_hlc_format_shows_utc_time_and_counter) {
  char text[CF_HLC_TEXT_LEN];
  CHECK_STR(cf__hlc_format(CF_HLC_MAKE(T0 + 123, 9), text), "2026-11-28T16:00:00.123Z#9");
}

CF_TEST(test_version_bytes_order_like_hlc_then_node) {
  cf_nodeid n1, n2;
  memset(n1.b, 0x11, sizeof n1.b);
  memset(n2.b, 0x22, sizeof n2.b);
  cf_ver a, b, c;
  cf__ver_make(CF_HLC_MAKE(T0, 1), &n2, &a);
  cf__ver_make(CF_HLC_MAKE(T0, 2), &n1, &b);
  cf__ver_make(CF_HLC_MAKE(T0, 2), &n2, &c);
  CHECK(cf__ver_cmp(&a, &b) < 0); /* HLC first, whatever the node */
  CHECK(cf__ver_cmp(&b, &c) < 0); /* then node id */
  CHECK(memcmp(a.b, b.b, CF_VER_LEN) < 0);
  CHECK_EQ(cf__ver_cmp(&c, &c), 0);
  CHECK(cf__ver_hlc(&b) == CF_HLC_MAKE(T0, 2));
  cf_nodeid back;
  cf__ver_node(&b, &back);
  CHECK(memcmp(back.b, n1.b, 16) == 0);
  /* Big-endian HLC in the first 8 bytes. */
  CHECK_EQ(b.b[7], 2);
  CHECK_EQ(b.b[6], (CF_HLC_MAKE(T0, 2) >> 8) & 0xff);
  cf_ver zero;
  memset(&zero, 0, sizeof zero);
  CHECK(cf__ver_is_zero(&zero));
  CHECK(!cf__ver_is_zero(&a));
  CHECK(cf__ver_cmp(&zero, &a) < 0);
}

CF_TEST(test_version_encode_decode_and_text_round_trip) {
  cf_nodeid n;
  CHECK_OK(cf__node_id_generate(&n));
  CHECK_EQ(n.b[6] >> 4, 4); /* a version-4 UUID */
  cf_ver v, w;
  cf__ver_make(CF_HLC_MAKE(T0, 77), &n, &v);
  unsigned char bytes[CF_VER_LEN];
  cf__ver_encode(&v, bytes);
  CHECK_OK(cf__ver_decode(bytes, sizeof bytes, &w));
  CHECK_EQ(cf__ver_cmp(&v, &w), 0);
  CHECK_EQ(cf__ver_decode(bytes, 23, &w), CF_INVALID);
  char text[CF_VER_TEXT_LEN];
  cf__ver_format(&v, text);
  CHECK_EQ(strlen(text), 49);
  CHECK_EQ(text[16], '-');
  memset(&w, 0, sizeof w);
  CHECK_OK(cf__ver_parse(text, strlen(text), &w));
  CHECK_EQ(cf__ver_cmp(&v, &w), 0);
  CHECK_EQ(cf__ver_parse(text, 48, &w), CF_INVALID);
  text[3] = 'x';
  CHECK_EQ(cf__ver_parse(text, 49, &w), CF_INVALID);
  char ntext[CF_NODE_ID_TEXT_LEN];
  cf__node_id_format(&n, ntext);
  cf_nodeid n2;
  CHECK_OK(cf__node_id_parse(ntext, 36, &n2));
  CHECK(memcmp(n.b, n2.b, 16) == 0);
}

CF_TEST(test_hlc_recv_bounds_remote_by_a_trusted_reference_ahead_of_the_wall_clock) {
  /* A node whose clock is 2 minutes behind the server's receives a version
  ** the server accepted 4 minutes ahead of ITS clock: 6 minutes ahead of
  ** the node's.  With the server's clock as reference it is within the
  ** bound; without, it is not.  (Margins of a second: the reference runs on
  ** with the real monotonic clock while the test runs.) */
  cf_hlc_clock c;
  use_fake_clock(T0);
  cf__hlc_init(&c);
  cf_hlc remote = CF_HLC_MAKE(T0 + 6 * 60 * 1000, 0);
  CHECK_EQ(cf__hlc_recv(&c, remote, NULL), CF_CLOCK_SKEW);
  cf__hlc_set_reference(&c, T0 + 2 * 60 * 1000, cf__monotonic_ns());
  CHECK_OK(cf__hlc_recv(&c, remote, NULL));
  CHECK(cf__hlc_now(&c) > remote);
  /* Still bounded: the reference plus the skew. */
  CHECK_EQ(cf__hlc_recv(&c, CF_HLC_MAKE(T0 + 7 * 60 * 1000 + 1000, 0), NULL),
           CF_CLOCK_SKEW);
  /* The wall clock moved back 5 minutes after WELCOME: the reference does
  ** not move with it (it runs on the monotonic clock). */
  fake_ms = T0 - 5 * 60 * 1000;
  CHECK_OK(cf__hlc_recv(&c, CF_HLC_MAKE(T0 + 7 * 60 * 1000 - 1000, 0), NULL));
  /* A reference behind the wall clock does not tighten the bound, and one
  ** absurdly far ahead counts as a day. */
  fake_ms = T0;
  cf__hlc_set_reference(&c, T0 - 60 * 1000, cf__monotonic_ns());
  CHECK_OK(cf__hlc_recv(&c, CF_HLC_MAKE(T0 + CF_HLC_DEFAULT_MAX_SKEW_MS, 0), NULL));
  cf__hlc_set_reference(&c, INT64_MAX / 4, cf__monotonic_ns());
  CHECK_EQ(cf__hlc_recv(&c,
                        CF_HLC_MAKE(T0 + CF_HLC_MAX_REF_AHEAD_MS +
                                        CF_HLC_DEFAULT_MAX_SKEW_MS + 1000,
                                    0),
                        NULL),
           CF_CLOCK_SKEW);
  cf_set_clock_hook(NULL, NULL);
}
