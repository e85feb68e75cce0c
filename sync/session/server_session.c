/*
** sync/session/server_session.c: the server side of one sync session, a state
** machine fed whole frames with effects out (see sync/session/server_session.h;
** frames and states in docs/protocol.md).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/codec.h"
#include "core/hlc.h"
#include "core/uuid.h"
#include "platform/platform.h"
#include "sync/session/server_session.h"
#include "core/ws_codes.h"

typedef enum sstate { ST_HELLO, ST_VERIFY, ST_READY, ST_CLOSING } sstate;

/* A frame waiting for the session's running job to finish. */
typedef struct pending {
  uint8_t *bytes;       /* a copy of the message */
  size_t n;             /* its length */
  struct pending *next; /* FIFO */
} pending;

struct cf__ssess {
  uint64_t id;                /* stable name across threads */
  cf__ssess_config cfg;       /* the server's verifier and limits */
  cf__ssess_io io;            /* the effects */
  sstate state;               /* see the table in the header */
  int busy;                   /* a job of this session is running */
  cf_claims *claims;          /* the verified token (owned) */
  char org[CF_UUID_TEXT_LEN]; /* the org of the replica (HELLO) */
  cf_nodeid node;             /* the client's node id (HELLO) */
  uint32_t proto;             /* the protocol version chosen */
  pending *head, *tail;       /* frames waiting behind the running job */
  size_t npending;            /* entries in that queue */
  uint64_t cursor;            /* the client's cursor once it applied what was
                                 sent: HELLO's, then each answered PULL's */
  uint64_t live_told;         /* greatest head a LIVE told the client */
  uint64_t live_due;          /* a head to tell when the running job is
                                 answered (0: none), see cf__ssess_live */
  int live_due_unknown;       /* a LIVE without a head (0) is due */
};

static const char *peer(const cf__ssess *s) {
  const char *p = s->io.peer ? s->io.peer(s->io.ctx) : NULL;
  return p ? p : "-";
}

static void send_buf(cf__ssess *s, const cf_buf *b) {
  if (b->len == 0) return;
  int rc = s->io.send(s->io.ctx, (const uint8_t *)b->p, b->len);
  if (rc != CF_OK && rc != CF_BUSY)
    cf__log(CF_LOG_WARN, "msg=\"send failed\" session=%llu rc=%s",
            (unsigned long long)s->id, cf_strerror(rc));
}

static void close_session(cf__ssess *s, int ws_code, const char *reason) {
  s->state = ST_CLOSING;
  s->io.close(s->io.ctx, ws_code, reason);
}

/* Sends an ERROR frame and closes the session with a WebSocket code. */
static void session_error(cf__ssess *s, unsigned code, const char *msg, int ws_code) {
  cf_buf b;
  cf__buf_init(&b, 4096);
  if (cf__encode_error(code, msg, strlen(msg), &b) == CF_OK) send_buf(s, &b);
  cf__buf_free(&b);
  cf__log(CF_LOG_INFO,
          "msg=\"session closed\" session=%llu peer=%s code=%s reason=\"%s\"",
          (unsigned long long)s->id, peer(s), cf__wire_error_name(code), msg);
  close_session(s, ws_code, cf__wire_error_name(code));
}

static void submit(cf__ssess *s, cf__sjob *j) {
  s->busy = 1;
  s->io.submit(s->io.ctx, j);
}

static cf__sjob *job_for(cf__ssess *s, cf__sjob_kind kind, const uint8_t *bytes,
                         size_t n) {
  size_t len = 0;
  const char *json = s->claims ? cf_claims_json(s->claims, &len) : NULL;
  cf__sjob *j = NULL;
  if (cf__sjob_new(kind, s->id, json, len, s->org, &s->node, bytes, n, &s->cfg.limits,
                   &j) != CF_OK)
    return NULL;
  return j;
}

static void process_frame(cf__ssess *s, const uint8_t *msg, size_t len);

/* Sends LIVE(head) (0: unknown head, the client pulls anyway). */
static void send_live(cf__ssess *s, uint64_t head) {
  uint8_t bytes[16];
  cf_buf b;
  cf__buf_init(&b, sizeof bytes);
  if (cf__encode_seq(CF_FRAME_LIVE, head, &b) == CF_OK) send_buf(s, &b);
  cf__buf_free(&b);
  if (head > s->live_told) s->live_told = head;
}

/* The LIVE coalesced while a job ran, if the job's answer did not cover it. */
static void send_due_live(cf__ssess *s) {
  uint64_t due = s->live_due;
  int unknown = s->live_due_unknown;
  s->live_due = 0;
  s->live_due_unknown = 0;
  if (unknown)
    send_live(s, due);
  else if (due > s->cursor && due > s->live_told)
    send_live(s, due);
}

/* Runs the frames that queued up behind a finished job. */
static void drain_pending(cf__ssess *s) {
  while (!s->busy && s->head && s->state != ST_CLOSING) {
    pending *p = s->head;
    s->head = p->next;
    if (s->head == NULL) s->tail = NULL;
    s->npending--;
    process_frame(s, p->bytes, p->n);
    cf__free(p->bytes);
    cf__free(p);
  }
}

static void handle_hello(cf__ssess *s, cf_frame *f) {
  const cf_hello *h = &f->u.hello;
  if (h->proto_max < CF_PROTO_MIN || h->proto_min > CF_PROTO_MAX) {
    session_error(s, CF_WIRE_VERSION, "no protocol version in common",
                  CF_WS_CLOSE_POLICY);
    return;
  }
  cf_token_error why = CF_TOKEN_OK;
  cf_claims *claims = NULL;
  int rc = cf_auth_verify(s->cfg.auth, h->token.p, h->token.n, &claims, &why);
  if (rc != CF_OK) {
    session_error(
        s,
        why == CF_TOKEN_EXPIRED || why == CF_TOKEN_NOT_YET_VALID ? CF_WIRE_TOKEN_EXPIRED
                                                                 : CF_WIRE_AUTH,
        rc == CF_AUTH ? cf_token_strerror(why) : cf_strerror(rc), CF_WS_CLOSE_POLICY);
    return;
  }
  /* A node whose clock runs too far ahead would stamp versions the master
  ** refuses change by change: tell it now, with the size of the skew. */
  int64_t now_ms = cf__now_ms();
  int64_t node_ms = (int64_t)CF_HLC_MS(h->hlc);
  if (node_ms > now_ms + CF_HLC_DEFAULT_MAX_SKEW_MS) {
    char msg[160];
    snprintf(msg, sizeof msg,
             "the node's clock is ahead by %lld s of the server's (at most %lld s "
             "allowed): correct the device's clock",
             (long long)((node_ms - now_ms) / 1000),
             (long long)(CF_HLC_DEFAULT_MAX_SKEW_MS / 1000));
    cf_claims_free(claims);
    session_error(s, CF_WIRE_CLOCK_SKEW, msg, CF_WS_CLOSE_POLICY);
    return;
  }
  char user[CF_UUID_TEXT_LEN];
  cf_uuid zero;
  memset(&zero, 0, sizeof zero);
  cf__uuid_format(&h->user, user);
  if (cf__uuid_cmp(&h->user, &zero) != 0 && strcmp(user, cf_claims_sub(claims)) != 0) {
    cf_claims_free(claims);
    session_error(s, CF_WIRE_FORBIDDEN,
                  "the token's subject is not the user this node belongs to",
                  CF_WS_CLOSE_POLICY);
    return;
  }
  s->claims = claims;
  cf__uuid_format(&h->org, s->org);
  s->node = h->node;
  s->cursor = h->cursor;
  cf__sjob *j = job_for(s, CF_SJOB_HELLO, NULL, 0);
  if (j == NULL) {
    session_error(s, CF_WIRE_INTERNAL, "out of memory", CF_WS_CLOSE_INTERNAL);
    return;
  }
  j->proto = h->proto_max < CF_PROTO_MAX ? h->proto_max : CF_PROTO_MAX;
  j->token_exp = cf_claims_exp(claims);
  s->state = ST_VERIFY;
  submit(s, j);
}

static void handle_auth(cf__ssess *s, cf_frame *f) {
  cf_token_error why = CF_TOKEN_OK;
  cf_claims *claims = NULL;
  int rc =
      cf_auth_verify(s->cfg.auth, f->u.auth.token.p, f->u.auth.token.n, &claims, &why);
  if (rc != CF_OK) {
    session_error(s, why == CF_TOKEN_EXPIRED ? CF_WIRE_TOKEN_EXPIRED : CF_WIRE_AUTH,
                  rc == CF_AUTH ? cf_token_strerror(why) : cf_strerror(rc),
                  CF_WS_CLOSE_POLICY);
    return;
  }
  if (strcmp(cf_claims_sub(claims), cf_claims_sub(s->claims)) != 0) {
    cf_claims_free(claims);
    session_error(s, CF_WIRE_FORBIDDEN, "a new token must be for the same user",
                  CF_WS_CLOSE_POLICY);
    return;
  }
  cf_claims_free(s->claims);
  s->claims = claims;
  s->io.set_deadline(s->io.ctx, cf_claims_exp(claims) * 1000);
  cf_auth_ok ok = {cf_claims_exp(claims)};
  cf_buf b;
  cf__buf_init(&b, 256);
  if (cf__encode_auth_ok(&ok, &b) == CF_OK) send_buf(s, &b);
  cf__buf_free(&b);
}

/* Hands a PUSH or PULL to the master with its own copy of the bytes. */
static void submit_request(cf__ssess *s, cf__sjob_kind kind, const uint8_t *msg,
                           size_t len) {
  cf__sjob *j = job_for(s, kind, msg, len);
  if (j == NULL) {
    session_error(s, CF_WIRE_INTERNAL, "out of memory", CF_WS_CLOSE_INTERNAL);
    return;
  }
  submit(s, j);
}

static void process_frame(cf__ssess *s, const uint8_t *msg, size_t len) {
  size_t items = s->cfg.limits.max_batch > s->cfg.limits.max_page
                     ? s->cfg.limits.max_batch
                     : s->cfg.limits.max_page;
  cf_codec_limits lim = {CF_SJOB_MAX_FRAME, items};
  cf_frame f;
  char err[256];
  int rc = cf__frame_decode(msg, len, &lim, &f, err, sizeof err);
  if (rc != CF_OK) {
    session_error(s, rc == CF_TOOBIG ? CF_WIRE_TOO_BIG : CF_WIRE_PROTOCOL, err,
                  rc == CF_TOOBIG ? CF_WS_CLOSE_TOO_BIG : CF_WS_CLOSE_PROTOCOL);
    return;
  }
  if (!cf__frame_from_client(f.type)) {
    session_error(s, CF_WIRE_PROTOCOL, "a frame only servers send", CF_WS_CLOSE_PROTOCOL);
  } else if (s->state == ST_HELLO) {
    if (f.type == CF_FRAME_HELLO)
      handle_hello(s, &f);
    else
      session_error(s, CF_WIRE_STATE, "the first frame must be HELLO",
                    CF_WS_CLOSE_PROTOCOL);
  } else if (f.type == CF_FRAME_HELLO) {
    session_error(s, CF_WIRE_STATE, "HELLO was already sent", CF_WS_CLOSE_PROTOCOL);
  } else if (f.type == CF_FRAME_AUTH) {
    handle_auth(s, &f);
  } else if (f.type == CF_FRAME_PING) {
    cf_buf b;
    cf__buf_init(&b, 64);
    if (cf__encode_seq(CF_FRAME_PONG, f.u.ping.nonce, &b) == CF_OK) send_buf(s, &b);
    cf__buf_free(&b);
  } else if (f.type == CF_FRAME_PONG) {
    /* liveness answer: nothing to do */
  } else if (f.type == CF_FRAME_ERROR) {
    cf__log(CF_LOG_INFO, "msg=\"client reported an error\" session=%llu code=%s",
            (unsigned long long)s->id, cf__wire_error_name(f.u.error.code));
    close_session(s, CF_WS_CLOSE_NORMAL, "bye");
  } else if (f.type == CF_FRAME_PUSH) {
    if (f.u.push.batch_seq == 0 || f.u.push.batch_seq > (uint64_t)INT64_MAX)
      session_error(s, CF_WIRE_PROTOCOL, "batch_seq must be 1 .. 2^63-1",
                    CF_WS_CLOSE_PROTOCOL);
    else if (f.u.push.nchanges > s->cfg.limits.max_batch)
      session_error(s, CF_WIRE_TOO_BIG, "more changes than WELCOME's max_batch",
                    CF_WS_CLOSE_TOO_BIG);
    else
      submit_request(s, CF_SJOB_PUSH, msg, len);
  } else if (f.type == CF_FRAME_PULL) {
    if (f.u.pull.from_seq > (uint64_t)INT64_MAX)
      session_error(s, CF_WIRE_PROTOCOL, "from_seq must be 0 .. 2^63-1",
                    CF_WS_CLOSE_PROTOCOL);
    else
      submit_request(s, CF_SJOB_PULL, msg, len);
  } else {
    session_error(s, CF_WIRE_PROTOCOL, "unexpected frame", CF_WS_CLOSE_PROTOCOL);
  }
  cf__frame_free(&f);
}

int cf__ssess_new(uint64_t id, const cf__ssess_config *cfg, const cf__ssess_io *io,
                  cf__ssess **out) {
  *out = NULL;
  cf__ssess *s = cf__calloc(1, sizeof *s);
  if (s == NULL) return CF_NOMEM;
  s->id = id;
  s->cfg = *cfg;
  s->io = *io;
  s->state = ST_HELLO;
  s->io.set_deadline(s->io.ctx, cf__now_ms() + CF_SSESS_HELLO_MS);
  *out = s;
  return CF_OK;
}

void cf__ssess_free(cf__ssess *s) {
  if (s == NULL) return;
  while (s->head) {
    pending *p = s->head;
    s->head = p->next;
    cf__free(p->bytes);
    cf__free(p);
  }
  cf_claims_free(s->claims);
  cf__free(s);
}

void cf__ssess_on_message(cf__ssess *s, const uint8_t *msg, size_t len) {
  if (s->state == ST_CLOSING) return;
  if (s->busy || s->state == ST_VERIFY) {
    if (s->npending >= CF_SSESS_MAX_PENDING) {
      session_error(s, CF_WIRE_BUSY, "too many requests in flight",
                    CF_WS_CLOSE_TRY_LATER);
      return;
    }
    pending *p = cf__calloc(1, sizeof *p);
    uint8_t *copy = p ? cf__malloc(len ? len : 1) : NULL;
    if (copy == NULL) {
      cf__free(p);
      session_error(s, CF_WIRE_INTERNAL, "out of memory", CF_WS_CLOSE_INTERNAL);
      return;
    }
    memcpy(copy, msg, len);
    p->bytes = copy;
    p->n = len;
    if (s->tail)
      s->tail->next = p;
    else
      s->head = p;
    s->tail = p;
    s->npending++;
    return;
  }
  process_frame(s, msg, len);
}

void cf__ssess_on_deadline(cf__ssess *s) {
  if (s->state == ST_CLOSING) return;
  if (s->state == ST_HELLO)
    session_error(s, CF_WIRE_STATE, "no HELLO in time", CF_WS_CLOSE_POLICY);
  else
    session_error(s, CF_WIRE_TOKEN_EXPIRED, "token expired", CF_WS_CLOSE_POLICY);
}

void cf__ssess_job_done(cf__ssess *s, cf__sjob *j) {
  if (s->state == ST_CLOSING) {
    cf__sjob_free(j);
    return;
  }
  s->busy = 0;
  send_buf(s, &j->out);
  send_buf(s, &j->extra);
  if (j->close_code) {
    close_session(s, j->close_code, "closed by server");
    cf__sjob_free(j);
    return;
  }
  if (j->kind == CF_SJOB_HELLO && j->ok) {
    s->state = ST_READY;
    s->proto = j->proto;
    if (j->token_exp > 0) s->io.set_deadline(s->io.ctx, j->token_exp * 1000);
    cf__log(CF_LOG_INFO, "msg=\"session ready\" session=%llu peer=%s org=%s user=%s",
            (unsigned long long)s->id, peer(s), s->org, cf_claims_sub(s->claims));
    if (s->io.on_ready != NULL) s->io.on_ready(s->io.ctx);
  }
  if (j->kind == CF_SJOB_PULL && j->has_cursor) {
    s->cursor = j->cursor_after;
    /* A page with more after it is followed by the client's next PULL,
    ** sent after this moment: it reads past any head announced meanwhile. */
    if (j->more) {
      s->live_due = 0;
      s->live_due_unknown = 0;
    }
  }
  cf__sjob_free(j);
  drain_pending(s);
  if (!s->busy && s->state == ST_READY) send_due_live(s);
}

void cf__ssess_live(cf__ssess *s, const char *org, uint64_t head) {
  if (s->state != ST_READY || (org != NULL && strcmp(s->org, org) != 0)) return;
  if (head != 0 && (head <= s->cursor || head <= s->live_told))
    return; /* the client has it, or was told already */
  if (s->busy || s->head != NULL) {
    /* Coalesced: one LIVE with the latest head once the exchange under way
    ** is answered, and only if that answer did not reach it. */
    if (head == 0)
      s->live_due_unknown = 1;
    else if (head > s->live_due)
      s->live_due = head;
    return;
  }
  send_live(s, head);
}

uint64_t cf__ssess_id(const cf__ssess *s) { return s->id; }

int cf__ssess_closing(const cf__ssess *s) { return s->state == ST_CLOSING; }

const char *cf__ssess_org(const cf__ssess *s) { return s->org; }

const char *cf__ssess_user(const cf__ssess *s) {
  return s->claims != NULL ? cf_claims_sub(s->claims) : "";
}

const char *cf__ssess_claims(const cf__ssess *s, size_t *len) {
  *len = 0;
  return s->claims != NULL ? cf_claims_json(s->claims, len) : NULL;
}

int cf__ssess_feedable(const cf__ssess *s, uint64_t *cursor) {
  *cursor = s->cursor;
  return s->state == ST_READY && s->proto >= 2 && !s->busy && s->head == NULL;
}

int cf__ssess_feed(cf__ssess *s, const uint8_t *bytes, size_t n, uint64_t from,
                   uint64_t last, int more) {
  uint64_t cursor;
  if (!cf__ssess_feedable(s, &cursor) || cursor != from || last < from) return 0;
  int rc = s->io.send(s->io.ctx, bytes, n);
  if (rc != CF_OK) return rc == CF_BUSY; /* a full queue closes the session */
  s->cursor = last;
  /* More after it: the client pulls on from last itself, after this. */
  if (more) s->live_due = s->live_due_unknown = 0;
  return 1;
}
