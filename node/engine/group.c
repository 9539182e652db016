/* group.c — groups of actors (docs/groups.md), this node's part: which local
 * actors are in which group, the choice of one member for a send or an
 * ask, the fan-out of a broadcast to the local members, and the membership
 * events on the system publisher's "group:<name>" topics. Members on other
 * nodes are the remote layer's (eng_remote_ops.group_*): this file asks it
 * when no local member has room, hands it every broadcast, and tells it of
 * every join and leave.
 *
 * A group is a hash entry with its local members in a list; each actor
 * keeps its memberships in its own list, so a stop leaves every group at
 * once. The round robin over local members is a cursor into the list. */
#include <stdlib.h>
#include <string.h>

#include "eng_remote.h"
#include "engine.h"

struct eng_gm {
  eng_actor *actor;
  eng_group *group;
  eng_gm *g_next, *g_prev; /* group->members */
  eng_gm *a_next;          /* actor->groups */
};

int eng_group_check(const char *group, size_t *len_out) {
  if (!group) return TR_EINVAL;
  size_t len = strnlen(group, TR_GROUP_MAX + 1);
  if (len == 0 || len > TR_GROUP_MAX || group[0] == '$') return TR_EINVAL;
  for (size_t i = 0; i < len; i++) {
    unsigned char ch = (unsigned char)group[i];
    if (ch <= ' ' || ch == 0x7f) return TR_EINVAL;
  }
  if (len_out) *len_out = len;
  return 0;
}

static eng_group *group_find(tr_node *n, const char *name, size_t len) {
  eng_group *g = NULL;
  HASH_FIND(hh, n->groups, name, len, g);
  return g;
}

static eng_gm *membership(eng_actor *a, const eng_group *g) {
  for (eng_gm *m = a->x ? a->x->groups : NULL; m; m = m->a_next)
    if (m->group == g) return m;
  return NULL;
}

/* "group:<name>" on the system publisher: TR_MSG_GROUP_JOIN or _LEAVE,
 * data "<id>\0<node>\0". */
void eng_group_event(tr_node *n, const char *group, const char *id,
                     const char *node, bool joined) {
  char topic[sizeof(TR_GROUP_TOPIC_PREFIX) + TR_GROUP_MAX];
  char data[2 * (TR_ID_MAX + 1)];
  size_t glen = strnlen(group, TR_GROUP_MAX + 1);
  size_t ilen = strnlen(id, TR_ID_MAX + 1), nlen = strnlen(node, TR_ID_MAX + 1);
  if (glen > TR_GROUP_MAX || ilen > TR_ID_MAX || nlen > TR_ID_MAX) return;
  memcpy(topic, TR_GROUP_TOPIC_PREFIX, sizeof(TR_GROUP_TOPIC_PREFIX) - 1);
  memcpy(topic + sizeof(TR_GROUP_TOPIC_PREFIX) - 1, group, glen + 1);
  memcpy(data, id, ilen + 1);
  memcpy(data + ilen + 1, node, nlen + 1);
  eng_publish_system_topic(n, topic,
                           joined ? TR_MSG_GROUP_JOIN : TR_MSG_GROUP_LEAVE,
                           data, ilen + nlen + 2);
}

static int group_add(tr_node *n, eng_actor *a, const char *group,
                     size_t glen) {
  eng_group *g = group_find(n, group, glen);
  if (g && membership(a, g)) return 0; /* twice: a no-op */
  if (glen + a->id->len > TR_GROUP_KEY_MAX) return TR_EINVAL;
  int rc = a->id->str[0] == '$' ? TR_EINVAL
                                : eng_guarded(n, ENG_ACT_JOIN, group, NULL);
  if (rc != 0) return rc;
  eng_actor_x *x = actor_x(a);
  eng_gm *m = x ? calloc(1, sizeof(*m)) : NULL;
  if (!m) return TR_ENOMEM;
  bool fresh = !g;
  if (fresh) {
    g = calloc(1, sizeof(*g));
    if (g) g->name = eng_name_new(group, glen);
    if (!g || !g->name) {
      free(g);
      free(m);
      return TR_ENOMEM;
    }
  }
  if (n->rops && (rc = n->rops->group_join(n->ruser, group, a->id->str,
                                           true)) != 0) {
    if (fresh) {
      eng_name_unref(g->name);
      free(g);
    }
    free(m);
    return rc;
  }
  if (fresh) HASH_ADD_KEYPTR(hh, n->groups, g->name->str, glen, g);
  m->actor = a;
  m->group = g;
  m->g_next = g->members;
  if (g->members) g->members->g_prev = m;
  g->members = m;
  g->count++;
  m->a_next = x->groups;
  x->groups = m;
  n->stats.group_members++;
  eng_group_event(n, group, a->id->str, n->name, true);
  return 0;
}

/* Takes m out of its group and its actor's list (the caller unlinks it
 * from the actor's list when it walks it). */
static void group_remove(tr_node *n, eng_gm *m, bool unlink_actor) {
  eng_group *g = m->group;
  eng_actor *a = m->actor;
  if (unlink_actor) {
    for (eng_gm **pp = &a->x->groups; *pp; pp = &(*pp)->a_next)
      if (*pp == m) {
        *pp = m->a_next;
        break;
      }
  }
  if (g->cursor == m) g->cursor = m->g_next;
  if (m->g_prev)
    m->g_prev->g_next = m->g_next;
  else
    g->members = m->g_next;
  if (m->g_next) m->g_next->g_prev = m->g_prev;
  g->count--;
  n->stats.group_members--;
  if (n->rops) n->rops->group_join(n->ruser, g->name->str, a->id->str, false);
  eng_group_event(n, g->name->str, a->id->str, n->name, false);
  free(m);
  if (!g->count) {
    HASH_DEL(n->groups, g);
    eng_name_unref(g->name);
    free(g);
  }
}

static int group_del(tr_node *n, eng_actor *a, const char *group,
                     size_t glen) {
  eng_group *g = group_find(n, group, glen);
  eng_gm *m = g ? membership(a, g) : NULL;
  if (!m) return TR_ENOTFOUND;
  group_remove(n, m, true);
  return 0;
}

void group_actor_stopped(eng_actor *a) {
  while (a->x && a->x->groups) {
    eng_gm *m = a->x->groups;
    a->x->groups = m->a_next;
    group_remove(a->node, m, false);
  }
}

void group_free(tr_node *n) {
  /* Every actor is gone by now (their stops left their groups). */
  eng_group *g, *tmp;
  HASH_ITER(hh, n->groups, g, tmp) {
    HASH_DEL(n->groups, g);
    eng_name_unref(g->name);
    free(g);
  }
}

/* ---- joining and leaving ------------------------------------------------- */

int tr_group_join(tr_ctx *ctx, const char *group) {
  size_t glen;
  if (!ctx || eng_group_check(group, &glen) != 0) return TR_EINVAL;
  if (ctx->stopping) return TR_ESTATE;
  return group_add(ctx->node, ctx, group, glen);
}

int tr_group_leave(tr_ctx *ctx, const char *group) {
  size_t glen;
  if (!ctx || eng_group_check(group, &glen) != 0) return TR_EINVAL;
  return group_del(ctx->node, ctx, group, glen);
}

int tr_node_group_join(tr_node *n, const char *id, const char *group) {
  size_t glen;
  if (!n || !id || eng_group_check(group, &glen) != 0) return TR_EINVAL;
  eng_actor *a = actor_find(n, id);
  if (!a || a->stopping) return TR_ENOTFOUND;
  return group_add(n, a, group, glen);
}

int tr_node_group_leave(tr_node *n, const char *id, const char *group) {
  size_t glen;
  if (!n || !id || eng_group_check(group, &glen) != 0) return TR_EINVAL;
  eng_actor *a = actor_find(n, id);
  if (!a) return TR_ENOTFOUND;
  return group_del(n, a, group, glen);
}

/* ---- one member ------------------------------------------------------------ */

static bool has_room(const eng_actor *a) {
  return !a->stopping && a->mb_count < a->mb_capacity && !a->held_dq;
}

/* The next local member with room, round robin; NULL when none has. */
static eng_actor *pick_local(eng_group *g) {
  eng_gm *m = g->cursor ? g->cursor : g->members;
  for (uint32_t i = 0; i < g->count && m; i++) {
    eng_gm *next = m->g_next ? m->g_next : g->members;
    if (has_room(m->actor)) {
      g->cursor = next;
      return m->actor;
    }
    m = next;
  }
  return NULL;
}

/* Picks a member with room: its id into out. 0; TR_EFULL (members, none
 * with room; counted like a refused send); TR_ENOTFOUND (no member). */
int eng_group_pick(tr_node *n, const char *group, char *out, size_t cap) {
  size_t glen;
  if (eng_group_check(group, &glen) != 0 || cap < TR_ID_MAX + 1)
    return TR_EINVAL;
  eng_group *g = group_find(n, group, glen);
  eng_actor *a = g ? pick_local(g) : NULL;
  if (a) {
    memcpy(out, a->id->str, a->id->len + 1);
    return 0;
  }
  int rc = n->rops ? n->rops->group_pick(n->ruser, group, out, cap)
                   : TR_ENOTFOUND;
  if (rc == 1) return 0;
  if (rc == 0 || (rc == TR_ENOTFOUND && g)) {
    eng_dead(n, TR_DL_REJECTED_FULL, NULL, group, 0);
    return TR_EFULL;
  }
  if (rc == TR_ENOTFOUND)
    eng_dead(n, TR_DL_REJECTED_NO_ACTOR, NULL, group, 0);
  return rc;
}

static void copy_chosen(const char *id, char *chosen, size_t cap) {
  if (!chosen || !cap) return;
  size_t len = strnlen(id, cap - 1);
  memcpy(chosen, id, len);
  chosen[len] = '\0';
}

int tr_group_send_to(tr_ctx *ctx, const char *group, const void *data,
                     size_t len, char *chosen, size_t cap) {
  char id[TR_ID_MAX + 1];
  if (!ctx) return TR_EINVAL;
  int rc = eng_group_pick(ctx->node, group, id, sizeof(id));
  if (rc != 0) return rc;
  copy_chosen(id, chosen, cap);
  return tr_send(ctx, id, data, len);
}

int tr_group_send(tr_ctx *ctx, const char *group, const void *data,
                  size_t len) {
  return tr_group_send_to(ctx, group, data, len, NULL, 0);
}

int tr_group_ask(tr_ctx *ctx, const char *group, const void *data, size_t len,
                 uint32_t timeout_ms, uint64_t *ask_id) {
  char id[TR_ID_MAX + 1];
  if (!ctx) return TR_EINVAL;
  int rc = eng_group_pick(ctx->node, group, id, sizeof(id));
  return rc != 0 ? rc : tr_ask(ctx, id, data, len, timeout_ms, ask_id);
}

int tr_node_group_send(tr_node *n, const char *group, const void *data,
                       size_t len) {
  char id[TR_ID_MAX + 1];
  if (!n) return TR_EINVAL;
  int rc = eng_group_pick(n, group, id, sizeof(id));
  return rc != 0 ? rc : tr_node_send(n, id, data, len);
}

/* ---- every member ---------------------------------------------------------- */

/* One slot, the payload's one copy, queued to every local member of g; a
 * full one misses it, counted. The members reached. */
static int fan_out(tr_node *n, eng_group *g, eng_name *sender,
                   const void *data, size_t len, uint16_t origin) {
  if (!g || !g->members) return 0;
  unsigned flags = ENG_ORIGIN(origin);
  eng_msg *msg = eng_msg_new(n, TR_MSG_SEND, sender, g->name, data, len, NULL,
                             0, 0, flags, 0);
  if (!msg) return TR_ENOMEM;
  uint32_t reached = 0;
  for (eng_gm *m = g->members; m; m = m->g_next) {
    int rc = mb_admits(m->actor, TR_MSG_SEND, flags, 0);
    if (rc == 0 && (rc = mb_enqueue(n, m->actor, msg)) == 0) {
      reached++;
      continue;
    }
    eng_dead_for(n, m->actor,
                 rc == TR_EFULL ? TR_DL_GROUP_FULL : TR_DL_STOPPED, sender,
                 len);
  }
  eng_msg_shared(n, msg, reached);
  n->stats.group_deliveries += reached;
  return (int)reached;
}

static int broadcast(tr_node *n, eng_name *sender, const char *group,
                     const void *data, size_t len) {
  size_t glen;
  if (eng_group_check(group, &glen) != 0 || (len && !data)) return TR_EINVAL;
  if (len > n->max_payload) {
    eng_dead(n, TR_DL_REJECTED_TOOBIG, eng_str(sender), group, len);
    return TR_ETOOBIG;
  }
  /* The policy judges a broadcast as a send to "group:<name>". */
  char object[sizeof(TR_GROUP_TOPIC_PREFIX) + TR_GROUP_MAX];
  memcpy(object, TR_GROUP_TOPIC_PREFIX, sizeof(TR_GROUP_TOPIC_PREFIX) - 1);
  memcpy(object + sizeof(TR_GROUP_TOPIC_PREFIX) - 1, group, glen + 1);
  bool system = sender && sender->str[0] == '$';
  int rc = system ? 0 : eng_guarded(n, ENG_ACT_SEND, object, NULL);
  if (rc != 0) return rc;
  n->stats.group_broadcasts++;
  if (n->rops) n->rops->group_broadcast(n->ruser, group, sender, data, len);
  return fan_out(n, group_find(n, group, glen), sender, data, len, 0);
}

int tr_group_broadcast(tr_ctx *ctx, const char *group, const void *data,
                       size_t len) {
  if (!ctx) return TR_EINVAL;
  int rc = broadcast(ctx->node, ctx->id, group, data, len);
  if (rc >= 0) ctx->sent++;
  return rc;
}

int tr_node_group_broadcast(tr_node *n, const char *group, const void *data,
                            size_t len) {
  if (!n) return TR_EINVAL;
  return broadcast(n, NULL, group, data, len);
}

int eng_deliver_group(tr_node *n, const char *group, size_t glen,
                      eng_name *sender, const void *data, size_t len,
                      uint16_t origin) {
  int reached = fan_out(n, group_find(n, group, glen), sender, data, len,
                        origin);
  if (reached > 0) eng_backlog_check(n);
  return reached;
}

/* ---- listing ------------------------------------------------------------------ */

static int list_local(tr_node *n, eng_group *g,
                      void (*fn)(void *, const tr_group_member *), void *arg) {
  int count = 0;
  for (eng_gm *m = g->members; m; m = m->g_next, count++) {
    tr_group_member gm = {g->name->str, m->actor->id->str, n->name};
    if (fn) fn(arg, &gm);
  }
  return count;
}

int tr_group_members(tr_node *n, const char *group, int local_only,
                     void (*fn)(void *arg, const tr_group_member *),
                     void *arg) {
  size_t glen = 0;
  if (!n || (group && eng_group_check(group, &glen) != 0)) return TR_EINVAL;
  int count = 0;
  if (group) {
    eng_group *g = group_find(n, group, glen);
    if (g) count += list_local(n, g, fn, arg);
  } else {
    eng_group *g, *tmp;
    HASH_ITER(hh, n->groups, g, tmp) count += list_local(n, g, fn, arg);
  }
  if (!local_only && n->rops)
    count += n->rops->group_each(n->ruser, group, fn, arg);
  return count;
}

int tr_group_count(tr_node *n, const char *group, int local_only) {
  if (!group) return TR_EINVAL;
  return tr_group_members(n, group, local_only, NULL, NULL);
}
