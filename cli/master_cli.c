/*
** cli/master_cli.c: shared by the database commands (see cli/master_cli.h).
*/
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/master_cli.h"

#define OPT "--database-url"

int cf_cli_database_url_option(const char *cmd, int argc, char **argv, int *i) {
  const char *arg = argv[*i];
  size_t len = strlen(OPT);
  if (strncmp(arg, OPT, len) != 0) return 0;
  if (arg[len] == '=') {
    cf_cli_config_set("DATABASE_URL", arg + len + 1);
    return 1;
  }
  if (arg[len] != '\0') return 0;
  if (*i + 1 >= argc) {
    fprintf(stderr, "clientflow %s: %s needs a value (see clientflow %s --help)\n", cmd,
            OPT, cmd);
    return -1;
  }
  cf_cli_config_set("DATABASE_URL", argv[++*i]);
  return 1;
}

int cf_cli_open_master(const char *cmd, cf_master **out) {
  char err[512];
  const char *url = cf_cli_config("DATABASE_URL");
  *out = NULL;
  if (url == NULL || *url == '\0')
    return cf_cli_fail(cmd, "DATABASE_URL is not set (pass --database-url, set it in the "
                            "environment or in ./.env)");
  int rc = cf_master_open(url, out, err, sizeof err);
  if (rc != CF_OK) return cf_cli_fail(cmd, "%s", err[0] ? err : cf_strerror(rc));
  cf_master_set_report(*out, cf_cli_print_report, NULL);
  return 0;
}

void cf_cli_print_report(void *ctx, cf_report_kind kind, const char *line) {
  static const char *const tags[] = {"", "OK       ", "WARNING  ", "FAIL     "};
  const char *tag = (unsigned)kind < sizeof tags / sizeof tags[0] ? tags[kind] : "";
  fprintf(stdout, "%s%s\n", tag, line);
  fflush(stdout);
}
