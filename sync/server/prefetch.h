/*
** sync/server/prefetch.h: the next page of a pull, read ahead while the
** client receives and applies the page before it (internal).  Design:
** docs/server.md, "Pages read ahead"; the figures in docs/scaling.md.
**
** A client pulls one page at a time (docs/protocol.md: one request
** outstanding), so without this the master's read and the encoding of page
** n+1 start only when the client's PULL for it arrives, after page n went
** over the wire.  When a PULL's answer says `more`, the server starts the
** PULL the client will send next (from the answer's last_seq, the same
** limit, as the same user with the same claims) on a worker at once; when
** that PULL arrives and matches, its answer is the page already read (or
** the read under way).  Nothing of the protocol changes: the client sees
** the answer of the PULL it sent, read after its previous request was
** answered, under RLS as itself.
**
** One slot per session, holding at most CF_PREFETCH_DEPTH pages read or
** being read, one after the other: the read of the page after the last one
** starts as soon as that one's worker has cut it (before it converts and
** encodes its rows), so the master's read of page n+2 overlaps the server's
** work on page n+1.  The slot forgets its pages (and the reads' answers are
** thrown away) when the session's next request is anything else: another
** cursor or limit, other claims (AUTH), a PUSH (so a pull after a push
** always reads after it: read your writes), or when the page waited longer
** than CF_PREFETCH_MAX_AGE_MS.
**
**   cf__prefetch_new(&host, &slot)        with the session (loop thread)
**   cf__prefetch_answered(slot, job)      a job is handed back to the session
**   if (cf__prefetch_claim(slot, job))    the session submits a job:
**     return;                             ...taken, answered later
**   cf__prefetch_free(slot)               the session is gone
*/
#ifndef CF_SYNC_SERVER_PREFETCH_H
#define CF_SYNC_SERVER_PREFETCH_H

#include <stdint.h>

#include "clientflow.h"
#include "sync/server/pool.h"
#include "sync/session/job.h"

/* A page read ahead is used only this long after it was read. */
#define CF_PREFETCH_MAX_AGE_MS 2000
/* Pages one session may have read ahead or being read ahead at once. */
#define CF_PREFETCH_DEPTH 2

struct cf__prefetch_item;

typedef struct cf__prefetch cf__prefetch;

/* What the slots of one server share (the server; outlives every slot and
** every read under way: the pool is freed first). */
typedef struct cf__prefetch_host {
  cf__pool *pool;                /* where reads ahead run (CF_POOL_SYNC) */
  const cf__sjob_limits *limits; /* the server's limits */
  void *ctx;                     /* handed to the callbacks */
  /* The slot of session id, or NULL if the session is gone.  Loop. */
  cf__prefetch *(*slot_of)(void *ctx, uint64_t session_id);
  /* Hands j (owned by the callee) to its session as the answer of the
  ** request it has outstanding, as a job coming back from the pool (the
  ** callee frees it if the session is gone).  Loop. */
  void (*deliver)(void *ctx, cf__sjob *j);
  /* Runs fn(arg) on the loop thread soon (any thread; the pool's post), or
  ** NULL: the next read then starts only once the page before is answered. */
  int (*post)(void *ctx, void (*fn)(void *arg), void *arg);
  /* Where reads whose worker's notice is still to run wait (the server's,
  ** initially NULL; loop thread).  See cf__prefetch_host_cleanup. */
  struct cf__prefetch_item **limbo;
} cf__prefetch_host;

/* The server is stopped, its pool and loop freed: frees what waits in
** host's limbo (notices the loop will never run). */
void cf__prefetch_host_cleanup(const cf__prefetch_host *host);

/* CONSTRUCTOR.  A slot for one session; host is borrowed for its life.
** OUT: *out, NULL on failure.  CF_OK or CF_NOMEM. */
int cf__prefetch_new(const cf__prefetch_host *host, cf__prefetch **out) CF_WARN_UNUSED;

/* DESTRUCTOR.  The session is gone: a page kept is freed, a read under way
** is thrown away when it finishes.  NULL is fine. */
void cf__prefetch_free(cf__prefetch *slot);

/* METHOD.  j (borrowed) is being handed back to the session: a PULL
** answered with a page that says `more` starts the read of the next page,
** if none is under way.  A failure to start one only means no read ahead. */
void cf__prefetch_answered(cf__prefetch *slot, const cf__sjob *j);

/* METHOD.  The session submits j.  Returns 1 if the slot took it (j is
** freed; the page read ahead answers it through host->deliver, later, on
** the loop thread), 0 if the caller submits j as usual (the slot then
** forgets what it read ahead). */
int cf__prefetch_claim(cf__prefetch *slot, cf__sjob *j);

/* Pages answered from a read ahead, and reads ahead thrown away, by every
** slot of the process (statistics, tests). */
uint64_t cf__prefetch_hits(void);
uint64_t cf__prefetch_wasted(void);

#endif
