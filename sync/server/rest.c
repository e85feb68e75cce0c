/*
** sync/server/rest.c: the REST API under /api/crm/ on the sync server's
** port.  The API (routes, parameters, JSON, errors) is docs/rest-api.md; the
** statements are sql/server/rest.sql; request parsing is
** sync/server/rest_params.c.
**
** THREADS.  The server's event loop calls on_http for every request.  On
** the loop the request is routed, its token verified (cf_auth_verify, as the
** sync channel does) and its parameters checked; anything wrong is answered
** at once.  A good request becomes a `call`, an item of kind CF_POOL_REST in
** the server's worker pool (sync/server/pool.h: threads each with its own
** Postgres connection, made on first use, shared with the sync jobs; at
** most `workers` of them run REST calls at once).  Each call is one
** transaction as the user
**
**     BEGIN READ ONLY                                  (rest.sql "begin")
**     SELECT set_config('role', 'authenticated', true), claims, UTC,
**            statement_timeout ...                     (rest.sql "as_user")
**     SELECT found, body FROM <the route's statement>  (rest.sql)
**     COMMIT
**
** sent in ONE round trip (cf__pg_pipeline), as_user and the route's
** statement prepared once per connection (docs/rest-api.md, "Cost of a
** request"), so RLS decides what the user sees, and nothing outlives the
** transaction (PgBouncer transaction pooling keeps working; behind
** PgBouncer, prepared statements need its max_prepared_statements, 1.21+).
** The worker keeps the JSON text Postgres built and the pool hands the call
** back to the loop
** (call_done), which answers it.  A call whose connection went away
** meanwhile (on_cancel) is answered to nobody and freed.  A call whose
** reused connection turns out dropped runs once more on a fresh one (the
** pool's retry: every call is a read-only transaction).
**
** OWNERSHIP.  A call belongs to the loop until it is submitted, to the pool
** until it is done, then to the loop again.  Its `req` field is read and
** written on the loop thread only (workers never touch it), so a cancel can
** clear it while a worker runs the query.
**
**   request ──▶ on_http (loop) ──▶ pool ──▶ call_run (SQL) ──▶ call_done
**                  │ bad: 4xx now                                (loop): answer
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clientflow.h"
#include "platform/platform.h"
#include "sync/master/pg.h"
#include "sync/net/transport.h"
#include "sync/server/pool.h"
#include "sync/server/rest.h"
#include "sync/server/server_int.h"

#define REST_SQL "server/rest.sql"
#define PREFIX "/api/crm/"
#define MAX_WORKERS 32
#define MAX_QUEUE 1024                  /* calls waiting; more: 503 */
#define MAX_BODY ((size_t)64 << 10)     /* request body; more: 413 */
#define MAX_RESPONSE ((size_t)32 << 20) /* response body; more: 500 */
#define MAX_PARAMS 6                    /* statement parameters */
#define PARAM_LEN 48                    /* longest parameter text + NUL */
#define ALLOW "GET, HEAD"

/* The routes under PREFIX. */
typedef enum route {
  R_ORGANIZATIONS,
  R_CONTACTS,
  R_DEALS,
  R_APPOINTMENTS,
  R_METRICS,
  R_COUNT
} route;

/* What a route is called and which statement serves it. */
typedef struct route_def {
  const char *name;     /* path segment after PREFIX */
  const char *sql;      /* statement name in REST_SQL */
  cf__rest_list list;   /* its cursor's list, 0 if not paginated */
  const char *prepared; /* the name it is prepared under on a connection */
} route_def;

static const route_def routes[R_COUNT] = {
    {"organizations", "organizations", CF_REST_LIST_ORGANIZATIONS,
     "cf_rest_organizations"},
    {"contacts", "contacts", CF_REST_LIST_CONTACTS, "cf_rest_contacts"},
    {"deals", "deals", CF_REST_LIST_DEALS, "cf_rest_deals"},
    {"appointments", "appointments", CF_REST_LIST_APPOINTMENTS, "cf_rest_appointments"},
    {"metrics", "metrics", 0, "cf_rest_metrics"},
};

/* The name as_user is prepared under on a connection. */
static const char AS_USER_PREPARED[] = "cf_rest_as_user";

/* An error answer; every string is static and needs no JSON escaping. */
typedef struct rest_error {
  int status;          /* HTTP status */
  const char *code;    /* error.code */
  const char *message; /* error.message */
  const char *param;   /* error.param, NULL if none */
} rest_error;

struct rest_api;

/* One request in flight between the loop and a worker. */
typedef struct call {
  cf__pool_item item;               /* the pool's head: must be first */
  struct rest_api *m;               /* the module */
  cf__ws_http *req;                 /* loop thread only; NULL once cancelled */
  route r;                          /* what to run */
  char *claims;                     /* the user's claims JSON (owned) */
  char user[CF_UUID_TEXT_LEN];      /* the user id, for logs */
  char pbuf[MAX_PARAMS][PARAM_LEN]; /* parameter texts */
  const char *params[MAX_PARAMS];   /* into pbuf, NULL for SQL NULL */
  int nparams;                      /* used entries of params */
  int64_t t0_ns;                    /* when the request arrived */
  int status;                       /* the answer: 200, or an error's */
  char *body;                       /* the answer's JSON (owned), or NULL
                                       when err says what went wrong */
  size_t body_len;                  /* its length */
  rest_error err;                   /* the error, when body is NULL */
} call;

/* The module; one per server, owned by it (cf__server_http_hooks). */
typedef struct rest_api {
  cf_server *srv;           /* the server (configuration, posting) */
  unsigned flags;           /* CF_REST_* */
  char *sql_begin;          /* rest.sql "begin" */
  char *sql_as_user;        /* rest.sql "as_user" */
  char *sql_route[R_COUNT]; /* each route's statement */
} rest_api;

/* --- answers (loop thread) ----------------------------------------------- */

static const rest_error ERR_INTERNAL = {500, "internal", "internal server error", NULL};
static const rest_error ERR_UNAVAILABLE = {503, "unavailable",
                                           "database unavailable, retry later", NULL};

static void call_free(call *c) {
  if (c == NULL) return;
  cf__free(c->claims);
  cf__free(c->body);
  cf__free(c);
}

/* Answers req with e in the one error shape. */
static void respond_error(cf__ws_http *req, const rest_error *e) {
  char body[512];
  int n;
  if (e->param != NULL)
    n = snprintf(body, sizeof body,
                 "{\"error\":{\"code\":\"%s\",\"message\":\"%s\",\"param\":\"%s\"}}",
                 e->code, e->message, e->param);
  else
    n = snprintf(body, sizeof body, "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}",
                 e->code, e->message);
  if (n < 0 || (size_t)n >= sizeof body) n = 0;
  (void)cf__ws_http_add_header(req, "Cache-Control", "no-store");
  if (e->status == 401) {
    (void)cf__ws_http_add_header(
        req, "WWW-Authenticate",
        strcmp(e->code, "invalid_token") == 0
            ? "Bearer realm=\"clientflow\", error=\"invalid_token\""
            : "Bearer realm=\"clientflow\"");
  } else if (e->status == 405) {
    (void)cf__ws_http_add_header(req, "Allow", ALLOW);
  } else if (e->status == 503) {
    (void)cf__ws_http_add_header(req, "Retry-After", "1");
  }
  (void)cf__ws_http_respond(req, e->status, "application/json", body, (size_t)n);
}

static int reject(cf__ws_http *req, int status, const char *code, const char *message,
                  const char *param) {
  rest_error e = {status, code, message, param};
  respond_error(req, &e);
  return CF_OK;
}

/* Answers a finished call; the pool hands it back on the loop thread. */
static void call_done(cf__pool_item *item) {
  call *c = (call *)item;
  if (c->req != NULL) {
    cf__ws_http_set_user(c->req, NULL);
    if (c->body != NULL) {
      (void)cf__ws_http_add_header(c->req, "Cache-Control", "no-store");
      (void)cf__ws_http_respond(c->req, c->status, "application/json", c->body,
                                c->body_len);
    } else {
      respond_error(c->req, &c->err);
    }
  }
  cf__log(CF_LOG_DEBUG, "msg=\"rest\" route=%s status=%d user=%s ms=%.2f%s",
          routes[c->r].name, c->body ? c->status : c->err.status, c->user,
          (double)(cf__monotonic_ns() - c->t0_ns) / 1e6, c->req ? "" : " cancelled=1");
  call_free(c);
}

/* Shutdown: a call that never ran or was never handed back.  Its request,
** if any, is dropped by the transport. */
static void call_drop(cf__pool_item *item) { call_free((call *)item); }

/* --- workers ------------------------------------------------------------- */

/* Runs c's transaction on pg and fills its answer. */
static void run_call(rest_api *m, cf__pg *pg, call *c) {
  cf__pg_res *res = NULL;
  const char *claims = c->claims;
  /* One round trip: the transaction, the role and claims, the query and the
  ** commit (a failure skips the rest and leaves the transaction aborted). */
  cf__pg_step steps[4] = {
      {m->sql_begin, NULL, 0, NULL, NULL},
      {m->sql_as_user, AS_USER_PREPARED, 1, &claims, NULL},
      {m->sql_route[c->r], routes[c->r].prepared, c->nparams, c->params, NULL},
      {"COMMIT", NULL, 0, NULL, NULL},
  };
  size_t failed = 0;
  int rc = cf__pg_pipeline(pg, steps, 4, &failed);
  res = steps[2].res;
  for (size_t i = 0; i < 4; i++)
    if (i != 2) cf__pg_res_free(steps[i].res);
  if (rc != CF_OK) {
    if (rc != CF_UNREACHABLE) cf__pg_rollback(pg); /* keeps the failure's message */
    goto failed;
  }
  if (cf__pg_nrows(res) != 1 || cf__pg_ncols(res) != 2 ||
      cf__pg_value(res, 0, 1) == NULL) {
    cf__pg_fail(pg, CF_DATABASE, "unexpected result shape from %s", routes[c->r].sql);
    rc = CF_DATABASE;
    goto failed;
  }
  if (!cf__pg_bool(res, 0, 0)) {
    /* Not visible to this user: not a member, or no such organization. */
    c->err = (rest_error){404, "not_found", "no such organization", "orgId"};
    goto out;
  }
  const char *json = cf__pg_value(res, 0, 1);
  size_t len = strlen(json);
  if (len > MAX_RESPONSE) {
    cf__pg_fail(pg, CF_TOOBIG, "response of %zu bytes", len);
    rc = CF_TOOBIG;
    goto failed;
  }
  c->body = cf__strndup(json, len);
  if (c->body == NULL) {
    c->err = ERR_INTERNAL;
    goto out;
  }
  c->body_len = len;
  c->status = 200;
  goto out;
failed:
  /* The detail goes to the log, never to the client. */
  cf__log(rc == CF_UNREACHABLE ? CF_LOG_WARN : CF_LOG_ERROR,
          "msg=\"rest query failed\" route=%s user=%s rc=%s sqlstate=%s detail=\"%s\"",
          routes[c->r].name, c->user, cf_strerror(rc), cf__pg_sqlstate(pg),
          cf__pg_errmsg(pg));
  if (rc == CF_UNREACHABLE)
    c->err = ERR_UNAVAILABLE;
  else if (strcmp(cf__pg_sqlstate(pg), "57014") == 0)
    c->err = (rest_error){503, "timeout", "the query took too long, retry later", NULL};
  else
    c->err = ERR_INTERNAL;
out:
  cf__pg_res_free(res);
}

/*
** Worker thread: runs c on pg (NULL: no connection, an outage) and says
** whether the connection was lost, so that the pool retries the call once
** on a fresh one when a reused connection had been dropped (Postgres
** restarted, a pooler or a firewall closed it).
*/
static cf__pool_conn call_run(cf__pg *pg, cf__pool_item *item) {
  call *c = (call *)item;
  cf__free(c->body);
  c->body = NULL;
  c->body_len = 0;
  c->status = 0;
  c->err = (rest_error){0, NULL, NULL, NULL};
  if (pg == NULL) {
    c->err = ERR_UNAVAILABLE;
    return CF_POOL_LOST;
  }
  run_call(c->m, pg, c);
  int lost =
      c->body == NULL && c->err.status == 503 && strcmp(c->err.code, "unavailable") == 0;
  return lost ? CF_POOL_LOST : CF_POOL_KEEP;
}

static const cf__pool_ops call_ops = {call_run, call_done, call_drop};

/* --- requests (loop thread) ---------------------------------------------- */

/* Fills c with the user's identity, or answers 401.  CF_OK to go on. */
static int authenticate(rest_api *m, cf__ws_http *req, call *c) {
  const char *auth = cf__ws_http_header_value(req, CF_WS_HDR_AUTHORIZATION);
  if (auth == NULL && (m->flags & CF_REST_DEV_USER_HEADER)) {
    const char *uid = cf__ws_http_header_value(req, CF_WS_HDR_USER_ID);
    if (uid != NULL) {
      if (cf__rest_parse_uuid(uid, c->user) != CF_OK) {
        reject(req, 401, "invalid_token", "x-user-id is not a UUID", NULL);
        return CF_AUTH;
      }
      c->claims = cf__mprintf("{\"sub\":\"%s\",\"role\":\"authenticated\"}", c->user);
      if (c->claims == NULL) {
        respond_error(req, &ERR_INTERNAL);
        return CF_NOMEM;
      }
      return CF_OK;
    }
  }
  if (auth == NULL) {
    /* The seed's API trusted x-user-id; say why it is ignored here. */
    int dev = cf__ws_http_header_value(req, CF_WS_HDR_USER_ID) != NULL;
    reject(req, 401, "unauthorized",
           dev ? "an Authorization: Bearer token is required (the x-user-id header is "
                 "honoured only when the server runs with --dev-user-header, for "
                 "development; mint a token with `clientflow token --user UUID`)"
               : "an Authorization: Bearer token is required",
           NULL);
    return CF_AUTH;
  }
  const char *token = NULL;
  size_t len = 0;
  if (cf__rest_bearer(auth, &token, &len) != CF_OK) {
    reject(req, 401, "invalid_token", "the Authorization header is not a Bearer token",
           NULL);
    return CF_AUTH;
  }
  cf_claims *claims = NULL;
  cf_token_error why = CF_TOKEN_OK;
  int rc = cf_auth_verify(cf__server_auth(m->srv), token, len, &claims, &why);
  if (rc == CF_AUTH) {
    reject(req, 401, "invalid_token", cf_token_strerror(why), NULL);
    return rc;
  }
  if (rc != CF_OK) {
    respond_error(req, &ERR_INTERNAL);
    return rc;
  }
  size_t jlen = 0;
  const char *json = cf_claims_json(claims, &jlen);
  snprintf(c->user, sizeof c->user, "%s", cf_claims_sub(claims));
  c->claims = cf__strndup(json, jlen);
  cf_claims_free(claims);
  if (c->claims == NULL) {
    respond_error(req, &ERR_INTERNAL);
    return CF_NOMEM;
  }
  return CF_OK;
}

/* Answers 400 naming param; returns CF_INVALID. */
static int bad_param(cf__ws_http *req, const char *message, const char *param) {
  reject(req, 400, "bad_request", message, param);
  return CF_INVALID;
}

/* Sets parameter i of c to text (NULL: SQL NULL). */
static void set_param(call *c, int i, const char *text) {
  if (text == NULL) {
    c->params[i] = NULL;
  } else {
    snprintf(c->pbuf[i], PARAM_LEN, "%s", text);
    c->params[i] = c->pbuf[i];
  }
  if (i + 1 > c->nparams) c->nparams = i + 1;
}

/*
** Checks the query parameters of c's route and fills the statement's
** parameters, or answers 400 naming the first bad one.  CF_OK to go on.
*/
static int bind_params(cf__ws_http *req, call *c) {
  const route_def *rd = &routes[c->r];
  int first = 0; /* index of the cursor's parameters */
  if (c->r != R_ORGANIZATIONS) {
    char org[CF_UUID_TEXT_LEN];
    const char *v = cf__ws_http_query_param(req, "orgId");
    if (v == NULL) return bad_param(req, "orgId is required", "orgId");
    if (cf__rest_parse_uuid(v, org) != CF_OK)
      return bad_param(req, "orgId must be a UUID", "orgId");
    set_param(c, 0, org);
    first = 1;
  }
  if (c->r == R_METRICS) {
    int days = 0;
    char text[16];
    if (cf__rest_parse_days(cf__ws_http_query_param(req, "days"), &days) != CF_OK)
      return bad_param(req, "days must be an integer from 1 to 365", "days");
    snprintf(text, sizeof text, "%d", days);
    set_param(c, 1, text);
    return CF_OK;
  }
  /* Paginated lists: cursor key, cursor id, limit. */
  int limit = 0;
  char text[32];
  if (cf__rest_parse_limit(cf__ws_http_query_param(req, "limit"), &limit) != CF_OK)
    return bad_param(req, "limit must be an integer from 1 to 500", "limit");
  const char *cur = cf__ws_http_query_param(req, "cursor");
  if (cur != NULL) {
    cf__rest_cursor k;
    if (cf__rest_cursor_decode(cur, rd->list, &k) != CF_OK)
      return bad_param(req, "cursor is not a nextCursor this list returned", "cursor");
    snprintf(text, sizeof text, "%lld", (long long)k.key_us);
    set_param(c, first, text);
    set_param(c, first + 1, k.id);
  } else {
    set_param(c, first, NULL);
    set_param(c, first + 1, NULL);
  }
  snprintf(text, sizeof text, "%d", limit);
  set_param(c, first + 2, text);
  if (c->r == R_DEALS) {
    const char *stage = cf__ws_http_query_param(req, "stage");
    if (stage != NULL && !cf__rest_is_stage(stage))
      return bad_param(req, "stage must be one of lead, qualified, proposal, won, lost",
                       "stage");
    set_param(c, 4, stage);
  } else if (c->r == R_APPOINTMENTS) {
    static const char *const names[2] = {"from", "to"};
    for (int i = 0; i < 2; i++) {
      const char *v = cf__ws_http_query_param(req, names[i]);
      char t[CF_REST_TIME_MAX + 1];
      if (v != NULL && cf__rest_parse_time(v, t) != CF_OK)
        return bad_param(req,
                         i == 0 ? "from must be an ISO 8601 date or date-time with a zone"
                                : "to must be an ISO 8601 date or date-time with a zone",
                         names[i]);
      set_param(c, 4 + i, v ? t : NULL);
    }
  }
  return CF_OK;
}

static int on_http(void *ctx, cf__ws_http *req) {
  rest_api *m = ctx;
  const char *path = cf__ws_http_path(req);
  if (strncmp(path, "/api/crm", 8) != 0 || (path[8] != '\0' && path[8] != '/'))
    return CF_NOTFOUND; /* not ours: the server answers 404 */
  int64_t t0 = cf__monotonic_ns();
  int r = -1;
  if (strncmp(path, PREFIX, strlen(PREFIX)) == 0)
    for (int i = 0; i < R_COUNT; i++)
      if (strcmp(path + strlen(PREFIX), routes[i].name) == 0) r = i;
  if (r < 0) return reject(req, 404, "not_found", "no such route", NULL);
  const char *method = cf__ws_http_method(req);
  if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
    return reject(req, 405, "method_not_allowed", "only GET and HEAD are allowed", NULL);
  size_t body_len = 0;
  (void)cf__ws_http_body(req, &body_len);
  if (body_len > MAX_BODY)
    return reject(req, 413, "payload_too_large", "the request is too large", NULL);

  call *c = cf__calloc(1, sizeof *c);
  if (c == NULL) {
    respond_error(req, &ERR_INTERNAL);
    return CF_OK;
  }
  c->item.ops = &call_ops;
  c->item.kind = CF_POOL_REST;
  c->m = m;
  c->r = (route)r;
  c->t0_ns = t0;
  if (authenticate(m, req, c) != CF_OK || bind_params(req, c) != CF_OK) {
    call_free(c);
    return CF_OK; /* answered */
  }
  c->req = req;
  cf__ws_http_set_user(req, c);
  if (cf__pool_submit(cf__server_pool(m->srv), &c->item) != CF_OK) {
    /* MAX_QUEUE calls already wait for a worker */
    cf__ws_http_set_user(req, NULL);
    call_free(c);
    return reject(req, 503, "busy", "too many requests in flight, retry later", NULL);
  }
  return CF_OK;
}

static void on_cancel(void *ctx, cf__ws_http *req) {
  (void)ctx;
  call *c = cf__ws_http_user(req);
  if (c != NULL) c->req = NULL; /* answered to nobody when it comes back */
}

/* Frees the module; the server calls it after its pool stopped, so no call
** is running or waiting any more. */
static void rest_free(void *ctx) {
  rest_api *m = ctx;
  if (m == NULL) return;
  cf__free(m->sql_begin);
  cf__free(m->sql_as_user);
  for (int i = 0; i < R_COUNT; i++)
    cf__free(m->sql_route[i]);
  cf__free(m);
}

/* --- public API ---------------------------------------------------------- */

int cf_server_enable_rest(cf_server *srv, int workers, unsigned flags) {
  if (srv == NULL) return CF_MISUSE;
  if (workers < 1 || workers > MAX_WORKERS || (flags & ~CF_REST_DEV_USER_HEADER) != 0)
    return CF_CONFIG;
  rest_api *m = cf__calloc(1, sizeof *m);
  if (m == NULL) return CF_NOMEM;
  m->srv = srv;
  m->flags = flags;
  int rc = cf__sql_named(REST_SQL, "begin", &m->sql_begin);
  if (rc == CF_OK) rc = cf__sql_named(REST_SQL, "as_user", &m->sql_as_user);
  for (int i = 0; rc == CF_OK && i < R_COUNT; i++)
    rc = cf__sql_named(REST_SQL, routes[i].sql, &m->sql_route[i]);
  if (rc != CF_OK) goto out;
  cf__server_http_hooks hooks = {m, on_http, on_cancel, rest_free, workers, MAX_QUEUE};
  rc = cf__server_set_http(srv, &hooks);
  if (rc != CF_OK) goto out;
  /* From here the server owns m and frees it. */
  if (flags & CF_REST_DEV_USER_HEADER)
    cf__log(CF_LOG_WARN,
            "msg=\"REST API trusts the x-user-id header (development flag): anyone who "
            "reaches this port can act as any user; never use it in production\"");
  cf__log(CF_LOG_INFO, "msg=\"REST API enabled\" prefix=%s workers=%d", PREFIX, workers);
  return CF_OK;
out:
  rest_free(m);
  return rc;
}
