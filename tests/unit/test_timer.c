/* test_timer.c — node/engine/timer.c: tr_send_after fires once after its
 * delay from its owner, tr_send_every repeats until cancelled, cancel of an
 * unknown or foreign id is TR_ENOTFOUND, an actor's timers die with it, and
 * a target that is gone at fire time is a counted dead letter. */
#include <uv.h>

#include "tr_test.h"

typedef struct {
  const char *to;     /* target of the timers; NULL: self */
  uint32_t delay_ms;
  int rc, cancel_rc, cancel_again_rc, foreign_cancel_rc;
  uint64_t timer_id;
  uint64_t foreign_id; /* another actor's timer id to try to cancel */
  uint64_t start_loop_ms, fired_ms;
  uint64_t pending_after_start;
  long ticks, cancel_at;
  /* At the owner's deinit: what the target had got and had queued. */
  tt_probe *target;
  long target_received_at_deinit;
  uint32_t target_queued_at_deinit;
  char payload[64];
} timer_fixture;

static const char *target_of(tr_ctx *ctx, timer_fixture *f) {
  return f->to ? f->to : tr_self(ctx);
}

static int timer_on_msg(tr_ctx *ctx, tt_probe *p, const tr_envelope *env) {
  timer_fixture *f = p->user;
  tr_node_stats s;
  if (tt_is(env, "after")) {
    f->start_loop_ms = uv_now(tr_loop(ctx));
    f->rc = tr_send_after(ctx, f->delay_ms, target_of(ctx, f), "ding", 4);
    tr_node_stats_get(tr_node_of(ctx), &s);
    f->pending_after_start = s.timers_pending;
  } else if (tt_is(env, "every")) {
    f->rc = tr_send_every(ctx, f->delay_ms, target_of(ctx, f), "tick", 4,
                          &f->timer_id);
  } else if (tt_is(env, "every-and-after-then-stop")) {
    f->rc = tr_send_every(ctx, f->delay_ms, target_of(ctx, f), "tick", 4,
                          &f->timer_id);
    if (f->rc == 0)
      f->rc = tr_send_after(ctx, f->delay_ms, target_of(ctx, f), "ding", 4);
    tr_stop(ctx);
  } else if (tt_is(env, "cancel-foreign")) {
    f->foreign_cancel_rc = tr_timer_cancel(ctx, f->foreign_id);
  } else if (tt_is(env, "cancel")) {
    f->cancel_rc = tr_timer_cancel(ctx, f->timer_id);
  } else if (tt_is(env, "copy")) {
    char buf[64];
    snprintf(buf, sizeof(buf), "original");
    f->rc = tr_send_after(ctx, f->delay_ms, target_of(ctx, f), buf, 9);
    memset(buf, 'X', sizeof(buf)); /* the timer holds its own copy */
  } else if (tt_is(env, "ding")) {
    f->fired_ms = uv_hrtime() / 1000000u;
  } else if (tt_is(env, "tick")) {
    if (++f->ticks == f->cancel_at) {
      f->cancel_rc = tr_timer_cancel(ctx, f->timer_id);
      f->cancel_again_rc = tr_timer_cancel(ctx, f->timer_id);
    }
  }
  return 0;
}

static void record_target_at_deinit(tr_ctx *ctx, tt_probe *p) {
  timer_fixture *f = p->user;
  if (!f->target) return;
  f->target_received_at_deinit = f->target->received;
  tr_actor_info info;
  if (tr_actor_info_get(tr_node_of(ctx), f->target->id, &info) == 0)
    f->target_queued_at_deinit = info.queued;
}

static void fixture_init(timer_fixture *f, tt_probe *p) {
  memset(f, 0, sizeof(*f));
  f->rc = f->cancel_rc = f->cancel_again_rc = f->foreign_cancel_rc = -1000;
  *p = (tt_probe){.on_msg = timer_on_msg,
                  .on_deinit = record_target_at_deinit,
                  .user = f};
}

static long count_payload(const tt_probe *p, const char *s) {
  long n = 0;
  size_t len = strlen(s);
  for (long i = 0; i < p->received && i < TT_REC_MAX; i++)
    if (p->rec[i].type == TR_MSG_SEND && p->rec[i].len == len &&
        memcmp(p->rec[i].data, s, len) == 0)
      n++;
  return n;
}

/* ---- one-shot ----------------------------------------------------------- */

static void send_after_delivers_once_after_the_delay_from_self(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  timer_fixture f;
  tt_probe p;
  fixture_init(&f, &p);
  f.delay_ms = 30;
  assert_tr_ok(tt_spawn(n, "clock", &p, 0));
  assert_tr_ok(tt_send_str(n, "clock", "after"));
  ASSERT_RUN_UNTIL(n, count_payload(&p, "ding") == 1, TT_ITERS, TT_MS);
  assert_tr_ok(f.rc);
  assert_int_equal(1, f.pending_after_start);
  /* The loop's clock at the call plus the delay, at the earliest. */
  assert_true(f.fired_ms >= f.start_loop_ms + 30);
  const tt_rec *r = &p.rec[1];
  assert_int_equal(TR_MSG_SEND, r->type);
  assert_true(r->has_sender);
  assert_string_equal("clock", r->sender);
  assert_int_equal(0, tt_stats(n).timers_pending);
  /* Drive on: nothing more comes, and nothing keeps the loop busy. */
  ASSERT_RUN_UNTIL_IDLE(n);
  assert_int_equal(1, count_payload(&p, "ding"));
  assert_int_equal(2, p.received);
  tt_node_free(n);
}

static void send_after_to_another_actor_comes_from_the_owner(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  timer_fixture f;
  tt_probe owner, other = {0};
  fixture_init(&f, &owner);
  f.delay_ms = 5;
  f.to = "other";
  assert_tr_ok(tt_spawn(n, "other", &other, 0));
  assert_tr_ok(tt_spawn(n, "owner", &owner, 0));
  assert_tr_ok(tt_send_str(n, "owner", "after"));
  ASSERT_RUN_UNTIL(n, other.received == 1, TT_ITERS, TT_MS);
  assert_tr_ok(f.rc);
  assert_string_equal("owner", other.rec[0].sender);
  assert_int_equal(4, other.rec[0].len);
  assert_memory_equal("ding", other.rec[0].data, 4);
  ASSERT_RUN_UNTIL_IDLE(n);
  assert_int_equal(1, other.received);
  tt_node_free(n);
}

static void timer_payload_is_copied_when_the_timer_is_made(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  timer_fixture f;
  tt_probe owner, other = {0};
  fixture_init(&f, &owner);
  f.delay_ms = 5;
  f.to = "other";
  assert_tr_ok(tt_spawn(n, "other", &other, 0));
  assert_tr_ok(tt_spawn(n, "owner", &owner, 0));
  assert_tr_ok(tt_send_str(n, "owner", "copy"));
  ASSERT_RUN_UNTIL(n, other.received == 1, TT_ITERS, TT_MS);
  assert_tr_ok(f.rc);
  assert_int_equal(9, other.rec[0].len);
  assert_memory_equal("original", other.rec[0].data, 9);
  tt_node_free(n);
}

/* ---- repeating ---------------------------------------------------------- */

static void send_every_repeats_until_cancelled_then_stops(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  timer_fixture f;
  tt_probe p;
  fixture_init(&f, &p);
  f.delay_ms = 5;
  f.cancel_at = 3;
  assert_tr_ok(tt_spawn(n, "metronome", &p, 0));
  assert_tr_ok(tt_send_str(n, "metronome", "every"));
  ASSERT_RUN_UNTIL(n, f.ticks >= 3, TT_ITERS, TT_MS);
  assert_tr_ok(f.rc);
  assert_true(f.timer_id != 0);
  assert_tr_ok(f.cancel_rc);
  assert_tr(TR_ENOTFOUND, f.cancel_again_rc);
  assert_int_equal(0, tt_stats(n).timers_pending);
  /* No more ticks: the node goes idle and stays quiet. */
  ASSERT_RUN_UNTIL_IDLE(n);
  for (int i = 0; i < 10; i++) assert_int_equal(0, tr_node_run_once(n));
  assert_int_equal(3, f.ticks);
  for (long i = 1; i <= 3; i++) assert_string_equal("metronome", p.rec[i].sender);
  tt_node_free(n);
}

static int zero_interval_on_msg(tr_ctx *ctx, tt_probe *p,
                                const tr_envelope *env) {
  if (!tt_is(env, "go")) return 0;
  int *rc = p->user;
  uint64_t id = 77;
  rc[0] = tr_send_every(ctx, 0, tr_self(ctx), "x", 1, &id);
  rc[1] = tr_send_after(ctx, 5, "", "x", 1);
  rc[2] = tr_send_after(ctx, 5, tr_self(ctx), NULL, 1);
  rc[3] = tr_send_every(ctx, 5, tr_self(ctx), "x", 1, NULL); /* id optional */
  rc[4] = (int)id;
  return 0;
}

static void bad_timer_arguments_return_einval(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  int rc[5] = {-1000, -1000, -1000, -1000, -1000};
  tt_probe p = {.on_msg = zero_interval_on_msg, .user = rc};
  assert_tr_ok(tt_spawn(n, "bad", &p, 0));
  assert_tr_ok(tt_send_str(n, "bad", "go"));
  ASSERT_RUN_UNTIL(n, p.received >= 1, TT_ITERS, TT_MS);
  assert_tr(TR_EINVAL, rc[0]);
  assert_tr(TR_EINVAL, rc[1]);
  assert_tr(TR_EINVAL, rc[2]);
  assert_tr_ok(rc[3]);
  assert_int_equal(77, rc[4]); /* untouched on failure */
  assert_int_equal(1, tt_stats(n).timers_pending);
  tt_node_free(n);
}

static int toobig_timer_on_msg(tr_ctx *ctx, tt_probe *p,
                               const tr_envelope *env) {
  (void)env;
  static const char big[65];
  int *rc = p->user;
  rc[0] = tr_send_after(ctx, 5, tr_self(ctx), big, sizeof(big));
  rc[1] = tr_send_every(ctx, 5, tr_self(ctx), big, sizeof(big), NULL);
  return 0;
}

static void oversized_timer_payload_returns_etoobig(void **st) {
  (void)st;
  tr_node_config cfg = tt_config();
  cfg.max_payload = 64;
  tr_node *n = tt_node_new(&cfg);
  int rc[2] = {-1000, -1000};
  tt_probe p = {.on_msg = toobig_timer_on_msg, .user = rc};
  assert_tr_ok(tt_spawn(n, "big", &p, 0));
  assert_tr_ok(tt_send_str(n, "big", "go"));
  ASSERT_RUN_UNTIL(n, p.received >= 1, TT_ITERS, TT_MS);
  assert_tr(TR_ETOOBIG, rc[0]);
  assert_tr(TR_ETOOBIG, rc[1]);
  assert_int_equal(0, tt_stats(n).timers_pending);
  assert_int_equal(2, tt_stats(n).dead[TR_DL_REJECTED_TOOBIG]);
  ASSERT_RUN_UNTIL_IDLE(n);
  assert_int_equal(1, p.received);
  tt_node_free(n);
}

/* ---- cancel ------------------------------------------------------------- */

static void timer_cancel_of_an_unknown_or_foreign_id_returns_enotfound(
    void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  timer_fixture fa, fb;
  tt_probe a, b;
  fixture_init(&fa, &a);
  fixture_init(&fb, &b);
  fa.delay_ms = 10000; /* never fires during the test */
  assert_tr_ok(tt_spawn(n, "a", &a, 0));
  assert_tr_ok(tt_spawn(n, "b", &b, 0));
  assert_tr_ok(tt_send_str(n, "a", "every"));
  ASSERT_RUN_UNTIL(n, a.received == 1, TT_ITERS, TT_MS);
  assert_tr_ok(fa.rc);

  fb.foreign_id = fa.timer_id; /* a's timer, not b's */
  assert_tr_ok(tt_send_str(n, "b", "cancel-foreign"));
  ASSERT_RUN_UNTIL(n, b.received == 1, TT_ITERS, TT_MS);
  assert_tr(TR_ENOTFOUND, fb.foreign_cancel_rc);

  fb.foreign_id = fa.timer_id + 1000; /* nobody's */
  assert_tr_ok(tt_send_str(n, "b", "cancel-foreign"));
  ASSERT_RUN_UNTIL(n, b.received == 2, TT_ITERS, TT_MS);
  assert_tr(TR_ENOTFOUND, fb.foreign_cancel_rc);
  assert_int_equal(1, tt_stats(n).timers_pending);

  /* The owner can. */
  assert_tr_ok(tt_send_str(n, "a", "cancel"));
  ASSERT_RUN_UNTIL(n, a.received == 2, TT_ITERS, TT_MS);
  assert_tr_ok(fa.cancel_rc);
  assert_int_equal(0, tt_stats(n).timers_pending);
  ASSERT_RUN_UNTIL_IDLE(n);
  tt_node_free(n);
}

/* ---- lifetimes ---------------------------------------------------------- */

static void timers_of_an_actor_are_cancelled_when_it_stops(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  timer_fixture f;
  tt_probe owner, target = {0};
  fixture_init(&f, &owner);
  f.delay_ms = 3;
  f.to = "target";
  f.target = &target;
  assert_tr_ok(tt_spawn(n, "target", &target, 0));
  assert_tr_ok(tt_spawn(n, "owner", &owner, 0));
  assert_tr_ok(tt_send_str(n, "owner", "every"));
  ASSERT_RUN_UNTIL(n, target.received >= 2, TT_ITERS, TT_MS);
  assert_tr_ok(f.rc);
  assert_tr_ok(tr_node_stop_actor(n, "owner"));
  ASSERT_RUN_UNTIL(n, owner.deinits == 1, TT_ITERS, TT_MS);
  assert_int_equal(0, tt_stats(n).timers_pending);
  ASSERT_RUN_UNTIL_IDLE(n);
  /* Only what was already queued at the stop arrives afterwards. */
  assert_int_equal(f.target_received_at_deinit + f.target_queued_at_deinit,
                   target.received);
  tt_node_free(n);
}

static void timers_made_in_the_callback_that_stops_never_fire(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  timer_fixture f;
  tt_probe owner, target = {0};
  fixture_init(&f, &owner);
  f.delay_ms = 1;
  f.to = "target";
  assert_tr_ok(tt_spawn(n, "target", &target, 0));
  assert_tr_ok(tt_spawn(n, "owner", &owner, 0));
  assert_tr_ok(tt_send_str(n, "owner", "every-and-after-then-stop"));
  ASSERT_RUN_UNTIL(n, owner.deinits == 1, TT_ITERS, TT_MS);
  assert_tr_ok(f.rc);
  assert_int_equal(0, tt_stats(n).timers_pending);
  ASSERT_RUN_UNTIL_IDLE(n);
  assert_int_equal(0, target.received);
  tr_node_stats s = tt_stats(n);
  assert_int_equal(0, s.dead[TR_DL_NO_ACTOR]);
  tt_node_free(n);
}

static void timer_whose_target_is_gone_at_fire_time_counts_no_actor(
    void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  timer_fixture f;
  tt_probe owner, target = {0};
  fixture_init(&f, &owner);
  f.delay_ms = 20;
  f.to = "target";
  assert_tr_ok(tt_spawn(n, "target", &target, 0));
  assert_tr_ok(tt_spawn(n, "owner", &owner, 0));
  assert_tr_ok(tt_send_str(n, "owner", "after"));
  ASSERT_RUN_UNTIL(n, owner.received == 1, TT_ITERS, TT_MS);
  assert_tr_ok(f.rc);
  /* The target goes away before the timer fires. */
  assert_tr_ok(tr_node_stop_actor(n, "target"));
  ASSERT_RUN_UNTIL(n, target.deinits == 1, TT_ITERS, TT_MS);
  assert_int_equal(1, tt_stats(n).timers_pending);
  uint64_t dead = tt_stats(n).dead[TR_DL_NO_ACTOR];
  ASSERT_RUN_UNTIL(n, tt_stats(n).timers_pending == 0, TT_ITERS, TT_MS);
  assert_int_equal(dead + 1, tt_stats(n).dead[TR_DL_NO_ACTOR]);
  assert_int_equal(0, target.received);

  /* A target that never existed: accepted, then counted at fire time. */
  f.to = "never-was";
  assert_tr_ok(tt_send_str(n, "owner", "after"));
  ASSERT_RUN_UNTIL(n, owner.received == 2, TT_ITERS, TT_MS);
  assert_tr_ok(f.rc);
  ASSERT_RUN_UNTIL(n, tt_stats(n).timers_pending == 0, TT_ITERS, TT_MS);
  assert_int_equal(dead + 2, tt_stats(n).dead[TR_DL_NO_ACTOR]);
  assert_int_equal(0, tt_stats(n).dead[TR_DL_REJECTED_NO_ACTOR]);
  tt_node_free(n);
}


static void run_once_reports_work_while_a_timer_is_pending(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  timer_fixture f;
  tt_probe p;
  fixture_init(&f, &p);
  f.delay_ms = 2;
  f.cancel_at = 4;
  assert_tr_ok(tt_spawn(n, "ticker", &p, 0));
  assert_tr_ok(tt_send_str(n, "ticker", "every"));
  ASSERT_RUN_UNTIL(n, p.received == 1, TT_ITERS, TT_MS);
  /* Between ticks nothing is ready, but the timer is work that remains. */
  tt_bound b = tt_bound_start(TT_ITERS, TT_MS);
  while (f.ticks < 4 && tt_bound_more(&b)) {
    int more = tr_node_run_once(n);
    if (f.ticks < 4) assert_int_equal(1, more);
  }
  assert_int_equal(4, f.ticks);
  assert_tr_ok(f.cancel_rc);
  ASSERT_RUN_UNTIL_IDLE(n);
  tt_node_free(n);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(send_after_delivers_once_after_the_delay_from_self),
      cmocka_unit_test(send_after_to_another_actor_comes_from_the_owner),
      cmocka_unit_test(timer_payload_is_copied_when_the_timer_is_made),
      cmocka_unit_test(send_every_repeats_until_cancelled_then_stops),
      cmocka_unit_test(run_once_reports_work_while_a_timer_is_pending),
      cmocka_unit_test(bad_timer_arguments_return_einval),
      cmocka_unit_test(oversized_timer_payload_returns_etoobig),
      cmocka_unit_test(
          timer_cancel_of_an_unknown_or_foreign_id_returns_enotfound),
      cmocka_unit_test(timers_of_an_actor_are_cancelled_when_it_stops),
      cmocka_unit_test(timers_made_in_the_callback_that_stops_never_fire),
      cmocka_unit_test(
          timer_whose_target_is_gone_at_fire_time_counts_no_actor),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
