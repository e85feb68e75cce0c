/*
** store/node.c: opening, installing and closing a replica.  Design:
** docs/replica.md.  What the rest of store/ does on an open node (errors,
** fixed statements, transactions, the clock, cf_meta) is store/node_ops.c,
** so that store/ddl.c and store/sqlfn.c, which node.c calls while opening,
** need nothing from this file.
**
** A replica is one SQLite file per org, in WAL mode with synchronous=FULL
** (sql/sqlite/000_connection.sql says why).  Its metadata tables
** (sql/sqlite/001_meta.sql):
**
**   cf_meta (k TEXT PRIMARY KEY, v ANY)           node identity, one row a key
**     k               v
**     schema_version  INTEGER  CF_REPLICA_SCHEMA_VERSION of the layout
**     node_id         BLOB(16) random node id (core/version.h)
**     org_id          TEXT     the org replicated (canonical UUID)
**     user_id         TEXT     the user it acts for (canonical UUID)
**     ddl_hash        TEXT     SHA-256 hex of the generated views+triggers
**     created_ms      INTEGER  creation time, ms since the epoch
**
**   cf_clock (id = 1, ceiling INTEGER)            persisted HLC ceiling
**     every HLC used in a committed transaction is <= max(ceiling, max(_seq)
**     of the data tables); on open the clock restarts from that
**     (core/hlc.h cf__hlc_restore)
**
**   the outbox: the pending-change columns of each data table (_seq, _tx,
**     _mask, _batch, _sent; store/ddl.c) and the view cf_outbox
**     (seq, tx, tbl, rid, mask, batch) over them, in seq order:
**     seq    INTEGER  HLC of the change's latest version: order, unique
**     tx     INTEGER  HLC of the first write of its local transaction
**     tbl    INTEGER  table number (core/schema.h)
**     rid    INTEGER  rowid of the row in cf_<table>
**     mask   INTEGER  changed cells, bit i = column i, bit ncols = deleted
**     batch  INTEGER  push batch that carries it; 0 = not sent; -1 = sent
**                     earlier and awaiting its answer (row changed since)
**
**   cf_conflicts (id, seq, tx, tbl, rid, mask, code, message, at_ms)
**     rejected changes with the master's reason (CF_* code and text)
**
**   cf_cursor (org_id TEXT PK, cursor INTEGER)    pull cursor of the org
**
** The data tables cf_<table>, their views and triggers are generated from
** the schema descriptor by store/ddl.c (layout in that file's comment).
*/
#include <stdio.h>
#include <string.h>

#include "core/value.h"
#include "platform/platform.h"
#include "store/notify.h"
#include "store/sqltext.h"
#include "store/store_int.h"
#include "store/vfs_crypt.h"

/* --- open ------------------------------------------------------------------ */

/* Applies the connection settings and checks that WAL took effect. */
static int configure(struct cf_node *node) {
  const char *sql = cf__sql_file("sqlite/000_connection.sql");
  if (sql == NULL)
    return cf__node_fail(node, CF_MISUSE, "connection settings not embedded");
  int src = sqlite3_exec(node->db, sql, NULL, NULL, NULL);
  if (src != SQLITE_OK) return cf__node_sqlerr(node, src, "configure replica");
  sqlite3_stmt *st;
  int rc = cf__node_stmt(node, CF_SQL_journal_mode, &st);
  if (rc != CF_OK) return rc;
  src = sqlite3_step(st);
  if (src != SQLITE_ROW) {
    rc = cf__node_sqlerr(node, src, "journal_mode");
  } else {
    const char *mode = (const char *)sqlite3_column_text(st, 0);
    if (mode == NULL || strcmp(mode, "wal") != 0)
      rc = cf__node_fail(node, CF_IO, "the replica cannot use WAL mode (journal_mode=%s)",
                         mode ? mode : "?");
  }
  sqlite3_reset(st);
  return rc;
}

/* Creates the metadata of a new replica file. */
static int install_fresh(struct cf_node *node) {
  const char *sql = cf__sql_file("sqlite/001_meta.sql");
  if (sql == NULL)
    return cf__node_fail(node, CF_MISUSE, "replica metadata DDL not embedded");
  int src = sqlite3_exec(node->db, sql, NULL, NULL, NULL);
  if (src != SQLITE_OK) return cf__node_sqlerr(node, src, "install replica");
  int rc = cf__node_id_generate(&node->node_id);
  if (rc != CF_OK) return cf__node_fail(node, rc, "cannot generate a node id");
  cf__node_id_format(&node->node_id, node->node_text);
  if ((rc = cf__meta_put_int(node, "schema_version", CF_REPLICA_SCHEMA_VERSION)) !=
          CF_OK ||
      (rc = cf__meta_put_blob(node, "node_id", node->node_id.b, CF_NODE_ID_LEN)) !=
          CF_OK ||
      (rc = cf__meta_put_text(node, "org_id", node->org_id)) != CF_OK ||
      (rc = cf__meta_put_text(node, "user_id", node->user_id)) != CF_OK ||
      (rc = cf__meta_put_int(node, "created_ms", cf__now_ms())) != CF_OK)
    return rc;
  return CF_OK;
}

/* Reads and checks the metadata of an existing replica file. */
static int load_existing(struct cf_node *node) {
  int64_t version = 0;
  int rc = cf__meta_get(node, "schema_version", NULL, 0, NULL, &version);
  if (rc != CF_OK) return rc == CF_NOTFOUND ? CF_CORRUPT : rc;
  if (version > CF_REPLICA_SCHEMA_VERSION)
    return cf__node_fail(node, CF_STORE,
                         "the replica has schema version %lld; this library knows up "
                         "to %d: upgrade the library",
                         (long long)version, CF_REPLICA_SCHEMA_VERSION);
  /* Layout upgrades from older versions go here, one step per version. */
  char buf[64];
  size_t n = 0;
  if ((rc = cf__meta_get(node, "node_id", buf, sizeof buf, &n, NULL)) != CF_OK)
    return rc == CF_NOTFOUND ? CF_CORRUPT : rc;
  if (n != CF_NODE_ID_LEN)
    return cf__node_fail(node, CF_CORRUPT, "the replica's node id is damaged");
  memcpy(node->node_id.b, buf, CF_NODE_ID_LEN);
  cf__node_id_format(&node->node_id, node->node_text);
  if ((rc = cf__meta_get(node, "org_id", buf, sizeof buf, &n, NULL)) != CF_OK)
    return rc == CF_NOTFOUND ? CF_CORRUPT : rc;
  if (strcmp(buf, node->org_id) != 0)
    return cf__node_fail(node, CF_WRONG_ORG, "the replica file belongs to org %s, not %s",
                         buf, node->org_id);
  if ((rc = cf__meta_get(node, "user_id", buf, sizeof buf, &n, NULL)) != CF_OK)
    return rc == CF_NOTFOUND ? CF_CORRUPT : rc;
  if (strcmp(buf, node->user_id) != 0)
    return cf__node_fail(node, CF_PERMISSION,
                         "the replica file belongs to user %s, not %s", buf,
                         node->user_id);
  return CF_OK;
}

/* Reads the single integer a prepared statement returns into the clock. */
static int restore_from(struct cf_node *node, sqlite3_stmt *st) {
  int rc = CF_OK;
  int src = sqlite3_step(st);
  if (src == SQLITE_ROW)
    cf__hlc_restore(&node->clock, (cf_hlc)sqlite3_column_int64(st, 0));
  else if (src != SQLITE_DONE)
    rc = cf__node_sqlerr(node, src, "restore clock");
  sqlite3_reset(st);
  return rc;
}

/* Restores the clock from the persisted ceiling and from the newest pending
** change of each table, whose seq is the HLC of its latest local write. */
static int restore_clock(struct cf_node *node) {
  sqlite3_stmt *st;
  int rc = cf__node_stmt(node, CF_SQL_clock_get, &st);
  if (rc == CF_OK) rc = restore_from(node, st);
  for (unsigned n = 0; rc == CF_OK && n < CF_SCHEMA_NTABLES; n++)
    if ((rc = cf__table_stmt(node, n, CF_TS_max_seq, &st)) == CF_OK)
      rc = restore_from(node, st);
  return rc;
}

static int canon_uuid_arg(const char *s, char out[CF_UUID_TEXT_LEN]) {
  if (s == NULL) return CF_INVALID;
  return cf__canon_uuid(s, strnlen(s, CF_UUID_TEXT_LEN), out);
}

int cf__node_open_db(struct cf_node *node, const char *path) {
  /* The replica, its WAL and its shared-memory index are created 0600:
  ** SQLite gives the WAL the database file's mode. */
  if (cf__file_make_private(path) != CF_OK)
    return cf__node_fail(node, CF_IO, "cannot create %s with mode 0600", path);
  int src = sqlite3_open_v2(path, &node->db,
                            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE,
                            cf__crypt_vfs_name(node->crypt));
  if (src != SQLITE_OK) {
    if (node->db == NULL)
      return cf__node_fail(node, CF_NOMEM, "cannot open %s: out of memory", path);
    return cf__node_sqlerr(node, src, path);
  }
  if (cf__crypt_encrypted(node->crypt)) {
    /* Room for the nonce, tag and key check at the end of every page of a
    ** new file (store/vfs_crypt.c); an existing file has it already. */
    int reserve = CF_CRYPT_RESERVE;
    (void)sqlite3_file_control(node->db, "main", SQLITE_FCNTL_RESERVE_BYTES, &reserve);
  }
  return CF_OK;
}

int cf__node_open_rest(struct cf_node *node) {
  int rc, src;
  /* Lookaside slots big enough for a trigger program's frame: every write
  ** through a view runs one, and a malloc/free pair per row is measurable
  ** (docs/replica.md, "Performance"). */
  src = sqlite3_db_config(node->db, SQLITE_DBCONFIG_LOOKASIDE, NULL, CF_LOOKASIDE_SLOT,
                          CF_LOOKASIDE_COUNT);
  if (src != SQLITE_OK) return cf__node_sqlerr(node, src, "lookaside");
  if ((rc = configure(node)) != CF_OK) return rc;
  if ((rc = cf__sqlfn_register(node)) != CF_OK) return rc;
  if ((rc = cf__notify_attach(node)) != CF_OK) return rc;
  /* Prepared up front so that ending a transaction never has to allocate a
  ** statement (a rollback after an out-of-memory error must work). */
  sqlite3_stmt *tx;
  if ((rc = cf__node_stmt(node, CF_SQL_begin_immediate, &tx)) != CF_OK ||
      (rc = cf__node_stmt(node, CF_SQL_commit, &tx)) != CF_OK ||
      (rc = cf__node_stmt(node, CF_SQL_rollback, &tx)) != CF_OK)
    return rc;
  if ((rc = cf__node_begin(node)) != CF_OK) return rc;
  sqlite3_stmt *st;
  if ((rc = cf__node_stmt(node, CF_SQL_has_meta, &st)) != CF_OK) goto out;
  src = sqlite3_step(st);
  if (src != SQLITE_ROW) {
    rc = cf__node_sqlerr(node, src, "has_meta");
    sqlite3_reset(st);
    goto out;
  }
  int fresh = sqlite3_column_int(st, 0) == 0;
  sqlite3_reset(st);
  if ((rc = fresh ? install_fresh(node) : load_existing(node)) != CF_OK) goto out;
  if ((rc = cf__ddl_install(node, fresh)) != CF_OK) goto out;
  if ((rc = restore_clock(node)) != CF_OK) goto out;
  if ((rc = cf__notify_install(node)) != CF_OK) goto out;
  rc = cf__node_commit(node);
out:
  if (rc != CF_OK) cf__node_rollback(node);
  if (rc == CF_OK) rc = cf__node_drop_plain_token(node);
  if (rc == CF_OK) (void)cf__crypt_take_error(node->crypt, NULL, 0);
  return rc;
}

static int open_node(struct cf_node *node, const char *path) {
  int rc = cf__node_open_db(node, path);
  return rc == CF_OK ? cf__node_open_rest(node) : rc;
}

static char open_errmsg[512]; /* detail of the last failed open (not thread-safe) */

int cf_node_open(const char *path, const char *org_id, const char *user_id,
                 cf_node **out) {
  return cf_node_open_with(path, org_id, user_id, NULL, out);
}

int cf_node_open_with(const char *path, const char *org_id, const char *user_id,
                      const cf_node_options *opts, cf_node **out) {
  if (out == NULL) return CF_MISUSE;
  *out = NULL;
  open_errmsg[0] = '\0';
  if (path == NULL || *path == '\0') {
    snprintf(open_errmsg, sizeof open_errmsg, "no replica path given");
    return CF_INVALID;
  }
  char org[CF_UUID_TEXT_LEN], user[CF_UUID_TEXT_LEN];
  if (canon_uuid_arg(org_id, org) != CF_OK || canon_uuid_arg(user_id, user) != CF_OK) {
    snprintf(open_errmsg, sizeof open_errmsg, "org_id and user_id must be UUIDs");
    return CF_INVALID;
  }
  cf__sqlmem_install();
  struct cf_node *node = cf__calloc(1, sizeof *node);
  if (node == NULL) {
    snprintf(open_errmsg, sizeof open_errmsg, "out of memory");
    return CF_NOMEM;
  }
  memcpy(node->org_id, org, sizeof org);
  memcpy(node->user_id, user, sizeof user);
  cf__hlc_init(&node->clock);
  cf__buf_init(&node->scratch, CF_VALUE_MAX_BYTES + 64);
  int rc = cf__node_apply_options(node, path, opts);
  if (rc == CF_OK) rc = open_node(node, path);
  if (rc != CF_OK) {
    snprintf(open_errmsg, sizeof open_errmsg, "%s", node->errmsg);
    cf__log(CF_LOG_WARN, "msg=\"replica open failed\" path=\"%s\" rc=%d detail=\"%s\"",
            path, rc, node->errmsg);
    cf_node_close(node);
    return rc;
  }
  *out = node;
  return CF_OK;
}

void cf__node_finalize_own(cf_node *node) {
  for (int i = 0; i < CF_SQL_COUNT; i++) {
    sqlite3_finalize(node->stmts[i]);
    node->stmts[i] = NULL;
  }
  for (int t = 0; t < CF_SCHEMA_NTABLES; t++)
    for (int i = 0; i < CF_TS_COUNT; i++) {
      sqlite3_finalize(node->tbl[t].st[i]);
      node->tbl[t].st[i] = NULL;
    }
}

void cf_node_close(cf_node *node) {
  if (node == NULL) return;
  /* Roll back first: the rollback runs a cached statement, which must not be
  ** finalized yet (found under qemu for s390x, docs/portability.md). */
  if (node->db != NULL) cf__node_rollback(node);
  cf__node_finalize_own(node);
  if (node->db != NULL) {
    cf__notify_detach(node);
    sqlite3_close_v2(node->db);
  }
  cf__crypt_free(node->crypt);
  cf__free(node->path);
  cf__free(node->export_path);
  cf__buf_free(&node->scratch);
  cf__free(node);
}

const char *cf_node_errmsg(const cf_node *node) {
  if (node == NULL) return open_errmsg;
  return node->errmsg;
}

const char *cf_node_id(const cf_node *node) { return node->node_text; }
const char *cf_node_org_id(const cf_node *node) { return node->org_id; }
const char *cf_node_user_id(const cf_node *node) { return node->user_id; }
int cf_node_schema_version(void) { return CF_REPLICA_SCHEMA_VERSION; }
