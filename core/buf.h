/*
** core/buf.h: a growable byte buffer with a hard cap (internal).
**
** Every growable buffer in core/ is a cf_buf with a limit fixed at init, so
** no input can make the library allocate without bound (STYLE.md: curl's
** dynbuf habit).  Memory comes from cf__malloc/cf__realloc, so tests can
** inject allocation failures.
**
** The contents are always NUL-terminated once anything has been allocated
** (the terminator is not counted in len), so text built here can be used as a
** C string.  Usage:
**
**   cf_buf b;
**   cf__buf_init(&b, 1 << 20);
**   if ((rc = cf__buf_append(&b, "abc", 3)) != CF_OK) goto out;
**   ... use b.p[0..b.len) ...
**  out:
**   cf__buf_free(&b);
*/
#ifndef CF_BUF_H
#define CF_BUF_H

#include <stddef.h>

#include "clientflow.h"

typedef struct cf_buf {
  char *p;      /* the bytes, NUL-terminated; NULL until the first append */
  size_t len;   /* bytes in use, not counting the terminator */
  size_t cap;   /* bytes allocated at p (including room for the terminator) */
  size_t limit; /* the most len may ever be; appends past it fail CF_TOOBIG */
} cf_buf;

/* CONSTRUCTOR.  An empty buffer that may hold at most limit bytes.  Allocates
** nothing; cannot fail. */
void cf__buf_init(cf_buf *b, size_t limit);

/* DESTRUCTOR.  Frees the bytes and leaves b empty (re-usable after a new
** cf__buf_init).  Accepts a zeroed or already freed buffer. */
void cf__buf_free(cf_buf *b);

/* METHOD.  Empties b (len = 0) but keeps its memory for re-use. */
void cf__buf_reset(cf_buf *b);

/* METHOD.  Appends data[0..n).  CF_OK; CF_TOOBIG if len would pass limit;
** CF_NOMEM.  On failure b is unchanged.  Pointers into b->p taken before the
** call are invalid after it (the bytes may move). */
int cf__buf_append(cf_buf *b, const void *data, size_t n) CF_WARN_UNUSED;

/* METHOD.  Appends one byte; same results as cf__buf_append.  Inline: the
** JSON canonicaliser and the text builders append byte by byte, and a call
** and a capacity check per byte were a quarter of the server's work to turn
** a pulled page into values (docs/scaling.md, section 6). */
static inline CF_WARN_UNUSED int cf__buf_putc(cf_buf *b, char c) {
  if (b->len < b->limit && b->len + 2 <= b->cap) { /* room for c and the NUL */
    b->p[b->len++] = c;
    b->p[b->len] = '\0';
    return CF_OK;
  }
  return cf__buf_append(b, &c, 1);
}

/* METHOD.  Appends a NUL-terminated string; same results as cf__buf_append. */
int cf__buf_puts(cf_buf *b, const char *s) CF_WARN_UNUSED;

/* METHOD.  Appends every string of a list ended by (const char *)NULL,
** stopping at the first failure; same results as cf__buf_append (bytes
** appended before a failure stay). */
int cf__buf_puts_all(cf_buf *b, ...) CF_WARN_UNUSED;

/* METHOD.  Makes room for n more bytes without changing len, so a caller can
** write up to n bytes at b->p + b->len and then add them to len.  Same
** results as cf__buf_append. */
int cf__buf_reserve(cf_buf *b, size_t n) CF_WARN_UNUSED;

/* METHOD.  Shortens b to len bytes (len <= b->len) keeping the terminator. */
void cf__buf_truncate(cf_buf *b, size_t len);

/* METHOD.  Hands the bytes to the caller, who frees them with cf__free, and
** leaves b empty with the same limit.  Returns NULL (and *len_out = 0) if
** nothing was ever appended.  len_out may be NULL. */
char *cf__buf_detach(cf_buf *b, size_t *len_out);

#endif /* CF_BUF_H */
