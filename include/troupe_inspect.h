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
/* The monitors it holds (tr_monitor, local and across nodes): with
 * query.actor those where that actor watches or is watched, else all. */
#define TR_INSPECT_MONITORS 32u
/* Its most recent dead letters (at most TR_DEAD_LETTERS_KEPT, newest
 * first): with query.actor those it sent or that were addressed to it. */
#define TR_INSPECT_DEAD_LETTERS 64u

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
  X(DEAD, "dead")                                                            \
  X(RESTARTS, "restarts")

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
                          [100], at most TR_INSPECT_LIMIT_MAX; as many
                          monitors and dead letters at most */
  uint32_t timeout_ms; /* for every node's answer [1000] */
} tr_inspect_query;

/* One monitor as a node holds it: watcher gets TR_MSG_DOWN when target
 * ends. A monitor across nodes is held by both nodes (each answers with
 * it); the nodes are the members the two actors run on. */
typedef struct tr_monitor_info {
  const char *watcher, *watcher_node;
  const char *target, *target_node;
} tr_monitor_info;

/* How many recent dead letters each node keeps (a ring, overwritten
 * oldest first). */
#define TR_DEAD_LETTERS_KEPT 64u

/* A recent dead letter: counted under reason in tr_node_stats.dead. Only
 * its size is kept, never its payload. Dead letters of
 * tr_node_send_threadsafe's refusals (counted on the caller's thread) are
 * not kept. */
typedef struct tr_dead_letter {
  uint64_t at_ms;        /* unix time */
  tr_dead_reason reason;
  const char *from;      /* the sending actor; NULL: from outside actors */
  const char *to;        /* the target id; NULL: none (a publish) */
  uint32_t len;          /* payload bytes */
} tr_dead_letter;

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
  /* Added later: read only for a query whose `what` asks for them, so a
   * caller built before they were need not have them. */
  void (*monitor)(void *arg, const char *node, const tr_monitor_info *);
  void (*dead_letter)(void *arg, const char *node, const tr_dead_letter *);
  /* Of the items of kind `what` (TR_INSPECT_MONITORS or
   * TR_INSPECT_DEAD_LETTERS) the node holds, `more` matched past the
   * limit and were not given. Called before its node_done, if any. */
  void (*left_off)(void *arg, const char *node, unsigned what,
                   uint32_t more);
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

/* A session for a client the caller has authenticated itself (the
 * daemon's inspector over TLS: the client certificate's name and role, see
 * tr_tls_conn), so its actions go through the calls above and are judged
 * and logged as any session's. name: 1 to TR_ID_MAX bytes, no '#';
 * operator: 1 an operator, 0 a viewer. Writes the token (NUL-terminated)
 * to token (cap bytes; TR_SESSION_TOKEN_MAX + 1 always fit). 0; TR_EINVAL
 * (bad name, cap too small); TR_ESTATE for a local node; TR_ETLS. Not
 * logged (the actions done with it are). */
TR_API int tr_node_session_issue(tr_node *, const char *name, int operator,
                                 char *token, size_t cap);

/* ---- serving inspectors over TLS ----------------------------------------
 * A server-side TLS 1.2 connection on a cluster node's own certificate and
 * key, asking for a client certificate from the cluster CA (the node's
 * revocation list applied), for a program that serves its own protocol to
 * the cluster's operators and viewers: the daemon's inspector beyond
 * loopback. Sans I/O: the caller moves bytes between it and its socket.
 * Each connection takes the node's TLS configuration of the moment it is
 * made (tr_node_reload_tls included); a peer a later reload revokes is
 * refused by the next read or write (TR_ETLS, reason "revoked").
 *
 * Loop thread only. Every connection must be freed before tr_node_free. */
typedef struct tr_tls_conn tr_tls_conn;

/* What the peer's certificate is for (its OU and extended key usage, as
 * `troupe cert` writes them); NONE before the handshake is done, or a
 * certificate of no known role. */
typedef enum {
  TR_TLS_PEER_NONE = 0,
  TR_TLS_PEER_NODE,
  TR_TLS_PEER_OPERATOR,
  TR_TLS_PEER_VIEWER
} tr_tls_peer_role;

/* A new server connection: 0 with *out (free with tr_tls_conn_free);
 * TR_ESTATE for a local node (it has no certificates), TR_ENOMEM, TR_ETLS,
 * TR_EINVAL. */
TR_API int tr_node_tls_accept(tr_node *, tr_tls_conn **out);
TR_API void tr_tls_conn_free(tr_tls_conn *); /* NULL ok */

/* Ciphertext from the socket (copied). 0, TR_ENOMEM, TR_ETLS (failed
 * already). Bytes that are not TLS fail the connection, reported by the
 * next handshake or read. */
TR_API int tr_tls_conn_feed(tr_tls_conn *, const void *data, size_t len);
/* Advances the handshake: 0 done (also later), 1 needs more input (send
 * what tr_tls_conn_take_out gives first), TR_ETLS / TR_ENOMEM failed
 * (tr_tls_conn_fail_reason says why; take_out may hold an alert to send
 * before closing). A peer without a certificate of the cluster CA, or
 * with an expired or revoked one, fails here. */
TR_API int tr_tls_conn_handshake(tr_tls_conn *);
/* Plaintext into buf (at most cap): bytes (> 0), 0 when no complete
 * record is buffered, TR_ECLOSED after the peer's close_notify, TR_ETLS;
 * TR_EINVAL before the handshake is done. */
TR_API int tr_tls_conn_read(tr_tls_conn *, void *buf, size_t cap);
/* Encrypts len bytes into the outgoing ciphertext. 0, TR_ETLS, TR_ENOMEM,
 * TR_ECLOSED (after close_notify), TR_EINVAL before the handshake. */
TR_API int tr_tls_conn_write(tr_tls_conn *, const void *data, size_t len);
/* Queues a close_notify alert; later writes return TR_ECLOSED. 0, or
 * TR_EINVAL before the handshake (then just close). */
TR_API int tr_tls_conn_close_notify(tr_tls_conn *);
/* Hands over the outgoing ciphertext: *buf is malloc'd, the caller's to
 * free(); 0 with *buf NULL and *len 0 when there is none. */
TR_API int tr_tls_conn_take_out(tr_tls_conn *, void **buf, size_t *len);

/* After the handshake: the peer certificate's role, and its name (its
 * CN: at most 64 bytes, anything unprintable shown as '?'; "" before the
 * handshake). The name is valid while the connection lives. */
TR_API tr_tls_peer_role tr_tls_conn_peer_role(tr_tls_conn *);
TR_API const char *tr_tls_conn_peer_name(tr_tls_conn *);
/* Why it failed, for counters and one log line: "no_cert", "untrusted",
 * "expired", "revoked", "not_tls", "protocol", ... ("none": it has not);
 * and a readable detail ("" if none). Static / valid while it lives. */
TR_API const char *tr_tls_conn_fail_reason(tr_tls_conn *);
TR_API const char *tr_tls_conn_fail_detail(tr_tls_conn *);

#ifdef __cplusplus
}
#endif
#endif /* TROUPE_INSPECT_H */
