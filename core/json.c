/*
** core/json.c: the bounded JSON canonicaliser (see core/json.h for the
** canonical form, docs/sync.md for why).
**
** One recursive-descent pass reads the input and writes the canonical text.
** Arrays are written straight to the output.  An object's members are each
** written to a scratch buffer of that object, then sorted by key (bytewise,
** ties by position so the last duplicate wins) and copied out, so memory is
** at most about twice the output.  The output is bounded too: a number's
** canonical form can be longer than its input (1e999), so the parser keeps a
** budget of such growth (CF_JSON_MAX_INPUT bytes in all).
*/
#include "core/crypto.h"
#include "core/json.h"

#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "platform/platform.h"

/* The parser's state. */
typedef struct parser {
  const char *s;             /* the input */
  size_t n;                  /* its length */
  size_t i;                  /* the read position */
  int depth;                 /* open arrays and objects */
  cf_json_expect expect;     /* what the top-level value must be */
  size_t growth;             /* bytes numbers grew by so far */
  size_t limit;              /* limit for scratch buffers */
  cf_buf str;                /* scratch for decoding one string value */
  const cf_json_limits *lim; /* cf__json_read's bounds, NULL when canonicalising */
  int arrays;                /* open arrays (cf__json_read) */
} parser;

/* Where a decoded string goes: a growable buffer, a fixed array, or nowhere
** (validation only, when the sink pointer is NULL). */
typedef struct sink {
  cf_buf *buf; /* append here if not NULL */
  char *dst;   /* else write here, */
  size_t cap;  /* at most this many bytes */
  size_t len;  /* bytes written to dst */
} sink;

static int sink_put(sink *k, const char *s, size_t n) {
  if (k == NULL) return CF_OK;
  if (k->buf != NULL) return cf__buf_append(k->buf, s, n);
  if (n > k->cap - k->len) return CF_TOOBIG;
  memcpy(k->dst + k->len, s, n);
  k->len += n;
  return CF_OK;
}

/* One object member, pointing into the object's scratch buffers. */
typedef struct member {
  const char *key; /* decoded key bytes (UTF-8) */
  size_t klen;     /* their length */
  size_t koff;     /* offset of the key in the key buffer (before sorting) */
  size_t voff;     /* offset of the canonical value in the value buffer */
  size_t vlen;     /* its length */
  size_t idx;      /* position in the input, for last-wins on duplicates */
} member;

static int canon_value(parser *p, cf_buf *out);

static void skip_ws(parser *p) {
  while (p->i < p->n) {
    char c = p->s[p->i];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
    p->i++;
  }
}

/* Reads 4 hex digits at p->i.  OUT: *v.  0 on failure. */
static int read_hex4(parser *p, unsigned *v) {
  if (p->n - p->i < 4) return 0;
  unsigned x = 0;
  for (int k = 0; k < 4; k++) {
    int h = cf__hex_digit(p->s[p->i + (size_t)k]);
    if (h < 0) return 0;
    x = x << 4 | (unsigned)h;
  }
  p->i += 4;
  *v = x;
  return 1;
}

static int put_utf8(sink *b, unsigned cp) {
  char u[4];
  size_t len;
  if (cp < 0x80) {
    u[0] = (char)cp;
    len = 1;
  } else if (cp < 0x800) {
    u[0] = (char)(0xc0 | (cp >> 6));
    u[1] = (char)(0x80 | (cp & 0x3f));
    len = 2;
  } else if (cp < 0x10000) {
    u[0] = (char)(0xe0 | (cp >> 12));
    u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    u[2] = (char)(0x80 | (cp & 0x3f));
    len = 3;
  } else {
    u[0] = (char)(0xf0 | (cp >> 18));
    u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    u[3] = (char)(0x80 | (cp & 0x3f));
    len = 4;
  }
  return sink_put(b, u, len);
}

/* Decodes the string at p->i (on its opening quote) into raw (appended; NULL
** only checks it).  The text must be valid UTF-8; an escaped NUL (\u0000) is
** refused unless nul_ok.  Each run of unescaped bytes is checked on its own:
** runs end at ASCII bytes only, so they never split a character, and the
** escapes decode to whole characters, so this equals checking the result. */
static int parse_string(parser *p, sink *raw, int nul_ok) {
  int rc;
  if (p->i >= p->n || p->s[p->i] != '"') return CF_INVALID;
  p->i++;
  for (;;) {
    if (p->i >= p->n) return CF_INVALID;
    /* Copy the run of plain bytes in one go. */
    size_t run = p->i;
    while (run < p->n && p->s[run] != '"' && p->s[run] != '\\' &&
           (unsigned char)p->s[run] >= 0x20)
      run++;
    if (run > p->i) {
      if (!cf__utf8_valid(p->s + p->i, run - p->i)) return CF_INVALID;
      if ((rc = sink_put(raw, p->s + p->i, run - p->i)) != CF_OK) return rc;
      p->i = run;
      continue;
    }
    char c = p->s[p->i++];
    if (c == '"') break;
    if (c != '\\') return CF_INVALID; /* a raw control character */
    if (p->i >= p->n) return CF_INVALID;
    c = p->s[p->i++];
    char e;
    switch (c) {
      case '"':
        e = '"';
        break;
      case '\\':
        e = '\\';
        break;
      case '/':
        e = '/';
        break;
      case 'b':
        e = '\b';
        break;
      case 'f':
        e = '\f';
        break;
      case 'n':
        e = '\n';
        break;
      case 'r':
        e = '\r';
        break;
      case 't':
        e = '\t';
        break;
      case 'u': {
        unsigned cp, lo;
        if (!read_hex4(p, &cp)) return CF_INVALID;
        if (cp >= 0xdc00 && cp <= 0xdfff) return CF_INVALID; /* lone low */
        if (cp >= 0xd800 && cp <= 0xdbff) {
          if (p->n - p->i < 2 || p->s[p->i] != '\\' || p->s[p->i + 1] != 'u')
            return CF_INVALID;
          p->i += 2;
          if (!read_hex4(p, &lo) || lo < 0xdc00 || lo > 0xdfff) return CF_INVALID;
          cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        }
        if (cp == 0 && !nul_ok) return CF_INVALID; /* as jsonb: no \u0000 in text */
        if ((rc = put_utf8(raw, cp)) != CF_OK) return rc;
        continue;
      }
      default:
        return CF_INVALID;
    }
    if ((rc = sink_put(raw, &e, 1)) != CF_OK) return rc;
  }
  return CF_OK;
}

/* Appends raw bytes as a canonical JSON string (no validation). */
static int quote_raw(const char *s, size_t n, cf_buf *out) {
  int rc = cf__buf_putc(out, '"');
  size_t i = 0;
  while (rc == CF_OK && i < n) {
    size_t run = i;
    while (run < n && s[run] != '"' && s[run] != '\\' && (unsigned char)s[run] >= 0x20)
      run++;
    if (run > i) {
      rc = cf__buf_append(out, s + i, run - i);
      i = run;
      continue;
    }
    unsigned char c = (unsigned char)s[i++];
    char esc[6] = {'\\', 0, 0, 0, 0, 0};
    size_t len = 2;
    switch (c) {
      case '"':
        esc[1] = '"';
        break;
      case '\\':
        esc[1] = '\\';
        break;
      case '\b':
        esc[1] = 'b';
        break;
      case '\f':
        esc[1] = 'f';
        break;
      case '\n':
        esc[1] = 'n';
        break;
      case '\r':
        esc[1] = 'r';
        break;
      case '\t':
        esc[1] = 't';
        break;
      default:
        esc[1] = 'u';
        esc[2] = '0';
        esc[3] = '0';
        char digits[3];
        cf__hex(&c, 1, digits);
        esc[4] = digits[0];
        esc[5] = digits[1];
        len = 6;
    }
    rc = cf__buf_append(out, esc, len);
  }
  if (rc == CF_OK) rc = cf__buf_putc(out, '"');
  return rc;
}

int cf__json_quote(const char *s, size_t n, cf_buf *out) {
  if (!cf__utf8_valid(s, n)) return CF_INVALID;
  size_t mark = out->len;
  int rc = quote_raw(s, n, out);
  if (rc != CF_OK) cf__buf_truncate(out, mark);
  return rc;
}

/* A number as written: where its parts are in the text. */
typedef struct number {
  size_t start;                /* first byte (the '-' if any) */
  int neg;                     /* there is a '-' */
  size_t int_start, int_end;   /* integer digits */
  size_t frac_start, frac_end; /* fraction digits (empty if none) */
  long exp;                    /* the exponent, when !exp_big */
  int exp_big;                 /* |exponent| > CF_JSON_MAX_EXPONENT */
} number;

/* Reads the grammar of a JSON number at p->i (RFC 8259 section 6) and
** moves past it.  CF_OK or CF_INVALID. */
static int scan_number(parser *p, number *num) {
  const char *s = p->s;
  size_t i = p->i, n = p->n;
  memset(num, 0, sizeof *num);
  num->start = i;
  if (i < n && s[i] == '-') {
    num->neg = 1;
    i++;
  }
  if (i >= n || s[i] < '0' || s[i] > '9') return CF_INVALID;
  num->int_start = i;
  if (s[i] == '0') {
    i++;
  } else {
    while (i < n && s[i] >= '0' && s[i] <= '9')
      i++;
  }
  num->int_end = num->frac_start = num->frac_end = i;
  if (i < n && s[i] == '.') {
    num->frac_start = ++i;
    while (i < n && s[i] >= '0' && s[i] <= '9')
      i++;
    num->frac_end = i;
    if (num->frac_end == num->frac_start) return CF_INVALID;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    int eneg = 0;
    i++;
    if (i < n && (s[i] == '+' || s[i] == '-')) eneg = s[i++] == '-';
    if (i >= n || s[i] < '0' || s[i] > '9') return CF_INVALID;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
      if (!num->exp_big) num->exp = num->exp * 10 + (s[i] - '0');
      if (num->exp > CF_JSON_MAX_EXPONENT) num->exp_big = 1;
      i++;
    }
    if (eneg) num->exp = -num->exp;
  }
  p->i = i;
  return CF_OK;
}

/* Canonical number: see core/json.h.  Digits are kept as text throughout. */
static int canon_number(parser *p, cf_buf *out) {
  const char *s = p->s;
  number num;
  int rc = scan_number(p, &num);
  if (rc != CF_OK) return rc;
  if (num.exp_big) return CF_TOOBIG;
  size_t i = p->i, start = num.start;
  int neg = num.neg;
  size_t int_start = num.int_start, int_end = num.int_end;
  size_t frac_start = num.frac_start, frac_end = num.frac_end;
  long exp = num.exp;

  /* Strip leading zeros (integer part, then fraction) and trailing zeros. */
  long point = (long)(int_end - int_start);
  size_t a = int_start, b = int_end; /* integer digits a..b */
  size_t fa = frac_start, fb = frac_end;
  while (a < b && s[a] == '0') {
    a++;
    point--;
  }
  if (a == b) {
    while (fa < fb && s[fa] == '0') {
      fa++;
      point--;
    }
  }
  while (fb > fa && s[fb - 1] == '0')
    fb--;
  if (fb == fa) {
    while (b > a && s[b - 1] == '0')
      b--;
  }
  size_t nd = (b - a) + (fb - fa);
  if (nd == 0) return cf__buf_putc(out, '0'); /* -0, 0.000, 0e5 */
  point += exp;

  /* Length of the written-out form, checked before writing. */
  size_t len = (size_t)neg;
  if (point <= 0)
    len += 2 + (size_t)(-point) + nd;
  else if ((size_t)point < nd)
    len += nd + 1;
  else
    len += (size_t)point;
  if (len > CF_JSON_MAX_NUMBER_DIGITS) return CF_TOOBIG;
  if (len > i - start) {
    p->growth += len - (i - start);
    if (p->growth > CF_JSON_MAX_INPUT) return CF_TOOBIG;
  }
  rc = cf__buf_reserve(out, len);
  if (rc != CF_OK) return rc;
  char *o = out->p + out->len;
  size_t k = 0;
  if (neg) o[k++] = '-';
  if (point <= 0) {
    o[k++] = '0';
    o[k++] = '.';
    for (long z = 0; z < -point; z++)
      o[k++] = '0';
  }
  size_t written = 0; /* significant digits written */
  for (size_t j = a; j < b; j++, written++) {
    if (point > 0 && written == (size_t)point) o[k++] = '.';
    o[k++] = s[j];
  }
  for (size_t j = fa; j < fb; j++, written++) {
    if (point > 0 && written == (size_t)point) o[k++] = '.';
    o[k++] = s[j];
  }
  for (; point > 0 && written < (size_t)point; written++)
    o[k++] = '0';
  out->len += k;
  out->p[out->len] = '\0';
  return CF_OK;
}

static int literal(parser *p, const char *word, cf_buf *out) {
  size_t len = strlen(word);
  if (p->n - p->i < len || memcmp(p->s + p->i, word, len) != 0) return CF_INVALID;
  p->i += len;
  return cf__buf_append(out, word, len);
}

static int canon_array(parser *p, cf_buf *out) {
  int rc, strings_only = p->expect == CF_JSON_ARRAY_OF_STRINGS && p->depth == 1;
  p->i++; /* '[' */
  if ((rc = cf__buf_putc(out, '[')) != CF_OK) return rc;
  skip_ws(p);
  if (p->i < p->n && p->s[p->i] == ']') {
    p->i++;
    return cf__buf_putc(out, ']');
  }
  for (size_t count = 0;; count++) {
    if (count > 0 && (rc = cf__buf_putc(out, ',')) != CF_OK) return rc;
    skip_ws(p);
    if (strings_only && (p->i >= p->n || p->s[p->i] != '"')) return CF_INVALID;
    if ((rc = canon_value(p, out)) != CF_OK) return rc;
    skip_ws(p);
    if (p->i >= p->n) return CF_INVALID;
    char c = p->s[p->i++];
    if (c == ']') break;
    if (c != ',') return CF_INVALID;
  }
  return cf__buf_putc(out, ']');
}

static int member_cmp(const void *x, const void *y) {
  const member *a = x, *b = y;
  size_t n = a->klen < b->klen ? a->klen : b->klen;
  int c = n ? memcmp(a->key, b->key, n) : 0;
  if (c != 0) return c;
  if (a->klen != b->klen) return a->klen < b->klen ? -1 : 1;
  return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static int canon_object(parser *p, cf_buf *out) {
  cf_buf keys, vals;
  member *m = NULL;
  size_t count = 0, cap = 0;
  int rc;
  cf__buf_init(&keys, p->limit);
  cf__buf_init(&vals, p->limit);
  p->i++; /* '{' */
  skip_ws(p);
  if (p->i < p->n && p->s[p->i] == '}') {
    p->i++;
    rc = cf__buf_append(out, "{}", 2);
    goto out;
  }
  for (;;) {
    if (count == cap) {
      size_t ncap = cap ? cap * 2 : 8;
      /* Each member takes at least 4 input bytes ("":0): a hard bound. */
      if (ncap > p->n / 4 + 8) ncap = p->n / 4 + 8;
      if (ncap <= count) {
        rc = CF_TOOBIG;
        goto out;
      }
      member *grown = cf__realloc(m, ncap * sizeof *m);
      if (grown == NULL) {
        rc = CF_NOMEM;
        goto out;
      }
      m = grown;
      cap = ncap;
    }
    skip_ws(p);
    m[count].koff = keys.len;
    sink ks = {&keys, NULL, 0, 0};
    if ((rc = parse_string(p, &ks, 0)) != CF_OK) goto out;
    m[count].klen = keys.len - m[count].koff;
    skip_ws(p);
    if (p->i >= p->n || p->s[p->i] != ':') {
      rc = CF_INVALID;
      goto out;
    }
    p->i++;
    skip_ws(p);
    m[count].voff = vals.len;
    if ((rc = canon_value(p, &vals)) != CF_OK) goto out;
    m[count].vlen = vals.len - m[count].voff;
    m[count].idx = count;
    count++;
    skip_ws(p);
    if (p->i >= p->n) {
      rc = CF_INVALID;
      goto out;
    }
    char c = p->s[p->i++];
    if (c == '}') break;
    if (c != ',') {
      rc = CF_INVALID;
      goto out;
    }
  }
  /* keys.p no longer moves: point the members at their keys and sort. */
  for (size_t j = 0; j < count; j++)
    m[j].key = keys.p ? keys.p + m[j].koff : "";
  qsort(m, count, sizeof *m, member_cmp);
  if ((rc = cf__buf_putc(out, '{')) != CF_OK) goto out;
  int first = 1;
  for (size_t j = 0; j < count; j++) {
    /* Of equal keys (adjacent, in input order) only the last is kept. */
    if (j + 1 < count && m[j].klen == m[j + 1].klen &&
        memcmp(m[j].key, m[j + 1].key, m[j].klen) == 0)
      continue;
    if (!first && (rc = cf__buf_putc(out, ',')) != CF_OK) goto out;
    first = 0;
    if ((rc = quote_raw(m[j].key, m[j].klen, out)) != CF_OK) goto out;
    if ((rc = cf__buf_putc(out, ':')) != CF_OK) goto out;
    if ((rc = cf__buf_append(out, vals.p + m[j].voff, m[j].vlen)) != CF_OK) goto out;
  }
  rc = cf__buf_putc(out, '}');
out:
  cf__free(m);
  cf__buf_free(&keys);
  cf__buf_free(&vals);
  return rc;
}

static int canon_value(parser *p, cf_buf *out) {
  int rc;
  skip_ws(p);
  if (p->i >= p->n) return CF_INVALID;
  switch (p->s[p->i]) {
    case '{':
    case '[':
      if (p->depth >= CF_JSON_MAX_DEPTH) return CF_TOOBIG;
      p->depth++;
      rc = p->s[p->i] == '{' ? canon_object(p, out) : canon_array(p, out);
      p->depth--;
      return rc;
    case '"':
      /* A string value is decoded whole before anything else is parsed, so
      ** one scratch buffer serves every string of the document. */
      cf__buf_reset(&p->str);
      sink ss = {&p->str, NULL, 0, 0};
      rc = parse_string(p, &ss, 0);
      if (rc == CF_OK) rc = quote_raw(p->str.p ? p->str.p : "", p->str.len, out);
      return rc;
    case 't':
      return literal(p, "true", out);
    case 'f':
      return literal(p, "false", out);
    case 'n':
      return literal(p, "null", out);
    default:
      return canon_number(p, out);
  }
}

int cf__json_canon(const char *s, size_t n, cf_json_expect expect, cf_buf *out) {
  if (s == NULL) return CF_INVALID;
  if (n > CF_JSON_MAX_INPUT) return CF_TOOBIG;
  parser p = {s, n, 0, 0, expect, 0, out->limit, {NULL, 0, 0, 0}, NULL, 0};
  cf__buf_init(&p.str, out->limit);
  size_t mark = out->len;
  skip_ws(&p);
  int rc = CF_OK;
  if (expect == CF_JSON_OBJECT && (p.i >= n || s[p.i] != '{')) rc = CF_INVALID;
  if (expect == CF_JSON_ARRAY_OF_STRINGS && (p.i >= n || s[p.i] != '[')) rc = CF_INVALID;
  if (rc == CF_OK) rc = canon_value(&p, out);
  if (rc == CF_OK) {
    skip_ws(&p);
    if (p.i != n) rc = CF_INVALID;
  }
  if (rc != CF_OK) cf__buf_truncate(out, mark);
  cf__buf_free(&p.str);
  return rc;
}

int cf__json_string_array_next(const char *s, size_t n, size_t *pos, cf_buf *elem) {
  parser p = {s,    n, *pos, 0, CF_JSON_ARRAY_OF_STRINGS, 0, elem->limit, {NULL, 0, 0, 0},
              NULL, 0};
  int rc;
  if (p.i >= n) return CF_DONE;
  if (p.i == 0) {
    skip_ws(&p);
    if (p.i >= n || s[p.i] != '[') return CF_INVALID;
    p.i++;
    skip_ws(&p);
    if (p.i < n && s[p.i] == ']') {
      p.i++;
      skip_ws(&p);
      if (p.i != n) return CF_INVALID;
      *pos = n;
      return CF_DONE;
    }
  }
  cf__buf_reset(elem);
  skip_ws(&p);
  sink es = {elem, NULL, 0, 0};
  if ((rc = parse_string(&p, &es, 0)) != CF_OK) return rc;
  skip_ws(&p);
  if (p.i >= n) return CF_INVALID;
  if (s[p.i] == ',') {
    p.i++;
  } else if (s[p.i] == ']') {
    p.i++;
    skip_ws(&p);
    if (p.i != n) return CF_INVALID;
    p.i = n;
  } else {
    return CF_INVALID;
  }
  *pos = p.i;
  return CF_OK;
}

/* ---- the reader (cf__json_read and its walkers) ------------------------------- */

/* Moves past a literal word; CF_OK or CF_INVALID. */
static int skip_literal(parser *p, const char *word) {
  size_t len = strlen(word);
  if (p->n - p->i < len || memcmp(p->s + p->i, word, len) != 0) return CF_INVALID;
  p->i += len;
  return CF_OK;
}

static int check_value(parser *p, size_t path);

/* An object at p->i whose members' paths start with path bytes. */
static int check_object(parser *p, size_t path) {
  int rc;
  p->i++; /* '{' */
  skip_ws(p);
  if (p->i < p->n && p->s[p->i] == '}') {
    p->i++;
    return CF_OK;
  }
  for (;;) {
    skip_ws(p);
    size_t start = p->i;
    if ((rc = parse_string(p, NULL, 1)) != CF_OK) return rc;
    size_t name = p->i - start - 2; /* as written, without the quotes */
    size_t npath = path + (path ? 1 : 0) + name;
    if (name > p->lim->max_name || npath > p->lim->max_path) return CF_TOOBIG;
    skip_ws(p);
    if (p->i >= p->n || p->s[p->i] != ':') return CF_INVALID;
    p->i++;
    if ((rc = check_value(p, npath)) != CF_OK) return rc;
    skip_ws(p);
    if (p->i >= p->n) return CF_INVALID;
    char c = p->s[p->i++];
    if (c == '}') return CF_OK;
    if (c != ',') return CF_INVALID;
  }
}

/* An array at p->i; its elements' paths are path "[]". */
static int check_array(parser *p, size_t path) {
  int rc;
  path += 2;
  if (path > p->lim->max_path || p->arrays >= p->lim->max_arrays) return CF_TOOBIG;
  p->arrays++;
  p->i++; /* '[' */
  skip_ws(p);
  if (p->i < p->n && p->s[p->i] == ']') {
    p->i++;
    p->arrays--;
    return CF_OK;
  }
  for (;;) {
    if ((rc = check_value(p, path)) != CF_OK) return rc;
    skip_ws(p);
    if (p->i >= p->n) return CF_INVALID;
    char c = p->s[p->i++];
    if (c == ']') break;
    if (c != ',') return CF_INVALID;
  }
  p->arrays--;
  return CF_OK;
}

static int check_value(parser *p, size_t path) {
  int rc;
  number num;
  skip_ws(p);
  if (p->i >= p->n) return CF_INVALID;
  switch (p->s[p->i]) {
    case '{':
    case '[':
      if (p->depth >= p->lim->max_depth || p->depth >= CF_JSON_MAX_DEPTH)
        return CF_TOOBIG;
      p->depth++;
      rc = p->s[p->i] == '{' ? check_object(p, path) : check_array(p, path);
      p->depth--;
      return rc;
    case '"':
      return parse_string(p, NULL, 1);
    case 't':
      return skip_literal(p, "true");
    case 'f':
      return skip_literal(p, "false");
    case 'n':
      return skip_literal(p, "null");
    default:
      if ((rc = scan_number(p, &num)) != CF_OK) return rc;
      return p->i - num.start > p->lim->max_number ? CF_TOOBIG : CF_OK;
  }
}

/* The type of the (checked) value starting with c. */
static cf_json_type type_of(char c) {
  switch (c) {
    case '{':
      return CF_JSON_T_OBJECT;
    case '[':
      return CF_JSON_T_ARRAY;
    case '"':
      return CF_JSON_T_STRING;
    case 't':
      return CF_JSON_T_TRUE;
    case 'f':
      return CF_JSON_T_FALSE;
    case 'n':
      return CF_JSON_T_NULL;
    default:
      return CF_JSON_T_NUMBER;
  }
}

int cf__json_read(const char *s, size_t n, const cf_json_limits *lim, cf_json_val *root) {
  root->p = NULL;
  root->n = 0;
  root->type = CF_JSON_T_NULL;
  if (s == NULL || lim == NULL) return CF_INVALID;
  if (n > CF_JSON_MAX_INPUT) return CF_TOOBIG;
  parser p = {s, n, 0, 0, CF_JSON_ANY, 0, 0, {NULL, 0, 0, 0}, lim, 0};
  skip_ws(&p);
  size_t start = p.i;
  int rc = check_value(&p, 0);
  if (rc != CF_OK) return rc;
  size_t end = p.i;
  skip_ws(&p);
  if (p.i != n) return CF_INVALID;
  root->p = s + start;
  root->n = end - start;
  root->type = type_of(s[start]);
  return CF_OK;
}

/*
** The walkers below only ever see text that cf__json_read accepted, so they
** find the end of a value without checking its grammar again: a string ends
** at its first unescaped quote, a container at its matching bracket (quotes
** tracked), a scalar at the first byte that cannot belong to it.  They still
** never read past the span they were given.
*/

static void walk_ws(const cf_json_val *v, size_t *i) {
  while (*i < v->n &&
         (v->p[*i] == ' ' || v->p[*i] == '\t' || v->p[*i] == '\n' || v->p[*i] == '\r'))
    (*i)++;
}

/* The value starting at v->p[*i]: OUT *out; moves *i past it. */
static void walk_value(const cf_json_val *v, size_t *i, cf_json_val *out) {
  size_t start = *i, k = *i;
  char c = v->p[k];
  if (c == '"') {
    for (k++; k < v->n && v->p[k] != '"'; k++)
      if (v->p[k] == '\\') k++;
    k++;
  } else if (c == '{' || c == '[') {
    int depth = 0, in_str = 0;
    for (; k < v->n; k++) {
      char d = v->p[k];
      if (in_str) {
        if (d == '\\')
          k++;
        else if (d == '"')
          in_str = 0;
      } else if (d == '"') {
        in_str = 1;
      } else if (d == '{' || d == '[') {
        depth++;
      } else if ((d == '}' || d == ']') && --depth == 0) {
        k++;
        break;
      }
    }
  } else {
    while (k < v->n && v->p[k] != ',' && v->p[k] != ']' && v->p[k] != '}' &&
           v->p[k] != ' ' && v->p[k] != '\t' && v->p[k] != '\n' && v->p[k] != '\r')
      k++;
  }
  if (k > v->n) k = v->n;
  *i = k;
  out->p = v->p + start;
  out->n = k - start;
  out->type = type_of(c);
}

/* Starts or continues a walk of container v: CF_OK with *i on the next
** element, CF_DONE at the closing bracket, CF_INVALID if v is not open. */
static int walk_next(const cf_json_val *v, cf_json_type type, size_t *i) {
  if (v->type != type || v->n < 2) return CF_INVALID;
  if (*i == 0) *i = 1; /* after the opening bracket */
  walk_ws(v, i);
  if (*i < v->n && v->p[*i] == ',') {
    (*i)++;
    walk_ws(v, i);
  }
  if (*i + 1 >= v->n) return CF_DONE; /* the closing bracket */
  return CF_OK;
}

int cf__json_object_next(const cf_json_val *obj, size_t *pos, cf_json_val *name,
                         cf_json_val *value) {
  int rc = walk_next(obj, CF_JSON_T_OBJECT, pos);
  if (rc != CF_OK) return rc;
  walk_value(obj, pos, name);
  walk_ws(obj, pos);
  if (*pos < obj->n && obj->p[*pos] == ':') (*pos)++;
  walk_ws(obj, pos);
  if (*pos >= obj->n) return CF_INVALID; /* NEVER for checked text */
  walk_value(obj, pos, value);
  return CF_OK;
}

int cf__json_array_next(const cf_json_val *arr, size_t *pos, cf_json_val *item) {
  int rc = walk_next(arr, CF_JSON_T_ARRAY, pos);
  if (rc != CF_OK) return rc;
  walk_value(arr, pos, item);
  return CF_OK;
}

int cf__json_string_get(const cf_json_val *str, char *dst, size_t cap, size_t *len) {
  if (len != NULL) *len = 0;
  if (str->type != CF_JSON_T_STRING || cap == 0) return CF_INVALID;
  parser p = {str->p, str->n, 0, 0, CF_JSON_ANY, 0, 0, {NULL, 0, 0, 0}, NULL, 0};
  sink k = {NULL, dst, cap - 1, 0};
  int rc = parse_string(&p, &k, 1);
  dst[k.len] = '\0';
  if (rc != CF_OK) return rc;
  if (len != NULL) *len = k.len;
  return CF_OK;
}

int cf__json_uint(const cf_json_val *num, uint64_t max, uint64_t *out) {
  uint64_t v = 0;
  if (num->type != CF_JSON_T_NUMBER || num->n == 0) return CF_INVALID;
  for (size_t i = 0; i < num->n; i++) {
    char c = num->p[i];
    if (c < '0' || c > '9') return CF_INVALID; /* sign, fraction or exponent */
    if (v > max / 10 || v * 10 + (uint64_t)(c - '0') > max) return CF_INVALID;
    v = v * 10 + (uint64_t)(c - '0');
  }
  *out = v;
  return CF_OK;
}

int cf__json_object_pick(const cf_json_val *obj, const char *const *names, int count,
                         cf_json_val *found) {
  char name[CF_JSON_PICK_NAME_MAX + 1];
  cf_json_val key, value;
  size_t pos = 0, len = 0;
  int rc;
  for (int i = 0; i < count; i++)
    found[i] = (cf_json_val){NULL, 0, CF_JSON_T_NULL};
  while ((rc = cf__json_object_next(obj, &pos, &key, &value)) == CF_OK) {
    /* A name too long to decode here is none of the wanted ones. */
    if (cf__json_string_get(&key, name, sizeof name, &len) != CF_OK) continue;
    for (int i = 0; i < count; i++) {
      if (strlen(names[i]) != len || memcmp(names[i], name, len) != 0) continue;
      if (found[i].p != NULL) return CF_INVALID; /* a duplicate */
      found[i] = value;
      break;
    }
  }
  return rc == CF_DONE ? CF_OK : rc;
}
