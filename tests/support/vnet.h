/* vnet.h — a virtual network with a virtual clock, for tests of the
 * cluster state machines (tests/unit/test_swim.c, test_registry.c, the
 * simulator in tests/sim): messages wait in a heap ordered by delivery time,
 * then by send order; loss, jitter, per-link delay, partitions, deaf and
 * down nodes; a seeded random source and a trace hash, so the same seed and
 * script give the same run, message for message. No sockets, no sleeps. */
#ifndef TR_VNET_H
#define TR_VNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct vnet vnet;

/* The part of a message the network reads. A user embeds it as the first
 * member of its own message, so a cast gets the whole message back. */
typedef struct vnet_msg {
  uint64_t at, seq;  /* delivery time; send order breaks ties */
  uint32_t from, to; /* node indexes */
} vnet_msg;

/* What the network asks of the nodes on it. deadline and tick name one
 * node, always an up one; deliver, a message to an up one. */
typedef struct vnet_ops {
  /* Node i's next deadline (virtual ms); UINT64_MAX for none. */
  uint64_t (*deadline)(void *user, uint32_t i);
  /* Runs node i's work due at now (its deadline has come). */
  void (*tick)(void *user, uint32_t i, uint64_t now);
  /* Hands m to node m->to; false if it would not take it (a check of the
   * user's own, such as a restarted process), counted as dropped. The
   * network frees m when this returns. */
  bool (*deliver)(void *user, vnet_msg *m, uint64_t now);
  /* Frees a message: delivered, dropped, or still queued at vnet_free. */
  void (*free_msg)(vnet_msg *m);
} vnet_ops;

typedef struct vnet_config {
  uint32_t nodes;      /* indexes 0..nodes-1 */
  uint64_t seed;       /* the random source and the nodes' seeds */
  uint64_t start_ms;   /* the clock at the start [0] */
  uint32_t latency_ms; /* one-way delay, at least 1 [1] */
  uint32_t jitter_ms;  /* plus uniform [0, jitter] [0] */
  uint32_t loss_ppm;   /* per message, every link, in millionths [0] */
  uint32_t step_ms;    /* 0: time jumps to the next message or deadline;
                          N: it moves on a grid of N ms, a message or
                          deadline served at the first grid point at or
                          after it, never twice at one point [0] */
  uint32_t check_ms;   /* vnet_run_until checks its predicate this often,
                          0 after every step [0] */
} vnet_config;

/* 0, or TR_ENOMEM / TR_EINVAL (no nodes, or an op missing). user is
 * handed to every op. */
int vnet_new(vnet **out, const vnet_config *, const vnet_ops *, void *user);
/* Frees every message still queued (ops->free_msg), then the network.
 * NULL is a no-op. */
void vnet_free(vnet *);

/* ---- sending ---------------------------------------------------------- */

/* Sends m from `from` to `to` now. It is dropped (and freed at once) if the
 * sender is down, `to` is not a node (VNET_NONE), the link is cut, the
 * receiver is deaf, or loss takes it; else it is queued to arrive after
 * latency + the link's delay + jitter, and delivered then unless the
 * receiver is down or the link cut by that time. Takes m either way;
 * true if queued. */
bool vnet_send(vnet *, uint32_t from, uint32_t to, vnet_msg *m);

/* How many messages are waiting; the first max of them, in send order,
 * go into out (valid until the next step or vnet_clear), for a test that
 * looks at what is in flight. */
size_t vnet_queued(vnet *, const vnet_msg **out, size_t max);
/* Frees every waiting message undelivered, without counting it. */
void vnet_clear(vnet *);

typedef struct vnet_stats {
  uint64_t sent;      /* vnet_send calls */
  uint64_t dropped;   /* at send or at delivery */
  uint64_t delivered; /* deliver returned true */
} vnet_stats;

vnet_stats vnet_get_stats(vnet *);

/* ---- time --------------------------------------------------------------- */

uint64_t vnet_now(vnet *);
/* Moves the clock to t (not back) without delivering or ticking, for a
 * test that drives a node by hand. */
void vnet_set_clock(vnet *, uint64_t t);

/* One step: time moves to the next message or up node's deadline (on the
 * grid if step_ms), what is due is delivered, then every up node whose
 * deadline has come is ticked. False, with the clock at limit, when
 * nothing is due by limit (UINT64_MAX: the clock stays). */
bool vnet_step(vnet *, uint64_t limit);
/* Steps until ms have passed; the clock ends at now + ms. */
void vnet_run(vnet *, uint64_t ms);
/* Steps until pred(user, arg) holds (checked at the start, then every
 * check_ms and at the end) or max_ms have passed; returns the virtual time
 * it took, or UINT64_MAX if it never held. */
uint64_t vnet_run_until(vnet *, bool (*pred)(void *user, const void *arg),
                        const void *arg, uint64_t max_ms);

/* ---- conditions --------------------------------------------------------- */

/* A down node sends nothing and gets nothing (what it sent before still
 * arrives) and is not ticked. Nodes start up. */
void vnet_set_up(vnet *, uint32_t i, bool up);
bool vnet_is_up(vnet *, uint32_t i);
/* Everything sent to a deaf node is lost; it still sends. */
void vnet_set_deaf(vnet *, uint32_t i, bool deaf);
void vnet_set_loss_ppm(vnet *, uint32_t ppm);
void vnet_set_jitter_ms(vnet *, uint32_t ms);
/* Extra one-way delay from `from` to `to`. 0 or TR_ENOMEM. */
int vnet_set_link_delay(vnet *, uint32_t from, uint32_t to, uint32_t ms);
/* Cuts every link between nodes with group[i] != group[j] (group has one
 * entry a node, copied); NULL heals. 0 or TR_ENOMEM. */
int vnet_partition(vnet *, const uint8_t *group);

/* ---- determinism -------------------------------------------------------- */

/* The network's random source (splitmix64 from the seed). */
uint64_t vnet_rand(vnet *);
/* One splitmix64 draw from *state, for a script's own random source. */
uint64_t vnet_splitmix64(uint64_t *state);
/* A seed for node i's state machine in the process started at epoch:
 * differs by node, epoch and the network's seed. */
uint64_t vnet_node_seed(vnet *, uint32_t i, uint64_t epoch);

/* The trace: an FNV-1a hash over what the user feeds it (sends,
 * deliveries, callbacks); two runs agree iff they fed the same bytes. */
void vnet_trace(vnet *, const void *p, size_t len);
void vnet_trace_u64(vnet *, uint64_t v);
void vnet_trace_str(vnet *, const char *s); /* NULL hashes as "(null)" */
uint64_t vnet_trace_hash(vnet *);

#define VNET_FNV_OFFSET 1469598103934665603ull
/* FNV-1a of len bytes, continuing from h (VNET_FNV_OFFSET to start). */
uint64_t vnet_fnv1a(uint64_t h, const void *p, size_t len);

/* ---- names -------------------------------------------------------------- */

#define VNET_NONE UINT32_MAX

/* Nodes are named "n<i>", with addresses "n<i>:<port>": the index of a
 * name or address, or VNET_NONE if it is neither or i >= nodes. */
uint32_t vnet_node_index(const char *name_or_addr, uint32_t nodes);

#endif /* TR_VNET_H */
