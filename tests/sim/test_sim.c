/* test_sim.c — the membership and registry state machines in a simulated
 * cluster: 100 and 1,000 nodes, loss, crashes, restarts, partitions. After
 * every scenario the property checker asserts that live members agree on
 * membership and on the registry, and that no id has two live owners. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"
#include "vnet.h"

#define MINUTE 60000u

/* Members speak only for themselves, as the real host runs them. */
static sim *new_sim(uint32_t nodes, uint64_t seed, uint32_t loss_permille) {
  sim_config c = {.nodes = nodes, .seed = seed, .loss_permille = loss_permille,
                  .trust = true};
  sim *s = NULL;
  assert_int_equal(0, sim_new(&s, &c));
  return s;
}

static bool membership_ok(sim *s, void *arg) { return sim_membership_converged(s); }
static bool all_ok(sim *s, void *arg) {
  return sim_membership_converged(s) && sim_registry_converged(s);
}

/* The property checker, run at the end of every scenario. */
static void assert_converged(sim *s, uint64_t within_ms) {
  uint64_t t = sim_run_until(s, all_ok, NULL, within_ms);
  if (t == UINT64_MAX)
    fail_msg("no convergence within %llu ms (membership %d, registry %d)",
             (unsigned long long)within_ms, sim_membership_converged(s),
             sim_registry_converged(s));
  assert_true(sim_no_double_owner(s));
  assert_true(sim_owners_hold(s));
}

static void claim_many(sim *s, uint32_t nodes, uint32_t count) {
  char id[32];
  for (uint32_t k = 0; k < count; k++) {
    snprintf(id, sizeof(id), "actor-%u", k);
    uint32_t i = (k * 7919u) % nodes;
    if (sim_is_up(s, i)) assert_int_equal(0, sim_claim(s, i, id));
  }
}

static void hundred_nodes_join_and_agree(void **st) {
  sim *s = new_sim(100, 1, 0);
  sim_join_all(s);
  assert_true(sim_run_until(s, membership_ok, NULL, 2 * MINUTE) != UINT64_MAX);
  claim_many(s, 100, 300);
  assert_converged(s, MINUTE);
  assert_true(sim_all_resolve(s, "actor-1", sim_name(s, 7919u % 100)));
  sim_free(s);
}

/* TR_SIM_NODES lowers the node count (the sanitizer build sets it: ASan
 * makes the full run too slow for ctest); the plain build runs 1,000. */
static uint32_t big_nodes(void) {
  const char *e = getenv("TR_SIM_NODES");
  unsigned long n = e ? strtoul(e, NULL, 10) : 0;
  return n >= 10 && n <= 1000 ? (uint32_t)n : 1000;
}

static void thousand_nodes_with_one_percent_loss_converge(void **st) {
  uint32_t n = big_nodes();
  print_message("%u nodes, 1%% loss\n", n);
  sim *s = new_sim(n, 2, 10);
  sim_join_all(s);
  uint64_t t = sim_run_until(s, membership_ok, NULL, 5 * MINUTE);
  assert_true(t != UINT64_MAX);
  print_message("membership converged after %llu virtual ms\n",
                (unsigned long long)t);
  claim_many(s, n, 1000);
  assert_converged(s, 2 * MINUTE);
  assert_int_equal(1000, reg_count(sim_reg(s, 0)));
  sim_stats ss;
  sim_get_stats(s, &ss);
  assert_int_equal(0, ss.false_deaths);
  sim_free(s);
}

/* A Byzantine member among many (issue "trust"): for 30 virtual seconds
 * node 1 tells 20 random members, every 200 ms, each claim only a victim
 * may make (dead at its incarnation + 1, left, restarted, suspect at + 1)
 * and the rumour anyone may start (dead at its incarnation), about a
 * random victim, and lies about the victim's registry set (an id added
 * under a seal of its own, the victim's id removed unsealed, an empty set
 * at version 2^62, a digest inflating its version, and a claim of its own
 * on the victim's id dated to the start of time). No correct member is
 * ever held dead, left or restarted by a correct one, no correct owner's
 * entry is lost or added; the forged claims are refused and counted, the
 * rumours checked by a probe and refuted; everything stays converged. */
static void byzantine_member_harms_nobody(void **st) {
  uint32_t n = big_nodes();
  print_message("%u nodes, node 1 lies about the others\n", n);
  sim *s = new_sim(n, 3, 0);
  sim_join_all(s);
  uint64_t t = sim_run_until(s, membership_ok, NULL, 5 * MINUTE);
  assert_true(t != UINT64_MAX);
  char id[32];
  for (uint32_t i = 0; i < n; i++) {
    snprintf(id, sizeof(id), "own-%u", i);
    assert_int_equal(0, sim_claim(s, i, id));
  }
  assert_converged(s, MINUTE);
  /* The ids are held longer than claims' times are taken on trust
   * (claim_skew_ms): from here on no later claim may take them. */
  sim_run(s, 11000);
  sim_stats before;
  sim_get_stats(s, &before);
  uint64_t rng = 7;
  struct {
    swim_state state;
    uint32_t epoch_up, inc_up;
  } claims[] = {{SWIM_DEAD, 0, 1},
                {SWIM_LEFT, 0, 0},
                {SWIM_ALIVE, 1, 0},
                {SWIM_SUSPECT, 0, 1},
                {SWIM_DEAD, 0, 0}};
  uint32_t rounds = 0;
  for (uint64_t ms = 0; ms < 30000; ms += 200, rounds++) {
    uint32_t victim = 2 + (uint32_t)(vnet_splitmix64(&rng) % (n - 2));
    for (size_t k = 0; k < sizeof(claims) / sizeof(claims[0]); k++)
      for (uint32_t j = 0; j < 20; j++) {
        uint32_t to = (uint32_t)(vnet_splitmix64(&rng) % n);
        if (to == 1 || to == victim) continue;
        sim_forge(s, 1, victim, to, claims[k].state, claims[k].epoch_up,
                  claims[k].inc_up);
      }
    static const sim_reg_lie lies[] = {SIM_REG_ADD, SIM_REG_REMOVE,
                                       SIM_REG_SET, SIM_REG_INFLATE,
                                       SIM_REG_STEAL};
    for (size_t k = 0; k < sizeof(lies) / sizeof(lies[0]); k++)
      for (uint32_t j = 0; j < 20; j++) {
        uint32_t to = (uint32_t)(vnet_splitmix64(&rng) % n);
        if (to == 1 || to == victim) continue;
        snprintf(id, sizeof(id), lies[k] == SIM_REG_ADD ? "stolen-%u"
                                                        : "own-%u",
                 victim);
        /* STEAL: byz claims the victim's own id as its own, dated to the
         * start of time; the victim's earlier claim keeps it. */
        sim_forge_reg(s, 1, victim, to, lies[k], id);
      }
    sim_run(s, 200);
  }
  assert_converged(s, MINUTE);
  for (uint32_t i = 0; i < n; i++) {
    snprintf(id, sizeof(id), "own-%u", i);
    if (!sim_all_resolve(s, id, sim_name(s, i)))
      fail_msg("%s's entry %s was lost somewhere", sim_name(s, i), id);
    snprintf(id, sizeof(id), "stolen-%u", i);
    assert_true(sim_all_resolve(s, id, NULL));
  }
  sim_stats ss;
  sim_get_stats(s, &ss);
  print_message("%u rounds: %llu forged claims refused, %llu deaths checked; "
                "false deaths %llu, lefts %llu, restarts %llu; %llu signs, "
                "%llu verifies in all; registry: %llu forged entries "
                "refused, %llu seals signed, %llu checked\n",
                rounds, (unsigned long long)(ss.forged_rejected -
                                             before.forged_rejected),
                (unsigned long long)(ss.death_checks - before.death_checks),
                (unsigned long long)ss.false_deaths,
                (unsigned long long)ss.false_lefts,
                (unsigned long long)ss.false_restarts,
                (unsigned long long)ss.signs,
                (unsigned long long)ss.verifies,
                (unsigned long long)(ss.reg_forged_rejected -
                                     before.reg_forged_rejected),
                (unsigned long long)ss.reg_signs,
                (unsigned long long)ss.reg_verifies);
  assert_int_equal(0, ss.false_deaths);
  assert_int_equal(0, ss.false_lefts);
  assert_int_equal(0, ss.false_restarts);
  assert_true(ss.forged_rejected > before.forged_rejected);
  assert_true(ss.reg_forged_rejected > before.reg_forged_rejected);
  assert_true(ss.death_checks > before.death_checks);
  sim_free(s);
}

static bool n7_dead_everywhere(sim *s, void *arg) {
  return sim_all_see(s, "n7", SWIM_DEAD) && sim_all_resolve(s, "actor-7", NULL);
}

static void crashed_node_is_declared_dead_and_its_actors_vanish(void **st) {
  sim *s = new_sim(100, 3, 0);
  sim_join_all(s);
  assert_true(sim_run_until(s, membership_ok, NULL, 2 * MINUTE) != UINT64_MAX);
  assert_int_equal(0, sim_claim(s, 7, "actor-7"));
  assert_converged(s, MINUTE);
  assert_true(sim_all_resolve(s, "actor-7", "n7"));
  sim_crash(s, 7);
  uint64_t t = sim_run_until(s, n7_dead_everywhere, NULL, MINUTE);
  assert_true(t != UINT64_MAX);
  assert_converged(s, MINUTE);
  sim_free(s);
}

static bool n7_back(sim *s, void *arg) {
  return sim_all_see(s, "n7", SWIM_ALIVE) && sim_all_resolve(s, "old-7", NULL) &&
         sim_all_resolve(s, "new-7", "n7");
}

static void restarted_node_returns_and_its_old_actors_are_gone(void **st) {
  sim *s = new_sim(100, 4, 0);
  sim_join_all(s);
  assert_true(sim_run_until(s, membership_ok, NULL, 2 * MINUTE) != UINT64_MAX);
  assert_int_equal(0, sim_claim(s, 7, "old-7"));
  assert_converged(s, MINUTE);
  /* Restarted before anyone noticed the crash: a new epoch. */
  swim_update before, after;
  assert_true(swim_member(sim_swim(s, 7), "n7", &before));
  sim_restart(s, 7);
  assert_true(swim_member(sim_swim(s, 7), "n7", &after));
  assert_true(after.epoch > before.epoch);
  assert_int_equal(0, sim_claim(s, 7, "new-7"));
  /* n7_back: everyone holds n7 alive in the new epoch (sim_all_see). */
  assert_true(sim_run_until(s, n7_back, NULL, MINUTE) != UINT64_MAX);
  assert_converged(s, MINUTE);
  sim_free(s);
}

/* Each half holds exactly itself alive. */
static bool halves_apart(sim *s, void *arg) {
  for (uint32_t i = 0; i < 100; i++)
    if (swim_alive_count(sim_swim(s, i)) != 50) return false;
  return true;
}

static void partition_heal_resolves_id_conflicts_the_same_everywhere(
    void **st) {
  sim *s = new_sim(100, 5, 0);
  sim_join_all(s);
  assert_true(sim_run_until(s, membership_ok, NULL, 2 * MINUTE) != UINT64_MAX);
  uint8_t group[100];
  for (int i = 0; i < 100; i++) group[i] = i < 50 ? 0 : 1;
  sim_partition(s, group);
  assert_true(sim_run_until(s, halves_apart, NULL, 2 * MINUTE) != UINT64_MAX);
  /* Both halves take both ids, n60 and n40 a little before n3 and n70. */
  assert_int_equal(0, sim_claim(s, 60, "billing"));
  assert_int_equal(0, sim_claim(s, 40, "ledger"));
  sim_run(s, 100);
  assert_int_equal(0, sim_claim(s, 3, "billing"));
  assert_int_equal(0, sim_claim(s, 70, "ledger"));
  sim_run(s, 5000);
  assert_string_equal("n3", reg_lookup(sim_reg(s, 10), "billing"));
  assert_string_equal("n60", reg_lookup(sim_reg(s, 90), "billing"));
  assert_false(sim_no_double_owner(s)); /* the checker sees the split */
  sim_partition(s, NULL);
  assert_converged(s, 2 * MINUTE);
  /* The earlier claims win, not the names that sort first ("n3" < "n60");
   * each loser was told once. */
  assert_true(sim_all_resolve(s, "billing", "n60"));
  assert_true(sim_all_resolve(s, "ledger", "n40"));
  sim_stats ss;
  sim_get_stats(s, &ss);
  assert_int_equal(2, ss.conflicts_lost);
  sim_free(s);
}

/* Every node holds the group key (one owner each, so it resolves). */
static bool all_hold(sim *s, const char *key, bool held) {
  for (uint32_t i = 0; i < 100; i++)
    if (sim_is_up(s, i) && (reg_lookup(sim_reg(s, i), key) != NULL) != held)
      return false;
  return true;
}

/* Groups ride the registry as shared keys: members that join on both sides
 * of a partition, and one that leaves on one side, end on every node as
 * the union of what their live owners hold; a key two owners hold (one of
 * them lying) is no conflict and costs nobody anything. */
static void partition_heal_keeps_the_union_of_group_members(void **st) {
  (void)st;
  sim *s = new_sim(100, 7, 0);
  sim_join_all(s);
  assert_true(sim_run_until(s, membership_ok, NULL, 2 * MINUTE) != UINT64_MAX);
  assert_int_equal(0, sim_claim(s, 20, "a20"));
  assert_int_equal(0, sim_claim(s, 20, "$g:pool a20"));
  assert_converged(s, MINUTE);
  assert_true(all_hold(s, "$g:pool a20", true));
  uint8_t group[100];
  for (int i = 0; i < 100; i++) group[i] = i < 50 ? 0 : 1;
  sim_partition(s, group);
  assert_true(sim_run_until(s, halves_apart, NULL, 2 * MINUTE) != UINT64_MAX);
  assert_int_equal(0, sim_claim(s, 10, "a10"));
  assert_int_equal(0, sim_claim(s, 10, "$g:pool a10"));
  assert_int_equal(0, sim_claim(s, 60, "a60"));
  assert_int_equal(0, sim_claim(s, 60, "$g:pool a60"));
  assert_int_equal(0, sim_release(s, 20, "$g:pool a20"));
  /* A second owner of a shared key is taken, not a conflict. */
  assert_int_equal(0, sim_claim(s, 70, "$g:pool a10"));
  assert_int_equal(TR_EEXIST, sim_claim(s, 70, "$g:pool a10"));
  sim_run(s, 5000);
  /* Each side holds what its own side said. */
  assert_non_null(reg_lookup(sim_reg(s, 90), "$g:pool a60"));
  assert_non_null(reg_lookup(sim_reg(s, 90), "$g:pool a10")); /* n70's */
  assert_null(reg_lookup(sim_reg(s, 90), "$g:pool a20")); /* n20 is dead */
  assert_null(reg_lookup(sim_reg(s, 5), "$g:pool a60"));
  assert_null(reg_lookup(sim_reg(s, 5), "$g:pool a20"));
  sim_partition(s, NULL);
  assert_converged(s, 2 * MINUTE);
  assert_true(all_hold(s, "$g:pool a10", true));
  assert_true(all_hold(s, "$g:pool a60", true));
  assert_true(all_hold(s, "$g:pool a20", false));
  sim_stats ss;
  sim_get_stats(s, &ss);
  assert_int_equal(0, ss.conflicts_lost);
  sim_free(s);
}

/* A random script, drawn from `seed`: partitions into two or three groups,
 * crashes, restarts, claims on both sides of a cut (so ids collide) and
 * releases, under 2% loss; then the network heals and loss stops, and the
 * property checker runs. Returns the run's trace hash. */
#define CHAOS_NODES 100u

/* The script's own random source, apart from the network's. */
static uint64_t chaos_next(uint64_t *x) { return vnet_splitmix64(x); }

static uint64_t chaos_run(uint64_t seed) {
  uint64_t x = seed;
  sim *s = new_sim(CHAOS_NODES, seed, 20);
  sim_join_all(s);
  assert_true(sim_run_until(s, membership_ok, NULL, 2 * MINUTE) != UINT64_MAX);
  claim_many(s, CHAOS_NODES, 200);
  uint8_t group[CHAOS_NODES];
  char id[32];
  for (int round = 0; round < 4; round++) {
    uint32_t ngroups = 2 + (uint32_t)(chaos_next(&x) % 2);
    for (uint32_t i = 0; i < CHAOS_NODES; i++)
      group[i] = (uint8_t)(chaos_next(&x) % ngroups);
    sim_partition(s, group);
    uint32_t crashed[3];
    for (int c = 0; c < 3; c++) {
      crashed[c] = (uint32_t)(chaos_next(&x) % CHAOS_NODES);
      sim_crash(s, crashed[c]);
    }
    sim_run(s, 2000 + chaos_next(&x) % 20000);
    /* Claims on every side, some of the same id. */
    for (int c = 0; c < 10; c++) {
      uint32_t i = (uint32_t)(chaos_next(&x) % CHAOS_NODES);
      snprintf(id, sizeof(id), "chaos-%u", (unsigned)(chaos_next(&x) % 30));
      int rc = sim_claim(s, i, id);
      assert_true(rc == 0 || rc == TR_EEXIST || rc == TR_ECLOSED);
      snprintf(id, sizeof(id), "actor-%u", (unsigned)(chaos_next(&x) % 200));
      rc = sim_release(s, i, id);
      assert_true(rc == 0 || rc == TR_ENOTFOUND || rc == TR_ECLOSED);
    }
    sim_run(s, 1000 + chaos_next(&x) % 10000);
    sim_partition(s, NULL);
    for (int c = 0; c < 3; c++)
      if (chaos_next(&x) % 2) sim_restart(s, crashed[c]);
    sim_run(s, chaos_next(&x) % 10000);
  }
  sim_set_loss(s, 0);
  assert_converged(s, 3 * MINUTE);
  sim_stats ss;
  sim_get_stats(s, &ss);
  sim_free(s);
  return ss.trace_hash;
}

static void random_partitions_and_crashes_reproduce_the_same_trace(
    void **st) {
  uint64_t a = chaos_run(42);
  uint64_t b = chaos_run(42);
  assert_true(a == b);
  assert_true(chaos_run(43) != a);
}

/* For sim.trace_across_runs: the same run in two processes (addresses
 * differ) must give the same hash; same_trace.cmake compares them. */
static void chaos_trace_hash_is_printed(void **st) {
  uint64_t h = chaos_run(42);
  print_message("trace_hash=%016llx\n", (unsigned long long)h);
  assert_true(h != 0);
}

/* One ctest entry per group, so each has its own timeout and they can run
 * in parallel: `test_sim scenarios|chaos|trace|thousand` (no argument: all
 * but trace). */
int main(int argc, char **argv) {
  const struct CMUnitTest scenarios[] = {
      cmocka_unit_test(hundred_nodes_join_and_agree),
      cmocka_unit_test(crashed_node_is_declared_dead_and_its_actors_vanish),
      cmocka_unit_test(restarted_node_returns_and_its_old_actors_are_gone),
      cmocka_unit_test(partition_heal_resolves_id_conflicts_the_same_everywhere),
      cmocka_unit_test(partition_heal_keeps_the_union_of_group_members),
  };
  const struct CMUnitTest chaos[] = {
      cmocka_unit_test(random_partitions_and_crashes_reproduce_the_same_trace),
  };
  const struct CMUnitTest trace[] = {
      cmocka_unit_test(chaos_trace_hash_is_printed),
  };
  const struct CMUnitTest thousand[] = {
      cmocka_unit_test(thousand_nodes_with_one_percent_loss_converge),
  };
  const struct CMUnitTest byzantine[] = {
      cmocka_unit_test(byzantine_member_harms_nobody),
  };
  const char *group = argc > 1 ? argv[1] : NULL;
  bool known = !group || strcmp(group, "scenarios") == 0 ||
               strcmp(group, "chaos") == 0 || strcmp(group, "trace") == 0 ||
               strcmp(group, "thousand") == 0 ||
               strcmp(group, "byzantine") == 0;
  if (!known) {
    fprintf(stderr,
            "usage: test_sim [scenarios|chaos|trace|thousand|byzantine]\n");
    return 2;
  }
  int failed = 0;
  if (!group || strcmp(group, "scenarios") == 0)
    failed += cmocka_run_group_tests_name("scenarios", scenarios, NULL, NULL);
  if (!group || strcmp(group, "chaos") == 0)
    failed += cmocka_run_group_tests_name("chaos", chaos, NULL, NULL);
  if (group && strcmp(group, "trace") == 0)
    failed += cmocka_run_group_tests_name("trace", trace, NULL, NULL);
  if (!group || strcmp(group, "thousand") == 0)
    failed += cmocka_run_group_tests_name("thousand", thousand, NULL, NULL);
  if (!group || strcmp(group, "byzantine") == 0)
    failed += cmocka_run_group_tests_name("byzantine", byzantine, NULL, NULL);
  return failed;
}
