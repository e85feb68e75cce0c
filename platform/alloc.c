/*
** platform/alloc.c: the one allocation wrapper of libclientflow.
**
** Every allocation goes through cf__malloc and friends so that tests can make
** the N-th allocation fail and check that each path ends with a clean error
** code, no corruption and no leak (tests/unit/test_oom.c and the store tests).
*/
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/platform.h"

/* Atomic (relaxed): every thread allocates through here, and the counter
** is the only state they share (found by scripts/tsan.sh). */
static _Atomic uint64_t fail_at;   /* 0: never fail; else fail from this call on */
static _Atomic uint64_t att_count; /* allocations attempted since cf__alloc_fail_at */

static int should_fail(void) {
  uint64_t n = atomic_fetch_add_explicit(&att_count, 1, memory_order_relaxed) + 1;
  uint64_t at = atomic_load_explicit(&fail_at, memory_order_relaxed);
  return at != 0 && n >= at;
}

void cf__alloc_fail_at(uint64_t n) {
  atomic_store_explicit(&fail_at, n, memory_order_relaxed);
  atomic_store_explicit(&att_count, 0, memory_order_relaxed);
}

uint64_t cf__alloc_count(void) {
  return atomic_load_explicit(&att_count, memory_order_relaxed);
}

int cf__alloc_attempt_fails(void) { return should_fail(); }

void *cf__malloc(size_t n) {
  if (should_fail()) return NULL;
  return malloc(n ? n : 1);
}

void *cf__calloc(size_t count, size_t size) {
  if (should_fail()) return NULL;
  return calloc(count ? count : 1, size ? size : 1);
}

void *cf__realloc(void *p, size_t n) {
  if (should_fail()) return NULL;
  return realloc(p, n ? n : 1);
}

void cf__free(void *p) { free(p); }

char *cf__strndup(const char *s, size_t n) {
  char *copy = cf__malloc(n + 1);
  if (copy == NULL) return NULL;
  memcpy(copy, s, n);
  copy[n] = '\0';
  return copy;
}

char *cf__strdup(const char *s) { return cf__strndup(s, strlen(s)); }

char *cf__vmprintf(const char *fmt, va_list ap) {
  va_list copy;
  va_copy(copy, ap);
  int n = vsnprintf(NULL, 0, fmt, copy);
  va_end(copy);
  if (n < 0) return NULL;
  char *out = cf__malloc((size_t)n + 1);
  if (out == NULL) return NULL;
  vsnprintf(out, (size_t)n + 1, fmt, ap);
  return out;
}

char *cf__mprintf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *out = cf__vmprintf(fmt, ap);
  va_end(ap);
  return out;
}
