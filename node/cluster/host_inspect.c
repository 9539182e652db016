/* host_inspect.c — tr_node_inspect across the cluster (troupe_inspect.h).
 *
 * Asking: an OpRequest of verb OP_INSPECT goes to each member named, on
 * the cluster link to it (kind FRAME_OPERATOR: nodes may send each other
 * that verb only, and it only reads); the node's own part comes from the
 * assembly's local view at once. Replies (FRAME_OPERATOR_REPLY on a node
 * link) are matched by request id and by the link's peer, whose
 * certificate names it: an answer speaks for the node that sent it only.
 * A node that has not answered by the deadline is done with TR_ETIMEDOUT.
 *
 * Answering: the same local view, in OpReply batches on the asker's link
 * (a node's, or an operator client's: `troupe` may inspect too). */
#include <stdlib.h>
#include <string.h>

#include <pb_decode.h>
#include <pb_encode.h>

#include "host.h"

#define INSPECT_TIMEOUT_MS 1000u

typedef struct inspect_node {
  char name[TR_ID_MAX + 1];
  bool done;
  int sent; /* at the start: 0 asked, 1 this node, or why not asked */
  uint32_t items; /* items its answer has given so far */
} inspect_node;

/* What one node's answer may hold: its actors up to the query's limit, and
 * of everything else (links, counters, subscriptions, memberships) this
 * many; a node that sends more is done, TR_EFULL. */
#define INSPECT_MAX_ITEMS 100000u

struct host_inspect {
  host_inspect *next, *prev; /* c->inspects */
  uint64_t id;               /* the handle, and the requests' id */
  uint32_t limit;            /* actors per node, as asked */
  tr_inspect_fns fns;
  void *arg;
  uint64_t deadline; /* host_now */
  uint32_t pending;  /* nodes not done */
  bool busy;         /* inside its callbacks */
  bool cancelled;    /* cancelled while busy: freed after */
  size_t nnodes;
  inspect_node nodes[];
};

/* ---- the request list ------------------------------------------------------ */

static void insp_unlink(cluster *c, host_inspect *r) {
  if (r->prev) r->prev->next = r->next;
  else c->inspects = r->next;
  if (r->next) r->next->prev = r->prev;
}

static void insp_rearm(cluster *c) {
  uint64_t first = UINT64_MAX;
  for (host_inspect *r = c->inspects; r; r = r->next)
    if (r->deadline < first) first = r->deadline;
  if (first == UINT64_MAX) {
    uv_timer_stop(&c->inspect_timer);
    return;
  }
  uint64_t now = host_now(c);
  uv_timer_start(&c->inspect_timer, host_inspect_on_timer,
                 first > now ? first - now : 0, 0);
}

/* One node is done: its node_done; the request's done when it was the
 * last. Returns false when r is gone (done, or cancelled inside). */
static bool insp_node_done(cluster *c, host_inspect *r, inspect_node *in,
                           int status, uint32_t total) {
  if (r->cancelled) { /* inside its own callbacks */
    insp_unlink(c, r);
    free(r);
    return false;
  }
  if (in->done) return true;
  in->done = true;
  r->pending--;
  r->busy = true;
  if (r->fns.node_done) r->fns.node_done(r->arg, in->name, status, total);
  if (!r->cancelled && r->pending == 0 && r->fns.done) r->fns.done(r->arg);
  r->busy = false;
  if (r->cancelled || r->pending == 0) {
    insp_unlink(c, r);
    free(r);
    return false;
  }
  return true;
}

void host_inspect_on_timer(uv_timer_t *t) {
  cluster *c = t->data;
  uint64_t now = host_now(c);
  for (host_inspect *r = c->inspects, *next; r; r = next) {
    next = r->next;
    if (r->deadline > now) continue;
    for (size_t i = 0; i < r->nnodes; i++)
      if (!insp_node_done(c, r, &r->nodes[i], TR_ETIMEDOUT, 0)) break;
    /* Callbacks may have cancelled or started others: rescan. */
    next = c->inspects;
  }
  insp_rearm(c);
}

void host_inspect_free(cluster *c) {
  for (host_inspect *r = c->inspects, *next; r; r = next) {
    next = r->next;
    free(r);
  }
  c->inspects = NULL;
}

void cluster_set_inspector(cluster *c, cluster_inspect_local_fn fn) {
  c->inspect_local = fn;
  op_service_set_inspect(c->ops, fn);
}

void cluster_inspect_cancel(cluster *c, uint64_t handle) {
  for (host_inspect *r = c->inspects; r; r = r->next) {
    if (r->id != handle) continue;
    if (r->busy) {
      r->cancelled = true;
    } else {
      insp_unlink(c, r);
      free(r);
      insp_rearm(c);
    }
    return;
  }
}

/* ---- asking ----------------------------------------------------------------- */

typedef struct names_arg {
  const char *only;
  inspect_node *out; /* NULL: count only */
  size_t n;
} names_arg;

static void names_each(void *arg, const tr_member *m) {
  names_arg *a = arg;
  if (a->only ? strcmp(m->name, a->only) != 0
              : m->state != TR_MEMBER_ALIVE && m->state != TR_MEMBER_SUSPECT)
    return;
  if (a->out) {
    snprintf(a->out[a->n].name, sizeof(a->out[a->n].name), "%s", m->name);
    a->out[a->n].done = false;
  }
  a->n++;
}

static int insp_send(cluster *c, const char *node, uint64_t id,
                     const tr_inspect_query *q) {
  peer_link *lk = host_link(c, node);
  if (!lk) return TR_EUNREACHABLE;
  troupe_OpRequest req = troupe_OpRequest_init_zero;
  req.has_verb = req.has_id = req.has_what = true;
  req.verb = troupe_OpVerb_OP_INSPECT;
  req.id = id;
  req.what = q->what;
  req.has_sort = req.has_desc = req.has_limit = true;
  req.sort = (uint32_t)q->sort;
  req.desc = q->desc != 0;
  req.limit = q->limit;
  if (q->actor) {
    req.has_children = true;
    req.children = q->children != 0;
    req.has_target = true;
    snprintf(req.target, sizeof(req.target), "%s", q->actor);
  }
  if (q->filter && q->filter[0]) {
    req.has_filter = true;
    snprintf(req.filter, sizeof(req.filter), "%s", q->filter);
  }
  int rc = link_send_frame(lk, troupe_FrameKind_FRAME_OPERATOR, &req,
                           troupe_OpRequest_fields);
  return rc == 0 ? 0 : TR_EUNREACHABLE;
}

int cluster_inspect(cluster *c, const tr_inspect_query *q,
                    const tr_inspect_fns *fns, void *arg, uint64_t *handle) {
  names_arg count = {.only = q->node};
  cluster_members(c, names_each, &count);
  if (q->node && count.n == 0) return TR_ENOTFOUND;
  host_inspect *r = calloc(1, sizeof(*r) + count.n * sizeof(r->nodes[0]));
  if (!r) return TR_ENOMEM;
  names_arg fill = {.only = q->node, .out = r->nodes};
  cluster_members(c, names_each, &fill);
  r->nnodes = fill.n < count.n ? fill.n : count.n;
  r->pending = (uint32_t)r->nnodes;
  r->id = ++c->inspect_seq;
  r->limit = q->limit ? q->limit : 100;
  r->fns = *fns;
  r->arg = arg;
  r->deadline =
      host_now(c) + (q->timeout_ms ? q->timeout_ms : INSPECT_TIMEOUT_MS);
  r->next = c->inspects;
  if (r->next) r->next->prev = r;
  c->inspects = r;
  if (handle) *handle = r->id;
  if (r->nnodes == 0) { /* only when query.node vanished meanwhile */
    insp_unlink(c, r);
    free(r);
    if (fns->done) fns->done(arg);
    return 0;
  }
  /* Every request goes out before any callback runs (a callback may
  * cancel); the unreachable and the node itself are done after. */
  for (size_t i = 0; i < r->nnodes; i++) {
    inspect_node *in = &r->nodes[i];
    in->sent = strcmp(in->name, c->name) == 0 ? 1
                                              : insp_send(c, in->name, r->id, q);
  }
  for (size_t i = 0; i < r->nnodes; i++) {
    inspect_node *in = &r->nodes[i];
    int status = in->sent;
    uint32_t total = 0;
    if (status == 0) continue; /* asked: its answer comes later */
    if (status == 1) {         /* this node */
      r->busy = true;
      status = c->inspect_local
                   ? c->inspect_local(c->node, q, &r->fns, r->arg, &total)
                   : TR_EINVAL;
      r->busy = false;
    }
    if (!insp_node_done(c, r, in, status, total)) break;
  }
  insp_rearm(c);
  return 0;
}

/* ---- replies ------------------------------------------------------------------ */

static host_inspect *insp_find(cluster *c, uint64_t id, const char *peer,
                               inspect_node **in) {
  for (host_inspect *r = c->inspects; r; r = r->next) {
    if (r->id != id) continue;
    for (size_t i = 0; i < r->nnodes; i++)
      if (!r->nodes[i].done && strcmp(r->nodes[i].name, peer) == 0) {
        *in = &r->nodes[i];
        return r;
      }
    return NULL;
  }
  return NULL;
}

/* At most this many monitors and as many dead letters in one reply (the
 * answer's batches); a reply with more is malformed. They are callbacks
 * in OpReply (troupe.options), decoded into here. */
#define INSPECT_BATCH 8

typedef struct reply_in {
  troupe_OpReply m;
  troupe_OpMonitor mons[INSPECT_BATCH];
  troupe_OpDeadLetter dls[INSPECT_BATCH];
  pb_size_t nmons, ndls;
} reply_in;

static bool dec_monitor(pb_istream_t *s, const pb_field_t *f, void **arg) {
  (void)f;
  reply_in *in = *arg;
  if (in->nmons == INSPECT_BATCH) return false;
  troupe_OpMonitor *o = &in->mons[in->nmons];
  *o = (troupe_OpMonitor)troupe_OpMonitor_init_zero;
  if (!pb_decode(s, troupe_OpMonitor_fields, o)) return false;
  in->nmons++;
  return true;
}

static bool dec_dead_letter(pb_istream_t *s, const pb_field_t *f,
                            void **arg) {
  (void)f;
  reply_in *in = *arg;
  if (in->ndls == INSPECT_BATCH) return false;
  troupe_OpDeadLetter *o = &in->dls[in->ndls];
  *o = (troupe_OpDeadLetter)troupe_OpDeadLetter_init_zero;
  if (!pb_decode(s, troupe_OpDeadLetter_fields, o)) return false;
  in->ndls++;
  return true;
}

/* Hands one reply's items to r's callbacks. */
static void insp_items(host_inspect *r, const char *node,
                       const reply_in *in) {
  const troupe_OpReply *m = &in->m;
  const tr_inspect_fns *f = &r->fns;
  for (pb_size_t i = 0; i < m->actors_count && !r->cancelled; i++) {
    const troupe_OpActor *a = &m->actors[i];
    if (a->has_group) {
      tr_group_member g = {.group = a->group, .id = a->id, .node = node};
      if (f->group) f->group(r->arg, node, &g);
      continue;
    }
    tr_actor_info x = {.queued = a->queued,
                       .capacity = a->capacity,
                       .hwm = a->hwm,
                       .children = a->children,
                       .delivered = a->delivered,
                       .type = a->type,
                       .parent = a->has_parent ? a->parent : NULL,
                       .sent = a->sent,
                       .handler_mean_ns = a->handler_mean_ns,
                       .handler_max_ns = a->handler_max_ns,
                       .age_ms = a->age_ms,
                       .id = a->id,
                       .in_per_s = a->in_per_s,
                       .out_per_s = a->out_per_s,
                       .dead = a->dead,
                       .restarts = a->restarts};
    if (f->actor) f->actor(r->arg, node, &x);
  }
  for (pb_size_t i = 0; i < m->links_count && !r->cancelled; i++) {
    const troupe_OpLink *l = &m->links[i];
    tr_peer_stats s = {.up = l->up,
                       .envelopes_out = l->envelopes_out,
                       .envelopes_in = l->envelopes_in,
                       .bytes_out = l->bytes_out,
                       .bytes_in = l->bytes_in,
                       .queued = l->queued,
                       .rtt_us = l->rtt_us,
                       .reconnects = l->reconnects,
                       .resumes = l->resumes,
                       .tls_resumes = l->tls_resumes,
                       .cipher = l->has_cipher ? l->cipher : NULL,
                       .cert_cn = l->has_cert_cn ? l->cert_cn : NULL,
                       .cert_role = l->has_cert_role ? l->cert_role : NULL};
    if (f->link) f->link(r->arg, node, l->peer, &s);
  }
  for (pb_size_t i = 0; i < m->counters_count && !r->cancelled; i++)
    if (f->counter)
      f->counter(r->arg, node, m->counters[i].name, m->counters[i].value);
  for (pb_size_t i = 0; i < m->subs_count && !r->cancelled; i++) {
    const troupe_OpSub *s = &m->subs[i];
    tr_sub_info x = {.publisher = s->publisher,
                     .topic = s->topic,
                     .subscriber = s->has_subscriber ? s->subscriber : NULL,
                     .node = s->node,
                     .delivered = s->delivered,
                     .dropped = s->dropped};
    if (f->sub) f->sub(r->arg, node, &x);
  }
  for (pb_size_t i = 0; i < in->nmons && !r->cancelled; i++) {
    const troupe_OpMonitor *o = &in->mons[i];
    tr_monitor_info x = {
        .watcher = o->watcher,
        .watcher_node = o->has_watcher_node ? o->watcher_node : NULL,
        .target = o->target,
        .target_node = o->has_target_node ? o->target_node : NULL};
    if (f->monitor) f->monitor(r->arg, node, &x);
  }
  for (pb_size_t i = 0; i < in->ndls && !r->cancelled; i++) {
    const troupe_OpDeadLetter *o = &in->dls[i];
    tr_dead_letter x = {.at_ms = o->at_ms,
                        .reason = (tr_dead_reason)o->reason,
                        .from = o->has_from ? o->from : NULL,
                        .to = o->has_to ? o->to : NULL,
                        .len = o->len};
    if (f->dead_letter) f->dead_letter(r->arg, node, &x);
  }
  if (m->monitors_more && f->left_off && !r->cancelled)
    f->left_off(r->arg, node, TR_INSPECT_MONITORS, m->monitors_more);
  if (m->dead_letters_more && f->left_off && !r->cancelled)
    f->left_off(r->arg, node, TR_INSPECT_DEAD_LETTERS, m->dead_letters_more);
}

void host_inspect_on_reply(cluster *c, peer_link *lk, const uint8_t *body,
                           size_t len) {
  const char *peer = link_peer(lk);
  reply_in *rin = malloc(sizeof(*rin));
  if (!rin) return; /* its node times out */
  troupe_OpReply *m = &rin->m;
  *m = (troupe_OpReply)troupe_OpReply_init_zero;
  rin->nmons = rin->ndls = 0;
  m->monitors.funcs.decode = dec_monitor;
  m->monitors.arg = rin;
  m->dead_letters.funcs.decode = dec_dead_letter;
  m->dead_letters.arg = rin;
  pb_istream_t s = pb_istream_from_buffer(body, len);
  if (!pb_decode(&s, troupe_OpReply_fields, m)) {
    free(rin);
    c->st.rejected++;
    host_log(c, TR_LOG_WARN, "inspect_reply_rejected",
             "peer=%s reason=malformed len=%zu", peer, len);
    return;
  }
  inspect_node *in = NULL;
  host_inspect *r = insp_find(c, m->id, peer, &in);
  if (!r) { /* late (timed out or cancelled) or never asked */
    host_log(c, TR_LOG_DEBUG, "inspect_reply_unmatched", "peer=%s id=%llu",
             peer, (unsigned long long)m->id);
    free(rin);
    return;
  }
  /* A node gives what was asked and no more: past it, it is done. */
  uint32_t n = m->actors_count + m->links_count + m->counters_count +
               m->subs_count + rin->nmons + rin->ndls;
  in->items += n;
  int status = m->status;
  if (status == 0 && in->items > r->limit + INSPECT_MAX_ITEMS) {
    status = TR_EFULL;
    host_log(c, TR_LOG_WARN, "inspect_reply_too_long",
             "peer=%s items=%u", peer, in->items);
  } else if (status == 0) {
    r->busy = true;
    insp_items(r, in->name, rin);
    r->busy = false;
  }
  if (r->cancelled || status != 0 || !m->more)
    insp_node_done(c, r, in, status, m->total);
  free(rin);
  insp_rearm(c);
}

/* ---- answering ---------------------------------------------------------------- */

#define BATCH(field) (sizeof(((troupe_OpReply *)0)->field) / \
                      sizeof(((troupe_OpReply *)0)->field[0]))

typedef struct answer {
  cluster *c;
  const char *client;
  uint64_t id;
  troupe_OpReply *r;
  int failed; /* a batch could not go (the link full or gone): the rest
                 is not sent, and the last reply says so */
  /* The batch's monitors and dead letters, which r's callbacks encode. */
  troupe_OpMonitor mons[INSPECT_BATCH];
  troupe_OpDeadLetter dls[INSPECT_BATCH];
  pb_size_t nmons, ndls;
} answer;

static bool enc_monitors(pb_ostream_t *s, const pb_field_t *f,
                         void *const *arg) {
  const answer *a = *arg;
  for (pb_size_t i = 0; i < a->nmons; i++)
    if (!pb_encode_tag_for_field(s, f) ||
        !pb_encode_submessage(s, troupe_OpMonitor_fields, &a->mons[i]))
      return false;
  return true;
}

static bool enc_dead_letters(pb_ostream_t *s, const pb_field_t *f,
                             void *const *arg) {
  const answer *a = *arg;
  for (pb_size_t i = 0; i < a->ndls; i++)
    if (!pb_encode_tag_for_field(s, f) ||
        !pb_encode_submessage(s, troupe_OpDeadLetter_fields, &a->dls[i]))
      return false;
  return true;
}

/* Sends the batch so far (more follow) and empties it. */
static void ans_flush(answer *a) {
  if (!a->failed)
    a->failed = host_op_try_send(a->c, a->client, a->r, a->id, 0, true);
  a->r->actors_count = a->r->links_count = a->r->subs_count = 0;
  a->r->counters_count = 0;
  a->nmons = a->ndls = 0;
  a->r->has_monitors_more = a->r->has_dead_letters_more = false;
}

static void ans_actor(void *arg, const char *node, const tr_actor_info *x) {
  (void)node;
  answer *a = arg;
  if (a->r->actors_count == BATCH(actors)) ans_flush(a);
  troupe_OpActor *o = &a->r->actors[a->r->actors_count++];
  *o = (troupe_OpActor)troupe_OpActor_init_zero;
  o->has_id = o->has_type = true;
  snprintf(o->id, sizeof(o->id), "%s", x->id);
  snprintf(o->type, sizeof(o->type), "%s", x->type);
  if (x->parent) {
    o->has_parent = true;
    snprintf(o->parent, sizeof(o->parent), "%s", x->parent);
  }
  o->has_queued = o->has_capacity = o->has_hwm = o->has_children = true;
  o->has_delivered = o->has_sent = o->has_handler_mean_ns = true;
  o->has_handler_max_ns = o->has_age_ms = true;
  o->has_in_per_s = o->has_out_per_s = o->has_dead = true;
  o->dead = x->dead;
  o->has_restarts = x->restarts != 0; /* absent: none, as before */
  o->restarts = x->restarts;
  o->queued = x->queued;
  o->capacity = x->capacity;
  o->hwm = x->hwm;
  o->children = x->children;
  o->delivered = x->delivered;
  o->sent = x->sent;
  o->handler_mean_ns = x->handler_mean_ns;
  o->handler_max_ns = x->handler_max_ns;
  o->age_ms = x->age_ms;
  o->in_per_s = x->in_per_s;
  o->out_per_s = x->out_per_s;
}

static void ans_group(void *arg, const char *node, const tr_group_member *g) {
  (void)node;
  answer *a = arg;
  if (a->r->actors_count == BATCH(actors)) ans_flush(a);
  troupe_OpActor *o = &a->r->actors[a->r->actors_count++];
  *o = (troupe_OpActor)troupe_OpActor_init_zero;
  o->has_id = o->has_group = true;
  snprintf(o->id, sizeof(o->id), "%s", g->id);
  snprintf(o->group, sizeof(o->group), "%s", g->group);
}

static void ans_link(void *arg, const char *node, const char *peer,
                     const tr_peer_stats *s) {
  (void)node;
  answer *a = arg;
  if (a->r->links_count == BATCH(links)) ans_flush(a);
  troupe_OpLink *o = &a->r->links[a->r->links_count++];
  *o = (troupe_OpLink)troupe_OpLink_init_zero;
  o->has_peer = o->has_up = o->has_envelopes_out = o->has_envelopes_in = true;
  o->has_bytes_out = o->has_bytes_in = o->has_queued = o->has_rtt_us = true;
  o->has_reconnects = o->has_resumes = o->has_tls_resumes = true;
  snprintf(o->peer, sizeof(o->peer), "%s", peer);
  if (s->cipher) {
    o->has_cipher = true;
    snprintf(o->cipher, sizeof(o->cipher), "%s", s->cipher);
  }
  if (s->cert_cn) {
    o->has_cert_cn = true;
    snprintf(o->cert_cn, sizeof(o->cert_cn), "%s", s->cert_cn);
  }
  if (s->cert_role) {
    o->has_cert_role = true;
    snprintf(o->cert_role, sizeof(o->cert_role), "%s", s->cert_role);
  }
  o->resumes = s->resumes;
  o->tls_resumes = s->tls_resumes;
  o->up = s->up != 0;
  o->envelopes_out = s->envelopes_out;
  o->envelopes_in = s->envelopes_in;
  o->bytes_out = s->bytes_out;
  o->bytes_in = s->bytes_in;
  o->queued = s->queued;
  o->rtt_us = s->rtt_us;
  o->reconnects = s->reconnects;
}

static void ans_counter(void *arg, const char *node, const char *name,
                        uint64_t v) {
  (void)node;
  answer *a = arg;
  if (a->r->counters_count == BATCH(counters)) ans_flush(a);
  troupe_OpCounter *k = &a->r->counters[a->r->counters_count++];
  *k = (troupe_OpCounter)troupe_OpCounter_init_zero;
  k->has_name = k->has_value = true;
  snprintf(k->name, sizeof(k->name), "%s", name);
  k->value = v;
}

static void ans_sub(void *arg, const char *node, const tr_sub_info *s) {
  (void)node;
  answer *a = arg;
  if (a->r->subs_count == BATCH(subs)) ans_flush(a);
  troupe_OpSub *o = &a->r->subs[a->r->subs_count++];
  *o = (troupe_OpSub)troupe_OpSub_init_zero;
  o->has_publisher = o->has_topic = o->has_node = true;
  o->has_delivered = o->has_dropped = true;
  snprintf(o->publisher, sizeof(o->publisher), "%s", s->publisher);
  snprintf(o->topic, sizeof(o->topic), "%s", s->topic ? s->topic : "");
  if (s->subscriber) {
    o->has_subscriber = true;
    snprintf(o->subscriber, sizeof(o->subscriber), "%s", s->subscriber);
  }
  snprintf(o->node, sizeof(o->node), "%s", s->node ? s->node : "");
  o->delivered = s->delivered;
  o->dropped = s->dropped;
}

static void ans_monitor(void *arg, const char *node,
                        const tr_monitor_info *m) {
  (void)node;
  answer *a = arg;
  if (a->nmons == INSPECT_BATCH) ans_flush(a);
  troupe_OpMonitor *o = &a->mons[a->nmons++];
  *o = (troupe_OpMonitor)troupe_OpMonitor_init_zero;
  o->has_watcher = o->has_target = true;
  snprintf(o->watcher, sizeof(o->watcher), "%s", m->watcher);
  snprintf(o->target, sizeof(o->target), "%s", m->target);
  if (m->watcher_node) {
    o->has_watcher_node = true;
    snprintf(o->watcher_node, sizeof(o->watcher_node), "%s", m->watcher_node);
  }
  if (m->target_node) {
    o->has_target_node = true;
    snprintf(o->target_node, sizeof(o->target_node), "%s", m->target_node);
  }
}

static void ans_dead_letter(void *arg, const char *node,
                            const tr_dead_letter *d) {
  (void)node;
  answer *a = arg;
  if (a->ndls == INSPECT_BATCH) ans_flush(a);
  troupe_OpDeadLetter *o = &a->dls[a->ndls++];
  *o = (troupe_OpDeadLetter)troupe_OpDeadLetter_init_zero;
  o->has_at_ms = o->has_reason = o->has_len = true;
  o->at_ms = d->at_ms;
  o->reason = (uint32_t)d->reason;
  o->len = d->len;
  if (d->from) {
    o->has_from = true;
    snprintf(o->from, sizeof(o->from), "%s", d->from);
  }
  if (d->to) {
    o->has_to = true;
    snprintf(o->to, sizeof(o->to), "%s", d->to);
  }
}

/* Goes with the next batch sent (once: a flush clears it). */
static void ans_left_off(void *arg, const char *node, unsigned what,
                         uint32_t more) {
  (void)node;
  answer *a = arg;
  if (what == TR_INSPECT_MONITORS) {
    a->r->has_monitors_more = true;
    a->r->monitors_more = more;
  } else if (what == TR_INSPECT_DEAD_LETTERS) {
    a->r->has_dead_letters_more = true;
    a->r->dead_letters_more = more;
  }
}

void host_inspect_answer(cluster *c, const char *client,
                         const troupe_OpRequest *req) {
  tr_inspect_query q = {
      .what = req->what,
      .actor = req->has_target && req->target[0] ? req->target : NULL,
      .children = req->children,
      .filter = req->has_filter ? req->filter : NULL,
      .sort = (tr_inspect_sort)req->sort,
      .desc = req->desc,
      .limit = req->limit,
  };
  troupe_OpReply *r = host_op_new_reply(c);
  if (!r) {
    host_op_status(c, client, req->id, TR_ENOMEM);
    return;
  }
  if (!q.what || req->sort >= TR_INSPECT_SORT_COUNT ||
      q.limit > TR_INSPECT_LIMIT_MAX || !c->inspect_local) {
    host_op_status(c, client, req->id, TR_EINVAL);
    free(r);
    return;
  }
  answer a = {.c = c, .client = client, .id = req->id, .r = r};
  r->monitors.funcs.encode = enc_monitors;
  r->monitors.arg = &a;
  r->dead_letters.funcs.encode = enc_dead_letters;
  r->dead_letters.arg = &a;
  tr_inspect_fns fns = {.actor = ans_actor,
                        .link = ans_link,
                        .counter = ans_counter,
                        .sub = ans_sub,
                        .group = ans_group,
                        .monitor = ans_monitor,
                        .dead_letter = ans_dead_letter,
                        .left_off = ans_left_off};
  uint32_t total = 0;
  int rc = c->inspect_local(c->node, &q, &fns, &a, &total);
  r->has_total = true;
  r->total = total;
  if (a.failed) { /* an incomplete answer is not one: say why instead */
    r->actors_count = r->links_count = r->subs_count = 0;
    r->counters_count = 0;
    a.nmons = a.ndls = 0;
    r->has_monitors_more = r->has_dead_letters_more = false;
    rc = TR_EFULL;
  }
  host_op_send(c, client, r, req->id, rc, false); /* the last batch */
  free(r);
}
