/* test_roles.c — certificate roles against two cluster nodes in this
 * process (issue "trust", findings 4, 5 and 7): a viewer reads but may not
 * write; a node's certificate makes no operator requests; an operator's
 * certificate naming a node cannot take that node's link; a certificate
 * without a role is refused as a node and told why before the close; a
 * node does not start with a certificate that is not a node certificate
 * for its name. The attacker is a hand-held peer (wire_client.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pb_decode.h>

#include "cluster_harness.h"
#include "troupe_ops.h"
#include "wire_client.h"

#define SETTLE_MS 20000u

typedef struct fixture {
  tn_cluster *c;
  char dir[256];
  tr_op_target viewer;
} fixture;

static void path(char *out, size_t cap, fixture *f, const char *file) {
  snprintf(out, cap, "%s/%s", f->dir, file);
}

static char vcert[300], vkey[300], vca[300];

static int setup(void **state) {
  fixture *f = calloc(1, sizeof(*f));
  if (!f || tn_new_joined(&f->c, 2, NULL, SETTLE_MS) != 0) return -1;
  snprintf(f->dir, sizeof(f->dir), "%s", tn_dir(f->c));
  if (tn_write_client(f->c, "watcher", 0, "viewer") != 0 ||
      tn_write_client(f->c, "n1", 0, "operator") != 0 || /* n1's name! */
      tn_write_node_cert(f->c, "n7", 1) != 0 ||           /* no role */
      tn_write_node_cert(f->c, "n5", 0) != 0)             /* never joins */
    return -1;
  path(vca, sizeof(vca), f, "ca.pem");
  path(vcert, sizeof(vcert), f, "watcher.pem");
  path(vkey, sizeof(vkey), f, "watcher.key");
  f->viewer = (tr_op_target){.node = tn_addr(f->c, 0), .ca_file = vca,
                             .cert_file = vcert, .key_file = vkey,
                             .timeout_ms = 5000};
  assert_int_equal(tn_probe(f->c, 1, "echo"), 0);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  tn_free(f->c);
  free(f);
  return 0;
}

/* ---- a viewer reads, and only reads ------------------------------------------ */

static void count_member(void *arg, const tr_member *m, int self) {
  (void)m, (void)self;
  ++*(int *)arg;
}

static void a_viewer_reads_but_may_not_send_or_ask(void **state) {
  fixture *f = *state;
  int members = 0;
  tr_op_error err;
  assert_int_equal(tr_op_members(&f->viewer, count_member, &members, &err), 0);
  assert_int_equal(members, 2);
  tr_op_health_info h;
  assert_int_equal(tr_op_health(&f->viewer, &h, &err), 0);

  tr_cluster_stats before, after;
  assert_int_equal(tn_stats(f->c, 0, NULL, &before), 0);
  int rc = tr_op_send(&f->viewer, "echo", "hi", 2, &err);
  if (rc != TR_EPERM || err.reason != TR_OP_FAIL_NONE)
    fail_msg("viewer send: %s / %s (%s)", tr_errname(rc),
             tr_op_fail_name(err.reason), err.detail);
  rc = tr_op_ask(&f->viewer, "echo", "x", 1, 1000, NULL, NULL, &err);
  assert_int_equal(rc, TR_EPERM);
  assert_int_equal(err.reason, TR_OP_FAIL_NONE);
  assert_int_equal(tn_stats(f->c, 0, NULL, &after), 0);
  assert_int_equal(after.op_denied - before.op_denied, 2);
  assert_int_equal(tn_count_events(f->c, "send", "echo"), 0);
  assert_int_equal(tn_count_events(f->c, "ask", "echo"), 0);
}

/* ---- the hand-held peer --------------------------------------------------------- */

static wc *peer(fixture *f, const char *name, const char *certfile) {
  char ca[300], cert[300], key[300];
  path(ca, sizeof(ca), f, "ca.pem");
  snprintf(cert, sizeof(cert), "%s/%s.pem", f->dir, certfile);
  snprintf(key, sizeof(key), "%s/%s.key", f->dir, certfile);
  wc_opts o = {.name = name, .ca_file = ca, .cert_file = cert,
               .key_file = key};
  wc *w = NULL;
  assert_int_equal(wc_new(&w, &o), 0);
  return w;
}

static bool got_frame(wc *w, void *arg) {
  (void)arg;
  return wc_nframes(w) > 0;
}

static bool refused(wc *w, void *arg) {
  (void)arg;
  return wc_seed_failure(w)->reason != LINK_CLOSE_NONE;
}

/* Finding 5: an operator request over a node's certificate is answered
 * TR_EPERM, and nothing is sent. */
static void a_node_certificate_makes_no_operator_requests(void **state) {
  fixture *f = *state;
  wc *w = peer(f, "n5", "n5");
  troupe_OpRequest req = troupe_OpRequest_init_zero;
  req.has_verb = req.has_id = req.has_target = true;
  req.verb = troupe_OpVerb_OP_SEND;
  req.id = 7;
  snprintf(req.target, sizeof(req.target), "echo");
  assert_int_equal(wc_seed_frame(w, tn_addr(f->c, 0),
                                 troupe_FrameKind_FRAME_OPERATOR, &req,
                                 troupe_OpRequest_fields),
                   0);
  assert_true(wc_run(w, got_frame, NULL, SETTLE_MS));
  const wc_frame *fr = wc_frame_at(w, 0);
  assert_int_equal(fr->kind, troupe_FrameKind_FRAME_OPERATOR_REPLY);
  troupe_OpReply r = troupe_OpReply_init_zero;
  pb_istream_t in = pb_istream_from_buffer(fr->body, fr->len);
  assert_true(pb_decode(&in, troupe_OpReply_fields, &r));
  assert_int_equal(r.id, 7);
  assert_int_equal(r.status, TR_EPERM);
  assert_int_equal(tn_count_events(f->c, "send", "echo"), 0);
  wc_free(w);
}

static void send_ping(fixture *f, wc *w) {
  troupe_SwimMsg m = troupe_SwimMsg_init_zero;
  m.has_type = m.has_sender = true;
  m.type = 4; /* SWIM_MSG_SYNC_REQ; never read: the hello is refused first */
  snprintf(m.sender, sizeof(m.sender), "x");
  assert_int_equal(wc_seed_frame(w, tn_addr(f->c, 0),
                                 troupe_FrameKind_FRAME_SWIM, &m,
                                 troupe_SwimMsg_fields),
                   0);
}

/* Finding 4: an operator's certificate whose CN is a node's name cannot
 * link as that node: refused at its hello, told why; the real node's link
 * and traffic are untouched. */
static void an_operator_certificate_cannot_take_a_node_link(void **state) {
  fixture *f = *state;
  wc *w = peer(f, "n1", "n1"); /* the operator certificate named n1 */
  send_ping(f, w);
  assert_true(wc_run(w, refused, NULL, SETTLE_MS));
  const link_seed_failure *why = wc_seed_failure(w);
  assert_int_equal(why->reason, LINK_CLOSE_HELLO);
  assert_int_equal(why->refused_by, LINK_REFUSED_BY_PEER);
  if (!strstr(wc_seed_detail(w), "n1"))
    fail_msg("the refusal does not say why: \"%s\"", wc_seed_detail(w));
  wc_free(w);
  /* n0 still reaches the real n1. */
  tr_peer_stats ps;
  assert_int_equal(tn_peer(f->c, 0, "n1", &ps), 0);
  assert_true(ps.up);
  assert_int_equal(tn_probe(f->c, 0, "sender"), 0);
  assert_int_equal(tn_cmd(f->c, 0, "sender", "send echo after-attack"), 0);
  assert_true(tn_wait_find(f->c, "send", "echo", "after-attack", false, 0,
                           SETTLE_MS) >= 0);
}

/* A certificate signed by the cluster CA with a node's key usage but no
 * role is refused as a node, and told why. */
static void a_certificate_without_a_role_is_refused_as_a_node(void **state) {
  fixture *f = *state;
  wc *w = peer(f, "n7", "n7");
  send_ping(f, w);
  assert_true(wc_run(w, refused, NULL, SETTLE_MS));
  assert_int_equal(wc_seed_failure(w)->reason, LINK_CLOSE_HELLO);
  assert_int_equal(wc_seed_failure(w)->refused_by, LINK_REFUSED_BY_PEER);
  assert_non_null(strstr(wc_seed_detail(w), "n7"));
  assert_int_equal(tn_member_state(f->c, 0, "n7"), -1); /* never known */
  wc_free(w);
}

/* Finding 7: a node does not start with a certificate that is not a node
 * certificate for its name: an operator's, one without a role, another
 * node's. */
static void a_node_starts_only_with_a_node_certificate_for_its_name(
    void **state) {
  fixture *f = *state;
  const char *cases[][2] = {{"n1", "n1"},  /* operator certificate */
                            {"n7", "n7"},  /* no role */
                            {"n6", "n5"}}; /* n5's node certificate */
  for (size_t i = 0; i < 3; i++) {
    char ca[300], cert[300], key[300];
    path(ca, sizeof(ca), f, "ca.pem");
    snprintf(cert, sizeof(cert), "%s/%s.pem", f->dir, cases[i][1]);
    snprintf(key, sizeof(key), "%s/%s.key", f->dir, cases[i][1]);
    tr_node_config cfg = {.name = cases[i][0], .listen = "127.0.0.1:0",
                          .ca_file = ca, .cert_file = cert, .key_file = key};
    tr_node *n = NULL;
    int rc = tr_node_new(&n, &cfg);
    if (rc != TR_EINVAL)
      fail_msg("node %s with %s's certificate: %s, want TR_EINVAL",
               cases[i][0], cases[i][1], tr_errname(rc));
    assert_null(n);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(a_viewer_reads_but_may_not_send_or_ask),
      cmocka_unit_test(a_node_certificate_makes_no_operator_requests),
      cmocka_unit_test(an_operator_certificate_cannot_take_a_node_link),
      cmocka_unit_test(a_certificate_without_a_role_is_refused_as_a_node),
      cmocka_unit_test(a_node_starts_only_with_a_node_certificate_for_its_name),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
