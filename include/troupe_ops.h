/* troupe_ops.h — the operator client: requests to a running node from
 * outside the cluster, as the `troupe` CLI makes them. A client holds a
 * certificate from the cluster CA for clients only (`troupe cert client
 * NAME`); it connects to any node's TLS port without joining the cluster,
 * sends one request and reads the answer.
 *
 * Each call connects, asks, waits for the whole answer on a private event
 * loop and closes: it blocks the calling thread (any thread; calls on
 * different threads are independent) for at most the target's timeout
 * (a subscription, once it has begun, until its callback says stop).
 *
 * Results. A call returns 0 when the node answered yes, or a negative TR_E*
 * code. *err (may be NULL) says whose code it is: err->reason is
 * TR_OP_FAIL_NONE when the node answered with that code (TR_ENOTFOUND: no
 * such actor...), else why no answer came (the node is down, refused the
 * certificate, did not answer in time...) with a one-line detail for
 * people. Callbacks run on the calling thread, inside the call; the strings
 * and structs they get are valid during the callback. */
#ifndef TROUPE_OPS_H
#define TROUPE_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "troupe.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Which node to ask and as whom. The files are read at each call. */
typedef struct tr_op_target {
  const char *node;                /* "host:port" of any node's TLS port */
  const char *ca_file;             /* PEM: the cluster CA */
  const char *cert_file, *key_file; /* PEM: a client certificate and key */
  const char *name;     /* the client's name, one the certificate holds;
                           NULL: its subject CN */
  uint32_t timeout_ms;  /* connecting and answering [5000] */
  /* Non-zero: SIGINT and SIGTERM end the call while it waits (a
   * subscription then ends with 0; anything else with TR_ECLOSED,
   * TR_OP_FAIL_INTERRUPTED). The handlers are the call's own and gone when
   * it returns. 0: signals are left alone. */
  int stop_on_signals;
  /* The connection's own log lines (link events), for --verbose; NULL:
   * none. */
  tr_log_fn log;
  void *log_user;
  tr_log_level log_level;
} tr_op_target;

/* Why no answer came; TR_OP_FAIL_NONE: the node answered. */
#define TR_OP_FAIL_MAP(X)                                                    \
  X(NONE, "none")                 /* the node answered */                    \
  X(CONFIG, "config")             /* a file, the name or the address */      \
  X(UNREACHABLE, "unreachable")   /* no connection: down, wrong port... */   \
  X(REFUSED_NODE, "refused_node") /* we refused the node's certificate */    \
  X(REFUSED_US, "refused_us")     /* the node refused ours, or our name */   \
  X(SELF, "self")                 /* the node has this client's name */      \
  X(HANDSHAKE_TIMEOUT, "handshake_timeout") /* no TLS handshake in time */   \
  X(TIMEOUT, "timeout")           /* connected, no answer in time */         \
  X(CLOSED, "closed")             /* the node closed before the answer */    \
  X(PROTOCOL, "protocol")         /* the node sent something else */        \
  X(INTERRUPTED, "interrupted")   /* a signal (stop_on_signals) */           \
  X(NOMEM, "nomem")

typedef enum {
#define TR_OP_FAIL_ENUM_(name, str) TR_OP_FAIL_##name,
  TR_OP_FAIL_MAP(TR_OP_FAIL_ENUM_)
#undef TR_OP_FAIL_ENUM_
  TR_OP_FAIL_COUNT
} tr_op_fail;

/* "unreachable", ... (static; NULL past the last). Any thread. */
TR_API const char *tr_op_fail_name(tr_op_fail);

typedef struct tr_op_error {
  tr_op_fail reason;
  char detail[384]; /* for people: "connection refused", "the node's
                       certificate is not from this CA (untrusted: ...)" */
} tr_op_error;

/* The members the node knows, each to fn with self non-zero for the node
 * answering. */
TR_API int tr_op_members(const tr_op_target *,
                         void (*fn)(void *arg, const tr_member *, int self),
                         void *arg, tr_op_error *err);
/* The registry as the node sees it: every id and its node (only those on
 * node `on` when it is not NULL). */
TR_API int tr_op_actors(const tr_op_target *, const char *on,
                        void (*fn)(void *arg, const char *id,
                                   const char *node),
                        void *arg, tr_op_error *err);
/* The node's counters by name ("sent", "dead_mailbox_full", ...), in a
 * stable order; node is the answering node's name. */
TR_API int tr_op_stats(const tr_op_target *,
                       void (*fn)(void *arg, const char *node,
                                  const char *name, uint64_t value),
                       void *arg, tr_op_error *err);

typedef struct tr_op_health {
  char node[TR_ID_MAX + 1]; /* the answering node */
  int ready;                /* joined, or alone by design */
  uint32_t members_up;      /* alive or suspect, itself included */
} tr_op_health_info;

/* Fills *out when the node answered; returns 0 when it is ready,
 * TR_ESTATE (err->reason NONE) when it is alive but not ready. */
TR_API int tr_op_health(const tr_op_target *, tr_op_health_info *out,
                        tr_op_error *err);
/* Sends data to actor `to`, wherever it runs, as tr_node_send on the node
 * would: 0 when it was accepted. */
TR_API int tr_op_send(const tr_op_target *, const char *to, const void *data,
                      size_t len, tr_op_error *err);

/* An ask's reply or a publish: data from actor `from` on node `node`. */
typedef struct tr_op_message {
  const char *from, *node;
  const void *data;
  size_t len;
} tr_op_message;

/* Asks actor `to` (the node answers TR_ETIMEDOUT after timeout_ms; 0: the
 * node's default) and hands the reply to fn. The target's timeout should be
 * longer than timeout_ms. */
TR_API int tr_op_ask(const tr_op_target *, const char *to, const void *data,
                     size_t len, uint32_t timeout_ms,
                     void (*fn)(void *arg, const tr_op_message *),
                     void *arg, tr_op_error *err);
/* Every member of group (NULL: of every group) as the node knows them,
 * each with its node: each node holds every group. */
TR_API int tr_op_groups(const tr_op_target *, const char *group,
                        void (*fn)(void *arg, const tr_group_member *),
                        void *arg, tr_op_error *err);
/* tr_op_send and tr_op_ask to one member of group, chosen by the node as
 * tr_node_group_send would (TR_ENOTFOUND: no member; TR_EFULL: none has
 * room). The ask's reply names the member that answered. */
TR_API int tr_op_group_send(const tr_op_target *, const char *group,
                            const void *data, size_t len, tr_op_error *err);
TR_API int tr_op_group_ask(const tr_op_target *, const char *group,
                           const void *data, size_t len, uint32_t timeout_ms,
                           void (*fn)(void *arg, const tr_op_message *),
                           void *arg, tr_op_error *err);

/* A web inspector session for this client (troupe_inspect.h): the node's
 * token, NUL-terminated, into token (cap bytes; TR_SESSION_TOKEN_MAX + 1
 * suffice). An operator's session may act (send, ask, stop), a viewer's only
 * reads; the token works on that node's inspector, until it expires or
 * the node restarts. TR_ETOOBIG when it does not fit. */
TR_API int tr_op_session(const tr_op_target *, char *token, size_t cap,
                         tr_op_error *err);

/* What the node is (troupe info). */
typedef struct tr_op_info {
  char version[32];
  char name[TR_ID_MAX + 1];
  char addr[128];        /* where peers dial it */
  uint64_t uptime_ms;
  uint32_t members_alive; /* alive or suspect, itself included */
  uint64_t actors;        /* its own, alive */
  uint32_t links;         /* up, to other nodes and operators */
  char cert_cn[256];      /* its certificate's subject CN ("" unknown) */
  char cert_role[16];     /* "node" */
  int64_t cert_not_after; /* when it expires, unix seconds (0 unknown) */
} tr_op_info;

TR_API int tr_op_info_get(const tr_op_target *, tr_op_info *out,
                          tr_op_error *err);
/* Operators only: the node leaves the cluster and stops, as on SIGTERM
 * (its peers see it left); or it joins through the node at addr
 * ("ip:port" or "[ipv6]:port"), a seed kept beside its configured ones
 * (0: asked; the join
 * goes on from there). */
TR_API int tr_op_leave(const tr_op_target *, tr_op_error *err);
TR_API int tr_op_join(const tr_op_target *, const char *addr,
                      tr_op_error *err);
/* Operators only: the node forgets dead or left member `name` now rather
 * than after member_retention_ms (only that node: the others keep theirs).
 * TR_ESTATE when it is alive or suspect, TR_ENOTFOUND when unknown. */
TR_API int tr_op_forget(const tr_op_target *, const char *name,
                        tr_op_error *err);

/* Subscribes to (publisher, topic) (topic NULL or "": the default topic)
 * and hands each publish to fn until fn returns non-zero (the call then
 * returns 0), the node goes away (TR_ECLOSED) or a signal ends it. started
 * (may be NULL) runs once the subscription is in place. */
TR_API int tr_op_sub(const tr_op_target *, const char *publisher,
                     const char *topic, void (*started)(void *arg),
                     int (*fn)(void *arg, const tr_op_message *), void *arg,
                     tr_op_error *err);

/* Publishes data on topic (NULL or "": the default topic) as operator
 * publisher `publisher`: an actor of the node asked, made there by the
 * first pub to it (and registered: an id another actor holds is TR_EEXIST,
 * one of this node's other actors TR_EPERM) and kept until it is stopped;
 * NULL or "": "ops.<this client's name>". Actors anywhere subscribe to it
 * by id as to any publisher. A node keeps at most 64 (TR_EFULL).
 * Operators only. out (may be NULL): the publisher, its node and how many
 * subscribers on that node the publish reached (those on other nodes get
 * it through their node). */
typedef struct tr_op_published {
  char publisher[TR_ID_MAX + 1];
  char node[TR_ID_MAX + 1];
  uint32_t reached;
} tr_op_published;

TR_API int tr_op_pub(const tr_op_target *, const char *publisher,
                     const char *topic, const void *data, size_t len,
                     tr_op_published *out, tr_op_error *err);

/* A line of troupe monitor: a log line of the node (level non-zero: event,
 * and its key=value fields in text) or one of its cluster events (level 0:
 * text as tr_op_sub of '$system' gives them, "node_up n2"). text is not
 * NUL-terminated; len bytes. */
typedef struct tr_op_monitor_line {
  tr_log_level level; /* 0: a cluster event */
  const char *event;
  const char *text;
  size_t len;
  const char *node;
} tr_op_monitor_line;

/* Streams the node's log lines up to level (however verbose the node's own
 * log is) and its cluster events to fn until fn returns non-zero (the call
 * then returns 0), the node goes away (TR_ECLOSED) or a signal ends it.
 * Lines the connection had no room for are counted and said in the stream
 * (event monitor_lines_dropped, count=N). started as for tr_op_sub.
 * Operators only. */
TR_API int tr_op_monitor(const tr_op_target *, tr_log_level level,
                         void (*started)(void *arg),
                         int (*fn)(void *arg, const tr_op_monitor_line *),
                         void *arg, tr_op_error *err);

#ifdef __cplusplus
}
#endif
#endif /* TROUPE_OPS_H */
