/* bench_engine.c — the local engine's benchmarks. Prints one JSON object per
 * figure on its own line (see STYLE.md, "Benchmarks"):
 *
 *   local_oneway            msgs/s, 64 B, 1 sender actor -> 1 receiver actor,
 *                           paced by credit (window 1024, ack every 256)
 *   local_pingpong          round trips/s between two actors, 64 B
 *   local_fanout            deliveries/s, 1 publisher -> 1,000 subscribers
 *   spawn_stop              actors/s, spawn an actor then stop it
 *   idle_actor_bytes        heap bytes per idle actor (state_size 0)
 *   allocs_per_msg_oneway   heap allocations per message, steady state
 *   allocs_per_msg_publish  heap allocations per delivery, steady state
 *
 * Usage: bench_engine [--quick] [--only LIST] [--reps R] [--messages N]
 *                     [--ack-every A] [--selfkick [--burst B]] [--window W]
 *   --quick       small counts, for a smoke run
 *   --only LIST   comma-separated subset of: oneway, pingpong, fanout, spawn,
 *                 idle, allocs (default: all)
 *   --reps R      timed repetitions per throughput figure; the median is the
 *                 value, min and max are printed too [3; 1 with --quick]
 *   --messages N  messages of the one-way run (also scales ping-pong)
 *   --ack-every A one-way: the receiver acks every A messages, granting A
 *                 more credit; the sender's window is the receiver's
 *                 capacity, 1024 [256]
 *   --selfkick    one-way: pace the sender by sending itself a message after
 *                 each burst (stopping early at TR_EFULL) instead of credit
 *   --burst B     one-way with --selfkick: messages per burst [64]
 *   --window W    fan-out: publishes per window before the publisher waits
 *                 for every subscriber's ack [32]
 *
 * Everything runs on one node in local mode, on the calling thread. Times are
 * CLOCK_MONOTONIC around tr_node_run; the node is stopped from inside an
 * actor when the work is done. Heap figures come from bench_alloc.c, which
 * interposes malloc in this binary. Exit status 0 unless something failed
 * (an API error, a lost message), in which case a line with "error" says so
 * and the status is 1. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_alloc.h"
#include "troupe.h"

#define PAYLOAD 64

/* ---- options and output -------------------------------------------------- */

static struct {
  bool quick;
  const char *only;
  int reps;
  uint64_t messages;  /* one-way */
  uint32_t burst;     /* one-way, --selfkick */
  uint32_t ack_every; /* one-way, credit pacing */
  bool selfkick;
  uint32_t window; /* fan-out */
} opt = {.reps = 0, .burst = 64, .ack_every = 256, .window = 32};

static int failures;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static bool selected(const char *fig) {
  if (!opt.only) return true;
  size_t n = strlen(fig);
  for (const char *p = opt.only; *p;) {
    const char *e = strchr(p, ',');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    if (len == n && memcmp(p, fig, n) == 0) return true;
    if (!e) break;
    p = e + 1;
  }
  return false;
}

/* Numbers as JSON: integers for large values, 4 significant digits below. */
static void fmt_num(char *buf, size_t cap, double v) {
  if (v >= 1000.0 || v <= -1000.0)
    snprintf(buf, cap, "%.0f", v);
  else
    snprintf(buf, cap, "%.4g", v);
}

/* One figure line: name, value, unit, then extra ",\"k\":v" fields. */
static void emit(const char *name, double value, const char *unit,
                 const char *extra_fmt, ...) {
  char v[64], extra[512] = "";
  fmt_num(v, sizeof(v), value);
  if (extra_fmt) {
    va_list ap;
    va_start(ap, extra_fmt);
    vsnprintf(extra, sizeof(extra), extra_fmt, ap);
    va_end(ap);
  }
  printf(
      "{\"name\":\"%s\",\"runtime\":\"troupe\",\"value\":%s,"
      "\"unit\":\"%s\"%s}\n",
      name, v, unit, extra);
  fflush(stdout);
}

static void fail(const char *figure, const char *what, int rc) {
  printf("{\"name\":\"%s\",\"runtime\":\"troupe\",\"error\":\"%s%s%s\"}\n",
         figure, what, rc ? ": " : "", rc ? tr_errname(rc) : "");
  fflush(stdout);
  failures++;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Median, min and max of reps rates. */
typedef struct {
  double med, min, max;
} spread;

static spread summarize(double *v, int n) {
  qsort(v, (size_t)n, sizeof(*v), cmp_double);
  spread s = {.min = v[0], .max = v[n - 1]};
  s.med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  return s;
}

static tr_node *new_node(void) {
  tr_node *n = NULL;
  tr_node_config cfg = {.name = "bench"};
  int rc = tr_node_new(&n, &cfg);
  if (rc != 0) {
    fprintf(stderr, "tr_node_new: %s\n", tr_strerror(rc));
    exit(1);
  }
  return n;
}

/* Spawns a root actor whose state is a pointer to the run's shared struct. */
static int spawn_with(tr_node *node, const tr_actor_type *t, const char *id,
                      void *run, uint32_t capacity) {
  tr_spawn_opts o = {.id = id, .arg = run, .capacity = capacity};
  return tr_node_spawn(node, t, &o);
}

static int init_ptr(tr_ctx *ctx, void *state, const void *arg) {
  *(const void **)state = arg;
  return 0;
}

/* ---- 1 & 6: one-way ------------------------------------------------------ */

/* Credit-based flow: the sender may have `window` messages outstanding (the
 * receiver's mailbox capacity), and the receiver acks every `ack_every`
 * deliveries, each ack granting that much credit again. The sender's
 * mailbox holds only acks (and the first kick), so it never sees TR_EFULL.
 *
 * Credit rather than pacing by a message to self: a turn handles up to
 * `batch` (64) messages of one actor, and a kick sent to self is handled in
 * the same turn, so after TR_EFULL a self-kicking sender spins through kick
 * after kick while the receiver waits for its turn. --selfkick measures that
 * way (burst, then a kick) for comparison. */
typedef struct {
  uint64_t total; /* messages to deliver */
  uint64_t warm;  /* deliveries before the alloc snapshot */
  uint32_t window, ack_every, burst;
  bool selfkick;      /* pace by self-sends (burst, then a kick) instead */
  uint64_t credit;    /* sender: messages it may still send */
  uint32_t until_ack; /* receiver: deliveries left before the next ack */
  uint64_t sent, received, efull, kicks, acks, out_of_order, mailbox_hwm;
  int err;
  bench_alloc_counts at_warm, at_end;
} ow_run;

static int ow_fail(tr_ctx *ctx, ow_run *r, int rc) {
  r->err = rc;
  tr_node_stop(tr_node_of(ctx));
  return 0;
}

static int ow_sender_receive(tr_ctx *ctx, void *state, const tr_envelope *e) {
  ow_run *r = *(ow_run **)state;
  char buf[PAYLOAD];
  memset(buf, 'x', sizeof(buf));
  uint64_t n = r->total - r->sent;
  if (r->selfkick) {
    r->kicks++;
    if (n > r->burst) n = r->burst;
  } else {
    if (e->sender) { /* an ack; the first message is the kick */
      r->acks++;
      r->credit += r->ack_every;
    }
    if (n > r->credit) n = r->credit;
  }
  for (uint64_t i = 0; i < n; i++) {
    memcpy(buf, &r->sent, sizeof(r->sent));
    int rc = tr_send(ctx, "recv", buf, sizeof(buf));
    if (rc == TR_EFULL) {
      r->efull++;
      break;
    }
    if (rc != 0) return ow_fail(ctx, r, rc);
    r->sent++;
    if (!r->selfkick) r->credit--;
  }
  if (r->selfkick && r->sent < r->total) {
    int rc = tr_send(ctx, tr_self(ctx), "k", 1);
    if (rc != 0) return ow_fail(ctx, r, rc);
  }
  return 0;
}

static int ow_receiver_receive(tr_ctx *ctx, void *state, const tr_envelope *e) {
  ow_run *r = *(ow_run **)state;
  uint64_t seq;
  memcpy(&seq, e->data, sizeof(seq));
  if (seq != r->received || e->len != PAYLOAD) r->out_of_order++;
  r->received++;
  if (r->received == r->warm) r->at_warm = bench_alloc_get();
  if (r->received == r->total) {
    r->at_end = bench_alloc_get();
    tr_node_stop(tr_node_of(ctx));
  } else if (!r->selfkick && --r->until_ack == 0) { /* no division here */
    r->until_ack = r->ack_every;
    int rc = tr_send(ctx, "send", "a", 1);
    if (rc != 0) return ow_fail(ctx, r, rc);
  }
  return 0;
}

static const tr_actor_type ow_sender_type = {.name = "ow_sender",
                                             .state_size = sizeof(void *),
                                             .init = init_ptr,
                                             .receive = ow_sender_receive};
static const tr_actor_type ow_receiver_type = {.name = "ow_receiver",
                                               .state_size = sizeof(void *),
                                               .init = init_ptr,
                                               .receive = ow_receiver_receive};

static ow_run ow_setup(uint64_t total) {
  ow_run r = {.total = total,
              .window = 1024,
              .ack_every = opt.ack_every,
              .burst = opt.burst,
              .selfkick = opt.selfkick};
  if (r.ack_every > r.window) r.ack_every = r.window;
  r.credit = r.window;
  r.until_ack = r.ack_every;
  return r;
}

/* Runs one one-way transfer; returns msgs/s, or -1 on failure. */
static double oneway_once(ow_run *r) {
  tr_node *node = new_node();
  int rc;
  if ((rc = spawn_with(node, &ow_receiver_type, "recv", r, r->window)) != 0 ||
      (rc = spawn_with(node, &ow_sender_type, "send", r, 0)) != 0 ||
      (rc = tr_node_send(node, "send", "k", 1)) != 0) {
    fail("local_oneway", "setup", rc);
    tr_node_free(node);
    return -1;
  }
  double t0 = now_s();
  tr_node_run(node);
  double t1 = now_s();
  tr_node_stats st;
  tr_node_stats_get(node, &st);
  r->mailbox_hwm = st.mailbox_hwm;
  tr_node_free(node);
  if (r->err || r->received != r->total || r->out_of_order) {
    fail("local_oneway", r->err ? "send" : "lost or reordered messages",
         r->err);
    return -1;
  }
  return (double)r->total / (t1 - t0);
}

static void bench_oneway(void) {
  uint64_t total = opt.messages ? opt.messages : opt.quick ? 200000 : 10000000;
  double rates[32];
  ow_run last = {0};
  for (int i = 0; i < opt.reps; i++) {
    ow_run r = ow_setup(total);
    if ((rates[i] = oneway_once(&r)) < 0) return;
    last = r;
  }
  spread s = summarize(rates, opt.reps);
  if (opt.selfkick)
    emit("local_oneway", s.med, "msgs/s",
         ",\"payload\":%d,\"messages\":%llu,\"pacing\":\"selfkick\","
         "\"burst\":%u,\"reps\":%d,\"min\":%.0f,\"max\":%.0f,"
         "\"efull_per_kick\":%.3f,\"mailbox_hwm\":%llu",
         PAYLOAD, (unsigned long long)total, opt.burst, opt.reps, s.min, s.max,
         (double)last.efull / (double)(last.kicks ? last.kicks : 1),
         (unsigned long long)last.mailbox_hwm);
  else
    emit("local_oneway", s.med, "msgs/s",
         ",\"payload\":%d,\"messages\":%llu,\"pacing\":\"credit\","
         "\"window\":%u,\"ack_every\":%u,\"reps\":%d,\"min\":%.0f,"
         "\"max\":%.0f,\"efull\":%llu,\"mailbox_hwm\":%llu",
         PAYLOAD, (unsigned long long)total, last.window, last.ack_every,
         opt.reps, s.min, s.max, (unsigned long long)last.efull,
         (unsigned long long)last.mailbox_hwm);
}

/* ---- 2: ping-pong -------------------------------------------------------- */

typedef struct {
  uint64_t total, trips;
  int err;
} pp_run;

static int pp_ping_receive(tr_ctx *ctx, void *state, const tr_envelope *e) {
  pp_run *r = *(pp_run **)state;
  if (e->sender) r->trips++; /* the pong; the first message is the kick */
  if (r->trips == r->total) {
    tr_node_stop(tr_node_of(ctx));
    return 0;
  }
  char buf[PAYLOAD];
  memset(buf, 'p', sizeof(buf));
  int rc = tr_send(ctx, "pong", buf, sizeof(buf));
  if (rc != 0) {
    r->err = rc;
    tr_node_stop(tr_node_of(ctx));
  }
  return 0;
}

static int pp_pong_receive(tr_ctx *ctx, void *state, const tr_envelope *e) {
  pp_run *r = *(pp_run **)state;
  int rc = tr_send(ctx, e->sender, e->data, e->len);
  if (rc != 0) {
    r->err = rc;
    tr_node_stop(tr_node_of(ctx));
  }
  return 0;
}

static const tr_actor_type pp_ping_type = {.name = "ping",
                                           .state_size = sizeof(void *),
                                           .init = init_ptr,
                                           .receive = pp_ping_receive};
static const tr_actor_type pp_pong_type = {.name = "pong",
                                           .state_size = sizeof(void *),
                                           .init = init_ptr,
                                           .receive = pp_pong_receive};

static void bench_pingpong(void) {
  uint64_t total = opt.messages ? opt.messages / 5
                   : opt.quick  ? 100000
                                : 2000000;
  if (total == 0) total = 1;
  double rates[32];
  for (int i = 0; i < opt.reps; i++) {
    pp_run r = {.total = total};
    tr_node *node = new_node();
    int rc;
    if ((rc = spawn_with(node, &pp_pong_type, "pong", &r, 0)) != 0 ||
        (rc = spawn_with(node, &pp_ping_type, "ping", &r, 0)) != 0 ||
        (rc = tr_node_send(node, "ping", "k", 1)) != 0) {
      fail("local_pingpong", "setup", rc);
      tr_node_free(node);
      return;
    }
    double t0 = now_s();
    tr_node_run(node);
    double t1 = now_s();
    tr_node_free(node);
    if (r.err || r.trips != r.total) {
      fail("local_pingpong", "send", r.err);
      return;
    }
    rates[i] = (double)total / (t1 - t0);
  }
  spread s = summarize(rates, opt.reps);
  emit("local_pingpong", s.med, "round_trips/s",
       ",\"payload\":%d,\"round_trips\":%llu,\"reps\":%d,\"min\":%.0f,"
       "\"max\":%.0f",
       PAYLOAD, (unsigned long long)total, opt.reps, s.min, s.max);
}

/* ---- 3 & 6: fan-out -------------------------------------------------------
 */

/* The publisher publishes `window` rounds, the last one marked; each
 * subscriber that gets the marked round acks to the publisher, which starts
 * the next window once every subscriber that round reached has acked. So
 * at most `window` publishes sit in any mailbox, whatever the scheduler's
 * order, and a dropped delivery cannot stall the run. */
typedef struct {
  uint32_t nsubs, window;
  uint64_t rounds;      /* publishes in total, a multiple of window */
  uint64_t warm_rounds; /* publishes before the alloc snapshot */
  uint64_t published, reached, deliveries, acks, acks_expected;
  int err;
  bool started;
  bench_alloc_counts at_warm, at_end;
  uint64_t deliveries_at_warm;
} fo_run;

typedef struct {
  fo_run *run;
} fo_sub_state;

static int fo_pub_window(tr_ctx *ctx, fo_run *r) {
  char buf[PAYLOAD];
  memset(buf, 'f', sizeof(buf));
  for (uint32_t i = 0; i < r->window; i++) {
    buf[0] = (i + 1 == r->window) ? 'L' : 'f'; /* last of the window */
    int rc = tr_publish(ctx, buf, sizeof(buf));
    if (rc < 0) return rc;
    r->published++;
    r->reached += (uint64_t)rc;
    if (i + 1 == r->window) r->acks_expected = (uint64_t)rc;
  }
  r->acks = 0;
  return 0;
}

static int fo_pub_receive(tr_ctx *ctx, void *state, const tr_envelope *e) {
  fo_run *r = *(fo_run **)state;
  if (e->sender)
    r->acks++; /* an ack; the first message is the kick */
  else if (r->started)
    return 0;
  r->started = true;
  if (e->sender && r->acks < r->acks_expected) return 0;
  if (r->published == r->warm_rounds) {
    r->at_warm = bench_alloc_get();
    r->deliveries_at_warm = r->deliveries;
  }
  if (r->published >= r->rounds) {
    r->at_end = bench_alloc_get();
    tr_node_stop(tr_node_of(ctx));
    return 0;
  }
  int rc = fo_pub_window(ctx, r);
  if (rc == 0 && r->acks_expected == 0) rc = TR_EFULL; /* nobody to ack */
  if (rc != 0) {
    r->err = rc;
    tr_node_stop(tr_node_of(ctx));
  }
  return 0;
}

static int fo_sub_init(tr_ctx *ctx, void *state, const void *arg) {
  *(const void **)state = arg;
  return tr_subscribe(ctx, "pub");
}

static int fo_sub_receive(tr_ctx *ctx, void *state, const tr_envelope *e) {
  fo_run *r = *(fo_run **)state;
  if (e->type != TR_MSG_PUBLISH) return 0;
  r->deliveries++;
  if (((const char *)e->data)[0] == 'L') {
    int rc = tr_send(ctx, "pub", "a", 1);
    if (rc != 0) {
      r->err = rc;
      tr_node_stop(tr_node_of(ctx));
    }
  }
  return 0;
}

static const tr_actor_type fo_pub_type = {.name = "pub",
                                          .state_size = sizeof(void *),
                                          .init = init_ptr,
                                          .receive = fo_pub_receive};
static const tr_actor_type fo_sub_type = {.name = "sub",
                                          .state_size = sizeof(void *),
                                          .init = fo_sub_init,
                                          .receive = fo_sub_receive};

/* Runs one fan-out; returns deliveries/s or -1. *dead_full gets the node's
 * publish_full dead letters. */
static double fanout_once(fo_run *r, uint64_t *dead_full) {
  const char *fig = "local_fanout";
  tr_node *node = new_node();
  int rc = spawn_with(node, &fo_pub_type, "pub", r, 2 * r->nsubs + 64);
  for (uint32_t i = 0; rc == 0 && i < r->nsubs; i++)
    rc = spawn_with(node, &fo_sub_type, NULL, r, 0);
  if (rc == 0) rc = tr_node_send(node, "pub", "k", 1);
  if (rc != 0) {
    fail(fig, "setup", rc);
    tr_node_free(node);
    return -1;
  }
  double t0 = now_s();
  tr_node_run(node);
  double t1 = now_s();
  tr_node_stats st;
  tr_node_stats_get(node, &st);
  *dead_full = st.dead[TR_DL_PUBLISH_FULL];
  tr_node_free(node);
  if (r->err) {
    fail(fig, "publish or ack", r->err);
    return -1;
  }
  if (r->deliveries != r->reached) {
    fail(fig, "deliveries differ from publish counts", 0);
    return -1;
  }
  return (double)r->deliveries / (t1 - t0);
}

static void bench_fanout(void) {
  uint32_t nsubs = 1000;
  uint32_t w = opt.window ? opt.window : 32;
  uint64_t rounds = opt.quick ? 200 : 5000;
  rounds = (rounds + w - 1) / w * w;
  double rates[32];
  uint64_t drops = 0, dead_full = 0, reached = 0, deliveries = 0;
  for (int i = 0; i < opt.reps; i++) {
    fo_run r = {.nsubs = nsubs, .window = w, .rounds = rounds};
    uint64_t d;
    if ((rates[i] = fanout_once(&r, &d)) < 0) return;
    drops += r.published * nsubs - r.reached;
    dead_full += d;
    reached += r.reached;
    deliveries += r.deliveries;
  }
  spread s = summarize(rates, opt.reps);
  emit("local_fanout", s.med, "deliveries/s",
       ",\"payload\":%d,\"subscribers\":%u,\"publishes\":%llu,\"window\":%u,"
       "\"deliveries\":%llu,\"drops\":%llu,\"dead_publish_full\":%llu,"
       "\"reps\":%d,\"min\":%.0f,\"max\":%.0f",
       PAYLOAD, nsubs, (unsigned long long)rounds, w,
       (unsigned long long)(deliveries / (uint64_t)opt.reps),
       (unsigned long long)drops, (unsigned long long)dead_full, opt.reps,
       s.min, s.max);
}

/* ---- 4: spawn + stop ------------------------------------------------------
 */

typedef struct {
  uint64_t total, spawned, stopped;
  uint32_t per_turn;
  int err;
} sp_run;

static sp_run *sp_current; /* the victims' deinit counts here */

static void sp_victim_deinit(tr_ctx *ctx, void *state) {
  sp_run *r = sp_current;
  if (++r->stopped == r->total) tr_node_stop(tr_node_of(ctx));
}

static int sp_victim_receive(tr_ctx *ctx, void *state, const tr_envelope *e) {
  return 0;
}

static const tr_actor_type sp_victim_type = {.name = "v",
                                             .state_size = 0,
                                             .receive = sp_victim_receive,
                                             .deinit = sp_victim_deinit};

static int sp_driver_receive(tr_ctx *ctx, void *state, const tr_envelope *e) {
  sp_run *r = *(sp_run **)state;
  char id[TR_ID_MAX + 1];
  tr_spawn_opts o = {.id_out = id, .id_out_size = sizeof(id)};
  for (uint32_t i = 0; i < r->per_turn && r->spawned < r->total; i++) {
    int rc = tr_spawn(ctx, &sp_victim_type, &o);
    if (rc == 0) rc = tr_stop_actor(ctx, id);
    if (rc != 0) {
      r->err = rc;
      tr_node_stop(tr_node_of(ctx));
      return 0;
    }
    r->spawned++;
  }
  if (r->spawned < r->total) {
    int rc = tr_send(ctx, tr_self(ctx), "k", 1);
    if (rc != 0) {
      r->err = rc;
      tr_node_stop(tr_node_of(ctx));
    }
  }
  return 0;
}

static const tr_actor_type sp_driver_type = {.name = "spawner",
                                             .state_size = sizeof(void *),
                                             .init = init_ptr,
                                             .receive = sp_driver_receive};

static void bench_spawn(void) {
  uint64_t total = opt.quick ? 50000 : 1000000;
  double rates[32];
  bench_alloc_counts a0 = {0}, a1 = {0};
  for (int i = 0; i < opt.reps; i++) {
    sp_run r = {.total = total, .per_turn = 64};
    sp_current = &r;
    tr_node *node = new_node();
    int rc = spawn_with(node, &sp_driver_type, "spawner", &r, 0);
    if (rc == 0) rc = tr_node_send(node, "spawner", "k", 1);
    if (rc != 0) {
      fail("spawn_stop", "setup", rc);
      tr_node_free(node);
      return;
    }
    a0 = bench_alloc_get();
    double t0 = now_s();
    tr_node_run(node);
    double t1 = now_s();
    a1 = bench_alloc_get();
    tr_node_free(node);
    if (r.err || r.stopped != total) {
      fail("spawn_stop", "spawn or stop", r.err);
      return;
    }
    rates[i] = (double)total / (t1 - t0);
  }
  spread s = summarize(rates, opt.reps);
  emit("spawn_stop", s.med, "actors/s",
       ",\"actors\":%llu,\"per_turn\":64,\"allocs_per_actor\":%.2f,"
       "\"reps\":%d,\"min\":%.0f,\"max\":%.0f",
       (unsigned long long)total, (double)(a1.allocs - a0.allocs) / total,
       opt.reps, s.min, s.max);
}

/* ---- 5: bytes per idle actor --------------------------------------------- */

static int idle_receive(tr_ctx *ctx, void *state, const tr_envelope *e) {
  return 0;
}

static const tr_actor_type idle_type = {
    .name = "idle", .state_size = 0, .receive = idle_receive};

static void bench_idle(void) {
  uint64_t n = opt.quick ? 20000 : 100000;
  bench_alloc_counts pre = bench_alloc_get();
  tr_node *node = new_node();
  bench_alloc_counts a0 = bench_alloc_get();
  for (uint64_t i = 0; i < n; i++) {
    int rc = tr_node_spawn(node, &idle_type, NULL);
    if (rc != 0) {
      fail("idle_actor_bytes", "spawn", rc);
      tr_node_free(node);
      return;
    }
  }
  bench_alloc_counts a1 = bench_alloc_get();
  tr_node_free(node);
  bench_alloc_counts a2 = bench_alloc_get();
  double per = (double)(a1.live - a0.live) / (double)n;
  emit("idle_actor_bytes", per, "bytes/actor",
       ",\"actors\":%llu,\"state_size\":0,\"allocs_per_actor\":%.2f,"
       "\"malloc_overhead_est\":%.1f,\"heap_left_after_free\":%lld",
       (unsigned long long)n, (double)(a1.allocs - a0.allocs) / (double)n,
       /* glibc keeps an 8-byte size word before each chunk */
       8.0 * (double)(a1.allocs - a0.allocs) / (double)n,
       (long long)(a2.live - pre.live));
}

/* ---- 6: allocations per message -------------------------------------------
 */

static void bench_allocs(void) {
  /* One-way: snapshot after a warm-up, count to the end. */
  uint64_t total = opt.quick ? 200000 : 2000000;
  ow_run r = ow_setup(total);
  r.warm = total / 4;
  if (oneway_once(&r) >= 0) {
    uint64_t msgs = r.total - r.warm;
    uint64_t allocs = r.at_end.allocs - r.at_warm.allocs;
    emit("allocs_per_msg_oneway", (double)allocs / (double)msgs, "allocs/msg",
         ",\"payload\":%d,\"messages\":%llu,\"warmup\":%llu,\"allocs\":%llu,"
         "\"frees\":%llu",
         PAYLOAD, (unsigned long long)msgs, (unsigned long long)r.warm,
         (unsigned long long)allocs,
         (unsigned long long)(r.at_end.frees - r.at_warm.frees));
  }
  /* Publish: the same over the fan-out, per delivery. */
  uint32_t w = opt.window ? opt.window : 32;
  uint64_t rounds = (opt.quick ? 200 : 2000) / w * w;
  fo_run f = {.nsubs = 1000,
              .window = w,
              .rounds = rounds,
              .warm_rounds = rounds / 4 / w * w};
  uint64_t dead_full;
  if (fanout_once(&f, &dead_full) >= 0) {
    uint64_t deliveries = f.deliveries - f.deliveries_at_warm;
    uint64_t allocs = f.at_end.allocs - f.at_warm.allocs;
    emit("allocs_per_msg_publish", (double)allocs / (double)deliveries,
         "allocs/delivery",
         ",\"payload\":%d,\"subscribers\":%u,\"publishes\":%llu,"
         "\"deliveries\":%llu,\"allocs\":%llu,\"allocs_per_publish\":%.4g",
         PAYLOAD, f.nsubs, (unsigned long long)(f.rounds - f.warm_rounds),
         (unsigned long long)deliveries, (unsigned long long)allocs,
         (double)allocs / (double)(f.rounds - f.warm_rounds));
  }
}

/* ---- main ---------------------------------------------------------------- */

static void usage(void) {
  fprintf(stderr,
          "usage: bench_engine [--quick] [--only oneway,pingpong,fanout,spawn,"
          "idle,allocs]\n"
          "                    [--reps R] [--messages N] [--ack-every A]\n"
          "                    [--selfkick [--burst B]] [--window W]\n");
  exit(2);
}

static uint64_t arg_u64(int argc, char **argv, int *i) {
  if (*i + 1 >= argc) usage();
  char *end;
  unsigned long long v = strtoull(argv[++*i], &end, 10);
  if (*end != '\0' || v == 0) usage();
  return v;
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0) {
      opt.quick = true;
    } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
      opt.only = argv[++i];
    } else if (strcmp(argv[i], "--reps") == 0) {
      uint64_t v = arg_u64(argc, argv, &i);
      opt.reps = v > 31 ? 31 : (int)v;
    } else if (strcmp(argv[i], "--messages") == 0) {
      opt.messages = arg_u64(argc, argv, &i);
    } else if (strcmp(argv[i], "--ack-every") == 0) {
      opt.ack_every = (uint32_t)arg_u64(argc, argv, &i);
    } else if (strcmp(argv[i], "--selfkick") == 0) {
      opt.selfkick = true;
    } else if (strcmp(argv[i], "--burst") == 0) {
      opt.burst = (uint32_t)arg_u64(argc, argv, &i);
    } else if (strcmp(argv[i], "--window") == 0) {
      opt.window = (uint32_t)arg_u64(argc, argv, &i);
    } else {
      usage();
    }
  }
  if (opt.reps == 0) opt.reps = opt.quick ? 1 : 3;
  if (opt.only) { /* every name in the list must be a figure group */
    static const char *const groups[] = {"oneway", "pingpong", "fanout",
                                         "spawn",  "idle",     "allocs"};
    for (const char *p = opt.only; *p;) {
      size_t len = strcspn(p, ",");
      bool known = false;
      for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++)
        known |= strlen(groups[g]) == len && memcmp(groups[g], p, len) == 0;
      if (!known) usage();
      p += len + (p[len] == ',');
    }
  }

  if (selected("oneway")) bench_oneway();
  if (selected("pingpong")) bench_pingpong();
  if (selected("fanout")) bench_fanout();
  if (selected("spawn")) bench_spawn();
  if (bench_alloc_enabled()) {
    if (selected("idle")) bench_idle();
    if (selected("allocs")) bench_allocs();
  } else {
    if (selected("idle"))
      fail("idle_actor_bytes",
           "malloc accounting off (sanitizer build or valgrind)", 0);
    if (selected("allocs"))
      fail("allocs_per_msg",
           "malloc accounting off (sanitizer build or valgrind)", 0);
  }
  return failures ? 1 : 0;
}
