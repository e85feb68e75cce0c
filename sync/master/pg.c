/*
** sync/master/pg.c: the PostgreSQL access layer (see sync/pg.h).
**
** One of the sync/pg*.c files, the only ones that include libpq.  Its job
** beyond thin wrapping is to turn libpq's multi-line, multi-host error text
** into one line an operator can act on, and SQLSTATEs into result codes:
**
**   SQLSTATE          result
**   42501             CF_PERMISSION   (insufficient privilege, RLS WITH CHECK)
**   23xxx             CF_CONSTRAINT   (integrity constraint violation)
**   08xxx, 57Pxx      CF_UNREACHABLE  (connection lost, server shutting down)
**   anything else     CF_DATABASE
*/
#include "sync/master/pg.h"

#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/platform.h"

struct cf__pg {
  PGconn *conn;                  /* the libpq connection, never NULL */
  char errmsg[CF_PG_ERRMSG_MAX]; /* one-line message of the last failure */
  char sqlstate[6];              /* SQLSTATE of the last failure, or "" */
  int errpos;                    /* 1-based error position, 0 if none */
  cf__pg_notice_fn notice_fn;    /* NOTICE hook, NULL: drop */
  void *notice_ctx;              /* passed to notice_fn */
  /* Names of the statements prepared on this connection (cf__pg_pipeline),
  ** each a pointer to the caller's static string. */
  const char *prepared[CF_PG_PREPARED_MAX];
  size_t nprepared; /* entries used in prepared */
  int no_prepare;   /* the server lost or doubled a prepared statement (a
                    ** pooler in transaction mode): run every step unnamed */
};

/*
** Copies the first line of in to out (outlen bytes), dropping libpq's
** "FATAL:  " / "ERROR:  " severity prefixes and collapsing runs of blanks,
** so that a message fits one line of a terminal or a log.
*/
static void one_line(const char *in, char *out, size_t outlen) {
  static const char *const drop[] = {"FATAL:  ", "ERROR:  ", "FATAL: ", "ERROR: "};
  size_t n = 0;
  int blank = 0;
  if (outlen == 0) return;
  if (in == NULL) in = "";
  while (*in == ' ' || *in == '\t' || *in == '\n')
    in++;
  while (*in != '\0' && *in != '\n' && n + 1 < outlen) {
    int skipped = 0;
    for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++) {
      size_t len = strlen(drop[i]);
      if (strncmp(in, drop[i], len) == 0) {
        in += len;
        skipped = 1;
        break;
      }
    }
    if (skipped) continue;
    char c = *in++;
    if (c == '\t' || c == '\r') c = ' ';
    if (c == ' ') {
      if (blank || n == 0) continue;
      blank = 1;
    } else {
      blank = 0;
    }
    out[n++] = c;
  }
  while (n > 0 && out[n - 1] == ' ')
    n--;
  out[n] = '\0';
}

static void set_error(cf__pg *pg, const char *msg) {
  one_line(msg, pg->errmsg, sizeof pg->errmsg);
  if (pg->errmsg[0] == '\0')
    snprintf(pg->errmsg, sizeof pg->errmsg, "unknown database error");
}

int cf__pg_fail(cf__pg *pg, int rc, const char *fmt, ...) {
  char buf[CF_PG_ERRMSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  one_line(buf, pg->errmsg, sizeof pg->errmsg);
  return rc;
}

static void clear_error(cf__pg *pg) {
  pg->errmsg[0] = '\0';
  pg->sqlstate[0] = '\0';
  pg->errpos = 0;
}

static void write_err(char *err, size_t errlen, const char *prefix, const char *msg) {
  if (err == NULL || errlen == 0) return;
  char line[CF_PG_ERRMSG_MAX];
  one_line(msg, line, sizeof line);
  snprintf(err, errlen, "%s%s", prefix, line);
}

static int contains(const char *hay, const char *needle) {
  return hay != NULL && strstr(hay, needle) != NULL;
}

/* The result code for a connection that failed to open. */
static int classify_connect_failure(PGconn *conn, const char *msg) {
  if (PQconnectionNeedsPassword(conn) ||
      contains(msg, "password authentication failed") ||
      contains(msg, "no password supplied") || contains(msg, "authentication failed"))
    return CF_AUTH;
  if (contains(msg, "does not exist")) return CF_NOTFOUND;
  return CF_UNREACHABLE;
}

static void notice_receiver(void *arg, const PGresult *res) {
  cf__pg *pg = arg;
  const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY);
  const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
  if (pg->notice_fn == NULL || primary == NULL) return;
  char line[CF_PG_ERRMSG_MAX];
  one_line(primary, line, sizeof line);
  pg->notice_fn(pg->notice_ctx, severity ? severity : "NOTICE", line);
}

int cf__pg_connect(const char *url, cf__pg **out, char *err, size_t errlen) {
  int rc = CF_OK;
  char *parse_err = NULL;
  PQconninfoOption *opts = NULL;
  cf__pg *pg = NULL;
  *out = NULL;
  if (err != NULL && errlen > 0) err[0] = '\0';

  if (url == NULL || *url == '\0') {
    write_err(err, errlen, "", "DATABASE_URL is empty");
    return CF_CONFIG;
  }
  /* Validate first: libpq's own connect would report a bad URL only after
     trying defaults, and with less context. */
  opts = PQconninfoParse(url, &parse_err);
  if (opts == NULL) {
    if (parse_err == NULL) {
      write_err(err, errlen, "", "out of memory parsing DATABASE_URL");
      return CF_NOMEM;
    }
    /* Prisma's ?schema=public is the usual culprit: say so. */
    char line[CF_PG_ERRMSG_MAX];
    one_line(parse_err, line, sizeof line);
    if (contains(line, "\"schema\""))
      snprintf(line + strlen(line), sizeof line - strlen(line),
               " (a Prisma-only parameter: remove it)");
    write_err(err, errlen, "malformed DATABASE_URL: ", line);
    PQfreemem(parse_err);
    return CF_CONFIG;
  }
  PQconninfoFree(opts);

  pg = cf__calloc(1, sizeof *pg);
  if (pg == NULL) {
    write_err(err, errlen, "", "out of memory");
    return CF_NOMEM;
  }
  /* Defaults first: the expanded URL that follows overrides them. */
  const char *const keys[] = {"connect_timeout", "client_encoding",
                              "fallback_application_name", "dbname", NULL};
  const char *const values[] = {"10", "UTF8", "clientflow", url, NULL};
  pg->conn = PQconnectdbParams(keys, values, 1);
  if (pg->conn == NULL) {
    write_err(err, errlen, "", "out of memory");
    rc = CF_NOMEM;
    goto out;
  }
  if (PQstatus(pg->conn) != CONNECTION_OK) {
    const char *msg = PQerrorMessage(pg->conn);
    rc = classify_connect_failure(pg->conn, msg);
    if (contains(msg, "invalid") && contains(msg, "connection option")) {
      /* A value libpq parses only when connecting, e.g. port=notaport. */
      write_err(err, errlen, "malformed DATABASE_URL: ", msg);
      rc = CF_CONFIG;
    } else if (rc == CF_AUTH && !contains(msg, "authentication failed"))
      write_err(err, errlen, "",
                "the server asks for a password and DATABASE_URL has none");
    else
      write_err(err, errlen, "", msg);
    goto out;
  }
  PQsetNoticeReceiver(pg->conn, notice_receiver, pg);
  *out = pg;
  pg = NULL;
out:
  cf__pg_close(pg);
  return rc;
}

void cf__pg_close(cf__pg *pg) {
  if (pg == NULL) return;
  if (pg->conn != NULL) PQfinish(pg->conn);
  cf__free(pg);
}

const char *cf__pg_errmsg(const cf__pg *pg) { return pg->errmsg; }
const char *cf__pg_sqlstate(const cf__pg *pg) { return pg->sqlstate; }
int cf__pg_errpos(const cf__pg *pg) { return pg->errpos; }

void cf__pg_set_notice(cf__pg *pg, cf__pg_notice_fn fn, void *ctx) {
  pg->notice_fn = fn;
  pg->notice_ctx = ctx;
}

static int rc_for_sqlstate(const char *state) {
  if (strcmp(state, "42501") == 0) return CF_PERMISSION;
  if (strncmp(state, "23", 2) == 0) return CF_CONSTRAINT;
  if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0)
    return CF_UNREACHABLE;
  return CF_DATABASE;
}

/*
** Checks the outcome of a statement: CF_OK, or the failure recorded in pg.
** res NULL means libpq could not even produce a result (out of memory or a
** lost connection).
*/
static int check_result(cf__pg *pg, PGresult *res) {
  if (res == NULL) {
    set_error(pg, PQerrorMessage(pg->conn));
    return PQstatus(pg->conn) == CONNECTION_BAD ? CF_UNREACHABLE : CF_NOMEM;
  }
  ExecStatusType st = PQresultStatus(res);
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY)
    return CF_OK;
  const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
  const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
  const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
  const char *pos = PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION);
  snprintf(pg->sqlstate, sizeof pg->sqlstate, "%s", state ? state : "");
  pg->errpos = pos ? (int)strtol(pos, NULL, 10) : 0;
  if (primary == NULL) {
    set_error(pg, PQresultErrorMessage(res));
  } else if (detail != NULL) {
    char d[CF_PG_ERRMSG_MAX];
    one_line(detail, d, sizeof d);
    cf__pg_fail(pg, 0, "%s (%s)", primary, d);
  } else {
    set_error(pg, primary);
  }
  if (state == NULL)
    return PQstatus(pg->conn) == CONNECTION_BAD ? CF_UNREACHABLE : CF_DATABASE;
  return rc_for_sqlstate(state);
}

int cf__pg_exec(cf__pg *pg, const char *sql) {
  clear_error(pg);
  PGresult *res = PQexec(pg->conn, sql);
  int rc = check_result(pg, res);
  PQclear(res);
  return rc;
}

int cf__pg_query(cf__pg *pg, const char *sql, int nparams, const char *const *params,
                 cf__pg_res **out) {
  if (out != NULL) *out = NULL;
  clear_error(pg);
  PGresult *res = PQexecParams(pg->conn, sql, nparams, NULL, params, NULL, NULL, 0);
  int rc = check_result(pg, res);
  if (rc != CF_OK || out == NULL) {
    PQclear(res);
    return rc;
  }
  *out = res;
  return CF_OK;
}

int cf__pg_query_text(cf__pg *pg, const char *sql, int nparams, const char *const *params,
                      char **out) {
  cf__pg_res *res = NULL;
  *out = NULL;
  int rc = cf__pg_query(pg, sql, nparams, params, &res);
  if (rc != CF_OK) return rc;
  if (PQntuples(res) < 1 || PQnfields(res) < 1) {
    rc = cf__pg_fail(pg, CF_NOTFOUND, "query returned no row");
  } else if (!PQgetisnull(res, 0, 0)) {
    *out = cf__strdup(PQgetvalue(res, 0, 0));
    if (*out == NULL) rc = cf__pg_fail(pg, CF_NOMEM, "out of memory");
  }
  PQclear(res);
  return rc;
}

int cf__pg_nrows(const cf__pg_res *res) { return PQntuples(res); }
int cf__pg_ncols(const cf__pg_res *res) { return PQnfields(res); }
const char *cf__pg_colname(const cf__pg_res *res, int col) { return PQfname(res, col); }

const char *cf__pg_value(const cf__pg_res *res, int row, int col) {
  if (PQgetisnull(res, row, col)) return NULL;
  return PQgetvalue(res, row, col);
}

const char *cf__pg_bytes(const cf__pg_res *res, int row, int col, size_t *len) {
  *len = 0;
  if (PQgetisnull(res, row, col)) return NULL;
  int n = PQgetlength(res, row, col);
  *len = n > 0 ? (size_t)n : 0;
  return PQgetvalue(res, row, col);
}

int cf__pg_is_binary(const cf__pg_res *res, int col) { return PQfformat(res, col) == 1; }

int cf__pg_bool(const cf__pg_res *res, int row, int col) {
  const char *v = cf__pg_value(res, row, col);
  return v != NULL && strcmp(v, "t") == 0;
}

void cf__pg_res_free(cf__pg_res *res) { PQclear(res); }

int cf__pg_begin(cf__pg *pg) { return cf__pg_exec(pg, "BEGIN"); }
int cf__pg_commit(cf__pg *pg) { return cf__pg_exec(pg, "COMMIT"); }

void cf__pg_rollback(cf__pg *pg) {
  /* Keep the failure that led here; the rollback's own outcome is moot. */
  PGresult *res = PQexec(pg->conn, "ROLLBACK");
  PQclear(res);
}

char *cf__pg_quote_ident(cf__pg *pg, const char *name) {
  char *q = PQescapeIdentifier(pg->conn, name, strlen(name));
  if (q == NULL) return NULL;
  char *copy = cf__strdup(q);
  PQfreemem(q);
  return copy;
}

/* --- LISTEN/NOTIFY ----------------------------------------------------------- */

int cf__pg_socket(const cf__pg *pg) { return PQsocket(pg->conn); }

int cf__pg_listen(cf__pg *pg, const char *channel) {
  char *ident = cf__pg_quote_ident(pg, channel);
  if (ident == NULL) return cf__pg_fail(pg, CF_NOMEM, "out of memory");
  char *sql = cf__mprintf("LISTEN %s", ident);
  cf__free(ident);
  if (sql == NULL) return cf__pg_fail(pg, CF_NOMEM, "out of memory");
  int rc = cf__pg_exec(pg, sql);
  cf__free(sql);
  return rc;
}

int cf__pg_consume_notifies(cf__pg *pg, cf__pg_notify_fn fn, void *ctx) {
  if (!PQconsumeInput(pg->conn) || PQstatus(pg->conn) != CONNECTION_OK) {
    char line[CF_PG_ERRMSG_MAX];
    one_line(PQerrorMessage(pg->conn), line, sizeof line);
    return cf__pg_fail(pg, CF_UNREACHABLE, "connection lost: %s", line);
  }
  PGnotify *n;
  while ((n = PQnotifies(pg->conn)) != NULL) {
    fn(ctx, n->relname, n->extra ? n->extra : "");
    PQfreemem(n);
  }
  return CF_OK;
}

/* --- pipelined queries ------------------------------------------------------- */

/* Reads what is left of a pipeline up to and including its sync, then leaves
** pipeline mode.  rc is the result so far; the first error is kept. */
static int pipeline_finish(cf__pg *pg, int rc) {
  for (;;) { /* up to and including the sync */
    PGresult *res = PQgetResult(pg->conn);
    if (res == NULL) {
      if (PQstatus(pg->conn) == CONNECTION_BAD) {
        if (rc == CF_OK) rc = check_result(pg, NULL);
        break;
      }
      continue;
    }
    ExecStatusType st = PQresultStatus(res);
    PQclear(res);
    if (st == PGRES_PIPELINE_SYNC) break;
  }
  if (!PQexitPipelineMode(pg->conn) && rc == CF_OK) {
    set_error(pg, PQerrorMessage(pg->conn));
    rc = CF_DATABASE;
  }
  return rc;
}

static int query_many(cf__pg *pg, size_t n, const char *const *sqls, int nparams,
                      const char *const *params, int format, cf__pg_res **out) {
  for (size_t i = 0; i < n; i++)
    out[i] = NULL;
  clear_error(pg);
  if (n == 0) return CF_OK;
  if (!PQenterPipelineMode(pg->conn)) {
    set_error(pg, PQerrorMessage(pg->conn));
    return PQstatus(pg->conn) == CONNECTION_BAD ? CF_UNREACHABLE : CF_DATABASE;
  }
  int rc = CF_OK;
  size_t sent = 0;
  for (; sent < n; sent++)
    if (!PQsendQueryParams(pg->conn, sqls[sent], nparams, NULL, params, NULL, NULL,
                           format))
      break;
  if (sent < n) {
    set_error(pg, PQerrorMessage(pg->conn));
    rc = PQstatus(pg->conn) == CONNECTION_BAD ? CF_UNREACHABLE : CF_NOMEM;
  }
  if (!PQpipelineSync(pg->conn)) {
    /* Nothing can be read back: the connection is unusable (the caller drops
    ** it on CF_UNREACHABLE). */
    set_error(pg, PQerrorMessage(pg->conn));
    return CF_UNREACHABLE;
  }
  /* One result (then a NULL) per query sent, then the sync.  After a failure
  ** the server skips the rest (PGRES_PIPELINE_ABORTED); keep the first error. */
  for (size_t i = 0; i < sent; i++) {
    PGresult *res = PQgetResult(pg->conn);
    if (res == NULL) {
      if (rc == CF_OK) rc = check_result(pg, NULL);
      break;
    }
    if (PQresultStatus(res) == PGRES_PIPELINE_ABORTED) {
      PQclear(res);
    } else {
      int r = check_result(pg, res);
      if (r == CF_OK && rc == CF_OK) {
        out[i] = res;
      } else {
        if (rc == CF_OK) rc = r;
        PQclear(res);
      }
    }
    PGresult *end = PQgetResult(pg->conn); /* the NULL after each query */
    if (end != NULL) PQclear(end);
  }
  rc = pipeline_finish(pg, rc);
  if (rc != CF_OK)
    for (size_t i = 0; i < n; i++) {
      PQclear(out[i]);
      out[i] = NULL;
    }
  return rc;
}

int cf__pg_query_many(cf__pg *pg, size_t n, const char *const *sqls, int nparams,
                      const char *const *params, cf__pg_res **out) {
  return query_many(pg, n, sqls, nparams, params, 0, out);
}

int cf__pg_query_many_binary(cf__pg *pg, size_t n, const char *const *sqls, int nparams,
                             const char *const *params, cf__pg_res **out) {
  return query_many(pg, n, sqls, nparams, params, 1, out);
}

/* --- pipelines of different statements -------------------------------------- */

/* Is name prepared on pg?  (A short list: a handful of fixed statements.) */
static int is_prepared(const cf__pg *pg, const char *name) {
  for (size_t i = 0; i < pg->nprepared; i++)
    if (pg->prepared[i] == name || strcmp(pg->prepared[i], name) == 0) return 1;
  return 0;
}

/* Queues step s: a prepared statement (preparing it first, in the same
** pipeline, the first time the connection sees its name) or an unnamed one. */
static int send_step(cf__pg *pg, const cf__pg_step *s, int *prepares) {
  *prepares = 0;
  if (s->name == NULL || pg->no_prepare)
    return PQsendQueryParams(pg->conn, s->sql, s->nparams, NULL, s->params, NULL, NULL,
                             0);
  if (!is_prepared(pg, s->name)) {
    if (!PQsendPrepare(pg->conn, s->name, s->sql, 0, NULL)) return 0;
    *prepares = 1;
  }
  return PQsendQueryPrepared(pg->conn, s->name, s->nparams, s->params, NULL, NULL, 0);
}

static int pipeline_once(cf__pg *pg, cf__pg_step *steps, size_t n, size_t *failed) {
  int prep[CF_PG_PIPELINE_MAX];
  *failed = n;
  for (size_t i = 0; i < n; i++)
    steps[i].res = NULL;
  clear_error(pg);
  if (n == 0) return CF_OK;
  if (n > CF_PG_PIPELINE_MAX) return cf__pg_fail(pg, CF_MISUSE, "pipeline too long");
  if (!PQenterPipelineMode(pg->conn)) {
    set_error(pg, PQerrorMessage(pg->conn));
    return PQstatus(pg->conn) == CONNECTION_BAD ? CF_UNREACHABLE : CF_DATABASE;
  }
  int rc = CF_OK;
  size_t sent = 0;
  for (; sent < n; sent++)
    if (!send_step(pg, &steps[sent], &prep[sent])) break;
  if (sent < n) {
    set_error(pg, PQerrorMessage(pg->conn));
    rc = PQstatus(pg->conn) == CONNECTION_BAD ? CF_UNREACHABLE : CF_NOMEM;
    *failed = sent;
  }
  if (!PQpipelineSync(pg->conn)) {
    set_error(pg, PQerrorMessage(pg->conn));
    return CF_UNREACHABLE;
  }
  /* Per step: the Prepare's result when it was sent, then the statement's
  ** result, each followed by a NULL; then the sync.  After a failure the
  ** server skips the rest (PGRES_PIPELINE_ABORTED); the first error stays. */
  for (size_t i = 0; i < sent; i++) {
    for (int part = prep[i] ? 0 : 1; part < 2; part++) {
      PGresult *res = PQgetResult(pg->conn);
      if (res == NULL) {
        if (rc == CF_OK) {
          rc = check_result(pg, NULL);
          *failed = i;
        }
        goto drain;
      }
      if (PQresultStatus(res) == PGRES_PIPELINE_ABORTED) {
        PQclear(res);
      } else {
        int r = check_result(pg, res);
        if (r == CF_OK && part == 1 && rc == CF_OK) {
          steps[i].res = res;
        } else {
          if (r != CF_OK && rc == CF_OK) {
            rc = r;
            *failed = i;
          }
          if (r == CF_OK && part == 0 && pg->nprepared < CF_PG_PREPARED_MAX)
            pg->prepared[pg->nprepared++] = steps[i].name;
          PQclear(res);
        }
      }
      PGresult *end = PQgetResult(pg->conn); /* the NULL after each result */
      if (end != NULL) PQclear(end);
    }
  }
drain:
  rc = pipeline_finish(pg, rc);
  if (rc != CF_OK)
    for (size_t i = 0; i < n; i++) {
      PQclear(steps[i].res);
      steps[i].res = NULL;
    }
  return rc;
}

int cf__pg_pipeline(cf__pg *pg, cf__pg_step *steps, size_t n, size_t *failed) {
  int idle = PQtransactionStatus(pg->conn) == PQTRANS_IDLE;
  int rc = pipeline_once(pg, steps, n, failed);
  /* A prepared statement the server does not have (26000) or already has
  ** (42P05): the connection goes through a pooler in transaction mode that
  ** does not track them (PgBouncer before 1.21, or without
  ** max_prepared_statements).  From now on this connection prepares
  ** nothing; a pipeline that began outside a transaction is run again. */
  if (rc != CF_OK && *failed < n && steps[*failed].name != NULL && !pg->no_prepare &&
      (strcmp(pg->sqlstate, "26000") == 0 || strcmp(pg->sqlstate, "42P05") == 0)) {
    pg->no_prepare = 1;
    if (idle) {
      if (PQtransactionStatus(pg->conn) != PQTRANS_IDLE) cf__pg_rollback(pg);
      rc = pipeline_once(pg, steps, n, failed);
    }
  }
  return rc;
}
