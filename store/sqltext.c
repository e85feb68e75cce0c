/*
** store/sqltext.c: lookup of named statements in sql/sqlite/statements.sql,
** through the one reader of named statements (platform/assets.h).  A
** statement is handed to sqlite3_prepare_v2() as it is: comment lines inside
** it are harmless to SQLite.
*/
#include "platform/assets.h"
#include "store/sqltext.h"

const char *cf__sql_file(const char *path) {
  const cf__asset *a = cf__asset_find(path);
  return a != NULL ? a->data : NULL;
}

int cf__sql_text(const char *name, const char **text, size_t *len) {
  return cf__asset_statement("sqlite/statements.sql", name, text, len) == CF_OK ? 0 : -1;
}
