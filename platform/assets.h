/*
** platform/assets.h: the SQL files of sql/, embedded into the library by the
** build (cmake/embed_sql.cmake).  Internal.
*/
#ifndef CF_ASSETS_H
#define CF_ASSETS_H
#include <stddef.h>

typedef struct cf__asset {
  const char *path; /* relative to sql/, e.g. "postgres/001_init.sql" */
  const char *data; /* the file's bytes, NUL-terminated; static storage */
  size_t len;       /* length of data without the terminating NUL */
} cf__asset;

/* The table, sorted by path, ended by an entry whose path is NULL. */
extern const cf__asset cf__assets[];

/* The asset at path, or NULL.  The result points into static storage. */
const cf__asset *cf__asset_find(const char *path);

#endif
