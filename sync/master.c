/*
** sync/master.c: the cf_master handle (connection, report callback, error
** detail) and `seed`.  Migrations are in sync/migrate.c, checks in
** sync/doctor.c; the statements they run are named in sql/admin/master.sql.
*/
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "platform/assets.h"
#include "platform/platform.h"
#include "sync/master.h"

/* The embedded seed: demo data, idempotent, run in one transaction. */
#define SEED_ASSET "seed/demo.sql"

const char *const cf__master_tables[CF_MASTER_NTABLES] = {
    "organizations", "users",        "memberships", "contacts",    "deals",
    "activities",    "appointments", "messages",    "automations", "daily_metrics"};

int cf_master_open(const char *url, cf_master **out, char *errbuf, size_t errbuf_len) {
  *out = NULL;
  cf_master *m = cf__calloc(1, sizeof *m);
  if (m == NULL) {
    if (errbuf != NULL && errbuf_len > 0) snprintf(errbuf, errbuf_len, "out of memory");
    return CF_NOMEM;
  }
  int rc = cf__pg_connect(url, &m->pg, errbuf, errbuf_len);
  if (rc != CF_OK) {
    cf__free(m);
    return rc;
  }
  *out = m;
  return CF_OK;
}

void cf_master_close(cf_master *m) {
  if (m == NULL) return;
  cf__pg_close(m->pg);
  cf__free(m);
}

const char *cf_master_errmsg(const cf_master *m) { return m->errmsg; }

void cf_master_set_report(cf_master *m, cf_report_fn fn, void *ctx) {
  m->report = fn;
  m->report_ctx = ctx;
}

void cf__master_report(cf_master *m, cf_report_kind kind, const char *fmt, ...) {
  if (m->report == NULL) return;
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  m->report(m->report_ctx, kind, line);
}

int cf__master_fail(cf_master *m, int rc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(m->errmsg, sizeof m->errmsg, fmt, ap);
  va_end(ap);
  return rc;
}

int cf__master_fail_pg(cf_master *m, int rc, const char *what) {
  return cf__master_fail(m, rc, "%s: %s", what, cf__pg_errmsg(m->pg));
}

int cf__master_query(cf_master *m, const char *name, int nparams,
                     const char *const *params, cf__pg_res **out) {
  char *sql = NULL;
  int rc = cf__sql_named(CF_MASTER_SQL, name, &sql);
  if (rc != CF_OK) {
    if (out != NULL) *out = NULL;
    return cf__master_fail(m, rc, "statement %s missing from %s", name, CF_MASTER_SQL);
  }
  rc = cf__pg_query(m->pg, sql, nparams, params, out);
  cf__free(sql);
  if (rc != CF_OK) return cf__master_fail_pg(m, rc, name);
  return CF_OK;
}

/* Reports "organizations 2, users 3, ..." from the row_counts statement. */
static int report_row_counts(cf_master *m) {
  cf__pg_res *res = NULL;
  int rc = cf__master_query(m, "row_counts", 0, NULL, &res);
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

int cf_master_ensure_server_role(cf_master *m, const char *name, const char *password) {
  m->errmsg[0] = '\0';
  if (name == NULL || *name == '\0' || strlen(name) > 63)
    return cf__master_fail(m, CF_INVALID, "a role name is 1..63 bytes");
  const char *params[2] = {name, password};
  cf__pg_res *res = NULL;
  int rc = cf__master_query(m, "server_role_statements", 2, params, &res);
  for (int i = 0; rc == CF_OK && i < cf__pg_nrows(res); i++) {
    rc = cf__pg_exec(m->pg, cf__pg_value(res, i, 0));
    if (rc != CF_OK) rc = cf__master_fail_pg(m, rc, "server role");
  }
  cf__pg_res_free(res);
  if (rc == CF_OK)
    cf__master_report(m, CF_REPORT_OK, "role %s may serve sync (member of authenticator, "
                                       "cf_sync_server; no superuser, no BYPASSRLS)", name);
  return rc;
}
