/* bench_typed.c — what a typed message costs (include/troupe_pb.h, docs/
 * typed.md), one node, one sender and one receiver, credit-windowed as
 * bench_engine's local_oneway (a window of 1,024, an ack every 512). One
 * JSON object per line:
 *
 *   raw_send_order        msgs/s: tr_send of the bytes a shop.Order encodes
 *                         to (encoded once before the run), untagged
 *   typed_send_order      msgs/s: tr_send_msg of the struct (encoded per
 *                         send, tagged); the receiver checks the tag only
 *   typed_roundtrip_order msgs/s: the same, the receiver decodes each
 *   ratio_typed_vs_raw    raw / typed send time per message (target
 *                         <= 1.3), medians of alternated runs
 *   typed_allocs_per_msg  heap allocations per typed message after a
 *                         warm-up (target 0)
 *
 * Usage: bench_typed [--quick] [--messages N] [--reps R] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pb_encode.h>

#include "bench_alloc.h"
#include "shop.tr.h" /* troupe_add_messages: the types, planned and written */
#include "troupe_pb.h"

/* The generated descriptor, as a user of troupe_add_messages has it. */
static const tr_msgtype *const order_t = &shop_Order_type;

typedef enum { RAW, TYPED, ROUNDTRIP } mode;

typedef struct run {
  mode m;
  uint64_t total, sent, received, credit;
  uint32_t until_ack;
  uint8_t raw[64];
  size_t raw_len;
  uint64_t bad;
  int err;
  bench_alloc_counts at_warm, at_end;
} run;

#define WINDOW 1024u
#define ACK_EVERY 512u

static int init_ptr(tr_ctx *ctx, void *st, const void *arg) {
  (void)ctx;
  *(run **)st = (run *)arg;
  return 0;
}

static int sender_receive(tr_ctx *ctx, void *st, const tr_envelope *e) {
  run *r = *(run **)st;
  if (e->sender) r->credit += ACK_EVERY; /* an ack; the first is the kick */
  shop_Order o = {.id = 0, .qty = 12};
  strcpy(o.item, "teapot-standard");
  while (r->credit && r->sent < r->total) {
    int rc;
    if (r->m == RAW) {
      rc = tr_send(ctx, "recv", r->raw, r->raw_len);
    } else {
      o.id = (uint32_t)r->sent;
      rc = tr_send_msg(ctx, "recv", order_t, &o);
    }
    if (rc != 0) {
      r->err = rc;
      tr_node_stop(tr_node_of(ctx));
      return 0;
    }
    r->sent++;
    r->credit--;
  }
  return 0;
}

static int receiver_receive(tr_ctx *ctx, void *st, const tr_envelope *e) {
  run *r = *(run **)st;
  if (r->m == TYPED && e->msg_type != order_t->id) r->bad++;
  if (r->m == ROUNDTRIP) {
    shop_Order o;
    if (tr_msg_decode(e, order_t, &o) != 0 || o.id != (uint32_t)r->received)
      r->bad++;
  }
  r->received++;
  if (r->received == r->total / 10) r->at_warm = bench_alloc_get();
  if (r->received == r->total) {
    r->at_end = bench_alloc_get();
    tr_node_stop(tr_node_of(ctx));
  } else if (--r->until_ack == 0) {
    r->until_ack = ACK_EVERY;
    tr_send(ctx, "send", "a", 1);
  }
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

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* One run; msgs/s, or -1. */
static double once(run *r) {
  tr_node *n = NULL;
  tr_node_config cfg = {.name = "bench", .log_level = TR_LOG_ERROR};
  if (tr_node_new(&n, &cfg) != 0) return -1;
  tr_spawn_opts ro = {.id = "recv", .capacity = WINDOW, .arg = r};
  tr_spawn_opts so = {.id = "send", .arg = r};
  r->credit = WINDOW;
  r->until_ack = ACK_EVERY;
  if (tr_node_spawn(n, &receiver_type, &ro) != 0 ||
      tr_node_spawn(n, &sender_type, &so) != 0 ||
      tr_node_send(n, "send", "k", 1) != 0) {
    tr_node_free(n);
    return -1;
  }
  double t0 = now_s();
  tr_node_run(n);
  double t1 = now_s();
  tr_node_free(n);
  if (r->err || r->received != r->total || r->bad) return -1;
  return (double)r->total / (t1 - t0);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof(*v), cmp_double);
  return v[n / 2];
}

int main(int argc, char **argv) {
  uint64_t total = 5000000;
  int reps = 7;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0) {
      total = 200000;
      reps = 3;
    } else if (strcmp(argv[i], "--messages") == 0 && i + 1 < argc) {
      total = strtoull(argv[++i], NULL, 10);
    } else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
      reps = atoi(argv[++i]);
    } else {
      fprintf(stderr, "usage: bench_typed [--quick] [--messages N] "
                      "[--reps R]\n");
      return 2;
    }
  }
  if (reps < 1 || reps > 31) reps = 7;
  /* The raw run's bytes: what the typed run encodes (id 0). */
  shop_Order o = {.id = 0, .qty = 12};
  strcpy(o.item, "teapot-standard");
  run proto = {.total = total};
  pb_ostream_t s = pb_ostream_from_buffer(proto.raw, sizeof(proto.raw));
  if (!pb_encode(&s, shop_Order_fields, &o)) return 1;
  proto.raw_len = s.bytes_written;

  double rate[3][32];
  run last[3];
  for (int k = 0; k < reps; k++) {
    for (int m = RAW; m <= ROUNDTRIP; m++) { /* alternated */
      run r = proto;
      r.m = (mode)m;
      rate[m][k] = once(&r);
      if (rate[m][k] < 0) {
        fprintf(stderr, "bench_typed: run failed (mode %d, err %s, bad %llu)\n",
                m, tr_errname(r.err), (unsigned long long)r.bad);
        return 1;
      }
      last[m] = r;
    }
  }
  static const char *names[3] = {"raw_send_order", "typed_send_order",
                                 "typed_roundtrip_order"};
  double med[3];
  for (int m = 0; m < 3; m++) {
    med[m] = median(rate[m], reps);
    printf("{\"name\":\"%s\",\"value\":%.0f,\"unit\":\"msgs/s\","
           "\"payload\":%zu,\"messages\":%llu,\"reps\":%d}\n",
           names[m], med[m], proto.raw_len, (unsigned long long)total, reps);
  }
  double ratio = med[RAW] / med[TYPED];
  printf("{\"name\":\"ratio_typed_vs_raw\",\"value\":%.3f,\"target\":\"<=1.3\","
         "\"pass\":%s,\"roundtrip_vs_raw\":%.3f}\n",
         ratio, ratio <= 1.3 ? "true" : "false", med[RAW] / med[ROUNDTRIP]);
  if (bench_alloc_enabled()) {
    const run *t = &last[TYPED];
    uint64_t msgs = t->total - t->total / 10;
    double per = (double)(t->at_end.allocs - t->at_warm.allocs) / (double)msgs;
    printf("{\"name\":\"typed_allocs_per_msg\",\"value\":%.6f,"
           "\"unit\":\"allocs/msg\",\"messages\":%llu,\"target\":\"0\","
           "\"pass\":%s}\n",
           per, (unsigned long long)msgs, per == 0 ? "true" : "false");
  } else {
    printf("{\"name\":\"typed_allocs_per_msg\",\"error\":\"malloc hooks not "
           "active\"}\n");
  }
  return 0;
}
