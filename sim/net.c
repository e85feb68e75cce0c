/*
** sim/net.c: the in-process transport of the fast mode (sim/world.h
** sim_transport): a simulated network between each node's client session
** (cf__csess) and an in-process server -- one server session (cf__ssess)
** per connection, its jobs run inline with cf__sjob_run on the server's
** own Postgres connection (a non-owner role, RLS applies).
**
** Several nodes sync at once: each event (deliver one frame either way,
** run one job, apply a kept page) is chosen at random among every open
** connection, so pushes, pulls and pages of different nodes interleave and
** any frame may wait behind others (delay, reordering between
** connections).  Faults, from the step's own stream:
**
**   drop     a frame is lost; as on TCP that breaks the connection: both
**            sessions see it close, the node reconnects (a new batch number
**            for what was in flight; the master may have committed it)
**   kill     the node's process dies at that event: the replica is closed
**            without finishing anything and reopened from its file
**   replay   a PUSH is captured and sent again later, byte for byte, on
**            another connection (a duplicated or reordered request): the
**            master must answer it from its record or refuse it, never
**            apply it twice or call a stale batch "applied"
**
** A frame within one connection is never duplicated or reordered: that is
** what TCP guarantees and what the protocol relies on.
*/
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sim/world.h"

const char *sim_user_token(sim_world *w, int u);

#define QCAP 64
#define MAX_ATTEMPTS 4

/* Fault rates, per mille of events. */
#define RATE_DROP 15
#define RATE_KILL 4
#define RATE_REPLAY 60

typedef struct frameq {
  uint8_t *b[QCAP];
  size_t n[QCAP];
  int len;
} frameq;

typedef struct conn {
  sim_world *w;
  int node;        /* index */
  cf__ssess *ss;   /* the server side, NULL when closed */
  frameq c2s, s2c; /* frames in flight */
  cf__sjob *job;   /* submitted, not yet run */
  int open;        /* a connection is under way */
  int cclosed;     /* the client closed */
  int sclosed;     /* the server closed */
  int scode;       /* with this code */
  int attempts;    /* connections so far */
  int done;        /* this node's sync is over */
  int faulted;     /* a fault touched this node's sync */
  int64_t pulled;  /* the session's PULLED count already added */
  int ghost;       /* a replay connection: no client session */
} conn;

static int q_push(frameq *q, const uint8_t *b, size_t n) {
  if (q->len == QCAP) return CF_BUSY;
  q->b[q->len] = malloc(n ? n : 1);
  if (q->b[q->len] == NULL) return CF_NOMEM;
  memcpy(q->b[q->len], b, n);
  q->n[q->len] = n;
  q->len++;
  return CF_OK;
}

static uint8_t *q_pop(frameq *q, size_t *n) {
  uint8_t *b = q->b[0];
  *n = q->n[0];
  memmove(q->b, q->b + 1, (size_t)(q->len - 1) * sizeof q->b[0]);
  memmove(q->n, q->n + 1, (size_t)(q->len - 1) * sizeof q->n[0]);
  q->len--;
  return b;
}

static void q_clear(frameq *q) {
  for (int i = 0; i < q->len; i++)
    free(q->b[i]);
  q->len = 0;
}

/* The frame type of an encoded frame (fixarray, version 1, type). */
static int frame_type(const uint8_t *b, size_t n) {
  return n >= 3 && b[1] == 1 ? b[2] : -1;
}

static void keep_copy(uint8_t **dst, size_t *dlen, const uint8_t *b, size_t n) {
  uint8_t *c = malloc(n ? n : 1);
  if (c == NULL) return;
  memcpy(c, b, n);
  free(*dst);
  *dst = c;
  *dlen = n;
}

/* --- effects ------------------------------------------------------------------ */

static int c_send(void *ctx, const uint8_t *b, size_t n) {
  conn *c = ctx;
  if (!c->open || c->cclosed) return CF_UNREACHABLE;
  if (frame_type(b, n) == CF_FRAME_PUSH) {
    sim_node *nd = &c->w->nodes[c->node];
    if (nd->last_push) {
      free(nd->prev_push);
      nd->prev_push = nd->last_push;
      nd->prev_push_len = nd->last_push_len;
      nd->last_push = NULL;
    }
    keep_copy(&nd->last_push, &nd->last_push_len, b, n);
  }
  return q_push(&c->c2s, b, n);
}
static void c_close(void *ctx, int code, const char *reason) {
  (void)code;
  (void)reason;
  ((conn *)ctx)->cclosed = 1;
}
static int s_send(void *ctx, const uint8_t *b, size_t n) {
  conn *c = ctx;
  if (c->sclosed) return CF_UNREACHABLE;
  return q_push(&c->s2c, b, n);
}
static void s_close(void *ctx, int code, const char *reason) {
  (void)reason;
  conn *c = ctx;
  c->sclosed = 1;
  c->scode = code;
}
static void s_deadline(void *ctx, int64_t ms) {
  (void)ctx;
  (void)ms; /* no event waits long enough for the HELLO or token deadline */
}
static void s_submit(void *ctx, cf__sjob *j) {
  conn *c = ctx;
  if (c->job != NULL) cf__sjob_free(c->job); /* cannot happen: one job at a time */
  c->job = j;
}
static const char *s_peer(void *ctx) {
  (void)ctx;
  return "sim";
}

static const cf__sjob_limits sim_limits = {200, 100};

static int server_new(sim_world *w, conn *c) {
  cf__ssess_config cfg = {w->auth, sim_limits};
  cf__ssess_io io = {c, s_send, s_close, s_deadline, s_submit, s_peer, NULL};
  sim_set_actor(w, -1);
  if (cf__ssess_new(++w->session_ids, &cfg, &io, &c->ss) != CF_OK)
    return sim_error(w, "ssess_new");
  return 0;
}

static void server_drop(conn *c) {
  cf__ssess_free(c->ss);
  c->ss = NULL;
  cf__sjob_free(c->job);
  c->job = NULL;
  q_clear(&c->c2s);
  q_clear(&c->s2c);
}

static int run_job(sim_world *w, conn *c) {
  cf__sjob *j = c->job;
  c->job = NULL;
  sim_set_actor(w, -1);
  cf__sjob_run(w->srv, &sim_limits, j);
  if (j->db_rc == CF_UNREACHABLE) {
    cf__sjob_free(j);
    return sim_error(w, "the server's database connection failed: %s",
                     cf__pg_errmsg(w->srv));
  }
  cf__ssess_job_done(c->ss, j);
  return 0;
}

/* --- one node's connections ---------------------------------------------------- */

static void add_pulled(sim_world *w, conn *c) {
  sim_node *n = &w->nodes[c->node];
  if (n->cs == NULL) return;
  int64_t p = cf__csess_count(n->cs, CF_SYNC_PULLED);
  w->count[SIM_PULLED] += p - c->pulled;
  c->pulled = p;
}

/* Opens a connection for c's node (or fails it at once when offline). */
static int conn_start(sim_world *w, conn *c) {
  sim_node *n = &w->nodes[c->node];
  c->attempts++;
  c->cclosed = c->sclosed = 0;
  c->scode = 0;
  sim_set_actor(w, c->node);
  if (cf__csess_start(n->cs) != CF_OK) {
    c->done = 1;
    return 0;
  }
  if (n->offline) {
    cf__csess_on_close(n->cs, CF_UNREACHABLE, 0, "offline");
    if (cf__csess_finish(n->cs) != CF_OK) { /* offline: expected */
    }
    c->done = 1;
    return 0;
  }
  w->count[SIM_SYNCS]++;
  if (server_new(w, c) != 0) return -1;
  c->open = 1;
  cf__csess_io io = {c, c_send, c_close};
  sim_set_actor(w, c->node);
  if (cf__csess_open(n->cs, &io, sim_user_token(w, n->user)) !=
      CF_OK) { /* seen at close */
  }
  return 0;
}

/* Is rc a failure the harness expects without a fault?  Revocation. */
static int clean_failure(int rc) { return rc == CF_OK || rc == CF_PERMISSION; }

/* The connection ended (broken: lost at a frame).  Reconnects if useful. */
static int conn_end(sim_world *w, conn *c, int broken) {
  sim_node *n = &w->nodes[c->node];
  server_drop(c);
  c->open = 0;
  sim_set_actor(w, c->node);
  cf__csess_on_close(n->cs, CF_OK, broken ? 1006 : (c->sclosed ? c->scode : 1000),
                     broken ? "connection lost" : "closed");
  add_pulled(w, c);
  int rc = cf__csess_finish(n->cs);
  if (clean_failure(rc)) {
    c->done = 1;
    return 0;
  }
  if (!c->faulted)
    return sim_violation(w, "%s: sync failed without a fault: %s: %s", n->name,
                         cf_strerror(rc), cf__csess_errmsg(n->cs));
  if (rc != CF_UNREACHABLE && rc != CF_PROTOCOL && rc != CF_BUSY)
    /* A failure no fault explains: the replica or the master went wrong. */
    return sim_violation(w, "%s: sync failed: %s: %s", n->name, cf_strerror(rc),
                         cf__csess_errmsg(n->cs));
  if (c->attempts >= MAX_ATTEMPTS) {
    c->done = 1;
    return 0;
  }
  return conn_start(w, c);
}

/* Kills c's node in the middle of its sync. */
static int conn_kill(sim_world *w, conn *c) {
  add_pulled(w, c);
  server_drop(c);
  c->open = 0;
  sim_node_kill(w, c->node);
  c->done = 1;
  c->pulled = 0;
  return sim_node_open(w, c->node);
}

/* --- replays: a request sent again on a connection of its own ------------------- */

/* Feeds one frame to a ghost server session and runs its job: returns the
** reply frames in c.s2c. */
static int ghost_feed(sim_world *w, conn *c, const uint8_t *b, size_t n) {
  sim_set_actor(w, -1);
  cf__ssess_on_message(c->ss, b, n);
  while (c->job != NULL)
    if (run_job(w, c) != 0) return -1;
  return 0;
}

static int decode_first(conn *c, cf_frame *f, uint8_t **bytes) {
  size_t n;
  *bytes = NULL;
  if (c->s2c.len == 0) return -1;
  *bytes = q_pop(&c->s2c, &n);
  char err[256];
  if (cf__frame_decode(*bytes, n, NULL, f, err, sizeof err) != CF_OK) return -1;
  return 0;
}

/* Replays a PUSH (bytes) of node i.  Checks what the master answers. */
static int replay_push(sim_world *w, int i, const uint8_t *push, size_t push_len) {
  sim_node *n = &w->nodes[i];
  conn c;
  memset(&c, 0, sizeof c);
  c.w = w;
  c.node = i;
  c.ghost = 1;
  if (server_new(w, &c) != 0) return -1;
  w->count[SIM_FAULT_REPLAY]++;
  cf_hello h;
  cf__hello_init(&h, sim_user_token(w, n->user), CF_PROTO_MAX, "clientflow-sim-replay");
  int rc = cf__node_id_parse(cf_node_id(n->node), strlen(cf_node_id(n->node)), &h.node);
  if (rc == CF_OK)
    rc = cf__uuid_parse(w->orgs[n->org].id, strlen(w->orgs[n->org].id), &h.org);
  if (rc == CF_OK) rc = cf__uuid_parse(w->users[n->user].id, 36, &h.user);
  h.hlc = (cf_hlc)w->vnow_ms << 16;
  cf_buf b;
  cf__buf_init(&b, CF_CODEC_MAX_TOKEN + 1024);
  if (rc == CF_OK) rc = cf__encode_hello(&h, &b);
  int res = 0;
  cf_frame f, p;
  uint8_t *fb = NULL;
  int have_f = 0, have_p = 0;
  uint8_t digest0[32], digest1[32];
  if (rc != CF_OK) {
    res = sim_error(w, "replay: HELLO");
    goto out;
  }
  if (ghost_feed(w, &c, (const uint8_t *)b.p, b.len) != 0) goto fail;
  if (decode_first(&c, &f, &fb) != 0) goto out;
  have_f = 1;
  if (f.type != CF_FRAME_WELCOME) goto out; /* revoked: nothing to replay */
  uint64_t last = f.u.welcome.last_batch;
  char err[256];
  if (cf__frame_decode(push, push_len, NULL, &p, err, sizeof err) != CF_OK) {
    res = sim_error(w, "replay: kept PUSH does not decode: %s", err);
    goto out;
  }
  have_p = 1;
  uint64_t seq = p.u.push.batch_seq;
  if (sim_master_digest(w, n->org, digest0) != 0) goto fail;
  q_clear(&c.s2c);
  if (ghost_feed(w, &c, push, push_len) != 0) goto fail;
  cf__frame_free(&f);
  free(fb);
  have_f = 0;
  if (decode_first(&c, &f, &fb) != 0) {
    res = sim_violation(w, "%s: a replayed PUSH got no answer", n->name);
    goto out;
  }
  have_f = 1;
  if (seq < last) {
    if (f.type == CF_FRAME_PUSH_RESULT)
      res = sim_violation(w,
                          "%s: stale batch %" PRIu64 " (the master's last is %" PRIu64
                          ") was answered with results instead of ERROR state",
                          n->name, seq, last);
  } else if (seq == last) {
    if (sim_master_digest(w, n->org, digest1) != 0) goto fail;
    if (memcmp(digest0, digest1, 32) != 0)
      res = sim_violation(w, "%s: replaying batch %" PRIu64 " changed the master",
                          n->name, seq);
    else if (f.type != CF_FRAME_PUSH_RESULT && f.type != CF_FRAME_ACCESS_REVOKED)
      res = sim_violation(w, "%s: replay of the last batch %" PRIu64 " was refused",
                          n->name, seq);
  }
  /* seq > last: the master never committed it; the replay is a late first
  ** delivery and may apply (the node sends those changes again anyway). */
  goto out;
fail:
  res = -1;
out:
  if (have_f) cf__frame_free(&f);
  if (have_p) cf__frame_free(&p);
  free(fb);
  cf__buf_free(&b);
  server_drop(&c);
  return res;
}

/* Applies node i's last CHANGES page again: nothing may change. */
static int replay_page(sim_world *w, int i) {
  sim_node *n = &w->nodes[i];
  if (n->last_page == NULL) return 0;
  cf_frame f;
  char err[256];
  if (cf__frame_decode(n->last_page, n->last_page_len, NULL, &f, err, sizeof err) !=
      CF_OK)
    return sim_error(w, "replay: kept page does not decode: %s", err);
  uint8_t d0[32], d1[32];
  int res = sim_node_digest(w, i, d0);
  sim_set_actor(w, i);
  if (res == 0 &&
      cf__store_apply(n->node, f.u.changes.rows, f.u.changes.nrows, -1) != CF_OK)
    res = sim_violation(w, "%s: re-applying a page failed: %s", n->name,
                        cf_node_errmsg(n->node));
  if (res == 0) res = sim_node_digest(w, i, d1);
  if (res == 0 && memcmp(d0, d1, 32) != 0)
    res = sim_violation(w, "%s: re-applying its last page changed the replica", n->name);
  cf__frame_free(&f);
  return res;
}

static int mem_replay(sim_world *w, int i) {
  sim_node *n = &w->nodes[i];
  int rc = 0;
  if (n->prev_push) {
    uint8_t *copy = malloc(n->prev_push_len);
    if (copy == NULL) return sim_error(w, "out of memory");
    memcpy(copy, n->prev_push, n->prev_push_len);
    rc = replay_push(w, i, copy, n->prev_push_len);
    free(copy);
  }
  if (rc == 0 && n->last_push) {
    uint8_t *copy = malloc(n->last_push_len);
    if (copy == NULL) return sim_error(w, "out of memory");
    memcpy(copy, n->last_push, n->last_push_len);
    rc = replay_push(w, i, copy, n->last_push_len);
    free(copy);
  }
  if (rc == 0) rc = replay_page(w, i);
  return rc;
}

/* --- the sync of a set of nodes -------------------------------------------------- */

typedef struct pending_replay {
  int node;
  uint8_t *b;
  size_t n;
} pending_replay;

static int mem_sync(sim_world *w, const int *nodes, int n, uint64_t faults) {
  conn cs[SIM_MAX_NODES];
  sim_prng fr;
  sim_prng_seed(&fr, faults ? faults : 0x51u);
  pending_replay pend[16];
  int npend = 0;
  int res = 0;
  memset(cs, 0, sizeof cs);
  for (int k = 0; k < n; k++) {
    cs[k].w = w;
    cs[k].node = nodes[k];
    sim_node *nd = &w->nodes[nodes[k]];
    sim_set_actor(w, nodes[k]);
    cf__csess_begin_run(nd->cs, 0);
    if (conn_start(w, &cs[k]) != 0) goto out;
  }
  for (int events = 0; events < 100000; events++) {
    int live[SIM_MAX_NODES], nl = 0;
    for (int k = 0; k < n; k++)
      if (!cs[k].done) live[nl++] = k;
    if (nl == 0) break;
    conn *c = &cs[live[sim_prng_below(&fr, (uint64_t)nl)]];
    sim_node *nd = &w->nodes[c->node];
    w->vnow_ms += 1;
    /* What can happen on this connection now. */
    int can[4], nc = 0;
    if (c->c2s.len > 0 && !c->sclosed) can[nc++] = 0;
    if (c->job != NULL) can[nc++] = 1;
    if (c->s2c.len > 0 && !c->cclosed) can[nc++] = 2;
    if (cf__csess_has_deferred(nd->cs)) can[nc++] = 3;
    if (nc == 0) {
      if (c->cclosed || c->sclosed) {
        if (conn_end(w, c, 0) != 0) goto out;
        continue;
      }
      res = sim_error(w, "%s: the sessions stalled", nd->name);
      goto out;
    }
    int what = can[sim_prng_below(&fr, (uint64_t)nc)];
    if (faults && what != 1 && sim_prng_chance(&fr, RATE_KILL)) {
      c->faulted = 1;
      if (conn_kill(w, c) != 0) goto out;
      continue;
    }
    if (faults && (what == 0 || what == 2) && sim_prng_chance(&fr, RATE_DROP)) {
      c->faulted = 1;
      w->count[SIM_FAULT_DROP]++;
      if (conn_end(w, c, 1) != 0) goto out;
      continue;
    }
    size_t len;
    uint8_t *b;
    switch (what) {
      case 0:
        b = q_pop(&c->c2s, &len);
        if (faults && frame_type(b, len) == CF_FRAME_PUSH && npend < 16 &&
            sim_prng_chance(&fr, RATE_REPLAY)) {
          pend[npend].node = c->node;
          pend[npend].b = b;
          pend[npend].n = len;
          npend++;
          b = malloc(len);
          if (b == NULL) {
            res = sim_error(w, "out of memory");
            goto out;
          }
          memcpy(b, pend[npend - 1].b, len);
        }
        sim_set_actor(w, -1);
        cf__ssess_on_message(c->ss, b, len);
        free(b);
        break;
      case 1:
        if (run_job(w, c) != 0) goto out;
        break;
      case 2:
        b = q_pop(&c->s2c, &len);
        if (frame_type(b, len) == CF_FRAME_CHANGES)
          keep_copy(&nd->last_page, &nd->last_page_len, b, len);
        sim_set_actor(w, c->node);
        cf__csess_on_message(nd->cs, b, len);
        free(b);
        break;
      default:
        sim_set_actor(w, c->node);
        cf__csess_apply_deferred(nd->cs);
        break;
    }
    if (w->failed) goto out;
    /* A replay of a captured request, at a random later moment. */
    if (npend > 0 && sim_prng_chance(&fr, 100)) {
      npend--;
      int rc = replay_push(w, pend[npend].node, pend[npend].b, pend[npend].n);
      free(pend[npend].b);
      if (rc != 0) goto out;
    }
  }
  for (int k = 0; k < n; k++)
    if (!cs[k].done) {
      res = sim_error(w, "%s: the sync did not end", w->nodes[cs[k].node].name);
      goto out;
    }
  while (npend > 0 && !w->failed) {
    npend--;
    (void)replay_push(w, pend[npend].node, pend[npend].b, pend[npend].n);
    free(pend[npend].b);
  }
out:
  for (int k = 0; k < n; k++) {
    if (cs[k].ss || cs[k].job || cs[k].c2s.len || cs[k].s2c.len) server_drop(&cs[k]);
    if (cs[k].open && !cs[k].done && w->nodes[cs[k].node].cs) {
      sim_node *nd = &w->nodes[cs[k].node];
      cf__csess_on_close(nd->cs, CF_OK, 1006, "harness stopped");
      if (cf__csess_finish(nd->cs) != CF_OK) { /* stopped by the harness */
      }
    }
  }
  for (int k = 0; k < npend; k++)
    free(pend[k].b);
  return w->failed ? -1 : res;
}

const sim_transport sim_transport_memory = {"memory", mem_sync, mem_replay};
