/* bench_sim.c — membership and registry figures at scale, in virtual time:
 * for 100 and 1,000 simulated nodes, time to detect a crash, time (and
 * probe rounds) for a membership change and a registry change to reach
 * everyone, messages per node per second, and the false-death rate under
 * 10% loss over a fixed virtual duration. One JSON line per figure; times
 * are virtual ms, measured to one simulation step (5 ms).
 * Usage: bench_sim [--plain] [--quick]   (--quick: 100 nodes only, a short
 *        10% run; --plain: members do not sign, as before issue "trust")
 *        bench_sim --false-deaths NODES MINUTES   (that figure alone) */
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

#define PROBE_INTERVAL_MS 500.0 /* swim's default, used by the sim */
#define GOSSIP_INTERVAL_MS 50.0 /* the registry's default */
#define NEVER_MS 120000u        /* a figure that takes longer is -1 */

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

/* Members speak only for themselves (sim_config.trust), as the real host
 * runs them; --plain measures plain SWIM, for a before/after in one build. */
static bool trust = true;

static void emit(const char *name, double value, const char *unit,
                 uint32_t nodes, const char *extra) {
  printf("{\"name\":\"%s\",\"value\":%.3f,\"unit\":\"%s\",\"nodes\":%u,"
         "\"trust\":%s%s%s}\n",
         name, value, unit, nodes, trust ? "true" : "false", extra ? "," : "",
         extra ? extra : "");
  fflush(stdout);
}

/* The simulator's own CPU time, ms: the state machines' cost (signatures
 * are a stand-in here; count them and multiply by the real cost). */
static double cpu_ms(void) { return (double)clock() * 1000.0 / CLOCKS_PER_SEC; }

/* A time figure, with the probe rounds it spans; -1 if it never happened. */
static void emit_time(const char *name, uint64_t t, uint32_t n,
                      const char *loss) {
  char extra[128];
  double ms = t == UINT64_MAX ? -1.0 : (double)t;
  snprintf(extra, sizeof(extra), "\"loss\":%s,\"probe_rounds\":%.2f", loss,
           t == UINT64_MAX ? -1.0 : (double)t / PROBE_INTERVAL_MS);
  emit(name, ms, "ms", n, extra);
}

static sim *joined_sim(uint32_t n, uint64_t seed, uint32_t loss_permille,
                       uint64_t *join_ms) {
  /* The predicates below are O(N) and checked every step: 5 ms resolution.
   * Joining is checked every 50 ms (the full check is O(N^2)). */
  sim_config c = {.nodes = n, .seed = seed, .loss_permille = loss_permille,
                  .check_ms = 50, .trust = trust};
  sim *s;
  if (sim_new(&s, &c) != 0) exit(1);
  sim_join_all(s);
  *join_ms = sim_run_until(s, membership_ok, NULL, 10 * 60000);
  if (*join_ms == UINT64_MAX) {
    fprintf(stderr, "bench_sim: %u nodes never converged\n", n);
    exit(1);
  }
  return s;
}

static uint64_t run_until_step(sim *s, bool (*pred)(sim *, void *), void *arg) {
  /* One step per check: these predicates are O(N). */
  uint64_t start = sim_now(s);
  while (!pred(s, arg)) {
    if (sim_now(s) - start >= NEVER_MS) return UINT64_MAX;
    sim_run(s, 5);
  }
  return sim_now(s) - start;
}

static void figures(uint32_t n, uint64_t seed) {
  uint64_t t;
  sim *s = joined_sim(n, seed, 10, &t);
  emit_time("sim_join_converge_ms", t, n, "0.01");
  sim_stats a, b;
  sim_get_stats(s, &a);
  emit("sim_join_verifies_per_node", (double)a.verifies / n, "verifies", n,
       "\"loss\":0.01");
  emit("sim_join_seal_verifies_per_node", (double)a.reg_verifies / n,
       "verifies", n, "\"loss\":0.01,\"what\":\"registry batches relayed\"");
  sim_run(s, 20000); /* past the join's sync storm */

  /* Steady-state traffic: swim probes, syncs, registry digests. */
  sim_get_stats(s, &a);
  double cpu0 = cpu_ms();
  sim_run(s, 60000);
  double cpu = cpu_ms() - cpu0;
  sim_get_stats(s, &b);
  emit("sim_msgs_per_node_per_s",
       (double)(b.msgs_sent - a.msgs_sent) / n / 60.0, "msgs/s", n,
       "\"loss\":0.01,\"window_s\":60");
  emit("sim_cpu_per_node", cpu / n / 60.0, "cpu_ms/s", n,
       "\"loss\":0.01,\"window_s\":60,\"what\":\"membership and registry "
       "state machines, simulator included\"");
  emit("sim_verifies_per_node_per_s",
       (double)(b.verifies + b.reg_verifies - a.verifies - a.reg_verifies) /
           n / 60.0,
       "verifies/s", n, "\"loss\":0.01,\"window_s\":60");

  /* A registry change (a claim) until every node resolves it. */
  sim_get_stats(s, &a);
  if (sim_claim(s, n / 2, "bench-actor") != 0) exit(1);
  resolve r = {"bench-actor", sim_name(s, n / 2)};
  t = run_until_step(s, all_resolve, &r);
  char extra[128];
  snprintf(extra, sizeof(extra),
           "\"loss\":0.01,\"probe_rounds\":%.2f,\"gossip_rounds\":%.1f",
           t == UINT64_MAX ? -1.0 : (double)t / PROBE_INTERVAL_MS,
           t == UINT64_MAX ? -1.0 : (double)t / GOSSIP_INTERVAL_MS);
  emit("sim_registry_change_converge_ms", t == UINT64_MAX ? -1.0 : (double)t,
       "ms", n, extra);
  sim_run(s, 2000); /* the batch's relays settle */
  sim_get_stats(s, &b);
  emit("sim_registry_change_seal_verifies_per_node",
       (double)(b.reg_verifies - a.reg_verifies) / n, "verifies", n,
       "\"loss\":0.01,\"what\":\"one claim: its batch checked once by "
       "each node that first hears it relayed\"");

  /* A group join (docs/groups.md): a membership key "$g:<group> <actor>"
   * of an actor every node already resolves, until every node holds it. */
  if (sim_claim(s, n / 4, "bench-member") != 0) exit(1);
  resolve m = {"bench-member", sim_name(s, n / 4)};
  if (run_until_step(s, all_resolve, &m) == UINT64_MAX) exit(1);
  sim_run(s, 2000);
  if (sim_claim(s, n / 4, "$g:bench bench-member") != 0) exit(1);
  resolve g = {"$g:bench bench-member", sim_name(s, n / 4)};
  t = run_until_step(s, all_resolve, &g);
  snprintf(extra, sizeof(extra),
           "\"loss\":0.01,\"probe_rounds\":%.2f,\"gossip_rounds\":%.1f",
           t == UINT64_MAX ? -1.0 : (double)t / PROBE_INTERVAL_MS,
           t == UINT64_MAX ? -1.0 : (double)t / GOSSIP_INTERVAL_MS);
  emit("sim_group_join_converge_ms", t == UINT64_MAX ? -1.0 : (double)t,
       "ms", n, extra);
  sim_run(s, 2000);

  /* Crash detection: until every live node marks it dead. */
  uint32_t victim = n / 3;
  sim_crash(s, victim);
  who_state dead = {sim_name(s, victim), SWIM_DEAD};
  t = run_until_step(s, all_see, &dead);
  emit_time("sim_detect_crash_ms", t, n, "0.01");

  /* A membership change: the node comes back (new epoch) until every
   * live node holds it alive in that epoch. */
  sim_get_stats(s, &a);
  sim_restart(s, victim);
  who_state back = {sim_name(s, victim), SWIM_ALIVE};
  t = run_until_step(s, all_see, &back);
  emit_time("sim_membership_change_converge_ms", t, n, "0.01");
  sim_get_stats(s, &b);
  emit("sim_restart_verifies_per_node", (double)(b.verifies - a.verifies) / n,
       "verifies", n, "\"loss\":0.01");
  sim_get_stats(s, &b);
  emit("sim_false_deaths", (double)b.false_victims, "deaths", n,
       "\"loss\":0.01");
  sim_free(s);
}

/* False deaths at 10% loss over `minutes` of virtual time: the number of
 * live nodes declared dead, and that per node per hour. */
static void false_positives(uint32_t n, uint64_t seed, uint32_t minutes) {
  uint64_t t;
  sim *s = joined_sim(n, seed, 0, &t);
  sim_run(s, 20000);
  sim_set_loss(s, 100);
  sim_stats a, b;
  sim_get_stats(s, &a);
  sim_run(s, (uint64_t)minutes * 60000);
  sim_get_stats(s, &b);
  uint64_t victims = b.false_victims - a.false_victims;
  uint64_t observers = b.false_deaths - a.false_deaths;
  char extra[160];
  snprintf(extra, sizeof(extra),
           "\"loss\":0.10,\"minutes\":%u,\"observer_deaths\":%llu", minutes,
           (unsigned long long)observers);
  emit("sim_false_deaths_10pct_loss", (double)victims, "deaths", n, extra);
  snprintf(extra, sizeof(extra), "\"loss\":0.10,\"minutes\":%u", minutes);
  emit("sim_false_death_rate_10pct_loss",
       (double)victims / n / (minutes / 60.0), "deaths/node/h", n, extra);
  sim_free(s);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--plain") == 0) {
    trust = false;
    argv++;
    argc--;
  }
  bool quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
  if (argc == 4 && strcmp(argv[1], "--false-deaths") == 0) {
    /* One false-death run: bench_sim --false-deaths NODES MINUTES */
    false_positives((uint32_t)atoi(argv[2]), 14, (uint32_t)atoi(argv[3]));
    return 0;
  }
  if (argc > 1 && !quick) {
    fprintf(stderr,
            "usage: bench_sim [--plain] [--quick | --false-deaths N MIN]\n");
    return 2;
  }
  figures(100, 11);
  false_positives(100, 12, quick ? 1 : 5);
  if (!quick) {
    figures(1000, 13);
    false_positives(1000, 14, 5);
  }
  return 0;
}
