/*
** sync/net/transport_http.c: plain HTTP requests on the server's port (internal).
**
** lws parses the request line and headers (bounded by its header pool,
** max_http_header_data = 8192 bytes); this file copies out what the caller
** may need (method, path, query parameters, three headers, peer), reads a
** body of at most max_http_body bytes, hands the request to on_http and writes
** the answer whenever the caller gives it (at once or later).  An answer given
** later (the usual case: a worker's result posted back to the loop) is written
** at once, headers and body in one write, and the transaction completed
** (write_now); one given inside on_http, a large one, one on an h2 stream or
** one that closes the connection is written from LWS_CALLBACK_HTTP_WRITEABLE,
** in chunks.  API and rules: sync/net/transport.h; design: docs/transport.md
** ("Performance" says what the direct write saves).
**
** Request states:
**
**   BODY ──(body complete)──▶ WAITING ──cf__ws_http_respond──▶ WRITING ──▶ freed
**     │                         │ (on_http called)
**     └── too big: WRITING 413, connection closed afterwards
**
** If the connection goes away before the end, the request is freed and, if
** on_http had it, on_http_cancel is called first.
*/
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "platform/platform.h"
#include "sync/net/transport_int.h"

#define MAX_QUERY_PARAMS 64            /* more is answered 400 */
#define MAX_EXTRA_HEADERS 8            /* cf__ws_http_add_header */
#define MAX_HEADER_NAME 64             /* bytes of an added header's name */
#define MAX_HEADER_VALUE 1024          /* bytes of an added header's value */
#define WRITE_CHUNK ((size_t)16 << 10) /* body bytes per WRITEABLE */
#define HDR_ROOM ((size_t)1024)        /* room for the headers before the body */
#define DIRECT_MAX ((size_t)256 << 10) /* largest answer written at once */

typedef enum { ST_BODY, ST_WAITING, ST_WRITING } req_state;

/* One decoded query parameter. */
typedef struct qparam {
  char *name;  /* decoded name */
  char *value; /* decoded value ("" when there was no '=') */
} qparam;

struct cf__ws_http {
  int kind;                          /* CF_WS_KIND_HTTP */
  cf__ws_endpoint *ep;               /* owner */
  struct lws *wsi;                   /* the connection */
  req_state state;                   /* see the diagram above */
  int given;                         /* on_http was called */
  int answered;                      /* cf__ws_http_respond was called */
  void *user;                        /* the caller's pointer */
  char method[8];                    /* "GET", ... */
  char *path;                        /* request path */
  char *query;                       /* re-encoded query string */
  qparam params[MAX_QUERY_PARAMS];   /* decoded query parameters */
  int n_params;                      /* used entries of params */
  char *hdr[CF_WS_HDR_COUNT];        /* kept headers, NULL if absent */
  char peer[64];                     /* client address, "" until asked for */
  uint8_t *body;                     /* request body */
  size_t body_len;                   /* bytes received */
  size_t body_expected;              /* Content-Length */
  int head_only;                     /* HEAD: headers without the body */
  int close_after;                   /* close the connection after the answer */
  int status;                        /* answer status */
  char content_type[128];            /* answer content type */
  char *xh_name[MAX_EXTRA_HEADERS];  /* added headers, "name:" lowercased */
  char *xh_value[MAX_EXTRA_HEADERS]; /* their values */
  int n_xh;                          /* used entries */
  unsigned char *resp;               /* LWS_PRE + HDR_ROOM bytes, then the answer body */
  size_t resp_len;                   /* answer body bytes */
  size_t resp_off;                   /* bytes written */
  int headers_sent;                  /* the status line and headers went out */
  int in_dispatch;                   /* on_http is running for it (inside lws) */
};

static cf__ws_http *http_of(struct lws *wsi) {
  int *tag = lws_get_opaque_user_data(wsi);
  return tag && *tag == CF_WS_KIND_HTTP ? (cf__ws_http *)tag : NULL;
}

/* Where the answer body starts in req->resp. */
static unsigned char *resp_body(const cf__ws_http *req) {
  return req->resp + LWS_PRE + HDR_ROOM;
}

static void http_free(cf__ws_http *req) {
  if (req->wsi != NULL) lws_set_opaque_user_data(req->wsi, NULL);
  req->ep->n_http--;
  cf__free(req->path);
  cf__free(req->query);
  for (int i = 0; i < req->n_params; i++) {
    cf__free(req->params[i].name);
    cf__free(req->params[i].value);
  }
  for (int i = 0; i < CF_WS_HDR_COUNT; i++)
    cf__free(req->hdr[i]);
  for (int i = 0; i < req->n_xh; i++) {
    cf__free(req->xh_name[i]);
    cf__free(req->xh_value[i]);
  }
  cf__free(req->body);
  cf__free(req->resp);
  cf__free(req);
}

void cf__ws_http_gone(cf__ws_http *req) {
  if (req->given && !req->answered && req->ep->http.on_http_cancel != NULL)
    req->ep->http.on_http_cancel(req->ep->http.ctx, req);
  http_free(req);
}

/* A copy of header tok, NULL if absent or out of memory (*oom set). */
static char *copy_header(struct lws *wsi, enum lws_token_indexes tok, int *oom) {
  int n = lws_hdr_total_length(wsi, tok);
  if (n <= 0) return NULL;
  char *v = cf__malloc((size_t)n + 1);
  if (v == NULL) {
    *oom = 1;
    return NULL;
  }
  if (lws_hdr_copy(wsi, v, n + 1, tok) < 0) {
    cf__free(v);
    return NULL;
  }
  return v;
}

static char *copy_custom_header(struct lws *wsi, const char *name, int *oom) {
  int nlen = (int)strlen(name);
  int n = lws_hdr_custom_length(wsi, name, nlen);
  if (n < 0) return NULL;
  char *v = cf__malloc((size_t)n + 1);
  if (v == NULL) {
    *oom = 1;
    return NULL;
  }
  if (lws_hdr_custom_copy(wsi, v, n + 1, name, nlen) < 0) {
    cf__free(v);
    return NULL;
  }
  return v;
}

/* Appends s percent-encoded (RFC 3986 unreserved kept) at out[*n], with
** uppercase digits as RFC 3986 section 2.1 asks. */
static void encode_into(char *out, size_t *n, const char *s) {
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
        c == '-' || c == '.' || c == '_' || c == '~') {
      out[(*n)++] = (char)c;
    } else {
      char digits[3];
      cf__hex(&c, 1, digits);
      out[(*n)++] = '%';
      out[(*n)++] = (char)toupper((unsigned char)digits[0]);
      out[(*n)++] = (char)toupper((unsigned char)digits[1]);
    }
  }
}

/*
** Copies the query parameters out of lws (each fragment is one decoded
** "name=value") and rebuilds an encoded query string.  CF_OK, CF_NOMEM,
** CF_TOOBIG (too many parameters, or one too long).
*/
static int copy_query(cf__ws_http *req, struct lws *wsi) {
  char frag[8192 + 1]; /* lws keeps at most 8192 bytes of headers in all */
  size_t total = 1;
  for (int i = 0;; i++) {
    int flen = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i);
    if (flen <= 0) break;
    if ((size_t)flen >= sizeof frag) return CF_TOOBIG;
    int n =
        lws_hdr_copy_fragment(wsi, frag, (int)sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, i);
    if (n < 0) return CF_TOOBIG;
    if (req->n_params == MAX_QUERY_PARAMS) return CF_TOOBIG;
    char *eq = strchr(frag, '=');
    qparam *p = &req->params[req->n_params];
    p->name = cf__strndup(frag, eq ? (size_t)(eq - frag) : (size_t)n);
    p->value = cf__strdup(eq ? eq + 1 : "");
    req->n_params++;
    if (p->name == NULL || p->value == NULL) return CF_NOMEM;
    total += 3 * ((size_t)n + 1) + 1;
  }
  req->query = cf__malloc(total);
  if (req->query == NULL) return CF_NOMEM;
  size_t len = 0;
  for (int i = 0; i < req->n_params; i++) {
    if (i > 0) req->query[len++] = '&';
    encode_into(req->query, &len, req->params[i].name);
    req->query[len++] = '=';
    encode_into(req->query, &len, req->params[i].value);
  }
  req->query[len] = '\0';
  return CF_OK;
}

/* Content-Length as a number; -1 if absent, -2 if malformed. */
static long long parse_length(const char *v) {
  if (v == NULL) return -1;
  long long n = 0;
  int digits = 0;
  for (; *v >= '0' && *v <= '9'; v++, digits++) {
    if (digits == 18) return -2;
    n = n * 10 + (*v - '0');
  }
  return digits == 0 || *v != '\0' ? -2 : n;
}

/* The error code the API's one JSON error shape uses for a status. */
static const char *status_code_name(int status) {
  switch (status) {
    case 400:
      return "bad_request";
    case 404:
      return "not_found";
    case 411:
      return "length_required";
    case 413:
      return "payload_too_large";
    case 503:
      return "unavailable";
    default:
      return "error";
  }
}

/* Answers now from inside the transport, e.g. 413; closes afterwards.  The
** body has the API's one error shape (docs/rest-api.md). */
static void answer_and_close(cf__ws_http *req, int status, const char *msg) {
  req->close_after = 1;
  char body[200];
  int n = snprintf(body, sizeof body, "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}",
                   status_code_name(status), msg);
  req->given = 0; /* the caller never saw it */
  if (cf__ws_http_respond(req, status, "application/json", body, (size_t)n) != CF_OK) {
    lws_set_timeout(req->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    req->ep->lws_timers_dirty = 1; /* lws services it (transport.c, ev_turn) */
  }
}

static void dispatch(cf__ws_http *req) {
  cf__ws_endpoint *ep = req->ep;
  req->state = ST_WAITING;
  if (ep->http.on_http == NULL) {
    req->given = 0;
    static const char nf[] =
        "{\"error\":{\"code\":\"not_found\",\"message\":\"not found\"}}";
    (void)cf__ws_http_respond(req, 404, "application/json", nf, sizeof nf - 1);
    return;
  }
  lws_set_timeout(req->wsi, PENDING_TIMEOUT_HTTP_CONTENT,
                  (int)((ep->http_timeout_ms + 999) / 1000));
  req->given = 1;
  req->in_dispatch = 1;
  ep->http.on_http(ep->http.ctx, req);
  req->in_dispatch = 0; /* an answer given meanwhile waits for WRITEABLE */
}

static int http_begin(struct lws *wsi) {
  static const char *const methods[] = {"GET",   "POST",   "OPTIONS", "PUT",
                                        "PATCH", "DELETE", "CONNECT", "HEAD"};
  cf__ws_endpoint *ep = cf__ws_endpoint_of(wsi);
  if (ep == NULL) return -1;
  cf__ws_http *req = cf__calloc(1, sizeof *req);
  if (req == NULL) {
    cf__log(CF_LOG_ERROR, "msg=\"http request dropped: out of memory\"");
    return -1;
  }
  req->kind = CF_WS_KIND_HTTP;
  req->ep = ep;
  req->wsi = wsi;
  ep->n_http++;
  lws_set_opaque_user_data(wsi, req);

  char *uri = NULL;
  int uri_len = 0;
  int m = lws_http_get_uri_and_method(wsi, &uri, &uri_len);
  if (m < 0 || m >= (int)(sizeof methods / sizeof methods[0]) || uri == NULL) {
    snprintf(req->method, sizeof req->method, "?");
    req->path = cf__strdup("");
    answer_and_close(req, 400, "bad request");
    return 0;
  }
  snprintf(req->method, sizeof req->method, "%s", methods[m]);
  req->head_only = m == LWSHUMETH_HEAD;
  int oom = 0;
  req->path = cf__strndup(uri, (size_t)uri_len);
  req->hdr[CF_WS_HDR_AUTHORIZATION] =
      copy_header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, &oom);
  req->hdr[CF_WS_HDR_CONTENT_TYPE] = copy_header(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE, &oom);
  req->hdr[CF_WS_HDR_USER_ID] = copy_custom_header(wsi, "x-user-id:", &oom);
  char *clen = copy_header(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, &oom);
  long long length = parse_length(clen);
  cf__free(clen);
  int has_te = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0;
  int qrc = copy_query(req, wsi);
  if (oom || req->path == NULL || qrc == CF_NOMEM) {
    cf__log(CF_LOG_ERROR, "msg=\"http request dropped: out of memory\"");
    return -1; /* WSI_DESTROY frees req */
  }
  if (ep->draining) {
    answer_and_close(req, 503, "server shutting down");
  } else if (qrc == CF_TOOBIG) {
    answer_and_close(req, 400, "too many or too long query parameters");
  } else if (length == -2) {
    answer_and_close(req, 400, "malformed content-length");
  } else if (has_te) {
    answer_and_close(req, 411, "content-length required");
  } else if (length > 0 && (unsigned long long)length > ep->max_http_body) {
    cf__log(CF_LOG_WARN,
            "msg=\"http request too large\" peer=%s length=%lld "
            "limit=%zu",
            cf__ws_http_peer(req), length, ep->max_http_body);
    answer_and_close(req, 413, "request too large");
  } else if (length > 0) {
    req->body_expected = (size_t)length;
    req->body = cf__malloc(req->body_expected);
    if (req->body == NULL) return -1;
    req->state = ST_BODY;
  } else {
    dispatch(req);
  }
  return 0;
}

static int http_body(struct lws *wsi, const void *in, size_t len) {
  cf__ws_http *req = http_of(wsi);
  if (req == NULL || req->state != ST_BODY) return 0; /* being refused */
  if (len > req->body_expected - req->body_len) {
    answer_and_close(req, 413, "request too large");
    return 0;
  }
  memcpy(req->body + req->body_len, in, len);
  req->body_len += len;
  return 0;
}

static int http_body_done(struct lws *wsi) {
  cf__ws_http *req = http_of(wsi);
  if (req == NULL || req->state != ST_BODY) return 0;
  dispatch(req);
  return 0;
}

/* Adds the status line and headers at *p (up to end), not finalized.  0 or -1. */
static int add_headers(cf__ws_http *req, struct lws *wsi, unsigned char **p,
                       unsigned char *end) {
  if (lws_add_http_common_headers(wsi, (unsigned)req->status, req->content_type,
                                  (lws_filepos_t)req->resp_len, p, end))
    return -1;
  for (int i = 0; i < req->n_xh; i++)
    if (lws_add_http_header_by_name(wsi, (unsigned char *)req->xh_name[i],
                                    (unsigned char *)req->xh_value[i],
                                    (int)strlen(req->xh_value[i]), p, end))
      return -1;
  if (req->close_after &&
      lws_add_http_header_by_name(wsi, (const unsigned char *)"connection:",
                                  (const unsigned char *)"close", 5, p, end))
    return -1;
  return 0;
}

/* Writes the status line and headers.  0 or -1 (close). */
static int write_headers(cf__ws_http *req, struct lws *wsi) {
  unsigned char buf[LWS_PRE + 12288];
  unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf - 1;
  if (add_headers(req, wsi, &p, end)) return -1;
  if (lws_finalize_write_http_header(wsi, start, &p, end)) return -1;
  req->headers_sent = 1;
  return 0;
}

/*
** Whether the answer can be written now rather than from WRITEABLE: an
** HTTP/1 connection (an h2 stream's headers are a frame of their own), not
** from inside on_http (lws is still parsing the request: it completes the
** transaction only after), not closing afterwards, and not large (what the
** socket does not take, lws copies and sends from POLLOUT itself).
*/
static int can_write_now(const cf__ws_http *req) {
  return !req->in_dispatch && !req->close_after && req->resp_len <= DIRECT_MAX &&
         lws_get_network_wsi(req->wsi) == req->wsi;
}

/*
** Writes the whole answer now, headers and body in one write when the
** headers fit in the HDR_ROOM bytes before the body (one send(2), one
** wake-up of the client), and completes the HTTP transaction; req is freed.
** The loop turns and the POLLOUT arming of WRITEABLE are saved
** (docs/transport.md, "Performance").  lws keeps what the socket did not
** take and sends it from POLLOUT, completing the transaction after it.
*/
static void write_now(cf__ws_http *req) {
  struct lws *wsi = req->wsi;
  cf__ws_endpoint *ep = req->ep;
  unsigned char hdr[LWS_PRE + 12288];
  unsigned char *start = hdr + LWS_PRE, *p = start, *end = hdr + sizeof hdr - 1;
  unsigned char *body = resp_body(req);
  size_t blen = req->head_only ? 0 : req->resp_len;
  int bad = add_headers(req, wsi, &p, end) || lws_finalize_http_header(wsi, &p, end);
  if (!bad) {
    size_t hlen = (size_t)(p - start);
    if (hlen <= HDR_ROOM) {
      memcpy(body - hlen, start, hlen);
      bad = lws_write(wsi, body - hlen, hlen + blen, LWS_WRITE_HTTP_FINAL) < 0;
    } else {
      bad = lws_write(wsi, start, hlen, LWS_WRITE_HTTP_HEADERS) < 0 ||
            (blen > 0 && lws_write(wsi, body, blen, LWS_WRITE_HTTP_FINAL) < 0);
    }
  }
  http_free(req); /* clears the opaque pointer */
  if (bad || lws_http_transaction_completed(wsi)) {
    /* outside the connection's callbacks: lws closes it on its next turn */
    lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    ep->lws_timers_dirty = 1; /* (transport.c, ev_turn) */
  }
}

static int http_writeable(struct lws *wsi) {
  cf__ws_http *req = http_of(wsi);
  if (req == NULL || req->state != ST_WRITING) return 0;
  if (!req->headers_sent) {
    if (write_headers(req, wsi)) return -1;
    if (req->head_only) req->resp_off = req->resp_len;
    if (req->resp_off < req->resp_len) {
      lws_callback_on_writable(wsi);
      return 0;
    }
  } else {
    size_t left = req->resp_len - req->resp_off;
    size_t n = left > WRITE_CHUNK ? WRITE_CHUNK : left;
    int last = n == left;
    if (lws_write(wsi, resp_body(req) + req->resp_off, n,
                  last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < 0)
      return -1;
    req->resp_off += n;
    if (!last) {
      lws_callback_on_writable(wsi);
      return 0;
    }
  }
  int close_after = req->close_after;
  http_free(req); /* clears the opaque pointer */
  if (close_after) return -1;
  return lws_http_transaction_completed(wsi) ? -1 : 0;
}

int cf__ws_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *in,
                         size_t len) {
  switch (reason) {
    case LWS_CALLBACK_HTTP:
      return http_begin(wsi);
    case LWS_CALLBACK_HTTP_BODY:
      return http_body(wsi, in, len);
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
      return http_body_done(wsi);
    case LWS_CALLBACK_HTTP_WRITEABLE:
      return http_writeable(wsi);
    case LWS_CALLBACK_CLOSED_HTTP: {
      cf__ws_http *req = http_of(wsi);
      if (req != NULL) cf__ws_http_gone(req);
      return 0;
    }
    default:
      return 0;
  }
}

/* ---- the caller's side ------------------------------------------------------ */

const char *cf__ws_http_method(const cf__ws_http *req) { return req->method; }
const char *cf__ws_http_path(const cf__ws_http *req) { return req->path; }
const char *cf__ws_http_query(const cf__ws_http *req) {
  return req->query ? req->query : "";
}
const char *cf__ws_http_query_param(const cf__ws_http *req, const char *name) {
  for (int i = 0; i < req->n_params; i++)
    if (strcmp(req->params[i].name, name) == 0) return req->params[i].value;
  return NULL;
}
const char *cf__ws_http_header_value(const cf__ws_http *req, cf__ws_http_header h) {
  return (unsigned)h < CF_WS_HDR_COUNT ? req->hdr[h] : NULL;
}
const uint8_t *cf__ws_http_body(const cf__ws_http *req, size_t *len) {
  if (len != NULL) *len = req->body_len;
  return req->body_len ? req->body : NULL;
}
/* Looked up when first asked for (a getpeername(2) per request saved). */
const char *cf__ws_http_peer(cf__ws_http *req) {
  if (req->peer[0] == '\0' &&
      lws_get_peer_simple(req->wsi, req->peer, sizeof req->peer) == NULL)
    snprintf(req->peer, sizeof req->peer, "?");
  return req->peer;
}
void cf__ws_http_set_user(cf__ws_http *req, void *user) { req->user = user; }
void *cf__ws_http_user(const cf__ws_http *req) { return req->user; }

int cf__ws_http_add_header(cf__ws_http *req, const char *name, const char *value) {
  if (req->answered) return CF_MISUSE;
  size_t nlen = strlen(name), vlen = strlen(value);
  if (req->n_xh == MAX_EXTRA_HEADERS || nlen == 0 || nlen > MAX_HEADER_NAME ||
      vlen > MAX_HEADER_VALUE)
    return CF_TOOBIG;
  for (const char *p = value; *p; p++)
    if (*p == '\r' || *p == '\n') return CF_INVALID;
  char *n = cf__malloc(nlen + 2);
  char *v = cf__strdup(value);
  if (n == NULL || v == NULL) {
    cf__free(n);
    cf__free(v);
    return CF_NOMEM;
  }
  for (size_t i = 0; i < nlen; i++) {
    char c = name[i];
    if (c == ':' || c == '\r' || c == '\n' || c == ' ') c = '-';
    n[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
  }
  n[nlen] = ':';
  n[nlen + 1] = '\0';
  req->xh_name[req->n_xh] = n;
  req->xh_value[req->n_xh] = v;
  req->n_xh++;
  return CF_OK;
}

int cf__ws_http_respond(cf__ws_http *req, int status, const char *content_type,
                        const void *body, size_t len) {
  if (req == NULL || req->answered) return CF_MISUSE;
  if (body == NULL && len > 0) return CF_MISUSE;
  req->answered = 1;
  req->status = status >= 100 && status <= 599 ? status : 500;
  snprintf(req->content_type, sizeof req->content_type, "%s",
           content_type ? content_type : "application/octet-stream");
  req->resp = cf__malloc(LWS_PRE + HDR_ROOM + len + 1);
  if (req->resp == NULL) {
    lws_set_timeout(req->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    req->ep->lws_timers_dirty = 1; /* lws services it (transport.c, ev_turn) */
    return CF_NOMEM;
  }
  if (len > 0) memcpy(resp_body(req), body, len);
  req->resp_len = len;
  req->state = ST_WRITING;
  lws_set_timeout(req->wsi, NO_PENDING_TIMEOUT, 0);
  if (can_write_now(req))
    write_now(req);
  else
    lws_callback_on_writable(req->wsi);
  return CF_OK;
}
