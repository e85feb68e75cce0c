/*
** sync/server/pool.c: the server's one worker pool (see sync/server/pool.h;
** design in docs/server.md, "The worker pool").
**
** One mutex guards the queues, the counts and the done list.  A worker
** waits until it may take an item (some kind has one queued and is below
** its cap), runs it without the lock, then puts it on the done list and
** posts one hand-back to the loop unless one is pending already.  A worker
** that finishes an item looks for the next one itself, so a finished item
** never needs to wake anyone; a submit wakes one sleeping worker.
*/
#include <string.h>

#include "platform/platform.h"
#include "platform/thread.h"
#include "sync/server/pool.h"

/* One kind's queue and counts (under the pool's mutex). */
typedef struct kind_queue {
  cf__pool_item *head, *tail; /* items waiting, oldest first */
  size_t queued;              /* their number */
  size_t queue_max;           /* most allowed to wait (0: no limit) */
  int running;                /* workers running items of the kind */
  int cap;                    /* most allowed to run at once */
} kind_queue;

/* One worker thread and what it owns. */
typedef struct worker {
  struct cf__pool *pool; /* its pool */
  int index;             /* worker number, for logs */
  cf__thread *thread;    /* the thread (NULL: not started) */
  cf__pg *pg;            /* its connection (worker thread only), or NULL */
} worker;

struct cf__pool {
  char *database_url;                            /* the workers' connections */
  int (*post)(void *, void (*)(void *), void *); /* hands back to the loop */
  void *post_ctx;                                /* its ctx */
  worker workers[CF_POOL_MAX_THREADS];           /* the workers */
  int nthreads;                                  /* started ones */
  cf__mutex *mu;                                 /* guards everything below */
  cf__cond *cv;                                  /* work or stop, for workers */
  kind_queue q[CF_POOL_KINDS];                   /* one queue per kind */
  int next_kind;                                 /* kind to look at first */
  cf__pool_item *done;                           /* finished items, newest first */
  int posted;                                    /* a hand-back is pending */
  int stopping;                                  /* workers must exit */
  int db_ok;                                     /* the last item reached Postgres */
};

static const char *const kind_names[CF_POOL_KINDS] = {"sync", "rest"};

/* --- the loop's side ------------------------------------------------------- */

/* Posted by workers: hands every finished item back, oldest first. */
static void on_done(void *arg) {
  cf__pool *p = arg;
  cf__mutex_lock(p->mu);
  cf__pool_item *list = p->done;
  p->done = NULL;
  p->posted = 0;
  cf__mutex_unlock(p->mu);
  cf__pool_item *ordered = NULL;
  while (list) {
    cf__pool_item *next = list->next;
    list->next = ordered;
    ordered = list;
    list = next;
  }
  while (ordered) {
    cf__pool_item *it = ordered;
    ordered = it->next;
    it->next = NULL;
    it->ops->done(it);
  }
}

int cf__pool_submit(cf__pool *p, cf__pool_item *item) {
  if ((unsigned)item->kind >= CF_POOL_KINDS || p->q[item->kind].cap < 1) return CF_MISUSE;
  kind_queue *q = &p->q[item->kind];
  cf__mutex_lock(p->mu);
  if (q->queue_max > 0 && q->queued >= q->queue_max) {
    cf__mutex_unlock(p->mu);
    return CF_BUSY;
  }
  item->next = NULL;
  if (q->tail)
    q->tail->next = item;
  else
    q->head = item;
  q->tail = item;
  q->queued++;
  cf__mutex_unlock(p->mu);
  /* after the unlock: a worker woken under the lock would only block on the
     mutex and need a second wake-up (futex) when the loop lets it go */
  cf__cond_signal(p->cv);
  return CF_OK;
}

int cf__pool_db_ok(cf__pool *p) {
  cf__mutex_lock(p->mu);
  int ok = p->db_ok;
  cf__mutex_unlock(p->mu);
  return ok;
}

/* --- the workers ------------------------------------------------------------- */

/* The oldest item of the next kind in turn that is below its cap, taken off
** its queue and counted as running; NULL if none.  Under the mutex. */
static cf__pool_item *take(cf__pool *p) {
  for (int i = 0; i < CF_POOL_KINDS; i++) {
    int k = (p->next_kind + i) % CF_POOL_KINDS;
    kind_queue *q = &p->q[k];
    if (q->head == NULL || q->running >= q->cap) continue;
    cf__pool_item *it = q->head;
    q->head = it->next;
    if (q->head == NULL) q->tail = NULL;
    it->next = NULL;
    q->queued--;
    q->running++;
    p->next_kind = (k + 1) % CF_POOL_KINDS; /* the other kinds go first next */
    return it;
  }
  return NULL;
}

/* Opens w's connection.  CF_OK or the connection's failure (logged). */
static int connect_worker(cf__pool *p, worker *w) {
  char err[256];
  int rc = cf__pg_connect(p->database_url, &w->pg, err, sizeof err);
  if (rc != CF_OK)
    cf__log(CF_LOG_WARN, "msg=\"worker cannot connect\" worker=%d detail=\"%s\"",
            w->index, err);
  return rc;
}

/*
** Runs it on w's connection (opened if needed), once more on a fresh one
** when the reused connection turns out broken.  Returns 1 if the database
** was reached, 0 for an outage.
*/
static int serve(cf__pool *p, worker *w, cf__pool_item *it) {
  for (int attempt = 0; attempt < 2; attempt++) {
    int reused = w->pg != NULL;
    if (w->pg == NULL && connect_worker(p, w) != CF_OK) {
      (void)it->ops->run(NULL, it);
      return 0;
    }
    cf__pool_conn c = it->ops->run(w->pg, it);
    if (c == CF_POOL_KEEP) return 1;
    cf__pg_close(w->pg);
    w->pg = NULL;
    if (c == CF_POOL_DISCARD) return 1;
    if (!reused) return 0; /* a fresh connection failed: an outage */
    cf__log(CF_LOG_INFO, "msg=\"retrying on a fresh connection\" worker=%d kind=%s",
            w->index, kind_names[it->kind]);
  }
  return 0; /* NEVER: the second attempt runs on a fresh connection */
}

/* Puts a finished item on the done list and wakes the loop if needed. */
static void hand_back(cf__pool *p, cf__pool_item *it, int db_ok) {
  cf__mutex_lock(p->mu);
  p->q[it->kind].running--;
  p->db_ok = db_ok;
  it->next = p->done;
  p->done = it;
  int post = !p->posted;
  p->posted = 1;
  cf__mutex_unlock(p->mu);
  if (post && p->post(p->post_ctx, on_done, p) != CF_OK) {
    cf__log(CF_LOG_ERROR, "msg=\"cannot wake the event loop\"");
    cf__mutex_lock(p->mu);
    p->posted = 0; /* the next finished item tries again */
    cf__mutex_unlock(p->mu);
  }
}

static void worker_main(void *arg) {
  worker *w = arg;
  cf__pool *p = w->pool;
  for (;;) {
    cf__pool_item *it = NULL;
    cf__mutex_lock(p->mu);
    while (!p->stopping && (it = take(p)) == NULL)
      cf__cond_wait(p->cv, p->mu);
    cf__mutex_unlock(p->mu);
    if (it == NULL) break; /* stopping */
    hand_back(p, it, serve(p, w, it));
  }
  cf__pg_close(w->pg);
  w->pg = NULL;
}

/* --- lifetime ------------------------------------------------------------------ */

int cf__pool_start(const cf__pool_config *cfg, cf__pool **out) {
  *out = NULL;
  if (cfg->nthreads < 1 || cfg->nthreads > CF_POOL_MAX_THREADS || cfg->post == NULL ||
      cfg->database_url == NULL)
    return CF_CONFIG;
  for (int k = 0; k < CF_POOL_KINDS; k++)
    if (cfg->caps[k] < 0 || cfg->caps[k] > cfg->nthreads) return CF_CONFIG;
  cf__pool *p = cf__calloc(1, sizeof *p);
  if (p == NULL) return CF_NOMEM;
  p->post = cfg->post;
  p->post_ctx = cfg->post_ctx;
  p->db_ok = 1;
  for (int k = 0; k < CF_POOL_KINDS; k++) {
    p->q[k].cap = cfg->caps[k];
    p->q[k].queue_max = cfg->queue_max[k];
  }
  int rc = CF_NOMEM;
  p->database_url = cf__strdup(cfg->database_url);
  if (p->database_url == NULL) goto out;
  rc = cf__mutex_new(&p->mu);
  if (rc == CF_OK) rc = cf__cond_new(&p->cv);
  for (int i = 0; rc == CF_OK && i < cfg->nthreads; i++) {
    p->workers[i].pool = p;
    p->workers[i].index = i;
    rc = cf__thread_start(worker_main, &p->workers[i], &p->workers[i].thread);
    if (rc == CF_OK) p->nthreads++;
  }
out:
  if (rc != CF_OK) {
    cf__pool_free(p);
    return rc;
  }
  *out = p;
  return CF_OK;
}

/* Drops every item of the list starting at it. */
static void drop_list(cf__pool_item *it) {
  while (it) {
    cf__pool_item *next = it->next;
    it->next = NULL;
    it->ops->drop(it);
    it = next;
  }
}

void cf__pool_free(cf__pool *p) {
  if (p == NULL) return;
  if (p->mu) {
    cf__mutex_lock(p->mu);
    p->stopping = 1;
    if (p->cv) cf__cond_broadcast(p->cv);
    cf__mutex_unlock(p->mu);
  }
  /* Workers finish the item they hold; queued items never started, so
  ** their clients retry them. */
  for (int i = 0; i < p->nthreads; i++)
    cf__thread_join(p->workers[i].thread);
  for (int k = 0; k < CF_POOL_KINDS; k++)
    drop_list(p->q[k].head);
  drop_list(p->done);
  cf__cond_free(p->cv);
  cf__mutex_free(p->mu);
  cf__free(p->database_url);
  cf__free(p);
}
