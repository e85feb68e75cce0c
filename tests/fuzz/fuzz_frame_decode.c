/*
** tests/fuzz/fuzz_frame_decode.c: libFuzzer target for the frame decoder
** (core/codec.h, cf__frame_decode).  Design: docs/protocol.md; fuzzing in
** docs/testing.md, "Fuzzing".
**
** Feeds arbitrary bytes to cf__frame_decode with the sync server's limits
** (4 MiB frames, 5000 rows, as sync/server/server.c passes them) and proves:
**
**  - no input crashes, overreads, leaks or hits undefined behaviour, and no
**    decode allocates by an unchecked count (ASan, UBSan, libFuzzer -rss);
**  - a refused input leaves the frame empty (owned == NULL) with a one-line
**    NUL-terminated reason, and returns CF_PROTOCOL, CF_TOOBIG or CF_NOMEM;
**  - CANONICAL FORM: every accepted input re-encodes to exactly the same
**    bytes.  Every frame type has a whole-frame re-encoder,
**    cf__frame_encode (which dispatches to cf__encode_hello ...
**    cf__encode_error), so encode(decode(bytes)) == bytes is checked for all
**    sixteen types.  CHANGES, FEED and PUSH are also rebuilt through the
**    incremental path the server and the client use (cf__codec_put_row /
**    cf__codec_put_change, then cf__encode_changes_body /
**    cf__encode_feed_body / cf__encode_push_body) and must give the same
**    bytes again;
**  - cf__frame_free releases everything (ASan's leak check at exit).
**
** A failed check calls abort(), which libFuzzer reports as a crash and
** saves the input.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clientflow.h"
#include "core/buf.h"
#include "core/codec.h"

/* The sync server's decoder limits (sync/server/server.c: MAX_FRAME_BYTES and the
** larger of its default max_batch and max_page). */
#define SERVER_MAX_FRAME ((size_t)4 << 20)
#define SERVER_MAX_ROWS 5000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reports a broken property with the frame's type and aborts. */
static void fail(const char *what, const cf_frame *f, int rc) {
  fprintf(stderr, "fuzz_frame_decode: %s (frame %s, rc %s)\n", what,
          cf__frame_type_name(f->type), cf_strerror(rc));
  abort();
}

/* Requires out[0..len) == data[0..size). */
static void check_same(const cf_buf *out, const uint8_t *data, size_t size,
                       const char *what, const cf_frame *f) {
  if (out->len != size || memcmp(out->p, data, size) != 0) {
    fprintf(stderr, "fuzz_frame_decode: %s gave %zu bytes for %zu input bytes\n", what,
            out->len, size);
    fail("re-encoding differs from the accepted input", f, CF_OK);
  }
}

/* Rebuilds a CHANGES, FEED or PUSH frame row by row, as senders do. */
static void check_incremental(const cf_frame *f, const uint8_t *data, size_t size) {
  cf_buf body, out;
  int rc = CF_OK;
  cf__buf_init(&body, SERVER_MAX_FRAME);
  cf__buf_init(&out, SERVER_MAX_FRAME);
  if (f->type == CF_FRAME_CHANGES || f->type == CF_FRAME_FEED) {
    const cf_changes *c = f->type == CF_FRAME_FEED ? &f->u.feed.changes : &f->u.changes;
    for (size_t i = 0; i < c->nrows && rc == CF_OK; i++)
      rc = cf__codec_put_row(&c->rows[i], &body);
    if (rc == CF_OK && f->type == CF_FRAME_FEED)
      rc = cf__encode_feed_body(f->u.feed.from_seq, c->last_seq, c->more, c->head_seq,
                                c->nrows, body.p, body.len, &out);
    else if (rc == CF_OK)
      rc = cf__encode_changes_body(c->last_seq, c->more, c->head_seq, c->nrows, body.p,
                                   body.len, &out);
  } else {
    const cf_push *p = &f->u.push;
    for (size_t i = 0; i < p->nchanges && rc == CF_OK; i++)
      rc = cf__codec_put_change(p->changes[i].id, &p->changes[i].row, &body);
    if (rc == CF_OK)
      rc = cf__encode_push_body(p->batch_seq, p->nchanges, body.p, body.len, &out);
  }
  if (rc != CF_OK) fail("the incremental encoder refused a decoded frame", f, rc);
  check_same(&out, data, size, "the incremental encoder", f);
  cf__buf_free(&body);
  cf__buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const cf_codec_limits limits = {SERVER_MAX_FRAME, SERVER_MAX_ROWS};
  char why[256];
  cf_frame f;
  memset(why, 'x', sizeof why);
  int rc = cf__frame_decode(data, size, &limits, &f, why, sizeof why);
  if (rc != CF_OK) {
    if (rc != CF_PROTOCOL && rc != CF_TOOBIG && rc != CF_NOMEM)
      fail("unexpected result", &f, rc);
    if (f.owned != NULL) fail("a refused frame owns memory", &f, rc);
    if (memchr(why, '\0', sizeof why) == NULL || why[0] == '\0')
      fail("a refusal without a NUL-terminated reason", &f, rc);
    cf__frame_free(&f);
    return 0;
  }
  if (f.version != CF_PROTO_VERSION) fail("accepted another protocol version", &f, rc);

  cf_buf out;
  cf__buf_init(&out, SERVER_MAX_FRAME);
  rc = cf__frame_encode(&f, &out);
  if (rc != CF_OK) fail("the encoder refused a decoded frame", &f, rc);
  check_same(&out, data, size, "cf__frame_encode", &f);
  cf__buf_free(&out);
  if (f.type == CF_FRAME_CHANGES || f.type == CF_FRAME_PUSH || f.type == CF_FRAME_FEED)
    check_incremental(&f, data, size);

  cf__frame_free(&f);
  if (f.owned != NULL || f.type != 0) fail("cf__frame_free left the frame set", &f, 0);
  cf__frame_free(&f); /* a second free is harmless */
  return 0;
}
