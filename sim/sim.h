/*
** sim/sim.h: the conflict-resolution harness (`clientflow sim`), the API
** the program and the tests use.  Design, scenario format and invariants:
** docs/sim.md.
**
** A run is a *script*: a list of steps (the scenario format of docs/sim.md,
** one step a line) executed against a fresh world -- real replicas in a
** directory, a real PostgreSQL database cloned from a migrated and seeded
** template, the real client and server sessions joined by a simulated
** network.  A random run generates its script from a seed while it
** executes (each generated step is recorded concretely, so the recorded
** script replays the run and can be shrunk); a scenario file is a script
** written by hand.  Every run ends with the quiet phase (heal, restore,
** sync until nothing moves) and the invariants.
**
**   sim_env *env;  sim_env_open(url_or_NULL, dir, &env, err, sizeof err);
**   sim_config cfg; sim_config_default(&cfg); cfg.seed = 7;
**   sim_result res; sim_run_random(env, &cfg, &res);   // or sim_run_script
**   ... res.ok, res.violation, res.script (the executed steps) ...
**   sim_result_free(&res); sim_env_close(env);
*/
#ifndef CF_SIM_SIM_H
#define CF_SIM_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "sim/script.h"

/* Planted bugs (test builds only; docs/sim.md "Self-test"). */
#define SIM_PLANTS(X)                                                                    \
  X(tie, "ties of equal HLC not broken by node id (core/merge.c)")                       \
  X(cursor, "a pull cursor that skips a late commit (master pull)")                      \
  X(cascade, "a pushed update keeps a stale version after a cascade")                    \
  X(stale, "a stale batch answered \"applied\"")                                         \
  X(leak, "a pull that leaks one row of another org")

/* Counters of one or many runs (the summary table). */
typedef enum sim_counter {
  SIM_SEEDS,          /* runs */
  SIM_STEPS,          /* steps executed */
  SIM_OPS,            /* local operations tried on replicas */
  SIM_OPS_REFUSED,    /* of which the replica refused (wrong org, bad value) */
  SIM_MASTER_SQL,     /* direct SQL writes on the master */
  SIM_SYNCS,          /* sync connections opened */
  SIM_PUSHED,         /* changes answered by the master */
  SIM_APPLIED,        /* of which applied */
  SIM_SUPERSEDED,     /* of which superseded (lost a merge to a newer version) */
  SIM_REJECTED,       /* of which rejected */
  SIM_PULLED,         /* rows pulled and merged */
  SIM_REJ_PERMISSION, /* rejections by reason */
  SIM_REJ_CONSTRAINT,
  SIM_REJ_INVALID,
  SIM_REJ_WRONG_ORG,
  SIM_REJ_REVOKED,
  SIM_REJ_FOREIGN_KEY,
  SIM_REJ_OTHER,
  SIM_CONFLICT_SAME_ROW, /* conflicts by kind: a pushed change superseded */
  SIM_CONFLICT_DELETED,  /* an edit of a row deleted elsewhere */
  SIM_CONFLICT_UNIQUE,   /* a unique clash */
  SIM_CONFLICT_FK,       /* a foreign key to a row deleted elsewhere */
  SIM_FAULT_DROP,        /* faults injected: connections broken at a frame */
  SIM_FAULT_KILL,        /* nodes killed */
  SIM_FAULT_REPLAY,      /* requests replayed on another connection */
  SIM_FAULT_OFFLINE,     /* partitions */
  SIM_FAULT_CLOCK,       /* clock jumps (skew, backwards) */
  SIM_FAULT_REVOKE,      /* memberships revoked */
  SIM_QUIET_ROUNDS,      /* sync rounds the quiet phase needed */
  SIM_COUNTER_MAX
} sim_counter;

/* Names of the counters, for tables and JSON. */
const char *sim_counter_name(sim_counter c);

/* What a random run does. */
typedef struct sim_config {
  uint64_t seed; /* the seed */
  int nodes;     /* replicas (1..16) */
  int orgs;      /* organizations they belong to (1..2) */
  int steps;     /* random steps before the quiet phase */
  int plant;     /* planted bug number + 1, 0 for none */
  int verbose;   /* print each step as it runs */
  int real;      /* real mode: `clientflow serve` and `clientflow node`
                    processes over loopback WebSockets (sim/real.c) */
} sim_config;

void sim_config_default(sim_config *cfg);

/* The outcome of one run. */
typedef struct sim_result {
  int ok;                         /* every invariant held */
  int error;                      /* the harness itself failed (not a verdict) */
  char violation[2048];           /* the first violation or error, "" if ok */
  int failed_step;                /* its step index, -1 in the quiet phase */
  sim_script script;              /* the executed steps (owned) */
  int64_t count[SIM_COUNTER_MAX]; /* counters of the run */
  double quiet_ms;                /* wall time of the quiet phase */
  double open_ms;                 /* wall time to clone the database and connect */
  double close_ms;                /* wall time to drop it */
  double total_ms;                /* wall time of the run */
} sim_result;

void sim_result_free(sim_result *r);

/* Where runs happen: a PostgreSQL cluster and a directory for replicas. */
typedef struct sim_env sim_env;

/*
** CONSTRUCTOR.  Uses the cluster at url (a superuser libpq URL of any
** database) or, if url is NULL, starts a private one (stopped by
** sim_env_close).  Builds a template database (migrated, seeded, the
** harness's extra users) and the server's login role.  dir: where replica
** files go (NULL: /dev/shm if present, else $TMPDIR or /tmp).
** OUT: *out.  0 or -1 with err filled.
*/
int sim_env_open(const char *url, const char *dir, sim_env **out, char *err,
                 size_t errlen);
void sim_env_close(sim_env *env);

/* Runs one random run of cfg.  Fills res (sim_result_free it).  Returns res->ok. */
int sim_run_random(sim_env *env, const sim_config *cfg, sim_result *res);

/* Runs a script (a scenario file, or a recorded run) with cfg's plant.
** Fills res.  Returns res->ok. */
int sim_run_script(sim_env *env, const sim_config *cfg, const sim_script *script,
                   sim_result *res);

/*
** Shrinks a failing script: removes steps and nodes while the run still
** fails (any violation), at most budget runs.  OUT: *out, the smallest
** failing script found (a copy of script if nothing could go).
*/
void sim_shrink(sim_env *env, const sim_config *cfg, const sim_script *script, int budget,
                sim_script *out, char *violation, size_t vlen);

/* Whether a failing run keeps its database and replica directory for
** inspection (default 1; self-tests that expect failures turn it off). */
void sim_set_keep_failed(int keep);

/* Plant names: the index of name, or -1; the name of index i. */
int sim_plant_index(const char *name);
const char *sim_plant_name(int i);
int sim_plants_compiled(void); /* 1 in builds with CF_PLANT_BUGS */

#endif
