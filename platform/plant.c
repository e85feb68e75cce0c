/*
** platform/plant.c: the armed planted bug (platform/plant.h).  Compiled in
** every build; only CF_PLANT_BUGS builds read it.
*/
#include "platform/plant.h"

#ifdef CF_PLANT_BUGS
int cf__planted;
int cf__plant_arm(int plant) {
  cf__planted = plant;
  return 0;
}
#else
int cf__plant_arm(int plant) { return plant == 0 ? 0 : -1; }
#endif
