/* eng_node.h — the engine's lifecycle, as the node assembly (node/assembly)
 * drives it. A tr_node is the engine's node; the assembly creates it here,
 * attaches a remote layer to it when the node is a cluster member, and tears
 * both down in order. The engine's own unit tests use these calls directly,
 * with no remote layer at all. Loop thread, except where said. */
#ifndef TR_ENG_NODE_H
#define TR_ENG_NODE_H

#include <string.h>

#include "eng_remote.h"
#include "troupe_inspect.h"

/* ---- structs that grow (troupe.h, "Growth") ------------------------------- */

/* Copies a caller's struct of `have` bytes into the library's of `want`
 * bytes: fields the caller's struct lacks are 0; bytes the library does not
 * know must be 0 (TR_EINVAL otherwise: the caller asks for something this
 * library cannot do). */
static inline int eng_struct_in(void *dst, size_t want, const void *src,
                                size_t have) {
  memset(dst, 0, want);
  if (have <= want) {
    memcpy(dst, src, have);
    return 0;
  }
  memcpy(dst, src, want);
  for (size_t i = want; i < have; i++)
    if (((const unsigned char *)src)[i]) return TR_EINVAL;
  return 0;
}

/* Writes the library's struct of `have` bytes into the caller's of `room`
 * bytes: what fits. */
static inline void eng_struct_out(void *dst, size_t room, const void *src,
                                  size_t have) {
  memcpy(dst, src, room < have ? room : have);
}

/* Creates the engine of a node from the engine's part of cfg (name, loop,
 * mailbox and payload bounds, ask timeout, batch, thread-safe queue, log);
 * cfg may be NULL. TR_EINVAL for a bad value, TR_ENOMEM, TR_ESYS. The
 * cluster fields of cfg are not looked at. */
int eng_node_new(tr_node **out, const tr_node_config *cfg);
/* From here on the engine reaches other nodes through ops (borrowed; must
 * outlive the attachment) with user as their first argument. Attach before
 * the first spawn: generated ids then carry the node's name. */
void eng_remote_attach(tr_node *, const eng_remote_ops *ops, void *user);
/* The user pointer given to eng_remote_attach, or NULL. */
void *eng_remote_user(tr_node *);
/* Stops calling the remote layer (before it is freed). */
void eng_remote_detach(tr_node *);
/* The first half of freeing: queued thread-safe sends are handled, then
 * every actor stops (children before parents, deinit for each; the remote
 * layer hears of each). Idempotent; no spawn succeeds afterwards. */
void eng_node_shutdown(tr_node *);
/* Shuts down if not yet, frees everything the engine holds and, when the
 * node owns its loop, runs it until every handle has closed (so what other
 * layers closed on it is released too) and closes it. NULL is a no-op. */
void eng_node_free(tr_node *);
/* What this node's own actors and callers ask to do, for a policy to
 * refuse: a spawn (its id: given or generated), tr_send / tr_node_send /
 * tr_ask, tr_send_after / tr_send_every (when scheduled), tr_stop_actor /
 * tr_node_stop_actor, tr_subscribe* (object the publisher, topic its
 * topic; NULL otherwise), tr_group_join (object the group) and
 * tr_group_broadcast (a send to "group:<name>"). Not asked: replies, stopping oneself, what the
 * engine sends itself, '$' system actors, and tr_node_send_threadsafe
 * (another thread: the program's own). A non-zero return (TR_EPERM) fails
 * the call with it, nothing done. */
typedef enum {
  ENG_ACT_REGISTER = 0,
  ENG_ACT_SEND,
  ENG_ACT_ASK,
  ENG_ACT_STOP,
  ENG_ACT_SUBSCRIBE,
  ENG_ACT_JOIN /* tr_group_join: object the group */
} eng_act;
typedef int (*eng_guard_fn)(void *user, eng_act, const char *object,
                            const char *topic);
/* fn NULL: no guard (the default). */
void eng_set_guard(tr_node *, eng_guard_fn fn, void *user);
/* The user pointer given to eng_set_guard, or NULL. */
void *eng_guard_user(tr_node *);

/* The level of the user's log callback (the callback stays). */
void eng_set_log_level(tr_node *, tr_log_level);
/* Every layer's log lines go through eng_log_line (a tr_log_fn; user: the
 * node), which hands them to the user's callback and to the taps
 * (eng_remote.h). The level lines should be built at (the most verbose
 * listener's) is eng_log_level; fn hears when it changes. */
void eng_log_line(void *node, tr_log_level, const char *event,
                  const char *fields);
tr_log_level eng_log_level(tr_node *);
void eng_set_log_hook(tr_node *, void (*fn)(void *user, tr_log_level),
                      void *user);
/* Calls fn (may be NULL) for each of the node's recent dead letters,
 * newest first (with actor: those it sent or that were addressed to it);
 * the strings are valid during the call. Returns how many matched. */
int eng_dead_letters_each(tr_node *, const char *actor,
                          void (*fn)(void *arg, const tr_dead_letter *),
                          void *arg);
/* Calls fn (may be NULL) for each monitor between two local actors (with
 * actor: those where it watches or is watched); both nodes are this
 * node's name. Returns how many matched. */
int eng_monitors_each(tr_node *, const char *actor,
                      void (*fn)(void *arg, const tr_monitor_info *),
                      void *arg);
/* Calls fn for each local subscriber of any (publisher, topic): the
 * engine's part of tr_node_subscriptions. Returns how many. */
int eng_subscriptions_each(tr_node *,
                           void (*fn)(void *arg, const tr_sub_info *),
                           void *arg);
/* Logs through the node's callback (event name, key=value fields). */
void eng_log(tr_node *, tr_log_level, const char *event, const char *fmt,
             ...) __attribute__((format(printf, 4, 5)));

#endif /* TR_ENG_NODE_H */
