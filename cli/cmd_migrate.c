/*
** cli/cmd_migrate.c: `clientflow migrate up|status|reset`.
*/
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/master_cli.h"

static void usage(FILE *out) {
  fprintf(
      out,
      "usage: clientflow migrate up|status|reset [--force] [--database-url URL]\n"
      "\n"
      "Applies the PostgreSQL migrations built into clientflow (sql/postgres/NNN_*.sql)\n"
      "in order, each in its own transaction, recording each with its SHA-256 in\n"
      "cf_meta.schema_migrations.\n"
      "\n"
      "  up       apply the pending migrations (refuses if an applied file changed)\n"
      "  status   list applied and pending migrations (fails if an applied file "
      "changed)\n"
      "  reset    drop every table the migrations made, with its data, and apply all\n"
      "           again; needs --force\n"
      "\n"
      "options:\n"
      "  --database-url URL   the master (default: $DATABASE_URL, then ./.env)\n"
      "  --force              confirm reset\n"
      "  -h, --help           this text\n");
}

int cf_cmd_migrate(int argc, char **argv) {
  const char *action = NULL;
  int force = 0;
  for (int i = 1; i < argc; i++) {
    int r = cf_cli_database_url_option("migrate", argc, argv, &i);
    if (r < 0) return 2;
    if (r > 0) continue;
    if (cf_cli_is_help(argv[i])) {
      usage(stdout);
      return 0;
    } else if (strcmp(argv[i], "--force") == 0) {
      force = 1;
    } else if (argv[i][0] != '-' && action == NULL) {
      action = argv[i];
    } else {
      fprintf(stderr, "clientflow migrate: unexpected argument '%s' (see --help)\n",
              argv[i]);
      return 2;
    }
  }
  if (action == NULL || (strcmp(action, "up") != 0 && strcmp(action, "status") != 0 &&
                         strcmp(action, "reset") != 0)) {
    fprintf(stderr, "clientflow migrate: say up, status or reset (see --help)\n");
    return 2;
  }
  if (strcmp(action, "reset") == 0 && !force)
    return cf_cli_fail("migrate",
                       "reset drops every table and its data: confirm with --force");

  cf_master *m = NULL;
  int code = cf_cli_open_master("migrate", &m);
  if (code != 0) return code;
  int rc;
  if (strcmp(action, "up") == 0)
    rc = cf_master_migrate_up(m);
  else if (strcmp(action, "status") == 0)
    rc = cf_master_migrate_status(m, NULL);
  else
    rc = cf_master_migrate_reset(m, force);
  if (rc != CF_OK) {
    const char *msg = cf_master_errmsg(m);
    code = cf_cli_fail("migrate", "%s", msg[0] ? msg : cf_strerror(rc));
  }
  cf_master_close(m);
  return code;
}
