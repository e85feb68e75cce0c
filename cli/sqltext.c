/*
** cli/sqltext.c: statement splitting for `clientflow node sql` (see
** cli/sqltext.h).  A tiny lexer: each call of next_token() skips blanks and
** comments and returns one token: a word (letters, digits, '_', '$'), a
** quoted string or identifier (its quotes included), or one other byte.
*/
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "cli/sqltext.h"

typedef enum { TOK_END, TOK_WORD, TOK_QUOTED, TOK_PUNCT } tok_kind;

typedef struct tok {
  tok_kind kind;    /* what it is */
  const char *text; /* first byte */
  size_t len;       /* bytes */
} tok;

static int is_word_byte(unsigned char c) {
  return isalnum(c) || c == '_' || c == '$' || c >= 0x80;
}

/* Skips blanks and comments from p; returns the first byte of what follows. */
static const char *skip_blank(const char *p, const char *end) {
  while (p < end) {
    if (isspace((unsigned char)*p)) {
      p++;
    } else if (*p == '-' && p + 1 < end && p[1] == '-') {
      while (p < end && *p != '\n')
        p++;
    } else if (*p == '/' && p + 1 < end && p[1] == '*') {
      const char *close = NULL;
      for (const char *q = p + 2; q + 1 < end; q++)
        if (q[0] == '*' && q[1] == '/') {
          close = q;
          break;
        }
      p = close ? close + 2 : end;
    } else {
      break;
    }
  }
  return p;
}

/* The token at p (after blanks and comments). */
static tok next_token(const char *p, const char *end) {
  tok t = {TOK_END, end, 0};
  p = skip_blank(p, end);
  if (p >= end) return t;
  t.text = p;
  char c = *p;
  if (c == '\'' || c == '"' || c == '`' || c == '[') {
    char close = c == '[' ? ']' : c;
    const char *q = p + 1;
    while (q < end) {
      if (*q == close) {
        /* A doubled quote is one quote inside the string (not for []). */
        if (close != ']' && q + 1 < end && q[1] == close) {
          q += 2;
          continue;
        }
        q++;
        break;
      }
      q++;
    }
    t.kind = TOK_QUOTED;
    t.len = (size_t)(q - p);
  } else if (is_word_byte((unsigned char)c)) {
    const char *q = p;
    while (q < end && is_word_byte((unsigned char)*q))
      q++;
    t.kind = TOK_WORD;
    t.len = (size_t)(q - p);
  } else {
    t.kind = TOK_PUNCT;
    t.len = 1;
  }
  return t;
}

static int word_is(tok t, const char *w) {
  return t.kind == TOK_WORD && t.len == strlen(w) && strncasecmp(t.text, w, t.len) == 0;
}

/* True when the statement starting at p is CREATE [TEMP|TEMPORARY] TRIGGER. */
static int starts_trigger(const char *p, const char *end) {
  tok t = next_token(p, end);
  if (!word_is(t, "CREATE")) return 0;
  t = next_token(t.text + t.len, end);
  if (word_is(t, "TEMP") || word_is(t, "TEMPORARY")) t = next_token(t.text + t.len, end);
  return word_is(t, "TRIGGER");
}

int cf_cli_sql_split(const char *sql, cf_cli_sql_span *out, int max) {
  const char *end = sql + strlen(sql);
  const char *start = sql;
  int n = 0;
  while (start < end) {
    int trigger = starts_trigger(start, end);
    tok prev = {TOK_END, start, 0};
    const char *p = start, *stop = end;
    for (;;) {
      tok t = next_token(p, end);
      if (t.kind == TOK_END) break;
      if (t.kind == TOK_PUNCT && *t.text == ';' && (!trigger || word_is(prev, "END"))) {
        stop = t.text;
        break;
      }
      prev = t;
      p = t.text + t.len;
    }
    cf_cli_sql_span span = {start, (size_t)(stop - start)};
    if (next_token(span.text, span.text + span.len).kind != TOK_END) {
      if (n == max) return -1;
      out[n++] = span;
    }
    start = stop < end ? stop + 1 : end;
  }
  return n;
}

void cf_cli_sql_first_word(cf_cli_sql_span st, char *buf, size_t cap) {
  tok t = next_token(st.text, st.text + st.len);
  size_t n = 0;
  if (t.kind == TOK_WORD)
    for (; n < t.len && n + 1 < cap; n++)
      buf[n] = (char)toupper((unsigned char)t.text[n]);
  if (cap) buf[n] = '\0';
}

int cf_cli_sql_has_word(cf_cli_sql_span st, const char *word) {
  const char *p = st.text, *end = st.text + st.len;
  int depth = 0;
  for (;;) {
    tok t = next_token(p, end);
    if (t.kind == TOK_END) return 0;
    if (t.kind == TOK_PUNCT && *t.text == '(') depth++;
    if (t.kind == TOK_PUNCT && *t.text == ')' && depth > 0) depth--;
    if (depth == 0 && word_is(t, word)) return 1;
    p = t.text + t.len;
  }
}
