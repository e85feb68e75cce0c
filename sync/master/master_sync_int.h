/*
** sync/master/master_sync_int.h: the pieces the master's push
** (sync/master/push.c), pull (pull.c) and role check (role.c) share
** (internal to sync/master).  The design is docs/master-sync.md.
**
**   arena.c    bytes that rows read from Postgres borrow
**   pgtext.c   canonical values <-> Postgres text (array elements, output
**              text), and a result row -> cf_row
**   sqlgen.c   the per-table statements, generated from core/schema.c
**   as_user.c  a transaction as the user (role, claims, formats)
**
** Every value crosses the master boundary in text form: canonical values
** are turned into Postgres input text (text[] through cf__text_array_to_pg)
** and Postgres output text (TimeZone UTC, DateStyle ISO) back into
** canonical values with cf__value_canon.
*/
#ifndef CF_SYNC_MASTER_SYNC_INT_H
#define CF_SYNC_MASTER_SYNC_INT_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/row.h"
#include "core/schema.h"
#include "core/value.h"
#include "sync/master/master_sync.h"
#include "sync/master/pg.h"

/* The fixed statements (sql/server/master_sync.sql). */
#define CF__MASTER_SQL "server/master_sync.sql"
/* Most bytes of one generated statement or array parameter. */
#define CF__STMT_MAX ((size_t)64 << 10)
#define CF__PARAM_MAX ((size_t)512 << 20)
/* Hex digits of one version. */
#define CF__HEX_VER_LEN (CF_VER_LEN * 2)
/* The first cursor position the push reserved, as SQL (push_reserve
** publishes it; evaluated once per statement): pushed rows carry their
** position as an offset from it (u.s), so the writes can be sent before
** the position is known (008_push_clock_last.sql). */
#define CF__SEQ_LO "(SELECT pg_catalog.current_setting('cf.push_seq_lo')::bigint)"

/* ---- arena.c ---------------------------------------------------------------
** Canonical bytes that rows read from the master borrow.  Chunks never
** move; a copy larger than a chunk gets its own.  The arena is capped
** (1 GiB), which bounds a page or a push's reads, not anything a peer sends
** (the frame caps do that). */
typedef struct cf__arena_chunk {
  struct cf__arena_chunk *next; /* the previous chunk */
  size_t used;                  /* bytes used in data */
  size_t cap;                   /* bytes in data */
  char data[];                  /* the bytes */
} cf__arena_chunk;

typedef struct cf__arena {
  cf__arena_chunk *head; /* newest chunk, NULL if none */
  size_t total;          /* bytes allocated so far */
} cf__arena;

/* DESTRUCTOR.  Frees every chunk; the arena is empty and reusable. */
void cf__arena_free(cf__arena *a);
/* A copy of p[0..n) in a (NUL-terminated), valid until cf__arena_free, or
** NULL on out of memory or past the cap. */
const char *cf__arena_copy(cf__arena *a, const char *p, size_t n);

/* ---- pgtext.c ------------------------------------------------------------- */

/* The cast that turns a text array element into the column's type. */
const char *cf__pg_cast(cf_coltype type);
/* Appends the lowercase hex of p[0..n) to b. */
int cf__pg_append_hex(cf_buf *b, const unsigned char *p, size_t n) CF_WARN_UNUSED;
/* Canonical value of Postgres output text s (NULL: SQL NULL) for col, bytes
** copied into a.  CF_OK, CF_CORRUPT if it does not parse, CF_NOMEM. */
int cf__pg_value_from_text(const cf_column *col, const char *s, cf_buf *tmp, cf__arena *a,
                           cf_value *out) CF_WARN_UNUSED;
/* Appends v (canonical for col) as one element of a Postgres array literal.
** CF_OK, CF_INVALID for a value the column cannot hold, CF_TOOBIG, CF_NOMEM. */
int cf__pg_append_element(cf_buf *out, const cf_column *col, const cf_value *v,
                          cf_buf *tmp) CF_WARN_UNUSED;
/* Fills row (of table t) from result row r of res, whose columns from col0
** on are the table's columns as text and then the versions in hex (see
** pgtext.c for what it makes of a row the triggers did not write).  CF_OK,
** CF_CORRUPT for a value with no canonical form, CF_NOMEM. */
int cf__pg_row_from_result(const cf_table *t, const cf__pg_res *res, int r, int col0,
                           cf_buf *tmp, cf__arena *a, cf_row *row) CF_WARN_UNUSED;

/* ---- sqlgen.c ------------------------------------------------------------- */

/* The generated statements of one table. */
typedef enum cf__stmt_kind {
  CF__STMT_LOCK,   /* read the existing rows of a push */
  CF__STMT_INSERT, /* insert new rows */
  CF__STMT_UPDATE, /* update rows, each setting only the cells it took */
  CF__STMT_DELETE  /* delete rows */
} cf__stmt_kind;

/* Non-zero if t has a cf_seq column (every table but users). */
int cf__sql_has_seq(const cf_table *t);

/* What one push UPDATE statement writes, over all its rows: the cells
** (bit per cell, the deleted cell included) some row took, and those every
** row took.  A statement sets the columns of took_any; when took_all
** differs it carries each row's own cells (u.m) and tests them. */
typedef struct cf__update_shape {
  uint64_t took_any; /* cells taken by at least one row */
  uint64_t took_all; /* cells taken by every row */
} cf__update_shape;

/* The array parameters of the UPDATE of shape sh, in order: the key columns
** and the columns of took_any (column order), every cell's version (v, hex,
** (ncols + 1) x 24 bytes), then for tables with cf_seq the seq offset (s)
** and the cf_seq the push read (o), then when took_any != took_all the
** cells the row took (m). */
unsigned cf__sql_update_params(const cf_table *t, const cf__update_shape *sh);
/* Builds the statement of kind for t into b (reset first).  CF__STMT_LOCK
** reads the columns in mask (run with binary results); CF__STMT_UPDATE has
** the shape sh (NULL for the other kinds).  CF_OK or CF_TOOBIG/CF_NOMEM. */
int cf__sql_build_stmt(cf_buf *b, const cf_table *t, cf__stmt_kind kind, uint64_t mask,
                       const cf__update_shape *sh) CF_WARN_UNUSED;
/* Builds t's pull statement: cf_seq, every column as text, the versions in
** hex, changes after $2 in org $1, at most $3. */
int cf__sql_build_pull_stmt(cf_buf *b, const cf_table *t) CF_WARN_UNUSED;

/* ---- as_user.c ------------------------------------------------------------ */

/* Runs begin_sql, then sets the role, claims and output formats of the
** transaction (all transaction-local: PgBouncer in transaction mode is
** fine).  On failure the transaction is rolled back. */
int cf__master_begin_as_user(cf__pg *pg, const char *claims,
                             const char *begin_sql) CF_WARN_UNUSED;
/* The same for a push: BEGIN, as the user, and the push's plan settings
** (push_plans in sql/server/master_sync.sql: probes of the primary key, not
** hash or merge joins), in one round trip. */
int cf__master_begin_push(cf__pg *pg, const char *claims) CF_WARN_UNUSED;

#endif
