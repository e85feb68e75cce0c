/*
** store/node_crypt.c: a replica's open options (key, revocation policy),
** rekey and conversion, the token rule and the wipe after revocation.
** Design: docs/encryption.md; the page format: store/vfs_crypt.c.
**
** Rekey, encryption of a plain replica and decryption are one operation:
** VACUUM INTO a file next to the replica, which the VFS instance keys with
** the new key (its "target"), then a rename over the replica.  The copy
** is whole before the rename, so a crash leaves the old file or the new one.
*/
#include <stdio.h>
#include <string.h>

#include "core/schema.h"
#include "platform/platform.h"
#include "store/notify.h"
#include "store/sqltext.h"
#include "store/store.h"
#include "store/store_int.h"
#include "store/vfs_crypt.h"

struct cf_node_options {
  cf__keyspec key;   /* CF_KEY_NONE: plain */
  int revoke;        /* cf_revoke_policy */
  char *export_path; /* wipe export, or NULL for "<replica>.export" */
};

#define MAX_PASSPHRASE 4096

int cf_node_options_new(cf_node_options **out) {
  if (out == NULL) return CF_MISUSE;
  *out = cf__calloc(1, sizeof **out);
  return *out != NULL ? CF_OK : CF_NOMEM;
}

void cf_node_options_free(cf_node_options *opts) {
  if (opts == NULL) return;
  cf__keyspec_clear(&opts->key);
  cf__free(opts->export_path);
  cf__free(opts);
}

int cf_node_options_set_key(cf_node_options *opts,
                            const unsigned char key[CF_NODE_KEY_LEN]) {
  if (opts == NULL || key == NULL) return CF_INVALID;
  cf__keyspec_clear(&opts->key);
  opts->key.kind = CF_KEY_RAW;
  memcpy(opts->key.key, key, CF_NODE_KEY_LEN);
  return CF_OK;
}

int cf_node_options_set_passphrase(cf_node_options *opts, const char *pass, size_t len) {
  if (opts == NULL || pass == NULL || len == 0 || len > MAX_PASSPHRASE) return CF_INVALID;
  cf__keyspec ks = {.kind = CF_KEY_PASSPHRASE, .pass = (char *)pass, .pass_len = len};
  return cf__keyspec_copy(&opts->key, &ks);
}

int cf_node_options_set_plain(cf_node_options *opts) {
  if (opts == NULL) return CF_INVALID;
  cf__keyspec_clear(&opts->key);
  return CF_OK;
}

int cf_node_options_set_revoke(cf_node_options *opts, cf_revoke_policy policy,
                               const char *export_path) {
  if (opts == NULL || (policy != CF_REVOKE_KEEP && policy != CF_REVOKE_WIPE))
    return CF_INVALID;
  char *copy = NULL;
  if (export_path != NULL && (copy = cf__strdup(export_path)) == NULL) return CF_NOMEM;
  cf__free(opts->export_path);
  opts->export_path = copy;
  opts->revoke = (int)policy;
  return CF_OK;
}

int cf__node_apply_options(struct cf_node *node, const char *path,
                           const cf_node_options *opts) {
  if ((node->path = cf__strdup(path)) == NULL)
    return cf__node_fail(node, CF_NOMEM, "out of memory");
  if (opts != NULL) {
    node->revoke_policy = opts->revoke;
    if (opts->export_path != NULL &&
        (node->export_path = cf__strdup(opts->export_path)) == NULL)
      return cf__node_fail(node, CF_NOMEM, "out of memory");
  }
  int rc = cf__crypt_new(opts != NULL ? &opts->key : NULL, &node->crypt);
  if (rc != CF_OK) return cf__node_fail(node, rc, "cannot set up the replica's VFS");
  return CF_OK;
}

int cf_node_encrypted(const cf_node *node) {
  return node != NULL && node->crypt != NULL && cf__crypt_encrypted(node->crypt);
}

/* --- small helpers --------------------------------------------------------- */

/* Runs sql (no rows wanted) with text parameter ?1 = arg (may be NULL). */
static int run_sql(cf_node *node, const char *sql, const char *arg, const char *what) {
  sqlite3_stmt *st = NULL;
  int src = sqlite3_prepare_v2(node->db, sql, -1, &st, NULL);
  if (src == SQLITE_OK && arg != NULL)
    src = sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
  if (src == SQLITE_OK) {
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
    }
    if (src == SQLITE_DONE) src = SQLITE_OK;
  }
  int rc = src == SQLITE_OK ? CF_OK : cf__node_sqlerr(node, src, what);
  sqlite3_finalize(st);
  return rc;
}

/* PRAGMA wal_checkpoint(TRUNCATE): every frame into the database file and
** the WAL cut to 0 bytes.  CF_BUSY if another connection holds it back. */
static int checkpoint_truncate(cf_node *node) {
  int log = -1, done = -1;
  int src = sqlite3_wal_checkpoint_v2(node->db, "main", SQLITE_CHECKPOINT_TRUNCATE, &log,
                                      &done);
  if (src != SQLITE_OK) return cf__node_sqlerr(node, src, "checkpoint");
  if (log != done)
    return cf__node_fail(node, CF_BUSY, "another connection holds the WAL");
  return CF_OK;
}

static int idle(cf_node *node, const char *what) {
  if (node->db == NULL) return cf__node_fail(node, CF_IO, "the replica is closed");
  if (node->own_tx || !sqlite3_get_autocommit(node->db))
    return cf__node_fail(node, CF_MISUSE, "%s: a transaction is open", what);
  return CF_OK;
}

/* --- the token rule -------------------------------------------------------- */

int cf__node_drop_plain_token(struct cf_node *node) {
  if (cf__crypt_encrypted(node->crypt)) return CF_OK;
  sqlite3_stmt *st = NULL;
  int src = sqlite3_prepare_v2(
      node->db, "SELECT 1 FROM cf_meta WHERE k = 'setting.token'", -1, &st, NULL);
  if (src == SQLITE_OK) src = sqlite3_step(st);
  sqlite3_finalize(st);
  if (src == SQLITE_DONE) return CF_OK;
  if (src != SQLITE_ROW) return cf__node_sqlerr(node, src, "look for a stored token");
  int rc = run_sql(node, "PRAGMA secure_delete = ON", NULL, "secure_delete");
  if (rc == CF_OK)
    rc = run_sql(node, "DELETE FROM cf_meta WHERE k = 'setting.token'", NULL,
                 "drop the stored token");
  if (rc == CF_OK) rc = checkpoint_truncate(node);
  int off = run_sql(node, "PRAGMA secure_delete = OFF", NULL, "secure_delete");
  if (rc == CF_OK) rc = off;
  if (rc == CF_OK)
    cf__log(CF_LOG_INFO, "msg=\"removed the token a plain replica kept\" path=\"%s\"",
            node->path);
  return rc == CF_BUSY ? CF_OK : rc;
}

int cf__node_token_refused(struct cf_node *node, const char *name) {
  if (strcmp(name, "token") != 0 || cf__crypt_encrypted(node->crypt)) return CF_OK;
  return cf__node_fail(node, CF_PERMISSION,
                       "a plain replica keeps no token (docs/encryption.md): encrypt the "
                       "replica, or hand the token in at every sync");
}

/* --- rekey ----------------------------------------------------------------- */

int cf_node_rekey(cf_node *node, const cf_node_options *to) {
  if (node == NULL) return CF_MISUSE;
  node->errmsg[0] = '\0';
  int rc = idle(node, "rekey");
  if (rc != CF_OK) return rc;
  if (node->watches != NULL)
    return cf__node_fail(node, CF_MISUSE, "rekey: free the watched queries first");
  cf__node_finalize_own(node);
  cf__notify_finalize(node);
  if (sqlite3_next_stmt(node->db, NULL) != NULL)
    return cf__node_fail(node, CF_MISUSE, "rekey: finalize the app's statements first");
  static const cf__keyspec plain = {0};
  const cf__keyspec *ks = to != NULL ? &to->key : &plain;
  char *tmp = cf__mprintf("%s.rekey", node->path);
  char *tmp_journal = cf__mprintf("%s.rekey-journal", node->path);
  char *wal = cf__mprintf("%s-wal", node->path);
  char *shm = cf__mprintf("%s-shm", node->path);
  if (tmp == NULL || tmp_journal == NULL || wal == NULL || shm == NULL) {
    rc = cf__node_fail(node, CF_NOMEM, "out of memory");
    goto out;
  }
  /* A copy left by a rekey that crashed is stale: the replica is the old one. */
  if (cf__file_remove(tmp) != CF_OK || cf__file_remove(tmp_journal) != CF_OK ||
      cf__file_make_private(tmp) != CF_OK) {
    rc = cf__node_fail(node, CF_IO, "rekey: cannot prepare %s", tmp);
    goto out;
  }
  if ((rc = cf__crypt_set_target(node->crypt, tmp, ks)) != CF_OK) goto out;
  if (ks->kind != CF_KEY_NONE) {
    int reserve = CF_CRYPT_RESERVE; /* VACUUM INTO gives the copy this much */
    (void)sqlite3_file_control(node->db, "main", SQLITE_FCNTL_RESERVE_BYTES, &reserve);
  }
  if ((rc = checkpoint_truncate(node)) != CF_OK) goto out;
  if ((rc = run_sql(node, "VACUUM INTO ?1", tmp, "rekey: copy")) != CF_OK) goto out;
  /* The copy is whole.  Close (the WAL is empty and goes), rename, reopen. */
  cf__notify_detach(node);
  sqlite3_close_v2(node->db);
  node->db = NULL;
  if (cf__file_remove(wal) != CF_OK || cf__file_remove(shm) != CF_OK ||
      cf__file_rename(tmp, node->path) != CF_OK) {
    rc = cf__node_fail(node, CF_IO, "rekey: cannot move %s over %s", tmp, node->path);
  } else {
    rc = cf__crypt_set_main(node->crypt, ks);
  }
  if (rc != CF_OK) {
    /* The old file is in place and the old key still set: reopen it. */
    char why[512];
    snprintf(why, sizeof why, "%s", node->errmsg);
    if (cf__node_open_db(node, node->path) == CF_OK && cf__node_open_rest(node) == CF_OK)
      cf__node_fail(node, rc, "%s", why);
    goto out;
  }
  if ((rc = cf__node_open_db(node, node->path)) == CF_OK) rc = cf__node_open_rest(node);
out:
  if (cf__crypt_set_target(node->crypt, NULL, NULL) != CF_OK) {
    /* Clearing allocates nothing: cannot fail. */
  }
  if (rc != CF_OK && tmp != NULL && cf__file_remove(tmp) != CF_OK)
    cf__log(CF_LOG_WARN, "msg=\"cannot remove a rekey copy\" path=\"%s\"", tmp);
  if (tmp_journal != NULL && cf__file_remove(tmp_journal) != CF_OK)
    cf__log(CF_LOG_WARN, "msg=\"cannot remove a rekey journal\" path=\"%s\"",
            tmp_journal);
  cf__free(tmp);
  cf__free(tmp_journal);
  cf__free(wal);
  cf__free(shm);
  return rc;
}

/* --- wipe after revocation ------------------------------------------------- */

/* The INSERT that copies table t's unpushed changes into the export: whole
** rows as JSON, with the conflict's reason when the master rejected it. */
static int export_table(cf_node *node, const cf_table *t) {
  cf_buf b;
  cf__buf_init(&b, 64 * 1024);
  char num[16];
  snprintf(num, sizeof num, "%u", t->number);
  int rc = cf__buf_puts_all(
      &b, "INSERT INTO cf_export.changes (tbl, id, state, code, message, at_ms, ",
      "row) SELECT '", t->name, "', d.id, CASE WHEN c.id IS NULL THEN 'pending' ",
      "ELSE 'rejected' END, c.code, c.message, c.at_ms, json_object(",
      (const char *)NULL);
  for (unsigned i = 0; rc == CF_OK && i < t->ncols; i++)
    rc = cf__buf_puts_all(&b, "'", t->cols[i].name, "', d.\"", t->cols[i].name, "\", ",
                          (const char *)NULL);
  if (rc == CF_OK)
    rc = cf__buf_puts_all(
        &b, "'deleted', d.deleted) FROM \"cf_", t->name, "\" d LEFT JOIN ",
        "cf_conflicts c ON c.rid = d.rid AND c.tbl = ", num,
        " WHERE d._seq IS NOT NULL OR c.id IS NOT NULL", (const char *)NULL);
  if (rc == CF_OK)
    rc = run_sql(node, b.p, NULL, "export");
  else
    rc = cf__node_fail(node, rc, "export: statement too long");
  cf__buf_free(&b);
  return rc;
}

static int write_export(cf_node *node, const char *path) {
  const char *ddl = cf__sql_file("sqlite/export.sql");
  if (ddl == NULL) return cf__node_fail(node, CF_MISUSE, "export DDL not embedded");
  if (cf__file_exists(path))
    return cf__node_fail(node, CF_INVALID, "the export file %s exists already", path);
  if (cf__file_make_private(path) != CF_OK)
    return cf__node_fail(node, CF_IO, "cannot create %s", path);
  int rc = run_sql(node, "ATTACH ?1 AS cf_export", path, "export: attach");
  if (rc != CF_OK) return rc;
  if (cf__crypt_encrypted(node->crypt)) {
    int reserve = CF_CRYPT_RESERVE;
    (void)sqlite3_file_control(node->db, "cf_export", SQLITE_FCNTL_RESERVE_BYTES,
                               &reserve);
  }
  int src = sqlite3_exec(node->db, ddl, NULL, NULL, NULL);
  if (src != SQLITE_OK) rc = cf__node_sqlerr(node, src, "export: tables");
  if (rc == CF_OK) rc = run_sql(node, "BEGIN IMMEDIATE", NULL, "export");
  for (unsigned n = 0; rc == CF_OK && n < CF_SCHEMA_NTABLES; n++)
    rc = export_table(node, cf__schema_table(n));
  if (rc == CF_OK) rc = run_sql(node, "COMMIT", NULL, "export");
  if (rc != CF_OK && !sqlite3_get_autocommit(node->db))
    (void)run_sql(node, "ROLLBACK", NULL, NULL);
  int det = run_sql(node, "DETACH cf_export", NULL, "export: detach");
  return rc != CF_OK ? rc : det;
}

static int wipe_rows(cf_node *node) {
  const char *sql = cf__sql_file("sqlite/wipe.sql");
  if (sql == NULL) return cf__node_fail(node, CF_MISUSE, "wipe SQL not embedded");
  int rc = run_sql(node, "PRAGMA secure_delete = ON", NULL, "secure_delete");
  if (rc == CF_OK) rc = run_sql(node, "BEGIN IMMEDIATE", NULL, "wipe");
  for (unsigned n = 0; rc == CF_OK && n < CF_SCHEMA_NTABLES; n++) {
    char del[160];
    snprintf(del, sizeof del, "DELETE FROM \"cf_%s\"", cf__schema_table(n)->name);
    rc = run_sql(node, del, NULL, "wipe");
  }
  if (rc == CF_OK) {
    int src = sqlite3_exec(node->db, sql, NULL, NULL, NULL);
    if (src != SQLITE_OK) rc = cf__node_sqlerr(node, src, "wipe");
  }
  if (rc == CF_OK) rc = run_sql(node, "COMMIT", NULL, "wipe");
  if (rc != CF_OK && !sqlite3_get_autocommit(node->db))
    (void)run_sql(node, "ROLLBACK", NULL, NULL);
  /* Nothing wiped may survive in the WAL or in free pages: the log goes
  ** into the file and is cut to nothing, VACUUM rebuilds the file without
  ** free pages (through the WAL again), which is cut once more. */
  if (rc == CF_OK) rc = checkpoint_truncate(node);
  if (rc == CF_OK) rc = run_sql(node, "VACUUM", NULL, "wipe: vacuum");
  if (rc == CF_OK) rc = checkpoint_truncate(node);
  int off = run_sql(node, "PRAGMA secure_delete = OFF", NULL, "secure_delete");
  return rc != CF_OK ? rc : off;
}

int cf_node_wipe(cf_node *node, const char *export_path) {
  if (node == NULL) return CF_MISUSE;
  node->errmsg[0] = '\0';
  int rc = idle(node, "wipe");
  if (rc != CF_OK) return rc;
  char *dflt = NULL;
  const char *path = export_path != NULL ? export_path : node->export_path;
  if (path == NULL && (path = dflt = cf__mprintf("%s.export", node->path)) == NULL)
    return cf__node_fail(node, CF_NOMEM, "out of memory");
  rc = write_export(node, path);
  if (rc == CF_OK) rc = wipe_rows(node);
  if (rc == CF_OK)
    cf__log(CF_LOG_INFO, "msg=\"replica wiped\" path=\"%s\" export=\"%s\"", node->path,
            path);
  cf__free(dflt);
  return rc;
}

int cf__store_on_revoked(cf_node *node) {
  if (node == NULL || node->revoke_policy != CF_REVOKE_WIPE) return CF_OK;
  return cf_node_wipe(node, NULL);
}
