/*
** store/store_int.h: the replica handle and helpers shared by the files of
** store/ (private to store/; the sync layer uses store/store.h).
**
** This is the only header of store/ that includes sqlite3.h.
*/
#ifndef CF_STORE_INT_H
#define CF_STORE_INT_H

#include <sqlite3.h>
#include <stdarg.h>

#include "clientflow.h"
#include "core/buf.h"
#include "core/hlc.h"
#include "core/row.h"
#include "core/schema.h"
#include "core/uuid.h"
#include "core/value.h"
#include "core/version.h"

/* Replica layout version kept in cf_meta.schema_version (docs/replica.md). */
#define CF_REPLICA_SCHEMA_VERSION 1
/* The clock's ceiling is raised this far beyond the clock (in HLC units:
** 2 seconds of milliseconds), so that it is written about once per 2 s of
** writing instead of on every write. */
#define CF_CLOCK_RESERVE CF_HLC_MAKE(2000, 0)

/* Lookaside memory of a replica connection: slot size and count (1 MiB). */
#define CF_LOOKASIDE_SLOT 4096
#define CF_LOOKASIDE_COUNT 256

/* The fixed statements of sql/sqlite/statements.sql, prepared once. */
/* clang-format off */
#define CF_STORE_STMTS(X) \
  X(meta_get) \
  X(meta_put) \
  X(clock_get) \
  X(clock_raise) \
  X(outbox_count) \
  X(outbox_list) \
  X(conflict_insert) \
  X(conflict_count) \
  X(conflict_list) \
  X(conflict_get) \
  X(conflict_delete) \
  X(cursor_get) \
  X(cursor_put) \
  X(begin_immediate) \
  X(commit) \
  X(rollback) \
  X(journal_mode) \
  X(has_meta) \
  X(outbox_unmark_all)
/* clang-format on */

typedef enum cf_stmt_id {
#define CF_X_ID(name) CF_SQL_##name,
  CF_STORE_STMTS(CF_X_ID)
#undef CF_X_ID
      CF_SQL_COUNT
} cf_stmt_id;

/* Statements per table, prepared on first use: four generated from the
** descriptor (store/ddl.c), the rest from the "t_<name>" templates of
** sql/sqlite/statements.sql with the table's name filled in. */
/* clang-format off */
#define CF_TABLE_STMTS(X) \
  X(pending_next) \
  X(mark) \
  X(unmark) \
  X(unmark_row) \
  X(find_seq) \
  X(find_sent) \
  X(clear_seq) \
  X(clear_sent) \
  X(requeue) \
  X(set_v) \
  X(drop) \
  X(max_seq)
/* clang-format on */

typedef enum cf_tstmt_id {
  CF_TS_by_id,  /* SELECT rid, <all columns>, deleted, _v WHERE id = ?1 */
  CF_TS_by_rid, /* the same, WHERE rid = ?1 */
  CF_TS_insert, /* INSERT of every column, deleted and _v (a remote row) */
  CF_TS_update, /* UPDATE of every column, deleted and _v by rid */
#define CF_X_TS(name) CF_TS_##name,
  CF_TABLE_STMTS(CF_X_TS)
#undef CF_X_TS
      CF_TS_COUNT
} cf_tstmt_id;

/* The first templated statement. */
#define CF_TS_FIRST_TEMPLATE CF_TS_pending_next

typedef struct cf_table_stmts {
  sqlite3_stmt *st[CF_TS_COUNT]; /* by cf_tstmt_id; NULL until first use */
} cf_table_stmts;

/* One open replica (the public handle cf_node). */
struct cf_node {
  sqlite3 *db;                           /* the connection; owned */
  char org_id[CF_UUID_TEXT_LEN];         /* the replica's org, canonical text */
  char user_id[CF_UUID_TEXT_LEN];        /* the user it acts for, canonical text */
  char node_text[CF_UUID_TEXT_LEN];      /* node id as UUID text */
  cf_nodeid node_id;                     /* this replica's node id */
  cf_hlc_clock clock;                    /* the node's HLC */
  cf_hlc ceiling;                        /* clock ceiling committed or pending in the
                                            current transaction (0: unknown, write it) */
  cf_hlc tx_hlc;                         /* id of the open local transaction's first
                                            write; 0 when none yet (reset on commit
                                            and rollback by hooks) */
  int64_t now_ms;                        /* wall-clock ms of now_text */
  char now_text[CF_TIMESTAMP_TEXT_LEN];  /* cf_now()'s last answer, or "" */
  int now_row;                           /* 1: now_text is the time of the row being
                                            written (cf_vstamp, commit and rollback
                                            end the row) */
  cf_hlc last_hlc;                       /* HLC of the last version cf_vstamp() made */
  uint64_t last_mask;                    /* cells stamped by the last cf_vstamp() call
                                            (read by the trigger's outbox step) */
  sqlite3_stmt *stmts[CF_SQL_COUNT];     /* fixed statements, lazily prepared */
  cf_table_stmts tbl[CF_SCHEMA_NTABLES]; /* per-table statements, lazily */
  int own_tx;                            /* 1 while a transaction the library began
                                            (cf__node_begin) is open */
  cf_buf scratch;                        /* canonical text made by cf_canon() */
  struct cf_notify *nt;                  /* change capture and delivery
                                            (store/notify.c); owned */
  struct cf_watch *watches;              /* watched queries (store/watch.c) */
  cf_uuid_pool uuid_pool;                /* random bytes for cf_uuid_new() */
  uint32_t apply_lookup;                 /* bit t: the last remote row of table t
                                            that apply.c wrote existed already, so
                                            the next one is looked up first; clear:
                                            inserted first (store/apply.c) */
  char errmsg[512];                      /* detail of the last failure */
  struct cf__crypt *crypt;               /* the connection's VFS instance (plain
                                            or encrypted files); owned */
  char *path;                            /* the replica's path as opened; owned */
  int revoke_policy;                     /* cf_revoke_policy chosen at open */
  char *export_path;                     /* where a wipe exports, or NULL:
                                            "<path>.export"; owned */
};

/* Opening in steps (store/node.c), for a rekey that reopens the file
** (store/node_crypt.c): the connection through node->crypt, then the
** settings, metadata, views and clock. */
int cf__node_open_db(struct cf_node *node, const char *path) CF_WARN_UNUSED;
int cf__node_open_rest(struct cf_node *node) CF_WARN_UNUSED;

/* store/node_crypt.c: takes opts (NULL: defaults) into node: its VFS
** instance and key, path, revocation policy.  CF_OK, CF_NOMEM, CF_STORE. */
int cf__node_apply_options(struct cf_node *node, const char *path,
                           const cf_node_options *opts) CF_WARN_UNUSED;

/* store/node_crypt.c: a plain replica keeps no token: removes one an older
** library stored (secure_delete, WAL truncated).  CF_OK or a store error. */
int cf__node_drop_plain_token(struct cf_node *node) CF_WARN_UNUSED;

/* store/node_crypt.c: CF_PERMISSION (errmsg set) when setting name is the
** token and the replica is plain, else CF_OK. */
int cf__node_token_refused(struct cf_node *node, const char *name) CF_WARN_UNUSED;

/* Sets node->errmsg from fmt and returns rc. */
int cf__node_fail(struct cf_node *node, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Maps SQLite result src (with the connection's message) to a CF_* code,
** sets node->errmsg (prefixed by what, may be NULL) and returns the code.
** Messages of the form "CF_NAME: text" raised by triggers and SQL functions
** map to CF_NAME. */
int cf__node_sqlerr(struct cf_node *node, int src, const char *what);

/* The prepared fixed statement id, reset and with bindings cleared.
** OUT: *out.  CF_OK, or a code with errmsg set. */
int cf__node_stmt(struct cf_node *node, cf_stmt_id id, sqlite3_stmt **out) CF_WARN_UNUSED;

/* Runs a fixed statement that returns no rows, with up to two integer
** parameters (ignored when the statement has fewer). */
int cf__node_run(struct cf_node *node, cf_stmt_id id, int64_t a,
                 int64_t b) CF_WARN_UNUSED;

/* Transactions for the library's own writes (apply, push results, conflict
** retry/discard).  begin fails with CF_MISUSE when the app holds a
** transaction open.  rollback is safe after any failure. */
int cf__node_begin(struct cf_node *node) CF_WARN_UNUSED;
/* Finishes the rollback of a library transaction that could not be rolled
** back earlier (a ROLLBACK can itself run out of memory).  Called before
** every public entry point touches the database. */
void cf__node_settle(struct cf_node *node);
int cf__node_commit(struct cf_node *node) CF_WARN_UNUSED;
void cf__node_rollback(struct cf_node *node);

/* Finalizes the library's own cached statements and clears them (they are
** prepared again lazily); the app's statements are not touched. */
void cf__node_finalize_own(struct cf_node *node);

/* cf_meta access (store/node_ops.c): put a text value; get one into
** buf[cap] (NUL-terminated; CF_NOTFOUND if missing). */
int cf__meta_put_text(struct cf_node *node, const char *k, const char *v) CF_WARN_UNUSED;
/* Put an integer or a blob of n bytes. */
int cf__meta_put_int(struct cf_node *node, const char *k, int64_t v) CF_WARN_UNUSED;
int cf__meta_put_blob(struct cf_node *node, const char *k, const void *p,
                      int n) CF_WARN_UNUSED;
/* Reads key k into a cell: copies text into buf[cap] (NUL-terminated), a
** blob into buf (*n its length), an integer into *i.  CF_NOTFOUND if the key
** is missing, CF_CORRUPT if it does not fit or has another type. */
int cf__meta_get(struct cf_node *node, const char *k, char *buf, size_t cap, size_t *n,
                 int64_t *i) CF_WARN_UNUSED;
int cf__meta_get_text(struct cf_node *node, const char *k, char *buf,
                      size_t cap) CF_WARN_UNUSED;

/* Raises the persisted clock ceiling (inside the caller's transaction) if
** the clock has passed it. */
int cf__node_persist_clock(struct cf_node *node) CF_WARN_UNUSED;

/* The version (new HLC tick, node id).  OUT: *out. */
void cf__node_tick(struct cf_node *node, cf_ver *out);

/* Registers the replica's SQL functions and hooks on node->db
** (store/sqlfn.c).  CF_OK or a code with errmsg set. */
int cf__sqlfn_register(struct cf_node *node) CF_WARN_UNUSED;

/* Installs or checks the generated tables, views and triggers
** (store/ddl.c), inside the caller's transaction. */
int cf__ddl_install(struct cf_node *node, int fresh) CF_WARN_UNUSED;

/* Statement id of table number t, prepared if needed and reset with its
** bindings cleared (store/ddl.c).  OUT: *out, owned by node. */
int cf__table_stmt(struct cf_node *node, unsigned t, cf_tstmt_id id,
                   sqlite3_stmt **out) CF_WARN_UNUSED;

/* Loads the current result row of a per-table SELECT (by_id or by_rid:
** rid, columns, deleted, _v) into row (every cell present; key cells with
** the zero version), borrowing the statement's memory until it is stepped
** or reset.  OUT: *rid.  CF_OK, CF_CORRUPT, CF_NOMEM. */
int cf__store_load_row(struct cf_node *node, const cf_table *t, sqlite3_stmt *st,
                       cf_row *row, int64_t *rid) CF_WARN_UNUSED;

/* Routes SQLite's allocations through cf__malloc (once per process, before
** SQLite initialises; store/sqlmem.c). */
void cf__sqlmem_install(void);

#endif
