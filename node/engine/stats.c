/* stats.c — the node's counters and per-actor mailbox figures, read on the
 * loop thread; later layers export them as metrics. */
#include "engine.h"

void eng_undelivered(tr_node *n, int rc, const eng_name *from, const char *to,
                     size_t len) {
  if (rc == TR_ENOMEM) {
    n->stats.lost_nomem++;
    eng_log(n, TR_LOG_ERROR, "send_lost", "reason=enomem total=%llu",
            (unsigned long long)n->stats.lost_nomem);
    return;
  }
  eng_dead(n, rc == TR_EUNREACHABLE ? TR_DL_UNREACHABLE : TR_DL_NO_ACTOR,
           eng_str(from), to, len);
}

int tr_node_stats_get_sized(tr_node *n, tr_node_stats *out, size_t size) {
  if (!n || !out) return TR_EINVAL;
  tr_node_stats s = n->stats;
  s.actors = n->actors.count - n->system_actors;
  s.asks_pending = HASH_COUNT(n->asks);
  s.dead[TR_DL_REJECTED_FULL] += atomic_load(&n->ts_rejected_full);
  s.dead[TR_DL_REJECTED_TOOBIG] += atomic_load(&n->ts_rejected_toobig);
  s.deferred = defer_count(n);
  eng_struct_out(out, size, &s, sizeof(s));
  return 0;
}

int(tr_node_stats_get)(tr_node *n, tr_node_stats *out) {
  return tr_node_stats_get_sized(n, out, sizeof(*out));
}

/* Messages per second between samples at least ENG_RATE_MS apart: a read
 * takes a new sample when the last is that old (the first is the spawn). */
#define ENG_RATE_MS 1000u

/* The samples live in the actor's x, made at its first sample: an actor
 * nobody looks at pays nothing for them. Without x (ENOMEM) its rates
 * read 0 until a later sample can be kept. */
static void rate_sample(eng_actor *a, uint64_t now) {
  uint64_t since = a->x && a->x->rate_ms ? a->x->rate_ms : a->born_ms;
  if (now < since + ENG_RATE_MS) return;
  eng_actor_x *x = actor_x(a);
  if (!x) return;
  double span = (double)(now - since) / 1000.0;
  x->in_per_s = (float)((double)(a->delivered - x->rate_delivered) / span);
  x->out_per_s = (float)((double)(a->sent - x->rate_sent) / span);
  x->rate_ms = now;
  x->rate_delivered = a->delivered;
  x->rate_sent = a->sent;
}

static tr_actor_info info_of(eng_actor *a) {
  uint64_t now = uv_now(a->node->loop);
  rate_sample(a, now);
  return (tr_actor_info){
      .queued = a->mb_count,
      .capacity = a->mb_capacity,
      .hwm = a->mb_hwm,
      .children = a->x ? a->x->nchildren : 0,
      .delivered = a->delivered,
      .type = a->type->name ? a->type->name : "?", /* name is optional */
      .parent = a->parent ? a->parent->id->str : NULL,
      .sent = a->sent,
      .handler_mean_ns = a->timed ? a->handler_ns / a->timed : 0,
      .handler_max_ns = a->handler_max_ns,
      .age_ms = now - a->born_ms,
      .id = a->id->str,
      .in_per_s = a->x ? a->x->in_per_s : 0,
      .out_per_s = a->x ? a->x->out_per_s : 0,
      .dead = a->x ? a->x->dead : 0,
      .restarts = a->restarts,
  };
}

int tr_actor_info_get_sized(tr_node *n, const char *id, tr_actor_info *out,
                            size_t size) {
  if (!n || !out || eng_check_id(id, NULL) != 0) return TR_EINVAL;
  eng_actor *a = actor_find(n, id);
  if (!a) return TR_ENOTFOUND;
  tr_actor_info info = info_of(a);
  eng_struct_out(out, size, &info, sizeof(info));
  return 0;
}

int tr_node_actors(tr_node *n, void (*fn)(void *, const tr_actor_info *),
                   void *arg) {
  if (!n) return TR_EINVAL;
  int count = 0;
  uint32_t cur = 0;
  for (eng_actor *a; (a = atab_next(&n->actors, &cur));) {
    if (a->id->str[0] == '$') continue; /* node-internal */
    count++;
    if (!fn) continue;
    tr_actor_info info = info_of(a);
    fn(arg, &info);
  }
  return count;
}

int(tr_actor_info_get)(tr_node *n, const char *id, tr_actor_info *out) {
  return tr_actor_info_get_sized(n, id, out, sizeof(*out));
}
