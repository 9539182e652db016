/* engine.h — internal structures of the local actor engine, shared by the
 * files of node/engine. Nothing here is public; see include/troupe.h.
 *
 * Design notes. The hot path allocates nothing: messages are fixed-size slots
 * from a node-wide stack of free slots with small payloads inline; larger
 * payloads use a reference-counted blob from size-class free lists. A publish
 * (or a group broadcast) fills one slot and queues it to every subscriber,
 * counting them in its refs, so one publish to N subscribers holds one slot
 * and one copy. A mailbox is a ring of slot pointers that grows by doubling
 * (allocated at the first message, given back when drained past the default
 * capacity, so an idle actor costs only its struct), plus a count checked
 * against the actor's capacity. Actors with mail
 * sit on an intrusive ready queue; a uv_idle handle is active only while that
 * queue is non-empty, so an idle node blocks in epoll. Actor ids, senders and
 * topics are interned, reference-counted strings (eng_name), so a message
 * outlives the actor that sent it without copying its id. */
#ifndef TR_ENGINE_H
#define TR_ENGINE_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "eng_node.h"
#include "troupe.h"

/* Ids are short: SuperFastHash takes 4 bytes a step where uthash's default
 * (Jenkins) costs ~120 instructions a lookup on the send path. Every file
 * of the engine includes this header, so all agree on the function. */
#define HASH_FUNCTION(keyptr, keylen, hashv) HASH_SFH(keyptr, keylen, hashv)
#include "uthash.h"

/* ---- message slots and payload blobs (pool.c) --------------------------- */

#define ENG_INLINE 72 /* payload bytes carried inside a slot */

typedef struct eng_blob {
  uint32_t refs;
  uint32_t cls; /* size class index, or ENG_BLOB_HUGE */
  size_t len;
  struct eng_blob *free_next;
  char data[];
} eng_blob;

#define ENG_BLOB_CLASSES 6
#define ENG_RING_CLASSES 8 /* mailbox rings of 8 to 1,024 pointers */
#define ENG_BLOB_HUGE UINT32_MAX

enum {
  ENG_CTRL_NONE = 0, /* a plain local message: its envelope is its fields */
  ENG_CTRL_STOP = 1, /* poison pill: stop the actor in queue order */
  /* From another node (credit, the node's name), or a topic that is a
   * group: actor_run looks closer. */
  ENG_CTRL_DETAIL = 2
};

typedef struct eng_msg {
  uint32_t refs; /* mailboxes holding it: a publish queues one slot to all */
  uint32_t len;
  eng_name *sender; /* NULL: from outside actors */
  eng_name *topic;  /* TR_MSG_PUBLISH only */
  eng_blob *blob;   /* NULL: payload inline */
  uint64_t ask_id;
  int32_t status;
  uint8_t type; /* tr_msg_type */
  uint8_t ctrl; /* ENG_CTRL_* */
  uint16_t origin; /* 0: this node; else the remote layer's index of the
                      sender's node (eng_remote_ops.node_name) */
  uint32_t msg_type; /* tr_envelope.msg_type: 0 untagged bytes */
  char inline_data[ENG_INLINE];
} eng_msg;

/* Free slots are a stack of pointers, not a list through the slots: taking
 * one reads no slot, so a deep backlog's cold slots cost no load miss on
 * the send path (a list's head->next was one per message). */
typedef struct eng_pool {
  eng_msg **free_msgs;
  size_t nfree;  /* on the stack */
  size_t nslots; /* slots carved, the stack's capacity */
  void **chunks; /* slot chunks, freed at node free */
  size_t nchunks, chunks_cap;
  eng_blob *free_blobs[ENG_BLOB_CLASSES];
  uint32_t nfree_blobs[ENG_BLOB_CLASSES];
  /* Mailbox rings of 8 << c pointers kept for reuse, linked through their
   * first pointer: an actor's first message (a stop, a request) takes one
   * without malloc, and gives it back when it drains or stops. */
  void *free_rings[ENG_RING_CLASSES];
  uint32_t nfree_rings[ENG_RING_CLASSES];
} eng_pool;

int pool_grow(eng_pool *); /* one more chunk of slots; TR_ENOMEM */
/* A mailbox ring of size pointers (a power of two, 8 or more), kept ones
 * first; NULL on ENOMEM. Given back with its size. */
struct eng_msg **pool_ring_get(eng_pool *, uint32_t size);
void pool_ring_put(eng_pool *, struct eng_msg **ring, uint32_t size);
eng_blob *pool_blob_get(eng_pool *, size_t len); /* refs = 1 */
void pool_blob_unref(eng_pool *, eng_blob *);
void pool_free(eng_pool *);

/* A slot, uninitialised; NULL on ENOMEM. */
static inline eng_msg *pool_msg_get(eng_pool *p) {
  if (!p->nfree && pool_grow(p) != 0) return NULL;
  return p->free_msgs[--p->nfree];
}

/* A mailbox lets go of m (or m was never queued, refs 0): the last one
 * gives it back to the pool, dropping its sender, topic and blob
 * references. */
static inline void pool_msg_put(eng_pool *p, eng_msg *m) {
  if (m->refs > 1) {
    m->refs--;
    return;
  }
  eng_name_unref(m->sender);
  eng_name_unref(m->topic);
  if (m->blob) pool_blob_unref(p, m->blob);
  p->free_msgs[p->nfree++] = m; /* room: the stack holds every slot */
}

static inline const void *msg_data(const eng_msg *m) {
  return m->blob ? (const void *)m->blob->data : (const void *)m->inline_data;
}

/* ---- actors (actor.c) --------------------------------------------------- */

typedef struct eng_sub eng_sub;
typedef struct eng_pub eng_pub;
typedef struct eng_timer eng_timer;
typedef struct eng_ask eng_ask;
typedef struct eng_mon eng_mon;
typedef struct eng_group eng_group;
typedef struct eng_gm eng_gm;

/* What few actors use: its subscriptions, timers, asks, monitors, groups,
 * accepted tags, children and dead letters, and the inspector's last rate
 * sample. Allocated on the first of these (actor_x), freed with the actor:
 * an idle actor is its struct, its id and its slot in the table
 * (bench_engine's idle_actor_bytes). */
typedef struct eng_actor_x {
  eng_sub *subs;       /* subscriptions the actor holds, linked by sub_next */
  eng_timer *timers;   /* timers it owns */
  eng_ask *asks;       /* asks it is waiting on */
  eng_ask *asked;      /* asks waiting on it */
  eng_mon *watchers;   /* monitors on it */
  eng_mon *watching;   /* monitors it holds */
  eng_gm *groups;      /* the groups it is in (group.c) */
  uint32_t *accepts;   /* tr_accept_types: the tags it takes; NULL: any */
  uint32_t naccepts;
  uint32_t nchildren;
  struct tr_ctx *first_child; /* children, linked by next_sibling */
  uint64_t dead; /* dead letters addressed to it (eng_dead_for) */
  /* The rates' last sample (stats.c, info_of): when, and the counters
   * then; the rates it gave. */
  float in_per_s, out_per_s;
  uint64_t rate_ms, rate_delivered, rate_sent;
} eng_actor_x;

/* The actor is the tr_ctx the user's callbacks receive. The first cache
 * line holds what a send to it and its turn touch. */
struct tr_ctx {
  /* The mailbox: a ring of mb_size slot pointers (a power of two; NULL and
   * 0 until the first message), the oldest at mb_first. */
  eng_msg **mb_ring;
  uint32_t mb_first, mb_size;
  uint32_t mb_count, mb_capacity;
  struct tr_ctx *ready_next, *ready_prev; /* ready queue links */
  const tr_actor_type *type;
  void *state;
  uint8_t in_ready;
  uint8_t running;       /* inside a callback of this actor */
  uint8_t stop_pending;  /* tr_stop called: stop after the callback */
  uint8_t stopping;      /* teardown has begun */
  uint32_t hashv;        /* of its id, for n->actors (actor_table.c) */

  tr_node *node;
  eng_name *id;
  struct eng_dq *held_dq;       /* deferred sends waiting for room here */
  struct eng_waiter *writable;  /* actors to tell when there is room */
  eng_actor_x *x;               /* NULL until needed (actor_x) */
  eng_pub *pub; /* publisher entry for its id, if any (publish's path) */
  uint64_t delivered;
  /* For tr_actor_info (the inspector's figures): messages it sent (one per
   * send, ask, reply, publish or broadcast call that took), its time in
   * receive over the calls timed (1 in ENG_TIME_EVERY: two clock reads
   * per 64 messages), the longest of them, and when it was spawned. */
  uint64_t sent;
  uint32_t mb_hwm, timed;

  struct tr_ctx *parent;
  struct tr_ctx *next_sibling, *prev_sibling;
  uint64_t handler_ns, handler_max_ns;
  uint64_t born_ms;
  uint16_t restarts;     /* its parent spawned it again (restarts.c) */
  uint8_t init_failed;   /* init returned non-zero: no deinit */
  int32_t stop_reason;
};
typedef struct tr_ctx eng_actor;

/* ---- the mailbox (actor.c grows and trims the ring) ---------------------- */

/* An empty mailbox keeps a ring up to this long (8 KiB: the default
 * capacity's), so an actor that takes a burst every turn (a publisher's
 * acks) does not allocate it again each time; a longer one, grown past it
 * by a raised capacity or by notices, is given back. */
#define ENG_MB_KEEP 1024u
int mb_grow(eng_actor *); /* doubles the ring (8 at first); TR_ENOMEM */

/* Queues m last (the caller counts the mailbox in m->refs); TR_ENOMEM. */
static inline int mb_push(eng_actor *a, eng_msg *m) {
  if (a->mb_count == a->mb_size && mb_grow(a) != 0) return TR_ENOMEM;
  a->mb_ring[(a->mb_first + a->mb_count) & (a->mb_size - 1)] = m;
  a->mb_count++;
  return 0;
}

/* The oldest message, off the ring; the mailbox is not empty. */
static inline eng_msg *mb_pop(eng_actor *a) {
  eng_msg *m = a->mb_ring[a->mb_first];
  a->mb_first = (a->mb_first + 1) & (a->mb_size - 1);
  a->mb_count--;
  return m;
}

#define ENG_ACTOR_POOLED 128u /* state sizes whose blocks are kept */
#define ENG_ACTOR_CLASSES (ENG_ACTOR_POOLED / 16 + 1)
#define ENG_ACTOR_FREE_MAX 64u
void actor_pool_free(tr_node *); /* at node free */

/* Its rarely used part, allocated on first use; NULL on ENOMEM. */
eng_actor_x *actor_x(eng_actor *);

/* ---- the actors by id (actor_table.c) ----------------------------------- */

typedef struct eng_atab {
  eng_actor **slots; /* capacity mask + 1, a power of two; NULL: empty */
  uint32_t mask, count;
} eng_atab;

uint32_t atab_hash(const char *id, size_t len);
eng_actor *atab_find(const eng_atab *, const char *id, size_t len, uint32_t h);
int atab_add(eng_atab *, eng_actor *); /* by a->hashv; TR_ENOMEM */
void atab_del(eng_atab *, eng_actor *);
/* Iteration: *cursor from 0; NULL at the end. Adding or removing actors
 * meanwhile may skip or repeat some, never reads outside the table. */
eng_actor *atab_next(const eng_atab *, uint32_t *cursor);
void atab_free(eng_atab *);

eng_actor *actor_find(tr_node *, const char *id);
eng_actor *actor_find_len(tr_node *, const char *id, size_t len);
int actor_spawn(tr_node *, eng_actor *parent, const tr_actor_type *,
                const tr_spawn_opts *);
/* Tears the actor down now (never while one of its callbacks runs). */
void actor_teardown(eng_actor *, int reason, bool notify_parent);
/* One receive call in this many is timed (a power of two). */
#define ENG_TIME_EVERY 64u

/* Runs up to `budget` messages of one actor; returns how many it ran. */
uint32_t actor_run(eng_actor *, uint32_t budget);

/* ---- sending (send.c) --------------------------------------------------- */

#define ENG_BYPASS_CAPACITY 1u /* engine notices: replies, DOWN, EXIT */
/* Feeding an actor's held deferred sends (defer.c): while they wait, the
 * actor counts as full for everything else, so nothing overtakes them. */
#define ENG_FEED 2u
/* send_to_actor flags, upper 16 bits: the node the message came from. */
#define ENG_ORIGIN(idx) ((unsigned)(uint16_t)(idx) << 16)

/* Queues one message to a local actor. Takes a new reference on sender and
 * topic; copies the payload (or shares blob, taking a reference).
 * msg_type: its tag (0: none); TR_EBADTYPE when the actor takes a list of
 * types (tr_accept_types) without it. */
int send_to_actor(eng_actor *to, uint8_t type, eng_name *sender,
                  eng_name *topic, const void *data, size_t len,
                  eng_blob *blob, uint64_t ask_id, int status,
                  unsigned flags, uint32_t msg_type);
/* A slot for one message, filled as send_to_actor fills it, queued
 * nowhere yet (refs 0): a publish queues it to each subscriber (mb_admits,
 * mb_enqueue, one reference each), then pool_msg_put gives it back if none
 * took it. NULL on ENOMEM. */
eng_msg *eng_msg_new(tr_node *, uint8_t type, eng_name *sender,
                     eng_name *topic, const void *data, size_t len,
                     eng_blob *blob, uint64_t ask_id, int status,
                     unsigned flags, uint32_t msg_type);
/* A slot from eng_msg_new that `reached` mailboxes took (mb_enqueue): its
 * references and the node's counters; back to the pool if none took it. */
void eng_msg_shared(tr_node *, eng_msg *m, uint32_t reached);
/* Whether actor a takes messages tagged msg_type (0 always). */
bool actor_accepts(const eng_actor *a, uint32_t msg_type);
/* Resolves `to` (locally, then through the remote layer), queues, and counts a
 * rejection on failure. *found (may be NULL) gets the local target when
 * there is one; *remote (may be NULL) the index of the remote node it went
 * to, else 0. guarded: the node's guard is asked first (not for a '$'
 * system sender, whose requests the remote layer judged). */
int send_by_id(tr_node *, const char *to, uint8_t type, eng_name *sender,
               const void *data, size_t len, uint64_t ask_id,
               uint32_t timeout_ms, eng_actor **found, uint16_t *remote,
               bool guarded, uint32_t msg_type);
/* A send accepted earlier (a timer, another thread), handed on now: to the
 * local actor or through the remote layer; no guard, nothing counted. */
int send_accepted(tr_node *, const char *to, size_t to_len, eng_name *sender,
                  const void *data, size_t len);
/* A notice from the engine (DOWN, CHILD_EXIT, error replies). */
void send_notice(tr_node *, eng_actor *to, uint8_t type, eng_name *sender,
                 uint64_t ask_id, int status);
int eng_check_id(const char *id, size_t *len_out); /* TR_EINVAL if bad */

/* ---- scheduler (sched.c) ------------------------------------------------ */

void sched_ready(eng_actor *);  /* put on the ready queue if not on it */
void sched_remove(eng_actor *); /* take off the ready queue */
int sched_init(tr_node *);
void sched_close(tr_node *);

/* ---- pub/sub (pubsub.c) ------------------------------------------------- */

typedef struct eng_topic {
  UT_hash_handle hh; /* pub->topics, keyed by name->str */
  eng_name *name;
  eng_pub *pub;
  /* Its subscriptions, and beside them their actors, in two arrays of
   * nsubs (subs_cap allocated): a publish walks the actors' array only
   * and counts nothing per subscriber (eng_sub.base). */
  eng_sub **subs;
  eng_actor **sub_actors;
  uint32_t nsubs, subs_cap;
  uint64_t published; /* publishes that reached its subscribers' loop */
  /* Other nodes want it (eng_topic_remote): it lives without local
   * subscribers, and each publish also goes to the remote layer. */
  bool remote;
} eng_topic;

struct eng_pub {
  UT_hash_handle hh; /* node->pubs, keyed by id->str */
  eng_name *id;
  eng_actor *actor; /* the live publisher with this id, or NULL */
  eng_topic *topics;
};

struct eng_sub {
  eng_actor *subscriber;
  eng_topic *topic;
  /* Publishes that reached it are the topic's since it subscribed (base)
   * but those it missed (dropped). */
  uint64_t base, dropped;
  uint32_t index; /* in topic->subs and topic->sub_actors */
  eng_sub *sub_next, *sub_prev; /* subscriber's list */
};

void pubsub_actor_started(eng_actor *); /* link a pub entry to the actor */
void pubsub_actor_stopped(eng_actor *); /* drop its subs, unlink its pub */
void pubsub_free(tr_node *);

/* System publishes on a named topic of TR_SYSTEM_PUBLISHER (group events):
 * subscribers reached. */
int eng_publish_system_topic(tr_node *, const char *topic, uint8_t type,
                             const void *data, size_t len);

/* ---- groups (group.c) --------------------------------------------------- */

struct eng_group {
  UT_hash_handle hh; /* node->groups, keyed by name->str */
  eng_name *name;
  eng_gm *members;   /* local members */
  eng_gm *cursor;    /* the next one a send tries (round robin) */
  uint32_t count;
};

int eng_group_check(const char *group, size_t *len_out); /* TR_EINVAL */
void group_actor_stopped(eng_actor *); /* leaves every group */
void group_free(tr_node *);

/* ---- asks (ask.c) ------------------------------------------------------- */

struct eng_ask {
  UT_hash_handle hh; /* node->asks, keyed by id */
  uint64_t id;
  tr_node *node;
  eng_actor *asker, *target_actor;
  eng_name *target; /* sender of the error replies */
  eng_ask *next, *prev; /* asker's list, or the node's free list (next) */
  eng_ask *t_next, *t_prev; /* target's list (local targets) */
  uint16_t target_node; /* remote target: its node's index; 0: local */
  uv_timer_t timer;
};

/* Forgets the asks the actor made, and answers the asks waiting on it with
 * TR_ENOTFOUND (it stopped without replying). */
void ask_actor_stopped(eng_actor *);
void ask_free_all(tr_node *);

/* ---- timers (timer.c) --------------------------------------------------- */

struct eng_timer {
  uv_timer_t handle;
  tr_node *node;
  eng_actor *owner;
  eng_timer *next, *prev; /* owner's list */
  uint64_t id;
  eng_name *to;
  size_t len;
  char data[];
};

void timer_actor_stopped(eng_actor *);

/* ---- monitors (monitor.c) ----------------------------------------------- */

struct eng_mon {
  eng_actor *watcher, *target;
  eng_mon *w_next, *w_prev; /* target->watchers */
  eng_mon *g_next, *g_prev; /* watcher->watching */
};

void monitor_actor_stopped(eng_actor *, int reason);

/* ---- deferred sends (defer.c) ------------------------------------------- */

/* A send accepted before its target could take it: from another thread
 * (sender NULL) or a one-shot timer (sender its owner; the reference is
 * taken and dropped on the loop thread). */
typedef struct eng_dmsg {
  struct eng_dmsg *next;
  eng_name *sender;
  size_t len;
  char data[];
} eng_dmsg;

/* The deferred sends to one id, in order: a per-target queue, so a target
 * without room holds its own and no other's. (L) fields are under
 * n->ts_lock (producer threads touch them); the others are the loop
 * thread's. */
typedef struct eng_dq {
  UT_hash_handle hh;         /* (L) n->dqs, keyed by id */
  eng_dmsg *head, *tail;     /* (L) */
  uint32_t count;            /* (L) messages in head..tail */
  bool on_ready;             /* (L) on n->dq_ready: the loop has not looked */
  bool held;                 /* (L) the target had no room: wait for it */
  struct eng_dq *ready_next; /* (L) */
  eng_actor *held_on;        /* the local target it waits on; NULL: remote */
  struct eng_dq *rnext, *rprev; /* n->dq_remote, while held on a remote id */
  bool in_remote;
  size_t id_len;
  char id[];
} eng_dq;

/* Queues m for `to` behind what is deferred for it. bounded: a producer
 * thread's send, refused (TR_EFULL) past threadsafe_max in all or
 * threadsafe_target_max for this id. The caller holds n->ts_lock; *wake is
 * set when the loop must look (the id was not waiting already). */
int defer_push_locked(tr_node *, const char *to, size_t to_len, eng_dmsg *m,
                      bool bounded, bool *wake);
/* Hands what is deferred for dq's id on, in order, until its target has no
 * room; the rest waits for room (defer_room_*). Loop thread. */
void defer_feed(tr_node *, eng_dq *dq);
/* Feeds every id the producers pushed to since the last look. */
void defer_drain_ready(tr_node *);
/* A one-shot timer's message: sent now when nothing waits for that id and
 * the target has room, else deferred behind what waits. */
void defer_send_later(tr_node *, const char *to, eng_name *sender,
                      const void *data, size_t len);
/* The target dq waited on stopped: its deferred sends are dead letters. */
void defer_target_gone(tr_node *, eng_dq *dq);
/* The remote layer has room for id (or for every id: NULL). */
void defer_room_remote(tr_node *, const char *id, size_t len);
/* At free: what still waits becomes dead letters; the queues go. */
void defer_close(tr_node *);
uint64_t defer_count(tr_node *); /* messages deferred now */

/* ---- room for senders (room.c) ------------------------------------------ */

/* An actor to tell (TR_MSG_WRITABLE) when a target has room. */
typedef struct eng_waiter {
  struct eng_waiter *next;
  eng_name *who;
} eng_waiter;

/* Waiters on an id no local actor holds (n->rwaits). */
typedef struct eng_rwait {
  UT_hash_handle hh; /* keyed by id */
  eng_waiter *waiters;
  char id[];
} eng_rwait;

/* A local actor's mailbox went below half full after a turn: its deferred
 * sends go in first, then its waiters are told if room is left. */
void room_actor_drained(eng_actor *);
/* The actor stopped: its deferred sends are dead letters and its waiters
 * are told (status TR_ENOTFOUND). */
void room_actor_stopped(eng_actor *);
void room_free(tr_node *);

/* ---- thread-safe entry (threadsafe.c) ----------------------------------- */

int threadsafe_init(tr_node *);
void threadsafe_drain(tr_node *);
/* The calling thread runs the node's loop (true) or no longer does. */
void threadsafe_set_loop_thread(tr_node *, bool running);
void threadsafe_close(tr_node *);

/* ---- the remote layer (eng_remote.h) ------------------------------------ */

/* Backlog bounds: past HIGH, after a delivery from another node, the engine
 * pauses the remote layer (it stops reading its links; TCP then pushes back
 * on the senders, whose links fill: TR_EFULL there); below LOW the
 * scheduler resumes it. Decided here only. */
#define ENG_BACKLOG_HIGH 65536u
#define ENG_BACKLOG_LOW 8192u

static inline bool eng_remote(const tr_node *n);
/* After a delivery from another node: past ENG_BACKLOG_HIGH, pause the
 * remote layer's reading. */
void eng_backlog_check(tr_node *);

/* ---- the node (node.c) -------------------------------------------------- */

struct tr_node {
  uv_loop_t *loop;
  uv_loop_t own_loop;
  bool owns_loop;
  char *name;

  uint32_t default_capacity;
  size_t max_payload;
  uint32_t ask_timeout_ms;
  uint32_t batch;
  uint32_t threadsafe_max, threadsafe_target_max;
  /* The log (log_tap.c): log is the sink every line goes through, NULL
   * when nobody listens (eng_log_line, with the node as log_user);
   * log_level the most verbose level anyone wants, so lines past it are
   * never built. The user's callback takes lines up to user_level; taps
   * (operators' `troupe monitor`) up to theirs. */
  tr_log_fn log;
  void *log_user;
  tr_log_level log_level;
  tr_log_fn user_log;
  void *user_log_user;
  tr_log_level user_level;
  struct eng_log_tap *taps;
  bool in_tap, taps_dirty;
  void (*level_hook)(void *user, tr_log_level);
  void *level_hook_user;

  eng_atab actors; /* by id (actor_table.c) */
  /* Stopped actors' blocks kept for the next spawn of that size (actor.c):
   * per class of state size (16 bytes a class, up to ENG_ACTOR_POOLED),
   * at most ENG_ACTOR_FREE_MAX each, linked through their first word. */
  void *free_actors[ENG_ACTOR_CLASSES];
  uint32_t nfree_actors[ENG_ACTOR_CLASSES];
  /* The last id looked up and what it found (NULL: not here), valid while
   * actors_gen is unchanged; every add to and removal from `actors` bumps
   * it. A stream of sends to one id then costs a compare, not a hash. */
  uint64_t actors_gen, find_gen;
  uint32_t system_actors; /* of n->actors, node-internal ('$'): not in the
                             figures the user sees (tr_node_stats) */
  eng_actor *find_hit;
  size_t find_len;
  char find_id[TR_ID_MAX];
  eng_pub *pubs;     /* uthash by publisher id */
  eng_group *groups; /* uthash by name: groups with local members */
  eng_ask *asks;     /* uthash by ask id */
  eng_ask *free_asks;
  uint32_t nfree_asks;
  eng_pool pool;
  eng_name *default_topic;

  eng_actor *ready_head, *ready_tail;
  uv_idle_t idle;
  bool idle_active;

  uv_async_t async; /* thread-safe sends and tr_node_stop */
  uv_mutex_t ts_lock;
  uv_cond_t ts_room;      /* signalled when deferred sends move on */
  eng_dq *dqs;            /* (ts_lock) deferred sends per target id */
  eng_dq *dq_ready;       /* (ts_lock) ids pushed to since the last look */
  uint32_t ts_count;      /* (ts_lock) deferred messages in all */
  uint32_t ts_waiting;    /* (ts_lock) threads in tr_node_wait_writable */
  bool ts_closed;         /* (ts_lock) the node is being freed */
  bool loop_running;      /* (ts_lock) loop_thread runs the node's loop */
  uv_thread_t loop_thread;
  eng_dq *dq_remote;      /* held on remote ids (loop thread) */
  eng_rwait *rwaits;      /* tr_send_notify on remote ids (loop thread) */
  atomic_bool stop_requested;
  /* Rejections of tr_node_send_threadsafe, counted from any thread. */
  atomic_uint_fast64_t ts_rejected_full, ts_rejected_toobig;
  bool running;
  bool freeing;

  uint64_t next_gen_id;
  uint64_t next_ask_id;
  uint64_t next_timer_id;
  tr_node_stats stats;
  struct eng_dead_ring *dead_ring; /* recent dead letters; NULL: none yet */
  struct eng_exits *exits; /* children that ended (restarts.c); NULL: none */

  /* A policy's say on what this node's actors ask (eng_set_guard). */
  eng_guard_fn guard;
  void *guard_user;

  /* The remote layer (eng_remote_attach); ops NULL: a local node. */
  const eng_remote_ops *rops;
  void *ruser;
  uint64_t backlog;     /* messages in all mailboxes */
  bool remote_paused;   /* the remote layer was told to stop reading */
  bool shut_down;       /* eng_node_shutdown has run */
  eng_name *system_id;  /* TR_SYSTEM_PUBLISHER */
};

static inline bool eng_remote(const tr_node *n) { return n->rops != NULL; }

/* 0, or why the guard refuses (eng_set_guard). */
static inline int eng_guarded(tr_node *n, eng_act act, const char *object,
                              const char *topic) {
  return n->guard ? n->guard(n->guard_user, act, object, topic) : 0;
}

void eng_vlog(tr_node *, tr_log_level, const char *event, const char *fmt,
              va_list) __attribute__((format(printf, 4, 0)));
/* After the user's level or the taps changed: the sink and the level lines
 * are built at (log_tap.c). */
void eng_log_levels(tr_node *);
void eng_log_taps_free(tr_node *);
/* Counts a dead letter and keeps it in the node's ring of recent ones
 * (dead_letters.c): from the sending actor (NULL: from outside actors),
 * to its target (NULL: none), len its payload's bytes. Logs it (INFO) at
 * totals 1, 2, 4, 8..., per reason, so a flood of drops is visible
 * without a line per drop. Out of line: only drops come here. */
void eng_dead(tr_node *, tr_dead_reason r, const char *from, const char *to,
              size_t len);
void eng_dead_ring_free(tr_node *);

/* Restarts (restarts.c): a child that ended while its parent lives is
 * remembered by id; the parent spawning that id again makes the new child
 * one restart more than the old. */
void restarts_child_ended(eng_actor *child, eng_actor *parent);
void restarts_child_spawned(eng_actor *child, eng_actor *parent);
void restarts_free(tr_node *);

/* A name's string, or NULL for none (a sender from outside actors). */
static inline const char *eng_str(const eng_name *name) {
  return name ? name->str : NULL;
}

/* A dead letter addressed to actor a: counted for the node and for a (in
 * its x; without one, ENOMEM, only for the node). */
static inline void eng_dead_for(tr_node *n, eng_actor *a, tr_dead_reason r,
                                const eng_name *from, size_t len) {
  eng_dead(n, r, eng_str(from), a->id->str, len);
  if (actor_x(a)) a->x->dead++;
}

/* An accepted send that cannot be delivered (rc: why): a dead letter
 * (unreachable, no_actor), or for TR_ENOMEM a loss counted and logged. */
void eng_undelivered(tr_node *, int rc, const eng_name *from, const char *to,
                     size_t len);

/* ---- queueing into a mailbox (send.c, pubsub.c) -------------------------- */

/* Whether `to` takes a message of this type, tag and flags now: 0,
 * TR_ENOTFOUND (stopping), TR_EBADTYPE, TR_EFULL. */
static inline int mb_admits(const eng_actor *to, uint8_t type,
                            unsigned flags, uint32_t msg_type) {
  if (to->stopping) return TR_ENOTFOUND;
  /* A reply is what its asker asked for: never refused for its tag. */
  if (msg_type && type != TR_MSG_REPLY && !actor_accepts(to, msg_type))
    return TR_EBADTYPE;
  if (!(flags & ENG_BYPASS_CAPACITY) &&
      (to->mb_count >= to->mb_capacity || (to->held_dq && !(flags & ENG_FEED))))
    return TR_EFULL;
  return 0;
}

/* Queues m, admitted, last in to's mailbox, with its high-water mark and a
 * place on the ready queue; the caller counts it (n->backlog,
 * n->stats.sent, m->refs). TR_ENOMEM. */
static inline int mb_enqueue(tr_node *n, eng_actor *to, eng_msg *m) {
  if (mb_push(to, m) != 0) return TR_ENOMEM;
  if (to->mb_count > to->mb_hwm) {
    to->mb_hwm = to->mb_count;
    if (to->mb_hwm > n->stats.mailbox_hwm) n->stats.mailbox_hwm = to->mb_hwm;
  }
  if (!to->in_ready) sched_ready(to);
  return 0;
}

#endif /* TR_ENGINE_H */
