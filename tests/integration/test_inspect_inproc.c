/* test_inspect_inproc.c — tr_node_inspect (troupe_inspect.h) across three
 * cluster nodes in one process: every node's actors, links, counters,
 * subscriptions and group memberships gathered from one node and named by
 * the node that holds them; sorting, filtering and the per-node limit; one
 * node only; bad queries; a frozen node done with TR_ETIMEDOUT while the
 * others answer; a cancelled request calls nothing more; the actors' rates;
 * a monitor across nodes shown by both nodes, and a dead letter shown by
 * the sender's node for the target. Every wait is bounded. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_harness.h"
#include "troupe_inspect.h"

#define JOIN_MS 15000u
#define SETTLE_MS 20000u
#define MAX_ROWS 64

typedef struct row {
  char node[32], id[64], extra[64];
  uint64_t v;
} row;

/* What one request gathered; written on node 0's loop thread, read there
 * too (through tn_call). */
typedef struct gather {
  tr_inspect_query q;
  uint64_t handle;
  int call_rc;
  row actors[MAX_ROWS], links[MAX_ROWS], counters[MAX_ROWS * 2],
      subs[MAX_ROWS], groups[MAX_ROWS], nodes[8], mons[MAX_ROWS],
      deads[MAX_ROWS];
  size_t nactors, nlinks, ncounters, nsubs, ngroups, nnodes, nmons, ndeads;
  uint32_t mons_more;
  int done;
  double in_rate;
  uint64_t tiny_dead;
  bool rw_seen;
  uint32_t rw_restarts;
} gather;

static void add(row *rows, size_t *n, size_t cap, const char *node,
                const char *id, const char *extra, uint64_t v) {
  if (*n == cap) return;
  row *r = &rows[(*n)++];
  snprintf(r->node, sizeof(r->node), "%s", node);
  snprintf(r->id, sizeof(r->id), "%s", id ? id : "");
  snprintf(r->extra, sizeof(r->extra), "%s", extra ? extra : "");
  r->v = v;
}

static void on_actor(void *arg, const char *node, const tr_actor_info *a) {
  gather *g = arg;
  add(g->actors, &g->nactors, MAX_ROWS, node, a->id, a->type, a->capacity);
  if (strcmp(a->id, "busy") == 0) g->in_rate = a->in_per_s;
  if (strcmp(a->id, "tiny") == 0) g->tiny_dead = a->dead;
  if (strcmp(a->id, "rw") == 0) {
    g->rw_seen = true;
    g->rw_restarts = a->restarts;
  }
}
static void on_link(void *arg, const char *node, const char *peer,
                    const tr_peer_stats *s) {
  gather *g = arg;
  add(g->links, &g->nlinks, MAX_ROWS, node, peer, NULL, (uint64_t)s->up);
}
static void on_counter(void *arg, const char *node, const char *name,
                       uint64_t v) {
  gather *g = arg;
  add(g->counters, &g->ncounters, MAX_ROWS * 2, node, name, NULL, v);
}
static void on_sub(void *arg, const char *node, const tr_sub_info *s) {
  gather *g = arg;
  add(g->subs, &g->nsubs, MAX_ROWS, node, s->publisher,
      s->subscriber ? s->subscriber : "-", s->delivered);
}
static void on_group(void *arg, const char *node, const tr_group_member *m) {
  gather *g = arg;
  add(g->groups, &g->ngroups, MAX_ROWS, node, m->id, m->group, 0);
}
static void on_node_done(void *arg, const char *node, int status,
                         uint32_t total) {
  gather *g = arg;
  add(g->nodes, &g->nnodes, 8, node, NULL, NULL, total);
  g->nodes[g->nnodes - 1].v = total;
  snprintf(g->nodes[g->nnodes - 1].extra, sizeof(g->nodes[0].extra), "%d",
           status);
}
static void on_done(void *arg) { ((gather *)arg)->done++; }
/* id "watcher@node", extra "target@node". */
static void on_monitor(void *arg, const char *node, const tr_monitor_info *m) {
  gather *g = arg;
  char w[64], t[64];
  snprintf(w, sizeof(w), "%s@%s", m->watcher,
           m->watcher_node ? m->watcher_node : "?");
  snprintf(t, sizeof(t), "%s@%s", m->target,
           m->target_node ? m->target_node : "?");
  add(g->mons, &g->nmons, MAX_ROWS, node, w, t, 0);
}
/* id "from>to", extra the reason, v the size. */
static void on_dead_letter(void *arg, const char *node,
                           const tr_dead_letter *d) {
  gather *g = arg;
  char ft[64];
  snprintf(ft, sizeof(ft), "%s>%s", d->from ? d->from : "-",
           d->to ? d->to : "-");
  add(g->deads, &g->ndeads, MAX_ROWS, node, ft, tr_dead_reason_name(d->reason),
      d->len);
}
static void on_left_off(void *arg, const char *node, unsigned what,
                        uint32_t more) {
  (void)node;
  if (what == TR_INSPECT_MONITORS) ((gather *)arg)->mons_more += more;
}

static const tr_inspect_fns fns = {.actor = on_actor,
                                   .link = on_link,
                                   .counter = on_counter,
                                   .sub = on_sub,
                                   .group = on_group,
                                   .node_done = on_node_done,
                                   .done = on_done,
                                   .monitor = on_monitor,
                                   .dead_letter = on_dead_letter,
                                   .left_off = on_left_off};

static int do_inspect(tr_node *n, void *arg) {
  gather *g = arg;
  g->call_rc = tr_node_inspect(n, &g->q, &fns, g, &g->handle);
  return g->call_rc;
}

static int do_cancel(tr_node *n, void *arg) {
  tr_node_inspect_cancel(n, ((gather *)arg)->handle);
  return 0;
}

static int read_done(tr_node *n, void *arg) {
  (void)n;
  return ((gather *)arg)->done;
}

static bool is_done(tn_cluster *c, void *arg) {
  return tn_call(c, 0, read_done, arg) > 0;
}

/* Runs g->q on node 0 and waits for done. */
static void inspect(tn_cluster *c, gather *g) {
  assert_int_equal(tn_call(c, 0, do_inspect, g), 0);
  if (tn_wait(c, is_done, g, SETTLE_MS) < 0) fail_msg("inspect not done");
  assert_int_equal(g->done, 1);
}

static const row *find(const row *rows, size_t n, const char *node,
                       const char *id) {
  for (size_t i = 0; i < n; i++)
    if ((!node || strcmp(rows[i].node, node) == 0) &&
        strcmp(rows[i].id, id) == 0)
      return &rows[i];
  return NULL;
}

static int node_status(const gather *g, const char *node) {
  const row *r = find(g->nodes, g->nnodes, node, "");
  return r ? atoi(r->extra) : 999;
}

static void wait_cmd(tn_cluster *c, const char *actor, const char *cmd) {
  if (tn_wait_find(c, "cmd", actor, cmd, true, 0, SETTLE_MS) < 0)
    fail_msg("%s did not run \"%s\"", actor, cmd);
}

static bool interest_at_0(tn_cluster *c, void *arg) {
  (void)arg;
  return tn_interest(c, 0) >= 1;
}

static tn_cluster *setup_cluster(void) {
  tn_cluster *c = NULL;
  assert_int_equal(tn_new_joined(&c, 3, NULL, JOIN_MS), 0);
  assert_int_equal(tn_probe(c, 0, "a0"), 0);
  assert_int_equal(tn_probe_cap(c, 1, "a1", 77), 0);
  assert_int_equal(tn_probe(c, 1, "b1"), 0);
  assert_int_equal(tn_probe(c, 2, "a2"), 0);
  assert_int_equal(tn_cmd(c, 2, "a2", "join workers"), 0);
  wait_cmd(c, "a2", "join workers");
  assert_int_equal(tn_cmd(c, 1, "b1", "sub a0"), 0);
  wait_cmd(c, "b1", "sub a0");
  /* Node 0 holds node 1's interest once node 1's word has come. */
  if (tn_wait(c, interest_at_0, NULL, SETTLE_MS) < 0)
    fail_msg("node 0 never held node 1's interest in a0");
  return c;
}

/* Everything from every node, each item named by the node holding it. */
static void test_gather_all(void **state) {
  (void)state;
  tn_cluster *c = setup_cluster();
  const char *n0 = tn_name(c, 0), *n1 = tn_name(c, 1), *n2 = tn_name(c, 2);
  gather *g = calloc(1, sizeof(*g));
  g->q = (tr_inspect_query){.what = TR_INSPECT_ACTORS | TR_INSPECT_LINKS |
                                    TR_INSPECT_COUNTERS | TR_INSPECT_SUBS |
                                    TR_INSPECT_GROUPS};
  inspect(c, g);
  assert_int_equal(g->nnodes, 3);
  for (size_t i = 0; i < 3; i++)
    assert_int_equal(node_status(g, tn_name(c, i)), 0);
  const row *a1 = find(g->actors, g->nactors, NULL, "a1");
  assert_non_null(a1);
  assert_string_equal(a1->node, n1);
  assert_int_equal(a1->v, 77); /* its capacity */
  assert_non_null(find(g->actors, g->nactors, n0, "a0"));
  assert_non_null(find(g->actors, g->nactors, n2, "a2"));
  assert_non_null(find(g->actors, g->nactors, n1, "b1"));
  /* Each node's links: node 0 sees its links to 1 and 2 up. */
  const row *l = find(g->links, g->nlinks, n0, n1);
  assert_non_null(l);
  assert_int_equal(l->v, 1);
  assert_non_null(find(g->links, g->nlinks, n1, n0));
  /* Counters per node: node 1 has 2 actors (and probes only). */
  const row *k = find(g->counters, g->ncounters, n1, "actors");
  assert_non_null(k);
  assert_true(k->v >= 2);
  assert_non_null(find(g->counters, g->ncounters, n2, "dead_mailbox_full"));
  /* b1 on node 1 subscribes to a0 (node 0): node 1 holds the subscriber,
   * node 0 the interest of node 1. */
  const row *s1 = find(g->subs, g->nsubs, n1, "a0");
  assert_non_null(s1);
  assert_string_equal(s1->extra, "b1");
  const row *s0 = find(g->subs, g->nsubs, n0, "a0");
  assert_non_null(s0);
  assert_string_equal(s0->extra, "-");
  /* Group memberships: each node gives only its own. */
  const row *gm = find(g->groups, g->ngroups, NULL, "a2");
  assert_non_null(gm);
  assert_string_equal(gm->node, n2);
  assert_string_equal(gm->extra, "workers");
  assert_int_equal(g->ngroups, 1);
  free(g);
  tn_free(c);
}

/* Sorted by id, largest first, one per node; a filter; one node only. */
static void test_sort_filter_node(void **state) {
  (void)state;
  tn_cluster *c = setup_cluster();
  const char *n1 = tn_name(c, 1);
  gather *g = calloc(1, sizeof(*g));
  g->q = (tr_inspect_query){.what = TR_INSPECT_ACTORS,
                            .sort = TR_INSPECT_SORT_ID,
                            .desc = 1,
                            .limit = 1};
  inspect(c, g);
  /* Node 1 holds a1 and b1 (and no other non-system actor): b1 first. */
  const row *r = find(g->actors, g->nactors, n1, "b1");
  assert_non_null(r);
  assert_null(find(g->actors, g->nactors, n1, "a1"));
  const row *nd = find(g->nodes, g->nnodes, n1, "");
  assert_non_null(nd);
  assert_true(nd->v >= 2); /* total matching, beyond the limit */

  memset(g, 0, sizeof(*g));
  g->q = (tr_inspect_query){.what = TR_INSPECT_ACTORS, .filter = "a1"};
  inspect(c, g);
  assert_int_equal(g->nactors, 1);
  assert_string_equal(g->actors[0].id, "a1");

  memset(g, 0, sizeof(*g));
  g->q = (tr_inspect_query){.what = TR_INSPECT_ACTORS, .node = n1};
  inspect(c, g);
  assert_int_equal(g->nnodes, 1);
  assert_string_equal(g->nodes[0].node, n1);
  for (size_t i = 0; i < g->nactors; i++)
    assert_string_equal(g->actors[i].node, n1);

  memset(g, 0, sizeof(*g));
  g->q = (tr_inspect_query){.what = TR_INSPECT_ACTORS, .actor = "a2"};
  inspect(c, g);
  assert_int_equal(g->nactors, 1);
  assert_string_equal(g->actors[0].node, tn_name(c, 2));

  /* Bad queries. */
  gather bad = {.q = {.what = 0}};
  assert_int_equal(tn_call(c, 0, do_inspect, &bad), TR_EINVAL);
  bad.q = (tr_inspect_query){.what = TR_INSPECT_ACTORS,
                             .limit = TR_INSPECT_LIMIT_MAX + 1};
  assert_int_equal(tn_call(c, 0, do_inspect, &bad), TR_EINVAL);
  bad.q = (tr_inspect_query){.what = TR_INSPECT_ACTORS,
                             .sort = TR_INSPECT_SORT_COUNT};
  assert_int_equal(tn_call(c, 0, do_inspect, &bad), TR_EINVAL);
  bad.q = (tr_inspect_query){.what = TR_INSPECT_ACTORS, .node = "nobody"};
  assert_int_equal(tn_call(c, 0, do_inspect, &bad), TR_ENOTFOUND);
  assert_int_equal(bad.done, 0);
  free(g);
  tn_free(c);
}

/* A frozen node: done with TR_ETIMEDOUT at the deadline, the others'
 * answers stand. A cancelled request: nothing more is called. */
static void test_timeout_and_cancel(void **state) {
  (void)state;
  tn_cluster *c = setup_cluster();
  tn_freeze(c, 2);
  gather *g = calloc(1, sizeof(*g));
  g->q = (tr_inspect_query){.what = TR_INSPECT_ACTORS, .timeout_ms = 300};
  uint64_t t0 = tn_now_ms();
  inspect(c, g);
  assert_true(tn_now_ms() - t0 >= 250);
  assert_int_equal(node_status(g, tn_name(c, 2)), TR_ETIMEDOUT);
  assert_int_equal(node_status(g, tn_name(c, 1)), 0);
  assert_non_null(find(g->actors, g->nactors, tn_name(c, 1), "a1"));
  tn_thaw(c, 2);

  memset(g, 0, sizeof(*g));
  g->q = (tr_inspect_query){.what = TR_INSPECT_ACTORS, .timeout_ms = 300};
  tn_freeze(c, 2); /* so node 2's answer is still owed at the cancel */
  assert_int_equal(tn_call(c, 0, do_inspect, g), 0);
  assert_int_equal(tn_call(c, 0, do_cancel, g), 0);
  /* A second request, made after it with the same timeout, is done only
   * past the cancelled one's deadline too. */
  gather *later = calloc(1, sizeof(*later));
  later->q = g->q;
  inspect(c, later);
  assert_int_equal(node_status(later, tn_name(c, 2)), TR_ETIMEDOUT);
  free(later);
  tn_thaw(c, 2);
  /* Past its deadline: no node_done for 2, no done. */
  assert_int_equal(tn_call(c, 0, read_done, g), 0);
  assert_int_equal(node_status(g, tn_name(c, 2)), 999);
  free(g);
  tn_free(c);
}

/* Inspects actor "busy": true once it shows a rate. */
static bool busy_has_rate(tn_cluster *c, void *arg) {
  gather *g = arg;
  memset(g, 0, sizeof(*g));
  g->q = (tr_inspect_query){.what = TR_INSPECT_ACTORS, .actor = "busy"};
  inspect(c, g);
  return g->nactors == 1 && g->in_rate > 0.0;
}

/* An actor receiving messages shows a rate once a second has passed; one
 * that refused sends (mailbox full) counts them as its dead letters. */
static void test_rates(void **state) {
  (void)state;
  tn_cluster *c = setup_cluster();
  assert_int_equal(tn_probe(c, 0, "busy"), 0);
  gather *g = calloc(1, sizeof(*g));
  g->q = (tr_inspect_query){.what = TR_INSPECT_ACTORS, .actor = "busy"};
  inspect(c, g); /* the first sample */
  assert_int_equal(tn_cmd(c, 0, "a0", "burst busy 50"), 0);
  wait_cmd(c, "a0", "burst busy 50");
  /* The next sample comes a second or more after the first. */
  long ms = tn_wait(c, busy_has_rate, g, SETTLE_MS);
  if (ms < 0) fail_msg("busy never showed a rate");
  assert_true(g->in_rate > 0.0);

  assert_int_equal(tn_probe_cap(c, 0, "tiny", 4), 0);
  assert_int_equal(tn_cmd(c, 0, "a0", "burst tiny 20"), 0);
  if (tn_wait_find(c, "cmd", "a0", "burst tiny 20", true, TR_EFULL,
                   SETTLE_MS) < 0)
    fail_msg("a0's burst to tiny did not end TR_EFULL");
  memset(g, 0, sizeof(*g));
  g->q = (tr_inspect_query){.what = TR_INSPECT_ACTORS, .actor = "tiny"};
  inspect(c, g);
  assert_int_equal(g->tiny_dead, 16); /* 20 in one turn, 4 slots */
  free(g);
  tn_free(c);
}

/* A type's name is optional: such an actor is listed with type "?", and a
 * filter or a sort by type passes over it safely. */
static int nameless_receive(tr_ctx *ctx, void *st, const tr_envelope *env) {
  (void)ctx, (void)st, (void)env;
  return 0;
}
static const tr_actor_type nameless = {.receive = nameless_receive};

static int spawn_nameless(tr_node *n, void *arg) {
  (void)arg;
  tr_spawn_opts o = {.id = "anon"};
  return tr_node_spawn(n, &nameless, &o);
}

static void test_nameless_type(void **state) {
  (void)state;
  tn_cluster *c = NULL;
  assert_int_equal(tn_new_joined(&c, 2, NULL, JOIN_MS), 0);
  assert_int_equal(tn_call(c, 1, spawn_nameless, NULL), 0);
  gather *g = calloc(1, sizeof(*g));
  g->q = (tr_inspect_query){.what = TR_INSPECT_ACTORS, .filter = "zzz"};
  inspect(c, g); /* node 1 answers over the link, node 0 itself */
  assert_int_equal(node_status(g, tn_name(c, 1)), 0);
  assert_int_equal(g->nactors, 0);
  memset(g, 0, sizeof(*g));
  g->q = (tr_inspect_query){.what = TR_INSPECT_ACTORS,
                            .sort = TR_INSPECT_SORT_TYPE};
  inspect(c, g);
  const row *r = find(g->actors, g->nactors, tn_name(c, 1), "anon");
  assert_non_null(r);
  assert_string_equal(r->extra, "?");
  free(g);
  tn_free(c);
}

/* A supervisor on node 1: its child "rw" dies on any message and is
 * spawned again once. */
static int crash_receive(tr_ctx *ctx, void *state, const tr_envelope *env) {
  (void)ctx;
  (void)state;
  return env->type == TR_MSG_SEND ? 1 : 0;
}
static const tr_actor_type crash = {.name = "crash", .receive = crash_receive};

static int sup_receive(tr_ctx *ctx, void *state, const tr_envelope *env) {
  int *again = state;
  if (env->type != TR_MSG_CHILD_EXIT || (*again)-- <= 0) return 0;
  return tr_spawn_child(ctx, &crash, &(tr_spawn_opts){.id = env->sender});
}
static int sup_init(tr_ctx *ctx, void *state, const void *arg) {
  (void)arg;
  *(int *)state = 1;
  return tr_spawn_child(ctx, &crash, &(tr_spawn_opts){.id = "rw"});
}
static const tr_actor_type sup = {.name = "sup",
                                  .state_size = sizeof(int),
                                  .init = sup_init,
                                  .receive = sup_receive};

static int spawn_sup(tr_node *n, void *arg) {
  (void)arg;
  return tr_node_spawn(n, &sup, &(tr_spawn_opts){.id = "sup"});
}
static int kill_rw(tr_node *n, void *arg) {
  (void)arg;
  return tr_node_send(n, "rw", "die", 3);
}

static bool rw_restarted(tn_cluster *c, void *arg) {
  gather *g = arg;
  memset(g, 0, sizeof(*g));
  g->q = (tr_inspect_query){.what = TR_INSPECT_ACTORS,
                            .sort = TR_INSPECT_SORT_RESTARTS,
                            .desc = 1,
                            .limit = 1};
  inspect(c, g);
  return g->rw_seen && g->rw_restarts == 1;
}

/* Restarts cross the wire: node 0 sees node 1's supervised child that was
 * spawned again, first when sorted by restarts. */
static void test_restarts_across_nodes(void **state) {
  (void)state;
  tn_cluster *c = NULL;
  assert_int_equal(tn_new_joined(&c, 2, NULL, JOIN_MS), 0);
  assert_int_equal(tn_call(c, 1, spawn_sup, NULL), 0);
  gather *g = calloc(1, sizeof(*g));
  assert_non_null(g);
  g->q = (tr_inspect_query){.what = TR_INSPECT_ACTORS, .filter = "rw"};
  inspect(c, g);
  assert_true(g->rw_seen);
  assert_int_equal(g->rw_restarts, 0);
  assert_int_equal(tn_call(c, 1, kill_rw, NULL), 0);
  assert_true(tn_wait(c, rw_restarted, g, 5000) >= 0);
  free(g);
  tn_free(c);
}

/* Inspects actor a0's monitors: true once both node 0 (a0's) and node 1
 * (b1's) answer with b1 watching a0. */
static bool a0_watched_by_both(tn_cluster *c, void *arg) {
  gather *g = arg;
  memset(g, 0, sizeof(*g));
  g->q = (tr_inspect_query){.what = TR_INSPECT_MONITORS, .actor = "a0"};
  inspect(c, g);
  char w[64];
  snprintf(w, sizeof(w), "b1@%s", tn_name(c, 1));
  return find(g->mons, g->nmons, tn_name(c, 0), w) &&
         find(g->mons, g->nmons, tn_name(c, 1), w);
}

/* b1 on node 1 watches a0 on node 0: each of the two nodes answers with
 * it, for either actor, naming both nodes; a1 watching b1 (both on node
 * 1) is node 1's alone. The limit cuts a node's list and counts the rest. */
static void test_monitors_across_nodes(void **state) {
  (void)state;
  tn_cluster *c = setup_cluster();
  const char *n0 = tn_name(c, 0), *n1 = tn_name(c, 1);
  assert_int_equal(tn_cmd(c, 1, "b1", "mon a0"), 0);
  wait_cmd(c, "b1", "mon a0");
  assert_int_equal(tn_cmd(c, 1, "a1", "mon b1"), 0);
  wait_cmd(c, "a1", "mon b1");
  gather *g = calloc(1, sizeof(*g));
  if (tn_wait(c, a0_watched_by_both, g, SETTLE_MS) < 0)
    fail_msg("a0's monitor by b1 not shown by both nodes");
  char b1w[64], a0t[64], a1w[64], b1t[64];
  snprintf(b1w, sizeof(b1w), "b1@%s", n1);
  snprintf(a0t, sizeof(a0t), "a0@%s", n0);
  snprintf(a1w, sizeof(a1w), "a1@%s", n1);
  snprintf(b1t, sizeof(b1t), "b1@%s", n1);
  const row *r0 = find(g->mons, g->nmons, n0, b1w);
  const row *r1 = find(g->mons, g->nmons, n1, b1w);
  assert_string_equal(r0->extra, a0t);
  assert_string_equal(r1->extra, a0t);
  assert_int_equal(g->nmons, 2);

  /* b1's: watching a0 (from both nodes), watched by a1 (node 1). */
  memset(g, 0, sizeof(*g));
  g->q = (tr_inspect_query){.what = TR_INSPECT_MONITORS, .actor = "b1"};
  inspect(c, g);
  assert_int_equal(g->nmons, 3);
  assert_string_equal(find(g->mons, g->nmons, n0, b1w)->extra, a0t);
  assert_string_equal(find(g->mons, g->nmons, n1, b1w)->extra, a0t);
  assert_string_equal(find(g->mons, g->nmons, n1, a1w)->extra, b1t);
  assert_null(find(g->mons, g->nmons, n0, a1w));
  assert_int_equal(g->mons_more, 0);

  /* Node 1 only, at most one: the other counted. */
  memset(g, 0, sizeof(*g));
  g->q = (tr_inspect_query){
      .what = TR_INSPECT_MONITORS, .actor = "b1", .node = n1, .limit = 1};
  inspect(c, g);
  assert_int_equal(g->nmons, 1);
  assert_int_equal(g->mons_more, 1);
  free(g);
  tn_free(c);
}

static bool tiny_known_at_1(tn_cluster *c, void *arg) {
  (void)arg;
  char owner[TR_ID_MAX + 1];
  return tn_locate(c, 1, "tiny", owner, sizeof(owner)) == 0;
}

/* b1 on node 1 bursts 70 sends to tiny (4 slots) on node 0 in one turn:
 * past its first credit (64) they are refused at the call, on node 1, and
 * node 1's ring shows them for tiny, newest ("b69") first, with their
 * size; node 0 has none (what it took was credited). */
static void test_dead_letters_across_nodes(void **state) {
  (void)state;
  tn_cluster *c = setup_cluster();
  const char *n1 = tn_name(c, 1);
  assert_int_equal(tn_probe_cap(c, 0, "tiny", 4), 0);
  if (tn_wait(c, tiny_known_at_1, NULL, SETTLE_MS) < 0)
    fail_msg("node 1 never learned where tiny is");
  assert_int_equal(tn_cmd(c, 1, "b1", "burst tiny 70"), 0);
  if (tn_wait_find(c, "cmd", "b1", "burst tiny 70", true, TR_EFULL,
                   SETTLE_MS) < 0)
    fail_msg("b1's burst to tiny did not end TR_EFULL");
  gather *g = calloc(1, sizeof(*g));
  g->q = (tr_inspect_query){.what = TR_INSPECT_DEAD_LETTERS, .actor = "tiny"};
  inspect(c, g);
  assert_true(g->ndeads >= 1 && g->ndeads <= 70 - 4);
  for (size_t i = 0; i < g->ndeads; i++) {
    assert_string_equal(g->deads[i].node, n1);
    assert_string_equal(g->deads[i].id, "b1>tiny");
    assert_string_equal(g->deads[i].extra, "rejected_full");
  }
  assert_int_equal(g->deads[0].v, 3); /* "b69" */

  memset(g, 0, sizeof(*g));
  g->q = (tr_inspect_query){.what = TR_INSPECT_DEAD_LETTERS, .node = n1};
  inspect(c, g);
  assert_true(g->ndeads >= 1);
  assert_string_equal(g->deads[0].id, "b1>tiny"); /* the newest */
  assert_string_equal(g->deads[0].node, n1);
  free(g);
  tn_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_gather_all),
      cmocka_unit_test(test_sort_filter_node),
      cmocka_unit_test(test_timeout_and_cancel),
      cmocka_unit_test(test_rates),
      cmocka_unit_test(test_nameless_type),
      cmocka_unit_test(test_restarts_across_nodes),
      cmocka_unit_test(test_monitors_across_nodes),
      cmocka_unit_test(test_dead_letters_across_nodes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
