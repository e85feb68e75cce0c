/*
** sim/script.h: a simulation script -- the steps of a run -- and the
** scenario text format that writes it down (docs/sim.md "Scenario files").
** A random run records the steps it generates as a script; a scenario file
** is a script written by hand; shrinking removes steps from a script.
**
** One step a line; `#` starts a comment; strings are "double quoted" with
** \" and \\ escapes:
**
**   seed 42                          library randomness (node ids, ids)
**   user NAME ROLE ORG               a user (new or built-in) with ROLE in ORG
**   node NAME USER ORG               a replica of ORG for USER
**   NODE sql "SQL"                   a local write that must succeed
**   NODE try "SQL"                   a local write that may be refused
**   master sql|try "SQL"             direct SQL on the master (superuser)
**   NODE sync [faults=N]             one sync (network faults from stream N)
**   sync all [faults=N]              every node at once, interleaved
**   NODE offline | NODE online       partition / reconnect a node
**   partition NODE | heal            the same; heal reconnects every node
**   NODE kill                        kill the node's process, reopen the file
**   NODE clock +MS | -MS             move the node's clock (skew, backwards)
**   tick MS                          let time pass for everybody
**   revoke USER ORG | restore USER ORG   membership gone / back
**   NODE replay                      replay its last PUSH and CHANGES
**   expect NODE|master "SQL" = VALUE the first value of SQL's first row
**   expect NODE conflicts = N        its conflicts table holds N changes
**   check                            isolation now
**   quiet                            heal, restore, sync until nothing moves,
**                                    check every invariant
*/
#ifndef CF_SIM_SCRIPT_H
#define CF_SIM_SCRIPT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum sim_step_kind {
  SIM_S_SEED,
  SIM_S_USER,
  SIM_S_NODE,
  SIM_S_SQL,        /* a: node; text: SQL; must */
  SIM_S_MASTER_SQL, /* text: SQL; must */
  SIM_S_SYNC,       /* a: node ("" for all); faults */
  SIM_S_OFFLINE,    /* a: node */
  SIM_S_ONLINE,     /* a: node */
  SIM_S_HEAL,
  SIM_S_KILL,             /* a: node */
  SIM_S_CLOCK,            /* a: node; num: ms */
  SIM_S_TICK,             /* num: ms */
  SIM_S_REVOKE,           /* a: user; b: org */
  SIM_S_RESTORE,          /* a: user; b: org */
  SIM_S_REPLAY,           /* a: node */
  SIM_S_EXPECT,           /* a: node or "master"; text: SQL; value */
  SIM_S_EXPECT_CONFLICTS, /* a: node; num */
  SIM_S_CHECK,
  SIM_S_QUIET
} sim_step_kind;

typedef struct sim_step {
  sim_step_kind kind; /* what */
  char a[48];         /* node or user name */
  char b[48];         /* org name (USER, NODE, REVOKE, RESTORE), user (NODE) */
  char c[48];         /* role (USER), org (NODE) */
  char *text;         /* SQL (owned), or NULL */
  char *value;        /* expected value (owned), or NULL */
  int64_t num;        /* seed, ms, count */
  uint64_t faults;    /* fault stream seed, 0: none */
  int must;           /* sql: must succeed */
  int line;           /* source line (scenario files), 0 if generated */
} sim_step;

typedef struct sim_script {
  sim_step *v; /* steps */
  size_t n;    /* how many */
  size_t cap;  /* allocated */
} sim_script;

/* Appends a copy of st (text and value copied).  0 or -1 (out of memory). */
int sim_script_add(sim_script *s, const sim_step *st);
void sim_script_free(sim_script *s);
/* dst = a deep copy of src (dst uninitialised).  0 or -1. */
int sim_script_copy(sim_script *dst, const sim_script *src);

/* Parses text (NUL-terminated).  0, or -1 with err naming the line. */
int sim_script_parse(const char *text, sim_script *out, char *err, size_t errlen);
int sim_script_load(const char *path, sim_script *out, char *err, size_t errlen);

/* Writes one step as a line (no newline), and a whole script. */
void sim_step_print(FILE *f, const sim_step *st);
void sim_script_print(FILE *f, const sim_script *s);

#endif
