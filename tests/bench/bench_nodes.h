/* bench_nodes.h — what the benchmarks over the cluster harness share
 * (bench_cluster, bench_groups, bench_typed_remote): spawning on a node's
 * thread, waiting for members and ids, a link's counters, and the
 * comparisons qsort needs for medians. */
#ifndef TR_BENCH_NODES_H
#define TR_BENCH_NODES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster_harness.h"

/* An actor to spawn with tn_call(c, i, bench_spawn, &arg); capacity 0:
 * 1 M (room for a benchmark's whole window). */
typedef struct spawn_arg {
  const tr_actor_type *type;
  const char *id;
  const void *arg;
  uint32_t capacity;
} spawn_arg;

static inline int bench_spawn(tr_node *n, void *a) {
  spawn_arg *s = a;
  tr_spawn_opts o = {.id = s->id,
                     .arg = s->arg,
                     .capacity = s->capacity ? s->capacity : 1u << 20};
  return tr_node_spawn(n, s->type, &o);
}

/* 0 when the node resolves the id (a const char *). */
static inline int bench_locate(tr_node *n, void *a) {
  char owner[TR_ID_MAX + 1];
  return tr_node_locate(n, (const char *)a, owner, sizeof(owner));
}

/* For tn_wait: every node sees (int)(size_t)arg members alive. */
static inline bool bench_all_alive(tn_cluster *c, void *arg) {
  int want = (int)(size_t)arg;
  for (size_t i = 0; i < tn_count(c); i++)
    if (tn_members_in(c, i, TR_MEMBER_ALIVE) != want) return false;
  return true;
}

/* One link's counters, read on its node's thread (bench_peer). */
typedef struct peer_q {
  const char *peer;
  tr_peer_stats st;
} peer_q;

static inline int bench_peer(tr_node *n, void *a) {
  peer_q *q = a;
  return tr_node_peer_stats(n, q->peer, &q->st);
}

static inline int bench_cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static inline int bench_cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

#endif /* TR_BENCH_NODES_H */
