/*
** sync/server/prefetch.c: the next pages of a pull read ahead (see
** sync/server/prefetch.h; docs/server.md, "Pages read ahead").
**
** A slot is a queue of at most CF_PREFETCH_DEPTH entries, in cursor order,
** each one read of a page (the PULL the client will send, from the page
** before's last_seq):
**
**   entry state   what it holds                    leaves on
**   -----------   ------------------------------   ------------------------------
**   RUNNING       a read on a worker (gen)         it ends: READY, or handed to the
**                                                  session if its PULL came (claimed,
**                                                  the first entry only)
**   READY         the answer, read at read_ms      the matching PULL (first entry):
**                                                  handed over; any other request:
**                                                  the whole queue is forgotten
**
** The queue grows at its end: when the last entry's page is known to end
** with `more` -- told by its worker as soon as the page is cut, before its
** rows are converted (cut_seen), or by its answer -- the read of the page
** after it starts, while the queue holds fewer than CF_PREFETCH_DEPTH.  So
** the master's read of page n+2 overlaps the conversion and encoding of
** page n+1, and the pages in hand are bounded.  A read whose answer ends
** elsewhere than its worker said (the encoder cut the frame short, or a
** retry on a fresh connection read a later snapshot) drops the entries
** after it: they read from a cursor nobody will ask for.
**
** A read ahead and the hand-over of a page already read both go through the
** pool as one item type (an item whose answer is already there does
** nothing on its worker), so that every job reaches its session from the
** pool's hand-back on the loop thread, and a server stopping with items
** queued frees them (ops->drop) like any job.  The worker's "cut" notice is
** a call posted to the loop (host->post) that reads the item: the item is
** freed only once both that call and the hand-back have run (cut_pending),
** or by ops->drop once the loop no longer runs posted calls.
*/
#include <stdatomic.h>
#include <string.h>

#include "platform/platform.h"
#include "sync/server/job_run.h"
#include "sync/server/prefetch.h"

/* One read ahead, queued in a slot. */
typedef struct pf_entry {
  uint64_t gen;    /* names the read; its answer is thrown away unless an entry
                      still has this gen when it ends */
  uint64_t from;   /* the PULL's from_seq */
  int running;     /* 1: on a worker (RUNNING); 0: READY */
  int claimed;     /* RUNNING, first entry: the session's PULL waits for it */
  cf__sjob *ready; /* READY: the answer (owned) */
  int64_t read_ms; /* READY: when it was read (monotonic ms) */
  int next_known;  /* the page's end is known (its cut, or its answer) */
  uint64_t next;   /* ...its last_seq: the next entry's from */
} pf_entry;

struct cf__prefetch {
  const cf__prefetch_host *host; /* the server's side (borrowed) */
  pf_entry e[CF_PREFETCH_DEPTH]; /* the queue, in cursor order */
  int n;                         /* entries in use */
  uint64_t next_gen;             /* the gen of the next read started */
  uint64_t session_id;           /* whose (set with the first entry) */
  uint64_t limit;                /* n > 0: the PULLs' limit */
  char *claims;                  /* n > 0: the claims they run as (owned) */
  char org[CF_UUID_TEXT_LEN];    /* n > 0: the session's org */
  cf_nodeid node;                /* n > 0: the session's node */
};

/* A read ahead on a worker, or a page read ahead on its way to the session
** (answered: the worker leaves it alone). */
typedef struct cf__prefetch_item {
  cf__pool_item item;                   /* the pool's head */
  const cf__prefetch_host *host;        /* the server */
  uint64_t session_id;                  /* whose */
  uint64_t gen;                         /* its entry's gen */
  int answered;                         /* job holds its answer already */
  cf__sjob *job;                        /* the PULL (owned) */
  int cut_told;                         /* worker: the cut was posted (once per item) */
  uint64_t cut_next;                    /* worker -> loop: where the page ends */
  int cut_pending;                      /* the cut's posted call has not run yet */
  int handed_back;                      /* loop: ahead_done ran (the item waits for the
                                           cut's call to free it, in the host's limbo) */
  struct cf__prefetch_item *limbo_next; /* ...the limbo's link */
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

/* Drops entries i.. (a page kept is freed, a read under way is disowned;
** each counts as wasted when `waste`). */
static void drop_from(cf__prefetch *slot, int i, int waste) {
  for (int k = i; k < slot->n; k++) {
    if (waste) atomic_fetch_add(&wasted, 1);
    cf__sjob_free(slot->e[k].ready);
    memset(&slot->e[k], 0, sizeof slot->e[k]);
  }
  if (i < slot->n) slot->n = i;
  if (slot->n == 0) {
    cf__free(slot->claims);
    slot->claims = NULL;
  }
}

static void forget(cf__prefetch *slot, int waste) { drop_from(slot, 0, waste); }

/* Takes the first entry out of the queue (its answer, if any, is the
** caller's). */
static void pop_front(cf__prefetch *slot) {
  memmove(&slot->e[0], &slot->e[1], (size_t)(slot->n - 1) * sizeof slot->e[0]);
  memset(&slot->e[slot->n - 1], 0, sizeof slot->e[0]);
  slot->n--;
  if (slot->n == 0) {
    cf__free(slot->claims);
    slot->claims = NULL;
  }
}

static int find(const cf__prefetch *slot, uint64_t gen) {
  for (int i = 0; i < slot->n; i++)
    if (slot->e[i].gen == gen) return i;
  return -1;
}

void cf__prefetch_free(cf__prefetch *slot) {
  if (slot == NULL) return;
  forget(slot, 1);
  cf__free(slot);
}

/* --- the items in the pool ------------------------------------------------- */

static void extend(cf__prefetch *slot);

/* Items handed back whose cut notice has not run yet wait in the host's
** limbo (loop thread), so that cf__prefetch_host_cleanup can free them if
** the server stops before that notice runs. */
static void limbo_add(ahead_item *it);
static void limbo_remove(ahead_item *it);

/* Loop thread: the end of a read's page, told by its worker. */
static void cut_seen(void *arg) {
  ahead_item *it = arg;
  it->cut_pending = 0;
  const cf__prefetch_host *host = it->host;
  uint64_t id = it->session_id, gen = it->gen, next = it->cut_next;
  if (it->handed_back) { /* ahead_done ran first and left it to us */
    limbo_remove(it);
    cf__free(it);
  }
  cf__prefetch *slot = host->slot_of(host->ctx, id);
  int i = slot != NULL ? find(slot, gen) : -1;
  if (i < 0 || !slot->e[i].running || slot->e[i].next_known) return;
  slot->e[i].next_known = 1;
  slot->e[i].next = next;
  extend(slot);
}

/* Worker thread: the page is cut and more follow (cf__pull_cut_fn). */
static void on_cut(void *ctx, uint64_t last_seq, int more) {
  ahead_item *it = ctx;
  if (!more || it->cut_told || last_seq > (uint64_t)INT64_MAX) return;
  it->cut_told = 1; /* a retry of the item says nothing more */
  it->cut_next = last_seq;
  it->cut_pending = 1;
  if (it->host->post(it->host->ctx, cut_seen, it) != CF_OK) it->cut_pending = 0;
}

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
  it->job = NULL;
  j->on_cut = NULL; /* the item it points to goes */
  j->on_cut_ctx = NULL;
  if (it->cut_pending) {
    it->handed_back = 1; /* cut_seen frees it */
    limbo_add(it);
  } else {
    cf__free(it);
  }
  if (answered) { /* a page read ahead, for the PULL that claimed it */
    host->deliver(host->ctx, j);
    return;
  }
  cf__prefetch *slot = host->slot_of(host->ctx, id);
  int i = slot != NULL ? find(slot, gen) : -1;
  if (i < 0) {
    cf__sjob_free(j); /* forgotten meanwhile (and counted then) */
    return;
  }
  pf_entry *e = &slot->e[i];
  /* The entries after this one read from where its worker said the page
  ** ends: if the answer ends elsewhere, nobody will ask for them. */
  int moved = e->next_known && (!keepable(j) || !j->more || j->cursor_after != e->next);
  if (moved) drop_from(slot, i + 1, 1);
  if (e->claimed) {
    /* The session's PULL came while this ran: this is its answer, whatever
    ** it says (it is the same request, read after the one before it). */
    pop_front(slot);
    atomic_fetch_add(&hits, 1);
    host->deliver(host->ctx, j);
    return;
  }
  if (!keepable(j)) {
    drop_from(slot, i, 1);
    cf__sjob_free(j);
    return;
  }
  e->running = 0;
  e->ready = j;
  e->read_ms = mono_ms();
  e->next_known = j->more;
  e->next = j->cursor_after;
  extend(slot);
}

static void limbo_add(ahead_item *it) {
  it->limbo_next = *it->host->limbo;
  *it->host->limbo = it;
}

static void limbo_remove(ahead_item *it) {
  ahead_item **pp = it->host->limbo;
  while (*pp != NULL && *pp != it)
    pp = &(*pp)->limbo_next;
  if (*pp != NULL) *pp = it->limbo_next;
}

void cf__prefetch_host_cleanup(const cf__prefetch_host *host) {
  ahead_item *it = *host->limbo;
  *host->limbo = NULL;
  while (it != NULL) {
    ahead_item *next = it->limbo_next;
    cf__free(it);
    it = next;
  }
}

static void ahead_drop(cf__pool_item *item) {
  ahead_item *it = (ahead_item *)item;
  cf__sjob_free(it->job);
  cf__free(it); /* the loop runs no posted call any more (pool.h) */
}

static const cf__pool_ops ahead_ops = {ahead_run, ahead_done, ahead_drop};

static int submit_item(cf__prefetch *slot, cf__sjob *j, uint64_t gen, int answered) {
  ahead_item *it = cf__calloc(1, sizeof *it);
  if (it == NULL) return CF_NOMEM;
  it->item.ops = &ahead_ops;
  it->item.kind = CF_POOL_SYNC;
  it->host = slot->host;
  it->session_id = j->session_id;
  it->gen = gen;
  it->answered = answered;
  it->job = j;
  if (!answered && slot->host->post != NULL) {
    j->on_cut = on_cut;
    j->on_cut_ctx = it;
  }
  int rc = cf__pool_submit(slot->host->pool, &it->item);
  if (rc != CF_OK) cf__free(it);
  return rc;
}

/* Starts the read of the page from `from` at the end of the queue (as the
** slot's session, claims and limit).  A failure only means no read ahead. */
static void start_read(cf__prefetch *slot, uint64_t from) {
  if (slot->n >= CF_PREFETCH_DEPTH || slot->claims == NULL) return;
  cf_pull next = {from, slot->limit};
  cf_buf b;
  cf__buf_init(&b, 64);
  cf__sjob *ahead = NULL;
  int rc = cf__encode_pull(&next, &b);
  if (rc == CF_OK)
    rc = cf__sjob_new(CF_SJOB_PULL, slot->session_id, slot->claims, strlen(slot->claims),
                      slot->org, &slot->node, (const uint8_t *)b.p, b.len,
                      slot->host->limits, &ahead);
  cf__buf_free(&b);
  uint64_t gen = ++slot->next_gen;
  if (rc == CF_OK) rc = submit_item(slot, ahead, gen, 0);
  if (rc != CF_OK) {
    cf__sjob_free(ahead);
    return;
  }
  pf_entry *e = &slot->e[slot->n++];
  memset(e, 0, sizeof *e);
  e->gen = gen;
  e->from = from;
  e->running = 1;
}

static void extend(cf__prefetch *slot) {
  if (slot->n <= 0 || slot->n >= CF_PREFETCH_DEPTH) return;
  const pf_entry *last = &slot->e[slot->n - 1];
  if (last->next_known) start_read(slot, last->next);
}

/* --- the session's side ------------------------------------------------------ */

void cf__prefetch_answered(cf__prefetch *slot, const cf__sjob *j) {
  if (slot == NULL || j->kind != CF_SJOB_PULL || !j->more || !keepable(j) ||
      j->claims_json == NULL || j->cursor_after > (uint64_t)INT64_MAX)
    return;
  if (slot->n > 0) {
    /* The queue already reads from where this answer ends: it goes on. */
    if (slot->e[0].from == j->cursor_after && slot->limit == j->frame.u.pull.limit &&
        strcmp(slot->claims, j->claims_json) == 0) {
      extend(slot);
      return;
    }
    forget(slot, 1);
  }
  /* The PULL the client sends next: from the page's last_seq, same limit. */
  if ((slot->claims = cf__strdup(j->claims_json)) == NULL) return;
  slot->session_id = j->session_id;
  slot->limit = j->frame.u.pull.limit;
  memcpy(slot->org, j->org, sizeof slot->org);
  slot->node = j->node;
  start_read(slot, j->cursor_after);
  if (slot->n == 0) {
    cf__free(slot->claims);
    slot->claims = NULL;
  }
}

int cf__prefetch_claim(cf__prefetch *slot, cf__sjob *j) {
  if (slot == NULL || slot->n == 0) return 0;
  pf_entry *e = &slot->e[0];
  if (e->claimed) return 0; /* NEVER: the session has one request at a time */
  int match = j->kind == CF_SJOB_PULL && j->frame.u.pull.from_seq == e->from &&
              j->frame.u.pull.limit == slot->limit && j->claims_json != NULL &&
              strcmp(j->claims_json, slot->claims) == 0;
  if (match && e->running) {
    e->claimed = 1;
    cf__sjob_free(j);
    return 1;
  }
  if (match && mono_ms() - e->read_ms <= CF_PREFETCH_MAX_AGE_MS) {
    cf__sjob *ready = e->ready;
    e->ready = NULL;
    pop_front(slot);
    if (submit_item(slot, ready, 0, 1) != CF_OK) {
      cf__sjob_free(ready); /* the PULL reads it again */
      atomic_fetch_add(&wasted, 1);
      forget(slot, 1);
      return 0;
    }
    atomic_fetch_add(&hits, 1);
    cf__sjob_free(j);
    return 1;
  }
  forget(slot, 1);
  return 0;
}
