/*
** sync/server/rest_params.c: strict parsers for the REST API's request text
** (internal).  The rules and the cursor's byte layout are in sync/server/rest.h;
** the API in docs/rest-api.md.  No I/O, no allocation.
*/
#include <string.h>

#include "core/crypto.h"
#include "core/uuid.h"
#include "sync/server/rest.h"

#define CURSOR_VERSION 1
/* 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z in microseconds. */
#define KEY_MIN_US (-62135596800LL * 1000000LL)
#define KEY_MAX_US (253402300800LL * 1000000LL - 1)

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* Reads n digits at s as a number; -1 if any is not a digit. */
static int digits(const char *s, int n) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (!is_digit(s[i])) return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

int cf__rest_cursor_decode(const char *text, cf__rest_list list, cf__rest_cursor *out) {
  unsigned char b[CF_REST_CURSOR_BYTES];
  size_t n = 0;
  if (list < CF_REST_LIST_ORGANIZATIONS || list > CF_REST_LIST_APPOINTMENTS)
    return CF_INVALID;
  if (text == NULL || strlen(text) != CF_REST_CURSOR_TEXT) return CF_INVALID;
  if (cf__base64url_decode(text, CF_REST_CURSOR_TEXT, b, sizeof b, &n) != CF_OK ||
      n != sizeof b)
    return CF_INVALID;
  if (b[0] != CURSOR_VERSION || b[1] != (unsigned char)list || b[2] != 0)
    return CF_INVALID;
  uint64_t u = 0;
  for (int i = 0; i < 8; i++)
    u = (u << 8) | b[3 + i];
  int64_t key = (int64_t)u; /* two's complement on every platform we build for */
  if (key < KEY_MIN_US || key > KEY_MAX_US) return CF_INVALID;
  cf_uuid id;
  memcpy(id.b, b + 11, CF_UUID_LEN);
  out->key_us = key;
  cf__uuid_format(&id, out->id);
  return CF_OK;
}

int cf__rest_cursor_encode(cf__rest_list list, int64_t key_us, const char *id,
                           char out[CF_REST_CURSOR_TEXT + 1]) {
  cf_uuid u;
  if (list < CF_REST_LIST_ORGANIZATIONS || list > CF_REST_LIST_APPOINTMENTS)
    return CF_INVALID;
  if (id == NULL || cf__uuid_parse(id, strlen(id), &u) != CF_OK) return CF_INVALID;
  unsigned char b[CF_REST_CURSOR_BYTES];
  b[0] = CURSOR_VERSION;
  b[1] = (unsigned char)list;
  b[2] = 0;
  uint64_t k = (uint64_t)key_us;
  for (int i = 7; i >= 0; i--) {
    b[3 + i] = (unsigned char)(k & 0xff);
    k >>= 8;
  }
  memcpy(b + 11, u.b, CF_UUID_LEN);
  cf__base64url_encode(b, sizeof b, out);
  return CF_OK;
}

/* Decimal digits, no sign, no leading zero, lo..hi; NULL gives def. */
static int parse_bounded(const char *text, int def, int lo, int hi, int *out) {
  if (text == NULL) {
    *out = def;
    return CF_OK;
  }
  size_t n = strlen(text);
  if (n == 0 || n > 4 || text[0] == '0') return CF_INVALID;
  int v = digits(text, (int)n);
  if (v < lo || v > hi) return CF_INVALID;
  *out = v;
  return CF_OK;
}

int cf__rest_parse_limit(const char *text, int *out) {
  return parse_bounded(text, CF_REST_LIMIT_DEFAULT, 1, CF_REST_LIMIT_MAX, out);
}

int cf__rest_parse_days(const char *text, int *out) {
  return parse_bounded(text, CF_REST_DAYS_DEFAULT, 1, CF_REST_DAYS_MAX, out);
}

int cf__rest_parse_uuid(const char *text, char out[CF_UUID_TEXT_LEN]) {
  cf_uuid u;
  if (text == NULL || cf__uuid_parse(text, strlen(text), &u) != CF_OK) return CF_INVALID;
  cf__uuid_format(&u, out);
  return CF_OK;
}

int cf__rest_is_stage(const char *text) {
  static const char *const stages[] = {"lead", "qualified", "proposal", "won", "lost"};
  if (text == NULL) return 0;
  for (size_t i = 0; i < sizeof stages / sizeof stages[0]; i++)
    if (strcmp(text, stages[i]) == 0) return 1;
  return 0;
}

static int days_in_month(int y, int m) {
  static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : dm[m - 1];
}

int cf__rest_parse_time(const char *text, char out[CF_REST_TIME_MAX + 1]) {
  if (text == NULL) return CF_INVALID;
  size_t n = strlen(text);
  if (n < 10 || n > CF_REST_TIME_MAX) return CF_INVALID;
  char t[CF_REST_TIME_MAX + 1];
  memcpy(t, text, n + 1);
  /* Date: YYYY-MM-DD. */
  int y = digits(t, 4), mo = digits(t + 5, 2), d = digits(t + 8, 2);
  if (t[4] != '-' || t[7] != '-' || y < 1 || mo < 1 || mo > 12 || d < 1 ||
      d > days_in_month(y, mo))
    return CF_INVALID;
  if (n == 10) goto ok;
  /* Time: THH:MM[:SS[.ffffff]]. */
  if (n < 16 || t[10] != 'T' || t[13] != ':') return CF_INVALID;
  int hh = digits(t + 11, 2), mi = digits(t + 14, 2);
  if (hh < 0 || hh > 23 || mi < 0 || mi > 59) return CF_INVALID;
  size_t i = 16;
  if (i < n && t[i] == ':') {
    if (i + 3 > n) return CF_INVALID;
    int ss = digits(t + i + 1, 2);
    if (ss < 0 || ss > 59) return CF_INVALID;
    i += 3;
    if (i < n && t[i] == '.') {
      size_t f = 0;
      i++;
      while (i < n && is_digit(t[i]))
        i++, f++;
      if (f < 1 || f > 6) return CF_INVALID;
    }
  }
  /* Zone: Z or +HH:MM / -HH:MM (a space standing for '+'). */
  if (i + 1 == n && t[i] == 'Z') goto ok;
  if (i + 6 != n) return CF_INVALID;
  if (t[i] == ' ') t[i] = '+';
  if (t[i] != '+' && t[i] != '-') return CF_INVALID;
  int oh = digits(t + i + 1, 2), om = digits(t + i + 4, 2);
  if (t[i + 3] != ':' || oh < 0 || oh > 15 || om < 0 || om > 59) return CF_INVALID;
ok:
  memcpy(out, t, n + 1);
  return CF_OK;
}

int cf__rest_bearer(const char *header, const char **token, size_t *len) {
  static const char scheme[] = "bearer";
  if (header == NULL) return CF_INVALID;
  for (size_t i = 0; i < sizeof scheme - 1; i++) {
    char c = header[i];
    if (c >= 'A' && c <= 'Z') c = (char)(c + 32);
    if (c != scheme[i]) return CF_INVALID;
  }
  const char *p = header + sizeof scheme - 1;
  if (*p != ' ') return CF_INVALID;
  while (*p == ' ')
    p++;
  size_t n = strlen(p);
  while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
    n--;
  if (n == 0) return CF_INVALID;
  for (size_t i = 0; i < n; i++)
    if (p[i] == ' ' || p[i] == '\t') return CF_INVALID;
  *token = p;
  *len = n;
  return CF_OK;
}
