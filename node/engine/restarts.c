/* restarts.c — how many times a supervisor started a child again (the
 * inspector's restarts, tr_actor_info.restarts). A child that ends while
 * its parent lives is remembered by id, with its parent's id and its own
 * count: the node's last ENG_EXITS_KEPT such ends, the oldest forgotten
 * first. When a parent spawns a child under an id it remembers for that
 * parent, the new child counts one restart more. Only spawns and ends of
 * children come here. */
#include <stdlib.h>
#include <string.h>

#include "engine.h"

#define ENG_EXITS_KEPT 256u

typedef struct eng_exit {
  UT_hash_handle hh; /* eng_exits.by_id, keyed by child->str */
  eng_name *child, *parent;
  uint32_t slot;     /* in eng_exits.ring */
  uint16_t restarts; /* the child's when it ended */
} eng_exit;

struct eng_exits {
  eng_exit *by_id;
  eng_exit *ring[ENG_EXITS_KEPT]; /* the order they came in; NULL: free */
  uint32_t next;                  /* the slot the next one takes */
};

static void exit_drop(struct eng_exits *x, eng_exit *e) {
  HASH_DEL(x->by_id, e);
  x->ring[e->slot] = NULL;
  eng_name_unref(e->child);
  eng_name_unref(e->parent);
  free(e);
}

static eng_exit *exit_find(const struct eng_exits *x, const eng_name *id) {
  eng_exit *e = NULL;
  HASH_FIND(hh, x->by_id, id->str, id->len, e);
  return e;
}

void restarts_child_ended(eng_actor *child, eng_actor *parent) {
  tr_node *n = child->node;
  struct eng_exits *x = n->exits;
  if (!x && !(x = n->exits = calloc(1, sizeof(*x))))
    return; /* out of memory: its next start counts from 0 */
  eng_exit *e = exit_find(x, child->id);
  if (e) exit_drop(x, e);
  if (x->ring[x->next]) exit_drop(x, x->ring[x->next]); /* the oldest */
  if (!(e = calloc(1, sizeof(*e)))) return;
  e->child = eng_name_ref(child->id);
  e->parent = eng_name_ref(parent->id);
  e->restarts = child->restarts;
  e->slot = x->next;
  x->ring[x->next] = e;
  x->next = (x->next + 1) % ENG_EXITS_KEPT;
  HASH_ADD_KEYPTR(hh, x->by_id, e->child->str, e->child->len, e);
}

void restarts_child_spawned(eng_actor *child, eng_actor *parent) {
  struct eng_exits *x = child->node->exits;
  eng_exit *e = x ? exit_find(x, child->id) : NULL;
  if (!e) return;
  if (e->parent->len == parent->id->len &&
      memcmp(e->parent->str, parent->id->str, e->parent->len) == 0)
    child->restarts = e->restarts < UINT16_MAX ? e->restarts + 1 : UINT16_MAX;
  exit_drop(x, e); /* another parent's old child: forgotten either way */
}

void restarts_free(tr_node *n) {
  struct eng_exits *x = n->exits;
  if (!x) return;
  eng_exit *e, *tmp;
  HASH_ITER(hh, x->by_id, e, tmp) exit_drop(x, e);
  free(x);
  n->exits = NULL;
}
