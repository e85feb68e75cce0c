/*
** sim/prng.c: xoshiro256** (Blackman and Vigna) seeded through splitmix64;
** see sim/prng.h.  Small, fast and of ample quality for choosing operations
** and faults; not for anything secret.
*/
#include "sim/prng.h"

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void sim_prng_seed(sim_prng *r, uint64_t seed) {
  uint64_t x = seed;
  for (int i = 0; i < 4; i++)
    r->s[i] = splitmix64(&x);
  if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0) r->s[0] = 1;
}

uint64_t sim_prng_next(sim_prng *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

uint64_t sim_prng_below(sim_prng *r, uint64_t n) { return n ? sim_prng_next(r) % n : 0; }

int64_t sim_prng_range(sim_prng *r, int64_t lo, int64_t hi) {
  return lo + (int64_t)sim_prng_below(r, (uint64_t)(hi - lo) + 1);
}

int sim_prng_chance(sim_prng *r, unsigned per_mille) {
  return sim_prng_below(r, 1000) < per_mille;
}

void sim_prng_fill(sim_prng *r, unsigned char *buf, size_t n) {
  while (n > 0) {
    uint64_t v = sim_prng_next(r);
    for (int i = 0; i < 8 && n > 0; i++, n--) {
      *buf++ = (unsigned char)v;
      v >>= 8;
    }
  }
}

uint64_t sim_prng_fork(sim_prng *r) { return sim_prng_next(r) ^ 0x5851f42d4c957f2dULL; }
