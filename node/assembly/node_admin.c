/* node_admin.c — the node's admin socket (tr_node_config.admin_socket),
 * made by the assembly with the node: through the cluster when the node
 * has one, else answered by the node alone under its policy
 * (node/cluster/op_admin.c does the socket and the requests). */
#include <stdio.h>
#include <uv.h>

#include "node_asm.h"

static int admin_judge(void *user, const char *who, policy_role role,
                       policy_action a, const char *object,
                       const char *topic) {
  node_policy *np = user;
  if (!policy_guard_policy(np->guard)) return 0;
  policy_subject s = {who, role};
  return policy_guard_check(np->guard, &s, a, object, topic,
                            uv_now(tr_node_loop(np->node)));
}

int node_admin_new(tr_node *n, const tr_node_config *cfg) {
  node_policy *np = node_policy_of(n);
  if (!cfg->admin_socket || !np) return 0;
  op_admin_config ac = {.node = n,
                        .cluster = node_cluster(n),
                        .path = cfg->admin_socket,
                        .max_subs = cfg->max_op_subs,
                        .inspect = node_inspect_local,
                        .judge = admin_judge,
                        .judge_user = np};
  char err[256] = "";
  int rc = op_admin_new(&np->admin, &ac, err, sizeof(err));
  if (rc != 0)
    eng_log(n, TR_LOG_ERROR, "admin_socket_failed", "reason=%s error=%s",
            err[0] ? err : tr_strerror(rc), tr_errname(rc));
  return rc;
}

void node_admin_free(tr_node *n) {
  node_policy *np = node_policy_of(n);
  if (!np) return;
  op_admin_free(np->admin);
  np->admin = NULL;
}

int tr_node_admin_stats(tr_node *n, tr_admin_stats *out) {
  node_policy *np = n ? node_policy_of(n) : NULL;
  if (!out) return TR_EINVAL;
  if (!np || !np->admin) return TR_ESTATE;
  op_admin_stats(np->admin, &out->conns, &out->refused);
  return 0;
}
