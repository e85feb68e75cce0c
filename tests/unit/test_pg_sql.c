/*
** tests/unit/test_pg_sql.c: named statements in the embedded SQL files
** (cf__sql_named, sync/master/pg_sql.c) and the migration files the build embeds;
** no database needed.
*/
#include <string.h>

#include "cf_test.h"
#include "platform/assets.h"
#include "platform/platform.h"
#include "sync/master/pg.h"

/* Every statement name sync/master/migrate.c, sync/master/doctor.c and
 * sync/master/master.c run. */
static const char *const used_names[] = {
    "migrate_lock",      "ensure_ledger",    "ledger_exists", "applied_migrations",
    "record_migration",  "schema_droppable", "reset_public",  "drop_ledger",
    "doctor_select_one", "doctor_role",      "doctor_tables", "row_counts"};

CF_TEST(test_sql_named_finds_every_statement_the_master_code_runs) {
  for (size_t i = 0; i < sizeof used_names / sizeof used_names[0]; i++) {
    char *sql = NULL;
    CHECK_MSG(cf__sql_named("admin/master.sql", used_names[i], &sql) == CF_OK,
              "statement %s missing from admin/master.sql", used_names[i]);
    CHECK(sql != NULL && strlen(sql) > 10);
    /* A statement stops before the next marker. */
    CHECK(strstr(sql, "-- @name") == NULL);
    cf__free(sql);
  }
}

CF_TEST(test_sql_named_returns_only_the_named_statement) {
  char *sql = NULL;
  CHECK_OK(cf__sql_named("admin/master.sql", "ledger_exists", &sql));
  CHECK(strstr(sql, "to_regclass('cf_meta.schema_migrations')") != NULL);
  CHECK(strstr(sql, "applied_at") == NULL); /* the next statement's column */
  cf__free(sql);
}

CF_TEST(test_sql_named_reports_missing_name_and_file_as_notfound) {
  char *sql = (char *)1;
  CHECK_EQ(cf__sql_named("admin/master.sql", "no_such_statement", &sql), CF_NOTFOUND);
  CHECK(sql == NULL);
  CHECK_EQ(cf__sql_named("admin/master.sql", "ledger", &sql), CF_NOTFOUND); /* prefix */
  CHECK_EQ(cf__sql_named("admin/no_such_file.sql", "ledger_exists", &sql), CF_NOTFOUND);
}

CF_TEST(test_sql_named_reports_out_of_memory) {
  char *sql = (char *)1;
  cf__alloc_fail_at(1);
  int rc = cf__sql_named("admin/master.sql", "ledger_exists", &sql);
  cf__alloc_fail_at(0);
  CHECK_EQ(rc, CF_NOMEM);
  CHECK(sql == NULL);
}

CF_TEST(test_embedded_migrations_are_numbered_uniquely_in_order) {
  char prev[16] = "";
  int n = 0;
  for (const cf__asset *a = cf__assets; a->path != NULL; a++) {
    if (strncmp(a->path, "postgres/", 9) != 0) continue;
    const char *file = a->path + 9;
    size_t digits = strspn(file, "0123456789");
    CHECK_MSG(digits == 3 && file[3] == '_', "%s: migrations are named NNN_name.sql",
              a->path);
    char version[16];
    memcpy(version, file, digits);
    version[digits] = '\0';
    CHECK_MSG(strcmp(version, prev) > 0, "%s: number not after %s", a->path, prev);
    memcpy(prev, version, sizeof prev);
    n++;
  }
  CHECK(n >= 2); /* 001_init.sql and 002_rls.sql at least */
}

CF_TEST(test_one_statement_reader_serves_replica_and_master_files) {
  const char *text = NULL;
  size_t len = 0;
  /* The replica's statements (store/sqltext.c) and the master's (sync/). */
  CHECK_OK(cf__asset_statement("sqlite/statements.sql", "meta_get", &text, &len));
  CHECK(len > 10 && len < 200);
  char *copy = cf__strndup(text, len);
  CHECK(copy != NULL && strstr(copy, "-- @name") == NULL); /* stops before the next */
  cf__free(copy);
  CHECK_OK(cf__asset_statement("server/session.sql", "hello", &text, &len));
  CHECK(len > 10);
  /* The last statement of a file runs to its end. */
  CHECK_OK(cf__asset_statement("sqlite/statements.sql", "t_max_seq", &text, &len));
  CHECK(text + len == cf__asset_find("sqlite/statements.sql")->data +
                          cf__asset_find("sqlite/statements.sql")->len);
  CHECK_EQ(cf__asset_statement("sqlite/statements.sql", "meta", &text, &len),
           CF_NOTFOUND);
  /* No file of sql/ uses another marker style any more. */
  for (const cf__asset *a = cf__assets; a->path != NULL; a++)
    CHECK_MSG(strstr(a->data, "\n-- name:") == NULL, "%s uses \"-- name:\"", a->path);
}
