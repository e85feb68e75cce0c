/*
** sim/script.c: the scenario text format (sim/script.h, docs/sim.md):
** parsing a file into steps and printing steps back as lines, so a
** recorded or shrunk run is a scenario file a person can read and edit.
*/
#include "sim/script.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static char *dup_or_null(const char *s) {
  if (s == NULL) return NULL;
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

int sim_script_add(sim_script *s, const sim_step *st) {
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 64;
    sim_step *v = realloc(s->v, cap * sizeof *v);
    if (v == NULL) return -1;
    s->v = v;
    s->cap = cap;
  }
  sim_step *d = &s->v[s->n];
  *d = *st;
  d->text = dup_or_null(st->text);
  d->value = dup_or_null(st->value);
  if ((st->text && !d->text) || (st->value && !d->value)) {
    free(d->text);
    free(d->value);
    return -1;
  }
  s->n++;
  return 0;
}

void sim_script_free(sim_script *s) {
  for (size_t i = 0; i < s->n; i++) {
    free(s->v[i].text);
    free(s->v[i].value);
  }
  free(s->v);
  memset(s, 0, sizeof *s);
}

int sim_script_copy(sim_script *dst, const sim_script *src) {
  memset(dst, 0, sizeof *dst);
  for (size_t i = 0; i < src->n; i++)
    if (sim_script_add(dst, &src->v[i]) != 0) {
      sim_script_free(dst);
      return -1;
    }
  return 0;
}

/* --- parsing ------------------------------------------------------------- */

#define MAX_TOKENS 8

typedef struct line_tokens {
  char *tok[MAX_TOKENS]; /* owned copies */
  int quoted[MAX_TOKENS];
  int n;
} line_tokens;

static void tokens_free(line_tokens *t) {
  for (int i = 0; i < t->n; i++)
    free(t->tok[i]);
  t->n = 0;
}

/* Splits one line into tokens; -1 on an unterminated string or too many. */
static int tokenize(const char *p, const char *end, line_tokens *t, const char **why) {
  t->n = 0;
  while (p < end) {
    while (p < end && isspace((unsigned char)*p))
      p++;
    if (p >= end || *p == '#') break;
    if (t->n == MAX_TOKENS) {
      *why = "too many words";
      return -1;
    }
    size_t cap = (size_t)(end - p) + 1, len = 0;
    char *out = malloc(cap);
    if (out == NULL) {
      *why = "out of memory";
      return -1;
    }
    if (*p == '"') {
      p++;
      int closed = 0;
      while (p < end) {
        if (*p == '\\' && p + 1 < end) {
          char c = p[1];
          out[len++] = c == 'n' ? '\n' : c == 't' ? '\t' : c;
          p += 2;
        } else if (*p == '"') {
          p++;
          closed = 1;
          break;
        } else {
          out[len++] = *p++;
        }
      }
      if (!closed) {
        free(out);
        *why = "unterminated string";
        return -1;
      }
      t->quoted[t->n] = 1;
    } else {
      while (p < end && !isspace((unsigned char)*p))
        out[len++] = *p++;
      t->quoted[t->n] = 0;
    }
    out[len] = '\0';
    t->tok[t->n++] = out;
  }
  return 0;
}

static int is_word(const line_tokens *t, int i, const char *w) {
  return i < t->n && !t->quoted[i] && strcmp(t->tok[i], w) == 0;
}

static int name_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n >= 48) return 0;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_') return 0;
  return 1;
}

/* Milliseconds: 1500, 1500ms, 30s, 5m, 2h, with an optional sign. */
static int parse_ms(const char *s, int64_t *out) {
  errno = 0;
  char *e;
  long long v = strtoll(s, &e, 10);
  if (e == s || errno) return -1;
  long long mul = 1;
  if (strcmp(e, "") == 0 || strcmp(e, "ms") == 0)
    mul = 1;
  else if (strcmp(e, "s") == 0)
    mul = 1000;
  else if (strcmp(e, "m") == 0)
    mul = 60000;
  else if (strcmp(e, "h") == 0)
    mul = 3600000;
  else
    return -1;
  *out = v * mul;
  return 0;
}

static int parse_u64(const char *s, uint64_t *out) {
  errno = 0;
  char *e;
  unsigned long long v = strtoull(s, &e, 10);
  if (e == s || *e || errno) return -1;
  *out = v;
  return 0;
}

static int parse_faults(const line_tokens *t, int i, sim_step *st) {
  if (i >= t->n) return 0;
  if (i + 1 != t->n || strncmp(t->tok[i], "faults=", 7) != 0) return -1;
  return parse_u64(t->tok[i] + 7, &st->faults);
}

static int set_name(char *dst, const char *src) {
  if (!name_ok(src)) return -1;
  snprintf(dst, 48, "%s", src);
  return 0;
}

/* One line's tokens into st.  0, or -1 with *why. */
static int parse_step(line_tokens *t, sim_step *st, const char **why) {
  memset(st, 0, sizeof *st);
  *why = "unknown step (see docs/sim.md)";
  const char *w0 = t->tok[0];
  if (t->quoted[0]) return -1;
  if (strcmp(w0, "seed") == 0 && t->n == 2) {
    st->kind = SIM_S_SEED;
    uint64_t v;
    if (parse_u64(t->tok[1], &v)) return *why = "seed needs a number", -1;
    st->num = (int64_t)v;
    return 0;
  }
  if (strcmp(w0, "user") == 0 || strcmp(w0, "node") == 0) {
    if (t->n != 4) return *why = "user NAME ROLE ORG / node NAME USER ORG", -1;
    st->kind = w0[0] == 'u' ? SIM_S_USER : SIM_S_NODE;
    if (set_name(st->a, t->tok[1]) || set_name(st->b, t->tok[2]) ||
        set_name(st->c, t->tok[3]))
      return *why = "names are letters, digits, - and _", -1;
    if (st->kind == SIM_S_USER && strcmp(st->b, "owner") && strcmp(st->b, "admin") &&
        strcmp(st->b, "member"))
      return *why = "role is owner, admin or member", -1;
    return 0;
  }
  if (strcmp(w0, "master") == 0) {
    if (t->n != 3 || !(is_word(t, 1, "sql") || is_word(t, 1, "try")) || !t->quoted[2])
      return *why = "master sql|try \"SQL\"", -1;
    st->kind = SIM_S_MASTER_SQL;
    st->must = is_word(t, 1, "sql");
    st->text = t->tok[2];
    return 0;
  }
  if (strcmp(w0, "sync") == 0) {
    if (!is_word(t, 1, "all")) return *why = "sync all [faults=N], or NODE sync", -1;
    st->kind = SIM_S_SYNC;
    if (parse_faults(t, 2, st)) return *why = "faults=N", -1;
    return 0;
  }
  if (strcmp(w0, "partition") == 0 && t->n == 2) {
    st->kind = SIM_S_OFFLINE;
    return set_name(st->a, t->tok[1]) ? (*why = "bad node name", -1) : 0;
  }
  if (strcmp(w0, "heal") == 0 && t->n == 1) return st->kind = SIM_S_HEAL, 0;
  if (strcmp(w0, "quiet") == 0 && t->n == 1) return st->kind = SIM_S_QUIET, 0;
  if (strcmp(w0, "check") == 0 && t->n == 1) return st->kind = SIM_S_CHECK, 0;
  if (strcmp(w0, "tick") == 0 && t->n == 2) {
    st->kind = SIM_S_TICK;
    return parse_ms(t->tok[1], &st->num) ? (*why = "tick MS", -1) : 0;
  }
  if ((strcmp(w0, "revoke") == 0 || strcmp(w0, "restore") == 0) && t->n == 3) {
    st->kind = w0[2] == 'v' ? SIM_S_REVOKE : SIM_S_RESTORE;
    if (set_name(st->a, t->tok[1]) || set_name(st->b, t->tok[2]))
      return *why = "bad name", -1;
    return 0;
  }
  if (strcmp(w0, "expect") == 0) {
    if (t->n == 5 && is_word(t, 2, "conflicts") && is_word(t, 3, "=")) {
      st->kind = SIM_S_EXPECT_CONFLICTS;
      uint64_t v;
      if (set_name(st->a, t->tok[1]) || parse_u64(t->tok[4], &v))
        return *why = "expect NODE conflicts = N", -1;
      st->num = (int64_t)v;
      return 0;
    }
    if (t->n != 5 || !t->quoted[2] || !is_word(t, 3, "="))
      return *why = "expect NODE|master \"SQL\" = VALUE", -1;
    st->kind = SIM_S_EXPECT;
    if (set_name(st->a, t->tok[1])) return *why = "bad node name", -1;
    st->text = t->tok[2];
    st->value = t->tok[4];
    return 0;
  }
  /* NODE verb ... */
  if (t->n < 2 || set_name(st->a, w0)) return -1;
  const char *v = t->tok[1];
  if ((strcmp(v, "sql") == 0 || strcmp(v, "try") == 0) && t->n == 3 && t->quoted[2]) {
    st->kind = SIM_S_SQL;
    st->must = v[0] == 's';
    st->text = t->tok[2];
    return 0;
  }
  if (strcmp(v, "sync") == 0) {
    st->kind = SIM_S_SYNC;
    return parse_faults(t, 2, st) ? (*why = "NODE sync [faults=N]", -1) : 0;
  }
  if (t->n == 2 && strcmp(v, "offline") == 0) return st->kind = SIM_S_OFFLINE, 0;
  if (t->n == 2 && strcmp(v, "online") == 0) return st->kind = SIM_S_ONLINE, 0;
  if (t->n == 2 && strcmp(v, "kill") == 0) return st->kind = SIM_S_KILL, 0;
  if (t->n == 2 && strcmp(v, "replay") == 0) return st->kind = SIM_S_REPLAY, 0;
  if (t->n == 3 && strcmp(v, "clock") == 0) {
    st->kind = SIM_S_CLOCK;
    return parse_ms(t->tok[2], &st->num) ? (*why = "NODE clock +MS|-MS", -1) : 0;
  }
  return -1;
}

int sim_script_parse(const char *text, sim_script *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  int lineno = 0;
  const char *p = text;
  while (*p) {
    const char *end = strchr(p, '\n');
    if (end == NULL) end = p + strlen(p);
    lineno++;
    line_tokens t;
    const char *why = NULL;
    if (tokenize(p, end, &t, &why) != 0) {
      snprintf(err, errlen, "line %d: %s", lineno, why);
      tokens_free(&t);
      sim_script_free(out);
      return -1;
    }
    if (t.n > 0) {
      sim_step st;
      int rc = parse_step(&t, &st, &why);
      st.line = lineno;
      if (rc == 0)
        rc = sim_script_add(out, &st);
      else
        snprintf(err, errlen, "line %d: %s", lineno, why);
      tokens_free(&t);
      if (rc != 0) {
        if (why == NULL) snprintf(err, errlen, "line %d: out of memory", lineno);
        sim_script_free(out);
        return -1;
      }
    }
    p = *end ? end + 1 : end;
  }
  return 0;
}

int sim_script_load(const char *path, sim_script *out, char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return -1;
  }
  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap);
  size_t got;
  while (buf && (got = fread(buf + len, 1, cap - len - 1, f)) > 0) {
    len += got;
    if (len + 1 == cap) {
      if (cap >= (64u << 20)) break;
      char *b = realloc(buf, cap * 2);
      if (b == NULL) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = b;
      cap *= 2;
    }
  }
  fclose(f);
  if (buf == NULL) {
    snprintf(err, errlen, "%s: out of memory", path);
    return -1;
  }
  buf[len] = '\0';
  char why[256];
  int rc = sim_script_parse(buf, out, why, sizeof why);
  if (rc != 0) snprintf(err, errlen, "%s: %s", path, why);
  free(buf);
  return rc;
}

/* --- printing ------------------------------------------------------------ */

static void print_quoted(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"' || *s == '\\') fputc('\\', f);
    if (*s == '\n') {
      fputs("\\n", f);
      continue;
    }
    fputc(*s, f);
  }
  fputc('"', f);
}

static void print_faults(FILE *f, uint64_t faults) {
  if (faults) fprintf(f, " faults=%" PRIu64, faults);
}

void sim_step_print(FILE *f, const sim_step *st) {
  switch (st->kind) {
    case SIM_S_SEED:
      fprintf(f, "seed %" PRIu64, (uint64_t)st->num);
      break;
    case SIM_S_USER:
      fprintf(f, "user %s %s %s", st->a, st->b, st->c);
      break;
    case SIM_S_NODE:
      fprintf(f, "node %s %s %s", st->a, st->b, st->c);
      break;
    case SIM_S_SQL:
      fprintf(f, "%s %s ", st->a, st->must ? "sql" : "try");
      print_quoted(f, st->text);
      break;
    case SIM_S_MASTER_SQL:
      fprintf(f, "master %s ", st->must ? "sql" : "try");
      print_quoted(f, st->text);
      break;
    case SIM_S_SYNC:
      if (st->a[0])
        fprintf(f, "%s sync", st->a);
      else
        fputs("sync all", f);
      print_faults(f, st->faults);
      break;
    case SIM_S_OFFLINE:
      fprintf(f, "%s offline", st->a);
      break;
    case SIM_S_ONLINE:
      fprintf(f, "%s online", st->a);
      break;
    case SIM_S_HEAL:
      fputs("heal", f);
      break;
    case SIM_S_KILL:
      fprintf(f, "%s kill", st->a);
      break;
    case SIM_S_CLOCK:
      fprintf(f, "%s clock %+" PRId64, st->a, st->num);
      break;
    case SIM_S_TICK:
      fprintf(f, "tick %" PRId64, st->num);
      break;
    case SIM_S_REVOKE:
      fprintf(f, "revoke %s %s", st->a, st->b);
      break;
    case SIM_S_RESTORE:
      fprintf(f, "restore %s %s", st->a, st->b);
      break;
    case SIM_S_REPLAY:
      fprintf(f, "%s replay", st->a);
      break;
    case SIM_S_EXPECT:
      fprintf(f, "expect %s ", st->a);
      print_quoted(f, st->text);
      fputs(" = ", f);
      print_quoted(f, st->value);
      break;
    case SIM_S_EXPECT_CONFLICTS:
      fprintf(f, "expect %s conflicts = %" PRId64, st->a, st->num);
      break;
    case SIM_S_CHECK:
      fputs("check", f);
      break;
    case SIM_S_QUIET:
      fputs("quiet", f);
      break;
  }
}

void sim_script_print(FILE *f, const sim_script *s) {
  for (size_t i = 0; i < s->n; i++) {
    sim_step_print(f, &s->v[i]);
    fputc('\n', f);
  }
}
