/* swim.c — membership as a deterministic state machine (see swim.h): the
 * member table, the precedence rules, Lifeguard suspicion, and the timers
 * the host drives through swim_tick. Probes and messages are in
 * swim_probe.c, the dissemination queue in swim_gossip.c, the form of
 * tags in swim_tags.c.
 *
 * Design notes.
 * - Every member, this node included, is one entry in a uthash table keyed
 *   by name. The others are also in `probe`, an array probed round robin
 *   and reshuffled after each pass (SWIM's bounded detection time), and in
 *   at most one of two intrusive lists: `suspects` (their timers) and
 *   `gone` (dead or left, oldest first, forgotten after dead_reclaim_ms so
 *   that late gossip cannot bring them back meanwhile).
 * - Timers are not stored apart: the next deadline is the earliest of the
 *   probe stage, sync, join retry, relays, suspects and the oldest gone
 *   member, recomputed when something changed. swim_tick runs them in time
 *   order (ties in that fixed order) until none is due, so a late tick
 *   catches up; each handler measures what it schedules from `now`.
 * - Randomness comes from a splitmix64 generator seeded by the config, so
 *   one seed and one sequence of calls give one sequence of messages.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "swim_int.h"
#include "utlist.h"

#define LHM_MAX 8

const char *swim_state_name(swim_state st) {
  switch (st) {
    case SWIM_ALIVE:
      return "alive";
    case SWIM_SUSPECT:
      return "suspect";
    case SWIM_DEAD:
      return "dead";
    case SWIM_LEFT:
      return "left";
  }
  return "unknown";
}

/* ---- small helpers ------------------------------------------------------ */

uint64_t swim_rand(swim *s) {
  uint64_t z = (s->rng += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint32_t swim_rand_below(swim *s, uint32_t n) {
  return n ? (uint32_t)(swim_rand(s) % n) : 0;
}

uint64_t swim_name_hash(const char *name) {
  uint64_t h = 1469598103934665603ull;
  for (const unsigned char *p = (const unsigned char *)name; *p; p++)
    h = (h ^ *p) * 1099511628211ull;
  return h;
}

void swim_name_copy(char dst[TR_ID_MAX + 1], const char *src) {
  size_t n = strnlen(src, TR_ID_MAX);
  memcpy(dst, src, n);
  dst[n] = '\0';
}

bool swim_is_live(const swim_entry *m) {
  return m->u.state == SWIM_ALIVE || m->u.state == SWIM_SUSPECT;
}

swim_entry *swim_find(swim *s, const char *name) {
  swim_entry *m = NULL;
  HASH_FIND_STR(s->members, name, m);
  return m;
}

/* ---- a member's own word (swim.h, "A member speaks only for itself") ---- */

bool swim_trusting(const swim *s) { return s->ops.sign && s->ops.verify; }

size_t swim_record_bytes(const swim_update *u, uint8_t out[SWIM_RECORD_MAX]) {
  static const char tag[] = "troupe-swim-1";
  size_t n = 0, len = strnlen(u->name, TR_ID_MAX);
  memcpy(out, tag, sizeof(tag)); /* with its NUL */
  n += sizeof(tag);
  memcpy(out + n, u->name, len);
  n += len;
  out[n++] = 0;
  for (int i = 7; i >= 0; i--) out[n++] = (uint8_t)(u->epoch >> (8 * i));
  for (int i = 3; i >= 0; i--) out[n++] = (uint8_t)(u->incarnation >> (8 * i));
  out[n++] = u->state == SWIM_LEFT ? SWIM_LEFT : SWIM_ALIVE;
  len = strnlen(u->addr, SWIM_ADDR_MAX - 1);
  memcpy(out + n, u->addr, len);
  n += len;
  out[n++] = 0;
  /* Last, and only when there are some: a record without tags signs as
   * it did before tags existed. */
  len = u->tags && u->tags_len <= SWIM_TAGS_MAX ? u->tags_len : 0;
  if (len) memcpy(out + n, u->tags, len);
  return n + len;
}

static bool tags_equal(const swim_update *u, const swim_entry *m) {
  return u->tags_len == m->u.tags_len &&
         (u->tags_len == 0 || memcmp(u->tags, m->u.tags, u->tags_len) == 0);
}

/* Keeps u's tags as m's (its own word). Out of memory, m has none: its
 * relayed records are then refused here until it restarts. */
static void tags_keep(swim_entry *m, const swim_update *u) {
  if (tags_equal(u, m)) return; /* as held (or the same buffer) */
  char *t = NULL;
  size_t len = u->tags && u->tags_len <= SWIM_TAGS_MAX ? u->tags_len : 0;
  if (len && (t = malloc(len)) != NULL) memcpy(t, u->tags, len);
  free(m->tags);
  m->tags = t;
  m->u.tags = t;
  m->u.tags_len = t ? (uint16_t)len : 0;
}

/* The record u stands on: the member's own alive (or left) at u's
 * (epoch, incarnation, addr), with u's proof. */
static swim_update anchor_of(const swim_update *u) {
  swim_update a = *u;
  if (a.state != SWIM_LEFT) a.state = SWIM_ALIVE;
  return a;
}

/* Whether u says more than what m's proven record covers: a later epoch or
 * incarnation, or left when it was alive. */
static bool beyond_proof(const swim_entry *m, const swim_update *u) {
  if (!m->sr_known) return true;
  if (u->epoch != m->sr_epoch) return u->epoch > m->sr_epoch;
  if (u->incarnation != m->sr_inc) return u->incarnation > m->sr_inc;
  return u->state == SWIM_LEFT && !m->sr_left;
}

/* Keeps u's proof as m's, for the record u stands on. */
static void proof_keep(swim_entry *m, const swim_update *u) {
  uint8_t *p = NULL;
  if (u->proof && u->proof_len && u->proof_len <= SWIM_PROOF_MAX &&
      (p = malloc(u->proof_len)) != NULL)
    memcpy(p, u->proof, u->proof_len);
  free(m->proof);
  m->proof = p;
  m->u.proof = p;
  m->u.proof_len = p ? u->proof_len : 0;
  m->sr_epoch = u->epoch;
  m->sr_inc = u->incarnation;
  m->sr_left = u->state == SWIM_LEFT;
  m->sr_known = true;
}

/* This node's own record changed (start, refutation, leave): sign it. */
void swim_self_sign(swim *s) {
  if (!swim_trusting(s)) return;
  uint8_t buf[SWIM_PROOF_MAX];
  swim_update me = s->self->u;
  me.proof = NULL;
  me.proof_len = 0;
  size_t n = s->ops.sign(s->user, &me, buf, sizeof(buf));
  s->st.signs++;
  me.proof = n && n <= sizeof(buf) ? buf : NULL;
  me.proof_len = me.proof ? (uint16_t)n : 0;
  proof_keep(s->self, &me);
}

/* Whether u's claim is the member's own word: said on its own link, or
 * with a proof that verifies. *proof_ok: the proof verified (then it can
 * be kept and relayed). A relayer whose proof failed is not believed for
 * SWIM_PROOF_PENALTY_MS (swim_ops.verify). */
static bool own_word(swim *s, const swim_update *u, const char *from,
                     uint64_t now, bool *proof_ok) {
  *proof_ok = false;
  bool first_hand = strcmp(from, u->name) == 0;
  if (!u->proof || !u->proof_len) return first_hand;
  swim_entry *relayer = swim_find(s, from);
  if (relayer && relayer->proofs_ignored_until > now) {
    s->st.proofs_ignored++;
    return first_hand;
  }
  swim_update a = anchor_of(u);
  s->st.verifies++;
  *proof_ok = s->ops.verify(s->user, &a, from);
  if (!*proof_ok) {
    s->st.proof_failures++;
    if (relayer) relayer->proofs_ignored_until = now + SWIM_PROOF_PENALTY_MS;
  }
  return *proof_ok || first_hand;
}

uint32_t swim_scaled(const swim *s, uint32_t base_ms) {
  return base_ms * (1 + s->lhm);
}

void swim_lhm_add(swim *s, int delta) {
  int v = (int)s->lhm + delta;
  s->lhm = v < 0 ? 0 : v > LHM_MAX ? LHM_MAX : (uint32_t)v;
}

/* ---- probe order -------------------------------------------------------- */

static int probe_add(swim *s, swim_entry *m) {
  if (s->nprobe == s->probe_cap) {
    uint32_t cap = s->probe_cap ? s->probe_cap * 2 : 16;
    swim_entry **p = realloc(s->probe, cap * sizeof(*p));
    if (!p) return TR_ENOMEM;
    s->probe = p;
    s->probe_cap = cap;
  }
  /* At a random place, so a newcomer is not always probed last. */
  uint32_t n = s->nprobe++, j = swim_rand_below(s, n + 1);
  s->probe[n] = s->probe[j];
  s->probe[j] = m;
  s->probe[n]->probe_pos = n;
  m->probe_pos = j;
  return 0;
}

static void probe_remove(swim *s, swim_entry *m) {
  uint32_t i = m->probe_pos, last = --s->nprobe;
  if (i != last) {
    s->probe[i] = s->probe[last];
    s->probe[i]->probe_pos = i;
  }
  if (s->probe_next > s->nprobe) s->probe_next = s->nprobe;
}

static void probe_shuffle(swim *s) {
  for (uint32_t i = s->nprobe; i > 1; i--) {
    uint32_t j = swim_rand_below(s, i);
    swim_entry *t = s->probe[i - 1];
    s->probe[i - 1] = s->probe[j];
    s->probe[j] = t;
    s->probe[i - 1]->probe_pos = i - 1;
    s->probe[j]->probe_pos = j;
  }
}

swim_entry *swim_next_target(swim *s) {
  /* Two passes at most: the rest of this one, then a reshuffled one. */
  for (uint32_t tries = 0; tries < 2 * s->nprobe + 1; tries++) {
    if (s->probe_next >= s->nprobe) {
      if (!s->nprobe) return NULL;
      probe_shuffle(s);
      s->probe_next = 0;
    }
    swim_entry *m = s->probe[s->probe_next++];
    if (swim_is_live(m)) return m;
  }
  return NULL;
}

static bool pickable(const swim_entry *m, const char *exclude) {
  return m->u.state == SWIM_ALIVE &&
         !(exclude && strcmp(m->u.name, exclude) == 0);
}

/* Suspects are left out: a helper or sync peer that may be down would only
 * cost a missed NACK (local health) or a lost exchange. */
uint32_t swim_pick_alive(swim *s, swim_entry **out, uint32_t want,
                         const char *exclude) {
  uint32_t eligible = 0, picked = 0;
  for (uint32_t i = 0; i < s->nprobe; i++)
    if (pickable(s->probe[i], exclude)) eligible++;
  /* Selection sampling (Knuth's algorithm S): `want` distinct members,
   * each equally likely, in one pass. */
  for (uint32_t i = 0; i < s->nprobe && picked < want; i++) {
    swim_entry *m = s->probe[i];
    if (!pickable(m, exclude)) continue;
    if (swim_rand_below(s, eligible) < want - picked) out[picked++] = m;
    eligible--;
  }
  return picked;
}

swim_entry *swim_pick_dead(swim *s) {
  uint32_t n = 0;
  swim_entry *m;
  DL_FOREACH2(s->gone, m, gone_next) if (m->u.state == SWIM_DEAD) n++;
  if (!n) return NULL;
  uint32_t k = swim_rand_below(s, n);
  DL_FOREACH2(s->gone, m, gone_next) {
    if (m->u.state == SWIM_DEAD && k-- == 0) return m;
  }
  return NULL;
}

/* ---- the member table --------------------------------------------------- */

static swim_entry *member_new(swim *s, const swim_update *u) {
  swim_entry *m = calloc(1, sizeof(*m));
  if (!m) return NULL;
  m->u = *u;
  m->u.proof = NULL; /* the sender's: proof_keep copies it */
  m->u.proof_len = 0;
  m->u.tags = NULL; /* the sender's too */
  m->u.tags_len = 0;
  tags_keep(m, u);
  if (u->tags_len && !m->tags) {
    free(m);
    return NULL;
  }
  m->name_hash = swim_name_hash(u->name);
  bool hash_oom = false;
  HASH_ADD_STR(s->members, u.name, m);
  if (hash_oom) {
    free(m->tags);
    free(m);
    return NULL;
  }
  return m;
}

static void member_forget(swim *s, swim_entry *m) {
  DL_DELETE2(s->gone, m, gone_prev, gone_next);
  swim_gq_remove(s, m);
  probe_remove(s, m);
  HASH_DEL(s->members, m);
  free(m->proof);
  free(m->tags);
  free(m);
}

/* ---- suspicion (Lifeguard) ---------------------------------------------- */

/* max - (max - min) * log(C + 1) / log(k + 1): each independent
 * confirmation brings the timeout closer to min, reached at k of them. */
static void suspicion_deadline(swim *s, swim_entry *m) {
  (void)s;
  uint64_t t = m->sus_min;
  if (m->sus_k > 0 && m->sus_max > m->sus_min) {
    double frac =
        log((double)m->sus_nconfirm + 1.0) / log((double)m->sus_k + 1.0);
    double v = (double)m->sus_max - (double)(m->sus_max - m->sus_min) * frac;
    t = v <= (double)m->sus_min ? m->sus_min : (uint64_t)v;
  }
  m->sus_deadline = m->sus_start + t;
}

/* min = mult * max(1, log10(N)) * probe interval, the interval as scaled by
 * local health: a node that is itself slow takes longer to accuse. */
static void suspicion_start(swim *s, swim_entry *m, const char *accuser,
                            uint64_t now) {
  double n = s->nlive > 1 ? (double)s->nlive : 1.0;
  double min = (double)s->susp_min_mult * fmax(1.0, log10(n)) *
               (double)swim_scaled(s, s->probe_interval);
  m->sus_min = (uint64_t)min;
  m->sus_max = m->sus_min * s->susp_max_mult;
  m->sus_start = now;
  m->sus_accuser = swim_name_hash(accuser);
  m->sus_nconfirm = 0;
  /* Only the live members other than the suspect and the accuser can
   * confirm: in a small cluster, expect no more of them than there are
   * (3 nodes: one confirmation reaches min, not max - (max - min) / 2). */
  uint32_t others = s->nlive > 2 ? (uint32_t)s->nlive - 2 : 0;
  m->sus_k = s->k < others ? s->k : others;
  suspicion_deadline(s, m);
}

/* Another member suspects m in the same (epoch, incarnation). The update
 * format does not carry the accuser, so the peer that told us stands for
 * it: each distinct peer counts once, the first accuser not at all. */
static void suspicion_confirm(swim *s, swim_entry *m, const char *who) {
  uint64_t h = swim_name_hash(who);
  if (h == m->sus_accuser || m->sus_nconfirm >= m->sus_k) return;
  for (uint32_t i = 0; i < m->sus_nconfirm; i++)
    if (m->sus_confirmers[i] == h) return;
  m->sus_confirmers[m->sus_nconfirm++] = h;
  suspicion_deadline(s, m);
}

/* ---- precedence --------------------------------------------------------- */

/* Moves m to what u says (already judged newer), keeping the lists, the
 * counters and the dissemination queue in step, then tells the host. */
static void member_set(swim *s, swim_entry *m, const swim_update *u,
                       const char *from, swim_origin origin, uint64_t now) {
  bool gossip = origin != ORIGIN_JOIN;
  swim_state was = (swim_state)m->u.state;
  bool restarted = u->epoch != m->u.epoch;
  bool was_live = swim_is_live(m);
  if (restarted) { /* its old epoch was gone: its silence explained */
    if (m->lhm_charged) swim_lhm_add(s, -(int)m->lhm_charged);
    m->lhm_charged = 0;
  }
  if (was == SWIM_SUSPECT)
    DL_DELETE2(s->suspects, m, sus_prev, sus_next);
  else if (was == SWIM_DEAD || was == SWIM_LEFT)
    DL_DELETE2(s->gone, m, gone_prev, gone_next);
  m->u.epoch = u->epoch;
  m->u.incarnation = u->incarnation;
  m->u.state = u->state;
  /* An address is the member's own word: taken from what proves it
   * (swim_apply) when trusting. */
  if (u->addr[0] && !swim_trusting(s))
    memcpy(m->u.addr, u->addr, sizeof(m->u.addr));
  if (!swim_trusting(s)) tags_keep(m, u); /* so are its tags */
  if (u->state != SWIM_SUSPECT) m->death_check = false;
  bool live = swim_is_live(m), changed = was != u->state || restarted;
  if (was_live && !live) s->nlive--;
  if (!was_live && live) s->nlive++;
  switch ((swim_state)u->state) {
    case SWIM_ALIVE:
      if (!was_live || restarted) s->st.joins++;
      break;
    case SWIM_SUSPECT:
      if (!was_live || restarted) s->st.joins++;
      suspicion_start(s, m, from, now);
      DL_APPEND2(s->suspects, m, sus_prev, sus_next);
      s->st.suspicions++;
      break;
    case SWIM_DEAD:
    case SWIM_LEFT:
      m->gone_since = now;
      DL_APPEND2(s->gone, m, gone_prev, gone_next);
      if (changed && u->state == SWIM_DEAD) s->st.deaths++;
      if (changed && u->state == SWIM_LEFT) s->st.leaves++;
      break;
  }
  if (gossip) swim_gq_enqueue(s, m);
  if (origin != ORIGIN_GOSSIP) s->sync_learned = true;
  if (changed && s->ops.member_changed)
    s->ops.member_changed(s->user, &m->u, was, restarted);
}

/* Within one epoch, per the SWIM paper, by (incarnation, state): alive(i)
 * beats suspect/dead(j) if i > j; suspect(i) beats alive(j) if i >= j and
 * suspect/dead(j) if i > j; dead(i) beats alive/suspect(j) if i >= j and
 * dead(j) if i > j; left(i) beats anything not left if i >= j. Left is
 * final for an epoch: the process is gone, only a restart comes back. */
static bool overrides(const swim_update *u, const swim_entry *m) {
  uint32_t i = u->incarnation, j = m->u.incarnation;
  swim_state known = (swim_state)m->u.state;
  if (known == SWIM_LEFT) return u->state == SWIM_LEFT && i > j;
  switch ((swim_state)u->state) {
    case SWIM_ALIVE:
      return i > j;
    case SWIM_SUSPECT:
      return known == SWIM_ALIVE ? i >= j : i > j;
    case SWIM_DEAD:
      return known == SWIM_DEAD ? i > j : i >= j;
    case SWIM_LEFT:
      return i >= j;
  }
  return false;
}

static void refute(swim *s) {
  s->self->u.incarnation++;
  swim_self_sign(s);
  swim_gq_enqueue(s, s->self);
  s->st.refutations++;
  swim_lhm_add(s, 1);
}

/* What others say about this node. Nobody can know a later (epoch,
 * incarnation) than this node has had: such a claim is forged. Being
 * suspected, declared dead or left in the current one is refuted. */
static void apply_self(swim *s, const swim_update *u) {
  const swim_update *me = &s->self->u;
  if (u->epoch > me->epoch ||
      (u->epoch == me->epoch && u->incarnation > me->incarnation)) {
    s->st.rejected_claim++;
    return;
  }
  if (u->epoch < me->epoch || s->left) return;
  if (u->incarnation == me->incarnation && u->state != SWIM_ALIVE) refute(s);
}

static bool update_valid(const swim_update *u) {
  return memchr(u->name, 0, sizeof(u->name)) && u->name[0] &&
         memchr(u->addr, 0, sizeof(u->addr)) && u->state <= SWIM_LEFT &&
         (u->tags || !u->tags_len) && swim_tags_valid(u->tags, u->tags_len);
}

/* A relayed death of a live member: suspect it here and probe it now;
 * this node's own failed probe (swim_suspect) or its suspicion running out
 * declares it dead, and if it is alive it refutes at once. */
static void death_check(swim *s, swim_entry *m, uint64_t now) {
  if (m->death_check || m->u.state != SWIM_SUSPECT) return;
  m->death_check = true;
  s->st.death_checks++;
  if (s->started && !s->left) swim_probe_urgent(s, m, now);
}

void swim_apply(swim *s, const swim_update *u, const char *from,
                swim_origin origin, uint64_t now) {
  if (!update_valid(u)) return;
  if (strcmp(u->name, s->self->u.name) == 0) {
    apply_self(s, u);
    return;
  }
  bool gossip = origin != ORIGIN_JOIN;
  bool trusting = swim_trusting(s);
  swim_entry *m = swim_find(s, u->name);
  /* A new member past the cap: refused before any proof is checked. */
  if (!m && (u->state == SWIM_ALIVE || u->state == SWIM_SUSPECT) &&
      HASH_COUNT(s->members) >= s->max_members) {
    s->st.members_refused++;
    if (s->ops.refused) s->ops.refused(s->user, u->name, from);
    return;
  }
  /* What only the member may say needs its word (swim.h). */
  bool proven = false, proof_ok = false;
  if (trusting && (!m || beyond_proof(m, u)) &&
      (m || u->state == SWIM_ALIVE || u->state == SWIM_SUSPECT)) {
    if (m && u->epoch < m->u.epoch) return; /* old news, nothing to prove */
    if (!own_word(s, u, from, now, &proof_ok)) {
      s->st.rejected_proof++;
      return;
    }
    proven = true;
  }
  if (!m) {
    /* The end of a member never known: nothing to forget. */
    if (u->state != SWIM_ALIVE && u->state != SWIM_SUSPECT) return;
    m = member_new(s, u);
    if (!m) return;
    if (probe_add(s, m) != 0) {
      HASH_DEL(s->members, m);
      free(m->tags);
      free(m);
      return;
    }
    if (proven) {
      swim_update a = anchor_of(u);
      if (!proof_ok) a.proof = NULL;
      proof_keep(m, &a);
    }
    s->nlive++;
    s->st.joins++;
    if (m->u.state == SWIM_SUSPECT) {
      suspicion_start(s, m, from, now);
      DL_APPEND2(s->suspects, m, sus_prev, sus_next);
      s->st.suspicions++;
    }
    if (gossip) swim_gq_enqueue(s, m);
    if (origin != ORIGIN_GOSSIP) s->sync_learned = true;
    if (s->ops.member_changed)
      s->ops.member_changed(s->user, &m->u, (swim_state)m->u.state, false);
    return;
  }
  if (u->epoch < m->u.epoch) return;
  /* Tags are the member's own and fixed for its epoch: a relayed record
   * at the epoch held that says other ones was altered on the way. */
  if (trusting && !proven && u->epoch == m->u.epoch && !tags_equal(u, m) &&
      strcmp(from, u->name) != 0) {
    s->st.rejected_tags++;
    return;
  }
  swim_update v = *u;
  bool relayed_death = false;
  /* A death is never taken on another's word (trusting), nor from a full
   * state: the member is suspected instead, and can refute (as
   * memberlist's merge). */
  if (v.state == SWIM_DEAD && swim_is_live(m) &&
      (trusting || origin != ORIGIN_GOSSIP)) {
    v.state = SWIM_SUSPECT;
    relayed_death = trusting;
  }
  if (u->epoch > m->u.epoch) { /* a restart: the new process wins */
    member_set(s, m, &v, from, origin, now);
  } else if (!proven && strcmp(from, u->name) != 0 &&
             (uint64_t)u->incarnation > (uint64_t)m->u.incarnation + 1) {
    s->st.rejected_jump++;
    return;
  } else if (v.state == SWIM_SUSPECT && m->u.state == SWIM_SUSPECT &&
             v.incarnation == m->u.incarnation) {
    suspicion_confirm(s, m, from);
  } else if (overrides(&v, m)) {
    member_set(s, m, &v, from, origin, now);
  } else {
    return;
  }
  if (proven) { /* the member's own word: its proof, address and tags */
    swim_update a = anchor_of(u);
    if (!proof_ok) a.proof = NULL;
    proof_keep(m, &a);
    if (u->addr[0]) memcpy(m->u.addr, u->addr, sizeof(m->u.addr));
    tags_keep(m, u);
  }
  if (relayed_death) death_check(s, m, now);
}

/* How many other members accused suspect m (the accuser and the
 * confirmations, this node's own left out). */
static uint32_t others_accusing(const swim *s, const swim_entry *m) {
  uint64_t me = swim_name_hash(s->self->u.name);
  uint32_t n = m->sus_accuser != me;
  for (uint32_t i = 0; i < m->sus_nconfirm; i++)
    n += m->sus_confirmers[i] != me;
  return n;
}

/* Whether a dial to m (its epoch) was refused lately: nothing listened
 * where it did (swim_refused). */
bool swim_refused_lately(const swim_entry *m, uint64_t now) {
  return m->refused_at && m->refused_epoch == m->u.epoch &&
         now <= m->refused_at + SWIM_REFUSED_FOR_MS;
}

/* Our own probe of m failed. */
void swim_suspect(swim *s, swim_entry *m, uint64_t now) {
  if (swim_refused_lately(m, now)) {
    /* Nothing listens where it did, and neither this node nor the members
     * it asked got an answer: its process is gone. Two independent
     * observations, neither of which loss or a slow network makes. */
    s->st.refused_deaths++;
    swim_update v = m->u;
    v.state = SWIM_DEAD;
    member_set(s, m, &v, s->self->u.name, ORIGIN_GOSSIP, now);
  } else if (m->u.state == SWIM_SUSPECT && m->death_check &&
             others_accusing(s, m) >= SWIM_DEATH_WITNESSES) {
    /* Others said it died, and this node's own probe agrees. One other's
     * word and a lost probe are not enough (a lossy network would turn
     * one false death into many): that waits for the suspicion. */
    swim_update v = m->u;
    v.state = SWIM_DEAD;
    member_set(s, m, &v, s->self->u.name, ORIGIN_GOSSIP, now);
  } else if (m->u.state == SWIM_SUSPECT) {
    m->death_check = false; /* the next relayed death probes again */
    suspicion_confirm(s, m, s->self->u.name);
  } else if (m->u.state == SWIM_ALIVE) {
    swim_update v = m->u;
    v.state = SWIM_SUSPECT;
    member_set(s, m, &v, s->self->u.name, ORIGIN_GOSSIP, now);
  }
}

/* ---- lifecycle ---------------------------------------------------------- */

#define DEFAULT(field, value) ((field) ? (field) : (value))

int swim_new(swim **out, const swim_config *cfg, const swim_ops *ops,
             void *user) {
  if (!out || !cfg || !ops || !ops->send || !cfg->name) return TR_EINVAL;
  *out = NULL;
  size_t nlen = strlen(cfg->name), alen = cfg->addr ? strlen(cfg->addr) : 0;
  size_t tlen = cfg->tags ? strnlen(cfg->tags, SWIM_TAGS_MAX + 1) : 0;
  if (nlen == 0 || nlen > TR_ID_MAX || alen >= SWIM_ADDR_MAX ||
      !swim_tags_valid(cfg->tags, tlen))
    return TR_EINVAL;
  swim *s = calloc(1, sizeof(*s));
  if (!s) return TR_ENOMEM;
  s->ops = *ops;
  s->user = user;
  s->probe_interval = DEFAULT(cfg->probe_interval_ms, 500);
  s->probe_timeout = DEFAULT(cfg->probe_timeout_ms, 200);
  s->k = DEFAULT(cfg->indirect_k, 3);
  if (s->k > SWIM_K_MAX) s->k = SWIM_K_MAX;
  s->susp_min_mult = DEFAULT(cfg->suspicion_min_mult, 4);
  s->susp_max_mult = DEFAULT(cfg->suspicion_max_mult, 6);
  s->retransmit_mult = DEFAULT(cfg->retransmit_mult, 4);
  s->max_piggyback = DEFAULT(cfg->max_piggyback, 64);
  if (s->max_piggyback < 2) s->max_piggyback = 2; /* self + one more */
  s->sync_interval = DEFAULT(cfg->sync_interval_ms, 10000);
  s->join_retry = DEFAULT(cfg->join_retry_ms, 500);
  s->dead_reclaim = DEFAULT(cfg->dead_reclaim_ms, 60000);
  s->max_members = DEFAULT(cfg->max_members, 10000);
  if (s->max_members < 2) s->max_members = 2; /* self + one more */
  int rc = TR_EINVAL;
  if (s->probe_timeout >= s->probe_interval) goto fail;
  /* Seed 0 still gives a fixed sequence per (name, epoch). */
  s->rng = cfg->seed ? cfg->seed : swim_name_hash(cfg->name) ^ cfg->epoch;
  rc = TR_ENOMEM;
  s->buf_cap = s->max_piggyback;
  s->buf = calloc(s->buf_cap, sizeof(*s->buf));
  s->gq_pick = calloc(s->max_piggyback, sizeof(*s->gq_pick));
  if (!s->buf || !s->gq_pick) goto fail;
  swim_update me = {.epoch = cfg->epoch, .state = SWIM_ALIVE};
  memcpy(me.name, cfg->name, nlen);
  if (alen) memcpy(me.addr, cfg->addr, alen);
  me.tags = cfg->tags;
  me.tags_len = (uint16_t)tlen;
  s->self = member_new(s, &me);
  if (!s->self) goto fail;
  swim_self_sign(s);
  s->nlive = 1;
  s->pr.stage = PROBE_IDLE;
  s->pr.next_at = s->sync_at = s->join_at = UINT64_MAX;
  s->deadline_dirty = true;
  *out = s;
  return 0;
fail:
  swim_free(s);
  return rc;
}

void swim_free(swim *s) {
  if (!s) return;
  swim_entry *m, *tmp;
  HASH_ITER(hh, s->members, m, tmp) {
    HASH_DEL(s->members, m);
    free(m->proof);
    free(m->tags);
    free(m);
  }
  free(s->probe);
  free(s->gq_buckets);
  free(s->gq_pick);
  free(s->buf);
  free(s->seeds);
  free(s);
}

int swim_join(swim *s, const char *const *seed_addrs, size_t nseeds,
              uint64_t now_ms) {
  if (!s || (nseeds && !seed_addrs)) return TR_EINVAL;
  if (s->left) return TR_ESTATE;
  char(*seeds)[SWIM_ADDR_MAX] = NULL;
  size_t n = 0;
  if (nseeds) {
    seeds = calloc(nseeds, sizeof(*seeds));
    if (!seeds) return TR_ENOMEM;
    for (size_t i = 0; i < nseeds; i++) {
      size_t len = seed_addrs[i] ? strlen(seed_addrs[i]) : 0;
      if (len >= SWIM_ADDR_MAX) {
        free(seeds);
        return TR_EINVAL;
      }
      if (len) memcpy(seeds[n++], seed_addrs[i], len);
    }
  }
  free(s->seeds);
  s->seeds = seeds;
  s->nseeds = n;
  s->deadline_dirty = true;
  if (!s->started) {
    s->started = true;
    /* A random phase, so nodes started together do not probe in step. */
    s->pr.next_at = now_ms + 1 + swim_rand_below(s, s->probe_interval);
    s->sync_at = now_ms + s->sync_interval / 2 +
                 swim_rand_below(s, s->sync_interval) + 1;
    swim_gq_enqueue(s, s->self);
  }
  s->joined = n == 0;
  s->join_backoff = s->join_retry;
  if (n) swim_join_tick(s, now_ms);
  return 0;
}

void swim_leave(swim *s, uint64_t now_ms) {
  (void)now_ms;
  if (!s || s->left) return;
  swim_entry *me = s->self;
  me->u.incarnation++;
  me->u.state = SWIM_LEFT;
  swim_self_sign(s);
  s->nlive--;
  swim_gq_enqueue(s, me);
  swim_leave_send(s);
  s->left = true;
  s->deadline_dirty = true;
  if (s->ops.member_changed)
    s->ops.member_changed(s->user, &me->u, SWIM_ALIVE, false);
}

void swim_receive(swim *s, const char *from, const swim_msg *msg,
                  uint64_t now_ms) {
  if (!s) return;
  s->deadline_dirty = true;
  swim_msg_receive(s, from, msg, now_ms);
}

void swim_refused(swim *s, const char *name, uint64_t now_ms) {
  if (!s || !name || !s->started || s->left) return;
  swim_entry *m = swim_find(s, name);
  if (!m || m == s->self || !swim_is_live(m)) return;
  s->deadline_dirty = true;
  s->st.refusals++;
  if (m->u.state == SWIM_ALIVE) { /* suspect now, as everyone hears */
    swim_update v = m->u;
    v.state = SWIM_SUSPECT;
    member_set(s, m, &v, s->self->u.name, ORIGIN_GOSSIP, now_ms);
  }
  m->refused_at = now_ms;
  m->refused_epoch = m->u.epoch;
  /* Its probe decides, now rather than in turn. */
  swim_probe_urgent(s, m, now_ms);
}

void swim_link_closed(swim *s, const char *name, uint64_t now_ms) {
  if (!s || !name || !s->started || s->left) return;
  swim_entry *m = swim_find(s, name);
  if (!m || m == s->self || !swim_is_live(m)) return;
  s->deadline_dirty = true;
  swim_probe_urgent(s, m, now_ms);
}

/* ---- timers ------------------------------------------------------------- */

typedef enum {
  TM_NONE,
  TM_PROBE,
  TM_SYNC,
  TM_JOIN,
  TM_RELAY,
  TM_SUSPECT,
  TM_GONE
} timer_kind;

typedef struct timer_due {
  uint64_t at;
  timer_kind kind;
  uint32_t relay;
  swim_entry *member;
} timer_due;

static void consider(timer_due *d, uint64_t at, timer_kind kind) {
  if (at < d->at) {
    d->at = at;
    d->kind = kind;
  }
}

/* The earliest deadline; ties go to the earlier kind, then to the earlier
 * relay or suspect in list order. */
static timer_due earliest(swim *s) {
  timer_due d = {.at = UINT64_MAX, .kind = TM_NONE};
  if (s->left) return d;
  if (s->started) {
    uint64_t probe = s->pr.stage == PROBE_IDLE     ? s->pr.next_at
                     : s->pr.stage == PROBE_DIRECT ? s->pr.timeout_at
                                                   : s->pr.end_at;
    consider(&d, probe, TM_PROBE);
    consider(&d, s->sync_at, TM_SYNC);
    if (s->nseeds && (!s->joined || s->nlive <= 1))
      consider(&d, s->join_at, TM_JOIN);
  }
  for (uint32_t i = 0; i < s->nrelays; i++) {
    if (s->relays[i].deadline < d.at) {
      d.at = s->relays[i].deadline;
      d.kind = TM_RELAY;
      d.relay = i;
    }
  }
  swim_entry *m;
  DL_FOREACH2(s->suspects, m, sus_next) {
    if (m->sus_deadline < d.at) {
      d.at = m->sus_deadline;
      d.kind = TM_SUSPECT;
      d.member = m;
    }
  }
  if (s->gone) consider(&d, s->gone->gone_since + s->dead_reclaim, TM_GONE);
  return d;
}

uint64_t swim_next_deadline(swim *s) {
  if (!s) return UINT64_MAX;
  if (s->deadline_dirty) {
    s->deadline = earliest(s).at;
    s->deadline_dirty = false;
  }
  return s->deadline;
}

void swim_tick(swim *s, uint64_t now_ms) {
  if (!s) return;
  s->deadline_dirty = true;
  /* Each handler moves its deadline past now or removes it. */
  for (;;) {
    timer_due d = earliest(s);
    if (d.at > now_ms) break;
    switch (d.kind) {
      case TM_PROBE:
        swim_probe_deadline(s, now_ms);
        break;
      case TM_SYNC:
        swim_sync_tick(s, now_ms);
        break;
      case TM_JOIN:
        swim_join_tick(s, now_ms);
        break;
      case TM_RELAY:
        swim_relay_expire(s, d.relay);
        break;
      case TM_SUSPECT: {
        swim_update v = d.member->u;
        v.state = SWIM_DEAD;
        member_set(s, d.member, &v, s->self->u.name, ORIGIN_GOSSIP, now_ms);
        break;
      }
      case TM_GONE:
        member_forget(s, s->gone);
        break;
      case TM_NONE:
        return;
    }
  }
}

/* ---- views -------------------------------------------------------------- */

size_t swim_members(swim *s, swim_update *out, size_t cap) {
  if (!s) return 0;
  size_t n = 0;
  for (swim_entry *m = s->members; m; m = m->hh.next, n++)
    if (out && n < cap) out[n] = m->u;
  return n;
}

bool swim_member(swim *s, const char *name, swim_update *out) {
  if (!s || !name) return false;
  swim_entry *m = swim_find(s, name);
  if (m && out) *out = m->u;
  return m != NULL;
}

size_t swim_alive_count(swim *s) { return s ? s->nlive : 0; }

int swim_forget(swim *s, const char *name) {
  swim_entry *m = s && name ? swim_find(s, name) : NULL;
  if (!m || m == s->self) return TR_ENOTFOUND;
  if (m->u.state != SWIM_DEAD && m->u.state != SWIM_LEFT) return TR_ESTATE;
  member_forget(s, m);
  return 0;
}

void swim_get_stats(swim *s, swim_stats *out) {
  if (!s || !out) return;
  *out = s->st;
  out->local_health = s->lhm;
}
