/* test_swim.c — the membership state machine (node/cluster/swim.c) driven
 * through the virtual network of tests/support/vnet.h: several swim
 * instances, a virtual clock that jumps to the next message or swim
 * deadline, per-link delays, killed nodes. No sleeps, no sockets; the same
 * seeds give the same run. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swim.h"
#include "vnet.h"
#include "vnet_msgs.h"

#define MAX_NODES 64
#define INTERVAL 500u /* the default probe interval, used for bounds */

/* ---- the nodes on the network ------------------------------------------- */

typedef struct event {
  uint64_t at;
  int node;
  char name[16];
  uint8_t state, was;
  bool restarted;
  uint64_t epoch;
  uint32_t incarnation;
} event;

typedef struct net net;

typedef struct tnode {
  net *n;
  int index;
  char name[16], addr[32];
  uint64_t epoch;
  swim *sw;
} tnode;

struct net {
  vnet *v; /* the clock, the messages in flight, who is up, the trace */
  tnode nodes[MAX_NODES];
  int count;
  swim_config cfg;
  bool trust; /* the nodes sign and verify (fake_mac below) */
  const char *tags[MAX_NODES]; /* each node's swim_config.tags */
  event *events;
  size_t nevents, events_cap;
  /* Sends recorded by the join-retry test: times of SYNC_REQs to seeds. */
  uint64_t seed_sends[32];
  int nseed_sends;
};

static bool up(net *n, int i) { return vnet_is_up(n->v, (uint32_t)i); }
static uint64_t now_of(net *n) { return vnet_now(n->v); }

/* Every send goes into the trace, dropped or not. */
static void on_send(void *user, const char *to_name, const char *to_addr,
                    const swim_msg *msg) {
  tnode *self = user;
  net *n = self->n;
  uint32_t to =
      vnet_node_index(to_name ? to_name : to_addr, (uint32_t)n->count);
  vnet_trace_u64(n->v, now_of(n));
  vnet_trace_u64(n->v, ((uint64_t)self->index << 32) | to);
  vnet_trace_swim(n->v, msg);
  if (!to_name && msg->type == SWIM_MSG_SYNC_REQ &&
      n->nseed_sends < (int)(sizeof(n->seed_sends) / sizeof(n->seed_sends[0])))
    n->seed_sends[n->nseed_sends++] = now_of(n);
  vnet_cluster_msg *m = vnet_cluster_msg_swim(msg);
  assert_non_null(m);
  vnet_send(n->v, (uint32_t)self->index, to, &m->hdr);
}

static void on_changed(void *user, const swim_update *u, swim_state was,
                       bool restarted) {
  tnode *self = user;
  net *n = self->n;
  if (n->nevents == n->events_cap) {
    n->events_cap = n->events_cap ? n->events_cap * 2 : 256;
    n->events = realloc(n->events, n->events_cap * sizeof(*n->events));
    assert_non_null(n->events);
  }
  event *e = &n->events[n->nevents++];
  memset(e, 0, sizeof(*e)); /* the padding too: the trace hashes it */
  e->at = now_of(n);
  e->node = self->index;
  memcpy(e->name, u->name, strnlen(u->name, sizeof(e->name) - 1));
  e->state = u->state;
  e->was = (uint8_t)was;
  e->restarted = restarted;
  e->epoch = u->epoch;
  e->incarnation = u->incarnation;
  vnet_trace(n->v, e, sizeof(*e));
}

static const swim_ops ops = {.send = on_send, .member_changed = on_changed};

/* A stand-in signature for the trust rules (swim.h, "A member speaks only
 * for itself"): FNV-1a over a key only the member holds and its record.
 * Another node cannot make one for a record the member never signed. */
static uint64_t fake_mac(const swim_update *u) {
  uint8_t rec[SWIM_RECORD_MAX];
  size_t len = swim_record_bytes(u, rec);
  uint64_t h = vnet_fnv1a(1469598103934665603ull, "key:", 4);
  h = vnet_fnv1a(h, u->name, strlen(u->name));
  return vnet_fnv1a(h, rec, len);
}

static size_t on_sign(void *user, const swim_update *self, uint8_t *out,
                      size_t cap) {
  (void)user;
  if (cap < 8) return 0;
  uint64_t mac = fake_mac(self);
  memcpy(out, &mac, 8);
  return 8;
}

static bool on_verify(void *user, const swim_update *u, const char *from) {
  (void)user;
  (void)from;
  uint64_t mac = fake_mac(u);
  return u->proof_len == 8 && memcmp(u->proof, &mac, 8) == 0;
}

static const swim_ops ops_trusting = {.send = on_send,
                                      .member_changed = on_changed,
                                      .sign = on_sign,
                                      .verify = on_verify};

/* ---- what the network asks of the nodes --------------------------------- */

static uint64_t node_deadline(void *user, uint32_t i) {
  return swim_next_deadline(((net *)user)->nodes[i].sw);
}

static void node_tick(void *user, uint32_t i, uint64_t now) {
  swim_tick(((net *)user)->nodes[i].sw, now);
}

static bool node_deliver(void *user, vnet_msg *h, uint64_t now) {
  net *n = user;
  swim_receive(n->nodes[h->to].sw, n->nodes[h->from].name,
               &((vnet_cluster_msg *)h)->swim, now);
  return true;
}

static const vnet_ops net_ops = {.deadline = node_deadline,
                                 .tick = node_tick,
                                 .deliver = node_deliver,
                                 .free_msg = vnet_cluster_msg_free};

static void node_start(net *n, int i, uint64_t epoch) {
  tnode *t = &n->nodes[i];
  swim_config c = n->cfg;
  t->epoch = epoch;
  c.name = t->name;
  c.addr = t->addr;
  c.epoch = epoch;
  c.tags = n->tags[i];
  c.seed = vnet_node_seed(n->v, (uint32_t)i, epoch);
  assert_int_equal(0,
                   swim_new(&t->sw, &c, n->trust ? &ops_trusting : &ops, t));
  vnet_set_up(n->v, (uint32_t)i, true);
}

/* tags: each node's, or NULL for none at all. */
static net *net_new_tagged(int count, uint64_t seed, const swim_config *cfg,
                           bool trust, const char *const *tags) {
  net *n = calloc(1, sizeof(*n));
  assert_non_null(n);
  n->trust = trust;
  for (int i = 0; tags && i < count; i++) n->tags[i] = tags[i];
  vnet_config vc = {.nodes = (uint32_t)count, .seed = seed};
  assert_int_equal(0, vnet_new(&n->v, &vc, &net_ops, n));
  n->count = count;
  if (cfg) n->cfg = *cfg;
  for (int i = 0; i < count; i++) {
    tnode *t = &n->nodes[i];
    t->n = n;
    t->index = i;
    snprintf(t->name, sizeof(t->name), "n%d", i);
    snprintf(t->addr, sizeof(t->addr), "n%d:7000", i);
    node_start(n, i, 1000 + (uint64_t)i);
  }
  return n;
}

static net *net_new_as(int count, uint64_t seed, const swim_config *cfg,
                       bool trust) {
  return net_new_tagged(count, seed, cfg, trust, NULL);
}

static net *net_new(int count, uint64_t seed, const swim_config *cfg) {
  return net_new_as(count, seed, cfg, false);
}

static void net_free(net *n) {
  vnet_free(n->v);
  for (int i = 0; i < n->count; i++) swim_free(n->nodes[i].sw);
  free(n->events);
  free(n);
}

/* Node i joins through node `seed` (-1: alone). */
static void node_join(net *n, int i, int seed) {
  const char *seeds[1] = {seed >= 0 ? n->nodes[seed].addr : NULL};
  assert_int_equal(0, swim_join(n->nodes[i].sw, seeds, seed >= 0 ? 1 : 0,
                                now_of(n)));
}

/* Messages already sent by a killed node still arrive (they left before);
 * nothing reaches it and nothing new leaves it. */
static void node_kill(net *n, int i) { vnet_set_up(n->v, (uint32_t)i, false); }

/* ---- views -------------------------------------------------------------- */

typedef struct who_state {
  const char *name;
  swim_state state;
} who_state;

/* The predicates take the net as a void *, as vnet_run_until calls them. */

/* Every up node other than `name` knows it in state st. */
static bool all_see(void *net_, const void *arg) {
  net *n = net_;
  const who_state *w = arg;
  for (int i = 0; i < n->count; i++) {
    tnode *t = &n->nodes[i];
    if (!up(n, i) || strcmp(t->name, w->name) == 0) continue;
    swim_update u;
    if (!swim_member(t->sw, w->name, &u) || u.state != w->state) return false;
  }
  return true;
}

/* Every up node sees exactly the up nodes, all alive. */
static bool converged(void *net_, const void *arg) {
  net *n = net_;
  (void)arg;
  size_t nup = 0;
  for (int i = 0; i < n->count; i++) nup += up(n, i);
  for (int i = 0; i < n->count; i++) {
    tnode *t = &n->nodes[i];
    if (!up(n, i)) continue;
    if (swim_alive_count(t->sw) != nup) return false;
    for (int j = 0; j < n->count; j++) {
      swim_update u;
      if (!up(n, j)) continue;
      if (!swim_member(t->sw, n->nodes[j].name, &u) || u.state != SWIM_ALIVE ||
          u.epoch != n->nodes[j].epoch)
        return false;
    }
  }
  return true;
}

static bool anyone_suspects(void *net_, const void *arg) {
  net *n = net_;
  const char *name = arg;
  for (int i = 0; i < n->count; i++) {
    swim_update u;
    if (up(n, i) && swim_member(n->nodes[i].sw, name, &u) &&
        u.state == SWIM_SUSPECT)
      return true;
  }
  return false;
}

/* Events for `name` seen by `node` (or by anyone, node < 0) in `state`. */
static size_t count_events(net *n, int node, const char *name,
                           swim_state state) {
  size_t c = 0;
  for (size_t i = 0; i < n->nevents; i++) {
    const event *e = &n->events[i];
    if ((node < 0 || e->node == node) && strcmp(e->name, name) == 0 &&
        e->state == state)
      c++;
  }
  return c;
}

static swim_stats stats_of(net *n, int i) {
  swim_stats st;
  swim_get_stats(n->nodes[i].sw, &st);
  return st;
}

/* Starts `count` nodes, all joining through node 0, and waits until every
 * node sees every other alive. */
static net *cluster_as(int count, uint64_t seed, const swim_config *cfg,
                       uint64_t max_ms, bool trust) {
  net *n = net_new_as(count, seed, cfg, trust);
  node_join(n, 0, -1);
  for (int i = 1; i < count; i++) node_join(n, i, 0);
  uint64_t t = vnet_run_until(n->v, converged, NULL, max_ms);
  if (t == UINT64_MAX)
    fail_msg("%d nodes did not converge in %llu ms", count,
             (unsigned long long)max_ms);
  return n;
}

static net *cluster(int count, uint64_t seed, const swim_config *cfg,
                    uint64_t max_ms) {
  return cluster_as(count, seed, cfg, max_ms, false);
}

/* ---- tests -------------------------------------------------------------- */

static void three_nodes_join_through_one_seed_and_all_see_three_alive(
    void **state) {
  (void)state;
  net *n = cluster(3, 1, NULL, 5000);
  for (int i = 0; i < 3; i++) {
    swim_update all[4];
    assert_int_equal(3, swim_members(n->nodes[i].sw, all, 4));
    assert_int_equal(3, swim_alive_count(n->nodes[i].sw));
    for (int j = 0; j < 3; j++) assert_int_equal(SWIM_ALIVE, all[j].state);
  }
  /* Each saw the two others appear, as alive and not as restarts. */
  for (size_t i = 0; i < n->nevents; i++) {
    assert_int_equal(SWIM_ALIVE, n->events[i].state);
    assert_int_equal(SWIM_ALIVE, n->events[i].was);
    assert_false(n->events[i].restarted);
  }
  assert_int_equal(6, n->nevents);
  net_free(n);
}

static void alone_without_seeds_is_a_cluster_of_one_and_sends_nothing(
    void **state) {
  (void)state;
  net *n = net_new(1, 2, NULL);
  node_join(n, 0, -1);
  vnet_run(n->v, 30000);
  swim_stats st = stats_of(n, 0);
  assert_int_equal(0, st.msgs_out);
  assert_int_equal(1, swim_alive_count(n->nodes[0].sw));
  net_free(n);
}

static void join_retries_seeds_with_doubling_backoff_until_one_answers(
    void **state) {
  (void)state;
  net *n = net_new(2, 3, NULL);
  node_kill(n, 0); /* the seed is not up yet */
  node_join(n, 1, 0);
  vnet_run(n->v, 12000);
  /* 0, then +500, +1000, +2000, +4000 (capped at 8x), +4000 ... */
  const uint64_t expect[] = {0, 500, 1500, 3500, 7500, 11500};
  assert_int_equal(6, n->nseed_sends);
  for (int i = 0; i < 6; i++) assert_int_equal(expect[i], n->seed_sends[i]);
  /* The seed comes up (alone): the next retry joins. */
  swim_free(n->nodes[0].sw);
  node_start(n, 0, 5000);
  node_join(n, 0, -1);
  assert_true(vnet_run_until(n->v, converged, NULL, 6000) <= 4000 + 10);
  int sends = n->nseed_sends;
  vnet_run(n->v, 20000);
  assert_int_equal(sends, n->nseed_sends); /* joined: no more retries */
  net_free(n);
}

static void deadline_is_exact_and_nothing_happens_before_it(void **state) {
  (void)state;
  net *n = cluster(3, 4, NULL, 5000);
  for (int round = 0; round < 50; round++) {
    for (int i = 0; i < 3; i++) {
      swim *sw = n->nodes[i].sw;
      uint64_t d = swim_next_deadline(sw);
      assert_true(d > now_of(n) && d != UINT64_MAX);
      swim_stats before = stats_of(n, i);
      swim_tick(sw, d - 1); /* early: a no-op */
      swim_stats after = stats_of(n, i);
      assert_int_equal(before.msgs_out, after.msgs_out);
      assert_int_equal(d, swim_next_deadline(sw));
    }
    assert_true(vnet_step(n->v, UINT64_MAX));
  }
  net_free(n);
}

/* Upper bound for a crash to be declared dead everywhere, from the config:
 * every node probes every other within two shuffled rounds of N - 1
 * intervals, plus the probe's own interval; suspicion lasts at most
 * max_mult * min_mult * max(1, log10 N) intervals (intervals scaled by
 * local health, at most lhm); then the death spreads in a few intervals. */
static uint64_t death_bound(int nodes, uint32_t lhm) {
  double interval = INTERVAL * (1.0 + lhm);
  double min = 4.0 * fmax(1.0, log10((double)nodes)) * interval;
  return (uint64_t)((2.0 * (nodes - 1) + 1) * interval + 6.0 * min +
                    4.0 * interval);
}

static void killed_node_is_suspected_then_dead_on_every_other_node(
    void **state) {
  (void)state;
  swim_config c = {.dead_reclaim_ms = 30000};
  net *n = cluster(5, 5, &c, 10000);
  size_t first = n->nevents;
  node_kill(n, 4);
  uint64_t killed = now_of(n);
  who_state dead = {"n4", SWIM_DEAD};
  uint64_t t = vnet_run_until(n->v, all_see, &dead, 120000);
  assert_true(t != UINT64_MAX);
  uint32_t lhm = 0;
  for (int i = 0; i < 4; i++) {
    uint32_t h = stats_of(n, i).local_health;
    lhm = h > lhm ? h : lhm;
  }
  /* Not before the shortest suspicion, not after the bound. */
  assert_true(t >= (uint64_t)4 * INTERVAL);
  assert_true(t <= death_bound(5, lhm));
  /* Each survivor reported n4 suspect, then dead (and nothing else). */
  for (int i = 0; i < 4; i++) {
    int seen = 0;
    for (size_t e = first; e < n->nevents; e++) {
      const event *ev = &n->events[e];
      if (ev->node != i) continue;
      assert_string_equal("n4", ev->name);
      if (seen == 0) {
        assert_int_equal(SWIM_SUSPECT, ev->state);
        assert_int_equal(SWIM_ALIVE, ev->was);
      } else {
        assert_int_equal(SWIM_DEAD, ev->state);
        assert_int_equal(SWIM_SUSPECT, ev->was);
        assert_true(ev->at - killed <= death_bound(5, lhm));
      }
      seen++;
    }
    assert_int_equal(2, seen);
    assert_int_equal(4, swim_alive_count(n->nodes[i].sw));
  }
  /* Kept dead for dead_reclaim_ms, so late gossip cannot revive it, then
   * forgotten. */
  vnet_run(n->v, 25000);
  assert_true(swim_member(n->nodes[0].sw, "n4", NULL));
  vnet_run(n->v, 10000);
  for (int i = 0; i < 4; i++)
    assert_false(swim_member(n->nodes[i].sw, "n4", NULL));
  net_free(n);
}

static void closed_links_bring_a_kill_to_every_node_within_three_seconds(
    void **state) {
  (void)state;
  net *n = cluster(5, 13, NULL, 10000);
  node_kill(n, 4);
  /* kill -9: the kernel closes n4's sockets and every peer's link sees it. */
  for (int i = 0; i < 4; i++) swim_link_closed(n->nodes[i].sw, "n4", now_of(n));
  who_state dead = {"n4", SWIM_DEAD};
  uint64_t t = vnet_run_until(n->v, all_see, &dead, 60000);
  print_message("dead everywhere %llu ms after the kill\n",
                (unsigned long long)t);
  /* A probe interval, then the shortest suspicion (4 intervals) once k
   * peers confirmed it, and a little gossip. */
  assert_true(t <= 3000);
  net_free(n);
}

/* kill -9 of n4 in 5 nodes: every survivor's link closes and its dial
 * is refused at once; the probe that follows fails too (nobody reaches
 * n4): dead everywhere within a second, not at the end of a 2 s
 * suspicion. */
static void refused_dial_and_failed_probe_bring_a_kill_under_a_second(
    void **state) {
  (void)state;
  net *n = cluster(5, 13, NULL, 10000);
  node_kill(n, 4);
  for (int i = 0; i < 4; i++) {
    swim_link_closed(n->nodes[i].sw, "n4", now_of(n));
    swim_refused(n->nodes[i].sw, "n4", now_of(n));
  }
  who_state dead = {"n4", SWIM_DEAD};
  uint64_t t = vnet_run_until(n->v, all_see, &dead, 60000);
  print_message("refused: dead everywhere %llu ms after the kill\n",
                (unsigned long long)t);
  assert_true(t != UINT64_MAX);
  assert_true(t <= 1000);
  uint64_t refused_deaths = 0;
  for (int i = 0; i < 4; i++) {
    assert_int_equal(1, stats_of(n, i).refusals);
    assert_int_equal(1, count_events(n, i, "n4", SWIM_DEAD));
    refused_deaths += stats_of(n, i).refused_deaths;
  }
  assert_true(refused_deaths >= 1);
  net_free(n);
}

/* Two nodes: the lone survivor has nobody to ask, and decides alone on
 * the refusal and its own failed probe. Without the refusal it waits for
 * the whole suspicion. */
static void a_lone_survivor_decides_on_a_refusal_and_its_probe(void **state) {
  (void)state;
  net *n = cluster(2, 21, NULL, 10000);
  node_kill(n, 1);
  swim_link_closed(n->nodes[0].sw, "n1", now_of(n));
  swim_refused(n->nodes[0].sw, "n1", now_of(n));
  who_state dead = {"n1", SWIM_DEAD};
  uint64_t t = vnet_run_until(n->v, all_see, &dead, 60000);
  print_message("lone survivor: dead %llu ms after the kill\n",
                (unsigned long long)t);
  assert_true(t != UINT64_MAX);
  assert_true(t <= 1000);
  net_free(n);
  n = cluster(2, 21, NULL, 10000);
  node_kill(n, 1);
  swim_link_closed(n->nodes[0].sw, "n1", now_of(n));
  assert_true(vnet_run_until(n->v, all_see, &dead, 60000) >= 2000);
  net_free(n);
}

/* Two nodes, the peer hung (no refusal: only missed probes) three times,
 * each time restarted once declared dead. The survivor's failed probes of
 * a member it already suspects add nothing to its local health, and what
 * the hung epoch's probes added is given back when the member comes back
 * restarted: the third verdict takes as long as the first, and the
 * survivor is healthy again. (Counted, each hang raised the survivor's
 * health until its verdicts took 2, 4, then 6 s of suspicion alone.) */
static void a_lone_survivor_times_each_hang_alike(void **state) {
  (void)state;
  net *n = cluster(2, 23, NULL, 10000);
  who_state dead = {"n1", SWIM_DEAD};
  uint64_t took[3];
  for (int round = 0; round < 3; round++) {
    node_kill(n, 1);
    took[round] = vnet_run_until(n->v, all_see, &dead, 60000);
    assert_true(took[round] != UINT64_MAX);
    swim_free(n->nodes[1].sw);
    node_start(n, 1, 20000 + 1000 * (uint64_t)round);
    node_join(n, 1, 0);
    assert_true(vnet_run_until(n->v, converged, NULL, 20000) != UINT64_MAX);
    assert_int_equal(0, stats_of(n, 0).local_health);
    vnet_run(n->v, 500);
  }
  print_message("lone survivor, hangs: dead after %llu, %llu, %llu ms\n",
                (unsigned long long)took[0], (unsigned long long)took[1],
                (unsigned long long)took[2]);
  assert_true(took[1] <= took[0] + 1000);
  assert_true(took[2] <= took[0] + 1000);
  net_free(n);
}

/* A refusal about a member that still answers (its listener was only
 * restarting) is a suspicion it refutes: its probe succeeds, so no death,
 * and it is alive everywhere with a higher incarnation. */
static void a_refused_member_that_answers_refutes_and_lives(void **state) {
  (void)state;
  net *n = cluster(4, 17, NULL, 10000);
  swim_refused(n->nodes[0].sw, "n3", now_of(n));
  assert_int_equal(1, count_events(n, 0, "n3", SWIM_SUSPECT));
  assert_true(vnet_run_until(n->v, converged, NULL, 10000) != UINT64_MAX);
  vnet_run(n->v, 5000);
  assert_int_equal(0, count_events(n, -1, "n3", SWIM_DEAD));
  assert_int_equal(1, stats_of(n, 0).refusals);
  assert_int_equal(0, stats_of(n, 0).refused_deaths);
  assert_true(stats_of(n, 3).refutations >= 1);
  for (int i = 0; i < 4; i++) {
    swim_update u;
    assert_true(swim_member(n->nodes[i].sw, "n3", &u));
    assert_int_equal(SWIM_ALIVE, u.state);
  }
  net_free(n);
}

static void slow_node_that_answers_indirect_probes_is_not_suspected(
    void **state) {
  (void)state;
  net *n = cluster(4, 6, NULL, 10000);
  /* n0 <-> n3 takes 350 ms each way: a direct probe's ACK misses both the
   * 200 ms timeout and the 500 ms interval, but n1 and n2 reach n3 fast. */
  assert_int_equal(0, vnet_set_link_delay(n->v, 0, 3, 350));
  assert_int_equal(0, vnet_set_link_delay(n->v, 3, 0, 350));
  vnet_run(n->v, 60000);
  assert_int_equal(0, count_events(n, -1, "n3", SWIM_SUSPECT));
  assert_int_equal(0, count_events(n, -1, "n0", SWIM_SUSPECT));
  swim_stats st = stats_of(n, 0);
  assert_true(st.probes_indirect > 0);
  assert_int_equal(0, st.suspicions);
  assert_true(converged(n, NULL));
  net_free(n);
}

static void suspected_node_refutes_with_a_higher_incarnation(void **state) {
  (void)state;
  net *n = cluster(4, 7, NULL, 10000);
  swim_update before;
  assert_true(swim_member(n->nodes[2].sw, "n2", &before));
  /* Cut n2 off until someone suspects it, then heal before it can die. */
  node_kill(n, 2);
  assert_true(vnet_run_until(n->v, anyone_suspects, "n2", 20000) != UINT64_MAX);
  vnet_set_up(n->v, 2, true);
  uint64_t healed = now_of(n);
  assert_true(vnet_run_until(n->v, converged, NULL, 10000) != UINT64_MAX);
  assert_true(now_of(n) - healed < 2000); /* before the 2 s minimum suspicion */
  swim_update after;
  assert_true(swim_member(n->nodes[2].sw, "n2", &after));
  assert_true(after.incarnation > before.incarnation);
  assert_true(stats_of(n, 2).refutations >= 1);
  for (int i = 0; i < 4; i++) {
    swim_update u;
    assert_true(swim_member(n->nodes[i].sw, "n2", &u));
    assert_int_equal(SWIM_ALIVE, u.state);
    assert_int_equal(after.incarnation, u.incarnation);
  }
  assert_int_equal(0, count_events(n, -1, "n2", SWIM_DEAD));
  net_free(n);
}

static void restart_with_a_larger_epoch_is_reported_restarted_and_alive(
    void **state) {
  (void)state;
  net *n = cluster(4, 8, NULL, 10000);
  size_t first = n->nevents;
  /* n3 crashes and comes straight back, before anyone noticed. */
  swim_free(n->nodes[3].sw);
  node_start(n, 3, 9000);
  node_join(n, 3, 0);
  assert_true(vnet_run_until(n->v, converged, NULL, 10000) != UINT64_MAX);
  for (int i = 0; i < 3; i++) {
    swim_update u;
    assert_true(swim_member(n->nodes[i].sw, "n3", &u));
    assert_int_equal(9000, u.epoch);
    assert_int_equal(SWIM_ALIVE, u.state);
    bool restarted = false;
    for (size_t e = first; e < n->nevents; e++) {
      const event *ev = &n->events[e];
      if (ev->node == i && strcmp(ev->name, "n3") == 0 && ev->restarted) {
        assert_int_equal(9000, ev->epoch);
        assert_int_equal(SWIM_ALIVE, ev->state);
        restarted = true;
      }
    }
    assert_true(restarted);
  }
  assert_int_equal(0, count_events(n, -1, "n3", SWIM_DEAD));
  net_free(n);
}

static void graceful_leave_is_left_everywhere_not_dead(void **state) {
  (void)state;
  net *n = cluster(5, 9, NULL, 10000);
  swim_leave(n->nodes[4].sw, now_of(n));
  assert_int_equal(UINT64_MAX, swim_next_deadline(n->nodes[4].sw));
  node_kill(n, 4); /* the host closes once the LEAVEs went out */
  who_state left = {"n4", SWIM_LEFT};
  assert_true(vnet_run_until(n->v, all_see, &left, 5000) <= 2 * INTERVAL);
  vnet_run(n->v, 30000); /* far past any suspicion */
  assert_true(all_see(n, &left));
  assert_int_equal(0, count_events(n, -1, "n4", SWIM_DEAD));
  assert_int_equal(0, count_events(n, -1, "n4", SWIM_SUSPECT));
  assert_int_equal(4, count_events(n, -1, "n4", SWIM_LEFT) -
                          count_events(n, 4, "n4", SWIM_LEFT));
  for (int i = 0; i < 4; i++) {
    assert_int_equal(4, swim_alive_count(n->nodes[i].sw));
    assert_int_equal(1, stats_of(n, i).leaves);
  }
  net_free(n);
}

/* Hands node `to` a message as if it came over the link from `from`. */
static void inject(net *n, int to, const char *from, const char *sender,
                   swim_msg_type type, const swim_update *ups, uint32_t nups) {
  swim_msg m;
  memset(&m, 0, sizeof(m));
  m.type = type;
  snprintf(m.sender, sizeof(m.sender), "%s", sender);
  m.seq = 4242;
  m.updates = ups;
  m.nupdates = nups;
  swim_receive(n->nodes[to].sw, from, &m, now_of(n));
}

static void forged_messages_are_rejected_and_counted(void **state) {
  (void)state;
  net *n = cluster(3, 10, NULL, 5000);
  swim_update n2, me;
  assert_true(swim_member(n->nodes[0].sw, "n2", &n2));
  assert_true(swim_member(n->nodes[0].sw, "n0", &me));
  size_t events = n->nevents;

  /* The sender field is not the authenticated peer. */
  swim_update dead = n2;
  dead.state = SWIM_DEAD;
  inject(n, 0, "n1", "n2", SWIM_MSG_PING, &dead, 1);
  assert_int_equal(1, stats_of(n, 0).rejected_sender);
  /* A peer cannot speak as this node either. */
  inject(n, 0, "n0", "n0", SWIM_MSG_PING, &dead, 1);
  assert_int_equal(2, stats_of(n, 0).rejected_sender);

  /* A claim that n0 is alive at an incarnation it never had. */
  swim_update claim = me;
  claim.incarnation = me.incarnation + 7;
  inject(n, 0, "n1", "n1", SWIM_MSG_PING, &claim, 1);
  assert_int_equal(1, stats_of(n, 0).rejected_claim);
  swim_update now;
  assert_true(swim_member(n->nodes[0].sw, "n0", &now));
  assert_int_equal(me.incarnation, now.incarnation);
  /* ... or in an epoch it never had. */
  claim = me;
  claim.epoch = me.epoch + 1;
  inject(n, 0, "n1", "n1", SWIM_MSG_PING, &claim, 1);
  assert_int_equal(2, stats_of(n, 0).rejected_claim);

  /* n1 relays news of n2 five incarnations ahead: only n2 may jump. */
  swim_update jump = n2;
  jump.incarnation = n2.incarnation + 5;
  inject(n, 0, "n1", "n1", SWIM_MSG_PING, &jump, 1);
  assert_int_equal(1, stats_of(n, 0).rejected_jump);
  assert_true(swim_member(n->nodes[0].sw, "n2", &now));
  assert_int_equal(n2.incarnation, now.incarnation);
  assert_int_equal(SWIM_ALIVE, now.state);
  /* Nothing above changed anyone's view. */
  assert_int_equal(events, n->nevents);

  /* n2 itself may (as on refutation); a relayed step of one is fine. */
  inject(n, 0, "n2", "n2", SWIM_MSG_PING, &jump, 1);
  assert_true(swim_member(n->nodes[0].sw, "n2", &now));
  assert_int_equal(n2.incarnation + 5, now.incarnation);
  jump.incarnation++;
  inject(n, 0, "n1", "n1", SWIM_MSG_PING, &jump, 1);
  assert_true(swim_member(n->nodes[0].sw, "n2", &now));
  assert_int_equal(n2.incarnation + 6, now.incarnation);
  assert_int_equal(1, stats_of(n, 0).rejected_jump);
  net_free(n);
}

/* Issue 16, finding 1: one frame with 65,100 invented members filled the
 * peer table. Members are capped (max_members, self, dead and left ones
 * included): the rest are refused and counted before anything else is
 * done with them; the members already known keep working. */
static void members_past_the_cap_are_refused_and_counted(void **state) {
  (void)state;
  swim_config cfg = {.max_members = 5};
  net *n = cluster(3, 12, &cfg, 5000);
  enum { INVENTED = 1000 };
  swim_update *ups = calloc(INVENTED, sizeof(*ups));
  assert_non_null(ups);
  for (int i = 0; i < INVENTED; i++) {
    snprintf(ups[i].name, sizeof(ups[i].name), "x%d", i);
    snprintf(ups[i].addr, sizeof(ups[i].addr), "x%d:7000", i);
    ups[i].state = SWIM_ALIVE;
    ups[i].epoch = 1;
  }
  /* Without proofs a relayed new member is believed: only the cap holds. */
  inject(n, 0, "n1", "n1", SWIM_MSG_PING, ups, INVENTED);
  assert_int_equal(5, swim_members(n->nodes[0].sw, NULL, 0));
  assert_int_equal(INVENTED - 2, stats_of(n, 0).members_refused);
  /* Known members are still updated: n2's refutation is taken. */
  swim_update n2;
  assert_true(swim_member(n->nodes[0].sw, "n2", &n2));
  n2.incarnation++;
  inject(n, 0, "n2", "n2", SWIM_MSG_PING, &n2, 1);
  swim_update now;
  assert_true(swim_member(n->nodes[0].sw, "n2", &now));
  assert_int_equal(n2.incarnation, now.incarnation);
  free(ups);
  net_free(n);
}

/* ---- a member speaks only for itself (sign and verify) ------------------ */

/* Node 0 holds `name` dead. */
static bool first_sees_dead(void *net_, const void *arg) {
  net *n = net_;
  swim_update u;
  return swim_member(n->nodes[0].sw, arg, &u) && u.state == SWIM_DEAD;
}

/* u as its member would sign it: the proof in buf. */
static swim_update signed_by_member(swim_update u, uint8_t buf[8]) {
  swim_update a = u;
  if (a.state != SWIM_LEFT) a.state = SWIM_ALIVE;
  a.proof = NULL;
  a.proof_len = 0;
  assert_int_equal(8, on_sign(NULL, &a, buf, 8));
  u.proof = buf;
  u.proof_len = 8;
  return u;
}

static void trusted_cluster_joins_restarts_and_leaves_with_no_rejection(
    void **state) {
  (void)state;
  net *n = cluster_as(5, 20, NULL, 10000, true);
  /* Every node signed its own record once, and holds everyone's proof. */
  for (int i = 0; i < 5; i++) {
    assert_int_equal(1, stats_of(n, i).signs);
    for (int j = 0; j < 5; j++) {
      swim_update u;
      assert_true(swim_member(n->nodes[i].sw, n->nodes[j].name, &u));
      assert_int_equal(8, u.proof_len);
      assert_true(on_verify(NULL, &u, NULL));
    }
  }
  /* n3 restarts; n4 leaves; the news travels relayed, with proofs. */
  swim_free(n->nodes[3].sw);
  node_start(n, 3, 9000);
  node_join(n, 3, 0);
  assert_true(vnet_run_until(n->v, converged, NULL, 10000) != UINT64_MAX);
  swim_leave(n->nodes[4].sw, now_of(n));
  node_kill(n, 4);
  who_state left = {"n4", SWIM_LEFT};
  assert_true(vnet_run_until(n->v, all_see, &left, 5000) != UINT64_MAX);
  vnet_run(n->v, 20000);
  assert_true(all_see(n, &left));
  for (int i = 0; i < 4; i++) {
    swim_stats st = stats_of(n, i);
    assert_int_equal(0, st.rejected_proof);
    assert_true(st.verifies > 0);
    swim_update u;
    assert_true(swim_member(n->nodes[i].sw, "n3", &u));
    assert_int_equal(9000, u.epoch);
    assert_int_equal(SWIM_ALIVE, u.state);
  }
  assert_int_equal(0, count_events(n, -1, "n3", SWIM_DEAD));
  assert_int_equal(0, count_events(n, -1, "n4", SWIM_DEAD));
  net_free(n);
}

static void relayed_claims_only_a_member_can_make_need_its_proof(
    void **state) {
  (void)state;
  net *n = cluster_as(3, 21, NULL, 5000, true);
  swim_update n2;
  assert_true(swim_member(n->nodes[0].sw, "n2", &n2));
  uint8_t real[8];
  memcpy(real, n2.proof, 8);
  size_t events = n->nevents;

  /* n1 says n2 moved on (a new incarnation), left, restarted, or moved to
   * another address: without n2's proof, none of it is believed. */
  swim_update claim = n2;
  claim.proof = NULL;
  claim.proof_len = 0;
  claim.incarnation++;
  inject(n, 0, "n1", "n1", SWIM_MSG_PING, &claim, 1);
  assert_int_equal(1, stats_of(n, 0).rejected_proof);
  claim.state = SWIM_LEFT;
  inject(n, 0, "n1", "n1", SWIM_MSG_PING, &claim, 1);
  assert_int_equal(2, stats_of(n, 0).rejected_proof);
  claim = n2;
  claim.proof = NULL;
  claim.proof_len = 0;
  claim.epoch++;
  inject(n, 0, "n1", "n1", SWIM_MSG_PING, &claim, 1);
  assert_int_equal(3, stats_of(n, 0).rejected_proof);
  /* n2's real proof does not cover what it never said. */
  claim = n2;
  claim.incarnation++;
  claim.proof = real;
  claim.proof_len = 8;
  inject(n, 0, "n1", "n1", SWIM_MSG_PING, &claim, 1);
  assert_int_equal(4, stats_of(n, 0).rejected_proof);
  assert_int_equal(1, stats_of(n, 0).proof_failures);
  /* Nor does a new address at the same incarnation take. */
  claim = n2;
  snprintf(claim.addr, sizeof(claim.addr), "evil:1");
  inject(n, 0, "n1", "n1", SWIM_MSG_PING, &claim, 1);
  /* A member never seen is introduced only with its own proof. */
  swim_update ghost;
  memset(&ghost, 0, sizeof(ghost));
  snprintf(ghost.name, sizeof(ghost.name), "ghost");
  snprintf(ghost.addr, sizeof(ghost.addr), "ghost:7000");
  ghost.epoch = 5;
  ghost.state = SWIM_ALIVE;
  inject(n, 0, "n1", "n1", SWIM_MSG_PING, &ghost, 1);
  assert_int_equal(5, stats_of(n, 0).rejected_proof);
  swim_update now;
  assert_false(swim_member(n->nodes[0].sw, "ghost", &now));
  assert_true(swim_member(n->nodes[0].sw, "n2", &now));
  assert_int_equal(n2.epoch, now.epoch);
  assert_int_equal(n2.incarnation, now.incarnation);
  assert_int_equal(SWIM_ALIVE, now.state);
  assert_string_equal(n2.addr, now.addr);
  assert_int_equal(events, n->nevents);

  /* What n2 did sign is believed from anyone: its proof travels. But n1
   * relayed a proof that failed: for a while its proofs are not checked
   * (a forger pays one check per penalty, not one per claim). */
  uint64_t verifies = stats_of(n, 0).verifies;
  uint8_t buf[8];
  claim = n2;
  claim.incarnation += 3;
  snprintf(claim.addr, sizeof(claim.addr), "n2:7001");
  claim = signed_by_member(claim, buf);
  inject(n, 0, "n1", "n1", SWIM_MSG_PING, &claim, 1);
  assert_int_equal(6, stats_of(n, 0).rejected_proof);
  assert_int_equal(1, stats_of(n, 0).proofs_ignored);
  assert_int_equal(verifies, stats_of(n, 0).verifies);
  vnet_run(n->v, SWIM_PROOF_PENALTY_MS);
  inject(n, 0, "n1", "n1", SWIM_MSG_PING, &claim, 1);
  assert_true(swim_member(n->nodes[0].sw, "n2", &now));
  assert_int_equal(n2.incarnation + 3, now.incarnation);
  assert_string_equal("n2:7001", now.addr);
  assert_int_equal(8, now.proof_len);
  assert_memory_equal(buf, now.proof, 8);
  uint8_t gbuf[8];
  ghost = signed_by_member(ghost, gbuf);
  inject(n, 0, "n1", "n1", SWIM_MSG_PING, &ghost, 1);
  assert_true(swim_member(n->nodes[0].sw, "ghost", &now));
  assert_int_equal(6, stats_of(n, 0).rejected_proof);
  assert_int_equal(1, stats_of(n, 0).proof_failures);
  net_free(n);
}

/* ---- tags ---------------------------------------------------------------- */

static void tags_are_joined_sorted_and_checked_against_every_cap(
    void **state) {
  (void)state;
  char out[SWIM_TAGS_MAX + 1];
  const char *why = "unset";
  const char *kv[] = {"zone=eu-1.a", "rack=r_7", "empty=", "Zone=B"};
  assert_int_equal(0, swim_tags_join(kv, 4, out, &why));
  assert_null(why);
  assert_string_equal("Zone=B,empty=,rack=r_7,zone=eu-1.a", out);
  assert_true(swim_tags_valid(out, strlen(out)));
  assert_int_equal(0, swim_tags_join(NULL, 0, out, &why));
  assert_string_equal("", out);

  char key33[40], val65[80];
  memset(key33, 'k', 33);
  strcpy(key33 + 33, "=v");
  memset(val65, 'v', 67);
  memcpy(val65, "k=", 2);
  val65[67] = '\0';
  struct {
    const char *kv[9];
    size_t n;
    const char *why;
  } bad[] = {
      {{"zone"}, 1, "want key=value"},
      {{"=a"}, 1, "want key=value"},
      {{key33}, 1, "key longer than 32 bytes"},
      {{val65}, 1, "value longer than 64 bytes"},
      {{"zo ne=a"}, 1, "characters other than [A-Za-z0-9_.-]"},
      {{"zone=a,b"}, 1, "characters other than [A-Za-z0-9_.-]"},
      {{"zone=a", "zone=b"}, 2, "a key given twice"},
      {{"a=1", "b=1", "c=1", "d=1", "e=1", "f=1", "g=1", "h=1", "i=1"},
       9,
       "more than 8 tags"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    assert_int_equal(TR_EINVAL, swim_tags_join(bad[i].kv, bad[i].n, out, &why));
    assert_string_equal(bad[i].why, why);
  }
  /* Eight tags of the longest key and value pass each cap alone but not
   * the total. */
  char big[8][100];
  const char *bigs[8];
  for (int i = 0; i < 8; i++) {
    memset(big[i], 'a' + i, TR_TAG_KEY_MAX);
    big[i][TR_TAG_KEY_MAX] = '=';
    memset(big[i] + TR_TAG_KEY_MAX + 1, 'v', TR_TAG_VALUE_MAX);
    big[i][TR_TAG_KEY_MAX + 1 + TR_TAG_VALUE_MAX] = '\0';
    bigs[i] = big[i];
  }
  assert_int_equal(TR_EINVAL, swim_tags_join(bigs, 8, out, &why));
  assert_string_equal("tags longer than 512 bytes in all", why);
  assert_int_equal(0, swim_tags_join(bigs, 5, out, &why));

  /* swim_new takes only valid tags (sorted, as joined). */
  swim *sw = NULL;
  swim_config c = {.name = "n0", .addr = "n0:1", .epoch = 1,
                   .tags = "zone=a,rack=1"};
  assert_int_equal(TR_EINVAL, swim_new(&sw, &c, &ops, NULL));
  assert_null(sw);
  c.tags = "rack=1,zone=a";
  assert_int_equal(0, swim_new(&sw, &c, &ops, NULL));
  swim_update me;
  assert_true(swim_member(sw, "n0", &me));
  assert_int_equal(strlen(c.tags), me.tags_len);
  assert_memory_equal(c.tags, me.tags, me.tags_len);
  swim_free(sw);
}

static bool has_tags(const swim_update *u, const char *tags) {
  size_t len = tags ? strlen(tags) : 0;
  return u->tags_len == len && (!len || memcmp(u->tags, tags, len) == 0);
}

/* Every up node other than i sees node i's tags as `tags`. */
typedef struct who_tags {
  int i;
  const char *tags;
} who_tags;

static bool all_see_tags(void *net_, const void *arg) {
  net *n = net_;
  const who_tags *w = arg;
  for (int j = 0; j < n->count; j++) {
    swim_update u;
    if (!up(n, j) || j == w->i) continue;
    if (!swim_member(n->nodes[j].sw, n->nodes[w->i].name, &u) ||
        !has_tags(&u, w->tags))
      return false;
  }
  return true;
}

static void tags_travel_with_membership_and_change_only_by_restart(
    void **state) {
  (void)state;
  const char *tags[4] = {"zone=a", "rack=r1,zone=b", NULL, "zone=a"};
  for (int trust = 0; trust <= 1; trust++) {
    net *n = net_new_tagged(4, 30 + (uint64_t)trust, NULL, trust, tags);
    node_join(n, 0, -1);
    for (int i = 1; i < 4; i++) node_join(n, i, 0);
    assert_true(vnet_run_until(n->v, converged, NULL, 10000) != UINT64_MAX);
    for (int i = 0; i < 4; i++) {
      who_tags w = {i, tags[i]};
      assert_true(vnet_run_until(n->v, all_see_tags, &w, 5000) != UINT64_MAX);
    }
    /* n1 restarts with other tags: the new epoch brings them. */
    swim_free(n->nodes[1].sw);
    n->tags[1] = "zone=c";
    node_start(n, 1, 9000);
    node_join(n, 1, 0);
    who_tags w = {1, "zone=c"};
    assert_true(vnet_run_until(n->v, all_see_tags, &w, 10000) != UINT64_MAX);
    vnet_run(n->v, 5000);
    for (int i = 0; i < 4; i++) {
      swim_stats st = stats_of(n, i);
      assert_int_equal(0, st.rejected_tags);
      assert_int_equal(0, st.rejected_proof);
    }
    net_free(n);
  }
}

/* What another node relays about n2 cannot change its tags: with n2's
 * real proof at the same incarnation they are refused and counted
 * (rejected_tags); at a new one the proof does not cover them
 * (rejected_proof); a member never seen is not introduced with tags it did
 * not sign. n2's own word, and its honest records relayed, still pass. */
static void relayed_record_with_altered_tags_is_rejected_and_counted(
    void **state) {
  (void)state;
  const char *tags[3] = {NULL, NULL, "zone=a"};
  net *n = net_new_tagged(3, 31, NULL, true, tags);
  node_join(n, 0, -1);
  for (int i = 1; i < 3; i++) node_join(n, i, 0);
  assert_true(vnet_run_until(n->v, converged, NULL, 10000) != UINT64_MAX);
  who_tags w = {2, "zone=a"};
  assert_true(vnet_run_until(n->v, all_see_tags, &w, 5000) != UINT64_MAX);
  swim_update n2;
  assert_true(swim_member(n->nodes[0].sw, "n2", &n2));
  uint8_t real[8];
  memcpy(real, n2.proof, 8);
  size_t events = n->nevents;

  swim_update forged = n2;
  forged.proof = real;
  forged.tags = "zone=b";
  forged.tags_len = 6;
  inject(n, 0, "n1", "n1", SWIM_MSG_PING, &forged, 1);
  assert_int_equal(1, stats_of(n, 0).rejected_tags);
  /* Dropped too: none at all, or a suspicion carrying other tags. */
  forged.tags = NULL;
  forged.tags_len = 0;
  inject(n, 0, "n1", "n1", SWIM_MSG_PING, &forged, 1);
  assert_int_equal(2, stats_of(n, 0).rejected_tags);
  forged.tags = "zone=b";
  forged.tags_len = 6;
  forged.state = SWIM_SUSPECT;
  inject(n, 0, "n1", "n1", SWIM_MSG_PING, &forged, 1);
  assert_int_equal(3, stats_of(n, 0).rejected_tags);
  /* At a new incarnation, n2's real proof does not cover the change. */
  forged.state = SWIM_ALIVE;
  forged.incarnation++;
  inject(n, 0, "n1", "n1", SWIM_MSG_PING, &forged, 1);
  assert_int_equal(1, stats_of(n, 0).rejected_proof);
  swim_update now;
  assert_true(swim_member(n->nodes[0].sw, "n2", &now));
  assert_true(has_tags(&now, "zone=a"));
  assert_int_equal(SWIM_ALIVE, now.state);
  assert_int_equal(n2.incarnation, now.incarnation);
  assert_int_equal(events, n->nevents);

  /* A new member's signed record with its tags altered on the way. */
  swim_update ghost;
  memset(&ghost, 0, sizeof(ghost));
  snprintf(ghost.name, sizeof(ghost.name), "ghost");
  snprintf(ghost.addr, sizeof(ghost.addr), "ghost:7000");
  ghost.epoch = 5;
  ghost.state = SWIM_ALIVE;
  ghost.tags = "zone=a";
  ghost.tags_len = 6;
  uint8_t gbuf[8];
  ghost = signed_by_member(ghost, gbuf);
  ghost.tags = "zone=x";
  vnet_run(n->v, SWIM_PROOF_PENALTY_MS); /* n1's proofs are checked again */
  inject(n, 0, "n1", "n1", SWIM_MSG_PING, &ghost, 1);
  assert_int_equal(2, stats_of(n, 0).rejected_proof);
  assert_false(swim_member(n->nodes[0].sw, "ghost", &now));
  /* As signed, it is believed from anyone. */
  vnet_run(n->v, SWIM_PROOF_PENALTY_MS);
  ghost.tags = "zone=a";
  inject(n, 0, "n1", "n1", SWIM_MSG_PING, &ghost, 1);
  assert_true(swim_member(n->nodes[0].sw, "ghost", &now));
  assert_true(has_tags(&now, "zone=a"));

  /* An honest relay of n2's record (its tags as signed) still counts. */
  swim_update honest = n2;
  honest.proof = real;
  honest.state = SWIM_SUSPECT;
  inject(n, 0, "n1", "n1", SWIM_MSG_PING, &honest, 1);
  assert_true(swim_member(n->nodes[0].sw, "n2", &now));
  assert_int_equal(SWIM_SUSPECT, now.state);
  assert_int_equal(3, stats_of(n, 0).rejected_tags);
  net_free(n);
}

static void relayed_death_of_a_live_member_is_checked_by_a_probe_first(
    void **state) {
  (void)state;
  net *n = cluster_as(4, 22, NULL, 10000, true);
  swim_update n2, now;
  assert_true(swim_member(n->nodes[0].sw, "n2", &n2));
  /* n1 says the live n2 is dead: n0 suspects it and probes it at once;
   * n2 answers and refutes, and nobody ever holds it dead. */
  swim_update dead = n2;
  dead.proof = NULL;
  dead.proof_len = 0;
  dead.state = SWIM_DEAD;
  inject(n, 0, "n1", "n1", SWIM_MSG_PING, &dead, 1);
  assert_true(swim_member(n->nodes[0].sw, "n2", &now));
  assert_int_equal(SWIM_SUSPECT, now.state);
  assert_int_equal(1, stats_of(n, 0).death_checks);
  assert_true(vnet_run_until(n->v, converged, NULL, 5000) <= 2 * INTERVAL);
  vnet_run(n->v, 20000);
  assert_int_equal(0, count_events(n, -1, "n2", SWIM_DEAD));
  assert_true(stats_of(n, 2).refutations >= 1);

  /* n3 really died: the same word from two members, checked, ends in dead
   * within two probe rounds — long before a suspicion would run out. (From
   * one member only, a failed probe waits for the suspicion: one false
   * death and a lost probe do not make another.) */
  node_kill(n, 3);
  swim_update n3;
  assert_true(swim_member(n->nodes[0].sw, "n3", &n3));
  dead = n3;
  dead.proof = NULL;
  dead.proof_len = 0;
  dead.state = SWIM_DEAD;
  inject(n, 0, "n1", "n1", SWIM_MSG_PING, &dead, 1);
  inject(n, 0, "n2", "n2", SWIM_MSG_PING, &dead, 1);
  uint64_t took = vnet_run_until(n->v, first_sees_dead, "n3", 10000);
  assert_true(took <= 2 * INTERVAL + 50);
  assert_true(swim_member(n->nodes[0].sw, "n3", &now));
  assert_int_equal(SWIM_DEAD, now.state);
  net_free(n);
}

static void partitioned_halves_that_declared_each_other_dead_merge_on_heal(
    void **state) {
  (void)state;
  net *n = cluster(6, 12, NULL, 10000);
  uint8_t group[6];
  for (int i = 0; i < 6; i++) group[i] = i < 3 ? 0 : 1;
  assert_int_equal(0, vnet_partition(n->v, group));
  vnet_run(n->v, 30000);
  for (int i = 0; i < 6; i++) {
    assert_int_equal(3, swim_alive_count(n->nodes[i].sw));
    swim_update u;
    assert_true(swim_member(n->nodes[i].sw, i < 3 ? "n4" : "n1", &u));
    assert_int_equal(SWIM_DEAD, u.state);
  }
  vnet_partition(n->v, NULL);
  /* Nobody probes the dead, but each sync also asks one dead member: both
   * sides refute and merge within a couple of (jittered) sync intervals. */
  uint64_t t = vnet_run_until(n->v, converged, NULL, 60000);
  assert_true(t <= 2 * 15000);
  for (int i = 0; i < 6; i++) assert_true(stats_of(n, i).refutations >= 1);
  net_free(n);
}

static uint64_t scripted_run(uint64_t seed, event **events, size_t *nevents) {
  net *n = cluster(6, seed, NULL, 10000);
  assert_int_equal(0, vnet_set_link_delay(n->v, 1, 2, 300));
  node_kill(n, 5);
  who_state dead = {"n5", SWIM_DEAD};
  assert_true(vnet_run_until(n->v, all_see, &dead, 60000) != UINT64_MAX);
  swim_leave(n->nodes[4].sw, now_of(n));
  node_kill(n, 4);
  vnet_run(n->v, 5000);
  uint64_t trace = vnet_trace_hash(n->v);
  *events = n->events;
  *nevents = n->nevents;
  n->events = NULL;
  net_free(n);
  return trace;
}

static void same_seed_gives_an_identical_trace(void **state) {
  (void)state;
  event *a, *b, *c;
  size_t na, nb, nc;
  uint64_t ta = scripted_run(77, &a, &na);
  uint64_t tb = scripted_run(77, &b, &nb);
  uint64_t tc = scripted_run(78, &c, &nc);
  assert_int_equal(na, nb);
  assert_memory_equal(a, b, na * sizeof(*a));
  assert_true(ta == tb);
  assert_true(ta != tc); /* another seed, another run */
  free(a);
  free(b);
  free(c);
}

static bool all_know_newcomer(void *net_, const void *arg) {
  net *n = net_;
  const char *name = arg;
  for (int i = 0; i < n->count; i++) {
    swim_update u;
    if (!swim_member(n->nodes[i].sw, name, &u) || u.state != SWIM_ALIVE)
      return false;
  }
  return true;
}

static void news_of_a_new_member_reaches_fifty_nodes_in_log_rounds(
    void **state) {
  (void)state;
  /* Anti-entropy off (an hour): only piggy-backed gossip spreads news. */
  swim_config c = {.sync_interval_ms = 3600000};
  net *n = net_new(51, 11, &c);
  node_kill(n, 50); /* n50 is started but not on the network yet */
  node_join(n, 0, -1);
  for (int i = 1; i < 50; i++) node_join(n, i, 0);
  assert_true(vnet_run_until(n->v, converged, NULL, 120000) != UINT64_MAX);
  vnet_set_up(n->v, 50, true);
  node_join(n, 50, 0);
  uint64_t t = vnet_run_until(n->v, all_know_newcomer, "n50", 60000);
  uint64_t rounds = 4 * (uint64_t)ceil(log2(51.0)) + 4;
  print_message("n50 known to all 50 in %llu ms (bound %llu)\n",
                (unsigned long long)t, (unsigned long long)(rounds * INTERVAL));
  assert_true(t <= rounds * INTERVAL);
  assert_true(converged(n, NULL));
  net_free(n);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(
          three_nodes_join_through_one_seed_and_all_see_three_alive),
      cmocka_unit_test(
          alone_without_seeds_is_a_cluster_of_one_and_sends_nothing),
      cmocka_unit_test(
          join_retries_seeds_with_doubling_backoff_until_one_answers),
      cmocka_unit_test(deadline_is_exact_and_nothing_happens_before_it),
      cmocka_unit_test(killed_node_is_suspected_then_dead_on_every_other_node),
      cmocka_unit_test(
          closed_links_bring_a_kill_to_every_node_within_three_seconds),
      cmocka_unit_test(
          refused_dial_and_failed_probe_bring_a_kill_under_a_second),
      cmocka_unit_test(a_lone_survivor_decides_on_a_refusal_and_its_probe),
      cmocka_unit_test(a_lone_survivor_times_each_hang_alike),
      cmocka_unit_test(a_refused_member_that_answers_refutes_and_lives),
      cmocka_unit_test(slow_node_that_answers_indirect_probes_is_not_suspected),
      cmocka_unit_test(suspected_node_refutes_with_a_higher_incarnation),
      cmocka_unit_test(
          restart_with_a_larger_epoch_is_reported_restarted_and_alive),
      cmocka_unit_test(graceful_leave_is_left_everywhere_not_dead),
      cmocka_unit_test(
          partitioned_halves_that_declared_each_other_dead_merge_on_heal),
      cmocka_unit_test(forged_messages_are_rejected_and_counted),
      cmocka_unit_test(members_past_the_cap_are_refused_and_counted),
      cmocka_unit_test(
          trusted_cluster_joins_restarts_and_leaves_with_no_rejection),
      cmocka_unit_test(relayed_claims_only_a_member_can_make_need_its_proof),
      cmocka_unit_test(
          relayed_death_of_a_live_member_is_checked_by_a_probe_first),
      cmocka_unit_test(tags_are_joined_sorted_and_checked_against_every_cap),
      cmocka_unit_test(tags_travel_with_membership_and_change_only_by_restart),
      cmocka_unit_test(
          relayed_record_with_altered_tags_is_rejected_and_counted),
      cmocka_unit_test(same_seed_gives_an_identical_trace),
      cmocka_unit_test(news_of_a_new_member_reaches_fifty_nodes_in_log_rounds),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
