/*
** core/json.h: a small bounded JSON parser and canonical serializer
** (internal).  Design: docs/sync.md, "Canonical JSON".
**
** jsonb and text[] values are kept as canonical JSON text, so that equal
** values are equal bytes on every node and in the master:
**
**  - no insignificant whitespace;
**  - object keys sorted bytewise (memcmp of their UTF-8 bytes, shorter first
**    on a common prefix); for duplicate keys the last one wins (as jsonb);
**  - strings with minimal escaping: only '"', '\' and the control characters
**    U+0000..U+001F are escaped, as \" \\ \b \f \n \r \t or \u00xx (lowercase
**    hex); everything else, including non-ASCII, is raw UTF-8; \uXXXX escapes
**    in the input (surrogate pairs too) are decoded; lone surrogates and
**    \u0000 are refused (Postgres jsonb refuses them too);
**  - numbers as exact decimals without exponent: no '+', no leading zeros,
**    no trailing fraction zeros, no "." without fraction, "-" only if
**    non-zero; so 1e2, 100 and 100.0 all give 100 and 1.50 gives 1.5.
**    Numbers never pass through a double;
**  - true, false, null as themselves.
**
** So canon(canon(x)) == canon(x), and canon of Postgres's jsonb output of x
** equals canon(x) (Postgres prints ", " and ": ", its own key order and
** numerics with their input scale).
**
** Bounds: input at most CF_JSON_MAX_INPUT bytes, nesting at most
** CF_JSON_MAX_DEPTH arrays/objects, a number's decimal exponent within
** +-CF_JSON_MAX_EXPONENT and at most CF_JSON_MAX_NUMBER_DIGITS digits once
** written out; output bounded by the caller's cf_buf limit.
**
** The second half is a reader for documents whose members the caller picks
** out instead of canonicalising (JWT headers and payloads, JWK Sets in
** sync/auth/): cf__json_read() checks a whole document once, strictly
** (RFC 8259, UTF-8), within the caller's cf_json_limits, and returns the
** root as a span of the text; the walkers then go through spans of that
** checked text without allocating.  Usage:
**
**   cf_json_val root, v[2];
**   static const char *const names[] = {"alg", "kid"};
**   if (cf__json_read(s, n, &limits, &root) != CF_OK) ...    malformed
**   if (root.type != CF_JSON_T_OBJECT) ...
**   if (cf__json_object_pick(&root, names, 2, v) != CF_OK) ... duplicate
**   if (v[0].type == CF_JSON_T_STRING)
**     rc = cf__json_string_get(&v[0], alg, sizeof alg, &alg_len);
*/
#ifndef CF_JSON_H
#define CF_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "clientflow.h"
#include "core/buf.h"

#define CF_JSON_MAX_INPUT ((size_t)1 << 20)
#define CF_JSON_MAX_DEPTH 64
#define CF_JSON_MAX_EXPONENT 1000
#define CF_JSON_MAX_NUMBER_DIGITS 1100

/* What the top-level value must be. */
typedef enum cf_json_expect {
  CF_JSON_ANY = 0,             /* any JSON value (jsonb) */
  CF_JSON_OBJECT = 1,          /* an object */
  CF_JSON_ARRAY_OF_STRINGS = 2 /* an array whose elements are all strings */
} cf_json_expect;

/*
** Canonicalises the JSON text s[0..n) (one value, optional surrounding
** whitespace, UTF-8 without BOM) and APPENDS its canonical form to out.
** CF_OK; CF_INVALID for malformed JSON or a top-level value that is not what
** expect asks for; CF_TOOBIG past a bound above or out's limit; CF_NOMEM.
** On failure out is restored to its length on entry.  Allocations are
** temporary (freed before returning).
*/
int cf__json_canon(const char *s, size_t n, cf_json_expect expect,
                   cf_buf *out) CF_WARN_UNUSED;

/* Appends s[0..n) (valid UTF-8, checked) as a canonical JSON string, quotes
** included.  CF_OK, CF_INVALID (bad UTF-8 or a NUL), CF_TOOBIG, CF_NOMEM. */
int cf__json_quote(const char *s, size_t n, cf_buf *out) CF_WARN_UNUSED;

/*
** Iterates over the strings of a canonical array of strings (as produced by
** cf__json_canon with CF_JSON_ARRAY_OF_STRINGS).  Start with *pos = 0; each
** call decodes the next element into elem (reset first) and returns CF_OK,
** CF_DONE after the last, CF_INVALID if s is not such an array, or
** CF_TOOBIG/CF_NOMEM from elem.
*/
int cf__json_string_array_next(const char *s, size_t n, size_t *pos,
                               cf_buf *elem) CF_WARN_UNUSED;

/* ---- the reader ------------------------------------------------------------ */

/* What a value is. */
typedef enum cf_json_type {
  CF_JSON_T_NULL = 0,
  CF_JSON_T_FALSE,
  CF_JSON_T_TRUE,
  CF_JSON_T_NUMBER,
  CF_JSON_T_STRING,
  CF_JSON_T_ARRAY,
  CF_JSON_T_OBJECT
} cf_json_type;

/* One value: a span of a document cf__json_read accepted.  Valid as long as
** that document's text is. */
typedef struct cf_json_val {
  const char *p;     /* its text (a string with its quotes), NULL for absent */
  size_t n;          /* bytes of the text */
  cf_json_type type; /* what it is */
} cf_json_val;

/* Bounds cf__json_read enforces; each one past is CF_TOOBIG. */
typedef struct cf_json_limits {
  int max_depth;     /* arrays and objects open at once, the root counting 1
                     ** (never more than CF_JSON_MAX_DEPTH) */
  int max_arrays;    /* of which arrays */
  size_t max_name;   /* bytes of one member name as written (escapes undecoded) */
  size_t max_path;   /* bytes of a member's path written as a.b[].c */
  size_t max_number; /* bytes of one number as written */
} cf_json_limits;

/* Longest member name cf__json_object_pick can look for. */
#define CF_JSON_PICK_NAME_MAX 64

/*
** Checks that s[0..n) is one JSON value (optional surrounding whitespace)
** within lim, and OUT: *root, the value (a span of s).  Strings must be UTF-8;
** escaped NULs (\u0000) are accepted here, so callers that decode strings
** with cf__json_string_get see them and decide.  Duplicate member names are
** not looked for here (cf__json_object_pick refuses the ones it is asked for).
** CF_OK; CF_INVALID for malformed JSON; CF_TOOBIG past a bound or
** CF_JSON_MAX_INPUT.  Allocates nothing.
*/
int cf__json_read(const char *s, size_t n, const cf_json_limits *lim,
                  cf_json_val *root) CF_WARN_UNUSED;

/*
** Walk the members of an object or the items of an array that came from
** cf__json_read (or from these walkers).  Start with *pos = 0; each call
** OUT: the next member's name (a string value) and value, or item.  CF_OK,
** CF_DONE after the last, CF_INVALID if the value is not of that type.
*/
int cf__json_object_next(const cf_json_val *obj, size_t *pos, cf_json_val *name,
                         cf_json_val *value) CF_WARN_UNUSED;
int cf__json_array_next(const cf_json_val *arr, size_t *pos,
                        cf_json_val *item) CF_WARN_UNUSED;

/*
** Finds the members of obj called names[0..count) (each at most
** CF_JSON_PICK_NAME_MAX bytes; names compare after decoding escapes).
** OUT: found[i], the value of names[i], or p == NULL if absent.  CF_OK;
** CF_INVALID if obj is not an object or has one of the names twice.
*/
int cf__json_object_pick(const cf_json_val *obj, const char *const *names, int count,
                         cf_json_val *found) CF_WARN_UNUSED;

/*
** Decodes the string value str into dst[0..cap) and NUL-terminates it.
** OUT: *len, the decoded length (the text may itself hold NULs from
** \u0000).  CF_OK; CF_TOOBIG if it needs more than cap - 1 bytes; CF_INVALID
** if str is not a string.
*/
int cf__json_string_get(const cf_json_val *str, char *dst, size_t cap,
                        size_t *len) CF_WARN_UNUSED;

/* OUT: *out, the value of num if it is an integer written with digits only
** (no sign, fraction or exponent) and at most max.  CF_OK or CF_INVALID. */
int cf__json_uint(const cf_json_val *num, uint64_t max, uint64_t *out) CF_WARN_UNUSED;

#endif /* CF_JSON_H */
