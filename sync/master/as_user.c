/*
** sync/master/as_user.c: a transaction as the user
** (sync/master/master_sync_int.h; docs/master-sync.md).
*/
#include "platform/platform.h"
#include "sync/master/master_sync_int.h"

/* Begins the transaction as the user. */
int cf__master_begin_as_user(cf__pg *pg, const char *claims, const char *begin_sql) {
  char *sql = NULL;
  int rc = cf__pg_exec(pg, begin_sql);
  if (rc != CF_OK) return rc;
  rc = cf__sql_named(CF__MASTER_SQL, "as_user", &sql);
  if (rc == CF_OK) rc = cf__pg_query(pg, sql, 1, &claims, NULL);
  cf__free(sql);
  if (rc != CF_OK) cf__pg_rollback(pg);
  return rc;
}
