/* sim.c — see sim.h. Messages are deep copies in a heap ordered by delivery
 * time then send order; time advances in fixed steps; each step delivers
 * what is due and ticks every node whose deadline has come. */
#include "sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uthash.h"

typedef struct sim_msg {
  uint64_t at, seq;
  uint32_t from, to;
  uint64_t from_epoch, to_epoch; /* the processes it went between */
  bool is_reg;
  swim_msg sm;
  swim_update *ups;
  reg_msg rm;
  reg_delta *deltas;
  reg_digest *digests;
  char **ids;
} sim_msg;

typedef struct held_id {
  UT_hash_handle hh;
  char id[TR_ID_MAX + 1];
} held_id;

typedef struct sim_node {
  sim *s;
  uint32_t index;
  char name[16]; /* "n<index>" */
  bool up;
  uint64_t epoch;
  swim *sw;
  registry *rg;
  held_id *held;           /* ids this node claimed and still holds */
  char **lost;             /* conflict_lost ids to release after the call */
  uint32_t nlost, lost_cap;
  /* The last (epoch, incarnation) counted in false_victims, + 1. */
  uint64_t false_epoch;
  uint32_t false_inc1;
} sim_node;

struct sim {
  sim_config cfg;
  sim_node *nodes;
  uint64_t now, seq, rng;
  sim_msg **heap;
  size_t nheap, heap_cap;
  uint8_t *group; /* partition groups, or NULL */
  uint64_t restarts;
  bool joined; /* sim_join_all ran: node 0 has a cluster to rejoin */
  sim_stats st;
};

const char *sim_name(sim *s, uint32_t i) {
  return i < s->cfg.nodes ? s->nodes[i].name : "?";
}

static uint64_t sim_rand(sim *s) {
  uint64_t z = (s->rng += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static void trace(sim *s, const void *p, size_t n) {
  const uint8_t *b = p;
  uint64_t h = s->st.trace_hash ? s->st.trace_hash : 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
  s->st.trace_hash = h;
}

/* "n12" or "n12:7000" -> 12; UINT32_MAX if not a sim node. */
static uint32_t parse_index(sim *s, const char *name_or_addr) {
  if (!name_or_addr || name_or_addr[0] != 'n') return UINT32_MAX;
  char *end;
  unsigned long i = strtoul(name_or_addr + 1, &end, 10);
  if (end == name_or_addr + 1 || (*end && *end != ':') || i >= s->cfg.nodes)
    return UINT32_MAX;
  return (uint32_t)i;
}

/* ---- the message heap ----------------------------------------------------- */

static bool msg_before(const sim_msg *a, const sim_msg *b) {
  return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static void heap_push(sim *s, sim_msg *m) {
  if (s->nheap == s->heap_cap) {
    s->heap_cap = s->heap_cap ? s->heap_cap * 2 : 1024;
    s->heap = realloc(s->heap, s->heap_cap * sizeof(*s->heap));
    if (!s->heap) abort(); /* test program: out of memory is fatal */
  }
  size_t i = s->nheap++;
  s->heap[i] = m;
  while (i > 0 && msg_before(s->heap[i], s->heap[(i - 1) / 2])) {
    sim_msg *t = s->heap[i];
    s->heap[i] = s->heap[(i - 1) / 2];
    s->heap[(i - 1) / 2] = t;
    i = (i - 1) / 2;
  }
}

static sim_msg *heap_pop(sim *s) {
  sim_msg *top = s->heap[0];
  s->heap[0] = s->heap[--s->nheap];
  size_t i = 0;
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < s->nheap && msg_before(s->heap[l], s->heap[m])) m = l;
    if (r < s->nheap && msg_before(s->heap[r], s->heap[m])) m = r;
    if (m == i) break;
    sim_msg *t = s->heap[i];
    s->heap[i] = s->heap[m];
    s->heap[m] = t;
    i = m;
  }
  return top;
}

static void msg_free(sim_msg *m) {
  free(m->ups);
  free(m->deltas);
  free(m->digests);
  if (m->ids)
    for (uint32_t i = 0; i < m->rm.nids; i++) free(m->ids[i]);
  free(m->ids);
  free(m);
}

static bool cut(sim *s, uint32_t a, uint32_t b) {
  return s->group && s->group[a] != s->group[b];
}

/* Loss, partition and a dead sender drop a message at send time. */
static sim_msg *msg_new(sim *s, sim_node *from, uint32_t to) {
  s->st.msgs_sent++;
  if (to == UINT32_MAX || !from->up || cut(s, from->index, to) ||
      (s->cfg.loss_permille && sim_rand(s) % 1000 < s->cfg.loss_permille)) {
    s->st.msgs_dropped++;
    return NULL;
  }
  sim_msg *m = calloc(1, sizeof(*m));
  if (!m) abort();
  m->from = from->index;
  m->to = to;
  m->from_epoch = from->epoch;
  m->to_epoch = s->nodes[to].epoch;
  m->seq = ++s->seq;
  m->at = s->now + s->cfg.latency_ms +
          (s->cfg.jitter_ms ? sim_rand(s) % (s->cfg.jitter_ms + 1) : 0);
  return m;
}

/* ---- host callbacks ------------------------------------------------------- */

static void on_swim_send(void *user, const char *to_name, const char *to_addr,
                         const swim_msg *msg) {
  sim_node *n = user;
  sim *s = n->s;
  sim_msg *m = msg_new(s, n, parse_index(s, to_name ? to_name : to_addr));
  if (!m) return;
  m->sm = *msg;
  if (msg->nupdates) {
    m->ups = malloc(msg->nupdates * sizeof(*m->ups));
    if (!m->ups) abort();
    memcpy(m->ups, msg->updates, msg->nupdates * sizeof(*m->ups));
  }
  m->sm.updates = m->ups;
  heap_push(s, m);
}

static void on_member_changed(void *user, const swim_update *u,
                              swim_state was, bool restarted) {
  sim_node *n = user;
  sim *s = n->s;
  trace(s, &n->index, sizeof(n->index));
  trace(s, u->name, strlen(u->name));
  trace(s, &u->state, sizeof(u->state));
  uint32_t who = parse_index(s, u->name);
  if (u->state == SWIM_DEAD && was != SWIM_DEAD && who != UINT32_MAX &&
      s->nodes[who].up && s->nodes[who].epoch == u->epoch) {
    sim_node *v = &s->nodes[who];
    s->st.false_deaths++;
    if (v->false_epoch != u->epoch || v->false_inc1 != u->incarnation + 1) {
      v->false_epoch = u->epoch;
      v->false_inc1 = u->incarnation + 1;
      s->st.false_victims++;
    }
  }
  if (who == n->index) return; /* the registry knows itself */
  if (u->state == SWIM_ALIVE || u->state == SWIM_SUSPECT)
    reg_member_up(n->rg, u->name, u->epoch, s->now);
  else
    reg_member_gone(n->rg, u->name, s->now);
}

static void on_reg_send(void *user, const char *to, const reg_msg *msg) {
  sim_node *n = user;
  sim *s = n->s;
  sim_msg *m = msg_new(s, n, parse_index(s, to));
  if (!m) return;
  m->is_reg = true;
  m->rm = *msg;
  if (msg->ndeltas) {
    m->deltas = malloc(msg->ndeltas * sizeof(*m->deltas));
    if (!m->deltas) abort();
    memcpy(m->deltas, msg->deltas, msg->ndeltas * sizeof(*m->deltas));
  }
  if (msg->ndigests) {
    m->digests = malloc(msg->ndigests * sizeof(*m->digests));
    if (!m->digests) abort();
    memcpy(m->digests, msg->digests, msg->ndigests * sizeof(*m->digests));
  }
  if (msg->nids) {
    m->ids = calloc(msg->nids, sizeof(*m->ids));
    if (!m->ids) abort();
    for (uint32_t i = 0; i < msg->nids; i++) {
      m->ids[i] = strdup(msg->ids[i]);
      if (!m->ids[i]) abort();
    }
  }
  m->rm.deltas = m->deltas;
  m->rm.digests = m->digests;
  m->rm.ids = (const char *const *)m->ids;
  heap_push(s, m);
}

static void on_reg_changed(void *user, const char *id, const char *owner) {
  sim_node *n = user;
  trace(n->s, &n->index, sizeof(n->index));
  trace(n->s, id, strlen(id));
  if (owner) trace(n->s, owner, strlen(owner));
}

static void held_del(sim_node *n, const char *id) {
  held_id *h = NULL;
  HASH_FIND_STR(n->held, id, h);
  if (h) {
    HASH_DEL(n->held, h);
    free(h);
  }
}

static void on_conflict_lost(void *user, const char *id, const char *winner) {
  sim_node *n = user;
  n->s->st.conflicts_lost++;
  /* As the real host does: stop the actor, then release, after the call. */
  if (n->nlost == n->lost_cap) {
    n->lost_cap = n->lost_cap ? n->lost_cap * 2 : 8;
    n->lost = realloc(n->lost, n->lost_cap * sizeof(*n->lost));
    if (!n->lost) abort();
  }
  n->lost[n->nlost++] = strdup(id);
}

static void release_lost(sim_node *n) {
  for (uint32_t i = 0; i < n->nlost; i++) {
    held_del(n, n->lost[i]);
    reg_release(n->rg, n->lost[i], n->s->now);
    free(n->lost[i]);
  }
  n->nlost = 0;
}

/* ---- nodes ------------------------------------------------------------- */

static const swim_ops swim_host = {.send = on_swim_send,
                                   .member_changed = on_member_changed};
static const reg_ops reg_host = {.send = on_reg_send,
                                 .changed = on_reg_changed,
                                 .conflict_lost = on_conflict_lost};

static void node_stop(sim_node *n) {
  swim_free(n->sw);
  reg_free(n->rg);
  n->sw = NULL;
  n->rg = NULL;
  held_id *h, *tmp;
  HASH_ITER(hh, n->held, h, tmp) {
    HASH_DEL(n->held, h);
    free(h);
  }
  for (uint32_t i = 0; i < n->nlost; i++) free(n->lost[i]);
  n->nlost = 0;
}

static int node_start(sim *s, sim_node *n) {
  char addr[32];
  snprintf(addr, sizeof(addr), "%s:7000", n->name);
  n->epoch = 1000000 + s->now + s->restarts++;
  swim_config sc = s->cfg.swim;
  sc.name = n->name;
  sc.addr = addr;
  sc.epoch = n->epoch;
  sc.seed = s->cfg.seed * 1000003u + n->index * 7919u + n->epoch;
  reg_config rc = s->cfg.reg;
  rc.name = sc.name;
  rc.epoch = n->epoch;
  rc.seed = sc.seed ^ 0x5DEECE66Dull;
  if (swim_new(&n->sw, &sc, &swim_host, n) != 0 ||
      reg_new(&n->rg, &rc, &reg_host, n) != 0)
    return -1;
  n->up = true;
  return 0;
}

/* Seeds are the first SIM_SEEDS nodes other than this one, as a deployment
 * lists a few well-known members; n0's very first join has none. */
#define SIM_SEEDS 3u

static void node_join(sim *s, sim_node *n) {
  char addrs[SIM_SEEDS][32];
  const char *seeds[SIM_SEEDS];
  size_t nseeds = 0;
  bool alone = n->index == 0 && !s->joined;
  for (uint32_t i = 0; i < s->cfg.nodes && nseeds < SIM_SEEDS && !alone; i++) {
    if (i == n->index) continue;
    snprintf(addrs[nseeds], sizeof(addrs[nseeds]), "%s:7000", s->nodes[i].name);
    seeds[nseeds] = addrs[nseeds];
    nseeds++;
  }
  if (swim_join(n->sw, seeds, nseeds, s->now) != 0) abort();
}

int sim_new(sim **out, const sim_config *cfg) {
  sim *s = calloc(1, sizeof(*s));
  if (!s) return TR_ENOMEM;
  s->cfg = *cfg;
  if (!s->cfg.step_ms) s->cfg.step_ms = 5;
  if (!s->cfg.latency_ms) s->cfg.latency_ms = 1;
  if (!s->cfg.jitter_ms) s->cfg.jitter_ms = 1;
  /* Checking a 1,000-node view every step would cost more than the
   * simulation itself. */
  if (!s->cfg.check_ms) s->cfg.check_ms = 50;
  s->rng = cfg->seed ? cfg->seed : 1;
  s->nodes = calloc(cfg->nodes, sizeof(*s->nodes));
  if (!s->nodes) {
    free(s);
    return TR_ENOMEM;
  }
  for (uint32_t i = 0; i < cfg->nodes; i++) {
    s->nodes[i].s = s;
    s->nodes[i].index = i;
    snprintf(s->nodes[i].name, sizeof(s->nodes[i].name), "n%u", i);
    if (node_start(s, &s->nodes[i]) != 0) {
      sim_free(s);
      return TR_ENOMEM;
    }
  }
  *out = s;
  return 0;
}

void sim_free(sim *s) {
  if (!s) return;
  for (uint32_t i = 0; i < s->cfg.nodes; i++) {
    node_stop(&s->nodes[i]);
    free(s->nodes[i].lost);
  }
  while (s->nheap) msg_free(heap_pop(s));
  free(s->heap);
  free(s->group);
  free(s->nodes);
  free(s);
}

/* ---- running ------------------------------------------------------------ */

/* A message between two processes dies with either of them: a restarted
 * node neither sends what its previous process had queued nor receives
 * what was sent to it (the links, TLS sessions, closed with them). */
static void deliver(sim *s, sim_msg *m) {
  sim_node *to = &s->nodes[m->to], *from = &s->nodes[m->from];
  if (!to->up || !from->up || to->epoch != m->to_epoch ||
      from->epoch != m->from_epoch || cut(s, m->from, m->to)) {
    s->st.msgs_dropped++;
    return;
  }
  s->st.msgs_delivered++;
  uint64_t key[3] = {m->at, m->from, m->to};
  trace(s, key, sizeof(key));
  if (m->is_reg) {
    trace(s, &m->rm.type, sizeof(m->rm.type));
    reg_receive(to->rg, from->name, &m->rm, s->now);
  } else {
    trace(s, &m->sm.type, sizeof(m->sm.type));
    swim_receive(to->sw, from->name, &m->sm, s->now);
  }
  release_lost(to);
}

static void step(sim *s) {
  s->now += s->cfg.step_ms;
  while (s->nheap && s->heap[0]->at <= s->now) {
    sim_msg *m = heap_pop(s);
    deliver(s, m);
    msg_free(m);
  }
  for (uint32_t i = 0; i < s->cfg.nodes; i++) {
    sim_node *n = &s->nodes[i];
    if (!n->up) continue;
    if (swim_next_deadline(n->sw) <= s->now) swim_tick(n->sw, s->now);
    if (reg_next_deadline(n->rg) <= s->now) reg_tick(n->rg, s->now);
    release_lost(n);
  }
}

void sim_join_all(sim *s) {
  for (uint32_t i = 0; i < s->cfg.nodes; i++)
    if (s->nodes[i].up) node_join(s, &s->nodes[i]);
  s->joined = true;
}

void sim_run(sim *s, uint64_t ms) {
  uint64_t end = s->now + ms;
  while (s->now < end) step(s);
}

uint64_t sim_run_until(sim *s, bool (*pred)(sim *, void *), void *arg,
                       uint64_t max_ms) {
  uint64_t start = s->now, next_check = s->now;
  for (;;) {
    if (s->now >= next_check) {
      if (pred(s, arg)) return s->now - start;
      next_check = s->now + s->cfg.check_ms;
    }
    if (s->now - start >= max_ms) return UINT64_MAX;
    step(s);
  }
}

uint64_t sim_now(sim *s) { return s->now; }

void sim_crash(sim *s, uint32_t i) {
  if (i >= s->cfg.nodes || !s->nodes[i].up) return;
  s->nodes[i].up = false;
  node_stop(&s->nodes[i]);
}

void sim_restart(sim *s, uint32_t i) {
  if (i >= s->cfg.nodes) return;
  sim_crash(s, i);
  if (node_start(s, &s->nodes[i]) != 0) abort();
  node_join(s, &s->nodes[i]);
}

bool sim_is_up(sim *s, uint32_t i) { return i < s->cfg.nodes && s->nodes[i].up; }

void sim_set_loss(sim *s, uint32_t permille) { s->cfg.loss_permille = permille; }

void sim_partition(sim *s, const uint8_t *group) {
  free(s->group);
  s->group = NULL;
  if (!group) return;
  s->group = malloc(s->cfg.nodes);
  if (!s->group) abort();
  memcpy(s->group, group, s->cfg.nodes);
}

int sim_claim(sim *s, uint32_t i, const char *id) {
  sim_node *n = &s->nodes[i];
  if (!n->up) return TR_ECLOSED;
  int rc = reg_claim(n->rg, id, s->now);
  if (rc == 0) {
    held_id *h = calloc(1, sizeof(*h));
    if (!h) abort();
    snprintf(h->id, sizeof(h->id), "%s", id);
    HASH_ADD_STR(n->held, id, h);
  }
  return rc;
}

int sim_release(sim *s, uint32_t i, const char *id) {
  sim_node *n = &s->nodes[i];
  if (!n->up) return TR_ECLOSED;
  held_del(n, id);
  return reg_release(n->rg, id, s->now);
}

swim *sim_swim(sim *s, uint32_t i) { return s->nodes[i].sw; }
registry *sim_reg(sim *s, uint32_t i) { return s->nodes[i].rg; }

/* ---- properties ---------------------------------------------------------- */

bool sim_all_see(sim *s, const char *who, swim_state st) {
  uint32_t w = parse_index(s, who);
  bool check_epoch = w != UINT32_MAX && s->nodes[w].up;
  for (uint32_t i = 0; i < s->cfg.nodes; i++) {
    sim_node *n = &s->nodes[i];
    if (!n->up || i == w) continue;
    swim_update u;
    bool known = swim_member(n->sw, who, &u);
    if (st == SWIM_DEAD || st == SWIM_LEFT) {
      /* Forgotten after the reclaim period counts as gone too. */
      if (known && u.state != st) return false;
    } else if (!known || u.state != st ||
               (check_epoch && u.epoch != s->nodes[w].epoch)) {
      return false;
    }
  }
  return true;
}

bool sim_membership_converged(sim *s) {
  /* A cheap necessary condition first: the full check is N^2 lookups. */
  size_t nup = 0;
  for (uint32_t i = 0; i < s->cfg.nodes; i++) nup += s->nodes[i].up;
  for (uint32_t i = 0; i < s->cfg.nodes; i++)
    if (s->nodes[i].up && swim_alive_count(s->nodes[i].sw) != nup)
      return false;
  for (uint32_t i = 0; i < s->cfg.nodes; i++) {
    sim_node *n = &s->nodes[i];
    if (!n->up) continue;
    for (uint32_t j = 0; j < s->cfg.nodes; j++) {
      swim_update u;
      bool known = swim_member(n->sw, s->nodes[j].name, &u);
      bool alive = known && (u.state == SWIM_ALIVE);
      bool live = known && (u.state == SWIM_ALIVE || u.state == SWIM_SUSPECT);
      if (s->nodes[j].up) {
        if (!alive || u.epoch != s->nodes[j].epoch) return false;
      } else if (live) {
        return false;
      }
    }
  }
  return true;
}

typedef struct map_sum {
  sim *s;
  uint64_t sum, count;
  bool owner_down;
} map_sum;

static void sum_entry(void *arg, const char *id, const char *owner) {
  map_sum *m = arg;
  uint64_t h = 1469598103934665603ull;
  for (const char *p = id; *p; p++) h = (h ^ (uint8_t)*p) * 1099511628211ull;
  h = (h ^ '=') * 1099511628211ull;
  for (const char *p = owner; *p; p++) h = (h ^ (uint8_t)*p) * 1099511628211ull;
  m->sum += h * 0x9E3779B97F4A7C15ull;
  m->count++;
  uint32_t o = parse_index(m->s, owner);
  if (o == UINT32_MAX || !m->s->nodes[o].up) m->owner_down = true;
}

bool sim_registry_converged(sim *s) {
  bool first = true;
  map_sum ref = {0};
  size_t count = SIZE_MAX;
  for (uint32_t i = 0; i < s->cfg.nodes; i++) {
    if (!s->nodes[i].up) continue;
    size_t c = reg_count(s->nodes[i].rg);
    if (count != SIZE_MAX && c != count) return false;
    count = c;
  }
  for (uint32_t i = 0; i < s->cfg.nodes; i++) {
    if (!s->nodes[i].up) continue;
    map_sum m = {.s = s};
    reg_each(s->nodes[i].rg, sum_entry, &m);
    if (m.owner_down) return false;
    if (first) {
      ref = m;
      first = false;
    } else if (m.sum != ref.sum || m.count != ref.count) {
      return false;
    }
  }
  return true;
}

bool sim_no_double_owner(sim *s) {
  held_id *seen = NULL;
  bool ok = true;
  for (uint32_t i = 0; i < s->cfg.nodes && ok; i++) {
    sim_node *n = &s->nodes[i];
    if (!n->up) continue;
    for (held_id *h = n->held; h && ok; h = h->hh.next) {
      held_id *x = NULL;
      HASH_FIND_STR(seen, h->id, x);
      if (x) {
        ok = false;
        break;
      }
      x = calloc(1, sizeof(*x));
      if (!x) abort();
      memcpy(x->id, h->id, sizeof(x->id));
      HASH_ADD_STR(seen, id, x);
    }
  }
  held_id *h, *tmp;
  HASH_ITER(hh, seen, h, tmp) {
    HASH_DEL(seen, h);
    free(h);
  }
  return ok;
}

typedef struct owner_check {
  sim *s;
  bool ok;
} owner_check;

static void check_owner_holds(void *arg, const char *id, const char *owner) {
  owner_check *c = arg;
  uint32_t o = parse_index(c->s, owner);
  held_id *h = NULL;
  if (o != UINT32_MAX && c->s->nodes[o].up) HASH_FIND_STR(c->s->nodes[o].held, id, h);
  if (!h) c->ok = false;
}

bool sim_owners_hold(sim *s) {
  owner_check c = {.s = s, .ok = true};
  for (uint32_t i = 0; i < s->cfg.nodes && c.ok; i++) {
    sim_node *n = &s->nodes[i];
    if (!n->up) continue;
    reg_each(n->rg, check_owner_holds, &c);
    for (held_id *h = n->held; h && c.ok; h = h->hh.next) {
      const char *o = reg_lookup(n->rg, h->id);
      if (!o || strcmp(o, n->name) != 0) c.ok = false;
    }
  }
  return c.ok;
}

bool sim_all_resolve(sim *s, const char *id, const char *owner) {
  for (uint32_t i = 0; i < s->cfg.nodes; i++) {
    if (!s->nodes[i].up) continue;
    const char *o = reg_lookup(s->nodes[i].rg, id);
    if (owner ? (!o || strcmp(o, owner) != 0) : o != NULL) return false;
  }
  return true;
}

void sim_get_stats(sim *s, sim_stats *out) { *out = s->st; }
