/* sched.c — the ready queue of actors with mail, and the idle handle that
 * runs it. The idle handle is active only while the queue is non-empty, so
 * an idle node blocks in the kernel instead of spinning. */
#include "engine.h"

/* Messages handled per loop iteration before the loop polls I/O again. One
 * iteration costs an epoll_wait (~300 ns here), so the budget is large. */
#define TICK_BUDGET 8192u
/* Within one iteration, what the actors sent to other nodes goes out every
 * this many messages, not only at its end: a reply, an ack or returned
 * credit does not wait behind up to TICK_BUDGET messages of local work. */
#define FLUSH_EVERY 1024u

static void sched_on_idle(uv_idle_t *h) {
  tr_node *n = h->data;
  uint32_t budget = TICK_BUDGET, flush_at = TICK_BUDGET - FLUSH_EVERY;
  while (n->ready_head && budget > 0) {
    eng_actor *a = n->ready_head;
    sched_remove(a);
    uint32_t turn = budget < n->batch ? budget : n->batch;
    /* actor_run may tear the actor down; it re-queues it if mail is left. */
    budget -= actor_run(a, turn);
    if (budget <= flush_at && n->ready_head) {
      flush_at = budget > FLUSH_EVERY ? budget - FLUSH_EVERY : 0;
      if (n->rops && n->rops->flush) n->rops->flush(n->ruser);
    }
  }
  if (!n->ready_head && n->idle_active) {
    uv_idle_stop(&n->idle);
    n->idle_active = false;
  }
  if (n->remote_paused && n->backlog < ENG_BACKLOG_LOW) {
    n->remote_paused = false;
    n->rops->pause(n->ruser, false);
  }
}

void sched_ready(eng_actor *a) {
  if (a->in_ready || a->stopping) return;
  tr_node *n = a->node;
  a->in_ready = 1;
  a->ready_next = NULL;
  a->ready_prev = n->ready_tail;
  if (n->ready_tail)
    n->ready_tail->ready_next = a;
  else
    n->ready_head = a;
  n->ready_tail = a;
  if (!n->idle_active && !n->freeing) {
    uv_idle_start(&n->idle, sched_on_idle);
    n->idle_active = true;
  }
}

void sched_remove(eng_actor *a) {
  if (!a->in_ready) return;
  tr_node *n = a->node;
  if (a->ready_prev)
    a->ready_prev->ready_next = a->ready_next;
  else
    n->ready_head = a->ready_next;
  if (a->ready_next)
    a->ready_next->ready_prev = a->ready_prev;
  else
    n->ready_tail = a->ready_prev;
  a->ready_next = a->ready_prev = NULL;
  a->in_ready = 0;
}

int sched_init(tr_node *n) {
  if (uv_idle_init(n->loop, &n->idle) != 0) return TR_ESYS;
  n->idle.data = n;
  return 0;
}

void sched_close(tr_node *n) {
  if (n->idle_active) uv_idle_stop(&n->idle);
  n->idle_active = false;
  uv_close((uv_handle_t *)&n->idle, NULL);
}
