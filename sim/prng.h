/*
** sim/prng.h: the simulation's own pseudo-random generator (xoshiro256**,
** seeded through splitmix64).  Every random choice of a simulated run comes
** from one seed through generators of this kind, never from the operating
** system, so a run is reproduced from its seed.  Design: docs/sim.md.
*/
#ifndef CF_SIM_PRNG_H
#define CF_SIM_PRNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct sim_prng {
  uint64_t s[4]; /* xoshiro256** state, never all zero */
} sim_prng;

/* Seeds r from seed (any value, 0 included). */
void sim_prng_seed(sim_prng *r, uint64_t seed);

/* The next 64 random bits. */
uint64_t sim_prng_next(sim_prng *r);

/* A value in [0, n) (n > 0; 0 gives 0), without modulo bias worth noting
** for the n the harness uses (n << 2^32). */
uint64_t sim_prng_below(sim_prng *r, uint64_t n);

/* A value in [lo, hi] (lo <= hi). */
int64_t sim_prng_range(sim_prng *r, int64_t lo, int64_t hi);

/* 1 with probability per_mille / 1000. */
int sim_prng_chance(sim_prng *r, unsigned per_mille);

/* Fills buf[0..n) with random bytes. */
void sim_prng_fill(sim_prng *r, unsigned char *buf, size_t n);

/* A seed for a sub-stream (a step, a connection), derived from r. */
uint64_t sim_prng_fork(sim_prng *r);

#endif
