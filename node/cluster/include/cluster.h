/* cluster.h — the cluster as the node assembly (node/assembly) sees it: a
 * node's membership, registry, links and routing, created when a node has a
 * listen address. It owns the node's TLS configuration and link manager
 * (nothing else uses them), reaches the engine only through eng_remote.h,
 * and is reached by the engine only through the ops table cluster_new hands
 * back. Loop thread only. */
#ifndef TR_CLUSTER_H
#define TR_CLUSTER_H

#include <stdbool.h>

#include "eng_remote.h"
#include "policy.h"
#include "policy_guard.h"
#include "troupe.h"
#include "troupe_inspect.h"

typedef struct cluster cluster;

/* Loads the certificates, listens, starts membership and the registry and
 * resolves the seeds. The engine of node n must reach the cluster through
 * *ops with *out as user (eng_remote_attach) from here on. TR_ETLS /
 * TR_EINVAL (certificates), TR_ESYS (listen), TR_ENOMEM; the reason is
 * logged through cfg's log callback. */
int cluster_new(cluster **out, tr_node *n, const tr_node_config *cfg,
                const eng_remote_ops **ops);
/* Leaves the cluster (graceful; a no-op the second time). The loop must
 * run a few iterations afterwards to write the goodbyes. */
void cluster_leave(cluster *);
/* Closes everything; the memory goes once the loop has run the close
 * callbacks. The engine must be detached first. NULL ok. */
void cluster_free(cluster *);

/* What the public tr_node_* calls of a cluster node read. */
int cluster_members(cluster *, void (*fn)(void *arg, const tr_member *),
                    void *arg);
/* The advertised "host:port" (owned by the cluster). */
const char *cluster_address(cluster *);
/* The owner of id in the registry, or NULL (valid until the loop runs). */
const char *cluster_locate(cluster *, const char *id);
int cluster_stats(cluster *, tr_cluster_stats *out);
/* Other nodes' interest in local publishers (subscriber NULL); adds to
 * *count. */
void cluster_subscriptions_each(cluster *,
                                void (*fn)(void *arg, const tr_sub_info *),
                                void *arg, int *count);
int cluster_peer_stats(cluster *, const char *peer, tr_peer_stats *out);
int cluster_peers(cluster *,
                  void (*fn)(void *arg, const char *peer,
                             const tr_peer_stats *),
                  void *arg);
void cluster_transport_stats(cluster *, tr_transport_stats *out);
const char *cluster_tls_fail_reason_name(int i);
const char *cluster_link_close_reason_name(int i);
int cluster_reload_tls(cluster *);
bool cluster_ready(cluster *);
void cluster_set_log_level(cluster *, tr_log_level);
/* The node's policy (borrowed, outlives the cluster; NULL: none): checked
 * for what other nodes and operator clients ask. A change of policy is
 * announced with cluster_policy_changed: the registry looks again at what
 * it holds and asks every owner for its whole set. */
void cluster_set_guard(cluster *, policy_guard *);
void cluster_policy_changed(cluster *);

/* The node's own view, as the assembly gives it (node_inspect.c): items
 * for q to fns, named by this node; *total: its actors matching q's
 * filter. The cluster answers other nodes' and operators' inspect requests
 * (and `troupe stats`) with it. */
typedef int (*cluster_inspect_local_fn)(tr_node *, const tr_inspect_query *q,
                                        const tr_inspect_fns *fns, void *arg,
                                        uint32_t *total);
void cluster_set_inspector(cluster *, cluster_inspect_local_fn);
/* tr_node_inspect for a cluster node (the query is checked already). */
int cluster_inspect(cluster *, const tr_inspect_query *,
                    const tr_inspect_fns *, void *arg, uint64_t *handle);
void cluster_inspect_cancel(cluster *, uint64_t handle);
/* Calls fn (may be NULL) for each monitor across nodes this node holds
 * (host_monitor.c), as watcher's or as target's node; with actor, those
 * where it watches or is watched. Returns how many matched. */
int cluster_monitors_each(cluster *, const char *actor,
                          void (*fn)(void *arg, const tr_monitor_info *),
                          void *arg);
/* Inspector sessions (host_session.c; troupe_inspect.h). */
int cluster_session_check(cluster *, const char *token, tr_session *out);
int cluster_session_stop(cluster *, const char *token, const char *id);
int cluster_session_send(cluster *, const char *token, const char *to,
                         const void *data, size_t len);
int cluster_session_ask(cluster *, const char *token, const char *to,
                        const void *data, size_t len, uint32_t timeout_ms,
                        tr_session_reply_fn fn, void *arg, uint64_t *handle);
void cluster_session_ask_cancel(cluster *, uint64_t handle);
int cluster_session_issue(cluster *, const char *name, bool operator,
                          char *token, size_t cap);
/* A TLS server connection on the node's certificates (host_tls_serve.c;
 * tr_tls_conn in troupe_inspect.h). */
int cluster_tls_accept(cluster *, tr_tls_conn **out);

/* The node's admin socket (op_admin.c): every operator verb from a program
 * of the same user on this host, without certificates, a local node's
 * included. Answered through the cluster when the node has one, else by
 * the node alone (judged by `judge`, its policy, as operator "admin"). */
typedef struct op_admin op_admin;
typedef int (*op_admin_judge_fn)(void *user, const char *who, policy_role,
                                 policy_action, const char *object,
                                 const char *topic);
typedef struct op_admin_config {
  tr_node *node;
  cluster *cluster;             /* NULL: a local node */
  const char *path;             /* where the socket goes (owner only) */
  uint32_t max_subs;            /* a local node's max_op_subs [1024] */
  cluster_inspect_local_fn inspect; /* a local node's stats */
  op_admin_judge_fn judge;      /* a local node's policy; NULL: none */
  void *judge_user;
} op_admin_config;
/* 0; TR_EINVAL (a bad path), TR_EEXIST (a live node answers there, or the
 * path is not a socket), TR_ESYS, TR_ENOMEM, with err saying why. */
int op_admin_new(op_admin **out, const op_admin_config *, char *err,
                 size_t errlen);
/* Closes the socket and its connections (what they run ends) and removes
 * the file; freed once the loop has closed them. After the engine's
 * shutdown, before the cluster goes. NULL is a no-op. */
void op_admin_free(op_admin *);
void op_admin_stats(const op_admin *, uint32_t *conns, uint64_t *refused);

#endif /* TR_CLUSTER_H */
