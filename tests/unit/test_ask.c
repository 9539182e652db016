/* test_ask.c — node/engine/ask.c: every successful tr_ask is followed by
 * exactly one TR_MSG_REPLY with its ask id (the answer, TR_ETIMEDOUT, or
 * TR_ENOTFOUND when the target stopped first); a failed ask sends nothing
 * and gets no reply; late and double replies are refused and counted. */
#include "tr_test.h"

enum target_mode {
  ANSWER,       /* tr_reply "answer:<question>" */
  IGNORE,       /* never answer */
  SAVE,         /* keep sender and ask id; answer on "reply-now" */
  ANSWER_TWICE, /* tr_reply twice to the same ask */
};

typedef struct {
  tt_probe asker, target;
  enum target_mode mode;
  const char *to;
  uint32_t timeout_ms;
  const void *question;
  size_t question_len;
  bool null_id;

  int ask_rc, reply_rc, reply_rc2, stop_rc, fill_rc, nonask_rc;
  uint64_t ask_id;
  char saved_sender[TR_ID_MAX + 1];
  uint64_t saved_ask_id;
} ask_fixture;

static int asker_on_msg(tr_ctx *ctx, tt_probe *p, const tr_envelope *env) {
  ask_fixture *f = p->user;
  if (env->type == TR_MSG_REPLY) {
    /* A reply is not an ask: it cannot be answered. */
    f->nonask_rc = tr_reply(ctx, env, "x", 1);
    return 0;
  }
  if (!tt_is(env, "go") && !tt_is(env, "stop-target-then-ask") &&
      !tt_is(env, "ask-then-stop") && !tt_is(env, "ask-then-fill") &&
      !tt_is(env, "fill-then-ask") && !tt_is(env, "boom-then-ask"))
    return 0;
  /* Both land in the target's mailbox before the target runs again. */
  if (tt_is(env, "fill-then-ask"))
    f->fill_rc = tr_send(ctx, f->to, "filler", 6);
  if (tt_is(env, "boom-then-ask"))
    f->fill_rc = tr_send(ctx, f->to, "boom", 4);
  if (tt_is(env, "stop-target-then-ask")) f->stop_rc = tr_stop_actor(ctx, f->to);
  f->ask_rc = tr_ask(ctx, f->to, f->question, f->question_len, f->timeout_ms,
                     f->null_id ? NULL : &f->ask_id);
  if (tt_is(env, "ask-then-stop")) tr_stop(ctx);
  if (tt_is(env, "ask-then-fill"))
    f->fill_rc = tr_send(ctx, tr_self(ctx), "filler", 6);
  return 0;
}

static int target_on_msg(tr_ctx *ctx, tt_probe *p, const tr_envelope *env) {
  ask_fixture *f = p->user;
  if (env->type == TR_MSG_SEND) {
    if (tt_is(env, "reply-now")) {
      /* A deferred answer: the ask's fields, kept from when it came. */
      tr_envelope ask = {.type = TR_MSG_ASK,
                         .sender = f->saved_sender,
                         .ask_id = f->saved_ask_id,
                         .node = tr_node_name(tr_node_of(ctx))};
      f->reply_rc = tr_reply(ctx, &ask, "late", 4);
    } else {
      f->nonask_rc = tr_reply(ctx, env, "x", 1);
    }
    return 0;
  }
  if (env->type != TR_MSG_ASK) return 0;
  char answer[300];
  int len = snprintf(answer, sizeof(answer), "answer:%.*s", (int)env->len,
                     (const char *)env->data);
  switch (f->mode) {
  case ANSWER:
    f->reply_rc = tr_reply(ctx, env, answer, (size_t)len);
    break;
  case ANSWER_TWICE:
    f->reply_rc = tr_reply(ctx, env, answer, (size_t)len);
    f->reply_rc2 = tr_reply(ctx, env, "again", 5);
    break;
  case SAVE:
    snprintf(f->saved_sender, sizeof(f->saved_sender), "%s", env->sender);
    f->saved_ask_id = env->ask_id;
    break;
  case IGNORE:
    break;
  }
  return 0;
}

static ask_fixture *fixture_new(tr_node *n, enum target_mode mode,
                                uint32_t timeout_ms) {
  ask_fixture *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  f->mode = mode;
  f->to = "target";
  f->timeout_ms = timeout_ms;
  f->question = "question";
  f->question_len = 8;
  f->ask_rc = f->reply_rc = f->reply_rc2 = f->stop_rc = f->fill_rc =
      f->nonask_rc = -1000;
  f->asker = (tt_probe){.on_msg = asker_on_msg, .user = f};
  f->target = (tt_probe){.on_msg = target_on_msg, .user = f};
  assert_tr_ok(tt_spawn(n, "target", &f->target, 0));
  assert_tr_ok(tt_spawn(n, "asker", &f->asker, 0));
  return f;
}

static long replies(const ask_fixture *f) {
  return f->asker.by_type[TR_MSG_REPLY];
}

/* The first reply the asker recorded. */
static const tt_rec *first_reply(const ask_fixture *f) {
  for (long i = 0; i < f->asker.received && i < TT_REC_MAX; i++)
    if (f->asker.rec[i].type == TR_MSG_REPLY) return &f->asker.rec[i];
  fail_msg("no reply recorded");
  return NULL;
}

/* ---- answers ------------------------------------------------------------ */

static void ask_gets_one_reply_with_its_id_status_zero_and_the_answer(
    void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  ask_fixture *f = fixture_new(n, ANSWER, 5000);
  assert_tr_ok(tt_send_str(n, "asker", "go"));
  ASSERT_RUN_UNTIL(n, replies(f) == 1, TT_ITERS, TT_MS);
  assert_tr_ok(f->ask_rc);
  assert_tr_ok(f->reply_rc);
  assert_true(f->ask_id != 0);

  /* What the target saw. */
  assert_int_equal(1, f->target.by_type[TR_MSG_ASK]);
  const tt_rec *a = &f->target.rec[0];
  assert_int_equal(TR_MSG_ASK, a->type);
  assert_string_equal("asker", a->sender);
  assert_int_equal(f->ask_id, a->ask_id);
  assert_int_equal(8, a->len);
  assert_memory_equal("question", a->data, 8);

  /* What the asker got. */
  const tt_rec *r = first_reply(f);
  assert_int_equal(f->ask_id, r->ask_id);
  assert_tr_ok(r->status);
  assert_string_equal("target", r->sender);
  assert_int_equal(15, r->len);
  assert_memory_equal("answer:question", r->data, 15);

  ASSERT_RUN_UNTIL_IDLE(n);
  assert_int_equal(1, replies(f));
  assert_int_equal(0, tt_stats(n).asks_pending);
  tt_node_free(n);
  free(f);
}

static void ask_id_may_be_null_and_ids_differ_per_ask(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  ask_fixture *f = fixture_new(n, ANSWER, 5000);
  assert_tr_ok(tt_send_str(n, "asker", "go"));
  ASSERT_RUN_UNTIL(n, replies(f) == 1, TT_ITERS, TT_MS);
  uint64_t first = f->ask_id;
  f->null_id = true;
  assert_tr_ok(tt_send_str(n, "asker", "go"));
  ASSERT_RUN_UNTIL(n, replies(f) == 2, TT_ITERS, TT_MS);
  assert_tr_ok(f->ask_rc);
  assert_int_equal(first, f->ask_id); /* untouched */
  uint64_t second = f->asker.rec[3].ask_id;
  assert_int_equal(TR_MSG_REPLY, f->asker.rec[3].type);
  assert_true(second != 0);
  assert_true(second != first);
  tt_node_free(n);
  free(f);
}

static void reply_on_an_envelope_that_is_not_an_ask_returns_einval(
    void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  ask_fixture *f = fixture_new(n, ANSWER, 5000);
  /* A plain send to the target: tr_reply on it. */
  assert_tr_ok(tt_send_str(n, "target", "plain"));
  ASSERT_RUN_UNTIL(n, f->target.received == 1, TT_ITERS, TT_MS);
  assert_tr(TR_EINVAL, f->nonask_rc);
  /* A reply envelope: tr_reply on it. */
  f->nonask_rc = -1000;
  assert_tr_ok(tt_send_str(n, "asker", "go"));
  ASSERT_RUN_UNTIL(n, replies(f) == 1, TT_ITERS, TT_MS);
  assert_tr(TR_EINVAL, f->nonask_rc);
  ASSERT_RUN_UNTIL_IDLE(n);
  assert_int_equal(1, f->target.by_type[TR_MSG_ASK]);
  assert_int_equal(0, f->target.by_type[TR_MSG_REPLY]);
  tt_node_free(n);
  free(f);
}

/* ---- timeouts and late replies ------------------------------------------ */

static void unanswered_ask_gets_exactly_one_etimedout_reply(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  ask_fixture *f = fixture_new(n, IGNORE, 20);
  assert_tr_ok(tt_send_str(n, "asker", "go"));
  ASSERT_RUN_UNTIL(n, replies(f) == 1, TT_ITERS, TT_MS);
  assert_tr_ok(f->ask_rc);
  const tt_rec *r = first_reply(f);
  assert_tr(TR_ETIMEDOUT, r->status);
  assert_int_equal(f->ask_id, r->ask_id);
  assert_string_equal("target", r->sender);
  assert_int_equal(1, f->target.by_type[TR_MSG_ASK]);
  /* Drive the loop on: no second reply, nothing left pending. */
  ASSERT_RUN_UNTIL_IDLE(n);
  for (int i = 0; i < 10; i++) assert_int_equal(0, tr_node_run_once(n));
  assert_int_equal(1, replies(f));
  assert_int_equal(0, tt_stats(n).asks_pending);
  tt_node_free(n);
  free(f);
}

static void ask_with_timeout_zero_uses_the_node_default(void **st) {
  (void)st;
  tr_node_config cfg = tt_config();
  cfg.ask_timeout_ms = 25;
  tr_node *n = tt_node_new(&cfg);
  ask_fixture *f = fixture_new(n, IGNORE, 0);
  uint64_t start = tt_now_ms();
  assert_tr_ok(tt_send_str(n, "asker", "go"));
  /* Well before the 5 s built-in default. */
  ASSERT_RUN_UNTIL(n, replies(f) == 1, TT_ITERS, 3000);
  assert_tr(TR_ETIMEDOUT, first_reply(f)->status);
  assert_true(tt_now_ms() - start >= 24);
  tt_node_free(n);
  free(f);
}

static void late_reply_after_timeout_returns_etimedout_and_is_counted(
    void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  ask_fixture *f = fixture_new(n, SAVE, 10);
  assert_tr_ok(tt_send_str(n, "asker", "go"));
  ASSERT_RUN_UNTIL(n, replies(f) == 1, TT_ITERS, TT_MS);
  assert_tr(TR_ETIMEDOUT, first_reply(f)->status);
  assert_int_equal(f->ask_id, f->saved_ask_id);

  uint64_t late = tt_stats(n).dead[TR_DL_LATE_REPLY];
  assert_tr_ok(tt_send_str(n, "target", "reply-now"));
  ASSERT_RUN_UNTIL(n, f->reply_rc != -1000, TT_ITERS, TT_MS);
  assert_tr(TR_ETIMEDOUT, f->reply_rc);
  assert_int_equal(late + 1, tt_stats(n).dead[TR_DL_LATE_REPLY]);
  ASSERT_RUN_UNTIL_IDLE(n);
  assert_int_equal(1, replies(f)); /* the late answer was discarded */
  tt_node_free(n);
  free(f);
}

static void second_reply_to_one_ask_returns_etimedout_and_is_counted(
    void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  ask_fixture *f = fixture_new(n, ANSWER_TWICE, 5000);
  assert_tr_ok(tt_send_str(n, "asker", "go"));
  ASSERT_RUN_UNTIL(n, replies(f) == 1, TT_ITERS, TT_MS);
  assert_tr_ok(f->reply_rc);
  assert_tr(TR_ETIMEDOUT, f->reply_rc2);
  assert_int_equal(1, tt_stats(n).dead[TR_DL_LATE_REPLY]);
  ASSERT_RUN_UNTIL_IDLE(n);
  assert_int_equal(1, replies(f));
  assert_tr_ok(first_reply(f)->status);
  assert_memory_equal("answer:question", first_reply(f)->data, 15);
  tt_node_free(n);
  free(f);
}

/* ---- failures ----------------------------------------------------------- */

static void ask_to_an_unknown_target_returns_enotfound_and_never_replies(
    void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  ask_fixture *f = fixture_new(n, ANSWER, 20);
  f->to = "nobody";
  assert_tr_ok(tt_send_str(n, "asker", "go"));
  ASSERT_RUN_UNTIL(n, f->asker.received == 1, TT_ITERS, TT_MS);
  assert_tr(TR_ENOTFOUND, f->ask_rc);
  /* Not even a timeout reply: nothing is pending, the node goes idle. */
  ASSERT_RUN_UNTIL_IDLE(n);
  assert_int_equal(0, replies(f));
  assert_int_equal(0, tt_stats(n).asks_pending);
  tt_node_free(n);
  free(f);
}

static void failed_asks_send_nothing_and_get_no_reply(void **st) {
  (void)st;
  tr_node_config cfg = tt_config();
  cfg.max_payload = 32;
  tr_node *n = tt_node_new(&cfg);
  ask_fixture *f = fixture_new(n, ANSWER, 20);
  static const char big[33];
  f->question = big;
  f->question_len = sizeof(big);
  assert_tr_ok(tt_send_str(n, "asker", "go"));
  ASSERT_RUN_UNTIL(n, f->asker.received == 1, TT_ITERS, TT_MS);
  assert_tr(TR_ETOOBIG, f->ask_rc);

  f->question = NULL; /* with a length */
  f->question_len = 4;
  assert_tr_ok(tt_send_str(n, "asker", "go"));
  ASSERT_RUN_UNTIL(n, f->asker.received == 2, TT_ITERS, TT_MS);
  assert_tr(TR_EINVAL, f->ask_rc);

  f->question = "q";
  f->question_len = 1;
  f->to = "";
  assert_tr_ok(tt_send_str(n, "asker", "go"));
  ASSERT_RUN_UNTIL(n, f->asker.received == 3, TT_ITERS, TT_MS);
  assert_tr(TR_EINVAL, f->ask_rc);

  /* A full target: TR_EFULL, nothing queued. */
  tt_probe tiny = {0};
  assert_tr_ok(tt_spawn(n, "tiny", &tiny, 1));
  f->to = "tiny";
  assert_tr_ok(tt_send_str(n, "asker", "fill-then-ask"));
  ASSERT_RUN_UNTIL(n, f->asker.received == 4, TT_ITERS, TT_MS);
  assert_tr_ok(f->fill_rc);
  assert_tr(TR_EFULL, f->ask_rc);

  ASSERT_RUN_UNTIL_IDLE(n);
  assert_int_equal(0, replies(f));
  assert_int_equal(0, f->target.received);
  assert_int_equal(1, tiny.received);
  assert_int_equal(0, tiny.by_type[TR_MSG_ASK]);
  assert_int_equal(0, tt_stats(n).asks_pending);
  tt_node_free(n);
  free(f);
}

static void ask_to_an_actor_that_stops_before_handling_it_gets_enotfound(
    void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  /* A long timeout: the reply must come from the stop, not the timer. */
  ask_fixture *f = fixture_new(n, ANSWER, 60000);
  assert_tr_ok(tt_send_str(n, "asker", "stop-target-then-ask"));
  ASSERT_RUN_UNTIL(n, replies(f) == 1, TT_ITERS, 3000);
  assert_tr_ok(f->stop_rc);
  assert_tr_ok(f->ask_rc);
  const tt_rec *r = first_reply(f);
  assert_tr(TR_ENOTFOUND, r->status);
  assert_int_equal(f->ask_id, r->ask_id);
  assert_string_equal("target", r->sender);
  assert_int_equal(0, f->target.by_type[TR_MSG_ASK]);
  assert_int_equal(1, f->target.deinits);
  ASSERT_RUN_UNTIL_IDLE(n);
  assert_int_equal(1, replies(f));
  assert_int_equal(0, tt_stats(n).asks_pending);
  tt_node_free(n);
  free(f);
}

/* The target fails on an earlier message; the ask behind it is answered. */
static int fail_on_boom(tr_ctx *ctx, tt_probe *p, const tr_envelope *env) {
  (void)ctx;
  (void)p;
  return tt_is(env, "boom") ? 9 : 0;
}

static void ask_queued_behind_a_failure_gets_enotfound(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  ask_fixture *f = fixture_new(n, ANSWER, 60000);
  tt_probe fragile = {.on_msg = fail_on_boom};
  assert_tr_ok(tt_spawn(n, "fragile", &fragile, 0));
  f->to = "fragile";
  assert_tr_ok(tt_send_str(n, "asker", "boom-then-ask"));
  ASSERT_RUN_UNTIL(n, replies(f) == 1, TT_ITERS, 3000);
  assert_tr_ok(f->fill_rc);
  assert_tr_ok(f->ask_rc);
  assert_int_equal(1, fragile.received); /* only "boom" */
  assert_tr(TR_ENOTFOUND, first_reply(f)->status);
  assert_int_equal(f->ask_id, first_reply(f)->ask_id);
  tt_node_free(n);
  free(f);
}

/* The asker stops before the answer: the ask is no longer pending, so the
 * answer is a late reply (TR_ETIMEDOUT, counted), and nobody gets it. */
static void reply_to_an_asker_that_stopped_is_a_late_reply(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  ask_fixture *f = fixture_new(n, ANSWER, 5000);
  assert_tr_ok(tt_send_str(n, "asker", "ask-then-stop"));
  ASSERT_RUN_UNTIL(n, f->reply_rc != -1000, TT_ITERS, TT_MS);
  assert_tr_ok(f->ask_rc);
  assert_int_equal(1, f->asker.deinits);
  assert_tr(TR_ETIMEDOUT, f->reply_rc);
  ASSERT_RUN_UNTIL_IDLE(n);
  assert_int_equal(0, replies(f));
  tr_node_stats s = tt_stats(n);
  assert_int_equal(0, s.asks_pending);
  assert_int_equal(1, s.dead[TR_DL_LATE_REPLY]);
  tt_node_free(n);
  free(f);
}

/* The target took the ask out of its mailbox, did not answer, and stopped:
 * the asker hears TR_ENOTFOUND at once, not after its timeout. */
static void ask_taken_but_unanswered_gets_enotfound_when_the_target_stops(
    void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  ask_fixture *f = fixture_new(n, IGNORE, 60000);
  assert_tr_ok(tt_send_str(n, "asker", "go"));
  ASSERT_RUN_UNTIL(n, f->target.by_type[TR_MSG_ASK] == 1, TT_ITERS, TT_MS);
  assert_int_equal(1, tt_stats(n).asks_pending);
  assert_tr_ok(tr_node_stop_actor(n, "target"));
  ASSERT_RUN_UNTIL(n, replies(f) == 1, TT_ITERS, 3000);
  const tt_rec *r = first_reply(f);
  assert_tr(TR_ENOTFOUND, r->status);
  assert_int_equal(f->ask_id, r->ask_id);
  assert_string_equal("target", r->sender);
  ASSERT_RUN_UNTIL_IDLE(n);
  assert_int_equal(1, replies(f));
  assert_int_equal(0, tt_stats(n).asks_pending);
  tt_node_free(n);
  free(f);
}

/* The asker's own mailbox is full when the answer comes: it still arrives. */
static void reply_reaches_an_asker_whose_mailbox_is_full(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  ask_fixture *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  f->mode = ANSWER;
  f->to = "target";
  f->timeout_ms = 5000;
  f->question = "question";
  f->question_len = 8;
  f->reply_rc = f->ask_rc = f->fill_rc = -1000;
  f->asker = (tt_probe){.on_msg = asker_on_msg, .user = f};
  f->target = (tt_probe){.on_msg = target_on_msg, .user = f};
  assert_tr_ok(tt_spawn(n, "target", &f->target, 0));
  assert_tr_ok(tt_spawn(n, "asker", &f->asker, 1));
  assert_tr_ok(tt_send_str(n, "asker", "ask-then-fill"));
  ASSERT_RUN_UNTIL(n, replies(f) == 1, TT_ITERS, TT_MS);
  assert_tr_ok(f->ask_rc);
  assert_tr_ok(f->fill_rc);
  assert_tr_ok(f->reply_rc);
  assert_tr_ok(first_reply(f)->status);
  tt_node_free(n);
  free(f);
}


/* An actor may ask itself: the ask and the answer each wait for a turn. */
static int self_ask_on_msg(tr_ctx *ctx, tt_probe *p, const tr_envelope *env) {
  int *rc = p->user;
  if (tt_is(env, "go")) rc[0] = tr_ask(ctx, tr_self(ctx), "me?", 3, 5000, NULL);
  if (env->type == TR_MSG_ASK) rc[1] = tr_reply(ctx, env, "you", 3);
  return 0;
}

static void ask_to_self_is_answered_on_a_later_turn(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  int rc[2] = {-1000, -1000};
  tt_probe p = {.on_msg = self_ask_on_msg, .user = rc};
  assert_tr_ok(tt_spawn(n, "narcissus", &p, 0));
  assert_tr_ok(tt_send_str(n, "narcissus", "go"));
  ASSERT_RUN_UNTIL(n, p.by_type[TR_MSG_REPLY] == 1, TT_ITERS, TT_MS);
  assert_tr_ok(rc[0]);
  assert_tr_ok(rc[1]);
  assert_int_equal(TR_MSG_ASK, p.rec[1].type);
  assert_int_equal(TR_MSG_REPLY, p.rec[2].type);
  assert_int_equal(p.rec[1].ask_id, p.rec[2].ask_id);
  assert_string_equal("narcissus", p.rec[2].sender);
  assert_memory_equal("you", p.rec[2].data, 3);
  ASSERT_RUN_UNTIL_IDLE(n);
  assert_int_equal(3, p.received);
  tt_node_free(n);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(
          ask_gets_one_reply_with_its_id_status_zero_and_the_answer),
      cmocka_unit_test(ask_id_may_be_null_and_ids_differ_per_ask),
      cmocka_unit_test(reply_on_an_envelope_that_is_not_an_ask_returns_einval),
      cmocka_unit_test(unanswered_ask_gets_exactly_one_etimedout_reply),
      cmocka_unit_test(ask_with_timeout_zero_uses_the_node_default),
      cmocka_unit_test(
          late_reply_after_timeout_returns_etimedout_and_is_counted),
      cmocka_unit_test(
          second_reply_to_one_ask_returns_etimedout_and_is_counted),
      cmocka_unit_test(
          ask_to_an_unknown_target_returns_enotfound_and_never_replies),
      cmocka_unit_test(failed_asks_send_nothing_and_get_no_reply),
      cmocka_unit_test(
          ask_to_an_actor_that_stops_before_handling_it_gets_enotfound),
      cmocka_unit_test(ask_queued_behind_a_failure_gets_enotfound),
      cmocka_unit_test(reply_to_an_asker_that_stopped_is_a_late_reply),
      cmocka_unit_test(
          ask_taken_but_unanswered_gets_enotfound_when_the_target_stops),
      cmocka_unit_test(reply_reaches_an_asker_whose_mailbox_is_full),
      cmocka_unit_test(ask_to_self_is_answered_on_a_later_turn),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
