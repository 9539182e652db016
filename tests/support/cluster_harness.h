/* cluster_harness.h — several cluster nodes in one process, each on its own
 * thread and loop, on loopback, for tests and benchmarks. The test thread
 * runs code on a node's loop thread with tn_call; "probe" actors record what
 * they receive in a shared log and act on text commands. */
#ifndef TR_CLUSTER_HARNESS_H
#define TR_CLUSTER_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "troupe.h"

typedef struct tn_cluster tn_cluster;

typedef struct tn_opts {
  uint32_t probe_interval_ms; /* 0: the node default */
  uint32_t probe_timeout_ms;
  bool no_join; /* nodes start without seeds */
  bool crl;     /* nodes load tn_dir/crl.pem (empty at start; tn_revoke) */
  uint32_t no_credit_mask; /* bit i: node i is a node before flow credit */
  /* Called for each node right after tr_node_new, before its loop runs
   * (e.g. to make it another version: link_mgr_emulate). */
  void (*setup)(tr_node *, size_t i, void *arg);
  void *setup_arg;
} tn_opts;

/* Nodes "n0".."n<count-1>" listening on 127.0.0.1, every one seeded with
 * n0's address; each runs on its own thread. NULL opts: defaults. */
int tn_new(tn_cluster **out, size_t count, const tn_opts *);
/* tn_new, then waits (tn_wait_alive) until every node sees all `count`
 * alive; TR_ETIMEDOUT (nothing left behind) if they do not within max_ms. */
int tn_new_joined(tn_cluster **out, size_t count, const tn_opts *,
                  uint32_t max_ms);
/* Stops (leaving the cluster) and frees every node still running. */
void tn_free(tn_cluster *);

size_t tn_count(tn_cluster *);
/* The directory holding ca.pem and each node's NAME.pem / NAME.key. */
const char *tn_dir(tn_cluster *);
/* Writes a client certificate NAME.pem / NAME.key with role `role`
 * ("operator", "viewer", NULL: none), signed by the cluster CA or (other_ca)
 * a CA nobody trusts, and other-ca.pem, into tn_dir. */
int tn_write_client(tn_cluster *, const char *name, int other_ca,
                    const char *role);
/* Writes a node certificate NAME.pem / NAME.key into tn_dir: with role
 * node, or (no_role) signed by the cluster CA but without a role. */
int tn_write_node_cert(tn_cluster *, const char *name, int no_role);
/* An attacker: a node certificate NAME from the cluster CA (tn_write_node_
 * cert), a hand-held peer using it (*out, wire_client.h: wc_free) and, if
 * key is not NULL, a tls_config with its key to sign as NAME (*key:
 * tls_config_free). 0 or an error. */
typedef struct wc wc;
typedef struct tls_config tls_config;
int tn_attacker(tn_cluster *, const char *name, wc **out, tls_config **key);
/* Rewrites tn_dir/crl.pem revoking the certificates NAME.pem of the names
 * given (nodes see it on tn_reload_tls). 0 or -1. */
int tn_revoke(tn_cluster *, const char *const *names, size_t n);
/* tr_node_reload_tls on node i's loop. */
int tn_reload_tls(tn_cluster *, size_t i);
/* tr_node_set_policy on node i's loop (text NULL: none); the error into
 * err (errlen bytes; may be NULL). */
int tn_set_policy(tn_cluster *, size_t i, const char *text, char *err,
                  size_t errlen);
const char *tn_name(tn_cluster *, size_t i);
const char *tn_addr(tn_cluster *, size_t i);

/* Runs fn(node, arg) on node i's loop thread and returns what it returns;
 * TR_ETIMEDOUT if it did not run within 10 s, TR_ESTATE if the node is
 * stopped. */
int tn_call(tn_cluster *, size_t i, int (*fn)(tr_node *, void *), void *arg);
/* Graceful: tr_node_stop (the node leaves), its thread ends, it is freed. */
void tn_stop(tn_cluster *, size_t i);
/* Stops node i (it leaves) and starts a new process-alike with the same
 * name: a new epoch, no actors, seeded with n0 (or with nothing if i is 0
 * and alone). */
int tn_restart(tn_cluster *, size_t i);
/* Hangs node i's loop (as SIGSTOP would) until tn_thaw. */
void tn_freeze(tn_cluster *, size_t i);
void tn_thaw(tn_cluster *, size_t i);

/* Polls pred every 10 ms (from the test thread) for at most max_ms;
 * returns the ms it took, or -1 if it never held. */
long tn_wait(tn_cluster *, bool (*pred)(tn_cluster *, void *), void *arg,
             uint32_t max_ms);
/* Waits (tn_wait) until every node sees exactly n members alive (itself
 * included); returns the ms it took, or -1. */
long tn_wait_alive(tn_cluster *, int n, uint32_t max_ms);

/* ---- probes --------------------------------------------------------------- */

/* A probe actor `id` on node i. It records every envelope it gets, answers
 * asks with "re:" + the data (but not asks "mute...", and on an ask
 * "quit..." it stops without replying), and runs commands sent to it as
 * text:
 *   "send TO TEXT", "ask TO TEXT" (timeout 30 s), "askt TO MS TEXT",
 *   "mon TO", "demon TO",
 *   "sub PUBLISHER", "stop ID" (tr_stop_actor), "child ID" (a child probe,
 *   spawned and monitored in one turn), "burst TO N [PREFIX]" / "askburst TO N
 *   [PREFIX [MS]]" (N sends / asks "b0".. or PREFIX0.. in one turn, asks
 *   with timeout MS, 30 s by default; the first error is the command's
 *   status), "stream TO N [PREFIX]" / "askstream TO N [PREFIX [MS]]" (the
 *   same, flow-controlled: on TR_EFULL it asks tr_send_notify and goes on
 *   at TR_MSG_WRITABLE; a "stream" event "done SENT efull=K" ends it, with
 *   the error that stopped it as status), "notify TO" (tr_send_notify),
 *   "pub TOPIC TEXT", "pubn TOPIC N" (N publishes "p0".."p<N-1>" in one
 *   turn; TOPIC "-" is the default topic), "subt PUB TOPIC",
 *   "unsubt PUB TOPIC", "unsub PUB"; groups: "join G", "leave G",
 *   "gsend G TEXT" (tr_group_send_to; a "gchosen" event names the member),
 *   "gask G TEXT", "gall G TEXT" (tr_group_broadcast), "gwatch G" (its
 *   membership events: "group_join" / "group_leave" events, the member in
 *   data, the group in topic), "gstream G N [K]" (N group sends "g0".., each
 *   TR_EFULL retried 1 ms later, and with K a 1 ms pause every K sends; a "gstream" event "done N efull=K" ends
 *   it). A group broadcast is recorded as "send" with the group in topic.
 * The result of each command is recorded as a "cmd" event with its status.
 * Returns the spawn's result. */
int tn_probe(tn_cluster *, size_t i, const char *id);
/* The same with a mailbox of `capacity` slots (0: the default). */
int tn_probe_cap(tn_cluster *, size_t i, const char *id, uint32_t capacity);
/* Sends cmd to probe `id` on node i (from outside actors). */
int tn_cmd(tn_cluster *, size_t i, const char *id, const char *cmd);
/* Has probe `asker` on node i ask `target` text and waits for the reply:
 * its status, or TR_ETIMEDOUT after max_ms. */
int tn_ask(tn_cluster *, size_t i, const char *asker, const char *target,
           const char *text, uint32_t max_ms);

typedef struct tn_event {
  char kind[12];  /* "send", "ask", "reply", "down", "node_up",
                     "node_down", "child_exit", "cmd" */
  char actor[64]; /* the probe that recorded it */
  char from[64];  /* sender id ("" from outside) */
  char node[64];  /* the node it came from (env->node) */
  char data[96];  /* payload as text */
  char topic[64]; /* publishes: the topic ("" default) */
  int status;
  uint64_t at_ms; /* monotonic, when recorded */
} tn_event;

/* The first recorded event matching every non-NULL field (status matched
 * when want_status is true); true and *out set if found. */
bool tn_find(tn_cluster *, const char *kind, const char *actor,
             const char *data, bool want_status, int status, tn_event *out);
size_t tn_count_events(tn_cluster *, const char *kind, const char *actor);
/* The nth (from 0) recorded event of kind for actor, in arrival order. */
bool tn_nth(tn_cluster *, const char *kind, const char *actor, size_t nth,
            tn_event *out);
void tn_clear_events(tn_cluster *);
/* Waits (tn_wait) until actor has recorded at least n events of kind;
 * returns the ms it took, or -1. */
long tn_wait_events(tn_cluster *, const char *kind, const char *actor,
                    size_t n, uint32_t max_ms);
/* Waits (tn_wait) until tn_find would find such an event; returns the ms it
 * took, or -1. */
long tn_wait_find(tn_cluster *, const char *kind, const char *actor,
                  const char *data, bool want_status, int status,
                  uint32_t max_ms);

/* ---- views (run through tn_call) ------------------------------------------ */

/* Members node i sees in state st, itself included. */
int tn_members_in(tn_cluster *, size_t i, tr_member_state st);
/* How many times node i logged `event` at warning or error level since it
 * started (restarts count afresh); the latest one's fields into last (cap
 * bytes; NULL: not wanted). */
size_t tn_log_count(tn_cluster *, size_t i, const char *event, char *last,
                    size_t cap);
/* State of member `name` as node i sees it; -1 if unknown. */
int tn_member_state(tn_cluster *, size_t i, const char *name);
/* Member `name` as node i sees it: 0, or TR_ENOTFOUND. */
int tn_member(tn_cluster *, size_t i, const char *name, tr_member *out);
/* Where node i resolves id: 0 and owner copied, or TR_ENOTFOUND. */
int tn_locate(tn_cluster *, size_t i, const char *id, char *owner, size_t cap);

/* Other nodes' interests in node i's publishers (tr_node_subscriptions
 * entries with no local subscriber). */
int tn_interest(tn_cluster *, size_t i);
/* Node i's link to peer. */
int tn_peer(tn_cluster *, size_t i, const char *peer, tr_peer_stats *);
/* delivered / dropped summed over subscriber's subscriptions on node i;
 * returns how many it has. */
int tn_sub_counts(tn_cluster *, size_t i, const char *subscriber,
                  uint64_t *delivered, uint64_t *dropped);
/* Node i's engine and cluster counters. */
int tn_stats(tn_cluster *, size_t i, tr_node_stats *, tr_cluster_stats *);

uint64_t tn_now_ms(void);

#endif
