/*
** sync/master.h: internals shared by the master administration files
** (sync/master/master.c: the handle; sync/master/migrate.c: migrations; sync/seed.c:
*seed;
** sync/master/doctor.c: checks).  The public API is the "Master administration"
** section of include/clientflow.h.
*/
#ifndef CF_SYNC_MASTER_H
#define CF_SYNC_MASTER_H

#include "clientflow.h"
#include "sync/master/pg.h"

/* The embedded file holding the named statements of this module. */
#define CF_MASTER_SQL "admin/master.sql"

struct cf_master {
  cf__pg *pg;                    /* the connection, never NULL */
  cf_report_fn report;           /* where report lines go, NULL: dropped */
  void *report_ctx;              /* passed to report */
  char errmsg[CF_PG_ERRMSG_MAX]; /* one-line detail of the last failure */
};

/* Sends one printf-formatted line to m's report callback. */
void cf__master_report(cf_master *m, cf_report_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records rc's one-line detail in m and returns rc. */
int cf__master_fail(cf_master *m, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records the connection's last failure, prefixed by what, and returns rc. */
int cf__master_fail_pg(cf_master *m, int rc, const char *what);

/* Runs the named statement of CF_MASTER_SQL (see cf__pg_query). */
int cf__master_query(cf_master *m, const char *name, int nparams,
                     const char *const *params, cf__pg_res **out) CF_WARN_UNUSED;

/*
** The state of the migrations: what is embedded, what the ledger records.
** Computed by cf__migrations_load; freed by cf__migrations_free.
*/
typedef struct cf__migration {
  const char *file;        /* "001_init.sql": points into the asset table, or
                              into recorded_name for an unknown one */
  const char *sql;         /* the file's text, NULL if not in this build */
  size_t sql_len;          /* length of sql */
  char version[16];        /* "001" */
  char checksum[65];       /* SHA-256 hex of the embedded file, "" if unknown */
  char recorded[65];       /* checksum in the ledger, "" if not applied */
  char recorded_name[128]; /* file name in the ledger, "" if not applied */
  char applied_at[32];     /* "2026-11-28 16:00:00Z", "" if not applied */
  int applied;             /* recorded in the ledger */
} cf__migration;

typedef struct cf__migrations {
  cf__migration *items; /* by version; cf__malloc'd */
  int n;                /* entries of items */
  int pending;          /* embedded, not applied */
  int changed;          /* applied with a different checksum */
  int unknown;          /* applied, not embedded in this build */
} cf__migrations;

/*
** Loads the state (read-only: an absent ledger means nothing applied).
** OUT: *state, filled; free with cf__migrations_free.
*/
int cf__migrations_load(cf_master *m, cf__migrations *state) CF_WARN_UNUSED;
void cf__migrations_free(cf__migrations *state);

/* CF_CORRUPT with a message naming the first changed or unknown file, or CF_OK. */
int cf__migrations_verify(cf_master *m, const cf__migrations *state) CF_WARN_UNUSED;

#endif /* CF_SYNC_MASTER_H */
