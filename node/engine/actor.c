/* actor.c — spawning, running and stopping actors: the local registry of
 * ids, parent/child links, supervision notices and the stop cascade. */
#include <stdlib.h>
#include <string.h>

#include "engine.h"

/* The state lives in the same allocation as the actor, after it. */
#define STATE_OFFSET ((sizeof(eng_actor) + 15u) & ~(size_t)15u)

/* A spawn and a stop cost two allocations (the block and the id); a
 * stream of them (a worker per request) overran malloc's per-thread cache
 * and paid its slow path both ways: a third of a spawn + stop. The
 * blocks of stopped actors with small states are kept for the next. */
static size_t actor_class(size_t state_size) {
  return state_size <= ENG_ACTOR_POOLED ? (state_size + 15) / 16 : SIZE_MAX;
}

/* Not under AddressSanitizer: a kept block would hide a use after free. */
#if defined(__SANITIZE_ADDRESS__)
#define ACTOR_FREE_MAX 0u
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ACTOR_FREE_MAX 0u
#endif
#endif
#ifndef ACTOR_FREE_MAX
#define ACTOR_FREE_MAX ENG_ACTOR_FREE_MAX
#endif

static eng_actor *actor_block_get(tr_node *n, size_t state_size) {
  size_t c = actor_class(state_size);
  if (c == SIZE_MAX) return calloc(1, STATE_OFFSET + state_size);
  size_t size = STATE_OFFSET + c * 16;
  void *b = n->free_actors[c];
  if (!b) return calloc(1, size);
  n->free_actors[c] = *(void **)b;
  n->nfree_actors[c]--;
  return memset(b, 0, size);
}

static void actor_block_put(tr_node *n, eng_actor *a) {
  size_t c = actor_class(a->type->state_size);
  if (c == SIZE_MAX || n->nfree_actors[c] + 1 > ACTOR_FREE_MAX ||
      n->freeing) {
    free(a);
    return;
  }
  *(void **)a = n->free_actors[c];
  n->free_actors[c] = a;
  n->nfree_actors[c]++;
}

void actor_pool_free(tr_node *n) {
  for (size_t c = 0; c < ENG_ACTOR_CLASSES; c++) {
    while (n->free_actors[c]) {
      void *b = n->free_actors[c];
      n->free_actors[c] = *(void **)b;
      free(b);
    }
    n->nfree_actors[c] = 0;
  }
}

eng_actor *actor_find_len(tr_node *n, const char *id, size_t len) {
  if (n->find_gen == n->actors_gen && n->find_len == len &&
      memcmp(n->find_id, id, len) == 0)
    return n->find_hit;
  eng_actor *a = atab_find(&n->actors, id, len, atab_hash(id, len));
  if (len <= sizeof(n->find_id)) {
    memcpy(n->find_id, id, len);
    n->find_len = len;
    n->find_hit = a;
    n->find_gen = n->actors_gen;
  }
  return a;
}

eng_actor *actor_find(tr_node *n, const char *id) {
  return actor_find_len(n, id, strlen(id));
}

eng_actor_x *actor_x(eng_actor *a) {
  if (!a->x) a->x = calloc(1, sizeof(*a->x));
  return a->x;
}

/* Writes the decimal digits of v at p, two at a time; returns their
 * count. (snprintf was a third of a spawn's instructions.) */
static size_t put_u64(char *p, uint64_t v) {
  static const char pairs[] =
      "00010203040506070809101112131415161718192021222324"
      "25262728293031323334353637383940414243444546474849"
      "50515253545556575859606162636465666768697071727374"
      "75767778798081828384858687888990919293949596979899";
  char tmp[20];
  size_t k = sizeof(tmp);
  while (v >= 100) {
    size_t d = (size_t)(v % 100) * 2;
    v /= 100;
    tmp[--k] = pairs[d + 1];
    tmp[--k] = pairs[d];
  }
  if (v >= 10) {
    tmp[--k] = pairs[v * 2 + 1];
    tmp[--k] = pairs[v * 2];
  } else {
    tmp[--k] = (char)('0' + v);
  }
  memcpy(p, tmp + k, sizeof(tmp) - k);
  return sizeof(tmp) - k;
}

/* "<base>.<gen>" then, with a remote layer, "@<node>": base at most 100
 * bytes with a remote layer, else 200; the node's name at most 120. */
static size_t format_gen_id(char *buf, const char *base, uint64_t gen,
                            const char *node) {
  size_t blen = strnlen(base, node ? 100 : 200);
  memcpy(buf, base, blen);
  size_t len = blen;
  buf[len++] = '.';
  len += put_u64(buf + len, gen);
  if (node) {
    size_t nlen = strnlen(node, 120);
    buf[len++] = '@';
    memcpy(buf + len, node, nlen);
    len += nlen;
  }
  buf[len] = '\0';
  return len;
}

/* Picks "<type name>.<n>" that nobody holds yet; with a remote layer
 * "<type name>.<n>@<node>", so nodes never pick the same one. */
static int actor_generate_id(tr_node *n, const tr_actor_type *t, char *buf,
                             size_t cap, size_t *len_out, uint32_t *hash) {
  const char *base = t->name && t->name[0] && t->name[0] != '$' ? t->name
                                                                : "actor";
  /* The longest: 100 + '.' + 20 digits + '@' + 120 and the NUL (alone,
   * 200 + 1 + 20 + 1 is shorter). */
  if (cap < 100 + 1 + 20 + 1 + 120 + 1) return TR_EINVAL;
  for (int tries = 0; tries < 1000; tries++) {
    size_t len = format_gen_id(buf, base, ++n->next_gen_id,
                               n->rops ? n->name : NULL);
    if (len > TR_ID_MAX) return TR_EINVAL;
    *hash = atab_hash(buf, len);
    if (atab_find(&n->actors, buf, len, *hash)) continue;
    int rc = n->rops ? n->rops->claim(n->ruser, buf) : 0;
    if (rc == TR_EEXIST) continue;
    if (rc != 0) return rc;
    *len_out = len;
    return 0;
  }
  return TR_EEXIST;
}

static void actor_link_child(eng_actor *parent, eng_actor *a) {
  a->parent = parent;
  eng_actor_x *px = parent->x; /* made before the spawn went ahead */
  a->next_sibling = px->first_child;
  if (px->first_child) px->first_child->prev_sibling = a;
  px->first_child = a;
  px->nchildren++;
}

static void actor_unlink_child(eng_actor *a) {
  eng_actor *p = a->parent;
  if (!p) return;
  if (a->prev_sibling)
    a->prev_sibling->next_sibling = a->next_sibling;
  else
    p->x->first_child = a->next_sibling;
  if (a->next_sibling) a->next_sibling->prev_sibling = a->prev_sibling;
  a->next_sibling = a->prev_sibling = NULL;
  a->parent = NULL;
  p->x->nchildren--;
}

static int actor_spawn_ex(tr_node *n, eng_actor *parent,
                          const tr_actor_type *t, const tr_spawn_opts *o,
                          bool system);

int actor_spawn(tr_node *n, eng_actor *parent, const tr_actor_type *t,
                const tr_spawn_opts *o) {
  return actor_spawn_ex(n, parent, t, o, false);
}

int eng_spawn_system(tr_node *n, const tr_actor_type *t, const char *id,
                     const void *arg) {
  if (!id || id[0] != '$') return TR_EINVAL;
  tr_spawn_opts o = {.id = id, .arg = arg};
  return actor_spawn_ex(n, NULL, t, &o, true);
}

/* system: a node-internal '$' actor, which other nodes never learn of. */
static int actor_spawn_ex(tr_node *n, eng_actor *parent,
                          const tr_actor_type *t, const tr_spawn_opts *o,
                          bool system) {
  if (!n || !t || !t->receive) return TR_EINVAL;
  if (n->freeing || (parent && parent->stopping)) return TR_ESTATE;
  char gen[TR_ID_MAX + 1];
  const char *id;
  size_t len;
  uint32_t hash;
  int rc;
  bool claimed = false; /* claimed from the remote layer: release on failure */
  if (o && o->id) {
    rc = eng_check_id(o->id, &len);
    if (rc != 0 || (o->id[0] == '$') != system) return TR_EINVAL;
    hash = atab_hash(o->id, len);
    if (atab_find(&n->actors, o->id, len, hash)) return TR_EEXIST;
    id = o->id;
  } else {
    if (o && o->id_out && o->id_out_size < 2) return TR_EINVAL;
    rc = actor_generate_id(n, t, gen, sizeof(gen), &len, &hash);
    if (rc != 0) return rc;
    id = gen;
    claimed = n->rops != NULL; /* claimed while it was picked */
  }
  rc = TR_EINVAL;
  if ((o && o->id_out && o->id_out_size < len + 1) ||
      t->state_size > SIZE_MAX - STATE_OFFSET)
    goto fail;
  if (!system && (rc = eng_guarded(n, ENG_ACT_REGISTER, id, NULL)) != 0)
    goto fail;
  /* The remote layer is asked last, so a claim is only made for a spawn
   * that goes ahead. */
  if (!claimed && n->rops && !system) {
    rc = n->rops->claim(n->ruser, id);
    if (rc != 0) return rc;
    claimed = true;
  }

  rc = TR_ENOMEM;
  if (parent && !actor_x(parent)) goto fail;
  eng_actor *a = actor_block_get(n, t->state_size);
  if (!a) goto fail;
  a->type = t;
  a->id = eng_name_new(id, len);
  if (!a->id) {
    actor_block_put(n, a);
    goto fail;
  }
  a->node = n;
  a->born_ms = uv_now(n->loop);
  a->state = t->state_size ? (char *)a + STATE_OFFSET : NULL;
  a->mb_capacity = o && o->capacity ? o->capacity : n->default_capacity;
  a->hashv = hash;
  if (atab_add(&n->actors, a) != 0) {
    eng_name_unref(a->id);
    actor_block_put(n, a);
    goto fail;
  }
  n->actors_gen++;
  if (parent) {
    actor_link_child(parent, a);
    restarts_child_spawned(a, parent);
  }
  pubsub_actor_started(a);
  if (system) /* node-internal: not the user's, not in the user's figures */
    n->system_actors++;
  else
    n->stats.spawned++;
  if (o && o->id_out) memcpy(o->id_out, a->id->str, len + 1);

  if (t->init) {
    a->running = 1;
    rc = t->init(a, a->state, o ? o->arg : NULL);
    a->running = 0;
    if (rc != 0) {
      eng_log(n, TR_LOG_WARN, "actor_init_failed", "id=%s type=%s rc=%d",
              a->id->str, t->name ? t->name : "?", rc);
      a->init_failed = 1;
      actor_teardown(a, TR_EINIT, false);
      return TR_EINIT;
    }
  }
  if (a->stop_pending) actor_teardown(a, 0, true);
  return 0;

fail:
  if (claimed && n->rops) n->rops->release(n->ruser, id);
  return rc;
}

int mb_grow(eng_actor *a) {
  uint32_t size = a->mb_size ? a->mb_size * 2 : 8;
  if (size < a->mb_size) return TR_ENOMEM; /* 2^32 slots: never here */
  eng_pool *p = &a->node->pool;
  eng_msg **ring = pool_ring_get(p, size);
  if (!ring) return TR_ENOMEM;
  for (uint32_t i = 0; i < a->mb_count; i++) /* the oldest first, from 0 */
    ring[i] = a->mb_ring[(a->mb_first + i) & (a->mb_size - 1)];
  if (a->mb_ring) pool_ring_put(p, a->mb_ring, a->mb_size);
  a->mb_ring = ring;
  a->mb_first = 0;
  a->mb_size = size;
  return 0;
}

/* Gives the ring back: an empty mailbox whose burst grew it past
 * ENG_MB_KEEP, or a stopped actor's. */
static void mb_trim(eng_actor *a) {
  if (a->mb_ring) pool_ring_put(&a->node->pool, a->mb_ring, a->mb_size);
  a->mb_ring = NULL;
  a->mb_first = a->mb_size = 0;
}

void actor_teardown(eng_actor *a, int reason, bool notify_parent) {
  if (a->stopping) return;
  tr_node *n = a->node;
  a->stopping = 1;
  a->stop_reason = reason;
  sched_remove(a);

  /* Children first; their parent is going too, so it gets no notices. */
  while (a->x && a->x->first_child)
    actor_teardown(a->x->first_child, 0, false);

  if (a->type->deinit && !a->init_failed) {
    a->running = 1;
    a->type->deinit(a, a->state);
    a->running = 0;
  }
  /* What an actor holds in its x: most hold none (a worker per request). */
  if (a->x) {
    timer_actor_stopped(a);
    ask_actor_stopped(a);
  }
  if (a->x || a->pub) pubsub_actor_stopped(a);
  if (a->x) group_actor_stopped(a);
  atab_del(&n->actors, a); /* the id is free from here on */
  n->actors_gen++;

  n->backlog -= a->mb_count;
  while (a->mb_count) {
    eng_msg *m = mb_pop(a);
    if (m->ctrl != ENG_CTRL_STOP)
      eng_dead(n, TR_DL_STOPPED, eng_str(m->sender), a->id->str, m->len);
    pool_msg_put(&n->pool, m);
  }
  mb_trim(a);

  if (a->x) monitor_actor_stopped(a, reason);
  if (a->held_dq || a->writable) room_actor_stopped(a);
  if (n->rops) n->rops->actor_gone(n->ruser, a->id->str, reason);
  eng_actor *parent = a->parent;
  actor_unlink_child(a);
  if (parent && notify_parent && !parent->stopping) {
    restarts_child_ended(a, parent);
    send_notice(n, parent, TR_MSG_CHILD_EXIT, a->id, 0, reason);
  }
  if (a->id->str[0] == '$')
    n->system_actors--;
  else
    n->stats.stopped++;
  eng_name_unref(a->id);
  if (a->x) free(a->x->accepts);
  free(a->x);
  actor_block_put(n, a);
}

int tr_accept_types(tr_ctx *ctx, const uint32_t *types, size_t n) {
  if (!ctx || (n && !types) || n > UINT32_MAX) return TR_EINVAL;
  for (size_t i = 0; i < n; i++)
    if (!types[i]) return TR_EINVAL;
  eng_actor_x *x = actor_x(ctx);
  if (!x) return TR_ENOMEM;
  uint32_t *copy = NULL;
  if (n) {
    copy = malloc(n * sizeof(*copy));
    if (!copy) return TR_ENOMEM;
    memcpy(copy, types, n * sizeof(*copy));
  }
  free(x->accepts);
  x->accepts = copy;
  x->naccepts = (uint32_t)n;
  return 0;
}

uint32_t tr_msg_type_id(const char *name) {
  uint32_t h = 2166136261u;
  for (const unsigned char *p = (const unsigned char *)name; p && *p; p++)
    h = (h ^ *p) * 16777619u;
  return h ? h : 1;
}

/* Tells the remote layer that `count` sends and asks from node `origin`
 * left a's mailbox (its credit to give back). */
static void actor_consumed(eng_actor *a, uint16_t origin, uint32_t count) {
  tr_node *n = a->node;
  if (count && n->rops && n->rops->consumed)
    n->rops->consumed(n->ruser, a->id->str, a->id->len, origin, count,
                      a->mb_capacity);
}

/* What a message that is not plain (ENG_CTRL_DETAIL) adds to its
 * envelope: a send or ask from another node took credit there, counted in
 * runs of one node (*from, *from_count); the name of the node it came from;
 * a group where a publish has its topic. */
static void env_detail(eng_actor *a, const eng_msg *m, tr_envelope *env,
                       uint16_t *from, uint32_t *from_count) {
  tr_node *n = a->node;
  if (m->origin) {
    /* A group broadcast, a SEND with its group as topic, took none. */
    if ((m->type == TR_MSG_SEND || m->type == TR_MSG_ASK) && !m->topic) {
      if (m->origin != *from) {
        actor_consumed(a, *from, *from_count);
        *from = m->origin;
        *from_count = 0;
      }
      ++*from_count;
    }
    if (n->rops) env->node = n->rops->node_name(n->ruser, m->origin);
  }
  if (env->topic && m->type != TR_MSG_PUBLISH) {
    /* A broadcast carries its group where a publish has its topic; a
     * group event comes on "group:<name>". */
    if (m->type == TR_MSG_SEND) {
      env->group = env->topic;
      env->topic = NULL;
    } else if (m->type == TR_MSG_GROUP_JOIN ||
               m->type == TR_MSG_GROUP_LEAVE) {
      env->group = env->topic + sizeof(TR_GROUP_TOPIC_PREFIX) - 1;
    }
  }
}

uint32_t actor_run(eng_actor *a, uint32_t budget) {
  tr_node *n = a->node;
  uint32_t done = 0;
  /* Sends and asks from other nodes taken this turn, by runs of one node. */
  uint16_t from = 0;
  uint32_t from_count = 0;
  /* Only what was queued when the turn began: a message an actor sends to
   * itself waits for its next turn, behind the other ready actors. */
  if (budget > a->mb_count) budget = a->mb_count;
  tr_envelope env = {0}; /* each field set for each message, below */
  while (done < budget) {
    eng_msg *m = mb_pop(a);
    /* A long mailbox is cold: the next slot loads while m is handled. */
    if (a->mb_count) __builtin_prefetch(a->mb_ring[a->mb_first]);
    n->backlog--;
    done++;
    if (m->ctrl == ENG_CTRL_STOP) {
      pool_msg_put(&n->pool, m);
      actor_teardown(a, 0, true);
      return done;
    }
    env.type = (tr_msg_type)m->type;
    env.sender = eng_str(m->sender);
    env.topic = eng_str(m->topic);
    env.data = msg_data(m);
    env.len = m->len;
    env.ask_id = m->ask_id;
    env.status = m->status;
    env.node = n->name;
    env.group = NULL;
    env.msg_type = m->msg_type;
    if (m->ctrl != ENG_CTRL_NONE) env_detail(a, m, &env, &from, &from_count);
    bool timed = (a->delivered & (ENG_TIME_EVERY - 1)) == 0;
    uint64_t t0 = timed ? uv_hrtime() : 0;
    a->running = 1;
    int rc = a->type->receive(a, a->state, &env);
    a->running = 0;
    if (timed) {
      uint64_t dt = uv_hrtime() - t0;
      a->handler_ns += dt;
      a->timed++;
      if (dt > a->handler_max_ns) a->handler_max_ns = dt;
    }
    pool_msg_put(&n->pool, m);
    a->delivered++;
    n->stats.delivered++;
    if (rc != 0 || a->stop_pending) {
      actor_consumed(a, from, from_count); /* before its id is released */
      if (rc != 0) {
        n->stats.failed++;
        eng_log(n, TR_LOG_WARN, "actor_failed", "id=%s type=%s rc=%d",
                a->id->str, a->type->name ? a->type->name : "?", rc);
        actor_teardown(a, rc, true);
      } else {
        actor_teardown(a, a->stop_reason, true);
      }
      return done;
    }
  }
  actor_consumed(a, from, from_count);
  /* Room again: deferred sends and waiting senders (room.c). */
  if ((a->held_dq || a->writable) && a->mb_count <= a->mb_capacity / 2)
    room_actor_drained(a);
  if (a->mb_count)
    sched_ready(a);
  else if (a->mb_size > ENG_MB_KEEP)
    mb_trim(a);
  return done;
}

/* ---- public calls -------------------------------------------------------- */

/* The caller's type and options with their sizes (troupe.h, "Growth"). The
 * type is kept by pointer, so it must have every field this library reads
 * (it has had them all since the first version) and nothing it does not
 * know; the options are copied. */
static int actor_spawn_sized(tr_node *n, eng_actor *parent,
                             const tr_actor_type *t, size_t type_size,
                             const tr_spawn_opts *o, size_t opts_size) {
  if (!t || type_size < sizeof(tr_actor_type)) return TR_EINVAL;
  for (size_t i = sizeof(tr_actor_type); i < type_size; i++)
    if (((const unsigned char *)t)[i]) return TR_EINVAL;
  if (!o) return actor_spawn(n, parent, t, NULL);
  tr_spawn_opts opts;
  if (eng_struct_in(&opts, sizeof(opts), o, opts_size) != 0) return TR_EINVAL;
  return actor_spawn(n, parent, t, &opts);
}

int tr_node_spawn_sized(tr_node *n, const tr_actor_type *t, size_t type_size,
                        const tr_spawn_opts *o, size_t opts_size) {
  return actor_spawn_sized(n, NULL, t, type_size, o, opts_size);
}

int(tr_node_spawn)(tr_node *n, const tr_actor_type *t,
                   const tr_spawn_opts *o) {
  return actor_spawn(n, NULL, t, o);
}

int tr_spawn_sized(tr_ctx *ctx, const tr_actor_type *t, size_t type_size,
                   const tr_spawn_opts *o, size_t opts_size) {
  if (!ctx) return TR_EINVAL;
  return actor_spawn_sized(ctx->node, NULL, t, type_size, o, opts_size);
}

int tr_spawn_child_sized(tr_ctx *ctx, const tr_actor_type *t,
                         size_t type_size, const tr_spawn_opts *o,
                         size_t opts_size) {
  if (!ctx) return TR_EINVAL;
  return actor_spawn_sized(ctx->node, ctx, t, type_size, o, opts_size);
}

int(tr_spawn)(tr_ctx *ctx, const tr_actor_type *t, const tr_spawn_opts *o) {
  if (!ctx) return TR_EINVAL;
  return actor_spawn(ctx->node, NULL, t, o);
}

int(tr_spawn_child)(tr_ctx *ctx, const tr_actor_type *t,
                    const tr_spawn_opts *o) {
  if (!ctx) return TR_EINVAL;
  return actor_spawn(ctx->node, ctx, t, o);
}

const char *tr_self(tr_ctx *ctx) { return ctx ? ctx->id->str : NULL; }
tr_node *tr_node_of(tr_ctx *ctx) { return ctx ? ctx->node : NULL; }
uv_loop_t *tr_loop(tr_ctx *ctx) { return ctx ? ctx->node->loop : NULL; }

int tr_stop(tr_ctx *ctx) {
  if (!ctx) return TR_EINVAL;
  if (ctx->stopping) return 0;
  /* Inside one of its callbacks: stop when it returns. From the actor's own
   * I/O callbacks on the loop: stop now. */
  if (ctx->running) {
    ctx->stop_pending = 1;
    ctx->stop_reason = 0;
  } else {
    actor_teardown(ctx, 0, true);
  }
  return 0;
}

static int actor_queue_stop(tr_node *n, const char *id, bool guarded) {
  size_t len;
  if (!n || eng_check_id(id, &len) != 0) return TR_EINVAL;
  int rc = guarded ? eng_guarded(n, ENG_ACT_STOP, id, NULL) : 0;
  if (rc != 0) return rc;
  eng_actor *a = actor_find(n, id);
  if (!a && n->rops) return n->rops->stop(n->ruser, id);
  if (!a || a->stopping) return TR_ENOTFOUND;
  eng_msg *m = pool_msg_get(&n->pool);
  if (!m) return TR_ENOMEM;
  memset(m, 0, offsetof(eng_msg, inline_data));
  m->ctrl = ENG_CTRL_STOP;
  m->refs = 1;
  if (mb_push(a, m) != 0) {
    pool_msg_put(&n->pool, m);
    return TR_ENOMEM;
  }
  n->backlog++;
  sched_ready(a);
  return 0;
}

int tr_node_stop_actor(tr_node *n, const char *id) {
  return actor_queue_stop(n, id, true);
}

int tr_stop_actor(tr_ctx *ctx, const char *id) {
  if (!ctx) return TR_EINVAL;
  return actor_queue_stop(ctx->node, id, ctx->id->str[0] != '$');
}

int eng_stop_actor(tr_node *n, const char *id) {
  return actor_queue_stop(n, id, false);
}

/* ---- the remote layer's way in (eng_remote.h) ---------------------------- */

bool eng_actor_live(tr_node *n, const char *id) {
  eng_actor *a = actor_find(n, id);
  return a && !a->stopping;
}

int eng_actor_lost(tr_node *n, const char *id, int reason) {
  eng_actor *a = actor_find(n, id);
  if (!a) return TR_ENOTFOUND;
  if (a->stopping) return 0;
  if (a->running) { /* inside its own callback: stop after it */
    a->stop_pending = 1;
    a->stop_reason = reason;
  } else {
    actor_teardown(a, reason, true);
  }
  return 1;
}

int eng_stop_now(tr_node *n, const char *id, int reason) {
  eng_actor *a = actor_find(n, id);
  if (!a || a->stopping) return TR_ENOTFOUND;
  if (a->running) {
    a->stop_pending = 1;
    a->stop_reason = reason;
  } else {
    actor_teardown(a, reason, false);
  }
  return 0;
}

/* ---- public calls, continued --------------------------------------------------- */

int tr_children(tr_ctx *ctx, void (*fn)(void *arg, const char *id),
                void *arg) {
  if (!ctx) return TR_EINVAL;
  int count = 0;
  for (eng_actor *c = ctx->x ? ctx->x->first_child : NULL; c;
       c = c->next_sibling, count++)
    if (fn) fn(arg, c->id->str);
  return count;
}
