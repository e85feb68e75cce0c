/*
** tests/fuzz/fuzz_server_session.c: the server's sync session (the state
** machine of sync/session/server_session.h, no socket, no database) fed a sequence
** of attacker-written frames, with its jobs answered the way the master
** would (a WELCOME, a PUSH_RESULT with one result per change, an empty page,
** or "database unavailable").  Docs: docs/testing.md, "Fuzzing".
**
** Input: byte 0 holds flags (bit 0: the harness opens with a valid HELLO,
** so the fuzzer reaches the READY state's PUSH/PULL/AUTH handling; bit 1:
** jobs fail as if the database were down), then records of a 2-byte
** big-endian length and that many bytes: one frame each, or, for length 0,
** the session's deadline firing.
**
** What must hold, else abort():
**   - the session never has two jobs out at once, never sends after it
**     closed, and never closes twice;
**   - every frame it sends decodes, canonically, as a frame a server sends;
**   - a PUSH job carries a decoded PUSH within the limits, a PULL job a PULL;
**   - it frees everything (LeakSanitizer).
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clientflow.h"
#include "core/buf.h"
#include "core/codec.h"
#include "sync/server/job_run.h"
#include "sync/session/server_session.h"
#include "core/ws_codes.h"
#include "fuzz_inputs.h"

typedef struct harness {
  cf__sjob *job;    /* the job out, or NULL */
  int closed;       /* the session closed its connection */
  int64_t deadline; /* the last deadline set */
} harness;

static int64_t fixed_clock(void *ctx) {
  (void)ctx;
  return FUZZ_NOW_MS;
}

static int h_send(void *ctx, const uint8_t *b, size_t n) {
  harness *h = ctx;
  if (h->closed) abort(); /* nothing after the close */
  cf_frame f;
  char err[256];
  if (cf__frame_decode(b, n, NULL, &f, err, sizeof err) != CF_OK) abort();
  if (!cf__frame_from_server(f.type)) abort();
  cf__frame_free(&f);
  return CF_OK;
}

static void h_close(void *ctx, int code, const char *reason) {
  harness *h = ctx;
  (void)reason;
  if (h->closed || code < 1000 || code > 4999) abort();
  h->closed = 1;
}

static void h_deadline(void *ctx, int64_t ms) { ((harness *)ctx)->deadline = ms; }

static void h_submit(void *ctx, cf__sjob *j) {
  harness *h = ctx;
  if (h->job != NULL) abort(); /* one job at a time */
  h->job = j;
}

static const char *h_peer(void *ctx) {
  (void)ctx;
  return "fuzz";
}

/* Answers j as a healthy master would, with what its request asked. */
static void answer(cf__sjob *j, int db_down) {
  if (db_down) {
    cf__sjob_fail_unreachable(j);
    return;
  }
  int rc = CF_OK;
  if (j->kind == CF_SJOB_HELLO) {
    cf_welcome w;
    memset(&w, 0, sizeof w);
    w.proto = j->proto;
    w.role.p = "member";
    w.role.n = 6;
    w.max_frame_bytes = CF_SJOB_MAX_FRAME;
    w.max_batch = 1000;
    w.max_page = 5000;
    w.token_exp = j->token_exp;
    rc = cf__encode_welcome(&w, &j->out);
    j->ok = 1;
  } else if (j->kind == CF_SJOB_PUSH) {
    if (j->frame.type != CF_FRAME_PUSH || j->frame.u.push.nchanges == 0 ||
        j->frame.u.push.nchanges > 1000)
      abort();
    size_t n = j->frame.u.push.nchanges;
    cf_push_result *res = calloc(n, sizeof *res);
    if (res == NULL) abort();
    for (size_t i = 0; i < n; i++)
      res[i].change_id = j->frame.u.push.changes[i].id;
    cf_push_reply r = {j->frame.u.push.batch_seq, 1, res, n};
    rc = cf__encode_push_result(&r, &j->out);
    free(res);
  } else {
    if (j->frame.type != CF_FRAME_PULL) abort();
    rc = cf__encode_changes_body(j->frame.u.pull.from_seq, 0, j->frame.u.pull.from_seq, 0,
                                 NULL, 0, &j->out);
  }
  if (rc != CF_OK) abort();
}

static cf_auth *verifier(void) {
  static cf_auth *auth;
  if (auth == NULL) {
    if (cf_auth_new(&auth) != CF_OK ||
        cf_auth_set_hs256_secret(auth, FUZZ_SECRET, strlen(FUZZ_SECRET)) != CF_OK)
      abort();
  }
  return auth;
}

/* A valid HELLO of FUZZ_USER for FUZZ_ORG (built once). */
static const cf_buf *hello_frame(void) {
  static cf_buf b;
  static int made;
  if (!made) {
    char *token = NULL;
    if (cf_token_mint_hs256(FUZZ_SECRET, strlen(FUZZ_SECRET), FUZZ_USER, "authenticated",
                            NULL, "authenticated", 3600, &token) != CF_OK)
      abort();
    cf_hello h;
    cf__hello_init(&h, token, CF_PROTO_MAX, NULL);
    if (cf__uuid_parse(FUZZ_ORG, 36, &h.org) != CF_OK ||
        cf__uuid_parse(FUZZ_USER, 36, &h.user) != CF_OK)
      abort();
    memset(&h.node, 7, sizeof h.node);
    h.hlc = (cf_hlc)FUZZ_NOW_MS << 16;
    cf__buf_init(&b, 1 << 20);
    if (cf__encode_hello(&h, &b) != CF_OK) abort();
    cf_token_free(token);
    made = 1;
  }
  return &b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  cf_set_clock_hook(fixed_clock, NULL);
  int flags = data[0];
  harness h;
  memset(&h, 0, sizeof h);
  cf__ssess_config cfg = {verifier(), {1000, 5000}};
  cf__ssess_io io = {&h, h_send, h_close, h_deadline, h_submit, h_peer, NULL};
  cf__ssess *s = NULL;
  if (cf__ssess_new(1, &cfg, &io, &s) != CF_OK) abort();
  if (h.deadline <= 0) abort(); /* the HELLO deadline is set */
  if (flags & 1) {
    const cf_buf *hb = hello_frame();
    cf__ssess_on_message(s, (const uint8_t *)hb->p, hb->len);
  }
  size_t pos = 1;
  for (int guard = 0; guard < 4096 && !h.closed; guard++) {
    /* Answer the job out first: frames that come meanwhile queue. */
    if (h.job != NULL && (guard & 1)) {
      cf__sjob *j = h.job;
      h.job = NULL;
      answer(j, flags & 2);
      cf__ssess_job_done(s, j);
      continue;
    }
    if (pos + 2 > size) break;
    size_t n = (size_t)data[pos] << 8 | data[pos + 1];
    pos += 2;
    if (n > size - pos) n = size - pos;
    if (n == 0)
      cf__ssess_on_deadline(s);
    else
      cf__ssess_on_message(s, data + pos, n);
    pos += n;
  }
  if (h.job != NULL) {
    /* A job still out when the connection goes: the server drops it. */
    cf__sjob_free(h.job);
    h.job = NULL;
  }
  cf__ssess_free(s);
  cf_set_clock_hook(NULL, NULL);
  return 0;
}
