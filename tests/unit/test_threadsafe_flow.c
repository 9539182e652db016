/* test_threadsafe_flow.c — flow control for producer threads
 * (node/engine/threadsafe.c, defer.c): a million messages through a
 * mailbox of 64 with the producer waiting on TR_EFULL (all arrive, in
 * order, the deferred queue stays within its bound); several producers
 * with the consumer stopping in the middle (every accepted message is
 * delivered or a dead letter, never lost); the per-target bound leaving
 * room for other targets; tr_node_wait_writable's timeout and its refusal
 * on the loop thread. The ThreadSanitizer job runs this file. Only the
 * main thread asserts; other threads record what they saw. */
#include <sched.h>
#include <stdatomic.h>

#include "tr_test.h"

/* ---- one producer, a million, capacity 64 -------------------------------- */

#define MILLION 1000000u

typedef struct {
  uint32_t next;
  long out_of_order;
  uint64_t max_deferred;
} sink_state;

static int million_on_msg(tr_ctx *ctx, tt_probe *p, const tr_envelope *env) {
  sink_state *s = p->user;
  uint32_t seq;
  if (env->type != TR_MSG_SEND || env->len != sizeof(seq)) {
    s->out_of_order++;
    return 0;
  }
  memcpy(&seq, env->data, sizeof(seq));
  if (seq != s->next) s->out_of_order++;
  s->next = seq + 1;
  if (seq % 4096 == 0) { /* the deferred queue, sampled on the loop */
    tr_node_stats st;
    tr_node_stats_get(tr_node_of(ctx), &st);
    if (st.deferred > s->max_deferred) s->max_deferred = st.deferred;
  }
  if (s->next == MILLION) tr_node_stop(tr_node_of(ctx));
  return 0;
}

typedef struct {
  tr_node *node;
  const char *to;
  uint32_t count, tag; /* tag: in the high byte of each sequence number */
  long efull, waits, errors;
  uint32_t accepted;
  int last_rc;
  atomic_bool saw_efull;
} producer;

static void *producer_main(void *arg) {
  producer *p = arg;
  for (uint32_t seq = 0; seq < p->count;) {
    uint32_t msg = p->tag << 24 | seq;
    int rc = tr_node_send_threadsafe(p->node, p->to, &msg, sizeof(msg));
    if (rc == 0) {
      seq++;
      p->accepted++;
      continue;
    }
    if (rc != TR_EFULL) {
      p->last_rc = rc;
      p->errors++;
      return NULL;
    }
    p->efull++;
    atomic_store(&p->saw_efull, true);
    rc = tr_node_wait_writable(p->node, p->to, 10000);
    if (rc != 0) {
      p->last_rc = rc;
      p->errors++;
      return NULL;
    }
    p->waits++;
  }
  return NULL;
}

static void a_million_through_capacity_64_in_order_the_producer_waited(
    void **st) {
  (void)st;
  tr_node_config cfg = tt_config();
  tr_node *n = tt_node_new(&cfg);
  sink_state s = {0};
  tt_probe sink = {.on_msg = million_on_msg, .user = &s};
  assert_tr_ok(tt_spawn(n, "sink", &sink, 64));
  producer p = {.node = n, .to = "sink", .count = MILLION};
  pthread_t th;
  assert_int_equal(0, pthread_create(&th, NULL, producer_main, &p));
  /* The loop starts once the producer has met the bound: it then waits at
   * least once, however fast the consumer turns out to be. */
  tt_bound b = tt_bound_start(TT_ITERS, 30000);
  while (!atomic_load(&p.saw_efull) && tt_bound_more(&b)) sched_yield();
  assert_true(atomic_load(&p.saw_efull));
  int rc = -100;
  bool by_itself = run_with_watchdog(n, 120000, &rc);
  pthread_join(th, NULL);
  assert_true(by_itself);
  assert_int_equal(0, p.errors);
  assert_int_equal(MILLION, s.next);
  assert_int_equal(MILLION, sink.received);
  assert_int_equal(0, s.out_of_order);
  assert_true(p.efull > 0); /* the producer was told to wait... */
  assert_true(p.waits > 0); /* ...and waited */
  tr_node_stats stats = tt_stats(n);
  for (int r = 0; r < TR_DL_COUNT; r++)
    if (r != TR_DL_REJECTED_FULL) assert_int_equal(0, stats.dead[r]);
  assert_int_equal(p.efull, stats.dead[TR_DL_REJECTED_FULL]);
  assert_int_equal(0, stats.deferred);
  /* Memory bounded: the mailbox by its capacity, the rest by the
   * per-target bound (65536 / 4 by default). */
  tr_actor_info info;
  assert_tr_ok(tr_actor_info_get(n, "sink", &info));
  assert_true(info.hwm <= 64);
  assert_true(s.max_deferred <= 16384);
  print_message("1e6 through capacity 64: %ld TR_EFULL, %ld waits, "
                "deferred at most %llu (bound 16384), mailbox hwm %u\n",
                p.efull, p.waits, (unsigned long long)s.max_deferred,
                info.hwm);
  tt_node_free(n);
}

/* ---- producers, and a consumer that stops in the middle ------------------ */

#define FLOW_THREADS 4
#define FLOW_EACH 50000u
#define SLOW_STOPS_AT 30000

typedef struct {
  uint32_t next[FLOW_THREADS];
  long out_of_order;
  long stop_at; /* 0: never */
} order_state;

static int ordered_on_msg(tr_ctx *ctx, tt_probe *p, const tr_envelope *env) {
  order_state *s = p->user;
  uint32_t msg;
  if (env->type != TR_MSG_SEND || env->len != sizeof(msg)) {
    s->out_of_order++;
    return 0;
  }
  memcpy(&msg, env->data, sizeof(msg));
  uint32_t tag = msg >> 24, seq = msg & 0xffffffu;
  if (tag >= FLOW_THREADS || seq != s->next[tag])
    s->out_of_order++;
  else
    s->next[tag] = seq + 1;
  if (s->stop_at && p->received == s->stop_at) tr_stop(ctx);
  return 0;
}

typedef struct {
  tr_node *node;
  pthread_t *th;
} closer;

/* Joins the producers, then stops the node: what they queued last is in. */
static void *closer_main(void *arg) {
  closer *c = arg;
  for (int i = 0; i < FLOW_THREADS; i++) pthread_join(c->th[i], NULL);
  tr_node_stop(c->node);
  return NULL;
}

static void producers_and_a_consumer_stopping_midway_lose_nothing(void **st) {
  (void)st;
  tr_node_config cfg = tt_config();
  cfg.threadsafe_max = 4096;
  tr_node *n = tt_node_new(&cfg);
  order_state fs = {0}, ss = {.stop_at = SLOW_STOPS_AT};
  tt_probe fast = {.on_msg = ordered_on_msg, .user = &fs};
  tt_probe slow = {.on_msg = ordered_on_msg, .user = &ss};
  assert_tr_ok(tt_spawn(n, "fast", &fast, 64));
  assert_tr_ok(tt_spawn(n, "slow", &slow, 16));
  producer p[FLOW_THREADS];
  pthread_t th[FLOW_THREADS];
  for (uint32_t i = 0; i < FLOW_THREADS; i++) {
    p[i] = (producer){.node = n, .to = i < 2 ? "slow" : "fast",
                      .count = FLOW_EACH, .tag = i};
    assert_int_equal(0, pthread_create(&th[i], NULL, producer_main, &p[i]));
  }
  closer c = {.node = n, .th = th};
  pthread_t cth;
  assert_int_equal(0, pthread_create(&cth, NULL, closer_main, &c));
  int rc = -100;
  bool by_itself = run_with_watchdog(n, 120000, &rc);
  pthread_join(cth, NULL);
  assert_true(by_itself);
  ASSERT_RUN_UNTIL_IDLE(n);

  long accepted = 0;
  for (int i = 0; i < FLOW_THREADS; i++) {
    assert_int_equal(0, p[i].errors);
    assert_int_equal(FLOW_EACH, p[i].accepted);
    accepted += p[i].accepted;
  }
  /* fast got everything meant for it, in each producer's order. */
  assert_int_equal(2 * FLOW_EACH, fast.received);
  assert_int_equal(0, fs.out_of_order);
  assert_int_equal(FLOW_EACH, fs.next[2]);
  assert_int_equal(FLOW_EACH, fs.next[3]);
  /* slow stopped at SLOW_STOPS_AT; what was meant for it after that is a
   * dead letter: waiting for it (stopped) or sent to nobody (no_actor). */
  assert_int_equal(SLOW_STOPS_AT, slow.received);
  assert_int_equal(0, ss.out_of_order);
  tr_node_stats stats = tt_stats(n);
  long dead = (long)(stats.dead[TR_DL_STOPPED] + stats.dead[TR_DL_NO_ACTOR]);
  assert_int_equal(accepted, fast.received + slow.received + dead);
  assert_int_equal(0, stats.lost_nomem);
  assert_int_equal(0, stats.deferred);
  print_message("4 producers, slow stopped midway: %ld accepted, %ld fast, "
                "%ld slow, %llu stopped, %llu no_actor\n",
                accepted, fast.received, slow.received,
                (unsigned long long)stats.dead[TR_DL_STOPPED],
                (unsigned long long)stats.dead[TR_DL_NO_ACTOR]);
  tt_node_free(n);
}

/* ---- bounds and waiting --------------------------------------------------- */

static void the_per_target_bound_leaves_room_for_other_targets(void **st) {
  (void)st;
  tr_node_config cfg = tt_config();
  cfg.threadsafe_max = 8; /* per target: 8 / 4 = 2 */
  tr_node *n = tt_node_new(&cfg);
  tt_probe probes[4] = {0};
  static const char *const ids[4] = {"a", "b", "c", "d"};
  for (int i = 0; i < 4; i++) assert_tr_ok(tt_spawn(n, ids[i], &probes[i], 0));
  /* The loop does not run: everything waits in the queues. */
  assert_tr_ok(tr_node_send_threadsafe(n, "a", "x", 1));
  assert_tr_ok(tr_node_send_threadsafe(n, "a", "x", 1));
  assert_tr(TR_EFULL, tr_node_send_threadsafe(n, "a", "x", 1));
  assert_tr(TR_ETIMEDOUT, tr_node_wait_writable(n, "a", 20));
  assert_tr_ok(tr_node_wait_writable(n, "b", 0)); /* b has room */
  assert_tr_ok(tr_node_wait_writable(n, NULL, 0));
  for (int i = 1; i < 4; i++) {
    assert_tr_ok(tr_node_send_threadsafe(n, ids[i], "x", 1));
    assert_tr_ok(tr_node_send_threadsafe(n, ids[i], "x", 1));
  }
  /* 8 in all: the node-wide bound. */
  assert_tr(TR_EFULL, tr_node_send_threadsafe(n, "e", "x", 1));
  assert_tr(TR_ETIMEDOUT, tr_node_wait_writable(n, NULL, 20));
  assert_int_equal(8, tt_stats(n).deferred);
  ASSERT_RUN_UNTIL_IDLE(n);
  for (int i = 0; i < 4; i++) assert_int_equal(2, probes[i].received);
  assert_tr_ok(tr_node_wait_writable(n, "a", 0));
  assert_tr_ok(tr_node_wait_writable(n, NULL, 0));
  assert_int_equal(0, tt_stats(n).deferred);
  assert_tr(TR_EINVAL, tr_node_wait_writable(NULL, NULL, 0));
  assert_tr(TR_EINVAL, tr_node_wait_writable(n, "", 0));
  tt_node_free(n);
}

static int wait_on_loop_on_msg(tr_ctx *ctx, tt_probe *p,
                               const tr_envelope *env) {
  (void)env;
  int *rc = p->user;
  *rc = tr_node_wait_writable(tr_node_of(ctx), NULL, 1000);
  tr_node_stop(tr_node_of(ctx));
  return 0;
}

static void waiting_on_the_loop_thread_is_refused(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  int rc = -100;
  tt_probe p = {.on_msg = wait_on_loop_on_msg, .user = &rc};
  assert_tr_ok(tt_spawn(n, "waiter", &p, 0));
  assert_tr_ok(tr_node_send(n, "waiter", "go", 2));
  int run_rc = -100;
  assert_true(run_with_watchdog(n, TT_MS, &run_rc));
  assert_tr(TR_ESTATE, rc);
  /* Driven by tr_node_run_once too. */
  rc = -100;
  assert_tr_ok(tr_node_send(n, "waiter", "go", 2));
  ASSERT_RUN_UNTIL(n, rc != -100, TT_ITERS, TT_MS);
  assert_tr(TR_ESTATE, rc);
  tt_node_free(n);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(
          a_million_through_capacity_64_in_order_the_producer_waited),
      cmocka_unit_test(producers_and_a_consumer_stopping_midway_lose_nothing),
      cmocka_unit_test(the_per_target_bound_leaves_room_for_other_targets),
      cmocka_unit_test(waiting_on_the_loop_thread_is_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
