/* threadsafe.c — the one way in from other threads: a mutex-guarded queue
 * of sends drained on the loop thread by a uv_async wake-up, which also
 * carries tr_node_stop. The queue is bounded (threadsafe_max). */
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
  if (uv_async_init(n->loop, &n->async, threadsafe_on_async) != 0) {
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
  eng_ts_msg *m = malloc(sizeof(*m) + tolen + 1 + len);
  if (!m) return TR_ENOMEM;
  m->next = NULL;
  m->len = len;
  m->to_len = tolen;
  memcpy(m->bytes, to, tolen + 1);
  if (len) memcpy(m->bytes + tolen + 1, data, len);

  uv_mutex_lock(&n->ts_lock);
  if (n->ts_count >= n->threadsafe_max) {
    uv_mutex_unlock(&n->ts_lock);
    free(m);
    atomic_fetch_add_explicit(&n->ts_rejected_full, 1, memory_order_relaxed);
    return TR_EFULL;
  }
  if (n->ts_tail)
    n->ts_tail->next = m;
  else
    n->ts_head = m;
  n->ts_tail = m;
  n->ts_count++;
  uv_mutex_unlock(&n->ts_lock);
  uv_async_send(&n->async);
  return 0;
}

void threadsafe_drain(tr_node *n) {
  uv_mutex_lock(&n->ts_lock);
  eng_ts_msg *m = n->ts_head;
  n->ts_head = n->ts_tail = NULL;
  n->ts_count = 0;
  uv_mutex_unlock(&n->ts_lock);
  while (m) {
    eng_ts_msg *next = m->next;
    send_async(n, m->bytes, NULL, m->bytes + m->to_len + 1, m->len);
    free(m);
    m = next;
  }
}

void threadsafe_close(tr_node *n) {
  threadsafe_drain(n);
  uv_close((uv_handle_t *)&n->async, NULL);
  uv_mutex_destroy(&n->ts_lock);
}
