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
  fprintf(out, "\n"
               "Run `clientflow <command> --help` for a command's options.\n"
               "Configuration: flags, then the environment, then ./.env\n"
               "(DATABASE_URL, JWT_SECRET, PORT, CLIENTFLOW_HOME).\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (cf_cli_is_help(cmd)) {
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
  fprintf(stderr, "clientflow: unknown command '%s' (see clientflow --help)\n", cmd);
  return 2;
}
