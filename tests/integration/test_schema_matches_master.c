/*
** tests/integration/test_schema_matches_master.c: the schema descriptor
** (core/schema.c) against information_schema of a freshly migrated master.
**
** The master's table registry (cf_sync.tables) must be core/tables.h, and
** every table of it must exist in schema public with exactly the
** descriptor's columns, in order, with the same types (numeric precision and
** scale, text[] as ARRAY of _text), nullability, and primary key.  Columns
** named cf_* are sync metadata a later migration may add to the master
** tables; they are not part of the CRM schema and are skipped (docs/sync.md).
*/
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_test.h"
#include "clientflow.h"
#include "core/schema.h"
#include "core/tables.h"
#include "core/value.h"

static PGconn *connect_fresh(void) {
  const char *conninfo = cf_test_pg_createdb();
  CHECK_MSG(conninfo != NULL, "no test database");
  PGconn *db = PQconnectdb(conninfo);
  CHECK_MSG(PQstatus(db) == CONNECTION_OK, "connect: %s", PQerrorMessage(db));
  return db;
}

static PGresult *query(PGconn *db, const char *sql, const char *param) {
  const char *params[1] = {param};
  PGresult *r = PQexecParams(db, sql, param ? 1 : 0, NULL, params, NULL, NULL, 0);
  CHECK_MSG(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(db));
  return r;
}

CF_TEST(test_schema_descriptor_matches_master_information_schema) {
  PGconn *db = connect_fresh();
  for (unsigned n = 0; n < CF_SCHEMA_NTABLES; n++) {
    const cf_table *t = cf__schema_table(n);
    PGresult *r = query(db,
                        "SELECT column_name, data_type, is_nullable, udt_name,"
                        "       coalesce(numeric_precision::text, ''),"
                        "       coalesce(numeric_scale::text, '')"
                        "  FROM information_schema.columns"
                        " WHERE table_schema = 'public' AND table_name = $1"
                        "   AND column_name NOT LIKE 'cf\\_%'"
                        " ORDER BY ordinal_position",
                        t->name);
    int rows = PQntuples(r);
    CHECK_MSG(rows == (int)t->ncols, "%s: %d columns in master, %u in descriptor",
              t->name, rows, t->ncols);
    for (unsigned c = 0; c < t->ncols; c++) {
      const cf_column *col = &t->cols[c];
      const char *name = PQgetvalue(r, (int)c, 0), *type = PQgetvalue(r, (int)c, 1);
      const char *nullable = PQgetvalue(r, (int)c, 2), *udt = PQgetvalue(r, (int)c, 3);
      CHECK_MSG(strcmp(name, col->name) == 0, "%s column %u: master %s, descriptor %s",
                t->name, c, name, col->name);
      CHECK_MSG(strcmp(type, cf__coltype_pg_data_type(col->type)) == 0,
                "%s.%s: master type %s, descriptor %s", t->name, name, type,
                cf__coltype_pg_data_type(col->type));
      CHECK_MSG(strcmp(nullable, col->nullable ? "YES" : "NO") == 0,
                "%s.%s: master is_nullable %s", t->name, name, nullable);
      if (col->type == CF_TYPE_TEXT_ARRAY) CHECK_STR(udt, "_text");
      if (col->type == CF_TYPE_NUMERIC) {
        CHECK_EQ(atoi(PQgetvalue(r, (int)c, 4)), col->precision);
        CHECK_EQ(atoi(PQgetvalue(r, (int)c, 5)), col->scale);
      }
    }
    PQclear(r);

    /* The primary key, in key order. */
    r = query(db,
              "SELECT a.attname FROM pg_index i"
              "  JOIN pg_attribute a ON a.attrelid = i.indrelid"
              "   AND a.attnum = ANY (i.indkey)"
              " WHERE i.indrelid = ('public.' || quote_ident($1))::regclass"
              "   AND i.indisprimary"
              " ORDER BY array_position(i.indkey::int2[], a.attnum)",
              t->name);
    CHECK_MSG(PQntuples(r) == (int)t->nkey, "%s: primary key has %d columns", t->name,
              PQntuples(r));
    for (unsigned k = 0; k < t->nkey; k++)
      CHECK_STR(PQgetvalue(r, (int)k, 0), t->cols[t->key[k]].name);
    PQclear(r);
  }

  /* No other CRM table hides in public: every base table there that is not
  ** sync support (cf_*) or migration bookkeeping is in the descriptor. */
  PGresult *r = query(db,
                      "SELECT table_name FROM information_schema.tables"
                      " WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
                      "   AND table_name NOT LIKE 'cf\\_%'"
                      "   AND table_name NOT LIKE '%migration%'"
                      " ORDER BY table_name",
                      NULL);
  for (int i = 0; i < PQntuples(r); i++) {
    const char *name = PQgetvalue(r, i, 0);
    CHECK_MSG(cf__schema_table_by_name(name) != NULL,
              "master table %s is missing from core/schema.c", name);
  }
  PQclear(r);
  PQfinish(db);
}

/* Evaluates a column_default expression in Postgres; its text, or NULL. */
static char *eval_default(PGconn *db, const char *expr) {
  char sql[512];
  snprintf(sql, sizeof sql, "SELECT (%s)::text", expr);
  PGresult *r = PQexec(db, sql);
  CHECK_MSG(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(db));
  char *v = PQgetisnull(r, 0, 0) ? NULL : strdup(PQgetvalue(r, 0, 0));
  PQclear(r);
  return v;
}

CF_TEST(test_schema_defaults_match_master_column_defaults) {
  PGconn *db = connect_fresh();
  cf_buf b;
  cf__buf_init(&b, 1 << 16);
  for (unsigned n = 0; n < CF_SCHEMA_NTABLES; n++) {
    const cf_table *t = cf__schema_table(n);
    PGresult *r = query(db,
                        "SELECT column_name, column_default"
                        "  FROM information_schema.columns"
                        " WHERE table_schema = 'public' AND table_name = $1"
                        "   AND column_name NOT LIKE 'cf\\_%'"
                        " ORDER BY ordinal_position",
                        t->name);
    CHECK_EQ(PQntuples(r), (int)t->ncols);
    for (unsigned c = 0; c < t->ncols; c++) {
      const cf_column *col = &t->cols[c];
      int has_default = !PQgetisnull(r, (int)c, 1);
      const char *expr = PQgetvalue(r, (int)c, 1);
      switch (col->def) {
        case CF_DEFAULT_NOW:
          CHECK_MSG(has_default && strstr(expr, "now()") != NULL, "%s.%s default %s",
                    t->name, col->name, expr);
          break;
        case CF_DEFAULT_UUIDV7: /* the master's default only serves direct SQL */
          CHECK_MSG(has_default && strstr(expr, "uuid") != NULL, "%s.%s", t->name,
                    col->name);
          break;
        case CF_DEFAULT_ORG: /* no default on the master: always given */
        case CF_DEFAULT_NONE:
          CHECK_MSG(!has_default, "%s.%s has master default %s", t->name, col->name,
                    expr);
          break;
        case CF_DEFAULT_CONST: {
          CHECK_MSG(has_default, "%s.%s has no master default", t->name, col->name);
          char *pg = eval_default(db, expr);
          CHECK(pg != NULL);
          cf_value in = cf__value_text(pg, strlen(pg)), out, want;
          CHECK_OK(cf__value_canon(col, &in, &b, &out));
          CHECK_OK(cf__column_default(col, &want));
          CHECK_MSG(cf__value_equal(&out, &want), "%s.%s: master default %s (%s)",
                    t->name, col->name, expr, pg);
          free(pg);
          break;
        }
      }
    }
    PQclear(r);
  }
  cf__buf_free(&b);
  PQfinish(db);
}

CF_TEST(test_master_table_registry_is_the_build_registry) {
  /* cf_sync.tables (006_table_registry.sql and each later table's
  ** migration) holds the same numbers, names and kinds as core/tables.h. */
  static const struct {
    unsigned number;
    const char *name;
    const char *kind;
  } registry[] = {
#define ENTRY(num, name, kind) {num, #name, CF_TABLE_KIND_NAME_##kind},
      CF_TABLE_LIST(ENTRY)
#undef ENTRY
  };
  PGconn *db = connect_fresh();
  PGresult *r = query(
      db, "SELECT table_no, name, kind FROM cf_sync.tables ORDER BY table_no", NULL);
  CHECK_EQ(PQntuples(r), CF_TABLE_COUNT);
  for (int i = 0; i < PQntuples(r); i++) {
    CHECK_EQ(strtoul(PQgetvalue(r, i, 0), NULL, 10), registry[i].number);
    CHECK_STR(PQgetvalue(r, i, 1), registry[i].name);
    CHECK_STR(PQgetvalue(r, i, 2), registry[i].kind);
  }
  PQclear(r);
  PQfinish(db);
}
