/*
** sync/master/as_user.c: a transaction as the user
** (sync/master/master_sync_int.h; docs/master-sync.md).
*/
#include "platform/platform.h"
#include "sync/master/master_sync_int.h"

/* Begins the transaction as the user: begin_sql (one statement) and
** as_user in one round trip. */
int cf__master_begin_as_user(cf__pg *pg, const char *claims, const char *begin_sql) {
  char *sql = NULL;
  int rc = cf__sql_named(CF__MASTER_SQL, "as_user", &sql);
  if (rc != CF_OK) return rc;
  cf__pg_step steps[2] = {{begin_sql, NULL, 0, NULL, NULL},
                          {sql, NULL, 1, &claims, NULL}};
  size_t failed = 0;
  rc = cf__pg_pipeline(pg, steps, 2, &failed);
  cf__pg_res_free(steps[0].res);
  cf__pg_res_free(steps[1].res);
  cf__free(sql);
  if (rc != CF_OK && rc != CF_UNREACHABLE) cf__pg_rollback(pg);
  return rc;
}
