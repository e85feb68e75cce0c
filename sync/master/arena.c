/*
** sync/master/arena.c: bytes that rows read from the master borrow
** (sync/master/master_sync_int.h; docs/master-sync.md).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/platform.h"
#include "sync/master/master_sync_int.h"

/* Size of one arena chunk (values larger than this get their own). */
#define CHUNK_SIZE ((size_t)64 << 10)
/* Most bytes a page's arena may hold. */
#define ARENA_MAX ((size_t)1 << 30)

void cf__arena_free(cf__arena *a) {
  while (a->head) {
    cf__arena_chunk *c = a->head;
    a->head = c->next;
    cf__free(c);
  }
  a->total = 0;
}

/* A copy of p[0..n) in a (NUL-terminated), or NULL on out of memory. */
const char *cf__arena_copy(cf__arena *a, const char *p, size_t n) {
  if (a->head == NULL || a->head->cap - a->head->used < n + 1) {
    size_t cap = n + 1 > CHUNK_SIZE ? n + 1 : CHUNK_SIZE;
    if (a->total + cap > ARENA_MAX) return NULL;
    cf__arena_chunk *c = cf__malloc(sizeof(cf__arena_chunk) + cap);
    if (c == NULL) return NULL;
    c->next = a->head;
    c->used = 0;
    c->cap = cap;
    a->head = c;
    a->total += cap;
  }
  char *dst = a->head->data + a->head->used;
  if (n) memcpy(dst, p, n);
  dst[n] = '\0';
  a->head->used += n + 1;
  return dst;
}
