/*
** sync/client_session.h: the node side of the sync channel as a state
** machine fed whole frames (internal).  No socket and no thread: it drives
** one replica (cf_node) through HELLO, the outbox's batches and the pulls,
** and what it does to the connection goes out through two effects
** (cf__csess_io: send this frame, close).  cf_sync (sync/client/client.c) carries
** it over libwebsockets; the simulation harness over a simulated network.
** Design: docs/protocol.md ("Session") and docs/sync.md.
**
** One cf__csess lives for a run (cf_sync_run, or a whole cf_sync_watch with
** its reconnects): statistics and the foreign-key retry list span the run;
** each connection is one cf__csess_start .. cf__csess_finish:
**
**   cf__csess_begin_run(s, watch);
**   for each connection:
**     cf__csess_start(s);                       // requeues earlier in-flight
**     ... connect; on open: cf__csess_open(s, &io, token);   // sends HELLO
**     ... each frame: cf__csess_on_message(s, bytes, n);
**     ... when the transport has flushed: cf__csess_apply_deferred(s);
**     ... now and then: cf__csess_poll(s, now_ms);  // watch: pushes local writes
**     ... on close: cf__csess_on_close(s, rc, code, reason);
**     rc = cf__csess_finish(s);                 // requeues, records the time
**
** Nothing is lost on any failure: a batch leaves the outbox only with its
** results (one SQLite transaction); a page is applied with its cursor in one
** transaction; entries in flight when the connection drops are put back and
** sent again with a new batch number.
*/
#ifndef CF_SYNC_CLIENT_SESSION_H
#define CF_SYNC_CLIENT_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "clientflow.h"

typedef struct cf__csess cf__csess;

/* The connection's effects, valid from cf__csess_open until the close is
** reported.  Neither may call back into the session. */
typedef struct cf__csess_io {
  void *ctx; /* handed to each */
  /* Sends one frame (bytes copied).  CF_OK or a transport code (the
  ** session then fails). */
  int (*send)(void *ctx, const uint8_t *bytes, size_t n);
  /* Closes the connection (cf__csess_on_close follows). */
  void (*close)(void *ctx, int ws_code, const char *reason);
} cf__csess_io;

/* CONSTRUCTOR.  A session for node (borrowed; used by one thread at a
** time), speaking to url (borrowed, for messages).  OUT: *out, NULL on
** failure.  CF_OK or CF_NOMEM. */
int cf__csess_new(cf_node *node, const char *url, cf__csess **out) CF_WARN_UNUSED;

/* DESTRUCTOR.  NULL is fine. */
void cf__csess_free(cf__csess *s);

/* A phase the session reports to its progress callback besides the public
** ones: a push batch of done changes was sent (cf_sync turns it into its
** PUSH_STARTED event and does not pass it on). */
#define CF__SYNC_PHASE_PUSH_SENT 101

/* METHOD.  The progress callback (docs: cf_sync_set_progress). */
void cf__csess_set_progress(cf__csess *s, cf_sync_progress_fn fn, void *ctx);

/*
** What the master answered for one pushed change, as the session records
** it: the outbox entry as sent (its change: key cells and the cells it set,
** with their values and versions) and the result (status, reason,
** message).  Both are borrowed for the call.  For observers that check what
** was acknowledged (the simulation harness); the callback must not call
** back into the session or touch the node.
*/
struct cf__push_item;
struct cf_push_result;
typedef void (*cf__csess_result_fn)(void *ctx, const struct cf__push_item *item,
                                    const struct cf_push_result *result);

/* METHOD.  Sets the result observer (NULL: none). */
void cf__csess_set_observer(cf__csess *s, cf__csess_result_fn fn, void *ctx);

/* METHOD.  A new run: clears statistics and the foreign-key retries;
** watch: keep each connection open and follow LIVE changes. */
void cf__csess_begin_run(cf__csess *s, int watch);

/* METHOD.  Before a connection: clears its state and puts back entries a
** previous run left in flight.  CF_OK or a store error (the session then
** has FAILED with that reason). */
int cf__csess_start(cf__csess *s) CF_WARN_UNUSED;

/* METHOD.  The connection is open: io is copied, HELLO is sent with token
** (borrowed for the call).  CF_OK or the failure (the session FAILED). */
int cf__csess_open(cf__csess *s, const cf__csess_io *io,
                   const char *token) CF_WARN_UNUSED;

/* METHOD.  One frame from the server (bytes borrowed for the call). */
void cf__csess_on_message(cf__csess *s, const uint8_t *bytes, size_t n);

/* Non-zero while a page waits to be applied (cf__csess_apply_deferred
** applies it, or starts its apply; the transport should flush the PULL sent
** before it first).  Zero while its apply runs elsewhere. */
int cf__csess_has_deferred(const cf__csess *s);

/* METHOD.  Applies the page kept back by the last CHANGES; with an applier
** (cf__csess_set_applier), starts its apply there and returns. */
void cf__csess_apply_deferred(cf__csess *s);

/*
** A page's apply handed to another thread: cf__store_apply of rows (nrows,
** owned by the session) with cursor into node.  The thread calls
** cf__csess_apply_job_run(job), which sets rc; nothing else of the session
** or the node is touched by either side meanwhile.
*/
typedef struct cf__csess_apply_job {
  cf_node *node;             /* the replica (the session's) */
  const struct cf_row *rows; /* the page's rows (the session's, until it waited) */
  size_t nrows;              /* how many */
  int64_t cursor;            /* the page's last_seq, stored with them */
  int rc;                    /* OUT: cf__store_apply's result */
} cf__csess_apply_job;

/* Runs job (on the applier's thread). */
void cf__csess_apply_job_run(cf__csess_apply_job *job);

/*
** Where pages are applied while the session's thread goes on receiving the
** next one (cf_sync: a thread per page).  start runs
** cf__csess_apply_job_run(job) elsewhere and returns CF_OK, or fails (the
** session then applies the page itself); wait returns once the job started
** last has run.  The session calls wait before it reads the next frame's
** answer or touches the node again (the next CHANGES, any other frame,
** cf__csess_finish, cf__csess_free), so the node is used by one thread at a
** time and pages are applied in order, each with its cursor.  Neither may
** call back into the session.
*/
typedef struct cf__csess_applier {
  void *ctx;                                         /* handed to both */
  int (*start)(void *ctx, cf__csess_apply_job *job); /* see above */
  void (*wait)(void *ctx);                           /* see above */
} cf__csess_applier;

/* METHOD.  Sets the applier (NULL: pages are applied on the session's
** thread, in cf__csess_apply_deferred).  a is copied. */
void cf__csess_set_applier(cf__csess *s, const cf__csess_applier *a);

/* METHOD.  Periodic work at monotonic now_ms: a watching session that is
** idle pushes local writes made since; a session waiting too long for an
** answer (60 s) fails. */
void cf__csess_poll(cf__csess *s, int64_t now_ms);

/* METHOD.  Sends AUTH with token (borrowed) if the session is connected;
** else the next connection's HELLO uses it anyway. */
void cf__csess_send_token(cf__csess *s, const char *token);

/* METHOD.  Ends the session on the app's request (closes the connection). */
void cf__csess_stop(cf__csess *s);

/* METHOD.  The connection closed (rc: the transport's code: CF_UNREACHABLE
** for a failed connect, CF_PROTOCOL for a refused upgrade). */
void cf__csess_on_close(cf__csess *s, int rc, int code, const char *reason);

/* METHOD.  After a connection: puts back what was in flight, frees the
** batch and a page never applied, records the sync time when it finished
** well.  Returns CF_OK if the session ended DONE, else its failure code. */
int cf__csess_finish(cf__csess *s) CF_WARN_UNUSED;

/* Non-zero once the session is DONE or FAILED. */
int cf__csess_ended(const cf__csess *s);

/* Non-zero if WELCOME was received on the current (last) connection. */
int cf__csess_connected(const cf__csess *s);

/* The failure's code (CF_OK if none) and detail ("" if none), the role
** from WELCOME, a statistic of the run.  Strings live as long as s. */
int cf__csess_rc(const cf__csess *s);
const char *cf__csess_errmsg(const cf__csess *s);
const char *cf__csess_role(const cf__csess *s);
int64_t cf__csess_count(const cf__csess *s, cf_sync_counter which);

/* METHOD.  Records a failure of the transport or the caller (the first
** reason is kept).  Returns rc. */
int cf__csess_fail(cf__csess *s, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
