/* eng_remote.h — the engine's seam to other nodes. The engine reaches
 * anything that is not on this node only through the ops table below, which
 * the node assembly hands it with an opaque pointer (eng_remote_attach); the
 * layer that implements it (node/cluster) calls back into the engine only
 * through the eng_* calls after it. Nothing here names the cluster, a link
 * or the wire: the engine builds and is tested without them.
 *
 * Node indexes. The remote layer gives every other node it deals with a
 * small index (1..65535) kept for the node's life; 0 is this node. A queued
 * message carries the index of the node it came from in two bytes, and the
 * engine asks the remote layer for its name when it builds the envelope.
 *
 * Threads: everything here runs on the node's loop thread. */
#ifndef TR_ENG_REMOTE_H
#define TR_ENG_REMOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h> /* free: eng_name_unref */

#include "troupe.h"

/* ---- interned names ------------------------------------------------------ */

/* An interned, reference-counted string (an actor id, a sender, a topic):
 * a queued message outlives the actor that sent it without a copy. */
typedef struct eng_name {
  uint32_t refs;
  uint32_t len;
  char str[];
} eng_name;

eng_name *eng_name_new(const char *s, size_t len); /* refs = 1; NULL: ENOMEM */
static inline eng_name *eng_name_ref(eng_name *n) {
  if (n) n->refs++;
  return n;
}
static inline void eng_name_unref(eng_name *n) { /* NULL is a no-op */
  if (n && --n->refs == 0) free(n);
}

/* ---- what the engine asks of the remote layer ----------------------------- */

typedef struct eng_remote_ops {
  /* Sends to an id no local actor holds. TR_ENOTFOUND (nobody holds it),
   * TR_EUNREACHABLE (its node is not up), TR_EFULL (nothing queued),
   * TR_ENOMEM. An ask carries its timeout (the target's node answers it if
   * the target stops without replying). *node (may be NULL) gets the
   * owner's node index on success. */
  int (*send)(void *user, const char *to, size_t to_len, uint8_t type,
              eng_name *sender, const void *data, size_t len, uint64_t ask_id,
              uint32_t timeout_ms, uint16_t *node, uint32_t msg_type);
  /* A reply from local `sender` to an ask that came from node `node` (the
   * name in the ask's envelope) from actor `asker`. Errors as send. */
  int (*reply)(void *user, const char *node, const char *asker,
               eng_name *sender, const void *data, size_t len,
               uint64_t ask_id, uint32_t msg_type);
  /* A local spawn of id: TR_EEXIST if another node holds it. */
  int (*claim)(void *user, const char *id);
  /* Gives back a claim whose spawn failed before the actor existed. */
  void (*release)(void *user, const char *id);
  /* A local actor stopped (its local id is already free): release its
   * claim, tell its remote watchers (reason), drop the monitors it held and
   * answer the asks from other nodes that wait on it. Also for '$' ids. */
  void (*actor_gone)(void *user, const char *id, int reason);
  /* Monitors an id no local actor holds: TR_ENOTFOUND when nobody holds it
   * (the engine then sends DOWN itself). DOWN later arrives through
   * eng_notice. */
  int (*monitor)(void *user, const char *watcher, const char *target);
  /* Removes watcher's remote monitors on target: how many there were. */
  int (*demonitor)(void *user, const char *watcher, const char *target);
  /* Stop-by-id of an id no local actor holds: TR_ENOTFOUND... */
  int (*stop)(void *user, const char *id);
  /* The engine's backlog crossed its bounds: stop reading from other nodes
   * (true) until it drains (false). The engine decides; this obeys. */
  void (*pause)(void *user, bool pause);
  /* The name of the node with index idx (>= 1); "?" if unknown. */
  const char *(*node_name)(void *user, uint16_t idx);
  /* Local subscribers of (publisher, topic) went from none to some (want)
   * or back: tell the publisher's node, or withdraw. Topic "" is the
   * default topic. */
  void (*interest)(void *user, const char *publisher, const char *topic,
                   bool want);
  /* A local publish on a topic marked remote (eng_topic_remote): one copy
   * to every interested node. */
  void (*publish)(void *user, eng_name *publisher, eng_name *topic,
                  const void *data, size_t len, uint32_t msg_type);
  /* tr_node_stop on a node with a remote layer: leave (graceful). */
  void (*leave)(void *user);
  /* Would a send to `to` (no local actor holds it) be taken now? 1: yes;
   * 0: TR_EFULL (the remote layer calls eng_room_open for it when that
   * changes); TR_ENOTFOUND, TR_EUNREACHABLE. NULL: always 1. */
  int (*room)(void *user, const char *to, size_t to_len);
  /* Local actor id (len bytes) has taken `count` sends and asks that came
   * from node `origin` out of its mailbox of `capacity`: room the remote
   * layer may give back to that node (flow-control credit). Called after
   * the actor's turn, once per run of messages from one node. */
  void (*consumed)(void *user, const char *id, size_t id_len, uint16_t origin,
                   uint32_t count, uint32_t capacity);
  /* A long run of local work is under way (every ENG_FLUSH_EVERY messages
   * of one loop iteration): write what it queued for other nodes now. */
  void (*flush)(void *user);
  /* Groups (group.c). Local actor id joined group (join) or left it: the
   * cluster learns of it. A join may fail: TR_EINVAL, TR_ENOMEM (the
   * engine then does not join); a leave always leaves here (out of memory,
   * the cluster may keep the membership: logged group_leave_lost). */
  int (*group_join)(void *user, const char *group, const char *id,
                    bool join);
  /* A member of group on another node with room now (round robin over
   * them): its id into out (cap >= TR_ID_MAX + 1 bytes). 1: picked; 0:
   * members, none with room; TR_ENOTFOUND: none. */
  int (*group_pick)(void *user, const char *group, char *out, size_t cap);
  /* A broadcast on this node: one envelope to every other node with
   * members of group (they fan it out with eng_deliver_group). */
  void (*group_broadcast)(void *user, const char *group, eng_name *sender,
                          const void *data, size_t len);
  /* Calls fn (may be NULL) for each member of group (NULL: of every
   * group) on other nodes; how many. */
  int (*group_each)(void *user, const char *group,
                    void (*fn)(void *arg, const tr_group_member *),
                    void *arg);
} eng_remote_ops;

/* ---- what the remote layer may do in the engine ---------------------------- */

/* A SEND or ASK from node `origin` to the local actor whose id is the len
 * bytes at to (not NUL-terminated). 0, TR_ENOTFOUND, TR_EFULL (nothing
 * queued), TR_ENOMEM. credited: the sending node held credit for it (the
 * room was promised), so a full mailbox takes it anyway (never TR_EFULL).
 * Counts nothing: the caller knows who to tell. When the backlog passes its
 * bound the engine pauses the remote layer. */
int eng_deliver(tr_node *, const char *to, size_t to_len, uint8_t type,
                eng_name *sender, const void *data, size_t len,
                uint64_t ask_id, uint16_t origin, bool credited,
                uint32_t msg_type);
/* A reply (or an error status for it) from node `origin`: delivered to the
 * asker if the ask is pending and was sent there, else counted as a late
 * reply and TR_ETIMEDOUT returned. */
int eng_ask_complete(tr_node *, uint64_t ask_id, eng_name *sender,
                     const void *data, size_t len, int status,
                     uint16_t origin, uint32_t msg_type);
/* Answers every ask waiting on node `origin` with status (it died, left or
 * restarted). */
void eng_asks_node_down(tr_node *, uint16_t origin, int status);
/* A notice (TR_MSG_DOWN...) from `sender` to local actor `to`, past its
 * capacity; nothing if `to` is gone. */
void eng_notice(tr_node *, const char *to, uint8_t type, const char *sender,
                int status, uint16_t origin);
/* Publishes as TR_SYSTEM_PUBLISHER on its default topic: subscribers
 * reached. */
int eng_publish_system(tr_node *, uint8_t type, const void *data, size_t len,
                       int status);
/* A publish of `publisher` that came from node `origin`, to the local
 * subscribers of (publisher, topic): subscribers reached. */
int eng_deliver_publish(tr_node *, eng_name *publisher, const char *topic,
                        size_t topic_len, const void *data, size_t len,
                        uint16_t origin, uint32_t msg_type);
/* A broadcast to group (glen bytes) from node `origin`, to the local
 * members: members reached (a full one misses it, counted group_full). */
int eng_deliver_group(tr_node *, const char *group, size_t glen,
                      eng_name *sender, const void *data, size_t len,
                      uint16_t origin);
/* One member of group with room, chosen as tr_group_send does: its id
 * into out (cap >= TR_ID_MAX + 1). 0; TR_EFULL; TR_ENOTFOUND; TR_EINVAL
 * (refusals counted like a send's). */
int eng_group_pick(tr_node *, const char *group, char *out, size_t cap);
/* TR_EINVAL unless group is a valid group name (troupe.h). */
int eng_group_check(const char *group, size_t *len_out);
/* A membership event: member `id` on `node` joined group (or left it), to
 * the subscribers of "group:<group>" on the system publisher. */
void eng_group_event(tr_node *, const char *group, const char *id,
                     const char *node, bool joined);
/* Other nodes want (publisher, topic) (true) or no longer do: while marked,
 * the topic lives without local subscribers and every local publish on it
 * goes to ops->publish as well. 0 or TR_ENOMEM. */
int eng_topic_remote(tr_node *, const char *publisher, size_t pub_len,
                     const char *topic, size_t topic_len, bool remote);
/* A publish on topic as local actor id, which must be of `type` (the
 * remote layer's own publishers: an operator's): what tr_publish_topic in
 * its callback would return; TR_ENOTFOUND when no live local actor holds
 * id, TR_EPERM when one of another type does. */
int eng_publish_as(tr_node *, const char *id, const tr_actor_type *type,
                   const char *topic, const void *data, size_t len);
/* True when a local actor holds id and is not stopping. */
bool eng_actor_live(tr_node *, const char *id);
/* tr_node_stop_actor and tr_node_send for what the remote layer has
 * already judged (another node's stop, an operator's send): the node's
 * guard (eng_set_guard) is not asked. */
int eng_stop_actor(tr_node *, const char *id);
int eng_send_judged(tr_node *, const char *to, const void *data, size_t len);
/* Another node won id: its local actor stops with `reason` (now, or after
 * its running callback). 1 when it does, 0 when it is already stopping,
 * TR_ENOTFOUND when no local actor holds id. */
int eng_actor_lost(tr_node *, const char *id, int reason);
/* A node-internal actor with a reserved id (starting with '$'), which no
 * other node ever learns of: errors as tr_node_spawn. */
int eng_spawn_system(tr_node *, const tr_actor_type *, const char *id,
                     const void *arg);
/* Stops a local actor now with `reason` (not while one of its callbacks
 * runs: then after it). TR_ENOTFOUND. */
int eng_stop_now(tr_node *, const char *id, int reason);
/* A send to id (len bytes; NULL: to any id) that got TR_EFULL may be taken
 * now: sends deferred for it move on, and the actors waiting for its room
 * get TR_MSG_WRITABLE with status (0; or why it will never come:
 * TR_ENOTFOUND, TR_EUNREACHABLE). */
void eng_room_open(tr_node *, const char *id, size_t len, int status);
/* Counts a dead letter (logged at totals 1, 2, 4, 8... per reason) and
 * keeps it among the node's recent ones: from the sending actor (NULL:
 * outside actors), to its target (NULL: none), len its payload's bytes. */
void eng_count_dead(tr_node *, tr_dead_reason, const char *from,
                    const char *to, size_t len);
/* The node's default ask timeout. */
uint32_t eng_ask_timeout_ms(tr_node *);

/* A tap on the node's log (an operator's `troupe monitor`): fn gets every
 * line up to level, on the loop, after the user's callback; a line fn
 * itself logs does not come back to any tap. NULL: out of memory or a bad
 * level. Remove it before its user goes (safe inside fn). */
typedef struct eng_log_tap eng_log_tap;
typedef void (*eng_log_tap_fn)(void *user, tr_log_level, const char *event,
                               const char *fields);
eng_log_tap *eng_log_tap_add(tr_node *, tr_log_level, eng_log_tap_fn fn,
                             void *user);
void eng_log_tap_remove(tr_node *, eng_log_tap *);

#endif /* TR_ENG_REMOTE_H */
