/*
** sync/master/pg_sql.c: named statements of the embedded SQL files as
** NUL-terminated copies for libpq.  The files' format and the reader are in
** platform/assets.h (cf__asset_statement), shared with the replica's
** store/sqltext.c.
*/
#include "platform/assets.h"
#include "platform/platform.h"
#include "sync/master/pg.h"

int cf__sql_named(const char *asset_path, const char *name, char **out) {
  const char *text = NULL;
  size_t len = 0;
  *out = NULL;
  int rc = cf__asset_statement(asset_path, name, &text, &len);
  if (rc != CF_OK) return rc;
  *out = cf__strndup(text, len);
  return *out ? CF_OK : CF_NOMEM;
}
