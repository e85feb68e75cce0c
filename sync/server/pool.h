/*
** sync/server/pool.h: the server's one worker pool (internal).  It runs the
** sync sessions' jobs (sync/server/server.c) and the REST API's requests
** (sync/server/rest.c) on the master.  Design: docs/server.md, "The worker
** pool".
**
** N worker threads, each owning one Postgres connection (cf__pg) that it
** opens on first use from the pool's URL and keeps across items.  Work comes
** as items of a kind (CF_POOL_SYNC, CF_POOL_REST), one FIFO per kind.  Each
** kind has a cap: at most that many workers run items of the kind at once,
** so slow queries of one kind never hold every worker the other kind needs.
** A free worker takes the oldest item of a kind below its cap, visiting the
** kinds in turn.
**
**   cf__pool_submit (loop)                     cf__pool_free (loop)
**        |                                          | running items finish,
**        v                                          | queued ones are dropped
**   queue[kind] --> worker: ops->run(pg, item) --> done list --> post -->
**                                                 ops->done(item) (loop)
**
** STALE CONNECTIONS.  A connection that served earlier items may have been
** cut since (a Postgres restart, a pooler's or firewall's idle timeout).
** When run says the connection failed (CF_POOL_LOST) on such a reused
** connection, the worker opens a fresh one and runs the item once more
** before anyone is told the database is away; every item must therefore be
** safe to run twice (sync jobs are: a committed PUSH is answered from its
** record; REST requests are read-only).  A failure on a fresh connection is
** an outage: db_ok turns 0 until an item reaches the database again.
**
** USAGE.
**
**     typedef struct my_item { cf__pool_item item; ... } my_item;
**     static const cf__pool_ops my_ops = {my_run, my_done, my_drop};
**     it->item.ops = &my_ops;
**     it->item.kind = CF_POOL_REST;
**     rc = cf__pool_submit(pool, &it->item);   // CF_BUSY: queue full
*/
#ifndef CF_SYNC_SERVER_POOL_H
#define CF_SYNC_SERVER_POOL_H

#include <stddef.h>

#include "clientflow.h"
#include "sync/master/pg.h"

/* The kinds of work, each with its own queue and cap. */
typedef enum cf__pool_kind {
  CF_POOL_SYNC = 0, /* a sync session's job (HELLO, PUSH, PULL) */
  CF_POOL_REST = 1, /* a REST API request */
  CF_POOL_KINDS = 2 /* number of kinds */
} cf__pool_kind;

#define CF_POOL_MAX_THREADS 64 /* workers in one pool */

/* What became of the connection an item ran on (ops->run's answer). */
typedef enum cf__pool_conn {
  CF_POOL_KEEP = 0,    /* fine: keep it for the next item */
  CF_POOL_DISCARD = 1, /* the item failed in a way that may leave the
                          session unusable: close it, answer as is */
  CF_POOL_LOST = 2     /* the connection itself failed: close it, and run
                          the item once more if the connection was reused */
} cf__pool_conn;

typedef struct cf__pool_item cf__pool_item;

/* What an item does; a static table per item type. */
typedef struct cf__pool_ops {
  /* Worker thread.  Runs the item on pg and fills its answer, replacing
  ** the answer of an earlier run.  pg is NULL when no connection could be
  ** made: answer as an outage and return CF_POOL_LOST. */
  cf__pool_conn (*run)(cf__pg *pg, cf__pool_item *item);
  /* Loop thread.  The answer is ready; the item belongs to the callee. */
  void (*done)(cf__pool_item *item);
  /* The pool is freed before the item was handed back: free it unanswered.
  ** Called from cf__pool_free's thread. */
  void (*drop)(cf__pool_item *item);
} cf__pool_ops;

/* The head of every item, embedded in the caller's own struct. */
struct cf__pool_item {
  const cf__pool_ops *ops;    /* set by the caller */
  cf__pool_kind kind;         /* set by the caller */
  struct cf__pool_item *next; /* the pool's queue or done-list link */
};

/* How a pool is started. */
typedef struct cf__pool_config {
  const char *database_url;        /* the workers' connections (copied) */
  int caps[CF_POOL_KINDS];         /* workers one kind may hold at once
                                      (0: the kind is not served) */
  int nthreads;                    /* workers, 1..CF_POOL_MAX_THREADS */
  size_t queue_max[CF_POOL_KINDS]; /* items one kind may have waiting
                                      (0: no limit of the pool's own) */
  int (*post)(void *ctx, void (*fn)(void *arg), void *arg); /* runs fn(arg)
                                          on the loop thread soon; any thread */
  void *post_ctx;                                           /* its ctx */
} cf__pool_config;

typedef struct cf__pool cf__pool;

/*
** CONSTRUCTOR.  Starts cfg->nthreads workers (no connection is opened yet).
** OUT: *out, freed with cf__pool_free; NULL on failure.  CF_OK, CF_CONFIG
** (a count out of range), CF_NOMEM, CF_IO (cannot start a thread).
*/
int cf__pool_start(const cf__pool_config *cfg, cf__pool **out) CF_WARN_UNUSED;

/*
** METHOD.  Queues item (ops and kind set) for a worker.  From CF_OK on, the
** pool owns it until it hands it to ops->done or ops->drop.  CF_BUSY (that
** kind's queue is full) or CF_MISUSE (a kind the pool does not serve): the
** item stays the caller's.  Loop thread.
*/
int cf__pool_submit(cf__pool *p, cf__pool_item *item) CF_WARN_UNUSED;

/* 1 unless the last item found the database unreachable (also before any
** item ran).  Any thread. */
int cf__pool_db_ok(cf__pool *p);

/*
** DESTRUCTOR.  Stops the workers: each finishes the item it runs (its
** transaction commits or rolls back), then closes its connection.  Items
** still queued, and finished ones not yet handed back, go to ops->drop.
** Call it once the loop no longer runs posted calls (after the loop
** stopped; the transport drops a posted hand-back that is still pending
** when it is freed).  NULL is fine.
*/
void cf__pool_free(cf__pool *p);

#endif
