/*
** core/value.c: values, their order and the canonical encodings per column
** type (see core/value.h for the table of forms, docs/sync.md for why).
**
** Everything here is pure computation over caller buffers.  Dates use the
** proleptic Gregorian calendar through days_from_civil/civil_from_days
** (the well-known era-based algorithm), so no libc time zone code is
** involved and any year 0001..9999 works.
*/
#include "core/value.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/utf8.h"
#include "core/uuid.h"

#define US_PER_SEC INT64_C(1000000)
#define US_PER_DAY (INT64_C(86400) * US_PER_SEC)
/* Longest numeric text accepted (before rounding). */
#define NUMERIC_MAX_INPUT 1100

/* ------------------------------------------------------------------------ */
/* Order and byte encoding                                                  */
/* ------------------------------------------------------------------------ */

/* A double's bits are read through a uint64_t (memcpy below): that needs
** doubles stored in the byte order of integers, as on every Debian
** architecture (docs/formats.md). */
#if defined(__FLOAT_WORD_ORDER__) && defined(__BYTE_ORDER__) &&                          \
    __FLOAT_WORD_ORDER__ != __BYTE_ORDER__
#error "doubles and integers differ in byte order on this machine (docs/formats.md)"
#endif
_Static_assert(sizeof(double) == sizeof(uint64_t), "double is not 64 bits");

/* Doubles as unsigned integers in numeric order (-0.0 just below +0.0). */
static uint64_t double_order_bits(double d) {
  uint64_t u;
  memcpy(&u, &d, sizeof u);
  return (u >> 63) ? ~u : (u | (UINT64_C(1) << 63));
}

static int cmp_u64(uint64_t a, uint64_t b) { return a < b ? -1 : a > b; }

int cf__value_cmp(const cf_value *a, const cf_value *b) {
  if (a->kind != b->kind) return a->kind < b->kind ? -1 : 1;
  switch (a->kind) {
    case CF_VALUE_NULL:
      return 0;
    case CF_VALUE_INT:
      return a->i < b->i ? -1 : a->i > b->i;
    case CF_VALUE_REAL:
      return cmp_u64(double_order_bits(a->d), double_order_bits(b->d));
    case CF_VALUE_TEXT: {
      size_t n = a->n < b->n ? a->n : b->n;
      int c = n ? memcmp(a->p, b->p, n) : 0;
      if (c != 0) return c < 0 ? -1 : 1;
      return cmp_u64(a->n, b->n);
    }
    case CF_VALUE_BLOB: {
      if (a->n != b->n) return cmp_u64(a->n, b->n);
      int c = a->n ? memcmp(a->p, b->p, a->n) : 0;
      return c < 0 ? -1 : c > 0;
    }
  }
  return 0;
}

int cf__value_equal(const cf_value *a, const cf_value *b) {
  return cf__value_cmp(a, b) == 0;
}

static int put_be64(cf_buf *out, uint64_t u) {
  unsigned char b[8];
  for (int i = 0; i < 8; i++)
    b[i] = (unsigned char)(u >> (56 - 8 * i));
  return cf__buf_append(out, b, 8);
}

int cf__value_encode(const cf_value *v, cf_buf *out) {
  size_t mark = out->len;
  int rc = cf__buf_putc(out, (char)v->kind);
  if (rc != CF_OK) return rc;
  switch (v->kind) {
    case CF_VALUE_NULL:
      break;
    case CF_VALUE_INT:
      rc = put_be64(out, (uint64_t)v->i ^ (UINT64_C(1) << 63));
      break;
    case CF_VALUE_REAL:
      rc = put_be64(out, double_order_bits(v->d));
      break;
    case CF_VALUE_TEXT:
      rc = cf__buf_append(out, v->p, v->n);
      if (rc == CF_OK) rc = cf__buf_putc(out, '\0');
      break;
    case CF_VALUE_BLOB: {
      if (v->n > UINT32_MAX) {
        rc = CF_TOOBIG;
        break;
      }
      unsigned char len[4] = {(unsigned char)(v->n >> 24), (unsigned char)(v->n >> 16),
                              (unsigned char)(v->n >> 8), (unsigned char)v->n};
      rc = cf__buf_append(out, len, 4);
      if (rc == CF_OK) rc = cf__buf_append(out, v->p, v->n);
      break;
    }
  }
  if (rc != CF_OK) cf__buf_truncate(out, mark);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Small parsing helpers                                                    */
/* ------------------------------------------------------------------------ */

static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Trims ASCII whitespace from both ends of s[0..*n). */
static const char *trim(const char *s, size_t *n) {
  while (*n > 0 && is_space(s[0])) {
    s++;
    (*n)--;
  }
  while (*n > 0 && is_space(s[*n - 1]))
    (*n)--;
  return s;
}

/* Reads exactly k digits at s[*i]; OUT: *v.  0 if not k digits. */
static int read_digits(const char *s, size_t n, size_t *i, int k, int *v) {
  int x = 0;
  if (n - *i < (size_t)k) return 0;
  for (int j = 0; j < k; j++) {
    char c = s[*i + (size_t)j];
    if (!is_digit(c)) return 0;
    x = x * 10 + (c - '0');
  }
  *i += (size_t)k;
  *v = x;
  return 1;
}

int cf__canon_int_text(const char *s, size_t n, int64_t min, int64_t max, int64_t *out) {
  s = trim(s, &n);
  if (n == 0 || n > 40) return CF_INVALID;
  size_t i = 0;
  int neg = 0;
  if (s[0] == '+' || s[0] == '-') {
    neg = s[0] == '-';
    i++;
  }
  if (i == n) return CF_INVALID;
  /* Accumulate as a negative number so INT64_MIN fits. */
  int64_t acc = 0;
  for (; i < n; i++) {
    if (!is_digit(s[i])) return CF_INVALID;
    int d = s[i] - '0';
    if (acc < (INT64_MIN + d) / 10) return CF_INVALID;
    acc = acc * 10 - d;
  }
  if (!neg) {
    if (acc == INT64_MIN) return CF_INVALID;
    acc = -acc;
  }
  if (acc < min || acc > max) return CF_INVALID;
  *out = acc;
  return CF_OK;
}

int cf__canon_bool_text(const char *s, size_t n, int *out) {
  static const struct {
    const char *word; /* accepted spelling, lowercase */
    int value;        /* its truth value */
  } words[] = {{"t", 1}, {"true", 1},  {"y", 1}, {"yes", 1}, {"on", 1},  {"1", 1},
               {"f", 0}, {"false", 0}, {"n", 0}, {"no", 0},  {"off", 0}, {"0", 0}};
  s = trim(s, &n);
  if (n == 0 || n > 5) return CF_INVALID;
  char lower[6];
  for (size_t i = 0; i < n; i++)
    lower[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] - 'A' + 'a') : s[i];
  lower[n] = '\0';
  for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
    if (strcmp(lower, words[i].word) == 0) {
      *out = words[i].value;
      return CF_OK;
    }
  }
  return CF_INVALID;
}

/* ------------------------------------------------------------------------ */
/* Doubles                                                                  */
/* ------------------------------------------------------------------------ */

int cf__double_format(double d, char out[CF_DOUBLE_TEXT_LEN]) {
  if (!isfinite(d)) return CF_INVALID;
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(out, CF_DOUBLE_TEXT_LEN, "%.*g", prec, d);
    if (strtod(out, NULL) == d && (d != 0 || signbit(strtod(out, NULL)) == signbit(d)))
      return CF_OK;
  }
  return CF_OK; /* %.17g always round-trips */
}

int cf__double_parse(const char *s, size_t n, double *out) {
  char tmp[400];
  s = trim(s, &n);
  if (n == 0 || n >= sizeof tmp) return CF_INVALID;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    /* Decimal syntax only: refuses hex, inf, nan. */
    if (!is_digit(c) && c != '+' && c != '-' && c != '.' && c != 'e' && c != 'E')
      return CF_INVALID;
  }
  memcpy(tmp, s, n);
  tmp[n] = '\0';
  char *end;
  errno = 0;
  double d = strtod(tmp, &end);
  if (end != tmp + n || !isfinite(d)) return CF_INVALID;
  *out = d;
  return CF_OK;
}

/* ------------------------------------------------------------------------ */
/* uuid                                                                     */
/* ------------------------------------------------------------------------ */

int cf__canon_uuid(const char *s, size_t n, char out[37]) {
  cf_uuid u;
  int rc = cf__uuid_parse(s, n, &u);
  if (rc != CF_OK) return rc;
  cf__uuid_format(&u, out);
  return CF_OK;
}

/* ------------------------------------------------------------------------ */
/* Dates and timestamps                                                     */
/* ------------------------------------------------------------------------ */

static int is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int days_in_month(int y, int m) {
  static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Days since 1970-01-01 of the Gregorian date y-m-d. */
static int64_t days_from_civil(int y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

/* The Gregorian date of day z since 1970-01-01. */
static void civil_from_days(int64_t z, int *y, int *m, int *d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = (int)(yoe + era * 400 + (*m <= 2));
}

/* Parses YYYY-MM-DD at s[*i]; bc: the year is BC (year 1 BC is year 0).
** OUT: *days since the epoch. */
static int parse_ymd(const char *s, size_t n, size_t *i, int bc, int64_t *days) {
  int y, m, d;
  if (!read_digits(s, n, i, 4, &y) || *i >= n || s[(*i)++] != '-' ||
      !read_digits(s, n, i, 2, &m) || *i >= n || s[(*i)++] != '-' ||
      !read_digits(s, n, i, 2, &d))
    return CF_INVALID;
  if (y < 1) return CF_INVALID;
  if (bc) y = 1 - y;
  if (m < 1 || m > 12 || d < 1 || d > days_in_month(y, m)) return CF_INVALID;
  *days = days_from_civil(y, m, d);
  return CF_OK;
}

int cf__canon_date(const char *s, size_t n, char out[CF_DATE_TEXT_LEN]) {
  size_t i = 0;
  int64_t days;
  if (n != 10 || parse_ymd(s, n, &i, 0, &days) != CF_OK) return CF_INVALID;
  memcpy(out, s, 10);
  out[10] = '\0';
  return CF_OK;
}

/* Parses a zone at s[*i..n): Z, or +-hh[[:]mm[[:]ss]].  OUT: *secs east. */
static int parse_zone(const char *s, size_t n, size_t *i, int64_t *secs) {
  if (s[*i] == 'Z' || s[*i] == 'z') {
    (*i)++;
    *secs = 0;
    return CF_OK;
  }
  if (s[*i] != '+' && s[*i] != '-') return CF_INVALID;
  int neg = s[(*i)++] == '-';
  int hh, mm = 0, ss = 0;
  if (!read_digits(s, n, i, 2, &hh)) return CF_INVALID;
  if (*i < n) {
    if (s[*i] == ':') (*i)++;
    if (!read_digits(s, n, i, 2, &mm)) return CF_INVALID;
    if (*i < n) {
      if (s[*i] == ':') (*i)++;
      if (!read_digits(s, n, i, 2, &ss)) return CF_INVALID;
    }
  }
  if (hh > 15 || mm > 59 || ss > 59) return CF_INVALID;
  int64_t v = (int64_t)hh * 3600 + mm * 60 + ss;
  *secs = neg ? -v : v;
  return CF_OK;
}

int cf__timestamp_parse(const char *s, size_t n, int64_t *us) {
  size_t i = 0;
  int64_t days, zone = 0;
  int hh = 0, mi = 0, ss = 0;
  int64_t frac = 0;
  s = trim(s, &n);
  /* Postgres prints years before 1 AD (in local time) with a " BC" suffix;
  ** such an instant may still be 0001-01-01 or later in UTC. */
  int bc = n > 3 && memcmp(s + n - 3, " BC", 3) == 0;
  if (bc) n -= 3;
  if (n > 64 || parse_ymd(s, n, &i, bc, &days) != CF_OK) return CF_INVALID;
  if (i < n) {
    if (s[i] != 'T' && s[i] != 't' && s[i] != ' ') return CF_INVALID;
    i++;
    if (!read_digits(s, n, &i, 2, &hh) || i >= n || s[i++] != ':' ||
        !read_digits(s, n, &i, 2, &mi))
      return CF_INVALID;
    if (i < n && s[i] == ':') {
      i++;
      if (!read_digits(s, n, &i, 2, &ss)) return CF_INVALID;
      if (i < n && s[i] == '.') {
        /* 1..9 fraction digits, rounded half up to microseconds. */
        int digits = 0, round = 0;
        i++;
        while (i < n && is_digit(s[i])) {
          if (digits < 6)
            frac = frac * 10 + (s[i] - '0');
          else if (digits == 6)
            round = s[i] >= '5';
          digits++;
          i++;
        }
        if (digits == 0 || digits > 9) return CF_INVALID;
        for (int k = digits; k < 6; k++)
          frac *= 10;
        frac += round;
      }
    }
    if (hh > 23 || mi > 59 || ss > 59) return CF_INVALID;
    if (i < n && s[i] == ' ') i++;
    if (i < n && parse_zone(s, n, &i, &zone) != CF_OK) return CF_INVALID;
  }
  if (i != n) return CF_INVALID;
  int64_t t =
      days * US_PER_DAY + ((int64_t)hh * 3600 + mi * 60 + ss - zone) * US_PER_SEC + frac;
  if (t < CF_TIMESTAMP_MIN_US || t > CF_TIMESTAMP_MAX_US) return CF_INVALID;
  *us = t;
  return CF_OK;
}

int cf__timestamp_format(int64_t us, char out[CF_TIMESTAMP_TEXT_LEN]) {
  if (us < CF_TIMESTAMP_MIN_US || us > CF_TIMESTAMP_MAX_US) return CF_INVALID;
  int64_t days = us / US_PER_DAY, rem = us % US_PER_DAY;
  if (rem < 0) {
    rem += US_PER_DAY;
    days--;
  }
  int y, m, d;
  civil_from_days(days, &y, &m, &d);
  int64_t secs = rem / US_PER_SEC, micros = rem % US_PER_SEC;
  unsigned v[7] = {(unsigned)y,
                   (unsigned)m,
                   (unsigned)d,
                   (unsigned)(secs / 3600),
                   (unsigned)(secs / 60 % 60),
                   (unsigned)(secs % 60),
                   (unsigned)micros};
  /* Written digit by digit: fixed width, no snprintf truncation games. */
  static const int width[7] = {4, 2, 2, 2, 2, 2, 6};
  static const char after[7] = {'-', '-', 'T', ':', ':', '.', 'Z'};
  size_t j = 0;
  for (int f = 0; f < 7; f++) {
    unsigned x = v[f]; /* its last width[f] digits, right to left */
    for (int k = width[f] - 1; k >= 0; k--) {
      out[j + (size_t)k] = (char)('0' + x % 10);
      x /= 10;
    }
    j += (size_t)width[f];
    out[j++] = after[f];
  }
  out[j] = '\0';
  return CF_OK;
}

int cf__canon_timestamptz(const char *s, size_t n, char out[CF_TIMESTAMP_TEXT_LEN]) {
  int64_t us;
  int rc = cf__timestamp_parse(s, n, &us);
  if (rc != CF_OK) return rc;
  return cf__timestamp_format(us, out);
}

/* ------------------------------------------------------------------------ */
/* numeric(p, s)                                                            */
/* ------------------------------------------------------------------------ */

int cf__canon_numeric(const char *s, size_t n, unsigned precision, unsigned scale,
                      char out[CF_NUMERIC_TEXT_LEN]) {
  if (precision < 1 || precision > CF_NUMERIC_MAX_PRECISION || scale > precision)
    return CF_MISUSE;
  s = trim(s, &n);
  if (n == 0 || n > NUMERIC_MAX_INPUT) return CF_INVALID;

  /* Parse into sign, significant digits dig[0..nd) and the position of the
  ** decimal point: value = 0.dig * 10^point. */
  char dig[NUMERIC_MAX_INPUT];
  size_t nd = 0, i = 0;
  long point = 0;
  int neg = 0, seen_digit = 0, seen_point = 0;
  if (s[i] == '+' || s[i] == '-') neg = s[i++] == '-';
  for (; i < n; i++) {
    char c = s[i];
    if (is_digit(c)) {
      seen_digit = 1;
      if (nd == 0 && c == '0') {
        if (seen_point) point--; /* a leading zero after the point */
        continue;
      }
      dig[nd++] = c;
      if (!seen_point) point++;
    } else if (c == '.' && !seen_point) {
      seen_point = 1;
    } else {
      break;
    }
  }
  if (!seen_digit) return CF_INVALID;
  if (i < n) {
    if (s[i] != 'e' && s[i] != 'E') return CF_INVALID;
    int64_t e;
    if (cf__canon_int_text(s + i + 1, n - i - 1, -1000, 1000, &e) != CF_OK)
      return CF_INVALID;
    /* cf__canon_int_text trims spaces: refuse them inside the literal. */
    if (i + 1 >= n || is_space(s[i + 1])) return CF_INVALID;
    point += (long)e;
  }

  /* Digits of weight 10^(ip-1) .. 10^-scale: ip integer digits. */
  char res[CF_NUMERIC_MAX_PRECISION + 2];
  long ip = nd == 0 ? 1 : (point > 1 ? point : 1);
  if (nd > 0 && point > (long)(precision - scale)) return CF_INVALID;
  size_t nres = (size_t)ip + scale;
  for (size_t j = 0; j < nres; j++) {
    /* res[j] has weight 10^(ip-1-j); dig[k] has weight 10^(point-1-k). */
    long k = point - ip + (long)j;
    res[j] = (k >= 0 && (size_t)k < nd) ? dig[k] : '0';
  }
  long kr = point + (long)scale; /* the first digit dropped */
  if (kr >= 0 && (size_t)kr < nd && dig[kr] >= '5') {
    long j = (long)nres - 1;
    for (; j >= 0; j--) {
      if (res[j] == '9') {
        res[j] = '0';
      } else {
        res[j]++;
        break;
      }
    }
    if (j < 0) { /* carried out of the top digit */
      memmove(res + 1, res, nres);
      res[0] = '1';
      nres++;
      ip++;
    }
  }
  /* Drop leading zeros of the integer part, keeping one. */
  size_t start = 0;
  while ((long)start < ip - 1 && res[start] == '0')
    start++;
  size_t int_end = nres - scale;
  size_t int_digits = int_end - start;
  if (int_digits == 1 && res[start] == '0') int_digits = 0;
  if (int_digits > precision - scale) return CF_INVALID; /* rounded up past p */
  int zero = 1;
  for (size_t j = start; j < nres; j++)
    if (res[j] != '0') zero = 0;
  size_t o = 0;
  if (neg && !zero) out[o++] = '-';
  for (size_t j = start; j < int_end; j++)
    out[o++] = res[j];
  if (scale > 0) {
    out[o++] = '.';
    for (size_t j = int_end; j < nres; j++)
      out[o++] = res[j];
  }
  out[o] = '\0';
  return CF_OK;
}

/* ------------------------------------------------------------------------ */
/* text[]                                                                   */
/* ------------------------------------------------------------------------ */

/* Parses a one-dimensional Postgres array literal into canonical JSON. */
static int pg_array_to_json(const char *s, size_t n, cf_buf *out) {
  cf_buf elem;
  cf__buf_init(&elem, CF_VALUE_MAX_BYTES);
  int rc = CF_INVALID;
  size_t i = 1; /* after '{' */
  int count = 0;
  if ((rc = cf__buf_putc(out, '[')) != CF_OK) goto out;
  rc = CF_INVALID;
  while (i < n && is_space(s[i]))
    i++;
  if (i < n && s[i] == '}') {
    i++;
    goto close;
  }
  for (;;) {
    cf__buf_reset(&elem);
    while (i < n && is_space(s[i]))
      i++;
    if (i >= n) goto out;
    if (s[i] == '"') {
      i++;
      for (;;) {
        if (i >= n) goto out;
        char c = s[i++];
        if (c == '"') break;
        if (c == '\\') {
          if (i >= n) goto out;
          c = s[i++];
        }
        if ((rc = cf__buf_putc(&elem, c)) != CF_OK) goto out;
        rc = CF_INVALID;
      }
      while (i < n && is_space(s[i]))
        i++;
    } else {
      if (s[i] == '{' || s[i] == '}' || s[i] == ',') goto out;
      size_t last_non_space = 0; /* elem length up to the last non-space */
      while (i < n && s[i] != ',' && s[i] != '}') {
        char c = s[i++];
        int escaped = 0;
        if (c == '{' || c == '"') goto out;
        if (c == '\\') {
          if (i >= n) goto out;
          c = s[i++];
          escaped = 1;
        }
        if ((rc = cf__buf_putc(&elem, c)) != CF_OK) goto out;
        rc = CF_INVALID;
        if (escaped || !is_space(c)) last_non_space = elem.len;
      }
      cf__buf_truncate(&elem, last_non_space);
      if (elem.len == 4 && (elem.p[0] | 0x20) == 'n' && (elem.p[1] | 0x20) == 'u' &&
          (elem.p[2] | 0x20) == 'l' && (elem.p[3] | 0x20) == 'l')
        goto out; /* NULL element: refused */
    }
    if (count++ > 0 && (rc = cf__buf_putc(out, ',')) != CF_OK) goto out;
    if ((rc = cf__json_quote(elem.p ? elem.p : "", elem.len, out)) != CF_OK) goto out;
    rc = CF_INVALID;
    if (i >= n) goto out;
    if (s[i] == ',') {
      i++;
      continue;
    }
    if (s[i] == '}') {
      i++;
      break;
    }
    goto out;
  }
close:
  if (i != n) goto out;
  rc = cf__buf_putc(out, ']');
out:
  cf__buf_free(&elem);
  return rc;
}

int cf__canon_text_array(const char *s, size_t n, cf_buf *out) {
  s = trim(s, &n);
  if (n > CF_VALUE_MAX_BYTES) return CF_TOOBIG;
  cf__buf_reset(out);
  int rc;
  if (n > 0 && s[0] == '{')
    rc = pg_array_to_json(s, n, out);
  else
    rc = cf__json_canon(s, n, CF_JSON_ARRAY_OF_STRINGS, out);
  if (rc != CF_OK) cf__buf_reset(out);
  return rc;
}

int cf__text_array_to_pg(const char *canon, size_t n, cf_buf *out) {
  cf_buf elem;
  cf__buf_init(&elem, CF_VALUE_MAX_BYTES);
  size_t pos = 0;
  int rc, count = 0;
  cf__buf_reset(out);
  if ((rc = cf__buf_putc(out, '{')) != CF_OK) goto out;
  while ((rc = cf__json_string_array_next(canon, n, &pos, &elem)) == CF_OK) {
    if (count++ > 0 && (rc = cf__buf_putc(out, ',')) != CF_OK) goto out;
    if ((rc = cf__buf_putc(out, '"')) != CF_OK) goto out;
    for (size_t i = 0; i < elem.len; i++) {
      char c = elem.p[i];
      if ((c == '"' || c == '\\') && (rc = cf__buf_putc(out, '\\')) != CF_OK) goto out;
      if ((rc = cf__buf_putc(out, c)) != CF_OK) goto out;
    }
    if ((rc = cf__buf_putc(out, '"')) != CF_OK) goto out;
  }
  if (rc != CF_DONE) goto out;
  rc = cf__buf_putc(out, '}');
out:
  cf__buf_free(&elem);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* The dispatcher                                                           */
/* ------------------------------------------------------------------------ */

/* Puts fixed text into the text buffer and points out at it. */
static int out_text(cf_buf *text, const char *s, size_t n, cf_value *out) {
  cf__buf_reset(text);
  int rc = cf__buf_append(text, s, n);
  if (rc != CF_OK) return rc;
  *out = cf__value_text(text->p, text->len);
  return CF_OK;
}

static int canon_integer(const cf_column *col, const cf_value *in, cf_value *out) {
  int64_t min = col->type == CF_TYPE_INTEGER ? INT32_MIN : INT64_MIN;
  int64_t max = col->type == CF_TYPE_INTEGER ? INT32_MAX : INT64_MAX;
  int64_t v;
  switch (in->kind) {
    case CF_VALUE_INT:
      v = in->i;
      break;
    case CF_VALUE_REAL:
      /* Only integral doubles exactly representable in int64. */
      if (!isfinite(in->d) || in->d != floor(in->d) || in->d < -9223372036854775808.0 ||
          in->d >= 9223372036854775808.0)
        return CF_INVALID;
      v = (int64_t)in->d;
      break;
    case CF_VALUE_TEXT:
      if (cf__canon_int_text(in->p, in->n, min, max, &v) != CF_OK) return CF_INVALID;
      break;
    default:
      return CF_INVALID;
  }
  if (v < min || v > max) return CF_INVALID;
  *out = cf__value_int(v);
  return CF_OK;
}

/* A number (INT or REAL) as decimal text in buf[CF_DOUBLE_TEXT_LEN]. */
static int number_text(const cf_value *in, char buf[CF_DOUBLE_TEXT_LEN]) {
  if (in->kind == CF_VALUE_INT) {
    snprintf(buf, CF_DOUBLE_TEXT_LEN, "%" PRId64, in->i);
    return CF_OK;
  }
  return cf__double_format(in->d, buf);
}

/* Canonical UUID text: 36 characters, lowercase hex, dashes at 8, 13, 18
** and 23 -- exactly what cf__uuid_format writes. */
static int is_canon_uuid_text(const char *p, size_t n) {
  if (n != 36) return 0;
  for (size_t i = 0; i < 36; i++) {
    char c = p[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return 0;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return 0;
    }
  }
  return 1;
}

int cf__value_is_canon(const cf_column *col, const cf_value *v, cf_buf *text, int *yes) {
  *yes = 0;
  if (v->kind == CF_VALUE_NULL) {
    *yes = col->nullable != 0;
    return CF_OK;
  }
  if ((v->kind == CF_VALUE_TEXT || v->kind == CF_VALUE_BLOB) && v->n > CF_VALUE_MAX_BYTES)
    return CF_OK;
  if (v->kind == CF_VALUE_TEXT && col->type == CF_TYPE_UUID) {
    *yes = is_canon_uuid_text(v->p, v->n);
    return CF_OK;
  }
  if (v->kind == CF_VALUE_TEXT && col->type == CF_TYPE_TEXT) {
    *yes = cf__utf8_valid(v->p, v->n) != 0;
    return CF_OK;
  }
  cf_value canon;
  int rc = cf__value_canon(col, v, text, &canon);
  if (rc == CF_NOMEM) return rc;
  *yes = rc == CF_OK && cf__value_equal(&canon, v);
  return CF_OK;
}

int cf__value_canon(const cf_column *col, const cf_value *in, cf_buf *text,
                    cf_value *out) {
  char tmp[CF_NUMERIC_TEXT_LEN > CF_DOUBLE_TEXT_LEN ? CF_NUMERIC_TEXT_LEN
                                                    : CF_DOUBLE_TEXT_LEN];
  char num[CF_DOUBLE_TEXT_LEN];
  int rc;
  /* The output buffer is reset below: the input must not live in it. */
  if (in->p != NULL && text->p != NULL && in->p >= text->p && in->p < text->p + text->cap)
    return CF_MISUSE;
  if (in->kind == CF_VALUE_NULL) {
    if (!col->nullable) return CF_CONSTRAINT;
    *out = cf__value_null();
    return CF_OK;
  }
  if (in->kind == CF_VALUE_REAL && !isfinite(in->d)) return CF_INVALID;
  if ((in->kind == CF_VALUE_TEXT || in->kind == CF_VALUE_BLOB) &&
      in->n > CF_VALUE_MAX_BYTES)
    return CF_TOOBIG;
  switch (col->type) {
    case CF_TYPE_UUID:
      if (in->kind == CF_VALUE_BLOB && in->n == CF_UUID_LEN) {
        cf_uuid u;
        memcpy(u.b, in->p, CF_UUID_LEN);
        cf__uuid_format(&u, tmp);
      } else if (in->kind != CF_VALUE_TEXT ||
                 cf__canon_uuid(in->p, in->n, tmp) != CF_OK) {
        return CF_INVALID;
      }
      return out_text(text, tmp, 36, out);
    case CF_TYPE_TEXT:
      if (in->kind == CF_VALUE_INT || in->kind == CF_VALUE_REAL) {
        if ((rc = number_text(in, num)) != CF_OK) return rc;
        return out_text(text, num, strlen(num), out);
      }
      if (in->kind != CF_VALUE_TEXT || !cf__utf8_valid(in->p, in->n)) return CF_INVALID;
      return out_text(text, in->p, in->n, out);
    case CF_TYPE_INTEGER:
    case CF_TYPE_BIGINT:
      return canon_integer(col, in, out);
    case CF_TYPE_NUMERIC:
      if (in->kind == CF_VALUE_INT || in->kind == CF_VALUE_REAL) {
        if ((rc = number_text(in, num)) != CF_OK) return rc;
        rc = cf__canon_numeric(num, strlen(num), col->precision, col->scale, tmp);
      } else if (in->kind == CF_VALUE_TEXT) {
        rc = cf__canon_numeric(in->p, in->n, col->precision, col->scale, tmp);
      } else {
        rc = CF_INVALID;
      }
      if (rc != CF_OK) return rc;
      return out_text(text, tmp, strlen(tmp), out);
    case CF_TYPE_BOOLEAN: {
      int b;
      if (in->kind == CF_VALUE_INT && (in->i == 0 || in->i == 1))
        b = (int)in->i;
      else if (in->kind != CF_VALUE_TEXT ||
               cf__canon_bool_text(in->p, in->n, &b) != CF_OK)
        return CF_INVALID;
      *out = cf__value_int(b);
      return CF_OK;
    }
    case CF_TYPE_DATE:
      if (in->kind != CF_VALUE_TEXT || cf__canon_date(in->p, in->n, tmp) != CF_OK)
        return CF_INVALID;
      return out_text(text, tmp, 10, out);
    case CF_TYPE_TIMESTAMPTZ:
      if (in->kind != CF_VALUE_TEXT || cf__canon_timestamptz(in->p, in->n, tmp) != CF_OK)
        return CF_INVALID;
      return out_text(text, tmp, CF_TIMESTAMP_TEXT_LEN - 1, out);
    case CF_TYPE_JSONB:
      cf__buf_reset(text);
      if (in->kind == CF_VALUE_INT || in->kind == CF_VALUE_REAL) {
        if ((rc = number_text(in, num)) != CF_OK) return rc;
        rc = cf__json_canon(num, strlen(num), CF_JSON_ANY, text);
      } else if (in->kind == CF_VALUE_TEXT) {
        rc = cf__json_canon(in->p, in->n, CF_JSON_ANY, text);
      } else {
        rc = CF_INVALID;
      }
      if (rc != CF_OK) return rc;
      *out = cf__value_text(text->p, text->len);
      return CF_OK;
    case CF_TYPE_TEXT_ARRAY:
      if (in->kind != CF_VALUE_TEXT) return CF_INVALID;
      if ((rc = cf__canon_text_array(in->p, in->n, text)) != CF_OK) return rc;
      *out = cf__value_text(text->p, text->len);
      return CF_OK;
  }
  return CF_INVALID;
}

int cf__column_default(const cf_column *col, cf_value *out) {
  switch (col->def) {
    case CF_DEFAULT_CONST:
      if (col->type == CF_TYPE_INTEGER || col->type == CF_TYPE_BIGINT ||
          col->type == CF_TYPE_BOOLEAN) {
        int64_t v;
        if (cf__canon_int_text(col->default_text, strlen(col->default_text), INT64_MIN,
                               INT64_MAX, &v) != CF_OK)
          return CF_MISUSE;
        *out = cf__value_int(v);
      } else {
        *out = cf__value_text(col->default_text, strlen(col->default_text));
      }
      return CF_OK;
    case CF_DEFAULT_NONE:
      if (!col->nullable) return CF_CONSTRAINT;
      *out = cf__value_null();
      return CF_OK;
    case CF_DEFAULT_UUIDV7:
    case CF_DEFAULT_ORG:
    case CF_DEFAULT_NOW:
      return CF_NOTFOUND;
  }
  return CF_MISUSE;
}
