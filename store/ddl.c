/*
** store/ddl.c: the replica's per-table SQL, generated from the schema
** descriptor (core/schema.h) by named builder functions, so that column
** lists are written once.  Design: docs/replica.md.
**
** For each table <t> of the descriptor (number T):
**
**   cf_<t>   the data table
**     column   type      meaning
**     rid      INTEGER   PRIMARY KEY: stable rowid (outbox, conflicts)
**     <col>    TEXT/INT  every column of the master, canonical values
**                        (core/value.h); no NOT NULL, so a partial remote
**                        row can be stored
**     deleted  INTEGER   soft-delete pseudo-column, 0 or 1
**     _v       BLOB      versions of all cells (store/vblob.h)
**     _seq     INTEGER   pending local change: HLC of its latest version
**                        (the outbox order); NULL when nothing is pending
**     _tx      INTEGER   local transaction of that change (HLC of the
**                        transaction's first write)
**     _mask    INTEGER   cells changed since the master last answered
**     _batch   INTEGER   push batch carrying the pending change; 0 = unsent
**     _sent    INTEGER   seq of an earlier change still awaiting the
**                        master's answer after the row changed again
**   plus UNIQUE INDEX cf_<t>_id (id), and partial indexes on _seq and
**   _sent (rows with nothing pending cost nothing).  Column order matters:
**   _v precedes _seq, so an UPDATE computes the version (cf_vstamp) before
**   the columns that read its HLC and mask.
**
**   <t>      the app-facing VIEW: the master's columns of the rows of this
**            replica's org (organizations: the org itself; users: all) that
**            are not deleted.
**
**   <t>_insert / <t>_update / <t>_delete   INSTEAD OF triggers on the view,
**            each ONE statement on the data table: refuse another org
**            (RAISE 'CF_WRONG_ORG: ...') and key changes, fill id (UUIDv7),
**            org_id, defaults and timestamps, canonicalise every value
**            (cf_canon), stamp fresh versions on the changed cells only
**            (cf_vstamp) and record the pending change in the same row, so
**            the write and its outbox entry are one row in one transaction.
**            The SQL functions are in store/sqlfn.c.
**
**   cf_outbox  a VIEW listing the pending changes of all tables (seq, tx,
**            tbl, rid, mask, batch; batch -1 for a change sent earlier and
**            still awaiting its answer).
**
** The views and triggers hold no data: a SHA-256 of their text is kept in
** cf_meta.ddl_hash, and when a new library generates different text they are
** dropped and recreated on open.
*/
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/crypto.h"
#include "core/value.h"
#include "platform/platform.h"
#include "store/store.h"
#include "store/sqltext.h"
#include "store/store_int.h"

#define DDL_LIMIT ((size_t)1 << 20) /* generated SQL never comes near this */

#define PUT(...) cf__buf_puts_all(b, __VA_ARGS__, (const char *)NULL)

static int put_int(cf_buf *b, long long v) {
  char tmp[32];
  snprintf(tmp, sizeof tmp, "%lld", v);
  return cf__buf_puts(b, tmp);
}

static int is_key(const cf_table *t, unsigned c) {
  return (t->key_mask & CF_COL_BIT(c)) != 0;
}

/* cf_canon(T, c, <inner>) where the caller writes inner between open/close. */
static int put_canon_open(cf_buf *b, const cf_table *t, unsigned c) {
  int rc = PUT("cf_canon(");
  if (rc == CF_OK) rc = put_int(b, t->number);
  if (rc == CF_OK) rc = PUT(", ");
  if (rc == CF_OK) rc = put_int(b, c);
  return rc == CF_OK ? PUT(", ") : rc;
}

/* The canonical form of NEW.c.  A text column's canonical form is the text
** itself, so a TEXT value within the size cap is taken as it is, without a
** function call (the master refuses invalid UTF-8, which then comes back as
** a conflict); a longer one, any other value, and every other type go
** through cf_canon, which refuses a value over CF_VALUE_MAX_BYTES
** (CF_TOOBIG) -- such a value could never be sent. */
static int put_canon_value(cf_buf *b, const cf_table *t, unsigned c) {
  const char *n = t->cols[c].name;
  int rc = CF_OK;
  int text = t->cols[c].type == CF_TYPE_TEXT;
  char cap[24];
  snprintf(cap, sizeof cap, "%zu", (size_t)CF_VALUE_MAX_BYTES);
  if (text)
    rc = PUT("CASE WHEN typeof(NEW.\"", n, "\") = 'text' AND length(CAST(NEW.\"", n,
             "\" AS BLOB)) <= ", cap, " THEN NEW.\"", n, "\" ELSE ");
  if (rc == CF_OK) rc = put_canon_open(b, t, c);
  if (rc == CF_OK) rc = PUT("NEW.\"", n, "\")");
  if (rc == CF_OK && text) rc = PUT(" END");
  return rc;
}

/* --- data table ------------------------------------------------------------ */

/* CREATE TABLE cf_<t>, its id index and the pending-change indexes. */
static int build_table(cf_buf *b, const cf_table *t) {
  int rc = PUT("CREATE TABLE \"cf_", t->name, "\" (\n  rid INTEGER PRIMARY KEY");
  for (unsigned c = 0; rc == CF_OK && c < t->ncols; c++)
    rc = PUT(",\n  \"", t->cols[c].name, "\" ", cf__coltype_sqlite_decl(t->cols[c].type));
  if (rc == CF_OK)
    rc = PUT(
        ",\n  deleted INTEGER NOT NULL DEFAULT 0,\n  _v BLOB NOT NULL,\n  _seq INTEGER,"
        "\n  _tx INTEGER,\n  _mask INTEGER,\n  _batch INTEGER NOT NULL DEFAULT 0,"
        "\n  _sent INTEGER\n);\n",
        "CREATE UNIQUE INDEX \"cf_", t->name, "_id\" ON \"cf_", t->name, "\" (id);\n",
        "CREATE INDEX \"cf_", t->name, "_seq\" ON \"cf_", t->name,
        "\" (_seq) WHERE _seq IS NOT NULL;\n", "CREATE INDEX \"cf_", t->name,
        "_sent\" ON \"cf_", t->name, "\" (_sent) WHERE _sent IS NOT NULL;\n");
  return rc;
}

/* --- view ------------------------------------------------------------------ */

static int build_view(cf_buf *b, const cf_table *t) {
  int rc = PUT("CREATE VIEW \"", t->name, "\" AS SELECT ");
  for (unsigned c = 0; rc == CF_OK && c < t->ncols; c++)
    rc = PUT(c ? ", " : "", "\"", t->cols[c].name, "\"");
  if (rc == CF_OK) rc = PUT(" FROM \"cf_", t->name, "\" WHERE deleted = 0");
  if (rc != CF_OK) return rc;
  const char *scope = t->org_col >= 0 ? t->cols[t->org_col].name
                      : t->tenant == 0 && strcmp(t->name, "organizations") == 0 ? "id"
                                                                                : NULL;
  if (scope != NULL)
    rc = PUT(" AND \"", scope, "\" = (SELECT v FROM cf_meta WHERE k = 'org_id')");
  return rc == CF_OK ? PUT(";\n") : rc;
}

/* --- triggers -------------------------------------------------------------- */

/* The SET list that records a change of mask (cf_last_mask(), after the
** cf_vstamp() of the same UPDATE) as the row's pending outbox entry: a new
** seq, the current transaction, the mask OR-ed in; if the previous entry was
** in flight, its seq moves to _sent to await its answer. */
static int build_pending_set(cf_buf *b) {
  return PUT(
      ", _seq = CASE WHEN cf_last_mask() <> 0 THEN cf_last_hlc() ELSE _seq END"
      ", _tx = CASE WHEN cf_last_mask() <> 0 THEN cf_tx() ELSE _tx END"
      ", _mask = CASE WHEN cf_last_mask() <> 0 THEN coalesce(_mask, 0) | cf_last_mask()"
      " ELSE _mask END"
      ", _batch = CASE WHEN cf_last_mask() <> 0 THEN 0 ELSE _batch END"
      ", _sent = CASE WHEN cf_last_mask() <> 0 AND _seq IS NOT NULL AND _batch <> 0"
      " THEN _seq ELSE _sent END");
}

/* The insert trigger: one INSERT whose values come from one read of the
** cf_row table-valued function (store/sqlfn.c), which refuses another org,
** makes the id, the defaults and the canonical values, stamps the versions
** and names the outbox entry, all before the row is written.  The trigger
** calls no SQL function: any function call would make SQLite open a
** statement journal for every row written (docs/replica.md, "Performance").
** cf_row answers NULL for a value to be stored as the app gave it. */
static int build_insert_trigger(cf_buf *b, const cf_table *t) {
  char mask[32];
  snprintf(mask, sizeof mask, "%llu", (unsigned long long)cf__schema_mask_all(t));
  int rc = PUT("CREATE TRIGGER \"", t->name, "_insert\" INSTEAD OF INSERT ON \"", t->name,
               "\" BEGIN\n");
  if (rc == CF_OK) rc = PUT("  INSERT OR FAIL INTO \"cf_", t->name, "\" (");
  for (unsigned c = 0; rc == CF_OK && c < t->ncols; c++)
    rc = PUT(c ? ", " : "", "\"", t->cols[c].name, "\"");
  if (rc == CF_OK) rc = PUT(", deleted, _v, _seq, _tx, _mask) SELECT ");
  for (unsigned c = 0; rc == CF_OK && c < t->ncols; c++) {
    rc = PUT(c ? ", coalesce(r.c" : "coalesce(r.c");
    if (rc == CF_OK) rc = put_int(b, c);
    if (rc == CF_OK) rc = PUT(", NEW.\"", t->cols[c].name, "\")");
  }
  if (rc == CF_OK) rc = PUT(", 0, r.v, r.seq, r.tx, ", mask, " FROM cf_row(");
  if (rc == CF_OK) rc = put_int(b, t->number);
  for (unsigned c = 0; rc == CF_OK && c < t->ncols; c++)
    rc = PUT(", NEW.\"", t->cols[c].name, "\"");
  if (rc == CF_OK) rc = PUT(") AS r;\n");
  return rc == CF_OK ? PUT("END;\n") : rc;
}

static int build_update_trigger(cf_buf *b, const cf_table *t) {
  int rc = PUT("CREATE TRIGGER \"", t->name, "_update\" INSTEAD OF UPDATE ON \"", t->name,
               "\" BEGIN\n");
  if (rc == CF_OK && t->org_col >= 0)
    rc = PUT("  SELECT RAISE(FAIL, 'CF_WRONG_ORG: a row cannot move to another "
             "organization') WHERE NEW.\"",
             t->cols[t->org_col].name, "\" IS NOT OLD.\"", t->cols[t->org_col].name,
             "\";\n");
  if (rc == CF_OK)
    rc = PUT(
        "  SELECT RAISE(FAIL, 'CF_INVALID: the id of a row cannot change') WHERE NEW.\"",
        t->cols[t->id_col].name, "\" IS NOT OLD.\"", t->cols[t->id_col].name, "\";\n");
  if (rc == CF_OK) rc = PUT("  UPDATE OR FAIL \"cf_", t->name, "\" SET ");
  int first = 1;
  for (unsigned c = 0; rc == CF_OK && c < t->ncols; c++) {
    if (is_key(t, c)) continue;
    const char *n = t->cols[c].name;
    rc = PUT(first ? "" : ", ", "\"", n, "\" = ");
    first = 0;
    if (rc == CF_OK && t->cols[c].touch) {
      rc = put_canon_open(b, t, c);
      if (rc == CF_OK)
        rc = PUT("CASE WHEN NEW.\"", n, "\" IS OLD.\"", n, "\" THEN cf_now() ELSE NEW.\"",
                 n, "\" END)");
    } else if (rc == CF_OK) {
      /* Unchanged columns keep their stored value as it is. */
      rc = PUT("CASE WHEN NEW.\"", n, "\" IS OLD.\"", n, "\" THEN \"", n, "\" ELSE ");
      if (rc == CF_OK) rc = put_canon_value(b, t, c);
      if (rc == CF_OK) rc = PUT(" END");
    }
  }
  if (rc == CF_OK) rc = PUT(", _v = cf_vstamp(");
  if (rc == CF_OK) rc = put_int(b, t->number);
  if (rc == CF_OK) rc = PUT(", _v, 0");
  for (unsigned c = 0; rc == CF_OK && c < t->ncols; c++) {
    if (is_key(t, c)) continue;
    if (t->cols[c].touch) {
      rc = PUT(" | ");
      if (rc == CF_OK) rc = put_int(b, (long long)CF_COL_BIT(c));
    } else {
      rc = PUT(" | ((NEW.\"", t->cols[c].name, "\" IS NOT OLD.\"", t->cols[c].name,
               "\") << ");
      if (rc == CF_OK) rc = put_int(b, c);
      if (rc == CF_OK) rc = PUT(")");
    }
  }
  if (rc == CF_OK) rc = PUT(")");
  if (rc == CF_OK) rc = build_pending_set(b);
  if (rc == CF_OK)
    rc = PUT(" WHERE \"", t->cols[t->id_col].name, "\" = OLD.\"", t->cols[t->id_col].name,
             "\";\n");
  return rc == CF_OK ? PUT("END;\n") : rc;
}

static int build_delete_trigger(cf_buf *b, const cf_table *t) {
  int rc = PUT("CREATE TRIGGER \"", t->name, "_delete\" INSTEAD OF DELETE ON \"", t->name,
               "\" BEGIN\n  UPDATE OR FAIL \"cf_", t->name,
               "\" SET deleted = 1, _v = cf_vstamp(");
  if (rc == CF_OK) rc = put_int(b, t->number);
  if (rc == CF_OK) rc = PUT(", _v, ");
  if (rc == CF_OK) rc = put_int(b, (long long)CF_COL_BIT(t->ncols));
  if (rc == CF_OK) rc = PUT(")");
  if (rc == CF_OK) rc = build_pending_set(b);
  if (rc == CF_OK)
    rc = PUT(" WHERE \"", t->cols[t->id_col].name, "\" = OLD.\"", t->cols[t->id_col].name,
             "\";\n");
  return rc == CF_OK ? PUT("END;\n") : rc;
}

/* The cf_outbox view: pending changes of every table, and changes sent
** earlier that still await their answer (batch -1). */
static int build_outbox_view(cf_buf *b) {
  int rc = PUT("CREATE VIEW cf_outbox (seq, tx, tbl, rid, mask, batch) AS\n");
  for (unsigned n = 0; rc == CF_OK && n < CF_SCHEMA_NTABLES; n++) {
    const cf_table *t = cf__schema_table(n);
    char num[16];
    snprintf(num, sizeof num, "%u", t->number);
    rc = PUT(n ? "  UNION ALL " : "  ", "SELECT _seq, _tx, ", num,
             ", rid, _mask, _batch FROM \"cf_", t->name,
             "\" WHERE _seq IS NOT NULL\n  UNION ALL SELECT _sent, _tx, ", num,
             ", rid, _mask, -1 FROM \"cf_", t->name, "\" WHERE _sent IS NOT NULL\n");
  }
  return rc == CF_OK ? PUT(";\n") : rc;
}

/* Setting cf_outbox.batch (UPDATE cf_outbox SET batch = 0 ...) reaches the
** data tables: 0 puts a sent entry back to "not sent", and on a batch -1
** entry forgets the earlier send (its cells are in the row's pending
** entry anyway). */
static int build_outbox_update_trigger(cf_buf *b) {
  int rc = PUT(
      "CREATE TRIGGER cf_outbox_update INSTEAD OF UPDATE OF batch ON cf_outbox BEGIN\n");
  for (unsigned n = 0; rc == CF_OK && n < CF_SCHEMA_NTABLES; n++) {
    const cf_table *t = cf__schema_table(n);
    char num[16];
    snprintf(num, sizeof num, "%u", t->number);
    rc = PUT(
        "  UPDATE \"cf_", t->name,
        "\" SET _batch = CASE WHEN OLD.batch >= 0 THEN NEW.batch"
        " ELSE _batch END, _sent = CASE WHEN OLD.batch = -1 AND NEW.batch = 0 THEN NULL"
        " ELSE _sent END WHERE OLD.tbl = ",
        num, " AND rid = OLD.rid;\n");
  }
  return rc == CF_OK ? PUT("END;\n") : rc;
}

/* --- statements used by apply and push ------------------------------------- */

/* SELECT rid, <cols>, deleted, _v FROM cf_<t> WHERE <key> = ?1 */
static int build_select(cf_buf *b, const cf_table *t, const char *key) {
  int rc = PUT("SELECT rid");
  for (unsigned c = 0; rc == CF_OK && c < t->ncols; c++)
    rc = PUT(", \"", t->cols[c].name, "\"");
  if (rc == CF_OK)
    rc = PUT(", deleted, _v FROM \"cf_", t->name, "\" WHERE ", key, " = ?1");
  return rc;
}

/* INSERT OR IGNORE INTO cf_<t> (<cols>, deleted, _v) VALUES (?1, ..., ?ncols+2)
** OR IGNORE: an id the replica already holds inserts nothing (the unique
** index on id is the only constraint of the table), which apply.c's
** insert-first path reads from sqlite3_changes(). */
static int build_insert(cf_buf *b, const cf_table *t) {
  int rc = PUT("INSERT OR IGNORE INTO \"cf_", t->name, "\" (");
  for (unsigned c = 0; rc == CF_OK && c < t->ncols; c++)
    rc = PUT(c ? ", " : "", "\"", t->cols[c].name, "\"");
  if (rc == CF_OK) rc = PUT(", deleted, _v) VALUES (");
  for (unsigned c = 0; rc == CF_OK && c < t->ncols + 2; c++) {
    rc = PUT(c ? ", ?" : "?");
    if (rc == CF_OK) rc = put_int(b, c + 1);
  }
  return rc == CF_OK ? PUT(")") : rc;
}

/* UPDATE cf_<t> SET <col> = ?i+1, ..., deleted = ?ncols+1, _v = ?ncols+2
** WHERE rid = ?ncols+3 */
static int build_update(cf_buf *b, const cf_table *t) {
  int rc = PUT("UPDATE \"cf_", t->name, "\" SET ");
  for (unsigned c = 0; rc == CF_OK && c < t->ncols; c++) {
    rc = PUT(c ? ", \"" : "\"", t->cols[c].name, "\" = ?");
    if (rc == CF_OK) rc = put_int(b, c + 1);
  }
  if (rc == CF_OK) rc = PUT(", deleted = ?");
  if (rc == CF_OK) rc = put_int(b, t->ncols + 1);
  if (rc == CF_OK) rc = PUT(", _v = ?");
  if (rc == CF_OK) rc = put_int(b, t->ncols + 2);
  if (rc == CF_OK) rc = PUT(" WHERE rid = ?");
  if (rc == CF_OK) rc = put_int(b, t->ncols + 3);
  return rc;
}

/* --- install --------------------------------------------------------------- */

/* The views and triggers of every table (what ddl_hash covers). */
static int build_views(cf_buf *b) {
  int rc = CF_OK;
  for (unsigned n = 0; rc == CF_OK && n < CF_SCHEMA_NTABLES; n++) {
    const cf_table *t = cf__schema_table(n);
    if ((rc = build_view(b, t)) != CF_OK) break;
    if ((rc = build_insert_trigger(b, t)) != CF_OK) break;
    if ((rc = build_update_trigger(b, t)) != CF_OK) break;
    rc = build_delete_trigger(b, t);
  }
  if (rc == CF_OK) rc = build_outbox_view(b);
  return rc == CF_OK ? build_outbox_update_trigger(b) : rc;
}

static int build_drop_views(cf_buf *b) {
  int rc = CF_OK;
  for (unsigned n = 0; rc == CF_OK && n < CF_SCHEMA_NTABLES; n++)
    rc = PUT("DROP VIEW IF EXISTS \"", cf__schema_table(n)->name, "\";\n");
  return rc == CF_OK ? PUT("DROP VIEW IF EXISTS cf_outbox;\n") : rc;
}

static int exec_buf(struct cf_node *node, cf_buf *b, const char *what) {
  int src = sqlite3_exec(node->db, b->p, NULL, NULL, NULL);
  return src == SQLITE_OK ? CF_OK : cf__node_sqlerr(node, src, what);
}

int cf__ddl_install(struct cf_node *node, int fresh) {
  cf_buf b, views;
  cf__buf_init(&b, DDL_LIMIT);
  cf__buf_init(&views, DDL_LIMIT);
  char hash_hex[2 * CF_SHA256_LEN + 1], stored[2 * CF_SHA256_LEN + 1];
  unsigned char hash[CF_SHA256_LEN];
  int rc = build_views(&views);
  if (rc != CF_OK) goto out;
  cf__sha256(views.p, views.len, hash);
  cf__hex(hash, sizeof hash, hash_hex);
  if (fresh) {
    for (unsigned n = 0; rc == CF_OK && n < CF_SCHEMA_NTABLES; n++)
      rc = build_table(&b, cf__schema_table(n));
    if (rc != CF_OK) goto out;
    if ((rc = exec_buf(node, &b, "create data tables")) != CF_OK) goto out;
  } else {
    rc = cf__meta_get_text(node, "ddl_hash", stored, sizeof stored);
    if (rc == CF_OK && strcmp(stored, hash_hex) == 0) goto out; /* up to date */
    if (rc != CF_OK && rc != CF_NOTFOUND) goto out;
    if ((rc = build_drop_views(&b)) != CF_OK) goto out;
    if ((rc = exec_buf(node, &b, "drop views")) != CF_OK) goto out;
    cf__log(CF_LOG_INFO, "msg=\"replica views regenerated\" org=%s", node->org_id);
  }
  if ((rc = exec_buf(node, &views, "create views")) != CF_OK) goto out;
  rc = cf__meta_put_text(node, "ddl_hash", hash_hex);
out:
  if (rc != CF_OK && rc != CF_NOMEM && node->errmsg[0] == '\0')
    cf__node_fail(node, rc, "cannot build the replica's SQL");
  if (rc == CF_NOMEM && node->errmsg[0] == '\0') cf__node_fail(node, rc, "out of memory");
  cf__buf_free(&b);
  cf__buf_free(&views);
  return rc;
}

static int prepare_built(struct cf_node *node, cf_buf *b, sqlite3_stmt **out) {
  if (b->p == NULL) return cf__node_fail(node, CF_NOMEM, "out of memory");
  int src = sqlite3_prepare_v3(node->db, b->p, (int)b->len, SQLITE_PREPARE_PERSISTENT,
                               out, NULL);
  cf__buf_reset(b);
  return src == SQLITE_OK ? CF_OK : cf__node_sqlerr(node, src, "prepare table statement");
}

static const char *const template_names[] = {
#define CF_X_TNAME(name) "t_" #name,
    CF_TABLE_STMTS(CF_X_TNAME)
#undef CF_X_TNAME
};

/* The template's text with every "{t}" replaced by the table's name. */
static int build_from_template(cf_buf *b, const cf_table *t, const char *name) {
  const char *text;
  size_t len;
  if (cf__sql_text(name, &text, &len) != 0) return CF_MISUSE;
  int rc = CF_OK;
  for (size_t i = 0; rc == CF_OK && i < len; i++) {
    if (text[i] == '{' && i + 2 < len && text[i + 1] == 't' && text[i + 2] == '}') {
      rc = cf__buf_puts(b, t->name);
      i += 2;
    } else {
      rc = cf__buf_putc(b, text[i]);
    }
  }
  return rc;
}

static int build_stmt(cf_buf *b, const cf_table *t, cf_tstmt_id id) {
  char key[64];
  switch (id) {
    case CF_TS_by_id:
      snprintf(key, sizeof key, "\"%s\"", t->cols[t->id_col].name);
      return build_select(b, t, key);
    case CF_TS_by_rid:
      return build_select(b, t, "rid");
    case CF_TS_insert:
      return build_insert(b, t);
    case CF_TS_update:
      return build_update(b, t);
    default:
      return build_from_template(b, t, template_names[id - CF_TS_FIRST_TEMPLATE]);
  }
}

int cf__table_stmt(struct cf_node *node, unsigned n, cf_tstmt_id id, sqlite3_stmt **out) {
  *out = NULL;
  const cf_table *t = cf__schema_table(n);
  if (t == NULL) return cf__node_fail(node, CF_INVALID, "no table number %u", n);
  sqlite3_stmt **slot = &node->tbl[n].st[id];
  if (*slot == NULL) {
    cf_buf b;
    cf__buf_init(&b, DDL_LIMIT);
    int rc = build_stmt(&b, t, id);
    if (rc == CF_OK)
      rc = prepare_built(node, &b, slot);
    else if (rc == CF_NOMEM)
      cf__node_fail(node, rc, "out of memory");
    else
      cf__node_fail(node, rc, "cannot build a statement for %s", t->name);
    cf__buf_free(&b);
    if (rc != CF_OK) return rc;
  } else {
    sqlite3_reset(*slot);
    sqlite3_clear_bindings(*slot);
  }
  *out = *slot;
  return CF_OK;
}

/* See store/store.h. */
int cf__ddl_build_plain_table(const cf_table *t, const char *name, cf_buf *b) {
  int rc = PUT("CREATE TABLE \"", name, "\" (");
  for (unsigned c = 0; rc == CF_OK && c < t->ncols; c++)
    rc = PUT(c ? ", \"" : "\"", t->cols[c].name, "\" ",
             cf__coltype_sqlite_decl(t->cols[c].type));
  if (rc == CF_OK) rc = PUT(", PRIMARY KEY (");
  for (unsigned k = 0; rc == CF_OK && k < t->nkey; k++)
    rc = PUT(k ? ", \"" : "\"", t->cols[t->key[k]].name, "\"");
  return rc == CF_OK ? PUT("))") : rc;
}
