/* troupe.h — the whole public API of troupe, a distributed actor runtime.
 * A node runs single-threaded actors on one libuv loop; with no listen
 * address it is the local single-node mode. See docs/engine.md.
 *
 * Conventions, said once here and kept by every call:
 * - Every call returns 0 (or a count) on success and a negative TR_E* code
 *   on failure; a call that fails has no effect: it never runs a callback
 *   and never delivers a reply.
 * - Threads: a node's calls are made on the thread that runs its loop
 *   (the "loop thread"), inside or outside actor callbacks, unless a call
 *   says otherwise. Only tr_node_send_threadsafe and tr_node_stop may be
 *   called from any thread.
 * - Ownership: payloads are copied at the call, so the caller's buffer is
 *   free when it returns; strings the library hands out are owned by it
 *   and valid as long as each call says; what the caller hands in
 *   (configs, spawn options) is read during the call only, except an
 *   actor type, which must outlive the actors of that type.
 * - Growth: structs the library reads from the caller (tr_node_config,
 *   tr_actor_type, tr_spawn_opts) or writes into the caller's memory (the
 *   stats and info structs) are passed with their size, which the macros
 *   below add from the caller's own header (sizeof at the caller's build).
 *   New fields are only ever appended, so a program built against an older
 *   troupe.h keeps working with a newer library: the library reads and
 *   writes only the bytes the caller's struct has, and treats missing
 *   fields as 0 (defaults). The plain functions of the same names are
 *   exported too (they assume this header's sizes), for bindings.
 *   Structs the library hands out by pointer (tr_envelope, tr_member,
 *   tr_sub_info, tr_peer_stats in callbacks) only grow at the end. */
#ifndef TROUPE_H
#define TROUPE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Marks the exported calls: the library is built with hidden visibility,
 * so nothing else of it is seen from outside. */
#if defined(__GNUC__) || defined(__clang__)
#define TR_API __attribute__((visibility("default")))
#define TR_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define TR_API
#define TR_PRINTF(fmt, args)
#endif

#define TR_VERSION_MAJOR 0
#define TR_VERSION_MINOR 1
#define TR_VERSION_PATCH 0
#define TR_VERSION_STRING "0.1.0"

/* Longest actor id or topic name, in bytes, without the terminating NUL. */
#define TR_ID_MAX 255

/* Errors: every call returns 0 or one of these negative codes. A call that
 * fails never runs its callback and never delivers a reply. The X-macro keeps
 * code, name and message together so tr_strerror cannot drift. */
#define TR_ERRNO_MAP(X)                                                      \
  X(EINVAL, -1, "invalid argument")                                         \
  X(ENOMEM, -2, "out of memory")                                            \
  X(ENOTFOUND, -3, "no such actor")                                         \
  X(EEXIST, -4, "actor id already taken")                                   \
  X(EFULL, -5, "queue full, nothing was queued")                            \
  X(EUNREACHABLE, -6, "node unreachable")                                   \
  X(ETIMEDOUT, -7, "timed out")                                             \
  X(ETOOBIG, -8, "payload larger than the configured maximum")              \
  X(ETLS, -9, "TLS failure")                                                \
  X(ECLOSED, -10, "closed")                                                 \
  X(EINIT, -11, "actor init failed")                                        \
  X(ESTATE, -12, "call not allowed in this state")                          \
  X(ESYS, -13, "system call failed")                                        \
  X(EPERM, -14, "not permitted")                                            \
  X(EBADTYPE, -15, "message of another type")

enum {
#define TR_ERR_ENUM_(name, code, msg) TR_##name = (code),
  TR_ERRNO_MAP(TR_ERR_ENUM_)
#undef TR_ERR_ENUM_
};

/* A static message for any value (unknown codes get a generic text). Any
 * thread. */
TR_API const char *tr_strerror(int err);
/* The symbolic name, e.g. "TR_EFULL", or "TR_OK" for 0 (static). Any
 * thread. */
TR_API const char *tr_errname(int err);

typedef struct tr_node tr_node; /* a node: loop, actors, transport, cluster */
typedef struct tr_ctx tr_ctx;   /* an actor's handle, valid inside callbacks */

typedef enum {
  TR_MSG_SEND,
  TR_MSG_PUBLISH,
  TR_MSG_ASK,
  TR_MSG_REPLY,
  TR_MSG_DOWN,
  TR_MSG_CHILD_EXIT,
  TR_MSG_NODE_UP,
  TR_MSG_NODE_DOWN,
  TR_MSG_WRITABLE, /* tr_send_notify: the sender (the target) has room */
  TR_MSG_GROUP_JOIN, /* a group gained a member (docs/groups.md) */
  TR_MSG_GROUP_LEAVE /* a group lost a member */
} tr_msg_type;

/* What receive gets. Every pointer is valid until receive returns. */
typedef struct tr_envelope {
  tr_msg_type type;
  const char *sender; /* actor id, or NULL when sent from outside actors */
  const char *topic;  /* TR_MSG_PUBLISH: the topic ("" = default topic) */
  const void *data;
  size_t len;
  uint64_t ask_id; /* TR_MSG_ASK / TR_MSG_REPLY correlation */
  int status;      /* TR_MSG_REPLY: 0 or TR_ETIMEDOUT ...;
                      TR_MSG_DOWN / CHILD_EXIT: the reason */
  const char *node; /* name of the node the message came from */
  /* tr_group_broadcast: the group it was sent to (type TR_MSG_SEND); a
   * membership event: the group. NULL otherwise. */
  const char *group;
  /* The message's type tag (tr_send_tagged and the typed calls of
   * troupe_pb.h: docs/typed.md); 0 for untagged bytes. */
  uint32_t msg_type;
} tr_envelope;

typedef struct tr_actor_type {
  const char *name;  /* for logs and metrics */
  size_t state_size; /* engine allocates and zeroes the state */
  /* Optional. Non-zero fails the spawn with TR_EINIT; deinit is not run and
   * children spawned by init are stopped. */
  int (*init)(tr_ctx *, void *state, const void *arg);
  /* Non-zero: the actor failed. It is stopped, and its parent gets
   * TR_MSG_CHILD_EXIT with that value as status. */
  int (*receive)(tr_ctx *, void *state, const tr_envelope *);
  void (*deinit)(tr_ctx *, void *state); /* optional; runs once at stop */
} tr_actor_type;

typedef struct tr_spawn_opts {
  const char *id;    /* NULL: a generated unique id ("<type name>.<n>") */
  uint32_t capacity; /* mailbox slots; 0: the node default (1024) */
  const void *arg;   /* handed to init */
  /* Optional: receives the actor's id (NUL-terminated). A buffer shorter than
   * the id fails the spawn with TR_EINVAL before anything happens;
   * TR_ID_MAX + 1 bytes always suffice. */
  char *id_out;
  size_t id_out_size;
} tr_spawn_opts;

/* Log levels, most severe first; 0 in a config means the default, WARN. */
typedef enum {
  TR_LOG_ERROR = 1,
  TR_LOG_WARN,
  TR_LOG_INFO,
  TR_LOG_DEBUG
} tr_log_level;

/* A log line: a short stable event name and "key=value ..." fields (logfmt:
 * a value with spaces, quotes, '=' or control characters is double-quoted,
 * '"' and '\\' escaped with a backslash, control characters as \xNN).
 * Called on the loop thread; must not call back into the node. */
typedef void (*tr_log_fn)(void *user, tr_log_level level, const char *event,
                          const char *fields);

/* Fields for a log line, formatted as snprintf would, except that every %s
 * value is written as exactly one logfmt value as described above, so a
 * name or a message chosen by someone else cannot add a field or a line;
 * keys are the literal text of fmt. Returns the length it needed, as
 * snprintf; buf is always terminated when cap > 0. Any thread. */
TR_API int tr_log_vfields(char *buf, size_t cap, const char *fmt, va_list ap);
TR_API int tr_log_fields(char *buf, size_t cap, const char *fmt, ...)
    TR_PRINTF(3, 4);

struct uv_loop_s;

typedef struct tr_node_config {
  const char *name;   /* unique node name; NULL: the host name */
  const char *listen; /* "host:port"; NULL: local single-node mode */
  const char *advertise; /* address peers dial; NULL: derived from listen */
  const char *const *seeds;
  size_t nseeds; /* "host:port"; DNS names ok */
  const char *ca_file, *cert_file, *key_file; /* PEM; cluster CA + own */

  /* Knobs; 0 means the default in brackets. */
  uint32_t default_capacity;  /* mailbox slots per actor [1024] */
  size_t max_payload;         /* largest payload accepted [1 MiB] */
  uint32_t ask_timeout_ms;    /* tr_ask with timeout 0 [5000] */
  uint32_t batch;             /* messages one actor handles per turn [64] */
  uint32_t threadsafe_max;    /* tr_node_send_threadsafe messages accepted
                                 and not yet in a mailbox [65536] */
  /* An existing loop to run on (the node does not own or close it); NULL:
   * the node creates its own. */
  struct uv_loop_s *loop;
  tr_log_fn log;      /* NULL: no logging */
  void *log_user;
  tr_log_level log_level; /* lines above this level are not built [WARN] */

  /* Cluster timing (docs/cluster.md); 0 means the default in brackets. */
  uint32_t probe_interval_ms;  /* one SWIM probe per interval [500] */
  uint32_t probe_timeout_ms;   /* direct probe deadline [200] */
  uint32_t suspicion_mult;     /* suspicion = mult*log10(N)*interval [4] */
  uint32_t gossip_interval_ms; /* registry deltas go out this often [50] */
  uint32_t sync_interval_ms;   /* registry anti-entropy [5000] */

  /* The cluster CA's certificate revocation list (PEM, `troupe cert
   * revoke`); NULL: none. Peers whose certificate it lists are refused;
   * tr_node_reload_tls re-reads it and closes their links at once. */
  const char *crl_file;

  /* An authorization policy (docs/security.md, "Policy"): which actor ids
   * each node may register, who may send, ask, stop and subscribe; NULL:
   * none, everything allowed. A file that does not parse fails
   * tr_node_new (TR_EINVAL, the line logged). tr_node_reload_policy
   * re-reads it. */
  const char *policy_file;

  /* Of threadsafe_max, what one target id may hold while it has no room
   * [threadsafe_max / 4]: a slow target does not stop producers to others. */
  uint32_t threadsafe_target_max;

  /* Behave as a node from before flow-control credit (docs/cluster.md,
   * "Flow control"): announce none, send without it, and take other nodes'
   * sends only while there is room (a full mailbox drops and reports
   * remote_full). For mixed-version tests and benchmarks; it gives up the
   * guarantee that an accepted remote send is never dropped for want of
   * room. */
  int no_flow_credit; /* non-zero: on */

  /* Limits under abuse (docs/cluster.md, "Limits"); 0 means the default in
   * brackets. Each one reached is counted in tr_cluster_stats and logged,
   * at most one line per limit per 10 s. */
  uint32_t max_members; /* members known, dead and left ones included
                           [TR_MAX_MEMBERS]; the peer table holds 1,024 more
                           (nodes that spoke but are not members) */
  uint32_t max_pending_conns; /* accepted connections before their hello
                                 [128]; at the cap the oldest is closed */
  uint32_t handshake_timeout_ms; /* TCP accept or dial to hello done [5000] */
  uint32_t max_op_conns;       /* operator connections at once [64] */
  uint32_t op_idle_timeout_ms; /* an operator connection that sends no whole
                                  frame for this long (it answers a ping a
                                  second) is closed [30000] */
  uint32_t max_op_subs;        /* asks and subscriptions one operator
                                  connection runs at once [1024]; more are
                                  answered TR_EFULL */
  size_t memory_budget;        /* link queues and read buffers, all peers
                                  together [256 MiB]: a send past it is
                                  TR_EFULL as for a full link; a read that
                                  would pass it closes its connection,
                                  unless it is a node's link that is up */
  uint32_t member_retention_ms; /* dead and left members stay listed (and
                                   their names taken) this long, then are
                                   forgotten [60000]; a partition healing
                                   later rejoins through the seeds */

  /* This node's tags (docs/cluster.md, "Tags"): "key=value" strings that
   * every member sees in tr_member.tags, like Serf's. A key is 1 to
   * TR_TAG_KEY_MAX bytes and a value 0 to TR_TAG_VALUE_MAX, both of
   * [A-Za-z0-9_.-]; at most TR_TAGS_MAX tags, keys distinct, and
   * "k=v,k=v" (sorted by key) at most TR_TAGS_LEN_MAX bytes. Anything else
   * fails tr_node_new with TR_EINVAL (the reason logged), as do tags
   * without listen. They are fixed for the process: they are signed with
   * the node's membership record, and only the node itself can say them
   * (a relayed record with other tags is refused). Read during the call. */
  const char *const *tags;
  size_t ntags;

  /* The admin socket (docs/operations.md, "Admin socket"): a Unix domain
   * socket at this path, mode 0600, where programs of the node's user (or
   * root) on this host make every operator request without a certificate
   * (`troupe members --node PATH`), a local node's included; its
   * connections are operator "admin" to the policy. At most 16 at once
   * (more are refused, counted and logged admin_conn_refused). A socket
   * file left by a dead node is replaced; a live node's, or a file that is
   * not a socket, fails tr_node_new with TR_EEXIST. Removed by
   * tr_node_free. NULL: none. */
  const char *admin_socket;

  /* This node's own dials in their TLS handshake at once [8] (docs/
   * cluster.md, "Limits"): past it a dial waits for one to end (counted
   * in tr_transport_stats.dials_waited, logged dial_waiting). A node that
   * learns of many members at once (a cluster started all together) dials
   * them a few at a time instead of sharing the CPU among all their
   * handshakes until each runs out of handshake_timeout_ms. */
  uint32_t max_dials;
} tr_node_config;

/* Tag limits (tr_node_config.tags): they keep a member's record, gossiped
 * with every mention of it, small. */
#define TR_TAG_KEY_MAX 32    /* bytes of a key */
#define TR_TAG_VALUE_MAX 64  /* bytes of a value */
#define TR_TAGS_MAX 8        /* tags per node */
#define TR_TAGS_LEN_MAX 512  /* bytes of "k=v,k=v", the NUL not counted */

#define TR_MAX_MEMBERS 10000u

/* ---- node lifecycle ---------------------------------------------------- */

/* Creates a node. *out owns everything; free it with tr_node_free. cfg may be
 * NULL (local node, defaults); it is read during the call only. A config
 * with no listen address is the local single-node mode; one with a listen
 * address is a cluster node and needs ca_file, cert_file and key_file
 * (docs/cluster.md). Returns TR_EINVAL for a bad config (seeds or
 * certificates without listen, a seed without a port, a bad name or log
 * level, a cfg_size larger than this library's struct with the extra
 * bytes not zero), TR_ETLS / TR_EINVAL when the certificates do not load,
 * TR_ESYS when the address cannot be listened on or the loop not made,
 * TR_ENOMEM; the reason is logged. *out is NULL on failure. The thread that
 * calls it is the node's loop thread from then on (unless cfg->loop is
 * given: then the thread that runs that loop). */
TR_API int tr_node_new_sized(tr_node **out, const tr_node_config *cfg,
                             size_t cfg_size);
TR_API int(tr_node_new)(tr_node **out, const tr_node_config *cfg);
/* Variadic so that a compound literal with commas passes as one argument. */
#define tr_node_new(out, ...)                                               \
  tr_node_new_sized((out), __VA_ARGS__, sizeof(tr_node_config))
/* Runs the loop until tr_node_stop; an idle node blocks in the kernel.
 * Returns 0, TR_EINVAL (NULL), or TR_ESTATE if called re-entrantly (from
 * inside an actor). After it returns the node may be run again. */
TR_API int tr_node_run(tr_node *);
/* Runs one loop iteration: handles what is ready and waits for at most one
 * event if nothing is. Returns 1 while work remains (ready actors, timers,
 * asks), 0 when the node is idle, TR_EINVAL / TR_ESTATE as tr_node_run.
 * For tests and for embedding. */
TR_API int tr_node_run_once(tr_node *);
/* Makes tr_node_run return soon. Any thread; also from inside an actor. A
 * cluster node leaves the cluster first (graceful: members see it left,
 * not dead); it takes no further part in the cluster. NULL is a no-op. */
TR_API void tr_node_stop(tr_node *);
/* Stops every actor (children before parents, deinit for each), counts the
 * messages still queued as dead letters and frees everything. Loop thread,
 * not from inside an actor. NULL is a no-op. */
TR_API void tr_node_free(tr_node *);
/* The node's name (owned by the node, valid until tr_node_free); NULL for
 * NULL. Any thread once the node exists. */
TR_API const char *tr_node_name(const tr_node *);
/* The libuv loop the node runs on, for the embedder's own handles (which
 * the embedder closes before tr_node_free). NULL for NULL. */
TR_API struct uv_loop_s *tr_node_loop(tr_node *);

/* Spawns a root actor (no parent). Returns TR_EEXIST if the id is taken
 * (here, or anywhere in the cluster), TR_EINVAL for a bad id (empty, longer
 * than TR_ID_MAX, or starting with '$', which is reserved), for a type
 * without receive or a struct size this library does not know, TR_EINIT if
 * init failed (the actor is gone again), TR_ESTATE while the node is being
 * freed, TR_ENOMEM. The type must outlive its actors; opts is read during
 * the call only (arg is handed to init as is). */
TR_API int tr_node_spawn_sized(tr_node *, const tr_actor_type *,
                               size_t type_size, const tr_spawn_opts *,
                               size_t opts_size);
TR_API int(tr_node_spawn)(tr_node *, const tr_actor_type *,
                          const tr_spawn_opts *);
#define tr_node_spawn(n, type, ...)                                         \
  tr_node_spawn_sized((n), (type), sizeof(tr_actor_type), __VA_ARGS__,       \
                      sizeof(tr_spawn_opts))
/* Sends from outside actors (sender NULL). The payload is copied. Returns
 * TR_ENOTFOUND (no actor has that id anywhere the registry knows),
 * TR_EFULL (mailbox or link queue full: nothing queued), TR_EUNREACHABLE
 * (its node is not up), TR_ETOOBIG (over max_payload), TR_EINVAL (bad id,
 * NULL data with len > 0), TR_ENOMEM. */
TR_API int tr_node_send(tr_node *, const char *to, const void *, size_t);
/* Like tr_node_send, from any thread. 0 means accepted: it will be
 * delivered, in order with this thread's other sends to `to`, unless its
 * target is gone by then (a dead letter: no_actor, stopped, unreachable).
 * A target without room holds what is meant for it until it has room,
 * without holding up other targets. TR_EFULL (nothing queued) when
 * threadsafe_max messages are waiting in all, or threadsafe_target_max for
 * `to`: wait with tr_node_wait_writable and send again. TR_ETOOBIG,
 * TR_EINVAL, TR_ENOMEM. The payload is copied before it returns. */
TR_API int tr_node_send_threadsafe(tr_node *, const char *to, const void *,
                                   size_t);
/* Blocks the calling thread (not the loop's) until tr_node_send_threadsafe
 * to `to` (NULL: to a target with nothing waiting) would not return
 * TR_EFULL, or timeout_ms passes. 0 (room now: another producer may take
 * it first), TR_ETIMEDOUT, TR_ECLOSED (the node is being freed), TR_ESTATE
 * (called on the thread running the node's loop, which would wait for
 * itself; with a loop the node does not run itself, cfg.loop, it cannot
 * tell: do not call it there), TR_EINVAL. A thread waiting when
 * tr_node_free begins returns TR_ECLOSED before the node goes; no call may
 * start after. Any thread. */
TR_API int tr_node_wait_writable(tr_node *, const char *to,
                                 uint32_t timeout_ms);
/* Stops an actor in queue order: messages queued before this call are
 * handled first, later ones are dead letters. An actor on another node is
 * stopped there. TR_ENOTFOUND, TR_EUNREACHABLE, TR_EINVAL, TR_ENOMEM. */
TR_API int tr_node_stop_actor(tr_node *, const char *id);

/* ---- inside an actor (loop thread, within init/receive/deinit) ---------- */

/* The calls below take the tr_ctx an actor's callback was given; it is
 * valid during that callback (and in the actor's own libuv callbacks on the
 * loop while it lives). A NULL ctx gives TR_EINVAL (NULL for pointers). */

/* The actor's id (owned by the actor, valid while it lives). */
TR_API const char *tr_self(tr_ctx *);
/* The node the actor runs on. */
TR_API tr_node *tr_node_of(tr_ctx *);
/* The node's libuv loop, for the actor's own sockets and timers (which the
 * actor closes in its deinit). */
TR_API struct uv_loop_s *tr_loop(tr_ctx *);
/* Payload copied; FIFO per sender and receiver. Delivery is never inline.
 * Errors as tr_node_send. */
TR_API int tr_send(tr_ctx *, const char *to, const void *, size_t);
/* After TR_EFULL from a send or ask to `to`: one TR_MSG_WRITABLE (sender
 * `to`, status 0) arrives when `to` has room again, at once if it has room
 * now; status TR_ENOTFOUND or TR_EUNREACHABLE instead if `to` stops or its
 * node goes first. Asking twice before the notice is asking once. Works
 * alike for local and remote targets (docs/engine.md, "Back-pressure").
 * TR_ENOTFOUND (no such actor), TR_EUNREACHABLE, TR_EINVAL, TR_ESTATE,
 * TR_ENOMEM. */
TR_API int tr_send_notify(tr_ctx *, const char *to);
/* Publish on the default topic / a named topic to every subscriber of
 * (self, topic), on this node and others (one copy crosses each link). All
 * deliveries share one copy of the payload. A subscriber whose mailbox is
 * full misses this publish: counted, never blocking. Returns the number of
 * local subscribers reached (>= 0) or TR_ETOOBIG / TR_EINVAL / TR_ENOMEM. */
TR_API int tr_publish(tr_ctx *, const void *, size_t);
TR_API int tr_publish_topic(tr_ctx *, const char *topic, const void *,
                            size_t);
/* Subscribe self to (publisher, default topic / topic). Effective before the
 * call returns. The publisher need not exist yet; the subscription is by id
 * and outlives the publisher. Subscribing twice is a no-op returning 0.
 * TR_EINVAL (bad id or topic), TR_ESTATE (self is stopping), TR_ENOMEM. */
TR_API int tr_subscribe(tr_ctx *, const char *publisher);
TR_API int tr_subscribe_topic(tr_ctx *, const char *publisher,
                              const char *topic);
/* TR_ENOTFOUND when self is not subscribed to it; TR_EINVAL. */
TR_API int tr_unsubscribe(tr_ctx *, const char *publisher);
TR_API int tr_unsubscribe_topic(tr_ctx *, const char *publisher,
                                const char *topic);
/* Root actor / child of self (stopped with self; its failures reach self as
 * TR_MSG_CHILD_EXIT). Errors as tr_node_spawn, and TR_ESTATE when self is
 * stopping (tr_spawn_child). */
TR_API int tr_spawn_sized(tr_ctx *, const tr_actor_type *, size_t type_size,
                          const tr_spawn_opts *, size_t opts_size);
TR_API int tr_spawn_child_sized(tr_ctx *, const tr_actor_type *,
                                size_t type_size, const tr_spawn_opts *,
                                size_t opts_size);
TR_API int(tr_spawn)(tr_ctx *, const tr_actor_type *, const tr_spawn_opts *);
TR_API int(tr_spawn_child)(tr_ctx *, const tr_actor_type *,
                           const tr_spawn_opts *);
#define tr_spawn(ctx, type, ...)                                            \
  tr_spawn_sized((ctx), (type), sizeof(tr_actor_type), __VA_ARGS__,          \
                 sizeof(tr_spawn_opts))
#define tr_spawn_child(ctx, type, ...)                                      \
  tr_spawn_child_sized((ctx), (type), sizeof(tr_actor_type), __VA_ARGS__,    \
                       sizeof(tr_spawn_opts))
/* Stop self once the current callback returns (at once when called from
 * the actor's own libuv callbacks): children first, then deinit, timers,
 * subscriptions, monitors and the id are released. Returns 0 (also when
 * self is already stopping) or TR_EINVAL. */
TR_API int tr_stop(tr_ctx *);
/* Stop another actor in queue order (see tr_node_stop_actor). */
TR_API int tr_stop_actor(tr_ctx *, const char *id);
/* Calls fn (may be NULL) with the id of each of self's children, newest
 * first; returns how many there are. The ids are valid during the call;
 * fn must not spawn or stop actors. */
TR_API int tr_children(tr_ctx *, void (*fn)(void *arg, const char *id),
                       void *arg);
/* TR_MSG_DOWN (sender = target, status = reason) when target stops, and at
 * once (status TR_ENOTFOUND) when it does not exist; for a target on
 * another node also TR_EUNREACHABLE when that node dies or leaves.
 * Returns 0, or TR_EINVAL, TR_ESTATE (self is stopping), TR_ENOMEM. */
TR_API int tr_monitor(tr_ctx *, const char *target);
/* Removes self's monitors on target; TR_ENOTFOUND when there were none. */
TR_API int tr_demonitor(tr_ctx *, const char *target);
/* Sends TR_MSG_ASK; exactly one TR_MSG_REPLY with the same ask id follows:
 * the answer (status 0), or status TR_ETIMEDOUT after timeout_ms (0: the node
 * default), or TR_ENOTFOUND as soon as the target stops without having
 * replied. On failure nothing is sent and no reply comes. ask_id may be
 * NULL. */
TR_API int tr_ask(tr_ctx *, const char *to, const void *, size_t,
                  uint32_t timeout_ms, uint64_t *ask_id);
/* Answers an ask envelope (the payload is copied). TR_ETIMEDOUT if the ask
 * is no longer pending (it timed out, or its asker stopped): the reply is
 * counted as a late reply and discarded. TR_EINVAL if env is not an ask;
 * TR_ETOOBIG; for an ask from another node also TR_EUNREACHABLE, TR_EFULL
 * (the link's queue). */
TR_API int tr_reply(tr_ctx *, const tr_envelope *ask, const void *, size_t);
/* One message from self to `to` after delay_ms. The payload is copied now;
 * the target is looked up when it fires (a miss is a dead letter). The timer
 * ends with self. TR_EINVAL, TR_ETOOBIG, TR_ESTATE, TR_ENOMEM. */
TR_API int tr_send_after(tr_ctx *, uint32_t delay_ms, const char *to,
                         const void *, size_t);
/* Repeating timer: a message every interval_ms (> 0) until cancelled or self
 * stops. timer_id may be NULL. Errors as tr_send_after. */
TR_API int tr_send_every(tr_ctx *, uint32_t interval_ms, const char *to,
                         const void *, size_t, uint64_t *timer_id);
/* Cancels one of self's timers; TR_ENOTFOUND if it is not pending. */
TR_API int tr_timer_cancel(tr_ctx *, uint64_t timer_id);

/* ---- groups (docs/groups.md) --------------------------------------------- */

/* Cluster-wide named groups of actors, like Erlang's pg: join and leave,
 * send to one member, ask one, send to all, list, and watch. A group name
 * is 1..TR_GROUP_MAX bytes, none of them a space or a control character,
 * not starting with '$'; the group name and the member's id together are
 * at most TR_GROUP_KEY_MAX bytes (each membership is held in the cluster's
 * registry under one key of that size). Each node speaks only for its own
 * actors' memberships. Loop thread only. */
#define TR_GROUP_MAX 64
#define TR_GROUP_KEY_MAX 251 /* strlen(group) + strlen(id) at most */

/* self joins group: 0 (also when already a member: joining twice is a
 * no-op). It leaves every group when it stops. TR_EINVAL (a bad name, or
 * name and id too long together), TR_EPERM (the node's policy: "join"),
 * TR_ENOMEM. */
TR_API int tr_group_join(tr_ctx *, const char *group);
/* 0, or TR_ENOTFOUND when self is not a member; TR_EINVAL. */
TR_API int tr_group_leave(tr_ctx *, const char *group);
/* The same for a local actor by id (the daemon's --spawn, embedders). */
TR_API int tr_node_group_join(tr_node *, const char *id, const char *group);
TR_API int tr_node_group_leave(tr_node *, const char *id, const char *group);

/* Sends to one member: a local member with room when there is one (round
 * robin over the local members), else a remote member with room (round
 * robin over them; room is the flow-control credit held for it). The send
 * is then a tr_send to that member: same ordering, same guarantees.
 * TR_ENOTFOUND: the group has no member anywhere this node knows;
 * TR_EFULL: none has room (nothing queued; try later). The chosen member's
 * id is copied into chosen (cap bytes) when chosen is not NULL. Errors of
 * tr_send otherwise. */
TR_API int tr_group_send(tr_ctx *, const char *group, const void *, size_t);
TR_API int tr_group_send_to(tr_ctx *, const char *group, const void *,
                            size_t, char *chosen, size_t cap);
/* Asks one member, chosen as tr_group_send; then as tr_ask. */
TR_API int tr_group_ask(tr_ctx *, const char *group, const void *, size_t,
                        uint32_t timeout_ms, uint64_t *ask_id);
/* Sends to every member: local members each get it (one shared copy), and
 * every other node with members gets one envelope, which it hands to its
 * own members. Like a publish, a member whose mailbox is full misses it
 * (counted: dead letter group_full). Arrives as TR_MSG_SEND with
 * envelope->group set. Returns the members reached on this node (>= 0);
 * TR_EINVAL, TR_ETOOBIG, TR_EPERM (the node's policy: a send to
 * "group:<name>"), TR_ENOMEM. */
TR_API int tr_group_broadcast(tr_ctx *, const char *group, const void *,
                              size_t);
/* tr_group_send and tr_group_broadcast from outside actors (no sender):
 * the operator's verbs, embedders. */
TR_API int tr_node_group_send(tr_node *, const char *group, const void *,
                              size_t);
TR_API int tr_node_group_broadcast(tr_node *, const char *group,
                                   const void *, size_t);

typedef struct tr_group_member {
  const char *group;
  const char *id;   /* the member */
  const char *node; /* the node it lives on */
} tr_group_member;

/* Calls fn (may be NULL) for each member of group (NULL: of every group),
 * local ones first; remote ones too unless local_only. Returns how many,
 * or TR_EINVAL. The member is valid during the call. */
TR_API int tr_group_members(tr_node *, const char *group, int local_only,
                            void (*fn)(void *arg, const tr_group_member *),
                            void *arg);
/* How many members group has (local only, or cluster-wide); >= 0 or
 * TR_EINVAL. */
TR_API int tr_group_count(tr_node *, const char *group, int local_only);

/* Membership events: subscribe to the system publisher on the topic
 * "group:<name>" (tr_subscribe_topic(ctx, TR_SYSTEM_PUBLISHER,
 * "group:workers")) for TR_MSG_GROUP_JOIN and TR_MSG_GROUP_LEAVE each time
 * that group gains or loses a member, local or remote; envelope->group is
 * the group, data the member's id then its node's name, each
 * NUL-terminated (len counts both NULs). */
#define TR_GROUP_TOPIC_PREFIX "group:"

/* ---- tagged messages (docs/typed.md) ------------------------------------ */

/* A message may carry a 32-bit type tag, which travels with it to the
 * receiver (tr_envelope.msg_type): troupe_pb.h's typed nanopb calls tag
 * each message with tr_msg_type_id of its full protobuf name; other
 * encodings may use their own. 0 means untagged. The calls below are the
 * untagged ones with the tag added: same errors, and TR_EBADTYPE when a
 * local target declared the tags it takes (tr_accept_types) and this is
 * not one (nothing queued, counted rejected_badtype). A remote target's
 * node refuses it the same way (counted there: remote_badtype in its
 * cluster stats): a send from an actor is then counted remote_badtype
 * here too, an ask answered TR_EBADTYPE. A reply is never refused for its
 * tag; a publish misses a subscriber that does not take it (counted
 * rejected_badtype on the subscriber's node). */
TR_API int tr_send_tagged(tr_ctx *, const char *to, uint32_t msg_type,
                          const void *, size_t);
TR_API int tr_node_send_tagged(tr_node *, const char *to, uint32_t msg_type,
                               const void *, size_t);
TR_API int tr_ask_tagged(tr_ctx *, const char *to, uint32_t msg_type,
                         const void *, size_t, uint32_t timeout_ms,
                         uint64_t *ask_id);
TR_API int tr_reply_tagged(tr_ctx *, const tr_envelope *ask,
                           uint32_t msg_type, const void *, size_t);
/* topic NULL or "": the default topic. */
TR_API int tr_publish_tagged(tr_ctx *, const char *topic, uint32_t msg_type,
                             const void *, size_t);
/* From now on self takes tagged messages only with one of these n tags
 * (copied); untagged ones always. n 0: any tag again. Usually called in
 * init. TR_EINVAL (a 0 tag, types NULL with n > 0), TR_ENOMEM. */
TR_API int tr_accept_types(tr_ctx *, const uint32_t *types, size_t n);
/* The tag for a message type's full name (e.g. "shop.Order"): 32-bit
 * FNV-1a of its bytes, never 0 (a 0 hash becomes 1). Stable across
 * versions: part of the wire format. Any thread. */
TR_API uint32_t tr_msg_type_id(const char *full_name);

/* ---- stats (loop thread) ------------------------------------------------ */

/* The stats getters below write at most out_size bytes of their struct (the
 * macros pass the caller's sizeof): a program built against an older header
 * gets the fields it knows. TR_EINVAL for NULL arguments. */

/* Why a message could not be delivered after it was accepted (or, for the
 * _REJECTED_ rows, why a send call returned an error). */
typedef enum {
  TR_DL_NO_ACTOR,      /* accepted asynchronously, target unknown by then */
  TR_DL_MAILBOX_FULL,  /* a repeating timer's tick found its target full */
  TR_DL_STOPPED,       /* still queued when its target stopped */
  TR_DL_LATE_REPLY,    /* a reply after its ask timed out */
  TR_DL_PUBLISH_FULL,  /* a publish missed a full subscriber */
  TR_DL_REJECTED_FULL, /* a send call returned TR_EFULL */
  TR_DL_REJECTED_NO_ACTOR, /* a send call returned TR_ENOTFOUND */
  TR_DL_REJECTED_TOOBIG,   /* a send call returned TR_ETOOBIG */
  TR_DL_UNREACHABLE,   /* accepted for a remote node that never got it */
  TR_DL_REMOTE_FULL,   /* the remote target's mailbox was full */
  TR_DL_REMOTE_NO_ACTOR, /* the remote node no longer had the target */
  TR_DL_GROUP_FULL,    /* a group broadcast missed a full member */
  TR_DL_REJECTED_BADTYPE, /* a send call returned TR_EBADTYPE */
  TR_DL_REMOTE_BADTYPE,   /* the remote target does not take that type */
  TR_DL_COUNT
} tr_dead_reason;

/* "mailbox_full", ... (static; "unknown" past the last). Any thread. */
TR_API const char *tr_dead_reason_name(tr_dead_reason);

typedef struct tr_node_stats {
  uint64_t actors;           /* alive now */
  uint64_t spawned;          /* total */
  uint64_t stopped;          /* total, any reason */
  uint64_t failed;           /* receive returned non-zero */
  uint64_t sent;             /* messages queued to a mailbox */
  uint64_t delivered;        /* receive calls */
  uint64_t published;        /* publish calls */
  uint64_t dead[TR_DL_COUNT];
  uint64_t mailbox_hwm;      /* largest mailbox length seen on this node */
  uint64_t asks_pending;
  uint64_t timers_pending;
  uint64_t subscriptions;
  uint64_t deferred; /* accepted sends waiting for their target's room */
  uint64_t lost_nomem; /* accepted sends lost to out of memory (logged) */
  uint64_t group_members;    /* local actors' group memberships now */
  uint64_t group_broadcasts; /* tr_group_broadcast calls on this node */
  uint64_t group_deliveries; /* broadcasts queued to local members (from
                                this node's and other nodes' broadcasts) */
} tr_node_stats;

TR_API int tr_node_stats_get_sized(tr_node *, tr_node_stats *out,
                                   size_t out_size);
TR_API int(tr_node_stats_get)(tr_node *, tr_node_stats *out);
#define tr_node_stats_get(n, out)                                           \
  tr_node_stats_get_sized((n), (out), sizeof(tr_node_stats))

typedef struct tr_actor_info {
  uint32_t queued;   /* messages in the mailbox now */
  uint32_t capacity;
  uint32_t hwm;      /* mailbox high-water mark */
  uint32_t children;
  uint64_t delivered;
  const char *type;  /* tr_actor_type.name */
  const char *parent; /* NULL for a root actor */
  uint64_t sent;     /* messages it sent: one per send, ask, reply, publish
                        or broadcast call that took */
  /* Its time in receive: 1 call in 64 is timed (two clock reads per 64
   * messages); the mean and the longest of those, ns (0: none timed yet,
   * the first call always is). */
  uint64_t handler_mean_ns, handler_max_ns;
  uint64_t age_ms;   /* since its spawn, by the loop's clock */
  const char *id;
  /* Messages received (delivered) and sent per second, over the span
   * between the two latest samples: reading the figures takes a sample
   * when the last is 1 s old or more (0 until then). */
  double in_per_s, out_per_s;
  /* Dead letters addressed to it: sends it refused (mailbox full, or a
   * type it does not take), publishes and group broadcasts it missed.
   * (Messages still queued when it stops count for the node only.) */
  uint64_t dead;
  /* Times its parent spawned it again under this id after it ended (a
   * supervisor's restarts; tr_spawn_child), counting on from the child it
   * replaces: among the node's last 256 children that ended. 0 for an
   * actor spawned without a parent. */
  uint32_t restarts;
} tr_actor_info;

/* One local actor's figures; the strings are the actor's and its parent's
 * (valid while they live). TR_ENOTFOUND when no local actor has that id. */
TR_API int tr_actor_info_get_sized(tr_node *, const char *id,
                                   tr_actor_info *out, size_t out_size);
TR_API int(tr_actor_info_get)(tr_node *, const char *id, tr_actor_info *out);
#define tr_actor_info_get(n, id, out)                                       \
  tr_actor_info_get_sized((n), (id), (out), sizeof(tr_actor_info))

/* Calls fn (may be NULL) for each local actor with its figures (valid
 * during the call), in no particular order; returns how many, or
 * TR_EINVAL. fn must not spawn or stop actors. The node's internal actors
 * (ids starting with '$': an operator's ask, say) are not listed, nor
 * counted in tr_node_stats' actors, spawned and stopped. */
TR_API int tr_node_actors(tr_node *,
                          void (*fn)(void *arg, const tr_actor_info *),
                          void *arg);

/* ---- cluster (docs/cluster.md) ------------------------------------------ */

/* The system publisher: subscribe to it (tr_subscribe) for TR_MSG_NODE_UP
 * and TR_MSG_NODE_DOWN, published on its default topic when a member comes
 * up (joins, restarts, or is back from dead) and when one is declared dead
 * or leaves. data is the member's name, NUL-terminated (len counts the
 * NUL); status is 0 for NODE_UP, and for NODE_DOWN TR_EUNREACHABLE (dead)
 * or TR_ECLOSED (left). Ids starting with '$' are reserved. */
#define TR_SYSTEM_PUBLISHER "$system"

typedef enum {
  TR_MEMBER_ALIVE,
  TR_MEMBER_SUSPECT,
  TR_MEMBER_DEAD,
  TR_MEMBER_LEFT
} tr_member_state;

/* "alive", ... (static; "unknown" for other values). Any thread. */
TR_API const char *tr_member_state_name(tr_member_state);

typedef struct tr_member {
  char name[TR_ID_MAX + 1];
  char addr[128];       /* where peers dial it; "" if unknown */
  uint64_t epoch;       /* the member process's start (ms): a restart
                           always brings a larger one */
  uint32_t incarnation; /* refutations within the epoch */
  tr_member_state state;
  /* The member's tags as it signed them: "k=v,k=v", sorted by key, ""
   * for none (tr_node_config.tags). One string, not an array of pairs:
   * it is the form that is signed and gossiped, its size is the one limit
   * that matters on the wire (TR_TAGS_LEN_MAX), and a fixed string keeps
   * this struct's size whatever the per-tag caps become. tr_member_tag
   * looks one up. */
  char tags[TR_TAGS_LEN_MAX + 1];
} tr_member;

/* The value of tag `key` of m: 0 with *value pointing into m->tags and
 * *len its length (not NUL-terminated: a ',' or the end follows), or
 * TR_ENOTFOUND, TR_EINVAL (NULL). Any thread. */
TR_API int tr_member_tag(const tr_member *m, const char *key,
                         const char **value, size_t *len);

/* Calls fn (may be NULL) for each member this node knows, itself included
 * (dead and left ones for a while after); returns how many, or TR_EINVAL,
 * TR_ENOMEM. The member is valid during the call. A local node lists only
 * itself. */
TR_API int tr_node_members(tr_node *,
                           void (*fn)(void *arg, const tr_member *),
                           void *arg);
/* The address other nodes dial this node at ("host:port", the port picked
 * when listen asked for port 0); NULL for a local node. Owned by the node,
 * valid until tr_node_free. */
TR_API const char *tr_node_address(tr_node *);
/* The node an actor id resolves to: 0 with its name copied into node
 * (cap bytes), TR_ENOTFOUND, or TR_EINVAL (bad id, or cap too small). */
TR_API int tr_node_locate(tr_node *, const char *id, char *node, size_t cap);

typedef struct tr_cluster_stats {
  uint32_t alive, suspect, dead, left; /* members in each state, self in */
  uint64_t registry_ids;    /* ids the registry resolves */
  uint64_t remote_sent;     /* envelopes handed to links */
  uint64_t remote_received; /* envelopes from links */
  uint64_t remote_failed;   /* envelopes the other node could not deliver */
  uint64_t link_full;       /* sends refused: link queue full (TR_EFULL) */
  uint64_t undeliverable;   /* envelopes a link gave up on */
  uint64_t rejected;        /* cluster messages refused: malformed, forged
                               sender, claims about others' state */
  uint64_t stale_updates;   /* registry updates about a node at another
                               epoch than this node knows (a restart still
                               spreading): ignored, anti-entropy repairs */
  uint64_t probes, suspicions, deaths, refutations; /* SWIM, since start */
  uint64_t conflicts_lost;  /* own actors stopped for an id conflict */
  uint64_t read_pauses;     /* links stopped reading: over 65,536 messages
                               waited in mailboxes (back-pressure) */
  uint64_t publish_dropped; /* publishes not sent to an interested node
                               (its link full or down), all topics */
  uint64_t asks_abandoned;  /* asks from other nodes whose target stopped
                               without replying: answered TR_ENOTFOUND */
  uint32_t remote_asks_pending; /* asks from other nodes kept until their
                               target replies, stops, or they time out */
  uint32_t local_health;    /* Lifeguard awareness; 0 is healthy */
  uint64_t op_denied;       /* operator requests refused: not from an
                               operator certificate, or a viewer's write */
  uint64_t forged_claims;   /* membership claims only a member may make (a
                               restart, leaving, a new incarnation, other
                               tags) relayed without its proof: refused */
  uint64_t death_checks;    /* members said dead by another, suspected and
                               probed here before being believed */
  uint64_t forged_entries;  /* registry entries relayed without their
                               owner's seal, and sets not from their owner:
                               refused */
  uint64_t proofs_signed, proofs_checked; /* own membership records and
                               registry batches signed, others' verified
                               (P-256 ECDSA: ~0.8 ms to sign, ~1.6 ms to
                               verify here) */
  uint64_t proofs_refused;  /* relayed proofs that failed to verify (each
                               logged swim_proof_refused or
                               registry_proof_refused; the relayer's proofs
                               then go unchecked, refused, for 1 s) */
  uint64_t policy_denied;   /* other nodes' sends, asks, stops and
                               subscriptions this node's policy refused
                               (operators' and registrations are in
                               tr_node_policy_stats / _denials) */
  uint64_t remote_denied;   /* this node's sends another node's policy
                               refused (also in remote_failed) */
  uint32_t crl_entries;     /* certificates the revocation list revokes */
  int64_t crl_next_update;  /* its nextUpdate, unix seconds; 0: no list. A
                               list past it still revokes what it lists
                               (logged crl_expired): renew it */
  /* Flow-control credit (docs/cluster.md, "Flow control"). */
  uint64_t credit_refused;  /* sends and asks to other nodes refused
                               TR_EFULL: no credit left for the target */
  uint64_t credit_in;       /* credit other nodes gave back to this one */
  uint64_t credit_out;      /* credit this node gave back to others */
  uint32_t credit_targets;  /* remote targets this node holds credit for */
  uint32_t credit_waiting;  /* of those, with a sender waiting for more */
  /* Limits (docs/cluster.md, "Limits"): what each refused. */
  uint64_t members_refused; /* new members not taken: max_members known
                               (logged member_cap) */
  uint64_t peers_refused;   /* nodes not given a peer entry: the table is
                               full (logged peer_cap) */
  uint32_t peers;           /* the peer table: members and nodes that spoke
                               (never operators) */
  uint64_t answers_limited; /* registry anti-entropy answers not sent: the
                               asker had had 8 at once, then one per gossip
                               interval (20 a second by default): a flood */
  uint64_t op_subs_refused; /* operator asks and subscriptions refused
                               TR_EFULL: max_op_subs running for that
                               connection (logged operator_subs_cap) */
  uint64_t remote_badtype;  /* other nodes' sends and asks refused: the
                               local target does not take their type tag
                               (docs/typed.md) */
  /* Groups (docs/groups.md). */
  uint64_t group_keys;      /* group memberships the registry holds,
                               this node's and others' */
  uint64_t group_invalid;   /* others' memberships not believed: the actor
                               is not their node's (forged or stale; logged
                               group_members_unbelieved) */
  uint64_t group_broadcasts_out; /* broadcast envelopes sent, one per node
                                    with members per broadcast */
  uint64_t group_broadcasts_in;  /* broadcast envelopes from other nodes */
  uint64_t group_broadcasts_dropped; /* not sent: link full or down */
  /* Operators' publishers and monitors (troupe pub, troupe monitor). */
  uint32_t op_pubs;         /* operator publishers on this node */
  uint64_t op_pubs_refused; /* new ones refused TR_EFULL: 64 here already
                               (logged operator_pubs_cap) */
  uint64_t monitor_lines_dropped; /* log lines a monitor's connection had
                                     no room for (the stream says how
                                     many) */
} tr_cluster_stats;

/* TR_ESTATE for a local node (*out untouched); writes at most out_size
 * bytes. */
TR_API int tr_node_cluster_stats_sized(tr_node *, tr_cluster_stats *out,
                                       size_t out_size);
TR_API int(tr_node_cluster_stats)(tr_node *, tr_cluster_stats *out);
#define tr_node_cluster_stats(n, out)                                       \
  tr_node_cluster_stats_sized((n), (out), sizeof(tr_cluster_stats))

/* One subscription as this node holds it: a local subscriber of
 * (publisher, topic), wherever the publisher is; or, for a local
 * publisher, another node's interest in it (subscriber NULL; that node
 * fans each publish out to its own subscribers). */
typedef struct tr_sub_info {
  const char *publisher, *topic; /* topic "" is the default topic */
  const char *subscriber;        /* local actor id, or NULL */
  const char *node;              /* the subscriber's node */
  uint64_t delivered; /* publishes queued to it (sent to that node) */
  uint64_t dropped;   /* publishes it missed: mailbox or link full */
} tr_sub_info;

/* Calls fn (may be NULL) for each subscription; returns how many there
 * are, or TR_EINVAL. The strings are valid during the call. */
TR_API int tr_node_subscriptions(tr_node *,
                                 void (*fn)(void *arg, const tr_sub_info *),
                                 void *arg);

/* The link to one peer node. */
typedef struct tr_peer_stats {
  int up;                     /* 1: connected and hello done */
  uint64_t envelopes_out, envelopes_in; /* since the link was made */
  uint64_t bytes_out, bytes_in;         /* TLS bytes on the socket */
  uint32_t queued;            /* envelopes waiting to be written */
  uint32_t rtt_us;            /* smoothed round trip; 0 unknown */
  uint64_t reconnects, undeliverable, rejected_full;
  uint64_t resumes;     /* reconnects that resumed the stream (nothing
                           resent twice, nothing lost) */
  uint64_t tls_resumes; /* TLS handshakes that resumed a session */
  const char *cipher;   /* the connection's TLS ciphersuite, or NULL when
                           down (static) */
  const char *cert_cn;   /* the peer certificate's subject CN on it, or
                            NULL when down (valid during the call) */
  const char *cert_role; /* what that certificate is for: "node" (a peer
                            link admits no other) */
} tr_peer_stats;

/* TR_ENOTFOUND when there is no link to that node; TR_ESTATE locally;
 * writes at most out_size bytes. */
TR_API int tr_node_peer_stats_sized(tr_node *, const char *peer,
                                    tr_peer_stats *out, size_t out_size);
TR_API int(tr_node_peer_stats)(tr_node *, const char *peer,
                               tr_peer_stats *out);
#define tr_node_peer_stats(n, peer, out)                                    \
  tr_node_peer_stats_sized((n), (peer), (out), sizeof(tr_peer_stats))
/* Calls fn (may be NULL) for every peer this node has a link to; returns
 * how many (0 for a local node), or TR_EINVAL. The name and the stats are
 * valid during the call. */
TR_API int tr_node_peers(tr_node *,
                         void (*fn)(void *arg, const char *peer,
                                    const tr_peer_stats *),
                         void *arg);

/* Refused peers and closed connections, by reason, since the node started
 * (a local node: all zero). The names ("untrusted", "timeout", ...) are
 * stable, for metrics labels; NULL past the last index. */
#define TR_TLS_FAIL_REASONS 16
#define TR_LINK_CLOSE_REASONS 16
typedef struct tr_transport_stats {
  uint64_t tls_refused[TR_TLS_FAIL_REASONS];
  uint64_t links_closed[TR_LINK_CLOSE_REASONS];
  uint64_t accepted;       /* connections accepted */
  uint32_t links, conns;   /* now */
  /* Limits (tr_node_config, docs/cluster.md "Limits"). */
  uint32_t pending;        /* connections before their hello, now */
  uint32_t op_conns;       /* operator connections up, now */
  uint64_t pending_dropped; /* closed at max_pending_conns (the oldest) */
  uint64_t op_refused;     /* operator connections refused: max_op_conns */
  uint64_t memory_refused; /* sends refused TR_EFULL: memory_budget */
  uint64_t memory_closed;  /* connections closed: their read buffer would
                              pass memory_budget */
  uint64_t memory_used;    /* link queues and read buffers now, bytes */
  uint64_t memory_budget;  /* the budget in force, bytes */
  uint64_t dials_waited;   /* dials that waited for a slot: max_dials */
  uint32_t dialing;        /* this node's dials in their handshake, now */
  uint32_t dials_waiting;  /* dials waiting for a slot, now */
} tr_transport_stats;
/* Writes at most out_size bytes; TR_EINVAL. */
TR_API int tr_node_transport_stats_sized(tr_node *, tr_transport_stats *out,
                                         size_t out_size);
TR_API int(tr_node_transport_stats)(tr_node *, tr_transport_stats *out);
#define tr_node_transport_stats(n, out)                                     \
  tr_node_transport_stats_sized((n), (out), sizeof(tr_transport_stats))
/* The names of the indexes of tls_refused and links_closed (static). Any
 * thread. */
TR_API const char *tr_tls_fail_reason_name(int i);
TR_API const char *tr_link_close_reason_name(int i);

/* ---- policy ---------------------------------------------------------------
 * Who may do what (docs/security.md, "Policy"): a node enforces its policy
 * on what other nodes and operator clients ask of it — registering an id
 * (on every node holding the registry), send, ask, stop, subscribe — and
 * on its own actors, whose calls then fail with TR_EPERM. A refused
 * remote ask is answered TR_EPERM; a refused remote send is reported back
 * to the sending node (tr_cluster_stats.remote_failed). Loop thread. */

/* Puts the policy in text in force (NULL: none). TR_EINVAL with "line N:
 * why" in err (errlen bytes; may be NULL) and the old policy kept;
 * TR_ENOMEM. */
TR_API int tr_node_set_policy(tr_node *, const char *text, char *err,
                              size_t errlen);
/* Re-reads config.policy_file: 0; TR_ESTATE when the node has none; an
 * error (logged policy_reload_failed with the file and line) with the old
 * policy kept. */
TR_API int tr_node_reload_policy(tr_node *);

typedef struct tr_policy_stats {
  uint32_t rules;        /* in the policy in force; 0 with none */
  int loaded;            /* 1: a policy is in force */
  int default_allow;     /* what no rule decides: 1 allowed */
  uint64_t changes;      /* policies put in force since the start */
  uint64_t denied;       /* requests refused, all together */
} tr_policy_stats;
TR_API int tr_node_policy_stats_sized(tr_node *, tr_policy_stats *out,
                                      size_t out_size);
TR_API int(tr_node_policy_stats)(tr_node *, tr_policy_stats *out);
#define tr_node_policy_stats(n, out)                                        \
  tr_node_policy_stats_sized((n), (out), sizeof(tr_policy_stats))

/* One kind of refusal: who (a node or operator client name; "$other" for
 * those past the first 1024 kinds), its role ("node", "operator",
 * "viewer"), the action ("register", "send", "ask", "stop", "subscribe"),
 * the rule (its line; 0: the default) and how many. */
typedef struct tr_policy_denial {
  const char *who, *role, *action;
  uint32_t rule;
  uint64_t count;
} tr_policy_denial;
/* Calls fn for each kind of refusal so far; returns how many kinds. */
TR_API int tr_node_policy_denials(tr_node *,
                                  void (*fn)(void *arg,
                                             const tr_policy_denial *),
                                  void *arg);

/* Reloads the CA, certificate, key and revocation list from the files the
 * node was created with: connections made from now on use them; links
 * already up stay up, but for peers the new list revokes, closed at once.
 * On failure (the reason is logged) the old ones stay in use. TR_ESTATE for
 * a local node. Loop thread. */
TR_API int tr_node_reload_tls(tr_node *);
/* The admin socket's connections open now and refused so far (not the
 * node's user, or past 16 at once). TR_ESTATE without one. */
typedef struct tr_admin_stats {
  uint32_t conns;
  uint64_t refused;
} tr_admin_stats;
TR_API int tr_node_admin_stats(tr_node *, tr_admin_stats *out);

/* 1 when the node is ready for work: a local node always; a cluster node
 * with no seeds at once, else once it has seen another member up (and from
 * then on, even if the others go: it is the cluster then). 0 for NULL. */
TR_API int tr_node_ready(tr_node *);
/* Changes the log level (and callback's filtering) at run time; a level
 * out of range is ignored. */
TR_API void tr_node_set_log_level(tr_node *, tr_log_level);

#ifdef __cplusplus
}
#endif
#endif /* TROUPE_H */
