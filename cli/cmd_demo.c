/*
** cli/cmd_demo.c: `clientflow demo`, the main job end to end on a private
** PostgreSQL it starts itself.
**
** Start a private PostgreSQL 15, create a database, migrate up, seed, run
** doctor, then the sync scenario (cli/demo_sync.c: server, three laptops,
** offline edits, merges, conflicts, isolation), stop everything and remove
** its directory, also when a step fails.  With --keep PostgreSQL and a sync
** server stay up and the command prints how to reach and stop them.
*/
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/demo.h"
#include "cli/master_cli.h"
#include "platform/process.h"

static void usage(FILE *out) {
  fprintf(
      out,
      "usage: clientflow demo [--keep]\n"
      "\n"
      "Runs the main job on a private PostgreSQL 15 that it starts itself (data in a\n"
      "new directory under $CLIENTFLOW_HOME, else $TMPDIR or /tmp; a free port on\n"
      "127.0.0.1; trust authentication): applies the migrations, loads the demo\n"
      "data and runs the doctor's checks; then starts a sync server and three\n"
      "field-sales laptops, bootstraps them, makes concurrent offline edits,\n"
      "reconnects them and prints what merged and why, the rejected changes kept\n"
      "with their reasons, and proof of org isolation; then stops everything and\n"
      "removes its directory.\n"
      "\n"
      "options:\n"
      "  --keep       leave PostgreSQL and a sync server running in the background;\n"
      "               print their URLs and the command that stops both\n"
      "  -h, --help   this text\n");
}

static void step(const char *what) {
  printf("\n== %s\n", what);
  fflush(stdout);
}

static int do_migrate(cf_master *m) { return cf_master_migrate_up(m); }
static int do_seed(cf_master *m) { return cf_master_seed(m); }
static int do_doctor(cf_master *m) { return cf_master_doctor(m, NULL); }

/* The demo's steps against the private database, in order. */
static const struct demo_step {
  const char *title;        /* printed before the step */
  const char *name;         /* named in a failure */
  int (*run)(cf_master *m); /* the step */
} steps[] = {
    {"clientflow migrate up", "migrate up", do_migrate},
    {"clientflow seed", "seed", do_seed},
    {"clientflow seed (again: idempotent)", "seed (second run)", do_seed},
    {"clientflow doctor", "doctor", do_doctor},
};

/* Migrate, seed, doctor against url.  Returns the exit code. */
static int run_steps(const char *url) {
  char err[512];
  cf_master *m = NULL;
  int rc = cf_master_open(url, &m, err, sizeof err);
  if (rc != CF_OK) return cf_cli_fail("demo", "%s", err);
  cf_master_set_report(m, cf_cli_print_report, NULL);
  int code = 0;
  for (size_t i = 0; i < sizeof steps / sizeof steps[0] && code == 0; i++) {
    if (cf__interrupted()) {
      code = cf_cli_fail("demo", "interrupted (signal %d) before %s", cf__interrupted(),
                         steps[i].name);
      break;
    }
    step(steps[i].title);
    rc = steps[i].run(m);
    if (rc != CF_OK) {
      const char *msg = cf_master_errmsg(m);
      code = cf_cli_fail("demo", "%s failed: %s", steps[i].name,
                         msg[0] ? msg : cf_strerror(rc));
    }
  }
  if (code == 0 && cf__interrupted())
    code = cf_cli_fail("demo", "interrupted (signal %d)", cf__interrupted());
  cf_master_close(m);
  return code;
}

int cf_cmd_demo(int argc, char **argv) {
  int keep = 0;
  for (int i = 1; i < argc; i++) {
    if (cf_cli_is_help(argv[i])) {
      usage(stdout);
      return 0;
    } else if (strcmp(argv[i], "--keep") == 0) {
      keep = 1;
    } else {
      fprintf(stderr, "clientflow demo: unexpected argument '%s' (see --help)\n",
              argv[i]);
      return 2;
    }
  }
  char err[512];
  cf_pgcluster *cluster = NULL;
  /* Ctrl-C must not leave a server behind: finish the step, then stop it. */
  cf__interrupt_catch();
  step("starting a private PostgreSQL 15");
  int rc = cf_pgcluster_start(cf_cli_config("CLIENTFLOW_HOME"), "clientflow", &cluster,
                              err, sizeof err);
  if (rc != CF_OK) return cf_cli_fail("demo", "%s", err[0] ? err : cf_strerror(rc));
  printf("started in %s\nDATABASE_URL=%s\n", cf_pgcluster_dir(cluster),
         cf_pgcluster_url(cluster));
  fflush(stdout);

  int code = run_steps(cf_pgcluster_url(cluster));
  int server_pid = 0;
  if (code == 0 && !cf__interrupted())
    code = cf_cli_demo_sync(cf_pgcluster_dir(cluster), cf_pgcluster_url(cluster), keep,
                            &server_pid);

  char pid_text[32] = "";
  if (server_pid) snprintf(pid_text, sizeof pid_text, "%d; ", server_pid);
  if (keep && !cf__interrupted()) {
    printf("\nThe server keeps running (--keep):\n"
           "  export DATABASE_URL='%s'\n"
           "  stop it and remove its data with:\n"
           "  %s%s%s\n",
           cf_pgcluster_url(cluster), server_pid ? "kill " : "",
           server_pid ? pid_text : "", cf_pgcluster_stop_command(cluster));
    cf_pgcluster_detach(cluster);
    return code;
  }
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", cf_pgcluster_dir(cluster));
  step("stopping PostgreSQL");
  if (cf_pgcluster_stop(cluster) != CF_OK) {
    if (code == 0)
      return cf_cli_fail("demo", "could not stop PostgreSQL or remove %s", dir);
    return code;
  }
  printf("stopped; removed %s\n", dir);
  if (code == 0)
    printf("\ndemo finished: migrations, seed, checks, sync, merges, conflicts and "
           "isolation "
           "all OK\n");
  return code;
}
