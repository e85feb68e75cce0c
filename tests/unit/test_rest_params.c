/*
** tests/unit/test_rest_params.c: the REST API's strict request parsers
** (sync/server/rest_params.c): cursors, limit, days, UUIDs, stages, from/to
** instants and the Bearer header.  The HTTP behaviour is covered by
** tests/integration/test_rest_api.c.
*/
#include <stdlib.h>
#include <string.h>

#include "cf_test.h"
#include "clientflow.h"
#include "sync/server/rest.h"

#define ID "01936b2a-0003-7000-8000-100000000003"

CF_TEST(test_rest_cursor_round_trips_and_is_36_characters) {
  static const int64_t keys[] = {
      0, 1, -1, 1764345600123456LL, -62135596800000000LL, 253402300799999999LL};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    char text[CF_REST_CURSOR_TEXT + 1];
    CHECK_OK(cf__rest_cursor_encode(CF_REST_LIST_CONTACTS, keys[i], ID, text));
    CHECK_EQ(strlen(text), CF_REST_CURSOR_TEXT);
    cf__rest_cursor k;
    CHECK_OK(cf__rest_cursor_decode(text, CF_REST_LIST_CONTACTS, &k));
    CHECK_EQ(k.key_us, keys[i]);
    CHECK_STR(k.id, ID);
  }
}

CF_TEST(test_rest_cursor_of_another_list_is_refused) {
  char text[CF_REST_CURSOR_TEXT + 1];
  CHECK_OK(cf__rest_cursor_encode(CF_REST_LIST_DEALS, 5, ID, text));
  cf__rest_cursor k;
  CHECK_EQ(cf__rest_cursor_decode(text, CF_REST_LIST_CONTACTS, &k), CF_INVALID);
  CHECK_OK(cf__rest_cursor_decode(text, CF_REST_LIST_DEALS, &k));
}

/* Found by fuzz_rest_params: a cursor naming list 0 (or any number that is
** no list) was accepted when asked for with that same number. */
CF_TEST(test_rest_cursor_of_no_list_is_refused_both_ways) {
  char text[CF_REST_CURSOR_TEXT + 1];
  cf__rest_cursor k;
  memset(&k, 0x5a, sizeof k);
  CHECK_EQ(cf__rest_cursor_encode((cf__rest_list)0, 5, ID, text), CF_INVALID);
  CHECK_EQ(
      cf__rest_cursor_encode((cf__rest_list)(CF_REST_LIST_APPOINTMENTS + 1), 5, ID, text),
      CF_INVALID);
  /* version 1, list 0, key 0x0644a5b8c1a24001: the fuzzer's input */
  CHECK_EQ(cf__rest_cursor_decode("AQAAAAZEpbjBokABkPGiAABwAIAAAAAAAAAB",
                                  (cf__rest_list)0, &k),
           CF_INVALID);
  for (size_t i = 0; i < sizeof k; i++)
    CHECK_EQ(((unsigned char *)&k)[i], 0x5a);
}

CF_TEST(test_rest_cursor_rejects_every_malformed_text) {
  char good[CF_REST_CURSOR_TEXT + 1];
  CHECK_OK(cf__rest_cursor_encode(CF_REST_LIST_CONTACTS, 1764345600123456LL, ID, good));
  cf__rest_cursor k;
  memset(&k, 0x5a, sizeof k);
  const char *bad[] = {"",
                       "abc",
                       "null",
                       "AQIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                       "AQIA+AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                       "AQIA/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    CHECK_EQ(cf__rest_cursor_decode(bad[i], CF_REST_LIST_CONTACTS, &k), CF_INVALID);
  CHECK_EQ(cf__rest_cursor_decode(NULL, CF_REST_LIST_CONTACTS, &k), CF_INVALID);
  /* One character more or less, or a padding character. */
  char t[64];
  snprintf(t, sizeof t, "%sA", good);
  CHECK_EQ(cf__rest_cursor_decode(t, CF_REST_LIST_CONTACTS, &k), CF_INVALID);
  snprintf(t, sizeof t, "%.*s", CF_REST_CURSOR_TEXT - 1, good);
  CHECK_EQ(cf__rest_cursor_decode(t, CF_REST_LIST_CONTACTS, &k), CF_INVALID);
  /* The first 4 characters are exactly the header bytes (version, list,
  ** reserved): every single-character change to them is refused. */
  static const char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  for (int pos = 0; pos < 4; pos++) {
    for (int a = 0; alphabet[a]; a++) {
      snprintf(t, sizeof t, "%s", good);
      if (t[pos] == alphabet[a]) continue;
      t[pos] = alphabet[a];
      CHECK_MSG(cf__rest_cursor_decode(t, CF_REST_LIST_CONTACTS, &k) == CF_INVALID,
                "\"%s\" accepted", t);
    }
  }
  /* A sort key beyond year 9999. */
  CHECK_OK(cf__rest_cursor_encode(CF_REST_LIST_CONTACTS, INT64_MAX, ID, t));
  CHECK_EQ(cf__rest_cursor_decode(t, CF_REST_LIST_CONTACTS, &k), CF_INVALID);
  CHECK_OK(cf__rest_cursor_encode(CF_REST_LIST_CONTACTS, INT64_MIN, ID, t));
  CHECK_EQ(cf__rest_cursor_decode(t, CF_REST_LIST_CONTACTS, &k), CF_INVALID);
}

CF_TEST(test_rest_limit_and_days_accept_only_plain_numbers_in_range) {
  int v = 0;
  CHECK_OK(cf__rest_parse_limit(NULL, &v));
  CHECK_EQ(v, 50);
  CHECK_OK(cf__rest_parse_limit("1", &v));
  CHECK_EQ(v, 1);
  CHECK_OK(cf__rest_parse_limit("500", &v));
  CHECK_EQ(v, 500);
  const char *bad_limits[] = {"",    "0",  "501", "-1",  "+5",    "05",        "1.5",
                              "1e2", " 5", "5 ",  "abc", "99999", "4294967297"};
  for (size_t i = 0; i < sizeof bad_limits / sizeof bad_limits[0]; i++)
    CHECK_MSG(cf__rest_parse_limit(bad_limits[i], &v) == CF_INVALID, "limit \"%s\"",
              bad_limits[i]);
  CHECK_OK(cf__rest_parse_days(NULL, &v));
  CHECK_EQ(v, 30);
  CHECK_OK(cf__rest_parse_days("365", &v));
  CHECK_EQ(v, 365);
  CHECK_OK(cf__rest_parse_days("1", &v));
  CHECK_EQ(v, 1);
  CHECK_EQ(cf__rest_parse_days("0", &v), CF_INVALID);
  CHECK_EQ(cf__rest_parse_days("366", &v), CF_INVALID);
  CHECK_EQ(cf__rest_parse_days("-7", &v), CF_INVALID);
  CHECK_EQ(cf__rest_parse_days("", &v), CF_INVALID);
}

CF_TEST(test_rest_uuid_is_canonicalised_to_lowercase) {
  char out[CF_UUID_TEXT_LEN];
  CHECK_OK(cf__rest_parse_uuid("01936B2A-0003-7000-8000-10000000000A", out));
  CHECK_STR(out, "01936b2a-0003-7000-8000-10000000000a");
  CHECK_EQ(cf__rest_parse_uuid("org-uuid", out), CF_INVALID);
  CHECK_EQ(cf__rest_parse_uuid("01936b2a000370008000100000000003", out), CF_INVALID);
  CHECK_EQ(cf__rest_parse_uuid("{01936b2a-0003-7000-8000-100000000003}", out),
           CF_INVALID);
  CHECK_EQ(cf__rest_parse_uuid("", out), CF_INVALID);
  CHECK_EQ(cf__rest_parse_uuid(NULL, out), CF_INVALID);
}

CF_TEST(test_rest_stage_is_one_of_five) {
  CHECK(cf__rest_is_stage("lead"));
  CHECK(cf__rest_is_stage("lost"));
  CHECK(!cf__rest_is_stage("Lead"));
  CHECK(!cf__rest_is_stage("closed"));
  CHECK(!cf__rest_is_stage(""));
  CHECK(!cf__rest_is_stage(NULL));
}

CF_TEST(test_rest_time_accepts_iso_instants_and_refuses_the_rest) {
  char out[CF_REST_TIME_MAX + 1];
  const char *good[] = {"2026-11-28",
                        "2024-02-29",
                        "2026-11-28T16:00Z",
                        "2026-11-28T16:00:59Z",
                        "2026-11-28T16:00:00.123456Z",
                        "2026-11-28T16:00:00-05:00",
                        "0001-01-01T00:00:00+15:59",
                        "9999-12-31T23:59:59.9Z"};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    CHECK_MSG(cf__rest_parse_time(good[i], out) == CF_OK, "\"%s\"", good[i]);
    CHECK_STR(out, good[i]);
  }
  /* '+' arrives as a space when the client did not encode it. */
  CHECK_OK(cf__rest_parse_time("2026-11-28T16:00:00 02:00", out));
  CHECK_STR(out, "2026-11-28T16:00:00+02:00");
  const char *bad[] = {"",
                       "now",
                       "today",
                       "infinity",
                       "epoch",
                       "2026-11-28T16:00:00",
                       "2026-02-29",
                       "2026-13-01",
                       "2026-00-10",
                       "2026-04-31",
                       "0000-01-01",
                       "2026-11-28T24:00Z",
                       "2026-11-28T16:60Z",
                       "2026-11-28T16:00:60Z",
                       "2026-11-28T16:00:00.Z",
                       "2026-11-28T16:00:00.1234567Z",
                       "2026-11-28t16:00Z",
                       "2026-11-28 16:00Z",
                       "2026-11-28T16:00+16:00",
                       "2026-11-28T16:00+0200",
                       "26-11-28",
                       "2026-1-28",
                       "2026-11-28Z",
                       "2026-11-28T16:00:00+02:00x",
                       "1764345600"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    CHECK_MSG(cf__rest_parse_time(bad[i], out) == CF_INVALID, "\"%s\"", bad[i]);
  CHECK_EQ(cf__rest_parse_time(NULL, out), CF_INVALID);
}

CF_TEST(test_rest_bearer_header_yields_the_token) {
  const char *tok = NULL;
  size_t len = 0;
  CHECK_OK(cf__rest_bearer("Bearer abc.def.ghi", &tok, &len));
  CHECK_EQ(len, 11);
  CHECK(strncmp(tok, "abc.def.ghi", len) == 0);
  CHECK_OK(cf__rest_bearer("bearer   abc  ", &tok, &len));
  CHECK_EQ(len, 3);
  CHECK_EQ(cf__rest_bearer("Basic dXNlcjpwYXNz", &tok, &len), CF_INVALID);
  CHECK_EQ(cf__rest_bearer("Bearer", &tok, &len), CF_INVALID);
  CHECK_EQ(cf__rest_bearer("Bearer ", &tok, &len), CF_INVALID);
  CHECK_EQ(cf__rest_bearer("Bearerabc", &tok, &len), CF_INVALID);
  CHECK_EQ(cf__rest_bearer("Bearer a b", &tok, &len), CF_INVALID);
  CHECK_EQ(cf__rest_bearer("", &tok, &len), CF_INVALID);
  CHECK_EQ(cf__rest_bearer(NULL, &tok, &len), CF_INVALID);
}
