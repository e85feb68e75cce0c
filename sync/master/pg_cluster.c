/*
** sync/master/pg_cluster.c: a private PostgreSQL 15 cluster (cf_pgcluster_*, see
** include/clientflow.h), for `clientflow demo` and the examples.
**
** Layout of the directory it creates (parent/clientflow-pg-XXXXXX):
**
**   data/        the cluster (initdb -U postgres --auth=trust)
**   sock/        the Unix socket directory
**   log          the server log (pg_ctl -l)
**   initdb.log   initdb's output
**   pg_ctl.log   pg_ctl's own output
**
** The server listens on 127.0.0.1 only, on a port that was free when it
** started (three tries), with trust authentication: it is for one machine
** and one session.  PostgreSQL refuses to run as root, so as root every
** PostgreSQL program runs as the `postgres` user (runuser) and the
** directory is given to that user.  OS calls go through platform/process.h.
*/
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "platform/platform.h"
#include "platform/process.h"
#include "sync/master/pg.h"

#define PG_BIN "/usr/lib/postgresql/15/bin"
#define PG_USER "postgres"
#define START_TRIES 3
/* sun_path is 108 bytes: DIR/sock/.s.PGSQL.NNNNN must fit. */
#define MAX_SOCKET_PATH 100

struct cf_pgcluster {
  char *dir;      /* the cluster's directory, removed by cf_pgcluster_stop */
  char *data;     /* dir/data */
  char *url;      /* postgresql://postgres@127.0.0.1:PORT/DBNAME */
  char *stop_cmd; /* shell command that stops it and removes dir */
  int port;       /* TCP port on 127.0.0.1 */
  int running;    /* the server was started and not yet stopped */
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...) {
  if (err == NULL || errlen == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

/* Runs a PostgreSQL program as the postgres user; CF_ERROR on non-zero exit. */
static int run_pg(const char *const *argv, const char *log) {
  int status = 0;
  int rc = cf__proc_run(argv, PG_USER, log, &status);
  if (rc != CF_OK) return rc;
  return status == 0 ? CF_OK : CF_ERROR;
}

static int pg_ctl_stop(cf_pgcluster *c) {
  char *log = cf__mprintf("%s/pg_ctl.log", c->dir);
  if (log == NULL) return CF_NOMEM;
  const char *argv[] = {PG_BIN "/pg_ctl", "-D", c->data, "-m",
                        "fast",           "-w", "stop",  NULL};
  int rc = run_pg(argv, log);
  cf__free(log);
  if (rc == CF_OK) c->running = 0;
  return rc;
}

static void free_cluster(cf_pgcluster *c) {
  cf__free(c->dir);
  cf__free(c->data);
  cf__free(c->url);
  cf__free(c->stop_cmd);
  cf__free(c);
}

/* Creates dir/sock and dir/data's parent for the postgres user. */
static int prepare_dir(cf_pgcluster *c, char *err, size_t errlen) {
  char *sock = cf__mprintf("%s/sock", c->dir);
  int rc = sock ? cf__dir_make(sock) : CF_NOMEM;
  if (rc == CF_OK && cf__proc_is_root()) {
    rc = cf__path_give_to_user(c->dir, PG_USER);
    if (rc == CF_OK) rc = cf__path_give_to_user(sock, PG_USER);
    if (rc == CF_NOTFOUND) {
      set_err(err, errlen, "running as root needs the `%s` user (install postgresql-15)",
              PG_USER);
      goto out;
    }
    /* The postgres user must reach the directory through every parent. */
    int status = 0;
    const char *argv[] = {"test", "-w", c->dir, "-a", "-x", c->dir, NULL};
    if (rc == CF_OK &&
        (cf__proc_run(argv, PG_USER, NULL, &status) != CF_OK || status != 0)) {
      set_err(err, errlen,
              "user postgres cannot reach %s (a parent directory is private? "
              "set CLIENTFLOW_HOME or TMPDIR to another place)",
              c->dir);
      rc = CF_IO;
      goto out;
    }
  }
  if (rc != CF_OK) set_err(err, errlen, "cannot prepare %s", c->dir);
out:
  cf__free(sock);
  return rc;
}

static int initdb(cf_pgcluster *c, char *err, size_t errlen) {
  char *log = cf__mprintf("%s/initdb.log", c->dir);
  if (log == NULL) return CF_NOMEM;
  const char *argv[] = {PG_BIN "/initdb",  "-D",
                        c->data,           "-U",
                        "postgres",        "--auth=trust",
                        "--encoding=UTF8", "--locale=C.UTF-8",
                        "--no-sync",       NULL};
  int rc = run_pg(argv, log);
  if (rc != CF_OK) {
    char last[256];
    cf__file_last_line(log, last, sizeof last);
    set_err(err, errlen, "initdb failed: %s (see %s)", last, log);
  }
  cf__free(log);
  return rc;
}

static int pg_ctl_start(cf_pgcluster *c, char *err, size_t errlen) {
  char *log = cf__mprintf("%s/log", c->dir);
  char *ctl_log = cf__mprintf("%s/pg_ctl.log", c->dir);
  char *opts = NULL;
  int rc = CF_NOMEM;
  if (log == NULL || ctl_log == NULL) goto out;
  for (int attempt = 0; attempt < START_TRIES; attempt++) {
    rc = cf__port_free_loopback(&c->port);
    if (rc != CF_OK) {
      set_err(err, errlen, "no free TCP port on 127.0.0.1");
      goto out;
    }
    cf__free(opts);
    /* pg_ctl hands -o to a shell: the socket path is single-quoted (the
       caller rejected paths holding a quote). */
    opts = cf__mprintf("-p %d -k '%s/sock' -c listen_addresses=127.0.0.1 "
                       "-c max_connections=200 -c fsync=off -c timezone=UTC",
                       c->port, c->dir);
    if (opts == NULL) {
      rc = CF_NOMEM;
      goto out;
    }
    const char *argv[] = {
        PG_BIN "/pg_ctl", "-D", c->data, "-l", log, "-w", "-t", "60", "-o", opts,
        "start",          NULL};
    rc = run_pg(argv, ctl_log);
    if (rc == CF_OK) {
      c->running = 1;
      goto out;
    }
  }
  char last[256];
  cf__file_last_line(log, last, sizeof last);
  set_err(err, errlen, "PostgreSQL did not start: %s (see %s)", last, log);
out:
  cf__free(log);
  cf__free(ctl_log);
  cf__free(opts);
  return rc;
}

static int create_database(cf_pgcluster *c, const char *dbname, char *err,
                           size_t errlen) {
  cf__pg *pg = NULL;
  char *quoted = NULL, *sql = NULL;
  char *url = cf__mprintf("postgresql://postgres@127.0.0.1:%d/postgres", c->port);
  if (url == NULL) return CF_NOMEM;
  int rc = cf__pg_connect(url, &pg, err, errlen);
  if (rc != CF_OK) goto out;
  quoted = cf__pg_quote_ident(pg, dbname);
  sql = quoted ? cf__mprintf("CREATE DATABASE %s", quoted) : NULL;
  if (sql == NULL) {
    rc = CF_NOMEM;
    goto out;
  }
  rc = cf__pg_exec(pg, sql);
  if (rc != CF_OK)
    set_err(err, errlen, "CREATE DATABASE %s: %s", dbname, cf__pg_errmsg(pg));
out:
  cf__pg_close(pg);
  cf__free(url);
  cf__free(quoted);
  cf__free(sql);
  return rc;
}

int cf_pgcluster_start(const char *parent_dir, const char *dbname, cf_pgcluster **out,
                       char *err, size_t errlen) {
  cf_pgcluster *c = NULL;
  int rc;
  *out = NULL;
  if (err != NULL && errlen > 0) err[0] = '\0';
  if (parent_dir == NULL || *parent_dir == '\0') parent_dir = cf__tmp_dir();
  if (dbname == NULL || *dbname == '\0') dbname = "clientflow";
  if (!cf__file_is_executable(PG_BIN "/pg_ctl") ||
      !cf__file_is_executable(PG_BIN "/initdb")) {
    set_err(err, errlen, "PostgreSQL 15 not found in %s (install postgresql-15)", PG_BIN);
    return CF_NOTFOUND;
  }
  if (strchr(parent_dir, '\'') != NULL || parent_dir[0] != '/' ||
      strlen(parent_dir) + sizeof "/clientflow-pg-XXXXXX/sock/.s.PGSQL.65535" >
          MAX_SOCKET_PATH) {
    set_err(err, errlen,
            "%s cannot hold a cluster: it must be an absolute path without "
            "quotes, short enough for a Unix socket",
            parent_dir);
    return CF_INVALID;
  }
  c = cf__calloc(1, sizeof *c);
  if (c == NULL) return CF_NOMEM;
  rc = cf__dir_make_temp(parent_dir, "clientflow-pg-", &c->dir, err, errlen);
  if (rc != CF_OK) {
    free_cluster(c);
    return rc;
  }
  c->data = cf__mprintf("%s/data", c->dir);
  if (c->data == NULL) {
    rc = CF_NOMEM;
    goto out;
  }
  rc = prepare_dir(c, err, errlen);
  if (rc == CF_OK) rc = initdb(c, err, errlen);
  if (rc == CF_OK) rc = pg_ctl_start(c, err, errlen);
  if (rc == CF_OK) rc = create_database(c, dbname, err, errlen);
  if (rc != CF_OK) goto out;
  c->url = cf__mprintf("postgresql://postgres@127.0.0.1:%d/%s", c->port, dbname);
  c->stop_cmd =
      cf__mprintf("%s" PG_BIN "/pg_ctl -D %s -m fast stop && rm -rf %s",
                  cf__proc_is_root() ? "runuser -u postgres -- " : "", c->data, c->dir);
  if (c->url == NULL || c->stop_cmd == NULL) rc = CF_NOMEM;
out:
  if (rc == CF_NOMEM && err != NULL && errlen > 0 && err[0] == '\0')
    snprintf(err, errlen, "out of memory");
  if (rc != CF_OK) {
    (void)cf_pgcluster_stop(c);
    return rc;
  }
  *out = c;
  return CF_OK;
}

const char *cf_pgcluster_url(const cf_pgcluster *c) { return c->url; }
const char *cf_pgcluster_dir(const cf_pgcluster *c) { return c->dir; }
const char *cf_pgcluster_stop_command(const cf_pgcluster *c) { return c->stop_cmd; }

int cf_pgcluster_stop(cf_pgcluster *c) {
  int rc = CF_OK;
  if (c == NULL) return CF_OK;
  if (c->running && c->data != NULL && pg_ctl_stop(c) != CF_OK) rc = CF_IO;
  /* Never remove the data of a server that may still run. */
  if (!c->running && c->dir != NULL && cf__tree_remove(c->dir) != CF_OK) rc = CF_IO;
  free_cluster(c);
  return rc;
}

void cf_pgcluster_detach(cf_pgcluster *c) {
  if (c == NULL) return;
  free_cluster(c);
}
