/*
** tests/fuzz/fuzz_json_canon.c: libFuzzer target for the canonicalisers of
** jsonb/text[] values (core/json.h, cf__json_canon) and of every column
** type (core/value.h, cf__value_canon).  Design: docs/sync.md, "Canonical
** JSON" and "Canonical values"; fuzzing in docs/testing.md, "Fuzzing".
**
** Input (tests/fuzz/fuzz_inputs.h): byte 0 picks the mode.
**
** JSON mode (byte 0 < 3, the cf_json_expect): canonicalises the rest and
** proves, whenever it is accepted:
**  - idempotence: canon(canon(x)) == canon(x) byte for byte, under the
**    same expectation;
**  - the output is non-empty valid UTF-8 without NUL;
**  - for an array of strings, cf__json_string_array_next walks the
**    canonical text to CF_DONE and quoting its elements again
**    (cf__json_quote) rebuilds exactly the canonical text;
**  - a refusal leaves the output buffer as it was.
**
** Value mode (byte 0 >= 3): column (byte 0 - 3) of fuzz_value_column()
** (every column of the schema, and a few extra types and numeric
** precisions), kind byte 1 % 5, payload the rest; proves whenever
** cf__value_canon accepts it:
**  - idempotence: canon(canon(v)) is accepted and equals canon(v) (same
**    kind, same bytes);
**  - the canonical value has the column's kind (INT for integer types and
**    boolean, TEXT otherwise, NULL only for NULL input), boolean is 0/1,
**    integer fits int32, text is valid UTF-8;
** and that a refusal is CF_INVALID, CF_CONSTRAINT (NULL in a NOT NULL
** column) or CF_TOOBIG; and that cf__value_is_canon(v) says yes exactly when
** canon(v) is accepted and equals v.  ASan and UBSan watch every step.
*/
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clientflow.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/value.h"
#include "fuzz_inputs.h"

#define OUT_LIMIT ((size_t)8 << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *detail) {
  fprintf(stderr, "fuzz_json_canon: %s%s%s\n", what, detail ? ": " : "",
          detail ? detail : "");
  abort();
}

/* Rebuilds a canonical array of strings from its elements. */
static void check_string_array(const cf_buf *canon) {
  cf_buf elem, rebuilt;
  size_t pos = 0;
  int rc, first = 1;
  cf__buf_init(&elem, OUT_LIMIT);
  cf__buf_init(&rebuilt, OUT_LIMIT);
  if (cf__buf_putc(&rebuilt, '[') != CF_OK) fail("out of memory", NULL);
  while ((rc = cf__json_string_array_next(canon->p, canon->len, &pos, &elem)) == CF_OK) {
    if (!first && cf__buf_putc(&rebuilt, ',') != CF_OK) fail("out of memory", NULL);
    first = 0;
    if (cf__json_quote(elem.p != NULL ? elem.p : "", elem.len, &rebuilt) != CF_OK)
      fail("an element of a canonical array cannot be quoted again", canon->p);
  }
  if (rc != CF_DONE) fail("cannot walk a canonical array of strings", canon->p);
  if (cf__buf_putc(&rebuilt, ']') != CF_OK) fail("out of memory", NULL);
  if (rebuilt.len != canon->len || memcmp(rebuilt.p, canon->p, canon->len) != 0)
    fail("re-quoting the elements does not give the canonical array", canon->p);
  cf__buf_free(&elem);
  cf__buf_free(&rebuilt);
}

static void fuzz_json(cf_json_expect expect, const char *s, size_t n) {
  cf_buf once, twice;
  cf__buf_init(&once, OUT_LIMIT);
  cf__buf_init(&twice, OUT_LIMIT);
  /* Something already in the buffer: canon appends, and restores on failure. */
  if (cf__buf_puts(&once, "#") != CF_OK) fail("out of memory", NULL);
  int rc = cf__json_canon(s, n, expect, &once);
  if (rc != CF_OK) {
    if (rc != CF_INVALID && rc != CF_TOOBIG && rc != CF_NOMEM)
      fail("unexpected result", cf_strerror(rc));
    if (once.len != 1 || once.p[0] != '#') fail("a refusal changed the output", NULL);
    goto out;
  }
  const char *c = once.p + 1;
  size_t cn = once.len - 1;
  if (cn == 0 || !cf__utf8_valid(c, cn)) fail("canonical JSON is not UTF-8 text", c);
  rc = cf__json_canon(c, cn, expect, &twice);
  if (rc != CF_OK) fail("canonical JSON is refused by canon", c);
  if (twice.len != cn || memcmp(twice.p, c, cn) != 0) fail("canon is not idempotent", c);
  if (expect == CF_JSON_ARRAY_OF_STRINGS) {
    cf_buf copy;
    cf__buf_init(&copy, OUT_LIMIT);
    if (cf__buf_append(&copy, c, cn) != CF_OK) fail("out of memory", NULL);
    check_string_array(&copy);
    cf__buf_free(&copy);
  }
out:
  cf__buf_free(&once);
  cf__buf_free(&twice);
}

/* Big-endian 8 bytes (zero-padded when the payload is shorter). */
static uint64_t be64(const uint8_t *p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; i++)
    v = (v << 8) | (i < n ? p[i] : 0);
  return v;
}

static void fuzz_value(const cf_column *col, unsigned kind, const uint8_t *p, size_t n) {
  cf_value in, out, again;
  switch (kind) {
    case CF_VALUE_NULL:
      in = cf__value_null();
      break;
    case CF_VALUE_INT:
      in = cf__value_int((int64_t)be64(p, n));
      break;
    case CF_VALUE_REAL: {
      uint64_t bits = be64(p, n);
      double d;
      memcpy(&d, &bits, sizeof d);
      in = cf__value_real(d);
      break;
    }
    case CF_VALUE_TEXT:
      in = cf__value_text((const char *)p, n);
      break;
    default:
      in = cf__value_blob(p, n);
      break;
  }
  cf_buf t1, t2;
  cf__buf_init(&t1, OUT_LIMIT);
  cf__buf_init(&t2, OUT_LIMIT);
  int rc = cf__value_canon(col, &in, &t1, &out);
  /* cf__value_is_canon (the replica's check of remote cells) agrees with
  ** canon(v) == v. */
  int yes = -1;
  if (rc != CF_NOMEM && cf__value_is_canon(col, &in, &t2, &yes) == CF_OK &&
      yes != (rc == CF_OK && cf__value_equal(&out, &in)))
    fail("cf__value_is_canon disagrees with cf__value_canon", col->name);
  if (rc != CF_OK) {
    if (rc != CF_INVALID && rc != CF_CONSTRAINT && rc != CF_TOOBIG && rc != CF_NOMEM)
      fail("unexpected result", cf_strerror(rc));
    if (rc == CF_CONSTRAINT && (in.kind != CF_VALUE_NULL || col->nullable))
      fail("CF_CONSTRAINT for a value that is not NULL", col->name);
    goto out;
  }
  if (in.kind == CF_VALUE_NULL) {
    if (out.kind != CF_VALUE_NULL) fail("NULL became a value", col->name);
    goto out;
  }
  switch (col->type) {
    case CF_TYPE_INTEGER:
      if (out.kind != CF_VALUE_INT || out.i < INT32_MIN || out.i > INT32_MAX)
        fail("integer out of int32", col->name);
      break;
    case CF_TYPE_BIGINT:
      if (out.kind != CF_VALUE_INT) fail("bigint is not an INT", col->name);
      break;
    case CF_TYPE_BOOLEAN:
      if (out.kind != CF_VALUE_INT || (out.i != 0 && out.i != 1))
        fail("boolean is not 0/1", col->name);
      break;
    default:
      if (out.kind != CF_VALUE_TEXT) fail("a text type gave a non-TEXT value", col->name);
      if (out.n > 0 && !cf__utf8_valid(out.p, out.n))
        fail("canonical text is not valid UTF-8", col->name);
      break;
  }
  rc = cf__value_canon(col, &out, &t2, &again);
  if (rc != CF_OK) fail("a canonical value is refused by canon", col->name);
  if (again.kind != out.kind || !cf__value_equal(&again, &out) ||
      ((out.kind == CF_VALUE_TEXT) &&
       (again.n != out.n || (out.n > 0 && memcmp(again.p, out.p, out.n) != 0))))
    fail("value canon is not idempotent", col->name);
out:
  cf__buf_free(&t1);
  cf__buf_free(&t2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  if (data[0] < 3) {
    /* A private copy of exactly the text, so a read past it is caught. */
    size_t n = size - 1;
    char *s = malloc(n > 0 ? n : 1);
    if (s == NULL) return 0;
    memcpy(s, data + 1, n);
    fuzz_json((cf_json_expect)data[0], s, n);
    free(s);
    return 0;
  }
  if (size < 2) return 0;
  const cf_column *col = fuzz_value_column((data[0] - 3u) % fuzz_value_ncolumns());
  size_t n = size - 2;
  uint8_t *p = malloc(n > 0 ? n : 1);
  if (p == NULL) return 0;
  memcpy(p, data + 2, n);
  fuzz_value(col, data[1] % 5u, p, n);
  free(p);
  return 0;
}
