/*
** sync/master/doctor.c: `clientflow doctor`, the database checks.
**
** The seed's test-db.js checks (connection, the raw query SELECT 1 shown as
** `[ { test: 1 } ]`, `Tables found: 10`), then what this project relies on:
** RLS enabled AND forced on each table of the registry (core/tables.h), the
** master's copy of the registry (cf_sync.tables) equal to it, the migration
** ledger matching this build with nothing pending, and the connected role's
** powers.  A role that is a superuser, owns the tables or has BYPASSRLS is
** not judged by RLS: that is a WARN line here (an administrator may well
** run doctor as the owner) and a refusal in the sync server.
*/
#include <stdio.h>
#include <string.h>

#include "platform/platform.h"
#include "core/schema.h"
#include "sync/master/master.h"
#include "sync/master/registry.h"

/* Appends printf output to buf (capacity cap), truncating safely. */
static void append(char *buf, size_t cap, const char *text) {
  size_t len = strlen(buf);
  if (len + 1 < cap) snprintf(buf + len, cap - len, "%s", text);
}

static int is_number(const char *v) {
  if (v == NULL || *v == '\0') return 0;
  if (*v == '-') v++;
  return *v != '\0' && strspn(v, "0123456789.") == strlen(v);
}

/* Formats rows the way node's console.log shows them: [ { test: 1 } ]. */
static void format_rows(const cf__pg_res *res, char *buf, size_t cap) {
  buf[0] = '\0';
  append(buf, cap, "[");
  for (int r = 0; r < cf__pg_nrows(res); r++) {
    append(buf, cap, r ? ", { " : " { ");
    for (int c = 0; c < cf__pg_ncols(res); c++) {
      const char *v = cf__pg_value(res, r, c);
      char cell[256];
      if (v == NULL)
        snprintf(cell, sizeof cell, "%s%s: null", c ? ", " : "", cf__pg_colname(res, c));
      else if (is_number(v))
        snprintf(cell, sizeof cell, "%s%s: %s", c ? ", " : "", cf__pg_colname(res, c), v);
      else
        snprintf(cell, sizeof cell, "%s%s: '%s'", c ? ", " : "", cf__pg_colname(res, c),
                 v);
      append(buf, cap, cell);
    }
    append(buf, cap, " }");
  }
  append(buf, cap, " ]");
}

static int check_connection(cf_master *m, int *failures, int *superuser, int *bypass) {
  cf__pg_res *res = NULL;
  int rc = cf__master_query(m, "doctor_role", 0, NULL, &res);
  if (rc != CF_OK) return rc;
  if (cf__pg_nrows(res) < 1) {
    cf__pg_res_free(res);
    (*failures)++;
    cf__master_report(m, CF_REPORT_FAIL, "the connected role is not in pg_roles");
    return CF_OK;
  }
  cf__master_report(
      m, CF_REPORT_OK,
      "Database connection successful (role %s, database %s, PostgreSQL %s)",
      cf__pg_value(res, 0, 0), cf__pg_value(res, 0, 1), cf__pg_value(res, 0, 2));
  *superuser = cf__pg_bool(res, 0, 3);
  *bypass = cf__pg_bool(res, 0, 4);
  cf__pg_res_free(res);

  rc = cf__master_query(m, "doctor_select_one", 0, NULL, &res);
  if (rc != CF_OK) return rc;
  char shown[256];
  format_rows(res, shown, sizeof shown);
  cf__pg_res_free(res);
  cf__master_report(m, CF_REPORT_OK, "Raw query test successful: %s", shown);
  return CF_OK;
}

static int check_tables(cf_master *m, int *failures, int *owned) {
  cf__pg_res *res = NULL;
  char names[CF_MASTER_TABLES_LITERAL_MAX];
  int rc = cf__master_tables_literal(names, sizeof names);
  if (rc != CF_OK) return cf__master_fail(m, rc, "table names too long");
  const char *params[] = {names};
  rc = cf__master_query(m, "doctor_tables", 1, params, &res);
  if (rc != CF_OK) return rc;
  int found = 0;
  for (int i = 0; i < cf__pg_nrows(res); i++)
    found += cf__pg_bool(res, i, 1);
  if (found == CF_SCHEMA_NTABLES) {
    cf__master_report(m, CF_REPORT_OK, "Schema access test successful. Tables found: %d",
                      found);
  } else {
    (*failures)++;
    cf__master_report(m, CF_REPORT_FAIL, "Schema access test: Tables found: %d of %d",
                      found, CF_SCHEMA_NTABLES);
  }
  for (int i = 0; i < cf__pg_nrows(res); i++) {
    const char *name = cf__pg_value(res, i, 0);
    if (!cf__pg_bool(res, i, 1)) {
      (*failures)++;
      cf__master_report(m, CF_REPORT_FAIL, "table public.%s is missing", name);
      continue;
    }
    int enabled = cf__pg_bool(res, i, 2), forced = cf__pg_bool(res, i, 3);
    *owned += cf__pg_bool(res, i, 4);
    if (enabled && forced) {
      cf__master_report(m, CF_REPORT_OK, "RLS enabled and forced on %s", name);
    } else {
      (*failures)++;
      cf__master_report(m, CF_REPORT_FAIL, "RLS %s on %s",
                        !enabled ? "not enabled" : "enabled but not forced", name);
    }
  }
  cf__pg_res_free(res);
  return CF_OK;
}

/* The master's registry (cf_sync.tables) against this build's. */
static int check_registry(cf_master *m, int *failures) {
  cf__registry_state state;
  int rc = cf__master_compare_registry(m, &state);
  if (rc == CF_CORRUPT) {
    (*failures)++;
    cf__master_report(m, CF_REPORT_FAIL, "%s", m->errmsg);
    m->errmsg[0] = '\0';
    return CF_OK;
  }
  if (rc != CF_OK) return rc;
  if (state == CF__REGISTRY_SAME)
    cf__master_report(m, CF_REPORT_OK,
                      "table registry: cf_sync.tables matches this build (%d tables)",
                      CF_SCHEMA_NTABLES);
  else if (state == CF__REGISTRY_UNREADABLE)
    cf__master_report(m, CF_REPORT_INFO,
                      "table registry: not compared (this role may not read "
                      "cf_sync.tables; `clientflow migrate up` compares it)");
  /* CF__REGISTRY_ABSENT: migrations are pending, which check_migrations says. */
  return CF_OK;
}

static int check_migrations(cf_master *m, int *failures) {
  cf__migrations state = {0};
  int rc = cf__migrations_load(m, &state);
  if (rc == CF_PERMISSION) {
    /* A role without access to the ledger: a failed check, not an abort. */
    (*failures)++;
    cf__master_report(m, CF_REPORT_FAIL, "migrations: cannot read the ledger (%s)",
                      m->errmsg);
    m->errmsg[0] = '\0';
    return CF_OK;
  }
  if (rc != CF_OK) return rc;
  int applied = 0;
  for (int i = 0; i < state.n; i++)
    applied += state.items[i].applied;
  if (cf__migrations_verify(m, &state) != CF_OK) {
    (*failures)++;
    cf__master_report(m, CF_REPORT_FAIL, "migrations: %s", m->errmsg);
    m->errmsg[0] = '\0';
  } else if (state.pending > 0) {
    (*failures)++;
    cf__master_report(m, CF_REPORT_FAIL,
                      "migrations: %d applied, %d pending (run `clientflow migrate up`)",
                      applied, state.pending);
  } else {
    cf__master_report(m, CF_REPORT_OK, "migrations: %d applied, 0 pending", applied);
  }
  cf__migrations_free(&state);
  return CF_OK;
}

int cf_master_doctor(cf_master *m, int *failures_out) {
  int failures = 0, superuser = 0, bypass = 0, owned = 0;
  m->errmsg[0] = '\0';
  if (failures_out != NULL) *failures_out = 0;
  int rc = check_connection(m, &failures, &superuser, &bypass);
  if (rc == CF_OK) rc = check_tables(m, &failures, &owned);
  if (rc == CF_OK) rc = check_registry(m, &failures);
  if (rc == CF_OK) rc = check_migrations(m, &failures);
  if (rc != CF_OK) return rc;
  if (superuser)
    cf__master_report(m, CF_REPORT_WARN,
                      "the connected role is a superuser: RLS does not apply to it "
                      "(fine for migrate/seed, never for the sync server)");
  if (owned > 0)
    cf__master_report(
        m, CF_REPORT_WARN,
        "the connected role owns %d of the tables (forced RLS applies, but an "
        "owner can disable it; the sync server must not run as an owner)",
        owned);
  if (bypass)
    cf__master_report(m, CF_REPORT_WARN,
                      "the connected role has BYPASSRLS: RLS does not "
                      "apply to it (never for the sync server)");
  if (failures_out != NULL) *failures_out = failures;
  if (failures > 0) {
    cf__master_report(m, CF_REPORT_FAIL, "%d check%s failed", failures,
                      failures == 1 ? "" : "s");
    return cf__master_fail(m, CF_ERROR, "%d check%s failed", failures,
                           failures == 1 ? "" : "s");
  }
  cf__master_report(m, CF_REPORT_OK, "All database tests passed!");
  return CF_OK;
}
