/* registry_gossip.c — how the registry spreads and repairs: sealed
 * batches, the batch queue, gossip rounds to `fanout` random members, the
 * digest exchange, and the handling of every incoming message.
 *
 * Design notes.
 * - This node's changes gather in an open batch, sealed (signed, when the
 *   host signs) at the next gossip round or when it holds max_deltas: one
 *   signature per round, not per change. Alone, nothing is batched: a
 *   member that comes up pulls the whole set.
 * - The queue holds own batches and applied ones to relay, whole (their
 *   seal covers exactly their deltas). Each rides up to retransmit_mult *
 *   ceil(log10(N + 1)) messages, fewest-sent first; the entries live in
 *   buckets by how often they went out, oldest first in a bucket, so
 *   picking costs nothing per entry not picked. A batch about the target
 *   itself is counted as sent without being sent: its owner knows it, and
 *   would only reject it.
 * - Receivers take a message's batches in (owner, epoch, first) order. One
 *   already held is skipped before any check; a relayed one is checked
 *   once (its seal), then applied from the next version. A gap marks the
 *   owner stale and pulls its set from the owner, whose word alone sets a
 *   set. Pulls for one owner are spaced by pull_retry, so a burst of
 *   gapped batches or digests asks once.
 * - A digest lists every owner up with the (epoch, version) held. Its
 *   receiver answers in one go: its own SET if the sender is behind on it,
 *   a PULL to each owner the sender holds newer (a third party's digest
 *   moves nothing it believes), and its own digest (a reply, not answered)
 *   if it holds others newer than the sender, so the sender asks their
 *   owners in turn. Owners in another epoch on either side are left to
 *   membership to settle first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry_int.h"
#include "utlist.h"

/* ---- seals -------------------------------------------------------------- */

static const char seal_tag[] = "troupe-reg-1";

size_t reg_seal_bytes_max(uint32_t ndeltas) {
  return sizeof(seal_tag) + (TR_ID_MAX + 1) + 3 * 8 +
         (size_t)ndeltas * (1 + 8 + TR_ID_MAX + 1);
}

static size_t put_u64(uint8_t *out, uint64_t v) {
  for (int i = 0; i < 8; i++) out[i] = (uint8_t)(v >> (56 - 8 * i));
  return 8;
}

static size_t put_str(uint8_t *out, const char *s) {
  size_t len = strnlen(s, TR_ID_MAX);
  memcpy(out, s, len);
  out[len] = 0;
  return len + 1;
}

size_t reg_seal_bytes(const reg_seal *seal, const reg_delta *const *deltas,
                      uint8_t *out) {
  size_t n = 0;
  memcpy(out, seal_tag, sizeof(seal_tag));
  n += sizeof(seal_tag);
  n += put_str(out + n, seal->owner);
  n += put_u64(out + n, seal->epoch);
  n += put_u64(out + n, seal->first);
  n += put_u64(out + n, seal->last);
  for (uint64_t v = seal->first; v <= seal->last; v++) {
    const reg_delta *d = deltas[v - seal->first];
    out[n++] = d->removed ? 1 : 0;
    n += put_u64(out + n, d->removed ? 0 : d->since);
    n += put_str(out + n, d->id);
  }
  return n;
}

/* A buffer for reg_seal_bytes of ndeltas; NULL when out of memory. */
uint8_t *reg_seal_scratch(registry *r, uint32_t ndeltas) {
  size_t need = reg_seal_bytes_max(ndeltas);
  if (need > r->seal_buf_cap) {
    uint8_t *b = realloc(r->seal_buf, need);
    if (!b) return NULL;
    r->seal_buf = b;
    r->seal_buf_cap = need;
  }
  return r->seal_buf;
}

/* Signs q's deltas as q->seal says (when the host signs). */
static void seal_sign(registry *r, reg_queued *q) {
  q->seal.proof = q->proof;
  q->seal.proof_len = 0;
  if (!reg_trusting(r)) return;
  const reg_delta *stack[64], **ds = stack;
  if (q->n > 64 && !(ds = malloc(q->n * sizeof(*ds)))) return;
  for (uint32_t i = 0; i < q->n; i++) ds[i] = &q->d[i];
  uint8_t *buf = reg_seal_scratch(r, q->n);
  if (buf) {
    size_t len = reg_seal_bytes(&q->seal, ds, buf);
    size_t plen = r->ops.sign(r->user, buf, len, q->proof, sizeof(q->proof));
    r->st.signs++;
    if (plen <= sizeof(q->proof)) q->seal.proof_len = (uint16_t)plen;
  }
  if (ds != stack) free(ds);
}

void reg_seal_open(registry *r, uint64_t now) {
  reg_queued *q = r->open;
  if (!q || !q->n) return;
  r->open = NULL;
  reg_seal *s = &q->seal;
  memset(s, 0, sizeof(*s));
  memcpy(s->owner, r->self->name, strlen(r->self->name) + 1);
  s->epoch = r->self->epoch;
  s->first = q->d[0].version;
  s->last = q->d[q->n - 1].version;
  seal_sign(r, q);
  reg_gq_push(r, q, now);
}

/* ---- the batch queue ---------------------------------------------------- */

uint32_t reg_gq_limit(const registry *r) {
  /* ceil(log10(N + 1)) is the number of decimal digits of N (N >= 1). */
  uint32_t digits = 0;
  for (uint32_t n = r->npeers + 1; n; n /= 10) digits++;
  uint32_t limit = r->retransmit_mult * digits;
  /* A small cluster: every round goes to every peer, twice over, so a
   * batch reaches everyone at once instead of with a 1-in-5 chance of
   * waiting for anti-entropy (4 sends to 3 random peers of 4). */
  if (r->npeers <= REG_SMALL_CLUSTER && limit < 2 * r->npeers)
    limit = 2 * r->npeers;
  return limit ? limit : 1;
}

bool reg_gq_reserve(registry *r, uint32_t nbuckets) {
  if (nbuckets <= r->nbuckets) return true;
  reg_queued **b = realloc(r->buckets, nbuckets * sizeof(*b));
  if (!b) return false;
  for (uint32_t i = r->nbuckets; i < nbuckets; i++) b[i] = NULL;
  r->buckets = b;
  r->nbuckets = nbuckets;
  return true;
}

static bool has_work(const registry *r) {
  return r->nqueued || (r->open && r->open->n);
}

static void gq_unlink(registry *r, reg_queued *q) {
  DL_DELETE(r->buckets[q->sent], q);
  r->nqueued--;
}

static void gq_evict_one(registry *r) {
  for (uint32_t b = r->nbuckets; b-- > 0;) {
    reg_queued *q = r->buckets[b];
    if (q) {
      gq_unlink(r, q);
      free(q);
      return;
    }
  }
}

/* Takes q (bucket 0 always exists: reg_new reserves it). */
void reg_gq_push(registry *r, reg_queued *q, uint64_t now) {
  if (r->nqueued >= REG_QUEUE_MAX) gq_evict_one(r);
  q->sent = 0;
  DL_APPEND(r->buckets[0], q);
  r->nqueued++;
  reg_gossip_arm(r, now);
}

void reg_gq_drop_owner(registry *r, const char *owner) {
  for (uint32_t b = 0; b < r->nbuckets; b++) {
    reg_queued *q, *tmp;
    DL_FOREACH_SAFE(r->buckets[b], q, tmp) {
      if (strcmp(q->seal.owner, owner) != 0) continue;
      gq_unlink(r, q);
      free(q);
    }
  }
  if (!has_work(r)) r->gossip_at = UINT64_MAX;
}

/* After the cluster shrank: batches sent as often as the new limit asks
 * are done. */
void reg_gq_prune(registry *r) {
  for (uint32_t b = reg_gq_limit(r); b < r->nbuckets; b++) {
    reg_queued *q, *tmp;
    DL_FOREACH_SAFE(r->buckets[b], q, tmp) {
      gq_unlink(r, q);
      free(q);
    }
  }
  if (!has_work(r)) r->gossip_at = UINT64_MAX;
}

/* One more transmission: to the next bucket, or out at the limit. */
static void gq_note_sent(registry *r, reg_queued *q, uint32_t limit) {
  uint32_t sent = q->sent + 1;
  gq_unlink(r, q);
  if (sent >= limit || !reg_gq_reserve(r, sent + 1)) {
    free(q);
    return;
  }
  q->sent = sent;
  DL_APPEND(r->buckets[sent], q);
  r->nqueued++;
}

/* Fills r->out and r->out_seals with whole batches for `to`, up to
 * max_deltas deltas; returns the number of seals, *ndeltas the deltas.
 * The picked and skipped batches are counted sent by gq_done, after the
 * message went out (the seals point into them). */
static uint32_t gq_take(registry *r, const reg_owner *to, uint32_t limit,
                        uint32_t *ndeltas) {
  uint32_t n = 0, npick = 0, nskip = 0, max = r->max_deltas;
  reg_queued **skip = r->pick + max;
  for (uint32_t b = 0; b < limit && b < r->nbuckets && n < max; b++) {
    for (reg_queued *q = r->buckets[b]; q && n < max; q = q->next) {
      if (strcmp(q->seal.owner, to->name) == 0) {
        if (nskip < max) skip[nskip++] = q;
        continue;
      }
      if (q->n > max - n) continue; /* a smaller one may fit */
      r->pick[npick] = q;
      r->out_seals[npick++] = q->seal;
      memcpy(r->out + n, q->d, q->n * sizeof(*q->d));
      n += q->n;
    }
  }
  r->npick = npick;
  r->nskip = nskip;
  *ndeltas = n;
  return npick;
}

/* Counted after the walk, so an entry moved to the next bucket is not
 * picked twice for one message. */
static void gq_done(registry *r, uint32_t limit) {
  for (uint32_t i = 0; i < r->npick; i++) gq_note_sent(r, r->pick[i], limit);
  for (uint32_t i = 0; i < r->nskip; i++)
    gq_note_sent(r, r->pick[r->max_deltas + i], limit);
  r->npick = r->nskip = 0;
}

/* ---- sending ------------------------------------------------------------ */

static void msg_init(registry *r, reg_msg *m, reg_msg_type type) {
  memset(m, 0, sizeof(*m));
  m->type = type;
  memcpy(m->sender, r->self->name, strlen(r->self->name) + 1);
}

static void msg_send(registry *r, const char *to, const reg_msg *m) {
  r->st.msgs_out++;
  r->ops.send(r->user, to, m);
}

static void digest_fill(reg_digest *dg, const reg_owner *o) {
  memset(dg, 0, sizeof(*dg));
  memcpy(dg->owner, o->name, strlen(o->name) + 1);
  dg->epoch = o->epoch;
  dg->version = o->version;
}

/* k's bucket brought up to now. */
static void answered_refill(const registry *r, reg_answered *k,
                            uint64_t now) {
  uint64_t gap = r->gossip_interval ? r->gossip_interval : 1;
  uint64_t add = now > k->at ? (now - k->at) / gap : 0;
  if (!add) return;
  k->tokens = add >= REG_ANSWER_BURST - k->tokens ? REG_ANSWER_BURST
                                                   : k->tokens + (uint32_t)add;
  k->at = k->tokens == REG_ANSWER_BURST ? now : k->at + add * gap;
}

/* Forgets the askers whose bucket is full again (all: every one). */
static void answered_sweep(registry *r, uint64_t now, bool all) {
  reg_answered *k, *tmp;
  HASH_ITER(hh, r->answered, k, tmp) {
    if (!all) answered_refill(r, k, now);
    if (!all && k->tokens < REG_ANSWER_BURST) continue;
    HASH_DEL(r->answered, k);
    free(k);
    r->nanswered--;
  }
}

/* Whether `to` may have an answer now: REG_ANSWER_BURST at once, then one
 * per gossip interval (20 a second by default), whatever it sends; a
 * peer's own pulls are pull_retry apart and its digests sync_interval, so
 * only floods meet the limit. */
static bool answer_allowed(registry *r, const char *to, uint64_t now) {
  reg_answered *k = NULL;
  HASH_FIND_STR(r->answered, to, k);
  if (!k) {
    if (r->nanswered >= REG_ANSWERED_MAX) answered_sweep(r, now, false);
    if (r->nanswered >= REG_ANSWERED_MAX || !(k = calloc(1, sizeof(*k))))
      return true; /* unrecorded: answered */
    snprintf(k->name, sizeof(k->name), "%s", to);
    k->at = now;
    k->tokens = REG_ANSWER_BURST;
    bool hash_oom = false;
    HASH_ADD_STR(r->answered, name, k);
    if (hash_oom) {
      free(k);
      return true;
    }
    r->nanswered++;
  }
  answered_refill(r, k, now);
  if (!k->tokens) {
    r->st.answers_limited++;
    return false;
  }
  k->tokens--;
  return true;
}

void reg_answered_free(registry *r) { answered_sweep(r, 0, true); }

/* This node's own set: only an owner sends its set. */
static void send_own_set(registry *r, const char *to, uint64_t now) {
  if (!answer_allowed(r, to, now)) return;
  reg_owner *o = r->self;
  uint32_t n = HASH_COUNT(o->set), i = 0;
  const char **ids = NULL;
  uint64_t *sinces = NULL;
  if (n) {
    ids = malloc(n * sizeof(*ids));
    sinces = malloc(n * sizeof(*sinces));
    if (!ids || !sinces) { /* the next digest asks again */
      free(ids);
      free(sinces);
      return;
    }
  }
  reg_entry *c, *tmp;
  HASH_ITER(hh, o->set, c, tmp) {
    sinces[i] = c->since;
    ids[i++] = c->rid->id;
  }
  reg_digest dg;
  digest_fill(&dg, o);
  reg_msg m;
  msg_init(r, &m, REG_MSG_SET);
  m.digests = &dg;
  m.ndigests = 1;
  m.ids = ids;
  m.sinces = sinces;
  m.nids = n;
  msg_send(r, to, &m);
  free(ids);
  free(sinces);
}

/* Asks owner o for its set, saying what this node holds of it. */
void reg_pull_from_owner(registry *r, const reg_owner *o) {
  reg_digest dg;
  digest_fill(&dg, o);
  reg_msg m;
  msg_init(r, &m, REG_MSG_PULL);
  m.digests = &dg;
  m.ndigests = 1;
  r->st.pulls++;
  msg_send(r, o->name, &m);
}

/* The same, at most once per pull_retry per owner. */
static void pull_spaced(registry *r, reg_owner *o, uint64_t now) {
  if (now < o->pull_after) return;
  o->pull_after = now + r->pull_retry;
  reg_pull_from_owner(r, o);
}

static void send_digest(registry *r, const char *to, reg_msg_type type,
                        uint64_t now) {
  if (type == REG_MSG_DIGEST_REPLY && !answer_allowed(r, to, now))
    return;
  uint32_t n = HASH_COUNT(r->owners), i = 0;
  reg_digest *dg = malloc(n * sizeof(*dg));
  if (!dg) return; /* the next round */
  reg_owner *o, *tmp;
  HASH_ITER(hh, r->owners, o, tmp) digest_fill(&dg[i++], o);
  reg_msg m;
  msg_init(r, &m, type);
  m.digests = dg;
  m.ndigests = n;
  msg_send(r, to, &m);
  free(dg);
}

/* ---- timers ------------------------------------------------------------- */

/* Gossip runs while batches wait (or changes wait to be sealed) and someone
 * can take them, one interval after the previous round; an idle queue
 * sends its first batch at once. */
void reg_gossip_arm(registry *r, uint64_t now) {
  if (!has_work(r) || !r->npeers || r->gossip_at != UINT64_MAX) return;
  uint64_t at = r->last_gossip + r->gossip_interval;
  r->gossip_at = at > now ? at : now;
}

void reg_gossip_round(registry *r, uint64_t now) {
  r->gossip_at = UINT64_MAX;
  r->last_gossip = now;
  reg_seal_open(r, now);
  uint32_t limit = reg_gq_limit(r);
  uint32_t k = r->fanout < r->npeers && r->npeers > REG_SMALL_CLUSTER
                   ? r->fanout
                   : r->npeers;
  for (uint32_t i = 0; i < k && r->nqueued; i++) {
    /* A partial Fisher-Yates shuffle: k distinct random peers. */
    uint32_t j = i + reg_rand_below(r, r->npeers - i);
    reg_owner *to = r->peers[j];
    r->peers[j] = r->peers[i];
    r->peers[j]->peer_pos = j;
    r->peers[i] = to;
    to->peer_pos = i;
    uint32_t n = 0, nseals = gq_take(r, to, limit, &n);
    if (nseals) {
      reg_msg m;
      msg_init(r, &m, REG_MSG_DELTAS);
      m.deltas = r->out;
      m.ndeltas = n;
      m.seals = r->out_seals;
      m.nseals = nseals;
      r->st.deltas_out += n;
      msg_send(r, to->name, &m);
    }
    gq_done(r, limit);
  }
  reg_gossip_arm(r, now);
}

void reg_sync_round(registry *r, uint64_t now) {
  r->sync_at = r->npeers ? now + r->sync_interval : UINT64_MAX;
  if (!r->npeers) return;
  send_digest(r, r->peers[reg_rand_below(r, r->npeers)]->name,
              REG_MSG_DIGEST, now);
}

/* ---- incoming ----------------------------------------------------------- */

static bool is_self(const registry *r, const char *name) {
  return strcmp(name, r->self->name) == 0;
}

static int delta_cmp(const void *a, const void *b) {
  const reg_delta *x = *(const reg_delta *const *)a;
  const reg_delta *y = *(const reg_delta *const *)b;
  int c = strcmp(x->owner, y->owner);
  if (c) return c;
  if (x->epoch != y->epoch) return x->epoch < y->epoch ? -1 : 1;
  if (x->version != y->version) return x->version < y->version ? -1 : 1;
  return x < y ? -1 : x > y; /* message order: a deterministic sort */
}

static int seal_cmp(const void *a, const void *b) {
  const reg_seal *x = *(const reg_seal *const *)a;
  const reg_seal *y = *(const reg_seal *const *)b;
  int c = strcmp(x->owner, y->owner);
  if (c) return c;
  if (x->epoch != y->epoch) return x->epoch < y->epoch ? -1 : 1;
  if (x->first != y->first) return x->first < y->first ? -1 : 1;
  return x < y ? -1 : x > y;
}

/* Where delta d stands against seal s: before it (< 0), in it (0), after. */
static int delta_vs_seal(const reg_delta *d, const reg_seal *s) {
  int c = strcmp(d->owner, s->owner);
  if (c) return c;
  if (d->epoch != s->epoch) return d->epoch < s->epoch ? -1 : 1;
  if (d->version < s->first) return -1;
  return d->version > s->last;
}

static bool seal_ok(const reg_seal *s) {
  return reg_name_ok(s->owner, sizeof(s->owner)) && s->first >= 1 &&
         s->first <= s->last && s->last - s->first < REG_SEAL_MAX &&
         s->proof_len <= REG_PROOF_MAX && (s->proof || !s->proof_len);
}

/* Whether this node holds o's entry id (a policy may say no). */
static bool may_hold(registry *r, const reg_owner *o, const char *id) {
  if (!r->ops.may_hold || o == r->self ||
      r->ops.may_hold(r->user, o->name, id))
    return true;
  r->st.rejected_policy++;
  return false;
}

/* Applies one delta to o's set. False when out of memory: the version
 * stays, so the owner reads as a gap to repair. */
static bool apply_delta(registry *r, reg_owner *o, const reg_delta *d,
                        uint64_t now) {
  reg_entry *c = reg_entry_find(o, d->id);
  if (d->removed) {
    if (c) reg_entry_remove(r, c);
  } else if (!c && may_hold(r, o, d->id) &&
             !reg_entry_add(r, o, d->id,
                            reg_claim_time(r, o, d->since, now))) {
    if (o->seen < d->version) o->seen = d->version;
    o->stale = true;
    return false;
  }
  o->version = d->version;
  if (o->seen <= o->version) {
    o->seen = o->version;
    o->stale = false;
  }
  r->st.deltas_applied++;
  return true;
}

/* Whether a relayed batch carries its owner's word: its seal verifies.
 * Counts and penalizes as reg_ops.verify says. */
static bool seal_believed(registry *r, const char *from, const reg_seal *s,
                          const reg_delta *const *ds, uint32_t n,
                          uint64_t now) {
  reg_owner *relayer = reg_owner_find(r, from);
  if (relayer && relayer->proofs_ignored_until > now) {
    r->st.proofs_ignored++;
    return false;
  }
  if (!s->proof_len) return false;
  uint8_t *buf = reg_seal_scratch(r, n);
  if (!buf) return false;
  size_t len = reg_seal_bytes(s, ds, buf);
  r->st.verifies++;
  int rc = r->ops.verify(r->user, s->owner, buf, len, s->proof, s->proof_len,
                         from);
  if (rc == REG_PROOF_BAD) {
    r->st.proof_failures++;
    if (relayer) relayer->proofs_ignored_until = now + REG_PROOF_PENALTY_MS;
  }
  return rc == REG_PROOF_OK;
}

/* Queues a copy of an applied batch, whole, to relay. */
static void relay_batch(registry *r, const reg_seal *s,
                        const reg_delta *const *ds, uint32_t n,
                        uint64_t now) {
  if (n > r->max_deltas) return; /* would not fit a message of ours */
  reg_queued *q = malloc(sizeof(*q) + n * sizeof(*q->d));
  if (!q) return; /* applied, not relayed */
  memset(q, 0, sizeof(*q));
  q->seal = *s;
  if (s->proof_len) memcpy(q->proof, s->proof, s->proof_len);
  q->seal.proof = q->proof;
  q->n = n;
  for (uint32_t i = 0; i < n; i++) {
    q->d[i] = *ds[i];
    q->d[i].removed = ds[i]->removed ? 1 : 0;
  }
  reg_gq_push(r, q, now);
}

/* One batch of a message: its seal s over ds[0..n) (versions first..last,
 * checked). */
static void recv_batch(registry *r, const char *from, const reg_seal *s,
                       const reg_delta *const *ds, uint32_t n, uint64_t now) {
  reg_owner *o = reg_owner_find(r, s->owner);
  if (!o || o->epoch != s->epoch) {
    r->st.rejected_owner += n;
    return;
  }
  if (s->last <= o->version) return; /* old news, unchecked */
  if (reg_trusting(r) && strcmp(from, s->owner) != 0 &&
      !seal_believed(r, from, s, ds, n, now)) {
    r->st.rejected_proof += n;
    return;
  }
  if (s->first > o->version + 1) { /* a gap: the owner has the rest */
    if (o->seen < s->last) o->seen = s->last;
    o->stale = true;
    pull_spaced(r, o, now);
    return;
  }
  for (uint32_t i = (uint32_t)(o->version + 1 - s->first); i < n; i++)
    if (!apply_delta(r, o, ds[i], now)) return;
  relay_batch(r, s, ds, n, now);
}

static bool sorted_reserve(registry *r, uint32_t ndeltas, uint32_t nseals) {
  if (ndeltas > r->sorted_cap) {
    const reg_delta **p = realloc(r->sorted, ndeltas * sizeof(*p));
    if (!p) return false;
    r->sorted = p;
    r->sorted_cap = ndeltas;
  }
  if (nseals > r->seals_cap) {
    const reg_seal **p = realloc(r->seals, nseals * sizeof(*p));
    if (!p) return false;
    r->seals = p;
    r->seals_cap = nseals;
  }
  return true;
}

static void recv_deltas(registry *r, const char *from, const reg_msg *m,
                        uint64_t now) {
  if ((m->ndeltas && !m->deltas) || (m->nseals && !m->seals)) {
    r->st.rejected_malformed++;
    return;
  }
  if (!sorted_reserve(r, m->ndeltas, m->nseals)) return; /* as if lost */
  uint32_t n = 0, ns = 0;
  for (uint32_t i = 0; i < m->ndeltas; i++) {
    const reg_delta *d = &m->deltas[i];
    if (!reg_name_ok(d->owner, sizeof(d->owner)) ||
        !reg_name_ok(d->id, sizeof(d->id))) {
      r->st.rejected_malformed++;
    } else if (is_self(r, d->owner)) {
      r->st.rejected_self++;
    } else {
      r->sorted[n++] = d;
    }
  }
  for (uint32_t i = 0; i < m->nseals; i++) {
    const reg_seal *s = &m->seals[i];
    if (!seal_ok(s))
      r->st.rejected_malformed++;
    else if (!is_self(r, s->owner)) /* its deltas were counted above */
      r->seals[ns++] = s;
  }
  if (n > 1) qsort(r->sorted, n, sizeof(*r->sorted), delta_cmp);
  if (ns > 1) qsort(r->seals, ns, sizeof(*r->seals), seal_cmp);
  /* Both in (owner, epoch, version) order: each seal takes the run of
   * deltas that must be exactly its versions; what no seal covers, or a
   * seal whose deltas are not all there, is malformed. */
  uint32_t i = 0;
  for (uint32_t k = 0; k < ns; k++) {
    const reg_seal *s = r->seals[k];
    while (i < n && delta_vs_seal(r->sorted[i], s) < 0) {
      r->st.rejected_malformed++;
      i++;
    }
    uint32_t want = (uint32_t)(s->last - s->first + 1), got = 0;
    while (i + got < n && got < want &&
           delta_vs_seal(r->sorted[i + got], s) == 0 &&
           r->sorted[i + got]->version == s->first + got)
      got++;
    if (got == want) {
      recv_batch(r, from, s, r->sorted + i, want, now);
      i += want;
      continue;
    }
    r->st.rejected_malformed++;
    while (i < n && delta_vs_seal(r->sorted[i], s) == 0) {
      r->st.rejected_malformed++;
      i++;
    }
  }
  r->st.rejected_malformed += n - i;
}

static void recv_digest(registry *r, const char *from, const reg_msg *m,
                        uint64_t now) {
  if (m->ndigests && !m->digests) {
    r->st.rejected_malformed++;
    return;
  }
  /* Work linear in the message: copies of an entry answer once. */
  bool they_lag = false, set_asked = false;
  for (uint32_t i = 0; i < m->ndigests; i++) {
    const reg_digest *dg = &m->digests[i];
    if (!reg_name_ok(dg->owner, sizeof(dg->owner))) {
      r->st.rejected_malformed++;
      continue;
    }
    reg_owner *o = reg_owner_find(r, dg->owner);
    if (!o || o->epoch != dg->epoch) continue;
    if (o == r->self) {
      if (o->version > dg->version && !set_asked) {
        set_asked = true; /* once, however many copies */
        send_own_set(r, from, now);
      }
      else if (o->version < dg->version) /* nobody holds more of it */
        r->st.rejected_self++;
    } else if (o->version < dg->version) {
      if (strcmp(from, o->name) == 0) { /* the owner's own word */
        if (o->seen < dg->version) o->seen = dg->version;
        o->stale = true;
      }
      pull_spaced(r, o, now);
    } else if (o->version == dg->version && strcmp(from, o->name) == 0) {
      o->catching_up = false; /* its own word: nothing is missing */
    } else if (o->version > dg->version && strcmp(from, o->name) != 0) {
      they_lag = true;
    }
  }
  if (they_lag && m->type == REG_MSG_DIGEST)
    send_digest(r, from, REG_MSG_DIGEST_REPLY, now);
}

static void recv_pull(registry *r, const char *from, const reg_msg *m,
                      uint64_t now) {
  if (m->ndigests && !m->digests) {
    r->st.rejected_malformed++;
    return;
  }
  for (uint32_t i = 0; i < m->ndigests; i++) {
    const reg_digest *dg = &m->digests[i];
    if (!reg_name_ok(dg->owner, sizeof(dg->owner))) {
      r->st.rejected_malformed++;
      continue;
    }
    /* Only an owner sends its set. */
    if (!is_self(r, dg->owner) || dg->epoch != r->self->epoch ||
        r->self->version <= dg->version)
      continue;
    send_own_set(r, from, now);
    return;
  }
}

/* Replaces o's whole set: ids in the new set are marked (added if new),
 * the unmarked rest removed, so ids in both never flicker. Only from the
 * owner: its word is also the version it is at. */
static void recv_set(registry *r, const char *from, const reg_msg *m,
                     uint64_t now) {
  if (m->ndigests < 1 || !m->digests || (m->nids && !m->ids) ||
      !reg_name_ok(m->digests[0].owner, sizeof(m->digests[0].owner))) {
    r->st.rejected_malformed++;
    return;
  }
  const reg_digest *dg = &m->digests[0];
  if (is_self(r, dg->owner)) {
    r->st.rejected_self++;
    return;
  }
  if (strcmp(from, dg->owner) != 0) {
    r->st.rejected_proof++;
    return;
  }
  reg_owner *o = reg_owner_find(r, dg->owner);
  if (!o || o->epoch != dg->epoch) {
    r->st.rejected_owner++;
    return;
  }
  if (dg->version <= o->version) { /* not newer; nothing more to wait for */
    o->seen = o->version;
    o->stale = false;
    o->catching_up = false;
    return;
  }
  uint64_t gen = ++r->mark_gen;
  bool failed = false;
  for (uint32_t i = 0; i < m->nids; i++) {
    const char *id = m->ids[i];
    if (!reg_name_ok(id, TR_ID_MAX + 1)) {
      r->st.rejected_malformed++;
      continue;
    }
    reg_entry *c = reg_entry_find(o, id);
    if (!c && !may_hold(r, o, id)) continue;
    uint64_t since = m->sinces ? m->sinces[i] : 0;
    if (!c && !(c = reg_entry_add(r, o, id,
                                  reg_claim_time(r, o, since, now)))) {
      failed = true;
      continue;
    }
    c->mark = gen;
  }
  reg_entry *c, *tmp;
  HASH_ITER(hh, o->set, c, tmp) {
    if (c->mark != gen) reg_entry_remove(r, c);
  }
  o->seen = dg->version;
  if (failed) { /* a partial set: known to be behind, pulled again */
    o->version = 0;
    o->stale = true;
    return;
  }
  o->version = dg->version;
  o->stale = false;
  o->catching_up = false;
  r->st.sets_applied++;
}

void reg_msg_receive(registry *r, const char *from, const reg_msg *m,
                     uint64_t now) {
  if (!reg_name_ok(from, TR_ID_MAX + 1) ||
      !reg_name_ok(m->sender, sizeof(m->sender)) ||
      strcmp(m->sender, from) != 0) {
    r->st.rejected_sender++;
    return;
  }
  switch (m->type) {
    case REG_MSG_DELTAS:
      recv_deltas(r, from, m, now);
      break;
    case REG_MSG_DIGEST:
    case REG_MSG_DIGEST_REPLY:
      recv_digest(r, from, m, now);
      break;
    case REG_MSG_PULL:
      recv_pull(r, from, m, now);
      break;
    case REG_MSG_SET:
      recv_set(r, from, m, now);
      break;
    default:
      r->st.rejected_malformed++;
      break;
  }
}

void reg_policy_changed(registry *r, uint64_t now) {
  reg_owner *o, *otmp;
  HASH_ITER(hh, r->owners, o, otmp) {
    if (o == r->self) continue;
    reg_entry *c, *ctmp;
    HASH_ITER(hh, o->set, c, ctmp)
      if (!may_hold(r, o, c->rid->id)) reg_entry_remove(r, c);
    /* Its whole set again, for the entries now allowed: a pull saying
     * nothing is held brings the owner's SET. */
    o->version = 0;
    o->seen = 0;
    o->stale = true;
    o->pull_after = 0;
    pull_spaced(r, o, now);
  }
}
