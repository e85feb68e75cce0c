/*
** sync/master/role.c: the sync server's database role is checked at start (DESIGN,
** "Security")
** (sync/master/master_sync_int.h; docs/master-sync.md).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/platform.h"
#include "sync/master/master_sync_int.h"
#include "sync/master/registry.h"

int cf__master_check_role(cf__pg *pg) {
  char *sql = NULL;
  cf__pg_res *res = NULL;
  char names[CF_MASTER_TABLES_LITERAL_MAX];
  int rc = cf__master_tables_literal(names, sizeof names);
  const char *params[] = {names};
  if (rc == CF_OK) rc = cf__sql_named(CF__MASTER_SQL, "check_role", &sql);
  if (rc == CF_OK) rc = cf__pg_query(pg, sql, 1, params, &res);
  if (rc != CF_OK) goto out;
  if (cf__pg_nrows(res) != 1) {
    rc = cf__pg_fail(pg, CF_DATABASE, "role check: the connected role was not found");
    goto out;
  }
  const char *role = cf__pg_value(res, 0, 0);
  const char *owned = cf__pg_value(res, 0, 5);
  if (cf__pg_bool(res, 0, 1)) {
    rc = cf__pg_fail(
        pg, CF_PERMISSION,
        "database role \"%s\" is a superuser: the sync server must not bypass "
        "row-level security; connect as a login role granted authenticator and "
        "cf_sync_server",
        role);
  } else if (cf__pg_bool(res, 0, 2)) {
    rc =
        cf__pg_fail(pg, CF_PERMISSION,
                    "database role \"%s\" has BYPASSRLS: the sync server must not bypass "
                    "row-level security (ALTER ROLE %s NOBYPASSRLS)",
                    role, role);
  } else if (owned != NULL) {
    rc = cf__pg_fail(
        pg, CF_PERMISSION,
        "database role \"%s\" owns tables (%s): the sync server must not run as "
        "the schema owner",
        role, owned);
  } else if (!cf__pg_bool(res, 0, 3)) {
    rc = cf__pg_fail(
        pg, CF_PERMISSION,
        "database role \"%s\" cannot SET ROLE authenticated (GRANT authenticator "
        "TO %s)",
        role, role);
  } else if (!cf__pg_bool(res, 0, 4)) {
    rc = cf__pg_fail(pg, CF_PERMISSION,
                     "database role \"%s\" is not a member of cf_sync_server, so pushed "
                     "versions would not be kept (GRANT cf_sync_server TO %s)",
                     role, role);
  } else if (!cf__pg_bool(res, 0, 6)) {
    rc = cf__pg_fail(pg, CF_CONFIG,
                     "the master's schema is older than this server: "
                     "cf_sync.pull_start (migration 013_pull_sources.sql) is missing; "
                     "run `clientflow migrate up` as the schema owner first");
  }
out:
  cf__pg_res_free(res);
  cf__free(sql);
  return rc;
}
