/*
** sync/client/client.c: the cf_sync API (include/clientflow.h) -- the node side of
** the sync channel carried over libwebsockets.  The protocol itself is the
** client session (sync/session/client_session.c, a state machine fed frames); this
** file connects it to the transport (sync/net/transport.c), runs the event
** loop, reconnects a watching session with backoff, and takes tokens and
** stop requests from other threads.  Design: docs/protocol.md ("Session").
** Status events and the background thread are sync/client/events.c.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clientflow.h"
#include "core/codec.h"
#include "platform/platform.h"
#include "platform/thread.h"
#include "sync/session/client_session.h"
#include "sync/client/client_int.h"
#include "sync/net/transport.h"

/* --- the session's effects ---------------------------------------------------- */

static int io_send(void *ctx, const uint8_t *bytes, size_t n) {
  cf_sync *s = ctx;
  if (s->session == NULL) return CF_UNREACHABLE;
  return cf__ws_send(s->session, bytes, n);
}

static void io_close(void *ctx, int ws_code, const char *reason) {
  cf_sync *s = ctx;
  if (s->session != NULL) cf__ws_close(s->session, ws_code, reason);
}

/* --- pages applied on a thread of their own ----------------------------------- */

/* While a page is merged into the replica on a thread of its own, this
** thread goes on receiving the next page (libwebsockets' parse of its
** bytes) and decoding it: the two halves of a page's cost on the replica
** overlap (docs/replica.md, "Bootstrap: receive beside apply"). */
static void apply_thread(void *arg) { cf__csess_apply_job_run(arg); }

static int applier_start(void *ctx, cf__csess_apply_job *job) {
  cf_sync *s = ctx;
  return cf__thread_start(apply_thread, job, &s->applier);
}

static void applier_wait(void *ctx) {
  cf_sync *s = ctx;
  cf__thread_join(s->applier);
  s->applier = NULL;
}

/* --- transport callbacks --------------------------------------------------- */

static int on_open(void *ctx, cf__ws_session *ws) {
  cf_sync *s = ctx;
  s->session = ws;
  cf__csess_io io = {s, io_send, io_close};
  return cf__csess_open(s->sess, &io, s->token) == CF_OK ? CF_OK : CF_ERROR;
}

static void on_message(void *ctx, cf__ws_session *ws, const uint8_t *msg, size_t len) {
  cf_sync *s = ctx;
  (void)ws;
  cf__csess_on_message(s->sess, msg, len);
}

static void on_close(void *ctx, cf__ws_session *ws, int rc, int code,
                     const char *reason) {
  cf_sync *s = ctx;
  (void)ws;
  s->session = NULL;
  cf__csess_on_close(s->sess, rc, code, reason);
}

/* --- public API ------------------------------------------------------------ */

int cf_sync_new(cf_node *node, const char *url, const char *token, cf_sync **out) {
  *out = NULL;
  if (node == NULL || url == NULL || token == NULL) return CF_MISUSE;
  cf_sync *s = cf__calloc(1, sizeof *s);
  if (s == NULL) return CF_NOMEM;
  s->node = node;
  s->url = cf__strdup(url);
  s->token = cf__strdup(token);
  if (s->url == NULL || s->token == NULL || cf__mutex_new(&s->token_mu) != CF_OK ||
      cf__csess_new(node, s->url, &s->sess) != CF_OK) {
    cf_sync_free(s);
    return CF_NOMEM;
  }
  s->token_warning_s = 60;
  s->token_exp = cf__sync_token_exp(s->token);
  cf__csess_applier applier = {s, applier_start, applier_wait};
  cf__csess_set_applier(s->sess, &applier);
  cf__sync_events_attach(s);
  *out = s;
  return CF_OK;
}

void cf_sync_set_progress(cf_sync *s, cf_sync_progress_fn fn, void *ctx) {
  s->progress = fn;
  s->progress_ctx = ctx;
}

/* Adopts a token set with cf_sync_set_token; returns 1 if there was one. */
static int take_new_token(cf_sync *s) {
  cf__mutex_lock(s->token_mu);
  char *t = s->next_token;
  s->next_token = NULL;
  cf__mutex_unlock(s->token_mu);
  if (t == NULL) return 0;
  cf__free(s->token);
  s->token = t;
  s->token_exp = cf__sync_token_exp(s->token);
  s->token_warned = 0;
  return 1;
}

/* Presents a token set with cf_sync_set_token on the open socket (AUTH); the
** next connection uses it for HELLO anyway.  Before WELCOME the socket cannot
** carry AUTH (cf__csess_send_token drops it), so the token waits until then:
** taken earlier, it was lost for this connection, which the server then
** closed when the first token expired. */
static void send_new_token(cf_sync *s) {
  if (!cf__csess_connected(s->sess)) return;
  if (take_new_token(s)) cf__csess_send_token(s->sess, s->token);
}

/* One connection: returns when it has ended (DONE, or FAILED). */
static int run_session(cf_sync *s) {
  (void)take_new_token(s); /* HELLO presents the newest token */
  cf__sync_connection_begins(s);
  if (cf__csess_start(s->sess) != CF_OK) return cf__csess_finish(s->sess);
  cf__ws_client_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.ws.ctx = s;
  cfg.ws.on_open = on_open;
  cfg.ws.on_message = on_message;
  cfg.ws.on_close = on_close;
  cfg.limits.max_message = CF_CODEC_MAX_FRAME;
  cfg.tls = strncmp(s->url, "wss://", 6) == 0;
  char err[256];
  cf__ws_client *ws = NULL;
  int rc = cf__ws_client_new(&cfg, &ws, err, sizeof err);
  if (rc != CF_OK) {
    cf__csess_fail(s->sess, rc, "%s", err);
    return cf__csess_finish(s->sess);
  }
  cf__mutex_lock(s->token_mu); /* cf_sync_set_token may wake it meanwhile */
  s->ws = ws;
  cf__mutex_unlock(s->token_mu);
  rc = cf__ws_client_connect(s->ws, s->url, &s->session);
  if (rc != CF_OK) {
    s->session = NULL;
    cf__csess_fail(s->sess, rc,
                   rc == CF_INVALID ? "not a ws:// or wss:// URL: %s"
                                    : "cannot connect to %s",
                   s->url);
  }
  while (rc == CF_OK && cf__ws_client_session_count(s->ws) > 0) {
    if (cf__ws_client_run_once(s->ws, 200) != CF_OK) {
      cf__csess_fail(s->sess, CF_IO, "the event loop failed");
      break;
    }
    if (cf__csess_has_deferred(s->sess)) {
      /* Put the PULL for the next page on the wire, then apply this one (on
      ** the applier's thread: the loop goes on receiving meanwhile). */
      if (cf__ws_client_run_once(s->ws, 0) != CF_OK) {
        cf__csess_fail(s->sess, CF_IO, "the event loop failed");
        break;
      }
      cf__csess_apply_deferred(s->sess);
    }
    cf__sync_loop_tick(s);
    if (s->stop) cf__csess_stop(s->sess);
    send_new_token(s);
    cf__csess_poll(s->sess, cf__monotonic_ns() / 1000000);
  }
  cf__mutex_lock(s->token_mu);
  ws = s->ws;
  s->ws = NULL;
  cf__mutex_unlock(s->token_mu);
  cf__ws_client_free(ws);
  s->session = NULL;
  return cf__csess_finish(s->sess);
}

int cf_sync_run(cf_sync *s) {
  cf__csess_begin_run(s->sess, 0);
  int rc = run_session(s);
  cf__sync_connection_ended(s, rc, -1);
  return rc;
}

/* Failures that another attempt with the same token cannot fix. */
static int is_final(int rc) {
  return rc == CF_AUTH || rc == CF_PERMISSION || rc == CF_NOTFOUND || rc == CF_INVALID ||
         rc == CF_MISUSE || rc == CF_STORE || rc == CF_CORRUPT || rc == CF_NOMEM;
}

int cf_sync_watch(cf_sync *s) {
  s->stop = 0;
  return cf__sync_watch_loop(s);
}

int cf__sync_watch_loop(cf_sync *s) {
  cf__csess_begin_run(s->sess, 1);
  int backoff_ms = 250;
  for (;;) {
    int rc = run_session(s);
    if (s->stop) {
      cf__sync_connection_ended(s, CF_OK, -1);
      return CF_OK;
    }
    if (is_final(rc)) {
      cf__sync_connection_ended(s, rc, -1);
      return rc;
    }
    if (cf__csess_connected(s->sess))
      backoff_ms = 250; /* it worked a while: start over */
    /* Exponential backoff with full jitter, so many nodes that lost one
    ** server do not come back in lockstep. */
    unsigned char r[2];
    int jitter =
        cf__random(r, sizeof r) == CF_OK ? ((r[0] << 8) | r[1]) % (backoff_ms + 1) : 0;
    int wait_ms = backoff_ms / 2 + jitter / 2;
    cf__log(CF_LOG_INFO, "msg=\"sync reconnecting\" in_ms=%d reason=\"%s\"", wait_ms,
            cf__csess_errmsg(s->sess));
    cf__sync_connection_ended(s, rc, wait_ms);
    for (int waited = 0; waited < wait_ms && !s->stop; waited += 50) {
      cf__sync_loop_tick(s);
      cf__sleep_ms(50);
    }
    if (s->stop) return CF_OK;
    backoff_ms = backoff_ms < 15000 ? backoff_ms * 2 : 30000;
  }
}

int cf_sync_set_token(cf_sync *s, const char *token) {
  if (token == NULL || strlen(token) > CF_CODEC_MAX_TOKEN) return CF_INVALID;
  char *copy = cf__strdup(token);
  if (copy == NULL) return CF_NOMEM;
  cf__mutex_lock(s->token_mu);
  cf__free(s->next_token);
  s->next_token = copy;
  if (s->ws) cf__ws_client_wake(s->ws);
  cf__mutex_unlock(s->token_mu);
  return CF_OK;
}

void cf_sync_stop(cf_sync *s) {
  s->stop = 1;
  if (s->ws) cf__ws_client_wake(s->ws);
}

int64_t cf_sync_count(const cf_sync *s, cf_sync_counter which) {
  return cf__csess_count(s->sess, which);
}

const char *cf_sync_role(const cf_sync *s) { return cf__csess_role(s->sess); }

const char *cf_sync_errmsg(const cf_sync *s) { return cf__csess_errmsg(s->sess); }

void cf_sync_free(cf_sync *s) {
  if (s == NULL) return;
  if (s->thread != NULL) {
    int rc = cf_sync_join(s); /* its failure was an event already */
    (void)rc;
  }
  cf__ws_client_free(s->ws);
  cf__csess_free(s->sess);
  cf__free(s->next_token);
  cf__mutex_free(s->token_mu);
  cf__free(s->url);
  cf__free(s->token);
  cf__free(s);
}
