/*
** core/sha256_x86.c: SHA-256 (FIPS 180-4) with the x86 SHA extensions, for
** the CPUs that have them (see core/crypto.h, cf__sha256_x86).
**
** Why: a push's batch digest hashes every cell of the batch, about 1 MB per
** 2,000 new rows (docs/master-sync.md, "Batches"); mbedTLS 2.28 hashes in
** portable C at 80-200 MB/s here, 5-12 ms a batch, a tenth of a push's
** whole cost.  The SHA extensions (SHA256RNDS2, SHA256MSG1, SHA256MSG2, in
** most x86 CPUs since 2017) do the same rounds several times faster.  The
** digest is the same function: cf__sha256 uses this when the CPU says it
** can (CPUID leaf 7, EBX bit 29, with SSSE3 and SSE4.1) and mbedTLS
** otherwise, and tests/unit/test_crypto.c compares the two on the FIPS
** vectors and on every length up to a few blocks.
**
** The state as the instructions want it: two registers, ABEF and CDGH (A in
** the top lane); the message schedule four words at a time in four
** registers, W[16..63] made by SHA256MSG1 (the sigma0 half), an add of
** W[t-7] (PALIGNR of two quads) and SHA256MSG2 (the sigma1 half).  One
** SHA256RNDS2 does two rounds with the two low words of its third operand
** (W + K), so a quad of rounds is two of them with the quad's halves swapped
** in between.
**
** Other architectures, and compilers without GCC's target attributes, get
** a stub that says "not available".
*/
#include "core/crypto.h"

#include <string.h>

#if (defined(__x86_64__) || defined(__i386__)) &&                                        \
    (defined(__GNUC__) || defined(__clang__))

#include <cpuid.h>
#include <immintrin.h>
#include <stdatomic.h>

/* The round constants K[0..63]. */
static const uint32_t round_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2};

/* Compresses n 64-byte blocks of p into h[0..8). */
__attribute__((target("sha,sse4.1,ssse3"))) static void
compress(uint32_t h[8], const unsigned char *p, size_t n) {
  /* Big-endian words: reverse the bytes of each 32-bit lane. */
  const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  __m128i t = _mm_loadu_si128((const __m128i *)(const void *)&h[0]);  /* DCBA */
  __m128i s1 = _mm_loadu_si128((const __m128i *)(const void *)&h[4]); /* HGFE */
  t = _mm_shuffle_epi32(t, 0xB1);                                     /* CDAB */
  s1 = _mm_shuffle_epi32(s1, 0x1B);                                   /* EFGH */
  __m128i s0 = _mm_alignr_epi8(t, s1, 8);                             /* ABEF */
  s1 = _mm_blend_epi16(s1, t, 0xF0);                                  /* CDGH */
  for (; n > 0; n--, p += 64) {
    __m128i save0 = s0, save1 = s1, m[4], w;
    for (int q = 0; q < 4; q++)
      m[q] = _mm_shuffle_epi8(
          _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * q)), bswap);
    for (int q = 0; q < 16; q++) {
      /* Rounds 4q .. 4q+3 with W[4q..4q+3] = m[q % 4]. */
      w = _mm_add_epi32(m[q & 3],
                        _mm_loadu_si128((const __m128i *)(const void *)&round_k[4 * q]));
      s1 = _mm_sha256rnds2_epu32(s1, s0, w);
      if (q >= 3 && q <= 14) {
        /* W[4(q+1)..]: sigma1 half and W[t-7] of m[(q+1) % 4] (its sigma0
        ** half was added by SHA256MSG1 three quads ago). */
        __m128i prev7 = _mm_alignr_epi8(m[q & 3], m[(q + 3) & 3], 4);
        m[(q + 1) & 3] = _mm_add_epi32(m[(q + 1) & 3], prev7);
        m[(q + 1) & 3] = _mm_sha256msg2_epu32(m[(q + 1) & 3], m[q & 3]);
      }
      w = _mm_shuffle_epi32(w, 0x0E);
      s0 = _mm_sha256rnds2_epu32(s0, s1, w);
      if (q >= 1 && q <= 12)
        m[(q + 3) & 3] = _mm_sha256msg1_epu32(m[(q + 3) & 3], m[q & 3]);
    }
    s0 = _mm_add_epi32(s0, save0);
    s1 = _mm_add_epi32(s1, save1);
  }
  t = _mm_shuffle_epi32(s0, 0x1B);   /* FEBA */
  s1 = _mm_shuffle_epi32(s1, 0xB1);  /* DCHG */
  s0 = _mm_blend_epi16(t, s1, 0xF0); /* DCBA */
  s1 = _mm_alignr_epi8(s1, t, 8);    /* HGFE */
  _mm_storeu_si128((__m128i *)(void *)&h[0], s0);
  _mm_storeu_si128((__m128i *)(void *)&h[4], s1);
}

/* 1 if this CPU has the SHA extensions (and SSSE3, SSE4.1), else 0; asked
** once (-1: not yet). */
static atomic_int have_sha = -1;

static int cpu_has_sha(void) {
  int v = atomic_load_explicit(&have_sha, memory_order_relaxed);
  if (v >= 0) return v;
  unsigned a, b, c, d;
  v = 0;
  if (__get_cpuid(1, &a, &b, &c, &d) && (c & bit_SSSE3) && (c & bit_SSE4_1) &&
      __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 29)))
    v = 1;
  atomic_store_explicit(&have_sha, v, memory_order_relaxed);
  return v;
}

int cf__sha256_x86(const void *data, size_t len, unsigned char out[CF_SHA256_LEN]) {
  if (!cpu_has_sha()) return 0;
  uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  const unsigned char *p = data;
  size_t full = len / 64;
  if (full > 0) compress(h, p, full);
  /* The tail, 0x80, zeros and the length in bits (big-endian): one or two
  ** blocks. */
  unsigned char last[128];
  size_t rest = len - full * 64, nlast = rest < 56 ? 64 : 128;
  memset(last, 0, sizeof last);
  if (rest > 0) memcpy(last, p + full * 64, rest);
  last[rest] = 0x80;
  uint64_t bits = (uint64_t)len * 8;
  for (int i = 0; i < 8; i++)
    last[nlast - 1 - i] = (unsigned char)(bits >> (8 * i));
  compress(h, last, nlast / 64);
  for (int i = 0; i < 8; i++) {
    out[4 * i] = (unsigned char)(h[i] >> 24);
    out[4 * i + 1] = (unsigned char)(h[i] >> 16);
    out[4 * i + 2] = (unsigned char)(h[i] >> 8);
    out[4 * i + 3] = (unsigned char)h[i];
  }
  return 1;
}

#else

int cf__sha256_x86(const void *data, size_t len, unsigned char out[CF_SHA256_LEN]) {
  (void)data;
  (void)len;
  (void)out;
  return 0;
}

#endif
