/* bench_sim.c — membership and registry figures at scale, in virtual time:
 * for 100 and 1,000 simulated nodes, time to detect a crash, time (and
 * probe rounds) for a membership change and a registry change to reach
 * everyone, messages per node per second, and the false-death rate under
 * 10% loss. One JSON line per figure. `--quick` runs 100 nodes only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

static bool membership_ok(sim *s, void *arg) { return sim_membership_converged(s); }

typedef struct who_state {
  const char *who;
  swim_state st;
} who_state;

static bool all_see(sim *s, void *arg) {
  who_state *w = arg;
  return sim_all_see(s, w->who, w->st);
}

typedef struct resolve {
  const char *id, *owner;
} resolve;

static bool all_resolve(sim *s, void *arg) {
  resolve *r = arg;
  return sim_all_resolve(s, r->id, r->owner);
}

static void emit(const char *name, double value, const char *unit,
                 uint32_t nodes, const char *extra) {
  printf("{\"name\":\"%s\",\"value\":%.3f,\"unit\":\"%s\",\"nodes\":%u%s%s}\n",
         name, value, unit, nodes, extra ? "," : "", extra ? extra : "");
  fflush(stdout);
}

static void figures(uint32_t n, uint64_t seed) {
  sim_config c = {.nodes = n, .seed = seed, .loss_permille = 10};
  sim *s;
  if (sim_new(&s, &c) != 0) exit(1);
  const double interval = 500.0; /* swim default probe interval */
  sim_join_all(s);
  uint64_t t = sim_run_until(s, membership_ok, NULL, 10 * 60000);
  emit("sim_join_converge_ms", (double)t, "ms", n, "\"loss\":0.01");
  sim_run(s, 5000);

  /* Steady-state traffic. */
  sim_stats a, b;
  sim_get_stats(s, &a);
  sim_run(s, 30000);
  sim_get_stats(s, &b);
  emit("sim_msgs_per_node_per_s",
       (double)(b.msgs_sent - a.msgs_sent) / n / 30.0, "msgs/s", n,
       "\"loss\":0.01");

  /* A registry change reaching every node. */
  if (sim_claim(s, n / 2, "bench-actor") != 0) exit(1);
  resolve r = {"bench-actor", sim_name(s, n / 2)};
  t = sim_run_until(s, all_resolve, &r, 60000);
  emit("sim_registry_converge_ms", (double)t, "ms", n, "\"loss\":0.01");

  /* Crash detection: until every live node marks it dead. */
  uint32_t victim = n / 3;
  sim_crash(s, victim);
  who_state dead = {sim_name(s, victim), SWIM_DEAD};
  t = sim_run_until(s, all_see, &dead, 120000);
  emit("sim_detect_crash_ms", (double)t, "ms", n, "\"loss\":0.01");

  /* A membership change (the node restarts: new epoch) reaching everyone. */
  sim_restart(s, victim);
  who_state back = {sim_name(s, victim), SWIM_ALIVE};
  t = sim_run_until(s, all_see, &back, 120000);
  char extra[96];
  snprintf(extra, sizeof(extra), "\"loss\":0.01,\"probe_rounds\":%.1f",
           (double)t / interval);
  emit("sim_membership_change_ms", (double)t, "ms", n, extra);
  sim_get_stats(s, &b);
  emit("sim_false_deaths", (double)b.false_deaths, "deaths", n, "\"loss\":0.01");
  sim_free(s);
}

static void false_positives(uint32_t n, uint64_t seed, uint32_t minutes) {
  sim_config c = {.nodes = n, .seed = seed};
  sim *s;
  if (sim_new(&s, &c) != 0) exit(1);
  sim_join_all(s);
  sim_run_until(s, membership_ok, NULL, 10 * 60000);
  sim_set_loss(s, 100);
  sim_stats a, b;
  sim_get_stats(s, &a);
  sim_run(s, (uint64_t)minutes * 60000);
  sim_get_stats(s, &b);
  char extra[64];
  snprintf(extra, sizeof(extra), "\"loss\":0.10,\"minutes\":%u", minutes);
  emit("sim_false_deaths_10pct_loss", (double)(b.false_deaths - a.false_deaths),
       "deaths", n, extra);
  sim_free(s);
}

int main(int argc, char **argv) {
  bool quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
  figures(100, 11);
  false_positives(100, 12, quick ? 2 : 10);
  if (!quick) {
    figures(1000, 13);
    false_positives(1000, 14, 2);
  }
  return 0;
}
