/* host_credit.c — flow-control credit for sends and asks to actors on other
 * nodes, so that TR_EFULL means the same for a remote target as for a local
 * one: refused at the call, nothing queued.
 *
 * Sender side: per remote target id, the sends this node may still make to
 * it (avail). A first send starts with CREDIT_INITIAL, so it does not wait
 * a round trip; with none left the send is refused TR_EFULL and, if an
 * actor asked (tr_send_notify) or deferred sends wait, the engine is told
 * when credit comes back (eng_room_open). Credit held for a target whose
 * registry entry changes (it stopped, moved, restarted) or whose node goes
 * is dropped, and whoever waited on it is told why.
 *
 * Target side: a credited send is always taken, past capacity if need be
 * (its room was promised). As the target takes sends from a node out of
 * its mailbox (eng ops->consumed), that node is owed them back; owed
 * credit is returned in bulk (a CREDIT envelope, once an eighth of the
 * window is owed) on the link's own stream, flushed with its other frames.
 * The window a node gets is the target's capacity: on first contact it is
 * topped up from CREDIT_INITIAL (or, for a smaller mailbox, the difference
 * is held back from what is returned). So each node has at most `capacity`
 * sends in flight or queued for one target, plus CREDIT_INITIAL before its
 * first grant, and the target's mailbox is bounded by that per sending
 * node.
 *
 * Peers whose hello does not announce WIRE_FEATURE_CREDIT (older nodes)
 * are sent to without credit, as before: a full mailbox there drops the
 * message and says so (remote_full). */
#include <stdlib.h>
#include <string.h>

#include "host.h"

#define CREDIT_INITIAL 64
#define CREDIT_MAX (1 << 30) /* a grant past this is a peer's nonsense */

/* Sender side: credit held for one remote target id. */
struct host_credit {
  UT_hash_handle hh; /* c->credits, keyed by id */
  int64_t avail;     /* sends and asks it may still make */
  int64_t window;    /* the target's window, as its grants say; 0: unknown */
  uint16_t node;     /* the peer the credit is at */
  bool waiting;      /* a send met none: tell the engine when it comes */
  size_t len;
  char id[];
};

/* Target side: what each sending node is owed for one local actor. */
typedef struct owed_slot {
  uint16_t node;
  uint32_t window; /* the target's capacity when last reported */
  int64_t owed;    /* negative: held back (a window below CREDIT_INITIAL) */
} owed_slot;

struct host_owed {
  UT_hash_handle hh; /* c->owed, keyed by id */
  owed_slot *slots;
  uint32_t n, cap;
  size_t len;
  char id[];
};

bool host_credit_peer(cluster *c, host_peer *p) {
  if (c->no_credit) return false;
  peer_link *lk = p->link ? p->link : link_find(c->links, p->name);
  return !lk || link_peer_speaks(lk, WIRE_FEATURE_CREDIT);
}

static host_credit *credit_find(cluster *c, const char *id, size_t len) {
  host_credit *cr = c->last_credit;
  if (cr && cr->len == len && memcmp(cr->id, id, len) == 0) return cr;
  cr = NULL;
  HASH_FIND(hh, c->credits, id, len, cr);
  if (cr) c->last_credit = cr;
  return cr;
}

static void credit_free(cluster *c, host_credit *cr) {
  if (c->last_credit == cr) c->last_credit = NULL;
  HASH_DEL(c->credits, cr);
  if (cr->waiting) c->st.credit_waiting--;
  free(cr);
}

int host_credit_take(cluster *c, host_peer *p, const char *to, size_t len,
                     host_credit **out) {
  host_credit *cr = credit_find(c, to, len);
  if (!cr) {
    cr = calloc(1, sizeof(*cr) + len + 1);
    if (!cr) return TR_ENOMEM;
    memcpy(cr->id, to, len);
    cr->len = len;
    cr->node = p->idx;
    cr->avail = CREDIT_INITIAL;
    HASH_ADD(hh, c->credits, id, len, cr);
    c->last_credit = cr;
  } else if (cr->node != p->idx) {
    /* It moved: what was granted at the old node is void there. */
    cr->node = p->idx;
    cr->avail = CREDIT_INITIAL;
    cr->window = 0;
  }
  if (cr->avail <= 0) {
    if (!cr->waiting) c->st.credit_waiting++;
    cr->waiting = true;
    c->st.credit_refused++;
    return TR_EFULL;
  }
  cr->avail--;
  *out = cr;
  return 0;
}

void host_credit_give_back(host_credit *cr) { cr->avail++; }

/* mark: a sender will wait on it (eng_room_open when it has room). */
static int credit_room(cluster *c, const char *to, size_t len, bool mark) {
  const char *owner = reg_lookup(c->reg, to);
  if (!owner || strcmp(owner, c->name) == 0) return TR_ENOTFOUND;
  host_peer *p = host_peer_find(c, owner);
  if (!p || !p->up || c->left) return TR_EUNREACHABLE;
  /* The link itself is full: its on_room wakes every waiter. */
  if (p->link && link_full(p->link)) return 0;
  host_credit *cr = credit_find(c, to, len);
  if (!cr || cr->node != p->idx || cr->avail > 0 || !host_credit_peer(c, p))
    return 1;
  if (!mark) return 0;
  if (!cr->waiting) c->st.credit_waiting++;
  cr->waiting = true;
  return 0;
}

int host_credit_room(void *user, const char *to, size_t len) {
  return credit_room(user, to, len, true);
}

bool host_credit_has_room(cluster *c, const char *to, size_t len) {
  return credit_room(c, to, len, false) == 1;
}

/* Credit at cr is gone (status: why) or back (0): wake whoever waits. */
static void credit_wake(cluster *c, host_credit *cr, int status) {
  if (!cr->waiting) return;
  cr->waiting = false;
  c->st.credit_waiting--;
  eng_room_open(c->node, cr->id, cr->len, status);
}

void host_credit_on_env(cluster *c, host_peer *from, const wire_envelope *e) {
  host_credit *cr = credit_find(c, (const char *)e->target.p, e->target.len);
  /* Credit for what we no longer hold, or from a node it no longer is at:
   * stale, and harmless. */
  if (!cr || cr->node != from->idx || e->ask_id == 0 ||
      e->ask_id > CREDIT_MAX)
    return;
  c->st.credit_in += e->ask_id;
  cr->avail += (int64_t)e->ask_id;
  /* Never more than the window: returns that outlived a reset of this
   * entry (the target restarted, this node dropped and remade it) must not
   * widen it. */
  if (e->status > 0) cr->window = e->status;
  int64_t cap = cr->window ? cr->window : CREDIT_MAX;
  if (cr->avail > cap) cr->avail = cap;
  if (cr->avail > 0) credit_wake(c, cr, 0);
}

void host_credit_unused(cluster *c, host_peer *p, const char *id,
                        size_t len) {
  host_credit *cr = credit_find(c, id, len);
  if (!cr || cr->node != p->idx) return;
  if (cr->avail < (cr->window ? cr->window : CREDIT_MAX)) cr->avail++;
  /* Woken from the deferred timer: this may run inside the link's own
   * reset, which must not be sent on. */
  if (cr->avail > 0 && cr->waiting &&
      strv_push(&c->rewake_ids, &c->nrewake, &c->cap_rewake, cr->id) == 0)
    host_defer(c);
}

void host_credit_rewake(cluster *c, const char *id) {
  host_credit *cr = credit_find(c, id, strlen(id));
  if (cr && cr->avail > 0) credit_wake(c, cr, 0);
}

bool host_credit_held(cluster *c, const char *id) {
  return credit_find(c, id, strlen(id)) != NULL;
}

/* Drops cr; whoever waited on it is told (status: why; 0: try again). */
static void credit_drop(cluster *c, host_credit *cr, int status) {
  char id[TR_ID_MAX + 1];
  size_t len = cr->len;
  memcpy(id, cr->id, len + 1);
  bool waiting = cr->waiting;
  credit_free(c, cr);
  if (waiting) eng_room_open(c->node, id, len, status);
}

void host_credit_refresh(cluster *c, const char *id) {
  host_credit *cr = credit_find(c, id, strlen(id));
  if (!cr) return;
  /* Whatever changed (stopped, moved, restarted in place), the credit held
   * is void; a send to where it is now starts afresh. */
  const char *owner = reg_lookup(c->reg, id);
  credit_drop(c, cr, !owner || strcmp(owner, c->name) == 0 ? TR_ENOTFOUND : 0);
}

/* ---- target side ------------------------------------------------------------ */

static host_owed *owed_find(cluster *c, const char *id, size_t len) {
  host_owed *o = c->last_owed;
  if (o && o->len == len && memcmp(o->id, id, len) == 0) return o;
  o = NULL;
  HASH_FIND(hh, c->owed, id, len, o);
  if (o) c->last_owed = o;
  return o;
}

static void owed_free(cluster *c, host_owed *o) {
  if (c->last_owed == o) c->last_owed = NULL;
  HASH_DEL(c->owed, o);
  free(o->slots);
  free(o);
}

static owed_slot *owed_slot_get(cluster *c, const char *id, size_t len,
                                uint16_t node, uint32_t capacity) {
  host_owed *o = owed_find(c, id, len);
  if (!o) {
    o = calloc(1, sizeof(*o) + len + 1);
    if (!o) return NULL;
    memcpy(o->id, id, len);
    o->len = len;
    HASH_ADD(hh, c->owed, id, len, o);
    c->last_owed = o;
  }
  for (uint32_t i = 0; i < o->n; i++)
    if (o->slots[i].node == node) return &o->slots[i];
  if (o->n == o->cap) {
    uint32_t cap = o->cap ? o->cap * 2 : 2;
    owed_slot *s = realloc(o->slots, cap * sizeof(*s));
    if (!s) return NULL;
    o->slots = s;
    o->cap = cap;
  }
  /* First contact: the node started with CREDIT_INITIAL; its window is
   * the mailbox's capacity. */
  o->slots[o->n] =
      (owed_slot){node, capacity, (int64_t)capacity - CREDIT_INITIAL};
  return &o->slots[o->n++];
}

/* Returns what s owes to p for id now. On failure (the link refused, p is
 * down) it stays owed and c->owed_stuck makes host_credit_retry look. */
static void owed_send(cluster *c, host_peer *p, const char *id, size_t len,
                      owed_slot *s, uint32_t window) {
  char target[TR_ID_MAX + 1];
  memcpy(target, id, len);
  target[len] = '\0';
  if (p->up && !c->left &&
      host_send_env(c, p, HOST_ENV_CREDIT, NULL, target, (uint64_t)s->owed,
                    (int)window, NULL, 0) == 0) {
    c->st.credit_out += (uint64_t)s->owed;
    s->owed = 0;
    /* Now, not after this loop iteration's run of actors (up to 8192
     * messages): the sender must not wait behind the work its credit
     * frees room for. */
    link_flush_now(p->link);
    return;
  }
  c->owed_stuck = true;
}

void host_credit_consumed(void *user, const char *id, size_t len,
                          uint16_t origin, uint32_t count, uint32_t capacity) {
  cluster *c = user;
  host_peer *p = host_peer_at(c, origin);
  if (!p || !host_credit_peer(c, p) || c->left) return;
  if (capacity == 0) capacity = 1;
  owed_slot *s = owed_slot_get(c, id, len, origin, capacity);
  if (!s) {
    /* Not returned: the sender's window shrinks by count; it is still
     * told when the target goes. Logged, never silent. */
    host_log(c, TR_LOG_ERROR, "credit_lost", "peer=%s target=%.*s count=%u "
             "reason=enomem", p->name, (int)len, id, count);
    return;
  }
  s->owed += count;
  s->window = capacity;
  int64_t batch = capacity / 8 ? capacity / 8 : 1;
  if (s->owed >= batch) owed_send(c, p, id, len, s, capacity);
}

void host_credit_retry(cluster *c) {
  if (!c->owed_stuck) return;
  c->owed_stuck = false;
  host_owed *o, *tmp;
  HASH_ITER(hh, c->owed, o, tmp) {
    for (uint32_t i = 0; i < o->n; i++) {
      owed_slot *s = &o->slots[i];
      host_peer *p = host_peer_at(c, s->node);
      if (s->owed > 0 && p) owed_send(c, p, o->id, o->len, s, s->window);
    }
  }
}

void host_credit_refund(cluster *c, host_peer *p, const char *id,
                        size_t len) {
  /* A credited message refused before any mailbox (its policy, memory):
   * its credit goes straight back, or the sender's window shrinks for
   * good. */
  if (!host_credit_peer(c, p)) return;
  char target[TR_ID_MAX + 1];
  memcpy(target, id, len);
  target[len] = '\0';
  if (host_send_env(c, p, HOST_ENV_CREDIT, NULL, target, 1, 0, NULL, 0) == 0)
    c->st.credit_out++;
}

void host_credit_unreturned(cluster *c, host_peer *p, const char *id,
                            size_t len, uint64_t count) {
  host_owed *o = owed_find(c, id, len);
  if (!o || count > CREDIT_MAX) return; /* the actor is gone: void anyway */
  for (uint32_t i = 0; i < o->n; i++)
    if (o->slots[i].node == p->idx) {
      o->slots[i].owed += (int64_t)count; /* sent again by the retry */
      c->st.credit_out -= count;
      c->owed_stuck = true;
      host_defer(c);
      return;
    }
}

void host_credit_actor_gone(cluster *c, const char *id) {
  host_owed *o = owed_find(c, id, strlen(id));
  if (o) owed_free(c, o);
}

/* ---- both sides ------------------------------------------------------------- */

/* The ids of the entries held at node idx, each dropped: whoever waited on
 * one is told `status` afterwards, once (telling may feed deferred sends,
 * which may make new entries: those stay). */
static void credit_drop_node(cluster *c, uint16_t idx, int status) {
  char **ids = NULL;
  size_t n = 0, cap = 0;
  host_credit *cr, *tmp;
  HASH_ITER(hh, c->credits, cr, tmp) {
    if (cr->node != idx) continue;
    if (cr->waiting && strv_push(&ids, &n, &cap, cr->id) != 0)
      host_log(c, TR_LOG_ERROR, "notice_lost",
               "type=writable from=%s reason=enomem", cr->id);
    credit_free(c, cr);
  }
  for (size_t i = 0; i < n; i++) {
    eng_room_open(c->node, ids[i], strlen(ids[i]), status);
    free(ids[i]);
  }
  free(ids);
}

void host_credit_node_down(cluster *c, host_peer *p, bool restarted) {
  credit_drop_node(c, p->idx, TR_EUNREACHABLE);
  /* A full link to it may hold back remote waiters and deferred sends the
   * credit table does not know: they try again and meet the error. */
  if (p->link && link_full(p->link)) eng_room_open(c->node, NULL, 0, 0);
  /* What it is owed stays while it may come back as it was (held dead
   * while only slow, it still holds credit here); a restart voids it. */
  if (!restarted) return;
  host_owed *o, *otmp;
  HASH_ITER(hh, c->owed, o, otmp) {
    for (uint32_t i = 0; i < o->n; i++)
      if (o->slots[i].node == p->idx) o->slots[i--] = o->slots[--o->n];
    if (!o->n) owed_free(c, o);
  }
}

void host_credit_link_up(cluster *c, host_peer *p) {
  /* An older node: sends go without credit now; those waiting for credit
   * it will never give try again. */
  if (!host_credit_peer(c, p)) credit_drop_node(c, p->idx, 0);
  host_credit_retry(c);
}

uint32_t host_credit_targets(cluster *c) { return HASH_COUNT(c->credits); }

void host_credit_free(cluster *c) {
  host_credit *cr, *tmp;
  HASH_ITER(hh, c->credits, cr, tmp) credit_free(c, cr);
  host_owed *o, *otmp;
  HASH_ITER(hh, c->owed, o, otmp) owed_free(c, o);
}
