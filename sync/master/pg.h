/*
** sync/pg.h: the PostgreSQL access layer (internal).
**
** sync/pg*.c are the only files of the project that include libpq, so a
** reader knows where that dependency can bite.  This layer is small on
** purpose and is shared by the master administration (migrate, seed,
** doctor: sync/master/migrate.c, sync/master/master.c) and, later, by the sync server's
** push and pull:
**
**   cf__pg_connect      one connection from a DATABASE_URL (URI or key=value
**                       form), with a ONE-LINE error for a malformed URL, an
**                       unreachable server, a wrong password, a missing
**                       database
**   cf__pg_exec         run a script (one or more statements, no parameters)
**   cf__pg_query        run one statement with text parameters
**   cf__pg_begin/...    transactions
**   cf__pg_sqlstate     the SQLSTATE of the last failure, for callers that
**                       tell constraint, permission and other errors apart
**
** Every failing call returns a result code (CF_DATABASE, CF_PERMISSION for
** 42501, CF_CONSTRAINT for class 23, CF_UNREACHABLE when the connection is
** lost, CF_NOMEM) and leaves a one-line message in cf__pg_errmsg.  Server
** NOTICEs never reach stderr: they go to the notice hook, or are dropped.
**
** A cf__pg is used by one thread at a time.
*/
#ifndef CF_SYNC_PG_H
#define CF_SYNC_PG_H

#include <stddef.h>

#include "clientflow.h"

typedef struct cf__pg cf__pg;

/* libpq's PGresult, named here without including libpq-fe.h. */
typedef struct pg_result cf__pg_res;

/* Receives each server NOTICE/WARNING as one line (primary message). */
typedef void (*cf__pg_notice_fn)(void *ctx, const char *severity, const char *message);

/* Longest message kept by a connection; longer ones are truncated. */
#define CF_PG_ERRMSG_MAX 512

/*
** CONSTRUCTOR.  Connects to url (postgresql://... or key=value ...).
** OUT: *out, the connection, or NULL on failure.  On failure err (if not
** NULL) receives a one-line reason of at most errlen-1 bytes and the result
** is CF_CONFIG (malformed URL), CF_AUTH (password rejected or missing),
** CF_NOTFOUND (database or role does not exist), CF_UNREACHABLE (no server
** answered) or CF_NOMEM.  The password never appears in the message.
** Close with cf__pg_close.
*/
int cf__pg_connect(const char *url, cf__pg **out, char *err,
                   size_t errlen) CF_WARN_UNUSED;

/* DESTRUCTOR.  Closes the connection; accepts NULL. */
void cf__pg_close(cf__pg *pg);

/*
** The one-line message of the last failure ("" if none).  Owned by pg,
** valid until the next call on pg.
*/
const char *cf__pg_errmsg(const cf__pg *pg);

/* SQLSTATE of the last failed statement, "" if none or not from the server. */
const char *cf__pg_sqlstate(const cf__pg *pg);

/*
** 1-based character offset in the failed statement's text where the server
** located the last error, 0 when it gave none.
*/
int cf__pg_errpos(const cf__pg *pg);

/* Sets the hook that receives NOTICEs (NULL: drop them). */
void cf__pg_set_notice(cf__pg *pg, cf__pg_notice_fn fn, void *ctx);

/*
** Runs sql, which may hold several statements separated by ';' and no
** parameters.  Inside an open transaction it is part of that transaction;
** outside, libpq runs the whole text as one implicit transaction.
*/
int cf__pg_exec(cf__pg *pg, const char *sql) CF_WARN_UNUSED;

/*
** Runs one statement with nparams text parameters (params[i] NULL is SQL
** NULL).  OUT: *out, the rows (NULL on failure, or when out is NULL the
** rows are discarded).  Free with cf__pg_res_free.
*/
int cf__pg_query(cf__pg *pg, const char *sql, int nparams, const char *const *params,
                 cf__pg_res **out) CF_WARN_UNUSED;

/*
** Runs one statement and copies the first column of the first row into a
** new cf__malloc'd string. OUT: *out (NULL when the value is SQL NULL).
** CF_NOTFOUND when the statement returned no row.  Caller frees *out.
*/
int cf__pg_query_text(cf__pg *pg, const char *sql, int nparams, const char *const *params,
                      char **out) CF_WARN_UNUSED;

/* Rows and columns of res. */
int cf__pg_nrows(const cf__pg_res *res);
int cf__pg_ncols(const cf__pg_res *res);
/* Name of column col; owned by res. */
const char *cf__pg_colname(const cf__pg_res *res, int col);
/* Value as text, NULL for SQL NULL; owned by res, valid until it is freed. */
const char *cf__pg_value(const cf__pg_res *res, int row, int col);
/* Value "t" is true, anything else (including NULL) false. */
int cf__pg_bool(const cf__pg_res *res, int row, int col);
/* DESTRUCTOR.  Accepts NULL. */
void cf__pg_res_free(cf__pg_res *res);

/* Transactions.  cf__pg_rollback keeps the message of the failure that led to it. */
int cf__pg_begin(cf__pg *pg) CF_WARN_UNUSED;
int cf__pg_commit(cf__pg *pg) CF_WARN_UNUSED;
void cf__pg_rollback(cf__pg *pg);

/*
** Quotes name as an SQL identifier ("a""b").  OUT: a new cf__malloc'd
** string, or NULL on out of memory.  Caller frees.
*/
char *cf__pg_quote_ident(cf__pg *pg, const char *name);

/*
** Sets the last failure of pg to rc and a printf-formatted message, and
** returns rc; for layers above that add their own context.
*/
int cf__pg_fail(cf__pg *pg, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
** Named statements.  SQL lives in the embedded sql/ files; a file holding
** several statements marks each with a line "-- @name NAME" and the
** statement runs to the next such line.  OUT: *out, a new cf__malloc'd copy
** of the statement named name in the embedded file asset (a path relative to
** sql/).  CF_NOTFOUND if the file or the name is missing, CF_NOMEM.  Caller
** frees *out.
*/
int cf__sql_named(const char *asset, const char *name, char **out) CF_WARN_UNUSED;

/*
** Runs n statements with the same nparams text parameters in one round trip
** (libpq pipeline mode), inside the caller's transaction if one is open.
** OUT: out[0..n), each statement's rows (free each with cf__pg_res_free);
** all NULL on failure.  Returns CF_OK, or the code of the first statement
** that failed (the later ones are skipped by the server).
*/
int cf__pg_query_many(cf__pg *pg, size_t n, const char *const *sqls, int nparams,
                      const char *const *params, cf__pg_res **out) CF_WARN_UNUSED;

/* The same with every column of the results in binary (libpq resultFormat 1):
** a text column's bytes are those of its text form, a bytea its raw bytes
** (half of hex), an integer big-endian.  Read them with cf__pg_bytes. */
int cf__pg_query_many_binary(cf__pg *pg, size_t n, const char *const *sqls, int nparams,
                             const char *const *params, cf__pg_res **out) CF_WARN_UNUSED;

/* Value of row, col as bytes (NULL for SQL NULL) and its length in *len
** (what the server sent, to be checked by the caller: a binary value has no
** terminator of its own, though libpq puts a 0 byte after every value). */
const char *cf__pg_bytes(const cf__pg_res *res, int row, int col, size_t *len);

/* Is column col of res in binary? */
int cf__pg_is_binary(const cf__pg_res *res, int col);

/* Most statements of one cf__pg_pipeline, and most prepared names a
** connection remembers (more are run unnamed). */
#define CF_PG_PIPELINE_MAX 256
#define CF_PG_PREPARED_MAX 16

/* One statement of a pipeline. */
typedef struct cf__pg_step {
  const char *sql;           /* the statement ($1.. parameters) */
  const char *name;          /* NULL: unnamed; else a name (a static string) under
                             ** which the connection prepares sql the first time
                             ** and reuses it after (names must never change sql) */
  int nparams;               /* parameters */
  const char *const *params; /* their text, NULL for SQL NULL */
  cf__pg_res *res;           /* OUT: its rows (free with cf__pg_res_free), NULL
                             ** when it failed or was skipped */
} cf__pg_step;

/*
** Runs steps[0..n) (n <= CF_PG_PIPELINE_MAX), each with its own parameters,
** in one round trip (libpq pipeline mode, one sync at the end), inside the
** caller's transaction if one is open.  Returns CF_OK, or the code of the
** first statement that failed; OUT: *failed, its index (n when none); the
** server skips every later statement.  Inside a transaction block the
** transaction is then aborted: the caller rolls back (to a savepoint).  On
** failure every steps[i].res is NULL.  A connection whose server loses or
** doubles prepared statements (a pooler in transaction mode that does not
** track them) stops preparing; the pipeline is run again unnamed when it
** began outside a transaction.
*/
int cf__pg_pipeline(cf__pg *pg, cf__pg_step *steps, size_t n,
                    size_t *failed) CF_WARN_UNUSED;

/*
** LISTEN/NOTIFY, for the sync server's live updates.  cf__pg_socket is the
** connection's socket, to watch for readability in an event loop; after
** cf__pg_listen(channel), each readable event is followed by
** cf__pg_consume_notifies, which calls fn(ctx, channel, payload) for every
** notification received (strings valid during the call).  CF_OK, or
** CF_UNREACHABLE when the connection is gone (reconnect and LISTEN again).
*/
typedef void (*cf__pg_notify_fn)(void *ctx, const char *channel, const char *payload);
int cf__pg_socket(const cf__pg *pg);
int cf__pg_listen(cf__pg *pg, const char *channel) CF_WARN_UNUSED;
int cf__pg_consume_notifies(cf__pg *pg, cf__pg_notify_fn fn, void *ctx) CF_WARN_UNUSED;

#endif /* CF_SYNC_PG_H */
