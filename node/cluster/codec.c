/* codec.c — swim_msg and reg_msg to and from SwimMsg / RegMsg with nanopb.
 * Repeated fields are callbacks: encoding reads the caller's arrays while
 * the frame is written, decoding validates each entry as it is read and
 * appends it to a caller-owned scratch arena. */
#include <pb_decode.h>
#include <pb_encode.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

/* The generated inline strings and the state machines' arrays agree, so
 * names copy as they are. */
_Static_assert(sizeof(((troupe_SwimUpdate *)0)->name) == TR_ID_MAX + 1, "");
_Static_assert(sizeof(((troupe_SwimUpdate *)0)->addr) == SWIM_ADDR_MAX, "");
_Static_assert(sizeof(((troupe_SwimMsg *)0)->sender) == TR_ID_MAX + 1, "");
_Static_assert(sizeof(((troupe_SwimMsg *)0)->target) == TR_ID_MAX + 1, "");
_Static_assert(sizeof(((troupe_RegDelta *)0)->owner) == TR_ID_MAX + 1, "");
_Static_assert(sizeof(((troupe_RegDelta *)0)->id) == TR_ID_MAX + 1, "");
_Static_assert(sizeof(((troupe_RegDigest *)0)->owner) == TR_ID_MAX + 1, "");
_Static_assert(sizeof(((troupe_RegMsg *)0)->sender) == TR_ID_MAX + 1, "");

/* A C string in an array of cap bytes: terminated, min_len..cap-1 long. */
static bool cstr_ok(const char *s, size_t cap, size_t min_len) {
  size_t n = strnlen(s, cap);
  return n < cap && n >= min_len;
}

/* ---- encoding ------------------------------------------------------------ */

static bool enc_proof(pb_ostream_t *st, const pb_field_t *f,
                      void *const *arg) {
  const swim_update *u = *arg;
  return pb_encode_tag_for_field(st, f) &&
         pb_encode_string(st, u->proof, u->proof_len);
}

static bool enc_tags(pb_ostream_t *st, const pb_field_t *f, void *const *arg) {
  const swim_update *u = *arg;
  return pb_encode_tag_for_field(st, f) &&
         pb_encode_string(st, (const pb_byte_t *)u->tags, u->tags_len);
}

static bool enc_updates(pb_ostream_t *st, const pb_field_t *f,
                        void *const *arg) {
  const swim_msg *m = *arg;
  for (uint32_t i = 0; i < m->nupdates; i++) {
    const swim_update *u = &m->updates[i];
    troupe_SwimUpdate pb = troupe_SwimUpdate_init_zero;
    pb.has_name = true;
    memcpy(pb.name, u->name, strlen(u->name) + 1);
    if (u->addr[0]) {
      pb.has_addr = true;
      memcpy(pb.addr, u->addr, strlen(u->addr) + 1);
    }
    pb.has_epoch = pb.has_incarnation = pb.has_state = true;
    pb.epoch = u->epoch;
    pb.incarnation = u->incarnation;
    pb.state = u->state;
    if (u->proof && u->proof_len) {
      pb.proof.funcs.encode = enc_proof;
      pb.proof.arg = (void *)u;
    }
    if (u->tags && u->tags_len) { /* absent for none: no bytes at all */
      pb.tags.funcs.encode = enc_tags;
      pb.tags.arg = (void *)u;
    }
    if (!pb_encode_tag_for_field(st, f) ||
        !pb_encode_submessage(st, troupe_SwimUpdate_fields, &pb))
      return false;
  }
  return true;
}

int ccodec_swim_prepare(troupe_SwimMsg *pb, const swim_msg *m) {
  if ((unsigned)m->type > SWIM_MSG_LEAVE ||
      !cstr_ok(m->sender, sizeof(m->sender), 1) ||
      !cstr_ok(m->target, sizeof(m->target), 0) ||
      m->nupdates > CCODEC_SWIM_MAX_UPDATES || (m->nupdates && !m->updates))
    return TR_EINVAL;
  for (uint32_t i = 0; i < m->nupdates; i++) {
    const swim_update *u = &m->updates[i];
    if (!cstr_ok(u->name, sizeof(u->name), 1) ||
        !cstr_ok(u->addr, sizeof(u->addr), 0) || u->state > SWIM_LEFT ||
        u->proof_len > SWIM_PROOF_MAX || (u->tags_len && !u->tags) ||
        !swim_tags_valid(u->tags, u->tags_len))
      return TR_EINVAL;
  }
  *pb = (troupe_SwimMsg)troupe_SwimMsg_init_zero;
  pb->has_type = pb->has_sender = pb->has_seq = pb->has_nupdates = true;
  pb->type = (uint32_t)m->type;
  memcpy(pb->sender, m->sender, strlen(m->sender) + 1);
  pb->seq = m->seq;
  if (m->target[0]) {
    pb->has_target = true;
    memcpy(pb->target, m->target, strlen(m->target) + 1);
  }
  if (m->nupdates) {
    pb->updates.funcs.encode = enc_updates;
    pb->updates.arg = (void *)m;
  }
  pb->nupdates = m->nupdates;
  return 0;
}

static bool enc_deltas(pb_ostream_t *st, const pb_field_t *f,
                       void *const *arg) {
  const reg_msg *m = *arg;
  for (uint32_t i = 0; i < m->ndeltas; i++) {
    const reg_delta *d = &m->deltas[i];
    troupe_RegDelta pb = troupe_RegDelta_init_zero;
    pb.has_owner = pb.has_epoch = pb.has_version = pb.has_id = true;
    memcpy(pb.owner, d->owner, strlen(d->owner) + 1);
    pb.epoch = d->epoch;
    pb.version = d->version;
    memcpy(pb.id, d->id, strlen(d->id) + 1);
    pb.has_removed = d->removed != 0;
    pb.removed = d->removed != 0;
    pb.has_since = d->since != 0;
    pb.since = d->since;
    if (!pb_encode_tag_for_field(st, f) ||
        !pb_encode_submessage(st, troupe_RegDelta_fields, &pb))
      return false;
  }
  return true;
}

static bool enc_digests(pb_ostream_t *st, const pb_field_t *f,
                        void *const *arg) {
  const reg_msg *m = *arg;
  for (uint32_t i = 0; i < m->ndigests; i++) {
    const reg_digest *d = &m->digests[i];
    troupe_RegDigest pb = troupe_RegDigest_init_zero;
    pb.has_owner = pb.has_epoch = pb.has_version = true;
    memcpy(pb.owner, d->owner, strlen(d->owner) + 1);
    pb.epoch = d->epoch;
    pb.version = d->version;
    if (!pb_encode_tag_for_field(st, f) ||
        !pb_encode_submessage(st, troupe_RegDigest_fields, &pb))
      return false;
  }
  return true;
}

static bool enc_seal_proof(pb_ostream_t *st, const pb_field_t *f,
                           void *const *arg) {
  const reg_seal *s = *arg;
  return pb_encode_tag_for_field(st, f) &&
         pb_encode_string(st, s->proof, s->proof_len);
}

static bool enc_seals(pb_ostream_t *st, const pb_field_t *f,
                      void *const *arg) {
  const reg_msg *m = *arg;
  for (uint32_t i = 0; i < m->nseals; i++) {
    const reg_seal *s = &m->seals[i];
    troupe_RegSeal pb = troupe_RegSeal_init_zero;
    pb.has_owner = pb.has_epoch = pb.has_first = pb.has_last = true;
    memcpy(pb.owner, s->owner, strlen(s->owner) + 1);
    pb.epoch = s->epoch;
    pb.first = s->first;
    pb.last = s->last;
    if (s->proof && s->proof_len) {
      pb.proof.funcs.encode = enc_seal_proof;
      pb.proof.arg = (void *)s;
    }
    if (!pb_encode_tag_for_field(st, f) ||
        !pb_encode_submessage(st, troupe_RegSeal_fields, &pb))
      return false;
  }
  return true;
}

/* Packed: one length-delimited run of varints. */
static bool enc_sinces(pb_ostream_t *st, const pb_field_t *f,
                       void *const *arg) {
  const reg_msg *m = *arg;
  pb_ostream_t sz = PB_OSTREAM_SIZING;
  for (uint32_t i = 0; i < m->nids; i++)
    if (!pb_encode_varint(&sz, m->sinces[i])) return false;
  if (!pb_encode_tag(st, PB_WT_STRING, f->tag) ||
      !pb_encode_varint(st, sz.bytes_written))
    return false;
  for (uint32_t i = 0; i < m->nids; i++)
    if (!pb_encode_varint(st, m->sinces[i])) return false;
  return true;
}

static bool enc_ids(pb_ostream_t *st, const pb_field_t *f, void *const *arg) {
  const reg_msg *m = *arg;
  for (uint32_t i = 0; i < m->nids; i++) {
    const char *id = m->ids[i];
    if (!pb_encode_tag_for_field(st, f) ||
        !pb_encode_string(st, (const pb_byte_t *)id, strlen(id)))
      return false;
  }
  return true;
}

int ccodec_reg_prepare(troupe_RegMsg *pb, const reg_msg *m) {
  if ((unsigned)m->type > REG_MSG_DIGEST_REPLY ||
      !cstr_ok(m->sender, sizeof(m->sender), 1) ||
      m->ndeltas > CCODEC_REG_MAX_DELTAS || (m->ndeltas && !m->deltas) ||
      m->nseals > CCODEC_REG_MAX_DELTAS || (m->nseals && !m->seals) ||
      m->ndigests > CCODEC_REG_MAX_DIGESTS || (m->ndigests && !m->digests) ||
      m->nids > CCODEC_REG_MAX_IDS || (m->nids && !m->ids))
    return TR_EINVAL;
  for (uint32_t i = 0; i < m->ndeltas; i++)
    if (!cstr_ok(m->deltas[i].owner, TR_ID_MAX + 1, 1) ||
        !cstr_ok(m->deltas[i].id, TR_ID_MAX + 1, 1))
      return TR_EINVAL;
  for (uint32_t i = 0; i < m->ndigests; i++)
    if (!cstr_ok(m->digests[i].owner, TR_ID_MAX + 1, 1)) return TR_EINVAL;
  for (uint32_t i = 0; i < m->nseals; i++)
    if (!cstr_ok(m->seals[i].owner, TR_ID_MAX + 1, 1) ||
        m->seals[i].proof_len > REG_PROOF_MAX)
      return TR_EINVAL;
  for (uint32_t i = 0; i < m->nids; i++)
    if (!m->ids[i] || !cstr_ok(m->ids[i], TR_ID_MAX + 1, 1)) return TR_EINVAL;
  *pb = (troupe_RegMsg)troupe_RegMsg_init_zero;
  pb->has_type = pb->has_sender = pb->has_nentries = true;
  pb->type = (uint32_t)m->type;
  memcpy(pb->sender, m->sender, strlen(m->sender) + 1);
  if (m->ndeltas) {
    pb->deltas.funcs.encode = enc_deltas;
    pb->deltas.arg = (void *)m;
  }
  if (m->ndigests) {
    pb->digests.funcs.encode = enc_digests;
    pb->digests.arg = (void *)m;
  }
  if (m->nids) {
    pb->ids.funcs.encode = enc_ids;
    pb->ids.arg = (void *)m;
  }
  if (m->nseals) {
    pb->seals.funcs.encode = enc_seals;
    pb->seals.arg = (void *)m;
  }
  if (m->nids && m->sinces) {
    pb->sinces.funcs.encode = enc_sinces;
    pb->sinces.arg = (void *)m;
  }
  /* At most 4 MiB / 3 + 3 * 4 MiB / 5 entries: no overflow. */
  pb->nentries = m->ndeltas + m->ndigests + m->nids + m->nseals;
  return 0;
}

/* ---- decoding ------------------------------------------------------------ */

size_t ccodec_scratch_bytes(const ccodec_scratch *s) {
  return s->sc_ents_cap + s->sc_digests_cap + s->sc_chars_cap +
         s->sc_ids_cap + s->sc_seals_cap + s->sc_sinces_cap;
}

void ccodec_scratch_free(ccodec_scratch *s) {
  if (!s) return;
  uint32_t max = s->max_members;
  free(s->sc_ents);
  free(s->sc_digests);
  free(s->sc_chars);
  free(s->sc_ids);
  free(s->sc_seals);
  free(s->sc_sinces);
  memset(s, 0, sizeof(*s));
  s->max_members = max; /* a setting, not memory */
}

/* Room for `need` bytes in *buf; the arena doubles, so appending n entries
 * costs O(n) and takes at most twice what they need. */
static bool reserve(void **buf, size_t *cap, size_t need) {
  if (need <= *cap) return true;
  size_t c = *cap ? *cap : 4096;
  while (c < need) c *= 2;
  void *p = realloc(*buf, c);
  if (!p) return false;
  *buf = p;
  *cap = c;
  return true;
}

typedef struct dec_ctx {
  uintptr_t body, end; /* the body being decoded, [body, end) */
  ccodec_scratch *s;
  size_t nents, ndigests, nids, nchars, nseals, nsinces;
  bool nomem;
} dec_ctx;

/* nanopb hands a callback field sent with a wire type other than
 * length-delimited as a substream over a copy of the raw value on its own
 * stack. A buffer stream's state is its read position, so a substream that
 * does not point into the body is such a field: refuse it. */
static bool in_body(const dec_ctx *c, const pb_istream_t *st) {
  uintptr_t p = (uintptr_t)st->state;
  return p >= c->body && p <= c->end;
}

/* nanopb decodes an inline string without saying how long it was, and a
 * NUL inside reads as the end ("a\0b" as "a"). The decoder prefills such
 * fields with 0xff (prefill), so afterwards the first NUL ends the string
 * and any later NUL is one from the wire (or left by the same field sent
 * twice, the longer first: also refused). Absent is fine only when min_len
 * is 0. */
static void prefill(char *s, size_t cap) { memset(s, 0xff, cap); }

static bool inline_ok(bool has, const char *s, size_t cap, size_t min_len) {
  if (!has) return min_len == 0;
  size_t n = strnlen(s, cap);
  if (n == cap || n < min_len) return false;
  return memchr(s + n + 1, '\0', cap - n - 1) == NULL;
}

/* A proof, or tags: points into the body (it lives as long as the
 * message). */
typedef struct dec_proof {
  const dec_ctx *c;
  size_t max;
  const uint8_t *p;
  size_t len;
} dec_proof;

static bool dec_proof_bytes(pb_istream_t *st, const pb_field_t *f,
                            void **arg) {
  (void)f;
  dec_proof *d = *arg;
  if (!in_body(d->c, st) || st->bytes_left > d->max || d->p)
    return false; /* off the body, too long, or sent twice */
  d->p = st->state;
  d->len = st->bytes_left;
  return pb_read(st, NULL, st->bytes_left);
}

/* limit, or the scratch's member cap when that is lower. */
static size_t member_cap(const ccodec_scratch *s, size_t limit) {
  return s->max_members && s->max_members < limit ? s->max_members : limit;
}

static bool dec_update(pb_istream_t *st, const pb_field_t *f, void **arg) {
  dec_ctx *c = *arg;
  if (!in_body(c, st) ||
      c->nents >= member_cap(c->s, CCODEC_SWIM_MAX_UPDATES))
    return false;
  troupe_SwimUpdate pb = troupe_SwimUpdate_init_zero;
  prefill(pb.name, sizeof(pb.name));
  prefill(pb.addr, sizeof(pb.addr));
  dec_proof proof = {.c = c, .max = SWIM_PROOF_MAX};
  pb.proof.funcs.decode = dec_proof_bytes;
  pb.proof.arg = &proof;
  dec_proof tags = {.c = c, .max = SWIM_TAGS_MAX};
  pb.tags.funcs.decode = dec_proof_bytes;
  pb.tags.arg = &tags;
  if (!pb_decode_ex(st, troupe_SwimUpdate_fields, &pb, PB_DECODE_NOINIT) ||
      !inline_ok(pb.has_name, pb.name, sizeof(pb.name), 1) ||
      !inline_ok(pb.has_addr, pb.addr, sizeof(pb.addr), 0) ||
      pb.state > SWIM_LEFT ||
      !swim_tags_valid((const char *)tags.p, tags.len))
    return false;
  if (!reserve(&c->s->sc_ents, &c->s->sc_ents_cap,
               (c->nents + 1) * sizeof(swim_update))) {
    c->nomem = true;
    return false;
  }
  swim_update *u = (swim_update *)c->s->sc_ents + c->nents++;
  memcpy(u->name, pb.name, strlen(pb.name) + 1);
  if (pb.has_addr)
    memcpy(u->addr, pb.addr, strlen(pb.addr) + 1);
  else
    u->addr[0] = '\0';
  u->epoch = pb.epoch;
  u->incarnation = pb.incarnation;
  u->state = (uint8_t)pb.state;
  u->proof = proof.p;
  u->proof_len = (uint16_t)proof.len;
  u->tags = (const char *)tags.p;
  u->tags_len = (uint16_t)tags.len;
  return true;
}

static bool body_ok(const uint8_t *body, size_t len) {
  /* A body comes from a frame of at most CCODEC_FRAME_MAX bytes, kind
   * byte included: the entry limits hold for every accepted body. */
  return (body || len == 0) && len < CCODEC_FRAME_MAX;
}

int ccodec_swim_decode(const uint8_t *body, size_t len, swim_msg *out,
                       ccodec_scratch *s) {
  if (!out || !s || !body_ok(body, len)) return TR_EINVAL;
  dec_ctx c = {.body = (uintptr_t)body, .end = (uintptr_t)body + len, .s = s};
  troupe_SwimMsg pb = troupe_SwimMsg_init_zero;
  prefill(pb.sender, sizeof(pb.sender));
  prefill(pb.target, sizeof(pb.target));
  pb.updates.funcs.decode = dec_update;
  pb.updates.arg = &c;
  pb_istream_t st = pb_istream_from_buffer(body, len);
  if (!pb_decode_ex(&st, troupe_SwimMsg_fields, &pb, PB_DECODE_NOINIT))
    return c.nomem ? TR_ENOMEM : TR_EINVAL;
  if (!pb.has_type || pb.type > SWIM_MSG_LEAVE || !pb.has_nupdates ||
      pb.nupdates != c.nents ||
      !inline_ok(pb.has_sender, pb.sender, sizeof(pb.sender), 1) ||
      !inline_ok(pb.has_target, pb.target, sizeof(pb.target), 0))
    return TR_EINVAL;
  out->type = (swim_msg_type)pb.type;
  memcpy(out->sender, pb.sender, strlen(pb.sender) + 1);
  out->seq = pb.seq;
  if (pb.has_target)
    memcpy(out->target, pb.target, strlen(pb.target) + 1);
  else
    out->target[0] = '\0';
  out->updates = c.nents ? s->sc_ents : NULL;
  out->nupdates = (uint32_t)c.nents;
  return 0;
}

static bool dec_delta(pb_istream_t *st, const pb_field_t *f, void **arg) {
  dec_ctx *c = *arg;
  if (!in_body(c, st) || c->nents >= CCODEC_REG_MAX_DELTAS) return false;
  troupe_RegDelta pb = troupe_RegDelta_init_zero;
  prefill(pb.owner, sizeof(pb.owner));
  prefill(pb.id, sizeof(pb.id));
  if (!pb_decode_ex(st, troupe_RegDelta_fields, &pb, PB_DECODE_NOINIT) ||
      !inline_ok(pb.has_owner, pb.owner, sizeof(pb.owner), 1) ||
      !inline_ok(pb.has_id, pb.id, sizeof(pb.id), 1))
    return false;
  if (!reserve(&c->s->sc_ents, &c->s->sc_ents_cap,
               (c->nents + 1) * sizeof(reg_delta))) {
    c->nomem = true;
    return false;
  }
  reg_delta *d = (reg_delta *)c->s->sc_ents + c->nents++;
  memcpy(d->owner, pb.owner, strlen(pb.owner) + 1);
  d->epoch = pb.epoch;
  d->version = pb.version;
  memcpy(d->id, pb.id, strlen(pb.id) + 1);
  d->removed = pb.removed ? 1 : 0;
  d->since = pb.since;
  return true;
}

static bool dec_digest(pb_istream_t *st, const pb_field_t *f, void **arg) {
  dec_ctx *c = *arg;
  if (!in_body(c, st) ||
      c->ndigests >= member_cap(c->s, CCODEC_REG_MAX_DIGESTS))
    return false;
  troupe_RegDigest pb = troupe_RegDigest_init_zero;
  prefill(pb.owner, sizeof(pb.owner));
  if (!pb_decode_ex(st, troupe_RegDigest_fields, &pb, PB_DECODE_NOINIT) ||
      !inline_ok(pb.has_owner, pb.owner, sizeof(pb.owner), 1))
    return false;
  if (!reserve(&c->s->sc_digests, &c->s->sc_digests_cap,
               (c->ndigests + 1) * sizeof(reg_digest))) {
    c->nomem = true;
    return false;
  }
  reg_digest *d = (reg_digest *)c->s->sc_digests + c->ndigests++;
  memcpy(d->owner, pb.owner, strlen(pb.owner) + 1);
  d->epoch = pb.epoch;
  d->version = pb.version;
  return true;
}

static bool dec_seal(pb_istream_t *st, const pb_field_t *f, void **arg) {
  dec_ctx *c = *arg;
  if (!in_body(c, st) || c->nseals >= CCODEC_REG_MAX_DELTAS) return false;
  troupe_RegSeal pb = troupe_RegSeal_init_zero;
  prefill(pb.owner, sizeof(pb.owner));
  dec_proof proof = {.c = c, .max = REG_PROOF_MAX};
  pb.proof.funcs.decode = dec_proof_bytes;
  pb.proof.arg = &proof;
  if (!pb_decode_ex(st, troupe_RegSeal_fields, &pb, PB_DECODE_NOINIT) ||
      !inline_ok(pb.has_owner, pb.owner, sizeof(pb.owner), 1))
    return false;
  if (!reserve(&c->s->sc_seals, &c->s->sc_seals_cap,
               (c->nseals + 1) * sizeof(reg_seal))) {
    c->nomem = true;
    return false;
  }
  reg_seal *s = (reg_seal *)c->s->sc_seals + c->nseals++;
  memcpy(s->owner, pb.owner, strlen(pb.owner) + 1);
  s->epoch = pb.epoch;
  s->first = pb.first;
  s->last = pb.last;
  s->proof = proof.p;
  s->proof_len = (uint16_t)proof.len;
  return true;
}

/* One varint of the packed sinces (called again while bytes are left). */
static bool dec_since(pb_istream_t *st, const pb_field_t *f, void **arg) {
  (void)f;
  dec_ctx *c = *arg;
  uint64_t v;
  if (!in_body(c, st) || c->nsinces >= CCODEC_REG_MAX_IDS ||
      !pb_decode_varint(st, &v))
    return false;
  if (!reserve(&c->s->sc_sinces, &c->s->sc_sinces_cap,
               (c->nsinces + 1) * sizeof(uint64_t))) {
    c->nomem = true;
    return false;
  }
  ((uint64_t *)c->s->sc_sinces)[c->nsinces++] = v;
  return true;
}

/* Ids go back to back into sc_chars, NUL-terminated; the pointers are made
 * once all are in (the arena may move while it grows). */
static bool dec_id(pb_istream_t *st, const pb_field_t *f, void **arg) {
  dec_ctx *c = *arg;
  size_t n = st->bytes_left;
  if (!in_body(c, st) || c->nids >= CCODEC_REG_MAX_IDS || n == 0 ||
      n > TR_ID_MAX)
    return false;
  if (!reserve(&c->s->sc_chars, &c->s->sc_chars_cap,
               c->nchars + n + 1)) {
    c->nomem = true;
    return false;
  }
  char *p = (char *)c->s->sc_chars + c->nchars;
  if (!pb_read(st, (pb_byte_t *)p, n) || memchr(p, '\0', n)) return false;
  p[n] = '\0';
  c->nchars += n + 1;
  c->nids++;
  return true;
}

int ccodec_reg_decode(const uint8_t *body, size_t len, reg_msg *out,
                      ccodec_scratch *s) {
  if (!out || !s || !body_ok(body, len)) return TR_EINVAL;
  dec_ctx c = {.body = (uintptr_t)body, .end = (uintptr_t)body + len, .s = s};
  troupe_RegMsg pb = troupe_RegMsg_init_zero;
  prefill(pb.sender, sizeof(pb.sender));
  pb.deltas.funcs.decode = dec_delta;
  pb.deltas.arg = &c;
  pb.digests.funcs.decode = dec_digest;
  pb.digests.arg = &c;
  pb.ids.funcs.decode = dec_id;
  pb.ids.arg = &c;
  pb.seals.funcs.decode = dec_seal;
  pb.seals.arg = &c;
  pb.sinces.funcs.decode = dec_since;
  pb.sinces.arg = &c;
  pb_istream_t st = pb_istream_from_buffer(body, len);
  if (!pb_decode_ex(&st, troupe_RegMsg_fields, &pb, PB_DECODE_NOINIT))
    return c.nomem ? TR_ENOMEM : TR_EINVAL;
  if (!pb.has_type || pb.type > REG_MSG_DIGEST_REPLY || !pb.has_nentries ||
      pb.nentries != c.nents + c.ndigests + c.nids + c.nseals ||
      (c.nsinces && c.nsinces != c.nids) ||
      !inline_ok(pb.has_sender, pb.sender, sizeof(pb.sender), 1))
    return TR_EINVAL;
  if (c.nids &&
      !reserve(&s->sc_ids, &s->sc_ids_cap, c.nids * sizeof(char *)))
    return TR_ENOMEM;
  const char **ids = s->sc_ids;
  const char *p = s->sc_chars;
  for (size_t i = 0; i < c.nids; i++) {
    ids[i] = p;
    p += strlen(p) + 1;
  }
  out->type = (reg_msg_type)pb.type;
  memcpy(out->sender, pb.sender, strlen(pb.sender) + 1);
  out->deltas = c.nents ? s->sc_ents : NULL;
  out->ndeltas = (uint32_t)c.nents;
  out->digests = c.ndigests ? s->sc_digests : NULL;
  out->ndigests = (uint32_t)c.ndigests;
  out->ids = c.nids ? ids : NULL;
  out->nids = (uint32_t)c.nids;
  out->sinces = c.nsinces ? s->sc_sinces : NULL;
  out->seals = c.nseals ? s->sc_seals : NULL;
  out->nseals = (uint32_t)c.nseals;
  return 0;
}
