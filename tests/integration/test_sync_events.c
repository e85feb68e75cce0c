/*
** tests/integration/test_sync_events.c: the sync's status events and the
** background sync (sync/client/events.c) against a real server and
** PostgreSQL: connected, pull progress with a rate in rows/s, push batches
** with their counts, a conflict as the master rejects it, disconnected with
** no retry after a run, the token about to expire; and a background sync on
** its own thread whose pulls reach a second (UI) handle's watched query, and
** which stops with ACCESS_REVOKED and STOPPED when the user is removed.
*/
#include "sync_fixture.h"

/* Events recorded from any thread. */
typedef struct events {
  pthread_mutex_t mu;       /* guards the rest */
  int n[16];                /* events by kind */
  int last_code[16];        /* code of the last event of each kind */
  int64_t pulled;           /* count of the last PULL_PROGRESS */
  char unit[16];            /* its unit */
  int64_t pushed, rejected; /* of PUSH_FINISHED, summed */
  char conflict[128];       /* "table id" of the last CONFLICT */
  int64_t retry;            /* retry_in_ms of the last DISCONNECTED */
  int64_t expires_at;       /* of TOKEN_EXPIRING */
} events;

static void on_event(void *ctx, const cf_sync_event *ev) {
  events *e = ctx;
  pthread_mutex_lock(&e->mu);
  if (ev->kind > 0 && ev->kind < 16) {
    e->n[ev->kind]++;
    e->last_code[ev->kind] = ev->code;
  }
  switch (ev->kind) {
    case CF_SYNC_EVENT_PULL_PROGRESS:
      e->pulled = ev->count;
      snprintf(e->unit, sizeof e->unit, "%s", ev->unit);
      break;
    case CF_SYNC_EVENT_PUSH_FINISHED:
      e->pushed += ev->count;
      e->rejected += ev->rejected;
      break;
    case CF_SYNC_EVENT_CONFLICT:
      snprintf(e->conflict, sizeof e->conflict, "%s %s", ev->table, ev->row_id);
      break;
    case CF_SYNC_EVENT_DISCONNECTED:
      e->retry = ev->retry_in_ms;
      break;
    case CF_SYNC_EVENT_TOKEN_EXPIRING:
      e->expires_at = ev->expires_at;
      break;
    default:
      break;
  }
  pthread_mutex_unlock(&e->mu);
}

static int count_of(events *e, int kind) {
  pthread_mutex_lock(&e->mu);
  int n = e->n[kind];
  pthread_mutex_unlock(&e->mu);
  return n;
}

CF_TEST(test_sync_events_report_connect_pull_push_conflict_and_disconnect) {
  sync_fx f;
  sfx_open(&f, 1);
  cf_node *n = sfx_node("rep", DEMO_ORG, DEMO_REP);
  events e;
  memset(&e, 0, sizeof e);
  pthread_mutex_init(&e.mu, NULL);
  char *t = sfx_token(DEMO_REP, 30); /* inside the 60 s warning */
  cf_sync *s = NULL;
  CHECK_OK(cf_sync_new(n, f.ws_url, t, &s));
  cf_sync_set_events(s, on_event, &e);
  int rc = cf_sync_run(s);
  CHECK_MSG(rc == CF_OK, "sync: %s", cf_sync_errmsg(s));
  CHECK_EQ(e.n[CF_SYNC_EVENT_CONNECTED], 1);
  CHECK(e.n[CF_SYNC_EVENT_PULL_PROGRESS] >= 1);
  CHECK_EQ(e.pulled, cf_sync_count(s, CF_SYNC_PULLED));
  CHECK_STR(e.unit, "rows/s");
  CHECK_EQ(e.n[CF_SYNC_EVENT_DISCONNECTED], 1);
  CHECK_EQ(e.last_code[CF_SYNC_EVENT_DISCONNECTED], CF_OK);
  CHECK_EQ(e.retry, -1);
  CHECK_EQ(e.n[CF_SYNC_EVENT_TOKEN_EXPIRING], 1);
  CHECK(e.expires_at > 0);
  /* A rep may not rename the org: the master rejects it; the rest lands. */
  sfx_node_exec(n, "UPDATE organizations SET name = 'Renamed'");
  sfx_node_exec(
      n, "UPDATE contacts SET phone = '+1-ev' WHERE id = '" DEMO_CONTACT("02") "'");
  rc = cf_sync_run(s);
  CHECK_MSG(rc == CF_OK, "sync: %s", cf_sync_errmsg(s));
  CHECK(e.n[CF_SYNC_EVENT_PUSH_STARTED] >= 1);
  CHECK_EQ(e.pushed, 2);
  CHECK_EQ(e.rejected, 1);
  CHECK_EQ(e.n[CF_SYNC_EVENT_CONFLICT], 1);
  CHECK_EQ(e.last_code[CF_SYNC_EVENT_CONFLICT], CF_PERMISSION);
  CHECK_STR(e.conflict, "organizations " DEMO_ORG);
  CHECK_EQ(e.n[CF_SYNC_EVENT_TOKEN_EXPIRING], 1); /* once per token */
  cf_sync_free(s);
  cf_token_free(t);
  cf_node_close(n);
  pthread_mutex_destroy(&e.mu);
  sfx_close(&f);
}

/* What the UI handle's watch saw. */
typedef struct ui_seen {
  char phone[64]; /* the watched cell */
  int results;    /* results delivered */
} ui_seen;

static void on_phone(void *ctx, const cf_rows *rows) {
  ui_seen *u = ctx;
  u->results++;
  const char *p = cf_rows_count(rows) > 0 ? cf_rows_text(rows, 0, 0) : NULL;
  snprintf(u->phone, sizeof u->phone, "%s", p ? p : "");
}

CF_TEST(test_background_sync_reaches_ui_handle_and_stops_on_revocation) {
  sync_fx f;
  sfx_open(&f, 1);
  cf_node *first = sfx_node("laptop", DEMO_ORG, DEMO_REP);
  sfx_sync_ok(&f, first); /* bootstrap */
  cf_node_close(first);
  cf_node *ui = sfx_node("laptop", DEMO_ORG, DEMO_REP);
  cf_node *bg = sfx_node("laptop", DEMO_ORG, DEMO_REP);
  ui_seen u = {"", 0};
  cf_watch *w = NULL;
  CHECK_OK(cf_node_watch(ui,
                         "SELECT phone FROM contacts WHERE id = '" DEMO_CONTACT("03") "'",
                         on_phone, &u, &w));
  CHECK_OK(cf_node_poll(ui));
  CHECK_EQ(u.results, 1);
  events e;
  memset(&e, 0, sizeof e);
  pthread_mutex_init(&e.mu, NULL);
  char *t = sfx_token(DEMO_REP, 3600);
  cf_sync *s = NULL;
  CHECK_OK(cf_sync_new(bg, f.ws_url, t, &s));
  cf_sync_set_events(s, on_event, &e);
  CHECK_OK(cf_sync_start(s));
  CHECK_EQ(cf_sync_start(s), CF_MISUSE);
  int64_t deadline = sfx_monotonic_ms() + 20000;
  while (count_of(&e, CF_SYNC_EVENT_CONNECTED) == 0 && sfx_monotonic_ms() < deadline)
    (void)cf_node_wait(ui, 100);
  CHECK(count_of(&e, CF_SYNC_EVENT_CONNECTED) == 1);
  /* A colleague's edit on the master arrives live and reaches the UI. */
  sfx_sql(&f, "UPDATE contacts SET phone = '+1-live' WHERE org_id = '" DEMO_ORG
              "' AND id = '" DEMO_CONTACT("03") "'");
  while (strcmp(u.phone, "+1-live") != 0 && sfx_monotonic_ms() < deadline) {
    (void)cf_node_wait(ui, 250);
    CHECK_OK(cf_node_poll(ui));
  }
  CHECK_STR(u.phone, "+1-live");
  /* The rep loses the org: revoked, and the background sync stops. */
  sfx_sql(&f, "DELETE FROM memberships WHERE id = '" DEMO_REP_MEMBERSHIP "'");
  while (count_of(&e, CF_SYNC_EVENT_STOPPED) == 0 && sfx_monotonic_ms() < deadline)
    (void)cf_node_wait(ui, 100);
  CHECK_EQ(count_of(&e, CF_SYNC_EVENT_ACCESS_REVOKED), 1);
  CHECK_EQ(count_of(&e, CF_SYNC_EVENT_STOPPED), 1);
  CHECK_EQ(e.last_code[CF_SYNC_EVENT_STOPPED], CF_PERMISSION);
  CHECK_EQ(cf_sync_join(s), CF_PERMISSION);
  cf_sync_free(s);
  cf_token_free(t);
  cf_watch_free(w);
  cf_node_close(bg);
  cf_node_close(ui);
  pthread_mutex_destroy(&e.mu);
  sfx_close(&f);
}
