/* swim_int.h — the state behind swim.h, shared by swim.c (members,
 * precedence, suspicion, timers), swim_probe.c (probes, relays, messages)
 * and swim_gossip.c (the dissemination queue). Not for the host. */
#ifndef TR_SWIM_INT_H
#define TR_SWIM_INT_H

#include "swim.h"

/* A relayed death of a member held live is checked by a probe; when that
 * fails too, it is declared dead at once if this many other members said
 * so, else its suspicion runs (swim_suspect). */
#define SWIM_DEATH_WITNESSES 2

/* A failed allocation inside HASH_ADD leaves the table as it was and sets
 * the `hash_oom` flag that the one caller declares, instead of exiting. */
#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(obj) (hash_oom = true)
#include "uthash.h"

/* A refusal (swim_refused) counts for a probe failing this soon after. */
#define SWIM_REFUSED_FOR_MS 5000u
/* A leaving node tells every member itself in clusters up to this size. */
#define SWIM_LEAVE_ALL 64u
/* indirect_k is capped here: confirmations are tracked up to it. */
#define SWIM_K_MAX 16
/* Indirect probes this node runs for others at once. */
#define SWIM_RELAYS_MAX 64
/* Once joined, every 8th sync also asks a seed. */
#define SWIM_SEED_SYNC_EVERY 8

typedef struct swim_entry swim_entry;

struct swim_entry {
  UT_hash_handle hh; /* swim.members, keyed by u.name */
  swim_update u;
  uint64_t name_hash; /* FNV-1a of the name: identifies confirmers */
  uint32_t probe_pos; /* index in swim.probe (not for self) */

  /* Suspicion (state SWIM_SUSPECT), in swim.suspects. */
  swim_entry *sus_prev, *sus_next;
  uint64_t sus_start, sus_min, sus_max, sus_deadline;
  uint64_t sus_accuser; /* name hash of whoever first told us */
  uint64_t sus_confirmers[SWIM_K_MAX];
  uint32_t sus_nconfirm;
  uint32_t sus_k; /* confirmations that bring it to min (<= live - 2) */
  /* A dial to it found nothing listening (swim_refused) at refused_at, in
   * its epoch refused_epoch: a failed probe then is its death. */
  uint64_t refused_at, refused_epoch;
  /* Local health its unanswered probes added in its current epoch: given
   * back if it comes back restarted (a new epoch proves the old one was
   * gone, so the silence was its, not this node's slowness). */
  uint32_t lhm_charged;

  /* Dead or left, in swim.gone (oldest first), forgotten at gone_since +
   * dead_reclaim_ms. */
  swim_entry *gone_prev, *gone_next;
  uint64_t gone_since;

  /* The member's own word, as proven: its latest signed record (u.proof
   * points at proof) covers (sr_epoch, sr_inc, alive or sr_left). Rumours
   * about it are believed up to there. */
  uint8_t *proof;
  uint64_t sr_epoch;
  uint32_t sr_inc;
  bool sr_known, sr_left;
  /* Its tags, as u.tags points at (NULL: none), from its own word. */
  char *tags;
  /* A relayed death made it suspect: this node's own probe decides. */
  bool death_check;
  /* A proof this member relayed failed: its relayed proofs are not checked
   * before then (swim_ops.verify). */
  uint64_t proofs_ignored_until;

  /* Dissemination: in bucket gq_sent of swim.gq_buckets while queued. */
  swim_entry *gq_prev, *gq_next;
  uint32_t gq_sent;
  bool gq_queued;
};

typedef enum {
  PROBE_IDLE,     /* no probe; the next starts at probe.next_at */
  PROBE_DIRECT,   /* PING sent; ack expected by probe.timeout_at */
  PROBE_INDIRECT, /* PING_REQs sent; any ack expected by probe.end_at */
  PROBE_ACKED     /* answered; the next probe starts at probe.end_at */
} probe_stage;

typedef struct swim_relay {
  char requester[TR_ID_MAX + 1];
  char target[TR_ID_MAX + 1];
  uint32_t req_seq; /* the requester's probe */
  uint32_t my_seq;  /* our PING to the target */
  uint64_t deadline;
} swim_relay;

struct swim {
  swim_ops ops;
  void *user;

  /* Configuration with defaults applied. */
  uint32_t probe_interval, probe_timeout, k, susp_min_mult, susp_max_mult;
  uint32_t retransmit_mult, max_piggyback, sync_interval, join_retry;
  uint32_t dead_reclaim, max_members;

  uint64_t rng;
  uint32_t seq;

  swim_entry *members; /* hash by name, self included */
  swim_entry *self;
  uint32_t nlive; /* alive + suspect, self included while not left */

  /* Every other member in probe order (round robin, reshuffled per pass). */
  swim_entry **probe;
  uint32_t nprobe, probe_cap, probe_next;

  swim_entry *suspects; /* utlist DL via sus_prev/sus_next */
  swim_entry *gone;     /* utlist DL via gone_prev/gone_next, oldest first */

  /* Dissemination queue: bucket b holds the updates sent b times, newest
   * first; see swim_gossip.c. */
  swim_entry **gq_buckets;
  uint32_t gq_nbuckets;
  swim_entry **gq_pick; /* scratch, max_piggyback entries */

  struct {
    probe_stage stage;
    char target[TR_ID_MAX + 1];
    uint64_t target_epoch;
    uint32_t seq;
    uint64_t next_at, timeout_at, end_at;
    uint32_t nacks_expected, nacks;
  } pr;
  char urgent[TR_ID_MAX + 1]; /* probe this member next ("" = none) */

  swim_relay relays[SWIM_RELAYS_MAX];
  uint32_t nrelays;

  char (*seeds)[SWIM_ADDR_MAX];
  size_t nseeds;
  bool started, joined, left;
  uint64_t join_at;
  uint32_t join_backoff;
  uint64_t sync_at;
  bool sync_learned; /* a full state changed something since the last sync */
  uint32_t sync_rounds;

  uint32_t lhm; /* Lifeguard local health multiplier, 0..8 */

  swim_update *buf; /* outgoing updates: piggy-back or full state */
  size_t buf_cap;

  bool deadline_dirty;
  uint64_t deadline;

  swim_stats st;
};

/* Where an update comes from, which decides how it is merged. */
typedef enum {
  ORIGIN_GOSSIP, /* piggy-backed, or a LEAVE */
  ORIGIN_SYNC,   /* a full state: "dead" only makes a live member suspect */
  ORIGIN_JOIN    /* the full state answering our join: no re-gossip */
} swim_origin;

/* swim.c */
uint64_t swim_rand(swim *);
uint32_t swim_rand_below(swim *, uint32_t n);
uint64_t swim_name_hash(const char *);
bool swim_is_live(const swim_entry *);
swim_entry *swim_find(swim *, const char *name);
void swim_apply(swim *, const swim_update *, const char *from, swim_origin,
                uint64_t now);
void swim_suspect(swim *, swim_entry *, uint64_t now);
/* A dial to m in its epoch was refused within SWIM_REFUSED_FOR_MS. */
bool swim_refused_lately(const swim_entry *m, uint64_t now);
uint32_t swim_scaled(const swim *, uint32_t base_ms);
void swim_lhm_add(swim *, int delta);
uint32_t swim_pick_alive(swim *, swim_entry **out, uint32_t want,
                         const char *exclude);

swim_entry *swim_next_target(swim *);
swim_entry *swim_pick_dead(swim *);
void swim_name_copy(char dst[TR_ID_MAX + 1], const char *src);
bool swim_trusting(const swim *); /* the host gave sign and verify */
void swim_self_sign(swim *); /* after this node's own record changed */

/* swim_probe.c */
void swim_probe_start(swim *, uint64_t now);
void swim_probe_deadline(swim *, uint64_t now);
void swim_probe_urgent(swim *, swim_entry *, uint64_t now);
void swim_relay_expire(swim *, uint32_t index);
void swim_sync_tick(swim *, uint64_t now);
void swim_join_tick(swim *, uint64_t now);
void swim_leave_send(swim *);
void swim_msg_receive(swim *, const char *from, const swim_msg *, uint64_t now);

/* swim_gossip.c */
void swim_gq_enqueue(swim *, swim_entry *);
void swim_gq_remove(swim *, swim_entry *);
void swim_gq_note_sent(swim *, swim_entry *);
uint32_t swim_gq_take(swim *, swim_update *out, uint32_t max,
                      const swim_entry *skip1, const swim_entry *skip2);
uint32_t swim_gq_limit(const swim *);

#endif /* TR_SWIM_INT_H */
