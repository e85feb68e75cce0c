/*
** platform/platform.h: the only OS calls of libclientflow (internal).
**
** Time, randomness, allocation, files and logging go through here, so that a
** test or the simulation harness can replace them (see cf_set_clock_hook in
** include/clientflow.h) and so that no other module calls the OS directly.
*/
#ifndef CF_PLATFORM_H
#define CF_PLATFORM_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "clientflow.h"

/*
** Allocation: every allocation in the library goes through these, so tests
** can make the N-th call fail (cf__alloc_fail_at).  cf__free accepts NULL.
*/
void *cf__malloc(size_t n) CF_WARN_UNUSED;
void *cf__calloc(size_t count, size_t size) CF_WARN_UNUSED;
void *cf__realloc(void *p, size_t n) CF_WARN_UNUSED;
void cf__free(void *p);
char *cf__strdup(const char *s) CF_WARN_UNUSED;
char *cf__strndup(const char *s, size_t n) CF_WARN_UNUSED;
/* printf into a new cf__malloc'd string; NULL on out of memory. */
char *cf__mprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *cf__vmprintf(const char *fmt, va_list ap);

/*
** Fault injection for tests.  After cf__alloc_fail_at(n), the n-th allocation
** from now (1-based) and every later one fail until cf__alloc_fail_at(0).
** cf__alloc_count() is the number of allocations attempted since the last
** cf__alloc_fail_at call.  Not thread-safe: tests call it from one thread.
*/
void cf__alloc_fail_at(uint64_t n);
uint64_t cf__alloc_count(void);
/* Counts one allocation attempt, as cf__malloc does, for an allocator that
** serves it from memory of its own (store/sqlmem.c's block cache).  Returns
** 1 when this attempt must fail. */
int cf__alloc_attempt_fails(void);

/*
** Reads the whole file at path, at most max bytes, into a new cf__malloc'd
** buffer (NUL-terminated; the caller frees).  OUT: *out, *len.  CF_OK;
** CF_IO (cannot open or read), CF_TOOBIG (larger than max), CF_NOMEM.
*/
int cf__file_read_all(const char *path, size_t max, char **out,
                      size_t *len) CF_WARN_UNUSED;

/*
** Makes path a file only its owner may read and write (mode 0600): creates
** it empty if it does not exist, else removes any group and other bits.
** CF_OK or CF_IO.
*/
int cf__file_make_private(const char *path) CF_WARN_UNUSED;

/* rename(2) of from to to (atomic on one file system).  CF_OK or CF_IO. */
int cf__file_rename(const char *from, const char *to) CF_WARN_UNUSED;

/* 1 if something exists at path, else 0. */
int cf__file_exists(const char *path);

/* Removes path; a path that does not exist is fine.  CF_OK or CF_IO. */
int cf__file_remove(const char *path) CF_WARN_UNUSED;

/* Wall clock in milliseconds since the epoch, through the clock hook. */
int64_t cf__now_ms(void);
/* Monotonic clock in nanoseconds, for measuring durations; never hooked. */
int64_t cf__monotonic_ns(void);
/* Sleeps about ms milliseconds (for backoff waits; never to synchronise). */
void cf__sleep_ms(int ms);
/* Fill buf with len random bytes through the random hook.  CF_OK or CF_IO. */
int cf__random(unsigned char *buf, size_t len) CF_WARN_UNUSED;
/* 1 while a random hook is installed (cf_set_random_hook), else 0: callers
** that buffer random bytes draw them one call at a time under a hook, so a
** replayed run consumes the hook's bytes exactly as an unbuffered one. */
int cf__random_hooked(void);

/*
** Logging: one structured line per event on stderr,
**   ts=2026-11-28T16:00:00.000Z level=info msg="..." key=value ...
** cf__log_level sets the minimum level (default CF_LOG_INFO, or CF_LOG_LEVEL
** from the environment: debug, info, warn, error).
*/
typedef enum { CF_LOG_DEBUG, CF_LOG_INFO, CF_LOG_WARN, CF_LOG_ERROR } cf_log_level;
void cf__log_set_level(cf_log_level level);
void cf__log(cf_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif /* CF_PLATFORM_H */
