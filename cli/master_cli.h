/*
** cli/master_cli.h: what the database commands (migrate, seed, doctor,
** demo) share: the --database-url option, opening the master with one clear
** line on failure, and printing report lines.
*/
#ifndef CF_CLI_MASTER_H
#define CF_CLI_MASTER_H

#include "clientflow.h"

/*
** Handles "--database-url URL" / "--database-url=URL" at argv[*i] (and
** advances *i past the value).  Returns 1 if argv[*i] was that option, 0 if
** not, -1 (after printing a usage line) if its value is missing.
*/
int cf_cli_database_url_option(const char *cmd, int argc, char **argv, int *i);

/*
** Opens the master named by DATABASE_URL (flag > env > .env) with report
** lines printed on stdout.  OUT: *out.  On failure prints one line
** "clientflow <cmd>: <reason>" on stderr and returns 1 (the exit code).
*/
int cf_cli_open_master(const char *cmd, cf_master **out);

/* A cf_report_fn that prints each line on stdout with an OK/WARNING/FAIL tag. */
void cf_cli_print_report(void *ctx, cf_report_kind kind, const char *line);

#endif
