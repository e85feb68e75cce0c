/*
** cli/node_key.h: the replica key of `clientflow node` (cli/node_key.c).
*/
#ifndef CF_CLI_NODE_KEY_H
#define CF_CLI_NODE_KEY_H

#include "clientflow.h"

/*
** Puts the key from key_file (mode checked), a no-echo prompt (ask), or
** the configuration variable env into opts; *keyed = 1 when one was given.
** Returns 0, or the exit code after printing the reason.
*/
int cf_cli_node_key(cf_node_options *opts, const char *key_file, int ask, const char *env,
                    int *keyed);

#endif
