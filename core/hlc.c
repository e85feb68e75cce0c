/*
** core/hlc.c: the hybrid logical clock (see core/hlc.h, docs/sync.md).
**
** The whole state is `last`, the greatest timestamp issued or adopted.  A
** tick is max(wall, last + 1) in the 64-bit space, where wall is the wall
** clock's millisecond with counter 0; that single rule gives monotonicity
** when the wall clock moves back and counter overflow into the millisecond
** part for free.
*/
#include "core/hlc.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/value.h"
#include "platform/platform.h"

/* The wall clock as milliseconds clamped into the 48-bit range. */
static int64_t wall_ms(void) {
  int64_t ms = cf__now_ms();
  if (ms < 0) return 0;
  if (ms > CF_HLC_MAX_MS) return CF_HLC_MAX_MS;
  return ms;
}

void cf__hlc_init(cf_hlc_clock *clock) {
  clock->last = 0;
  clock->max_skew_ms = CF_HLC_DEFAULT_MAX_SKEW_MS;
  clock->ref_ms = 0;
  clock->ref_mono_ns = 0;
}

void cf__hlc_restore(cf_hlc_clock *clock, cf_hlc last) {
  if (last > clock->last) clock->last = last;
}

void cf__hlc_set_max_skew(cf_hlc_clock *clock, int64_t max_skew_ms) {
  clock->max_skew_ms = max_skew_ms < 0 ? 0 : max_skew_ms;
}

void cf__hlc_set_reference(cf_hlc_clock *clock, int64_t ref_ms, int64_t mono_ns) {
  clock->ref_ms = ref_ms > 0 ? ref_ms : 0;
  clock->ref_mono_ns = mono_ns;
}

/* The later of the wall clock and the reference (capped a day ahead). */
static int64_t reference_ms(const cf_hlc_clock *clock) {
  int64_t wall = wall_ms();
  if (clock->ref_ms <= 0) return wall;
  int64_t ref = clock->ref_ms + (cf__monotonic_ns() - clock->ref_mono_ns) / 1000000;
  if (ref > wall + CF_HLC_MAX_REF_AHEAD_MS) ref = wall + CF_HLC_MAX_REF_AHEAD_MS;
  return ref > wall ? ref : wall;
}

cf_hlc cf__hlc_now(cf_hlc_clock *clock) {
  cf_hlc wall = CF_HLC_MAKE(wall_ms(), 0);
  cf_hlc next = clock->last == UINT64_MAX ? UINT64_MAX : clock->last + 1;
  if (wall > next) next = wall;
  clock->last = next;
  return next;
}

int cf__hlc_recv(cf_hlc_clock *clock, cf_hlc remote, cf_hlc *out) {
  int64_t limit = reference_ms(clock);
  /* wall_ms() <= 2^48, the reference at most a day ahead and the skew a few
  ** minutes: no overflow unless the caller set an absurd bound, which then
  ** means "no bound". */
  if (clock->max_skew_ms > INT64_MAX - limit)
    limit = INT64_MAX;
  else
    limit += clock->max_skew_ms;
  if (CF_HLC_MS(remote) > limit) return CF_CLOCK_SKEW;
  if (remote > clock->last) clock->last = remote;
  if (out != NULL) *out = cf__hlc_now(clock);
  return CF_OK;
}

cf_hlc cf__hlc_last(const cf_hlc_clock *clock) { return clock->last; }

char *cf__hlc_format(cf_hlc h, char out[CF_HLC_TEXT_LEN]) {
  char ts[CF_TIMESTAMP_TEXT_LEN];
  if (cf__timestamp_format(CF_HLC_MS(h) * 1000, ts) != CF_OK) {
    snprintf(out, CF_HLC_TEXT_LEN, "%016" PRIx64, (uint64_t)h);
    return out;
  }
  /* "YYYY-MM-DDTHH:MM:SS.mmm" (23 characters), then "Z#counter". */
  memcpy(out, ts, 23);
  snprintf(out + 23, CF_HLC_TEXT_LEN - 23, "Z#%u", CF_HLC_COUNTER(h));
  return out;
}
