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
*/
#ifndef CF_JSON_H
#define CF_JSON_H

#include <stddef.h>

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

#endif /* CF_JSON_H */
