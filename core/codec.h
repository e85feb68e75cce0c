/*
** core/codec.h: the sync protocol's frame codec (internal).  The protocol,
** its session lifecycle and every frame's fields are specified in
** docs/protocol.md; the byte layout of each frame is also tabled at the top
** of core/codec.c, the one file of the project that includes <msgpack.h>.
**
** A frame is one WebSocket binary message holding one msgpack array:
**
**   [protocol version, frame type, field, field, ...]
**
** Each frame type has a fixed number of fields in a fixed order (no maps, no
** optional fields), so a frame is read without any lookahead and changing a
** layout means a new protocol version (negotiated in HELLO/WELCOME).
**
** CANONICAL FORM.  There is exactly one accepted encoding of every frame: the
** shortest msgpack form of each integer, string, binary and array header,
** float64 for reals, and the row layout of docs/protocol.md ("Rows").  The
** decoder refuses anything else, so for every accepted input
** encode(decode(bytes)) == bytes.  The encoder only ever produces that form.
**
** BOUNDS.  The decoder never allocates by a size read from the wire before
** checking it: the whole frame against limits->max_frame_bytes; every array
** count against the frame's own limit (rows per page, changes per batch,
** cells per row = the table's ncols + 1) AND against the bytes left (every
** element takes at least one byte, rows at least six); every string against
** its cap (CF_VALUE_MAX_BYTES for cell values, the CF_CODEC_MAX_* caps below
** for the others); versions are exactly 24 bytes, ids exactly 16.  Nesting is
** fixed by the layouts (at most frame > rows > row > values, four levels),
** so a nested array anywhere else is simply a wrong type.  It allocates at
** most one array per frame (rows, changes or results), with cf__malloc.
**
** LIFETIMES.  A decoded cf_frame BORROWS the input bytes: every cf_slice,
** every TEXT/BLOB cell value points into them.  Keep the input alive and
** unchanged while the frame is used; free the frame with cf__frame_free
** (which frees the one array it may own, never the input).
**
** Usage (server, one incoming message m[0..n)):
**
**   cf_frame f;
**   char why[256];
**   int rc = cf__frame_decode(m, n, &limits, &f, why, sizeof why);
**   if (rc != CF_OK) { send ERROR(CF_WIRE_PROTOCOL, why) and close; }
**   else { switch (f.type) { case CF_FRAME_PUSH: ... } cf__frame_free(&f); }
*/
#ifndef CF_CODEC_H
#define CF_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "clientflow.h"
#include "core/buf.h"
#include "core/hlc.h"
#include "core/outcome.h"
#include "core/row.h"
#include "core/uuid.h"
#include "core/version.h"

/* The protocol version this build speaks (the first element of a frame). */
#define CF_PROTO_VERSION 1
/* The range of versions this build accepts in HELLO. */
#define CF_PROTO_MIN 1
#define CF_PROTO_MAX 2

/* Hard caps (a peer may advertise lower limits, never higher). */
#define CF_CODEC_MAX_FRAME ((size_t)8 << 20) /* bytes of one frame: 8 MiB */
#define CF_CODEC_MAX_ROWS                                                                \
  10000                           /* rows per CHANGES, changes per PUSH,                 \
                                     results per PUSH_RESULT */
#define CF_CODEC_MAX_TOKEN 16384  /* bytes of a token (JWT) */
#define CF_CODEC_MAX_MESSAGE 1024 /* bytes of an error or reason message */
#define CF_CODEC_MAX_ROLE 64      /* bytes of a role name */
#define CF_CODEC_MAX_SOFTWARE 256 /* bytes of a software version string */

/* Frame types (the second element of every frame).  Stable forever. */
typedef enum cf_frame_type {
  CF_FRAME_HELLO = 1,           /* client -> server: opens the session */
  CF_FRAME_WELCOME = 2,         /* server -> client: session accepted */
  CF_FRAME_AUTH = 3,            /* client -> server: a fresh token */
  CF_FRAME_AUTH_OK = 4,         /* server -> client: the fresh token is taken */
  CF_FRAME_PUSH = 5,            /* client -> server: a batch of changes */
  CF_FRAME_PUSH_RESULT = 6,     /* server -> client: one answer per change */
  CF_FRAME_PULL = 7,            /* client -> server: a page from a cursor */
  CF_FRAME_CHANGES = 8,         /* server -> client: a page of merged rows */
  CF_FRAME_CHECKPOINT = 9,      /* server -> client: caught up, nothing new */
  CF_FRAME_LIVE = 10,           /* server -> client: the org's head moved */
  CF_FRAME_REBOOTSTRAP = 11,    /* server -> client: cursor too old, start over */
  CF_FRAME_ACCESS_REVOKED = 12, /* server -> client: membership gone */
  CF_FRAME_ERROR = 13,          /* either way: fatal error, then close */
  CF_FRAME_PING = 14,           /* either way: liveness probe */
  CF_FRAME_PONG = 15,           /* either way: answer to PING */
  CF_FRAME_FEED = 16            /* server -> client: a page it was not asked
                                   for, continuing from_seq (protocol 2) */
} cf_frame_type;
#define CF_FRAME_TYPE_MAX 16

/* Push statuses and reject reasons: core/outcome.h (one table). */

/* Error codes of the ERROR frame.  Stable forever; a receiver accepts codes
** it does not know (1..65535) and treats them as CF_WIRE_INTERNAL. */
typedef enum cf_wire_error {
  CF_WIRE_PROTOCOL = 1,      /* malformed, unknown or out-of-place frame */
  CF_WIRE_TOO_BIG = 2,       /* a frame or a count over the limits */
  CF_WIRE_VERSION = 3,       /* no protocol version in common */
  CF_WIRE_AUTH = 4,          /* token missing, malformed, forged, wrong aud */
  CF_WIRE_TOKEN_EXPIRED = 5, /* token expired (or not yet valid) */
  CF_WIRE_FORBIDDEN = 6,     /* user is not a member of the org, or the
                                claimed user is not the token's subject */
  CF_WIRE_CLOCK_SKEW = 7,    /* the peer's clock is too far ahead */
  CF_WIRE_STATE = 8,         /* a frame not allowed in the session's state
                                (e.g. PUSH before WELCOME, a stale batch) */
  CF_WIRE_BUSY = 9,          /* server overloaded: reconnect later */
  CF_WIRE_SHUTDOWN = 10,     /* server going away: reconnect */
  CF_WIRE_INTERNAL = 11      /* server failure */
} cf_wire_error;
#define CF_WIRE_ERROR_MAX 65535

/* Borrowed bytes p[0..n): NOT NUL-terminated; valid while the decoded input
** is (see LIFETIMES above). */
typedef struct cf_slice {
  const char *p; /* the bytes (NULL when n == 0 is allowed) */
  size_t n;      /* their length */
} cf_slice;

/* HELLO: the first frame a client sends. */
typedef struct cf_hello {
  uint32_t proto_min;  /* lowest protocol version the client speaks (>= 1) */
  uint32_t proto_max;  /* highest (>= proto_min) */
  cf_slice token;      /* the access token (JWT), UTF-8 */
  cf_nodeid node;      /* the client's node id */
  cf_uuid org;         /* the org this replica holds */
  cf_uuid user;        /* the user the client believes it is (all-zero:
                          unknown, take the token's subject) */
  uint64_t cursor;     /* the client's pull cursor (0 = never pulled) */
  uint64_t last_batch; /* highest push batch seq the client saw answered */
  cf_hlc hlc;          /* the client's HLC now */
  cf_slice software;   /* client software version, e.g. "clientflow/0.1.0" */
} cf_hello;

/* Starts a HELLO offering protocols CF_PROTO_MIN..proto_max with token and
** software (NULL: none): every other field zero, for the caller to fill
** (node, org, user, cursor, last_batch, hlc).  token and software are
** referenced, not copied. */
void cf__hello_init(cf_hello *h, const char *token, uint32_t proto_max,
                    const char *software);

/* WELCOME: the server's answer to an accepted HELLO. */
typedef struct cf_welcome {
  uint32_t proto;           /* the version both sides use from now on */
  cf_hlc hlc;               /* the server's HLC now */
  cf_slice role;            /* the user's role in the org: "owner",
                               "admin", "member", ... */
  uint64_t head_seq;        /* the org's current change head seq */
  uint64_t last_batch;      /* highest push batch seq of this node the
                               master has committed (0: none) */
  uint64_t max_frame_bytes; /* largest frame the server accepts */
  uint64_t max_batch;       /* most changes per PUSH the server accepts */
  uint64_t max_page;        /* most rows per CHANGES page (PULL limit cap) */
  int64_t token_exp;        /* the token's expiry, Unix seconds; the server
                               closes the socket then unless AUTH renews */
} cf_welcome;

/* AUTH: a fresh token for an open session. */
typedef struct cf_auth_frame {
  cf_slice token; /* the new token (JWT) */
} cf_auth_frame;

/* AUTH_OK: the fresh token is in force. */
typedef struct cf_auth_ok {
  int64_t token_exp; /* its expiry, Unix seconds */
} cf_auth_ok;

/* One change of a PUSH batch. */
typedef struct cf_push_change {
  uint64_t id;   /* the client's local change id (outbox), unique and
                    strictly increasing within the batch */
  cf_change row; /* the change's cells (key cells always present) */
} cf_push_change;

/* PUSH: a batch of changes from the outbox. */
typedef struct cf_push {
  uint64_t batch_seq;      /* per node, strictly increasing from 1; a
                              retried batch keeps its seq and content */
  cf_push_change *changes; /* the changes (decoded: owned by the frame) */
  size_t nchanges;         /* how many */
} cf_push;

/* One answer of a PUSH_RESULT. */
typedef struct cf_push_result {
  uint64_t change_id;    /* the change's local id */
  cf_push_status status; /* applied, superseded or rejected */
  unsigned reason;       /* cf_reject_reason: 0 unless rejected, then 1..255 */
  cf_slice message;      /* human-readable detail ("" if none), UTF-8 */
} cf_push_result;

/* PUSH_RESULT: the answers to one batch, in the batch's order. */
typedef struct cf_push_reply {
  uint64_t batch_seq;      /* the batch answered */
  uint64_t head_seq;       /* the org's head seq once the batch committed:
                              a pull to it includes the batch's writes */
  cf_push_result *results; /* one per change (decoded: owned by frame) */
  size_t nresults;         /* how many */
} cf_push_reply;

/* PULL: asks for the rows changed after a cursor. */
typedef struct cf_pull {
  uint64_t from_seq; /* the client's cursor: rows changed after it */
  uint64_t limit;    /* most rows wanted, 1..WELCOME's max_page */
} cf_pull;

/* CHANGES: one page of rows as merged on the master. */
typedef struct cf_changes {
  uint64_t last_seq; /* the cursor to store with these rows */
  int more;          /* 1 if more rows follow after last_seq */
  uint64_t head_seq; /* the org's head seq when the page was read */
  cf_row *rows;      /* the rows (decoded: owned by the frame) */
  size_t nrows;      /* how many (0 allowed) */
} cf_changes;

/* FEED: a CHANGES page the server sends unasked (protocol 2), the same for
** every session of the org whose cursor is from_seq.  The client takes it
** only if its cursor is from_seq and no request of its own is out. */
typedef struct cf_feed {
  cf_changes changes; /* the page, as in CHANGES */
  uint64_t from_seq;  /* the cursor the page continues */
} cf_feed;

/* CHECKPOINT, LIVE, REBOOTSTRAP: one sequence number each. */
typedef struct cf_seq_frame {
  uint64_t seq; /* CHECKPOINT: caught up to; LIVE: the new head;
                   REBOOTSTRAP: the oldest cursor the server can serve */
} cf_seq_frame;

/* ACCESS_REVOKED: the user lost access to the org. */
typedef struct cf_revoked {
  cf_uuid org;      /* the org */
  cf_slice message; /* detail, UTF-8 */
} cf_revoked;

/* ERROR: the sender closes the session after it. */
typedef struct cf_error_frame {
  unsigned code;    /* cf_wire_error (1..65535) */
  cf_slice message; /* detail, UTF-8 */
} cf_error_frame;

/* PING / PONG. */
typedef struct cf_ping {
  uint64_t nonce; /* echoed by PONG */
} cf_ping;

/* Any frame: the type says which member of the union is meaningful. */
typedef struct cf_frame {
  unsigned version;   /* protocol version of the frame (CF_PROTO_VERSION) */
  cf_frame_type type; /* which member below */
  union {
    cf_hello hello;            /* CF_FRAME_HELLO */
    cf_welcome welcome;        /* CF_FRAME_WELCOME */
    cf_auth_frame auth;        /* CF_FRAME_AUTH */
    cf_auth_ok auth_ok;        /* CF_FRAME_AUTH_OK */
    cf_push push;              /* CF_FRAME_PUSH */
    cf_push_reply push_result; /* CF_FRAME_PUSH_RESULT */
    cf_pull pull;              /* CF_FRAME_PULL */
    cf_changes changes;        /* CF_FRAME_CHANGES */
    cf_seq_frame checkpoint;   /* CF_FRAME_CHECKPOINT */
    cf_seq_frame live;         /* CF_FRAME_LIVE */
    cf_seq_frame rebootstrap;  /* CF_FRAME_REBOOTSTRAP */
    cf_revoked revoked;        /* CF_FRAME_ACCESS_REVOKED */
    cf_error_frame error;      /* CF_FRAME_ERROR */
    cf_ping ping;              /* CF_FRAME_PING, CF_FRAME_PONG */
    cf_feed feed;              /* CF_FRAME_FEED */
  } u;
  void *owned; /* the one array the decoder allocated, or NULL */
} cf_frame;

/* Limits a decoder enforces (all at most the CF_CODEC_MAX_* caps; larger
** values are clamped to them, 0 means the cap). */
typedef struct cf_codec_limits {
  size_t max_frame_bytes; /* bytes of one frame */
  size_t max_rows;        /* rows, changes or results in one frame */
} cf_codec_limits;

/* ---- decoding ------------------------------------------------------------ */

/*
** CONSTRUCTOR.  Decodes the frame in bytes[0..n) (untrusted).  limits may be
** NULL (the caps).  OUT: *out, which BORROWS bytes (see LIFETIMES) and owns at
** most one array: free it with cf__frame_free.  On failure *out is left
** empty (nothing to free, cf__frame_free is still harmless) and, if errmsg
** is not NULL, errmsg[0..errmsg_len) receives a one-line reason naming the
** frame, the item and the byte offset.  Returns CF_OK; CF_TOOBIG (the frame
** or a count or a string over its limit); CF_PROTOCOL (anything else
** malformed: truncation, wrong type, non-canonical form, unknown frame type
** or protocol version, unknown table, bad column mask, bad version,
** trailing bytes); CF_NOMEM.
*/
int cf__frame_decode(const void *bytes, size_t n, const cf_codec_limits *limits,
                     cf_frame *out, char *errmsg, size_t errmsg_len) CF_WARN_UNUSED;

/* DESTRUCTOR.  Frees what cf__frame_decode allocated and zeroes f.  Only for
** decoded frames (a frame a caller filled in for encoding owns nothing of
** the codec's).  Accepts NULL and an already freed frame. */
void cf__frame_free(cf_frame *f);

/* ---- encoding -------------------------------------------------------------
** Every encoder APPENDS one frame to out, whose limit is the frame cap (set
** it to the peer's max frame bytes).  On any failure out is left exactly as
** it was.  Results: CF_OK; CF_TOOBIG (out's limit, or a string over its cap,
** or more than CF_CODEC_MAX_ROWS items); CF_INVALID (content the decoder
** would refuse: a row without its key cells, a non-TEXT key, a deleted cell
** other than INT 0/1, a NaN or infinite real, a zero version on a data
** cell, an unknown table, out-of-range enums, unsorted change ids); CF_NOMEM.
** The encoders read their arguments and keep no pointer to them.
*/

/* The whole frame f (f->version is ignored: CF_PROTO_VERSION is written). */
int cf__frame_encode(const cf_frame *f, cf_buf *out) CF_WARN_UNUSED;

int cf__encode_hello(const cf_hello *h, cf_buf *out) CF_WARN_UNUSED;
int cf__encode_welcome(const cf_welcome *w, cf_buf *out) CF_WARN_UNUSED;
int cf__encode_auth(const cf_auth_frame *a, cf_buf *out) CF_WARN_UNUSED;
int cf__encode_auth_ok(const cf_auth_ok *a, cf_buf *out) CF_WARN_UNUSED;
int cf__encode_push(const cf_push *p, cf_buf *out) CF_WARN_UNUSED;
int cf__encode_push_result(const cf_push_reply *r, cf_buf *out) CF_WARN_UNUSED;
int cf__encode_pull(const cf_pull *p, cf_buf *out) CF_WARN_UNUSED;
int cf__encode_changes(const cf_changes *c, cf_buf *out) CF_WARN_UNUSED;
int cf__encode_feed(const cf_feed *f, cf_buf *out) CF_WARN_UNUSED;
/* CHECKPOINT, LIVE, REBOOTSTRAP (type picks which), PING, PONG (seq is the
** nonce). */
int cf__encode_seq(cf_frame_type type, uint64_t seq, cf_buf *out) CF_WARN_UNUSED;
int cf__encode_revoked(const cf_revoked *r, cf_buf *out) CF_WARN_UNUSED;
int cf__encode_error(unsigned code, const char *message, size_t len,
                     cf_buf *out) CF_WARN_UNUSED;

/*
** Incremental pages, for a sender that fills a frame until it is full:
** append rows (or changes) one at a time to a body buffer whose limit leaves
** room for the frame header (CF_CODEC_FRAME_OVERHEAD), stop at the first
** CF_TOOBIG (the body is unchanged then), and wrap the body:
**
**   cf_buf body; cf__buf_init(&body, max_frame - CF_CODEC_FRAME_OVERHEAD);
**   while (n < max_page && next_row(&row))
**     if ((rc = cf__codec_put_row(&row, &body)) != CF_OK) break; else n++;
**   rc = cf__encode_changes_body(last_seq, more, head, n, body.p, body.len, out);
**
** A single row that does not fit an empty body can never be sent.
*/
#define CF_CODEC_FRAME_OVERHEAD 64
int cf__codec_put_row(const cf_row *row, cf_buf *body) CF_WARN_UNUSED;
/* One PUSH change; ids must be strictly increasing across the body. */
int cf__codec_put_change(uint64_t id, const cf_change *change,
                         cf_buf *body) CF_WARN_UNUSED;
/* Wraps nrows encoded rows body[0..len) as a CHANGES frame. */
int cf__encode_changes_body(uint64_t last_seq, int more, uint64_t head_seq, size_t nrows,
                            const void *body, size_t len, cf_buf *out) CF_WARN_UNUSED;
/* Wraps nrows encoded rows body[0..len) as a FEED frame (protocol 2). */
int cf__encode_feed_body(uint64_t from_seq, uint64_t last_seq, int more,
                         uint64_t head_seq, size_t nrows, const void *body, size_t len,
                         cf_buf *out) CF_WARN_UNUSED;
/* Wraps nchanges encoded changes body[0..len) as a PUSH frame. */
int cf__encode_push_body(uint64_t batch_seq, size_t nchanges, const void *body,
                         size_t len, cf_buf *out) CF_WARN_UNUSED;

/* ---- names ----------------------------------------------------------------
** Static strings, valid for the life of the process. */
const char *cf__frame_type_name(unsigned type); /* "HELLO", ... "?" */
/* cf__push_status_name, cf__reject_reason_name: core/outcome.h. */
const char *cf__wire_error_name(unsigned code); /* "protocol", ... */

/* The result code a client reports for a received ERROR code (CF_PROTOCOL,
** CF_TOOBIG, CF_AUTH, CF_PERMISSION, CF_CLOCK_SKEW, CF_BUSY, CF_ERROR). */
int cf__wire_error_result(unsigned code);

/* Non-zero if frames of this type are sent by clients (HELLO, AUTH, PUSH,
** PULL, and PING/PONG/ERROR which both sides send); non-zero for servers
** likewise with cf__frame_from_server.  Sessions refuse the others. */
int cf__frame_from_client(unsigned type);
int cf__frame_from_server(unsigned type);

#endif /* CF_CODEC_H */
