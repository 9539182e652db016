/* bench_typed_remote.c — a typed message against the raw send of its
 * bytes across the link (docs/typed.md): two cluster nodes in one process
 * (the cluster harness, TLS on loopback), one sender on n0, one receiver
 * on n1, the sender keeping at most 2,000 messages unacknowledged and the
 * receiver acknowledging every 1,000 (bench_remote's windowed pattern).
 * One JSON object per line:
 *
 *   remote_raw_send_order    msgs/s: tr_send of the bytes a shop.Order
 *                            encodes to (encoded once before the run)
 *   remote_typed_send_order  msgs/s: tr_send_msg of the struct, encoded per
 *                            send; the receiver checks the tag only
 *   ratio_remote_typed_vs_raw  raw / typed, medians of alternated runs
 *                            (bench_typed has the same on one node)
 *
 * Usage: bench_typed_remote [--quick] [--messages N] [--reps R] */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include <pb_encode.h>

#include "bench_nodes.h"
#include "shop.tr.h" /* troupe_add_messages: the types, planned and written */
#include "troupe_pb.h"

#define WINDOW 2000u
#define ACK_EVERY 1000u

/* The generated descriptor, as a user of troupe_add_messages has it. */
static const tr_msgtype *const order_t = &shop_Order_type;

typedef struct run {
  bool typed;
  uint64_t total;
  uint8_t raw[64];
  size_t raw_len;
  uint64_t sent, acked;  /* the sender's thread */
  uint64_t received, bad; /* the receiver's thread */
  uint64_t t0;
  _Atomic uint64_t t1;    /* the receiver's last delivery */
  _Atomic int err;
} run;

static int init_ptr(tr_ctx *ctx, void *st, const void *arg) {
  (void)ctx;
  *(run **)st = (run *)arg;
  return 0;
}

static int sender_receive(tr_ctx *ctx, void *st, const tr_envelope *env) {
  run *r = *(run **)st;
  if (env->sender && strcmp(env->sender, "recv") == 0)
    r->acked += ACK_EVERY; /* an ack (not the first "go", not a retry) */
  if (r->sent == 0) r->t0 = uv_hrtime();
  shop_Order o = {.qty = 12};
  strcpy(o.item, "teapot-standard");
  while (r->sent < r->total && r->sent - r->acked < WINDOW) {
    int rc = r->typed ? tr_send_msg(ctx, "recv", order_t, &o)
                      : tr_send(ctx, "recv", r->raw, r->raw_len);
    if (rc == TR_EFULL) /* credit or the link: again in 1 ms */
      return tr_send_after(ctx, 1, tr_self(ctx), "go", 2);
    if (rc != 0) {
      atomic_store(&r->err, rc);
      return 0;
    }
    r->sent++;
  }
  return 0;
}

static int receiver_receive(tr_ctx *ctx, void *st, const tr_envelope *env) {
  run *r = *(run **)st;
  if (r->typed && env->msg_type != order_t->id) r->bad++;
  if (++r->received % ACK_EVERY == 0) tr_send(ctx, "send", "a", 1);
  if (r->received == r->total) atomic_store(&r->t1, uv_hrtime());
  return 0;
}

static const tr_actor_type sender_type = {.name = "sender",
                                          .state_size = sizeof(run *),
                                          .init = init_ptr,
                                          .receive = sender_receive};
static const tr_actor_type receiver_type = {.name = "receiver",
                                            .state_size = sizeof(run *),
                                            .init = init_ptr,
                                            .receive = receiver_receive};

static int do_stop(tr_node *n, void *a) {
  return tr_node_stop_actor(n, (const char *)a);
}

static int do_go(tr_node *n, void *a) {
  (void)a;
  return tr_node_send(n, "send", "go", 2);
}

/* One run on the cluster: msgs/s, or -1. */
static double once(tn_cluster *c, run *r) {
  spawn_arg recv = {&receiver_type, "recv", r, 1u << 16},
            send = {&sender_type, "send", r, 1u << 16};
  if (tn_call(c, 1, bench_spawn, &recv) != 0) return -1;
  for (int k = 0; k < 5000 && tn_call(c, 0, bench_locate, "recv") != 0; k++)
    usleep(1000);
  if (tn_call(c, 0, bench_spawn, &send) != 0) return -1;
  /* The receiver acks by id: n1 must know where "send" is. */
  for (int k = 0; k < 5000 && tn_call(c, 1, bench_locate, "send") != 0; k++)
    usleep(1000);
  if (tn_call(c, 0, do_go, NULL) != 0) return -1;
  for (int k = 0; k < 120000 && !atomic_load(&r->t1) && !atomic_load(&r->err);
       k++)
    usleep(500);
  uint64_t t1 = atomic_load(&r->t1);
  tn_call(c, 0, do_stop, "send");
  tn_call(c, 1, do_stop, "recv");
  /* Both ids released everywhere before the next run spawns them again. */
  for (int k = 0; k < 5000 && (tn_call(c, 0, bench_locate, "recv") == 0 ||
                               tn_call(c, 1, bench_locate, "send") == 0);
       k++)
    usleep(1000);
  if (!t1 || r->bad || atomic_load(&r->err)) {
    fprintf(stderr,
            "bench_typed_remote: sent %llu received %llu bad %llu err %s\n",
            (unsigned long long)r->sent, (unsigned long long)r->received,
            (unsigned long long)r->bad, tr_errname(atomic_load(&r->err)));
    return -1;
  }
  return (double)r->total / ((double)(t1 - r->t0) / 1e9);
}

int main(int argc, char **argv) {
  uint64_t total = 1000000;
  int reps = 5;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0) {
      total = 50000;
      reps = 1;
    } else if (strcmp(argv[i], "--messages") == 0 && i + 1 < argc) {
      total = strtoull(argv[++i], NULL, 10);
    } else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
      reps = atoi(argv[++i]);
    } else {
      fprintf(stderr, "usage: bench_typed_remote [--quick] [--messages N] "
                      "[--reps R]\n");
      return 2;
    }
  }
  if (reps < 1 || reps > 31) reps = 5;
  shop_Order o = {.qty = 12};
  strcpy(o.item, "teapot-standard");
  uint8_t raw[64];
  pb_ostream_t s = pb_ostream_from_buffer(raw, sizeof(raw));
  if (!pb_encode(&s, shop_Order_fields, &o)) return 1;
  tn_cluster *c = NULL;
  if (tn_new(&c, 2, NULL) != 0 ||
      tn_wait(c, bench_all_alive, (void *)2, 15000) < 0) {
    fprintf(stderr, "bench_typed_remote: no cluster\n");
    return 1;
  }
  double rate[2][32];
  /* Each run's state lives until the nodes are gone: a stopped actor's
   * last turn may still come after its run. */
  run *runs[64] = {0};
  int nruns = 0, failed = 0;
  for (int k = 0; k < reps && !failed; k++) {
    for (int typed = 0; typed < 2 && !failed; typed++) { /* alternated */
      run *r = calloc(1, sizeof(*r));
      if (!r) return 1;
      runs[nruns++] = r;
      r->typed = typed;
      r->total = total;
      memcpy(r->raw, raw, s.bytes_written);
      r->raw_len = s.bytes_written;
      rate[typed][k] = once(c, r);
      if (rate[typed][k] < 0) {
        fprintf(stderr, "bench_typed_remote: run failed (typed %d)\n", typed);
        failed = 1;
      }
    }
  }
  tn_free(c);
  for (int i = 0; i < nruns; i++) free(runs[i]);
  if (failed) return 1;
  double med[2];
  static const char *names[2] = {"remote_raw_send_order",
                                 "remote_typed_send_order"};
  for (int t = 0; t < 2; t++) {
    qsort(rate[t], (size_t)reps, sizeof(double), bench_cmp_double);
    med[t] = rate[t][reps / 2];
    printf("{\"name\":\"%s\",\"value\":%.0f,\"unit\":\"msgs/s\","
           "\"payload\":%zu,\"messages\":%llu,\"reps\":%d,\"nodes\":2}\n",
           names[t], med[t], s.bytes_written, (unsigned long long)total,
           reps);
  }
  printf("{\"name\":\"ratio_remote_typed_vs_raw\",\"value\":%.3f,"
         "\"target\":\"<=1.3\",\"pass\":%s}\n",
         med[0] / med[1], med[0] / med[1] <= 1.3 ? "true" : "false");
  return 0;
}
