/* test_wire.c — the wire format: envelope and control frames round-trip,
 * payloads decode in place, the reader splits streams into frames and
 * rejects malformed ones, and random input never breaks the decoders. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "troupe.h"
#include "wire.h"

#define assert_tr(expected, actual)                                         \
  do {                                                                      \
    int e_ = (expected), a_ = (actual);                                     \
    if (e_ != a_) fail_msg("expected %s (%d), got %s (%d)", tr_errname(e_), \
                           e_, tr_errname(a_), a_);                         \
  } while (0)

static wire_slice sl(const char *s) {
  return (wire_slice){(const uint8_t *)s, strlen(s)};
}

static void envelope_round_trips_and_payload_points_into_the_frame(void **st) {
  uint8_t buf[512];
  char payload[64];
  for (size_t i = 0; i < sizeof(payload); i++) payload[i] = (char)i;
  wire_envelope e = {.type = TR_MSG_ASK, .sender = sl("alice"),
                     .target = sl("billing"), .topic = sl("EURUSD"),
                     .payload = {(const uint8_t *)payload, sizeof(payload)},
                     .ask_id = 77, .status = -7, .seq = 123456789012ull,
                     .timeout_ms = 250000};
  int n = wire_encode_envelope(buf, sizeof(buf), WIRE_MAX_FRAME_DEFAULT, &e);
  assert_true(n > (int)WIRE_HDR);
  assert_true((size_t)n <= wire_envelope_bound(&e));

  wire_reader r;
  wire_reader_init(&r, 0);
  assert_tr(0, wire_reader_feed(&r, buf, (size_t)n));
  wire_frame f;
  assert_int_equal(1, wire_reader_next(&r, &f));
  assert_int_equal(troupe_FrameKind_FRAME_ENVELOPE, f.kind);
  wire_envelope d;
  assert_tr(0, wire_decode_envelope(f.body, f.len, &d));
  assert_int_equal(TR_MSG_ASK, d.type);
  assert_int_equal(5, d.sender.len);
  assert_memory_equal("alice", d.sender.p, 5);
  assert_memory_equal("billing", d.target.p, 7);
  assert_memory_equal("EURUSD", d.topic.p, 6);
  assert_int_equal(sizeof(payload), d.payload.len);
  assert_memory_equal(payload, d.payload.p, sizeof(payload));
  assert_true(d.payload.p >= f.body && d.payload.p < f.body + f.len);
  assert_int_equal(77, d.ask_id);
  assert_int_equal(-7, d.status);
  assert_true(d.seq == 123456789012ull);
  assert_int_equal(250000, d.timeout_ms);
  assert_int_equal(0, wire_reader_next(&r, &f));
  wire_reader_free(&r);
}

static void absent_sender_and_default_topic_stay_distinct(void **st) {
  uint8_t buf[128];
  wire_envelope e = {.type = TR_MSG_PUBLISH, .target = sl("sub"),
                     .topic = sl("")};
  int n = wire_encode_envelope(buf, sizeof(buf), WIRE_MAX_FRAME_DEFAULT, &e);
  assert_true(n > 0);
  wire_envelope d;
  assert_tr(0, wire_decode_envelope(buf + WIRE_HDR, (size_t)n - WIRE_HDR, &d));
  assert_false(d.has_sender);
  assert_true(d.has_topic);
  assert_int_equal(0, d.topic.len);
  assert_int_equal(0, d.payload.len);
}

static void control_frames_round_trip(void **st) {
  uint8_t buf[512];
  troupe_Hello h = troupe_Hello_init_zero;
  h.has_version = h.has_node = h.has_incarnation = h.has_recv_seq = true;
  h.version = WIRE_VERSION;
  strcpy(h.node, "node-a");
  h.incarnation = 42;
  h.recv_seq = 99;
  int n = wire_encode_control(buf, sizeof(buf), troupe_FrameKind_FRAME_HELLO, &h);
  assert_true(n > 0);
  assert_int_equal(troupe_FrameKind_FRAME_HELLO, buf[4]);
  troupe_Hello d = troupe_Hello_init_zero;
  assert_tr(0, wire_decode_control(troupe_FrameKind_FRAME_HELLO, buf + WIRE_HDR,
                                   (size_t)n - WIRE_HDR, &d));
  assert_string_equal("node-a", d.node);
  assert_int_equal(42, d.incarnation);
  assert_int_equal(99, d.recv_seq);

  troupe_Ack a = {.has_seq = true, .seq = 1u << 20};
  n = wire_encode_control(buf, sizeof(buf), troupe_FrameKind_FRAME_ACK, &a);
  troupe_Ack ad = troupe_Ack_init_zero;
  assert_tr(0, wire_decode_control(troupe_FrameKind_FRAME_ACK, buf + WIRE_HDR,
                                   (size_t)n - WIRE_HDR, &ad));
  assert_int_equal(1u << 20, ad.seq);
  assert_tr(TR_EINVAL, wire_encode_control(buf, sizeof(buf),
                                           troupe_FrameKind_FRAME_ENVELOPE, &a));
}

static void encoding_into_a_small_buffer_returns_efull(void **st) {
  uint8_t buf[32];
  char payload[100] = {0};
  wire_envelope e = {.target = sl("t"),
                     .payload = {(const uint8_t *)payload, sizeof(payload)}};
  assert_tr(TR_EFULL, wire_encode_envelope(buf, sizeof(buf),
                                           WIRE_MAX_FRAME_DEFAULT, &e));
  assert_tr(TR_EFULL, wire_encode_envelope(buf, 3, WIRE_MAX_FRAME_DEFAULT, &e));
}

static void envelope_larger_than_max_frame_returns_etoobig(void **st) {
  size_t big = 8192;
  uint8_t *payload = calloc(1, big), *buf = malloc(big + 256);
  wire_envelope e = {.target = sl("t"), .payload = {payload, big}};
  assert_tr(TR_ETOOBIG, wire_encode_envelope(buf, big + 256, 4096, &e));
  e.payload.len = 4096 - 3; /* the data fits, the encoded frame does not */
  assert_tr(TR_ETOOBIG, wire_encode_envelope(buf, big + 256, 4096, &e));
  e.payload.len = 1000;
  assert_true(wire_encode_envelope(buf, big + 256, 4096, &e) > 1000);
  free(payload);
  free(buf);
}

static void reader_reassembles_frames_fed_one_byte_at_a_time(void **st) {
  uint8_t stream[4096];
  size_t len = 0;
  for (int i = 0; i < 20; i++) {
    char tgt[16];
    snprintf(tgt, sizeof(tgt), "a%d", i);
    wire_envelope e = {.target = sl(tgt), .seq = (uint64_t)i + 1};
    int n = wire_encode_envelope(stream + len, sizeof(stream) - len,
                                 WIRE_MAX_FRAME_DEFAULT, &e);
    assert_true(n > 0);
    len += (size_t)n;
  }
  wire_reader r;
  wire_reader_init(&r, 0);
  int got = 0;
  for (size_t i = 0; i < len; i++) {
    assert_tr(0, wire_reader_feed(&r, stream + i, 1));
    wire_frame f;
    int rc;
    while ((rc = wire_reader_next(&r, &f)) == 1) {
      wire_envelope d;
      assert_tr(0, wire_decode_envelope(f.body, f.len, &d));
      assert_int_equal(++got, d.seq);
    }
    assert_tr(0, rc);
  }
  assert_int_equal(20, got);
  wire_reader_free(&r);
}

static void oversized_length_is_refused_before_buffering(void **st) {
  wire_reader r;
  wire_reader_init(&r, 1u << 20);
  const uint8_t hdr[4] = {0x00, 0x50, 0x00, 0x00}; /* 5 MiB */
  assert_tr(0, wire_reader_feed(&r, hdr, sizeof(hdr)));
  wire_frame f;
  assert_tr(TR_ETOOBIG, wire_reader_next(&r, &f));
  assert_true(r.cap < 64 * 1024); /* nothing sized by the hostile length */
  wire_reader_free(&r);
}

static void zero_length_frame_is_malformed(void **st) {
  wire_reader r;
  wire_reader_init(&r, 0);
  const uint8_t z[4] = {0, 0, 0, 0};
  wire_reader_feed(&r, z, 4);
  wire_frame f;
  assert_tr(TR_EINVAL, wire_reader_next(&r, &f));
  wire_reader_free(&r);
}

static void truncated_frame_waits_for_more_bytes(void **st) {
  uint8_t buf[64];
  wire_envelope e = {.target = sl("x"), .payload = sl("hello")};
  int n = wire_encode_envelope(buf, sizeof(buf), WIRE_MAX_FRAME_DEFAULT, &e);
  wire_reader r;
  wire_reader_init(&r, 0);
  wire_reader_feed(&r, buf, (size_t)n - 1);
  wire_frame f;
  assert_int_equal(0, wire_reader_next(&r, &f));
  wire_reader_feed(&r, buf + n - 1, 1);
  assert_int_equal(1, wire_reader_next(&r, &f));
  wire_reader_free(&r);
}

static void undecodable_bodies_are_rejected(void **st) {
  const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
  wire_envelope d;
  assert_tr(TR_EINVAL, wire_decode_envelope(garbage, sizeof(garbage), &d));
  /* An envelope with no target. */
  const uint8_t no_target[] = {0x08, 0x01};
  assert_tr(TR_EINVAL, wire_decode_envelope(no_target, sizeof(no_target), &d));
  /* A target with a NUL inside. */
  const uint8_t nul_target[] = {0x1a, 0x03, 'a', 0, 'b'};
  assert_tr(TR_EINVAL, wire_decode_envelope(nul_target, sizeof(nul_target), &d));
  /* A target longer than TR_ID_MAX. */
  uint8_t long_target[3 + 300];
  long_target[0] = 0x1a;
  long_target[1] = 0xac; /* 300 as a varint */
  long_target[2] = 0x02;
  memset(long_target + 3, 'x', 300);
  assert_tr(TR_EINVAL, wire_decode_envelope(long_target, sizeof(long_target), &d));
  troupe_Hello h;
  assert_tr(TR_EINVAL, wire_decode_control(troupe_FrameKind_FRAME_HELLO,
                                           garbage, sizeof(garbage), &h));
  assert_tr(TR_EINVAL, wire_decode_control((troupe_FrameKind)99, garbage,
                                           sizeof(garbage), &h));
}

/* Deterministic pseudo-random input: random bytes, and valid streams with
 * bytes flipped, truncated and duplicated. The decoders must never crash
 * (ASan/UBSan watch) and must answer with a frame count or an error. */
static uint64_t rng_next(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static void random_and_mutated_input_never_breaks_the_decoders(void **st) {
  uint64_t seed = 0x9e3779b97f4a7c15ull;
  uint8_t valid[2048];
  size_t vlen = 0;
  for (int i = 0; i < 8; i++) {
    wire_envelope e = {.type = 1, .sender = sl("s"), .target = sl("target"),
                       .topic = sl("t"), .payload = sl("payload-bytes"),
                       .seq = (uint64_t)i + 1};
    vlen += (size_t)wire_encode_envelope(valid + vlen, sizeof(valid) - vlen,
                                         WIRE_MAX_FRAME_DEFAULT, &e);
  }
  assert_int_equal(8, wire_fuzz_input(valid, vlen));
  uint8_t buf[2048];
  int errors = 0, decoded = 0;
  for (int iter = 0; iter < 20000; iter++) {
    size_t len;
    if (iter % 2) {
      len = rng_next(&seed) % sizeof(buf);
      for (size_t i = 0; i < len; i++) buf[i] = (uint8_t)rng_next(&seed);
    } else {
      len = vlen - rng_next(&seed) % 16;
      memcpy(buf, valid, len);
      int flips = 1 + (int)(rng_next(&seed) % 4);
      for (int k = 0; k < flips; k++)
        buf[rng_next(&seed) % len] ^= (uint8_t)(1u << (rng_next(&seed) % 8));
    }
    int rc = wire_fuzz_input(buf, len);
    if (rc < 0) {
      assert_true(rc == TR_EINVAL || rc == TR_ETOOBIG);
      errors++;
    } else {
      decoded += rc;
    }
  }
  assert_true(errors > 0);  /* the mutations were noticed */
  assert_true(decoded > 0); /* and some frames still decoded */
}

/* A string field sent with another wire type (target as fixed64) reaches
 * nanopb's callback as a stack copy: the envelope must be refused, never
 * decoded into a slice pointing outside the frame. */
static void string_field_with_a_foreign_wire_type_is_rejected(void **state) {
  (void)state;
  const uint8_t body[] = {0x19, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'};
  wire_envelope e;
  assert_int_equal(wire_decode_envelope(body, sizeof(body), &e), TR_EINVAL);
  const uint8_t payload_fixed32[] = {0x1a, 1, 'x', 0x2d, 1, 2, 3, 4};
  assert_int_equal(
      wire_decode_envelope(payload_fixed32, sizeof(payload_fixed32), &e),
      TR_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(envelope_round_trips_and_payload_points_into_the_frame),
      cmocka_unit_test(absent_sender_and_default_topic_stay_distinct),
      cmocka_unit_test(control_frames_round_trip),
      cmocka_unit_test(encoding_into_a_small_buffer_returns_efull),
      cmocka_unit_test(envelope_larger_than_max_frame_returns_etoobig),
      cmocka_unit_test(reader_reassembles_frames_fed_one_byte_at_a_time),
      cmocka_unit_test(oversized_length_is_refused_before_buffering),
      cmocka_unit_test(zero_length_frame_is_malformed),
      cmocka_unit_test(truncated_frame_waits_for_more_bytes),
      cmocka_unit_test(undecodable_bodies_are_rejected),
      cmocka_unit_test(random_and_mutated_input_never_breaks_the_decoders),
      cmocka_unit_test(string_field_with_a_foreign_wire_type_is_rejected),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
