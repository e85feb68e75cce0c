/*
** cli/cmd_seed.c: `clientflow seed`, the demo data.
*/
#include <stdio.h>

#include "cli/cli.h"
#include "cli/master_cli.h"

static void usage(FILE *out) {
  fprintf(
      out,
      "usage: clientflow seed [--database-url URL]\n"
      "\n"
      "Loads the demo data built into clientflow (sql/seed/demo.sql) in one\n"
      "transaction: organization \"ClientFlow Demo\" with owner demo@clientflow.test,\n"
      "contacts, deals, appointments, automations, activities, daily metrics, and a\n"
      "second organization to show isolation.  Running it again leaves the same data.\n"
      "Needs every migration applied (clientflow migrate up).\n"
      "\n"
      "options:\n"
      "  --database-url URL   the master (default: $DATABASE_URL, then ./.env)\n"
      "  -h, --help           this text\n");
}

int cf_cmd_seed(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    int r = cf_cli_database_url_option("seed", argc, argv, &i);
    if (r < 0) return 2;
    if (r > 0) continue;
    if (cf_cli_is_help(argv[i])) {
      usage(stdout);
      return 0;
    }
    fprintf(stderr, "clientflow seed: unexpected argument '%s' (see --help)\n", argv[i]);
    return 2;
  }
  cf_master *m = NULL;
  int code = cf_cli_open_master("seed", &m);
  if (code != 0) return code;
  int rc = cf_master_seed(m);
  if (rc == CF_PERMISSION) {
    /* The demo data spans two organizations: RLS (and the grants) rightly
    ** refuse that to any role but the tables' owner. */
    const char *msg = cf_master_errmsg(m);
    code =
        cf_cli_fail("seed",
                    "%s: seed must run as the owner of the tables, the role that ran "
                    "`clientflow migrate up` (a superuser or a BYPASSRLS role such as "
                    "postgres): the demo data spans two organizations, which row-level "
                    "security refuses to any other role; pass that role's URL with "
                    "--database-url",
                    msg[0] ? msg : cf_strerror(rc));
  } else if (rc != CF_OK) {
    const char *msg = cf_master_errmsg(m);
    code = cf_cli_fail("seed", "%s", msg[0] ? msg : cf_strerror(rc));
  }
  cf_master_close(m);
  return code;
}
