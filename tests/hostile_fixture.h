/*
** tests/hostile_fixture.h: a hostile hand-made client for the
** hostile-client tests (tests/integration/test_hostile_*.c).
**
** Built on tests/sync_fixture.h (a fresh seeded database, a real server on
** loopback, the raw WebSocket client).  Adds what an attacker does that a
** well-behaved client never does:
**
**   - HELLO with a chosen node id, last_batch and HLC (hx_connect,
**     hx_hello), so several sessions can pose as one node;
**   - PUSH and PULL frames sent without expecting any particular answer
**     (sfx_raw_send_push, hx_send_pull), and the answer read as whatever it is
**     (hx_next: PUSH_RESULT, CHANGES, ERROR ...);
**   - full rows of ANY table built from core/schema.h with values that
**     pass the master's checks (hx_full_row), so a test can remove a cell
**     and push what remains;
**   - a PULL from 0 to the end that fails the test on any ERROR
**     (hx_pull_all), with a callback per row;
**   - SQL as a user under RLS on the superuser connection (hx_sql_as).
**
** Everything is `static inline`, like sync_fixture.h; every wait polls an
** event loop with a deadline (raw_expect_frame): no sleeps.
*/
#ifndef CF_HOSTILE_FIXTURE_H
#define CF_HOSTILE_FIXTURE_H

#include "sync_fixture.h"

/* A version of node at the process clock's now. */
static inline cf_ver hx_ver_now(const cf_nodeid *node) {
  cf_ver v;
  cf__ver_make(CF_HLC_MAKE(cf__now_ms(), 0), node, &v);
  return v;
}

/* Connects a raw session posing as node `node` (NULL: a random one). */
static inline void hx_connect(raw_client *c, const sync_fx *f, const cf_nodeid *node) {
  raw_connect(c, f, 0);
  if (node) c->node = *node;
}

/* HELLO as the token's subject for org, with the given last_batch, hlc
** (0: the process clock now) and cursor, offering protocols
** CF_PROTO_MIN..proto_max. */
static inline void hx_hello_proto(raw_client *c, const char *token, const char *org,
                                  uint64_t last_batch, cf_hlc hlc, uint64_t cursor,
                                  unsigned proto_max) {
  cf_hello h;
  cf__hello_init(&h, token, proto_max, "hostile-client");
  h.node = c->node;
  CHECK_OK(cf__uuid_parse(org, strlen(org), &h.org));
  h.last_batch = last_batch;
  h.cursor = cursor;
  h.hlc = hlc ? hlc : (cf_hlc)cf__now_ms() << 16;
  cf_buf b;
  cf__buf_init(&b, CF_CODEC_MAX_FRAME);
  CHECK_OK(cf__encode_hello(&h, &b));
  raw_send(c, b.p, b.len);
  cf__buf_free(&b);
}

/* The same offering every protocol this build speaks. */
static inline void hx_hello_at(raw_client *c, const char *token, const char *org,
                               uint64_t last_batch, cf_hlc hlc, uint64_t cursor) {
  hx_hello_proto(c, token, org, last_batch, hlc, cursor, CF_PROTO_MAX);
}

/* HELLO as the token's subject for org, with the given last_batch and hlc
** (0: the process clock now), from cursor 0. */
static inline void hx_hello(raw_client *c, const char *token, const char *org,
                            uint64_t last_batch, cf_hlc hlc) {
  hx_hello_at(c, token, org, last_batch, hlc, 0);
}

/*
** The next frame other than LIVE and FEED, whatever it is; free with cf__frame_free.
** Frees the messages already read first (a raw session keeps at most
** RAW_MAX_MSGS), so a frame obtained earlier must not be used any more.
*/
static inline void hx_next(raw_client *c, cf_frame *out) {
  for (int i = 0; i < c->next; i++)
    free(c->msg[i]);
  for (int i = c->next; i < c->nmsg; i++) {
    c->msg[i - c->next] = c->msg[i];
    c->len[i - c->next] = c->len[i];
  }
  c->nmsg -= c->next;
  c->next = 0;
  raw_expect_frame(c, out);
}

/* Prints an ERROR frame's code and message into buf (for failure messages). */
static inline const char *hx_describe(const cf_frame *fr, char *buf, size_t cap) {
  if (fr->type == CF_FRAME_ERROR)
    snprintf(buf, cap, "ERROR %s (%.*s)", cf__wire_error_name(fr->u.error.code),
             (int)fr->u.error.message.n, fr->u.error.message.p);
  else
    snprintf(buf, cap, "%s", cf__frame_type_name(fr->type));
  return buf;
}

/* Connects as node (NULL: random), says HELLO (last_batch 0, hlc now) and
** expects WELCOME, whose fields are copied to *w if w is not NULL. */
static inline void hx_connect_welcomed(raw_client *c, const sync_fx *f, const char *token,
                                       const char *org, const cf_nodeid *node,
                                       cf_welcome *w) {
  hx_connect(c, f, node);
  hx_hello(c, token, org, 0, 0);
  cf_frame fr;
  char why[1200];
  hx_next(c, &fr);
  CHECK_MSG(fr.type == CF_FRAME_WELCOME, "expected WELCOME, got %s",
            hx_describe(&fr, why, sizeof why));
  if (w) {
    *w = fr.u.welcome;
    w->role.p = NULL;
    w->role.n = 0;
  }
  cf__frame_free(&fr);
}

/* Expects ERROR `code` whose message contains `needle` (NULL: any), then
** the session to close.  Fails the test naming what came instead. */
static inline void hx_expect_error(raw_client *c, unsigned code, const char *needle) {
  cf_frame fr;
  char why[1200];
  hx_next(c, &fr);
  hx_describe(&fr, why, sizeof why);
  int ok = fr.type == CF_FRAME_ERROR && fr.u.error.code == code;
  char msg[1100];
  snprintf(msg, sizeof msg, "%.*s",
           fr.type == CF_FRAME_ERROR ? (int)fr.u.error.message.n : 0,
           fr.type == CF_FRAME_ERROR ? fr.u.error.message.p : "");
  cf__frame_free(&fr);
  CHECK_MSG(ok, "expected ERROR %s, got %s", cf__wire_error_name(code), why);
  CHECK_MSG(needle == NULL || strstr(msg, needle) != NULL,
            "ERROR %s message \"%s\" does not mention \"%s\"", cf__wire_error_name(code),
            msg, needle);
  CHECK_MSG(raw_run_until(c, raw_is_closed), "the server did not close the session");
}

/* Sends PULL(from, limit). */
static inline void hx_send_pull(raw_client *c, uint64_t from, uint64_t limit) {
  cf_pull p = {from, limit};
  cf_buf b;
  cf__buf_init(&b, 64);
  CHECK_OK(cf__encode_pull(&p, &b));
  raw_send(c, b.p, b.len);
  cf__buf_free(&b);
}

/* The session answers PING(nonce) with PONG(nonce). */
static inline void hx_check_alive(raw_client *c, uint64_t nonce) {
  cf_buf b;
  cf__buf_init(&b, 64);
  CHECK_OK(cf__encode_seq(CF_FRAME_PING, nonce, &b));
  raw_send(c, b.p, b.len);
  cf__buf_free(&b);
  cf_frame fr;
  char why[1200];
  hx_next(c, &fr);
  CHECK_MSG(fr.type == CF_FRAME_PONG, "PING: got %s", hx_describe(&fr, why, sizeof why));
  CHECK_EQ(fr.u.ping.nonce, nonce);
  cf__frame_free(&fr);
  CHECK(!c->closed);
}

/* Checks result i of a PUSH_RESULT: status (and, if rejected, reason). */
static inline void hx_check_result(const cf_frame *r, size_t i, cf_push_status status,
                                   unsigned reason, const char *what) {
  const cf_push_result *res = &r->u.push_result.results[i];
  CHECK_MSG(res->status == status &&
                (status != CF_PUSH_REJECTED || res->reason == reason),
            "%s: change %zu answered %s/%s (%.*s), expected %s/%s", what, i + 1,
            cf__push_status_name(res->status), cf__reject_reason_name(res->reason),
            (int)res->message.n, res->message.p, cf__push_status_name(status),
            cf__reject_reason_name(reason));
}

/* Non-zero if result i's message contains needle. */
static inline int hx_result_mentions(const cf_frame *r, size_t i, const char *needle) {
  const cf_push_result *res = &r->u.push_result.results[i];
  char msg[1100];
  snprintf(msg, sizeof msg, "%.*s", (int)res->message.n, res->message.p);
  return strstr(msg, needle) != NULL;
}

/* --- full rows of any table --------------------------------------------- */

/* Text values a row borrows; keep it alive while the row is used. */
typedef struct hx_rowbuf {
  char org[40];  /* org_id */
  char id[40];   /* id */
  char user[40]; /* memberships.user_id */
  char day[16];  /* daily_metrics.day (unique per org) */
} hx_rowbuf;

/* A canonical value for column col of table t that passes the master's
** checks (001_init.sql), for an insert made by the tests. */
static inline cf_value hx_column_value(const cf_table *t, const cf_column *col,
                                       const hx_rowbuf *rb) {
  const char *n = col->name;
  const char *tn = t->name;
#define HX_TEXT(s) cf__value_text((s), strlen(s))
  if (strcmp(n, "user_id") == 0 && strcmp(tn, "memberships") == 0)
    return HX_TEXT(rb->user);
  if (col->type == CF_TYPE_UUID) return cf__value_null(); /* references: nullable */
  if (strcmp(tn, "automations") == 0 && strcmp(n, "name") == 0) return HX_TEXT(rb->id);
  if (strcmp(tn, "daily_metrics") == 0 && strcmp(n, "day") == 0) return HX_TEXT(rb->day);
  if (strcmp(n, "email") == 0) return cf__value_null();
  if (strcmp(n, "role") == 0) return HX_TEXT("member");
  if (strcmp(n, "kind") == 0) return HX_TEXT("call");
  if (strcmp(n, "channel") == 0) return HX_TEXT("email");
  if (strcmp(n, "direction") == 0) return HX_TEXT("inbound");
  if (strcmp(n, "trigger") == 0) return HX_TEXT("contact_created");
  if (strcmp(n, "action") == 0) return HX_TEXT("send_email");
  if (strcmp(n, "starts_at") == 0) return HX_TEXT("2031-01-01T10:00:00.000000Z");
  if (strcmp(n, "ends_at") == 0) return HX_TEXT("2031-01-01T11:00:00.000000Z");
  if (col->def == CF_DEFAULT_CONST) {
    cf_value v;
    CHECK_OK(cf__column_default(col, &v));
    return v;
  }
  switch (col->type) {
    case CF_TYPE_TEXT:
      return HX_TEXT("hostile");
    case CF_TYPE_INTEGER:
    case CF_TYPE_BIGINT:
      return cf__value_int(0);
    case CF_TYPE_NUMERIC:
      return HX_TEXT("0.00");
    case CF_TYPE_BOOLEAN:
      return cf__value_int(1);
    case CF_TYPE_DATE:
      return HX_TEXT("2031-01-01");
    case CF_TYPE_TIMESTAMPTZ:
      return HX_TEXT("2026-11-28T16:00:00.000000Z");
    case CF_TYPE_JSONB:
      return HX_TEXT("{}");
    case CF_TYPE_TEXT_ARRAY:
      return HX_TEXT("[]");
    case CF_TYPE_UUID:
      break;
  }
#undef HX_TEXT
  return cf__value_null();
}

/*
** A full insert of a new row of table t: every column (canonical, checked
** with cf__value_canon) and deleted = 0, every data cell with version v.
** The strings are borrowed from rb, which the caller fills (org, id, and
** for memberships the user, for daily_metrics a day no row of the org has).
*/
static inline void hx_full_row(cf_change *c, const cf_table *t, const hx_rowbuf *rb,
                               const cf_ver *v) {
  cf__row_init(c, t);
  cf_buf tmp;
  cf__buf_init(&tmp, CF_VALUE_MAX_BYTES);
  for (unsigned i = 0; i < t->ncols; i++) {
    const cf_column *col = &t->cols[i];
    cf_value val;
    if (col->key)
      val = (int)i == t->org_col ? cf__value_text(rb->org, strlen(rb->org))
                                 : cf__value_text(rb->id, strlen(rb->id));
    else
      val = hx_column_value(t, col, rb);
    if (!col->key) {
      cf_value canon;
      int rc = cf__value_canon(col, &val, &tmp, &canon);
      CHECK_MSG(rc == CF_OK && cf__value_equal(&canon, &val),
                "test value of %s.%s is not canonical (%s)", t->name, col->name,
                cf_strerror(rc));
    }
    CHECK_OK(cf__row_set(c, i, &val, col->key ? NULL : v));
  }
  cf__row_set_deleted(c, 0, v);
  cf__buf_free(&tmp);
}

/* --- pulling --------------------------------------------------------------- */

/* Called for each pulled row (borrowed, valid during the call). */
typedef void (*hx_row_fn)(void *ctx, const cf_row *row);

/* The id cell of row as text in out[40] ("" if absent). */
static inline void hx_row_id(const cf_row *row, char out[40]) {
  const cf_cell *c = cf__row_cell(row, (unsigned)row->table->id_col);
  snprintf(out, 40, "%.*s", c && c->value.kind == CF_VALUE_TEXT ? (int)c->value.n : 0,
           c && c->value.kind == CF_VALUE_TEXT ? c->value.p : "");
}

/*
** On a welcomed session: PULL from `from` page by page until more = 0 (or
** CHECKPOINT).  Any other answer (ERROR above all) fails the test.  Calls
** fn for every row; returns the last cursor, and the head in *head.
*/
static inline uint64_t hx_pull_all(raw_client *c, uint64_t from, hx_row_fn fn, void *ctx,
                                   uint64_t *head) {
  uint64_t cur = from;
  for (int pages = 0; pages < 10000; pages++) {
    hx_send_pull(c, cur, 1000);
    cf_frame fr;
    char why[1200];
    hx_next(c, &fr);
    if (fr.type == CF_FRAME_CHECKPOINT) {
      cur = fr.u.checkpoint.seq;
      cf__frame_free(&fr);
      return cur;
    }
    CHECK_MSG(fr.type == CF_FRAME_CHANGES, "PULL from %llu: got %s",
              (unsigned long long)cur, hx_describe(&fr, why, sizeof why));
    for (size_t i = 0; i < fr.u.changes.nrows; i++)
      if (fn) fn(ctx, &fr.u.changes.rows[i]);
    cur = fr.u.changes.last_seq;
    if (head) *head = fr.u.changes.head_seq;
    int more = fr.u.changes.more;
    cf__frame_free(&fr);
    if (!more) return cur;
  }
  CHECK_MSG(0, "PULL never ended");
  return cur;
}

/* --- SQL as a user --------------------------------------------------------- */

/*
** Runs sql on the superuser connection as `user` under RLS (SET LOCAL ROLE
** authenticated and the user's claims, as PostgREST/Supabase do), in its
** own transaction.  Returns 1 if it succeeded (committed); else 0 with the
** SQLSTATE in state[6] and the message in msg (both may be NULL).
*/
static inline int hx_sql_as(sync_fx *f, const char *user, const char *sql, char state[6],
                            char *msg, size_t cap) {
  char pre[512];
  snprintf(pre, sizeof pre,
           "BEGIN; SET LOCAL ROLE authenticated; SELECT set_config('request.jwt.claims', "
           "'{\"sub\":\"%s\",\"role\":\"authenticated\"}', true)",
           user);
  sfx_sql(f, pre);
  PGresult *r = PQexec(f->admin, sql);
  ExecStatusType st = PQresultStatus(r);
  int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
  if (!ok) {
    const char *s = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (state) snprintf(state, 6, "%s", s ? s : "");
    if (msg) snprintf(msg, cap, "%s", PQerrorMessage(f->admin));
  }
  PQclear(r);
  sfx_sql(f, ok ? "COMMIT" : "ROLLBACK");
  return ok;
}

/* The org's head on the master (cf_sync.org_clock). */
static inline long long hx_master_head(sync_fx *f, const char *org) {
  char q[256];
  snprintf(q, sizeof q, "SELECT head_seq FROM cf_sync.org_clock WHERE org_id = '%s'",
           org);
  return sfx_sql_num(f, q);
}

#endif /* CF_HOSTILE_FIXTURE_H */
