/* test_ops_client.c — the public operator client (include/troupe_ops.h)
 * against two cluster nodes in this process: every verb's structured
 * answer, the node's own no (err->reason NONE), and each reason no answer
 * came, as the enum it is, not a log line: unreachable, a node
 * certificate as the client's, the node refusing our certificate, us
 * refusing the node's, a bad address, a missing file. */
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

typedef struct fixture {
  tn_cluster *c;
  char ca[300], other_ca[300], cert[300], key[300];
  char rogue_cert[300], rogue_key[300], node_cert[300], node_key[300];
  tr_op_target t;
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof(*f));
  if (!f || tn_new_joined(&f->c, 2, NULL, SETTLE_MS) != 0) return -1;
  const char *d = tn_dir(f->c);
  if (tn_write_client(f->c, "ops1", 0, "operator") != 0 ||
      tn_write_client(f->c, "rogue", 1, "operator") != 0)
    return -1;
  snprintf(f->ca, sizeof(f->ca), "%s/ca.pem", d);
  snprintf(f->other_ca, sizeof(f->other_ca), "%s/other-ca.pem", d);
  snprintf(f->cert, sizeof(f->cert), "%s/ops1.pem", d);
  snprintf(f->key, sizeof(f->key), "%s/ops1.key", d);
  snprintf(f->rogue_cert, sizeof(f->rogue_cert), "%s/rogue.pem", d);
  snprintf(f->rogue_key, sizeof(f->rogue_key), "%s/rogue.key", d);
  snprintf(f->node_cert, sizeof(f->node_cert), "%s/n1.pem", d);
  snprintf(f->node_key, sizeof(f->node_key), "%s/n1.key", d);
  f->t = (tr_op_target){.node = tn_addr(f->c, 0),
                        .ca_file = f->ca,
                        .cert_file = f->cert,
                        .key_file = f->key,
                        .timeout_ms = 5000};
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  tn_free(f->c);
  free(f);
  return 0;
}

#define assert_op(expected_rc, expected_reason, call)                        \
  do {                                                                       \
    tr_op_error e_ = {.reason = TR_OP_FAIL_COUNT};                           \
    int rc_ = call(&e_);                                                     \
    if (rc_ != (expected_rc) || e_.reason != (expected_reason))              \
      fail_msg("%s: got %s / %s (%s), want %s / %s", #call, tr_errname(rc_),  \
               tr_op_fail_name(e_.reason), e_.detail,                        \
               tr_errname(expected_rc), tr_op_fail_name(expected_reason));   \
  } while (0)

/* ---- answers ---------------------------------------------------------------- */

typedef struct seen {
  int members, self, self_is_n0, actors, echo_on_n1, counters;
  uint64_t actors_counter;
  char node[64];
} seen;

static void on_member(void *arg, const tr_member *m, int self) {
  seen *s = arg;
  s->members++;
  if (self) {
    s->self++;
    s->self_is_n0 = strcmp(m->name, "n0") == 0 && m->state == TR_MEMBER_ALIVE;
  }
}

static void on_actor(void *arg, const char *id, const char *node) {
  seen *s = arg;
  s->actors++;
  if (!strcmp(id, "echo") && !strcmp(node, "n1")) s->echo_on_n1++;
}

static void on_counter(void *arg, const char *node, const char *name,
                       uint64_t v) {
  seen *s = arg;
  s->counters++;
  snprintf(s->node, sizeof(s->node), "%s", node);
  if (!strcmp(name, "actors")) s->actors_counter = v;
}

static bool echo_known(tn_cluster *c, void *arg) {
  (void)arg;
  char owner[64];
  return tn_locate(c, 0, "echo", owner, sizeof(owner)) == 0;
}

static void members_actors_stats_and_health_come_structured(void **state) {
  fixture *f = *state;
  assert_int_equal(tn_probe(f->c, 1, "echo"), 0);
  assert_true(tn_wait(f->c, echo_known, NULL, SETTLE_MS) >= 0);

  seen s = {0};
  tr_op_error err;
  assert_int_equal(tr_op_members(&f->t, on_member, &s, &err), 0);
  assert_int_equal(err.reason, TR_OP_FAIL_NONE);
  assert_int_equal(s.members, 2);
  assert_int_equal(s.self, 1);
  assert_true(s.self_is_n0);

  assert_int_equal(tr_op_actors(&f->t, NULL, on_actor, &s, &err), 0);
  assert_int_equal(s.echo_on_n1, 1);
  int all = s.actors;
  s.actors = s.echo_on_n1 = 0;
  assert_int_equal(tr_op_actors(&f->t, "n0", on_actor, &s, &err), 0);
  assert_int_equal(s.echo_on_n1, 0); /* only n0's */
  assert_true(s.actors < all);

  assert_int_equal(tr_op_stats(&f->t, on_counter, &s, &err), 0);
  assert_string_equal(s.node, "n0");
  assert_int_equal(s.counters, 21 + TR_DL_COUNT); /* node_inspect.c */

  tr_op_health_info h;
  assert_int_equal(tr_op_health(&f->t, &h, &err), 0);
  assert_string_equal(h.node, "n0");
  assert_int_equal(h.ready, 1);
  assert_int_equal(h.members_up, 2);
}

typedef struct reply {
  char from[64], node[64], data[64];
  int n;
  fixture *f;
} reply;

static void on_reply(void *arg, const tr_op_message *m) {
  reply *r = arg;
  r->n++;
  snprintf(r->from, sizeof(r->from), "%s", m->from);
  snprintf(r->node, sizeof(r->node), "%s", m->node);
  snprintf(r->data, sizeof(r->data), "%.*s", (int)m->len,
           (const char *)m->data);
}

static bool n1_has_interest(tn_cluster *c, void *arg) {
  (void)arg;
  return tn_interest(c, 1) >= 1;
}

static void on_started(void *arg) {
  reply *r = arg;
  /* The subscription is in place on n0; once the publisher's node has
   * heard of n0's interest (it travels as an envelope), publish. */
  assert_true(tn_wait(r->f->c, n1_has_interest, NULL, SETTLE_MS) >= 0);
  assert_int_equal(tn_cmd(r->f->c, 1, "pubber", "pub prices 1.25"), 0);
}

static int on_publish(void *arg, const tr_op_message *m) {
  on_reply(arg, m);
  return 1; /* one is enough: the call returns 0 */
}

static void send_ask_and_sub_reach_actors_on_another_node(void **state) {
  fixture *f = *state;
  assert_int_equal(tn_probe(f->c, 1, "pubber"), 0);
  tr_op_error err;
  assert_int_equal(tr_op_send(&f->t, "echo", "hi", 2, &err), 0);
  assert_true(tn_wait_find(f->c, "send", "echo", "hi", false, 0, SETTLE_MS) >=
              0);

  reply r = {.f = f};
  assert_int_equal(tr_op_ask(&f->t, "echo", "x", 1, 2000, on_reply, &r, &err),
                   0);
  assert_int_equal(r.n, 1);
  assert_string_equal(r.data, "re:x");
  assert_string_equal(r.from, "echo");
  assert_string_equal(r.node, "n1");

  memset(&r, 0, sizeof(r));
  r.f = f;
  assert_int_equal(tr_op_sub(&f->t, "pubber", "prices", on_started,
                             on_publish, &r, &err),
                   0);
  assert_int_equal(r.n, 1);
  assert_string_equal(r.data, "1.25");
  assert_string_equal(r.from, "pubber");
  assert_string_equal(r.node, "n1");
}

/* ---- the node says no --------------------------------------------------------- */

static fixture *cur; /* for the one-argument calls assert_op makes */

static int send_to_nobody(tr_op_error *e) {
  return tr_op_send(&cur->t, "nobody", "x", 1, e);
}
static int ask_nobody(tr_op_error *e) {
  return tr_op_ask(&cur->t, "nobody", "x", 1, 1000, NULL, NULL, e);
}

static void a_no_from_the_node_is_its_code_with_reason_none(void **state) {
  cur = *state;
  assert_op(TR_ENOTFOUND, TR_OP_FAIL_NONE, send_to_nobody);
  assert_op(TR_ENOTFOUND, TR_OP_FAIL_NONE, ask_nobody);
}

/* ---- no answer, and why --------------------------------------------------------- */

static tr_op_target target; /* the one each case changes */

static int members_of_target(tr_op_error *e) {
  return tr_op_members(&target, NULL, NULL, e);
}

static void each_failure_has_its_reason(void **state) {
  fixture *f = *state;
  /* A port nobody listens on: the node is down. */
  target = f->t;
  target.node = "127.0.0.1:1";
  assert_op(TR_EUNREACHABLE, TR_OP_FAIL_UNREACHABLE, members_of_target);
  /* Not an address. */
  target.node = "no-port-here";
  assert_op(TR_EINVAL, TR_OP_FAIL_CONFIG, members_of_target);
  /* A node's certificate as the client's: refused before connecting. */
  target = f->t;
  target.cert_file = f->node_cert;
  target.key_file = f->node_key;
  assert_op(TR_EINVAL, TR_OP_FAIL_CONFIG, members_of_target);
  /* A missing file. */
  target = f->t;
  target.cert_file = "/nonexistent/ops.pem";
  assert_op(TR_EINVAL, TR_OP_FAIL_CONFIG, members_of_target);
  /* A client certificate from a CA the node does not trust. */
  target = f->t;
  target.cert_file = f->rogue_cert;
  target.key_file = f->rogue_key;
  assert_op(TR_ETLS, TR_OP_FAIL_REFUSED_US, members_of_target);
  /* Our CA is not the node's: we refuse its certificate. */
  target = f->t;
  target.ca_file = f->other_ca;
  assert_op(TR_ETLS, TR_OP_FAIL_REFUSED_NODE, members_of_target);
  assert_string_equal(tr_op_fail_name(TR_OP_FAIL_REFUSED_NODE),
                      "refused_node");
  assert_null(tr_op_fail_name(TR_OP_FAIL_COUNT));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(members_actors_stats_and_health_come_structured),
      cmocka_unit_test(send_ask_and_sub_reach_actors_on_another_node),
      cmocka_unit_test(a_no_from_the_node_is_its_code_with_reason_none),
      cmocka_unit_test(each_failure_has_its_reason),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
