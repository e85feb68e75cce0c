/*
** sync/master/migrate.c: `clientflow migrate up|status|reset` (see the Master
** administration section of include/clientflow.h and docs/operations.md).
**
** Migrations are the embedded files postgres/NNN_name.sql (sql/postgres/),
** ordered by NNN.  The ledger cf_meta.schema_migrations records each applied
** file's version, name and the SHA-256 of its bytes (sql/admin/master.sql
** has the table).  Each migration runs in its own transaction that also
** takes a transaction-level advisory lock, re-reads the ledger under it and
** records the file, so concurrent `migrate up` runs apply each file exactly
** once and a failed file leaves no trace.
**
** Once every file is applied, `up` compares the master's table registry
** (cf_sync.tables, written by the migrations) with this build's
** (core/tables.h) and fails, naming the first difference, when they differ
** (sync/master/registry.c).
**
** A file whose bytes changed after it was applied is never re-applied nor
** skipped silently: up and status refuse, naming it.  The way out is to
** restore the file, or `migrate reset --force` on a database whose data can
** go.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/crypto.h"
#include "platform/assets.h"
#include "platform/platform.h"
#include "sync/master/master.h"
#include "sync/master/registry.h"

#define MIGRATION_DIR "postgres/"
/* More migrations than this would be a build mistake, not a schema. */
#define MAX_MIGRATIONS 1000
/* Schemas a reset may drop, found in the migrations' CREATE SCHEMA. */
#define MAX_SCHEMAS 32

/* The file name of a migration asset, or NULL if path is not one. */
static const char *migration_file(const char *path) {
  size_t dlen = strlen(MIGRATION_DIR);
  if (strncmp(path, MIGRATION_DIR, dlen) != 0) return NULL;
  const char *file = path + dlen;
  size_t digits = strspn(file, "0123456789");
  size_t len = strlen(file);
  if (digits == 0 || digits >= 16 || file[digits] != '_' || strchr(file, '/') != NULL ||
      len < 4 || strcmp(file + len - 4, ".sql") != 0 || len >= 128)
    return NULL;
  return file;
}

void cf__migrations_free(cf__migrations *state) {
  cf__free(state->items);
  memset(state, 0, sizeof *state);
}

static cf__migration *find_version(cf__migrations *state, const char *version) {
  for (int i = 0; i < state->n; i++)
    if (strcmp(state->items[i].version, version) == 0) return &state->items[i];
  return NULL;
}

/* Fills state->items with the embedded migrations, in asset (path) order. */
static int load_embedded(cf_master *m, cf__migrations *state, int extra) {
  int count = 0;
  for (const cf__asset *a = cf__assets; a->path != NULL; a++)
    if (migration_file(a->path) != NULL) count++;
  if (count > MAX_MIGRATIONS)
    return cf__master_fail(m, CF_TOOBIG, "%d migrations embedded (limit %d)", count,
                           MAX_MIGRATIONS);
  state->items = cf__calloc((size_t)(count + extra), sizeof *state->items);
  if (state->items == NULL) return cf__master_fail(m, CF_NOMEM, "out of memory");
  for (const cf__asset *a = cf__assets; a->path != NULL; a++) {
    const char *file = migration_file(a->path);
    if (file == NULL) continue;
    cf__migration *it = &state->items[state->n];
    it->file = file;
    it->sql = a->data;
    it->sql_len = a->len;
    size_t digits = strspn(file, "0123456789");
    memcpy(it->version, file, digits);
    it->version[digits] = '\0';
    if (find_version(state, it->version) != NULL)
      return cf__master_fail(m, CF_CORRUPT, "two migrations are numbered %s",
                             it->version);
    unsigned char sum[CF_SHA256_LEN];
    cf__sha256(a->data, a->len, sum);
    cf__hex(sum, sizeof sum, it->checksum);
    state->n++;
  }
  return CF_OK;
}

int cf__migrations_load(cf_master *m, cf__migrations *state) {
  cf__pg_res *exists = NULL, *rows = NULL;
  int rc;
  memset(state, 0, sizeof *state);
  rc = cf__master_query(m, "ledger_exists", 0, NULL, &exists);
  if (rc != CF_OK) goto out;
  if (cf__pg_bool(exists, 0, 0)) {
    rc = cf__master_query(m, "applied_migrations", 0, NULL, &rows);
    if (rc != CF_OK) goto out;
  }
  int nrows = rows ? cf__pg_nrows(rows) : 0;
  if (nrows > MAX_MIGRATIONS) {
    rc = cf__master_fail(m, CF_TOOBIG, "the ledger records %d migrations (limit %d)",
                         nrows, MAX_MIGRATIONS);
    goto out;
  }
  rc = load_embedded(m, state, nrows);
  if (rc != CF_OK) goto out;
  for (int r = 0; r < nrows; r++) {
    const char *version = cf__pg_value(rows, r, 0);
    const char *name = cf__pg_value(rows, r, 1);
    const char *checksum = cf__pg_value(rows, r, 2);
    const char *at = cf__pg_value(rows, r, 3);
    if (version == NULL || strlen(version) >= sizeof state->items[0].version) continue;
    cf__migration *it = find_version(state, version);
    if (it == NULL) {
      it = &state->items[state->n++];
      snprintf(it->version, sizeof it->version, "%s", version);
    }
    it->applied = 1;
    snprintf(it->recorded, sizeof it->recorded, "%s", checksum ? checksum : "");
    snprintf(it->recorded_name, sizeof it->recorded_name, "%s", name ? name : "?");
    snprintf(it->applied_at, sizeof it->applied_at, "%s", at ? at : "");
    if (it->sql == NULL) it->file = it->recorded_name;
  }
  for (int i = 0; i < state->n; i++) {
    cf__migration *it = &state->items[i];
    if (it->sql == NULL)
      state->unknown++;
    else if (!it->applied)
      state->pending++;
    else if (strcmp(it->recorded, it->checksum) != 0)
      state->changed++;
  }
out:
  cf__pg_res_free(exists);
  cf__pg_res_free(rows);
  if (rc != CF_OK) cf__migrations_free(state);
  return rc;
}

int cf__migrations_verify(cf_master *m, const cf__migrations *state) {
  for (int i = 0; i < state->n; i++) {
    const cf__migration *it = &state->items[i];
    if (it->sql == NULL)
      return cf__master_fail(m, CF_CORRUPT,
                             "the database has migration %s applied, which this build "
                             "does not have (applied by a newer clientflow?)",
                             it->file);
    if (it->applied && strcmp(it->recorded, it->checksum) != 0)
      return cf__master_fail(m, CF_CORRUPT,
                             "migration %s was changed after it was applied (recorded "
                             "checksum %.12s, file now %.12s): restore the file, or "
                             "`migrate reset --force` a database whose data can go",
                             it->file, it->recorded, it->checksum);
  }
  return CF_OK;
}

/* Runs the named multi-statement script of CF_MASTER_SQL. */
static int exec_named(cf_master *m, const char *name) {
  char *sql = NULL;
  int rc = cf__sql_named(CF_MASTER_SQL, name, &sql);
  if (rc != CF_OK)
    return cf__master_fail(m, rc, "statement %s missing from %s", name, CF_MASTER_SQL);
  rc = cf__pg_exec(m->pg, sql);
  cf__free(sql);
  if (rc != CF_OK) return cf__master_fail_pg(m, rc, name);
  return CF_OK;
}

/* Line (1-based) of the pos-th character (1-based) of sql; 0 if pos is 0. */
static int line_of(const char *sql, size_t len, int pos) {
  if (pos <= 0) return 0;
  int line = 1, chars = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)sql[i];
    if ((c & 0xC0) != 0x80 && ++chars >= pos) break;
    if (c == '\n') line++;
  }
  return line;
}

/*
** One step of `up`: in one transaction, lock, make sure the ledger exists,
** re-read it, verify, and apply the first pending migration.  OUT: *done
** set when nothing was pending.
*/
static int apply_next(cf_master *m, int *done) {
  cf__migrations state = {0};
  cf__migration *next = NULL;
  int rc = cf__pg_begin(m->pg);
  if (rc != CF_OK) return cf__master_fail_pg(m, rc, "begin");
  rc = cf__master_query(m, "migrate_lock", 0, NULL, NULL);
  if (rc != CF_OK) goto out;
  rc = exec_named(m, "ensure_ledger");
  if (rc != CF_OK) goto out;
  rc = cf__migrations_load(m, &state);
  if (rc != CF_OK) goto out;
  rc = cf__migrations_verify(m, &state);
  if (rc != CF_OK) goto out;
  for (int i = 0; i < state.n && next == NULL; i++)
    if (!state.items[i].applied) next = &state.items[i];
  if (next == NULL) {
    *done = 1;
    rc = cf__pg_commit(m->pg);
    if (rc != CF_OK) rc = cf__master_fail_pg(m, rc, "commit");
    goto out;
  }
  int64_t t0 = cf__monotonic_ns();
  rc = cf__pg_exec(m->pg, next->sql);
  if (rc != CF_OK) {
    int line = line_of(next->sql, next->sql_len, cf__pg_errpos(m->pg));
    if (line > 0)
      rc = cf__master_fail(m, rc, "migration %s failed at line %d: %s", next->file, line,
                           cf__pg_errmsg(m->pg));
    else
      rc = cf__master_fail(m, rc, "migration %s failed: %s", next->file,
                           cf__pg_errmsg(m->pg));
    goto out;
  }
  long ms = (long)((cf__monotonic_ns() - t0) / 1000000);
  char ms_text[24];
  snprintf(ms_text, sizeof ms_text, "%ld", ms);
  const char *params[] = {next->version, next->file, next->checksum, ms_text};
  rc = cf__master_query(m, "record_migration", 4, params, NULL);
  if (rc != CF_OK) goto out;
  rc = cf__pg_commit(m->pg);
  if (rc != CF_OK) {
    rc = cf__master_fail(m, rc, "migration %s: commit failed: %s", next->file,
                         cf__pg_errmsg(m->pg));
    goto out;
  }
  cf__master_report(m, CF_REPORT_OK, "applied %s (%ld ms)", next->file, ms);
out:
  if (rc != CF_OK) cf__pg_rollback(m->pg);
  cf__migrations_free(&state);
  return rc;
}

int cf_master_migrate_up(cf_master *m) {
  int done = 0, applied = 0, rc = CF_OK;
  m->errmsg[0] = '\0';
  while (!done) {
    rc = apply_next(m, &done);
    if (rc != CF_OK) return rc;
    if (!done) applied++;
  }
  /* Every migration is in: the master's tables must be this build's. */
  cf__registry_state registry;
  rc = cf__master_compare_registry(m, &registry);
  if (rc != CF_OK) return rc;
  if (applied == 0)
    cf__master_report(m, CF_REPORT_INFO, "database is up to date: nothing to apply");
  else
    cf__master_report(m, CF_REPORT_INFO, "%d migration%s applied", applied,
                      applied == 1 ? "" : "s");
  return CF_OK;
}

int cf_master_migrate_status(cf_master *m, int *pending) {
  cf__migrations state = {0};
  m->errmsg[0] = '\0';
  if (pending != NULL) *pending = 0;
  int rc = cf__migrations_load(m, &state);
  if (rc != CF_OK) return rc;
  int applied = 0;
  for (int i = 0; i < state.n; i++) {
    const cf__migration *it = &state.items[i];
    if (it->sql == NULL) {
      cf__master_report(m, CF_REPORT_FAIL, "unknown  %s  applied %s, not in this build",
                        it->file, it->applied_at);
    } else if (!it->applied) {
      cf__master_report(m, CF_REPORT_INFO, "pending  %s", it->file);
    } else if (strcmp(it->recorded, it->checksum) != 0) {
      cf__master_report(m, CF_REPORT_FAIL, "changed  %s  applied %s, file changed since",
                        it->file, it->applied_at);
    } else {
      applied++;
      cf__master_report(m, CF_REPORT_OK, "applied  %s  %s", it->file, it->applied_at);
    }
  }
  cf__master_report(m, CF_REPORT_INFO, "%d applied, %d pending", applied, state.pending);
  if (pending != NULL) *pending = state.pending;
  rc = cf__migrations_verify(m, &state);
  cf__migrations_free(&state);
  return rc;
}

/* Skips blanks and -- comments. */
static const char *skip_space(const char *p) {
  for (;;) {
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
      p++;
    if (p[0] == '-' && p[1] == '-') {
      while (*p != '\0' && *p != '\n')
        p++;
      continue;
    }
    return p;
  }
}

/*
** Adds to names[] (deduplicated, lowercased) each schema that sql creates
** with CREATE SCHEMA, also inside EXECUTE strings, except those a reset
** must keep: public, auth (Supabase owns it), cf_meta (handled apart), and
** the system schemas.
*/
static void scan_created_schemas(const char *sql, char names[][64], int *n) {
  static const char key[] = "create schema";
  for (const char *p = sql; *p != '\0'; p++) {
    if (strncasecmp(p, key, sizeof key - 1) != 0) continue;
    const char *q = skip_space(p + sizeof key - 1);
    if (strncasecmp(q, "if not exists", 13) == 0) q = skip_space(q + 13);
    char name[64];
    size_t len = 0;
    if (*q == '"') {
      for (q++; *q != '\0' && *q != '"' && len + 1 < sizeof name; q++)
        name[len++] = *q;
    } else {
      for (; (*q == '_' || (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
              (len > 0 && *q >= '0' && *q <= '9')) &&
             len + 1 < sizeof name;
           q++)
        name[len++] = (char)((*q >= 'A' && *q <= 'Z') ? *q + 32 : *q);
    }
    name[len] = '\0';
    if (len == 0 || strcasecmp(name, "authorization") == 0 ||
        strcmp(name, "public") == 0 || strcmp(name, "auth") == 0 ||
        strcmp(name, "cf_meta") == 0 || strcmp(name, "information_schema") == 0 ||
        strncmp(name, "pg_", 3) == 0)
      continue;
    int seen = 0;
    for (int i = 0; i < *n; i++)
      if (strcmp(names[i], name) == 0) seen = 1;
    if (!seen && *n < MAX_SCHEMAS) memcpy(names[(*n)++], name, len + 1);
  }
}

/* Drops schema name (CASCADE) unless it is absent or holds an extension. */
static int drop_schema(cf_master *m, const char *name) {
  cf__pg_res *res = NULL;
  char *quoted = NULL, *sql = NULL;
  const char *params[] = {name};
  int rc = cf__master_query(m, "schema_droppable", 1, params, &res);
  if (rc != CF_OK) goto out;
  if (!cf__pg_bool(res, 0, 0)) goto out;
  quoted = cf__pg_quote_ident(m->pg, name);
  sql = quoted ? cf__mprintf("DROP SCHEMA %s CASCADE", quoted) : NULL;
  if (sql == NULL) {
    rc = cf__master_fail(m, CF_NOMEM, "out of memory");
    goto out;
  }
  rc = cf__pg_exec(m->pg, sql);
  if (rc != CF_OK) {
    rc = cf__master_fail(m, rc, "dropping schema %s: %s", name, cf__pg_errmsg(m->pg));
    goto out;
  }
  cf__master_report(m, CF_REPORT_INFO, "dropped schema %s", name);
out:
  cf__pg_res_free(res);
  cf__free(quoted);
  cf__free(sql);
  return rc;
}

int cf_master_migrate_reset(cf_master *m, int confirm) {
  char schemas[MAX_SCHEMAS][64];
  int nschemas = 0;
  m->errmsg[0] = '\0';
  if (!confirm)
    return cf__master_fail(m, CF_MISUSE,
                           "reset drops every table and its data: confirm with --force");
  for (const cf__asset *a = cf__assets; a->path != NULL; a++)
    if (migration_file(a->path) != NULL)
      scan_created_schemas(a->data, schemas, &nschemas);

  int rc = cf__pg_begin(m->pg);
  if (rc != CF_OK) return cf__master_fail_pg(m, rc, "begin");
  rc = cf__master_query(m, "migrate_lock", 0, NULL, NULL);
  if (rc != CF_OK) goto out;
  for (int i = 0; i < nschemas && rc == CF_OK; i++)
    rc = drop_schema(m, schemas[i]);
  if (rc != CF_OK) goto out;
  rc = exec_named(m, "reset_public");
  if (rc != CF_OK) goto out;
  rc = exec_named(m, "drop_ledger");
  if (rc != CF_OK) goto out;
  rc = cf__pg_commit(m->pg);
  if (rc != CF_OK) {
    rc = cf__master_fail_pg(m, rc, "commit");
    goto out;
  }
  cf__master_report(m, CF_REPORT_INFO,
                    "dropped the tables, routines and types of public "
                    "and the migration ledger");
out:
  if (rc != CF_OK) {
    cf__pg_rollback(m->pg);
    return rc;
  }
  return cf_master_migrate_up(m);
}
