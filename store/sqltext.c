/*
** store/sqltext.c: lookup of named statements in sql/sqlite/statements.sql.
**
** The file is a sequence of blocks, each starting with a line
** "-- name: <name>" and running to the next such line or the end.  Comment
** lines inside a block are harmless to SQLite, so a block is handed to
** sqlite3_prepare_v2() as it is.
*/
#include <string.h>

#include "platform/assets.h"
#include "store/sqltext.h"

#define MARK "-- name: "

const char *cf__sql_file(const char *path) {
  const cf__asset *a = cf__asset_find(path);
  return a != NULL ? a->data : NULL;
}

int cf__sql_text(const char *name, const char **text, size_t *len) {
  const cf__asset *a = cf__asset_find("sqlite/statements.sql");
  if (a == NULL) return -1;
  size_t name_len = strlen(name), mark_len = strlen(MARK);
  const char *p = a->data, *end = a->data + a->len;
  while (p < end) {
    const char *hit = strstr(p, MARK);
    if (hit == NULL) return -1;
    const char *nm = hit + mark_len;
    const char *eol = strchr(nm, '\n');
    if (eol == NULL) eol = end;
    p = eol;
    if ((size_t)(eol - nm) != name_len || memcmp(nm, name, name_len) != 0) continue;
    const char *next = strstr(eol, MARK);
    *text = eol;
    *len = (size_t)((next != NULL ? next : end) - eol);
    return 0;
  }
  return -1;
}
