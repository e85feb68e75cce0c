/*
** core/uuid.h: UUIDv7 ids and canonical UUID text (internal).
**
** Row ids are UUIDv7 (RFC 9562, section 5.7), made where the row is created:
**
**   bits 0..47    unix_ts_ms  milliseconds since the epoch, from cf__now_ms()
**   bits 48..51   ver         0111
**   bits 52..63   rand_a      random
**   bits 64..65   var         10
**   bits 66..127  rand_b      random (cf__random)
**
** Within one process ids are also strictly increasing: when the clock gives
** the same (or an earlier) millisecond as the previous id, the previous id's
** 74 random bits are incremented by a random step instead (RFC 9562 6.2
** method 3, "monotonic random"), carrying into the timestamp if they are used
** up.  So ids sort by creation order on one node and roughly by time across
** nodes.
**
** Canonical text is lowercase 8-4-4-4-12 hex.  The parser is strict: exactly
** 36 characters, dashes at 8, 13, 18, 23, hex digits elsewhere (upper or
** lower case); no braces, no "urn:uuid:", no missing dashes.
*/
#ifndef CF_UUID_H
#define CF_UUID_H

#include <stddef.h>
#include <stdint.h>

#include "clientflow.h"

#define CF_UUID_LEN 16
#define CF_UUID_TEXT_LEN 37 /* 36 characters and a NUL */

/* A UUID's 16 bytes in network order. */
typedef struct cf_uuid {
  unsigned char b[CF_UUID_LEN]; /* the bytes */
} cf_uuid;

/* CONSTRUCTOR.  A new UUIDv7 (layout above).  OUT: *out.  CF_OK, or CF_IO if
** the random source failed (out is then zeroed).  Thread-safe. */
int cf__uuid_v7(cf_uuid *out) CF_WARN_UNUSED;

/* Random bytes for UUIDv7 ids drawn from cf__random in bulk: one system
** call per CF_UUID_POOL_IDS ids instead of one per id (the OS CSPRNG either
** way).  One pool belongs to one thread at a time (a replica's connection);
** zero-initialise it before first use.  Not to be shared across fork(): the
** child would repeat the parent's bytes.  Under a random hook
** (cf__random_hooked) the pool is bypassed. */
#define CF_UUID_POOL_IDS 64
typedef struct cf_uuid_pool {
  unsigned char buf[16 * CF_UUID_POOL_IDS]; /* random bytes */
  size_t used;                              /* bytes of buf consumed */
  int filled;                               /* 1 once buf holds cf__random's bytes */
} cf_uuid_pool;

/* CONSTRUCTOR.  cf__uuid_v7 with its random bytes from pool.  OUT: *out.
** CF_OK or CF_IO (out zeroed).  Thread-safe as far as the shared monotonic
** state goes; the pool itself is the caller's thread's. */
int cf__uuid_v7_pooled(cf_uuid_pool *pool, cf_uuid *out) CF_WARN_UNUSED;

/* CONSTRUCTOR.  A new random UUIDv4.  OUT: *out.  CF_OK or CF_IO. */
int cf__uuid_v4(cf_uuid *out) CF_WARN_UNUSED;

/* Canonical text of u into out[CF_UUID_TEXT_LEN] (NUL-terminated).  Returns
** out. */
char *cf__uuid_format(const cf_uuid *u, char out[CF_UUID_TEXT_LEN]);

/* Parses s[0..len) strictly (see above).  CF_OK or CF_INVALID.  OUT: *out
** (unchanged on failure). */
int cf__uuid_parse(const char *s, size_t len, cf_uuid *out) CF_WARN_UNUSED;

/* The version nibble (7 for UUIDv7) and the millisecond timestamp of a
** UUIDv7. */
unsigned cf__uuid_version(const cf_uuid *u);
int64_t cf__uuid_v7_ms(const cf_uuid *u);

/* Orders UUIDs bytewise (memcmp): <0, 0, >0. */
int cf__uuid_cmp(const cf_uuid *a, const cf_uuid *b);

#endif /* CF_UUID_H */
