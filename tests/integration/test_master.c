/*
** tests/integration/test_master.c: the Master administration API
** (cf_master_*, cf_pgcluster_*) against the test cluster: connection
** failures classified with one-line messages, migrate/seed/doctor through
** the report callback, every allocation failure handled cleanly, and the
** private cluster started and removed.  The `clientflow` commands built on
** this API are tested end to end by tests/shell/test_cli_*.sh.
*/
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cf_test.h"
#include "clientflow.h"
#include "core/schema.h"
#include "platform/platform.h"

/* Counts report lines per kind and keeps the last line. */
typedef struct lines {
  int count[4];    /* lines seen per cf_report_kind */
  char last[1024]; /* the last line */
  int has_tables;  /* a line said "Tables found: N", N the registry's count */
} lines;

static void collect(void *ctx, cf_report_kind kind, const char *line) {
  lines *l = ctx;
  if ((unsigned)kind < 4) l->count[kind]++;
  snprintf(l->last, sizeof l->last, "%s", line);
  char found[64];
  snprintf(found, sizeof found, "Tables found: %d", CF_SCHEMA_NTABLES);
  if (strstr(line, found) != NULL) l->has_tables = 1;
  CHECK(strchr(line, '\n') == NULL);
}

CF_TEST(test_master_open_rejects_malformed_url_with_one_line) {
  char err[256];
  cf_master *m = (cf_master *)1;
  CHECK_EQ(cf_master_open("postgresql://x/y?bogus=1", &m, err, sizeof err), CF_CONFIG);
  CHECK(m == NULL);
  CHECK(strstr(err, "malformed DATABASE_URL") != NULL);
  CHECK(strchr(err, '\n') == NULL);
  CHECK_EQ(cf_master_open("", &m, err, sizeof err), CF_CONFIG);
  CHECK(m == NULL);
}

CF_TEST(test_master_open_reports_unreachable_server) {
  char err[256];
  cf_master *m = NULL;
  CHECK_EQ(cf_master_open("postgresql://postgres@127.0.0.1:1/x?connect_timeout=5", &m,
                          err, sizeof err),
           CF_UNREACHABLE);
  CHECK(m == NULL);
  CHECK(strstr(err, "port 1 failed") != NULL);
  CHECK(strchr(err, '\n') == NULL);
}

CF_TEST(test_master_open_reports_missing_database_as_notfound) {
  char err[256];
  cf_master *m = NULL;
  CHECK_EQ(
      cf_master_open(cf_test_pg_conninfo("no_such_database_here"), &m, err, sizeof err),
      CF_NOTFOUND);
  CHECK(strstr(err, "does not exist") != NULL);
}

CF_TEST(test_master_template_is_migrated_seeds_and_passes_doctor) {
  char err[256];
  cf_master *m = NULL;
  lines l = {0};
  CHECK_OK(cf_master_open(cf_test_pg_createdb(), &m, err, sizeof err));
  cf_master_set_report(m, collect, &l);
  int pending = -1;
  CHECK_OK(cf_master_migrate_status(m, &pending));
  CHECK_EQ(pending, 0);
  CHECK_OK(cf_master_migrate_up(m));
  CHECK(strstr(l.last, "nothing to apply") != NULL);
  CHECK_OK(cf_master_seed(m));
  memset(&l, 0, sizeof l);
  int failures = -1;
  CHECK_OK(cf_master_doctor(m, &failures));
  CHECK_EQ(failures, 0);
  CHECK(l.has_tables);
  CHECK_EQ(l.count[CF_REPORT_FAIL], 0);
  CHECK(l.count[CF_REPORT_OK] >= 14);  /* connection, query, tables, 10 RLS, migrations */
  CHECK(l.count[CF_REPORT_WARN] >= 1); /* the test cluster connects as a superuser */
  cf_master_close(m);
}

CF_TEST(test_master_reset_requires_confirmation) {
  char err[256];
  cf_master *m = NULL;
  CHECK_OK(cf_master_open(cf_test_pg_createdb(), &m, err, sizeof err));
  CHECK_EQ(cf_master_migrate_reset(m, 0), CF_MISUSE);
  CHECK(strstr(cf_master_errmsg(m), "--force") != NULL);
  int pending = -1;
  CHECK_OK(cf_master_migrate_status(m, &pending));
  CHECK_EQ(pending, 0);
  CHECK_OK(cf_master_migrate_reset(m, 1));
  CHECK_OK(cf_master_doctor(m, NULL));
  cf_master_close(m);
}

/*
** Fails the n-th allocation for n = 1, 2, ... until a run completes
** without reaching it: every path must end in CF_OK or CF_NOMEM-derived
** failure, never crash or leak (AddressSanitizer checks the leaks).
*/
CF_TEST(test_master_survives_allocation_failure_at_every_step) {
  const char *url = cf_test_pg_createdb();
  for (uint64_t n = 1; n < 10000; n++) {
    char err[256];
    cf_master *m = NULL;
    cf__alloc_fail_at(n);
    int rc = cf_master_open(url, &m, err, sizeof err);
    if (rc == CF_OK) {
      rc = cf_master_migrate_up(m);
      if (rc == CF_OK) rc = cf_master_seed(m);
      if (rc == CF_OK) rc = cf_master_doctor(m, NULL);
      if (rc == CF_OK) {
        int pending = 0;
        rc = cf_master_migrate_status(m, &pending);
      }
    }
    uint64_t used = cf__alloc_count();
    cf__alloc_fail_at(0);
    cf_master_close(m);
    CHECK_MSG(rc == CF_OK || rc == CF_NOMEM, "allocation %llu failed: rc %d (%s)",
              (unsigned long long)n, rc, cf_strerror(rc));
    if (used < n) {
      CHECK_OK(rc);
      return;
    }
  }
  CHECK_MSG(0, "did not converge");
}

CF_TEST(test_pgcluster_starts_private_server_and_removes_it) {
  char err[512];
  cf_pgcluster *c = NULL;
  CHECK_OK(cf_pgcluster_start(NULL, "cf_cluster_test", &c, err, sizeof err));
  char dir[1024];
  snprintf(dir, sizeof dir, "%s", cf_pgcluster_dir(c));
  CHECK(strstr(cf_pgcluster_url(c), "127.0.0.1") != NULL);
  CHECK(strstr(cf_pgcluster_stop_command(c), dir) != NULL);
  cf_master *m = NULL;
  CHECK_OK(cf_master_open(cf_pgcluster_url(c), &m, err, sizeof err));
  int failures = 0;
  CHECK_EQ(cf_master_doctor(m, &failures), CF_ERROR); /* empty: no tables yet */
  CHECK(failures > 0);
  CHECK_OK(cf_master_migrate_up(m));
  CHECK_OK(cf_master_doctor(m, NULL));
  cf_master_close(m);
  CHECK_OK(cf_pgcluster_stop(c));
  struct stat st;
  CHECK(stat(dir, &st) != 0);
}
