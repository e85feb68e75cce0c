/*
** sync/master/as_user.c: a transaction as the user
** (sync/master/master_sync_int.h; docs/master-sync.md).
*/
#include "platform/platform.h"
#include "sync/master/master_sync_int.h"

/* Begins the transaction as the user: begin_sql (one statement), as_user
** and, when plans is set, the statement of that name (no parameters), in
** one round trip. */
static int begin_as_user(cf__pg *pg, const char *claims, const char *begin_sql,
                         const char *plans) {
  char *sql = NULL, *plans_sql = NULL;
  int rc = cf__sql_named(CF__MASTER_SQL, "as_user", &sql);
  if (rc == CF_OK && plans != NULL) rc = cf__sql_named(CF__MASTER_SQL, plans, &plans_sql);
  if (rc != CF_OK) {
    cf__free(sql);
    return rc;
  }
  cf__pg_step steps[3] = {{begin_sql, NULL, 0, NULL, NULL},
                          {sql, NULL, 1, &claims, NULL},
                          {plans_sql, NULL, 0, NULL, NULL}};
  size_t n = plans_sql != NULL ? 3 : 2, failed = 0;
  rc = cf__pg_pipeline(pg, steps, n, &failed);
  for (size_t i = 0; i < n; i++)
    cf__pg_res_free(steps[i].res);
  cf__free(sql);
  cf__free(plans_sql);
  if (rc != CF_OK && rc != CF_UNREACHABLE) cf__pg_rollback(pg);
  return rc;
}

int cf__master_begin_as_user(cf__pg *pg, const char *claims, const char *begin_sql) {
  return begin_as_user(pg, claims, begin_sql, NULL);
}

int cf__master_begin_push(cf__pg *pg, const char *claims) {
  return begin_as_user(pg, claims, "BEGIN", "push_plans");
}
