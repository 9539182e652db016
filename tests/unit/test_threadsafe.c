/* test_threadsafe.c — node/engine/threadsafe.c: sends from other threads
 * while the node runs (no loss, per-thread order), dead letters for targets
 * that are gone when the loop gets to them, a full target holding what is
 * meant for it until it has room, the threadsafe_max bound, argument
 * errors, and delivery when the loop is driven by tr_node_run_once. The
 * producer/consumer tests at a million messages are in
 * test_threadsafe_flow.c. Only the main thread asserts (cmocka is not
 * thread-safe); worker threads record what they saw. */
#include <sched.h>
#include <stdatomic.h>

#include "tr_test.h"

/* ---- many threads, one receiver ----------------------------------------- */

#define TS_THREADS 4
#define TS_PER_THREAD 25000u

typedef struct {
  uint32_t next[TS_THREADS];
  long out_of_order, bad, with_sender;
  long total;
} ts_fixture;

typedef struct {
  tr_node *node;
  uint32_t index;
  long efull, errors;
  bool gave_up;
} ts_sender;

static void *ts_sender_main(void *arg) {
  ts_sender *s = arg;
  uint64_t until = tt_now_ms() + 30000;
  for (uint32_t seq = 0; seq < TS_PER_THREAD;) {
    uint32_t msg[2] = {s->index, seq};
    int rc = tr_node_send_threadsafe(s->node, "sink", msg, sizeof(msg));
    if (rc == 0) {
      seq++;
    } else if (rc == TR_EFULL) {
      s->efull++; /* the loop is behind: let it catch up */
      if (tt_now_ms() > until) {
        s->gave_up = true;
        return NULL;
      }
      sched_yield();
    } else {
      s->errors++;
      return NULL;
    }
  }
  return NULL;
}

static int ts_sink_on_msg(tr_ctx *ctx, tt_probe *p, const tr_envelope *env) {
  ts_fixture *f = p->user;
  uint32_t msg[2];
  if (env->type != TR_MSG_SEND || env->len != sizeof(msg)) {
    f->bad++;
    return 0;
  }
  if (env->sender) f->with_sender++;
  memcpy(msg, env->data, sizeof(msg));
  if (msg[0] >= TS_THREADS) {
    f->bad++;
    return 0;
  }
  if (msg[1] != f->next[msg[0]]) f->out_of_order++;
  f->next[msg[0]] = msg[1] + 1;
  if (++f->total == (long)TS_THREADS * TS_PER_THREAD)
    tr_node_stop(tr_node_of(ctx));
  return 0;
}

static void four_threads_sending_25k_each_all_arrive_in_thread_order(
    void **st) {
  (void)st;
  tr_node_config cfg = tt_config();
  cfg.threadsafe_max = 4096; /* small, so the bound is hit on the way */
  tr_node *n = tt_node_new(&cfg);
  ts_fixture *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  tt_probe sink = {.on_msg = ts_sink_on_msg, .user = f};
  /* Room for everything: this test is about loss and order, not bounds. */
  assert_tr_ok(tt_spawn(n, "sink", &sink, TS_THREADS * TS_PER_THREAD));

  ts_sender s[TS_THREADS];
  pthread_t th[TS_THREADS];
  for (uint32_t i = 0; i < TS_THREADS; i++) {
    s[i] = (ts_sender){.node = n, .index = i};
    assert_int_equal(0, pthread_create(&th[i], NULL, ts_sender_main, &s[i]));
  }
  int rc = -100;
  bool by_itself = run_with_watchdog(n, 60000, &rc);
  for (int i = 0; i < TS_THREADS; i++) pthread_join(th[i], NULL);
  assert_true(by_itself);
  assert_tr_ok(rc);
  for (int i = 0; i < TS_THREADS; i++) {
    assert_int_equal(0, s[i].errors);
    assert_false(s[i].gave_up);
    assert_int_equal(TS_PER_THREAD, f->next[i]);
  }
  assert_int_equal(0, f->bad);
  assert_int_equal(0, f->with_sender); /* sender NULL: from outside actors */
  assert_int_equal(0, f->out_of_order);
  assert_int_equal((long)TS_THREADS * TS_PER_THREAD, f->total);
  tr_node_stats stats = tt_stats(n);
  long efull = 0;
  for (int i = 0; i < TS_THREADS; i++) efull += s[i].efull;
  for (int r = 0; r < TR_DL_COUNT; r++)
    if (r != TR_DL_REJECTED_FULL) assert_int_equal(0, stats.dead[r]);
  /* Each TR_EFULL a thread got is a send call that returned TR_EFULL. */
  assert_int_equal(efull, stats.dead[TR_DL_REJECTED_FULL]);
  assert_int_equal(TS_THREADS * TS_PER_THREAD, stats.delivered);
  tt_node_free(n);
  free(f);
}


typedef struct {
  tr_node *node;
  int rcs[4];
} sizes_sender;

static const size_t TS_SIZES[4] = {0, 73, 5000, 100000};

static void *sizes_sender_main(void *arg) {
  sizes_sender *s = arg;
  unsigned char *buf = malloc(100000);
  if (!buf) return NULL;
  for (int k = 0; k < 4; k++) {
    for (size_t i = 0; i < TS_SIZES[k]; i++) buf[i] = (unsigned char)(i + k);
    s->rcs[k] = tr_node_send_threadsafe(s->node, "sizes", buf, TS_SIZES[k]);
  }
  free(buf);
  return NULL;
}

static int sizes_on_msg(tr_ctx *ctx, tt_probe *p, const tr_envelope *env) {
  long *broken = p->user;
  int k = (int)p->received - 1;
  if (k >= 4 || env->len != TS_SIZES[k]) {
    (*broken)++;
  } else {
    for (size_t i = 0; i < env->len; i++)
      if (((const unsigned char *)env->data)[i] != (unsigned char)(i + k)) {
        (*broken)++;
        break;
      }
  }
  if (p->received == 4) tr_node_stop(tr_node_of(ctx));
  return 0;
}

static void threadsafe_payloads_of_every_size_arrive_intact(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  long broken = 0;
  tt_probe p = {.on_msg = sizes_on_msg, .user = &broken};
  assert_tr_ok(tt_spawn(n, "sizes", &p, 0));
  sizes_sender s = {.node = n};
  pthread_t th;
  assert_int_equal(0, pthread_create(&th, NULL, sizes_sender_main, &s));
  int rc = -100;
  bool by_itself = run_with_watchdog(n, TT_MS, &rc);
  pthread_join(th, NULL);
  assert_true(by_itself);
  for (int k = 0; k < 4; k++) assert_tr_ok(s.rcs[k]);
  assert_int_equal(4, p.received);
  assert_int_equal(0, broken);
  tt_node_free(n);
}

/* ---- dead letters and bounds -------------------------------------------- */

/* "sentinel" stops the node on its first message: everything sent before it
 * from the same thread has been handled by then. */
static int sentinel_on_msg(tr_ctx *ctx, tt_probe *p, const tr_envelope *env) {
  (void)p;
  (void)env;
  tr_node_stop(tr_node_of(ctx));
  return 0;
}

typedef struct {
  tr_node *node;
  const char *const *to; /* NULL-terminated list of targets, in order */
  int rcs[16];
} script;

static void *script_main(void *arg) {
  script *s = arg;
  for (int i = 0; s->to[i]; i++)
    s->rcs[i] = tr_node_send_threadsafe(s->node, s->to[i], "x", 1);
  return NULL;
}

static void run_script_in_a_thread(script *s) {
  pthread_t th;
  assert_int_equal(0, pthread_create(&th, NULL, script_main, s));
  pthread_join(th, NULL);
}

static void threadsafe_send_to_an_unknown_id_counts_no_actor(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  tt_probe sentinel = {.on_msg = sentinel_on_msg};
  assert_tr_ok(tt_spawn(n, "sentinel", &sentinel, 0));
  static const char *const to[] = {"ghost", "ghost", "sentinel", NULL};
  script s = {.node = n, .to = to};
  run_script_in_a_thread(&s);
  /* Accepted: the target is looked up on the loop thread. */
  for (int i = 0; i < 3; i++) assert_tr_ok(s.rcs[i]);
  int rc = -100;
  assert_true(run_with_watchdog(n, TT_MS, &rc));
  assert_tr_ok(rc);
  assert_int_equal(1, sentinel.received);
  tr_node_stats stats = tt_stats(n);
  assert_int_equal(2, stats.dead[TR_DL_NO_ACTOR]);
  assert_int_equal(0, stats.dead[TR_DL_REJECTED_NO_ACTOR]);
  tt_node_free(n);
}

/* tiny (capacity 2) gets 5: three wait for room, then arrive in order. */
static void threadsafe_send_to_a_full_mailbox_waits_for_room(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  tt_probe sentinel = {.on_msg = sentinel_on_msg};
  tt_probe tiny = {0};
  assert_tr_ok(tt_spawn(n, "sentinel", &sentinel, 0));
  assert_tr_ok(tt_spawn(n, "tiny", &tiny, 2));
  static const char *const to[] = {"tiny", "tiny", "tiny", "tiny", "tiny",
                                   "sentinel", NULL};
  script s = {.node = n, .to = to};
  run_script_in_a_thread(&s);
  for (int i = 0; i < 6; i++) assert_tr_ok(s.rcs[i]);
  int rc = -100;
  assert_true(run_with_watchdog(n, TT_MS, &rc));
  ASSERT_RUN_UNTIL(n, tiny.received == 5, TT_ITERS, TT_MS);
  tr_node_stats stats = tt_stats(n);
  for (int r = 0; r < TR_DL_COUNT; r++) assert_int_equal(0, stats.dead[r]);
  assert_int_equal(0, stats.deferred);
  tt_node_free(n);
}

static int count_to_eight_on_msg(tr_ctx *ctx, tt_probe *p,
                                 const tr_envelope *env) {
  (void)env;
  if (p->received % 8 == 0) tr_node_stop(tr_node_of(ctx));
  return 0;
}

static void threadsafe_max_waiting_sends_then_efull(void **st) {
  (void)st;
  tr_node_config cfg = tt_config();
  cfg.threadsafe_max = 8;
  cfg.threadsafe_target_max = 8; /* one target may take the whole queue */
  tr_node *n = tt_node_new(&cfg);
  tt_probe p = {.on_msg = count_to_eight_on_msg};
  assert_tr_ok(tt_spawn(n, "eight", &p, 0));
  static const char *const to[] = {"eight", "eight", "eight", "eight", "eight",
                                   "eight", "eight", "eight", "eight", "eight",
                                   NULL};
  script s = {.node = n, .to = to};
  run_script_in_a_thread(&s);
  for (int i = 0; i < 8; i++) assert_tr_ok(s.rcs[i]);
  assert_tr(TR_EFULL, s.rcs[8]); /* nothing queued */
  assert_tr(TR_EFULL, s.rcs[9]);

  int rc = -100;
  assert_true(run_with_watchdog(n, TT_MS, &rc));
  assert_int_equal(8, p.received);

  /* Drained: the queue takes sends again. */
  run_script_in_a_thread(&s);
  for (int i = 0; i < 8; i++) assert_tr_ok(s.rcs[i]);
  assert_tr(TR_EFULL, s.rcs[8]);
  assert_tr(TR_EFULL, s.rcs[9]);
  assert_true(run_with_watchdog(n, TT_MS, &rc));
  assert_int_equal(16, p.received);
  tr_node_stats stats = tt_stats(n);
  for (int r = 0; r < TR_DL_COUNT; r++)
    if (r != TR_DL_REJECTED_FULL) assert_int_equal(0, stats.dead[r]);
  assert_int_equal(4, stats.dead[TR_DL_REJECTED_FULL]); /* 2 + 2 refused */
  tt_node_free(n);
}

static void threadsafe_send_rejects_bad_arguments(void **st) {
  (void)st;
  tr_node_config cfg = tt_config();
  cfg.max_payload = 16;
  tr_node *n = tt_node_new(&cfg);
  char buf[17] = {0};
  char longid[TR_ID_MAX + 2];
  memset(longid, 'x', sizeof(longid) - 1);
  longid[sizeof(longid) - 1] = '\0';
  assert_tr(TR_EINVAL, tr_node_send_threadsafe(NULL, "a", buf, 1));
  assert_tr(TR_EINVAL, tr_node_send_threadsafe(n, NULL, buf, 1));
  assert_tr(TR_EINVAL, tr_node_send_threadsafe(n, "", buf, 1));
  assert_tr(TR_EINVAL, tr_node_send_threadsafe(n, longid, buf, 1));
  assert_tr(TR_EINVAL, tr_node_send_threadsafe(n, "a", NULL, 1));
  assert_tr(TR_ETOOBIG, tr_node_send_threadsafe(n, "a", buf, 17));
  assert_tr_ok(tr_node_send_threadsafe(n, "a", buf, 16));
  assert_tr_ok(tr_node_send_threadsafe(n, "a", NULL, 0));
  /* A send call that returned TR_ETOOBIG is a rejected_toobig; the
   * TR_EINVAL ones count nowhere. */
  tr_node_stats s = tt_stats(n);
  assert_int_equal(1, s.dead[TR_DL_REJECTED_TOOBIG]);
  for (int r = 0; r < TR_DL_COUNT; r++)
    if (r != TR_DL_REJECTED_TOOBIG) assert_int_equal(0, s.dead[r]);
  tt_node_free(n);
}


/* tr_node_free first hands the sends still waiting to their mailboxes, then
 * stops the actors: the target's deinit sees them queued. */
static void record_queued_at_deinit(tr_ctx *ctx, tt_probe *p) {
  tr_actor_info info;
  int *queued = p->user;
  if (tr_actor_info_get(tr_node_of(ctx), tr_self(ctx), &info) == 0)
    *queued = (int)info.queued;
}

static void sends_still_waiting_at_free_reach_the_mailbox_first(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  int queued = -1;
  tt_probe p = {.on_deinit = record_queued_at_deinit, .user = &queued};
  assert_tr_ok(tt_spawn(n, "late", &p, 0));
  static const char *const to[] = {"late", "late", "late", NULL};
  script s = {.node = n, .to = to};
  run_script_in_a_thread(&s);
  for (int i = 0; i < 3; i++) assert_tr_ok(s.rcs[i]);
  tt_node_free(n);
  assert_int_equal(1, p.deinits);
  assert_int_equal(0, p.received);
  assert_int_equal(3, queued);
}

/* ---- driven by tr_node_run_once ----------------------------------------- */

typedef struct {
  tr_node *node;
  int rc;
  atomic_int sent;
} one_sender;

static void *one_sender_main(void *arg) {
  one_sender *s = arg;
  s->rc = tr_node_send_threadsafe(s->node, "polled", "late", 4);
  atomic_store(&s->sent, 1);
  return NULL;
}

/* An embedder that drives the node with tr_node_run_once only (no
 * tr_node_run) still gets the messages other threads queue: 0 from
 * tr_node_send_threadsafe means "will be delivered". The node lives in a
 * fixture so that teardown frees it even when an assertion fails. */
typedef struct {
  tr_node *node;
  tt_probe p;
} polled_fixture;

static int polled_setup(void **st) {
  polled_fixture *f = calloc(1, sizeof(*f));
  if (!f || tt_node_create(&f->node, NULL) != 0) return -1;
  if (tt_spawn(f->node, "polled", &f->p, 0) != 0) return -1;
  *st = f;
  return 0;
}

static int polled_teardown(void **st) {
  polled_fixture *f = *st;
  tt_node_free(f->node);
  free(f);
  return 0;
}

static void threadsafe_send_is_delivered_when_driven_by_run_once(void **st) {
  polled_fixture *f = *st;
  tr_node *n = f->node;

  /* Queued before the loop turns... */
  one_sender s = {.node = n};
  pthread_t th;
  assert_int_equal(0, pthread_create(&th, NULL, one_sender_main, &s));
  pthread_join(th, NULL);
  assert_tr_ok(s.rc);
  ASSERT_RUN_UNTIL(n, f->p.received == 1, 100000, 2000);

  /* ...and while it turns. */
  s = (one_sender){.node = n};
  assert_int_equal(0, pthread_create(&th, NULL, one_sender_main, &s));
  tt_bound b = tt_bound_start(TT_ITERS, 2000);
  while (f->p.received < 2 && tt_bound_more(&b)) tr_node_run_once(n);
  pthread_join(th, NULL);
  assert_tr_ok(s.rc);
  assert_int_equal(2, f->p.received);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(
          four_threads_sending_25k_each_all_arrive_in_thread_order),
      cmocka_unit_test(threadsafe_payloads_of_every_size_arrive_intact),
      cmocka_unit_test(threadsafe_send_to_an_unknown_id_counts_no_actor),
      cmocka_unit_test(threadsafe_send_to_a_full_mailbox_waits_for_room),
      cmocka_unit_test(threadsafe_max_waiting_sends_then_efull),
      cmocka_unit_test(threadsafe_send_rejects_bad_arguments),
      cmocka_unit_test(sends_still_waiting_at_free_reach_the_mailbox_first),
      cmocka_unit_test_setup_teardown(
          threadsafe_send_is_delivered_when_driven_by_run_once, polled_setup,
          polled_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
