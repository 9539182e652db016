/* test_rolling_inproc.c — a rolling upgrade in one process (issue 20, item
 * 5; docs/transport.md, "Versions"): n2 announces the next wire version in
 * its hellos and appends fields this version does not know to every
 * envelope it sends. Membership, the registry, sends, asks and pub/sub keep
 * working in both directions; an envelope type this version does not know
 * is counted and logged, and the link stays up. A node two versions ahead
 * is refused, with the reason on both sides. Every wait is bounded. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "host.h" /* first: it picks uthash's hash function */
#include "cluster_harness.h"
#include "eng_node.h"

#define JOIN_MS 15000u
#define SETTLE_MS 20000u

/* Fields a later version might add: 15 (a varint) and 16 (bytes). */
static const uint8_t FUTURE[] = {0x78, 0x2a, 0x82, 0x01, 0x03, 'n', 'e', 'w'};

typedef struct emulate {
  size_t node;
  uint32_t version;
} emulate;

static void setup(tr_node *n, size_t i, void *arg) {
  const emulate *e = arg;
  if (i != e->node) return;
  cluster *c = eng_remote_user(n);
  assert_int_equal(link_mgr_emulate(c->links, e->version, FUTURE,
                                    sizeof(FUTURE)),
                   0);
}

typedef struct where {
  const char *id, *owner;
} where;

static bool resolved_everywhere(tn_cluster *c, void *arg) {
  where *w = arg;
  for (size_t i = 0; i < tn_count(c); i++) {
    char owner[TR_ID_MAX + 1];
    if (tn_locate(c, i, w->id, owner, sizeof(owner)) != 0 ||
        strcmp(owner, w->owner) != 0)
      return false;
  }
  return true;
}

static void run_cmd(tn_cluster *c, size_t i, const char *actor,
                    const char *cmd) {
  assert_int_equal(tn_cmd(c, i, actor, cmd), 0);
  if (tn_wait_find(c, "cmd", actor, cmd, true, 0, SETTLE_MS) < 0)
    fail_msg("%s did not run \"%s\"", actor, cmd);
}

static void wait_event(tn_cluster *c, const char *kind, const char *actor,
                       const char *data) {
  if (tn_wait_find(c, kind, actor, data, false, 0, SETTLE_MS) < 0)
    fail_msg("%s never got %s \"%s\"", actor, kind, data);
}

typedef struct unknown_env {
  const char *to;
} unknown_env;

/* A newer node's envelope of a type this version does not know (99). */
static int do_unknown(tr_node *n, void *arg) {
  cluster *c = eng_remote_user(n);
  host_peer *p = host_peer_find(c, ((unknown_env *)arg)->to);
  if (!p) return TR_ENOTFOUND;
  return host_send_env(c, p, 99, "p2", "p0", 0, 0, "?", 1);
}

static bool rejected_grew(tn_cluster *c, void *arg) {
  tr_cluster_stats cs;
  return tn_stats(c, 0, NULL, &cs) == 0 && cs.rejected > *(uint64_t *)arg;
}

static void test_next_version_interoperates(void **state) {
  (void)state;
  emulate e = {2, WIRE_VERSION + 1};
  tn_opts o = {.setup = setup, .setup_arg = &e};
  tn_cluster *c = NULL;
  /* Membership: all three see each other alive. */
  assert_int_equal(tn_new_joined(&c, 3, &o, JOIN_MS), 0);
  assert_int_equal(tn_probe(c, 0, "p0"), 0);
  assert_int_equal(tn_probe(c, 2, "p2"), 0);
  /* The registry, both ways. */
  where w0 = {"p0", "n0"}, w2 = {"p2", "n2"};
  assert_true(tn_wait(c, resolved_everywhere, &w0, SETTLE_MS) >= 0);
  assert_true(tn_wait(c, resolved_everywhere, &w2, SETTLE_MS) >= 0);
  /* Sends and asks, both ways. */
  run_cmd(c, 0, "p0", "send p2 to-new");
  wait_event(c, "send", "p2", "to-new");
  run_cmd(c, 2, "p2", "send p0 to-old");
  wait_event(c, "send", "p0", "to-old");
  run_cmd(c, 0, "p0", "ask p2 q-new");
  wait_event(c, "reply", "p0", "re:q-new");
  run_cmd(c, 2, "p2", "ask p0 q-old");
  wait_event(c, "reply", "p2", "re:q-old");
  /* Pub/sub, both ways. */
  run_cmd(c, 0, "p0", "subt p2 news");
  run_cmd(c, 2, "p2", "subt p0 olds");
  for (int k = 0; k < 200 && !tn_find(c, "publish", "p0", "n", false, 0, NULL);
       k++) {
    run_cmd(c, 2, "p2", "pub news n");
    tn_wait_events(c, "publish", "p0", 1, 50);
  }
  wait_event(c, "publish", "p0", "n");
  for (int k = 0; k < 200 && !tn_find(c, "publish", "p2", "o", false, 0, NULL);
       k++) {
    run_cmd(c, 0, "p0", "pub olds o");
    tn_wait_events(c, "publish", "p2", 1, 50);
  }
  wait_event(c, "publish", "p2", "o");
  /* An envelope type this version does not know: counted and logged, the
   * link stays up (a send after it arrives). */
  tr_cluster_stats cs;
  assert_int_equal(tn_stats(c, 0, NULL, &cs), 0);
  uint64_t before = cs.rejected;
  size_t logged = tn_log_count(c, 0, "envelope_rejected", NULL, 0);
  unknown_env u = {"n0"};
  assert_int_equal(tn_call(c, 2, do_unknown, &u), 0);
  assert_true(tn_wait(c, rejected_grew, &before, SETTLE_MS) >= 0);
  char fields[256] = "";
  assert_true(tn_log_count(c, 0, "envelope_rejected", fields,
                           sizeof(fields)) > logged);
  assert_non_null(strstr(fields, "type=99"));
  run_cmd(c, 2, "p2", "send p0 after-unknown");
  wait_event(c, "send", "p0", "after-unknown");
  assert_int_equal(tn_members_in(c, 0, TR_MEMBER_ALIVE), 3);
  tn_free(c);
}

typedef struct logged_want {
  size_t node;
  const char *event;
} logged_want;

static bool has_log(tn_cluster *c, void *arg) {
  logged_want *w = arg;
  return tn_log_count(c, w->node, w->event, NULL, 0) > 0;
}

/* Two versions ahead: refused by n0 with the versions in its log line, and
 * n1 is told why (the peer's Close: hello_refused_by_peer). */
static void test_two_versions_apart_is_refused(void **state) {
  (void)state;
  emulate e = {1, WIRE_VERSION + 2};
  tn_opts o = {.setup = setup, .setup_arg = &e};
  tn_cluster *c = NULL;
  assert_int_equal(tn_new(&c, 2, &o), 0);
  logged_want at0 = {0, "hello_refused"}, at1 = {1, "hello_refused_by_peer"};
  if (tn_wait(c, has_log, &at0, SETTLE_MS) < 0)
    fail_msg("n0 did not refuse a hello two versions ahead");
  if (tn_wait(c, has_log, &at1, SETTLE_MS) < 0)
    fail_msg("n1 was not told why");
  char fields[512] = "";
  tn_log_count(c, 0, "hello_refused", fields, sizeof(fields));
  assert_non_null(strstr(fields, "reason=wire_version"));
  tn_log_count(c, 1, "hello_refused_by_peer", fields, sizeof(fields));
  assert_non_null(strstr(fields, "speaks wire version"));
  assert_int_equal(tn_members_in(c, 0, TR_MEMBER_ALIVE), 1);
  tn_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_next_version_interoperates),
      cmocka_unit_test(test_two_versions_apart_is_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
