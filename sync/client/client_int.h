/*
** sync/client/client_int.h: the cf_sync handle, shared by the files of
** sync/client/ (internal): client.c carries the session over the transport,
** events.c turns what happens into status events and runs the background
** thread.
*/
#ifndef CF_SYNC_CLIENT_INT_H
#define CF_SYNC_CLIENT_INT_H

#include <stdatomic.h>
#include <stdint.h>

#include "clientflow.h"
#include "platform/thread.h"
#include "sync/net/transport.h"
#include "sync/session/client_session.h"

struct cf_sync {
  cf_node *node;           /* the replica (borrowed) */
  char *url;               /* ws://host:port/sync */
  char *token;             /* the access token */
  cf__mutex *token_mu;     /* guards next_token and ws */
  char *next_token;        /* a token from cf_sync_set_token not yet sent */
  cf__ws_client *ws;       /* the transport endpoint of the current run */
  cf__ws_session *session; /* the connection, NULL when closed */
  cf__csess *sess;         /* the protocol */
  _Atomic int stop;        /* cf_sync_stop was called (any thread, a signal) */
  cf__thread *applier;     /* the thread applying a page (client.c), or NULL */

  /* status events (events.c) */
  cf_sync_progress_fn progress; /* the app's progress callback, may be NULL */
  void *progress_ctx;           /* its context */
  cf_sync_event_fn on_event;    /* the app's event callback, may be NULL */
  void *event_ctx;              /* its context */
  int connected_told;           /* CONNECTED sent for the current connection */
  int revoked_told;             /* ACCESS_REVOKED sent */
  int64_t conn_start_ns;        /* monotonic time the connection was welcomed */
  int64_t conn_rows0;           /* rows pulled in the run before it */
  int64_t batch_base[4];        /* pushed/applied/superseded/rejected before the batch */
  int64_t token_exp;            /* the token's exp (s since the epoch), 0 unknown */
  int token_warned;             /* TOKEN_EXPIRING sent for this token */
  int token_warning_s;          /* seconds before exp to warn (0: never) */

  /* the background thread (events.c) */
  cf__thread *thread; /* running cf_sync_watch, NULL when not started */
  int thread_rc;      /* what it returned */
};

/* client.c: the watch loop without resetting stop (cf_sync_watch resets
** it, the background thread must not: a stop may come before it runs). */
int cf__sync_watch_loop(cf_sync *s);

/* events.c */
/* The exp claim of a JWT, read without verifying it (the server verifies);
** 0 when there is none or the token is not a JWT. */
int64_t cf__sync_token_exp(const char *token);
/* Installs the session's progress and result observers on s->sess. */
void cf__sync_events_attach(cf_sync *s);
/* A connection is about to be made. */
void cf__sync_connection_begins(cf_sync *s);
/* Called on the event loop's every turn (and while waiting to retry):
** CONNECTED once WELCOME came, TOKEN_EXPIRING when due. */
void cf__sync_loop_tick(cf_sync *s);
/* The connection ended with rc; retry_in_ms: the next attempt, -1 none. */
void cf__sync_connection_ended(cf_sync *s, int rc, int64_t retry_in_ms);

#endif
