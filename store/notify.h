/*
** store/notify.h: change capture, the change journal, and delivery of
** change events, conflicts and watched queries to the app (internal to
** store/).  Public side: include/clientflow.h, "Change notifications";
** design: docs/embedding.md and the comment of sql/sqlite/notify.sql.
**
** Who calls what:
**   store/node.c      cf__notify_attach while opening, cf__notify_detach on close
**   store/node_ops.c  cf__notify_journal before a library COMMIT
**   store/stmt.c      cf__notify_prepared / cf__notify_journal around app statements
**   store/apply.c     cf__notify_origin(node, CF_CHANGE_REMOTE) in a pull's transaction
**   store/outbox.c    cf__notify_origin(node, CF__ORIGIN_QUIET) in push results
**   store/watch.c     the watched queries (cf__watch_*), run from cf_node_poll
*/
#ifndef CF_STORE_NOTIFY_H
#define CF_STORE_NOTIFY_H

#include <stdint.h>

#include "store/store_int.h"

/* The most rows one journal row lists; a bigger transaction records only
** its tables (every row of them may have changed). */
#define CF__JOURNAL_MAX_ROWS 4096
/* Journal rows kept: older ones are pruned by the writers. */
#define CF__JOURNAL_KEEP 2048
/* Origin of a library transaction whose data changes are bookkeeping the
** views do not show (push results: pending columns cleared). */
#define CF__ORIGIN_QUIET 0

/* What a statement does, learned by the authorizer while it compiles. */
typedef struct cf__stmt_kind {
  int writes;      /* INSERT, UPDATE or DELETE of something */
  int ends_tx;     /* COMMIT, END or RELEASE: may end the transaction */
  uint64_t reads;  /* bit t: reads table number t (a view or cf_<table>) */
  int reads_other; /* reads some other table (cf_conflicts, cf_outbox, ...) */
} cf__stmt_kind;

/* Installs the hooks and the journal table on a node being opened (inside
** the open transaction).  CF_OK or a code with errmsg set. */
int cf__notify_attach(struct cf_node *node) CF_WARN_UNUSED;
/* Creates the journal table if the file has none and remembers where the
** journal, the conflicts and data_version stand (inside the open
** transaction, after the layout is installed). */
int cf__notify_install(struct cf_node *node) CF_WARN_UNUSED;
/* The connection's commit and rollback hooks (store/sqlfn.c) call these. */
void cf__notify_on_commit(struct cf_node *node);
void cf__notify_on_rollback(struct cf_node *node);
/* Finalizes the statements notify.c prepared (prepared again when next
** used), so that a rekey (store/node_crypt.c) finds none open. */
void cf__notify_finalize(struct cf_node *node);
/* Frees what cf__notify_attach made, and every watch.  Before the
** connection closes. */
void cf__notify_detach(struct cf_node *node);

/* Compiles sql's first statement (sqlite3_prepare_v2) and says what it
** does.  OUT: *st (NULL for an empty statement), *tail, *kind. */
int cf__notify_prepare(struct cf_node *node, const char *sql, sqlite3_stmt **st,
                       const char **tail, cf__stmt_kind *kind);

/* Adds the open transaction's captured changes to the journal (nothing if
** none) and clears the capture.  Called just before a COMMIT, inside the
** transaction.  CF_OK or a store error. */
int cf__notify_journal(struct cf_node *node) CF_WARN_UNUSED;

/* Sets the origin of the open library transaction's changes
** (CF_CHANGE_REMOTE, CF__ORIGIN_QUIET); it returns to CF_CHANGE_LOCAL at
** the end of the transaction. */
void cf__notify_origin(struct cf_node *node, int origin);

/* A public statement starts / ended: the changed-row count restarts /
** becomes cf_node_changes(). */
void cf__notify_stmt_begin(struct cf_node *node);
void cf__notify_stmt_end(struct cf_node *node);

/* --- watched queries (store/watch.c) -------------------------------------- */

/* Re-runs every watch of node whose tables intersect mask (all of them
** when mask is ~0), that has not run yet, or (any_commit) that reads other
** tables than the data's, and calls back those whose result changed.
** CF_OK or the first failure (errmsg set). */
int cf__watch_run(struct cf_node *node, uint64_t mask, int any_commit) CF_WARN_UNUSED;
/* Non-zero when a watch has not delivered its first result yet. */
int cf__watch_pending(const struct cf_node *node);
/* Frees every watch of node (cf_node_close). */
void cf__watch_free_all(struct cf_node *node);

/* The table number of a data table or view name ("cf_contacts" or
** "contacts"), or -1. */
int cf__notify_table_no(const char *name);

#endif
