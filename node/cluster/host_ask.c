/* host_ask.c — asks from other nodes, on the target's side. A remote ask
 * delivered to a local actor is remembered (the asker's node, the ask id,
 * the asker, a deadline from the ask's own timeout) until the actor
 * replies. If the actor stops first, the asker's node is told at once
 * (TR_ENOTFOUND), as a local asker would be, instead of waiting out its
 * timeout. A record past its deadline is of no use (the asker has given
 * up): records are swept when their number has doubled since the last
 * sweep, so an actor that never replies costs nothing for long. Records
 * are found by (asker's node, ask id) for the reply, and by the target's
 * id when it stops. */
#include <stdlib.h>
#include <string.h>

#include "host.h"

#define RASK_FREE_MAX 1024u
#define RASK_SWEEP_MIN 1024u

typedef struct rask_key {
  uint64_t ask_id;
  uint64_t node; /* the asker's node index, widened: no padding in the key */
} rask_key;

struct host_rask {
  UT_hash_handle hh; /* c->rasks, keyed by key */
  rask_key key;
  host_rtarget *target;
  eng_name *asker;
  uint64_t deadline;              /* host_now() */
  struct host_rask *next, *prev;  /* target->asks, or the free list */
};

struct host_rtarget {
  UT_hash_handle hh; /* c->rtargets, keyed by id */
  host_rask *asks;
  size_t len;
  char id[];
};

static host_rtarget *rtarget_get(cluster *c, const char *id, size_t len) {
  host_rtarget *t = NULL;
  HASH_FIND(hh, c->rtargets, id, len, t);
  if (t) return t;
  t = malloc(sizeof(*t) + len + 1);
  if (!t) return NULL;
  t->asks = NULL;
  t->len = len;
  memcpy(t->id, id, len);
  t->id[len] = '\0';
  HASH_ADD(hh, c->rtargets, id, len, t);
  return t;
}

static host_rask *rask_find(cluster *c, uint16_t node, uint64_t ask_id) {
  rask_key key = {.ask_id = ask_id, .node = node};
  host_rask *r = NULL;
  HASH_FIND(hh, c->rasks, &key, sizeof(key), r);
  return r;
}

static void rask_remove(cluster *c, host_rask *r) {
  HASH_DEL(c->rasks, r);
  c->nrasks--;
  host_rtarget *t = r->target;
  if (r->prev)
    r->prev->next = r->next;
  else
    t->asks = r->next;
  if (r->next) r->next->prev = r->prev;
  if (!t->asks) {
    HASH_DEL(c->rtargets, t);
    free(t);
  }
  eng_name_unref(r->asker);
  if (c->nfree_rasks >= RASK_FREE_MAX) {
    free(r);
    return;
  }
  r->next = c->free_rasks;
  c->free_rasks = r;
  c->nfree_rasks++;
}

static void rask_sweep(cluster *c) {
  uint64_t now = host_now(c);
  host_rask *r, *tmp;
  HASH_ITER(hh, c->rasks, r, tmp) {
    if (r->deadline <= now) rask_remove(c, r);
  }
  c->rask_sweep_at = c->nrasks * 2 > RASK_SWEEP_MIN ? c->nrasks * 2
                                                     : RASK_SWEEP_MIN;
}

void host_rask_add(cluster *c, const char *target, size_t len,
                   host_peer *from, eng_name *asker, uint64_t ask_id,
                   uint32_t timeout_ms) {
  /* A record left from an earlier process of that node, same id: gone. */
  host_rask *r = rask_find(c, from->idx, ask_id);
  if (r) rask_remove(c, r);
  if (c->nrasks >= c->rask_sweep_at) rask_sweep(c);
  host_rtarget *t = rtarget_get(c, target, len);
  r = c->free_rasks;
  if (r && t) {
    c->free_rasks = r->next;
    c->nfree_rasks--;
  } else if (!t || !(r = malloc(sizeof(*r)))) {
    /* Without a record the asker still gets an answer: at its timeout. */
    host_log(c, TR_LOG_WARN, "ask_untracked",
             "peer=%s target=%.*s reason=enomem", from->name, (int)len,
             target);
    if (t && !t->asks) {
      HASH_DEL(c->rtargets, t);
      free(t);
    }
    return;
  }
  memset(r, 0, sizeof(*r));
  r->key.ask_id = ask_id;
  r->key.node = from->idx;
  r->target = t;
  r->asker = eng_name_ref(asker);
  if (!timeout_ms) timeout_ms = eng_ask_timeout_ms(c->node);
  r->deadline = host_now(c) + timeout_ms;
  r->next = t->asks;
  if (t->asks) t->asks->prev = r;
  t->asks = r;
  HASH_ADD(hh, c->rasks, key, sizeof(r->key), r);
  c->nrasks++;
}

void host_rask_done(cluster *c, uint16_t node, uint64_t ask_id) {
  host_rask *r = rask_find(c, node, ask_id);
  if (r) rask_remove(c, r);
}

void host_rask_actor_gone(cluster *c, const char *id) {
  host_rtarget *t = NULL;
  HASH_FIND_STR(c->rtargets, id, t);
  if (!t) return;
  uint64_t now = host_now(c);
  /* The last removal frees t: stop when the list is down to one. */
  for (bool last = false; !last;) {
    host_rask *r = t->asks;
    last = r->next == NULL;
    host_peer *p = host_peer_at(c, (uint16_t)r->key.node);
    if (r->deadline > now && p && p->up) {
      host_send_env(c, p, TR_MSG_REPLY, id, r->asker->str, r->key.ask_id,
                    TR_ENOTFOUND, NULL, 0);
      c->st.asks_abandoned++;
    }
    rask_remove(c, r);
  }
}

void host_rask_node_down(cluster *c, host_peer *p) {
  host_rask *r, *tmp;
  HASH_ITER(hh, c->rasks, r, tmp) {
    if (r->key.node == p->idx) rask_remove(c, r);
  }
}

void host_rask_free(cluster *c) {
  host_rask *r, *tmp;
  HASH_ITER(hh, c->rasks, r, tmp) rask_remove(c, r);
  while (c->free_rasks) {
    r = c->free_rasks;
    c->free_rasks = r->next;
    free(r);
  }
  c->nfree_rasks = 0;
}
