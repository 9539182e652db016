/* node.c — the node assembly: tr_node_new and tr_node_free. A node is an
 * engine (node/engine) and, when it has a listen address, a cluster
 * (node/cluster, which brings its TLS configuration and links); this file
 * creates them, wires the engine to the cluster through the engine's
 * remote ops, and takes them apart in order. The engine never names the
 * cluster; the cluster reaches the engine only through eng_remote.h. */
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "cluster.h"
#include "eng_node.h"
#include "node_asm.h"

/* The cluster part of a config: a cluster node listens and has its
 * certificates; seeds, tags or certificates without a listen address are a
 * mistake, not a local node. (The engine checks its own part; the cluster
 * checks the addresses and files when it starts.) */
static int node_check_cluster_config(const tr_node_config *cfg) {
  if ((cfg->nseeds && !cfg->seeds) || (cfg->ntags && !cfg->tags))
    return TR_EINVAL;
  if (!cfg->listen && (cfg->nseeds || cfg->advertise || cfg->ca_file ||
                       cfg->cert_file || cfg->key_file || cfg->ntags))
    return TR_EINVAL;
  if (cfg->listen && (!cfg->ca_file || !cfg->cert_file || !cfg->key_file))
    return TR_EINVAL;
  return 0;
}

/* The level the layers build lines at follows the most verbose listener
 * (the user's callback or an operator's monitor). */
static void node_log_level_follow(void *user, tr_log_level level) {
  tr_node *n = user;
  node_policy *np = node_policy_of(n);
  if (np) policy_guard_set_log_level(np->guard, level);
  cluster *c = node_cluster(n);
  if (c) cluster_set_log_level(c, level);
}

int tr_node_new_sized(tr_node **out, const tr_node_config *user_cfg,
                      size_t cfg_size) {
  if (!out) return TR_EINVAL;
  *out = NULL;
  /* The caller's config as this library's struct (troupe.h, "Growth"). */
  tr_node_config copy, *cfg = &copy;
  if (!user_cfg)
    memset(&copy, 0, sizeof(copy));
  else if (eng_struct_in(&copy, sizeof(copy), user_cfg, cfg_size) != 0)
    return TR_EINVAL;
  int rc = node_check_cluster_config(cfg);
  if (rc != 0) return rc;
  tr_node *n = NULL;
  rc = eng_node_new(&n, cfg);
  if (rc != 0) return rc;
  /* The engine holds the user's log callback; the other layers log
   * through the engine's sink, so taps see every line. */
  tr_node_config layers = *cfg;
  layers.log = eng_log_line;
  layers.log_user = n;
  layers.log_level = eng_log_level(n);
  cfg = &layers;
  if ((rc = node_policy_new(n, cfg)) != 0) {
    eng_node_free(n);
    return rc;
  }
  if (cfg->listen) {
    cluster *c = NULL;
    const eng_remote_ops *ops = NULL;
    rc = cluster_new(&c, n, cfg, &ops);
    if (rc != 0) {
      node_policy *np = node_policy_of(n);
      eng_node_free(n); /* runs the loop: what the cluster closed goes */
      node_policy_free(np);
      return rc;
    }
    eng_remote_attach(n, ops, c);
    cluster_set_guard(c, node_policy_of(n)->guard);
    cluster_set_inspector(c, node_inspect_local);
  }
  eng_set_log_hook(n, node_log_level_follow, n);
  if ((rc = node_admin_new(n, cfg)) != 0) {
    tr_node_free(n);
    return rc;
  }
  *out = n;
  return 0;
}

int(tr_node_new)(tr_node **out, const tr_node_config *cfg) {
  return tr_node_new_sized(out, cfg, sizeof(*cfg));
}

void tr_node_free(tr_node *n) {
  if (!n) return;
  cluster *c = node_cluster(n);
  node_policy *np = node_policy_of(n);
  eng_node_shutdown(n); /* every actor stops; the cluster hears of each */
  node_admin_free(n);   /* before the cluster its clients are attached to */
  if (c) {
    /* Leave (a no-op if tr_node_stop did), and let the loop write the
     * goodbyes and the DOWNs for remote watchers before the links close. */
    cluster_leave(c);
    for (int i = 0; i < 3; i++) uv_run(tr_node_loop(n), UV_RUN_NOWAIT);
    eng_remote_detach(n);
    cluster_free(c);
  }
  eng_node_free(n); /* runs the loop until every handle has closed */
  node_policy_free(np);
}
