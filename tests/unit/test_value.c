/*
** tests/unit/test_value.c: canonical encodings per column type, the value
** order and exact doubles (core/value.h).
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cf_test.h"
#include "clientflow.h"
#include "core/schema.h"
#include "core/value.h"
#include "platform/platform.h"

static void ts_is(const char *in, const char *want) {
  char out[CF_TIMESTAMP_TEXT_LEN];
  int rc = cf__canon_timestamptz(in, strlen(in), out);
  CHECK_MSG(rc == CF_OK, "timestamptz '%s' refused", in);
  CHECK_MSG(strcmp(out, want) == 0, "timestamptz '%s' -> %s, want %s", in, out, want);
  char again[CF_TIMESTAMP_TEXT_LEN];
  CHECK_OK(cf__canon_timestamptz(out, strlen(out), again));
  CHECK_STR(again, out);
}

static void ts_refused(const char *in) {
  char out[CF_TIMESTAMP_TEXT_LEN];
  CHECK_MSG(cf__canon_timestamptz(in, strlen(in), out) == CF_INVALID,
            "timestamptz '%s' accepted as %s", in, out);
}

CF_TEST(test_value_timestamptz_normalises_offsets_to_utc) {
  ts_is("2026-11-28 16:00:00.123+00", "2026-11-28T16:00:00.123000Z");
  ts_is("2026-11-28T16:00:00Z", "2026-11-28T16:00:00.000000Z");
  ts_is("2026-11-28t16:00:00z", "2026-11-28T16:00:00.000000Z");
  ts_is("2026-11-28T16:00:00.123456Z", "2026-11-28T16:00:00.123456Z");
  ts_is("2026-11-28T18:30:00+02:30", "2026-11-28T16:00:00.000000Z");
  ts_is("2026-11-28T18:30:00+0230", "2026-11-28T16:00:00.000000Z");
  ts_is("2026-11-28 11:00:00-05", "2026-11-28T16:00:00.000000Z");
  ts_is("2026-11-28 11:00:00 -05:00", "2026-11-28T16:00:00.000000Z");
  ts_is("2026-11-28 16:00", "2026-11-28T16:00:00.000000Z");
  ts_is("2026-11-28", "2026-11-28T00:00:00.000000Z");
  ts_is("1900-01-01 00:00:00+05:53:28", "1899-12-31T18:06:32.000000Z");
  /* Offsets crossing midnight, month, year and a leap day. */
  ts_is("2027-01-01T01:00:00+02:00", "2026-12-31T23:00:00.000000Z");
  ts_is("2024-03-01T00:30:00+01:00", "2024-02-29T23:30:00.000000Z");
  ts_is("2024-02-29T23:30:00-01:00", "2024-03-01T00:30:00.000000Z");
  /* Fractions: padded, rounded half up at the 7th digit, carrying. */
  ts_is("2026-11-28T16:00:00.5Z", "2026-11-28T16:00:00.500000Z");
  ts_is("2026-11-28T16:00:00.1234564Z", "2026-11-28T16:00:00.123456Z");
  ts_is("2026-11-28T16:00:00.1234565Z", "2026-11-28T16:00:00.123457Z");
  ts_is("2026-12-31T23:59:59.9999995Z", "2027-01-01T00:00:00.000000Z");
  /* Range: years 0001..9999. */
  ts_is("0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000000Z");
  ts_is("9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59.999999Z");
  ts_is("1970-01-01T00:00:00Z", "1970-01-01T00:00:00.000000Z");
  ts_is("1969-12-31T23:59:59.999999Z", "1969-12-31T23:59:59.999999Z");
  /* Postgres in a zone west of UTC prints the first instant of year 1 BC. */
  ts_is("0001-12-31 20:29:08-03:30:52 BC", "0001-01-01T00:00:00.000000Z");
  ts_refused("0001-12-31 20:29:08+00 BC");
  ts_refused("0001-01-01T00:00:00+01:00"); /* before year 1 in UTC */
  ts_refused("9999-12-31T23:00:00-01:00"); /* after 9999 in UTC */
  ts_refused("0000-01-01T00:00:00Z");
  ts_refused("2026-02-29T00:00:00Z"); /* not a leap year */
  ts_refused("2100-02-29T00:00:00Z"); /* century, not leap */
  ts_refused("2026-11-28T24:00:00Z");
  ts_refused("2026-11-28T23:60:00Z");
  ts_refused("2026-11-28T23:59:60Z");
  ts_refused("2026-13-01T00:00:00Z");
  ts_refused("2026-11-31T00:00:00Z");
  ts_refused("2026-11-28T16:00:00.Z");
  ts_refused("2026-11-28T16:00:00.1234567890Z");
  ts_refused("2026-11-28T16:00:00+16:00");
  ts_refused("2026-11-28T16:00:00+1");
  ts_refused("2026-11-28T16:00:00 UTC");
  ts_refused("26-11-28T16:00:00Z");
  ts_refused("2026-11-28X16:00:00Z");
  ts_refused("infinity");
  ts_refused("");
  char out[CF_TIMESTAMP_TEXT_LEN];
  CHECK_OK(cf__canon_timestamptz("2000-02-29T12:00:00Z", 20, out)); /* 400 rule */
}

CF_TEST(test_value_timestamp_format_round_trips_microseconds) {
  uint64_t st = cf_test_seed();
  char text[CF_TIMESTAMP_TEXT_LEN];
  for (int i = 0; i < 20000; i++) {
    uint64_t r = cf_test_rand(&st);
    int64_t span = CF_TIMESTAMP_MAX_US - CF_TIMESTAMP_MIN_US;
    int64_t us = CF_TIMESTAMP_MIN_US + (int64_t)(r % (uint64_t)span);
    CHECK_OK(cf__timestamp_format(us, text));
    int64_t back;
    CHECK_OK(cf__timestamp_parse(text, strlen(text), &back));
    CHECK_MSG(back == us, "%s", text);
  }
  CHECK_EQ(cf__timestamp_format(CF_TIMESTAMP_MAX_US + 1, text), CF_INVALID);
  CHECK_EQ(cf__timestamp_format(CF_TIMESTAMP_MIN_US - 1, text), CF_INVALID);
  CHECK_OK(cf__timestamp_format(INT64_C(1795881600123000), text));
  CHECK_STR(text, "2026-11-28T16:00:00.123000Z");
}

CF_TEST(test_value_date_checks_calendar_and_leap_years) {
  char out[CF_DATE_TEXT_LEN];
  CHECK_OK(cf__canon_date("2024-02-29", 10, out));
  CHECK_STR(out, "2024-02-29");
  CHECK_OK(cf__canon_date("2000-02-29", 10, out));
  CHECK_OK(cf__canon_date("0001-01-01", 10, out));
  CHECK_OK(cf__canon_date("9999-12-31", 10, out));
  static const char *bad[] = {"2023-02-29",  "1900-02-29", "2026-04-31",
                              "2026-00-10",  "2026-01-00", "0000-01-01",
                              "2026-1-01",   "2026/01/01", "2026-01-01T00:00:00Z",
                              " 2026-01-01", "20260101"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    CHECK_MSG(cf__canon_date(bad[i], strlen(bad[i]), out) == CF_INVALID, "accepted %s",
              bad[i]);
}

static void num_is(const char *in, unsigned p, unsigned s, const char *want) {
  char out[CF_NUMERIC_TEXT_LEN];
  int rc = cf__canon_numeric(in, strlen(in), p, s, out);
  CHECK_MSG(rc == CF_OK, "numeric(%u,%u) '%s' refused (%d)", p, s, in, rc);
  CHECK_MSG(strcmp(out, want) == 0, "numeric(%u,%u) '%s' -> %s, want %s", p, s, in, out,
            want);
  char again[CF_NUMERIC_TEXT_LEN];
  CHECK_OK(cf__canon_numeric(out, strlen(out), p, s, again));
  CHECK_STR(again, out);
}

static void num_refused(const char *in, unsigned p, unsigned s) {
  char out[CF_NUMERIC_TEXT_LEN];
  int rc = cf__canon_numeric(in, strlen(in), p, s, out);
  CHECK_MSG(rc == CF_INVALID, "numeric(%u,%u) '%s' gave %d", p, s, in, rc);
}

CF_TEST(test_value_numeric_exact_scale_rounding_and_overflow) {
  num_is("0", 14, 2, "0.00");
  num_is("12.5", 14, 2, "12.50");
  num_is("12.345", 14, 2, "12.35"); /* half away from zero */
  num_is("12.344999", 14, 2, "12.34");
  num_is("-12.345", 14, 2, "-12.35");
  num_is("-0.004", 14, 2, "0.00"); /* no negative zero */
  num_is("-0.005", 14, 2, "-0.01");
  num_is("+7", 14, 2, "7.00");
  num_is(".5", 14, 2, "0.50");
  num_is("5.", 14, 2, "5.00");
  num_is("000123.4500", 14, 2, "123.45");
  num_is("1e3", 14, 2, "1000.00");
  num_is("1.5E-1", 14, 2, "0.15");
  num_is("1e-10", 14, 2, "0.00");
  num_is("  42  ", 14, 2, "42.00");
  num_is("999999999999.99", 14, 2, "999999999999.99");
  num_is("999999999999.994", 14, 2, "999999999999.99");
  num_is("0.1", 10, 0, "0");
  num_is("0.5", 10, 0, "1");
  num_is("0.99", 2, 2, "0.99");
  num_is("12345678901234567890123456789012345678", 38, 0,
         "12345678901234567890123456789012345678");
  /* The classic double trap: 0.1 + 0.2 style inputs stay exact. */
  num_is("0.30000000000000004", 14, 2, "0.30");
  num_is("1234567890.125", 14, 2, "1234567890.13");
  num_refused("1000000000000", 14, 2);    /* 13 integer digits */
  num_refused("999999999999.995", 14, 2); /* rounds up to 13 digits */
  num_refused("-999999999999.995", 14, 2);
  num_refused("1", 2, 2); /* numeric(2,2) < 1 */
  num_refused("0.995", 2, 2);
  num_refused("1e12", 14, 2);
  num_refused("", 14, 2);
  num_refused(".", 14, 2);
  num_refused("-", 14, 2);
  num_refused("1.2.3", 14, 2);
  num_refused("1e", 14, 2);
  num_refused("1e 5", 14, 2);
  num_refused("1e1001", 14, 2);
  num_refused("NaN", 14, 2);
  num_refused("Infinity", 14, 2);
  num_refused("0x10", 14, 2);
  num_refused("1,000", 14, 2);
  num_refused("1 000", 14, 2);
  char out[CF_NUMERIC_TEXT_LEN];
  CHECK_EQ(cf__canon_numeric("1", 1, 0, 0, out), CF_MISUSE);
  CHECK_EQ(cf__canon_numeric("1", 1, 39, 2, out), CF_MISUSE);
  CHECK_EQ(cf__canon_numeric("1", 1, 4, 5, out), CF_MISUSE);
}

CF_TEST(test_value_doubles_round_trip_exactly) {
  uint64_t st = cf_test_seed();
  char text[CF_DOUBLE_TEXT_LEN];
  static const double special[] = {0.0,
                                   -0.0,
                                   0.1,
                                   1.0 / 3.0,
                                   1e308,
                                   5e-324,
                                   2.2250738585072014e-308,
                                   -123.456,
                                   9007199254740993.0};
  for (size_t i = 0; i < sizeof special / sizeof special[0]; i++) {
    double back;
    CHECK_OK(cf__double_format(special[i], text));
    CHECK_OK(cf__double_parse(text, strlen(text), &back));
    CHECK(memcmp(&back, &special[i], sizeof back) == 0);
  }
  CHECK_OK(cf__double_format(0.1, text));
  CHECK_STR(text, "0.1"); /* shortest form */
  for (int i = 0; i < 100000; i++) {
    uint64_t bits = cf_test_rand(&st);
    double d, back;
    memcpy(&d, &bits, sizeof d);
    if (!isfinite(d)) continue;
    CHECK_OK(cf__double_format(d, text));
    CHECK_OK(cf__double_parse(text, strlen(text), &back));
    CHECK_MSG(memcmp(&back, &d, sizeof d) == 0, "%s", text);
  }
  CHECK_EQ(cf__double_format(NAN, text), CF_INVALID);
  CHECK_EQ(cf__double_format(INFINITY, text), CF_INVALID);
  double d;
  CHECK_EQ(cf__double_parse("inf", 3, &d), CF_INVALID);
  CHECK_EQ(cf__double_parse("nan", 3, &d), CF_INVALID);
  CHECK_EQ(cf__double_parse("0x10", 4, &d), CF_INVALID);
  CHECK_EQ(cf__double_parse("1e999", 5, &d), CF_INVALID);
  CHECK_EQ(cf__double_parse("1.5x", 4, &d), CF_INVALID);
}

static void arr_is(const char *in, const char *want) {
  cf_buf b;
  cf__buf_init(&b, 1 << 20);
  int rc = cf__canon_text_array(in, strlen(in), &b);
  CHECK_MSG(rc == CF_OK, "text[] '%s' refused (%d)", in, rc);
  CHECK_MSG(strcmp(b.p, want) == 0, "text[] '%s' -> %s, want %s", in, b.p, want);
  cf_buf again;
  cf__buf_init(&again, 1 << 20);
  CHECK_OK(cf__canon_text_array(b.p, b.len, &again));
  CHECK_STR(again.p, b.p);
  /* And through the Postgres literal and back. */
  CHECK_OK(cf__text_array_to_pg(b.p, b.len, &again));
  cf_buf third;
  cf__buf_init(&third, 1 << 20);
  CHECK_OK(cf__canon_text_array(again.p, again.len, &third));
  CHECK_STR(third.p, b.p);
  cf__buf_free(&third);
  cf__buf_free(&again);
  cf__buf_free(&b);
}

static void arr_refused(const char *in) {
  cf_buf b;
  cf__buf_init(&b, 1 << 20);
  int rc = cf__canon_text_array(in, strlen(in), &b);
  CHECK_MSG(rc == CF_INVALID, "text[] '%s' gave %d", in, rc);
  CHECK_EQ(b.len, 0);
  cf__buf_free(&b);
}

CF_TEST(test_value_text_array_from_json_and_postgres_literals) {
  arr_is("[]", "[]");
  arr_is("{}", "[]");
  arr_is(" [ \"vip\" , \"lead\" ] ", "[\"vip\",\"lead\"]");
  arr_is("{vip,lead}", "[\"vip\",\"lead\"]");
  arr_is("{ vip , lead }", "[\"vip\",\"lead\"]");
  arr_is("{\"a b\",\"c,d\",\"e\\\"f\",\"g\\\\h\",\"\"}",
         "[\"a b\",\"c,d\",\"e\\\"f\",\"g\\\\h\",\"\"]");
  arr_is("{\"NULL\"}", "[\"NULL\"]"); /* quoted: the word, not NULL */
  arr_is("{a\\,b}", "[\"a,b\"]");
  arr_is("{\xc3\xa9t\xc3\xa9}", "[\"\xc3\xa9t\xc3\xa9\"]");
  arr_is("[\"\\u00e9\"]", "[\"\xc3\xa9\"]");
  arr_is("[\"tab\\there\"]", "[\"tab\\there\"]");
  arr_refused("{NULL}");
  arr_refused("{a,null}");
  arr_refused("{{a}}");
  arr_refused("{a,}");
  arr_refused("{,a}");
  arr_refused("{a");
  arr_refused("{\"a}");
  arr_refused("{a}x");
  arr_refused("[1]");
  arr_refused("[null]");
  arr_refused("[[\"a\"]]");
  arr_refused("\"a\"");
  arr_refused("a,b");
  arr_refused("[1:1]={a}");
}

static const cf_column *col(const char *table, const char *name) {
  const cf_column *c = cf__schema_column(cf__schema_table_by_name(table), name);
  CHECK_MSG(c != NULL, "%s.%s", table, name);
  return c;
}

CF_TEST(test_value_canon_dispatches_by_column_type) {
  cf_buf b;
  cf__buf_init(&b, 1 << 20);
  cf_value out, in;

  in = cf__value_text("0192F0C1-7C3A-7B2E-9F00-0123456789AB", 36);
  CHECK_OK(cf__value_canon(col("contacts", "id"), &in, &b, &out));
  CHECK_EQ(out.kind, CF_VALUE_TEXT);
  CHECK_STR(b.p, "0192f0c1-7c3a-7b2e-9f00-0123456789ab");
  in = cf__value_text("not-a-uuid", 10);
  CHECK_EQ(cf__value_canon(col("contacts", "id"), &in, &b, &out), CF_INVALID);

  in = cf__value_int(12);
  CHECK_OK(cf__value_canon(col("deals", "value"), &in, &b, &out));
  CHECK_STR(b.p, "12.00");
  in = cf__value_real(0.1 + 0.2);
  CHECK_OK(cf__value_canon(col("deals", "value"), &in, &b, &out));
  CHECK_STR(b.p, "0.30");
  in = cf__value_text("19.999", 6);
  CHECK_OK(cf__value_canon(col("deals", "value"), &in, &b, &out));
  CHECK_STR(b.p, "20.00");

  in = cf__value_text("t", 1);
  CHECK_OK(cf__value_canon(col("automations", "enabled"), &in, &b, &out));
  CHECK(out.kind == CF_VALUE_INT && out.i == 1);
  in = cf__value_text("FALSE", 5);
  CHECK_OK(cf__value_canon(col("automations", "enabled"), &in, &b, &out));
  CHECK(out.kind == CF_VALUE_INT && out.i == 0);
  in = cf__value_int(2);
  CHECK_EQ(cf__value_canon(col("automations", "enabled"), &in, &b, &out), CF_INVALID);

  in = cf__value_text("2147483647", 10);
  CHECK_OK(cf__value_canon(col("daily_metrics", "deals_won"), &in, &b, &out));
  CHECK(out.kind == CF_VALUE_INT && out.i == 2147483647);
  in = cf__value_int(INT64_C(2147483648));
  CHECK_EQ(cf__value_canon(col("daily_metrics", "deals_won"), &in, &b, &out), CF_INVALID);
  in = cf__value_real(3.0);
  CHECK_OK(cf__value_canon(col("daily_metrics", "deals_won"), &in, &b, &out));
  CHECK(out.kind == CF_VALUE_INT && out.i == 3);
  in = cf__value_real(3.5);
  CHECK_EQ(cf__value_canon(col("daily_metrics", "deals_won"), &in, &b, &out), CF_INVALID);

  in = cf__value_text("{\"b\": 1, \"a\": 2}", 16);
  CHECK_OK(cf__value_canon(col("contacts", "metadata"), &in, &b, &out));
  CHECK_STR(b.p, "{\"a\":2,\"b\":1}");
  CHECK_EQ(out.n, strlen(b.p));

  in = cf__value_text("{x,y}", 5);
  CHECK_OK(cf__value_canon(col("contacts", "tags"), &in, &b, &out));
  CHECK_STR(b.p, "[\"x\",\"y\"]");

  in = cf__value_text("2026-11-28 16:00:00+00", 22);
  CHECK_OK(cf__value_canon(col("contacts", "created_at"), &in, &b, &out));
  CHECK_STR(b.p, "2026-11-28T16:00:00.000000Z");

  in = cf__value_text("2026-11-28", 10);
  CHECK_OK(cf__value_canon(col("deals", "expected_close"), &in, &b, &out));
  CHECK_STR(b.p, "2026-11-28");

  in = cf__value_text("caf\xc3\xa9", 5);
  CHECK_OK(cf__value_canon(col("contacts", "first_name"), &in, &b, &out));
  CHECK_EQ(out.n, 5);
  in = cf__value_text("bad\xff", 4);
  CHECK_EQ(cf__value_canon(col("contacts", "first_name"), &in, &b, &out), CF_INVALID);
  in = cf__value_text("a\0b", 3);
  CHECK_EQ(cf__value_canon(col("contacts", "first_name"), &in, &b, &out), CF_INVALID);
  in = cf__value_int(5551234);
  CHECK_OK(cf__value_canon(col("contacts", "phone"), &in, &b, &out));
  CHECK_STR(b.p, "5551234");

  in = cf__value_null();
  CHECK_OK(cf__value_canon(col("contacts", "phone"), &in, &b, &out));
  CHECK_EQ(out.kind, CF_VALUE_NULL);
  CHECK_EQ(cf__value_canon(col("contacts", "first_name"), &in, &b, &out), CF_CONSTRAINT);

  in = cf__value_blob("x", 1);
  CHECK_EQ(cf__value_canon(col("contacts", "first_name"), &in, &b, &out), CF_INVALID);
  cf__buf_free(&b);
}

CF_TEST(test_value_canon_is_idempotent_for_every_column) {
  /* Feed every column a typical input, then its canonical output again. */
  cf_buf b1, b2;
  cf__buf_init(&b1, 1 << 20);
  cf__buf_init(&b2, 1 << 20);
  for (unsigned t = 0; t < CF_SCHEMA_NTABLES; t++) {
    const cf_table *tab = cf__schema_table(t);
    for (unsigned c = 0; c < tab->ncols; c++) {
      const cf_column *cl = &tab->cols[c];
      cf_value in, out1, out2;
      switch (cl->type) {
        case CF_TYPE_UUID:
          in = cf__value_text("0192F0C1-7C3A-7B2E-9F00-0123456789AB", 36);
          break;
        case CF_TYPE_TEXT:
          in = cf__value_text("x y", 3);
          break;
        case CF_TYPE_INTEGER:
        case CF_TYPE_BIGINT:
          in = cf__value_text(" -42", 4);
          break;
        case CF_TYPE_NUMERIC:
          in = cf__value_text("1e2", 3);
          break;
        case CF_TYPE_BOOLEAN:
          in = cf__value_text("yes", 3);
          break;
        case CF_TYPE_DATE:
          in = cf__value_text("2024-02-29", 10);
          break;
        case CF_TYPE_TIMESTAMPTZ:
          in = cf__value_text("2024-02-29 23:00:00-02", 22);
          break;
        case CF_TYPE_JSONB:
          in = cf__value_text("{\"b\": [1.0], \"a\": {}}", 21);
          break;
        case CF_TYPE_TEXT_ARRAY:
          in = cf__value_text("{b,a}", 5);
          break;
        default:
          in = cf__value_null();
      }
      CHECK_OK(cf__value_canon(cl, &in, &b1, &out1));
      CHECK_OK(cf__value_canon(cl, &out1, &b2, &out2));
      CHECK_MSG(cf__value_equal(&out1, &out2), "%s.%s not idempotent", tab->name,
                cl->name);
    }
  }
  cf__buf_free(&b1);
  cf__buf_free(&b2);
}

CF_TEST(test_value_order_matches_encoding_order) {
  uint64_t st = cf_test_seed();
  static const char *texts[] = {"", "a", "ab", "b", "\xc3\xa9", "A"};
  cf_value pool[64];
  size_t n = 0;
  pool[n++] = cf__value_null();
  for (int i = 0; i < 10; i++) {
    int64_t v = (int64_t)cf_test_rand(&st);
    pool[n++] = cf__value_int(i < 3 ? (int64_t[]){INT64_MIN, -1, INT64_MAX}[i] : v);
  }
  static const double dbl[] = {-1e300, -1.0, -0.0, 0.0, 5e-324, 1.0, 1e300};
  for (size_t i = 0; i < sizeof dbl / sizeof dbl[0]; i++)
    pool[n++] = cf__value_real(dbl[i]);
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
    pool[n++] = cf__value_text(texts[i], strlen(texts[i]));
  pool[n++] = cf__value_blob("\x00\x01", 2);
  pool[n++] = cf__value_blob("\xff", 1);
  pool[n++] = cf__value_blob("", 0);
  cf_buf x, y;
  cf__buf_init(&x, 1024);
  cf__buf_init(&y, 1024);
  for (size_t i = 0; i < n; i++) {
    for (size_t j = 0; j < n; j++) {
      cf__buf_reset(&x);
      cf__buf_reset(&y);
      CHECK_OK(cf__value_encode(&pool[i], &x));
      CHECK_OK(cf__value_encode(&pool[j], &y));
      size_t m = x.len < y.len ? x.len : y.len;
      int c = memcmp(x.p, y.p, m);
      if (c == 0) c = x.len < y.len ? -1 : x.len > y.len;
      int v = cf__value_cmp(&pool[i], &pool[j]);
      CHECK_MSG((c < 0) == (v < 0) && (c > 0) == (v > 0), "pair %zu %zu", i, j);
      CHECK_EQ(cf__value_cmp(&pool[j], &pool[i]), -v);
    }
  }
  cf_value neg0 = cf__value_real(-0.0), pos0 = cf__value_real(0.0);
  CHECK(cf__value_cmp(&neg0, &pos0) < 0);
  cf__buf_free(&x);
  cf__buf_free(&y);
}

CF_TEST(test_value_column_defaults) {
  cf_value v;
  CHECK_OK(cf__column_default(col("deals", "stage"), &v));
  CHECK(v.kind == CF_VALUE_TEXT && v.n == 4 && memcmp(v.p, "lead", 4) == 0);
  CHECK_OK(cf__column_default(col("deals", "value"), &v));
  CHECK(v.kind == CF_VALUE_TEXT && strcmp(v.p, "0.00") == 0);
  CHECK_OK(cf__column_default(col("contacts", "tags"), &v));
  CHECK(strcmp(v.p, "[]") == 0);
  CHECK_OK(cf__column_default(col("contacts", "metadata"), &v));
  CHECK(strcmp(v.p, "{}") == 0);
  CHECK_OK(cf__column_default(col("automations", "enabled"), &v));
  CHECK(v.kind == CF_VALUE_INT && v.i == 1);
  CHECK_OK(cf__column_default(col("daily_metrics", "new_contacts"), &v));
  CHECK(v.kind == CF_VALUE_INT && v.i == 0);
  CHECK_OK(cf__column_default(col("contacts", "phone"), &v));
  CHECK_EQ(v.kind, CF_VALUE_NULL);
  CHECK_EQ(cf__column_default(col("contacts", "first_name"), &v), CF_CONSTRAINT);
  CHECK_EQ(cf__column_default(col("contacts", "id"), &v), CF_NOTFOUND);
  CHECK_EQ(cf__column_default(col("contacts", "org_id"), &v), CF_NOTFOUND);
  CHECK_EQ(cf__column_default(col("contacts", "created_at"), &v), CF_NOTFOUND);
  /* Every constant default is already canonical for its column. */
  cf_buf b;
  cf__buf_init(&b, 1024);
  for (unsigned t = 0; t < CF_SCHEMA_NTABLES; t++) {
    const cf_table *tab = cf__schema_table(t);
    for (unsigned c = 0; c < tab->ncols; c++) {
      if (tab->cols[c].def != CF_DEFAULT_CONST) continue;
      cf_value out;
      CHECK_OK(cf__column_default(&tab->cols[c], &v));
      CHECK_OK(cf__value_canon(&tab->cols[c], &v, &b, &out));
      CHECK_MSG(cf__value_equal(&v, &out), "%s.%s default not canonical", tab->name,
                tab->cols[c].name);
    }
  }
  cf__buf_free(&b);
}

CF_TEST(test_value_int_and_bool_text_parsers) {
  int64_t v;
  CHECK_OK(cf__canon_int_text("-9223372036854775808", 20, INT64_MIN, INT64_MAX, &v));
  CHECK(v == INT64_MIN);
  CHECK_OK(cf__canon_int_text("9223372036854775807", 19, INT64_MIN, INT64_MAX, &v));
  CHECK(v == INT64_MAX);
  CHECK_EQ(cf__canon_int_text("9223372036854775808", 19, INT64_MIN, INT64_MAX, &v),
           CF_INVALID);
  CHECK_EQ(cf__canon_int_text("-9223372036854775809", 20, INT64_MIN, INT64_MAX, &v),
           CF_INVALID);
  CHECK_EQ(cf__canon_int_text("1.0", 3, INT64_MIN, INT64_MAX, &v), CF_INVALID);
  CHECK_EQ(cf__canon_int_text("-", 1, INT64_MIN, INT64_MAX, &v), CF_INVALID);
  CHECK_EQ(cf__canon_int_text("", 0, INT64_MIN, INT64_MAX, &v), CF_INVALID);
  int b;
  CHECK_OK(cf__canon_bool_text("On", 2, &b));
  CHECK_EQ(b, 1);
  CHECK_OK(cf__canon_bool_text(" off ", 5, &b));
  CHECK_EQ(b, 0);
  CHECK_EQ(cf__canon_bool_text("maybe", 5, &b), CF_INVALID);
  CHECK_EQ(cf__canon_bool_text("2", 1, &b), CF_INVALID);
}

CF_TEST(test_value_utf8_validation) {
  CHECK(cf__utf8_valid("", 0));
  CHECK(cf__utf8_valid("plain", 5));
  CHECK(cf__utf8_valid("\xf4\x8f\xbf\xbf", 4));  /* U+10FFFF */
  CHECK(!cf__utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
  CHECK(!cf__utf8_valid("\xe0\x80\xaf", 3));     /* overlong */
  CHECK(!cf__utf8_valid("\xed\xbf\xbf", 3));     /* surrogate */
  CHECK(!cf__utf8_valid("\x80", 1));
  CHECK(!cf__utf8_valid("a\0", 2));
  CHECK(!cf__utf8_valid("\xe2\x82", 2));
}

CF_TEST(test_value_out_of_memory_fails_cleanly_on_every_allocation) {
  static const struct {
    const char *table; /* column whose type drives the canonicaliser */
    const char *column;
    const char *input;
  } cases[] = {
      {"contacts", "metadata", "{\"b\": [1, {\"c\": \"x\"}], \"a\": \"\\u00e9\"}"},
      {"contacts", "tags", "{vip,\"a b\",lead}"},
      {"contacts", "tags", "[\"vip\", \"lead\"]"},
      {"contacts", "first_name", "Ann"},
      {"deals", "value", "12.345"},
      {"contacts", "created_at", "2026-11-28 16:00:00+00"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const cf_column *c = col(cases[i].table, cases[i].column);
    for (uint64_t n = 1;; n++) {
      cf_buf b;
      cf__buf_init(&b, 1 << 20);
      cf_value in = cf__value_text(cases[i].input, strlen(cases[i].input)), out;
      cf__alloc_fail_at(n);
      int rc = cf__value_canon(c, &in, &b, &out);
      cf__alloc_fail_at(0);
      cf__buf_free(&b);
      if (rc == CF_OK) break;
      CHECK_MSG(rc == CF_NOMEM, "case %zu, failure at %llu: %d", i, (unsigned long long)n,
                rc);
      CHECK(n < 1000);
    }
  }
  const char *canon = "[\"a\",\"b\\\"c\"]";
  for (uint64_t n = 1;; n++) {
    cf_buf b;
    cf__buf_init(&b, 1 << 20);
    cf__alloc_fail_at(n);
    int rc = cf__text_array_to_pg(canon, strlen(canon), &b);
    cf__alloc_fail_at(0);
    if (rc == CF_OK) CHECK_STR(b.p, "{\"a\",\"b\\\"c\"}");
    cf__buf_free(&b);
    if (rc == CF_OK) break;
    CHECK_EQ(rc, CF_NOMEM);
    CHECK(n < 1000);
  }
}

CF_TEST(test_value_canon_refuses_input_inside_its_output_buffer) {
  cf_buf b;
  cf__buf_init(&b, 1024);
  CHECK_OK(cf__buf_puts(&b, "{\"a\": 1}"));
  cf_value in = cf__value_text(b.p, b.len), out;
  CHECK_EQ(cf__value_canon(col("contacts", "metadata"), &in, &b, &out), CF_MISUSE);
  cf__buf_free(&b);
}

/* Random edits of valid inputs for every text-based type: never a crash,
** and whatever is accepted is a fixed point of canonicalisation. */
CF_TEST(test_value_mutated_inputs_are_refused_or_canonical) {
  static const struct {
    const char *table; /* column whose type is exercised */
    const char *column;
    const char *seed; /* a valid input to mutate */
  } cases[] = {
      {"contacts", "created_at", "2024-02-29 23:30:00.1234565-01:30"},
      {"deals", "value", "-12345.675e-1"},
      {"deals", "expected_close", "2024-02-29"},
      {"contacts", "tags", "{vip,\"a b\",\"c\\\"d\"}"},
      {"contacts", "tags", "[\"x\", \"\\u00e9\"]"},
      {"contacts", "id", "0192F0C1-7C3A-7B2E-9F00-0123456789AB"},
      {"automations", "enabled", "false"},
      {"daily_metrics", "deals_won", "-2147483648"},
  };
  static const char alphabet[] = "0123456789-+:.TZ ebBC{}[]\",\\aAfF\xc3\xa9";
  uint64_t st = cf_test_seed();
  cf_buf b1, b2;
  cf__buf_init(&b1, 1 << 16);
  cf__buf_init(&b2, 1 << 16);
  for (int i = 0; i < 40000; i++) {
    size_t k = cf_test_rand(&st) % (sizeof cases / sizeof cases[0]);
    const cf_column *c = col(cases[k].table, cases[k].column);
    char buf[96];
    size_t n = strlen(cases[k].seed);
    memcpy(buf, cases[k].seed, n);
    size_t at = cf_test_rand(&st) % n;
    char ch = alphabet[cf_test_rand(&st) % (sizeof alphabet - 1)];
    switch (cf_test_rand(&st) % 3) {
      case 0:
        buf[at] = ch;
        break;
      case 1:
        memmove(buf + at, buf + at + 1, n - at - 1);
        n--;
        break;
      default:
        memmove(buf + at + 1, buf + at, n - at);
        buf[at] = ch;
        n++;
    }
    cf_value in = cf__value_text(buf, n), o1, o2;
    int rc = cf__value_canon(c, &in, &b1, &o1);
    CHECK(rc == CF_OK || rc == CF_INVALID);
    if (rc != CF_OK) continue;
    CHECK_OK(cf__value_canon(c, &o1, &b2, &o2));
    CHECK_MSG(cf__value_equal(&o1, &o2), "%s.%s: '%.*s' not a fixed point",
              cases[k].table, cases[k].column, (int)n, buf);
  }
  cf__buf_free(&b1);
  cf__buf_free(&b2);
}

CF_TEST(test_value_is_canon_agrees_with_canon_equals_input_on_every_contact_column) {
  const cf_table *t = cf__schema_table_by_name("contacts");
  static const char *const texts[] = {"0190f1a2-0000-7000-8000-00000000a001",
                                      "0190F1A2-0000-7000-8000-00000000A001",
                                      "0190f1a2000070008000 00000000a001",
                                      "0190f1a2-0000-7000-8000-00000000a00",
                                      "2026-12-06T05:41:07.123456Z",
                                      "2026-12-06 05:41:07+00",
                                      "[\"a\",\"b\"]",
                                      "[ \"b\", \"a\" ]",
                                      "{\"n\":1}",
                                      "{ \"n\" : 1 }",
                                      "",
                                      "plain text",
                                      "bad \xff utf-8",
                                      "42",
                                      "t"};
  cf_buf a, b;
  cf__buf_init(&a, 1 << 20);
  cf__buf_init(&b, 1 << 20);
  int checked = 0;
  for (unsigned c = 0; c < t->ncols; c++) {
    const cf_column *col = &t->cols[c];
    for (size_t i = 0; i < sizeof texts / sizeof *texts + 3; i++) {
      cf_value in = i < sizeof texts / sizeof *texts
                        ? cf__value_text(texts[i], strlen(texts[i]))
                    : i == sizeof texts / sizeof *texts     ? cf__value_null()
                    : i == sizeof texts / sizeof *texts + 1 ? cf__value_int(7)
                                                            : cf__value_real(1.5);
      cf_value out;
      int rc = cf__value_canon(col, &in, &a, &out);
      int yes = -1;
      CHECK_OK(cf__value_is_canon(col, &in, &b, &yes));
      CHECK_MSG(yes == (rc == CF_OK && cf__value_equal(&out, &in)), "%s: input %zu",
                col->name, i);
      checked += yes;
    }
  }
  CHECK(checked > 10);
  cf__buf_free(&a);
  cf__buf_free(&b);
}
