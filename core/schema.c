/*
** core/schema.c: the CRM tables, column by column (see core/schema.h).
**
** This is the one place the column lists are written down; which tables
** exist is core/tables.h, and the descriptor below is generated from that
** list: table <name> takes its columns from <name>_cols here (a registered
** table without them does not compile; columns of no registered table are
** an unused variable, an error under -Werror).  The columns follow the
** migration that creates the table (sql/postgres/) exactly (names, order,
** types, nullability); tests/unit/test_schema.c and
** tests/integration/test_schema_matches_master.c hold them to it.  The
** `def` column says what the replica fills in when an insert leaves the
** column out; the master's own DEFAULTs only serve direct SQL there.
*/
#include "core/schema.h"

#include <string.h>

/* Column initialisers, to keep the tables below one line per column. */
#define COL(...) COL_(__VA_ARGS__) /* expands NODEF/CONST first */
#define COL_(n, t, null, def, dtext, ref)                                                \
  { n, t, 0, 0, null, 0, 0, def, dtext, ref }
#define KEY(n, def, ref)                                                                 \
  { n, CF_TYPE_UUID, 0, 0, 0, 1, 0, def, NULL, ref }
#define NUM(...) NUM_(__VA_ARGS__)
#define NUM_(n, p, s, null, def, dtext)                                                  \
  { n, CF_TYPE_NUMERIC, p, s, null, 0, 0, def, dtext, NULL }
#define CREATED_AT                                                                       \
  { "created_at", CF_TYPE_TIMESTAMPTZ, 0, 0, 0, 0, 0, CF_DEFAULT_NOW, NULL, NULL }
#define UPDATED_AT                                                                       \
  { "updated_at", CF_TYPE_TIMESTAMPTZ, 0, 0, 0, 0, 1, CF_DEFAULT_NOW, NULL, NULL }
#define ORG_ID KEY("org_id", CF_DEFAULT_ORG, "organizations")
#define ID KEY("id", CF_DEFAULT_UUIDV7, NULL)
#define METADATA(n) COL(n, CF_TYPE_JSONB, 0, CF_DEFAULT_CONST, "{}", NULL)
#define NN 0 /* NOT NULL */
#define NULLABLE 1
#define NODEF CF_DEFAULT_NONE, NULL
#define CONST(t) CF_DEFAULT_CONST, t

static const cf_column organizations_cols[] = {
    ID,
    COL("name", CF_TYPE_TEXT, NN, NODEF, NULL),
    COL("slug", CF_TYPE_TEXT, NN, NODEF, NULL),
    METADATA("settings"),
    CREATED_AT,
    UPDATED_AT,
};

static const cf_column users_cols[] = {
    ID,
    COL("email", CF_TYPE_TEXT, NN, NODEF, NULL),
    COL("full_name", CF_TYPE_TEXT, NULLABLE, NODEF, NULL),
    COL("avatar_url", CF_TYPE_TEXT, NULLABLE, NODEF, NULL),
    METADATA("metadata"),
    CREATED_AT,
    UPDATED_AT,
};

static const cf_column memberships_cols[] = {
    ORG_ID,
    ID,
    COL("user_id", CF_TYPE_UUID, NN, NODEF, "users"),
    COL("role", CF_TYPE_TEXT, NN, CONST("member"), NULL),
    CREATED_AT,
    UPDATED_AT,
};

static const cf_column contacts_cols[] = {
    ORG_ID,
    ID,
    COL("first_name", CF_TYPE_TEXT, NN, NODEF, NULL),
    COL("last_name", CF_TYPE_TEXT, NULLABLE, NODEF, NULL),
    COL("email", CF_TYPE_TEXT, NULLABLE, NODEF, NULL),
    COL("phone", CF_TYPE_TEXT, NULLABLE, NODEF, NULL),
    COL("company", CF_TYPE_TEXT, NULLABLE, NODEF, NULL),
    COL("tags", CF_TYPE_TEXT_ARRAY, NN, CONST("[]"), NULL),
    METADATA("metadata"),
    CREATED_AT,
    UPDATED_AT,
};

static const cf_column deals_cols[] = {
    ORG_ID,
    ID,
    COL("contact_id", CF_TYPE_UUID, NULLABLE, NODEF, "contacts"),
    COL("title", CF_TYPE_TEXT, NN, NODEF, NULL),
    COL("stage", CF_TYPE_TEXT, NN, CONST("lead"), NULL),
    NUM("value", 14, 2, NN, CONST("0.00")),
    COL("currency", CF_TYPE_TEXT, NN, CONST("USD"), NULL),
    COL("expected_close", CF_TYPE_DATE, NULLABLE, NODEF, NULL),
    COL("closed_at", CF_TYPE_TIMESTAMPTZ, NULLABLE, NODEF, NULL),
    METADATA("metadata"),
    CREATED_AT,
    UPDATED_AT,
};

static const cf_column activities_cols[] = {
    ORG_ID,
    ID,
    COL("kind", CF_TYPE_TEXT, NN, NODEF, NULL),
    COL("subject", CF_TYPE_TEXT, NN, NODEF, NULL),
    COL("body", CF_TYPE_TEXT, NULLABLE, NODEF, NULL),
    COL("contact_id", CF_TYPE_UUID, NULLABLE, NODEF, "contacts"),
    COL("deal_id", CF_TYPE_UUID, NULLABLE, NODEF, "deals"),
    COL("user_id", CF_TYPE_UUID, NULLABLE, NODEF, "users"),
    COL("occurred_at", CF_TYPE_TIMESTAMPTZ, NN, CF_DEFAULT_NOW, NULL, NULL),
    COL("due_at", CF_TYPE_TIMESTAMPTZ, NULLABLE, NODEF, NULL),
    COL("completed_at", CF_TYPE_TIMESTAMPTZ, NULLABLE, NODEF, NULL),
    METADATA("metadata"),
    CREATED_AT,
    UPDATED_AT,
};

static const cf_column appointments_cols[] = {
    ORG_ID,
    ID,
    COL("contact_id", CF_TYPE_UUID, NULLABLE, NODEF, "contacts"),
    COL("title", CF_TYPE_TEXT, NN, NODEF, NULL),
    COL("starts_at", CF_TYPE_TIMESTAMPTZ, NN, NODEF, NULL),
    COL("ends_at", CF_TYPE_TIMESTAMPTZ, NN, NODEF, NULL),
    COL("location", CF_TYPE_TEXT, NULLABLE, NODEF, NULL),
    COL("status", CF_TYPE_TEXT, NN, CONST("scheduled"), NULL),
    COL("notes", CF_TYPE_TEXT, NULLABLE, NODEF, NULL),
    METADATA("metadata"),
    CREATED_AT,
    UPDATED_AT,
};

static const cf_column messages_cols[] = {
    ORG_ID,
    ID,
    COL("contact_id", CF_TYPE_UUID, NULLABLE, NODEF, "contacts"),
    COL("channel", CF_TYPE_TEXT, NN, NODEF, NULL),
    COL("direction", CF_TYPE_TEXT, NN, NODEF, NULL),
    COL("subject", CF_TYPE_TEXT, NULLABLE, NODEF, NULL),
    COL("body", CF_TYPE_TEXT, NN, NODEF, NULL),
    COL("status", CF_TYPE_TEXT, NN, CONST("sent"), NULL),
    COL("sent_at", CF_TYPE_TIMESTAMPTZ, NN, CF_DEFAULT_NOW, NULL, NULL),
    METADATA("metadata"),
    CREATED_AT,
    UPDATED_AT,
};

static const cf_column automations_cols[] = {
    ORG_ID,
    ID,
    COL("name", CF_TYPE_TEXT, NN, NODEF, NULL),
    COL("trigger", CF_TYPE_TEXT, NN, NODEF, NULL),
    COL("action", CF_TYPE_TEXT, NN, NODEF, NULL),
    METADATA("config"),
    COL("enabled", CF_TYPE_BOOLEAN, NN, CONST("1"), NULL),
    CREATED_AT,
    UPDATED_AT,
};

static const cf_column daily_metrics_cols[] = {
    ORG_ID,
    ID,
    COL("day", CF_TYPE_DATE, NN, NODEF, NULL),
    COL("new_contacts", CF_TYPE_INTEGER, NN, CONST("0"), NULL),
    COL("deals_won", CF_TYPE_INTEGER, NN, CONST("0"), NULL),
    NUM("revenue", 14, 2, NN, CONST("0.00")),
    COL("appointments_booked", CF_TYPE_INTEGER, NN, CONST("0"), NULL),
    COL("messages_sent", CF_TYPE_INTEGER, NN, CONST("0"), NULL),
    CREATED_AT,
    UPDATED_AT,
};

#define NCOLS(a) (unsigned)(sizeof(a) / sizeof((a)[0]))
/* Global tables: key (id) at column 0.  Tenant tables: (org_id, id) at 0, 1. */
#define GLOBAL(n, num, cols)                                                             \
  { n, num, 0, NCOLS(cols), cols, 1, {0, 0}, CF_COL_BIT(0), -1, 0 }
#define TENANT(n, num, cols)                                                             \
  { n, num, 1, NCOLS(cols), cols, 2, {0, 1}, CF_COL_BIT(0) | CF_COL_BIT(1), 0, 1 }
/* The descriptor of each kind of table in the registry. */
#define TABLE_ORG(num, name) GLOBAL(#name, num, name##_cols)
#define TABLE_USER(num, name) GLOBAL(#name, num, name##_cols)
#define TABLE_TENANT(num, name) TENANT(#name, num, name##_cols)

#define DESCRIBE(num, name, kind) [num] = TABLE_##kind(num, name),
static const cf_table tables[CF_SCHEMA_NTABLES] = {CF_TABLE_LIST(DESCRIBE)};
#undef DESCRIBE

/* The registry's numbers are dense and in order (each is its position)... */
#define POSITION(num, name, kind) position_of_##name,
enum { CF_TABLE_LIST(POSITION) };
#undef POSITION
#define CHECK_NUMBER(num, name, kind)                                                    \
  _Static_assert(position_of_##name == (num),                                            \
                 "core/tables.h: " #name " is not numbered by its position");
CF_TABLE_LIST(CHECK_NUMBER)
#undef CHECK_NUMBER
/* ... and no table is wider than CF_SCHEMA_MAX_COLS (it would overflow
** cf_row). */
#define CHECK_WIDTH(num, name, kind)                                                     \
  _Static_assert(NCOLS(name##_cols) <= CF_SCHEMA_MAX_COLS, #name " is too wide");
CF_TABLE_LIST(CHECK_WIDTH)
#undef CHECK_WIDTH

const cf_table *cf__schema_table(unsigned n) {
  return n < CF_SCHEMA_NTABLES ? &tables[n] : NULL;
}

const cf_table *cf__schema_table_by_name_n(const char *name, size_t len) {
  if (name == NULL) return NULL;
  for (unsigned i = 0; i < CF_SCHEMA_NTABLES; i++) {
    if (strlen(tables[i].name) == len && memcmp(tables[i].name, name, len) == 0)
      return &tables[i];
  }
  return NULL;
}

const cf_table *cf__schema_table_by_name(const char *name) {
  return name != NULL ? cf__schema_table_by_name_n(name, strlen(name)) : NULL;
}

int cf__schema_column_index_n(const cf_table *t, const char *name, size_t len) {
  if (t == NULL || name == NULL) return -1;
  for (unsigned i = 0; i < t->ncols; i++) {
    const char *c = t->cols[i].name;
    if (strlen(c) == len && memcmp(c, name, len) == 0) return (int)i;
  }
  if (len == sizeof CF_SCHEMA_DELETED_NAME - 1 &&
      memcmp(name, CF_SCHEMA_DELETED_NAME, len) == 0)
    return (int)t->ncols;
  return -1;
}

int cf__schema_column_index(const cf_table *t, const char *name) {
  return name != NULL ? cf__schema_column_index_n(t, name, strlen(name)) : -1;
}

const cf_column *cf__schema_column(const cf_table *t, const char *name) {
  int i = cf__schema_column_index(t, name);
  return i >= 0 && (unsigned)i < t->ncols ? &t->cols[i] : NULL;
}

unsigned cf__schema_deleted_index(const cf_table *t) { return t->ncols; }

uint64_t cf__schema_mask_columns(const cf_table *t) { return CF_COL_BIT(t->ncols) - 1; }

uint64_t cf__schema_mask_all(const cf_table *t) { return CF_COL_BIT(t->ncols + 1) - 1; }

uint64_t cf__schema_mask_data(const cf_table *t) {
  return cf__schema_mask_all(t) & ~t->key_mask;
}

int cf__schema_mask_from_names(const cf_table *t, const char *const *names, size_t n,
                               uint64_t *mask) {
  uint64_t m = 0;
  for (size_t i = 0; i < n; i++) {
    int c = cf__schema_column_index(t, names[i]);
    if (c < 0) return CF_NOTFOUND;
    m |= CF_COL_BIT(c);
  }
  *mask = m;
  return CF_OK;
}

unsigned cf__schema_mask_count(uint64_t mask) {
  unsigned n = 0;
  for (; mask != 0; mask &= mask - 1)
    n++;
  return n;
}

const char *cf__coltype_name(cf_coltype type) {
  switch (type) {
    case CF_TYPE_UUID:
      return "uuid";
    case CF_TYPE_TEXT:
      return "text";
    case CF_TYPE_INTEGER:
      return "integer";
    case CF_TYPE_BIGINT:
      return "bigint";
    case CF_TYPE_NUMERIC:
      return "numeric";
    case CF_TYPE_BOOLEAN:
      return "boolean";
    case CF_TYPE_DATE:
      return "date";
    case CF_TYPE_TIMESTAMPTZ:
      return "timestamptz";
    case CF_TYPE_JSONB:
      return "jsonb";
    case CF_TYPE_TEXT_ARRAY:
      return "text[]";
  }
  return "unknown";
}

const char *cf__coltype_pg_data_type(cf_coltype type) {
  switch (type) {
    case CF_TYPE_TIMESTAMPTZ:
      return "timestamp with time zone";
    case CF_TYPE_TEXT_ARRAY:
      return "ARRAY";
    default:
      return cf__coltype_name(type);
  }
}

const char *cf__coltype_sqlite_decl(cf_coltype type) {
  switch (type) {
    case CF_TYPE_INTEGER:
    case CF_TYPE_BIGINT:
    case CF_TYPE_BOOLEAN:
      return "INTEGER";
    default:
      return "TEXT";
  }
}
