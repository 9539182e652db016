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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"

/* Interest is keyed by "publisher\0topic": a publisher id holds no NUL. */
#define KEY_MAX (2 * TR_ID_MAX + 2)

static size_t key_make(char *key, const char *pub, size_t plen,
                       const char *topic, size_t tlen) {
  memcpy(key, pub, plen);
  key[plen] = '\0';
  memcpy(key + plen + 1, topic, tlen);
  return plen + 1 + tlen;
}

/* Publisher side: the nodes interested in one local (publisher, topic). */
struct host_interest {
  UT_hash_handle hh; /* c->interests, keyed by key */
  uint32_t n, cap;
  uint16_t *nodes;
  uint64_t *sent, *dropped; /* per node */
  const char *pub, *topic; /* into key */
  size_t key_len;
  char key[];
};

/* Subscriber side: per publisher id, the topics local actors subscribe to
 * and the node told of each (0: none; a local publisher, or pending). */
typedef struct host_want {
  struct host_want *next;
  uint16_t node;
  char topic[];
} host_want;

struct host_wpub {
  UT_hash_handle hh; /* c->wpubs, keyed by id */
  host_want *wants;
  char id[];
};

static void interest_free(cluster *c, host_interest *in) {
  HASH_DEL(c->interests, in);
  free(in->nodes);
  free(in->sent);
  free(in->dropped);
  free(in);
}

/* Drops node idx from the topic's interest; frees what is left empty and
 * tells the engine the topic is local only again. */
static void interest_remove(cluster *c, host_interest *in, uint16_t idx) {
  for (uint32_t i = 0; i < in->n; i++) {
    if (in->nodes[i] != idx) continue;
    in->n--;
    in->nodes[i] = in->nodes[in->n];
    in->sent[i] = in->sent[in->n];
    in->dropped[i] = in->dropped[in->n];
    break;
  }
  if (in->n) return;
  eng_topic_remote(c->node, in->pub, strlen(in->pub), in->topic,
                   strlen(in->topic), false);
  interest_free(c, in);
}

static int interest_add(cluster *c, const char *pub, size_t plen,
                        const char *topic, size_t tlen, uint16_t idx) {
  char key[KEY_MAX];
  size_t klen = key_make(key, pub, plen, topic, tlen);
  host_interest *in = NULL;
  HASH_FIND(hh, c->interests, key, klen, in);
  if (!in) {
    in = calloc(1, sizeof(*in) + klen + 1);
    if (!in) return TR_ENOMEM;
    memcpy(in->key, key, klen);
    in->key[klen] = '\0';
    in->key_len = klen;
    in->pub = in->key;
    in->topic = in->key + plen + 1;
    if (eng_topic_remote(c->node, pub, plen, topic, tlen, true) != 0) {
      free(in);
      return TR_ENOMEM;
    }
    HASH_ADD(hh, c->interests, key, klen, in);
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
        eng_topic_remote(c->node, pub, plen, topic, tlen, false);
        interest_free(c, in);
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

static int send_interest(cluster *c, host_peer *p, uint32_t type,
                         const char *pub, const char *topic) {
  return host_send_env_topic(c, p, type, pub, topic, NULL, 0);
}

/* ---- subscriber side -------------------------------------------------------- */

static host_wpub *wpub_find(cluster *c, const char *id) {
  host_wpub *w = NULL;
  HASH_FIND_STR(c->wpubs, id, w);
  return w;
}

bool host_pubsub_wanted(cluster *c, const char *id) {
  return wpub_find(c, id) != NULL;
}

/* Tells the publisher's current owner of our interest in (pub, w->topic),
 * withdrawing it from the node told before if that changed. */
static void want_update(cluster *c, const char *pub, host_want *w,
                        bool want_any) {
  uint16_t want = 0;
  if (want_any && pub[0] != '$') {
    const char *owner = reg_lookup(c->reg, pub);
    /* Resolving nowhere (the publisher stopped): the interest stays
     * parked at its last node, so a publisher respawned there reaches us
     * from its first publish; a respawn elsewhere moves it below. */
    if (!owner) return;
    host_peer *p = strcmp(owner, c->name) != 0 ? host_peer_get(c, owner)
                                                : NULL;
    if (p && p->up) want = p->idx;
  }
  if (want == w->node) return;
  host_peer *old = host_peer_at(c, w->node);
  if (old && old->up) send_interest(c, old, HOST_ENV_UNSUB, pub, w->topic);
  w->node = 0;
  host_peer *p = host_peer_at(c, want);
  if (p && send_interest(c, p, HOST_ENV_SUB, pub, w->topic) == 0)
    w->node = want;
}

void host_remote_interest(void *user, const char *pub, const char *topic,
                          bool want) {
  cluster *c = user;
  host_wpub *wp = wpub_find(c, pub);
  host_want *w = NULL, **pw = NULL;
  if (wp) {
    for (pw = &wp->wants; *pw; pw = &(*pw)->next)
      if (strcmp((*pw)->topic, topic) == 0) break;
    w = *pw;
  }
  if (!want) {
    if (!w) return;
    want_update(c, pub, w, false); /* withdraw */
    *pw = w->next;
    free(w);
    if (!wp->wants) {
      HASH_DEL(c->wpubs, wp);
      free(wp);
    }
    return;
  }
  if (w) return;
  if (!wp) {
    size_t len = strlen(pub);
    wp = calloc(1, sizeof(*wp) + len + 1);
    if (!wp) goto enomem;
    memcpy(wp->id, pub, len + 1);
    HASH_ADD(hh, c->wpubs, id, len, wp);
  }
  size_t tlen = strlen(topic);
  w = calloc(1, sizeof(*w) + tlen + 1);
  if (!w) {
    if (!wp->wants) {
      HASH_DEL(c->wpubs, wp);
      free(wp);
    }
    goto enomem;
  }
  memcpy(w->topic, topic, tlen + 1);
  w->next = wp->wants;
  wp->wants = w;
  want_update(c, pub, w, true);
  return;
enomem:
  /* The local subscription holds; publishes from another node will not
   * reach it. Said once, loudly. */
  host_log(c, TR_LOG_ERROR, "interest_lost", "publisher=%s topic=%s "
           "reason=enomem", pub, topic);
}

/* Re-evaluates every subscribed topic of publisher `id` (its owner
 * changed), or of every publisher when id is NULL and `node` matches the
 * node told (that node restarted or died). */
void host_pubsub_refresh(cluster *c, const char *id, uint16_t node) {
  if (id) {
    host_wpub *wp = wpub_find(c, id);
    for (host_want *w = wp ? wp->wants : NULL; w; w = w->next)
      want_update(c, wp->id, w, true);
    return;
  }
  host_wpub *wp, *tmp;
  HASH_ITER(hh, c->wpubs, wp, tmp) {
    for (host_want *w = wp->wants; w; w = w->next) {
      if (w->node != node) continue;
      w->node = 0; /* what that node knew is gone */
      want_update(c, wp->id, w, true);
    }
  }
}

/* The link to p came up (again): say once more what this node wants from
 * it. p may have dropped our interest meanwhile (it held us dead while we
 * were only slow); SUB is idempotent there. */
void host_pubsub_resend(cluster *c, host_peer *p) {
  host_wpub *wp, *tmp;
  HASH_ITER(hh, c->wpubs, wp, tmp) {
    for (host_want *w = wp->wants; w; w = w->next) {
      if (w->node == p->idx &&
          send_interest(c, p, HOST_ENV_SUB, wp->id, w->topic) != 0)
        w->node = 0; /* retried when the registry next moves */
    }
  }
}

/* ---- publisher side ---------------------------------------------------------- */

void host_remote_publish(void *user, eng_name *from, eng_name *topic,
                         const void *data, size_t len, uint32_t msg_type) {
  cluster *c = user;
  char key[KEY_MAX];
  size_t klen = key_make(key, from->str, from->len, topic->str, topic->len);
  host_interest *in = NULL;
  HASH_FIND(hh, c->interests, key, klen, in);
  if (!in) return;
  for (uint32_t i = 0; i < in->n; i++) {
    host_peer *p = host_peer_at(c, in->nodes[i]);
    int rc = p ? host_send_publish(c, p, from->str, topic->str, data, len,
                                   msg_type)
               : TR_EUNREACHABLE;
    if (rc == 0) {
      in->sent[i]++;
    } else {
      in->dropped[i]++;
      c->st.publish_dropped++;
    }
  }
}

/* A node died, left or restarted: what it wanted is void. */
void host_pubsub_node_down(cluster *c, host_peer *p) {
  host_interest *in, *tmp;
  HASH_ITER(hh, c->interests, in, tmp) interest_remove(c, in, p->idx);
}

/* SUB, UNSUB or PUBLISH from node `from`. */
void host_pubsub_on_env(cluster *c, host_peer *from, const wire_envelope *e,
                        const char *target, eng_name *sender) {
  if (!e->has_topic || e->topic.len > TR_ID_MAX ||
      memchr(e->topic.p, '\0', e->topic.len)) {
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
    eng_deliver_publish(c->node, sender, topic, e->topic.len, e->payload.p,
                        e->payload.len, from->idx, e->msg_type);
    return;
  }
  /* target: the publisher here; topic: its topic. */
  size_t plen = strlen(target);
  if (e->type == HOST_ENV_SUB) {
    char tcopy[TR_ID_MAX + 1];
    memcpy(tcopy, topic, e->topic.len);
    tcopy[e->topic.len] = '\0';
    if (host_policy_check(c, from->name, POLICY_ROLE_NODE, POLICY_SUBSCRIBE,
                          target, tcopy) != 0) {
      c->st.policy_denied++; /* its subscribers get nothing from here */
      return;
    }
    if (interest_add(c, target, plen, topic, e->topic.len, from->idx) != 0)
      host_log(c, TR_LOG_ERROR, "interest_lost", "peer=%s reason=enomem",
               from->name);
    return;
  }
  char key[KEY_MAX];
  size_t klen = key_make(key, target, plen, topic, e->topic.len);
  host_interest *in = NULL;
  HASH_FIND(hh, c->interests, key, klen, in);
  if (in) interest_remove(c, in, from->idx);
}

void cluster_subscriptions_each(cluster *c,
                                void (*fn)(void *arg, const tr_sub_info *),
                                void *arg, int *count) {
  host_interest *in, *tmp;
  HASH_ITER(hh, c->interests, in, tmp) {
    for (uint32_t i = 0; i < in->n; i++) {
      host_peer *p = host_peer_at(c, in->nodes[i]);
      tr_sub_info si = {.publisher = in->pub,
                        .topic = in->topic,
                        .subscriber = NULL,
                        .node = p ? p->name : "?",
                        .delivered = in->sent[i],
                        .dropped = in->dropped[i]};
      if (fn) fn(arg, &si);
      (*count)++;
    }
  }
}

void host_pubsub_free(cluster *c) {
  host_interest *in, *tmp;
  HASH_ITER(hh, c->interests, in, tmp) interest_free(c, in);
  host_wpub *wp, *wtmp;
  HASH_ITER(hh, c->wpubs, wp, wtmp) {
    while (wp->wants) {
      host_want *w = wp->wants;
      wp->wants = w->next;
      free(w);
    }
    HASH_DEL(c->wpubs, wp);
    free(wp);
  }
}
