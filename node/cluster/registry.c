/* registry.c — the cluster-wide actor registry as a deterministic state
 * machine (see registry.h): the owner and id tables, conflict resolution,
 * membership, this node's own claims, and the timers the host drives through
 * reg_tick. Gossip, anti-entropy and incoming messages are in
 * registry_gossip.c.
 *
 * Design notes.
 * - Two uthash tables. `owners`: every owner the membership knows up (this
 *   node included), with its epoch, the version of the set held for it and
 *   the set itself (a hash of claims by id). `ids`: every id at least one
 *   owner claims, with its claimants in a list, earliest claim first (as
 *   believed here, then FNV order), so the resolution is the head. An id
 *   is interned once, in its reg_id; claims point to it.
 * - A claim's time is judged once, when this node first holds it
 *   (reg_claim_time), from what this node knows of its touch with the
 *   owner: in touch since, lost at, first seen, and for owners gone from
 *   membership a small table of when they were lost.
 * - Only live owners have claims: a gone owner's set is dropped and the
 *   owner freed, and a restart drops the older epoch's set. So every
 *   claimant is live and resolution needs no liveness check.
 * - Every change of an id's head is reported through `changed` at the point
 *   it happens; a new head that beats one of this node's own claims also
 *   reports conflict_lost, once per claim.
 * - Randomness comes from a splitmix64 generator seeded by the config, and
 *   uthash iterates in insertion order, so one seed and one sequence of
 *   calls give one sequence of messages and callbacks.
 */
#include <stdlib.h>
#include <string.h>

#include "registry_int.h"
#include "utlist.h"

/* ---- small helpers ------------------------------------------------------ */

bool reg_trusting(const registry *r) { return r->ops.sign && r->ops.verify; }

uint64_t reg_rand(registry *r) {
  uint64_t z = (r->rng += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint32_t reg_rand_below(registry *r, uint32_t n) {
  return n ? (uint32_t)(reg_rand(r) % n) : 0;
}

/* A name or id: non-empty and NUL-terminated within cap bytes. */
bool reg_name_ok(const char *s, size_t cap) {
  if (!s || !s[0]) return false;
  return strnlen(s, cap) < cap;
}

static bool id_ok(const char *id) { return reg_name_ok(id, TR_ID_MAX + 1); }

reg_owner *reg_owner_find(registry *r, const char *name) {
  reg_owner *o = NULL;
  HASH_FIND_STR(r->owners, name, o);
  return o;
}

reg_entry *reg_entry_find(reg_owner *o, const char *id) {
  reg_entry *c = NULL;
  HASH_FIND(hh, o->set, id, strlen(id), c);
  return c;
}

bool reg_shared_id(const char *id) {
  return strncmp(id, REG_SHARED_PREFIX, sizeof(REG_SHARED_PREFIX) - 1) == 0;
}

static void notify_changed(registry *r, reg_id *rid) {
  if (r->ops.changed)
    r->ops.changed(r->user, rid->id,
                   rid->claims ? rid->claims->owner->name : NULL);
}

/* ---- claim times ---------------------------------------------------------- */

uint64_t reg_wall(registry *r, uint64_t now) {
  return r->ops.wall_ms ? r->ops.wall_ms(r->user) : now;
}

static uint64_t sat_sub(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

uint64_t reg_claim_time(registry *r, const reg_owner *o, uint64_t declared,
                        uint64_t now) {
  if (o == r->self) return declared;
  uint64_t a = reg_wall(r, now), w = r->claim_skew, floor = 0;
  /* Nobody's claim is from after it arrived (past the skew). */
  if (declared > a + w) declared = a;
  if (o->touch_since != UINT64_MAX && !o->catching_up &&
      a >= o->touch_since + w)
    floor = sat_sub(a, w); /* in touch all along: it would have come sooner */
  else if (o->lost_at)
    floor = sat_sub(o->lost_at, w); /* back after being lost: made since */
  else if (r->first_peer_at != UINT64_MAX &&
           o->first_seen > r->first_peer_at + w)
    floor = sat_sub(o->first_seen, w); /* a member new here: made since */
  return declared > floor ? declared : floor;
}

static uint64_t claim_order(const char *id, const char *owner) {
  uint64_t h = 1469598103934665603ull;
  for (const unsigned char *p = (const unsigned char *)id; *p; p++)
    h = (h ^ *p) * 1099511628211ull;
  h = (h ^ 0) * 1099511628211ull;
  for (const unsigned char *p = (const unsigned char *)owner; *p; p++)
    h = (h ^ *p) * 1099511628211ull;
  return h;
}

/* Whether claim a wins over b: earlier, then smaller order, then (never in
 * practice) the owner's name. */
static bool claim_before(const reg_entry *a, const reg_entry *b) {
  if (a->since != b->since) return a->since < b->since;
  if (a->order != b->order) return a->order < b->order;
  return strcmp(a->owner->name, b->owner->name) < 0;
}

/* ---- claims ------------------------------------------------------------- */

/* After a claimant was added ahead of this node's own claim on rid. */
static void check_lost(registry *r, reg_id *rid) {
  reg_entry *head = rid->claims;
  for (reg_entry *c = head->next; c; c = c->next) {
    if (c->owner != r->self) continue;
    if (!c->lost_told) {
      c->lost_told = true;
      r->st.conflicts_lost++;
      if (r->ops.conflict_lost)
        r->ops.conflict_lost(r->user, rid->id, head->owner->name);
    }
    return;
  }
}

/* Adds o's claim on id (not yet in o's set). NULL when out of memory,
 * with nothing changed. */
reg_entry *reg_entry_add(registry *r, reg_owner *o, const char *id,
                         uint64_t since) {
  bool hash_oom = false;
  size_t len = strlen(id);
  reg_id *rid = NULL;
  HASH_FIND(hh, r->ids, id, len, rid);
  bool new_rid = !rid;
  reg_entry *c = calloc(1, sizeof(*c));
  if (!c) return NULL;
  if (new_rid) {
    rid = calloc(1, sizeof(*rid) + len + 1);
    if (!rid) goto fail_claim;
    memcpy(rid->id, id, len + 1);
    HASH_ADD_KEYPTR(hh, r->ids, rid->id, len, rid);
    if (hash_oom) goto fail_rid;
    if (reg_shared_id(rid->id)) r->nshared++;
  }
  c->owner = o;
  c->rid = rid;
  c->since = since;
  c->order = claim_order(rid->id, o->name);
  HASH_ADD_KEYPTR(hh, o->set, rid->id, len, c);
  if (hash_oom) {
    if (new_rid) {
      HASH_DEL(r->ids, rid);
      if (reg_shared_id(rid->id)) r->nshared--;
    }
    goto fail_rid;
  }

  if (reg_shared_id(rid->id)) { /* several owners, no resolution */
    c->next = rid->claims;
    rid->claims = c;
    if (r->ops.held) r->ops.held(r->user, rid->id, o->name, true);
    return c;
  }
  reg_entry **pp = &rid->claims;
  while (*pp && claim_before(*pp, c)) pp = &(*pp)->next;
  c->next = *pp;
  *pp = c;
  if (!new_rid) r->st.conflicts++;
  if (rid->claims == c) notify_changed(r, rid);
  if (!new_rid) check_lost(r, rid);
  return c;

fail_rid:
  if (new_rid) free(rid);
fail_claim:
  free(c);
  return NULL;
}

/* Removes a claim from its owner's set and its id, freeing both as they
 * empty. */
void reg_entry_remove(registry *r, reg_entry *c) {
  reg_id *rid = c->rid;
  bool was_head = rid->claims == c, shared = reg_shared_id(rid->id);
  reg_owner *o = c->owner;
  HASH_DEL(o->set, c);
  reg_entry **pp = &rid->claims;
  while (*pp != c) pp = &(*pp)->next;
  *pp = c->next;
  free(c);
  if (shared && r->ops.held)
    r->ops.held(r->user, rid->id, o->name, false);
  else if (was_head && !shared)
    notify_changed(r, rid);
  if (!rid->claims) {
    HASH_DEL(r->ids, rid);
    if (shared) r->nshared--;
    free(rid);
  }
}

static void owner_drop_set(registry *r, reg_owner *o) {
  reg_entry *c, *tmp;
  HASH_ITER(hh, o->set, c, tmp) reg_entry_remove(r, c);
}

/* ---- membership --------------------------------------------------------- */

static int peer_add(registry *r, reg_owner *o) {
  if (r->npeers == r->peers_cap) {
    uint32_t cap = r->peers_cap ? r->peers_cap * 2 : 16;
    reg_owner **p = realloc(r->peers, cap * sizeof(*p));
    if (!p) return TR_ENOMEM;
    r->peers = p;
    r->peers_cap = cap;
  }
  o->peer_pos = r->npeers;
  r->peers[r->npeers++] = o;
  return 0;
}

static void peer_remove(registry *r, reg_owner *o) {
  uint32_t i = o->peer_pos, last = --r->npeers;
  if (i != last) {
    r->peers[i] = r->peers[last];
    r->peers[i]->peer_pos = i;
  }
}

/* The first peer starts the timers: a sync soon, to learn what the cluster
 * holds (a joining node, or one that was alone), and gossip of any deltas
 * queued meanwhile. The last one gone stops them. */
static void peers_changed(registry *r, uint32_t before, uint64_t now) {
  if (before == 0 && r->npeers > 0 && r->first_peer_at == UINT64_MAX)
    r->first_peer_at = reg_wall(r, now);
  if (before == 0 && r->npeers > 0) {
    r->sync_at = now + r->gossip_interval;
    reg_gossip_arm(r, now);
  } else if (r->npeers == 0) {
    r->sync_at = UINT64_MAX;
    r->gossip_at = UINT64_MAX;
  }
}

void reg_member_up(registry *r, const char *name, uint64_t epoch,
                   uint64_t now_ms) {
  if (!r || !reg_name_ok(name, TR_ID_MAX + 1)) return;
  if (strcmp(name, r->self->name) == 0) return; /* only this node says */
  reg_owner *o = reg_owner_find(r, name);
  uint64_t wall = reg_wall(r, now_ms);
  if (o) {
    if (epoch <= o->epoch) return; /* known, or older news */
    /* A restart: the older epoch's entries go, the new one starts empty;
     * the new process claimed nothing before it was seen. */
    reg_gq_drop_owner(r, name);
    owner_drop_set(r, o);
    o->epoch = epoch;
    o->version = o->seen = 0;
    o->pull_after = 0;
    o->stale = false;
    o->touch_since = o->lost_at = wall;
    reg_pull_from_owner(r, o);
    return;
  }
  o = calloc(1, sizeof(*o));
  if (!o) return; /* its entries will be rejected until it shows again */
  memcpy(o->name, name, strlen(name) + 1);
  o->epoch = epoch;
  o->touch_since = o->first_seen = wall;
  reg_gone *g = NULL;
  HASH_FIND_STR(r->gone, name, g);
  if (g) { /* back from being gone: it was lost then */
    o->lost_at = g->lost_at;
    o->catching_up = true;
    HASH_DEL(r->gone, g);
    free(g);
    r->ngone--;
  }
  bool hash_oom = false;
  HASH_ADD_STR(r->owners, name, o);
  if (hash_oom) {
    free(o);
    return;
  }
  uint32_t before = r->npeers;
  if (peer_add(r, o) != 0) {
    HASH_DEL(r->owners, o);
    free(o);
    return;
  }
  peers_changed(r, before, now_ms);
  reg_pull_from_owner(r, o);
}

void reg_member_gone(registry *r, const char *name, uint64_t now_ms) {
  if (!r || !reg_name_ok(name, TR_ID_MAX + 1)) return;
  reg_owner *o = reg_owner_find(r, name);
  if (!o || o == r->self) return;
  /* Remember when it was lost: claims it brings back are dated since. */
  reg_gone *g = NULL;
  HASH_FIND_STR(r->gone, name, g);
  if (!g && r->ngone >= REG_GONE_MAX) { /* the oldest goes */
    g = r->gone;
    HASH_DEL(r->gone, g);
    r->ngone--;
    memset(g, 0, sizeof(*g));
  } else if (!g) {
    g = calloc(1, sizeof(*g));
  } else {
    HASH_DEL(r->gone, g);
    r->ngone--;
  }
  if (g) {
    memcpy(g->name, name, strlen(name) + 1);
    g->lost_at = (o->touch_since == UINT64_MAX || o->catching_up) &&
                         o->lost_at
                     ? o->lost_at
                     : reg_wall(r, now_ms);
    bool hash_oom = false;
    HASH_ADD_STR(r->gone, name, g);
    if (hash_oom)
      free(g);
    else
      r->ngone++;
  }
  reg_gq_drop_owner(r, name);
  owner_drop_set(r, o);
  peer_remove(r, o);
  HASH_DEL(r->owners, o);
  free(o);
  reg_gq_prune(r); /* fewer members: fewer retransmissions */
  peers_changed(r, r->npeers + 1, now_ms);
}

void reg_member_contact(registry *r, const char *name, bool in_touch,
                        uint64_t now_ms) {
  reg_owner *o = r ? reg_owner_find(r, name) : NULL;
  if (!o || o == r->self) return;
  uint64_t wall = reg_wall(r, now_ms);
  if (!in_touch && o->touch_since != UINT64_MAX) {
    o->touch_since = UINT64_MAX;
    if (!o->catching_up || !o->lost_at) o->lost_at = wall;
    o->catching_up = true;
  } else if (in_touch && o->touch_since == UINT64_MAX) {
    o->touch_since = wall;
  }
}

/* ---- this node's own set ------------------------------------------------ */

/* Room for one more change in the open batch (sealing a full one first);
 * NULL when out of memory. Alone, nothing is batched: whoever comes up
 * pulls the whole set. */
static reg_delta *own_slot(registry *r, uint64_t now) {
  if (!r->npeers) {
    free(r->open);
    r->open = NULL;
    return &r->out[0]; /* scratch: the change is not gossiped */
  }
  if (r->open && r->open->n == r->max_deltas) reg_seal_open(r, now);
  if (!r->open) {
    reg_queued *q = malloc(sizeof(*q) + r->max_deltas * sizeof(*q->d));
    if (!q) return NULL;
    memset(q, 0, sizeof(*q));
    r->open = q;
  }
  return &r->open->d[r->open->n];
}

/* The change in slot d (from own_slot) about this node's own set, at the
 * next version: the host's change was applied, now it is recorded. */
static void own_commit(registry *r, reg_delta *d, const char *id,
                       bool removed, uint64_t since, uint64_t now) {
  memset(d, 0, sizeof(*d));
  memcpy(d->owner, r->self->name, strlen(r->self->name) + 1);
  memcpy(d->id, id, strlen(id) + 1);
  d->epoch = r->self->epoch;
  d->version = r->self->version + 1;
  d->removed = removed;
  d->since = since;
  r->self->version = r->self->seen = d->version;
  if (r->open && d == &r->open->d[r->open->n]) {
    r->open->n++;
    reg_gossip_arm(r, now);
  }
}

int reg_claim(registry *r, const char *id, uint64_t now_ms) {
  if (!r || !id_ok(id)) return TR_EINVAL;
  reg_id *rid = NULL;
  HASH_FIND_STR(r->ids, id, rid);
  /* Every claimant is live; a shared id is taken only by holding it. */
  if (rid && (!reg_shared_id(id) || reg_entry_find(r->self, id)))
    return TR_EEXIST;
  reg_delta *d = own_slot(r, now_ms);
  uint64_t since = reg_wall(r, now_ms);
  if (!d || !reg_entry_add(r, r->self, id, since)) return TR_ENOMEM;
  own_commit(r, d, id, false, since, now_ms);
  r->st.claims++;
  return 0;
}

int reg_release(registry *r, const char *id, uint64_t now_ms) {
  if (!r || !id_ok(id)) return TR_EINVAL;
  reg_entry *c = reg_entry_find(r->self, id);
  if (!c) return TR_ENOTFOUND;
  reg_delta *d = own_slot(r, now_ms);
  if (!d) return TR_ENOMEM;
  char copy[TR_ID_MAX + 1];
  memcpy(copy, id, strlen(id) + 1); /* id may be the entry's own */
  reg_entry_remove(r, c);
  own_commit(r, d, copy, true, 0, now_ms);
  r->st.releases++;
  return 0;
}

/* ---- lookups ------------------------------------------------------------ */

const char *reg_lookup(registry *r, const char *id) {
  if (!r || !id) return NULL;
  reg_id *rid = NULL;
  HASH_FIND_STR(r->ids, id, rid);
  return rid ? rid->claims->owner->name : NULL;
}

size_t reg_count(registry *r) {
  return r ? HASH_COUNT(r->ids) - r->nshared : 0;
}

size_t reg_shared_count(registry *r) { return r ? r->nshared : 0; }

bool reg_owner_state(registry *r, const char *owner, uint64_t *epoch,
                     uint64_t *version) {
  reg_owner *o = r && owner ? reg_owner_find(r, owner) : NULL;
  if (!o) return false;
  if (epoch) *epoch = o->epoch;
  if (version) *version = o->version;
  return true;
}

void reg_each(registry *r,
              void (*fn)(void *arg, const char *id, const char *owner),
              void *arg) {
  if (!r || !fn) return;
  reg_id *rid, *tmp;
  HASH_ITER(hh, r->ids, rid, tmp) {
    if (!reg_shared_id(rid->id)) fn(arg, rid->id, rid->claims->owner->name);
  }
}

void reg_get_stats(registry *r, reg_stats *out) {
  if (!out) return;
  if (!r) {
    memset(out, 0, sizeof(*out));
    return;
  }
  *out = r->st;
}

/* ---- timers ------------------------------------------------------------- */

uint64_t reg_next_deadline(registry *r) {
  if (!r) return UINT64_MAX;
  return r->gossip_at < r->sync_at ? r->gossip_at : r->sync_at;
}

void reg_tick(registry *r, uint64_t now_ms) {
  if (!r) return;
  /* Each round schedules its next one from now, so this ends. Ties: gossip
   * first. */
  for (;;) {
    if (r->gossip_at <= now_ms && r->gossip_at <= r->sync_at)
      reg_gossip_round(r, now_ms);
    else if (r->sync_at <= now_ms)
      reg_sync_round(r, now_ms);
    else
      break;
  }
}

void reg_receive(registry *r, const char *from, const reg_msg *msg,
                 uint64_t now_ms) {
  if (!r || !msg) return;
  reg_msg_receive(r, from, msg, now_ms);
}

/* ---- lifecycle ---------------------------------------------------------- */

static uint64_t name_hash(const char *name) {
  uint64_t h = 1469598103934665603ull;
  for (const unsigned char *p = (const unsigned char *)name; *p; p++)
    h = (h ^ *p) * 1099511628211ull;
  return h;
}

int reg_new(registry **out, const reg_config *cfg, const reg_ops *ops,
            void *user) {
  if (!out) return TR_EINVAL;
  *out = NULL;
  if (!cfg || !ops || !ops->send || !reg_name_ok(cfg->name, TR_ID_MAX + 1))
    return TR_EINVAL;
  registry *r = calloc(1, sizeof(*r));
  if (!r) return TR_ENOMEM;
  r->ops = *ops;
  r->user = user;
  r->gossip_interval = cfg->gossip_interval_ms ? cfg->gossip_interval_ms : 50;
  r->fanout = cfg->fanout ? cfg->fanout : 3;
  r->retransmit_mult = cfg->retransmit_mult ? cfg->retransmit_mult : 4;
  r->max_deltas = cfg->max_deltas ? cfg->max_deltas : 64;
  if (r->max_deltas > 4096) r->max_deltas = 4096;
  r->sync_interval = cfg->sync_interval_ms ? cfg->sync_interval_ms : 5000;
  r->pull_retry = 4 * r->gossip_interval;
  r->claim_skew = cfg->claim_skew_ms ? cfg->claim_skew_ms : 2000;
  r->first_peer_at = UINT64_MAX;
  r->rng = cfg->seed ? cfg->seed : name_hash(cfg->name) ^ cfg->epoch;
  r->gossip_at = r->sync_at = UINT64_MAX;

  bool hash_oom = false;
  r->pick = calloc(2 * (size_t)r->max_deltas, sizeof(*r->pick));
  r->out = calloc(r->max_deltas, sizeof(*r->out));
  r->out_seals = calloc(r->max_deltas, sizeof(*r->out_seals));
  r->self = calloc(1, sizeof(*r->self));
  if (!r->pick || !r->out || !r->out_seals || !r->self ||
      !reg_gq_reserve(r, 1))
    goto fail;
  memcpy(r->self->name, cfg->name, strlen(cfg->name) + 1);
  r->self->epoch = cfg->epoch;
  HASH_ADD_STR(r->owners, name, r->self);
  if (hash_oom) goto fail;
  *out = r;
  return 0;

fail:
  HASH_CLEAR(hh, r->owners);
  free(r->buckets);
  free(r->self);
  free(r->out_seals);
  free(r->out);
  free(r->pick);
  free(r);
  return TR_ENOMEM;
}

void reg_free(registry *r) {
  if (!r) return;
  reg_owner *o, *otmp;
  HASH_ITER(hh, r->owners, o, otmp) {
    reg_entry *c, *ctmp;
    HASH_ITER(hh, o->set, c, ctmp) {
      HASH_DEL(o->set, c);
      free(c);
    }
    HASH_DEL(r->owners, o);
    free(o);
  }
  reg_id *rid, *rtmp;
  HASH_ITER(hh, r->ids, rid, rtmp) {
    HASH_DEL(r->ids, rid);
    free(rid);
  }
  reg_gone *g, *gtmp;
  HASH_ITER(hh, r->gone, g, gtmp) {
    HASH_DEL(r->gone, g);
    free(g);
  }
  reg_answered_free(r);
  for (uint32_t b = 0; b < r->nbuckets; b++) {
    reg_queued *q, *qtmp;
    DL_FOREACH_SAFE(r->buckets[b], q, qtmp) {
      DL_DELETE(r->buckets[b], q);
      free(q);
    }
  }
  free(r->buckets);
  free(r->open);
  free(r->peers);
  free(r->sorted);
  free(r->seals);
  free(r->seal_buf);
  free(r->out_seals);
  free(r->out);
  free(r->pick);
  free(r);
}
