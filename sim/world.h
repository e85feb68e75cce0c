/*
** sim/world.h: the state of one simulated run (internal to sim/): the
** master database, the users, orgs and replicas, the simulated clocks, what
** the nodes were told by the master (acknowledgements), counters, and the
** first violation.  Steps are executed by sim/world.c; the network by
** sim/net.c (a transport backend); invariants by sim/check.c; random steps
** by sim/gen.c.  Design: docs/sim.md.
*/
#ifndef CF_SIM_WORLD_H
#define CF_SIM_WORLD_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/lib.h"
#include "sim/prng.h"
#include "sim/sim.h"

#define SIM_MAX_NODES 16
#define SIM_MAX_USERS 16
#define SIM_MAX_ORGS 4
#define SIM_SECRET "clientflow-sim-secret-0123456789abcdef-0123456789"
/* Virtual time starts here (2030-01-01T00:00:00Z), far from the real
** clock, so versions depend only on the script. */
#define SIM_EPOCH_MS 1893456000000LL

struct sim_env {
  char admin_url[1024];    /* superuser URL of the maintenance database */
  char conninfo[1024];     /* the same as key=value prefix for other databases */
  char tmpl[64];           /* the template database */
  char dir[1024];          /* where replica directories go */
  cf_pgcluster *cluster;   /* the private cluster, or NULL */
  cf__pg *admin;           /* connection to the maintenance database */
  unsigned long runs;      /* databases created so far (names) */
  struct sim_dbpool *pool; /* clones made ahead (sim/dbpool.h) */
};

typedef struct sim_org {
  char name[48];
  char id[CF_UUID_TEXT_LEN];
} sim_org;

typedef struct sim_user {
  char name[48];
  char id[CF_UUID_TEXT_LEN];
  char *token; /* HS256 token (cf_token_free) */
} sim_user;

/* One acknowledged cell: the master answered "applied" for a change that
** carried it. */
typedef struct sim_ack {
  int node;                  /* which node pushed it */
  unsigned table;            /* table number */
  char id[CF_UUID_TEXT_LEN]; /* row id */
  unsigned col;              /* column index (ncols: deleted) */
  cf_ver ver;                /* its version */
  uint8_t *val;              /* cf__value_encode of its value (owned) */
  size_t val_len;
} sim_ack;

/* One outcome the master gave a node's change (by outbox seq). */
typedef struct sim_outcome {
  int node;
  int64_t seq;
  int status; /* CF_PUSH_APPLIED / SUPERSEDED / REJECTED */
  int fk;     /* rejected by a foreign key (the session may retry it) */
  unsigned table;
  char id[CF_UUID_TEXT_LEN];
} sim_outcome;

typedef struct sim_node {
  char name[48];
  int user, org;           /* indexes */
  char path[1300];         /* replica file */
  cf_node *node;           /* open replica */
  cf__csess *cs;           /* its client session */
  int offline;             /* partitioned from the server */
  int64_t clock_offset_ms; /* skew of its wall clock */
  uint8_t *last_push;      /* bytes of its last PUSH sent (replays) */
  size_t last_push_len;
  uint8_t *prev_push; /* the PUSH before it (a stale replay) */
  size_t prev_push_len;
  uint8_t *last_page; /* bytes of its last CHANGES received */
  size_t last_page_len;
  struct sim_world *world; /* back pointer (observer context) */
  int index;               /* in world->nodes */
} sim_node;

typedef struct sim_world {
  sim_env *env;
  const sim_config *cfg;
  char dbname[64];    /* this run's database */
  char run_dir[1200]; /* this run's replica directory */
  cf__pg *admin;      /* superuser connection to the run's database */
  cf__pg *srv;        /* the sync server's connection (non-owner role) */
  cf_auth *auth;      /* the server's token verifier */
  sim_prng lib_rng;   /* the library's randomness (node ids, ids) */
  sim_prng rng;       /* the generator's and the harness's choices */
  int64_t vnow_ms;    /* virtual wall time */
  int actor;          /* whose clock cf__now_ms reads: node index, -1 server */
  sim_org orgs[SIM_MAX_ORGS];
  int norgs;
  sim_user users[SIM_MAX_USERS];
  int nusers;
  unsigned char revoked[SIM_MAX_USERS][SIM_MAX_ORGS]; /* memberships revoked now */
  sim_node nodes[SIM_MAX_NODES];
  int nnodes;
  sim_ack *acks;
  size_t nacks, cap_acks;
  sim_outcome *outcomes;
  size_t noutcomes, cap_outcomes;
  uint64_t session_ids; /* server session names */
  int64_t *count;       /* the result's counters */
  int failed;           /* a violation (or harness error) was recorded */
  int error;            /* ... and it was the harness's own failure */
  char *violation;      /* the result's buffer */
  size_t violation_len;
  int step;                              /* index of the step running, -1 quiet phase */
  int in_quiet;                          /* the quiet phase is running */
  const struct sim_transport *transport; /* how syncs travel (fast or real) */
  struct sim_real *real;                 /* real mode: the server process (sim/real.c) */
  uint64_t quiet_faults;                 /* unused stream seed for quiet syncs */
} sim_world;

/* Records the first violation (printf format).  Returns -1. */
int sim_violation(sim_world *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Records a failure of the harness itself.  Returns -1. */
int sim_error(sim_world *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Makes node i (or -1: the server) the owner of the clock. */
void sim_set_actor(sim_world *w, int i);

/* Index of node / user / org by name, -1 if none. */
int sim_node_index(const sim_world *w, const char *name);
int sim_user_index(const sim_world *w, const char *name);
int sim_org_index(const sim_world *w, const char *name);

/* A UUIDv7-shaped id from the run's generator and virtual time. */
void sim_new_id(sim_world *w, char out[CF_UUID_TEXT_LEN]);

/* Opens node i's replica and session (after a kill, or at declaration). */
int sim_node_open(sim_world *w, int i);
/* Kills node i: closes the replica without finishing anything. */
void sim_node_kill(sim_world *w, int i);

/* Runs one step.  0, or -1 once w->failed. */
int sim_exec_step(sim_world *w, const sim_step *st);

/* Superuser SQL on the run's database: 0 or -1 (message in errbuf). */
int sim_master_exec(sim_world *w, const char *sql, char *errbuf, size_t errlen);
/* The first value of sql's first row (superuser), "" for NULL / no row. */
int sim_master_text(sim_world *w, const char *sql, char *out, size_t cap);
/* The same on node i's replica. */
int sim_node_text(sim_world *w, int i, const char *sql, char *out, size_t cap);

/* --- the network (sim/net.c): the in-process transport backend --------- */

/*
** A transport carries sync runs between nodes and the server.  The fast
** mode is in-process (sim/net.c); a real mode (`clientflow serve` and
** `clientflow node` processes over loopback WebSockets) would implement the
** same three operations.
*/
typedef struct sim_transport {
  const char *name;
  /* Syncs nodes[0..n) at once, interleaved; faults from stream `faults`
  ** (0: none).  Returns 0, or -1 once w->failed. */
  int (*sync)(sim_world *w, const int *nodes, int n, uint64_t faults);
  /* Replays node i's last PUSH and CHANGES (a duplicated request). */
  int (*replay)(sim_world *w, int i);
} sim_transport;

extern const sim_transport sim_transport_memory;

/* --- real mode (sim/real.c): `clientflow serve` and `clientflow node` ---- */

extern const sim_transport sim_transport_real;
/* Starts the server process for the run (server_url: its database login).
** 0 or -1. */
int sim_real_start(sim_world *w, const char *server_url);
/* Stops it (NULL-safe). */
void sim_real_stop(sim_world *w);
/* Gives node n a home as `clientflow node init` leaves it and sets
** n->path to its replica.  0 or -1. */
int sim_real_node_home(sim_world *w, sim_node *n);

/* The observer the client sessions report results to (sim/world.c). */
void sim_on_result(void *ctx, const struct cf__push_item *item,
                   const struct cf_push_result *result);

/* --- invariants (sim/check.c) ------------------------------------------- */

/* No replica holds a row of an org it does not replicate.  0 or -1. */
int sim_check_isolation(sim_world *w);
/* Everything, once quiet.  0 or -1. */
int sim_check_quiet(sim_world *w);
/* Digest of node i's replica (every cell and version), for replays. */
int sim_node_digest(sim_world *w, int i, uint8_t out[32]);
/* Digest of the master's rows of org (values and versions) and its head. */
int sim_master_digest(sim_world *w, int org, uint8_t out[32]);

/* --- random steps (sim/gen.c) ------------------------------------------- */

/* The declarations of a random run (seed, nodes).  0 or -1. */
int sim_gen_declare(const sim_config *cfg, sim_script *out);
/* One random step for the world as it is now.  0 or -1. */
int sim_gen_step(sim_world *w, sim_step *out);

#endif
