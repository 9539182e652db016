/* bench_cluster.c — the cluster's figures with real nodes in one process
 * (each on its own thread and loop, TLS on loopback; tests/support's
 * cluster harness). One JSON object per line:
 *
 *   cluster_oneway_64     messages/s from an actor on n0 to an actor on n1
 *                         by id (tr_send through the registry and the
 *                         link), 64 B payloads; the sender sends 4096 a
 *                         turn, and on TR_EFULL pauses 1 ms (link full
 *                         pauses are counted); the time runs from
 *                         the first send to the sink's last delivery, in
 *                         a second run after a warm-up of the same size.
 *                         "cpu_sender_s"/"cpu_receiver_s": each node
 *                         thread's CPU time over that run. The two nodes
 *                         share one process here; bench_remote measures
 *                         the same with two processes, as bench_link does,
 *                         and run_cluster.sh compares that one with the
 *                         link (target >= 0.9).
 *   cluster_ask_rtt_p50/p99  µs, one ask in flight from n0 to n1 and its
 *                         reply, actor to actor.
 *   cluster_resolve_ms_p50/max  ms from a spawn on n0 until every other of
 *                         the 5 nodes resolves the id (tr_node_locate,
 *                         polled every 1 ms per node). Target <= 250.
 *   cluster_join_ms       ms from the start of 5 nodes to every one seeing
 *                         5 alive.
 *   cluster_pubsub_fanout_64  deliveries/s: 1 publisher on n0, 100
 *                         subscribers on each of n0, n1, n2 (300), 64 B
 *                         publishes; the publisher keeps at most 1,000
 *                         publishes outstanding (published x 300 -
 *                         delivered) and pauses 1 ms when it has; the time
 *                         runs from the first publish to the last
 *                         delivery. Target >= 2,000,000.
 *   cluster_pubsub_frames_per_link  envelopes n0 sent to n1 and to n2 per
 *                         publish during the run (target 1).
 *
 * Usage: bench_cluster [--quick] [--messages N] [--rounds R]
 *                      [--publishes P]
 *   BENCH_CLUSTER_ONLY=oneway,rtt,resolve,fanout runs a subset. */
#define _GNU_SOURCE /* RUSAGE_THREAD */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include "bench_nodes.h"

/* ---- one-way throughput ---------------------------------------------------- */

/* The sink's counter sits on a cache line of its own: the two node
 * threads writing one line per message would measure the line's ping-pong
 * between cores, not troupe. */
typedef struct flow {
  uint64_t total;
  uint64_t sent, full; /* the source's thread */
  _Atomic uint64_t first_ns;
  _Alignas(64) _Atomic uint64_t received; /* the sink's thread */
  _Atomic uint64_t last_ns;
} flow;

static int sink_init(tr_ctx *ctx, void *st, const void *arg) {
  (void)ctx;
  *(flow **)st = (flow *)arg;
  return 0;
}

static int sink_receive(tr_ctx *ctx, void *st, const tr_envelope *env) {
  (void)ctx;
  (void)env;
  flow *f = *(flow **)st;
  uint64_t got = atomic_load_explicit(&f->received, memory_order_relaxed) + 1;
  atomic_store_explicit(&f->received, got, memory_order_relaxed);
  if (got == f->total) atomic_store(&f->last_ns, uv_hrtime());
  return 0;
}

static const tr_actor_type sink_type = {
    .name = "sink", .state_size = sizeof(flow *), .init = sink_init,
    .receive = sink_receive};

/* Sends until the link is full, then comes back next turn. */
static int source_receive(tr_ctx *ctx, void *st, const tr_envelope *env) {
  (void)env;
  flow *f = *(flow **)st;
  char payload[64] = {0};
  if (f->sent == 0) atomic_store(&f->first_ns, uv_hrtime());
  for (int k = 0; k < 4096 && f->sent < f->total; k++) {
    int rc = tr_send(ctx, "sink", payload, sizeof(payload));
    if (rc == TR_EFULL) {
      /* The link holds ~1 s of traffic: come back in 1 ms rather than spin
       * (a spinning sender takes the core the receiver needs). */
      f->full++;
      return tr_send_after(ctx, 1, tr_self(ctx), "go", 2);
    }
    if (rc != 0) {
      fprintf(stderr, "bench_cluster: send: %s\n", tr_strerror(rc));
      return rc;
    }
    f->sent++;
  }
  if (f->sent < f->total) tr_send(ctx, tr_self(ctx), "go", 2);
  return 0;
}

static const tr_actor_type source_type = {
    .name = "source", .state_size = sizeof(flow *), .init = sink_init,
    .receive = source_receive};

static int do_go(tr_node *n, void *a) {
  (void)a;
  return tr_node_send(n, "src", "go", 2);
}

/* CPU seconds the calling node's thread has used (tn_call runs it there). */
static int do_thread_cpu(tr_node *n, void *a) {
  (void)n;
  struct rusage ru;
  getrusage(RUSAGE_THREAD, &ru);
  *(double *)a = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
                 ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) *
                     1e-6;
  return 0;
}

static int bench_oneway(uint64_t total) {
  tn_cluster *c = NULL;
  if (tn_new(&c, 2, NULL) != 0 ||
      tn_wait(c, bench_all_alive, (void *)2, 15000) < 0)
    return 1;
  flow *f = calloc(1, sizeof(*f));
  f->total = total;
  /* "src" and "sink", as in bench_link: the same envelope on the wire
   * (88 bytes with a 64 B payload), so the two figures differ only by the
   * path the envelope takes, not by the bytes the cipher covers. */
  spawn_arg sink = {&sink_type, "sink", f, 0},
            src = {&source_type, "src", f, 0};
  if (tn_call(c, 1, bench_spawn, &sink) != 0 ||
      tn_call(c, 0, bench_spawn, &src) != 0)
    return 1;
  for (int k = 0; k < 1000 && tn_call(c, 0, bench_locate, "sink") != 0; k++)
    usleep(1000);
  /* A warm-up run of the same size first, as bench_link does: the link's
   * chunk cache and the engine's pools grow there, not in the timed run. */
  uint64_t got = 0;
  double cpu0[2] = {0}, cpu1[2] = {0};
  for (int phase = 0; phase < 2; phase++) {
    for (size_t i = 0; i < 2; i++) tn_call(c, i, do_thread_cpu, &cpu0[i]);
    f->sent = f->full = 0;
    atomic_store(&f->received, 0);
    atomic_store(&f->first_ns, 0);
    atomic_store(&f->last_ns, 0);
    tn_call(c, 0, do_go, NULL);
    for (int k = 0; k < 120000 && atomic_load(&f->received) < total; k++)
      usleep(1000);
    got = atomic_load(&f->received);
    for (size_t i = 0; i < 2; i++) tn_call(c, i, do_thread_cpu, &cpu1[i]);
    if (got < total) break;
  }
  int rc = 0;
  if (got < total) {
    fprintf(stderr, "bench_cluster: only %llu of %llu arrived\n",
            (unsigned long long)got, (unsigned long long)total);
    rc = 1;
  } else {
    double s = (double)(atomic_load(&f->last_ns) - atomic_load(&f->first_ns)) /
               1e9;
    printf("{\"name\":\"cluster_oneway_64\",\"value\":%.0f,\"unit\":\"msgs/s\","
           "\"messages\":%llu,\"link_full_yields\":%llu,\"seconds\":%.3f,"
           "\"cpu_sender_s\":%.3f,\"cpu_receiver_s\":%.3f}\n",
           (double)total / s, (unsigned long long)total,
           (unsigned long long)f->full, s, cpu1[0] - cpu0[0],
           cpu1[1] - cpu0[1]);
  }
  tn_free(c);
  free(f);
  return rc;
}

/* ---- ask round trip --------------------------------------------------------- */

typedef struct rtt {
  uint64_t n, done;
  uint64_t t0;
  uint64_t *samples;
  _Atomic bool finished;
} rtt;

static int echo_receive(tr_ctx *ctx, void *st, const tr_envelope *env) {
  (void)st;
  if (env->type == TR_MSG_ASK) tr_reply(ctx, env, env->data, env->len);
  return 0;
}

static const tr_actor_type echo_type = {.name = "echo",
                                        .receive = echo_receive};

static int asker_receive(tr_ctx *ctx, void *st, const tr_envelope *env) {
  rtt *r = *(rtt **)st;
  if (env->type == TR_MSG_REPLY) {
    if (env->status != 0) return env->status;
    r->samples[r->done++] = (uv_hrtime() - r->t0) / 1000u;
    if (r->done == r->n) {
      atomic_store(&r->finished, true);
      return 0;
    }
  }
  char payload[64] = {0};
  r->t0 = uv_hrtime();
  return tr_ask(ctx, "echo", payload, sizeof(payload), 5000, NULL);
}

static const tr_actor_type asker_type = {
    .name = "asker", .state_size = sizeof(rtt *), .init = sink_init,
    .receive = asker_receive};

static int do_kick(tr_node *n, void *a) {
  (void)a;
  return tr_node_send(n, "asker", "go", 2);
}

static int bench_rtt(uint64_t samples) {
  tn_cluster *c = NULL;
  if (tn_new(&c, 2, NULL) != 0 ||
      tn_wait(c, bench_all_alive, (void *)2, 15000) < 0)
    return 1;
  rtt *r = calloc(1, sizeof(*r));
  r->n = samples;
  r->samples = calloc(samples, sizeof(uint64_t));
  spawn_arg echo = {&echo_type, "echo", NULL, 0},
            ask = {&asker_type, "asker", r, 0};
  if (tn_call(c, 1, bench_spawn, &echo) != 0 ||
      tn_call(c, 0, bench_spawn, &ask) != 0)
    return 1;
  for (int k = 0; k < 1000 && tn_call(c, 0, bench_locate, "echo") != 0; k++)
    usleep(1000);
  tn_call(c, 0, do_kick, NULL);
  for (int k = 0; k < 60000 && !atomic_load(&r->finished); k++) usleep(1000);
  int rc = 0;
  if (!atomic_load(&r->finished)) {
    fprintf(stderr, "bench_cluster: rtt did not finish (%llu)\n",
            (unsigned long long)r->done);
    rc = 1;
  } else {
    qsort(r->samples, samples, sizeof(uint64_t), bench_cmp_u64);
    printf("{\"name\":\"cluster_ask_rtt_p50\",\"value\":%llu,\"unit\":\"us\"}\n",
           (unsigned long long)r->samples[samples / 2]);
    printf("{\"name\":\"cluster_ask_rtt_p99\",\"value\":%llu,\"unit\":\"us\"}\n",
           (unsigned long long)r->samples[samples * 99 / 100]);
  }
  tn_free(c);
  free(r->samples);
  free(r);
  return rc;
}

/* ---- registry convergence and join ------------------------------------------ */

static int nop_receive(tr_ctx *ctx, void *st, const tr_envelope *env) {
  (void)ctx;
  (void)st;
  (void)env;
  return 0;
}

static const tr_actor_type nop_type = {.name = "nop", .receive = nop_receive};

static int bench_resolve(int rounds) {
  tn_cluster *c = NULL;
  uint64_t t0 = tn_now_ms();
  if (tn_new(&c, 5, NULL) != 0) return 1;
  long join = tn_wait(c, bench_all_alive, (void *)5, 30000);
  if (join < 0) return 1;
  printf("{\"name\":\"cluster_join_ms\",\"value\":%llu,\"unit\":\"ms\","
         "\"nodes\":5}\n", (unsigned long long)(tn_now_ms() - t0));
  uint64_t *ms = calloc((size_t)rounds, sizeof(uint64_t));
  int rc = 0;
  for (int r = 0; r < rounds && rc == 0; r++) {
    char id[32];
    snprintf(id, sizeof(id), "fresh-%d", r);
    spawn_arg s = {&nop_type, id, NULL, 0};
    uint64_t start = uv_hrtime();
    if (tn_call(c, (size_t)r % 5, bench_spawn, &s) != 0) rc = 1;
    size_t slowest = 0;
    uint64_t slowest_ms = 0;
    for (size_t i = 0; i < 5 && rc == 0; i++) {
      int k = 0;
      while (tn_call(c, i, bench_locate, id) != 0 && k++ < 10000) usleep(1000);
      if (k > 10000) rc = 1;
      uint64_t at = (uv_hrtime() - start) / 1000000u;
      if (at > slowest_ms) {
        slowest_ms = at;
        slowest = i;
      }
    }
    ms[r] = (uv_hrtime() - start) / 1000000u;
    if (ms[r] > 250)
      fprintf(stderr, "bench_cluster: %s from n%d took %llu ms (last: n%zu)\n",
              id, r % 5, (unsigned long long)ms[r], slowest);
  }
  if (rc == 0) {
    qsort(ms, (size_t)rounds, sizeof(uint64_t), bench_cmp_u64);
    printf("{\"name\":\"cluster_resolve_ms_p50\",\"value\":%llu,\"unit\":\"ms\","
           "\"nodes\":5,\"target\":\"<=250\",\"pass\":%s}\n",
           (unsigned long long)ms[rounds / 2],
           ms[rounds / 2] <= 250 ? "true" : "false");
    printf("{\"name\":\"cluster_resolve_ms_max\",\"value\":%llu,\"unit\":\"ms\","
           "\"nodes\":5,\"target\":\"<=250\",\"pass\":%s}\n",
           (unsigned long long)ms[rounds - 1],
           ms[rounds - 1] <= 250 ? "true" : "false");
  }
  free(ms);
  tn_free(c);
  return rc;
}

/* ---- cross-node publish fan-out ----------------------------------------- */

#define FAN_SUBS 100
#define FAN_WINDOW 1000u

/* Deliveries are counted per node, each counter on its own cache line
 * (one writer thread each): one shared counter for 300 subscribers on
 * three threads would measure the atomic's contention, not troupe. */
typedef struct fan_count {
  _Alignas(64) _Atomic uint64_t delivered;
  _Atomic uint64_t done_ns; /* when this node had all its deliveries */
} fan_count;

typedef struct fan {
  uint64_t total, published; /* the publisher's thread */
  uint64_t first_ns;
  uint64_t subs_total;
  fan_count node[3];
} fan;

/* When the last node had its last delivery; 0 while any still waits. */
static uint64_t fan_last_ns(fan *f) {
  uint64_t last = 0;
  for (int i = 0; i < 3; i++) {
    uint64_t t = atomic_load(&f->node[i].done_ns);
    if (!t) return 0;
    if (t > last) last = t;
  }
  return last;
}

static uint64_t fan_delivered(fan *f) {
  uint64_t d = 0;
  for (int i = 0; i < 3; i++)
    d += atomic_load_explicit(&f->node[i].delivered, memory_order_relaxed);
  return d;
}

typedef struct fsub {
  fan *f;
  fan_count *count; /* its node's */
} fsub;

typedef struct fsub_arg {
  fan *f;
  int node;
} fsub_arg;

static int fsub_init(tr_ctx *ctx, void *st, const void *arg) {
  const fsub_arg *a = arg;
  fsub *s = st;
  s->f = a->f;
  s->count = &a->f->node[a->node];
  return tr_subscribe(ctx, "publisher");
}

static int fsub_receive(tr_ctx *ctx, void *st, const tr_envelope *env) {
  (void)ctx;
  (void)env;
  fsub *s = st;
  /* One writer per counter (its node's thread): a plain add. */
  uint64_t d =
      atomic_load_explicit(&s->count->delivered, memory_order_relaxed) + 1;
  atomic_store_explicit(&s->count->delivered, d, memory_order_relaxed);
  if (d == s->f->total * (s->f->subs_total / 3))
    atomic_store(&s->count->done_ns, uv_hrtime());
  return 0;
}

static const tr_actor_type fsub_type = {
    .name = "fsub", .state_size = sizeof(fsub), .init = fsub_init,
    .receive = fsub_receive};

static int fpub_receive(tr_ctx *ctx, void *st, const tr_envelope *env) {
  (void)env;
  fan *f = *(fan **)st;
  char payload[64] = {0};
  if (f->published == 0) f->first_ns = uv_hrtime();
  for (int k = 0; k < 256 && f->published < f->total; k++) {
    uint64_t outstanding = f->published * f->subs_total - fan_delivered(f);
    if (outstanding >= FAN_WINDOW * f->subs_total)
      return tr_send_after(ctx, 1, tr_self(ctx), "go", 2);
    tr_publish(ctx, payload, sizeof(payload));
    f->published++;
  }
  if (f->published < f->total) tr_send(ctx, tr_self(ctx), "go", 2);
  return 0;
}

static const tr_actor_type fpub_type = {
    .name = "fpub", .state_size = sizeof(fan *), .init = sink_init,
    .receive = fpub_receive};

static int do_pub_go(tr_node *n, void *a) {
  (void)a;
  return tr_node_send(n, "publisher", "go", 2);
}

static void count_interest(void *arg, const tr_sub_info *si) {
  if (!si->subscriber) ++*(int *)arg;
}

static int do_interest(tr_node *n, void *a) {
  int count = 0;
  (void)a;
  tr_node_subscriptions(n, count_interest, &count);
  return count;
}

static void sum_drops(void *arg, const tr_sub_info *si) {
  *(uint64_t *)arg += si->dropped;
}

static int do_drops(tr_node *n, void *a) {
  uint64_t *d = a;
  tr_node_subscriptions(n, sum_drops, d);
  tr_cluster_stats cs;
  tr_node_cluster_stats(n, &cs);
  *d += cs.publish_dropped;
  return 0;
}

static int bench_fanout(uint64_t publishes) {
  tn_cluster *c = NULL;
  if (tn_new(&c, 3, NULL) != 0 ||
      tn_wait(c, bench_all_alive, (void *)3, 15000) < 0)
    return 1;
  fan *f = calloc(1, sizeof(*f));
  f->total = publishes;
  f->subs_total = 3 * FAN_SUBS;
  int rc = 0;
  for (size_t i = 0; i < 3 && rc == 0; i++) {
    for (int k = 0; k < FAN_SUBS && rc == 0; k++) {
      char id[32];
      snprintf(id, sizeof(id), "fsub-%zu-%d", i, k);
      fsub_arg fa = {f, (int)i};
      spawn_arg s = {&fsub_type, id, &fa, 0};
      rc = tn_call(c, i, bench_spawn, &s);
    }
  }
  spawn_arg p = {&fpub_type, "publisher", f, 0};
  if (rc == 0) rc = tn_call(c, 0, bench_spawn, &p);
  /* Both other nodes' interest has reached n0. */
  for (int k = 0; k < 5000 && rc == 0 && tn_call(c, 0, do_interest, NULL) < 2;
       k++)
    usleep(1000);
  peer_q b1 = {.peer = "n1"}, b2 = {.peer = "n2"}, a1 = {.peer = "n1"},
         a2 = {.peer = "n2"};
  tn_call(c, 0, bench_peer, &b1);
  tn_call(c, 0, bench_peer, &b2);
  if (rc == 0) tn_call(c, 0, do_pub_go, NULL);
  uint64_t want = publishes * f->subs_total;
  for (int k = 0; k < 120000 && fan_delivered(f) < want; k++) usleep(1000);
  tn_call(c, 0, bench_peer, &a1);
  tn_call(c, 0, bench_peer, &a2);
  uint64_t drops = 0;
  for (size_t i = 0; i < 3; i++) tn_call(c, i, do_drops, &drops);
  for (int k = 0; k < 1000 && !fan_last_ns(f); k++) usleep(1000);
  uint64_t got = fan_delivered(f);
  if (rc != 0 || got < want || !fan_last_ns(f)) {
    fprintf(stderr, "bench_cluster: fan-out delivered %llu of %llu (drops "
            "%llu)\n", (unsigned long long)got, (unsigned long long)want,
            (unsigned long long)drops);
    rc = 1;
  } else {
    double s = (double)(fan_last_ns(f) - f->first_ns) / 1e9;
    double rate = (double)want / s;
    printf("{\"name\":\"cluster_pubsub_fanout_64\",\"value\":%.0f,"
           "\"unit\":\"deliveries/s\",\"publishes\":%llu,\"subscribers\":%llu,"
           "\"nodes\":3,\"drops\":%llu,\"target\":\">=2000000\",\"pass\":%s}\n",
           rate, (unsigned long long)publishes,
           (unsigned long long)f->subs_total, (unsigned long long)drops,
           rate >= 2e6 ? "true" : "false");
    double per1 = (double)(a1.st.envelopes_out - b1.st.envelopes_out) /
                  (double)publishes;
    double per2 = (double)(a2.st.envelopes_out - b2.st.envelopes_out) /
                  (double)publishes;
    printf("{\"name\":\"cluster_pubsub_frames_per_link\",\"value\":%.3f,"
           "\"unit\":\"envelopes/publish\",\"n0_n1\":%.3f,\"n0_n2\":%.3f,"
           "\"target\":\"1\",\"pass\":%s}\n",
           per1 > per2 ? per1 : per2, per1, per2,
           per1 == 1.0 && per2 == 1.0 ? "true" : "false");
  }
  tn_free(c);
  free(f);
  return rc;
}

int main(int argc, char **argv) {
  uint64_t messages = 2000000;
  uint64_t samples = 20000;
  int rounds = 20;
  uint64_t publishes = 100000;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0) {
      publishes = 5000;
      messages = 100000;
      samples = 1000;
      rounds = 5;
    } else if (strcmp(argv[i], "--messages") == 0 && i + 1 < argc) {
      messages = strtoull(argv[++i], NULL, 10);
    } else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
      rounds = atoi(argv[++i]);
    } else if (strcmp(argv[i], "--publishes") == 0 && i + 1 < argc) {
      publishes = strtoull(argv[++i], NULL, 10);
    } else {
      fprintf(stderr, "usage: bench_cluster [--quick] [--messages N] "
                      "[--rounds R] [--publishes P]\n");
      return 2;
    }
  }
  const char *only = getenv("BENCH_CLUSTER_ONLY");
  int rc = 0;
  if (!only || strstr(only, "oneway")) rc |= bench_oneway(messages);
  if (!only || strstr(only, "rtt")) rc |= bench_rtt(samples);
  if (!only || strstr(only, "resolve")) rc |= bench_resolve(rounds);
  if (!only || strstr(only, "fanout")) rc |= bench_fanout(publishes);
  return rc;
}
