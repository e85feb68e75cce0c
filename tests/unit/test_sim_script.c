/*
** tests/unit/test_sim_script.c: the scenario format of the simulation
** harness (sim/script.h, docs/sim.md): every step parses, prints back to
** the same text, and malformed lines are refused with their line number;
** the harness's generator is reproducible from its seed.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf_test.h"
#include "sim/prng.h"
#include "sim/script.h"

static const char every_step[] =
    "seed 42\n"
    "user carol admin demo\n"
    "node laptop1 rep demo\n"
    "laptop1 sql \"UPDATE contacts SET phone = 'a \\\"b\\\" \\\\ c'\"\n"
    "laptop1 try \"DELETE FROM deals\"\n"
    "master sql \"DELETE FROM contacts WHERE id = 'x'\"\n"
    "master try \"SELECT 1\"\n"
    "laptop1 sync\n"
    "laptop1 sync faults=7\n"
    "sync all\n"
    "sync all faults=9\n"
    "laptop1 offline\n"
    "laptop1 online\n"
    "heal\n"
    "laptop1 kill\n"
    "laptop1 clock +60000\n"
    "laptop1 clock -1500\n"
    "tick 250\n"
    "revoke rep demo\n"
    "restore rep demo\n"
    "laptop1 replay\n"
    "expect laptop1 \"SELECT 1\" = \"1\"\n"
    "expect master \"SELECT 'x'\" = \"x\"\n"
    "expect laptop1 conflicts = 2\n"
    "check\n"
    "quiet\n";

CF_TEST(test_sim_script_every_step_round_trips_through_its_text) {
  sim_script s;
  char err[256];
  CHECK_MSG(sim_script_parse(every_step, &s, err, sizeof err) == 0, "%s", err);
  CHECK_EQ((long long)s.n, 26);
  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&out, &len);
  CHECK(f != NULL);
  sim_script_print(f, &s);
  fclose(f);
  CHECK_STR(out, every_step);
  free(out);
  sim_script_free(&s);
}

CF_TEST(test_sim_script_units_and_partition_alias) {
  sim_script s;
  char err[256];
  CHECK(sim_script_parse("partition laptop2\nlaptop2 clock -5m\ntick 2s # c\n", &s, err,
                         sizeof err) == 0);
  CHECK_EQ((long long)s.n, 3);
  CHECK_EQ(s.v[0].kind, SIM_S_OFFLINE);
  CHECK_EQ((long long)s.v[1].num, -300000);
  CHECK_EQ((long long)s.v[2].num, 2000);
  sim_script_free(&s);
}

CF_TEST(test_sim_script_refuses_malformed_lines_naming_the_line) {
  static const char *const bad[] = {
      "laptop1 sql \"unterminated\n",
      "laptop1 fly\n",
      "user x boss demo\n",
      "expect laptop1 \"q\" 1\n",
      "sync all faults=x\n",
      "laptop1 clock soon\n",
      "node a b\n",
      "seed -\n",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    sim_script s;
    char err[256] = "";
    char text[256];
    snprintf(text, sizeof text, "heal\n%s", bad[i]);
    CHECK_MSG(sim_script_parse(text, &s, err, sizeof err) != 0, "accepted: %s", bad[i]);
    CHECK_MSG(strncmp(err, "line 2:", 7) == 0, "%s", err);
  }
}

CF_TEST(test_sim_prng_is_reproducible_from_its_seed) {
  sim_prng a, b;
  sim_prng_seed(&a, 12345);
  sim_prng_seed(&b, 12345);
  for (int i = 0; i < 1000; i++)
    CHECK(sim_prng_next(&a) == sim_prng_next(&b));
  sim_prng_seed(&b, 12346);
  CHECK(sim_prng_next(&a) != sim_prng_next(&b));
  for (int i = 0; i < 1000; i++)
    CHECK(sim_prng_below(&a, 7) < 7);
}
