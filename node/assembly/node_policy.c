/* node_policy.c — the node's policy (node/policy): made with the node,
 * given to the engine as its guard (this node's own actors) and to the
 * cluster (other nodes and operators), changed from a text or re-read from
 * the configured file, and its account of denials. */
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "node_asm.h"
#include "policy_guard.h"

/* The engine's guard: what this node's actors ask, as this node. */
static int node_guard(void *user, eng_act act, const char *object,
                      const char *topic) {
  node_policy *np = user;
  static const policy_action map[] = {
      [ENG_ACT_REGISTER] = POLICY_REGISTER, [ENG_ACT_SEND] = POLICY_SEND,
      [ENG_ACT_ASK] = POLICY_ASK,           [ENG_ACT_STOP] = POLICY_STOP,
      [ENG_ACT_SUBSCRIBE] = POLICY_SUBSCRIBE, [ENG_ACT_JOIN] = POLICY_JOIN};
  policy_subject self = {tr_node_name(np->node), POLICY_ROLE_NODE};
  return policy_guard_check(np->guard, &self, map[act], object, topic,
                            uv_now(tr_node_loop(np->node)));
}

/* Puts p in force everywhere it is asked. */
static void node_policy_put(node_policy *np, policy *p) {
  policy_guard_set(np->guard, p);
  np->changes++;
  eng_set_guard(np->node, p ? node_guard : NULL, np);
  cluster *c = node_cluster(np->node);
  if (c) cluster_policy_changed(c);
}

int node_policy_new(tr_node *n, const tr_node_config *cfg) {
  node_policy *np = calloc(1, sizeof(*np));
  if (!np) return TR_ENOMEM;
  np->node = n;
  if ((cfg->policy_file && !(np->file = strdup(cfg->policy_file))) ||
      policy_guard_new(&np->guard, cfg->log, cfg->log_user,
                       cfg->log_level) != 0) {
    free(np->file);
    free(np);
    return TR_ENOMEM;
  }
  eng_set_guard(n, NULL, np);
  if (np->file) {
    policy *p = NULL;
    char err[512];
    int rc = policy_load(&p, np->file, err, sizeof(err));
    if (rc != 0) {
      eng_log(n, TR_LOG_ERROR, "policy_failed", "reason=%s", err);
      node_policy_free(np);
      return rc == TR_ENOMEM ? rc : TR_EINVAL;
    }
    node_policy_put(np, p);
    eng_log(n, TR_LOG_INFO, "policy_loaded", "file=%s rules=%zu default=%s",
            np->file, policy_count(p),
            policy_default_allows(p) ? "allow" : "deny");
  }
  return 0;
}

void node_policy_free(node_policy *np) {
  if (!np) return;
  policy_guard_free(np->guard);
  free(np->file);
  free(np);
}

node_policy *node_policy_of(tr_node *n) {
  return n ? (node_policy *)eng_guard_user(n) : NULL;
}

int tr_node_set_policy(tr_node *n, const char *text, char *err,
                       size_t errlen) {
  node_policy *np = node_policy_of(n);
  if (!np) return TR_EINVAL;
  if (err && errlen) err[0] = '\0';
  policy *p = NULL;
  if (text) {
    int rc = policy_parse(&p, text, err, errlen);
    if (rc != 0) return rc;
  }
  node_policy_put(np, p);
  return 0;
}

int tr_node_reload_policy(tr_node *n) {
  node_policy *np = node_policy_of(n);
  if (!np) return TR_EINVAL;
  if (!np->file) return TR_ESTATE;
  policy *p = NULL;
  char err[512];
  int rc = policy_load(&p, np->file, err, sizeof(err));
  if (rc != 0) {
    eng_log(n, TR_LOG_ERROR, "policy_reload_failed",
            "reason=%s kept=old", err);
    return rc;
  }
  size_t rules = policy_count(p);
  bool allow = policy_default_allows(p);
  node_policy_put(np, p);
  eng_log(n, TR_LOG_INFO, "policy_reloaded", "file=%s rules=%zu default=%s",
          np->file, rules, allow ? "allow" : "deny");
  return 0;
}

int tr_node_policy_stats_sized(tr_node *n, tr_policy_stats *out,
                               size_t out_size) {
  node_policy *np = node_policy_of(n);
  if (!np || !out) return TR_EINVAL;
  const policy *p = policy_guard_policy(np->guard);
  tr_policy_stats s = {.rules = (uint32_t)policy_count(p),
                       .loaded = p != NULL,
                       .default_allow = policy_default_allows(p),
                       .changes = np->changes,
                       .denied = policy_guard_denied(np->guard)};
  eng_struct_out(out, out_size, &s, sizeof(s));
  return 0;
}

int(tr_node_policy_stats)(tr_node *n, tr_policy_stats *out) {
  return tr_node_policy_stats_sized(n, out, sizeof(*out));
}

typedef struct denial_walk {
  void (*fn)(void *arg, const tr_policy_denial *);
  void *arg;
  int count;
} denial_walk;

static void denial_one(void *arg, const char *who, policy_role role,
                       policy_action a, uint32_t line, uint64_t count) {
  denial_walk *w = arg;
  static const char *const roles[] = {"node", "operator", "viewer"};
  tr_policy_denial d = {.who = who,
                        .role = roles[role],
                        .action = policy_action_name(a),
                        .rule = line,
                        .count = count};
  w->count++;
  if (w->fn) w->fn(w->arg, &d);
}

int tr_node_policy_denials(tr_node *n,
                           void (*fn)(void *arg, const tr_policy_denial *),
                           void *arg) {
  node_policy *np = node_policy_of(n);
  if (!np) return TR_EINVAL;
  denial_walk w = {fn, arg, 0};
  policy_guard_each(np->guard, denial_one, &w);
  return w.count;
}
