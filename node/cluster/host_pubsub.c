/* host_pubsub.c — pub/sub across nodes. A subscription names (publisher,
 * topic), never a node. The subscriber's node tells the publisher's owner
 * "I want (publisher, topic)" once, however many local subscribers it has
 * (SUB envelope), and withdraws it when the last one goes (UNSUB). The
 * publisher's node keeps, per topic, the nodes interested, and sends each
 * publish once per interested node; the receiving node fans it out to its
 * subscribers from one shared copy. Interest follows the registry: when
 * the publisher's id resolves to another node (respawned elsewhere, its
 * node restarted, or it appeared at last), the interest moves there; while
 * it resolves nowhere, the subscription waits and the interest stays
 * parked at the publisher's last node (which keeps it across the stop), so
 * a publisher respawned in place reaches its subscribers at once. Interest rides the
 * envelope stream, so it is ordered with publishes and survives link
 * reconnects like any message. A publish never waits: a full link drops
 * that node's copy, counted per (publisher, topic, node). */
#include <stdlib.h>
#include <string.h>

#include "host.h"

/* Publisher side: the nodes interested in one local topic. */
typedef struct host_interest {
  struct host_interest *next, *prev; /* c->interests */
  eng_topic *topic;
  uint32_t n, cap;
  uint16_t *nodes;
  uint64_t *sent, *dropped; /* per node */
} host_interest;

static void interest_unlink_free(eng_cluster *c, host_interest *in) {
  if (in->prev)
    in->prev->next = in->next;
  else
    c->interests = in->next;
  if (in->next) in->next->prev = in->prev;
  free(in->nodes);
  free(in->sent);
  free(in->dropped);
  free(in);
}

/* Drops node idx from the topic's interest; frees what is left empty. */
static void interest_remove(eng_cluster *c, host_interest *in, uint16_t idx) {
  for (uint32_t i = 0; i < in->n; i++) {
    if (in->nodes[i] != idx) continue;
    in->n--;
    in->nodes[i] = in->nodes[in->n];
    in->sent[i] = in->sent[in->n];
    in->dropped[i] = in->dropped[in->n];
    break;
  }
  if (in->n) return;
  eng_topic *t = in->topic;
  t->remote = NULL;
  interest_unlink_free(c, in);
  pubsub_topic_unused(c->node, t);
}

static int interest_add(eng_cluster *c, eng_topic *t, uint16_t idx) {
  host_interest *in = t->remote;
  if (!in) {
    in = calloc(1, sizeof(*in));
    if (!in) return TR_ENOMEM;
    in->topic = t;
    in->next = c->interests;
    if (c->interests) c->interests->prev = in;
    c->interests = in;
    t->remote = in;
  }
  for (uint32_t i = 0; i < in->n; i++)
    if (in->nodes[i] == idx) return 0; /* said twice: once is enough */
  if (in->n == in->cap) {
    uint32_t cap = in->cap ? in->cap * 2 : 4;
    uint16_t *nodes = realloc(in->nodes, cap * sizeof(*nodes));
    if (nodes) in->nodes = nodes;
    uint64_t *sent = realloc(in->sent, cap * sizeof(*sent));
    if (sent) in->sent = sent;
    uint64_t *dropped = realloc(in->dropped, cap * sizeof(*dropped));
    if (dropped) in->dropped = dropped;
    if (!nodes || !sent || !dropped) {
      if (!in->n) {
        t->remote = NULL;
        interest_unlink_free(c, in);
      }
      return TR_ENOMEM;
    }
    in->cap = cap;
  }
  in->nodes[in->n] = idx;
  in->sent[in->n] = in->dropped[in->n] = 0;
  in->n++;
  return 0;
}

static int send_interest(eng_cluster *c, host_peer *p, uint32_t type,
                         eng_topic *t) {
  return host_send_env_topic(c, p, type, t->pub->id->str, t->name->str,
                             NULL, 0);
}

/* ---- subscriber side -------------------------------------------------------- */

void cluster_interest_changed(eng_cluster *c, eng_topic *t) {
  const char *pub = t->pub->id->str;
  uint16_t want = 0;
  if (t->nsubs > 0 && pub[0] != '$') {
    const char *owner = reg_lookup(c->reg, pub);
    /* Resolving nowhere (the publisher stopped): the interest stays
     * parked at its last node, so a publisher respawned there reaches us
     * from its first publish; a respawn elsewhere moves it below. */
    if (!owner) return;
    host_peer *p = strcmp(owner, c->name) != 0 ? host_peer_get(c, owner)
                                                : NULL;
    if (p && p->up) want = p->idx;
  }
  if (want == t->interest_node) return;
  host_peer *old = host_peer_at(c, t->interest_node);
  if (old && old->up) send_interest(c, old, HOST_ENV_UNSUB, t);
  t->interest_node = 0;
  host_peer *p = host_peer_at(c, want);
  if (p && send_interest(c, p, HOST_ENV_SUB, t) == 0) t->interest_node = want;
}

/* Re-evaluates every subscribed topic of publisher `id` (its owner
 * changed), or of every publisher when id is NULL and `node` matches the
 * node told (that node restarted or died). */
void host_pubsub_refresh(eng_cluster *c, const char *id, uint16_t node) {
  if (id) {
    eng_pub *p = pubsub_pub_find(c->node, id);
    if (!p) return;
    eng_topic *t, *tmp;
    HASH_ITER(hh, p->topics, t, tmp) {
      if (t->nsubs) cluster_interest_changed(c, t);
    }
    return;
  }
  eng_pub *p, *ptmp;
  HASH_ITER(hh, c->node->pubs, p, ptmp) {
    eng_topic *t, *tmp;
    HASH_ITER(hh, p->topics, t, tmp) {
      if (t->interest_node != node) continue;
      t->interest_node = 0; /* what that node knew is gone */
      if (t->nsubs) cluster_interest_changed(c, t);
    }
  }
}

/* The link to p came up (again): say once more what this node wants from
 * it. p may have dropped our interest meanwhile (it held us dead while we
 * were only slow); SUB is idempotent there. */
void host_pubsub_resend(eng_cluster *c, host_peer *p) {
  eng_pub *pub, *ptmp;
  HASH_ITER(hh, c->node->pubs, pub, ptmp) {
    eng_topic *t, *tmp;
    HASH_ITER(hh, pub->topics, t, tmp) {
      if (t->interest_node == p->idx && t->nsubs &&
          send_interest(c, p, HOST_ENV_SUB, t) != 0)
        t->interest_node = 0; /* retried when the registry next moves */
    }
  }
}

/* ---- publisher side ---------------------------------------------------------- */

void cluster_publish(eng_cluster *c, eng_topic *t, eng_name *from,
                     const void *data, size_t len) {
  host_interest *in = t->remote;
  for (uint32_t i = 0; i < in->n; i++) {
    host_peer *p = host_peer_at(c, in->nodes[i]);
    int rc = p ? host_send_env_topic(c, p, TR_MSG_PUBLISH, from->str,
                                     t->name->str, data, len)
               : TR_EUNREACHABLE;
    if (rc == 0) {
      in->sent[i]++;
    } else {
      in->dropped[i]++;
      c->st.publish_dropped++;
    }
  }
}

void cluster_topic_freed(eng_cluster *c, eng_topic *t) {
  interest_unlink_free(c, t->remote);
  t->remote = NULL;
}

/* A node died, left or restarted: what it wanted is void. */
void host_pubsub_node_down(eng_cluster *c, host_peer *p) {
  for (host_interest *in = c->interests, *next; in; in = next) {
    next = in->next;
    interest_remove(c, in, p->idx);
  }
}

/* SUB, UNSUB or PUBLISH from node `from`. */
void host_pubsub_on_env(eng_cluster *c, host_peer *from, const wire_envelope *e,
                        const char *target, eng_name *sender) {
  if (!e->has_topic || e->topic.len > TR_ID_MAX) {
    c->st.rejected++;
    return;
  }
  const char *topic = (const char *)e->topic.p;
  if (e->type == TR_MSG_PUBLISH) {
    /* Nobody may publish as an actor another node owns. An id this node
     * cannot resolve yet is taken from the node that sends it: its
     * registry may lag (the publisher's node was just held dead). */
    const char *owner = sender ? reg_lookup(c->reg, sender->str) : NULL;
    if (!sender || (owner && strcmp(owner, from->name) != 0)) {
      c->st.rejected++;
      host_log(c, TR_LOG_WARN, "publish_rejected", "peer=%s publisher=%s",
               from->name, sender ? sender->str : "-");
      return;
    }
    pubsub_deliver_remote(c->node, sender, topic, e->topic.len, e->payload.p,
                          e->payload.len, from->idx);
    return;
  }
  /* target: the publisher here; topic: its topic. */
  eng_topic *t = pubsub_topic_get(c->node, target, strlen(target), topic,
                                  e->topic.len);
  if (!t) return;
  if (e->type == HOST_ENV_SUB) {
    if (interest_add(c, t, from->idx) != 0) {
      pubsub_topic_unused(c->node, t);
      host_log(c, TR_LOG_ERROR, "interest_lost", "peer=%s reason=enomem",
               from->name);
    }
    return;
  }
  if (t->remote)
    interest_remove(c, t->remote, from->idx);
  else
    pubsub_topic_unused(c->node, t);
}

void host_pubsub_each(eng_cluster *c,
                      void (*fn)(void *arg, const tr_sub_info *), void *arg,
                      int *count) {
  for (host_interest *in = c->interests; in; in = in->next) {
    for (uint32_t i = 0; i < in->n; i++) {
      host_peer *p = host_peer_at(c, in->nodes[i]);
      tr_sub_info si = {.publisher = in->topic->pub->id->str,
                        .topic = in->topic->name->str,
                        .subscriber = NULL,
                        .node = p ? p->name : "?",
                        .delivered = in->sent[i],
                        .dropped = in->dropped[i]};
      if (fn) fn(arg, &si);
      (*count)++;
    }
  }
}

void host_pubsub_free(eng_cluster *c) {
  while (c->interests) {
    host_interest *in = c->interests;
    in->topic->remote = NULL;
    interest_unlink_free(c, in);
  }
}
