/*
** core/codec.c: the sync protocol's frames, encoded and decoded (see
** core/codec.h for the API, docs/protocol.md for the protocol around them).
** This is the only file of the project that includes <msgpack.h>.
**
** Encoding uses msgpack-c's packer, writing through a callback into a capped
** cf_buf.  Decoding does NOT use msgpack-c's unpacker: msgpack_unpack()
** allocates a declared array's whole element table before reading a single
** element (a 7-byte input declaring 2^28 elements makes it ask malloc for
** 8 GiB), so frames are read by the small bounded reader below, which checks
** every count against its limit and against the bytes left before anything
** is allocated, and which accepts only the canonical encoding.
**
** ENVELOPE.  A frame is one WebSocket binary message holding exactly one
** msgpack array (nothing after it):
**
**   #    field      msgpack type           meaning
**   0    version    uint                   protocol version, 1
**   1    type       uint                   frame type, 1..15 (tables below)
**   2..  fields     per the frame type     exactly the listed number
**
** Canonical form: integers in their shortest msgpack form (positive fixint,
** uint 8/16/32/64 for values >= 0; negative fixint, int 8/16/32/64 for
** values < 0), strings as fixstr/str8/str16/str32 and binaries as
** bin8/bin16/bin32 and arrays as fixarray/array16/array32, each the shortest
** that holds the length; reals as float64 (0xcb); booleans 0xc2/0xc3; nil
** 0xc0.  No maps, no ext types, no float32.  "uint" below means an integer
** >= 0 in that form; "id16" a bin8 of exactly 16 bytes (a UUID or node id);
** "ver" a bin8 of exactly 24 bytes (core/version.h), never all zero; "str(N)"
** a UTF-8 string of at most N bytes without NUL.
**
** Byte example, LIVE with head 300:  93 01 0a cd 01 2c
**   93 = fixarray(3), 01 = version 1, 0a = type LIVE, cd 01 2c = uint16 300.
**
** HELLO (1) client -> server, 12 elements
**   2  proto_min   uint 1..65535     lowest protocol version the client speaks
**   3  proto_max   uint >= proto_min highest
**   4  token       str(16384)        access token (JWT)
**   5  node        id16              the client's node id
**   6  org         id16              the org of the replica
**   7  user        id16              claimed user id (all zero: from token)
**   8  cursor      uint              the client's pull cursor (0: none)
**   9  last_batch  uint              highest batch seq answered to the client
**   10 hlc         uint              the client's HLC now
**   11 software    str(256)          client software version
**
** WELCOME (2) server -> client, 11 elements
**   2  proto       uint 1..65535     the version used from now on
**   3  hlc         uint              the server's HLC now
**   4  role        str(64)           the user's role in the org
**   5  head_seq    uint              the org's change head
**   6  last_batch  uint              highest batch seq of this node committed
**   7  max_frame   uint              largest frame the server accepts (bytes)
**   8  max_batch   uint              most changes per PUSH
**   9  max_page    uint              most rows per CHANGES page
**   10 token_exp   int               token expiry, Unix seconds
**
** AUTH (3) client -> server, 3 elements:    2 token str(16384)
** AUTH_OK (4) server -> client, 3 elements: 2 token_exp int (Unix seconds)
**
** PUSH (5) client -> server, 4 elements
**   2  batch_seq   uint >= 1         per node, strictly increasing
**   3  changes     array 1..10000    of CHANGE (below)
**
** PUSH_RESULT (6) server -> client, 5 elements
**   2  batch_seq   uint              the batch answered
**   3  head_seq    uint              org head once the batch committed
**   4  results     array 1..10000    of RESULT, in the batch's order
**   RESULT = array(4):
**     0 change_id  uint              strictly increasing within the frame
**     1 status     uint 0..2         applied, superseded, rejected
**     2 reason     uint 0..255       0 unless rejected, then >= 1
**     3 message    str(1024)
**
** PULL (7) client -> server, 4 elements
**   2  from_seq    uint              rows changed after this cursor
**   3  limit       uint 1..10000     most rows wanted
**
** CHANGES (8) server -> client, 6 elements
**   2  last_seq    uint              cursor to store with the page
**   3  more        bool              more rows after last_seq
**   4  head_seq    uint              org head when the page was read
**   5  rows        array 0..10000    of ROW (below)
**
** CHECKPOINT (9), LIVE (10), REBOOTSTRAP (11), PING (14), PONG (15),
** 3 elements each:  2 seq uint  (caught up to / new head / oldest servable
** cursor / nonce / echoed nonce)
**
** ACCESS_REVOKED (12) server -> client, 4 elements: 2 org id16, 3 message str(1024)
** ERROR (13) either way, 4 elements: 2 code uint 1..65535, 3 message str(1024)
**
** ROW = array(5), CHANGE = array(6) (the same with a leading change id):
**   #    field     type              meaning
**   (0   id        uint              CHANGE only: local change id)
**   0    table     uint 0..9         table number (core/schema.h)
**   1    present   uint              cell mask: bit i = column i, bit ncols =
**                                    deleted; no bit above ncols; every key
**                                    column's bit set
**   2    values    array(popcount(present)): the present cells' values in
**                                    index order: nil | int | float64 (finite)
**                                    | str(1 MiB) | bin(1 MiB); key cells str;
**                                    deleted int 0 or 1
**   3    vers      array(k) of ver   the distinct versions of the row's
**                                    present non-key cells, in order of first
**                                    use (k = 0 iff there are none)
**   4    vidx      nil if k <= 1, else bin of one byte per present non-key
**                                    cell (index order): its version's index
**                                    in vers; every vers entry used, first
**                                    uses in order 0, 1, 2, ...
**
** vers and vidx are the row's version dictionary (core/vdict.h, shared with
** the replica's version blob, store/vblob.h), laid out in msgpack.
**
** Why this row layout: most rows are written whole by one write (an insert,
** or a master row whose cells share a few versions), so naming each distinct
** 24-byte version once per row and pointing to it with one byte costs 28
** bytes for an inserted 12-cell contact instead of 261 with one version per
** cell; cells never repeat column names (the mask says which are there).
** bench/bench_codec.c measures the result against JSON.
*/
#include "core/codec.h"

#include <math.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/schema.h"
#include "core/utf8.h"
#include "core/value.h"
#include "core/vdict.h"
#include "platform/platform.h"

/* Fields after version and type, per frame type (index = type). */
static const unsigned char frame_nfields[CF_FRAME_TYPE_MAX + 1] = {
    0, 10, 9, 1, 1, 2, 3, 2, 4, 1, 1, 1, 2, 2, 1, 1, 5};

static const char *const frame_names[CF_FRAME_TYPE_MAX + 1] = {
    "?",    "HELLO",       "WELCOME",        "AUTH",    "AUTH_OK",
    "PUSH", "PUSH_RESULT", "PULL",           "CHANGES", "CHECKPOINT",
    "LIVE", "REBOOTSTRAP", "ACCESS_REVOKED", "ERROR",   "PING",
    "PONG", "FEED"};

/* Smallest encoded sizes, used to bound counts by the bytes left. */
#define MIN_ROW_BYTES 6    /* fixarray, table, present, values, vers, vidx */
#define MIN_CHANGE_BYTES 7 /* the same and the id */
#define MIN_RESULT_BYTES 5 /* fixarray and four one-byte fields */
#define MAX_PROTO 65535u

/* ==== reading ============================================================= */

/* The bounded reader over one frame. */
typedef struct rd {
  const unsigned char *start; /* the frame's first byte (for offsets) */
  const unsigned char *p;     /* next byte to read */
  const unsigned char *end;   /* one past the frame's last byte */
  const char *frame;          /* frame name for messages */
  const char *item;           /* "change", "row", "result", or NULL */
  size_t index;               /* which item, when item is set */
  const cf_table *table;      /* table of the row being read, or NULL */
  int cell;                   /* cell being read, or -1 */
  char *err;                  /* caller's message buffer, or NULL */
  size_t errlen;              /* its size */
} rd;

/* Writes "<frame>: [<item> i: ][cell c (name): ]<message> (byte N)" to the
** caller's buffer and returns rc. */
static int fail(rd *r, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(rd *r, int rc, const char *fmt, ...) {
  if (r->err == NULL || r->errlen == 0) return rc;
  char msg[192], item[64] = "", cell[80] = "";
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (r->item != NULL) snprintf(item, sizeof item, "%s %zu: ", r->item, r->index);
  if (r->cell >= 0 && r->table != NULL) {
    unsigned c = (unsigned)r->cell;
    snprintf(cell, sizeof cell, "cell %u (%s): ", c,
             c < r->table->ncols ? r->table->cols[c].name : CF_SCHEMA_DELETED_NAME);
  }
  snprintf(r->err, r->errlen, "%s: %s%s%s (byte %zu)", r->frame, item, cell, msg,
           (size_t)(r->p - r->start));
  return rc;
}

static size_t left(const rd *r) { return (size_t)(r->end - r->p); }

static uint64_t ld16(const unsigned char *p) { return ((uint64_t)p[0] << 8) | p[1]; }
static uint64_t ld32(const unsigned char *p) {
  return ((uint64_t)p[0] << 24) | ((uint64_t)p[1] << 16) | ((uint64_t)p[2] << 8) | p[3];
}
static uint64_t ld64(const unsigned char *p) { return (ld32(p) << 32) | ld32(p + 4); }

/* What the msgpack byte b starts, for messages. */
static const char *kind_name(unsigned char b) {
  if (b <= 0x7f || (b >= 0xcc && b <= 0xd3) || b >= 0xe0) return "integer";
  if (b <= 0x8f || b == 0xde || b == 0xdf) return "map";
  if (b <= 0x9f || b == 0xdc || b == 0xdd) return "array";
  if (b <= 0xbf || (b >= 0xd9 && b <= 0xdb)) return "string";
  switch (b) {
    case 0xc0:
      return "nil";
    case 0xc1:
      return "the unused byte 0xc1";
    case 0xc2:
    case 0xc3:
      return "boolean";
    case 0xc4:
    case 0xc5:
    case 0xc6:
      return "binary";
    case 0xca:
      return "float32";
    case 0xcb:
      return "float64";
    default:
      return "ext";
  }
}

/* Fails unless n more bytes are there. */
static int need(rd *r, size_t n, const char *what) {
  if (left(r) >= n) return CF_OK;
  return fail(r, CF_PROTOCOL, "truncated %s", what);
}

static int wrong_type(rd *r, const char *what, const char *expected) {
  if (left(r) == 0) return fail(r, CF_PROTOCOL, "truncated: %s missing", what);
  return fail(r, CF_PROTOCOL, "%s must be %s, got %s", what, expected, kind_name(*r->p));
}

static int non_canonical(rd *r, const char *what) {
  return fail(r, CF_PROTOCOL, "%s is not in its shortest (canonical) form", what);
}

/* Reads an unsigned integer. */
static int rd_uint(rd *r, const char *what, uint64_t *out) {
  if (left(r) == 0) return wrong_type(r, what, "an unsigned integer");
  unsigned char b = *r->p;
  size_t size;
  uint64_t v, min;
  if (b <= 0x7f) {
    *out = b;
    r->p++;
    return CF_OK;
  }
  switch (b) {
    case 0xcc:
      size = 1;
      min = 0x80;
      break;
    case 0xcd:
      size = 2;
      min = 0x100;
      break;
    case 0xce:
      size = 4;
      min = 0x10000;
      break;
    case 0xcf:
      size = 8;
      min = (uint64_t)1 << 32;
      break;
    default:
      if (b >= 0xe0 || (b >= 0xd0 && b <= 0xd3))
        return fail(r, CF_PROTOCOL, "%s must not be negative", what);
      return wrong_type(r, what, "an unsigned integer");
  }
  int rc = need(r, 1 + size, what);
  if (rc != CF_OK) return rc;
  v = size == 1   ? r->p[1]
      : size == 2 ? ld16(r->p + 1)
      : size == 4 ? ld32(r->p + 1)
                  : ld64(r->p + 1);
  if (v < min) return non_canonical(r, what);
  r->p += 1 + size;
  *out = v;
  return CF_OK;
}

/* Reads an unsigned integer in [lo, hi]. */
static int rd_uint_range(rd *r, const char *what, uint64_t lo, uint64_t hi,
                         uint64_t *out) {
  const unsigned char *at = r->p;
  int rc = rd_uint(r, what, out);
  if (rc != CF_OK) return rc;
  if (*out < lo || *out > hi) {
    r->p = at;
    return fail(r, CF_PROTOCOL, "%s is %llu, must be %llu..%llu", what,
                (unsigned long long)*out, (unsigned long long)lo, (unsigned long long)hi);
  }
  return CF_OK;
}

/* Reads a signed 64-bit integer. */
static int rd_int(rd *r, const char *what, int64_t *out) {
  if (left(r) == 0) return wrong_type(r, what, "an integer");
  unsigned char b = *r->p;
  if (b <= 0x7f || (b >= 0xcc && b <= 0xcf)) {
    uint64_t u = 0;
    int rc = rd_uint(r, what, &u);
    if (rc != CF_OK) return rc;
    if (u > (uint64_t)INT64_MAX) {
      r->p -= 9;
      return fail(r, CF_PROTOCOL, "%s is out of the int64 range", what);
    }
    *out = (int64_t)u;
    return CF_OK;
  }
  if (b >= 0xe0) {
    *out = (int64_t)b - 256;
    r->p++;
    return CF_OK;
  }
  size_t size;
  int64_t v, below; /* canonical iff v < below */
  switch (b) {
    case 0xd0:
      size = 1;
      below = -32;
      break;
    case 0xd1:
      size = 2;
      below = -128;
      break;
    case 0xd2:
      size = 4;
      below = -32768;
      break;
    case 0xd3:
      size = 8;
      below = -((int64_t)1 << 31);
      break;
    default:
      return wrong_type(r, what, "an integer");
  }
  int rc = need(r, 1 + size, what);
  if (rc != CF_OK) return rc;
  if (size == 1)
    v = (int8_t)r->p[1];
  else if (size == 2)
    v = (int16_t)(uint16_t)ld16(r->p + 1);
  else if (size == 4)
    v = (int32_t)(uint32_t)ld32(r->p + 1);
  else
    v = (int64_t)ld64(r->p + 1);
  if (v >= below) return non_canonical(r, what);
  r->p += 1 + size;
  *out = v;
  return CF_OK;
}

static int rd_bool(rd *r, const char *what, int *out) {
  if (left(r) == 0 || (*r->p != 0xc2 && *r->p != 0xc3))
    return wrong_type(r, what, "a boolean");
  *out = *r->p == 0xc3;
  r->p++;
  return CF_OK;
}

/*
** Reads a length-prefixed header of a str (is_bin 0) or bin (is_bin 1):
** checks its canonical form, the cap (CF_TOOBIG) and the bytes left
** (CF_PROTOCOL).  OUT: the bytes, borrowed.
*/
static int rd_bytes(rd *r, int is_bin, const char *what, size_t cap, cf_slice *out) {
  if (left(r) == 0) return wrong_type(r, what, is_bin ? "binary" : "a string");
  unsigned char b = *r->p;
  size_t hdr, len, min;
  if (!is_bin && b >= 0xa0 && b <= 0xbf) {
    hdr = 1;
    len = b & 0x1f;
    min = 0;
  } else if (b == (is_bin ? 0xc4 : 0xd9)) {
    hdr = 2;
    min = is_bin ? 0 : 32;
  } else if (b == (is_bin ? 0xc5 : 0xda)) {
    hdr = 3;
    min = 256;
  } else if (b == (is_bin ? 0xc6 : 0xdb)) {
    hdr = 5;
    min = 65536;
  } else {
    return wrong_type(r, what, is_bin ? "binary" : "a string");
  }
  int rc = need(r, hdr, what);
  if (rc != CF_OK) return rc;
  if (hdr == 2) len = r->p[1];
  if (hdr == 3) len = (size_t)ld16(r->p + 1);
  if (hdr == 5) len = (size_t)ld32(r->p + 1);
  if (len < min) return non_canonical(r, what);
  if (len > cap)
    return fail(r, CF_TOOBIG, "%s of %zu bytes exceeds the limit of %zu", what, len, cap);
  if (len > left(r) - hdr)
    return fail(r, CF_PROTOCOL, "truncated %s: declares %zu bytes, %zu left", what, len,
                left(r) - hdr);
  out->p = len ? (const char *)r->p + hdr : NULL;
  out->n = len;
  r->p += hdr + len;
  return CF_OK;
}

/* A str(cap) that must be valid UTF-8 without NUL. */
static int rd_text(rd *r, const char *what, size_t cap, cf_slice *out) {
  const unsigned char *at = r->p;
  int rc = rd_bytes(r, 0, what, cap, out);
  if (rc != CF_OK) return rc;
  if (out->n > 0 && !cf__utf8_valid(out->p, out->n)) {
    r->p = at;
    return fail(r, CF_PROTOCOL, "%s is not valid UTF-8 (or holds NUL)", what);
  }
  return CF_OK;
}

/* A bin of exactly size bytes into out. */
static int rd_fixed_bin(rd *r, const char *what, size_t size, unsigned char *out) {
  const unsigned char *at = r->p;
  cf_slice s = {NULL, 0};
  int rc = rd_bytes(r, 1, what, (size_t)-1, &s);
  if (rc != CF_OK) return rc;
  if (s.n != size) {
    r->p = at;
    return fail(r, CF_PROTOCOL, "%s must be %zu bytes, got %zu", what, size, s.n);
  }
  memcpy(out, s.p, size);
  return CF_OK;
}

/*
** Reads an array header.  CF_TOOBIG if the count passes max; CF_PROTOCOL if
** the bytes left cannot hold count elements of at least min_elem bytes.
*/
static int rd_array(rd *r, const char *what, size_t max, size_t min_elem, size_t *out) {
  if (left(r) == 0) return wrong_type(r, what, "an array");
  unsigned char b = *r->p;
  size_t hdr, n;
  if (b >= 0x90 && b <= 0x9f) {
    hdr = 1;
    n = b & 0x0f;
  } else if (b == 0xdc || b == 0xdd) {
    hdr = b == 0xdc ? 3 : 5;
    int rc = need(r, hdr, what);
    if (rc != CF_OK) return rc;
    n = (size_t)(hdr == 3 ? ld16(r->p + 1) : ld32(r->p + 1));
    if (n < (hdr == 3 ? 16u : 65536u)) return non_canonical(r, what);
  } else {
    return wrong_type(r, what, "an array");
  }
  if (n > max)
    return fail(r, CF_TOOBIG, "%s has %zu elements, the limit is %zu", what, n, max);
  if (n > (left(r) - hdr) / min_elem)
    return fail(r, CF_PROTOCOL, "%s declares %zu elements but only %zu bytes follow",
                what, n, left(r) - hdr);
  r->p += hdr;
  *out = n;
  return CF_OK;
}

/* Reads the array header of a fixed-size tuple (a row, change or result)
** of exactly n elements; any count up to 16 is read so the message can say
** what it was. */
static int rd_array_of(rd *r, const char *what, size_t n) {
  const unsigned char *at = r->p;
  size_t got = 0;
  int rc = rd_array(r, what, 16, 1, &got);
  if (rc == CF_TOOBIG) rc = CF_PROTOCOL; /* a fixed-size tuple: wrong shape */
  if (rc != CF_OK) return rc;
  if (got != n) {
    r->p = at;
    return fail(r, CF_PROTOCOL, "%s must have %zu elements, got %zu", what, n, got);
  }
  return CF_OK;
}

/* One cell value. */
static int rd_value(rd *r, cf_value *v) {
  if (left(r) == 0) return wrong_type(r, "value", "a value");
  unsigned char b = *r->p;
  int rc;
  if (b == 0xc0) {
    *v = cf__value_null();
    r->p++;
    return CF_OK;
  }
  if (b <= 0x7f || b >= 0xe0 || (b >= 0xcc && b <= 0xd3)) {
    int64_t i = 0;
    if ((rc = rd_int(r, "value", &i)) != CF_OK) return rc;
    *v = cf__value_int(i);
    return CF_OK;
  }
  if (b == 0xcb) {
    if ((rc = need(r, 9, "value")) != CF_OK) return rc;
    uint64_t bits = ld64(r->p + 1);
    double d;
    memcpy(&d, &bits, sizeof d);
    if (!isfinite(d)) return fail(r, CF_PROTOCOL, "value is NaN or infinite");
    *v = cf__value_real(d);
    r->p += 9;
    return CF_OK;
  }
  if (b == 0xca) return fail(r, CF_PROTOCOL, "value is a float32 (reals are float64)");
  cf_slice s = {NULL, 0};
  if ((b >= 0xa0 && b <= 0xbf) || (b >= 0xd9 && b <= 0xdb)) {
    if ((rc = rd_bytes(r, 0, "text value", CF_VALUE_MAX_BYTES, &s)) != CF_OK) return rc;
    *v = cf__value_text(s.p, s.n);
    return CF_OK;
  }
  if (b >= 0xc4 && b <= 0xc6) {
    if ((rc = rd_bytes(r, 1, "blob value", CF_VALUE_MAX_BYTES, &s)) != CF_OK) return rc;
    *v = cf__value_blob(s.p, s.n);
    return CF_OK;
  }
  return wrong_type(r, "value", "nil, an integer, float64, a string or binary");
}

static unsigned popcount64(uint64_t m) { return (unsigned)__builtin_popcountll(m); }

/* The ROW fields after the array header (and the change id): table,
** present, values, vers, vidx.  Fills row (zeroed first). */
static int rd_row_fields(rd *r, cf_row *row) {
  uint64_t tn = 0, present = 0;
  int rc;
  memset(row, 0, sizeof *row);
  const unsigned char *at = r->p;
  if ((rc = rd_uint(r, "table", &tn)) != CF_OK) return rc;
  const cf_table *t = tn < CF_SCHEMA_NTABLES ? cf__schema_table((unsigned)tn) : NULL;
  if (t == NULL) {
    r->p = at;
    return fail(r, CF_PROTOCOL, "unknown table number %llu", (unsigned long long)tn);
  }
  row->table = t;
  at = r->p;
  if ((rc = rd_uint(r, "present mask", &present)) != CF_OK) return rc;
  uint64_t all = cf__schema_mask_all(t);
  if (present & ~all) {
    r->p = at;
    return fail(r, CF_PROTOCOL, "present mask sets a bit above column %u of %s", t->ncols,
                t->name);
  }
  if ((present & t->key_mask) != t->key_mask) {
    r->p = at;
    return fail(r, CF_PROTOCOL, "present mask lacks a key column of %s", t->name);
  }
  row->present = present;

  size_t n = 0;
  unsigned ncells = popcount64(present);
  at = r->p;
  if ((rc = rd_array(r, "values", CF_ROW_MAX_CELLS, 1, &n)) != CF_OK) return rc;
  if (n != ncells) {
    r->p = at;
    return fail(r, CF_PROTOCOL, "values has %zu elements, the mask has %u cells", n,
                ncells);
  }
  r->table = t;
  for (unsigned c = 0; c <= t->ncols; c++) {
    if (!(present & CF_COL_BIT(c))) continue;
    r->cell = (int)c;
    cf_value *v = &row->cells[c].value;
    at = r->p;
    if ((rc = rd_value(r, v)) != CF_OK) return rc;
    if ((t->key_mask & CF_COL_BIT(c)) && v->kind != CF_VALUE_TEXT) {
      r->p = at;
      return fail(r, CF_PROTOCOL, "a key cell must be a string");
    }
    if (c == t->ncols && (v->kind != CF_VALUE_INT || (v->i != 0 && v->i != 1))) {
      r->p = at;
      return fail(r, CF_PROTOCOL, "the deleted cell must be 0 or 1");
    }
  }
  r->cell = -1;

  /* Versions: a dictionary of distinct versions, then one index per
  ** versioned cell (core/vdict.h). */
  uint64_t data = present & ~t->key_mask;
  unsigned nver = popcount64(data);
  size_t k = 0;
  cf__vdict d;
  at = r->p;
  if ((rc = rd_array(r, "vers", CF_ROW_MAX_CELLS, 1, &k)) != CF_OK) return rc;
  if (k > nver || (nver > 0 && k == 0)) {
    r->p = at;
    return fail(r, CF_PROTOCOL, "vers has %zu versions for %u versioned cells", k, nver);
  }
  d.k = (unsigned)k;
  d.n = nver;
  for (unsigned i = 0; i < d.k; i++) {
    unsigned other = 0;
    at = r->p;
    if ((rc = rd_fixed_bin(r, "version", CF_VER_LEN, d.vers[i].b)) != CF_OK) return rc;
    cf__vdict_fault why = cf__vdict_check_ver(&d, i, &other);
    if (why != CF_VDICT_OK) {
      r->p = at;
      if (why == CF_VDICT_ZERO) return fail(r, CF_PROTOCOL, "version %u is all zero", i);
      return fail(r, CF_PROTOCOL, "version %u repeats version %u", i, other);
    }
  }
  if (k <= 1) {
    if (left(r) == 0 || *r->p != 0xc0) return wrong_type(r, "vidx", "nil (one version)");
    r->p++;
    memset(d.idx, 0, sizeof d.idx);
  } else {
    cf_slice s = {NULL, 0};
    at = r->p;
    if ((rc = rd_bytes(r, 1, "vidx", (size_t)-1, &s)) != CF_OK) return rc;
    if (s.n != nver) {
      r->p = at;
      return fail(r, CF_PROTOCOL, "vidx has %zu entries for %u versioned cells", s.n,
                  nver);
    }
    memcpy(d.idx, s.p, nver);
    unsigned bad = 0;
    cf__vdict_fault why = cf__vdict_check_idx(&d, 1, &bad);
    if (why != CF_VDICT_OK) {
      r->p = at;
      if (why == CF_VDICT_UNUSED)
        return fail(r, CF_PROTOCOL, "vers has %u unused versions", bad);
      return fail(r, CF_PROTOCOL, "vidx[%u] = %u is out of order or range", bad,
                  d.idx[bad]);
    }
  }
  unsigned i = 0;
  for (unsigned c = 0; c <= t->ncols; c++)
    if (data & CF_COL_BIT(c)) row->cells[c].ver = *cf__vdict_ver(&d, i++);
  r->table = NULL;
  return CF_OK;
}

static int rd_rows(rd *r, size_t max, cf_frame *f, cf_changes *c) {
  size_t n = 0;
  int rc = rd_array(r, "rows", max, MIN_ROW_BYTES, &n);
  if (rc != CF_OK) return rc;
  cf_row *rows = NULL;
  if (n > 0) {
    rows = cf__malloc(n * sizeof *rows);
    if (rows == NULL) return fail(r, CF_NOMEM, "out of memory for %zu rows", n);
    f->owned = rows;
  }
  r->item = "row";
  for (size_t i = 0; i < n; i++) {
    r->index = i;
    if ((rc = rd_array_of(r, "row", 5)) != CF_OK) return rc;
    if ((rc = rd_row_fields(r, &rows[i])) != CF_OK) return rc;
  }
  r->item = NULL;
  c->rows = rows;
  c->nrows = n;
  return CF_OK;
}

static int rd_changes(rd *r, size_t max, cf_frame *f) {
  size_t n = 0;
  int rc = rd_array(r, "changes", max, MIN_CHANGE_BYTES, &n);
  if (rc != CF_OK) return rc;
  if (n == 0) return fail(r, CF_PROTOCOL, "a PUSH carries at least one change");
  cf_push_change *ch = cf__malloc(n * sizeof *ch);
  if (ch == NULL) return fail(r, CF_NOMEM, "out of memory for %zu changes", n);
  f->owned = ch;
  r->item = "change";
  for (size_t i = 0; i < n; i++) {
    r->index = i;
    if ((rc = rd_array_of(r, "change", 6)) != CF_OK) return rc;
    const unsigned char *at = r->p;
    if ((rc = rd_uint(r, "change id", &ch[i].id)) != CF_OK) return rc;
    if (i > 0 && ch[i].id <= ch[i - 1].id) {
      r->p = at;
      return fail(r, CF_PROTOCOL, "change ids must be strictly increasing");
    }
    if ((rc = rd_row_fields(r, &ch[i].row)) != CF_OK) return rc;
  }
  r->item = NULL;
  f->u.push.changes = ch;
  f->u.push.nchanges = n;
  return CF_OK;
}

static int rd_results(rd *r, size_t max, cf_frame *f) {
  size_t n = 0;
  int rc = rd_array(r, "results", max, MIN_RESULT_BYTES, &n);
  if (rc != CF_OK) return rc;
  if (n == 0) return fail(r, CF_PROTOCOL, "a PUSH_RESULT carries at least one result");
  cf_push_result *res = cf__malloc(n * sizeof *res);
  if (res == NULL) return fail(r, CF_NOMEM, "out of memory for %zu results", n);
  f->owned = res;
  r->item = "result";
  for (size_t i = 0; i < n; i++) {
    uint64_t status = 0, reason = 0;
    r->index = i;
    if ((rc = rd_array_of(r, "result", 4)) != CF_OK) return rc;
    const unsigned char *at = r->p;
    if ((rc = rd_uint(r, "change id", &res[i].change_id)) != CF_OK) return rc;
    if (i > 0 && res[i].change_id <= res[i - 1].change_id) {
      r->p = at;
      return fail(r, CF_PROTOCOL, "change ids must be strictly increasing");
    }
    if ((rc = rd_uint_range(r, "status", 0, CF_PUSH_REJECTED, &status)) != CF_OK)
      return rc;
    at = r->p;
    if ((rc = rd_uint_range(r, "reason", 0, CF_REASON_MAX, &reason)) != CF_OK) return rc;
    if ((status == CF_PUSH_REJECTED) != (reason != 0)) {
      r->p = at;
      return fail(r, CF_PROTOCOL, "reason must be non-zero exactly when rejected");
    }
    res[i].status = (cf_push_status)status;
    res[i].reason = (unsigned)reason;
    if ((rc = rd_text(r, "message", CF_CODEC_MAX_MESSAGE, &res[i].message)) != CF_OK)
      return rc;
  }
  r->item = NULL;
  f->u.push_result.results = res;
  f->u.push_result.nresults = n;
  return CF_OK;
}

static int rd_hello(rd *r, cf_hello *h) {
  uint64_t lo = 0, hi = 0;
  int rc;
  if ((rc = rd_uint_range(r, "proto_min", 1, MAX_PROTO, &lo)) != CF_OK) return rc;
  if ((rc = rd_uint_range(r, "proto_max", lo, MAX_PROTO, &hi)) != CF_OK) return rc;
  h->proto_min = (uint32_t)lo;
  h->proto_max = (uint32_t)hi;
  if ((rc = rd_text(r, "token", CF_CODEC_MAX_TOKEN, &h->token)) != CF_OK) return rc;
  if ((rc = rd_fixed_bin(r, "node", CF_NODE_ID_LEN, h->node.b)) != CF_OK) return rc;
  if ((rc = rd_fixed_bin(r, "org", CF_UUID_LEN, h->org.b)) != CF_OK) return rc;
  if ((rc = rd_fixed_bin(r, "user", CF_UUID_LEN, h->user.b)) != CF_OK) return rc;
  if ((rc = rd_uint(r, "cursor", &h->cursor)) != CF_OK) return rc;
  if ((rc = rd_uint(r, "last_batch", &h->last_batch)) != CF_OK) return rc;
  if ((rc = rd_uint(r, "hlc", &h->hlc)) != CF_OK) return rc;
  return rd_text(r, "software", CF_CODEC_MAX_SOFTWARE, &h->software);
}

static int rd_welcome(rd *r, cf_welcome *w) {
  uint64_t proto = 0;
  int rc;
  if ((rc = rd_uint_range(r, "proto", 1, MAX_PROTO, &proto)) != CF_OK) return rc;
  w->proto = (uint32_t)proto;
  if ((rc = rd_uint(r, "hlc", &w->hlc)) != CF_OK) return rc;
  if ((rc = rd_text(r, "role", CF_CODEC_MAX_ROLE, &w->role)) != CF_OK) return rc;
  if ((rc = rd_uint(r, "head_seq", &w->head_seq)) != CF_OK) return rc;
  if ((rc = rd_uint(r, "last_batch", &w->last_batch)) != CF_OK) return rc;
  if ((rc = rd_uint(r, "max_frame", &w->max_frame_bytes)) != CF_OK) return rc;
  if ((rc = rd_uint(r, "max_batch", &w->max_batch)) != CF_OK) return rc;
  if ((rc = rd_uint(r, "max_page", &w->max_page)) != CF_OK) return rc;
  return rd_int(r, "token_exp", &w->token_exp);
}

/* The fields of frame f->type (the envelope is read). */
static int rd_fields(rd *r, size_t max_rows, cf_frame *f) {
  int rc = CF_OK;
  switch (f->type) {
    case CF_FRAME_HELLO:
      return rd_hello(r, &f->u.hello);
    case CF_FRAME_WELCOME:
      return rd_welcome(r, &f->u.welcome);
    case CF_FRAME_AUTH:
      return rd_text(r, "token", CF_CODEC_MAX_TOKEN, &f->u.auth.token);
    case CF_FRAME_AUTH_OK:
      return rd_int(r, "token_exp", &f->u.auth_ok.token_exp);
    case CF_FRAME_PUSH:
      if ((rc = rd_uint_range(r, "batch_seq", 1, UINT64_MAX, &f->u.push.batch_seq)) !=
          CF_OK)
        return rc;
      return rd_changes(r, max_rows, f);
    case CF_FRAME_PUSH_RESULT:
      if ((rc = rd_uint(r, "batch_seq", &f->u.push_result.batch_seq)) != CF_OK) return rc;
      if ((rc = rd_uint(r, "head_seq", &f->u.push_result.head_seq)) != CF_OK) return rc;
      return rd_results(r, max_rows, f);
    case CF_FRAME_PULL:
      if ((rc = rd_uint(r, "from_seq", &f->u.pull.from_seq)) != CF_OK) return rc;
      return rd_uint_range(r, "limit", 1, CF_CODEC_MAX_ROWS, &f->u.pull.limit);
    case CF_FRAME_CHANGES:
      if ((rc = rd_uint(r, "last_seq", &f->u.changes.last_seq)) != CF_OK) return rc;
      if ((rc = rd_bool(r, "more", &f->u.changes.more)) != CF_OK) return rc;
      if ((rc = rd_uint(r, "head_seq", &f->u.changes.head_seq)) != CF_OK) return rc;
      return rd_rows(r, max_rows, f, &f->u.changes);
    case CF_FRAME_FEED: {
      cf_changes *c = &f->u.feed.changes;
      if ((rc = rd_uint(r, "from_seq", &f->u.feed.from_seq)) != CF_OK) return rc;
      if ((rc = rd_uint(r, "last_seq", &c->last_seq)) != CF_OK) return rc;
      if ((rc = rd_bool(r, "more", &c->more)) != CF_OK) return rc;
      if ((rc = rd_uint(r, "head_seq", &c->head_seq)) != CF_OK) return rc;
      return rd_rows(r, max_rows, f, c);
    }
    case CF_FRAME_CHECKPOINT:
    case CF_FRAME_LIVE:
    case CF_FRAME_REBOOTSTRAP:
      return rd_uint(r, "seq", &f->u.checkpoint.seq);
    case CF_FRAME_PING:
    case CF_FRAME_PONG:
      return rd_uint(r, "nonce", &f->u.ping.nonce);
    case CF_FRAME_ACCESS_REVOKED:
      if ((rc = rd_fixed_bin(r, "org", CF_UUID_LEN, f->u.revoked.org.b)) != CF_OK)
        return rc;
      return rd_text(r, "message", CF_CODEC_MAX_MESSAGE, &f->u.revoked.message);
    case CF_FRAME_ERROR: {
      uint64_t code = 0;
      if ((rc = rd_uint_range(r, "code", 1, CF_WIRE_ERROR_MAX, &code)) != CF_OK)
        return rc;
      f->u.error.code = (unsigned)code;
      return rd_text(r, "message", CF_CODEC_MAX_MESSAGE, &f->u.error.message);
    }
  }
  return fail(r, CF_PROTOCOL, "unknown frame type"); /* NEVER: checked before */
}

int cf__frame_decode(const void *bytes, size_t n, const cf_codec_limits *limits,
                     cf_frame *out, char *errmsg, size_t errmsg_len) {
  size_t max_frame = CF_CODEC_MAX_FRAME, max_rows = CF_CODEC_MAX_ROWS;
  if (limits != NULL) {
    if (limits->max_frame_bytes != 0 && limits->max_frame_bytes < max_frame)
      max_frame = limits->max_frame_bytes;
    if (limits->max_rows != 0 && limits->max_rows < max_rows) max_rows = limits->max_rows;
  }
  const unsigned char *b = bytes;
  rd r = {b, b, b != NULL ? b + n : b, "frame", NULL, 0, NULL, -1, errmsg, errmsg_len};
  uint64_t version = 0, type = 0;
  size_t nelem = 0;
  int rc;
  memset(out, 0, sizeof *out);
  if (errmsg != NULL && errmsg_len > 0) errmsg[0] = '\0';
  if (n > max_frame) {
    r.p = r.end = r.start; /* offsets 0 */
    rc = fail(&r, CF_TOOBIG, "%zu bytes exceed the frame limit of %zu", n, max_frame);
    goto out;
  }
  if (bytes == NULL || n == 0) {
    r.end = r.start;
    rc = fail(&r, CF_PROTOCOL, "empty message");
    goto out;
  }
  if ((rc = rd_array(&r, "frame", 2 + 16, 1, &nelem)) != CF_OK) {
    if (rc == CF_TOOBIG) rc = CF_PROTOCOL; /* not a frame at all */
    goto out;
  }
  if (nelem < 2) {
    rc = fail(&r, CF_PROTOCOL, "a frame needs a version and a type, got %zu elements",
              nelem);
    goto out;
  }
  const unsigned char *at = r.p;
  if ((rc = rd_uint(&r, "protocol version", &version)) != CF_OK) goto out;
  if (version != CF_PROTO_VERSION) {
    r.p = at;
    rc = fail(&r, CF_PROTOCOL, "unsupported protocol version %llu (this build speaks %d)",
              (unsigned long long)version, CF_PROTO_VERSION);
    goto out;
  }
  at = r.p;
  if ((rc = rd_uint(&r, "frame type", &type)) != CF_OK) goto out;
  if (type == 0 || type > CF_FRAME_TYPE_MAX) {
    r.p = at;
    rc = fail(&r, CF_PROTOCOL, "unknown frame type %llu", (unsigned long long)type);
    goto out;
  }
  out->version = (unsigned)version;
  out->type = (cf_frame_type)type;
  r.frame = frame_names[type];
  if (nelem != 2u + frame_nfields[type]) {
    rc = fail(&r, CF_PROTOCOL, "has %zu elements, expected %u", nelem,
              2u + frame_nfields[type]);
    goto out;
  }
  if ((rc = rd_fields(&r, max_rows, out)) != CF_OK) goto out;
  if (r.p != r.end) {
    rc = fail(&r, CF_PROTOCOL, "%zu trailing bytes after the frame", left(&r));
    goto out;
  }
  rc = CF_OK;
out:
  if (rc != CF_OK) cf__frame_free(out);
  return rc;
}

void cf__frame_free(cf_frame *f) {
  if (f == NULL) return;
  cf__free(f->owned);
  memset(f, 0, sizeof *f);
}

/* ==== writing ============================================================= */

/* A packer writing into a cf_buf; rc keeps the first append failure. */
typedef struct wr {
  msgpack_packer pk; /* msgpack-c's packer, calling wr_cb */
  cf_buf *out;       /* where the bytes go */
  int rc;            /* CF_OK, or the first failure of cf__buf_append */
} wr;

static int wr_cb(void *data, const char *buf, size_t len) {
  wr *w = data;
  cf_buf *b = w->out;
  if (w->rc != CF_OK) return -1;
  /* Fast path: room already allocated (cap never exceeds limit + 1, so this
  ** cannot pass the limit); keeps cf_buf's NUL terminator. */
  if (b->p != NULL && len < b->cap - b->len) {
    memcpy(b->p + b->len, buf, len);
    b->len += len;
    b->p[b->len] = '\0';
    return 0;
  }
  int rc = cf__buf_append(b, buf, len);
  if (rc != CF_OK) {
    w->rc = rc;
    return -1;
  }
  return 0;
}

static void wr_init(wr *w, cf_buf *out) {
  w->out = out;
  w->rc = CF_OK;
  msgpack_packer_init(&w->pk, w, wr_cb);
}

/* The msgpack_pack_* results are ignored: the first failure is in w->rc,
** which every encoder returns at the end. */
static void w_uint(wr *w, uint64_t v) { (void)msgpack_pack_uint64(&w->pk, v); }
static void w_int(wr *w, int64_t v) { (void)msgpack_pack_int64(&w->pk, v); }
static void w_array(wr *w, size_t n) { (void)msgpack_pack_array(&w->pk, n); }
static void w_nil(wr *w) { (void)msgpack_pack_nil(&w->pk); }
static void w_bool(wr *w, int b) {
  (void)(b ? msgpack_pack_true(&w->pk) : msgpack_pack_false(&w->pk));
}
static void w_str(wr *w, const void *p, size_t n) {
  (void)msgpack_pack_str(&w->pk, n);
  if (n > 0) (void)msgpack_pack_str_body(&w->pk, p, n);
}
static void w_bin(wr *w, const void *p, size_t n) {
  (void)msgpack_pack_bin(&w->pk, n);
  if (n > 0) (void)msgpack_pack_bin_body(&w->pk, p, n);
}

/* Checks a str(cap) field before writing it. */
static int check_text(const char *p, size_t n, size_t cap) {
  if (n > cap) return CF_TOOBIG;
  if (n > 0 && (p == NULL || !cf__utf8_valid(p, n))) return CF_INVALID;
  return CF_OK;
}

/* The length of a message cut to at most CF_CODEC_MAX_MESSAGE bytes, on a
** UTF-8 character boundary. */
static size_t message_len(const char *p, size_t n) {
  if (n <= CF_CODEC_MAX_MESSAGE || p == NULL) return n;
  n = CF_CODEC_MAX_MESSAGE;
  while (n > 0 && ((unsigned char)p[n] & 0xc0) == 0x80)
    n--;
  return n;
}

/* Writes [version, type] as the start of an array of 2 + nfields. */
static void w_envelope(wr *w, cf_frame_type type) {
  w_array(w, 2u + frame_nfields[type]);
  w_uint(w, CF_PROTO_VERSION);
  w_uint(w, (uint64_t)type);
}

/* Ends an encoder: on failure puts out back to mark. */
static int finish(wr *w, int rc, size_t mark) {
  if (rc == CF_OK) rc = w->rc;
  if (rc != CF_OK) cf__buf_truncate(w->out, mark);
  return rc;
}

/* Checks that row is something the decoder accepts. */
static int check_row(const cf_row *row) {
  const cf_table *t = row->table;
  if (t == NULL || t->number >= CF_SCHEMA_NTABLES || cf__schema_table(t->number) != t)
    return CF_INVALID;
  if ((row->present & ~cf__schema_mask_all(t)) != 0 ||
      (row->present & t->key_mask) != t->key_mask)
    return CF_INVALID;
  for (unsigned c = 0; c <= t->ncols; c++) {
    if (!(row->present & CF_COL_BIT(c))) continue;
    const cf_cell *cell = &row->cells[c];
    const cf_value *v = &cell->value;
    int key = (t->key_mask & CF_COL_BIT(c)) != 0;
    switch (v->kind) {
      case CF_VALUE_NULL:
        break;
      case CF_VALUE_INT:
        break;
      case CF_VALUE_REAL:
        if (!isfinite(v->d)) return CF_INVALID;
        break;
      case CF_VALUE_TEXT:
      case CF_VALUE_BLOB:
        if (v->n > CF_VALUE_MAX_BYTES) return CF_TOOBIG;
        if (v->n > 0 && v->p == NULL) return CF_INVALID;
        break;
      default:
        return CF_INVALID;
    }
    if (key && v->kind != CF_VALUE_TEXT) return CF_INVALID;
    if (c == t->ncols && (v->kind != CF_VALUE_INT || (v->i != 0 && v->i != 1)))
      return CF_INVALID;
    if (!key && cf__ver_is_zero(&cell->ver)) return CF_INVALID;
  }
  return CF_OK;
}

static void w_value(wr *w, const cf_value *v) {
  switch (v->kind) {
    case CF_VALUE_NULL:
      w_nil(w);
      break;
    case CF_VALUE_INT:
      w_int(w, v->i);
      break;
    case CF_VALUE_REAL:
      (void)msgpack_pack_double(&w->pk, v->d);
      break;
    case CF_VALUE_TEXT:
      w_str(w, v->p, v->n);
      break;
    case CF_VALUE_BLOB:
      w_bin(w, v->p, v->n);
      break;
  }
}

/* Writes the ROW fields table, present, values, vers, vidx (no header). */
static int w_row_fields(wr *w, const cf_row *row) {
  int rc = check_row(row);
  if (rc != CF_OK) return rc;
  const cf_table *t = row->table;
  uint64_t data = row->present & ~t->key_mask;
  w_uint(w, t->number);
  w_uint(w, row->present);
  w_array(w, popcount64(row->present));
  for (unsigned c = 0; c <= t->ncols; c++)
    if (row->present & CF_COL_BIT(c)) w_value(w, &row->cells[c].value);

  /* The version dictionary of the versioned cells (core/vdict.h). */
  const cf_ver *cells[CF_ROW_MAX_CELLS];
  unsigned nver = 0;
  for (unsigned c = 0; c <= t->ncols; c++)
    if (data & CF_COL_BIT(c)) cells[nver++] = &row->cells[c].ver;
  cf__vdict d;
  cf__vdict_build(&d, cells, nver);
  w_array(w, d.k);
  for (unsigned j = 0; j < d.k; j++)
    w_bin(w, d.vers[j].b, CF_VER_LEN);
  if (d.k <= 1)
    w_nil(w);
  else
    w_bin(w, d.idx, nver);
  return CF_OK;
}

int cf__codec_put_row(const cf_row *row, cf_buf *body) {
  wr w;
  size_t mark = body->len;
  wr_init(&w, body);
  w_array(&w, 5);
  return finish(&w, w_row_fields(&w, row), mark);
}

int cf__codec_put_change(uint64_t id, const cf_change *change, cf_buf *body) {
  wr w;
  size_t mark = body->len;
  wr_init(&w, body);
  w_array(&w, 6);
  w_uint(&w, id);
  return finish(&w, w_row_fields(&w, change), mark);
}

/* Wraps an encoded body of rows as CHANGES, or FEED with its from_seq. */
static int wrap_page(cf_frame_type type, uint64_t from_seq, uint64_t last_seq, int more,
                     uint64_t head_seq, size_t nrows, const void *body, size_t len,
                     cf_buf *out) {
  wr w;
  size_t mark = out->len;
  if (nrows > CF_CODEC_MAX_ROWS) return CF_TOOBIG;
  if (len > 0 && body == NULL) return CF_MISUSE;
  wr_init(&w, out);
  w_envelope(&w, type);
  if (type == CF_FRAME_FEED) w_uint(&w, from_seq);
  w_uint(&w, last_seq);
  w_bool(&w, more);
  w_uint(&w, head_seq);
  w_array(&w, nrows);
  if (w.rc == CF_OK && len > 0) w.rc = cf__buf_append(out, body, len);
  return finish(&w, CF_OK, mark);
}

int cf__encode_changes_body(uint64_t last_seq, int more, uint64_t head_seq, size_t nrows,
                            const void *body, size_t len, cf_buf *out) {
  return wrap_page(CF_FRAME_CHANGES, 0, last_seq, more, head_seq, nrows, body, len, out);
}

int cf__encode_feed_body(uint64_t from_seq, uint64_t last_seq, int more,
                         uint64_t head_seq, size_t nrows, const void *body, size_t len,
                         cf_buf *out) {
  return wrap_page(CF_FRAME_FEED, from_seq, last_seq, more, head_seq, nrows, body, len,
                   out);
}

int cf__encode_push_body(uint64_t batch_seq, size_t nchanges, const void *body,
                         size_t len, cf_buf *out) {
  wr w;
  size_t mark = out->len;
  if (nchanges > CF_CODEC_MAX_ROWS) return CF_TOOBIG;
  if (batch_seq == 0 || nchanges == 0) return CF_INVALID;
  if (len == 0 || body == NULL) return CF_MISUSE;
  wr_init(&w, out);
  w_envelope(&w, CF_FRAME_PUSH);
  w_uint(&w, batch_seq);
  w_array(&w, nchanges);
  if (w.rc == CF_OK) w.rc = cf__buf_append(out, body, len);
  return finish(&w, CF_OK, mark);
}

void cf__hello_init(cf_hello *h, const char *token, uint32_t proto_max,
                    const char *software) {
  memset(h, 0, sizeof *h);
  h->proto_min = CF_PROTO_MIN;
  h->proto_max = proto_max;
  h->token.p = token;
  h->token.n = token ? strlen(token) : 0;
  h->software.p = software;
  h->software.n = software ? strlen(software) : 0;
}

int cf__encode_hello(const cf_hello *h, cf_buf *out) {
  wr w;
  size_t mark = out->len;
  int rc;
  if (h->proto_min < 1 || h->proto_max < h->proto_min || h->proto_max > MAX_PROTO)
    return CF_INVALID;
  if ((rc = check_text(h->token.p, h->token.n, CF_CODEC_MAX_TOKEN)) != CF_OK) return rc;
  if ((rc = check_text(h->software.p, h->software.n, CF_CODEC_MAX_SOFTWARE)) != CF_OK)
    return rc;
  wr_init(&w, out);
  w_envelope(&w, CF_FRAME_HELLO);
  w_uint(&w, h->proto_min);
  w_uint(&w, h->proto_max);
  w_str(&w, h->token.p, h->token.n);
  w_bin(&w, h->node.b, CF_NODE_ID_LEN);
  w_bin(&w, h->org.b, CF_UUID_LEN);
  w_bin(&w, h->user.b, CF_UUID_LEN);
  w_uint(&w, h->cursor);
  w_uint(&w, h->last_batch);
  w_uint(&w, h->hlc);
  w_str(&w, h->software.p, h->software.n);
  return finish(&w, CF_OK, mark);
}

int cf__encode_welcome(const cf_welcome *wl, cf_buf *out) {
  wr w;
  size_t mark = out->len;
  int rc;
  if (wl->proto < 1 || wl->proto > MAX_PROTO) return CF_INVALID;
  if ((rc = check_text(wl->role.p, wl->role.n, CF_CODEC_MAX_ROLE)) != CF_OK) return rc;
  wr_init(&w, out);
  w_envelope(&w, CF_FRAME_WELCOME);
  w_uint(&w, wl->proto);
  w_uint(&w, wl->hlc);
  w_str(&w, wl->role.p, wl->role.n);
  w_uint(&w, wl->head_seq);
  w_uint(&w, wl->last_batch);
  w_uint(&w, wl->max_frame_bytes);
  w_uint(&w, wl->max_batch);
  w_uint(&w, wl->max_page);
  w_int(&w, wl->token_exp);
  return finish(&w, CF_OK, mark);
}

int cf__encode_auth(const cf_auth_frame *a, cf_buf *out) {
  wr w;
  size_t mark = out->len;
  int rc = check_text(a->token.p, a->token.n, CF_CODEC_MAX_TOKEN);
  if (rc != CF_OK) return rc;
  wr_init(&w, out);
  w_envelope(&w, CF_FRAME_AUTH);
  w_str(&w, a->token.p, a->token.n);
  return finish(&w, CF_OK, mark);
}

int cf__encode_auth_ok(const cf_auth_ok *a, cf_buf *out) {
  wr w;
  size_t mark = out->len;
  wr_init(&w, out);
  w_envelope(&w, CF_FRAME_AUTH_OK);
  w_int(&w, a->token_exp);
  return finish(&w, CF_OK, mark);
}

int cf__encode_push(const cf_push *p, cf_buf *out) {
  wr w;
  size_t mark = out->len;
  int rc = CF_OK;
  if (p->nchanges > CF_CODEC_MAX_ROWS) return CF_TOOBIG;
  if (p->batch_seq == 0 || p->nchanges == 0 || p->changes == NULL) return CF_INVALID;
  wr_init(&w, out);
  w_envelope(&w, CF_FRAME_PUSH);
  w_uint(&w, p->batch_seq);
  w_array(&w, p->nchanges);
  for (size_t i = 0; i < p->nchanges && rc == CF_OK && w.rc == CF_OK; i++) {
    const cf_push_change *c = &p->changes[i];
    if (i > 0 && c->id <= p->changes[i - 1].id) {
      rc = CF_INVALID;
      break;
    }
    w_array(&w, 6);
    w_uint(&w, c->id);
    rc = w_row_fields(&w, &c->row);
  }
  return finish(&w, rc, mark);
}

int cf__encode_push_result(const cf_push_reply *r, cf_buf *out) {
  wr w;
  size_t mark = out->len;
  int rc = CF_OK;
  if (r->nresults > CF_CODEC_MAX_ROWS) return CF_TOOBIG;
  if (r->nresults == 0 || r->results == NULL) return CF_INVALID;
  for (size_t i = 0; i < r->nresults; i++) {
    const cf_push_result *x = &r->results[i];
    if ((i > 0 && x->change_id <= r->results[i - 1].change_id) ||
        (unsigned)x->status > CF_PUSH_REJECTED || x->reason > CF_REASON_MAX ||
        ((x->status == CF_PUSH_REJECTED) != (x->reason != 0)))
      return CF_INVALID;
    size_t n = message_len(x->message.p, x->message.n);
    if ((rc = check_text(x->message.p, n, CF_CODEC_MAX_MESSAGE)) != CF_OK) return rc;
  }
  wr_init(&w, out);
  w_envelope(&w, CF_FRAME_PUSH_RESULT);
  w_uint(&w, r->batch_seq);
  w_uint(&w, r->head_seq);
  w_array(&w, r->nresults);
  for (size_t i = 0; i < r->nresults && w.rc == CF_OK; i++) {
    const cf_push_result *x = &r->results[i];
    w_array(&w, 4);
    w_uint(&w, x->change_id);
    w_uint(&w, (uint64_t)x->status);
    w_uint(&w, x->reason);
    w_str(&w, x->message.p, message_len(x->message.p, x->message.n));
  }
  return finish(&w, CF_OK, mark);
}

int cf__encode_pull(const cf_pull *p, cf_buf *out) {
  wr w;
  size_t mark = out->len;
  if (p->limit < 1 || p->limit > CF_CODEC_MAX_ROWS) return CF_INVALID;
  wr_init(&w, out);
  w_envelope(&w, CF_FRAME_PULL);
  w_uint(&w, p->from_seq);
  w_uint(&w, p->limit);
  return finish(&w, CF_OK, mark);
}

/* A page of rows: CHANGES, or FEED with its from_seq first. */
static int encode_page(cf_frame_type type, uint64_t from_seq, const cf_changes *c,
                       cf_buf *out) {
  wr w;
  size_t mark = out->len;
  int rc = CF_OK;
  if (c->nrows > CF_CODEC_MAX_ROWS) return CF_TOOBIG;
  if (c->nrows > 0 && c->rows == NULL) return CF_INVALID;
  wr_init(&w, out);
  w_envelope(&w, type);
  if (type == CF_FRAME_FEED) w_uint(&w, from_seq);
  w_uint(&w, c->last_seq);
  w_bool(&w, c->more);
  w_uint(&w, c->head_seq);
  w_array(&w, c->nrows);
  for (size_t i = 0; i < c->nrows && rc == CF_OK && w.rc == CF_OK; i++) {
    w_array(&w, 5);
    rc = w_row_fields(&w, &c->rows[i]);
  }
  return finish(&w, rc, mark);
}

int cf__encode_changes(const cf_changes *c, cf_buf *out) {
  return encode_page(CF_FRAME_CHANGES, 0, c, out);
}

int cf__encode_feed(const cf_feed *f, cf_buf *out) {
  return encode_page(CF_FRAME_FEED, f->from_seq, &f->changes, out);
}

int cf__encode_seq(cf_frame_type type, uint64_t seq, cf_buf *out) {
  wr w;
  size_t mark = out->len;
  if (type != CF_FRAME_CHECKPOINT && type != CF_FRAME_LIVE &&
      type != CF_FRAME_REBOOTSTRAP && type != CF_FRAME_PING && type != CF_FRAME_PONG)
    return CF_MISUSE;
  wr_init(&w, out);
  w_envelope(&w, type);
  w_uint(&w, seq);
  return finish(&w, CF_OK, mark);
}

int cf__encode_revoked(const cf_revoked *r, cf_buf *out) {
  wr w;
  size_t mark = out->len;
  size_t n = message_len(r->message.p, r->message.n);
  int rc = check_text(r->message.p, n, CF_CODEC_MAX_MESSAGE);
  if (rc != CF_OK) return rc;
  wr_init(&w, out);
  w_envelope(&w, CF_FRAME_ACCESS_REVOKED);
  w_bin(&w, r->org.b, CF_UUID_LEN);
  w_str(&w, r->message.p, n);
  return finish(&w, CF_OK, mark);
}

int cf__encode_error(unsigned code, const char *message, size_t len, cf_buf *out) {
  wr w;
  size_t mark = out->len;
  if (code < 1 || code > CF_WIRE_ERROR_MAX) return CF_INVALID;
  size_t n = message_len(message, len);
  int rc = check_text(message, n, CF_CODEC_MAX_MESSAGE);
  if (rc != CF_OK) return rc;
  wr_init(&w, out);
  w_envelope(&w, CF_FRAME_ERROR);
  w_uint(&w, code);
  w_str(&w, message, n);
  return finish(&w, CF_OK, mark);
}

int cf__frame_encode(const cf_frame *f, cf_buf *out) {
  switch (f->type) {
    case CF_FRAME_HELLO:
      return cf__encode_hello(&f->u.hello, out);
    case CF_FRAME_WELCOME:
      return cf__encode_welcome(&f->u.welcome, out);
    case CF_FRAME_AUTH:
      return cf__encode_auth(&f->u.auth, out);
    case CF_FRAME_AUTH_OK:
      return cf__encode_auth_ok(&f->u.auth_ok, out);
    case CF_FRAME_PUSH:
      return cf__encode_push(&f->u.push, out);
    case CF_FRAME_PUSH_RESULT:
      return cf__encode_push_result(&f->u.push_result, out);
    case CF_FRAME_PULL:
      return cf__encode_pull(&f->u.pull, out);
    case CF_FRAME_CHANGES:
      return cf__encode_changes(&f->u.changes, out);
    case CF_FRAME_CHECKPOINT:
    case CF_FRAME_LIVE:
    case CF_FRAME_REBOOTSTRAP:
      return cf__encode_seq(f->type, f->u.checkpoint.seq, out);
    case CF_FRAME_PING:
    case CF_FRAME_PONG:
      return cf__encode_seq(f->type, f->u.ping.nonce, out);
    case CF_FRAME_ACCESS_REVOKED:
      return cf__encode_revoked(&f->u.revoked, out);
    case CF_FRAME_ERROR:
      return cf__encode_error(f->u.error.code, f->u.error.message.p, f->u.error.message.n,
                              out);
    case CF_FRAME_FEED:
      return cf__encode_feed(&f->u.feed, out);
  }
  return CF_MISUSE;
}

/* ==== names =============================================================== */

const char *cf__frame_type_name(unsigned type) {
  return type <= CF_FRAME_TYPE_MAX ? frame_names[type] : "?";
}

const char *cf__wire_error_name(unsigned code) {
  switch (code) {
    case CF_WIRE_PROTOCOL:
      return "protocol";
    case CF_WIRE_TOO_BIG:
      return "too_big";
    case CF_WIRE_VERSION:
      return "version";
    case CF_WIRE_AUTH:
      return "auth";
    case CF_WIRE_TOKEN_EXPIRED:
      return "token_expired";
    case CF_WIRE_FORBIDDEN:
      return "forbidden";
    case CF_WIRE_CLOCK_SKEW:
      return "clock_skew";
    case CF_WIRE_STATE:
      return "state";
    case CF_WIRE_BUSY:
      return "busy";
    case CF_WIRE_SHUTDOWN:
      return "shutdown";
    case CF_WIRE_INTERNAL:
      return "internal";
  }
  return "unknown";
}

int cf__wire_error_result(unsigned code) {
  switch (code) {
    case CF_WIRE_PROTOCOL:
    case CF_WIRE_VERSION:
    case CF_WIRE_STATE:
      return CF_PROTOCOL;
    case CF_WIRE_TOO_BIG:
      return CF_TOOBIG;
    case CF_WIRE_AUTH:
    case CF_WIRE_TOKEN_EXPIRED:
      return CF_AUTH;
    case CF_WIRE_FORBIDDEN:
      return CF_PERMISSION;
    case CF_WIRE_CLOCK_SKEW:
      return CF_CLOCK_SKEW;
    case CF_WIRE_BUSY:
    case CF_WIRE_SHUTDOWN:
      return CF_BUSY;
  }
  return CF_ERROR;
}

int cf__frame_from_client(unsigned type) {
  switch (type) {
    case CF_FRAME_HELLO:
    case CF_FRAME_AUTH:
    case CF_FRAME_PUSH:
    case CF_FRAME_PULL:
    case CF_FRAME_ERROR:
    case CF_FRAME_PING:
    case CF_FRAME_PONG:
      return 1;
  }
  return 0;
}

int cf__frame_from_server(unsigned type) {
  if (type < 1 || type > CF_FRAME_TYPE_MAX) return 0;
  switch (type) {
    case CF_FRAME_HELLO:
    case CF_FRAME_AUTH:
    case CF_FRAME_PUSH:
    case CF_FRAME_PULL:
      return 0;
  }
  return 1;
}
