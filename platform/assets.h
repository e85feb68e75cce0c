/*
** platform/assets.h: the SQL files of sql/, embedded into the library by the
** build (cmake/embed_sql.cmake), and the one reader of the named statements
** inside them.  Internal.
**
** A file holding several statements marks each with a line
**
**   -- @name applied_migrations
**   SELECT version, name, checksum, applied_at FROM cf_meta.schema_migrations
**   ORDER BY version;
**
** and a statement runs from the line after its marker to the next marker
** line or the end of the file.  Comment lines inside are left in: SQLite and
** Postgres both ignore them.  Every file of sql/ that names statements uses
** this one marker (store/sqltext.c and sync/master/pg_sql.c both read through
** cf__asset_statement).
*/
#ifndef CF_ASSETS_H
#define CF_ASSETS_H
#include <stddef.h>

#include "clientflow.h"

/* The marker that starts a line naming the statement below it. */
#define CF_SQL_NAME_MARKER "-- @name "

typedef struct cf__asset {
  const char *path; /* relative to sql/, e.g. "postgres/001_init.sql" */
  const char *data; /* the file's bytes, NUL-terminated; static storage */
  size_t len;       /* length of data without the terminating NUL */
} cf__asset;

/* The table, sorted by path, ended by an entry whose path is NULL. */
extern const cf__asset cf__assets[];

/* The asset at path, or NULL.  The result points into static storage. */
const cf__asset *cf__asset_find(const char *path);

/*
** The statement called name in the embedded file path (relative to sql/).
** OUT: *text, pointing into static storage (NOT NUL-terminated at the
** statement's end), and *len, its length.  Allocates nothing.  CF_OK;
** CF_NOTFOUND if the file or the name is missing (names match whole).
*/
int cf__asset_statement(const char *path, const char *name, const char **text,
                        size_t *len) CF_WARN_UNUSED;

#endif
