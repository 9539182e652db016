/* ask.c — request/reply: pending asks keyed by id, each with a timer, so
 * every ask is answered exactly once: by tr_reply, by its timeout, or at
 * once when its target stops without handling it. Ask records and their
 * timer handles are reused from a free list. */
#include <stdlib.h>
#include <string.h>

#include "engine.h"

#define ASK_FREE_MAX 1024u

static void ask_on_close(uv_handle_t *h) { free(h->data); }

static eng_ask *ask_alloc(tr_node *n) {
  eng_ask *k = n->free_asks;
  if (k) {
    n->free_asks = k->next;
    n->nfree_asks--;
    return k;
  }
  k = calloc(1, sizeof(*k));
  if (!k) return NULL;
  if (uv_timer_init(n->loop, &k->timer) != 0) {
    free(k);
    return NULL;
  }
  k->timer.data = k;
  k->node = n;
  return k;
}

static void ask_release(tr_node *n, eng_ask *k) {
  uv_timer_stop(&k->timer);
  eng_name_unref(k->target);
  k->target = NULL;
  k->asker = k->target_actor = NULL;
  k->target_node = 0;
  k->prev = NULL;
  if (n->nfree_asks >= ASK_FREE_MAX || n->freeing) {
    uv_close((uv_handle_t *)&k->timer, ask_on_close);
    return;
  }
  k->next = n->free_asks;
  n->free_asks = k;
  n->nfree_asks++;
}

/* Takes a pending ask off the table, its asker's and its target's lists. */
static void ask_unlink(tr_node *n, eng_ask *k) {
  HASH_DEL(n->asks, k);
  eng_actor *a = k->asker;
  if (k->prev)
    k->prev->next = k->next;
  else
    a->x->asks = k->next;
  if (k->next) k->next->prev = k->prev;
  eng_actor *t = k->target_actor;
  if (k->t_prev)
    k->t_prev->t_next = k->t_next;
  else if (t)
    t->x->asked = k->t_next;
  if (k->t_next) k->t_next->t_prev = k->t_prev;
  k->t_next = k->t_prev = NULL;
}

static eng_ask *ask_find(tr_node *n, uint64_t id) {
  eng_ask *k = NULL;
  HASH_FIND(hh, n->asks, &id, sizeof(id), k);
  return k;
}

/* Answers the asker with an error status and forgets the ask. */
static void ask_fail(tr_node *n, eng_ask *k, int status) {
  ask_unlink(n, k);
  send_notice(n, k->asker, TR_MSG_REPLY, k->target, k->id, status);
  ask_release(n, k);
}

static void ask_on_timeout(uv_timer_t *h) {
  eng_ask *k = h->data;
  ask_fail(k->node, k, TR_ETIMEDOUT);
}

static int ask_tagged(tr_ctx *ctx, const char *to, uint32_t msg_type,
                      const void *data, size_t len, uint32_t timeout_ms,
                      uint64_t *ask_id) {
  if (!ctx) return TR_EINVAL;
  tr_node *n = ctx->node;
  if (ctx->stopping) return TR_ESTATE;
  /* Both ends' lists of asks, made before anything is sent: a local
   * target is the actor found by this id now. */
  eng_actor *local = to ? actor_find(n, to) : NULL;
  if (!actor_x(ctx) || (local && !actor_x(local))) return TR_ENOMEM;
  eng_ask *k = ask_alloc(n);
  if (!k) return TR_ENOMEM;
  uint64_t id = ++n->next_ask_id;
  if (!timeout_ms) timeout_ms = n->ask_timeout_ms;
  eng_actor *target = NULL;
  uint16_t remote = 0;
  eng_name *tname = NULL;
  /* The name the error replies come from, made before anything is sent. */
  if (n->rops && !local && eng_check_id(to, NULL) == 0) {
    tname = eng_name_new(to, strlen(to));
    if (!tname) {
      ask_release(n, k);
      return TR_ENOMEM;
    }
  }
  int rc = send_by_id(n, to, TR_MSG_ASK, ctx->id, data, len, id, timeout_ms,
                      &target, &remote, true, msg_type);
  if (rc != 0) {
    eng_name_unref(tname);
    ask_release(n, k);
    return rc;
  }
  k->id = id;
  k->asker = ctx;
  k->prev = NULL;
  eng_actor_x *ax = ctx->x;
  k->next = ax->asks;
  if (ax->asks) ax->asks->prev = k;
  ax->asks = k;
  k->t_prev = NULL;
  if (target) { /* target == local, whose x was made above */
    eng_name_unref(tname);
    k->target = eng_name_ref(target->id);
    k->target_actor = target;
    k->t_next = target->x->asked;
    if (target->x->asked) target->x->asked->t_prev = k;
    target->x->asked = k;
  } else {
    k->target = tname;
    k->target_node = remote;
    k->t_next = NULL;
  }
  HASH_ADD(hh, n->asks, id, sizeof(k->id), k);
  uv_timer_start(&k->timer, ask_on_timeout, timeout_ms, 0);
  if (ask_id) *ask_id = id;
  ctx->sent++;
  return 0;
}

int tr_ask(tr_ctx *ctx, const char *to, const void *data, size_t len,
           uint32_t timeout_ms, uint64_t *ask_id) {
  return ask_tagged(ctx, to, 0, data, len, timeout_ms, ask_id);
}

int tr_ask_tagged(tr_ctx *ctx, const char *to, uint32_t msg_type,
                  const void *data, size_t len, uint32_t timeout_ms,
                  uint64_t *ask_id) {
  return ask_tagged(ctx, to, msg_type, data, len, timeout_ms, ask_id);
}

static int reply_tagged(tr_ctx *ctx, const tr_envelope *ask,
                        uint32_t msg_type, const void *data, size_t len) {
  if (!ctx || !ask || ask->type != TR_MSG_ASK || !ask->sender ||
      (len && !data))
    return TR_EINVAL;
  tr_node *n = ctx->node;
  if (len > n->max_payload) {
    eng_dead(n, TR_DL_REJECTED_TOOBIG, ctx->id->str, ask->sender, len);
    return TR_ETOOBIG;
  }
  /* An ask from another node: the reply goes back there, where the ask is
   * pending (a late one is counted there). */
  if (n->rops && ask->node && strcmp(ask->node, n->name) != 0) {
    int rc = n->rops->reply(n->ruser, ask->node, ask->sender, ctx->id, data,
                            len, ask->ask_id, msg_type);
    if (rc == 0) ctx->sent++;
    return rc;
  }
  eng_ask *k = ask_find(n, ask->ask_id);
  if (!k) {
    eng_dead(n, TR_DL_LATE_REPLY, ctx->id->str, ask->sender, len);
    return TR_ETIMEDOUT;
  }
  /* The asker reserved room for this reply when it asked. */
  int rc = send_to_actor(k->asker, TR_MSG_REPLY, ctx->id, NULL, data, len,
                         NULL, k->id, 0, ENG_BYPASS_CAPACITY, msg_type);
  if (rc != 0) return rc;
  ask_unlink(n, k);
  ask_release(n, k);
  ctx->sent++;
  return 0;
}

int tr_reply(tr_ctx *ctx, const tr_envelope *ask, const void *data,
             size_t len) {
  return reply_tagged(ctx, ask, 0, data, len);
}

int tr_reply_tagged(tr_ctx *ctx, const tr_envelope *ask, uint32_t msg_type,
                    const void *data, size_t len) {
  return reply_tagged(ctx, ask, msg_type, data, len);
}

int eng_ask_complete(tr_node *n, uint64_t ask_id, eng_name *sender,
                     const void *data, size_t len, int status,
                     uint16_t origin, uint32_t msg_type) {
  eng_ask *k = ask_find(n, ask_id);
  if (!k || k->target_node != origin) {
    eng_dead(n, TR_DL_LATE_REPLY, eng_str(sender), NULL, len);
    return TR_ETIMEDOUT;
  }
  int rc = send_to_actor(k->asker, TR_MSG_REPLY, sender, NULL, data, len,
                         NULL, k->id, status,
                         ENG_BYPASS_CAPACITY | ENG_ORIGIN(origin), msg_type);
  if (rc != 0) return rc;
  ask_unlink(n, k);
  ask_release(n, k);
  return 0;
}

void eng_asks_node_down(tr_node *n, uint16_t idx, int status) {
  eng_ask *k, *tmp;
  HASH_ITER(hh, n->asks, k, tmp) {
    if (k->target_node == idx) ask_fail(n, k, status);
  }
}

void ask_actor_stopped(eng_actor *a) {
  tr_node *n = a->node;
  if (!a->x) return;
  while (a->x->asks) {
    eng_ask *k = a->x->asks;
    ask_unlink(n, k);
    ask_release(n, k);
  }
  while (a->x->asked) ask_fail(n, a->x->asked, TR_ENOTFOUND);
}

void ask_free_all(tr_node *n) {
  eng_ask *k, *tmp;
  HASH_ITER(hh, n->asks, k, tmp) {
    ask_unlink(n, k);
    ask_release(n, k);
  }
  while (n->free_asks) {
    k = n->free_asks;
    n->free_asks = k->next;
    uv_close((uv_handle_t *)&k->timer, ask_on_close);
  }
  n->nfree_asks = 0;
}
