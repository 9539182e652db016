/* gen_corpus.c — writes the binary seeds of the fuzz corpora (the text
 * ones, http, config, spawn and policy, are written by hand) with the
 * library's own encoders, so they stay valid messages when the format
 * moves: `cmake --build B --target fuzz_gen_corpus &&
 * B/tests/fuzz/fuzz_gen_corpus tests/fuzz/corpus` rewrites every seed-*
 * file of the binary targets and leaves other files (found inputs) be. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pb_encode.h>

#include "codec.h"
#include "troupe.h"
#include "wire.h"

#define EPOCH 1000u

static const char *out_dir;

/* ---- a growing buffer of frames ------------------------------------------- */

typedef struct buf {
  uint8_t p[1 << 16];
  size_t len;
} buf;

static void put(buf *b, const void *p, size_t n) {
  if (b->len + n > sizeof(b->p)) {
    fprintf(stderr, "gen_corpus: seed too large\n");
    exit(1);
  }
  memcpy(b->p + b->len, p, n);
  b->len += n;
}

static void check(int n, const char *what) {
  if (n < 0) {
    fprintf(stderr, "gen_corpus: cannot encode %s: %s\n", what,
            tr_strerror(n));
    exit(1);
  }
}

static void frame_control(buf *b, troupe_FrameKind kind, const void *msg) {
  uint8_t tmp[1024];
  int n = wire_encode_control(tmp, sizeof(tmp), kind, msg);
  check(n, "control frame");
  put(b, tmp, (size_t)n);
}

static void frame_msg(buf *b, troupe_FrameKind kind, const pb_msgdesc_t *f,
                      const void *msg) {
  static uint8_t tmp[1 << 16];
  int n = wire_encode_msg(tmp, sizeof(tmp), kind, f, msg);
  check(n, "message frame");
  put(b, tmp, (size_t)n);
}

static wire_slice str(const char *s) {
  return (wire_slice){(const uint8_t *)s, strlen(s)};
}

static void frame_envelope(buf *b, uint32_t type, uint64_t seq,
                           const char *target, const char *payload) {
  wire_envelope e = {.type = type, .sender = str("a1"), .target = str(target),
                     .payload = str(payload), .seq = seq, .has_sender = 1};
  if (type == TR_MSG_PUBLISH) e.topic = str("prices"), e.has_topic = 1;
  if (type == TR_MSG_ASK) e.ask_id = 9, e.timeout_ms = 500;
  uint8_t tmp[1024];
  int n = wire_encode_envelope(tmp, sizeof(tmp), 1u << 16, &e);
  check(n, "envelope");
  put(b, tmp, (size_t)n);
}

/* The script records of the cluster targets (cluster_fuzz.h). */
static void record(buf *b, uint8_t ctl, troupe_FrameKind kind,
                   const pb_msgdesc_t *f, const void *msg) {
  static uint8_t tmp[1 << 16];
  int n = wire_encode_msg(tmp, sizeof(tmp), kind, f, msg);
  check(n, "cluster message");
  size_t len = (size_t)n - WIRE_HDR;
  uint8_t hdr[3] = {ctl, (uint8_t)(len >> 8), (uint8_t)len};
  put(b, hdr, 3);
  put(b, tmp + WIRE_HDR, len);
}

static void write_seed(const char *target, const char *name, const buf *b) {
  char path[4096];
  snprintf(path, sizeof(path), "%s/%s/seed-%s", out_dir, target, name);
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(b->p, 1, b->len, f) != b->len || fclose(f) != 0) {
    fprintf(stderr, "gen_corpus: cannot write %s\n", path);
    exit(1);
  }
}

/* ---- wire and link ------------------------------------------------------- */

static troupe_Hello hello(uint64_t session, uint64_t peer_session,
                          uint64_t recv_seq) {
  troupe_Hello h = troupe_Hello_init_zero;
  h.has_version = h.has_node = h.has_incarnation = h.has_session = true;
  h.has_peer_session = h.has_recv_seq = h.has_max_frame = true;
  h.has_features = true;
  h.version = WIRE_VERSION;
  strcpy(h.node, "n1");
  h.incarnation = EPOCH;
  h.session = session;
  h.peer_session = peer_session;
  h.recv_seq = recv_seq;
  h.max_frame = 1u << 16;
  h.features = WIRE_FEATURES;
  return h;
}

static void stream_tail(buf *b, uint64_t first_seq) {
  frame_envelope(b, TR_MSG_SEND, first_seq, "b1", "hello");
  frame_envelope(b, TR_MSG_ASK, first_seq + 1, "b1", "q");
  frame_envelope(b, TR_MSG_PUBLISH, first_seq + 2, "b1", "1.2345");
  frame_control(b, troupe_FrameKind_FRAME_ACK,
                &(troupe_Ack){.has_seq = true, .seq = 2});
  frame_control(b, troupe_FrameKind_FRAME_PING,
                &(troupe_Ping){.has_nonce = true, .nonce = 1,
                               .has_sent_ns = true, .sent_ns = 5});
  frame_control(b, troupe_FrameKind_FRAME_PONG,
                &(troupe_Pong){.has_nonce = true, .nonce = 1,
                               .has_sent_ns = true, .sent_ns = 5});
}

static void gen_wire_and_link(void) {
  buf *b = calloc(1, sizeof(*b));
  troupe_Hello h = hello(7, 1, 2);
  frame_control(b, troupe_FrameKind_FRAME_HELLO, &h);
  stream_tail(b, 1);
  write_seed("wire", "stream", b);
  write_seed("link", "resume", b); /* our session: resend from 2 */
  b->len = 0;
  h = hello(7, 99, 0); /* a session we do not know: report the rest */
  frame_control(b, troupe_FrameKind_FRAME_HELLO, &h);
  stream_tail(b, 1);
  troupe_Close cl = {.has_reason = true, .reason = TR_ETLS,
                     .has_detail = true};
  strcpy(cl.detail, "bye");
  frame_control(b, troupe_FrameKind_FRAME_CLOSE, &cl);
  write_seed("link", "new-session", b);
  b->len = 0;
  frame_control(b, troupe_FrameKind_FRAME_CLOSE, &cl);
  write_seed("wire", "close", b);
  free(b);
}

/* ---- swim ------------------------------------------------------------------ */

static swim_update member(const char *name, const char *addr, uint32_t inc,
                          swim_state st, const char *proof) {
  swim_update u = {.epoch = EPOCH, .incarnation = inc, .state = (uint8_t)st};
  strcpy(u.name, name);
  strcpy(u.addr, addr);
  if (proof) {
    u.proof = (const uint8_t *)proof;
    u.proof_len = (uint16_t)strlen(proof);
  }
  return u;
}

static void swim_record(buf *b, uint8_t ctl, swim_msg_type type,
                        const char *sender, uint32_t seq, const char *target,
                        const swim_update *u, uint32_t n) {
  swim_msg m = {.type = type, .seq = seq, .updates = u, .nupdates = n};
  strcpy(m.sender, sender);
  if (target) strcpy(m.target, target);
  troupe_SwimMsg pb;
  check(ccodec_swim_prepare(&pb, &m), "swim message");
  record(b, ctl, troupe_FrameKind_FRAME_SWIM, troupe_SwimMsg_fields, &pb);
}

static void gen_swim(void) {
  buf *b = calloc(1, sizeof(*b));
  swim_update all[4] = {
      member("n1", "10.0.0.1:7000", 0, SWIM_ALIVE, "Pn1"),
      member("n2", "10.0.0.2:7000", 0, SWIM_ALIVE, "Pn2"),
      member("n3", "10.0.0.3:7000", 1, SWIM_SUSPECT, "Pn3"),
      member("fz", "10.0.0.9:7000", 0, SWIM_ALIVE, "Pfz")};
  /* Joining: n1 answers the seed's SYNC_REQ with the full state. */
  swim_record(b, 0x10, SWIM_MSG_SYNC, "n1", 0, NULL, all, 4);
  write_seed("swim", "sync", b);
  /* Then probes both ways, a relay, a refutation and a leave. */
  swim_record(b, 0x50, SWIM_MSG_PING, "n2", 3, NULL, &all[1], 1);
  swim_record(b, 0x50, SWIM_MSG_ACK, "n1", 1, NULL, &all[0], 1);
  swim_record(b, 0x51, SWIM_MSG_PING_REQ, "n2", 4, "n3", &all[1], 2);
  swim_record(b, 0x52, SWIM_MSG_NACK, "n3", 2, "n1", &all[2], 1);
  swim_record(b, 0x61, SWIM_MSG_SYNC_REQ, "n2", 0, NULL, all, 4);
  all[2] = member("n3", "10.0.0.3:7000", 2, SWIM_ALIVE, "Pn3");
  swim_record(b, 0x72, SWIM_MSG_PING, "n3", 5, NULL, &all[2], 1);
  all[1] = member("n2", "10.0.0.2:7000", 1, SWIM_LEFT, "Pn2");
  swim_record(b, 0xf1, SWIM_MSG_LEAVE, "n2", 0, NULL, &all[1], 1);
  write_seed("swim", "session", b);
  /* Rumours: n1 says fz itself and n2 are dead. */
  b->len = 0;
  swim_record(b, 0x10, SWIM_MSG_SYNC, "n1", 0, NULL, all, 4);
  swim_update rumour[3] = {member("n1", "10.0.0.1:7000", 0, SWIM_ALIVE, "Pn1"),
                           member("fz", "", 0, SWIM_DEAD, NULL),
                           member("n3", "", 2, SWIM_DEAD, NULL)};
  swim_record(b, 0xf4, SWIM_MSG_PING, "n1", 9, NULL, rumour, 3);
  write_seed("swim", "rumours", b);
  free(b);
}

/* ---- registry ---------------------------------------------------------------- */

static reg_delta delta(const char *owner, uint64_t version, const char *id,
                       bool removed) {
  reg_delta d = {.epoch = EPOCH, .version = version, .removed = removed,
                 .since = removed ? 0 : 500 + version};
  strcpy(d.owner, owner);
  strcpy(d.id, id);
  return d;
}

static void reg_record(buf *b, uint8_t ctl, const reg_msg *m) {
  troupe_RegMsg pb;
  check(ccodec_reg_prepare(&pb, m), "registry message");
  record(b, ctl, troupe_FrameKind_FRAME_REGISTRY, troupe_RegMsg_fields, &pb);
}

static void gen_registry(void) {
  buf *b = calloc(1, sizeof(*b));
  /* n1's first batch, then n2's relayed by n1, then a removal. */
  reg_delta d1[3] = {delta("n1", 1, "x", false), delta("n1", 2, "y", false),
                     delta("n1", 3, "a", false)};
  reg_seal s1 = {.epoch = EPOCH, .first = 1, .last = 3,
                 .proof = (const uint8_t *)"P", .proof_len = 1};
  strcpy(s1.owner, "n1");
  reg_msg m = {.type = REG_MSG_DELTAS, .deltas = d1, .ndeltas = 3,
               .seals = &s1, .nseals = 1};
  strcpy(m.sender, "n1");
  reg_record(b, 0x10, &m);
  reg_delta d2[1] = {delta("n2", 1, "z", false)};
  reg_seal s2 = {.epoch = EPOCH, .first = 1, .last = 1,
                 .proof = (const uint8_t *)"P", .proof_len = 1};
  strcpy(s2.owner, "n2");
  m.deltas = d2, m.ndeltas = 1, m.seals = &s2;
  reg_record(b, 0x20, &m);
  reg_delta d3[1] = {delta("n1", 4, "x", true)};
  s1.first = s1.last = 4;
  m.deltas = d3, m.seals = &s1;
  reg_record(b, 0x30, &m);
  write_seed("registry", "deltas", b);

  /* Anti-entropy: digests, a pull, a set, a digest reply. */
  b->len = 0;
  reg_digest dg[3] = {{.epoch = EPOCH, .version = 2},
                      {.epoch = EPOCH, .version = 5},
                      {.epoch = EPOCH, .version = 1}};
  strcpy(dg[0].owner, "n1");
  strcpy(dg[1].owner, "fz");
  strcpy(dg[2].owner, "n2");
  reg_msg d = {.type = REG_MSG_DIGEST, .digests = dg, .ndigests = 3};
  strcpy(d.sender, "n2");
  reg_record(b, 0x41, &d);
  d.type = REG_MSG_PULL;
  d.ndigests = 1;
  d.digests = &dg[1];
  reg_record(b, 0x41, &d);
  static const char *const ids[] = {"p", "q", "a"};
  static const uint64_t sinces[] = {10, 20, 1};
  reg_msg set = {.type = REG_MSG_SET, .digests = &dg[0], .ndigests = 1,
                 .ids = ids, .sinces = sinces, .nids = 3};
  strcpy(set.sender, "n1");
  reg_record(b, 0x50, &set);
  d.type = REG_MSG_DIGEST_REPLY;
  d.digests = dg;
  d.ndigests = 3;
  reg_record(b, 0x61, &d);
  write_seed("registry", "anti-entropy", b);
  free(b);
}

/* ---- operator requests and replies --------------------------------------------- */

static bool encode_data(pb_ostream_t *s, const pb_field_t *f, void *const *arg) {
  const char *d = *arg;
  return pb_encode_tag_for_field(s, f) &&
         pb_encode_string(s, (const uint8_t *)d, strlen(d));
}

/* A request body after a role byte (0 operator, 1 viewer, 2 node). */
static void op_request(const char *name, uint8_t role, troupe_OpVerb verb,
                       const char *target, const char *topic,
                       const char *data) {
  buf *b = calloc(1, sizeof(*b));
  troupe_OpRequest r = troupe_OpRequest_init_zero;
  r.has_verb = r.has_id = true;
  r.verb = verb;
  r.id = 1;
  if (target) r.has_target = true, strcpy(r.target, target);
  if (topic) r.has_topic = true, strcpy(r.topic, topic);
  if (data) r.data.funcs.encode = encode_data, r.data.arg = (void *)data;
  if (verb == troupe_OpVerb_OP_ASK) r.has_timeout_ms = true, r.timeout_ms = 50;
  static uint8_t tmp[4096];
  int n = wire_encode_msg(tmp, sizeof(tmp), troupe_FrameKind_FRAME_OPERATOR,
                          troupe_OpRequest_fields, &r);
  check(n, "operator request");
  put(b, &role, 1);
  put(b, tmp + WIRE_HDR, (size_t)n - WIRE_HDR);
  write_seed("op_request", name, b);
  free(b);
}

static void gen_op_request(void) {
  op_request("members", 0, troupe_OpVerb_OP_MEMBERS, NULL, NULL, NULL);
  op_request("actors", 1, troupe_OpVerb_OP_ACTORS, "fz", NULL, NULL);
  op_request("stats", 1, troupe_OpVerb_OP_STATS, NULL, NULL, NULL);
  op_request("health", 0, troupe_OpVerb_OP_HEALTH, NULL, NULL, NULL);
  op_request("send", 0, troupe_OpVerb_OP_SEND, "echo", NULL, "hi");
  op_request("ask", 0, troupe_OpVerb_OP_ASK, "echo", NULL, "ping");
  op_request("sub", 1, troupe_OpVerb_OP_SUB, "echo", "prices", NULL);
  op_request("denied", 0, troupe_OpVerb_OP_ASK, "secret1", NULL, "x");
  op_request("viewer-send", 1, troupe_OpVerb_OP_SEND, "echo", NULL, "x");
}

static void reply_frame(buf *b, troupe_OpReply *r, const char *body) {
  r->has_id = true;
  r->id = 1;
  if (body) r->body.funcs.encode = encode_data, r->body.arg = (void *)body;
  frame_msg(b, troupe_FrameKind_FRAME_OPERATOR_REPLY, troupe_OpReply_fields, r);
}

static void gen_op_reply(void) {
  buf *b = calloc(1, sizeof(*b));
  troupe_OpReply *r = calloc(1, sizeof(*r));
  uint8_t verb = troupe_OpVerb_OP_MEMBERS;
  put(b, &verb, 1);
  r->has_node = true, strcpy(r->node, "n1");
  r->members_count = 2;
  for (int i = 0; i < 2; i++) {
    troupe_OpMember *m = &r->members[i];
    m->has_name = m->has_addr = m->has_state = m->has_epoch = true;
    snprintf(m->name, sizeof(m->name), "n%d", i + 1);
    strcpy(m->addr, "10.0.0.1:7000");
    m->epoch = EPOCH;
  }
  r->has_more = true, r->more = true;
  reply_frame(b, r, NULL);
  r->more = false;
  r->members_count = 0;
  reply_frame(b, r, NULL);
  write_seed("op_reply", "members", b);

  b->len = 0;
  verb = troupe_OpVerb_OP_ACTORS;
  put(b, &verb, 1);
  memset(r, 0, sizeof(*r));
  r->actors_count = 1;
  r->actors[0].has_id = r->actors[0].has_node = true;
  strcpy(r->actors[0].id, "echo");
  strcpy(r->actors[0].node, "n1");
  reply_frame(b, r, NULL);
  write_seed("op_reply", "actors", b);

  b->len = 0;
  verb = troupe_OpVerb_OP_STATS;
  put(b, &verb, 1);
  memset(r, 0, sizeof(*r));
  r->has_node = true, strcpy(r->node, "n1");
  r->counters_count = 1;
  r->counters[0].has_name = r->counters[0].has_value = true;
  strcpy(r->counters[0].name, "sent");
  r->counters[0].value = 3;
  reply_frame(b, r, NULL);
  write_seed("op_reply", "stats", b);

  b->len = 0;
  verb = troupe_OpVerb_OP_HEALTH;
  put(b, &verb, 1);
  memset(r, 0, sizeof(*r));
  r->has_status = true, r->status = TR_ESTATE;
  r->has_health = true;
  r->health.has_ready = r->health.has_members_up = true;
  r->health.members_up = 1;
  reply_frame(b, r, NULL);
  write_seed("op_reply", "health", b);

  b->len = 0;
  verb = troupe_OpVerb_OP_ASK;
  put(b, &verb, 1);
  memset(r, 0, sizeof(*r));
  r->has_from = r->has_node = true;
  strcpy(r->from, "echo");
  strcpy(r->node, "n1");
  reply_frame(b, r, "pong");
  write_seed("op_reply", "ask", b);

  b->len = 0;
  verb = troupe_OpVerb_OP_SUB;
  put(b, &verb, 1);
  memset(r, 0, sizeof(*r));
  r->has_more = true, r->more = true;
  reply_frame(b, r, NULL); /* the stream has begun */
  r->has_from = true, strcpy(r->from, "t1");
  reply_frame(b, r, "1.2345");
  write_seed("op_reply", "sub", b);
  free(r);
  free(b);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: fuzz_gen_corpus CORPUS_DIR\n");
    return 2;
  }
  out_dir = argv[1];
  gen_wire_and_link();
  gen_swim();
  gen_registry();
  gen_op_request();
  gen_op_reply();
  return 0;
}
