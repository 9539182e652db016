/* timer.c — actor timers: one-shot (tr_send_after) and repeating
 * (tr_send_every), each a libuv timer owned by an actor and cancelled when
 * that actor stops. The target is looked up when the timer fires; a
 * one-shot's message then waits for room like any accepted send (defer.c),
 * a repeating timer's tick that finds its target full is missed and
 * counted. */
#include <stdlib.h>
#include <string.h>

#include "engine.h"

static void timer_on_close(uv_handle_t *h) {
  eng_timer *t = h->data;
  eng_name_unref(t->to);
  free(t);
}

static void timer_remove(eng_timer *t) {
  eng_actor *a = t->owner;
  if (t->prev)
    t->prev->next = t->next;
  else
    a->x->timers = t->next;
  if (t->next) t->next->prev = t->prev;
  uv_timer_stop(&t->handle);
  uv_close((uv_handle_t *)&t->handle, timer_on_close);
  t->node->stats.timers_pending--;
}

static void timer_on_fire(uv_timer_t *h) {
  eng_timer *t = h->data;
  tr_node *n = t->node;
  if (uv_timer_get_repeat(h) == 0) {
    /* One-shot: accepted when scheduled, so it waits for room if need be. */
    defer_send_later(n, t->to->str, t->owner->id, t->data, t->len);
    timer_remove(t);
    return;
  }
  /* A tick: a target without room misses it (counted), so a slow target
   * does not pile up ticks. */
  int rc = send_accepted(n, t->to->str, t->to->len, t->owner->id, t->data,
                         t->len);
  if (rc == TR_EFULL)
    eng_dead(n, TR_DL_MAILBOX_FULL, t->owner->id->str, t->to->str, t->len);
  else if (rc != 0)
    eng_undelivered(n, rc, t->owner->id, t->to->str, t->len);
}

static int timer_start(tr_ctx *ctx, uint32_t delay_ms, uint32_t repeat_ms,
                       const char *to, const void *data, size_t len,
                       uint64_t *timer_id) {
  size_t tolen;
  if (!ctx || eng_check_id(to, &tolen) != 0 || (len && !data)) return TR_EINVAL;
  tr_node *n = ctx->node;
  if (ctx->stopping) return TR_ESTATE;
  if (len > n->max_payload) {
    eng_dead(n, TR_DL_REJECTED_TOOBIG, ctx->id->str, to, len);
    return TR_ETOOBIG;
  }
  int rc = eng_guarded(n, ENG_ACT_SEND, to, NULL);
  if (rc != 0) return rc;
  eng_actor_x *x = actor_x(ctx);
  eng_timer *t = x ? malloc(sizeof(*t) + len) : NULL;
  if (!t) return TR_ENOMEM;
  t->to = eng_name_new(to, tolen);
  if (!t->to) {
    free(t);
    return TR_ENOMEM;
  }
  if (uv_timer_init(n->loop, &t->handle) != 0) {
    eng_name_unref(t->to);
    free(t);
    return TR_ESYS;
  }
  t->handle.data = t;
  t->node = n;
  t->owner = ctx;
  t->id = ++n->next_timer_id;
  t->len = len;
  if (len) memcpy(t->data, data, len);
  t->prev = NULL;
  t->next = x->timers;
  if (x->timers) x->timers->prev = t;
  x->timers = t;
  n->stats.timers_pending++;
  uv_timer_start(&t->handle, timer_on_fire, delay_ms, repeat_ms);
  if (timer_id) *timer_id = t->id;
  return 0;
}

int tr_send_after(tr_ctx *ctx, uint32_t delay_ms, const char *to,
                  const void *data, size_t len) {
  return timer_start(ctx, delay_ms, 0, to, data, len, NULL);
}

int tr_send_every(tr_ctx *ctx, uint32_t interval_ms, const char *to,
                  const void *data, size_t len, uint64_t *timer_id) {
  if (interval_ms == 0) return TR_EINVAL;
  return timer_start(ctx, interval_ms, interval_ms, to, data, len, timer_id);
}

int tr_timer_cancel(tr_ctx *ctx, uint64_t timer_id) {
  if (!ctx) return TR_EINVAL;
  for (eng_timer *t = ctx->x ? ctx->x->timers : NULL; t; t = t->next) {
    if (t->id == timer_id) {
      timer_remove(t);
      return 0;
    }
  }
  return TR_ENOTFOUND;
}

void timer_actor_stopped(eng_actor *a) {
  while (a->x && a->x->timers) timer_remove(a->x->timers);
}
