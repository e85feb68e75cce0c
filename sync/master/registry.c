/*
** sync/master/registry.c: the table registry (core/tables.h) against the
** master's copy, cf_sync.tables (see sync/master/registry.h).  The
** statements are registry_readable and registry_rows of
** sql/admin/master.sql.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/schema.h"
#include "core/tables.h"
#include "sync/master/registry.h"

int cf__master_tables_literal(char *buf, size_t cap) {
  size_t len = 0;
  if (cap == 0) return CF_TOOBIG;
  buf[0] = '\0';
  for (unsigned n = 0; n < CF_SCHEMA_NTABLES; n++) {
    int w =
        snprintf(buf + len, cap - len, "%s%s", n ? "," : "{", cf__schema_table(n)->name);
    if (w < 0 || (size_t)w >= cap - len) goto toobig;
    len += (size_t)w;
  }
  if (len + 2 > cap) goto toobig;
  memcpy(buf + len, "}", 2);
  return CF_OK;
toobig:
  buf[0] = '\0';
  return CF_TOOBIG;
}

/* One entry of the build's registry. */
typedef struct entry {
  unsigned number;  /* table number */
  const char *name; /* its name in public */
  const char *kind; /* cf_sync.tables.kind: "org", "user", "tenant" */
} entry;

#define ENTRY(num, name, kind) {num, #name, CF_TABLE_KIND_NAME_##kind},
static const entry build[CF_TABLE_COUNT] = {CF_TABLE_LIST(ENTRY)};
#undef ENTRY

/* The master's row i against build[i]; CF_OK or CF_CORRUPT with the detail. */
static int compare_row(cf_master *m, const cf__pg_res *res, int i) {
  const char *no = cf__pg_value(res, i, 0), *name = cf__pg_value(res, i, 1);
  const char *kind = cf__pg_value(res, i, 2);
  if (no == NULL || name == NULL || kind == NULL) /* NOT NULL columns */
    return cf__master_fail(m, CF_CORRUPT, "table registry: a NULL in cf_sync.tables");
  if (i >= CF_TABLE_COUNT)
    return cf__master_fail(
        m, CF_CORRUPT,
        "the master registers table %s %s (cf_sync.tables), which this "
        "build does not have (core/tables.h; a newer clientflow?)",
        no, name);
  const entry *e = &build[i];
  if (strtoul(no, NULL, 10) != e->number || strcmp(name, e->name) != 0 ||
      strcmp(kind, e->kind) != 0)
    return cf__master_fail(m, CF_CORRUPT,
                           "table registry: the master has table %s %s (%s) where this "
                           "build has %u %s (%s) (cf_sync.tables vs core/tables.h)",
                           no, name, kind, e->number, e->name, e->kind);
  return CF_OK;
}

int cf__master_compare_registry(cf_master *m, cf__registry_state *state) {
  cf__pg_res *res = NULL;
  *state = CF__REGISTRY_SAME;
  int rc = cf__master_query(m, "registry_readable", 0, NULL, &res);
  if (rc != CF_OK) return rc;
  int exists = cf__pg_bool(res, 0, 0), readable = cf__pg_bool(res, 0, 1);
  cf__pg_res_free(res);
  res = NULL;
  if (!exists || !readable) {
    *state = exists ? CF__REGISTRY_UNREADABLE : CF__REGISTRY_ABSENT;
    return CF_OK;
  }
  rc = cf__master_query(m, "registry_rows", 0, NULL, &res);
  if (rc != CF_OK) return rc;
  int nrows = cf__pg_nrows(res);
  for (int i = 0; rc == CF_OK && i < nrows; i++)
    rc = compare_row(m, res, i);
  if (rc == CF_OK && nrows < CF_TABLE_COUNT) {
    const entry *e = &build[nrows];
    rc =
        cf__master_fail(m, CF_CORRUPT,
                        "table registry: this build's table %u %s (core/tables.h) is not "
                        "in the master's cf_sync.tables: the migration that creates it "
                        "must end with SELECT cf_sync.attach_table(%u, '%s')",
                        e->number, e->name, e->number, e->name);
  }
  cf__pg_res_free(res);
  return rc;
}
