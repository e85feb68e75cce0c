/*
** core/buf.c: the capped growable buffer (see core/buf.h).
*/
#include "core/buf.h"

#include <stdarg.h>
#include <string.h>

#include "platform/platform.h"

void cf__buf_init(cf_buf *b, size_t limit) {
  b->p = NULL;
  b->len = 0;
  b->cap = 0;
  b->limit = limit;
}

void cf__buf_free(cf_buf *b) {
  cf__free(b->p);
  b->p = NULL;
  b->len = 0;
  b->cap = 0;
}

void cf__buf_reset(cf_buf *b) {
  b->len = 0;
  if (b->p != NULL) b->p[0] = '\0';
}

int cf__buf_reserve(cf_buf *b, size_t n) {
  if (n > b->limit || b->len > b->limit - n) return CF_TOOBIG;
  size_t need = b->len + n + 1; /* +1: the terminator */
  if (need <= b->cap) return CF_OK;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < need) {
    /* Grow by half each time; never past limit + 1. */
    size_t next = cap + cap / 2;
    cap = next > cap ? next : need;
  }
  if (cap > b->limit + 1) cap = b->limit + 1;
  if (cap < need) cap = need;
  char *p = cf__realloc(b->p, cap);
  if (p == NULL) return CF_NOMEM;
  b->p = p;
  b->cap = cap;
  return CF_OK;
}

int cf__buf_append(cf_buf *b, const void *data, size_t n) {
  int rc = cf__buf_reserve(b, n);
  if (rc != CF_OK) return rc;
  if (n > 0) memcpy(b->p + b->len, data, n);
  b->len += n;
  b->p[b->len] = '\0';
  return CF_OK;
}

int cf__buf_puts(cf_buf *b, const char *s) { return cf__buf_append(b, s, strlen(s)); }

int cf__buf_puts_all(cf_buf *b, ...) {
  va_list ap;
  va_start(ap, b);
  int rc = CF_OK;
  const char *s;
  while (rc == CF_OK && (s = va_arg(ap, const char *)) != NULL)
    rc = cf__buf_puts(b, s);
  va_end(ap);
  return rc;
}

void cf__buf_truncate(cf_buf *b, size_t len) {
  if (len > b->len) return;
  b->len = len;
  if (b->p != NULL) b->p[len] = '\0';
}

char *cf__buf_detach(cf_buf *b, size_t *len_out) {
  char *p = b->p;
  if (len_out != NULL) *len_out = p != NULL ? b->len : 0;
  b->p = NULL;
  b->len = 0;
  b->cap = 0;
  return p;
}
