/* host_operator.c — requests from operators (the troupe CLI): a client
 * with a certificate from the cluster CA connects to the node's TLS port,
 * without joining the cluster, and sends OpRequest frames; the node answers
 * with OpReply frames on the same link. members / actors / stats / health
 * are answered at once, as structured replies (lists in batches) that the
 * client formats; send goes through tr_node_send; ask and sub run as a
 * node-internal actor ("$op.<client>.<n>", never in the registry) that
 * asks or subscribes and forwards what comes back. A subscription ends when
 * the client's link goes down. The client side: op_client.c. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pb_decode.h>
#include <pb_encode.h>

#include "host.h"

/* ---- replies ------------------------------------------------------------- */

static bool encode_body(pb_ostream_t *s, const pb_field_t *f, void *const *arg) {
  const wire_slice *b = *arg;
  return pb_encode_tag_for_field(s, f) && pb_encode_string(s, b->p, b->len);
}

/* host_op_send that says whether r went: 0, or why not (logged). */
int host_op_try_send(cluster *c, const char *client, troupe_OpReply *r,
                     uint64_t id, int status, bool more) {
  peer_link *lk = link_find(c->links, client);
  if (!lk) return TR_ECLOSED; /* the client went away */
  r->has_id = r->has_status = r->has_more = true;
  r->id = id;
  r->status = status;
  r->more = more;
  int rc = link_send_frame(lk, troupe_FrameKind_FRAME_OPERATOR_REPLY, r,
                           troupe_OpReply_fields);
  if (rc != 0)
    host_log(c, TR_LOG_WARN, "op_reply_lost", "client=%s error=%s", client,
             tr_errname(rc));
  return rc;
}

/* Sends r (id, status and more set here) to the client; a reply that
 * cannot go is logged (op_reply_lost). */
void host_op_send(cluster *c, const char *client, troupe_OpReply *r,
                  uint64_t id, int status, bool more) {
  (void)host_op_try_send(c, client, r, id, status, more);
}

static void op_reply(cluster *c, const char *client, uint64_t id,
                     int status, const void *body, size_t len, bool more,
                     const char *from, const char *node) {
  troupe_OpReply r = troupe_OpReply_init_zero;
  wire_slice b = {body, len};
  if (len) {
    r.body.funcs.encode = encode_body;
    r.body.arg = &b;
  }
  if (from) {
    r.has_from = true;
    snprintf(r.from, sizeof(r.from), "%s", from);
  }
  if (node) {
    r.has_node = true;
    snprintf(r.node, sizeof(r.node), "%s", node);
  }
  host_op_send(c, client, &r, id, status, more);
}

/* A reply naming the answering node, for the structured answers. */
troupe_OpReply *host_op_new_reply(cluster *c) {
  troupe_OpReply *r = malloc(sizeof(*r));
  if (!r) return NULL;
  *r = (troupe_OpReply)troupe_OpReply_init_zero;
  r->has_node = true;
  snprintf(r->node, sizeof(r->node), "%s", c->name);
  return r;
}

void host_op_status(cluster *c, const char *client, uint64_t id,
                    int status) {
  op_reply(c, client, id, status, NULL, 0, false, NULL, NULL);
}

void host_op_body(cluster *c, const char *client, uint64_t id,
                  const void *body, size_t len) {
  op_reply(c, client, id, 0, body, len, false, NULL, NULL);
}

#define OP_BATCH(field) (sizeof(((troupe_OpReply *)0)->field) / \
                         sizeof(((troupe_OpReply *)0)->field[0]))

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
  troupe_OpReply *r = a->r;
  if (r->actors_count == OP_BATCH(actors)) { /* a full batch goes now */
    host_op_send(a->c, a->client, r, a->id, 0, true);
    r->actors_count = 0;
  }
  troupe_OpActor *x = &r->actors[r->actors_count++];
  *x = (troupe_OpActor)troupe_OpActor_init_zero;
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

typedef struct groups_arg {
  cluster *c;
  troupe_OpReply *r;
  const char *client;
  uint64_t id;
} groups_arg;

static void groups_each(void *arg, const tr_group_member *m) {
  groups_arg *a = arg;
  troupe_OpReply *r = a->r;
  if (r->actors_count == OP_BATCH(actors)) { /* a full batch goes now */
    host_op_send(a->c, a->client, r, a->id, 0, true);
    r->actors_count = 0;
  }
  troupe_OpActor *x = &r->actors[r->actors_count++];
  *x = (troupe_OpActor)troupe_OpActor_init_zero;
  x->has_id = x->has_node = x->has_group = true;
  snprintf(x->id, sizeof(x->id), "%s", m->id);
  snprintf(x->node, sizeof(x->node), "%s", m->node);
  snprintf(x->group, sizeof(x->group), "%s", m->group);
}

/* Every member of group (NULL or "": of every group), as this node knows
 * them: each node holds every group. */
static void op_groups(cluster *c, const char *client, uint64_t id,
                      const char *group) {
  troupe_OpReply *r = host_op_new_reply(c);
  if (!r) {
    op_reply(c, client, id, TR_ENOMEM, NULL, 0, false, NULL, NULL);
    return;
  }
  groups_arg a = {c, r, client, id};
  int rc = tr_group_members(c->node, group && group[0] ? group : NULL, 0,
                            groups_each, &a);
  host_op_send(c, client, r, id, rc < 0 ? rc : 0, false); /* the last batch */
  free(r);
}

bool cluster_ready(cluster *c) { return c->nseeds == 0 || c->joined_peer; }

/* The node's counters, from its own view (node_inspect.c): as many as
 * one reply holds. */
static void stats_counter(void *arg, const char *node, const char *name,
                          uint64_t v) {
  (void)node;
  troupe_OpReply *r = arg;
  if (r->counters_count == OP_BATCH(counters)) return;
  troupe_OpCounter *k = &r->counters[r->counters_count++];
  *k = (troupe_OpCounter)troupe_OpCounter_init_zero;
  k->has_name = k->has_value = true;
  snprintf(k->name, sizeof(k->name), "%s", name);
  k->value = v;
}

static void op_stats(cluster *c, const char *client, uint64_t id) {
  troupe_OpReply *r = host_op_new_reply(c);
  if (!r || !c->inspect_local) {
    free(r);
    op_reply(c, client, id, r ? TR_EINVAL : TR_ENOMEM, NULL, 0, false, NULL,
             NULL);
    return;
  }
  tr_inspect_query q = {.what = TR_INSPECT_COUNTERS};
  tr_inspect_fns fns = {.counter = stats_counter};
  uint32_t total;
  int rc = c->inspect_local(c->node, &q, &fns, r, &total);
  host_op_send(c, client, r, id, rc, false);
  free(r);
}

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

/* Answers first, then leaves as SIGTERM would: the reply goes out while
 * the loop writes the goodbyes. */
static void op_leave(cluster *c, const char *client, uint64_t id) {
  op_reply(c, client, id, 0, NULL, 0, false, NULL, NULL);
  host_log(c, TR_LOG_INFO, "operator_leave", "client=%s", client);
  tr_node_stop(c->node);
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

/* ---- ask and sub: an internal actor per request ----------------------------- */

/* What one client runs (asks and subscriptions), against max_op_subs. */
struct host_op_client {
  UT_hash_handle hh; /* c->op_clients, keyed by name */
  uint32_t actors;
  char name[TR_ID_MAX + 1];
};

static host_op_client *op_client_find(cluster *c, const char *name) {
  host_op_client *k = NULL;
  HASH_FIND_STR(c->op_clients, name, k);
  return k;
}

static void op_client_count(cluster *c, const char *name, int delta) {
  host_op_client *k = op_client_find(c, name);
  if (!k && delta > 0) {
    if (!(k = calloc(1, sizeof(*k)))) return; /* uncounted: not capped */
    snprintf(k->name, sizeof(k->name), "%s", name);
    HASH_ADD_STR(c->op_clients, name, k);
  }
  if (!k) return;
  if (delta < 0 && k->actors > 0) k->actors--;
  if (delta > 0) k->actors++;
  if (k->actors == 0) {
    HASH_DEL(c->op_clients, k);
    free(k);
  }
}

void host_op_free(cluster *c) {
  host_op_client *k, *tmp;
  HASH_ITER(hh, c->op_clients, k, tmp) {
    HASH_DEL(c->op_clients, k);
    free(k);
  }
}

struct op_actor {
  cluster *c;
  op_actor *next, *prev; /* c->op_actors, while it runs */
  char self[TR_ID_MAX + 1];
  char client[TR_ID_MAX + 1];
  uint64_t id;
  uint32_t verb;
};

typedef struct op_start {
  cluster *c;
  const char *client;
  const troupe_OpRequest *req;
  wire_slice data;
} op_start;

static int op_init(tr_ctx *ctx, void *state, const void *arg) {
  op_actor *o = state;
  const op_start *s = arg;
  o->c = s->c;
  snprintf(o->client, sizeof(o->client), "%s", s->client);
  o->id = s->req->id;
  o->verb = s->req->verb;
  int rc;
  if (o->verb == troupe_OpVerb_OP_ASK) {
    rc = tr_ask(ctx, s->req->target, s->data.p, s->data.len,
                s->req->timeout_ms, NULL);
  } else {
    /* An operator subscribing to a publisher no node has would wait for
     * nothing: say so (the system publisher is every node's). */
    char owner[TR_ID_MAX + 1];
    rc = strcmp(s->req->target, TR_SYSTEM_PUBLISHER) == 0
             ? 0
             : tr_node_locate(o->c->node, s->req->target, owner,
                              sizeof(owner));
    if (rc == 0)
      rc = tr_subscribe_topic(ctx, s->req->target,
                              s->req->has_topic ? s->req->topic : "");
    if (rc == 0) /* subscribed: the stream has begun */
      op_reply(o->c, o->client, o->id, 0, NULL, 0, true, NULL, NULL);
  }
  if (rc != 0) {
    op_reply(o->c, o->client, o->id, rc, NULL, 0, false, NULL, NULL);
    return rc;
  }
  /* Listed from here on; its deinit unlists it (no deinit after a failed
   * init). */
  snprintf(o->self, sizeof(o->self), "%s", tr_self(ctx));
  o->next = o->c->op_actors;
  if (o->next) o->next->prev = o;
  o->c->op_actors = o;
  op_client_count(o->c, o->client, +1);
  return 0;
}

static void op_deinit(tr_ctx *ctx, void *state) {
  op_actor *o = state;
  cluster *c = o->c;
  if (o->prev)
    o->prev->next = o->next;
  else
    c->op_actors = o->next;
  if (o->next) o->next->prev = o->prev;
  op_client_count(c, o->client, -1);
}

static int op_receive(tr_ctx *ctx, void *state, const tr_envelope *env) {
  op_actor *o = state;
  if (env->type == TR_MSG_REPLY && o->verb == troupe_OpVerb_OP_ASK) {
    op_reply(o->c, o->client, o->id, env->status, env->data, env->len, false,
             env->sender, env->node);
    return tr_stop(ctx);
  }
  if (o->verb != troupe_OpVerb_OP_SUB) return 0;
  if (env->type == TR_MSG_PUBLISH) {
    op_reply(o->c, o->client, o->id, 0, env->data, env->len, true,
             env->sender, env->node);
    return 0;
  }
  /* The system publisher's events, as a line of text each:
   * "node_up n2", "node_down n3 dead", "group_join workers w1 n2". */
  const char *what = env->type == TR_MSG_NODE_UP      ? "node_up"
                     : env->type == TR_MSG_NODE_DOWN  ? "node_down"
                     : env->type == TR_MSG_GROUP_JOIN ? "group_join"
                     : env->type == TR_MSG_GROUP_LEAVE ? "group_leave"
                                                       : NULL;
  if (!what) return 0;
  /* data: NUL-terminated strings (a member's name; or an actor's id and
   * its node's name). */
  const char *first = env->len ? env->data : "";
  size_t fl = strnlen(first, env->len);
  const char *second = fl + 1 < env->len ? first + fl + 1 : "";
  size_t sl = fl + 1 < env->len ? strnlen(second, env->len - fl - 1) : 0;
  char line[3 * TR_ID_MAX + 80];
  int n;
  if (env->type == TR_MSG_NODE_UP || env->type == TR_MSG_NODE_DOWN)
    n = snprintf(line, sizeof(line), "%s %.*s%s", what, (int)fl, first,
                 env->type == TR_MSG_NODE_UP       ? ""
                 : env->status == TR_EUNREACHABLE ? " dead"
                                                  : " left");
  else
    n = snprintf(line, sizeof(line), "%s %s %.*s %.*s", what,
                 env->group ? env->group : "", (int)fl, first, (int)sl,
                 second);
  if (n > 0)
    op_reply(o->c, o->client, o->id, 0, line,
             (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1, true,
             env->sender, env->node);
  return 0;
}

static const tr_actor_type op_type = {.name = "$op",
                                      .state_size = sizeof(op_actor),
                                      .init = op_init,
                                      .receive = op_receive,
                                      .deinit = op_deinit};

static void op_spawn(cluster *c, const char *client,
                     const troupe_OpRequest *req, wire_slice data) {
  host_op_client *k = op_client_find(c, client);
  if (k && k->actors >= c->max_op_subs) {
    uint64_t hits;
    c->st.op_subs_refused++;
    if (ratelog_hit(&c->rl_op_subs, host_now(c), &hits))
      host_log(c, TR_LOG_WARN, "operator_subs_cap",
               "client=%s max_op_subs=%u refused=%llu", client,
               c->max_op_subs, (unsigned long long)hits);
    op_reply(c, client, req->id, TR_EFULL, NULL, 0, false, NULL, NULL);
    return;
  }
  char id[TR_ID_MAX + 1];
  snprintf(id, sizeof(id), "$op.%.200s.%" PRIu64, client, ++c->op_seq);
  op_start s = {c, client, req, data};
  int rc = eng_spawn_system(c->node, &op_type, id, &s);
  /* TR_EINIT: op_init has answered with the reason already. */
  if (rc != 0 && rc != TR_EINIT)
    op_reply(c, client, req->id, rc, NULL, 0, false, NULL, NULL);
}

/* The client's link went down: its subscriptions end. */
void host_op_client_gone(cluster *c, const char *client) {
  /* A stop now unlists the actor (its deinit); one inside its own callback
   * stops after it and stays listed until then. */
  for (op_actor *o = c->op_actors, *next; o; o = next) {
    next = o->next;
    if (strcmp(o->client, client) == 0)
      eng_stop_now(c->node, o->self, TR_ECLOSED);
  }
}

/* ---- requests -------------------------------------------------------------- */

static bool decode_slice(pb_istream_t *s, const pb_field_t *f, void **arg) {
  (void)f;
  wire_slice *sl = *arg;
  sl->p = s->state;
  sl->len = s->bytes_left;
  return pb_read(s, NULL, s->bytes_left);
}

/* For log lines: the verb's name ("members"), or "unknown". */
static const char *op_verb_name(uint32_t verb) {
  static const char *const names[] = {
      "none",   "members", "actors",  "send", "ask",   "sub",  "stats",
      "health", "groups",  "inspect", "session", "info", "leave", "join",
      "forget"};
  return verb < sizeof(names) / sizeof(names[0]) ? names[verb] : "unknown";
}

void host_op_on_frame(cluster *c, peer_link *lk, const uint8_t *body,
                      size_t len) {
  const char *client = link_peer(lk);
  troupe_OpRequest req = troupe_OpRequest_init_zero;
  wire_slice data = {0};
  req.data.funcs.decode = decode_slice;
  req.data.arg = &data;
  pb_istream_t s = pb_istream_from_buffer(body, len);
  bool ok = pb_decode_ex(&s, troupe_OpRequest_fields, &req, PB_DECODE_NOINIT);
  /* A bytes field sent with another wire type lands on nanopb's stack. */
  if (ok && data.p && (data.p < body || data.len > len ||
                       data.p > body + len - data.len))
    ok = false;
  if (!ok) {
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
  tls_peer_role role = link_peer_role(lk);
  bool writes = req.verb == troupe_OpVerb_OP_SEND ||
                req.verb == troupe_OpVerb_OP_ASK ||
                req.verb == troupe_OpVerb_OP_LEAVE ||
                req.verb == troupe_OpVerb_OP_JOIN ||
                req.verb == troupe_OpVerb_OP_FORGET;
  bool allowed = role == TLS_PEER_OPERATOR ||
                 (role == TLS_PEER_VIEWER && !writes) ||
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
  /* To one member of a group: the node picks it, and from here on it is a
   * send or ask to that member (judged as one). */
  if (writes && req.has_group && req.group[0]) {
    int rc = eng_group_pick(c->node, req.group, req.target,
                            sizeof(req.target));
    if (rc != 0) {
      op_reply(c, client, req.id, rc, NULL, 0, false, NULL, NULL);
      return;
    }
    req.has_target = true;
  }
  bool has_target = req.has_target && req.target[0];
  /* The node's policy, for who the certificate names (the link's name is
   * "NAME#session"). */
  bool judged = req.verb == troupe_OpVerb_OP_SEND ||
                req.verb == troupe_OpVerb_OP_ASK ||
                req.verb == troupe_OpVerb_OP_SUB; /* on an actor */
  if (has_target && judged) {
    char who[TR_ID_MAX + 1];
    snprintf(who, sizeof(who), "%s", client);
    char *hash = strchr(who, '#');
    if (hash) *hash = '\0';
    policy_action a = req.verb == troupe_OpVerb_OP_SEND  ? POLICY_SEND
                      : req.verb == troupe_OpVerb_OP_ASK ? POLICY_ASK
                                                         : POLICY_SUBSCRIBE;
    int rc = host_policy_check(
        c, who,
        role == TLS_PEER_VIEWER ? POLICY_ROLE_VIEWER : POLICY_ROLE_OPERATOR, a,
        req.target,
        a == POLICY_SUBSCRIBE ? (req.has_topic ? req.topic : "") : NULL);
    if (rc != 0) {
      op_reply(c, client, req.id, rc, NULL, 0, false, NULL, NULL);
      return;
    }
  }
  switch (req.verb) {
  case troupe_OpVerb_OP_MEMBERS:
    op_members(c, client, req.id);
    return;
  case troupe_OpVerb_OP_ACTORS:
    op_actors(c, client, req.id, req.has_target ? req.target : NULL);
    return;
  case troupe_OpVerb_OP_STATS:
    op_stats(c, client, req.id);
    return;
  case troupe_OpVerb_OP_GROUPS:
    op_groups(c, client, req.id, req.has_target ? req.target : NULL);
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
  case troupe_OpVerb_OP_LEAVE:
    op_leave(c, client, req.id);
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
  case troupe_OpVerb_OP_SEND: {
    int rc = has_target
                 ? eng_send_judged(c->node, req.target, data.p, data.len)
                 : TR_EINVAL;
    op_reply(c, client, req.id, rc, NULL, 0, false, NULL, NULL);
    return;
  }
  case troupe_OpVerb_OP_ASK:
  case troupe_OpVerb_OP_SUB:
    if (!has_target) break;
    op_spawn(c, client, &req, data);
    return;
  default:
    break;
  }
  op_reply(c, client, req.id, TR_EINVAL, NULL, 0, false, NULL, NULL);
}
