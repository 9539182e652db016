/* test_wire.c — the wire format: envelope and control frames round-trip,
 * payloads decode in place, the envelope codec writes and reads exactly
 * what nanopb's generic path does, the reader splits streams into frames
 * and rejects malformed ones, and random input never breaks the decoders. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "troupe.h"
#include "wire.h"
#include "wire_ref.h"

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

/* ---- the envelope codec against nanopb's generic path ------------------- */

/* The reference is the envelope codec as it was, nanopb's generic path
 * (tests/support/wire_ref.c). */

static void assert_same_slice(wire_slice a, wire_slice b) {
  assert_ptr_equal(a.p, b.p);
  assert_int_equal(a.len, b.len);
}

static void assert_same_envelope(const wire_envelope *a,
                                 const wire_envelope *b) {
  assert_int_equal(a->type, b->type);
  assert_same_slice(a->sender, b->sender);
  assert_same_slice(a->target, b->target);
  assert_same_slice(a->topic, b->topic);
  assert_same_slice(a->payload, b->payload);
  assert_true(a->ask_id == b->ask_id);
  assert_int_equal(a->status, b->status);
  assert_true(a->seq == b->seq);
  assert_int_equal(a->timeout_ms, b->timeout_ms);
  assert_int_equal(a->msg_type, b->msg_type);
  assert_int_equal(a->has_sender, b->has_sender);
  assert_int_equal(a->has_topic, b->has_topic);
}

/* Both decoders on a body copied to a buffer of exactly its size (so ASan
 * sees any read past it); they must agree on the verdict and, when they
 * accept, on every field. Returns the verdict. */
static int decoders_agree(const uint8_t *body, size_t len) {
  uint8_t *exact = malloc(len ? len : 1);
  assert_non_null(exact);
  if (len) memcpy(exact, body, len);
  wire_envelope a, b;
  int ra = wire_decode_envelope(exact, len, &a);
  int rb = wire_ref_decode_envelope(exact, len, &b);
  if (ra != rb) {
    char hex[3 * 64 + 1] = "";
    for (size_t i = 0; i < len && i < 64; i++)
      snprintf(hex + 3 * i, 4, "%02x ", exact[i]);
    fail_msg("decoders disagree on %zu bytes [%s]: new %s, nanopb %s", len,
             hex, tr_errname(ra), tr_errname(rb));
  }
  if (ra == 0) assert_same_envelope(&a, &b);
  free(exact);
  return ra;
}

/* Numbers that stress varints: every size from 1 to 10 bytes, the edges. */
static uint64_t rand_u64(uint64_t *seed) {
  uint64_t r = rng_next(seed);
  switch (r % 8) {
  case 0: return 0;
  case 1: return UINT64_MAX - (r >> 60);
  case 2: return (uint64_t)1 << (r >> 58);
  default: return rng_next(seed) >> (r >> 58); /* any bit length */
  }
}

static uint32_t rand_u32(uint64_t *seed) {
  uint64_t r = rng_next(seed);
  switch (r % 6) {
  case 0: return 0;
  case 1: return 1;
  case 2: return UINT32_MAX;
  default: return (uint32_t)(rng_next(seed) >> (32 + (r >> 59)));
  }
}

/* An id-like string at s: absent (p NULL), empty (p set, length 0), short,
 * sometimes past TR_ID_MAX or holding a NUL. */
static wire_slice rand_str(uint64_t *seed, uint8_t *s) {
  uint64_t r = rng_next(seed);
  size_t len;
  switch (r % 8) {
  case 0: return (wire_slice){NULL, 0};
  case 1: return (wire_slice){s, 0};
  case 2: len = 200 + (r >> 8) % 100; break;
  default: len = 1 + (r >> 8) % 24; break;
  }
  for (size_t i = 0; i < len; i++) s[i] = (uint8_t)('a' + rng_next(seed) % 26);
  if ((r >> 40) % 16 == 0) s[(r >> 20) % len] = 0;
  return (wire_slice){s, len};
}

typedef struct rand_envelope_store {
  uint8_t sender[300], target[300], topic[300], payload[300], future[16];
} rand_envelope_store;

static void rand_envelope(uint64_t *seed, wire_envelope *e,
                          rand_envelope_store *st) {
  memset(e, 0, sizeof(*e));
  static const uint32_t types[] = {0, 1, 2, 3, 4, 127, 128, 0xffffffffu};
  uint64_t r = rng_next(seed);
  e->type = r % 4 ? types[r % 8] : rand_u32(seed);
  e->sender = rand_str(seed, st->sender);
  e->target = rand_str(seed, st->target);
  if (!e->target.p && r % 8) e->target = (wire_slice){st->target, 0};
  e->topic = rand_str(seed, st->topic);
  size_t plen = rng_next(seed) % 301;
  for (size_t i = 0; i < plen; i++) st->payload[i] = (uint8_t)rng_next(seed);
  e->payload = (wire_slice){(r >> 8) % 8 ? st->payload : NULL, plen};
  if (!e->payload.p) e->payload.len = 0;
  e->ask_id = (r >> 12) % 2 ? rand_u64(seed) : 0;
  static const int32_t statuses[] = {-1, 1, INT32_MIN, INT32_MAX, -7, 63, -64};
  uint64_t q = rng_next(seed);
  e->status = q % 3 == 0 ? 0 : q % 3 == 1 ? statuses[(q >> 8) % 7]
                                          : (int32_t)(uint32_t)(q >> 20);
  e->seq = (r >> 16) % 4 ? rand_u64(seed) : 0;
  e->timeout_ms = (r >> 20) % 2 ? rand_u32(seed) : 0;
  e->msg_type = (r >> 24) % 2 ? rand_u32(seed) : 0;
  if ((r >> 28) % 8 == 0) {
    /* A newer peer's fields: 19 as a varint, 20 as bytes (link_mgr_emulate). */
    static const uint8_t more[] = {0x98, 0x01, 0x05,
                                   0xa2, 0x01, 0x02, 'x', 'y'};
    memcpy(st->future, more, sizeof(more));
    e->future = (wire_slice){st->future, sizeof(more)};
  }
}

static void envelope_frames_are_byte_identical_to_nanopbs_generic_encoder(
    void **state) {
  (void)state;
  uint64_t seed = 0x2545f4914f6cdd1dull;
  static uint8_t mine[2048], ref[2048];
  rand_envelope_store st;
  int encoded = 0;
  for (int i = 0; i < 30000; i++) {
    wire_envelope e;
    rand_envelope(&seed, &e, &st);
    /* Mostly room enough; sometimes a tight buffer or a small max frame,
     * where the two must fail the same way. */
    uint64_t r = rng_next(&seed);
    size_t cap = r % 4 ? sizeof(mine) : (size_t)(r >> 8) % 700;
    uint32_t max_frame = (r >> 4) % 8 ? WIRE_MAX_FRAME_DEFAULT
                                      : (uint32_t)(r >> 24) % 800;
    memset(mine, 0xaa, sizeof(mine));
    memset(ref, 0xaa, sizeof(ref));
    int n = wire_encode_envelope(mine, cap, max_frame, &e);
    int m = wire_ref_encode_envelope(ref, cap, max_frame, &e);
    assert_tr(m, n);
    if (n > 0) {
      assert_memory_equal(ref, mine, (size_t)n);
      assert_true((size_t)n <= wire_envelope_bound(&e));
      encoded++;
    }
  }
  assert_true(encoded > 20000);
  /* bench_codec's envelope, the one the instruction counts are of. */
  uint8_t payload[64];
  memset(payload, 'x', sizeof(payload));
  wire_envelope e = {.type = TR_MSG_SEND, .sender = sl("src"),
                     .target = sl("sink"), .payload = {payload, 64},
                     .seq = 1000000};
  int n = wire_encode_envelope(mine, sizeof(mine), WIRE_MAX_FRAME_DEFAULT, &e);
  assert_int_equal(n, wire_ref_encode_envelope(ref, sizeof(ref),
                                          WIRE_MAX_FRAME_DEFAULT, &e));
  assert_int_equal(WIRE_HDR + 2 + 5 + 6 + 66 + 4, n);
  assert_memory_equal(ref, mine, (size_t)n);
}

static void decoder_reads_generic_frames_to_the_same_fields(void **state) {
  (void)state;
  uint64_t seed = 0x9e3779b97f4a7c15ull;
  static uint8_t frame[2048];
  rand_envelope_store st;
  int accepted = 0, refused = 0;
  for (int i = 0; i < 30000; i++) {
    wire_envelope e;
    rand_envelope(&seed, &e, &st);
    int n = wire_ref_encode_envelope(frame, sizeof(frame), WIRE_MAX_FRAME_DEFAULT,
                                &e);
    assert_true(n > 0);
    if (decoders_agree(frame + WIRE_HDR, (size_t)n - WIRE_HDR) == 0) {
      /* And what was sent is what arrives. */
      wire_envelope d;
      assert_tr(0, wire_decode_envelope(frame + WIRE_HDR,
                                        (size_t)n - WIRE_HDR, &d));
      assert_int_equal(e.type, d.type);
      assert_int_equal(e.sender.len, d.sender.len);
      assert_int_equal(e.sender.len != 0, d.has_sender);
      assert_int_equal(e.topic.p != NULL, d.has_topic);
      assert_int_equal(e.payload.len, d.payload.len);
      if (e.payload.len)
        assert_memory_equal(e.payload.p, d.payload.p, e.payload.len);
      assert_true(e.ask_id == d.ask_id && e.seq == d.seq);
      assert_int_equal(e.status, d.status);
      assert_int_equal(e.timeout_ms, d.timeout_ms);
      assert_int_equal(e.msg_type, d.msg_type);
      accepted++;
    } else {
      refused++; /* an empty target, a long id or a NUL in one */
    }
  }
  assert_true(accepted > 10000);
  assert_true(refused > 1000);
}

/* A varint of v, padded to `pad` more bytes than it needs (an overlong
 * form: 0x80 continuation bytes and a final 0x00). */
static size_t put_raw_varint(uint8_t *p, uint64_t v, unsigned pad) {
  size_t n = 0;
  while (v >= 0x80) {
    p[n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  if (!pad) {
    p[n++] = (uint8_t)v;
    return n;
  }
  p[n++] = (uint8_t)(v | 0x80);
  while (--pad) p[n++] = 0x80;
  p[n++] = 0;
  return n;
}

static unsigned rand_pad(uint64_t *seed) {
  uint64_t r = rng_next(seed);
  return r % 4 ? 0 : (unsigned)(r >> 8) % 11;
}

/* One field of an envelope body, well- or ill-formed: a known field with
 * its wire type or another, an unknown or zero field number, keys, lengths
 * and values in overlong forms, lengths past the body, stray bytes. */
static size_t rand_field(uint64_t *seed, uint8_t *p) {
  uint64_t r = rng_next(seed);
  uint32_t field;
  switch (r % 8) {
  case 0: field = 0; break;
  case 1: field = 11 + (uint32_t)(r >> 8) % 40; break;
  case 2: field = (uint32_t)(rng_next(seed) >> 35); break; /* up to 2^29 */
  default: field = 1 + (uint32_t)(r >> 8) % 10; break;
  }
  static const unsigned wt_of[] = {0, 0, 2, 2, 2, 2, 0, 0, 0, 0, 5};
  unsigned wt = field >= 1 && field <= 10 && (r >> 16) % 4
                    ? wt_of[field]
                    : (unsigned)(r >> 20) % 8;
  size_t n = 0;
  if ((r >> 24) % 64 == 0) { /* stray bytes */
    size_t k = 1 + (r >> 30) % 4;
    for (size_t i = 0; i < k; i++) p[n++] = (uint8_t)rng_next(seed);
    return n;
  }
  if ((r >> 30) % 32 == 0) {
    /* A key as a sign-extended 32-bit varint, ten bytes (nanopb reads it). */
    uint32_t key = 0x80000000u | (uint32_t)(rng_next(seed) & 0x7fffffff);
    key = (key & ~7u) | wt;
    n = put_raw_varint(p, 0xffffffff00000000ull | key, 0);
  } else {
    n = put_raw_varint(p, ((uint64_t)field << 3) | wt, rand_pad(seed));
  }
  uint64_t q = rng_next(seed);
  switch (wt) {
  case 0: {
    uint64_t v = rand_u64(seed);
    if (q % 16 == 0) { /* an eleven-byte or odd tenth byte */
      for (int i = 0; i < 9; i++) p[n++] = 0xff;
      p[n++] = (uint8_t)(q >> 8);
      if (p[n - 1] & 0x80) p[n++] = (uint8_t)(q >> 16) & 0x7f;
    } else {
      n += put_raw_varint(p + n, v, rand_pad(seed));
    }
    break;
  }
  case 1:
    for (int i = 0; i < 8; i++) p[n++] = (uint8_t)rng_next(seed);
    break;
  case 5:
    for (int i = 0; i < 4; i++) p[n++] = (uint8_t)rng_next(seed);
    break;
  case 2: {
    size_t len = q % 4 ? (q >> 8) % 12 : (q >> 8) % 300;
    size_t claimed = (q >> 20) % 16 ? len : len + 1 + (q >> 24) % 100000;
    n += put_raw_varint(p + n, claimed, rand_pad(seed));
    for (size_t i = 0; i < len; i++)
      p[n++] = (q >> 40) % 8 ? (uint8_t)('a' + rng_next(seed) % 26)
                             : (uint8_t)rng_next(seed);
    break;
  }
  default: /* groups and wire types 6, 7: nothing follows */
    break;
  }
  return n;
}

static void decoder_agrees_with_nanopb_on_malformed_bodies(void **state) {
  (void)state;
  uint64_t seed = 0xd1b54a32d192ed03ull;
  static uint8_t body[8192], frame[2048];
  int accepted = 0, refused = 0;
  /* Bodies assembled from random fields, most with a well-formed target
   * somewhere so that what decides is the rest. */
  for (int i = 0; i < 60000; i++) {
    size_t len = 0;
    int fields = (int)(rng_next(&seed) % 9);
    int target_at = rng_next(&seed) % 8 ? (int)(rng_next(&seed) % (fields + 1))
                                        : -1;
    for (int k = 0; k <= fields; k++) {
      if (k == target_at) {
        static const uint8_t t[] = {0x1a, 0x04, 's', 'i', 'n', 'k'};
        memcpy(body + len, t, sizeof(t));
        len += sizeof(t);
      }
      if (k < fields) len += rand_field(&seed, body + len);
    }
    if (rng_next(&seed) % 8 == 0) len -= rng_next(&seed) % (len + 1);
    if (decoders_agree(body, len) == 0)
      accepted++;
    else
      refused++;
  }
  assert_true(accepted > 5000);
  assert_true(refused > 5000);

  /* Valid frames cut at every length, and with every byte replaced. */
  rand_envelope_store st;
  for (int i = 0; i < 200; i++) {
    wire_envelope e;
    rand_envelope(&seed, &e, &st);
    int n = wire_ref_encode_envelope(frame, sizeof(frame), WIRE_MAX_FRAME_DEFAULT,
                                &e);
    assert_true(n > 0);
    uint8_t *b = frame + WIRE_HDR;
    size_t blen = (size_t)n - WIRE_HDR;
    for (size_t cut = 0; cut <= blen; cut++) (void)decoders_agree(b, cut);
    for (size_t at = 0; at < blen && at < 48; at++) {
      static const uint8_t with[] = {0x00, 0x01, 0x02, 0x05, 0x07, 0x7f,
                                     0x80, 0x81, 0xfe, 0xff};
      uint8_t was = b[at];
      for (size_t k = 0; k < sizeof(with); k++) {
        b[at] = with[k];
        (void)decoders_agree(b, blen);
      }
      b[at] = (uint8_t)(was ^ (1u << (rng_next(&seed) % 8)));
      (void)decoders_agree(b, blen);
      b[at] = was;
    }
  }
}

/* A newer peer's extra fields (every wire type nanopb skips) decode; a
 * group, which nanopb does not skip, does not. */
static void unknown_fields_are_skipped_as_nanopb_skips_them(void **state) {
  (void)state;
  const uint8_t body[] = {
      0x1a, 0x01, 'x',                          /* target "x" */
      0x58, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, /* 11: a long varint */
      0x80, 0x80, 0x80, 0x80, 0x80, 0x01,
      0x61, 1, 2, 3, 4, 5, 6, 7, 8,             /* 12: fixed64 */
      0x6a, 0x03, 'a', 'b', 'c',                /* 13: bytes */
      0x75, 1, 2, 3, 4,                         /* 14: fixed32 */
      0x80, 0x80, 0x80, 0x80, 0x01, 0x00,       /* 2^25: varint */
      0x40, 0x05};                              /* seq 5 */
  wire_envelope d;
  assert_tr(0, decoders_agree(body, sizeof(body)));
  assert_tr(0, wire_decode_envelope(body, sizeof(body), &d));
  assert_int_equal(5, d.seq);
  assert_memory_equal("x", d.target.p, 1);
  const uint8_t group[] = {0x1a, 0x01, 'x', 0x5b, 0x5c};
  assert_tr(TR_EINVAL, decoders_agree(group, sizeof(group)));
}

/* As nanopb: a field's last copy wins, also over an earlier copy with a
 * foreign wire type; a foreign copy last is refused. */
static void repeated_fields_last_copy_wins(void **state) {
  (void)state;
  const uint8_t twice[] = {0x1a, 0x01, 'a', 0x40, 0x01,
                           0x1a, 0x02, 'b', 'c', 0x40, 0x02};
  wire_envelope d;
  assert_tr(0, decoders_agree(twice, sizeof(twice)));
  assert_tr(0, wire_decode_envelope(twice, sizeof(twice), &d));
  assert_int_equal(2, d.target.len);
  assert_int_equal(2, d.seq);
  const uint8_t foreign_first[] = {0x18, 0x05, 0x1a, 0x01, 'a'};
  assert_tr(0, decoders_agree(foreign_first, sizeof(foreign_first)));
  const uint8_t foreign_last[] = {0x1a, 0x01, 'a', 0x18, 0x05};
  assert_tr(TR_EINVAL, decoders_agree(foreign_last, sizeof(foreign_last)));
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
      cmocka_unit_test(
          envelope_frames_are_byte_identical_to_nanopbs_generic_encoder),
      cmocka_unit_test(decoder_reads_generic_frames_to_the_same_fields),
      cmocka_unit_test(decoder_agrees_with_nanopb_on_malformed_bodies),
      cmocka_unit_test(unknown_fields_are_skipped_as_nanopb_skips_them),
      cmocka_unit_test(repeated_fields_last_copy_wins),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
