/* test_assembly.c — node/assembly: the public tr_node_new / tr_node_free
 * (the config of the node as a whole, a local node with no cluster made)
 * and the calls about the node as a whole answered by a local node, which
 * is a cluster of one. Links the whole library. */
#include "tr_test.h"

typedef struct tt_collect_members {
  tr_member *m;
  int cap;
  int *seen;
} tt_collect_members;

static void tt_collect_member(void *arg, const tr_member *m) {
  tt_collect_members *c = arg;
  if (*c->seen < c->cap) c->m[*c->seen] = *m;
  (*c->seen)++;
}

static void invalid_config_is_rejected_with_einval(void **st) {
  (void)st;
  tr_node *n = (tr_node *)&n; /* garbage the call must not keep */
  assert_tr(TR_EINVAL, tr_node_new(NULL, NULL));

  tr_node_config cfg = tt_config();
  cfg.name = ""; /* the engine's part */
  assert_tr(TR_EINVAL, tr_node_new(&n, &cfg));
  assert_null(n);

  cfg = tt_config();
  cfg.nseeds = 2; /* seeds without the array */
  assert_tr(TR_EINVAL, tr_node_new(&n, &cfg));

  const char *seeds[] = {"127.0.0.1:7000"};
  cfg = tt_config();
  cfg.seeds = seeds; /* seeds without a listen address */
  cfg.nseeds = 1;
  assert_tr(TR_EINVAL, tr_node_new(&n, &cfg));

  cfg = tt_config();
  cfg.ca_file = "ca.pem"; /* certificates without a listen address */
  assert_tr(TR_EINVAL, tr_node_new(&n, &cfg));

  cfg = tt_config();
  cfg.listen = "127.0.0.1:0"; /* a listen address without certificates */
  assert_tr(TR_EINVAL, tr_node_new(&n, &cfg));
  assert_null(n);

  const char *tags[] = {"zone=a"};
  cfg = tt_config();
  cfg.ntags = 1; /* tags without the array */
  assert_tr(TR_EINVAL, tr_node_new(&n, &cfg));
  cfg.tags = tags; /* tags without a listen address */
  assert_tr(TR_EINVAL, tr_node_new(&n, &cfg));
  assert_null(n);
}

static void member_tag_finds_a_key_and_only_a_whole_one(void **st) {
  (void)st;
  tr_member m = {.state = TR_MEMBER_ALIVE};
  snprintf(m.tags, sizeof(m.tags), "empty=,rack=r1,zone=eu-1.a");
  const char *v = NULL;
  size_t len = 99;
  assert_tr(0, tr_member_tag(&m, "zone", &v, &len));
  assert_int_equal(6, len);
  assert_memory_equal("eu-1.a", v, len);
  assert_tr(0, tr_member_tag(&m, "rack", &v, &len));
  assert_int_equal(2, len);
  assert_memory_equal("r1", v, 2);
  assert_tr(0, tr_member_tag(&m, "empty", &v, &len));
  assert_int_equal(0, len);
  assert_tr(TR_ENOTFOUND, tr_member_tag(&m, "zon", &v, &len));
  assert_tr(TR_ENOTFOUND, tr_member_tag(&m, "zone=eu", &v, &len));
  assert_tr(TR_ENOTFOUND, tr_member_tag(&m, "", &v, &len));
  assert_tr(TR_EINVAL, tr_member_tag(NULL, "zone", &v, &len));
  m.tags[0] = '\0';
  assert_tr(TR_ENOTFOUND, tr_member_tag(&m, "zone", &v, &len));
}

static void missing_certificate_files_fail_and_leave_nothing(void **st) {
  (void)st;
  tr_node_config cfg = tt_config();
  cfg.listen = "127.0.0.1:0";
  cfg.ca_file = "/nonexistent/ca.pem";
  cfg.cert_file = "/nonexistent/node.pem";
  cfg.key_file = "/nonexistent/node.key";
  tr_node *n = NULL;
  int rc = tr_node_new(&n, &cfg);
  if (rc != TR_ETLS && rc != TR_EINVAL)
    fail_msg("expected TR_ETLS or TR_EINVAL, got %s", tr_errname(rc));
  assert_null(n);
}

static void free_of_null_is_a_noop(void **st) {
  (void)st;
  tr_node_free(NULL);
}

/* A local node is a cluster of one: it lists itself, locates its own
 * actors, has no cluster counters, and reserves the system publisher's id. */
static void local_node_answers_the_cluster_calls(void **st) {
  (void)st;
  tr_node_config cfg = tt_config();
  cfg.name = "lonely";
  tr_node *n = tt_node_new(&cfg);
  tr_member m[2];
  int seen = 0;
  tt_collect_members cm = {m, 2, &seen};
  assert_int_equal(tr_node_members(n, tt_collect_member, &cm), 1);
  assert_int_equal(seen, 1);
  assert_string_equal(m[0].name, "lonely");
  assert_int_equal(m[0].state, TR_MEMBER_ALIVE);
  assert_null(tr_node_address(n));
  assert_int_equal(tr_node_members(n, NULL, NULL), 1);
  assert_string_equal(tr_member_state_name(m[0].state), "alive");
  assert_string_equal(tr_member_state_name(TR_MEMBER_LEFT), "left");
  tr_cluster_stats cs;
  assert_tr(TR_ESTATE, tr_node_cluster_stats(n, &cs));
  char owner[TR_ID_MAX + 1];
  assert_tr(TR_ENOTFOUND, tr_node_locate(n, "nobody", owner, sizeof(owner)));
  tt_probe p = {0};
  assert_tr_ok(tt_spawn(n, "here", &p, 0));
  assert_tr_ok(tr_node_locate(n, "here", owner, sizeof(owner)));
  assert_string_equal(owner, "lonely");
  assert_tr(TR_EINVAL, tr_node_locate(n, "here", owner, 3)); /* too small */
  tr_spawn_opts o = {.id = TR_SYSTEM_PUBLISHER};
  assert_tr(TR_EINVAL, tr_node_spawn(n, tt_probe_type(), &o));
  assert_int_equal(tr_node_ready(n), 1);
  assert_tr(TR_ESTATE, tr_node_reload_tls(n));
  tr_peer_stats ps;
  assert_tr(TR_ESTATE, tr_node_peer_stats(n, "other", &ps));
  assert_int_equal(tr_node_peers(n, NULL, NULL), 0);
  tr_transport_stats ts;
  memset(&ts, 0xab, sizeof(ts));
  assert_tr_ok(tr_node_transport_stats(n, &ts));
  assert_int_equal(ts.links, 0);
  assert_int_equal(ts.accepted, 0);
  tr_node_free(n);
}

/* ---- a local node's inspect: monitors and recent dead letters --------- */

#include "troupe_inspect.h"

typedef struct insp_seen {
  char mons[8][80]; /* "watcher@node>target@node" */
  int nmons;
  char dead[8][80]; /* "reason from>to len" */
  int ndead;
  unsigned left_what;
  uint32_t left_more;
  int done;
} insp_seen;

static void insp_monitor(void *arg, const char *node,
                         const tr_monitor_info *m) {
  insp_seen *s = arg;
  assert_string_equal(node, "lonely");
  if (s->nmons < 8)
    snprintf(s->mons[s->nmons++], sizeof(s->mons[0]), "%s@%s>%s@%s",
             m->watcher, m->watcher_node, m->target, m->target_node);
}

static void insp_dead(void *arg, const char *node, const tr_dead_letter *d) {
  insp_seen *s = arg;
  assert_string_equal(node, "lonely");
  if (s->ndead < 8)
    snprintf(s->dead[s->ndead++], sizeof(s->dead[0]), "%s %s>%s %u",
             tr_dead_reason_name(d->reason), d->from ? d->from : "-",
             d->to ? d->to : "-", d->len);
}

static void insp_left_off(void *arg, const char *node, unsigned what,
                          uint32_t more) {
  (void)node;
  insp_seen *s = arg;
  s->left_what = what;
  s->left_more = more;
}

static void insp_done(void *arg) { ((insp_seen *)arg)->done++; }

static const tr_inspect_fns insp_fns = {.done = insp_done,
                                        .monitor = insp_monitor,
                                        .dead_letter = insp_dead,
                                        .left_off = insp_left_off};

static int monitor_on_cmd(tr_ctx *ctx, tt_probe *p, const tr_envelope *env) {
  (void)p;
  char cmd[64];
  if (env->type != TR_MSG_SEND || env->len >= sizeof(cmd)) return 0;
  memcpy(cmd, env->data, env->len);
  cmd[env->len] = '\0';
  if (strncmp(cmd, "mon ", 4) == 0) return tr_monitor(ctx, cmd + 4);
  if (strncmp(cmd, "send ", 5) == 0) {
    tr_send(ctx, cmd + 5, "hello", 5);
    return 0;
  }
  return 0;
}

/* Who watches whom, both ways, for one actor or all, cut to the limit
 * with the rest counted; the dead letters an actor sent or was sent. */
static void local_inspect_lists_monitors_and_dead_letters(void **st) {
  (void)st;
  tr_node_config cfg = tt_config();
  cfg.name = "lonely";
  tr_node *n = tt_node_new(&cfg);
  tt_probe a = {.on_msg = monitor_on_cmd}, b = {.on_msg = monitor_on_cmd},
           c = {.on_msg = monitor_on_cmd};
  assert_tr_ok(tt_spawn(n, "a", &a, 0));
  assert_tr_ok(tt_spawn(n, "b", &b, 0));
  assert_tr_ok(tt_spawn(n, "c", &c, 1));
  assert_tr_ok(tt_send_str(n, "a", "mon b")); /* a watches b */
  assert_tr_ok(tt_send_str(n, "c", "mon b")); /* c watches b */
  assert_tr_ok(tt_send_str(n, "b", "mon c")); /* b watches c */
  ASSERT_RUN_UNTIL(n, a.received == 1 && b.received == 1 && c.received == 1,
                   TT_ITERS, TT_MS);

  insp_seen s = {0};
  tr_inspect_query q = {.what = TR_INSPECT_MONITORS, .actor = "b"};
  assert_tr_ok(tr_node_inspect(n, &q, &insp_fns, &s, NULL));
  assert_int_equal(s.done, 1);
  assert_int_equal(s.nmons, 3); /* watched by a and c, watching c */
  qsort(s.mons, (size_t)s.nmons, sizeof(s.mons[0]),
        (int (*)(const void *, const void *))strcmp);
  assert_string_equal(s.mons[0], "a@lonely>b@lonely");
  assert_string_equal(s.mons[1], "b@lonely>c@lonely");
  assert_string_equal(s.mons[2], "c@lonely>b@lonely");
  assert_int_equal(s.left_more, 0);

  memset(&s, 0, sizeof(s));
  q = (tr_inspect_query){.what = TR_INSPECT_MONITORS, .actor = "a"};
  assert_tr_ok(tr_node_inspect(n, &q, &insp_fns, &s, NULL));
  assert_int_equal(s.nmons, 1);
  assert_string_equal(s.mons[0], "a@lonely>b@lonely");

  /* All of them, cut to 2: the third counted. */
  memset(&s, 0, sizeof(s));
  q = (tr_inspect_query){.what = TR_INSPECT_MONITORS, .limit = 2};
  assert_tr_ok(tr_node_inspect(n, &q, &insp_fns, &s, NULL));
  assert_int_equal(s.nmons, 2);
  assert_int_equal(s.left_what, TR_INSPECT_MONITORS);
  assert_int_equal(s.left_more, 1);

  /* c (1 slot) gets two sends from a in one turn: the second refused. */
  assert_tr_ok(tt_send_str(n, "a", "send c"));
  assert_tr_ok(tt_send_str(n, "a", "send c"));
  ASSERT_RUN_UNTIL(n, a.received == 3, TT_ITERS, TT_MS);
  ASSERT_RUN_UNTIL_IDLE(n);
  memset(&s, 0, sizeof(s));
  q = (tr_inspect_query){.what = TR_INSPECT_DEAD_LETTERS, .actor = "c"};
  assert_tr_ok(tr_node_inspect(n, &q, &insp_fns, &s, NULL));
  assert_int_equal(s.done, 1);
  assert_true(s.ndead >= 1);
  assert_string_equal(s.dead[0], "rejected_full a>c 5");
  memset(&s, 0, sizeof(s));
  q = (tr_inspect_query){.what = TR_INSPECT_DEAD_LETTERS, .actor = "b"};
  assert_tr_ok(tr_node_inspect(n, &q, &insp_fns, &s, NULL));
  assert_int_equal(s.ndead, 0);

  /* The monitors go with their actors. */
  assert_tr_ok(tr_node_stop_actor(n, "b"));
  ASSERT_RUN_UNTIL(n, b.deinits == 1, TT_ITERS, TT_MS);
  memset(&s, 0, sizeof(s));
  q = (tr_inspect_query){.what = TR_INSPECT_MONITORS};
  assert_tr_ok(tr_node_inspect(n, &q, &insp_fns, &s, NULL));
  assert_int_equal(s.nmons, 0);
  tr_node_free(n);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(invalid_config_is_rejected_with_einval),
      cmocka_unit_test(missing_certificate_files_fail_and_leave_nothing),
      cmocka_unit_test(free_of_null_is_a_noop),
      cmocka_unit_test(local_node_answers_the_cluster_calls),
      cmocka_unit_test(local_inspect_lists_monitors_and_dead_letters),
      cmocka_unit_test(member_tag_finds_a_key_and_only_a_whole_one),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
