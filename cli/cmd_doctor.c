/*
** cli/cmd_doctor.c: `clientflow doctor`, the database checks.
*/
#include <stdio.h>

#include "cli/cli.h"
#include "cli/master_cli.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: clientflow doctor [--database-url URL]\n"
          "\n"
          "Checks the master: connection, the raw query SELECT 1, the ten tables, Row\n"
          "Level Security enabled and forced on each, migrations applied and pending.\n"
          "Warns when the connected role is a superuser, owns the tables or has\n"
          "BYPASSRLS (the sync server must run as none of those).  Exits non-zero when\n"
          "any check fails.\n"
          "\n"
          "options:\n"
          "  --database-url URL   the master (default: $DATABASE_URL, then ./.env)\n"
          "  -h, --help           this text\n");
}

int cf_cmd_doctor(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    int r = cf_cli_database_url_option("doctor", argc, argv, &i);
    if (r < 0) return 2;
    if (r > 0) continue;
    if (cf_cli_is_help(argv[i])) {
      usage(stdout);
      return 0;
    }
    fprintf(stderr, "clientflow doctor: unexpected argument '%s' (see --help)\n",
            argv[i]);
    return 2;
  }
  printf("Testing database connection...\n");
  fflush(stdout);
  cf_master *m = NULL;
  int code = cf_cli_open_master("doctor", &m);
  if (code != 0) return code;
  int failures = 0;
  int rc = cf_master_doctor(m, &failures);
  if (rc != CF_OK) {
    const char *msg = cf_master_errmsg(m);
    code = cf_cli_fail("doctor", "%s", msg[0] ? msg : cf_strerror(rc));
  }
  cf_master_close(m);
  return code;
}
