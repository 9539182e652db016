/* troupe_inspect.h — the whole cluster's view, for inspectors (the
 * daemon's web inspector, docs/inspector.md, is built on it). A node asks
 * every member for its own view over the cluster links (nodes answer each
 * other's inspect requests; they only read) and answers its own part
 * itself; what comes back is handed to callbacks as the public structs of
 * troupe.h. A local node answers for itself alone.
 *
 * Loop thread only, like the rest of tr_node_*. */
#ifndef TROUPE_INSPECT_H
#define TROUPE_INSPECT_H

#include <stdint.h>

#include "troupe.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What to gather (tr_inspect_query.what). */
#define TR_INSPECT_ACTORS 1u   /* its actors' figures (filtered, sorted) */
#define TR_INSPECT_LINKS 2u    /* its links to peers */
#define TR_INSPECT_COUNTERS 4u /* its counters, by the names of troupe stats */
#define TR_INSPECT_SUBS 8u     /* the subscriptions it holds */
#define TR_INSPECT_GROUPS 16u  /* its actors' group memberships */

/* The actor figure to sort by. */
#define TR_INSPECT_SORT_MAP(X)                                               \
  X(ID, "id")                                                                \
  X(TYPE, "type")                                                            \
  X(QUEUED, "queued")                                                        \
  X(CAPACITY, "capacity")                                                    \
  X(HWM, "hwm")                                                              \
  X(DELIVERED, "delivered")                                                  \
  X(SENT, "sent")                                                            \
  X(IN_PER_S, "in_per_s")                                                    \
  X(OUT_PER_S, "out_per_s")                                                  \
  X(HANDLER_MEAN, "handler_mean_ns")                                         \
  X(HANDLER_MAX, "handler_max_ns")                                           \
  X(AGE, "age_ms")                                                           \
  X(DEAD, "dead")

typedef enum {
#define TR_INSPECT_SORT_ENUM_(name, str) TR_INSPECT_SORT_##name,
  TR_INSPECT_SORT_MAP(TR_INSPECT_SORT_ENUM_)
#undef TR_INSPECT_SORT_ENUM_
  TR_INSPECT_SORT_COUNT
} tr_inspect_sort;

/* "id", "queued", ... (static; NULL past the last). Any thread. */
TR_API const char *tr_inspect_sort_name(tr_inspect_sort);

#define TR_INSPECT_LIMIT_MAX 10000u

typedef struct tr_inspect_query {
  unsigned what;       /* TR_INSPECT_* bits */
  const char *node;    /* only this member; NULL: every member alive or
                          suspect (itself included) */
  const char *actor;   /* actors: only this id (NULL: all) */
  int children;        /* with actor: its children too */
  const char *filter;  /* actors: only those whose id or type holds it */
  tr_inspect_sort sort;
  int desc;            /* non-zero: largest first (ties by id) */
  uint32_t limit;      /* actors per node: the first `limit` by sort
                          [100], at most TR_INSPECT_LIMIT_MAX */
  uint32_t timeout_ms; /* for every node's answer [1000] */
} tr_inspect_query;

/* Each callback may be NULL. node is the member the item is from. Strings
 * and structs are valid during the call. Items of one node come before its
 * node_done, nodes in the order they answer. */
typedef struct tr_inspect_fns {
  void (*actor)(void *arg, const char *node, const tr_actor_info *);
  void (*link)(void *arg, const char *node, const char *peer,
               const tr_peer_stats *);
  void (*counter)(void *arg, const char *node, const char *name,
                  uint64_t value);
  void (*sub)(void *arg, const char *node, const tr_sub_info *);
  void (*group)(void *arg, const char *node, const tr_group_member *);
  /* The node's answer is complete (status 0; total: its actors matching
   * the filter, of which at most limit were given) or will not come:
   * TR_ETIMEDOUT, TR_EUNREACHABLE (no link), TR_ENOMEM, TR_EFULL (its
   * answer did not fit its link, or ran past the limit), or the node's own
   * error (TR_EPERM from a node too old to know inspect requests). */
  void (*node_done)(void *arg, const char *node, int status,
                    uint32_t total);
  /* Every asked node is done; the last call for this request. */
  void (*done)(void *arg);
} tr_inspect_fns;

/* How the query's sort orders two actors: <0, 0 (the same id) or >0.
 * Ties are ordered by id. To merge the nodes' answers. Any thread. */
TR_API int tr_inspect_compare(const tr_actor_info *a, const tr_actor_info *b,
                              tr_inspect_sort by, int desc);

/* Asks the members the query names. The node's own part, and done when
 * no other node is asked, are given during the call; the rest from the
 * loop. *handle (may be NULL) names the request for tr_node_inspect_cancel
 * until done runs. TR_EINVAL (bad query: no what, limit too large, a node
 * or actor that is not a valid id, a sort past the last), TR_ENOTFOUND
 * (query.node is not a member), TR_ENOMEM. */
TR_API int tr_node_inspect(tr_node *, const tr_inspect_query *,
                           const tr_inspect_fns *, void *arg,
                           uint64_t *handle);
/* No more callbacks for that request (not even done). A handle already
 * done or unknown is a no-op. */
TR_API void tr_node_inspect_cancel(tr_node *, uint64_t handle);

/* ---- inspector sessions ---------------------------------------------------
 * An operator or viewer client (a certificate from the cluster CA) gets a
 * session token from a cluster node (troupe_ops.h tr_op_session; `troupe
 * ui-login`): it names the client and its role, expires after
 * TR_SESSION_TTL_MS, and only the process that made it accepts it (its
 * key is made at start and never leaves it). An inspector takes the token
 * from its user and acts with it; a local node makes and takes none. */
#define TR_SESSION_TTL_MS (8u * 3600u * 1000u)
#define TR_SESSION_TOKEN_MAX 600 /* bytes of a token, NUL not counted */

typedef struct tr_session {
  char name[TR_ID_MAX + 1]; /* the client, as its certificate names it */
  int operator;             /* 1: an operator; 0: a viewer (reads only) */
  uint64_t expires_ms;      /* unix time */
} tr_session;

/* 0 with *out filled when token is one of this node's, unexpired;
 * TR_EPERM otherwise; TR_ESTATE for a local node; TR_EINVAL. */
TR_API int tr_node_session_check(tr_node *, const char *token,
                                 tr_session *out);
/* Stops actor id / sends data to actor `to`, wherever it runs, as the
 * session's operator: TR_EPERM unless the token is an operator's session
 * of this node and the node's policy lets that operator (role operator)
 * do it; else what tr_node_stop_actor / tr_node_send return. Each is
 * logged (inspector_action, with the operator's name). */
TR_API int tr_node_session_stop(tr_node *, const char *token, const char *id);
TR_API int tr_node_session_send(tr_node *, const char *token, const char *to,
                                const void *data, size_t len);
/* An ask's outcome: status 0 with the reply (from: the replying actor on
 * node), or the ask's error (TR_ETIMEDOUT, TR_ENOTFOUND, ...; TR_ECLOSED:
 * the node stopped first) with from, node and data NULL. */
typedef void (*tr_session_reply_fn)(void *arg, int status, const char *from,
                                    const char *node, const void *data,
                                    size_t len);
/* Asks actor `to` as the session's operator (judged as above, POLICY ask);
 * fn is called once, from the loop, with the reply or the failure (timeout_ms
 * 0: the node's default), unless cancelled first. 0 with *handle set (may
 * be NULL), or the refusal (fn is not called). */
TR_API int tr_node_session_ask(tr_node *, const char *token, const char *to,
                               const void *data, size_t len,
                               uint32_t timeout_ms, tr_session_reply_fn fn,
                               void *arg, uint64_t *handle);
/* fn will not be called for that ask (it still runs to its end). */
TR_API void tr_node_session_ask_cancel(tr_node *, uint64_t handle);

#ifdef __cplusplus
}
#endif
#endif /* TROUPE_INSPECT_H */
