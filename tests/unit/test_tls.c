/* test_tls.c — the sans-I/O TLS layer: a client and a server tls_conn are
 * driven in memory (one's output fed to the other) through full and resumed
 * handshakes, data both ways, every refusal reason, and close_notify. All
 * keys and certificates are made by certgen in the group setup. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/x509_crt.h>

#include "certgen.h"
#include "tls.h"
#include "troupe.h"

#define assert_tr(expected, actual)                                         \
  do {                                                                      \
    int e_ = (expected), a_ = (actual);                                     \
    if (e_ != a_) fail_msg("expected %s (%d), got %s (%d)", tr_errname(e_), \
                           e_, tr_errname(a_), a_);                         \
  } while (0)

#define assert_reason(expected, conn)                                       \
  do {                                                                      \
    tls_fail e_ = (expected), a_ = tls_conn_fail_reason(conn);              \
    if (e_ != a_) fail_msg("expected reason %s, got %s (%s)",               \
                           tls_fail_name(e_), tls_fail_name(a_),            \
                           tls_conn_fail_detail(conn));                     \
  } while (0)

#define CHACHA "TLS-ECDHE-ECDSA-WITH-CHACHA20-POLY1305-SHA256"
#define DAY 86400

/* The tests' clock. mbedTLS reads the time through libc's time(), which this
 * executable replaces, so certificate expiry and ticket lifetimes are tested
 * by moving the clock instead of sleeping. */
static time_t clock_offset;

time_t time(time_t *t) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  time_t now = ts.tv_sec + clock_offset;
  if (t) *t = now;
  return now;
}

/* ---- fixture: certificates and one config per identity ----------------- */

typedef struct pem_pair {
  char *cert, *key;
} pem_pair;

typedef struct fixture {
  pem_pair ca, other_ca;
  pem_pair node_a, node_b, stranger_a, expired_a, client;
  /* Roles: a viewer; an operator certificate naming node-b; a node's key
   * usage without a role; OU=node on a client-only key usage. */
  pem_pair viewer, op_as_b, norole, node_client_eku;
  tls_config *a, *a2, *b, *stranger, *intruder, *expired, *client_cfg,
      *nocert, *viewer_cfg, *op_as_b_cfg, *norole_cfg, *node_client_cfg;
} fixture;

static int make_cert(pem_pair *out, const certgen_req *r, const pem_pair *ca) {
  if (certgen_key(&out->key) != 0) return -1;
  return certgen_cert(r, out->key, ca ? ca->cert : NULL, ca ? ca->key : NULL,
                      &out->cert);
}

static int make_config(tls_config **out, const pem_pair *ca,
                       const pem_pair *own) {
  char err[256];
  tls_config_opts o = {.ca_pem = ca->cert};
  if (own) {
    o.cert_pem = own->cert;
    o.key_pem = own->key;
  }
  int rc = tls_config_new(out, &o, err, sizeof err);
  if (rc != 0) fprintf(stderr, "tls_config_new: %s\n", err);
  return rc;
}

static int group_setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  if (!f) return -1;
  *state = f;
  time_t now = time(NULL);
  const char *dns_a[] = {"node-a", "node-a.troupe.local"};
  const char *ips[] = {"127.0.0.1"};
  certgen_req ca = {.cn = "troupe-ca", .is_ca = 1};
  certgen_req a = {.cn = "node-a", .dns = dns_a, .ndns = 2, .ips = ips,
                   .nips = 1, .role = "node"};
  certgen_req b = {.cn = "node-b", .role = "node"};
  certgen_req old = {.cn = "node-a", .not_before = now - 10 * 86400,
                     .not_after = now - 86400, .role = "node"};
  certgen_req cli = {.cn = "ops-cli", .is_client = 1, .role = "operator"};
  certgen_req view = {.cn = "view-cli", .is_client = 1, .role = "viewer"};
  certgen_req opb = {.cn = "node-b", .is_client = 1, .role = "operator"};
  certgen_req nor = {.cn = "node-c"};
  certgen_req nce = {.cn = "node-d", .is_client = 1, .role = "node"};
  if (make_cert(&f->ca, &ca, NULL) || make_cert(&f->other_ca, &ca, NULL) ||
      make_cert(&f->node_a, &a, &f->ca) || make_cert(&f->node_b, &b, &f->ca) ||
      make_cert(&f->stranger_a, &a, &f->other_ca) ||
      make_cert(&f->expired_a, &old, &f->ca) ||
      make_cert(&f->client, &cli, &f->ca) ||
      make_cert(&f->viewer, &view, &f->ca) ||
      make_cert(&f->op_as_b, &opb, &f->ca) ||
      make_cert(&f->norole, &nor, &f->ca) ||
      make_cert(&f->node_client_eku, &nce, &f->ca))
    return -1;
  if (make_config(&f->a, &f->ca, &f->node_a) ||
      make_config(&f->a2, &f->ca, &f->node_a) ||
      make_config(&f->b, &f->ca, &f->node_b) ||
      make_config(&f->stranger, &f->other_ca, &f->stranger_a) ||
      make_config(&f->intruder, &f->ca, &f->stranger_a) ||
      make_config(&f->expired, &f->ca, &f->expired_a) ||
      make_config(&f->client_cfg, &f->ca, &f->client) ||
      make_config(&f->nocert, &f->ca, NULL) ||
      make_config(&f->viewer_cfg, &f->ca, &f->viewer) ||
      make_config(&f->op_as_b_cfg, &f->ca, &f->op_as_b) ||
      make_config(&f->norole_cfg, &f->ca, &f->norole) ||
      make_config(&f->node_client_cfg, &f->ca, &f->node_client_eku))
    return -1;
  return 0;
}

static void free_pair(pem_pair *p) {
  free(p->cert);
  free(p->key);
}

static int group_teardown(void **state) {
  fixture *f = *state;
  tls_config *cfgs[] = {f->a,          f->a2,          f->b,
                        f->stranger,   f->intruder,    f->expired,
                        f->client_cfg, f->nocert,      f->viewer_cfg,
                        f->op_as_b_cfg, f->norole_cfg, f->node_client_cfg};
  for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++)
    tls_config_free(cfgs[i]);
  pem_pair *pairs[] = {&f->ca,        &f->other_ca, &f->node_a,
                       &f->node_b,    &f->stranger_a, &f->expired_a,
                       &f->client,    &f->viewer,   &f->op_as_b,
                       &f->norole,    &f->node_client_eku};
  for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
    free_pair(pairs[i]);
  free(f);
  return 0;
}

/* ---- driving two connections in memory --------------------------------- */

typedef struct pair {
  tls_conn *cl, *sv;
  int rc_cl, rc_sv;     /* last handshake results */
  int feed_cl, feed_sv; /* first failing feed result, 0 if none */
  int flights;          /* non-empty transfers so far */
  int flights_cl_done;  /* transfers when the client's handshake ended */
  size_t bytes;         /* ciphertext moved during the handshake */
} pair;

/* Hands everything `from` has to send to `to`; returns the bytes moved. */
static size_t move(pair *p, tls_conn *from, tls_conn *to, int *feed_rc) {
  uint8_t *buf = NULL;
  size_t len = 0;
  assert_tr(0, tls_conn_take_out(from, &buf, &len));
  if (len == 0) {
    assert_null(buf);
    return 0;
  }
  int rc = tls_conn_feed(to, buf, len);
  if (rc != 0 && *feed_rc == 0) *feed_rc = rc;
  free(buf);
  p->flights++;
  return len;
}

/* Runs both handshakes, moving each flight across, until neither needs more
 * input (done or failed) or 16 turns have passed. */
static void handshake(pair *p) {
  p->rc_cl = p->rc_sv = 1;
  for (int turn = 0; turn < 16 && (p->rc_cl == 1 || p->rc_sv == 1); turn++) {
    if (p->rc_cl == 1) {
      p->rc_cl = tls_conn_handshake(p->cl);
      if (p->rc_cl != 1) p->flights_cl_done = p->flights;
    }
    p->bytes += move(p, p->cl, p->sv, &p->feed_sv);
    if (p->rc_sv == 1) p->rc_sv = tls_conn_handshake(p->sv);
    p->bytes += move(p, p->sv, p->cl, &p->feed_cl);
  }
}

static void pair_open(pair *p, tls_config *client, tls_config *server,
                      const tls_session *resume) {
  memset(p, 0, sizeof *p);
  assert_tr(0, tls_conn_new(&p->cl, client, TLS_CLIENT, resume));
  assert_tr(0, tls_conn_new(&p->sv, server, TLS_SERVER, NULL));
  handshake(p);
}

static void pair_close(pair *p) {
  tls_conn_free(p->cl);
  tls_conn_free(p->sv);
}

/* Writes len bytes on `from`, moves them, and reads them all on `to`. */
static void transfer(pair *p, tls_conn *from, tls_conn *to, const uint8_t *data,
                     size_t len) {
  int dummy = 0;
  assert_tr(0, tls_conn_write(from, data, len));
  move(p, from, to, &dummy);
  assert_tr(0, dummy);
  uint8_t *got = malloc(len + 1);
  assert_non_null(got);
  size_t n = 0;
  for (int i = 0; i < 10000 && n < len; i++) {
    int r = tls_conn_read(to, got + n, 65536 < len + 1 - n ? 65536 : len + 1 - n);
    assert_true(r > 0);
    n += (size_t)r;
  }
  assert_int_equal(len, n);
  assert_tr(0, tls_conn_read(to, got, 1)); /* nothing more buffered */
  assert_memory_equal(data, got, len);
  free(got);
}

static void full_handshake_succeeds_both_ways_with_chacha20(void **state) {
  fixture *f = *state;
  pair p;
  pair_open(&p, f->a, f->b, NULL);
  assert_tr(0, p.rc_cl);
  assert_tr(0, p.rc_sv);
  assert_tr(0, tls_conn_handshake(p.cl)); /* done stays done */
  assert_string_equal(CHACHA, tls_conn_ciphersuite(p.cl));
  assert_string_equal(CHACHA, tls_conn_ciphersuite(p.sv));
  assert_false(tls_conn_resumed(p.cl));
  assert_false(tls_conn_resumed(p.sv));
  assert_string_equal("node-b", tls_conn_peer_cn(p.cl));
  assert_string_equal("node-a", tls_conn_peer_cn(p.sv));
  assert_int_equal(TLS_FAIL_NONE, tls_conn_fail_reason(p.cl));
  assert_string_equal("", tls_conn_fail_detail(p.cl));
  /* Client hello; server hello..done; client cert..finished; ticket and
   * finished: two round trips. */
  assert_int_equal(4, p.flights);
  pair_close(&p);
}

static void handshake_completes_when_fed_one_byte_at_a_time(void **state) {
  fixture *f = *state;
  tls_conn *cl, *sv;
  assert_tr(0, tls_conn_new(&cl, f->a, TLS_CLIENT, NULL));
  assert_tr(0, tls_conn_new(&sv, f->b, TLS_SERVER, NULL));
  int rc_cl = 1, rc_sv = 1;
  for (int turn = 0; turn < 16 && (rc_cl == 1 || rc_sv == 1); turn++) {
    tls_conn *ends[2][2] = {{cl, sv}, {sv, cl}};
    for (int d = 0; d < 2; d++) {
      int *rc = d == 0 ? &rc_cl : &rc_sv;
      int *peer_rc = d == 0 ? &rc_sv : &rc_cl;
      if (*rc == 1) *rc = tls_conn_handshake(ends[d][0]);
      uint8_t *buf;
      size_t len;
      assert_tr(0, tls_conn_take_out(ends[d][0], &buf, &len));
      for (size_t i = 0; i < len; i++) {
        assert_tr(0, tls_conn_feed(ends[d][1], buf + i, 1));
        if (*peer_rc == 1) *peer_rc = tls_conn_handshake(ends[d][1]);
      }
      free(buf);
    }
  }
  assert_tr(0, rc_cl);
  assert_tr(0, rc_sv);
  /* And a record split the same way. */
  uint8_t *buf, got[8];
  size_t len;
  assert_tr(0, tls_conn_write(cl, "ping", 4));
  assert_tr(0, tls_conn_take_out(cl, &buf, &len));
  for (size_t i = 0; i + 1 < len; i++) {
    assert_tr(0, tls_conn_feed(sv, buf + i, 1));
    assert_tr(0, tls_conn_read(sv, got, sizeof got));
  }
  assert_tr(0, tls_conn_feed(sv, buf + len - 1, 1));
  assert_int_equal(4, tls_conn_read(sv, got, sizeof got));
  assert_memory_equal("ping", got, 4);
  free(buf);
  tls_conn_free(cl);
  tls_conn_free(sv);
}

static void data_flows_both_ways_including_one_mebibyte(void **state) {
  fixture *f = *state;
  pair p;
  pair_open(&p, f->a, f->b, NULL);
  assert_tr(0, p.rc_cl);
  size_t big = 1 << 20;
  uint8_t *data = malloc(big);
  assert_non_null(data);
  for (size_t i = 0; i < big; i++) data[i] = (uint8_t)(i * 7 + (i >> 11));
  transfer(&p, p.cl, p.sv, (const uint8_t *)"hello server", 12);
  transfer(&p, p.sv, p.cl, (const uint8_t *)"hello client", 12);
  transfer(&p, p.cl, p.sv, data, big);
  transfer(&p, p.sv, p.cl, data, big);
  transfer(&p, p.cl, p.sv, data, 1);
  free(data);
  pair_close(&p);
}

static void write_splits_large_payloads_into_16k_records(void **state) {
  fixture *f = *state;
  pair p;
  pair_open(&p, f->a, f->b, NULL);
  static uint8_t data[40000];
  assert_tr(0, tls_conn_write(p.cl, data, sizeof data));
  uint8_t *buf;
  size_t len, off = 0, nrec = 0, plain = 0;
  assert_tr(0, tls_conn_take_out(p.cl, &buf, &len));
  while (off + 5 <= len) {
    size_t rlen = (size_t)buf[off + 3] << 8 | buf[off + 4];
    assert_int_equal(23, buf[off]); /* application_data */
    assert_true(rlen - 16 <= 16384); /* ChaCha20-Poly1305: a 16-byte tag */
    plain += rlen - 16;
    off += 5 + rlen;
    nrec++;
  }
  assert_int_equal(len, off);
  assert_int_equal(3, nrec);
  assert_int_equal(sizeof data, plain);
  free(buf);
  pair_close(&p);
}

static void client_without_certificate_is_refused_with_no_cert(void **state) {
  fixture *f = *state;
  pair p;
  pair_open(&p, f->nocert, f->a, NULL);
  assert_tr(TR_ETLS, p.rc_sv);
  assert_reason(TLS_FAIL_NO_CERT, p.sv);
  /* The server says so, and the client stops waiting. */
  assert_tr(TR_ETLS, p.rc_cl);
  assert_reason(TLS_FAIL_PROTOCOL, p.cl);
  assert_non_null(strstr(tls_conn_fail_detail(p.cl), "handshake_failure"));
  /* Failures are sticky. */
  assert_tr(TR_ETLS, tls_conn_handshake(p.sv));
  assert_tr(TR_ETLS, tls_conn_feed(p.sv, "x", 1));
  pair_close(&p);
}

static void client_from_another_ca_is_refused_as_untrusted(void **state) {
  fixture *f = *state;
  pair p;
  /* It trusts the cluster CA (anyone can), but its own certificate says
   * "node-a" on another CA's authority. */
  pair_open(&p, f->intruder, f->a, NULL);
  assert_tr(TR_ETLS, p.rc_sv);
  assert_reason(TLS_FAIL_UNTRUSTED, p.sv);
  assert_non_null(strstr(tls_conn_fail_detail(p.sv), "trusted CA"));
  assert_non_null(strstr(tls_conn_fail_detail(p.sv), "subject CN=node-a"));
  assert_tr(TR_ETLS, p.rc_cl);
  assert_non_null(strstr(tls_conn_fail_detail(p.cl), "unknown_ca"));
  assert_false(tls_conn_peer_is(p.sv, "node-a"));
  pair_close(&p);
}

static void server_from_another_ca_is_refused_as_untrusted(void **state) {
  fixture *f = *state;
  pair p;
  pair_open(&p, f->a, f->stranger, NULL);
  assert_tr(TR_ETLS, p.rc_cl);
  assert_reason(TLS_FAIL_UNTRUSTED, p.cl);
  pair_close(&p);
}

static void expired_certificate_is_refused_as_expired(void **state) {
  fixture *f = *state;
  pair p;
  pair_open(&p, f->expired, f->b, NULL);
  assert_tr(TR_ETLS, p.rc_sv);
  assert_reason(TLS_FAIL_EXPIRED, p.sv);
  assert_non_null(strstr(tls_conn_fail_detail(p.sv), "expired"));
  pair_close(&p);
  pair_open(&p, f->b, f->expired, NULL);
  assert_tr(TR_ETLS, p.rc_cl);
  assert_reason(TLS_FAIL_EXPIRED, p.cl);
  pair_close(&p);
}

static void plaintext_http_request_is_refused_as_not_tls(void **state) {
  fixture *f = *state;
  tls_conn *sv;
  assert_tr(0, tls_conn_new(&sv, f->a, TLS_SERVER, NULL));
  static const char req[] = "GET / HTTP/1.1\r\n\r\n";
  assert_tr(0, tls_conn_feed(sv, req, sizeof req - 1)); /* reported next */
  assert_tr(TR_ETLS, tls_conn_handshake(sv));
  assert_reason(TLS_FAIL_NOT_TLS, sv);
  assert_non_null(strstr(tls_conn_fail_detail(sv), "GET / HT"));
  tls_conn_free(sv);
}

static void garbage_from_the_server_is_refused_as_not_tls(void **state) {
  fixture *f = *state;
  tls_conn *cl;
  assert_tr(0, tls_conn_new(&cl, f->a, TLS_CLIENT, NULL));
  assert_tr(1, tls_conn_handshake(cl));
  /* A handshake type byte, then a version that is not 3.x. */
  static const uint8_t junk[] = {22, 0x47, 0x00, 0x10, 0xff};
  assert_tr(0, tls_conn_feed(cl, junk, sizeof junk));
  assert_tr(TR_ETLS, tls_conn_handshake(cl));
  assert_reason(TLS_FAIL_NOT_TLS, cl);
  tls_conn_free(cl);
}

static void garbage_after_the_handshake_fails_read_with_etls(void **state) {
  fixture *f = *state;
  pair p;
  pair_open(&p, f->a, f->b, NULL);
  static const char junk[] = "this is not a TLS record at all";
  assert_tr(0, tls_conn_feed(p.sv, junk, sizeof junk - 1));
  uint8_t buf[64];
  assert_tr(TR_ETLS, tls_conn_read(p.sv, buf, sizeof buf));
  assert_reason(TLS_FAIL_NOT_TLS, p.sv);
  assert_tr(TR_ETLS, tls_conn_read(p.sv, buf, sizeof buf));
  assert_tr(TR_ETLS, tls_conn_write(p.sv, "x", 1));
  pair_close(&p);
}

/* Records with a plausible header and random contents, at every stage: the
 * connection fails with a reason (or waits for more), never crashes. */
static void random_records_fail_cleanly_at_any_stage(void **state) {
  fixture *f = *state;
  unsigned seed = 12345;
  uint8_t rec[300];
  for (int round = 0; round < 200; round++) {
    tls_conn *sv, *cl;
    assert_tr(0, tls_conn_new(&sv, f->a, TLS_SERVER, NULL));
    assert_tr(0, tls_conn_new(&cl, f->b, TLS_CLIENT, NULL));
    size_t len = 5 + (size_t)(rand_r(&seed) % 250);
    for (size_t i = 0; i < len; i++) rec[i] = (uint8_t)rand_r(&seed);
    rec[0] = (uint8_t)(20 + round % 4);
    rec[1] = 3;
    rec[2] = (uint8_t)(round % 4);
    if (round % 3) { /* mostly: a length that matches */
      rec[3] = (uint8_t)((len - 5) >> 8);
      rec[4] = (uint8_t)(len - 5);
    }
    tls_conn *target = round % 2 ? sv : cl;
    if (target == cl) assert_tr(1, tls_conn_handshake(cl));
    assert_tr(0, tls_conn_feed(target, rec, len));
    int rc = tls_conn_handshake(target);
    assert_true(rc == 1 || rc == TR_ETLS);
    if (rc == TR_ETLS)
      assert_int_not_equal(TLS_FAIL_NONE, tls_conn_fail_reason(target));
    tls_conn_free(sv);
    tls_conn_free(cl);
  }
  /* And after a handshake. */
  for (int round = 0; round < 50; round++) {
    pair p;
    pair_open(&p, f->a, f->b, NULL);
    size_t len = 5 + (size_t)(rand_r(&seed) % 250);
    for (size_t i = 0; i < len; i++) rec[i] = (uint8_t)rand_r(&seed);
    rec[0] = 23;
    rec[1] = 3;
    rec[2] = 3;
    rec[3] = (uint8_t)((len - 5) >> 8);
    rec[4] = (uint8_t)(len - 5);
    assert_tr(0, tls_conn_feed(p.sv, rec, len));
    uint8_t got[300];
    assert_tr(TR_ETLS, tls_conn_read(p.sv, got, sizeof got));
    assert_reason(TLS_FAIL_PROTOCOL, p.sv);
    pair_close(&p);
  }
}

static void tampered_record_fails_read_with_protocol(void **state) {
  fixture *f = *state;
  pair p;
  pair_open(&p, f->a, f->b, NULL);
  uint8_t *buf, got[64];
  size_t len;
  assert_tr(0, tls_conn_write(p.cl, "first", 5));
  assert_tr(0, tls_conn_write(p.cl, "second", 6));
  assert_tr(0, tls_conn_take_out(p.cl, &buf, &len));
  buf[len - 1] ^= 0x01; /* the second record's tag */
  assert_tr(0, tls_conn_feed(p.sv, buf, len));
  free(buf);
  /* What decrypted before the bad record is delivered, then the failure. */
  assert_int_equal(5, tls_conn_read(p.sv, got, sizeof got));
  assert_memory_equal("first", got, 5);
  assert_tr(TR_ETLS, tls_conn_read(p.sv, got, sizeof got));
  assert_reason(TLS_FAIL_PROTOCOL, p.sv);
  assert_true(strlen(tls_conn_fail_detail(p.sv)) > 0);
  pair_close(&p);
}

static void peer_is_accepts_cn_and_dns_sans_and_nothing_else(void **state) {
  fixture *f = *state;
  pair p;
  pair_open(&p, f->b, f->a, NULL);
  assert_tr(0, p.rc_cl);
  assert_true(tls_conn_peer_is(p.cl, "node-a"));
  assert_true(tls_conn_peer_is(p.cl, "node-a.troupe.local"));
  assert_false(tls_conn_peer_is(p.cl, "node-b"));
  assert_false(tls_conn_peer_is(p.cl, "node"));
  assert_false(tls_conn_peer_is(p.cl, "node-a.troupe"));
  assert_false(tls_conn_peer_is(p.cl, "NODE-A"));
  assert_false(tls_conn_peer_is(p.cl, "127.0.0.1")); /* IP SANs are no names */
  assert_false(tls_conn_peer_is(p.cl, ""));
  assert_false(tls_conn_peer_is(p.cl, NULL));
  assert_true(tls_conn_peer_is(p.sv, "node-b"));
  assert_false(tls_conn_peer_is(p.sv, "node-a"));
  pair_close(&p);
  /* Before any handshake nobody is anybody. */
  tls_conn *c;
  assert_tr(0, tls_conn_new(&c, f->a, TLS_CLIENT, NULL));
  assert_false(tls_conn_peer_is(c, "node-a"));
  assert_string_equal("", tls_conn_peer_cn(c));
  tls_conn_free(c);
}

static void client_certificate_may_dial_but_not_serve(void **state) {
  fixture *f = *state;
  pair p;
  pair_open(&p, f->client_cfg, f->a, NULL);
  assert_tr(0, p.rc_cl);
  assert_tr(0, p.rc_sv);
  assert_true(tls_conn_peer_is(p.sv, "ops-cli"));
  pair_close(&p);
  /* A server whose only certificate is for clients has nothing to offer. */
  pair_open(&p, f->a, f->client_cfg, NULL);
  assert_tr(TR_ETLS, p.rc_sv);
  assert_reason(TLS_FAIL_PROTOCOL, p.sv);
  assert_tr(TR_ETLS, p.rc_cl);
  assert_reason(TLS_FAIL_PROTOCOL, p.cl);
  assert_non_null(strstr(tls_conn_fail_detail(p.cl), "handshake_failure"));
  pair_close(&p);
}

/* The role comes from the subject's OU and the key usage together. */
static void roles_come_from_the_ou_and_the_key_usage_together(void **state) {
  fixture *f = *state;
  struct {
    tls_config *cfg;
    tls_peer_role want;
  } cases[] = {{f->b, TLS_PEER_NODE},
               {f->client_cfg, TLS_PEER_OPERATOR},
               {f->viewer_cfg, TLS_PEER_VIEWER},
               {f->norole_cfg, TLS_PEER_NONE},
               {f->node_client_cfg, TLS_PEER_NONE}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    pair p;
    pair_open(&p, cases[i].cfg, f->a, NULL); /* seen by node-a, serving */
    assert_tr(0, p.rc_sv);
    if (tls_conn_peer_role(p.sv) != cases[i].want)
      fail_msg("case %zu: role %s, want %s", i,
               tls_peer_role_name(tls_conn_peer_role(p.sv)),
               tls_peer_role_name(cases[i].want));
    assert_int_equal(TLS_PEER_NODE, tls_conn_peer_role(p.cl)); /* node-a */
    pair_close(&p);
  }
  assert_string_equal("viewer", tls_peer_role_name(TLS_PEER_VIEWER));
}

/* Finding 4: a client certificate whose name equals a node's may not pass
 * for that node; an operator's sessions are "NAME#session" only; a node's
 * certificate cannot open operator sessions; no role, no name at all. */
static void only_a_node_certificate_may_go_by_a_node_name(void **state) {
  fixture *f = *state;
  pair p;
  pair_open(&p, f->op_as_b_cfg, f->a, NULL);
  assert_tr(0, p.rc_sv);
  assert_true(tls_conn_peer_is(p.sv, "node-b")); /* it names node-b... */
  assert_false(tls_conn_peer_may_be(p.sv, "node-b")); /* ...but is none */
  assert_true(tls_conn_peer_may_be(p.sv, "node-b#42"));
  assert_false(tls_conn_peer_may_be(p.sv, "node-b#"));
  assert_false(tls_conn_peer_may_be(p.sv, "#42"));
  assert_false(tls_conn_peer_may_be(p.sv, "node-a#42"));
  pair_close(&p);
  pair_open(&p, f->b, f->a, NULL);
  assert_true(tls_conn_peer_may_be(p.sv, "node-b"));
  assert_false(tls_conn_peer_may_be(p.sv, "node-b#42"));
  pair_close(&p);
  pair_open(&p, f->norole_cfg, f->a, NULL);
  assert_true(tls_conn_peer_is(p.sv, "node-c"));
  assert_false(tls_conn_peer_may_be(p.sv, "node-c"));
  assert_false(tls_conn_peer_may_be(p.sv, "node-c#1"));
  pair_close(&p);
}

static void saved_session_resumes_with_fewer_round_trips_and_bytes(void **state) {
  fixture *f = *state;
  pair full, res;
  tls_session *s = NULL, *s2 = NULL;
  pair_open(&full, f->a, f->b, NULL);
  assert_tr(0, full.rc_cl);
  assert_tr(0, tls_conn_save_session(full.cl, &s));
  assert_non_null(s);
  pair_close(&full);

  pair_open(&res, f->a, f->b, s);
  assert_tr(0, res.rc_cl);
  assert_tr(0, res.rc_sv);
  assert_true(tls_conn_resumed(res.cl));
  assert_true(tls_conn_resumed(res.sv));
  assert_string_equal(CHACHA, tls_conn_ciphersuite(res.cl));
  /* One round trip before the client may send instead of two. */
  assert_int_equal(4, full.flights_cl_done);
  assert_int_equal(2, res.flights_cl_done);
  assert_true(res.flights < full.flights);
  assert_true(res.bytes < full.bytes);
  print_message("handshake bytes: full %zu, resumed %zu\n", full.bytes,
                res.bytes);
  /* The identities are those verified when the session was made. */
  assert_true(tls_conn_peer_is(res.cl, "node-b"));
  assert_true(tls_conn_peer_is(res.sv, "node-a"));
  transfer(&res, res.cl, res.sv, (const uint8_t *)"resumed", 7);
  transfer(&res, res.sv, res.cl, (const uint8_t *)"indeed", 6);

  /* The resumed connection's session resumes again. */
  assert_tr(0, tls_conn_save_session(res.cl, &s2));
  pair_close(&res);
  pair_open(&res, f->a, f->b, s2);
  assert_tr(0, res.rc_cl);
  assert_true(tls_conn_resumed(res.cl));
  pair_close(&res);
  tls_session_free(s2);
  tls_session_free(s);
}

static void data_sent_as_soon_as_the_client_resumed_reaches_the_server(void **state) {
  fixture *f = *state;
  pair p;
  tls_session *s = NULL;
  pair_open(&p, f->a, f->b, NULL);
  assert_tr(0, tls_conn_save_session(p.cl, &s));
  pair_close(&p);

  memset(&p, 0, sizeof p);
  assert_tr(0, tls_conn_new(&p.cl, f->a, TLS_CLIENT, s));
  assert_tr(0, tls_conn_new(&p.sv, f->b, TLS_SERVER, NULL));
  int fr = 0;
  assert_tr(1, tls_conn_handshake(p.cl));
  move(&p, p.cl, p.sv, &fr);
  assert_tr(1, tls_conn_handshake(p.sv));
  move(&p, p.sv, p.cl, &fr);
  assert_tr(0, tls_conn_handshake(p.cl)); /* client done first */
  assert_tr(0, tls_conn_write(p.cl, "early", 5));
  move(&p, p.cl, p.sv, &fr); /* its finished and the data, together */
  assert_tr(0, fr);
  assert_tr(0, tls_conn_handshake(p.sv));
  assert_true(tls_conn_resumed(p.sv));
  uint8_t got[16];
  assert_int_equal(5, tls_conn_read(p.sv, got, sizeof got));
  assert_memory_equal("early", got, 5);
  pair_close(&p);
  tls_session_free(s);
}

static void session_from_another_server_falls_back_to_a_full_handshake(void **state) {
  fixture *f = *state;
  pair p;
  tls_session *s = NULL;
  pair_open(&p, f->b, f->a, NULL);
  assert_tr(0, tls_conn_save_session(p.cl, &s));
  pair_close(&p);
  /* Same certificate, other process: its ticket keys differ. */
  pair_open(&p, f->b, f->a2, s);
  assert_tr(0, p.rc_cl);
  assert_tr(0, p.rc_sv);
  assert_false(tls_conn_resumed(p.cl));
  assert_false(tls_conn_resumed(p.sv));
  assert_true(tls_conn_peer_is(p.cl, "node-a"));
  pair_close(&p);
  tls_session_free(s);
}

static void expired_ticket_falls_back_to_a_full_handshake(void **state) {
  fixture *f = *state;
  pair p;
  tls_session *s = NULL;
  pair_open(&p, f->a, f->b, NULL); /* tickets live for the default day */
  assert_tr(0, tls_conn_save_session(p.cl, &s));
  pair_close(&p);
  clock_offset = DAY + 60;
  pair_open(&p, f->a, f->b, s);
  clock_offset = 0;
  assert_tr(0, p.rc_cl);
  assert_tr(0, p.rc_sv);
  assert_false(tls_conn_resumed(p.cl));
  assert_false(tls_conn_resumed(p.sv));
  pair_close(&p);
  tls_session_free(s);
}

/* A certificate that expired after its session was made: resumption skips
 * verification, so the layer checks validity itself. Tickets here live for
 * 30 days, the certificates for 1. */
static void certificate_expired_since_the_session_is_refused_on_resume(void **state) {
  fixture *f = *state;
  certgen_req r = {.cn = "node-c", .not_after = time(NULL) + DAY};
  pem_pair c = {0};
  tls_config *client = NULL, *server = NULL;
  assert_int_equal(0, make_cert(&c, &r, &f->ca));
  tls_config_opts o = {.ca_pem = f->ca.cert, .cert_pem = c.cert,
                       .key_pem = c.key, .ticket_lifetime_s = 30 * DAY};
  assert_tr(0, tls_config_new(&server, &o, NULL, 0));
  assert_tr(0, tls_config_new(&client, &o, NULL, 0));
  o.cert_pem = f->node_a.cert;
  o.key_pem = f->node_a.key;
  tls_config *long_lived = NULL;
  assert_tr(0, tls_config_new(&long_lived, &o, NULL, 0));

  /* The server's certificate expired: the client refuses. */
  pair p;
  tls_session *s = NULL;
  pair_open(&p, f->a, server, NULL);
  assert_tr(0, tls_conn_save_session(p.cl, &s));
  pair_close(&p);
  clock_offset = 2 * DAY;
  pair_open(&p, f->a, server, s);
  assert_tr(TR_ETLS, p.rc_cl);
  assert_reason(TLS_FAIL_EXPIRED, p.cl);
  assert_false(tls_conn_peer_is(p.cl, "node-c"));
  pair_close(&p);
  tls_session_free(s);
  s = NULL;
  clock_offset = 0;

  /* The client's certificate expired: the server refuses. */
  pair_open(&p, client, long_lived, NULL);
  assert_tr(0, tls_conn_save_session(p.cl, &s));
  pair_close(&p);
  clock_offset = 2 * DAY;
  pair_open(&p, client, long_lived, s);
  clock_offset = 0;
  assert_tr(TR_ETLS, p.rc_sv);
  assert_reason(TLS_FAIL_EXPIRED, p.sv);
  pair_close(&p);
  tls_session_free(s);
  tls_config_free(long_lived);
  tls_config_free(client);
  tls_config_free(server);
  free_pair(&c);
}

static void sessions_are_saved_only_by_finished_clients(void **state) {
  fixture *f = *state;
  pair p;
  tls_session *s = (tls_session *)&p;
  tls_conn *c;
  assert_tr(0, tls_conn_new(&c, f->a, TLS_CLIENT, NULL));
  assert_tr(TR_EINVAL, tls_conn_save_session(c, &s));
  assert_null(s);
  tls_conn_free(c);
  pair_open(&p, f->a, f->b, NULL);
  assert_tr(TR_EINVAL, tls_conn_save_session(p.sv, &s));
  assert_tr(0, tls_conn_save_session(p.cl, &s));
  assert_tr(TR_EINVAL, tls_conn_new(&c, f->b, TLS_SERVER, s));
  assert_null(c);
  pair_close(&p);
  tls_session_free(s);
}

static void close_notify_makes_the_peer_read_eclosed(void **state) {
  fixture *f = *state;
  pair p;
  pair_open(&p, f->a, f->b, NULL);
  int fr = 0;
  assert_tr(0, tls_conn_write(p.cl, "bye", 3));
  assert_tr(0, tls_conn_close_notify(p.cl));
  assert_tr(TR_ECLOSED, tls_conn_write(p.cl, "more", 4));
  move(&p, p.cl, p.sv, &fr);
  assert_tr(0, fr);
  uint8_t got[16];
  assert_int_equal(3, tls_conn_read(p.sv, got, sizeof got));
  assert_memory_equal("bye", got, 3);
  assert_tr(TR_ECLOSED, tls_conn_read(p.sv, got, sizeof got));
  assert_tr(TR_ECLOSED, tls_conn_read(p.sv, got, sizeof got));
  assert_int_equal(TLS_FAIL_NONE, tls_conn_fail_reason(p.sv));
  pair_close(&p);
}

static void calls_out_of_order_return_einval(void **state) {
  fixture *f = *state;
  tls_conn *c;
  uint8_t *buf = (uint8_t *)"x", got[4];
  size_t len = 7;
  assert_tr(0, tls_conn_new(&c, f->a, TLS_CLIENT, NULL));
  assert_tr(TR_EINVAL, tls_conn_write(c, "x", 1));
  assert_tr(TR_EINVAL, tls_conn_read(c, got, sizeof got));
  assert_string_equal("", tls_conn_ciphersuite(c));
  assert_false(tls_conn_resumed(c));
  assert_tr(0, tls_conn_take_out(c, &buf, &len)); /* nothing yet */
  assert_null(buf);
  assert_int_equal(0, len);
  assert_tr(TR_EINVAL, tls_conn_feed(c, NULL, 3));
  assert_tr(TR_EINVAL, tls_conn_new(NULL, f->a, TLS_CLIENT, NULL));
  assert_tr(TR_EINVAL, tls_conn_handshake(NULL));
  tls_conn_free(c);
  tls_conn_free(NULL);
  tls_config_free(NULL);
  tls_session_free(NULL);
}

static void config_errors_name_the_file_and_return_einval(void **state) {
  fixture *f = *state;
  tls_config *cfg = (tls_config *)f;
  char err[256];
  tls_config_opts o = {.ca_file = "/nonexistent/ca.pem",
                       .cert_pem = f->node_a.cert, .key_pem = f->node_a.key};
  assert_tr(TR_EINVAL, tls_config_new(&cfg, &o, err, sizeof err));
  assert_null(cfg);
  assert_non_null(strstr(err, "ca_file /nonexistent/ca.pem"));

  o = (tls_config_opts){.ca_pem = f->ca.cert, .cert_pem = f->node_a.cert,
                        .key_pem = f->node_b.key};
  assert_tr(TR_EINVAL, tls_config_new(&cfg, &o, err, sizeof err));
  assert_non_null(strstr(err, "does not match"));

  o = (tls_config_opts){.cert_pem = f->node_a.cert, .key_pem = f->node_a.key};
  assert_tr(TR_EINVAL, tls_config_new(&cfg, &o, err, sizeof err));
  assert_non_null(strstr(err, "ca_file"));

  o = (tls_config_opts){.ca_pem = f->ca.cert, .cert_pem = f->node_a.cert};
  assert_tr(TR_EINVAL, tls_config_new(&cfg, &o, err, sizeof err));
  assert_non_null(strstr(err, "key_file"));

  o = (tls_config_opts){.ca_pem = "garbage"};
  assert_tr(TR_EINVAL, tls_config_new(&cfg, &o, NULL, 0));
}

static void config_loads_pem_files(void **state) {
  fixture *f = *state;
  char dir[] = "/tmp/test_tls.XXXXXX";
  assert_non_null(mkdtemp(dir));
  char paths[3][64];
  const char *texts[3] = {f->ca.cert, f->node_a.cert, f->node_a.key};
  for (int i = 0; i < 3; i++) {
    snprintf(paths[i], sizeof paths[i], "%s/%d.pem", dir, i);
    FILE *fp = fopen(paths[i], "w");
    assert_non_null(fp);
    fputs(texts[i], fp);
    fclose(fp);
  }
  tls_config *cfg = NULL;
  char err[256];
  tls_config_opts o = {.ca_file = paths[0], .cert_file = paths[1],
                       .key_file = paths[2], .ticket_lifetime_s = 600};
  assert_tr(0, tls_config_new(&cfg, &o, err, sizeof err));
  pair p;
  pair_open(&p, cfg, f->b, NULL);
  assert_tr(0, p.rc_cl);
  assert_tr(0, p.rc_sv);
  assert_true(tls_conn_peer_is(p.sv, "node-a"));
  pair_close(&p);
  tls_config_free(cfg);
  for (int i = 0; i < 3; i++) remove(paths[i]);
  rmdir(dir);
}

/* ---- revocation --------------------------------------------------------- */

/* A revocation list of ca listing the certificates given, valid until
 * next_update. */
static char *crl_of(const pem_pair *ca, const pem_pair *const *revoked,
                    size_t n, time_t next_update) {
  mbedtls_x509_crt crts[4];
  certgen_revoked list[4];
  assert_true(n <= 4);
  for (size_t i = 0; i < n; i++) {
    mbedtls_x509_crt_init(&crts[i]);
    assert_int_equal(0, mbedtls_x509_crt_parse(
                            &crts[i], (const unsigned char *)revoked[i]->cert,
                            strlen(revoked[i]->cert) + 1));
    list[i] = (certgen_revoked){.serial = crts[i].serial.p,
                                .serial_len = crts[i].serial.len,
                                .when = time(NULL) - 60};
  }
  char *pem = NULL;
  time_t now = time(NULL);
  assert_int_equal(0, certgen_crl(ca->cert, ca->key, list, n, now - 120,
                                  next_update, &pem));
  for (size_t i = 0; i < n; i++) mbedtls_x509_crt_free(&crts[i]);
  return pem;
}

/* node-a's config with a revocation list. */
static tls_config *with_crl(fixture *f, const char *crl, char *err,
                            size_t errlen) {
  tls_config *cfg = NULL;
  tls_config_opts o = {.ca_pem = f->ca.cert, .cert_pem = f->node_a.cert,
                       .key_pem = f->node_a.key, .crl_pem = crl};
  return tls_config_new(&cfg, &o, err, errlen) == 0 ? cfg : NULL;
}

static void a_revoked_peer_is_refused_as_revoked_either_way(void **state) {
  fixture *f = *state;
  const pem_pair *rev[] = {&f->node_b};
  char *crl = crl_of(&f->ca, rev, 1, time(NULL) + 86400);
  char err[256];
  tls_config *a = with_crl(f, crl, err, sizeof(err));
  assert_non_null(a);
  tls_crl_info ci;
  tls_config_crl_info(a, &ci);
  assert_true(ci.loaded);
  assert_false(ci.expired);
  assert_int_equal(1, ci.entries);
  pair p;
  pair_open(&p, f->b, a, NULL); /* node-b dials: refused */
  assert_tr(TR_ETLS, p.rc_sv);
  assert_reason(TLS_FAIL_REVOKED, p.sv);
  assert_non_null(strstr(tls_conn_fail_detail(p.sv), "revoked"));
  assert_tr(TR_ETLS, p.rc_cl);
  assert_non_null(strstr(tls_conn_fail_detail(p.cl), "certificate_revoked"));
  pair_close(&p);
  pair_open(&p, a, f->b, NULL); /* node-a dials node-b: refuses it */
  assert_tr(TR_ETLS, p.rc_cl);
  assert_reason(TLS_FAIL_REVOKED, p.cl);
  pair_close(&p);
  pair_open(&p, f->a2, a, NULL); /* another node-a certificate: fine */
  assert_tr(0, p.rc_sv);
  assert_tr(0, p.rc_cl);
  pair_close(&p);
  tls_config_free(a);
  free(crl);
}

static void an_expired_list_still_revokes_and_says_it_expired(void **state) {
  fixture *f = *state;
  const pem_pair *rev[] = {&f->node_b};
  char *crl = crl_of(&f->ca, rev, 1, time(NULL) - 60);
  char err[256];
  tls_config *a = with_crl(f, crl, err, sizeof(err));
  assert_non_null(a);
  tls_crl_info ci;
  tls_config_crl_info(a, &ci);
  assert_true(ci.expired);
  assert_true(ci.next_update > 0 && ci.next_update < (int64_t)time(NULL));
  pair p;
  pair_open(&p, f->b, a, NULL);
  assert_reason(TLS_FAIL_REVOKED, p.sv);
  pair_close(&p);
  pair_open(&p, f->a2, a, NULL); /* not everyone refused, as mbedTLS would */
  assert_tr(0, p.rc_sv);
  pair_close(&p);
  tls_config_free(a);
  free(crl);
}

static void a_list_not_of_the_ca_is_refused_at_load(void **state) {
  fixture *f = *state;
  const pem_pair *rev[] = {&f->node_b};
  char *other = crl_of(&f->other_ca, rev, 1, time(NULL) + 86400);
  char err[256];
  assert_null(with_crl(f, other, err, sizeof(err)));
  assert_non_null(strstr(err, "crl_file"));
  assert_non_null(strstr(err, "not a revocation list of ca_file's CA"));
  assert_null(with_crl(f, "-----BEGIN X509 CRL-----\nAAAA\n", err,
                       sizeof(err)));
  assert_non_null(strstr(err, "crl_file"));
  tls_config *cfg = NULL;
  tls_config_opts o = {.ca_pem = f->ca.cert, .cert_pem = f->node_a.cert,
                       .key_pem = f->node_a.key,
                       .crl_file = "/nonexistent/crl.pem"};
  assert_tr(TR_EINVAL, tls_config_new(&cfg, &o, err, sizeof(err)));
  assert_non_null(strstr(err, "/nonexistent/crl.pem"));
  free(other);
}

static void a_reloaded_list_revokes_connections_already_up(void **state) {
  fixture *f = *state;
  pair p;
  pair_open(&p, f->b, f->a, NULL);
  assert_tr(0, p.rc_sv);
  const pem_pair *rev[] = {&f->node_b};
  char *crl = crl_of(&f->ca, rev, 1, time(NULL) + 86400);
  char err[256];
  tls_config *a = with_crl(f, crl, err, sizeof(err));
  assert_non_null(a);
  assert_true(tls_conn_peer_revoked(p.sv, a));
  assert_false(tls_conn_peer_revoked(p.sv, f->a));
  assert_false(tls_conn_peer_revoked(p.cl, a)); /* node-a is not listed */
  pair_close(&p);
  /* A revoked node's proofs no longer check either. */
  uint8_t proof[1024];
  size_t plen = 0;
  assert_tr(0, tls_prove(f->b, "x", 1, proof, sizeof(proof), &plen));
  assert_true(tls_proof_check(f->a, "node-b", "x", 1, proof, plen));
  assert_false(tls_proof_check(a, "node-b", "x", 1, proof, plen));
  tls_config_free(a);
  free(crl);
}

static void fail_names_are_stable(void **state) {
  assert_string_equal("no_cert", tls_fail_name(TLS_FAIL_NO_CERT));
  assert_string_equal("untrusted", tls_fail_name(TLS_FAIL_UNTRUSTED));
  assert_string_equal("expired", tls_fail_name(TLS_FAIL_EXPIRED));
  assert_string_equal("revoked", tls_fail_name(TLS_FAIL_REVOKED));
  assert_string_equal("name_mismatch", tls_fail_name(TLS_FAIL_NAME_MISMATCH));
  assert_string_equal("not_tls", tls_fail_name(TLS_FAIL_NOT_TLS));
  assert_string_equal("timeout", tls_fail_name(TLS_FAIL_TIMEOUT));
  assert_string_equal("protocol", tls_fail_name(TLS_FAIL_PROTOCOL));
  assert_string_equal("unknown", tls_fail_name(TLS_FAIL_COUNT));
}

/* Every test starts on the real clock, even after one failed mid-way. */
static int reset_clock(void **state) {
  clock_offset = 0;
  return 0;
}

#define TEST(name) cmocka_unit_test_setup(name, reset_clock)

int main(void) {
  const struct CMUnitTest tests[] = {
      TEST(full_handshake_succeeds_both_ways_with_chacha20),
      TEST(handshake_completes_when_fed_one_byte_at_a_time),
      TEST(data_flows_both_ways_including_one_mebibyte),
      TEST(write_splits_large_payloads_into_16k_records),
      TEST(client_without_certificate_is_refused_with_no_cert),
      TEST(client_from_another_ca_is_refused_as_untrusted),
      TEST(server_from_another_ca_is_refused_as_untrusted),
      TEST(expired_certificate_is_refused_as_expired),
      TEST(plaintext_http_request_is_refused_as_not_tls),
      TEST(garbage_from_the_server_is_refused_as_not_tls),
      TEST(garbage_after_the_handshake_fails_read_with_etls),
      TEST(random_records_fail_cleanly_at_any_stage),
      TEST(tampered_record_fails_read_with_protocol),
      TEST(peer_is_accepts_cn_and_dns_sans_and_nothing_else),
      TEST(client_certificate_may_dial_but_not_serve),
      TEST(roles_come_from_the_ou_and_the_key_usage_together),
      TEST(only_a_node_certificate_may_go_by_a_node_name),
      TEST(saved_session_resumes_with_fewer_round_trips_and_bytes),
      TEST(data_sent_as_soon_as_the_client_resumed_reaches_the_server),
      TEST(session_from_another_server_falls_back_to_a_full_handshake),
      TEST(expired_ticket_falls_back_to_a_full_handshake),
      TEST(certificate_expired_since_the_session_is_refused_on_resume),
      TEST(sessions_are_saved_only_by_finished_clients),
      TEST(close_notify_makes_the_peer_read_eclosed),
      TEST(calls_out_of_order_return_einval),
      TEST(config_errors_name_the_file_and_return_einval),
      TEST(config_loads_pem_files),
      TEST(a_revoked_peer_is_refused_as_revoked_either_way),
      TEST(an_expired_list_still_revokes_and_says_it_expired),
      TEST(a_list_not_of_the_ca_is_refused_at_load),
      TEST(a_reloaded_list_revokes_connections_already_up),
      TEST(fail_names_are_stable),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
