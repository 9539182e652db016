/* node_asm.h — shared by the files of the node assembly. */
#ifndef TR_NODE_ASM_H
#define TR_NODE_ASM_H

#include "cluster.h"
#include "eng_node.h"

/* The node's cluster, or NULL for a local node: the assembly attached it
 * to the engine as the remote ops' user pointer. */
static inline cluster *node_cluster(tr_node *n) {
  return (cluster *)eng_remote_user(n);
}

#endif /* TR_NODE_ASM_H */
