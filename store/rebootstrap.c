/*
** store/rebootstrap.c: re-bootstrap of a replica whose cursor fell behind
** the master's purge horizon (cf_sync.purge_tombstones raised the org's
** purged_seq past it).  Design: store/store_rebootstrap.h and
** docs/faults.md ("re-bootstrap").
**
** Why rows are dropped at all: a row the master deleted and then purged is
** never announced again, so a replica that keeps it would show it forever.
** Dropping every synced row and pulling from 0 rebuilds exactly the master's
** state.  Why some rows are kept: the outbox logs *which* columns of *which*
** row changed and reads their values from the data table when a batch is
** built (sql/sqlite/001_meta.sql), so a row with a pending outbox entry or a
** conflict must stay, or the write would be lost.  Its column versions are
** kept too: the full pull merges the master's row into it per column, and a
** local change that is newer than the master's stays and is pushed.
**
** The whole step is one SQLite transaction: a crash leaves either the old
** replica (cursor unchanged: the server says REBOOTSTRAP again) or the
** trimmed one with cursor 0 (the pull simply starts over).
*/
#include <stdio.h>

#include "core/schema.h"
#include "store/notify.h"
#include "store/store_int.h"
#include "store/store_rebootstrap.h"

/* Deletes the rows of data table number t that nothing pending refers to,
** and counts the ones left.  OUT: *left. */
static int trim_table(cf_node *node, unsigned t, int64_t *left) {
  const cf_table *tab = cf__schema_table(t);
  if (tab == NULL) return cf__node_fail(node, CF_CORRUPT, "no table number %u", t);
  char sql[512];
  int n = snprintf(sql, sizeof sql,
                   "DELETE FROM \"cf_%s\" WHERE rid NOT IN ("
                   "SELECT rid FROM cf_outbox WHERE tbl = ?1 "
                   "UNION SELECT rid FROM cf_conflicts WHERE tbl = ?1)",
                   tab->name);
  if (n < 0 || (size_t)n >= sizeof sql)
    return cf__node_fail(node, CF_TOOBIG, "table name too long: %s", tab->name);
  sqlite3_stmt *st = NULL;
  int rc = CF_OK;
  int src = sqlite3_prepare_v2(node->db, sql, -1, &st, NULL);
  if (src == SQLITE_OK) {
    sqlite3_bind_int64(st, 1, (sqlite3_int64)tab->number);
    src = sqlite3_step(st);
    if (src == SQLITE_DONE) src = SQLITE_OK;
  }
  if (src != SQLITE_OK) rc = cf__node_sqlerr(node, src, "re-bootstrap: trim a table");
  sqlite3_finalize(st);
  st = NULL;
  if (rc != CF_OK) return rc;

  n = snprintf(sql, sizeof sql, "SELECT count(*) FROM \"cf_%s\"", tab->name);
  if (n < 0 || (size_t)n >= sizeof sql)
    return cf__node_fail(node, CF_TOOBIG, "table name too long: %s", tab->name);
  src = sqlite3_prepare_v2(node->db, sql, -1, &st, NULL);
  if (src == SQLITE_OK) src = sqlite3_step(st);
  if (src == SQLITE_ROW) {
    *left += sqlite3_column_int64(st, 0);
  } else {
    rc = cf__node_sqlerr(node, src, "re-bootstrap: count kept rows");
  }
  sqlite3_finalize(st);
  return rc;
}

int cf__store_rebootstrap(cf_node *node, int64_t *kept) {
  if (kept) *kept = 0;
  if (node == NULL) return CF_MISUSE;
  node->errmsg[0] = '\0';
  int64_t left = 0;
  int rc = cf__node_begin(node);
  if (rc != CF_OK) return rc;
  cf__notify_origin(node, CF_CHANGE_REMOTE);
  for (unsigned t = 0; rc == CF_OK && t < CF_SCHEMA_NTABLES; t++)
    rc = trim_table(node, t, &left);
  /* Entries in flight were never answered: send them again. */
  if (rc == CF_OK) rc = cf__node_run(node, CF_SQL_outbox_unmark_all, 0, 0);
  if (rc == CF_OK) {
    sqlite3_stmt *st;
    if ((rc = cf__node_stmt(node, CF_SQL_cursor_put, &st)) == CF_OK) {
      sqlite3_bind_text(st, 1, node->org_id, -1, SQLITE_STATIC);
      sqlite3_bind_int64(st, 2, 0);
      int src = sqlite3_step(st);
      if (src != SQLITE_DONE)
        rc = cf__node_sqlerr(node, src, "re-bootstrap: reset the cursor");
      sqlite3_reset(st);
    }
  }
  if (rc == CF_OK) rc = cf__node_commit(node);
  if (rc != CF_OK) {
    cf__node_rollback(node);
    return rc;
  }
  if (kept) *kept = left;
  return CF_OK;
}
