/*
** platform/plant.h: planted bugs for the simulation harness's self-test
** (docs/sim.md "Self-test").  Only builds configured with -DCF_PLANT_BUGS=ON
** (test builds, never Release) compile them: elsewhere cf__plant() is the
** constant 0 and every planted branch is dead code the compiler removes.
** Each plant is one `if (cf__plant(CF_PLANT_X))` at the spot it breaks;
** `clientflow sim --plant NAME` arms one for a run, and the harness must
** catch it.
*/
#ifndef CF_PLATFORM_PLANT_H
#define CF_PLATFORM_PLANT_H

enum cf_plant {
  CF_PLANT_NONE = 0,
  CF_PLANT_TIE = 1,     /* core/merge.c: equal HLCs not broken by node id */
  CF_PLANT_CURSOR = 2,  /* master pull: the cursor runs past the head read */
  CF_PLANT_CASCADE = 3, /* master pull: a cascaded NULL sent with a stale version */
  CF_PLANT_STALE = 4,   /* master push: a stale batch answered "applied" */
  CF_PLANT_LEAK = 5     /* master pull: one row of another org */
};

#ifdef CF_PLANT_BUGS
/* The armed plant (CF_PLANT_NONE: none). */
extern int cf__planted;
static inline int cf__plant(int which) { return cf__planted == which; }
#else
#define cf__plant(which) 0
#endif

/* Arms plant (0: none); returns 0, or -1 when plants are not compiled in. */
int cf__plant_arm(int plant);

#endif
