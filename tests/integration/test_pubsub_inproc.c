/* test_pubsub_inproc.c — pub/sub across 3 cluster nodes in one process:
 * topics and order, one crossing per link per publish, interest withdrawn
 * on unsubscribe and stop, subscribing before the publisher exists, the
 * publisher moving to another node and its node restarting, a slow
 * subscriber's drops counted while others get everything, and a
 * subscriber node leaving. Every wait is bounded, and waits for an event:
 * "nothing more arrived" is shown by a later message on the same path
 * (from one sender to one receiver messages arrive in order), never by
 * sleeping. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "cluster_harness.h"

#define JOIN_MS 15000u
#define SETTLE_MS 10000u

static tn_cluster *start(size_t n) {
  tn_cluster *c = NULL;
  assert_int_equal(tn_new_joined(&c, n, NULL, JOIN_MS), 0);
  return c;
}

static void wait_count(tn_cluster *c, const char *kind, const char *actor,
                       size_t n) {
  if (tn_wait_events(c, kind, actor, n, SETTLE_MS) < 0)
    fail_msg("%s got %zu %s events, want %zu", actor,
             tn_count_events(c, kind, actor), kind, n);
}

typedef struct interest_want {
  size_t node;
  int n;
} interest_want;

static bool has_interest(tn_cluster *c, void *arg) {
  interest_want *w = arg;
  return tn_interest(c, w->node) == w->n;
}

static void wait_interest(tn_cluster *c, size_t node, int n) {
  interest_want w = {node, n};
  if (tn_wait(c, has_interest, &w, SETTLE_MS) < 0)
    fail_msg("node %zu holds %d remote interests, want %d", node,
             tn_interest(c, node), n);
}

static bool gone_everywhere(tn_cluster *c, void *arg) {
  const char *id = arg;
  char owner[TR_ID_MAX + 1];
  for (size_t i = 0; i < tn_count(c); i++)
    if (tn_locate(c, i, id, owner, sizeof(owner)) != TR_ENOTFOUND)
      return false;
  return true;
}

static void wait_gone(tn_cluster *c, const char *id) {
  if (tn_wait(c, gone_everywhere, (void *)id, SETTLE_MS) < 0)
    fail_msg("%s still resolves somewhere", id);
}

typedef struct owner_want {
  size_t node;
  const char *id, *owner;
} owner_want;

static bool owned_by(tn_cluster *c, void *arg) {
  owner_want *w = arg;
  char owner[TR_ID_MAX + 1];
  return tn_locate(c, w->node, w->id, owner, sizeof(owner)) == 0 &&
         strcmp(owner, w->owner) == 0;
}

static void wait_owner(tn_cluster *c, size_t node, const char *id,
                       const char *owner) {
  owner_want w = {node, id, owner};
  if (tn_wait(c, owned_by, &w, SETTLE_MS) < 0)
    fail_msg("node %zu never resolved %s to %s", node, id, owner);
}

/* Waits until actor has recorded command cmd (the probe records it once
 * the command has run, every publish or send in it queued). */
static void wait_cmd_done(tn_cluster *c, const char *actor, const char *cmd) {
  if (tn_wait_find(c, "cmd", actor, cmd, true, 0, SETTLE_MS) < 0)
    fail_msg("%s did not run \"%s\"", actor, cmd);
}

/* The publishes actor got, in order, are exactly p0..p<n-1> on topic, then
 * "end" on topic: the barrier published after them. */
static void assert_in_order_then_end(tn_cluster *c, const char *actor,
                                     const char *topic, int n) {
  assert_int_equal(tn_count_events(c, "publish", actor), (size_t)n + 1);
  for (int k = 0; k <= n; k++) {
    tn_event e;
    char want[16];
    if (k < n)
      snprintf(want, sizeof(want), "p%d", k);
    else
      snprintf(want, sizeof(want), "end");
    assert_true(tn_nth(c, "publish", actor, (size_t)k, &e));
    assert_string_equal(e.data, want);
    assert_string_equal(e.topic, topic);
  }
}

/* 1 publisher on n0; subscribers on n0, n1 and n2 to the default topic and
 * to a named one: each gets exactly its topics, in publish order. */
static void test_topics_and_order(void **state) {
  (void)state;
  tn_cluster *c = start(3);
  assert_int_equal(tn_probe(c, 0, "pub"), 0);
  assert_int_equal(tn_probe(c, 0, "s0"), 0);
  assert_int_equal(tn_probe(c, 1, "s1"), 0);
  assert_int_equal(tn_probe(c, 2, "s2"), 0);
  assert_int_equal(tn_cmd(c, 0, "s0", "sub pub"), 0);
  assert_int_equal(tn_cmd(c, 1, "s1", "sub pub"), 0);
  assert_int_equal(tn_cmd(c, 2, "s2", "subt pub prices"), 0);
  wait_cmd_done(c, "s0", "sub pub");
  wait_interest(c, 0, 2); /* n1 (default), n2 (prices) */
  assert_int_equal(tn_cmd(c, 0, "pub", "pubn - 300"), 0);
  assert_int_equal(tn_cmd(c, 0, "pub", "pubn prices 200"), 0);
  /* A barrier on each topic: once a subscriber has its "end", anything
   * published before it (an extra copy, another topic's) would be in too. */
  assert_int_equal(tn_cmd(c, 0, "pub", "pub - end"), 0);
  assert_int_equal(tn_cmd(c, 0, "pub", "pub prices end"), 0);
  wait_count(c, "publish", "s0", 301);
  wait_count(c, "publish", "s1", 301);
  wait_count(c, "publish", "s2", 201);
  assert_in_order_then_end(c, "s0", "", 300);
  assert_in_order_then_end(c, "s1", "", 300);
  assert_in_order_then_end(c, "s2", "prices", 200);
  tn_event e;
  assert_true(tn_nth(c, "publish", "s1", 0, &e));
  assert_string_equal(e.from, "pub");
  assert_string_equal(e.node, "n0");
  tn_free(c);
}

/* 100 subscribers on n1: each publish crosses the n0->n1 link once; n1
 * fans it out. Unsubscribing all of them (and stopping one) withdraws the
 * interest: no further envelope crosses. */
static bool n0_resolves_m5(tn_cluster *c, void *arg) {
  (void)arg;
  char owner[64];
  return tn_locate(c, 0, "m5", owner, sizeof(owner)) == 0;
}

static void test_one_crossing_and_withdraw(void **state) {
  (void)state;
  tn_cluster *c = start(3);
  assert_int_equal(tn_probe(c, 0, "pub"), 0);
  char id[16], cmd[64];
  for (int k = 0; k < 100; k++) {
    snprintf(id, sizeof(id), "m%d", k);
    assert_int_equal(tn_probe(c, 1, id), 0);
    assert_int_equal(tn_cmd(c, 1, id, "sub pub"), 0);
  }
  wait_interest(c, 0, 1);
  tr_peer_stats before, after;
  assert_int_equal(tn_peer(c, 0, "n1", &before), 0);
  assert_int_equal(tn_cmd(c, 0, "pub", "pubn - 50"), 0);
  for (int k = 0; k < 100; k++) {
    snprintf(id, sizeof(id), "m%d", k);
    wait_count(c, "publish", id, 50);
  }
  assert_int_equal(tn_peer(c, 0, "n1", &after), 0);
  print_message("n0->n1 envelopes for 50 publishes to 100 subscribers: %llu\n",
                (unsigned long long)(after.envelopes_out - before.envelopes_out));
  assert_int_equal(after.envelopes_out - before.envelopes_out, 50);

  /* Withdraw: m0 stops, the others unsubscribe. */
  assert_int_equal(tn_cmd(c, 1, "m1", "stop m0"), 0);
  for (int k = 1; k < 100; k++) {
    snprintf(id, sizeof(id), "m%d", k);
    snprintf(cmd, sizeof(cmd), "unsub pub");
    assert_int_equal(tn_cmd(c, 1, id, cmd), 0);
  }
  wait_interest(c, 0, 0);
  assert_int_equal(tn_peer(c, 0, "n1", &before), 0);
  assert_int_equal(tn_cmd(c, 0, "pub", "pubn - 20"), 0);
  /* envelopes_out counts what is queued to the link, at once: once the
   * command has run, the 20 publishes would show. */
  wait_cmd_done(c, "pub", "pubn - 20");
  assert_int_equal(tn_peer(c, 0, "n1", &after), 0);
  assert_int_equal(after.envelopes_out, before.envelopes_out);
  /* And a send from pub to m5 after them, on the same link, is the only
   * envelope to cross: when it is in, nothing else came with it. */
  /* (n0 must know where m5 is: the registry may still be gossiping the
   * claims of a moment ago.) */
  if (tn_wait(c, n0_resolves_m5, NULL, SETTLE_MS) < 0)
    fail_msg("n0 does not resolve m5");
  assert_int_equal(tn_cmd(c, 0, "pub", "send m5 barrier"), 0);
  if (tn_wait_find(c, "send", "m5", "barrier", false, 0, SETTLE_MS) < 0)
    fail_msg("the barrier did not reach m5");
  assert_int_equal(tn_peer(c, 0, "n1", &after), 0);
  assert_int_equal(after.envelopes_out, before.envelopes_out + 1);
  assert_int_equal(tn_count_events(c, "publish", "m5"), 50);
  tn_free(c);
}

/* A subscription to an id nobody holds waits; it becomes active when the
 * publisher appears, reaches it again from its first publish when it is
 * respawned in place, follows it when it is respawned on another node, and
 * resumes after the publisher's node restarts — with no call by the
 * subscriber. */
static void test_pending_moves_and_restart(void **state) {
  (void)state;
  tn_cluster *c = start(3);
  assert_int_equal(tn_probe(c, 1, "fan"), 0);
  assert_int_equal(tn_cmd(c, 1, "fan", "subt later news"), 0);
  assert_int_equal(tn_probe(c, 2, "later"), 0);
  wait_interest(c, 2, 1);
  assert_int_equal(tn_cmd(c, 2, "later", "pub news one"), 0);
  wait_count(c, "publish", "fan", 1);

  /* Stopped: every node sees it gone, and its node keeps the interest
   * parked; respawned there, its very first publish reaches fan. */
  assert_int_equal(tn_cmd(c, 1, "fan", "stop later"), 0);
  wait_gone(c, "later");
  assert_int_equal(tn_interest(c, 2), 1);
  assert_int_equal(tn_probe(c, 2, "later"), 0);
  assert_int_equal(tn_cmd(c, 2, "later", "pub news again"), 0);
  wait_count(c, "publish", "fan", 2);

  /* Respawned on n0: the interest moves there, n2 drops it. */
  wait_owner(c, 1, "later", "n2"); /* fan's node stops it by id */
  assert_int_equal(tn_cmd(c, 1, "fan", "stop later"), 0);
  wait_gone(c, "later");
  assert_int_equal(tn_probe(c, 0, "later"), 0);
  wait_interest(c, 0, 1);
  wait_interest(c, 2, 0);
  assert_int_equal(tn_cmd(c, 0, "later", "pub news two"), 0);
  wait_count(c, "publish", "fan", 3);

  /* n0's process restarts (new epoch) and spawns it again. */
  assert_int_equal(tn_restart(c, 0), 0);
  assert_true(tn_wait_alive(c, 3, JOIN_MS) >= 0);
  assert_int_equal(tn_probe(c, 0, "later"), 0);
  wait_interest(c, 0, 1);
  assert_int_equal(tn_cmd(c, 0, "later", "pub news three"), 0);
  wait_count(c, "publish", "fan", 4);
  const char *want[] = {"one", "again", "two", "three"};
  for (size_t k = 0; k < 4; k++) {
    tn_event e;
    assert_true(tn_nth(c, "publish", "fan", k, &e));
    assert_string_equal(e.data, want[k]);
  }
  tn_free(c);
}

/* tiny on node 1 has had n publishes delivered or dropped. */
static bool tiny_accounted(tn_cluster *c, void *arg) {
  uint64_t delivered = 0, dropped = 0;
  return tn_sub_counts(c, 1, "tiny", &delivered, &dropped) == 1 &&
         delivered + dropped == (size_t)arg;
}

/* A subscriber with a tiny mailbox under a burst: its drops are counted,
 * per subscription; a normal subscriber on the same node gets everything.
 */
static void test_slow_subscriber(void **state) {
  (void)state;
  tn_cluster *c = start(3);
  assert_int_equal(tn_probe(c, 0, "pub"), 0);
  assert_int_equal(tn_probe_cap(c, 1, "tiny", 2), 0);
  assert_int_equal(tn_probe(c, 1, "big"), 0);
  assert_int_equal(tn_cmd(c, 1, "tiny", "sub pub"), 0);
  assert_int_equal(tn_cmd(c, 1, "big", "sub pub"), 0);
  /* n1's interest goes out with the first of the two subscriptions: the
   * second must have run too before anything is published. */
  wait_cmd_done(c, "tiny", "sub pub");
  wait_cmd_done(c, "big", "sub pub");
  wait_interest(c, 0, 1);
  assert_int_equal(tn_cmd(c, 0, "pub", "pubn - 500"), 0);
  wait_count(c, "publish", "big", 500);
  if (tn_wait(c, tiny_accounted, (void *)(size_t)500, SETTLE_MS) < 0)
    fail_msg("tiny's subscription does not account for 500 publishes");
  uint64_t delivered = 0, dropped = 0;
  assert_int_equal(tn_sub_counts(c, 1, "tiny", &delivered, &dropped), 1);
  print_message("tiny: %llu delivered, %llu dropped\n",
                (unsigned long long)delivered, (unsigned long long)dropped);
  assert_int_equal(delivered + dropped, 500);
  assert_true(dropped > 0);
  /* What was queued to tiny is what it gets, once it has worked through
   * its mailbox. */
  wait_count(c, "publish", "tiny", delivered);
  assert_int_equal(tn_count_events(c, "publish", "tiny"), delivered);
  assert_int_equal(tn_sub_counts(c, 1, "big", &delivered, &dropped), 1);
  assert_int_equal(delivered, 500);
  assert_int_equal(dropped, 0);
  tn_free(c);
}

/* A subscriber's node leaves: the publisher's node drops its interest and
 * sends it nothing more. */
static void test_subscriber_node_gone(void **state) {
  (void)state;
  tn_cluster *c = start(3);
  assert_int_equal(tn_probe(c, 0, "pub"), 0);
  assert_int_equal(tn_probe(c, 2, "s2"), 0);
  assert_int_equal(tn_probe(c, 1, "s1"), 0);
  assert_int_equal(tn_cmd(c, 2, "s2", "sub pub"), 0);
  assert_int_equal(tn_cmd(c, 1, "s1", "sub pub"), 0);
  wait_interest(c, 0, 2);
  tn_stop(c, 2);
  wait_interest(c, 0, 1);
  assert_int_equal(tn_cmd(c, 0, "pub", "pubn - 10"), 0);
  wait_count(c, "publish", "s1", 10);
  tn_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_topics_and_order),
      cmocka_unit_test(test_one_crossing_and_withdraw),
      cmocka_unit_test(test_pending_moves_and_restart),
      cmocka_unit_test(test_slow_subscriber),
      cmocka_unit_test(test_subscriber_node_gone),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
