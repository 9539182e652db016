/* test_cluster_inproc.c — 3 and 5 cluster nodes in one process, each on its
 * own thread and loop, over TLS on loopback: join, sends by id both ways,
 * asks, remote monitors, id conflicts, a hung node, leave. Every wait is
 * bounded (tn_wait) and waits for an event; the bounds are for correctness,
 * not speed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_harness.h"
#include "pki.h"

#define JOIN_MS 15000u
#define SETTLE_MS 10000u

typedef struct where {
  const char *id, *owner; /* owner NULL: resolves nowhere */
  size_t skip;            /* a node not asked (stopped), or SIZE_MAX */
} where;

static bool all_resolve(tn_cluster *c, void *arg) {
  where *w = arg;
  for (size_t i = 0; i < tn_count(c); i++) {
    if (i == w->skip) continue;
    char owner[TR_ID_MAX + 1];
    int rc = tn_locate(c, i, w->id, owner, sizeof(owner));
    if (w->owner ? (rc != 0 || strcmp(owner, w->owner) != 0)
                 : rc != TR_ENOTFOUND)
      return false;
  }
  return true;
}

typedef struct want_event {
  const char *kind, *actor, *data;
  bool want_status;
  int status;
  size_t count;
} want_event;

static tn_cluster *start(size_t n) {
  tn_cluster *c = NULL;
  assert_int_equal(tn_new_joined(&c, n, NULL, JOIN_MS), 0);
  return c;
}

static void copy_member(void *arg, const tr_member *m) {
  *(tr_member *)arg = *m;
}

/* Waits for w.count events of w.kind for w.actor, or (count 0) for one
 * matching every field. */
static void wait_event(tn_cluster *c, want_event w, uint32_t ms) {
  long t = w.count ? tn_wait_events(c, w.kind, w.actor, w.count, ms)
                   : tn_wait_find(c, w.kind, w.actor, w.data, w.want_status,
                                  w.status, ms);
  if (t < 0)
    fail_msg("no %s event for %s (data %s)", w.kind, w.actor ? w.actor : "-",
             w.data ? w.data : "-");
}

static void wait_resolve(tn_cluster *c, const char *id, const char *owner,
                         size_t skip) {
  where w = {id, owner, skip};
  if (tn_wait(c, all_resolve, &w, SETTLE_MS) < 0)
    fail_msg("%s does not resolve to %s everywhere", id, owner ? owner : "-");
}

/* Join, then messages both ways between every pair of nodes, with the
 * sender id and node name on each. */
static void test_three_nodes_send_both_ways(void **state) {
  (void)state;
  tn_cluster *c = start(3);
  const char *ids[3] = {"pa", "pb", "pc"};
  for (size_t i = 0; i < 3; i++) assert_int_equal(tn_probe(c, i, ids[i]), 0);
  for (size_t i = 0; i < 3; i++) wait_resolve(c, ids[i], tn_name(c, i), SIZE_MAX);
  for (size_t i = 0; i < 3; i++) {
    for (size_t j = 0; j < 3; j++) {
      if (i == j) continue;
      char cmd[64];
      snprintf(cmd, sizeof(cmd), "send %s hello-%zu-%zu", ids[j], i, j);
      assert_int_equal(tn_cmd(c, i, ids[i], cmd), 0);
    }
  }
  for (size_t i = 0; i < 3; i++) {
    for (size_t j = 0; j < 3; j++) {
      if (i == j) continue;
      char data[32];
      snprintf(data, sizeof(data), "hello-%zu-%zu", i, j);
      wait_event(c, (want_event){"send", ids[j], data, false, 0, 0}, SETTLE_MS);
      tn_event e;
      assert_true(tn_find(c, "send", ids[j], data, false, 0, &e));
      assert_string_equal(e.from, ids[i]);
      assert_string_equal(e.node, tn_name(c, i));
    }
  }
  /* Every command succeeded. */
  assert_false(tn_find(c, "cmd", NULL, NULL, true, TR_ENOTFOUND, NULL));
  tn_free(c);
}

/* Per sender->receiver FIFO across nodes: 500 numbered sends arrive in
 * order. */
static void test_fifo_across_nodes(void **state) {
  (void)state;
  tn_cluster *c = start(3);
  assert_int_equal(tn_probe(c, 0, "src"), 0);
  assert_int_equal(tn_probe(c, 2, "dst"), 0);
  wait_resolve(c, "dst", "n2", SIZE_MAX);
  /* 500 sends in a row, waiting for room after TR_EFULL: past the first
   * credit (64) a fast sender meets it until dst's node grants more. */
  assert_int_equal(tn_cmd(c, 0, "src", "stream dst 500 m"), 0);
  wait_event(c, (want_event){"stream", "src", NULL, true, 0, 0}, SETTLE_MS);
  wait_event(c, (want_event){"send", "dst", NULL, false, 0, 500}, SETTLE_MS);
  for (int k = 0; k < 500; k++) {
    char data[16];
    snprintf(data, sizeof(data), "m%d", k);
    tn_event e;
    assert_true(tn_nth(c, "send", "dst", (size_t)k, &e));
    assert_string_equal(e.data, data);
  }
  assert_int_equal(tn_count_events(c, "send", "dst"), 500);
  tn_free(c);
}

/* An ask to another node gets its answer; an ask to an unknown id fails at
 * once with TR_ENOTFOUND. */
static void test_ask_across_nodes(void **state) {
  (void)state;
  tn_cluster *c = start(3);
  assert_int_equal(tn_probe(c, 0, "asker"), 0);
  assert_int_equal(tn_probe(c, 1, "oracle"), 0);
  wait_resolve(c, "oracle", "n1", SIZE_MAX);
  assert_int_equal(tn_cmd(c, 0, "asker", "ask oracle question"), 0);
  wait_event(c, (want_event){"reply", "asker", "re:question", true, 0, 0},
             SETTLE_MS);
  tn_event e;
  assert_true(tn_find(c, "reply", "asker", NULL, false, 0, &e));
  assert_string_equal(e.from, "oracle");
  assert_string_equal(e.node, "n1");
  assert_true(tn_find(c, "ask", "oracle", "question", false, 0, &e));
  assert_string_equal(e.from, "asker");
  assert_string_equal(e.node, "n0");
  assert_int_equal(tn_cmd(c, 0, "asker", "ask nobody q"), 0);
  wait_event(c, (want_event){"cmd", "asker", "ask nobody q", true,
                             TR_ENOTFOUND, 0}, SETTLE_MS);
  tn_free(c);
}

/* An ask from asker on n0 to oracle on n1, answered: its reply leaves n1
 * after everything n1 sent asker before, on the same link, so once it is
 * in, any earlier answer would be too. */
static void reply_barrier(tn_cluster *c, size_t nreplies) {
  assert_int_equal(tn_cmd(c, 0, "asker", "ask oracle barrier"), 0);
  if (tn_wait_events(c, "reply", "asker", nreplies + 1, SETTLE_MS) < 0)
    fail_msg("no reply to the barrier ask");
  tn_event e;
  assert_true(tn_nth(c, "reply", "asker", nreplies, &e));
  assert_string_equal(e.data, "re:barrier");
}

static bool clock_past(tn_cluster *c, void *arg) {
  (void)c;
  return tn_now_ms() > *(const uint64_t *)arg;
}

/* The target's node keeps a remote ask until the ask's own deadline: the
 * time its loop took the ask in, plus the ask's timeout (host_ask.c). The
 * target actor records the ask later, so the nth ask `actor` recorded
 * (at_ms) plus timeout_ms is no earlier than that deadline. Waits until the
 * clock has passed it: the nodes' loops read the same monotonic clock (one
 * process), their cached time lagging by a millisecond at most, so what
 * reaches that node from now on finds the record expired. No event shows
 * the expiry itself (a count of expired records in tr_cluster_stats
 * would); this waits for the deadline observed, not for a guess at it. */
static void wait_past_ask_deadline(tn_cluster *c, const char *actor,
                                   size_t nth, uint32_t timeout_ms) {
  if (tn_wait_events(c, "ask", actor, nth + 1, SETTLE_MS) < 0)
    fail_msg("%s never got ask #%zu", actor, nth + 1);
  tn_event e;
  assert_true(tn_nth(c, "ask", actor, nth, &e));
  uint64_t past = e.at_ms + timeout_ms + 2;
  if (tn_wait(c, clock_past, &past, SETTLE_MS + timeout_ms) < 0)
    fail_msg("the clock did not pass %llu", (unsigned long long)past);
}

/* A remote target that stops without replying: every ask waiting on it is
 * answered TR_ENOTFOUND at once, long before its 30 s timeout, whether the
 * target had handled it (mute0..2, quit0) or it was still queued (quit1,
 * quit2), exactly once each. An ask whose own timeout has passed is not
 * answered again. */
static void test_remote_ask_target_stops(void **state) {
  (void)state;
  tn_cluster *c = start(3);
  assert_int_equal(tn_probe(c, 0, "asker"), 0);
  assert_int_equal(tn_probe(c, 1, "sphinx"), 0);
  assert_int_equal(tn_probe(c, 1, "oracle"), 0);
  wait_resolve(c, "sphinx", "n1", SIZE_MAX);
  wait_resolve(c, "oracle", "n1", SIZE_MAX);
  /* Timed out at the asker; the target's node forgets it by then too. */
  assert_int_equal(tn_cmd(c, 0, "asker", "askt sphinx 200 mute-late"), 0);
  wait_event(c, (want_event){"reply", "asker", NULL, true, TR_ETIMEDOUT, 0},
             SETTLE_MS);
  wait_past_ask_deadline(c, "sphinx", 0, 200); /* on n1 as well */
  assert_int_equal(tn_cmd(c, 0, "asker", "askburst sphinx 3 mute"), 0);
  if (tn_wait_events(c, "ask", "sphinx", 4, SETTLE_MS) < 0)
    fail_msg("the mute asks did not reach sphinx");
  uint64_t t0 = tn_now_ms();
  assert_int_equal(tn_cmd(c, 0, "asker", "askburst sphinx 3 quit"), 0);
  wait_event(c, (want_event){"reply", "asker", NULL, false, 0, 7}, SETTLE_MS);
  assert_true(tn_now_ms() - t0 < 30000);
  reply_barrier(c, 7); /* a second answer to any of them shows by now */
  assert_int_equal(tn_count_events(c, "reply", "asker"), 8);
  tn_event e;
  assert_true(tn_nth(c, "reply", "asker", 0, &e));
  assert_int_equal(e.status, TR_ETIMEDOUT);
  for (size_t k = 1; k < 7; k++) {
    assert_true(tn_nth(c, "reply", "asker", k, &e));
    assert_int_equal(e.status, TR_ENOTFOUND);
    assert_string_equal(e.from, "sphinx");
  }
  tr_node_stats ns;
  tr_cluster_stats cs;
  assert_int_equal(tn_stats(c, 1, &ns, &cs), 0);
  assert_true(cs.asks_abandoned >= 4); /* the handled ones, at least */
  assert_true(cs.asks_abandoned <= 6);
  assert_int_equal(tn_stats(c, 0, &ns, &cs), 0);
  assert_int_equal(ns.dead[TR_DL_LATE_REPLY], 0);
  tn_free(c);
}

/* Remote asks an actor never answers: the target's node keeps each until
 * its timeout, then sweeps it (when the records have doubled), so a
 * silent actor costs nothing for long; a stop after the timeouts answers
 * nobody twice. */
static void test_remote_ask_records_swept(void **state) {
  (void)state;
  tn_cluster *c = start(2);
  assert_int_equal(tn_probe(c, 0, "asker"), 0);
  assert_int_equal(tn_probe(c, 1, "sphinx"), 0);
  assert_int_equal(tn_probe(c, 1, "oracle"), 0);
  wait_resolve(c, "sphinx", "n1", SIZE_MAX);
  wait_resolve(c, "oracle", "n1", SIZE_MAX);
  tr_node_stats ns;
  tr_cluster_stats cs;
  for (size_t round = 1; round <= 2; round++) {
    if (round == 2) /* round 1's asks, past their deadline on n1 */
      wait_past_ask_deadline(c, "sphinx", 999, 200);
    /* Flow-controlled: the asks go out as sphinx's node gives credit. */
    assert_int_equal(tn_cmd(c, 0, "asker", "askstream sphinx 1000 mute 200"),
                     0);
    if (tn_wait_find(c, "stream", "asker", NULL, true, 0, SETTLE_MS) < 0 ||
        tn_wait_events(c, "stream", "asker", round, SETTLE_MS) < 0)
      fail_msg("round %zu: the ask stream did not end well", round);
    if (tn_wait_events(c, "reply", "asker", 1000 * round, SETTLE_MS) < 0)
      fail_msg("round %zu: the asks did not all time out", round);
    assert_int_equal(tn_stats(c, 1, &ns, &cs), 0);
    /* Round 2 passed 1024 records: the 1000 expired ones went. */
    assert_int_equal(cs.remote_asks_pending, 1000);
  }
  assert_int_equal(tn_count_events(c, "ask", "sphinx"), 2000);
  assert_false(tn_find(c, "reply", "asker", NULL, true, 0, NULL));
  assert_false(tn_find(c, "reply", "asker", NULL, true, TR_ENOTFOUND, NULL));
  wait_past_ask_deadline(c, "sphinx", 1999, 200); /* every one, on n1 */
  assert_int_equal(tn_cmd(c, 0, "asker", "ask sphinx quit"), 0);
  if (tn_wait_events(c, "reply", "asker", 2001, SETTLE_MS) < 0)
    fail_msg("no answer to quit");
  reply_barrier(c, 2001);
  assert_int_equal(tn_count_events(c, "reply", "asker"), 2002);
  assert_int_equal(tn_stats(c, 1, &ns, &cs), 0);
  assert_int_equal(cs.asks_abandoned, 1); /* quit only */
  assert_int_equal(cs.remote_asks_pending, 0);
  assert_int_equal(tn_stats(c, 0, &ns, &cs), 0);
  assert_int_equal(ns.dead[TR_DL_LATE_REPLY], 0);
  tn_free(c);
}

/* A remote monitor fires when the target stops (reason 0), and at once for
 * an id nobody holds (TR_ENOTFOUND); stop by id works across nodes. */
static void test_remote_monitor(void **state) {
  (void)state;
  tn_cluster *c = start(3);
  assert_int_equal(tn_probe(c, 0, "watcher"), 0);
  assert_int_equal(tn_probe(c, 2, "target"), 0);
  wait_resolve(c, "target", "n2", SIZE_MAX);
  assert_int_equal(tn_cmd(c, 0, "watcher", "mon target"), 0);
  assert_int_equal(tn_cmd(c, 0, "watcher", "mon ghost"), 0);
  wait_event(c, (want_event){"down", "watcher", NULL, true, TR_ENOTFOUND, 0},
             SETTLE_MS);
  tn_event e;
  assert_true(tn_find(c, "down", "watcher", NULL, true, TR_ENOTFOUND, &e));
  assert_string_equal(e.from, "ghost");
  /* Stop by id from node 1 (neither watcher's nor target's node). */
  assert_int_equal(tn_probe(c, 1, "killer"), 0);
  assert_int_equal(tn_cmd(c, 1, "killer", "stop target"), 0);
  wait_event(c, (want_event){"down", "watcher", NULL, true, 0, 0}, SETTLE_MS);
  assert_true(tn_find(c, "down", "watcher", NULL, true, 0, &e));
  assert_string_equal(e.from, "target");
  assert_string_equal(e.node, "n2");
  wait_resolve(c, "target", NULL, SIZE_MAX);
  tn_free(c);
}

/* n0's sends to "tiny" that it holds credit for have all been delivered. */
static bool tiny_got(tn_cluster *c, void *arg) {
  return tn_count_events(c, "send", "tiny") >= (size_t)arg;
}

/* A remote mailbox of 2: a burst gets the first grant (64) through and is
 * refused TR_EFULL at the call for the rest, nothing queued, as for a
 * local target; nothing is dropped at the target (no mailbox_full, no
 * remote_full). Once tiny has drained, its node gives back credit for its
 * window of 2 only: a later burst gets 2 through; asks live under the same
 * credit; a notify while credit is out comes when it is back. */
static void test_remote_credit(void **state) {
  (void)state;
  tn_cluster *c = start(3);
  assert_int_equal(tn_probe(c, 0, "blaster"), 0);
  assert_int_equal(tn_probe_cap(c, 1, "tiny", 2), 0);
  wait_resolve(c, "tiny", "n1", SIZE_MAX);
  assert_int_equal(tn_cmd(c, 0, "blaster", "burst tiny 200"), 0);
  wait_event(c, (want_event){"cmd", "blaster", "burst tiny 200", true,
                             TR_EFULL, 0},
             SETTLE_MS);
  if (tn_wait(c, tiny_got, (void *)(size_t)64, SETTLE_MS) < 0)
    fail_msg("tiny got %zu of the 64 credited sends",
             tn_count_events(c, "send", "tiny"));
  tr_node_stats ns0, ns1;
  tr_cluster_stats cs0, cs1;
  assert_int_equal(tn_stats(c, 0, &ns0, &cs0), 0);
  assert_int_equal(tn_stats(c, 1, &ns1, &cs1), 0);
  assert_int_equal(cs0.credit_refused, 136);
  assert_int_equal(ns0.dead[TR_DL_REJECTED_FULL], 136);
  assert_int_equal(ns0.dead[TR_DL_REMOTE_FULL], 0);
  assert_int_equal(cs0.remote_failed, 0);
  assert_int_equal(ns1.dead[TR_DL_MAILBOX_FULL], 0);
  assert_true(ns1.mailbox_hwm <= 64); /* the first grant, never more */
  assert_int_equal(cs0.credit_targets, 1);

  /* tiny has drained: its node gave back its window (2) and no more. */
  assert_int_equal(tn_cmd(c, 0, "blaster", "notify tiny"), 0);
  wait_event(c, (want_event){"writable", "blaster", NULL, true, 0, 0},
             SETTLE_MS);
  assert_int_equal(tn_cmd(c, 0, "blaster", "askburst tiny 50 q"), 0);
  wait_event(c, (want_event){"cmd", "blaster", "askburst tiny 50 q", true,
                             TR_EFULL, 0},
             SETTLE_MS);
  wait_event(c, (want_event){"reply", "blaster", NULL, false, 0, 2},
             SETTLE_MS);
  assert_true(tn_find(c, "reply", "blaster", "re:q0", true, 0, NULL));
  assert_true(tn_find(c, "reply", "blaster", "re:q1", true, 0, NULL));
  assert_int_equal(tn_stats(c, 0, &ns0, &cs0), 0);
  assert_int_equal(cs0.credit_refused, 136 + 48);
  /* 2 when tiny had drained; 2 more once it took the two asks. */
  assert_true(cs0.credit_in >= 2 && cs0.credit_in <= 4);
  tn_free(c);
}

/* Past this many messages waiting in its mailboxes a node stops reading
 * its links (tr_cluster_stats.read_pauses). */
#define READ_PAUSE_BOUND 65536u

/* Envelopes node 0 has written to its link to n1 (queued, less those still
 * waiting to be written). */
static uint64_t written_to_n1(tn_cluster *c) {
  tr_peer_stats ps;
  assert_int_equal(tn_peer(c, 0, "n1", &ps), 0);
  return ps.envelopes_out - ps.queued;
}

/* Node 0 has written more than *arg envelopes to n1. */
static bool written_past(tn_cluster *c, void *arg) {
  return written_to_n1(c) > *(const uint64_t *)arg;
}

/* n0 knows that n1 wants fast's publishes. */
static bool has_interest_1(tn_cluster *c, void *arg) {
  (void)arg;
  return tn_interest(c, 0) == 1;
}

static const char *const SLOW[3] = {"slow0", "slow1", "slow2"};

/* Each subscriber on n1 has had (or missed) n publishes. */
static bool all_published(tn_cluster *c, void *arg) {
  for (int i = 0; i < 3; i++) {
    uint64_t delivered = 0, dropped = 0;
    if (tn_sub_counts(c, 1, SLOW[i], &delivered, &dropped) != 1 ||
        delivered + dropped < (size_t)arg)
      return false;
  }
  return true;
}

/* Publishes are not credited (a publisher never waits): a publisher much
 * faster than its remote subscriber's node loses nothing to it either:
 * past 65,536 queued messages the receiving node stops reading its links
 * until it has caught up, so TCP pushes back instead of mailboxes
 * overflowing. */
static void test_backpressure(void **state) {
  (void)state;
  tn_cluster *c = start(2);
  assert_int_equal(tn_probe(c, 0, "fast"), 0);
  /* Three subscribers: each publish read adds three messages to n1's
   * backlog, so it passes the bound on the first reads after the thaw.
   * Each has room for the bound plus a read, not for the whole burst. */
  for (int i = 0; i < 3; i++) {
    assert_int_equal(tn_probe_cap(c, 1, SLOW[i], 70000), 0);
    assert_int_equal(tn_cmd(c, 1, SLOW[i], "sub fast"), 0);
  }
  for (int i = 0; i < 3; i++)
    wait_event(c, (want_event){"cmd", SLOW[i], "sub fast", true, 0, 0},
               SETTLE_MS);
  if (tn_wait(c, has_interest_1, NULL, SETTLE_MS) < 0)
    fail_msg("n0 never learned of n1's interest in fast");
  /* The receiver hangs while the burst is sent, until more than the
   * read-pause bound waits for it in the sockets: thawed, it finds all that
   * at once and must stop reading. */
  uint64_t bound = written_to_n1(c) + READ_PAUSE_BOUND;
  tn_freeze(c, 1);
  assert_int_equal(tn_cmd(c, 0, "fast", "pubn - 300000"), 0);
  wait_event(c, (want_event){"cmd", "fast", "pubn - 300000", true, 0, 0},
             SETTLE_MS);
  if (tn_wait(c, written_past, &bound, SETTLE_MS) < 0)
    fail_msg("the hung receiver's sockets took only %llu envelopes",
             (unsigned long long)(written_to_n1(c) - bound + READ_PAUSE_BOUND));
  tn_thaw(c, 1);
  if (tn_wait(c, all_published, (void *)(size_t)300000, 60000) < 0)
    fail_msg("the subscribers did not get the 300000 publishes");
  tr_node_stats ns0, ns1;
  tr_cluster_stats cs0, cs1;
  assert_int_equal(tn_stats(c, 1, &ns1, &cs1), 0);
  assert_int_equal(tn_stats(c, 0, &ns0, &cs0), 0);
  print_message("300000 publishes: receiver paused reading %llu times\n",
                (unsigned long long)cs1.read_pauses);
  assert_true(cs1.read_pauses >= 1);
  for (int i = 0; i < 3; i++) {
    uint64_t delivered = 0, dropped = 0;
    assert_int_equal(tn_sub_counts(c, 1, SLOW[i], &delivered, &dropped), 1);
    assert_int_equal(delivered, 300000);
    assert_int_equal(dropped, 0);
  }
  assert_int_equal(ns1.dead[TR_DL_PUBLISH_FULL], 0);
  tn_free(c);
}

/* Ids are unique in the cluster: a second spawn of a known id fails with
 * TR_EEXIST; two spawns racing on two nodes end with one owner everywhere
 * (the node whose name sorts first) and the loser stopped with TR_EEXIST,
 * its monitors told. */
/* w1's or w2's child was stopped as the conflict's loser. */
static bool a_watcher_lost(tn_cluster *c, void *arg) {
  (void)arg;
  return tn_find(c, "child_exit", "w1", NULL, true, TR_EEXIST, NULL) ||
         tn_find(c, "child_exit", "w2", NULL, true, TR_EEXIST, NULL);
}

static void test_id_conflicts(void **state) {
  (void)state;
  tn_cluster *c = start(3);
  assert_int_equal(tn_probe(c, 1, "unique"), 0);
  wait_resolve(c, "unique", "n1", SIZE_MAX);
  assert_int_equal(tn_probe(c, 2, "unique"), TR_EEXIST);
  assert_int_equal(tn_probe(c, 0, "unique"), TR_EEXIST);

  /* The race: both claims are made before either hears of the other
   * (registry gossip runs every 50 ms), each a child of a watcher (w1 on
   * n1, w2 on n2) that monitors it. */
  assert_int_equal(tn_probe(c, 2, "w2"), 0);
  assert_int_equal(tn_probe(c, 1, "w1"), 0);
  assert_int_equal(tn_cmd(c, 2, "w2", "child contested"), 0);
  assert_int_equal(tn_cmd(c, 1, "w1", "child contested"), 0);
  wait_event(c, (want_event){"cmd", "w2", "child contested", true, 0, 0},
             SETTLE_MS);
  wait_event(c, (want_event){"cmd", "w1", "child contested", false, 0, 0},
             SETTLE_MS);
  tn_event e1;
  assert_true(tn_find(c, "cmd", "w1", "child contested", false, 0, &e1));
  print_message("contested id: %s\n", e1.status == 0
                                          ? "both claimed, resolved"
                                          : "refused at spawn");
  if (e1.status == 0) {
    /* Both held it: the earlier claim keeps it (the later one's owner
     * is not asked its name), the other actor is stopped with TR_EEXIST,
     * its parent and its monitor told: one of w1, w2. */
    assert_true(tn_wait(c, a_watcher_lost, NULL, SETTLE_MS) >= 0);
    bool w1_lost = tn_find(c, "child_exit", "w1", NULL, true, TR_EEXIST, NULL);
    bool w2_lost = tn_find(c, "child_exit", "w2", NULL, true, TR_EEXIST, NULL);
    assert_true(w1_lost != w2_lost);
    const char *loser = w1_lost ? "w1" : "w2";
    wait_event(c, (want_event){"down", loser, NULL, true, TR_EEXIST, 0},
               SETTLE_MS);
    wait_resolve(c, "contested", w1_lost ? "n2" : "n1", SIZE_MAX);
  } else {
    /* n1 already knew of n2's claim: the registry refused it. */
    assert_int_equal(e1.status, TR_EEXIST);
    wait_resolve(c, "contested", "n2", SIZE_MAX);
  }
  tn_free(c);
}

/* A node that leaves: the others see it left, get NODE_DOWN from the
 * system publisher (status TR_ECLOSED), and its actors leave the registry;
 * an ask waiting on it and a monitor on its actor are answered. */
static void test_leave(void **state) {
  (void)state;
  tn_cluster *c = start(3);
  assert_int_equal(tn_probe(c, 0, "obs"), 0);
  assert_int_equal(tn_cmd(c, 0, "obs", "sub " TR_SYSTEM_PUBLISHER), 0);
  assert_int_equal(tn_probe(c, 2, "leaver"), 0);
  wait_resolve(c, "leaver", "n2", SIZE_MAX);
  assert_int_equal(tn_cmd(c, 0, "obs", "mon leaver"), 0);
  tn_stop(c, 2);
  wait_event(c, (want_event){"node_down", "obs", "n2", true, TR_ECLOSED, 0},
             SETTLE_MS);
  wait_event(c, (want_event){"down", "obs", NULL, false, 0, 0}, SETTLE_MS);
  wait_resolve(c, "leaver", NULL, 2);
  assert_int_equal(tn_member_state(c, 0, "n2"), TR_MEMBER_LEFT);
  assert_int_equal(tn_member_state(c, 1, "n2"), TR_MEMBER_LEFT);
  tn_free(c);
}

/* A hung node (its loop blocked, as under SIGSTOP) is declared dead: the
 * others publish NODE_DOWN (TR_EUNREACHABLE), an ask waiting on it is
 * answered TR_EUNREACHABLE long before its 30 s timeout, a monitor fires
 * with TR_EUNREACHABLE and its actors leave the registry. Thawed, it comes
 * back (refutes, rejoins) and NODE_UP is published. */
static void test_hung_node(void **state) {
  (void)state;
  tn_opts o = {.probe_interval_ms = 200, .probe_timeout_ms = 80};
  tn_cluster *c = NULL;
  assert_int_equal(tn_new_joined(&c, 3, &o, JOIN_MS), 0);
  assert_int_equal(tn_probe(c, 0, "obs"), 0);
  assert_int_equal(tn_cmd(c, 0, "obs", "sub " TR_SYSTEM_PUBLISHER), 0);
  assert_int_equal(tn_probe(c, 2, "sleepy"), 0);
  wait_resolve(c, "sleepy", "n2", SIZE_MAX);
  assert_int_equal(tn_cmd(c, 0, "obs", "mon sleepy"), 0);
  tn_freeze(c, 2);
  assert_int_equal(tn_cmd(c, 0, "obs", "ask sleepy anyone"), 0);
  uint64_t t0 = tn_now_ms();
  wait_event(c, (want_event){"node_down", "obs", "n2", true, TR_EUNREACHABLE,
                             0}, 20000);
  wait_event(c, (want_event){"reply", "obs", NULL, true, TR_EUNREACHABLE, 0},
             SETTLE_MS);
  wait_event(c, (want_event){"down", "obs", NULL, true, TR_EUNREACHABLE, 0},
             SETTLE_MS);
  assert_true(tn_now_ms() - t0 < 20000);
  wait_resolve(c, "sleepy", NULL, 2);
  tn_thaw(c, 2);
  wait_event(c, (want_event){"node_up", "obs", "n2", false, 0, 0}, 20000);
  assert_true(tn_wait_alive(c, 3, JOIN_MS) >= 0);
  tn_free(c);
}

/* Five nodes: everyone joins, a message from each node reaches a probe on
 * every other, an ask crosses, and after one node leaves the other four
 * agree on the membership. */
static void test_five_nodes(void **state) {
  (void)state;
  tn_cluster *c = start(5);
  const char *ids[5] = {"q0", "q1", "q2", "q3", "q4"};
  for (size_t i = 0; i < 5; i++) assert_int_equal(tn_probe(c, i, ids[i]), 0);
  for (size_t i = 0; i < 5; i++) wait_resolve(c, ids[i], tn_name(c, i), SIZE_MAX);
  for (size_t i = 0; i < 5; i++)
    for (size_t j = 0; j < 5; j++)
      if (i != j) {
        char cmd[32];
        snprintf(cmd, sizeof(cmd), "send %s from-%zu", ids[j], i);
        assert_int_equal(tn_cmd(c, i, ids[i], cmd), 0);
      }
  for (size_t j = 0; j < 5; j++)
    wait_event(c, (want_event){"send", ids[j], NULL, false, 0, 4}, SETTLE_MS);
  assert_int_equal(tn_cmd(c, 4, "q4", "ask q0 ping"), 0);
  wait_event(c, (want_event){"reply", "q4", "re:ping", true, 0, 0}, SETTLE_MS);
  tn_stop(c, 3);
  where w = {"q3", NULL, 3};
  assert_true(tn_wait(c, all_resolve, &w, SETTLE_MS) >= 0);
  for (size_t i = 0; i < 5; i++) {
    if (i == 3) continue;
    assert_int_equal(tn_member_state(c, i, "n3"), TR_MEMBER_LEFT);
  }
  tn_free(c);
}

/* A broken cluster configuration fails tr_node_new with a clear code and
 * leaves nothing behind (ASan checks the leaks). */
static void test_bad_config(void **state) {
  (void)state;
  char dir[] = "/tmp/troupe-badcfg-XXXXXX";
  assert_non_null(mkdtemp(dir));
  test_pki pki;
  assert_int_equal(pki_init(&pki), 0);
  assert_int_equal(pki_write_files(&pki, dir, "solo"), 0);
  char ca[64], cert[64], key[64];
  snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
  snprintf(cert, sizeof(cert), "%s/solo.pem", dir);
  snprintf(key, sizeof(key), "%s/solo.key", dir);
  const char *seeds[] = {"127.0.0.1:1"};
  tr_node *n = NULL;

  tr_node_config cfg = {.name = "solo", .listen = "127.0.0.1:0"};
  assert_int_equal(tr_node_new(&n, &cfg), TR_EINVAL); /* no certificates */
  cfg = (tr_node_config){.name = "solo", .seeds = seeds, .nseeds = 1};
  assert_int_equal(tr_node_new(&n, &cfg), TR_EINVAL); /* seeds, no listen */
  cfg = (tr_node_config){.name = "solo", .listen = "127.0.0.1:0",
                         .ca_file = ca, .cert_file = "/nonexistent.pem",
                         .key_file = key};
  int rc = tr_node_new(&n, &cfg);
  assert_true(rc == TR_EINVAL || rc == TR_ETLS);
  assert_null(n);
  cfg.cert_file = key; /* a key where the certificate belongs */
  rc = tr_node_new(&n, &cfg);
  assert_true(rc == TR_EINVAL || rc == TR_ETLS);
  cfg.cert_file = cert;
  const char *bad_seed[] = {"no-port-here"};
  cfg.seeds = bad_seed;
  cfg.nseeds = 1;
  assert_int_equal(tr_node_new(&n, &cfg), TR_EINVAL);
  cfg.seeds = NULL;
  cfg.nseeds = 0;
  cfg.listen = "not-an-address:x";
  assert_int_not_equal(tr_node_new(&n, &cfg), 0);

  /* A port in use: TR_ESYS. */
  cfg.listen = "127.0.0.1:0";
  tr_node *first = NULL;
  assert_int_equal(tr_node_new(&first, &cfg), 0);
  tr_member self;
  assert_int_equal(tr_node_members(first, copy_member, &self), 1);
  assert_string_equal(self.name, "solo");
  assert_int_equal(self.state, TR_MEMBER_ALIVE);
  assert_string_equal(tr_node_address(first), self.addr);
  cfg.listen = self.addr;
  assert_int_equal(tr_node_new(&n, &cfg), TR_ESYS);

  /* Reloading the certificates: a missing file fails and keeps the old
   * ones; the files back, it succeeds. */
  char moved[80];
  snprintf(moved, sizeof(moved), "%s.away", cert);
  assert_int_equal(rename(cert, moved), 0);
  rc = tr_node_reload_tls(first);
  assert_true(rc == TR_EINVAL || rc == TR_ETLS);
  assert_int_equal(rename(moved, cert), 0);
  assert_int_equal(tr_node_reload_tls(first), 0);
  tr_node_set_log_level(first, TR_LOG_DEBUG);
  tr_transport_stats ts;
  assert_int_equal(tr_node_transport_stats(first, &ts), 0);
  assert_int_equal(ts.links, 0);
  assert_string_equal(tr_tls_fail_reason_name(2), "untrusted");
  assert_null(tr_tls_fail_reason_name(TR_TLS_FAIL_REASONS));
  assert_non_null(tr_link_close_reason_name(1));
  assert_int_equal(tr_node_peers(first, NULL, NULL), 0);
  tr_node_free(first);

  pki_free(&pki);
  char cmd[96];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bad_config),
      cmocka_unit_test(test_three_nodes_send_both_ways),
      cmocka_unit_test(test_fifo_across_nodes),
      cmocka_unit_test(test_ask_across_nodes),
      cmocka_unit_test(test_remote_ask_target_stops),
      cmocka_unit_test(test_remote_ask_records_swept),
      cmocka_unit_test(test_remote_monitor),
      cmocka_unit_test(test_remote_credit),
      cmocka_unit_test(test_backpressure),
      cmocka_unit_test(test_id_conflicts),
      cmocka_unit_test(test_leave),
      cmocka_unit_test(test_hung_node),
      cmocka_unit_test(test_five_nodes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
