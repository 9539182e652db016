/* test_revoke.c — revocation (issue "trust", finding 6): three nodes in
 * this process load the CA's revocation list (empty at start). n2's
 * certificate is revoked and n0 and n1 reload: their links to n2 close at
 * once, n2's reconnections are refused as revoked, n2 is declared dead and
 * its actors leave the registry, and the attempt shows in the counters and
 * the log. The list emptied and reloaded again, n2 is let back in. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_harness.h"

#define SETTLE_MS 20000u

static int do_transport(tr_node *n, void *arg) {
  return tr_node_transport_stats(n, arg);
}

/* The index of a reason name in tls_refused / links_closed. */
static int tls_index(const char *name) {
  for (int i = 0; i < TR_TLS_FAIL_REASONS; i++)
    if (tr_tls_fail_reason_name(i) &&
        strcmp(tr_tls_fail_reason_name(i), name) == 0)
      return i;
  fail_msg("no TLS refusal reason %s", name);
  return -1;
}

static int close_index(const char *name) {
  for (int i = 0; i < TR_LINK_CLOSE_REASONS; i++)
    if (tr_link_close_reason_name(i) &&
        strcmp(tr_link_close_reason_name(i), name) == 0)
      return i;
  fail_msg("no close reason %s", name);
  return -1;
}

static tr_transport_stats transport(tn_cluster *c, size_t i) {
  tr_transport_stats ts;
  assert_int_equal(tn_call(c, i, do_transport, &ts), 0);
  return ts;
}

typedef struct seen {
  const char *name;
  int state;
} seen;

/* n0 and n1 both hold w->name in w->state. */
static bool both_see(tn_cluster *c, void *arg) {
  const seen *w = arg;
  return tn_member_state(c, 0, w->name) == w->state &&
         tn_member_state(c, 1, w->name) == w->state;
}

static bool refused_as_revoked(tn_cluster *c, void *arg) {
  const uint64_t *before = arg;
  return transport(c, 0).tls_refused[tls_index("revoked")] > *before;
}

static bool n0_resolves_echo2(tn_cluster *c, void *arg) {
  (void)arg;
  char owner[64];
  return tn_locate(c, 0, "echo2", owner, sizeof(owner)) == 0;
}

static void a_revoked_node_is_cut_off_and_let_back_in(void **state) {
  (void)state;
  tn_opts o = {.crl = true};
  tn_cluster *c = NULL;
  assert_int_equal(tn_new_joined(&c, 3, &o, SETTLE_MS), 0);
  assert_int_equal(tn_probe(c, 2, "echo2"), 0);
  assert_int_equal(tn_probe(c, 0, "asker"), 0);
  char owner[64];
  assert_true(tn_wait(c, n0_resolves_echo2, NULL, SETTLE_MS) >= 0);
  assert_int_equal(tn_ask(c, 0, "asker", "echo2", "before", SETTLE_MS), 0);
  tr_cluster_stats cs;
  assert_int_equal(tn_stats(c, 0, NULL, &cs), 0);
  assert_int_equal(cs.crl_entries, 0);
  assert_true(cs.crl_next_update > 0);

  /* n2 revoked: n0 and n1 reload, and their links to n2 close at once. */
  const char *revoked[] = {"n2"};
  assert_int_equal(tn_revoke(c, revoked, 1), 0);
  int closed = close_index("revoked");
  uint64_t closed_before = transport(c, 0).links_closed[closed];
  uint64_t refused_before = transport(c, 0).tls_refused[tls_index("revoked")];
  for (size_t i = 0; i < 2; i++) assert_int_equal(tn_reload_tls(c, i), 0);
  assert_true(transport(c, 0).links_closed[closed] > closed_before);
  assert_true(tn_log_count(c, 0, "peer_revoked", NULL, 0) >= 1);
  assert_int_equal(tn_stats(c, 0, NULL, &cs), 0);
  assert_int_equal(cs.crl_entries, 1);

  /* n2 keeps dialing; each attempt is refused as revoked. */
  if (tn_wait(c, refused_as_revoked, &refused_before, SETTLE_MS) < 0)
    fail_msg("n0 refused no handshake of n2's as revoked");
  /* n2 is declared dead by both, and its actor leaves the registry. */
  seen dead = {"n2", TR_MEMBER_DEAD};
  long took = tn_wait(c, both_see, &dead, 2 * SETTLE_MS);
  print_message("revoked n2 held dead by n0 and n1 %ld ms after the reload\n",
                took);
  if (took < 0)
    fail_msg("n0 and n1 do not hold the revoked n2 dead (n0: %d, n1: %d)",
             tn_member_state(c, 0, "n2"), tn_member_state(c, 1, "n2"));
  assert_int_equal(tn_locate(c, 0, "echo2", owner, sizeof(owner)),
                   TR_ENOTFOUND);
  assert_int_equal(tn_ask(c, 0, "asker", "echo2", "after", SETTLE_MS),
                   TR_ENOTFOUND);

  /* The list emptied and reloaded: n2 comes back. */
  assert_int_equal(tn_revoke(c, NULL, 0), 0);
  for (size_t i = 0; i < 2; i++) assert_int_equal(tn_reload_tls(c, i), 0);
  seen alive = {"n2", TR_MEMBER_ALIVE};
  took = tn_wait(c, both_see, &alive, 3 * SETTLE_MS);
  print_message("n2 alive again %ld ms after the emptied list's reload\n",
                took);
  if (took < 0)
    fail_msg("n2 did not come back once no longer revoked (n0: %d, n1: %d)",
             tn_member_state(c, 0, "n2"), tn_member_state(c, 1, "n2"));
  tn_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(a_revoked_node_is_cut_off_and_let_back_in),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
