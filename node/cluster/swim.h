/* swim.h — cluster membership as a deterministic state machine: SWIM
 * probing (direct, then indirect through k members), suspicion with
 * incarnation numbers and refutation, dead and left, piggy-backed
 * dissemination and periodic full-state sync, with Lifeguard's local health
 * and confirmation-scaled suspicion timeouts. No I/O, no clock, no global
 * state: the host passes `now` in, delivers messages, and sends what the
 * core asks it to; randomness comes from a seeded generator in the state.
 * The real node plugs it into libuv and links; tests/sim into a virtual
 * network with virtual time.
 *
 * Identity. A member is a node name plus its epoch: the time (ms) its
 * process started, so a restarted node always has a larger epoch. Within an
 * epoch the incarnation counts refutations. (epoch, incarnation) orders what
 * is said about a member; a newer epoch means a restart, and everything the
 * older epoch owned (registry entries) is gone.
 *
 * Authentication. The host passes the TLS-authenticated peer name with every
 * message (`from`). The core rejects, and counts: a message whose own sender
 * field is not `from`; a claim that this node itself is alive with an
 * (epoch, incarnation) it never had; a relayed update that raises another
 * member's incarnation by more than one within the same epoch (only the
 * member itself may jump, as on refutation it steps by one). Any state
 * claimed about this node at a later (epoch, incarnation) than its own is
 * rejected alike (nobody can know one); one at its current (epoch,
 * incarnation) that is not alive is refuted.
 *
 * A member speaks only for itself (when the host gives sign and verify).
 * What only a member can say — a new epoch (a restart), leaving, a new
 * incarnation, its address, its tags — is believed from the member itself
 * (its own link) or with its proof; a relayed claim without one is
 * rejected and counted (rejected_proof). Tags are fixed for an epoch: a
 * relayed update at the epoch held whose tags differ from those the
 * member signed is rejected and counted (rejected_tags), whatever it
 * says. Suspect and dead are rumours, believed only at
 * an (epoch, incarnation) the member is known to have had. And a death is
 * never taken on another's word: a relayed "dead" about a member held live
 * makes it suspect here and has it probed at once (death_checks); only
 * this node's own failed probe, after two others said it died, or its
 * suspicion running out, declares it dead. So no member can make the
 * others hold another dead for longer than the probe that shows it alive,
 * nor left, nor restarted.
 *
 * Protocol choices worth knowing (details in swim.c / swim_probe.c):
 * - Every PING, PING_REQ, ACK, NACK and LEAVE carries the sender's own
 *   record first, then up to max_piggyback - 1 gossiped updates (a PING to a
 *   suspect also carries its suspicion, to be refuted at once). So a node
 *   always knows who talks to it, and a restart is seen on first contact.
 * - Dead or left news about a member never known is ignored.
 * - A full state (SYNC_REQ / SYNC) saying "dead" about a member held live
 *   makes it suspect here, not dead, so it can still refute (and, with
 *   sign and verify, so does gossip: see above).
 * - Each sync also sends a SYNC_REQ to one member held dead (a healed
 *   partition: both sides then refute), and every 8th one to a seed (a
 *   partition that outlived dead_reclaim_ms). Past 32 live members the sync
 *   interval is multiplied by ceil(log2 N) - 4, back to sync_interval_ms
 *   while full states keep teaching something (joins, heals).
 * - Lifeguard: local health +1 for a failed probe with nobody to ask, +1 per
 *   NACK that did not come, +1 per refutation, -1 per answered probe (0..8);
 *   probe interval, probe timeout and the suspicion minimum scale by
 *   (1 + health). Confirmations: the update has no accuser field, so each
 *   distinct peer relaying the same suspicion counts once. */
#ifndef TR_SWIM_H
#define TR_SWIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "troupe.h"

#define SWIM_ADDR_MAX 128 /* "host:port", DNS names allowed */

typedef enum {
  SWIM_ALIVE = 0,
  SWIM_SUSPECT,
  SWIM_DEAD,
  SWIM_LEFT
} swim_state;

const char *swim_state_name(swim_state);

#define SWIM_PROOF_MAX 2048 /* bytes of a member's proof of its own record */
#define SWIM_TAGS_MAX TR_TAGS_LEN_MAX /* bytes of a member's tags */
#define SWIM_PROOF_PENALTY_MS 1000u /* see swim_ops.verify */

/* What is known, or said, about one member. Alive and left are the
 * member's own word about itself, and proof (when the host signs) is its
 * signature over (name, epoch, incarnation, alive or left, addr, tags)
 * with what verifies it; suspect and dead are others' words about it,
 * anchored to an incarnation it has had, whose alive record the proof
 * still is. The proof and the tags are the sender's, valid during the call
 * (and, in what swim_members hands out, until the next swim call).
 *
 * Tags are the member's own, "k=v,k=v" sorted by key (swim_tags_valid),
 * not NUL-terminated; none (tags_len 0) costs nothing on the wire. Every
 * update about a member carries them, as its proof covers them. */
typedef struct swim_update {
  char name[TR_ID_MAX + 1];
  char addr[SWIM_ADDR_MAX];
  uint64_t epoch;
  uint32_t incarnation;
  uint8_t state; /* swim_state */
  uint16_t proof_len;
  const uint8_t *proof;
  uint16_t tags_len;
  const char *tags;
} swim_update;

typedef enum {
  SWIM_MSG_PING,     /* probe; answer ACK with the same seq */
  SWIM_MSG_PING_REQ, /* probe `target` for me; relay its ACK, or NACK */
  SWIM_MSG_ACK,      /* `target`: the member that answered (for relays) */
  SWIM_MSG_NACK,     /* relay could not reach `target` in time */
  SWIM_MSG_SYNC_REQ, /* full state of the sender; answer SYNC with mine */
  SWIM_MSG_SYNC,     /* full state, answer to SYNC_REQ */
  SWIM_MSG_LEAVE     /* the sender leaves the cluster */
} swim_msg_type;

typedef struct swim_msg {
  swim_msg_type type;
  char sender[TR_ID_MAX + 1]; /* must equal the authenticated peer */
  uint32_t seq;
  char target[TR_ID_MAX + 1]; /* PING_REQ, relayed ACK/NACK */
  /* Piggy-backed updates (or the full state for SYNC_*). Owned by whoever
   * built the message, valid during the send/receive call. */
  const swim_update *updates;
  uint32_t nupdates;
} swim_msg;

typedef struct swim_config {
  const char *name; /* this node */
  const char *addr; /* where peers reach it ("host:port") */
  const char *tags; /* its tags (swim_tags_valid); NULL or "": none */
  uint64_t epoch;   /* this process's start, ms; must grow across restarts */
  uint64_t seed;    /* randomness (probe order, jitter, k choices) */
  /* Timing; 0 means the default in brackets. */
  uint32_t probe_interval_ms;   /* one probe per interval [500] */
  uint32_t probe_timeout_ms;    /* direct ack deadline [200] */
  uint32_t indirect_k;          /* members asked to probe indirectly [3] */
  uint32_t suspicion_min_mult;  /* min suspicion = mult*log10(N)*interval [4] */
  uint32_t suspicion_max_mult;  /* max suspicion = this x min [6] */
  uint32_t retransmit_mult;     /* an update rides lambda*log(N+1) msgs [4] */
  uint32_t max_piggyback;       /* updates per message [64]; at 1,000
                                   nodes and 10% loss, 16 let refutations
                                   queue past the suspicion timeout
                                   (tests/sim: 4,078 false deaths in 5
                                   min; 64: none) */
  uint32_t sync_interval_ms;    /* full sync with one random member [10000] */
  uint32_t join_retry_ms;       /* first retry to seeds, doubles to 8x [500] */
  uint32_t dead_reclaim_ms;     /* dead/left kept, then forgotten [60000] */
  uint32_t max_members;         /* members known, self, dead and left ones
                                   included [10000]; a new one past it is
                                   refused (stats.members_refused) */
} swim_config;

/* Callbacks run inside swim_* calls and must not call back into the same
 * swim instance (queue the work and do it after the call returns). */
typedef struct swim_ops {
  /* Send msg to a member. to_name is NULL for a seed known only by its
   * address (only SYNC_REQ goes there). to_addr is never NULL; it is ""
   * when answering a peer the core has no address for (answer on the link
   * the request came in on). The host may drop it (loss); the core copes.
   * SYNC_REQ / SYNC carry every member known, dead and left ones included:
   * the host must carry that many updates in one message. Required. */
  void (*send)(void *user, const char *to_name, const char *to_addr,
               const swim_msg *msg);
  /* A member appeared or changed state (also: epoch changed = restart).
   * A member seen for the first time comes with was == now->state and
   * restarted false. An incarnation bump alone is not reported. This node
   * itself is reported once, when it leaves. `now` is valid during the
   * call. Optional (NULL). */
  void (*member_changed)(void *user, const swim_update *now, swim_state was,
                         bool restarted);
  /* A member speaks only for itself (optional; without both, every claim
   * is believed, as in plain SWIM). sign: this node's own record, alive or
   * left as self->state says, as only it can say it: at most cap bytes to
   * out; returns the length, 0 when it could not sign. verify: whether
   * u->proof shows that member u->name said (name, epoch, incarnation,
   * alive — or left when u->state is left —, addr); `from` relayed it.
   * An honest peer relays only proofs it checked, so after one that fails
   * the proofs `from` relays are not checked (their claims are refused)
   * for SWIM_PROOF_PENALTY_MS: forged proofs cost one check per peer per
   * penalty, not one per claim. */
  size_t (*sign)(void *user, const swim_update *self, uint8_t *out,
                 size_t cap);
  bool (*verify)(void *user, const swim_update *u, const char *from);
  /* A new member was refused: max_members are known (optional). */
  void (*refused)(void *user, const char *name, const char *from);
} swim_ops;

typedef struct swim swim;

/* What a member signs of its own record: "troupe-swim-1", name, epoch,
 * incarnation, alive (0) or left (3), addr, then its tags if it has any
 * (so a record without tags is the same bytes as before tags existed), in
 * a fixed byte layout; the length written (at most SWIM_RECORD_MAX bytes
 * to out). */
#define SWIM_RECORD_MAX \
  (16 + TR_ID_MAX + 1 + 8 + 4 + 1 + SWIM_ADDR_MAX + SWIM_TAGS_MAX)
size_t swim_record_bytes(const swim_update *, uint8_t out[SWIM_RECORD_MAX]);

/* Whether tags[0..len) is a member's tags as troupe.h says: "k=v" pairs
 * joined by ',', keys of 1..TR_TAG_KEY_MAX and values of
 * 0..TR_TAG_VALUE_MAX bytes of [A-Za-z0-9_.-], keys strictly ascending
 * (sorted, distinct), at most TR_TAGS_MAX pairs and SWIM_TAGS_MAX bytes.
 * len 0 (no tags) is valid. Any thread. */
bool swim_tags_valid(const char *tags, size_t len);
/* Joins n "key=value" strings into tags as swim_tags_valid wants them
 * (sorted by key, NUL-terminated in out): 0, or TR_EINVAL with *why
 * saying which rule the first bad one breaks (static text). */
int swim_tags_join(const char *const *kv, size_t n,
                   char out[SWIM_TAGS_MAX + 1], const char **why);

/* TR_EINVAL for a NULL or empty name, a name over TR_ID_MAX or an addr
 * over SWIM_ADDR_MAX - 1 bytes, tags that are not valid, no ops->send, or probe_timeout_ms >=
 * probe_interval_ms (after defaults); TR_ENOMEM. indirect_k is capped at
 * 16, max_piggyback raised to at least 2; seed 0 derives one from name and
 * epoch. The config's strings are copied. */
int swim_new(swim **out, const swim_config *, const swim_ops *, void *user);
void swim_free(swim *); /* NULL ok */

/* Starts joining through seed addresses (copied; NULL or "" entries are
 * skipped): a SYNC_REQ to each at once, then again after join_retry_ms,
 * doubling up to 8x, until a SYNC answers or a SYNC_REQ arrives; with no
 * seeds the node is a cluster of one. Probing and sync start with the
 * first call; a later call replaces the seeds. A joined node that finds
 * itself alone asks its seeds again, at the longest backoff. Seeds that
 * resolve to this node itself are the host's to filter. TR_EINVAL for an
 * address of SWIM_ADDR_MAX bytes or more, TR_ESTATE after swim_leave,
 * TR_ENOMEM. */
int swim_join(swim *, const char *const *seed_addrs, size_t nseeds,
              uint64_t now_ms);
/* Leaves: marks itself left (incarnation + 1) and sends LEAVE to up to k + 1
 * alive members, from inside this call; the host then waits for the sends
 * to go out before closing. Afterwards no timers run (next deadline
 * UINT64_MAX) and the core only answers PINGs, with its left record. */
void swim_leave(swim *, uint64_t now_ms);

/* Advances timers: runs every deadline <= now_ms, in time order. Calling
 * before swim_next_deadline() does nothing; calling late catches up (each
 * step is timed from now_ms, so a stalled host does not fail probes it
 * could not send). now_ms must never decrease. */
void swim_tick(swim *, uint64_t now_ms);
/* The exact time of the next thing swim_tick would do; UINT64_MAX for
 * none. Changes only through swim_* calls. */
uint64_t swim_next_deadline(swim *);

/* A message from authenticated peer `from`. */
void swim_receive(swim *, const char *from, const swim_msg *,
                  uint64_t now_ms);

/* The link to `name` closed: probe it at once (not proof of death). If it
 * is being probed, its indirect probes start now; if another member is,
 * it is probed next. */
void swim_link_closed(swim *, const char *name, uint64_t now_ms);
/* A dial to `name` found nothing listening (connection refused): evidence
 * that its process is gone which loss or a slow network never give. It is
 * suspect now and probed at once; if that probe fails too (direct and
 * indirect: nobody reached it either), it is dead there and then, without
 * waiting for the suspicion to run out. A member that answers refutes the
 * suspicion as any. The refusal counts for SWIM_REFUSED_FOR_MS and for
 * the member's epoch only. */
void swim_refused(swim *, const char *name, uint64_t now_ms);

/* Members, this node included (dead and left ones until they are
 * forgotten, dead_reclaim_ms later); returns the count (may exceed cap). */
size_t swim_members(swim *, swim_update *out, size_t cap);
/* One member's view; false if unknown. */
bool swim_member(swim *, const char *name, swim_update *out);
size_t swim_alive_count(swim *); /* alive + suspect, self included */
/* Forgets a dead or left member now, as dead_reclaim_ms would later (this
 * node only: others keep theirs). TR_ENOTFOUND (no such member, or self),
 * TR_ESTATE (it is alive or suspect). */
int swim_forget(swim *, const char *name);

/* Counters since swim_new. probes: direct probes started; probes_indirect:
 * PING_REQs sent; acks: own probes answered; nacks: NACKs received for
 * them; suspicions, deaths, leaves: members that entered that state here;
 * joins: members that appeared (first seen, restarted, or back from dead);
 * syncs: exchanges with a live member started on the sync timer, plus
 * SYNC_REQs answered; rejected_*: see
 * Authentication above (whole messages for sender, single updates for
 * claim and jump). */
typedef struct swim_stats {
  uint64_t probes, probes_indirect, acks, nacks, suspicions, refutations;
  uint64_t deaths, leaves, joins, syncs, msgs_out, updates_out;
  uint64_t rejected_sender, rejected_claim, rejected_jump;
  uint64_t rejected_proof; /* a member-only claim relayed without proof */
  uint64_t rejected_tags;  /* a relayed record of a member at the epoch
                              held with other tags than it signed */
  uint64_t death_checks;   /* a relayed death checked by a probe first */
  uint64_t signs, verifies; /* calls to ops sign and verify */
  uint64_t proof_failures;  /* verifies that failed (the relayer penalized) */
  uint64_t proofs_ignored;  /* proofs not checked: their relayer penalized */
  uint64_t members_refused; /* new members not taken: max_members known */
  uint64_t refusals;        /* dials to a live member refused (swim_refused) */
  uint64_t refused_deaths;  /* deaths on a refusal and a failed probe */
  uint32_t local_health; /* Lifeguard awareness, 0 = healthy */
} swim_stats;

void swim_get_stats(swim *, swim_stats *out);

#endif /* TR_SWIM_H */
