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

#define MINUTE 60000u

static sim *new_sim(uint32_t nodes, uint64_t seed, uint32_t loss_permille) {
  sim_config c = {.nodes = nodes, .seed = seed, .loss_permille = loss_permille};
  sim *s = NULL;
  assert_int_equal(0, sim_new(&s, &c));
  return s;
}

static bool membership_ok(sim *s, void *arg) { return sim_membership_converged(s); }
static bool registry_ok(sim *s, void *arg) { return sim_registry_converged(s); }
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

static void thousand_nodes_with_one_percent_loss_converge(void **st) {
  sim *s = new_sim(1000, 2, 10);
  sim_join_all(s);
  assert_true(sim_run_until(s, membership_ok, NULL, 5 * MINUTE) != UINT64_MAX);
  claim_many(s, 1000, 1000);
  assert_converged(s, 2 * MINUTE);
  sim_stats ss;
  sim_get_stats(s, &ss);
  assert_int_equal(0, ss.false_deaths);
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
  sim *s = new_sim(50, 4, 0);
  sim_join_all(s);
  assert_true(sim_run_until(s, membership_ok, NULL, 2 * MINUTE) != UINT64_MAX);
  assert_int_equal(0, sim_claim(s, 7, "old-7"));
  assert_converged(s, MINUTE);
  /* Restarted before anyone noticed the crash: a new epoch. */
  sim_restart(s, 7);
  assert_int_equal(0, sim_claim(s, 7, "new-7"));
  assert_true(sim_run_until(s, n7_back, NULL, MINUTE) != UINT64_MAX);
  assert_converged(s, MINUTE);
  sim_free(s);
}

static void partition_heal_resolves_id_conflicts_the_same_everywhere(
    void **st) {
  sim *s = new_sim(20, 5, 0);
  sim_join_all(s);
  assert_true(sim_run_until(s, membership_ok, NULL, MINUTE) != UINT64_MAX);
  uint8_t group[20];
  for (int i = 0; i < 20; i++) group[i] = i < 10 ? 0 : 1;
  sim_partition(s, group);
  sim_run(s, 30000); /* each side declares the other dead */
  assert_int_equal(0, sim_claim(s, 3, "billing"));
  assert_int_equal(0, sim_claim(s, 15, "billing"));
  sim_run(s, 5000);
  sim_partition(s, NULL);
  assert_converged(s, 2 * MINUTE);
  /* strcmp("n15", "n3") < 0: n15 keeps the id, n3 was told once. */
  assert_true(sim_all_resolve(s, "billing", "n15"));
  sim_stats ss;
  sim_get_stats(s, &ss);
  assert_int_equal(1, ss.conflicts_lost);
  sim_free(s);
}

/* A script of partitions, crashes and restarts under loss. */
static uint64_t chaos_run(uint64_t seed, bool check) {
  sim *s = new_sim(60, seed, 20);
  sim_join_all(s);
  sim_run(s, 20000);
  claim_many(s, 60, 120);
  uint8_t group[60];
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < 60; i++) group[i] = (uint8_t)((i * 31 + round) % 3 == 0);
    sim_partition(s, group);
    sim_crash(s, (uint32_t)(5 + round * 11));
    sim_run(s, 15000);
    sim_partition(s, NULL);
    sim_restart(s, (uint32_t)(5 + round * 11));
    sim_run(s, 10000);
  }
  sim_set_loss(s, 0);
  if (check) assert_converged(s, 3 * MINUTE);
  sim_stats ss;
  sim_get_stats(s, &ss);
  sim_free(s);
  return ss.trace_hash;
}

static void random_partitions_and_crashes_reproduce_the_same_trace(
    void **st) {
  uint64_t a = chaos_run(42, true);
  uint64_t b = chaos_run(42, false);
  assert_true(a == b);
  assert_true(chaos_run(43, false) != a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(hundred_nodes_join_and_agree),
      cmocka_unit_test(crashed_node_is_declared_dead_and_its_actors_vanish),
      cmocka_unit_test(restarted_node_returns_and_its_old_actors_are_gone),
      cmocka_unit_test(partition_heal_resolves_id_conflicts_the_same_everywhere),
      cmocka_unit_test(random_partitions_and_crashes_reproduce_the_same_trace),
      cmocka_unit_test(thousand_nodes_with_one_percent_loss_converge),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
