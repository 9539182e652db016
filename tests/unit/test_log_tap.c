/* test_log_tap.c — the node's log sink (node/engine/log_tap.c): the
 * user's callback keeps its level while taps (an operator's `troupe
 * monitor`) get lines up to theirs; lines are built at the most verbose
 * listener's level and back at the user's once the taps go; a line a tap
 * logs reaches the user only; a tap may remove itself while lines go
 * out. Engine only. */
#include "tr_test.h"

#include "eng_remote.h"

typedef struct heard {
  int n;
  tr_log_level last;
  char event[64];
} heard;

static void hear(heard *h, tr_log_level level, const char *event) {
  h->n++;
  h->last = level;
  snprintf(h->event, sizeof(h->event), "%s", event);
}

static void user_log(void *user, tr_log_level level, const char *event,
                     const char *fields) {
  (void)fields;
  hear(user, level, event);
}

typedef struct tap_arg {
  heard h;
  tr_node *n;
  eng_log_tap *self;
  bool log_inside, remove_inside;
  int levels_seen; /* eng_log_level inside the callback */
} tap_arg;

static void tap_fn(void *user, tr_log_level level, const char *event,
                   const char *fields) {
  (void)fields;
  tap_arg *t = user;
  hear(&t->h, level, event);
  if (t->log_inside) eng_log(t->n, TR_LOG_WARN, "from_tap", "x=%d", 1);
  if (t->remove_inside) {
    eng_log_tap_remove(t->n, t->self);
    t->self = NULL;
  }
}

typedef struct hooked {
  int calls;
  tr_log_level level;
} hooked;

static void level_hook(void *user, tr_log_level level) {
  hooked *k = user;
  k->calls++;
  k->level = level;
}

static void taps_hear_up_to_their_level_the_user_up_to_its_own(void **st) {
  (void)st;
  heard user = {0};
  tr_node_config cfg = tt_config();
  cfg.log = user_log;
  cfg.log_user = &user;
  cfg.log_level = TR_LOG_WARN;
  tr_node *n = tt_node_new(&cfg);
  hooked hook = {0};
  eng_set_log_hook(n, level_hook, &hook);
  assert_int_equal(TR_LOG_WARN, eng_log_level(n));

  tap_arg t = {.n = n};
  t.self = eng_log_tap_add(n, TR_LOG_DEBUG, tap_fn, &t);
  assert_non_null(t.self);
  /* Lines are built at the tap's level now, and the other layers hear. */
  assert_int_equal(TR_LOG_DEBUG, eng_log_level(n));
  assert_int_equal(1, hook.calls);
  assert_int_equal(TR_LOG_DEBUG, hook.level);

  eng_log(n, TR_LOG_DEBUG, "quiet", "a=%d", 1);
  assert_int_equal(0, user.n); /* past the user's level */
  assert_int_equal(1, t.h.n);
  assert_string_equal("quiet", t.h.event);
  eng_log(n, TR_LOG_WARN, "loud", "a=%d", 2);
  assert_int_equal(1, user.n);
  assert_string_equal("loud", user.event);
  assert_int_equal(2, t.h.n);

  /* A line the tap itself logs reaches the user, not a tap again. */
  t.log_inside = true;
  eng_log(n, TR_LOG_INFO, "cause", "a=%d", 3);
  assert_int_equal(3, t.h.n);
  assert_string_equal("cause", t.h.event);
  assert_int_equal(2, user.n);
  assert_string_equal("from_tap", user.event);
  t.log_inside = false;

  /* The user's level moves under the tap: lines still built at DEBUG. */
  eng_set_log_level(n, TR_LOG_INFO);
  assert_int_equal(TR_LOG_DEBUG, eng_log_level(n));
  eng_log(n, TR_LOG_INFO, "both", "a=%d", 4);
  assert_int_equal(3, user.n);
  assert_int_equal(4, t.h.n);

  /* Removed inside its own callback: this line was its last, and the
   * level falls back to the user's. */
  t.remove_inside = true;
  eng_log(n, TR_LOG_DEBUG, "last", "a=%d", 5);
  assert_int_equal(5, t.h.n);
  assert_null(t.self);
  assert_int_equal(TR_LOG_INFO, eng_log_level(n));
  assert_int_equal(TR_LOG_INFO, hook.level);
  eng_log(n, TR_LOG_DEBUG, "after", "a=%d", 6);
  assert_int_equal(5, t.h.n);
  assert_int_equal(3, user.n);
  tt_node_free(n);
}

/* No user callback: nothing is built until a tap comes; taps still
 * present at free are freed with the node (ASan shows none leaks). */
static void a_node_without_a_log_hears_through_a_tap(void **st) {
  (void)st;
  tr_node_config cfg = tt_config();
  tr_node *n = tt_node_new(&cfg);
  tap_arg t = {.n = n};
  eng_log(n, TR_LOG_ERROR, "nobody", "a=%d", 1);
  assert_null(eng_log_tap_add(n, (tr_log_level)9, tap_fn, &t));
  assert_null(eng_log_tap_add(n, TR_LOG_INFO, NULL, &t));
  t.self = eng_log_tap_add(n, TR_LOG_INFO, tap_fn, &t);
  assert_non_null(t.self);
  assert_non_null(eng_log_tap_add(n, TR_LOG_ERROR, tap_fn, &t));
  eng_log(n, TR_LOG_INFO, "some", "a=%d", 1);
  assert_int_equal(1, t.h.n); /* the ERROR tap does not take INFO */
  eng_log(n, TR_LOG_ERROR, "both", "a=%d", 1);
  assert_int_equal(3, t.h.n);
  tt_node_free(n);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(taps_hear_up_to_their_level_the_user_up_to_its_own),
      cmocka_unit_test(a_node_without_a_log_hears_through_a_tap),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
