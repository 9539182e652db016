/* test_link.c — links between two (or three) link managers on one loop over
 * real TLS on loopback: ordering, batching, every refused certificate, every
 * kind of malformed input, a flapping connection, back-pressure, peer
 * restarts, the resume window, simultaneous dials, TLS session resume, and
 * seed attempts with what they report when they fail. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pb_decode.h>

#include "link.h"
#include "link_int.h"
#include "pki.h"

#define assert_tr(expected, actual)                                         \
  do {                                                                      \
    int e_ = (expected), a_ = (actual);                                     \
    if (e_ != a_) fail_msg("expected %s (%d), got %s (%d)", tr_errname(e_), \
                           e_, tr_errname(a_), a_);                         \
  } while (0)

/* What on_seed_failed said last, copied (its strings live for the call). */
typedef struct seed_report {
  int calls;
  char addr[64];
  link_seed_failure why; /* its strings point at the copies below */
  char uv_name[32], uv_message[128], detail[512];
} seed_report;

typedef struct node {
  const char *name;
  tls_config *tls;
  link_mgr *m;
  int port;
  char addr[64];
  uint64_t got, next, bad_order;
  uint64_t undeliverable, undeliverable_asks;
  int ups, downs;
  int frames, accepts;   /* cluster frames in (on_frame), on_accept calls */
  int rooms;             /* on_room calls */
  uint64_t frame_nonces; /* sum of the nonces of the frames in */
  seed_report seed;      /* on_seed_failed */
} node;

typedef struct fixture {
  uv_loop_t loop;
  uv_timer_t tick; /* wakes the loop so bounded waits can look at the clock */
  test_pki pki;
} fixture;

static void on_envelope(void *user, peer_link *lk, const wire_envelope *e) {
  node *n = user;
  uint64_t v = 0;
  if (e->payload.len >= sizeof(v)) memcpy(&v, e->payload.p, sizeof(v));
  if (v != n->next) n->bad_order++;
  n->next = v + 1;
  n->got++;
}

static void on_state(void *user, peer_link *lk, link_state s) {
  node *n = user;
  if (s == LINK_UP) n->ups++;
  if (s == LINK_DOWN) n->downs++;
}

static void on_undeliverable(void *user, peer_link *lk, const wire_envelope *e,
                             int reason) {
  node *n = user;
  assert_int_equal(TR_EUNREACHABLE, reason);
  n->undeliverable++;
  if (e->type == TR_MSG_ASK) n->undeliverable_asks++;
}

static void on_frame(void *user, peer_link *lk, troupe_FrameKind kind,
                     const uint8_t *body, size_t len) {
  node *n = user;
  assert_int_equal(troupe_FrameKind_FRAME_SWIM, kind);
  troupe_Ping p = troupe_Ping_init_zero;
  pb_istream_t in = pb_istream_from_buffer(body, len);
  assert_true(pb_decode(&in, troupe_Ping_fields, &p));
  n->frames++;
  n->frame_nonces += p.nonce;
}

static void on_accept(void *user, peer_link *lk) { ((node *)user)->accepts++; }
static void on_room(void *user, peer_link *lk) {
  (void)lk;
  ((node *)user)->rooms++;
}

static void on_seed_failed(void *user, const char *addr,
                           const link_seed_failure *why) {
  seed_report *r = &((node *)user)->seed;
  r->calls++;
  snprintf(r->addr, sizeof(r->addr), "%s", addr);
  snprintf(r->uv_name, sizeof(r->uv_name), "%s", why->uv_error_name);
  snprintf(r->uv_message, sizeof(r->uv_message), "%s", why->uv_error_message);
  snprintf(r->detail, sizeof(r->detail), "%s", why->tls_detail);
  r->why = *why;
  r->why.uv_error_name = r->uv_name;
  r->why.uv_error_message = r->uv_message;
  r->why.tls_detail = r->detail;
}

/* TR_TEST_LOG=1 prints the links' log lines. */
static void test_log(void *user, tr_log_level level, const char *event,
                     const char *fields) {
  fprintf(stderr, "  [%s] %s %s\n", (const char *)user, event, fields);
}

static void node_start_cfg(fixture *f, node *n, const char *name,
                           pki_kind kind, const char *cert_name,
                           link_config *over) {
  int port = n->port; /* a restarted node asks for its old port */
  memset(n, 0, sizeof(*n));
  n->port = port;
  snprintf(n->addr, sizeof(n->addr), "127.0.0.1:%d", port);
  n->name = name;
  n->tls = pki_tls(&f->pki, cert_name ? cert_name : name, kind);
  assert_non_null(n->tls);
  link_config c = over ? *over : (link_config){0};
  c.loop = &f->loop;
  c.tls = n->tls;
  c.node_name = name;
  c.incarnation = 1;
  if (!c.reconnect_min_ms) c.reconnect_min_ms = 5;
  if (!c.reconnect_max_ms) c.reconnect_max_ms = 50;
  if (!c.handshake_timeout_ms) c.handshake_timeout_ms = 2000;
  c.ops = (link_ops){.on_envelope = on_envelope, .on_state = on_state,
                     .on_undeliverable = on_undeliverable,
                     .on_frame = on_frame, .on_accept = on_accept,
                     .on_room = on_room, .on_seed_failed = on_seed_failed};
  c.user = n;
  if (getenv("TR_TEST_LOG")) {
    c.log = test_log;
    c.log_user = (void *)name;
    c.log_level = TR_LOG_DEBUG;
  }
  assert_tr(0, link_mgr_new(&n->m, &c));
  assert_tr(0, link_mgr_listen(n->m, n->port ? n->addr : "127.0.0.1:0"));
  n->port = link_mgr_port(n->m);
  snprintf(n->addr, sizeof(n->addr), "127.0.0.1:%d", n->port);
}

static void node_start(fixture *f, node *n, const char *name) {
  n->port = 0;
  node_start_cfg(f, n, name, PKI_GOOD, NULL, NULL);
}

static void run_ms(fixture *f, int ms) {
  uint64_t end = uv_now(&f->loop) + (uint64_t)ms;
  while (uv_now(&f->loop) < end) uv_run(&f->loop, UV_RUN_ONCE);
}

/* Runs the loop until cond(arg) or max_ms passed; returns cond's value. */
static bool run_until(fixture *f, bool (*cond)(void *), void *arg, int max_ms) {
  uint64_t end = uv_now(&f->loop) + (uint64_t)max_ms;
  for (int i = 0; i < 1000000 && !cond(arg); i++) {
    if (uv_now(&f->loop) >= end) break;
    uv_run(&f->loop, UV_RUN_ONCE);
  }
  return cond(arg);
}

static void node_stop(fixture *f, node *n) {
  link_mgr_free(n->m);
  n->m = NULL;
  run_ms(f, 20); /* close callbacks */
  tls_config_free(n->tls);
  n->tls = NULL;
}

static void on_tick(uv_timer_t *t) { (void)t; }

static int setup(void **state) {
  fixture *f = calloc(1, sizeof(*f));
  if (!f || uv_loop_init(&f->loop) != 0 || pki_init(&f->pki) != 0) return -1;
  uv_timer_init(&f->loop, &f->tick);
  uv_timer_start(&f->tick, on_tick, 5, 5);
  *state = f;
  return 0;
}

/* After a failed assertion a test leaves its nodes behind: close whatever
 * is still open (leaking their memory) so the next test starts clean. */
static void close_leftover(uv_handle_t *h, void *arg) {
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

static int teardown(void **state) {
  fixture *f = *state;
  uv_close((uv_handle_t *)&f->tick, NULL);
  uv_run(&f->loop, UV_RUN_NOWAIT);
  uv_walk(&f->loop, close_leftover, NULL);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  int rc = uv_loop_close(&f->loop);
  pki_free(&f->pki);
  free(f);
  return rc == 0 ? 0 : -1;
}

static wire_envelope env_n(uint64_t *counter, const char *target) {
  return (wire_envelope){
      .type = TR_MSG_SEND,
      .sender = {(const uint8_t *)"src", 3},
      .target = {(const uint8_t *)target, strlen(target)},
      .payload = {(const uint8_t *)counter, 64}, /* counter + 56 bytes */
  };
}

/* Sends envelopes numbered from *sent up to total, as fast as the link
 * accepts them. */
static void pump(peer_link *lk, uint64_t *sent, uint64_t total) {
  uint64_t buf[8] = {0};
  while (*sent < total) {
    buf[0] = *sent;
    wire_envelope e = env_n(buf, "sink");
    int rc = link_send(lk, &e);
    if (rc == TR_EFULL) return;
    assert_tr(0, rc);
    (*sent)++;
  }
}

typedef struct pair {
  node *n;
  uint64_t want;
} pair;

static bool got_at_least(void *arg) {
  pair *p = arg;
  return p->n->got >= p->want;
}

static bool link_is_up(void *arg) {
  return ((peer_link *)arg)->state == LINK_UP;
}

static bool link_has_room(void *arg) { return !link_full(arg); }

/* ---- ordering and batching ---------------------------------------------- */

static void hundred_thousand_envelopes_arrive_in_order(void **state) {
  fixture *f = *state;
  node a = {0}, b = {0};
  node_start(f, &a, "node-a");
  node_start(f, &b, "node-b");
  peer_link *lk;
  assert_tr(0, link_open(a.m, "node-b", b.addr, &lk));
  uint64_t sent = 0;
  pump(lk, &sent, 100000);
  pair p = {&b, 100000};
  assert_true(run_until(f, got_at_least, &p, 20000));
  assert_int_equal(100000, b.got);
  assert_int_equal(0, b.bad_order);
  link_stats st;
  link_get_stats(lk, &st);
  assert_int_equal(100000, st.envelopes_out);
  /* Batching: far fewer socket writes than envelopes. */
  assert_true(st.writes < 100000 / 50);
  peer_link *back = link_find(b.m, "node-a");
  assert_non_null(back);
  link_stats bst;
  link_get_stats(back, &bst);
  assert_int_equal(100000, bst.envelopes_in);
  assert_int_equal(0, bst.duplicates_dropped);
  /* A ping goes out when the link comes up: there is an RTT figure. */
  assert_true(st.rtt_us > 0);
  assert_true(st.bytes_out > 100000 * 64);
  assert_int_equal(1, st.connects);
  node_stop(f, &a);
  node_stop(f, &b);
}

/* A full queue refuses (TR_EFULL, nothing queued); once the peer's acks
 * have drained it below half, on_room says so, once. The hello told each
 * side that the other speaks credit. */
static void a_full_queue_says_when_it_has_room_again(void **state) {
  fixture *f = *state;
  node a = {0}, b = {0};
  link_config small = {.queue_max_frames = 16};
  a.port = 0;
  node_start_cfg(f, &a, "node-a", PKI_GOOD, NULL, &small);
  node_start(f, &b, "node-b");
  peer_link *lk;
  assert_tr(0, link_open(a.m, "node-b", b.addr, &lk));
  assert_true(run_until(f, link_is_up, lk, 5000));
  assert_true(link_peer_speaks(lk, WIRE_FEATURE_CREDIT));
  assert_false(link_full(lk));
  uint64_t sent = 0;
  pump(lk, &sent, 100);
  assert_int_equal(16, sent); /* the rest refused */
  assert_true(link_full(lk));
  assert_int_equal(0, a.rooms);
  pair p = {&b, 16};
  assert_true(run_until(f, got_at_least, &p, 5000));
  assert_true(run_until(f, link_has_room, lk, 5000));
  assert_int_equal(1, a.rooms);
  pump(lk, &sent, 20);
  assert_int_equal(20, sent);
  node_stop(f, &a);
  node_stop(f, &b);
}

static void a_single_small_envelope_leaves_without_waiting_for_a_timer(
    void **state) {
  fixture *f = *state;
  node a = {0}, b = {0};
  link_config slow_ping = {.ping_interval_ms = 60000};
  node_start_cfg(f, &a, "node-a", PKI_GOOD, NULL, &slow_ping);
  node_start_cfg(f, &b, "node-b", PKI_GOOD, NULL, &slow_ping);
  peer_link *lk;
  assert_tr(0, link_open(a.m, "node-b", b.addr, &lk));
  assert_true(run_until(f, link_is_up, lk, 5000));
  uint64_t v[8] = {0};
  wire_envelope e = env_n(v, "sink");
  assert_tr(0, link_send(lk, &e));
  pair p = {&b, 1};
  /* No timer of the link is due for a minute: only the end-of-iteration
   * flush can deliver this. */
  assert_true(run_until(f, got_at_least, &p, 1000));
  node_stop(f, &a);
  node_stop(f, &b);
}

typedef struct two_links {
  peer_link *a_to_b;
  node *b;
} two_links;

/* Each side's first ping answered: both links have an RTT figure. */
static bool both_have_rtt(void *arg) {
  two_links *t = arg;
  peer_link *back = link_find(t->b->m, "node-a");
  if (!back) return false;
  link_stats sa, sb;
  link_get_stats(t->a_to_b, &sa);
  link_get_stats(back, &sb);
  return sa.rtt_us > 0 && sb.rtt_us > 0;
}

/* A node's link pings when it comes up, then only with frames it writes
 * anyway, at most once a ping interval: an idle link writes nothing (an
 * idle node in a full mesh woke for every link every second). */
static void an_idle_node_link_writes_nothing_and_pings_ride_traffic(
    void **state) {
  fixture *f = *state;
  node a = {0}, b = {0};
  link_config fast_ping = {.ping_interval_ms = 50};
  node_start_cfg(f, &a, "node-a", PKI_GOOD, NULL, &fast_ping);
  node_start_cfg(f, &b, "node-b", PKI_GOOD, NULL, &fast_ping);
  peer_link *lk;
  assert_tr(0, link_open(a.m, "node-b", b.addr, &lk));
  assert_true(run_until(f, link_is_up, lk, 5000));
  two_links both = {lk, &b};
  assert_true(run_until(f, both_have_rtt, &both, 5000));
  run_ms(f, 100);
  link_stats s0, s1;
  link_get_stats(lk, &s0);
  run_ms(f, 400); /* eight ping intervals, nothing to send */
  link_get_stats(lk, &s1);
  assert_int_equal(s0.frames_out, s1.frames_out);
  assert_int_equal(s0.frames_in, s1.frames_in);
  assert_int_equal(s0.writes, s1.writes);
  /* Traffic again: one envelope now and one a few intervals later each
   * carry a ping (and bring a pong back), no more. */
  uint64_t v[8] = {0};
  wire_envelope e = env_n(v, "sink");
  assert_tr(0, link_send(lk, &e));
  pair p = {&b, 1};
  assert_true(run_until(f, got_at_least, &p, 1000));
  run_ms(f, 150);
  e = env_n(v, "sink");
  assert_tr(0, link_send(lk, &e));
  p.want = 2;
  assert_true(run_until(f, got_at_least, &p, 1000));
  run_ms(f, 100);
  link_stats s2;
  link_get_stats(lk, &s2);
  assert_int_equal(2, s2.envelopes_out - s1.envelopes_out);
  /* Two envelopes, two pings; the acks the peer owes may add frames in,
   * but out there is nothing else. */
  assert_int_equal(4, s2.frames_out - s1.frames_out);
  node_stop(f, &a);
  node_stop(f, &b);
}

static void oversized_envelope_fails_at_the_caller(void **state) {
  fixture *f = *state;
  node a = {0}, b = {0};
  link_config small = {.max_frame = 4096};
  node_start_cfg(f, &a, "node-a", PKI_GOOD, NULL, &small);
  node_start(f, &b, "node-b");
  peer_link *lk;
  assert_tr(0, link_open(a.m, "node-b", b.addr, &lk));
  static uint8_t big[8192];
  wire_envelope e = {.target = {(const uint8_t *)"t", 1},
                     .payload = {big, sizeof(big)}};
  assert_tr(TR_ETOOBIG, link_send(lk, &e));
  link_stats st;
  link_get_stats(lk, &st);
  assert_int_equal(0, st.queued);
  node_stop(f, &a);
  node_stop(f, &b);
}

/* ---- certificates -------------------------------------------------------- */

typedef struct fail_wait {
  node *n;
  tls_fail why;
} fail_wait;

static bool tls_failed(void *arg) {
  fail_wait *w = arg;
  link_mgr_stats st;
  link_mgr_get_stats(w->n->m, &st);
  return st.tls_fail[w->why] > 0;
}

/* node-a (certificate kind dk for name dcert) dials node-b (lk_kind,
 * lcert); the dialer or the listener is expected to refuse, for `why`. */
static void refused(fixture *f, pki_kind dk, const char *dcert, pki_kind lk_kind,
                    const char *lcert, bool dialer_judges, tls_fail why) {
  node a = {0}, b = {0};
  node_start_cfg(f, &a, "node-a", dk, dcert, NULL);
  node_start_cfg(f, &b, "node-b", lk_kind, lcert, NULL);
  peer_link *lk;
  assert_tr(0, link_open(a.m, "node-b", b.addr, &lk));
  fail_wait w = {dialer_judges ? &a : &b, why};
  assert_true(run_until(f, tls_failed, &w, 5000));
  run_ms(f, 50);
  assert_int_not_equal(LINK_UP, lk->state);
  assert_int_equal(0, dialer_judges ? a.ups : b.ups);
  node_stop(f, &a);
  node_stop(f, &b);
}

static void server_certificate_from_another_ca_is_refused(void **state) {
  refused(*state, PKI_GOOD, NULL, PKI_OTHER_CA, NULL, true, TLS_FAIL_UNTRUSTED);
}

static void client_certificate_from_another_ca_is_refused(void **state) {
  refused(*state, PKI_OTHER_CA, NULL, PKI_GOOD, NULL, false,
          TLS_FAIL_UNTRUSTED);
}

static void expired_certificate_is_refused(void **state) {
  refused(*state, PKI_EXPIRED, NULL, PKI_GOOD, NULL, false, TLS_FAIL_EXPIRED);
  refused(*state, PKI_GOOD, NULL, PKI_EXPIRED, NULL, true, TLS_FAIL_EXPIRED);
}

static void certificate_of_another_node_is_refused(void **state) {
  /* node-a presents a valid certificate for node-x but claims node-a. */
  refused(*state, PKI_GOOD, "node-x", PKI_GOOD, NULL, false,
          TLS_FAIL_NAME_MISMATCH);
  /* The listener is node-b by name but its certificate says node-y. */
  refused(*state, PKI_GOOD, NULL, PKI_GOOD, "node-y", true,
          TLS_FAIL_NAME_MISMATCH);
}

/* A raw TCP client: connects, writes some bytes (or nothing), and notes
 * when the server hangs up. */
typedef struct raw_client {
  uv_tcp_t tcp;
  uv_connect_t req;
  uv_write_t wreq;
  const char *say;
  bool connected, closed;
  char rbuf[4096];
} raw_client;

static void raw_on_close(uv_handle_t *h) { ((raw_client *)h->data)->closed = true; }

static void raw_alloc(uv_handle_t *h, size_t s, uv_buf_t *b) {
  raw_client *r = h->data;
  *b = uv_buf_init(r->rbuf, sizeof(r->rbuf));
}

static void raw_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  if (n < 0) uv_close((uv_handle_t *)s, raw_on_close);
}

static void raw_on_connect(uv_connect_t *req, int status) {
  raw_client *r = req->data;
  assert_int_equal(0, status);
  r->connected = true;
  uv_read_start((uv_stream_t *)&r->tcp, raw_alloc, raw_read);
  if (r->say) {
    uv_buf_t b = uv_buf_init((char *)r->say, (unsigned)strlen(r->say));
    uv_write(&r->wreq, (uv_stream_t *)&r->tcp, &b, 1, NULL);
  }
}

static void raw_connect(fixture *f, raw_client *r, int port, const char *say) {
  memset(r, 0, sizeof(*r));
  r->say = say;
  uv_tcp_init(&f->loop, &r->tcp);
  r->tcp.data = r;
  r->req.data = r;
  struct sockaddr_in sa;
  uv_ip4_addr("127.0.0.1", port, &sa);
  assert_int_equal(0, uv_tcp_connect(&r->req, &r->tcp,
                                     (const struct sockaddr *)&sa,
                                     raw_on_connect));
}

static bool raw_closed(void *arg) { return ((raw_client *)arg)->closed; }

static void deliver_one(fixture *f, node *from, node *to) {
  peer_link *lk;
  assert_tr(0, link_open(from->m, to->name, to->addr, &lk));
  uint64_t v[8] = {to->next};
  wire_envelope e = env_n(v, "sink");
  assert_tr(0, link_send(lk, &e));
  pair p = {to, to->got + 1};
  assert_true(run_until(f, got_at_least, &p, 5000));
}

static void plaintext_client_is_refused_and_the_node_keeps_serving(
    void **state) {
  fixture *f = *state;
  node a = {0}, b = {0};
  node_start(f, &a, "node-a");
  node_start(f, &b, "node-b");
  raw_client r;
  raw_connect(f, &r, b.port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_true(run_until(f, raw_closed, &r, 5000));
  link_mgr_stats st;
  link_mgr_get_stats(b.m, &st);
  assert_int_equal(1, st.tls_fail[TLS_FAIL_NOT_TLS]);
  assert_int_equal(1, st.closed[LINK_CLOSE_TLS]);
  deliver_one(f, &a, &b);
  node_stop(f, &a);
  node_stop(f, &b);
}

static void silent_client_is_dropped_at_the_handshake_timeout(void **state) {
  fixture *f = *state;
  node b = {0};
  link_config quick = {.handshake_timeout_ms = 100};
  node_start_cfg(f, &b, "node-b", PKI_GOOD, NULL, &quick);
  raw_client r;
  raw_connect(f, &r, b.port, NULL);
  assert_true(run_until(f, raw_closed, &r, 5000));
  link_mgr_stats st;
  link_mgr_get_stats(b.m, &st);
  assert_int_equal(1, st.closed[LINK_CLOSE_TIMEOUT]);
  assert_int_equal(1, st.tls_fail[TLS_FAIL_TIMEOUT]);
  node_stop(f, &b);
}

/* ---- malformed input after the handshake ---------------------------------- */

/* A peer with a valid certificate that completes TLS and the hello, then
 * writes chosen plaintext (`frames`) or raw socket bytes (`raw`). */
typedef struct evil {
  uv_tcp_t tcp;
  uv_connect_t req;
  tls_conn *tls;
  const uint8_t *frames;
  size_t nframes;
  const uint8_t *raw;
  size_t nraw;
  bool stop_reading; /* after the hello: a peer that never reads again */
  bool done, closed;
  char rbuf[65536];
} evil;

static void evil_flush(evil *e) {
  uint8_t *buf;
  size_t len;
  assert_int_equal(0, tls_conn_take_out(e->tls, &buf, &len));
  if (!buf) return;
  uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
  assert_int_equal((int)len, uv_try_write((uv_stream_t *)&e->tcp, &b, 1));
  free(buf);
}

static void evil_on_close(uv_handle_t *h) { ((evil *)h->data)->closed = true; }

static void evil_alloc(uv_handle_t *h, size_t s, uv_buf_t *b) {
  evil *e = h->data;
  *b = uv_buf_init(e->rbuf, sizeof(e->rbuf));
}

static void evil_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  evil *e = s->data;
  if (n < 0) {
    uv_close((uv_handle_t *)s, evil_on_close);
    return;
  }
  tls_conn_feed(e->tls, b->base, (size_t)n);
  if (e->done) {
    uint8_t sink[16384];
    while (tls_conn_read(e->tls, sink, sizeof(sink)) > 0) {
    }
    evil_flush(e);
    return;
  }
  int rc = tls_conn_handshake(e->tls);
  evil_flush(e);
  if (rc != 0) return;
  e->done = true;
  troupe_Hello h = troupe_Hello_init_zero;
  h.has_version = h.has_node = h.has_session = true;
  h.version = WIRE_VERSION;
  strcpy(h.node, "node-e");
  h.session = 77;
  uint8_t hb[512];
  int hn = wire_encode_control(hb, sizeof(hb), troupe_FrameKind_FRAME_HELLO, &h);
  assert_true(hn > 0);
  tls_conn_write(e->tls, hb, (size_t)hn);
  if (e->nframes) tls_conn_write(e->tls, e->frames, e->nframes);
  evil_flush(e);
  if (e->nraw) {
    uv_buf_t rb = uv_buf_init((char *)e->raw, (unsigned)e->nraw);
    uv_try_write((uv_stream_t *)&e->tcp, &rb, 1);
  }
  if (e->stop_reading) uv_read_stop(s);
}

static void evil_on_connect(uv_connect_t *req, int status) {
  evil *e = req->data;
  assert_int_equal(0, status);
  uv_read_start((uv_stream_t *)&e->tcp, evil_alloc, evil_read);
  tls_conn_handshake(e->tls);
  evil_flush(e);
}

static void evil_connect(fixture *f, evil *e, tls_config *tls, int port) {
  e->tcp.data = e;
  e->req.data = e;
  assert_int_equal(0, tls_conn_new(&e->tls, tls, TLS_CLIENT, NULL));
  uv_tcp_init(&f->loop, &e->tcp);
  struct sockaddr_in sa;
  uv_ip4_addr("127.0.0.1", port, &sa);
  assert_int_equal(0, uv_tcp_connect(&e->req, &e->tcp,
                                     (const struct sockaddr *)&sa,
                                     evil_on_connect));
}

static bool evil_closed(void *arg) { return ((evil *)arg)->closed; }

/* Sends `frames` (plaintext after the hello) or `raw` socket bytes to
 * node-b and expects it to close that connection for `why`, keep running,
 * deliver nothing from the evil peer, and still serve node-a. */
static void expect_closed_for(fixture *f, const uint8_t *frames, size_t nframes,
                              const uint8_t *raw, size_t nraw,
                              link_close_reason why) {
  node a = {0}, b = {0};
  node_start(f, &a, "node-a");
  node_start(f, &b, "node-b");
  deliver_one(f, &a, &b);
  uint64_t before = b.got;
  tls_config *etls = pki_tls(&f->pki, "node-e", PKI_GOOD);
  evil e;
  memset(&e, 0, sizeof(e));
  e.frames = frames;
  e.nframes = nframes;
  e.raw = raw;
  e.nraw = nraw;
  evil_connect(f, &e, etls, b.port);
  assert_true(run_until(f, evil_closed, &e, 5000));
  link_mgr_stats st;
  link_mgr_get_stats(b.m, &st);
  /* Raw bytes may reach the TLS layer mid-record or as a record of their
   * own: refused as malformed input either way, or as a TLS failure. */
  uint64_t got = st.closed[why];
  if (raw && why == LINK_CLOSE_MALFORMED) got += st.closed[LINK_CLOSE_TLS];
  if (got != 1) {
    char all[512] = "";
    size_t used = 0;
    for (int r = 0; r < LINK_CLOSE_COUNT && used < sizeof(all); r++)
      used += (size_t)snprintf(all + used, sizeof(all) - used, " %s=%llu",
                               link_close_reason_name((link_close_reason)r),
                               (unsigned long long)st.closed[r]);
    fail_msg("expected one close for %s, got:%s", link_close_reason_name(why),
             all);
  }
  assert_int_equal(before, b.got);
  deliver_one(f, &a, &b);
  tls_conn_free(e.tls);
  node_stop(f, &a);
  node_stop(f, &b);
  tls_config_free(etls);
}

static size_t envelope_frame(uint8_t *buf, size_t cap, uint64_t seq) {
  uint64_t v[8] = {0};
  wire_envelope env = env_n(v, "sink");
  env.seq = seq;
  int n = wire_encode_envelope(buf, cap, WIRE_MAX_FRAME_DEFAULT, &env);
  assert_true(n > 0);
  return (size_t)n;
}

static void oversized_frame_length_closes_the_connection(void **state) {
  const uint8_t frame[] = {0x7f, 0xff, 0xff, 0xff, 2, 0, 0, 0};
  expect_closed_for(*state, frame, sizeof(frame), NULL, 0, LINK_CLOSE_TOO_BIG);
}

static void empty_frame_closes_the_connection(void **state) {
  const uint8_t frame[] = {0, 0, 0, 0};
  expect_closed_for(*state, frame, sizeof(frame), NULL, 0,
                    LINK_CLOSE_MALFORMED);
}

static void undecodable_envelope_closes_the_connection(void **state) {
  const uint8_t frame[] = {0, 0, 0, 6, 2, 0xff, 0xff, 0xff, 0xff, 0xff};
  expect_closed_for(*state, frame, sizeof(frame), NULL, 0,
                    LINK_CLOSE_MALFORMED);
}

static void unknown_frame_kind_closes_the_connection(void **state) {
  const uint8_t frame[] = {0, 0, 0, 2, 9, 0};
  expect_closed_for(*state, frame, sizeof(frame), NULL, 0,
                    LINK_CLOSE_UNKNOWN_KIND);
}

static void sequence_gap_closes_the_connection(void **state) {
  uint8_t frames[512];
  size_t n = envelope_frame(frames, sizeof(frames), 1);
  n += envelope_frame(frames + n, sizeof(frames) - n, 5);
  /* The first envelope (seq 1) is delivered, the gap is not. */
  node a = {0}, b = {0};
  fixture *f = *state;
  node_start(f, &a, "node-a");
  node_start(f, &b, "node-b");
  tls_config *etls = pki_tls(&f->pki, "node-e", PKI_GOOD);
  evil e;
  memset(&e, 0, sizeof(e));
  e.frames = frames;
  e.nframes = n;
  evil_connect(f, &e, etls, b.port);
  assert_true(run_until(f, evil_closed, &e, 5000));
  link_mgr_stats st;
  link_mgr_get_stats(b.m, &st);
  assert_int_equal(1, st.closed[LINK_CLOSE_SEQ_GAP]);
  assert_int_equal(1, b.got);
  deliver_one(f, &a, &b);
  tls_conn_free(e.tls);
  node_stop(f, &a);
  node_stop(f, &b);
  tls_config_free(etls);
}

static void truncated_frame_then_hangup_delivers_nothing(void **state) {
  uint8_t frame[256];
  size_t n = envelope_frame(frame, sizeof(frame), 1);
  /* Half a frame, then the evil peer's socket closes (EOF, below). */
  fixture *f = *state;
  node a = {0}, b = {0};
  node_start(f, &a, "node-a");
  node_start(f, &b, "node-b");
  tls_config *etls = pki_tls(&f->pki, "node-e", PKI_GOOD);
  evil e;
  memset(&e, 0, sizeof(e));
  e.frames = frame;
  e.nframes = n / 2;
  evil_connect(f, &e, etls, b.port);
  link_mgr_stats st;
  for (int i = 0; i < 400 && !e.done; i++) uv_run(&f->loop, UV_RUN_ONCE);
  assert_true(e.done);
  run_ms(f, 30);
  uv_close((uv_handle_t *)&e.tcp, evil_on_close);
  assert_true(run_until(f, evil_closed, &e, 5000));
  run_ms(f, 30);
  link_mgr_get_stats(b.m, &st);
  assert_int_equal(1, st.closed[LINK_CLOSE_PEER]);
  assert_int_equal(0, b.got);
  deliver_one(f, &a, &b);
  tls_conn_free(e.tls);
  node_stop(f, &a);
  node_stop(f, &b);
  tls_config_free(etls);
}

static void client_without_certificate_is_refused(void **state) {
  fixture *f = *state;
  node a = {0}, b = {0};
  node_start(f, &a, "node-a");
  node_start(f, &b, "node-b");
  tls_config_opts o = {.ca_pem = f->pki.ca_cert};
  tls_config *nocert = NULL;
  char err[256];
  assert_tr(0, tls_config_new(&nocert, &o, err, sizeof(err)));
  evil e;
  memset(&e, 0, sizeof(e));
  evil_connect(f, &e, nocert, b.port);
  assert_true(run_until(f, evil_closed, &e, 5000));
  assert_false(e.done);
  link_mgr_stats st;
  link_mgr_get_stats(b.m, &st);
  assert_int_equal(1, st.tls_fail[TLS_FAIL_NO_CERT]);
  assert_int_equal(1, st.closed[LINK_CLOSE_TLS]);
  deliver_one(f, &a, &b);
  tls_conn_free(e.tls);
  node_stop(f, &a);
  node_stop(f, &b);
  tls_config_free(nocert);
}

static void raw_bytes_inside_the_tls_stream_close_the_connection(void **state) {
  const uint8_t raw[] = "this is not a TLS record at all, just bytes";
  expect_closed_for(*state, NULL, 0, raw, sizeof(raw), LINK_CLOSE_MALFORMED);
}

/* ---- faults: flaps, restarts, back-pressure, the window ------------------- */

typedef struct flap {
  fixture *f;
  node *a, *b;
  peer_link *lk;
  uint64_t sent;
  int drops;
} flap;

static bool flap_step(void *arg) {
  flap *x = arg;
  pump(x->lk, &x->sent, 100000);
  /* Cut the connection at 20k and 50k received (from either side). */
  if ((x->drops == 0 && x->b->got >= 20000) ||
      (x->drops == 1 && x->b->got >= 50000)) {
    if (x->drops == 0)
      link_fault_drop(x->lk);
    else
      link_fault_drop(link_find(x->b->m, "node-a"));
    x->drops++;
  }
  return x->b->got >= 100000;
}

static void link_flap_mid_stream_loses_and_repeats_nothing(void **state) {
  fixture *f = *state;
  node a = {0}, b = {0};
  node_start(f, &a, "node-a");
  node_start(f, &b, "node-b");
  flap x = {f, &a, &b, NULL, 0, 0};
  assert_tr(0, link_open(a.m, "node-b", b.addr, &x.lk));
  assert_true(run_until(f, flap_step, &x, 30000));
  run_ms(f, 50);
  assert_int_equal(2, x.drops);
  assert_int_equal(100000, b.got);
  assert_int_equal(0, b.bad_order);
  assert_int_equal(0, a.undeliverable);
  link_stats st;
  link_get_stats(x.lk, &st);
  assert_true(st.reconnects >= 2);
  assert_true(st.tls_resumes >= 1); /* the reconnect skipped the full handshake */
  node_stop(f, &a);
  node_stop(f, &b);
}

static void peer_that_stops_reading_gets_efull_with_bounded_memory(
    void **state) {
  fixture *f = *state;
  node a = {0};
  link_config small = {.queue_max_bytes = 1u << 20};
  node_start_cfg(f, &a, "node-a", PKI_GOOD, NULL, &small);
  /* The evil peer listens? No: it dials node-a and then never reads, so
   * node-a's link to "node-e" fills up. */
  tls_config *etls = pki_tls(&f->pki, "node-e", PKI_GOOD);
  evil e;
  memset(&e, 0, sizeof(e));
  e.stop_reading = true;
  evil_connect(f, &e, etls, a.port);
  for (int i = 0; i < 2000 && !link_find(a.m, "node-e"); i++)
    uv_run(&f->loop, UV_RUN_ONCE);
  peer_link *lk = link_find(a.m, "node-e");
  assert_non_null(lk);
  assert_true(run_until(f, link_is_up, lk, 5000));
  uint64_t sent = 0;
  int efull = 0;
  for (int round = 0; round < 400 && !efull; round++) {
    uint64_t before = sent;
    pump(lk, &sent, sent + 100000);
    if (sent - before < 100000) efull = 1;
    run_ms(f, 5);
  }
  assert_true(efull);
  link_stats st;
  link_get_stats(lk, &st);
  assert_true(st.queued_bytes <= (1u << 20));
  assert_true(st.rejected_full >= 1);
  /* Draining is not expected: the peer never reads. Nothing was lost
   * silently: what was accepted is still held. */
  assert_int_equal(sent, (uint64_t)st.queued + st.unacked);
  uv_close((uv_handle_t *)&e.tcp, evil_on_close);
  run_until(f, evil_closed, &e, 2000);
  tls_conn_free(e.tls);
  node_stop(f, &a);
  tls_config_free(etls);
}

static void reconnect_after_the_peer_restarts(void **state) {
  fixture *f = *state;
  node a = {0}, b = {0};
  node_start(f, &a, "node-a");
  node_start(f, &b, "node-b");
  peer_link *lk;
  assert_tr(0, link_open(a.m, "node-b", b.addr, &lk));
  uint64_t sent = 0;
  pump(lk, &sent, 1000);
  pair p = {&b, 1000};
  assert_true(run_until(f, got_at_least, &p, 10000));
  run_ms(f, 20); /* acks home */
  int port = b.port;
  node_stop(f, &b);
  run_ms(f, 20);
  assert_int_not_equal(LINK_UP, lk->state);
  /* Sent while the peer is away: they wait for the reconnect. */
  pump(lk, &sent, 1500);
  node b2 = {.port = port};
  node_start_cfg(f, &b2, "node-b", PKI_GOOD, NULL, NULL);
  b2.next = 1000;
  pair p2 = {&b2, 500};
  assert_true(run_until(f, got_at_least, &p2, 10000));
  assert_int_equal(500, b2.got);
  assert_int_equal(0, b2.bad_order);
  assert_int_equal(0, a.undeliverable);
  assert_true(a.ups >= 2);
  node_stop(f, &a);
  node_stop(f, &b2);
}

static bool undeliverable_10(void *arg) {
  return ((node *)arg)->undeliverable >= 10;
}

static void past_the_resume_window_queued_envelopes_are_undeliverable(
    void **state) {
  fixture *f = *state;
  node a = {0}, b = {0};
  link_config win = {.resume_window_ms = 200};
  node_start_cfg(f, &a, "node-a", PKI_GOOD, NULL, &win);
  node_start(f, &b, "node-b");
  peer_link *lk;
  assert_tr(0, link_open(a.m, "node-b", b.addr, &lk));
  assert_true(run_until(f, link_is_up, lk, 5000));
  node_stop(f, &b);
  for (int i = 0; i < 10; i++) {
    uint64_t v[8] = {(uint64_t)i};
    wire_envelope e = env_n(v, "sink");
    if (i < 3) {
      e.type = TR_MSG_ASK;
      e.ask_id = (uint64_t)i + 1;
    }
    assert_tr(0, link_send(lk, &e));
  }
  assert_true(run_until(f, undeliverable_10, &a, 5000));
  assert_int_equal(10, a.undeliverable);
  assert_int_equal(3, a.undeliverable_asks);
  uint64_t v[8] = {0};
  wire_envelope e = env_n(v, "sink");
  assert_tr(TR_EUNREACHABLE, link_send(lk, &e));
  node_stop(f, &a);
}

typedef struct both {
  node *a, *b;
} both;

static bool one_conn_each_and_up(void *arg) {
  both *x = arg;
  link_mgr_stats sa, sb;
  link_mgr_get_stats(x->a->m, &sa);
  link_mgr_get_stats(x->b->m, &sb);
  peer_link *la = link_find(x->a->m, "node-b"), *lb = link_find(x->b->m, "node-a");
  return sa.conns == 1 && sb.conns == 1 && la && lb && la->state == LINK_UP &&
         lb->state == LINK_UP;
}

static void simultaneous_dials_settle_on_one_connection(void **state) {
  fixture *f = *state;
  node a = {0}, b = {0};
  node_start(f, &a, "node-a");
  node_start(f, &b, "node-b");
  peer_link *la, *lb;
  assert_tr(0, link_open(a.m, "node-b", b.addr, &la));
  assert_tr(0, link_open(b.m, "node-a", a.addr, &lb));
  both x = {&a, &b};
  assert_true(run_until(f, one_conn_each_and_up, &x, 5000));
  run_ms(f, 100);
  assert_true(one_conn_each_and_up(&x));
  /* The survivor is the one node-a dialed, on both sides. */
  assert_true(la->active->dialer);
  assert_false(lb->active->dialer);
  deliver_one(f, &a, &b);
  deliver_one(f, &b, &a);
  node_stop(f, &a);
  node_stop(f, &b);
}

/* A node that learns of many peers at once dials max_dials of them at a
 * time, the others as dials end, oldest first; every link comes up, and
 * the waits are counted. */
typedef struct dial_watch {
  node *hub;
  peer_link *links[5];
  uint32_t most_dialing;
} dial_watch;

static bool all_five_up(void *arg) {
  dial_watch *w = arg;
  link_mgr_stats st;
  link_mgr_get_stats(w->hub->m, &st);
  if (st.dialing > w->most_dialing) w->most_dialing = st.dialing;
  for (int i = 0; i < 5; i++)
    if (w->links[i]->state != LINK_UP) return false;
  return true;
}

static bool one_dialing_two_waiting(void *arg) {
  link_mgr_stats st;
  link_mgr_get_stats(((node *)arg)->m, &st);
  return st.dialing == 1 && st.dials_waiting == 2;
}

static bool two_dialing_three_waiting(void *arg) {
  link_mgr_stats st;
  link_mgr_get_stats(((node *)arg)->m, &st);
  return st.dialing == 2 && st.dials_waiting == 3;
}

static void dials_wait_for_a_slot_past_max_dials(void **state) {
  fixture *f = *state;
  node hub = {0}, peers[5] = {{0}};
  static const char *names[5] = {"node-p1", "node-p2", "node-p3", "node-p4",
                                 "node-p5"};
  link_config cfg = {.max_dials = 2};
  node_start_cfg(f, &hub, "node-hub", PKI_GOOD, NULL, &cfg);
  for (int i = 0; i < 5; i++) node_start(f, &peers[i], names[i]);
  dial_watch w = {.hub = &hub};
  for (int i = 0; i < 5; i++)
    assert_tr(0, link_open(hub.m, names[i], peers[i].addr, &w.links[i]));
  /* The dials start on the next turn of the loop: two, three waiting. */
  assert_true(run_until(f, two_dialing_three_waiting, &hub, 2000));
  assert_true(run_until(f, all_five_up, &w, 10000));
  link_mgr_stats st;
  assert_int_equal(2, w.most_dialing);
  link_mgr_get_stats(hub.m, &st);
  assert_int_equal(3, st.dials_waited);
  assert_int_equal(0, st.dialing);
  assert_int_equal(0, st.dials_waiting);
  for (int i = 0; i < 5; i++) deliver_one(f, &hub, &peers[i]);

  /* A link closed while it waits leaves the queue; the others go on. */
  node hub2 = {0};
  cfg.max_dials = 1;
  node_start_cfg(f, &hub2, "node-hub2", PKI_GOOD, NULL, &cfg);
  dial_watch w2 = {.hub = &hub2};
  for (int i = 0; i < 3; i++)
    assert_tr(0, link_open(hub2.m, names[i], peers[i].addr, &w2.links[i]));
  assert_true(run_until(f, one_dialing_two_waiting, &hub2, 2000));
  link_close(w2.links[1]);
  link_mgr_get_stats(hub2.m, &st);
  assert_int_equal(1, st.dials_waiting);
  w2.links[1] = w2.links[0]; /* so the watch below looks at the other two */
  w2.links[3] = w2.links[4] = w2.links[2];
  assert_true(run_until(f, all_five_up, &w2, 10000));
  link_mgr_get_stats(hub2.m, &st);
  assert_int_equal(0, st.dials_waiting);
  assert_int_equal(0, st.dialing);
  assert_int_equal(1, w2.most_dialing);
  node_stop(f, &hub2);
  for (int i = 0; i < 5; i++) node_stop(f, &peers[i]);
  node_stop(f, &hub);
}

/* ---- seeds: frames to an address whose node is not known yet -------------- */

static int send_seed(node *from, const char *addr, uint64_t nonce) {
  troupe_Ping p = {.has_nonce = true, .nonce = nonce};
  return link_send_seed(from->m, addr, troupe_FrameKind_FRAME_SWIM, &p,
                        troupe_Ping_fields);
}

typedef struct frames_wait {
  node *n;
  int want;
} frames_wait;

static bool got_frames(void *arg) {
  frames_wait *w = arg;
  return w->n->frames >= w->want;
}

static link_mgr_stats mgr_stats(node *n) {
  link_mgr_stats st;
  link_mgr_get_stats(n->m, &st);
  return st;
}

static bool seed_counted(void *arg) {
  link_mgr_stats st = mgr_stats(arg);
  return st.seed_failed + st.seed_self > 0 && st.conns == 0;
}

static void frame_reaches_a_seed_address_and_it_becomes_the_peers_link(
    void **state) {
  fixture *f = *state;
  node a = {0}, b = {0};
  node_start(f, &a, "node-a");
  node_start(f, &b, "node-b");
  /* The second frame joins the attempt in progress: one dial. */
  assert_tr(0, send_seed(&a, b.addr, 1));
  assert_tr(0, send_seed(&a, b.addr, 2));
  assert_int_equal(1, mgr_stats(&a).conns);
  assert_null(link_find(a.m, "node-b")); /* unknown until the hello */
  frames_wait w = {&b, 2};
  assert_true(run_until(f, got_frames, &w, 5000));
  assert_int_equal(2, b.frames);
  assert_int_equal(3, b.frame_nonces);
  peer_link *lk = link_find(a.m, "node-b");
  assert_non_null(lk);
  assert_true(run_until(f, link_is_up, lk, 5000));
  assert_string_equal(b.addr, lk->addr); /* it redials the seed address */
  assert_int_equal(1, a.accepts);
  link_mgr_stats st = mgr_stats(&a);
  assert_int_equal(0, st.seed_failed);
  assert_int_equal(0, st.seed_self);
  assert_int_equal(1, st.links);
  assert_int_equal(1, st.conns);
  /* Envelopes flow both ways on it. */
  peer_link *back = link_find(b.m, "node-a");
  assert_non_null(back);
  uint64_t v[8] = {0};
  wire_envelope e = env_n(v, "sink");
  assert_tr(0, link_send(lk, &e));
  pair p = {&b, 1};
  assert_true(run_until(f, got_at_least, &p, 5000));
  assert_tr(0, link_send(back, &e));
  pair q = {&a, 1};
  assert_true(run_until(f, got_at_least, &q, 5000));
  /* And cluster frames through link_send_frame. */
  troupe_Ping ping = {.has_nonce = true, .nonce = 10};
  assert_tr(0, link_send_frame(lk, troupe_FrameKind_FRAME_SWIM, &ping,
                               troupe_Ping_fields));
  frames_wait w3 = {&b, 3};
  assert_true(run_until(f, got_frames, &w3, 5000));
  assert_int_equal(1, mgr_stats(&a).conns);
  assert_int_equal(1, mgr_stats(&b).conns);
  node_stop(f, &a);
  node_stop(f, &b);
}

static void seed_that_is_this_node_is_dropped_and_counted_as_self(
    void **state) {
  fixture *f = *state;
  node a = {0};
  node_start(f, &a, "node-a");
  assert_tr(0, send_seed(&a, a.addr, 1));
  assert_true(run_until(f, seed_counted, &a, 5000));
  run_ms(f, 200); /* no redial */
  link_mgr_stats st = mgr_stats(&a);
  assert_int_equal(1, st.seed_self);
  assert_int_equal(0, st.seed_failed);
  assert_int_equal(0, st.links);
  assert_int_equal(0, st.conns);
  assert_int_equal(0, st.closed[LINK_CLOSE_HELLO]);
  assert_true(st.closed[LINK_CLOSE_SELF] >= 1);
  assert_int_equal(0, a.frames);
  assert_int_equal(0, a.accepts);
  /* The caller retries: the same again. */
  assert_tr(0, send_seed(&a, a.addr, 2));
  for (int i = 0; i < 2000 && mgr_stats(&a).seed_self < 2; i++)
    uv_run(&f->loop, UV_RUN_ONCE);
  assert_int_equal(2, mgr_stats(&a).seed_self);
  node_stop(f, &a);
}

static void seed_nobody_listens_at_fails_once_and_is_not_redialed(
    void **state) {
  fixture *f = *state;
  node gone = {0}, a = {0};
  node_start(f, &gone, "node-x");
  char addr[64];
  snprintf(addr, sizeof(addr), "%s", gone.addr);
  node_stop(f, &gone); /* its port is free now */
  node_start(f, &a, "node-a");
  assert_tr(0, send_seed(&a, addr, 1));
  assert_true(run_until(f, seed_counted, &a, 5000));
  run_ms(f, 300); /* a redial loop would show as more attempts */
  link_mgr_stats st = mgr_stats(&a);
  assert_int_equal(1, st.seed_failed);
  assert_int_equal(0, st.seed_self);
  assert_int_equal(0, st.links);
  assert_int_equal(0, st.conns);
  node_stop(f, &a);
}

static void seed_with_a_bad_address_is_einval(void **state) {
  fixture *f = *state;
  node a = {0};
  node_start(f, &a, "node-a");
  assert_tr(TR_EINVAL, send_seed(&a, "no-port", 1));
  assert_tr(TR_EINVAL, send_seed(&a, ":7000", 1));
  troupe_Ping p = {.has_nonce = true, .nonce = 1};
  assert_tr(TR_EINVAL, link_send_seed(a.m, a.addr, troupe_FrameKind_FRAME_PING,
                                      &p, troupe_Ping_fields));
  assert_int_equal(0, mgr_stats(&a).conns);
  node_stop(f, &a);
}

static bool frames_and_one_conn_each(void *arg) {
  both *x = arg;
  return x->b->frames >= 3 && one_conn_each_and_up(x);
}

/* The seed connection races the link's own: whichever the tie-break keeps,
 * both ends keep the same one, and the frames arrive. */
static void seed_to_a_peer_with_a_link_delivers_and_leaves_one_link(
    fixture *f, bool a_dials) {
  node a = {0}, b = {0};
  node_start(f, &a, "node-a");
  node_start(f, &b, "node-b");
  peer_link *lk;
  if (a_dials) {
    assert_tr(0, link_open(a.m, "node-b", b.addr, &lk));
  } else {
    peer_link *blk;
    assert_tr(0, link_open(b.m, "node-a", a.addr, &blk));
    for (int i = 0; i < 2000 && !link_find(a.m, "node-b"); i++)
      uv_run(&f->loop, UV_RUN_ONCE);
    lk = link_find(a.m, "node-b");
    assert_non_null(lk);
  }
  assert_true(run_until(f, link_is_up, lk, 5000));
  int accepts = a.accepts;
  for (uint64_t i = 1; i <= 3; i++) assert_tr(0, send_seed(&a, b.addr, i));
  both x = {&a, &b};
  assert_true(run_until(f, frames_and_one_conn_each, &x, 5000));
  run_ms(f, 100);
  assert_true(one_conn_each_and_up(&x));
  assert_int_equal(3, b.frames);
  assert_int_equal(6, b.frame_nonces);
  assert_ptr_equal(lk, link_find(a.m, "node-b"));
  assert_int_equal(accepts, a.accepts);
  link_mgr_stats sa = mgr_stats(&a), sb = mgr_stats(&b);
  assert_int_equal(1, sa.links);
  assert_int_equal(1, sb.links);
  assert_int_equal(0, sa.seed_failed);
  /* node-a dialed the seed, so it wins over node-b's dial, on both sides. */
  assert_true(lk->active->dialer);
  assert_false(link_find(b.m, "node-a")->active->dialer);
  assert_string_equal(b.addr, lk->addr); /* learned, if it had none */
  deliver_one(f, &a, &b);
  peer_link *back = link_find(b.m, "node-a");
  uint64_t v[8] = {a.next};
  wire_envelope e = env_n(v, "sink");
  assert_tr(0, link_send(back, &e));
  pair p = {&a, a.got + 1};
  assert_true(run_until(f, got_at_least, &p, 5000));
  assert_int_equal(0, a.undeliverable + b.undeliverable);
  node_stop(f, &a);
  node_stop(f, &b);
}

static void seed_to_a_peer_this_node_dialed_keeps_one_link(void **state) {
  seed_to_a_peer_with_a_link_delivers_and_leaves_one_link(*state, true);
}

static void seed_to_a_peer_that_dialed_this_node_keeps_one_link(void **state) {
  seed_to_a_peer_with_a_link_delivers_and_leaves_one_link(*state, false);
}

static void seed_with_a_certificate_from_another_ca_is_refused(void **state) {
  fixture *f = *state;
  node a = {0}, b = {0};
  node_start(f, &a, "node-a");
  node_start_cfg(f, &b, "node-b", PKI_OTHER_CA, NULL, NULL);
  assert_tr(0, send_seed(&a, b.addr, 1));
  assert_true(run_until(f, seed_counted, &a, 5000));
  run_ms(f, 100);
  link_mgr_stats st = mgr_stats(&a);
  assert_int_equal(1, st.seed_failed);
  assert_int_equal(1, st.tls_fail[TLS_FAIL_UNTRUSTED]);
  assert_int_equal(0, st.links);
  assert_int_equal(0, st.conns);
  assert_int_equal(0, b.frames);
  assert_null(link_find(b.m, "node-a"));
  node_stop(f, &a);
  node_stop(f, &b);
}

/* ---- seed failures, as on_seed_failed reports them ------------------------ */

#define assert_named(name_fn, expected, actual)                              \
  do {                                                                       \
    int e_ = (int)(expected), a_ = (int)(actual);                            \
    if (e_ != a_) fail_msg("expected %s, got %s", name_fn(e_), name_fn(a_)); \
  } while (0)

static const char *refused_by_name(link_refused_by r) {
  return r == LINK_REFUSED_BY_US     ? "refused_by_us"
         : r == LINK_REFUSED_BY_PEER ? "refused_by_peer"
                                     : "refused_by_none";
}

static bool seed_reported(void *arg) { return ((node *)arg)->seed.calls > 0; }

/* Runs until `from` has dropped its seed attempt to addr, and a little
 * longer (a second report would show); what on_seed_failed said. */
static const link_seed_failure *seed_failure(fixture *f, node *from,
                                             const char *addr) {
  assert_true(run_until(f, seed_reported, from, 5000));
  assert_true(run_until(f, seed_counted, from, 5000));
  run_ms(f, 100);
  assert_int_equal(1, from->seed.calls);
  assert_string_equal(addr, from->seed.addr);
  return &from->seed.why;
}

static void assert_seed_failure(const link_seed_failure *why,
                                link_close_reason reason, link_stage stage,
                                tls_fail tls, link_refused_by by) {
  assert_named(link_close_reason_name, reason, why->reason);
  assert_named(link_stage_name, stage, why->stage);
  assert_named(tls_fail_name, tls, why->tls);
  assert_named(refused_by_name, by, why->refused_by);
}

/* An address nobody listens at: the port a node had, once it stopped. */
static void closed_port(fixture *f, char *addr, size_t cap) {
  node gone = {0};
  node_start(f, &gone, "node-x");
  snprintf(addr, cap, "%s", gone.addr);
  node_stop(f, &gone);
}

static void seed_to_a_closed_port_reports_the_connect_error(void **state) {
  fixture *f = *state;
  char addr[64];
  closed_port(f, addr, sizeof(addr));
  node a = {0};
  node_start(f, &a, "node-a");
  assert_tr(0, send_seed(&a, addr, 1));
  const link_seed_failure *why = seed_failure(f, &a, addr);
  assert_seed_failure(why, LINK_CLOSE_IO, LINK_STAGE_CONNECT, TLS_FAIL_NONE,
                      LINK_REFUSED_NONE);
  assert_named(uv_err_name, UV_ECONNREFUSED, why->uv_error);
  assert_string_equal("ECONNREFUSED", why->uv_error_name);
  assert_string_equal(uv_strerror(UV_ECONNREFUSED), why->uv_error_message);
  assert_string_equal("", why->tls_detail);
  node_stop(f, &a);
}

/* node-a (certificate kind ak) seeds node-b (bk, certificate for bcert):
 * the attempt fails for `reason` at `stage`, `tls` refused by `by`, with a
 * detail that says `detail_has`. */
static void seed_refused(fixture *f, pki_kind ak, pki_kind bk,
                         const char *bcert, link_close_reason reason,
                         link_stage stage, tls_fail tls, link_refused_by by,
                         const char *detail_has) {
  node a = {0}, b = {0};
  node_start_cfg(f, &a, "node-a", ak, NULL, NULL);
  node_start_cfg(f, &b, "node-b", bk, bcert, NULL);
  assert_tr(0, send_seed(&a, b.addr, 1));
  const link_seed_failure *why = seed_failure(f, &a, b.addr);
  assert_seed_failure(why, reason, stage, tls, by);
  assert_int_equal(0, why->uv_error);
  assert_string_equal("", why->uv_error_name);
  if (!strstr(why->tls_detail, detail_has))
    fail_msg("detail \"%s\" does not say \"%s\"", why->tls_detail, detail_has);
  assert_int_equal(0, b.frames);
  node_stop(f, &a);
  node_stop(f, &b);
}

static void seed_to_a_node_of_another_ca_reports_that_this_node_refused_it(
    void **state) {
  seed_refused(*state, PKI_GOOD, PKI_OTHER_CA, NULL, LINK_CLOSE_TLS,
               LINK_STAGE_TLS, TLS_FAIL_UNTRUSTED, LINK_REFUSED_BY_US,
               "not correctly signed by the trusted CA");
}

static void seed_from_a_node_of_another_ca_reports_that_the_peer_refused_it(
    void **state) {
  seed_refused(*state, PKI_OTHER_CA, PKI_GOOD, NULL, LINK_CLOSE_TLS,
               LINK_STAGE_TLS, TLS_FAIL_PROTOCOL, LINK_REFUSED_BY_PEER,
               "unknown_ca"); /* the alert it sent */
}

static void seed_whose_hello_names_another_node_than_its_certificate_says(
    void **state) {
  /* The node at the seed address says node-b; its certificate, node-y. */
  seed_refused(*state, PKI_GOOD, PKI_GOOD, "node-y", LINK_CLOSE_HELLO,
               LINK_STAGE_HELLO, TLS_FAIL_NAME_MISMATCH, LINK_REFUSED_BY_US,
               "\"node-y\"");
}

static void seed_that_reaches_this_node_reports_self(void **state) {
  fixture *f = *state;
  node a = {0};
  node_start(f, &a, "node-a");
  assert_tr(0, send_seed(&a, a.addr, 1));
  const link_seed_failure *why = seed_failure(f, &a, a.addr);
  assert_seed_failure(why, LINK_CLOSE_SELF, LINK_STAGE_HELLO, TLS_FAIL_NONE,
                      LINK_REFUSED_NONE);
  assert_int_equal(1, mgr_stats(&a).seed_self);
  node_stop(f, &a);
}

/* A listener that accepts and never says a word. */
typedef struct mute {
  uv_tcp_t listener, conn;
  bool accepted;
} mute;

static void mute_on_connection(uv_stream_t *s, int status) {
  mute *x = s->data;
  assert_int_equal(0, status);
  uv_tcp_init(s->loop, &x->conn);
  assert_int_equal(0, uv_accept(s, (uv_stream_t *)&x->conn));
  x->accepted = true;
}

static void seed_to_a_silent_node_reports_the_tls_timeout(void **state) {
  fixture *f = *state;
  mute x = {0};
  uv_tcp_init(&f->loop, &x.listener);
  x.listener.data = &x;
  struct sockaddr_in sa;
  uv_ip4_addr("127.0.0.1", 0, &sa);
  assert_int_equal(0, uv_tcp_bind(&x.listener, (const struct sockaddr *)&sa, 0));
  assert_int_equal(0, uv_listen((uv_stream_t *)&x.listener, 8,
                                mute_on_connection));
  int len = sizeof(sa);
  assert_int_equal(0, uv_tcp_getsockname(&x.listener, (struct sockaddr *)&sa,
                                         &len));
  char addr[64];
  snprintf(addr, sizeof(addr), "127.0.0.1:%d", ntohs(sa.sin_port));
  node a = {0};
  link_config quick = {.handshake_timeout_ms = 100};
  node_start_cfg(f, &a, "node-a", PKI_GOOD, NULL, &quick);
  assert_tr(0, send_seed(&a, addr, 1));
  const link_seed_failure *why = seed_failure(f, &a, addr);
  assert_true(x.accepted);
  assert_seed_failure(why, LINK_CLOSE_TIMEOUT, LINK_STAGE_TLS,
                      TLS_FAIL_TIMEOUT, LINK_REFUSED_NONE);
  assert_int_equal(0, why->uv_error);
  node_stop(f, &a);
  uv_close((uv_handle_t *)&x.conn, NULL);
  uv_close((uv_handle_t *)&x.listener, NULL);
  run_ms(f, 10);
}

static void seed_that_becomes_a_link_reports_no_failure(void **state) {
  fixture *f = *state;
  node a = {0}, b = {0};
  node_start(f, &a, "node-a");
  node_start(f, &b, "node-b");
  assert_tr(0, send_seed(&a, b.addr, 1));
  frames_wait w = {&b, 1};
  assert_true(run_until(f, got_frames, &w, 5000));
  peer_link *lk = link_find(a.m, "node-b");
  assert_non_null(lk);
  assert_true(run_until(f, link_is_up, lk, 5000));
  run_ms(f, 100);
  assert_int_equal(0, a.seed.calls);
  assert_int_equal(0, b.seed.calls);
  assert_int_equal(0, mgr_stats(&a).seed_failed);
  node_stop(f, &a);
  node_stop(f, &b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(hundred_thousand_envelopes_arrive_in_order, setup, teardown),
      cmocka_unit_test_setup_teardown(a_full_queue_says_when_it_has_room_again,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(a_single_small_envelope_leaves_without_waiting_for_a_timer, setup, teardown),
      cmocka_unit_test_setup_teardown(
          an_idle_node_link_writes_nothing_and_pings_ride_traffic, setup,
          teardown),
      cmocka_unit_test_setup_teardown(oversized_envelope_fails_at_the_caller, setup, teardown),
      cmocka_unit_test_setup_teardown(server_certificate_from_another_ca_is_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(client_certificate_from_another_ca_is_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(expired_certificate_is_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(certificate_of_another_node_is_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(client_without_certificate_is_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(plaintext_client_is_refused_and_the_node_keeps_serving, setup, teardown),
      cmocka_unit_test_setup_teardown(silent_client_is_dropped_at_the_handshake_timeout, setup, teardown),
      cmocka_unit_test_setup_teardown(oversized_frame_length_closes_the_connection, setup, teardown),
      cmocka_unit_test_setup_teardown(empty_frame_closes_the_connection, setup, teardown),
      cmocka_unit_test_setup_teardown(undecodable_envelope_closes_the_connection, setup, teardown),
      cmocka_unit_test_setup_teardown(unknown_frame_kind_closes_the_connection, setup, teardown),
      cmocka_unit_test_setup_teardown(sequence_gap_closes_the_connection, setup, teardown),
      cmocka_unit_test_setup_teardown(truncated_frame_then_hangup_delivers_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(raw_bytes_inside_the_tls_stream_close_the_connection, setup, teardown),
      cmocka_unit_test_setup_teardown(link_flap_mid_stream_loses_and_repeats_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(peer_that_stops_reading_gets_efull_with_bounded_memory, setup, teardown),
      cmocka_unit_test_setup_teardown(reconnect_after_the_peer_restarts, setup, teardown),
      cmocka_unit_test_setup_teardown(past_the_resume_window_queued_envelopes_are_undeliverable, setup, teardown),
      cmocka_unit_test_setup_teardown(simultaneous_dials_settle_on_one_connection, setup, teardown),
      cmocka_unit_test_setup_teardown(dials_wait_for_a_slot_past_max_dials, setup, teardown),
      cmocka_unit_test_setup_teardown(frame_reaches_a_seed_address_and_it_becomes_the_peers_link, setup, teardown),
      cmocka_unit_test_setup_teardown(seed_that_is_this_node_is_dropped_and_counted_as_self, setup, teardown),
      cmocka_unit_test_setup_teardown(seed_nobody_listens_at_fails_once_and_is_not_redialed, setup, teardown),
      cmocka_unit_test_setup_teardown(seed_with_a_bad_address_is_einval, setup, teardown),
      cmocka_unit_test_setup_teardown(seed_to_a_peer_this_node_dialed_keeps_one_link, setup, teardown),
      cmocka_unit_test_setup_teardown(seed_to_a_peer_that_dialed_this_node_keeps_one_link, setup, teardown),
      cmocka_unit_test_setup_teardown(seed_with_a_certificate_from_another_ca_is_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(seed_to_a_closed_port_reports_the_connect_error, setup, teardown),
      cmocka_unit_test_setup_teardown(seed_to_a_node_of_another_ca_reports_that_this_node_refused_it, setup, teardown),
      cmocka_unit_test_setup_teardown(seed_from_a_node_of_another_ca_reports_that_the_peer_refused_it, setup, teardown),
      cmocka_unit_test_setup_teardown(seed_whose_hello_names_another_node_than_its_certificate_says, setup, teardown),
      cmocka_unit_test_setup_teardown(seed_that_reaches_this_node_reports_self, setup, teardown),
      cmocka_unit_test_setup_teardown(seed_to_a_silent_node_reports_the_tls_timeout, setup, teardown),
      cmocka_unit_test_setup_teardown(seed_that_becomes_a_link_reports_no_failure, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
