/* registry_int.h — the state behind registry.h, shared by registry.c (owners,
 * ids, claims, conflict resolution, membership) and registry_gossip.c (the
 * delta queue, gossip rounds, anti-entropy, incoming messages). Not for the
 * host. */
#ifndef TR_REGISTRY_INT_H
#define TR_REGISTRY_INT_H

/* Up to this many peers, gossip rounds go to all of them. */
#define REG_SMALL_CLUSTER 8u

#include "registry.h"

/* A failed allocation inside HASH_ADD leaves the table as it was and sets
 * the `hash_oom` flag that the one caller declares, instead of exiting. */
#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(obj) (hash_oom = true)
#include "uthash.h"

/* Batches waiting to be gossiped, at most. Past it the most-sent one goes:
 * a receiver that misses it sees a gap and pulls the whole set, which for
 * a burst of changes is cheaper than gossiping each one. */
#define REG_QUEUE_MAX 1024

typedef struct reg_owner reg_owner;
typedef struct reg_id reg_id;
typedef struct reg_entry reg_entry;
typedef struct reg_queued reg_queued;

/* Owners gone from membership are remembered this many at most (when
 * each was lost: the floor of its claims' times when it comes back). */
#define REG_GONE_MAX 4096

/* One id that at least one owner claims (ids without claims are freed). */
struct reg_id {
  UT_hash_handle hh;  /* registry.ids, keyed by id */
  reg_entry *claims;  /* earliest claim first (reg_claim_before): the head
                         is the resolution */
  char id[];          /* interned once; claims and owner sets point here */
};

/* One owner's claim on one id: in the owner's set and the id's list. */
struct reg_entry {
  UT_hash_handle hh;  /* owner->set, keyed by rid->id */
  reg_owner *owner;
  reg_id *rid;
  reg_entry *next;    /* rid->claims */
  uint64_t mark;      /* SET replacement: seen in the new set */
  uint64_t since;     /* its claim time as believed here (wall ms; fixed
                         when first held): see registry.h, conflicts */
  uint64_t order;     /* ties: FNV-1a of (id, owner) */
  bool lost_told;     /* own claims: conflict_lost already called */
};

/* The anti-entropy answers (this node's SET, a DIGEST_REPLY) one asker, a
 * member or not (the authenticated sender), may still have: a bucket of
 * REG_ANSWER_BURST, one more each gossip interval. Full buckets are
 * forgotten; at most REG_ANSWERED_MAX are kept (past it: not limited). */
#define REG_ANSWER_BURST 8u
#define REG_ANSWERED_MAX 4096u
typedef struct reg_answered {
  UT_hash_handle hh; /* registry.answered, keyed by name */
  uint64_t at;       /* when tokens was last brought up to date */
  uint32_t tokens;
  char name[TR_ID_MAX + 1];
} reg_answered;

/* An owner gone from membership, and when it was lost (wall ms). */
typedef struct reg_gone {
  UT_hash_handle hh; /* registry.gone, keyed by name */
  char name[TR_ID_MAX + 1];
  uint64_t lost_at;
} reg_gone;

/* An owner known up in `epoch` (membership), and the set held for it. Gone
 * owners are freed: unknown owners are rejected like dead ones. */
struct reg_owner {
  UT_hash_handle hh;    /* registry.owners, keyed by name */
  char name[TR_ID_MAX + 1];
  uint64_t epoch;       /* the membership's epoch for it */
  uint64_t version;     /* of the set held; 0 = nothing known */
  uint64_t seen;        /* highest version heard of (gaps, digests) */
  uint64_t pull_after;  /* no new pull for this owner before */
  bool stale;           /* version < seen: a pull or a SET will repair */
  uint32_t peer_pos;    /* index in registry.peers (not for self) */
  reg_entry *set;       /* hash of claims by id */
  uint64_t proofs_ignored_until; /* as a relayer: a seal of its failed */
  /* What this node knows of its touch with the owner, wall ms, to judge
   * its claims' times (reg_claim_time): in touch since (UINT64_MAX: not
   * now), last lost at (0: never), first seen at. */
  uint64_t touch_since, lost_at, first_seen;
  /* Lost since its set was last caught up: until the owner's own word
   * says this node holds all it has (its SET, or its digest equal to what
   * is held), claims heard from it are dated from lost_at however long the
   * catching up takes, and a new loss keeps the first lost_at. */
  bool catching_up;
};

/* A sealed batch waiting to be gossiped (own changes, and applied ones to
 * relay, whole), or this node's open batch (registry.open, unsealed).
 * seal.proof points at proof. */
struct reg_queued {
  reg_queued *prev, *next; /* utlist DL in buckets[sent] */
  uint32_t sent;
  reg_seal seal;
  uint8_t proof[REG_PROOF_MAX];
  uint32_t n;     /* deltas, versions seal.first.. */
  reg_delta d[];
};

struct registry {
  reg_ops ops;
  void *user;

  /* Configuration with defaults applied. */
  uint32_t gossip_interval, fanout, retransmit_mult, max_deltas;
  uint32_t sync_interval, pull_retry, claim_skew;
  uint64_t first_peer_at; /* wall ms when this node first had a peer
                             (UINT64_MAX: not yet) */
  reg_gone *gone;
  uint32_t ngone;

  uint64_t rng;
  uint64_t mark_gen;
  /* The anti-entropy answers each asker had lately (answer_allowed). */
  reg_answered *answered;
  uint32_t nanswered;

  reg_owner *owners; /* every owner up, self included */
  reg_owner *self;
  reg_id *ids;
  size_t nshared;    /* of them, shared ids */

  reg_owner **peers; /* the other owners up, for random picks */
  uint32_t npeers, peers_cap;

  /* The delta queue: bucket b holds the deltas sent b times, oldest
   * first; see registry_gossip.c. */
  reg_queued **buckets;
  uint32_t nbuckets, nqueued;
  reg_queued *open;   /* own changes not sealed yet (max_deltas room) */
  reg_queued **pick;  /* scratch, 2 * max_deltas */
  uint32_t npick, nskip; /* picked and skipped by the last gq_take */
  reg_delta *out;     /* scratch, max_deltas */
  reg_seal *out_seals; /* scratch, max_deltas */
  const reg_delta **sorted; /* scratch for incoming deltas */
  uint32_t sorted_cap;
  const reg_seal **seals; /* scratch for incoming seals */
  uint32_t seals_cap;
  uint8_t *seal_buf;  /* scratch for reg_seal_bytes */
  size_t seal_buf_cap;

  uint64_t gossip_at, last_gossip, sync_at; /* UINT64_MAX: not armed */

  reg_stats st;
};

/* registry.c */
bool reg_trusting(const registry *); /* the host gave sign and verify */
uint64_t reg_rand(registry *);
uint32_t reg_rand_below(registry *, uint32_t n);
bool reg_name_ok(const char *s, size_t cap);
reg_owner *reg_owner_find(registry *, const char *name);
reg_entry *reg_entry_find(reg_owner *, const char *id);
/* o's claim on id, believed made at since (reg_claim_time). */
reg_entry *reg_entry_add(registry *, reg_owner *, const char *id,
                         uint64_t since);
uint64_t reg_wall(registry *, uint64_t now);
/* The time this node believes o's claim on id was made, given the time
 * it says (registry.h, conflicts). */
uint64_t reg_claim_time(registry *, const reg_owner *o, uint64_t declared,
                        uint64_t now);
void reg_entry_remove(registry *, reg_entry *);

/* registry_gossip.c */
uint8_t *reg_seal_scratch(registry *, uint32_t ndeltas);
void reg_seal_open(registry *, uint64_t now);
uint32_t reg_gq_limit(const registry *);
bool reg_gq_reserve(registry *, uint32_t nbuckets);
void reg_gq_push(registry *, reg_queued *, uint64_t now);
void reg_gq_drop_owner(registry *, const char *owner);
void reg_gq_prune(registry *);
void reg_gossip_arm(registry *, uint64_t now);
void reg_gossip_round(registry *, uint64_t now);
void reg_sync_round(registry *, uint64_t now);
void reg_msg_receive(registry *, const char *from, const reg_msg *,
                     uint64_t now);

/* A member came up (first seen, or restarted): ask it for its own set
 * at once, rather than waiting for anti-entropy to bring it. */
void reg_pull_from_owner(registry *, const reg_owner *);
/* Frees the record of answers to askers (reg_free). */
void reg_answered_free(registry *);

#endif /* TR_REGISTRY_INT_H */
