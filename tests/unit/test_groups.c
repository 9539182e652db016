/* test_groups.c — groups on one node (local single-node mode, the whole
 * library): join and leave (twice is a no-op, a stop leaves every group),
 * names checked, send to one member round robin and skipping full ones,
 * TR_ENOTFOUND for an empty group and TR_EFULL when none has room (nothing
 * queued, counted), ask one member, broadcast with one shared copy and a
 * full member's miss counted, listing and counting, membership events on
 * "group:<name>", the policy's "join" and a broadcast judged as a send to
 * "group:<name>".
 *
 * Members are probes; a driver actor runs the calls that need a context,
 * on text commands sent with tr_node_send:
 *   "join:<g>", "leave:<g>", "send:<g>:<data>", "ask:<g>:<data>",
 *   "all:<g>:<data>", "watch:<g>", "stop"
 * and keeps the last call's result in the int its probe's user points to. */
#include "tr_test.h"

typedef struct drv {
  int rc;
  char chosen[TR_ID_MAX + 1];
} drv;

static int drv_on_msg(tr_ctx *ctx, tt_probe *p, const tr_envelope *env) {
  if (env->type != TR_MSG_SEND || env->sender) return 0;
  char buf[512];
  if (env->len >= sizeof(buf)) return 0;
  memcpy(buf, env->data, env->len);
  buf[env->len] = '\0';
  drv *d = p->user;
  char *g = strchr(buf, ':');
  char *data = g ? strchr(g + 1, ':') : NULL;
  if (g) *g++ = '\0';
  if (data) *data++ = '\0';
  if (strcmp(buf, "stop") == 0) {
    d->rc = tr_stop(ctx);
  } else if (!g) {
    d->rc = -1000;
  } else if (strcmp(buf, "join") == 0) {
    d->rc = tr_group_join(ctx, g);
  } else if (strcmp(buf, "leave") == 0) {
    d->rc = tr_group_leave(ctx, g);
  } else if (strcmp(buf, "watch") == 0) {
    char topic[TR_GROUP_MAX + 8];
    snprintf(topic, sizeof(topic), "%s%s", TR_GROUP_TOPIC_PREFIX, g);
    d->rc = tr_subscribe_topic(ctx, TR_SYSTEM_PUBLISHER, topic);
  } else if (data && strcmp(buf, "send") == 0) {
    d->chosen[0] = '\0';
    d->rc = tr_group_send_to(ctx, g, data, strlen(data), d->chosen,
                             sizeof(d->chosen));
  } else if (data && strcmp(buf, "ask") == 0) {
    d->rc = tr_group_ask(ctx, g, data, strlen(data), 5000, NULL);
  } else if (data && strcmp(buf, "all") == 0) {
    d->rc = tr_group_broadcast(ctx, g, data, strlen(data));
  } else {
    d->rc = -1000;
  }
  return 0;
}

/* A member that answers asks "re:<data>". */
static int member_on_msg(tr_ctx *ctx, tt_probe *p, const tr_envelope *env) {
  (void)p;
  if (env->type == TR_MSG_ASK) {
    char re[64];
    int len = snprintf(re, sizeof(re), "re:%.*s", (int)env->len,
                       (const char *)env->data);
    tr_reply(ctx, env, re, (size_t)len);
  }
  return 0;
}

typedef struct fixture {
  tr_node *n;
  tt_probe dp;
  drv d;
  tt_probe m[4];
} fixture;

static const char *member_id[4] = {"m0", "m1", "m2", "m3"};

static fixture *setup_members(uint32_t capacity) {
  fixture *f = calloc(1, sizeof(*f));
  tr_node_config cfg = tt_config();
  f->n = tt_node_new(&cfg);
  f->dp = (tt_probe){.on_msg = drv_on_msg, .user = &f->d};
  assert_tr_ok(tt_spawn(f->n, "driver", &f->dp, 0));
  for (int i = 0; i < 4; i++) {
    f->m[i] = (tt_probe){.on_msg = member_on_msg};
    assert_tr_ok(tt_spawn(f->n, member_id[i], &f->m[i], capacity));
  }
  return f;
}

static void teardown(fixture *f) {
  tt_node_free(f->n);
  free(f);
}

/* Runs a driver command to completion; its result. */
static int drive(fixture *f, const char *cmd) {
  f->d.rc = -9999;
  assert_tr_ok(tt_send_str(f->n, "driver", cmd));
  ASSERT_RUN_UNTIL_IDLE(f->n);
  return f->d.rc;
}

static void test_join_leave_stop(void **state) {
  (void)state;
  fixture *f = setup_members(0);
  tr_node *n = f->n;
  for (int i = 0; i < 3; i++)
    assert_tr_ok(tr_node_group_join(n, member_id[i], "workers"));
  assert_tr_ok(tr_node_group_join(n, "m0", "workers")); /* twice: no-op */
  assert_tr_ok(tr_node_group_join(n, "m0", "cache"));
  assert_int_equal(tr_group_count(n, "workers", 0), 3);
  assert_int_equal(tr_group_count(n, "workers", 1), 3);
  assert_int_equal(tr_group_count(n, "cache", 0), 1);
  assert_int_equal(tr_group_count(n, "nosuch", 0), 0);
  assert_int_equal(tr_group_members(n, NULL, 0, NULL, NULL), 4);
  assert_int_equal(tt_stats(n).group_members, 4);

  assert_tr_ok(tr_node_group_leave(n, "m1", "workers"));
  assert_tr(TR_ENOTFOUND, tr_node_group_leave(n, "m1", "workers"));
  assert_tr(TR_ENOTFOUND, tr_node_group_leave(n, "m3", "cache"));
  assert_int_equal(tr_group_count(n, "workers", 0), 2);
  /* A stop leaves every group at once. */
  assert_tr_ok(tr_node_stop_actor(n, "m0"));
  ASSERT_RUN_UNTIL_IDLE(n);
  assert_int_equal(tr_group_count(n, "workers", 0), 1);
  assert_int_equal(tr_group_count(n, "cache", 0), 0);
  assert_int_equal(tt_stats(n).group_members, 1);

  /* From inside an actor. */
  assert_tr_ok(drive(f, "join:workers"));
  assert_int_equal(tr_group_count(n, "workers", 0), 2);
  assert_tr_ok(drive(f, "leave:workers"));
  assert_tr(TR_ENOTFOUND, drive(f, "leave:workers"));
  assert_tr(TR_ENOTFOUND, tr_node_group_join(n, "nobody", "workers"));
  teardown(f);
}

static void test_names(void **state) {
  (void)state;
  fixture *f = setup_members(0);
  tr_node *n = f->n;
  char longname[TR_GROUP_MAX + 2];
  memset(longname, 'g', sizeof(longname) - 1);
  longname[sizeof(longname) - 1] = '\0';
  assert_tr(TR_EINVAL, tr_node_group_join(n, "m0", ""));
  assert_tr(TR_EINVAL, tr_node_group_join(n, "m0", NULL));
  assert_tr(TR_EINVAL, tr_node_group_join(n, "m0", "two words"));
  assert_tr(TR_EINVAL, tr_node_group_join(n, "m0", "tab\there"));
  assert_tr(TR_EINVAL, tr_node_group_join(n, "m0", "$system"));
  assert_tr(TR_EINVAL, tr_node_group_join(n, "m0", longname));
  longname[TR_GROUP_MAX] = '\0'; /* exactly the maximum */
  assert_tr_ok(tr_node_group_join(n, "m0", longname));
  assert_tr(TR_EINVAL, tr_group_count(n, NULL, 0));
  assert_tr(TR_EINVAL, tr_group_count(n, "a b", 0));
  /* Name and id together over TR_GROUP_KEY_MAX. */
  char id[TR_ID_MAX + 1];
  memset(id, 'a', 200);
  id[200] = '\0';
  tt_probe big = {0};
  assert_tr_ok(tt_spawn(n, id, &big, 0));
  assert_tr_ok(tr_node_group_join(n, id, "short"));
  assert_tr(TR_EINVAL, tr_node_group_join(n, id, longname));
  teardown(f);
}

static void test_send_one_round_robin(void **state) {
  (void)state;
  fixture *f = setup_members(0);
  tr_node *n = f->n;
  assert_tr(TR_ENOTFOUND, drive(f, "send:workers:x"));
  uint64_t no_actor = tt_stats(n).dead[TR_DL_REJECTED_NO_ACTOR];
  assert_true(no_actor >= 1);
  for (int i = 0; i < 4; i++)
    assert_tr_ok(tr_node_group_join(n, member_id[i], "workers"));
  /* 400 sends, round robin: each member gets 100. */
  for (int k = 0; k < 400; k++) {
    char cmd[32];
    snprintf(cmd, sizeof(cmd), "send:workers:w%d", k);
    assert_tr_ok(drive(f, cmd));
  }
  for (int i = 0; i < 4; i++)
    assert_int_equal(f->m[i].by_type[TR_MSG_SEND], 100);
  /* The sender is the driver; the payload arrives intact. */
  assert_string_equal(f->m[0].rec[0].sender, "driver");
  assert_int_equal(f->m[0].rec[0].len, 2);
  teardown(f);
}

static void test_send_skips_full_then_efull(void **state) {
  (void)state;
  fixture *f = setup_members(2);
  tr_node *n = f->n;
  assert_tr_ok(tr_node_group_join(n, "m0", "g"));
  assert_tr_ok(tr_node_group_join(n, "m1", "g"));
  /* m0 full: every send goes to m1 until it is full too. */
  assert_tr_ok(tt_send_str(n, "m0", "a"));
  assert_tr_ok(tt_send_str(n, "m0", "b"));
  tr_node_stats before = tt_stats(n);
  /* Sends from outside actors, without running the loop. */
  assert_tr_ok(tr_node_group_send(n, "g", "x", 1));
  assert_tr_ok(tr_node_group_send(n, "g", "y", 1));
  assert_tr(TR_EFULL, tr_node_group_send(n, "g", "z", 1));
  tr_node_stats after = tt_stats(n);
  assert_int_equal(after.sent - before.sent, 2); /* z was not queued */
  assert_int_equal(after.dead[TR_DL_REJECTED_FULL] -
                       before.dead[TR_DL_REJECTED_FULL], 1);
  ASSERT_RUN_UNTIL_IDLE(n);
  assert_int_equal(f->m[0].by_type[TR_MSG_SEND], 2);
  assert_int_equal(f->m[1].by_type[TR_MSG_SEND], 2);
  assert_memory_equal(f->m[1].rec[0].data, "x", 1);
  assert_memory_equal(f->m[1].rec[1].data, "y", 1);
  /* Room again: sends go on. */
  assert_tr_ok(tr_node_group_send(n, "g", "w", 1));
  teardown(f);
}

static void test_ask_one(void **state) {
  (void)state;
  fixture *f = setup_members(0);
  tr_node *n = f->n;
  assert_tr(TR_ENOTFOUND, drive(f, "ask:g:q"));
  assert_tr_ok(tr_node_group_join(n, "m2", "g"));
  assert_tr_ok(drive(f, "ask:g:q1"));
  /* The driver got the reply from m2. */
  long replies = f->dp.by_type[TR_MSG_REPLY];
  assert_int_equal(replies, 1);
  tt_rec *r = NULL;
  for (int i = 0; i < TT_REC_MAX && i < f->dp.received; i++)
    if (f->dp.rec[i].type == TR_MSG_REPLY) r = &f->dp.rec[i];
  assert_non_null(r);
  assert_string_equal(r->sender, "m2");
  assert_memory_equal(r->data, "re:q1", 5);
  teardown(f);
}

/* Member probes keep only the first TT_REC_MAX records: look at env->group
 * directly. */
static int group_seen;
static char group_name[TR_GROUP_MAX + 1];
static int grouped_on_msg(tr_ctx *ctx, tt_probe *p, const tr_envelope *env) {
  (void)ctx;
  (void)p;
  if (env->type == TR_MSG_SEND && env->group) {
    group_seen++;
    snprintf(group_name, sizeof(group_name), "%s", env->group);
    assert_null(env->topic);
  }
  return 0;
}

static void test_broadcast(void **state) {
  (void)state;
  fixture *f = setup_members(1);
  tr_node *n = f->n;
  group_seen = 0;
  for (int i = 0; i < 4; i++) {
    f->m[i].on_msg = grouped_on_msg;
    assert_tr_ok(tr_node_group_join(n, member_id[i], "all"));
  }
  /* m3 full (the loop does not run in between): 3 reached, its miss
   * counted. From outside actors: no sender. */
  assert_tr_ok(tt_send_str(n, "m3", "filler"));
  assert_int_equal(tr_node_group_broadcast(n, "all", "hello", 5), 3);
  ASSERT_RUN_UNTIL_IDLE(n);
  assert_int_equal(group_seen, 3);
  assert_string_equal(group_name, "all");
  for (int i = 0; i < 3; i++) {
    tt_rec *r = &f->m[i].rec[0];
    assert_int_equal(r->len, 5);
    assert_memory_equal(r->data, "hello", 5);
    assert_false(r->has_sender);
  }
  /* One shared copy: the same payload pointer for all three. */
  assert_true(f->m[0].rec[0].data_ptr == f->m[1].rec[0].data_ptr);
  assert_true(f->m[1].rec[0].data_ptr == f->m[2].rec[0].data_ptr);
  tr_node_stats s = tt_stats(n);
  assert_int_equal(s.dead[TR_DL_GROUP_FULL], 1);
  assert_int_equal(s.group_broadcasts, 1);
  assert_int_equal(s.group_deliveries, 3);
  assert_int_equal(drive(f, "all:empty:x"), 0); /* nobody: 0, no error */
  /* From an actor: all 4 have room again; the sender is the driver. */
  assert_int_equal(drive(f, "all:all:y"), 4);
  assert_int_equal(group_seen, 7);
  assert_string_equal(f->m[0].rec[1].sender, "driver");
  assert_tr(TR_EINVAL, tr_node_group_broadcast(n, "bad name", "y", 1));
  teardown(f);
}

typedef struct seen_arg {
  int n;
  char ids[8][TR_ID_MAX + 1];
  char groups[8][TR_GROUP_MAX + 1];
} seen_arg;

static void collect(void *arg, const tr_group_member *m) {
  seen_arg *a = arg;
  assert_string_equal(m->node, "test-node");
  if (a->n < 8) {
    snprintf(a->ids[a->n], sizeof(a->ids[0]), "%s", m->id);
    snprintf(a->groups[a->n], sizeof(a->groups[0]), "%s", m->group);
  }
  a->n++;
}

static void test_list(void **state) {
  (void)state;
  fixture *f = setup_members(0);
  tr_node *n = f->n;
  assert_tr_ok(tr_node_group_join(n, "m1", "a"));
  assert_tr_ok(tr_node_group_join(n, "m2", "a"));
  assert_tr_ok(tr_node_group_join(n, "m2", "b"));
  seen_arg a = {0};
  assert_int_equal(tr_group_members(n, "a", 0, collect, &a), 2);
  assert_int_equal(a.n, 2);
  bool m1 = false, m2 = false;
  for (int i = 0; i < 2; i++) {
    assert_string_equal(a.groups[i], "a");
    m1 |= strcmp(a.ids[i], "m1") == 0;
    m2 |= strcmp(a.ids[i], "m2") == 0;
  }
  assert_true(m1 && m2);
  seen_arg all = {0};
  assert_int_equal(tr_group_members(n, NULL, 1, collect, &all), 3);
  teardown(f);
}

static void test_events(void **state) {
  (void)state;
  fixture *f = setup_members(0);
  tr_node *n = f->n;
  assert_tr_ok(drive(f, "watch:w"));
  assert_tr_ok(tr_node_group_join(n, "m0", "w"));
  assert_tr_ok(tr_node_group_join(n, "m1", "other")); /* not watched */
  assert_tr_ok(tr_node_group_join(n, "m0", "w"));     /* no-op: no event */
  assert_tr_ok(tr_node_stop_actor(n, "m0"));
  ASSERT_RUN_UNTIL_IDLE(n);
  assert_int_equal(f->dp.by_type[TR_MSG_GROUP_JOIN], 1);
  assert_int_equal(f->dp.by_type[TR_MSG_GROUP_LEAVE], 1);
  tt_rec *join = NULL, *leave = NULL;
  for (int i = 0; i < TT_REC_MAX && i < f->dp.received; i++) {
    if (f->dp.rec[i].type == TR_MSG_GROUP_JOIN) join = &f->dp.rec[i];
    if (f->dp.rec[i].type == TR_MSG_GROUP_LEAVE) leave = &f->dp.rec[i];
  }
  assert_non_null(join);
  assert_non_null(leave);
  assert_true(join < leave); /* in order */
  assert_string_equal(join->sender, TR_SYSTEM_PUBLISHER);
  assert_string_equal(join->topic, "group:w");
  /* "m0\0test-node\0" */
  assert_int_equal(join->len, 3 + strlen("test-node") + 1);
  assert_string_equal((const char *)join->data, "m0");
  assert_string_equal((const char *)join->data + 3, "test-node");
  assert_string_equal((const char *)leave->data, "m0");
  teardown(f);
}

static void test_policy(void **state) {
  (void)state;
  fixture *f = setup_members(0);
  tr_node *n = f->n;
  char err[128];
  assert_tr_ok(tr_node_set_policy(n,
                                  "default allow\n"
                                  "deny * join admin*\n"
                                  "deny * send group:secret\n",
                                  err, sizeof(err)));
  assert_tr(TR_EPERM, tr_node_group_join(n, "m0", "admins"));
  assert_tr_ok(tr_node_group_join(n, "m0", "workers"));
  assert_tr_ok(tr_node_group_join(n, "m1", "secret"));
  assert_tr(TR_EPERM, drive(f, "all:secret:x"));
  assert_int_equal(drive(f, "all:workers:x"), 1);
  /* A send to one member is judged as a send to that member. */
  assert_tr_ok(drive(f, "send:secret:x"));
  assert_string_equal(f->d.chosen, "m1");
  teardown(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_join_leave_stop),
      cmocka_unit_test(test_names),
      cmocka_unit_test(test_send_one_round_robin),
      cmocka_unit_test(test_send_skips_full_then_efull),
      cmocka_unit_test(test_ask_one),
      cmocka_unit_test(test_broadcast),
      cmocka_unit_test(test_list),
      cmocka_unit_test(test_events),
      cmocka_unit_test(test_policy),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
