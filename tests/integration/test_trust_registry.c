/* test_trust_registry.c — an owner speaks only for its registry set (issue
 * "trust", finding 2): three nodes in this process, each running a probe
 * actor "echo<i>", and a fourth party, "evil", holding a good node
 * certificate from the cluster CA, that sends crafted registry frames:
 *   - a full set for owner n1 listing echo2, sent to n2 (it made n2 stop
 *     its real echo2 before);
 *   - an empty set for owner n2 at version 2^62 (it removed echo2
 *     everywhere and made n2's later changes look old);
 *   - a batch for n2 removing echo2, sealed with evil's own key;
 *   - a digest saying evil holds n2's set at version 2^62;
 *   - a batch for n2 removing echo2's membership of a group, sealed with
 *     evil's key (docs/groups.md).
 * After each, echo2 still resolves to n2 on every node and answers asks,
 * n2's next claim still spreads, and the counters (forged_entries,
 * proofs_refused) and the log (registry_proof_refused) show the attempt.
 * The attacker is a hand-held peer (wire_client.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_harness.h"
#include "codec.h"
#include "tls.h"
#include "wire_client.h"

#define SETTLE_MS 20000u

typedef struct fixture {
  tn_cluster *c;
  wc *evil;          /* talks to every node */
  tls_config *evil_key; /* to seal as evil (tls_sign) */
  int next_probe;
} fixture;

static bool all_resolve(tn_cluster *c, void *arg) {
  const char *const *w = arg; /* {id, owner} */
  for (size_t i = 0; i < tn_count(c); i++) {
    char owner[64];
    if (tn_locate(c, i, w[0], owner, sizeof(owner)) != 0 ||
        strcmp(owner, w[1]) != 0)
      return false;
  }
  return true;
}

static int setup(void **state) {
  fixture *f = calloc(1, sizeof(*f));
  if (!f || tn_new_joined(&f->c, 3, NULL, SETTLE_MS) != 0) return -1;
  if (tn_attacker(f->c, "evil", &f->evil, &f->evil_key) != 0) return -1;
  char id[16];
  for (size_t i = 0; i < 3; i++) {
    snprintf(id, sizeof(id), "echo%zu", i);
    if (tn_probe(f->c, i, id) != 0) return -1;
  }
  if (tn_probe(f->c, 0, "asker") != 0) return -1;
  const char *w[2] = {"echo2", "n2"};
  if (tn_wait(f->c, all_resolve, (void *)w, SETTLE_MS) < 0) return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  wc_free(f->evil);
  tls_config_free(f->evil_key);
  tn_free(f->c);
  free(f);
  return 0;
}

/* Sends m to node i as evil. */
static void send_reg(fixture *f, size_t i, const reg_msg *m) {
  troupe_RegMsg pb;
  assert_int_equal(ccodec_reg_prepare(&pb, m), 0);
  peer_link *lk = wc_link(f->evil, tn_name(f->c, i));
  if (lk)
    assert_int_equal(link_send_frame(lk, troupe_FrameKind_FRAME_REGISTRY, &pb,
                                     troupe_RegMsg_fields),
                     0);
  else
    assert_int_equal(wc_seed_frame(f->evil, tn_addr(f->c, i),
                                   troupe_FrameKind_FRAME_REGISTRY, &pb,
                                   troupe_RegMsg_fields),
                     0);
}

static uint64_t epoch_of(fixture *f, size_t seen_by, const char *name) {
  tr_member m;
  assert_int_equal(tn_member(f->c, seen_by, name, &m), 0);
  return m.epoch;
}

typedef struct want {
  tn_cluster *c;
  size_t node;
  uint64_t forged, refused;
} want;

static bool counters_reached(wc *unused, void *arg) {
  (void)unused;
  want *w = arg;
  tr_cluster_stats cs;
  if (tn_stats(w->c, w->node, NULL, &cs) != 0) return false;
  return cs.forged_entries >= w->forged && cs.proofs_refused >= w->refused;
}

static want counters_now(fixture *f, size_t i) {
  tr_cluster_stats cs;
  assert_int_equal(tn_stats(f->c, i, NULL, &cs), 0);
  want w = {.c = f->c, .node = i, .forged = cs.forged_entries,
            .refused = cs.proofs_refused};
  return w;
}

/* echo2 resolves to n2 everywhere and answers an ask from n0; a new claim
 * of n2's spreads to every node. */
static void n2_unharmed(fixture *f, const char *tag) {
  const char *w[2] = {"echo2", "n2"};
  if (tn_wait(f->c, all_resolve, (void *)w, 2000) < 0)
    fail_msg("%s: echo2 no longer resolves to n2 everywhere", tag);
  assert_int_equal(tn_ask(f->c, 0, "asker", "echo2", tag, SETTLE_MS), 0);
  char id[32];
  snprintf(id, sizeof(id), "later%d", f->next_probe++);
  assert_int_equal(tn_probe(f->c, 2, id), 0);
  const char *wl[2] = {id, "n2"};
  if (tn_wait(f->c, all_resolve, (void *)wl, SETTLE_MS) < 0)
    fail_msg("%s: n2's next claim %s did not spread", tag, id);
  assert_int_equal(tn_count_events(f->c, "down", NULL), 0);
}

static void full_sets_not_from_their_owner_are_refused(void **state) {
  fixture *f = *state;
  /* A set for n1 listing echo2, to n2; an empty set for n2 at 2^62, to
   * n0 and n1. */
  const char *ids[1] = {"echo2"};
  reg_digest dg = {.epoch = epoch_of(f, 2, "n1"), .version = 1ull << 40};
  strcpy(dg.owner, "n1");
  reg_msg m = {.type = REG_MSG_SET, .digests = &dg, .ndigests = 1,
               .ids = ids, .nids = 1};
  strcpy(m.sender, "evil");
  want w = counters_now(f, 2);
  w.forged++;
  send_reg(f, 2, &m);
  if (!wc_run(f->evil, counters_reached, &w, SETTLE_MS))
    fail_msg("n2 did not refuse a set for n1 from evil");
  n2_unharmed(f, "set-for-n1");

  strcpy(dg.owner, "n2");
  dg.version = 1ull << 62;
  m.nids = 0;
  m.ids = NULL;
  for (size_t i = 0; i < 2; i++) {
    dg.epoch = epoch_of(f, i, "n2");
    w = counters_now(f, i);
    w.forged++;
    send_reg(f, i, &m);
    if (!wc_run(f->evil, counters_reached, &w, SETTLE_MS))
      fail_msg("n%zu did not refuse an empty set for n2 from evil", i);
  }
  n2_unharmed(f, "empty-set-for-n2");
}

/* Sends n0 versions 1..64 of n2's set, each removing `id`, sealed with
 * evil's key: whatever n2 is at, some are news, so the seal is checked;
 * waits until n0 refused them all and logged it. */
static void send_removals_sealed_by_evil(fixture *f, const char *id) {
  enum { N = 64 };
  static reg_delta d[N];
  const reg_delta *ds[N];
  reg_seal seal = {.first = 1, .last = N};
  strcpy(seal.owner, "n2");
  seal.epoch = epoch_of(f, 0, "n2");
  for (int k = 0; k < N; k++) {
    memset(&d[k], 0, sizeof(d[k]));
    strcpy(d[k].owner, "n2");
    snprintf(d[k].id, sizeof(d[k].id), "%s", id);
    d[k].epoch = seal.epoch;
    d[k].version = (uint64_t)k + 1;
    d[k].removed = 1;
    ds[k] = &d[k];
  }
  static uint8_t buf[65536];
  size_t len = reg_seal_bytes(&seal, ds, buf);
  uint8_t proof[REG_PROOF_MAX];
  size_t plen = 0;
  assert_int_equal(tls_sign(f->evil_key, buf, len, proof, sizeof(proof),
                            &plen),
                   0);
  seal.proof = proof;
  seal.proof_len = (uint16_t)plen;
  reg_msg m = {.type = REG_MSG_DELTAS, .deltas = d, .ndeltas = N,
               .seals = &seal, .nseals = 1};
  strcpy(m.sender, "evil");
  size_t logged = tn_log_count(f->c, 0, "registry_proof_refused", NULL, 0);
  want w = counters_now(f, 0);
  w.forged += N;
  w.refused++;
  send_reg(f, 0, &m);
  if (!wc_run(f->evil, counters_reached, &w, SETTLE_MS))
    fail_msg("n0 did not refuse a batch for n2 sealed by evil");
  char fields[256];
  assert_true(tn_log_count(f->c, 0, "registry_proof_refused", fields,
                           sizeof(fields)) > logged);
  assert_non_null(strstr(fields, "owner=n2"));
  assert_non_null(strstr(fields, "from=evil"));
}

static void a_batch_sealed_by_another_is_refused_and_logged(void **state) {
  fixture *f = *state;
  send_removals_sealed_by_evil(f, "echo2");
  n2_unharmed(f, "batch-sealed-by-evil");
}

static bool never(wc *unused, void *arg) {
  (void)unused;
  (void)arg;
  return false;
}

static void a_digest_cannot_inflate_an_owners_version(void **state) {
  fixture *f = *state;
  reg_digest dg = {.epoch = epoch_of(f, 1, "n2"), .version = 1ull << 62};
  strcpy(dg.owner, "n2");
  reg_msg m = {.type = REG_MSG_DIGEST, .digests = &dg, .ndigests = 1};
  strcpy(m.sender, "evil");
  for (int k = 0; k < 5; k++) send_reg(f, 1, &m);
  /* Nothing to count: n1 asks n2, and n2 answers with what it has. The
   * proof is that n2's next changes still apply on n1. */
  wc_run(f->evil, never, NULL, 300);
  n2_unharmed(f, "digest-inflating-n2");
}

static int do_group_count(tr_node *n, void *arg) {
  return tr_group_count(n, (const char *)arg, 0);
}

static bool one_member_everywhere(tn_cluster *c, void *arg) {
  for (size_t i = 0; i < tn_count(c); i++)
    if (tn_call(c, i, do_group_count, arg) != 1) return false;
  return true;
}

/* A group membership is a registry key its node speaks for: another cannot
 * remove it (docs/groups.md). */
static void a_group_membership_cannot_be_removed_by_another(void **state) {
  fixture *f = *state;
  assert_int_equal(tn_cmd(f->c, 2, "echo2", "join guarded"), 0);
  if (tn_wait(f->c, one_member_everywhere, "guarded", SETTLE_MS) < 0)
    fail_msg("echo2's join of guarded did not spread");
  /* Past the penalty of evil's earlier forgery, so this seal is checked
   * (and refused) rather than ignored. */
  wc_run(f->evil, never, NULL, REG_PROOF_PENALTY_MS + 200);
  send_removals_sealed_by_evil(f, "$g:guarded echo2");
  assert_true(one_member_everywhere(f->c, "guarded"));
  assert_int_equal(tn_call(f->c, 0, do_group_count, "guarded"), 1);
  n2_unharmed(f, "group-removal-sealed-by-evil");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(full_sets_not_from_their_owner_are_refused),
      cmocka_unit_test(a_batch_sealed_by_another_is_refused_and_logged),
      cmocka_unit_test(a_digest_cannot_inflate_an_owners_version),
      cmocka_unit_test(a_group_membership_cannot_be_removed_by_another),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
