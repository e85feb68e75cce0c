/*
** tests/integration/test_canonical_values_postgres.c: the canonical value
** forms (core/value.h, core/json.h) agree with what Postgres stores.
**
** For each type, a value goes into Postgres as text, comes back as Postgres
** prints it, and both sides must canonicalise to the same text; our
** canonical text must also be accepted by Postgres as the same value.  This
** is what lets a row that went through the master compare equal to what the
** node wrote.
*/
#include <libpq-fe.h>
#include <string.h>

#include "cf_test.h"
#include "clientflow.h"
#include "core/json.h"
#include "core/schema.h"
#include "core/value.h"

static PGconn *db; /* this test's connection */

static void open_db(void) {
  db = PQconnectdb(cf_test_pg_createdb());
  CHECK_MSG(PQstatus(db) == CONNECTION_OK, "connect: %s", PQerrorMessage(db));
}

static void close_db(void) {
  PQfinish(db);
  db = NULL;
}

static void exec(const char *sql) {
  PGresult *r = PQexec(db, sql);
  CHECK_MSG(PQresultStatus(r) == PGRES_COMMAND_OK, "%s: %s", sql, PQerrorMessage(db));
  PQclear(r);
}

/* SELECT sql with one text parameter; the text result in out (cap bytes), or
** returns 0 if Postgres refused the value. */
static int pg_one(const char *sql, const char *param, char *out, size_t cap) {
  const char *params[1] = {param};
  PGresult *r = PQexecParams(db, sql, 1, NULL, params, NULL, NULL, 0);
  int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
  if (ok) {
    const char *v = PQgetvalue(r, 0, 0);
    CHECK(strlen(v) < cap);
    memcpy(out, v, strlen(v) + 1);
  }
  PQclear(r);
  return ok;
}

/* Canonical text of s for column table.name, into out. */
static int canon(const char *table, const char *name, const char *s, char *out,
                 size_t cap) {
  const cf_column *c = cf__schema_column(cf__schema_table_by_name(table), name);
  CHECK(c != NULL);
  cf_buf b;
  cf__buf_init(&b, 1 << 20);
  cf_value in = cf__value_text(s, strlen(s)), v;
  int rc = cf__value_canon(c, &in, &b, &v);
  if (rc == CF_OK) {
    if (v.kind == CF_VALUE_INT) {
      snprintf(out, cap, "%lld", (long long)v.i);
    } else {
      CHECK(v.n < cap);
      memcpy(out, v.p, v.n);
      out[v.n] = '\0';
    }
  }
  cf__buf_free(&b);
  return rc;
}

/* x through Postgres (cast) and x itself give the same canonical text, and
** the canonical text means the same value to Postgres. */
static void same_through_pg(const char *table, const char *name, const char *cast,
                            const char *x) {
  char sql[256], pg[8192], c1[8192], c2[8192], back[8192];
  snprintf(sql, sizeof sql, "SELECT ($1::%s)::text", cast);
  CHECK_MSG(pg_one(sql, x, pg, sizeof pg), "Postgres refused %s '%s': %s", cast, x,
            PQerrorMessage(db));
  CHECK_MSG(canon(table, name, x, c1, sizeof c1) == CF_OK, "we refused %s '%s'", cast, x);
  CHECK_MSG(canon(table, name, pg, c2, sizeof c2) == CF_OK, "we refused pg's '%s'", pg);
  CHECK_MSG(strcmp(c1, c2) == 0, "%s '%s': ours %s, via Postgres '%s' -> %s", cast, x, c1,
            pg, c2);
  /* Our canonical text, read by Postgres, is the same value. */
  snprintf(sql, sizeof sql, "SELECT (($1::%s)::text = ($2::%s)::text)::text", cast, cast);
  const char *params[2] = {c1, x};
  if (strcmp(cast, "text[]") == 0) {
    cf_buf lit;
    cf__buf_init(&lit, 1 << 20);
    CHECK_OK(cf__text_array_to_pg(c1, strlen(c1), &lit));
    memcpy(back, lit.p, lit.len + 1);
    cf__buf_free(&lit);
    params[0] = back;
  } else if (strcmp(cast, "jsonb") == 0) {
    snprintf(sql, sizeof sql, "SELECT ($1::jsonb = $2::jsonb)::text");
  }
  PGresult *r = PQexecParams(db, sql, 2, NULL, params, NULL, NULL, 0);
  CHECK_MSG(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQerrorMessage(db));
  CHECK_MSG(strcmp(PQgetvalue(r, 0, 0), "true") == 0, "%s: Postgres reads %s differently",
            cast, params[0]);
  PQclear(r);
}

CF_TEST(test_canonical_jsonb_equals_postgres_jsonb_output) {
  open_db();
  static const char *docs[] = {
      "{}",
      "[]",
      "{\"b\": 1, \"a\": [1, 2.50, 1e2, -0.0, 100.0]}",
      "{\"aa\": 1, \"b\": {\"y\": null, \"x\": true}, \"\": false}",
      "{\"a\": 1, \"a\": 2}",
      "\"caf\\u00e9 \\ud83d\\ude00 \\n \\t \\u0001 \\\" \\\\ /\"",
      "[1.000000000000000000001, 12345678901234567890, 0.0001e-5, 5E+3]",
      "{\"\xc3\xa9\": 1, \"e\": 2, \"E\": 3, \"ee\": 4}",
      "{\"nested\": [{\"z\": [[]], \"a\": {}}]}",
      "null",
      "-12.5",
  };
  for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++)
    same_through_pg("contacts", "metadata", "jsonb", docs[i]);
  close_db();
}

CF_TEST(test_canonical_timestamptz_equals_postgres_output_in_any_time_zone) {
  open_db();
  static const char *zones[] = {"UTC", "Asia/Kolkata", "America/St_Johns",
                                "Pacific/Chatham"};
  static const char *ts[] = {
      "2026-11-28 16:00:00.123+00",  "2026-11-28T16:00:00Z",
      "2024-02-29T23:30:00-01:00",   "2026-11-28T18:30:00.000001+02:30",
      "1999-12-31 23:59:59.999999Z", "0001-01-01T00:00:00Z",
      "2026-06-01 12:00:00+05:45",   "1900-01-01 00:00:00+00"};
  for (size_t z = 0; z < sizeof zones / sizeof zones[0]; z++) {
    char set[128];
    snprintf(set, sizeof set, "SET TimeZone = '%s'", zones[z]);
    exec(set);
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++)
      same_through_pg("contacts", "created_at", "timestamptz", ts[i]);
  }
  close_db();
}

CF_TEST(test_canonical_numeric_rounds_and_refuses_like_postgres) {
  open_db();
  static const char *nums[] = {"0",
                               "12.5",
                               "12.345",
                               "-12.345",
                               "-0.004",
                               "1e3",
                               ".5",
                               "5.",
                               "000123.45",
                               "1.5E-1",
                               "999999999999.994",
                               "-0.005",
                               "0.30000000000000004"};
  for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
    same_through_pg("deals", "value", "numeric(14,2)", nums[i]);
  /* Values that do not fit: refused by both. */
  static const char *big[] = {"1000000000000", "999999999999.995", "1e12", "NaN"};
  char out[256];
  for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
    int pg_ok = pg_one("SELECT ($1::numeric(14,2))::text", big[i], out, sizeof out);
    int ours = canon("deals", "value", big[i], out, sizeof out);
    /* Postgres 15 accepts NaN for numeric; the replica refuses it (it has no
    ** meaning for money and a CHECK (value >= 0) would pass it). */
    if (strcmp(big[i], "NaN") != 0) CHECK_MSG(!pg_ok, "Postgres accepted %s", big[i]);
    CHECK_MSG(ours == CF_INVALID, "we accepted %s", big[i]);
  }
  close_db();
}

CF_TEST(test_canonical_text_array_date_uuid_boolean_match_postgres) {
  open_db();
  static const char *arrays[] = {"{}", "{vip,lead}",
                                 "{\"a b\",\"c,d\",\"e\\\"f\",\"g\\\\h\",\"\"}",
                                 "{\"NULL\"}", "[\"x\", \"\\u00e9\"]"};
  for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++) {
    const char *a = arrays[i];
    if (a[0] == '[') {
      /* JSON input: Postgres cannot cast it, compare through our literal. */
      char c[512];
      CHECK_OK(canon("contacts", "tags", a, c, sizeof c));
      cf_buf lit;
      cf__buf_init(&lit, 4096);
      CHECK_OK(cf__text_array_to_pg(c, strlen(c), &lit));
      same_through_pg("contacts", "tags", "text[]", lit.p);
      cf__buf_free(&lit);
    } else {
      same_through_pg("contacts", "tags", "text[]", a);
    }
  }
  same_through_pg("deals", "expected_close", "date", "2024-02-29");
  same_through_pg("deals", "expected_close", "date", "0001-01-01");
  same_through_pg("contacts", "id", "uuid", "0192F0C1-7C3A-7B2E-9F00-0123456789AB");
  char out[64], ours[64];
  static const char *bools[] = {"t", "f", "true", "FALSE", "yes", "off", "1", "0"};
  for (size_t i = 0; i < sizeof bools / sizeof bools[0]; i++) {
    CHECK(pg_one("SELECT ($1::boolean)::int::text", bools[i], out, sizeof out));
    CHECK_OK(canon("automations", "enabled", bools[i], ours, sizeof ours));
    CHECK_STR(ours, out);
  }
  close_db();
}
