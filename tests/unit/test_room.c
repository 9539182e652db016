/* test_room.c — node/engine/room.c and the timer side of defer.c: an actor
 * whose send got TR_EFULL asks tr_send_notify and gets TR_MSG_WRITABLE from
 * the target once its mailbox has drained (at once when it has room now;
 * with TR_ENOTFOUND when it stops first); asking twice is asking once; a
 * one-shot timer's message to a full target waits for room instead of
 * being dropped; a producer actor streaming with send / notify / writable
 * gets everything through a small mailbox in order. */
#include <uv.h>

#include "tr_test.h"

typedef struct {
  int send_rc, notify_rc, notify_again_rc;
} notify_state;

static int notify_on_init(tr_ctx *ctx, tt_probe *p) {
  notify_state *s = p->user;
  s->notify_rc = tr_send_notify(ctx, "target");
  return 0;
}

static void a_target_with_room_now_sends_the_notice_at_once(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  notify_state s = {0};
  tt_probe target = {0};
  tt_probe producer = {.on_init = notify_on_init, .user = &s};
  assert_tr_ok(tt_spawn(n, "target", &target, 4));
  assert_tr_ok(tt_spawn(n, "producer", &producer, 0));
  assert_tr_ok(s.notify_rc);
  ASSERT_RUN_UNTIL_IDLE(n);
  assert_int_equal(1, producer.received);
  assert_int_equal(TR_MSG_WRITABLE, producer.rec[0].type);
  assert_string_equal("target", producer.rec[0].sender);
  assert_int_equal(0, producer.rec[0].status);
  tt_node_free(n);
}

/* The producer asks while the target is still full (it has not had a
 * turn): the notice waits for target's turn and comes once, though asked
 * twice. */
static int ask_first_on_init(tr_ctx *ctx, tt_probe *p) {
  notify_state *s = p->user;
  s->send_rc = tr_send(ctx, "target", "x", 1);
  s->notify_rc = tr_send_notify(ctx, "target");
  s->notify_again_rc = tr_send_notify(ctx, "target");
  return 0;
}

static void a_notice_waits_for_the_drain_and_comes_once(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  notify_state s = {0};
  tt_probe target = {0};
  tt_probe producer = {.on_init = ask_first_on_init, .user = &s};
  assert_tr_ok(tt_spawn(n, "target", &target, 4));
  for (int i = 0; i < 4; i++) assert_tr_ok(tr_node_send(n, "target", "f", 1));
  assert_tr_ok(tt_spawn(n, "producer", &producer, 0));
  assert_tr(TR_EFULL, s.send_rc);
  assert_tr_ok(s.notify_rc);
  assert_tr_ok(s.notify_again_rc);
  assert_int_equal(0, producer.received); /* nothing yet: target is full */
  ASSERT_RUN_UNTIL_IDLE(n);
  assert_int_equal(4, target.received);
  assert_int_equal(1, producer.received);
  assert_int_equal(TR_MSG_WRITABLE, producer.rec[0].type);
  assert_string_equal("target", producer.rec[0].sender);
  assert_int_equal(0, producer.rec[0].status);
  tt_node_free(n);
}

static void a_target_that_stops_first_sends_enotfound(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  notify_state s = {0};
  tt_probe target = {0};
  tt_probe producer = {.on_init = ask_first_on_init, .user = &s};
  assert_tr_ok(tt_spawn(n, "target", &target, 4));
  for (int i = 0; i < 4; i++) assert_tr_ok(tr_node_send(n, "target", "f", 1));
  assert_tr_ok(tt_spawn(n, "producer", &producer, 0));
  assert_tr_ok(s.notify_rc);
  assert_tr_ok(tr_node_stop_actor(n, "target")); /* in queue order */
  ASSERT_RUN_UNTIL_IDLE(n);
  assert_int_equal(1, producer.received);
  assert_int_equal(TR_MSG_WRITABLE, producer.rec[0].type);
  assert_int_equal(TR_ENOTFOUND, producer.rec[0].status);
  tt_node_free(n);
}

static int notify_unknown_on_init(tr_ctx *ctx, tt_probe *p) {
  notify_state *s = p->user;
  s->notify_rc = tr_send_notify(ctx, "nobody");
  s->notify_again_rc = tr_send_notify(ctx, "");
  return 0;
}

static void notify_on_an_unknown_id_is_enotfound(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  notify_state s = {0};
  tt_probe p = {.on_init = notify_unknown_on_init, .user = &s};
  assert_tr_ok(tt_spawn(n, "asker", &p, 0));
  assert_tr(TR_ENOTFOUND, s.notify_rc);
  assert_tr(TR_EINVAL, s.notify_again_rc);
  assert_tr(TR_EINVAL, tr_send_notify(NULL, "x"));
  tt_node_free(n);
}

/* ---- a one-shot timer to a full target ------------------------------------ */

static int timer_on_init(tr_ctx *ctx, tt_probe *p) {
  int *rc = p->user;
  *rc = tr_send_after(ctx, 20, "target", "late", 4);
  return 0;
}

/* Due at the same loop time as the actor's timer and started first, so it
 * fires first: it fills target (capacity 2) just before the actor's timer
 * fires into it. */
static void fill_on_timer(uv_timer_t *h) {
  tr_node *n = h->data;
  tr_node_send(n, "target", "f1", 2);
  tr_node_send(n, "target", "f2", 2);
}

static bool rec_is(const tt_rec *r, const char *s) {
  return r->len == strlen(s) && memcmp(r->data, s, r->len) == 0;
}

static void a_one_shot_timer_to_a_full_target_waits_for_room(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  int rc = -100;
  tt_probe target = {0};
  tt_probe timer = {.on_init = timer_on_init, .user = &rc};
  assert_tr_ok(tt_spawn(n, "target", &target, 2));
  uv_timer_t fill;
  assert_int_equal(0, uv_timer_init(tr_node_loop(n), &fill));
  fill.data = n;
  assert_int_equal(0, uv_timer_start(&fill, fill_on_timer, 20, 0));
  assert_tr_ok(tt_spawn(n, "timer", &timer, 0));
  assert_tr_ok(rc);
  ASSERT_RUN_UNTIL(n, target.received == 3, TT_ITERS, TT_MS);
  assert_true(rec_is(&target.rec[0], "f1"));
  assert_true(rec_is(&target.rec[1], "f2"));
  assert_true(rec_is(&target.rec[2], "late"));
  tr_node_stats s = tt_stats(n);
  for (int r = 0; r < TR_DL_COUNT; r++) assert_int_equal(0, s.dead[r]);
  assert_int_equal(0, s.deferred);
  uv_close((uv_handle_t *)&fill, NULL);
  tt_node_free(n);
}

/* ---- nothing overtakes a held message --------------------------------------- */

typedef struct overtake {
  int timer_rc, send_rc;
} overtake;

static int owner_on_init(tr_ctx *ctx, tt_probe *p) {
  overtake *o = p->user;
  o->timer_rc = tr_send_after(ctx, 20, "target", "late", 4);
  return 0;
}

static int owner_on_msg(tr_ctx *ctx, tt_probe *p, const tr_envelope *env) {
  overtake *o = p->user;
  if (tt_is(env, "go")) o->send_rc = tr_send(ctx, "target", "direct", 6);
  return 0;
}

static void fill4_on_timer(uv_timer_t *h) {
  tr_node *n = h->data;
  static const char *const f[4] = {"f1", "f2", "f3", "f4"};
  for (int i = 0; i < 4; i++) tr_node_send(n, "target", f[i], 2);
}

static void go_on_timer(uv_timer_t *h) {
  tr_node_send(h->data, "owner", "go", 2);
}

/* One message a turn: target (capacity 4, filled) has taken one when the
 * owner sends again, so it has room, but the owner's one-shot timer
 * message waits for it: the new send is refused rather than overtake it. */
static void a_send_never_overtakes_a_held_timer_message(void **st) {
  (void)st;
  tr_node_config cfg = tt_config();
  cfg.batch = 1;
  tr_node *n = tt_node_new(&cfg);
  overtake o = {-100, -100};
  tt_probe target = {0};
  tt_probe owner = {.on_init = owner_on_init, .on_msg = owner_on_msg,
                    .user = &o};
  assert_tr_ok(tt_spawn(n, "target", &target, 4));
  uv_timer_t fill, go;
  assert_int_equal(0, uv_timer_init(tr_node_loop(n), &fill));
  assert_int_equal(0, uv_timer_init(tr_node_loop(n), &go));
  fill.data = go.data = n;
  /* Due together, in this order: fill, the owner's timer, go. */
  assert_int_equal(0, uv_timer_start(&fill, fill4_on_timer, 20, 0));
  assert_tr_ok(tt_spawn(n, "owner", &owner, 0));
  assert_int_equal(0, uv_timer_start(&go, go_on_timer, 20, 0));
  assert_tr_ok(o.timer_rc);
  ASSERT_RUN_UNTIL(n, o.send_rc != -100 && target.received >= 5, TT_ITERS,
                   TT_MS);
  ASSERT_RUN_UNTIL_IDLE(n);
  assert_tr(TR_EFULL, o.send_rc);
  assert_int_equal(5, target.received);
  assert_true(rec_is(&target.rec[3], "f4"));
  assert_true(rec_is(&target.rec[4], "late"));
  uv_close((uv_handle_t *)&fill, NULL);
  uv_close((uv_handle_t *)&go, NULL);
  tt_node_free(n);
}

/* ---- a producer actor streaming through a mailbox of 8 -------------------- */

#define STREAM_N 20000u

typedef struct {
  uint32_t next_send, efull, writable;
} stream_state;

/* Sends until TR_EFULL, then waits for TR_MSG_WRITABLE: the pattern of
 * docs/engine.md, "Back-pressure". */
static void stream_pump(tr_ctx *ctx, stream_state *s) {
  while (s->next_send < STREAM_N) {
    int rc = tr_send(ctx, "consumer", &s->next_send, sizeof(s->next_send));
    if (rc == TR_EFULL) {
      s->efull++;
      tr_send_notify(ctx, "consumer");
      return;
    }
    if (rc != 0) return;
    s->next_send++;
  }
}

static int stream_producer_on_msg(tr_ctx *ctx, tt_probe *p,
                                  const tr_envelope *env) {
  stream_state *s = p->user;
  if (env->type == TR_MSG_WRITABLE) s->writable++;
  stream_pump(ctx, s);
  return 0;
}

typedef struct {
  uint32_t next;
  long bad;
} consume_state;

static int consumer_on_msg(tr_ctx *ctx, tt_probe *p, const tr_envelope *env) {
  consume_state *c = p->user;
  uint32_t v;
  if (env->len != sizeof(v)) {
    c->bad++;
    return 0;
  }
  memcpy(&v, env->data, sizeof(v));
  if (v != c->next) c->bad++;
  c->next = v + 1;
  if (c->next == STREAM_N) tr_node_stop(tr_node_of(ctx));
  return 0;
}

static void a_producer_actor_streams_through_a_small_mailbox(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  stream_state s = {0};
  consume_state c = {0};
  tt_probe consumer = {.on_msg = consumer_on_msg, .user = &c};
  tt_probe producer = {.on_msg = stream_producer_on_msg, .user = &s};
  assert_tr_ok(tt_spawn(n, "consumer", &consumer, 8));
  assert_tr_ok(tt_spawn(n, "producer", &producer, 0));
  assert_tr_ok(tr_node_send(n, "producer", "go", 2));
  int rc = -100;
  assert_true(run_with_watchdog(n, 30000, &rc));
  assert_int_equal(STREAM_N, c.next);
  assert_int_equal(0, c.bad);
  assert_true(s.efull > 0);
  /* Every TR_EFULL was followed by one notice. */
  assert_int_equal(s.efull, s.writable);
  tr_node_stats stats = tt_stats(n);
  for (int r = 0; r < TR_DL_COUNT; r++)
    if (r != TR_DL_REJECTED_FULL) assert_int_equal(0, stats.dead[r]);
  print_message("20000 through capacity 8: %u TR_EFULL, %u writable\n",
                s.efull, s.writable);
  tt_node_free(n);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(a_target_with_room_now_sends_the_notice_at_once),
      cmocka_unit_test(a_notice_waits_for_the_drain_and_comes_once),
      cmocka_unit_test(a_target_that_stops_first_sends_enotfound),
      cmocka_unit_test(notify_on_an_unknown_id_is_enotfound),
      cmocka_unit_test(a_one_shot_timer_to_a_full_target_waits_for_room),
      cmocka_unit_test(a_producer_actor_streams_through_a_small_mailbox),
      cmocka_unit_test(a_send_never_overtakes_a_held_timer_message),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
