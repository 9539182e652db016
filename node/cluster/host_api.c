/* host_api.c — the public cluster calls (troupe.h, "cluster"): members,
 * where an id lives, cluster counters. A local node answers them too: it
 * is a cluster of one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"

const char *tr_member_state_name(tr_member_state s) {
  switch (s) {
  case TR_MEMBER_ALIVE:
    return "alive";
  case TR_MEMBER_SUSPECT:
    return "suspect";
  case TR_MEMBER_DEAD:
    return "dead";
  case TR_MEMBER_LEFT:
    return "left";
  }
  return "unknown";
}

static void member_from(tr_member *m, const swim_update *u) {
  memset(m, 0, sizeof(*m));
  memcpy(m->name, u->name, sizeof(m->name));
  snprintf(m->addr, sizeof(m->addr), "%s", u->addr);
  m->epoch = u->epoch;
  m->incarnation = u->incarnation;
  m->state = (tr_member_state)u->state; /* same order as swim_state */
}

int tr_node_members(tr_node *n, tr_member *out, size_t cap) {
  if (!n || (cap && !out)) return TR_EINVAL;
  if (!n->cluster) {
    if (cap) {
      memset(out, 0, sizeof(*out));
      snprintf(out->name, sizeof(out->name), "%s", n->name);
      out->state = TR_MEMBER_ALIVE;
    }
    return 1;
  }
  swim *s = n->cluster->swim;
  size_t total = swim_members(s, NULL, 0);
  if (cap && total) {
    swim_update *all = malloc(total * sizeof(*all));
    if (!all) return TR_ENOMEM;
    size_t got = swim_members(s, all, total);
    for (size_t i = 0; i < got && i < total && i < cap; i++)
      member_from(&out[i], &all[i]);
    free(all);
  }
  return (int)total;
}

int tr_node_locate(tr_node *n, const char *id, char *node, size_t cap) {
  if (!n || check_id(id, NULL) != 0 || !node) return TR_EINVAL;
  const char *owner = NULL;
  if (actor_find(n, id))
    owner = n->name;
  else if (n->cluster)
    owner = reg_lookup(n->cluster->reg, id);
  if (!owner) return TR_ENOTFOUND;
  size_t len = strlen(owner);
  if (len + 1 > cap) return TR_EINVAL;
  memcpy(node, owner, len + 1);
  return 0;
}

int tr_node_cluster_stats(tr_node *n, tr_cluster_stats *out) {
  if (!n || !out) return TR_EINVAL;
  if (!n->cluster) return TR_ESTATE;
  eng_cluster *c = n->cluster;
  *out = c->st;
  swim_stats ss;
  swim_get_stats(c->swim, &ss);
  out->probes = ss.probes;
  out->suspicions = ss.suspicions;
  out->deaths = ss.deaths;
  out->refutations = ss.refutations;
  out->local_health = ss.local_health;
  out->rejected += ss.rejected_sender + ss.rejected_claim + ss.rejected_jump;
  reg_stats rs;
  reg_get_stats(c->reg, &rs);
  out->rejected += rs.rejected_sender + rs.rejected_self + rs.rejected_malformed;
  out->stale_updates = rs.rejected_owner;
  out->remote_asks_pending = c->nrasks;
  out->registry_ids = reg_count(c->reg);
  out->alive = out->suspect = out->dead = out->left = 0;
  size_t total = swim_members(c->swim, NULL, 0);
  swim_update *all = malloc((total ? total : 1) * sizeof(*all));
  if (!all) return TR_ENOMEM;
  size_t got = swim_members(c->swim, all, total);
  for (size_t i = 0; i < got && i < total; i++) {
    switch ((swim_state)all[i].state) {
    case SWIM_ALIVE: out->alive++; break;
    case SWIM_SUSPECT: out->suspect++; break;
    case SWIM_DEAD: out->dead++; break;
    case SWIM_LEFT: out->left++; break;
    }
  }
  free(all);
  return 0;
}

int tr_node_subscriptions(tr_node *n,
                          void (*fn)(void *arg, const tr_sub_info *),
                          void *arg) {
  if (!n) return TR_EINVAL;
  int count = 0;
  eng_pub *p, *ptmp;
  HASH_ITER(hh, n->pubs, p, ptmp) {
    eng_topic *t, *ttmp;
    HASH_ITER(hh, p->topics, t, ttmp) {
      for (eng_sub *s = t->subs; s; s = s->topic_next) {
        tr_sub_info si = {.publisher = p->id->str,
                          .topic = t->name->str,
                          .subscriber = s->subscriber->id->str,
                          .node = n->name,
                          .delivered = s->delivered,
                          .dropped = s->dropped};
        if (fn) fn(arg, &si);
        count++;
      }
    }
  }
  if (n->cluster) host_pubsub_each(n->cluster, fn, arg, &count);
  return count;
}

int tr_node_peer_stats(tr_node *n, const char *peer, tr_peer_stats *out) {
  if (!n || !peer || !out) return TR_EINVAL;
  if (!n->cluster) return TR_ESTATE;
  peer_link *lk = link_find(n->cluster->links, peer);
  if (!lk) return TR_ENOTFOUND;
  link_stats ls;
  link_get_stats(lk, &ls);
  *out = (tr_peer_stats){.up = ls.state == LINK_UP,
                         .envelopes_out = ls.envelopes_out,
                         .envelopes_in = ls.envelopes_in,
                         .bytes_out = ls.bytes_out,
                         .bytes_in = ls.bytes_in,
                         .queued = ls.queued,
                         .rtt_us = ls.rtt_us,
                         .reconnects = ls.reconnects,
                         .undeliverable = ls.undeliverable,
                         .rejected_full = ls.rejected_full};
  return 0;
}

int tr_node_peers(tr_node *n,
                  void (*fn)(void *arg, const char *peer, const tr_peer_stats *),
                  void *arg) {
  if (!n) return TR_EINVAL;
  if (!n->cluster) return 0;
  eng_cluster *c = n->cluster;
  int count = 0;
  /* Peers the host knows; only those with a link are listed. */
  for (uint32_t i = 1; i <= c->npeers; i++) {
    host_peer *p = c->by_idx[i];
    tr_peer_stats st;
    if (tr_node_peer_stats(n, p->name, &st) != 0) continue;
    if (fn) fn(arg, p->name, &st);
    count++;
  }
  return count;
}

_Static_assert(TLS_FAIL_COUNT <= TR_TLS_FAIL_REASONS, "tls reasons");
_Static_assert(LINK_CLOSE_COUNT <= TR_LINK_CLOSE_REASONS, "close reasons");

int tr_node_transport_stats(tr_node *n, tr_transport_stats *out) {
  if (!n || !out) return TR_EINVAL;
  memset(out, 0, sizeof(*out));
  if (!n->cluster) return 0;
  link_mgr_stats ms;
  link_mgr_get_stats(n->cluster->links, &ms);
  for (int i = 0; i < TLS_FAIL_COUNT && i < TR_TLS_FAIL_REASONS; i++)
    out->tls_refused[i] = ms.tls_fail[i];
  for (int i = 0; i < LINK_CLOSE_COUNT && i < TR_LINK_CLOSE_REASONS; i++)
    out->links_closed[i] = ms.closed[i];
  out->accepted = ms.accepted;
  out->links = ms.links;
  out->conns = ms.conns;
  return 0;
}

const char *tr_tls_fail_reason_name(int i) {
  return i >= 0 && i < TLS_FAIL_COUNT ? tls_fail_name((tls_fail)i) : NULL;
}

const char *tr_link_close_reason_name(int i) {
  return i >= 0 && i < LINK_CLOSE_COUNT
             ? link_close_reason_name((link_close_reason)i)
             : NULL;
}
