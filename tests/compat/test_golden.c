/* test_golden.c — the compatibility corpus (issue 20, item 4;
 * docs/transport.md, "Versions"): frames of every kind as wire version 1
 * wrote them, committed under tests/compat/golden/, decoded by this build
 * and checked field by field. A change that cannot read one of them breaks
 * nodes of the previous version: it must raise WIRE_VERSION and keep
 * reading the old frames (add a new golden file; never edit an old one).
 *
 *   test_golden DIR          decode and check every golden frame in DIR
 *   test_golden --write DIR  write them (only for a new file: the existing
 *                            ones are history)
 *
 * Each frame is made from the constants below, so the check also names
 * what it expects. The current encoder's bytes are compared too, and a
 * difference is printed (not a failure: an encoder may change as long as
 * every old frame still reads). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pb_decode.h>
#include <pb_encode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "troupe.h"
#include "wire.h"

/* The values every golden frame carries. */
#define G_NODE "n-golden"
#define G_INCARNATION 1765000000123ull
#define G_ORDER_TAG 0x2b1fe3a5u /* any fixed tag: the value travels as is */
static const uint8_t G_PROOF[] = {0xde, 0xad, 0xbe, 0xef};

static const char *dir;
static bool writing;

/* ---- files ---------------------------------------------------------------- */

static void put(const char *name, const uint8_t *frame, int len) {
  assert_true(len > 0);
  char path[512];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  if (writing) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(frame, 1, (size_t)len, f), (size_t)len);
    fclose(f);
  }
}

/* Reads DIR/name into buf: its length. */
static size_t get(const char *name, uint8_t *buf, size_t cap) {
  char path[512];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  FILE *f = fopen(path, "rb");
  if (!f) fail_msg("golden frame %s missing", path);
  size_t n = fread(buf, 1, cap, f);
  fclose(f);
  return n;
}

/* The body of a framed message of `kind`. */
static const uint8_t *body_of(const uint8_t *frame, size_t len,
                              troupe_FrameKind kind, size_t *blen) {
  assert_true(len >= 5);
  uint32_t n = (uint32_t)frame[0] << 24 | (uint32_t)frame[1] << 16 |
               (uint32_t)frame[2] << 8 | frame[3];
  assert_int_equal(n + 4, len);
  assert_int_equal(frame[4], kind);
  *blen = n - 1;
  return frame + 5;
}

/* Writes (with --write) or reads the golden frame; `made` is this build's
 * encoding of the same values. Returns the golden bytes' length. */
static size_t golden(const char *name, const uint8_t *made, int made_len,
                     uint8_t *buf, size_t cap) {
  put(name, made, made_len);
  size_t n = get(name, buf, cap);
  if (n != (size_t)made_len || memcmp(buf, made, n) != 0)
    print_message("note: %s: this build encodes it differently (%d bytes, "
                  "golden %zu): fine while the golden one decodes\n",
                  name, made_len, n);
  return n;
}

static bool slice_is(wire_slice s, const char *want) {
  return s.len == strlen(want) && memcmp(s.p, want, s.len) == 0;
}

/* ---- link frames ------------------------------------------------------------ */

static void test_hello(void **st) {
  (void)st;
  troupe_Hello h = troupe_Hello_init_zero;
  h.has_version = h.has_node = h.has_incarnation = h.has_session = true;
  h.has_peer_session = h.has_recv_seq = h.has_max_frame = true;
  h.has_features = true;
  h.version = 1;
  strcpy(h.node, G_NODE);
  h.incarnation = G_INCARNATION;
  h.session = 42;
  h.peer_session = 41;
  h.recv_seq = 7;
  h.max_frame = 4u << 20;
  h.features = WIRE_FEATURE_CREDIT;
  uint8_t made[256], buf[256];
  int m = wire_encode_control(made, sizeof(made), troupe_FrameKind_FRAME_HELLO,
                              &h);
  size_t n = golden("hello.bin", made, m, buf, sizeof(buf)), blen;
  const uint8_t *b = body_of(buf, n, troupe_FrameKind_FRAME_HELLO, &blen);
  troupe_Hello d = troupe_Hello_init_zero;
  assert_int_equal(wire_decode_control(troupe_FrameKind_FRAME_HELLO, b, blen,
                                       &d),
                   0);
  assert_int_equal(d.version, 1);
  assert_string_equal(d.node, G_NODE);
  assert_true(d.incarnation == G_INCARNATION);
  assert_int_equal(d.session, 42);
  assert_int_equal(d.peer_session, 41);
  assert_int_equal(d.recv_seq, 7);
  assert_int_equal(d.max_frame, 4u << 20);
  assert_int_equal(d.features, WIRE_FEATURE_CREDIT);
}

typedef struct env_case {
  const char *file;
  wire_envelope e;
} env_case;

static wire_slice sl(const char *s) {
  return (wire_slice){(const uint8_t *)s, s ? strlen(s) : 0};
}

static void check_env(const env_case *k) {
  uint8_t made[512], buf[512];
  int m = wire_encode_envelope(made, sizeof(made), 4u << 20, &k->e);
  size_t n = golden(k->file, made, m, buf, sizeof(buf)), blen;
  const uint8_t *b = body_of(buf, n, troupe_FrameKind_FRAME_ENVELOPE, &blen);
  wire_envelope d;
  assert_int_equal(wire_decode_envelope(b, blen, &d), 0);
  assert_int_equal(d.type, k->e.type);
  assert_true(d.sender.len == k->e.sender.len &&
              (!d.sender.len ||
               memcmp(d.sender.p, k->e.sender.p, d.sender.len) == 0));
  assert_true(slice_is(d.target, (const char *)k->e.target.p));
  assert_int_equal(d.topic.len, k->e.topic.len);
  if (d.topic.len)
    assert_memory_equal(d.topic.p, k->e.topic.p, d.topic.len);
  assert_int_equal(d.payload.len, k->e.payload.len);
  if (d.payload.len)
    assert_memory_equal(d.payload.p, k->e.payload.p, d.payload.len);
  assert_true(d.ask_id == k->e.ask_id);
  assert_int_equal(d.status, k->e.status);
  assert_true(d.seq == k->e.seq);
  assert_int_equal(d.timeout_ms, k->e.timeout_ms);
  assert_int_equal(d.msg_type, k->e.msg_type);
}

static void test_envelopes(void **st) {
  (void)st;
  const env_case cases[] = {
      {"env_send.bin", {.type = TR_MSG_SEND, .sender = sl("alice"),
                        .target = sl("bob"), .payload = sl("hello"),
                        .seq = 5}},
      {"env_send_anonymous.bin", {.type = TR_MSG_SEND, .target = sl("bob"),
                                  .payload = sl("from outside"), .seq = 6}},
      {"env_ask.bin", {.type = TR_MSG_ASK, .sender = sl("alice"),
                       .target = sl("bob"), .payload = sl("q"),
                       .ask_id = 77, .seq = 7, .timeout_ms = 1500}},
      {"env_reply.bin", {.type = TR_MSG_REPLY, .sender = sl("bob"),
                         .target = sl("alice"), .payload = sl("a"),
                         .ask_id = 77, .status = TR_ETIMEDOUT, .seq = 8}},
      {"env_publish.bin", {.type = TR_MSG_PUBLISH, .sender = sl("ticker"),
                           .target = sl("ticker"), .topic = sl("prices"),
                           .payload = sl("1.0842"), .seq = 9}},
      {"env_down.bin", {.type = TR_MSG_DOWN, .sender = sl("bob"),
                        .target = sl("alice"), .status = TR_EUNREACHABLE,
                        .seq = 10}},
      {"env_tagged.bin", {.type = TR_MSG_SEND, .sender = sl("alice"),
                          .target = sl("shop"), .payload = sl("\x08\x07"),
                          .seq = 11, .msg_type = G_ORDER_TAG}},
      /* Cluster envelope types (node/cluster/host.h HOST_ENV_*). */
      {"env_monitor.bin", {.type = 64, .sender = sl("alice"),
                           .target = sl("bob"), .seq = 12}},
      {"env_failed.bin", {.type = 67, .sender = sl("alice"),
                          .target = sl("bob"), .status = TR_EFULL,
                          .seq = 13}},
      {"env_sub.bin", {.type = 68, .sender = sl("ticker"),
                       .target = sl("ticker"), .topic = sl(""), .seq = 14}},
      {"env_credit.bin", {.type = 70, .target = sl("bob"), .ask_id = 64,
                          .seq = 15}},
      {"env_group.bin", {.type = 71, .sender = sl("alice"),
                         .target = sl("workers"), .payload = sl("job"),
                         .seq = 16}},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    check_env(&cases[i]);
}

static void test_controls(void **st) {
  (void)st;
  uint8_t made[256], buf[256];
  size_t n, blen;
  const uint8_t *b;

  troupe_Ack a = {.has_seq = true, .seq = 99};
  int m = wire_encode_control(made, sizeof(made), troupe_FrameKind_FRAME_ACK,
                              &a);
  n = golden("ack.bin", made, m, buf, sizeof(buf));
  b = body_of(buf, n, troupe_FrameKind_FRAME_ACK, &blen);
  troupe_Ack ad = troupe_Ack_init_zero;
  assert_int_equal(wire_decode_control(troupe_FrameKind_FRAME_ACK, b, blen,
                                       &ad), 0);
  assert_int_equal(ad.seq, 99);

  troupe_Ping p = {.has_nonce = true, .nonce = 5, .has_sent_ns = true,
                   .sent_ns = 123456789};
  m = wire_encode_control(made, sizeof(made), troupe_FrameKind_FRAME_PING, &p);
  n = golden("ping.bin", made, m, buf, sizeof(buf));
  b = body_of(buf, n, troupe_FrameKind_FRAME_PING, &blen);
  troupe_Ping pd = troupe_Ping_init_zero;
  assert_int_equal(wire_decode_control(troupe_FrameKind_FRAME_PING, b, blen,
                                       &pd), 0);
  assert_int_equal(pd.nonce, 5);
  assert_int_equal(pd.sent_ns, 123456789);

  troupe_Pong q = {.has_nonce = true, .nonce = 5, .has_sent_ns = true,
                   .sent_ns = 123456789};
  m = wire_encode_control(made, sizeof(made), troupe_FrameKind_FRAME_PONG, &q);
  n = golden("pong.bin", made, m, buf, sizeof(buf));
  b = body_of(buf, n, troupe_FrameKind_FRAME_PONG, &blen);
  troupe_Pong qd = troupe_Pong_init_zero;
  assert_int_equal(wire_decode_control(troupe_FrameKind_FRAME_PONG, b, blen,
                                       &qd), 0);
  assert_int_equal(qd.nonce, 5);

  troupe_Close c = troupe_Close_init_zero;
  c.has_reason = c.has_detail = true;
  c.reason = TR_ETLS;
  strcpy(c.detail, "wire version 3 not spoken here");
  m = wire_encode_control(made, sizeof(made), troupe_FrameKind_FRAME_CLOSE,
                          &c);
  n = golden("close.bin", made, m, buf, sizeof(buf));
  b = body_of(buf, n, troupe_FrameKind_FRAME_CLOSE, &blen);
  troupe_Close cd = troupe_Close_init_zero;
  assert_int_equal(wire_decode_control(troupe_FrameKind_FRAME_CLOSE, b, blen,
                                       &cd), 0);
  assert_int_equal(cd.reason, TR_ETLS);
  assert_string_equal(cd.detail, "wire version 3 not spoken here");
}

/* ---- cluster frames ----------------------------------------------------------- */

static void test_swim(void **st) {
  (void)st;
  swim_update u = {.epoch = 1700000000000ull, .incarnation = 4,
                   .state = SWIM_SUSPECT, .proof = G_PROOF,
                   .proof_len = sizeof(G_PROOF)};
  strcpy(u.name, "n3");
  strcpy(u.addr, "10.0.0.3:7000");
  swim_msg s = {.type = SWIM_MSG_PING_REQ, .seq = 9, .updates = &u,
                .nupdates = 1};
  strcpy(s.sender, "n1");
  strcpy(s.target, "n2");
  troupe_SwimMsg pb;
  assert_int_equal(ccodec_swim_prepare(&pb, &s), 0);
  uint8_t made[1024], buf[1024];
  int m = wire_encode_msg(made, sizeof(made), troupe_FrameKind_FRAME_SWIM,
                          troupe_SwimMsg_fields, &pb);
  size_t n = golden("swim.bin", made, m, buf, sizeof(buf)), blen;
  const uint8_t *b = body_of(buf, n, troupe_FrameKind_FRAME_SWIM, &blen);
  ccodec_scratch sc = CCODEC_SCRATCH_INIT;
  swim_msg d;
  assert_int_equal(ccodec_swim_decode(b, blen, &d, &sc), 0);
  assert_int_equal(d.type, SWIM_MSG_PING_REQ);
  assert_string_equal(d.sender, "n1");
  assert_string_equal(d.target, "n2");
  assert_int_equal(d.seq, 9);
  assert_int_equal(d.nupdates, 1);
  assert_string_equal(d.updates[0].name, "n3");
  assert_string_equal(d.updates[0].addr, "10.0.0.3:7000");
  assert_true(d.updates[0].epoch == 1700000000000ull);
  assert_int_equal(d.updates[0].incarnation, 4);
  assert_int_equal(d.updates[0].state, SWIM_SUSPECT);
  assert_int_equal(d.updates[0].proof_len, sizeof(G_PROOF));
  assert_memory_equal(d.updates[0].proof, G_PROOF, sizeof(G_PROOF));
  ccodec_scratch_free(&sc);
}

static void test_registry(void **st) {
  (void)st;
  reg_delta dl[3];
  memset(dl, 0, sizeof(dl));
  const char *ids[3] = {"alice", "bob", "$g:workers alice"};
  for (int i = 0; i < 3; i++) {
    strcpy(dl[i].owner, "n1");
    strcpy(dl[i].id, ids[i]);
    dl[i].epoch = 5;
    dl[i].version = 10 + (uint64_t)i;
    dl[i].removed = i == 1;
    dl[i].since = i == 1 ? 0 : 1765000000000ull + (uint64_t)i;
  }
  reg_seal seal = {.epoch = 5, .first = 10, .last = 12, .proof = G_PROOF,
                   .proof_len = sizeof(G_PROOF)};
  strcpy(seal.owner, "n1");
  reg_msg r = {.type = REG_MSG_DELTAS, .deltas = dl, .ndeltas = 3,
               .seals = &seal, .nseals = 1};
  strcpy(r.sender, "n1");
  troupe_RegMsg pb;
  assert_int_equal(ccodec_reg_prepare(&pb, &r), 0);
  uint8_t made[2048], buf[2048];
  int m = wire_encode_msg(made, sizeof(made), troupe_FrameKind_FRAME_REGISTRY,
                          troupe_RegMsg_fields, &pb);
  size_t n = golden("reg_deltas.bin", made, m, buf, sizeof(buf)), blen;
  const uint8_t *b = body_of(buf, n, troupe_FrameKind_FRAME_REGISTRY, &blen);
  ccodec_scratch sc = CCODEC_SCRATCH_INIT;
  reg_msg d;
  assert_int_equal(ccodec_reg_decode(b, blen, &d, &sc), 0);
  assert_int_equal(d.type, REG_MSG_DELTAS);
  assert_string_equal(d.sender, "n1");
  assert_int_equal(d.ndeltas, 3);
  for (int i = 0; i < 3; i++) {
    assert_string_equal(d.deltas[i].owner, "n1");
    assert_string_equal(d.deltas[i].id, ids[i]);
    assert_true(d.deltas[i].epoch == 5);
    assert_true(d.deltas[i].version == 10 + (uint64_t)i);
    assert_int_equal(d.deltas[i].removed, i == 1);
    assert_true(d.deltas[i].since == dl[i].since);
  }
  assert_int_equal(d.nseals, 1);
  assert_string_equal(d.seals[0].owner, "n1");
  assert_true(d.seals[0].first == 10 && d.seals[0].last == 12);
  assert_int_equal(d.seals[0].proof_len, sizeof(G_PROOF));
  assert_memory_equal(d.seals[0].proof, G_PROOF, sizeof(G_PROOF));

  /* A digest. */
  reg_digest dg[2];
  memset(dg, 0, sizeof(dg));
  strcpy(dg[0].owner, "n1");
  dg[0].epoch = 5;
  dg[0].version = 12;
  strcpy(dg[1].owner, "n2");
  dg[1].epoch = 6;
  dg[1].version = 3;
  reg_msg g = {.type = REG_MSG_DIGEST, .digests = dg, .ndigests = 2};
  strcpy(g.sender, "n1");
  assert_int_equal(ccodec_reg_prepare(&pb, &g), 0);
  m = wire_encode_msg(made, sizeof(made), troupe_FrameKind_FRAME_REGISTRY,
                      troupe_RegMsg_fields, &pb);
  n = golden("reg_digest.bin", made, m, buf, sizeof(buf));
  b = body_of(buf, n, troupe_FrameKind_FRAME_REGISTRY, &blen);
  assert_int_equal(ccodec_reg_decode(b, blen, &d, &sc), 0);
  assert_int_equal(d.type, REG_MSG_DIGEST);
  assert_int_equal(d.ndigests, 2);
  assert_string_equal(d.digests[1].owner, "n2");
  assert_true(d.digests[1].epoch == 6 && d.digests[1].version == 3);
  assert_true(d.digests[0].version == 12);
  ccodec_scratch_free(&sc);
}

/* ---- operator frames ------------------------------------------------------------ */

static bool enc_bytes(pb_ostream_t *s, const pb_field_t *f, void *const *arg) {
  const char *str = *arg;
  return pb_encode_tag_for_field(s, f) &&
         pb_encode_string(s, (const pb_byte_t *)str, strlen(str));
}

static bool dec_bytes(pb_istream_t *s, const pb_field_t *f, void **arg) {
  (void)f;
  char *out = *arg;
  size_t n = s->bytes_left;
  if (n > 63) return false;
  if (!pb_read(s, (pb_byte_t *)out, n)) return false;
  out[n] = '\0';
  return true;
}

static void test_operator(void **st) {
  (void)st;
  uint8_t made[2048], buf[2048];
  size_t n, blen;
  const uint8_t *b;

  troupe_OpRequest q = troupe_OpRequest_init_zero;
  q.has_verb = q.has_id = q.has_target = q.has_timeout_ms = true;
  q.verb = troupe_OpVerb_OP_ASK;
  q.id = 3;
  strcpy(q.target, "echo1");
  q.timeout_ms = 2000;
  q.data.funcs.encode = enc_bytes;
  q.data.arg = (void *)"ping";
  int m = wire_encode_msg(made, sizeof(made), troupe_FrameKind_FRAME_OPERATOR,
                          troupe_OpRequest_fields, &q);
  n = golden("op_request_ask.bin", made, m, buf, sizeof(buf));
  b = body_of(buf, n, troupe_FrameKind_FRAME_OPERATOR, &blen);
  troupe_OpRequest qd = troupe_OpRequest_init_zero;
  char data[64] = "";
  qd.data.funcs.decode = dec_bytes;
  qd.data.arg = data;
  pb_istream_t is = pb_istream_from_buffer(b, blen);
  assert_true(pb_decode_ex(&is, troupe_OpRequest_fields, &qd,
                           PB_DECODE_NOINIT));
  assert_int_equal(qd.verb, troupe_OpVerb_OP_ASK);
  assert_int_equal(qd.id, 3);
  assert_string_equal(qd.target, "echo1");
  assert_int_equal(qd.timeout_ms, 2000);
  assert_string_equal(data, "ping");

  troupe_OpRequest g = troupe_OpRequest_init_zero;
  g.has_verb = g.has_id = g.has_group = true;
  g.verb = troupe_OpVerb_OP_SEND;
  g.id = 4;
  strcpy(g.group, "workers");
  g.data.funcs.encode = enc_bytes;
  g.data.arg = (void *)"job";
  m = wire_encode_msg(made, sizeof(made), troupe_FrameKind_FRAME_OPERATOR,
                      troupe_OpRequest_fields, &g);
  n = golden("op_request_group.bin", made, m, buf, sizeof(buf));
  b = body_of(buf, n, troupe_FrameKind_FRAME_OPERATOR, &blen);
  troupe_OpRequest gd = troupe_OpRequest_init_zero;
  data[0] = '\0';
  gd.data.funcs.decode = dec_bytes;
  gd.data.arg = data;
  is = pb_istream_from_buffer(b, blen);
  assert_true(pb_decode_ex(&is, troupe_OpRequest_fields, &gd,
                           PB_DECODE_NOINIT));
  assert_int_equal(gd.verb, troupe_OpVerb_OP_SEND);
  assert_true(gd.has_group);
  assert_string_equal(gd.group, "workers");
  assert_string_equal(data, "job");

  static troupe_OpReply r, rd;
  r = (troupe_OpReply)troupe_OpReply_init_zero;
  r.has_id = r.has_status = r.has_from = r.has_node = r.has_more = true;
  r.id = 3;
  r.status = 0;
  strcpy(r.from, "echo1");
  strcpy(r.node, "n1");
  r.more = false;
  r.body.funcs.encode = enc_bytes;
  r.body.arg = (void *)"pong";
  r.actors_count = 1;
  r.actors[0] = (troupe_OpActor)troupe_OpActor_init_zero;
  r.actors[0].has_id = r.actors[0].has_node = r.actors[0].has_group = true;
  strcpy(r.actors[0].id, "w1");
  strcpy(r.actors[0].node, "n2");
  strcpy(r.actors[0].group, "workers");
  m = wire_encode_msg(made, sizeof(made),
                      troupe_FrameKind_FRAME_OPERATOR_REPLY,
                      troupe_OpReply_fields, &r);
  n = golden("op_reply.bin", made, m, buf, sizeof(buf));
  b = body_of(buf, n, troupe_FrameKind_FRAME_OPERATOR_REPLY, &blen);
  rd = (troupe_OpReply)troupe_OpReply_init_zero;
  data[0] = '\0';
  rd.body.funcs.decode = dec_bytes;
  rd.body.arg = data;
  is = pb_istream_from_buffer(b, blen);
  assert_true(pb_decode_ex(&is, troupe_OpReply_fields, &rd,
                           PB_DECODE_NOINIT));
  assert_int_equal(rd.id, 3);
  assert_string_equal(rd.from, "echo1");
  assert_string_equal(rd.node, "n1");
  assert_string_equal(data, "pong");
  assert_int_equal(rd.actors_count, 1);
  assert_string_equal(rd.actors[0].group, "workers");
  assert_string_equal(rd.actors[0].id, "w1");
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "--write") == 0) {
    writing = true;
    dir = argv[2];
  } else if (argc == 2) {
    dir = argv[1];
  } else {
    fprintf(stderr, "usage: test_golden [--write] DIR\n");
    return 2;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hello),     cmocka_unit_test(test_envelopes),
      cmocka_unit_test(test_controls),  cmocka_unit_test(test_swim),
      cmocka_unit_test(test_registry),  cmocka_unit_test(test_operator),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
