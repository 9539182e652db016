/* op_service.h — what a node answers operators whoever carries their
 * requests (op_service.c): the verbs that need no cluster (send, ask,
 * sub, pub, monitor, groups, stats, leave), the node-internal actors that
 * run the streaming ones, and the bounds on them. A cluster node's
 * service answers the clients of its links and of its admin socket
 * (host_operator.c); a local node's answers its admin socket alone
 * (op_admin.c). Replies go out through the carrier's send callback. */
#ifndef TR_OP_SERVICE_H
#define TR_OP_SERVICE_H

#include <stdbool.h>
#include <stdint.h>

#include "policy.h"
#include "troupe.h"
#include "troupe_inspect.h"
#include "wire.h"

typedef struct op_service op_service;

/* Counters (tr_cluster_stats has them for a cluster node). */
typedef struct op_service_stats {
  uint64_t subs_refused;   /* asks and subs over max_subs for a client */
  uint32_t pubs;           /* operator publishers alive */
  uint64_t pubs_refused;   /* new ones over max_pubs */
  uint64_t lines_dropped;  /* monitor lines with no room */
} op_service_stats;

typedef struct op_service_config {
  tr_node *node;
  uint32_t max_subs; /* asks and subscriptions per client [1024] */
  uint32_t max_pubs; /* operator publishers on the node [64] */
  /* Sends r (id, status and more set) to client: 0, or why not (then
   * nothing went). */
  int (*send)(void *user, const char *client, troupe_OpReply *r);
  /* The node's policy on what `who` (an operator or viewer) asks; 0:
   * allowed. NULL: everything is. */
  int (*judge)(void *user, const char *who, policy_role, policy_action,
               const char *object, const char *topic);
  /* The node's own view (node_inspect_local), for stats. */
  int (*inspect)(tr_node *, const tr_inspect_query *, const tr_inspect_fns *,
                 void *arg, uint32_t *total);
  void *user;
} op_service_config;

int op_service_new(op_service **out, const op_service_config *cfg);
/* After the node's actors stopped (the engine's shutdown): frees the
 * service once its timer has closed on the loop. NULL is a no-op. */
void op_service_free(op_service *);
void op_service_stats_get(const op_service *, op_service_stats *out);
/* The node's own view for stats, once the assembly has given it. */
void op_service_set_inspect(op_service *,
                            int (*inspect)(tr_node *, const tr_inspect_query *,
                                           const tr_inspect_fns *, void *arg,
                                           uint32_t *total));
/* Sends what monitors queued (the service's own zero-delay timer). */
void op_service_flush(op_service *);

/* A request, decoded: data points into the frame it came in. false: it is
 * malformed. */
bool op_request_decode(const uint8_t *body, size_t len, troupe_OpRequest *req,
                       wire_slice *data);
/* For log lines: the verb's name ("members"), or "unknown". */
const char *op_verb_name(uint32_t verb);
/* Whether the verb changes something (or reads the node's log): operators
 * only. */
bool op_verb_writes(uint32_t verb);

/* Judges and answers req from client (who: the name its certificate or
 * socket gives, without the session suffix) if it is one of the service's
 * verbs: true when it was (answered now or later), false when the caller
 * must. A send or ask to a group is turned into one to a member first. */
bool op_service_handle(op_service *, const char *client, const char *who,
                       bool viewer, troupe_OpRequest *req, wire_slice data);
/* A reply with a status and optionally a body, the actor it is from and
 * its node; one that cannot go is logged (op_reply_lost). */
void op_service_reply(op_service *, const char *client, uint64_t id,
                      int status, const void *body, size_t len, bool more,
                      const char *from, const char *node);
/* The next actor row of r, a list sent in batches: a full batch goes to
 * client first (more replies follow). */
troupe_OpActor *op_service_actor_row(op_service *, const char *client,
                                     troupe_OpReply *r, uint64_t id);
/* A reply naming the answering node, for the structured answers
 * (malloc'd; the caller frees it). NULL: out of memory. */
troupe_OpReply *op_service_new_reply(op_service *);
/* Sends r; one that cannot go is logged. 0 or why not. */
int op_service_send(op_service *, const char *client, troupe_OpReply *r,
                    uint64_t id, int status, bool more);
/* The client went away: its asks, subscriptions and monitors end. */
void op_service_client_gone(op_service *, const char *client);

#define OP_BATCH(field) (sizeof(((troupe_OpReply *)0)->field) / \
                         sizeof(((troupe_OpReply *)0)->field[0]))

#endif /* TR_OP_SERVICE_H */
