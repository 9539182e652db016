/* registry_gossip.c — how the registry spreads and repairs: the delta queue,
 * gossip rounds to `fanout` random members, the digest exchange, and the
 * handling of every incoming message.
 *
 * Design notes.
 * - The queue holds own deltas and applied ones to relay. Each rides up to
 *   retransmit_mult * ceil(log10(N + 1)) messages, fewest-sent first; the
 *   entries live in buckets by how often they went out, oldest first in a
 *   bucket, so picking costs nothing per entry not picked. A delta about
 *   the target itself is counted as sent without being sent: its owner
 *   knows it, and would only reject it.
 * - Receivers apply deltas in version order per owner (a message is sorted
 *   first, since buckets mix versions). A gap marks the owner stale and
 *   pulls its set from whoever sent the gapped delta, who applied it and so
 *   holds at least that version. Pulls for one owner are spaced by
 *   pull_retry, so a burst of gapped deltas or digests asks once.
 * - A digest lists every owner up with the (epoch, version) held. Its
 *   receiver answers in one go: a SET for each owner it holds newer, one
 *   PULL for the owners it holds older; owners in another epoch on either
 *   side are left to membership to settle first. Nobody is sent, or asked
 *   for, its own set.
 */
#include <stdlib.h>
#include <string.h>

#include "registry_int.h"
#include "utlist.h"

/* ---- the delta queue ---------------------------------------------------- */

uint32_t reg_gq_limit(const registry *r) {
  /* ceil(log10(N + 1)) is the number of decimal digits of N (N >= 1). */
  uint32_t digits = 0;
  for (uint32_t n = r->npeers + 1; n; n /= 10) digits++;
  uint32_t limit = r->retransmit_mult * digits;
  /* A small cluster: every round goes to every peer, twice over, so a
   * delta reaches everyone at once instead of with a 1-in-5 chance of
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
      if (strcmp(q->d.owner, owner) != 0) continue;
      gq_unlink(r, q);
      free(q);
    }
  }
  if (!r->nqueued) r->gossip_at = UINT64_MAX;
}

/* After the cluster shrank: deltas sent as often as the new limit asks are
 * done. */
void reg_gq_prune(registry *r) {
  for (uint32_t b = reg_gq_limit(r); b < r->nbuckets; b++) {
    reg_queued *q, *tmp;
    DL_FOREACH_SAFE(r->buckets[b], q, tmp) {
      gq_unlink(r, q);
      free(q);
    }
  }
  if (!r->nqueued) r->gossip_at = UINT64_MAX;
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

/* Fills r->out with up to max_deltas deltas for `to`; returns how many. */
static uint32_t gq_take(registry *r, const reg_owner *to, uint32_t limit) {
  uint32_t n = 0, nskip = 0, max = r->max_deltas;
  reg_queued **skip = r->pick + max;
  for (uint32_t b = 0; b < limit && b < r->nbuckets && n < max; b++) {
    for (reg_queued *q = r->buckets[b]; q && n < max; q = q->next) {
      if (strcmp(q->d.owner, to->name) == 0) {
        if (nskip < max) skip[nskip++] = q;
        continue;
      }
      r->pick[n] = q;
      r->out[n++] = q->d;
    }
  }
  /* Counted after the walk, so an entry moved to the next bucket is not
   * picked twice for one message. */
  for (uint32_t i = 0; i < n; i++) gq_note_sent(r, r->pick[i], limit);
  for (uint32_t i = 0; i < nskip; i++) gq_note_sent(r, skip[i], limit);
  return n;
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

static void send_set(registry *r, const char *to, reg_owner *o) {
  uint32_t n = HASH_COUNT(o->set), i = 0;
  const char **ids = NULL;
  if (n) {
    ids = malloc(n * sizeof(*ids));
    if (!ids) return; /* the next digest asks again */
  }
  reg_entry *c, *tmp;
  HASH_ITER(hh, o->set, c, tmp) ids[i++] = c->rid->id;
  reg_digest dg;
  digest_fill(&dg, o);
  reg_msg m;
  msg_init(r, &m, REG_MSG_SET);
  m.digests = &dg;
  m.ndigests = 1;
  m.ids = ids;
  m.nids = n;
  msg_send(r, to, &m);
  free(ids);
}

static void send_pull(registry *r, const char *to, const reg_digest *dg,
                      uint32_t n);

void reg_pull_from_owner(registry *r, const reg_owner *o) {
  reg_digest dg;
  digest_fill(&dg, o);
  send_pull(r, o->name, &dg, 1);
}

static void send_pull(registry *r, const char *to, const reg_digest *dg,
                      uint32_t n) {
  reg_msg m;
  msg_init(r, &m, REG_MSG_PULL);
  m.digests = dg;
  m.ndigests = n;
  r->st.pulls++;
  msg_send(r, to, &m);
}

/* ---- timers ------------------------------------------------------------- */

/* Gossip runs while deltas wait and someone can take them, one interval
 * after the previous round; an idle queue sends its first delta at once. */
void reg_gossip_arm(registry *r, uint64_t now) {
  if (!r->nqueued || !r->npeers || r->gossip_at != UINT64_MAX) return;
  uint64_t at = r->last_gossip + r->gossip_interval;
  r->gossip_at = at > now ? at : now;
}

void reg_gossip_round(registry *r, uint64_t now) {
  r->gossip_at = UINT64_MAX;
  r->last_gossip = now;
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
    uint32_t n = gq_take(r, to, limit);
    if (!n) continue;
    reg_msg m;
    msg_init(r, &m, REG_MSG_DELTAS);
    m.deltas = r->out;
    m.ndeltas = n;
    r->st.deltas_out += n;
    msg_send(r, to->name, &m);
  }
  reg_gossip_arm(r, now);
}

void reg_sync_round(registry *r, uint64_t now) {
  r->sync_at = r->npeers ? now + r->sync_interval : UINT64_MAX;
  if (!r->npeers) return;
  reg_owner *to = r->peers[reg_rand_below(r, r->npeers)];
  uint32_t n = HASH_COUNT(r->owners), i = 0;
  reg_digest *dg = malloc(n * sizeof(*dg));
  if (!dg) return; /* the next round */
  reg_owner *o, *tmp;
  HASH_ITER(hh, r->owners, o, tmp) digest_fill(&dg[i++], o);
  reg_msg m;
  msg_init(r, &m, REG_MSG_DIGEST);
  m.digests = dg;
  m.ndigests = n;
  msg_send(r, to->name, &m);
  free(dg);
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

/* Applies the next version of o's set and queues the delta for relay. Out
 * of memory: the version stays, so the owner reads as a gap to repair. */
static void apply_delta(registry *r, reg_owner *o, const reg_delta *d,
                        uint64_t now) {
  reg_queued *q = calloc(1, sizeof(*q)); /* NULL: applied, not relayed */
  reg_entry *c = reg_entry_find(o, d->id);
  bool ok = true;
  if (d->removed) {
    if (c) reg_entry_remove(r, c);
  } else if (!c) {
    ok = reg_entry_add(r, o, d->id) != NULL;
  }
  if (!ok) {
    free(q);
    if (o->seen < d->version) o->seen = d->version;
    o->stale = true;
    return;
  }
  o->version = d->version;
  if (o->seen <= o->version) {
    o->seen = o->version;
    o->stale = false;
  }
  r->st.deltas_applied++;
  if (q) {
    q->d = *d;
    q->d.removed = d->removed ? 1 : 0;
    reg_gq_push(r, q, now);
  }
}

static void recv_deltas(registry *r, const char *from, const reg_msg *m,
                        uint64_t now) {
  if (m->ndeltas && !m->deltas) {
    r->st.rejected_malformed++;
    return;
  }
  if (m->ndeltas > r->sorted_cap) {
    const reg_delta **p = realloc(r->sorted, m->ndeltas * sizeof(*p));
    if (!p) return; /* dropped, as if lost */
    r->sorted = p;
    r->sorted_cap = m->ndeltas;
  }
  uint32_t n = 0;
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
  qsort(r->sorted, n, sizeof(*r->sorted), delta_cmp);

  reg_digest *pull = NULL;
  uint32_t npull = 0;
  reg_owner *o = NULL;
  for (uint32_t i = 0; i < n; i++) {
    const reg_delta *d = r->sorted[i];
    if (!o || strcmp(o->name, d->owner) != 0) o = reg_owner_find(r, d->owner);
    if (!o || o->epoch != d->epoch) {
      r->st.rejected_owner++;
      continue;
    }
    if (d->version <= o->version) continue; /* old news */
    if (d->version == o->version + 1) {
      apply_delta(r, o, d, now);
      continue;
    }
    if (o->seen < d->version) o->seen = d->version;
    o->stale = true;
    if (now < o->pull_after) continue;
    if (!pull && !(pull = calloc(n, sizeof(*pull)))) continue;
    o->pull_after = now + r->pull_retry;
    digest_fill(&pull[npull++], o);
  }
  if (npull) send_pull(r, from, pull, npull);
  free(pull);
}

static void recv_digest(registry *r, const char *from, const reg_msg *m,
                        uint64_t now) {
  if (m->ndigests && !m->digests) {
    r->st.rejected_malformed++;
    return;
  }
  reg_digest *pull = NULL;
  uint32_t npull = 0;
  for (uint32_t i = 0; i < m->ndigests; i++) {
    const reg_digest *dg = &m->digests[i];
    if (!reg_name_ok(dg->owner, sizeof(dg->owner))) {
      r->st.rejected_malformed++;
      continue;
    }
    reg_owner *o = reg_owner_find(r, dg->owner);
    if (!o || o->epoch != dg->epoch) continue;
    if (o->version > dg->version) {
      if (strcmp(o->name, from) != 0) send_set(r, from, o);
    } else if (o->version < dg->version) {
      if (o == r->self) { /* nobody holds more of it than this node */
        r->st.rejected_self++;
        continue;
      }
      if (o->seen < dg->version) o->seen = dg->version;
      o->stale = true;
      if (now < o->pull_after) continue;
      if (!pull && !(pull = calloc(m->ndigests, sizeof(*pull)))) continue;
      o->pull_after = now + r->pull_retry;
      digest_fill(&pull[npull++], o);
    }
  }
  if (npull) send_pull(r, from, pull, npull);
  free(pull);
}

static void recv_pull(registry *r, const char *from, const reg_msg *m) {
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
    reg_owner *o = reg_owner_find(r, dg->owner);
    if (!o || o->epoch != dg->epoch || o->version <= dg->version) continue;
    if (strcmp(o->name, from) == 0) continue;
    send_set(r, from, o);
  }
}

/* Replaces o's whole set: ids in the new set are marked (added if new),
 * the unmarked rest removed, so ids in both never flicker. */
static void recv_set(registry *r, const reg_msg *m) {
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
  reg_owner *o = reg_owner_find(r, dg->owner);
  if (!o || o->epoch != dg->epoch) {
    r->st.rejected_owner++;
    return;
  }
  if (dg->version <= o->version) return; /* not newer */
  uint64_t gen = ++r->mark_gen;
  bool failed = false;
  for (uint32_t i = 0; i < m->nids; i++) {
    const char *id = m->ids[i];
    if (!reg_name_ok(id, TR_ID_MAX + 1)) {
      r->st.rejected_malformed++;
      continue;
    }
    reg_entry *c = reg_entry_find(o, id);
    if (!c && !(c = reg_entry_add(r, o, id))) {
      failed = true;
      continue;
    }
    c->mark = gen;
  }
  reg_entry *c, *tmp;
  HASH_ITER(hh, o->set, c, tmp) {
    if (c->mark != gen) reg_entry_remove(r, c);
  }
  if (o->seen < dg->version) o->seen = dg->version;
  if (failed) { /* a partial set: known to be behind, pulled again */
    o->version = 0;
    o->stale = true;
    return;
  }
  o->version = dg->version;
  o->stale = o->version < o->seen;
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
      recv_digest(r, from, m, now);
      break;
    case REG_MSG_PULL:
      recv_pull(r, from, m);
      break;
    case REG_MSG_SET:
      recv_set(r, m);
      break;
    default:
      r->st.rejected_malformed++;
      break;
  }
}
