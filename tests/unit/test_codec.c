/* test_codec.c — swim and registry messages on the wire
 * (node/cluster/codec.c): every message type round-trips through a frame,
 * big SYNCs and SETs included, and malformed bodies (cut short, flipped,
 * over-long strings, wrong types) are refused with TR_EINVAL. Bodies under
 * test are exact-size heap copies, so ASan sees any read past the end. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "troupe.h"
#include "wire.h"

#define assert_tr(expected, actual)                                          \
  do {                                                                       \
    int e_ = (expected), a_ = (actual);                                      \
    if (e_ != a_)                                                            \
      fail_msg("%s: expected %s (%d), got %s (%d)", #actual,                 \
               tr_errname(e_), e_, tr_errname(a_), a_);                      \
  } while (0)

/* ---- frames --------------------------------------------------------------- */

/* One encoded frame, read back through a wire_reader as a link would. */
typedef struct frame {
  uint8_t *buf; /* the encoded frame */
  size_t len;
  wire_reader r;
  wire_frame f; /* body points into r */
} frame;

static void frame_through_reader(frame *fr, troupe_FrameKind kind,
                                 const pb_msgdesc_t *fields, const void *pb) {
  size_t cap = WIRE_MAX_FRAME_DEFAULT + WIRE_HDR;
  fr->buf = malloc(cap);
  assert_non_null(fr->buf);
  int n = wire_encode_msg(fr->buf, cap, kind, fields, pb);
  assert_true(n > (int)WIRE_HDR);
  fr->len = (size_t)n;
  wire_reader_init(&fr->r, WIRE_MAX_FRAME_DEFAULT);
  assert_tr(0, wire_reader_feed(&fr->r, fr->buf, fr->len));
  assert_int_equal(1, wire_reader_next(&fr->r, &fr->f));
  assert_int_equal(kind, fr->f.kind);
  assert_int_equal(fr->len - WIRE_HDR, fr->f.len);
}

static void frame_free(frame *fr) {
  wire_reader_free(&fr->r);
  free(fr->buf);
}

static void swim_frame(frame *fr, const swim_msg *m) {
  troupe_SwimMsg pb;
  assert_tr(0, ccodec_swim_prepare(&pb, m));
  frame_through_reader(fr, troupe_FrameKind_FRAME_SWIM, troupe_SwimMsg_fields,
                       &pb);
}

static void reg_frame(frame *fr, const reg_msg *m) {
  troupe_RegMsg pb;
  assert_tr(0, ccodec_reg_prepare(&pb, m));
  frame_through_reader(fr, troupe_FrameKind_FRAME_REGISTRY,
                       troupe_RegMsg_fields, &pb);
}

/* Decodes an exact-size heap copy of body[0, len). */
static int swim_decode_copy(const uint8_t *body, size_t len, swim_msg *out,
                            ccodec_scratch *s) {
  uint8_t *copy = malloc(len ? len : 1);
  assert_non_null(copy);
  if (len) memcpy(copy, body, len);
  int rc = ccodec_swim_decode(copy, len, out, s);
  free(copy);
  return rc;
}

static int reg_decode_copy(const uint8_t *body, size_t len, reg_msg *out,
                           ccodec_scratch *s) {
  uint8_t *copy = malloc(len ? len : 1);
  assert_non_null(copy);
  if (len) memcpy(copy, body, len);
  int rc = ccodec_reg_decode(copy, len, out, s);
  free(copy);
  return rc;
}

/* ---- messages --------------------------------------------------------------- */

static void fill_update(swim_update *u, uint32_t i) {
  memset(u, 0, sizeof(*u));
  snprintf(u->name, sizeof(u->name), "node-%04u", (unsigned)i);
  if (i % 7 != 3) /* some members have no address */
    snprintf(u->addr, sizeof(u->addr), "10.%u.%u.%u:7946", (unsigned)(i >> 16),
             (unsigned)(i >> 8) & 255u, (unsigned)i & 255u);
  u->epoch = (1ull << 40) + i * 1000003ull;
  u->incarnation = i * 17u;
  u->state = (uint8_t)(i % 4);
}

static void assert_swim_equal(const swim_msg *a, const swim_msg *b) {
  assert_int_equal(a->type, b->type);
  assert_string_equal(a->sender, b->sender);
  assert_int_equal(a->seq, b->seq);
  assert_string_equal(a->target, b->target);
  assert_int_equal(a->nupdates, b->nupdates);
  for (uint32_t i = 0; i < a->nupdates; i++) {
    const swim_update *x = &a->updates[i], *y = &b->updates[i];
    assert_string_equal(x->name, y->name);
    assert_string_equal(x->addr, y->addr);
    assert_true(x->epoch == y->epoch);
    assert_int_equal(x->incarnation, y->incarnation);
    assert_int_equal(x->state, y->state);
  }
}

static void assert_reg_equal(const reg_msg *a, const reg_msg *b) {
  assert_int_equal(a->type, b->type);
  assert_string_equal(a->sender, b->sender);
  assert_int_equal(a->ndeltas, b->ndeltas);
  for (uint32_t i = 0; i < a->ndeltas; i++) {
    const reg_delta *x = &a->deltas[i], *y = &b->deltas[i];
    assert_string_equal(x->owner, y->owner);
    assert_true(x->epoch == y->epoch);
    assert_true(x->version == y->version);
    assert_string_equal(x->id, y->id);
    assert_int_equal(x->removed, y->removed);
  }
  assert_int_equal(a->ndigests, b->ndigests);
  for (uint32_t i = 0; i < a->ndigests; i++) {
    assert_string_equal(a->digests[i].owner, b->digests[i].owner);
    assert_true(a->digests[i].epoch == b->digests[i].epoch);
    assert_true(a->digests[i].version == b->digests[i].version);
  }
  assert_int_equal(a->nids, b->nids);
  for (uint32_t i = 0; i < a->nids; i++)
    assert_string_equal(a->ids[i], b->ids[i]);
  assert_int_equal(a->nseals, b->nseals);
  for (uint32_t i = 0; i < a->nseals; i++) {
    const reg_seal *x = &a->seals[i], *y = &b->seals[i];
    assert_string_equal(x->owner, y->owner);
    assert_true(x->epoch == y->epoch);
    assert_true(x->first == y->first);
    assert_true(x->last == y->last);
    assert_int_equal(x->proof_len, y->proof_len);
    if (x->proof_len) assert_memory_equal(x->proof, y->proof, x->proof_len);
  }
}

/* A small registry message of every kind of entry, for the malformed-input
 * tests (a real SET carries digests[0] and ids only; the codec does not
 * care). */
static reg_delta small_deltas[3];
static reg_digest small_digests[2];
static const char *const small_ids[] = {"billing", "orders/7", "x"};

static reg_msg small_reg(void) {
  for (int i = 0; i < 3; i++) {
    snprintf(small_deltas[i].owner, sizeof(small_deltas[i].owner), "n%d", i);
    snprintf(small_deltas[i].id, sizeof(small_deltas[i].id), "actor-%d", i);
    small_deltas[i].epoch = 1700000000000ull + (uint64_t)i;
    small_deltas[i].version = (uint64_t)i + 1;
    small_deltas[i].removed = (uint8_t)(i == 1);
  }
  strcpy(small_digests[0].owner, "n0");
  small_digests[0].epoch = 5;
  small_digests[0].version = 9;
  strcpy(small_digests[1].owner, "n1");
  small_digests[1].epoch = UINT64_MAX;
  small_digests[1].version = UINT64_MAX;
  reg_msg m = {.type = REG_MSG_SET, .deltas = small_deltas, .ndeltas = 3,
               .digests = small_digests, .ndigests = 2, .ids = small_ids,
               .nids = 3};
  strcpy(m.sender, "n2");
  return m;
}

static swim_update small_updates[3];

static swim_msg small_swim(void) {
  for (uint32_t i = 0; i < 3; i++) fill_update(&small_updates[i], i + 2);
  swim_msg m = {.type = SWIM_MSG_PING_REQ, .seq = 4242,
                .updates = small_updates, .nupdates = 3};
  strcpy(m.sender, "alpha");
  strcpy(m.target, "beta");
  return m;
}

/* ---- round trips ------------------------------------------------------------ */

static void swim_messages_of_every_type_round_trip(void **st) {
  swim_update ups[4];
  for (uint32_t i = 0; i < 4; i++) fill_update(&ups[i], i);
  /* The longest name and addr there are. */
  memset(ups[1].name, 'n', TR_ID_MAX);
  ups[1].name[TR_ID_MAX] = '\0';
  memset(ups[1].addr, 'a', SWIM_ADDR_MAX - 1);
  ups[1].addr[SWIM_ADDR_MAX - 1] = '\0';
  ccodec_scratch s = CCODEC_SCRATCH_INIT;
  for (int type = SWIM_MSG_PING; type <= SWIM_MSG_LEAVE; type++) {
    for (uint32_t n = 0; n <= 4; n += 4) {
      swim_msg m = {.type = (swim_msg_type)type, .seq = UINT32_MAX - (uint32_t)type,
                    .updates = n ? ups : NULL, .nupdates = n};
      snprintf(m.sender, sizeof(m.sender), "sender-%d", type);
      if (type == SWIM_MSG_PING_REQ || type == SWIM_MSG_ACK ||
          type == SWIM_MSG_NACK)
        strcpy(m.target, "target");
      frame fr;
      swim_frame(&fr, &m);
      swim_msg d;
      memset(&d, 0xa5, sizeof(d));
      assert_tr(0, ccodec_swim_decode(fr.f.body, fr.f.len, &d, &s));
      /* Decoded strings are copies: they outlive the frame. */
      frame_free(&fr);
      assert_swim_equal(&m, &d);
      if (n == 0) assert_null(d.updates);
    }
  }
  ccodec_scratch_free(&s);
  ccodec_scratch_free(&s); /* freed twice: a no-op */
  ccodec_scratch_free(NULL);
}

static void swim_sync_of_2000_updates_round_trips(void **st) {
  enum { N = 2000 };
  swim_update *ups = calloc(N, sizeof(*ups));
  assert_non_null(ups);
  for (uint32_t i = 0; i < N; i++) fill_update(&ups[i], i);
  swim_msg m = {.type = SWIM_MSG_SYNC, .seq = 9, .updates = ups,
                .nupdates = N};
  strcpy(m.sender, "node-0000");
  frame fr;
  swim_frame(&fr, &m);
  ccodec_scratch s = CCODEC_SCRATCH_INIT;
  swim_msg d;
  assert_tr(0, ccodec_swim_decode(fr.f.body, fr.f.len, &d, &s));
  assert_swim_equal(&m, &d);
  frame_free(&fr);
  ccodec_scratch_free(&s);
  free(ups);
}

static void registry_messages_of_every_type_round_trip(void **st) {
  reg_delta deltas[3];
  memset(deltas, 0, sizeof(deltas));
  for (int i = 0; i < 3; i++) {
    snprintf(deltas[i].owner, sizeof(deltas[i].owner), "owner-%d", i);
    snprintf(deltas[i].id, sizeof(deltas[i].id), "svc/%d", i);
    deltas[i].epoch = 1700000000000ull;
    deltas[i].version = UINT64_MAX - (uint64_t)i;
    deltas[i].removed = (uint8_t)(i & 1);
  }
  memset(deltas[2].id, 'i', TR_ID_MAX);
  deltas[2].id[TR_ID_MAX] = '\0';
  reg_digest digests[2] = {{"owner-0", 1, 0}, {"owner-1", 2, 77}};
  const char *ids[] = {"a", "orders", "svc/1"};
  uint8_t proof[REG_PROOF_MAX];
  for (size_t i = 0; i < sizeof(proof); i++) proof[i] = (uint8_t)(i * 7);
  reg_seal seals[2] = {
      {.owner = "owner-0", .epoch = 1700000000000ull, .first = 1,
       .last = UINT64_MAX, .proof = proof, .proof_len = REG_PROOF_MAX},
      {.owner = "owner-1", .epoch = 3, .first = 7, .last = 7}}; /* none */
  ccodec_scratch s = CCODEC_SCRATCH_INIT;
  reg_msg cases[] = {
      {.type = REG_MSG_DELTAS, .deltas = deltas, .ndeltas = 3},
      {.type = REG_MSG_DELTAS, .deltas = deltas, .ndeltas = 3,
       .seals = seals, .nseals = 2},
      {.type = REG_MSG_DIGEST_REPLY, .digests = digests, .ndigests = 2},
      {.type = REG_MSG_DIGEST, .digests = digests, .ndigests = 2},
      {.type = REG_MSG_DIGEST}, /* a node that knows no owner */
      {.type = REG_MSG_PULL, .digests = digests + 1, .ndigests = 1},
      {.type = REG_MSG_SET, .digests = digests, .ndigests = 1, .ids = ids,
       .nids = 3},
      {.type = REG_MSG_SET, .digests = digests, .ndigests = 1}, /* empty set */
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    reg_msg *m = &cases[i];
    strcpy(m->sender, "owner-2");
    frame fr;
    reg_frame(&fr, m);
    reg_msg d;
    memset(&d, 0xa5, sizeof(d));
    assert_tr(0, ccodec_reg_decode(fr.f.body, fr.f.len, &d, &s));
    assert_reg_equal(m, &d); /* the proofs point into the body */
    frame_free(&fr);
    if (!m->ndeltas) assert_null(d.deltas);
    if (!m->ndigests) assert_null(d.digests);
    if (!m->nids) assert_null(d.ids);
    if (!m->nseals) assert_null(d.seals);
  }
  ccodec_scratch_free(&s);
}

static void registry_set_of_100000_ids_round_trips(void **st) {
  enum { N = 100000 };
  char(*names)[24] = calloc(N, sizeof(*names));
  const char **ids = calloc(N, sizeof(*ids));
  assert_non_null(names);
  assert_non_null(ids);
  for (unsigned i = 0; i < N; i++) {
    snprintf(names[i], sizeof(names[i]), "actor-%06u", i);
    ids[i] = names[i];
  }
  reg_digest owner = {"node-7", 1700000000123ull, 100000};
  reg_msg m = {.type = REG_MSG_SET, .digests = &owner, .ndigests = 1,
               .ids = ids, .nids = N};
  strcpy(m.sender, "node-7");
  frame fr;
  reg_frame(&fr, &m);
  ccodec_scratch s = CCODEC_SCRATCH_INIT;
  reg_msg d;
  assert_tr(0, ccodec_reg_decode(fr.f.body, fr.f.len, &d, &s));
  frame_free(&fr);
  assert_reg_equal(&m, &d);
  ccodec_scratch_free(&s);
  free(ids);
  free(names);
}

static void a_reused_scratch_holds_the_latest_decode(void **st) {
  enum { N = 500 };
  swim_update *ups = calloc(N, sizeof(*ups));
  assert_non_null(ups);
  for (uint32_t i = 0; i < N; i++) fill_update(&ups[i], i);
  swim_msg big = {.type = SWIM_MSG_SYNC, .updates = ups, .nupdates = N};
  strcpy(big.sender, "a");
  swim_msg small = small_swim();
  reg_msg r = small_reg();
  ccodec_scratch s = CCODEC_SCRATCH_INIT;
  for (int round = 0; round < 3; round++) {
    frame fr;
    swim_msg d;
    swim_frame(&fr, &big);
    assert_tr(0, ccodec_swim_decode(fr.f.body, fr.f.len, &d, &s));
    assert_swim_equal(&big, &d);
    frame_free(&fr);
    swim_frame(&fr, &small);
    assert_tr(0, ccodec_swim_decode(fr.f.body, fr.f.len, &d, &s));
    assert_swim_equal(&small, &d);
    frame_free(&fr);
    /* One scratch serves both codecs, one decode at a time. */
    reg_msg rd;
    reg_frame(&fr, &r);
    assert_tr(0, ccodec_reg_decode(fr.f.body, fr.f.len, &rd, &s));
    assert_reg_equal(&r, &rd);
    frame_free(&fr);
  }
  ccodec_scratch_free(&s);
  free(ups);
}

static void prepare_refuses_what_the_decoder_would_reject(void **st) {
  troupe_SwimMsg spb;
  swim_msg m = small_swim();
  assert_tr(0, ccodec_swim_prepare(&spb, &m));
  m.type = (swim_msg_type)(SWIM_MSG_LEAVE + 1);
  assert_tr(TR_EINVAL, ccodec_swim_prepare(&spb, &m));
  m = small_swim();
  m.sender[0] = '\0';
  assert_tr(TR_EINVAL, ccodec_swim_prepare(&spb, &m));
  m = small_swim();
  memset(m.sender, 'x', sizeof(m.sender)); /* unterminated */
  assert_tr(TR_EINVAL, ccodec_swim_prepare(&spb, &m));
  m = small_swim();
  small_updates[1].state = SWIM_LEFT + 1;
  assert_tr(TR_EINVAL, ccodec_swim_prepare(&spb, &m));
  m = small_swim();
  small_updates[2].name[0] = '\0';
  assert_tr(TR_EINVAL, ccodec_swim_prepare(&spb, &m));
  m = small_swim();
  memset(small_updates[0].addr, 'a', SWIM_ADDR_MAX);
  assert_tr(TR_EINVAL, ccodec_swim_prepare(&spb, &m));
  m = small_swim();
  m.updates = NULL;
  assert_tr(TR_EINVAL, ccodec_swim_prepare(&spb, &m));
  m = small_swim();
  m.nupdates = CCODEC_SWIM_MAX_UPDATES + 1;
  assert_tr(TR_EINVAL, ccodec_swim_prepare(&spb, &m));

  troupe_RegMsg rpb;
  reg_msg r = small_reg();
  assert_tr(0, ccodec_reg_prepare(&rpb, &r));
  r.type = (reg_msg_type)(REG_MSG_DIGEST_REPLY + 1);
  assert_tr(TR_EINVAL, ccodec_reg_prepare(&rpb, &r));
  r = small_reg();
  reg_seal seal = {.owner = "n0", .first = 1, .last = 1};
  r.seals = &seal;
  r.nseals = 1;
  assert_tr(0, ccodec_reg_prepare(&rpb, &r));
  seal.proof_len = REG_PROOF_MAX + 1;
  seal.proof = (const uint8_t *)small_ids; /* never read */
  assert_tr(TR_EINVAL, ccodec_reg_prepare(&rpb, &r));
  seal.proof_len = 0;
  memset(seal.owner, 'o', sizeof(seal.owner));
  assert_tr(TR_EINVAL, ccodec_reg_prepare(&rpb, &r));
  r.seals = NULL;
  assert_tr(TR_EINVAL, ccodec_reg_prepare(&rpb, &r));
  r = small_reg();
  small_deltas[1].id[0] = '\0';
  assert_tr(TR_EINVAL, ccodec_reg_prepare(&rpb, &r));
  r = small_reg();
  memset(small_deltas[2].owner, 'o', sizeof(small_deltas[2].owner));
  assert_tr(TR_EINVAL, ccodec_reg_prepare(&rpb, &r));
  r = small_reg();
  small_digests[0].owner[0] = '\0';
  assert_tr(TR_EINVAL, ccodec_reg_prepare(&rpb, &r));
  r = small_reg();
  const char *bad_ids[] = {"ok", NULL};
  r.ids = bad_ids;
  r.nids = 2;
  assert_tr(TR_EINVAL, ccodec_reg_prepare(&rpb, &r));
  char long_id[TR_ID_MAX + 2];
  memset(long_id, 'i', TR_ID_MAX + 1);
  long_id[TR_ID_MAX + 1] = '\0';
  bad_ids[1] = long_id;
  assert_tr(TR_EINVAL, ccodec_reg_prepare(&rpb, &r));
  bad_ids[1] = "";
  assert_tr(TR_EINVAL, ccodec_reg_prepare(&rpb, &r));
  r = small_reg();
  r.ndigests = 0;
  r.nids = CCODEC_REG_MAX_IDS + 1;
  assert_tr(TR_EINVAL, ccodec_reg_prepare(&rpb, &r));
}

/* ---- malformed input --------------------------------------------------------- */

static void every_cut_of_a_valid_body_returns_einval(void **st) {
  ccodec_scratch s = CCODEC_SCRATCH_INIT;
  swim_msg sm = small_swim();
  frame fr;
  swim_frame(&fr, &sm);
  swim_msg sd;
  for (size_t k = 0; k < fr.f.len; k++)
    assert_tr(TR_EINVAL, swim_decode_copy(fr.f.body, k, &sd, &s));
  assert_tr(0, swim_decode_copy(fr.f.body, fr.f.len, &sd, &s));
  /* Cut frames never leave the reader at all. */
  for (size_t k = 0; k < fr.len; k++) {
    wire_reader r;
    wire_frame f;
    wire_reader_init(&r, WIRE_MAX_FRAME_DEFAULT);
    assert_tr(0, wire_reader_feed(&r, fr.buf, k));
    assert_int_equal(0, wire_reader_next(&r, &f));
    wire_reader_free(&r);
  }
  frame_free(&fr);

  reg_msg rm = small_reg();
  reg_frame(&fr, &rm);
  reg_msg rd;
  for (size_t k = 0; k < fr.f.len; k++)
    assert_tr(TR_EINVAL, reg_decode_copy(fr.f.body, k, &rd, &s));
  assert_tr(0, reg_decode_copy(fr.f.body, fr.f.len, &rd, &s));
  frame_free(&fr);
  ccodec_scratch_free(&s);
}

/* What any successful decode promises, whatever the input. */
static void assert_swim_sane(const swim_msg *m) {
  assert_true((unsigned)m->type <= SWIM_MSG_LEAVE);
  size_t n = strnlen(m->sender, sizeof(m->sender));
  assert_true(n >= 1 && n <= TR_ID_MAX);
  assert_true(strnlen(m->target, sizeof(m->target)) <= TR_ID_MAX);
  for (uint32_t i = 0; i < m->nupdates; i++) {
    n = strnlen(m->updates[i].name, sizeof(m->updates[i].name));
    assert_true(n >= 1 && n <= TR_ID_MAX);
    assert_true(strnlen(m->updates[i].addr, SWIM_ADDR_MAX) < SWIM_ADDR_MAX);
    assert_true(m->updates[i].state <= SWIM_LEFT);
  }
}

static void assert_reg_sane(const reg_msg *m) {
  assert_true((unsigned)m->type <= REG_MSG_DIGEST_REPLY);
  size_t n = strnlen(m->sender, sizeof(m->sender));
  assert_true(n >= 1 && n <= TR_ID_MAX);
  for (uint32_t i = 0; i < m->ndeltas; i++) {
    n = strnlen(m->deltas[i].owner, TR_ID_MAX + 1);
    assert_true(n >= 1 && n <= TR_ID_MAX);
    n = strnlen(m->deltas[i].id, TR_ID_MAX + 1);
    assert_true(n >= 1 && n <= TR_ID_MAX);
  }
  for (uint32_t i = 0; i < m->ndigests; i++) {
    n = strnlen(m->digests[i].owner, TR_ID_MAX + 1);
    assert_true(n >= 1 && n <= TR_ID_MAX);
  }
  for (uint32_t i = 0; i < m->nids; i++) {
    n = strnlen(m->ids[i], TR_ID_MAX + 1);
    assert_true(n >= 1 && n <= TR_ID_MAX);
  }
  for (uint32_t i = 0; i < m->nseals; i++) {
    n = strnlen(m->seals[i].owner, TR_ID_MAX + 1);
    assert_true(n >= 1 && n <= TR_ID_MAX);
    assert_true(m->seals[i].proof_len <= REG_PROOF_MAX);
  }
}

/* A flipped byte may still leave a valid message (a name's letter): then
 * the result must be one the decoder promises; otherwise TR_EINVAL. */
static void flipped_bytes_return_einval_or_a_sane_message(void **st) {
  static const uint8_t masks[] = {0x01, 0x02, 0x08, 0x40, 0x80, 0xff};
  ccodec_scratch s = CCODEC_SCRATCH_INIT;
  swim_msg sm = small_swim();
  reg_msg rm = small_reg();
  frame sf, rf;
  swim_frame(&sf, &sm);
  reg_frame(&rf, &rm);
  uint8_t *b = malloc(sf.f.len > rf.f.len ? sf.f.len : rf.f.len);
  assert_non_null(b);
  int refused = 0, accepted = 0;
  for (size_t i = 0; i < sf.f.len; i++)
    for (size_t k = 0; k < sizeof(masks); k++) {
      memcpy(b, sf.f.body, sf.f.len);
      b[i] ^= masks[k];
      swim_msg d;
      int rc = swim_decode_copy(b, sf.f.len, &d, &s);
      if (rc == 0) {
        assert_swim_sane(&d);
        accepted++;
      } else {
        assert_tr(TR_EINVAL, rc);
        refused++;
      }
    }
  for (size_t i = 0; i < rf.f.len; i++)
    for (size_t k = 0; k < sizeof(masks); k++) {
      memcpy(b, rf.f.body, rf.f.len);
      b[i] ^= masks[k];
      reg_msg d;
      int rc = reg_decode_copy(b, rf.f.len, &d, &s);
      if (rc == 0) {
        assert_reg_sane(&d);
        accepted++;
      } else {
        assert_tr(TR_EINVAL, rc);
        refused++;
      }
    }
  assert_true(refused > 0 && accepted > 0);
  free(b);
  frame_free(&sf);
  frame_free(&rf);
  ccodec_scratch_free(&s);
}

/* A tiny protobuf writer, to build what our encoder never would. */
typedef struct pbw {
  uint8_t b[4096];
  size_t n;
} pbw;

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

static void w_raw(pbw *w, const void *p, size_t n) {
  assert_true(w->n + n <= sizeof(w->b));
  memcpy(w->b + w->n, p, n);
  w->n += n;
}

static void w_varint(pbw *w, uint64_t v) {
  do {
    uint8_t c = (uint8_t)(v & 0x7f);
    v >>= 7;
    if (v) c |= 0x80;
    w_raw(w, &c, 1);
  } while (v);
}

static void w_tag(pbw *w, uint32_t field, uint32_t wt) {
  w_varint(w, (uint64_t)field << 3 | wt);
}

static void w_uint(pbw *w, uint32_t field, uint64_t v) {
  w_tag(w, field, WT_VARINT);
  w_varint(w, v);
}

static void w_bytes(pbw *w, uint32_t field, const void *p, size_t n) {
  w_tag(w, field, WT_LEN);
  w_varint(w, n);
  w_raw(w, p, n);
}

static void w_str(pbw *w, uint32_t field, const char *s) {
  w_bytes(w, field, s, strlen(s));
}

static void w_sub(pbw *w, uint32_t field, const pbw *sub) {
  w_bytes(w, field, sub->b, sub->n);
}

/* A string of n copies of c (n < 300), in one of 4 rotating buffers: valid
 * until the 4th call after. */
static const char *rep(char c, size_t n) {
  static char bufs[4][300];
  static unsigned next;
  char *buf = bufs[next++ % 4];
  assert_true(n < sizeof(bufs[0]));
  memset(buf, c, n);
  buf[n] = '\0';
  return buf;
}

static pbw swim_update_pb(const char *name, const char *addr, uint64_t state) {
  pbw u = {.n = 0};
  if (name) w_str(&u, 1, name);
  if (addr) w_str(&u, 2, addr);
  w_uint(&u, 3, 1);
  w_uint(&u, 4, 2);
  w_uint(&u, 5, state);
  return u;
}

/* A SwimMsg body: type, sender, then one update (if any) and the count. */
static int swim_try(uint64_t type, const char *sender, const pbw *update,
                    uint64_t count) {
  pbw w = {.n = 0};
  w_uint(&w, 1, type);
  if (sender) w_str(&w, 2, sender);
  if (update) w_sub(&w, 5, update);
  w_uint(&w, 15, count);
  ccodec_scratch s = CCODEC_SCRATCH_INIT;
  swim_msg d;
  int rc = swim_decode_copy(w.b, w.n, &d, &s);
  if (rc == 0) assert_swim_sane(&d);
  ccodec_scratch_free(&s);
  return rc;
}

static void over_long_empty_and_nul_holding_strings_return_einval(void **st) {
  pbw u;
  u = swim_update_pb(rep('n', TR_ID_MAX), rep('a', SWIM_ADDR_MAX - 1), 3);
  assert_tr(0, swim_try(SWIM_MSG_SYNC, rep('s', TR_ID_MAX), &u, 1));
  assert_tr(TR_EINVAL, swim_try(SWIM_MSG_SYNC, rep('s', TR_ID_MAX + 1), &u, 1));
  assert_tr(TR_EINVAL, swim_try(SWIM_MSG_SYNC, "", &u, 1));
  assert_tr(TR_EINVAL, swim_try(SWIM_MSG_SYNC, NULL, &u, 1));
  u = swim_update_pb(rep('n', TR_ID_MAX + 1), "h:1", 0);
  assert_tr(TR_EINVAL, swim_try(SWIM_MSG_SYNC, "s", &u, 1));
  u = swim_update_pb("n", rep('a', SWIM_ADDR_MAX), 0);
  assert_tr(TR_EINVAL, swim_try(SWIM_MSG_SYNC, "s", &u, 1));
  u = swim_update_pb("", "h:1", 0);
  assert_tr(TR_EINVAL, swim_try(SWIM_MSG_SYNC, "s", &u, 1));
  u = swim_update_pb(NULL, "h:1", 0);
  assert_tr(TR_EINVAL, swim_try(SWIM_MSG_SYNC, "s", &u, 1));
  u = swim_update_pb("n", "", 0); /* an empty addr is fine */
  assert_tr(0, swim_try(SWIM_MSG_SYNC, "s", &u, 1));

  /* A NUL inside a name would shorten it to another name. */
  pbw w = {.n = 0};
  w_bytes(&w, 1, "ab\0c", 4);
  w_uint(&w, 5, 0);
  assert_tr(TR_EINVAL, swim_try(SWIM_MSG_SYNC, "s", &w, 1));
  w.n = 0;
  w_str(&w, 1, "n");
  w_bytes(&w, 2, "h:1\0", 4);
  assert_tr(TR_EINVAL, swim_try(SWIM_MSG_SYNC, "s", &w, 1));
  w.n = 0;
  w_uint(&w, 1, SWIM_MSG_PING);
  w_bytes(&w, 2, "s\0t", 3);
  w_uint(&w, 15, 0);
  ccodec_scratch s = CCODEC_SCRATCH_INIT;
  swim_msg sd;
  assert_tr(TR_EINVAL, swim_decode_copy(w.b, w.n, &sd, &s));
  w.n = 0; /* an over-long target */
  w_uint(&w, 1, SWIM_MSG_PING_REQ);
  w_str(&w, 2, "s");
  w_str(&w, 4, rep('t', TR_ID_MAX + 1));
  w_uint(&w, 15, 0);
  assert_tr(TR_EINVAL, swim_decode_copy(w.b, w.n, &sd, &s));

  /* Registry: owners, ids and sender alike. */
  reg_msg rd;
  const char *bad[] = {"", rep('i', TR_ID_MAX + 1)};
  for (int field = 0; field < 4; field++)
    for (int b = 0; b < 2; b++) {
      pbw sub = {.n = 0};
      w.n = 0;
      w_uint(&w, 1, REG_MSG_SET);
      w_str(&w, 2, field == 3 ? bad[b] : "s");
      if (field == 0) { /* a delta's owner */
        w_str(&sub, 1, bad[b]);
        w_str(&sub, 4, "id");
        w_sub(&w, 3, &sub);
      } else if (field == 1) { /* a delta's id */
        w_str(&sub, 1, "o");
        w_str(&sub, 4, bad[b]);
        w_sub(&w, 3, &sub);
      } else if (field == 2) { /* a digest's owner */
        w_str(&sub, 1, bad[b]);
        w_sub(&w, 4, &sub);
      }
      w_uint(&w, 15, field < 3 ? 1 : 0);
      assert_tr(TR_EINVAL, reg_decode_copy(w.b, w.n, &rd, &s));
    }
  w.n = 0;
  w_uint(&w, 1, REG_MSG_SET);
  w_str(&w, 2, "s");
  w_str(&w, 5, rep('i', TR_ID_MAX));
  w_uint(&w, 15, 1);
  assert_tr(0, reg_decode_copy(w.b, w.n, &rd, &s));
  assert_int_equal(TR_ID_MAX, strlen(rd.ids[0]));
  const char *bad_ids[] = {"", rep('i', TR_ID_MAX + 1)};
  for (int b = 0; b < 3; b++) {
    w.n = 0;
    w_uint(&w, 1, REG_MSG_SET);
    w_str(&w, 2, "s");
    if (b < 2)
      w_str(&w, 5, bad_ids[b]);
    else
      w_bytes(&w, 5, "a\0b", 3);
    w_uint(&w, 15, 1);
    assert_tr(TR_EINVAL, reg_decode_copy(w.b, w.n, &rd, &s));
  }
  /* A seal: its proof at most REG_PROOF_MAX bytes, once; an owner. */
  static uint8_t big[REG_PROOF_MAX + 1];
  for (int b = 0; b < 4; b++) {
    w.n = 0;
    pbw sub = {.n = 0};
    if (b != 3) w_str(&sub, 1, "o");
    w_uint(&sub, 3, 1);
    w_uint(&sub, 4, 1);
    w_bytes(&sub, 5, big, b == 1 ? sizeof(big) : sizeof(big) - 1);
    if (b == 2) w_bytes(&sub, 5, big, 8);
    w_uint(&w, 1, REG_MSG_DELTAS);
    w_str(&w, 2, "s");
    w_sub(&w, 6, &sub);
    w_uint(&w, 15, 1);
    assert_tr(b == 0 ? 0 : TR_EINVAL, reg_decode_copy(w.b, w.n, &rd, &s));
  }
  ccodec_scratch_free(&s);
}

static void wrong_types_counts_and_missing_fields_return_einval(void **st) {
  pbw u = swim_update_pb("n", "h:1", SWIM_ALIVE);
  assert_tr(0, swim_try(SWIM_MSG_LEAVE, "s", &u, 1));
  /* Unknown message types and member states. */
  assert_tr(TR_EINVAL, swim_try(SWIM_MSG_LEAVE + 1, "s", &u, 1));
  assert_tr(TR_EINVAL, swim_try(1ull << 32, "s", &u, 1));
  u = swim_update_pb("n", "h:1", SWIM_LEFT + 1);
  assert_tr(TR_EINVAL, swim_try(SWIM_MSG_SYNC, "s", &u, 1));
  u = swim_update_pb("n", "h:1", SWIM_ALIVE);
  /* The count must be there and right. */
  assert_tr(TR_EINVAL, swim_try(SWIM_MSG_SYNC, "s", &u, 0));
  assert_tr(TR_EINVAL, swim_try(SWIM_MSG_SYNC, "s", &u, 2));
  assert_tr(TR_EINVAL, swim_try(SWIM_MSG_SYNC, "s", NULL, 1));

  ccodec_scratch s = CCODEC_SCRATCH_INIT;
  swim_msg sd;
  pbw w = {.n = 0};
  w_str(&w, 2, "s"); /* no type */
  w_uint(&w, 15, 0);
  assert_tr(TR_EINVAL, swim_decode_copy(w.b, w.n, &sd, &s));
  w.n = 0; /* no count */
  w_uint(&w, 1, SWIM_MSG_PING);
  w_str(&w, 2, "s");
  assert_tr(TR_EINVAL, swim_decode_copy(w.b, w.n, &sd, &s));
  w.n = 0; /* the sender as a number */
  w_uint(&w, 1, SWIM_MSG_PING);
  w_uint(&w, 2, 7);
  w_uint(&w, 15, 0);
  assert_tr(TR_EINVAL, swim_decode_copy(w.b, w.n, &sd, &s));
  w.n = 0; /* the type as a string */
  w_str(&w, 1, "x");
  w_str(&w, 2, "s");
  w_uint(&w, 15, 0);
  assert_tr(TR_EINVAL, swim_decode_copy(w.b, w.n, &sd, &s));
  w.n = 0; /* an update as a number */
  w_uint(&w, 1, SWIM_MSG_PING);
  w_str(&w, 2, "s");
  w_uint(&w, 5, 1);
  w_uint(&w, 15, 1);
  assert_tr(TR_EINVAL, swim_decode_copy(w.b, w.n, &sd, &s));
  /* An update as a fixed64 whose 8 bytes read as a valid SwimUpdate
   * (name "ab", epoch 1, incarnation 1): nanopb would hand them over. */
  static const uint8_t fake[8] = {0x0a, 0x02, 'a', 'b', 0x18, 0x01, 0x20, 0x01};
  w.n = 0;
  w_uint(&w, 1, SWIM_MSG_PING);
  w_str(&w, 2, "s");
  w_tag(&w, 5, WT_I64);
  w_raw(&w, fake, sizeof(fake));
  w_uint(&w, 15, 1);
  assert_tr(TR_EINVAL, swim_decode_copy(w.b, w.n, &sd, &s));
  w.n = 0; /* a length running past the body */
  w_uint(&w, 1, SWIM_MSG_PING);
  w_str(&w, 2, "s");
  w_tag(&w, 5, WT_LEN);
  w_varint(&w, 1000);
  w_uint(&w, 15, 1);
  assert_tr(TR_EINVAL, swim_decode_copy(w.b, w.n, &sd, &s));
  w.n = 0; /* a zero tag */
  w_uint(&w, 1, SWIM_MSG_PING);
  w_str(&w, 2, "s");
  w_uint(&w, 15, 0);
  w_raw(&w, "\0\0", 2);
  assert_tr(TR_EINVAL, swim_decode_copy(w.b, w.n, &sd, &s));
  w.n = 0; /* unknown fields are skipped: newer peers may add some */
  w_uint(&w, 1, SWIM_MSG_PING);
  w_str(&w, 2, "s");
  w_uint(&w, 9, 123);
  w_str(&w, 10, "later");
  w_uint(&w, 15, 0);
  assert_tr(0, swim_decode_copy(w.b, w.n, &sd, &s));

  reg_msg rd;
  w.n = 0;
  w_uint(&w, 1, REG_MSG_DIGEST_REPLY + 1);
  w_str(&w, 2, "s");
  w_uint(&w, 15, 0);
  assert_tr(TR_EINVAL, reg_decode_copy(w.b, w.n, &rd, &s));
  w.n = 0; /* ids as fixed32 "abcd" and as a number */
  w_uint(&w, 1, REG_MSG_SET);
  w_str(&w, 2, "s");
  w_tag(&w, 5, WT_I32);
  w_raw(&w, "abcd", 4);
  w_uint(&w, 15, 1);
  assert_tr(TR_EINVAL, reg_decode_copy(w.b, w.n, &rd, &s));
  w.n = 0;
  w_uint(&w, 1, REG_MSG_SET);
  w_str(&w, 2, "s");
  w_uint(&w, 5, 97);
  w_uint(&w, 15, 1);
  assert_tr(TR_EINVAL, reg_decode_copy(w.b, w.n, &rd, &s));
  w.n = 0; /* a delta as a number, a digest as a fixed64 */
  w_uint(&w, 1, REG_MSG_DELTAS);
  w_str(&w, 2, "s");
  w_uint(&w, 3, 1);
  w_uint(&w, 15, 1);
  assert_tr(TR_EINVAL, reg_decode_copy(w.b, w.n, &rd, &s));
  w.n = 0;
  w_uint(&w, 1, REG_MSG_DIGEST);
  w_str(&w, 2, "s");
  w_tag(&w, 4, WT_I64);
  w_raw(&w, "\x0a\x02oo\x10\x01\x18\x01", 8);
  w_uint(&w, 15, 1);
  assert_tr(TR_EINVAL, reg_decode_copy(w.b, w.n, &rd, &s));
  w.n = 0; /* a count that does not match */
  w_uint(&w, 1, REG_MSG_SET);
  w_str(&w, 2, "s");
  w_str(&w, 5, "a");
  w_str(&w, 5, "b");
  w_uint(&w, 15, 1);
  assert_tr(TR_EINVAL, reg_decode_copy(w.b, w.n, &rd, &s));
  w.n = 0; /* a sub-message field of the wrong type */
  pbw sub = {.n = 0};
  w_str(&sub, 1, "o");
  w_str(&sub, 2, "epoch?");
  w_uint(&w, 1, REG_MSG_DIGEST);
  w_str(&w, 2, "s");
  w_sub(&w, 4, &sub);
  w_uint(&w, 15, 1);
  assert_tr(TR_EINVAL, reg_decode_copy(w.b, w.n, &rd, &s));

  /* Bodies no 4 MiB frame can carry are refused before they are read. */
  uint8_t *big = calloc(1, CCODEC_FRAME_MAX);
  assert_non_null(big);
  assert_tr(TR_EINVAL, ccodec_swim_decode(big, CCODEC_FRAME_MAX, &sd, &s));
  assert_tr(TR_EINVAL, ccodec_reg_decode(big, CCODEC_FRAME_MAX, &rd, &s));
  free(big);
  assert_tr(TR_EINVAL, ccodec_swim_decode(NULL, 1, &sd, &s));
  assert_tr(TR_EINVAL, ccodec_swim_decode(NULL, 0, &sd, &s)); /* no type */
  ccodec_scratch_free(&s);
}

static uint64_t rnd(uint64_t *x) {
  *x ^= *x << 13;
  *x ^= *x >> 7;
  *x ^= *x << 17;
  return *x;
}

/* Random and randomly mutated bodies: no crash, nothing but 0 or EINVAL. */
static void random_bodies_never_break_the_decoders(void **st) {
  uint64_t x = 0x9e3779b97f4a7c15ull;
  ccodec_scratch s = CCODEC_SCRATCH_INIT;
  swim_msg sm = small_swim();
  reg_msg rm = small_reg();
  frame sf, rf;
  swim_frame(&sf, &sm);
  reg_frame(&rf, &rm);
  uint8_t b[512];
  for (int i = 0; i < 20000; i++) {
    const frame *base = (i & 1) ? &rf : &sf;
    size_t n;
    if (i % 4 < 2) { /* random bytes */
      n = rnd(&x) % 64;
      for (size_t k = 0; k < n; k++) b[k] = (uint8_t)rnd(&x);
    } else { /* a valid body with a few random changes */
      n = base->f.len;
      memcpy(b, base->f.body, n);
      for (int k = (int)(rnd(&x) % 4); k >= 0; k--)
        b[rnd(&x) % n] = (uint8_t)rnd(&x);
    }
    swim_msg sd;
    reg_msg rd;
    int rc = swim_decode_copy(b, n, &sd, &s);
    if (rc == 0)
      assert_swim_sane(&sd);
    else
      assert_tr(TR_EINVAL, rc);
    rc = reg_decode_copy(b, n, &rd, &s);
    if (rc == 0)
      assert_reg_sane(&rd);
    else
      assert_tr(TR_EINVAL, rc);
  }
  frame_free(&sf);
  frame_free(&rf);
  ccodec_scratch_free(&s);
}

/* Tags ride in field 7 of an update, pointing into the body when decoded;
 * an update without them is the bytes it was before tags existed. */
static void swim_tags_round_trip_and_cost_nothing_when_absent(void **st) {
  (void)st;
  static const char tags[] = "rack=r1,zone=eu-west.a";
  swim_update ups[2];
  fill_update(&ups[0], 1);
  fill_update(&ups[1], 2);
  ups[1].tags = tags;
  ups[1].tags_len = (uint16_t)strlen(tags);
  swim_msg m = {.type = SWIM_MSG_PING, .updates = ups, .nupdates = 2};
  strcpy(m.sender, "n1");
  ccodec_scratch s = CCODEC_SCRATCH_INIT;
  frame with, without;
  swim_frame(&with, &m);
  swim_msg d;
  assert_tr(0, ccodec_swim_decode(with.f.body, with.f.len, &d, &s));
  assert_swim_equal(&m, &d);
  assert_int_equal(0, d.updates[0].tags_len);
  assert_int_equal(strlen(tags), d.updates[1].tags_len);
  assert_memory_equal(tags, d.updates[1].tags, strlen(tags));
  ups[1].tags = NULL;
  ups[1].tags_len = 0;
  swim_frame(&without, &m);
  /* A tag byte and a length byte, and the tags: nothing else. */
  assert_int_equal(with.f.len - without.f.len, strlen(tags) + 2);
  frame_free(&with);
  frame_free(&without);

  /* What is not valid tags is refused both ways. */
  const char *bad[] = {"zone", "=a", "zone=a,zone=b", "zone=a,rack=b",
                       "zone=a,", "zo ne=a", "zone=a\nb",
                       "k0=,k1=,k2=,k3=,k4=,k5=,k6=,k7=,k8="};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    ups[1].tags = bad[i];
    ups[1].tags_len = (uint16_t)strlen(bad[i]);
    troupe_SwimMsg pb;
    assert_tr(TR_EINVAL, ccodec_swim_prepare(&pb, &m));
    pbw u = swim_update_pb("n2", "n2:1", 0);
    w_bytes(&u, 7, bad[i], strlen(bad[i]));
    assert_tr(TR_EINVAL, swim_try(SWIM_MSG_PING, "n1", &u, 1));
  }
  pbw u = swim_update_pb("n2", "n2:1", 0);
  w_bytes(&u, 7, tags, strlen(tags));
  assert_tr(0, swim_try(SWIM_MSG_PING, "n1", &u, 1));
  /* Longer than SWIM_TAGS_MAX: refused before it is looked at. */
  u = swim_update_pb("n2", "n2:1", 0);
  char longest[SWIM_TAGS_MAX + 1];
  memset(longest, 'a', sizeof(longest));
  w_bytes(&u, 7, longest, sizeof(longest));
  assert_tr(TR_EINVAL, swim_try(SWIM_MSG_PING, "n1", &u, 1));
  ccodec_scratch_free(&s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(swim_tags_round_trip_and_cost_nothing_when_absent),
      cmocka_unit_test(swim_messages_of_every_type_round_trip),
      cmocka_unit_test(swim_sync_of_2000_updates_round_trips),
      cmocka_unit_test(registry_messages_of_every_type_round_trip),
      cmocka_unit_test(registry_set_of_100000_ids_round_trips),
      cmocka_unit_test(a_reused_scratch_holds_the_latest_decode),
      cmocka_unit_test(prepare_refuses_what_the_decoder_would_reject),
      cmocka_unit_test(every_cut_of_a_valid_body_returns_einval),
      cmocka_unit_test(flipped_bytes_return_einval_or_a_sane_message),
      cmocka_unit_test(over_long_empty_and_nul_holding_strings_return_einval),
      cmocka_unit_test(wrong_types_counts_and_missing_fields_return_einval),
      cmocka_unit_test(random_bodies_never_break_the_decoders),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
