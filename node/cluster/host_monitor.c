/* host_monitor.c — monitors across nodes. The watcher's node keeps a
 * record (watcher, target, node) and sends MONITOR to the target's node,
 * which keeps (watcher, node) under the target's id. When the target stops,
 * its node sends DOWN with the reason, in order behind everything the
 * target sent before. When the target's node is declared dead or leaves,
 * or the MONITOR cannot reach it, the watcher's node fires DOWN itself
 * with TR_EUNREACHABLE. An unknown target gets DOWN TR_ENOTFOUND at once. */
#include <stdlib.h>
#include <string.h>

#include "host.h"

static void rmon_remove(eng_cluster *c, host_rmon *m) {
  if (m->prev)
    m->prev->next = m->next;
  else
    c->rmons = m->next;
  if (m->next) m->next->prev = m->prev;
  free(m->target);
  free(m);
}

/* DOWN to a local watcher, from target, as if sent from `origin`. */
static void rmon_fire(eng_cluster *c, eng_actor *w, const char *target,
                      int reason, uint16_t origin) {
  eng_name *t = name_new(target, strlen(target));
  if (!t) {
    node_log(c->node, TR_LOG_ERROR, "notice_lost",
             "to=%s type=down reason=enomem", w->id->str);
    return;
  }
  send_to_actor(w, TR_MSG_DOWN, t, NULL, NULL, 0, NULL, 0, reason,
                ENG_BYPASS_CAPACITY | ENG_ORIGIN(origin));
  name_unref(t);
}

int cluster_monitor(eng_cluster *c, eng_actor *w, const char *target) {
  const char *owner = reg_lookup(c->reg, target);
  if (!owner || strcmp(owner, c->name) == 0) return TR_ENOTFOUND;
  host_peer *p = host_peer_get(c, owner);
  host_rmon *m = calloc(1, sizeof(*m));
  if (!p || !m || !(m->target = strdup(target))) {
    free(m);
    return TR_ENOMEM;
  }
  int rc = host_send_env(c, p, HOST_ENV_MONITOR, w->id->str, target, 0, 0,
                         NULL, 0);
  if (rc == TR_EUNREACHABLE) {
    rmon_fire(c, w, target, TR_EUNREACHABLE, 0);
    rc = 0;
  }
  if (rc != 0 || !p->up) {
    free(m->target);
    free(m);
    return rc;
  }
  m->watcher = w;
  m->node = p->idx;
  m->next = c->rmons;
  if (c->rmons) c->rmons->prev = m;
  c->rmons = m;
  w->has_rmon = 1;
  return 0;
}

int cluster_demonitor(eng_cluster *c, eng_actor *w, const char *target) {
  if (!w->has_rmon) return 0;
  int removed = 0;
  for (host_rmon *m = c->rmons, *next; m; m = next) {
    next = m->next;
    if (m->watcher != w || strcmp(m->target, target) != 0) continue;
    host_peer *p = host_peer_at(c, m->node);
    if (p) host_send_env(c, p, HOST_ENV_DEMONITOR, w->id->str, target, 0, 0,
                         NULL, 0);
    rmon_remove(c, m);
    removed++;
  }
  return removed;
}

static host_wtarget *wtarget_find(eng_cluster *c, const char *target) {
  host_wtarget *t = NULL;
  HASH_FIND_STR(c->wtargets, target, t);
  return t;
}

static void wtarget_free(eng_cluster *c, host_wtarget *t) {
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

static int wmon_add(eng_cluster *c, const char *target, const char *watcher,
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

static void wmon_remove(eng_cluster *c, const char *target,
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

static void copy_id(char *dst, wire_slice s) {
  size_t len = s.len > TR_ID_MAX ? 0 : s.len;
  memcpy(dst, s.p, len);
  dst[len] = '\0';
}

void host_mon_on_env(eng_cluster *c, host_peer *from, const wire_envelope *e) {
  char sender[TR_ID_MAX + 1], target[TR_ID_MAX + 1];
  copy_id(sender, e->sender);
  copy_id(target, e->target);
  if (!sender[0]) {
    c->st.rejected++;
    return;
  }
  if (e->type == TR_MSG_DOWN) {
    /* sender: the target that stopped; target: the watcher here. */
    for (host_rmon *m = c->rmons; m; m = m->next) {
      if (m->node == from->idx && strcmp(m->target, sender) == 0 &&
          strcmp(m->watcher->id->str, target) == 0) {
        eng_actor *w = m->watcher;
        rmon_remove(c, m);
        rmon_fire(c, w, sender, e->status, from->idx);
        return;
      }
    }
    return; /* demonitored meanwhile */
  }
  if (e->type == HOST_ENV_DEMONITOR) {
    wmon_remove(c, target, sender, from->idx);
    return;
  }
  eng_actor *a = actor_find(c->node, target);
  int rc = a && !a->stopping ? wmon_add(c, target, sender, from->idx)
                             : TR_ENOTFOUND;
  if (rc != 0)
    host_send_env(c, from, TR_MSG_DOWN, target, sender, 0, rc, NULL, 0);
}

void host_mon_unreachable(eng_cluster *c, host_peer *p, const char *watcher,
                          const char *target) {
  for (host_rmon *m = c->rmons; m; m = m->next) {
    if (m->node == p->idx && strcmp(m->target, target) == 0 &&
        strcmp(m->watcher->id->str, watcher) == 0) {
      eng_actor *w = m->watcher;
      rmon_remove(c, m);
      rmon_fire(c, w, target, TR_EUNREACHABLE, 0);
      return;
    }
  }
}

void host_mon_node_down(eng_cluster *c, host_peer *p, int reason) {
  for (host_rmon *m = c->rmons, *next; m; m = next) {
    next = m->next;
    if (m->node != p->idx) continue;
    eng_actor *w = m->watcher;
    char *target = m->target;
    m->target = NULL;
    rmon_remove(c, m);
    rmon_fire(c, w, target, reason, 0);
    free(target);
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

void cluster_actor_gone(eng_cluster *c, eng_actor *a, int reason) {
  if (a->id->str[0] != '$') cluster_release(c, a->id->str);
  if (a->rasked) host_rask_actor_gone(c, a);
  host_wtarget *t = wtarget_find(c, a->id->str);
  if (t) {
    for (host_wmon *w = t->mons; w; w = w->next) {
      host_peer *p = host_peer_at(c, w->node);
      if (p) host_send_env(c, p, TR_MSG_DOWN, a->id->str, w->watcher, 0,
                           reason, NULL, 0);
    }
    wtarget_free(c, t);
  }
  if (!a->has_rmon) return;
  for (host_rmon *m = c->rmons, *next; m; m = next) {
    next = m->next;
    if (m->watcher != a) continue;
    host_peer *p = host_peer_at(c, m->node);
    if (p) host_send_env(c, p, HOST_ENV_DEMONITOR, a->id->str, m->target, 0,
                         0, NULL, 0);
    rmon_remove(c, m);
  }
}

/* The link to p came up (again): repeat the monitor requests p holds for
 * us, in case it dropped them (it held this node dead for a while). */
void host_mon_resend(eng_cluster *c, host_peer *p) {
  for (host_rmon *m = c->rmons; m; m = m->next)
    if (m->node == p->idx)
      host_send_env(c, p, HOST_ENV_MONITOR, m->watcher->id->str, m->target, 0,
                    0, NULL, 0);
}

void host_mon_free(eng_cluster *c) {
  while (c->rmons) rmon_remove(c, c->rmons);
  host_wtarget *t, *tmp;
  HASH_ITER(hh, c->wtargets, t, tmp) wtarget_free(c, t);
}
