/* metrics.c — see metrics.h. Each family is written whole (HELP, TYPE, then
 * its samples), as the text format requires, so the per-peer and
 * per-publisher rows are gathered first and written one family at a time. */
#include "metrics.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* ---- a growing text buffer ------------------------------------------------ */

typedef struct mbuf {
  char *p;
  size_t len, cap;
  bool oom; /* sticky: later appends are no-ops, render returns TR_ENOMEM */
} mbuf;

static void mb_reserve(mbuf *b, size_t extra) {
  if (b->oom || b->len + extra + 1 <= b->cap) return;
  size_t cap = b->cap ? b->cap : 4096;
  while (cap < b->len + extra + 1) cap *= 2;
  char *p = realloc(b->p, cap);
  if (!p) {
    b->oom = true;
    return;
  }
  b->p = p;
  b->cap = cap;
}

static void mb_printf(mbuf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) {
    b->oom = true;
    return;
  }
  mb_reserve(b, (size_t)n);
  if (b->oom) return;
  va_start(ap, fmt);
  vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

/* A label value: backslash, double quote and newline escaped (0.0.4). */
static void mb_label_value(mbuf *b, const char *v) {
  for (; *v; v++) {
    if (*v == '\\') mb_printf(b, "\\\\");
    else if (*v == '"') mb_printf(b, "\\\"");
    else if (*v == '\n') mb_printf(b, "\\n");
    else mb_printf(b, "%c", *v);
  }
}

/* ---- families and samples ------------------------------------------------- */

typedef struct render {
  mbuf b;
  const char *node;
} render;

static void family(render *r, const char *name, const char *type,
                   const char *help) {
  mb_printf(&r->b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{node="...",key="val"} — key may be NULL for the node label alone. */
static void series(render *r, const char *name, const char *key,
                   const char *val) {
  mb_printf(&r->b, "%s{node=\"", name);
  mb_label_value(&r->b, r->node);
  mb_printf(&r->b, "\"");
  if (key) {
    mb_printf(&r->b, ",%s=\"", key);
    mb_label_value(&r->b, val);
    mb_printf(&r->b, "\"");
  }
  mb_printf(&r->b, "} ");
}

static void sample_u(render *r, const char *name, const char *key,
                     const char *val, uint64_t v) {
  series(r, name, key, val);
  mb_printf(&r->b, "%llu\n", (unsigned long long)v);
}

static void sample_f(render *r, const char *name, const char *key,
                     const char *val, double v) {
  series(r, name, key, val);
  mb_printf(&r->b, "%.9g\n", v);
}

/* A family with a single series. */
static void single(render *r, const char *name, const char *type,
                   const char *help, uint64_t v) {
  family(r, name, type, help);
  sample_u(r, name, NULL, NULL, v);
}

/* ---- engine ---------------------------------------------------------------- */

static void render_engine(render *r, tr_node *node) {
  tr_node_stats s;
  memset(&s, 0, sizeof(s));
  tr_node_stats_get(node, &s);

  family(r, "troupe_build_info", "gauge",
         "Always 1; the troupe version as a label.");
  sample_u(r, "troupe_build_info", "version", TR_VERSION_STRING, 1);
  single(r, "troupe_actors", "gauge", "Actors alive on this node.",
         s.actors);
  single(r, "troupe_actors_spawned_total", "counter",
         "Actors spawned since the node started.", s.spawned);
  single(r, "troupe_actors_stopped_total", "counter",
         "Actors stopped for any reason since the node started.", s.stopped);
  single(r, "troupe_actors_failed_total", "counter",
         "Receive callbacks that returned non-zero (the actor failed).",
         s.failed);
  single(r, "troupe_messages_sent_total", "counter",
         "Messages queued to a local mailbox.", s.sent);
  single(r, "troupe_messages_delivered_total", "counter",
         "Receive calls made.", s.delivered);
  single(r, "troupe_publishes_total", "counter", "Publish calls made.",
         s.published);
  family(r, "troupe_dead_letters_total", "counter",
         "Messages that could not be delivered, by reason.");
  for (int i = 0; i < TR_DL_COUNT; i++) {
    const char *why = tr_dead_reason_name((tr_dead_reason)i);
    if (why) sample_u(r, "troupe_dead_letters_total", "reason", why, s.dead[i]);
  }
  single(r, "troupe_mailbox_high_water_messages", "gauge",
         "Largest mailbox length seen on this node.", s.mailbox_hwm);
  single(r, "troupe_asks_pending", "gauge", "Asks waiting for a reply.",
         s.asks_pending);
  single(r, "troupe_timers_pending", "gauge", "Actor timers pending.",
         s.timers_pending);
  single(r, "troupe_subscriptions", "gauge",
         "Subscriptions held by this node.", s.subscriptions);
  single(r, "troupe_deferred_messages", "gauge",
         "Accepted thread-safe sends and one-shot timer messages waiting for "
         "their target's room.", s.deferred);
  single(r, "troupe_messages_lost_nomem_total", "counter",
         "Accepted messages lost because memory ran out.", s.lost_nomem);
  single(r, "troupe_group_members", "gauge",
         "Group memberships of this node's actors.", s.group_members);
  single(r, "troupe_group_broadcasts_total", "counter",
         "Group broadcasts made on this node.", s.group_broadcasts);
  single(r, "troupe_group_deliveries_total", "counter",
         "Group broadcasts queued to this node's members.",
         s.group_deliveries);
}

/* ---- subscriptions, summed per publisher ----------------------------------- */

typedef struct pub_row {
  char *publisher;
  uint64_t delivered, dropped;
} pub_row;

typedef struct pub_rows {
  pub_row *v;
  size_t n, cap;
  bool oom;
} pub_rows;

static void collect_sub(void *arg, const tr_sub_info *si) {
  pub_rows *rows = arg;
  if (rows->oom || !si->publisher) return;
  if (rows->n == rows->cap) {
    size_t cap = rows->cap ? rows->cap * 2 : 64;
    pub_row *v = realloc(rows->v, cap * sizeof(*v));
    if (!v) {
      rows->oom = true;
      return;
    }
    rows->v = v;
    rows->cap = cap;
  }
  char *p = strdup(si->publisher);
  if (!p) {
    rows->oom = true;
    return;
  }
  rows->v[rows->n++] = (pub_row){p, si->delivered, si->dropped};
}

static int pub_row_cmp(const void *a, const void *b) {
  return strcmp(((const pub_row *)a)->publisher,
                ((const pub_row *)b)->publisher);
}

/* Sorts and merges rows in place: one row per publisher; past
 * METRICS_MAX_PUBLISHERS, the rest are folded into a last row, "$other". */
static void pub_rows_merge(pub_rows *rows) {
  if (rows->n == 0) return;
  qsort(rows->v, rows->n, sizeof(pub_row), pub_row_cmp);
  size_t out = 0;
  for (size_t i = 1; i < rows->n; i++) {
    if (strcmp(rows->v[out].publisher, rows->v[i].publisher) == 0) {
      rows->v[out].delivered += rows->v[i].delivered;
      rows->v[out].dropped += rows->v[i].dropped;
      free(rows->v[i].publisher);
    } else {
      rows->v[++out] = rows->v[i];
    }
  }
  rows->n = out + 1;
  if (rows->n <= METRICS_MAX_PUBLISHERS) return;
  pub_row *last = &rows->v[METRICS_MAX_PUBLISHERS - 1];
  for (size_t i = METRICS_MAX_PUBLISHERS; i < rows->n; i++) {
    last->delivered += rows->v[i].delivered;
    last->dropped += rows->v[i].dropped;
    free(rows->v[i].publisher);
  }
  rows->n = METRICS_MAX_PUBLISHERS;
  char *other = strdup("$other");
  if (!other) {
    rows->oom = true;
    return;
  }
  free(last->publisher);
  last->publisher = other;
}

static void pub_rows_free(pub_rows *rows) {
  for (size_t i = 0; i < rows->n; i++) free(rows->v[i].publisher);
  free(rows->v);
}

static void render_subscriptions(render *r, tr_node *node) {
  pub_rows rows = {0};
  tr_node_subscriptions(node, collect_sub, &rows);
  if (rows.oom) {
    r->b.oom = true;
    pub_rows_free(&rows);
    return;
  }
  pub_rows_merge(&rows);
  if (rows.oom) r->b.oom = true;
  family(r, "troupe_subscription_deliveries_total", "counter",
         "Publishes queued to subscribers (or sent to interested nodes), "
         "summed over the publisher's current subscriptions.");
  for (size_t i = 0; i < rows.n; i++)
    sample_u(r, "troupe_subscription_deliveries_total", "publisher",
             rows.v[i].publisher, rows.v[i].delivered);
  family(r, "troupe_subscription_drops_total", "counter",
         "Publishes subscribers missed (mailbox or link full), summed over "
         "the publisher's current subscriptions.");
  for (size_t i = 0; i < rows.n; i++)
    sample_u(r, "troupe_subscription_drops_total", "publisher",
             rows.v[i].publisher, rows.v[i].dropped);
  pub_rows_free(&rows);
}

/* ---- cluster ----------------------------------------------------------------- */

typedef struct peer_row {
  char *name;
  tr_peer_stats st;
} peer_row;

typedef struct peer_rows {
  peer_row *v;
  size_t n, cap;
  bool oom;
} peer_rows;

static void collect_peer(void *arg, const char *peer, const tr_peer_stats *st) {
  peer_rows *rows = arg;
  if (rows->oom || !peer) return;
  if (rows->n == rows->cap) {
    size_t cap = rows->cap ? rows->cap * 2 : 16;
    peer_row *v = realloc(rows->v, cap * sizeof(*v));
    if (!v) {
      rows->oom = true;
      return;
    }
    rows->v = v;
    rows->cap = cap;
  }
  char *p = strdup(peer);
  if (!p) {
    rows->oom = true;
    return;
  }
  rows->v[rows->n++] = (peer_row){p, *st};
}

typedef enum {
  PEER_UP, PEER_BYTES_OUT, PEER_BYTES_IN, PEER_ENV_OUT, PEER_ENV_IN,
  PEER_RTT, PEER_RECONNECTS, PEER_QUEUED, PEER_UNDELIVERABLE, PEER_REJECTED
} peer_field;

static const struct {
  peer_field f;
  const char *name, *type, *help;
} peer_families[] = {
    {PEER_UP, "troupe_peer_up", "gauge", "1 while the link to the peer is up."},
    {PEER_BYTES_OUT, "troupe_peer_sent_bytes_total", "counter",
     "TLS bytes written to the peer's socket."},
    {PEER_BYTES_IN, "troupe_peer_received_bytes_total", "counter",
     "TLS bytes read from the peer's socket."},
    {PEER_ENV_OUT, "troupe_peer_envelopes_sent_total", "counter",
     "Envelopes sent to the peer since the link was made."},
    {PEER_ENV_IN, "troupe_peer_envelopes_received_total", "counter",
     "Envelopes received from the peer since the link was made."},
    {PEER_RTT, "troupe_peer_rtt_seconds", "gauge",
     "Smoothed round trip to the peer (absent while unknown)."},
    {PEER_RECONNECTS, "troupe_peer_reconnects_total", "counter",
     "Times the link to the peer was made again."},
    {PEER_QUEUED, "troupe_peer_queued_envelopes", "gauge",
     "Envelopes waiting to be written to the peer."},
    {PEER_UNDELIVERABLE, "troupe_peer_undeliverable_total", "counter",
     "Envelopes the link to the peer gave up on."},
    {PEER_REJECTED, "troupe_peer_rejected_full_total", "counter",
     "Sends to the peer refused because its queue was full."},
};

static void render_peer_field(render *r, const peer_row *p, peer_field f,
                              const char *name) {
  const tr_peer_stats *s = &p->st;
  uint64_t v = 0;
  switch (f) {
  case PEER_UP: v = s->up ? 1 : 0; break;
  case PEER_BYTES_OUT: v = s->bytes_out; break;
  case PEER_BYTES_IN: v = s->bytes_in; break;
  case PEER_ENV_OUT: v = s->envelopes_out; break;
  case PEER_ENV_IN: v = s->envelopes_in; break;
  case PEER_RTT:
    if (s->rtt_us) sample_f(r, name, "peer", p->name, s->rtt_us / 1e6);
    return;
  case PEER_RECONNECTS: v = s->reconnects; break;
  case PEER_QUEUED: v = s->queued; break;
  case PEER_UNDELIVERABLE: v = s->undeliverable; break;
  case PEER_REJECTED: v = s->rejected_full; break;
  }
  sample_u(r, name, "peer", p->name, v);
}

static void render_peers(render *r, tr_node *node) {
  peer_rows rows = {0};
  tr_node_peers(node, collect_peer, &rows);
  if (rows.oom) r->b.oom = true;
  for (size_t k = 0; !rows.oom && k < sizeof(peer_families) /
                                           sizeof(peer_families[0]); k++) {
    family(r, peer_families[k].name, peer_families[k].type,
           peer_families[k].help);
    for (size_t i = 0; i < rows.n; i++)
      render_peer_field(r, &rows.v[i], peer_families[k].f,
                        peer_families[k].name);
  }
  for (size_t i = 0; i < rows.n; i++) free(rows.v[i].name);
  free(rows.v);
}

/* The reason tables start with "none" (index 0, never counted): left out. */
static void render_transport(render *r, tr_node *node) {
  tr_transport_stats t;
  if (tr_node_transport_stats(node, &t) != 0) return;
  family(r, "troupe_tls_refused_total", "counter",
         "Peers refused during the TLS handshake, by reason.");
  for (int i = 0; i < TR_TLS_FAIL_REASONS; i++) {
    const char *why = tr_tls_fail_reason_name(i);
    if (why && strcmp(why, "none") != 0) sample_u(r, "troupe_tls_refused_total", "reason", why,
                      t.tls_refused[i]);
  }
  family(r, "troupe_connections_closed_total", "counter",
         "Peer connections closed, by reason.");
  for (int i = 0; i < TR_LINK_CLOSE_REASONS; i++) {
    const char *why = tr_link_close_reason_name(i);
    if (why && strcmp(why, "none") != 0) sample_u(r, "troupe_connections_closed_total", "reason", why,
                      t.links_closed[i]);
  }
  single(r, "troupe_connections_accepted_total", "counter",
         "Peer connections accepted.", t.accepted);
  single(r, "troupe_links", "gauge", "Links to peer nodes now.", t.links);
  single(r, "troupe_connections", "gauge", "Peer connections open now.",
         t.conns);
}

/* Operators' publishers and monitors (troupe pub, troupe monitor). */
static void render_operators(render *r, const tr_cluster_stats *c) {
  single(r, "troupe_operator_publishers", "gauge",
         "Operator publishers (troupe pub) on this node.", c->op_pubs);
  single(r, "troupe_monitor_lines_dropped_total", "counter",
         "Log lines a monitor's connection (troupe monitor) had no room for.",
         c->monitor_lines_dropped);
}

/* Every limit reached, one series each (docs/cluster.md, "Limits"). */
static void render_limits(render *r, tr_node *node,
                          const tr_cluster_stats *c) {
  const char *name = "troupe_limit_refused_total";
  family(r, name, "counter",
         "What a limit refused, by limit (each also logged, at most once per "
         "10 s).");
  sample_u(r, name, "limit", "members", c->members_refused);
  sample_u(r, name, "limit", "peers", c->peers_refused);
  sample_u(r, name, "limit", "registry_answers", c->answers_limited);
  sample_u(r, name, "limit", "operator_subscriptions", c->op_subs_refused);
  sample_u(r, name, "limit", "operator_publishers", c->op_pubs_refused);
  tr_transport_stats t;
  if (tr_node_transport_stats(node, &t) != 0) return;
  sample_u(r, name, "limit", "pending_connections", t.pending_dropped);
  sample_u(r, name, "limit", "operator_connections", t.op_refused);
  sample_u(r, name, "limit", "memory_sends", t.memory_refused);
  sample_u(r, name, "limit", "memory_connections", t.memory_closed);
  single(r, "troupe_peers", "gauge",
         "The peer table: members and nodes that spoke (never operators).",
         c->peers);
  single(r, "troupe_memory_used_bytes", "gauge",
         "Link queues and read buffers now (against the memory budget).",
         t.memory_used);
  single(r, "troupe_memory_budget_bytes", "gauge",
         "The node's memory budget for link queues and read buffers.",
         t.memory_budget);
  single(r, "troupe_connections_pending", "gauge",
         "Connections accepted whose hello is not done yet.", t.pending);
  single(r, "troupe_operator_connections", "gauge",
         "Operator and viewer connections up now.", t.op_conns);
  single(r, "troupe_dials_waited_total", "counter",
         "Dials that waited for one of max_dials handshake slots.",
         t.dials_waited);
  single(r, "troupe_dials_in_handshake", "gauge",
         "This node's dials in their TLS handshake now.", t.dialing);
}

static void render_cluster(render *r, tr_node *node,
                           const tr_cluster_stats *c) {
  family(r, "troupe_cluster_members", "gauge",
         "Members this node knows, by state, itself included.");
  const uint32_t by_state[] = {c->alive, c->suspect, c->dead, c->left};
  for (int st = TR_MEMBER_ALIVE; st <= TR_MEMBER_LEFT; st++)
    sample_u(r, "troupe_cluster_members", "state",
             tr_member_state_name((tr_member_state)st), by_state[st]);
  single(r, "troupe_registry_ids", "gauge",
         "Actor ids the cluster registry resolves.", c->registry_ids);
  single(r, "troupe_registry_conflicts_lost_total", "counter",
         "Own actors stopped because another node won their id.",
         c->conflicts_lost);
  single(r, "troupe_remote_sent_total", "counter",
         "Envelopes handed to links for other nodes.", c->remote_sent);
  single(r, "troupe_remote_received_total", "counter",
         "Envelopes received from links.", c->remote_received);
  single(r, "troupe_remote_failed_total", "counter",
         "Envelopes the other node could not deliver.", c->remote_failed);
  single(r, "troupe_remote_link_full_total", "counter",
         "Remote sends refused because the link queue was full.",
         c->link_full);
  single(r, "troupe_remote_undeliverable_total", "counter",
         "Envelopes a link gave up on.", c->undeliverable);
  single(r, "troupe_cluster_stale_updates_total", "counter",
         "Registry updates about a node at another epoch than known "
         "(ignored; a restart still spreading).",
         c->stale_updates);
  single(r, "troupe_cluster_rejected_total", "counter",
         "Cluster messages refused (malformed, forged sender, claims "
         "about others' state).", c->rejected);
  single(r, "troupe_swim_probes_total", "counter", "SWIM probes sent.",
         c->probes);
  single(r, "troupe_swim_suspicions_total", "counter",
         "Members this node started to suspect.", c->suspicions);
  single(r, "troupe_swim_deaths_total", "counter",
         "Members declared dead.", c->deaths);
  single(r, "troupe_swim_refutations_total", "counter",
         "Suspicions of this node it refuted.", c->refutations);
  single(r, "troupe_swim_local_health", "gauge",
         "Lifeguard local health awareness; 0 is healthy.", c->local_health);
  single(r, "troupe_remote_publish_dropped_total", "counter",
         "Publishes not sent to an interested node (its link full or down).",
         c->publish_dropped);
  single(r, "troupe_group_keys", "gauge",
         "Group memberships the registry holds, this node's and others'.",
         c->group_keys);
  single(r, "troupe_group_unbelieved", "gauge",
         "Other nodes' memberships not believed: the actor is not theirs.",
         c->group_invalid);
  single(r, "troupe_group_broadcast_envelopes_out_total", "counter",
         "Group broadcast envelopes sent, one per node with members.",
         c->group_broadcasts_out);
  single(r, "troupe_group_broadcast_envelopes_in_total", "counter",
         "Group broadcast envelopes from other nodes.",
         c->group_broadcasts_in);
  single(r, "troupe_group_broadcast_envelopes_dropped_total", "counter",
         "Group broadcast envelopes not sent: link full or down.",
         c->group_broadcasts_dropped);
  single(r, "troupe_remote_asks_abandoned_total", "counter",
         "Asks from other nodes whose target stopped without replying.",
         c->asks_abandoned);
  single(r, "troupe_remote_asks_pending", "gauge",
         "Asks from other nodes waiting on local actors.",
         c->remote_asks_pending);
  single(r, "troupe_link_read_pauses_total", "counter",
         "Times links stopped reading because mailboxes were backed up.",
         c->read_pauses);
  single(r, "troupe_credit_refused_total", "counter",
         "Sends and asks to other nodes refused TR_EFULL: no credit left.",
         c->credit_refused);
  single(r, "troupe_credit_in_total", "counter",
         "Flow-control credit other nodes gave back to this one.",
         c->credit_in);
  single(r, "troupe_credit_out_total", "counter",
         "Flow-control credit this node gave back to others.", c->credit_out);
  single(r, "troupe_credit_targets", "gauge",
         "Remote actors this node holds flow-control credit for.",
         c->credit_targets);
  single(r, "troupe_credit_waiting", "gauge",
         "Remote actors a sender here waits on for credit.",
         c->credit_waiting);
  single(r, "troupe_swim_forged_claims_total", "counter",
         "Membership claims only a member may make, relayed without its "
         "proof: refused.", c->forged_claims);
  single(r, "troupe_policy_remote_denied_total", "counter",
         "This node's sends another node's policy refused.",
         c->remote_denied);
  single(r, "troupe_crl_entries", "gauge",
         "Certificates the loaded revocation list revokes.", c->crl_entries);
  single(r, "troupe_crl_next_update_seconds", "gauge",
         "When the revocation list should be renewed (unix seconds; 0: no "
         "list).", (uint64_t)(c->crl_next_update > 0 ? c->crl_next_update : 0));
  single(r, "troupe_registry_forged_entries_total", "counter",
         "Registry entries relayed without their owner's seal, and sets not "
         "from their owner: refused.", c->forged_entries);
  single(r, "troupe_swim_death_checks_total", "counter",
         "Members said dead by another, suspected and probed before being "
         "believed.", c->death_checks);
  single(r, "troupe_proofs_signed_total", "counter",
         "This node's own membership records and registry batches signed.",
         c->proofs_signed);
  single(r, "troupe_proofs_checked_total", "counter",
         "Other members' signed records and batches verified.",
         c->proofs_checked);
  single(r, "troupe_proofs_refused_total", "counter",
         "Relayed membership or registry proofs that failed to verify.",
         c->proofs_refused);
  single(r, "troupe_operator_denied_total", "counter",
         "Operator requests refused: not from an operator certificate, or a "
         "viewer's write.", c->op_denied);
  render_peers(r, node);
  render_transport(r, node);
  render_limits(r, node, c);
  render_operators(r, c);
}

/* ---- policy ---------------------------------------------------------------- */

static void on_denial(void *arg, const tr_policy_denial *d) {
  render *r = arg;
  mb_printf(&r->b, "troupe_policy_denied_total{node=\"");
  mb_label_value(&r->b, r->node);
  mb_printf(&r->b, "\",who=\"");
  mb_label_value(&r->b, d->who);
  mb_printf(&r->b, "\",role=\"%s\",action=\"%s\",rule=\"%u\"} %llu\n",
            d->role, d->action, d->rule, (unsigned long long)d->count);
}

static void render_policy(render *r, tr_node *node) {
  tr_policy_stats s;
  if (tr_node_policy_stats(node, &s) != 0) return;
  single(r, "troupe_policy_loaded", "gauge",
         "1 while an authorization policy is in force.", (uint64_t)s.loaded);
  single(r, "troupe_policy_rules", "gauge",
         "Rules in the policy in force.", s.rules);
  single(r, "troupe_policy_changes_total", "counter",
         "Policies put in force since the node started.", s.changes);
  family(r, "troupe_policy_denied_total", "counter",
         "Requests the policy refused, by who asked (node or client name), "
         "its role, the action and the rule that decided (its line; 0: the "
         "default).");
  tr_node_policy_denials(node, on_denial, r);
}

static void render_http(render *r, const metrics_http *h) {
  const char *name = "troupe_http_connections_closed_total";
  single(r, "troupe_http_requests_total", "counter",
         "Requests the metrics endpoint answered.", h->requests);
  family(r, name, "counter",
         "Connections to the metrics endpoint closed by its limits, by "
         "reason.");
  sample_u(r, name, "reason", "refused", h->refused);
  sample_u(r, name, "reason", "evicted_slow", h->evicted);
  sample_u(r, name, "reason", "timeout", h->timed_out);
  sample_u(r, name, "reason", "too_large", h->too_large);
  single(r, "troupe_http_connections", "gauge",
         "Connections to the metrics endpoint open now.", h->conns);
}

/* The admin socket (docs/operations.md), when the node has one. */
static void render_admin(render *r, tr_node *node) {
  tr_admin_stats a;
  if (tr_node_admin_stats(node, &a) != 0) return;
  single(r, "troupe_admin_connections", "gauge",
         "Admin socket connections open now.", a.conns);
  single(r, "troupe_admin_connections_refused_total", "counter",
         "Admin socket connections refused: another user, or 16 open "
         "(logged admin_conn_refused).", a.refused);
}

/* ---- the process (Prometheus's process_* conventions) ---------------------- */

/* Linux's /proc/self: nothing is shown where it cannot be read. */
static void render_process(render *r) {
  FILE *f = fopen("/proc/self/stat", "r");
  if (!f) return;
  char line[1024];
  bool got = fgets(line, sizeof(line), f) != NULL;
  fclose(f);
  /* After the command's closing parenthesis: field 3 (state) onwards. */
  char *p = got ? strrchr(line, ')') : NULL;
  unsigned long long utime = 0, stime = 0, start = 0, vsize = 0, rss = 0;
  if (!p || sscanf(p + 2,
                   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu "
                   "%*d %*d %*d %*d %*d %*d %llu %llu %llu",
                   &utime, &stime, &start, &vsize, &rss) != 5)
    return;
  long tick = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
  unsigned long long btime = 0;
  if ((f = fopen("/proc/stat", "r"))) {
    while (fgets(line, sizeof(line), f))
      if (sscanf(line, "btime %llu", &btime) == 1) break;
    fclose(f);
  }
  if (tick <= 0 || page <= 0 || !btime) return;
  family(r, "process_cpu_seconds_total", "counter",
         "User and system CPU time the process has used, seconds.");
  sample_f(r, "process_cpu_seconds_total", NULL, NULL,
           (double)(utime + stime) / (double)tick);
  single(r, "process_resident_memory_bytes", "gauge",
         "Resident memory of the process, bytes.", rss * (uint64_t)page);
  single(r, "process_virtual_memory_bytes", "gauge",
         "Virtual memory of the process, bytes.", vsize);
  single(r, "process_start_time_seconds", "gauge",
         "When the process started, seconds since the Unix epoch.",
         btime + start / (unsigned long long)tick);
  DIR *d = opendir("/proc/self/fd");
  if (d) {
    uint64_t n = 0;
    for (struct dirent *e; (e = readdir(d));)
      if (e->d_name[0] != '.') n++;
    closedir(d);
    single(r, "process_open_fds", "gauge",
           "Open file descriptors (the listing's own included).", n);
  }
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
    single(r, "process_max_fds", "gauge",
           "The open file descriptor limit (soft).", rl.rlim_cur);
}

int metrics_render(tr_node *node, const metrics_http *http, char **out,
                   size_t *len) {
  *out = NULL;
  *len = 0;
  render r = {.node = tr_node_name(node)};
  if (!r.node) r.node = "";
  render_engine(&r, node);
  render_process(&r);
  if (http) render_http(&r, http);
  render_subscriptions(&r, node);
  render_policy(&r, node);
  render_admin(&r, node);
  tr_cluster_stats cs;
  if (tr_node_cluster_stats(node, &cs) == 0) render_cluster(&r, node, &cs);
  mb_reserve(&r.b, 0); /* an empty exposition is still a string */
  if (r.b.oom) {
    free(r.b.p);
    return TR_ENOMEM;
  }
  r.b.p[r.b.len] = '\0';
  *out = r.b.p;
  *len = r.b.len;
  return 0;
}
