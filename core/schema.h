/*
** core/schema.h: the schema descriptor of the CRM tables (internal).
**
** Which tables exist, their numbers and kinds, is the registry
** core/tables.h (CF_TABLE_LIST); the migrations that create them
** (sql/postgres/) are the source of truth for their columns, and
** core/schema.c describes the same columns once, table by table, and the replica
*(store/), the sync
** channel (sync/) and the tests generate their SQL and column lists from it.
** tests/integration/test_schema_matches_master.c checks it against
** information_schema of a freshly migrated master.
**
** Columns are numbered in their CREATE TABLE order (0..ncols-1).  Every row
** also has one pseudo-column, "deleted" (soft delete, merged like any other
** column, see core/row.h), numbered ncols.  Column sets are 64-bit masks,
** bit i = column i (CF_COL_BIT), so the deleted pseudo-column has a bit too.
**
** Table numbers (0..CF_SCHEMA_NTABLES-1, from core/tables.h) are stable
** forever: they name tables compactly in the outbox and on the wire.  They
** are also a valid parent-before-child order for the foreign keys
** (organizations, users, memberships, contacts, deals, ...).
*/
#ifndef CF_SCHEMA_H
#define CF_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include "clientflow.h"
#include "core/tables.h"

/* Column types of the master (Postgres) schema. */
typedef enum cf_coltype {
  CF_TYPE_UUID = 0,        /* uuid: canonical lowercase text */
  CF_TYPE_TEXT = 1,        /* text: UTF-8 text */
  CF_TYPE_INTEGER = 2,     /* integer (int4): integer */
  CF_TYPE_BIGINT = 3,      /* bigint (int8): integer */
  CF_TYPE_NUMERIC = 4,     /* numeric(p,s): exact decimal text, s digits */
  CF_TYPE_BOOLEAN = 5,     /* boolean: integer 0 or 1 */
  CF_TYPE_DATE = 6,        /* date: 'YYYY-MM-DD' */
  CF_TYPE_TIMESTAMPTZ = 7, /* timestamptz: 'YYYY-MM-DDTHH:MM:SS.ffffffZ' */
  CF_TYPE_JSONB = 8,       /* jsonb: canonical JSON text (core/json.h) */
  CF_TYPE_TEXT_ARRAY = 9   /* text[]: canonical JSON array of strings */
} cf_coltype;

/* What the replica fills into a column that an insert leaves out. */
typedef enum cf_coldefault {
  CF_DEFAULT_NONE = 0,   /* nothing: NULL if nullable, else the insert fails */
  CF_DEFAULT_UUIDV7 = 1, /* a fresh UUIDv7 (the id column) */
  CF_DEFAULT_ORG = 2,    /* the replica's org id (org_id of tenant tables) */
  CF_DEFAULT_NOW = 3,    /* the write's time as canonical timestamptz */
  CF_DEFAULT_CONST = 4   /* the constant default_text (canonical form) */
} cf_coldefault;

/* One column. */
typedef struct cf_column {
  const char *name;         /* column name, as in the master */
  cf_coltype type;          /* its type */
  unsigned char precision;  /* numeric: total digits (p); else 0 */
  unsigned char scale;      /* numeric: fraction digits (s); else 0 */
  unsigned char nullable;   /* 1 if NULL is allowed */
  unsigned char key;        /* 1 if part of the primary key */
  unsigned char touch;      /* 1 if set to now on every update (updated_at) */
  cf_coldefault def;        /* the replica's insert default */
  const char *default_text; /* CF_DEFAULT_CONST: canonical text of the
                               default ("0", "1", "lead", "[]", "{}",
                               "0.00", ...); NULL otherwise */
  const char *references;   /* table this column references by foreign key
                               (tenant tables: composite with org_id), or
                               NULL */
} cf_column;

/* Most columns a table may have (the widest has 14); column index ncols is
** the deleted pseudo-column, so a row has at most CF_SCHEMA_MAX_COLS + 1
** cells. */
#define CF_SCHEMA_MAX_COLS 31
/* The number of tables: the registry's count (core/tables.h). */
#define CF_SCHEMA_NTABLES CF_TABLE_COUNT
/* Name of the deleted pseudo-column, for generated metadata columns. */
#define CF_SCHEMA_DELETED_NAME "deleted"

/* Bit of column i in a column mask. */
#define CF_COL_BIT(i) ((uint64_t)1 << (i))

/* One table. */
typedef struct cf_table {
  const char *name;      /* table name, as in the master (schema public) */
  unsigned number;       /* stable table number (wire and outbox) */
  unsigned char tenant;  /* 1 if the table has org_id (keyed org_id, id) */
  unsigned ncols;        /* number of real columns; deleted is index ncols */
  const cf_column *cols; /* the columns, in CREATE TABLE order */
  unsigned nkey;         /* number of key columns (1 or 2) */
  unsigned key[2];       /* column indexes of the key, in key order */
  uint64_t key_mask;     /* mask of the key columns */
  int org_col;           /* index of org_id, or -1 (organizations, users) */
  int id_col;            /* index of id */
} cf_table;

/* The table numbered n (0..CF_SCHEMA_NTABLES-1), or NULL.  Static storage. */
const cf_table *cf__schema_table(unsigned n);

/* The table called name (exact, case-sensitive, NUL-terminated), or NULL.
** Static storage. */
const cf_table *cf__schema_table_by_name(const char *name);

/* The same for name[0..len) (not necessarily NUL-terminated). */
const cf_table *cf__schema_table_by_name_n(const char *name, size_t len);

/* Index of the column called name in t, or -1.  The name "deleted"
** (CF_SCHEMA_DELETED_NAME) gives t->ncols. */
int cf__schema_column_index(const cf_table *t, const char *name);

/* The same for name[0..len). */
int cf__schema_column_index_n(const cf_table *t, const char *name, size_t len);

/* The column called name in t, or NULL (the deleted pseudo-column has no
** descriptor).  Static storage. */
const cf_column *cf__schema_column(const cf_table *t, const char *name);

/* Index of the deleted pseudo-column of t (== t->ncols). */
unsigned cf__schema_deleted_index(const cf_table *t);

/* Mask of every real column of t (not deleted). */
uint64_t cf__schema_mask_columns(const cf_table *t);

/* Mask of every cell of t: the real columns and deleted. */
uint64_t cf__schema_mask_all(const cf_table *t);

/* Mask of the versioned cells of t: every cell but the key columns. */
uint64_t cf__schema_mask_data(const cf_table *t);

/* Mask of the named columns (each NUL-terminated; "deleted" allowed).
** OUT: *mask.  CF_OK, or CF_NOTFOUND if a name is not a column of t. */
int cf__schema_mask_from_names(const cf_table *t, const char *const *names, size_t n,
                               uint64_t *mask) CF_WARN_UNUSED;

/* Number of bits set in mask. */
unsigned cf__schema_mask_count(uint64_t mask);

/* The type's name as written in this project's docs: "uuid", "text",
** "integer", "bigint", "numeric", "boolean", "date", "timestamptz", "jsonb",
** "text[]".  Static storage. */
const char *cf__coltype_name(cf_coltype type);

/* information_schema.columns.data_type of the type in Postgres: "uuid",
** "text", "integer", "bigint", "numeric", "boolean", "date",
** "timestamp with time zone", "jsonb", "ARRAY" (udt_name "_text").  Static
** storage. */
const char *cf__coltype_pg_data_type(cf_coltype type);

/* The SQLite column declaration type the replica uses for the type: "TEXT"
** or "INTEGER".  Static storage. */
const char *cf__coltype_sqlite_decl(cf_coltype type);

#endif /* CF_SCHEMA_H */
