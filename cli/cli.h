/*
** cli/cli.h: the `clientflow` program's commands and shared helpers.
**
** The program is thin: each subcommand parses its arguments and calls the
** library.  CF_COMMANDS lists them once; main.c dispatches on it and prints
** the overview.  A command returns the process exit code: 0 on success,
** 1 on failure (after printing one line "clientflow <cmd>: <reason>" on
** stderr), 2 on a usage error.
*/
#ifndef CF_CLI_H
#define CF_CLI_H

#include <stdio.h>

/* X(name, function, one-line summary) */
#define CF_COMMANDS(X)                                                                   \
  X(migrate, cf_cmd_migrate, "apply, list or reset the PostgreSQL migrations")           \
  X(seed, cf_cmd_seed, "load the demo data (idempotent)")                                \
  X(doctor, cf_cmd_doctor, "check the database: connection, tables, RLS")                \
  X(token, cf_cmd_token, "mint a development JWT for a user (HS256)")                    \
  X(serve, cf_cmd_serve,                                                                 \
    "run the server: WebSocket /sync, REST API /api/crm/*, /health")                     \
  X(node, cf_cmd_node, "a device replica: init, sync, sql, status, conflicts")           \
  X(sim, cf_cmd_sim, "the conflict-resolution harness (seeded, reproducible)")           \
  X(demo, cf_cmd_demo, "the main job, end to end, on a private PostgreSQL")

#define CF_X_DECL(name, fn, summary) int fn(int argc, char **argv);
CF_COMMANDS(CF_X_DECL)
#undef CF_X_DECL

/*
** Configuration: a flag value (if the command saw one), else the
** environment, else a `.env` file in the current directory (KEY=VALUE lines,
** '#' comments, optional quotes).  Names: DATABASE_URL, JWT_SECRET, PORT,
** CLIENTFLOW_HOME.  The result is static storage or the environment's, valid
** until the next cf_cli_config_set; NULL when unset.
*/
const char *cf_cli_config(const char *name);
void cf_cli_config_set(const char *name, const char *value);

/* Prints "clientflow <cmd>: <message>" on stderr and returns 1. */
int cf_cli_fail(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* True if arg is -h or --help. */
int cf_cli_is_help(const char *arg);

/* A change's comma-separated columns (cf_change_info, cf_conflict_info) as a
** person reads them: "insert (a new row)", "delete", or "update of phone,
** email".  Returns a constant or buf (cap bytes, written as needed). */
const char *cf_cli_describe_change(const char *columns, char *buf, size_t cap);

#endif
