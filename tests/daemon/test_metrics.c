/* test_metrics.c — the daemon's /metrics, /healthz and /readyz
 * (node/daemon/http.c, metrics.c) on a local node and on 2-node clusters,
 * fetched over real TCP connections and checked with a strict parser of
 * the exposition. The nodes run on their own threads; the test thread is
 * the HTTP client. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <uv.h>

#include <cmocka.h>

#include "cluster_harness.h"
#include "expo_parse.h"
#include "http.h"
#include "metrics.h"

/* ---- a blocking HTTP client ------------------------------------------------ */

static int dial(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  struct timeval tv = {.tv_sec = 5};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  return fd;
}

static bool send_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    p += w;
    n -= (size_t)w;
  }
  return true;
}

/* Reads until EOF; a reset or timeout ends it too. Returns a malloc'd
 * NUL-terminated string (possibly empty). */
static char *read_all(int fd) {
  size_t cap = 65536, len = 0;
  char *b = malloc(cap);
  assert_non_null(b);
  for (;;) {
    if (len + 4096 > cap) {
      cap *= 2;
      b = realloc(b, cap);
      assert_non_null(b);
    }
    ssize_t r = recv(fd, b + len, cap - len - 1, 0);
    if (r <= 0) break;
    len += (size_t)r;
  }
  b[len] = '\0';
  return b;
}

typedef struct response {
  int status; /* 0: no answer */
  char *raw;
  const char *body;
} response;

static response http_raw(int port, const char *req, size_t len) {
  int fd = dial(port);
  response r = {0};
  if (send_all(fd, req, len)) shutdown(fd, SHUT_WR);
  r.raw = read_all(fd);
  close(fd);
  if (sscanf(r.raw, "HTTP/1.1 %d ", &r.status) != 1) r.status = 0;
  const char *b = strstr(r.raw, "\r\n\r\n");
  r.body = b ? b + 4 : "";
  return r;
}

static response http_get(int port, const char *path) {
  char req[256];
  int n = snprintf(req, sizeof(req),
                   "GET %s HTTP/1.1\r\nHost: localhost\r\nUser-Agent: t\r\n\r\n",
                   path);
  return http_raw(port, req, (size_t)n);
}

static void response_free(response *r) { free(r->raw); }

static expo scrape(int port) {
  response r = http_get(port, "/metrics");
  assert_int_equal(r.status, 200);
  assert_non_null(strstr(r.raw, "Content-Type: " METRICS_CONTENT_TYPE "\r\n"));
  assert_non_null(strstr(r.raw, "Connection: close\r\n"));
  expo e;
  char why[300];
  if (!expo_parse(r.body, &e, why, sizeof(why))) {
    fprintf(stderr, "exposition:\n%s\n", r.body);
    fail_msg("exposition does not parse: %s", why);
  }
  response_free(&r);
  return e;
}

/* Every series carries node="<node>"; counters end in _total. */
static void check_conventions(const expo *e, const char *node) {
  for (size_t i = 0; i < e->n; i++) {
    const expo_sample *s = &e->v[i];
    const char *nl = expo_label(s, "node");
    if (!nl || strcmp(nl, node) != 0)
      fail_msg("%s lacks node=\"%s\"", s->name, node);
    if (strncmp(s->name, "troupe_", 7) != 0 &&
        strncmp(s->name, "process_", 8) != 0) /* Prometheus's own */
      fail_msg("%s: no prefix", s->name);
    size_t n = strlen(s->name);
    bool total = n > 6 && strcmp(s->name + n - 6, "_total") == 0;
    if (strcmp(s->type, "counter") == 0 && !total)
      fail_msg("counter %s does not end in _total", s->name);
    if (strcmp(s->type, "counter") != 0 && total)
      fail_msg("%s ends in _total but is a %s", s->name, s->type);
    if (s->value < 0) fail_msg("%s is negative", s->name);
  }
}

static double value_of(const expo *e, const char *name, const char *key,
                       const char *val) {
  const expo_sample *s = expo_find(e, name, key, val);
  if (!s) fail_msg("no series %s{%s=\"%s\"}", name, key ? key : "",
                   val ? val : "");
  return s->value;
}

/* ---- a local node on its own thread ----------------------------------------- */

static int echo_receive(tr_ctx *ctx, void *state, const tr_envelope *env) {
  return 0;
}
static const tr_actor_type echo_type = {.name = "echo",
                                        .receive = echo_receive};

typedef struct local {
  tr_node *node;
  uv_thread_t thread;
  http_server *srv;   /* defaults */
  http_server *tight; /* 2 connections, 1 KiB requests, 300 ms */
  http_server *perip; /* 2 connections per client address */
  int port, tight_port, perip_port;
  bool running; /* the thread runs the node */
} local;

static void local_thread(void *arg) { tr_node_run(((local *)arg)->node); }

static int local_setup(void **state) {
  local *l = calloc(1, sizeof(*l));
  assert_non_null(l);
  tr_node_config cfg = {.name = "solo"};
  assert_int_equal(tr_node_new(&l->node, &cfg), 0);
  assert_int_equal(tr_node_spawn(l->node, &echo_type,
                                 &(tr_spawn_opts){.id = "a1"}), 0);
  assert_int_equal(tr_node_spawn(l->node, &echo_type,
                                 &(tr_spawn_opts){.id = "a2"}), 0);
  for (int i = 0; i < 3; i++)
    assert_int_equal(tr_node_send(l->node, "a1", "x", 1), 0);
  assert_int_equal(tr_node_send(l->node, "nobody", "x", 1), TR_ENOTFOUND);
  char err[128];
  http_opts o = {.addr = "127.0.0.1:0"};
  assert_int_equal(http_start(&l->srv, l->node, &o, err, sizeof(err)), 0);
  http_opts t = {.addr = "127.0.0.1:0", .max_conns = 2, .max_request = 1024,
                 .timeout_ms = 300};
  assert_int_equal(http_start(&l->tight, l->node, &t, err, sizeof(err)), 0);
  http_opts pi = {.addr = "127.0.0.1:0", .max_per_client = 2};
  assert_int_equal(http_start(&l->perip, l->node, &pi, err, sizeof(err)), 0);
  l->perip_port = http_port(l->perip);
  l->port = http_port(l->srv);
  l->tight_port = http_port(l->tight);
  assert_true(l->port > 0 && l->tight_port > 0 && l->port != l->tight_port);
  assert_int_equal(uv_thread_create(&l->thread, local_thread, l), 0);
  l->running = true;
  *state = l;
  return 0;
}

static void local_stop_thread(local *l) {
  if (!l->running) return;
  tr_node_stop(l->node);
  uv_thread_join(&l->thread);
  l->running = false;
}

/* Stops the node's thread, the servers and the node; once. */
static void local_finish(local *l) {
  if (!l->node) return;
  local_stop_thread(l);
  http_stop(l->srv);
  http_stop(l->tight);
  http_stop(l->perip);
  tr_node_free(l->node); /* runs the close callbacks */
  l->node = NULL;
  l->srv = l->tight = NULL;
}

static int local_teardown(void **state) {
  local *l = *state;
  local_finish(l);
  free(l);
  return 0;
}

static void local_node_exposes_engine_metrics_only(void **state) {
  local *l = *state;
  expo e = {0};
  /* The three sends are handled on the node's first turns. */
  for (int t = 0; t < 500; t++) {
    e = scrape(l->port);
    if (value_of(&e, "troupe_messages_delivered_total", NULL, NULL) >= 3) break;
    expo_free(&e);
    usleep(10000);
  }
  check_conventions(&e, "solo");
  assert_true(value_of(&e, "troupe_actors", NULL, NULL) == 2);
  assert_true(value_of(&e, "troupe_actors_spawned_total", NULL, NULL) == 2);
  assert_true(value_of(&e, "troupe_messages_sent_total", NULL, NULL) == 3);
  assert_true(value_of(&e, "troupe_messages_delivered_total", NULL, NULL) == 3);
  assert_true(value_of(&e, "troupe_dead_letters_total", "reason",
                       "rejected_no_actor") == 1);
  assert_true(value_of(&e, "troupe_dead_letters_total", "reason",
                       "mailbox_full") == 0);
  assert_int_equal(expo_count(&e, "troupe_dead_letters_total"), TR_DL_COUNT);
  assert_true(value_of(&e, "troupe_mailbox_high_water_messages", NULL, NULL) >= 1);
  assert_true(value_of(&e, "troupe_build_info", "version", TR_VERSION_STRING) == 1);
  /* The process (issue 19): this test's own, read from /proc. */
  assert_true(value_of(&e, "process_resident_memory_bytes", NULL, NULL) >
              1 << 20);
  assert_true(value_of(&e, "process_virtual_memory_bytes", NULL, NULL) >=
              value_of(&e, "process_resident_memory_bytes", NULL, NULL));
  double fds = value_of(&e, "process_open_fds", NULL, NULL);
  assert_true(fds >= 3); /* stdin, stdout, stderr at least */
  assert_true(value_of(&e, "process_max_fds", NULL, NULL) >= fds);
  assert_true(value_of(&e, "process_cpu_seconds_total", NULL, NULL) >= 0);
  double start = value_of(&e, "process_start_time_seconds", NULL, NULL);
  double now = (double)time(NULL);
  assert_true(start > now - 3600 && start <= now + 1);
  /* No cluster, peer or transport families on a local node. */
  assert_null(expo_find(&e, "troupe_cluster_members", NULL, NULL));
  assert_null(expo_find(&e, "troupe_tls_refused_total", NULL, NULL));
  assert_null(expo_find(&e, "troupe_peer_up", NULL, NULL));
  expo_free(&e);
}

static void healthz_and_readyz_answer_on_a_local_node(void **state) {
  local *l = *state;
  response r = http_get(l->port, "/healthz");
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, "ok\n");
  response_free(&r);
  r = http_get(l->port, "/readyz");
  assert_int_equal(r.status, 200); /* a local node is always ready */
  response_free(&r);
  r = http_get(l->port, "/metrics?name=x"); /* a query string is ignored */
  assert_int_equal(r.status, 200);
  response_free(&r);
}

static void unknown_path_is_404_and_other_methods_405(void **state) {
  local *l = *state;
  response r = http_get(l->port, "/nope");
  assert_int_equal(r.status, 404);
  response_free(&r);
  r = http_get(l->port, "/metricsx");
  assert_int_equal(r.status, 404);
  response_free(&r);
  const char *post = "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n";
  r = http_raw(l->port, post, strlen(post));
  assert_int_equal(r.status, 405);
  assert_non_null(strstr(r.raw, "\r\nAllow: GET\r\n"));
  response_free(&r);
  const char *head = "HEAD /healthz HTTP/1.1\r\n\r\n";
  r = http_raw(l->port, head, strlen(head));
  assert_int_equal(r.status, 405);
  response_free(&r);
  const char *junk = "garbage\r\n\r\n";
  r = http_raw(l->port, junk, strlen(junk));
  assert_int_equal(r.status, 400);
  response_free(&r);
  const char *bare_lf = "GET /healthz HTTP/1.0\n\n";
  r = http_raw(l->port, bare_lf, strlen(bare_lf));
  assert_int_equal(r.status, 200);
  response_free(&r);
}

static void oversized_request_is_refused_and_the_server_goes_on(void **state) {
  local *l = *state;
  size_t n = 64 * 1024;
  char *big = malloc(n);
  assert_non_null(big);
  memcpy(big, "GET /metrics HTTP/1.1\r\nX-Filler: ", 33);
  memset(big + 33, 'a', n - 33); /* no end of head, ever */
  for (int port_i = 0; port_i < 2; port_i++) {
    int port = port_i ? l->tight_port : l->port;
    response r = http_raw(port, big, n);
    /* 431, or a reset if the kernel threw the answer away: never a 200. */
    assert_true(r.status == 431 || r.status == 0);
    response_free(&r);
    r = http_get(port, "/healthz");
    assert_int_equal(r.status, 200);
    response_free(&r);
  }
  free(big);
  local_stop_thread(l);
  http_stats st;
  http_stats_get(l->srv, &st);
  assert_int_equal(st.too_large, 1);
  http_stats_get(l->tight, &st);
  assert_int_equal(st.too_large, 1);
  local_finish(l);
}

/* Whether server s holds n connections within ms (its loop runs on the
 * node's thread: the accepts show in its counters). */
static bool holds(http_server *s, uint32_t n, uint64_t ms) {
  http_stats st;
  for (uint64_t end = tn_now_ms() + ms;; usleep(2000)) {
    http_stats_get(s, &st);
    if (st.conns >= n) return true;
    if (tn_now_ms() >= end) return false;
  }
}

/* Issue 16, finding 3: 64 held connections made /healthz fail. At the cap
 * a new connection closes the oldest one still silent, so a probe is
 * answered whoever holds the rest; one address holds at most
 * max_per_client; silent ones time out. */
static void connections_past_the_limit_are_closed_and_idle_ones_time_out(
    void **state) {
  local *l = *state;
  int a = dial(l->tight_port), b = dial(l->tight_port);
  /* Wait until the server holds both, so the order is theirs. */
  assert_true(holds(l->tight, 2, 2000));
  int c = dial(l->tight_port); /* at the cap: a, the oldest silent, goes */
  uint64_t t0 = tn_now_ms();
  char *got = read_all(a); /* closed at once, not after the 300 ms timeout */
  assert_string_equal(got, "");
  free(got);
  close(a);
  /* A probe while b and c hold the cap: b goes, the probe is answered. */
  response r = http_get(l->tight_port, "/healthz");
  assert_int_equal(r.status, 200);
  response_free(&r);
  assert_true(tn_now_ms() - t0 < 250); /* neither waited for the timeout */
  got = read_all(b);
  free(got);
  close(b);
  /* c sends nothing: the server closes it after 300 ms. */
  got = read_all(c);
  assert_string_equal(got, "");
  free(got);
  close(c);
  /* One address holds at most max_per_client (2 on this server): a third
   * connection from it is closed at once, and it is answered again once
   * one of the two is gone. */
  int p1 = dial(l->perip_port), p2 = dial(l->perip_port);
  assert_true(holds(l->perip, 2, 2000));
  int p3 = dial(l->perip_port);
  got = read_all(p3);
  assert_string_equal(got, "");
  free(got);
  close(p3);
  close(p1);
  close(p2);
  int status = 0;
  for (uint64_t end = tn_now_ms() + 2000; status != 200 && tn_now_ms() < end;) {
    response q = http_get(l->perip_port, "/healthz");
    status = q.status;
    response_free(&q);
    if (status != 200) usleep(10000);
  }
  assert_int_equal(status, 200);
  local_stop_thread(l);
  http_stats st;
  http_stats_get(l->tight, &st);
  assert_int_equal(st.evicted, 2);
  assert_int_equal(st.timed_out, 1);
  http_stats_get(l->perip, &st);
  assert_true(st.refused >= 1);
  local_finish(l);
}

static void bad_addresses_are_refused_with_a_reason(void **state) {
  local *l = *state;
  local_stop_thread(l); /* http_start is for the loop thread */
  http_server *s = NULL;
  char err[128] = "";
  http_opts o = {.addr = "localhost"};
  assert_int_equal(http_start(&s, l->node, &o, err, sizeof(err)), TR_EINVAL);
  assert_null(s);
  assert_non_null(strstr(err, "localhost"));
  o.addr = "127.0.0.1:99999";
  assert_int_equal(http_start(&s, l->node, &o, err, sizeof(err)), TR_EINVAL);
  char taken[32];
  snprintf(taken, sizeof(taken), "127.0.0.1:%d", l->port);
  o.addr = taken;
  assert_int_equal(http_start(&s, l->node, &o, err, sizeof(err)), TR_ESYS);
  assert_null(s);
  fprintf(stderr, "# port taken: %s\n", err);
  o.addr = "[::1]:0"; /* v6 parses; binding may fail without IPv6 */
  int rc = http_start(&s, l->node, &o, err, sizeof(err));
  assert_true(rc == 0 || rc == TR_ESYS);
  http_stop(s);
  local_finish(l);
}

/* ---- cardinality and escaping, rendered on the test thread ------------------- */

#define MANY_PUBLISHERS (METRICS_MAX_PUBLISHERS + 5)

/* Subscribes to *arg publishers "pub000".., and to an id that needs
 * escaping in a label value. */
static const char odd_id[] = "we\"ird\\id\nx";

static int fan_init(tr_ctx *ctx, void *state, const void *arg) {
  char pub[32];
  for (int i = 0; i < *(const int *)arg; i++) {
    snprintf(pub, sizeof(pub), "pub%03d", i);
    int rc = tr_subscribe(ctx, pub);
    if (rc != 0) return rc;
  }
  return tr_subscribe_topic(ctx, odd_id, "t");
}
static const tr_actor_type fan_type = {.name = "fan", .init = fan_init,
                                       .receive = echo_receive};

static void publishers_past_the_limit_are_summed_and_labels_escaped(
    void **state) {
  tr_node *n;
  tr_node_config cfg = {.name = "n\"q"};
  assert_int_equal(tr_node_new(&n, &cfg), 0);
  int many = MANY_PUBLISHERS;
  assert_int_equal(
      tr_node_spawn(n, &fan_type, &(tr_spawn_opts){.id = "fan", .arg = &many}),
      0);
  char *text;
  size_t len;
  assert_int_equal(metrics_render(n, NULL, &text, &len), 0);
  assert_int_equal(strlen(text), len);
  expo e;
  char why[300];
  if (!expo_parse(text, &e, why, sizeof(why))) fail_msg("%s", why);
  check_conventions(&e, "n\"q");
  assert_non_null(strstr(text, "node=\"n\\\"q\""));
  assert_int_equal(expo_count(&e, "troupe_subscription_drops_total"),
                   METRICS_MAX_PUBLISHERS);
  assert_int_equal(expo_count(&e, "troupe_subscription_deliveries_total"),
                   METRICS_MAX_PUBLISHERS);
  assert_non_null(expo_find(&e, "troupe_subscription_drops_total",
                            "publisher", "$other"));
  assert_non_null(expo_find(&e, "troupe_subscription_drops_total",
                            "publisher", "pub000"));
  /* Sorted by name: the odd id sorts after "pub..." and is folded. */
  assert_null(expo_find(&e, "troupe_subscription_drops_total", "publisher",
                        odd_id));
  assert_true(value_of(&e, "troupe_subscriptions", NULL, NULL) ==
              MANY_PUBLISHERS + 1);
  expo_free(&e);
  free(text);
  tr_node_free(n);
}

static void odd_ids_are_escaped_in_label_values(void **state) {
  tr_node *n;
  assert_int_equal(tr_node_new(&n, NULL), 0);
  int few = 2;
  assert_int_equal(
      tr_node_spawn(n, &fan_type, &(tr_spawn_opts){.id = "fan", .arg = &few}),
      0);
  char *text;
  size_t len;
  assert_int_equal(metrics_render(n, NULL, &text, &len), 0);
  expo e;
  char why[300];
  if (!expo_parse(text, &e, why, sizeof(why))) fail_msg("%s", why);
  /* Escaped on the wire, the original after parsing. */
  assert_non_null(strstr(text, "publisher=\"we\\\"ird\\\\id\\nx\""));
  assert_non_null(expo_find(&e, "troupe_subscription_drops_total", "publisher",
                            odd_id));
  assert_int_equal(expo_count(&e, "troupe_subscription_drops_total"), 3);
  expo_free(&e);
  free(text);
  tr_node_free(n);
}

/* ---- clusters ------------------------------------------------------------------ */

typedef struct serve_arg {
  http_server *srv;
  int rc;
} serve_arg;

static int do_http_start(tr_node *n, void *arg) {
  serve_arg *a = arg;
  char err[128];
  http_opts o = {.addr = "127.0.0.1:0"};
  a->rc = http_start(&a->srv, n, &o, err, sizeof(err));
  if (a->rc != 0) fprintf(stderr, "http_start: %s\n", err);
  return a->rc;
}

static int do_http_stop(tr_node *n, void *arg) {
  http_stop(((serve_arg *)arg)->srv);
  return 0;
}

static bool both_see_two_alive(tn_cluster *c, void *arg) {
  return tn_members_in(c, 0, TR_MEMBER_ALIVE) == 2 &&
         tn_members_in(c, 1, TR_MEMBER_ALIVE) == 2;
}

static bool got_publish(tn_cluster *c, void *arg) {
  return tn_find(c, NULL, "p1", "hello", false, 0, NULL);
}

static void cluster_node_exposes_cluster_peer_and_transport_metrics(
    void **state) {
  tn_cluster *c;
  assert_int_equal(tn_new(&c, 2, NULL), 0);
  assert_true(tn_wait(c, both_see_two_alive, NULL, 20000) >= 0);
  assert_int_equal(tn_probe(c, 0, "p0"), 0);
  assert_int_equal(tn_probe(c, 1, "p1"), 0);
  assert_int_equal(tn_cmd(c, 1, "p1", "sub p0"), 0);
  /* Publish until n1's subscription has reached n0 and one arrives. */
  long took = -1;
  for (int t = 0; t < 100 && took < 0; t++) {
    assert_int_equal(tn_cmd(c, 0, "p0", "pub - hello"), 0);
    took = tn_wait(c, got_publish, NULL, 200);
  }
  assert_true(took >= 0);
  serve_arg sa = {0};
  assert_int_equal(tn_call(c, 1, do_http_start, &sa), 0);
  int port = http_port(sa.srv);

  expo e = scrape(port);
  check_conventions(&e, "n1");
  assert_true(value_of(&e, "troupe_cluster_members", "state", "alive") == 2);
  assert_true(value_of(&e, "troupe_cluster_members", "state", "dead") == 0);
  assert_int_equal(expo_count(&e, "troupe_cluster_members"), 4);
  assert_true(value_of(&e, "troupe_registry_ids", NULL, NULL) >= 2);
  assert_true(value_of(&e, "troupe_swim_probes_total", NULL, NULL) >= 0);
  assert_true(value_of(&e, "troupe_remote_received_total", NULL, NULL) >= 1);
  assert_true(value_of(&e, "troupe_peer_up", "peer", "n0") == 1);
  assert_true(value_of(&e, "troupe_peer_sent_bytes_total", "peer", "n0") > 0);
  assert_true(value_of(&e, "troupe_peer_received_bytes_total", "peer", "n0") > 0);
  assert_true(value_of(&e, "troupe_peer_envelopes_received_total", "peer",
                       "n0") >= 1);
  const expo_sample *rtt = expo_find(&e, "troupe_peer_rtt_seconds", "peer", "n0");
  if (rtt) assert_true(rtt->value > 0 && rtt->value < 5);
  assert_true(value_of(&e, "troupe_tls_refused_total", "reason",
                       "untrusted") == 0);
  assert_int_equal(expo_count(&e, "troupe_tls_refused_total") > 0, 1);
  assert_int_equal(expo_count(&e, "troupe_connections_closed_total") > 0, 1);
  assert_true(value_of(&e, "troupe_links", NULL, NULL) >= 1);
  assert_true(value_of(&e, "troupe_subscription_deliveries_total", "publisher",
                       "p0") >= 1);
  assert_true(value_of(&e, "troupe_subscription_drops_total", "publisher",
                       "p0") == 0);
  assert_true(value_of(&e, "troupe_actors", NULL, NULL) >= 1);
  expo_free(&e);

  response r = http_get(port, "/readyz");
  assert_int_equal(r.status, 200);
  response_free(&r);
  tn_call(c, 1, do_http_stop, &sa);
  tn_free(c);
}

static int readyz_status(int port) {
  response r = http_get(port, "/readyz");
  int s = r.status;
  response_free(&r);
  return s;
}

static bool n1_sees_n0(tn_cluster *c, void *arg) {
  return tn_members_in(c, 1, TR_MEMBER_ALIVE) == 2;
}

static void readyz_flips_from_503_to_200_when_the_node_joins(void **state) {
  tn_cluster *c;
  assert_int_equal(tn_new(&c, 2, NULL), 0);
  /* n0, the seed, hangs; n1 restarts and cannot join until it thaws. */
  tn_freeze(c, 0);
  assert_int_equal(tn_restart(c, 1), 0);
  serve_arg sa = {0};
  assert_int_equal(tn_call(c, 1, do_http_start, &sa), 0);
  int port = http_port(sa.srv);
  assert_int_equal(readyz_status(port), 503);
  response r = http_get(port, "/healthz"); /* alive, though not ready */
  assert_int_equal(r.status, 200);
  response_free(&r);
  expo e = scrape(port);
  assert_true(value_of(&e, "troupe_cluster_members", "state", "alive") == 1);
  expo_free(&e);
  tn_thaw(c, 0);
  assert_true(tn_wait(c, n1_sees_n0, NULL, 30000) >= 0);
  int status = 0;
  for (int t = 0; t < 500 && status != 200; t++) {
    status = readyz_status(port);
    if (status != 200) usleep(10000);
  }
  assert_int_equal(status, 200);
  tn_call(c, 1, do_http_stop, &sa);
  tn_free(c);
}

static void seedless_cluster_node_is_ready_at_once(void **state) {
  tn_cluster *c;
  tn_opts o = {.no_join = true};
  assert_int_equal(tn_new(&c, 1, &o), 0);
  serve_arg sa = {0};
  assert_int_equal(tn_call(c, 0, do_http_start, &sa), 0);
  assert_int_equal(readyz_status(http_port(sa.srv)), 200);
  tn_call(c, 0, do_http_stop, &sa);
  tn_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(local_node_exposes_engine_metrics_only,
                                      local_setup, local_teardown),
      cmocka_unit_test_setup_teardown(healthz_and_readyz_answer_on_a_local_node,
                                      local_setup, local_teardown),
      cmocka_unit_test_setup_teardown(unknown_path_is_404_and_other_methods_405,
                                      local_setup, local_teardown),
      cmocka_unit_test_setup_teardown(
          oversized_request_is_refused_and_the_server_goes_on, local_setup,
          local_teardown),
      cmocka_unit_test_setup_teardown(
          connections_past_the_limit_are_closed_and_idle_ones_time_out,
          local_setup, local_teardown),
      cmocka_unit_test_setup_teardown(bad_addresses_are_refused_with_a_reason,
                                      local_setup, local_teardown),
      cmocka_unit_test(publishers_past_the_limit_are_summed_and_labels_escaped),
      cmocka_unit_test(odd_ids_are_escaped_in_label_values),
      cmocka_unit_test(cluster_node_exposes_cluster_peer_and_transport_metrics),
      cmocka_unit_test(readyz_flips_from_503_to_200_when_the_node_joins),
      cmocka_unit_test(seedless_cluster_node_is_ready_at_once),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
