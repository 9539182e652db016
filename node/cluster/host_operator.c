/* host_operator.c — requests from operators (the troupe CLI) on a cluster
 * node: a client with a certificate from the cluster CA connects to the
 * node's TLS port, without joining the cluster, and sends OpRequest frames
 * (or, on the same host, through the admin socket: op_admin.c); the node
 * answers with OpReply frames the same way. Here: the role each verb
 * needs, and the verbs that read the cluster (members, actors, health,
 * info, join, forget; inspect and session are in host_inspect.c and
 * host_session.c); the rest, the node's own (send, ask, sub, pub,
 * monitor, groups, stats, leave), are op_service.c's. The client side:
 * op_client.c. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pb_decode.h>
#include <pb_encode.h>

#include "host.h"

/* ---- replies ------------------------------------------------------------- */

/* The service's send: over the client's link, or its admin connection. */
static int op_sink(void *user, const char *client, troupe_OpReply *r) {
  cluster *c = user;
  peer_link *lk = link_find(c->links, client);
  if (lk)
    return link_send_frame(lk, troupe_FrameKind_FRAME_OPERATOR_REPLY, r,
                           troupe_OpReply_fields);
  return host_op_local_send(c, client, r);
}

static int op_judge(void *user, const char *who, policy_role role,
                    policy_action a, const char *object, const char *topic) {
  return host_policy_check(user, who, role, a, object, topic);
}

int host_op_new(cluster *c, uint32_t max_subs) {
  op_service_config oc = {.node = c->node,
                          .max_subs = max_subs,
                          .send = op_sink,
                          .judge = op_judge,
                          .inspect = NULL,
                          .user = c};
  return op_service_new(&c->ops, &oc);
}

struct host_op_local {
  UT_hash_handle hh; /* c->op_locals, keyed by name */
  int (*send)(void *user, troupe_OpReply *r);
  void *user;
  char name[TR_ID_MAX + 1];
};

int host_op_local_attach(cluster *c, const char *client,
                         int (*send)(void *user, troupe_OpReply *r),
                         void *user) {
  host_op_local *l = calloc(1, sizeof(*l));
  if (!l) return TR_ENOMEM;
  l->send = send;
  l->user = user;
  snprintf(l->name, sizeof(l->name), "%s", client);
  HASH_ADD_STR(c->op_locals, name, l);
  return 0;
}

void host_op_local_detach(cluster *c, const char *client) {
  host_op_local *l = NULL;
  HASH_FIND_STR(c->op_locals, client, l);
  if (!l) return;
  HASH_DEL(c->op_locals, l);
  free(l);
  op_service_client_gone(c->ops, client);
}

int host_op_local_send(cluster *c, const char *client, troupe_OpReply *r) {
  host_op_local *l = NULL;
  HASH_FIND_STR(c->op_locals, client, l);
  return l ? l->send(l->user, r) : TR_ECLOSED; /* the client went away */
}

void host_op_client_gone(cluster *c, const char *client) {
  op_service_client_gone(c->ops, client);
}

void host_op_free(cluster *c) {
  host_op_local *l, *tmp;
  HASH_ITER(hh, c->op_locals, l, tmp) {
    HASH_DEL(c->op_locals, l);
    free(l);
  }
  op_service_free(c->ops);
  c->ops = NULL;
}

int host_op_try_send(cluster *c, const char *client, troupe_OpReply *r,
                     uint64_t id, int status, bool more) {
  return op_service_send(c->ops, client, r, id, status, more);
}

void host_op_send(cluster *c, const char *client, troupe_OpReply *r,
                  uint64_t id, int status, bool more) {
  (void)host_op_try_send(c, client, r, id, status, more);
}

static void op_reply(cluster *c, const char *client, uint64_t id,
                     int status, const void *body, size_t len, bool more,
                     const char *from, const char *node) {
  op_service_reply(c->ops, client, id, status, body, len, more, from, node);
}

/* A reply naming the answering node, for the structured answers. */
troupe_OpReply *host_op_new_reply(cluster *c) {
  return op_service_new_reply(c->ops);
}

void host_op_status(cluster *c, const char *client, uint64_t id,
                    int status) {
  op_reply(c, client, id, status, NULL, 0, false, NULL, NULL);
}

void host_op_body(cluster *c, const char *client, uint64_t id,
                  const void *body, size_t len) {
  op_reply(c, client, id, 0, body, len, false, NULL, NULL);
}

/* ---- members, actors, stats, health --------------------------------------- */

static void op_members(cluster *c, const char *client, uint64_t id) {
  size_t total = swim_members(c->swim, NULL, 0);
  swim_update *all = malloc((total ? total : 1) * sizeof(*all));
  troupe_OpReply *r = host_op_new_reply(c);
  if (!all || !r) {
    free(all);
    free(r);
    op_reply(c, client, id, TR_ENOMEM, NULL, 0, false, NULL, NULL);
    return;
  }
  size_t got = swim_members(c->swim, all, total);
  if (got > total) got = total;
  size_t i = 0;
  do { /* one reply per batch; an empty list is one empty reply */
    r->members_count = 0;
    for (; i < got && r->members_count < OP_BATCH(members); i++) {
      const swim_update *u = &all[i];
      troupe_OpMember *m = &r->members[r->members_count++];
      *m = (troupe_OpMember)troupe_OpMember_init_zero;
      m->has_name = m->has_addr = m->has_state = m->has_epoch = true;
      m->has_incarnation = true;
      snprintf(m->name, sizeof(m->name), "%s", u->name);
      snprintf(m->addr, sizeof(m->addr), "%s", u->addr);
      m->state = u->state; /* same order as tr_member_state */
      m->epoch = u->epoch;
      m->incarnation = u->incarnation;
      if (u->tags_len && u->tags_len < sizeof(m->tags)) {
        m->has_tags = true; /* none: absent, as before tags */
        memcpy(m->tags, u->tags, u->tags_len);
        m->tags[u->tags_len] = '\0';
      }
    }
    host_op_send(c, client, r, id, 0, i < got);
  } while (i < got);
  free(all);
  free(r);
}

typedef struct actors_arg {
  cluster *c;
  troupe_OpReply *r;
  const char *client;
  uint64_t id;
  const char *only; /* a node, or NULL */
} actors_arg;

static void actors_each(void *arg, const char *id, const char *owner) {
  actors_arg *a = arg;
  if (a->only && strcmp(owner, a->only) != 0) return;
  troupe_OpActor *x = op_service_actor_row(a->c->ops, a->client, a->r, a->id);
  x->has_id = x->has_node = true;
  snprintf(x->id, sizeof(x->id), "%s", id);
  snprintf(x->node, sizeof(x->node), "%s", owner);
}

static void op_actors(cluster *c, const char *client, uint64_t id,
                      const char *only) {
  troupe_OpReply *r = host_op_new_reply(c);
  if (!r) {
    op_reply(c, client, id, TR_ENOMEM, NULL, 0, false, NULL, NULL);
    return;
  }
  actors_arg a = {c, r, client, id, only && only[0] ? only : NULL};
  swim_update m;
  if (a.only && strcmp(a.only, c->name) != 0 &&
      !swim_member(c->swim, a.only, &m)) { /* not a node this one knows */
    op_reply(c, client, id, TR_ENOTFOUND, NULL, 0, false, NULL, NULL);
    free(r);
    return;
  }
  reg_each(c->reg, actors_each, &a);
  host_op_send(c, client, r, id, 0, false); /* the last batch, maybe empty */
  free(r);
}

bool cluster_ready(cluster *c) { return c->nseeds == 0 || c->joined_peer; }

static void op_health(cluster *c, const char *client, uint64_t id) {
  troupe_OpReply *r = host_op_new_reply(c);
  if (!r) {
    op_reply(c, client, id, TR_ENOMEM, NULL, 0, false, NULL, NULL);
    return;
  }
  bool ready = cluster_ready(c) && !c->left;
  r->has_health = true;
  r->health = (troupe_OpHealth)troupe_OpHealth_init_zero;
  r->health.has_ready = r->health.has_members_up = true;
  r->health.ready = ready;
  r->health.members_up = (uint32_t)swim_alive_count(c->swim);
  host_op_send(c, client, r, id, ready ? 0 : TR_ESTATE, false);
  free(r);
}

/* ---- info, leave, join --------------------------------------------------------- */

static void op_info(cluster *c, const char *client, uint64_t id) {
  troupe_OpReply *r = host_op_new_reply(c);
  if (!r) {
    op_reply(c, client, id, TR_ENOMEM, NULL, 0, false, NULL, NULL);
    return;
  }
  tr_node_stats ns;
  tr_node_stats_get(c->node, &ns);
  tr_transport_stats ts;
  cluster_transport_stats(c, &ts);
  troupe_OpInfo *in = &r->info;
  r->has_info = true;
  *in = (troupe_OpInfo)troupe_OpInfo_init_zero;
  in->has_version = in->has_name = in->has_addr = in->has_uptime_ms = true;
  in->has_members_alive = in->has_actors = in->has_links = true;
  snprintf(in->version, sizeof(in->version), "%s", TR_VERSION_STRING);
  snprintf(in->name, sizeof(in->name), "%s", c->name);
  snprintf(in->addr, sizeof(in->addr), "%s", c->addr);
  uv_timeval64_t now;
  uint64_t now_ms = uv_gettimeofday(&now) == 0
                        ? (uint64_t)now.tv_sec * 1000u +
                              (uint64_t)now.tv_usec / 1000u
                        : c->epoch;
  in->uptime_ms = now_ms > c->epoch ? now_ms - c->epoch : 0;
  in->members_alive = (uint32_t)swim_alive_count(c->swim);
  in->actors = ns.actors;
  in->links = ts.links;
  const tls_cert_info *ci = &c->own_cert; /* the one loaded */
  in->has_cert_cn = in->has_cert_role = in->has_cert_not_after = true;
  snprintf(in->cert_cn, sizeof(in->cert_cn), "%s", ci->cn);
  snprintf(in->cert_role, sizeof(in->cert_role), "%s",
           tls_peer_role_name(ci->role));
  in->cert_not_after = ci->not_after;
  host_op_send(c, client, r, id, 0, false);
  free(r);
}

/* "ip:port" or "[ipv6]:port", numeric as a resolved seed is. */
static bool seed_addr_ok(const char *addr) {
  const char *colon = strrchr(addr, ':');
  if (!colon || !colon[1] ||
      strspn(colon + 1, "0123456789") != strlen(colon + 1))
    return false;
  int port = atoi(colon + 1);
  size_t hl = (size_t)(colon - addr);
  char host[64];
  if (port <= 0 || port > 65535 || hl == 0 || hl >= sizeof(host)) return false;
  if (addr[0] == '[') {
    if (hl < 3 || addr[hl - 1] != ']') return false;
    memcpy(host, addr + 1, hl - 2);
    host[hl - 2] = '\0';
    struct sockaddr_in6 a6;
    return uv_ip6_addr(host, port, &a6) == 0;
  }
  memcpy(host, addr, hl);
  host[hl] = '\0';
  struct sockaddr_in a4;
  return uv_ip4_addr(host, port, &a4) == 0;
}

/* Joins through another node's address, as a seed. */
static void op_join(cluster *c, const char *client, uint64_t id,
                    const char *addr) {
  if (!seed_addr_ok(addr)) {
    op_reply(c, client, id, TR_EINVAL, NULL, 0, false, NULL, NULL);
    return;
  }
  int rc = host_seeds_add(c, addr); /* beside the configured seeds */
  host_log(c, TR_LOG_INFO, "operator_join", "client=%s addr=%s result=%s",
           client, addr, rc == 0 ? "asked" : tr_errname(rc));
  op_reply(c, client, id, rc, NULL, 0, false, NULL, NULL);
}

/* ---- requests -------------------------------------------------------------- */

void host_op_request(cluster *c, const char *client, tls_peer_role role,
                     const uint8_t *body, size_t len) {
  troupe_OpRequest req;
  wire_slice data;
  if (!op_request_decode(body, len, &req, &data)) {
    c->st.rejected++;
    host_log(c, TR_LOG_WARN, "op_request_rejected", "client=%s reason=malformed",
             client);
    return;
  }
  /* Inspectors ask every second: their requests are logged at debug. */
  bool inspect = req.verb == troupe_OpVerb_OP_INSPECT;
  host_log(c, inspect ? TR_LOG_DEBUG : TR_LOG_INFO, "op_request",
           "client=%s verb=%s target=%s", client, op_verb_name(req.verb),
           req.has_target ? req.target : "-");
  /* Operator frames come from operator certificates (a viewer only
   * reads); a node may only inspect (host_inspect.c: an inspector on
   * another node gathering the cluster's view). */
  bool allowed = role == TLS_PEER_OPERATOR ||
                 (role == TLS_PEER_VIEWER && !op_verb_writes(req.verb)) ||
                 (role == TLS_PEER_NODE && inspect);
  if (!allowed) {
    uint64_t k = ++c->st.op_denied;
    c->st.rejected++;
    if ((k & (k - 1)) == 0) /* at totals 1, 2, 4, 8...: a flood stays quiet */
      host_log(c, TR_LOG_WARN, "op_request_denied",
               "client=%s role=%s verb=%s total=%llu", client,
               tls_peer_role_name(role), op_verb_name(req.verb),
               (unsigned long long)k);
    op_reply(c, client, req.id, TR_EPERM, NULL, 0, false, NULL, NULL);
    return;
  }
  /* Who the certificate names (a link's name is "NAME#session"). */
  char who[TR_ID_MAX + 1];
  snprintf(who, sizeof(who), "%s", client);
  char *hash = strchr(who, '#');
  if (hash) *hash = '\0';
  if (op_service_handle(c->ops, client, who, role == TLS_PEER_VIEWER, &req,
                        data))
    return;
  bool has_target = req.has_target && req.target[0];
  switch (req.verb) {
  case troupe_OpVerb_OP_MEMBERS:
    op_members(c, client, req.id);
    return;
  case troupe_OpVerb_OP_ACTORS:
    op_actors(c, client, req.id, req.has_target ? req.target : NULL);
    return;
  case troupe_OpVerb_OP_HEALTH:
    op_health(c, client, req.id);
    return;
  case troupe_OpVerb_OP_INSPECT:
    host_inspect_answer(c, client, &req);
    return;
  case troupe_OpVerb_OP_INFO:
    op_info(c, client, req.id);
    return;
  case troupe_OpVerb_OP_JOIN:
    if (!has_target) break;
    op_join(c, client, req.id, req.target);
    return;
  case troupe_OpVerb_OP_FORGET: {
    if (!has_target) break;
    int rc = swim_forget(c->swim, req.target);
    host_log(c, TR_LOG_INFO, "operator_forget", "client=%s member=%s result=%s",
             client, req.target, rc == 0 ? "forgotten" : tr_errname(rc));
    op_reply(c, client, req.id, rc, NULL, 0, false, NULL, NULL);
    return;
  }
  case troupe_OpVerb_OP_SESSION:
    host_session_mint(c, client, role, req.id);
    return;
  default:
    break;
  }
  op_reply(c, client, req.id, TR_EINVAL, NULL, 0, false, NULL, NULL);
}

void host_op_on_frame(cluster *c, peer_link *lk, const uint8_t *body,
                      size_t len) {
  host_op_request(c, link_peer(lk), link_peer_role(lk), body, len);
}
