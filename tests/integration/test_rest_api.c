/*
** tests/integration/test_rest_api.c: the REST API (sync/server/rest.c,
** sql/server/rest.sql; docs/rest-api.md) over loopback against a real
** server: each endpoint's contents against the seeded data (docs/seed.md),
** org isolation on every endpoint, keyset pagination that walks every row
** exactly once in order, the error table, the x-user-id development flag,
** dropped connections and concurrent users on shared worker connections.
**
** Each test runs a cf_server with the REST API on its own thread, logged in
** as cf_test_rest_server (a member of authenticator and cf_sync_server, not
** a superuser), on a fresh seeded database; the client is a plain HTTP/1.1
** socket client in this file.  Response bodies are checked with Postgres'
** own JSON functions on the superuser connection.
*/
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "cf_test.h"
#include "clientflow.h"
#include "platform/platform.h"
#include "platform/thread.h"
#include "sync/master/pg.h"

#define DEMO "01936b2a-0000-7000-8000-100000000001"
#define NW "01936b2a-0000-7000-8000-200000000001"
#define NO_ORG "01936b2a-0000-7000-8000-900000000009"
#define DEMO_OWNER "01936b2a-0001-7000-8000-000000000001"
#define DEMO_REP "01936b2a-0001-7000-8000-000000000002"
#define NW_REP "01936b2a-0001-7000-8000-000000000004"
#define SECRET "rest-api-test-secret-of-at-least-32-bytes"
#define MAX_RESPONSE (8u << 20)

typedef struct fx {
  char url[600];     /* the test database, as the superuser */
  char srv_url[660]; /* the same, as the server's login */
  cf__pg *admin;     /* superuser connection: set-up and JSON checks */
  cf_server *srv;    /* the server under test */
  cf__thread *loop;  /* runs cf_server_run */
  int run_rc;        /* what cf_server_run returned */
  int port;          /* where it listens */
} fx;

/* One HTTP answer. */
typedef struct resp {
  int status;      /* status code */
  char head[8192]; /* status line and headers, NUL-terminated */
  char *body;      /* NUL-terminated body (malloc'd) */
  size_t len;      /* body length */
} resp;

static const char server_role_sql[] =
    "DO $$ BEGIN "
    "  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cf_test_rest_server') THEN "
    "    BEGIN CREATE ROLE cf_test_rest_server LOGIN; "
    "    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END; "
    "  END IF; "
    "  BEGIN GRANT authenticator, cf_sync_server TO cf_test_rest_server; "
    "  EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END; "
    "END $$";

/* --- fixture ------------------------------------------------------------- */

static void exec_or_fail(cf__pg *pg, const char *sql) {
  int rc = cf__pg_exec(pg, sql);
  CHECK_MSG(rc == CF_OK, "%s: %s", sql, cf__pg_errmsg(pg));
}

static void loop_main(void *arg) {
  fx *f = arg;
  f->run_rc = cf_server_run(f->srv);
}

/* A fresh seeded database and a server with the REST API (flags). */
static void fx_start(fx *f, unsigned flags) {
  memset(f, 0, sizeof *f);
  snprintf(f->url, sizeof f->url, "%s", cf_test_pg_createdb());
  snprintf(f->srv_url, sizeof f->srv_url, "%s user=cf_test_rest_server", f->url);
  char err[256];
  CHECK_MSG(cf__pg_connect(f->url, &f->admin, err, sizeof err) == CF_OK, "connect: %s",
            err);
  exec_or_fail(f->admin, server_role_sql);
  exec_or_fail(f->admin, "SET TimeZone = 'UTC'");
  cf_master *m = NULL;
  CHECK_MSG(cf_master_open(f->url, &m, err, sizeof err) == CF_OK, "master: %s", err);
  int rc = cf_master_seed(m);
  CHECK_MSG(rc == CF_OK, "seed: %s", cf_master_errmsg(m));
  cf_master_close(m);

  cf_auth *auth = NULL;
  CHECK_OK(cf_auth_new(&auth));
  CHECK_OK(cf_auth_set_hs256_secret(auth, SECRET, strlen(SECRET)));
  CHECK_OK(cf_server_new(&f->srv));
  cf_server_set_auth(f->srv, auth);
  CHECK_OK(cf_server_set_database(f->srv, f->srv_url));
  CHECK_OK(cf_server_set_listen(f->srv, "127.0.0.1", 0));
  CHECK_OK(cf_server_set_workers(f->srv, 1));
  CHECK_OK(cf_server_enable_rest(f->srv, 3, flags));
  rc = cf_server_start(f->srv);
  CHECK_MSG(rc == CF_OK, "start: %s", cf_server_errmsg(f->srv));
  f->port = cf_server_port(f->srv);
  CHECK_OK(cf__thread_start(loop_main, f, &f->loop));
}

static void fx_stop(fx *f) {
  cf_server_stop(f->srv);
  cf__thread_join(f->loop);
  CHECK_OK(f->run_rc);
  cf_server_free(f->srv);
  cf__pg_close(f->admin);
  memset(f, 0, sizeof *f);
}

/* --- a small HTTP/1.1 client -------------------------------------------- */

static int connect_to(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  CHECK_MSG(fd >= 0, "socket: %s", strerror(errno));
  struct timeval tv = {30, 0}; /* a hung server fails the test, not the run */
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK_MSG(connect(fd, (struct sockaddr *)&a, sizeof a) == 0, "connect: %s",
            strerror(errno));
  return fd;
}

static void send_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return; /* the server may answer and close early (413) */
    p += w;
    n -= (size_t)w;
  }
}

/* The value of header name in r (case-insensitive), copied to out. */
static int header(const resp *r, const char *name, char *out, size_t cap) {
  size_t n = strlen(name);
  for (const char *p = strstr(r->head, "\r\n"); p != NULL; p = strstr(p + 2, "\r\n")) {
    const char *line = p + 2;
    if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
      const char *v = line + n + 1;
      while (*v == ' ')
        v++;
      const char *e = strstr(v, "\r\n");
      size_t len = e ? (size_t)(e - v) : strlen(v);
      snprintf(out, cap, "%.*s", (int)len, v);
      return 1;
    }
  }
  return 0;
}

/*
** Sends one request (extra: header lines, each ending in \r\n; body_len
** bytes of body) and reads the answer into r; free with resp_free.
*/
static void http(const fx *f, const char *method, const char *target, const char *extra,
                 size_t body_len, resp *r) {
  memset(r, 0, sizeof *r);
  int fd = connect_to(f->port);
  char req[8192];
  int n = snprintf(req, sizeof req,
                   "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s", method,
                   target, extra ? extra : "");
  CHECK(n > 0 && (size_t)n < sizeof req - 64);
  if (body_len > 0)
    n += snprintf(req + n, sizeof req - (size_t)n, "Content-Length: %zu\r\n", body_len);
  n += snprintf(req + n, sizeof req - (size_t)n, "\r\n");
  send_all(fd, req, (size_t)n);
  if (body_len > 0) {
    char *body = malloc(body_len);
    CHECK(body != NULL);
    memset(body, 'x', body_len);
    send_all(fd, body, body_len);
    free(body);
  }
  size_t cap = 65536, len = 0;
  char *buf = malloc(cap + 1);
  CHECK(buf != NULL);
  long long want = -1; /* total bytes once the headers are known */
  for (;;) {
    if (want >= 0 && (long long)len >= want) break;
    if (len == cap) {
      CHECK_MSG(cap < MAX_RESPONSE, "response too large");
      cap *= 2;
      buf = realloc(buf, cap + 1);
      CHECK(buf != NULL);
    }
    ssize_t got = recv(fd, buf + len, cap - len, 0);
    if (got <= 0) break;
    len += (size_t)got;
    buf[len] = '\0';
    if (want < 0) {
      char *end = strstr(buf, "\r\n\r\n");
      if (end != NULL) {
        size_t hlen = (size_t)(end - buf) + 4;
        CHECK(hlen < sizeof r->head);
        memcpy(r->head, buf, hlen);
        r->head[hlen] = '\0';
        char cl[32];
        int is_head = strcmp(method, "HEAD") == 0;
        want = is_head                                      ? (long long)hlen
               : header(r, "content-length", cl, sizeof cl) ? (long long)hlen + atoll(cl)
                                                            : -1;
      }
    }
  }
  close(fd);
  buf[len] = '\0';
  char *end = strstr(buf, "\r\n\r\n");
  CHECK_MSG(end != NULL, "no HTTP answer to %s %s", method, target);
  CHECK(sscanf(buf, "HTTP/1.1 %d", &r->status) == 1);
  size_t hlen = (size_t)(end - buf) + 4;
  memcpy(r->head, buf, hlen);
  r->head[hlen] = '\0';
  r->len = len - hlen;
  r->body = malloc(r->len + 1);
  CHECK(r->body != NULL);
  memcpy(r->body, buf + hlen, r->len);
  r->body[r->len] = '\0';
  free(buf);
}

static void resp_free(resp *r) {
  free(r->body);
  r->body = NULL;
}

/* A token for user (HS256, an hour). */
static void token_header(const char *user, char *out, size_t cap) {
  char *tok = NULL;
  CHECK_OK(cf_token_mint_hs256(SECRET, strlen(SECRET), user, "authenticated", NULL,
                               "authenticated", 3600, &tok));
  snprintf(out, cap, "Authorization: Bearer %s\r\n", tok);
  cf_token_free(tok);
}

/* GET target as user; expects status. */
static void get_as(const fx *f, const char *user, const char *target, int status,
                   resp *r) {
  char h[2048];
  token_header(user, h, sizeof h);
  http(f, "GET", target, h, 0, r);
  CHECK_MSG(r->status == status, "GET %s: %d, not %d: %s", target, r->status, status,
            r->body);
}

/* --- checks through Postgres' JSON functions ----------------------------- */

/* SELECT expr FROM (SELECT body::jsonb AS j): the text of the answer. */
static void jq(const fx *f, const char *body, const char *expr, char *out, size_t cap) {
  char sql[2048];
  snprintf(sql, sizeof sql, "SELECT (%s)::text FROM (SELECT $1::jsonb AS j) AS t", expr);
  char *v = NULL;
  int rc = cf__pg_query_text(f->admin, sql, 1, &body, &v);
  CHECK_MSG(rc == CF_OK, "%s: %s (body %.200s)", expr, cf__pg_errmsg(f->admin), body);
  snprintf(out, cap, "%s", v ? v : "(null)");
  cf__free(v);
}

static long long jq_num(const fx *f, const char *body, const char *expr) {
  char v[64];
  jq(f, body, expr, v, sizeof v);
  return atoll(v);
}

/* The text of SQL on the superuser connection. */
static void sql_text(const fx *f, const char *sql, char *out, size_t cap) {
  char *v = NULL;
  int rc = cf__pg_query_text(f->admin, sql, 0, NULL, &v);
  CHECK_MSG(rc == CF_OK, "%s: %s", sql, cf__pg_errmsg(f->admin));
  snprintf(out, cap, "%s", v ? v : "(null)");
  cf__free(v);
}

/* The ids of a list answer, comma separated, in order. */
static void ids_of(const fx *f, const char *body, char *out, size_t cap) {
  jq(f, body,
     "coalesce((SELECT string_agg(e->>'id', ',' ORDER BY n) "
     "FROM jsonb_array_elements(j->'data') WITH ORDINALITY AS x(e, n)), '')",
     out, cap);
}

/* Checks that r is an error in the one shape: {"error":{code,message[,param]}}. */
static void check_error(const fx *f, const resp *r, int status, const char *code,
                        const char *param) {
  CHECK_MSG(r->status == status, "status %d, not %d: %s", r->status, status, r->body);
  char ct[128];
  CHECK(header(r, "content-type", ct, sizeof ct));
  CHECK_MSG(strncmp(ct, "application/json", 16) == 0, "content-type %s", ct);
  char v[256];
  jq(f, r->body,
     "jsonb_typeof(j) = 'object' AND (SELECT count(*) FROM jsonb_object_keys(j)) = 1 "
     "AND jsonb_typeof(j->'error') = 'object' "
     "AND jsonb_typeof(j->'error'->'message') = 'string' "
     "AND (SELECT bool_and(k IN ('code', 'message', 'param')) "
     "     FROM jsonb_object_keys(j->'error') AS k)",
     v, sizeof v);
  CHECK_MSG(strcmp(v, "true") == 0, "not the error shape: %s", r->body);
  jq(f, r->body, "j->'error'->>'code'", v, sizeof v);
  CHECK_STR(v, code);
  jq(f, r->body, "coalesce(j->'error'->>'param', '')", v, sizeof v);
  CHECK_STR(v, param ? param : "");
}

/* --- contents ------------------------------------------------------------ */

CF_TEST(test_rest_organizations_lists_the_callers_orgs_with_their_role) {
  fx f;
  fx_start(&f, 0);
  resp r;
  get_as(&f, DEMO_OWNER, "/api/crm/organizations", 200, &r);
  char v[1024];
  ids_of(&f, r.body, v, sizeof v);
  CHECK_STR(v, DEMO);
  jq(&f, r.body, "j->'data'->0->>'name' || '/' || (j->'data'->0->>'role')", v, sizeof v);
  CHECK_STR(v, "ClientFlow Demo/owner");
  jq(&f, r.body, "j->'nextCursor'", v, sizeof v);
  CHECK_STR(v, "null");
  char ct[128];
  CHECK(header(&r, "cache-control", ct, sizeof ct));
  CHECK_STR(ct, "no-store");
  resp_free(&r);

  get_as(&f, NW_REP, "/api/crm/organizations", 200, &r);
  jq(&f, r.body,
     "(SELECT string_agg(e->>'id' || '/' || (e->>'role'), ',') "
     "FROM jsonb_array_elements(j->'data') AS e)",
     v, sizeof v);
  CHECK_STR(v, NW "/member");
  resp_free(&r);

  /* A user in both orgs sees both, each with its own role. */
  exec_or_fail(f.admin, "INSERT INTO memberships (org_id, user_id, role) VALUES ('" NW
                        "', '" DEMO_REP "', 'admin')");
  get_as(&f, DEMO_REP, "/api/crm/organizations", 200, &r);
  jq(&f, r.body,
     "(SELECT string_agg(e->>'id' || '/' || (e->>'role'), ',' ORDER BY e->>'id') "
     "FROM jsonb_array_elements(j->'data') AS e)",
     v, sizeof v);
  CHECK_STR(v, DEMO "/member," NW "/admin");
  resp_free(&r);

  /* A valid token of a user with no membership: an empty list. */
  get_as(&f, "01936b2a-0001-7000-8000-000000000099", "/api/crm/organizations", 200, &r);
  jq(&f, r.body, "j->'data'", v, sizeof v);
  CHECK_STR(v, "[]");
  resp_free(&r);
  fx_stop(&f);
}

CF_TEST(test_rest_contacts_are_the_seeded_ten_without_sync_columns) {
  fx f;
  fx_start(&f, 0);
  resp r;
  get_as(&f, DEMO_REP, "/api/crm/contacts?orgId=" DEMO, 200, &r);
  CHECK_EQ(jq_num(&f, r.body, "jsonb_array_length(j->'data')"), 10);
  char v[2048], want[2048];
  ids_of(&f, r.body, v, sizeof v);
  sql_text(&f,
           "SELECT string_agg(id::text, ',' ORDER BY created_at DESC, id) FROM contacts "
           "WHERE org_id = '" DEMO "'",
           want, sizeof want);
  CHECK_STR(v, want);
  CHECK(strstr(v, "01936b2a-0003-7000-8000-100000000001") != NULL);
  CHECK(strstr(v, "01936b2a-0003-7000-8000-100000000010") != NULL);
  /* Exactly the documented fields, on every row. */
  jq(&f, r.body,
     "(SELECT string_agg(DISTINCT k, ',' ORDER BY k) FROM "
     "jsonb_array_elements(j->'data') AS e, "
     "jsonb_object_keys(e) AS k)",
     v, sizeof v);
  CHECK_STR(v, "company,createdAt,email,firstName,id,lastName,metadata,orgId,phone,tags,"
               "updatedAt");
  CHECK(strstr(r.body, "cf_") == NULL && strstr(r.body, "cfVersions") == NULL);
  jq(&f, r.body,
     "(SELECT e->>'firstName' || ' ' || (e->>'lastName') || ' ' || (e->'tags')::text "
     "FROM jsonb_array_elements(j->'data') AS e WHERE e->>'id' = "
     "'01936b2a-0003-7000-8000-100000000010')",
     v, sizeof v);
  CHECK_STR(v, "Julia Costa [\"customer\", \"vip\", \"food\"]");
  CHECK_EQ(jq_num(&f, r.body,
                  "(SELECT count(*) FROM jsonb_array_elements(j->'data') AS e "
                  "WHERE e->>'orgId' <> '" DEMO "')"),
           0);
  resp_free(&r);

  get_as(&f, NW_REP, "/api/crm/contacts?orgId=" NW, 200, &r);
  CHECK_EQ(jq_num(&f, r.body, "jsonb_array_length(j->'data')"), 4);
  resp_free(&r);

  /* HEAD answers the same status without a body; an upper-case orgId is fine. */
  char h[2048];
  token_header(DEMO_REP, h, sizeof h);
  http(&f, "HEAD", "/api/crm/contacts?orgId=01936B2A-0000-7000-8000-100000000001", h, 0,
       &r);
  CHECK_EQ(r.status, 200);
  CHECK_EQ(r.len, 0);
  resp_free(&r);
  fx_stop(&f);
}

CF_TEST(test_rest_deals_are_one_per_stage_and_filter_by_stage) {
  fx f;
  fx_start(&f, 0);
  resp r;
  get_as(&f, DEMO_OWNER, "/api/crm/deals?orgId=" DEMO, 200, &r);
  char v[1024];
  jq(&f, r.body,
     "(SELECT string_agg(e->>'stage', ',' ORDER BY e->>'stage') "
     "FROM jsonb_array_elements(j->'data') AS e)",
     v, sizeof v);
  CHECK_STR(v, "lead,lost,proposal,qualified,won");
  resp_free(&r);

  get_as(&f, DEMO_OWNER, "/api/crm/deals?orgId=" DEMO "&stage=won", 200, &r);
  ids_of(&f, r.body, v, sizeof v);
  CHECK_STR(v, "01936b2a-0004-7000-8000-100000000004");
  jq(&f, r.body,
     "(j->'data'->0->>'value') || ' ' || (j->'data'->0->>'currency') || ' ' || "
     "(j->'data'->0->>'contactId') || ' ' || jsonb_typeof(j->'data'->0->'value')",
     v, sizeof v);
  CHECK_STR(v, "9600.00 USD 01936b2a-0003-7000-8000-100000000004 string");
  resp_free(&r);

  get_as(&f, NW_REP, "/api/crm/deals?orgId=" NW "&stage=lead", 200, &r);
  jq(&f, r.body, "j->'data'", v, sizeof v);
  CHECK_STR(v, "[]");
  resp_free(&r);
  fx_stop(&f);
}

CF_TEST(test_rest_appointments_are_upcoming_by_default_and_windowed_by_from_to) {
  fx f;
  fx_start(&f, 0);
  exec_or_fail(
      f.admin,
      "INSERT INTO appointments (org_id, id, title, starts_at, ends_at) VALUES ('" DEMO
      "', '01936b2a-0006-7000-8000-100000000099', 'Yesterday''s call', "
      "now() - interval '1 day', now() - interval '23 hours')");
  resp r;
  get_as(&f, DEMO_REP, "/api/crm/appointments?orgId=" DEMO, 200, &r);
  char v[1024];
  ids_of(&f, r.body, v, sizeof v);
  CHECK_STR(v,
            "01936b2a-0006-7000-8000-100000000001,01936b2a-0006-7000-8000-100000000002,"
            "01936b2a-0006-7000-8000-100000000003,01936b2a-0006-7000-8000-100000000004,"
            "01936b2a-0006-7000-8000-100000000005");
  jq(&f, r.body,
     "(SELECT bool_and((e->>'startsAt')::timestamptz < (e->>'endsAt')::timestamptz "
     "AND (e->>'startsAt')::timestamptz > now()) FROM jsonb_array_elements(j->'data') e)",
     v, sizeof v);
  CHECK_STR(v, "true");
  resp_free(&r);

  /* from in the past: the past one too; a window that ends now: only it. */
  get_as(&f, DEMO_REP, "/api/crm/appointments?orgId=" DEMO "&from=2000-01-01", 200, &r);
  CHECK_EQ(jq_num(&f, r.body, "jsonb_array_length(j->'data')"), 6);
  resp_free(&r);
  char now[64], target[256];
  sql_text(&f,
           "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
           now, sizeof now);
  snprintf(target, sizeof target,
           "/api/crm/appointments?orgId=" DEMO "&from=2000-01-01&to=%s", now);
  get_as(&f, DEMO_REP, target, 200, &r);
  ids_of(&f, r.body, v, sizeof v);
  CHECK_STR(v, "01936b2a-0006-7000-8000-100000000099");
  resp_free(&r);
  /* An offset with an encoded '+', and one whose '+' arrived as a space. */
  get_as(&f, DEMO_REP,
         "/api/crm/appointments?orgId=" DEMO "&to=2000-01-01T00:00:00%2B02:00", 200, &r);
  CHECK_EQ(jq_num(&f, r.body, "jsonb_array_length(j->'data')"), 0);
  resp_free(&r);
  get_as(&f, DEMO_REP,
         "/api/crm/appointments?orgId=" DEMO "&from=2000-01-01T00:00:00+02:00", 200, &r);
  CHECK_EQ(jq_num(&f, r.body, "jsonb_array_length(j->'data')"), 6);
  resp_free(&r);
  fx_stop(&f);
}

CF_TEST(test_rest_metrics_have_one_row_per_day_with_zeros_for_missing_days) {
  fx f;
  fx_start(&f, 0);
  resp r;
  get_as(&f, DEMO_REP, "/api/crm/metrics?orgId=" DEMO, 200, &r);
  CHECK_EQ(jq_num(&f, r.body, "jsonb_array_length(j->'data')"), 30);
  char v[256], want[256];
  /* Oldest first, consecutive, ending today (UTC). */
  jq(&f, r.body, "(j->'data'->0->>'day') || ' ' || (j->'data'->29->>'day')", v, sizeof v);
  sql_text(&f, "SELECT (current_date - 29)::text || ' ' || current_date::text", want,
           sizeof want);
  CHECK_STR(v, want);
  CHECK_EQ(
      jq_num(&f, r.body,
             "(SELECT count(*) FROM jsonb_array_elements(j->'data') WITH ORDINALITY "
             "AS x(e, n) WHERE (e->>'day')::date <> current_date - (30 - n)::integer)"),
      0);
  /* Seven seeded days carry data, the other 23 are zeros. */
  CHECK_EQ(jq_num(&f, r.body,
                  "(SELECT count(*) FROM jsonb_array_elements(j->'data') e "
                  "WHERE (e->>'messagesSent')::int > 0)"),
           7);
  jq(&f, r.body,
     "(SELECT sum((e->>'newContacts')::int) || ' ' || sum((e->>'dealsWon')::int) || ' ' "
     "|| "
     "sum((e->>'revenue')::numeric) || ' ' || sum((e->>'appointmentsBooked')::int) || ' "
     "' || "
     "sum((e->>'messagesSent')::int) FROM jsonb_array_elements(j->'data') e)",
     v, sizeof v);
  sql_text(&f,
           "SELECT sum(new_contacts) || ' ' || sum(deals_won) || ' ' || sum(revenue) || "
           "' ' || "
           "sum(appointments_booked) || ' ' || sum(messages_sent) FROM daily_metrics "
           "WHERE org_id = '" DEMO "' AND day > current_date - 30",
           want, sizeof want);
  CHECK_STR(v, want);
  CHECK_EQ(jq_num(&f, r.body,
                  "(j->'data'->0->>'revenue' = '0.00' AND "
                  "(j->'data'->0->>'newContacts')::int = 0)::int"),
           1);
  resp_free(&r);

  get_as(&f, NW_REP, "/api/crm/metrics?orgId=" NW "&days=1", 200, &r);
  CHECK_EQ(jq_num(&f, r.body, "jsonb_array_length(j->'data')"), 1);
  jq(&f, r.body,
     "(j->'data'->0->>'newContacts') || ' ' || (j->'data'->0->>'messagesSent')", v,
     sizeof v);
  sql_text(
      &f,
      "SELECT new_contacts || ' ' || messages_sent FROM daily_metrics WHERE org_id = '" NW
      "' AND day = current_date",
      want, sizeof want);
  CHECK_STR(v, want);
  resp_free(&r);
  get_as(&f, NW_REP, "/api/crm/metrics?orgId=" NW "&days=365", 200, &r);
  CHECK_EQ(jq_num(&f, r.body, "jsonb_array_length(j->'data')"), 365);
  resp_free(&r);
  fx_stop(&f);
}

/* --- isolation ----------------------------------------------------------- */

CF_TEST(test_rest_every_endpoint_answers_404_for_an_org_the_user_is_not_in) {
  fx f;
  fx_start(&f, 0);
  static const char *const lists[] = {"contacts", "deals", "appointments", "metrics"};
  for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
    char target[256];
    resp other, missing, own;
    snprintf(target, sizeof target, "/api/crm/%s?orgId=" DEMO, lists[i]);
    get_as(&f, NW_REP, target, 404, &other);
    check_error(&f, &other, 404, "not_found", "orgId");
    CHECK(strstr(other.body, "01936b2a-000") == NULL); /* no row, no id */
    /* Indistinguishable from an org that does not exist. */
    snprintf(target, sizeof target, "/api/crm/%s?orgId=" NO_ORG, lists[i]);
    get_as(&f, NW_REP, target, 404, &missing);
    CHECK_STR(other.body, missing.body);
    /* The same request for the user's own org succeeds. */
    snprintf(target, sizeof target, "/api/crm/%s?orgId=" NW, lists[i]);
    get_as(&f, NW_REP, target, 200, &own);
    CHECK(strstr(own.body, "-1000000000") == NULL); /* no demo id at all */
    resp_free(&other);
    resp_free(&missing);
    resp_free(&own);
  }
  resp r;
  get_as(&f, NW_REP, "/api/crm/organizations", 200, &r);
  CHECK(strstr(r.body, DEMO) == NULL);
  resp_free(&r);
  /* A revoked membership takes effect on the next request. */
  get_as(&f, DEMO_REP, "/api/crm/contacts?orgId=" DEMO, 200, &r);
  resp_free(&r);
  exec_or_fail(f.admin, "DELETE FROM memberships WHERE user_id = '" DEMO_REP "'");
  get_as(&f, DEMO_REP, "/api/crm/contacts?orgId=" DEMO, 404, &r);
  resp_free(&r);
  fx_stop(&f);
}

/* --- pagination ---------------------------------------------------------- */

/*
** Walks target (a list URL without limit/cursor) with random page sizes
** and checks that the concatenated ids equal want (the whole list in the
** documented order), every page but the last being full.
*/
static void walk(const fx *f, const char *user, const char *target, const char *want,
                 uint64_t *rng) {
  size_t cap = strlen(want) + 64, len = 0;
  char *got = calloc(1, cap);
  CHECK(got != NULL);
  char cursor[128] = "";
  int pages = 0;
  for (;;) {
    int limit = 1 + (int)(cf_test_rand(rng) % 40);
    char url[512];
    snprintf(url, sizeof url, "%s&limit=%d%s%s", target, limit,
             cursor[0] ? "&cursor=" : "", cursor);
    resp r;
    get_as(f, user, url, 200, &r);
    int n = (int)jq_num(f, r.body, "jsonb_array_length(j->'data')");
    char ids[32768];
    ids_of(f, r.body, ids, sizeof ids);
    if (ids[0]) {
      CHECK(len + strlen(ids) + 2 < cap);
      len += (size_t)snprintf(got + len, cap - len, "%s%s", len ? "," : "", ids);
    }
    jq(f, r.body, "coalesce(j->>'nextCursor', '')", cursor, sizeof cursor);
    resp_free(&r);
    pages++;
    CHECK_MSG(pages < 10000, "the walk does not end");
    if (!cursor[0]) break;
    CHECK_MSG(n == limit, "a page before the last has %d rows, not %d", n, limit);
    CHECK_EQ(strlen(cursor), 36);
  }
  CHECK_MSG(strcmp(got, want) == 0, "walk of %s:\n got %.300s\nwant %.300s", target, got,
            want);
  free(got);
}

CF_TEST(test_rest_pagination_walks_every_row_exactly_once_in_order) {
  fx f;
  fx_start(&f, 0);
  uint64_t rng = cf_test_seed();
  /* Many rows sharing each timestamp, so ties must be broken by id. */
  exec_or_fail(
      f.admin,
      "INSERT INTO contacts (org_id, id, first_name, created_at) "
      "SELECT '" DEMO "', gen_random_uuid(), 'Bulk ' || g, "
      "timestamptz '2026-01-01' + (g / 7) * interval '1 second' "
      "FROM generate_series(1, 240) AS g;"
      "INSERT INTO deals (org_id, id, title, stage, created_at) "
      "SELECT '" DEMO "', gen_random_uuid(), 'Deal ' || g, "
      "CASE WHEN g % 3 = 0 THEN 'won' ELSE 'lead' END, "
      "timestamptz '2026-02-01 12:00:00.000001' + (g / 4) * interval '1 microsecond' "
      "FROM generate_series(1, 90) AS g;"
      "INSERT INTO appointments (org_id, id, title, starts_at, ends_at) "
      "SELECT '" DEMO "', gen_random_uuid(), 'Visit ' || g, "
      "date_trunc('day', now()) + interval '10 days' + (g / 5) * interval '1 hour', "
      "date_trunc('day', now()) + interval '10 days 30 minutes' + (g / 5) * interval '1 "
      "hour' "
      "FROM generate_series(1, 60) AS g;"
      "INSERT INTO memberships (org_id, user_id, role) VALUES ('" NW "', '" DEMO_REP
      "', 'member')");
  static char want[65536];
  sql_text(&f,
           "SELECT string_agg(id::text, ',' ORDER BY created_at DESC, id) FROM contacts "
           "WHERE org_id = '" DEMO "'",
           want, sizeof want);
  walk(&f, DEMO_REP, "/api/crm/contacts?orgId=" DEMO, want, &rng);
  sql_text(&f,
           "SELECT string_agg(id::text, ',' ORDER BY created_at DESC, id) FROM deals "
           "WHERE org_id = '" DEMO "' AND stage = 'won'",
           want, sizeof want);
  walk(&f, DEMO_REP, "/api/crm/deals?orgId=" DEMO "&stage=won", want, &rng);
  sql_text(&f,
           "SELECT string_agg(id::text, ',' ORDER BY starts_at, id) FROM appointments "
           "WHERE org_id = '" DEMO "' AND starts_at >= now()",
           want, sizeof want);
  walk(&f, DEMO_REP, "/api/crm/appointments?orgId=" DEMO, want, &rng);
  /* The two seeded orgs were created in one transaction: a tie too. */
  sql_text(
      &f,
      "SELECT string_agg(id::text, ',' ORDER BY created_at DESC, id) FROM organizations",
      want, sizeof want);
  walk(&f, DEMO_REP, "/api/crm/organizations?x=1", want, &rng);
  fx_stop(&f);
}

/* --- errors -------------------------------------------------------------- */

CF_TEST(test_rest_errors_have_one_shape_and_name_the_bad_parameter) {
  fx f;
  fx_start(&f, 0);
  static const struct {
    const char *target; /* the request */
    const char *param;  /* the parameter named */
  } bad[] = {
      {"/api/crm/contacts", "orgId"},
      {"/api/crm/contacts?orgId=org-uuid", "orgId"},
      {"/api/crm/deals?orgId=", "orgId"},
      {"/api/crm/metrics?orgId=" DEMO "&days=0", "days"},
      {"/api/crm/metrics?orgId=" DEMO "&days=366", "days"},
      {"/api/crm/metrics?orgId=" DEMO "&days=thirty", "days"},
      {"/api/crm/contacts?orgId=" DEMO "&cursor=bad", "cursor"},
      {"/api/crm/contacts?orgId=" DEMO "&cursor=AQMAAAYSt0ymWQABk2sqAAR3AIAAEAAAAAAE",
       "cursor"},
      {"/api/crm/organizations?cursor=", "cursor"},
      {"/api/crm/contacts?orgId=" DEMO "&limit=0", "limit"},
      {"/api/crm/contacts?orgId=" DEMO "&limit=501", "limit"},
      {"/api/crm/appointments?orgId=" DEMO "&limit=ten", "limit"},
      {"/api/crm/deals?orgId=" DEMO "&stage=closed", "stage"},
      {"/api/crm/appointments?orgId=" DEMO "&from=yesterday", "from"},
      {"/api/crm/appointments?orgId=" DEMO "&to=2026-02-30", "to"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    resp r;
    get_as(&f, DEMO_OWNER, bad[i].target, 400, &r);
    check_error(&f, &r, 400, "bad_request", bad[i].param);
    resp_free(&r);
  }
  /* A real cursor of one list is refused by another. */
  resp r;
  get_as(&f, DEMO_OWNER, "/api/crm/contacts?orgId=" DEMO "&limit=2", 200, &r);
  char cursor[64], target[256];
  jq(&f, r.body, "j->>'nextCursor'", cursor, sizeof cursor);
  resp_free(&r);
  snprintf(target, sizeof target, "/api/crm/deals?orgId=" DEMO "&cursor=%s", cursor);
  get_as(&f, DEMO_OWNER, target, 400, &r);
  check_error(&f, &r, 400, "bad_request", "cursor");
  resp_free(&r);

  /* 401: no token, a malformed one, a wrong signature, an expired one. */
  char ct[256];
  http(&f, "GET", "/api/crm/organizations", NULL, 0, &r);
  check_error(&f, &r, 401, "unauthorized", NULL);
  CHECK(header(&r, "www-authenticate", ct, sizeof ct) && strncmp(ct, "Bearer", 6) == 0);
  resp_free(&r);
  http(&f, "GET", "/api/crm/contacts?orgId=" DEMO, "Authorization: Bearer not.a.jwt\r\n",
       0, &r);
  check_error(&f, &r, 401, "invalid_token", NULL);
  resp_free(&r);
  http(&f, "GET", "/api/crm/contacts?orgId=" DEMO,
       "Authorization: Basic dXNlcjpwYXNz\r\n", 0, &r);
  check_error(&f, &r, 401, "invalid_token", NULL);
  resp_free(&r);
  char *tok = NULL;
  static const char other[] = "a-different-secret-that-is-32-bytes-long!!";
  CHECK_OK(cf_token_mint_hs256(other, strlen(other), DEMO_OWNER, "authenticated", NULL,
                               "authenticated", 3600, &tok));
  char h[2048];
  snprintf(h, sizeof h, "Authorization: Bearer %s\r\n", tok);
  cf_token_free(tok);
  http(&f, "GET", "/api/crm/organizations", h, 0, &r);
  check_error(&f, &r, 401, "invalid_token", NULL);
  resp_free(&r);
  CHECK_OK(cf_token_mint_hs256(SECRET, strlen(SECRET), DEMO_OWNER, "authenticated", NULL,
                               "wrong-audience", 3600, &tok));
  snprintf(h, sizeof h, "Authorization: Bearer %s\r\n", tok);
  cf_token_free(tok);
  http(&f, "GET", "/api/crm/organizations", h, 0, &r);
  check_error(&f, &r, 401, "invalid_token", NULL);
  resp_free(&r);

  /* 401 comes before parameter checks: nothing is revealed without a token. */
  http(&f, "GET", "/api/crm/contacts?orgId=nope", NULL, 0, &r);
  check_error(&f, &r, 401, "unauthorized", NULL);
  resp_free(&r);

  /* 404 for an unknown route under /api/crm. */
  get_as(&f, DEMO_OWNER, "/api/crm/leads?orgId=" DEMO, 404, &r);
  check_error(&f, &r, 404, "not_found", NULL);
  resp_free(&r);

  /* 405 for anything but GET/HEAD, with Allow. */
  token_header(DEMO_OWNER, h, sizeof h);
  static const char *const methods[] = {"POST", "PUT", "DELETE", "PATCH"};
  for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
    http(&f, methods[i], "/api/crm/contacts?orgId=" DEMO, h, 0, &r);
    check_error(&f, &r, 405, "method_not_allowed", NULL);
    CHECK(header(&r, "allow", ct, sizeof ct));
    CHECK_STR(ct, "GET, HEAD");
    resp_free(&r);
  }

  /* 413 for a request body over the API's limit. */
  http(&f, "GET", "/api/crm/contacts?orgId=" DEMO, h, 100 * 1024, &r);
  check_error(&f, &r, 413, "payload_too_large", NULL);
  resp_free(&r);

  /* 500 without internals: break the table under the query. */
  exec_or_fail(f.admin,
               "ALTER TABLE public.contacts RENAME COLUMN phone TO phone_number");
  get_as(&f, DEMO_OWNER, "/api/crm/contacts?orgId=" DEMO, 500, &r);
  check_error(&f, &r, 500, "internal", NULL);
  CHECK(strstr(r.body, "phone") == NULL && strstr(r.body, "column") == NULL &&
        strstr(r.body, "SELECT") == NULL);
  resp_free(&r);
  /* ... and the worker's connection is still good for the next request. */
  get_as(&f, DEMO_OWNER, "/api/crm/deals?orgId=" DEMO, 200, &r);
  resp_free(&r);
  fx_stop(&f);
}

/* --- the development flag ------------------------------------------------ */

CF_TEST(test_rest_x_user_id_is_ignored_without_the_dev_flag) {
  fx f;
  fx_start(&f, 0);
  resp r;
  http(&f, "GET", "/api/crm/organizations", "x-user-id: " DEMO_OWNER "\r\n", 0, &r);
  check_error(&f, &r, 401, "unauthorized", NULL);
  resp_free(&r);
  /* With a token for another user, the header changes nothing. */
  char h[2048];
  token_header(NW_REP, h, sizeof h);
  strncat(h, "x-user-id: " DEMO_OWNER "\r\n", sizeof h - strlen(h) - 1);
  http(&f, "GET", "/api/crm/organizations", h, 0, &r);
  CHECK_EQ(r.status, 200);
  CHECK(strstr(r.body, NW) != NULL && strstr(r.body, DEMO) == NULL);
  resp_free(&r);
  fx_stop(&f);
}

CF_TEST(test_rest_x_user_id_is_honoured_with_the_dev_flag_only_without_a_token) {
  fx f;
  fx_start(&f, CF_REST_DEV_USER_HEADER);
  resp r;
  http(&f, "GET", "/api/crm/organizations", "x-user-id: " DEMO_OWNER "\r\n", 0, &r);
  CHECK_EQ(r.status, 200);
  char v[512];
  ids_of(&f, r.body, v, sizeof v);
  CHECK_STR(v, DEMO);
  resp_free(&r);
  /* RLS still applies to the header's user. */
  http(&f, "GET", "/api/crm/contacts?orgId=" NW, "x-user-id: " DEMO_OWNER "\r\n", 0, &r);
  check_error(&f, &r, 404, "not_found", "orgId");
  resp_free(&r);
  http(&f, "GET", "/api/crm/organizations", "x-user-id: demo-user-id\r\n", 0, &r);
  check_error(&f, &r, 401, "invalid_token", NULL);
  resp_free(&r);
  /* A token, even a bad one, wins over the header. */
  http(&f, "GET", "/api/crm/organizations",
       "Authorization: Bearer bad\r\nx-user-id: " DEMO_OWNER "\r\n", 0, &r);
  check_error(&f, &r, 401, "invalid_token", NULL);
  resp_free(&r);
  http(&f, "GET", "/api/crm/organizations", NULL, 0, &r);
  check_error(&f, &r, 401, "unauthorized", NULL);
  resp_free(&r);
  fx_stop(&f);
}

/* --- robustness ---------------------------------------------------------- */

CF_TEST(test_rest_dropped_connections_leave_the_server_serving) {
  fx f;
  fx_start(&f, 0);
  char h[2048], req[4096];
  token_header(DEMO_OWNER, h, sizeof h);
  int n =
      snprintf(req, sizeof req,
               "GET /api/crm/contacts?orgId=" DEMO " HTTP/1.1\r\nHost: x\r\n%s\r\n", h);
  for (int i = 0; i < 60; i++) {
    int fd = connect_to(f.port);
    send_all(fd, req, (size_t)n);
    if (i % 2 == 0) { /* half of them reset (RST), half closed (FIN) */
      struct linger lg = {1, 0};
      setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    close(fd); /* gone before (or while) the worker answers */
  }
  for (int i = 0; i < 5; i++) {
    resp r;
    get_as(&f, DEMO_OWNER, "/api/crm/contacts?orgId=" DEMO, 200, &r);
    CHECK_EQ(jq_num(&f, r.body, "jsonb_array_length(j->'data')"), 10);
    resp_free(&r);
  }
  fx_stop(&f);
}

/* One client thread of the concurrency test. */
typedef struct client_arg {
  const fx *f;      /* the server */
  int index;        /* thread number: even ones act for demo, odd for northwind */
  int failures;     /* requests whose answer was wrong */
  char detail[256]; /* the first wrong answer */
} client_arg;

static void *client_main(void *p) {
  client_arg *a = p;
  for (int i = 0; i < 40; i++) {
    int demo = (a->index + i) % 2 == 0;
    const char *user = demo ? DEMO_OWNER : NW_REP;
    const char *own =
        demo ? "/api/crm/contacts?orgId=" DEMO : "/api/crm/contacts?orgId=" NW;
    const char *foreign =
        demo ? "/api/crm/contacts?orgId=" NW : "/api/crm/contacts?orgId=" DEMO;
    const char *own_ids = demo ? "-8000-1000000000" : "-8000-2000000000";
    const char *other_ids = demo ? "-8000-2000000000" : "-8000-1000000000";
    resp r;
    char h[2048];
    token_header(user, h, sizeof h);
    http(a->f, "GET", i % 3 == 2 ? foreign : own, h, 0, &r);
    int ok = i % 3 == 2 ? r.status == 404 && strstr(r.body, "-8000-") == NULL
                        : r.status == 200 && strstr(r.body, own_ids) != NULL &&
                              strstr(r.body, other_ids) == NULL;
    if (!ok && a->failures++ == 0)
      snprintf(a->detail, sizeof a->detail, "user %s request %d: %d %.150s", user, i,
               r.status, r.body);
    resp_free(&r);
  }
  return NULL;
}

CF_TEST(test_rest_concurrent_users_on_shared_connections_see_only_their_rows) {
  fx f;
  fx_start(&f, 0);
  enum { N = 6 };
  pthread_t t[N];
  client_arg a[N];
  for (int i = 0; i < N; i++) {
    memset(&a[i], 0, sizeof a[i]);
    a[i].f = &f;
    a[i].index = i;
    CHECK(pthread_create(&t[i], NULL, client_main, &a[i]) == 0);
  }
  for (int i = 0; i < N; i++)
    pthread_join(t[i], NULL);
  for (int i = 0; i < N; i++)
    CHECK_MSG(a[i].failures == 0, "%s", a[i].detail);
  fx_stop(&f);
}

/* A client thread whose one request blocks in the database. */
typedef struct blocked_arg {
  const fx *f; /* the server */
  resp r;      /* its answer */
} blocked_arg;

static void *blocked_main(void *p) {
  blocked_arg *a = p;
  char h[2048];
  token_header(DEMO_OWNER, h, sizeof h);
  http(a->f, "GET", "/api/crm/contacts?orgId=" DEMO, h, 0, &a->r);
  return NULL;
}

CF_TEST(test_rest_a_blocked_query_does_not_stall_other_requests) {
  fx f;
  fx_start(&f, 0);
  cf__pg *locker = NULL;
  char err[256];
  CHECK_MSG(cf__pg_connect(f.url, &locker, err, sizeof err) == CF_OK, "%s", err);
  exec_or_fail(locker, "BEGIN; LOCK TABLE public.contacts IN ACCESS EXCLUSIVE MODE");
  blocked_arg a;
  memset(&a, 0, sizeof a);
  a.f = &f;
  pthread_t t;
  CHECK(pthread_create(&t, NULL, blocked_main, &a) == 0);
  /* Wait (bounded) until a REST worker is stuck on the lock. */
  char v[64] = "0";
  for (int i = 0; i < 1000 && strcmp(v, "0") == 0; i++)
    sql_text(&f,
             "SELECT count(*) FROM pg_stat_activity, pg_sleep(0.01) "
             "WHERE usename = 'cf_test_rest_server' AND wait_event_type = 'Lock' "
             "AND datname = current_database()",
             v, sizeof v);
  CHECK_STR(v, "1");
  /* Meanwhile other requests, and the server's own /health, are answered. */
  for (int i = 0; i < 5; i++) {
    resp r;
    get_as(&f, DEMO_OWNER, "/api/crm/deals?orgId=" DEMO, 200, &r);
    resp_free(&r);
  }
  resp h;
  http(&f, "GET", "/health", NULL, 0, &h);
  CHECK_EQ(h.status, 200);
  resp_free(&h);
  exec_or_fail(locker, "COMMIT");
  pthread_join(t, NULL);
  CHECK_EQ(a.r.status, 200);
  CHECK_EQ(jq_num(&f, a.r.body, "jsonb_array_length(j->'data')"), 10);
  resp_free(&a.r);
  cf__pg_close(locker);
  fx_stop(&f);
}

CF_TEST(test_rest_a_dropped_database_connection_is_replaced_and_an_outage_is_503) {
  fx f;
  fx_start(&f, 0);
  resp r;
  for (int i = 0; i < 3; i++) {
    get_as(&f, DEMO_OWNER, "/api/crm/deals?orgId=" DEMO, 200, &r);
    resp_free(&r);
  }
  /* Kill every connection of the server's login to this database: each
  ** request is retried on a new connection, the client never notices. */
  static const char kill_sql[] =
      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
      "WHERE usename = 'cf_test_rest_server' AND datname = current_database()";
  char v[64];
  sql_text(&f, kill_sql, v, sizeof v);
  CHECK(atoi(v) >= 1);
  for (int i = 0; i < 8; i++) {
    get_as(&f, DEMO_OWNER, "/api/crm/deals?orgId=" DEMO, 200, &r);
    resp_free(&r);
  }
  /* An outage (no new connection possible): 503 unavailable, Retry-After. */
  char sql[256];
  sql_text(
      &f,
      "SELECT format('REVOKE CONNECT ON DATABASE %I FROM PUBLIC', current_database())",
      sql, sizeof sql);
  exec_or_fail(f.admin, sql);
  sql_text(&f, kill_sql, v, sizeof v);
  get_as(&f, DEMO_OWNER, "/api/crm/deals?orgId=" DEMO, 503, &r);
  check_error(&f, &r, 503, "unavailable", NULL);
  char ra[16];
  CHECK(header(&r, "retry-after", ra, sizeof ra));
  CHECK(strstr(r.body, "permission") == NULL && strstr(r.body, "database t_") == NULL);
  resp_free(&r);
  /* Back: the next request connects again. */
  sql_text(&f,
           "SELECT format('GRANT CONNECT ON DATABASE %I TO PUBLIC', current_database())",
           sql, sizeof sql);
  exec_or_fail(f.admin, sql);
  get_as(&f, DEMO_OWNER, "/api/crm/deals?orgId=" DEMO, 200, &r);
  resp_free(&r);
  fx_stop(&f);
}

CF_TEST(test_rest_a_query_over_the_statement_timeout_answers_503) {
  fx f;
  fx_start(&f, 0);
  cf__pg *locker = NULL;
  char err[256];
  CHECK_MSG(cf__pg_connect(f.url, &locker, err, sizeof err) == CF_OK, "%s", err);
  exec_or_fail(locker, "BEGIN; LOCK TABLE public.deals IN ACCESS EXCLUSIVE MODE");
  int64_t t0 = cf__monotonic_ns();
  resp r;
  get_as(&f, DEMO_OWNER, "/api/crm/deals?orgId=" DEMO, 503, &r);
  int64_t ms = (cf__monotonic_ns() - t0) / 1000000;
  check_error(&f, &r, 503, "timeout", NULL);
  CHECK_MSG(ms >= 4900 && ms < 30000, "answered after %lld ms", (long long)ms);
  resp_free(&r);
  exec_or_fail(locker, "COMMIT");
  cf__pg_close(locker);
  get_as(&f, DEMO_OWNER, "/api/crm/deals?orgId=" DEMO, 200, &r);
  resp_free(&r);
  fx_stop(&f);
}
