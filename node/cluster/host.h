/* host.h — the cluster host: what plugs membership (swim), the registry
 * and the links into a tr_node. It implements the engine's remote ops
 * (eng_remote.h) and the calls of cluster.h, and drives the two state
 * machines from libuv: one timer for both deadlines, frames of kind
 * FRAME_SWIM / FRAME_REGISTRY from the links, link closes as reasons to
 * probe. Files: host.c (lifecycle, timers, link and swim wiring),
 * host_seeds.c (seed resolution), host_route.c (envelopes both ways),
 * host_ask.c (asks from other nodes), host_monitor.c (remote monitors),
 * host_pubsub.c (pub/sub across nodes), host_operator.c (the CLI's
 * requests), host_api.c (public cluster calls).
 *
 * Peers. Every node name the host has dealt with gets a small index (1..),
 * kept for the node's life, so a queued message can say which node it came
 * from in two bytes (eng_msg.origin). */
#ifndef TR_HOST_H
#define TR_HOST_H

#include <uv.h>

#include "cluster.h"
#include "codec.h"
#include "eng_remote.h"
#include "link.h"
#include "op_service.h"
#include "ratelog.h"
#include "registry.h"
#include "swim.h"

/* Ids are short: SuperFastHash takes 4 bytes a step (uthash's default costs
 * ~120 instructions a lookup). */
#define HASH_FUNCTION(keyptr, keylen, hashv) HASH_SFH(keyptr, keylen, hashv)
#include "uthash.h"

/* Envelope types past tr_msg_type: cluster control that must stay in order
 * with the messages around it, so it rides the envelope stream. */
enum {
  HOST_ENV_MONITOR = 64,   /* sender watches target */
  HOST_ENV_DEMONITOR = 65, /* sender no longer watches target */
  HOST_ENV_STOP = 66,      /* stop target in queue order */
  HOST_ENV_FAILED = 67,    /* a SEND to target was not delivered: status */
  HOST_ENV_SUB = 68,       /* the sender's node wants (target, topic) */
  HOST_ENV_UNSUB = 69,     /* it no longer does */
  HOST_ENV_CREDIT = 70,    /* ask_id more sends to target (host_credit.c) */
  HOST_ENV_GROUP = 71      /* a broadcast to the members of group `target`
                              on the receiving node (host_group.c) */
};

/* The peer table (members, and nodes that spoke or were named as owners)
 * holds at most max_members + HOST_PEERS_SLACK, and never more than the
 * 16-bit index allows. */
#define HOST_MAX_PEERS 65535u
#define HOST_PEERS_SLACK 1024u
typedef struct host_peer {
  UT_hash_handle hh; /* c->peers, keyed by name */
  char *name;
  uint16_t idx;
  bool up;            /* alive or suspect in membership */
  peer_link *link;    /* its link once used; cleared when closed */
  eng_name *last_sender; /* one-entry intern cache for incoming senders */
  uint64_t group_mark;   /* host_group.c: sent this broadcast already */
} host_peer;

/* A remote monitor, watcher side: a local actor watches an id on `node`.
 * Each record is on the cluster's list (node scans) and on its watcher's
 * (that actor's stop); watchers are found by id. */
typedef struct host_watcher host_watcher;
typedef struct host_rmon {
  struct host_rmon *next, *prev;     /* c->rmons */
  struct host_rmon *w_next, *w_prev; /* watcher->mons */
  host_watcher *watcher;
  char *target;
  uint16_t node;
} host_rmon;

struct host_watcher {
  UT_hash_handle hh; /* c->watchers, keyed by id */
  host_rmon *mons;
  char id[];
};

/* A remote monitor, target side: `watcher` on node `node` watches a local
 * actor; kept in a list per target id. */
typedef struct host_wmon {
  struct host_wmon *next;
  char *watcher;
  uint16_t node;
} host_wmon;

typedef struct host_wtarget {
  UT_hash_handle hh; /* c->wtargets, keyed by target id */
  char *target;
  host_wmon *mons;
} host_wtarget;

/* An ask from another node waiting on a local actor (host_ask.c), and the
 * asks waiting on one local id. */
typedef struct host_rask host_rask;
typedef struct host_rtarget host_rtarget;

/* Pub/sub (host_pubsub.c): other nodes' interest in a local (publisher,
 * topic), and the node this node told of its own interest in one. */
typedef struct host_interest host_interest;
typedef struct host_wpub host_wpub;

/* Flow-control credit (host_credit.c): held for a remote target, owed to
 * other nodes for a local one. */
typedef struct host_credit host_credit;
typedef struct host_owed host_owed;

/* Groups (host_group.c): other nodes' members, by registry key and by
 * group. */
typedef struct host_gmember host_gmember;
typedef struct host_group host_group;

/* A client of the admin socket, where its replies go (host_operator.c). */
typedef struct host_op_local host_op_local;
/* An inspect request waiting for other nodes' answers (host_inspect.c). */
typedef struct host_inspect host_inspect;
/* An inspector session's ask waiting for its reply (host_session.c). */
typedef struct session_ask session_ask;

/* A seed as configured, and what it resolved to last. */
typedef struct host_seed {
  char *host, *port;
  uv_getaddrinfo_t req;
  bool busy;
  char **addrs; /* "ip:port" */
  size_t naddrs;
  struct cluster *c;
} host_seed;

struct cluster {
  tr_node *node;
  uv_loop_t *loop;
  char *name;
  char *addr; /* advertised "host:port" */
  uint64_t epoch;
  tr_log_fn log;
  void *log_user;
  tr_log_level log_level;
  tls_config *tls;
  tls_config **old_tls; /* replaced by reloads; conns may still use them */
  size_t nold_tls;
  char *ca_file, *cert_file, *key_file, *crl_file; /* crl_file: NULL none */
  link_mgr *links;
  swim *swim;
  registry *reg;
  policy_guard *guard; /* the node's policy (borrowed); NULL: none */

  uv_timer_t timer;    /* the next swim/registry deadline */
  uv_timer_t deferred; /* work that must not run inside a callback */
  uv_timer_t reseed;   /* seed re-resolution */
  uv_timer_t inspect_timer; /* the first inspect request's deadline */
  int open_handles;
  bool left, freeing, links_freed;
  bool no_credit; /* tr_node_config.no_flow_credit */
  bool owed_stuck; /* some owed credit could not be sent: retry */
  /* Set while inside swim_* / reg_*: their callbacks queue, not call. */
  int in_sm;

  host_peer *peers;     /* by name */
  host_peer **by_idx;   /* [idx], idx 1..npeers */
  uint32_t npeers, cap_peers, max_peers;
  ratelog rl_members, rl_peers; /* member_cap, peer_cap lines */

  /* Work queued by callbacks, done by the deferred timer. */
  char **close_links;   /* links to close: their node died or left */
  size_t nclose, cap_close;
  char **lost_ids;      /* ids this node lost in a conflict */
  size_t nlost, cap_lost;

  char **resub_ids;     /* publishers whose owner changed */
  size_t nresub, cap_resub;
  char **recredit_ids;  /* targets we hold credit for whose entry changed */
  size_t nrecredit, cap_recredit;
  char **rewake_ids;    /* targets whose credit came back from a loss */
  size_t nrewake, cap_rewake;
  char **refused_ids;   /* members whose address refused a dial */
  size_t nrefused, cap_refused;
  host_credit *credits, *last_credit; /* by target id; last: send cache */
  host_owed *owed, *last_owed;        /* by local id; last: consume cache */

  host_gmember *gkeys;        /* other nodes' group members, by key */
  host_group *groups;         /* the same, by group name */
  uint64_t group_mark;        /* broadcasts sent (host_peer.group_mark) */
  bool group_unannounced;     /* members held but not announced yet */
  uint64_t group_invalid;     /* memberships held for an actor their
                                 owner does not hold (forged or stale) */
  host_interest *interests;   /* other nodes' interest in ours, by key */
  host_wpub *wpubs;           /* our interest, by publisher id */
  host_rmon *rmons;           /* watcher side */
  host_watcher *watchers;     /* watcher side, by watcher id */
  host_wtarget *wtargets;     /* target side, by target id */
  host_rask *rasks;           /* asks from other nodes, by (node, ask id) */
  host_rtarget *rtargets;     /* the same, by target id */
  host_rask *free_rasks;
  uint32_t nrasks, nfree_rasks, rask_sweep_at;

  host_seed *seeds;
  size_t nseeds;
  char **seed_addrs; /* the last list given to swim_join */
  size_t nseed_addrs;
  char **join_addrs; /* seeds an operator added (troupe join) */
  size_t njoin_addrs, cap_join_addrs;
  bool joined_once;  /* swim_join was called */
  bool joined_peer;  /* another member has been seen up */

  ccodec_scratch scratch; /* decoding cluster frames */
  op_service *ops;        /* the node's own operator verbs (op_service.c) */
  host_op_local *op_locals; /* admin socket clients, by name (op_admin.c) */
  host_inspect *inspects;  /* waiting for answers */
  uint64_t inspect_seq;    /* their ids */
  cluster_inspect_local_fn inspect_local; /* the node's own view */
  uint8_t session_key[32]; /* seals inspector sessions (host_session.c) */
  tls_cert_info own_cert;  /* this node's certificate, as last loaded */
  session_ask *session_asks; /* running */
  uint64_t session_seq;      /* their handles */
  /* Send path: the last target id, the peer it resolved to, and the
   * registry generation that answer is good for. */
  char last_to[TR_ID_MAX + 1];
  size_t last_to_len;
  host_peer *last_to_peer;
  uint64_t reg_gen, last_to_gen;
  /* Receive path: the last link an envelope came on, and its peer. */
  peer_link *last_rx_link;
  host_peer *last_rx_peer;
  tr_cluster_stats st;
};

/* host.c */
uint64_t host_now(cluster *);
/* Appends a copy of s to a list of strings: 0 or TR_ENOMEM. */
int strv_push(char ***v, size_t *n, size_t *cap, const char *s);
/* Re-arms the deadline timer after any swim_* / reg_* call. */
void host_rearm(cluster *);
/* 0, or TR_EPERM: the node's policy refuses who (a node, or an operator
 * client with its role) this action on object (topic: subscribe). */
int host_policy_check(cluster *, const char *who, policy_role,
                      policy_action, const char *object, const char *topic);
/* s as an actor or node id string in out; empty when s is empty or longer
 * than TR_ID_MAX. Returns the length copied. */
static inline size_t host_id_copy(char out[TR_ID_MAX + 1], wire_slice s) {
  size_t len = s.len > TR_ID_MAX ? 0 : s.len;
  if (len) memcpy(out, s.p, len);
  out[len] = '\0';
  return len;
}
host_peer *host_peer_get(cluster *, const char *name); /* creates */
host_peer *host_peer_find(cluster *, const char *name);
host_peer *host_peer_at(cluster *, uint16_t idx);
/* The link to a member, opened (dialing its known address) if needed. */
peer_link *host_link(cluster *, const char *name);
peer_link *host_peer_link(cluster *, host_peer *);
/* Closes the link to p (what it held is reported undeliverable). */
void host_close_link(cluster *, host_peer *p, peer_link *lk);
void host_defer(cluster *); /* run the deferred work soon */
void host_maybe_free(cluster *); /* frees c once nothing is open */
void host_log(cluster *, tr_log_level, const char *event,
              const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* host_seeds.c */
int host_seeds_init(cluster *, const char *const *seeds, size_t n);
void host_seeds_resolve(cluster *); /* start a round (if none runs) */
void host_seeds_free(cluster *);    /* cancels; at cluster_free */
void host_seeds_release(cluster *); /* frees; at the very end */
/* A seed an operator adds (troupe join), kept beside the configured ones:
 * the node joins through it now. 0, TR_EFULL (HOST_MAX_JOIN_ADDRS), or
 * TR_ENOMEM. */
#define HOST_MAX_JOIN_ADDRS 64u
int host_seeds_add(cluster *, const char *addr);

/* host_route.c */
void host_on_envelope(void *user, peer_link *, const wire_envelope *);
void host_on_undeliverable(void *user, peer_link *, const wire_envelope *,
                           int reason);
void host_on_link_room(void *user, peer_link *);
/* Sends a control or notice envelope straight to node `p`. */
int host_send_env(cluster *, host_peer *p, uint32_t type,
                  const char *sender, const char *target, uint64_t ask_id,
                  int status, const void *data, size_t len);

int host_send_env_topic(cluster *, host_peer *p, uint32_t type,
                        const char *sender, const char *topic,
                        const void *data, size_t len);
/* A publish, with its payload's type tag. */
int host_send_publish(cluster *, host_peer *p, const char *publisher,
                      const char *topic, const void *data, size_t len,
                      uint32_t msg_type);

/* host_pubsub.c */
void host_pubsub_on_env(cluster *, host_peer *from, const wire_envelope *,
                        const char *target, eng_name *sender);
/* Whether a local actor subscribes to publisher id. */
bool host_pubsub_wanted(cluster *, const char *id);
void host_pubsub_refresh(cluster *, const char *id, uint16_t node);
void host_pubsub_node_down(cluster *, host_peer *);
void host_pubsub_resend(cluster *, host_peer *);
void host_pubsub_free(cluster *);

/* host_group.c */
/* The registry's `held` for a shared id (a group membership). */
void host_group_held(cluster *, const char *key, const char *owner,
                     bool held);
/* Deferred: publishes the joins of members newly held and believed. */
void host_group_announce(cluster *);
/* A HOST_ENV_GROUP broadcast from `from` to the local members of group. */
void host_group_on_env(cluster *, host_peer *from, const wire_envelope *,
                       const char *group, size_t glen, eng_name *sender);
/* The policy's say on a shared id: may owner join its group. */
bool host_group_may_hold(cluster *, const char *owner, const char *key);
void host_group_free(cluster *);

/* host_operator.c */
/* The node's operator service, answering through links and the admin
 * socket; 0 or TR_ENOMEM. Freed by host_op_free (cluster_free). */
int host_op_new(cluster *, uint32_t max_subs);
void host_op_free(cluster *);
/* A request from client, whose role is `role` (its certificate's, or
 * operator for the admin socket). */
void host_op_request(cluster *, const char *client, tls_peer_role role,
                     const uint8_t *body, size_t len);
void host_op_on_frame(cluster *, peer_link *, const uint8_t *body,
                      size_t len);
/* The client's link or connection went: what it runs ends. */
void host_op_client_gone(cluster *, const char *client);
/* An admin socket client (op_admin.c): its replies go to send(user, r)
 * until it is gone. 0 or TR_ENOMEM. */
int host_op_local_attach(cluster *, const char *client,
                         int (*send)(void *user, troupe_OpReply *r),
                         void *user);
void host_op_local_detach(cluster *, const char *client);
int host_op_local_send(cluster *, const char *client, troupe_OpReply *r);
/* A reply naming this node (malloc'd, the caller frees it); r sent to
 * client with id, status and more set; a reply of status alone. */
troupe_OpReply *host_op_new_reply(cluster *);
void host_op_send(cluster *, const char *client, troupe_OpReply *r,
                  uint64_t id, int status, bool more);
int host_op_try_send(cluster *, const char *client, troupe_OpReply *r,
                     uint64_t id, int status, bool more);
void host_op_status(cluster *, const char *client, uint64_t id, int status);
/* A reply of status 0 carrying body. */
void host_op_body(cluster *, const char *client, uint64_t id,
                  const void *body, size_t len);

/* host_session.c */
int host_session_init(cluster *); /* the key: 0 or TR_ESYS */
/* An OP_SESSION request from an operator or viewer client: the token. */
void host_session_mint(cluster *, const char *client, tls_peer_role role,
                       uint64_t id);

/* host_inspect.c */
/* An OP_INSPECT request from client (an operator or a node). */
void host_inspect_answer(cluster *, const char *client,
                         const troupe_OpRequest *req);
/* A FRAME_OPERATOR_REPLY on a node's link: an answer to our request. */
void host_inspect_on_reply(cluster *, peer_link *, const uint8_t *body,
                           size_t len);
void host_inspect_on_timer(uv_timer_t *);
/* Drops the requests still waiting, without callbacks (cluster_free). */
void host_inspect_free(cluster *);

/* host_credit.c */
/* Whether p takes credited sends (its hello said so; assumed until its
 * link has been up). */
bool host_credit_peer(cluster *, host_peer *p);
/* One credit for a send or ask to `to` at p: 0 (*out holds it, to give
 * back if the send fails), TR_EFULL (none left: counted, the engine is
 * told when it comes), TR_ENOMEM. */
int host_credit_take(cluster *, host_peer *p, const char *to, size_t len,
                     host_credit **out);
void host_credit_give_back(host_credit *);
/* A credited send or ask to id at p never reached its mailbox (the link
 * gave up on it, the node refused it): the credit it took is back. */
void host_credit_unused(cluster *, host_peer *p, const char *id, size_t len);
/* A CREDIT envelope to p the link gave up on: owed again. */
void host_credit_unreturned(cluster *, host_peer *p, const char *id,
                            size_t len, uint64_t count);
/* Deferred: wakes whoever waits on id if it has credit now. */
void host_credit_rewake(cluster *, const char *id);
void host_credit_on_env(cluster *, host_peer *from, const wire_envelope *);
bool host_credit_held(cluster *, const char *id);
/* id's registry entry changed: the credit held for it is void. */
void host_credit_refresh(cluster *, const char *id);
/* A local actor stopped: what other nodes were owed for it is void. */
void host_credit_actor_gone(cluster *, const char *id);
/* p went down or (restarted) came back as a new process: credit held at
 * it is dropped, waiters told; what it is owed goes only on a restart. */
void host_credit_node_down(cluster *, host_peer *, bool restarted);
/* The link to p came up: an older node's credit entries go; owed credit
 * that could not be sent is sent. */
void host_credit_link_up(cluster *, host_peer *);
/* Sends the owed credit that could not be sent before (link full, peer
 * down); cheap when there is none. */
void host_credit_retry(cluster *);
/* A credited send or ask from p to id refused before any mailbox, with no
 * sender to tell: its one credit goes straight back. */
void host_credit_refund(cluster *, host_peer *p, const char *id, size_t len);
uint32_t host_credit_targets(cluster *);
void host_credit_free(cluster *);
/* Whether a send to `to` would be taken now (ops->room without waiting). */
bool host_credit_has_room(cluster *, const char *to, size_t len);
/* The engine's ops->room and ops->consumed. */
int host_credit_room(void *c, const char *to, size_t len);
void host_credit_consumed(void *c, const char *id, size_t len,
                          uint16_t origin, uint32_t count, uint32_t capacity);

/* host_ask.c */
/* An ask from `from` was queued to the local actor whose id is the len
 * bytes at target. */
void host_rask_add(cluster *, const char *target, size_t len, host_peer *from,
                   eng_name *asker, uint64_t ask_id, uint32_t timeout_ms);
void host_rask_done(cluster *, uint16_t node, uint64_t ask_id);
/* The target stopped: its askers' nodes get TR_ENOTFOUND now. */
void host_rask_actor_gone(cluster *, const char *id);
void host_rask_node_down(cluster *, host_peer *);
void host_rask_free(cluster *);

/* host_monitor.c */
void host_mon_on_env(cluster *, host_peer *from, const wire_envelope *);
/* A monitor request could not reach its node: its watcher gets DOWN. */
void host_mon_unreachable(cluster *, host_peer *p, const char *watcher,
                          const char *target);
void host_mon_node_down(cluster *, host_peer *, int reason);
void host_mon_resend(cluster *, host_peer *);
void host_mon_free(cluster *);

/* The engine's remote ops (eng_remote.h), by file; user is the cluster. */
int host_remote_send(void *c, const char *to, size_t to_len, uint8_t type,
                     eng_name *sender, const void *data, size_t len,
                     uint64_t ask_id, uint32_t timeout_ms, uint16_t *node,
                     uint32_t msg_type);
int host_remote_reply(void *c, const char *node, const char *asker,
                      eng_name *sender, const void *data, size_t len,
                      uint64_t ask_id, uint32_t msg_type);
int host_remote_stop(void *c, const char *id);              /* host_route.c */
int host_remote_monitor(void *c, const char *watcher, const char *target);
int host_remote_demonitor(void *c, const char *watcher, const char *target);
void host_remote_actor_gone(void *c, const char *id, int reason);
                                                          /* host_monitor.c */
void host_remote_interest(void *c, const char *publisher, const char *topic,
                          bool want);
void host_remote_publish(void *c, eng_name *publisher, eng_name *topic,
                         const void *data, size_t len,
                         uint32_t msg_type);              /* host_pubsub.c */
int host_remote_group_join(void *c, const char *group, const char *id,
                           bool join);
int host_remote_group_pick(void *c, const char *group, char *out, size_t cap);
void host_remote_group_broadcast(void *c, const char *group,
                                 eng_name *sender, const void *data,
                                 size_t len);
int host_remote_group_each(void *c, const char *group,
                           void (*fn)(void *arg, const tr_group_member *),
                           void *arg);                    /* host_group.c */
int host_remote_claim(void *c, const char *id);           /* host.c */
void host_remote_release(void *c, const char *id);

#endif /* TR_HOST_H */
