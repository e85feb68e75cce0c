/*
** tests/integration/test_worker_pool.c: the server's one worker pool
** (sync/server/pool.c; docs/server.md, "The worker pool") on its own: the
** cap per kind keeps workers for the other kind while one kind's items
** block, a lost reused connection is retried once on a fresh one, an
** outage shows in db_ok, and freeing the pool finishes running items and
** drops queued ones.
**
** The items here run no SQL; they only block on a gate or answer as told,
** on real connections to a fresh test database.  The test thread plays the
** event loop: the pool's post function queues (fn, arg) and pump() runs
** them.
*/
#include <string.h>

#include "cf_test.h"
#include "clientflow.h"
#include "platform/platform.h"
#include "platform/thread.h"
#include "sync/server/pool.h"

#define MAX_POSTS 64

/* The test's "event loop" and the state its items share. */
typedef struct loop {
  cf__mutex *mu;                 /* guards everything below */
  cf__cond *cv;                  /* signalled on every change */
  void (*fn[MAX_POSTS])(void *); /* posted calls */
  void *arg[MAX_POSTS];          /* their arguments */
  int nposted;                   /* pending posted calls */
  int gate_open;                 /* blocking items may return */
  int running[CF_POOL_KINDS];    /* items running now, per kind */
  int most[CF_POOL_KINDS];       /* the most ever running at once */
} loop;

/* One test item. */
typedef struct item {
  cf__pool_item head;    /* the pool's: first */
  loop *lp;              /* the loop */
  int block;             /* wait for the gate before answering */
  cf__pool_conn answer1; /* what the first run answers */
  int runs;              /* how often run was called */
  int got_null;          /* run was called with no connection */
  int done;              /* handed back (loop thread) */
  int dropped;           /* dropped by cf__pool_free */
} item;

static int post(void *ctx, void (*fn)(void *), void *arg) {
  loop *lp = ctx;
  cf__mutex_lock(lp->mu);
  CHECK(lp->nposted < MAX_POSTS);
  lp->fn[lp->nposted] = fn;
  lp->arg[lp->nposted] = arg;
  lp->nposted++;
  cf__cond_broadcast(lp->cv);
  cf__mutex_unlock(lp->mu);
  return CF_OK;
}

/* Runs the posted calls, as the loop thread would. */
static void pump(loop *lp) {
  for (;;) {
    cf__mutex_lock(lp->mu);
    if (lp->nposted == 0) {
      cf__mutex_unlock(lp->mu);
      return;
    }
    void (*fn)(void *) = lp->fn[0];
    void *arg = lp->arg[0];
    lp->nposted--;
    memmove(lp->fn, lp->fn + 1, sizeof lp->fn[0] * (size_t)lp->nposted);
    memmove(lp->arg, lp->arg + 1, sizeof lp->arg[0] * (size_t)lp->nposted);
    cf__mutex_unlock(lp->mu);
    fn(arg);
  }
}

static cf__pool_conn item_run(cf__pg *pg, cf__pool_item *h) {
  item *it = (item *)h;
  loop *lp = it->lp;
  cf__mutex_lock(lp->mu);
  int k = h->kind;
  it->runs++;
  if (pg == NULL) it->got_null = 1;
  lp->running[k]++;
  if (lp->running[k] > lp->most[k]) lp->most[k] = lp->running[k];
  cf__cond_broadcast(lp->cv);
  while (it->block && !lp->gate_open)
    cf__cond_wait(lp->cv, lp->mu);
  lp->running[k]--;
  cf__pool_conn c = pg == NULL      ? CF_POOL_LOST
                    : it->runs == 1 ? it->answer1
                                    : CF_POOL_KEEP;
  cf__mutex_unlock(lp->mu);
  return c;
}

static void item_done(cf__pool_item *h) { ((item *)h)->done = 1; }
static void item_drop(cf__pool_item *h) { ((item *)h)->dropped = 1; }
static const cf__pool_ops ops = {item_run, item_done, item_drop};

static void item_init(item *it, loop *lp, cf__pool_kind kind, int block) {
  memset(it, 0, sizeof *it);
  it->head.ops = &ops;
  it->head.kind = kind;
  it->lp = lp;
  it->block = block;
  it->answer1 = CF_POOL_KEEP;
}

static void loop_init(loop *lp) {
  memset(lp, 0, sizeof *lp);
  CHECK_OK(cf__mutex_new(&lp->mu));
  CHECK_OK(cf__cond_new(&lp->cv));
}

static void loop_free(loop *lp) {
  cf__cond_free(lp->cv);
  cf__mutex_free(lp->mu);
}

/* Waits (bounded: 30 s) until running[kind] == n. */
static void wait_running(loop *lp, cf__pool_kind kind, int n) {
  int64_t until = cf__monotonic_ns() + (int64_t)30 * 1000000000;
  cf__mutex_lock(lp->mu);
  while (lp->running[kind] != n && cf__monotonic_ns() < until) {
    cf__mutex_unlock(lp->mu);
    cf__sleep_ms(5);
    cf__mutex_lock(lp->mu);
  }
  int got = lp->running[kind];
  cf__mutex_unlock(lp->mu);
  CHECK_MSG(got == n, "%d items of kind %d running, expected %d", got, (int)kind, n);
}

/* Pumps until it->done (bounded: 30 s). */
static void wait_done(loop *lp, item *it) {
  int64_t until = cf__monotonic_ns() + (int64_t)30 * 1000000000;
  while (!it->done && cf__monotonic_ns() < until) {
    pump(lp);
    if (!it->done) cf__sleep_ms(5);
  }
  CHECK_MSG(it->done, "an item was not handed back");
}

static cf__pool *start(loop *lp, int sync_cap, int rest_cap, const char *url) {
  cf__pool_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.database_url = url;
  cfg.caps[CF_POOL_SYNC] = sync_cap;
  cfg.caps[CF_POOL_REST] = rest_cap;
  cfg.nthreads = sync_cap + rest_cap;
  cfg.queue_max[CF_POOL_REST] = 2;
  cfg.post = post;
  cfg.post_ctx = lp;
  cf__pool *p = NULL;
  CHECK_OK(cf__pool_start(&cfg, &p));
  return p;
}

CF_TEST(test_pool_a_kind_at_its_cap_leaves_workers_to_the_other) {
  loop lp;
  loop_init(&lp);
  cf__pool *p = start(&lp, 1, 2, cf_test_pg_createdb());
  /* Three blocking REST items: two run (the cap), one waits. */
  item rest[3];
  for (int i = 0; i < 3; i++) {
    item_init(&rest[i], &lp, CF_POOL_REST, 1);
    if (i < 2) CHECK_OK(cf__pool_submit(p, &rest[i].head));
  }
  wait_running(&lp, CF_POOL_REST, 2);
  CHECK_OK(cf__pool_submit(p, &rest[2].head));
  /* The REST queue is bounded: the third waiting request is refused. */
  item extra[2];
  item_init(&extra[0], &lp, CF_POOL_REST, 0);
  item_init(&extra[1], &lp, CF_POOL_REST, 0);
  CHECK_OK(cf__pool_submit(p, &extra[0].head));
  CHECK_EQ(cf__pool_submit(p, &extra[1].head), CF_BUSY);
  /* Sync jobs still get their worker, one after the other. */
  for (int i = 0; i < 3; i++) {
    item s;
    item_init(&s, &lp, CF_POOL_SYNC, 0);
    CHECK_OK(cf__pool_submit(p, &s.head));
    wait_done(&lp, &s);
    CHECK_EQ(s.runs, 1);
  }
  CHECK(!rest[0].done && !rest[1].done && !rest[2].done);
  CHECK_EQ(rest[2].runs, 0);
  /* Open the gate: every REST item ends, never more than two at once. */
  cf__mutex_lock(lp.mu);
  lp.gate_open = 1;
  cf__cond_broadcast(lp.cv);
  cf__mutex_unlock(lp.mu);
  for (int i = 0; i < 3; i++)
    wait_done(&lp, &rest[i]);
  wait_done(&lp, &extra[0]);
  CHECK_EQ(lp.most[CF_POOL_REST], 2);
  CHECK_EQ(lp.most[CF_POOL_SYNC], 1);
  CHECK(cf__pool_db_ok(p));
  cf__pool_free(p);
  loop_free(&lp);
}

CF_TEST(test_pool_retries_a_lost_reused_connection_once_and_reports_an_outage) {
  loop lp;
  loop_init(&lp);
  cf__pool *p = start(&lp, 1, 0, cf_test_pg_createdb());
  item a, b, c;
  /* The first item opens the worker's connection. */
  item_init(&a, &lp, CF_POOL_SYNC, 0);
  CHECK_OK(cf__pool_submit(p, &a.head));
  wait_done(&lp, &a);
  CHECK_EQ(a.runs, 1);
  /* The reused connection is lost: the item runs again, on a fresh one. */
  item_init(&b, &lp, CF_POOL_SYNC, 0);
  b.answer1 = CF_POOL_LOST;
  CHECK_OK(cf__pool_submit(p, &b.head));
  wait_done(&lp, &b);
  CHECK_EQ(b.runs, 2);
  CHECK(!b.got_null);
  CHECK(cf__pool_db_ok(p));
  /* Lost on a fresh connection (the retry's): an outage, no third run. */
  item_init(&c, &lp, CF_POOL_SYNC, 0);
  c.answer1 = CF_POOL_DISCARD; /* closes the connection: the next is fresh */
  CHECK_OK(cf__pool_submit(p, &c.head));
  wait_done(&lp, &c);
  item d;
  item_init(&d, &lp, CF_POOL_SYNC, 0);
  d.answer1 = CF_POOL_LOST;
  CHECK_OK(cf__pool_submit(p, &d.head));
  wait_done(&lp, &d);
  CHECK_EQ(d.runs, 1);
  CHECK(!cf__pool_db_ok(p));
  /* The next item that reaches the database clears it. */
  item e;
  item_init(&e, &lp, CF_POOL_SYNC, 0);
  CHECK_OK(cf__pool_submit(p, &e.head));
  wait_done(&lp, &e);
  CHECK(cf__pool_db_ok(p));
  /* A kind the pool does not serve is refused. */
  item r;
  item_init(&r, &lp, CF_POOL_REST, 0);
  CHECK_EQ(cf__pool_submit(p, &r.head), CF_MISUSE);
  cf__pool_free(p);
  loop_free(&lp);
}

CF_TEST(test_pool_with_no_database_answers_items_as_an_outage) {
  loop lp;
  loop_init(&lp);
  cf__pool *p = start(&lp, 1, 1, "host=/nonexistent-cf-socket-dir dbname=none");
  item a;
  item_init(&a, &lp, CF_POOL_REST, 0);
  CHECK_OK(cf__pool_submit(p, &a.head));
  wait_done(&lp, &a);
  CHECK_EQ(a.runs, 1);
  CHECK(a.got_null);
  CHECK(!cf__pool_db_ok(p));
  cf__pool_free(p);
  loop_free(&lp);
}

static void free_main(void *p) { cf__pool_free(p); }

CF_TEST(test_pool_free_finishes_running_items_and_drops_queued_ones) {
  loop lp;
  loop_init(&lp);
  cf__pool *p = start(&lp, 1, 0, cf_test_pg_createdb());
  item run, queued;
  item_init(&run, &lp, CF_POOL_SYNC, 1);
  item_init(&queued, &lp, CF_POOL_SYNC, 0);
  CHECK_OK(cf__pool_submit(p, &run.head));
  wait_running(&lp, CF_POOL_SYNC, 1);
  CHECK_OK(cf__pool_submit(p, &queued.head));
  /* Free on another thread: it waits for the running item. */
  cf__thread *t = NULL;
  CHECK_OK(cf__thread_start(free_main, p, &t));
  cf__sleep_ms(200); /* the pool is stopping before the running item ends */
  cf__mutex_lock(lp.mu);
  lp.gate_open = 1;
  cf__cond_broadcast(lp.cv);
  cf__mutex_unlock(lp.mu);
  cf__thread_join(t);
  /* The running item ran to its end but was never handed back: its posted
  ** hand-back is dropped with the loop, like the transport drops it. */
  CHECK_EQ(run.runs, 1);
  CHECK(run.dropped && !run.done);
  CHECK(queued.dropped && queued.runs == 0);
  loop_free(&lp);
}
