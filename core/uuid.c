/*
** core/uuid.c: UUIDv7 generation and strict UUID text (see core/uuid.h).
**
** Monotonicity within the process: the previous id is remembered; when the
** clock has not moved past its millisecond, the new id is the previous one
** plus a random step (1..2^32) in its 74 random bits (rand_a and rand_b, with
** the version and variant bits skipped), carrying into the timestamp when
** they are used up.  A spinlock (C11 atomic_flag) guards the remembered id,
** because ids are made from any thread.
*/
#include "core/crypto.h"
#include "core/uuid.h"

#include <stdatomic.h>
#include <string.h>

#include "platform/platform.h"

static atomic_flag v7_lock = ATOMIC_FLAG_INIT; /* guards v7_last_* */
static int64_t v7_last_ms = -1;                /* ms of the previous id */
static uint64_t v7_last_hi;                    /* its 12 rand_a bits */
static uint64_t v7_last_lo;                    /* its 62 rand_b bits */

#define RAND_B_MASK ((UINT64_C(1) << 62) - 1)
#define RAND_A_MASK ((UINT64_C(1) << 12) - 1)

static void pack_v7(cf_uuid *out, int64_t ms, uint64_t rand_a, uint64_t rand_b) {
  uint64_t ums = (uint64_t)ms;
  for (int i = 0; i < 6; i++)
    out->b[i] = (unsigned char)(ums >> (40 - 8 * i));
  out->b[6] = (unsigned char)(0x70 | ((rand_a >> 8) & 0x0f));
  out->b[7] = (unsigned char)(rand_a & 0xff);
  out->b[8] = (unsigned char)(0x80 | ((rand_b >> 56) & 0x3f));
  for (int i = 9; i < 16; i++)
    out->b[i] = (unsigned char)(rand_b >> (8 * (15 - i)));
}

/* A UUIDv7 from 16 random bytes and the clock. */
static void make_v7(const unsigned char rnd[16], cf_uuid *out) {
  uint64_t r0 = 0, r1 = 0;
  for (int i = 0; i < 8; i++) {
    r0 = (r0 << 8) | rnd[i];
    r1 = (r1 << 8) | rnd[8 + i];
  }
  int64_t ms = cf__now_ms();
  if (ms < 0) ms = 0;
  if (ms > (int64_t)0xffffffffffffLL) ms = (int64_t)0xffffffffffffLL;
  uint64_t hi = r0 & RAND_A_MASK, lo = r1 & RAND_B_MASK;

  while (atomic_flag_test_and_set_explicit(&v7_lock, memory_order_acquire)) {
  }
  if (ms <= v7_last_ms) {
    /* Same or earlier millisecond: step forward from the previous id. */
    uint64_t step = (r0 >> 32) + 1; /* 1..2^32 */
    ms = v7_last_ms;
    lo = v7_last_lo + step;
    hi = v7_last_hi;
    if (lo > RAND_B_MASK) {
      lo &= RAND_B_MASK;
      if (++hi > RAND_A_MASK) {
        hi = 0;
        ms++; /* 2^74 ids in one millisecond: borrow the next one */
      }
    }
  }
  v7_last_ms = ms;
  v7_last_hi = hi;
  v7_last_lo = lo;
  atomic_flag_clear_explicit(&v7_lock, memory_order_release);

  pack_v7(out, ms, hi, lo);
}

int cf__uuid_v7(cf_uuid *out) {
  unsigned char rnd[16];
  int rc = cf__random(rnd, sizeof rnd);
  if (rc != CF_OK) {
    memset(out, 0, sizeof *out);
    return rc;
  }
  make_v7(rnd, out);
  return CF_OK;
}

int cf__uuid_v7_pooled(cf_uuid_pool *pool, cf_uuid *out) {
  if (cf__random_hooked()) return cf__uuid_v7(out);
  if (!pool->filled || pool->used + 16 > sizeof pool->buf) {
    int rc = cf__random(pool->buf, sizeof pool->buf);
    if (rc != CF_OK) {
      pool->filled = 0;
      memset(out, 0, sizeof *out);
      return rc;
    }
    pool->filled = 1;
    pool->used = 0;
  }
  /* The bytes become a public id, so they need no wiping afterwards. */
  make_v7(pool->buf + pool->used, out);
  pool->used += 16;
  return CF_OK;
}

int cf__uuid_v4(cf_uuid *out) {
  int rc = cf__random(out->b, sizeof out->b);
  if (rc != CF_OK) {
    memset(out, 0, sizeof *out);
    return rc;
  }
  out->b[6] = (unsigned char)(0x40 | (out->b[6] & 0x0f));
  out->b[8] = (unsigned char)(0x80 | (out->b[8] & 0x3f));
  return CF_OK;
}

char *cf__uuid_format(const cf_uuid *u, char out[CF_UUID_TEXT_LEN]) {
  /* 8-4-4-4-12 digits: the groups are 4, 2, 2, 2 and 6 bytes.  Each
  ** cf__hex ends in a NUL that the next dash overwrites. */
  static const unsigned char group[5] = {4, 2, 2, 2, 6};
  size_t at = 0, j = 0;
  for (int g = 0; g < 5; g++) {
    if (g > 0) out[j++] = '-';
    cf__hex(u->b + at, group[g], out + j);
    at += group[g];
    j += 2 * (size_t)group[g];
  }
  return out;
}

int cf__uuid_parse(const char *s, size_t len, cf_uuid *out) {
  if (s == NULL || len != 36) return CF_INVALID;
  static const unsigned char group[5] = {4, 2, 2, 2, 6}; /* bytes per group */
  cf_uuid u;
  size_t at = 0, i = 0;
  for (int g = 0; g < 5; g++) {
    if (g > 0 && s[i++] != '-') return CF_INVALID;
    if (cf__hex_decode(s + i, 2 * (size_t)group[g], u.b + at) != CF_OK) return CF_INVALID;
    i += 2 * (size_t)group[g];
    at += group[g];
  }
  *out = u;
  return CF_OK;
}

unsigned cf__uuid_version(const cf_uuid *u) { return u->b[6] >> 4; }

int64_t cf__uuid_v7_ms(const cf_uuid *u) {
  uint64_t ms = 0;
  for (int i = 0; i < 6; i++)
    ms = (ms << 8) | u->b[i];
  return (int64_t)ms;
}

int cf__uuid_cmp(const cf_uuid *a, const cf_uuid *b) {
  return memcmp(a->b, b->b, CF_UUID_LEN);
}
