/*
** cli/demo.h: the parts of `clientflow demo` (cli/cmd_demo.c).
*/
#ifndef CF_CLI_DEMO_H
#define CF_CLI_DEMO_H

/*
** The sync scenario on a migrated, seeded master: a server, three laptops,
** offline edits, reconnect, the account of what merged.  dir holds the
** replica files; admin_url is a role that may create roles.  With keep, the
** a sync server is left running in the background: OUT: *server_pid (0
** otherwise).  Returns the exit code.
*/
int cf_cli_demo_sync(const char *dir, const char *admin_url, int keep, int *server_pid);

#endif
