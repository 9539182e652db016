/* pubsub.c — local topics. Subscriptions are held per (publisher id, topic),
 * independent of whether the publisher is alive, so they survive its restart.
 * A publish queues one reference-counted slot, the payload's one copy, to
 * every subscriber; a full subscriber misses that publish, counted. */
#include <stdlib.h>
#include <string.h>

#include "engine.h"

static eng_pub *pub_find(tr_node *n, const char *id) {
  eng_pub *p = NULL;
  HASH_FIND_STR(n->pubs, id, p);
  return p;
}

static eng_topic *topic_find(eng_pub *p, const char *topic) {
  eng_topic *t = NULL;
  HASH_FIND_STR(p->topics, topic, t);
  return t;
}

static eng_pub *pub_get(tr_node *n, const char *id, size_t len) {
  eng_pub *p = pub_find(n, id);
  if (p) return p;
  p = calloc(1, sizeof(*p));
  if (!p) return NULL;
  p->id = eng_name_new(id, len);
  if (!p->id) {
    free(p);
    return NULL;
  }
  HASH_ADD_KEYPTR(hh, n->pubs, p->id->str, p->id->len, p);
  p->actor = actor_find(n, id);
  if (p->actor) p->actor->pub = p;
  return p;
}

static void pub_maybe_free(tr_node *n, eng_pub *p) {
  if (p->topics) return;
  if (p->actor) p->actor->pub = NULL;
  HASH_DEL(n->pubs, p);
  eng_name_unref(p->id);
  free(p);
}

static eng_topic *topic_get(tr_node *n, eng_pub *p, const char *topic,
                            size_t len) {
  eng_topic *t = topic_find(p, topic);
  if (t) return t;
  t = calloc(1, sizeof(*t));
  if (!t) return NULL;
  t->name = len ? eng_name_new(topic, len) : eng_name_ref(n->default_topic);
  if (!t->name) {
    free(t);
    return NULL;
  }
  t->pub = p;
  HASH_ADD_KEYPTR(hh, p->topics, t->name->str, t->name->len, t);
  return t;
}

static void topic_maybe_free(tr_node *n, eng_topic *t) {
  if (t->nsubs || t->remote) return;
  eng_pub *p = t->pub;
  HASH_DEL(p->topics, t);
  eng_name_unref(t->name);
  free(t);
  pub_maybe_free(n, p);
}

/* Takes s out of its topic's arrays: the last takes its place. */
static void topic_unlink(eng_topic *t, eng_sub *s) {
  uint32_t i = s->index, last = --t->nsubs;
  t->subs[i] = t->subs[last];
  t->sub_actors[i] = t->sub_actors[last];
  t->subs[i]->index = i;
  if (!t->nsubs) {
    free(t->subs);
    free(t->sub_actors);
    t->subs = NULL;
    t->sub_actors = NULL;
    t->subs_cap = 0;
  }
}

/* Appends s to its topic's arrays; TR_ENOMEM. */
static int topic_link(eng_topic *t, eng_sub *s) {
  if (t->nsubs == t->subs_cap) {
    uint32_t cap = t->subs_cap ? t->subs_cap * 2 : 4;
    eng_sub **subs = realloc(t->subs, cap * sizeof(*subs));
    if (!subs) return TR_ENOMEM;
    t->subs = subs;
    eng_actor **actors = realloc(t->sub_actors, cap * sizeof(*actors));
    if (!actors) return TR_ENOMEM; /* subs grew alone: harmless */
    t->sub_actors = actors;
    t->subs_cap = cap;
  }
  s->index = t->nsubs++;
  t->subs[s->index] = s;
  t->sub_actors[s->index] = s->subscriber;
  s->base = t->published;
  return 0;
}

static void sub_remove(tr_node *n, eng_sub *s) {
  eng_topic *t = s->topic;
  topic_unlink(t, s);
  if (t->nsubs == 0 && n->rops) /* withdraw it */
    n->rops->interest(n->ruser, t->pub->id->str, t->name->str, false);
  eng_actor *a = s->subscriber;
  if (s->sub_prev)
    s->sub_prev->sub_next = s->sub_next;
  else
    a->x->subs = s->sub_next;
  if (s->sub_next) s->sub_next->sub_prev = s->sub_prev;
  free(s);
  n->stats.subscriptions--;
  topic_maybe_free(n, t);
}

static int check_topic(const char *topic, size_t *len) {
  if (!topic) return TR_EINVAL;
  *len = strnlen(topic, TR_ID_MAX + 1);
  return *len > TR_ID_MAX ? TR_EINVAL : 0;
}

int tr_subscribe_topic(tr_ctx *ctx, const char *publisher, const char *topic) {
  size_t plen, tlen;
  if (!ctx || eng_check_id(publisher, &plen) != 0 ||
      check_topic(topic, &tlen) != 0)
    return TR_EINVAL;
  if (ctx->stopping) return TR_ESTATE;
  tr_node *n = ctx->node;
  int rc = ctx->id->str[0] == '$'
               ? 0 /* judged by the remote layer (an operator's) */
               : eng_guarded(n, ENG_ACT_SUBSCRIBE, publisher, topic);
  if (rc != 0) return rc;
  eng_actor_x *x = actor_x(ctx);
  if (!x) return TR_ENOMEM;
  eng_pub *p = pub_get(n, publisher, plen);
  if (!p) return TR_ENOMEM;
  eng_topic *t = topic_get(n, p, topic, tlen);
  if (!t) {
    pub_maybe_free(n, p);
    return TR_ENOMEM;
  }
  for (eng_sub *s = x->subs; s; s = s->sub_next)
    if (s->topic == t) return 0;
  eng_sub *s = calloc(1, sizeof(*s));
  if (!s) {
    topic_maybe_free(n, t);
    return TR_ENOMEM;
  }
  s->subscriber = ctx;
  s->topic = t;
  if (topic_link(t, s) != 0) {
    free(s);
    topic_maybe_free(n, t);
    return TR_ENOMEM;
  }
  if (t->nsubs == 1 && n->rops)
    n->rops->interest(n->ruser, t->pub->id->str, t->name->str, true);
  s->sub_next = x->subs;
  if (x->subs) x->subs->sub_prev = s;
  x->subs = s;
  n->stats.subscriptions++;
  return 0;
}

int tr_subscribe(tr_ctx *ctx, const char *publisher) {
  return tr_subscribe_topic(ctx, publisher, "");
}

int tr_unsubscribe_topic(tr_ctx *ctx, const char *publisher,
                         const char *topic) {
  size_t plen, tlen;
  if (!ctx || eng_check_id(publisher, &plen) != 0 ||
      check_topic(topic, &tlen) != 0)
    return TR_EINVAL;
  tr_node *n = ctx->node;
  eng_pub *p = pub_find(n, publisher);
  eng_topic *t = p ? topic_find(p, topic) : NULL;
  if (!t) return TR_ENOTFOUND;
  for (eng_sub *s = ctx->x ? ctx->x->subs : NULL; s; s = s->sub_next) {
    if (s->topic == t) {
      sub_remove(n, s);
      return 0;
    }
  }
  return TR_ENOTFOUND;
}

int tr_unsubscribe(tr_ctx *ctx, const char *publisher) {
  return tr_unsubscribe_topic(ctx, publisher, "");
}

/* One slot, the payload's one copy, queued to every subscriber of t; a
 * full one misses it, counted. Returns the subscribers reached. */
static int publish_to(tr_node *n, eng_topic *t, uint8_t type, eng_name *from,
                      const void *data, size_t len, int status,
                      uint16_t origin, uint32_t msg_type) {
  if (!t || !t->nsubs) return 0;
  unsigned flags = ENG_ORIGIN(origin);
  eng_msg *m = eng_msg_new(n, type, from, t->name, data, len, NULL, 0, status,
                           flags, msg_type);
  if (!m) return TR_ENOMEM;
  t->published++;
  uint32_t reached = 0;
  for (uint32_t i = 0; i < t->nsubs; i++) {
    eng_actor *a = t->sub_actors[i];
    int rc = mb_admits(a, type, flags, msg_type);
    if (rc == 0 && (rc = mb_enqueue(n, a, m)) == 0) {
      reached++;
      continue;
    }
    t->subs[i]->dropped++;
    eng_dead_for(n, a,
                 rc == TR_EFULL      ? TR_DL_PUBLISH_FULL
                 : rc == TR_EBADTYPE ? TR_DL_REJECTED_BADTYPE
                                     : TR_DL_STOPPED,
                 from, len);
  }
  eng_msg_shared(n, m, reached);
  return (int)reached;
}

/* ---- the remote layer's way in (eng_remote.h) ---------------------------- */

int eng_publish_system(tr_node *n, uint8_t type, const void *data, size_t len,
                       int status) {
  eng_pub *p = pub_find(n, n->system_id->str);
  eng_topic *t = p ? topic_find(p, "") : NULL;
  return publish_to(n, t, type, n->system_id, data, len, status, 0, 0);
}

int eng_publish_system_topic(tr_node *n, const char *topic, uint8_t type,
                             const void *data, size_t len) {
  eng_pub *p = pub_find(n, n->system_id->str);
  eng_topic *t = p ? topic_find(p, topic) : NULL;
  return publish_to(n, t, type, n->system_id, data, len, 0, 0, 0);
}

int eng_deliver_publish(tr_node *n, eng_name *pub, const char *topic,
                        size_t topic_len, const void *data, size_t len,
                        uint16_t origin, uint32_t msg_type) {
  eng_pub *p = pub_find(n, pub->str);
  eng_topic *t = NULL;
  if (p) HASH_FIND(hh, p->topics, topic, topic_len, t);
  int reached =
      publish_to(n, t, TR_MSG_PUBLISH, pub, data, len, 0, origin, msg_type);
  if (reached > 0) eng_backlog_check(n);
  return reached;
}

int eng_topic_remote(tr_node *n, const char *pub, size_t pub_len,
                     const char *topic, size_t topic_len, bool remote) {
  char id[TR_ID_MAX + 1], name[TR_ID_MAX + 1];
  if (pub_len == 0 || pub_len > TR_ID_MAX || topic_len > TR_ID_MAX)
    return TR_EINVAL;
  memcpy(id, pub, pub_len);
  id[pub_len] = '\0';
  memcpy(name, topic, topic_len);
  name[topic_len] = '\0';
  if (!remote) {
    eng_pub *p = pub_find(n, id);
    eng_topic *t = p ? topic_find(p, name) : NULL;
    if (t) {
      t->remote = false;
      topic_maybe_free(n, t);
    }
    return 0;
  }
  eng_pub *p = pub_get(n, id, pub_len);
  if (!p) return TR_ENOMEM;
  eng_topic *t = topic_get(n, p, name, topic_len);
  if (!t) {
    pub_maybe_free(n, p);
    return TR_ENOMEM;
  }
  t->remote = true;
  return 0;
}

int eng_subscriptions_each(tr_node *n,
                           void (*fn)(void *arg, const tr_sub_info *),
                           void *arg) {
  int count = 0;
  eng_pub *p, *ptmp;
  HASH_ITER(hh, n->pubs, p, ptmp) {
    eng_topic *t, *ttmp;
    HASH_ITER(hh, p->topics, t, ttmp) {
      for (uint32_t i = 0; i < t->nsubs; i++) {
        const eng_sub *s = t->subs[i];
        tr_sub_info si = {.publisher = p->id->str,
                          .topic = t->name->str,
                          .subscriber = s->subscriber->id->str,
                          .node = n->name,
                          .delivered = t->published - s->base - s->dropped,
                          .dropped = s->dropped};
        if (fn) fn(arg, &si);
        count++;
      }
    }
  }
  return count;
}

/* ---- public calls ------------------------------------------------------------ */

static int publish_tagged(tr_ctx *ctx, const char *topic, uint32_t msg_type,
                          const void *data, size_t len) {
  size_t tlen;
  if (!ctx || check_topic(topic, &tlen) != 0 || (len && !data))
    return TR_EINVAL;
  tr_node *n = ctx->node;
  if (len > n->max_payload) {
    eng_dead(n, TR_DL_REJECTED_TOOBIG, ctx->id->str, NULL, len);
    return TR_ETOOBIG;
  }
  n->stats.published++;
  eng_topic *t = ctx->pub ? topic_find(ctx->pub, topic) : NULL;
  if (t && t->remote && n->rops)
    n->rops->publish(n->ruser, ctx->id, t->name, data, len, msg_type);
  ctx->sent++;
  return publish_to(n, t, TR_MSG_PUBLISH, ctx->id, data, len, 0, 0, msg_type);
}

int eng_publish_as(tr_node *n, const char *id, const tr_actor_type *type,
                   const char *topic, const void *data, size_t len) {
  eng_actor *a = id ? actor_find(n, id) : NULL;
  if (!a || a->stopping) return TR_ENOTFOUND;
  if (a->type != type) return TR_EPERM;
  return publish_tagged(a, topic ? topic : "", 0, data, len);
}

int tr_publish_topic(tr_ctx *ctx, const char *topic, const void *data,
                     size_t len) {
  return publish_tagged(ctx, topic, 0, data, len);
}

int tr_publish_tagged(tr_ctx *ctx, const char *topic, uint32_t msg_type,
                      const void *data, size_t len) {
  return publish_tagged(ctx, topic ? topic : "", msg_type, data, len);
}

int tr_publish(tr_ctx *ctx, const void *data, size_t len) {
  return tr_publish_topic(ctx, "", data, len);
}

void pubsub_actor_started(eng_actor *a) {
  if (!a->node->pubs) return; /* nobody subscribed to anyone here */
  eng_pub *p = pub_find(a->node, a->id->str);
  if (!p) return;
  p->actor = a;
  a->pub = p;
}

void pubsub_actor_stopped(eng_actor *a) {
  while (a->x && a->x->subs) sub_remove(a->node, a->x->subs);
  if (a->pub) {
    a->pub->actor = NULL;
    a->pub = NULL;
  }
}

void pubsub_free(tr_node *n) {
  eng_pub *p, *ptmp;
  HASH_ITER(hh, n->pubs, p, ptmp) {
    eng_topic *t, *ttmp;
    HASH_ITER(hh, p->topics, t, ttmp) {
      for (uint32_t i = 0; i < t->nsubs; i++) free(t->subs[i]);
      free(t->subs);
      free(t->sub_actors);
      HASH_DEL(p->topics, t);
      eng_name_unref(t->name);
      free(t);
    }
    HASH_DEL(n->pubs, p);
    eng_name_unref(p->id);
    free(p);
  }
}
