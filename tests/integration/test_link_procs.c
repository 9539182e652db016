/* test_link_procs.c — a link between two processes over TLS on loopback:
 * 100k envelopes in order, and a peer killed with SIGKILL and restarted on
 * the same port, after which the link comes back by itself. The peer is
 * this binary forked; it reports what it received in an envelope. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "link.h"
#include "pki.h"

typedef struct report {
  uint64_t got, bad_order;
} report;

/* ---- the peer process ----------------------------------------------------- */

typedef struct peer {
  uint64_t got, next, bad_order;
  bool quit;
  link_mgr *m;
} peer;

static void peer_on_envelope(void *user, peer_link *lk, const wire_envelope *e) {
  peer *p = user;
  if (e->target.len == 4 && memcmp(e->target.p, "quit", 4) == 0) {
    p->quit = true;
    return;
  }
  if (e->target.len == 6 && memcmp(e->target.p, "report", 6) == 0) {
    report r = {p->got, p->bad_order};
    wire_envelope out = {.type = TR_MSG_SEND,
                         .target = {(const uint8_t *)"report", 6},
                         .payload = {(const uint8_t *)&r, sizeof(r)}};
    link_send(lk, &out);
    return;
  }
  uint64_t v = 0;
  if (e->payload.len >= sizeof(v)) memcpy(&v, e->payload.p, sizeof(v));
  if (p->next == UINT64_MAX) p->next = v; /* the first one sets the base */
  if (v != p->next) p->bad_order++;
  p->next = v + 1;
  p->got++;
}

static void peer_on_tick(uv_timer_t *t) {
  peer *p = t->data;
  if (p->quit) uv_stop(t->loop);
}

/* Runs node-b until told to quit or for 60 s at most; writes its port to
 * fd first. `port` 0 picks one. Never returns. */
static void peer_main(test_pki *pki, int fd, int port, uint64_t first) {
  alarm(60);
  uv_loop_t loop;
  uv_loop_init(&loop);
  tls_config *tls = pki_tls(pki, "node-b", PKI_GOOD);
  peer p = {.next = first};
  link_config c = {.loop = &loop, .tls = tls, .node_name = "node-b",
                   .incarnation = (uint64_t)getpid(),
                   .ops = {.on_envelope = peer_on_envelope}, .user = &p};
  char addr[64];
  snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
  if (!tls || link_mgr_new(&p.m, &c) != 0 || link_mgr_listen(p.m, addr) != 0)
    _exit(3);
  int got_port = link_mgr_port(p.m);
  if (write(fd, &got_port, sizeof(got_port)) != sizeof(got_port)) _exit(4);
  close(fd);
  uv_timer_t tick;
  uv_timer_init(&loop, &tick);
  tick.data = &p;
  uv_timer_start(&tick, peer_on_tick, 10, 10);
  uv_run(&loop, UV_RUN_DEFAULT);
  _exit(0);
}

/* Forks a peer; returns its pid and sets *port. */
static pid_t spawn_peer(test_pki *pki, int *port, uint64_t first) {
  int fds[2];
  assert_int_equal(0, pipe(fds));
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    peer_main(pki, fds[1], *port, first);
  }
  close(fds[1]);
  int p = 0;
  assert_int_equal(sizeof(p), read(fds[0], &p, sizeof(p)));
  close(fds[0]);
  *port = p;
  return pid;
}

/* The peer exits on "quit" or SIGKILL; its alarm(60) bounds the wait. */
static void reap(pid_t pid, bool kill9) {
  if (kill9) kill(pid, SIGKILL);
  int status;
  assert_int_equal(pid, waitpid(pid, &status, 0));
}

/* ---- this process ------------------------------------------------------- */

typedef struct here {
  uv_loop_t loop;
  uv_timer_t tick;
  tls_config *tls;
  link_mgr *m;
  peer_link *lk;
  report r;
  bool have_report;
  uint64_t undeliverable;
} here;

static void here_on_envelope(void *user, peer_link *lk, const wire_envelope *e) {
  here *h = user;
  if (e->payload.len == sizeof(report)) {
    memcpy(&h->r, e->payload.p, sizeof(report));
    h->have_report = true;
  }
}

static void here_on_undeliverable(void *user, peer_link *lk, const wire_envelope *e,
                                  int reason) {
  ((here *)user)->undeliverable++;
}

static void on_tick(uv_timer_t *t) { (void)t; }

static void here_start(here *h, test_pki *pki, int port) {
  memset(h, 0, sizeof(*h));
  uv_loop_init(&h->loop);
  uv_timer_init(&h->loop, &h->tick);
  uv_timer_start(&h->tick, on_tick, 5, 5);
  h->tls = pki_tls(pki, "node-a", PKI_GOOD);
  assert_non_null(h->tls);
  link_config c = {.loop = &h->loop, .tls = h->tls, .node_name = "node-a",
                   .incarnation = 1, .reconnect_min_ms = 10,
                   .reconnect_max_ms = 100,
                   .ops = {.on_envelope = here_on_envelope,
                           .on_undeliverable = here_on_undeliverable},
                   .user = h};
  assert_int_equal(0, link_mgr_new(&h->m, &c));
  char addr[64];
  snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
  assert_int_equal(0, link_open(h->m, "node-b", addr, &h->lk));
}

static void here_stop(here *h) {
  link_mgr_free(h->m);
  uv_close((uv_handle_t *)&h->tick, NULL);
  uv_run(&h->loop, UV_RUN_DEFAULT);
  assert_int_equal(0, uv_loop_close(&h->loop));
  tls_config_free(h->tls);
}

static void send_range(here *h, uint64_t from, uint64_t to) {
  uint64_t buf[8] = {0};
  uint64_t end = uv_now(&h->loop) + 20000;
  for (uint64_t i = from; i < to;) {
    buf[0] = i;
    wire_envelope e = {.type = TR_MSG_SEND,
                       .target = {(const uint8_t *)"sink", 4},
                       .payload = {(const uint8_t *)buf, sizeof(buf)}};
    int rc = link_send(h->lk, &e);
    if (rc == TR_EFULL) {
      assert_true(uv_now(&h->loop) < end);
      uv_run(&h->loop, UV_RUN_ONCE);
      continue;
    }
    assert_int_equal(0, rc);
    i++;
  }
}

static void send_to(here *h, const char *target) {
  wire_envelope e = {.type = TR_MSG_SEND,
                     .target = {(const uint8_t *)target, strlen(target)}};
  assert_int_equal(0, link_send(h->lk, &e));
}

/* Asks the peer for its counts until they reach `want` (bounded); with
 * `plus_lost`, envelopes reported undeliverable here count towards it. */
static report await_report(here *h, uint64_t want, bool plus_lost) {
  uint64_t end = uv_now(&h->loop) + 20000;
  while (uv_now(&h->loop) < end) {
    h->have_report = false;
    memset(&h->r, 0, sizeof(h->r));
    send_to(h, "report");
    uint64_t wait_end = uv_now(&h->loop) + 500;
    while (!h->have_report && uv_now(&h->loop) < wait_end)
      uv_run(&h->loop, UV_RUN_ONCE);
    if (h->have_report &&
        h->r.got + (plus_lost ? h->undeliverable : 0) >= want)
      break;
    /* Not there yet: let the peer work before asking again. */
    uint64_t pause_end = uv_now(&h->loop) + 50;
    while (uv_now(&h->loop) < pause_end) uv_run(&h->loop, UV_RUN_ONCE);
  }
  return h->r;
}

static void hundred_thousand_envelopes_cross_two_processes_in_order(
    void **state) {
  test_pki *pki = *state;
  int port = 0;
  pid_t pid = spawn_peer(pki, &port, 0);
  here h;
  here_start(&h, pki, port);
  send_range(&h, 0, 100000);
  report r = await_report(&h, 100000, false);
  assert_int_equal(100000, r.got);
  assert_int_equal(0, r.bad_order);
  send_to(&h, "quit");
  for (int i = 0; i < 20; i++) uv_run(&h.loop, UV_RUN_ONCE);
  reap(pid, false);
  here_stop(&h);
}

static void link_returns_after_the_peer_is_killed_and_restarted(void **state) {
  test_pki *pki = *state;
  int port = 0;
  pid_t pid = spawn_peer(pki, &port, 0);
  here h;
  here_start(&h, pki, port);
  send_range(&h, 0, 1000);
  report r = await_report(&h, 1000, false);
  assert_int_equal(1000, r.got);
  reap(pid, true); /* kill -9 */
  /* Sent before this side noticed: written to a dead socket, so the new
   * peer process cannot have them; they come back as undeliverable. */
  send_range(&h, 1000, 1500);
  uint64_t end = uv_now(&h.loop) + 5000;
  link_stats st;
  link_get_stats(h.lk, &st);
  while (st.state == LINK_UP && uv_now(&h.loop) < end) {
    uv_run(&h.loop, UV_RUN_ONCE);
    link_get_stats(h.lk, &st);
  }
  assert_int_not_equal(LINK_UP, st.state);
  /* Sent while the link is down: they wait in the queue. */
  send_range(&h, 1500, 2000);
  pid = spawn_peer(pki, &port, UINT64_MAX);
  r = await_report(&h, 1000, true);
  assert_int_equal(1000, r.got + h.undeliverable); /* each one accounted */
  assert_true(r.got >= 500);
  assert_int_equal(0, r.bad_order);
  link_get_stats(h.lk, &st);
  assert_true(st.reconnects >= 1);
  send_to(&h, "quit");
  for (int i = 0; i < 20; i++) uv_run(&h.loop, UV_RUN_ONCE);
  reap(pid, false);
  here_stop(&h);
}

static int setup(void **state) {
  static test_pki pki;
  if (pki_init(&pki) != 0) return -1;
  *state = &pki;
  signal(SIGPIPE, SIG_IGN);
  return 0;
}

static int teardown(void **state) {
  pki_free(*state);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(hundred_thousand_envelopes_cross_two_processes_in_order),
      cmocka_unit_test(link_returns_after_the_peer_is_killed_and_restarted),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
