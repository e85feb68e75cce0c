/*
** core/value.h: the tagged value type and the canonical encodings (internal).
** Design: docs/sync.md, "Canonical values".
**
** A cf_value is what one cell holds: NULL, a 64-bit integer, a double, text
** or a blob.  It never owns its bytes: text and blob point into memory that
** the caller keeps alive (a SQLite column, a decoded frame, a cf_buf).
**
** Every value is stored, compared, versioned and sent in the canonical form
** of its column's type, so the same row encodes to the same bytes on every
** node:
**
**   column type    kind   canonical form
**   uuid           TEXT   lowercase 8-4-4-4-12
**   text           TEXT   valid UTF-8 without NUL, as given
**   integer        INT    -2147483648..2147483647
**   bigint         INT    int64
**   numeric(p,s)   TEXT   exact decimal, exactly s fraction digits, at most
**                         p-s integer digits, no exponent, no '+', no leading
**                         zeros, "-" only if non-zero ("-0.00" -> "0.00");
**                         more fraction digits are rounded half away from
**                         zero, as Postgres does; never through a double
**   boolean        INT    0 or 1
**   date           TEXT   YYYY-MM-DD (years 0001..9999)
**   timestamptz    TEXT   YYYY-MM-DDTHH:MM:SS.ffffffZ, UTC, 6 fraction digits
**   jsonb          TEXT   canonical JSON (core/json.h)
**   text[]         TEXT   canonical JSON array of strings, e.g. ["a","b"]
**   any, NULL      NULL
**
** The canonicalisers accept the forms apps and Postgres produce (see each
** function) and are idempotent: canon(canon(x)) == canon(x).
**
** Values also have one total order (cf__value_cmp), used by the merge to
** break ties between two different values written with the same version:
** NULL < INT < REAL < TEXT < BLOB; integers by value; doubles by value with
** -0.0 < +0.0 (NaN is refused everywhere); text bytewise (memcmp, then the
** shorter first); blobs by length, then bytewise.  It equals the bytewise
** order of cf__value_encode.
*/
#ifndef CF_VALUE_H
#define CF_VALUE_H

#include <stddef.h>
#include <stdint.h>

#include "clientflow.h"
#include "core/buf.h"
#include "core/schema.h"
#include "core/utf8.h" /* cf__utf8_valid, used with text values */

/* What a value holds. */
typedef enum cf_value_kind {
  CF_VALUE_NULL = 0, /* SQL NULL */
  CF_VALUE_INT = 1,  /* 64-bit signed integer in i */
  CF_VALUE_REAL = 2, /* finite double in d */
  CF_VALUE_TEXT = 3, /* UTF-8 text in p[0..n) (not necessarily NUL-ended) */
  CF_VALUE_BLOB = 4  /* bytes in p[0..n) */
} cf_value_kind;

/* One value.  Borrowed: p is owned by whoever made the value. */
typedef struct cf_value {
  cf_value_kind kind; /* which of the fields below is meaningful */
  int64_t i;          /* CF_VALUE_INT */
  double d;           /* CF_VALUE_REAL */
  const char *p;      /* CF_VALUE_TEXT, CF_VALUE_BLOB: the bytes */
  size_t n;           /* CF_VALUE_TEXT, CF_VALUE_BLOB: their length */
} cf_value;

/* Most bytes of one text, jsonb, text[] or blob value: 1 MiB. */
#define CF_VALUE_MAX_BYTES ((size_t)1 << 20)
/* Room for fixed-size canonical texts, NUL included. */
#define CF_TIMESTAMP_TEXT_LEN 28 /* 2026-11-28T16:00:00.123456Z */
#define CF_DATE_TEXT_LEN 11      /* 2026-11-28 */
#define CF_NUMERIC_MAX_PRECISION 38
#define CF_NUMERIC_TEXT_LEN 42 /* '-', 38 digits, '.', NUL */
#define CF_DOUBLE_TEXT_LEN 32  /* shortest round-trip text of a double */
/* Microseconds of 0001-01-01T00:00:00Z and of 9999-12-31T23:59:59.999999Z. */
#define CF_TIMESTAMP_MIN_US ((int64_t)-62135596800000000LL)
#define CF_TIMESTAMP_MAX_US ((int64_t)253402300799999999LL)

/* Value constructors (no allocation; text/blob borrow p). */
static inline cf_value cf__value_null(void) {
  cf_value v = {CF_VALUE_NULL, 0, 0.0, NULL, 0};
  return v;
}
static inline cf_value cf__value_int(int64_t i) {
  cf_value v = {CF_VALUE_INT, i, 0.0, NULL, 0};
  return v;
}
static inline cf_value cf__value_real(double d) {
  cf_value v = {CF_VALUE_REAL, 0, d, NULL, 0};
  return v;
}
static inline cf_value cf__value_text(const char *p, size_t n) {
  cf_value v = {CF_VALUE_TEXT, 0, 0.0, p, n};
  return v;
}
static inline cf_value cf__value_blob(const void *p, size_t n) {
  cf_value v = {CF_VALUE_BLOB, 0, 0.0, (const char *)p, n};
  return v;
}

/*
** Canonicalises in for column col.  OUT: *out, the canonical value: NULL, an
** INT, or TEXT whose bytes are written to text (reset first) and pointed to
** by out->p -- valid until text is next changed or freed; in must not point
** into text (CF_MISUSE: canonicalise into a second buffer).  Accepted inputs:
** NULL (CF_CONSTRAINT if the column is NOT NULL); for integer types an INT, a
** REAL with an integral value, or decimal TEXT; for boolean INT 0/1 or the
** Postgres words (t, f, true, false, yes, no, on, off, 1, 0, any case);
** for numeric an INT, a REAL (through its shortest round-trip text) or TEXT;
** for the text-based types TEXT (see the functions below).  CF_OK;
** CF_INVALID for a value the type cannot hold (with the column unchanged);
** CF_TOOBIG past CF_VALUE_MAX_BYTES; CF_NOMEM.
*/
int cf__value_canon(const cf_column *col, const cf_value *in, cf_buf *text,
                    cf_value *out) CF_WARN_UNUSED;

/*
** Whether v is already canonical for col: what cf__value_canon(col, v)
** returns with CF_OK, value for value (cf__value_equal).  For the checks of
** remote rows, which are canonical when they are honest: uuid, text and
** integer columns are checked without making the canonical copy; other
** types are canonicalised into text (reset, as cf__value_canon) and
** compared.  CF_OK with *yes 0 or 1; CF_NOMEM.  A NULL counts as canonical
** only for a nullable column (cf__value_canon answers CF_CONSTRAINT for the
** others).
*/
int cf__value_is_canon(const cf_column *col, const cf_value *v, cf_buf *text,
                       int *yes) CF_WARN_UNUSED;

/*
** The replica's insert default for col.  OUT: *out (static storage for
** text).  CF_OK with the value for CF_DEFAULT_CONST (INT for integer and
** boolean columns, TEXT otherwise) and NULL for a nullable column without a
** default; CF_NOTFOUND if the caller must make it (UUIDV7, ORG, NOW);
** CF_CONSTRAINT if the column is NOT NULL without a default (it must be given).
*/
int cf__column_default(const cf_column *col, cf_value *out) CF_WARN_UNUSED;

/* Orders values (see the file comment): <0, 0, >0. */
int cf__value_cmp(const cf_value *a, const cf_value *b);

/* Non-zero if a and b are the same value (cf__value_cmp == 0). */
int cf__value_equal(const cf_value *a, const cf_value *b);

/*
** Appends the canonical byte form of v to out, whose bytewise order is
** cf__value_cmp's order and which the row encoding uses:
**   NULL  0x00
**   INT   0x01, 8 bytes big-endian of (i XOR 2^63)
**   REAL  0x02, 8 bytes big-endian of the IEEE bits, sign-flipped for order
**   TEXT  0x03, the bytes, 0x00 (text has no NUL)
**   BLOB  0x04, 4 bytes big-endian length, the bytes
** CF_OK, CF_TOOBIG, CF_NOMEM.
*/
int cf__value_encode(const cf_value *v, cf_buf *out) CF_WARN_UNUSED;

/* --- the canonicalisers of the text-based types ---------------------------
** Each takes s[0..n) and returns CF_OK or CF_INVALID (out undefined then).
*/

/* uuid: strict 8-4-4-4-12 hex, either case (core/uuid.h) -> lowercase. */
int cf__canon_uuid(const char *s, size_t n, char out[37]) CF_WARN_UNUSED;

/*
** timestamptz.  Accepts YYYY-MM-DD, then 'T', 't' or ' ', then HH:MM or
** HH:MM:SS with an optional fraction of 1..9 digits (rounded half up to
** microseconds), then an optional zone: 'Z'/'z', or +hh, +hhmm, +hh:mm,
** +hh:mm:ss (or '-'), optionally after one space (Postgres prints
** '2026-11-28 16:00:00.123+00'), then an optional " BC" (Postgres's form for
** local years before 1 AD).  No zone means UTC.  The instant must fall within
** years 0001..9999 UTC after applying the offset.  24:00:00 is refused.
*/
int cf__canon_timestamptz(const char *s, size_t n,
                          char out[CF_TIMESTAMP_TEXT_LEN]) CF_WARN_UNUSED;
/* Parses as cf__canon_timestamptz into microseconds since the epoch (UTC). */
int cf__timestamp_parse(const char *s, size_t n, int64_t *us) CF_WARN_UNUSED;
/* Canonical text of us microseconds since the epoch.  CF_OK, or CF_INVALID
** outside CF_TIMESTAMP_MIN_US..CF_TIMESTAMP_MAX_US. */
int cf__timestamp_format(int64_t us, char out[CF_TIMESTAMP_TEXT_LEN]) CF_WARN_UNUSED;

/* date: YYYY-MM-DD with a real day of a real month (leap years: Gregorian),
** years 0001..9999. */
int cf__canon_date(const char *s, size_t n, char out[CF_DATE_TEXT_LEN]) CF_WARN_UNUSED;

/*
** numeric(precision, scale): optional sign, digits with an optional '.'
** (at least one digit overall), optional exponent e/E[+-]digits (|exp| <=
** 1000), surrounding ASCII spaces allowed.  Rounded half away from zero to
** scale digits; CF_INVALID if the rounded value needs more than
** precision - scale integer digits, or for NaN/Infinity.  precision must be
** 1..CF_NUMERIC_MAX_PRECISION and scale <= precision, else CF_MISUSE.
*/
int cf__canon_numeric(const char *s, size_t n, unsigned precision, unsigned scale,
                      char out[CF_NUMERIC_TEXT_LEN]) CF_WARN_UNUSED;

/* boolean from text (see cf__value_canon).  OUT: *out 0 or 1. */
int cf__canon_bool_text(const char *s, size_t n, int *out) CF_WARN_UNUSED;

/* integer/bigint from decimal text (optional sign, digits, surrounding
** spaces), range-checked against [min, max].  OUT: *out. */
int cf__canon_int_text(const char *s, size_t n, int64_t min, int64_t max,
                       int64_t *out) CF_WARN_UNUSED;

/*
** text[]: either a JSON array of strings ('["a","b c"]', any whitespace) or a
** one-dimensional Postgres array literal ('{a,"b c",""}', as Postgres prints
** text[]).  NULL elements, nested arrays and non-string JSON elements are
** refused.  Appends nothing on failure; on success out is reset and holds the
** canonical JSON array.  CF_OK, CF_INVALID, CF_TOOBIG, CF_NOMEM.
*/
int cf__canon_text_array(const char *s, size_t n, cf_buf *out) CF_WARN_UNUSED;

/* The Postgres array literal of a canonical text[] value (for the master):
** '{"a","b c"}' with every element quoted and '"' and '\' escaped.  out is
** reset first.  CF_OK, CF_INVALID, CF_TOOBIG, CF_NOMEM. */
int cf__text_array_to_pg(const char *canon, size_t n, cf_buf *out) CF_WARN_UNUSED;

/* --- doubles -------------------------------------------------------------- */

/* The shortest decimal text (%.15g, %.16g or %.17g) that strtod reads back
** as exactly d.  CF_OK, or CF_INVALID for NaN and infinities. */
int cf__double_format(double d, char out[CF_DOUBLE_TEXT_LEN]) CF_WARN_UNUSED;

/* Parses a finite double from s[0..n) (strtod syntax, no hex, no inf/nan,
** whole string).  CF_OK or CF_INVALID. */
int cf__double_parse(const char *s, size_t n, double *out) CF_WARN_UNUSED;

#endif /* CF_VALUE_H */
