/* node_query.c — the public calls about the node as a whole (troupe.h,
 * "cluster"): members, where an id lives, counters of the cluster, its
 * peers and transport, subscriptions across both layers, readiness, TLS
 * reload and the log level. A local node answers them too: it is a
 * cluster of one. */
#include <stdio.h>
#include <string.h>

#include "node_asm.h"

const char *tr_member_state_name(tr_member_state s) {
  switch (s) {
  case TR_MEMBER_ALIVE:
    return "alive";
  case TR_MEMBER_SUSPECT:
    return "suspect";
  case TR_MEMBER_DEAD:
    return "dead";
  case TR_MEMBER_LEFT:
    return "left";
  }
  return "unknown";
}

int tr_member_tag(const tr_member *m, const char *key, const char **value,
                  size_t *len) {
  if (!m || !key || !value || !len) return TR_EINVAL;
  size_t klen = strlen(key);
  const char *p = m->tags, *end = m->tags + strnlen(m->tags, sizeof(m->tags));
  while (p < end) {
    const char *comma = memchr(p, ',', (size_t)(end - p));
    const char *stop = comma ? comma : end;
    if ((size_t)(stop - p) > klen && memcmp(p, key, klen) == 0 &&
        p[klen] == '=') {
      *value = p + klen + 1;
      *len = (size_t)(stop - *value);
      return 0;
    }
    p = comma ? comma + 1 : end;
  }
  return TR_ENOTFOUND;
}

int tr_node_members(tr_node *n, void (*fn)(void *arg, const tr_member *),
                    void *arg) {
  if (!n) return TR_EINVAL;
  cluster *c = node_cluster(n);
  if (c) return cluster_members(c, fn, arg);
  tr_member self = {.state = TR_MEMBER_ALIVE};
  snprintf(self.name, sizeof(self.name), "%s", tr_node_name(n));
  if (fn) fn(arg, &self);
  return 1;
}

const char *tr_node_address(tr_node *n) {
  cluster *c = n ? node_cluster(n) : NULL;
  return c ? cluster_address(c) : NULL;
}

int tr_node_locate(tr_node *n, const char *id, char *node, size_t cap) {
  if (!n || !id || !node) return TR_EINVAL;
  size_t idlen = strnlen(id, TR_ID_MAX + 1);
  if (idlen == 0 || idlen > TR_ID_MAX) return TR_EINVAL;
  cluster *c = node_cluster(n);
  const char *owner = NULL;
  if (eng_actor_live(n, id))
    owner = tr_node_name(n);
  else if (c)
    owner = cluster_locate(c, id);
  if (!owner) return TR_ENOTFOUND;
  size_t len = strlen(owner);
  if (len + 1 > cap) return TR_EINVAL;
  memcpy(node, owner, len + 1);
  return 0;
}

int tr_node_cluster_stats_sized(tr_node *n, tr_cluster_stats *out,
                                size_t size) {
  if (!n || !out) return TR_EINVAL;
  cluster *c = node_cluster(n);
  if (!c) return TR_ESTATE;
  tr_cluster_stats s;
  int rc = cluster_stats(c, &s);
  if (rc == 0) eng_struct_out(out, size, &s, sizeof(s));
  return rc;
}

int(tr_node_cluster_stats)(tr_node *n, tr_cluster_stats *out) {
  return tr_node_cluster_stats_sized(n, out, sizeof(*out));
}

int tr_node_subscriptions(tr_node *n,
                          void (*fn)(void *arg, const tr_sub_info *),
                          void *arg) {
  if (!n) return TR_EINVAL;
  int count = eng_subscriptions_each(n, fn, arg);
  cluster *c = node_cluster(n);
  if (c) cluster_subscriptions_each(c, fn, arg, &count);
  return count;
}

int tr_node_peer_stats_sized(tr_node *n, const char *peer,
                             tr_peer_stats *out, size_t size) {
  if (!n || !peer || !out) return TR_EINVAL;
  cluster *c = node_cluster(n);
  if (!c) return TR_ESTATE;
  tr_peer_stats s;
  int rc = cluster_peer_stats(c, peer, &s);
  if (rc == 0) eng_struct_out(out, size, &s, sizeof(s));
  return rc;
}

int(tr_node_peer_stats)(tr_node *n, const char *peer, tr_peer_stats *out) {
  return tr_node_peer_stats_sized(n, peer, out, sizeof(*out));
}

int tr_node_peers(tr_node *n,
                  void (*fn)(void *arg, const char *peer,
                             const tr_peer_stats *),
                  void *arg) {
  if (!n) return TR_EINVAL;
  cluster *c = node_cluster(n);
  return c ? cluster_peers(c, fn, arg) : 0;
}

int tr_node_transport_stats_sized(tr_node *n, tr_transport_stats *out,
                                  size_t size) {
  if (!n || !out) return TR_EINVAL;
  tr_transport_stats s;
  memset(&s, 0, sizeof(s));
  cluster *c = node_cluster(n);
  if (c) cluster_transport_stats(c, &s);
  eng_struct_out(out, size, &s, sizeof(s));
  return 0;
}

int(tr_node_transport_stats)(tr_node *n, tr_transport_stats *out) {
  return tr_node_transport_stats_sized(n, out, sizeof(*out));
}

const char *tr_tls_fail_reason_name(int i) {
  return cluster_tls_fail_reason_name(i);
}

const char *tr_link_close_reason_name(int i) {
  return cluster_link_close_reason_name(i);
}

int tr_node_reload_tls(tr_node *n) {
  if (!n) return TR_EINVAL;
  cluster *c = node_cluster(n);
  return c ? cluster_reload_tls(c) : TR_ESTATE;
}

int tr_node_ready(tr_node *n) {
  if (!n) return 0;
  cluster *c = node_cluster(n);
  return !c || cluster_ready(c);
}

void tr_node_set_log_level(tr_node *n, tr_log_level level) {
  if (!n || level < TR_LOG_ERROR || level > TR_LOG_DEBUG) return;
  eng_set_log_level(n, level); /* the other layers follow (node.c) */
}
