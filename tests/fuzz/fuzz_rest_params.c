/*
** tests/fuzz/fuzz_rest_params.c: libFuzzer target for the REST API's
** request parsers (sync/server/rest.h, sync/server/rest_params.c): the pagination cursor,
** limit, days, UUIDs, deal stages, from/to instants and the Authorization
** header.  Fuzzing is described in docs/testing.md, "Fuzzing".
**
** Input (tests/fuzz/fuzz_inputs.h): byte 0 % 7 picks the parser and
** (byte 0 / 7) % 5 the cursor's list (0 is no list); the rest, cut at its
** first NUL, is the parameter's text, copied to a buffer of exactly its
** size so that a read past the terminator is caught by ASan.  Proves, for
** every input:
**
**  - no crash, overread or undefined behaviour;
**  - every parser answers CF_OK or CF_INVALID and leaves its output alone
**    on CF_INVALID (the cursor) or writes a NUL-terminated one on CF_OK;
**  - cursor: an accepted text is 36 characters and encodes back to exactly
**    itself (cf__rest_cursor_encode), names the list asked for, has a sort
**    key within years 1..9999 and a canonical id;
**  - limit and days: accepted values lie in their ranges and print back
**    as the input text;
**  - uuid: the output is canonical (parses again to itself) and equals the
**    input lowercased;
**  - stage: only the five stage names;
**  - time: the output is the input with at most one ' ' turned into '+',
**    and is accepted again unchanged;
**  - bearer: the token lies inside the header, is non-empty and holds no
**    blank.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clientflow.h"
#include "fuzz_inputs.h"
#include "sync/server/rest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *text) {
  fprintf(stderr, "fuzz_rest_params: %s: \"%s\"\n", what, text);
  abort();
}

static void check_cursor(const char *text, cf__rest_list list) {
  cf__rest_cursor c;
  memset(&c, 0x5a, sizeof c);
  int rc = cf__rest_cursor_decode(text, list, &c);
  if (rc == CF_INVALID) {
    for (size_t i = 0; i < sizeof c; i++)
      if (((unsigned char *)&c)[i] != 0x5a)
        fail("a refused cursor wrote its output", text);
    return;
  }
  if (rc != CF_OK) fail("unexpected result", text);
  if (list < CF_REST_LIST_ORGANIZATIONS || list > CF_REST_LIST_APPOINTMENTS)
    fail("a cursor of no list was accepted", text);
  if (strlen(text) != CF_REST_CURSOR_TEXT)
    fail("accepted a cursor of another length", text);
  if (c.key_us < INT64_C(-62135596800000000) || c.key_us > INT64_C(253402300799999999))
    fail("sort key outside years 1..9999", text);
  char id[CF_UUID_TEXT_LEN];
  if (memchr(c.id, '\0', sizeof c.id) == NULL || cf__rest_parse_uuid(c.id, id) != CF_OK ||
      strcmp(id, c.id) != 0)
    fail("the cursor's id is not canonical", text);
  char again[CF_REST_CURSOR_TEXT + 1];
  if (cf__rest_cursor_encode(list, c.key_us, c.id, again) != CF_OK)
    fail("a decoded cursor cannot be encoded", text);
  if (strcmp(again, text) != 0) fail("cursor does not encode back to itself", text);
}

static void check_number(const char *text, int is_days) {
  int v = -12345;
  int rc = is_days ? cf__rest_parse_days(text, &v) : cf__rest_parse_limit(text, &v);
  if (rc == CF_INVALID) return;
  if (rc != CF_OK) fail("unexpected result", text);
  int hi = is_days ? CF_REST_DAYS_MAX : CF_REST_LIMIT_MAX;
  if (v < 1 || v > hi) fail("accepted a number out of range", text);
  char back[16];
  snprintf(back, sizeof back, "%d", v);
  if (strcmp(back, text) != 0) fail("accepted a number not in its plain form", text);
}

static void check_uuid(const char *text) {
  char out[CF_UUID_TEXT_LEN], again[CF_UUID_TEXT_LEN];
  int rc = cf__rest_parse_uuid(text, out);
  if (rc == CF_INVALID) return;
  if (rc != CF_OK) fail("unexpected result", text);
  if (strlen(out) != 36 || strlen(text) != 36) fail("a UUID is not 36 characters", text);
  for (size_t i = 0; i < 36; i++) {
    char c = text[i];
    if (c >= 'A' && c <= 'Z') c = (char)(c + 32);
    if (out[i] != c) fail("the canonical UUID is not the input lowercased", text);
  }
  if (cf__rest_parse_uuid(out, again) != CF_OK || strcmp(again, out) != 0)
    fail("the canonical UUID is not canonical", text);
}

static void check_stage(const char *text) {
  static const char *const stages[] = {"lead", "qualified", "proposal", "won", "lost"};
  int want = 0;
  for (size_t i = 0; i < sizeof stages / sizeof stages[0]; i++)
    if (strcmp(text, stages[i]) == 0) want = 1;
  if (cf__rest_is_stage(text) != want) fail("stage answer is wrong", text);
}

static void check_time(const char *text) {
  char out[CF_REST_TIME_MAX + 1], again[CF_REST_TIME_MAX + 1];
  memset(out, 0x5a, sizeof out);
  int rc = cf__rest_parse_time(text, out);
  if (rc == CF_INVALID) return;
  if (rc != CF_OK) fail("unexpected result", text);
  size_t n = strlen(text);
  if (memchr(out, '\0', sizeof out) == NULL || strlen(out) != n)
    fail("the normalised time has another length", text);
  int changed = 0;
  for (size_t i = 0; i < n; i++) {
    if (out[i] == text[i]) continue;
    if (text[i] != ' ' || out[i] != '+' || changed++) fail("time changed too much", text);
  }
  if (cf__rest_parse_time(out, again) != CF_OK || strcmp(again, out) != 0)
    fail("the normalised time is not accepted unchanged", text);
}

static void check_bearer(const char *text) {
  const char *tok = NULL;
  size_t len = 0;
  int rc = cf__rest_bearer(text, &tok, &len);
  if (rc == CF_INVALID) return;
  if (rc != CF_OK) fail("unexpected result", text);
  size_t n = strlen(text);
  if (tok < text || len == 0 || (size_t)(tok - text) + len > n)
    fail("the token is not inside the header", text);
  for (size_t i = 0; i < len; i++)
    if (tok[i] == ' ' || tok[i] == '\t' || tok[i] == '\0')
      fail("the token has a blank", text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  unsigned parser = data[0] % REST_NPARSERS;
  cf__rest_list list = (cf__rest_list)((data[0] / REST_NPARSERS) % 5);
  const uint8_t *nul = memchr(data + 1, '\0', size - 1);
  size_t n = nul != NULL ? (size_t)(nul - (data + 1)) : size - 1;
  char *text = malloc(n + 1);
  if (text == NULL) return 0;
  memcpy(text, data + 1, n);
  text[n] = '\0';
  switch (parser) {
    case REST_CURSOR:
      check_cursor(text, list);
      break;
    case REST_LIMIT:
      check_number(text, 0);
      break;
    case REST_DAYS:
      check_number(text, 1);
      break;
    case REST_UUID:
      check_uuid(text);
      break;
    case REST_STAGE:
      check_stage(text);
      break;
    case REST_TIME:
      check_time(text);
      break;
    default:
      check_bearer(text);
      break;
  }
  free(text);
  return 0;
}
