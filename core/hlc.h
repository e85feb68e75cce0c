/*
** core/hlc.h: the hybrid logical clock (internal).  Design: docs/sync.md,
** "Clock".
**
** An HLC timestamp is a 64-bit unsigned integer:
**
**   bits 63..16  wall-clock milliseconds since the Unix epoch (48 bits,
**                enough until the year 10889)
**   bits 15..0   logical counter within that millisecond
**
** so comparing two timestamps as integers orders them.  A node's clock only
** moves forward: cf__hlc_now() returns a value greater than every value it
** issued or adopted before, even if the wall clock moved back, and when the
** counter of one millisecond is used up it borrows into the millisecond part
** (last + 1).  The state is one number (the last timestamp issued or
** adopted) that the store persists and gives back with cf__hlc_restore() on
** open, so the clock also survives restarts.
**
** cf__hlc_recv() lets a remote timestamp push the clock forward, so that
** every later local write orders after what this node has seen; a remote
** timestamp more than max_skew_ms ahead of the local wall clock is refused
** with CF_CLOCK_SKEW and the clock is left unchanged (a node with a clock far
** in the future cannot drag everyone there).
**
** Time comes only from cf__now_ms() (platform/platform.h), which tests and
** the simulation hook.  There is no locking: one clock is used by one thread
** at a time (the store serialises on its connection).
*/
#ifndef CF_HLC_H
#define CF_HLC_H

#include <stddef.h>
#include <stdint.h>

#include "clientflow.h"

/* One HLC timestamp (see the layout above).  0 means "never". */
typedef uint64_t cf_hlc;

#define CF_HLC_COUNTER_BITS 16
#define CF_HLC_COUNTER_MASK ((cf_hlc)0xffff)
#define CF_HLC_MAX_MS ((int64_t)0xffffffffffffLL) /* 2^48 - 1 */
/* Milliseconds part and counter part of h. */
#define CF_HLC_MS(h) ((int64_t)((cf_hlc)(h) >> CF_HLC_COUNTER_BITS))
#define CF_HLC_COUNTER(h) ((unsigned)((cf_hlc)(h)&CF_HLC_COUNTER_MASK))
/* The timestamp for millisecond ms (0..CF_HLC_MAX_MS) and counter c. */
#define CF_HLC_MAKE(ms, c)                                                               \
  (((cf_hlc)(ms) << CF_HLC_COUNTER_BITS) | ((cf_hlc)(c)&CF_HLC_COUNTER_MASK))

/* Default bound on how far ahead of the local wall clock a remote timestamp
** may be: 5 minutes. */
#define CF_HLC_DEFAULT_MAX_SKEW_MS ((int64_t)5 * 60 * 1000)

/* Room for cf__hlc_format: "2026-11-28T16:00:00.123Z#65535" plus NUL. */
#define CF_HLC_TEXT_LEN 32

/* The state of one node's clock.  Plain data: the store persists `last`. */
typedef struct cf_hlc_clock {
  cf_hlc last;         /* greatest timestamp issued or adopted; 0 = none */
  int64_t max_skew_ms; /* cf__hlc_recv refuses remote ms > reference + this */
  int64_t ref_ms;      /* a trusted reference clock (the server's, from
                          WELCOME) as read at ref_mono_ns; 0: none */
  int64_t ref_mono_ns; /* cf__monotonic_ns() when it was read: the
                          reference runs on with the monotonic clock, so a
                          wall clock moved back later does not drag it */
} cf_hlc_clock;

/* Most a reference clock may run ahead of the wall clock (one day): a node
** whose clock is behind by more must have it corrected. */
#define CF_HLC_MAX_REF_AHEAD_MS ((int64_t)24 * 60 * 60 * 1000)

/* CONSTRUCTOR.  A clock that has issued nothing (last = 0) with the default
** skew bound.  Cannot fail. */
void cf__hlc_init(cf_hlc_clock *clock);

/* METHOD.  Restores the persisted state after a restart: last becomes the
** greater of its current value and `last`, so restoring never moves the clock
** back.  Call it on open with the value the store saved. */
void cf__hlc_restore(cf_hlc_clock *clock, cf_hlc last);

/* METHOD.  Sets the skew bound of cf__hlc_recv (milliseconds, >= 0; negative
** values are taken as 0). */
void cf__hlc_set_max_skew(cf_hlc_clock *clock, int64_t max_skew_ms);

/* METHOD.  Sets a trusted reference clock: it read ref_ms (Unix ms) at
** mono_ns (cf__monotonic_ns()), and runs on with the monotonic clock.  A
** node learns the server's clock at WELCOME: versions the server accepted
** are bounded by ITS clock, so a node whose own clock is a little behind
** (or was moved back since) must bound them by the server's too, or it
** could never apply them.  The reference counts at most
** CF_HLC_MAX_REF_AHEAD_MS ahead of the wall clock; ref_ms 0 clears it. */
void cf__hlc_set_reference(cf_hlc_clock *clock, int64_t ref_ms, int64_t mono_ns);

/* METHOD.  Ticks: returns a new timestamp greater than every one issued or
** adopted before, and records it as `last`.  It is (wall ms, 0) when the wall
** clock is ahead of `last`, else last + 1 (counter overflow carries into the
** milliseconds).  A wall clock before 1970 counts as 0.  Cannot fail (the
** 64-bit space lasts until the year 10889; at the very end it saturates). */
cf_hlc cf__hlc_now(cf_hlc_clock *clock);

/* METHOD.  Receives a remote timestamp.  If CF_HLC_MS(remote) is more than
** max_skew_ms ahead of the reference (cf__now_ms(), or the trusted clock set
** with cf__hlc_set_reference when that is later), returns
** CF_CLOCK_SKEW and changes nothing.  Otherwise adopts it (last = max(last, remote)) and
*returns CF_OK;
** the next cf__hlc_now() is then greater than remote.  OUT: if out is not
** NULL, a new timestamp is also issued (as by cf__hlc_now, so it is greater
** than remote) and written there; with out NULL nothing is issued, which
** suits applying a batch of remote versions. */
int cf__hlc_recv(cf_hlc_clock *clock, cf_hlc remote, cf_hlc *out) CF_WARN_UNUSED;

/* Returns the last timestamp issued or adopted (what the store persists). */
cf_hlc cf__hlc_last(const cf_hlc_clock *clock);

/* Writes a debugging text form of h into out[CF_HLC_TEXT_LEN]:
** "YYYY-MM-DDTHH:MM:SS.mmmZ#counter" (UTC).  Returns out. */
char *cf__hlc_format(cf_hlc h, char out[CF_HLC_TEXT_LEN]);

#endif /* CF_HLC_H */
