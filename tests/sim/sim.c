/* sim.c — see sim.h. The nodes sit on the virtual network of
 * tests/support/vnet.h, on its step grid: each step delivers what is due
 * and ticks every node whose deadline has come. */
#include "sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uthash.h"
#include "vnet.h"
#include "vnet_msgs.h"

typedef struct held_id {
  UT_hash_handle hh;
  char id[TR_ID_MAX + 1];
} held_id;

typedef struct sim_node {
  sim *s;
  uint32_t index;
  char name[16]; /* "n<index>" */
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
  vnet *net; /* the clock, messages in flight, who is up, the trace */
  sim_node *nodes;
  uint64_t restarts;
  bool joined; /* sim_join_all ran: node 0 has a cluster to rejoin */
  sim_stats st;
};

const char *sim_name(sim *s, uint32_t i) {
  return i < s->cfg.nodes ? s->nodes[i].name : "?";
}

static uint32_t parse_index(sim *s, const char *name_or_addr) {
  return vnet_node_index(name_or_addr, s->cfg.nodes);
}

static bool node_up(sim *s, uint32_t i) { return vnet_is_up(s->net, i); }

/* Sends m (a copy, NULL if out of memory) from `from` to `to` (VNET_NONE:
 * not a sim node), between the two processes up now. */
static void msg_send(sim *s, sim_node *from, uint32_t to, vnet_cluster_msg *m) {
  if (!m) abort(); /* test program: out of memory is fatal */
  m->from_epoch = from->epoch;
  m->to_epoch = to < s->cfg.nodes ? s->nodes[to].epoch : 0;
  vnet_send(s->net, from->index, to, &m->hdr);
}

/* ---- host callbacks ------------------------------------------------------- */

static void on_swim_send(void *user, const char *to_name, const char *to_addr,
                         const swim_msg *msg) {
  sim_node *n = user;
  sim *s = n->s;
  msg_send(s, n, parse_index(s, to_name ? to_name : to_addr),
           vnet_cluster_msg_swim(msg));
}

/* The stand-in signature (sim.h, trust): FNV-1a over the signer's key and
 * the record, 8 bytes. */
static uint64_t fake_mac(sim *s, const swim_update *u) {
  uint8_t rec[SWIM_RECORD_MAX];
  size_t n = swim_record_bytes(u, rec);
  uint64_t h = vnet_fnv1a(1469598103934665603ull, u->name, strlen(u->name));
  h ^= s->cfg.seed * 0x9E3779B97F4A7C15ull; /* the key, per run */
  return vnet_fnv1a(h, rec, n);
}

static size_t on_swim_sign(void *user, const swim_update *self, uint8_t *out,
                           size_t cap) {
  sim_node *n = user;
  if (cap < 8) return 0;
  uint64_t mac = fake_mac(n->s, self);
  memcpy(out, &mac, 8);
  return 8;
}

static bool on_swim_verify(void *user, const swim_update *u,
                           const char *from) {
  (void)from;
  sim_node *n = user;
  uint64_t mac = fake_mac(n->s, u);
  return u->proof_len == 8 && memcmp(u->proof, &mac, 8) == 0;
}

/* The registry's seals, the same way: keyed by the owner. */
static uint64_t fake_seal_mac(sim *s, const char *owner, const uint8_t *data,
                              size_t len) {
  uint64_t h = vnet_fnv1a(1469598103934665603ull, owner, strlen(owner));
  h ^= s->cfg.seed * 0x9E3779B97F4A7C15ull;
  return vnet_fnv1a(h, data, len);
}

static size_t on_reg_sign(void *user, const uint8_t *data, size_t len,
                          uint8_t *out, size_t cap) {
  sim_node *n = user;
  if (cap < 8) return 0;
  uint64_t mac = fake_seal_mac(n->s, n->name, data, len);
  memcpy(out, &mac, 8);
  return 8;
}

static int on_reg_verify(void *user, const char *owner, const uint8_t *data,
                         size_t len, const uint8_t *proof, size_t proof_len,
                         const char *from) {
  sim_node *n = user;
  (void)from;
  uint64_t mac = fake_seal_mac(n->s, owner, data, len);
  return proof_len == 8 && memcmp(proof, &mac, 8) == 0 ? REG_PROOF_OK
                                                       : REG_PROOF_BAD;
}

static void on_member_changed(void *user, const swim_update *u,
                              swim_state was, bool restarted) {
  sim_node *n = user;
  sim *s = n->s;
  vnet_trace(s->net, &n->index, sizeof(n->index));
  vnet_trace_str(s->net, u->name);
  vnet_trace(s->net, &u->state, sizeof(u->state));
  uint32_t who = parse_index(s, u->name);
  /* A live process said left, or seen in a process it never was. */
  if (who != VNET_NONE && who != n->index && node_up(s, who)) {
    if (u->state == SWIM_LEFT && s->nodes[who].epoch == u->epoch)
      s->st.false_lefts++;
    if (u->epoch > s->nodes[who].epoch) s->st.false_restarts++;
  }
  if (u->state == SWIM_DEAD && was != SWIM_DEAD && who != VNET_NONE &&
      node_up(s, who) && s->nodes[who].epoch == u->epoch) {
    sim_node *v = &s->nodes[who];
    s->st.false_deaths++;
    if (v->false_epoch != u->epoch || v->false_inc1 != u->incarnation + 1) {
      v->false_epoch = u->epoch;
      v->false_inc1 = u->incarnation + 1;
      s->st.false_victims++;
    }
  }
  if (who == n->index) return; /* the registry knows itself */
  if (u->state == SWIM_ALIVE || u->state == SWIM_SUSPECT) {
    reg_member_up(n->rg, u->name, u->epoch, vnet_now(s->net));
    reg_member_contact(n->rg, u->name, u->state == SWIM_ALIVE,
                       vnet_now(s->net));
  } else {
    reg_member_gone(n->rg, u->name, vnet_now(s->net));
  }
}

static void on_reg_send(void *user, const char *to_name, const reg_msg *msg) {
  sim_node *n = user;
  sim *s = n->s;
  msg_send(s, n, parse_index(s, to_name), vnet_cluster_msg_reg(msg));
}

static void on_reg_changed(void *user, const char *id, const char *owner) {
  sim_node *n = user;
  vnet_trace(n->s->net, &n->index, sizeof(n->index));
  vnet_trace_str(n->s->net, id);
  vnet_trace_str(n->s->net, owner);
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
  (void)winner;
  n->s->st.conflicts_lost++;
  /* As the real host does: stop the actor, then release, after the call. */
  if (n->nlost == n->lost_cap) {
    n->lost_cap = n->lost_cap ? n->lost_cap * 2 : 8;
    n->lost = realloc(n->lost, n->lost_cap * sizeof(*n->lost));
    if (!n->lost) abort();
  }
  if (!(n->lost[n->nlost++] = strdup(id))) abort();
}

static void release_lost(sim_node *n) {
  for (uint32_t i = 0; i < n->nlost; i++) {
    held_del(n, n->lost[i]);
    reg_release(n->rg, n->lost[i], vnet_now(n->s->net));
    free(n->lost[i]);
  }
  n->nlost = 0;
}

/* ---- what the network asks of the nodes ---------------------------------- */

static uint64_t node_deadline(void *user, uint32_t i) {
  sim_node *n = &((sim *)user)->nodes[i];
  uint64_t a = swim_next_deadline(n->sw), b = reg_next_deadline(n->rg);
  return a < b ? a : b;
}

static void node_tick(void *user, uint32_t i, uint64_t now) {
  sim_node *n = &((sim *)user)->nodes[i];
  if (swim_next_deadline(n->sw) <= now) swim_tick(n->sw, now);
  if (reg_next_deadline(n->rg) <= now) reg_tick(n->rg, now);
  release_lost(n);
}

/* A message between two processes dies with either of them: a restarted
 * node neither sends what its previous process had queued nor receives
 * what was sent to it (the links, TLS sessions, closed with them). */
static bool node_deliver(void *user, vnet_msg *h, uint64_t now) {
  sim *s = user;
  vnet_cluster_msg *m = (vnet_cluster_msg *)h;
  sim_node *to = &s->nodes[h->to], *from = &s->nodes[h->from];
  if (!node_up(s, h->from) || to->epoch != m->to_epoch ||
      from->epoch != m->from_epoch)
    return false;
  uint64_t key[3] = {h->at, h->from, h->to};
  vnet_trace(s->net, key, sizeof(key));
  if (m->is_reg) {
    vnet_trace_reg(s->net, &m->reg);
    reg_receive(to->rg, from->name, &m->reg, now);
  } else {
    vnet_trace_swim(s->net, &m->swim);
    swim_receive(to->sw, from->name, &m->swim, now);
  }
  release_lost(to);
  return true;
}

static const vnet_ops net_ops = {.deadline = node_deadline,
                                 .tick = node_tick,
                                 .deliver = node_deliver,
                                 .free_msg = vnet_cluster_msg_free};

/* ---- nodes ------------------------------------------------------------- */

static const swim_ops swim_host = {.send = on_swim_send,
                                   .member_changed = on_member_changed};
static const swim_ops swim_host_trusting = {.send = on_swim_send,
                                            .member_changed = on_member_changed,
                                            .sign = on_swim_sign,
                                            .verify = on_swim_verify};
static const reg_ops reg_host = {.send = on_reg_send,
                                 .changed = on_reg_changed,
                                 .conflict_lost = on_conflict_lost};
static const reg_ops reg_host_trusting = {.send = on_reg_send,
                                          .changed = on_reg_changed,
                                          .conflict_lost = on_conflict_lost,
                                          .sign = on_reg_sign,
                                          .verify = on_reg_verify};

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
  n->epoch = 1000000 + vnet_now(s->net) + s->restarts++;
  swim_config sc = s->cfg.swim;
  sc.name = n->name;
  sc.addr = addr;
  sc.epoch = n->epoch;
  sc.seed = vnet_node_seed(s->net, n->index, n->epoch);
  reg_config rc = s->cfg.reg;
  rc.name = sc.name;
  rc.epoch = n->epoch;
  rc.seed = sc.seed ^ 0x5DEECE66Dull;
  if (swim_new(&n->sw, &sc, s->cfg.trust ? &swim_host_trusting : &swim_host,
               n) != 0 ||
      reg_new(&n->rg, &rc, s->cfg.trust ? &reg_host_trusting : &reg_host,
              n) != 0)
    return -1;
  vnet_set_up(s->net, n->index, true);
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
  if (swim_join(n->sw, seeds, nseeds, vnet_now(s->net)) != 0) abort();
}

int sim_new(sim **out, const sim_config *cfg) {
  sim *s = calloc(1, sizeof(*s));
  if (!s) return TR_ENOMEM;
  s->cfg = *cfg;
  if (!s->cfg.step_ms) s->cfg.step_ms = 5;
  if (!s->cfg.jitter_ms) s->cfg.jitter_ms = 1;
  /* Checking a 1,000-node view every step would cost more than the
   * simulation itself. */
  if (!s->cfg.check_ms) s->cfg.check_ms = 50;
  vnet_config vc = {.nodes = cfg->nodes,
                    .seed = cfg->seed,
                    .latency_ms = s->cfg.latency_ms,
                    .jitter_ms = s->cfg.jitter_ms,
                    .loss_ppm = s->cfg.loss_permille * 1000u,
                    .step_ms = s->cfg.step_ms,
                    .check_ms = s->cfg.check_ms};
  int rc = vnet_new(&s->net, &vc, &net_ops, s);
  if (rc != 0) {
    free(s);
    return rc;
  }
  s->nodes = calloc(cfg->nodes, sizeof(*s->nodes));
  if (!s->nodes) {
    sim_free(s);
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
  vnet_free(s->net);
  for (uint32_t i = 0; s->nodes && i < s->cfg.nodes; i++) {
    node_stop(&s->nodes[i]);
    free(s->nodes[i].lost);
  }
  free(s->nodes);
  free(s);
}

/* ---- running ------------------------------------------------------------ */

void sim_join_all(sim *s) {
  for (uint32_t i = 0; i < s->cfg.nodes; i++)
    if (node_up(s, i)) node_join(s, &s->nodes[i]);
  s->joined = true;
}

void sim_run(sim *s, uint64_t ms) { vnet_run(s->net, ms); }

typedef struct sim_pred {
  bool (*fn)(sim *, void *);
  void *arg;
} sim_pred;

static bool call_pred(void *user, const void *arg) {
  const sim_pred *p = arg;
  return p->fn(user, p->arg);
}

uint64_t sim_run_until(sim *s, bool (*pred)(sim *, void *), void *arg,
                       uint64_t max_ms) {
  sim_pred p = {pred, arg};
  return vnet_run_until(s->net, call_pred, &p, max_ms);
}

uint64_t sim_now(sim *s) { return vnet_now(s->net); }

void sim_crash(sim *s, uint32_t i) {
  if (!node_up(s, i)) return;
  vnet_set_up(s->net, i, false);
  node_stop(&s->nodes[i]);
}

void sim_restart(sim *s, uint32_t i) {
  if (i >= s->cfg.nodes) return;
  sim_crash(s, i);
  if (node_start(s, &s->nodes[i]) != 0) abort();
  node_join(s, &s->nodes[i]);
}

bool sim_is_up(sim *s, uint32_t i) { return node_up(s, i); }

void sim_set_loss(sim *s, uint32_t permille) {
  vnet_set_loss_ppm(s->net, permille * 1000u);
}

void sim_partition(sim *s, const uint8_t *group) {
  if (vnet_partition(s->net, group) != 0) abort();
}

int sim_claim(sim *s, uint32_t i, const char *id) {
  sim_node *n = &s->nodes[i];
  if (!node_up(s, i)) return TR_ECLOSED;
  int rc = reg_claim(n->rg, id, vnet_now(s->net));
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
  if (!node_up(s, i)) return TR_ECLOSED;
  held_del(n, id);
  return reg_release(n->rg, id, vnet_now(s->net));
}

swim *sim_swim(sim *s, uint32_t i) { return s->nodes[i].sw; }
registry *sim_reg(sim *s, uint32_t i) { return s->nodes[i].rg; }

/* ---- properties ---------------------------------------------------------- */

bool sim_all_see(sim *s, const char *who, swim_state st) {
  uint32_t w = parse_index(s, who);
  bool check_epoch = node_up(s, w);
  for (uint32_t i = 0; i < s->cfg.nodes; i++) {
    sim_node *n = &s->nodes[i];
    if (!node_up(s, i) || i == w) continue;
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
  for (uint32_t i = 0; i < s->cfg.nodes; i++) nup += node_up(s, i);
  for (uint32_t i = 0; i < s->cfg.nodes; i++)
    if (node_up(s, i) && swim_alive_count(s->nodes[i].sw) != nup)
      return false;
  for (uint32_t i = 0; i < s->cfg.nodes; i++) {
    sim_node *n = &s->nodes[i];
    if (!node_up(s, i)) continue;
    for (uint32_t j = 0; j < s->cfg.nodes; j++) {
      swim_update u;
      bool known = swim_member(n->sw, s->nodes[j].name, &u);
      bool alive = known && (u.state == SWIM_ALIVE);
      bool live = known && (u.state == SWIM_ALIVE || u.state == SWIM_SUSPECT);
      if (node_up(s, j)) {
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
  uint64_t h = vnet_fnv1a(VNET_FNV_OFFSET, id, strlen(id));
  h = vnet_fnv1a(h, "=", 1);
  h = vnet_fnv1a(h, owner, strlen(owner));
  m->sum += h * 0x9E3779B97F4A7C15ull;
  m->count++;
  uint32_t o = parse_index(m->s, owner);
  if (!node_up(m->s, o)) m->owner_down = true;
}

bool sim_registry_converged(sim *s) {
  bool first = true;
  map_sum ref = {0};
  size_t count = SIZE_MAX;
  for (uint32_t i = 0; i < s->cfg.nodes; i++) {
    if (!node_up(s, i)) continue;
    size_t c = reg_count(s->nodes[i].rg);
    if (count != SIZE_MAX && c != count) return false;
    count = c;
  }
  for (uint32_t i = 0; i < s->cfg.nodes; i++) {
    if (!node_up(s, i)) continue;
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
    if (!node_up(s, i)) continue;
    for (held_id *h = n->held; h && ok; h = h->hh.next) {
      if (reg_shared_id(h->id)) continue; /* several owners by design */
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
  if (node_up(c->s, o)) HASH_FIND_STR(c->s->nodes[o].held, id, h);
  if (!h) c->ok = false;
}

bool sim_owners_hold(sim *s) {
  owner_check c = {.s = s, .ok = true};
  for (uint32_t i = 0; i < s->cfg.nodes && c.ok; i++) {
    sim_node *n = &s->nodes[i];
    if (!node_up(s, i)) continue;
    reg_each(n->rg, check_owner_holds, &c);
    for (held_id *h = n->held; h && c.ok; h = h->hh.next) {
      if (reg_shared_id(h->id)) continue; /* no single owner to resolve */
      const char *o = reg_lookup(n->rg, h->id);
      if (!o || strcmp(o, n->name) != 0) c.ok = false;
    }
  }
  return c.ok;
}

bool sim_all_resolve(sim *s, const char *id, const char *owner) {
  for (uint32_t i = 0; i < s->cfg.nodes; i++) {
    if (!node_up(s, i)) continue;
    const char *o = reg_lookup(s->nodes[i].rg, id);
    if (owner ? (!o || strcmp(o, owner) != 0) : o != NULL) return false;
  }
  return true;
}

void sim_get_stats(sim *s, sim_stats *out) {
  vnet_stats ns = vnet_get_stats(s->net);
  *out = s->st;
  out->msgs_sent = ns.sent;
  out->msgs_dropped = ns.dropped;
  out->msgs_delivered = ns.delivered;
  out->trace_hash = vnet_trace_hash(s->net);
  for (uint32_t i = 0; i < s->cfg.nodes; i++) {
    if (!node_up(s, i)) continue;
    swim_stats ss;
    swim_get_stats(s->nodes[i].sw, &ss);
    out->forged_rejected += ss.rejected_proof;
    out->death_checks += ss.death_checks;
    out->signs += ss.signs;
    out->verifies += ss.verifies;
    reg_stats rs;
    reg_get_stats(s->nodes[i].rg, &rs);
    out->reg_forged_rejected += rs.rejected_proof;
    out->reg_signs += rs.signs;
    out->reg_verifies += rs.verifies;
  }
}

void sim_forge_reg(sim *s, uint32_t byz, uint32_t victim, uint32_t to,
                   sim_reg_lie lie, const char *id) {
  sim_node *b = &s->nodes[byz];
  const char *vname = s->nodes[victim].name;
  uint64_t epoch = 0, version = 0;
  if (!node_up(s, byz) || !reg_owner_state(b->rg, vname, &epoch, &version))
    return;
  reg_msg m;
  memset(&m, 0, sizeof(m));
  memcpy(m.sender, b->name, strlen(b->name) + 1);
  reg_delta d;
  reg_seal seal;
  reg_digest dg;
  uint8_t proof[8];
  memset(&d, 0, sizeof(d));
  memset(&seal, 0, sizeof(seal));
  memset(&dg, 0, sizeof(dg));
  memcpy(dg.owner, vname, strlen(vname) + 1);
  dg.epoch = epoch;
  dg.version = 1ull << 62;
  if (lie == SIM_REG_STEAL) { /* as itself, first-hand: no seal needed */
    vname = b->name;
    if (!reg_owner_state(b->rg, vname, &epoch, &version)) return;
  }
  if (lie == SIM_REG_ADD || lie == SIM_REG_REMOVE || lie == SIM_REG_STEAL) {
    memcpy(d.owner, vname, strlen(vname) + 1);
    memcpy(d.id, id, strlen(id) + 1);
    d.epoch = epoch;
    d.version = version + 1;
    d.removed = lie == SIM_REG_REMOVE;
    d.since = lie == SIM_REG_STEAL ? 1 : 0;
    memcpy(seal.owner, vname, strlen(vname) + 1);
    seal.epoch = epoch;
    seal.first = seal.last = d.version;
    if (lie == SIM_REG_ADD) { /* sealed, but with byz's own key */
      const reg_delta *ds[1] = {&d};
      uint8_t buf[1024];
      size_t len = reg_seal_bytes(&seal, ds, buf);
      uint64_t mac = fake_seal_mac(s, b->name, buf, len);
      memcpy(proof, &mac, 8);
      seal.proof = proof;
      seal.proof_len = 8;
    }
    m.type = REG_MSG_DELTAS;
    m.deltas = &d;
    m.ndeltas = 1;
    m.seals = &seal;
    m.nseals = 1;
  } else if (lie == SIM_REG_SET) {
    m.type = REG_MSG_SET;
    m.digests = &dg;
    m.ndigests = 1;
  } else {
    m.type = REG_MSG_DIGEST;
    m.digests = &dg;
    m.ndigests = 1;
  }
  msg_send(s, b, to, vnet_cluster_msg_reg(&m));
}

void sim_forge(sim *s, uint32_t byz, uint32_t victim, uint32_t to,
               swim_state state, uint32_t epoch_up, uint32_t inc_up) {
  sim_node *b = &s->nodes[byz];
  swim_update ups[2];
  if (!node_up(s, byz) || !swim_member(b->sw, b->name, &ups[0]) ||
      !swim_member(b->sw, s->nodes[victim].name, &ups[1]))
    return;
  ups[1].state = (uint8_t)state;
  ups[1].epoch += epoch_up;
  ups[1].incarnation += inc_up;
  ups[1].proof = NULL; /* it cannot make the victim's */
  ups[1].proof_len = 0;
  swim_msg m;
  memset(&m, 0, sizeof(m));
  m.type = SWIM_MSG_PING;
  memcpy(m.sender, b->name, strlen(b->name) + 1);
  m.seq = 0x7fffffffu; /* no probe of byz's: the ACK is dropped */
  m.updates = ups;
  m.nupdates = 2;
  msg_send(s, b, to, vnet_cluster_msg_swim(&m));
}
