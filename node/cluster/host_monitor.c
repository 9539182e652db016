/* host_monitor.c — monitors across nodes. The watcher's node keeps a
 * record (watcher, target, node) and sends MONITOR to the target's node,
 * which keeps (watcher, node) under the target's id. When the target stops,
 * its node sends DOWN with the reason, in order behind everything the
 * target sent before. When the target's node is declared dead or leaves,
 * or the MONITOR cannot reach it, the watcher's node fires DOWN itself
 * with TR_EUNREACHABLE. An unknown target gets DOWN TR_ENOTFOUND at once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"

static host_watcher *watcher_find(cluster *c, const char *id) {
  host_watcher *w = NULL;
  HASH_FIND_STR(c->watchers, id, w);
  return w;
}

static host_watcher *watcher_get(cluster *c, const char *id) {
  host_watcher *w = watcher_find(c, id);
  if (w) return w;
  size_t len = strlen(id);
  w = malloc(sizeof(*w) + len + 1);
  if (!w) return NULL;
  w->mons = NULL;
  memcpy(w->id, id, len + 1);
  HASH_ADD(hh, c->watchers, id, len, w);
  return w;
}

static void rmon_remove(cluster *c, host_rmon *m) {
  if (m->prev)
    m->prev->next = m->next;
  else
    c->rmons = m->next;
  if (m->next) m->next->prev = m->prev;
  host_watcher *w = m->watcher;
  if (m->w_prev)
    m->w_prev->w_next = m->w_next;
  else
    w->mons = m->w_next;
  if (m->w_next) m->w_next->w_prev = m->w_prev;
  if (!w->mons) {
    HASH_DEL(c->watchers, w);
    free(w);
  }
  free(m->target);
  free(m);
}

/* DOWN to a local watcher, from target, as if sent from `origin`. */
static void rmon_fire(cluster *c, const char *watcher, const char *target,
                      int reason, uint16_t origin) {
  eng_notice(c->node, watcher, TR_MSG_DOWN, target, reason, origin);
}

/* Takes m off the lists and tells its watcher (DOWN with reason). */
static void rmon_fire_remove(cluster *c, host_rmon *m, int reason,
                             uint16_t origin) {
  char watcher[TR_ID_MAX + 1];
  snprintf(watcher, sizeof(watcher), "%s", m->watcher->id);
  char *target = m->target;
  m->target = NULL;
  rmon_remove(c, m);
  rmon_fire(c, watcher, target, reason, origin);
  free(target);
}

/* Frees a watcher entry that holds no monitor (a failed add). */
static void watcher_drop_empty(cluster *c, host_watcher *w) {
  if (w && !w->mons) {
    HASH_DEL(c->watchers, w);
    free(w);
  }
}

int host_remote_monitor(void *user, const char *watcher, const char *target) {
  cluster *c = user;
  const char *owner = reg_lookup(c->reg, target);
  if (!owner || strcmp(owner, c->name) == 0) return TR_ENOTFOUND;
  host_peer *p = host_peer_get(c, owner);
  host_rmon *m = calloc(1, sizeof(*m));
  host_watcher *w = m ? watcher_get(c, watcher) : NULL;
  if (!p || !w || !(m->target = strdup(target))) {
    watcher_drop_empty(c, w);
    free(m);
    return TR_ENOMEM;
  }
  int rc = host_send_env(c, p, HOST_ENV_MONITOR, watcher, target, 0, 0,
                         NULL, 0);
  if (rc == TR_EUNREACHABLE) {
    rmon_fire(c, watcher, target, TR_EUNREACHABLE, 0);
    rc = 0;
  }
  if (rc != 0 || !p->up) {
    watcher_drop_empty(c, w);
    free(m->target);
    free(m);
    return rc;
  }
  m->watcher = w;
  m->node = p->idx;
  m->next = c->rmons;
  if (c->rmons) c->rmons->prev = m;
  c->rmons = m;
  m->w_next = w->mons;
  if (w->mons) w->mons->w_prev = m;
  w->mons = m;
  return 0;
}

int host_remote_demonitor(void *user, const char *watcher,
                          const char *target) {
  cluster *c = user;
  host_watcher *w = watcher_find(c, watcher);
  if (!w) return 0;
  int removed = 0;
  /* The removal that empties w frees it; next is NULL then. */
  for (host_rmon *m = w->mons, *next; m; m = next) {
    next = m->w_next;
    if (strcmp(m->target, target) != 0) continue;
    host_peer *p = host_peer_at(c, m->node);
    if (p) host_send_env(c, p, HOST_ENV_DEMONITOR, watcher, target, 0, 0,
                         NULL, 0);
    rmon_remove(c, m);
    removed++;
  }
  return removed;
}

static host_wtarget *wtarget_find(cluster *c, const char *target) {
  host_wtarget *t = NULL;
  HASH_FIND_STR(c->wtargets, target, t);
  return t;
}

static void wtarget_free(cluster *c, host_wtarget *t) {
  while (t->mons) {
    host_wmon *w = t->mons;
    t->mons = w->next;
    free(w->watcher);
    free(w);
  }
  HASH_DEL(c->wtargets, t);
  free(t->target);
  free(t);
}

static int wmon_add(cluster *c, const char *target, const char *watcher,
                    uint16_t node) {
  host_wtarget *t = wtarget_find(c, target);
  if (!t) {
    t = calloc(1, sizeof(*t));
    if (!t || !(t->target = strdup(target))) {
      free(t);
      return TR_ENOMEM;
    }
    HASH_ADD_KEYPTR(hh, c->wtargets, t->target, strlen(t->target), t);
  }
  for (host_wmon *e = t->mons; e; e = e->next)
    if (e->node == node && strcmp(e->watcher, watcher) == 0)
      return 0; /* said again after a reconnect: once is enough */
  host_wmon *w = calloc(1, sizeof(*w));
  if (!w || !(w->watcher = strdup(watcher))) {
    free(w);
    if (!t->mons) wtarget_free(c, t);
    return TR_ENOMEM;
  }
  w->node = node;
  w->next = t->mons;
  t->mons = w;
  return 0;
}

static void wmon_remove(cluster *c, const char *target,
                        const char *watcher, uint16_t node) {
  host_wtarget *t = wtarget_find(c, target);
  if (!t) return;
  for (host_wmon **pp = &t->mons; *pp;) {
    host_wmon *w = *pp;
    if (w->node == node && strcmp(w->watcher, watcher) == 0) {
      *pp = w->next;
      free(w->watcher);
      free(w);
      break; /* one DEMONITOR per MONITOR */
    }
    pp = &w->next;
  }
  if (!t->mons) wtarget_free(c, t);
}

void host_mon_on_env(cluster *c, host_peer *from, const wire_envelope *e) {
  char sender[TR_ID_MAX + 1], target[TR_ID_MAX + 1];
  host_id_copy(sender, e->sender);
  host_id_copy(target, e->target);
  if (!sender[0]) {
    c->st.rejected++;
    return;
  }
  if (e->type == TR_MSG_DOWN) {
    /* sender: the target that stopped; target: the watcher here. */
    host_watcher *w = watcher_find(c, target);
    for (host_rmon *m = w ? w->mons : NULL; m; m = m->w_next) {
      if (m->node == from->idx && strcmp(m->target, sender) == 0) {
        rmon_fire_remove(c, m, e->status, from->idx);
        return;
      }
    }
    return; /* demonitored meanwhile */
  }
  if (e->type == HOST_ENV_DEMONITOR) {
    wmon_remove(c, target, sender, from->idx);
    return;
  }
  int rc = eng_actor_live(c->node, target)
               ? wmon_add(c, target, sender, from->idx)
               : TR_ENOTFOUND;
  if (rc != 0)
    host_send_env(c, from, TR_MSG_DOWN, target, sender, 0, rc, NULL, 0);
}

void host_mon_unreachable(cluster *c, host_peer *p, const char *watcher,
                          const char *target) {
  host_watcher *w = watcher_find(c, watcher);
  for (host_rmon *m = w ? w->mons : NULL; m; m = m->w_next) {
    if (m->node == p->idx && strcmp(m->target, target) == 0) {
      rmon_fire_remove(c, m, TR_EUNREACHABLE, 0);
      return;
    }
  }
}

void host_mon_node_down(cluster *c, host_peer *p, int reason) {
  for (host_rmon *m = c->rmons, *next; m; m = next) {
    next = m->next;
    if (m->node == p->idx) rmon_fire_remove(c, m, reason, 0);
  }
  host_wtarget *t, *tmp;
  HASH_ITER(hh, c->wtargets, t, tmp) {
    for (host_wmon **pp = &t->mons; *pp;) {
      host_wmon *w = *pp;
      if (w->node == p->idx) {
        *pp = w->next;
        free(w->watcher);
        free(w);
      } else {
        pp = &w->next;
      }
    }
    if (!t->mons) wtarget_free(c, t);
  }
}

void host_remote_actor_gone(void *user, const char *id, int reason) {
  cluster *c = user;
  if (id[0] != '$') host_remote_release(c, id);
  host_rask_actor_gone(c, id);
  host_credit_actor_gone(c, id);
  host_wtarget *t = wtarget_find(c, id);
  if (t) {
    for (host_wmon *w = t->mons; w; w = w->next) {
      host_peer *p = host_peer_at(c, w->node);
      if (p) host_send_env(c, p, TR_MSG_DOWN, id, w->watcher, 0, reason,
                           NULL, 0);
    }
    wtarget_free(c, t);
  }
  host_watcher *w = watcher_find(c, id);
  while (w) { /* the last removal frees w */
    host_rmon *m = w->mons;
    bool last = m->w_next == NULL;
    host_peer *p = host_peer_at(c, m->node);
    if (p) host_send_env(c, p, HOST_ENV_DEMONITOR, id, m->target, 0, 0,
                         NULL, 0);
    rmon_remove(c, m);
    if (last) break;
  }
}

/* The link to p came up (again): repeat the monitor requests p holds for
 * us, in case it dropped them (it held this node dead for a while). */
void host_mon_resend(cluster *c, host_peer *p) {
  for (host_rmon *m = c->rmons; m; m = m->next)
    if (m->node == p->idx)
      host_send_env(c, p, HOST_ENV_MONITOR, m->watcher->id, m->target, 0, 0,
                    NULL, 0);
}

void host_mon_free(cluster *c) {
  while (c->rmons) rmon_remove(c, c->rmons);
  host_wtarget *t, *tmp;
  HASH_ITER(hh, c->wtargets, t, tmp) wtarget_free(c, t);
}

/* ---- inspecting (cluster.h) ------------------------------------------------ */

static int mon_emit(const char *watcher, const char *wnode,
                    const char *target, const char *tnode,
                    void (*fn)(void *, const tr_monitor_info *), void *arg) {
  if (fn) {
    tr_monitor_info x = {.watcher = watcher,
                         .watcher_node = wnode,
                         .target = target,
                         .target_node = tnode};
    fn(arg, &x);
  }
  return 1;
}

static const char *peer_name(cluster *c, uint16_t idx) {
  host_peer *p = host_peer_at(c, idx);
  return p ? p->name : NULL;
}

/* A full scan of both tables when an actor is named: it finds the
 * monitors this node holds for an actor of another node too, so each of
 * the two nodes answers for a monitor between them. An inspect request is
 * rare, and the tables hold what this node's actors asked for. */
int cluster_monitors_each(cluster *c, const char *actor,
                          void (*fn)(void *arg, const tr_monitor_info *),
                          void *arg) {
  int count = 0;
  for (host_rmon *m = c->rmons; m; m = m->next) /* watcher here */
    if (!actor || strcmp(m->watcher->id, actor) == 0 ||
        strcmp(m->target, actor) == 0)
      count += mon_emit(m->watcher->id, c->name, m->target,
                        peer_name(c, m->node), fn, arg);
  host_wtarget *t, *tmp;
  HASH_ITER(hh, c->wtargets, t, tmp) { /* target here */
    bool is_target = actor && strcmp(t->target, actor) == 0;
    for (host_wmon *w = t->mons; w; w = w->next)
      if (!actor || is_target || strcmp(w->watcher, actor) == 0)
        count += mon_emit(w->watcher, peer_name(c, w->node), t->target,
                          c->name, fn, arg);
  }
  return count;
}
