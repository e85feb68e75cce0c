/*
** sync/session/client_session.c: the node side of the sync channel, a state
** machine fed whole frames with two effects out (see
** sync/client_session.h; docs/protocol.md "Session", docs/sync.md).
**
**   state          sends on entry        leaves on
**   ------------   -------------------   ---------------------------------
**   CONNECTING     -                     open -> HELLO sent, WELCOME wait
**   WELCOME        HELLO                 WELCOME -> PUSHING
**   PUSHING        PUSH (next batch)     PUSH_RESULT -> PUSHING, or PULLING
**                                        when the outbox has nothing left
**   PULLING        PULL (from cursor)    CHANGES -> PULLING while more,
**                                        else DONE (IDLE when watching)
**   IDLE           -                     LIVE or a local write -> PULLING
**                                        or PUSHING
**   DONE / FAILED  close                 -
*/
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clientflow.h"
#include "core/buf.h"
#include "core/codec.h"
#include "core/uuid.h"
#include "core/version.h"
#include "platform/platform.h"
#include "store/store.h"
#include "store/store_rebootstrap.h"
#include "store/store_sync.h"
#include "sync/session/client_session.h"
#include "core/ws_codes.h"

#define DEFAULT_PULL_PAGE 2000
#define IDLE_TIMEOUT_MS 60000 /* no frame for this long: give up */

typedef enum cstate {
  CS_CONNECTING,
  CS_WELCOME,
  CS_PUSHING,
  CS_PULLING,
  CS_IDLE,
  CS_DONE,
  CS_FAILED
} cstate;

struct cf__csess {
  cf_node *node;                       /* the replica (borrowed) */
  const char *url;                     /* the server's URL, for messages (borrowed) */
  cf__csess_io io;                     /* the connection's effects (valid while open) */
  int open;                            /* a connection is open (io may be used) */
  cf_sync_progress_fn progress;        /* progress callback, may be NULL */
  void *progress_ctx;                  /* passed to progress */
  cstate state;                        /* see the table above */
  int rc;                              /* the result once FAILED */
  char errmsg[512];                    /* its detail */
  cf__push_batch *batch;               /* the batch in flight, or NULL */
  uint64_t batch_seq;                  /* its number */
  uint64_t master_batch;               /* the node's last batch the master recorded
                                          (WELCOME): new batches are numbered above */
  uint64_t max_frame;                  /* from WELCOME (0: the codec's cap) */
  uint64_t max_batch;                  /* from WELCOME */
  uint64_t max_page;                   /* from WELCOME */
  uint64_t head;                       /* the org's head seq, from WELCOME/CHANGES */
  int64_t start_cursor;                /* cursor when the pull started (progress) */
  int64_t cursor;                      /* the replica's cursor */
  int64_t last_frame_ms;               /* monotonic time of the last frame */
  uint8_t *deferred;                   /* a CHANGES page (its frame's bytes) whose apply
                                          waits until the PULL for the next page is on
                                          the wire, so the server reads page n+1 while
                                          the replica applies page n; or NULL */
  size_t deferred_len;                 /* its length */
  cf_frame deferred_frame;             /* that page decoded (borrows deferred): it is
                                          decoded once, when it arrives */
  cf__csess_applier applier;           /* where pages are applied (has_applier) */
  int has_applier;                     /* cf__csess_set_applier gave one */
  int applying;                        /* the deferred page's apply runs there (job) */
  cf__csess_apply_job job;             /* that apply */
  int64_t counts[CF_SYNC_COUNTER_MAX]; /* statistics of this run */
  char role[32];                       /* the user's role, from WELCOME */
  uint32_t proto;                      /* the protocol version, from WELCOME */
  int watch;                           /* keep the session open and follow changes */
  int pull_wanted;                     /* a LIVE notice came while busy: pull again */
  uint64_t wanted_head;                /* ...up to this head (UINT64_MAX: unknown);
                                          not if the cursor got there meanwhile */
  char **fk_retried;                   /* "table/row id" of changes sent again after a
                                          foreign-key rejection in this run */
  size_t n_fk_retried;                 /* entries in fk_retried */
  int connected;                       /* WELCOME was received in this connection */
  cf__csess_result_fn observer;        /* told each recorded result, or NULL */
  void *observer_ctx;                  /* passed to observer */
};

/* --- helpers --------------------------------------------------------------- */

static int vfail(cf__csess *s, int rc, const char *fmt, va_list ap) {
  if (s->state == CS_FAILED) return s->rc; /* keep the first reason */
  vsnprintf(s->errmsg, sizeof s->errmsg, fmt, ap);
  s->rc = rc;
  s->state = CS_FAILED;
  if (s->open) s->io.close(s->io.ctx, CF_WS_CLOSE_NORMAL, "client failed");
  return rc;
}

static int sync_fail(cf__csess *s, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int sync_fail(cf__csess *s, int rc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  rc = vfail(s, rc, fmt, ap);
  va_end(ap);
  return rc;
}

static void report(cf__csess *s, int phase, int64_t done, int64_t total) {
  if (s->progress) s->progress(s->progress_ctx, phase, done, total);
}

static int send_buf(cf__csess *s, cf_buf *b) {
  int rc =
      s->open ? s->io.send(s->io.ctx, (const uint8_t *)b->p, b->len) : CF_UNREACHABLE;
  if (rc != CF_OK) return sync_fail(s, rc, "cannot send a frame: %s", cf_strerror(rc));
  return CF_OK;
}

static int parse_uuid_text(const char *text, cf_uuid *out) {
  return cf__uuid_parse(text, strlen(text), out);
}

/* --- frames out ------------------------------------------------------------ */

static int send_hello(cf__csess *s, const char *token) {
  cf_hello h;
  cf__hello_init(&h, token, CF_PROTO_MAX, "clientflow/" CF_VERSION_STRING);
  int rc = cf__node_id_parse(cf_node_id(s->node), strlen(cf_node_id(s->node)), &h.node);
  if (rc == CF_OK) rc = parse_uuid_text(cf_node_org_id(s->node), &h.org);
  if (rc == CF_OK) rc = parse_uuid_text(cf_node_user_id(s->node), &h.user);
  if (rc != CF_OK) return sync_fail(s, rc, "the replica's identity is not valid");
  if ((rc = cf__store_cursor(s->node, &s->cursor)) != CF_OK)
    return sync_fail(s, rc, "cannot read the cursor: %s", cf_node_errmsg(s->node));
  h.cursor = (uint64_t)s->cursor;
  h.hlc = (cf_hlc)cf__now_ms() << 16;
  cf_buf b;
  cf__buf_init(&b, CF_CODEC_MAX_TOKEN + 1024);
  rc = cf__encode_hello(&h, &b);
  if (rc == CF_OK)
    rc = send_buf(s, &b);
  else
    rc = sync_fail(s, rc, "cannot encode HELLO");
  cf__buf_free(&b);
  if (rc == CF_OK) s->state = CS_WELCOME;
  return rc;
}

static int send_pull_from(cf__csess *s, uint64_t from) {
  cf_pull p = {from, s->max_page ? s->max_page : DEFAULT_PULL_PAGE};
  cf_buf b;
  cf__buf_init(&b, 256);
  int rc = cf__encode_pull(&p, &b);
  if (rc == CF_OK) rc = send_buf(s, &b);
  cf__buf_free(&b);
  s->state = CS_PULLING;
  return rc;
}

static int send_pull(cf__csess *s) { return send_pull_from(s, (uint64_t)s->cursor); }

/*
** A change too large for any frame (a row of several values near the 1 MiB
** cap) can never be sent: it is answered here as the master would answer
** it -- rejected, too_big -- and moves to the conflicts, so the rest of the
** outbox still syncs (docs/protocol.md, "Limits").
*/
/* The most bytes a frame to this server may have: the codec's cap, or less
** if the server said so in WELCOME. */
static size_t frame_cap(const cf__csess *s) {
  size_t cap = CF_CODEC_MAX_FRAME;
  if (s->max_frame > CF_CODEC_FRAME_OVERHEAD && s->max_frame < cap)
    cap = (size_t)s->max_frame;
  return cap;
}

static int reject_too_big(cf__csess *s, const cf__push_item *item) {
  char msg[128];
  snprintf(msg, sizeof msg, "too_big: the change does not fit in one frame of %zu bytes",
           frame_cap(s));
  cf__store_push_result res = {item->seq, CF_PUSH_REJECTED, CF_TOOBIG, msg};
  int rc = cf__store_push_results(s->node, &res, 1);
  if (rc != CF_OK)
    return sync_fail(s, rc, "cannot record a change too big to send: %s",
                     cf_node_errmsg(s->node));
  s->counts[CF_SYNC_REJECTED]++;
  cf__log(CF_LOG_WARN, "msg=\"change too big to send, kept as a conflict\" table=%s",
          item->change.table->name);
  return CF_OK;
}

/* Sends the next outbox batch, or starts pulling when there is none. */
static int push_next(cf__csess *s) {
  for (;;) {
    cf__store_push_free(s->batch);
    s->batch = NULL;
    size_t max = s->max_batch ? (size_t)s->max_batch : 1000;
    int rc = cf__store_push_next(s->node, max, &s->batch);
    if (rc != CF_OK)
      return sync_fail(s, rc, "cannot read the outbox: %s", cf_node_errmsg(s->node));
    if (s->batch->n == 0) {
      cf__store_push_free(s->batch);
      s->batch = NULL;
      s->start_cursor = s->cursor;
      return send_pull(s);
    }
    cf_buf body, frame;
    cf__buf_init(&body, frame_cap(s) - CF_CODEC_FRAME_OVERHEAD);
    cf__buf_init(&frame, frame_cap(s));
    size_t fit = 0;
    while (rc == CF_OK && fit < s->batch->n) {
      rc = cf__codec_put_change((uint64_t)s->batch->items[fit].seq,
                                &s->batch->items[fit].change, &body);
      if (rc == CF_OK) fit++;
    }
    int again = 0;
    if (rc == CF_TOOBIG && fit == 0) {
      /* The first change alone does not fit: a conflict; the rest of the
      ** batch goes back and the next batch is formed without it. */
      rc = reject_too_big(s, &s->batch->items[0]);
      if (rc == CF_OK) rc = cf__store_push_release(s->node, s->batch, 1);
      again = rc == CF_OK;
    } else if (rc == CF_TOOBIG) {
      /* The frame is full: send what fits, the rest goes back. */
      rc = cf__store_push_release(s->node, s->batch, fit);
    }
    if (rc == CF_OK && !again) {
      if ((rc = cf__store_next_batch_seq(s->node, s->master_batch, &s->batch_seq)) !=
          CF_OK)
        rc = sync_fail(s, rc, "cannot number the batch: %s", cf_node_errmsg(s->node));
    }
    if (rc == CF_OK && !again)
      rc = cf__encode_push_body(s->batch_seq, s->batch->n, body.p, body.len, &frame);
    if (rc == CF_OK && !again) {
      rc = send_buf(s, &frame);
    } else if (rc != CF_OK) {
      rc = sync_fail(s, rc, "cannot send the push batch: %s", cf_strerror(rc));
    }
    cf__buf_free(&body);
    cf__buf_free(&frame);
    if (rc != CF_OK) return rc;
    if (!again) {
      s->state = CS_PUSHING;
      report(s, CF__SYNC_PHASE_PUSH_SENT, (int64_t)s->batch->n, -1);
      return CF_OK;
    }
  }
}

/* --- frames in ------------------------------------------------------------- */

/*
** A change the master refused for a foreign key while other changes still
** wait in the outbox may only have come too early: the outbox keeps one entry
** per row at the row's latest change, so a parent edited after its child was
** created is sent after the child, possibly in a later batch.  Such a change
** goes back to the end of the outbox (a fresh version, like a retry by the
** app) instead of staying a conflict -- once per row and run, so a real
** dangling reference still ends in the conflicts table.
*/
typedef struct fk_scan {
  const int64_t *seqs; /* outbox seqs rejected for a foreign key */
  size_t n;            /* how many */
  int64_t *ids;        /* OUT: their conflict ids (0: not found) */
  char (*keys)[96];    /* OUT: "table/row id" of each */
} fk_scan;

static int fk_scan_cb(void *ctx, const cf_conflict_info *c) {
  fk_scan *f = ctx;
  for (size_t i = 0; i < f->n; i++)
    if (f->seqs[i] == c->seq) {
      f->ids[i] = c->id;
      snprintf(f->keys[i], sizeof f->keys[i], "%s/%s", c->table, c->row_id);
    }
  return 0;
}

/* A rejection by a foreign key (core/outcome.h: the server says so). */
static int is_fk_rejection(const cf_push_result *w) {
  return w->status == CF_PUSH_REJECTED && w->reason == CF_REASON_FOREIGN_KEY;
}

static int fk_already_retried(const cf__csess *s, const char *key) {
  for (size_t i = 0; i < s->n_fk_retried; i++)
    if (strcmp(s->fk_retried[i], key) == 0) return 1;
  return 0;
}

static void requeue_fk_rejections(cf__csess *s, const cf_push_reply *r) {
  size_t n = 0;
  for (size_t i = 0; i < r->nresults; i++)
    if (is_fk_rejection(&r->results[i])) n++;
  int64_t waiting = 0;
  if (n == 0 || cf_node_outbox_count(s->node, &waiting) != CF_OK || waiting == 0) return;
  int64_t *seqs = cf__calloc(n, sizeof *seqs), *ids = cf__calloc(n, sizeof *ids);
  char(*keys)[96] = cf__calloc(n, sizeof *keys);
  char **grown = NULL;
  if (seqs == NULL || ids == NULL || keys == NULL) goto out;
  n = 0;
  for (size_t i = 0; i < r->nresults; i++)
    if (is_fk_rejection(&r->results[i])) seqs[n++] = s->batch->items[i].seq;
  fk_scan scan = {seqs, n, ids, keys};
  if (cf_node_conflicts_list(s->node, 1000000, fk_scan_cb, &scan) != CF_OK) goto out;
  for (size_t i = 0; i < n; i++) {
    if (ids[i] == 0 || fk_already_retried(s, keys[i])) continue;
    grown = cf__realloc(s->fk_retried, (s->n_fk_retried + 1) * sizeof *s->fk_retried);
    if (grown == NULL) goto out;
    s->fk_retried = grown;
    if ((s->fk_retried[s->n_fk_retried] = cf__strdup(keys[i])) == NULL) goto out;
    s->n_fk_retried++;
    if (cf_node_conflict_retry(s->node, ids[i]) == CF_OK) {
      s->counts[CF_SYNC_REJECTED]--;
      cf__log(CF_LOG_DEBUG, "msg=\"sent again after the rest\" change=%s", keys[i]);
    }
  }
out:
  cf__free(seqs);
  cf__free(ids);
  cf__free(keys);
}

static int on_push_result(cf__csess *s, const cf_push_reply *r) {
  if (s->batch == NULL || r->batch_seq != s->batch_seq)
    return sync_fail(s, CF_PROTOCOL, "PUSH_RESULT for a batch not in flight");
  if (r->nresults != s->batch->n)
    return sync_fail(s, CF_PROTOCOL, "PUSH_RESULT has %zu results for %zu changes",
                     r->nresults, s->batch->n);
  cf__store_push_result *res = cf__calloc(r->nresults ? r->nresults : 1, sizeof *res);
  char **msgs = cf__calloc(r->nresults ? r->nresults : 1, sizeof *msgs);
  int rc = (res && msgs) ? CF_OK : CF_NOMEM;
  for (size_t i = 0; rc == CF_OK && i < r->nresults; i++) {
    const cf_push_result *w = &r->results[i];
    if (w->change_id != (uint64_t)s->batch->items[i].seq) {
      rc = sync_fail(s, CF_PROTOCOL,
                     "PUSH_RESULT answers change %" PRIu64 " out of order", w->change_id);
      break;
    }
    res[i].seq = s->batch->items[i].seq;
    res[i].outcome = w->status;
    res[i].code =
        w->status == CF_PUSH_REJECTED ? cf__reject_reason_result(w->reason) : CF_OK;
    if (w->status == CF_PUSH_REJECTED) {
      const char *name = cf__reject_reason_name(w->reason);
      msgs[i] = w->message.n
                    ? cf__mprintf("%s: %.*s", name, (int)w->message.n, w->message.p)
                    : cf__strdup(name);
      if (msgs[i] == NULL) rc = CF_NOMEM;
      res[i].message = msgs[i];
    }
    s->counts[w->status == CF_PUSH_APPLIED      ? CF_SYNC_APPLIED
              : w->status == CF_PUSH_SUPERSEDED ? CF_SYNC_SUPERSEDED
                                                : CF_SYNC_REJECTED]++;
  }
  if (rc == CF_OK) {
    rc = cf__store_push_results(s->node, res, r->nresults);
    if (rc != CF_OK)
      rc =
          sync_fail(s, rc, "cannot record the push results: %s", cf_node_errmsg(s->node));
  } else if (s->state != CS_FAILED) {
    rc = sync_fail(s, rc, "out of memory");
  }
  for (size_t i = 0; msgs && i < r->nresults; i++)
    cf__free(msgs[i]);
  cf__free(msgs);
  cf__free(res);
  if (rc != CF_OK) return rc;
  for (size_t i = 0; s->observer != NULL && i < r->nresults; i++)
    s->observer(s->observer_ctx, &s->batch->items[i], &r->results[i]);
  requeue_fk_rejections(s, r);
  s->counts[CF_SYNC_PUSHED] += (int64_t)r->nresults;
  report(s, CF_SYNC_PHASE_PUSH, s->counts[CF_SYNC_PUSHED], -1);
  return push_next(s);
}

/* What follows the apply of page c (rc: cf__store_apply's result): the
** session's cursor, statistics and progress, or the failure. */
static int page_applied(cf__csess *s, const cf_changes *c, int rc) {
  if (rc != CF_OK)
    return sync_fail(s, rc, "cannot apply %zu pulled rows: %s", c->nrows,
                     cf_node_errmsg(s->node));
  s->cursor = (int64_t)c->last_seq;
  s->head = c->head_seq;
  s->counts[CF_SYNC_PULLED] += (int64_t)c->nrows;
  s->counts[CF_SYNC_CURSOR] = s->cursor;
  int64_t total = (int64_t)s->head - s->start_cursor;
  report(s, CF_SYNC_PHASE_PULL, s->cursor - s->start_cursor, total > 0 ? total : 0);
  return CF_OK;
}

/* A page must never move the cursor back. */
static int check_page(cf__csess *s, const cf_changes *c) {
  if (c->last_seq < (uint64_t)s->cursor)
    return sync_fail(s, CF_PROTOCOL, "CHANGES goes back from cursor %" PRId64, s->cursor);
  return CF_OK;
}

/* Applies one page with its cursor (one SQLite transaction). */
static int apply_page(cf__csess *s, const cf_changes *c) {
  int rc = check_page(s, c);
  if (rc != CF_OK) return rc;
  return page_applied(s, c,
                      cf__store_apply(s->node, c->rows, c->nrows, (int64_t)c->last_seq));
}

/* Frees a kept page without applying it (it is pulled again next time). */
static void drop_deferred(cf__csess *s) {
  cf__frame_free(&s->deferred_frame);
  cf__free(s->deferred);
  s->deferred = NULL;
  s->deferred_len = 0;
}

/* Waits for the kept page's apply on the applier's thread, if one runs, and
** takes its result; the page is then freed.  It ran to its end even if the
** session failed meanwhile: its rows are committed with their cursor, so
** the session's cursor follows (a failed apply changed nothing). */
static void settle_applying(cf__csess *s) {
  if (!s->applying) return;
  s->applier.wait(s->applier.ctx);
  s->applying = 0;
  (void)page_applied(s, &s->deferred_frame.u.changes, s->job.rc);
  drop_deferred(s);
}

/* Applies the page kept by on_changes, now that the next PULL is out: on
** the applier's thread when there is one (async), else here. */
static void apply_deferred(cf__csess *s, int async) {
  if (s->deferred == NULL || s->applying) return;
  const cf_changes *c = &s->deferred_frame.u.changes;
  if (s->state != CS_FAILED && check_page(s, c) == CF_OK) {
    if (async && s->has_applier) {
      s->job.node = s->node;
      s->job.rows = c->rows;
      s->job.nrows = c->nrows;
      s->job.cursor = (int64_t)c->last_seq;
      s->job.rc = CF_ERROR;
      if (s->applier.start(s->applier.ctx, &s->job) == CF_OK) {
        s->applying = 1;
        return;
      }
    }
    (void)apply_page(s, c);
  }
  drop_deferred(s);
}

/* The kept page, if any, applied before anything else happens: the one
** under way waited for, or one not started yet applied here. */
static void complete_deferred(cf__csess *s) {
  settle_applying(s);
  apply_deferred(s, 0);
}

void cf__csess_apply_job_run(cf__csess_apply_job *job) {
  job->rc = cf__store_apply(job->node, job->rows, job->nrows, job->cursor);
}

void cf__csess_set_applier(cf__csess *s, const cf__csess_applier *a) {
  s->has_applier = a != NULL;
  if (a != NULL) s->applier = *a;
}

/* CHANGES.  f is the decoded frame; own, if not NULL, the heap copy of its
** bytes that f borrows: a page kept for later takes both (*taken = 1). */
static int on_changes(cf__csess *s, cf_frame *f, uint8_t *own, size_t len, int *taken) {
  const cf_changes *c = &f->u.changes;
  if (c->more && own != NULL) {
    /* Ask for the next page first and apply this one once that request is
    ** on the wire (cf_sync's loop), overlapping the server's read with the
    ** replica's write.  The cursor moves only with the apply.  The page is
    ** kept decoded (it was decoded from a copy of the message, which it
    ** borrows), so it is decoded once. */
    int rc = check_page(s, c);
    if (rc != CF_OK) return rc;
    uint64_t next = c->last_seq;
    s->deferred = own;
    s->deferred_len = len;
    s->deferred_frame = *f;
    memset(f, 0, sizeof *f); /* the session owns its array now */
    *taken = 1;
    return send_pull_from(s, next);
  }
  int rc = apply_page(s, c);
  if (rc != CF_OK) return rc;
  if (s->watch) {
    s->state = CS_IDLE;
    if (s->pull_wanted) {
      s->pull_wanted = 0;
      if (s->wanted_head > (uint64_t)s->cursor) return send_pull(s);
    }
    return CF_OK;
  }
  s->state = CS_DONE;
  s->io.close(s->io.ctx, CF_WS_CLOSE_NORMAL, "done");
  return CF_OK;
}

/*
** REBOOTSTRAP: the master purged history the cursor still needs.  The
** replica drops its synced rows but keeps every row with a pending outbox
** entry or a conflict (store/rebootstrap.c), its cursor goes back to 0 and
** the pull starts over in the same session; the kept writes are pushed as
** usual (the next run, or at once in a watching session).  It may answer
** HELLO (WELCOME still follows, docs/protocol.md "Rebootstrap") or a PULL,
** and only for a non-zero cursor, so it cannot loop.
*/
static int on_rebootstrap(cf__csess *s) {
  if ((s->state != CS_PULLING && s->state != CS_WELCOME) || s->cursor == 0)
    return sync_fail(s, CF_PROTOCOL, "unexpected REBOOTSTRAP at cursor %" PRId64,
                     s->cursor);
  int64_t kept = 0;
  int rc = cf__store_rebootstrap(s->node, &kept);
  if (rc != CF_OK)
    return sync_fail(s, rc,
                     "the server no longer keeps history back to cursor %" PRId64
                     " and the replica cannot bootstrap again: %s",
                     s->cursor, cf_node_errmsg(s->node));
  cf__log(CF_LOG_INFO,
          "msg=\"replica bootstraps again\" from_cursor=%" PRId64 " kept_rows=%" PRId64,
          s->cursor, kept);
  s->cursor = 0;
  s->start_cursor = 0;
  s->counts[CF_SYNC_CURSOR] = 0;
  return s->state == CS_PULLING ? send_pull(s) : CF_OK;
}

/*
** ACCESS_REVOKED (docs/protocol.md, lifecycle 9; DESIGN 9): the master will
** take nothing more from this user for this org, so every change still in
** the outbox is answered here as the master would have answered it --
** rejected, reason revoked -- and moves to the conflicts table, where the
** app sees it and can retry it once access is restored, or discard it.
** Nothing is lost.  A batch in flight without an answer is put back first.
** Failures are logged and leave the outbox as it was (the changes are still
** kept, only not yet listed as conflicts).
*/
static void reject_outbox_revoked(cf__csess *s, const cf_slice *why) {
  char *msg = NULL;
  cf__push_batch *b = NULL;
  cf__store_push_result *res = NULL;
  int rc = CF_OK;
  if (s->batch != NULL) {
    cf__store_push_free(s->batch);
    s->batch = NULL;
    if ((rc = cf__store_push_requeue(s->node)) != CF_OK) goto out;
  }
  msg = cf__mprintf("revoked: %.*s", (int)why->n, why->p ? why->p : "");
  if (msg == NULL) {
    rc = CF_NOMEM;
    goto out;
  }
  for (;;) {
    if ((rc = cf__store_push_next(s->node, 1000, &b)) != CF_OK || b->n == 0) goto out;
    res = cf__calloc(b->n, sizeof *res);
    if (res == NULL) {
      rc = CF_NOMEM;
      goto out;
    }
    for (size_t i = 0; i < b->n; i++) {
      res[i].seq = b->items[i].seq;
      res[i].outcome = CF_PUSH_REJECTED;
      res[i].code = CF_PERMISSION;
      res[i].message = msg;
    }
    if ((rc = cf__store_push_results(s->node, res, b->n)) != CF_OK) goto out;
    s->counts[CF_SYNC_REJECTED] += (int64_t)b->n;
    cf__free(res);
    res = NULL;
    cf__store_push_free(b);
    b = NULL;
  }
out:
  if (rc != CF_OK) {
    cf__log(CF_LOG_WARN,
            "msg=\"cannot move the outbox to the conflicts after revocation\" "
            "rc=%s detail=\"%s\"",
            cf_strerror(rc), cf_node_errmsg(s->node));
    /* Whatever this left in flight goes back (cf_sync_run requeues too). */
    if (b != NULL && cf__store_push_requeue(s->node) != CF_OK)
      cf__log(CF_LOG_WARN, "msg=\"cannot requeue in-flight changes\"");
  }
  cf__free(res);
  cf__store_push_free(b);
  cf__free(msg);
}

/* LIVE: the org's head moved to head (0: unknown).  A one-shot sync pulls
** to the head anyway; a watching one pulls now, or as soon as the exchange
** under way has finished. */
static void on_live(cf__csess *s, uint64_t head) {
  if (!s->watch || (head != 0 && head <= (uint64_t)s->cursor)) return;
  if (s->state == CS_IDLE) {
    (void)send_pull(s);
  } else {
    uint64_t want = head == 0 ? UINT64_MAX : head;
    if (!s->pull_wanted || want > s->wanted_head) s->wanted_head = want;
    s->pull_wanted = 1;
  }
}

/*
** FEED (protocol 2): a page the server sent unasked, shared by the org's
** sessions.  Hostile input like any frame: it is applied only by a watching
** session of protocol 2 with no request of its own out (IDLE) whose cursor
** is exactly from_seq, and never moves the cursor back (apply_page).  Any
** other FEED is only a notice that the head moved (as LIVE head_seq): the
** session pulls as itself, from its own cursor.
*/
static int on_feed(cf__csess *s, const cf_feed *f) {
  if (s->proto < 2)
    return sync_fail(s, CF_PROTOCOL, "FEED frame in a protocol %u session",
                     (unsigned)s->proto);
  if (!s->watch || s->state != CS_IDLE || s->deferred != NULL ||
      f->from_seq != (uint64_t)s->cursor) {
    on_live(s, f->changes.head_seq);
    return CF_OK;
  }
  s->start_cursor = s->cursor;
  int rc = apply_page(s, &f->changes);
  if (rc != CF_OK) return rc;
  s->counts[CF_SYNC_FED]++;
  if (f->changes.more) return send_pull(s); /* the rest, as itself */
  return CF_OK;
}

static void handle_frame(cf__csess *s, cf_frame *f, uint8_t *own, size_t len,
                         int *taken) {
  if (f->type == CF_FRAME_ERROR) {
    sync_fail(s, cf__wire_error_result(f->u.error.code), "server refused: %s: %.*s",
              cf__wire_error_name(f->u.error.code), (int)f->u.error.message.n,
              f->u.error.message.p);
    return;
  }
  if (f->type == CF_FRAME_ACCESS_REVOKED) {
    s->counts[CF_SYNC_REVOKED] = 1;
    reject_outbox_revoked(s, &f->u.revoked.message);
    /* The replica remembers it (DESIGN 9) until a sync succeeds again. */
    char *why = cf__mprintf("%.*s", (int)f->u.revoked.message.n, f->u.revoked.message.p);
    if (why == NULL || cf_node_setting_set(s->node, "access_revoked", why) != CF_OK)
      cf__log(CF_LOG_WARN, "msg=\"cannot record the revocation in the replica\"");
    cf__free(why);
    /* The policy chosen at open: keep the rows, or export and wipe them. */
    if (cf__store_on_revoked(s->node) != CF_OK)
      cf__log(CF_LOG_WARN, "msg=\"cannot wipe the revoked replica\" detail=\"%s\"",
              cf_node_errmsg(s->node));
    sync_fail(s, CF_PERMISSION, "access revoked: %.*s", (int)f->u.revoked.message.n,
              f->u.revoked.message.p);
    return;
  }
  if (f->type == CF_FRAME_REBOOTSTRAP) {
    (void)on_rebootstrap(s);
    return;
  }
  if (f->type == CF_FRAME_LIVE) {
    on_live(s, f->u.live.seq);
    return;
  }
  if (f->type == CF_FRAME_FEED) {
    (void)on_feed(s, &f->u.feed);
    return;
  }
  if (f->type == CF_FRAME_PONG || f->type == CF_FRAME_CHECKPOINT ||
      f->type == CF_FRAME_AUTH_OK)
    return;
  if (f->type == CF_FRAME_PING) {
    cf_buf b;
    cf__buf_init(&b, 64);
    if (cf__encode_seq(CF_FRAME_PONG, f->u.ping.nonce, &b) == CF_OK)
      (void)send_buf(s, &b);
    cf__buf_free(&b);
    return;
  }
  if (s->state == CS_WELCOME && f->type == CF_FRAME_WELCOME) {
    s->max_frame = f->u.welcome.max_frame_bytes;
    s->max_batch = f->u.welcome.max_batch;
    s->max_page = f->u.welcome.max_page;
    s->head = f->u.welcome.head_seq;
    s->master_batch = f->u.welcome.last_batch;
    cf__store_set_server_clock(s->node, CF_HLC_MS(f->u.welcome.hlc));
    snprintf(s->role, sizeof s->role, "%.*s", (int)f->u.welcome.role.n,
             f->u.welcome.role.p);
    s->proto = f->u.welcome.proto;
    s->connected = 1;
    (void)push_next(s);
    return;
  }
  if (s->state == CS_PUSHING && f->type == CF_FRAME_PUSH_RESULT) {
    (void)on_push_result(s, &f->u.push_result);
    return;
  }
  if (s->state == CS_PULLING && f->type == CF_FRAME_CHANGES) {
    (void)on_changes(s, f, own, len, taken);
    return;
  }
  sync_fail(s, CF_PROTOCOL, "unexpected %s frame", cf__frame_type_name(f->type));
}

/* --- the API ----------------------------------------------------------------- */

int cf__csess_new(cf_node *node, const char *url, cf__csess **out) {
  *out = NULL;
  cf__csess *s = cf__calloc(1, sizeof *s);
  if (s == NULL) return CF_NOMEM;
  s->node = node;
  s->url = url;
  s->state = CS_CONNECTING;
  *out = s;
  return CF_OK;
}

static void forget_fk_retries(cf__csess *s) {
  for (size_t i = 0; i < s->n_fk_retried; i++)
    cf__free(s->fk_retried[i]);
  cf__free(s->fk_retried);
  s->fk_retried = NULL;
  s->n_fk_retried = 0;
}

void cf__csess_free(cf__csess *s) {
  if (s == NULL) return;
  cf__store_push_free(s->batch);
  settle_applying(s);
  drop_deferred(s);
  forget_fk_retries(s);
  cf__free(s);
}

void cf__csess_set_progress(cf__csess *s, cf_sync_progress_fn fn, void *ctx) {
  s->progress = fn;
  s->progress_ctx = ctx;
}

void cf__csess_set_observer(cf__csess *s, cf__csess_result_fn fn, void *ctx) {
  s->observer = fn;
  s->observer_ctx = ctx;
}

void cf__csess_begin_run(cf__csess *s, int watch) {
  memset(s->counts, 0, sizeof s->counts);
  forget_fk_retries(s);
  s->watch = watch;
}

int cf__csess_start(cf__csess *s) {
  s->errmsg[0] = '\0';
  s->rc = CF_OK;
  s->state = CS_CONNECTING;
  s->pull_wanted = 0;
  s->wanted_head = 0;
  s->connected = 0;
  s->open = 0;
  s->last_frame_ms = cf__monotonic_ns() / 1000000;
  /* Entries a previous run left marked in flight -- a process killed
  ** before it recorded their answers -- are sent again: nothing else would
  ** ever send them, and the master's merge is idempotent for equal
  ** versions. */
  int rc = cf__store_push_requeue(s->node);
  if (rc != CF_OK)
    return sync_fail(s, rc, "cannot requeue earlier in-flight changes: %s",
                     cf_node_errmsg(s->node));
  return CF_OK;
}

int cf__csess_open(cf__csess *s, const cf__csess_io *io, const char *token) {
  s->io = *io;
  s->open = 1;
  s->last_frame_ms = cf__monotonic_ns() / 1000000;
  return send_hello(s, token);
}

void cf__csess_on_message(cf__csess *s, const uint8_t *msg, size_t len) {
  if (s->state == CS_DONE || s->state == CS_FAILED) return;
  s->last_frame_ms = cf__monotonic_ns() / 1000000;
  /* While pulling, the answer is most likely a page to keep until the next
  ** PULL is out: decode it from a copy it may keep borrowing.  The frame is
  ** decoded before the page before it is waited for (complete_deferred), so
  ** that the decoding overlaps that page's apply on the applier's thread. */
  uint8_t *own = NULL;
  if (s->state == CS_PULLING && len > 0) {
    if ((own = cf__malloc(len)) == NULL) {
      sync_fail(s, CF_NOMEM, "out of memory");
      return;
    }
    memcpy(own, msg, len);
  }
  cf_frame f;
  char err[256];
  int taken = 0;
  int rc = cf__frame_decode(own != NULL ? own : msg, len, NULL, &f, err, sizeof err);
  complete_deferred(s); /* pages are applied in the order they came */
  if (rc != CF_OK) {
    sync_fail(s, rc, "malformed frame from the server: %s", err);
    cf__free(own);
    return;
  }
  if (s->state == CS_FAILED) {
    cf__frame_free(&f);
    cf__free(own);
    return;
  }
  if (!cf__frame_from_server(f.type))
    sync_fail(s, CF_PROTOCOL, "the server sent a %s frame", cf__frame_type_name(f.type));
  else
    handle_frame(s, &f, own, len, &taken);
  cf__frame_free(&f);
  if (!taken) cf__free(own);
}

int cf__csess_has_deferred(const cf__csess *s) {
  return s->deferred != NULL && !s->applying;
}

void cf__csess_apply_deferred(cf__csess *s) { apply_deferred(s, 1); }

void cf__csess_poll(cf__csess *s, int64_t now_ms) {
  if (s->state == CS_IDLE && !s->applying) { /* (a page applies only while pulling) */
    /* In a watching session: pushes local writes made since the last look. */
    int64_t waiting = 0;
    if (cf_node_outbox_count(s->node, &waiting) != CF_OK) {
      sync_fail(s, CF_STORE, "cannot read the outbox: %s", cf_node_errmsg(s->node));
      return;
    }
    if (waiting > 0) (void)push_next(s);
    return;
  }
  if (s->state != CS_DONE && s->state != CS_FAILED &&
      now_ms - s->last_frame_ms > IDLE_TIMEOUT_MS)
    sync_fail(s, CF_UNREACHABLE, "no answer from the server for %d s",
              IDLE_TIMEOUT_MS / 1000);
}

void cf__csess_send_token(cf__csess *s, const char *token) {
  if (!s->open || !s->connected || s->state == CS_DONE || s->state == CS_FAILED) return;
  cf_auth_frame a = {{token, strlen(token)}};
  cf_buf b;
  cf__buf_init(&b, CF_CODEC_MAX_TOKEN + 64);
  if (cf__encode_auth(&a, &b) == CF_OK)
    (void)send_buf(s, &b);
  else
    sync_fail(s, CF_TOOBIG, "the new token is too large");
  cf__buf_free(&b);
}

void cf__csess_stop(cf__csess *s) {
  if (!s->open || s->state == CS_DONE || s->state == CS_FAILED) return;
  s->state = CS_DONE;
  s->io.close(s->io.ctx, CF_WS_CLOSE_NORMAL, "stopping");
}

void cf__csess_on_close(cf__csess *s, int rc, int code, const char *reason) {
  s->open = 0;
  if (s->state == CS_DONE || s->state == CS_FAILED) return;
  if (rc == CF_UNREACHABLE)
    sync_fail(s, CF_UNREACHABLE, "server unreachable at %s", s->url);
  else if (rc == CF_PROTOCOL)
    sync_fail(s, CF_PROTOCOL, "the server refused the WebSocket upgrade at %s", s->url);
  else
    sync_fail(s, CF_UNREACHABLE, "connection closed by the server (%d %s)", code,
              reason ? reason : "");
}

int cf__csess_finish(cf__csess *s) {
  s->open = 0;
  settle_applying(s); /* one under way ran: its result counts */
  if (s->state != CS_DONE) {
    /* Whatever was in flight goes back to the outbox for the next run. */
    if (cf__store_push_requeue(s->node) != CF_OK)
      cf__log(CF_LOG_WARN, "msg=\"cannot requeue in-flight changes\" detail=\"%s\"",
              cf_node_errmsg(s->node));
    if (s->state != CS_FAILED) sync_fail(s, CF_UNREACHABLE, "connection lost");
  }
  cf__store_push_free(s->batch);
  s->batch = NULL;
  drop_deferred(s); /* a page never applied is pulled again next time */
  if (s->state == CS_DONE) {
    char when[32];
    snprintf(when, sizeof when, "%" PRId64, cf__now_ms());
    if (cf_node_setting_set(s->node, "access_revoked", "") != CF_OK ||
        cf_node_setting_set(s->node, "last_sync_ms", when) != CF_OK)
      cf__log(CF_LOG_WARN, "msg=\"cannot record the sync time\"");
    return CF_OK;
  }
  return s->rc;
}

int cf__csess_ended(const cf__csess *s) {
  return s->state == CS_DONE || s->state == CS_FAILED;
}
int cf__csess_connected(const cf__csess *s) { return s->connected; }
int cf__csess_rc(const cf__csess *s) { return s->rc; }
const char *cf__csess_errmsg(const cf__csess *s) { return s->errmsg; }
const char *cf__csess_role(const cf__csess *s) { return s->role; }

int64_t cf__csess_count(const cf__csess *s, cf_sync_counter which) {
  if ((int)which < 0 || which >= CF_SYNC_COUNTER_MAX) return 0;
  return s->counts[which];
}

int cf__csess_fail(cf__csess *s, int rc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  rc = vfail(s, rc, fmt, ap);
  va_end(ap);
  return rc;
}
