/* host_ask.c — asks from other nodes, on the target's side. A remote ask
 * delivered to a local actor is remembered (the asker's node, the ask id,
 * the asker, a deadline from the ask's own timeout) until the actor
 * replies. If the actor stops first, the asker's node is told at once
 * (TR_ENOTFOUND), as a local asker would be, instead of waiting out its
 * timeout. A record past its deadline is of no use (the asker has given
 * up): records are swept when their number has doubled since the last
 * sweep, so an actor that never replies costs nothing for long. */
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
  eng_actor *target;
  eng_name *asker;
  uint64_t deadline;              /* host_now() */
  struct host_rask *next, *prev;  /* target->rasked, or the free list */
};

static host_rask *rask_find(eng_cluster *c, uint16_t node, uint64_t ask_id) {
  rask_key key = {.ask_id = ask_id, .node = node};
  host_rask *r = NULL;
  HASH_FIND(hh, c->rasks, &key, sizeof(key), r);
  return r;
}

static void rask_remove(eng_cluster *c, host_rask *r) {
  HASH_DEL(c->rasks, r);
  c->nrasks--;
  if (r->prev)
    r->prev->next = r->next;
  else
    r->target->rasked = r->next;
  if (r->next) r->next->prev = r->prev;
  name_unref(r->asker);
  if (c->nfree_rasks >= RASK_FREE_MAX) {
    free(r);
    return;
  }
  r->next = c->free_rasks;
  c->free_rasks = r;
  c->nfree_rasks++;
}

static void rask_sweep(eng_cluster *c) {
  uint64_t now = host_now(c);
  host_rask *r, *tmp;
  HASH_ITER(hh, c->rasks, r, tmp) {
    if (r->deadline <= now) rask_remove(c, r);
  }
  c->rask_sweep_at = c->nrasks * 2 > RASK_SWEEP_MIN ? c->nrasks * 2
                                                     : RASK_SWEEP_MIN;
}

void host_rask_add(eng_cluster *c, eng_actor *target, host_peer *from,
                   eng_name *asker, uint64_t ask_id, uint32_t timeout_ms) {
  /* A record left from an earlier process of that node, same id: gone. */
  host_rask *r = rask_find(c, from->idx, ask_id);
  if (r) rask_remove(c, r);
  if (c->nrasks >= c->rask_sweep_at) rask_sweep(c);
  r = c->free_rasks;
  if (r) {
    c->free_rasks = r->next;
    c->nfree_rasks--;
  } else if (!(r = malloc(sizeof(*r)))) {
    /* Without a record the asker still gets an answer: at its timeout. */
    host_log(c, TR_LOG_WARN, "ask_untracked", "peer=%s target=%s reason=enomem",
             from->name, target->id->str);
    return;
  }
  memset(r, 0, sizeof(*r));
  r->key.ask_id = ask_id;
  r->key.node = from->idx;
  r->target = target;
  r->asker = name_ref(asker);
  if (!timeout_ms) timeout_ms = c->node->ask_timeout_ms;
  r->deadline = host_now(c) + timeout_ms;
  r->next = target->rasked;
  if (target->rasked) target->rasked->prev = r;
  target->rasked = r;
  HASH_ADD(hh, c->rasks, key, sizeof(r->key), r);
  c->nrasks++;
}

void host_rask_done(eng_cluster *c, uint16_t node, uint64_t ask_id) {
  host_rask *r = rask_find(c, node, ask_id);
  if (r) rask_remove(c, r);
}

void host_rask_actor_gone(eng_cluster *c, eng_actor *a) {
  uint64_t now = host_now(c);
  while (a->rasked) {
    host_rask *r = a->rasked;
    host_peer *p = host_peer_at(c, (uint16_t)r->key.node);
    if (r->deadline > now && p && p->up) {
      host_send_env(c, p, TR_MSG_REPLY, a->id->str, r->asker->str,
                    r->key.ask_id, TR_ENOTFOUND, NULL, 0);
      c->st.asks_abandoned++;
    }
    rask_remove(c, r);
  }
}

void host_rask_node_down(eng_cluster *c, host_peer *p) {
  host_rask *r, *tmp;
  HASH_ITER(hh, c->rasks, r, tmp) {
    if (r->key.node == p->idx) rask_remove(c, r);
  }
}

void host_rask_free(eng_cluster *c) {
  host_rask *r, *tmp;
  HASH_ITER(hh, c->rasks, r, tmp) rask_remove(c, r);
  while (c->free_rasks) {
    r = c->free_rasks;
    c->free_rasks = r->next;
    free(r);
  }
  c->nfree_rasks = 0;
}
