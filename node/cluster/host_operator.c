/* host_operator.c — requests from operators (the troupe CLI): a client
 * with a certificate from the cluster CA connects to the node's TLS port,
 * without joining the cluster, and sends OpRequest frames; the node answers
 * with OpReply frames on the same link. members / actors / stats / health
 * are answered at once; send goes through tr_node_send; ask and sub run as
 * a node-internal actor ("$op.<client>.<n>", never in the registry) that
 * asks or subscribes and forwards what comes back. A subscription ends when
 * the client's link goes down. Bodies are text for people, or JSON. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pb_decode.h>
#include <pb_encode.h>

#include "host.h"

/* ---- a growable text buffer ---------------------------------------------- */

typedef struct sbuf {
  char *p;
  size_t len, cap;
  bool failed;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void sb_printf(sbuf *b, const char *fmt, ...) {
  if (b->failed) return;
  for (int tries = 0; tries < 2; tries++) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p ? b->p + b->len : NULL, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0) break;
    if (b->len + (size_t)n < b->cap) {
      b->len += (size_t)n;
      return;
    }
    size_t cap = (b->cap ? b->cap * 2 : 1024) + (size_t)n;
    char *p = realloc(b->p, cap);
    if (!p) break;
    b->p = p;
    b->cap = cap;
  }
  b->failed = true;
}

/* A JSON string: ids and names are printable, but quote what must be. */
static void sb_json_str(sbuf *b, const char *s, size_t len) {
  sb_printf(b, "\"");
  for (size_t i = 0; i < len; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch == '"' || ch == '\\')
      sb_printf(b, "\\%c", ch);
    else if (ch < 0x20 || ch >= 0x7f)
      sb_printf(b, "\\u%04x", ch);
    else
      sb_printf(b, "%c", ch);
  }
  sb_printf(b, "\"");
}

/* ---- replies ------------------------------------------------------------- */

static bool encode_body(pb_ostream_t *s, const pb_field_t *f, void *const *arg) {
  const wire_slice *b = *arg;
  return pb_encode_tag_for_field(s, f) && pb_encode_string(s, b->p, b->len);
}

static void op_reply(cluster *c, const char *client, uint64_t id,
                     int status, const void *body, size_t len, bool more,
                     const char *from, const char *node) {
  peer_link *lk = link_find(c->links, client);
  if (!lk) return; /* the client went away */
  troupe_OpReply r = troupe_OpReply_init_zero;
  wire_slice b = {body, len};
  r.has_id = true;
  r.id = id;
  r.has_status = true;
  r.status = status;
  if (len) {
    r.body.funcs.encode = encode_body;
    r.body.arg = &b;
  }
  r.has_more = more;
  r.more = more;
  if (from) {
    r.has_from = true;
    snprintf(r.from, sizeof(r.from), "%s", from);
  }
  if (node) {
    r.has_node = true;
    snprintf(r.node, sizeof(r.node), "%s", node);
  }
  int rc = link_send_frame(lk, troupe_FrameKind_FRAME_OPERATOR_REPLY, &r,
                           troupe_OpReply_fields);
  if (rc != 0)
    host_log(c, TR_LOG_WARN, "op_reply_lost", "client=%s error=%s", client,
             tr_errname(rc));
}

static void op_reply_sb(cluster *c, const char *client, uint64_t id,
                        sbuf *b) {
  if (b->failed)
    op_reply(c, client, id, TR_ENOMEM, NULL, 0, false, NULL, NULL);
  else
    op_reply(c, client, id, 0, b->p, b->len, false, NULL, NULL);
  free(b->p);
}

/* ---- members, actors, stats, health --------------------------------------- */

static void op_members(cluster *c, const char *client, uint64_t id,
                       bool json) {
  size_t total = swim_members(c->swim, NULL, 0);
  swim_update *all = malloc((total ? total : 1) * sizeof(*all));
  sbuf b = {0};
  if (!all) {
    op_reply(c, client, id, TR_ENOMEM, NULL, 0, false, NULL, NULL);
    return;
  }
  size_t got = swim_members(c->swim, all, total);
  if (got > total) got = total;
  if (json) sb_printf(&b, "[");
  for (size_t i = 0; i < got; i++) {
    const swim_update *u = &all[i];
    const char *st = swim_state_name((swim_state)u->state);
    if (json) {
      sb_printf(&b, "%s{\"name\":", i ? "," : "");
      sb_json_str(&b, u->name, strlen(u->name));
      sb_printf(&b, ",\"addr\":");
      sb_json_str(&b, u->addr, strlen(u->addr));
      sb_printf(&b, ",\"state\":\"%s\",\"epoch\":%" PRIu64
                    ",\"incarnation\":%" PRIu32 "}",
                st, u->epoch, u->incarnation);
    } else {
      sb_printf(&b, "%-24s %-8s %-24s epoch=%" PRIu64 " inc=%" PRIu32 "\n",
                u->name, st, u->addr[0] ? u->addr : "-", u->epoch,
                u->incarnation);
    }
  }
  if (json) sb_printf(&b, "]\n");
  free(all);
  op_reply_sb(c, client, id, &b);
}

typedef struct actors_arg {
  sbuf *b;
  const char *only; /* a node, or NULL */
  bool json;
  size_t n;
} actors_arg;

static void actors_each(void *arg, const char *id, const char *owner) {
  actors_arg *a = arg;
  if (a->only && strcmp(owner, a->only) != 0) return;
  if (a->json) {
    sb_printf(a->b, "%s{\"id\":", a->n ? "," : "");
    sb_json_str(a->b, id, strlen(id));
    sb_printf(a->b, ",\"node\":");
    sb_json_str(a->b, owner, strlen(owner));
    sb_printf(a->b, "}");
  } else {
    sb_printf(a->b, "%-40s %s\n", id, owner);
  }
  a->n++;
}

static void op_actors(cluster *c, const char *client, uint64_t id,
                      const char *only, bool json) {
  sbuf b = {0};
  actors_arg a = {&b, only && only[0] ? only : NULL, json, 0};
  if (json) sb_printf(&b, "[");
  reg_each(c->reg, actors_each, &a);
  if (json) sb_printf(&b, "]\n");
  op_reply_sb(c, client, id, &b);
}

/* Ready: no seeds (a cluster of one by design), or it has joined once. A
 * node whose peers have all gone stays ready: it is the cluster now, and
 * taking it out of service would not bring them back. */
bool cluster_ready(cluster *c) { return c->nseeds == 0 || c->joined_peer; }

static void op_stats(cluster *c, const char *client, uint64_t id,
                     bool json) {
  tr_node_stats ns;
  tr_cluster_stats cs;
  tr_node_stats_get(c->node, &ns);
  cluster_stats(c, &cs);
  sbuf b = {0};
  const char *f = json ? "%s\"%s\":%" PRIu64 : "%s%-18s %" PRIu64;
  const char *sep = json ? "," : "\n";
  struct {
    const char *name;
    uint64_t v;
  } rows[] = {{"actors", ns.actors},
              {"spawned", ns.spawned},
              {"stopped", ns.stopped},
              {"sent", ns.sent},
              {"delivered", ns.delivered},
              {"published", ns.published},
              {"members_alive", cs.alive},
              {"members_suspect", cs.suspect},
              {"members_dead", cs.dead},
              {"registry_ids", cs.registry_ids},
              {"remote_sent", cs.remote_sent},
              {"remote_received", cs.remote_received},
              {"remote_failed", cs.remote_failed},
              {"undeliverable", cs.undeliverable},
              {"rejected", cs.rejected}};
  if (json) sb_printf(&b, "{\"node\":\"%s\"", c->name);
  else sb_printf(&b, "%-18s %s", "node", c->name);
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
    sb_printf(&b, f, sep, rows[i].name, rows[i].v);
  for (int r = 0; r < TR_DL_COUNT; r++) {
    if (json)
      sb_printf(&b, ",\"dead_%s\":%" PRIu64,
                tr_dead_reason_name((tr_dead_reason)r), ns.dead[r]);
    else
      sb_printf(&b, "\ndead_%-13s %" PRIu64,
                tr_dead_reason_name((tr_dead_reason)r), ns.dead[r]);
  }
  sb_printf(&b, json ? "}\n" : "\n");
  op_reply_sb(c, client, id, &b);
}

static void op_health(cluster *c, const char *client, uint64_t id,
                      bool json) {
  sbuf b = {0};
  bool ready = cluster_ready(c) && !c->left;
  size_t alive = swim_alive_count(c->swim);
  if (json)
    sb_printf(&b, "{\"node\":\"%s\",\"alive\":true,\"ready\":%s,"
                  "\"members_up\":%zu}\n",
              c->name, ready ? "true" : "false", alive);
  else
    sb_printf(&b, "%s: alive, %s, %zu member%s up (alive or suspect)\n",
              c->name, ready ? "ready" : "not ready (joining)", alive,
              alive == 1 ? "" : "s");
  if (b.failed) {
    op_reply(c, client, id, TR_ENOMEM, NULL, 0, false, NULL, NULL);
    free(b.p);
    return;
  }
  op_reply(c, client, id, ready ? 0 : TR_ESTATE, b.p, b.len, false, NULL,
           NULL);
  free(b.p);
}

/* ---- ask and sub: an internal actor per request ----------------------------- */

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
}

static int op_receive(tr_ctx *ctx, void *state, const tr_envelope *env) {
  op_actor *o = state;
  if (env->type == TR_MSG_REPLY && o->verb == troupe_OpVerb_OP_ASK) {
    op_reply(o->c, o->client, o->id, env->status, env->data, env->len, false,
             env->sender, env->node);
    return tr_stop(ctx);
  }
  if (env->type == TR_MSG_PUBLISH && o->verb == troupe_OpVerb_OP_SUB)
    op_reply(o->c, o->client, o->id, 0, env->data, env->len, true,
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
  host_log(c, TR_LOG_INFO, "op_request", "client=%s verb=%u target=%s",
           client, req.verb, req.has_target ? req.target : "-");
  bool json = req.has_json && req.json;
  bool has_target = req.has_target && req.target[0];
  switch (req.verb) {
  case troupe_OpVerb_OP_MEMBERS:
    op_members(c, client, req.id, json);
    return;
  case troupe_OpVerb_OP_ACTORS:
    op_actors(c, client, req.id, req.has_target ? req.target : NULL, json);
    return;
  case troupe_OpVerb_OP_STATS:
    op_stats(c, client, req.id, json);
    return;
  case troupe_OpVerb_OP_HEALTH:
    op_health(c, client, req.id, json);
    return;
  case troupe_OpVerb_OP_SEND: {
    int rc = has_target ? tr_node_send(c->node, req.target, data.p, data.len)
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
