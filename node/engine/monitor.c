/* monitor.c — monitors: a watcher gets TR_MSG_DOWN when its target stops
 * (or at once if the target does not exist). Each record sits on two lists,
 * the target's watchers and the watcher's own, so either side's stop
 * removes it in O(1) and no notice reaches an actor that did not ask. */
#include <stdlib.h>
#include <string.h>

#include "engine.h"

static void mon_unlink(eng_mon *m) {
  if (m->w_prev)
    m->w_prev->w_next = m->w_next;
  else
    m->target->x->watchers = m->w_next;
  if (m->w_next) m->w_next->w_prev = m->w_prev;
  if (m->g_prev)
    m->g_prev->g_next = m->g_next;
  else
    m->watcher->x->watching = m->g_next;
  if (m->g_next) m->g_next->g_prev = m->g_prev;
  free(m);
}

int tr_monitor(tr_ctx *ctx, const char *target) {
  size_t len;
  if (!ctx || eng_check_id(target, &len) != 0) return TR_EINVAL;
  if (ctx->stopping) return TR_ESTATE;
  tr_node *n = ctx->node;
  eng_actor *t = actor_find(n, target);
  if (!t && n->rops) {
    int rc = n->rops->monitor(n->ruser, ctx->id->str, target);
    if (rc != TR_ENOTFOUND) return rc;
  }
  if (!t || t->stopping) {
    eng_name *name = eng_name_new(target, len);
    if (!name) return TR_ENOMEM;
    send_notice(n, ctx, TR_MSG_DOWN, name, 0, TR_ENOTFOUND);
    eng_name_unref(name);
    return 0;
  }
  eng_actor_x *tx = actor_x(t), *wx = actor_x(ctx);
  eng_mon *m = tx && wx ? calloc(1, sizeof(*m)) : NULL;
  if (!m) return TR_ENOMEM;
  m->watcher = ctx;
  m->target = t;
  m->w_next = tx->watchers;
  if (tx->watchers) tx->watchers->w_prev = m;
  tx->watchers = m;
  m->g_next = wx->watching;
  if (wx->watching) wx->watching->g_prev = m;
  wx->watching = m;
  return 0;
}

int tr_demonitor(tr_ctx *ctx, const char *target) {
  if (!ctx || eng_check_id(target, NULL) != 0) return TR_EINVAL;
  int removed = 0;
  eng_mon *m = ctx->x ? ctx->x->watching : NULL;
  while (m) {
    eng_mon *next = m->g_next;
    if (strcmp(m->target->id->str, target) == 0) {
      mon_unlink(m);
      removed++;
    }
    m = next;
  }
  tr_node *n = ctx->node;
  if (n->rops) removed += n->rops->demonitor(n->ruser, ctx->id->str, target);
  return removed ? 0 : TR_ENOTFOUND;
}

void monitor_actor_stopped(eng_actor *a, int reason) {
  if (!a->x) return;
  while (a->x->watching) mon_unlink(a->x->watching);
  while (a->x->watchers) {
    eng_mon *m = a->x->watchers;
    eng_actor *w = m->watcher;
    mon_unlink(m);
    send_notice(a->node, w, TR_MSG_DOWN, a->id, 0, reason);
  }
}

/* ---- inspecting (eng_node.h) ---------------------------------------------- */

static int mon_emit(tr_node *n, const eng_mon *m,
                    void (*fn)(void *, const tr_monitor_info *), void *arg) {
  if (fn) {
    tr_monitor_info x = {.watcher = m->watcher->id->str,
                         .watcher_node = n->name,
                         .target = m->target->id->str,
                         .target_node = n->name};
    fn(arg, &x);
  }
  return 1;
}

int eng_monitors_each(tr_node *n, const char *actor,
                      void (*fn)(void *arg, const tr_monitor_info *),
                      void *arg) {
  int count = 0;
  if (actor) {
    eng_actor *a = actor_find(n, actor);
    if (!a) return 0;
    if (!a->x) return 0;
    for (const eng_mon *m = a->x->watchers; m; m = m->w_next)
      count += mon_emit(n, m, fn, arg);
    for (const eng_mon *m = a->x->watching; m; m = m->g_next)
      if (m->target != a) /* itself: listed above */
        count += mon_emit(n, m, fn, arg);
    return count;
  }
  uint32_t cur = 0;
  for (eng_actor *a; (a = atab_next(&n->actors, &cur));)
    for (const eng_mon *m = a->x ? a->x->watching : NULL; m; m = m->g_next)
      count += mon_emit(n, m, fn, arg);
  return count;
}
