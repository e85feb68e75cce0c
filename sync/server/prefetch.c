/*
** sync/server/prefetch.c: the next page of a pull read ahead (see
** sync/server/prefetch.h; docs/server.md, "Pages read ahead").
**
**   slot state   what it holds                    leaves on
**   ----------   ------------------------------   ------------------------------
**   IDLE         nothing                          a PULL answered with `more`:
**                                                 the next PULL goes to a worker
**   RUNNING      a read on a worker (gen)         it ends: READY, or handed to the
**                                                 session if its PULL came (claimed)
**   READY        the answer, read at read_ms      the matching PULL: handed over;
**                                                 any other request: forgotten
**
** A read ahead and the hand-over of a page already read both go through the
** pool as one item type (an item whose answer is already there does
** nothing on its worker), so that every job reaches its session from the
** pool's hand-back on the loop thread, and a server stopping with items
** queued frees them (ops->drop) like any job.
*/
#include <stdatomic.h>
#include <string.h>

#include "platform/platform.h"
#include "sync/server/job_run.h"
#include "sync/server/prefetch.h"

typedef enum pf_state { PF_IDLE, PF_RUNNING, PF_READY } pf_state;

struct cf__prefetch {
  const cf__prefetch_host *host; /* the server's side (borrowed) */
  pf_state state;                /* see the table above */
  uint64_t gen;                  /* names the read RUNNING; moves on when it is
                                    forgotten, so its answer is thrown away */
  uint64_t from;                 /* RUNNING, READY: the PULL's from_seq */
  uint64_t limit;                /* ...its limit */
  char *claims;                  /* ...the claims it runs as (owned) */
  int claimed;                   /* RUNNING: the session's PULL waits for it */
  cf__sjob *ready;               /* READY: the answer (owned) */
  int64_t read_ms;               /* READY: when it was read (monotonic ms) */
};

/* A read ahead on a worker, or a page read ahead on its way to the session
** (answered: the worker leaves it alone). */
typedef struct ahead_item {
  cf__pool_item item;            /* the pool's head */
  const cf__prefetch_host *host; /* the server */
  uint64_t session_id;           /* whose */
  uint64_t gen;                  /* the slot's gen when it started */
  int answered;                  /* job holds its answer already */
  cf__sjob *job;                 /* the PULL (owned) */
} ahead_item;

static atomic_uint_least64_t hits, wasted;

uint64_t cf__prefetch_hits(void) { return atomic_load(&hits); }
uint64_t cf__prefetch_wasted(void) { return atomic_load(&wasted); }

static int64_t mono_ms(void) { return cf__monotonic_ns() / 1000000; }

int cf__prefetch_new(const cf__prefetch_host *host, cf__prefetch **out) {
  *out = cf__calloc(1, sizeof **out);
  if (*out == NULL) return CF_NOMEM;
  (*out)->host = host;
  return CF_OK;
}

/* Back to IDLE: a page kept is freed, a read under way is disowned (both
** count as wasted when `waste`). */
static void forget(cf__prefetch *slot, int waste) {
  if (waste && slot->state != PF_IDLE) atomic_fetch_add(&wasted, 1);
  if (slot->state == PF_READY) {
    cf__sjob_free(slot->ready);
    slot->ready = NULL;
  }
  slot->gen++;
  slot->state = PF_IDLE;
  slot->claimed = 0;
  cf__free(slot->claims);
  slot->claims = NULL;
}

void cf__prefetch_free(cf__prefetch *slot) {
  if (slot == NULL) return;
  forget(slot, 1);
  cf__free(slot);
}

/* --- the items in the pool ------------------------------------------------- */

/* Worker thread, as the server's own sync jobs. */
static cf__pool_conn ahead_run(cf__pg *pg, cf__pool_item *item) {
  ahead_item *it = (ahead_item *)item;
  if (it->answered) return CF_POOL_KEEP;
  return cf__sjob_run_pooled(pg, it->host->limits, it->job);
}

/* A page fit to be kept for a later PULL: a page (not REBOOTSTRAP, an error
** or a revocation, which the PULL itself reads again and answers). */
static int keepable(const cf__sjob *j) {
  return j->has_cursor && j->close_code == 0 && j->db_rc == CF_OK && j->extra.len == 0;
}

/* Loop thread. */
static void ahead_done(cf__pool_item *item) {
  ahead_item *it = (ahead_item *)item;
  const cf__prefetch_host *host = it->host;
  cf__sjob *j = it->job;
  uint64_t id = it->session_id, gen = it->gen;
  int answered = it->answered;
  cf__free(it);
  if (answered) { /* a page read ahead, for the PULL that claimed it */
    host->deliver(host->ctx, j);
    return;
  }
  cf__prefetch *slot = host->slot_of(host->ctx, id);
  if (slot == NULL || slot->state != PF_RUNNING || slot->gen != gen) {
    cf__sjob_free(j); /* forgotten meanwhile (and counted then) */
    return;
  }
  if (slot->claimed) {
    /* The session's PULL came while this ran: this is its answer, whatever
    ** it says (it is the same request, read after the one before it). */
    forget(slot, 0);
    atomic_fetch_add(&hits, 1);
    host->deliver(host->ctx, j);
    return;
  }
  if (!keepable(j)) {
    forget(slot, 1);
    cf__sjob_free(j);
    return;
  }
  slot->state = PF_READY;
  slot->ready = j;
  slot->read_ms = mono_ms();
}

static void ahead_drop(cf__pool_item *item) {
  ahead_item *it = (ahead_item *)item;
  cf__sjob_free(it->job);
  cf__free(it);
}

static const cf__pool_ops ahead_ops = {ahead_run, ahead_done, ahead_drop};

static int submit_item(cf__prefetch *slot, cf__sjob *j, int answered) {
  ahead_item *it = cf__calloc(1, sizeof *it);
  if (it == NULL) return CF_NOMEM;
  it->item.ops = &ahead_ops;
  it->item.kind = CF_POOL_SYNC;
  it->host = slot->host;
  it->session_id = j->session_id;
  it->gen = slot->gen;
  it->answered = answered;
  it->job = j;
  int rc = cf__pool_submit(slot->host->pool, &it->item);
  if (rc != CF_OK) cf__free(it);
  return rc;
}

/* --- the session's side ------------------------------------------------------ */

void cf__prefetch_answered(cf__prefetch *slot, const cf__sjob *j) {
  if (slot == NULL || slot->state != PF_IDLE || j->kind != CF_SJOB_PULL || !j->more ||
      !keepable(j) || j->claims_json == NULL || j->cursor_after > (uint64_t)INT64_MAX)
    return;
  /* The PULL the client sends next: from the page's last_seq, same limit. */
  cf_pull next = {j->cursor_after, j->frame.u.pull.limit};
  cf_buf b;
  cf__buf_init(&b, 64);
  cf__sjob *ahead = NULL;
  int rc = cf__encode_pull(&next, &b);
  if (rc == CF_OK)
    rc = cf__sjob_new(CF_SJOB_PULL, j->session_id, j->claims_json, strlen(j->claims_json),
                      j->org, &j->node, (const uint8_t *)b.p, b.len, slot->host->limits,
                      &ahead);
  cf__buf_free(&b);
  if (rc == CF_OK && (slot->claims = cf__strdup(j->claims_json)) == NULL) rc = CF_NOMEM;
  if (rc == CF_OK) {
    slot->gen++;
    slot->from = next.from_seq;
    slot->limit = next.limit;
    slot->claimed = 0;
    rc = submit_item(slot, ahead, 0);
  }
  if (rc == CF_OK) {
    slot->state = PF_RUNNING;
    return;
  }
  cf__sjob_free(ahead);
  cf__free(slot->claims);
  slot->claims = NULL;
}

int cf__prefetch_claim(cf__prefetch *slot, cf__sjob *j) {
  if (slot == NULL || slot->state == PF_IDLE) return 0;
  if (slot->claimed) return 0; /* NEVER: the session has one request at a time */
  int match = j->kind == CF_SJOB_PULL && j->frame.u.pull.from_seq == slot->from &&
              j->frame.u.pull.limit == slot->limit && j->claims_json != NULL &&
              strcmp(j->claims_json, slot->claims) == 0;
  if (match && slot->state == PF_RUNNING) {
    slot->claimed = 1;
    cf__sjob_free(j);
    return 1;
  }
  if (match && mono_ms() - slot->read_ms <= CF_PREFETCH_MAX_AGE_MS) {
    cf__sjob *ready = slot->ready;
    slot->ready = NULL;
    forget(slot, 0);
    if (submit_item(slot, ready, 1) != CF_OK) {
      cf__sjob_free(ready); /* the PULL reads it again */
      atomic_fetch_add(&wasted, 1);
      return 0;
    }
    atomic_fetch_add(&hits, 1);
    cf__sjob_free(j);
    return 1;
  }
  forget(slot, 1);
  return 0;
}
