/* evil.c — the attacker of attack_test.sh (issue "trust"): a holder of a
 * certificate from the cluster CA that links to one real `troupe run` node,
 * learns the members from the node's own SYNC, writes one crafted frame or
 * envelope about another member, and makes sure the node read it (the ACK
 * of a PING sent after it, on the same ordered link). The in-process
 * versions are tests/integration/test_trust_*.c, test_roles.c and
 * test_policy.c; this one shows the same against the real daemon. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <pb_decode.h>
#include <pb_encode.h>

#include "codec.h"
#include "host.h"
#include "tls.h"
#include "wire_client.h"

#define EVIL_WAIT_MS 5000u /* the longest any one step may take */

static const char usage[] =
    "usage: evil --node HOST:PORT --ca CA --cert CERT --key KEY ATTACK [ARG]...\n"
    "  (links as the node its certificate's CN names, or --name NAME)\n"
    "attacks:\n"
    "  swim-dead VICTIM        dead at its incarnation + 1\n"
    "  swim-left VICTIM        left, without its proof\n"
    "  swim-restart VICTIM     alive at its epoch + 1\n"
    "  swim-suspect VICTIM     suspect at its incarnation + 1\n"
    "  swim-rumour VICTIM      dead at its incarnation (a rumour)\n"
    "  swim-forged-proof VICTIM  a restart signed with this certificate\n"
    "  reg-set OWNER [ID]...   OWNER's full set listing the ids\n"
    "  reg-empty OWNER         an empty set for OWNER at version 2^62\n"
    "  reg-batch OWNER ID      a batch removing ID, versions 1..64, sealed\n"
    "                          with this certificate's key\n"
    "  reg-inflate OWNER       a digest holding OWNER's set at 2^62\n"
    "  swim-flood COUNT        a PING carrying COUNT invented members\n"
    "  reg-digest-flood OWNER COPIES TIMES\n"
    "                          TIMES digests, each with COPIES copies of\n"
    "                          OWNER's entry at version 0 (each asks for\n"
    "                          OWNER's whole set)\n"
    "  op-verb VERB TARGET     an operator request (send, ask, members,\n"
    "                          actors, stats, health): exit 0 only if it is\n"
    "                          answered TR_EPERM\n"
    "  stop ID                 a stop envelope for actor ID\n"
    "exit: 0 the node read it; 1 it failed (refused, no answer: stderr says\n"
    "which); 2 bad usage\n";

typedef struct evil {
  wc *w;
  tls_config *key; /* to sign as this certificate (tls_prove, tls_sign) */
  char name[TR_ID_MAX + 1];  /* the name its hello gives */
  char node[TR_ID_MAX + 1];  /* the node it talks to, from its SYNC */
  uint64_t epoch;
  /* Its own record's proof, as a real node signs it: others relay the
   * record (and its restarts, one per run) without counting a forgery, so
   * the counters show only the attacks. */
  uint8_t self_proof[SWIM_PROOF_MAX];
  size_t self_proof_len;
  uint32_t seq;
  ccodec_scratch sync_scratch; /* holds the members, kept */
  ccodec_scratch scratch;      /* for the frames after it */
  swim_msg sync;
  size_t seen;                 /* frames looked at so far */
} evil;

static uint64_t wall_ms(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u;
}

/* ---- waiting for the node ------------------------------------------------ */

static bool refused(evil *e) {
  return wc_seed_failure(e->w)->reason != LINK_CLOSE_NONE;
}

/* A wc_run predicate: the SYNC answer came, or the link was refused. */
static bool got_sync(wc *w, void *arg) {
  evil *e = arg;
  for (; e->seen < wc_nframes(w); e->seen++) {
    const wc_frame *f = wc_frame_at(w, e->seen);
    if (f->kind != troupe_FrameKind_FRAME_SWIM) continue;
    swim_msg m;
    if (ccodec_swim_decode(f->body, f->len, &m, &e->sync_scratch) != 0 ||
        m.type != SWIM_MSG_SYNC)
      continue;
    e->sync = m;
    e->seen++;
    return true;
  }
  return refused(e);
}

typedef struct ack_wait {
  evil *e;
  uint32_t seq;
  bool acked;
} ack_wait;

/* A wc_run predicate: the ACK of seq came back, or the link went down. */
static bool got_ack(wc *w, void *arg) {
  ack_wait *a = arg;
  evil *e = a->e;
  for (; e->seen < wc_nframes(w); e->seen++) {
    const wc_frame *f = wc_frame_at(w, e->seen);
    swim_msg m;
    if (f->kind == troupe_FrameKind_FRAME_SWIM &&
        ccodec_swim_decode(f->body, f->len, &m, &e->scratch) == 0 &&
        m.type == SWIM_MSG_ACK && m.seq == a->seq) {
      a->acked = true;
      return true;
    }
  }
  return wc_downs(w) > 0;
}

typedef struct reply_wait {
  evil *e;
  uint64_t id;
  troupe_OpReply r;
  bool got;
} reply_wait;

static bool got_reply(wc *w, void *arg) {
  reply_wait *rw = arg;
  evil *e = rw->e;
  for (; e->seen < wc_nframes(w); e->seen++) {
    const wc_frame *f = wc_frame_at(w, e->seen);
    if (f->kind != troupe_FrameKind_FRAME_OPERATOR_REPLY) continue;
    troupe_OpReply r = troupe_OpReply_init_zero;
    pb_istream_t in = pb_istream_from_buffer(f->body, f->len);
    if (pb_decode(&in, troupe_OpReply_fields, &r) && r.id == rw->id) {
      rw->r = r;
      rw->got = true;
      return true;
    }
  }
  return wc_downs(w) > 0;
}

/* ---- the link -------------------------------------------------------------- */

static swim_update own_record(const evil *e) {
  swim_update u;
  memset(&u, 0, sizeof(u));
  snprintf(u.name, sizeof(u.name), "%s", e->name);
  u.epoch = e->epoch;
  u.state = SWIM_ALIVE;
  u.proof = e->self_proof_len ? e->self_proof : NULL;
  u.proof_len = (uint16_t)e->self_proof_len;
  return u;
}

static int sign_own_record(evil *e) {
  swim_update u = own_record(e);
  uint8_t rec[SWIM_RECORD_MAX];
  size_t n = swim_record_bytes(&u, rec);
  int rc = tls_prove(e->key, rec, n, e->self_proof, sizeof(e->self_proof),
                     &e->self_proof_len);
  if (rc != 0) fprintf(stderr, "evil: tls_prove: %s\n", tr_errname(rc));
  return rc == 0 ? 0 : 1;
}

/* Links to addr with a SYNC_REQ carrying this node's own record and waits
 * for the node's SYNC: its name and what it holds of every member. */
static int link_up(evil *e, const char *addr) {
  swim_update self = own_record(e);
  swim_msg m = {.type = SWIM_MSG_SYNC_REQ, .seq = ++e->seq,
                .updates = &self, .nupdates = 1};
  snprintf(m.sender, sizeof(m.sender), "%s", e->name);
  troupe_SwimMsg pb;
  int rc = ccodec_swim_prepare(&pb, &m);
  if (rc == 0)
    rc = wc_seed_frame(e->w, addr, troupe_FrameKind_FRAME_SWIM, &pb,
                       troupe_SwimMsg_fields);
  if (rc != 0) {
    fprintf(stderr, "evil: cannot send to %s: %s\n", addr, tr_errname(rc));
    return 1;
  }
  wc_run(e->w, got_sync, e, EVIL_WAIT_MS);
  if (refused(e)) {
    const link_seed_failure *f = wc_seed_failure(e->w);
    fprintf(stderr,
            "evil: %s refused the link as %s: %s at %s, tls %s, refused by "
            "%s: %s\n",
            addr, e->name, link_close_reason_name(f->reason),
            link_stage_name(f->stage), tls_fail_name(f->tls),
            f->refused_by == LINK_REFUSED_BY_PEER ? "the node"
            : f->refused_by == LINK_REFUSED_BY_US ? "us"
                                                   : "nobody",
            wc_seed_detail(e->w));
    return 1;
  }
  if (e->sync.nupdates == 0) {
    fprintf(stderr, "evil: no SYNC from %s within %u ms\n", addr,
            EVIL_WAIT_MS);
    return 1;
  }
  snprintf(e->node, sizeof(e->node), "%s", e->sync.sender);
  if (!wc_link(e->w, e->node)) {
    fprintf(stderr, "evil: no link to %s after its SYNC\n", e->node);
    return 1;
  }
  return 0;
}

/* What the node holds of member `name`, from its SYNC. */
static int member(const evil *e, const char *name, swim_update *out) {
  for (uint32_t i = 0; i < e->sync.nupdates; i++) {
    if (strcmp(e->sync.updates[i].name, name) != 0) continue;
    *out = e->sync.updates[i];
    out->proof = NULL;
    out->proof_len = 0;
    fprintf(stderr, "evil: %s holds %s %s epoch=%llu incarnation=%u addr=%s\n",
            e->node, name, swim_state_name((swim_state)out->state),
            (unsigned long long)out->epoch, out->incarnation, out->addr);
    return 0;
  }
  fprintf(stderr, "evil: %s does not know %s\n", e->node, name);
  return 1;
}

/* A PING from this node carrying ups[0..n) (ups[0]: its own record). */
static int send_updates(evil *e, swim_update *ups, uint32_t n,
                        uint32_t *seq) {
  ups[0] = own_record(e);
  swim_msg m = {.type = SWIM_MSG_PING, .seq = ++e->seq, .updates = ups,
                .nupdates = n};
  snprintf(m.sender, sizeof(m.sender), "%s", e->name);
  troupe_SwimMsg pb;
  int rc = ccodec_swim_prepare(&pb, &m);
  peer_link *lk = wc_link(e->w, e->node);
  if (rc == 0 && !lk) rc = TR_EUNREACHABLE;
  if (rc == 0)
    rc = link_send_frame(lk, troupe_FrameKind_FRAME_SWIM, &pb,
                         troupe_SwimMsg_fields);
  if (rc != 0) {
    fprintf(stderr, "evil: PING to %s: %s\n", e->node, tr_errname(rc));
    return 1;
  }
  if (seq) *seq = m.seq;
  return 0;
}

/* A PING from this node carrying its own record, then `about` (if any). */
static int send_ping(evil *e, const swim_update *about, uint32_t *seq) {
  swim_update ups[2];
  if (about) ups[1] = *about;
  return send_updates(e, ups, about ? 2 : 1, seq);
}

/* The node read everything sent before: a PING sent after it is ACKed
 * (frames and envelopes share the link's one ordered stream). */
static int barrier(evil *e) {
  ack_wait a = {.e = e};
  if (send_ping(e, NULL, &a.seq) != 0) return 1;
  wc_run(e->w, got_ack, &a, EVIL_WAIT_MS);
  if (!a.acked) {
    fprintf(stderr, "evil: %s did not ACK a PING within %u ms%s\n", e->node,
            EVIL_WAIT_MS, wc_downs(e->w) ? " (the link went down)" : "");
    return 1;
  }
  return 0;
}

static bool never(wc *w, void *arg) {
  (void)w;
  (void)arg;
  return false;
}

static int bad_count(const char *v) {
  fprintf(stderr, "evil: bad count '%s'\n", v);
  return 2;
}

/* ---- membership ------------------------------------------------------------ */

static int attack_swim(evil *e, const char *attack, const char *victim) {
  swim_update u;
  if (member(e, victim, &u) != 0) return 1;
  u.state = SWIM_ALIVE;
  uint8_t rec[SWIM_RECORD_MAX], proof[SWIM_PROOF_MAX];
  if (strcmp(attack, "swim-dead") == 0) {
    u.state = SWIM_DEAD;
    u.incarnation++;
  } else if (strcmp(attack, "swim-left") == 0) {
    u.state = SWIM_LEFT;
  } else if (strcmp(attack, "swim-restart") == 0) {
    u.epoch++;
  } else if (strcmp(attack, "swim-suspect") == 0) {
    u.state = SWIM_SUSPECT;
    u.incarnation++;
  } else if (strcmp(attack, "swim-rumour") == 0) {
    u.state = SWIM_DEAD;
  } else { /* swim-forged-proof: the victim's restart, signed by us */
    u.epoch++;
    size_t len = 0, n = swim_record_bytes(&u, rec);
    int rc = tls_prove(e->key, rec, n, proof, sizeof(proof), &len);
    if (rc != 0) {
      fprintf(stderr, "evil: tls_prove: %s\n", tr_errname(rc));
      return 1;
    }
    u.proof = proof;
    u.proof_len = (uint16_t)len;
  }
  uint32_t seq;
  if (send_ping(e, &u, &seq) != 0) return 1;
  return barrier(e);
}

/* ---- the registry ---------------------------------------------------------- */

static int send_reg(evil *e, const reg_msg *m) {
  troupe_RegMsg pb;
  int rc = ccodec_reg_prepare(&pb, m);
  peer_link *lk = wc_link(e->w, e->node);
  if (rc == 0 && !lk) rc = TR_EUNREACHABLE;
  if (rc == 0)
    rc = link_send_frame(lk, troupe_FrameKind_FRAME_REGISTRY, &pb,
                         troupe_RegMsg_fields);
  if (rc != 0) {
    fprintf(stderr, "evil: registry frame to %s: %s\n", e->node,
            tr_errname(rc));
    return 1;
  }
  return barrier(e);
}

enum { BATCH = 64 };

static int attack_reg(evil *e, const char *attack, const char *owner,
                      char **ids, int nids) {
  swim_update o;
  if (member(e, owner, &o) != 0) return 1;
  reg_digest dg = {.epoch = o.epoch};
  snprintf(dg.owner, sizeof(dg.owner), "%s", owner);
  reg_msg m = {.type = REG_MSG_SET, .digests = &dg, .ndigests = 1};
  snprintf(m.sender, sizeof(m.sender), "%s", e->name);
  if (strcmp(attack, "reg-set") == 0) { /* ids: what it would hold */
    dg.version = 1ull << 40;
    m.ids = (const char *const *)ids;
    m.nids = (uint32_t)nids;
    return send_reg(e, &m);
  }
  if (strcmp(attack, "reg-empty") == 0) {
    dg.version = 1ull << 62;
    return send_reg(e, &m);
  }
  if (strcmp(attack, "reg-inflate") == 0) {
    dg.version = 1ull << 62;
    m.type = REG_MSG_DIGEST;
    return send_reg(e, &m);
  }
  /* reg-batch: versions 1..64 each removing the id, so that whatever
   * version the owner is at, some are news and the seal is checked. */
  static reg_delta d[BATCH];
  const reg_delta *ds[BATCH];
  reg_seal seal = {.epoch = o.epoch, .first = 1, .last = BATCH};
  snprintf(seal.owner, sizeof(seal.owner), "%s", owner);
  for (int k = 0; k < BATCH; k++) {
    memset(&d[k], 0, sizeof(d[k]));
    snprintf(d[k].owner, sizeof(d[k].owner), "%s", owner);
    snprintf(d[k].id, sizeof(d[k].id), "%s", ids[0]);
    d[k].epoch = o.epoch;
    d[k].version = (uint64_t)k + 1;
    d[k].removed = 1;
    ds[k] = &d[k];
  }
  uint8_t *buf = malloc(reg_seal_bytes_max(BATCH));
  if (!buf) return 1;
  uint8_t proof[REG_PROOF_MAX];
  size_t plen = 0, len = reg_seal_bytes(&seal, ds, buf);
  int rc = tls_sign(e->key, buf, len, proof, sizeof(proof), &plen);
  free(buf);
  if (rc != 0) {
    fprintf(stderr, "evil: tls_sign: %s\n", tr_errname(rc));
    return 1;
  }
  seal.proof = proof;
  seal.proof_len = (uint16_t)plen;
  reg_msg b = {.type = REG_MSG_DELTAS, .deltas = d, .ndeltas = BATCH,
               .seals = &seal, .nseals = 1};
  snprintf(b.sender, sizeof(b.sender), "%s", e->name);
  return send_reg(e, &b);
}

/* ---- floods (issue 16) ----------------------------------------------------- */

static int attack_swim_flood(evil *e, const char *count) {
  long n = strtol(count, NULL, 10);
  if (n < 1 || n > 200000) return bad_count(count);
  swim_update *ups = calloc((size_t)n + 1, sizeof(*ups));
  if (!ups) return 1;
  for (long i = 1; i <= n; i++) {
    snprintf(ups[i].name, sizeof(ups[i].name), "invented-%ld", i);
    snprintf(ups[i].addr, sizeof(ups[i].addr), "10.%ld.%ld.%ld:7000",
             (i >> 16) & 255, (i >> 8) & 255, i & 255);
    ups[i].state = SWIM_ALIVE;
    ups[i].epoch = 1;
  }
  int rc = send_updates(e, ups, (uint32_t)n + 1, NULL);
  free(ups);
  if (rc != 0) return 1;
  return barrier(e);
}

static int attack_digest_flood(evil *e, char **args) {
  long copies = strtol(args[1], NULL, 10), times = strtol(args[2], NULL, 10);
  if (copies < 1 || copies > 200000) return bad_count(args[1]);
  if (times < 1 || times > 10000) return bad_count(args[2]);
  swim_update o;
  if (member(e, args[0], &o) != 0) return 1;
  reg_digest *dg = calloc((size_t)copies, sizeof(*dg));
  if (!dg) return 1;
  for (long i = 0; i < copies; i++) {
    snprintf(dg[i].owner, sizeof(dg[i].owner), "%s", args[0]);
    dg[i].epoch = o.epoch;
  }
  reg_msg m = {.type = REG_MSG_DIGEST, .digests = dg,
               .ndigests = (uint32_t)copies};
  snprintf(m.sender, sizeof(m.sender), "%s", e->name);
  int rc = 0, waits = 0;
  for (long t = 0; t < times && rc == 0; t++) {
    troupe_RegMsg pb;
    peer_link *lk = wc_link(e->w, e->node);
    rc = ccodec_reg_prepare(&pb, &m);
    if (rc == 0 && !lk) rc = TR_EUNREACHABLE;
    if (rc == 0)
      rc = link_send_frame(lk, troupe_FrameKind_FRAME_REGISTRY, &pb,
                           troupe_RegMsg_fields);
    /* Let the link write it before the next (its frame queue is bounded). */
    if (rc == TR_EFULL && waits++ < 1000) {
      wc_run(e->w, never, NULL, 20);
      rc = 0;
      t--;
    }
  }
  free(dg);
  if (rc != 0) {
    fprintf(stderr, "evil: digests to %s: %s\n", e->node, tr_errname(rc));
    return 1;
  }
  return barrier(e);
}

/* ---- operator requests and envelopes -------------------------------------- */

static bool encode_data(pb_ostream_t *s, const pb_field_t *f,
                        void *const *arg) {
  const char *data = *arg;
  return pb_encode_tag_for_field(s, f) &&
         pb_encode_string(s, (const uint8_t *)data, strlen(data));
}

static int attack_op(evil *e, const char *verb, const char *target) {
  static const struct {
    const char *name;
    troupe_OpVerb verb;
  } verbs[] = {{"members", troupe_OpVerb_OP_MEMBERS},
               {"actors", troupe_OpVerb_OP_ACTORS},
               {"send", troupe_OpVerb_OP_SEND},
               {"ask", troupe_OpVerb_OP_ASK},
               {"stats", troupe_OpVerb_OP_STATS},
               {"health", troupe_OpVerb_OP_HEALTH}};
  troupe_OpRequest req = troupe_OpRequest_init_zero;
  for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
    if (strcmp(verb, verbs[i].name) == 0) req.verb = verbs[i].verb;
  if (req.verb == troupe_OpVerb_OP_NONE) {
    fprintf(stderr, "evil: op-verb: unknown verb '%s'\n", verb);
    return 2;
  }
  req.has_verb = req.has_id = req.has_target = true;
  req.id = 7;
  snprintf(req.target, sizeof(req.target), "%s", target);
  req.data.funcs.encode = encode_data;
  req.data.arg = (void *)"evil";
  peer_link *lk = wc_link(e->w, e->node);
  int rc = lk ? link_send_frame(lk, troupe_FrameKind_FRAME_OPERATOR, &req,
                                troupe_OpRequest_fields)
              : TR_EUNREACHABLE;
  if (rc != 0) {
    fprintf(stderr, "evil: operator request to %s: %s\n", e->node,
            tr_errname(rc));
    return 1;
  }
  reply_wait rw = {.e = e, .id = req.id};
  wc_run(e->w, got_reply, &rw, EVIL_WAIT_MS);
  if (!rw.got) {
    fprintf(stderr, "evil: no operator reply from %s within %u ms\n",
            e->node, EVIL_WAIT_MS);
    return 1;
  }
  printf("%s\n", tr_errname(rw.r.status));
  if (rw.r.status != TR_EPERM) {
    fprintf(stderr, "evil: %s answered %s %s with %s, not TR_EPERM\n",
            e->node, verb, target, tr_errname(rw.r.status));
    return 1;
  }
  return 0;
}

static int attack_stop(evil *e, const char *id) {
  wire_envelope env = {.type = HOST_ENV_STOP,
                       .target = {(const uint8_t *)id, strlen(id)}};
  peer_link *lk = wc_link(e->w, e->node);
  int rc = lk ? link_send(lk, &env) : TR_EUNREACHABLE;
  if (rc != 0) {
    fprintf(stderr, "evil: stop envelope to %s: %s\n", e->node,
            tr_errname(rc));
    return 1;
  }
  return barrier(e);
}

/* ---- the command line ------------------------------------------------------ */

/* How many arguments an attack takes: {min, max}; max -1: any. */
static bool attack_args(const char *a, int *min, int *max) {
  static const struct {
    const char *name;
    int min, max;
  } t[] = {{"swim-dead", 1, 1},   {"swim-left", 1, 1},
           {"swim-restart", 1, 1}, {"swim-suspect", 1, 1},
           {"swim-rumour", 1, 1}, {"swim-forged-proof", 1, 1},
           {"reg-set", 1, -1},    {"reg-empty", 1, 1},
           {"reg-batch", 2, 2},   {"reg-inflate", 1, 1},
           {"op-verb", 2, 2},     {"stop", 1, 1},
           {"swim-flood", 1, 1},  {"reg-digest-flood", 3, 3}};
  for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
    if (strcmp(a, t[i].name) == 0) {
      *min = t[i].min;
      *max = t[i].max;
      return true;
    }
  return false;
}

static int bad_usage(const char *why) {
  fprintf(stderr, "evil: %s\n%s", why, usage);
  return 2;
}

int main(int argc, char **argv) {
  const char *addr = NULL, *ca = NULL, *cert = NULL, *keyf = NULL,
             *name = NULL;
  int i = 1;
  for (; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
    if (i + 1 >= argc) return bad_usage("a flag without its value");
    const char *v = argv[i + 1];
    if (strcmp(argv[i], "--node") == 0) addr = v;
    else if (strcmp(argv[i], "--ca") == 0) ca = v;
    else if (strcmp(argv[i], "--cert") == 0) cert = v;
    else if (strcmp(argv[i], "--key") == 0) keyf = v;
    else if (strcmp(argv[i], "--name") == 0) name = v;
    else return bad_usage("unknown flag");
  }
  int min = 0, max = 0;
  if (!addr || !ca || !cert || !keyf) return bad_usage("--node, --ca, --cert and --key are needed");
  if (i >= argc || !attack_args(argv[i], &min, &max))
    return bad_usage("which attack?");
  const char *attack = argv[i];
  char **args = argv + i + 1;
  int nargs = argc - i - 1;
  if (nargs < min || (max >= 0 && nargs > max))
    return bad_usage("wrong number of arguments for the attack");

  evil e = {.epoch = wall_ms()};
  char err[256];
  tls_cert_info info;
  if (!name) {
    if (tls_cert_file_info(cert, NULL, &info, err, sizeof(err)) != 0) {
      fprintf(stderr, "evil: %s\n", err);
      return 1;
    }
    name = info.cn;
  }
  snprintf(e.name, sizeof(e.name), "%s", name);
  wc_opts o = {.name = e.name, .ca_file = ca, .cert_file = cert,
               .key_file = keyf, .incarnation = e.epoch};
  tls_config_opts to = {.ca_file = ca, .cert_file = cert, .key_file = keyf};
  int rc = wc_new(&e.w, &o);
  if (rc != 0) {
    fprintf(stderr, "evil: wc_new: %s\n", tr_errname(rc));
    return 1;
  }
  if ((rc = tls_config_new(&e.key, &to, err, sizeof(err))) != 0) {
    fprintf(stderr, "evil: %s\n", err);
    rc = 1;
    goto done;
  }
  rc = sign_own_record(&e);
  if (rc == 0) rc = link_up(&e, addr);
  if (rc != 0) goto done;
  if (strcmp(attack, "swim-flood") == 0)
    rc = attack_swim_flood(&e, args[0]);
  else if (strcmp(attack, "reg-digest-flood") == 0)
    rc = attack_digest_flood(&e, args);
  else if (strncmp(attack, "swim-", 5) == 0)
    rc = attack_swim(&e, attack, args[0]);
  else if (strncmp(attack, "reg-", 4) == 0)
    rc = attack_reg(&e, attack, args[0], args + 1, nargs - 1);
  else if (strcmp(attack, "op-verb") == 0)
    rc = attack_op(&e, args[0], args[1]);
  else
    rc = attack_stop(&e, args[0]);
  if (rc == 0) fprintf(stderr, "evil: %s read %s\n", e.node, attack);
done:
  wc_free(e.w);
  tls_config_free(e.key);
  ccodec_scratch_free(&e.scratch);
  ccodec_scratch_free(&e.sync_scratch);
  return rc;
}
