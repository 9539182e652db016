/* defer.c — sends accepted before their target could take them: from other
 * threads (tr_node_send_threadsafe) and one-shot timers. Each target id has
 * its own FIFO (eng_dq). The loop hands a queue on in order until the
 * target has no room; the rest waits, without holding up any other id,
 * until the target's mailbox drains (room_actor_drained) or the remote
 * layer has room for it (eng_room_open). A deferred send is delivered
 * unless its target is gone by then: never dropped for want of room. */
#include <stdlib.h>
#include <string.h>

#include "engine.h"

static eng_dq *dq_find_locked(tr_node *n, const char *id, size_t len) {
  eng_dq *dq = NULL;
  HASH_FIND(hh, n->dqs, id, len, dq);
  return dq;
}

int defer_push_locked(tr_node *n, const char *to, size_t to_len, eng_dmsg *m,
                      bool bounded, bool *wake) {
  *wake = false;
  eng_dq *dq = dq_find_locked(n, to, to_len);
  if (bounded && (n->ts_count >= n->threadsafe_max ||
                  (dq && dq->count >= n->threadsafe_target_max)))
    return TR_EFULL;
  if (!dq) {
    dq = calloc(1, sizeof(*dq) + to_len + 1);
    if (!dq) return TR_ENOMEM;
    memcpy(dq->id, to, to_len);
    dq->id_len = to_len;
    HASH_ADD(hh, n->dqs, id, to_len, dq);
  }
  m->next = NULL;
  if (dq->tail)
    dq->tail->next = m;
  else
    dq->head = m;
  dq->tail = m;
  dq->count++;
  n->ts_count++;
  /* A held queue is fed when its target has room, not before. */
  if (!dq->held && !dq->on_ready) {
    dq->on_ready = true;
    dq->ready_next = n->dq_ready;
    n->dq_ready = dq;
    *wake = true;
  }
  return 0;
}

static void dmsg_free(eng_dmsg *m) {
  eng_name_unref(m->sender);
  free(m);
}

/* A deferred send to `to` that cannot be delivered: counted. */
static void dmsg_dead(tr_node *n, eng_dmsg *m, const char *to, int rc) {
  eng_undelivered(n, rc, m->sender, to, m->len);
  dmsg_free(m);
}

static void remote_unlink(tr_node *n, eng_dq *dq) {
  if (!dq->in_remote) return;
  if (dq->rprev)
    dq->rprev->rnext = dq->rnext;
  else
    n->dq_remote = dq->rnext;
  if (dq->rnext) dq->rnext->rprev = dq->rprev;
  dq->rnext = dq->rprev = NULL;
  dq->in_remote = false;
}

/* Where dq waits for room: on its local target, or on the remote list. */
static void hold_on(tr_node *n, eng_dq *dq, eng_actor *a) {
  if (a) {
    remote_unlink(n, dq);
    a->held_dq = dq;
    dq->held_on = a;
    return;
  }
  if (dq->held_on && dq->held_on->held_dq == dq) dq->held_on->held_dq = NULL;
  dq->held_on = NULL;
  if (dq->in_remote) return;
  dq->rprev = NULL;
  dq->rnext = n->dq_remote;
  if (n->dq_remote) n->dq_remote->rprev = dq;
  n->dq_remote = dq;
  dq->in_remote = true;
}

static void unhold(tr_node *n, eng_dq *dq) {
  if (dq->held_on && dq->held_on->held_dq == dq) dq->held_on->held_dq = NULL;
  dq->held_on = NULL;
  remote_unlink(n, dq);
}

/* Gives `done` messages' worth of room back to the producers, puts
 * rest..last (the unsent part, in order) back in front, and frees dq when
 * nothing refers to it any more. */
static void settle(tr_node *n, eng_dq *dq, uint32_t done, eng_dmsg *rest,
                   eng_dmsg *last, eng_actor *held_on) {
  uv_mutex_lock(&n->ts_lock);
  n->ts_count -= done;
  dq->count -= done;
  if (rest) {
    last->next = dq->head;
    dq->head = rest;
    if (!dq->tail) dq->tail = last;
    dq->held = true;
  }
  bool gone = !dq->count && !dq->on_ready && !dq->held;
  if (gone) HASH_DEL(n->dqs, dq);
  if (done && n->ts_waiting) uv_cond_broadcast(&n->ts_room);
  uv_mutex_unlock(&n->ts_lock);
  if (rest)
    hold_on(n, dq, held_on);
  else
    unhold(n, dq);
  if (gone) free(dq);
}

void defer_feed(tr_node *n, eng_dq *dq) {
  uv_mutex_lock(&n->ts_lock);
  eng_dmsg *m = dq->head, *last = dq->tail;
  dq->head = dq->tail = NULL;
  dq->held = false;
  uv_mutex_unlock(&n->ts_lock);
  eng_actor *a = actor_find_len(n, dq->id, dq->id_len);
  uint32_t done = 0;
  while (m) {
    int rc;
    if (a)
      rc = send_to_actor(a, TR_MSG_SEND, m->sender, NULL, m->data, m->len,
                         NULL, 0, 0, ENG_FEED, 0);
    else if (n->rops)
      rc = n->rops->send(n->ruser, dq->id, dq->id_len, TR_MSG_SEND, m->sender,
                         m->data, m->len, 0, 0, NULL, 0);
    else
      rc = TR_ENOTFOUND;
    if (rc == TR_EFULL) break; /* the rest waits for room */
    eng_dmsg *next = m->next;
    if (rc == 0)
      dmsg_free(m);
    else
      dmsg_dead(n, m, dq->id, rc);
    m = next;
    done++;
  }
  settle(n, dq, done, m, last, a);
}

void defer_drain_ready(tr_node *n) {
  uv_mutex_lock(&n->ts_lock);
  eng_dq *list = n->dq_ready;
  n->dq_ready = NULL;
  uv_mutex_unlock(&n->ts_lock);
  while (list) {
    /* A queue leaves the list when the loop looks at it, not before: until
     * then producers see it on the list and leave its link alone. */
    uv_mutex_lock(&n->ts_lock);
    eng_dq *next = list->ready_next;
    list->on_ready = false;
    uv_mutex_unlock(&n->ts_lock);
    defer_feed(n, list);
    list = next;
  }
}

void defer_send_later(tr_node *n, const char *to, eng_name *sender,
                      const void *data, size_t len) {
  size_t to_len = strlen(to);
  uv_mutex_lock(&n->ts_lock);
  eng_dq *dq = dq_find_locked(n, to, to_len);
  uv_mutex_unlock(&n->ts_lock);
  if (!dq) { /* nothing waits for it: straight in, as a send */
    int rc = send_accepted(n, to, to_len, sender, data, len);
    if (rc == 0) return;
    if (rc != TR_EFULL) {
      eng_undelivered(n, rc, sender, to, len);
      return;
    }
  }
  eng_dmsg *m = malloc(sizeof(*m) + len);
  if (!m) {
    eng_undelivered(n, TR_ENOMEM, sender, to, len);
    return;
  }
  m->sender = eng_name_ref(sender);
  m->len = len;
  if (len) memcpy(m->data, data, len);
  bool wake;
  uv_mutex_lock(&n->ts_lock);
  int rc = defer_push_locked(n, to, to_len, m, false, &wake);
  uv_mutex_unlock(&n->ts_lock);
  if (rc != 0) {
    dmsg_dead(n, m, to, rc);
    return;
  }
  /* Pushed to the ready list: feed it now rather than on a wake-up. */
  if (wake) defer_drain_ready(n);
}

void defer_target_gone(tr_node *n, eng_dq *dq) {
  uv_mutex_lock(&n->ts_lock);
  eng_dmsg *m = dq->head;
  dq->head = dq->tail = NULL;
  dq->held = false;
  uv_mutex_unlock(&n->ts_lock);
  uint32_t done = 0;
  while (m) {
    eng_dmsg *next = m->next;
    eng_dead(n, TR_DL_STOPPED, eng_str(m->sender), dq->id, m->len);
    dmsg_free(m);
    m = next;
    done++;
  }
  settle(n, dq, done, NULL, NULL, NULL);
}

void defer_room_remote(tr_node *n, const char *id, size_t len) {
  eng_dq *dq = n->dq_remote;
  while (dq) {
    eng_dq *next = dq->rnext;
    if (!id || (dq->id_len == len && memcmp(dq->id, id, len) == 0)) {
      defer_feed(n, dq);
      if (id) return;
    }
    dq = next;
  }
}

uint64_t defer_count(tr_node *n) {
  uv_mutex_lock(&n->ts_lock);
  uint64_t c = n->ts_count;
  uv_mutex_unlock(&n->ts_lock);
  return c;
}

void defer_close(tr_node *n) {
  defer_drain_ready(n);
  /* Held on remote ids, with the remote layer gone: nowhere to go. */
  while (n->dq_remote) defer_target_gone(n, n->dq_remote);
  uv_mutex_lock(&n->ts_lock);
  eng_dq *dq, *tmp;
  HASH_ITER(hh, n->dqs, dq, tmp) {
    HASH_DEL(n->dqs, dq);
    for (eng_dmsg *m = dq->head, *next; m; m = next) {
      next = m->next;
      eng_dead(n, TR_DL_STOPPED, eng_str(m->sender), dq->id, m->len);
      dmsg_free(m);
    }
    free(dq);
  }
  n->ts_count = 0;
  uv_mutex_unlock(&n->ts_lock);
}
