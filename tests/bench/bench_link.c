/* bench_link.c — the link's benchmarks: two processes on 127.0.0.1 over
 * mutually authenticated TLS, with the bounds they are held against measured
 * in the same run. Prints one JSON object per figure on its own line (see
 * STYLE.md, "Benchmarks"):
 *
 *   link_oneway_64         envelopes/s delivered, 64 B payloads; the sender
 *                          keeps the link queue full (link_send until
 *                          TR_EFULL, then one loop iteration); the time runs
 *                          from the first send until the receiver's report
 *                          that the last envelope arrived. Target >= 1 M/s.
 *                          Each one-way line also gives the longest loop
 *                          iteration ("max_iteration_ms", time not waiting
 *                          in poll) and how many cores other processes kept
 *                          busy meanwhile ("others_cores", from /proc/stat;
 *                          on a 2-core machine anything above ~0.1 makes the
 *                          figure unreliable).
 *   link_bytes_per_env_64  TLS bytes on the socket per 64 B envelope
 *                          (sender's link_stats bytes_out / envelopes)
 *   link_cpu_64_sender, link_cpu_64_receiver, link_cpu_64_total
 *                          CPU seconds per million envelopes (getrusage
 *                          RUSAGE_SELF in each process over the run)
 *   link_oneway_4k         envelopes/s delivered, 4 KiB payloads, and
 *   link_oneway_4k_mbps    the same as payload MB/s (10^6 bytes)
 *   link_cpu_4k_*          CPU seconds per million 4 KiB envelopes
 *   link_rtt_64_p50/p99    µs, one 64 B envelope in flight, echoed by the
 *                          receiver: uv_hrtime from link_send to the echo's
 *                          on_envelope ("iteration_p50": to the end of that
 *                          loop iteration, after the link's own writes)
 *   aes128_gcm_16k         MB/s, mbedTLS AES-128-GCM encrypt+tag, 16 KiB
 *   chachapoly_16k         MB/s, mbedTLS ChaCha20-Poly1305, 16 KiB
 *   tcp_rtt_64_p50/p99     µs, bare TCP ping-pong on loopback between the
 *                          same two processes on libuv, 64 B, one in flight,
 *                          from the write to the read callback completing it
 *   ratio_link_4k_vs_aes_gcm (target >= 0.5), ratio_link_rtt_p50_vs_tcp
 *                          (target <= 1.5), ratio_link_4k_vs_chachapoly
 *
 * Usage: bench_link [--quick] [--only LIST] [--reps R] [--messages N]
 *                   [--messages-4k N] [--samples N] [--batch B]
 *                   [--queue-bytes N]
 *        bench_link --write-certs DIR
 *   --quick        small counts, for a smoke run
 *   --only LIST    comma-separated subset of: cipher, tcp, rtt, oneway64,
 *                  oneway4k (default: all)
 *   --reps R       timed one-way runs per payload size, after a warm-up;
 *                  the median is the value, min and max are printed too
 *                  [3; 1 with --quick]
 *   --messages N   envelopes of the 64 B one-way run [5000000]
 *   --messages-4k N  envelopes of the 4 KiB one-way run [300000]
 *   --samples N    round trips of each RTT figure [20000]
 *   --batch B      one-way: at most B link_send calls per loop iteration
 *                  instead of sending until TR_EFULL (for exploring)
 *   --queue-bytes N  the sender's link queue_max_bytes [link default]
 *   --write-certs DIR  writes ca.pem, node-a.pem/.key, node-b.pem/.key
 *                  (certgen via tests/support/pki.c) and exits
 *   --serve DIR --fd N  internal: the receiver process
 *
 * The program makes a CA and two node certificates in a temporary directory,
 * then runs itself with --serve as the receiver ("node-b", which listens)
 * and dials it as "node-a". The receiver counts envelopes addressed to
 * "sink", checks their order, and reports its count and CPU time in an
 * envelope back once it has the number it was told to expect; it echoes
 * "echo" envelopes, and runs a bare TCP echo listener for the baseline.
 * Every wait is bounded. Exit status 0 unless something failed (a line with
 * "error" says what), 1 then, 2 for bad usage. Targets that are missed are
 * printed with "pass":false and do not change the exit status. */
#define _GNU_SOURCE
#include <mbedtls/chachapoly.h>
#include <mbedtls/gcm.h>
#include <mbedtls/version.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "bench_child.h"
#include "link.h"
#include "pki.h"

#define SMALL 64
#define LARGE 4096
#define PHASE_LIMIT_S 180.0 /* any single phase */
#define SERVE_LIMIT_S 1800  /* the receiver exits after this, whatever */
#define MAX_REPS 15

/* ---- options and output -------------------------------------------------- */

static struct {
  bool quick;
  const char *only;
  uint64_t messages, messages_4k, samples;
  uint64_t batch;
  size_t queue_bytes;
  int reps;
} opt;

static int failures;

static double now_s(void) { return (double)uv_hrtime() * 1e-9; }

static bool selected(const char *fig) {
  if (!opt.only) return true;
  size_t n = strlen(fig);
  for (const char *p = opt.only; *p;) {
    size_t len = strcspn(p, ",");
    if (len == n && memcmp(p, fig, n) == 0) return true;
    p += len + (p[len] == ',');
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
  char v[64], extra[768] = "";
  fmt_num(v, sizeof(v), value);
  if (extra_fmt) {
    va_list ap;
    va_start(ap, extra_fmt);
    vsnprintf(extra, sizeof(extra), extra_fmt, ap);
    va_end(ap);
  }
  printf("{\"name\":\"%s\",\"runtime\":\"troupe\",\"value\":%s,"
         "\"unit\":\"%s\"%s}\n",
         name, v, unit, extra);
  fflush(stdout);
}

/* A ratio or target line: {"name","value","target","pass"}. */
static void emit_check(const char *name, double value, const char *target,
                       bool pass, const char *extra) {
  char v[64];
  fmt_num(v, sizeof(v), value);
  printf("{\"name\":\"%s\",\"value\":%s,\"target\":\"%s\",\"pass\":%s%s}\n",
         name, v, target, pass ? "true" : "false", extra ? extra : "");
  fflush(stdout);
}

static void fail(const char *figure, const char *what, int rc) {
  printf("{\"name\":\"%s\",\"runtime\":\"troupe\",\"error\":\"%s%s%s\"}\n",
         figure, what, rc ? ": " : "", rc ? tr_errname(rc) : "");
  fflush(stdout);
  failures++;
}

static double cpu_s(const struct rusage *r) {
  return (double)r->ru_utime.tv_sec + (double)r->ru_utime.tv_usec * 1e-6 +
         (double)r->ru_stime.tv_sec + (double)r->ru_stime.tv_usec * 1e-6;
}

/* CPU seconds the whole machine spent busy so far (/proc/stat), so that a
 * run can say how much of the machine other processes took meanwhile; -1
 * when unknown. */
static double machine_busy_s(void) {
  FILE *f = fopen("/proc/stat", "r");
  if (!f) return -1;
  unsigned long long v[8] = {0};
  int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
                 &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
  fclose(f);
  if (n < 8) return -1;
  long hz = sysconf(_SC_CLK_TCK);
  /* user nice system [idle iowait] irq softirq steal */
  return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) /
         (double)(hz > 0 ? hz : 100);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

typedef struct {
  double p50, p99, min, max, mean; /* µs */
} lat;

static lat latencies(uint64_t *ns, size_t n) {
  qsort(ns, n, sizeof(*ns), cmp_u64);
  double sum = 0;
  for (size_t i = 0; i < n; i++) sum += (double)ns[i];
  size_t i99 = (size_t)((double)n * 0.99);
  if (i99 >= n) i99 = n - 1;
  return (lat){.p50 = (double)ns[n / 2] / 1e3,
               .p99 = (double)ns[i99] / 1e3,
               .min = (double)ns[0] / 1e3,
               .max = (double)ns[n - 1] / 1e3,
               .mean = sum / (double)n / 1e3};
}

static wire_slice slice(const char *s) {
  return (wire_slice){(const uint8_t *)s, strlen(s)};
}

static bool target_is(const wire_envelope *e, const char *name) {
  size_t n = strlen(name);
  return e->target.len == n && memcmp(e->target.p, name, n) == 0;
}

/* ---- messages between the two processes ---------------------------------- */

/* "start": the receiver resets its counters and expects this many "sink"
 * envelopes; "done" comes back once they are all here. */
typedef struct bl_start {
  uint64_t expected;
} bl_start;

typedef struct bl_report {
  uint64_t got, bad_order, bad_len;
  uint64_t first_ns, last_ns; /* uv_hrtime: CLOCK_MONOTONIC, system-wide */
  double cpu_s;               /* RUSAGE_SELF from "start" to the last one */
} bl_report;

/* ---- the receiver process (--serve) -------------------------------------- */

typedef struct srv {
  uv_loop_t loop;
  uv_timer_t watchdog;
  uv_tcp_t tcp_listener;
  link_mgr *m;
  tls_config *tls;
  pid_t parent;
  double started;
  bool quit;
  uint64_t expected, got, next_idx, bad_order, bad_len, first_ns;
  size_t payload_len; /* of the first sink envelope of a run */
  struct rusage ru0;
} srv;

typedef struct srv_tcp {
  uv_tcp_t tcp;
  char buf[65536];
} srv_tcp;

static void srv_report(srv *s, peer_link *lk) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  bl_report r = {.got = s->got,
                 .bad_order = s->bad_order,
                 .bad_len = s->bad_len,
                 .first_ns = s->first_ns,
                 .last_ns = uv_hrtime(),
                 .cpu_s = cpu_s(&ru) - cpu_s(&s->ru0)};
  wire_envelope out = {.type = TR_MSG_SEND,
                       .sender = slice("sink"),
                       .target = slice("done"),
                       .payload = {(const uint8_t *)&r, sizeof(r)}};
  int rc = link_send(lk, &out);
  if (rc != 0)
    fprintf(stderr, "bench_link serve: report: %s\n", tr_errname(rc));
}

static void srv_on_envelope(void *user, peer_link *lk, const wire_envelope *e) {
  srv *s = user;
  if (target_is(e, "sink")) { /* the hot path: first */
    uint64_t idx = 0;
    if (e->payload.len >= sizeof(idx))
      memcpy(&idx, e->payload.p, sizeof(idx));
    if (s->got == 0) {
      s->first_ns = uv_hrtime();
      s->payload_len = e->payload.len;
    }
    if (idx != s->next_idx) s->bad_order++;
    if (e->payload.len != s->payload_len) s->bad_len++;
    s->next_idx = idx + 1;
    if (++s->got == s->expected) srv_report(s, lk);
  } else if (target_is(e, "echo")) {
    wire_envelope out = {.type = TR_MSG_SEND,
                         .sender = slice("echo"),
                         .target = slice("echo_reply"),
                         .payload = e->payload};
    int rc = link_send(lk, &out);
    if (rc != 0)
      fprintf(stderr, "bench_link serve: echo: %s\n", tr_errname(rc));
  } else if (target_is(e, "start") && e->payload.len == sizeof(bl_start)) {
    bl_start st;
    memcpy(&st, e->payload.p, sizeof(st));
    s->expected = st.expected;
    s->got = s->next_idx = s->bad_order = s->bad_len = s->first_ns = 0;
    getrusage(RUSAGE_SELF, &s->ru0);
  } else if (target_is(e, "quit")) {
    s->quit = true;
  }
}

static void srv_on_watchdog(uv_timer_t *t) {
  srv *s = t->data;
  if (s->quit || getppid() != s->parent ||
      now_s() - s->started > SERVE_LIMIT_S)
    uv_stop(&s->loop);
}

/* The TCP baseline: echo whatever arrives, at once. */
typedef struct srv_write {
  uv_write_t req;
  char data[];
} srv_write;

static void srv_on_write(uv_write_t *req, int status) { free(req); }

static void srv_tcp_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b) {
  srv_tcp *c = h->data;
  *b = uv_buf_init(c->buf, sizeof(c->buf));
}

static void srv_tcp_close(uv_handle_t *h) { free(h->data); }

static void srv_tcp_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
  if (n < 0) {
    uv_close((uv_handle_t *)st, srv_tcp_close);
    return;
  }
  if (n == 0) return;
  uv_buf_t out = uv_buf_init(b->base, (unsigned)n);
  int w = uv_try_write(st, &out, 1);
  if (w == n) return;
  size_t done = w > 0 ? (size_t)w : 0;
  srv_write *q = malloc(sizeof(*q) + (size_t)n - done);
  if (!q) return;
  memcpy(q->data, b->base + done, (size_t)n - done);
  out = uv_buf_init(q->data, (unsigned)((size_t)n - done));
  if (uv_write(&q->req, st, &out, 1, srv_on_write) != 0) free(q);
}

static void srv_on_tcp_conn(uv_stream_t *server, int status) {
  if (status < 0) return;
  srv_tcp *c = malloc(sizeof(*c));
  if (!c) return;
  uv_tcp_init(server->loop, &c->tcp);
  c->tcp.data = c;
  if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
    uv_close((uv_handle_t *)&c->tcp, srv_tcp_close);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  uv_read_start((uv_stream_t *)&c->tcp, srv_tcp_alloc, srv_tcp_read);
}

/* At quit only the listener, the watchdog and perhaps a baseline
 * connection are left (link_mgr_free closed the link's handles). */
static void close_any(uv_handle_t *h, void *arg) {
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

static int tls_from_dir(tls_config **out, const char *dir, const char *name) {
  char ca[1024], cert[1024], key[1024], err[256];
  snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
  snprintf(cert, sizeof(cert), "%s/%s.pem", dir, name);
  snprintf(key, sizeof(key), "%s/%s.key", dir, name);
  tls_config_opts o = {.ca_file = ca, .cert_file = cert, .key_file = key};
  int rc = tls_config_new(out, &o, err, sizeof(err));
  if (rc != 0) fprintf(stderr, "bench_link: tls config %s: %s\n", name, err);
  return rc;
}

/* Listens for the link and the TCP baseline, writes "LINKPORT TCPPORT\n"
 * to fd, then serves until "quit", its parent's exit or SERVE_LIMIT_S. */
static int serve_main(const char *dir, int fd) {
  signal(SIGPIPE, SIG_IGN);
  static srv s;
  s.parent = getppid();
  s.started = now_s();
  uv_loop_init(&s.loop);
  if (tls_from_dir(&s.tls, dir, "node-b") != 0) return 3;
  link_config c = {.loop = &s.loop,
                   .tls = s.tls,
                   .node_name = "node-b",
                   .incarnation = (uint64_t)getpid(),
                   .ops = {.on_envelope = srv_on_envelope},
                   .user = &s};
  int rc = link_mgr_new(&s.m, &c);
  if (rc == 0) rc = link_mgr_listen(s.m, "127.0.0.1:0");
  if (rc != 0) {
    fprintf(stderr, "bench_link serve: link listen: %s\n", tr_errname(rc));
    return 3;
  }
  struct sockaddr_in sa;
  uv_ip4_addr("127.0.0.1", 0, &sa);
  uv_tcp_init(&s.loop, &s.tcp_listener);
  s.tcp_listener.data = NULL;
  if (uv_tcp_bind(&s.tcp_listener, (const struct sockaddr *)&sa, 0) != 0 ||
      uv_listen((uv_stream_t *)&s.tcp_listener, 16, srv_on_tcp_conn) != 0) {
    fprintf(stderr, "bench_link serve: tcp listen failed\n");
    return 3;
  }
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  uv_tcp_getsockname(&s.tcp_listener, (struct sockaddr *)&ss, &len);
  char ports[64];
  int n = snprintf(ports, sizeof(ports), "%d %d\n", link_mgr_port(s.m),
                   ntohs(((struct sockaddr_in *)&ss)->sin_port));
  if (write(fd, ports, (size_t)n) != n) return 3;
  close(fd);
  uv_timer_init(&s.loop, &s.watchdog);
  s.watchdog.data = &s;
  uv_timer_start(&s.watchdog, srv_on_watchdog, 200, 200);
  uv_run(&s.loop, UV_RUN_DEFAULT);
  /* Quit: give the last flush a moment, then close everything. */
  for (int i = 0; i < 10; i++) uv_run(&s.loop, UV_RUN_NOWAIT);
  link_mgr_free(s.m);
  uv_walk(&s.loop, close_any, NULL);
  uv_run(&s.loop, UV_RUN_DEFAULT);
  uv_loop_close(&s.loop);
  tls_config_free(s.tls);
  return 0;
}

/* ---- the sender process -------------------------------------------------- */

typedef struct cli {
  uv_loop_t loop;
  uv_timer_t tick; /* wakes the loop so bounded waits can look at the clock */
  tls_config *tls;
  link_mgr *m;
  peer_link *lk;
  pid_t child;
  bool child_dead;
  double child_checked;
  int link_port, tcp_port;
  bool have_report, have_echo;
  bl_report report;
  uint64_t echo_ns; /* when the last echo was delivered */
  /* the TCP baseline's client */
  uv_tcp_t tcp;
  uv_connect_t creq;
  bool tcp_connected, tcp_failed;
  size_t tcp_got;
  uint64_t tcp_ns; /* when the last echo was complete */
  char tcp_buf[4096];
} cli;

static void cli_on_envelope(void *user, peer_link *lk, const wire_envelope *e) {
  cli *c = user;
  if (target_is(e, "echo_reply")) {
    c->have_echo = true;
    c->echo_ns = uv_hrtime();
  } else if (target_is(e, "done") && e->payload.len == sizeof(bl_report)) {
    memcpy(&c->report, e->payload.p, sizeof(bl_report));
    c->have_report = true;
  }
}

static void on_tick(uv_timer_t *t) { (void)t; }

static bool child_alive(cli *c) {
  int status;
  if (c->child_dead) return false;
  if (waitpid(c->child, &status, WNOHANG) != 0) c->child_dead = true;
  return !c->child_dead;
}

/* A wait should go on: before the deadline, and the receiver still alive
 * (looked at every 200 ms, so a latency loop makes no extra syscall). */
static bool keep_waiting(cli *c, double deadline) {
  double t = now_s();
  if (t > deadline) return false;
  if (t - c->child_checked > 0.2) {
    c->child_checked = t;
    return child_alive(c);
  }
  return true;
}

/* Runs the loop until *flag; false on timeout or if the receiver died. */
static bool run_until(cli *c, const bool *flag, double deadline) {
  while (!*flag) {
    if (!keep_waiting(c, deadline)) return false;
    uv_run(&c->loop, UV_RUN_ONCE);
  }
  return true;
}

static int send_ctl(cli *c, const char *target, const void *p, size_t len) {
  wire_envelope e = {.type = TR_MSG_SEND,
                     .sender = slice("bench"),
                     .target = slice(target),
                     .payload = {p, len}};
  return link_send(c->lk, &e);
}

/* ---- one-way ------------------------------------------------------------- */

/* One loop iteration; returns the nanoseconds it spent not waiting in poll
 * (the loop is configured with UV_METRICS_IDLE_TIME): how long this node
 * could not react to anything else. */
static uint64_t run_once_busy(cli *c) {
  uint64_t idle0 = uv_metrics_idle_time(&c->loop), t0 = uv_hrtime();
  uv_run(&c->loop, UV_RUN_ONCE);
  uint64_t spent = uv_hrtime() - t0;
  uint64_t idle = uv_metrics_idle_time(&c->loop) - idle0;
  return spent > idle ? spent - idle : 0;
}

typedef struct ow_result {
  double rate, seconds, cpu_sender, cpu_receiver, recv_rate;
  double max_iter_ms; /* the longest busy loop iteration, pump or tail */
  double others_cores; /* cores other processes kept busy meanwhile */
  double min_rate, max_rate; /* over the repetitions */
  uint64_t bytes_out, writes, efull, loop_runs;
  int frame_bytes;
  bl_report r;
} ow_result;

/* Sends n envelopes of plen bytes to "sink" and waits for the receiver's
 * report that all n arrived. 0, or a TR_E* / -1 (timeout, loss). Never
 * inlined, so a profile can be limited to it:
 *   valgrind --tool=callgrind --toggle-collect=oneway_run bench_link ... */
#if defined(__clang__)
#define BENCH_PROFILE_ENTRY __attribute__((noinline))
#else
#define BENCH_PROFILE_ENTRY __attribute__((noinline, noclone))
#endif
BENCH_PROFILE_ENTRY static int oneway_run(cli *c, uint64_t n, size_t plen,
                                          ow_result *out) {
  static uint8_t buf[LARGE];
  memset(buf, 'x', sizeof(buf));
  wire_envelope e = {.type = TR_MSG_SEND,
                     .sender = slice("src"),
                     .target = slice("sink"),
                     .payload = {buf, plen}};
  bl_start st = {.expected = n};
  c->have_report = false;
  int rc = send_ctl(c, "start", &st, sizeof(st));
  if (rc != 0) return rc;
  link_stats s0, s1;
  link_get_stats(c->lk, &s0);
  struct rusage ru0, ru1;
  getrusage(RUSAGE_SELF, &ru0);
  double busy0 = machine_busy_s();
  double deadline = now_s() + PHASE_LIMIT_S;
  uint64_t t0 = uv_hrtime(), efull = 0, runs = 0, max_iter = 0;
  uint64_t batch = opt.batch ? opt.batch : UINT64_MAX, in_batch = 0;
  for (uint64_t i = 0; i < n;) {
    memcpy(buf, &i, sizeof(i));
    rc = in_batch < batch ? link_send(c->lk, &e) : TR_EFULL;
    if (rc == 0) {
      i++;
      in_batch++;
      continue;
    }
    if (rc != TR_EFULL) return rc;
    efull += in_batch < batch;
    in_batch = 0;
    uint64_t busy = run_once_busy(c);
    if (busy > max_iter) max_iter = busy;
    runs++;
    if (!keep_waiting(c, deadline)) return -1;
  }
  while (!c->have_report) {
    if (!keep_waiting(c, deadline)) return -1;
    uint64_t busy = run_once_busy(c);
    if (busy > max_iter) max_iter = busy;
  }
  uint64_t t1 = uv_hrtime();
  getrusage(RUSAGE_SELF, &ru1);
  double busy1 = machine_busy_s();
  link_get_stats(c->lk, &s1);
  bl_report *r = &c->report;
  if (r->got != n || r->bad_order || r->bad_len) return -2;
  out->r = *r;
  out->seconds = (double)(t1 - t0) * 1e-9;
  out->rate = (double)n / out->seconds;
  out->recv_rate = r->last_ns > r->first_ns
                       ? (double)n / ((double)(r->last_ns - r->first_ns) * 1e-9)
                       : 0;
  out->cpu_sender = cpu_s(&ru1) - cpu_s(&ru0);
  out->cpu_receiver = r->cpu_s;
  out->bytes_out = s1.bytes_out - s0.bytes_out;
  out->writes = s1.writes - s0.writes;
  out->efull = efull;
  out->loop_runs = runs;
  out->max_iter_ms = (double)max_iter / 1e6;
  double ours = out->cpu_sender + out->cpu_receiver;
  out->others_cores = busy0 < 0 || busy1 < 0
                          ? -1
                          : (busy1 - busy0 - ours) / out->seconds;
  if (out->others_cores < 0 && busy0 >= 0) out->others_cores = 0;
  uint8_t frame[LARGE + 256];
  e.seq = n; /* a typical seq varint */
  out->frame_bytes = wire_encode_envelope(frame, sizeof(frame), 1u << 20, &e);
  return 0;
}

static void oneway_fail(const char *fig, int rc) {
  fail(fig,
       rc == -1   ? "timed out waiting for the receiver, or it died"
       : rc == -2 ? "receiver counted a different number, or out of order"
                  : "link_send",
       rc < 0 ? 0 : rc);
}

static int cmp_rate(const void *a, const void *b) {
  return cmp_double(&((const ow_result *)a)->rate,
                    &((const ow_result *)b)->rate);
}

/* A warm-up run (chunk pool, buffers, TCP windows), then opt.reps timed
 * runs; *res is the median run, with the spread of the rates. */
static bool bench_oneway(cli *c, const char *fig, uint64_t n, size_t plen,
                         ow_result *res) {
  uint64_t warm = n / 10 < 100000 ? n / 10 : 100000;
  ow_result runs[MAX_REPS];
  int rc = oneway_run(c, warm ? warm : 1, plen, &runs[0]);
  for (int i = 0; rc == 0 && i < opt.reps; i++)
    rc = oneway_run(c, n, plen, &runs[i]);
  if (rc != 0) {
    oneway_fail(fig, rc);
    return false;
  }
  qsort(runs, (size_t)opt.reps, sizeof(runs[0]), cmp_rate);
  *res = runs[opt.reps / 2];
  res->min_rate = runs[0].rate;
  res->max_rate = runs[opt.reps - 1].rate;
  return true;
}

static const char *tls_suite = "";

static void oneway_params(char *buf, size_t cap, uint64_t n, size_t plen,
                          const ow_result *r) {
  snprintf(buf, cap,
           ",\"payload\":%zu,\"envelopes\":%llu,\"seconds\":%.3f,"
           "\"receiver_rate\":%.0f,\"frame_bytes\":%d,\"writes\":%llu,"
           "\"envelopes_per_write\":%.1f,\"efull\":%llu,\"loop_runs\":%llu,"
           "\"max_iteration_ms\":%.1f,\"others_cores\":%.2f,\"reps\":%d,"
           "\"min\":%.0f,\"max\":%.0f,\"batch\":%llu,\"tls\":\"%s\","
           "\"processes\":2",
           plen, (unsigned long long)n, r->seconds, r->recv_rate,
           r->frame_bytes, (unsigned long long)r->writes,
           r->writes ? (double)n / (double)r->writes : 0.0,
           (unsigned long long)r->efull, (unsigned long long)r->loop_runs,
           r->max_iter_ms, r->others_cores, opt.reps, r->min_rate, r->max_rate,
           (unsigned long long)opt.batch, tls_suite);
}

static void emit_cpu(const char *prefix, uint64_t n, const ow_result *r) {
  char name[64];
  double per = 1e6 / (double)n;
  const char *extra = ",\"envelopes\":%llu,\"cpu_s\":%.3f,\"wall_s\":%.3f";
  snprintf(name, sizeof(name), "%s_sender", prefix);
  emit(name, r->cpu_sender * per, "cpu_s/M envelopes", extra,
       (unsigned long long)n, r->cpu_sender, r->seconds);
  snprintf(name, sizeof(name), "%s_receiver", prefix);
  emit(name, r->cpu_receiver * per, "cpu_s/M envelopes", extra,
       (unsigned long long)n, r->cpu_receiver, r->seconds);
  snprintf(name, sizeof(name), "%s_total", prefix);
  emit(name, (r->cpu_sender + r->cpu_receiver) * per, "cpu_s/M envelopes",
       extra, (unsigned long long)n, r->cpu_sender + r->cpu_receiver,
       r->seconds);
}

/* Figures the ratio lines at the end need. */
static double fig_4k_mbps = -1, fig_rtt_p50 = -1;
static double fig_tcp_p50 = -1, fig_gcm = -1, fig_chacha = -1;

static void bench_oneway64(cli *c) {
  uint64_t n = opt.messages ? opt.messages : opt.quick ? 200000 : 5000000;
  ow_result r;
  if (!bench_oneway(c, "link_oneway_64", n, SMALL, &r)) return;
  char p[768];
  oneway_params(p, sizeof(p), n, SMALL, &r);
  bool pass = r.rate >= 1e6;
  size_t l = strlen(p);
  snprintf(p + l, sizeof(p) - l, ",\"target\":\">=1000000\",\"pass\":%s",
           pass ? "true" : "false");
  emit("link_oneway_64", r.rate, "envelopes/s", "%s", p);
  emit("link_bytes_per_env_64", (double)r.bytes_out / (double)n,
       "bytes/envelope",
       ",\"payload\":%d,\"frame_bytes\":%d,\"bytes_out\":%llu,"
       "\"envelopes\":%llu",
       SMALL, r.frame_bytes, (unsigned long long)r.bytes_out,
       (unsigned long long)n);
  emit_cpu("link_cpu_64", n, &r);
}

static void bench_oneway4k(cli *c) {
  uint64_t n = opt.messages_4k ? opt.messages_4k : opt.quick ? 20000 : 300000;
  ow_result r;
  if (!bench_oneway(c, "link_oneway_4k", n, LARGE, &r)) return;
  char p[768];
  oneway_params(p, sizeof(p), n, LARGE, &r);
  emit("link_oneway_4k", r.rate, "envelopes/s", "%s", p);
  fig_4k_mbps = r.rate * LARGE / 1e6;
  emit("link_oneway_4k_mbps", fig_4k_mbps, "MB/s",
       ",\"payload\":%d,\"envelopes\":%llu,\"mb\":\"10^6 payload bytes\","
       "\"wire_mbps\":%.1f,\"bytes_per_env\":%.1f",
       LARGE, (unsigned long long)n, (double)r.bytes_out / r.seconds / 1e6,
       (double)r.bytes_out / (double)n);
  emit_cpu("link_cpu_4k", n, &r);
}

/* ---- round trips: over the link, and bare TCP ---------------------------- */

/* The two latency figures are taken in alternating blocks, so that both see
 * the same machine (a VM's idle states and neighbours move these by tens of
 * per cent from one second to the next). */
#define RTT_BLOCKS 10

static void tcp_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b) {
  cli *c = h->data;
  *b = uv_buf_init(c->tcp_buf, sizeof(c->tcp_buf));
}

static void tcp_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  cli *c = s->data;
  if (n < 0) c->tcp_failed = true;
  if (n > 0) {
    c->tcp_got += (size_t)n;
    if (c->tcp_got >= SMALL) c->tcp_ns = uv_hrtime();
  }
}

static void tcp_on_connect(uv_connect_t *req, int status) {
  cli *c = req->data;
  if (status < 0) {
    c->tcp_failed = true;
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  uv_read_start((uv_stream_t *)&c->tcp, tcp_alloc, tcp_read);
  c->tcp_connected = true;
}

static const char *tcp_connect(cli *c, double deadline) {
  struct sockaddr_in sa;
  uv_ip4_addr("127.0.0.1", c->tcp_port, &sa);
  uv_tcp_init(&c->loop, &c->tcp);
  c->tcp.data = c;
  c->creq.data = c;
  if (uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&sa,
                     tcp_on_connect) != 0)
    return "connect";
  while (!c->tcp_connected && !c->tcp_failed && keep_waiting(c, deadline))
    uv_run(&c->loop, UV_RUN_ONCE);
  return c->tcp_connected ? NULL : "connect";
}

/* k round trips of 64 B over bare TCP into ns (NULL: warm-up). */
static const char *tcp_samples(cli *c, uint64_t *ns, uint64_t k,
                               double deadline) {
  char msg[SMALL];
  memset(msg, 't', sizeof(msg));
  for (uint64_t i = 0; i < k; i++) {
    c->tcp_got = 0;
    uint64_t t0 = uv_hrtime();
    uv_buf_t b = uv_buf_init(msg, sizeof(msg));
    if (uv_try_write((uv_stream_t *)&c->tcp, &b, 1) != (int)sizeof(msg))
      return "write";
    while (c->tcp_got < sizeof(msg) && !c->tcp_failed &&
           keep_waiting(c, deadline))
      uv_run(&c->loop, UV_RUN_ONCE);
    if (c->tcp_got != sizeof(msg)) return "echo lost or timed out";
    if (ns) ns[i] = c->tcp_ns - t0;
  }
  return NULL;
}

/* k round trips of a 64 B envelope over the link: to its delivery (ns) and
 * to the end of that loop iteration (it); NULL: warm-up. */
static const char *link_samples(cli *c, uint64_t *ns, uint64_t *it, uint64_t k,
                                double deadline) {
  uint8_t buf[SMALL];
  memset(buf, 'r', sizeof(buf));
  for (uint64_t i = 0; i < k; i++) {
    c->have_echo = false;
    uint64_t t0 = uv_hrtime();
    if (send_ctl(c, "echo", buf, sizeof(buf)) != 0) return "link_send";
    if (!run_until(c, &c->have_echo, deadline))
      return "timed out waiting for the echo";
    if (ns) {
      ns[i] = c->echo_ns - t0;
      it[i] = uv_hrtime() - t0;
    }
  }
  return NULL;
}

static void bench_latency(cli *c, bool do_tcp, bool do_link) {
  uint64_t n = opt.samples ? opt.samples : opt.quick ? 2000 : 20000;
  if (n < RTT_BLOCKS) n = RTT_BLOCKS;
  uint64_t warm = n / 20 + 10, per = n / RTT_BLOCKS;
  n = per * RTT_BLOCKS;
  uint64_t *tcp = malloc(sizeof(uint64_t) * n);
  uint64_t *ns = malloc(sizeof(uint64_t) * n);
  uint64_t *it = malloc(sizeof(uint64_t) * n);
  double deadline = now_s() + PHASE_LIMIT_S;
  const char *terr = NULL, *lerr = NULL;
  if (!tcp || !ns || !it) terr = lerr = "out of memory";
  if (do_tcp && !terr && !(terr = tcp_connect(c, deadline)))
    terr = tcp_samples(c, NULL, warm, deadline);
  if (do_link && !lerr) lerr = link_samples(c, NULL, NULL, warm, deadline);
  link_stats s0, s1;
  link_get_stats(c->lk, &s0);
  for (int b = 0; b < RTT_BLOCKS; b++) {
    if (do_tcp && !terr) terr = tcp_samples(c, tcp + b * per, per, deadline);
    if (do_link && !lerr)
      lerr = link_samples(c, ns + b * per, it + b * per, per, deadline);
  }
  link_get_stats(c->lk, &s1);
  if (do_tcp) {
    if (c->tcp_connected) uv_close((uv_handle_t *)&c->tcp, NULL);
    uv_run(&c->loop, UV_RUN_NOWAIT);
  }
  if (do_tcp && terr) fail("tcp_rtt_64", terr, 0);
  if (do_tcp && !terr) {
    lat l = latencies(tcp, n);
    fig_tcp_p50 = l.p50;
    const char *extra =
        ",\"payload\":%d,\"samples\":%llu,\"min\":%.1f,\"mean\":%.1f,"
        "\"max\":%.1f,\"io\":\"libuv both ends, TCP_NODELAY\"";
    emit("tcp_rtt_64_p50", l.p50, "us", extra, SMALL, (unsigned long long)n,
         l.min, l.mean, l.max);
    emit("tcp_rtt_64_p99", l.p99, "us", extra, SMALL, (unsigned long long)n,
         l.min, l.mean, l.max);
  }
  if (do_link && lerr) fail("link_rtt_64", lerr, 0);
  if (do_link && !lerr) {
    lat l = latencies(ns, n), li = latencies(it, n);
    fig_rtt_p50 = l.p50;
    const char *extra =
        ",\"payload\":%d,\"samples\":%llu,\"min\":%.1f,\"mean\":%.1f,"
        "\"max\":%.1f,\"iteration_p50\":%.1f,\"iteration_p99\":%.1f,"
        "\"writes_per_rtt\":%.2f,\"bytes_out_per_rtt\":%.1f";
    double wpr = (double)(s1.writes - s0.writes) / (double)n;
    double bpr = (double)(s1.bytes_out - s0.bytes_out) / (double)n;
    emit("link_rtt_64_p50", l.p50, "us", extra, SMALL, (unsigned long long)n,
         l.min, l.mean, l.max, li.p50, li.p99, wpr, bpr);
    emit("link_rtt_64_p99", l.p99, "us", extra, SMALL, (unsigned long long)n,
         l.min, l.mean, l.max, li.p50, li.p99, wpr, bpr);
  }
  free(tcp);
  free(ns);
  free(it);
}

/* ---- AEAD speed: the bound of the link's bulk throughput ----------------- */

#define AEAD_BUF 16384

typedef int (*aead_fn)(void *ctx, uint64_t ctr, const uint8_t *in,
                       uint8_t *out);

static int gcm_one(void *ctx, uint64_t ctr, const uint8_t *in, uint8_t *out) {
  uint8_t iv[12] = {0}, aad[13] = {0}, tag[16];
  memcpy(iv + 4, &ctr, sizeof(ctr));
  return mbedtls_gcm_crypt_and_tag(ctx, MBEDTLS_GCM_ENCRYPT, AEAD_BUF, iv,
                                   sizeof(iv), aad, sizeof(aad), in, out,
                                   sizeof(tag), tag);
}

static int chacha_one(void *ctx, uint64_t ctr, const uint8_t *in,
                      uint8_t *out) {
  uint8_t nonce[12] = {0}, aad[13] = {0}, tag[16];
  memcpy(nonce + 4, &ctr, sizeof(ctr));
  return mbedtls_chachapoly_encrypt_and_tag(ctx, AEAD_BUF, nonce, aad,
                                            sizeof(aad), in, out, tag);
}

/* MB/s of fn over `secs`, the median of three runs; -1 on error. */
static double aead_speed(aead_fn fn, void *ctx, double secs) {
  static uint8_t in[AEAD_BUF], out[AEAD_BUF];
  memset(in, 0xa5, sizeof(in));
  double runs[3];
  uint64_t ctr = 0;
  for (int r = 0; r < 3; r++) {
    uint64_t bytes = 0;
    double t0 = now_s(), t;
    do {
      for (int k = 0; k < 16; k++) {
        if (fn(ctx, ++ctr, in, out) != 0) return -1;
        bytes += AEAD_BUF;
      }
      t = now_s();
    } while (t - t0 < secs);
    runs[r] = (double)bytes / (t - t0) / 1e6;
  }
  qsort(runs, 3, sizeof(runs[0]), cmp_double);
  return runs[1];
}

static void bench_cipher(void) {
  double secs = opt.quick ? 0.1 : 0.7;
  uint8_t key[32];
  for (size_t i = 0; i < sizeof(key); i++) key[i] = (uint8_t)(i * 7 + 1);
  mbedtls_gcm_context gcm;
  mbedtls_gcm_init(&gcm);
  if (mbedtls_gcm_setkey(&gcm, MBEDTLS_CIPHER_ID_AES, key, 128) == 0)
    fig_gcm = aead_speed(gcm_one, &gcm, secs);
  mbedtls_gcm_free(&gcm);
  if (fig_gcm < 0)
    fail("aes128_gcm_16k", "mbedtls_gcm", 0);
  else
    emit("aes128_gcm_16k", fig_gcm, "MB/s",
         ",\"buffer\":%d,\"op\":\"encrypt+tag\",\"lib\":\"mbedtls %s\","
         "\"reps\":3",
         AEAD_BUF, MBEDTLS_VERSION_STRING);
  mbedtls_chachapoly_context cp;
  mbedtls_chachapoly_init(&cp);
  if (mbedtls_chachapoly_setkey(&cp, key) == 0)
    fig_chacha = aead_speed(chacha_one, &cp, secs);
  mbedtls_chachapoly_free(&cp);
  if (fig_chacha < 0)
    fail("chachapoly_16k", "mbedtls_chachapoly", 0);
  else
    emit("chachapoly_16k", fig_chacha, "MB/s",
         ",\"buffer\":%d,\"op\":\"encrypt+tag\",\"lib\":\"mbedtls %s\","
         "\"reps\":3",
         AEAD_BUF, MBEDTLS_VERSION_STRING);
}

/* ---- setup: certificates, the receiver, the link ------------------------- */

static int write_certs(const char *dir) {
  test_pki pki;
  int rc = pki_init(&pki);
  if (rc == 0) rc = pki_write_files(&pki, dir, "node-a");
  if (rc == 0) rc = pki_write_files(&pki, dir, "node-b");
  pki_free(&pki);
  if (rc != 0)
    fprintf(stderr, "bench_link: writing certificates to %s failed\n", dir);
  return rc;
}

/* The cipher suite two configs agree on, by a handshake in memory. */
static const char *negotiated_suite(tls_config *client, tls_config *server) {
  static char suite[96];
  tls_conn *a = NULL, *b = NULL;
  if (tls_conn_new(&a, client, TLS_CLIENT, NULL) != 0 ||
      tls_conn_new(&b, server, TLS_SERVER, NULL) != 0)
    goto done;
  for (int i = 0; i < 20; i++) {
    int ra = tls_conn_handshake(a), rb = tls_conn_handshake(b);
    if (ra < 0 || rb < 0) break;
    uint8_t *p;
    size_t n;
    if (tls_conn_take_out(a, &p, &n) == 0 && p) {
      tls_conn_feed(b, p, n);
      free(p);
    }
    if (tls_conn_take_out(b, &p, &n) == 0 && p) {
      tls_conn_feed(a, p, n);
      free(p);
    }
    if (ra == 0 && rb == 0) {
      snprintf(suite, sizeof(suite), "%s", tls_conn_ciphersuite(a));
      break;
    }
  }
done:
  tls_conn_free(a);
  tls_conn_free(b);
  return suite;
}

/* Execs this binary as the receiver; reads its two ports. */
static int spawn_server(cli *c, const char *dir) {
  char line[64];
  pid_t pid = bench_child_spawn("bench_link", dir, line, sizeof(line));
  if (pid < 0) return -1;
  c->child = pid;
  return sscanf(line, "%d %d", &c->link_port, &c->tcp_port) == 2 ? 0 : -1;
}

static bool link_up(cli *c) {
  if (!c->lk) return false;
  link_stats st;
  link_get_stats(c->lk, &st);
  return st.state == LINK_UP;
}

static int connect_link(cli *c) {
  link_config lc = {.loop = &c->loop,
                    .tls = c->tls,
                    .node_name = "node-a",
                    .incarnation = (uint64_t)getpid(),
                    .queue_max_bytes = opt.queue_bytes,
                    .ops = {.on_envelope = cli_on_envelope},
                    .user = c};
  int rc = link_mgr_new(&c->m, &lc);
  if (rc != 0) return rc;
  char addr[64];
  snprintf(addr, sizeof(addr), "127.0.0.1:%d", c->link_port);
  rc = link_open(c->m, "node-b", addr, &c->lk);
  if (rc != 0) return rc;
  double deadline = now_s() + 20;
  while (!link_up(c) && keep_waiting(c, deadline))
    uv_run(&c->loop, UV_RUN_ONCE);
  return link_up(c) ? 0 : TR_ETIMEDOUT;
}

static void stop_server(cli *c) {
  if (c->lk && link_up(c)) {
    send_ctl(c, "quit", NULL, 0);
    for (int i = 0; i < 20; i++) uv_run(&c->loop, UV_RUN_NOWAIT);
  }
  int status;
  for (int i = 0; i < 100; i++) { /* 5 s, then SIGKILL */
    if (waitpid(c->child, &status, WNOHANG) != 0) return;
    usleep(50000);
    uv_run(&c->loop, UV_RUN_NOWAIT);
  }
  kill(c->child, SIGKILL);
  waitpid(c->child, &status, 0);
}

static void rm_dir(const char *dir) {
  static const char *const files[] = {"ca.pem", "node-a.pem", "node-a.key",
                                      "node-b.pem", "node-b.key"};
  char p[1024];
  for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
    snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
    unlink(p);
  }
  rmdir(dir);
}

/* ---- main ---------------------------------------------------------------- */

static void usage(void) {
  fprintf(stderr,
          "usage: bench_link [--quick] [--only cipher,tcp,rtt,oneway64,"
          "oneway4k]\n"
          "                  [--reps R] [--messages N] [--messages-4k N]\n"
          "                  [--samples N]\n"
          "                  [--batch B] [--queue-bytes N]\n"
          "       bench_link --write-certs DIR\n");
  exit(2);
}

static uint64_t arg_u64(int argc, char **argv, int *i) {
  if (*i + 1 >= argc) usage();
  char *end;
  unsigned long long v = strtoull(argv[++*i], &end, 10);
  if (*end != '\0' || v == 0) usage();
  return v;
}

static void print_ratios(void) {
  char extra[160];
  if (fig_4k_mbps > 0 && fig_gcm > 0) {
    double v = fig_4k_mbps / fig_gcm;
    snprintf(extra, sizeof(extra),
             ",\"link_4k_mbps\":%.1f,\"aes128_gcm_mbps\":%.1f", fig_4k_mbps,
             fig_gcm);
    emit_check("ratio_link_4k_vs_aes_gcm", v, ">=0.5", v >= 0.5, extra);
  }
  if (fig_4k_mbps > 0 && fig_chacha > 0) {
    double v = fig_4k_mbps / fig_chacha;
    char vs[64];
    fmt_num(vs, sizeof(vs), v);
    printf("{\"name\":\"ratio_link_4k_vs_chachapoly\",\"value\":%s,"
           "\"link_4k_mbps\":%.1f,\"chachapoly_mbps\":%.1f}\n",
           vs, fig_4k_mbps, fig_chacha);
  }
  if (fig_rtt_p50 > 0 && fig_tcp_p50 > 0) {
    double v = fig_rtt_p50 / fig_tcp_p50;
    snprintf(extra, sizeof(extra),
             ",\"link_rtt_p50_us\":%.1f,\"tcp_rtt_p50_us\":%.1f", fig_rtt_p50,
             fig_tcp_p50);
    emit_check("ratio_link_rtt_p50_vs_tcp", v, "<=1.5", v <= 1.5, extra);
  }
  fflush(stdout);
}

int main(int argc, char **argv) {
  const char *serve_dir = NULL, *certs_dir = NULL;
  int serve_fd = -1;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0) {
      opt.quick = true;
    } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
      opt.only = argv[++i];
    } else if (strcmp(argv[i], "--messages") == 0) {
      opt.messages = arg_u64(argc, argv, &i);
    } else if (strcmp(argv[i], "--messages-4k") == 0) {
      opt.messages_4k = arg_u64(argc, argv, &i);
    } else if (strcmp(argv[i], "--reps") == 0) {
      uint64_t v = arg_u64(argc, argv, &i);
      opt.reps = v > MAX_REPS ? MAX_REPS : (int)v;
    } else if (strcmp(argv[i], "--samples") == 0) {
      opt.samples = arg_u64(argc, argv, &i);
    } else if (strcmp(argv[i], "--batch") == 0) {
      opt.batch = arg_u64(argc, argv, &i);
    } else if (strcmp(argv[i], "--queue-bytes") == 0) {
      opt.queue_bytes = (size_t)arg_u64(argc, argv, &i);
    } else if (strcmp(argv[i], "--write-certs") == 0 && i + 1 < argc) {
      certs_dir = argv[++i];
    } else if (strcmp(argv[i], "--serve") == 0 && i + 1 < argc) {
      serve_dir = argv[++i];
    } else if (strcmp(argv[i], "--fd") == 0 && i + 1 < argc) {
      serve_fd = atoi(argv[++i]);
    } else {
      usage();
    }
  }
  if (certs_dir) return write_certs(certs_dir) == 0 ? 0 : 1;
  if (serve_dir) {
    if (serve_fd < 0) usage();
    return serve_main(serve_dir, serve_fd);
  }
  if (opt.reps == 0) opt.reps = opt.quick ? 1 : 3;
  if (opt.only) { /* every name in the list must be a figure group */
    static const char *const groups[] = {"cipher", "tcp", "rtt", "oneway64",
                                         "oneway4k"};
    for (const char *p = opt.only; *p;) {
      size_t len = strcspn(p, ",");
      bool known = false;
      for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++)
        known |= strlen(groups[g]) == len && memcmp(groups[g], p, len) == 0;
      if (!known) usage();
      p += len + (p[len] == ',');
    }
  }
  signal(SIGPIPE, SIG_IGN);

  /* The bounds first, while nothing else runs. */
  if (selected("cipher")) bench_cipher();
  if (!selected("tcp") && !selected("rtt") && !selected("oneway64") &&
      !selected("oneway4k"))
    return failures ? 1 : 0;

  char dir[] = "/tmp/bench_link.XXXXXX";
  if (!mkdtemp(dir)) {
    fail("setup", "mkdtemp", 0);
    return 1;
  }
  static cli c;
  uv_loop_init(&c.loop);
  uv_loop_configure(&c.loop, UV_METRICS_IDLE_TIME);
  uv_timer_init(&c.loop, &c.tick);
  uv_timer_start(&c.tick, on_tick, 100, 100);
  int rc = 0;
  tls_config *peer_tls = NULL;
  if (write_certs(dir) != 0 || tls_from_dir(&c.tls, dir, "node-a") != 0) {
    fail("setup", "certificates", 0);
    rm_dir(dir);
    return 1;
  }
  if (tls_from_dir(&peer_tls, dir, "node-b") == 0) {
    tls_suite = negotiated_suite(c.tls, peer_tls);
    tls_config_free(peer_tls);
  }
  if (spawn_server(&c, dir) != 0) {
    fail("setup", "receiver process did not start", 0);
    rc = 1;
  } else if ((rc = connect_link(&c)) != 0) {
    fail("setup", "link to the receiver did not come up", rc);
    rc = 1;
  } else {
    if ((selected("tcp") || selected("rtt")) && child_alive(&c))
      bench_latency(&c, selected("tcp"), selected("rtt"));
    if (selected("oneway64") && child_alive(&c)) bench_oneway64(&c);
    if (selected("oneway4k") && child_alive(&c)) bench_oneway4k(&c);
    if (!child_alive(&c)) fail("receiver", "receiver process died", 0);
  }
  if (c.child > 0) stop_server(&c);
  rm_dir(dir);
  print_ratios();
  link_mgr_free(c.m);
  uv_close((uv_handle_t *)&c.tick, NULL);
  uv_run(&c.loop, UV_RUN_DEFAULT);
  uv_loop_close(&c.loop);
  tls_config_free(c.tls);
  return failures || rc ? 1 : 0;
}
