/* threadsafe.c — the one way in from other threads: a send is pushed onto
 * its target's deferred queue (defer.c) under a mutex and the loop is woken
 * by a uv_async, which also carries tr_node_stop. The queues are bounded in
 * all (threadsafe_max) and per target (threadsafe_target_max); a producer
 * that meets a bound gets TR_EFULL and may wait for room
 * (tr_node_wait_writable). */
#include <stdlib.h>
#include <string.h>

#include "engine.h"

static void threadsafe_on_async(uv_async_t *h) {
  tr_node *n = h->data;
  threadsafe_drain(n);
  /* The stop is delivered: a node with a remote layer leaves (the goodbyes
   * are written at the end of this loop iteration), and whoever runs the
   * loop returns. */
  if (atomic_exchange(&n->stop_requested, false)) {
    if (n->rops) n->rops->leave(n->ruser);
    uv_stop(n->loop);
  }
}

int threadsafe_init(tr_node *n) {
  if (uv_mutex_init(&n->ts_lock) != 0) return TR_ESYS;
  if (uv_cond_init(&n->ts_room) != 0) {
    uv_mutex_destroy(&n->ts_lock);
    return TR_ESYS;
  }
  if (uv_async_init(n->loop, &n->async, threadsafe_on_async) != 0) {
    uv_cond_destroy(&n->ts_room);
    uv_mutex_destroy(&n->ts_lock);
    return TR_ESYS;
  }
  n->async.data = n;
  /* Only tr_node_run keeps the loop alive for wake-ups. */
  uv_unref((uv_handle_t *)&n->async);
  return 0;
}

int tr_node_send_threadsafe(tr_node *n, const char *to, const void *data,
                            size_t len) {
  size_t tolen;
  if (!n || eng_check_id(to, &tolen) != 0 || (len && !data)) return TR_EINVAL;
  if (len > n->max_payload) {
    atomic_fetch_add_explicit(&n->ts_rejected_toobig, 1, memory_order_relaxed);
    return TR_ETOOBIG;
  }
  eng_dmsg *m = malloc(sizeof(*m) + len);
  if (!m) return TR_ENOMEM;
  m->sender = NULL;
  m->len = len;
  if (len) memcpy(m->data, data, len);

  bool wake;
  uv_mutex_lock(&n->ts_lock);
  int rc = defer_push_locked(n, to, tolen, m, true, &wake);
  uv_mutex_unlock(&n->ts_lock);
  if (rc != 0) {
    free(m);
    if (rc == TR_EFULL)
      atomic_fetch_add_explicit(&n->ts_rejected_full, 1, memory_order_relaxed);
    return rc;
  }
  if (wake) uv_async_send(&n->async);
  return 0;
}

/* Would a send to `to` (NULL: to an id with nothing deferred) meet a
 * bound now? Under ts_lock. */
static bool ts_full_locked(tr_node *n, const char *to) {
  if (n->ts_count >= n->threadsafe_max) return true;
  if (!to) return false;
  eng_dq *dq = NULL;
  HASH_FIND(hh, n->dqs, to, strlen(to), dq);
  return dq && dq->count >= n->threadsafe_target_max;
}

int tr_node_wait_writable(tr_node *n, const char *to, uint32_t timeout_ms) {
  if (!n || (to && eng_check_id(to, NULL) != 0)) return TR_EINVAL;
  uv_thread_t self = uv_thread_self();
  uint64_t deadline = uv_hrtime() + (uint64_t)timeout_ms * 1000000u;
  int rc = 0;
  uv_mutex_lock(&n->ts_lock);
  /* The loop thread would wait for itself. */
  if (n->loop_running && uv_thread_equal(&self, &n->loop_thread)) {
    uv_mutex_unlock(&n->ts_lock);
    return TR_ESTATE;
  }
  n->ts_waiting++;
  while (ts_full_locked(n, to)) {
    uint64_t now = uv_hrtime();
    if (n->ts_closed) {
      rc = TR_ECLOSED;
      break;
    }
    if (now >= deadline ||
        uv_cond_timedwait(&n->ts_room, &n->ts_lock, deadline - now) != 0) {
      rc = ts_full_locked(n, to) ? TR_ETIMEDOUT : 0;
      break;
    }
  }
  n->ts_waiting--;
  /* The node is being freed: the last waiter out lets threadsafe_close go
   * on. This thread touches n no more after the unlock. */
  if (n->ts_closed && n->ts_waiting == 0) uv_cond_broadcast(&n->ts_room);
  uv_mutex_unlock(&n->ts_lock);
  return rc;
}

void threadsafe_set_loop_thread(tr_node *n, bool running) {
  uv_mutex_lock(&n->ts_lock);
  n->loop_running = running;
  if (running) n->loop_thread = uv_thread_self();
  uv_mutex_unlock(&n->ts_lock);
}

void threadsafe_drain(tr_node *n) { defer_drain_ready(n); }

void threadsafe_close(tr_node *n) {
  uv_mutex_lock(&n->ts_lock);
  n->ts_closed = true;
  uv_cond_broadcast(&n->ts_room);
  /* Threads waiting in tr_node_wait_writable return TR_ECLOSED first. */
  while (n->ts_waiting) uv_cond_wait(&n->ts_room, &n->ts_lock);
  uv_mutex_unlock(&n->ts_lock);
  defer_close(n);
  uv_close((uv_handle_t *)&n->async, NULL);
  uv_cond_destroy(&n->ts_room);
  uv_mutex_destroy(&n->ts_lock);
}
