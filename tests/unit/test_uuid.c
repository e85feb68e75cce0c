/*
** tests/unit/test_uuid.c: UUIDv7 generation and the strict UUID parser
** (core/uuid.h).
*/
#include <string.h>

#include "cf_test.h"
#include "clientflow.h"
#include "core/uuid.h"

static int64_t fake_ms; /* what the hooked wall clock says */

static int64_t fake_clock(void *ctx) {
  (void)ctx;
  return fake_ms;
}

static int failing_random(void *ctx, unsigned char *buf, size_t len) {
  (void)ctx;
  (void)buf;
  (void)len;
  return -1;
}

CF_TEST(test_uuidv7_has_version_variant_and_clock_timestamp) {
  /* Far in the future, so the process-wide monotonic state follows it. */
  fake_ms = INT64_C(4102444800000); /* 2100-01-01 */
  cf_set_clock_hook(fake_clock, NULL);
  cf_uuid u;
  CHECK_OK(cf__uuid_v7(&u));
  CHECK_EQ(cf__uuid_version(&u), 7);
  CHECK_EQ(u.b[8] & 0xc0, 0x80);
  CHECK_EQ(cf__uuid_v7_ms(&u), fake_ms);
  char text[CF_UUID_TEXT_LEN];
  cf__uuid_format(&u, text);
  CHECK_EQ(strlen(text), 36);
  CHECK_EQ(text[14], '7');
  CHECK(strchr("89ab", text[19]) != NULL);
  for (int i = 0; i < 36; i++) {
    if (i == 8 || i == 13 || i == 18 || i == 23)
      CHECK_EQ(text[i], '-');
    else
      CHECK(strchr("0123456789abcdef", text[i]) != NULL);
  }
  cf_set_clock_hook(NULL, NULL);
}

CF_TEST(test_uuidv7_strictly_increasing_within_one_millisecond_and_clock_back) {
  fake_ms = INT64_C(4102444900000);
  cf_set_clock_hook(fake_clock, NULL);
  cf_uuid prev, u;
  CHECK_OK(cf__uuid_v7(&prev));
  for (int i = 0; i < 100000; i++) {
    if (i == 50000) fake_ms -= 10000; /* the clock goes back */
    if (i % 1000 == 0 && i > 50000) fake_ms += 1;
    CHECK_OK(cf__uuid_v7(&u));
    CHECK_MSG(cf__uuid_cmp(&prev, &u) < 0, "id %d not after the previous", i);
    CHECK_EQ(cf__uuid_version(&u), 7);
    CHECK_EQ(u.b[8] & 0xc0, 0x80);
    prev = u;
  }
  /* Once the clock passes the last id's millisecond, ids follow it again. */
  fake_ms = INT64_C(4102445000000);
  CHECK_OK(cf__uuid_v7(&u));
  CHECK_EQ(cf__uuid_v7_ms(&u), fake_ms);
  cf_set_clock_hook(NULL, NULL);
}

CF_TEST(test_uuidv7_reports_random_source_failure) {
  cf_set_random_hook(failing_random, NULL);
  cf_uuid u;
  CHECK_EQ(cf__uuid_v7(&u), CF_IO);
  CHECK_EQ(cf__uuid_v4(&u), CF_IO);
  cf_set_random_hook(NULL, NULL);
  CHECK_OK(cf__uuid_v4(&u));
  CHECK_EQ(cf__uuid_version(&u), 4);
}

/* A replayable random source: a counter's bytes. */
static int counting_random(void *ctx, unsigned char *buf, size_t len) {
  unsigned *calls = ctx;
  (*calls)++;
  for (size_t i = 0; i < len; i++)
    buf[i] = (unsigned char)(*calls * 31 + i);
  return 0;
}

CF_TEST(test_uuidv7_pooled_ids_are_distinct_increasing_and_refilled_in_bulk) {
  fake_ms = INT64_C(4102446000000);
  cf_set_clock_hook(fake_clock, NULL);
  cf_uuid_pool pool;
  memset(&pool, 0, sizeof pool);
  cf_uuid prev, u;
  CHECK_OK(cf__uuid_v7_pooled(&pool, &prev));
  for (int i = 0; i < 10 * CF_UUID_POOL_IDS; i++) {
    if (i % 7 == 0) fake_ms++;
    CHECK_OK(cf__uuid_v7_pooled(&pool, &u));
    CHECK_MSG(cf__uuid_cmp(&prev, &u) < 0, "id %d not after the previous", i);
    CHECK_EQ(cf__uuid_version(&u), 7);
    CHECK_EQ(u.b[8] & 0xc0, 0x80);
    prev = u;
  }
  /* A new millisecond takes fresh random bits, not a copy of earlier ones. */
  fake_ms += 1000;
  cf_uuid a, b;
  CHECK_OK(cf__uuid_v7_pooled(&pool, &a));
  fake_ms += 1000;
  CHECK_OK(cf__uuid_v7_pooled(&pool, &b));
  CHECK(memcmp(a.b + 6, b.b + 6, 10) != 0);
  cf_set_clock_hook(NULL, NULL);
}

CF_TEST(test_uuidv7_pooled_draws_one_id_at_a_time_under_a_random_hook) {
  /* A replayed run (the simulation) consumes the hook's bytes exactly as the
  ** unpooled path does: one 16-byte call per id. */
  fake_ms = INT64_C(4102447000000);
  cf_set_clock_hook(fake_clock, NULL);
  unsigned calls = 0;
  cf_set_random_hook(counting_random, &calls);
  cf_uuid_pool pool;
  memset(&pool, 0, sizeof pool);
  cf_uuid u;
  for (int i = 0; i < 5; i++) {
    fake_ms += 10;
    CHECK_OK(cf__uuid_v7_pooled(&pool, &u));
  }
  CHECK_EQ(calls, 5);
  CHECK_EQ(pool.filled, 0);
  cf_set_random_hook(failing_random, NULL);
  CHECK_EQ(cf__uuid_v7_pooled(&pool, &u), CF_IO);
  cf_set_random_hook(NULL, NULL);
  cf_set_clock_hook(NULL, NULL);
}

CF_TEST(test_uuid_parse_is_strict_and_round_trips) {
  cf_uuid u;
  char text[CF_UUID_TEXT_LEN];
  const char *good = "0192f0c1-7c3a-7b2e-9f00-0123456789ab";
  CHECK_OK(cf__uuid_parse(good, strlen(good), &u));
  CHECK_STR(cf__uuid_format(&u, text), good);
  const char *upper = "0192F0C1-7C3A-7B2E-9F00-0123456789AB";
  CHECK_OK(cf__uuid_parse(upper, strlen(upper), &u));
  CHECK_STR(cf__uuid_format(&u, text), good);
  static const char *bad[] = {
      "",
      "0192f0c1-7c3a-7b2e-9f00-0123456789a",   /* short */
      "0192f0c1-7c3a-7b2e-9f00-0123456789abc", /* long */
      "0192f0c17c3a7b2e9f000123456789ab",      /* no dashes */
      "{0192f0c1-7c3a-7b2e-9f00-0123456789a}", /* braces */
      "0192f0c1-7c3a-7b2e-9f00_0123456789ab",  /* wrong separator */
      "0192f0c1-7c3a-7b2e-9f0-00123456789ab",  /* dash moved */
      "0192f0g1-7c3a-7b2e-9f00-0123456789ab",  /* not hex */
      " 192f0c1-7c3a-7b2e-9f00-0123456789ab",  /* space */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    CHECK_MSG(cf__uuid_parse(bad[i], strlen(bad[i]), &u) == CF_INVALID, "accepted \"%s\"",
              bad[i]);
  CHECK_EQ(cf__uuid_parse(NULL, 36, &u), CF_INVALID);
}
