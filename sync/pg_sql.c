/*
** sync/pg_sql.c: named statements inside the embedded SQL files.
**
** The C code names the statements it runs; their text lives in sql/ (for
** the master administration: sql/admin/master.sql).  A file is split by
** marker lines:
**
**   -- @name applied_migrations
**   SELECT version, name, checksum, applied_at FROM cf_meta.schema_migrations
**   ORDER BY version;
**
** A statement runs from the line after its marker to the next marker or the
** end of the file.  Lookup is a linear scan: these files are small and read
** a handful of times per command.
*/
#include <string.h>

#include "platform/assets.h"
#include "platform/platform.h"
#include "sync/pg.h"

#define MARKER "-- @name "

int cf__sql_named(const char *asset_path, const char *name, char **out) {
  *out = NULL;
  const cf__asset *asset = cf__asset_find(asset_path);
  if (asset == NULL) return CF_NOTFOUND;
  size_t name_len = strlen(name);
  const char *p = asset->data;
  const char *end = asset->data + asset->len;
  while (p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    const char *next = eol ? eol + 1 : end;
    size_t line_len = (size_t)((eol ? eol : end) - p);
    size_t mlen = strlen(MARKER);
    if (line_len == mlen + name_len && memcmp(p, MARKER, mlen) == 0 &&
        memcmp(p + mlen, name, name_len) == 0) {
      const char *stop = next;
      while (stop < end) {
        if ((size_t)(end - stop) >= mlen && memcmp(stop, MARKER, mlen) == 0) break;
        const char *nl = memchr(stop, '\n', (size_t)(end - stop));
        stop = nl ? nl + 1 : end;
      }
      *out = cf__strndup(next, (size_t)(stop - next));
      return *out ? CF_OK : CF_NOMEM;
    }
    p = next;
  }
  return CF_NOTFOUND;
}
