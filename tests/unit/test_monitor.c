/* test_monitor.c — node/engine/monitor.c: TR_MSG_DOWN with sender = target
 * and status = reason when a monitored actor stops or fails, at once
 * (through the mailbox) for an unknown target, none after tr_demonitor,
 * and nothing for (or leaked by) a watcher that stops first.
 *
 * Watchers obey "mon:<id>", "demon:<id>", "stop" and "fail:<n>" and keep
 * the last call's result, and how many DOWNs they had when it returned. */
#include "tr_test.h"

typedef struct {
  tt_probe p;
  int rc;
  long downs_when_call_returned;
} watcher;

static int watcher_on_msg(tr_ctx *ctx, tt_probe *p, const tr_envelope *env) {
  watcher *w = p->user;
  if (env->type != TR_MSG_SEND) return 0;
  char buf[300];
  if (env->len >= sizeof(buf)) return 0;
  memcpy(buf, env->data, env->len);
  buf[env->len] = '\0';
  if (strncmp(buf, "mon:", 4) == 0)
    w->rc = tr_monitor(ctx, buf + 4);
  else if (strncmp(buf, "demon:", 6) == 0)
    w->rc = tr_demonitor(ctx, buf + 6);
  else if (strcmp(buf, "stop") == 0)
    w->rc = tr_stop(ctx);
  else if (strncmp(buf, "fail:", 5) == 0)
    return atoi(buf + 5);
  w->downs_when_call_returned = p->by_type[TR_MSG_DOWN];
  return 0;
}

static void watcher_spawn(tr_node *n, const char *id, watcher *w) {
  *w = (watcher){.p = {.on_msg = watcher_on_msg}, .rc = -1000};
  w->p.user = w;
  assert_tr_ok(tt_spawn(n, id, &w->p, 0));
}

/* Sends a command and runs until it has been handled; returns rc. */
static int command(tr_node *n, const char *id, watcher *w, const char *text) {
  long before = w->p.received;
  w->rc = -1000;
  assert_tr_ok(tt_send_str(n, id, text));
  ASSERT_RUN_UNTIL(n, w->p.received > before, TT_ITERS, TT_MS);
  return w->rc;
}

static long downs(const watcher *w) { return w->p.by_type[TR_MSG_DOWN]; }

static const tt_rec *last_down(const watcher *w) {
  for (long i = w->p.received - 1; i >= 0; i--)
    if (i < TT_REC_MAX && w->p.rec[i].type == TR_MSG_DOWN) return &w->p.rec[i];
  fail_msg("no TR_MSG_DOWN recorded");
  return NULL;
}

/* ---- DOWN on stop and failure ------------------------------------------- */

static void monitor_of_a_live_actor_gets_down_when_it_stops(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  watcher w, t;
  watcher_spawn(n, "watcher", &w);
  watcher_spawn(n, "target", &t);
  assert_tr_ok(command(n, "watcher", &w, "mon:target"));
  ASSERT_RUN_UNTIL_IDLE(n);
  assert_int_equal(0, downs(&w));

  assert_tr_ok(tr_node_stop_actor(n, "target"));
  ASSERT_RUN_UNTIL(n, downs(&w) == 1, TT_ITERS, TT_MS);
  const tt_rec *r = last_down(&w);
  assert_true(r->has_sender);
  assert_string_equal("target", r->sender);
  assert_int_equal(0, r->status);
  ASSERT_RUN_UNTIL_IDLE(n);
  assert_int_equal(1, downs(&w));
  tt_node_free(n);
}

static void monitor_of_a_failing_actor_gets_its_failure_as_status(
    void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  watcher w1, w2, t;
  watcher_spawn(n, "w1", &w1);
  watcher_spawn(n, "w2", &w2);
  watcher_spawn(n, "target", &t);
  assert_tr_ok(command(n, "w1", &w1, "mon:target"));
  assert_tr_ok(command(n, "w2", &w2, "mon:target"));
  assert_tr_ok(tt_send_str(n, "target", "fail:17"));
  ASSERT_RUN_UNTIL(n, downs(&w1) == 1 && downs(&w2) == 1, TT_ITERS, TT_MS);
  assert_int_equal(17, last_down(&w1)->status);
  assert_int_equal(17, last_down(&w2)->status);
  assert_string_equal("target", last_down(&w1)->sender);
  assert_string_equal("target", last_down(&w2)->sender);
  tt_node_free(n);
}

static void each_monitor_call_gives_its_own_down(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  watcher w, t;
  watcher_spawn(n, "watcher", &w);
  watcher_spawn(n, "target", &t);
  assert_tr_ok(command(n, "watcher", &w, "mon:target"));
  assert_tr_ok(command(n, "watcher", &w, "mon:target"));
  assert_tr_ok(command(n, "target", &t, "stop"));
  ASSERT_RUN_UNTIL_IDLE(n);
  assert_int_equal(2, downs(&w));
  tt_node_free(n);
}

/* ---- unknown targets ---------------------------------------------------- */

static void monitor_of_an_unknown_actor_gets_enotfound_down_via_the_mailbox(
    void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  watcher w;
  watcher_spawn(n, "watcher", &w);
  assert_tr_ok(command(n, "watcher", &w, "mon:ghost"));
  /* Not delivered inside tr_monitor: the callback saw no DOWN yet. */
  assert_int_equal(0, w.downs_when_call_returned);
  ASSERT_RUN_UNTIL(n, downs(&w) == 1, TT_ITERS, TT_MS);
  const tt_rec *r = last_down(&w);
  assert_tr(TR_ENOTFOUND, r->status);
  assert_true(r->has_sender);
  assert_string_equal("ghost", r->sender);
  ASSERT_RUN_UNTIL_IDLE(n);
  assert_int_equal(1, downs(&w));
  /* Nothing is left watching "ghost": a later actor of that name stopping
   * sends nothing. */
  watcher g;
  watcher_spawn(n, "ghost", &g);
  assert_tr_ok(command(n, "ghost", &g, "stop"));
  ASSERT_RUN_UNTIL_IDLE(n);
  assert_int_equal(1, downs(&w));
  tt_node_free(n);
}

static void monitor_of_a_bad_id_returns_einval(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  watcher w;
  watcher_spawn(n, "watcher", &w);
  assert_tr(TR_EINVAL, command(n, "watcher", &w, "mon:"));
  assert_tr(TR_EINVAL, command(n, "watcher", &w, "demon:"));
  ASSERT_RUN_UNTIL_IDLE(n);
  assert_int_equal(0, downs(&w));
  tt_node_free(n);
}

/* ---- demonitor ---------------------------------------------------------- */

static void demonitor_means_no_down(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  watcher w, t;
  watcher_spawn(n, "watcher", &w);
  watcher_spawn(n, "target", &t);
  assert_tr(TR_ENOTFOUND, command(n, "watcher", &w, "demon:target"));
  assert_tr_ok(command(n, "watcher", &w, "mon:target"));
  assert_tr_ok(command(n, "watcher", &w, "mon:target"));
  assert_tr_ok(command(n, "watcher", &w, "demon:target")); /* removes both */
  assert_tr(TR_ENOTFOUND, command(n, "watcher", &w, "demon:target"));
  assert_tr_ok(command(n, "target", &t, "stop"));
  ASSERT_RUN_UNTIL_IDLE(n);
  assert_int_equal(1, t.p.deinits);
  assert_int_equal(0, downs(&w));
  tt_node_free(n);
}

/* ---- watcher first ------------------------------------------------------ */

static void watcher_that_stops_first_gets_nothing_and_leaks_nothing(
    void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  watcher w, other, t;
  watcher_spawn(n, "watcher", &w);
  watcher_spawn(n, "other", &other);
  watcher_spawn(n, "target", &t);
  assert_tr_ok(command(n, "watcher", &w, "mon:target"));
  assert_tr_ok(command(n, "other", &other, "mon:target"));
  assert_tr_ok(command(n, "target", &t, "mon:watcher")); /* both ways */
  assert_tr_ok(command(n, "watcher", &w, "stop"));
  ASSERT_RUN_UNTIL(n, w.p.deinits == 1, TT_ITERS, TT_MS);
  /* The target watched the watcher: it hears of it. */
  ASSERT_RUN_UNTIL(n, downs(&t) == 1, TT_ITERS, TT_MS);
  assert_string_equal("watcher", last_down(&t)->sender);

  assert_tr_ok(command(n, "target", &t, "stop"));
  ASSERT_RUN_UNTIL(n, downs(&other) == 1, TT_ITERS, TT_MS);
  ASSERT_RUN_UNTIL_IDLE(n);
  assert_int_equal(0, downs(&w)); /* gone before the target */
  tr_node_stats s = tt_stats(n);
  assert_int_equal(0, s.dead[TR_DL_STOPPED]);
  tt_node_free(n);
}

/* A watcher is stopped by tr_node_free while holding monitors: ASan checks
 * that the records go with it. */
static void node_free_with_live_monitors_leaks_nothing(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  watcher w, t;
  watcher_spawn(n, "watcher", &w);
  watcher_spawn(n, "target", &t);
  assert_tr_ok(command(n, "watcher", &w, "mon:target"));
  assert_tr_ok(command(n, "target", &t, "mon:watcher"));
  assert_tr_ok(command(n, "watcher", &w, "mon:nobody"));
  tt_node_free(n);
  assert_int_equal(1, w.p.deinits);
  assert_int_equal(1, t.p.deinits);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(monitor_of_a_live_actor_gets_down_when_it_stops),
      cmocka_unit_test(monitor_of_a_failing_actor_gets_its_failure_as_status),
      cmocka_unit_test(each_monitor_call_gives_its_own_down),
      cmocka_unit_test(
          monitor_of_an_unknown_actor_gets_enotfound_down_via_the_mailbox),
      cmocka_unit_test(monitor_of_a_bad_id_returns_einval),
      cmocka_unit_test(demonitor_means_no_down),
      cmocka_unit_test(
          watcher_that_stops_first_gets_nothing_and_leaks_nothing),
      cmocka_unit_test(node_free_with_live_monitors_leaks_nothing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
