/*
** sync/client/events.c: the sync's status events and the background sync
** thread (include/clientflow.h, "Sync status events"; docs/embedding.md).
**
** Where each event comes from:
**   CONNECTED        the session reports WELCOME (checked every loop turn)
**   DISCONNECTED     client.c, when a connection's run ends, with the
**                    backoff it chose before the next attempt
**   PUSH_STARTED     the session's progress report of a batch sent
**                    (CF__SYNC_PHASE_PUSH_SENT)
**   PUSH_FINISHED    its progress report of a batch answered; the counts
**                    are the run's counters' growth since the batch began
**   PULL_PROGRESS    its progress report of an applied page: rows from the
**                    run's counter, the rate over the connection's time
**   CONFLICT         the session's result observer, for a rejected change
**   ACCESS_REVOKED   the run's revoked counter, when the connection ends
**   TOKEN_EXPIRING   the token's exp (read from its payload, unverified:
**                    only the server's verification counts) within the
**                    warning time, once per token
**   STOPPED          the background thread, when cf_sync_watch returns
** Every event is called on the thread running the sync.
*/
#include <stdio.h>
#include <string.h>

#include "core/codec.h"
#include "core/crypto.h"
#include "core/json.h"
#include "core/outcome.h"
#include "core/row.h"
#include "core/schema.h"
#include "platform/platform.h"
#include "store/store.h"
#include "sync/client/client_int.h"

static void emit(cf_sync *s, cf_sync_event *ev) {
  if (ev->message == NULL) ev->message = "";
  if (s->on_event != NULL) s->on_event(s->event_ctx, ev);
}

int64_t cf__sync_token_exp(const char *token) {
  const char *dot1 = token ? strchr(token, '.') : NULL;
  const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
  if (dot2 == NULL) return 0;
  size_t n = (size_t)(dot2 - dot1 - 1);
  if (n == 0 || n > CF_TOKEN_MAX_LEN) return 0;
  size_t cap = cf__base64url_decoded_max(n);
  unsigned char *json = cf__malloc(cap + 1);
  if (json == NULL) return 0;
  size_t len = 0;
  int64_t exp = 0;
  cf_json_limits lim = {8, 4, 64, 256, 32};
  cf_json_val root, found[1];
  static const char *const names[] = {"exp"};
  uint64_t v = 0;
  if (cf__base64url_decode(dot1 + 1, n, json, cap, &len) == CF_OK &&
      cf__json_read((const char *)json, len, &lim, &root) == CF_OK &&
      cf__json_object_pick(&root, names, 1, found) == CF_OK && found[0].p != NULL &&
      cf__json_uint(&found[0], (uint64_t)INT64_MAX, &v) == CF_OK)
    exp = (int64_t)v;
  cf__free(json);
  return exp;
}

/* The batch's counters as they are now: pushed, applied, superseded, rejected. */
static void batch_counts(const cf_sync *s, int64_t out[4]) {
  out[0] = cf__csess_count(s->sess, CF_SYNC_PUSHED);
  out[1] = cf__csess_count(s->sess, CF_SYNC_APPLIED);
  out[2] = cf__csess_count(s->sess, CF_SYNC_SUPERSEDED);
  out[3] = cf__csess_count(s->sess, CF_SYNC_REJECTED);
}

static void on_progress(void *ctx, int phase, int64_t done, int64_t total) {
  cf_sync *s = ctx;
  cf_sync_event ev;
  memset(&ev, 0, sizeof ev);
  if (phase == CF__SYNC_PHASE_PUSH_SENT) {
    batch_counts(s, s->batch_base);
    ev.kind = CF_SYNC_EVENT_PUSH_STARTED;
    ev.count = done;
    emit(s, &ev);
    return; /* not a public phase */
  }
  if (phase == CF_SYNC_PHASE_PUSH) {
    int64_t now[4];
    batch_counts(s, now);
    ev.kind = CF_SYNC_EVENT_PUSH_FINISHED;
    ev.count = now[0] - s->batch_base[0];
    ev.applied = now[1] - s->batch_base[1];
    ev.superseded = now[2] - s->batch_base[2];
    ev.rejected = now[3] - s->batch_base[3];
    memcpy(s->batch_base, now, sizeof now);
    emit(s, &ev);
  } else if (phase == CF_SYNC_PHASE_PULL) {
    int64_t rows = cf__csess_count(s->sess, CF_SYNC_PULLED) - s->conn_rows0;
    int64_t ns = cf__monotonic_ns() - s->conn_start_ns;
    ev.kind = CF_SYNC_EVENT_PULL_PROGRESS;
    ev.count = rows;
    ev.rate = ns > 0 ? (double)rows * 1e9 / (double)ns : 0.0;
    ev.unit = "rows/s";
    ev.percent = total > 0 ? (int)(done * 100 / total) : -1;
    if (ev.percent > 100) ev.percent = 100;
    emit(s, &ev);
  }
  if (s->progress) s->progress(s->progress_ctx, phase, done, total);
}

static void on_result(void *ctx, const cf__push_item *item, const cf_push_result *r) {
  cf_sync *s = ctx;
  if (r->status != CF_PUSH_REJECTED || s->on_event == NULL) return;
  const cf_table *t = item->change.table;
  char id[64] = "";
  int c = cf__schema_column_index(t, "id");
  const cf_cell *cell = c >= 0 ? cf__row_cell(&item->change, (unsigned)c) : NULL;
  if (cell != NULL && cell->value.n < sizeof id) {
    memcpy(id, cell->value.p, cell->value.n);
    id[cell->value.n] = '\0';
  }
  char msg[512];
  snprintf(msg, sizeof msg, "%s%s%.*s", cf__reject_reason_name(r->reason),
           r->message.n ? ": " : "", (int)(r->message.n < 400 ? r->message.n : 400),
           r->message.p ? (const char *)r->message.p : "");
  cf_sync_event ev;
  memset(&ev, 0, sizeof ev);
  ev.kind = CF_SYNC_EVENT_CONFLICT;
  ev.code = cf__reject_reason_result(r->reason);
  ev.message = msg;
  ev.table = t->name;
  ev.row_id = id;
  emit(s, &ev);
}

void cf__sync_events_attach(cf_sync *s) {
  cf__csess_set_progress(s->sess, on_progress, s);
  cf__csess_set_observer(s->sess, on_result, s);
}

void cf_sync_set_events(cf_sync *s, cf_sync_event_fn fn, void *ctx) {
  s->on_event = fn;
  s->event_ctx = ctx;
}

void cf_sync_set_token_warning(cf_sync *s, int seconds) {
  s->token_warning_s = seconds < 0 ? 0 : seconds;
}

void cf__sync_connection_begins(cf_sync *s) {
  s->connected_told = 0;
  s->conn_start_ns = cf__monotonic_ns();
  s->conn_rows0 = cf__csess_count(s->sess, CF_SYNC_PULLED);
  batch_counts(s, s->batch_base);
}

void cf__sync_loop_tick(cf_sync *s) {
  cf_sync_event ev;
  if (!s->connected_told && s->session != NULL && cf__csess_connected(s->sess)) {
    s->connected_told = 1;
    s->conn_start_ns = cf__monotonic_ns();
    memset(&ev, 0, sizeof ev);
    ev.kind = CF_SYNC_EVENT_CONNECTED;
    ev.message = cf__csess_role(s->sess);
    emit(s, &ev);
  }
  if (s->token_exp > 0 && !s->token_warned && s->token_warning_s > 0 &&
      cf__now_ms() / 1000 >= s->token_exp - s->token_warning_s) {
    s->token_warned = 1;
    memset(&ev, 0, sizeof ev);
    ev.kind = CF_SYNC_EVENT_TOKEN_EXPIRING;
    ev.expires_at = s->token_exp;
    ev.message = "the access token expires soon: pass a new one with cf_sync_set_token";
    emit(s, &ev);
  }
}

void cf__sync_connection_ended(cf_sync *s, int rc, int64_t retry_in_ms) {
  cf__sync_loop_tick(s); /* a short connection may have ended between turns */
  cf_sync_event ev;
  if (!s->revoked_told && cf__csess_count(s->sess, CF_SYNC_REVOKED) > 0) {
    s->revoked_told = 1;
    memset(&ev, 0, sizeof ev);
    ev.kind = CF_SYNC_EVENT_ACCESS_REVOKED;
    ev.code = CF_PERMISSION;
    ev.message = cf__csess_errmsg(s->sess);
    emit(s, &ev);
  }
  memset(&ev, 0, sizeof ev);
  ev.kind = CF_SYNC_EVENT_DISCONNECTED;
  ev.code = rc;
  ev.message = rc == CF_OK ? "" : cf__csess_errmsg(s->sess);
  ev.retry_in_ms = retry_in_ms;
  emit(s, &ev);
}

/* --- the background sync ----------------------------------------------------- */

static void background(void *arg) {
  cf_sync *s = arg;
  s->thread_rc = cf__sync_watch_loop(s);
  cf_sync_event ev;
  memset(&ev, 0, sizeof ev);
  ev.kind = CF_SYNC_EVENT_STOPPED;
  ev.code = s->thread_rc;
  ev.message = s->thread_rc == CF_OK ? "" : cf__csess_errmsg(s->sess);
  emit(s, &ev);
}

int cf_sync_start(cf_sync *s) {
  if (s == NULL || s->thread != NULL) return CF_MISUSE;
  s->stop = 0;
  s->thread_rc = CF_OK;
  return cf__thread_start(background, s, &s->thread);
}

int cf_sync_join(cf_sync *s) {
  if (s == NULL || s->thread == NULL) return CF_MISUSE;
  s->stop = 1;
  /* Not cf_sync_stop: that one must be signal-safe and so cannot take the
  ** lock that keeps the sync thread from freeing the endpoint meanwhile. */
  cf__mutex_lock(s->token_mu);
  if (s->ws != NULL) cf__ws_client_wake(s->ws);
  cf__mutex_unlock(s->token_mu);
  cf__thread_join(s->thread);
  s->thread = NULL;
  return s->thread_rc;
}
