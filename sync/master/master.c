/*
** sync/master/master.c: the cf_master handle (connection, report callback, error
** detail) and the server role.  Migrations are in sync/master/migrate.c, `seed` in
** sync/seed.c, checks in sync/master/doctor.c; the statements they run are named in
** sql/admin/master.sql.  This file uses none of them: they build on it.
*/
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "platform/platform.h"
#include "sync/master/master.h"

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
    cf__master_report(m, CF_REPORT_OK,
                      "role %s may serve sync (member of authenticator, "
                      "cf_sync_server; no superuser, no BYPASSRLS)",
                      name);
  return rc;
}
