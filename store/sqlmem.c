/*
** store/sqlmem.c: SQLite's memory allocator, routed through cf__malloc, with
** a small cache of the larger blocks.
**
** SQLite allocates through its own malloc unless told otherwise.  Routing it
** through platform/alloc.c means the out-of-memory tests (cf__alloc_fail_at)
** reach SQLite's allocations too, and every byte SQLite holds is visible to
** the same accounting.  Each block carries a 16-byte header (below; SQLite
** asks for the size through xSize), which keeps the payload 16-aligned.
**
** The block cache.  Debian's SQLite is built with SQLITE_OMIT_LOOKASIDE, so
** every allocation of a statement's run reaches the allocator: a write
** through a view allocates its trigger program's frame (several KiB: one
** register per value of the trigger's statement) and frees it again, for
** every row.  Blocks above glibc's per-thread cache (1 KiB) take malloc's
** slow path (bins, coalescing), which showed as 10-15% of a write through a
** view; glibc's per-size thread cache (7 blocks) overflows for the smaller
** ones too.  So freed blocks of BLOCK_MIN..BLOCK_MAX bytes (header included) are
** kept, per size class of CLASS_STEP bytes, up to CLASS_KEEP per class
** (at most about 2.2 MiB in all), and handed out again; the rest goes to
** cf__malloc/cf__free as before.  One spinlock guards the cache: its
** critical sections are a few instructions, and SQLite is the only user.
** Every request still counts as one allocation attempt of the fault
** injection (cf__alloc_attempt_fails for a block from the cache, cf__malloc
** otherwise), so the out-of-memory tests reach the same allocations as
** without the cache.  Measured on the write through a view (a private
** harness, 50k contacts, callgrind): 12% fewer instructions a row.
**
**   header (16 bytes before the payload)
**   | offset | size | field                                               |
**   | 0      | 8    | size asked for (size_t; xSize answers it)             |
**   | 8      | 4    | size class (1..NCLASS), 0 for a block outside the cache's sizes |
**   | 12     | 4    | unused                                              |
**
** sqlite3_config() only works before SQLite initialises; if the application
** initialised SQLite first, the call fails and SQLite keeps its allocator,
** which is harmless (the library then only loses that test reach and the
** cache).
*/
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "platform/platform.h"
#include "store/store_int.h"

#define HDR 16         /* bytes before each payload */
#define CLASS_STEP 256 /* size classes are multiples of this */
#define BLOCK_MIN 129  /* smaller blocks: glibc's fast bins serve them well */
#define BLOCK_MAX 8192 /* larger blocks are rare per statement */
#define NCLASS (BLOCK_MAX / CLASS_STEP)
#define CLASS_KEEP 16 /* free blocks kept per class */

static atomic_flag cache_lock = ATOMIC_FLAG_INIT; /* guards the two below */
static void *cache[NCLASS + 1][CLASS_KEEP]; /* free blocks (header start) by class */
static int cache_n[NCLASS + 1];             /* how many each class holds */

static void lock(void) {
  while (atomic_flag_test_and_set_explicit(&cache_lock, memory_order_acquire)) {
  }
}
static void unlock(void) {
  atomic_flag_clear_explicit(&cache_lock, memory_order_release);
}

/* The class of a block of total bytes (header included), 0 if uncached. */
static uint32_t class_of(size_t total) {
  if (total < BLOCK_MIN || total > BLOCK_MAX) return 0;
  return (uint32_t)((total + CLASS_STEP - 1) / CLASS_STEP);
}

static void set_header(unsigned char *block, size_t n, uint32_t cls) {
  memcpy(block, &n, sizeof n);
  memcpy(block + 8, &cls, sizeof cls);
}

static uint32_t header_class(const unsigned char *block) {
  uint32_t cls;
  memcpy(&cls, block + 8, sizeof cls);
  return cls;
}

/* Keeps block p of class cls (nonzero) in the cache, or frees it. */
static void mem_free_block(unsigned char *p, uint32_t cls) {
  lock();
  if (cache_n[cls] < CLASS_KEEP) {
    cache[cls][cache_n[cls]++] = p;
    p = NULL;
  }
  unlock();
  cf__free(p);
}

static void *mem_malloc(int n) {
  if (n <= 0) return NULL;
  size_t total = (size_t)n + HDR;
  uint32_t cls = class_of(total);
  unsigned char *p = NULL;
  if (cls != 0) {
    lock();
    if (cache_n[cls] > 0) p = cache[cls][--cache_n[cls]];
    unlock();
    if (p != NULL && cf__alloc_attempt_fails()) {
      mem_free_block(p, cls);
      return NULL;
    }
    /* A miss allocates the class's full size, so the block can serve any
    ** request of its class later (cf__malloc counts the attempt). */
    if (p == NULL && (p = cf__malloc((size_t)cls * CLASS_STEP)) == NULL) return NULL;
  } else if ((p = cf__malloc(total)) == NULL) {
    return NULL;
  }
  set_header(p, (size_t)n, cls);
  return p + HDR;
}

static void mem_free(void *payload) {
  if (payload == NULL) return;
  unsigned char *p = (unsigned char *)payload - HDR;
  uint32_t cls = header_class(p);
  if (cls != 0)
    mem_free_block(p, cls);
  else
    cf__free(p);
}

static int mem_size(void *p) {
  if (p == NULL) return 0;
  size_t sz;
  memcpy(&sz, (unsigned char *)p - HDR, sizeof sz);
  return (int)sz;
}

static void *mem_realloc(void *payload, int n) {
  if (payload == NULL) return mem_malloc(n);
  if (n <= 0) return NULL;
  unsigned char *p = (unsigned char *)payload - HDR;
  uint32_t cls = header_class(p);
  if (cls == 0) {
    unsigned char *q = cf__realloc(p, (size_t)n + HDR);
    if (q == NULL) return NULL;
    set_header(q, (size_t)n, 0);
    return q + HDR;
  }
  /* A cached-size block: grow or shrink within its class in place, else
  ** move it. */
  if ((size_t)n + HDR <= (size_t)cls * CLASS_STEP && (size_t)n + HDR >= BLOCK_MIN) {
    if (cf__alloc_attempt_fails()) return NULL;
    set_header(p, (size_t)n, cls);
    return payload;
  }
  void *q = mem_malloc(n);
  if (q == NULL) return NULL;
  int old = mem_size(payload);
  memcpy(q, payload, (size_t)(old < n ? old : n));
  mem_free(payload);
  return q;
}

static int mem_roundup(int n) { return (n + 7) & ~7; }
static int mem_init(void *ctx) { return SQLITE_OK; }

/* sqlite3_shutdown(): the cached blocks go back to the system. */
static void mem_shutdown(void *ctx) {
  lock();
  for (int c = 0; c <= NCLASS; c++)
    while (cache_n[c] > 0)
      cf__free(cache[c][--cache_n[c]]);
  unlock();
}

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
