/* host.c — the cluster host's lifecycle and wiring: certificates and links,
 * swim and the registry on one deadline timer, membership changes turned
 * into registry updates, system publishes and failed asks and monitors,
 * and work that callbacks must not do themselves (closing links, stopping
 * actors that lost an id) deferred to a zero-delay timer. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "host.h"

void host_log(cluster *c, tr_log_level level, const char *event,
              const char *fmt, ...) {
  if (!c->log || level > c->log_level) return;
  char fields[512];
  va_list ap;
  va_start(ap, fmt);
  tr_log_vfields(fields, sizeof(fields), fmt, ap);
  va_end(ap);
  c->log(c->log_user, level, event, fields);
}

uint64_t host_now(cluster *c) { return uv_now(c->loop); }

/* ---- peers ---------------------------------------------------------------- */

host_peer *host_peer_find(cluster *c, const char *name) {
  host_peer *p = NULL;
  HASH_FIND_STR(c->peers, name, p);
  return p;
}

host_peer *host_peer_get(cluster *c, const char *name) {
  host_peer *p = host_peer_find(c, name);
  if (p) return p;
  if (c->npeers >= c->max_peers) {
    uint64_t hits;
    c->st.peers_refused++;
    if (ratelog_hit(&c->rl_peers, host_now(c), &hits))
      host_log(c, TR_LOG_WARN, "peer_cap", "name=%s peers=%u refused=%llu",
               name, c->npeers, (unsigned long long)hits);
    return NULL;
  }
  if (c->npeers + 1 >= c->cap_peers) {
    uint32_t cap = c->cap_peers ? c->cap_peers * 2 : 16;
    host_peer **b = realloc(c->by_idx, cap * sizeof(*b));
    if (!b) return NULL;
    c->by_idx = b;
    c->cap_peers = cap;
  }
  p = calloc(1, sizeof(*p));
  if (!p) return NULL;
  p->name = strdup(name);
  if (!p->name) {
    free(p);
    return NULL;
  }
  p->idx = (uint16_t)++c->npeers;
  c->by_idx[p->idx] = p;
  HASH_ADD_KEYPTR(hh, c->peers, p->name, strlen(p->name), p);
  return p;
}

host_peer *host_peer_at(cluster *c, uint16_t idx) {
  return idx >= 1 && idx <= c->npeers ? c->by_idx[idx] : NULL;
}

static const char *host_remote_node_name(void *user, uint16_t idx) {
  host_peer *p = host_peer_at(user, idx);
  return p ? p->name : "?";
}

peer_link *host_link(cluster *c, const char *name) {
  peer_link *lk = link_find(c->links, name);
  if (lk) return lk;
  swim_update u;
  const char *addr = swim_member(c->swim, name, &u) && u.addr[0] ? u.addr
                                                                 : NULL;
  if (link_open(c->links, name, addr, &lk) != 0) return NULL;
  return lk;
}

peer_link *host_peer_link(cluster *c, host_peer *p) {
  if (!p->link) p->link = host_link(c, p->name);
  return p->link;
}

void host_close_link(cluster *c, host_peer *p, peer_link *lk) {
  if (p && p->link == lk) p->link = NULL;
  if (c->last_rx_link == lk) c->last_rx_link = NULL;
  link_close(lk);
}

/* ---- the deadline timer --------------------------------------------------- */

static void host_on_timer(uv_timer_t *h);

void host_rearm(cluster *c) {
  if (c->freeing) return;
  uint64_t d = swim_next_deadline(c->swim);
  uint64_t r = reg_next_deadline(c->reg);
  if (r < d) d = r;
  if (d == UINT64_MAX) {
    uv_timer_stop(&c->timer);
    return;
  }
  uint64_t now = host_now(c);
  uv_timer_start(&c->timer, host_on_timer, d > now ? d - now : 0, 0);
}

static void host_on_timer(uv_timer_t *h) {
  cluster *c = h->data;
  uint64_t now = host_now(c);
  c->in_sm++;
  swim_tick(c->swim, now);
  reg_tick(c->reg, now);
  c->in_sm--;
  host_rearm(c);
}

/* ---- deferred work -------------------------------------------------------- */

int strv_push(char ***v, size_t *n, size_t *cap, const char *s) {
  if (*n == *cap) {
    size_t nc = *cap ? *cap * 2 : 8;
    char **b = realloc(*v, nc * sizeof(*b));
    if (!b) return TR_ENOMEM;
    *v = b;
    *cap = nc;
  }
  char *d = strdup(s);
  if (!d) return TR_ENOMEM;
  (*v)[(*n)++] = d;
  return 0;
}

static void host_on_deferred(uv_timer_t *h) {
  cluster *c = h->data;
  /* Links to members that died or left: what they still held is reported
   * undeliverable now, not after the resume window. */
  for (size_t i = 0; i < c->nclose; i++) {
    peer_link *lk = link_find(c->links, c->close_links[i]);
    host_peer *p = host_peer_find(c, c->close_links[i]);
    if (lk && !(p && p->up)) host_close_link(c, p, lk);
    free(c->close_links[i]);
  }
  c->nclose = 0;
  /* Ids lost to another owner: the actor stops with TR_EEXIST (its
   * monitors and parent are told); its teardown releases the id. */
  for (size_t i = 0; i < c->nlost; i++) {
    int rc = eng_actor_lost(c->node, c->lost_ids[i], TR_EEXIST);
    if (rc == 1) {
      c->st.conflicts_lost++;
      host_log(c, TR_LOG_WARN, "id_conflict_lost", "id=%s", c->lost_ids[i]);
    } else if (rc == TR_ENOTFOUND) {
      reg_release(c->reg, c->lost_ids[i], host_now(c));
    }
    free(c->lost_ids[i]);
  }
  c->nlost = 0;
  /* Publishers whose owner changed: interest moves to the new owner. */
  for (size_t i = 0; i < c->nresub; i++) {
    host_pubsub_refresh(c, c->resub_ids[i], 0);
    free(c->resub_ids[i]);
  }
  c->nresub = 0;
  /* Targets whose entry changed: the credit held for them is void. */
  for (size_t i = 0; i < c->nrecredit; i++) {
    host_credit_refresh(c, c->recredit_ids[i]);
    free(c->recredit_ids[i]);
  }
  c->nrecredit = 0;
  for (size_t i = 0; i < c->nrewake; i++) {
    host_credit_rewake(c, c->rewake_ids[i]);
    free(c->rewake_ids[i]);
  }
  c->nrewake = 0;
  /* Members whose address refused a dial: strong evidence (swim_refused). */
  for (size_t i = 0; i < c->nrefused; i++) {
    if (!c->left) {
      c->in_sm++;
      swim_refused(c->swim, c->refused_ids[i], host_now(c));
      c->in_sm--;
    }
    free(c->refused_ids[i]);
  }
  if (c->nrefused) host_rearm(c);
  c->nrefused = 0;
  host_group_announce(c);
  host_credit_retry(c);
  host_rearm(c);
}

void host_defer(cluster *c) {
  if (!c->freeing) uv_timer_start(&c->deferred, host_on_deferred, 0, 0);
}

/* ---- swim and registry callbacks ------------------------------------------ */

static void host_swim_send(void *user, const char *to_name,
                           const char *to_addr, const swim_msg *m) {
  cluster *c = user;
  troupe_SwimMsg pb;
  if (ccodec_swim_prepare(&pb, m) != 0) {
    host_log(c, TR_LOG_ERROR, "swim_msg_unencodable", "type=%d", (int)m->type);
    return;
  }
  if (!to_name) {
    if (link_send_seed(c->links, to_addr, troupe_FrameKind_FRAME_SWIM, &pb,
                       troupe_SwimMsg_fields) != 0)
      host_log(c, TR_LOG_DEBUG, "seed_send_failed", "addr=%s", to_addr);
    return;
  }
  peer_link *lk = link_find(c->links, to_name);
  if (!lk && to_addr[0] && link_open(c->links, to_name, to_addr, &lk) != 0)
    lk = NULL;
  if (!lk) return; /* like a lost packet: swim copes */
  link_send_frame(lk, troupe_FrameKind_FRAME_SWIM, &pb, troupe_SwimMsg_fields);
}

/* A member's own record, signed with this node's certificate key
 * (tls_prove) so others can relay it; checked the same way. */
static size_t host_swim_sign(void *user, const swim_update *self,
                             uint8_t *out, size_t cap) {
  cluster *c = user;
  uint8_t rec[SWIM_RECORD_MAX];
  size_t n = swim_record_bytes(self, rec), len = 0;
  int rc = tls_prove(c->tls, rec, n, out, cap, &len);
  if (rc != 0) {
    host_log(c, TR_LOG_ERROR, "swim_sign_failed", "error=%s", tr_errname(rc));
    return 0;
  }
  return len;
}

/* A failure is logged once per relayer per SWIM_PROOF_PENALTY_MS: swim
 * does not check what it relays in between. */
static bool host_swim_verify(void *user, const swim_update *u,
                             const char *from) {
  cluster *c = user;
  uint8_t rec[SWIM_RECORD_MAX];
  size_t n = swim_record_bytes(u, rec);
  if (tls_proof_check(c->tls, u->name, rec, n, u->proof, u->proof_len))
    return true;
  host_log(c, TR_LOG_WARN, "swim_proof_refused",
           "member=%s from=%s epoch=%llu incarnation=%u ignore_ms=%u",
           u->name, from, (unsigned long long)u->epoch, u->incarnation,
           SWIM_PROOF_PENALTY_MS);
  return false;
}

/* A registry seal: the signature alone (tls_sign); the owner's certificate
 * is the one its membership record's proof carries. */
static size_t host_reg_sign(void *user, const uint8_t *data, size_t len,
                            uint8_t *out, size_t cap) {
  cluster *c = user;
  size_t n = 0;
  int rc = tls_sign(c->tls, data, len, out, cap, &n);
  if (rc != 0) {
    host_log(c, TR_LOG_ERROR, "registry_sign_failed", "error=%s",
             tr_errname(rc));
    return 0;
  }
  return n;
}

/* A failure is logged once per relayer per REG_PROOF_PENALTY_MS (the
 * registry does not check what it relays in between). */
static int host_reg_verify(void *user, const char *owner, const uint8_t *data,
                           size_t len, const uint8_t *proof, size_t proof_len,
                           const char *from) {
  cluster *c = user;
  swim_update m;
  if (!swim_member(c->swim, owner, &m) || !m.proof_len) return REG_PROOF_UNKNOWN;
  int rc = tls_sign_check(c->tls, owner, data, len, proof, proof_len, m.proof,
                          m.proof_len);
  if (rc == 0) return REG_PROOF_OK;
  if (rc == TR_ENOTFOUND) return REG_PROOF_UNKNOWN;
  host_log(c, TR_LOG_WARN, "registry_proof_refused",
           "owner=%s from=%s ignore_ms=%u", owner, from, REG_PROOF_PENALTY_MS);
  return REG_PROOF_BAD;
}

int host_policy_check(cluster *c, const char *who, policy_role role,
                      policy_action a, const char *object,
                      const char *topic) {
  if (!c->guard || !policy_guard_policy(c->guard)) return 0;
  policy_subject s = {who, role};
  return policy_guard_check(c->guard, &s, a, object, topic, host_now(c));
}

/* Claims' times are compared across nodes: the wall clock. */
static uint64_t host_reg_wall(void *user) {
  (void)user;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A registry holder's part of the policy: may owner register id. */
static bool host_reg_may_hold(void *user, const char *owner, const char *id) {
  if (reg_shared_id(id)) return host_group_may_hold(user, owner, id);
  return host_policy_check(user, owner, POLICY_ROLE_NODE, POLICY_REGISTER,
                           id, NULL) == 0;
}

static void host_reg_send(void *user, const char *to, const reg_msg *m) {
  cluster *c = user;
  peer_link *lk = host_link(c, to);
  if (!lk) return;
  troupe_RegMsg pb;
  if (ccodec_reg_prepare(&pb, m) != 0) {
    host_log(c, TR_LOG_ERROR, "reg_msg_unencodable", "type=%d", (int)m->type);
    return;
  }
  link_send_frame(lk, troupe_FrameKind_FRAME_REGISTRY, &pb,
                  troupe_RegMsg_fields);
}

static void host_reg_conflict_lost(void *user, const char *id,
                                   const char *winner) {
  cluster *c = user;
  host_log(c, TR_LOG_INFO, "id_conflict", "id=%s winner=%s", id, winner);
  if (strv_push(&c->lost_ids, &c->nlost, &c->cap_lost, id) == 0)
    host_defer(c);
}

static void host_reg_changed(void *user, const char *id, const char *owner) {
  cluster *c = user;
  (void)owner;
  c->reg_gen++; /* resolutions cached on the send path are stale */
  if (c->group_unannounced) host_defer(c); /* a member may be believed now */
  if (host_credit_held(c, id) &&
      strv_push(&c->recredit_ids, &c->nrecredit, &c->cap_recredit, id) == 0)
    host_defer(c);
  /* Only publishers someone here subscribes to matter. */
  if (!host_pubsub_wanted(c, id)) return;
  if (strv_push(&c->resub_ids, &c->nresub, &c->cap_resub, id) == 0)
    host_defer(c);
}

static void host_reg_held(void *user, const char *id, const char *owner,
                          bool held) {
  host_group_held(user, id, owner, held);
}

static void host_publish_member(cluster *c, uint8_t type, const char *name,
                                int status) {
  eng_publish_system(c->node, type, name, strlen(name) + 1, status);
}

static void host_member_refused(void *user, const char *name,
                                const char *from) {
  cluster *c = user;
  uint64_t hits;
  if (ratelog_hit(&c->rl_members, host_now(c), &hits))
    host_log(c, TR_LOG_WARN, "member_cap",
             "name=%s from=%s max_members=%u refused=%llu", name,
             from ? from : "-", c->max_peers - HOST_PEERS_SLACK,
             (unsigned long long)hits);
}

static void host_member_changed(void *user, const swim_update *now,
                                swim_state was, bool restarted) {
  cluster *c = user;
  if (strcmp(now->name, c->name) == 0) return; /* our own leave */
  host_peer *p = host_peer_get(c, now->name);
  if (!p) return;
  uint64_t t = host_now(c);
  bool up = now->state == SWIM_ALIVE || now->state == SWIM_SUSPECT;
  /* swim reports a member first seen with was = its state: "new". */
  bool seen_first = was == (swim_state)now->state && !restarted;
  host_log(c, now->state == SWIM_DEAD ? TR_LOG_WARN : TR_LOG_INFO, "member",
           "name=%s state=%s was=%s restarted=%d epoch=%llu", now->name,
           swim_state_name((swim_state)now->state),
           seen_first ? "new" : swim_state_name(was), restarted,
           (unsigned long long)now->epoch);
  if (up) {
    /* A restart ends everything the old process had: its asks, monitors. */
    if (restarted && p->up) {
      eng_asks_node_down(c->node, p->idx, TR_EUNREACHABLE);
      host_mon_node_down(c, p, TR_EUNREACHABLE);
      host_rask_node_down(c, p);
    }
    if (restarted) host_credit_node_down(c, p, true); /* grants void */
    host_credit_retry(c);
    if (restarted) host_pubsub_node_down(c, p); /* its interest is void */
    reg_member_up(c->reg, now->name, now->epoch, t);
    reg_member_contact(c->reg, now->name, now->state == SWIM_ALIVE, t);
    if (restarted) host_pubsub_refresh(c, NULL, p->idx);
    bool first = was == (swim_state)now->state && !restarted;
    bool came_up = first || restarted || !p->up;
    p->up = true;
    c->joined_peer = true;
    if (came_up) host_publish_member(c, TR_MSG_NODE_UP, now->name, 0);
    return;
  }
  reg_member_gone(c->reg, now->name, t);
  bool was_up = p->up;
  p->up = false;
  if (!was_up) return;
  int reason = now->state == SWIM_LEFT ? TR_ECLOSED : TR_EUNREACHABLE;
  eng_asks_node_down(c->node, p->idx, TR_EUNREACHABLE);
  host_mon_node_down(c, p, reason);
  host_rask_node_down(c, p);
  host_pubsub_node_down(c, p);
  host_pubsub_refresh(c, NULL, p->idx);
  host_credit_node_down(c, p, false);
  host_publish_member(c, TR_MSG_NODE_DOWN, now->name, reason);
  if (strv_push(&c->close_links, &c->nclose, &c->cap_close, now->name) == 0)
    host_defer(c);
}

/* ---- link callbacks ------------------------------------------------------- */

/* A large message's decoded entries are not kept once it is handled: the
 * scratch goes back under a megabyte, as ordinary gossip needs. */
static void host_scratch_trim(cluster *c) {
  if (ccodec_scratch_bytes(&c->scratch) > (1u << 20))
    ccodec_scratch_free(&c->scratch);
}

static void host_on_frame(void *user, peer_link *lk, troupe_FrameKind kind,
                          const uint8_t *body, size_t len) {
  cluster *c = user;
  if (kind == troupe_FrameKind_FRAME_OPERATOR) {
    host_op_on_frame(c, lk, body, len); /* it checks the role */
    return;
  }
  if (c->left) return;
  const char *from = link_peer(lk);
  uint64_t now = host_now(c);
  /* Only a node's certificate makes a member. */
  if (link_peer_role(lk) != TLS_PEER_NODE) goto bad;
  if (kind == troupe_FrameKind_FRAME_OPERATOR_REPLY) {
    host_inspect_on_reply(c, lk, body, len); /* to our inspect request */
    return;
  }
  if (kind == troupe_FrameKind_FRAME_SWIM) {
    swim_msg m;
    if (ccodec_swim_decode(body, len, &m, &c->scratch) != 0) goto bad;
    c->in_sm++;
    swim_receive(c->swim, from, &m, now);
    c->in_sm--;
  } else if (kind == troupe_FrameKind_FRAME_REGISTRY) {
    reg_msg m;
    if (ccodec_reg_decode(body, len, &m, &c->scratch) != 0) goto bad;
    c->in_sm++;
    reg_receive(c->reg, from, &m, now);
    c->in_sm--;
  } else {
    goto bad;
  }
  host_scratch_trim(c);
  host_rearm(c);
  return;
bad:
  host_scratch_trim(c);
  c->st.rejected++;
  host_log(c, TR_LOG_WARN, "cluster_frame_rejected", "peer=%s kind=%d len=%zu",
           from, (int)kind, len);
}

/* Nothing listens where a member's link dials: told to swim from the
 * deferred work (this runs inside the link's own close). */
static void host_on_refused(void *user, peer_link *lk) {
  cluster *c = user;
  if (c->left || c->freeing || link_peer_role(lk) == TLS_PEER_OPERATOR ||
      link_peer_role(lk) == TLS_PEER_VIEWER)
    return;
  if (strv_push(&c->refused_ids, &c->nrefused, &c->cap_refused,
                link_peer(lk)) == 0)
    host_defer(c);
}

static void host_on_state(void *user, peer_link *lk, link_state st) {
  cluster *c = user;
  tls_peer_role role = link_peer_role(lk);
  bool op = role == TLS_PEER_OPERATOR || role == TLS_PEER_VIEWER;
  if (st == LINK_DOWN && op && !c->freeing) {
    /* An operator left: its subscriptions end and its link goes (it has
     * no address, so it would only wait for a reconnect that never comes). */
    host_op_client_gone(c, link_peer(lk));
    if (strv_push(&c->close_links, &c->nclose, &c->cap_close,
                  link_peer(lk)) == 0)
      host_defer(c);
    return;
  }
  if (st == LINK_UP && role == TLS_PEER_NODE && !c->left && !c->freeing) {
    /* A peer that held this node dead (only slow, or cut off) dropped what
     * this node asked of it: ask again. Both requests are idempotent. */
    host_peer *p = host_peer_find(c, link_peer(lk));
    if (p && p->up) {
      host_pubsub_resend(c, p);
      host_mon_resend(c, p);
    }
    if (p) host_credit_link_up(c, p);
    return;
  }
  if (st != LINK_DOWN || c->left || c->freeing) return;
  /* Dial it again now (the side that accepted the link may not know its
   * address yet): a refusal says its process is gone (host_on_refused). */
  swim_update u;
  if (role == TLS_PEER_NODE && swim_member(c->swim, link_peer(lk), &u) &&
      (u.state == SWIM_ALIVE || u.state == SWIM_SUSPECT) && u.addr[0])
    link_open(c->links, link_peer(lk), u.addr, NULL);
  /* Inside swim (a send that failed at once) the hint is dropped: swim's
   * own probe finds the same. */
  if (c->in_sm) return;
  c->in_sm++;
  swim_link_closed(c->swim, link_peer(lk), host_now(c));
  c->in_sm--;
  host_rearm(c);
}

/* ---- configuration -------------------------------------------------------- */

static uint64_t wall_ms(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u;
}

/* "host:port" from the listen address: a wildcard host becomes this
 * machine's name, so peers can dial it. */
static char *host_advertise(const tr_node_config *cfg, int port) {
  if (cfg->advertise) return strdup(cfg->advertise);
  const char *colon = strrchr(cfg->listen, ':');
  size_t hlen = colon ? (size_t)(colon - cfg->listen) : 0;
  char host[256];
  if (hlen == 0 || hlen >= sizeof(host) ||
      (hlen == 1 && cfg->listen[0] == '*') ||
      strncmp(cfg->listen, "0.0.0.0", hlen) == 0) {
    if (gethostname(host, sizeof(host)) != 0) snprintf(host, sizeof(host),
                                                       "localhost");
    host[sizeof(host) - 1] = '\0';
  } else {
    memcpy(host, cfg->listen, hlen);
    host[hlen] = '\0';
  }
  char buf[SWIM_ADDR_MAX];
  int len = snprintf(buf, sizeof(buf), "%s:%d", host, port);
  if (len < 0 || (size_t)len >= sizeof(buf)) return NULL;
  return strdup(buf);
}

/* The last step of cluster_free: once the links, the timers and any seed
 * resolution are gone, nothing can call back into c. */
void host_maybe_free(cluster *c) {
  if (c->open_handles > 0 || !c->links_freed) return;
  host_seeds_release(c);
  tls_config_free(c->tls);
  for (size_t i = 0; i < c->nold_tls; i++) tls_config_free(c->old_tls[i]);
  free(c->old_tls);
  free(c->ca_file);
  free(c->cert_file);
  free(c->key_file);
  free(c->crl_file);
  free(c->name);
  free(c);
}

static void host_on_close(uv_handle_t *h) {
  cluster *c = h->data;
  c->open_handles--;
  host_maybe_free(c);
}

static void host_on_links_freed(void *user) {
  cluster *c = user;
  c->links_freed = true;
  host_maybe_free(c);
}

/* This node's certificate must be a node certificate that names it: any
 * other (an operator's, one without a role, another node's) would only be
 * refused by every peer, so the node does not start with it. */
static int host_check_own_cert(cluster *c, tls_cert_info *out) {
  tls_cert_info info;
  char err[256] = "";
  if (tls_cert_file_info(c->cert_file, c->name, &info, err, sizeof(err)) != 0) {
    host_log(c, TR_LOG_ERROR, "tls_config_failed", "error=TR_EINVAL "
             "detail=%s", err);
    return TR_EINVAL;
  }
  if (info.role == TLS_PEER_NODE && info.names_it) {
    *out = info;
    return 0;
  }
  char detail[512];
  snprintf(detail, sizeof(detail),
           "%s is %s certificate for %s, not a node certificate for %s "
           "(troupe cert node %s)", c->cert_file,
           info.role == TLS_PEER_NODE       ? "a node"
           : info.role == TLS_PEER_OPERATOR ? "an operator"
           : info.role == TLS_PEER_VIEWER   ? "a viewer"
                                            : "a role-less",
           info.cn, c->name, c->name);
  host_log(c, TR_LOG_ERROR, "certificate_refused", "cert=%s detail=%s",
           c->cert_file, detail);
  return TR_EINVAL;
}

static int host_tls_load(cluster *c, tls_config **out) {
  char err[256] = "";
  tls_cert_info own;
  int rc = host_check_own_cert(c, &own);
  if (rc != 0) return rc;
  tls_config_opts o = {.ca_file = c->ca_file,
                       .cert_file = c->cert_file,
                       .key_file = c->key_file,
                       .crl_file = c->crl_file};
  rc = tls_config_new(out, &o, err, sizeof(err));
  if (rc != 0) {
    host_log(c, TR_LOG_ERROR, "tls_config_failed", "error=%s detail=%s",
             tr_errname(rc), err);
    return rc;
  }
  c->own_cert = own; /* what troupe info shows: the certificate in use */
  tls_crl_info ci;
  tls_config_crl_info(*out, &ci);
  if (ci.loaded)
    host_log(c, ci.expired ? TR_LOG_WARN : TR_LOG_INFO,
             ci.expired ? "crl_expired" : "crl_loaded",
             "file=%s entries=%u next_update=%lld", c->crl_file, ci.entries,
             (long long)ci.next_update);
  return 0;
}

static int host_tls(cluster *c, const tr_node_config *cfg) {
  c->ca_file = strdup(cfg->ca_file);
  c->cert_file = strdup(cfg->cert_file);
  c->key_file = strdup(cfg->key_file);
  c->crl_file = cfg->crl_file ? strdup(cfg->crl_file) : NULL;
  if (!c->ca_file || !c->cert_file || !c->key_file ||
      (cfg->crl_file && !c->crl_file))
    return TR_ENOMEM;
  return host_tls_load(c, &c->tls);
}

int cluster_reload_tls(cluster *c) {
  tls_config *fresh = NULL;
  int rc = host_tls_load(c, &fresh);
  if (rc != 0) return rc;
  tls_config **old = realloc(c->old_tls, (c->nold_tls + 1) * sizeof(*old));
  if (!old) {
    tls_config_free(fresh);
    return TR_ENOMEM;
  }
  c->old_tls = old;
  c->old_tls[c->nold_tls++] = c->tls;
  c->tls = fresh;
  uint32_t revoked = link_mgr_set_tls(c->links, fresh);
  host_log(c, TR_LOG_INFO, "tls_reloaded", "cert=%s crl=%s revoked_closed=%u",
           c->cert_file, c->crl_file ? c->crl_file : "-", revoked);
  return 0;
}

void cluster_set_log_level(cluster *c, tr_log_level level) {
  c->log_level = level;
  link_mgr_set_log_level(c->links, level);
}

static int host_links(cluster *c, const tr_node_config *cfg) {
  link_config lc = {
      .loop = c->loop,
      .tls = c->tls,
      .node_name = c->name,
      .incarnation = c->epoch,
      .ops = {.on_envelope = host_on_envelope,
              .on_state = host_on_state,
              .on_undeliverable = host_on_undeliverable,
              .on_room = host_on_link_room,
              .on_frame = host_on_frame,
              .on_freed = host_on_links_freed,
              .on_refused = host_on_refused},
      .user = c,
      .log = c->log,
      .log_user = c->log_user,
      .log_level = c->log_level,
      .features_off = cfg->no_flow_credit ? WIRE_FEATURE_CREDIT : 0,
      .max_pending_conns = cfg->max_pending_conns,
      .max_dials = cfg->max_dials,
      .handshake_timeout_ms = cfg->handshake_timeout_ms,
      .max_op_conns = cfg->max_op_conns,
      .op_idle_timeout_ms = cfg->op_idle_timeout_ms,
      .memory_budget = cfg->memory_budget,
  };
  int rc = link_mgr_new(&c->links, &lc);
  if (rc != 0) return rc;
  rc = link_mgr_listen(c->links, cfg->listen);
  if (rc != 0) {
    host_log(c, TR_LOG_ERROR, "listen_failed", "addr=%s error=%s",
             cfg->listen, tr_errname(rc));
    return rc;
  }
  c->addr = host_advertise(cfg, link_mgr_port(c->links));
  return c->addr ? 0 : TR_EINVAL;
}

static int host_machines(cluster *c, const tr_node_config *cfg) {
  static const swim_ops sops = {.send = host_swim_send,
                                .member_changed = host_member_changed,
                                .sign = host_swim_sign,
                                .verify = host_swim_verify,
                                .refused = host_member_refused};
  static const reg_ops rops = {.send = host_reg_send,
                               .sign = host_reg_sign,
                               .verify = host_reg_verify,
                               .may_hold = host_reg_may_hold,
                               .wall_ms = host_reg_wall,
                               .changed = host_reg_changed,
                               .held = host_reg_held,
                               .conflict_lost = host_reg_conflict_lost};
  char tags[SWIM_TAGS_MAX + 1];
  const char *why = NULL;
  if (swim_tags_join(cfg->tags, cfg->ntags, tags, &why) != 0) {
    host_log(c, TR_LOG_ERROR, "bad_tags", "detail=%s", why);
    return TR_EINVAL;
  }
  swim_config sc = {.name = c->name,
                    .addr = c->addr,
                    .tags = tags,
                    .epoch = c->epoch,
                    .probe_interval_ms = cfg->probe_interval_ms,
                    .probe_timeout_ms = cfg->probe_timeout_ms,
                    .suspicion_min_mult = cfg->suspicion_mult,
                    .dead_reclaim_ms = cfg->member_retention_ms,
                    .max_members = c->max_peers - HOST_PEERS_SLACK};
  int rc = swim_new(&c->swim, &sc, &sops, c);
  if (rc != 0) return rc;
  reg_config rc_ = {.name = c->name,
                    .epoch = c->epoch,
                    .gossip_interval_ms = cfg->gossip_interval_ms,
                    .sync_interval_ms = cfg->sync_interval_ms};
  return reg_new(&c->reg, &rc_, &rops, c);
}

static void host_remote_pause(void *user, bool pause) {
  cluster *c = user;
  if (pause) c->st.read_pauses++;
  link_mgr_pause_reads(c->links, pause);
}

static void host_remote_leave(void *user) { cluster_leave(user); }

static void host_remote_flush(void *user) {
  cluster *c = user;
  link_mgr_flush_queued(c->links);
}

static const eng_remote_ops host_remote_ops = {
    .send = host_remote_send,
    .reply = host_remote_reply,
    .claim = host_remote_claim,
    .release = host_remote_release,
    .actor_gone = host_remote_actor_gone,
    .monitor = host_remote_monitor,
    .demonitor = host_remote_demonitor,
    .stop = host_remote_stop,
    .pause = host_remote_pause,
    .node_name = host_remote_node_name,
    .interest = host_remote_interest,
    .publish = host_remote_publish,
    .leave = host_remote_leave,
    .room = host_credit_room,
    .consumed = host_credit_consumed,
    .flush = host_remote_flush,
    .group_join = host_remote_group_join,
    .group_pick = host_remote_group_pick,
    .group_broadcast = host_remote_group_broadcast,
    .group_each = host_remote_group_each,
};

int cluster_new(cluster **out, tr_node *n, const tr_node_config *cfg,
                const eng_remote_ops **ops) {
  cluster *c = calloc(1, sizeof(*c));
  if (!c) return TR_ENOMEM;
  c->node = n;
  c->loop = tr_node_loop(n);
  c->name = strdup(tr_node_name(n));
  c->log = cfg->log;
  c->log_user = cfg->log_user;
  c->log_level = cfg->log_level ? cfg->log_level : TR_LOG_WARN;
  if (!c->name) {
    free(c);
    return TR_ENOMEM;
  }
  c->epoch = wall_ms();
  c->no_credit = cfg->no_flow_credit;
  uint32_t members = cfg->max_members ? cfg->max_members : TR_MAX_MEMBERS;
  if (members > HOST_MAX_PEERS - HOST_PEERS_SLACK)
    members = HOST_MAX_PEERS - HOST_PEERS_SLACK;
  c->max_peers = members + HOST_PEERS_SLACK;
  c->scratch.max_members = members;
  int rc = host_op_new(c, cfg->max_op_subs);
  if (rc == 0) rc = host_tls(c, cfg);
  if (rc != 0) goto fail;
  rc = host_links(c, cfg);
  if (rc != 0) goto fail;
  rc = host_machines(c, cfg);
  if (rc == 0) rc = host_session_init(c);
  if (rc != 0) goto fail;
  uv_timer_t *timers[] = {&c->timer, &c->deferred, &c->reseed,
                          &c->inspect_timer};
  for (size_t i = 0; i < 4; i++) {
    uv_timer_init(c->loop, timers[i]);
    timers[i]->data = c;
    c->open_handles++;
  }
  /* This node's own self is in the registry through swim's first
   * sighting of others; the join starts once the seeds resolve. */
  rc = host_seeds_init(c, cfg->seeds, cfg->nseeds);
  if (rc != 0) {
    cluster_free(c);
    return rc;
  }
  host_log(c, TR_LOG_INFO, "cluster_started", "name=%s addr=%s epoch=%llu "
           "seeds=%zu", c->name, c->addr, (unsigned long long)c->epoch,
           cfg->nseeds);
  *out = c;
  *ops = &host_remote_ops;
  return 0;

fail:
  host_op_free(c);
  swim_free(c->swim);
  reg_free(c->reg);
  free(c->addr);
  if (c->links) {
    /* The manager goes once the loop has run its close callbacks; c and
     * the TLS config it uses go with it (host_on_links_freed). */
    c->swim = NULL;
    c->reg = NULL;
    c->freeing = true;
    link_mgr_free(c->links);
    return rc;
  }
  c->links_freed = true;
  host_maybe_free(c);
  return rc;
}

void cluster_leave(cluster *c) {
  if (!c || c->left) return;
  c->left = true;
  swim_leave(c->swim, host_now(c));
  uv_timer_stop(&c->reseed);
  host_rearm(c);
  host_log(c, TR_LOG_INFO, "cluster_left", "name=%s", c->name);
}

void cluster_free(cluster *c) {
  if (!c) return;
  c->freeing = true;
  host_seeds_free(c);
  host_mon_free(c);
  host_rask_free(c);
  for (size_t i = 0; i < c->nclose; i++) free(c->close_links[i]);
  free(c->close_links);
  for (size_t i = 0; i < c->nlost; i++) free(c->lost_ids[i]);
  free(c->lost_ids);
  for (size_t i = 0; i < c->nresub; i++) free(c->resub_ids[i]);
  free(c->resub_ids);
  for (size_t i = 0; i < c->nrecredit; i++) free(c->recredit_ids[i]);
  free(c->recredit_ids);
  for (size_t i = 0; i < c->nrewake; i++) free(c->rewake_ids[i]);
  free(c->rewake_ids);
  for (size_t i = 0; i < c->nrefused; i++) free(c->refused_ids[i]);
  free(c->refused_ids);
  host_credit_free(c);
  host_pubsub_free(c);
  host_group_free(c);
  host_op_free(c);
  host_inspect_free(c);
  host_peer *p, *tmp;
  HASH_ITER(hh, c->peers, p, tmp) {
    HASH_DEL(c->peers, p);
    eng_name_unref(p->last_sender);
    free(p->name);
    free(p);
  }
  free(c->by_idx);
  ccodec_scratch_free(&c->scratch);
  swim_free(c->swim);
  reg_free(c->reg);
  free(c->addr);
  link_mgr_free(c->links);
  uv_close((uv_handle_t *)&c->timer, host_on_close);
  uv_close((uv_handle_t *)&c->deferred, host_on_close);
  uv_close((uv_handle_t *)&c->reseed, host_on_close);
  uv_close((uv_handle_t *)&c->inspect_timer, host_on_close);
}

/* ---- the registry, from the engine --------------------------------------- */

int host_remote_claim(void *user, const char *id) {
  cluster *c = user;
  if (c->left) return 0; /* leaving: only local ids from here on */
  c->in_sm++;
  int rc = reg_claim(c->reg, id, host_now(c));
  c->in_sm--;
  host_rearm(c);
  return rc;
}

void host_remote_release(void *user, const char *id) {
  cluster *c = user;
  c->in_sm++;
  reg_release(c->reg, id, host_now(c));
  c->in_sm--;
  host_rearm(c);
}
