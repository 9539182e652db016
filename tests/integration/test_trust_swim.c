/* test_trust_swim.c — a node speaks only for itself in membership (issue
 * "trust", finding 1): three nodes in this process and a fourth party,
 * "evil", holding a good node certificate from the cluster CA, that sends
 * crafted SWIM pings about n2 to n0 and n1. After each attack n2 stays
 * alive and up on both (no NODE_DOWN), its actors stay resolvable and
 * answer asks, and the counters show the attempt (forged_claims,
 * death_checks, proofs_refused) and the log the forged proof. The attacker
 * is a hand-held peer (wire_client.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "cluster_harness.h"
#include "codec.h"
#include "wire_client.h"

#define SETTLE_MS 20000u

typedef struct fixture {
  tn_cluster *c;
  wc *evil[2]; /* one per victim-facing node: n0, n1 */
  tls_config *evil_key; /* to sign as evil (tls_prove) */
  uint32_t seq;
} fixture;

static uint64_t wall_ms(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u;
}

static int setup(void **state) {
  fixture *f = calloc(1, sizeof(*f));
  if (!f || tn_new_joined(&f->c, 3, NULL, SETTLE_MS) != 0) return -1;
  if (tn_attacker(f->c, "evil", &f->evil[0], &f->evil_key) != 0 ||
      tn_attacker(f->c, "evil", &f->evil[1], NULL) != 0)
    return -1;
  /* n2's actor, asked from n0; n0 and n1 watch the system publisher. */
  if (tn_probe(f->c, 2, "victim") != 0 || tn_probe(f->c, 0, "asker") != 0 ||
      tn_probe(f->c, 0, "watch0") != 0 || tn_probe(f->c, 1, "watch1") != 0 ||
      tn_cmd(f->c, 0, "watch0", "sub $system") != 0 ||
      tn_cmd(f->c, 1, "watch1", "sub $system") != 0)
    return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  for (int i = 0; i < 2; i++) wc_free(f->evil[i]);
  tls_config_free(f->evil_key);
  tn_free(f->c);
  free(f);
  return 0;
}

/* A PING from evil to node i carrying evil's own record and `about`. */
static void forge(fixture *f, size_t i, swim_update about) {
  swim_update ups[2];
  memset(ups, 0, sizeof(ups));
  snprintf(ups[0].name, sizeof(ups[0].name), "evil");
  ups[0].epoch = wall_ms();
  ups[0].state = SWIM_ALIVE;
  ups[1] = about;
  swim_msg m;
  memset(&m, 0, sizeof(m));
  m.type = SWIM_MSG_PING;
  snprintf(m.sender, sizeof(m.sender), "evil");
  m.seq = ++f->seq;
  m.updates = ups;
  m.nupdates = 2;
  troupe_SwimMsg pb;
  assert_int_equal(ccodec_swim_prepare(&pb, &m), 0);
  const char *name = tn_name(f->c, i);
  peer_link *lk = wc_link(f->evil[i], name);
  if (lk)
    assert_int_equal(link_send_frame(lk, troupe_FrameKind_FRAME_SWIM, &pb,
                                     troupe_SwimMsg_fields), 0);
  else
    assert_int_equal(wc_seed_frame(f->evil[i], tn_addr(f->c, i),
                                   troupe_FrameKind_FRAME_SWIM, &pb,
                                   troupe_SwimMsg_fields), 0);
}

/* n2 as node i sees it, as a swim_update to forge from. */
static swim_update n2_seen_by(fixture *f, size_t i) {
  tr_member m;
  assert_int_equal(tn_member(f->c, i, "n2", &m), 0);
  swim_update u;
  memset(&u, 0, sizeof(u));
  snprintf(u.name, sizeof(u.name), "n2");
  snprintf(u.addr, sizeof(u.addr), "%s", m.addr);
  u.epoch = m.epoch;
  u.incarnation = m.incarnation;
  u.state = SWIM_ALIVE;
  return u;
}

typedef struct counter_want {
  tn_cluster *c;
  size_t node;
  uint64_t forged, checks, refused;
} counter_want;

/* A wc_run predicate: node w->node's counters reached w's. */
static bool counters_reached(wc *unused, void *arg) {
  (void)unused;
  counter_want *w = arg;
  tr_cluster_stats cs;
  if (tn_stats(w->c, w->node, NULL, &cs) != 0) return false;
  return cs.forged_claims >= w->forged && cs.death_checks >= w->checks &&
         cs.proofs_refused >= w->refused;
}

static void counters_now(fixture *f, size_t i, counter_want *w) {
  tr_cluster_stats cs;
  assert_int_equal(tn_stats(f->c, i, NULL, &cs), 0);
  w->c = f->c;
  w->node = i;
  w->forged = cs.forged_claims;
  w->checks = cs.death_checks;
  w->refused = cs.proofs_refused;
}

/* n2 is alive on n0 and n1, nobody saw it go down, and an ask from n0
 * still reaches it. */
static void n2_unharmed(fixture *f, const char *tag) {
  for (size_t i = 0; i < 2; i++) {
    int st = tn_member_state(f->c, i, "n2");
    if (st != TR_MEMBER_ALIVE && st != TR_MEMBER_SUSPECT)
      fail_msg("%s: n%zu holds n2 %s", tag, i,
               tr_member_state_name((tr_member_state)st));
  }
  assert_int_equal(tn_count_events(f->c, "node_down", "watch0"), 0);
  assert_int_equal(tn_count_events(f->c, "node_down", "watch1"), 0);
  char owner[64];
  assert_int_equal(tn_locate(f->c, 0, "victim", owner, sizeof(owner)), 0);
  assert_string_equal(owner, "n2");
  assert_int_equal(tn_ask(f->c, 0, "asker", "victim", tag, SETTLE_MS), 0);
}

/* Each claim only n2 may make, relayed by evil without n2's proof, is
 * refused and counted; n2 is unharmed. */
static void claims_only_n2_may_make_are_refused(void **state) {
  fixture *f = *state;
  struct {
    const char *what;
    uint8_t state;
    int epoch_up, inc_up;
  } claims[] = {{"dead at incarnation + 1", SWIM_DEAD, 0, 1},
                {"left at its incarnation", SWIM_LEFT, 0, 0},
                {"alive at epoch + 1 (a restart)", SWIM_ALIVE, 1, 0},
                {"suspect at incarnation + 1", SWIM_SUSPECT, 0, 1}};
  for (size_t k = 0; k < sizeof(claims) / sizeof(claims[0]); k++) {
    for (size_t i = 0; i < 2; i++) {
      counter_want w;
      counters_now(f, i, &w);
      swim_update u = n2_seen_by(f, i);
      u.state = claims[k].state;
      u.epoch += (uint64_t)claims[k].epoch_up;
      u.incarnation += (uint32_t)claims[k].inc_up;
      forge(f, i, u);
      w.forged++;
      /* Drive the attacker's loop until the node counted the claim. */
      if (!wc_run(f->evil[i], counters_reached, &w, SETTLE_MS))
        fail_msg("n%zu did not refuse \"n2 %s\"", i, claims[k].what);
    }
    n2_unharmed(f, claims[k].what);
  }
}

static bool n2_refuted(tn_cluster *c, void *arg) {
  const uint32_t *inc = arg;
  tr_member m;
  return tn_member(c, 0, "n2", &m) == 0 && m.state == TR_MEMBER_ALIVE &&
         m.incarnation > *inc;
}

/* A death at n2's own incarnation is a rumour anyone may start: n0 and n1
 * suspect n2 and probe it at once; n2 refutes; it never goes down. */
static void a_death_rumour_is_checked_and_refuted(void **state) {
  fixture *f = *state;
  swim_update u = n2_seen_by(f, 0);
  uint32_t inc = u.incarnation;
  counter_want w[2];
  for (size_t i = 0; i < 2; i++) {
    counters_now(f, i, &w[i]);
    w[i].checks++;
    u = n2_seen_by(f, i);
    u.state = SWIM_DEAD;
    forge(f, i, u);
  }
  for (size_t i = 0; i < 2; i++)
    if (!wc_run(f->evil[i], counters_reached, &w[i], SETTLE_MS))
      fail_msg("n%zu did not check the death of n2", i);
  assert_true(tn_wait(f->c, n2_refuted, &inc, SETTLE_MS) >= 0);
  n2_unharmed(f, "dead at its incarnation");
}

/* evil signs n2's restart with its own key, with its own certificate, and
 * relays it twice: n0 checks the first proof, refuses it, logs it with the
 * relayer's name, and does not spend a check on the second (evil is
 * penalized, SWIM_PROOF_PENALTY_MS). n2 is unharmed. */
static void a_proof_signed_by_another_is_refused_and_logged(void **state) {
  fixture *f = *state;
  swim_update u = n2_seen_by(f, 0);
  u.epoch++;
  uint8_t rec[SWIM_RECORD_MAX], proof[SWIM_PROOF_MAX];
  size_t proof_len = 0;
  size_t rec_len = swim_record_bytes(&u, rec);
  assert_int_equal(tls_prove(f->evil_key, rec, rec_len, proof, sizeof(proof),
                             &proof_len),
                   0);
  u.proof = proof;
  u.proof_len = (uint16_t)proof_len;
  counter_want w;
  counters_now(f, 0, &w);
  size_t logged = tn_log_count(f->c, 0, "swim_proof_refused", NULL, 0);
  uint64_t t0 = tn_now_ms();
  forge(f, 0, u);
  forge(f, 0, u);
  w.forged += 2;
  w.refused += 1;
  if (!wc_run(f->evil[0], counters_reached, &w, SETTLE_MS))
    fail_msg("n0 did not refuse the forged proof of n2's restart");
  tr_cluster_stats cs;
  assert_int_equal(tn_stats(f->c, 0, NULL, &cs), 0);
  /* Both frames were counted within the penalty: one check, one refusal. */
  if (tn_now_ms() - t0 < SWIM_PROOF_PENALTY_MS)
    assert_int_equal(cs.proofs_refused, w.refused);
  char fields[256];
  assert_true(tn_log_count(f->c, 0, "swim_proof_refused", fields,
                           sizeof(fields)) > logged);
  assert_non_null(strstr(fields, "member=n2"));
  assert_non_null(strstr(fields, "from=evil"));
  n2_unharmed(f, "restart signed by evil");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(claims_only_n2_may_make_are_refused),
      cmocka_unit_test(a_death_rumour_is_checked_and_refuted),
      cmocka_unit_test(a_proof_signed_by_another_is_refused_and_logged),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
