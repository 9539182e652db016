/* node_asm.h — shared by the files of the node assembly. */
#ifndef TR_NODE_ASM_H
#define TR_NODE_ASM_H

#include "cluster.h"
#include "eng_node.h"
#include "policy_guard.h"

/* The node's policy (node_policy.c): the guard in force, the file it is
 * read from, how often it changed. The engine holds it as its guard's
 * user pointer. */
typedef struct node_policy {
  tr_node *node;
  policy_guard *guard;
  char *file; /* NULL: set with tr_node_set_policy only */
  uint64_t changes;
  /* The node's admin socket (node_admin.c), which the policy judges on a
   * local node; the one per-node record the assembly keeps. */
  op_admin *admin;
} node_policy;

int node_policy_new(tr_node *, const tr_node_config *cfg);
void node_policy_free(node_policy *);
node_policy *node_policy_of(tr_node *);

/* The admin socket of cfg (none when cfg->admin_socket is NULL), made
 * once the cluster is; logged when it cannot be. Freed by
 * node_admin_free after the engine's shutdown. */
int node_admin_new(tr_node *, const tr_node_config *cfg);
void node_admin_free(tr_node *);

/* The node's own view for tr_node_inspect (node_inspect.c); the cluster
 * answers other nodes with it (cluster_set_inspector). */
int node_inspect_local(tr_node *, const tr_inspect_query *,
                       const tr_inspect_fns *, void *arg, uint32_t *total);

/* The node's cluster, or NULL for a local node: the assembly attached it
 * to the engine as the remote ops' user pointer. */
static inline cluster *node_cluster(tr_node *n) {
  return (cluster *)eng_remote_user(n);
}

#endif /* TR_NODE_ASM_H */
