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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(invalid_config_is_rejected_with_einval),
      cmocka_unit_test(missing_certificate_files_fail_and_leave_nothing),
      cmocka_unit_test(free_of_null_is_a_noop),
      cmocka_unit_test(local_node_answers_the_cluster_calls),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
