/* host_group.c — groups across nodes (docs/groups.md), the cluster's part.
 *
 * Each membership of a local actor is a shared registry id, "$g:<group>
 * <actor>" (registry.h, REG_SHARED_PREFIX), claimed by this node. So the
 * registry's gossip brings every membership to every node, each node
 * speaks only for its own (deltas sealed by their owner; nobody can add or
 * remove another node's keys), a dead, leaving or restarted node's
 * memberships go everywhere with its registry set, and a healed partition
 * ends with the union of what the live owners hold (anti-entropy).
 *
 * A key only says "owner says actor is in group". It is believed when the
 * actor resolves to that owner: a node cannot put another node's actor
 * (or one that does not exist) in a group. Keys held here that fail this
 * are kept, unused, and counted (group_invalid); the check is made on
 * every use, so a key becomes good once its actor comes to its owner.
 *
 * This file keeps what the registry's `held` callback says of other
 * nodes' keys in an index (group -> members), picks a member with room for
 * a send or an ask (round robin, skipping those without credit), sends a
 * broadcast once to each node with members (HOST_ENV_GROUP, fanned out
 * there), and publishes membership events for the remote members (the
 * engine publishes those of its own). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "utlist.h"

#define GKEY_PREFIX REG_SHARED_PREFIX
#define GKEY_PREFIX_LEN (sizeof(GKEY_PREFIX) - 1)

/* One owner's key: keyed by the key, a NUL and the owner's index, so two
 * owners of one key (one of them lying, or stale) are two entries, and
 * only the one whose owner holds the actor is used. */
struct host_gmember {
  UT_hash_handle hh;                /* c->gkeys, keyed by hkey */
  host_gmember *next, *prev;        /* group->members */
  host_group *group;
  uint16_t node;                    /* the owner */
  bool announced;                   /* its join was published here */
  const char *id;                   /* into hkey */
  uint32_t hlen;
  char hkey[];                      /* key, NUL, node (2 bytes) */
};

/* The hash key of (key, node) into out (TR_ID_MAX + 4 bytes). */
static uint32_t hkey_make(char *out, const char *key, size_t klen,
                          uint16_t node) {
  memcpy(out, key, klen);
  out[klen] = '\0';
  memcpy(out + klen + 1, &node, sizeof(node));
  return (uint32_t)(klen + 1 + sizeof(node));
}

struct host_group {
  UT_hash_handle hh; /* c->groups, keyed by name */
  host_gmember *members;
  host_gmember *cursor; /* the next one a pick tries */
  uint32_t count;
  /* The nodes with believed members, for broadcasts: good while the
   * registry's generation is nodes_gen and no key came or went. */
  uint16_t *nodes;
  uint32_t nnodes, nodes_cap;
  uint64_t nodes_gen;
  bool nodes_stale;
  char name[];
};

/* "$g:<group> <id>" into out (TR_ID_MAX + 1 bytes): its length, or 0 when
 * it does not fit. */
static size_t key_make(char *out, const char *group, const char *id) {
  int len = snprintf(out, TR_ID_MAX + 1, "%s%s %s", GKEY_PREFIX, group, id);
  return len > 0 && len <= TR_ID_MAX ? (size_t)len : 0;
}

/* Splits a key: the group (glen bytes at *group) and the actor id. false
 * for a key that is not one (no space, an empty part). */
static bool key_split(const char *key, const char **group, size_t *glen,
                      const char **id) {
  if (strncmp(key, GKEY_PREFIX, GKEY_PREFIX_LEN) != 0) return false;
  const char *g = key + GKEY_PREFIX_LEN, *sp = strchr(g, ' ');
  if (!sp || sp == g || !sp[1] || (size_t)(sp - g) > TR_GROUP_MAX)
    return false;
  *group = g;
  *glen = (size_t)(sp - g);
  *id = sp + 1;
  return true;
}

static host_group *group_find(cluster *c, const char *name, size_t len) {
  host_group *g = NULL;
  HASH_FIND(hh, c->groups, name, len, g);
  return g;
}

/* Whether the member's owner holds its actor: the key is believed. */
static bool member_valid(cluster *c, const host_gmember *m) {
  host_peer *p = host_peer_at(c, m->node);
  const char *owner = p ? reg_lookup(c->reg, m->id) : NULL;
  return owner && strcmp(owner, p->name) == 0;
}

static void member_event(cluster *c, host_gmember *m, bool joined) {
  host_peer *p = host_peer_at(c, m->node);
  eng_group_event(c->node, m->group->name, m->id, p ? p->name : "?", joined);
}

static void group_free(host_group *g) {
  free(g->nodes);
  free(g);
}

static void member_remove(cluster *c, host_gmember *m) {
  host_group *g = m->group;
  if (m->announced) member_event(c, m, false);
  if (g->cursor == m) g->cursor = m->next;
  DL_DELETE(g->members, m);
  g->count--;
  g->nodes_stale = true;
  HASH_DEL(c->gkeys, m);
  free(m);
  if (!g->count) {
    HASH_DEL(c->groups, g);
    group_free(g);
  }
}

/* The registry's `held` for shared ids (host.c): another node's key came
 * or went. */
void host_group_held(cluster *c, const char *key, const char *owner,
                     bool held) {
  const char *gname, *id;
  size_t glen, klen = strlen(key);
  if (strcmp(owner, c->name) == 0) return; /* the engine knows its own */
  char group[TR_GROUP_MAX + 1];
  bool ok = key_split(key, &gname, &glen, &id) && id[0] != '$';
  if (ok) { /* a name a node could have joined, and an actor's id */
    memcpy(group, gname, glen);
    group[glen] = '\0';
    ok = eng_group_check(group, NULL) == 0;
  }
  if (!ok) {
    c->st.rejected++;
    return;
  }
  host_peer *p = host_peer_find(c, owner);
  if (!p || klen > TR_ID_MAX) return; /* an owner up has a peer entry */
  char hk[TR_ID_MAX + 4];
  uint32_t hlen = hkey_make(hk, key, klen, p->idx);
  host_gmember *m = NULL;
  HASH_FIND(hh, c->gkeys, hk, hlen, m);
  if (!held) {
    if (m) member_remove(c, m);
    return;
  }
  if (m) return;
  host_group *g = group_find(c, gname, glen);
  bool fresh = !g;
  if (fresh) {
    g = calloc(1, sizeof(*g) + glen + 1);
    if (!g) goto enomem;
    memcpy(g->name, gname, glen);
  }
  m = calloc(1, sizeof(*m) + hlen);
  if (!m) {
    if (fresh) group_free(g);
    goto enomem;
  }
  memcpy(m->hkey, hk, hlen);
  m->hlen = hlen;
  m->id = m->hkey + (id - key);
  m->node = p->idx;
  m->group = g;
  if (fresh) HASH_ADD(hh, c->groups, name, glen, g);
  HASH_ADD(hh, c->gkeys, hkey, hlen, m);
  DL_APPEND(g->members, m);
  g->count++;
  g->nodes_stale = true;
  c->group_unannounced = true;
  host_defer(c);
  return;
enomem:
  host_log(c, TR_LOG_ERROR, "group_member_lost", "key=%s owner=%s", key,
           owner);
}

/* Deferred: members held since the last look whose actor is their
 * owner's are announced (TR_MSG_GROUP_JOIN); the others are counted. */
void host_group_announce(cluster *c) {
  if (!c->group_unannounced) return;
  c->group_unannounced = false;
  uint64_t invalid = 0;
  host_gmember *m, *tmp;
  HASH_ITER(hh, c->gkeys, m, tmp) {
    if (m->announced) continue;
    if (!member_valid(c, m)) {
      invalid++;
      continue;
    }
    m->announced = true;
    member_event(c, m, true);
  }
  if (invalid > c->group_invalid)
    host_log(c, TR_LOG_WARN, "group_members_unbelieved",
             "count=%llu reason=actor_not_at_owner",
             (unsigned long long)invalid);
  c->group_invalid = invalid;
  /* Not yet announced ones are looked at again when the registry moves. */
  if (invalid) c->group_unannounced = true;
}

/* ---- the engine's ops -------------------------------------------------------- */

int host_remote_group_join(void *user, const char *group, const char *id,
                           bool join) {
  cluster *c = user;
  char key[TR_ID_MAX + 1];
  if (!key_make(key, group, id)) return TR_EINVAL;
  if (c->left) return 0; /* leaving: nothing more to tell */
  c->in_sm++;
  int rc = join ? reg_claim(c->reg, key, host_now(c))
                : reg_release(c->reg, key, host_now(c));
  c->in_sm--;
  host_rearm(c);
  if (!join && rc == TR_ENOMEM) /* the key stays: others still see it */
    host_log(c, TR_LOG_ERROR, "group_leave_lost", "group=%s id=%s "
             "reason=enomem", group, id);
  if (!join || rc == TR_EEXIST || rc == TR_ENOTFOUND) return 0;
  return rc;
}

int host_remote_group_pick(void *user, const char *group, char *out,
                           size_t cap) {
  cluster *c = user;
  host_group *g = group_find(c, group, strlen(group));
  if (!g || c->left) return TR_ENOTFOUND;
  host_gmember *m = g->cursor ? g->cursor : g->members;
  bool any = false;
  for (uint32_t i = 0; i < g->count && m; i++) {
    host_gmember *next = m->next ? m->next : g->members;
    host_peer *p = host_peer_at(c, m->node);
    if (p && p->up && member_valid(c, m)) {
      any = true;
      size_t len = strlen(m->id);
      if (len < cap && host_credit_has_room(c, m->id, len)) {
        memcpy(out, m->id, len + 1);
        g->cursor = next;
        return 1;
      }
    }
    m = next;
  }
  return any ? 0 : TR_ENOTFOUND;
}

/* Brings g->nodes up to date: each node with a believed member, once.
 * false when out of memory (the broadcast's envelopes to other nodes are
 * then not sent: counted and logged). */
static bool nodes_refresh(cluster *c, host_group *g) {
  if (!g->nodes_stale && g->nodes_gen == c->reg_gen) return true;
  uint64_t mark = ++c->group_mark;
  g->nnodes = 0;
  host_gmember *m;
  DL_FOREACH(g->members, m) {
    host_peer *p = host_peer_at(c, m->node);
    if (!p || p->group_mark == mark || !member_valid(c, m)) continue;
    p->group_mark = mark;
    if (g->nnodes == g->nodes_cap) {
      uint32_t cap = g->nodes_cap ? 2 * g->nodes_cap : 4;
      uint16_t *n = realloc(g->nodes, cap * sizeof(*n));
      if (!n) return false;
      g->nodes = n;
      g->nodes_cap = cap;
    }
    g->nodes[g->nnodes++] = m->node;
  }
  g->nodes_gen = c->reg_gen;
  g->nodes_stale = false;
  return true;
}

void host_remote_group_broadcast(void *user, const char *group,
                                 eng_name *sender, const void *data,
                                 size_t len) {
  cluster *c = user;
  host_group *g = group_find(c, group, strlen(group));
  if (!g || c->left) return;
  if (!nodes_refresh(c, g)) {
    g->nodes_stale = true;
    c->st.group_broadcasts_dropped++;
    host_log(c, TR_LOG_ERROR, "group_broadcast_lost",
             "group=%s reason=enomem", group);
    return;
  }
  for (uint32_t i = 0; i < g->nnodes; i++) {
    host_peer *p = host_peer_at(c, g->nodes[i]);
    int rc = p ? host_send_env(c, p, HOST_ENV_GROUP,
                               sender ? sender->str : NULL, group, 0, 0, data,
                               len)
               : TR_EUNREACHABLE;
    if (rc == 0)
      c->st.group_broadcasts_out++;
    else
      c->st.group_broadcasts_dropped++;
  }
}

int host_remote_group_each(void *user, const char *group,
                           void (*fn)(void *arg, const tr_group_member *),
                           void *arg) {
  cluster *c = user;
  int count = 0;
  host_gmember *m, *tmp;
  if (group) {
    host_group *g = group_find(c, group, strlen(group));
    if (!g) return 0;
    DL_FOREACH(g->members, m) {
      if (!member_valid(c, m)) continue;
      host_peer *p = host_peer_at(c, m->node);
      tr_group_member gm = {g->name, m->id, p ? p->name : "?"};
      if (fn) fn(arg, &gm);
      count++;
    }
    return count;
  }
  HASH_ITER(hh, c->gkeys, m, tmp) {
    if (!member_valid(c, m)) continue;
    host_peer *p = host_peer_at(c, m->node);
    tr_group_member gm = {m->group->name, m->id, p ? p->name : "?"};
    if (fn) fn(arg, &gm);
    count++;
  }
  return count;
}

/* ---- a broadcast from another node ------------------------------------------ */

void host_group_on_env(cluster *c, host_peer *from, const wire_envelope *e,
                       const char *group, size_t glen, eng_name *sender) {
  if (eng_group_check(group, NULL) != 0) {
    c->st.rejected++;
    return;
  }
  /* Nobody may speak as an actor another node owns (as for a publish). */
  const char *owner = sender ? reg_lookup(c->reg, sender->str) : NULL;
  if (owner && strcmp(owner, from->name) != 0) {
    c->st.rejected++;
    host_log(c, TR_LOG_WARN, "group_broadcast_rejected",
             "peer=%s sender=%s group=%s", from->name, sender->str, group);
    return;
  }
  if (c->guard && policy_guard_policy(c->guard)) {
    char object[sizeof(TR_GROUP_TOPIC_PREFIX) + TR_GROUP_MAX];
    snprintf(object, sizeof(object), "%s%s", TR_GROUP_TOPIC_PREFIX, group);
    if (host_policy_check(c, from->name, POLICY_ROLE_NODE, POLICY_SEND,
                          object, NULL) != 0) {
      c->st.policy_denied++;
      return;
    }
  }
  c->st.group_broadcasts_in++;
  eng_deliver_group(c->node, group, glen, sender, e->payload.p,
                    e->payload.len, from->idx);
}

/* The registry's may_hold for a shared id: may owner join its group. */
bool host_group_may_hold(cluster *c, const char *owner, const char *key) {
  const char *gname, *id;
  size_t glen;
  if (!key_split(key, &gname, &glen, &id)) return false;
  char group[TR_GROUP_MAX + 1];
  memcpy(group, gname, glen);
  group[glen] = '\0';
  return host_policy_check(c, owner, POLICY_ROLE_NODE, POLICY_JOIN, group,
                           NULL) == 0;
}


void host_group_free(cluster *c) {
  host_gmember *m, *tmp;
  HASH_ITER(hh, c->gkeys, m, tmp) {
    HASH_DEL(c->gkeys, m);
    free(m);
  }
  host_group *g, *gtmp;
  HASH_ITER(hh, c->groups, g, gtmp) {
    HASH_DEL(c->groups, g);
    group_free(g);
  }
}
