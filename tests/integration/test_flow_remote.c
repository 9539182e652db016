/* test_flow_remote.c — flow-control credit across nodes (node/cluster/
 * host_credit.c): a producer actor streams a million sends to a consumer
 * with a mailbox of 64 on another node: all arrive, in order, no dead
 * letters anywhere, the consumer's mailbox stays within its window, and
 * the producer was told to wait (TR_EFULL, then TR_MSG_WRITABLE). Asks
 * live under the same credit. When the consumer stops mid-stream the
 * producer is told (TR_MSG_WRITABLE with TR_ENOTFOUND) and the credit it
 * held is released; when the consumer's node hangs and is declared dead,
 * the producer is told (TR_EUNREACHABLE) and nothing hangs. The producer
 * is the harness probe's "stream" command; the consumer counts and checks
 * order on its own loop, read through tn_call. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_harness.h"

#define JOIN_MS 15000u
#define SETTLE_MS 10000u

/* ---- the consumer ------------------------------------------------------------ */

typedef struct counter {
  long next;         /* the sequence number expected next ("s<k>") */
  long received, asks, out_of_order;
  long stop_at;      /* stops itself after this many (0: never) */
} counter;

static int counter_receive(tr_ctx *ctx, void *state, const tr_envelope *env) {
  counter *k = *(counter **)state;
  if (env->type != TR_MSG_SEND && env->type != TR_MSG_ASK) return 0;
  char buf[32];
  size_t len = env->len < sizeof(buf) - 1 ? env->len : sizeof(buf) - 1;
  memcpy(buf, env->data, len);
  buf[len] = '\0';
  long seq = buf[0] == 's' ? strtol(buf + 1, NULL, 10) : -1;
  if (seq != k->next) k->out_of_order++;
  k->next = seq + 1;
  k->received++;
  if (env->type == TR_MSG_ASK) {
    k->asks++;
    tr_reply(ctx, env, "ok", 2);
  }
  if (k->stop_at && k->received == k->stop_at) tr_stop(ctx);
  return 0;
}

static int counter_init(tr_ctx *ctx, void *state, const void *arg) {
  (void)ctx;
  *(counter **)state = (counter *)arg;
  return 0;
}

static const tr_actor_type counter_type = {
    .name = "counter",
    .state_size = sizeof(counter *),
    .init = counter_init,
    .receive = counter_receive,
};

typedef struct spawn_counter {
  const char *id;
  uint32_t capacity;
  counter *k;
} spawn_counter;

static int do_spawn_counter(tr_node *n, void *arg) {
  spawn_counter *s = arg;
  tr_spawn_opts o = {.id = s->id, .capacity = s->capacity, .arg = s->k};
  return tr_node_spawn(n, &counter_type, &o);
}

/* A copy of the consumer's figures, taken on its node's loop. */
typedef struct counter_read {
  counter out;
  const counter *live;
} counter_read;

static int do_read_counter(tr_node *n, void *arg) {
  (void)n;
  counter_read *r = arg;
  r->out = *r->live;
  return 0;
}

static counter read_counter(tn_cluster *c, size_t node, const counter *live) {
  counter_read r = {.live = live};
  assert_int_equal(tn_call(c, node, do_read_counter, &r), 0);
  return r.out;
}

/* ---- helpers ---------------------------------------------------------------- */

static tn_cluster *start(size_t n, const tn_opts *o) {
  tn_cluster *c = NULL;
  assert_int_equal(tn_new_joined(&c, n, o, JOIN_MS), 0);
  return c;
}

static bool resolves_everywhere(tn_cluster *c, void *arg) {
  char owner[TR_ID_MAX + 1];
  for (size_t i = 0; i < tn_count(c); i++)
    if (tn_locate(c, i, (const char *)arg, owner, sizeof(owner)) != 0)
      return false;
  return true;
}

static void wait_resolves(tn_cluster *c, const char *id) {
  if (tn_wait(c, resolves_everywhere, (void *)id, SETTLE_MS) < 0)
    fail_msg("%s does not resolve everywhere", id);
}

/* The stream's end: its "stream" event (data "done N efull=K"), status. */
static tn_event wait_stream_end(tn_cluster *c, const char *actor,
                                uint32_t ms) {
  tn_event e;
  if (tn_wait_events(c, "stream", actor, 1, ms) < 0 ||
      !tn_nth(c, "stream", actor, 0, &e))
    fail_msg("%s's stream did not end within %u ms", actor, ms);
  return e;
}

static void stream_figures(const tn_event *e, long *sent, long *efull) {
  if (sscanf(e->data, "done %ld efull=%ld", sent, efull) != 2)
    fail_msg("stream event data \"%s\"", e->data);
}

static void spawn_consumer(tn_cluster *c, size_t node, const char *id,
                           uint32_t capacity, counter *k) {
  spawn_counter sc = {id, capacity, k};
  assert_int_equal(tn_call(c, node, do_spawn_counter, &sc), 0);
  wait_resolves(c, id);
}

/* ---- a million through a remote mailbox of 64 ----------------------------- */

typedef struct counted {
  size_t node;
  const counter *live;
  long n;
} counted;

static bool has_received(tn_cluster *c, void *arg) {
  counted *w = arg;
  return read_counter(c, w->node, w->live).received >= w->n;
}

static void a_million_sends_to_a_slow_remote_actor_in_order(void **state) {
  (void)state;
  tn_cluster *c = start(2, NULL);
  counter k = {0};
  spawn_consumer(c, 1, "sink", 64, &k);
  assert_int_equal(tn_probe(c, 0, "producer"), 0);
  uint64_t t0 = tn_now_ms();
  assert_int_equal(tn_cmd(c, 0, "producer", "stream sink 1000000"), 0);
  tn_event e = wait_stream_end(c, "producer", 240000);
  assert_int_equal(e.status, 0);
  long sent = 0, efull = 0;
  stream_figures(&e, &sent, &efull);
  assert_int_equal(sent, 1000000);
  counted w = {1, &k, 1000000};
  if (tn_wait(c, has_received, &w, 60000) < 0)
    fail_msg("sink got %ld of 1000000", read_counter(c, 1, &k).received);
  uint64_t ms = tn_now_ms() - t0;
  counter got = read_counter(c, 1, &k);
  assert_int_equal(got.received, 1000000);
  assert_int_equal(got.out_of_order, 0);
  /* Told to wait, and woken each time: one notice per TR_EFULL. */
  assert_true(efull > 0);
  assert_int_equal(tn_count_events(c, "writable", "producer"), efull);
  tr_node_stats ns0, ns1;
  tr_cluster_stats cs0, cs1;
  assert_int_equal(tn_stats(c, 0, &ns0, &cs0), 0);
  assert_int_equal(tn_stats(c, 1, &ns1, &cs1), 0);
  for (int r = 0; r < TR_DL_COUNT; r++) {
    if (r != TR_DL_REJECTED_FULL) assert_int_equal(ns0.dead[r], 0);
    assert_int_equal(ns1.dead[r], 0);
  }
  assert_int_equal(ns0.dead[TR_DL_REJECTED_FULL], efull);
  assert_int_equal(cs0.credit_refused, efull);
  assert_int_equal(cs0.remote_failed, 0);
  /* Memory bounded: the consumer's mailbox never held more than its
   * window (64) plus the first grant (64); the producer never had more
   * than that in flight. */
  assert_true(ns1.mailbox_hwm <= 128);
  tr_peer_stats ps;
  assert_int_equal(tn_peer(c, 0, "n1", &ps), 0);
  print_message("1e6 sends to a remote mailbox of 64: %llu ms, %ld TR_EFULL "
                "and as many TR_MSG_WRITABLE, consumer mailbox hwm %llu, "
                "credit given back %llu\n",
                (unsigned long long)ms, efull,
                (unsigned long long)ns1.mailbox_hwm,
                (unsigned long long)cs1.credit_out);
  tn_free(c);
}

/* ---- asks under the same credit -------------------------------------------- */

static void asks_live_under_the_same_credit(void **state) {
  (void)state;
  tn_cluster *c = start(2, NULL);
  counter k = {0};
  spawn_consumer(c, 1, "oracle", 16, &k);
  assert_int_equal(tn_probe(c, 0, "asker"), 0);
  assert_int_equal(tn_cmd(c, 0, "asker", "askstream oracle 5000"), 0);
  tn_event e = wait_stream_end(c, "asker", 60000);
  assert_int_equal(e.status, 0);
  long sent = 0, efull = 0;
  stream_figures(&e, &sent, &efull);
  assert_int_equal(sent, 5000);
  assert_true(efull > 0);
  if (tn_wait_events(c, "reply", "asker", 5000, 60000) < 0)
    fail_msg("asker got %zu of 5000 replies",
             tn_count_events(c, "reply", "asker"));
  assert_false(tn_find(c, "reply", "asker", NULL, true, TR_EFULL, NULL));
  counter got = read_counter(c, 1, &k);
  assert_int_equal(got.asks, 5000);
  assert_int_equal(got.out_of_order, 0);
  tr_node_stats ns1;
  tr_cluster_stats cs1;
  assert_int_equal(tn_stats(c, 1, &ns1, &cs1), 0);
  assert_true(ns1.mailbox_hwm <= 16 + 64);
  tn_free(c);
}

/* ---- the consumer stops mid-stream ------------------------------------------ */

static bool no_credit_held(tn_cluster *c, void *arg) {
  (void)arg;
  tr_node_stats ns;
  tr_cluster_stats cs;
  return tn_stats(c, 0, &ns, &cs) == 0 && cs.credit_targets == 0 &&
         cs.credit_waiting == 0;
}

static void the_consumer_stops_mid_stream_the_producer_is_told(void **state) {
  (void)state;
  tn_cluster *c = start(2, NULL);
  counter k = {.stop_at = 20000};
  spawn_consumer(c, 1, "quitter", 64, &k);
  assert_int_equal(tn_probe(c, 0, "producer"), 0);
  assert_int_equal(tn_cmd(c, 0, "producer", "stream quitter 1000000"), 0);
  tn_event e = wait_stream_end(c, "producer", 60000);
  /* Told: waiting for room, it got the notice with the reason; or its next
   * send found no such actor any more. */
  if (e.status != TR_ENOTFOUND)
    fail_msg("the stream ended with %s (%s), not TR_ENOTFOUND",
             tr_errname(e.status), e.data);
  long sent = 0, efull = 0;
  stream_figures(&e, &sent, &efull);
  assert_true(sent >= 20000 && sent < 1000000);
  counter got = read_counter(c, 1, &k);
  assert_int_equal(got.received, 20000);
  assert_int_equal(got.out_of_order, 0);
  /* The credit it held for quitter is released. */
  if (tn_wait(c, no_credit_held, NULL, SETTLE_MS) < 0)
    fail_msg("n0 still holds credit for the stopped consumer");
  /* What was in flight when it stopped is counted, not lost: stopped there,
   * reported back here. */
  tr_node_stats ns0, ns1;
  tr_cluster_stats cs0, cs1;
  assert_int_equal(tn_stats(c, 0, &ns0, &cs0), 0);
  assert_int_equal(tn_stats(c, 1, &ns1, &cs1), 0);
  assert_int_equal(got.received + (long)ns1.dead[TR_DL_STOPPED] +
                       (long)ns1.dead[TR_DL_NO_ACTOR],
                   sent);
  print_message("consumer stopped at 20000: producer sent %ld, told "
                "TR_ENOTFOUND; %llu stopped in its mailbox, %llu found it "
                "gone\n",
                sent, (unsigned long long)ns1.dead[TR_DL_STOPPED],
                (unsigned long long)ns1.dead[TR_DL_NO_ACTOR]);
  tn_free(c);
}

/* ---- the consumer's node hangs and is declared dead ------------------------- */

static void the_consumers_node_dies_mid_stream_nothing_hangs(void **state) {
  (void)state;
  tn_opts o = {.probe_interval_ms = 200, .probe_timeout_ms = 80};
  tn_cluster *c = start(3, &o);
  counter k = {0};
  spawn_consumer(c, 2, "doomed", 64, &k);
  assert_int_equal(tn_probe(c, 0, "producer"), 0);
  assert_int_equal(tn_cmd(c, 0, "producer", "stream doomed 100000000"), 0);
  counted w = {2, &k, 10000};
  if (tn_wait(c, has_received, &w, SETTLE_MS) < 0)
    fail_msg("doomed got nothing");
  tn_freeze(c, 2); /* as SIGSTOP: the TCP link stays open, silent */
  tn_event e = wait_stream_end(c, "producer", 30000);
  assert_int_equal(e.status, TR_EUNREACHABLE);
  if (tn_wait(c, no_credit_held, NULL, SETTLE_MS) < 0)
    fail_msg("n0 still holds credit for the dead node's actor");
  tn_thaw(c, 2);
  tn_free(c);
}

/* ---- a node from before credit ---------------------------------------------- */

/* Every one of n sends from node `from` to `to` was delivered or reported
 * back as refused by a full mailbox. */
typedef struct burst_want {
  size_t from;
  const char *to;
  size_t n;
} burst_want;

static bool burst_accounted(tn_cluster *c, void *arg) {
  burst_want *w = arg;
  tr_node_stats ns;
  tr_cluster_stats cs;
  return tn_stats(c, w->from, &ns, &cs) == 0 &&
         tn_count_events(c, "send", w->to) + ns.dead[TR_DL_REMOTE_FULL] ==
             w->n;
}

/* n1 is a node of the version before credit (its hello announces none):
 * both ways, sends go without credit and a full mailbox drops what does
 * not fit, reported back (remote_full), as before. The burst is accepted
 * whole: nothing is refused at the call. */
static void a_node_without_credit_is_sent_to_as_before(void **state) {
  (void)state;
  tn_opts o = {.no_credit_mask = 1u << 1};
  tn_cluster *c = start(2, &o);
  assert_int_equal(tn_probe(c, 0, "a0"), 0);
  assert_int_equal(tn_probe_cap(c, 0, "tiny0", 2), 0);
  assert_int_equal(tn_probe(c, 1, "a1"), 0);
  assert_int_equal(tn_probe_cap(c, 1, "tiny1", 2), 0);
  wait_resolves(c, "tiny0");
  wait_resolves(c, "tiny1");
  const struct {
    size_t from;
    const char *sender, *to, *cmd;
  } dirs[2] = {{0, "a0", "tiny1", "burst tiny1 200"},
               {1, "a1", "tiny0", "burst tiny0 200"}};
  for (int d = 0; d < 2; d++) {
    assert_int_equal(tn_cmd(c, dirs[d].from, dirs[d].sender, dirs[d].cmd), 0);
    if (tn_wait_find(c, "cmd", dirs[d].sender, dirs[d].cmd, true, 0,
                     SETTLE_MS) < 0)
      fail_msg("%s's burst was not accepted whole", dirs[d].sender);
    burst_want w = {dirs[d].from, dirs[d].to, 200};
    if (tn_wait(c, burst_accounted, &w, SETTLE_MS) < 0)
      fail_msg("%s's burst is not accounted for", dirs[d].sender);
    tr_node_stats ns;
    tr_cluster_stats cs;
    assert_int_equal(tn_stats(c, dirs[d].from, &ns, &cs), 0);
    assert_true(ns.dead[TR_DL_REMOTE_FULL] > 0);
    assert_int_equal(cs.credit_refused, 0);
    assert_int_equal(cs.credit_targets, 0);
  }
  tn_free(c);
}

/* ---- refused before any mailbox: the credit comes back ---------------------- */

typedef struct node_sends {
  const char *to;
  int n, refused;
} node_sends;

static int do_node_sends(tr_node *n, void *arg) {
  node_sends *s = arg;
  for (int k = 0; k < s->n; k++)
    if (tr_node_send(n, s->to, "x", 1) != 0) s->refused++;
  return 0;
}

typedef struct credit_want {
  uint64_t in;
} credit_want;

static bool credit_in_reached(tn_cluster *c, void *arg) {
  credit_want *w = arg;
  tr_node_stats ns;
  tr_cluster_stats cs;
  return tn_stats(c, 0, &ns, &cs) == 0 && cs.credit_in >= w->in;
}

/* n1's policy refuses n0's sends to "secret". Sends from outside actors
 * (no sender to tell) are dropped there, counted, and their credit comes
 * straight back: five rounds of 50 never run out of the first 64. */
static void sends_refused_by_policy_give_their_credit_back(void **state) {
  (void)state;
  tn_cluster *c = start(2, NULL);
  char err[256];
  assert_int_equal(tn_set_policy(c, 1, "deny node:n0 send secret\n", err,
                                 sizeof(err)),
                   0);
  assert_int_equal(tn_probe(c, 1, "secret"), 0);
  wait_resolves(c, "secret");
  for (int round = 1; round <= 5; round++) {
    node_sends s = {"secret", 50, 0};
    assert_int_equal(tn_call(c, 0, do_node_sends, &s), 0);
    assert_int_equal(s.refused, 0);
    credit_want w = {(uint64_t)(50 * round)};
    if (tn_wait(c, credit_in_reached, &w, SETTLE_MS) < 0)
      fail_msg("round %d: the refused sends' credit did not come back", round);
  }
  tr_node_stats ns;
  tr_cluster_stats cs;
  assert_int_equal(tn_stats(c, 0, &ns, &cs), 0);
  assert_int_equal(cs.credit_refused, 0);
  assert_int_equal(tn_count_events(c, "send", "secret"), 0);
  assert_int_equal(tn_stats(c, 1, &ns, &cs), 0);
  assert_int_equal(cs.policy_denied, 250);
  tn_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(a_million_sends_to_a_slow_remote_actor_in_order),
      cmocka_unit_test(asks_live_under_the_same_credit),
      cmocka_unit_test(the_consumer_stops_mid_stream_the_producer_is_told),
      cmocka_unit_test(the_consumers_node_dies_mid_stream_nothing_hangs),
      cmocka_unit_test(a_node_without_credit_is_sent_to_as_before),
      cmocka_unit_test(sends_refused_by_policy_give_their_credit_back),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
