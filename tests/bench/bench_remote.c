/* bench_remote.c — remote send by id between two node processes on
 * loopback over TLS: the like-for-like counterpart of bench_link's
 * link_oneway_64, and the same under flow control. Same layout (two processes, the receiver execed by the
 * sender), same envelope on the wire (sender "src", target "sink", a 64 B
 * payload carrying the message's index), same warm-up and repetitions,
 * same clock; but a whole cluster node at each end, and actors on both:
 *
 *   remote_oneway_64   messages/s from actor "src" on node n0 to actor
 *                      "sink" on node n1 by id (tr_send: the registry, the
 *                      link, the mailbox, the actor's turn). src sends 4096
 *                      a turn and, on TR_EFULL, comes back 1 ms later
 *                      (counted as link_full_yields). The time runs from
 *                      the first send until the sink's report that the last
 *                      one arrived reaches n0. The sink checks the order.
 *                      A warm-up of min(N/10, 100000) messages, then R
 *                      timed runs; the median is the value.
 *   remote_cpu_64_total  CPU seconds per million messages, both processes
 *                      (getrusage over each run), as link_cpu_64_total.
 *
 * --mode picks the pattern (each prints its own figure, with the name
 * below, and its cpu line with the same suffix):
 *   unpaced   remote_oneway_64 as above; the sink's mailbox is 1 M, so the
 *             credit window never binds after the first grant.
 *   windowed  remote_windowed_64: src keeps at most 2,000 sends unacked and
 *             the sink acks every 1,000 (a message back to src): the
 *             pattern of erlang_link.escript's windowed figure.
 *   credit    remote_credit_64: no window of the application's; the sink's
 *             mailbox is 2,000 and troupe's credit paces src (TR_EFULL,
 *             tr_send_notify, TR_MSG_WRITABLE).
 *   slow      remote_slow_consumer_64: as credit, with a mailbox of 1,024
 *             and a sink that spins ~2 µs a message; the line also gives
 *             the sink's own speed (consumer_alone, the spin timed alone in
 *             its process) and their ratio. Nothing may be lost.
 *   slow-unpaced  remote_slow_consumer_64_unpaced: the same sink with a
 *             mailbox of 1 M, so it is never kept waiting: the consumer's
 *             own speed over the network, for the slow figure to be
 *             compared with.
 * --no-credit runs both nodes as nodes from before credit
 * (tr_node_config.no_flow_credit): the figure's name gets "_nocredit".
 * On TR_EFULL src asks tr_send_notify and resumes on TR_MSG_WRITABLE.
 *
 * Usage: bench_remote [--quick] [--messages N] [--reps R]
 *                     [--mode unpaced|windowed|credit|slow|slow-unpaced]
 *                     [--no-credit]
 *        bench_remote --serve DIR --fd N   (internal: the receiving node;
 *        its mode comes in the environment and the start message)
 * Exit status 0, 1 if the run failed (a line with "error" says why), 2 for
 * bad usage. tests/bench/run_cluster.sh compares it with bench_link. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include "bench_child.h"
#include "pki.h"
#include "troupe.h"

#define PAYLOAD 64
#define TURN 4096           /* sends per turn of src */
#define WINDOW 2000         /* windowed: sends unacked at most */
#define ACK_EVERY 1000      /* windowed: the sink acks this often */
#define CREDIT_CAP 2000     /* credit: the sink's mailbox */
#define SLOW_CAP 1024       /* slow: the sink's mailbox */
#define SLOW_SPIN 2000      /* slow: ns of work a message */

typedef enum {
  MODE_UNPACED,
  MODE_WINDOWED,
  MODE_CREDIT,
  MODE_SLOW,
  MODE_SLOW_FREE,
  MODE_COUNT
} mode;
static const char *const MODE_ARG[] = {"unpaced", "windowed", "credit", "slow",
                                       "slow-unpaced"};
static const char *const MODE_NAME[] = {
    "remote_oneway_64", "remote_windowed_64", "remote_credit_64",
    "remote_slow_consumer_64", "remote_slow_consumer_64_unpaced"};
#define PHASE_LIMIT_MS 180000u
#define SERVE_LIMIT_S 1800  /* the receiver exits after this, whatever */
#define MAX_REPS 15

static double now_s(void) { return (double)uv_hrtime() * 1e-9; }

static double cpu_s(void) {
  struct rusage r;
  getrusage(RUSAGE_SELF, &r);
  return (double)r.ru_utime.tv_sec + (double)r.ru_stime.tv_sec +
         ((double)r.ru_utime.tv_usec + (double)r.ru_stime.tv_usec) * 1e-6;
}

/* drv -> sink: expect this many; sink -> drv: what arrived. */
typedef struct start_msg {
  char tag; /* 's' */
  uint64_t expected;
  uint32_t ack_every; /* 0: no acks */
  uint32_t spin_ns;   /* work per message */
} start_msg;

/* sink -> src (windowed): everything up to `got` has arrived. */
typedef struct ack_msg {
  char tag; /* 'a' */
  uint64_t got;
} ack_msg;

typedef struct report_msg {
  char tag; /* 'r' */
  uint64_t got, bad_order, bad_len;
  double cpu_s;
} report_msg;

/* ---- the receiving node (child process) ---------------------------------- */

typedef struct sink_state {
  uint64_t expected, got, next_idx, bad_order, bad_len;
  uint32_t ack_every, spin_ns;
  double cpu0;
} sink_state;

/* The slow sink's work: spins ~ns (uv_hrtime, so a loaded machine makes it
 * no slower than it would make any other work). */
static void spin(uint32_t ns) {
  uint64_t until = uv_hrtime() + ns;
  while (uv_hrtime() < until) {
  }
}

static int sink_receive(tr_ctx *ctx, void *st, const tr_envelope *env) {
  sink_state *s = st;
  if (env->len == PAYLOAD) { /* the hot path: first */
    uint64_t idx;
    memcpy(&idx, env->data, sizeof(idx));
    if (idx != s->next_idx) s->bad_order++;
    s->next_idx = idx + 1;
    if (s->spin_ns) spin(s->spin_ns);
    ++s->got;
    if (s->ack_every && s->got % s->ack_every == 0) {
      ack_msg a = {.tag = 'a', .got = s->got};
      int rc = tr_send(ctx, "src", &a, sizeof(a));
      if (rc != 0)
        fprintf(stderr, "bench_remote serve: ack: %s\n", tr_errname(rc));
    }
    if (s->got == s->expected) {
      report_msg r = {.tag = 'r', .got = s->got, .bad_order = s->bad_order,
                      .bad_len = s->bad_len, .cpu_s = cpu_s() - s->cpu0};
      int rc = tr_send(ctx, "drv", &r, sizeof(r));
      if (rc != 0)
        fprintf(stderr, "bench_remote serve: report: %s\n", tr_errname(rc));
    }
    return 0;
  }
  const char *d = env->data;
  if (env->len == sizeof(start_msg) && d[0] == 's') {
    start_msg m;
    memcpy(&m, d, sizeof(m));
    *s = (sink_state){.expected = m.expected, .ack_every = m.ack_every,
                      .spin_ns = m.spin_ns, .cpu0 = cpu_s()};
  } else if (env->len == 4 && memcmp(d, "quit", 4) == 0) {
    tr_node_stop(tr_node_of(ctx));
  } else {
    s->bad_len++;
  }
  return 0;
}

static const tr_actor_type sink_type = {
    .name = "sink", .state_size = sizeof(sink_state), .receive = sink_receive};

typedef struct serve {
  tr_node *node;
  pid_t parent;
  double started;
} serve;

static void serve_watchdog(uv_timer_t *t) {
  serve *s = t->data;
  if (getppid() != s->parent || now_s() - s->started > SERVE_LIMIT_S)
    tr_node_stop(s->node);
}

static int node_config(tr_node_config *cfg, char paths[3][512],
                       const char *dir, const char *name) {
  snprintf(paths[0], 512, "%s/ca.pem", dir);
  snprintf(paths[1], 512, "%s/%s.pem", dir, name);
  snprintf(paths[2], 512, "%s/%s.key", dir, name);
  cfg->name = name;
  cfg->listen = "127.0.0.1:0";
  cfg->ca_file = paths[0];
  cfg->cert_file = paths[1];
  cfg->key_file = paths[2];
  return 0;
}

static int serve_main(const char *dir, int fd) {
  signal(SIGPIPE, SIG_IGN);
  tr_node_config cfg = {0};
  char paths[3][512];
  node_config(&cfg, paths, dir, "n1");
  const char *cap = getenv("BENCH_REMOTE_SINK_CAP");
  const char *nc = getenv("BENCH_REMOTE_NO_CREDIT");
  cfg.no_flow_credit = nc && nc[0] == '1';
  serve s = {.parent = getppid(), .started = now_s()};
  int rc = tr_node_new(&s.node, &cfg);
  tr_spawn_opts o = {.id = "sink",
                     .capacity = cap ? (uint32_t)atoi(cap) : 1u << 20};
  if (rc == 0) rc = tr_node_spawn(s.node, &sink_type, &o);
  if (rc != 0) {
    fprintf(stderr, "bench_remote serve: %s\n", tr_errname(rc));
    tr_node_free(s.node);
    return 1;
  }
  char line[160];
  int len = snprintf(line, sizeof(line), "%s\n", tr_node_address(s.node));
  if (write(fd, line, (size_t)len) != len) return 1;
  close(fd);
  uv_timer_t wd;
  uv_timer_init(tr_node_loop(s.node), &wd);
  wd.data = &s;
  uv_timer_start(&wd, serve_watchdog, 200, 200);
  tr_node_run(s.node);
  uv_close((uv_handle_t *)&wd, NULL);
  tr_node_free(s.node);
  return 0;
}

/* ---- the sending node (this process) ------------------------------------- */

typedef struct run_result {
  double rate, seconds, cpu_sender, cpu_receiver;
  uint64_t full;
} run_result;

/* Shared by src and drv (one loop thread). */
typedef struct bench {
  uint64_t messages;
  int reps, run; /* run -1: the warm-up */
  mode mode;
  bool no_credit;
  /* src */
  uint64_t total, sent, full, acked;
  bool waiting; /* for TR_MSG_WRITABLE, or (windowed) an ack */
  uint64_t t0;
  double cpu0;
  /* drv */
  uint64_t deadline_ms, waited_ms;
  bool sink_known, in_run;
  run_result runs[MAX_REPS];
  const char *error;
} bench;

static int bind_arg(tr_ctx *ctx, void *st, const void *arg) {
  (void)ctx;
  *(bench **)st = (bench *)arg;
  return 0;
}

static int src_receive(tr_ctx *ctx, void *st, const tr_envelope *env) {
  bench *b = *(bench **)st;
  uint8_t payload[PAYLOAD] = {0};
  if (env->type == TR_MSG_WRITABLE) {
    if (env->status != 0) {
      b->error = tr_errname(env->status);
      tr_node_stop(tr_node_of(ctx));
      return 0;
    }
    b->waiting = false;
  } else if (env->len == sizeof(ack_msg) && ((const char *)env->data)[0] ==
                                                 'a') {
    ack_msg a;
    memcpy(&a, env->data, sizeof(a));
    if (a.got > b->acked) b->acked = a.got;
    if (!b->waiting) return 0; /* still sending: it will see the ack */
    b->waiting = false;
  } else if (b->waiting) {
    return 0; /* a stray "go" while waiting */
  }
  if (b->sent == 0) {
    b->t0 = uv_hrtime();
    b->cpu0 = cpu_s();
  }
  for (int k = 0; k < TURN && b->sent < b->total; k++) {
    if (b->mode == MODE_WINDOWED && b->sent - b->acked >= WINDOW) {
      b->waiting = true; /* the next ack resumes */
      return 0;
    }
    memcpy(payload, &b->sent, sizeof(b->sent));
    int rc = tr_send(ctx, "sink", payload, sizeof(payload));
    if (rc == TR_EFULL) {
      b->full++;
      b->waiting = true;
      return tr_send_notify(ctx, "sink");
    }
    if (rc != 0) {
      b->error = tr_errname(rc);
      tr_node_stop(tr_node_of(ctx));
      return 0;
    }
    b->sent++;
  }
  if (b->sent < b->total) return tr_send(ctx, tr_self(ctx), "go", 2);
  return 0;
}

static const tr_actor_type src_type = {.name = "src",
                                       .state_size = sizeof(bench *),
                                       .init = bind_arg,
                                       .receive = src_receive};

static void drv_fail(tr_ctx *ctx, bench *b, const char *why) {
  b->error = why;
  tr_node_stop(tr_node_of(ctx));
}

static void drv_start_run(tr_ctx *ctx, bench *b) {
  b->total = b->run < 0 ? (b->messages / 10 < 100000 ? b->messages / 10
                                                     : 100000)
                        : b->messages;
  if (b->total == 0) b->total = 1;
  b->sent = b->full = b->acked = 0;
  b->waiting = false;
  b->in_run = true;
  b->waited_ms = 0;
  start_msg m = {.tag = 's', .expected = b->total,
                 .ack_every = b->mode == MODE_WINDOWED ? ACK_EVERY : 0,
                 .spin_ns = b->mode == MODE_SLOW || b->mode == MODE_SLOW_FREE
                                ? SLOW_SPIN
                                : 0};
  if (tr_send(ctx, "sink", &m, sizeof(m)) != 0 ||
      tr_send(ctx, "src", "go", 2) != 0)
    drv_fail(ctx, b, "start");
}

/* Drives the runs: waits until "sink" resolves, then warm-up and reps, each
 * ended by the sink's report; a 1 ms tick bounds every wait. */
static int drv_receive(tr_ctx *ctx, void *st, const tr_envelope *env) {
  bench *b = *(bench **)st;
  if (env->sender && strcmp(env->sender, "sink") == 0 &&
      env->len == sizeof(report_msg)) {
    uint64_t t1 = uv_hrtime();
    report_msg r;
    memcpy(&r, env->data, sizeof(r));
    if (!b->in_run || r.got != b->total || r.bad_order || r.bad_len) {
      drv_fail(ctx, b, "the sink counted a different number, out of order "
                       "or of another length");
      return 0;
    }
    b->in_run = false;
    if (b->run >= 0) {
      run_result *res = &b->runs[b->run];
      res->seconds = (double)(t1 - b->t0) * 1e-9;
      res->rate = (double)b->total / res->seconds;
      res->cpu_sender = cpu_s() - b->cpu0;
      res->cpu_receiver = r.cpu_s;
      res->full = b->full;
    }
    if (++b->run == b->reps) {
      tr_send(ctx, "sink", "quit", 4);
      tr_node_stop(tr_node_of(ctx));
      return 0;
    }
    drv_start_run(ctx, b);
    return 0;
  }
  /* the tick */
  if (!b->sink_known) {
    char owner[TR_ID_MAX + 1];
    if (tr_node_locate(tr_node_of(ctx), "sink", owner, sizeof(owner)) == 0) {
      b->sink_known = true;
      drv_start_run(ctx, b);
    }
  }
  if (++b->waited_ms > (b->sink_known ? PHASE_LIMIT_MS : 20000u)) {
    drv_fail(ctx, b, b->sink_known ? "timed out waiting for the sink's report"
                                   : "the sink never became resolvable");
    return 0;
  }
  return tr_send_after(ctx, 1, tr_self(ctx), "t", 1);
}

static const tr_actor_type drv_type = {.name = "drv",
                                       .state_size = sizeof(bench *),
                                       .init = bind_arg,
                                       .receive = drv_receive};

static int cmp_rate(const void *a, const void *b) {
  double x = ((const run_result *)a)->rate, y = ((const run_result *)b)->rate;
  return (x > y) - (x < y);
}

static void rm_dir(const char *dir) {
  static const char *const files[] = {"ca.pem", "n0.pem", "n0.key", "n1.pem",
                                      "n1.key"};
  char p[1024];
  for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
    snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
    unlink(p);
  }
  rmdir(dir);
}

/* The sink's own speed in slow mode: the spin alone, msgs/s. */
static double consumer_alone(void) {
  const int n = 50000;
  uint64_t t0 = uv_hrtime();
  for (int i = 0; i < n; i++) spin(SLOW_SPIN);
  return (double)n / ((double)(uv_hrtime() - t0) * 1e-9);
}

static int report(bench *b) {
  char name[64], cpu_name[80];
  snprintf(name, sizeof(name), "%s%s", MODE_NAME[b->mode],
           b->no_credit ? "_nocredit" : "");
  if (b->mode == MODE_UNPACED)
    snprintf(cpu_name, sizeof(cpu_name), "remote_cpu_64_total%s",
             b->no_credit ? "_nocredit" : "");
  else
    snprintf(cpu_name, sizeof(cpu_name), "%s_cpu_total", name);
  if (!b->error && b->run < b->reps) b->error = "the node stopped early";
  if (b->error) {
    printf("{\"name\":\"%s\",\"error\":\"%s\"}\n", name, b->error);
    return 1;
  }
  run_result runs[MAX_REPS];
  memcpy(runs, b->runs, sizeof(runs));
  qsort(runs, (size_t)b->reps, sizeof(runs[0]), cmp_rate);
  const run_result *m = &runs[b->reps / 2];
  char extra[160] = "";
  if (b->mode == MODE_SLOW || b->mode == MODE_SLOW_FREE) {
    double alone = consumer_alone();
    snprintf(extra, sizeof(extra),
             ",\"consumer_alone\":%.0f,\"ratio_to_consumer\":%.3f,"
             "\"lost\":0",
             alone, m->rate / alone);
  }
  printf("{\"name\":\"%s\",\"value\":%.0f,\"unit\":\"msgs/s\","
         "\"payload\":%d,\"messages\":%llu,\"seconds\":%.3f,\"reps\":%d,"
         "\"min\":%.0f,\"max\":%.0f,\"efull_waits\":%llu,"
         "\"processes\":2%s}\n",
         name, m->rate, PAYLOAD, (unsigned long long)b->messages, m->seconds,
         b->reps, runs[0].rate, runs[b->reps - 1].rate,
         (unsigned long long)m->full, extra);
  double per = 1e6 / (double)b->messages;
  printf("{\"name\":\"%s\",\"value\":%.4g,"
         "\"unit\":\"cpu_s/M messages\",\"sender\":%.4g,\"receiver\":%.4g}\n",
         cpu_name, (m->cpu_sender + m->cpu_receiver) * per,
         m->cpu_sender * per, m->cpu_receiver * per);
  return 0;
}

static int run_bench(uint64_t messages, int reps, mode md, bool no_credit) {
  char dir[] = "/tmp/bench_remote.XXXXXX";
  /* The receiving node reads its part from the environment. */
  char cap[16];
  snprintf(cap, sizeof(cap), "%u",
           md == MODE_CREDIT ? CREDIT_CAP : md == MODE_SLOW ? SLOW_CAP
                                                            : 1u << 20);
  setenv("BENCH_REMOTE_SINK_CAP", cap, 1);
  setenv("BENCH_REMOTE_NO_CREDIT", no_credit ? "1" : "0", 1);
  if (!mkdtemp(dir)) return 1;
  test_pki pki;
  int rc = pki_init(&pki);
  if (rc == 0) rc = pki_write_files(&pki, dir, "n0");
  if (rc == 0) rc = pki_write_files(&pki, dir, "n1");
  pki_free(&pki);
  char addr[160];
  pid_t child =
      rc == 0 ? bench_child_spawn("bench_remote", dir, addr, sizeof(addr)) : -1;
  if (child < 0) {
    printf("{\"name\":\"%s\",\"error\":\"the receiving node "
           "did not start\"}\n", MODE_NAME[md]);
    rm_dir(dir);
    return 1;
  }
  tr_node_config cfg = {0};
  char paths[3][512];
  node_config(&cfg, paths, dir, "n0");
  const char *seeds[1] = {addr};
  cfg.seeds = seeds;
  cfg.nseeds = 1;
  cfg.no_flow_credit = no_credit;
  bench *b = calloc(1, sizeof(*b));
  b->mode = md;
  b->no_credit = no_credit;
  b->messages = messages;
  b->reps = reps;
  b->run = -1;
  tr_node *n = NULL;
  rc = tr_node_new(&n, &cfg);
  tr_spawn_opts so = {.id = "src", .arg = b}, dop = {.id = "drv", .arg = b};
  if (rc == 0) rc = tr_node_spawn(n, &src_type, &so);
  if (rc == 0) rc = tr_node_spawn(n, &drv_type, &dop);
  if (rc == 0) rc = tr_node_send(n, "drv", "t", 1);
  if (rc != 0) b->error = tr_errname(rc);
  else tr_node_run(n);
  tr_node_free(n);
  bench_child_reap(child);
  rm_dir(dir);
  rc = report(b);
  free(b);
  return rc;
}

int main(int argc, char **argv) {
  uint64_t messages = 0;
  int reps = 3, fd = -1;
  bool quick = false, no_credit = false;
  mode md = MODE_UNPACED;
  const char *serve_dir = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--quick") == 0) {
      quick = true;
    } else if (strcmp(a, "--messages") == 0 && v) {
      messages = strtoull(v, NULL, 10);
      i++;
    } else if (strcmp(a, "--reps") == 0 && v) {
      reps = atoi(v);
      i++;
    } else if (strcmp(a, "--mode") == 0 && v) {
      int k = 0;
      while (k < MODE_COUNT && strcmp(v, MODE_ARG[k]) != 0) k++;
      if (k == MODE_COUNT) {
        fprintf(stderr, "bench_remote: --mode unpaced|windowed|credit|slow|"
                        "slow-unpaced\n");
        return 2;
      }
      md = (mode)k;
      i++;
    } else if (strcmp(a, "--no-credit") == 0) {
      no_credit = true;
    } else if (strcmp(a, "--serve") == 0 && v) {
      serve_dir = v;
      i++;
    } else if (strcmp(a, "--fd") == 0 && v) {
      fd = atoi(v);
      i++;
    } else {
      fprintf(stderr, "usage: bench_remote [--quick] [--messages N] "
                      "[--reps R] [--mode unpaced|windowed|credit|slow|"
                      "slow-unpaced] "
                      "[--no-credit]\n");
      return 2;
    }
  }
  if (serve_dir) return fd < 0 ? 2 : serve_main(serve_dir, fd);
  if (reps < 1 || reps > MAX_REPS) {
    fprintf(stderr, "bench_remote: --reps 1..%d\n", MAX_REPS);
    return 2;
  }
  if (quick) reps = 1;
  if (!messages) messages = quick ? 200000 : 5000000;
  signal(SIGPIPE, SIG_IGN);
  return run_bench(messages, reps, md, no_credit);
}
