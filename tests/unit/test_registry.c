/* test_registry.c — the actor registry state machine (node/cluster/
 * registry*.c) driven through the virtual network of tests/support/vnet.h:
 * several registry instances, membership fed by the test, a virtual clock
 * that jumps to the next message or deadline, loss, jitter, partitions,
 * killed and restarted nodes. No sleeps, no sockets; the same seeds give
 * the same run. */
#include "tr_test.h"

#include "registry.h"
#include "vnet.h"
#include "vnet_msgs.h"

#define MAX_NODES 128
#define GOSSIP 50u  /* the default gossip interval, used for bounds */
#define SYNC 5000u  /* the default sync interval */
#define MAX_LOST 16

/* ---- the nodes on the network ------------------------------------------- */

typedef struct net net;

typedef struct tnode {
  net *n;
  int index;
  char name[16];
  uint64_t epoch;
  registry *reg;
  /* conflict_lost calls, and the releases the "host" owes for them */
  int nlost;
  char lost_id[MAX_LOST][32], lost_winner[MAX_LOST][16];
  int npending;
  char pending[MAX_LOST][32];
  uint64_t nchanged;
} tnode;

struct net {
  vnet *v; /* the clock, the messages in flight, who is up, the trace */
  tnode nodes[MAX_NODES];
  int count;
  reg_config cfg;
  bool trust; /* owners seal and relays are checked (fake_mac below) */
};

static bool up(net *n, int i) { return vnet_is_up(n->v, (uint32_t)i); }
static uint64_t now_of(net *n) { return vnet_now(n->v); }
static uint64_t sends(net *n) { return vnet_get_stats(n->v).sent; }

/* Every send goes into the trace, dropped or not. */
static void on_send(void *user, const char *to_name, const reg_msg *msg) {
  tnode *self = user;
  net *n = self->n;
  uint32_t to = vnet_node_index(to_name, (uint32_t)n->count);
  assert_true(to != VNET_NONE);
  assert_string_equal(msg->sender, self->name);
  vnet_trace_u64(n->v, now_of(n));
  vnet_trace_u64(n->v, ((uint64_t)self->index << 32) | to);
  vnet_trace_reg(n->v, msg);
  vnet_cluster_msg *m = vnet_cluster_msg_reg(msg);
  assert_non_null(m);
  vnet_send(n->v, (uint32_t)self->index, to, &m->hdr);
}

static void on_changed(void *user, const char *id, const char *owner) {
  tnode *self = user;
  self->nchanged++;
  vnet_trace_u64(self->n->v, 0xC0FFEE00u + (uint64_t)self->index);
  vnet_trace_str(self->n->v, id);
  vnet_trace_str(self->n->v, owner);
}

/* The host's part: remember, and release after the call returns (the
 * callback must not call back into the registry). */
static void on_conflict_lost(void *user, const char *id, const char *winner) {
  tnode *self = user;
  vnet_trace_u64(self->n->v, 0xDEAD0000u + (uint64_t)self->index);
  vnet_trace_str(self->n->v, id);
  vnet_trace_str(self->n->v, winner);
  assert_true(self->nlost < MAX_LOST);
  snprintf(self->lost_id[self->nlost], sizeof(self->lost_id[0]), "%s", id);
  snprintf(self->lost_winner[self->nlost], sizeof(self->lost_winner[0]),
           "%s", winner);
  self->nlost++;
  assert_true(self->npending < MAX_LOST);
  snprintf(self->pending[self->npending++], sizeof(self->pending[0]), "%s",
           id);
}

static const reg_ops ops = {.send = on_send,
                            .changed = on_changed,
                            .conflict_lost = on_conflict_lost};

/* A stand-in signature: FNV-1a over a key only `owner` holds and the data.
 * A relayer cannot make one for data the owner never sealed. */
static uint64_t fake_mac(const char *owner, const uint8_t *data, size_t len) {
  uint64_t h = vnet_fnv1a(1469598103934665603ull, "key:", 4);
  h = vnet_fnv1a(h, owner, strlen(owner));
  return vnet_fnv1a(h, data, len);
}

static size_t on_sign(void *user, const uint8_t *data, size_t len,
                      uint8_t *out, size_t cap) {
  tnode *self = user;
  if (cap < 8) return 0;
  uint64_t mac = fake_mac(self->name, data, len);
  memcpy(out, &mac, 8);
  return 8;
}

static int on_verify(void *user, const char *owner, const uint8_t *data,
                     size_t len, const uint8_t *proof, size_t proof_len,
                     const char *from) {
  (void)user;
  (void)from;
  uint64_t mac = fake_mac(owner, data, len);
  return proof_len == 8 && memcmp(proof, &mac, 8) == 0 ? REG_PROOF_OK
                                                       : REG_PROOF_BAD;
}

static const reg_ops ops_trusting = {.send = on_send,
                                     .changed = on_changed,
                                     .conflict_lost = on_conflict_lost,
                                     .sign = on_sign,
                                     .verify = on_verify};

/* The releases node t owes for its lost conflicts, made once the registry
 * call that reported them has returned. */
static void host_work(tnode *t, uint64_t now) {
  for (int k = 0; k < t->npending; k++)
    assert_tr(0, reg_release(t->reg, t->pending[k], now));
  t->npending = 0;
}

/* ---- what the network asks of the nodes --------------------------------- */

static uint64_t node_deadline(void *user, uint32_t i) {
  return reg_next_deadline(((net *)user)->nodes[i].reg);
}

static void node_tick(void *user, uint32_t i, uint64_t now) {
  tnode *t = &((net *)user)->nodes[i];
  reg_tick(t->reg, now);
  /* Exact deadlines: everything due was done. */
  assert_true(reg_next_deadline(t->reg) > now);
  host_work(t, now);
}

static bool node_deliver(void *user, vnet_msg *h, uint64_t now) {
  net *n = user;
  tnode *to = &n->nodes[h->to];
  reg_receive(to->reg, n->nodes[h->from].name, &((vnet_cluster_msg *)h)->reg,
              now);
  host_work(to, now);
  return true;
}

static const vnet_ops net_ops = {.deadline = node_deadline,
                                 .tick = node_tick,
                                 .deliver = node_deliver,
                                 .free_msg = vnet_cluster_msg_free};

static void node_start(net *n, int i, uint64_t epoch) {
  tnode *t = &n->nodes[i];
  reg_config c = n->cfg;
  t->epoch = epoch;
  c.name = t->name;
  c.epoch = epoch;
  c.seed = vnet_node_seed(n->v, (uint32_t)i, epoch);
  assert_tr(0, reg_new(&t->reg, &c, n->trust ? &ops_trusting : &ops, t));
  vnet_set_up(n->v, (uint32_t)i, true);
}

/* Messages take 1 ms (loss and jitter are set by the tests that want
 * them); the clock starts at 1000. */
static net *net_new_as(int count, uint64_t seed, bool trust) {
  net *n = calloc(1, sizeof(*n));
  assert_non_null(n);
  n->trust = trust;
  vnet_config vc = {.nodes = (uint32_t)count, .seed = seed, .start_ms = 1000};
  assert_tr(0, vnet_new(&n->v, &vc, &net_ops, n));
  n->count = count;
  for (int i = 0; i < count; i++) {
    tnode *t = &n->nodes[i];
    t->n = n;
    t->index = i;
    snprintf(t->name, sizeof(t->name), "n%d", i);
    node_start(n, i, 100 + (uint64_t)i);
  }
  return n;
}

static net *net_new(int count, uint64_t seed) {
  return net_new_as(count, seed, false);
}

static void net_free(net *n) {
  vnet_free(n->v);
  for (int i = 0; i < n->count; i++) reg_free(n->nodes[i].reg);
  free(n);
}

/* What swim would report: node i learns that node j is up. */
static void tell_up(net *n, int i, int j) {
  reg_member_up(n->nodes[i].reg, n->nodes[j].name, n->nodes[j].epoch,
                now_of(n));
}

static void tell_gone(net *n, int i, int j) {
  reg_member_gone(n->nodes[i].reg, n->nodes[j].name, now_of(n));
}

/* Every up node learns every other up node. */
static void full_membership(net *n) {
  for (int i = 0; i < n->count; i++)
    for (int j = 0; j < n->count; j++)
      if (i != j && up(n, i) && up(n, j)) tell_up(n, i, j);
}

/* `count` nodes that all know each other, 200 ms on: what they asked each
 * other on meeting is answered. */
static net *joined(int count, uint64_t seed) {
  net *n = net_new(count, seed);
  full_membership(n);
  vnet_run(n->v, 200);
  return n;
}

/* ---- views -------------------------------------------------------------- */

typedef struct resolves {
  const char *id;
  const char *owner; /* NULL: resolves nowhere */
} resolves;

/* The first up node where id does not resolve to owner, or -1. */
static int misresolving(net *n, const char *id, const char *owner) {
  for (int i = 0; i < n->count; i++) {
    if (!up(n, i)) continue;
    const char *o = reg_lookup(n->nodes[i].reg, id);
    if (owner ? !o || strcmp(o, owner) != 0 : o != NULL) return i;
  }
  return -1;
}

/* The predicates take the net as a void *, as vnet_run_until calls them. */
static bool all_resolve(void *net_, const void *arg) {
  const resolves *w = arg;
  return misresolving(net_, w->id, w->owner) < 0;
}

static void assert_all_resolve(net *n, const char *id, const char *owner) {
  int i = misresolving(n, id, owner);
  if (i >= 0) {
    const char *o = reg_lookup(n->nodes[i].reg, id);
    fail_msg("%s: '%s' resolves to %s, expected %s", n->nodes[i].name, id,
             o ? o : "nobody", owner ? owner : "nobody");
  }
}

static reg_stats stats(net *n, int i) {
  reg_stats st;
  reg_get_stats(n->nodes[i].reg, &st);
  return st;
}

/* ---- crafted messages --------------------------------------------------- */

static int delta_order(const void *a, const void *b) {
  const reg_delta *x = a, *y = b;
  int c = strcmp(x->owner, y->owner);
  if (c) return c;
  if (x->epoch != y->epoch) return x->epoch < y->epoch ? -1 : 1;
  return x->version < y->version ? -1 : x->version > y->version;
}

typedef struct crafted {
  reg_seal seals[16];
  uint8_t proofs[16][8];
  uint32_t nseals;
} crafted;

/* Seals for ds[0..nd): one per run of consecutive versions of one owner
 * and epoch, signed as the owner would (fake_mac) when `sign`. */
static void seal_all(crafted *c, const reg_delta *ds, uint32_t nd,
                     bool sign) {
  reg_delta sorted[16];
  assert_true(nd <= 16);
  memcpy(sorted, ds, nd * sizeof(*ds));
  qsort(sorted, nd, sizeof(*sorted), delta_order);
  c->nseals = 0;
  for (uint32_t i = 0; i < nd;) {
    uint32_t j = i + 1;
    while (j < nd && strcmp(sorted[j].owner, sorted[i].owner) == 0 &&
           sorted[j].epoch == sorted[i].epoch &&
           sorted[j].version == sorted[j - 1].version + 1)
      j++;
    reg_seal *s = &c->seals[c->nseals];
    memset(s, 0, sizeof(*s));
    strcpy(s->owner, sorted[i].owner);
    s->epoch = sorted[i].epoch;
    s->first = sorted[i].version;
    s->last = sorted[j - 1].version;
    if (sign) {
      const reg_delta *run[16];
      for (uint32_t k = i; k < j; k++) run[k - i] = &sorted[k];
      uint8_t buf[8192];
      assert_true(reg_seal_bytes_max(j - i) <= sizeof(buf));
      size_t len = reg_seal_bytes(s, run, buf);
      uint64_t mac = fake_mac(s->owner, buf, len);
      memcpy(c->proofs[c->nseals], &mac, 8);
      s->proof = c->proofs[c->nseals];
      s->proof_len = 8;
    }
    c->nseals++;
    i = j;
  }
}

/* Hands node `to` the deltas ds[0..nd) in one DELTAS message from peer
 * `from`, sealed (and signed by their owners when `sign`). */
static void deliver(net *n, int to, const char *from, const reg_delta *ds,
                    uint32_t nd, bool sign) {
  crafted c;
  seal_all(&c, ds, nd, sign);
  reg_msg m = {.type = REG_MSG_DELTAS,
               .deltas = ds,
               .ndeltas = nd,
               .seals = c.seals,
               .nseals = c.nseals};
  strcpy(m.sender, from);
  reg_receive(n->nodes[to].reg, from, &m, now_of(n));
}

/* A delta of owner node i (its epoch) at version v. */
static reg_delta delta_of(net *n, int i, uint64_t v, const char *id,
                          bool removed) {
  reg_delta d;
  memset(&d, 0, sizeof(d));
  strcpy(d.owner, n->nodes[i].name);
  d.epoch = n->nodes[i].epoch;
  d.version = v;
  strcpy(d.id, id);
  d.removed = removed;
  return d;
}

/* Hands node `to` a SET of `owner` (epoch, version) from peer `from`. */
static void deliver_set(net *n, int to, const char *from, const char *owner,
                        uint64_t epoch, uint64_t version,
                        const char *const *ids, uint32_t nids) {
  reg_digest dg = {.epoch = epoch, .version = version};
  strcpy(dg.owner, owner);
  reg_msg set = {.type = REG_MSG_SET, .digests = &dg, .ndigests = 1,
                 .ids = ids, .nids = nids};
  strcpy(set.sender, from);
  reg_receive(n->nodes[to].reg, from, &set, now_of(n));
}

/* The messages from node `from` to node `to` of one type still queued on
 * the network, oldest first; returns how many (up to max). */
static int queued(net *n, uint32_t from, uint32_t to, reg_msg_type type,
                  const vnet_cluster_msg **out, int max) {
  const vnet_msg *all[64];
  size_t total = vnet_queued(n->v, all, 64);
  assert_true(total <= 64);
  int k = 0;
  for (size_t i = 0; i < total && k < max; i++) {
    const vnet_cluster_msg *m = (const vnet_cluster_msg *)all[i];
    if (m->hdr.from == from && m->hdr.to == to && m->reg.type == type)
      out[k++] = m;
  }
  return k;
}

/* Expected state of the 100-node test: id -> owner, with counts. */
typedef struct expect {
  int nids;
  char id[512][32];
  char owner[512][16];
  bool live[512];
} expect;

static bool all_agree(void *net_, const void *arg) {
  net *n = net_;
  const expect *e = arg;
  size_t live = 0;
  for (int k = 0; k < e->nids; k++) live += e->live[k];
  for (int i = 0; i < n->count; i++) {
    if (!up(n, i)) continue;
    registry *r = n->nodes[i].reg;
    if (reg_count(r) != live) return false;
    for (int k = 0; k < e->nids; k++) {
      const char *o = reg_lookup(r, e->id[k]);
      if (e->live[k] ? !o || strcmp(o, e->owner[k]) != 0 : o != NULL)
        return false;
    }
  }
  return true;
}

/* ---- tests -------------------------------------------------------------- */

static void claim_on_one_node_resolves_on_all_five_within_three_rounds(
    void **state) {
  (void)state;
  net *n = net_new(5, 1);
  full_membership(n);
  vnet_run(n->v, 1000);
  for (int i = 0; i < 5; i++) assert_null(reg_lookup(n->nodes[i].reg, "billing"));

  assert_tr(0, reg_claim(n->nodes[2].reg, "billing", now_of(n)));
  /* Local effects are immediate. */
  assert_string_equal("n2", reg_lookup(n->nodes[2].reg, "billing"));
  resolves w = {"billing", "n2"};
  uint64_t t = vnet_run_until(n->v, all_resolve, &w, 10 * GOSSIP);
  print_message("claim resolved on all 5 in %llu ms\n", (unsigned long long)t);
  assert_true(t <= 3 * GOSSIP);
  for (int i = 0; i < 5; i++) {
    assert_int_equal(1, reg_count(n->nodes[i].reg));
    reg_stats st = stats(n, i);
    assert_int_equal(0, st.rejected_owner + st.rejected_self +
                            st.rejected_sender + st.rejected_malformed);
    if (i != 2) assert_int_equal(1, st.deltas_applied);
  }
  assert_int_equal(1, stats(n, 2).claims);
  /* The gossip ends: with nothing queued only the sync timer is left. */
  vnet_run(n->v, 20 * GOSSIP);
  for (int i = 0; i < 5; i++) {
    uint64_t d = reg_next_deadline(n->nodes[i].reg);
    assert_true(d > now_of(n) + 20 * GOSSIP); /* a sync, not a gossip round */
  }
  net_free(n);
}

static void release_removes_it_everywhere_and_frees_the_id(void **state) {
  (void)state;
  net *n = joined(5, 2);
  assert_tr(0, reg_claim(n->nodes[1].reg, "cart", now_of(n)));
  resolves held = {"cart", "n1"};
  assert_true(vnet_run_until(n->v, all_resolve, &held, 10 * GOSSIP) !=
              UINT64_MAX);

  assert_tr(0, reg_release(n->nodes[1].reg, "cart", now_of(n)));
  assert_null(reg_lookup(n->nodes[1].reg, "cart"));
  resolves gone = {"cart", NULL};
  uint64_t t = vnet_run_until(n->v, all_resolve, &gone, 10 * GOSSIP);
  assert_true(t <= 3 * GOSSIP);
  for (int i = 0; i < 5; i++) assert_int_equal(0, reg_count(n->nodes[i].reg));
  assert_int_equal(1, stats(n, 1).releases);

  /* The id is free again, for any node. */
  assert_tr(0, reg_claim(n->nodes[4].reg, "cart", now_of(n)));
  resolves again = {"cart", "n4"};
  assert_true(vnet_run_until(n->v, all_resolve, &again, 10 * GOSSIP) <=
              3 * GOSSIP);
  net_free(n);
}

static void claim_of_an_id_held_anywhere_returns_eexist(void **state) {
  (void)state;
  net *n = joined(5, 3);
  registry *r0 = n->nodes[0].reg, *r3 = n->nodes[3].reg;
  assert_tr(0, reg_claim(r3, "billing", now_of(n)));
  assert_tr(TR_EEXIST, reg_claim(r3, "billing", now_of(n)));
  resolves w = {"billing", "n3"};
  assert_true(vnet_run_until(n->v, all_resolve, &w, 10 * GOSSIP) != UINT64_MAX);
  for (int i = 0; i < 5; i++)
    assert_tr(TR_EEXIST, reg_claim(n->nodes[i].reg, "billing", now_of(n)));
  assert_tr(TR_ENOTFOUND, reg_release(r0, "billing", now_of(n)));
  assert_tr(TR_ENOTFOUND, reg_release(r0, "nothing", now_of(n)));

  char longid[TR_ID_MAX + 2];
  memset(longid, 'a', sizeof(longid) - 1);
  longid[TR_ID_MAX + 1] = '\0';
  assert_tr(TR_EINVAL, reg_claim(r0, longid, now_of(n)));
  assert_tr(TR_EINVAL, reg_claim(r0, "", now_of(n)));
  assert_tr(TR_EINVAL, reg_claim(r0, NULL, now_of(n)));
  longid[TR_ID_MAX] = '\0'; /* exactly TR_ID_MAX bytes is fine */
  assert_tr(0, reg_claim(r0, longid, now_of(n)));
  assert_string_equal("n0", reg_lookup(r0, longid));
  assert_int_equal(1, stats(n, 0).claims);
  assert_int_equal(1, stats(n, 3).claims);
  net_free(n);
}

static void owner_gone_makes_its_ids_vanish_everywhere(void **state) {
  (void)state;
  net *n = joined(5, 4);
  const char *ids[3] = {"a", "b", "c"};
  for (int k = 0; k < 3; k++)
    assert_tr(0, reg_claim(n->nodes[3].reg, ids[k], now_of(n)));
  assert_tr(0, reg_claim(n->nodes[1].reg, "d", now_of(n)));
  resolves w = {"c", "n3"};
  assert_true(vnet_run_until(n->v, all_resolve, &w, 10 * GOSSIP) != UINT64_MAX);
  vnet_run(n->v, 2 * GOSSIP);
  for (int i = 0; i < 5; i++) assert_int_equal(4, reg_count(n->nodes[i].reg));

  /* n3 is killed; swim declares it dead everywhere. */
  vnet_set_up(n->v, 3, false);
  uint64_t changed_before = n->nodes[0].nchanged;
  for (int i = 0; i < 5; i++)
    if (i != 3) tell_gone(n, i, 3);
  for (int k = 0; k < 3; k++) assert_all_resolve(n, ids[k], NULL);
  assert_all_resolve(n, "d", "n1");
  assert_int_equal(changed_before + 3, n->nodes[0].nchanged);
  /* And it stays so: nothing in flight brings them back. */
  vnet_run(n->v, 3 * SYNC);
  for (int k = 0; k < 3; k++) assert_all_resolve(n, ids[k], NULL);
  for (int i = 0; i < 5; i++)
    if (i != 3) assert_int_equal(1, reg_count(n->nodes[i].reg));
  net_free(n);
}

static void owner_restart_drops_old_entries_and_accepts_new_ones(
    void **state) {
  (void)state;
  net *n = joined(5, 5);
  assert_tr(0, reg_claim(n->nodes[3].reg, "a", now_of(n)));
  assert_tr(0, reg_claim(n->nodes[3].reg, "b", now_of(n)));
  resolves wb = {"b", "n3"};
  assert_true(vnet_run_until(n->v, all_resolve, &wb, 10 * GOSSIP) !=
              UINT64_MAX);
  uint64_t old_epoch = n->nodes[3].epoch;

  /* kill -9 and restart with the same name before anyone saw it dead:
   * swim reports the newer epoch. */
  reg_free(n->nodes[3].reg);
  node_start(n, 3, old_epoch + 5000);
  for (int i = 0; i < 5; i++) {
    if (i == 3) continue;
    tell_up(n, i, 3);
    tell_up(n, 3, i);
  }
  assert_all_resolve(n, "a", NULL);
  assert_all_resolve(n, "b", NULL);

  /* Something still relaying the old epoch's delta is rejected. */
  reg_delta old = {.epoch = old_epoch, .version = 3};
  strcpy(old.owner, "n3");
  strcpy(old.id, "zombie");
  reg_stats before = stats(n, 0);
  deliver(n, 0, "n1", &old, 1, false);
  assert_int_equal(before.rejected_owner + 1, stats(n, 0).rejected_owner);
  assert_null(reg_lookup(n->nodes[0].reg, "zombie"));

  /* The new epoch's claims are accepted, "a" included. */
  assert_tr(0, reg_claim(n->nodes[3].reg, "c", now_of(n)));
  assert_tr(0, reg_claim(n->nodes[3].reg, "a", now_of(n)));
  resolves wc = {"c", "n3"}, wa = {"a", "n3"};
  assert_true(vnet_run_until(n->v, all_resolve, &wc, 10 * GOSSIP) <=
              3 * GOSSIP);
  assert_true(vnet_run_until(n->v, all_resolve, &wa, 10 * GOSSIP) !=
              UINT64_MAX);
  assert_all_resolve(n, "b", NULL);
  for (int i = 0; i < 5; i++) assert_int_equal(2, reg_count(n->nodes[i].reg));
  net_free(n);
}

static void node_that_missed_deltas_catches_up_through_pulls_and_digests(
    void **state) {
  (void)state;
  net *n = joined(5, 6);
  vnet_set_deaf(n->v, 4, true); /* everything to n4 is lost for a while */
  char id[32];
  for (int i = 0; i < 4; i++)
    for (int k = 0; k < 3; k++) {
      snprintf(id, sizeof(id), "m%d.%d", i, k);
      assert_tr(0, reg_claim(n->nodes[i].reg, id, now_of(n)));
      vnet_run(n->v, 7);
    }
  assert_tr(0, reg_release(n->nodes[1].reg, "m1.0", now_of(n)));
  vnet_run(n->v, 20 * GOSSIP);
  assert_int_equal(0, reg_count(n->nodes[4].reg));
  assert_int_equal(11, reg_count(n->nodes[0].reg));
  vnet_set_deaf(n->v, 4, false);

  /* The next delta of n0 shows n4 a gap: it pulls n0's set from the
   * sender, long before any sync. */
  assert_tr(0, reg_claim(n->nodes[0].reg, "m0.3", now_of(n)));
  resolves w = {"m0.0", "n0"};
  uint64_t t = vnet_run_until(n->v, all_resolve, &w, 10 * GOSSIP);
  assert_true(t <= 5 * GOSSIP);
  assert_true(stats(n, 4).pulls >= 1);
  assert_true(stats(n, 4).sets_applied >= 1);
  assert_string_equal("n0", reg_lookup(n->nodes[4].reg, "m0.3"));
  assert_null(reg_lookup(n->nodes[4].reg, "m2.0")); /* no sync yet */

  /* Owners that did not change since are repaired by anti-entropy. */
  expect *e = calloc(1, sizeof(*e));
  assert_non_null(e);
  for (int i = 0; i < 4; i++)
    for (int k = 0; k < (i == 0 ? 4 : 3); k++) {
      snprintf(e->id[e->nids], sizeof(e->id[0]), "m%d.%d", i, k);
      snprintf(e->owner[e->nids], sizeof(e->owner[0]), "n%d", i);
      e->live[e->nids++] = !(i == 1 && k == 0);
    }
  t = vnet_run_until(n->v, all_agree, e, 3 * SYNC);
  print_message("deaf node caught up %llu ms after the gap pull\n",
                (unsigned long long)t);
  assert_true(t != UINT64_MAX);
  assert_int_equal(12, reg_count(n->nodes[4].reg));
  free(e);
  net_free(n);
}

/* Groups {n1, n3} | {n0, n2, n4}: both sides claim "x" (n3, then n2 a
 * little later) and "y" (n4, then n1). After the heal the earlier claims
 * keep them everywhere, n3 "x" and n4 "y", whatever the names; n2 and n1
 * are told once each. */
static void partition_then_same_id_on_both_sides_resolves_to_the_earlier(
    void **state) {
  (void)state;
  net *n = joined(5, 7);
  assert_tr(0, reg_claim(n->nodes[0].reg, "before", now_of(n)));
  vnet_run(n->v, 10 * GOSSIP);

  int g1[2] = {1, 3}, g2[3] = {0, 2, 4};
  uint8_t group[5] = {0};
  for (int a = 0; a < 2; a++) group[g1[a]] = 1;
  assert_tr(0, vnet_partition(n->v, group));
  for (int a = 0; a < 2; a++)
    for (int b = 0; b < 3; b++) {
      tell_gone(n, g1[a], g2[b]);
      tell_gone(n, g2[b], g1[a]);
    }
  assert_null(reg_lookup(n->nodes[1].reg, "before"));
  assert_tr(0, reg_claim(n->nodes[3].reg, "x", now_of(n)));
  assert_tr(0, reg_claim(n->nodes[4].reg, "y", now_of(n)));
  vnet_run(n->v, 100);
  assert_tr(0, reg_claim(n->nodes[2].reg, "x", now_of(n)));
  assert_tr(0, reg_claim(n->nodes[1].reg, "y", now_of(n)));
  vnet_run(n->v, 2 * SYNC);
  assert_string_equal("n3", reg_lookup(n->nodes[1].reg, "x"));
  assert_string_equal("n2", reg_lookup(n->nodes[0].reg, "x"));
  assert_string_equal("n1", reg_lookup(n->nodes[3].reg, "y"));
  assert_string_equal("n4", reg_lookup(n->nodes[2].reg, "y"));
  for (int i = 0; i < 5; i++) assert_int_equal(0, n->nodes[i].nlost);

  /* Heal: swim sees everyone alive again, same epochs. */
  vnet_partition(n->v, NULL);
  for (int a = 0; a < 2; a++)
    for (int b = 0; b < 3; b++) {
      tell_up(n, g1[a], g2[b]);
      tell_up(n, g2[b], g1[a]);
    }
  expect *e = calloc(1, sizeof(*e));
  assert_non_null(e);
  const char *exp[3][2] = {{"x", "n3"}, {"y", "n4"}, {"before", "n0"}};
  for (int k = 0; k < 3; k++) {
    strcpy(e->id[k], exp[k][0]);
    strcpy(e->owner[k], exp[k][1]);
    e->live[k] = true;
  }
  e->nids = 3;
  uint64_t t = vnet_run_until(n->v, all_agree, e, 10 * SYNC);
  print_message("partition healed, registry agreed in %llu ms\n",
                (unsigned long long)t);
  assert_true(t != UINT64_MAX);
  /* Let the losers' releases spread, then look again. */
  vnet_run(n->v, 3 * SYNC);
  assert_true(all_agree(n, e));
  assert_int_equal(1, n->nodes[2].nlost);
  assert_string_equal("x", n->nodes[2].lost_id[0]);
  assert_string_equal("n3", n->nodes[2].lost_winner[0]);
  assert_int_equal(1, n->nodes[1].nlost);
  assert_string_equal("y", n->nodes[1].lost_id[0]);
  assert_string_equal("n4", n->nodes[1].lost_winner[0]);
  assert_int_equal(0, n->nodes[0].nlost);
  assert_int_equal(0, n->nodes[3].nlost);
  assert_int_equal(0, n->nodes[4].nlost);
  assert_int_equal(1, stats(n, 2).conflicts_lost);
  assert_int_equal(1, stats(n, 2).releases);
  /* The losers released: nobody holds a second claimant any more, and
   * they may not claim the ids again. */
  assert_tr(TR_ENOTFOUND, reg_release(n->nodes[2].reg, "x", now_of(n)));
  assert_tr(TR_EEXIST, reg_claim(n->nodes[2].reg, "x", now_of(n)));
  free(e);
  net_free(n);
}

static void forged_messages_are_rejected_and_counted(void **state) {
  (void)state;
  net *n = net_new(3, 8);
  full_membership(n);
  registry *r0 = n->nodes[0].reg;
  assert_tr(0, reg_claim(r0, "mine", now_of(n)));
  uint64_t e2 = n->nodes[2].epoch;
  reg_delta d = delta_of(n, 2, 1, "forged", false);

  /* Sender field is not the authenticated peer. */
  reg_msg m = {.type = REG_MSG_DELTAS, .deltas = &d, .ndeltas = 1};
  strcpy(m.sender, "n2");
  reg_receive(r0, "n1", &m, now_of(n));
  assert_int_equal(1, stats(n, 0).rejected_sender);
  assert_null(reg_lookup(r0, "forged"));

  /* A delta under no seal; a seal missing one of its deltas. */
  strcpy(m.sender, "n1");
  reg_receive(r0, "n1", &m, now_of(n));
  assert_int_equal(1, stats(n, 0).rejected_malformed);
  crafted c;
  seal_all(&c, &d, 1, false);
  c.seals[0].last = 2;
  m.seals = c.seals;
  m.nseals = 1;
  reg_receive(r0, "n1", &m, now_of(n));
  assert_int_equal(3, stats(n, 0).rejected_malformed); /* seal and delta */
  assert_null(reg_lookup(r0, "forged"));

  /* A relay for n2 in an epoch n2 is not up in. */
  d.epoch = e2 + 1;
  deliver(n, 0, "n1", &d, 1, false);
  d.epoch = e2 - 1;
  deliver(n, 0, "n1", &d, 1, false);
  assert_int_equal(2, stats(n, 0).rejected_owner);
  assert_null(reg_lookup(r0, "forged"));

  /* For a node that is not a member at all. */
  strcpy(d.owner, "n9");
  d.epoch = 1;
  deliver(n, 0, "n1", &d, 1, false);
  assert_int_equal(3, stats(n, 0).rejected_owner);

  /* Claims about the receiver's own set, by delta and by SET. */
  d = delta_of(n, 0, 2, "mine", true);
  deliver(n, 0, "n1", &d, 1, false);
  assert_int_equal(1, stats(n, 0).rejected_self);
  assert_string_equal("n0", reg_lookup(r0, "mine"));
  const char *other[1] = {"other"};
  deliver_set(n, 0, "n1", "n0", n->nodes[0].epoch, 9, other, 1);
  assert_int_equal(2, stats(n, 0).rejected_self);
  assert_string_equal("n0", reg_lookup(r0, "mine"));
  assert_null(reg_lookup(r0, "other"));

  /* A digest saying n0's own set is newer than n0's: no pull. */
  reg_stats before = stats(n, 0);
  reg_digest dg = {.epoch = n->nodes[0].epoch, .version = 9};
  strcpy(dg.owner, "n0");
  reg_msg dig = {.type = REG_MSG_DIGEST, .digests = &dg, .ndigests = 1};
  strcpy(dig.sender, "n1");
  reg_receive(r0, "n1", &dig, now_of(n));
  assert_int_equal(3, stats(n, 0).rejected_self);
  assert_int_equal(before.pulls, stats(n, 0).pulls);

  /* A SET for n2 from anyone but n2; from n2 in a wrong epoch. */
  deliver_set(n, 0, "n1", "n2", e2, 5, other, 1);
  assert_int_equal(1, stats(n, 0).rejected_proof);
  deliver_set(n, 0, "n2", "n2", e2 + 7, 5, other, 1);
  assert_int_equal(4, stats(n, 0).rejected_owner);
  assert_null(reg_lookup(r0, "other"));

  /* Malformed: an unterminated owner, an empty id, an unknown type. */
  d = delta_of(n, 2, 1, "x", false);
  memset(d.owner, 'z', sizeof(d.owner));
  m.seals = NULL;
  m.nseals = 0;
  reg_receive(r0, "n1", &m, now_of(n));
  d = delta_of(n, 2, 1, "", false);
  deliver(n, 0, "n1", &d, 1, false); /* its seal then misses it too */
  reg_msg bad = {.type = (reg_msg_type)42};
  strcpy(bad.sender, "n1");
  reg_receive(r0, "n1", &bad, now_of(n));
  assert_int_equal(3 + 1 + 2 + 1, stats(n, 0).rejected_malformed);

  /* The control: the same delta, correct, relayed by n1, is applied (no
   * seal is checked here: this registry was given no verify). */
  d = delta_of(n, 2, 1, "genuine", false);
  deliver(n, 0, "n1", &d, 1, false);
  assert_string_equal("n2", reg_lookup(r0, "genuine"));
  /* And a SET from n2 that is not newer changes nothing. */
  deliver_set(n, 0, "n2", "n2", e2, 1, other, 1);
  assert_null(reg_lookup(r0, "other"));
  assert_string_equal("n2", reg_lookup(r0, "genuine"));
  /* A newer one replaces the whole set. */
  deliver_set(n, 0, "n2", "n2", e2, 2, other, 1);
  assert_string_equal("n2", reg_lookup(r0, "other"));
  assert_null(reg_lookup(r0, "genuine"));
  reg_stats st = stats(n, 0);
  assert_int_equal(1, st.deltas_applied);
  assert_int_equal(1, st.sets_applied);
  assert_int_equal(1, st.rejected_sender);
  assert_int_equal(4, st.rejected_owner);
  assert_int_equal(3, st.rejected_self);
  assert_int_equal(1, st.rejected_proof);
  net_free(n);
}

/* An owner speaks only for its set: relayed batches need its seal, SETs
 * come only from it, and others' digests move nothing it is believed to
 * be at. n1 lies about n2 to n0. */
static void only_the_owner_speaks_for_its_set(void **state) {
  (void)state;
  net *n = net_new_as(3, 21, true);
  full_membership(n);
  vnet_run(n->v, 200);
  registry *r0 = n->nodes[0].reg;
  assert_tr(0, reg_claim(n->nodes[2].reg, "real", now_of(n)));
  resolves w = {"real", "n2"};
  assert_true(vnet_run_until(n->v, all_resolve, &w, 10 * GOSSIP) !=
              UINT64_MAX);
  uint64_t e2 = 0, v2 = 0;
  assert_true(reg_owner_state(r0, "n2", &e2, &v2));
  assert_int_equal(1, v2);
  /* Only n2 signed (its own batch); n0 got it first-hand: no check. */
  assert_int_equal(1, stats(n, 2).signs);
  assert_int_equal(0, stats(n, 0).verifies);
  vnet_clear(n->v);

  /* n1 relays batches for n2 it made up: unsealed, then "sealed" with a
   * proof that is not n2's. Refused, counted; after the failed check n1's
   * seals go unchecked for a while. */
  reg_delta d[2] = {delta_of(n, 2, 2, "real", true),
                    delta_of(n, 2, 3, "stolen", false)};
  deliver(n, 0, "n1", d, 2, false);
  assert_int_equal(2, stats(n, 0).rejected_proof);
  assert_int_equal(0, stats(n, 0).verifies);
  crafted c;
  seal_all(&c, d, 2, true);
  c.proofs[0][3] ^= 1;
  reg_msg m = {.type = REG_MSG_DELTAS, .deltas = d, .ndeltas = 2,
               .seals = c.seals, .nseals = 1};
  strcpy(m.sender, "n1");
  reg_receive(r0, "n1", &m, now_of(n));
  assert_int_equal(4, stats(n, 0).rejected_proof);
  assert_int_equal(1, stats(n, 0).verifies);
  assert_int_equal(1, stats(n, 0).proof_failures);
  /* Even n2's real seal, relayed by n1 now, is not checked. */
  deliver(n, 0, "n1", d, 2, true);
  assert_int_equal(6, stats(n, 0).rejected_proof);
  assert_int_equal(1, stats(n, 0).proofs_ignored);
  assert_int_equal(1, stats(n, 0).verifies);
  assert_string_equal("n2", reg_lookup(r0, "real"));
  assert_null(reg_lookup(r0, "stolen"));

  /* A SET for n2, empty at 2^62, from n1: refused. A digest from n1
   * saying it holds n2 at 2^62: n0 asks n2 (not n1), and what n0 believes
   * of n2 does not move. */
  deliver_set(n, 0, "n1", "n2", e2, 1ull << 62, NULL, 0);
  assert_int_equal(7, stats(n, 0).rejected_proof);
  assert_string_equal("n2", reg_lookup(r0, "real"));
  reg_digest dg = {.epoch = e2, .version = 1ull << 62};
  strcpy(dg.owner, "n2");
  reg_msg dig = {.type = REG_MSG_DIGEST, .digests = &dg, .ndigests = 1};
  strcpy(dig.sender, "n1");
  reg_receive(r0, "n1", &dig, now_of(n));
  const vnet_cluster_msg *out[4];
  assert_int_equal(1, queued(n, 0, 2, REG_MSG_PULL, out, 4));
  assert_int_equal(0, queued(n, 0, 1, REG_MSG_PULL, out, 4));
  assert_true(reg_owner_state(r0, "n2", NULL, &v2));
  assert_int_equal(1, v2);

  /* n2 goes on: its next changes apply everywhere as usual (its versions
   * were not inflated), and after the penalty n2's real seal relayed by
   * n1 is checked and believed. */
  vnet_run(n->v, REG_PROOF_PENALTY_MS);
  assert_tr(0, reg_claim(n->nodes[2].reg, "next", now_of(n)));
  resolves wn = {"next", "n2"};
  assert_true(vnet_run_until(n->v, all_resolve, &wn, 10 * GOSSIP) !=
              UINT64_MAX);
  assert_true(reg_owner_state(r0, "n2", NULL, &v2));
  assert_int_equal(2, v2);
  reg_delta more = delta_of(n, 2, 3, "relayed", false);
  deliver(n, 0, "n1", &more, 1, true);
  assert_string_equal("n2", reg_lookup(r0, "relayed"));
  assert_int_equal(2, stats(n, 0).verifies);
  assert_int_equal(1, stats(n, 0).proof_failures);
  net_free(n);
}

/* n2 has held "held" for a minute; n1, in touch all along, claims it
 * dated before n2's claim: it is believed no older than its arrival less
 * the skew, so n2 keeps it, and n1 (were it honest) is the one told. After
 * n1 was lost and came back, its claims may be dated back to when it was
 * lost, no further. */
static void a_later_claim_cannot_take_a_held_id(void **state) {
  (void)state;
  net *n = net_new(3, 14);
  full_membership(n);
  registry *r0 = n->nodes[0].reg;
  assert_tr(0, reg_claim(n->nodes[2].reg, "held", now_of(n)));
  uint64_t t_claim = now_of(n);
  vnet_run(n->v, 60000);
  assert_string_equal("n2", reg_lookup(r0, "held"));
  reg_delta d = delta_of(n, 1, 1, "held", false);
  d.since = 1; /* "long before n2" */
  deliver(n, 0, "n1", &d, 1, false);
  assert_string_equal("n2", reg_lookup(r0, "held"));
  assert_int_equal(1, stats(n, 0).conflicts);
  /* A partition of n1: lost now, back 5 minutes later with a claim
   * dated to its absence. Dated after n2's claim: it loses. */
  tell_gone(n, 0, 1);
  uint64_t lost = now_of(n);
  vnet_run(n->v, 300000);
  tell_up(n, 0, 1);
  d = delta_of(n, 1, 1, "other", false);
  d.since = lost + 1000;
  deliver(n, 0, "n1", &d, 1, false);
  assert_string_equal("n1", reg_lookup(r0, "other"));
  d = delta_of(n, 1, 2, "held", false);
  d.since = t_claim - 5000; /* before n2's claim: before it was lost too */
  deliver(n, 0, "n1", &d, 1, false);
  assert_string_equal("n2", reg_lookup(r0, "held"));
  net_free(n);
}

/* n0 and n1 are cut apart; each claims "dup", n1 first. After the heal n0
 * hears nothing from n1 for 10 s (its pulls are lost, and n1 is briefly
 * suspect again), far past the skew: n1's claim, when its set finally
 * arrives, is still dated from when n1 was first lost, so n1 wins on both
 * nodes and n0 is told. Catching up is judged by the owner's word, not by
 * how soon its set arrives. */
static void a_slow_catch_up_after_a_heal_keeps_the_claims_times(
    void **state) {
  (void)state;
  net *n = joined(2, 21);
  uint8_t group[2] = {0, 1};
  assert_tr(0, vnet_partition(n->v, group));
  tell_gone(n, 0, 1);
  tell_gone(n, 1, 0);
  vnet_run(n->v, 1000);
  assert_tr(0, reg_claim(n->nodes[1].reg, "dup", now_of(n)));
  vnet_run(n->v, 50);
  assert_tr(0, reg_claim(n->nodes[0].reg, "dup", now_of(n)));
  vnet_run(n->v, 1000);

  vnet_partition(n->v, NULL);
  vnet_set_deaf(n->v, 0, true); /* n1's answers to n0 are lost */
  tell_up(n, 0, 1);
  tell_up(n, 1, 0);
  vnet_run(n->v, 3000);
  reg_member_contact(n->nodes[0].reg, "n1", false, now_of(n));
  vnet_run(n->v, 1000);
  reg_member_contact(n->nodes[0].reg, "n1", true, now_of(n));
  vnet_run(n->v, 6000);
  assert_string_equal("n0", reg_lookup(n->nodes[0].reg, "dup"));
  assert_string_equal("n1", reg_lookup(n->nodes[1].reg, "dup"));

  vnet_set_deaf(n->v, 0, false);
  vnet_run(n->v, 3 * SYNC);
  assert_string_equal("n1", reg_lookup(n->nodes[0].reg, "dup"));
  assert_string_equal("n1", reg_lookup(n->nodes[1].reg, "dup"));
  assert_int_equal(1, n->nodes[0].nlost);
  assert_string_equal("n1", n->nodes[0].lost_winner[0]);
  assert_int_equal(0, n->nodes[1].nlost);
  /* Caught up (n1's SET or digest said so): a claim n1 now dates far back
   * is judged by its arrival again, and cannot take an id n0 holds. */
  assert_tr(0, reg_claim(n->nodes[0].reg, "held", now_of(n)));
  vnet_run(n->v, 5000); /* past the skew */
  reg_delta d = delta_of(n, 1, 2, "held", false); /* n1 is at version 1 */
  d.since = 1;
  deliver(n, 0, "n1", &d, 1, false);
  assert_string_equal("n0", reg_lookup(n->nodes[0].reg, "held"));
  assert_int_equal(1, n->nodes[0].nlost);
  net_free(n);
}

/* n2 holds "z"; n1's earlier claim arrives (members just met: their
 * times are believed), then n0's, earlier still. n2 is told once (the host
 * has not released yet when n0 shows up), and every step is reported. */
static void loser_is_told_once_however_many_winners_appear(void **state) {
  (void)state;
  net *n = net_new(3, 11);
  full_membership(n);
  registry *r2 = n->nodes[2].reg;
  assert_tr(0, reg_claim(r2, "z", now_of(n)));
  uint64_t changed0 = n->nodes[2].nchanged;
  const char *claimants[2] = {"n1", "n0"};
  for (int k = 0; k < 2; k++) {
    reg_delta d = delta_of(n, 1 - k, 1, "z", false);
    d.since = now_of(n) - 10 - 10 * (uint64_t)k;
    deliver(n, 2, claimants[k], &d, 1, false);
    assert_string_equal(claimants[k], reg_lookup(r2, "z"));
    assert_int_equal(changed0 + 1 + (uint64_t)k, n->nodes[2].nchanged);
    assert_int_equal(1, n->nodes[2].nlost);
  }
  assert_string_equal("n1", n->nodes[2].lost_winner[0]);
  reg_stats st = stats(n, 2);
  assert_int_equal(2, st.conflicts);
  assert_int_equal(1, st.conflicts_lost);
  /* The host releases: the winner stays, nothing else fires. */
  assert_tr(0, reg_release(r2, "z", now_of(n)));
  assert_string_equal("n0", reg_lookup(r2, "z"));
  assert_int_equal(changed0 + 2, n->nodes[2].nchanged);
  assert_tr(TR_EEXIST, reg_claim(r2, "z", now_of(n)));
  /* n0 leaves: n1 is next in line, then nobody. */
  tell_gone(n, 2, 0);
  assert_string_equal("n1", reg_lookup(r2, "z"));
  tell_gone(n, 2, 1);
  assert_null(reg_lookup(r2, "z"));
  assert_int_equal(changed0 + 4, n->nodes[2].nchanged);
  assert_int_equal(1, n->nodes[2].nlost);
  net_free(n);
}

static void deltas_apply_in_version_order_and_a_gap_pulls_from_the_owner(
    void **state) {
  (void)state;
  net *n = net_new(3, 12);
  full_membership(n);
  registry *r0 = n->nodes[0].reg;
  /* Each member-up asked that member for its set (nothing to send yet):
   * drop those pulls, this test looks at gap pulls. */
  uint64_t pulls0 = stats(n, 0).pulls;
  vnet_clear(n->v);
  const char *ids[3] = {"c", "a", "b"};
  const uint64_t versions[3] = {3, 1, 2};
  reg_delta d[3];
  for (int k = 0; k < 3; k++) d[k] = delta_of(n, 1, versions[k], ids[k], false);
  /* Relayed by n2, out of order in one message: all three apply. */
  deliver(n, 0, "n2", d, 3, false);
  assert_int_equal(3, stats(n, 0).deltas_applied);
  assert_int_equal(pulls0, stats(n, 0).pulls);
  assert_int_equal(3, reg_count(r0));

  /* Version 5 without 4: a gap. Nothing applies; n1's set is pulled from
   * n1 itself, with the version held. */
  d[0] = delta_of(n, 1, 5, "e", false);
  deliver(n, 0, "n2", d, 1, false);
  assert_null(reg_lookup(r0, "e"));
  const vnet_cluster_msg *out[4];
  assert_int_equal(0, queued(n, 0, 2, REG_MSG_PULL, out, 4));
  assert_int_equal(1, queued(n, 0, 1, REG_MSG_PULL, out, 4));
  assert_int_equal(1, out[0]->reg.ndigests);
  assert_string_equal("n1", out[0]->reg.digests[0].owner);
  assert_int_equal(n->nodes[1].epoch, out[0]->reg.digests[0].epoch);
  assert_int_equal(3, out[0]->reg.digests[0].version);
  /* Another gap at once asks no more; a duplicate is ignored quietly. */
  vnet_set_clock(n->v, now_of(n) + 10);
  d[0] = delta_of(n, 1, 6, "f", false);
  deliver(n, 0, "n2", d, 1, false);
  d[0] = delta_of(n, 1, 2, "b", false);
  deliver(n, 0, "n2", d, 1, false);
  assert_int_equal(1, queued(n, 0, 1, REG_MSG_PULL, out, 4));
  assert_int_equal(pulls0 + 1, stats(n, 0).pulls);
  /* After the pull retry interval (4 gossip intervals) it asks again. */
  vnet_set_clock(n->v, now_of(n) + 4 * GOSSIP);
  d[0] = delta_of(n, 1, 7, "g", false);
  deliver(n, 0, "n2", d, 1, false);
  assert_int_equal(2, queued(n, 0, 1, REG_MSG_PULL, out, 4));
  reg_stats st = stats(n, 0);
  assert_int_equal(3, st.deltas_applied);
  assert_int_equal(0, st.rejected_owner + st.rejected_self +
                          st.rejected_sender + st.rejected_malformed);

  /* n1's SET answering it (version 7) replaces the set and ends the gap:
   * version 8 applies. The same SET relayed by n2 would not count. */
  const char *set_ids[2] = {"a", "g"};
  deliver_set(n, 0, "n2", "n1", n->nodes[1].epoch, 7, set_ids, 2);
  assert_int_equal(1, stats(n, 0).rejected_proof);
  deliver_set(n, 0, "n1", "n1", n->nodes[1].epoch, 7, set_ids, 2);
  d[0] = delta_of(n, 1, 8, "h", false);
  deliver(n, 0, "n2", d, 1, false);
  assert_string_equal("n1", reg_lookup(r0, "h"));
  assert_string_equal("n1", reg_lookup(r0, "g"));
  assert_null(reg_lookup(r0, "b"));
  assert_int_equal(3, reg_count(r0));
  net_free(n);
}

/* n0 holds n0 at 2, n1 at 1 and n2 at 0. A digest from n1 saying n0 0,
 * n1 1, n2 1: n0 answers with n0's set and pulls n2's from n2. */
static void digest_is_answered_with_own_set_and_pulls_from_owners(
    void **state) {
  (void)state;
  net *n = net_new(3, 13);
  full_membership(n);
  registry *r0 = n->nodes[0].reg;
  vnet_run(n->v, 10 * GOSSIP);
  assert_tr(0, reg_claim(n->nodes[1].reg, "b1", now_of(n)));
  vnet_run(n->v, 10 * GOSSIP);
  assert_string_equal("n1", reg_lookup(r0, "b1"));
  assert_tr(0, reg_claim(r0, "a1", now_of(n)));
  assert_tr(0, reg_claim(r0, "a2", now_of(n)));
  /* Drain the router without delivering, so only the answer is left. */
  vnet_clear(n->v);

  reg_digest dg[4];
  memset(dg, 0, sizeof(dg));
  for (int k = 0; k < 3; k++) {
    snprintf(dg[k].owner, sizeof(dg[k].owner), "n%d", k);
    dg[k].epoch = n->nodes[k].epoch;
  }
  dg[1].version = 1;
  dg[2].version = 1;
  strcpy(dg[3].owner, "n7"); /* not a member: ignored */
  dg[3].epoch = 1;
  dg[3].version = 9;
  reg_msg m = {.type = REG_MSG_DIGEST, .digests = dg, .ndigests = 4};
  strcpy(m.sender, "n1");
  reg_receive(r0, "n1", &m, now_of(n));

  const vnet_cluster_msg *out[4];
  assert_int_equal(1, queued(n, 0, 1, REG_MSG_SET, out, 4));
  const reg_msg *set = &out[0]->reg;
  assert_string_equal("n0", set->digests[0].owner);
  assert_int_equal(2, set->digests[0].version);
  assert_int_equal(2, set->nids);
  bool a1 = false, a2 = false;
  for (uint32_t i = 0; i < set->nids; i++) {
    a1 |= strcmp(set->ids[i], "a1") == 0;
    a2 |= strcmp(set->ids[i], "a2") == 0;
  }
  assert_true(a1 && a2);
  assert_int_equal(0, queued(n, 0, 1, REG_MSG_PULL, out, 4));
  assert_int_equal(1, queued(n, 0, 2, REG_MSG_PULL, out, 4));
  assert_int_equal(1, out[0]->reg.ndigests);
  assert_string_equal("n2", out[0]->reg.digests[0].owner);
  assert_int_equal(0, out[0]->reg.digests[0].version);
  assert_int_equal(2, (int)vnet_queued(n->v, NULL, 0));

  /* n0 now holds n2 at 1; n1 says 0: n0 cannot send n2's set, so it
   * answers with its own digest, for n1 to ask n2. A reply is not
   * answered. */
  reg_delta c1 = delta_of(n, 2, 1, "c1", false);
  deliver(n, 0, "n2", &c1, 1, false);
  vnet_clear(n->v);
  dg[0].version = 2;
  dg[2].version = 0;
  m.ndigests = 3;
  reg_receive(r0, "n1", &m, now_of(n));
  assert_int_equal(1, queued(n, 0, 1, REG_MSG_DIGEST_REPLY, out, 4));
  assert_int_equal(1, (int)vnet_queued(n->v, NULL, 0));
  vnet_clear(n->v);
  m.type = REG_MSG_DIGEST_REPLY;
  reg_receive(r0, "n1", &m, now_of(n));
  assert_int_equal(0, (int)vnet_queued(n->v, NULL, 0));

  /* A PULL is answered only for this node's own set, when held newer
   * (a pull_retry after the SET above: n1's retries are that far apart). */
  dg[0].version = 0; /* n0: held 2, newer */
  dg[1].version = 0; /* n1: the asker itself */
  dg[2].version = 0; /* n2: held 1, newer, but not n0's to send */
  m.type = REG_MSG_PULL;
  reg_receive(r0, "n1", &m, now_of(n) + 4 * GOSSIP);
  assert_int_equal(1, queued(n, 0, 1, REG_MSG_SET, out, 4));
  assert_string_equal("n0", out[0]->reg.digests[0].owner);
  assert_int_equal(1, (int)vnet_queued(n->v, NULL, 0));
  net_free(n);
}

/* Issue 16, finding 4: a DIGEST with 65,536 copies of one entry made a
 * SET per copy. Now: one SET per message, and per asker 8 answers at once
 * then one per gossip interval, however many digests or pulls it sends;
 * the rest are counted (answers_limited). Other askers are answered
 * meanwhile. */
static void a_flood_of_digests_and_pulls_gets_a_bounded_rate_of_answers(
    void **state) {
  (void)state;
  net *n = net_new(3, 21);
  full_membership(n);
  registry *r0 = n->nodes[0].reg;
  vnet_run(n->v, 10 * GOSSIP);
  for (int i = 0; i < 100; i++) {
    char id[16];
    snprintf(id, sizeof(id), "a%d", i);
    assert_tr(0, reg_claim(r0, id, now_of(n)));
  }
  vnet_clear(n->v);
  uint64_t t0 = now_of(n) + 10 * GOSSIP; /* past any earlier answer */

  enum { COPIES = 65536 };
  reg_digest *dg = calloc(COPIES, sizeof(*dg));
  assert_non_null(dg);
  for (uint32_t k = 0; k < COPIES; k++) {
    strcpy(dg[k].owner, "n0");
    dg[k].epoch = n->nodes[0].epoch;
    dg[k].version = 0; /* n0 holds more: each copy asks for its set */
  }
  reg_msg m = {.type = REG_MSG_DIGEST, .digests = dg, .ndigests = COPIES};
  strcpy(m.sender, "n1");
  uint64_t limited0 = stats(n, 0).answers_limited;
  reg_receive(r0, "n1", &m, t0);
  const vnet_cluster_msg *out[4];
  assert_int_equal(1, queued(n, 0, 1, REG_MSG_SET, out, 4));
  assert_int_equal(100, out[0]->reg.nids);
  assert_int_equal(1, (int)vnet_queued(n->v, NULL, 0));
  vnet_clear(n->v);

  /* 1,000 more digests and 1,000 pulls at once: the burst's other 7. */
  m.ndigests = 1;
  for (int i = 0; i < 1000; i++) {
    m.type = REG_MSG_DIGEST;
    reg_receive(r0, "n1", &m, t0 + 1);
    m.type = REG_MSG_PULL;
    reg_receive(r0, "n1", &m, t0 + 1);
  }
  assert_int_equal(7, (int)vnet_queued(n->v, NULL, 0));
  assert_int_equal(1993, stats(n, 0).answers_limited - limited0);
  vnet_clear(n->v);

  /* Another asker is answered meanwhile. */
  strcpy(m.sender, "n2");
  reg_receive(r0, "n2", &m, t0 + 1);
  assert_int_equal(1, queued(n, 0, 2, REG_MSG_SET, out, 4));
  vnet_clear(n->v);

  /* Two gossip intervals later, n1 has two answers again: a pull every
   * pull_retry (four intervals) always is answered. */
  strcpy(m.sender, "n1");
  for (int i = 0; i < 5; i++) reg_receive(r0, "n1", &m, t0 + 2 * GOSSIP);
  assert_int_equal(2, queued(n, 0, 1, REG_MSG_SET, out, 4));
  free(dg);
  net_free(n);
}

static void deadline_is_exact_and_nothing_happens_before_it(void **state) {
  (void)state;
  net *n = net_new(2, 9);
  registry *r0 = n->nodes[0].reg;
  assert_int_equal(UINT64_MAX, reg_next_deadline(r0));
  /* Alone: a claim is not gossiped (whoever comes up pulls the set), no
   * timer runs. */
  assert_tr(0, reg_claim(r0, "early", now_of(n)));
  assert_int_equal(UINT64_MAX, reg_next_deadline(r0));
  reg_tick(r0, now_of(n) + 100000);
  assert_int_equal(0, sends(n));

  /* The first peer: a sync one gossip interval later. */
  tell_up(n, 0, 1);
  tell_up(n, 1, 0);
  /* Each asked the other for its set on seeing it up. */
  assert_int_equal(2, sends(n));
  assert_int_equal(now_of(n) + GOSSIP, reg_next_deadline(r0));
  /* A claim now is sealed and sent at once. */
  assert_tr(0, reg_claim(r0, "second", now_of(n)));
  assert_int_equal(now_of(n), reg_next_deadline(r0));
  reg_tick(r0, now_of(n) - 1);
  assert_int_equal(2, sends(n));
  reg_tick(r0, now_of(n));
  assert_int_equal(3, sends(n));
  uint64_t start = now_of(n);
  uint64_t ticks[8]; /* the deadlines, from start */
  int nticks = 0;
  while (nticks < 8) {
    uint64_t d = reg_next_deadline(r0);
    if (d == UINT64_MAX) break;
    uint64_t before = sends(n);
    reg_tick(r0, d - 1);
    assert_int_equal(before, sends(n));
    vnet_set_clock(n->v, d);
    reg_tick(r0, d);
    assert_true(sends(n) > before); /* a deadline always does something */
    ticks[nticks++] = d - start;
  }
  /* With one peer the batch rides one message per round: at +0 (above),
   * +50, +100, +150, the limit being 4. The first sync comes one gossip
   * interval after the peer, in the same tick as the second round, then
   * one every sync interval. */
  assert_int_equal(8, nticks);
  assert_int_equal(GOSSIP, ticks[0]);
  assert_int_equal(2 * GOSSIP, ticks[1]);
  assert_int_equal(3 * GOSSIP, ticks[2]);
  assert_int_equal(GOSSIP + SYNC, ticks[3]);
  assert_int_equal(GOSSIP + 2 * SYNC, ticks[4]);
  assert_int_equal(4, stats(n, 0).deltas_out);

  /* A late tick catches up once, from then on. */
  uint64_t d = reg_next_deadline(r0);
  vnet_set_clock(n->v, d + 12345);
  reg_tick(r0, now_of(n));
  assert_int_equal(now_of(n) + SYNC, reg_next_deadline(r0));
  /* The last peer gone: no timers. */
  tell_gone(n, 0, 1);
  assert_int_equal(UINT64_MAX, reg_next_deadline(r0));
  net_free(n);
}

/* A run with loss, jitter, claims, releases, a partition, a heal and a
 * restart, all driven by the seed; returns the trace. */
static uint64_t scenario(uint64_t seed) {
  net *n = net_new(8, seed);
  vnet_set_loss_ppm(n->v, 20000);
  vnet_set_jitter_ms(n->v, 3);
  full_membership(n);
  char id[32];
  for (int step = 0; step < 60; step++) {
    int i = (int)(vnet_rand(n->v) % 8);
    snprintf(id, sizeof(id), "s%d", (int)(vnet_rand(n->v) % 24));
    if (reg_lookup(n->nodes[i].reg, id) &&
        strcmp(reg_lookup(n->nodes[i].reg, id), n->nodes[i].name) == 0)
      reg_release(n->nodes[i].reg, id, now_of(n));
    else
      reg_claim(n->nodes[i].reg, id, now_of(n));
    vnet_run(n->v, 1 + vnet_rand(n->v) % 80);
    if (step == 20) {
      uint8_t group[8];
      for (int a = 0; a < 8; a++) group[a] = a < 3;
      assert_tr(0, vnet_partition(n->v, group));
      for (int a = 0; a < 8; a++)
        for (int b = 0; b < 8; b++)
          if (group[a] != group[b]) tell_gone(n, a, b);
    }
    if (step == 40) {
      vnet_partition(n->v, NULL);
      full_membership(n);
    }
    if (step == 50) {
      reg_free(n->nodes[5].reg);
      node_start(n, 5, n->nodes[5].epoch + 1000);
      full_membership(n);
    }
  }
  vnet_run(n->v, 4 * SYNC);
  uint64_t trace = vnet_trace_hash(n->v);
  net_free(n);
  return trace;
}

static void same_seed_gives_an_identical_trace(void **state) {
  (void)state;
  uint64_t a = scenario(42), b = scenario(42), c = scenario(43);
  assert_true(a == b);
  assert_true(a != c);
}

static void hundred_nodes_with_one_percent_loss_converge(void **state) {
  (void)state;
  net *n = net_new(100, 10);
  vnet_set_loss_ppm(n->v, 10000);
  vnet_set_jitter_ms(n->v, 4);
  full_membership(n);
  vnet_run(n->v, 200);
  expect *e = calloc(1, sizeof(*e));
  assert_non_null(e);
  /* Each node claims 3 ids at random times over 2 s, and releases its
   * first one 1 s after claiming it. */
  uint64_t start = now_of(n), msgs0 = sends(n);
  for (int k = 0; k < 300; k++) {
    snprintf(e->id[k], sizeof(e->id[0]), "w%d", k);
    snprintf(e->owner[k], sizeof(e->owner[0]), "n%d", k % 100);
    e->live[k] = true;
  }
  e->nids = 300;
  uint64_t at[300];
  for (int k = 0; k < 300; k++) at[k] = start + vnet_rand(n->v) % 2000;
  bool claimed[300] = {false}, released[300] = {false};
  uint64_t last_change = start;
  for (uint64_t t = start; t < start + 3100; t += 10) {
    for (int k = 0; k < 300; k++) {
      registry *r = n->nodes[k % 100].reg;
      if (!claimed[k] && at[k] <= now_of(n)) {
        assert_tr(0, reg_claim(r, e->id[k], now_of(n)));
        claimed[k] = true;
        last_change = now_of(n);
      }
      if (k < 100 && claimed[k] && !released[k] && at[k] + 1000 <= now_of(n)) {
        assert_tr(0, reg_release(r, e->id[k], now_of(n)));
        released[k] = true;
        e->live[k] = false;
        last_change = now_of(n);
      }
    }
    vnet_run(n->v, 10);
  }
  uint64_t settle = vnet_run_until(n->v, all_agree, e, 3 * SYNC);
  uint64_t pulls = 0, sets = 0, rej = 0;
  for (int i = 0; i < 100; i++) {
    reg_stats st = stats(n, i);
    pulls += st.pulls;
    sets += st.sets_applied;
    rej += st.rejected_owner + st.rejected_self + st.rejected_sender +
           st.rejected_malformed;
  }
  double secs = (double)(now_of(n) - start) / 1000.0;
  print_message(
      "100 nodes, 1%% loss: agreed %llu ms after the last change; "
      "%.1f msgs/node/s, %llu dropped, %llu pulls, %llu sets\n",
      (unsigned long long)(now_of(n) - last_change),
      (double)(sends(n) - msgs0) / 100.0 / secs,
      (unsigned long long)vnet_get_stats(n->v).dropped,
      (unsigned long long)pulls,
      (unsigned long long)sets);
  assert_true(settle != UINT64_MAX);
  assert_int_equal(0, rej);
  for (int i = 0; i < 100; i++) assert_int_equal(200, reg_count(n->nodes[i].reg));
  free(e);
  net_free(n);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(
          claim_on_one_node_resolves_on_all_five_within_three_rounds),
      cmocka_unit_test(release_removes_it_everywhere_and_frees_the_id),
      cmocka_unit_test(claim_of_an_id_held_anywhere_returns_eexist),
      cmocka_unit_test(owner_gone_makes_its_ids_vanish_everywhere),
      cmocka_unit_test(owner_restart_drops_old_entries_and_accepts_new_ones),
      cmocka_unit_test(a_slow_catch_up_after_a_heal_keeps_the_claims_times),
      cmocka_unit_test(
          node_that_missed_deltas_catches_up_through_pulls_and_digests),
      cmocka_unit_test(
          partition_then_same_id_on_both_sides_resolves_to_the_earlier),
      cmocka_unit_test(forged_messages_are_rejected_and_counted),
      cmocka_unit_test(only_the_owner_speaks_for_its_set),
      cmocka_unit_test(loser_is_told_once_however_many_winners_appear),
      cmocka_unit_test(a_later_claim_cannot_take_a_held_id),
      cmocka_unit_test(
          deltas_apply_in_version_order_and_a_gap_pulls_from_the_owner),
      cmocka_unit_test(digest_is_answered_with_own_set_and_pulls_from_owners),
      cmocka_unit_test(
          a_flood_of_digests_and_pulls_gets_a_bounded_rate_of_answers),
      cmocka_unit_test(deadline_is_exact_and_nothing_happens_before_it),
      cmocka_unit_test(same_seed_gives_an_identical_trace),
      cmocka_unit_test(hundred_nodes_with_one_percent_loss_converge),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
