/* test_policy.c — an authorization policy per identity (issue "trust",
 * item 5; finding 3): three nodes in this process, n0 with the policy
 * below, n1 and n2 (at first) without one, so that what n0 refuses is
 * refused by the receiving node, not by a polite sender. Register (on
 * every registry holder, and locally), send, ask, stop, subscribe, and an
 * operator client's verbs; a policy changed at run time (the registry
 * takes back what it now allows), a bad policy refused with its line and
 * the old one kept; the refusals counted per identity and rule. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_harness.h"
#include "troupe_ops.h"

#define SETTLE_MS 20000u

static const char *const POLICY =
    "# n0's policy\n"
    "allow node:n0       register  billing.*\n" /* line 2 */
    "deny  *             register  billing.*\n" /* line 3 */
    "deny  node:n1       send,ask  secret\n"    /* line 4 */
    "deny  node:n1       stop      *\n"         /* line 5 */
    "deny  node:n1       subscribe ticker hot\n" /* line 6 */
    "deny  client:ops    send      secret\n";   /* line 7 */

typedef struct fixture {
  tn_cluster *c;
  char ca[300], cert[300], key[300];
  tr_op_target ops;
} fixture;

typedef struct where {
  size_t node;
  const char *id, *owner; /* owner NULL: not resolved */
} where;

static bool resolves(tn_cluster *c, void *arg) {
  const where *w = arg;
  char owner[64];
  int rc = tn_locate(c, w->node, w->id, owner, sizeof(owner));
  return w->owner ? rc == 0 && strcmp(owner, w->owner) == 0
                  : rc == TR_ENOTFOUND;
}

static int setup(void **state) {
  fixture *f = calloc(1, sizeof(*f));
  if (!f || tn_new_joined(&f->c, 3, NULL, SETTLE_MS) != 0) return -1;
  char err[256];
  if (tn_set_policy(f->c, 0, POLICY, err, sizeof(err)) != 0) {
    fprintf(stderr, "policy: %s\n", err);
    return -1;
  }
  if (tn_write_client(f->c, "ops", 0, "operator") != 0) return -1;
  const char *d = tn_dir(f->c);
  snprintf(f->ca, sizeof(f->ca), "%s/ca.pem", d);
  snprintf(f->cert, sizeof(f->cert), "%s/ops.pem", d);
  snprintf(f->key, sizeof(f->key), "%s/ops.key", d);
  f->ops = (tr_op_target){.node = tn_addr(f->c, 0), .ca_file = f->ca,
                          .cert_file = f->cert, .key_file = f->key,
                          .timeout_ms = 5000};
  if (tn_probe(f->c, 0, "secret") != 0 || tn_probe(f->c, 0, "open") != 0 ||
      tn_probe(f->c, 0, "ticker") != 0 || tn_probe(f->c, 1, "asker1") != 0 ||
      tn_probe(f->c, 2, "asker2") != 0 || tn_probe(f->c, 1, "sub1") != 0)
    return -1;
  where w = {1, "secret", "n0"};
  if (tn_wait(f->c, resolves, &w, SETTLE_MS) < 0) return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  tn_free(f->c);
  free(f);
  return 0;
}

static int do_policy_stats(tr_node *n, void *arg) {
  return tr_node_policy_stats(n, arg);
}

static tr_policy_stats pstats(tn_cluster *c, size_t i) {
  tr_policy_stats s;
  assert_int_equal(tn_call(c, i, do_policy_stats, &s), 0);
  return s;
}

typedef struct denial_q {
  const char *who, *action;
  uint32_t rule;
  uint64_t count;
} denial_q;

static void on_denial(void *arg, const tr_policy_denial *d) {
  denial_q *q = arg;
  if (strcmp(d->who, q->who) == 0 && strcmp(d->action, q->action) == 0 &&
      d->rule == q->rule)
    q->count += d->count;
}

static int do_denials(tr_node *n, void *arg) {
  return tr_node_policy_denials(n, on_denial, arg);
}

/* How many times node i refused who's action by rule. */
static uint64_t denied(tn_cluster *c, size_t i, const char *who,
                       const char *action, uint32_t rule) {
  denial_q q = {who, action, rule, 0};
  assert_true(tn_call(c, i, do_denials, &q) >= 0);
  return q.count;
}

static bool n0_denied_register(tn_cluster *c, void *arg) {
  (void)arg;
  return denied(c, 0, "n1", "register", 3) >= 1;
}

static void register_is_kept_to_its_namespace_on_every_holder(
    void **state) {
  fixture *f = *state;
  /* n0 may hold billing.*: its own spawn works and spreads. */
  assert_int_equal(tn_probe(f->c, 0, "billing.a"), 0);
  where a = {2, "billing.a", "n0"};
  assert_true(tn_wait(f->c, resolves, &a, SETTLE_MS) >= 0);
  /* n1 has no policy: its spawn works there, and n2 (no policy) holds
   * it; n0's policy refuses to hold it, and counts it. */
  assert_int_equal(tn_probe(f->c, 1, "billing.b"), 0);
  where b2 = {2, "billing.b", "n1"};
  assert_true(tn_wait(f->c, resolves, &b2, SETTLE_MS) >= 0);
  assert_true(tn_wait(f->c, n0_denied_register, NULL, SETTLE_MS) >= 0);
  where b0 = {0, "billing.b", NULL};
  assert_true(resolves(f->c, &b0));
  /* With the same policy, n1's own spawn is refused at the call. */
  char err[256];
  assert_int_equal(tn_set_policy(f->c, 1, POLICY, err, sizeof(err)), 0);
  assert_int_equal(tn_probe(f->c, 1, "billing.c"), TR_EPERM);
  assert_int_equal(tn_set_policy(f->c, 1, NULL, NULL, 0), 0);
}

static bool remote_denied(tn_cluster *c, void *arg) {
  const uint64_t *before = arg;
  tr_cluster_stats cs;
  return tn_stats(c, 1, NULL, &cs) == 0 && cs.remote_denied > *before;
}

static void sends_asks_and_stops_are_judged_by_the_receiving_node(
    void **state) {
  fixture *f = *state;
  /* n1 (no policy of its own) asks n0's secret: n0 answers TR_EPERM. */
  assert_int_equal(tn_ask(f->c, 1, "asker1", "secret", "x", SETTLE_MS),
                   TR_EPERM);
  assert_int_equal(tn_ask(f->c, 2, "asker2", "secret", "x", SETTLE_MS), 0);
  assert_int_equal(tn_ask(f->c, 1, "asker1", "open", "x", SETTLE_MS), 0);
  /* A send: not delivered, and n1 hears of it. */
  tr_cluster_stats cs;
  assert_int_equal(tn_stats(f->c, 1, NULL, &cs), 0);
  uint64_t before = cs.remote_denied;
  size_t got = tn_count_events(f->c, "send", "secret");
  assert_int_equal(tn_cmd(f->c, 1, "asker1", "send secret hush"), 0);
  assert_true(tn_wait(f->c, remote_denied, &before, SETTLE_MS) >= 0);
  assert_int_equal(tn_count_events(f->c, "send", "secret"), got);
  /* A stop: refused, secret still answers. */
  assert_int_equal(tn_cmd(f->c, 1, "asker1", "stop secret"), 0);
  assert_int_equal(tn_ask(f->c, 2, "asker2", "secret", "alive?", SETTLE_MS),
                   0);
  assert_true(denied(f->c, 0, "n1", "ask", 4) >= 1);
  assert_true(denied(f->c, 0, "n1", "send", 4) >= 1);
  assert_true(denied(f->c, 0, "n1", "stop", 5) >= 1);
  assert_int_equal(tn_stats(f->c, 0, NULL, &cs), 0);
  assert_true(cs.policy_denied >= 3);
}

/* The status of asker1's last command (it ran: "cmd" event). */
static int last_cmd(tn_cluster *c, const char *actor, size_t before) {
  if (tn_wait_events(c, "cmd", actor, before + 1, SETTLE_MS) < 0)
    return TR_ETIMEDOUT;
  tn_event e;
  return tn_nth(c, "cmd", actor, before, &e) ? e.status : TR_ETIMEDOUT;
}

static int cmd_status(tn_cluster *c, size_t i, const char *actor,
                      const char *cmd) {
  size_t before = tn_count_events(c, "cmd", actor);
  assert_int_equal(tn_cmd(c, i, actor, cmd), 0);
  return last_cmd(c, actor, before);
}

/* n1 with the policy too: its own actors' calls fail at once. */
static void a_nodes_own_actors_are_judged_locally(void **state) {
  fixture *f = *state;
  char err[256];
  assert_int_equal(tn_set_policy(f->c, 1, POLICY, err, sizeof(err)), 0);
  assert_int_equal(cmd_status(f->c, 1, "asker1", "send secret x"), TR_EPERM);
  assert_int_equal(cmd_status(f->c, 1, "asker1", "ask secret x"), TR_EPERM);
  assert_int_equal(cmd_status(f->c, 1, "asker1", "stop open"), TR_EPERM);
  assert_int_equal(cmd_status(f->c, 1, "asker1", "subt ticker hot"),
                   TR_EPERM);
  assert_int_equal(cmd_status(f->c, 1, "asker1", "send open x"), 0);
  assert_int_equal(cmd_status(f->c, 1, "asker1", "subt ticker cold"), 0);
  assert_true(denied(f->c, 1, "n1", "send", 4) >= 1);
  assert_true(denied(f->c, 1, "n1", "stop", 5) >= 1);
  assert_true(denied(f->c, 1, "n1", "subscribe", 6) >= 1);
  assert_int_equal(tn_set_policy(f->c, 1, NULL, NULL, 0), 0);
  assert_int_equal(cmd_status(f->c, 1, "asker1", "unsubt ticker cold"), 0);
}

static bool published(tn_cluster *c, void *arg) {
  const char *data = arg;
  return tn_find(c, "publish", "sub1", data, false, 0, NULL);
}

static void subscriptions_are_judged_by_the_publishers_node(void **state) {
  fixture *f = *state;
  assert_int_equal(tn_cmd(f->c, 1, "sub1", "subt ticker hot"), 0);
  assert_int_equal(tn_cmd(f->c, 1, "sub1", "subt ticker cold"), 0);
  /* The cold one flows; the hot one never does. */
  for (int k = 0; k < 200 && !published(f->c, "c1"); k++) {
    assert_int_equal(tn_cmd(f->c, 0, "ticker", "pub cold c1"), 0);
    assert_int_equal(tn_cmd(f->c, 0, "ticker", "pub hot h1"), 0);
    tn_wait(f->c, published, "c1", 50);
  }
  assert_true(published(f->c, "c1"));
  assert_false(published(f->c, "h1"));
  assert_true(denied(f->c, 0, "n1", "subscribe", 6) >= 1);
}

static void an_operators_verbs_are_judged_by_its_certificate(void **state) {
  fixture *f = *state;
  tr_op_error err;
  assert_int_equal(tr_op_send(&f->ops, "secret", "x", 1, &err), TR_EPERM);
  assert_int_equal(tr_op_send(&f->ops, "open", "x", 1, &err), 0);
  assert_true(denied(f->c, 0, "ops", "send", 7) >= 1);
}

static void a_changed_policy_takes_effect_and_a_bad_one_is_refused(
    void **state) {
  fixture *f = *state;
  tr_policy_stats before = pstats(f->c, 0);
  assert_int_equal(before.rules, 6);
  /* A bad policy: refused with its line, the old one kept. */
  char err[256];
  assert_int_equal(tn_set_policy(f->c, 0, "allow * send x\nallow oops\n",
                                 err, sizeof(err)),
                   TR_EINVAL);
  assert_non_null(strstr(err, "line 2"));
  assert_int_equal(pstats(f->c, 0).rules, 6);
  assert_int_equal(tn_ask(f->c, 1, "asker1", "secret", "x", SETTLE_MS),
                   TR_EPERM);
  /* Now n1 may hold billing.*: n0 asks its owners again and holds it. */
  assert_int_equal(tn_set_policy(f->c, 0,
                                 "allow node:n[01] register billing.*\n"
                                 "deny * register billing.*\n",
                                 err, sizeof(err)),
                   0);
  where b0 = {0, "billing.b", "n1"};
  if (tn_wait(f->c, resolves, &b0, SETTLE_MS) < 0)
    fail_msg("n0 does not hold billing.b once allowed");
  assert_int_equal(tn_ask(f->c, 1, "asker1", "secret", "x", SETTLE_MS), 0);
  tr_policy_stats after = pstats(f->c, 0);
  assert_int_equal(after.rules, 2);
  assert_true(after.changes > before.changes);
  /* No policy at all: everything flows. */
  assert_int_equal(tn_set_policy(f->c, 0, NULL, NULL, 0), 0);
  assert_int_equal(pstats(f->c, 0).loaded, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(register_is_kept_to_its_namespace_on_every_holder),
      cmocka_unit_test(
          sends_asks_and_stops_are_judged_by_the_receiving_node),
      cmocka_unit_test(subscriptions_are_judged_by_the_publishers_node),
      cmocka_unit_test(an_operators_verbs_are_judged_by_its_certificate),
      cmocka_unit_test(a_nodes_own_actors_are_judged_locally),
      cmocka_unit_test(
          a_changed_policy_takes_effect_and_a_bad_one_is_refused),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
