/* registry.h — the cluster-wide actor registry (actor id -> owning node) as a
 * deterministic state machine, like swim.h: no I/O, no clock, seeded
 * randomness; the host feeds it membership changes, messages and `now`, and
 * sends what it asks.
 *
 * Model. Each owner's actors form a versioned set: the owner bumps its
 * version on every local claim or release. The changes of one gossip round
 * are sealed together, a batch of deltas (owner, epoch, version, id,
 * added|removed) for consecutive versions with the owner's signature over
 * them (when the host signs), and the batch travels whole to a few random
 * members, riding lambda*log(N+1) sends (up to 8 peers: every round goes
 * to every peer, and each batch to each peer twice). A node applies a
 * batch's deltas from the next version of that owner; a gap marks the owner
 * stale and the node pulls the owner's full set from the owner.
 * Anti-entropy: every sync interval a node sends a digest (owner, epoch,
 * version per owner) to one random member, who sends its own set if the
 * sender is behind on it, pulls from their owners the sets the sender holds
 * newer, and answers with its own digest if it holds others newer. Lookups
 * are a hash lookup, never a round trip.
 *
 * An owner speaks only for its set (when the host gives sign and verify).
 * Deltas are believed from their owner (its own link) or, relayed, with
 * its seal: a batch whose proof does not verify is refused and counted
 * (rejected_proof), and the relayer's proofs go unchecked for
 * REG_PROOF_PENALTY_MS. A full set (SET) is believed only from its owner,
 * and only the owner answers a pull for it; digests from others never move
 * what is believed of an owner's version, they only make this node ask the
 * owner. So no member can add, remove or inflate the version of another's
 * entries.
 *
 * Rules every node computes the same way:
 * - An owner that is dead or left, or that restarted (newer epoch), loses
 *   every entry of its older epochs.
 * - Entries are accepted only for an owner the membership knows alive (or
 *   suspect) in exactly that epoch; others are rejected and counted, so a
 *   peer cannot register actors for a node it is not, or for a dead epoch.
 * - Claims from the network about *this* node's own set are ignored (only
 *   this node speaks for itself) and counted.
 * - Two live owners for one id: the earlier claim wins. Every claim
 *   carries `since`, the owner's clock when it claimed (sealed with its
 *   batch), and each holder bounds what it believes of it: a claim heard
 *   while its owner has been in touch (alive here) for claim_skew_ms cannot
 *   be older than its arrival minus claim_skew_ms (it would have arrived
 *   sooner); one heard after the owner came back (a partition healed) and
 *   before its own word (its SET, or its digest matching what is held)
 *   says this node has caught up with it cannot be older than when the
 *   owner was first lost, minus claim_skew_ms, however long the catching
 *   up takes; one
 *   from an owner this node never lost is believed. So an id a live owner
 *   holds cannot be taken by a later claim, however its claimant dates it
 *   or is named, while after a genuine partition the claims' own times
 *   decide, the same on every node (clocks within claim_skew_ms). Equal
 *   times: the smaller FNV-1a of (id, owner). Lookups answer the winner;
 *   the losing node is told (conflict_lost) and must stop its actor and
 *   release the id. (A node that joins after a contest began has no past
 *   with the claimants: it believes their times as given.)
 *
 * Protocol choices worth knowing (details in registry.c and
 * registry_gossip.c):
 * - A batch about the member it is gossiped to is counted as sent but not
 *   sent (its owner knows it); nobody is sent its own set.
 * - Batches of one message are applied sorted by (owner, epoch, first).
 *   Out-of-order ones past a gap are not buffered: the owner is marked
 *   stale and pulled from the owner, at most once per 4 gossip intervals
 *   per owner. A batch already held is skipped unchecked.
 * - A digest lists every owner up here, version 0 included, so an owner
 *   missing from it is one the sender does not know up: it gets no SET.
 *   Owners whose epoch differs on the two sides are skipped; membership
 *   settles the epoch first.
 * - The first sync runs one gossip interval after the first peer comes up
 *   (a joining node, or one that was alone), later ones every
 *   sync_interval_ms. After a partition heals, anti-entropy alone brings
 *   back the sets dropped meanwhile, within a few sync intervals.
 * - At most 1024 batches wait to be gossiped; past that the most-sent one
 *   is dropped (receivers see a gap and pull the set). An own batch holds
 *   at most max_deltas deltas (one message). */
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
  uint64_t since; /* a claim: the owner's wall clock, ms, when it claimed */
} reg_delta;

/* The owner's seal over its deltas for versions first..last (all of them
 * in the same message): proof is its signature over reg_seal_bytes (none
 * when the owner does not sign). Every delta travels under a seal. */
typedef struct reg_seal {
  char owner[TR_ID_MAX + 1];
  uint64_t epoch;
  uint64_t first, last;
  const uint8_t *proof;
  uint16_t proof_len;
} reg_seal;

#define REG_SEAL_MAX 4096         /* deltas under one seal */
#define REG_PROOF_MAX 512         /* bytes of a seal's proof */
#define REG_PROOF_PENALTY_MS 1000u /* see reg_ops.verify */

/* What an owner signs: "troupe-reg-1", owner, epoch, first, last, then for
 * each delta in version order removed (0 or 1), since (0 for a removal)
 * and id, in a fixed byte layout. deltas: the seal's, in version order. Returns the length written
 * to out (at most reg_seal_bytes_max(n) bytes). */
size_t reg_seal_bytes_max(uint32_t ndeltas);
size_t reg_seal_bytes(const reg_seal *, const reg_delta *const *deltas,
                      uint8_t *out);

typedef struct reg_digest {
  char owner[TR_ID_MAX + 1];
  uint64_t epoch;
  uint64_t version;
} reg_digest;

typedef enum {
  REG_MSG_DELTAS,  /* deltas and their seals: changes to gossip on */
  REG_MSG_DIGEST,  /* digests: what the sender holds, per owner */
  REG_MSG_PULL,    /* digests: the sender's own set is wanted */
  REG_MSG_SET,     /* the sender's own full set: digests[0] + ids */
  REG_MSG_DIGEST_REPLY /* a digest in answer to one (not answered) */
} reg_msg_type;

/* A message, in or out. Everything it points to is owned by whoever built
 * it and valid during the send or receive call only. */
typedef struct reg_msg {
  reg_msg_type type;
  char sender[TR_ID_MAX + 1]; /* must equal the authenticated peer */
  const reg_delta *deltas;
  uint32_t ndeltas;
  const reg_seal *seals;
  uint32_t nseals;
  const reg_digest *digests;
  uint32_t ndigests;
  const char *const *ids; /* REG_MSG_SET: the owner's live ids, all of
                             them in one message: nids may be large */
  const uint64_t *sinces; /* REG_MSG_SET: each id's claim time (nids of
                             them), or NULL: unknown (0) */
  uint32_t nids;
} reg_msg;

/* 0 means the default in brackets. */
typedef struct reg_config {
  const char *name; /* this node (copied) */
  uint64_t epoch;   /* this process's epoch, as swim's */
  uint64_t seed;    /* 0: derived from name and epoch */
  uint32_t gossip_interval_ms; /* deltas go out this often [50] */
  uint32_t fanout;             /* members per gossip round [3] */
  uint32_t retransmit_mult;    /* lambda in lambda*log(N+1) [4] */
  uint32_t max_deltas;         /* per message [64], at most 4096 */
  uint32_t sync_interval_ms;   /* digest exchange [5000] */
  uint32_t claim_skew_ms;      /* how far claim times are believed off
                                  (clocks, delays): see the conflicts rule
                                  above [2000] */
} reg_config;

/* Callbacks run inside reg_* calls and must not call back into the same
 * registry (queue the work, do it after the call returns). Their strings
 * are valid during the call. */
typedef struct reg_ops {
  /* Send msg to member `to`; the host may drop it (loss). Required. */
  void (*send)(void *user, const char *to, const reg_msg *msg);
  /* An id now resolves to `owner` (NULL: to nobody). Fires on every change
   * of resolution, this node's own claims and releases included. Optional. */
  void (*changed)(void *user, const char *id, const char *owner);
  /* This node lost `id` to another owner: stop the local actor (reason
   * TR_EEXIST), then call reg_release. Called once per claim. Optional. */
  void (*conflict_lost)(void *user, const char *id, const char *winner);
  /* An owner speaks only for its set (optional; without both, relayed
   * deltas are believed as from their owner). sign: this node's proof
   * that it made data (a seal's reg_seal_bytes), at most cap bytes to out;
   * the length, 0 when it could not sign. verify: whether proof shows that
   * `owner` made data; `from` relayed it. REG_PROOF_BAD (a forgery: the
   * relayer's proofs then go unchecked, refused, for REG_PROOF_PENALTY_MS)
   * or REG_PROOF_UNKNOWN (this node cannot check it: refused, nobody
   * blamed). */
  size_t (*sign)(void *user, const uint8_t *data, size_t len, uint8_t *out,
                 size_t cap);
  int (*verify)(void *user, const char *owner, const uint8_t *data,
                size_t len, const uint8_t *proof, size_t proof_len,
                const char *from);
  /* Whether `owner` may hold `id` (a policy; optional: all may). An entry
   * it may not is not held here (counted rejected_policy), though its
   * batch still counts as the owner's next version. Asked for other
   * owners' entries only. */
  bool (*may_hold)(void *user, const char *owner, const char *id);
  /* The wall clock, ms since the epoch (claims' times are compared across
   * nodes). Optional: without it, the now_ms the calls are given (the
   * simulator's virtual clock, the same on every node). */
  uint64_t (*wall_ms)(void *user);
  /* Shared ids (REG_SHARED_PREFIX): `owner` now holds id (held) or no
   * longer does, this node included. Optional. */
  void (*held)(void *user, const char *id, const char *owner, bool held);
} reg_ops;

/* Shared ids: an id starting with this may be held by several owners at
 * once (a group membership, "$g:<group> <actor>": each node speaks for its
 * own actors). They travel, are believed and go with their owners like any
 * other, but they have no resolution and no conflicts: reg_claim refuses
 * one only when this node holds it already, `changed` and `conflict_lost`
 * never fire for them, ops->held does instead. reg_lookup answers one of
 * their owners. */
#define REG_SHARED_PREFIX "$g:"
bool reg_shared_id(const char *id);

enum { REG_PROOF_OK = 0, REG_PROOF_BAD = 1, REG_PROOF_UNKNOWN = 2 };

typedef struct registry registry;

/* TR_EINVAL for a NULL or empty name, a name over TR_ID_MAX, or no
 * ops->send; TR_ENOMEM. */
int reg_new(registry **out, const reg_config *, const reg_ops *, void *user);
void reg_free(registry *); /* NULL ok */

/* Membership, from swim's member_changed: alive/suspect members (with their
 * epoch), and members that are gone (dead or left). A newer epoch than the
 * one known is a restart; an older one is ignored, as is anything about
 * this node itself (it is always up in its own epoch). A gone member is
 * forgotten: its entries go, and deltas and sets for it are rejected until
 * it is up again, with an empty set at version 0 for anti-entropy to fill. */
void reg_member_up(registry *, const char *name, uint64_t epoch,
                   uint64_t now_ms);
void reg_member_gone(registry *, const char *name, uint64_t now_ms);
/* Whether a member up here is in touch (alive) or not (suspect): its
 * claims' times are judged by it (the conflicts rule above). A member
 * comes up in touch. */
void reg_member_contact(registry *, const char *name, bool in_touch,
                        uint64_t now_ms);

/* A local spawn: TR_EEXIST if the id resolves to a live owner (this node or
 * another; a shared id: this node), else 0 and the claim is gossiped. TR_EINVAL for an empty id or
 * one over TR_ID_MAX; TR_ENOMEM (nothing changed). */
int reg_claim(registry *, const char *id, uint64_t now_ms);
/* A local stop: releases an id this node owns (also one it lost in a
 * conflict); TR_ENOTFOUND otherwise; TR_EINVAL, TR_ENOMEM as above. */
int reg_release(registry *, const char *id, uint64_t now_ms);

/* The owner `id` resolves to, or NULL. Valid until the next call. */
const char *reg_lookup(registry *, const char *id);

/* The policy (may_hold) changed: entries it no longer allows go, and
 * every owner is asked for its whole set, for those it now allows. */
void reg_policy_changed(registry *, uint64_t now_ms);

/* A message from authenticated peer `from`. */
void reg_receive(registry *, const char *from, const reg_msg *,
                 uint64_t now_ms);
/* Runs every round due at now_ms (gossip before sync on a tie); each
 * schedules its next one from now_ms, so a late call catches up once.
 * Calling before reg_next_deadline() does nothing. */
void reg_tick(registry *, uint64_t now_ms);
/* The exact time of the next thing reg_tick would do; UINT64_MAX for none
 * (no peer, or nothing to gossip and no peer to sync with). Changes only
 * through reg_* calls: the host re-reads it after each one. now_ms must
 * never decrease across calls. */
uint64_t reg_next_deadline(registry *);

size_t reg_count(registry *); /* ids that resolve (shared ones not) */
size_t reg_shared_count(registry *); /* shared ids held by anyone */
/* The epoch and set version held for owner (this node included); false if
 * it is not up here. */
bool reg_owner_state(registry *, const char *owner, uint64_t *epoch,
                     uint64_t *version);
/* Calls fn for every (id, owner) that resolves (not shared ids), in no
 * particular order. */
void reg_each(registry *, void (*fn)(void *arg, const char *id,
                                     const char *owner), void *arg);

/* Counters since reg_new. claims, releases: own, successful; deltas_out:
 * deltas in sent messages; msgs_out: every message; pulls: PULL messages
 * sent; sets_applied: SETs that replaced a set; conflicts: a second
 * claimant added to an id here; conflicts_lost: conflict_lost calls.
 * rejected_sender: whole messages whose sender is not `from`;
 * rejected_owner: deltas and SETs for an owner not up in that epoch
 * (tr_cluster_stats.stale_updates: a restart still spreading, benign);
 * rejected_self: deltas and SETs about this node's own set, and digest
 * entries saying another holds a newer version of it; rejected_malformed:
 * entries with an empty or unterminated name or id, a delta under no seal
 * or a seal missing its deltas, or a message of an unknown type;
 * rejected_proof: deltas relayed under a seal that did not verify (or with
 * none, or from a penalized relayer) and SETs not from their owner;
 * rejected_policy: other owners' entries ops->may_hold refused;
 * signs, verifies: calls to ops sign and verify; proof_failures: verifies
 * that said REG_PROOF_BAD; proofs_ignored: seals not checked, their relayer
 * penalized; answers_limited: anti-entropy answers (this node's SET, a
 * DIGEST_REPLY) not sent because the asker had had 8 at once and then one
 * per gossip interval (a peer's pulls are pull_retry apart and its digests
 * sync_interval: only floods are cut). */
typedef struct reg_stats {
  uint64_t claims, releases, deltas_applied, deltas_out, msgs_out;
  uint64_t pulls, sets_applied, conflicts, conflicts_lost;
  uint64_t rejected_sender, rejected_owner, rejected_self;
  uint64_t rejected_malformed, rejected_proof, rejected_policy;
  uint64_t signs, verifies, proof_failures, proofs_ignored;
  uint64_t answers_limited;
} reg_stats;

void reg_get_stats(registry *, reg_stats *out);

#endif /* TR_REGISTRY_H */
