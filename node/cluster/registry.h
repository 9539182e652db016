/* registry.h — the cluster-wide actor registry (actor id -> owning node) as a
 * deterministic state machine, like swim.h: no I/O, no clock, seeded
 * randomness; the host feeds it membership changes, messages and `now`, and
 * sends what it asks.
 *
 * Model. Each owner's actors form a versioned set: the owner bumps its
 * version on every local claim or release and gossips the change as a delta
 * (owner, epoch, version, id, added|removed) to a few random members, each
 * delta riding lambda*log(N+1) rounds. A node applies a delta when it is the
 * next version of that owner; a gap marks the owner stale and the node pulls
 * the owner's full set. Anti-entropy: every sync interval a node sends a
 * digest (owner, epoch, version per owner) to one random member, who pushes
 * the sets it holds newer and pulls the ones it holds older. Lookups are a
 * hash lookup, never a round trip.
 *
 * Rules every node computes the same way:
 * - An owner that is dead or left, or that restarted (newer epoch), loses
 *   every entry of its older epochs.
 * - Entries are accepted only for an owner the membership knows alive (or
 *   suspect) in exactly that epoch; others are rejected and counted, so a
 *   peer cannot register actors for a node it is not, or for a dead epoch.
 * - Claims from the network about *this* node's own set are ignored (only
 *   this node speaks for itself) and counted.
 * - Two live owners for one id (after a partition heals): the owner whose
 *   name sorts first (strcmp) wins. Lookups answer the winner everywhere;
 *   the losing node is told (on_conflict_lost) and must stop its actor and
 *   release the id. */
#ifndef TR_REGISTRY_H
#define TR_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "troupe.h"

typedef struct reg_delta {
  char owner[TR_ID_MAX + 1];
  uint64_t epoch;
  uint64_t version; /* the owner's set version after this change */
  char id[TR_ID_MAX + 1];
  uint8_t removed;
} reg_delta;

typedef struct reg_digest {
  char owner[TR_ID_MAX + 1];
  uint64_t epoch;
  uint64_t version;
} reg_digest;

typedef enum {
  REG_MSG_DELTAS,  /* deltas: changes to gossip on */
  REG_MSG_DIGEST,  /* digests: what the sender holds, per owner */
  REG_MSG_PULL,    /* digests: owners whose full set the sender wants */
  REG_MSG_SET      /* one owner's full set: digests[0] + ids */
} reg_msg_type;

typedef struct reg_msg {
  reg_msg_type type;
  char sender[TR_ID_MAX + 1]; /* must equal the authenticated peer */
  const reg_delta *deltas;
  uint32_t ndeltas;
  const reg_digest *digests;
  uint32_t ndigests;
  const char *const *ids; /* REG_MSG_SET: the owner's live ids */
  uint32_t nids;
} reg_msg;

typedef struct reg_config {
  const char *name; /* this node */
  uint64_t epoch;
  uint64_t seed;
  uint32_t gossip_interval_ms; /* deltas go out this often [50] */
  uint32_t fanout;             /* members per gossip round [3] */
  uint32_t retransmit_mult;    /* lambda in lambda*log(N+1) [4] */
  uint32_t max_deltas;         /* per message [64] */
  uint32_t sync_interval_ms;   /* digest exchange [5000] */
} reg_config;

typedef struct reg_ops {
  void (*send)(void *user, const char *to, const reg_msg *msg);
  /* An id now resolves to `owner` (NULL: to nobody). */
  void (*changed)(void *user, const char *id, const char *owner);
  /* This node lost `id` to another owner: stop the local actor (reason
   * TR_EEXIST), then call reg_release. */
  void (*conflict_lost)(void *user, const char *id, const char *winner);
} reg_ops;

typedef struct registry registry;

int reg_new(registry **out, const reg_config *, const reg_ops *, void *user);
void reg_free(registry *); /* NULL ok */

/* Membership, from swim's member_changed: alive/suspect members (with their
 * epoch), and members that are gone (dead or left). */
void reg_member_up(registry *, const char *name, uint64_t epoch,
                   uint64_t now_ms);
void reg_member_gone(registry *, const char *name, uint64_t now_ms);

/* A local spawn: TR_EEXIST if the id resolves to a live owner (this node or
 * another), else 0 and the claim is gossiped. */
int reg_claim(registry *, const char *id, uint64_t now_ms);
/* A local stop: releases an id this node owns; TR_ENOTFOUND otherwise. */
int reg_release(registry *, const char *id, uint64_t now_ms);

/* The owner `id` resolves to, or NULL. Valid until the next call. */
const char *reg_lookup(registry *, const char *id);

void reg_receive(registry *, const char *from, const reg_msg *,
                 uint64_t now_ms);
void reg_tick(registry *, uint64_t now_ms);
uint64_t reg_next_deadline(registry *);

size_t reg_count(registry *); /* ids that resolve */
/* Calls fn for every (id, owner) that resolves, in no particular order. */
void reg_each(registry *, void (*fn)(void *arg, const char *id,
                                     const char *owner), void *arg);

typedef struct reg_stats {
  uint64_t claims, releases, deltas_applied, deltas_out, msgs_out;
  uint64_t pulls, sets_applied, conflicts, conflicts_lost;
  uint64_t rejected_sender, rejected_owner, rejected_self;
} reg_stats;

void reg_get_stats(registry *, reg_stats *out);

#endif /* TR_REGISTRY_H */
