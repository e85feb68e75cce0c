/*
** store/sqlmem.c: SQLite's memory allocator, routed through cf__malloc.
**
** SQLite allocates through its own malloc unless told otherwise.  Routing it
** through platform/alloc.c means the out-of-memory tests (cf__alloc_fail_at)
** reach SQLite's allocations too, and every byte SQLite holds is visible to
** the same accounting.  Each block carries a 16-byte header with its size
** (SQLite asks for it through xSize), which keeps the payload 16-aligned.
**
** sqlite3_config() only works before SQLite initialises; if the application
** initialised SQLite first, the call fails and SQLite keeps its allocator,
** which is harmless (the library then only loses that test reach).
*/
#include <pthread.h>
#include <string.h>

#include "platform/platform.h"
#include "store/store_int.h"

#define HDR 16 /* bytes before each payload: its size, as a size_t */

static void *mem_malloc(int n) {
  if (n <= 0) return NULL;
  unsigned char *p = cf__malloc((size_t)n + HDR);
  if (p == NULL) return NULL;
  size_t sz = (size_t)n;
  memcpy(p, &sz, sizeof sz);
  return p + HDR;
}

static void mem_free(void *p) {
  if (p != NULL) cf__free((unsigned char *)p - HDR);
}

static void *mem_realloc(void *p, int n) {
  if (p == NULL) return mem_malloc(n);
  if (n <= 0) return NULL;
  unsigned char *q = cf__realloc((unsigned char *)p - HDR, (size_t)n + HDR);
  if (q == NULL) return NULL;
  size_t sz = (size_t)n;
  memcpy(q, &sz, sizeof sz);
  return q + HDR;
}

static int mem_size(void *p) {
  if (p == NULL) return 0;
  size_t sz;
  memcpy(&sz, (unsigned char *)p - HDR, sizeof sz);
  return (int)sz;
}

static int mem_roundup(int n) { return (n + 7) & ~7; }
static int mem_init(void *ctx) { return SQLITE_OK; }
static void mem_shutdown(void *ctx) {}

static const sqlite3_mem_methods methods = {mem_malloc,  mem_free, mem_realloc,  mem_size,
                                            mem_roundup, mem_init, mem_shutdown, NULL};

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void install(void) {
  /* Memory statistics cost a mutex per allocation and are not used. */
  if (sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) != SQLITE_OK) return;
  if (sqlite3_config(SQLITE_CONFIG_MALLOC, &methods) != SQLITE_OK)
    cf__log(CF_LOG_DEBUG, "msg=\"sqlite allocator not replaced (already initialised)\"");
}

void cf__sqlmem_install(void) { pthread_once(&once, install); }
