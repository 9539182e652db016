/* test_pubsub.c — node/engine/pubsub.c: subscribe / publish / unsubscribe
 * on the default and named topics, immediate effect, the reach count, one
 * shared payload copy per publish, subscriptions by id that outlive the
 * publisher, full subscribers missing a publish (counted), each
 * subscription's counts, and errors.
 *
 * Actors here obey text commands sent with tr_node_send:
 *   "pub:<topic>:<data>"   publish (topic "" uses tr_publish)
 *   "sub:<publisher>:<topic>" / "unsub:<publisher>:<topic>" (topic "" uses
 *                          tr_subscribe / tr_unsubscribe)
 *   "pubt:", "subt:", "unsubt:"  the same, always through the _topic call
 *   "fillpub:<target>:<data>"    tr_send "filler" to target, then publish
 *   "pubbig:-:<n>"         publish n bytes of a pattern on topic "big"
 *   "fillbig:<target>:<n>" the same after filling target
 *   "stop"                 tr_stop
 * and keep the last call's result in the int their probe's user points to. */
#include "eng_node.h" /* eng_subscriptions_each: the engine's own rows */
#include "tr_test.h"

static int cmd_on_msg(tr_ctx *ctx, tt_probe *p, const tr_envelope *env) {
  if (env->type != TR_MSG_SEND) return 0;
  char buf[8192];
  if (env->len >= sizeof(buf)) return 0;
  memcpy(buf, env->data, env->len);
  buf[env->len] = '\0';
  int *rc = p->user;
  int r = -1000;
  char *a = strchr(buf, ':');
  char *b = a ? strchr(a + 1, ':') : NULL;
  if (strcmp(buf, "stop") == 0) {
    r = tr_stop(ctx);
  } else if (a && b) {
    *a++ = '\0';
    *b++ = '\0';
    if (strcmp(buf, "pub") == 0)
      r = a[0] ? tr_publish_topic(ctx, a, b, strlen(b))
               : tr_publish(ctx, b, strlen(b));
    else if (strcmp(buf, "pubt") == 0)
      r = tr_publish_topic(ctx, a, b, strlen(b));
    else if (strcmp(buf, "sub") == 0)
      r = b[0] ? tr_subscribe_topic(ctx, a, b) : tr_subscribe(ctx, a);
    else if (strcmp(buf, "subt") == 0)
      r = tr_subscribe_topic(ctx, a, b);
    else if (strcmp(buf, "unsub") == 0)
      r = b[0] ? tr_unsubscribe_topic(ctx, a, b) : tr_unsubscribe(ctx, a);
    else if (strcmp(buf, "unsubt") == 0)
      r = tr_unsubscribe_topic(ctx, a, b);
    else if (strcmp(buf, "pubbig") == 0 || strcmp(buf, "fillbig") == 0) {
      /* <b> bytes of a pattern on topic "big"; fillbig fills <a> first */
      size_t len = (size_t)atol(b);
      unsigned char *big = malloc(len ? len : 1);
      if (!big) return 0;
      for (size_t i = 0; i < len; i++) big[i] = (unsigned char)(i * 7u);
      if (buf[0] == 'f' && tr_send(ctx, a, "filler", 6) != 0)
        r = -2000;
      else
        r = tr_publish_topic(ctx, "big", big, len);
      free(big);
    } else if (strcmp(buf, "fillpub") == 0) /* fill <a>, then publish <b> */
      r = tr_send(ctx, a, "filler", 6) == 0 ? tr_publish(ctx, b, strlen(b))
                                            : -2000;
  }
  if (rc) *rc = r;
  return 0;
}

/* A command actor with its result slot. */
typedef struct {
  tt_probe p;
  int rc;
} cmd_actor;

static void cmd_spawn(tr_node *n, const char *id, cmd_actor *c,
                      uint32_t capacity) {
  *c = (cmd_actor){.p = {.on_msg = cmd_on_msg}, .rc = -1000};
  c->p.user = &c->rc;
  assert_tr_ok(tt_spawn(n, id, &c->p, capacity));
}

/* Sends a command and runs until the actor has handled it; returns rc. */
static int cmd(tr_node *n, const char *id, cmd_actor *c, const char *text) {
  long before = c->p.received;
  c->rc = -1000;
  assert_tr_ok(tt_send_str(n, id, text));
  ASSERT_RUN_UNTIL(n, c->p.received > before, TT_ITERS, TT_MS);
  return c->rc;
}

/* Counts the publishes a probe got. */
static long pubs(const tt_probe *p) { return p->by_type[TR_MSG_PUBLISH]; }

/* ---- topics ------------------------------------------------------------- */

static void subscribers_get_only_the_topics_they_subscribed_to(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  cmd_actor pub, other, s_def, s_news, s_sports, s_other_news;
  cmd_spawn(n, "pub", &pub, 0);
  cmd_spawn(n, "other", &other, 0);
  cmd_spawn(n, "s-def", &s_def, 0);
  cmd_spawn(n, "s-news", &s_news, 0);
  cmd_spawn(n, "s-sports", &s_sports, 0);
  cmd_spawn(n, "s-other-news", &s_other_news, 0);
  assert_tr_ok(cmd(n, "s-def", &s_def, "sub:pub:"));
  assert_tr_ok(cmd(n, "s-news", &s_news, "sub:pub:news"));
  assert_tr_ok(cmd(n, "s-sports", &s_sports, "sub:pub:sports"));
  assert_tr_ok(cmd(n, "s-other-news", &s_other_news, "sub:other:news"));

  assert_int_equal(1, cmd(n, "pub", &pub, "pub::hello"));
  assert_int_equal(1, cmd(n, "pub", &pub, "pub:news:extra"));
  assert_int_equal(0, cmd(n, "pub", &pub, "pub:weather:rain"));
  ASSERT_RUN_UNTIL_IDLE(n);

  assert_int_equal(1, pubs(&s_def.p));
  tt_rec *r = &s_def.p.rec[1];
  assert_int_equal(TR_MSG_PUBLISH, r->type);
  assert_string_equal("pub", r->sender);
  assert_true(r->has_topic);
  assert_string_equal("", r->topic); /* the default topic */
  assert_int_equal(5, r->len);
  assert_memory_equal("hello", r->data, 5);
  assert_string_equal(tr_node_name(n), r->node);

  assert_int_equal(1, pubs(&s_news.p));
  r = &s_news.p.rec[1];
  assert_int_equal(TR_MSG_PUBLISH, r->type);
  assert_string_equal("pub", r->sender);
  assert_string_equal("news", r->topic);
  assert_int_equal(5, r->len);
  assert_memory_equal("extra", r->data, 5);

  assert_int_equal(0, pubs(&s_sports.p));
  assert_int_equal(0, pubs(&s_other_news.p));
  tt_node_free(n);
}

static void default_topic_is_the_empty_named_topic(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  cmd_actor pub, s, t;
  cmd_spawn(n, "pub", &pub, 0);
  cmd_spawn(n, "s", &s, 0);
  cmd_spawn(n, "t", &t, 0);
  assert_tr_ok(cmd(n, "s", &s, "sub:pub:"));   /* tr_subscribe */
  assert_tr_ok(cmd(n, "t", &t, "subt:pub:"));  /* tr_subscribe_topic "" */
  assert_tr_ok(cmd(n, "s", &s, "subt:pub:"));  /* the same pair: no-op */
  assert_int_equal(2, cmd(n, "pub", &pub, "pubt::one")); /* topic "" */
  assert_int_equal(2, cmd(n, "pub", &pub, "pub::two"));  /* tr_publish */
  ASSERT_RUN_UNTIL_IDLE(n);
  assert_int_equal(2, pubs(&s.p));
  assert_int_equal(2, pubs(&t.p));
  assert_string_equal("", t.p.rec[1].topic);
  assert_string_equal("", t.p.rec[2].topic);
  assert_tr_ok(cmd(n, "t", &t, "unsub:pub:")); /* tr_unsubscribe */
  assert_tr(TR_ENOTFOUND, cmd(n, "t", &t, "unsubt:pub:"));
  assert_tr_ok(cmd(n, "s", &s, "unsubt:pub:"));
  assert_int_equal(0, cmd(n, "pub", &pub, "pub::none"));
  tt_node_free(n);
}

/* ---- effect and reach --------------------------------------------------- */

static void no_delivery_after_unsubscribe(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  cmd_actor pub, s;
  cmd_spawn(n, "pub", &pub, 0);
  cmd_spawn(n, "s", &s, 0);
  assert_tr_ok(cmd(n, "s", &s, "sub:pub:"));
  assert_tr_ok(cmd(n, "s", &s, "sub:pub:news"));
  assert_int_equal(1, cmd(n, "pub", &pub, "pub::one"));
  assert_int_equal(1, cmd(n, "pub", &pub, "pub:news:one"));
  assert_tr_ok(cmd(n, "s", &s, "unsub:pub:"));
  assert_int_equal(0, cmd(n, "pub", &pub, "pub::two"));
  assert_int_equal(1, cmd(n, "pub", &pub, "pub:news:two"));
  assert_tr_ok(cmd(n, "s", &s, "unsub:pub:news"));
  assert_int_equal(0, cmd(n, "pub", &pub, "pub:news:three"));
  ASSERT_RUN_UNTIL_IDLE(n);
  assert_int_equal(3, pubs(&s.p));
  assert_int_equal(0, tt_stats(n).subscriptions);
  tt_node_free(n);
}

static void unsubscribe_when_not_subscribed_returns_enotfound(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  cmd_actor pub, s, t;
  cmd_spawn(n, "pub", &pub, 0);
  cmd_spawn(n, "s", &s, 0);
  cmd_spawn(n, "t", &t, 0);
  assert_tr(TR_ENOTFOUND, cmd(n, "s", &s, "unsub:pub:"));
  assert_tr(TR_ENOTFOUND, cmd(n, "s", &s, "unsub:nobody:news"));
  assert_tr_ok(cmd(n, "s", &s, "sub:pub:a"));
  assert_tr(TR_ENOTFOUND, cmd(n, "s", &s, "unsub:pub:b"));
  assert_tr(TR_ENOTFOUND, cmd(n, "s", &s, "unsub:pub:"));
  /* Someone else's subscription is not yours to remove. */
  assert_tr(TR_ENOTFOUND, cmd(n, "t", &t, "unsub:pub:a"));
  assert_tr_ok(cmd(n, "s", &s, "unsub:pub:a"));
  assert_tr(TR_ENOTFOUND, cmd(n, "s", &s, "unsub:pub:a"));
  tt_node_free(n);
}

static void double_subscribe_is_a_noop(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  cmd_actor pub, s;
  cmd_spawn(n, "pub", &pub, 0);
  cmd_spawn(n, "s", &s, 0);
  assert_tr_ok(cmd(n, "s", &s, "sub:pub:news"));
  uint64_t subs = tt_stats(n).subscriptions;
  assert_tr_ok(cmd(n, "s", &s, "sub:pub:news"));
  assert_int_equal(subs, tt_stats(n).subscriptions);
  assert_int_equal(1, cmd(n, "pub", &pub, "pub:news:once"));
  ASSERT_RUN_UNTIL_IDLE(n);
  assert_int_equal(1, pubs(&s.p));
  /* One unsubscribe undoes it. */
  assert_tr_ok(cmd(n, "s", &s, "unsub:pub:news"));
  assert_tr(TR_ENOTFOUND, cmd(n, "s", &s, "unsub:pub:news"));
  assert_int_equal(0, cmd(n, "pub", &pub, "pub:news:never"));
  tt_node_free(n);
}

static void publish_returns_the_number_of_subscribers_reached(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  cmd_actor pub, s[3];
  cmd_spawn(n, "pub", &pub, 0);
  assert_int_equal(0, cmd(n, "pub", &pub, "pub::nobody"));
  const char *ids[3] = {"s0", "s1", "s2"};
  for (int i = 0; i < 3; i++) {
    cmd_spawn(n, ids[i], &s[i], 0);
    assert_tr_ok(cmd(n, ids[i], &s[i], "sub:pub:"));
    assert_int_equal(i + 1, cmd(n, "pub", &pub, "pub::count"));
  }
  ASSERT_RUN_UNTIL_IDLE(n);
  assert_int_equal(3, pubs(&s[0].p));
  assert_int_equal(2, pubs(&s[1].p));
  assert_int_equal(1, pubs(&s[2].p));
  tt_node_free(n);
}

/* The publisher spawns a child whose init subscribes, and publishes at once,
 * in the same callback. */
static int sub_parent_init(tr_ctx *ctx, tt_probe *p) {
  return tr_subscribe(ctx, "parent");
}

typedef struct {
  tt_probe parent, kid;
  int spawn_rc, reached, self_sub_rc, self_reached;
} same_callback;

static int same_callback_on_msg(tr_ctx *ctx, tt_probe *p,
                                const tr_envelope *env) {
  same_callback *f = p->user;
  if (tt_is(env, "spawn-and-publish")) {
    f->spawn_rc = tt_spawn_child(ctx, "kid", &f->kid, 0);
    f->reached = tr_publish(ctx, "first", 5);
  } else if (tt_is(env, "self-sub-and-publish")) {
    f->self_sub_rc = tr_subscribe_topic(ctx, tr_self(ctx), "mine");
    f->self_reached = tr_publish_topic(ctx, "mine", "echo", 4);
  }
  return 0;
}

static void publish_right_after_subscribe_in_the_same_callback_arrives(
    void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  same_callback f = {.parent = {.on_msg = same_callback_on_msg},
                     .kid = {.on_init = sub_parent_init}};
  f.parent.user = &f;
  assert_tr_ok(tt_spawn(n, "parent", &f.parent, 0));
  assert_tr_ok(tt_send_str(n, "parent", "spawn-and-publish"));
  ASSERT_RUN_UNTIL(n, pubs(&f.kid) == 1, TT_ITERS, TT_MS);
  assert_tr_ok(f.spawn_rc);
  assert_int_equal(1, f.reached);
  assert_string_equal("parent", f.kid.rec[0].sender);
  assert_memory_equal("first", f.kid.rec[0].data, 5);

  assert_tr_ok(tt_send_str(n, "parent", "self-sub-and-publish"));
  ASSERT_RUN_UNTIL(n, pubs(&f.parent) == 1, TT_ITERS, TT_MS);
  assert_tr_ok(f.self_sub_rc);
  assert_int_equal(1, f.self_reached);
  tt_node_free(n);
}

/* ---- one shared copy ---------------------------------------------------- */

static void all_subscribers_of_one_publish_share_one_payload_copy(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  cmd_actor pub, s[3];
  cmd_spawn(n, "pub", &pub, 0);
  const char *ids[3] = {"s0", "s1", "s2"};
  for (int i = 0; i < 3; i++) {
    cmd_spawn(n, ids[i], &s[i], 0);
    assert_tr_ok(cmd(n, ids[i], &s[i], "sub:pub:"));
  }
  /* A small payload (inline-sized for a plain send) and a large one. */
  assert_int_equal(3, cmd(n, "pub", &pub, "pub::small"));
  char big[6000];
  memcpy(big, "pub::", 5);
  memset(big + 5, 'z', sizeof(big) - 6);
  big[sizeof(big) - 1] = '\0';
  assert_int_equal(3, cmd(n, "pub", &pub, big));
  ASSERT_RUN_UNTIL_IDLE(n);
  for (int k = 1; k <= 2; k++) {
    for (int i = 0; i < 3; i++) {
      assert_int_equal(TR_MSG_PUBLISH, s[i].p.rec[k].type);
      assert_int_equal(k == 1 ? 5 : sizeof(big) - 6, s[i].p.rec[k].len);
    }
    assert_true(s[0].p.rec[k].data_ptr == s[1].p.rec[k].data_ptr);
    assert_true(s[1].p.rec[k].data_ptr == s[2].p.rec[k].data_ptr);
  }
  tt_node_free(n);
}

/* ---- lifetimes ---------------------------------------------------------- */

static void subscriber_that_stops_is_removed(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  cmd_actor pub, s0, s1;
  cmd_spawn(n, "pub", &pub, 0);
  cmd_spawn(n, "s0", &s0, 0);
  cmd_spawn(n, "s1", &s1, 0);
  assert_tr_ok(cmd(n, "s0", &s0, "sub:pub:"));
  assert_tr_ok(cmd(n, "s0", &s0, "sub:pub:news"));
  assert_tr_ok(cmd(n, "s1", &s1, "sub:pub:"));
  assert_int_equal(3, tt_stats(n).subscriptions);
  assert_int_equal(2, cmd(n, "pub", &pub, "pub::both"));
  assert_tr_ok(cmd(n, "s0", &s0, "stop"));
  ASSERT_RUN_UNTIL(n, s0.p.deinits == 1, TT_ITERS, TT_MS);
  assert_int_equal(1, tt_stats(n).subscriptions);
  assert_int_equal(1, cmd(n, "pub", &pub, "pub::one"));
  assert_int_equal(0, cmd(n, "pub", &pub, "pub:news:none"));
  ASSERT_RUN_UNTIL_IDLE(n);
  assert_int_equal(1, pubs(&s0.p));
  assert_int_equal(2, pubs(&s1.p));
  tr_node_stats stats = tt_stats(n);
  assert_int_equal(0, stats.dead[TR_DL_STOPPED]);
  assert_int_equal(0, stats.dead[TR_DL_PUBLISH_FULL]);
  tt_node_free(n);
}

static void subscription_outlives_the_publisher_and_resumes_on_respawn(
    void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  cmd_actor s, pub1, pub2;
  cmd_spawn(n, "s", &s, 0);
  /* The publisher does not exist yet. */
  assert_tr_ok(cmd(n, "s", &s, "sub:later:"));
  assert_tr_ok(cmd(n, "s", &s, "sub:later:news"));
  assert_int_equal(2, tt_stats(n).subscriptions);

  cmd_spawn(n, "later", &pub1, 0);
  assert_int_equal(1, cmd(n, "later", &pub1, "pub::first"));
  assert_int_equal(1, cmd(n, "later", &pub1, "pub:news:first"));
  assert_tr_ok(tr_node_stop_actor(n, "later"));
  ASSERT_RUN_UNTIL(n, pub1.p.deinits == 1, TT_ITERS, TT_MS);
  assert_int_equal(2, tt_stats(n).subscriptions); /* kept */

  cmd_spawn(n, "later", &pub2, 0);
  assert_int_equal(1, cmd(n, "later", &pub2, "pub::second"));
  assert_int_equal(1, cmd(n, "later", &pub2, "pub:news:second"));
  ASSERT_RUN_UNTIL_IDLE(n);
  assert_int_equal(4, pubs(&s.p));
  /* rec: sub, sub, first, first, second, second */
  assert_memory_equal("second", s.p.rec[4].data, 6);
  assert_string_equal("later", s.p.rec[4].sender);
  assert_string_equal("", s.p.rec[4].topic);
  assert_string_equal("news", s.p.rec[5].topic);
  tt_node_free(n);
}

/* ---- back-pressure ------------------------------------------------------ */

static void full_subscriber_misses_the_publish_counted_others_get_it(
    void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  cmd_actor pub, full, fine;
  cmd_spawn(n, "pub", &pub, 0);
  cmd_spawn(n, "full", &full, 1);
  cmd_spawn(n, "fine", &fine, 1);
  assert_tr_ok(cmd(n, "full", &full, "sub:pub:"));
  assert_tr_ok(cmd(n, "fine", &fine, "sub:pub:"));
  /* The publisher fills "full" (capacity 1), then publishes at once. */
  tr_node_stats before = tt_stats(n);
  assert_int_equal(1, cmd(n, "pub", &pub, "fillpub:full:tick"));
  /* The publish returned with the reach count: never blocked, no error. */
  ASSERT_RUN_UNTIL_IDLE(n);
  assert_int_equal(1, full.p.received - 1); /* only the filler */
  assert_int_equal(0, pubs(&full.p));
  assert_int_equal(1, pubs(&fine.p));
  tr_node_stats after = tt_stats(n);
  assert_int_equal(before.dead[TR_DL_PUBLISH_FULL] + 1,
                   after.dead[TR_DL_PUBLISH_FULL]);
  assert_int_equal(before.dead[TR_DL_REJECTED_FULL],
                   after.dead[TR_DL_REJECTED_FULL]);
  /* Once drained, "full" gets the next one. */
  assert_int_equal(2, cmd(n, "pub", &pub, "pub::tock"));
  ASSERT_RUN_UNTIL_IDLE(n);
  assert_int_equal(1, pubs(&full.p));
  tt_node_free(n);
}

/* One subscription's row, as tr_node_subscriptions lists it. */
typedef struct {
  const char *subscriber;
  tr_sub_info row;
  int found;
} sub_row;

static void find_sub(void *arg, const tr_sub_info *si) {
  sub_row *r = arg;
  if (si->subscriber && strcmp(si->subscriber, r->subscriber) == 0) {
    r->row = *si;
    r->found++;
  }
}

static sub_row sub_counts(tr_node *n, const char *subscriber) {
  sub_row r = {.subscriber = subscriber};
  eng_subscriptions_each(n, find_sub, &r);
  return r;
}

/* Each subscription counts the publishes since it began that reached it and
 * those it missed, whatever the others do: subscribers join late, one is
 * full for a publish, one leaves (its place taken by the last), and the
 * rest keep getting every publish in order. */
static void subscription_counts_follow_each_subscriber(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  cmd_actor pub, early, late, full, leaver;
  cmd_spawn(n, "pub", &pub, 0);
  cmd_spawn(n, "early", &early, 0);
  cmd_spawn(n, "late", &late, 0);
  cmd_spawn(n, "full", &full, 1);
  cmd_spawn(n, "leaver", &leaver, 0);
  assert_tr_ok(cmd(n, "early", &early, "sub:pub:"));
  assert_tr_ok(cmd(n, "leaver", &leaver, "sub:pub:"));
  assert_tr_ok(cmd(n, "full", &full, "sub:pub:"));
  assert_int_equal(3, cmd(n, "pub", &pub, "pub::one"));
  assert_int_equal(3, cmd(n, "pub", &pub, "pub::two"));
  assert_tr_ok(cmd(n, "late", &late, "sub:pub:"));
  assert_int_equal(3, cmd(n, "pub", &pub, "fillpub:full:three")); /* 4 - 1 */
  ASSERT_RUN_UNTIL_IDLE(n);
  assert_tr_ok(cmd(n, "leaver", &leaver, "unsub:pub:")); /* "late" moves */
  assert_int_equal(3, cmd(n, "pub", &pub, "pub::four"));
  ASSERT_RUN_UNTIL_IDLE(n);

  sub_row e = sub_counts(n, "early"), l = sub_counts(n, "late"),
          f = sub_counts(n, "full"), v = sub_counts(n, "leaver");
  assert_int_equal(1, e.found);
  assert_int_equal(4, e.row.delivered);
  assert_int_equal(0, e.row.dropped);
  assert_int_equal(1, l.found);
  assert_int_equal(2, l.row.delivered);
  assert_int_equal(0, l.row.dropped);
  assert_int_equal(1, f.found);
  assert_int_equal(3, f.row.delivered);
  assert_int_equal(1, f.row.dropped);
  assert_int_equal(0, v.found);
  assert_int_equal(4, pubs(&early.p));
  assert_int_equal(2, pubs(&late.p));
  assert_int_equal(3, pubs(&full.p));
  assert_int_equal(3, pubs(&leaver.p));
  /* A new subscription starts from nothing. */
  assert_tr_ok(cmd(n, "leaver", &leaver, "sub:pub:"));
  assert_int_equal(4, cmd(n, "pub", &pub, "pub::five"));
  ASSERT_RUN_UNTIL_IDLE(n);
  v = sub_counts(n, "leaver");
  assert_int_equal(1, v.row.delivered);
  assert_int_equal(0, v.row.dropped);
  assert_int_equal(4, pubs(&leaver.p));
  tt_node_free(n);
}


/* A publish larger than any pooled size class, to several subscribers, one
 * of them full: every delivery sees the same intact copy; ASan checks the
 * shared copy is released exactly once. */
static void large_publish_is_shared_intact_and_released(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  cmd_actor pub, s[3];
  cmd_spawn(n, "pub", &pub, 0);
  const char *ids[3] = {"s0", "s1", "s2"};
  for (int i = 0; i < 3; i++) {
    cmd_spawn(n, ids[i], &s[i], i == 2 ? 1 : 0);
    assert_tr_ok(cmd(n, ids[i], &s[i], "sub:pub:big"));
  }
  /* s2 (capacity 1) is filled right before the first publish. */
  assert_int_equal(2, cmd(n, "pub", &pub, "fillbig:s2:300000"));
  ASSERT_RUN_UNTIL_IDLE(n); /* s2 drains */
  assert_int_equal(3, cmd(n, "pub", &pub, "pubbig:-:300000"));
  ASSERT_RUN_UNTIL_IDLE(n);
  assert_int_equal(2, pubs(&s[0].p));
  assert_int_equal(2, pubs(&s[1].p));
  assert_int_equal(1, pubs(&s[2].p));
  for (int k = 1; k <= 2; k++) {
    assert_int_equal(300000, s[0].p.rec[k].len);
    for (size_t i = 0; i < TT_REC_DATA; i++)
      assert_int_equal((unsigned char)(i * 7u), s[0].p.rec[k].data[i]);
    assert_true(s[0].p.rec[k].data_ptr == s[1].p.rec[k].data_ptr);
  }
  assert_int_equal(1, tt_stats(n).dead[TR_DL_PUBLISH_FULL]);
  tt_node_free(n);
}

/* ---- errors ------------------------------------------------------------- */

typedef struct {
  int too_big, long_topic, null_data, bad_pub, empty_pub, long_pub_unsub,
      null_topic, zero_len;
} pub_errors;

static int errors_on_msg(tr_ctx *ctx, tt_probe *p, const tr_envelope *env) {
  (void)env;
  pub_errors *e = p->user;
  static char buf[65];
  char topic[TR_ID_MAX + 2];
  memset(topic, 't', sizeof(topic) - 1);
  topic[sizeof(topic) - 1] = '\0';
  e->too_big = tr_publish(ctx, buf, 65);
  e->long_topic = tr_publish_topic(ctx, topic, "x", 1);
  e->null_data = tr_publish(ctx, NULL, 3);
  e->null_topic = tr_subscribe_topic(ctx, "pub", NULL);
  e->bad_pub = tr_subscribe(ctx, topic);
  e->empty_pub = tr_subscribe(ctx, "");
  e->long_pub_unsub = tr_unsubscribe(ctx, topic);
  e->zero_len = tr_publish(ctx, NULL, 0);
  return 0;
}

static void bad_publish_and_subscribe_arguments_are_rejected(void **st) {
  (void)st;
  tr_node_config cfg = tt_config();
  cfg.max_payload = 64;
  tr_node *n = tt_node_new(&cfg);
  pub_errors e;
  memset(&e, 0x55, sizeof(e));
  tt_probe p = {.on_msg = errors_on_msg, .user = &e};
  assert_tr_ok(tt_spawn(n, "errs", &p, 0));
  assert_tr_ok(tt_send_str(n, "errs", "go"));
  ASSERT_RUN_UNTIL(n, p.received == 1, TT_ITERS, TT_MS);
  assert_tr(TR_ETOOBIG, e.too_big);
  assert_tr(TR_EINVAL, e.long_topic);
  assert_tr(TR_EINVAL, e.null_data);
  assert_tr(TR_EINVAL, e.null_topic);
  assert_tr(TR_EINVAL, e.bad_pub);
  assert_tr(TR_EINVAL, e.empty_pub);
  assert_tr(TR_EINVAL, e.long_pub_unsub);
  assert_int_equal(0, e.zero_len); /* nobody subscribed: reached 0 */
  tr_node_stats s = tt_stats(n);
  assert_int_equal(0, s.subscriptions);
  assert_int_equal(1, s.dead[TR_DL_REJECTED_TOOBIG]); /* the publish */
  tt_node_free(n);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(subscribers_get_only_the_topics_they_subscribed_to),
      cmocka_unit_test(default_topic_is_the_empty_named_topic),
      cmocka_unit_test(no_delivery_after_unsubscribe),
      cmocka_unit_test(unsubscribe_when_not_subscribed_returns_enotfound),
      cmocka_unit_test(double_subscribe_is_a_noop),
      cmocka_unit_test(publish_returns_the_number_of_subscribers_reached),
      cmocka_unit_test(
          publish_right_after_subscribe_in_the_same_callback_arrives),
      cmocka_unit_test(all_subscribers_of_one_publish_share_one_payload_copy),
      cmocka_unit_test(subscriber_that_stops_is_removed),
      cmocka_unit_test(
          subscription_outlives_the_publisher_and_resumes_on_respawn),
      cmocka_unit_test(
          full_subscriber_misses_the_publish_counted_others_get_it),
      cmocka_unit_test(subscription_counts_follow_each_subscriber),
      cmocka_unit_test(large_publish_is_shared_intact_and_released),
      cmocka_unit_test(bad_publish_and_subscribe_arguments_are_rejected),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
