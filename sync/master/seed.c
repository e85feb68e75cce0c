/*
** sync/seed.c: `clientflow seed`, the seed's demo data (sql/seed/demo.sql),
** idempotent, in one transaction, once every migration is applied
** (sync/master/migrate.c) and unchanged.
*/
#include "platform/assets.h"
#include "platform/platform.h"
#include "sync/master/master.h"
#include "sync/master/registry.h"

/* The embedded seed: demo data, idempotent, run in one transaction. */
#define SEED_ASSET "seed/demo.sql"

/* Reports "organizations 2, users 3, ..." from the row_counts statement. */
static int report_row_counts(cf_master *m) {
  cf__pg_res *res = NULL;
  char names[CF_MASTER_TABLES_LITERAL_MAX];
  int rc = cf__master_tables_literal(names, sizeof names);
  if (rc != CF_OK) return cf__master_fail(m, rc, "table names too long");
  const char *params[] = {names};
  rc = cf__master_query(m, "row_counts", 1, params, &res);
  if (rc != CF_OK) return rc;
  for (int i = 0; i < cf__pg_nrows(res); i++)
    cf__master_report(m, CF_REPORT_INFO, "  %-14s %s rows", cf__pg_value(res, i, 0),
                      cf__pg_value(res, i, 1));
  cf__pg_res_free(res);
  return CF_OK;
}

int cf_master_seed(cf_master *m) {
  cf__migrations state = {0};
  int rc = CF_OK;
  m->errmsg[0] = '\0';
  const cf__asset *seed = cf__asset_find(SEED_ASSET);
  if (seed == NULL)
    return cf__master_fail(m, CF_NOTFOUND, "this build has no %s (sql/%s)", SEED_ASSET,
                           SEED_ASSET);
  rc = cf__migrations_load(m, &state);
  if (rc != CF_OK) goto out;
  rc = cf__migrations_verify(m, &state);
  if (rc != CF_OK) goto out;
  if (state.pending > 0) {
    rc = cf__master_fail(m, CF_MISUSE,
                         "%d migration%s pending: run `clientflow migrate up` first",
                         state.pending, state.pending == 1 ? "" : "s");
    goto out;
  }
  rc = cf__pg_begin(m->pg);
  if (rc != CF_OK) {
    rc = cf__master_fail_pg(m, rc, "seed");
    goto out;
  }
  rc = cf__pg_exec(m->pg, seed->data);
  if (rc != CF_OK) {
    rc = cf__master_fail_pg(m, rc, SEED_ASSET);
    cf__pg_rollback(m->pg);
    goto out;
  }
  rc = cf__pg_commit(m->pg);
  if (rc != CF_OK) {
    rc = cf__master_fail_pg(m, rc, "seed commit");
    goto out;
  }
  cf__master_report(m, CF_REPORT_OK,
                    "seeded the demo data (%s); rows per table:", SEED_ASSET);
  rc = report_row_counts(m);
out:
  cf__migrations_free(&state);
  return rc;
}
