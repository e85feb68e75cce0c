/*
** bench/benchrow.h: the one line per goal that every benchmark prints for
** bench/run.sh, besides its own table (bench/README.md):
**
**   BENCHROW<TAB>name<TAB>figure<TAB>baseline<TAB>ratio-or-value<TAB>goal<TAB>met|missed
**
** e.g. "BENCHROW	local write via view	62.1k rows/s	155k rows/s plain insert
** 0.40x	>=0.5x	missed".  Header-only (static inline), for the bench_*.c
** programs alone; the shell benchmarks print the same line with printf.
*/
#ifndef CF_BENCH_BENCHROW_H
#define CF_BENCH_BENCHROW_H

#include <stdio.h>

/* Prints one goal row on stdout.  Every string is printed as given (no tab
** or newline in them); `met` is nonzero when the goal is met. */
static inline void bench_row(const char *name, const char *figure, const char *baseline,
                             const char *value, const char *goal, int met) {
  printf("BENCHROW\t%s\t%s\t%s\t%s\t%s\t%s\n", name, figure, baseline, value, goal,
         met ? "met" : "missed");
  fflush(stdout);
}

/* A rate as "155k rows/s" (three significant digits) into buf. */
static inline const char *bench_rate(char *buf, size_t size, double per_s,
                                     const char *unit) {
  if (per_s >= 1e6)
    snprintf(buf, size, "%.3gM %s", per_s / 1e6, unit);
  else if (per_s >= 1e3)
    snprintf(buf, size, "%.3gk %s", per_s / 1e3, unit);
  else
    snprintf(buf, size, "%.3g %s", per_s, unit);
  return buf;
}

#endif
