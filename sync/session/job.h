/*
** sync/session/job.h: one request of a sync session for the master (HELLO's
** membership check, a PUSH, a PULL) and its answer (internal).  The code
** that runs one on a Postgres connection is sync/server/job_run.h.
**
** A server session (sync/session/server_session.h) creates a job and hands it out
** through its io.submit effect; whoever holds a connection -- a worker of
** the sync server (sync/server/server.c), or the simulation harness in-process --
** runs it with cf__sjob_run (sync/server/job_run.h) and gives it back with
** cf__ssess_job_done.  A
** job carries copies of everything it needs (claims, org, node, the
** request's bytes), so the session may vanish while it runs.
*/
#ifndef CF_SYNC_SESSION_JOB_H
#define CF_SYNC_SESSION_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "clientflow.h"
#include "core/buf.h"
#include "core/codec.h"
#include "core/uuid.h"

/* Largest frame the server sends or accepts. */
#define CF_SJOB_MAX_FRAME ((size_t)4 << 20)

/* FEED is the server's shared pull of one org (sync/server/server.c), run
** as one of its members and sent to every session of the org whose cursor
** it continues; it belongs to no session (session_id 0). */
typedef enum cf__sjob_kind {
  CF_SJOB_HELLO,
  CF_SJOB_PUSH,
  CF_SJOB_PULL,
  CF_SJOB_FEED
} cf__sjob_kind;

/* The server's limits a job's reply states or obeys. */
typedef struct cf__sjob_limits {
  size_t max_batch; /* changes per PUSH (WELCOME) */
  size_t max_page;  /* rows per CHANGES (WELCOME; PULL limits are capped) */
} cf__sjob_limits;

/* Told on the worker where a pulled page that says `more` ends (its
** last_seq), before its rows are converted (cf__pull_cut_fn). */
typedef void (*cf__sjob_cut_fn)(void *ctx, uint64_t last_seq, int more);

/* One job.  Fields above `out` are the request, set by the session; the
** others are the answer, set by cf__sjob_run. */
typedef struct cf__sjob {
  cf__sjob_kind kind;              /* what to do */
  uint64_t session_id;             /* whose (sessions are named by id across threads) */
  char *claims_json;               /* the token's payload (owned) */
  char org[CF_UUID_TEXT_LEN];      /* the session's org */
  cf_nodeid node;                  /* the session's node */
  uint8_t *bytes;                  /* the request frame's bytes (owned; PUSH, PULL) */
  size_t n;                        /* their length */
  cf_frame frame;                  /* the decoded request, borrowing bytes */
  uint32_t proto;                  /* HELLO: the chosen protocol version */
  int64_t token_exp;               /* HELLO: the token's expiry */
  cf__sjob_cut_fn on_cut;          /* PULL: see above (NULL: nobody; the pages
                                      read ahead, sync/server/prefetch.c) */
  void *on_cut_ctx;                /* handed to on_cut */
  cf_buf out;                      /* the reply frame to send */
  cf_buf extra;                    /* a second frame sent after it (ACCESS_REVOKED
                                      after a PUSH_RESULT), usually empty */
  int close_code;                  /* non-zero: close the session after sending */
  int db_rc;                       /* the database failure that answered the job
                                      (CF_OK: none; CF_UNREACHABLE: connection) */
  int ok;                          /* HELLO: the session may become READY */
  size_t pushed;                   /* changes answered (statistics) */
  size_t pulled;                   /* rows sent (statistics) */
  int has_cursor;                  /* PULL: the answer moves the client's cursor */
  uint64_t cursor_after;           /* PULL: ...to this (CHANGES last_seq; 0 after
                                      REBOOTSTRAP) */
  int more;                        /* PULL, FEED: the page says more follow */
  uint64_t from_seq;               /* FEED: the cursor the page continues */
  char (*users)[CF_UUID_TEXT_LEN]; /* FEED: the users of the sessions it is
                                 for, sorted, distinct (owned) */
  size_t nusers;                   /* FEED: how many */
  unsigned char *member;           /* FEED answer: member[i] != 0 if users[i] is a
                                      member of org at the page's snapshot or later
                                      (owned; NULL until answered) */
  int feed_ok;                     /* FEED answer: out holds the FEED frame */
  int feed_revoked;                /* FEED answer: the user it ran as is no
                                      longer a member (claims_json) */
  uint64_t feed_id;                /* FEED: the server's name for this run */
  int64_t t_submit_ns;             /* monotonic time it was handed to a worker */
  int64_t t_start_ns;              /* ...a worker began it (tracing: the log) */
  int64_t t_done_ns;               /* ...the worker finished it */
  struct cf__sjob *next;           /* queue link for whoever runs jobs */
} cf__sjob;

/* CONSTRUCTOR.  A job of kind for a session, with copies of claims_json
** (may be NULL) and of bytes[0..n) (PUSH, PULL: decoded into frame with the
** server's limits).  OUT: *out, NULL on failure.  CF_OK, CF_NOMEM, or the
** decoder's code (the session decoded the same bytes first). */
int cf__sjob_new(cf__sjob_kind kind, uint64_t session_id, const char *claims_json,
                 size_t claims_len, const char *org, const cf_nodeid *node,
                 const uint8_t *bytes, size_t n, const cf__sjob_limits *lim,
                 cf__sjob **out) CF_WARN_UNUSED;

/* DESTRUCTOR.  NULL is fine. */
void cf__sjob_free(cf__sjob *j);

/* METHOD.  FEED: the index of user (a UUID's text) in j->users, or
** j->nusers if it is not there (binary search: users is sorted). */
size_t cf__sjob_find_user(const cf__sjob *j, const char *user);

/* METHOD.  Clears the answer, so the job can run again (on a fresh
** connection after the first one broke). */
void cf__sjob_reset_answer(cf__sjob *j);

#endif
