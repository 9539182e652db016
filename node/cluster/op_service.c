/* op_service.c — the operator verbs that need no cluster (op_service.h):
 * send, groups, stats and leave are answered at once; ask, sub and monitor
 * run as a node-internal actor ("$op.<client>.<n>", never in the registry)
 * that asks, subscribes or taps the node's log and forwards what comes
 * back until the client goes; pub publishes through an operator publisher,
 * a registered actor made by the first pub to it. The carriers (a cluster
 * node's links, the admin socket) decode, check the role and hand the
 * request here; replies go back through their send callback. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pb_decode.h>
#include <pb_encode.h>
#include <uv.h>

#include "eng_node.h"
#include "eng_remote.h"
#include "op_service.h"
#include "ratelog.h"
#include "uthash.h"

typedef struct op_actor op_actor;
typedef struct op_client op_client;

struct op_service {
  op_service_config cfg;
  op_service_stats st;
  uint64_t seq;          /* request actors spawned */
  op_actor *actors;      /* running ones */
  op_client *clients;    /* how many each client runs, by name */
  ratelog rl_subs, rl_pubs;
  uv_timer_t flush;      /* monitors' lines go out from here */
};

/* What one client runs (asks, subscriptions, monitors), against
 * max_subs. */
struct op_client {
  UT_hash_handle hh;
  uint32_t actors;
  char name[TR_ID_MAX + 1];
};

/* ---- replies -------------------------------------------------------------- */

static bool encode_body(pb_ostream_t *s, const pb_field_t *f,
                        void *const *arg) {
  const wire_slice *b = *arg;
  return pb_encode_tag_for_field(s, f) && pb_encode_string(s, b->p, b->len);
}

static int send_quiet(op_service *s, const char *client, troupe_OpReply *r,
                      uint64_t id, int status, bool more) {
  r->has_id = r->has_status = r->has_more = true;
  r->id = id;
  r->status = status;
  r->more = more;
  return s->cfg.send(s->cfg.user, client, r);
}

int op_service_send(op_service *s, const char *client, troupe_OpReply *r,
                    uint64_t id, int status, bool more) {
  int rc = send_quiet(s, client, r, id, status, more);
  if (rc != 0 && rc != TR_ECLOSED) /* closed: the client went away */
    eng_log(s->cfg.node, TR_LOG_WARN, "op_reply_lost", "client=%s error=%s",
            client, tr_errname(rc));
  return rc;
}

void op_service_reply(op_service *s, const char *client, uint64_t id,
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
  (void)op_service_send(s, client, &r, id, status, more);
}

static void reply_status(op_service *s, const char *client, uint64_t id,
                         int status) {
  op_service_reply(s, client, id, status, NULL, 0, false, NULL, NULL);
}

/* ---- the clients' counts ------------------------------------------------------ */

static op_client *client_find(op_service *s, const char *name) {
  op_client *k = NULL;
  HASH_FIND_STR(s->clients, name, k);
  return k;
}

static void client_count(op_service *s, const char *name, int delta) {
  op_client *k = client_find(s, name);
  if (!k && delta > 0) {
    if (!(k = calloc(1, sizeof(*k)))) return; /* uncounted: not capped */
    snprintf(k->name, sizeof(k->name), "%s", name);
    HASH_ADD_STR(s->clients, name, k);
  }
  if (!k) return;
  if (delta < 0 && k->actors > 0) k->actors--;
  if (delta > 0) k->actors++;
  if (k->actors == 0) {
    HASH_DEL(s->clients, k);
    free(k);
  }
}

/* ---- groups, stats, leave -------------------------------------------------- */

typedef struct groups_arg {
  op_service *s;
  troupe_OpReply *r;
  const char *client;
  uint64_t id;
} groups_arg;

troupe_OpActor *op_service_actor_row(op_service *s, const char *client,
                                     troupe_OpReply *r, uint64_t id) {
  if (r->actors_count == OP_BATCH(actors)) { /* a full batch goes now */
    op_service_send(s, client, r, id, 0, true);
    r->actors_count = 0;
  }
  troupe_OpActor *x = &r->actors[r->actors_count++];
  *x = (troupe_OpActor)troupe_OpActor_init_zero;
  return x;
}

static void groups_each(void *arg, const tr_group_member *m) {
  groups_arg *a = arg;
  troupe_OpActor *x = op_service_actor_row(a->s, a->client, a->r, a->id);
  x->has_id = x->has_node = x->has_group = true;
  snprintf(x->id, sizeof(x->id), "%s", m->id);
  snprintf(x->node, sizeof(x->node), "%s", m->node);
  snprintf(x->group, sizeof(x->group), "%s", m->group);
}

troupe_OpReply *op_service_new_reply(op_service *s) {
  troupe_OpReply *r = malloc(sizeof(*r));
  if (!r) return NULL;
  *r = (troupe_OpReply)troupe_OpReply_init_zero;
  r->has_node = true;
  snprintf(r->node, sizeof(r->node), "%s", tr_node_name(s->cfg.node));
  return r;
}

/* Every member of group (NULL or "": of every group), as this node knows
 * them: each node holds every group. */
static void op_groups(op_service *s, const char *client, uint64_t id,
                      const char *group) {
  troupe_OpReply *r = op_service_new_reply(s);
  if (!r) {
    reply_status(s, client, id, TR_ENOMEM);
    return;
  }
  groups_arg a = {s, r, client, id};
  int rc = tr_group_members(s->cfg.node, group && group[0] ? group : NULL, 0,
                            groups_each, &a);
  op_service_send(s, client, r, id, rc < 0 ? rc : 0, false); /* the last */
  free(r);
}

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

static void op_stats(op_service *s, const char *client, uint64_t id) {
  troupe_OpReply *r = op_service_new_reply(s);
  if (!r || !s->cfg.inspect) {
    free(r);
    reply_status(s, client, id, r ? TR_EINVAL : TR_ENOMEM);
    return;
  }
  tr_inspect_query q = {.what = TR_INSPECT_COUNTERS};
  tr_inspect_fns fns = {.counter = stats_counter};
  uint32_t total;
  int rc = s->cfg.inspect(s->cfg.node, &q, &fns, r, &total);
  op_service_send(s, client, r, id, rc, false);
  free(r);
}

/* Answers first, then stops as SIGTERM would (a cluster node leaves): the
 * reply goes out while the loop writes the goodbyes. */
static void op_leave(op_service *s, const char *client, uint64_t id) {
  reply_status(s, client, id, 0);
  eng_log(s->cfg.node, TR_LOG_INFO, "operator_leave", "client=%s", client);
  tr_node_stop(s->cfg.node);
}

/* ---- ask, sub, monitor: an internal actor per request ------------------------- */

/* A monitor's log lines wait in its queue until the service's timer sends
 * them: a line may be logged from inside any layer (the links' own code
 * included), where sending is not safe. */
#define MONITOR_QUEUE_MAX 256u

typedef struct mon_line {
  struct mon_line *next;
  tr_log_level level;
  char event[64];
  size_t len;
  char fields[];
} mon_line;

struct op_actor {
  op_service *s;
  op_actor *next, *prev; /* s->actors, while it runs */
  char self[TR_ID_MAX + 1];
  char client[TR_ID_MAX + 1];
  uint64_t id;
  uint32_t verb;
  eng_log_tap *tap;          /* monitor: on the node's log */
  mon_line *queued, *tail;   /* monitor: lines to send */
  uint32_t nqueued;
  bool flushing;
  uint64_t dropped; /* monitor: lines not sent since the last that went */
};

typedef struct op_start {
  op_service *s;
  const char *client;
  const troupe_OpRequest *req;
  wire_slice data;
} op_start;

static void on_flush(uv_timer_t *t) { op_service_flush(t->data); }

static void monitor_line(void *user, tr_log_level level, const char *event,
                         const char *fields) {
  op_actor *o = user;
  if (o->flushing) return; /* what sending logs would feed itself */
  size_t len = strlen(fields);
  mon_line *l = o->nqueued < MONITOR_QUEUE_MAX
                    ? malloc(sizeof(*l) + len + 1)
                    : NULL;
  if (!l) { /* a flood: said in the stream once there is room */
    o->dropped++;
    o->s->st.lines_dropped++;
    return;
  }
  l->next = NULL;
  l->level = level;
  snprintf(l->event, sizeof(l->event), "%s", event);
  l->len = len;
  memcpy(l->fields, fields, len + 1);
  *(o->tail ? &o->tail->next : &o->queued) = l;
  o->tail = l;
  o->nqueued++;
  if (!uv_is_active((uv_handle_t *)&o->s->flush))
    uv_timer_start(&o->s->flush, on_flush, 0, 0);
}

/* One line to the client: 0, or it had no room. */
static int monitor_send(op_actor *o, tr_log_level level, const char *event,
                        const char *fields, size_t len) {
  troupe_OpReply r = troupe_OpReply_init_zero;
  wire_slice b = {(const uint8_t *)fields, len};
  r.has_node = r.has_log_level = r.has_event = true;
  snprintf(r.node, sizeof(r.node), "%s", tr_node_name(o->s->cfg.node));
  r.body.funcs.encode = len ? encode_body : NULL;
  r.body.arg = &b;
  r.log_level = level;
  snprintf(r.event, sizeof(r.event), "%s", event);
  return send_quiet(o->s, o->client, &r, o->id, 0, true);
}

static void monitor_flush(op_actor *o) {
  mon_line *list = o->queued;
  o->queued = o->tail = NULL;
  o->nqueued = 0;
  o->flushing = true;
  for (mon_line *l = list, *next; l; l = next) {
    next = l->next;
    if (o->dropped) {
      char lost[48];
      int n = snprintf(lost, sizeof(lost), "count=%llu",
                       (unsigned long long)o->dropped);
      if (monitor_send(o, TR_LOG_WARN, "monitor_lines_dropped", lost,
                       (size_t)n) == 0)
        o->dropped = 0;
    }
    if (o->dropped ||
        monitor_send(o, l->level, l->event, l->fields, l->len) != 0) {
      o->dropped++;
      o->s->st.lines_dropped++;
    }
    free(l);
  }
  o->flushing = false;
}

static void monitor_discard(op_actor *o) {
  for (mon_line *l = o->queued, *next; l; l = next) {
    next = l->next;
    free(l);
  }
  o->queued = o->tail = NULL;
  o->nqueued = 0;
}

void op_service_flush(op_service *s) {
  for (op_actor *o = s->actors; o; o = o->next)
    if (o->queued) monitor_flush(o);
}

/* monitor: the node's cluster events (as sub '$system') and its log up to
 * the level asked. */
static int monitor_start(tr_ctx *ctx, op_actor *o, uint32_t level) {
  tr_log_level l = level ? (tr_log_level)level : TR_LOG_INFO;
  if (l < TR_LOG_ERROR || l > TR_LOG_DEBUG) return TR_EINVAL;
  int rc = tr_subscribe(ctx, TR_SYSTEM_PUBLISHER);
  if (rc != 0) return rc;
  o->tap = eng_log_tap_add(o->s->cfg.node, l, monitor_line, o);
  return o->tap ? 0 : TR_ENOMEM;
}

static int op_init(tr_ctx *ctx, void *state, const void *arg) {
  op_actor *o = state;
  const op_start *st = arg;
  op_service *s = o->s = st->s;
  snprintf(o->client, sizeof(o->client), "%s", st->client);
  o->id = st->req->id;
  o->verb = st->req->verb;
  int rc;
  if (o->verb == troupe_OpVerb_OP_ASK) {
    rc = tr_ask(ctx, st->req->target, st->data.p, st->data.len,
                st->req->timeout_ms, NULL);
  } else if (o->verb == troupe_OpVerb_OP_MONITOR) {
    rc = monitor_start(ctx, o, st->req->has_level ? st->req->level : 0);
    if (rc == 0) /* the stream has begun */
      op_service_reply(s, o->client, o->id, 0, NULL, 0, true, NULL, NULL);
  } else {
    /* An operator subscribing to a publisher no node has would wait for
     * nothing: say so (the system publisher is every node's). */
    char owner[TR_ID_MAX + 1];
    rc = strcmp(st->req->target, TR_SYSTEM_PUBLISHER) == 0
             ? 0
             : tr_node_locate(s->cfg.node, st->req->target, owner,
                              sizeof(owner));
    if (rc == 0)
      rc = tr_subscribe_topic(ctx, st->req->target,
                              st->req->has_topic ? st->req->topic : "");
    if (rc == 0) /* subscribed: the stream has begun */
      op_service_reply(s, o->client, o->id, 0, NULL, 0, true, NULL, NULL);
  }
  if (rc != 0) {
    eng_log_tap_remove(s->cfg.node, o->tap);
    reply_status(s, o->client, o->id, rc);
    return rc;
  }
  /* Listed from here on; its deinit unlists it (no deinit after a failed
   * init). */
  snprintf(o->self, sizeof(o->self), "%s", tr_self(ctx));
  o->next = s->actors;
  if (o->next) o->next->prev = o;
  s->actors = o;
  client_count(s, o->client, +1);
  return 0;
}

static void op_deinit(tr_ctx *ctx, void *state) {
  (void)ctx;
  op_actor *o = state;
  op_service *s = o->s;
  eng_log_tap_remove(s->cfg.node, o->tap);
  monitor_discard(o);
  if (o->prev)
    o->prev->next = o->next;
  else
    s->actors = o->next;
  if (o->next) o->next->prev = o->prev;
  client_count(s, o->client, -1);
}

static int op_receive(tr_ctx *ctx, void *state, const tr_envelope *env) {
  op_actor *o = state;
  op_service *s = o->s;
  if (env->type == TR_MSG_REPLY && o->verb == troupe_OpVerb_OP_ASK) {
    op_service_reply(s, o->client, o->id, env->status, env->data, env->len,
                     false, env->sender, env->node);
    return tr_stop(ctx);
  }
  if (o->verb != troupe_OpVerb_OP_SUB && o->verb != troupe_OpVerb_OP_MONITOR)
    return 0;
  if (env->type == TR_MSG_PUBLISH) {
    op_service_reply(s, o->client, o->id, 0, env->data, env->len, true,
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
    op_service_reply(s, o->client, o->id, 0, line,
                     (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1,
                     true, env->sender, env->node);
  return 0;
}

static const tr_actor_type op_type = {.name = "$op",
                                      .state_size = sizeof(op_actor),
                                      .init = op_init,
                                      .receive = op_receive,
                                      .deinit = op_deinit};

static void op_spawn(op_service *s, const char *client,
                     const troupe_OpRequest *req, wire_slice data) {
  op_client *k = client_find(s, client);
  if (k && k->actors >= s->cfg.max_subs) {
    uint64_t hits;
    s->st.subs_refused++;
    if (ratelog_hit(&s->rl_subs, uv_now(tr_node_loop(s->cfg.node)), &hits))
      eng_log(s->cfg.node, TR_LOG_WARN, "operator_subs_cap",
              "client=%s max_op_subs=%u refused=%llu", client,
              s->cfg.max_subs, (unsigned long long)hits);
    reply_status(s, client, req->id, TR_EFULL);
    return;
  }
  char id[TR_ID_MAX + 1];
  snprintf(id, sizeof(id), "$op.%.200s.%" PRIu64, client, ++s->seq);
  op_start st = {s, client, req, data};
  int rc = eng_spawn_system(s->cfg.node, &op_type, id, &st);
  /* TR_EINIT: op_init has answered with the reason already. */
  if (rc != 0 && rc != TR_EINIT) reply_status(s, client, req->id, rc);
}

void op_service_client_gone(op_service *s, const char *client) {
  /* A stop now unlists the actor (its deinit); one inside its own callback
   * stops after it and stays listed until then. */
  for (op_actor *o = s->actors, *next; o; o = next) {
    next = o->next;
    if (strcmp(o->client, client) == 0)
      eng_stop_now(s->cfg.node, o->self, TR_ECLOSED);
  }
}

/* ---- pub: operator publishers ------------------------------------------- */

/* An operator publisher: a registered actor of this node that publishes
 * what operators hand it (troupe pub), so actors anywhere subscribe to it
 * by id like to any publisher. It ignores what is sent to it. It lives
 * until stopped (the inspector, or the node's end). */
typedef struct pub_actor {
  op_service *s;
} pub_actor;

static int pub_init(tr_ctx *ctx, void *state, const void *arg) {
  (void)ctx;
  pub_actor *p = state;
  p->s = (op_service *)arg;
  p->s->st.pubs++;
  return 0;
}

static void pub_deinit(tr_ctx *ctx, void *state) {
  (void)ctx;
  pub_actor *p = state;
  if (p->s->st.pubs) p->s->st.pubs--;
}

static int pub_receive(tr_ctx *ctx, void *state, const tr_envelope *env) {
  (void)ctx;
  (void)state;
  (void)env;
  return 0;
}

static const tr_actor_type pub_type = {.name = "troupe.publisher",
                                       .state_size = sizeof(pub_actor),
                                       .init = pub_init,
                                       .receive = pub_receive,
                                       .deinit = pub_deinit};

/* Publishes as publisher (made here first if no actor holds it: it is then
 * registered, so an id held elsewhere is TR_EEXIST); reached: how many
 * subscribers it reached on this node. */
static void op_pub(op_service *s, const char *client, const char *who,
                   const troupe_OpRequest *req, wire_slice data) {
  tr_node *node = s->cfg.node;
  char pub[TR_ID_MAX + 1];
  int n = req->has_target && req->target[0]
              ? snprintf(pub, sizeof(pub), "%s", req->target)
              : snprintf(pub, sizeof(pub), "ops.%s", who);
  const char *topic = req->has_topic ? req->topic : "";
  int rc = n > 0 && (size_t)n < sizeof(pub) ? 0 : TR_EINVAL;
  if (rc == 0 && s->cfg.judge)
    rc = s->cfg.judge(s->cfg.user, who, POLICY_ROLE_OPERATOR, POLICY_REGISTER,
                      pub, NULL);
  if (rc == 0 && !eng_actor_live(node, pub)) {
    if (s->st.pubs >= s->cfg.max_pubs) {
      uint64_t hits;
      s->st.pubs_refused++;
      if (ratelog_hit(&s->rl_pubs, uv_now(tr_node_loop(node)), &hits))
        eng_log(node, TR_LOG_WARN, "operator_pubs_cap",
                "client=%s publisher=%s max=%u refused=%llu", client, pub,
                s->cfg.max_pubs, (unsigned long long)hits);
      rc = TR_EFULL;
    } else {
      tr_spawn_opts o = {.id = pub, .arg = s};
      rc = tr_node_spawn(node, &pub_type, &o);
      if (rc == 0)
        eng_log(node, TR_LOG_INFO, "operator_publisher", "client=%s id=%s",
                client, pub);
    }
  }
  int reached =
      rc == 0 ? eng_publish_as(node, pub, &pub_type, topic, data.p, data.len)
              : rc;
  troupe_OpReply r = troupe_OpReply_init_zero;
  r.has_from = r.has_node = true;
  snprintf(r.from, sizeof(r.from), "%s", pub);
  snprintf(r.node, sizeof(r.node), "%s", tr_node_name(node));
  if (reached >= 0) {
    r.has_reached = true;
    r.reached = (uint32_t)reached;
  }
  op_service_send(s, client, &r, req->id, reached < 0 ? reached : 0, false);
}

/* ---- requests -------------------------------------------------------------- */

static bool decode_slice(pb_istream_t *s, const pb_field_t *f, void **arg) {
  (void)f;
  wire_slice *sl = *arg;
  sl->p = s->state;
  sl->len = s->bytes_left;
  return pb_read(s, NULL, s->bytes_left);
}

bool op_request_decode(const uint8_t *body, size_t len, troupe_OpRequest *req,
                       wire_slice *data) {
  *req = (troupe_OpRequest)troupe_OpRequest_init_zero;
  *data = (wire_slice){0};
  req->data.funcs.decode = decode_slice;
  req->data.arg = data;
  pb_istream_t s = pb_istream_from_buffer(body, len);
  bool ok = pb_decode_ex(&s, troupe_OpRequest_fields, req, PB_DECODE_NOINIT);
  /* A bytes field sent with another wire type lands on nanopb's stack. */
  if (ok && data->p && (data->p < body || data->len > len ||
                        data->p > body + len - data->len))
    ok = false;
  return ok;
}

const char *op_verb_name(uint32_t verb) {
  static const char *const names[] = {
      "none",   "members", "actors",  "send", "ask",   "sub",  "stats",
      "health", "groups",  "inspect", "session", "info", "leave", "join",
      "forget", "pub",     "monitor"};
  return verb < sizeof(names) / sizeof(names[0]) ? names[verb] : "unknown";
}

bool op_verb_writes(uint32_t verb) {
  /* The node's log is for operators too: it names what viewers may not
   * touch. */
  return verb == troupe_OpVerb_OP_SEND || verb == troupe_OpVerb_OP_ASK ||
         verb == troupe_OpVerb_OP_LEAVE || verb == troupe_OpVerb_OP_JOIN ||
         verb == troupe_OpVerb_OP_FORGET || verb == troupe_OpVerb_OP_PUB ||
         verb == troupe_OpVerb_OP_MONITOR;
}

bool op_service_handle(op_service *s, const char *client, const char *who,
                       bool viewer, troupe_OpRequest *req, wire_slice data) {
  uint32_t verb = req->verb;
  bool mine = verb == troupe_OpVerb_OP_SEND || verb == troupe_OpVerb_OP_ASK ||
              verb == troupe_OpVerb_OP_SUB || verb == troupe_OpVerb_OP_PUB ||
              verb == troupe_OpVerb_OP_MONITOR ||
              verb == troupe_OpVerb_OP_GROUPS ||
              verb == troupe_OpVerb_OP_STATS || verb == troupe_OpVerb_OP_LEAVE;
  if (!mine) return false;
  /* To one member of a group: the node picks it, and from here on it is a
   * send or ask to that member (judged as one). */
  if ((verb == troupe_OpVerb_OP_SEND || verb == troupe_OpVerb_OP_ASK) &&
      req->has_group && req->group[0]) {
    int rc = eng_group_pick(s->cfg.node, req->group, req->target,
                            sizeof(req->target));
    if (rc != 0) {
      reply_status(s, client, req->id, rc);
      return true;
    }
    req->has_target = true;
  }
  bool has_target = req->has_target && req->target[0];
  /* The node's policy, for who the certificate (or socket) names. */
  if (has_target && s->cfg.judge &&
      (verb == troupe_OpVerb_OP_SEND || verb == troupe_OpVerb_OP_ASK ||
       verb == troupe_OpVerb_OP_SUB)) {
    policy_action a = verb == troupe_OpVerb_OP_SEND  ? POLICY_SEND
                      : verb == troupe_OpVerb_OP_ASK ? POLICY_ASK
                                                     : POLICY_SUBSCRIBE;
    int rc = s->cfg.judge(
        s->cfg.user, who, viewer ? POLICY_ROLE_VIEWER : POLICY_ROLE_OPERATOR,
        a, req->target,
        a == POLICY_SUBSCRIBE ? (req->has_topic ? req->topic : "") : NULL);
    if (rc != 0) {
      reply_status(s, client, req->id, rc);
      return true;
    }
  }
  switch (verb) {
  case troupe_OpVerb_OP_SEND:
    reply_status(s, client, req->id,
                 has_target ? eng_send_judged(s->cfg.node, req->target,
                                              data.p, data.len)
                            : TR_EINVAL);
    return true;
  case troupe_OpVerb_OP_ASK:
  case troupe_OpVerb_OP_SUB:
    if (has_target)
      op_spawn(s, client, req, data);
    else
      reply_status(s, client, req->id, TR_EINVAL);
    return true;
  case troupe_OpVerb_OP_MONITOR:
    op_spawn(s, client, req, data);
    return true;
  case troupe_OpVerb_OP_PUB:
    op_pub(s, client, who, req, data);
    return true;
  case troupe_OpVerb_OP_GROUPS:
    op_groups(s, client, req->id, req->has_target ? req->target : NULL);
    return true;
  case troupe_OpVerb_OP_STATS:
    op_stats(s, client, req->id);
    return true;
  default: /* OP_LEAVE */
    op_leave(s, client, req->id);
    return true;
  }
}

/* ---- the service -------------------------------------------------------------- */

int op_service_new(op_service **out, const op_service_config *cfg) {
  if (!out || !cfg || !cfg->node || !cfg->send) return TR_EINVAL;
  op_service *s = calloc(1, sizeof(*s));
  if (!s) return TR_ENOMEM;
  s->cfg = *cfg;
  if (!s->cfg.max_subs) s->cfg.max_subs = 1024;
  if (!s->cfg.max_pubs) s->cfg.max_pubs = 64;
  uv_timer_init(tr_node_loop(cfg->node), &s->flush);
  s->flush.data = s;
  *out = s;
  return 0;
}

static void service_closed(uv_handle_t *h) { free(h->data); }

void op_service_free(op_service *s) {
  if (!s) return;
  for (op_actor *o = s->actors; o; o = o->next) { /* actors outliving it */
    eng_log_tap_remove(s->cfg.node, o->tap);
    o->tap = NULL;
    monitor_discard(o);
  }
  op_client *k, *tmp;
  HASH_ITER(hh, s->clients, k, tmp) {
    HASH_DEL(s->clients, k);
    free(k);
  }
  uv_close((uv_handle_t *)&s->flush, service_closed);
}

void op_service_stats_get(const op_service *s, op_service_stats *out) {
  if (s)
    *out = s->st;
  else
    memset(out, 0, sizeof(*out));
}

void op_service_set_inspect(op_service *s,
                            int (*inspect)(tr_node *, const tr_inspect_query *,
                                           const tr_inspect_fns *, void *arg,
                                           uint32_t *total)) {
  if (s) s->cfg.inspect = inspect;
}
