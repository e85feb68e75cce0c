/*
** tests/unit/test_schema.c: the schema descriptor (core/schema.h).
**
** Besides the lookups and masks, this checks the descriptor against the
** registry (core/tables.h) and reads the migrations sql/postgres/NNN_*.sql
** (the source of truth): every CREATE TABLE public.x there has the same
** columns, in the same order, with the same types and nullability as the
** descriptor.  tests/integration/test_schema_matches_master.c does the same
** against a live migrated Postgres.
*/
#include <ctype.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_test.h"
#include "clientflow.h"
#include "core/schema.h"
#include "core/tables.h"

CF_TEST(test_schema_has_ten_tables_with_stable_numbers) {
  /* The first ten numbers are pinned forever (outbox, wire, tombstones);
  ** tables added later (core/tables.h) only append. */
  static const char *names[10] = {
      "organizations", "users",        "memberships", "contacts",    "deals",
      "activities",    "appointments", "messages",    "automations", "daily_metrics"};
  static const unsigned ncols[10] = {6, 7, 6, 11, 12, 14, 12, 12, 9, 10};
  CHECK(CF_SCHEMA_NTABLES >= 10);
  for (unsigned i = 0; i < 10; i++) {
    const cf_table *t = cf__schema_table(i);
    CHECK(t != NULL);
    CHECK_STR(t->name, names[i]);
    CHECK_EQ(t->ncols, ncols[i]);
  }
  for (unsigned i = 0; i < CF_SCHEMA_NTABLES; i++) {
    const cf_table *t = cf__schema_table(i);
    CHECK(t != NULL);
    CHECK_EQ(t->number, i);
    CHECK(t->ncols <= CF_SCHEMA_MAX_COLS);
    CHECK(cf__schema_table_by_name(t->name) == t);
    CHECK(cf__schema_table_by_name_n(t->name, strlen(t->name)) == t);
  }
  CHECK(cf__schema_table(CF_SCHEMA_NTABLES) == NULL);
  CHECK(cf__schema_table_by_name("contact") == NULL);
  CHECK(cf__schema_table_by_name("Contacts") == NULL);
  CHECK(cf__schema_table_by_name_n("contactsX", 8) == cf__schema_table(3));
  CHECK(cf__schema_table_by_name(NULL) == NULL);
}

CF_TEST(test_schema_descriptor_follows_the_registry) {
  /* core/tables.h: number, name and kind of every table, in order. */
  static const struct {
    unsigned number;
    const char *name;
    cf_table_kind kind;
  } registry[] = {
#define ENTRY(num, name, kind) {num, #name, CF_TABLE_KIND_##kind},
      CF_TABLE_LIST(ENTRY)
#undef ENTRY
  };
  CHECK_EQ(sizeof registry / sizeof registry[0], CF_SCHEMA_NTABLES);
  CHECK_EQ(CF_TABLE_COUNT, CF_SCHEMA_NTABLES);
  for (unsigned i = 0; i < CF_SCHEMA_NTABLES; i++) {
    const cf_table *t = cf__schema_table(i);
    CHECK_EQ(registry[i].number, i);
    CHECK_STR(t->name, registry[i].name);
    CHECK_EQ(t->tenant, registry[i].kind == CF_TABLE_KIND_TENANT);
  }
  CHECK_EQ(registry[0].kind, CF_TABLE_KIND_ORG);
  CHECK_EQ(registry[1].kind, CF_TABLE_KIND_USER);
}

CF_TEST(test_schema_keys_tenancy_and_timestamps) {
  for (unsigned i = 0; i < CF_SCHEMA_NTABLES; i++) {
    const cf_table *t = cf__schema_table(i);
    int global = i < 2;
    CHECK_EQ(t->tenant, !global);
    if (global) {
      CHECK_EQ(t->nkey, 1);
      CHECK_EQ(t->org_col, -1);
      CHECK_EQ(t->id_col, 0);
      CHECK(t->key_mask == CF_COL_BIT(0));
    } else {
      CHECK_EQ(t->nkey, 2);
      CHECK_EQ(t->org_col, 0);
      CHECK_EQ(t->id_col, 1);
      CHECK_STR(t->cols[0].name, "org_id");
      CHECK_EQ(t->cols[0].def, CF_DEFAULT_ORG);
      CHECK_STR(t->cols[0].references, "organizations");
      CHECK(t->key_mask == (CF_COL_BIT(0) | CF_COL_BIT(1)));
    }
    const cf_column *id = &t->cols[t->id_col];
    CHECK_STR(id->name, "id");
    CHECK_EQ(id->type, CF_TYPE_UUID);
    CHECK_EQ(id->def, CF_DEFAULT_UUIDV7);
    for (unsigned k = 0; k < t->nkey; k++) {
      CHECK(t->cols[t->key[k]].key);
      CHECK(!t->cols[t->key[k]].nullable);
    }
    const cf_column *ca = cf__schema_column(t, "created_at");
    const cf_column *ua = cf__schema_column(t, "updated_at");
    CHECK(ca != NULL && ua != NULL);
    CHECK_EQ(ca->def, CF_DEFAULT_NOW);
    CHECK_EQ(ua->def, CF_DEFAULT_NOW);
    CHECK(!ca->touch && ua->touch);
    for (unsigned c = 0; c < t->ncols; c++) {
      const cf_column *col = &t->cols[c];
      CHECK_EQ(col->def == CF_DEFAULT_CONST, col->default_text != NULL);
      CHECK_EQ(col->type == CF_TYPE_NUMERIC, col->precision != 0);
      if (col->references != NULL)
        CHECK(cf__schema_table_by_name(col->references) != NULL);
      /* Parents come first in table-number order. */
      if (col->references != NULL)
        CHECK(cf__schema_table_by_name(col->references)->number <= t->number);
    }
  }
  const cf_column *value = cf__schema_column(cf__schema_table_by_name("deals"), "value");
  CHECK_EQ(value->precision, 14);
  CHECK_EQ(value->scale, 2);
}

CF_TEST(test_schema_column_lookup_and_masks) {
  const cf_table *t = cf__schema_table_by_name("contacts");
  CHECK_EQ(cf__schema_column_index(t, "org_id"), 0);
  CHECK_EQ(cf__schema_column_index(t, "first_name"), 2);
  CHECK_EQ(cf__schema_column_index(t, "updated_at"), 10);
  CHECK_EQ(cf__schema_column_index(t, "deleted"), (int)t->ncols);
  CHECK_EQ(cf__schema_deleted_index(t), t->ncols);
  CHECK_EQ(cf__schema_column_index(t, "nope"), -1);
  CHECK_EQ(cf__schema_column_index_n(t, "emailX", 5), 4);
  CHECK(cf__schema_column(t, "deleted") == NULL);
  CHECK(cf__schema_column(t, "tags")->type == CF_TYPE_TEXT_ARRAY);
  CHECK(cf__schema_mask_columns(t) == 0x7ff);
  CHECK(cf__schema_mask_all(t) == 0xfff);
  CHECK(cf__schema_mask_data(t) == 0xffc);
  CHECK_EQ(cf__schema_mask_count(cf__schema_mask_all(t)), 12);
  const char *names[] = {"email", "deleted", "id"};
  uint64_t m;
  CHECK_OK(cf__schema_mask_from_names(t, names, 3, &m));
  CHECK(m == (CF_COL_BIT(4) | CF_COL_BIT(11) | CF_COL_BIT(1)));
  const char *bad[] = {"email", "bogus"};
  CHECK_EQ(cf__schema_mask_from_names(t, bad, 2, &m), CF_NOTFOUND);
}

CF_TEST(test_schema_type_names) {
  CHECK_STR(cf__coltype_name(CF_TYPE_TEXT_ARRAY), "text[]");
  CHECK_STR(cf__coltype_pg_data_type(CF_TYPE_TIMESTAMPTZ), "timestamp with time zone");
  CHECK_STR(cf__coltype_pg_data_type(CF_TYPE_TEXT_ARRAY), "ARRAY");
  CHECK_STR(cf__coltype_pg_data_type(CF_TYPE_JSONB), "jsonb");
  CHECK_STR(cf__coltype_sqlite_decl(CF_TYPE_BOOLEAN), "INTEGER");
  CHECK_STR(cf__coltype_sqlite_decl(CF_TYPE_NUMERIC), "TEXT");
}

/* The descriptor's type as written in the migrations' CREATE TABLE. */
static const char *sql_type(const cf_column *c, char *buf, size_t cap) {
  if (c->type == CF_TYPE_NUMERIC) {
    snprintf(buf, cap, "numeric(%u,", c->precision);
    return buf;
  }
  return cf__coltype_name(c->type);
}

CF_TEST(test_schema_matches_the_migrations_create_table) {
  /* Every table is created by one of sql/postgres/NNN_*.sql, in number
  ** order: 001_init.sql the first ten, later migrations the rest. */
  const char *dir = getenv("CF_SOURCE_DIR");
  char pattern[4096];
  snprintf(pattern, sizeof pattern, "%s/sql/postgres/[0-9]*_*.sql", dir ? dir : ".");
  glob_t files;
  CHECK_MSG(glob(pattern, 0, NULL, &files) == 0, "no migrations match %s", pattern);
  unsigned col = 0, tables_seen = 0;
  for (size_t fi = 0; fi < files.gl_pathc; fi++) {
    const char *path = files.gl_pathv[fi];
    FILE *f = fopen(path, "r");
    CHECK_MSG(f != NULL, "cannot open %s", path);
    const cf_table *t = NULL;
    char line[1024];
    while (fgets(line, sizeof line, f) != NULL) {
      char name[128];
      if (sscanf(line, "CREATE TABLE public.%127[a-z_] (", name) == 1) {
        t = cf__schema_table_by_name(name);
        CHECK_MSG(t != NULL, "table %s missing from the descriptor", name);
        CHECK_EQ(t->number, tables_seen);
        tables_seen++;
        col = 0;
        continue;
      }
      if (t == NULL) continue;
      if (strncmp(line, ");", 2) == 0) {
        CHECK_MSG(col == t->ncols, "%s: %u columns in SQL, %u in descriptor", t->name,
                  col, t->ncols);
        t = NULL;
        continue;
      }
      /* A column line: two spaces, a lowercase name, spaces, a type. */
      char cname[128], ctype[128];
      if (strncmp(line, "  ", 2) != 0 || !islower((unsigned char)line[2])) continue;
      if (sscanf(line, " %127s %127s", cname, ctype) != 2) continue;
      CHECK_MSG(col < t->ncols, "%s.%s not in the descriptor", t->name, cname);
      const cf_column *c = &t->cols[col++];
      CHECK_STR(c->name, cname);
      char buf[64];
      const char *want = sql_type(c, buf, sizeof buf);
      CHECK_MSG(strncmp(ctype, want, strlen(want)) == 0, "%s.%s: SQL %s, descriptor %s",
                t->name, cname, ctype, want);
      if (c->type == CF_TYPE_NUMERIC) {
        char scale[16];
        snprintf(scale, sizeof scale, "%u)", c->scale);
        CHECK(strstr(line, scale) != NULL);
      }
      int not_null =
          strstr(line, "NOT NULL") != NULL || strstr(line, "PRIMARY KEY") != NULL;
      CHECK_MSG(c->nullable == !not_null, "%s.%s nullability", t->name, cname);
    }
    fclose(f);
  }
  globfree(&files);
  CHECK_EQ(tables_seen, CF_SCHEMA_NTABLES);
}
