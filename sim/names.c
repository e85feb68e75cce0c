/*
** sim/names.c: names of counters and planted bugs (sim/sim.h), and arming
** a plant for a run (platform/plant.h).
*/
#include <string.h>

#include "platform/plant.h"
#include "sim/sim.h"

static const char *const counter_names[SIM_COUNTER_MAX] = {
    "seeds",
    "steps",
    "ops",
    "ops_refused_locally",
    "master_sql",
    "connections",
    "pushed",
    "applied",
    "superseded",
    "rejected",
    "pulled",
    "rejected_permission",
    "rejected_constraint",
    "rejected_invalid",
    "rejected_wrong_org",
    "rejected_revoked",
    "rejected_foreign_key",
    "rejected_other",
    "conflict_same_cell",
    "conflict_deleted_row",
    "conflict_unique",
    "conflict_foreign_key",
    "fault_drop",
    "fault_kill",
    "fault_replay",
    "fault_partition",
    "fault_clock",
    "fault_revoke",
    "quiet_rounds",
};

const char *sim_counter_name(sim_counter c) {
  return (int)c >= 0 && c < SIM_COUNTER_MAX ? counter_names[c] : "?";
}

#define SIM_X_NAME(name, what) #name,
static const char *const plant_names[] = {SIM_PLANTS(SIM_X_NAME)};
#undef SIM_X_NAME

int sim_plant_index(const char *name) {
  for (size_t i = 0; i < sizeof plant_names / sizeof plant_names[0]; i++)
    if (strcmp(plant_names[i], name) == 0) return (int)i;
  return -1;
}

const char *sim_plant_name(int i) {
  return i >= 0 && (size_t)i < sizeof plant_names / sizeof plant_names[0] ? plant_names[i]
                                                                          : NULL;
}

int sim_plants_compiled(void) {
#ifdef CF_PLANT_BUGS
  return 1;
#else
  return 0;
#endif
}

int sim_plant_activate(int plant);
/* plant: the sim_config number (index + 1, 0 none); the order of
** SIM_PLANTS is the order of enum cf_plant. */
int sim_plant_activate(int plant) { return cf__plant_arm(plant); }
