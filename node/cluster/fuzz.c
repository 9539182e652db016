/* fuzz.c — the cluster's fuzz entry points (cluster_fuzz.h): swim and
 * registry messages decoded and applied to a fresh state machine on a fake
 * clock, and operator replies read as the client reads them. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_fuzz.h"
#include "codec.h"
#include "op_client.h"
#include "wire.h"

#define FUZZ_SELF "fz"
#define FUZZ_EPOCH 1000u
#define FUZZ_OUT_CAP (256u << 10) /* what one sent message may take */

static const char *const fuzz_peers[4] = {"n1", "n2", "n3", FUZZ_SELF};

/* ---- the input as a script of messages -------------------------------- */

typedef struct fuzz_script {
  const uint8_t *p, *end;
} fuzz_script;

typedef struct fuzz_step {
  const char *from; /* the peer it comes from */
  unsigned event;   /* 0..3, what happens first (per state machine) */
  uint64_t advance; /* ms the clock moves first */
  const uint8_t *body;
  size_t len;
} fuzz_step;

static bool script_next(fuzz_script *s, fuzz_step *st) {
  if (s->end - s->p < 3) return false;
  uint8_t ctl = s->p[0];
  size_t len = (size_t)s->p[1] << 8 | s->p[2];
  s->p += 3;
  if (len > (size_t)(s->end - s->p)) len = (size_t)(s->end - s->p);
  st->from = fuzz_peers[ctl & 3];
  st->event = (ctl >> 2) & 3;
  st->advance = (uint64_t)(ctl >> 4) * 97u;
  st->body = s->p;
  st->len = len;
  s->p += len;
  return true;
}

/* What every sent message goes through: encoded into a frame, and the
 * body decoded again with a scratch of its own. */
typedef struct fuzz_out {
  uint8_t *buf;
  ccodec_scratch scratch;
  bool bug; /* a message sent did not decode again */
} fuzz_out;

static int out_init(fuzz_out *o) {
  memset(o, 0, sizeof(*o));
  o->buf = malloc(FUZZ_OUT_CAP);
  return o->buf ? 0 : TR_ENOMEM;
}

static void out_free(fuzz_out *o) {
  free(o->buf);
  ccodec_scratch_free(&o->scratch);
}

/* The body of a frame wire_encode_msg wrote (n bytes), or NULL. */
static const uint8_t *out_body(fuzz_out *o, int n, size_t *len) {
  if (n < (int)WIRE_HDR) return NULL; /* too big for the buffer: not sent */
  *len = (size_t)n - WIRE_HDR;
  return o->buf + WIRE_HDR;
}

/* ---- swim ----------------------------------------------------------------- */

static void fz_swim_send(void *user, const char *to_name, const char *to_addr,
                         const swim_msg *m) {
  fuzz_out *o = user;
  (void)to_name, (void)to_addr;
  troupe_SwimMsg pb;
  if (ccodec_swim_prepare(&pb, m) != 0) {
    o->bug = true; /* the core made a message its own codec refuses */
    return;
  }
  int n = wire_encode_msg(o->buf, FUZZ_OUT_CAP, troupe_FrameKind_FRAME_SWIM,
                          troupe_SwimMsg_fields, &pb);
  size_t len;
  const uint8_t *body = out_body(o, n, &len);
  swim_msg back;
  if (body && ccodec_swim_decode(body, len, &back, &o->scratch) != 0)
    o->bug = true;
}

/* A proof is "P" and the member's name: a forgery is anything else. */
static size_t fz_swim_sign(void *user, const swim_update *self, uint8_t *out,
                           size_t cap) {
  (void)user;
  size_t n = strlen(self->name) + 1;
  if (n > cap) return 0;
  out[0] = 'P';
  memcpy(out + 1, self->name, n - 1);
  return n;
}

static bool fz_swim_verify(void *user, const swim_update *u,
                           const char *from) {
  (void)user, (void)from;
  size_t n = strlen(u->name);
  return u->proof_len == n + 1 && u->proof[0] == 'P' &&
         memcmp(u->proof + 1, u->name, n) == 0;
}

int cluster_fuzz_swim(const uint8_t *data, size_t len) {
  fuzz_out o;
  ccodec_scratch in = CCODEC_SCRATCH_INIT;
  swim *s = NULL;
  int rc = out_init(&o);
  if (rc != 0) return rc;
  swim_config cfg = {.name = FUZZ_SELF, .addr = "10.0.0.9:7000",
                     .epoch = FUZZ_EPOCH, .seed = 1};
  swim_ops ops = {.send = fz_swim_send, .sign = fz_swim_sign,
                  .verify = fz_swim_verify};
  rc = swim_new(&s, &cfg, &ops, &o);
  if (rc != 0) goto out;
  uint64_t now = 1;
  const char *const seeds[] = {"10.0.0.1:7000"};
  swim_join(s, seeds, 1, now);
  fuzz_script sc = {data, data + len};
  fuzz_step st;
  int taken = 0;
  while (script_next(&sc, &st)) {
    now += st.advance;
    if (st.event == 1) swim_link_closed(s, st.from, now);
    swim_msg m;
    if (ccodec_swim_decode(st.body, st.len, &m, &in) == 0) {
      taken++;
      swim_receive(s, st.from, &m, now);
    }
    if (swim_next_deadline(s) <= now) swim_tick(s, now);
  }
  swim_update self;
  (void)swim_member(s, FUZZ_SELF, &self);
  (void)swim_members(s, NULL, 0);
  swim_leave(s, now);
  rc = o.bug ? CLUSTER_FUZZ_BUG : taken;
out:
  swim_free(s);
  ccodec_scratch_free(&in);
  out_free(&o);
  return rc;
}

/* ---- registry ------------------------------------------------------------- */

#define FUZZ_LOST_MAX 8

typedef struct fz_reg {
  fuzz_out o;
  /* Ids lost in a conflict, released after the call (the callbacks must
   * not call back into the registry). */
  char lost[FUZZ_LOST_MAX][TR_ID_MAX + 1];
  int nlost;
} fz_reg;

static void fz_reg_send(void *user, const char *to, const reg_msg *m) {
  fz_reg *z = user;
  (void)to;
  troupe_RegMsg pb;
  if (ccodec_reg_prepare(&pb, m) != 0) {
    z->o.bug = true;
    return;
  }
  int n = wire_encode_msg(z->o.buf, FUZZ_OUT_CAP,
                          troupe_FrameKind_FRAME_REGISTRY,
                          troupe_RegMsg_fields, &pb);
  size_t len;
  const uint8_t *body = out_body(&z->o, n, &len);
  reg_msg back;
  if (body && ccodec_reg_decode(body, len, &back, &z->o.scratch) != 0)
    z->o.bug = true;
}

static void fz_reg_conflict_lost(void *user, const char *id,
                                 const char *winner) {
  fz_reg *z = user;
  (void)winner;
  if (z->nlost < FUZZ_LOST_MAX) {
    strncpy(z->lost[z->nlost], id, TR_ID_MAX);
    z->lost[z->nlost++][TR_ID_MAX] = '\0';
  }
}

/* A seal's proof is "P" for good, "B" for a forgery, else unknown. */
static size_t fz_reg_sign(void *user, const uint8_t *d, size_t len,
                          uint8_t *out, size_t cap) {
  (void)user, (void)d, (void)len;
  if (cap < 1) return 0;
  out[0] = 'P';
  return 1;
}

static int fz_reg_verify(void *user, const char *owner, const uint8_t *d,
                         size_t len, const uint8_t *proof, size_t proof_len,
                         const char *from) {
  (void)user, (void)owner, (void)d, (void)len, (void)from;
  if (proof_len == 1 && proof[0] == 'P') return REG_PROOF_OK;
  return proof_len && proof[0] == 'B' ? REG_PROOF_BAD : REG_PROOF_UNKNOWN;
}

/* A policy: ids starting "deny" are nobody's to hold. */
static bool fz_reg_may_hold(void *user, const char *owner, const char *id) {
  (void)user, (void)owner;
  return strncmp(id, "deny", 4) != 0;
}

/* Events before a message: the peer comes up (a restart when its epoch
 * grows), goes, or this node claims or releases an id. */
static void reg_event(registry *r, const fuzz_step *st, uint64_t now) {
  static const char *const ids[4] = {"a", "b", "deny1", "n1"};
  const char *id = ids[st->advance % 4];
  switch (st->event) {
  case 1:
    reg_member_up(r, st->from, FUZZ_EPOCH + st->advance % 2, now);
    reg_member_contact(r, st->from, st->advance % 3 != 0, now);
    break;
  case 2:
    reg_member_gone(r, st->from, now);
    break;
  case 3:
    if (reg_claim(r, id, now) == TR_EEXIST) (void)reg_release(r, id, now);
    break;
  default:
    break;
  }
}

int cluster_fuzz_registry(const uint8_t *data, size_t len) {
  fz_reg *z = calloc(1, sizeof(*z));
  ccodec_scratch in = CCODEC_SCRATCH_INIT;
  registry *r = NULL;
  if (!z) return TR_ENOMEM;
  int rc = out_init(&z->o);
  if (rc != 0) goto out;
  reg_config cfg = {.name = FUZZ_SELF, .epoch = FUZZ_EPOCH, .seed = 1};
  reg_ops ops = {.send = fz_reg_send, .conflict_lost = fz_reg_conflict_lost,
                 .sign = fz_reg_sign, .verify = fz_reg_verify,
                 .may_hold = fz_reg_may_hold};
  rc = reg_new(&r, &cfg, &ops, z);
  if (rc != 0) goto out;
  uint64_t now = 1;
  for (int i = 0; i < 3; i++) reg_member_up(r, fuzz_peers[i], FUZZ_EPOCH, now);
  (void)reg_claim(r, "a", now);
  (void)reg_claim(r, "mine", now);
  fuzz_script sc = {data, data + len};
  fuzz_step st;
  int taken = 0;
  while (script_next(&sc, &st)) {
    now += st.advance;
    reg_event(r, &st, now);
    reg_msg m;
    if (ccodec_reg_decode(st.body, st.len, &m, &in) == 0) {
      taken++;
      reg_receive(r, st.from, &m, now);
    }
    if (reg_next_deadline(r) <= now) reg_tick(r, now);
    for (int i = 0; i < z->nlost; i++) (void)reg_release(r, z->lost[i], now);
    z->nlost = 0;
  }
  (void)reg_lookup(r, "a");
  (void)reg_count(r);
  rc = z->o.bug ? CLUSTER_FUZZ_BUG : taken;
out:
  reg_free(r);
  ccodec_scratch_free(&in);
  out_free(&z->o);
  free(z);
  return rc;
}

/* ---- operator replies ----------------------------------------------------- */

int cluster_fuzz_op_reply(const uint8_t *data, size_t len) {
  if (len < 1) return 0;
  const op_verb *v = op_verb_for((troupe_OpVerb)data[0]);
  if (!v) return 0;
  /* What the verbs write through k.user: their own argument (callbacks
   * NULL, so they only decode) or, for health, the answer. */
  union {
    tr_op_health_info health;
    tr_op_info info;
    void *args[8];
  } user;
  memset(&user, 0, sizeof(user));
  tr_op_target t = {.node = "fuzz:1"};
  op_call *k = calloc(1, sizeof(*k));
  if (!k || !(k->reply = malloc(sizeof(*k->reply)))) {
    free(k);
    return TR_ENOMEM;
  }
  k->t = &t;
  k->verb = v;
  k->user = &user;
  k->id = 1;
  wire_reader r;
  wire_reader_init(&r, 1u << 20);
  wire_frame f;
  int rc = wire_reader_feed(&r, data + 1, len - 1), frames = 0;
  while (rc == 0 && !k->done && wire_reader_next(&r, &f) == 1) {
    frames++;
    op_call_on_frame(k, f.kind, f.body, f.len);
  }
  wire_reader_free(&r);
  free(k->reply);
  free(k);
  return rc < 0 ? rc : frames;
}
