/*
** cli/cmd_sim.c: `clientflow sim`, the conflict-resolution harness
** (docs/sim.md).  Parses the options, runs seeds or a scenario through
** sim/sim.h, prints a progress bar, the summary table or JSON, and on a
** violation the command that replays it and a shrunk trace.
*/
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "platform/process.h"
#include "sim/sim.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: clientflow sim [options]\n"
          "\n"
          "The conflict-resolution harness: real replicas, real sessions, a real\n"
          "PostgreSQL master; only the network, the clocks and the scheduling are\n"
          "simulated, from one seed.  Each seed runs random local writes, direct SQL,\n"
          "partitions, dropped and replayed frames, killed nodes, clock jumps and\n"
          "revocations, then heals everything, syncs until nothing moves and checks\n"
          "the invariants (docs/sim.md).  Exit 0 only when every invariant held.\n"
          "\n"
          "options:\n"
          "  --seed S             first seed (default 1)\n"
          "  --seeds N            number of seeds, S, S+1, ... (default 1)\n"
          "  --nodes N            replicas per run (default 4, at most 16)\n"
          "  --orgs N             organizations, 1 or 2 (default 2)\n"
          "  --steps N            random steps before the quiet phase (default 40)\n"
          "  --scenario FILE      run a scenario file instead of random seeds\n"
          "  --write-scenario F   on a violation, write the shrunk run as a scenario\n"
          "  --database-url URL   a PostgreSQL superuser URL (else a private cluster is\n"
          "                       started and stopped)\n"
          "  --dir DIR            where replica files go (default /dev/shm or $TMPDIR)\n"
          "  --json               print the summary as JSON\n"
          "  --verbose            print every step as it runs\n"
          "  --real               real mode: a `clientflow serve` process, every sync a\n"
          "                       `clientflow node sync` process over loopback\n"
          "                       WebSockets, some killed with SIGKILL (docs/sim.md)\n"
          "  --no-shrink          do not shrink a failing run\n"
          "  --keep-going         run every seed even after a violation (the first\n"
          "                       one is reported and shrunk; all are listed)\n"
          "  --plant NAME         arm a planted bug (builds with CF_PLANT_BUGS only):\n");
#define SIM_X_HELP(name, what)                                                           \
  fprintf(out, "                       %-8s %s\n", #name, what);
  SIM_PLANTS(SIM_X_HELP)
#undef SIM_X_HELP
  fprintf(out,
          "  --expect-violation   exit 0 only if a violation is found (self-test)\n"
          "  Ctrl-C ends a sweep after the running seed and prints the summary of the\n"
          "  seeds done (exit 130 unless one failed)\n"
          "  -h, --help           this text\n"
          "\n"
          "examples:\n"
          "  clientflow sim --seeds 10000\n"
          "  clientflow sim --seed 4711 --verbose\n"
          "  clientflow sim --scenario examples/scenarios/edit_same_contact.scn\n");
}

typedef struct opts {
  uint64_t seed;
  long seeds;
  int nodes, orgs, steps;
  const char *scenario, *write_scenario, *url, *dir, *plant;
  int json, verbose, shrink, expect_violation, keep_going, real;
} opts;

static int num(const char *s, long lo, long hi, long *out) {
  errno = 0;
  char *e;
  long v = strtol(s, &e, 10);
  if (e == s || *e || errno || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void progress(long done, long total, long failed, double t0) {
  double el = (now_ms() - t0) / 1000;
  int width = 30, fill = total ? (int)(width * done / total) : width;
  fprintf(stderr, "\r  [%.*s%.*s] %ld/%ld seeds  %.1f/min  %ld failed ", fill,
          "##############################", width - fill,
          "..............................", done, total, el > 0 ? done * 60 / el : 0.0,
          failed);
  fflush(stderr);
}

static void print_table(const int64_t *count, long seeds, double secs, double quiet_ms) {
  printf("\n%-28s %12s\n", "ClientFlow sim", "total");
  printf("%-28s %12s\n", "----------------------------", "------------");
  for (int c = 0; c < SIM_COUNTER_MAX; c++)
    printf("%-28s %12" PRId64 "\n", sim_counter_name((sim_counter)c), count[c]);
  printf("%-28s %12.1f\n", "seconds", secs);
  printf("%-28s %12.1f\n", "seeds_per_minute", secs > 0 ? seeds * 60 / secs : 0.0);
  printf("%-28s %12.1f\n", "mean_ms_to_quiet", seeds ? quiet_ms / (double)seeds : 0.0);
}

static void json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"' || *s == '\\')
      fprintf(f, "\\%c", *s);
    else if ((unsigned char)*s < 0x20)
      fprintf(f, "\\u%04x", *s);
    else
      fputc(*s, f);
  }
  fputc('"', f);
}

static void replay_command(FILE *f, const opts *o, uint64_t seed) {
  fprintf(f, "clientflow sim --seed %" PRIu64 " --nodes %d --orgs %d --steps %d", seed,
          o->nodes, o->orgs, o->steps);
  if (o->plant) fprintf(f, " --plant %s", o->plant);
  if (o->real) fprintf(f, " --real");
  if (o->url) fprintf(f, " --database-url '%s'", o->url);
}

int cf_cmd_sim(int argc, char **argv) {
  opts o = {1, 1, 4, 2, 40, NULL, NULL, NULL, NULL, NULL, 0, 0, 1, 0, 0, 0};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    long n;
    if (cf_cli_is_help(a)) {
      usage(stdout);
      return 0;
    } else if (strcmp(a, "--json") == 0) {
      o.json = 1;
    } else if (strcmp(a, "--real") == 0) {
      o.real = 1;
    } else if (strcmp(a, "--verbose") == 0) {
      o.verbose = 1;
    } else if (strcmp(a, "--no-shrink") == 0) {
      o.shrink = 0;
    } else if (strcmp(a, "--keep-going") == 0) {
      o.keep_going = 1;
    } else if (strcmp(a, "--expect-violation") == 0) {
      o.expect_violation = 1;
    } else if (v == NULL) {
      fprintf(stderr, "clientflow sim: %s needs a value (see --help)\n", a);
      return 2;
    } else if (strcmp(a, "--seed") == 0) {
      errno = 0;
      char *e;
      o.seed = strtoull(v, &e, 10);
      if (e == v || *e || errno)
        return fprintf(stderr, "clientflow sim: bad --seed\n"), 2;
      i++;
    } else if (strcmp(a, "--seeds") == 0 && num(v, 1, 100000000, &n) == 0) {
      o.seeds = n, i++;
    } else if (strcmp(a, "--nodes") == 0 && num(v, 1, 16, &n) == 0) {
      o.nodes = (int)n, i++;
    } else if (strcmp(a, "--orgs") == 0 && num(v, 1, 2, &n) == 0) {
      o.orgs = (int)n, i++;
    } else if (strcmp(a, "--steps") == 0 && num(v, 0, 100000, &n) == 0) {
      o.steps = (int)n, i++;
    } else if (strcmp(a, "--scenario") == 0) {
      o.scenario = v, i++;
    } else if (strcmp(a, "--write-scenario") == 0) {
      o.write_scenario = v, i++;
    } else if (strcmp(a, "--database-url") == 0) {
      o.url = v, i++;
    } else if (strcmp(a, "--dir") == 0) {
      o.dir = v, i++;
    } else if (strcmp(a, "--plant") == 0) {
      o.plant = v, i++;
    } else {
      fprintf(stderr, "clientflow sim: bad option or value: %s %s (see --help)\n", a, v);
      return 2;
    }
  }
  sim_config cfg;
  sim_config_default(&cfg);
  cfg.nodes = o.nodes;
  cfg.orgs = o.orgs;
  cfg.steps = o.steps;
  cfg.verbose = o.verbose;
  cfg.real = o.real;
  if (o.plant) {
    int p = sim_plant_index(o.plant);
    if (p < 0) return fprintf(stderr, "clientflow sim: no plant named %s\n", o.plant), 2;
    if (!sim_plants_compiled())
      return cf_cli_fail("sim", "this build has no planted bugs (configure with "
                                "-DCF_PLANT_BUGS=ON)");
    cfg.plant = p + 1;
  }
  sim_script scenario = {0};
  char err[1024];
  if (o.scenario && sim_script_load(o.scenario, &scenario, err, sizeof err) != 0)
    return cf_cli_fail("sim", "%s", err);
  sim_env *env = NULL;
  if (!o.json)
    fprintf(stderr, "clientflow sim: preparing %s...\n",
            o.url ? "the template database" : "a private PostgreSQL");
  if (sim_env_open(o.url, o.dir, &env, err, sizeof err) != 0) {
    sim_script_free(&scenario);
    return cf_cli_fail("sim", "%s", err);
  }
  if (o.expect_violation) sim_set_keep_failed(0);
  int tty = isatty(2) && !o.json && !o.verbose;
  int64_t total[SIM_COUNTER_MAX] = {0};
  double t0 = now_ms(), quiet_ms = 0, open_ms = 0;
  long done = 0, failed = 0, errors = 0;
  sim_result fail_res;
  uint64_t failed_seeds[64];
  int nfailed_seeds = 0;
  int have_fail = 0;
  uint64_t fail_seed = 0;
  long nseeds = o.scenario ? 1 : o.seeds;
  /* Ctrl-C (or SIGTERM) ends a long sweep after the seed that is running,
  ** with the summary of the seeds done. */
  cf__interrupt_catch();
  int interrupted = 0;
  for (long k = 0; k < nseeds; k++) {
    sim_result r;
    cfg.seed = o.seed + (uint64_t)k;
    if (o.scenario)
      sim_run_script(env, &cfg, &scenario, &r);
    else
      sim_run_random(env, &cfg, &r);
    for (int c = 0; c < SIM_COUNTER_MAX; c++)
      total[c] += r.count[c];
    quiet_ms += r.quiet_ms;
    open_ms += r.open_ms + r.close_ms;
    done++;
    if (!r.ok) {
      if (r.error) errors++;
      failed++;
      if (!have_fail) {
        fail_res = r;
        have_fail = 1;
        fail_seed = cfg.seed;
      } else {
        sim_result_free(&r);
      }
    } else {
      sim_result_free(&r);
    }
    if (!r.ok && nfailed_seeds < 64) failed_seeds[nfailed_seeds++] = cfg.seed;
    if (tty) progress(done, nseeds, failed, t0);
    if (have_fail && !o.keep_going) break; /* the first violation is the one to study */
    if (cf__interrupted() && k + 1 < nseeds) {
      interrupted = 1;
      break;
    }
  }
  double secs = (now_ms() - t0) / 1000;
  if (tty) fputc('\n', stderr);
  int code = have_fail ? 1 : interrupted ? 130 : 0;
  if (interrupted && !o.json)
    fprintf(stderr, "clientflow sim: interrupted after %ld of %ld seeds\n", done, nseeds);
  sim_script shrunk = {0};
  char shrunk_violation[2048] = "";
  if (have_fail && !fail_res.error && o.shrink && !o.expect_violation) {
    if (!o.json) fprintf(stderr, "clientflow sim: violation; shrinking the run...\n");
    sim_shrink(env, &cfg, &fail_res.script, 300, &shrunk, shrunk_violation,
               sizeof shrunk_violation);
  }
  if (o.json) {
    printf("{\"ok\": %s, \"seeds\": %ld, \"seconds\": %.3f, \"seeds_per_minute\": %.1f, "
           "\"mean_ms_to_quiet\": %.1f, \"interrupted\": %s, \"counters\": {",
           have_fail ? "false" : "true", done, secs, secs > 0 ? done * 60 / secs : 0.0,
           done ? quiet_ms / (double)done : 0.0, interrupted ? "true" : "false");
    for (int c = 0; c < SIM_COUNTER_MAX; c++)
      printf("%s\"%s\": %" PRId64, c ? ", " : "", sim_counter_name((sim_counter)c),
             total[c]);
    printf("}");
    printf(", \"failed_seeds\": [");
    for (int k = 0; k < nfailed_seeds; k++)
      printf("%s%" PRIu64, k ? ", " : "", failed_seeds[k]);
    printf("]");
    if (have_fail) {
      printf(", \"failure\": {\"seed\": %" PRIu64
             ", \"harness_error\": %s, \"violation\": ",
             fail_seed, fail_res.error ? "true" : "false");
      json_str(stdout, fail_res.violation);
      printf(", \"command\": \"");
      replay_command(stdout, &o, fail_seed);
      printf("\"}");
    }
    printf("}\n");
  } else {
    print_table(total, done, secs, quiet_ms);
    printf("%-28s %12ld\n", "failed_seeds", failed);
    for (int k = 0; k < nfailed_seeds; k++)
      printf("  failed seed %" PRIu64 "\n", failed_seeds[k]);
    printf("%-28s %12.1f\n", "mean_ms_clone_and_drop_db",
           done ? open_ms / (double)done : 0.0);
    if (have_fail) {
      printf("\n%s at seed %" PRIu64 ":\n  %s\n",
             fail_res.error ? "HARNESS ERROR" : "VIOLATION", fail_seed,
             fail_res.violation);
      if (o.scenario)
        printf("\nreplay: clientflow sim --scenario %s\n", o.scenario);
      else {
        printf("\nreplay: ");
        replay_command(stdout, &o, fail_seed);
        printf("\n");
      }
      const sim_script *tr = shrunk.n ? &shrunk : &fail_res.script;
      printf("\n%s trace (%zu steps):\n", shrunk.n ? "shrunk" : "full", tr->n);
      for (size_t i = 0; i < tr->n; i++) {
        char *line = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&line, &len);
        if (m == NULL) continue;
        sim_step_print(m, &tr->v[i]);
        fclose(m);
        printf("  %.300s%s\n", line, len > 300 ? "..." : "");
        free(line);
      }
      if (shrunk.n) printf("\nshrunk run fails with:\n  %s\n", shrunk_violation);
    }
  }
  if (have_fail && o.write_scenario) {
    FILE *f = fopen(o.write_scenario, "w");
    if (f == NULL) {
      cf_cli_fail("sim", "cannot write %s: %s", o.write_scenario, strerror(errno));
    } else {
      fprintf(f, "# Written by clientflow sim: seed %" PRIu64 ", shrunk.\n# Fails with: ",
              fail_seed);
      const char *v = shrunk.n ? shrunk_violation : fail_res.violation;
      for (const char *p = v; *p; p++)
        fputc(*p == '\n' ? ' ' : *p, f);
      fputc('\n', f);
      sim_script_print(f, shrunk.n ? &shrunk : &fail_res.script);
      fclose(f);
    }
  }
  if (o.expect_violation) {
    if (have_fail && !fail_res.error) {
      code = 0;
      if (!o.json) printf("\nexpected violation found at seed %" PRIu64 "\n", fail_seed);
    } else {
      code = 1;
      if (!o.json) printf("\nno violation found in %ld seeds (expected one)\n", done);
    }
  }
  if (have_fail) sim_result_free(&fail_res);
  sim_script_free(&shrunk);
  sim_script_free(&scenario);
  sim_env_close(env);
  return code;
}
