/*
** platform/clock.c: wall clock, monotonic clock and randomness.
**
** The wall clock and the random source are hooks (cf_set_clock_hook,
** cf_set_random_hook) so that the simulation harness can skew clocks and
** replay a seed.  The defaults are CLOCK_REALTIME and getrandom(2).
*/
#include <errno.h>
#include <sys/random.h>
#include <time.h>

#include "platform/platform.h"

static cf_clock_fn clock_fn;   /* NULL: CLOCK_REALTIME */
static void *clock_ctx;        /* passed to clock_fn */
static cf_random_fn random_fn; /* NULL: getrandom(2) */
static void *random_ctx;       /* passed to random_fn */

void cf_set_clock_hook(cf_clock_fn fn, void *ctx) {
  clock_fn = fn;
  clock_ctx = ctx;
}

void cf_set_random_hook(cf_random_fn fn, void *ctx) {
  random_fn = fn;
  random_ctx = ctx;
}

int64_t cf__now_ms(void) {
  if (clock_fn != NULL) return clock_fn(clock_ctx);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t cf__monotonic_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int cf__random_hooked(void) { return random_fn != NULL; }

int cf__random(unsigned char *buf, size_t len) {
  if (random_fn != NULL) return random_fn(random_ctx, buf, len) == 0 ? CF_OK : CF_IO;
  size_t done = 0;
  while (done < len) {
    ssize_t n = getrandom(buf + done, len - done, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return CF_IO;
    }
    done += (size_t)n;
  }
  return CF_OK;
}

void cf__sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}
