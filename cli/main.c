/*
** cli/main.c: entry point of the `clientflow` program; dispatches to the
** subcommands listed in cli/cli.h.
*/
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "clientflow.h"
#include "cli/cli.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: clientflow <command> [options]\n"
          "\n"
          "ClientFlow Sync %s: offline-first sync node for the ClientFlow CRM.\n"
          "\n"
          "commands:\n",
          cf_version());
#define CF_X_USAGE(name, fn, summary) fprintf(out, "  %-9s %s\n", #name, summary);
  CF_COMMANDS(CF_X_USAGE)
#undef CF_X_USAGE
  fprintf(out,
          "\n"
          "`clientflow serve` also answers the REST API on the same port, each\n"
          "request as its token's user (Authorization: Bearer, from `clientflow\n"
          "token`): GET /api/crm/organizations, /api/crm/contacts?orgId=...,\n"
          "/api/crm/deals, /api/crm/appointments, /api/crm/metrics (docs/rest-api.md).\n"
          "\n"
          "Run `clientflow <command> --help` (or `clientflow help <command>`) for a\n"
          "command's options.  Configuration: flags, then the environment, then\n"
          "./.env (DATABASE_URL, JWT_SECRET, PORT, CLIENTFLOW_HOME).\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "help") == 0 && argc > 2) {
    /* `clientflow help seed` is `clientflow seed --help`, `clientflow help node
    ** sql` is `clientflow node sql --help`. */
    char help[] = "--help";
    char *args[] = {argv[2], argc > 3 ? argv[3] : help, help, NULL};
    int nargs = argc > 3 ? 3 : 2;
#define CF_X_HELP(name, fn, summary)                                                     \
  if (strcmp(argv[2], #name) == 0) return fn(nargs, args);
    CF_COMMANDS(CF_X_HELP)
#undef CF_X_HELP
    fprintf(stderr, "clientflow: unknown command '%s' (see clientflow help)\n", argv[2]);
    return 2;
  }
  if (cf_cli_is_help(cmd) || strcmp(cmd, "help") == 0) {
    usage(stdout);
    return 0;
  }
  if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
    printf("clientflow %s\n", cf_version());
    return 0;
  }
#define CF_X_DISPATCH(name, fn, summary)                                                 \
  if (strcmp(cmd, #name) == 0) return fn(argc - 1, argv + 1);
  CF_COMMANDS(CF_X_DISPATCH)
#undef CF_X_DISPATCH
  fprintf(stderr, "clientflow: unknown command '%s' (see clientflow help)\n", cmd);
  return 2;
}
