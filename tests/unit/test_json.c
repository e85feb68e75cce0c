/*
** tests/unit/test_json.c: the canonical JSON of jsonb and text[] values
** (core/json.h).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_test.h"
#include "clientflow.h"
#include "core/json.h"
#include "platform/platform.h"

/* Canonicalises s; returns the result code, text in *out (static buffer). */
static int canon(const char *s, cf_json_expect expect, const char **out) {
  static cf_buf b;
  cf__buf_free(&b);
  cf__buf_init(&b, 4u << 20);
  int rc = cf__json_canon(s, strlen(s), expect, &b);
  *out = b.p ? b.p : "";
  return rc;
}

/* s must canonicalise to want, and want must be its own canonical form. */
static void expect_canon(const char *s, const char *want) {
  const char *got;
  int rc = canon(s, CF_JSON_ANY, &got);
  CHECK_MSG(rc == CF_OK, "canon(%s) failed: %s", s, cf_strerror(rc));
  CHECK_MSG(strcmp(got, want) == 0, "canon(%s) = %s, want %s", s, got, want);
  char *copy = strdup(got);
  rc = canon(copy, CF_JSON_ANY, &got);
  CHECK_MSG(rc == CF_OK && strcmp(got, copy) == 0, "not idempotent on %s", copy);
  free(copy);
}

static void expect_refused(const char *s, int want_rc) {
  const char *got;
  int rc = canon(s, CF_JSON_ANY, &got);
  CHECK_MSG(rc == want_rc, "canon(%s) = %d (%s), want %d", s, rc, got, want_rc);
}

CF_TEST(test_json_sorts_keys_and_strips_whitespace) {
  expect_canon(" { \"b\" : 1 , \"a\" : [ 1 , 2 ] } ", "{\"a\":[1,2],\"b\":1}");
  expect_canon("{\"ab\":1,\"a\":2,\"b\":3,\"\":4}", "{\"\":4,\"a\":2,\"ab\":1,\"b\":3}");
  expect_canon("{}", "{}");
  expect_canon("[]", "[]");
  expect_canon("\n\t[ ]\r\n", "[]");
  expect_canon("{\"z\":{\"y\":{},\"x\":[{}]}}", "{\"z\":{\"x\":[{}],\"y\":{}}}");
  /* Bytewise key order: uppercase before lowercase, UTF-8 after ASCII. */
  expect_canon("{\"\xc3\xa9\":1,\"e\":2,\"E\":3}", "{\"E\":3,\"e\":2,\"\xc3\xa9\":1}");
}

CF_TEST(test_json_duplicate_keys_last_wins) {
  expect_canon("{\"a\":1,\"b\":2,\"a\":3}", "{\"a\":3,\"b\":2}");
  expect_canon("{\"a\":{\"x\":1},\"a\":[2],\"a\":null}", "{\"a\":null}");
  /* Duplicates spelled differently but decoding to the same key. */
  expect_canon("{\"\\u0061\":1,\"a\":2}", "{\"a\":2}");
  expect_canon("{\"a\":2,\"\\u0061\":1}", "{\"a\":1}");
}

CF_TEST(test_json_numbers_are_normalised_exact_decimals) {
  expect_canon("100", "100");
  expect_canon("1e2", "100");
  expect_canon("1E+2", "100");
  expect_canon("100.0", "100");
  expect_canon("1.50", "1.5");
  expect_canon("1.5", "1.5");
  expect_canon("0", "0");
  expect_canon("-0", "0");
  expect_canon("-0.000", "0");
  expect_canon("0e10", "0");
  expect_canon("0.001", "0.001");
  expect_canon("1e-3", "0.001");
  expect_canon("-12.34e1", "-123.4");
  expect_canon("1000e-3", "1");
  expect_canon("100.0e-1", "10");
  expect_canon("0.0100", "0.01");
  expect_canon("123456789012345678901234567890.123456789012345678901234567890",
               "123456789012345678901234567890.12345678901234567890123456789");
  /* Beyond double precision: never through a double. */
  expect_canon("9007199254740993", "9007199254740993");
  expect_canon("0.1", "0.1");
  expect_canon("[1e2,100,100.0]", "[100,100,100]");
  expect_refused("01", CF_INVALID);
  expect_refused("1.", CF_INVALID);
  expect_refused(".5", CF_INVALID);
  expect_refused("+1", CF_INVALID);
  expect_refused("1e", CF_INVALID);
  expect_refused("-", CF_INVALID);
  expect_refused("NaN", CF_INVALID);
  expect_refused("Infinity", CF_INVALID);
  expect_refused("1e1001", CF_TOOBIG);
  expect_refused("1e999999999999999999999", CF_TOOBIG);
}

CF_TEST(test_json_strings_use_minimal_escapes_and_decode_unicode) {
  expect_canon("\"a\\/b\"", "\"a/b\"");
  expect_canon("\"\\u00e9\"", "\"\xc3\xa9\"");
  expect_canon("\"\\u20AC\"", "\"\xe2\x82\xac\"");
  expect_canon("\"\\ud83d\\ude00\"", "\"\xf0\x9f\x98\x80\"");
  expect_canon("\"\\u0001\\u001f\"", "\"\\u0001\\u001f\"");
  expect_canon("\"\\b\\f\\n\\r\\t\\\"\\\\\"", "\"\\b\\f\\n\\r\\t\\\"\\\\\"");
  expect_canon("\"\\u0008\\u000a\"", "\"\\b\\n\"");
  expect_canon("\"\\u007f\xe2\x80\xa8\"", "\"\x7f\xe2\x80\xa8\"");
  expect_refused("\"\\u0000\"", CF_INVALID);
  expect_refused("\"\\ud83d\"", CF_INVALID);        /* lone high surrogate */
  expect_refused("\"\\ude00\"", CF_INVALID);        /* lone low surrogate */
  expect_refused("\"\\ud83d\\u0041\"", CF_INVALID); /* high + non-low */
  expect_refused("\"\\x41\"", CF_INVALID);
  expect_refused("\"\\u12G4\"", CF_INVALID);
  expect_refused("\"a\nb\"", CF_INVALID);         /* raw control */
  expect_refused("\"\xc3\"", CF_INVALID);         /* truncated UTF-8 */
  expect_refused("\"\xc0\xaf\"", CF_INVALID);     /* overlong */
  expect_refused("\"\xed\xa0\x80\"", CF_INVALID); /* encoded surrogate */
  expect_refused("\"abc", CF_INVALID);
}

CF_TEST(test_json_matches_postgres_jsonb_output) {
  /* What Postgres prints for '{"b": [1, 2.50], "a": {"y": true, "x": null}}'::jsonb
  ** (", " and ": " separators, its own key order, input scale kept). */
  const char *pg = "{\"a\": {\"x\": null, \"y\": true}, \"b\": [1, 2.50]}";
  const char *app = "{\"b\":[1,2.5],\"a\":{\"y\":true,\"x\":null}}";
  const char *x, *y;
  CHECK_OK(canon(pg, CF_JSON_ANY, &x));
  char *cx = strdup(x);
  CHECK_OK(canon(app, CF_JSON_ANY, &y));
  CHECK_STR(cx, y);
  free(cx);
  /* Postgres orders keys by length first: still equal once canonical. */
  CHECK_OK(canon("{\"b\": 1, \"aa\": 2}", CF_JSON_ANY, &x));
  CHECK_STR(x, "{\"aa\":2,\"b\":1}");
  /* jsonb prints 1e2 as 100 and 1.0e1 as 10.0. */
  CHECK_OK(canon("[100, 10.0]", CF_JSON_ANY, &x));
  CHECK_STR(x, "[100,10]");
}

CF_TEST(test_json_refuses_malformed_input) {
  static const char *bad[] = {
      "",        " ",          "{",     "}",          "[1,]",       "[,1]",
      "{\"a\"}", "{\"a\":}",   "{a:1}", "{\"a\":1,}", "[1 2]",      "tru",
      "nul",     "true false", "[1]]",  "'a'",        "{\"a\":1}x", "\xef\xbb\xbf{}",
      "[1,\n"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    const char *got;
    int rc = canon(bad[i], CF_JSON_ANY, &got);
    CHECK_MSG(rc == CF_INVALID, "accepted \"%s\" -> %d", bad[i], rc);
    CHECK_STR(got, ""); /* nothing left behind */
  }
}

CF_TEST(test_json_nesting_cap) {
  char deep[2 * CF_JSON_MAX_DEPTH + 3];
  size_t k = 0;
  for (int i = 0; i < CF_JSON_MAX_DEPTH; i++)
    deep[k++] = '[';
  for (int i = 0; i < CF_JSON_MAX_DEPTH; i++)
    deep[k++] = ']';
  deep[k] = '\0';
  const char *got;
  CHECK_OK(canon(deep, CF_JSON_ANY, &got));
  CHECK_STR(got, deep);
  k = 0;
  for (int i = 0; i <= CF_JSON_MAX_DEPTH; i++)
    deep[k++] = '[';
  for (int i = 0; i <= CF_JSON_MAX_DEPTH; i++)
    deep[k++] = ']';
  deep[k] = '\0';
  CHECK_EQ(canon(deep, CF_JSON_ANY, &got), CF_TOOBIG);
  /* A very deep input stops at the cap without recursing further. */
  char *huge = malloc(200001);
  memset(huge, '[', 200000);
  huge[200000] = '\0';
  CHECK_EQ(canon(huge, CF_JSON_ANY, &got), CF_TOOBIG);
  free(huge);
}

CF_TEST(test_json_size_caps) {
  cf_buf b;
  cf__buf_init(&b, 10);
  CHECK_EQ(cf__json_canon("[1,2,3,4,5,6]", 13, CF_JSON_ANY, &b), CF_TOOBIG);
  CHECK_EQ(b.len, 0);
  CHECK_OK(cf__json_canon("[1,2,3,4]", 9, CF_JSON_ANY, &b));
  cf__buf_free(&b);
  /* Input above the cap is refused before parsing. */
  size_t n = CF_JSON_MAX_INPUT + 1;
  char *big = malloc(n);
  memset(big, ' ', n);
  big[0] = '1';
  cf__buf_init(&b, 1 << 22);
  CHECK_EQ(cf__json_canon(big, n, CF_JSON_ANY, &b), CF_TOOBIG);
  /* Many short numbers that expand a lot hit the growth budget. */
  n = 0;
  big[n++] = '[';
  while (n + 8 < CF_JSON_MAX_INPUT) {
    memcpy(big + n, "1e999,", 6);
    n += 6;
  }
  memcpy(big + n, "1]", 2);
  n += 2;
  CHECK_EQ(cf__json_canon(big, n, CF_JSON_ANY, &b), CF_TOOBIG);
  cf__buf_free(&b);
  free(big);
}

CF_TEST(test_json_expect_object_and_array_of_strings) {
  const char *got;
  CHECK_OK(canon(" {\"a\":1}", CF_JSON_OBJECT, &got));
  CHECK_EQ(canon("[1]", CF_JSON_OBJECT, &got), CF_INVALID);
  CHECK_OK(canon("[ \"b\" , \"a\" ]", CF_JSON_ARRAY_OF_STRINGS, &got));
  CHECK_STR(got, "[\"b\",\"a\"]");
  CHECK_OK(canon("[]", CF_JSON_ARRAY_OF_STRINGS, &got));
  CHECK_EQ(canon("[\"a\",1]", CF_JSON_ARRAY_OF_STRINGS, &got), CF_INVALID);
  CHECK_EQ(canon("[\"a\",null]", CF_JSON_ARRAY_OF_STRINGS, &got), CF_INVALID);
  CHECK_EQ(canon("[[\"a\"]]", CF_JSON_ARRAY_OF_STRINGS, &got), CF_INVALID);
  CHECK_EQ(canon("\"a\"", CF_JSON_ARRAY_OF_STRINGS, &got), CF_INVALID);
}

CF_TEST(test_json_string_array_iteration_decodes_elements) {
  const char *arr = "[\"a\",\"\\\"q\\\"\",\"\",\"\xc3\xa9\"]";
  cf_buf e;
  cf__buf_init(&e, 1024);
  size_t pos = 0;
  const char *want[] = {"a", "\"q\"", "", "\xc3\xa9"};
  for (int i = 0; i < 4; i++) {
    CHECK_OK(cf__json_string_array_next(arr, strlen(arr), &pos, &e));
    CHECK_EQ(e.len, strlen(want[i]));
    CHECK(e.len == 0 || memcmp(e.p, want[i], e.len) == 0);
  }
  CHECK_EQ(cf__json_string_array_next(arr, strlen(arr), &pos, &e), CF_DONE);
  pos = 0;
  CHECK_EQ(cf__json_string_array_next("[]", 2, &pos, &e), CF_DONE);
  pos = 0;
  CHECK_EQ(cf__json_string_array_next("[1]", 3, &pos, &e), CF_INVALID);
  cf__buf_free(&e);
}

CF_TEST(test_json_out_of_memory_fails_cleanly) {
  const char *doc =
      "{\"b\":[1,2,{\"c\":\"x\",\"a\":[true,false,null]}],\"a\":\"\\u00e9\"}";
  cf_buf b;
  for (uint64_t n = 1;; n++) {
    cf__buf_init(&b, 1 << 20);
    cf__alloc_fail_at(n);
    int rc = cf__json_canon(doc, strlen(doc), CF_JSON_ANY, &b);
    cf__alloc_fail_at(0);
    cf__buf_free(&b);
    if (rc == CF_OK) break;
    CHECK_EQ(rc, CF_NOMEM);
    CHECK(n < 1000);
  }
}

/*
** Random documents rendered two ways: compact, and "as Postgres prints
** jsonb" with ", " / ": ", keys ordered by length then bytes, numbers with
** extra zeros or exponents and strings with \u escapes.  Both must give the
** same canonical text, which must be its own canonical form.
*/
typedef struct render {
  cf_buf a;     /* compact rendering */
  cf_buf b;     /* Postgres-like rendering */
  uint64_t *st; /* generator state */
} render;

static void put2(render *r, const char *sa, const char *sb) {
  CHECK_OK(cf__buf_puts(&r->a, sa));
  CHECK_OK(cf__buf_puts(&r->b, sb));
}

static void gen_string(render *r, int key_index) {
  static const char *const pieces[] = {"a", "b", "k", "\xc3\xa9", "\xe2\x82\xac",
                                       " ", "z"};
  static const char *const escaped[] = {"a",       "b", "k",      "\\u00e9",
                                        "\\u20ac", " ", "\\u007a"};
  char name[16];
  put2(r, "\"", "\"");
  if (key_index >= 0) {
    /* Keys: distinct by construction, lengths vary. */
    snprintf(name, sizeof name, "k%d", key_index * 7 % 13);
    put2(r, name, name);
  } else {
    int len = (int)(cf_test_rand(r->st) % 5);
    for (int i = 0; i < len; i++) {
      int k = (int)(cf_test_rand(r->st) % 7);
      put2(r, pieces[k], cf_test_rand(r->st) % 2 ? escaped[k] : pieces[k]);
    }
    if (cf_test_rand(r->st) % 4 == 0) put2(r, "\\n", "\\u000a");
    if (cf_test_rand(r->st) % 4 == 0) put2(r, "\\\"", "\\\"");
  }
  put2(r, "\"", "\"");
}

static void gen_number(render *r) {
  char a[64], b[64];
  long long ip = (long long)(cf_test_rand(r->st) % 100000) - 50000;
  unsigned frac = (unsigned)(cf_test_rand(r->st) % 100);
  switch (cf_test_rand(r->st) % 4) {
    case 0: /* integer vs integer.000 */
      snprintf(a, sizeof a, "%lld", ip);
      snprintf(b, sizeof b, "%lld.000", ip);
      break;
    case 1: /* x.y vs x.y0 */
      snprintf(a, sizeof a, "%lld.%02u1", ip, frac);
      snprintf(b, sizeof b, "%lld.%02u100", ip, frac);
      break;
    case 2: /* x vs x0e-1 */
      snprintf(a, sizeof a, "%lld", ip);
      snprintf(b, sizeof b, "%lld0e-1", ip);
      if (ip == 0) snprintf(b, sizeof b, "0e5");
      break;
    default: /* 1.5e3 vs 1500 */
      snprintf(a, sizeof a, "%u.5e3", frac);
      snprintf(b, sizeof b, "%u500", frac);
      if (frac == 0) snprintf(b, sizeof b, "500");
  }
  put2(r, a, b);
}

static void gen_value(render *r, int depth);

static void gen_object(render *r, int depth) {
  int n = (int)(cf_test_rand(r->st) % 5);
  int order[5];
  for (int i = 0; i < n; i++)
    order[i] = i;
  put2(r, "{", "{");
  /* The compact side writes members in generation order; the other side
  ** writes the same members reversed (a different key order). */
  cf_buf saved_b = r->b;
  cf_buf members[5];
  for (int i = 0; i < n; i++) {
    cf__buf_init(&members[i], 1 << 20);
    r->b = members[i];
    if (i > 0) CHECK_OK(cf__buf_puts(&r->a, ","));
    gen_string(r, order[i]);
    put2(r, ":", ": ");
    gen_value(r, depth + 1);
    members[i] = r->b;
  }
  r->b = saved_b;
  for (int i = n - 1; i >= 0; i--) {
    CHECK_OK(cf__buf_append(&r->b, members[i].p, members[i].len));
    if (i > 0) CHECK_OK(cf__buf_puts(&r->b, ", "));
    cf__buf_free(&members[i]);
  }
  put2(r, "}", "}");
}

static void gen_value(render *r, int depth) {
  int pick = (int)(cf_test_rand(r->st) % (depth < 5 ? 7 : 5));
  switch (pick) {
    case 0:
      put2(r, "null", "null");
      break;
    case 1:
      put2(r, "true", "true");
      break;
    case 2:
      put2(r, "false", " false");
      break;
    case 3:
      gen_number(r);
      break;
    case 4:
      gen_string(r, -1);
      break;
    case 5: {
      int n = (int)(cf_test_rand(r->st) % 4);
      put2(r, "[", "[");
      for (int i = 0; i < n; i++) {
        if (i > 0) put2(r, ",", ", ");
        gen_value(r, depth + 1);
      }
      put2(r, "]", "]");
      break;
    }
    default:
      gen_object(r, depth);
  }
}

CF_TEST(test_json_random_documents_canonicalise_the_same_from_postgres_style) {
  uint64_t st = cf_test_seed();
  render r;
  r.st = &st;
  cf_buf ca, cb, cc;
  for (int i = 0; i < 3000; i++) {
    cf__buf_init(&r.a, 1 << 20);
    cf__buf_init(&r.b, 1 << 20);
    gen_value(&r, 0);
    cf__buf_init(&ca, 1 << 20);
    cf__buf_init(&cb, 1 << 20);
    cf__buf_init(&cc, 1 << 20);
    int rc = cf__json_canon(r.a.p, r.a.len, CF_JSON_ANY, &ca);
    CHECK_MSG(rc == CF_OK, "compact %s refused", r.a.p);
    rc = cf__json_canon(r.b.p, r.b.len, CF_JSON_ANY, &cb);
    CHECK_MSG(rc == CF_OK, "pg-style %s refused", r.b.p);
    CHECK_MSG(ca.len == cb.len && memcmp(ca.p, cb.p, ca.len) == 0,
              "differ:\n  %s -> %s\n  %s -> %s", r.a.p, ca.p, r.b.p, cb.p);
    CHECK_OK(cf__json_canon(ca.p, ca.len, CF_JSON_ANY, &cc));
    CHECK_MSG(cc.len == ca.len && memcmp(cc.p, ca.p, ca.len) == 0, "not idempotent: %s",
              ca.p);
    cf__buf_free(&r.a);
    cf__buf_free(&r.b);
    cf__buf_free(&ca);
    cf__buf_free(&cb);
    cf__buf_free(&cc);
  }
}

/* Random edits of valid documents: never a crash (the sanitizers watch),
** and whatever is accepted canonicalises to a fixed point. */
CF_TEST(test_json_mutated_inputs_are_refused_or_canonical) {
  static const char *seeds[] = {
      "{\"b\": [1, 2.50, {\"c\": \"x\\u00e9\"}], \"a\": null, \"d\": -1e-3}",
      "[\"\\ud83d\\ude00\", true, false, 0, {}, []]",
      "{\"k\": {\"k\": {\"k\": [1e2, \"\\\\\\\"\"]}}}"};
  static const char alphabet[] = "{}[]\",:\\u0123456789eE+-. atfn\xc3\xa9\x01";
  uint64_t st = cf_test_seed();
  char doc[256];
  cf_buf a, b;
  cf__buf_init(&a, 1 << 16);
  cf__buf_init(&b, 1 << 16);
  size_t accepted = 0;
  for (int i = 0; i < 50000; i++) {
    const char *s = seeds[cf_test_rand(&st) % 3];
    size_t n = strlen(s);
    memcpy(doc, s, n);
    int edits = 1 + (int)(cf_test_rand(&st) % 3);
    for (int e = 0; e < edits && n > 0; e++) {
      size_t at = cf_test_rand(&st) % n;
      char c = alphabet[cf_test_rand(&st) % (sizeof alphabet - 1)];
      switch (cf_test_rand(&st) % 3) {
        case 0:
          doc[at] = c;
          break; /* replace */
        case 1:  /* delete */
          memmove(doc + at, doc + at + 1, n - at - 1);
          n--;
          break;
        default: /* insert */
          if (n + 1 < sizeof doc) {
            memmove(doc + at + 1, doc + at, n - at);
            doc[at] = c;
            n++;
          }
      }
    }
    cf__buf_reset(&a);
    cf__buf_reset(&b);
    int rc = cf__json_canon(doc, n, CF_JSON_ANY, &a);
    CHECK(rc == CF_OK || rc == CF_INVALID || rc == CF_TOOBIG);
    if (rc != CF_OK) {
      CHECK_EQ(a.len, 0);
      continue;
    }
    accepted++;
    CHECK_OK(cf__json_canon(a.p, a.len, CF_JSON_ANY, &b));
    CHECK_MSG(a.len == b.len && memcmp(a.p, b.p, a.len) == 0, "fixed point: %.*s",
              (int)a.len, a.p);
  }
  CHECK(accepted > 100); /* the edits do not only produce garbage */
  cf__buf_free(&a);
  cf__buf_free(&b);
}

/* ---- the reader (cf__json_read and its walkers) ------------------------------ */

static const cf_json_limits reader_limits = {8, 5, 64, 100, 32};

/* Reads s with reader_limits; returns the result code. */
static int read_doc(const char *s, cf_json_val *root) {
  return cf__json_read(s, strlen(s), &reader_limits, root);
}

CF_TEST(test_json_reader_walks_members_and_items_of_checked_text) {
  const char *s =
      " {\"a\" : [1, \"x\\\"]\", {\"b\":[]}] ,\"c\":{\"d\":null},\"e\":-1.5e3} ";
  cf_json_val root, name, value, item;
  CHECK_OK(read_doc(s, &root));
  CHECK_EQ(root.type, CF_JSON_T_OBJECT);
  CHECK_EQ(root.n, strlen(s) - 2); /* without the surrounding spaces */
  size_t pos = 0;
  CHECK_OK(cf__json_object_next(&root, &pos, &name, &value));
  CHECK_EQ(name.type, CF_JSON_T_STRING);
  CHECK(name.n == 3 && memcmp(name.p, "\"a\"", 3) == 0);
  CHECK_EQ(value.type, CF_JSON_T_ARRAY);
  size_t ipos = 0;
  static const cf_json_type want[] = {CF_JSON_T_NUMBER, CF_JSON_T_STRING,
                                      CF_JSON_T_OBJECT};
  for (int i = 0; i < 3; i++) {
    CHECK_OK(cf__json_array_next(&value, &ipos, &item));
    CHECK_EQ(item.type, want[i]);
  }
  CHECK(item.n == 8 && memcmp(item.p, "{\"b\":[]}", 8) == 0);
  CHECK_EQ(cf__json_array_next(&value, &ipos, &item), CF_DONE);
  CHECK_OK(cf__json_object_next(&root, &pos, &name, &value));
  CHECK_EQ(value.type, CF_JSON_T_OBJECT);
  CHECK_OK(cf__json_object_next(&root, &pos, &name, &value));
  CHECK(value.type == CF_JSON_T_NUMBER && value.n == 6);
  CHECK_EQ(cf__json_object_next(&root, &pos, &name, &value), CF_DONE);
  /* Walking the wrong kind of value is refused. */
  CHECK_EQ(cf__json_array_next(&root, &ipos, &item), CF_INVALID);
  /* Empty containers. */
  CHECK_OK(read_doc("{ }", &root));
  pos = 0;
  CHECK_EQ(cf__json_object_next(&root, &pos, &name, &value), CF_DONE);
  CHECK_OK(read_doc("[]", &root));
  pos = 0;
  CHECK_EQ(cf__json_array_next(&root, &pos, &item), CF_DONE);
}

CF_TEST(test_json_reader_refuses_malformed_text_and_enforces_limits) {
  static const char *bad[] = {
      "",     " ",    "{",         "{\"a\":1}x", "{\"a\":1,}", "{'a':1}",       "{#c\n}",
      "[01]", "[1.]", "[\"\\q\"]", "[tru]",      "[\"\xff\"]", "[\"\\udc00\"]", "{}{}"};
  cf_json_val root;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    CHECK_MSG(read_doc(bad[i], &root) == CF_INVALID, "accepted %s", bad[i]);
  /* Depth 8 (root included) and 5 arrays are allowed; one more is not. */
  char deep[128];
  for (int depth = 8; depth <= 9; depth++) {
    size_t k = 0;
    for (int i = 0; i < depth; i++)
      k += (size_t)snprintf(deep + k, sizeof deep - k, "{\"a\":");
    deep[k++] = '1';
    for (int i = 0; i < depth; i++)
      deep[k++] = '}';
    deep[k] = '\0';
    CHECK_EQ(read_doc(deep, &root), depth == 8 ? CF_OK : CF_TOOBIG);
  }
  CHECK_OK(read_doc("[[[[[1]]]]]", &root));
  CHECK_EQ(read_doc("[[[[[[1]]]]]]", &root), CF_TOOBIG);
  /* Names of 64 bytes, paths of 100. */
  char s[512], name[80];
  memset(name, 'n', 64);
  name[64] = '\0';
  snprintf(s, sizeof s, "{\"%s\":1}", name);
  CHECK_OK(read_doc(s, &root));
  snprintf(s, sizeof s, "{\"%sx\":1}", name);
  CHECK_EQ(read_doc(s, &root), CF_TOOBIG);
  snprintf(s, sizeof s, "{\"%s\":{\"%.35s\":1}}", name, name); /* 64 + 1 + 35 */
  CHECK_OK(read_doc(s, &root));
  snprintf(s, sizeof s, "{\"%s\":{\"%.36s\":1}}", name, name);
  CHECK_EQ(read_doc(s, &root), CF_TOOBIG);
  /* Numbers of 32 bytes. */
  CHECK_OK(read_doc("[12345678901234567890123456789012]", &root));
  CHECK_EQ(read_doc("[123456789012345678901234567890123]", &root), CF_TOOBIG);
}

CF_TEST(test_json_reader_picks_members_and_refuses_their_duplicates) {
  static const char *const names[] = {"alg", "kid", "crit"};
  cf_json_val root, v[3];
  CHECK_OK(read_doc("{\"kid\":\"k\",\"x\":1,\"x\":2,\"\\u0061lg\":\"HS256\"}", &root));
  CHECK_OK(cf__json_object_pick(&root, names, 3, v));
  CHECK(v[0].type == CF_JSON_T_STRING && v[1].type == CF_JSON_T_STRING);
  CHECK(v[2].p == NULL); /* absent */
  char buf[16];
  size_t len = 0;
  CHECK_OK(cf__json_string_get(&v[0], buf, sizeof buf, &len));
  CHECK_STR(buf, "HS256");
  CHECK_EQ(len, 5);
  /* A duplicate of a wanted name; a non-object. */
  CHECK_OK(read_doc("{\"alg\":\"HS256\",\"alg\":\"none\"}", &root));
  CHECK_EQ(cf__json_object_pick(&root, names, 3, v), CF_INVALID);
  CHECK_OK(read_doc("[1]", &root));
  CHECK_EQ(cf__json_object_pick(&root, names, 3, v), CF_INVALID);
}

CF_TEST(test_json_reader_decodes_strings_and_integers) {
  cf_json_val root, item;
  char buf[8];
  size_t len = 0, pos = 0;
  CHECK_OK(read_doc("[\"a\\u0000b\", \"\\u00e9\\n\", \"12345678\", 0, 253402300799, "
                    "253402300800, -1, 1.5, 1e3]",
                    &root));
  CHECK_OK(cf__json_array_next(&root, &pos, &item));
  CHECK_OK(cf__json_string_get(&item, buf, sizeof buf, &len));
  CHECK(len == 3 && memcmp(buf, "a\0b", 4) == 0); /* the escaped NUL is kept */
  CHECK_OK(cf__json_array_next(&root, &pos, &item));
  CHECK_OK(cf__json_string_get(&item, buf, sizeof buf, &len));
  CHECK_STR(buf, "\xc3\xa9\n");
  CHECK_OK(cf__json_array_next(&root, &pos, &item));
  CHECK_EQ(cf__json_string_get(&item, buf, sizeof buf, &len), CF_TOOBIG);
  uint64_t v = 99;
  CHECK_EQ(cf__json_uint(&item, 10, &v), CF_INVALID); /* a string */
  static const int ok[] = {1, 1, 0, 0, 0, 0};
  static const uint64_t val[] = {0, UINT64_C(253402300799)};
  for (int i = 0; i < 6; i++) {
    CHECK_OK(cf__json_array_next(&root, &pos, &item));
    int rc = cf__json_uint(&item, UINT64_C(253402300799), &v);
    CHECK_MSG((rc == CF_OK) == ok[i], "item %d: %.*s", i, (int)item.n, item.p);
    if (ok[i]) CHECK_EQ(v, val[i]);
  }
  CHECK_EQ(cf__json_array_next(&root, &pos, &item), CF_DONE);
}
