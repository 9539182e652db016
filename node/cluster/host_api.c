/* host_api.c — what the node assembly reads of the cluster (cluster.h):
 * members, where an id lives, cluster, peer and transport counters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"

static void member_from(tr_member *m, const swim_update *u) {
  memset(m, 0, sizeof(*m));
  memcpy(m->name, u->name, sizeof(m->name));
  snprintf(m->addr, sizeof(m->addr), "%s", u->addr);
  m->epoch = u->epoch;
  m->incarnation = u->incarnation;
  m->state = (tr_member_state)u->state; /* same order as swim_state */
  if (u->tags_len && u->tags_len < sizeof(m->tags))
    memcpy(m->tags, u->tags, u->tags_len); /* NUL from the memset */
}

int cluster_members(cluster *c, void (*fn)(void *arg, const tr_member *),
                    void *arg) {
  swim *s = c->swim;
  size_t total = swim_members(s, NULL, 0);
  if (fn && total) {
    swim_update *all = malloc(total * sizeof(*all));
    if (!all) return TR_ENOMEM;
    size_t got = swim_members(s, all, total);
    for (size_t i = 0; i < got && i < total; i++) {
      tr_member m;
      member_from(&m, &all[i]);
      fn(arg, &m);
    }
    free(all);
  }
  return (int)total;
}

const char *cluster_address(cluster *c) { return c->addr; }

const char *cluster_locate(cluster *c, const char *id) {
  return reg_lookup(c->reg, id);
}

int cluster_stats(cluster *c, tr_cluster_stats *out) {
  *out = c->st;
  op_service_stats os;
  op_service_stats_get(c->ops, &os);
  out->op_subs_refused = os.subs_refused;
  out->op_pubs = os.pubs;
  out->op_pubs_refused = os.pubs_refused;
  out->monitor_lines_dropped = os.lines_dropped;
  swim_stats ss;
  swim_get_stats(c->swim, &ss);
  out->probes = ss.probes;
  out->suspicions = ss.suspicions;
  out->deaths = ss.deaths;
  out->refutations = ss.refutations;
  out->local_health = ss.local_health;
  out->rejected += ss.rejected_sender + ss.rejected_claim + ss.rejected_jump +
                   ss.rejected_proof + ss.rejected_tags;
  out->forged_claims = ss.rejected_proof + ss.rejected_tags;
  out->death_checks = ss.death_checks;
  out->members_refused = ss.members_refused;
  reg_stats rs;
  reg_get_stats(c->reg, &rs);
  out->forged_entries = rs.rejected_proof;
  out->proofs_signed = ss.signs + rs.signs;
  out->proofs_checked = ss.verifies + rs.verifies;
  out->proofs_refused = ss.proof_failures + rs.proof_failures;
  out->rejected += rs.rejected_sender + rs.rejected_self +
                   rs.rejected_malformed + rs.rejected_proof;
  out->stale_updates = rs.rejected_owner;
  out->answers_limited = rs.answers_limited;
  out->peers = c->npeers;
  out->remote_asks_pending = c->nrasks;
  out->credit_targets = host_credit_targets(c);
  tls_crl_info ci;
  tls_config_crl_info(c->tls, &ci);
  out->crl_entries = ci.entries;
  out->crl_next_update = ci.loaded ? ci.next_update : 0;
  out->registry_ids = reg_count(c->reg);
  out->group_keys = reg_shared_count(c->reg);
  out->group_invalid = c->group_invalid;
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

int cluster_peer_stats(cluster *c, const char *peer, tr_peer_stats *out) {
  peer_link *lk = link_find(c->links, peer);
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
                         .rejected_full = ls.rejected_full,
                         .resumes = ls.resumes,
                         .tls_resumes = ls.tls_resumes,
                         .cipher = link_cipher(lk),
                         .cert_cn = link_cert_cn(lk),
                         .cert_role = tls_peer_role_name(link_peer_role(lk))};
  return 0;
}

int cluster_peers(cluster *c,
                  void (*fn)(void *arg, const char *peer,
                             const tr_peer_stats *),
                  void *arg) {
  int count = 0;
  /* Peers the host knows; only those with a link are listed. */
  for (uint32_t i = 1; i <= c->npeers; i++) {
    host_peer *p = c->by_idx[i];
    tr_peer_stats st;
    if (cluster_peer_stats(c, p->name, &st) != 0) continue;
    if (fn) fn(arg, p->name, &st);
    count++;
  }
  return count;
}

_Static_assert(TLS_FAIL_COUNT <= TR_TLS_FAIL_REASONS, "tls reasons");
_Static_assert(LINK_CLOSE_COUNT <= TR_LINK_CLOSE_REASONS, "close reasons");

void cluster_transport_stats(cluster *c, tr_transport_stats *out) {
  memset(out, 0, sizeof(*out));
  link_mgr_stats ms;
  link_mgr_get_stats(c->links, &ms);
  for (int i = 0; i < TLS_FAIL_COUNT && i < TR_TLS_FAIL_REASONS; i++)
    out->tls_refused[i] = ms.tls_fail[i];
  for (int i = 0; i < LINK_CLOSE_COUNT && i < TR_LINK_CLOSE_REASONS; i++)
    out->links_closed[i] = ms.closed[i];
  out->accepted = ms.accepted;
  out->links = ms.links;
  out->conns = ms.conns;
  out->pending = ms.pending;
  out->op_conns = ms.op_conns;
  out->pending_dropped = ms.pending_dropped;
  out->op_refused = ms.op_refused;
  out->memory_refused = ms.memory_refused;
  out->memory_closed = ms.memory_closed;
  out->dials_waited = ms.dials_waited;
  out->dialing = ms.dialing;
  out->dials_waiting = ms.dials_waiting;
  out->memory_used = ms.memory_used;
  out->memory_budget = ms.memory_budget;
}

const char *cluster_tls_fail_reason_name(int i) {
  return i >= 0 && i < TLS_FAIL_COUNT ? tls_fail_name((tls_fail)i) : NULL;
}

const char *cluster_link_close_reason_name(int i) {
  return i >= 0 && i < LINK_CLOSE_COUNT
             ? link_close_reason_name((link_close_reason)i)
             : NULL;
}

void cluster_set_guard(cluster *c, policy_guard *g) { c->guard = g; }

void cluster_policy_changed(cluster *c) {
  if (c->left || c->freeing) return;
  c->in_sm++;
  reg_policy_changed(c->reg, host_now(c));
  c->in_sm--;
  host_rearm(c);
}
