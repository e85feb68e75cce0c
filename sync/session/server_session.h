/*
** sync/session/server_session.h: the server side of one sync session, as a state
** machine fed whole frames (internal).  No socket, no thread, no database:
** what the session does reaches the outside through effects (cf__ssess_io)
** -- send this frame, close with this code, call me back at this time, run
** this job on the master -- so the sync server (sync/server/server.c) carries it
** over libwebsockets and its worker pool, and the simulation harness over a
** simulated network and an in-process connection.  The frames and states
** are specified in docs/protocol.md; the threads around it in
** docs/server.md.
**
**   state      frames accepted         next
**   --------   ---------------------   -----------------------------------
**   HELLO      HELLO                   VERIFY (token checked here)
**   VERIFY     (none; queued)          READY when the HELLO job's WELCOME
**                                      is sent
**   READY      AUTH PUSH PULL PING     READY; ERROR frame + close on misuse
**   CLOSING    (none)                  -
**
** A session runs at most one job at a time; frames that arrive meanwhile
** wait in its queue (at most CF_SSESS_MAX_PENDING, else the session is
** closed as BUSY), so replies keep the order of requests.  Any malformed or
** out-of-place frame gets an ERROR frame and closes that session only.
**
** Usage (one connection):
**
**   cf__ssess *s;
**   cf__ssess_new(id, &cfg, &io, &s);          // sets the HELLO deadline
**   ... cf__ssess_on_message(s, bytes, n);     // each frame that arrives
**   ... io.submit(ctx, job)  ->  cf__sjob_run(pg, &limits, job)
**       -> cf__ssess_job_done(s, job)          // on the session's thread
**   ... cf__ssess_live(s, head);               // the org's head moved
**   cf__ssess_free(s);                         // the connection is gone
*/
#ifndef CF_SYNC_SERVER_SESSION_H
#define CF_SYNC_SERVER_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "clientflow.h"
#include "sync/session/job.h"

/* Frames queued behind a running job. */
#define CF_SSESS_MAX_PENDING 8
/* Time a client has to say HELLO. */
#define CF_SSESS_HELLO_MS 30000

typedef struct cf__ssess cf__ssess;

/* What a session needs of its server: fixed while it lives. */
typedef struct cf__ssess_config {
  const cf_auth *auth;    /* token verifier (borrowed) */
  cf__sjob_limits limits; /* max_batch, max_page */
} cf__ssess_config;

/* The effects.  Each is called on the thread that drives the session;
** none may call back into the session. */
typedef struct cf__ssess_io {
  void *ctx; /* handed to each */
  /* Sends one frame (bytes[0..n), copied).  CF_OK or a transport code
  ** (logged, the session carries on: the transport closes on failure). */
  int (*send)(void *ctx, const uint8_t *bytes, size_t n);
  /* Closes the connection with a WebSocket code and reason (no further
  ** frame is sent; cf__ssess_free follows when the transport is done). */
  void (*close)(void *ctx, int ws_code, const char *reason);
  /* Calls cf__ssess_on_deadline at unix_ms (replaces the previous one). */
  void (*set_deadline)(void *ctx, int64_t unix_ms);
  /* Runs job on the master (cf__sjob_run), then hands it back with
  ** cf__ssess_job_done.  Takes ownership of job. */
  void (*submit)(void *ctx, cf__sjob *job);
  /* The peer's address, for logs (may be NULL). */
  const char *(*peer)(void *ctx);
  /* The session became READY: its org (cf__ssess_org) is final (may be
  ** NULL). */
  void (*on_ready)(void *ctx);
} cf__ssess_io;

/* CONSTRUCTOR.  A session named id (unique in its server, stable across
** threads), in state HELLO; sets the HELLO deadline through io.
** cfg and io are copied.  OUT: *out, NULL on failure.  CF_OK or CF_NOMEM. */
int cf__ssess_new(uint64_t id, const cf__ssess_config *cfg, const cf__ssess_io *io,
                  cf__ssess **out) CF_WARN_UNUSED;

/* DESTRUCTOR.  Frees the session and its queued frames.  A job it
** submitted may still run: whoever runs it drops it (cf__sjob_free)
** instead of handing it back.  NULL is fine. */
void cf__ssess_free(cf__ssess *s);

/* METHOD.  One frame from the client (bytes borrowed for the call). */
void cf__ssess_on_message(cf__ssess *s, const uint8_t *bytes, size_t n);

/* METHOD.  The deadline set through io.set_deadline has come: no HELLO in
** time, or the token expired. */
void cf__ssess_on_deadline(cf__ssess *s);

/* METHOD.  The job the session submitted is answered: sends its reply,
** changes state, runs queued frames.  Frees job. */
void cf__ssess_job_done(cf__ssess *s, cf__sjob *job);

/* METHOD.  The head of org moved to head (0: unknown, e.g. after the
** server lost its LISTEN connection): a READY session of that org (any
** org if org is NULL) is sent LIVE -- unless its cursor is already there
** or a LIVE told it as much.  While a job of the session runs, the notices
** are coalesced into one LIVE sent after the job's answer, and only if
** that answer (a last page) left the cursor below the head. */
void cf__ssess_live(cf__ssess *s, const char *org, uint64_t head);

/* The session's name. */
uint64_t cf__ssess_id(const cf__ssess *s);

/* The session's org (HELLO), "" before it. Valid as long as s. */
const char *cf__ssess_org(const cf__ssess *s);

/* The token's subject (the user), "" before HELLO.  Valid until the
** session's next frame (AUTH replaces the token) or its end. */
const char *cf__ssess_user(const cf__ssess *s);

/* The verified token's claims JSON (for a job run as this user), NULL
** before HELLO; *len its length.  Valid as cf__ssess_user. */
const char *cf__ssess_claims(const cf__ssess *s, size_t *len);

/*
** SHARED PAGES (protocol 2, docs/protocol.md "FEED").  The server reads a
** page of an org once and sends the same FEED bytes to every session whose
** cursor it continues.  What the server knows of a session's cursor: the
** cursor of its HELLO, then the last_seq of each page it sent it.
*/

/* METHOD.  1 if a FEED may be sent to the session now -- READY, protocol
** 2, no job running, no frame waiting -- else 0.  OUT: *cursor, the
** session's cursor as the server knows it. */
int cf__ssess_feedable(const cf__ssess *s, uint64_t *cursor);

/* METHOD.  Sends the FEED frame bytes[0..n) (a page from `from` to `last`,
** `more` after it) if the session is feedable at cursor `from`; its cursor
** becomes `last`.  1 if sent, 0 if not (the caller tells it with LIVE). */
int cf__ssess_feed(cf__ssess *s, const uint8_t *bytes, size_t n, uint64_t from,
                   uint64_t last, int more);

/* Non-zero once the session is closing (an ERROR was sent, or a close). */
int cf__ssess_closing(const cf__ssess *s);

#endif
