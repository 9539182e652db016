/* test_stats.c — node/engine/stats.c: the node counters (actors, spawned,
 * stopped, failed, sent, delivered, published, mailbox_hwm, live asks,
 * timers and subscriptions), the rejected_* dead letters of failing send
 * calls, the ring of recent dead letters (dead_letters.c), and
 * tr_actor_info_get. */
#include "tr_test.h"

static void a_new_node_has_all_counters_at_zero(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  tr_node_stats s = tt_stats(n);
  assert_int_equal(0, s.actors);
  assert_int_equal(0, s.spawned);
  assert_int_equal(0, s.stopped);
  assert_int_equal(0, s.failed);
  assert_int_equal(0, s.sent);
  assert_int_equal(0, s.delivered);
  assert_int_equal(0, s.published);
  assert_int_equal(0, s.mailbox_hwm);
  assert_int_equal(0, s.asks_pending);
  assert_int_equal(0, s.timers_pending);
  assert_int_equal(0, s.subscriptions);
  for (int r = 0; r < TR_DL_COUNT; r++) assert_int_equal(0, s.dead[r]);
  tt_node_free(n);
}

static int fail_on_boom(tr_ctx *ctx, tt_probe *p, const tr_envelope *env) {
  (void)ctx;
  (void)p;
  return tt_is(env, "boom") ? 4 : 0;
}

static void actor_counters_follow_spawns_stops_and_failures(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  tt_probe a = {.on_msg = fail_on_boom}, b = {0}, c = {0};
  assert_tr_ok(tt_spawn(n, "a", &a, 0));
  assert_tr_ok(tt_spawn(n, "b", &b, 0));
  assert_tr_ok(tt_spawn(n, "c", &c, 0));
  tr_node_stats s = tt_stats(n);
  assert_int_equal(3, s.actors);
  assert_int_equal(3, s.spawned);
  assert_int_equal(0, s.stopped);

  assert_tr_ok(tr_node_stop_actor(n, "b"));
  ASSERT_RUN_UNTIL(n, b.deinits == 1, TT_ITERS, TT_MS);
  s = tt_stats(n);
  assert_int_equal(2, s.actors);
  assert_int_equal(1, s.stopped);
  assert_int_equal(0, s.failed);

  assert_tr_ok(tt_send_str(n, "a", "boom"));
  ASSERT_RUN_UNTIL(n, a.deinits == 1, TT_ITERS, TT_MS);
  s = tt_stats(n);
  assert_int_equal(1, s.actors);
  assert_int_equal(2, s.stopped);
  assert_int_equal(1, s.failed);
  assert_int_equal(3, s.spawned);

  /* A spawn that fails in init counts as spawned and stopped. */
  tt_probe bad = {.init_rc = 1};
  assert_tr(TR_EINIT, tt_spawn(n, "bad", &bad, 0));
  s = tt_stats(n);
  assert_int_equal(1, s.actors);
  assert_int_equal(4, s.spawned);
  assert_int_equal(3, s.stopped);
  assert_int_equal(1, s.failed);
  /* Rejected spawns count nowhere. */
  assert_tr(TR_EEXIST, tt_spawn(n, "c", &bad, 0));
  assert_tr(TR_EINVAL, tt_spawn(n, "", &bad, 0));
  s = tt_stats(n);
  assert_int_equal(4, s.spawned);
  assert_int_equal(1, s.actors);
  tt_node_free(n);
}

static void sent_delivered_and_mailbox_high_water_marks(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  tt_probe a = {0}, b = {0};
  assert_tr_ok(tt_spawn(n, "a", &a, 0));
  assert_tr_ok(tt_spawn(n, "b", &b, 0));
  for (int i = 0; i < 7; i++) assert_tr_ok(tt_send_str(n, "a", "m"));
  for (int i = 0; i < 3; i++) assert_tr_ok(tt_send_str(n, "b", "m"));
  tr_node_stats s = tt_stats(n);
  assert_int_equal(10, s.sent);
  assert_int_equal(0, s.delivered);
  assert_int_equal(7, s.mailbox_hwm);
  tr_actor_info ia, ib;
  assert_tr_ok(tr_actor_info_get(n, "a", &ia));
  assert_tr_ok(tr_actor_info_get(n, "b", &ib));
  assert_int_equal(7, ia.queued);
  assert_int_equal(7, ia.hwm);
  assert_int_equal(0, ia.delivered);
  assert_int_equal(3, ib.queued);
  assert_int_equal(3, ib.hwm);

  ASSERT_RUN_UNTIL(n, a.received == 7 && b.received == 3, TT_ITERS, TT_MS);
  s = tt_stats(n);
  assert_int_equal(10, s.sent);
  assert_int_equal(10, s.delivered);
  assert_int_equal(7, s.mailbox_hwm); /* a mark, not a level */
  assert_tr_ok(tr_actor_info_get(n, "a", &ia));
  assert_int_equal(0, ia.queued);
  assert_int_equal(7, ia.hwm);
  assert_int_equal(7, ia.delivered);
  assert_tr_ok(tr_actor_info_get(n, "b", &ib));
  assert_int_equal(3, ib.delivered);
  tt_node_free(n);
}

/* ---- publish, asks, timers, subscriptions ------------------------------- */

typedef struct {
  int pub_rcs[3];
  int sub_rc, ask_rc, timer_rc;
  uint64_t timer_id;
} live_fixture;

static int publisher_on_msg(tr_ctx *ctx, tt_probe *p, const tr_envelope *env) {
  live_fixture *f = p->user;
  if (tt_is(env, "publish")) {
    f->pub_rcs[0] = tr_publish(ctx, "x", 1);
    f->pub_rcs[1] = tr_publish_topic(ctx, "t", "y", 1);
    f->pub_rcs[2] = tr_publish_topic(ctx, "nobody-listens", "z", 1);
  } else if (tt_is(env, "subscribe")) {
    f->sub_rc = tr_subscribe_topic(ctx, "pub", "t");
  } else if (tt_is(env, "ask")) {
    f->ask_rc = tr_ask(ctx, "silent", "?", 1, 60000, NULL);
  } else if (tt_is(env, "timer")) {
    f->timer_rc = tr_send_every(ctx, 60000, "silent", "t", 1, &f->timer_id);
  } else if (tt_is(env, "cancel")) {
    f->timer_rc = tr_timer_cancel(ctx, f->timer_id);
  }
  return 0;
}

static void published_counts_publish_calls_with_or_without_subscribers(
    void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  live_fixture f = {0};
  tt_probe pub = {.on_msg = publisher_on_msg, .user = &f};
  tt_probe sub = {.on_msg = publisher_on_msg, .user = &f};
  assert_tr_ok(tt_spawn(n, "pub", &pub, 0));
  assert_tr_ok(tt_spawn(n, "sub", &sub, 0));
  assert_tr_ok(tt_send_str(n, "sub", "subscribe"));
  ASSERT_RUN_UNTIL(n, sub.received == 1, TT_ITERS, TT_MS);
  assert_tr_ok(f.sub_rc);
  assert_int_equal(1, tt_stats(n).subscriptions);
  uint64_t sent = tt_stats(n).sent;

  assert_tr_ok(tt_send_str(n, "pub", "publish"));
  ASSERT_RUN_UNTIL(n, sub.received == 2, TT_ITERS, TT_MS);
  assert_int_equal(0, f.pub_rcs[0]);
  assert_int_equal(1, f.pub_rcs[1]);
  assert_int_equal(0, f.pub_rcs[2]);
  tr_node_stats s = tt_stats(n);
  assert_int_equal(3, s.published);
  /* The command plus the one delivery that reached a mailbox. */
  assert_int_equal(sent + 2, s.sent);
  tt_node_free(n);
}

static void live_asks_timers_and_subscriptions_are_counted(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  live_fixture f = {0};
  tt_probe pub = {.on_msg = publisher_on_msg, .user = &f};
  tt_probe sub = {.on_msg = publisher_on_msg, .user = &f};
  tt_probe silent = {0};
  assert_tr_ok(tt_spawn(n, "pub", &pub, 0));
  assert_tr_ok(tt_spawn(n, "sub", &sub, 0));
  assert_tr_ok(tt_spawn(n, "silent", &silent, 0));
  assert_tr_ok(tt_send_str(n, "sub", "subscribe"));
  assert_tr_ok(tt_send_str(n, "pub", "ask"));
  assert_tr_ok(tt_send_str(n, "pub", "timer"));
  ASSERT_RUN_UNTIL(n, pub.received == 2 && sub.received == 1, TT_ITERS,
                   TT_MS);
  assert_tr_ok(f.ask_rc);
  assert_tr_ok(f.timer_rc);
  tr_node_stats s = tt_stats(n);
  assert_int_equal(1, s.asks_pending);
  assert_int_equal(1, s.timers_pending);
  assert_int_equal(1, s.subscriptions);

  assert_tr_ok(tt_send_str(n, "pub", "cancel"));
  ASSERT_RUN_UNTIL(n, pub.received == 3, TT_ITERS, TT_MS);
  assert_tr_ok(f.timer_rc);
  assert_int_equal(0, tt_stats(n).timers_pending);
  /* The subscriber stops: its subscription goes. The asker stops: its ask
   * is forgotten. */
  assert_tr_ok(tr_node_stop_actor(n, "sub"));
  assert_tr_ok(tr_node_stop_actor(n, "pub"));
  ASSERT_RUN_UNTIL(n, sub.deinits == 1 && pub.deinits == 1, TT_ITERS, TT_MS);
  s = tt_stats(n);
  assert_int_equal(0, s.subscriptions);
  assert_int_equal(0, s.asks_pending);
  tt_node_free(n);
}

/* ---- rejected send calls ------------------------------------------------ */

typedef struct {
  int rcs[5];
} reject_fixture;

static int rejecting_sender_on_msg(tr_ctx *ctx, tt_probe *p,
                                   const tr_envelope *env) {
  (void)env;
  reject_fixture *f = p->user;
  static const char big[65];
  f->rcs[0] = tr_send(ctx, "nobody", "x", 1);
  f->rcs[4] = tr_send(ctx, "tiny", "fill", 4); /* tiny: capacity 1 */
  f->rcs[1] = tr_send(ctx, "tiny", "x", 1);    /* now full */
  f->rcs[2] = tr_send(ctx, "tiny", big, sizeof(big));
  f->rcs[3] = tr_send(ctx, "", "x", 1);
  return 0;
}

static void failing_send_calls_count_rejected_dead_letters(void **st) {
  (void)st;
  tr_node_config cfg = tt_config();
  cfg.max_payload = 64;
  tr_node *n = tt_node_new(&cfg);
  tt_probe tiny = {0};
  assert_tr_ok(tt_spawn(n, "tiny", &tiny, 1));
  assert_tr_ok(tt_send_str(n, "tiny", "fill"));

  assert_tr(TR_ENOTFOUND, tt_send_str(n, "nobody", "x"));
  assert_tr(TR_EFULL, tt_send_str(n, "tiny", "x"));
  char big[65] = {0};
  assert_tr(TR_ETOOBIG, tr_node_send(n, "tiny", big, sizeof(big)));
  assert_tr(TR_EINVAL, tt_send_str(n, "", "x"));
  tr_node_stats s = tt_stats(n);
  assert_int_equal(1, s.dead[TR_DL_REJECTED_NO_ACTOR]);
  assert_int_equal(1, s.dead[TR_DL_REJECTED_FULL]);
  assert_int_equal(1, s.dead[TR_DL_REJECTED_TOOBIG]);
  assert_int_equal(1, s.sent); /* only the filler was queued */
  for (int r = 0; r < TR_DL_COUNT; r++)
    if (r != TR_DL_REJECTED_NO_ACTOR && r != TR_DL_REJECTED_FULL &&
        r != TR_DL_REJECTED_TOOBIG)
      assert_int_equal(0, s.dead[r]);

  /* The same from inside an actor. */
  ASSERT_RUN_UNTIL(n, tiny.received == 1, TT_ITERS, TT_MS);
  reject_fixture f;
  memset(&f, 0, sizeof(f));
  tt_probe sender = {.on_msg = rejecting_sender_on_msg, .user = &f};
  assert_tr_ok(tt_spawn(n, "sender", &sender, 0));
  assert_tr_ok(tt_send_str(n, "sender", "go"));
  tr_node_stats before = tt_stats(n);
  ASSERT_RUN_UNTIL(n, sender.received == 1, TT_ITERS, TT_MS);
  tr_node_stats after = tt_stats(n);
  assert_tr(TR_ENOTFOUND, f.rcs[0]);
  assert_tr_ok(f.rcs[4]);
  assert_tr(TR_EFULL, f.rcs[1]);
  assert_tr(TR_ETOOBIG, f.rcs[2]);
  assert_tr(TR_EINVAL, f.rcs[3]);
  for (int r = TR_DL_REJECTED_FULL; r <= TR_DL_REJECTED_TOOBIG; r++)
    assert_int_equal(before.dead[r] + 1, after.dead[r]);
  tt_node_free(n);
}

/* ---- tr_actor_info_get -------------------------------------------------- */

typedef struct {
  tt_probe parent, kid;
  int rc;
} info_fixture;

static int info_parent_init(tr_ctx *ctx, tt_probe *p) {
  info_fixture *f = p->user;
  return tt_spawn_child(ctx, "kid", &f->kid, 5);
}

static void actor_info_names_type_parent_children_and_capacity(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  info_fixture f = {0};
  f.parent = (tt_probe){.on_init = info_parent_init, .user = &f};
  assert_tr_ok(tt_spawn(n, "parent", &f.parent, 0));
  tr_actor_info info;
  memset(&info, 0xab, sizeof(info));
  assert_tr_ok(tr_actor_info_get(n, "parent", &info));
  assert_string_equal("probe", info.type);
  assert_null(info.parent);
  assert_int_equal(1, info.children);
  assert_int_equal(1024, info.capacity);
  assert_int_equal(0, info.queued);
  assert_int_equal(0, info.hwm);
  assert_int_equal(0, info.delivered);

  memset(&info, 0xab, sizeof(info));
  assert_tr_ok(tr_actor_info_get(n, "kid", &info));
  assert_string_equal("probe", info.type);
  assert_non_null(info.parent);
  assert_string_equal("parent", info.parent);
  assert_int_equal(0, info.children);
  assert_int_equal(5, info.capacity);

  assert_tr(TR_ENOTFOUND, tr_actor_info_get(n, "nobody", &info));
  tt_node_free(n);
}

/* An actor that, per message, sends one to "sink", publishes once and
 * spins ~20 us when told "slow". */
static int worker_msg(tr_ctx *ctx, tt_probe *p, const tr_envelope *env) {
  (void)p;
  if (env->type != TR_MSG_SEND || env->sender) return 0;
  if (env->len == 4 && memcmp(env->data, "slow", 4) == 0) {
    uint64_t t0 = tt_now_ns();
    while (tt_now_ns() - t0 < 20000) {
    }
  }
  tr_send(ctx, "sink", "x", 1);
  tr_publish(ctx, "p", 1);
  return 0;
}

static void count_actor(void *arg, const tr_actor_info *info) {
  int *seen = arg;
  if (strcmp(info->id, "worker") == 0) seen[0]++;
  if (strcmp(info->id, "sink") == 0) seen[1]++;
}

/* The inspector's figures: messages sent, time in receive (1 call in 64
 * timed), age; and tr_node_actors listing them. */
static void actor_info_sent_handler_time_age_and_list(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  tt_probe w = {.on_msg = worker_msg}, sink = {0};
  assert_tr_ok(tt_spawn(n, "worker", &w, 0));
  assert_tr_ok(tt_spawn(n, "sink", &sink, 0));
  assert_tr_ok(tt_send_str(n, "worker", "slow")); /* the first: timed */
  for (int k = 0; k < 199; k++) assert_tr_ok(tt_send_str(n, "worker", "go"));
  ASSERT_RUN_UNTIL_IDLE(n);
  tr_actor_info info;
  assert_tr_ok(tr_actor_info_get(n, "worker", &info));
  assert_string_equal(info.id, "worker");
  assert_int_equal(info.delivered, 200);
  assert_int_equal(info.sent, 400); /* 200 sends, 200 publishes */
  /* Calls 1, 65, 129, 193 were timed; the first spun >= 20 us. */
  assert_true(info.handler_max_ns >= 20000);
  assert_true(info.handler_mean_ns >= 20000 / 4);
  assert_true(info.handler_mean_ns <= info.handler_max_ns);
  assert_tr_ok(tr_actor_info_get(n, "sink", &info));
  assert_int_equal(info.sent, 0);
  assert_int_equal(info.delivered, 200);
  int seen[2] = {0, 0};
  assert_int_equal(tr_node_actors(n, count_actor, seen), 2);
  assert_int_equal(seen[0], 1);
  assert_int_equal(seen[1], 1);
  assert_int_equal(tr_node_actors(n, NULL, NULL), 2);
  assert_tr(TR_EINVAL, tr_node_actors(NULL, NULL, NULL));
  /* Age: the loop's clock moves on. */
  uint64_t t0 = tt_now_ms();
  while (tt_now_ms() - t0 < 30) tr_node_run_once(n);
  assert_tr_ok(tr_actor_info_get(n, "sink", &info));
  assert_true(info.age_ms >= 20);
  tt_node_free(n);
}

/* ---- the ring of recent dead letters (node/engine/dead_letters.c) ------- */

#define RING_SEEN_MAX 80

typedef struct ring_seen {
  char from[RING_SEEN_MAX][16], to[RING_SEEN_MAX][16];
  bool has_from[RING_SEEN_MAX];
  tr_dead_reason reason[RING_SEEN_MAX];
  uint32_t len[RING_SEEN_MAX];
  uint64_t at_ms[RING_SEEN_MAX];
  int n;
} ring_seen;

static void ring_take(void *arg, const tr_dead_letter *d) {
  ring_seen *s = arg;
  if (s->n == RING_SEEN_MAX) return;
  snprintf(s->to[s->n], sizeof(s->to[0]), "%s", d->to ? d->to : "-");
  s->has_from[s->n] = d->from != NULL;
  snprintf(s->from[s->n], sizeof(s->from[0]), "%s", d->from ? d->from : "-");
  s->reason[s->n] = d->reason;
  s->len[s->n] = d->len;
  s->at_ms[s->n] = d->at_ms;
  s->n++;
}

static void dead_letter_ring_is_empty_before_any_drop(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  ring_seen s = {0};
  assert_int_equal(eng_dead_letters_each(n, NULL, ring_take, &s), 0);
  assert_int_equal(s.n, 0);
  tt_node_free(n);
}

/* 100 sends to ids nobody holds: the ring keeps the newest 64, newest
 * first, with their target, size and reason (never the payload); the
 * oldest 36 were overwritten. */
static void dead_letter_ring_keeps_the_newest_first_and_wraps(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  char to[16], data[16] = "0123456789abcde";
  for (int i = 0; i < 100; i++) {
    snprintf(to, sizeof(to), "ghost%d", i);
    assert_tr(TR_ENOTFOUND, tr_node_send(n, to, data, (size_t)(i % 10)));
  }
  assert_int_equal(tt_stats(n).dead[TR_DL_REJECTED_NO_ACTOR], 100);
  ring_seen *s = calloc(1, sizeof(*s));
  assert_int_equal(eng_dead_letters_each(n, NULL, ring_take, s),
                   TR_DEAD_LETTERS_KEPT);
  assert_int_equal(s->n, TR_DEAD_LETTERS_KEPT);
  for (int k = 0; k < s->n; k++) {
    int i = 99 - k;
    snprintf(to, sizeof(to), "ghost%d", i);
    assert_string_equal(s->to[k], to);
    assert_false(s->has_from[k]); /* from outside actors */
    assert_int_equal(s->reason[k], TR_DL_REJECTED_NO_ACTOR);
    assert_int_equal(s->len[k], (uint32_t)(i % 10));
    if (k) assert_true(s->at_ms[k] <= s->at_ms[k - 1]);
  }
  /* One actor's: those to or from it; an overwritten one is gone. */
  memset(s, 0, sizeof(*s));
  assert_int_equal(eng_dead_letters_each(n, "ghost50", ring_take, s), 1);
  assert_string_equal(s->to[0], "ghost50");
  assert_int_equal(eng_dead_letters_each(n, "ghost10", NULL, NULL), 0);
  free(s);
  tt_node_free(n);
}

/* A full mailbox: the refused send is kept with its sender and target, and
 * listed for either actor. */
static int send_three(tr_ctx *ctx, tt_probe *p, const tr_envelope *env) {
  (void)p;
  if (!tt_is(env, "go")) return 0;
  for (int i = 0; i < 3; i++) tr_send(ctx, "small", "xyz", 3);
  return 0;
}

static void dead_letter_ring_names_sender_and_target(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  tt_probe small = {0}, sender = {.on_msg = send_three};
  assert_tr_ok(tt_spawn(n, "small", &small, 2));
  assert_tr_ok(tt_spawn(n, "sender", &sender, 0));
  assert_tr_ok(tt_send_str(n, "sender", "go"));
  ASSERT_RUN_UNTIL(n, small.received == 2, TT_ITERS, TT_MS);
  ring_seen s = {0};
  assert_int_equal(eng_dead_letters_each(n, "sender", ring_take, &s), 1);
  assert_string_equal(s.from[0], "sender");
  assert_string_equal(s.to[0], "small");
  assert_int_equal(s.reason[0], TR_DL_REJECTED_FULL);
  assert_int_equal(s.len[0], 3);
  uint64_t unix_now = (uint64_t)time(NULL) * 1000u;
  assert_true(s.at_ms[0] + 60000u > unix_now && s.at_ms[0] < unix_now + 60000u);
  assert_int_equal(eng_dead_letters_each(n, "small", NULL, NULL), 1);
  assert_int_equal(eng_dead_letters_each(n, "nobody", NULL, NULL), 0);
  tt_node_free(n);
}

/* A supervisor: "spawn ID" spawns a child probe (the test's `user` probe)
 * under id ID; a child's exit is answered by spawning it again while
 * `again` is set. */
typedef struct sup {
  tt_probe child;
  int again, exits;
} sup;

static int sup_msg(tr_ctx *ctx, tt_probe *p, const tr_envelope *env) {
  sup *s = p->user;
  if (env->type == TR_MSG_CHILD_EXIT) {
    s->exits++;
    if (s->again-- > 0) return tt_spawn_child(ctx, env->sender, &s->child, 0);
    return 0;
  }
  if (env->type == TR_MSG_SEND && env->len > 6 &&
      memcmp(env->data, "spawn ", 6) == 0) {
    char id[TR_ID_MAX + 1];
    snprintf(id, sizeof(id), "%.*s", (int)env->len - 6,
             (const char *)env->data + 6);
    return tt_spawn_child(ctx, id, &s->child, 0);
  }
  return 0;
}

static uint32_t restarts_of(tr_node *n, const char *id) {
  tr_actor_info info;
  assert_tr_ok(tr_actor_info_get(n, id, &info));
  return info.restarts;
}

/* A child its parent spawns again under its id counts a restart more each
 * time; one spawned by another parent, or without a parent, counts none;
 * the node remembers its last 256 children that ended. */
static void restarts_count_a_supervisors_respawns(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  sup s1 = {.child = {.on_msg = fail_on_boom}}, s2 = s1;
  tt_probe p1 = {.on_msg = sup_msg, .user = &s1};
  tt_probe p2 = {.on_msg = sup_msg, .user = &s2};
  assert_tr_ok(tt_spawn(n, "sup1", &p1, 0));
  assert_tr_ok(tt_spawn(n, "sup2", &p2, 0));
  assert_tr_ok(tt_send_str(n, "sup1", "spawn w"));
  ASSERT_RUN_UNTIL(n, s1.child.inits == 1, TT_ITERS, TT_MS);
  assert_int_equal(0, restarts_of(n, "w"));
  assert_int_equal(0, restarts_of(n, "sup1"));
  s1.again = 2;
  for (int k = 1; k <= 2; k++) { /* fails, restarted: 1, then 2 */
    assert_tr_ok(tt_send_str(n, "w", "boom"));
    ASSERT_RUN_UNTIL(n, s1.child.inits == k + 1, TT_ITERS, TT_MS);
    assert_int_equal((uint32_t)k, restarts_of(n, "w"));
  }
  /* Stopped from outside, not spawned again by sup1: sup2 takes the id,
   * and its w is a first start. */
  assert_tr_ok(tr_node_stop_actor(n, "w"));
  ASSERT_RUN_UNTIL(n, s1.exits == 3, TT_ITERS, TT_MS);
  assert_tr_ok(tt_send_str(n, "sup2", "spawn w"));
  ASSERT_RUN_UNTIL(n, s2.child.inits == 1, TT_ITERS, TT_MS);
  assert_int_equal(0, restarts_of(n, "w"));
  /* A root actor stopped and spawned again: no parent, no restart. */
  tt_probe r = {0};
  assert_tr_ok(tt_spawn(n, "root", &r, 0));
  assert_tr_ok(tr_node_stop_actor(n, "root"));
  ASSERT_RUN_UNTIL(n, r.deinits == 1, TT_ITERS, TT_MS);
  assert_tr_ok(tt_spawn(n, "root", &r, 0));
  assert_int_equal(0, restarts_of(n, "root"));

  /* Forgotten after 256 other children ended: sup1's "old" ends, then 256
   * others end, then sup1 spawns "old" again: a first start. */
  assert_tr_ok(tt_send_str(n, "sup1", "spawn old"));
  ASSERT_RUN_UNTIL(n, s1.child.inits == 4, TT_ITERS, TT_MS);
  assert_tr_ok(tr_node_stop_actor(n, "old"));
  ASSERT_RUN_UNTIL(n, s1.exits == 4, TT_ITERS, TT_MS);
  for (int k = 0; k < 256; k++) {
    char msg[32], id[16];
    snprintf(id, sizeof(id), "c%d", k);
    snprintf(msg, sizeof(msg), "spawn %s", id);
    assert_tr_ok(tt_send_str(n, "sup2", msg));
    ASSERT_RUN_UNTIL(n, s2.child.inits == k + 2, TT_ITERS, TT_MS);
    assert_tr_ok(tr_node_stop_actor(n, id));
    ASSERT_RUN_UNTIL(n, s2.exits == k + 1, TT_ITERS, TT_MS);
  }
  assert_tr_ok(tt_send_str(n, "sup1", "spawn old"));
  ASSERT_RUN_UNTIL(n, s1.child.inits == 5, TT_ITERS, TT_MS);
  assert_int_equal(0, restarts_of(n, "old"));
  tt_node_free(n);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(a_new_node_has_all_counters_at_zero),
      cmocka_unit_test(actor_counters_follow_spawns_stops_and_failures),
      cmocka_unit_test(sent_delivered_and_mailbox_high_water_marks),
      cmocka_unit_test(
          published_counts_publish_calls_with_or_without_subscribers),
      cmocka_unit_test(live_asks_timers_and_subscriptions_are_counted),
      cmocka_unit_test(failing_send_calls_count_rejected_dead_letters),
      cmocka_unit_test(actor_info_names_type_parent_children_and_capacity),
      cmocka_unit_test(actor_info_sent_handler_time_age_and_list),
      cmocka_unit_test(dead_letter_ring_is_empty_before_any_drop),
      cmocka_unit_test(dead_letter_ring_keeps_the_newest_first_and_wraps),
      cmocka_unit_test(dead_letter_ring_names_sender_and_target),
      cmocka_unit_test(restarts_count_a_supervisors_respawns),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
