/*
** tests/cf_test.c: the runner behind tests/cf_test.h.
*/
#include "cf_test.h"

#include <dirent.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "clientflow.h"

static cf_test_case *registered; /* all tests, in reverse order */
static jmp_buf on_failure;       /* where a failed check returns to */
static const char *current_name; /* the running test */
static char tmpdir[8192];        /* this test's directory, "" if none */
static char dbname[128];         /* this test's database, "" if none */
static char conninfo[1024];      /* returned by the pg helpers */
static uint64_t seed;            /* this run's seed */
static int seed_ready;           /* seed was chosen and printed */

void cf_test_register(cf_test_case *tc) {
  tc->next = registered;
  registered = tc;
}

const char *cf_test_name(void) { return current_name; }

void cf_test_fail(const char *file, int line, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "%s:%d: %s: ", file, line, current_name);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  if (seed_ready) fprintf(stderr, "replay with CF_TEST_SEED=%" PRIu64 "\n", seed);
  longjmp(on_failure, 1);
}

uint64_t cf_test_seed(void) {
  if (!seed_ready) {
    const char *env = getenv("CF_TEST_SEED");
    if (env != NULL && *env) {
      seed = strtoull(env, NULL, 10);
    } else {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      seed = (uint64_t)ts.tv_sec * 1000003u ^ (uint64_t)ts.tv_nsec ^ (uint64_t)getpid();
    }
    seed_ready = 1;
    printf("%s: seed %" PRIu64 " (replay with CF_TEST_SEED=%" PRIu64 ")\n", current_name,
           seed, seed);
  }
  return seed;
}

uint64_t cf_test_rand(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static void remove_tree(const char *path) {
  DIR *d = opendir(path);
  if (d != NULL) {
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
      char child[4096];
      snprintf(child, sizeof child, "%s/%s", path, e->d_name);
      struct stat st;
      if (lstat(child, &st) == 0 && S_ISDIR(st.st_mode))
        remove_tree(child);
      else
        unlink(child);
    }
    closedir(d);
  }
  rmdir(path);
}

const char *cf_test_tmpdir(void) {
  if (tmpdir[0]) return tmpdir;
  const char *base = getenv("CF_BINARY_DIR");
  if (base == NULL) base = getenv("TMPDIR");
  if (base == NULL) base = "/tmp";
  char parent[4096];
  snprintf(parent, sizeof parent, "%s/test-tmp", base);
  mkdir(parent, 0777);
  snprintf(tmpdir, sizeof tmpdir, "%s/%s-%d", parent, current_name, (int)getpid());
  remove_tree(tmpdir);
  if (mkdir(tmpdir, 0777) != 0) {
    tmpdir[0] = '\0';
    cf_test_fail(__FILE__, __LINE__, "cannot create a test directory under %s", parent);
  }
  return tmpdir;
}

const char *cf_test_pg_conninfo(const char *name) {
  const char *host = getenv("CF_TEST_PGHOST");
  const char *port = getenv("CF_TEST_PGPORT");
  if (host == NULL || port == NULL)
    cf_test_fail(__FILE__, __LINE__,
                 "CF_TEST_PGHOST/CF_TEST_PGPORT not set: run through ctest");
  snprintf(conninfo, sizeof conninfo,
           "host=%s port=%s user=postgres dbname=%s connect_timeout=10", host, port,
           name);
  return conninfo;
}

static int run_admin_sql(const char *sql) {
  PGconn *c = PQconnectdb(cf_test_pg_conninfo("postgres"));
  int ok = PQstatus(c) == CONNECTION_OK;
  if (ok) {
    PGresult *r = PQexec(c, sql);
    ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) fprintf(stderr, "%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
  } else {
    fprintf(stderr, "cannot connect to the test cluster: %s", PQerrorMessage(c));
  }
  PQfinish(c);
  return ok;
}

const char *cf_test_pg_createdb(void) {
  const char *tpl = getenv("CF_TEST_PGTEMPLATE");
  if (tpl == NULL) tpl = "cf_template";
  snprintf(dbname, sizeof dbname, "t_%.50s_%d", current_name, (int)getpid());
  char sql[512];
  snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", dbname);
  run_admin_sql(sql);
  snprintf(sql, sizeof sql, "CREATE DATABASE %s TEMPLATE %s", dbname, tpl);
  if (!run_admin_sql(sql)) {
    dbname[0] = '\0';
    cf_test_fail(__FILE__, __LINE__, "cannot create the test database");
  }
  return cf_test_pg_conninfo(dbname);
}

static void drop_test_db(void) {
  if (!dbname[0]) return;
  char sql[512];
  snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", dbname);
  run_admin_sql(sql);
  dbname[0] = '\0';
}

static int run_one(cf_test_case *tc) {
  current_name = tc->name;
  tmpdir[0] = '\0';
  seed_ready = 0;
  volatile int failed = 0;
  if (setjmp(on_failure) == 0) {
    tc->fn();
  } else {
    failed = 1;
  }
  drop_test_db();
  if (!failed && tmpdir[0]) remove_tree(tmpdir);
  if (failed && tmpdir[0]) fprintf(stderr, "kept %s for inspection\n", tmpdir);
  printf("%s %s\n", failed ? "FAIL" : "ok  ", tc->name);
  fflush(stdout);
  return failed;
}

int main(int argc, char **argv) {
  /* Registration order is reversed; restore file order. */
  cf_test_case *ordered = NULL;
  while (registered) {
    cf_test_case *next = registered->next;
    registered->next = ordered;
    ordered = registered;
    registered = next;
  }
  int passed = 0, failed = 0;
  for (cf_test_case *tc = ordered; tc; tc = tc->next) {
    if (argc > 1) {
      int wanted = 0;
      for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], tc->name) == 0) wanted = 1;
      if (!wanted) continue;
    }
    if (run_one(tc))
      failed++;
    else
      passed++;
  }
  if (passed + failed == 0) {
    fprintf(stderr, "no test matched\n");
    return 2;
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
