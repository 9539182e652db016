/* vnet_msgs.h — the cluster state machines' messages on the virtual network
 * (vnet.h): copies that outlive the send callback, and their trace. Used
 * by test_swim.c, test_registry.c and tests/sim. */
#ifndef TR_VNET_MSGS_H
#define TR_VNET_MSGS_H

#include "registry.h"
#include "swim.h"
#include "vnet.h"

/* A swim or a registry message in flight: the network's part first, then
 * a copy that owns its arrays (the state machines' own messages are valid
 * during the send call only). */
typedef struct vnet_cluster_msg {
  vnet_msg hdr;
  bool is_reg; /* reg, else swim */
  swim_msg swim;
  reg_msg reg;
  /* The processes it went between, for a host that tells a restarted node
   * from the one before (the simulator); 0 unless the host sets them. */
  uint64_t from_epoch, to_epoch;
} vnet_cluster_msg;

/* A copy of m (its updates, or deltas, digests and ids too); NULL if out of
 * memory. Freed by vnet_cluster_msg_free. */
vnet_cluster_msg *vnet_cluster_msg_swim(const swim_msg *m);
vnet_cluster_msg *vnet_cluster_msg_reg(const reg_msg *m);
/* Frees a vnet_cluster_msg given by its header: a vnet_ops.free_msg. */
void vnet_cluster_msg_free(vnet_msg *h);

/* Feeds the trace a message's type, seq, target and every update. */
void vnet_trace_swim(vnet *, const swim_msg *);
/* Feeds the trace a message's type and every delta, digest and id. */
void vnet_trace_reg(vnet *, const reg_msg *);

#endif /* TR_VNET_MSGS_H */
